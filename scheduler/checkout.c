/* scheduler/checkout.c — resolve a commit and write its tree (with submodules) to a directory. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <git2.h>

#include "lib/cleanup.h"
#include "lib/fs.h"
#include "scheduler/checkout.h"

/* Submodules inside submodules inside ...: stop somewhere. */
#define SUBMODULE_MAX_DEPTH 8

static int git_fail(struct error **err, const char *fmt, const char *arg)
{
	const git_error *e = git_error_last();
	char what[512];

	snprintf(what, sizeof(what), fmt, arg);
	return error_set(err, EXIT_FAILED, "%s: %s", what, e && e->message ? e->message : "failed");
}

static void git_init_once(void)
{
	/* git_libgit2_init is reference-counted and thread-safe; one reference per process
	 * is all slipway needs, and it is never shut down. */
	static int done;

	if (!__atomic_exchange_n(&done, 1, __ATOMIC_ACQ_REL))
		git_libgit2_init();
}

static int open_repo(const char *path, git_repository **repo, struct error **err)
{
	git_init_once();
	if (git_repository_open_ext(repo, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL) < 0)
		return git_fail(err, "open repository '%s'", path);
	return 0;
}

static int lookup_commit(git_repository *repo, const char *rev, git_commit **out,
			 struct error **err)
{
	git_object *obj = NULL, *peeled = NULL;
	int r;

	if (git_revparse_single(&obj, repo, rev) < 0)
		return git_fail(err, "no commit '%s' in the repository", rev);
	r = git_object_peel(&peeled, obj, GIT_OBJECT_COMMIT);
	git_object_free(obj);
	if (r < 0)
		return git_fail(err, "'%s' is not a commit", rev);
	*out = (git_commit *)peeled;
	return 0;
}

static int add_changed(struct commit_info *ci, const char *path)
{
	char **v = realloc(ci->changed, (ci->n_changed + 1) * sizeof(*v));

	if (!v)
		return -1;
	ci->changed = v;
	v[ci->n_changed] = strdup(path);
	if (!v[ci->n_changed])
		return -1;
	ci->n_changed++;
	return 0;
}

static int changed_paths(git_repository *repo, git_commit *commit, struct commit_info *ci,
			 struct error **err)
{
	git_tree *tree = NULL, *ptree = NULL;
	git_commit *parent = NULL;
	git_diff *diff = NULL;
	int r = -1;

	if (git_commit_tree(&tree, commit) < 0) {
		git_fail(err, "read the tree of '%s'", ci->sha);
		goto out;
	}
	if (git_commit_parentcount(commit) > 0) {
		if (git_commit_parent(&parent, commit, 0) < 0 ||
		    git_commit_tree(&ptree, parent) < 0) {
			git_fail(err, "read the parent of '%s'", ci->sha);
			goto out;
		}
	}
	if (git_diff_tree_to_tree(&diff, repo, ptree, tree, NULL) < 0) {
		git_fail(err, "diff '%s' against its parent", ci->sha);
		goto out;
	}
	for (size_t i = 0; i < git_diff_num_deltas(diff); i++) {
		const git_diff_delta *d = git_diff_get_delta(diff, i);
		const char *p = d->new_file.path ? d->new_file.path : d->old_file.path;

		if (add_changed(ci, p) < 0 || (d->old_file.path && strcmp(d->old_file.path, p) &&
					       add_changed(ci, d->old_file.path) < 0)) {
			error_errno(err, "list changed files");
			goto out;
		}
	}
	r = 0;
out:
	git_diff_free(diff);
	git_tree_free(ptree);
	git_tree_free(tree);
	git_commit_free(parent);
	return r;
}

int commit_resolve(const char *repo_path, const char *rev, struct commit_info *out,
		   struct error **err)
{
	git_repository *repo = NULL;
	git_commit *commit = NULL;
	const git_signature *sig;
	const char *msg;
	int r = -1;

	memset(out, 0, sizeof(*out));
	if (open_repo(repo_path, &repo, err) < 0)
		return -1;
	if (lookup_commit(repo, rev, &commit, err) < 0)
		goto out;
	git_oid_tostr(out->sha, sizeof(out->sha), git_commit_id(commit));
	out->time = (int64_t)git_commit_time(commit);
	sig = git_commit_author(commit);
	if (asprintf(&out->author, "%s <%s>", sig && sig->name ? sig->name : "",
		     sig && sig->email ? sig->email : "") < 0)
		out->author = NULL;
	msg = git_commit_message(commit);
	out->subject = strndup(msg ? msg : "", msg ? strcspn(msg, "\n") : 0);
	if (!out->author || !out->subject) {
		error_errno(err, "read commit '%s'", rev);
		goto out;
	}
	r = changed_paths(repo, commit, out, err);
out:
	if (r < 0)
		commit_info_release(out);
	git_commit_free(commit);
	git_repository_free(repo);
	return r;
}

