/* runner/build/build.c — the build: stages the target needs, each instruction in order with
 * the cache, layers committed through the image store, the image written and tagged. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/cleanup.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "runner/build/copy.h"
#include "runner/build/internal.h"
#include "runner/build/view.h"
#include "runner/image/internal.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* --- variables ------------------------------------------------------------------------------ */

const char *kv_get(const struct kv *kv, const char *name)
{
	size_t l = strlen(name);

	for (size_t i = 0; i < kv->n; i++)
		if (!strncmp(kv->v[i], name, l) && kv->v[i][l] == '=')
			return kv->v[i] + l + 1;
	return NULL;
}

int kv_set(struct kv *kv, const char *name, const char *value, struct error **err)
{
	size_t l = strlen(name);
	char *s;

	if (asprintf(&s, "%s=%s", name, value) < 0)
		return error_errno(err, "variable '%s'", name);
	for (size_t i = 0; i < kv->n; i++) {
		if (!strncmp(kv->v[i], name, l) && kv->v[i][l] == '=') {
			free(kv->v[i]);
			kv->v[i] = s;
			return 0;
		}
	}
	if (kv->n + 2 > kv->cap) {
		size_t nc = kv->cap ? kv->cap * 2 : 16;
		char **v = realloc(kv->v, nc * sizeof(*v));

		if (!v) {
			free(s);
			return error_errno(err, "variable '%s'", name);
		}
		kv->v = v;
		kv->cap = nc;
	}
	kv->v[kv->n++] = s;
	kv->v[kv->n] = NULL;
	return 0;
}

int kv_set_pair(struct kv *kv, const char *pair, struct error **err)
{
	cleanup_free char *k = strdup(pair);
	char *eq = k ? strchr(k, '=') : NULL;

	if (!k)
		return error_errno(err, "variable");
	if (!eq)
		return kv_set(kv, k, "", err);
	*eq = '\0';
	return kv_set(kv, k, eq + 1, err);
}

void kv_release(struct kv *kv)
{
	for (size_t i = 0; i < kv->n; i++)
		free(kv->v[i]);
	free(kv->v);
	memset(kv, 0, sizeof(*kv));
}

const char *scope_lookup(void *ctx, const char *name)
{
	const struct scope *sc = ctx;
	const char *v;

	if (!sc->s)
		return kv_get(&sc->b->global_args, name);
	if ((v = kv_get(&sc->s->env, name)))
		return v;
	return kv_get(&sc->s->args, name);
}

int build_fail(struct builder *b, const struct df_instr *in, struct error **err, const char *fmt,
	       ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = df_errorv(err, b->df_name, in->line, fmt, ap);
	va_end(ap);
	return r;
}

int build_expand(struct builder *b, const struct stage *s, const struct df_instr *in,
		 const char *word, char **out, struct error **err)
{
	struct scope sc = {b, s};
	struct error *e = NULL;

	if (df_expand(word, b->df.escape, scope_lookup, &sc, out, &e) < 0) {
		build_fail(b, in, err, "%s", e->msg);
		error_free(e);
		return -1;
	}
	return 0;
}

