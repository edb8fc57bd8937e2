/* runner/build/step.c — one instruction: its cache key, a cache hit or its work (COPY, ADD,
 * WORKDIR here, RUN in run.c, metadata in meta.c), the layer and history it adds. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/buf.h"
#include "lib/cleanup.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "runner/build/copy.h"
#include "runner/build/internal.h"
#include "runner/build/view.h"

/* --- layer steps ---------------------------------------------------------------------------- */

char *build_temp_dir(struct builder *b, const char *what, struct error **err)
{
	char *p;

	if (asprintf(&p, "%s/%s-XXXXXX", b->tmp_dir, what) < 0) {
		error_errno(err, "temp dir");
		return NULL;
	}
	if (!mkdtemp(p)) {
		error_errno(err, "temp dir '%s'", p);
		free(p);
		return NULL;
	}
	return p;
}

int build_pack_dir(struct builder *b, const char *dir, bool overlay, struct image_layer *l,
		   struct error **err)
{
	struct image_pack_opts po = b->pack;
	cleanup_closedir DIR *d = opendir(dir);
	struct dirent *de;
	bool empty = true;

	memset(l, 0, sizeof(*l));
	if (!d)
		return error_errno(err, "open '%s'", dir);
	while (empty && (de = readdir(d)))
		empty = !strcmp(de->d_name, ".") || !strcmp(de->d_name, "..");
	if (empty)
		return 0;
	po.overlay_upper = overlay;
	return image_layer_from_dir(b->st, dir, &po, l, err);
}

struct copy_step {
	struct view src;
	char **srclayers; /* for --from */
	size_t nsrclayers;
	struct copy_opts co;
	char **words; /* expanded sources then dest */
	size_t nwords;
	char *chown;
	char *desc;
	char from[300]; /* "stage 'x'" or "image 'y'", for messages */
	char chmod[8];	/* --chmod after substitution */
};

static void copy_step_release(struct copy_step *c)
{
	image_strv_free(c->srclayers, c->nsrclayers);
	df_strv_free(c->words);
	free(c->chown);
	free(c->desc);
}

static int copy_prepare(struct builder *b, struct stage *s, const struct df_instr *in,
			struct copy_step *c, char *ctx_layer[1], struct error **err)
{
	const char *from = df_flag(in, "from"), *chmod = df_flag(in, "chmod");
	const char *chown = df_flag(in, "chown");
	struct buf d = BUF_INIT(1 << 20);

	memset(c, 0, sizeof(*c));
	c->co.what = in->keyword;
	c->co.from = "the build context";
	c->co.unpack_archives = in->kind == DF_ADD;
	c->co.dir_mtime = b->o->source_date_epoch >= 0 ? b->o->source_date_epoch : time(NULL);
	c->co.tmp_dir = b->tmp_dir;
	c->words = calloc(in->nargs + 1, sizeof(char *));
	if (!c->words)
		return error_errno(err, "build");
	for (size_t i = 0; i < in->nargs; i++) {
		if (build_expand(b, s, in, in->args[i], &c->words[i], err) < 0)
			return -1;
		c->nwords++;
	}
	if (chmod) {
		cleanup_free char *mode = NULL;
		char *end;
		unsigned long m;

		if (build_expand(b, s, in, chmod, &mode, err) < 0)
			return -1;
		m = strtoul(mode, &end, 8);
		if (!*mode || *end || m > 07777)
			return build_fail(b, in, err, "%s --chmod='%s': not an octal mode",
					  in->keyword, mode);
		c->co.chmod = true;
		c->co.mode = (mode_t)m;
		snprintf(c->chmod, sizeof(c->chmod), "%04lo", m);
	}
	if (chown && build_expand(b, s, in, chown, &c->chown, err) < 0)
		return -1;
	buf_puts(&d, in->keyword, NULL);
	if (from)
		buf_printf(&d, NULL, " --from=%s", from);
	if (c->chown)
		buf_printf(&d, NULL, " --chown=%s", c->chown);
	if (chmod)
		buf_printf(&d, NULL, " --chmod=%s", c->chmod);
	for (size_t i = 0; i < c->nwords; i++)
		buf_printf(&d, NULL, " %s", c->words[i]);
	if (!(c->desc = buf_steal(&d)))
		return error_errno(err, "build");
	if (from) {
		cleanup_free char *ref = NULL;
		struct stage *fs;

		if (build_expand(b, NULL, in, from, &ref, err) < 0)
			return -1;
		fs = stage_find(b, ref, (size_t)(s - b->stages));
		snprintf(c->from, sizeof(c->from), "%s '%.256s'", fs ? "stage" : "image", ref);
		c->co.from = c->from;
		c->co.keep_owner = true;
		if (fs) {
			if (stage_lowers(b, fs, err) < 0)
				return -1;
			c->src.layers = fs->lowers;
			c->src.n = fs->nlowers;
		} else {
			struct image *img = NULL;
			int rc;

			if (image_lookup(b->st, ref, &img, err) < 0)
				return build_fail(b, in, err,
						  "%s --from='%s': no such stage or "
						  "local image",
						  in->keyword, ref);
			rc = image_rootfs(b->st, img, &c->srclayers, &c->nsrclayers, err);
			image_free(img);
			if (rc < 0)
				return -1;
			c->src.layers = c->srclayers;
			c->src.n = c->nsrclayers;
		}
		c->src.overlay = true;
	} else {
		ctx_layer[0] = (char *)b->o->context_dir;
		c->src.layers = ctx_layer;
		c->src.n = 1;
		c->src.overlay = false;
		c->src.ignore = &b->ignore;
	}
	return 0;
}

