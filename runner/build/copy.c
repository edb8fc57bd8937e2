/* runner/build/copy.c — COPY and ADD into a layer directory, and their cache key part. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <archive.h>
#include <archive_entry.h>

#include "lib/cleanup.h"
#include "lib/fs.h"
#include "runner/build/copy.h"
#include "runner/build/dockerfile.h"
#include "runner/image/internal.h"

#define MAX_MATCHES 100000
#define MAX_DEPTH 256

struct match {
	struct vnode node;
	char *name; /* the last component of the source as matched */
};

struct matches {
	struct match *v;
	size_t n;
};

static void matches_release(struct matches *m)
{
	for (size_t i = 0; i < m->n; i++) {
		vnode_release(&m->v[i].node);
		free(m->v[i].name);
	}
	free(m->v);
	memset(m, 0, sizeof(*m));
}

static int matches_add(struct matches *m, struct vnode *node, const char *name, struct error **err)
{
	struct match *v;

	if (m->n >= MAX_MATCHES)
		return error_usage(err, "more than %d sources", MAX_MATCHES);
	v = realloc(m->v, (m->n + 1) * sizeof(*v));
	if (!v)
		return error_errno(err, "copy");
	m->v = v;
	v[m->n].node = *node;
	memset(node, 0, sizeof(*node));
	if (!(v[m->n].name = strdup(name))) {
		vnode_release(&v[m->n].node);
		return error_errno(err, "copy");
	}
	m->n++;
	return 0;
}

static bool has_glob(const char *s)
{
	return strpbrk(s, "*?[") != NULL;
}

/* Expands the glob components of pattern below dir (already resolved). */
static int glob_walk(const struct view *v, const struct vnode *dir, char **comps, size_t nc,
		     struct matches *m, struct error **err)
{
	struct vnode child;
	bool ex;

	if (nc == 0)
		return 0;
	if (!has_glob(comps[0])) {
		if (view_child(v, dir, comps[0], &child, &ex, err) < 0)
			return -1;
		if (ex && nc == 1) {
			int rc = matches_add(m, &child, comps[0], err);

			vnode_release(&child);
			return rc;
		}
		if (ex && S_ISDIR(child.st.st_mode)) {
			int rc = glob_walk(v, &child, comps + 1, nc - 1, m, err);

			vnode_release(&child);
			return rc;
		}
		vnode_release(&child);
		return 0;
	}
	{
		char **names;
		size_t n;
		int rc = 0;

		if (view_list(v, dir, &names, &n, err) < 0)
			return -1;
		for (size_t i = 0; i < n && rc == 0; i++) {
			if (fnmatch(comps[0], names[i], 0) != 0)
				continue;
			if ((rc = view_child(v, dir, names[i], &child, &ex, err)) < 0 || !ex) {
				vnode_release(&child);
				continue;
			}
			if (nc == 1)
				rc = matches_add(m, &child, names[i], err);
			else if (S_ISDIR(child.st.st_mode))
				rc = glob_walk(v, &child, comps + 1, nc - 1, m, err);
			vnode_release(&child);
		}
		df_strv_free(names);
		return rc;
	}
}

