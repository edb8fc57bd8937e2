/* Tests for lib/fs.c: capped reads, atomic writes, mkdir -p, rm -rf that never crosses a
 * mount point or follows a symlink, and copes with trees deeper than its fd budget. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fs.h"
#include "tests/unit/tap.h"

static char top[] = "/tmp/slipway-test-fs.XXXXXX";

static char *p(const char *rel)
{
	static char bufs[4][512];
	static int i;

	i = (i + 1) % 4;
	snprintf(bufs[i], sizeof(bufs[i]), "%s/%s", top, rel);
	return bufs[i];
}

static int touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	if (fd < 0)
		return -1;
	return close(fd);
}

static int exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

int main(void)
{
	struct error *err = NULL;
	char *data = NULL;
	size_t len = 0;
	struct stat st;

	plan_lazy();
	if (!mkdtemp(top)) {
		ok(0, "mkdtemp");
		return done_testing();
	}

	/* atomic write + capped read */
	is_int(write_file_atomic(p("a.json"), "{\"x\":1}\n", 8, 0600, &err), 0, "atomic write");
	ok(stat(p("a.json"), &st) == 0 && (st.st_mode & 0777) == 0600, "mode applied");
	is_int(read_file(p("a.json"), 100, &data, &len, &err), 0, "read back");
	is_str(data, "{\"x\":1}\n", "contents");
	is_int(len, 8, "length");
	free(data);
	is_int(write_file_atomic(p("a.json"), "new", 3, 0644, &err), 0, "replace atomically");
	is_int(read_file(p("a.json"), 100, &data, &len, &err), 0, "read replaced");
	is_str(data, "new", "new contents");
	free(data);
	is_int(read_file(p("a.json"), 2, &data, &len, &err), -1, "a file over the cap is refused");
	ok(err && err->exit_code == EXIT_USAGE && strstr(err->msg, "larger than 2 bytes"),
	   "cap error says so");
	error_clear(&err);
	is_int(write_file_atomic(p("nodir/x"), "x", 1, 0644, &err), -1,
	       "atomic write into a missing dir fails");
	error_clear(&err);
	{
		/* no temp files left behind */
		int n = 0;
		char cmd[600];
		FILE *f;

		snprintf(cmd, sizeof(cmd), "ls -A %s | grep -c tmp", top);
		f = popen(cmd, "r");
		if (f && fscanf(f, "%d", &n) != 1)
			n = -1;
		if (f)
			pclose(f);
		is_int(n, 0, "no temp file left after atomic writes");
	}

	/* mkdir_p */
	is_int(mkdir_p(p("d/e/f/g"), 0755, &err), 0, "mkdir -p");
	ok(stat(p("d/e/f/g"), &st) == 0 && S_ISDIR(st.st_mode), "nested dir exists");
	is_int(mkdir_p(p("d/e/f/g"), 0755, &err), 0, "mkdir -p of an existing dir is fine");
	is_int(mkdir_p(p("a.json/x"), 0755, &err), -1, "mkdir -p through a file fails");
	error_clear(&err);

	/* rm_rf: symlinks are removed, not followed */
	mkdir(p("keep"), 0755);
	touch(p("keep/precious"));
	mkdir_p(p("gone/sub"), 0755, NULL);
	touch(p("gone/sub/file"));
	ok(symlink(p("keep"), p("gone/link-to-keep")) == 0, "symlink to a dir");
	ok(symlink(p("keep/precious"), p("gone/sub/link-file")) == 0, "symlink to a file");
	is_int(rm_rf(p("gone"), &err), 0, "rm -rf a tree with symlinks");
	ok(!exists(p("gone")), "tree removed");
	ok(exists(p("keep/precious")), "symlink targets untouched");
	is_int(rm_rf(p("gone"), &err), 0, "rm -rf of a missing path is fine");

	/* rm_rf: deeper than the fd budget */
	{
		char path[8192];
		size_t n = (size_t)snprintf(path, sizeof(path), "%s/deep", top);
		int depth = 0;

		mkdir(path, 0755);
		for (depth = 0; depth < 300 && n + 3 < sizeof(path); depth++) {
			n += (size_t)snprintf(path + n, sizeof(path) - n, "/d");
			if (mkdir(path, 0755) < 0)
				break;
		}
		touch(strcat(path, "/leaf"));
		is_int(depth, 300, "built a 300-level tree");
		is_int(rm_rf(p("deep"), &err), 0, "rm -rf a 300-level tree");
		ok(!exists(p("deep")), "deep tree removed");
		if (err)
			diag("%s", err->msg);
		error_clear(&err);
	}

	/* rm_rf never crosses a mount point */
	mkdir_p(p("m/inner"), 0755, NULL);
	touch(p("m/before"));
	if (mount("tmpfs", p("m/inner"), "tmpfs", 0, "size=1m") == 0) {
		bool mp = false;

		touch(p("m/inner/on-the-mount"));
		is_int(is_mount_point(p("m/inner"), &mp, &err), 0, "is_mount_point works");
		ok(mp, "the tmpfs is a mount point");
		is_int(is_mount_point(p("m"), &mp, &err), 0, "is_mount_point on a plain dir");
		ok(!mp, "a plain dir is not a mount point");
		is_int(rm_rf(p("m"), &err), -1, "rm -rf stops at a mount point");
		ok(err && strstr(err->msg, "mount point"), "and says why: %s", err ? err->msg : "");
		error_clear(&err);
		ok(exists(p("m/inner/on-the-mount")), "nothing on the mount was removed");
		umount2(p("m/inner"), MNT_DETACH);
		is_int(rm_rf(p("m"), &err), 0, "after umount the tree goes");
	} else {
		ok(1, "# SKIP mounting tmpfs needs root (%s)", strerror(errno));
	}

	is_int(rm_rf(top, &err), 0, "clean up");
	{
		char *j = path_join("/a/b/", "/c");

		is_str(j, "/a/b/c", "path_join collapses slashes");
		free(j);
	}
	return done_testing();
}
