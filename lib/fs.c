/* lib/fs.c — file helpers: capped read, atomic write, mkdir -p, mount-bound rm -rf. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/cleanup.h"
#include "lib/fs.h"

int read_file(const char *path, size_t max, char **out, size_t *len, struct error **err)
{
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct buf b = BUF_INIT(max);
	char chunk[16384];
	ssize_t n;

	if (fd < 0)
		return error_errno(err, "open '%s'", path);
	for (;;) {
		n = read(fd, chunk, sizeof(chunk));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			buf_release(&b);
			return error_errno(err, "read '%s'", path);
		}
		if (n == 0)
			break;
		if (buf_append(&b, chunk, (size_t)n, NULL) < 0) {
			buf_release(&b);
			return error_usage(err, "'%s' is larger than %zu bytes", path, max);
		}
	}
	if (len)
		*len = b.len;
	*out = buf_steal(&b);
	return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
		      struct error **err)
{
	cleanup_free char *tmp = NULL;
	cleanup_free char *dir = NULL;
	cleanup_close int dfd = -1;
	int fd;
	char *slash;

	if (asprintf(&tmp, "%s.tmp.XXXXXX", path) < 0)
		return error_errno(err, "write '%s'", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, "create a temp file for '%s'", path);
	if (fchmod(fd, mode) < 0 || write_all(fd, data, len) < 0 || fsync(fd) < 0) {
		error_errno(err, "write '%s'", tmp);
		close(fd);
		unlink(tmp);
		return -1;
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		error_errno(err, "replace '%s'", path);
		unlink(tmp);
		return -1;
	}
	dir = strdup(path);
	if (!dir)
		return error_errno(err, "write '%s'", path);
	slash = strrchr(dir, '/');
	if (slash == dir)
		slash[1] = '\0';
	else if (slash)
		*slash = '\0';
	else
		strcpy(dir, ".");
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0)
		fsync(dfd); /* the rename is durable once the directory is */
	return 0;
}

int mkdir_p(const char *path, mode_t mode, struct error **err)
{
	cleanup_free char *p = strdup(path);
	char *s;
	struct stat st;

	if (!p)
		return error_errno(err, "mkdir '%s'", path);
	for (s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return error_errno(err, "create directory '%s'", p);
		*s = '/';
	}
	if (mkdir(p, mode) < 0) {
		if (errno != EEXIST)
			return error_errno(err, "create directory '%s'", p);
		if (stat(p, &st) < 0 || !S_ISDIR(st.st_mode))
			return error_set(err, EXIT_INTERNAL, "'%s' exists and is not a directory",
					 p);
	}
	return 0;
}

static int mount_id_at(int dirfd, const char *name, uint64_t *id)
{
	struct statx stx;

	if (statx(dirfd, name, AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT, STATX_MNT_ID, &stx) < 0)
		return -1;
	if (!(stx.stx_mask & STATX_MNT_ID)) {
		errno = ENOTSUP;
		return -1;
	}
	*id = stx.stx_mnt_id;
	return 0;
}

int is_mount_point(const char *path, bool *out, struct error **err)
{
	cleanup_free char *parent = path_join(path, "..");
	uint64_t a, b;

	if (!parent)
		return error_errno(err, "stat '%s'", path);
	if (mount_id_at(AT_FDCWD, path, &a) < 0)
		return error_errno(err, "stat '%s'", path);
	if (mount_id_at(AT_FDCWD, parent, &b) < 0)
		return error_errno(err, "stat '%s'", parent);
	*out = a != b;
	return 0;
}

/* Directories deeper than this below the root are moved up to the root and removed from
 * there, so the removal holds at most this many directory fds whatever the tree's depth. */
#define RM_MAX_DEPTH 64

struct rm_ctx {
	const char *top;
	int rootfd;
	uint64_t mnt_id;
	unsigned long moved;
	bool rescan;
	struct error **err;
};

static int rm_dir_contents(struct rm_ctx *c, int dfd, int depth);

static int rm_entry(struct rm_ctx *c, int dfd, const char *name, int depth)
{
	struct stat st;
	uint64_t id;
	int sub, r;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0
				       : error_errno(c->err, "stat '%s' under '%s'", name, c->top);
	if (!S_ISDIR(st.st_mode)) {
		if (unlinkat(dfd, name, 0) < 0 && errno != ENOENT)
			return error_errno(c->err, "remove '%s' under '%s'", name, c->top);
		return 0;
	}
	if (mount_id_at(dfd, name, &id) < 0)
		return error_errno(c->err, "stat '%s' under '%s'", name, c->top);
	if (id != c->mnt_id)
		return error_set(c->err, EXIT_INTERNAL,
				 "'%s' under '%s' is a mount point: not removing across it", name,
				 c->top);
	if (depth >= RM_MAX_DEPTH) {
		char tmp[64];

		snprintf(tmp, sizeof(tmp), ".slipway-rm-%lu", c->moved++);
		if (renameat(dfd, name, c->rootfd, tmp) < 0)
			return error_errno(c->err, "move '%s' up in '%s'", name, c->top);
		c->rescan = true;
		return 0;
	}
	sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0)
		return error_errno(c->err, "open '%s' under '%s'", name, c->top);
	r = rm_dir_contents(c, sub, depth + 1);
	close(sub);
	if (r < 0)
		return -1;
	if (unlinkat(dfd, name, AT_REMOVEDIR) < 0 && errno != ENOENT)
		return error_errno(c->err, "remove directory '%s' under '%s'", name, c->top);
	return 0;
}

static int rm_dir_contents(struct rm_ctx *c, int dfd, int depth)
{
	/* A fresh open file description: a dup() would share (and keep) the read position. */
	int fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d;
	struct dirent *de;
	int r = 0;

	if (fd < 0)
		return error_errno(c->err, "read '%s'", c->top);
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return error_errno(c->err, "read '%s'", c->top);
	}
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		r = rm_entry(c, dfd, de->d_name, depth);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

int rm_rf(const char *path, struct error **err)
{
	struct rm_ctx c = {.top = path, .err = err};
	struct stat st;
	int r;

	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : error_errno(err, "stat '%s'", path);
	if (!S_ISDIR(st.st_mode)) {
		if (unlink(path) < 0 && errno != ENOENT)
			return error_errno(err, "remove '%s'", path);
		return 0;
	}
	c.rootfd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c.rootfd < 0)
		return error_errno(err, "open '%s'", path);
	{
		struct statx stx;

		if (statx(c.rootfd, "", AT_EMPTY_PATH, STATX_MNT_ID, &stx) < 0) {
			close(c.rootfd);
			return error_errno(err, "stat '%s'", path);
		}
		c.mnt_id = stx.stx_mnt_id;
	}
	do {
		c.rescan = false;
		r = rm_dir_contents(&c, c.rootfd, 0);
	} while (r == 0 && c.rescan);
	close(c.rootfd);
	if (r < 0)
		return -1;
	if (rmdir(path) < 0 && errno != ENOENT)
		return error_errno(err, "remove directory '%s'", path);
	return 0;
}

char *path_join(const char *a, const char *b)
{
	char *s = NULL;
	size_t la = strlen(a);

	while (la > 1 && a[la - 1] == '/')
		la--;
	while (*b == '/')
		b++;
	if (asprintf(&s, "%.*s/%s", (int)la, a, b) < 0)
		return NULL;
	return s;
}