void build_created(const struct builder *b, char out[32])
{
	time_t t = b->o->source_date_epoch >= 0 ? (time_t)b->o->source_date_epoch : time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* --- progress ------------------------------------------------------------------------------- */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void build_progress(struct builder *b, const char *what, const char *status)
{
	FILE *f = b->o->progress;
	int w = (int)strlen(what);

	if (!f)
		return;
	if (w > 72)
		fprintf(f, "[%d/%d] %.69s... %s\n", b->step, b->nsteps, what, status);
	else
		fprintf(f, "[%d/%d] %-72s %s\n", b->step, b->nsteps, what, status);
	fflush(f);
}

/* --- stages --------------------------------------------------------------------------------- */

static const char *host_arch(void)
{
	static const struct {
		const char *uname, *oci;
	} map[] = {{"x86_64", "amd64"},	  {"aarch64", "arm64"},	  {"armv7l", "arm"},
		   {"i686", "386"},	  {"ppc64le", "ppc64le"}, {"s390x", "s390x"},
		   {"riscv64", "riscv64"}};
	struct utsname u;

	if (uname(&u) == 0)
		for (size_t i = 0; i < ARRAY_SIZE(map); i++)
			if (!strcmp(u.machine, map[i].uname))
				return map[i].oci;
	return "amd64";
}

static void stage_release(struct stage *s)
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
static struct stage *find_stage(struct builder *b, const char *ref, size_t before)
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
static int from_ref(struct builder *b, const struct df_instr *in, char **out, struct error **err)
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

static int split_stages(struct builder *b, struct error **err)
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
			if (find_stage(b, name, b->nstages - 1))
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
static int mark_needed(struct builder *b, struct stage *s, int depth, struct error **err)
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
			if (from_ref(b, in, &ref, err) < 0)
				return -1;
		} else if ((in->kind == DF_COPY || in->kind == DF_ADD) && df_flag(in, "from")) {
			if (build_expand(b, NULL, in, df_flag(in, "from"), &ref, err) < 0)
				return -1;
			if (find_stage(b, ref, b->nstages) && !find_stage(b, ref, idx))
				return build_fail(b, in, err,
						  "COPY --from='%s' names this or a later stage",
						  ref);
		} else {
			continue;
		}
		dep = find_stage(b, ref, idx);
		if (dep && mark_needed(b, dep, depth + 1, err) < 0)
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
			      host_arch(), "os", "linux", "config", "Env", DEFAULT_PATH, "rootfs",
			      "type", "layers", "diff_ids", "history");
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

