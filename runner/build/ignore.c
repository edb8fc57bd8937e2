/* runner/build/ignore.c — .dockerignore patterns and matching (moby/patternmatcher's rules). */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/fs.h"
#include "runner/build/ignore.h"

#define MAX_IGNORE_BYTES (1u << 20)
#define MAX_RULES 10000

char *path_clean_rel(const char *path)
{
	cleanup_free char *tmp = strdup(path);
	char *out = malloc(strlen(path) + 1), *save = NULL;
	cleanup_free char **st = calloc(strlen(path) / 2 + 2, sizeof(char *));
	size_t n = 0, o = 0;

	if (!tmp || !out || !st) {
		free(out);
		return NULL;
	}
	for (char *c = strtok_r(tmp, "/", &save); c; c = strtok_r(NULL, "/", &save)) {
		if (!strcmp(c, "."))
			continue;
		if (!strcmp(c, "..")) {
			if (n && strcmp(st[n - 1], ".."))
				n--;
			else if (path[0] != '/')
				st[n++] = c; /* above a relative root: kept for the caller */
			continue;
		}
		st[n++] = c;
	}
	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(st[i]);

		if (i)
			out[o++] = '/';
		memcpy(out + o, st[i], l);
		o += l;
	}
	out[o] = '\0';
	return out;
}

/* Matches pattern components pc[0..np) against path components sc[0..ns): dynamic
 * programming over (pattern, path) positions, so many `**` cannot make it exponential.
 * m[i][j]: pc[i..] matches sc[j..]. */
static bool match_parts(char **pc, size_t np, char **sc, size_t ns)
{
	static const size_t W = 257;
	cleanup_free bool *m = calloc((np + 1) * W, sizeof(bool));

	if (!m)
		return false;
	m[np * W + ns] = true;
	for (size_t i = np; i-- > 0;) {
		bool dstar = !strcmp(pc[i], "**");

		for (size_t j = ns + 1; j-- > 0;) {
			if (dstar) /* zero components, or one and stay on the same pattern */
				m[i * W + j] = m[(i + 1) * W + j] || (j < ns && m[i * W + j + 1]);
			else
				m[i * W + j] = j < ns && fnmatch(pc[i], sc[j], 0) == 0 &&
					       m[(i + 1) * W + j + 1];
		}
	}
	return m[0];
}

static size_t split(char *s, char **v, size_t max)
{
	size_t n = 0;
	char *save = NULL;

	for (char *c = strtok_r(s, "/", &save); c && n < max; c = strtok_r(NULL, "/", &save))
		v[n++] = c;
	return n;
}

bool ignore_glob_match(const char *pattern, const char *path)
{
	cleanup_free char *p = strdup(pattern), *s = strdup(path);
	char *pc[256], *sc[256]; /* at most 256 each (the table's width is 257) */
	size_t np, ns;

	if (!p || !s)
		return false;
	np = split(p, pc, ARRAY_SIZE(pc));
	ns = split(s, sc, ARRAY_SIZE(sc));
	return match_parts(pc, np, sc, ns);
}

/* True when pattern matches path or one of its parent directories. */
static bool matches_or_parent(const char *pattern, const char *path)
{
	cleanup_free char *p = strdup(path);
	char *slash;

	if (!p)
		return false;
	for (;;) {
		if (ignore_glob_match(pattern, p))
			return true;
		slash = strrchr(p, '/');
		if (!slash)
			return false;
		*slash = '\0';
	}
}

bool ignore_excluded(const struct ignore *ig, const char *path)
{
	bool excluded = false;

	if (!*path)
		return false;
	for (size_t i = 0; i < ig->n; i++)
		if (matches_or_parent(ig->v[i].pattern, path))
			excluded = !ig->v[i].exception;
	return excluded;
}

void ignore_release(struct ignore *ig)
{
	for (size_t i = 0; i < ig->n; i++)
		free(ig->v[i].pattern);
	free(ig->v);
	memset(ig, 0, sizeof(*ig));
}

int ignore_parse(const char *text, size_t len, struct ignore *out, struct error **err)
{
	cleanup_free char *copy = strndup(text, len);
	int lineno = 0;

	memset(out, 0, sizeof(*out));
	if (!copy)
		return error_errno(err, ".dockerignore");
	for (char *line = copy, *next; line; line = next) {
		char *s = line, *e;
		bool exc = false;
		struct ignore_rule *v;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		lineno++;
		while (isspace((unsigned char)*s))
			s++;
		e = s + strlen(s);
		while (e > s && isspace((unsigned char)e[-1]))
			*--e = '\0';
		if (!*s || *s == '#')
			continue;
		if (*s == '!') {
			exc = true;
			s++;
			while (isspace((unsigned char)*s))
				s++;
			if (!*s) {
				ignore_release(out);
				return error_usage(
				    err, ".dockerignore:%d: illegal exclusion pattern '!'", lineno);
			}
		}
		if (out->n >= MAX_RULES) {
			ignore_release(out);
			return error_usage(err, ".dockerignore: more than %d patterns", MAX_RULES);
		}
		v = realloc(out->v, (out->n + 1) * sizeof(*v));
		if (!v) {
			ignore_release(out);
			return error_errno(err, ".dockerignore");
		}
		out->v = v;
		if (!(v[out->n].pattern = path_clean_rel(s))) {
			ignore_release(out);
			return error_errno(err, ".dockerignore");
		}
		v[out->n++].exception = exc;
		out->has_exceptions |= exc;
	}
	return 0;
}

int ignore_load(const char *context_dir, struct ignore *out, struct error **err)
{
	cleanup_free char *path = path_join(context_dir, ".dockerignore");
	cleanup_free char *data = NULL;
	struct error *e = NULL;
	size_t len;

	memset(out, 0, sizeof(*out));
	if (!path)
		return error_errno(err, ".dockerignore");
	if (read_file(path, MAX_IGNORE_BYTES, &data, &len, &e) < 0) {
		if (e->errnum == ENOENT) {
			error_free(e);
			return 0;
		}
		error_wrap(&e, "build context");
		*err = e;
		return -1;
	}
	return ignore_parse(data, len, out, err);
}
