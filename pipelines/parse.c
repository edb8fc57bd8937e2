/* pipelines/parse.c — the YAML tree of `.slipway.yml` into the validated model, key by key.
 *
 * Every value is checked where it is read, and a failure names the node's LINE:COL. What needs
 * the whole file (names unique, depends_on, cycles) is checked afterwards in validate.c.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/parse.h"
#include "pipelines/internal.h"

#define MAX_ITEMS 1000 /* steps, services, deploys, commands, env entries per list */

struct ctx {
	const char *file;
	struct error **err;
};

static int fail(struct ctx *c, const struct ynode *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(struct ctx *c, const struct ynode *n, const char *fmt, ...)
{
	cleanup_free char *msg = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r < 0)
		return error_errnum(c->err, ENOMEM, "%s", c->file);
	return ynode_error(c->err, c->file, n, "%s", msg);
}

static int oom(struct ctx *c)
{
	return error_errnum(c->err, ENOMEM, "%s", c->file);
}

/* --- keys --------------------------------------------------------------------------------- */

static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64];

	if (la >= 63 || lb >= 63)
		return (size_t)-1;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);

			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

/* Names other CI systems use for our keys. */
static const char *const synonyms[][2] = {
    {"script", "commands"},  {"run", "commands"},
    {"env", "environment"},  {"variables", "environment"},
    {"needs", "depends_on"}, {"after", "depends_on"},
    {"only", "when"},	     {"on", "when"},
    {"if", "when"},	     {"pipeline", "steps"},
    {"jobs", "steps"},	     {"allow_failure", "failure"},
    {"mem", "memory"},	     {"cpu", "cpus"},
    {"caches", "cache"},     {"secrets", "environment"},
    {"limits", "resources"}, {"deployments", "deploy"},
    {"file", "dockerfile"},  {"build_args", "args"},
    {"url", "webhook"},
};

const char *pipeline_suggest(const char *key, const char *const *allowed)
{
	const char *best = NULL;
	size_t best_d = (size_t)-1, len = strlen(key);

	for (size_t i = 0; i < ARRAY_SIZE(synonyms); i++)
		if (!strcasecmp(key, synonyms[i][0]))
			for (const char *const *a = allowed; *a; a++)
				if (!strcmp(*a, synonyms[i][1]))
					return *a;
	for (const char *const *a = allowed; *a; a++) {
		size_t d = edit_distance(key, *a), alen = strlen(*a);
		cleanup_free char *lower = strdup(key);

		if (lower) {
			for (char *p = lower; *p; p++)
				*p = (char)tolower((unsigned char)*p);
			if (!strcmp(lower, *a))
				return *a;
		}
		if (len >= 3 && (!strncmp(*a, key, len) || (alen >= 3 && !strncmp(*a, key, alen))))
			d = 1; /* a prefix: "depends" for "depends_on", "commands_x" */
		if (d < best_d) {
			best_d = d;
			best = *a;
		}
	}
	if (best && best_d <= (strlen(best) + 2) / 3)
		return best;
	return NULL;
}

/* n is a mapping whose keys are all in allowed, each once. */
static int check_map(struct ctx *c, const struct ynode *n, const char *what,
		     const char *const *allowed)
{
	if (n->kind != YNODE_MAP)
		return fail(c, n, "%s must be a mapping, not %s", what, ynode_kind_name(n));
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->items[2 * i];
		const char *const *a;
		const char *hint;

		for (size_t j = 0; j < i; j++)
			if (!strcmp(n->items[2 * j]->str, k->str))
				return fail(c, k, "duplicate key '%s' in %s (first at %d:%d)",
					    k->str, what, n->items[2 * j]->line,
					    n->items[2 * j]->col);
		for (a = allowed; *a && strcmp(*a, k->str); a++)
			;
		if (*a)
			continue;
		hint = pipeline_suggest(k->str, allowed);
		if (hint)
			return fail(c, k, "unknown key '%s' in %s (did you mean '%s'?)", k->str,
				    what, hint);
		{
			char list[512] = "";
			size_t off = 0;

			for (a = allowed; *a && off < sizeof(list); a++)
				off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
							a == allowed ? "" : ", ", *a);
			return fail(c, k, "unknown key '%s' in %s (known keys: %s)", k->str, what,
				    list);
		}
	}
	return 0;
}

