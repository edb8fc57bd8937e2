/* runner/build/build.c — the build: stages the target needs, each instruction in order with
 * the cache, layers committed through the image store, the image written and tagged. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/cleanup.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "runner/build/internal.h"
#include "runner/image/internal.h"

/* --- progress ------------------------------------------------------------------------------- */

double build_now(void)
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
		rc = step_run(b, s, &tdf.v[i], err);
	}
	dockerfile_release(&tdf);
	return rc;
}

static int build_stage(struct builder *b, struct stage *s, struct error **err)
{
	const struct df_instr *from = &b->df.v[s->first];
	double t0 = build_now();
	char status[32];
	cleanup_free char *ref = NULL, *desc = NULL;

	b->step++;
	if (stage_start(b, s, err) < 0 || stage_from_ref(b, from, &ref, err) < 0)
		return -1;
	if (asprintf(&desc, "FROM %s%s%s", ref, s->name ? " AS " : "", s->name ? s->name : "") < 0)
		return error_errno(err, "build");
	snprintf(status, sizeof(status), "%.2fs", build_now() - t0);
	build_progress(b, desc, status);
	if (run_triggers(b, s, from, err) < 0)
		return -1;
	for (size_t i = s->first + 1; i < s->end; i++)
		if (step_run(b, s, &b->df.v[i], err) < 0)
			return -1;
	s->built = true;
	return 0;
}

/* --- the image ------------------------------------------------------------------------------ */

/* Every -t in one index update: all tags move, or none. */
static int tag_all(struct builder *b, const char *mdigest, int64_t msize, struct error **err)
{
	cleanup_close int lk = -1;
	json_auto_t *idx = NULL;
	char **names;
	size_t n = 0;
	int rc = -1;

	while (b->o->tags && b->o->tags[n])
		n++;
	if (n == 0)
		return 0;
	if (!(names = calloc(n, sizeof(*names))))
		return error_errno(err, "tag");
	for (size_t i = 0; i < n; i++) {
		struct image_ref r;

		if (image_ref_parse(b->o->tags[i], &r, err) < 0)
			goto out;
		names[i] = image_ref_name_tag(&r);
		image_ref_release(&r);
		if (!names[i]) {
			error_errno(err, "tag");
			goto out;
		}
	}
	if ((lk = store_lock(b->st, "index", LOCK_EX, err)) < 0 ||
	    !(idx = store_index_read(b->st, err)))
		goto out;
	for (size_t i = 0; i < n; i++)
		index_set_tag(idx, names[i], mdigest, MT_OCI_MANIFEST, msize);
	rc = store_index_write(b->st, idx, err);
out:
	image_strv_free(names, n);
	return rc < 0 ? error_wrap(err, "tag the image") : 0;
}

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
	if (tag_all(b, mdigest, (int64_t)strlen(mbytes), err) < 0)
		return -1;
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
	if (!b->o->dockerfile && access(path, F_OK) < 0) {
		/* podman's and buildah's name, when there is no Dockerfile */
		char *alt = path_join(b->o->context_dir, "Containerfile");

		if (alt && access(alt, F_OK) == 0) {
			free(path);
			path = alt;
		} else {
			free(alt);
		}
	}
	slash = strrchr(path, '/');
	if (!(b->df_name = strdup(slash ? slash + 1 : path)))
		return error_errno(err, "build");
	if (!strcmp(path, "-")) { /* -f -: the Dockerfile on stdin, as docker build reads it */
		free(b->df_name);
		free(path);
		b->df_name = strdup("Dockerfile");
		path = strdup("/dev/stdin");
		if (!b->df_name || !path)
			return error_errno(err, "build");
	}
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
	snprintf(plat, sizeof(plat), "linux/%s", image_host_arch());
	if (kv_set(&b->global_args, "TARGETPLATFORM", plat, err) < 0 ||
	    kv_set(&b->global_args, "TARGETOS", "linux", err) < 0 ||
	    kv_set(&b->global_args, "TARGETARCH", image_host_arch(), err) < 0 ||
	    kv_set(&b->global_args, "BUILDPLATFORM", plat, err) < 0 ||
	    kv_set(&b->global_args, "BUILDOS", "linux", err) < 0 ||
	    kv_set(&b->global_args, "BUILDARCH", image_host_arch(), err) < 0)
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
	struct build_opts abs = *o;
	cleanup_free char *context = NULL;
	struct stat sb;
	int lease = -1, rc = -1;

	errno = 0;
	if (stat(o->context_dir, &sb) < 0 || !S_ISDIR(sb.st_mode) ||
	    !(context = realpath(o->context_dir, NULL))) {
		error_errnum(err, errno ? errno : ENOTDIR, "build context '%s'", o->context_dir);
		(*err)->exit_code = EXIT_USAGE;
		return -1;
	}
	/* Absolute: its paths become bind mounts of RUN --mount. */
	abs.context_dir = context;
	o = &abs;
	b.h = h;
	b.st = st;
	b.o = o;
	image_pack_opts_default(&b.pack);
	b.pack.source_date_epoch = o->source_date_epoch;
	if (check_tags(o, err) < 0 || read_dockerfile(&b, err) < 0 ||
	    ignore_load(o->context_dir, &b.ignore, err) < 0 || stages_split(&b, err) < 0 ||
	    setup_args(&b, err) < 0)
		goto out;
	if (o->target) {
		target = stage_find(&b, o->target, b.nstages);
		if (!target) {
			error_usage(err, "--target '%s': no such stage in %s", o->target,
				    b.df_name);
			goto out;
		}
	} else {
		target = &b.stages[b.nstages - 1];
	}
	if (stage_mark_needed(&b, target, 0, err) < 0)
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
