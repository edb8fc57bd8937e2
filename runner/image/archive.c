/* runner/image/archive.c — image save (OCI archive) and load (OCI archive or docker-save).
 *
 * Load streams every file of the archive: blobs/sha256/<hex> go straight into the store and
 * must hash to their name; other data files (docker-save layers and configs) go in under the
 * digest of their bytes; the small metadata files (index.json, manifest.json, oci-layout,
 * repositories) are kept in memory. Names are never used as paths, so a hostile archive
 * cannot write outside the store. Then every image's layers are unpacked (verifying the
 * diff_ids and refusing escapes) before anything is tagged. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "runner/image/internal.h"

#define CHUNK (1u << 20)
#define MAX_META (4u << 20)

/* --- save ----------------------------------------------------------------------------------- */

static int save_entry(struct archive *a, const char *name, mode_t type, int64_t size,
		      const char *path_for_err, struct error **err)
{
	struct archive_entry *e = archive_entry_new();
	int r;

	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, type);
	archive_entry_set_perm(e, type == AE_IFDIR ? 0755 : 0644);
	archive_entry_set_size(e, type == AE_IFDIR ? 0 : size);
	archive_entry_set_mtime(e, 0, 0);
	r = archive_write_header(a, e);
	archive_entry_free(e);
	if (r < ARCHIVE_WARN)
		return error_failed(err, "save '%s': %s", path_for_err, archive_error_string(a));
	return 0;
}

static int save_bytes(struct archive *a, const char *name, const char *data, size_t len,
		      const char *path, struct error **err)
{
	if (save_entry(a, name, AE_IFREG, (int64_t)len, path, err) < 0)
		return -1;
	if (len && archive_write_data(a, data, len) < 0)
		return error_failed(err, "save '%s': %s", path, archive_error_string(a));
	return 0;
}

static int save_blob(struct image_store *st, struct archive *a, const char *digest, char *buf,
		     const char *path, struct error **err)
{
	cleanup_close int fd = -1;
	char name[128];
	int64_t size;

	if (image_blob_open(st, digest, &fd, &size, err) < 0)
		return -1;
	snprintf(name, sizeof(name), "blobs/sha256/%s", digest + 7);
	if (save_entry(a, name, AE_IFREG, size, path, err) < 0)
		return -1;
	for (int64_t left = size; left > 0;) {
		ssize_t n = read(fd, buf, CHUNK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return error_errno(err, "save: read blob '%s'", digest);
		if (n > left)
			n = (ssize_t)left;
		if (archive_write_data(a, buf, (size_t)n) < 0)
			return error_failed(err, "save '%s': %s", path, archive_error_string(a));
		left -= n;
	}
	return 0;
}

int image_save(struct image_store *st, const char *ref, const char *path, struct error **err)
{
	struct image *img = NULL;
	struct archive *a = NULL;
	cleanup_free char *tmp = NULL, *buf = NULL, *idx_bytes = NULL;
	json_auto_t *idx = NULL;
	json_t *desc;
	int fd = -1, rc = -1;

	if (image_lookup(st, ref, &img, err) < 0)
		return -1;
	desc = json_pack("{s:s, s:s, s:I}", "mediaType", MT_OCI_MANIFEST, "digest",
			 img->manifest_digest, "size", (json_int_t)img->manifest_size);
	if (img->ref)
		json_object_set_new(desc, "annotations",
				    json_pack("{s:s}", REF_NAME_ANNOTATION, img->ref));
	idx = json_pack("{s:i, s:s, s:[o]}", "schemaVersion", 2, "mediaType", MT_OCI_INDEX,
			"manifests", desc);
	idx_bytes = json_dumps(idx, JSON_COMPACT | JSON_SORT_KEYS);
	buf = malloc(CHUNK);
	if (asprintf(&tmp, "%s.tmp-XXXXXX", path) < 0 || !idx_bytes || !buf) {
		error_errno(err, "save '%s'", path);
		goto out;
	}
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		error_errno(err, "save: create '%s'", tmp);
		goto out;
	}
	a = archive_write_new();
	archive_write_set_format_pax_restricted(a);
	if (archive_write_open_fd(a, fd) != ARCHIVE_OK) {
		error_failed(err, "save '%s': %s", path, archive_error_string(a));
		goto out;
	}
	if (save_bytes(a, "oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}", 30, path, err) < 0 ||
	    save_bytes(a, "index.json", idx_bytes, strlen(idx_bytes), path, err) < 0 ||
	    save_entry(a, "blobs", AE_IFDIR, 0, path, err) < 0 ||
	    save_entry(a, "blobs/sha256", AE_IFDIR, 0, path, err) < 0 ||
	    save_blob(st, a, img->manifest_digest, buf, path, err) < 0 ||
	    save_blob(st, a, img->config_digest, buf, path, err) < 0)
		goto out;
	for (size_t i = 0; i < img->n_layers; i++) {
		bool dup = false;

		for (size_t j = 0; j < i; j++)
			dup = dup || !strcmp(img->layers[j].digest, img->layers[i].digest);
		if (!dup && save_blob(st, a, img->layers[i].digest, buf, path, err) < 0)
			goto out;
	}
	if (archive_write_close(a) != ARCHIVE_OK) {
		error_failed(err, "save '%s': %s", path, archive_error_string(a));
		goto out;
	}
	if (fsync(fd) < 0 || rename(tmp, path) < 0) {
		error_errno(err, "save '%s'", path);
		goto out;
	}
	free(tmp);
	tmp = NULL;
	rc = 0;
out:
	if (a)
		archive_write_free(a);
	if (fd >= 0)
		close(fd);
	if (tmp)
		unlink(tmp);
	image_free(img);
	return rc;
}

