/* runner/image/store.c — the OCI layout on disk: opening, locks, blobs (streamed, verified,
 * renamed into place), index.json and its tags, lookups. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "lib/log.h"
#include "runner/image/internal.h"

static const char oci_layout[] = "{\"imageLayoutVersion\":\"1.0.0\"}";

int image_store_open(const char *data_dir, struct image_store **out, struct error **err)
{
	struct image_store *st = calloc(1, sizeof(*st));
	cleanup_free char *layout = NULL, *index = NULL;
	struct stat sb;

	if (!st)
		return error_errno(err, "open image store");
	st->data_dir = strdup(data_dir);
	st->layout_dir = path_join(data_dir, "images");
	st->blobs_dir = path_join(data_dir, "images/blobs/sha256");
	st->layers_dir = path_join(data_dir, "layers");
	st->tmp_dir = path_join(data_dir, "tmp");
	st->containers_dir = path_join(data_dir, "containers");
	if (!st->data_dir || !st->layout_dir || !st->blobs_dir || !st->layers_dir || !st->tmp_dir ||
	    !st->containers_dir) {
		image_store_close(st);
		return error_errno(err, "open image store");
	}
	if (mkdir_p(st->blobs_dir, 0755, err) < 0 || mkdir_p(st->layers_dir, 0700, err) < 0 ||
	    mkdir_p(st->tmp_dir, 0700, err) < 0)
		goto fail;
	layout = path_join(st->layout_dir, "oci-layout");
	index = path_join(st->layout_dir, "index.json");
	if (stat(layout, &sb) < 0 &&
	    write_file_atomic(layout, oci_layout, strlen(oci_layout), 0644, err) < 0)
		goto fail;
	if (stat(index, &sb) < 0) {
		cleanup_close int fd = store_lock(st, "index", LOCK_EX, err);
		json_auto_t *idx = NULL;

		if (fd < 0)
			goto fail;
		idx = store_index_read(st, err);
		if (!idx || store_index_write(st, idx, err) < 0)
			goto fail;
	}
	*out = st;
	return 0;
fail:
	image_store_close(st);
	return error_wrap(err, "open image store '%s'", data_dir);
}

void image_store_close(struct image_store *st)
{
	if (!st)
		return;
	free(st->data_dir);
	free(st->layout_dir);
	free(st->blobs_dir);
	free(st->layers_dir);
	free(st->tmp_dir);
	free(st->containers_dir);
	free(st);
}

const char *image_store_layout_dir(const struct image_store *st)
{
	return st->layout_dir;
}

const char *image_store_layers_dir(const struct image_store *st)
{
	return st->layers_dir;
}

void image_store_set_progress(struct image_store *st, bool on)
{
	st->progress = on;
}

int store_lock(struct image_store *st, const char *name, int how, struct error **err)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/.lock-%s", st->layout_dir, name);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return error_errno(err, "open lock '%s'", path);
	while (flock(fd, how) < 0) {
		if (errno != EINTR) {
			error_errno(err, "lock '%s'", path);
			close(fd);
			return -1;
		}
	}
	return fd;
}

int image_store_lease(struct image_store *st, struct error **err)
{
	return store_lock(st, "gc", LOCK_SH, err);
}

void image_store_unlease(int lease)
{
	if (lease >= 0)
		close(lease);
}

char *store_blob_path(struct image_store *st, const char *digest, struct error **err)
{
	char *p = NULL;

	if (!digest_valid(digest)) {
		error_usage(err, "invalid digest '%s'", digest ? digest : "");
		return NULL;
	}
	if (asprintf(&p, "%s/%s", st->blobs_dir, digest + 7) < 0) {
		error_errno(err, "blob path");
		return NULL;
	}
	return p;
}

char *store_layer_dir(struct image_store *st, const char *diff_id)
{
	char *p = NULL;

	if (asprintf(&p, "%s/%s", st->layers_dir, diff_id + 7) < 0)
		return NULL;
	return p;
}

/* --- blobs -------------------------------------------------------------------------------- */

struct image_blob_writer {
	struct image_store *st;
	int fd;
	char *tmp;
	struct sha256 h;
	int64_t size;
};

