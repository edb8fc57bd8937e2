/* runner/build/internal.h — what the builder's files share: the build, its stages, the
 * variables in scope, the cache. */
#ifndef SLIPWAY_RUNNER_BUILD_INTERNAL_H
#define SLIPWAY_RUNNER_BUILD_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "lib/hash.h"
#include "runner/build/build.h"
#include "runner/build/dockerfile.h"
#include "runner/build/ignore.h"
#include "runner/image/image.h"

/* "K=V" strings in order; later set of the same K replaces it in place. */
struct kv {
	char **v; /* NULL-terminated once anything is set */
	size_t n, cap;
};
const char *kv_get(const struct kv *kv, const char *name);
int kv_set(struct kv *kv, const char *name, const char *value, struct error **err);
int kv_set_pair(struct kv *kv, const char *pair, struct error **err); /* "K=V" */
void kv_release(struct kv *kv);

struct stage {
	char *name;	   /* from AS, lower case; NULL without */
	size_t first, end; /* its instructions: [first, end), first is the FROM */
	bool needed, built;
	json_t *config; /* the image config being built (config, rootfs, history) */
	struct image_layer *layers;
	size_t nlayers;
	char key[SHA256_HEX_LEN + 1]; /* cache key of the state after the last step */
	struct kv env;		      /* ENV, mirrored into config.Env */
	struct kv args;		      /* ARGs in scope with a value */
	char **shell;		      /* SHELL; NULL = /bin/sh -c */
	bool cmd_set;		      /* CMD given in this stage (ENTRYPOINT then keeps it) */
	bool from_image;	      /* FROM a store image (its ONBUILD triggers run) */
	char **lowers;		      /* unpacked layer dirs, topmost first, for nlowers layers */
	size_t nlowers;
};

struct builder {
	struct container_host *h;
	struct image_store *st;
	const struct build_opts *o;
	struct dockerfile df;
	char *df_name;
	struct ignore ignore;
	char *cache_dir; /* $DATA/build-cache */
	char *tmp_dir;	 /* $DATA/tmp/build-XXXXXX, removed at the end */
	struct kv global_args;
	struct kv build_args;
	bool *build_arg_used;
	struct stage *stages;
	size_t nstages;
	int step, nsteps;
	struct image_pack_opts pack;
};

/* Looks a name up in a stage's ENV, then its ARGs (or in the global ARGs when stage is
 * NULL), for df_expand. */
struct scope {
	const struct builder *b;
	const struct stage *s;
};
const char *scope_lookup(void *ctx, const char *name);
/* Expands word in the stage's scope (s NULL: the global scope); errors get the line. */
int build_expand(struct builder *b, const struct stage *s, const struct df_instr *in,
		 const char *word, char **out, struct error **err);
/* `NAME:LINE: msg` input error for instruction in. */
int build_fail(struct builder *b, const struct df_instr *in, struct error **err, const char *fmt,
	       ...) __attribute__((format(printf, 4, 5)));

/* RFC 3339 of source_date_epoch, or of now when unset. */
void build_created(const struct builder *b, char out[32]);
/* Monotonic seconds, for step durations. */
double build_now(void);

/* --- stages (stage.c) --- */
/* Splits the Dockerfile into stages at each FROM; names checked and unique. */
int stages_split(struct builder *b, struct error **err);
/* The stage named (AS name, any case) or numbered ref among stages[0..before); NULL if none. */
struct stage *stage_find(struct builder *b, const char *ref, size_t before);
/* FROM's image after substitution with the global ARGs; caller frees. */
int stage_from_ref(struct builder *b, const struct df_instr *in, char **out, struct error **err);
/* Marks s and every stage it takes from (FROM stage, COPY --from=stage) as needed. */
int stage_mark_needed(struct builder *b, struct stage *s, int depth, struct error **err);
/* The state after FROM: the base's config, layers, environment and first cache key. */
int stage_start(struct builder *b, struct stage *s, struct error **err);
int stage_add_history(struct stage *s, const char *created, const char *created_by, bool empty);
/* Appends the layer (ownership moves to the stage) and its diff_id. */
int stage_add_layer(struct stage *s, struct image_layer *l, struct error **err);
void stage_release(struct stage *s);

