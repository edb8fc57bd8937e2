/* pipelines/pipeline.h — `.slipway.yml` as a validated model: parse, `when` filters, ${VAR}
 * expansion, the step DAG.
 *
 * pipeline_parse() reads the whole file with libyaml and validates it before anything runs:
 * every error names `FILE:LINE:COL: message` (exit 2). The model owns all its strings;
 * pipeline_free() releases it. Nothing here touches git, containers or the store.
 */
#ifndef SLIPWAY_PIPELINES_PIPELINE_H
#define SLIPWAY_PIPELINES_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"

/* The longest step, service or deploy name (a host name label). */
#define PIPELINE_NAME_MAX 63

/* A list of strings. */
struct pipeline_strv {
	char **v;
	size_t n;
};

/* `when:` — every listed field must match; an empty field matches everything. Globs as in
 * fnmatch with `**` crossing '/'; an entry starting with '!' excludes. */
struct pipeline_when {
	struct pipeline_strv branch, tag, event, path;
	bool set; /* the key was present */
};

/* Resources; a field's `has_` flag says it was given (so defaults merge field by field). */
struct pipeline_resources {
	uint64_t memory, memory_soft, swap;
	double cpus;
	unsigned cpu_weight;
	char *cpuset;
	int64_t pids;
	bool has_memory, has_memory_soft, has_swap, has_cpus, has_cpu_weight, has_cpuset, has_pids;
};

/* One environment entry: a plain value or `{from_secret: NAME}`. */
struct pipeline_env {
	char *name;
	char *value;  /* NULL when from_secret */
	char *secret; /* the secret's name, or NULL */
};

enum pipeline_network { PIPELINE_NET_RUN, PIPELINE_NET_NONE, PIPELINE_NET_HOST };

struct pipeline_step {
	char *name;
	char *image; /* NULL: the pipeline's built image */
	struct pipeline_strv commands;
	struct pipeline_env *env;
	size_t n_env;
	struct pipeline_strv depends_on;
	bool depends_set; /* depends_on given (possibly []); absent = after the previous step */
	struct pipeline_resources resources;
	char *user;
	uint64_t timeout_ms; /* 0 = the default */
	bool failure_ignore;
	struct pipeline_strv cache;
	struct pipeline_when when;
	enum pipeline_network network;
	bool privileged;
	int line, col; /* where the step starts, for messages */
};

struct pipeline_service {
	char *name;
	char *image;
	struct pipeline_strv commands;
	struct pipeline_env *env;
	size_t n_env;
	struct pipeline_resources resources;
	int line, col;
};

struct pipeline_deploy {
	char *name;
	struct pipeline_when when;
	/* webhook deploy */
	char *webhook_url;		    /* NULL for a command deploy */
	struct pipeline_env webhook_secret; /* name unused; value or secret */
	/* command deploy */
	char *image;
	struct pipeline_strv commands;
	struct pipeline_env *env;
	size_t n_env;
	int line, col;
};

struct pipeline_kv {
	char *key;
	char *value;
};

struct pipeline_image {
	char *dockerfile; /* default "Dockerfile" */
	char *context;	  /* default "." */
	char *target;	  /* NULL = the last stage */
	struct pipeline_kv *args;
	size_t n_args;
	struct pipeline_strv tags;
	char *push; /* repository to push to, or NULL */
};

struct pipeline {
	struct pipeline_when when;
	bool has_image;
	struct pipeline_image image;
	struct pipeline_resources defaults; /* defaults.resources */
	uint64_t default_timeout_ms;	    /* defaults.timeout, 0 = none */
	struct pipeline_service *services;
	size_t n_services;
	struct pipeline_step *steps;
	size_t n_steps;
	struct pipeline_deploy *deploys;
	size_t n_deploys;
};

/* Parses and validates. filename is used in messages (".slipway.yml"). */
int pipeline_parse(const char *data, size_t len, const char *filename, struct pipeline **out,
		   struct error **err);
void pipeline_free(struct pipeline *p); /* NULL is fine */

/* [a-z0-9][a-z0-9_.-]*, at most PIPELINE_NAME_MAX: names become host and file names. */
bool pipeline_name_valid(const char *name);

/* Copies into dst each field src gives (its has_ flag set); cpuset is borrowed from src. */
void pipeline_resources_merge(struct pipeline_resources *dst, const struct pipeline_resources *src);
/* defaults.resources with the step's own fields over them; cpuset borrowed from p. */
struct pipeline_resources pipeline_step_resources(const struct pipeline *p,
						  const struct pipeline_step *s);
/* The step's timeout, else defaults.timeout; 0 = none. */
uint64_t pipeline_step_timeout_ms(const struct pipeline *p, const struct pipeline_step *s);

/* What a `when` is matched against. */
struct pipeline_event {
	const char *branch; /* NULL when not on a branch */
	const char *tag;    /* NULL unless a tag event */
	const char *event;  /* push, tag, manual, rerun */
	char *const *paths; /* files the commit changed; NULL = unknown (path filters match) */
	size_t n_paths;
};
bool pipeline_when_matches(const struct pipeline_when *w, const struct pipeline_event *ev);
/* One glob against a branch, tag or path: `*` `?` `[...]` within a segment, `**` across '/'. */
bool pipeline_glob_match(const char *pattern, const char *text);

/* Variables for ${VAR} expansion. */
struct pipeline_vars {
	struct pipeline_kv *v;
	size_t n, cap;
};
int pipeline_vars_set(struct pipeline_vars *vars, const char *key, const char *value,
		      struct error **err);
const char *pipeline_vars_get(const struct pipeline_vars *vars, const char *key);
void pipeline_vars_release(struct pipeline_vars *vars);

/* Expands $VAR, ${VAR}, ${VAR:-default}, ${VAR:+alt} for variables in vars; a reference to
 * a variable not in vars is left as written (so the step's shell sees $HOME, $TOKEN);
 * `$$` gives `$`. Returns a new string (caller frees) or NULL with *err on bad syntax. */
char *pipeline_expand(const char *s, const struct pipeline_vars *vars, struct error **err);

/* The DAG: for each step, the indices of the steps it waits for (absent depends_on = the
 * previous step; [] = none). Validation already refused missing names and cycles. */
struct pipeline_dag {
	size_t **deps; /* deps[i]: n_deps[i] indices */
	size_t *n_deps;
	size_t n;
};
int pipeline_dag_build(const struct pipeline *p, struct pipeline_dag *dag, struct error **err);
void pipeline_dag_release(struct pipeline_dag *dag);
/* Fills order (dag->n entries) with the steps so that each comes after what it waits for,
 * in file order where free; -1 if there is a cycle. */
int pipeline_dag_order(const struct pipeline_dag *dag, size_t *order);
/* A cycle, if any: writes its steps to cycle (room for dag->n), each waiting for the next and
 * the last for the first; returns how many (0: no cycle). */
size_t pipeline_dag_find_cycle(const struct pipeline_dag *dag, size_t *cycle);

#endif