/* --- load ----------------------------------------------------------------------------------- */

struct named_blob {
	char *name;
	char digest[IMAGE_DIGEST_LEN + 1];
	int64_t size;
};

struct load {
	struct image_store *st;
	const char *path;
	char *index, *manifest_json;
	size_t index_len, manifest_json_len;
	struct named_blob *files;
	size_t nfiles, capfiles;
	char **added; /* digests this load put into the store */
	size_t nadded, capadded;
	char **tags; /* NAME:TAG */
	char **tag_digests;
	size_t ntags;
};

static int push_str(char ***v, size_t *n, size_t *cap, const char *s)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		char **nv = realloc(*v, (c + 1) * sizeof(*nv));

		if (!nv)
			return -1;
		*v = nv;
		*cap = c;
	}
	if (!((*v)[*n] = strdup(s)))
		return -1;
	(*n)++;
	(*v)[*n] = NULL;
	return 0;
}

static int read_meta(struct archive *a, struct archive_entry *e, const char *name, char **out,
		     size_t *len, struct error **err)
{
	int64_t size = archive_entry_size(e);
	char *d;
	la_ssize_t n;

	if (size < 0 || size > MAX_META)
		return error_failed(err, "load: '%s' is larger than %u bytes", name, MAX_META);
	d = malloc((size_t)size + 1);
	if (!d)
		return error_errno(err, "load");
	n = archive_read_data(a, d, (size_t)size);
	if (n != size) {
		free(d);
		return error_failed(err, "load: read '%s': %s", name,
				    n < 0 ? archive_error_string(a) : "short read");
	}
	d[size] = '\0';
	free(*out);
	*out = d;
	*len = (size_t)size;
	return 0;
}

static int read_blob(struct load *l, struct archive *a, const char *name, char *buf,
		     struct error **err)
{
	struct image_blob_writer *w = NULL;
	char expected[IMAGE_DIGEST_LEN + 1], digest[IMAGE_DIGEST_LEN + 1];
	const char *hex = NULL;
	bool existed;
	la_ssize_t n;
	int64_t size;
	struct named_blob *f;