/* Every source's matches, in order; each existing path resolved with links followed. */
static int match_sources(const struct view *v, char *const *sources, size_t n,
			 const struct copy_opts *o, struct matches *m, struct error **err)
{
	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < n; i++) {
		const char *s = sources[i];
		cleanup_free char *clean = NULL;
		size_t before = m->n;

		if (strstr(s, "://") || !strncmp(s, "git@", 4)) {
			matches_release(m);
			return error_usage(err, "%s '%s': remote sources are not supported",
					   o->what, s);
		}
		if (!(clean = path_clean_rel(s)))
			return error_errno(err, "copy");
		if (!strcmp(clean, "..") || !strncmp(clean, "../", 3)) {
			matches_release(m);
			return error_usage(err, "%s '%s': the path is outside %s", o->what, s,
					   o->from);
		}
		if (has_glob(clean)) {
			cleanup_free char *tmp = strdup(clean);
			char *comps[MAX_DEPTH], *save = NULL;
			size_t nc = 0;
			struct vnode root;

			if (!tmp)
				return error_errno(err, "copy");
			for (char *c = strtok_r(tmp, "/", &save); c && nc < MAX_DEPTH;
			     c = strtok_r(NULL, "/", &save))
				comps[nc++] = c;
			if (view_root(v, &root, err) < 0)
				return -1;
			if (glob_walk(v, &root, comps, nc, m, err) < 0) {
				vnode_release(&root);
				matches_release(m);
				return error_wrap(err, "%s '%s'", o->what, s);
			}
			vnode_release(&root);
			/* A matched link is copied as what it points to. */
			for (size_t k = before; k < m->n; k++) {
				struct vnode r;
				bool ex;

				if (!S_ISLNK(m->v[k].node.st.st_mode))
					continue;
				if (view_resolve(v, m->v[k].node.path, true, &r, &ex, err) < 0) {
					matches_release(m);
					return error_wrap(err, "%s '%s'", o->what, s);
				}
				if (ex) {
					vnode_release(&m->v[k].node);
					m->v[k].node = r;
				} else {
					vnode_release(&r);
				}
			}
		} else {
			struct vnode node;
			bool ex;
			const char *base = strrchr(clean, '/');

			if (view_resolve(v, clean, true, &node, &ex, err) < 0) {
				matches_release(m);
				return error_wrap(err, "%s '%s' in %s", o->what, s, o->from);
			}
			if (ex && matches_add(m, &node, base ? base + 1 : clean, err) < 0) {
				vnode_release(&node);
				matches_release(m);
				return -1;
			}
			vnode_release(&node);
		}
		if (m->n == before) {
			matches_release(m);
			return error_failed(
			    err, "%s '%s': no such file or directory in %s%s", o->what, s, o->from,
			    v->ignore && v->ignore->n ? " (or excluded by .dockerignore)" : "");
		}
	}
	return 0;
}

/* --- hashing -------------------------------------------------------------------------------- */

static void hash_str(struct sha256 *h, const char *tag, const char *s)
{
	sha256_update(h, tag, strlen(tag) + 1);
	sha256_update(h, s, strlen(s) + 1);
}

/* Owners count as they will be in the layer: the source's only when they are kept. */
static int hash_node(const struct view *v, const struct vnode *n, const char *rel, bool keep_owner,
		     int depth, struct sha256 *h, struct error **err)
{
	char meta[128];

	if (depth > MAX_DEPTH)
		return error_usage(err, "'%s': directories nested too deeply", n->path);
	snprintf(meta, sizeof(meta), "%o %u %u", (unsigned)n->st.st_mode,
		 keep_owner ? (unsigned)n->st.st_uid : 0, keep_owner ? (unsigned)n->st.st_gid : 0);
	hash_str(h, "name", rel);
	hash_str(h, "meta", n->excluded ? "excluded" : meta);
	if (S_ISREG(n->st.st_mode)) {
		char hex[SHA256_HEX_LEN + 1];

		if (sha256_file_hex(n->host, hex, err) < 0)
			return -1;
		hash_str(h, "data", hex);
	} else if (S_ISLNK(n->st.st_mode)) {
		char t[PATH_MAX + 1];
		ssize_t l = readlink(n->host, t, PATH_MAX);

		if (l < 0)
			return error_errno(err, "readlink '%s'", n->path);
		t[l] = '\0';
		hash_str(h, "link", t);
	} else if (S_ISCHR(n->st.st_mode) || S_ISBLK(n->st.st_mode)) {
		snprintf(meta, sizeof(meta), "%u:%u", major(n->st.st_rdev), minor(n->st.st_rdev));
		hash_str(h, "dev", meta);
	} else if (S_ISDIR(n->st.st_mode)) {
		char **names;
		size_t cnt;
		int rc = 0;

		if (view_list(v, n, &names, &cnt, err) < 0)
			return -1;
		for (size_t i = 0; i < cnt && rc == 0; i++) {
			struct vnode c;
			bool ex;
			cleanup_free char *crel = NULL;

			if ((rc = view_child(v, n, names[i], &c, &ex, err)) < 0)
				break;
			if (asprintf(&crel, "%s/%s", rel, names[i]) < 0) {
				crel = NULL;
				rc = error_errno(err, "hash");
			} else if (ex) {
				rc = hash_node(v, &c, crel, keep_owner, depth + 1, h, err);
			}
			vnode_release(&c);
		}
		df_strv_free(names);
		return rc;
	}
	return 0;
}

