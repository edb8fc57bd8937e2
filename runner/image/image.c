/* runner/image/image.c — images as containers and the builder use them: layers unpacked on
 * demand, the overlay lower dirs, pins, packing a dir into a layer, committing a new image,
 * importing a root filesystem, pruning. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/cleanup.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/parse.h"
#include "runner/image/internal.h"

/* --- progress ------------------------------------------------------------------------------ */

void progress_start(struct progress *p, bool on, const char *verb, const char *what)
{
	memset(p, 0, sizeof(*p));
	p->on = on;
	p->verb = verb;
	p->what = what;
	clock_gettime(CLOCK_MONOTONIC, &p->last);
}

void progress_add(struct progress *p, uint64_t n)
{
	struct timespec now;
	char sz[32];

	if (!p || !p->on)
		return;
	p->done += n;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if ((now.tv_sec - p->last.tv_sec) * 1000 + (now.tv_nsec - p->last.tv_nsec) / 1000000 < 200)
		return;
	p->last = now;
	format_size(p->done, sz, sizeof(sz));
	fprintf(stderr, "\r\033[K%s %.19s %s", p->verb, p->what, sz);
}

void progress_end(struct progress *p)
{
	if (p && p->on && p->done)
		fprintf(stderr, "\r\033[K");
}

/* --- layers on disk ------------------------------------------------------------------------ */

int store_unpack_layer(struct image_store *st, const struct image_layer *l, struct error **err)
{
	cleanup_free char *dir = store_layer_dir(st, l->diff_id), *tmp = NULL;
	cleanup_close int fd = -1;
	struct layer_unpack_result res;
	struct layer_limits lim;
	struct progress pr;
	struct stat sb;
	int rc;

	if (!dir)
		return error_errno(err, "unpack layer");
	if (stat(dir, &sb) == 0)
		return 0;
	if (asprintf(&tmp, "%s/.tmp-%.12s-XXXXXX", st->layers_dir, l->diff_id + 7) < 0 ||
	    !mkdtemp(tmp))
		return error_errno(err, "unpack layer '%s': temp dir", l->digest);
	if (image_blob_open(st, l->digest, &fd, NULL, err) < 0)
		goto fail;
	layer_limits_default(&lim);
	progress_start(&pr, st->progress, "unpacking", l->digest);
	rc = layer_unpack_fd(fd, tmp, l->digest, &lim, &pr, &res, err);
	progress_end(&pr);
	if (rc < 0)
		goto fail;
	if (strcmp(res.digest, l->digest)) {
		error_failed(err, "layer '%s': the blob hashes to '%s'", l->digest, res.digest);
		goto fail;
	}
	if (strcmp(res.diff_id, l->diff_id)) {
		error_failed(err, "layer '%s': diff_id is '%s', the config says '%s'", l->digest,
			     res.diff_id, l->diff_id);
		goto fail;
	}
	if (chmod(tmp, 0755) < 0 || rename(tmp, dir) < 0) {
		/* Another process unpacked it first: keep theirs. */
		if ((errno == EEXIST || errno == ENOTEMPTY) && stat(dir, &sb) == 0) {
			rm_rf(tmp, NULL);
			return 0;
		}
		error_errno(err, "layer '%s': rename into place", l->digest);
		goto fail;
	}
	return 0;
fail:
	rm_rf(tmp, NULL);
	return -1;
}

int image_rootfs(struct image_store *st, const struct image *img, char ***lower_dirs, size_t *n,
		 struct error **err)
{
	cleanup_close int gc = store_lock(st, "gc", LOCK_SH, err);
	char **v;

	if (gc < 0)
		return -1;
	v = calloc(img->n_layers + 1, sizeof(*v));
	if (!v)
		return error_errno(err, "image rootfs");
	for (size_t i = 0; i < img->n_layers; i++) {
		const struct image_layer *l = &img->layers[img->n_layers - 1 - i];

		if (store_unpack_layer(st, l, err) < 0 ||
		    !(v[i] = store_layer_dir(st, l->diff_id))) {
			image_strv_free(v, img->n_layers);
			return error_wrap(err, "image '%s'",
					  img->ref ? img->ref : img->manifest_digest);
		}
	}
	*lower_dirs = v;
	*n = img->n_layers;
	return 0;
}