	if (!strncmp(name, "blobs/sha256/", 13) && sha256_hex_valid(name + 13))
		hex = name + 13;
	if (hex)
		snprintf(expected, sizeof(expected), "sha256:%s", hex);
	if (image_blob_begin(l->st, &w, err) < 0)
		return -1;
	while ((n = archive_read_data(a, buf, CHUNK)) > 0)
		if (image_blob_write(w, buf, (size_t)n, err) < 0) {
			image_blob_abort(w);
			return -1;
		}
	if (n < 0) {
		image_blob_abort(w);
		return error_failed(err, "load '%s': entry '%s': %s", l->path, name,
				    archive_error_string(a));
	}
	if (blob_commit_ex(w, hex ? expected : NULL, digest, &size, &existed, err) < 0)
		return error_wrap(err, "load '%s': entry '%s'", l->path, name);
	if (!existed && push_str(&l->added, &l->nadded, &l->capadded, digest) < 0)
		return error_errno(err, "load");
	if (l->nfiles == l->capfiles) {
		size_t c = l->capfiles ? l->capfiles * 2 : 16;
		struct named_blob *nf = realloc(l->files, c * sizeof(*nf));

		if (!nf)
			return error_errno(err, "load");
		l->files = nf;
		l->capfiles = c;
	}
	f = &l->files[l->nfiles++];
	f->name = strdup(name);
	memcpy(f->digest, digest, sizeof(digest));
	f->size = size;
	return f->name ? 0 : error_errno(err, "load");
}

static const struct named_blob *find_file(const struct load *l, const char *name)
{
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	for (size_t i = 0; i < l->nfiles; i++)
		if (!strcmp(l->files[i].name, name))
			return &l->files[i];
	return NULL;
}

static int read_archive(struct load *l, struct error **err)
{
	struct archive *a = archive_read_new();
	struct archive_entry *e;
	cleanup_free char *buf = malloc(CHUNK);
	int r, rc = -1;

	if (!a || !buf)
		return error_errno(err, "load");
	archive_read_support_filter_gzip(a);
	archive_read_support_filter_zstd(a);
	archive_read_support_format_tar(a);
	if (archive_read_open_filename(a, l->path, CHUNK) != ARCHIVE_OK) {
		error_failed(err, "load '%s': %s", l->path, archive_error_string(a));
		goto out;
	}
	while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *name = archive_entry_pathname(e);

		if (!name || archive_entry_filetype(e) != AE_IFREG)
			continue;
		while (name[0] == '.' && name[1] == '/')
			name += 2;
		if (!strcmp(name, "index.json")) {
			if (read_meta(a, e, name, &l->index, &l->index_len, err) < 0)
				goto out;
		} else if (!strcmp(name, "manifest.json")) {
			if (read_meta(a, e, name, &l->manifest_json, &l->manifest_json_len, err) <
			    0)
				goto out;
		} else if (!strcmp(name, "oci-layout") || !strcmp(name, "repositories") ||
			   !strcmp(name, "VERSION") || strstr(name, "/VERSION") ||
			   (strstr(name, "/json") &&
			    !strncmp(name + strlen(name) - 5, "/json", 5))) {
			continue;
		} else if (read_blob(l, a, name, buf, err) < 0) {
			goto out;
		}
	}
	if (r != ARCHIVE_EOF) {
		error_failed(err, "load '%s': %s", l->path, archive_error_string(a));
		goto out;
	}
	rc = 0;
out:
	archive_read_free(a);
	return rc;
}

