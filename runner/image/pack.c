/* runner/image/pack.c — reproducible packing of a directory into a layer blob.
 *
 * Entries are written in byte order of their names (depth first), with mtimes in whole
 * seconds clamped to SOURCE_DATE_EPOCH, no atime/ctime, empty uname/gname, pax restricted
 * headers (only when a name, size or xattr needs them) and no gzip timestamp. The tar goes
 * through a first libarchive writer (hashed: the diff_id) into a second one with the "raw"
 * format and the compression filter, whose output is the blob. In an overlay upper dir a char
 * device 0/0 becomes `.wh.NAME` and trusted.overlay.opaque=y becomes `.wh..wh..opq`, written
 * right after its directory so it applies before the siblings. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "runner/image/internal.h"

#define CHUNK (1u << 20)

struct inode_seen {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct pack {
	const struct image_pack_opts *o;
	struct image_blob_writer *w;
	struct progress *pr;
	struct archive *tar, *out;
	struct sha256 th;
	char *buf;
	struct inode_seen *links;
	size_t nlinks, caplinks;
	struct error *cb_err;
};

static la_ssize_t out_write_cb(struct archive *a, void *data, const void *buf, size_t n)
{
	struct pack *p = data;

	if (image_blob_write(p->w, buf, n, &p->cb_err) < 0) {
		archive_set_error(a, EIO, "write blob");
		return -1;
	}
	return (la_ssize_t)n;
}

static la_ssize_t tar_write_cb(struct archive *a, void *data, const void *buf, size_t n)
{
	struct pack *p = data;

	sha256_update(&p->th, buf, n);
	if (archive_write_data(p->out, buf, n) < 0) {
		archive_set_error(a, EIO, "%s", archive_error_string(p->out));
		return -1;
	}
	return (la_ssize_t)n;
}

static int pack_fail(struct pack *p, struct archive *a, const char *what, struct error **err)
{
	if (p->cb_err) {
		error_set(err, p->cb_err->exit_code, "%s", p->cb_err->msg);
		return -1;
	}
	return error_failed(err, "pack '%s': %s", what, archive_error_string(a));
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The sorted names in dirfd (without . and ..); caller frees with image_strv_free. */
static int list_dir(int dirfd, char ***names, size_t *n, struct error **err)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	char **v = NULL;
	size_t k = 0, cap = 0;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return error_errno(err, "read directory");
	}
	while ((errno = 0, de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (k == cap) {
			char **nv = realloc(v, (cap = cap ? cap * 2 : 32) * sizeof(*v));

			if (!nv)
				goto oom;
			v = nv;
		}
		if (!(v[k++] = strdup(de->d_name)))
			goto oom;
	}
	closedir(d);
	if (k > 1)
		qsort(v, k, sizeof(*v), name_cmp);
	*names = v;
	*n = k;
	return 0;
oom:
	closedir(d);
	image_strv_free(v, k);
	return error_errno(err, "read directory");
}

static time_t clamp(const struct pack *p, time_t t)
{
	if (p->o->source_date_epoch >= 0 && t > p->o->source_date_epoch)
		return (time_t)p->o->source_date_epoch;
	return t;
}

static int add_xattrs(struct pack *p, int fd, struct archive_entry *e, bool *opaque)
{
	char list[65536], val[65536];
	ssize_t n = flistxattr(fd, list, sizeof(list));
	char *names[256];
	size_t k = 0;

	*opaque = false;
	if (n <= 0)
		return 0;
	for (char *s = list; s < list + n && k < ARRAY_SIZE(names); s += strlen(s) + 1)
		names[k++] = s;
	qsort(names, k, sizeof(*names), name_cmp);
	for (size_t i = 0; i < k; i++) {
		ssize_t vn = fgetxattr(fd, names[i], val, sizeof(val));

		if (vn < 0)
			continue;
		if (!strncmp(names[i], "trusted.overlay.", 16)) {
			if (!strcmp(names[i], "trusted.overlay.opaque") && vn == 1 && val[0] == 'y')
				*opaque = true;
			continue;
		}
		archive_entry_xattr_add_entry(e, names[i], val, (size_t)vn);
	}
	return 0;
}

static int write_header(struct pack *p, struct archive_entry *e, const char *rel,
			struct error **err)
{
	if (archive_write_header(p->tar, e) < ARCHIVE_WARN)
		return pack_fail(p, p->tar, rel, err);
	return 0;
}

static int add_whiteout(struct pack *p, const char *rel_dir, const char *name, time_t mtime,
			struct error **err)
{
	struct archive_entry *e = archive_entry_new();
	char path[4096];
	int rc;

	snprintf(path, sizeof(path), "%s%s.wh.%s", rel_dir, *rel_dir ? "/" : "", name);
	archive_entry_set_pathname(e, path);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0);
	archive_entry_set_size(e, 0);
	archive_entry_set_mtime(e, clamp(p, mtime), 0);
	rc = write_header(p, e, path, err);
	archive_entry_free(e);
	return rc;
}