int image_overlay_lowerdir(const struct image_store *st, char *const *lower_dirs, size_t n,
			   size_t reserve, char **value, char **chdir_to, struct error **err)
{
	size_t limit = (size_t)sysconf(_SC_PAGESIZE) - 1 - reserve - strlen("lowerdir=");
	size_t plen = strlen(st->layers_dir);
	struct buf b = BUF_INIT(1 << 20);

	*value = NULL;
	*chdir_to = NULL;
	for (int rel = 0; rel < 2; rel++) {
		buf_reset(&b);
		for (size_t i = 0; i < n; i++) {
			const char *d = lower_dirs[i];

			if (rel) {
				if (strncmp(d, st->layers_dir, plen) || d[plen] != '/') {
					buf_release(&b);
					return error_set(err, EXIT_INTERNAL,
							 "lower dir '%s' is not a layer dir", d);
				}
				d += plen + 1;
			}
			if ((i && buf_putc(&b, ':', err) < 0) || buf_puts(&b, d, err) < 0) {
				buf_release(&b);
				return -1;
			}
		}
		if (b.len <= limit) {
			*value = buf_steal(&b);
			if (rel && !(*chdir_to = strdup(st->layers_dir))) {
				free(*value);
				*value = NULL;
				return error_errno(err, "overlay options");
			}
			return 0;
		}
	}
	buf_release(&b);
	return error_failed(err, "%zu layers do not fit in one overlay mount (at most about %zu)",
			    n, limit / (SHA256_HEX_LEN + 1));
}

int image_pin(struct image_store *st, const struct image *img, const char *pin_path,
	      struct error **err)
{
	cleanup_close int gc = store_lock(st, "gc", LOCK_SH, err);
	struct buf b = BUF_INIT(1 << 20);
	int rc;

	if (gc < 0)
		return -1;
	for (size_t i = 0; i < img->n_layers; i++)
		if (buf_printf(&b, err, "%s\n", img->layers[i].diff_id) < 0) {
			buf_release(&b);
			return -1;
		}
	rc = write_file_atomic(pin_path, buf_str(&b), b.len, 0644, err);
	buf_release(&b);
	return rc;
}

/* --- packing -------------------------------------------------------------------------------- */

int image_compression_parse(const char *s, enum image_compression *out, struct error **err)
{
	if (!strcmp(s, "zstd"))
		*out = IMAGE_ZSTD;
	else if (!strcmp(s, "gzip"))
		*out = IMAGE_GZIP;
	else if (!strcmp(s, "none"))
		*out = IMAGE_UNCOMPRESSED;
	else
		return error_usage(err, "unknown compression '%s' (zstd, gzip or none)", s);
	return 0;
}

void image_pack_opts_default(struct image_pack_opts *o)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	int64_t v;

	memset(o, 0, sizeof(*o));
	o->compression = IMAGE_ZSTD;
	o->source_date_epoch = -1;
	if (s && *s && parse_int(s, 0, INT64_MAX, &v, NULL) == 0)
		o->source_date_epoch = v;
}

static const char *compression_media_type(enum image_compression c)
{
	switch (c) {
	case IMAGE_GZIP:
		return MT_OCI_LAYER_GZIP;
	case IMAGE_UNCOMPRESSED:
		return MT_OCI_LAYER;
	case IMAGE_ZSTD:
	default:
		return MT_OCI_LAYER_ZSTD;
	}
}

