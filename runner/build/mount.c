/* runner/build/mount.c — RUN --mount as BuildKit reads it, for the three kinds that need no
 * daemon: type=cache (a directory kept across builds in $DATA/build-cache/mounts, never part
 * of a layer or a key), type=tmpfs, and type=bind of a context path (read-only; its content is
 * part of the step's key). secret, ssh, bind from another stage and writable binds are
 * refused with a clear error. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/fs.h"
#include "lib/parse.h"
#include "runner/build/copy.h"
#include "runner/build/internal.h"
#include "runner/build/view.h"
#include "runner/image/internal.h"

#define MAX_MOUNTS 16

void run_mounts_free(struct run_mount *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].target);
		free(m[i].source);
		free(m[i].id);
	}
	free(m);
}

static bool is_true(const char *v)
{
	return !v || !strcmp(v, "true") || !strcmp(v, "1");
}

/* Reads one --mount value (already substituted) into m. */
static int parse_one(struct builder *b, const struct df_instr *in, char *spec, struct run_mount *m,
		     struct error **err)
{
	const char *type = "bind", *target = NULL, *source = NULL, *id = NULL;
	char *save = NULL;
	bool rw = false;

	m->mode = 0755;
	for (char *kv = strtok_r(spec, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
		char *v = strchr(kv, '=');

		if (v)
			*v++ = '\0';
		if (!strcmp(kv, "type"))
			type = v ? v : "";
		else if (!strcmp(kv, "target") || !strcmp(kv, "dst") || !strcmp(kv, "destination"))
			target = v;
		else if (!strcmp(kv, "source") || !strcmp(kv, "src"))
			source = v;
		else if (!strcmp(kv, "id"))
			id = v;
		else if (!strcmp(kv, "ro") || !strcmp(kv, "readonly"))
			m->read_only = is_true(v);
		else if (!strcmp(kv, "rw") || !strcmp(kv, "readwrite"))
			rw = is_true(v);
		else if (!strcmp(kv, "sharing") || !strcmp(kv, "required"))
			continue; /* one host, no locking needed */
		else if (!strcmp(kv, "from"))
			return build_fail(b, in, err,
					  "RUN --mount from=: only the build context and "
					  "cache mounts are supported");
		else if ((!strcmp(kv, "mode") || !strcmp(kv, "uid") || !strcmp(kv, "gid")) && v) {
			char *end;
			unsigned long x = strtoul(v, &end, !strcmp(kv, "mode") ? 8 : 10);

			if (!*v || *end || x > (!strcmp(kv, "mode") ? 07777UL : 0xfffffffeUL))
				return build_fail(b, in, err, "RUN --mount %s='%s': not a number",
						  kv, v);
			if (!strcmp(kv, "mode"))
				m->mode = (mode_t)x;
			else if (!strcmp(kv, "uid"))
				m->uid = (uid_t)x;
			else
				m->gid = (gid_t)x;
		} else if (!strcmp(kv, "size") && v) {
			struct error *e = NULL;

			if (parse_size(v, &m->size, &e) < 0) {
				build_fail(b, in, err, "RUN --mount size: %s", e->msg);
				error_free(e);
				return -1;
			}
		} else {
			return build_fail(b, in, err, "RUN --mount: unknown option '%s'", kv);
		}
	}
	if (!strcmp(type, "cache"))
		m->type = RUN_MOUNT_CACHE;
	else if (!strcmp(type, "tmpfs"))
		m->type = RUN_MOUNT_TMPFS;
	else if (!strcmp(type, "bind"))
		m->type = RUN_MOUNT_BIND;
	else
		return build_fail(b, in, err,
				  "RUN --mount type=%s is not supported (bind, cache "
				  "or tmpfs)",
				  type);
	if (!target || !*target)
		return build_fail(b, in, err, "RUN --mount needs a target");
	{
		cleanup_free char *c = path_clean_rel(target);

		if (!c || !*c || asprintf(&m->target, "/%s", c) < 0) {
			m->target = NULL;
			return build_fail(b, in, err,
					  "RUN --mount target '%s' is not a directory "
					  "below /",
					  target);
		}
	}
	if (m->type == RUN_MOUNT_BIND) {
		if (rw)
			return build_fail(b, in, err,
					  "RUN --mount type=bind: only read-only binds "
					  "are supported");
		m->read_only = true;
		if (!(m->source = strdup(source ? source : "")))
			return error_errno(err, "RUN --mount");
	} else if (m->type == RUN_MOUNT_CACHE) {
		m->read_only = m->read_only && !rw;
		if (!(m->id = strdup(id ? id : m->target)))
			return error_errno(err, "RUN --mount");
	}
	return 0;
}

int run_mounts_parse(struct builder *b, struct stage *s, const struct df_instr *in,
		     struct run_mount **out, size_t *n, struct error **err)
{
	struct run_mount *m = calloc(MAX_MOUNTS, sizeof(*m));
	size_t k = 0;

