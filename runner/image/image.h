/* runner/image/image.h — the OCI image store: images in an OCI image layout at $DATA/images,
 * layers unpacked once into $DATA/layers/<hex of diff_id>/ to serve as overlay lower dirs.
 *
 * Who uses what:
 *   container engine  image_lookup, image_exec_config, image_pin, image_rootfs,
 *                     image_overlay_lowerdir
 *   Dockerfile builder image_layer_from_dir (pack an upper dir, whiteouts converted),
 *                     image_commit (config + manifest + tags, atomically)
 *   registry client   image_blob_* (streamed, verified), image_blob_read, image_tag_digest
 *   cli/cmd-image.c   everything else
 *
 * Concurrency: any number of slipway processes may use one store. index.json is changed
 * under an exclusive flock of $DATA/images/.lock-index; blobs are written to $DATA/tmp,
 * verified and renamed into blobs/sha256; layers are unpacked into a temp dir and renamed.
 * Every operation that adds blobs or layer dirs holds a shared flock of
 * $DATA/images/.lock-gc; image_prune holds it exclusively, so it never removes what another
 * process is still writing.
 *
 * Live containers: a container pins the layers it mounts with image_pin(), which writes the
 * file $DATA/containers/<id>/layers (one diff_id per line). image_prune never removes a blob
 * or a layer dir named in any $DATA/containers/<id>/layers file; the engine removes the file
 * (with the container dir) when the container is gone.
 *
 * All strings returned are owned by the caller unless a comment says "borrowed".
 */
#ifndef SLIPWAY_RUNNER_IMAGE_IMAGE_H
#define SLIPWAY_RUNNER_IMAGE_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/error.h"

#define IMAGE_DIGEST_LEN (7 + 64) /* "sha256:" + hex */

#define MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define MT_DOCKER_LAYER_GZIP "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define MT_DOCKER_LAYER_ZSTD "application/vnd.docker.image.rootfs.diff.tar.zstd"
#define MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar"

struct image_store;

/* Opens (creating when missing) the store under data_dir: images/ (oci-layout, index.json,
 * blobs/sha256), layers/, tmp/. */
int image_store_open(const char *data_dir, struct image_store **out, struct error **err);
void image_store_close(struct image_store *st); /* NULL is fine */
/* Borrowed paths: "$DATA/images", "$DATA/layers". */
const char *image_store_layout_dir(const struct image_store *st);
const char *image_store_layers_dir(const struct image_store *st);
/* Shows a progress line on stderr during long work (unpack, pack) when enabled. */
void image_store_set_progress(struct image_store *st, bool on);

/* A lease keeps image_prune (in any process) from running while it is held: take one around
 * a sequence that writes blobs and tags them later (the builder's image_layer_from_dir ...
 * image_commit, the registry client's pull ... image_tag_digest, the engine's image_lookup ...
 * image_pin). Single calls take one themselves. Returns a lock fd; give it to
 * image_store_unlease. Leases nest. */
int image_store_lease(struct image_store *st, struct error **err);
void image_store_unlease(int lease);

/* --- references -------------------------------------------------------------------------- */

/* "NAME[:TAG][@DIGEST]" as Docker reads it: NAME is [HOST[:PORT]/]PATH in lowercase
 * ([a-z0-9] separated by '.', '_', '__', '-', '/'); TAG defaults to "latest" when there is no
 * digest. The index annotation org.opencontainers.image.ref.name holds "NAME:TAG". */
struct image_ref {
	char *name;   /* owned */
	char *tag;    /* owned; NULL only when a digest was given without a tag */
	char *digest; /* owned; "sha256:<hex>" or NULL */
};
int image_ref_parse(const char *s, struct image_ref *out, struct error **err);
void image_ref_release(struct image_ref *r);
/* "NAME:TAG" (the ref.name annotation); caller frees. */
char *image_ref_name_tag(const struct image_ref *r);

/* --- images ------------------------------------------------------------------------------ */

struct image_layer {
	char *digest;	  /* blob digest "sha256:..." */
	char *media_type; /* one of MT_*_LAYER* */
	int64_t size;	  /* blob size */
	char *diff_id;	  /* digest of the uncompressed tar, from the config */
};