static int add_tag(struct load *l, const char *ref, const char *digest, struct error **err)
{
	struct image_ref r;
	size_t cap = l->ntags;
	char *nt;

	if (image_ref_parse(ref, &r, err) < 0)
		return error_wrap(err, "load '%s'", l->path);
	nt = image_ref_name_tag(&r);
	image_ref_release(&r);
	if (!nt)
		return error_errno(err, "load");
	cap = l->ntags;
	if (push_str(&l->tags, &l->ntags, &cap, nt) < 0) {
		free(nt);
		return error_errno(err, "load");
	}
	free(nt);
	l->ntags--;
	cap = l->ntags;
	if (push_str(&l->tag_digests, &l->ntags, &cap, digest) < 0)
		return error_errno(err, "load");
	return 0;
}

/* Verifies an image (manifest, config, layer blobs) and unpacks its layers. */
static int check_image(struct load *l, const char *mdigest, struct error **err)
{
	struct image *img = NULL;
	char **dirs = NULL;
	size_t n = 0;

	if (image_from_manifest(l->st, mdigest, NULL, &img, err) < 0)
		return error_wrap(err, "load '%s'", l->path);
	for (size_t i = 0; i < img->n_layers; i++)
		if (!image_blob_exists(l->st, img->layers[i].digest)) {
			error_failed(err, "load '%s': layer '%s' is missing from the archive",
				     l->path, img->layers[i].digest);
			image_free(img);
			return -1;
		}
	if (image_rootfs(l->st, img, &dirs, &n, err) < 0) {
		image_free(img);
		return error_wrap(err, "load '%s'", l->path);
	}
	image_strv_free(dirs, n);
	image_free(img);
	return 0;
}

static int load_oci(struct load *l, struct error **err)
{
	json_auto_t *idx = json_parse(l->index, l->index_len, "index.json", err);
	json_t *ms, *m;
	size_t i;

	if (!idx)
		return error_wrap(err, "load '%s'", l->path);
	ms = json_get_array(idx, "manifests");
	if (!ms || json_array_size(ms) == 0)
		return error_failed(err, "load '%s': index.json lists no image", l->path);
	json_array_foreach (ms, i, m) {
		const char *d = json_get_str(m, "digest", ""),
			   *mt = json_get_str(m, "mediaType", "");
		json_t *ann = json_get_obj(m, "annotations");
		const char *name = json_get_str(ann, "io.containerd.image.name", NULL);

		if (!name)
			name = json_get_str(ann, REF_NAME_ANNOTATION, NULL);
		/* An entry without mediaType is checked by the manifest's own. */
		if (*mt && strcmp(mt, MT_OCI_MANIFEST) && strcmp(mt, MT_DOCKER_MANIFEST))
			return error_failed(err, "load '%s': '%s' is a '%s', not an image manifest",
					    l->path, d, mt);
		if (!digest_valid(d) || !image_blob_exists(l->st, d))
			return error_failed(err, "load '%s': manifest '%s' is not in the archive",
					    l->path, d);
		if (check_image(l, d, err) < 0)
			return -1;
		if (name && add_tag(l, name, d, err) < 0)
			return -1;
	}
	if (l->ntags == 0)
		return error_failed(err, "load '%s': the archive names no image (no %s annotation)",
				    l->path, REF_NAME_ANNOTATION);
	return 0;
}

/* docker save: manifest.json lists Config, RepoTags and Layers (uncompressed tars, or any
 * blob); a new OCI manifest is written for each image. */
