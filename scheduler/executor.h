/* scheduler/executor.h — one run of a repository's pipeline, start to finish.
 *
 * The executor resolves the commit, reads and validates its .slipway.yml, records the run in
 * the store, checks the commit out into $DATA/work/<run>/workspace, builds the pipeline's
 * image, starts the services in the run's own network namespace, runs the steps as a DAG
 * (in parallel up to a limit, each in its own container with its limits), pushes the image,
 * runs the deploys, and records every state change and every (masked) output line in the
 * store as it goes. `slipway run` drives one in-process; the daemon will drive one per run
 * through the same API.
 *
 * Threads: executor_run() blocks; executor_cancel() may be called from any thread (a signal
 * thread, the daemon's control socket) and makes executor_run() stop every container of the
 * run and return with the run cancelled. The observer's callbacks run on the executor's
 * threads, serialised (never two at once).
 */
#ifndef SLIPWAY_SCHEDULER_EXECUTOR_H
#define SLIPWAY_SCHEDULER_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"
#include "runner/container.h"
#include "store/store.h"

/* Live view of a run, for the command line and the daemon's event stream. All optional. */
struct executor_observer {
	/* names: the services, steps (and "image" when it builds one), for column widths. */
	void (*run_started)(void *data, const struct run_info *run, char *const *names, size_t n);
	/* res is NULL until the step's container has ended. */
	void (*step_status)(void *data, const char *step, enum step_kind kind,
			    enum step_status status, const struct container_result *res);
	/* One output line, masked; step NULL for the run's own lines. */
	void (*log_line)(void *data, const char *step, enum log_stream stream, const char *text,
			 size_t len);
	void *data;
};

struct executor_opts {
	const char *data_dir;
	const char *repo_path; /* a local repository (work tree or bare) */
	const char *repo_name; /* NULL: the repository directory's name */
	const char *rev;       /* NULL: HEAD */
	const char *branch;    /* NULL: HEAD's branch when rev is NULL */
	const char *tag;       /* NULL: none (event "tag" needs one) */
	const char *event;     /* NULL: "manual" */
	const char *trigger;   /* NULL: "manual" */
	int64_t parent;	       /* the run this one reruns, 0 when none */
	char *const *secrets;  /* "NAME=VALUE", NULL-terminated; borrowed */
	bool no_push;
	bool no_deploy;
	bool keep_workspace;
	int max_parallel; /* steps at once; 0: the number of CPUs */
	struct executor_observer observer;
};

struct executor_result {
	int64_t run_id; /* 0 when no run was recorded (bad input before, or `when` skipped it) */
	int64_t number;
	enum run_status status;
	bool skipped; /* the pipeline's `when` did not match: nothing ran */
	char *error;  /* why the run errored, NULL when it did not (caller frees) */
};

struct executor;

int executor_new(const struct executor_opts *opts, struct executor **out, struct error **err);
/* Does the run. Returns 0 when it ran to a final status (passed, failed, cancelled, or error
 * after the run was recorded: see res), -1 with *err when it could not start: bad input
 * (exit 2: no or invalid .slipway.yml, unknown commit, missing secret) or a system error. */
int executor_run(struct executor *ex, struct executor_result *res, struct error **err);
void executor_cancel(struct executor *ex);
void executor_free(struct executor *ex); /* NULL is fine */
void executor_result_release(struct executor_result *res);

/* Removes what an interrupted run left behind (its workspace); for store recovery. */
int executor_cleanup_run(const char *data_dir, int64_t run_id, struct error **err);

#endif