/* --- scalars ------------------------------------------------------------------------------ */

static int want_scalar(struct ctx *c, const struct ynode *n, const char *key)
{
	if (n->kind != YNODE_SCALAR || ynode_is_null(n))
		return fail(c, n, "'%s' must be a string, not %s", key, ynode_kind_name(n));
	return 0;
}

/* Checks the ${...} syntax of a string the executor will expand. */
static int check_expandable(struct ctx *c, const struct ynode *n, const char *key)
{
	struct pipeline_vars none = {0};
	struct error *e = NULL;
	char *s = pipeline_expand(n->str, &none, &e);

	free(s);
	if (!s) {
		fail(c, n, "'%s': %s", key, e ? e->msg : "out of memory");
		error_free(e);
		return -1;
	}
	return 0;
}

static int get_str(struct ctx *c, const struct ynode *n, const char *key, bool expandable,
		   char **out)
{
	if (want_scalar(c, n, key) < 0 || (expandable && check_expandable(c, n, key) < 0))
		return -1;
	free(*out);
	if (!(*out = strdup(n->str)))
		return oom(c);
	return 0;
}

static int get_bool(struct ctx *c, const struct ynode *n, const char *key, bool *out)
{
	static const char *const yes[] = {"true", "True", "TRUE", "yes", "Yes", "YES", "on", "On"};
	static const char *const no[] = {"false", "False", "FALSE", "no", "No", "NO", "off", "Off"};

	if (n->kind == YNODE_SCALAR)
		for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
			if (!strcmp(n->str, yes[i]))
				return *out = true, 0;
			if (!strcmp(n->str, no[i]))
				return *out = false, 0;
		}
	return fail(c, n, "'%s' must be true or false, not %s%s%s", key,
		    n->kind == YNODE_SCALAR && !ynode_is_null(n) ? "'" : "",
		    n->kind == YNODE_SCALAR && !ynode_is_null(n) ? n->str : ynode_kind_name(n),
		    n->kind == YNODE_SCALAR && !ynode_is_null(n) ? "'" : "");
}

/* Re-anchors an error of lib/parse.c at the node. */
static int reposition(struct ctx *c, const struct ynode *n, const char *key, struct error *e)
{
	fail(c, n, "'%s': %s", key, e ? e->msg : "out of memory");
	error_free(e);
	return -1;
}

static int get_size(struct ctx *c, const struct ynode *n, const char *key, bool zero_ok,
		    uint64_t *out)
{
	struct error *e = NULL;

	if (want_scalar(c, n, key) < 0)
		return -1;
	if (parse_size(n->str, out, &e) < 0)
		return reposition(c, n, key, e);
	if (!zero_ok && !*out)
		return fail(c, n, "'%s' must be more than 0", key);
	return 0;
}

static int get_duration(struct ctx *c, const struct ynode *n, const char *key, uint64_t *out)
{
	struct error *e = NULL;

	if (want_scalar(c, n, key) < 0)
		return -1;
	if (parse_duration(n->str, out, &e) < 0)
		return reposition(c, n, key, e);
	if (!*out)
		return fail(c, n, "'%s' must be more than 0", key);
	return 0;
}

static int get_int(struct ctx *c, const struct ynode *n, const char *key, int64_t min, int64_t max,
		   int64_t *out)
{
	struct error *e = NULL;

	if (want_scalar(c, n, key) < 0)
		return -1;
	if (parse_int(n->str, min, max, out, &e) < 0)
		return reposition(c, n, key, e);
	return 0;
}