bool image_blob_exists(struct image_store *st, const char *digest)
{
	cleanup_free char *p = store_blob_path(st, digest, NULL);

	return p && access(p, F_OK) == 0;
}

int image_blob_open(struct image_store *st, const char *digest, int *fd, int64_t *size,
		    struct error **err)
{
	cleanup_free char *p = store_blob_path(st, digest, err);
	struct stat sb;
	int f;

	if (!p)
		return -1;
	f = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (f < 0) {
		if (errno == ENOENT)
			return error_failed(err, "blob '%s' is not in the store", digest);
		return error_errno(err, "open blob '%s'", digest);
	}
	if (fstat(f, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(f);
		return error_set(err, EXIT_INTERNAL, "blob '%s' is not a regular file", digest);
	}
	*fd = f;
	if (size)
		*size = sb.st_size;
	return 0;
}

int image_blob_read(struct image_store *st, const char *digest, size_t max, char **data,
		    size_t *len, struct error **err)
{
	cleanup_free char *p = store_blob_path(st, digest, err);
	char hex[SHA256_HEX_LEN + 1];
	char *d = NULL;
	size_t n = 0;

	if (!p)
		return -1;
	if (read_file(p, max, &d, &n, err) < 0)
		return error_wrap(err, "read blob '%s'", digest);
	sha256_hex(d, n, hex);
	if (strcmp(hex, digest + 7)) {
		free(d);
		return error_failed(err, "blob '%s' is corrupt: its content hashes to sha256:%s",
				    digest, hex);
	}
	*data = d;
	if (len)
		*len = n;
	return 0;
}

int image_blob_begin(struct image_store *st, struct image_blob_writer **out, struct error **err)
{
	struct image_blob_writer *w = calloc(1, sizeof(*w));

	if (!w)
		return error_errno(err, "new blob");
	w->st = st;
	w->fd = -1;
	if (asprintf(&w->tmp, "%s/blob-XXXXXX", st->tmp_dir) < 0) {
		free(w);
		return error_errno(err, "new blob");
	}
	w->fd = mkostemp(w->tmp, O_CLOEXEC);
	if (w->fd < 0) {
		error_errno(err, "create temp blob in '%s'", st->tmp_dir);
		free(w->tmp);
		free(w);
		return -1;
	}
	if (sha256_init(&w->h, err) < 0) {
		image_blob_abort(w);
		return -1;
	}
	*out = w;
	return 0;
}

int image_blob_write(struct image_blob_writer *w, const void *data, size_t len, struct error **err)
{
	const char *p = data;
	size_t left = len;

	sha256_update(&w->h, data, len);
	while (left > 0) {
		ssize_t n = write(w->fd, p, left);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return error_errno(err, "write blob '%s'", w->tmp);
		}
		p += n;
		left -= (size_t)n;
	}
	w->size += (int64_t)len;
	return 0;
}

void image_blob_abort(struct image_blob_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp)
		unlink(w->tmp);
	sha256_release(&w->h);
	free(w->tmp);
	free(w);
}

int image_blob_commit(struct image_blob_writer *w, const char *expected, char *digest_out,
		      int64_t *size, struct error **err)
{
	return blob_commit_ex(w, expected, digest_out, size, NULL, err);
}

int blob_commit_ex(struct image_blob_writer *w, const char *expected, char *digest_out,
		   int64_t *size, bool *existed, struct error **err)
{
	struct stat sb;
	char hex[SHA256_HEX_LEN + 1], digest[IMAGE_DIGEST_LEN + 1];
	cleanup_free char *path = NULL;
	int rc = -1;

	sha256_final_hex(&w->h, hex);
	snprintf(digest, sizeof(digest), "sha256:%s", hex);
	if (expected && strcmp(expected, digest)) {
		error_failed(err, "blob digest mismatch: expected '%s', got '%s'", expected,
			     digest);
		goto out;
	}
	path = store_blob_path(w->st, digest, err);
	if (!path)
		goto out;
	if (fchmod(w->fd, 0644) < 0 || fdatasync(w->fd) < 0) {
		error_errno(err, "write blob '%s'", digest);
		goto out;
	}
	if (existed)
		*existed = stat(path, &sb) == 0;
	if (rename(w->tmp, path) < 0) {
		error_errno(err, "store blob '%s'", digest);
		goto out;
	}
	free(w->tmp);
	w->tmp = NULL;
	if (digest_out)
		memcpy(digest_out, digest, sizeof(digest));
	if (size)
		*size = w->size;
	rc = 0;
out:
	image_blob_abort(w);
	return rc;
}

