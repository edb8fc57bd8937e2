/* runner/image/unpack.c — secure unpacking of one layer tar (plain, gzip, zstd) into a
 * directory: whiteouts become overlay whiteouts, nothing is written outside the root.
 *
 * Two libarchive readers are chained: the first only decompresses (raw format) and its read
 * callback hashes the blob bytes (the layer digest); the second parses tar from the first's
 * output, which is hashed on the way (the diff_id). Every path is checked lexically (no
 * absolute names, no "..") and its parent is opened with openat2(RESOLVE_BENEATH): a relative
 * symlink that stays inside the layer may be walked through (`lib -> usr/lib` then
 * `lib/x.so`), one that points outside (absolute, or climbing out) is refused. The last
 * component is never followed: an existing entry there is replaced. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/parse.h"
#include "runner/image/internal.h"

#define CHUNK (1u << 20)

void layer_limits_default(struct layer_limits *l)
{
	const char *s;
	uint64_t v;

	l->max_bytes = 32ull << 30;
	l->max_entries = 4u << 20;
	if ((s = getenv("SLIPWAY_LAYER_MAX_BYTES")) && parse_size(s, &v, NULL) == 0)
		l->max_bytes = v;
	if ((s = getenv("SLIPWAY_LAYER_MAX_ENTRIES")) && parse_size(s, &v, NULL) == 0)
		l->max_entries = v;
}

struct dirmeta {
	char *path;
	mode_t mode;
	struct timespec mtime;
};

struct unpack {
	const char *what;
	const struct layer_limits *lim;
	struct progress *pr;
	int fd, rootfd;
	bool root;
	struct archive *raw, *tar;
	struct sha256 zh, th;
	char *inbuf, *outbuf;
	uint64_t in_bytes, tar_bytes, entries;
	bool raw_eof, too_big;
	struct dirmeta *dirs;
	size_t ndirs, capdirs;
	struct error *cb_err;
};

static ssize_t raw_read_cb(struct archive *a, void *data, const void **buf)
{
	struct unpack *u = data;
	ssize_t n;

	do
		n = read(u->fd, u->inbuf, CHUNK);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		archive_set_error(a, errno, "read layer");
		return -1;
	}
	sha256_update(&u->zh, u->inbuf, (size_t)n);
	u->in_bytes += (uint64_t)n;
	*buf = u->inbuf;
	return n;
}

static ssize_t tar_read_cb(struct archive *a, void *data, const void **buf)
{
	struct unpack *u = data;
	la_ssize_t n;

	if (u->raw_eof)
		return 0;
	n = archive_read_data(u->raw, u->outbuf, CHUNK);
	if (n < 0) {
		archive_set_error(a, EIO, "%s", archive_error_string(u->raw));
		return -1;
	}
	if (n == 0)
		u->raw_eof = true;
	sha256_update(&u->th, u->outbuf, (size_t)n);
	u->tar_bytes += (uint64_t)n;
	if (u->tar_bytes > u->lim->max_bytes + 2 * CHUNK) {
		u->too_big = true;
		archive_set_error(a, EFBIG, "too big");
		return -1;
	}
	progress_add(u->pr, (uint64_t)n);
	*buf = u->outbuf;
	return n;
}

static int entry_fail(struct unpack *u, const char *name, struct error **err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int entry_fail(struct unpack *u, const char *name, struct error **err, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return error_failed(err, "layer '%s': entry '%s': %s", u->what, name, msg);
}

/* Normalizes a tar name into out ("a/b/c"): drops "./", empty components and a trailing
 * '/'. Refuses absolute names and "..". Returns 0, 1 for the root itself, -1 on refusal. */
static int clean_path(const char *name, char *out, size_t outlen)
{
	const char *p = name;
	size_t o = 0;

	if (*name == '/')
		return -1;
	while (*p) {
		const char *e = strchrnul(p, '/');
		size_t n = (size_t)(e - p);

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -1;
		if (n > 0 && !(n == 1 && p[0] == '.')) {
			if (o + n + 2 > outlen)
				return -1;
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p = *e ? e + 1 : e;
	}
	out[o] = '\0';
	return o == 0 ? 1 : 0;
}

static int open_beneath(int rootfd, const char *path, int flags, uint64_t resolve)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .resolve = resolve | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV,
	};

	return (int)syscall(SYS_openat2, rootfd, path, &how, sizeof(how));
}

/* Opens (creating missing parents 0755) the directory path under root; follows only
 * symlinks that stay beneath root. */
