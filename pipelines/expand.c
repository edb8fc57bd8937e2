/* pipelines/expand.c — ${VAR} expansion of image, commands, tags and environment values.
 *
 * Only variables the run defines are replaced: any other reference is left as written, so
 * the step's shell still sees $HOME or a secret's $TOKEN (which must never be expanded into
 * a command line that logs could show).
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lib/buf.h"
#include "lib/cleanup.h"
#include "pipelines/pipeline.h"

#define EXPAND_MAX (1u << 20) /* an expanded string's cap */
#define EXPAND_DEPTH 8	      /* ${A:-${B:-...}} nesting */

int pipeline_vars_set(struct pipeline_vars *vars, const char *key, const char *value,
		      struct error **err)
{
	char *k, *v;

	if (!(v = strdup(value)))
		return error_errnum(err, ENOMEM, "variable '%s'", key);
	for (size_t i = 0; i < vars->n; i++)
		if (!strcmp(vars->v[i].key, key)) {
			free(vars->v[i].value);
			vars->v[i].value = v;
			return 0;
		}
	if (vars->n == vars->cap) {
		size_t cap = vars->cap ? vars->cap * 2 : 16;
		struct pipeline_kv *nv = reallocarray(vars->v, cap, sizeof(*nv));

		if (!nv) {
			free(v);
			return error_errnum(err, ENOMEM, "variable '%s'", key);
		}
		vars->v = nv;
		vars->cap = cap;
	}
	if (!(k = strdup(key))) {
		free(v);
		return error_errnum(err, ENOMEM, "variable '%s'", key);
	}
	vars->v[vars->n].key = k;
	vars->v[vars->n++].value = v;
	return 0;
}

static const char *vars_getn(const struct pipeline_vars *vars, const char *key, size_t len)
{
	for (size_t i = 0; vars && i < vars->n; i++)
		if (strlen(vars->v[i].key) == len && !memcmp(vars->v[i].key, key, len))
			return vars->v[i].value;
	return NULL;
}

const char *pipeline_vars_get(const struct pipeline_vars *vars, const char *key)
{
	return vars_getn(vars, key, strlen(key));
}

void pipeline_vars_release(struct pipeline_vars *vars)
{
	for (size_t i = 0; i < vars->n; i++) {
		free(vars->v[i].key);
		free(vars->v[i].value);
	}
	free(vars->v);
	memset(vars, 0, sizeof(*vars));
}

static size_t name_len(const char *s)
{
	size_t n = 0;

	if (!isalpha((unsigned char)*s) && *s != '_')
		return 0;
	while (isalnum((unsigned char)s[n]) || s[n] == '_')
		n++;
	return n;
}

/* The '}' closing the "${" at s (nested "${...}" inside count), or NULL. */
static const char *closing_brace(const char *s)
{
	int depth = 0;

	for (const char *p = s; *p; p++) {
		if (p[0] == '$' && p[1] == '$') {
			p++;
		} else if (p[0] == '$' && p[1] == '{') {
			depth++;
			p++;
		} else if (*p == '}' && --depth == 0) {
			return p;
		}
	}
	return NULL;
}

static int expand_into(struct buf *out, const char *s, size_t len, const struct pipeline_vars *vars,
		       int depth, const char *whole, struct error **err);

/* s points at "${"; end at its '}'. */
static int expand_braced(struct buf *out, const char *s, const char *end,
			 const struct pipeline_vars *vars, int depth, const char *whole,
			 struct error **err)
{
	const char *inner = s + 2, *val;
	size_t n = name_len(inner);

	if (end == inner)
		return error_usage(err, "empty '${}' in '%.80s'", whole);
	val = n ? vars_getn(vars, inner, n) : NULL;
	if (!val)
		return buf_append(out, s, (size_t)(end - s) + 1, err); /* the shell's business */
	if (inner + n == end)
		return buf_puts(out, val, err);
	if (inner[n] == ':' && (inner[n + 1] == '-' || inner[n + 1] == '+')) {
		const char *word = inner + n + 2;
		bool use_word = inner[n + 1] == '-' ? !*val : !!*val;

		if (!use_word)
			return buf_puts(out, val, err);
		if (depth >= EXPAND_DEPTH)
			return error_usage(err, "'${...}' nested too deeply in '%.80s'", whole);
		return expand_into(out, word, (size_t)(end - word), vars, depth + 1, whole, err);
	}
	/* ${VAR:0:8}, ${VAR%.*}...: not ours, the shell may know it */
	return buf_append(out, s, (size_t)(end - s) + 1, err);
}

static int expand_into(struct buf *out, const char *s, size_t len, const struct pipeline_vars *vars,
		       int depth, const char *whole, struct error **err)
{
	const char *p = s, *lim = s + len;

	while (p < lim) {
		const char *dollar = memchr(p, '$', (size_t)(lim - p));
		const char *val;
		size_t n;

		if (!dollar)
			return buf_append(out, p, (size_t)(lim - p), err);
		if (buf_append(out, p, (size_t)(dollar - p), err) < 0)
			return -1;
		p = dollar + 1;
		if (p < lim && *p == '$') {
			if (buf_putc(out, '$', err) < 0)
				return -1;
			p++;
		} else if (p < lim && *p == '{') {
			const char *end = closing_brace(dollar);

			if (!end || end >= lim)
				return error_usage(err, "unterminated '${' in '%.80s'", whole);
			if (expand_braced(out, dollar, end, vars, depth, whole, err) < 0)
				return -1;
			p = end + 1;
		} else if ((n = name_len(p)) > 0 && n <= (size_t)(lim - p) &&
			   (val = vars_getn(vars, p, n))) {
			if (buf_puts(out, val, err) < 0)
				return -1;
			p += n;
		} else if (buf_putc(out, '$', err) < 0) {
			return -1;
		}
	}
	return 0;
}

char *pipeline_expand(const char *s, const struct pipeline_vars *vars, struct error **err)
{
	struct buf out = BUF_INIT(EXPAND_MAX);

	if (expand_into(&out, s, strlen(s), vars, 0, s, err) < 0) {
		buf_release(&out);
		return NULL;
	}
	return buf_steal(&out);
}
