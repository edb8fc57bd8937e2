/* Tests for scheduler/checkout.c on real repositories made with git: resolve, changed
 * paths, checkout with a submodule, from a work tree and from a bare mirror, source unchanged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fs.h"
#include "scheduler/checkout.h"
#include "tests/unit/tap.h"

static char top[] = "/tmp/slipway-test-checkout.XXXXXX";

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd);
}

static char *slurp(const char *path)
{
	char *s = NULL;

	if (read_file(path, 1 << 20, &s, NULL, NULL) < 0)
		return NULL;
	return s;
}

static char *out_of(const char *fmt, const char *arg)
{
	char cmd[2048], *line = NULL;
	size_t n = 0;
	FILE *f;

	snprintf(cmd, sizeof(cmd), fmt, arg);
	f = popen(cmd, "r");
	if (!f || getline(&line, &n, f) < 0) {
		free(line);
		line = NULL;
	}
	if (f)
		pclose(f);
	if (line)
		line[strcspn(line, "\n")] = '\0';
	return line;
}

int main(void)
{
	struct commit_info ci;
	struct error *err = NULL;
	char path[1024], dest[1024];
	char *s, *head, *status_before, *status_after;

	plan_lazy();
	setenv("GIT_AUTHOR_NAME", "Ada", 1);
	setenv("GIT_AUTHOR_EMAIL", "ada@example.com", 1);
	setenv("GIT_COMMITTER_NAME", "Ada", 1);
	setenv("GIT_COMMITTER_EMAIL", "ada@example.com", 1);
	setenv("GIT_COMMITTER_DATE", "1700000000 +0000", 1);
	setenv("GIT_AUTHOR_DATE", "1700000000 +0000", 1);
	setenv("GIT_CONFIG_NOSYSTEM", "1", 1);
	setenv("HOME", "/nonexistent", 1);
	if (!mkdtemp(top))
		return ok(0, "mkdtemp"), done_testing();

	ok(sh("set -e; cd %s; git init -q -b main lib; cd lib; echo 'lib v1' >lib.txt;"
	      "git add .; git commit -qm 'lib one'",
	      top) == 0,
	   "make the submodule's repository");
	ok(sh("set -e; cd %s; git init -q -b main app; cd app;"
	      "mkdir -p src; echo 'int main;' >src/main.c; printf '#!/bin/sh\\necho hi\\n' >run.sh;"
	      "chmod +x run.sh; ln -s src/main.c link.c; git add .; git commit -qm 'first commit';"
	      "git -c protocol.file.allow=always submodule -q add %s/lib vendor/lib;"
	      "echo 'changed' >src/main.c; echo new >NEW;"
	      "git add .; git commit -qm 'second: touch main, add NEW' -m 'body'",
	      top, top) == 0,
	   "make the app repository with a submodule");
	ok(sh("cd %s && git clone -q --mirror app app.git", top) == 0, "make a bare mirror");
	snprintf(path, sizeof(path), "%s/app", top);

	is_int(commit_resolve(path, "HEAD", &ci, &err), 0, "resolve HEAD");
	head = out_of("git -C %s rev-parse HEAD", path);
	is_str(ci.sha, head, "the sha is HEAD's");
	is_int(ci.time, 1700000000, "commit time");
	is_str(ci.subject, "second: touch main, add NEW", "subject is the first line");
	is_str(ci.author, "Ada <ada@example.com>", "author");
	{
		int main_c = 0, new_f = 0, gm = 0;

		for (size_t i = 0; i < ci.n_changed; i++) {
			main_c += !strcmp(ci.changed[i], "src/main.c");
			new_f += !strcmp(ci.changed[i], "NEW");
			gm += !strcmp(ci.changed[i], ".gitmodules");
		}
		ok(main_c == 1 && new_f == 1 && gm == 1 && ci.n_changed == 4,
		   "changed paths against the parent (%zu)", ci.n_changed);
	}
	commit_info_release(&ci);

	is_int(commit_resolve(path, "HEAD~1", &ci, &err), 0, "resolve a root commit");
	is_int(ci.n_changed, 3, "a root commit changes all its files");
	commit_info_release(&ci);

	is_int(commit_resolve(path, "no-such-branch", &ci, &err), -1, "an unknown rev fails");
	ok(err && strstr(err->msg, "'no-such-branch'"), "naming the rev: %s", err ? err->msg : "");
	error_clear(&err);

	status_before = out_of("git -C %s status --porcelain=v1 | md5sum", path);
	snprintf(dest, sizeof(dest), "%s/ws", top);
	is_int(checkout_commit(path, head, dest, &err), 0, "check out HEAD from the work tree");
	if (err)
		diag("%s", err->msg);
	error_clear(&err);
	snprintf(path, sizeof(path), "%s/ws/src/main.c", top);
	s = slurp(path);
	is_str(s, "changed\n", "file contents");
	free(s);
	{
		struct stat st;

		snprintf(path, sizeof(path), "%s/ws/run.sh", top);
		ok(stat(path, &st) == 0 && (st.st_mode & 0111), "executable bit kept");
		snprintf(path, sizeof(path), "%s/ws/link.c", top);
		ok(lstat(path, &st) == 0 && S_ISLNK(st.st_mode), "symlink kept");
		snprintf(path, sizeof(path), "%s/ws/.git", top);
		ok(lstat(path, &st) < 0, "no .git in the workspace");
	}
	snprintf(path, sizeof(path), "%s/ws/vendor/lib/lib.txt", top);
	s = slurp(path);
	is_str(s, "lib v1\n", "submodule checked out at its recorded commit");
	free(s);
	snprintf(path, sizeof(path), "%s/app", top);
	status_after = out_of("git -C %s status --porcelain=v1 | md5sum", path);
	is_str(status_after, status_before, "the source repository's status is unchanged");
	free(status_before);
	free(status_after);

	/* from the bare mirror: the submodule comes from its URL (an absolute path here) */
	snprintf(path, sizeof(path), "%s/app.git", top);
	snprintf(dest, sizeof(dest), "%s/ws2", top);
	status_before = out_of("cd %s && cat config HEAD packed-refs 2>/dev/null | md5sum", path);
	is_int(checkout_commit(path, head, dest, &err), 0, "check out from a bare mirror");
	status_after = out_of("cd %s && cat config HEAD packed-refs 2>/dev/null | md5sum", path);
	is_str(status_after, status_before, "the mirror's config and refs are unchanged");
	free(status_before);
	free(status_after);
	ok(sh("test ! -e %s/app.git/index", top) == 0, "and it got no index");
	if (err)
		diag("%s", err->msg);
	error_clear(&err);
	snprintf(path, sizeof(path), "%s/ws2/vendor/lib/lib.txt", top);
	s = slurp(path);
	is_str(s, "lib v1\n", "submodule from its URL");
	free(s);

	snprintf(path, sizeof(path), "%s/app", top);
	snprintf(dest, sizeof(dest), "%s/ws3", top);
	is_int(checkout_commit(path, "0000000000000000000000000000000000000001", dest, &err), -1,
	       "a missing commit fails");
	error_clear(&err);
	ok(access(dest, F_OK) != 0, "and leaves no workspace behind");

	{
		char *b = repo_head_branch(path, &err);

		is_str(b, "main", "HEAD's branch");
		free(b);
	}
	free(head);
	rm_rf(top, NULL);
	return done_testing();
}