void commit_info_release(struct commit_info *ci)
{
	free(ci->author);
	free(ci->subject);
	for (size_t i = 0; i < ci->n_changed; i++)
		free(ci->changed[i]);
	free(ci->changed);
	memset(ci, 0, sizeof(*ci));
}

static int checkout_into(const char *repo_path, const char *sha, const char *dest, int depth,
			 struct error **err);

/* Where a submodule's repository is: the superproject's .git/modules/NAME, or its URL. */
static char *submodule_source(git_repository *repo, const char *repo_path, const char *name,
			      const char *url)
{
	const char *gitdir = git_repository_path(repo);
	char *p = NULL;
	struct stat st;

	if (asprintf(&p, "%smodules/%s", gitdir, name) >= 0 && stat(p, &st) == 0)
		return p;
	free(p);
	p = NULL;
	if (!url)
		return NULL;
	if (url[0] == '/')
		return strdup(url);
	if (!strncmp(url, "file://", 7))
		return strdup(url + 7);
	if (!strncmp(url, "./", 2) || !strncmp(url, "../", 3)) {
		/* relative to the superproject's own location */
		if (asprintf(&p, "%s/%s", repo_path, url) < 0)
			return NULL;
		return p;
	}
	return strdup(url); /* a remote URL: opening it fails with a clear error */
}

struct sub_ctx {
	git_repository *repo;
	git_tree *tree;
	git_config *modules; /* the commit's own .gitmodules */
	const char *repo_path;
	const char *dest;
	int depth;
	struct error **err;
};

/* Called for each "submodule.NAME.path" entry of the commit's .gitmodules. */
static int checkout_submodule(const git_config_entry *ent, void *payload)
{
	struct sub_ctx *c = payload;
	const char *path = ent->value;
	size_t namelen = strlen(ent->name) - strlen("submodule.") - strlen(".path");
	cleanup_free char *name = strndup(ent->name + strlen("submodule."), namelen);
	cleanup_free char *src = NULL, *sub_dest = NULL, *urlkey = NULL;
	git_tree_entry *entry = NULL;
	git_buf url = {0};
	char sha[41];
	int r;

	if (!name || asprintf(&urlkey, "submodule.%s.url", name) < 0)
		return error_errno(c->err, "read .gitmodules");
	if (git_tree_entry_bypath(&entry, c->tree, path) < 0)
		return 0; /* listed in .gitmodules but not in this commit's tree */
	if (git_tree_entry_filemode(entry) != GIT_FILEMODE_COMMIT) {
		git_tree_entry_free(entry);
		return 0;
	}
	git_oid_tostr(sha, sizeof(sha), git_tree_entry_id(entry));
	git_tree_entry_free(entry);
	if (strstr(path, "..") || path[0] == '/')
		return error_usage(c->err, "submodule '%s' has an unsafe path '%s'", name, path);
	git_config_get_string_buf(&url, c->modules, urlkey);
	src = submodule_source(c->repo, c->repo_path, name, url.ptr);
	git_buf_dispose(&url);
	sub_dest = path_join(c->dest, path);
	if (!src || !sub_dest)
		return error_errno(c->err, "check out submodule '%s'", name);
	rm_rf(sub_dest, NULL); /* the empty directory the superproject's checkout left */
	r = checkout_into(src, sha, sub_dest, c->depth + 1, c->err);
	if (r < 0)
		return error_wrap(c->err, "submodule '%s'", name);
	return 0;
}

static int checkout_submodules(git_repository *repo, git_tree *tree, const char *repo_path,
			       const char *dest, int depth, struct error **err)
{
	cleanup_free char *path = path_join(dest, ".gitmodules");
	struct sub_ctx c = {repo, tree, NULL, repo_path, dest, depth, err};
	struct stat st;
	int r;

	if (!path)
		return error_errno(err, "read .gitmodules");
	if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	if (git_config_open_ondisk(&c.modules, path) < 0)
		return git_fail(err, "read '%s'", ".gitmodules");
	r = git_config_foreach_match(c.modules, "^submodule\\..*\\.path$", checkout_submodule, &c);
	git_config_free(c.modules);
	if (r < 0 && !*err)
		git_fail(err, "read '%s'", ".gitmodules");
	return r < 0 ? -1 : 0;
}