int copy_hash(const struct view *src, char *const *sources, size_t n, const struct copy_opts *o,
	      struct sha256 *h, struct error **err)
{
	struct matches m;
	int rc = 0;

	if (match_sources(src, sources, n, o, &m, err) < 0)
		return -1;
	for (size_t i = 0; i < m.n && rc == 0; i++) {
		hash_str(h, "source", m.v[i].node.path);
		rc = hash_node(src, &m.v[i].node, m.v[i].name, o->keep_owner, 0, h, err);
	}
	matches_release(&m);
	return rc;
}

/* --- chown ---------------------------------------------------------------------------------- */

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* Finds name in an /etc/passwd or /etc/group of the root: field 3 (the id). */
static int lookup_id(const struct view *rootfs, const char *file, const char *name, long *id,
		     struct error **err)
{
	struct vnode n;
	bool ex;
	cleanup_free char *data = NULL;
	size_t len;

	if (view_resolve(rootfs, file, true, &n, &ex, err) < 0)
		return -1;
	if (!ex || !S_ISREG(n.st.st_mode)) {
		vnode_release(&n);
		return error_usage(err, "no '%s' in the stage to look up '%s'", file, name);
	}
	if (read_file(n.host, 16u << 20, &data, &len, err) < 0) {
		vnode_release(&n);
		return -1;
	}
	vnode_release(&n);
	for (char *line = data, *next; line; line = next) {
		char *f[4] = {NULL};
		char *p = line;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		for (int k = 0; k < 4 && p; k++) {
			f[k] = p;
			p = strchr(p, ':');
			if (p)
				*p++ = '\0';
		}
		if (f[0] && f[2] && !strcmp(f[0], name) && all_digits(f[2])) {
			*id = strtol(f[2], NULL, 10);
			return 0;
		}
	}
	return error_usage(err, "unknown %s '%s' in the stage's %s",
			   strstr(file, "group") ? "group" : "user", name, file);
}

int copy_parse_chown(const char *spec, const struct view *rootfs, uid_t *uid, gid_t *gid,
		     struct error **err)
{
	cleanup_free char *s = strdup(spec);
	char *g;
	long u, gg;

	if (!s)
		return error_errno(err, "chown");
	g = strchr(s, ':');
	if (g)
		*g++ = '\0';
	if (!*s || (g && !*g))
		return error_usage(err, "bad --chown '%s'", spec);
	if (all_digits(s)) {
		if (strlen(s) > 10 || (u = strtol(s, NULL, 10)) > 0xfffffffeL)
			return error_usage(err, "bad --chown '%s': uid out of range", spec);
	} else if (lookup_id(rootfs, "/etc/passwd", s, &u, err) < 0) {
		return -1;
	}
	gg = u;
	if (g) {
		if (all_digits(g)) {
			if (strlen(g) > 10 || (gg = strtol(g, NULL, 10)) > 0xfffffffeL)
				return error_usage(err, "bad --chown '%s': gid out of range", spec);
		} else if (lookup_id(rootfs, "/etc/group", g, &gg, err) < 0) {
			return -1;
		}
	}
	*uid = (uid_t)u;
	*gid = (gid_t)gg;
	return 0;
}

/* --- writing -------------------------------------------------------------------------------- */

struct dirtime {
	char *path;
	struct timespec mtime;
};

struct linked {
	dev_t dev;
	ino_t ino;
	char *dst;
};

struct writer {
	const struct copy_opts *o;
	const struct view *src;
	struct dirtime *dirs; /* directory mtimes, set last (children change them) */
	size_t ndirs;
	struct linked *links; /* files with several names, copied once and linked after */
	size_t nlinks;
	char buf[1 << 16];
};