/* A list of strings; a single string is a list of one. */
static int get_strv(struct ctx *c, const struct ynode *n, const char *key, bool expandable,
		    struct pipeline_strv *out)
{
	const struct ynode *one[1] = {n};
	const struct ynode *const *items = one;
	size_t count = 1;

	if (n->kind == YNODE_SEQ) {
		items = (const struct ynode *const *)n->items;
		count = n->n;
	} else if (n->kind != YNODE_SCALAR || ynode_is_null(n)) {
		return fail(c, n, "'%s' must be a list of strings, not %s", key,
			    ynode_kind_name(n));
	}
	if (count > MAX_ITEMS)
		return fail(c, n, "'%s' has %zu entries, more than %d", key, count, MAX_ITEMS);
	pipeline_strv_release(out);
	if (count && !(out->v = calloc(count, sizeof(*out->v))))
		return oom(c);
	for (size_t i = 0; i < count; i++) {
		if (items[i]->kind == YNODE_MAP && items[i]->n == 1)
			return fail(c, items[i],
				    "'%s' must be a list of strings, not of a mapping (quote an "
				    "entry that contains ': ')",
				    key);
		if (items[i]->kind != YNODE_SCALAR || ynode_is_null(items[i]))
			return fail(c, items[i], "'%s' must be a list of strings, not of %s", key,
				    ynode_kind_name(items[i]));
		if (expandable && check_expandable(c, items[i], key) < 0)
			return -1;
		if (!(out->v[i] = strdup(items[i]->str)))
			return oom(c);
		out->n++;
	}
	return 0;
}

/* --- names -------------------------------------------------------------------------------- */

bool pipeline_name_valid(const char *s)
{
	size_t len = strlen(s);

	if (!len || len > PIPELINE_NAME_MAX ||
	    !(islower((unsigned char)*s) || isdigit((unsigned char)*s)))
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '_' &&
		    *s != '.' && *s != '-')
			return false;
	return true;
}

static int get_name(struct ctx *c, const struct ynode *map, const char *what, char **out)
{
	const struct ynode *n = ynode_get(map, "name");

	if (!n)
		return fail(c, map, "%s has no 'name'", what);
	if (get_str(c, n, "name", false, out) < 0)
		return -1;
	if (!pipeline_name_valid(*out))
		return fail(c, n,
			    "name '%s' must be 1 to %d of a-z, 0-9, '_', '.', '-', starting with a "
			    "letter or digit (it becomes a host and file name)",
			    *out, PIPELINE_NAME_MAX);
	return 0;
}

/* --- environment -------------------------------------------------------------------------- */

static bool env_name_valid(const char *s)
{
	if (!*s || !(isalpha((unsigned char)*s) || *s == '_'))
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

static bool secret_name_valid(const char *s)
{
	if (!*s || strlen(s) > 128)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
			return false;
	return true;
}

/* A scalar as written, or {from_secret: NAME}. */
static int get_value(struct ctx *c, const struct ynode *v, const char *key, struct pipeline_env *e)
{
	static const char *const secret_keys[] = {"from_secret", NULL};
	const struct ynode *s;

	if (v->kind == YNODE_MAP) {
		if (check_map(c, v, "a secret reference", secret_keys) < 0)
			return -1;
		if (!(s = ynode_get(v, "from_secret")))
			return fail(c, v, "'%s' must be a string or {from_secret: NAME}", key);
		if (get_str(c, s, "from_secret", false, &e->secret) < 0)
			return -1;
		if (!secret_name_valid(e->secret))
			return fail(c, s, "secret name '%s' must be letters, digits, '_', '.', '-'",
				    e->secret);
		return 0;
	}
	if (v->kind != YNODE_SCALAR || ynode_is_null(v))
		return fail(c, v, "'%s' must be a string or {from_secret: NAME}, not %s", key,
			    ynode_kind_name(v));
	return get_str(c, v, key, true, &e->value);
}

static int get_env(struct ctx *c, const struct ynode *n, struct pipeline_env **out, size_t *n_out)
{
	if (n->kind != YNODE_MAP)
		return fail(c, n, "'environment' must be a mapping of NAME: value, not %s",
			    ynode_kind_name(n));
	if (n->n > MAX_ITEMS)
		return fail(c, n, "'environment' has more than %d entries", MAX_ITEMS);
	if (n->n && !(*out = calloc(n->n, sizeof(**out))))
		return oom(c);
	for (size_t i = 0; i < n->n; i++) {
		const struct ynode *k = n->items[2 * i];
		struct pipeline_env *e = &(*out)[i];

		for (size_t j = 0; j < i; j++)
			if (!strcmp(n->items[2 * j]->str, k->str))
				return fail(c, k, "duplicate variable '%s' (first at %d:%d)",
					    k->str, n->items[2 * j]->line, n->items[2 * j]->col);
		if (!env_name_valid(k->str))
			return fail(c, k,
				    "variable name '%s' must be letters, digits and '_', not "
				    "starting with a digit",
				    k->str);
		++*n_out;
		if (!(e->name = strdup(k->str)))
			return oom(c);
		if (get_value(c, n->items[2 * i + 1], k->str, e) < 0)
			return -1;
	}
	return 0;
}

/* --- resources, when ---------------------------------------------------------------------- */

static bool cpuset_valid(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s) && *s != ',' && *s != '-')
			return false;
	return true;
}

