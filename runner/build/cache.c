/* runner/build/cache.c — the build cache: one small JSON file per step key in
 * $DATA/build-cache/<key>, naming the layer the step made (if any) and when. The layer blobs
 * live in the image store like any other; when prune removed one, its entry is a miss. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/fs.h"
#include "lib/json.h"
#include "runner/build/internal.h"

#define MAX_ENTRY_BYTES 65536

void cache_key(char out[SHA256_HEX_LEN + 1], const char *parent, ...)
{
	struct sha256 h;
	va_list ap;

	if (sha256_init(&h, NULL) < 0) {
		/* No digest engine: a key nobody can have, so every step runs. */
		snprintf(out, SHA256_HEX_LEN + 1, "%064lx", (unsigned long)random());
		return;
	}
	sha256_update(&h, "slipway-build-v1", 17);
	sha256_update(&h, parent, strlen(parent) + 1);
	va_start(ap, parent);
	for (const char *p = va_arg(ap, const char *); p; p = va_arg(ap, const char *))
		sha256_update(&h, p, strlen(p) + 1);
	va_end(ap);
	sha256_final_hex(&h, out);
}

static char *entry_path(struct builder *b, const char *key)
{
	return path_join(b->cache_dir, key);
}

bool cache_get(struct builder *b, const char *key, char created[32], struct image_layer *layer)
{
	cleanup_free char *path = entry_path(b, key);
	json_auto_t *j = NULL;
	json_t *l;
	const char *c;

	memset(layer, 0, sizeof(*layer));
	if (!path || !(j = json_load_path(path, MAX_ENTRY_BYTES, NULL)))
		return false;
	c = json_get_str(j, "created", NULL);
	if (!c || strlen(c) >= 32)
		return false;
	snprintf(created, 32, "%s", c);
	l = json_get_obj(j, "layer");
	if (!l)
		return true;
	{
		const char *d = json_get_str(l, "digest", NULL);
		const char *di = json_get_str(l, "diff_id", NULL);
		const char *mt = json_get_str(l, "mediaType", NULL);
		int64_t size = json_get_int(l, "size", -1);

		if (!d || !di || !mt || size < 0 || !image_blob_exists(b->st, d))
			return false;
		layer->digest = strdup(d);
		layer->diff_id = strdup(di);
		layer->media_type = strdup(mt);
		layer->size = size;
		if (!layer->digest || !layer->diff_id || !layer->media_type) {
			image_layer_release(layer);
			return false;
		}
	}
	return true;
}

void cache_put(struct builder *b, const char *key, const char *created,
	       const struct image_layer *layer)
{
	cleanup_free char *path = entry_path(b, key);
	json_auto_t *j = json_pack("{s:s}", "created", created);
	struct error *err = NULL;

	if (!path || !j)
		return;
	if (layer && layer->digest)
		json_object_set_new(j, "layer",
				    json_pack("{s:s, s:s, s:s, s:I}", "digest", layer->digest,
					      "diff_id", layer->diff_id, "mediaType",
					      layer->media_type, "size", (json_int_t)layer->size));
	if (json_save_path(path, j, false, 0644, &err) < 0)
		error_free(err);
}