static int load_docker(struct load *l, struct error **err)
{
	json_auto_t *list =
	    json_parse(l->manifest_json, l->manifest_json_len, "manifest.json", err);
	json_t *item;
	size_t i;

	if (!list)
		return error_wrap(err, "load '%s'", l->path);
	if (!json_is_array(list) || json_array_size(list) == 0)
		return error_failed(err, "load '%s': manifest.json lists no image", l->path);
	json_array_foreach (list, i, item) {
		const struct named_blob *cfg = find_file(l, json_get_str(item, "Config", ""));
		json_t *layers = json_get_array(item, "Layers"),
		       *tags = json_get_array(item, "RepoTags");
		json_auto_t *man = NULL;
		json_t *ml, *lname, *t;
		cleanup_free char *mbytes = NULL;
		char mdigest[IMAGE_DIGEST_LEN + 1];
		size_t k;

		if (!cfg || !layers)
			return error_failed(err,
					    "load '%s': manifest.json entry %zu: config or "
					    "layers missing from the archive",
					    l->path, i);
		man = json_pack("{s:i, s:s, s:{s:s, s:s, s:I}, s:[]}", "schemaVersion", 2,
				"mediaType", MT_OCI_MANIFEST, "config", "mediaType", MT_OCI_CONFIG,
				"digest", cfg->digest, "size", (json_int_t)cfg->size, "layers");
		ml = json_get_array(man, "layers");
		json_array_foreach (layers, k, lname) {
			const struct named_blob *f =
			    find_file(l, json_string_value(lname) ? json_string_value(lname) : "");

			if (!f)
				return error_failed(err, "load '%s': layer '%s' is missing",
						    l->path, json_string_value(lname));
			json_array_append_new(ml, json_pack("{s:s, s:s, s:I}", "mediaType",
							    MT_OCI_LAYER, "digest", f->digest,
							    "size", (json_int_t)f->size));
		}
		mbytes = json_dumps(man, JSON_COMPACT | JSON_SORT_KEYS);
		if (!mbytes || image_blob_put(l->st, mbytes, strlen(mbytes), mdigest, err) < 0)
			return error_wrap(err, "load '%s'", l->path);
		if (push_str(&l->added, &l->nadded, &l->capadded, mdigest) < 0)
			return error_errno(err, "load");
		if (check_image(l, mdigest, err) < 0)
			return -1;
		json_array_foreach (tags, k, t) {
			if (json_string_value(t) &&
			    add_tag(l, json_string_value(t), mdigest, err) < 0)
				return -1;
		}
	}
	if (l->ntags == 0)
		return error_failed(err, "load '%s': the archive names no image (no RepoTags)",
				    l->path);
	return 0;
}

int image_load(struct image_store *st, const char *path, char ***refs, struct error **err)
{
	cleanup_close int gc = store_lock(st, "gc", LOCK_SH, err);
	struct load l = {.st = st, .path = path};
	int rc = -1;

	if (gc < 0)
		return -1;
	if (read_archive(&l, err) < 0)
		goto out;
	if (l.index)
		rc = load_oci(&l, err);
	else if (l.manifest_json)
		rc = load_docker(&l, err);
	else
		rc = error_failed(err,
				  "load '%s': neither an OCI archive (index.json) nor a "
				  "docker-save archive (manifest.json)",
				  path);
	if (rc == 0) {
		cleanup_close int lk = store_lock(st, "index", LOCK_EX, err);
		json_auto_t *idx = lk >= 0 ? store_index_read(st, err) : NULL;

		rc = -1;
		if (idx) {
			for (size_t i = 0; i < l.ntags; i++) {
				cleanup_free char *p = store_blob_path(st, l.tag_digests[i], NULL);
				struct stat sb;

				if (p && stat(p, &sb) == 0)
					index_set_tag(idx, l.tags[i], l.tag_digests[i],
						      MT_OCI_MANIFEST, sb.st_size);
			}
			rc = store_index_write(st, idx, err);
		}
	}
out:
	if (rc < 0) {
		for (size_t i = 0; i < l.nadded; i++) {
			cleanup_free char *p = store_blob_path(st, l.added[i], NULL);

			if (p)
				unlink(p);
		}
	} else if (refs) {
		*refs = steal_pointer(&l.tags);
	}
	for (size_t i = 0; i < l.nfiles; i++)
		free(l.files[i].name);
	free(l.files);
	free(l.index);
	free(l.manifest_json);
	image_strv_free(l.added, l.nadded);
	image_strv_free(l.tags, l.ntags);
	image_strv_free(l.tag_digests, l.ntags);
	return rc;
}