/* A file with other names already copied by this COPY becomes a hard link to it, as BuildKit
 * keeps them. Returns 1 when linked, 0 when it is to be copied (and is remembered). */
static int link_copied(struct writer *w, const struct stat *st, const char *dst, struct error **err)
{
	struct linked *l;

	if (st->st_nlink < 2)
		return 0;
	for (size_t i = 0; i < w->nlinks; i++) {
		if (w->links[i].dev == st->st_dev && w->links[i].ino == st->st_ino) {
			if (link(w->links[i].dst, dst) < 0)
				return error_errno(err, "link '%s'", dst);
			return 1;
		}
	}
	if (w->nlinks >= 100000)
		return 0;
	l = realloc(w->links, (w->nlinks + 1) * sizeof(*l));
	if (!l)
		return error_errno(err, "copy");
	w->links = l;
	l[w->nlinks].dev = st->st_dev;
	l[w->nlinks].ino = st->st_ino;
	if (!(l[w->nlinks].dst = strdup(dst)))
		return error_errno(err, "copy");
	w->nlinks++;
	return 0;
}

static int remember_dir(struct writer *w, const char *path, struct timespec mtime,
			struct error **err)
{
	struct dirtime *d = realloc(w->dirs, (w->ndirs + 1) * sizeof(*d));

	if (!d)
		return error_errno(err, "copy");
	w->dirs = d;
	if (!(d[w->ndirs].path = strdup(path)))
		return error_errno(err, "copy");
	d[w->ndirs++].mtime = mtime;
	return 0;
}

static void owner_of(const struct writer *w, const struct stat *st, uid_t *u, gid_t *g)
{
	*u = w->o->chown ? w->o->uid : w->o->keep_owner ? st->st_uid : 0;
	*g = w->o->chown ? w->o->gid : w->o->keep_owner ? st->st_gid : 0;
}

static mode_t mode_of(const struct writer *w, const struct stat *st)
{
	return w->o->chmod ? w->o->mode : st->st_mode & 07777;
}

/* Replaces whatever dst is with a new entry (an earlier source of this copy may be there). */
static int clear_dst(const char *dst, bool want_dir, struct error **err)
{
	struct stat st;

	if (lstat(dst, &st) < 0)
		return errno == ENOENT ? 0 : error_errno(err, "'%s'", dst);
	if (want_dir && S_ISDIR(st.st_mode))
		return 0;
	if (S_ISDIR(st.st_mode))
		return rm_rf(dst, err);
	if (unlink(dst) < 0)
		return error_errno(err, "remove '%s'", dst);
	return 0;
}