struct image {
	char *ref;	       /* the NAME:TAG it was found by; NULL when looked up by digest */
	char *manifest_digest; /* "sha256:..." */
	int64_t manifest_size;
	char *config_digest;
	json_t *manifest;	    /* owned reference */
	json_t *config;		    /* owned reference: the whole image config */
	struct image_layer *layers; /* bottom layer first, as in the manifest */
	size_t n_layers;
};
void image_free(struct image *img); /* NULL is fine */

/* Finds "NAME[:TAG]", "NAME@DIGEST" or a bare manifest digest "sha256:<hex>" (also a unique
 * hex prefix of at least 12 digits). Not found: exit 1 "no such image 'x'". Verifies the
 * manifest and config blobs' digests and that diff_ids match the layers. */
int image_lookup(struct image_store *st, const char *ref, struct image **out, struct error **err);

/* What a container takes from the image config (the "config" object). NULL-terminated
 * arrays, NULL when absent. Caller releases with image_exec_release. */
struct image_exec {
	char **env; /* "K=V" */
	char **entrypoint;
	char **cmd;
	char *workdir;
	char *user;
};
int image_exec_config(const struct image *img, struct image_exec *out, struct error **err);
void image_exec_release(struct image_exec *x);

/* The overlay lower dirs of img, topmost first: absolute paths $DATA/layers/<hex>, each
 * unpacked (and its diff_id verified) on first use. Caller frees with image_strv_free. */
int image_rootfs(struct image_store *st, const struct image *img, char ***lower_dirs, size_t *n,
		 struct error **err);
void image_strv_free(char **v, size_t n); /* also frees NULL-terminated arrays with n=SIZE_MAX */

/* How to mount many layers. Builds the overlay "lowerdir=" value for lower_dirs (topmost
 * first, as image_rootfs gives them). When the absolute paths fit in a mount option (a page,
 * with room for upperdir/workdir), *chdir_to is NULL. Otherwise the value uses the short
 * relative names (the hex of each diff_id) and *chdir_to is $DATA/layers: the engine must
 * chdir there before mount(2) (overlayfs resolves relative lower dirs against the cwd) and
 * pass upperdir/workdir as absolute paths; reserve bytes are left for them. Fails when even
 * the relative form does not fit (about 60 layers). Caller frees both. */
int image_overlay_lowerdir(const struct image_store *st, char *const *lower_dirs, size_t n,
			   size_t reserve, char **value, char **chdir_to, struct error **err);

/* Pins img's layers for a container: writes pin_path (convention:
 * $DATA/containers/<id>/layers), one diff_id per line, atomically. Call before image_rootfs;
 * remove the file when the container is gone. */
int image_pin(struct image_store *st, const struct image *img, const char *pin_path,
	      struct error **err);

/* The OCI architecture of this host ("amd64", "arm64", ...; uname's machine mapped). */
const char *image_host_arch(void);

/* --- packing (builder, import) ----------------------------------------------------------- */

enum image_compression { IMAGE_ZSTD, IMAGE_GZIP, IMAGE_UNCOMPRESSED };
int image_compression_parse(const char *s, enum image_compression *out, struct error **err);

struct image_pack_opts {
	enum image_compression compression;
	bool overlay_upper;	   /* dir is an overlay upper dir: char 0/0 -> .wh.NAME,
				      trusted.overlay.opaque=y -> .wh..wh..opq */
	int64_t source_date_epoch; /* clamp mtimes to it; -1 for none ($SOURCE_DATE_EPOCH is
				      read by image_pack_opts_default) */
};
void image_pack_opts_default(struct image_pack_opts *o);

/* Packs the tree under dir into a reproducible layer blob in the store (sorted entries, no
 * atime/ctime, empty uname/gname, pax restricted, no gzip timestamp) and fills *out (caller
 * releases with image_layer_release). The same tree gives the same digest every time. */
int image_layer_from_dir(struct image_store *st, const char *dir, const struct image_pack_opts *o,
			 struct image_layer *out, struct error **err);
void image_layer_release(struct image_layer *l);