static int get_resources(struct ctx *c, const struct ynode *n, struct pipeline_resources *r)
{
	static const char *const keys[] = {"memory",	 "memory_soft", "swap", "cpus",
					   "cpu_weight", "cpuset",	"pids", NULL};
	const struct ynode *v;
	int64_t i64;

	if (check_map(c, n, "'resources'", keys) < 0)
		return -1;
	if ((v = ynode_get(n, "memory")) &&
	    (get_size(c, v, "memory", false, &r->memory) < 0 || !(r->has_memory = true)))
		return -1;
	if ((v = ynode_get(n, "memory_soft")) &&
	    (get_size(c, v, "memory_soft", false, &r->memory_soft) < 0 ||
	     !(r->has_memory_soft = true)))
		return -1;
	if (r->has_memory && r->has_memory_soft && r->memory_soft > r->memory)
		return fail(c, v, "'memory_soft' must not be more than 'memory'");
	if ((v = ynode_get(n, "swap")) &&
	    (get_size(c, v, "swap", true, &r->swap) < 0 || !(r->has_swap = true)))
		return -1;
	if ((v = ynode_get(n, "cpus"))) {
		char *end;

		if (want_scalar(c, v, "cpus") < 0)
			return -1;
		errno = 0;
		r->cpus = strtod(v->str, &end);
		if (end == v->str || *end || errno || !isfinite(r->cpus))
			return fail(c, v, "'cpus' must be a number, not '%s'", v->str);
		if (r->cpus <= 0 || r->cpus > 4096)
			return fail(c, v, "'cpus' must be more than 0 and at most 4096, not %s",
				    v->str);
		r->has_cpus = true;
	}
	if ((v = ynode_get(n, "cpu_weight"))) {
		if (get_int(c, v, "cpu_weight", 1, 10000, &i64) < 0)
			return -1;
		r->cpu_weight = (unsigned)i64;
		r->has_cpu_weight = true;
	}
	if ((v = ynode_get(n, "cpuset"))) {
		if (get_str(c, v, "cpuset", false, &r->cpuset) < 0)
			return -1;
		if (!cpuset_valid(r->cpuset) || strlen(r->cpuset) > 64)
			return fail(c, v, "'cpuset' must be a CPU list like \"0-1,3\", not '%s'",
				    r->cpuset);
		r->has_cpuset = true;
	}
	if ((v = ynode_get(n, "pids"))) {
		if (get_int(c, v, "pids", 1, 4194304, &r->pids) < 0)
			return -1;
		r->has_pids = true;
	}
	return 0;
}