int image_layer_from_dir(struct image_store *st, const char *dir, const struct image_pack_opts *o,
			 struct image_layer *out, struct error **err)
{
	cleanup_close int gc = store_lock(st, "gc", LOCK_SH, err);
	struct image_blob_writer *w = NULL;
	char digest[IMAGE_DIGEST_LEN + 1], diff_id[IMAGE_DIGEST_LEN + 1];
	struct progress pr;
	int64_t size = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (gc < 0 || image_blob_begin(st, &w, err) < 0)
		return -1;
	progress_start(&pr, st->progress, "packing", dir);
	rc = layer_pack_dir(dir, w, o, &pr, diff_id, err);
	progress_end(&pr);
	if (rc < 0) {
		image_blob_abort(w);
		return error_wrap(err, "pack '%s'", dir);
	}
	if (image_blob_commit(w, NULL, digest, &size, err) < 0)
		return -1;
	out->digest = strdup(digest);
	out->diff_id = strdup(diff_id);
	out->media_type = strdup(compression_media_type(o->compression));
	out->size = size;
	if (!out->digest || !out->diff_id || !out->media_type) {
		image_layer_release(out);
		return error_errno(err, "pack '%s'", dir);
	}
	return 0;
}

/* --- commit --------------------------------------------------------------------------------- */

const char *image_host_arch(void)
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