static int copy_file(struct writer *w, const struct vnode *n, const char *dst, struct error **err)
{
	cleanup_close int in = open(n->host, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	cleanup_close int out = -1;
	uid_t u;
	gid_t g;
	struct timespec ts[2];

	if (in < 0)
		return error_errno(err, "open '%s'", n->path);
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (out < 0)
		return error_errno(err, "create '%s'", dst);
	for (;;) {
		ssize_t r = copy_file_range(in, NULL, out, NULL, 1u << 30, 0);

		if (r == 0)
			break;
		if (r < 0) {
			if (errno != EXDEV && errno != ENOSYS && errno != EINVAL &&
			    errno != EOPNOTSUPP)
				return error_errno(err, "copy '%s'", n->path);
			/* Fall back to read/write for file systems that refuse. */
			for (;;) {
				ssize_t k = read(in, w->buf, sizeof(w->buf));

				if (k == 0)
					break;
				if (k < 0 || write(out, w->buf, (size_t)k) != k)
					return error_errno(err, "copy '%s'", n->path);
			}
			break;
		}
	}
	owner_of(w, &n->st, &u, &g);
	if (fchown(out, u, g) < 0 || fchmod(out, mode_of(w, &n->st)) < 0)
		return error_errno(err, "set owner and mode of '%s'", dst);
	ts[0] = n->st.st_atim;
	ts[1] = n->st.st_mtim;
	if (futimens(out, ts) < 0)
		return error_errno(err, "set times of '%s'", dst);
	return 0;
}

static int copy_node(struct writer *w, const struct vnode *n, const char *dst, int depth,
		     struct error **err);

static int copy_children(struct writer *w, const struct vnode *n, const char *dst, int depth,
			 struct error **err)
{
	char **names;
	size_t cnt;
	int rc = 0;

	if (depth > MAX_DEPTH)
		return error_usage(err, "'%s': directories nested too deeply", n->path);
	if (view_list(w->src, n, &names, &cnt, err) < 0)
		return -1;
	for (size_t i = 0; i < cnt && rc == 0; i++) {
		struct vnode c;
		bool ex;
		cleanup_free char *cdst = path_join(dst, names[i]);

		if (!cdst) {
			rc = error_errno(err, "copy");
			break;
		}
		if ((rc = view_child(w->src, n, names[i], &c, &ex, err)) < 0)
			break;
		if (ex)
			rc = copy_node(w, &c, cdst, depth + 1, err);
		vnode_release(&c);
	}
	df_strv_free(names);
	return rc;
}

static int copy_node(struct writer *w, const struct vnode *n, const char *dst, int depth,
		     struct error **err)
{
	const struct stat *st = &n->st;
	uid_t u;
	gid_t g;

	if (S_ISSOCK(st->st_mode))
		return 0; /* sockets are not copied, as in Docker */
	if (clear_dst(dst, S_ISDIR(st->st_mode), err) < 0)
		return -1;
	owner_of(w, st, &u, &g);
	if (S_ISREG(st->st_mode)) {
		int linked = link_copied(w, st, dst, err);

		return linked != 0 ? (linked < 0 ? -1 : 0) : copy_file(w, n, dst, err);
	}
	if (S_ISDIR(st->st_mode)) {
		if (mkdir(dst, 0700) < 0 && errno != EEXIST)
			return error_errno(err, "create '%s'", dst);
		if (copy_children(w, n, dst, depth, err) < 0)
			return -1;
		if (n->excluded) {
			/* Entered for exceptions only: keep it only when something was copied. */
			if (rmdir(dst) == 0 || errno != ENOTEMPTY)
				return 0;
		}
		if (lchown(dst, u, g) < 0 || chmod(dst, mode_of(w, st)) < 0)
			return error_errno(err, "set owner and mode of '%s'", dst);
		return remember_dir(w, dst, st->st_mtim, err);
	}
	if (S_ISLNK(st->st_mode)) {
		char t[PATH_MAX + 1];
		ssize_t l = readlink(n->host, t, PATH_MAX);
		struct timespec ts[2] = {st->st_atim, st->st_mtim};

		if (l < 0)
			return error_errno(err, "readlink '%s'", n->path);
		t[l] = '\0';
		if (symlink(t, dst) < 0 || lchown(dst, u, g) < 0 ||
		    utimensat(AT_FDCWD, dst, ts, AT_SYMLINK_NOFOLLOW) < 0)
			return error_errno(err, "create link '%s'", dst);
		return 0;
	}
	/* fifos and device nodes */
	{
		struct timespec ts[2] = {st->st_atim, st->st_mtim};

		if (mknod(dst, (st->st_mode & S_IFMT) | 0600, st->st_rdev) < 0 ||
		    lchown(dst, u, g) < 0 || chmod(dst, mode_of(w, st)) < 0 ||
		    utimensat(AT_FDCWD, dst, ts, AT_SYMLINK_NOFOLLOW) < 0)
			return error_errno(err, "create '%s'", dst);
	}
	return 0;
}

/* Creates layer_dir/rel and its parents; each takes its metadata from rootfs when it is a
 * directory there, else 0755 and the copy's owner. */
static int make_dest_dirs(struct writer *w, const struct view *rootfs, const char *layer_dir,
			  const char *rel, struct error **err)
{
	cleanup_free char *tmp = strdup(rel), *host = strdup(layer_dir), *sofar = strdup("");
	char *save = NULL;

	if (!tmp || !host || !sofar)
		return error_errno(err, "copy");
	for (char *c = strtok_r(tmp, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		char *nh = path_join(host, c), *ns = NULL;
		struct vnode n;
		bool ex;
		struct stat st = {0};

		if (!nh || asprintf(&ns, "%s%s%s", sofar, *sofar ? "/" : "", c) < 0) {
			free(nh);
			return error_errno(err, "copy");
		}
		free(host);
		host = nh;
		free(sofar);
		sofar = ns;
		if (view_resolve(rootfs, sofar, false, &n, &ex, err) < 0)
			return -1;
		if (ex && !S_ISDIR(n.st.st_mode)) {
			vnode_release(&n);
			return error_failed(err, "%s: '/%s' is not a directory in the stage",
					    w->o->what, sofar);
		}
		if (ex) {
			st = n.st;
		} else {
			st.st_mode = S_IFDIR | 0755;
			st.st_uid = w->o->chown ? w->o->uid : 0;
			st.st_gid = w->o->chown ? w->o->gid : 0;
			st.st_mtim.tv_sec = w->o->dir_mtime;
		}
		vnode_release(&n);
		if (mkdir(host, 0700) < 0) {
			if (errno == EEXIST)
				continue;
			return error_errno(err, "create '%s'", host);
		}
		if (lchown(host, st.st_uid, st.st_gid) < 0 || chmod(host, st.st_mode & 07777) < 0 ||
		    remember_dir(w, host, st.st_mtim, err) < 0)
			return error_errno(err, "set owner and mode of '%s'", host);
	}
	return 0;
}

static bool tar_header(const unsigned char *b, ssize_t n)
{
	return n == 512 && !memcmp(b + 257, "ustar", 5);
}

/* Decompresses fd with libarchive's raw reader: the first 512 bytes into head (*got), or,
 * when out >= 0, everything into out (at most max bytes). */
static int decompress(int fd, unsigned char *head, ssize_t *got, int out, uint64_t max,
		      const char *what, struct error **err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	char buf[65536];
	uint64_t total = 0;
	la_ssize_t k;
	int rc = -1;

	if (!a)
		return error_errno(err, "'%s'", what);
	archive_read_support_filter_all(a);
	archive_read_support_format_raw(a);
	if (lseek(fd, 0, SEEK_SET) < 0 || archive_read_open_fd(a, fd, sizeof(buf)) != ARCHIVE_OK ||
	    archive_read_next_header(a, &e) != ARCHIVE_OK) {
		error_failed(err, "'%s': %s", what, archive_error_string(a));
		goto out;
	}
	if (out < 0) {
		*got = 0;
		while (*got < 512 &&
		       (k = archive_read_data(a, head + *got, (size_t)(512 - *got))) > 0)
			*got += k;
		rc = 0;
		goto out;
	}
	while ((k = archive_read_data(a, buf, sizeof(buf))) > 0) {
		total += (uint64_t)k;
		if (total > max) {
			error_failed(err, "'%s': more than %llu bytes once decompressed", what,
				     (unsigned long long)max);
			goto out;
		}
		if (write(out, buf, (size_t)k) != k) {
			error_errno(err, "'%s': write", what);
			goto out;
		}
	}
	if (k < 0)
		error_failed(err, "'%s': %s", what, archive_error_string(a));
	else
		rc = 0;
out:
	archive_read_free(a);
	return rc;
}

/* ADD's test: a local tar, plain or compressed (gzip, zstd, bzip2, xz), is unpacked; any
 * other file is copied as it is (also a compressed one that holds no tar), as Docker does.
 * Returns 1 with *tar an fd of a tar the layer reader takes (gzip and zstd as they are,
 * bzip2 and xz decompressed into an unlinked temp file), 0 for a plain copy, -1 on error. */
static int open_tar(const struct vnode *n, const char *tmp_dir, int *tar, struct error **err)
{
	cleanup_close int fd = open(n->host, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	cleanup_close int tmp = -1;
	unsigned char b[512];
	ssize_t got;
	bool direct;
	struct layer_limits lim;

	*tar = -1;
	if (fd < 0)
		return error_errno(err, "open '%s'", n->path);
	got = pread(fd, b, sizeof(b), 0);
	if (tar_header(b, got)) {
		*tar = steal_fd(&fd);
		return 1;
	}
	direct = (got >= 2 && b[0] == 0x1f && b[1] == 0x8b) ||
		 (got >= 4 && !memcmp(b, "\x28\xb5\x2f\xfd", 4));
	if (!direct && !(got >= 3 && !memcmp(b, "BZh", 3)) &&
	    !(got >= 6 && !memcmp(b,
				  "\xfd"
				  "7zXZ\0",
				  6)))
		return 0;
	if (decompress(fd, b, &got, -1, 0, n->path, err) < 0 || !tar_header(b, got)) {
		error_clear(err);
		return 0; /* compressed, but not a tar: copied as it is */
	}
	if (direct) {
		if (lseek(fd, 0, SEEK_SET) < 0)
			return error_errno(err, "'%s'", n->path);
		*tar = steal_fd(&fd);
		return 1;
	}
	layer_limits_default(&lim);
	tmp = open(tmp_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (tmp < 0)
		return error_errno(err, "ADD: temp file in '%s'", tmp_dir);
	if (decompress(fd, b, &got, tmp, lim.max_bytes, n->path, err) < 0)
		return -1;
	if (lseek(tmp, 0, SEEK_SET) < 0)
		return error_errno(err, "'%s'", n->path);
	*tar = steal_fd(&tmp);
	return 1;
}

static int add_archive(struct writer *w, const struct vnode *n, int fd, const char *dst,
		       struct error **err)
{
	cleanup_free char *tmp = NULL;
	struct layer_limits lim;
	struct layer_unpack_result res;
	struct copy_opts o = *w->o;
	const struct copy_opts *saved_o = w->o;
	const struct view *saved_src = w->src;
	char *layers[1];
	struct view v = {layers, 1, true, NULL};
	struct vnode root;
	int rc;

	if (asprintf(&tmp, "%s/add-XXXXXX", w->o->tmp_dir) < 0 || !mkdtemp(tmp))
		return error_errno(err, "ADD: temp dir");
	layers[0] = tmp;
	layer_limits_default(&lim);
	rc = layer_unpack_fd(fd, tmp, n->path, &lim, NULL, &res, err);
	if (rc == 0)
		rc = view_root(&v, &root, err);
	if (rc == 0) {
		o.keep_owner = true; /* an archive's owners are kept, as Docker does */
		w->o = &o;
		w->src = &v;
		rc = copy_children(w, &root, dst, 0, err);
		w->o = saved_o;
		w->src = saved_src;
		vnode_release(&root);
	}
	rm_rf(tmp, NULL);
	return rc < 0 ? error_wrap(err, "ADD: unpack '%s'", n->path) : 0;
}

static void writer_release(struct writer *w, bool apply)
{
	for (size_t i = w->ndirs; i-- > 0;) {
		struct timespec ts[2] = {w->dirs[i].mtime, w->dirs[i].mtime};

		if (apply)
			utimensat(AT_FDCWD, w->dirs[i].path, ts, AT_SYMLINK_NOFOLLOW);
		free(w->dirs[i].path);
	}
	free(w->dirs);
	for (size_t i = 0; i < w->nlinks; i++)
		free(w->links[i].dst);
	free(w->links);
}

int copy_make_dirs(const struct view *rootfs, const char *layer_dir, const char *rel,
		   const struct copy_opts *o, struct error **err)
{
	struct writer *w = calloc(1, sizeof(*w));
	int rc;

	if (!w)
		return error_errno(err, "%s", o->what);
	w->o = o;
	rc = make_dest_dirs(w, rootfs, layer_dir, rel, err);
	writer_release(w, rc == 0);
	free(w);
	return rc;
}

int copy_to_layer(const struct view *src, char *const *sources, size_t n, const char *dest,
		  const char *workdir, const struct view *rootfs, const char *layer_dir,
		  const struct copy_opts *o, struct error **err)
{
	struct matches m;
	struct writer *w = NULL;
	cleanup_free char *abs = NULL, *dir_rel = NULL, *dir_host = NULL;
	bool into_dir, ex;
	struct vnode dn;
	size_t dl = strlen(dest);
	int rc = -1;

	if (match_sources(src, sources, n, o, &m, err) < 0)
		return -1;
	if (!(w = calloc(1, sizeof(*w)))) {
		matches_release(&m);
		return error_errno(err, "copy");
	}
	w->o = o;
	w->src = src;
	if (dest[0] == '/')
		abs = strdup(dest);
	else if (asprintf(&abs, "%s/%s", workdir && *workdir ? workdir : "/", dest) < 0)
		abs = NULL;
	if (!abs) {
		error_errno(err, "copy");
		goto out;
	}
	into_dir = (dl && dest[dl - 1] == '/') || (dl >= 2 && !strcmp(dest + dl - 2, "/.")) ||
		   !strcmp(dest, ".") || m.n > 1;
	if (m.n > 1 &&
	    !(dl && (dest[dl - 1] == '/' || !strcmp(dest + (dl > 1 ? dl - 2 : 0), "/.") ||
		     !strcmp(dest, ".")))) {
		error_usage(err,
			    "%s with more than one source file needs a destination that "
			    "is a directory and ends with a '/', not '%s'",
			    o->what, dest);
		goto out;
	}
	/* The destination as the stage sees it: links followed, missing parts appended. */
	if (view_resolve(rootfs, abs, true, &dn, &ex, err) < 0) {
		error_wrap(err, "%s: destination '%s'", o->what, dest);
		goto out;
	}
	if (ex && S_ISDIR(dn.st.st_mode))
		into_dir = true;
	dir_rel = strdup(dn.path);
	vnode_release(&dn);
	if (!dir_rel) {
		error_errno(err, "copy");
		goto out;
	}
	for (size_t i = 0; i < m.n; i++) {
		const struct vnode *sn = &m.v[i].node;
		bool is_dir = S_ISDIR(sn->st.st_mode);
		cleanup_close int tar = -1;
		int archive = 0;
		cleanup_free char *target_host = NULL, *parent_rel = NULL;

		if (o->unpack_archives && S_ISREG(sn->st.st_mode) &&
		    (archive = open_tar(sn, o->tmp_dir, &tar, err)) < 0)
			goto out;
		if (is_dir || archive || into_dir) {
			if (make_dest_dirs(w, rootfs, layer_dir, dir_rel, err) < 0)
				goto out;
			dir_host = dir_host ? dir_host : path_join(layer_dir, dir_rel);
			if (!dir_host) {
				error_errno(err, "copy");
				goto out;
			}
			if (is_dir) {
				if (o->chmod && chmod(dir_host, o->mode) < 0) {
					error_errno(err, "chmod '%s'", dest);
					goto out;
				}
				rc = copy_children(w, sn, dir_host, 0, err);
			} else if (archive) {
				rc = add_archive(w, sn, tar, dir_host, err);
			} else {
				target_host = path_join(dir_host, m.v[i].name);
				rc = target_host ? copy_node(w, sn, target_host, 0, err)
						 : error_errno(err, "copy");
			}
		} else {
			/* A file under a new name: its parent directory comes first. */
			char *slash;

			parent_rel = strdup(dir_rel);
			if (!parent_rel) {
				error_errno(err, "copy");
				goto out;
			}
			slash = strrchr(parent_rel, '/');
			if (slash)
				*slash = '\0';
			else
				parent_rel[0] = '\0';
			if (!*dir_rel) {
				error_usage(err, "%s: cannot copy a file to '/'", o->what);
				goto out;
			}
			if (make_dest_dirs(w, rootfs, layer_dir, parent_rel, err) < 0)
				goto out;
			target_host = path_join(layer_dir, dir_rel);
			rc = target_host ? copy_node(w, sn, target_host, 0, err)
					 : error_errno(err, "copy");
		}
		if (rc < 0)
			goto out;
		rc = -1;
	}
	rc = 0;
out:
	writer_release(w, rc == 0);
	free(w);
	matches_release(&m);
	return rc;
}
