/* runner/image/internal.h — what the files of runner/image share and nobody else needs:
 * the store struct, locks, blob paths, the progress line, layer stream packing/unpacking. */
#ifndef SLIPWAY_RUNNER_IMAGE_INTERNAL_H
#define SLIPWAY_RUNNER_IMAGE_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "lib/hash.h"
#include "runner/image/image.h"

struct image_store {
	char *data_dir, *layout_dir, *blobs_dir, *layers_dir, *tmp_dir, *containers_dir;
	bool progress;
};

#define REF_NAME_ANNOTATION "org.opencontainers.image.ref.name"
#define MAX_MANIFEST_BYTES (4u << 20)
#define MAX_CONFIG_BYTES (16u << 20)

/* flock()s $layout/.lock-NAME (LOCK_SH or LOCK_EX); returns the fd to close. */
int store_lock(struct image_store *st, const char *name, int how, struct error **err);
/* blobs/sha256/<hex> for a valid digest; caller frees; NULL (with err) for a bad digest. */
char *store_blob_path(struct image_store *st, const char *digest, struct error **err);
bool digest_valid(const char *digest);
/* image_blob_commit that also tells whether the blob was already in the store. */
int blob_commit_ex(struct image_blob_writer *w, const char *expected, char *digest_out,
		   int64_t *size, bool *existed, struct error **err);
/* $DATA/layers/<hex>; caller frees. */
char *store_layer_dir(struct image_store *st, const char *diff_id);
/* Reads index.json (creates an empty one in memory when missing). New reference. */
json_t *store_index_read(struct image_store *st, struct error **err);
int store_index_write(struct image_store *st, const json_t *index, struct error **err);
/* Adds or replaces the entry tagged name_tag. */
void index_set_tag(json_t *index, const char *name_tag, const char *digest, const char *mt,
		   int64_t size);
/* Parses and checks a manifest + its config from the store into an image. */
int image_from_manifest(struct image_store *st, const char *digest, const char *ref,
			struct image **out, struct error **err);
/* Unpacks one layer into $DATA/layers/<hex> when not there yet. Caller holds the gc lock. */
int store_unpack_layer(struct image_store *st, const struct image_layer *l, struct error **err);

/* A progress line on stderr, redrawn at most every 200 ms. */
struct progress {
	bool on;
	const char *verb, *what;
	uint64_t done;
	struct timespec last;
};
void progress_start(struct progress *p, bool on, const char *verb, const char *what);
void progress_add(struct progress *p, uint64_t n);
void progress_end(struct progress *p);

/* --- layer streams (layer.c) --- */
struct layer_limits {
	uint64_t max_bytes;   /* uncompressed tar bytes */
	uint64_t max_entries; /* tar entries */
};
/* Defaults: 32 GiB and 4 Mi entries; $SLIPWAY_LAYER_MAX_BYTES and
 * $SLIPWAY_LAYER_MAX_ENTRIES (sizes as parse_size reads them) lower or raise them. */
void layer_limits_default(struct layer_limits *l);
struct layer_unpack_result {
	char digest[IMAGE_DIGEST_LEN + 1];  /* of the bytes read (compressed) */
	char diff_id[IMAGE_DIGEST_LEN + 1]; /* of the uncompressed tar */
	uint64_t bytes, entries;
};
/* Unpacks the tar stream on fd (plain, gzip or zstd) into the existing empty directory root,
 * converting whiteouts to the overlay form and refusing anything that would write outside
 * root. what names the layer in errors. On error root may hold a partial tree: the caller
 * removes it. */
int layer_unpack_fd(int fd, const char *root, const char *what, const struct layer_limits *lim,
		    struct progress *pr, struct layer_unpack_result *res, struct error **err);
/* Packs dir reproducibly into the blob writer w; diff_id receives the uncompressed digest. */
int layer_pack_dir(const char *dir, struct image_blob_writer *w, const struct image_pack_opts *o,
		   struct progress *pr, char *diff_id, struct error **err);

#endif