int image_blob_put(struct image_store *st, const void *data, size_t len, char *digest_out,
		   struct error **err)
{
	struct image_blob_writer *w = NULL;
	char hex[SHA256_HEX_LEN + 1];

	sha256_hex(data, len, hex);
	if (digest_out)
		snprintf(digest_out, IMAGE_DIGEST_LEN + 1, "sha256:%s", hex);
	{
		char d[IMAGE_DIGEST_LEN + 1];

		snprintf(d, sizeof(d), "sha256:%s", hex);
		if (image_blob_exists(st, d))
			return 0;
	}
	if (image_blob_begin(st, &w, err) < 0)
		return -1;
	if (image_blob_write(w, data, len, err) < 0) {
		image_blob_abort(w);
		return -1;
	}
	return image_blob_commit(w, NULL, digest_out, NULL, err);
}

/* --- index.json --------------------------------------------------------------------------- */

json_t *store_index_read(struct image_store *st, struct error **err)
{
	cleanup_free char *path = path_join(st->layout_dir, "index.json");
	json_t *idx;

	if (access(path, F_OK) < 0 && errno == ENOENT)
		return json_pack("{s:i, s:s, s:[]}", "schemaVersion", 2, "mediaType", MT_OCI_INDEX,
				 "manifests");
	idx = json_load_path(path, 64u << 20, err);
	if (!idx)
		return NULL;
	if (!json_get_array(idx, "manifests")) {
		json_decref(idx);
		error_failed(err, "'%s' has no manifests array", path);
		return NULL;
	}
	return idx;
}

int store_index_write(struct image_store *st, const json_t *index, struct error **err)
{
	cleanup_free char *path = path_join(st->layout_dir, "index.json");

	return json_save_path(path, index, false, 0644, err);
}

static const char *entry_ref_name(const json_t *m)
{
	return json_get_str(json_get_obj(m, "annotations"), REF_NAME_ANNOTATION, NULL);
}

void index_set_tag(json_t *index, const char *name_tag, const char *digest, const char *mt,
		   int64_t size)
{
	json_t *ms = json_get_array(index, "manifests");
	size_t i;
	json_t *m;

	json_array_foreach (ms, i, m) {
		const char *r = entry_ref_name(m);

		if (r && !strcmp(r, name_tag)) {
			json_array_remove(ms, i);
			break;
		}
	}
	json_array_append_new(ms, json_pack("{s:s, s:s, s:I, s:{s:s}}", "mediaType", mt, "digest",
					    digest, "size", (json_int_t)size, "annotations",
					    REF_NAME_ANNOTATION, name_tag));
}

/* Finds the index entry for ref; returns a borrowed entry or NULL. */
static json_t *index_find(json_t *index, const char *ref, const char **name_tag_out,
			  struct error **err)
{
	json_t *ms = json_get_array(index, "manifests"), *m, *found = NULL;
	size_t i, hexlen = 0;
	const char *hex = NULL;
	int matches = 0;

