/* tests/unit/test-build-copy.c — COPY/ADD (runner/build/copy.c) over layered views
 * (runner/build/view.c): whiteouts and opaque dirs, links resolved inside the root, Docker's
 * destination rules, owners and modes, .dockerignore, archives, and a cache hash that ignores
 * mtimes but not bytes or modes. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <time.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/fs.h"
#include "runner/build/copy.h"
#include "runner/build/dockerfile.h"
#include "tests/unit/tap.h"

static char base[] = "/tmp/test-build-copy-XXXXXX";
static char ctx[4200], l1[4200], l2[4200], tmp[4200];

static void put(const char *dir, const char *rel, const char *data, mode_t mode)
{
	char p[8400];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, mode);
	if (fd < 0 || write(fd, data, strlen(data)) < 0)
		abort();
	fchmod(fd, mode);
	close(fd);
}

static void mk(const char *dir, const char *rel, mode_t mode)
{
	char p[8400];

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	if (mkdir_p(p, mode, NULL) < 0 || chmod(p, mode) < 0)
		abort();
}

static bool exists(const char *dir, const char *rel, struct stat *st)
{
	char p[8400];
	struct stat tmpst;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	return lstat(p, st ? st : &tmpst) == 0;
}

static char *read_rel(const char *dir, const char *rel)
{
	char p[8400], *data = NULL;
	size_t len;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	if (read_file(p, 1 << 20, &data, &len, NULL) < 0)
		return strdup("(missing)");
	return data;
}

static void setup(void)
{
	char p[8400];

	if (!mkdtemp(base))
		abort();
	snprintf(ctx, sizeof(ctx), "%s/ctx", base);
	snprintf(l1, sizeof(l1), "%s/l1", base);
	snprintf(l2, sizeof(l2), "%s/l2", base);
	snprintf(tmp, sizeof(tmp), "%s/tmp", base);
	mk(ctx, "dir/sub", 0755);
	mk(tmp, "", 0700);
	put(ctx, "a.txt", "A\n", 0644);
	put(ctx, "b.txt", "B\n", 0600);
	put(ctx, "dir/x", "X\n", 0755);
	put(ctx, "dir/sub/y", "Y\n", 0644);
	put(ctx, "app.log", "log\n", 0644);
	mk(ctx, "docs", 0755);
	put(ctx, "docs/README.md", "readme\n", 0644);
	put(ctx, "docs/other.md", "other\n", 0644);
	snprintf(p, sizeof(p), "%s/link", ctx);
	if (symlink("a.txt", p) < 0)
		abort();
	snprintf(p, sizeof(p), "%s/escape", ctx);
	if (symlink("../../../../../../etc/passwd", p) < 0)
		abort();
	/* an archive to ADD */
	snprintf(p, sizeof(p),
		 "mkdir -p %s/arc/inner && echo in > %s/arc/inner/f && "
		 "tar -C %s/arc -czf %s/pkg.tar.gz --owner=7 --group=8 inner && "
		 "rm -rf %s/arc",
		 base, base, base, ctx, base);
	if (system(p) != 0)
		abort();

	/* the stage: l1 at the bottom, l2 on top with a whiteout and an opaque dir */
	mk(l1, "etc", 0755);
	put(l1, "etc/passwd", "root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n",
	    0644);
	put(l1, "etc/group", "root:x:0:\nstaff:x:50:\n", 0644);
	mk(l1, "app", 0750);
	snprintf(p, sizeof(p), "%s/app", l1);
	if (chown(p, 5, 6) < 0)
		abort();
	mk(l1, "usr/lib", 0755);
	snprintf(p, sizeof(p), "%s/lib", l1);
	if (symlink("usr/lib", p) < 0)
		abort();
	put(l1, "gone.txt", "gone\n", 0644);
	mk(l1, "opq", 0755);
	put(l1, "opq/old", "old\n", 0644);
	put(l1, "file", "f\n", 0644);
	mk(l2, "opq", 0755);
	put(l2, "opq/new", "new\n", 0644);
	snprintf(p, sizeof(p), "%s/opq", l2);
	if (setxattr(p, "trusted.overlay.opaque", "y", 1, 0) < 0)
		abort();
	snprintf(p, sizeof(p), "%s/gone.txt", l2);
	if (mknod(p, S_IFCHR | 0600, makedev(0, 0)) < 0)
		abort();
}

static char *stage_layers[2] = {l2, l1};
static const struct view stage = {stage_layers, 2, true, NULL};

