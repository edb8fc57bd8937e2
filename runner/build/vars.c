/* runner/build/vars.c — the variables in scope (ENV, ARG), substitution with them, and the
 * messages and times every step uses. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/cleanup.h"
#include "runner/build/internal.h"

/* --- variables ------------------------------------------------------------------------------ */

const char *kv_get(const struct kv *kv, const char *name)
{
	size_t l = strlen(name);

	for (size_t i = 0; i < kv->n; i++)
		if (!strncmp(kv->v[i], name, l) && kv->v[i][l] == '=')
			return kv->v[i] + l + 1;
	return NULL;
}

int kv_set(struct kv *kv, const char *name, const char *value, struct error **err)
{
	size_t l = strlen(name);
	char *s;

	if (asprintf(&s, "%s=%s", name, value) < 0)
		return error_errno(err, "variable '%s'", name);
	for (size_t i = 0; i < kv->n; i++) {
		if (!strncmp(kv->v[i], name, l) && kv->v[i][l] == '=') {
			free(kv->v[i]);
			kv->v[i] = s;
			return 0;
		}
	}
	if (kv->n + 2 > kv->cap) {
		size_t nc = kv->cap ? kv->cap * 2 : 16;
		char **v = realloc(kv->v, nc * sizeof(*v));

		if (!v) {
			free(s);
			return error_errno(err, "variable '%s'", name);
		}
		kv->v = v;
		kv->cap = nc;
	}
	kv->v[kv->n++] = s;
	kv->v[kv->n] = NULL;
	return 0;
}

int kv_set_pair(struct kv *kv, const char *pair, struct error **err)
{
	cleanup_free char *k = strdup(pair);
	char *eq = k ? strchr(k, '=') : NULL;

	if (!k)
		return error_errno(err, "variable");
	if (!eq)
		return kv_set(kv, k, "", err);
	*eq = '\0';
	return kv_set(kv, k, eq + 1, err);
}

void kv_release(struct kv *kv)
{
	for (size_t i = 0; i < kv->n; i++)
		free(kv->v[i]);
	free(kv->v);
	memset(kv, 0, sizeof(*kv));
}

const char *scope_lookup(void *ctx, const char *name)
{
	const struct scope *sc = ctx;
	const char *v;

	if (!sc->s)
		return kv_get(&sc->b->global_args, name);
	if ((v = kv_get(&sc->s->env, name)))
		return v;
	return kv_get(&sc->s->args, name);
}

int build_fail(struct builder *b, const struct df_instr *in, struct error **err, const char *fmt,
	       ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = df_errorv(err, b->df_name, in->line, fmt, ap);
	va_end(ap);
	return r;
}

int build_expand(struct builder *b, const struct stage *s, const struct df_instr *in,
		 const char *word, char **out, struct error **err)
{
	struct scope sc = {b, s};
	struct error *e = NULL;

	if (df_expand(word, b->df.escape, scope_lookup, &sc, out, &e) < 0) {
		build_fail(b, in, err, "%s", e->msg);
		error_free(e);
		return -1;
	}
	return 0;
}

void build_created(const struct builder *b, char out[32])
{
	time_t t = b->o->source_date_epoch >= 0 ? (time_t)b->o->source_date_epoch : time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