	*out = NULL;
	*n = 0;
	if (!m)
		return error_errno(err, "RUN --mount");
	for (size_t i = 0; i < in->nflags; i++) {
		cleanup_free char *spec = NULL;

		if (strcmp(in->flags[i].name, "mount"))
			continue;
		if (k == MAX_MOUNTS) {
			run_mounts_free(m, k);
			return build_fail(b, in, err, "more than %d --mount", MAX_MOUNTS);
		}
		if (build_expand(b, s, in, in->flags[i].value ? in->flags[i].value : "", &spec,
				 err) < 0 ||
		    parse_one(b, in, spec, &m[k++], err) < 0) {
			run_mounts_free(m, k);
			return -1;
		}
	}
	*out = m;
	*n = k;
	return 0;
}

/* The context path of a bind: resolved inside the context, its host path and a hash of
 * what it holds (names, modes, bytes), for the key. */
static int prepare_bind(struct builder *b, struct run_mount *m, struct error **err)
{
	char *cl[1] = {(char *)b->o->context_dir};
	struct view ctx = {cl, 1, false, &b->ignore};
	struct copy_opts co = {.what = "RUN --mount", .from = "the build context"};
	char *srcs[1] = {m->source};
	struct sha256 h;
	struct vnode n;
	bool ex;

	if (view_resolve(&ctx, m->source, true, &n, &ex, err) < 0)
		return error_wrap(err, "RUN --mount source '%s'", m->source);
	if (!ex) {
		vnode_release(&n);
		return error_failed(err,
				    "RUN --mount source '%s': no such file or directory in "
				    "the build context",
				    m->source);
	}
	free(m->source);
	m->source = n.host ? strdup(n.host) : strdup(b->o->context_dir);
	vnode_release(&n);
	if (!m->source || sha256_init(&h, err) < 0)
		return m->source ? -1 : error_errno(err, "RUN --mount");
	srcs[0] = ".";
	{
		char *one[1] = {m->source};
		struct view v = {one, 1, false, NULL};

		if (copy_hash(&v, srcs, 1, &co, &h, err) < 0) {
			sha256_release(&h);
			return -1;
		}
	}
	sha256_final_hex(&h, m->hash);
	return 0;
}

/* The cache dir of an id: made (with the mount's mode and owner) when new. */
static int prepare_cache(struct builder *b, struct run_mount *m, struct error **err)
{
	char hex[SHA256_HEX_LEN + 1];
	cleanup_free char *dir = NULL;

	sha256_hex(m->id, strlen(m->id), hex);
	hex[32] = '\0';
	if (asprintf(&dir, "%s/mounts/%s", b->cache_dir, hex) < 0)
		return error_errno(err, "RUN --mount");
	if (mkdir(dir, m->mode) < 0) {
		if (errno != EEXIST && errno != ENOENT)
			return error_errno(err, "RUN --mount cache '%s'", m->id);
		if (errno == ENOENT) {
			cleanup_free char *parent = NULL;

			if (asprintf(&parent, "%s/mounts", b->cache_dir) < 0 ||
			    mkdir_p(parent, 0700, err) < 0 || mkdir(dir, m->mode) < 0)
				return error_errno(err, "RUN --mount cache '%s'", m->id);
			if (chown(dir, m->uid, m->gid) < 0 || chmod(dir, m->mode) < 0)
				return error_errno(err, "RUN --mount cache '%s'", m->id);
		}
	} else if (chown(dir, m->uid, m->gid) < 0 || chmod(dir, m->mode) < 0) {
		return error_errno(err, "RUN --mount cache '%s'", m->id);
	}
	free(m->source);
	m->source = steal_pointer(&dir);
	return 0;
}

int run_mounts_prepare(struct builder *b, struct run_mount *m, size_t n, struct error **err)
{
	for (size_t i = 0; i < n; i++) {
		if (m[i].type == RUN_MOUNT_BIND && prepare_bind(b, &m[i], err) < 0)
			return -1;
		if (m[i].type == RUN_MOUNT_CACHE && prepare_cache(b, &m[i], err) < 0)
			return -1;
	}
	return 0;
}