/* --- one instruction (step.c) --- */
/* Runs instruction in of stage s: the cache or the work, then its history and layer. */
int step_run(struct builder *b, struct stage *s, const struct df_instr *in, struct error **err);

/* --- metadata instructions (meta.c) --- */
/* Applies ENV, LABEL, EXPOSE, VOLUME, USER, WORKDIR, CMD, ENTRYPOINT, STOPSIGNAL, HEALTHCHECK,
 * SHELL, ONBUILD, MAINTAINER or ARG to the stage; *created_by receives the history text (the
 * instruction after substitution; caller frees). */
int meta_apply(struct builder *b, struct stage *s, const struct df_instr *in, char **created_by,
	       struct error **err);
json_t *stage_exec_config(struct stage *s); /* the "config" object, created when missing */

/* --- steps shared by build.c and run.c --- */
/* The stage's layers unpacked (s->lowers, topmost first). */
int stage_lowers(struct builder *b, struct stage *s, struct error **err);
/* A fresh empty dir below the build's temp dir; caller frees the path and removes the dir. */
char *build_temp_dir(struct builder *b, const char *what, struct error **err);
/* Packs dir into a layer; an empty dir makes none (l->digest stays NULL). */
int build_pack_dir(struct builder *b, const char *dir, bool overlay, struct image_layer *l,
		   struct error **err);
/* Prints "[step/steps] what  status" to the progress stream. */
void build_progress(struct builder *b, const char *what, const char *status);

/* --- RUN --mount (mount.c) --- */
enum run_mount_type { RUN_MOUNT_BIND, RUN_MOUNT_CACHE, RUN_MOUNT_TMPFS };
struct run_mount {
	enum run_mount_type type;
	char *target; /* absolute, cleaned */
	char *source; /* bind: the host path in the context; cache: its dir (once prepared) */
	char *id;     /* cache: default the target */
	bool read_only;
	uint64_t size; /* tmpfs; 0 = the kernel's default */
	mode_t mode;   /* cache dir made new: mode and owner */
	uid_t uid;
	gid_t gid;
	char hash[SHA256_HEX_LEN + 1]; /* bind: what it holds, for the key */
};
/* Every --mount of a RUN, substituted and checked. Caller frees with run_mounts_free. */
int run_mounts_parse(struct builder *b, struct stage *s, const struct df_instr *in,
		     struct run_mount **out, size_t *n, struct error **err);
/* Resolves binds in the context (and hashes them) and makes cache dirs. */
int run_mounts_prepare(struct builder *b, struct run_mount *m, size_t n, struct error **err);
void run_mounts_free(struct run_mount *m, size_t n);

/* --- RUN (run.c) --- */
struct run_step {
	char **argv;
	struct kv env;
	const char *user, *workdir; /* borrowed from the stage's config */
	bool network_none;	    /* RUN --network=none in a --network host build */
	struct run_mount *mounts;
	size_t nmounts;
	char *desc; /* history text */
};
void run_step_release(struct run_step *r);
/* Reads RUN's flags and command, its environment (ENV, then ARGs ENV does not override). */
int run_prepare(struct builder *b, struct stage *s, const struct df_instr *in, struct run_step *r,
		struct error **err);
/* The step's key: parent, command, environment, user, working directory. */
void run_key(struct stage *s, const struct run_step *r, char key[SHA256_HEX_LEN + 1],
	     const char *parent);
/* Runs the command in a container over the stage's layers; its changes become *l (none when
 * it changed nothing). A non-zero exit is an error (exit 1) with the status. */
int run_step(struct builder *b, struct stage *s, const struct df_instr *in, struct run_step *r,
	     struct image_layer *l, struct error **err);

/* --- cache (cache.c) --- */
/* key = sha256(parent NUL part NUL part ...), parts ended by NULL. */
void cache_key(char out[SHA256_HEX_LEN + 1], const char *parent, ...);
/* A cached step: its created time and layer (digest NULL when the step made none). Returns
 * false on a miss, including when the layer's blob is gone. */
bool cache_get(struct builder *b, const char *key, char created[32], struct image_layer *layer);
/* Records a step; failures only cost a later rebuild. */
void cache_put(struct builder *b, const char *key, const char *created,
	       const struct image_layer *layer);

#endif