static void test_view(void)
{
	struct vnode n;
	bool ex;
	char **names;
	size_t cnt;

	memset(&n, 0, sizeof(n));
	ok(view_resolve(&stage, "/lib/new/x", true, &n, &ex, NULL) == 0 && !ex && n.path &&
	       !strcmp(n.path, "usr/lib/new/x"),
	   "a missing path resolves through the link");
	vnode_release(&n);
	ok(view_resolve(&stage, "gone.txt", true, &n, &ex, NULL) == 0 && !ex,
	   "a whiteout hides the lower file");
	vnode_release(&n);
	ok(view_resolve(&stage, "opq/old", true, &n, &ex, NULL) == 0 && !ex,
	   "an opaque dir hides the lower children");
	vnode_release(&n);
	ok(view_resolve(&stage, "../../etc/passwd", true, &n, &ex, NULL) == 0 && ex &&
	       !strcmp(n.path, "etc/passwd"),
	   "'..' stops at the root");
	vnode_release(&n);
	ok(view_resolve(&stage, "file/x", true, &n, &ex, NULL) < 0, "a file in the middle fails");
	if (view_resolve(&stage, "", true, &n, &ex, NULL) == 0 &&
	    view_list(&stage, &n, &names, &cnt, NULL) == 0) {
		bool has_gone = false;

		for (size_t i = 0; i < cnt; i++)
			has_gone |= !strcmp(names[i], "gone.txt");
		ok(!has_gone && cnt == 6, "the root lists %zu names, whiteouts left out", cnt);
		df_strv_free(names);
	}
	vnode_release(&n);
}

/* Copies into a fresh layer dir; returns its path (static) or NULL with the error shown. */
static const char *copy(const struct view *src, const char *const *srcs, size_t n, const char *dest,
			const struct copy_opts *o, int *exit_code)
{
	static char layer[4300];
	static int seq;
	struct error *err = NULL;

	snprintf(layer, sizeof(layer), "%s/layer%d", base, seq++);
	mk(layer, "", 0755);
	*exit_code = 0;
	if (copy_to_layer(src, (char *const *)srcs, n, dest, "/app", &stage, layer, o, &err) < 0) {
		diag("copy: %s", err->msg);
		*exit_code = err->exit_code;
		error_free(err);
		return NULL;
	}
	return layer;
}

