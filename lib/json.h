/* lib/json.h — small helpers over jansson: typed getters, capped file load, atomic save.
 *
 * Getters return borrowed values (owned by the object) or the given default when the key is
 * missing or of another type. Use json_auto_t (jansson) for scope-bound references.
 */
#ifndef SLIPWAY_LIB_JSON_H
#define SLIPWAY_LIB_JSON_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/error.h"

const char *json_get_str(const json_t *obj, const char *key, const char *def);
int64_t json_get_int(const json_t *obj, const char *key, int64_t def);
bool json_get_bool(const json_t *obj, const char *key, bool def);
json_t *json_get_obj(const json_t *obj, const char *key);   /* NULL if not an object */
json_t *json_get_array(const json_t *obj, const char *key); /* NULL if not an array */

/* Parses text of at most len bytes; what says what is parsed, for the error. New reference. */
json_t *json_parse(const char *text, size_t len, const char *what, struct error **err);
/* Loads a JSON file of at most max bytes. New reference, or NULL with *err set. */
json_t *json_load_path(const char *path, size_t max, struct error **err);
/* Writes j (sorted keys, 2-space indent when pretty) atomically with the given mode. */
int json_save_path(const char *path, const json_t *j, bool pretty, int mode, struct error **err);
/* Prints j to stdout followed by a newline (the --json output of commands). */
int json_print(const json_t *j, struct error **err);

#endif