static int get_when(struct ctx *c, const struct ynode *n, struct pipeline_when *w)
{
	static const char *const keys[] = {"branch", "tag", "event", "path", NULL};
	static const char *const events[] = {"push", "tag", "manual", "rerun", NULL};
	const struct ynode *v;

	if (check_map(c, n, "'when'", keys) < 0)
		return -1;
	w->set = true;
	if ((v = ynode_get(n, "branch")) && get_strv(c, v, "branch", false, &w->branch) < 0)
		return -1;
	if ((v = ynode_get(n, "tag")) && get_strv(c, v, "tag", false, &w->tag) < 0)
		return -1;
	if ((v = ynode_get(n, "path")) && get_strv(c, v, "path", false, &w->path) < 0)
		return -1;
	if (!(v = ynode_get(n, "event")))
		return 0;
	if (get_strv(c, v, "event", false, &w->event) < 0)
		return -1;
	for (size_t i = 0; i < w->event.n; i++) {
		const char *e = w->event.v[i] + (w->event.v[i][0] == '!');
		const char *const *k;

		for (k = events; *k && strcmp(*k, e); k++)
			;
		if (!*k)
			return fail(c, v->kind == YNODE_SEQ ? v->items[i] : v,
				    "unknown event '%s' (events: push, tag, manual, rerun)", e);
	}
	return 0;
}

/* --- entries ------------------------------------------------------------------------------ */

static int get_commands(struct ctx *c, const struct ynode *map, const char *what, bool required,
			struct pipeline_strv *out)
{
	const struct ynode *v = ynode_get(map, "commands");

	if (!v)
		return required ? fail(c, map, "%s has no 'commands'", what) : 0;
	if (get_strv(c, v, "commands", true, out) < 0)
		return -1;
	if (!out->n)
		return fail(c, v, "'commands' of %s is empty", what);
	for (size_t i = 0; i < out->n; i++) {
		const char *s = out->v[i];

		while (isspace((unsigned char)*s))
			s++;
		if (!*s)
			return fail(c, v->kind == YNODE_SEQ ? v->items[i] : v,
				    "an empty command in %s", what);
	}
	return 0;
}

static int get_step(struct ctx *c, const struct ynode *n, struct pipeline_step *s)
{
	static const char *const keys[] = {
	    "name",    "image",	  "commands", "environment", "depends_on", "resources",	 "user",
	    "timeout", "failure", "cache",    "when",	     "network",	   "privileged", NULL};
	const struct ynode *v;
	char what[PIPELINE_NAME_MAX + 16];

	s->line = n->line;
	s->col = n->col;
	if (check_map(c, n, "a step", keys) < 0 || get_name(c, n, "a step", &s->name) < 0)
		return -1;
	snprintf(what, sizeof(what), "step '%s'", s->name);
	if ((v = ynode_get(n, "image")) && get_str(c, v, "image", true, &s->image) < 0)
		return -1;
	if (get_commands(c, n, what, true, &s->commands) < 0)
		return -1;
	if ((v = ynode_get(n, "environment")) && get_env(c, v, &s->env, &s->n_env) < 0)
		return -1;
	if ((v = ynode_get(n, "depends_on"))) {
		if (get_strv(c, v, "depends_on", false, &s->depends_on) < 0)
			return -1;
		s->depends_set = true;
	}
	if ((v = ynode_get(n, "resources")) && get_resources(c, v, &s->resources) < 0)
		return -1;
	if ((v = ynode_get(n, "user")) && get_str(c, v, "user", false, &s->user) < 0)
		return -1;
	if ((v = ynode_get(n, "timeout")) && get_duration(c, v, "timeout", &s->timeout_ms) < 0)
		return -1;
	if ((v = ynode_get(n, "failure"))) {
		if (want_scalar(c, v, "failure") < 0)
			return -1;
		if (strcmp(v->str, "fail") && strcmp(v->str, "ignore"))
			return fail(c, v, "'failure' must be fail or ignore, not '%s'", v->str);
		s->failure_ignore = !strcmp(v->str, "ignore");
	}
	if ((v = ynode_get(n, "cache"))) {
		if (get_strv(c, v, "cache", false, &s->cache) < 0)
			return -1;
		for (size_t i = 0; i < s->cache.n; i++) {
			const char *p = s->cache.v[i];

			if (*p == '/' || !strcmp(p, "..") || !strncmp(p, "../", 3) ||
			    strstr(p, "/../") ||
			    (strlen(p) >= 3 && !strcmp(p + strlen(p) - 3, "/..")) ||
			    strlen(p) > 200)
				return fail(c, v->kind == YNODE_SEQ ? v->items[i] : v,
					    "cache '%s' must be a relative path inside the "
					    "workspace, without '..'",
					    p);
		}
	}
	if ((v = ynode_get(n, "when")) && get_when(c, v, &s->when) < 0)
		return -1;
	if ((v = ynode_get(n, "network"))) {
		if (want_scalar(c, v, "network") < 0)
			return -1;
		if (!strcmp(v->str, "run"))
			s->network = PIPELINE_NET_RUN;
		else if (!strcmp(v->str, "none"))
			s->network = PIPELINE_NET_NONE;
		else if (!strcmp(v->str, "host"))
			s->network = PIPELINE_NET_HOST;
		else
			return fail(c, v, "'network' must be run, none or host, not '%s'", v->str);
	}
	if ((v = ynode_get(n, "privileged")) && get_bool(c, v, "privileged", &s->privileged) < 0)
		return -1;
	return 0;
}