/* Writes a new image: parent's config (or a fresh one for linux/<host arch> when parent is
 * NULL) with the layers appended to rootfs.diff_ids and a history entry each, exec_config
 * (a "config" object; NULL keeps the parent's) set, created = $SOURCE_DATE_EPOCH or now; then
 * the config and manifest blobs, and tags each of tags[0..ntags) in one index update.
 * *manifest_digest (optional) receives the new manifest's digest. */
int image_commit(struct image_store *st, const struct image *parent,
		 const struct image_layer *layers, size_t n_layers, const json_t *exec_config,
		 const char *created_by, char *const *tags, size_t ntags, char **manifest_digest,
		 struct error **err);

/* image import: a root filesystem (a directory, or a tar, tar.gz or tar.zst file: unpacked
 * securely first) becomes a one-layer image tagged ref. */
int image_import(struct image_store *st, const char *src, const char *ref,
		 const struct image_pack_opts *o, char **manifest_digest, struct error **err);

/* --- blobs (registry client) ------------------------------------------------------------- */

bool image_blob_exists(struct image_store *st, const char *digest);
/* Opens a blob read-only; *size receives its size. */
int image_blob_open(struct image_store *st, const char *digest, int *fd, int64_t *size,
		    struct error **err);
/* Reads a whole blob of at most max bytes (NUL-terminated) and verifies its digest. */
int image_blob_read(struct image_store *st, const char *digest, size_t max, char **data,
		    size_t *len, struct error **err);
/* A streamed blob upload: bytes go to a temp file in $DATA/tmp while being hashed; commit
 * checks the digest (when expected is non-NULL) and renames it into place. */
struct image_blob_writer;
int image_blob_begin(struct image_store *st, struct image_blob_writer **w, struct error **err);
int image_blob_write(struct image_blob_writer *w, const void *data, size_t len, struct error **err);
/* Frees w in every case. digest_out (optional) gets "sha256:<hex>" (IMAGE_DIGEST_LEN + 1). */
int image_blob_commit(struct image_blob_writer *w, const char *expected, char *digest_out,
		      int64_t *size, struct error **err);
void image_blob_abort(struct image_blob_writer *w); /* NULL is fine */
/* One-shot put of bytes in memory. */
int image_blob_put(struct image_store *st, const void *data, size_t len, char *digest_out,
		   struct error **err);

/* Points ref (NAME[:TAG]) at a manifest already in the store (its blob must exist). */
int image_tag_digest(struct image_store *st, const char *ref, const char *manifest_digest,
		     struct error **err);

/* --- commands ---------------------------------------------------------------------------- */

int image_tag(struct image_store *st, const char *src, const char *dst, struct error **err);
/* Removes the tag (or, for a digest, every tag of that manifest). Blobs stay until prune. */
int image_remove(struct image_store *st, const char *ref, struct error **err);

struct image_summary {
	char *name, *tag;
	char *manifest_digest;
	int64_t size;  /* config + compressed layers */
	char *created; /* RFC 3339 from the config, or NULL */
};
/* Every tagged image, sorted by name then tag. Caller frees with image_summaries_free. */
int image_list(struct image_store *st, struct image_summary **out, size_t *n, struct error **err);
void image_summaries_free(struct image_summary *s, size_t n);

struct image_prune_stats {
	size_t blobs, layer_dirs;
	uint64_t bytes; /* blob bytes freed */
};
/* Removes blobs no tagged image references and layer dirs neither a tagged image nor a pinned
 * container uses (also stale temp files and dirs). Waits for every lease to end: never call
 * it while this process holds one. */
int image_prune(struct image_store *st, struct image_prune_stats *stats, struct error **err);

/* Writes ref as an OCI archive (a tar of an OCI layout with that one image, ref.name
 * annotated "NAME:TAG" as skopeo writes it). */
int image_save(struct image_store *st, const char *ref, const char *path, struct error **err);
/* Loads an OCI archive or a docker-save archive: verifies every blob and unpacks every layer
 * (checking diff_ids), then tags what the archive names. On error nothing is tagged and the
 * blobs it added are removed. *refs (optional) receives the tags, NULL-terminated. */
int image_load(struct image_store *st, const char *path, char ***refs, struct error **err);

#endif
