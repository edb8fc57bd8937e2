/* runner/build/run.c — RUN: the command in a slipway container over the stage's layers, with
 * the build's network and limits; the container's upper directory becomes the new layer
 * (overlay whiteouts turned into OCI ones when it is packed). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/cleanup.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/parse.h"
#include "runner/build/internal.h"
#include "runner/build/view.h"

#define OUTPUT_TAIL 4096

void run_step_release(struct run_step *r)
{
	df_strv_free(r->argv);
	kv_release(&r->env);
	run_mounts_free(r->mounts, r->nmounts);
	free(r->desc);
	memset(r, 0, sizeof(*r));
}

int run_prepare(struct builder *b, struct stage *s, const struct df_instr *in, struct run_step *r,
		struct error **err)
{
	struct buf d = BUF_INIT(1 << 20);
	size_t n = 0;

	memset(r, 0, sizeof(*r));
	if (df_flag(in, "security"))
		return build_fail(b, in, err, "RUN --security is not supported");
	if (run_mounts_parse(b, s, in, &r->mounts, &r->nmounts, err) < 0 ||
	    run_mounts_prepare(b, r->mounts, r->nmounts, err) < 0)
		return error_wrap(err, "%s:%d", b->df_name, in->line);
	if (df_flag(in, "network")) {
		const char *nw = df_flag(in, "network");

		if (!strcmp(nw, "host") && !b->o->network_host)
			return build_fail(b, in, err,
					  "RUN --network=host needs --network host for "
					  "the build");
		if (strcmp(nw, "host") && strcmp(nw, "none") && strcmp(nw, "default"))
			return build_fail(b, in, err, "RUN --network='%s': none, default or host",
					  nw);
		r->network_none = !strcmp(nw, "none");
	}
	if (in->json) {
		if (in->nargs == 0)
			return build_fail(b, in, err, "RUN [] has no command");
		r->argv = calloc(in->nargs + 1, sizeof(char *));
		for (size_t i = 0; r->argv && i < in->nargs; i++)
			if (!(r->argv[n++] = strdup(in->args[i])))
				break;
	} else {
		size_t ns = 0;

		while (s->shell && s->shell[ns])
			ns++;
		r->argv = calloc(ns + 4, sizeof(char *));
		if (r->argv && !s->shell) {
			r->argv[n++] = strdup("/bin/sh");
			r->argv[n++] = strdup("-c");
		}
		for (size_t i = 0; r->argv && i < ns; i++)
			r->argv[n++] = strdup(s->shell[i]);
		if (r->argv)
			r->argv[n++] = strdup(in->rest);
	}
	for (size_t i = 0; r->argv && i < n; i++)
		if (!r->argv[i])
			return error_errno(err, "RUN");
	if (!r->argv)
		return error_errno(err, "RUN");
	/* The environment: ENV, then the ARGs ENV does not override. */
	for (size_t i = 0; i < s->env.n; i++)
		if (kv_set_pair(&r->env, s->env.v[i], err) < 0)
			return -1;
	for (size_t i = 0; i < s->args.n; i++) {
		cleanup_free char *k = strdup(s->args.v[i]);

		if (!k)
			return error_errno(err, "RUN");
		*strchr(k, '=') = '\0';
		if (!kv_get(&s->env, k) && kv_set_pair(&r->env, s->args.v[i], err) < 0)
			return -1;
	}
	r->user = json_get_str(stage_exec_config(s), "User", NULL);
	r->workdir = json_get_str(stage_exec_config(s), "WorkingDir", NULL);
	buf_puts(&d, "RUN", NULL);
	for (size_t i = 0; i < in->nflags; i++)
		if (!strcmp(in->flags[i].name, "mount"))
			buf_printf(&d, NULL, " --mount=%s",
				   in->flags[i].value ? in->flags[i].value : "");
	if (df_flag(in, "network"))
		buf_printf(&d, NULL, " --network=%s", df_flag(in, "network"));
	for (size_t i = 0; i < n; i++)
		buf_printf(&d, NULL, " %s", r->argv[i]);
	r->desc = buf_steal(&d);
	return r->desc ? 0 : error_errno(err, "RUN");
}

void run_key(struct stage *s, const struct run_step *r, char key[SHA256_HEX_LEN + 1],
	     const char *parent)
{
	struct buf e = BUF_INIT(16u << 20);

	for (size_t i = 0; i < r->env.n; i++)
		buf_printf(&e, NULL, "%s\n", r->env.v[i]);
	for (size_t i = 0; i < r->nmounts; i++) /* what a bind shows is an input of the step */
		if (r->mounts[i].type == RUN_MOUNT_BIND)
			buf_printf(&e, NULL, "bind %s %s\n", r->mounts[i].target,
				   r->mounts[i].hash);
	cache_key(key, parent, r->desc, buf_str(&e), r->user ? r->user : "",
		  r->workdir ? r->workdir : "", NULL);
	buf_release(&e);
}