static int get_service(struct ctx *c, const struct ynode *n, struct pipeline_service *s)
{
	static const char *const keys[] = {"name",	  "image",     "commands",
					   "environment", "resources", NULL};
	const struct ynode *v;
	char what[PIPELINE_NAME_MAX + 16];

	s->line = n->line;
	s->col = n->col;
	if (check_map(c, n, "a service", keys) < 0 || get_name(c, n, "a service", &s->name) < 0)
		return -1;
	snprintf(what, sizeof(what), "service '%s'", s->name);
	if (!(v = ynode_get(n, "image")))
		return fail(c, n, "%s has no 'image'", what);
	if (get_str(c, v, "image", true, &s->image) < 0 ||
	    get_commands(c, n, what, false, &s->commands) < 0)
		return -1;
	if ((v = ynode_get(n, "environment")) && get_env(c, v, &s->env, &s->n_env) < 0)
		return -1;
	if ((v = ynode_get(n, "resources")) && get_resources(c, v, &s->resources) < 0)
		return -1;
	return 0;
}

static bool http_url(const char *u)
{
	const char *rest;

	if (!strncasecmp(u, "http://", 7))
		rest = u + 7;
	else if (!strncasecmp(u, "https://", 8))
		rest = u + 8;
	else
		return false;
	return *rest && *rest != '/';
}

static int get_webhook(struct ctx *c, const struct ynode *n, struct pipeline_deploy *d)
{
	static const char *const keys[] = {"url", "secret", NULL};
	const struct ynode *v;

	if (n->kind == YNODE_SCALAR && !ynode_is_null(n))
		v = n; /* webhook: URL */
	else if (check_map(c, n, "'webhook'", keys) < 0)
		return -1;
	else if (!(v = ynode_get(n, "url")))
		return fail(c, n, "'webhook' has no 'url'");
	if (get_str(c, v, "url", true, &d->webhook_url) < 0)
		return -1;
	for (const char *p = d->webhook_url; *p; p++)
		if (isspace((unsigned char)*p) || iscntrl((unsigned char)*p))
			return fail(c, v, "webhook url '%s' has a space or control character",
				    d->webhook_url);
	if (!http_url(d->webhook_url))
		return fail(c, v, "webhook url '%s' must start with http:// or https://",
			    d->webhook_url);
	if (n != v && (v = ynode_get(n, "secret")) &&
	    get_value(c, v, "secret", &d->webhook_secret) < 0)
		return -1;
	return 0;
}