static void created_now(char *out, size_t len)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	int64_t v;
	time_t t = time(NULL);
	struct tm tm;

	if (s && *s && parse_int(s, 0, INT64_MAX, &v, NULL) == 0)
		t = (time_t)v;
	gmtime_r(&t, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

int image_commit(struct image_store *st, const struct image *parent,
		 const struct image_layer *layers, size_t n_layers, const json_t *exec_config,
		 const char *created_by, char *const *tags, size_t ntags, char **manifest_digest,
		 struct error **err)
{
	cleanup_close int gc = store_lock(st, "gc", LOCK_SH, err);
	cleanup_close int lk = -1;
	json_auto_t *config = NULL, *manifest = NULL, *idx = NULL;
	json_t *diff_ids, *history, *mlayers;
	cleanup_free char *cbytes = NULL, *mbytes = NULL;
	char cdigest[IMAGE_DIGEST_LEN + 1], mdigest[IMAGE_DIGEST_LEN + 1], created[32];
	cleanup_free char **names = NULL;

	if (gc < 0)
		return -1;
	created_now(created, sizeof(created));
	if (parent) {
		config = json_deep_copy(parent->config);
		manifest = json_pack("{s:i, s:s, s:{}, s:O}", "schemaVersion", 2, "mediaType",
				     MT_OCI_MANIFEST, "config", "layers",
				     json_get_array(parent->manifest, "layers"));
	} else {
		config = json_pack("{s:s, s:s, s:{}, s:{s:s, s:[]}, s:[]}", "architecture",
				   image_host_arch(), "os", "linux", "config", "rootfs", "type",
				   "layers", "diff_ids", "history");
		manifest = json_pack("{s:i, s:s, s:{}, s:[]}", "schemaVersion", 2, "mediaType",
				     MT_OCI_MANIFEST, "config", "layers");
	}
	if (!config || !manifest)
		return error_failed(err, "commit: bad parent image");
	json_object_set_new(config, "created", json_string(created));
	if (exec_config)
		json_object_set_new(config, "config", json_deep_copy(exec_config));
	diff_ids = json_get_array(json_get_obj(config, "rootfs"), "diff_ids");
	history = json_get_array(config, "history");
	if (!history) {
		history = json_array();
		json_object_set_new(config, "history", history);
	}
	mlayers = json_get_array(manifest, "layers");
	if (!diff_ids || !mlayers)
		return error_failed(err, "commit: the parent image has no rootfs");
	for (size_t i = 0; i < n_layers; i++) {
		json_array_append_new(diff_ids, json_string(layers[i].diff_id));
		json_array_append_new(mlayers,
				      json_pack("{s:s, s:s, s:I}", "mediaType",
						layers[i].media_type, "digest", layers[i].digest,
						"size", (json_int_t)layers[i].size));
	}
	json_array_append_new(history, json_pack("{s:s, s:s, s:b}", "created", created,
						 "created_by", created_by ? created_by : "",
						 "empty_layer", n_layers == 0));
	cbytes = json_dumps(config, JSON_COMPACT | JSON_SORT_KEYS);
	if (!cbytes || image_blob_put(st, cbytes, strlen(cbytes), cdigest, err) < 0)
		return error_wrap(err, "commit: config");
	json_object_set_new(manifest, "config",
			    json_pack("{s:s, s:s, s:I}", "mediaType", MT_OCI_CONFIG, "digest",
				      cdigest, "size", (json_int_t)strlen(cbytes)));
	mbytes = json_dumps(manifest, JSON_COMPACT | JSON_SORT_KEYS);
	if (!mbytes || image_blob_put(st, mbytes, strlen(mbytes), mdigest, err) < 0)
		return error_wrap(err, "commit: manifest");
	names = calloc(ntags + 1, sizeof(*names));
	if (!names)
		return error_errno(err, "commit");
	for (size_t i = 0; i < ntags; i++) {
		struct image_ref r;

		if (image_ref_parse(tags[i], &r, err) < 0) {
			image_strv_free(steal_pointer(&names), i);
			return -1;
		}
		names[i] = image_ref_name_tag(&r);
		image_ref_release(&r);
	}
	lk = store_lock(st, "index", LOCK_EX, err);
	idx = lk >= 0 ? store_index_read(st, err) : NULL;
	if (!idx) {
		image_strv_free(steal_pointer(&names), ntags);
		return -1;
	}
	for (size_t i = 0; i < ntags; i++)
		index_set_tag(idx, names[i], mdigest, MT_OCI_MANIFEST, (int64_t)strlen(mbytes));
	image_strv_free(steal_pointer(&names), ntags);
	if (store_index_write(st, idx, err) < 0)
		return -1;
	if (manifest_digest && !(*manifest_digest = strdup(mdigest)))
		return error_errno(err, "commit");
	return 0;
}

/* --- import --------------------------------------------------------------------------------- */

int image_import(struct image_store *st, const char *src, const char *ref,
		 const struct image_pack_opts *o, char **manifest_digest, struct error **err)
{
	/* From the layer blob to its tag: prune must not run in between. */
	cleanup_close int lease = image_store_lease(st, err);
	cleanup_free char *tmp = NULL;
	struct image_layer layer = {0};
	struct image_ref r;
	struct stat sb;
	json_auto_t *exec = NULL;
	char *tags[1] = {(char *)ref};
	int rc;

	if (lease < 0 || image_ref_parse(ref, &r, err) < 0)
		return -1;
	if (r.digest) {
		image_ref_release(&r);
		return error_usage(err, "import: '%s': a new image cannot be named by digest", ref);
	}
	image_ref_release(&r);
	if (stat(src, &sb) < 0)
		return error_errno(err, "import '%s'", src);
	if (S_ISDIR(sb.st_mode)) {
		rc = image_layer_from_dir(st, src, o, &layer, err);
	} else {
		/* A tarball is unpacked securely first, then packed like a directory: the
		 * layer is then reproducible and holds only what a layer may hold. */
		cleanup_close int fd = open(src, O_RDONLY | O_CLOEXEC);
		struct layer_unpack_result res;
		struct layer_limits lim;
		struct progress pr;

		if (fd < 0)
			return error_errno(err, "import '%s'", src);
		if (asprintf(&tmp, "%s/import-XXXXXX", st->tmp_dir) < 0 || !mkdtemp(tmp))
			return error_errno(err, "import '%s': temp dir", src);
		layer_limits_default(&lim);
		progress_start(&pr, st->progress, "unpacking", src);
		rc = layer_unpack_fd(fd, tmp, src, &lim, &pr, &res, err);
		progress_end(&pr);
		if (rc == 0)
			rc = image_layer_from_dir(st, tmp, o, &layer, err);
		rm_rf(tmp, NULL);
	}
	if (rc < 0)
		return error_wrap(err, "import '%s'", src);
	exec = json_pack("{s:[s], s:[s]}", "Env",
			 "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "Cmd",
			 "/bin/sh");
	rc = image_commit(st, NULL, &layer, 1, exec, "slipway image import", tags, 1,
			  manifest_digest, err);
	image_layer_release(&layer);
	return rc;
}

/* --- prune ---------------------------------------------------------------------------------- */

struct strset {
	char **v;
	size_t n, cap;
};

static int strset_add(struct strset *s, const char *x)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		char **v = realloc(s->v, cap * sizeof(*v));

		if (!v)
			return -1;
		s->v = v;
		s->cap = cap;
	}
	return (s->v[s->n++] = strdup(x)) ? 0 : -1;
}