static int copy_key(struct builder *b, struct copy_step *c, char key[SHA256_HEX_LEN + 1],
		    const char *parent, struct error **err)
{
	struct sha256 h;
	char hex[SHA256_HEX_LEN + 1];

	if (sha256_init(&h, err) < 0)
		return -1;
	if (copy_hash(&c->src, c->words, c->nwords - 1, &c->co, &h, err) < 0) {
		sha256_release(&h);
		return -1;
	}
	sha256_final_hex(&h, hex);
	cache_key(key, parent, c->desc, hex, NULL);
	return 0;
}

static int copy_run(struct builder *b, struct stage *s, const struct df_instr *in,
		    struct copy_step *c, struct image_layer *l, struct error **err)
{
	cleanup_free char *dir = NULL;
	struct view root = {NULL, 0, true, NULL};
	int rc;

	if (stage_lowers(b, s, err) < 0)
		return -1;
	root.layers = s->lowers;
	root.n = s->nlowers;
	if (c->chown && copy_parse_chown(c->chown, &root, &c->co.uid, &c->co.gid, err) < 0)
		return error_wrap(err, "%s:%d: %s --chown", b->df_name, in->line, in->keyword);
	c->co.chown = c->chown != NULL;
	if (!(dir = build_temp_dir(b, "copy", err)))
		return -1;
	rc = copy_to_layer(&c->src, c->words, c->nwords - 1, c->words[c->nwords - 1],
			   json_get_str(stage_exec_config(s), "WorkingDir", "/"), &root, dir,
			   &c->co, err);
	if (rc < 0)
		error_wrap(err, "%s:%d", b->df_name, in->line);
	else
		rc = build_pack_dir(b, dir, false, l, err);
	rm_rf(dir, NULL);
	return rc;
}

/* WORKDIR makes the directory when the stage lacks it, owned by the USER when one is set
 * (as BuildKit does). */
static int workdir_run(struct builder *b, struct stage *s, const struct df_instr *in,
		       struct image_layer *l, struct error **err)
{
	const char *wd = json_get_str(stage_exec_config(s), "WorkingDir", "/");
	const char *user = json_get_str(stage_exec_config(s), "User", NULL);
	struct view root = {NULL, 0, true, NULL};
	struct copy_opts co = {.what = "WORKDIR", .from = "the stage"};
	struct vnode n;
	bool ex;
	cleanup_free char *dir = NULL;
	int rc;