static int get_deploy(struct ctx *c, const struct ynode *n, struct pipeline_deploy *d)
{
	static const char *const keys[] = {"name",     "when",	      "webhook", "image",
					   "commands", "environment", NULL};
	const struct ynode *v, *hook;
	char what[PIPELINE_NAME_MAX + 16];

	d->line = n->line;
	d->col = n->col;
	if (check_map(c, n, "a deploy", keys) < 0 || get_name(c, n, "a deploy", &d->name) < 0)
		return -1;
	snprintf(what, sizeof(what), "deploy '%s'", d->name);
	if ((v = ynode_get(n, "when")) && get_when(c, v, &d->when) < 0)
		return -1;
	hook = ynode_get(n, "webhook");
	if (hook &&
	    (v = ynode_get(n, "commands") ? ynode_get(n, "commands") : ynode_get(n, "image")))
		return fail(c, v, "%s has both 'webhook' and '%s': give one", what,
			    ynode_get(n, "commands") ? "commands" : "image");
	if (!hook && !ynode_get(n, "commands"))
		return fail(c, n, "%s needs 'webhook' or 'commands'", what);
	if (hook && (v = ynode_get(n, "environment")))
		return fail(c, v, "%s: 'environment' is for command deploys, not webhooks", what);
	if (hook)
		return get_webhook(c, hook, d);
	if ((v = ynode_get(n, "image")) && get_str(c, v, "image", true, &d->image) < 0)
		return -1;
	if (get_commands(c, n, what, true, &d->commands) < 0)
		return -1;
	if ((v = ynode_get(n, "environment")) && get_env(c, v, &d->env, &d->n_env) < 0)
		return -1;
	return 0;
}

static int get_image(struct ctx *c, const struct ynode *n, struct pipeline_image *im)
{
	static const char *const keys[] = {"dockerfile", "context", "target", "args",
					   "tags",	 "push",    NULL};
	const struct ynode *v;

	if (check_map(c, n, "'image'", keys) < 0)
		return -1;
	if ((v = ynode_get(n, "dockerfile")) &&
	    get_str(c, v, "dockerfile", false, &im->dockerfile) < 0)
		return -1;
	if ((v = ynode_get(n, "context")) && get_str(c, v, "context", false, &im->context) < 0)
		return -1;
	if ((v = ynode_get(n, "target")) && get_str(c, v, "target", false, &im->target) < 0)
		return -1;
	if ((v = ynode_get(n, "tags"))) {
		if (get_strv(c, v, "tags", true, &im->tags) < 0)
			return -1;
		if (!im->tags.n)
			return fail(c, v, "'tags' is empty: remove it for the default tag");
	}
	if ((v = ynode_get(n, "push")) && get_str(c, v, "push", true, &im->push) < 0)
		return -1;
	if ((v = ynode_get(n, "args"))) {
		if (v->kind != YNODE_MAP)
			return fail(c, v, "'args' must be a mapping of NAME: value, not %s",
				    ynode_kind_name(v));
		if (v->n && !(im->args = calloc(v->n, sizeof(*im->args))))
			return oom(c);
		for (size_t i = 0; i < v->n; i++) {
			const struct ynode *k = v->items[2 * i];

			for (size_t j = 0; j < i; j++)
				if (!strcmp(v->items[2 * j]->str, k->str))
					return fail(c, k, "duplicate build arg '%s'", k->str);
			if (!env_name_valid(k->str))
				return fail(c, k,
					    "build arg name '%s' must be letters, digits, '_'",
					    k->str);
			im->n_args++;
			if (!(im->args[i].key = strdup(k->str)))
				return oom(c);
			if (get_str(c, v->items[2 * i + 1], k->str, true, &im->args[i].value) < 0)
				return -1;
		}
	}
	if ((!im->dockerfile && !(im->dockerfile = strdup("Dockerfile"))) ||
	    (!im->context && !(im->context = strdup("."))))
		return oom(c);
	return 0;
}