static bool dir_empty(const char *dir)
{
	cleanup_closedir DIR *d = opendir(dir);
	struct dirent *de;

	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			return false;
	return true;
}

/* Removes rel from the upper dir when the engine only made it as a mount point (for /proc,
 * /sys, /dev, the files it binds into /etc, the --mount targets): an empty file or directory
 * the stage lacks, or an unchanged copy-up of a directory it has; then its parents the same
 * way. Not changes of the command, so not part of the layer, as in Docker. */
static void drop_made(const struct view *root, const char *upper, const char *rel, bool file)
{
	cleanup_free char *r = strdup(rel);

	while (r && *r) {
		cleanup_free char *p = path_join(upper, r);
		struct vnode n;
		struct stat st;
		bool ex = false, gone = false;
		char v[2], *slash;

		if (!p || lstat(p, &st) < 0)
			return;
		if (view_resolve(root, r, false, &n, &ex, NULL) < 0)
			return;
		if (file)
			gone = S_ISREG(st.st_mode) && st.st_size == 0 && !ex && unlink(p) == 0;
		else if (S_ISDIR(st.st_mode) && dir_empty(p) &&
			 getxattr(p, "trusted.overlay.opaque", v, sizeof(v)) < 0 &&
			 (!ex || (S_ISDIR(n.st.st_mode) && n.st.st_mode == st.st_mode &&
				  n.st.st_uid == st.st_uid && n.st.st_gid == st.st_gid)))
			gone = rmdir(p) == 0;
		vnode_release(&n);
		if (!gone)
			return;
		file = false;
		slash = strrchr(r, '/');
		if (!slash)
			return;
		*slash = '\0';
	}
}

static void drop_mount_points(struct stage *s, const struct run_step *r, const char *upper)
{
	static const char *const files[] = {"etc/hosts", "etc/hostname", "etc/resolv.conf"};
	static const char *const dirs[] = {"proc", "sys", "dev"};
	struct view root = {s->lowers, s->nlowers, true, NULL};

	for (size_t i = 0; i < r->nmounts; i++) {
		struct stat st;
		bool file = r->mounts[i].type == RUN_MOUNT_BIND &&
			    stat(r->mounts[i].source, &st) == 0 && !S_ISDIR(st.st_mode);

		drop_made(&root, upper, r->mounts[i].target + 1, file);
	}
	for (size_t i = 0; i < ARRAY_SIZE(files); i++)
		drop_made(&root, upper, files[i], true);
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++)
		drop_made(&root, upper, dirs[i], false);
}

/* The last bytes of the captured output, for the error message. */
static char *output_tail(int fd)
{
	char *buf = calloc(1, OUTPUT_TAIL + 1);
	off_t end = lseek(fd, 0, SEEK_END);
	ssize_t n;

	if (!buf || end < 0)
		return buf;
	if (lseek(fd, end > OUTPUT_TAIL ? end - OUTPUT_TAIL : 0, SEEK_SET) < 0)
		return buf;
	n = read(fd, buf, OUTPUT_TAIL);
	buf[n > 0 ? n : 0] = '\0';
	return buf;
}

static int run_failed(struct builder *b, const struct df_instr *in, const struct run_step *r,
		      const struct container_result *res, int out_fd, struct error **err)
{
	cleanup_free char *tail = out_fd >= 0 ? output_tail(out_fd) : NULL;
	char why[160], lim[32];

	if (res->oom_killed) {
		format_size(res->memory_limit, lim, sizeof(lim));
		snprintf(why, sizeof(why), "killed: out of memory (limit %s), exit status %d", lim,
			 res->exit_code);
	} else if (res->exec_errno) {
		snprintf(why, sizeof(why), "cannot run '%s': %s (exit status %d)", r->argv[0],
			 strerror(res->exec_errno), res->exit_code);
	} else if (res->signal) {
		snprintf(why, sizeof(why), "killed by signal %d", res->signal);
	} else {
		snprintf(why, sizeof(why), "exit status %d", res->exit_code);
	}
	return error_failed(err, "%s:%d: %s: %s%s%s", b->df_name, in->line, r->desc, why,
			    tail && *tail ? "\n" : "", tail ? tail : "");
}

