/* runner/build/stage.c — stages: where they start and end, which the target needs, their
 * base (scratch, an image, an earlier stage), their layers and history. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/cleanup.h"
#include "lib/json.h"
#include "runner/build/internal.h"
#include "runner/image/internal.h"
#include "runner/registry.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* --- stages --------------------------------------------------------------------------------- */

void stage_release(struct stage *s)
{
	free(s->name);
	json_decref(s->config);
	for (size_t i = 0; i < s->nlayers; i++)
		image_layer_release(&s->layers[i]);
	free(s->layers);
	kv_release(&s->env);
	kv_release(&s->args);
	df_strv_free(s->shell);
	image_strv_free(s->lowers, s->nlowers);
	memset(s, 0, sizeof(*s));
}

/* The stage named (AS name, case-insensitive) or numbered by ref among stages[0..before). */
struct stage *stage_find(struct builder *b, const char *ref, size_t before)
{
	char *end;
	unsigned long idx = strtoul(ref, &end, 10);

	if (*ref && !*end)
		return idx < before ? &b->stages[idx] : NULL;
	for (size_t i = 0; i < before; i++)
		if (b->stages[i].name && !strcasecmp(b->stages[i].name, ref))
			return &b->stages[i];
	return NULL;
}

/* FROM's image after substitution with the global ARGs. */
int stage_from_ref(struct builder *b, const struct df_instr *in, char **out, struct error **err)
{
	if (build_expand(b, NULL, in, in->args[0], out, err) < 0)
		return -1;
	if (!**out) {
		free(*out);
		*out = NULL;
		return build_fail(b, in, err, "FROM: empty image name");
	}
	return 0;
}

int stages_split(struct builder *b, struct error **err)
{
	size_t n = 0;

	for (size_t i = 0; i < b->df.n; i++)
		n += b->df.v[i].kind == DF_FROM;
	if (n == 0)
		return error_usage(err, "%s: no FROM instruction", b->df_name);
	b->stages = calloc(n, sizeof(*b->stages));
	if (!b->stages)
		return error_errno(err, "build");
	for (size_t i = 0; i < b->df.n; i++) {
		const struct df_instr *in = &b->df.v[i];
		struct stage *s;

		if (in->kind != DF_FROM) {
			if (b->nstages)
				b->stages[b->nstages - 1].end = i + 1;
			continue;
		}
		s = &b->stages[b->nstages++];
		s->first = i;
		s->end = i + 1;
		if (in->nargs == 3) {
			const char *name = in->args[2];

			for (const char *p = name; *p; p++)
				if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
				    !(*p >= '0' && *p <= '9') && !strchr("_.-", *p))
					return build_fail(b, in, err, "invalid stage name '%s'",
							  name);
			if (stage_find(b, name, b->nstages - 1))
				return build_fail(b, in, err, "duplicate stage name '%s'", name);
			if (!(s->name = strdup(name)))
				return error_errno(err, "build");
			for (char *p = s->name; *p; p++)
				*p = (char)((*p >= 'A' && *p <= 'Z') ? *p - 'A' + 'a' : *p);
		}
	}
	return 0;
}

/* Marks s and every stage it takes from (FROM stage, COPY --from=stage) as needed. */
int stage_mark_needed(struct builder *b, struct stage *s, int depth, struct error **err)
{
	size_t idx = (size_t)(s - b->stages);

	if (s->needed)
		return 0;
	if (depth > 1000)
		return error_usage(err, "%s: stages depend on each other in a loop", b->df_name);
	s->needed = true;
	for (size_t i = s->first; i < s->end; i++) {
		const struct df_instr *in = &b->df.v[i];
		cleanup_free char *ref = NULL;
		struct stage *dep;

		if (in->kind == DF_FROM) {
			if (stage_from_ref(b, in, &ref, err) < 0)
				return -1;
		} else if ((in->kind == DF_COPY || in->kind == DF_ADD) && df_flag(in, "from")) {
			if (build_expand(b, NULL, in, df_flag(in, "from"), &ref, err) < 0)
				return -1;
			if (stage_find(b, ref, b->nstages) && !stage_find(b, ref, idx))
				return build_fail(b, in, err,
						  "COPY --from='%s' names this or a later stage",
						  ref);
		} else {
			continue;
		}
		dep = stage_find(b, ref, idx);
		if (dep && stage_mark_needed(b, dep, depth + 1, err) < 0)
			return -1;
	}
	return 0;
}