	memset(l, 0, sizeof(*l));
	if (stage_lowers(b, s, err) < 0)
		return -1;
	root.layers = s->lowers;
	root.n = s->nlowers;
	if (view_resolve(&root, wd, true, &n, &ex, err) < 0)
		return error_wrap(err, "%s:%d: WORKDIR '%s'", b->df_name, in->line, wd);
	if (ex) {
		bool isdir = S_ISDIR(n.st.st_mode);

		vnode_release(&n);
		return isdir ? 0 : build_fail(b, in, err, "WORKDIR '%s' is not a directory", wd);
	}
	co.dir_mtime = b->o->source_date_epoch >= 0 ? b->o->source_date_epoch : time(NULL);
	if (user && *user) {
		if (copy_parse_chown(user, &root, &co.uid, &co.gid, err) < 0) {
			vnode_release(&n);
			return error_wrap(err, "%s:%d: WORKDIR for USER '%s'", b->df_name, in->line,
					  user);
		}
		co.chown = true;
	}
	if (!(dir = build_temp_dir(b, "workdir", err))) {
		vnode_release(&n);
		return -1;
	}
	rc = copy_make_dirs(&root, dir, n.path, &co, err);
	vnode_release(&n);
	if (rc == 0)
		rc = build_pack_dir(b, dir, false, l, err);
	rm_rf(dir, NULL);
	return rc;
}

/* --- the step loop -------------------------------------------------------------------------- */

static bool layer_kind(enum df_kind k)
{
	return k == DF_RUN || k == DF_COPY || k == DF_ADD;
}

int step_run(struct builder *b, struct stage *s, const struct df_instr *in, struct error **err)
{
	char key[SHA256_HEX_LEN + 1], created[32];
	struct image_layer layer = {0};
	cleanup_free char *desc = NULL;
	struct copy_step cs;
	struct run_step rs;
	char *ctx_layer[1];
	bool cached = false, layer_step = layer_kind(in->kind);
	double t0 = build_now();
	char status[32];
	int rc = 0;

	memset(&cs, 0, sizeof(cs));
	memset(&rs, 0, sizeof(rs));
	if (b->o->cancel && *b->o->cancel)
		return error_failed(err, "build interrupted");
	b->step++;
	if (in->kind == DF_COPY || in->kind == DF_ADD) {
		if (copy_prepare(b, s, in, &cs, ctx_layer, err) < 0 ||
		    copy_key(b, &cs, key, s->key, err) < 0) {
			rc = error_wrap(err, "%s:%d", b->df_name, in->line);
			goto out;
		}
		desc = strdup(cs.desc);
	} else if (in->kind == DF_RUN) {
		if (run_prepare(b, s, in, &rs, err) < 0) {
			rc = -1;
			goto out;
		}
		run_key(s, &rs, key, s->key);
		desc = strdup(rs.desc);
	} else {
		/* Metadata: applied every time (cheap); the cache keeps its time only. */
		if (meta_apply(b, s, in, &desc, err) < 0) {
			rc = -1;
			goto out;
		}
		cache_key(key, s->key, desc, NULL);
		layer_step = in->kind == DF_WORKDIR;
	}
	if (!desc) {
		rc = error_errno(err, "build");
		goto out;
	}
	if (!b->o->no_cache && cache_get(b, key, created, &layer)) {
		cached = true;
	} else {
		build_created(b, created);
		if (in->kind == DF_COPY || in->kind == DF_ADD)
			rc = copy_run(b, s, in, &cs, &layer, err);
		else if (in->kind == DF_RUN) {
			/* Its output comes next: say which step it belongs to. */
			build_progress(b, desc, "running");
			rc = run_step(b, s, in, &rs, &layer, err);
		} else if (in->kind == DF_WORKDIR)
			rc = workdir_run(b, s, in, &layer, err);
		if (rc < 0)
			goto out;
		cache_put(b, key, created, layer.digest ? &layer : NULL);
	}
	if (in->kind != DF_ARG && stage_add_history(s, created, desc, !layer.digest) < 0) {
		rc = error_errno(err, "build");
		goto out;
	}
	if (layer.digest && stage_add_layer(s, &layer, err) < 0) {
		rc = -1;
		goto out;
	}
	memcpy(s->key, key, sizeof(key));
	if (cached && layer_step)
		snprintf(status, sizeof(status), "CACHED");
	else
		snprintf(status, sizeof(status), "%.2fs", build_now() - t0);
	build_progress(b, desc, status);
out:
	image_layer_release(&layer);
	copy_step_release(&cs);
	run_step_release(&rs);
	return rc;
}

/* The base image's ONBUILD triggers run right after FROM, as Docker does; the new image
 * does not inherit them. */