	if (!strncmp(ref, "sha256:", 7)) {
		hex = ref + 7;
		hexlen = strlen(hex);
		if (hexlen < 12 || hexlen > 64 || strspn(hex, "0123456789abcdef") != hexlen) {
			error_usage(err, "invalid digest '%s'", ref);
			return NULL;
		}
		json_array_foreach (ms, i, m) {
			const char *d = json_get_str(m, "digest", "");

			if (!strncmp(d, "sha256:", 7) && !strncmp(d + 7, hex, hexlen)) {
				if (found && strcmp(json_get_str(found, "digest", ""), d))
					matches++;
				else if (!found)
					matches++;
				found = found ? found : m;
			}
		}
		if (matches > 1) {
			error_usage(err, "digest prefix '%s' matches more than one image", ref);
			return NULL;
		}
	} else {
		struct image_ref r;
		cleanup_free char *nt = NULL;

		if (image_ref_parse(ref, &r, err) < 0)
			return NULL;
		nt = image_ref_name_tag(&r);
		json_array_foreach (ms, i, m) {
			const char *rn = entry_ref_name(m);
			const char *d = json_get_str(m, "digest", "");

			if (r.digest && !strcmp(d, r.digest) &&
			    (!r.tag || (rn && !strcmp(rn, nt)) ||
			     (rn && !strncmp(rn, r.name, strlen(r.name)) &&
			      rn[strlen(r.name)] == ':'))) {
				found = m;
				break;
			}
			if (!r.digest && rn && !strcmp(rn, nt)) {
				found = m;
				break;
			}
		}
		image_ref_release(&r);
	}
	if (!found)
		error_failed(err, "no such image '%s'", ref);
	else if (name_tag_out)
		*name_tag_out = strchr(ref, '@') || hex ? NULL : entry_ref_name(found);
	return found;
}

/* --- images ------------------------------------------------------------------------------- */

void image_free(struct image *img)
{
	if (!img)
		return;
	for (size_t i = 0; i < img->n_layers; i++)
		image_layer_release(&img->layers[i]);
	free(img->layers);
	free(img->ref);
	free(img->manifest_digest);
	free(img->config_digest);
	json_decref(img->manifest);
	json_decref(img->config);
	free(img);
}

void image_layer_release(struct image_layer *l)
{
	free(l->digest);
	free(l->media_type);
	free(l->diff_id);
	memset(l, 0, sizeof(*l));
}

static bool layer_media_type_known(const char *mt)
{
	static const char *const known[] = {
	    MT_OCI_LAYER,    MT_OCI_LAYER_GZIP,	   MT_OCI_LAYER_ZSTD,
	    MT_DOCKER_LAYER, MT_DOCKER_LAYER_GZIP, MT_DOCKER_LAYER_ZSTD,
	};

	for (size_t i = 0; i < ARRAY_SIZE(known); i++)
		if (!strcmp(mt, known[i]))
			return true;
	return false;
}

int image_from_manifest(struct image_store *st, const char *digest, const char *ref,
			struct image **out, struct error **err)
{
	cleanup_free char *mdata = NULL, *cdata = NULL;
	size_t mlen = 0, clen = 0, i;
	struct image *img = calloc(1, sizeof(*img));
	json_t *layers, *diff_ids, *l;
	const char *mt;

	if (!img)
		return error_errno(err, "load image");
	img->manifest_digest = strdup(digest);
	img->ref = ref ? strdup(ref) : NULL;
	if (image_blob_read(st, digest, MAX_MANIFEST_BYTES, &mdata, &mlen, err) < 0)
		goto fail;
	img->manifest_size = (int64_t)mlen;
	img->manifest = json_parse(mdata, mlen, "manifest", err);
	if (!img->manifest)
		goto fail;
	mt = json_get_str(img->manifest, "mediaType", MT_OCI_MANIFEST);
	if (strcmp(mt, MT_OCI_MANIFEST) && strcmp(mt, MT_DOCKER_MANIFEST)) {
		error_failed(err, "manifest '%s' has unsupported media type '%s'", digest, mt);
		goto fail;
	}
	img->config_digest =
	    strdup(json_get_str(json_get_obj(img->manifest, "config"), "digest", ""));
	if (image_blob_read(st, img->config_digest, MAX_CONFIG_BYTES, &cdata, &clen, err) < 0)
		goto fail;
	img->config = json_parse(cdata, clen, "image config", err);
	if (!img->config)
		goto fail;
	layers = json_get_array(img->manifest, "layers");
	diff_ids = json_get_array(json_get_obj(img->config, "rootfs"), "diff_ids");
	if (!layers || !diff_ids || json_array_size(layers) != json_array_size(diff_ids)) {
		error_failed(err,
			     "image '%s': the manifest's layers and the config's diff_ids "
			     "do not match",
			     digest);
		goto fail;
	}
	img->n_layers = json_array_size(layers);
	img->layers = calloc(img->n_layers ? img->n_layers : 1, sizeof(*img->layers));
	if (!img->layers) {
		error_errno(err, "load image");
		goto fail;
	}
	json_array_foreach (layers, i, l) {
		struct image_layer *il = &img->layers[i];
		const char *d = json_get_str(l, "digest", ""),
			   *lmt = json_get_str(l, "mediaType", "");
		const char *di = json_string_value(json_array_get(diff_ids, i));

		if (!digest_valid(d) || !di || !digest_valid(di)) {
			error_failed(err, "image '%s': layer %zu has an invalid digest", digest, i);
			goto fail;
		}
		if (!layer_media_type_known(lmt)) {
			error_failed(err, "image '%s': layer '%s' has unsupported media type '%s'",
				     digest, d, lmt);
			goto fail;
		}
		il->digest = strdup(d);
		il->media_type = strdup(lmt);
		il->diff_id = strdup(di);
		il->size = json_get_int(l, "size", 0);
		if (!il->digest || !il->media_type || !il->diff_id) {
			error_errno(err, "load image");
			goto fail;
		}
	}
	*out = img;
	return 0;
fail:
	image_free(img);
	return -1;
}