static int ensure_dir(struct unpack *u, const char *name, char *path, struct error **err)
{
	int fd, pfd;
	char *slash;

	if (!*path)
		return fcntl(u->rootfd, F_DUPFD_CLOEXEC, 0);
	for (int tries = 0; tries < 2; tries++) {
		fd = open_beneath(u->rootfd, path, O_PATH | O_DIRECTORY, RESOLVE_BENEATH);
		if (fd >= 0)
			return fd;
		if (errno == EXDEV)
			return entry_fail(u, name, err,
					  "path '%s' goes through a symlink that points outside "
					  "the layer",
					  path);
		if (errno == ENOTDIR)
			return entry_fail(u, name, err, "'%s' is not a directory", path);
		if (errno == ELOOP)
			return entry_fail(u, name, err, "too many symlinks in '%s'", path);
		if (errno != ENOENT || tries > 0)
			break;
		slash = strrchr(path, '/');
		if (slash) {
			*slash = '\0';
			pfd = ensure_dir(u, name, path, err);
			*slash = '/';
		} else {
			pfd = fcntl(u->rootfd, F_DUPFD_CLOEXEC, 0);
		}
		if (pfd < 0)
			return -1;
		if (mkdirat(pfd, slash ? slash + 1 : path, 0755) < 0 && errno != EEXIST) {
			close(pfd);
			return entry_fail(u, name, err, "mkdir '%s': %s", path, strerror(errno));
		}
		close(pfd);
	}
	if (errno == ENOENT)
		return entry_fail(u, name, err, "'%s' is a dangling symlink", path);
	return entry_fail(u, name, err, "open '%s': %s", path, strerror(errno));
}

/* Splits path into parent and base and opens the parent. */
static int open_parent(struct unpack *u, const char *name, char *path, const char **base,
		       struct error **err)
{
	char *slash = strrchr(path, '/');
	int fd;

	if (!slash) {
		*base = path;
		return ensure_dir(u, name, (char[]){""}, err);
	}
	*slash = '\0';
	fd = ensure_dir(u, name, path, err);
	*slash = '/';
	*base = slash + 1;
	return fd;
}

