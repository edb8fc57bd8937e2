/* Tests for lib/json.c: typed getters, strict parsing, atomic save, capped load. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/fs.h"
#include "lib/json.h"
#include "tests/unit/tap.h"

int main(void)
{
	struct error *err = NULL;
	const char *text = "{\"s\":\"x\",\"i\":42,\"b\":true,\"o\":{},\"a\":[1]}";
	json_t *j, *k;
	char path[] = "/tmp/slipway-test-json.XXXXXX";
	int fd;

	plan_lazy();
	j = json_parse(text, strlen(text), "t.json", &err);
	ok(j != NULL, "parse");
	is_str(json_get_str(j, "s", NULL), "x", "string");
	is_str(json_get_str(j, "i", "def"), "def", "wrong type gives the default");
	is_int(json_get_int(j, "i", 0), 42, "integer");
	is_int(json_get_int(j, "missing", -1), -1, "missing gives the default");
	ok(json_get_bool(j, "b", false), "bool");
	ok(json_get_obj(j, "o") != NULL && json_get_obj(j, "a") == NULL, "object getter");
	ok(json_get_array(j, "a") != NULL && json_get_array(j, "o") == NULL, "array getter");

	ok(json_parse("{\"a\":1,\"a\":2}", 13, "dup.json", &err) == NULL, "duplicate keys refused");
	ok(err && err->exit_code == EXIT_USAGE && !strncmp(err->msg, "dup.json:1:", 11),
	   "error has file:line:col (%s)", err ? err->msg : "");
	error_clear(&err);
	ok(json_parse("{", 1, "bad.json", &err) == NULL, "truncated JSON refused");
	error_clear(&err);

	fd = mkstemp(path);
	close(fd);
	is_int(json_save_path(path, j, true, 0600, &err), 0, "save");
	k = json_load_path(path, 1 << 20, &err);
	ok(k && json_equal(j, k), "load gives the same value back");
	json_decref(k);
	ok(json_load_path(path, 10, &err) == NULL, "load over the cap refused");
	error_clear(&err);
	unlink(path);
	json_decref(j);
	return done_testing();
}