int run_step(struct builder *b, struct stage *s, const struct df_instr *in, struct run_step *r,
	     struct image_layer *l, struct error **err)
{
	cleanup_free char *upper = NULL, *empty = NULL, *outpath = NULL;
	cleanup_close int out_fd = -1;
	struct container_spec spec = {0};
	struct container_result res = {0};
	struct container *c = NULL;
	char *empty_lower[1];
	cleanup_free struct container_mount *mounts = NULL;
	cleanup_free struct container_tmpfs *tmpfs = NULL;
	int rc = -1, fd;

	memset(l, 0, sizeof(*l));
	if (stage_lowers(b, s, err) < 0 || !(upper = build_temp_dir(b, "upper", err)))
		return -1;
	spec.lower_dirs = s->lowers;
	spec.n_lower = s->nlowers;
	if (s->nlowers == 0) { /* scratch: overlayfs needs a lower dir */
		if (!(empty = build_temp_dir(b, "empty", err)))
			goto out;
		empty_lower[0] = empty;
		spec.lower_dirs = empty_lower;
		spec.n_lower = 1;
	}
	spec.name = NULL;
	spec.argv = r->argv;
	spec.env = r->env.v;
	spec.workdir = r->workdir;
	spec.user = r->user;
	spec.limits = b->o->limits;
	spec.network =
	    b->o->network_host && !r->network_none ? CONTAINER_NET_HOST : CONTAINER_NET_NONE;
	spec.netns_fd = -1;
	if (r->nmounts && (!(mounts = calloc(r->nmounts, sizeof(*mounts))) ||
			   !(tmpfs = calloc(r->nmounts, sizeof(*tmpfs))))) {
		error_errno(err, "RUN --mount");
		goto out;
	}
	for (size_t i = 0; i < r->nmounts; i++) {
		const struct run_mount *m = &r->mounts[i];

		if (m->type == RUN_MOUNT_TMPFS) {
			tmpfs[spec.n_tmpfs].target = m->target;
			tmpfs[spec.n_tmpfs++].size = m->size;
		} else {
			mounts[spec.n_mounts].source = m->source;
			mounts[spec.n_mounts].target = m->target;
			mounts[spec.n_mounts++].read_only = m->read_only;
		}
	}
	spec.mounts = mounts;
	spec.tmpfs = tmpfs;
	spec.stdin_fd = -1;
	if (b->o->progress) {
		fflush(b->o->progress);
		fd = fileno(b->o->progress);
	} else {
		/* No stream to show it on: kept for the error message. */
		if (asprintf(&outpath, "%s/run-output-XXXXXX", b->tmp_dir) < 0) {
			outpath = NULL;
			error_errno(err, "RUN");
			goto out;
		}
		out_fd = mkostemp(outpath, O_CLOEXEC);
		if (out_fd < 0) {
			error_errno(err, "RUN: output file");
			goto out;
		}
		fd = out_fd;
	}
	spec.stdout_fd = fd;
	spec.stderr_fd = fd;
	if (container_start(b->h, &spec, &c, err) < 0) {
		error_wrap(err, "%s:%d: RUN", b->df_name, in->line);
		goto out;
	}
	if (b->o->on_container)
		b->o->on_container(c, b->o->on_container_arg);
	if (b->o->cancel && *b->o->cancel)
		container_stop(c);
	rc = container_wait(c, &res, err);
	if (b->o->on_container)
		b->o->on_container(NULL, b->o->on_container_arg);
	if (rc < 0) {
		rc = -1;
		error_wrap(err, "%s:%d: RUN", b->df_name, in->line);
		goto out;
	}
	rc = -1;
	if (res.stopped || (b->o->cancel && *b->o->cancel)) {
		error_failed(err, "%s:%d: %s: interrupted", b->df_name, in->line, r->desc);
		goto out;
	}
	if (res.exit_code != 0 || res.signal || res.oom_killed || res.timed_out) {
		run_failed(b, in, r, &res, out_fd, err);
		goto out;
	}
	{
		/* An engine that keeps its own upper dir: take it before the container goes. */
		cleanup_free char *own =
		    dir_empty(upper) ? path_join(container_dir(c), "upper") : NULL;
		const char *dir = own && !dir_empty(own) ? own : upper;

		drop_mount_points(s, r, dir);
		rc = build_pack_dir(b, dir, true, l, err);
	}
out:
	container_free(c);
	if (upper)
		rm_rf(upper, NULL);
	if (empty)
		rm_rf(empty, NULL);
	if (outpath)
		unlink(outpath);
	return rc;
}
