/* runner/build/view.c — merged, read-only lookups over layer directories (see view.h). */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/cleanup.h"
#include "lib/fs.h"
#include "runner/build/dockerfile.h"
#include "runner/build/view.h"

#define MAX_LINKS 40

void vnode_release(struct vnode *n)
{
	free(n->path);
	free(n->host);
	for (size_t i = 0; i < n->ndirs; i++)
		free(n->dirs[i]);
	free(n->dirs);
	memset(n, 0, sizeof(*n));
}

static bool whiteout(const struct view *v, const struct stat *st)
{
	return v->overlay && S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0);
}

static bool opaque(const struct view *v, const char *host)
{
	char val[2];

	return v->overlay && getxattr(host, "trusted.overlay.opaque", val, sizeof(val)) == 1 &&
	       val[0] == 'y';
}

static char *join_rel(const char *dir, const char *name)
{
	char *s;

	if (!*dir)
		return strdup(name);
	return asprintf(&s, "%s/%s", dir, name) < 0 ? NULL : s;
}

int view_root(const struct view *v, struct vnode *out, struct error **err)
{
	memset(out, 0, sizeof(*out));
	out->path = strdup("");
	out->dirs = calloc(v->n + 1, sizeof(char *));
	if (!out->path || !out->dirs)
		goto oom;
	out->st.st_mode = S_IFDIR | 0755;
	for (size_t i = 0; i < v->n; i++) {
		if (!(out->dirs[out->ndirs++] = strdup(v->layers[i])))
			goto oom;
		if (i == 0) {
			if (stat(v->layers[0], &out->st) < 0) {
				vnode_release(out);
				return error_errno(err, "'%s'", v->layers[0]);
			}
			if (!(out->host = strdup(v->layers[0])))
				goto oom;
		}
		if (opaque(v, v->layers[i]))
			break;
	}
	return 0;
oom:
	vnode_release(out);
	return error_errno(err, "view");
}

int view_child(const struct view *v, const struct vnode *dir, const char *name, struct vnode *out,
	       bool *exists, struct error **err)
{
	memset(out, 0, sizeof(*out));
	*exists = false;
	if (!(out->path = join_rel(dir->path, name)))
		return error_errno(err, "view");
	for (size_t i = 0; i < dir->ndirs; i++) {
		cleanup_free char *hp = path_join(dir->dirs[i], name);
		struct stat st;
		char **nd;

		if (!hp)
			goto oom;
		if (lstat(hp, &st) < 0) {
			if (errno == ENOENT || errno == ENOTDIR)
				continue;
			vnode_release(out);
			return error_errno(err, "'%s'", hp);
		}
		if (whiteout(v, &st))
			break;
		if (*exists && !S_ISDIR(st.st_mode))
			break;
		if (!*exists) {
			*exists = true;
			out->st = st;
			out->host = strdup(hp);
			if (!out->host)
				goto oom;
			if (!S_ISDIR(st.st_mode))
				break;
		}
		nd = realloc(out->dirs, (out->ndirs + 1) * sizeof(*nd));
		if (!nd)
			goto oom;
		out->dirs = nd;
		out->dirs[out->ndirs++] = steal_pointer(&hp);
		if (opaque(v, out->dirs[out->ndirs - 1]))
			break;
	}
	if (*exists && v->ignore && ignore_excluded(v->ignore, out->path)) {
		if (S_ISDIR(out->st.st_mode) && v->ignore->has_exceptions) {
			out->excluded = true;
		} else {
			*exists = false;
		}
	}
	return 0;
oom:
	vnode_release(out);
	return error_errno(err, "view");
}