static int hardlink_of(struct pack *p, const struct stat *sb, const char *rel, const char **first)
{
	*first = NULL;
	for (size_t i = 0; i < p->nlinks; i++)
		if (p->links[i].dev == sb->st_dev && p->links[i].ino == sb->st_ino) {
			*first = p->links[i].path;
			return 0;
		}
	if (p->nlinks == p->caplinks) {
		size_t cap = p->caplinks ? p->caplinks * 2 : 64;
		struct inode_seen *l = realloc(p->links, cap * sizeof(*l));

		if (!l)
			return -1;
		p->links = l;
		p->caplinks = cap;
	}
	p->links[p->nlinks].dev = sb->st_dev;
	p->links[p->nlinks].ino = sb->st_ino;
	p->links[p->nlinks].path = strdup(rel);
	if (!p->links[p->nlinks].path)
		return -1;
	p->nlinks++;
	return 0;
}

static int pack_tree(struct pack *p, int dirfd, const char *rel_dir, struct error **err);

static int pack_one(struct pack *p, int dirfd, const char *rel_dir, const char *name,
		    struct error **err)
{
	char rel[4096], target[4096];
	struct stat sb;
	struct archive_entry *e = NULL;
	cleanup_close int fd = -1;
	const char *first = NULL;
	bool opaque = false;
	int rc = -1;

	if ((size_t)snprintf(rel, sizeof(rel), "%s%s%s", rel_dir, *rel_dir ? "/" : "", name) >=
	    sizeof(rel))
		return error_failed(err, "pack: path too long: '%s/%s'", rel_dir, name);
	if (fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
		return error_errno(err, "stat '%s'", rel);
	if (p->o->overlay_upper && S_ISCHR(sb.st_mode) && sb.st_rdev == makedev(0, 0))
		return add_whiteout(p, rel_dir, name, sb.st_mtime, err);
	if (S_ISSOCK(sb.st_mode))
		return 0;

	e = archive_entry_new();
	archive_entry_set_pathname(e, rel);
	archive_entry_set_mode(e, sb.st_mode);
	archive_entry_set_uid(e, sb.st_uid);
	archive_entry_set_gid(e, sb.st_gid);
	archive_entry_set_mtime(e, clamp(p, sb.st_mtime), 0);
	if (S_ISREG(sb.st_mode) || S_ISDIR(sb.st_mode)) {
		fd = openat(dirfd, name,
			    (S_ISDIR(sb.st_mode) ? O_DIRECTORY : 0) | O_RDONLY | O_NOFOLLOW |
				O_CLOEXEC);
		if (fd < 0) {
			error_errno(err, "open '%s'", rel);
			goto out;
		}
		add_xattrs(p, fd, e, &opaque);
	}
	if (S_ISREG(sb.st_mode)) {
		if (sb.st_nlink > 1 && hardlink_of(p, &sb, rel, &first) < 0) {
			error_errno(err, "pack '%s'", rel);
			goto out;
		}
		if (first) {
			archive_entry_set_hardlink(e, first);
			archive_entry_set_size(e, 0);
		} else {
			archive_entry_set_size(e, sb.st_size);
		}
	} else if (S_ISLNK(sb.st_mode)) {
		ssize_t n = readlinkat(dirfd, name, target, sizeof(target) - 1);

		if (n < 0) {
			error_errno(err, "readlink '%s'", rel);
			goto out;
		}
		target[n] = '\0';
		archive_entry_set_symlink(e, target);
	} else if (S_ISCHR(sb.st_mode) || S_ISBLK(sb.st_mode)) {
		archive_entry_set_rdev(e, sb.st_rdev);
	}
	if (write_header(p, e, rel, err) < 0)
		goto out;
	if (S_ISREG(sb.st_mode) && !first) {
		int64_t left = sb.st_size;

		while (left > 0) {
			ssize_t n = read(fd, p->buf, CHUNK);

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				error_errno(err, "read '%s' (changed while packing?)", rel);
				goto out;
			}
			if (n > left)
				n = (ssize_t)left;
			if (archive_write_data(p->tar, p->buf, (size_t)n) < 0) {
				pack_fail(p, p->tar, rel, err);
				goto out;
			}
			progress_add(p->pr, (uint64_t)n);
			left -= n;
		}
	}
	if (S_ISDIR(sb.st_mode)) {
		if (opaque) {
			char opq[4200];
			struct archive_entry *w = archive_entry_new();

			snprintf(opq, sizeof(opq), "%s/.wh..wh..opq", rel);
			archive_entry_set_pathname(w, opq);
			archive_entry_set_filetype(w, AE_IFREG);
			archive_entry_set_perm(w, 0);
			archive_entry_set_size(w, 0);
			archive_entry_set_mtime(w, clamp(p, sb.st_mtime), 0);
			rc = write_header(p, w, opq, err);
			archive_entry_free(w);
			if (rc < 0)
				goto out;
			rc = -1;
		}
		if (pack_tree(p, fd, rel, err) < 0)
			goto out;
	}
	rc = 0;
out:
	archive_entry_free(e);
	return rc;
}

