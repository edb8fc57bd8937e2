/* lib/json.c — jansson helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/fs.h"
#include "lib/json.h"

const char *json_get_str(const json_t *obj, const char *key, const char *def)
{
	json_t *v = json_object_get(obj, key);

	return json_is_string(v) ? json_string_value(v) : def;
}

int64_t json_get_int(const json_t *obj, const char *key, int64_t def)
{
	json_t *v = json_object_get(obj, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

bool json_get_bool(const json_t *obj, const char *key, bool def)
{
	json_t *v = json_object_get(obj, key);

	return json_is_boolean(v) ? json_is_true(v) : def;
}

json_t *json_get_obj(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_object(v) ? v : NULL;
}

json_t *json_get_array(const json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	return json_is_array(v) ? v : NULL;
}

json_t *json_parse(const char *text, size_t len, const char *what, struct error **err)
{
	json_error_t je;
	json_t *j = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);

	if (!j)
		error_usage(err, "%s:%d:%d: invalid JSON: %s", what, je.line, je.column, je.text);
	return j;
}

json_t *json_load_path(const char *path, size_t max, struct error **err)
{
	cleanup_free char *text = NULL;
	size_t len = 0;

	if (read_file(path, max, &text, &len, err) < 0)
		return NULL;
	return json_parse(text, len, path, err);
}

int json_save_path(const char *path, const json_t *j, bool pretty, int mode, struct error **err)
{
	size_t flags = JSON_SORT_KEYS | (pretty ? JSON_INDENT(2) : JSON_COMPACT);
	cleanup_free char *text = json_dumps(j, flags);
	size_t len;

	if (!text)
		return error_set(err, EXIT_INTERNAL, "cannot encode JSON for '%s'", path);
	len = strlen(text);
	text[len] = '\0';
	{
		cleanup_free char *line = NULL;

		if (asprintf(&line, "%s\n", text) < 0)
			return error_errno(err, "encode '%s'", path);
		return write_file_atomic(path, line, len + 1, mode, err);
	}
}

int json_print(const json_t *j, struct error **err)
{
	if (json_dumpf(j, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) < 0 ||
	    putchar('\n') == EOF || fflush(stdout) == EOF)
		return error_errno(err, "write JSON to stdout");
	return 0;
}