/* Walks path (no links, no "..") from the root. */
static int walk_plain(const struct view *v, const char *path, struct vnode *out, struct error **err)
{
	cleanup_free char *tmp = strdup(path);
	char *save = NULL;

	if (!tmp)
		return error_errno(err, "view");
	if (view_root(v, out, err) < 0)
		return -1;
	for (char *c = strtok_r(tmp, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		struct vnode child;
		bool ex;

		if (view_child(v, out, c, &child, &ex, err) < 0) {
			vnode_release(out);
			return -1;
		}
		vnode_release(out);
		*out = child;
		if (!ex) {
			vnode_release(out);
			return error_errnum(err, ENOENT, "'%s'", path);
		}
	}
	return 0;
}

/* Pops the first component of *rest (a '/'-separated string) into comp. */
static bool next_comp(const char **rest, char *comp, size_t cap)
{
	const char *p = *rest, *e;

	while (*p == '/')
		p++;
	if (!*p)
		return false;
	e = strchr(p, '/');
	if (!e)
		e = p + strlen(p);
	if ((size_t)(e - p) >= cap)
		e = p + cap - 1;
	memcpy(comp, p, (size_t)(e - p));
	comp[e - p] = '\0';
	*rest = e;
	return true;
}

static bool more_comps(const char *rest)
{
	while (*rest == '/')
		rest++;
	return *rest != '\0';
}

int view_resolve(const struct view *v, const char *path, bool follow_last, struct vnode *out,
		 bool *exists, struct error **err)
{
	struct buf rest = BUF_INIT(1 << 16), resolved = BUF_INIT(1 << 16);
	struct vnode cur;
	const char *r;
	char comp[NAME_MAX + 2];
	int links = 0, rc = -1;

	*exists = false;
	memset(out, 0, sizeof(*out));
	if (buf_puts(&rest, path, err) < 0 || view_root(v, &cur, err) < 0) {
		buf_release(&rest);
		return -1;
	}
	r = buf_str(&rest);
	while (next_comp(&r, comp, sizeof(comp))) {
		struct vnode child;
		bool ex;

		if (strlen(comp) > NAME_MAX) {
			error_usage(err, "'%s': a name is too long", path);
			goto out;
		}
		if (!strcmp(comp, "."))
			continue;
		if (!strcmp(comp, "..")) {
			if (resolved.len) {
				char *slash = strrchr(resolved.data, '/');

				resolved.len = slash ? (size_t)(slash - resolved.data) : 0;
				resolved.data[resolved.len] = '\0';
			}
			vnode_release(&cur);
			if (walk_plain(v, buf_str(&resolved), &cur, err) < 0)
				goto out;
			continue;
		}
		if (view_child(v, &cur, comp, &child, &ex, err) < 0)
			goto out;
		if (!ex) {
			/* What would be created: the resolved prefix, this name, the rest. */
			cleanup_free char *tail = NULL, *full = NULL;

			vnode_release(&child);
			if (asprintf(&tail, "%s%s%s%s", buf_str(&resolved), resolved.len ? "/" : "",
				     comp, r) < 0 ||
			    !(full = path_clean_rel(tail)))
				goto oom;
			vnode_release(&cur);
			cur.path = steal_pointer(&full);
			rc = 0;
			goto done;
		}
		if (S_ISLNK(child.st.st_mode) && (follow_last || more_comps(r))) {
			char target[PATH_MAX + 1];
			ssize_t tl = readlink(child.host, target, PATH_MAX);
			struct buf nr = BUF_INIT(1 << 16);

			vnode_release(&child);
			if (tl < 0) {
				error_errno(err, "readlink '%s'", comp);
				goto out;
			}
			target[tl] = '\0';
			if (++links > MAX_LINKS) {
				error_errnum(err, ELOOP, "'%s'", path);
				goto out;
			}
			if (buf_printf(&nr, err, "%s%s", target, r) < 0)
				goto out;
			buf_release(&rest);
			rest = nr;
			r = buf_str(&rest);
			if (target[0] == '/') {
				buf_reset(&resolved);
				vnode_release(&cur);
				if (view_root(v, &cur, err) < 0)
					goto out;
			}
			continue;
		}
		if (more_comps(r) && !S_ISDIR(child.st.st_mode)) {
			vnode_release(&child);
			error_errnum(err, ENOTDIR, "'%s'", path);
			goto out;
		}
		if (buf_printf(&resolved, err, "%s%s", resolved.len ? "/" : "", comp) < 0) {
			vnode_release(&child);
			goto out;
		}
		vnode_release(&cur);
		cur = child;
	}
	*exists = true;
	rc = 0;
done:
	*out = cur;
	memset(&cur, 0, sizeof(cur));
	if (!*exists)
		out->host = NULL;
out:
	vnode_release(&cur);
	buf_release(&rest);
	buf_release(&resolved);
	return rc;
oom:
	error_errno(err, "view");
	goto out;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int view_list(const struct view *v, const struct vnode *dir, char ***names, size_t *n,
	      struct error **err)
{
	char **out = NULL;
	size_t nout = 0, cap = 0;

	*names = NULL;
	*n = 0;
	for (size_t i = 0; i < dir->ndirs; i++) {
		cleanup_closedir DIR *d = opendir(dir->dirs[i]);
		struct dirent *de;

		if (!d) {
			df_strv_free(out);
			return error_errno(err, "open directory '%s'", dir->dirs[i]);
		}
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			if (nout + 2 > cap) {
				size_t nc = cap ? cap * 2 : 32;
				char **nv = realloc(out, nc * sizeof(*nv));

				if (!nv) {
					df_strv_free(out);
					return error_errno(err, "list '%s'", dir->path);
				}
				out = nv;
				cap = nc;
			}
			if (!(out[nout++] = strdup(de->d_name))) {
				df_strv_free(out);
				return error_errno(err, "list '%s'", dir->path);
			}
			out[nout] = NULL;
		}
	}
	if (nout)
		qsort(out, nout, sizeof(*out), cmp_str);
	/* Keep each name once, and only what a lookup finds: whiteouts, hidden and excluded
	 * names go. */
	{
		size_t k = 0;

		for (size_t i = 0; i < nout; i++) {
			struct vnode c;
			bool ex;

			if (k && !strcmp(out[k - 1], out[i])) {
				free(out[i]);
				continue;
			}
			if (view_child(v, dir, out[i], &c, &ex, err) < 0) {
				for (size_t j = i; j < nout; j++)
					free(out[j]);
				out[k] = NULL;
				df_strv_free(out);
				return -1;
			}
			vnode_release(&c);
			if (ex)
				out[k++] = out[i];
			else
				free(out[i]);
		}
		nout = k;
		if (out)
			out[nout] = NULL;
	}
	if (!out && !(out = calloc(1, sizeof(*out))))
		return error_errno(err, "list '%s'", dir->path);
	*names = out;
	*n = nout;
	return 0;
}