static int stage_from_image(struct builder *b, struct stage *s, const struct image *img,
			    struct error **err)
{
	json_t *env;
	size_t i;
	json_t *e;

	s->config = json_deep_copy(img->config);
	s->layers = calloc(img->n_layers + 1, sizeof(*s->layers));
	if (!s->config || !s->layers)
		return error_errno(err, "build");
	for (i = 0; i < img->n_layers; i++) {
		struct image_layer *l = &s->layers[i];

		l->digest = strdup(img->layers[i].digest);
		l->diff_id = strdup(img->layers[i].diff_id);
		l->media_type = strdup(img->layers[i].media_type);
		l->size = img->layers[i].size;
		s->nlayers++;
		if (!l->digest || !l->diff_id || !l->media_type)
			return error_errno(err, "build");
	}
	env = json_get_array(stage_exec_config(s), "Env");
	json_array_foreach (env, i, e) {
		if (json_is_string(e) && kv_set_pair(&s->env, json_string_value(e), err) < 0)
			return -1;
	}
	{
		json_t *sh = json_get_array(stage_exec_config(s), "Shell");

		if (sh && json_array_size(sh)) {
			s->shell = calloc(json_array_size(sh) + 1, sizeof(char *));
			if (!s->shell)
				return error_errno(err, "build");
			json_array_foreach (sh, i, e) {
				if (!(s->shell[i] =
					  strdup(json_is_string(e) ? json_string_value(e) : "")))
					return error_errno(err, "build");
			}
		}
	}
	return 0;
}

static int stage_from_scratch(struct builder *b, struct stage *s, struct error **err)
{
	s->config = json_pack("{s:s, s:s, s:{s:[s]}, s:{s:s, s:[]}, s:[]}", "architecture",
			      image_host_arch(), "os", "linux", "config", "Env", DEFAULT_PATH,
			      "rootfs", "type", "layers", "diff_ids", "history");
	if (!s->config)
		return error_errno(err, "build");
	return kv_set_pair(&s->env, DEFAULT_PATH, err);
}

static int stage_from_stage(struct builder *b, struct stage *s, const struct stage *base,
			    struct error **err)
{
	struct image img = {0};

	img.config = base->config;
	img.layers = base->layers;
	img.n_layers = base->nlayers;
	if (stage_from_image(b, s, &img, err) < 0)
		return -1;
	s->cmd_set = false;
	return 0;
}

/* FROM's image: the store's, else pulled from its registry (as docker build does without
 * --pull). */
static int base_image(struct builder *b, const struct df_instr *in, const char *ref,
		      struct image **img, struct error **err)
{
	struct registry_opts ro;
	struct error *e = NULL;
	char digest[72];

	if (image_lookup(b->st, ref, img, &e) == 0)
		return 0;
	if (e->exit_code != EXIT_FAILED || !strstr(e->msg, "no such image")) {
		*err = e;
		return error_wrap(err, "%s:%d: FROM", b->df_name, in->line);
	}
	error_clear(&e);
	registry_opts_init(&ro, b->st->data_dir);
	ro.progress = b->o->progress == stderr;
	if (registry_pull_image(b->st, ref, &ro, digest, &e) < 0) {
		error_failed(err, "%s:%d: image '%s' not found locally, and pulling it failed: %s",
			     b->df_name, in->line, ref, e->msg);
		error_free(e);
		return -1;
	}
	if (image_lookup(b->st, digest, img, err) < 0)
		return error_wrap(err, "%s:%d: FROM '%s' (pulled)", b->df_name, in->line, ref);
	return 0;
}