static bool strset_has(const struct strset *s, const char *x)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], x))
			return true;
	return false;
}

/* Reads the diff_ids of every $DATA/containers/<id>/layers pin file. */
static void add_pins(struct image_store *st, struct strset *keep)
{
	cleanup_closedir DIR *d = opendir(st->containers_dir);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		cleanup_free char *path = NULL, *data = NULL;
		size_t len;

		if (de->d_name[0] == '.' ||
		    asprintf(&path, "%s/%s/layers", st->containers_dir, de->d_name) < 0)
			continue;
		if (read_file(path, 1 << 20, &data, &len, NULL) < 0)
			continue;
		for (char *line = strtok(data, "\n"); line; line = strtok(NULL, "\n"))
			if (digest_valid(line))
				strset_add(keep, line + 7);
	}
}

int image_prune(struct image_store *st, struct image_prune_stats *stats, struct error **err)
{
	cleanup_close int gc = store_lock(st, "gc", LOCK_EX, err);
	cleanup_close int lk = -1;
	json_auto_t *idx = NULL;
	struct strset blobs = {0}, layers = {0};
	cleanup_closedir DIR *bd = NULL, *ld = NULL;
	struct dirent *de;
	json_t *m;
	size_t i;
	int rc = -1;

	memset(stats, 0, sizeof(*stats));
	if (gc < 0)
		return -1;
	lk = store_lock(st, "index", LOCK_SH, err);
	idx = lk >= 0 ? store_index_read(st, err) : NULL;
	if (!idx)
		return -1;
	json_array_foreach (json_get_array(idx, "manifests"), i, m) {
		const char *d = json_get_str(m, "digest", "");
		struct image *img = NULL;

		if (!digest_valid(d))
			continue;
		strset_add(&blobs, d + 7);
		if (image_from_manifest(st, d, NULL, &img, err) < 0) {
			error_wrap(err, "prune: image '%s' is damaged; not pruning", d);
			goto out;
		}
		strset_add(&blobs, img->config_digest + 7);
		for (size_t k = 0; k < img->n_layers; k++) {
			strset_add(&blobs, img->layers[k].digest + 7);
			strset_add(&layers, img->layers[k].diff_id + 7);
		}
		image_free(img);
	}
	add_pins(st, &layers);
	bd = opendir(st->blobs_dir);
	while (bd && (de = readdir(bd))) {
		cleanup_free char *p = NULL;
		struct stat sb;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    strset_has(&blobs, de->d_name))
			continue;
		p = path_join(st->blobs_dir, de->d_name);
		if (p && lstat(p, &sb) == 0 && unlink(p) == 0) {
			stats->blobs++;
			stats->bytes += (uint64_t)sb.st_size;
		}
	}
	ld = opendir(st->layers_dir);
	while (ld && (de = readdir(ld))) {
		cleanup_free char *p = NULL;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    strset_has(&layers, de->d_name))
			continue;
		p = path_join(st->layers_dir, de->d_name);
		if (!p || rm_rf(p, err) < 0)
			goto out;
		if (de->d_name[0] != '.')
			stats->layer_dirs++;
	}
	/* Nobody writes while we hold the gc lock: what is in tmp is left over. */
	{
		cleanup_closedir DIR *td = opendir(st->tmp_dir);

		while (td && (de = readdir(td))) {
			cleanup_free char *p = NULL;

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			p = path_join(st->tmp_dir, de->d_name);
			if (p)
				rm_rf(p, NULL);
		}
	}
	rc = 0;
out:
	image_strv_free(blobs.v, blobs.n);
	image_strv_free(layers.v, layers.n);
	return rc;
}