static int checkout_into(const char *repo_path, const char *sha, const char *dest, int depth,
			 struct error **err)
{
	git_checkout_options opts;
	git_repository *repo = NULL;
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	int r = -1;

	if (depth > SUBMODULE_MAX_DEPTH)
		return error_usage(err, "submodules nested deeper than %d", SUBMODULE_MAX_DEPTH);
	if (open_repo(repo_path, &repo, err) < 0)
		return -1;
	if (lookup_commit(repo, sha, &commit, err) < 0 || git_commit_tree(&tree, commit) < 0) {
		if (!*err)
			git_fail(err, "read the tree of '%s'", sha);
		goto out;
	}
	if (mkdir_p(dest, 0755, err) < 0)
		goto out;
	/* libgit2 wants a work tree to write gitlinks; give a bare repository one in memory
	 * only (update_gitlink 0: nothing of it is written to disk). */
	if (git_repository_is_bare(repo) && git_repository_set_workdir(repo, dest, 0) < 0) {
		git_fail(err, "check out '%s'", sha);
		goto out;
	}
	git_checkout_options_init(&opts, GIT_CHECKOUT_OPTIONS_VERSION);
	opts.checkout_strategy =
	    GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DONT_UPDATE_INDEX | GIT_CHECKOUT_DONT_WRITE_INDEX;
	opts.target_directory = dest;
	if (git_checkout_tree(repo, (git_object *)tree, &opts) < 0) {
		git_fail(err, "check out '%s'", sha);
		goto out;
	}
	if (checkout_submodules(repo, tree, repo_path, dest, depth, err) < 0)
		goto out;
	r = 0;
out:
	git_tree_free(tree);
	git_commit_free(commit);
	git_repository_free(repo);
	return r;
}

int checkout_commit(const char *repo_path, const char *sha, const char *dest, struct error **err)
{
	if (checkout_into(repo_path, sha, dest, 0, err) < 0) {
		rm_rf(dest, NULL);
		return error_wrap(err, "check out '%s' of '%s'", sha, repo_path);
	}
	return 0;
}

char *repo_head_branch(const char *repo_path, struct error **err)
{
	git_repository *repo = NULL;
	git_reference *head = NULL;
	char *name = NULL;

	if (open_repo(repo_path, &repo, err) < 0)
		return NULL;
	if (git_repository_head(&head, repo) == 0 && git_reference_is_branch(head)) {
		const char *short_name = NULL;

		if (git_branch_name(&short_name, head) == 0)
			name = strdup(short_name);
	}
	git_reference_free(head);
	git_repository_free(repo);
	return name;
}

int commit_read_file(const char *repo_path, const char *sha, const char *path, size_t max,
		     char **data, size_t *len, struct error **err)
{
	git_repository *repo = NULL;
	git_commit *commit = NULL;
	git_tree *tree = NULL;
	git_tree_entry *ent = NULL;
	git_blob *blob = NULL;
	int r = -1;

	*data = NULL;
	*len = 0;
	if (open_repo(repo_path, &repo, err) < 0)
		return -1;
	if (lookup_commit(repo, sha, &commit, err) < 0)
		goto out;
	if (git_commit_tree(&tree, commit) < 0) {
		git_fail(err, "read the tree of '%s'", sha);
		goto out;
	}
	if (git_tree_entry_bypath(&ent, tree, path) < 0) {
		r = 0; /* no such file */
		goto out;
	}
	if (git_tree_entry_type(ent) != GIT_OBJECT_BLOB) {
		error_usage(err, "'%s' in commit '%.12s' is not a file", path, sha);
		goto out;
	}
	if (git_blob_lookup(&blob, repo, git_tree_entry_id(ent)) < 0) {
		git_fail(err, "read '%s'", path);
		goto out;
	}
	if ((size_t)git_blob_rawsize(blob) > max) {
		error_usage(err, "'%s' in commit '%.12s' is %lld bytes, more than the %zu allowed",
			    path, sha, (long long)git_blob_rawsize(blob), max);
		goto out;
	}
	*len = (size_t)git_blob_rawsize(blob);
	*data = malloc(*len + 1);
	if (!*data) {
		error_errnum(err, ENOMEM, "read '%s'", path);
		goto out;
	}
	memcpy(*data, git_blob_rawcontent(blob), *len);
	(*data)[*len] = '\0';
	r = 1;
out:
	git_blob_free(blob);
	git_tree_entry_free(ent);
	git_tree_free(tree);
	git_commit_free(commit);
	git_repository_free(repo);
	return r;
}