int image_lookup(struct image_store *st, const char *ref, struct image **out, struct error **err)
{
	json_auto_t *idx = store_index_read(st, err);
	const char *nt = NULL;
	json_t *m;

	if (!idx)
		return -1;
	m = index_find(idx, ref, &nt, err);
	if (!m)
		return -1;
	if (image_from_manifest(st, json_get_str(m, "digest", ""), nt, out, err) < 0)
		return error_wrap(err, "image '%s'", ref);
	return 0;
}

static char **json_strv(const json_t *a, struct error **err)
{
	size_t i, n;
	char **v;
	json_t *s;

	if (!a || json_is_null(a))
		return NULL;
	n = json_array_size(a);
	v = calloc(n + 1, sizeof(*v));
	if (!v) {
		error_errno(err, "image config");
		return NULL;
	}
	json_array_foreach (a, i, s) {
		v[i] = strdup(json_string_value(s) ? json_string_value(s) : "");
	}
	return v;
}

int image_exec_config(const struct image *img, struct image_exec *out, struct error **err)
{
	json_t *c = json_get_obj(img->config, "config");
	const char *s;

	memset(out, 0, sizeof(*out));
	if (!c)
		return 0;
	out->env = json_strv(json_get_array(c, "Env"), err);
	out->entrypoint = json_strv(json_get_array(c, "Entrypoint"), err);
	out->cmd = json_strv(json_get_array(c, "Cmd"), err);
	if ((s = json_get_str(c, "WorkingDir", NULL)) && *s)
		out->workdir = strdup(s);
	if ((s = json_get_str(c, "User", NULL)) && *s)
		out->user = strdup(s);
	return 0;
}

void image_strv_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; n == SIZE_MAX ? v[i] != NULL : i < n; i++)
		free(v[i]);
	free(v);
}

void image_exec_release(struct image_exec *x)
{
	image_strv_free(x->env, SIZE_MAX);
	image_strv_free(x->entrypoint, SIZE_MAX);
	image_strv_free(x->cmd, SIZE_MAX);
	free(x->workdir);
	free(x->user);
	memset(x, 0, sizeof(*x));
}

/* --- tags --------------------------------------------------------------------------------- */

int image_tag_digest(struct image_store *st, const char *ref, const char *manifest_digest,
		     struct error **err)
{
	cleanup_close int lk = -1;
	cleanup_free char *nt = NULL, *path = NULL;
	json_auto_t *idx = NULL, *man = NULL;
	struct image_ref r;
	struct stat sb;

