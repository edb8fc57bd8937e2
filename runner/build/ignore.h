/* runner/build/ignore.h — .dockerignore: which paths of the build context COPY and ADD see.
 *
 * Docker's rules: one pattern per line, `#` comments, blank lines skipped; patterns are
 * cleaned (a leading '/' means nothing, "a/./b/../c" is "a/c"); `*`, `?`, `[...]` and `\`
 * as in filepath.Match (never across '/'), `**` as a whole component matches any number of
 * directories, zero included; `!` makes an exception. A path is excluded when the last
 * pattern matching it or one of its parent directories is not an exception.
 */
#ifndef SLIPWAY_RUNNER_BUILD_IGNORE_H
#define SLIPWAY_RUNNER_BUILD_IGNORE_H

#include <stdbool.h>
#include <stddef.h>

#include "lib/error.h"

struct ignore_rule {
	char *pattern; /* cleaned, no leading '/' */
	bool exception;
};

struct ignore {
	struct ignore_rule *v;
	size_t n;
	bool has_exceptions;
};

/* Parses the text of a .dockerignore (len bytes). */
int ignore_parse(const char *text, size_t len, struct ignore *out, struct error **err);
/* Reads dir/.dockerignore when it exists (an empty set of rules otherwise). */
int ignore_load(const char *context_dir, struct ignore *out, struct error **err);
void ignore_release(struct ignore *ig);

/* path: relative to the context root, cleaned, no leading '/'. "" (the root) never matches. */
bool ignore_excluded(const struct ignore *ig, const char *path);

/* One pattern against one path, component by component, `**` included. */
bool ignore_glob_match(const char *pattern, const char *path);

/* Cleans a relative or absolute path lexically as Go's path.Clean, without the leading '/':
 * "" for the root; ".." components that would climb above the root are kept at the front
 * (callers check for them). Caller frees. */
char *path_clean_rel(const char *path);

#endif