static int stage_start(struct builder *b, struct stage *s, struct error **err)
{
	const struct df_instr *in = &b->df.v[s->first];
	cleanup_free char *ref = NULL;
	struct stage *base;
	char epoch[32];

	if (from_ref(b, in, &ref, err) < 0)
		return -1;
	if (df_flag(in, "platform")) {
		cleanup_free char *p = NULL;
		char want[64];

		snprintf(want, sizeof(want), "linux/%s", host_arch());
		if (build_expand(b, NULL, in, df_flag(in, "platform"), &p, err) < 0)
			return -1;
		if (strcmp(p, want) && strncmp(p, want, strlen(want)))
			return build_fail(b, in, err,
					  "FROM --platform=%s: only %s can be built here", p, want);
	}
	snprintf(epoch, sizeof(epoch), "%lld", (long long)b->o->source_date_epoch);
	base = find_stage(b, ref, (size_t)(s - b->stages));
	if (base) {
		if (stage_from_stage(b, s, base, err) < 0)
			return -1;
		cache_key(s->key, "from-stage", base->key, epoch, NULL);
	} else if (!strcasecmp(ref, "scratch")) {
		if (stage_from_scratch(b, s, err) < 0)
			return -1;
		cache_key(s->key, "from-scratch", epoch, host_arch(), NULL);
	} else {
		struct image *img = NULL;
		struct error *e = NULL;
		int rc;

		if (image_lookup(b->st, ref, &img, &e) < 0) {
			bool missing =
			    e->exit_code == EXIT_FAILED && strstr(e->msg, "no such image");

			if (missing)
				error_failed(err,
					     "%s:%d: image '%s' not found locally (pull it first)",
					     b->df_name, in->line, ref);
			else
				*err = steal_pointer(&e);
			error_free(e);
			return -1;
		}
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

static int add_history(struct stage *s, const char *created, const char *created_by, bool empty)
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

static int add_layer(struct stage *s, struct image_layer *l, struct error **err)
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
	struct ignore none;
	char **srclayers; /* for --from */
	size_t nsrclayers;
	struct copy_opts co;
	char **words; /* expanded sources then dest */
	size_t nwords;
	char *chown;
	char *desc;
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
	static char from_buf[300];

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
		char *end;
		unsigned long m = strtoul(chmod, &end, 8);

		if (!*chmod || *end || m > 07777)
			return build_fail(b, in, err, "%s --chmod='%s': not an octal mode",
					  in->keyword, chmod);
		c->co.chmod = true;
		c->co.mode = (mode_t)m;
	}
	if (chown && build_expand(b, s, in, chown, &c->chown, err) < 0)
		return -1;
	buf_puts(&d, in->keyword, NULL);
	if (from)
		buf_printf(&d, NULL, " --from=%s", from);
	if (c->chown)
		buf_printf(&d, NULL, " --chown=%s", c->chown);
	if (chmod)
		buf_printf(&d, NULL, " --chmod=%s", chmod);
	for (size_t i = 0; i < c->nwords; i++)
		buf_printf(&d, NULL, " %s", c->words[i]);
	if (!(c->desc = buf_steal(&d)))
		return error_errno(err, "build");
	if (from) {
		cleanup_free char *ref = NULL;
		struct stage *fs;

		if (build_expand(b, NULL, in, from, &ref, err) < 0)
			return -1;
		fs = find_stage(b, ref, (size_t)(s - b->stages));
		snprintf(from_buf, sizeof(from_buf), "%s '%.256s'", fs ? "stage" : "image", ref);
		c->co.from = from_buf;
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

static int run_instruction(struct builder *b, struct stage *s, const struct df_instr *in,
			   struct error **err)
{
	char key[SHA256_HEX_LEN + 1], created[32];
	struct image_layer layer = {0};
	cleanup_free char *desc = NULL;
	struct copy_step cs;
	struct run_step rs;
	char *ctx_layer[1];
	bool cached = false, layer_step = layer_kind(in->kind);
	double t0 = now_s();
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
	if (in->kind != DF_ARG && add_history(s, created, desc, !layer.digest) < 0) {
		rc = error_errno(err, "build");
		goto out;
	}
	if (layer.digest && add_layer(s, &layer, err) < 0) {
		rc = -1;
		goto out;
	}
	memcpy(s->key, key, sizeof(key));
	if (cached && layer_step)
		snprintf(status, sizeof(status), "CACHED");
	else
		snprintf(status, sizeof(status), "%.2fs", now_s() - t0);
	build_progress(b, desc, status);
out:
	image_layer_release(&layer);
	copy_step_release(&cs);
	run_step_release(&rs);
	return rc;
}

/* The base image's ONBUILD triggers run right after FROM, as Docker does; the new image
 * does not inherit them. */
static int run_triggers(struct builder *b, struct stage *s, const struct df_instr *from,
			struct error **err)
{
	json_t *ob = json_get_array(stage_exec_config(s), "OnBuild"), *t;
	struct buf text = BUF_INIT(DOCKERFILE_MAX_BYTES);
	struct dockerfile tdf;
	struct error *e = NULL;
	size_t i;
	int rc = 0;

	if (!s->from_image || !ob || !json_array_size(ob))
		return 0;
	buf_puts(&text, "FROM scratch\n", NULL);
	json_array_foreach (ob, i, t) {
		const char *line = json_string_value(t);

		if (!line || strchr(line, '\n') || buf_printf(&text, NULL, "%s\n", line) < 0) {
			buf_release(&text);
			return build_fail(b, from, err, "the base image has a bad ONBUILD trigger");
		}
	}
	if (dockerfile_parse(text.data, text.len, "ONBUILD", &tdf, &e) < 0) {
		buf_release(&text);
		build_fail(b, from, err, "the base image's trigger: %s", e->msg);
		error_free(e);
		return -1;
	}
	buf_release(&text);
	json_object_del(stage_exec_config(s), "OnBuild");
	b->nsteps += (int)tdf.n - 1;
	for (i = 1; i < tdf.n && rc == 0; i++) {
		tdf.v[i].line = from->line;
		rc = run_instruction(b, s, &tdf.v[i], err);
	}
	dockerfile_release(&tdf);
	return rc;
}

static int build_stage(struct builder *b, struct stage *s, struct error **err)
{
	const struct df_instr *from = &b->df.v[s->first];
	double t0 = now_s();
	char status[32];
	cleanup_free char *ref = NULL, *desc = NULL;

	b->step++;
	if (stage_start(b, s, err) < 0 || from_ref(b, from, &ref, err) < 0)
		return -1;
	if (asprintf(&desc, "FROM %s%s%s", ref, s->name ? " AS " : "", s->name ? s->name : "") < 0)
		return error_errno(err, "build");
	snprintf(status, sizeof(status), "%.2fs", now_s() - t0);
	build_progress(b, desc, status);
	if (run_triggers(b, s, from, err) < 0)
		return -1;
	for (size_t i = s->first + 1; i < s->end; i++)
		if (run_instruction(b, s, &b->df.v[i], err) < 0)
			return -1;
	s->built = true;
	return 0;
}

/* --- the image ------------------------------------------------------------------------------ */

static int commit(struct builder *b, struct stage *s, char digest_out[72], struct error **err)
{
	json_auto_t *config = json_deep_copy(s->config), *manifest = NULL, *layers = json_array();
	cleanup_free char *cbytes = NULL, *mbytes = NULL;
	char cdigest[IMAGE_DIGEST_LEN + 1], mdigest[IMAGE_DIGEST_LEN + 1], created[32];
	json_t *hist;

	if (!config || !layers)
		return error_errno(err, "commit");
	/* The image was created when its last step was: a cached rebuild is the same image. */
	hist = json_get_array(config, "history");
	if (hist && json_array_size(hist))
		snprintf(
		    created, sizeof(created), "%s",
		    json_get_str(json_array_get(hist, json_array_size(hist) - 1), "created", ""));
	else
		build_created(b, created);
	json_object_set_new(config, "created", json_string(created));
	for (size_t i = 0; i < s->nlayers; i++)
		json_array_append_new(layers, json_pack("{s:s, s:s, s:I}", "mediaType",
							s->layers[i].media_type, "digest",
							s->layers[i].digest, "size",
							(json_int_t)s->layers[i].size));
	cbytes = json_dumps(config, JSON_COMPACT | JSON_SORT_KEYS);
	if (!cbytes || image_blob_put(b->st, cbytes, strlen(cbytes), cdigest, err) < 0)
		return error_wrap(err, "commit: config");
	manifest = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:O}", "schemaVersion", 2, "mediaType",
			     MT_OCI_MANIFEST, "config", "mediaType", MT_OCI_CONFIG, "digest",
			     cdigest, "size", (json_int_t)strlen(cbytes), "layers", layers);
	mbytes = manifest ? json_dumps(manifest, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	if (!mbytes || image_blob_put(b->st, mbytes, strlen(mbytes), mdigest, err) < 0)
		return error_wrap(err, "commit: manifest");
	for (size_t i = 0; b->o->tags && b->o->tags[i]; i++)
		if (image_tag_digest(b->st, b->o->tags[i], mdigest, err) < 0)
			return error_wrap(err, "tag '%s'", b->o->tags[i]);
	snprintf(digest_out, 72, "%s", mdigest);
	return 0;
}

/* --- setup ---------------------------------------------------------------------------------- */

static int read_dockerfile(struct builder *b, struct error **err)
{
	cleanup_free char *path = NULL, *text = NULL;
	const char *slash;
	size_t len;

	path = b->o->dockerfile ? strdup(b->o->dockerfile)
				: path_join(b->o->context_dir, "Dockerfile");
	if (!path)
		return error_errno(err, "build");
	slash = strrchr(path, '/');
	if (!(b->df_name = strdup(slash ? slash + 1 : path)))
		return error_errno(err, "build");
	if (read_file(path, DOCKERFILE_MAX_BYTES, &text, &len, err) < 0) {
		if ((*err)->errnum == ENOENT || (*err)->errnum == EFBIG)
			(*err)->exit_code = EXIT_USAGE;
		return error_wrap(err, "read the Dockerfile");
	}
	return dockerfile_parse(text, len, b->df_name, &b->df, err);
}

static int setup_args(struct builder *b, struct error **err)
{
	char plat[64];

	for (size_t i = 0; b->o->build_args && b->o->build_args[i]; i++) {
		const char *a = b->o->build_args[i];
		const char *eq = strchr(a, '=');

		if (eq == a || !*a)
			return error_usage(err, "--build-arg '%s': expected KEY=VALUE", a);
		if (eq) {
			if (kv_set_pair(&b->build_args, a, err) < 0)
				return -1;
		} else if (getenv(a) && kv_set(&b->build_args, a, getenv(a), err) < 0) {
			return -1;
		}
	}
	b->build_arg_used = calloc(b->build_args.n + 1, sizeof(bool));
	if (!b->build_arg_used)
		return error_errno(err, "build");
	/* BuildKit's automatic platform ARGs, in the global scope. */
	snprintf(plat, sizeof(plat), "linux/%s", host_arch());
	if (kv_set(&b->global_args, "TARGETPLATFORM", plat, err) < 0 ||
	    kv_set(&b->global_args, "TARGETOS", "linux", err) < 0 ||
	    kv_set(&b->global_args, "TARGETARCH", host_arch(), err) < 0 ||
	    kv_set(&b->global_args, "BUILDPLATFORM", plat, err) < 0 ||
	    kv_set(&b->global_args, "BUILDOS", "linux", err) < 0 ||
	    kv_set(&b->global_args, "BUILDARCH", host_arch(), err) < 0)
		return -1;
	/* ARGs before the first FROM. */
	for (size_t i = 0; i < b->df.n && b->df.v[i].kind == DF_ARG; i++) {
		cleanup_free char *d = NULL;

		if (meta_apply(b, NULL, &b->df.v[i], &d, err) < 0)
			return -1;
	}
	return 0;
}

static int check_tags(const struct build_opts *o, struct error **err)
{
	for (size_t i = 0; o->tags && o->tags[i]; i++) {
		struct image_ref r;

		if (image_ref_parse(o->tags[i], &r, err) < 0)
			return error_wrap(err, "-t");
		if (r.digest) {
			image_ref_release(&r);
			return error_usage(err, "-t '%s': a tag cannot name a digest", o->tags[i]);
		}
		image_ref_release(&r);
	}
	return 0;
}

static void builder_release(struct builder *b)
{
	for (size_t i = 0; i < b->nstages; i++)
		stage_release(&b->stages[i]);
	free(b->stages);
	dockerfile_release(&b->df);
	ignore_release(&b->ignore);
	kv_release(&b->global_args);
	kv_release(&b->build_args);
	free(b->build_arg_used);
	if (b->tmp_dir)
		rm_rf(b->tmp_dir, NULL);
	free(b->tmp_dir);
	free(b->cache_dir);
	free(b->df_name);
}

int build_image(struct container_host *h, struct image_store *st, const struct build_opts *o,
		char digest_out[72], struct error **err)
{
	struct builder b = {0};
	struct stage *target = NULL;
	struct stat sb;
	int lease = -1, rc = -1;

	b.h = h;
	b.st = st;
	b.o = o;
	image_pack_opts_default(&b.pack);
	b.pack.source_date_epoch = o->source_date_epoch;
	if (stat(o->context_dir, &sb) < 0 || !S_ISDIR(sb.st_mode)) {
		error_errnum(err, errno ? errno : ENOTDIR, "build context '%s'", o->context_dir);
		(*err)->exit_code = EXIT_USAGE;
		return -1;
	}
	if (check_tags(o, err) < 0 || read_dockerfile(&b, err) < 0 ||
	    ignore_load(o->context_dir, &b.ignore, err) < 0 || split_stages(&b, err) < 0 ||
	    setup_args(&b, err) < 0)
		goto out;
	if (o->target) {
		target = find_stage(&b, o->target, b.nstages);
		if (!target) {
			error_usage(err, "--target '%s': no such stage in %s", o->target,
				    b.df_name);
			goto out;
		}
	} else {
		target = &b.stages[b.nstages - 1];
	}
	if (mark_needed(&b, target, 0, err) < 0)
		goto out;
	for (size_t i = 0; i < b.nstages; i++)
		if (b.stages[i].needed)
			b.nsteps += (int)(b.stages[i].end - b.stages[i].first);
	/* From the first layer blob to the tags, prune must wait. */
	if ((lease = image_store_lease(st, err)) < 0)
		goto out;
	if (!(b.cache_dir = path_join(st->data_dir, "build-cache")) ||
	    asprintf(&b.tmp_dir, "%s/build-XXXXXX", st->tmp_dir) < 0) {
		b.tmp_dir = NULL;
		error_errno(err, "build");
		goto out;
	}
	if (mkdir_p(b.cache_dir, 0700, err) < 0 || mkdir_p(st->tmp_dir, 0700, err) < 0)
		goto out;
	if (!mkdtemp(b.tmp_dir)) {
		error_errno(err, "build: temp dir '%s'", b.tmp_dir);
		free(b.tmp_dir);
		b.tmp_dir = NULL;
		goto out;
	}
	for (size_t i = 0; i < b.nstages; i++)
		if (b.stages[i].needed && build_stage(&b, &b.stages[i], err) < 0)
			goto out;
	for (size_t k = 0; k < b.build_args.n; k++)
		if (!b.build_arg_used[k] && o->progress)
			fprintf(o->progress, "warning: build argument '%.*s' was not used\n",
				(int)(strchr(b.build_args.v[k], '=') - b.build_args.v[k]),
				b.build_args.v[k]);
	rc = commit(&b, target, digest_out, err);
out:
	builder_release(&b);
	if (lease >= 0)
		image_store_unlease(lease);
	return rc;
}
