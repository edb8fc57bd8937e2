/* tests/fuzz/fuzz-dockerfile.c — fuzzes what reads a Dockerfile from outside: the parser
 * (directives, continuations, flags, JSON and shell forms), word splitting and ${VAR}
 * substitution of every word, and .dockerignore parsing and matching.
 *
 * libFuzzer:  clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -D_GNU_SOURCE \
 *               tests/fuzz/fuzz-dockerfile.c runner/build/dockerfile.c runner/build/ignore.c \
 *               lib/buf.c lib/error.c lib/fs.c -ljansson -o fuzz-dockerfile
 *             ./fuzz-dockerfile -max_total_time=60 tests/fixtures/build
 * Without -fsanitize=fuzzer (-DFUZZ_MAIN), it runs each file named on the command line once:
 * a regression runner for crashes found before. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/build/dockerfile.h"
#include "runner/build/ignore.h"

static const char *lookup(void *ctx, const char *name)
{
	(void)ctx;
	if (name[0] == 'A')
		return "value with spaces";
	if (name[0] == 'E')
		return "";
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct dockerfile df;
	struct ignore ig;
	struct error *err = NULL;

	if (dockerfile_parse((const char *)data, size, "Dockerfile", &df, &err) == 0) {
		for (size_t i = 0; i < df.n; i++) {
			for (size_t k = 0; k < df.v[i].nargs; k++) {
				char *out = NULL;

				if (df_expand(df.v[i].args[k], df.escape, lookup, NULL, &out,
					      &err) < 0)
					error_clear(&err);
				free(out);
			}
		}
		dockerfile_release(&df);
	} else {
		error_clear(&err);
	}
	if (ignore_parse((const char *)data, size, &ig, &err) == 0) {
		static const char *const paths[] = {"a", "a/b/c.txt", "docs/README.md", ".git/x",
						    "deep/x/y/z.tmp"};

		for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
			(void)ignore_excluded(&ig, paths[i]);
		ignore_release(&ig);
	} else {
		error_clear(&err);
	}
	return 0;
}

#ifdef FUZZ_MAIN
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		char *buf;
		long n;

		if (!f)
			continue;
		fseek(f, 0, SEEK_END);
		n = ftell(f);
		rewind(f);
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n)
			LLVMFuzzerTestOneInput((const uint8_t *)buf, (size_t)n);
		free(buf);
		fclose(f);
	}
	return 0;
}
#endif