/* Removes whatever is at base unless it is a directory and keep_dir. */
static int clear_slot(struct unpack *u, const char *name, int pfd, const char *base, bool keep_dir,
		      bool *is_dir, struct error **err)
{
	struct stat sb;

	*is_dir = false;
	if (fstatat(pfd, base, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : entry_fail(u, name, err, "stat: %s", strerror(errno));
	if (S_ISDIR(sb.st_mode)) {
		if (keep_dir) {
			*is_dir = true;
			return 0;
		}
		if (unlinkat(pfd, base, AT_REMOVEDIR) < 0)
			return entry_fail(u, name, err, "replace directory: %s", strerror(errno));
		return 0;
	}
	if (unlinkat(pfd, base, 0) < 0)
		return entry_fail(u, name, err, "replace: %s", strerror(errno));
	return 0;
}

static int apply_xattrs(struct unpack *u, const char *name, int fd, struct archive_entry *e,
			struct error **err)
{
	const char *xn;
	const void *xv;
	size_t xs;

	if (archive_entry_xattr_reset(e) == 0)
		return 0;
	while (archive_entry_xattr_next(e, &xn, &xv, &xs) == ARCHIVE_OK) {
		/* Overlay metadata (opaque, redirect, metacopy) only comes from whiteouts. */
		if (!strncmp(xn, "trusted.overlay.", 16))
			continue;
		if (fsetxattr(fd, xn, xv, xs, 0) < 0 && errno != ENOTSUP)
			return entry_fail(u, name, err, "set xattr '%s': %s", xn, strerror(errno));
	}
	return 0;
}

/* Owner then mode (chown clears setuid/setgid bits). */
static int apply_owner_mode(struct unpack *u, const char *name, int fd, struct archive_entry *e,
			    struct error **err)
{
	if (u->root && fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
		return entry_fail(u, name, err, "chown: %s", strerror(errno));
	if (fchmod(fd, archive_entry_perm(e) & 07777) < 0)
		return entry_fail(u, name, err, "chmod: %s", strerror(errno));
	return 0;
}

static int write_file(struct unpack *u, const char *name, int pfd, const char *base,
		      struct archive_entry *e, struct error **err)
{
	cleanup_close int fd = -1;
	const void *buf;
	size_t size;
	la_int64_t off;
	int r;
	struct timespec ts[2];

	fd = openat(pfd, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return entry_fail(u, name, err, "create: %s", strerror(errno));
	while ((r = archive_read_data_block(u->tar, &buf, &size, &off)) == ARCHIVE_OK) {
		const char *p = buf;

		while (size > 0) {
			ssize_t n = pwrite(fd, p, size, off);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				return entry_fail(u, name, err, "write: %s", strerror(errno));
			}
			p += n;
			off += n;
			size -= (size_t)n;
		}
	}
	if (r != ARCHIVE_EOF && u->too_big)
		return error_failed(err,
				    "layer '%s': more than %llu bytes uncompressed (a tar bomb?)",
				    u->what, (unsigned long long)u->lim->max_bytes);
	if (r != ARCHIVE_EOF)
		return entry_fail(u, name, err, "read data: %s", archive_error_string(u->tar));
	if (ftruncate(fd, archive_entry_size(e)) < 0)
		return entry_fail(u, name, err, "truncate: %s", strerror(errno));
	if (apply_owner_mode(u, name, fd, e, err) < 0 || apply_xattrs(u, name, fd, e, err) < 0)
		return -1;
	ts[0].tv_sec = archive_entry_mtime(e);
	ts[0].tv_nsec = archive_entry_mtime_nsec(e);
	ts[1] = ts[0];
	if (futimens(fd, ts) < 0)
		return entry_fail(u, name, err, "set times: %s", strerror(errno));
	return 0;
}

static int remember_dir(struct unpack *u, const char *path, struct archive_entry *e,
			struct error **err)
{
	if (u->ndirs == u->capdirs) {
		size_t cap = u->capdirs ? u->capdirs * 2 : 64;
		struct dirmeta *d = realloc(u->dirs, cap * sizeof(*d));

		if (!d)
			return error_errno(err, "unpack");
		u->dirs = d;
		u->capdirs = cap;
	}
	u->dirs[u->ndirs].path = strdup(path);
	u->dirs[u->ndirs].mode = archive_entry_perm(e) & 07777;
	u->dirs[u->ndirs].mtime.tv_sec = archive_entry_mtime(e);
	u->dirs[u->ndirs].mtime.tv_nsec = archive_entry_mtime_nsec(e);
	if (!u->dirs[u->ndirs].path)
		return error_errno(err, "unpack");
	u->ndirs++;
	return 0;
}

static int make_dir(struct unpack *u, const char *name, char *path, int pfd, const char *base,
		    struct archive_entry *e, struct error **err)
{
	cleanup_close int fd = -1;
	bool is_dir;

	if (clear_slot(u, name, pfd, base, true, &is_dir, err) < 0)
		return -1;
	if (!is_dir && mkdirat(pfd, base, 0700) < 0)
		return entry_fail(u, name, err, "mkdir: %s", strerror(errno));
	fd = openat(pfd, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return entry_fail(u, name, err, "open: %s", strerror(errno));
	if (u->root && fchown(fd, (uid_t)archive_entry_uid(e), (gid_t)archive_entry_gid(e)) < 0)
		return entry_fail(u, name, err, "chown: %s", strerror(errno));
	if (apply_xattrs(u, name, fd, e, err) < 0)
		return -1;
	/* Mode and times are set at the end: adding children changes the mtime. */
	return remember_dir(u, path, e, err);
}

static int make_link(struct unpack *u, const char *name, int pfd, const char *base,
		     const char *target, struct error **err)
{
	char tpath[4096];
	const char *tbase;
	cleanup_close int tpfd = -1;
	struct stat sb;

	if (clean_path(target, tpath, sizeof(tpath)) != 0)
		return entry_fail(u, name, err, "hardlink target '%s' is outside the layer",
				  target);
	tpfd = open_parent(u, name, tpath, &tbase, err);
	if (tpfd < 0)
		return -1;
	if (fstatat(tpfd, tbase, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return entry_fail(u, name, err, "hardlink target '%s': %s", target,
				  strerror(errno));
	if (S_ISDIR(sb.st_mode))
		return entry_fail(u, name, err, "hardlink target '%s' is a directory", target);
	if (linkat(tpfd, tbase, pfd, base, 0) < 0)
		return entry_fail(u, name, err, "link to '%s': %s", target, strerror(errno));
	return 0;
}

static int set_times_nofollow(struct unpack *u, const char *name, int pfd, const char *base,
			      struct archive_entry *e, struct error **err)
{
	struct timespec ts[2];

	ts[0].tv_sec = archive_entry_mtime(e);
	ts[0].tv_nsec = archive_entry_mtime_nsec(e);
	ts[1] = ts[0];
	if (utimensat(pfd, base, ts, AT_SYMLINK_NOFOLLOW) < 0)
		return entry_fail(u, name, err, "set times: %s", strerror(errno));
	return 0;
}

static int unpack_entry(struct unpack *u, struct archive_entry *e, struct error **err)
{
	const char *name = archive_entry_pathname(e);
	char path[4096];
	const char *base, *hl = archive_entry_hardlink(e);
	cleanup_close int pfd = -1;
	mode_t type = archive_entry_filetype(e);
	bool is_dir;
	int c;

	if (!name)
		return error_failed(err, "layer '%s': an entry has no name", u->what);
	c = clean_path(name, path, sizeof(path));
	if (c < 0)
		return entry_fail(u, name, err, "path is absolute or leaves the layer ('..')");
	if (c == 1)
		return 0; /* the root itself: its attributes are the layer dir's */
	pfd = open_parent(u, name, path, &base, err);
	if (pfd < 0)
		return -1;

	/* Whiteouts. */
	if (!strncmp(base, ".wh.", 4)) {
		const char *victim = base + 4;

		if (!strcmp(base, ".wh..wh..opq")) {
			if (fsetxattr(pfd, "trusted.overlay.opaque", "y", 1, 0) < 0) {
				/* pfd is O_PATH: go through a real fd. */
				cleanup_close int dfd =
				    openat(pfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

				if (dfd < 0 ||
				    fsetxattr(dfd, "trusted.overlay.opaque", "y", 1, 0) < 0)
					return entry_fail(u, name, err, "mark opaque: %s",
							  strerror(errno));
			}
			return 0;
		}
		if (!strncmp(base, ".wh..wh.", 8))
			return 0; /* other AUFS metadata: meaningless for overlay */
		if (!*victim || !strcmp(victim, ".") || !strcmp(victim, ".."))
			return entry_fail(u, name, err, "invalid whiteout");
		if (clear_slot(u, name, pfd, victim, false, &is_dir, err) < 0)
			return -1;
		if (mknodat(pfd, victim, S_IFCHR | 0, makedev(0, 0)) < 0)
			return entry_fail(u, name, err, "make whiteout: %s", strerror(errno));
		return 0;
	}

	if (type == AE_IFDIR)
		return make_dir(u, name, path, pfd, base, e, err);
	if (clear_slot(u, name, pfd, base, false, &is_dir, err) < 0)
		return -1;
	if (hl)
		return make_link(u, name, pfd, base, hl, err);
	switch (type) {
	case AE_IFREG:
		return write_file(u, name, pfd, base, e, err);
	case AE_IFLNK: {
		const char *t = archive_entry_symlink(e);

		if (!t || symlinkat(t, pfd, base) < 0)
			return entry_fail(u, name, err, "symlink: %s", strerror(errno));
		if (u->root && fchownat(pfd, base, (uid_t)archive_entry_uid(e),
					(gid_t)archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
			return entry_fail(u, name, err, "chown: %s", strerror(errno));
		return set_times_nofollow(u, name, pfd, base, e, err);
	}
	case AE_IFCHR:
	case AE_IFBLK:
	case AE_IFIFO: {
		if (mknodat(pfd, base, type | 0600, archive_entry_rdev(e)) < 0)
			return entry_fail(u, name, err, "mknod: %s", strerror(errno));
		if (u->root && fchownat(pfd, base, (uid_t)archive_entry_uid(e),
					(gid_t)archive_entry_gid(e), AT_SYMLINK_NOFOLLOW) < 0)
			return entry_fail(u, name, err, "chown: %s", strerror(errno));
		if (fchmodat(pfd, base, archive_entry_perm(e) & 07777, 0) < 0)
			return entry_fail(u, name, err, "chmod: %s", strerror(errno));
		return set_times_nofollow(u, name, pfd, base, e, err);
	}
	default:
		return 0; /* sockets and the like: not part of an image */
	}
}

/* Directory modes and times, deepest first. */
static int finish_dirs(struct unpack *u, struct error **err)
{
	for (size_t i = u->ndirs; i-- > 0;) {
		struct dirmeta *d = &u->dirs[i];
		struct timespec ts[2] = {d->mtime, d->mtime};
		cleanup_close int fd = open_beneath(u->rootfd, d->path, O_RDONLY | O_DIRECTORY,
						    RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS);

		if (fd < 0)
			continue; /* replaced by a later entry */
		if (fchmod(fd, d->mode) < 0 || futimens(fd, ts) < 0)
			return error_errno(err, "layer '%s': set attributes of '%s'", u->what,
					   d->path);
	}
	return 0;
}

static void unpack_release(struct unpack *u)
{
	if (u->tar)
		archive_read_free(u->tar);
	if (u->raw)
		archive_read_free(u->raw);
	sha256_release(&u->zh);
	sha256_release(&u->th);
	if (u->rootfd >= 0)
		close(u->rootfd);
	for (size_t i = 0; i < u->ndirs; i++)
		free(u->dirs[i].path);
	free(u->dirs);
	free(u->inbuf);
	free(u->outbuf);
	error_free(u->cb_err);
}

static int archive_fail(struct unpack *u, struct archive *a, struct error **err)
{
	if (u->too_big)
		return error_failed(err,
				    "layer '%s': more than %llu bytes uncompressed (a tar bomb?)",
				    u->what, (unsigned long long)u->lim->max_bytes);
	return error_failed(err, "layer '%s': %s", u->what,
			    archive_error_string(a) ? archive_error_string(a) : "corrupt archive");
}

int layer_unpack_fd(int fd, const char *root, const char *what, const struct layer_limits *lim,
		    struct progress *pr, struct layer_unpack_result *res, struct error **err)
{
	struct unpack u = {.what = what, .lim = lim, .pr = pr, .fd = fd, .rootfd = -1};
	struct archive_entry *e;
	char hex[SHA256_HEX_LEN + 1];
	int r, rc = -1;

	u.root = geteuid() == 0;
	u.inbuf = malloc(CHUNK);
	u.outbuf = malloc(CHUNK);
	if (!u.inbuf || !u.outbuf) {
		error_errno(err, "unpack layer '%s'", what);
		goto out;
	}
	if (sha256_init(&u.zh, err) < 0 || sha256_init(&u.th, err) < 0)
		goto out;
	u.rootfd = open(root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (u.rootfd < 0) {
		error_errno(err, "open '%s'", root);
		goto out;
	}
	u.raw = archive_read_new();
	u.tar = archive_read_new();
	if (!u.raw || !u.tar) {
		error_errno(err, "unpack layer '%s'", what);
		goto out;
	}
	archive_read_support_filter_gzip(u.raw);
	archive_read_support_filter_zstd(u.raw);
	archive_read_support_format_raw(u.raw);
	if (archive_read_open(u.raw, &u, NULL, raw_read_cb, NULL) != ARCHIVE_OK ||
	    archive_read_next_header(u.raw, &e) != ARCHIVE_OK) {
		archive_fail(&u, u.raw, err);
		goto out;
	}
	archive_read_support_format_tar(u.tar);
	if (archive_read_open(u.tar, &u, NULL, tar_read_cb, NULL) != ARCHIVE_OK) {
		archive_fail(&u, u.tar, err);
		goto out;
	}
	while ((r = archive_read_next_header(u.tar, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		if (++u.entries > lim->max_entries) {
			error_failed(err, "layer '%s': more than %llu entries (a tar bomb?)", what,
				     (unsigned long long)lim->max_entries);
			goto out;
		}
		if (archive_entry_size(e) < 0 || (uint64_t)archive_entry_size(e) > lim->max_bytes) {
			error_failed(err, "layer '%s': entry '%s' is larger than %llu bytes", what,
				     archive_entry_pathname(e), (unsigned long long)lim->max_bytes);
			goto out;
		}
		if (unpack_entry(&u, e, err) < 0)
			goto out;
	}
	if (r != ARCHIVE_EOF) {
		archive_fail(&u, u.tar, err);
		goto out;
	}
	/* The bytes after the tar trailer count for the diff_id too. */
	while (!u.raw_eof) {
		const void *b;

		if (tar_read_cb(u.tar, &u, &b) < 0) {
			archive_fail(&u, u.tar, err);
			goto out;
		}
	}
	/* And the blob's own tail (for the digest). */
	while (raw_read_cb(u.raw, &u, &(const void *){NULL}) > 0)
		;
	if (u.tar_bytes > lim->max_bytes) {
		u.too_big = true;
		archive_fail(&u, u.tar, err);
		goto out;
	}
	if (finish_dirs(&u, err) < 0)
		goto out;
	sha256_final_hex(&u.zh, hex);
	snprintf(res->digest, sizeof(res->digest), "sha256:%s", hex);
	sha256_final_hex(&u.th, hex);
	snprintf(res->diff_id, sizeof(res->diff_id), "sha256:%s", hex);
	res->bytes = u.tar_bytes;
	res->entries = u.entries;
	rc = 0;
out:
	unpack_release(&u);
	return rc;
}