struct sort_item {
	const char *key; /* the name in the tar */
	char *name;	 /* the name on disk */
	char *owned_key;
};

static int item_cmp(const void *a, const void *b)
{
	return strcmp(((const struct sort_item *)a)->key, ((const struct sort_item *)b)->key);
}

/* Entries go in the order of their names in the tar: in an overlay upper dir a whiteout
 * device "x" sorts as ".wh.x". */
static int pack_tree(struct pack *p, int dirfd, const char *rel_dir, struct error **err)
{
	char **names = NULL;
	struct sort_item *items = NULL;
	size_t n = 0;
	int rc = 0;

	if (list_dir(dirfd, &names, &n, err) < 0)
		return error_wrap(err, "pack '%s'", *rel_dir ? rel_dir : ".");
	items = calloc(n + 1, sizeof(*items));
	if (!items) {
		image_strv_free(names, n);
		return error_errno(err, "pack");
	}
	for (size_t i = 0; i < n; i++) {
		struct stat sb;

		items[i].name = names[i];
		items[i].key = names[i];
		if (p->o->overlay_upper &&
		    fstatat(dirfd, names[i], &sb, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISCHR(sb.st_mode) && sb.st_rdev == makedev(0, 0) &&
		    asprintf(&items[i].owned_key, ".wh.%s", names[i]) > 0)
			items[i].key = items[i].owned_key;
	}
	qsort(items, n, sizeof(*items), item_cmp);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = pack_one(p, dirfd, rel_dir, items[i].name, err);
	for (size_t i = 0; i < n; i++)
		free(items[i].owned_key);
	free(items);
	image_strv_free(names, n);
	return rc;
}

int layer_pack_dir(const char *dir, struct image_blob_writer *w, const struct image_pack_opts *o,
		   struct progress *pr, char *diff_id, struct error **err)
{
	struct pack p = {.o = o, .w = w, .pr = pr};
	struct archive_entry *e = NULL;
	cleanup_close int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	char hex[SHA256_HEX_LEN + 1];
	int rc = -1;

	if (dfd < 0)
		return error_errno(err, "open '%s'", dir);
	p.buf = malloc(CHUNK);
	p.tar = archive_write_new();
	p.out = archive_write_new();
	if (!p.buf || !p.tar || !p.out) {
		error_errno(err, "pack '%s'", dir);
		goto out;
	}
	if (sha256_init(&p.th, err) < 0)
		goto out;
	archive_write_set_format_raw(p.out);
	archive_write_set_bytes_per_block(p.out, 0);
	switch (o->compression) {
	case IMAGE_ZSTD:
		archive_write_add_filter_zstd(p.out);
		archive_write_set_filter_option(p.out, "zstd", "compression-level", "3");
		break;
	case IMAGE_GZIP:
		archive_write_add_filter_gzip(p.out);
		archive_write_set_filter_option(p.out, "gzip", "timestamp", NULL);
		archive_write_set_filter_option(p.out, "gzip", "compression-level", "6");
		break;
	case IMAGE_UNCOMPRESSED:
		archive_write_add_filter_none(p.out);
		break;
	}
	if (archive_write_open2(p.out, &p, NULL, out_write_cb, NULL, NULL) != ARCHIVE_OK) {
		pack_fail(&p, p.out, dir, err);
		goto out;
	}
	e = archive_entry_new();
	archive_entry_set_pathname(e, "layer.tar");
	archive_entry_set_filetype(e, AE_IFREG);
	if (archive_write_header(p.out, e) != ARCHIVE_OK) {
		pack_fail(&p, p.out, dir, err);
		goto out;
	}
	archive_write_set_format_pax_restricted(p.tar);
	archive_write_set_bytes_per_block(p.tar, 0);
	if (archive_write_open2(p.tar, &p, NULL, tar_write_cb, NULL, NULL) != ARCHIVE_OK) {
		pack_fail(&p, p.tar, dir, err);
		goto out;
	}
	if (pack_tree(&p, dfd, "", err) < 0)
		goto out;
	if (archive_write_close(p.tar) != ARCHIVE_OK) {
		pack_fail(&p, p.tar, dir, err);
		goto out;
	}
	if (archive_write_close(p.out) != ARCHIVE_OK) {
		pack_fail(&p, p.out, dir, err);
		goto out;
	}
	sha256_final_hex(&p.th, hex);
	snprintf(diff_id, IMAGE_DIGEST_LEN + 1, "sha256:%s", hex);
	rc = 0;
out:
	archive_entry_free(e);
	if (p.tar)
		archive_write_free(p.tar);
	if (p.out)
		archive_write_free(p.out);
	sha256_release(&p.th);
	for (size_t i = 0; i < p.nlinks; i++)
		free(p.links[i].path);
	free(p.links);
	free(p.buf);
	error_free(p.cb_err);
	return rc;
}