static int get_defaults(struct ctx *c, const struct ynode *n, struct pipeline *p)
{
	static const char *const keys[] = {"resources", "timeout", NULL};
	const struct ynode *v;

	if (check_map(c, n, "'defaults'", keys) < 0)
		return -1;
	if ((v = ynode_get(n, "resources")) && get_resources(c, v, &p->defaults) < 0)
		return -1;
	if ((v = ynode_get(n, "timeout")) &&
	    get_duration(c, v, "timeout", &p->default_timeout_ms) < 0)
		return -1;
	return 0;
}

/* A list of mappings: allocates *out with one zeroed entry per item, then fills each. */
#define GET_LIST(c, node, key, arr, count, fn)                                                     \
	({                                                                                         \
		int r_ = 0;                                                                        \
		const struct ynode *l_ = (node);                                                   \
		if (l_->kind != YNODE_SEQ)                                                         \
			r_ = fail(c, l_, "'%s' must be a list, not %s", key, ynode_kind_name(l_)); \
		else if (l_->n > MAX_ITEMS)                                                        \
			r_ = fail(c, l_, "'%s' has more than %d entries", key, MAX_ITEMS);         \
		else if (l_->n && !(arr = calloc(l_->n, sizeof(*arr))))                            \
			r_ = oom(c);                                                               \
		for (size_t i_ = 0; r_ == 0 && i_ < l_->n; i_++) {                                 \
			count++;                                                                   \
			r_ = fn(c, l_->items[i_], &(arr)[i_]);                                     \
		}                                                                                  \
		r_;                                                                                \
	})

static int get_pipeline(struct ctx *c, const struct ynode *root, struct pipeline *p)
{
	static const char *const keys[] = {"when",  "image",  "defaults", "services",
					   "steps", "deploy", NULL};
	const struct ynode *v;

	if (!root || ynode_is_null(root))
		return fail(c, root,
			    "the pipeline is empty: it needs 'steps', 'image' or 'deploy'");
	if (check_map(c, root, "the pipeline", keys) < 0)
		return -1;
	if ((v = ynode_get(root, "when")) && get_when(c, v, &p->when) < 0)
		return -1;
	if ((v = ynode_get(root, "image"))) {
		p->has_image = true;
		if (get_image(c, v, &p->image) < 0)
			return -1;
	}
	if ((v = ynode_get(root, "defaults")) && get_defaults(c, v, p) < 0)
		return -1;
	if ((v = ynode_get(root, "services")) &&
	    GET_LIST(c, v, "services", p->services, p->n_services, get_service) < 0)
		return -1;
	if ((v = ynode_get(root, "steps")) &&
	    GET_LIST(c, v, "steps", p->steps, p->n_steps, get_step) < 0)
		return -1;
	if ((v = ynode_get(root, "deploy")) &&
	    GET_LIST(c, v, "deploy", p->deploys, p->n_deploys, get_deploy) < 0)
		return -1;
	if (!p->n_steps && !p->has_image && !p->n_deploys)
		return fail(c, root,
			    "the pipeline does nothing: it needs 'steps', 'image' or 'deploy'");
	return pipeline_validate(p, root, c->file, c->err);
}

int pipeline_parse(const char *data, size_t len, const char *filename, struct pipeline **out,
		   struct error **err)
{
	struct ctx c = {.file = filename ? filename : ".slipway.yml", .err = err};
	struct ydoc doc;
	struct pipeline *p;

	*out = NULL;
	if (ydoc_load(&doc, data, len, c.file, err) < 0)
		return -1;
	if (!(p = calloc(1, sizeof(*p)))) {
		ydoc_release(&doc);
		return oom(&c);
	}
	if (get_pipeline(&c, doc.root, p) < 0) {
		ydoc_release(&doc);
		pipeline_free(p);
		return -1;
	}
	ydoc_release(&doc);
	*out = p;
	return 0;
}