	if (image_ref_parse(ref, &r, err) < 0)
		return -1;
	nt = image_ref_name_tag(&r);
	image_ref_release(&r);
	path = store_blob_path(st, manifest_digest, err);
	if (!path)
		return -1;
	if (stat(path, &sb) < 0)
		return error_failed(err, "manifest '%s' is not in the store", manifest_digest);
	/* The index entry carries the manifest's own media type (OCI or Docker schema 2). */
	{
		cleanup_free char *m = NULL;
		size_t mlen = 0;

		if (image_blob_read(st, manifest_digest, MAX_MANIFEST_BYTES, &m, &mlen, err) < 0)
			return -1;
		man = json_parse(m, mlen, "manifest", err);
		if (!man)
			return error_wrap(err, "tag '%s'", ref);
	}
	lk = store_lock(st, "index", LOCK_EX, err);
	if (lk < 0)
		return -1;
	idx = store_index_read(st, err);
	if (!idx)
		return -1;
	index_set_tag(idx, nt, manifest_digest, json_get_str(man, "mediaType", MT_OCI_MANIFEST),
		      sb.st_size);
	return store_index_write(st, idx, err);
}

int image_tag(struct image_store *st, const char *src, const char *dst, struct error **err)
{
	struct image *img = NULL;
	int rc;

	if (image_lookup(st, src, &img, err) < 0)
		return -1;
	rc = image_tag_digest(st, dst, img->manifest_digest, err);
	image_free(img);
	return rc;
}

int image_remove(struct image_store *st, const char *ref, struct error **err)
{
	cleanup_close int lk = store_lock(st, "index", LOCK_EX, err);
	json_auto_t *idx = NULL;
	json_t *ms, *m;
	const char *nt = NULL;
	char *digest;
	size_t i;

	if (lk < 0)
		return -1;
	idx = store_index_read(st, err);
	if (!idx)
		return -1;
	m = index_find(idx, ref, &nt, err);
	if (!m)
		return -1;
	ms = json_get_array(idx, "manifests");
	if (nt) {
		json_array_foreach (ms, i, m) {
			const char *rn = entry_ref_name(m);

			if (rn && !strcmp(rn, nt)) {
				json_array_remove(ms, i);
				break;
			}
		}
	} else {
		digest = strdup(json_get_str(m, "digest", ""));
		for (i = json_array_size(ms); i-- > 0;)
			if (!strcmp(json_get_str(json_array_get(ms, i), "digest", ""), digest))
				json_array_remove(ms, i);
		free(digest);
	}
	return store_index_write(st, idx, err);
}

void image_summaries_free(struct image_summary *s, size_t n)
{
	for (size_t i = 0; s && i < n; i++) {
		free(s[i].name);
		free(s[i].tag);
		free(s[i].manifest_digest);
		free(s[i].created);
	}
	free(s);
}

static int summary_cmp(const void *a, const void *b)
{
	const struct image_summary *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : strcmp(x->tag, y->tag);
}

int image_list(struct image_store *st, struct image_summary **out, size_t *n, struct error **err)
{
	json_auto_t *idx = store_index_read(st, err);
	struct image_summary *s;
	json_t *ms, *m;
	size_t i, k = 0;

	if (!idx)
		return -1;
	ms = json_get_array(idx, "manifests");
	s = calloc(json_array_size(ms) + 1, sizeof(*s));
	if (!s)
		return error_errno(err, "list images");
	json_array_foreach (ms, i, m) {
		const char *rn = entry_ref_name(m), *colon;
		struct image *img = NULL;
		struct error *e = NULL;

		if (!rn || !(colon = strrchr(rn, ':')) || strchr(colon, '/'))
			continue;
		if (image_from_manifest(st, json_get_str(m, "digest", ""), rn, &img, &e) < 0) {
			log_warn("image '%s': %s", rn, e->msg);
			error_free(e);
			continue;
		}
		s[k].name = strndup(rn, (size_t)(colon - rn));
		s[k].tag = strdup(colon + 1);
		s[k].manifest_digest = strdup(img->manifest_digest);
		s[k].size = json_get_int(json_get_obj(img->manifest, "config"), "size", 0);
		for (size_t j = 0; j < img->n_layers; j++)
			s[k].size += img->layers[j].size;
		if (json_get_str(img->config, "created", NULL))
			s[k].created = strdup(json_get_str(img->config, "created", NULL));
		image_free(img);
		k++;
	}
	qsort(s, k, sizeof(*s), summary_cmp);
	*out = s;
	*n = k;
	return 0;
}