int stage_start(struct builder *b, struct stage *s, struct error **err)
{
	const struct df_instr *in = &b->df.v[s->first];
	cleanup_free char *ref = NULL;
	struct stage *base;
	char epoch[32];

	if (stage_from_ref(b, in, &ref, err) < 0)
		return -1;
	if (df_flag(in, "platform")) {
		cleanup_free char *p = NULL;
		char want[64];

		snprintf(want, sizeof(want), "linux/%s", image_host_arch());
		if (build_expand(b, NULL, in, df_flag(in, "platform"), &p, err) < 0)
			return -1;
		if (strcmp(p, want) && strncmp(p, want, strlen(want)))
			return build_fail(b, in, err,
					  "FROM --platform=%s: only %s can be built here", p, want);
	}
	snprintf(epoch, sizeof(epoch), "%lld", (long long)b->o->source_date_epoch);
	base = stage_find(b, ref, (size_t)(s - b->stages));
	if (base) {
		if (stage_from_stage(b, s, base, err) < 0)
			return -1;
		cache_key(s->key, "from-stage", base->key, epoch, NULL);
	} else if (!strcasecmp(ref, "scratch")) {
		if (stage_from_scratch(b, s, err) < 0)
			return -1;
		cache_key(s->key, "from-scratch", epoch, image_host_arch(), NULL);
	} else {
		struct image *img = NULL;
		int rc;

		if (base_image(b, in, ref, &img, err) < 0)
			return -1;
		rc = stage_from_image(b, s, img, err);
		s->from_image = true;
		cache_key(s->key, "from-image", img->manifest_digest, epoch, NULL);
		image_free(img);
		if (rc < 0)
			return -1;
	}
	return 0;
}

int stage_lowers(struct builder *b, struct stage *s, struct error **err)
{
	struct image img = {0};
	char **v;
	size_t n;

	if (s->lowers && s->nlowers == s->nlayers)
		return 0;
	img.manifest_digest = (char *)"build";
	img.layers = s->layers;
	img.n_layers = s->nlayers;
	if (image_rootfs(b->st, &img, &v, &n, err) < 0)
		return -1;
	image_strv_free(s->lowers, s->nlowers);
	s->lowers = v;
	s->nlowers = n;
	return 0;
}

int stage_add_history(struct stage *s, const char *created, const char *created_by, bool empty)
{
	json_t *h = json_get_array(s->config, "history");

	if (!h) {
		h = json_array();
		json_object_set_new(s->config, "history", h);
	}
	if (empty)
		return json_array_append_new(h, json_pack("{s:s, s:s, s:b}", "created", created,
							  "created_by", created_by, "empty_layer",
							  true));
	return json_array_append_new(
	    h, json_pack("{s:s, s:s}", "created", created, "created_by", created_by));
}

int stage_add_layer(struct stage *s, struct image_layer *l, struct error **err)
{
	struct image_layer *v = realloc(s->layers, (s->nlayers + 1) * sizeof(*v));
	json_t *rootfs = json_get_obj(s->config, "rootfs"), *ids;

	if (!v)
		return error_errno(err, "build");
	s->layers = v;
	v[s->nlayers++] = *l;
	memset(l, 0, sizeof(*l));
	if (!rootfs) {
		rootfs = json_pack("{s:s, s:[]}", "type", "layers", "diff_ids");
		json_object_set_new(s->config, "rootfs", rootfs);
	}
	ids = json_get_array(rootfs, "diff_ids");
	if (!ids) {
		ids = json_array();
		json_object_set_new(rootfs, "diff_ids", ids);
	}
	json_array_append_new(ids, json_string(v[s->nlayers - 1].diff_id));
	return 0;
}