static void test_copy(void)
{
	char *cl[1] = {ctx};
	struct ignore ig;
	struct view context = {cl, 1, false, &ig};
	struct copy_opts o = {
	    .what = "COPY", .from = "the build context", .dir_mtime = 1000, .tmp_dir = tmp};
	const char *ign = "*.log\ndocs\n!docs/README.md\n";
	const char *layer;
	struct stat st;
	int ec;

	if (ignore_parse(ign, strlen(ign), &ig, NULL) < 0)
		abort();

	layer = copy(&context, (const char *[]){"a.txt"}, 1, ".", &o, &ec);
	ok(layer && exists(layer, "app/a.txt", &st) && st.st_uid == 0 &&
	       (st.st_mode & 0777) == 0644,
	   "a file into the working dir, which exists: it keeps the name");
	ok(layer && exists(layer, "app", &st) && st.st_uid == 5 && st.st_gid == 6 &&
	       (st.st_mode & 07777) == 0750,
	   "the existing parent keeps the stage's owner and mode");

	layer = copy(&context, (const char *[]){"a.txt"}, 1, "/new/name", &o, &ec);
	{
		struct stat src;

		ok(layer && exists(layer, "new/name", &st) && S_ISREG(st.st_mode) &&
		       exists(ctx, "a.txt", &src) && st.st_mtime == src.st_mtime,
		   "no trailing slash: the file's new name, its mtime kept");
	}
	ok(layer && exists(layer, "new", &st) && st.st_mtime == 1000 && (st.st_mode & 0777) == 0755,
	   "a new parent dir: 0755 and the build's time");

	layer = copy(&context, (const char *[]){"a.txt"}, 1, "/new/", &o, &ec);
	ok(layer && exists(layer, "new/a.txt", NULL), "a trailing slash: into the directory");

	layer = copy(&context, (const char *[]){"dir"}, 1, "/d", &o, &ec);
	ok(layer && exists(layer, "d/x", &st) && (st.st_mode & 0777) == 0755 &&
	       exists(layer, "d/sub/y", NULL) && !exists(layer, "d/dir", NULL),
	   "a directory source copies its contents");

	layer = copy(&context, (const char *[]){"a.txt", "b.txt"}, 2, "/multi", &o, &ec);
	ok(!layer && ec == 2, "several sources need a destination ending in '/'");
	layer = copy(&context, (const char *[]){"*.txt"}, 1, "/g/", &o, &ec);
	ok(layer && exists(layer, "g/a.txt", NULL) && exists(layer, "g/b.txt", &st) &&
	       (st.st_mode & 0777) == 0600,
	   "a glob, modes kept");
	layer = copy(&context, (const char *[]){"../x"}, 1, "/x", &o, &ec);
	ok(!layer && ec == 2, "a path above the context is refused");
	layer = copy(&context, (const char *[]){"escape"}, 1, "/x", &o, &ec);
	ok(!layer && ec == 1, "a link out of the context finds nothing outside it");
	layer = copy(&context, (const char *[]){"nothing*"}, 1, "/x/", &o, &ec);
	ok(!layer && ec == 1, "a glob matching nothing fails");
	layer = copy(&context, (const char *[]){"app.log"}, 1, "/x", &o, &ec);
	ok(!layer && ec == 1, "an excluded file cannot be copied");
	layer = copy(&context, (const char *[]){"."}, 1, "/all/", &o, &ec);
	ok(layer && !exists(layer, "all/app.log", NULL) &&
	       exists(layer, "all/docs/README.md", NULL) &&
	       !exists(layer, "all/docs/other.md", NULL) && exists(layer, "all/link", &st) &&
	       S_ISLNK(st.st_mode),
	   "the context without what .dockerignore excludes; links stay links inside");
	layer = copy(&context, (const char *[]){"link"}, 1, "/l", &o, &ec);
	ok(layer && exists(layer, "l", &st) && S_ISREG(st.st_mode), "a link source is followed");
	layer = copy(&context, (const char *[]){"a.txt"}, 1, "/lib/", &o, &ec);
	ok(layer && exists(layer, "usr/lib/a.txt", NULL) && !exists(layer, "lib", NULL),
	   "a link in the destination is followed inside the stage");
	layer = copy(&context, (const char *[]){"a.txt"}, 1, "/file/x", &o, &ec);
	ok(!layer, "a file in the way of the destination");

	o.chown = true;
	if (copy_parse_chown("app", &stage, &o.uid, &o.gid, NULL) == 0)
		ok(o.uid == 1000 && o.gid == 1000, "--chown=app: uid 1000, the same gid");
	if (copy_parse_chown("app:staff", &stage, &o.uid, &o.gid, NULL) == 0)
		ok(o.uid == 1000 && o.gid == 50, "--chown=app:staff");
	{
		struct error *err = NULL;
		uid_t u;
		gid_t g;

		ok(copy_parse_chown("nobody", &stage, &u, &g, &err) < 0 && err &&
		       strstr(err->msg, "unknown user 'nobody'"),
		   "an unknown user is an error");
		error_free(err);
	}
	o.chmod = true;
	o.mode = 0640;
	layer = copy(&context, (const char *[]){"dir"}, 1, "/owned/", &o, &ec);
	ok(layer && exists(layer, "owned/sub/y", &st) && st.st_uid == 1000 && st.st_gid == 50 &&
	       (st.st_mode & 0777) == 0640,
	   "--chown and --chmod apply to everything copied");
	ok(layer && exists(layer, "owned", &st) && st.st_uid == 1000, "and to the new directory");

	{
		struct copy_opts a = {.what = "ADD",
				      .from = "the build context",
				      .dir_mtime = 1,
				      .tmp_dir = tmp,
				      .unpack_archives = true};
		struct copy_opts c = a;
		char *got;

		c.what = "COPY";
		c.unpack_archives = false;
		layer = copy(&context, (const char *[]){"pkg.tar.gz"}, 1, "/opt", &a, &ec);
		got = layer ? read_rel(layer, "opt/inner/f") : NULL;
		is_str(got, "in\n", "ADD unpacks a local tar.gz");
		free(got);
		ok(layer && exists(layer, "opt/inner/f", &st) && st.st_uid == 7 && st.st_gid == 8,
		   "with the archive's owners");
		layer = copy(&context, (const char *[]){"pkg.tar.gz"}, 1, "/opt/", &c, &ec);
		ok(layer && exists(layer, "opt/pkg.tar.gz", NULL), "COPY does not");
	}
	ignore_release(&ig);
}

static void hash(const char *src, char out[65])
{
	char *cl[1] = {ctx};
	struct view context = {cl, 1, false, NULL};
	struct copy_opts o = {.what = "COPY", .from = "the build context"};
	struct sha256 h;

	sha256_init(&h, NULL);
	if (copy_hash(&context, (char *const[]){(char *)src}, 1, &o, &h, NULL) < 0) {
		sha256_release(&h);
		strcpy(out, "error");
		return;
	}
	sha256_final_hex(&h, out);
}

static void test_hash(void)
{
	char h0[65], h1[65], h2[65], h3[65], p[8400];
	struct timespec ts[2] = {{12345, 0}, {12345, 0}};

	hash("dir", h0);
	snprintf(p, sizeof(p), "%s/dir/sub/y", ctx);
	utimensat(AT_FDCWD, p, ts, 0);
	hash("dir", h1);
	is_str(h1, h0, "touching a file changes nothing");
	put(ctx, "dir/sub/y", "Z\n", 0644);
	hash("dir", h2);
	ok(strcmp(h2, h0), "other bytes change the hash");
	chmod(p, 0600);
	hash("dir", h3);
	ok(strcmp(h3, h2), "another mode changes the hash");
	hash("missing", h3);
	is_str(h3, "error", "a missing source fails");
}

int main(void)
{
	plan_lazy();
	if (geteuid() != 0) {
		printf("1..0 # SKIP needs root (owners, device nodes, trusted xattrs)\n");
		return 0;
	}
	setup();
	test_view();
	test_copy();
	test_hash();
	rm_rf(base, NULL);
	return done_testing();
}
