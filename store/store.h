/* store/store.h — slipway's history: repos, runs, steps, logs, resource timelines and deploy
 * results in SQLite at $DATA/slipway.db.
 *
 * One `struct store` is one connection, used by one thread of one process. Several processes
 * (the executor writing a run, the daemon, the web page, `slipway logs`) use the file at once:
 * the database is in WAL mode, so readers never block the writer, and a writer waits for
 * another (busy timeout) instead of failing. Never carry a store across fork(): the child
 * opens its own (and must not close the parent's either).
 *
 * Ownership: every `struct X_info` filled by a getter owns its strings; free it with
 * X_info_free() (heap object) or X_infos_free() (array). Times are milliseconds since the
 * epoch, 0 when not yet reached. Numeric result fields that can be unknown use -1 (stored as
 * NULL, printed as JSON null).
 *
 * Secrets: the store never sees them. The executor masks every secret value in a log line
 * before calling store_log_append(); what it passes is stored and shown as is.
 */
#ifndef SLIPWAY_STORE_STORE_H
#define SLIPWAY_STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "lib/error.h"

struct store;

/* The schema version this binary writes (PRAGMA user_version). */
#define STORE_SCHEMA_VERSION 1
/* Default cap on the log bytes kept per step (and for the run's own lines). */
#define STORE_LOG_CAP_DEFAULT (16u << 20)
/* How long a writer waits for another process's write lock before failing. */
#define STORE_BUSY_TIMEOUT_MS 10000
/* The most bytes of pipeline text kept with a run. */
#define STORE_PIPELINE_MAX (1u << 20)

/* Opens (creating with mode 0600, and data_dir if missing) data_dir/slipway.db, sets WAL,
 * foreign keys, the busy timeout and synchronous=NORMAL, and migrates the schema forward.
 * A file that is not an SQLite database, or a schema newer than this binary knows, is a clear
 * error and the file is left untouched. */
int store_open(const char *data_dir, struct store **out, struct error **err);
/* Flushes buffered log lines (a failure is logged) and closes; NULL is fine. */
void store_close(struct store *st);
/* Caps the log bytes kept per step from now on (0 = the default). */
void store_set_log_cap(struct store *st, size_t bytes);
/* The database file's path; borrowed. */
const char *store_path(const struct store *st);

/* ---- states, as stored and printed ---- */

enum run_status {
	RUN_QUEUED,
	RUN_RUNNING,
	RUN_PASSED,
	RUN_FAILED,
	RUN_ERROR, /* slipway itself failed (bad pipeline, checkout, build infrastructure) */
	RUN_CANCELLED,
	RUN_INTERRUPTED, /* its process died; found by store_recover_interrupted */
};

enum step_status {
	STEP_PENDING,
	STEP_RUNNING,
	STEP_PASSED,
	STEP_FAILED,
	STEP_SKIPPED, /* `when` did not match, or a dependency failed */
	STEP_CANCELLED,
	STEP_ERROR, /* could not be started */
	STEP_INTERRUPTED,
};

enum step_kind { STEP_KIND_STEP, STEP_KIND_SERVICE, STEP_KIND_DEPLOY, STEP_KIND_BUILD };
enum log_stream { LOG_STDOUT, LOG_STDERR, LOG_SYSTEM };
enum deploy_kind { DEPLOY_WEBHOOK, DEPLOY_COMMAND };

/* Names as stored and printed ("queued", ...); NULL for an out-of-range value. */
const char *run_status_name(enum run_status s);
const char *step_status_name(enum step_status s);
const char *step_kind_name(enum step_kind k);
const char *log_stream_name(enum log_stream s);
const char *deploy_kind_name(enum deploy_kind k);
/* Parse a name; -1 when unknown. */
int run_status_parse(const char *s);
int step_status_parse(const char *s);
int step_kind_parse(const char *s);
int deploy_kind_parse(const char *s);
bool run_status_is_final(enum run_status s);
bool step_status_is_final(enum step_status s);

/* ---- repos ---- */

struct repo_info {
	int64_t id;
	char *name;
	char *url;
	bool trusted;
	int64_t created_at;
};

/* Returns the id of repo `name`, creating it; an existing repo gets `url` when it differs.
 * name: 1-128 of [A-Za-z0-9._/-], not starting with '.', '/' or '-', without "..". */
int store_repo_ensure(struct store *st, const char *name, const char *url, int64_t *id,
		      struct error **err);
int store_repo_set_trusted(struct store *st, const char *name, bool trusted, struct error **err);
/* *out = NULL and 0 when there is no such repo. */
int store_repo_get(struct store *st, const char *name, struct repo_info **out, struct error **err);
/* All repos by name. Returns the count. */
int store_repos_list(struct store *st, struct repo_info **out, size_t *n, struct error **err);
void repo_info_free(struct repo_info *r);
void repo_infos_free(struct repo_info *v, size_t n);

/* ---- runs ---- */

struct run_info {
	int64_t id;
	int64_t repo_id;
	char *repo;	/* the repo's name */
	int64_t number; /* 1, 2, ... per repo */
	char *commit;	/* full hex object id */
	char *branch;	/* NULL when none */
	char *tag;	/* NULL when none */
	char *event;	/* push, tag, manual, rerun, ... */
	char *trigger;	/* push, manual, rerun, webhook, poll, ... */
	enum run_status status;
	int64_t parent; /* the run this one reruns, 0 when none */
	int64_t queued_at, started_at, finished_at;
	char *image_digest;  /* NULL until the image is built */
	char *pipeline;	     /* the .slipway.yml text; only from store_run_get/find, else NULL */
	pid_t owner_pid;     /* the process running it, 0 when none */
	int64_t owner_start; /* that process's start time, /proc/PID/stat field 22 */
	char *error;	     /* why it errored or was interrupted, NULL when none */
};

struct run_spec {
	const char *commit;   /* required: 4-64 hex digits */
	const char *branch;   /* optional */
	const char *tag;      /* optional */
	const char *event;    /* required: [a-z_]{1,32} */
	const char *trigger;  /* required: [a-z_]{1,32} */
	int64_t parent;	      /* 0, or the id of an existing run */
	const char *pipeline; /* optional, at most STORE_PIPELINE_MAX bytes */
};

/* Creates a queued run of repo_id; its number is the repo's next one, assigned atomically
 * across processes. The calling process becomes its owner (see store_run_set_owner). */
int store_run_create(struct store *st, int64_t repo_id, const struct run_spec *spec, int64_t *id,
		     int64_t *number, struct error **err);
/* Records pid (whose start time is read now from /proc) as the process running the run. */
int store_run_set_owner(struct store *st, int64_t id, pid_t pid, struct error **err);
/* Moves the run to status: queued->running sets started_at; a final status sets finished_at.
 * A final run cannot change again; running->queued is refused. error_msg: NULL or why. */
int store_run_set_status(struct store *st, int64_t id, enum run_status status,
			 const char *error_msg, struct error **err);
int store_run_set_image_digest(struct store *st, int64_t id, const char *digest,
			       struct error **err);

/* *out = NULL and 0 when there is no such run. */
int store_run_get(struct store *st, int64_t id, struct run_info **out, struct error **err);
/* ref: "REPO#NUMBER" or a numeric id. No such run is an input error (exit 2). */
int store_run_find(struct store *st, const char *ref, struct run_info **out, struct error **err);
/* Newest first; repo NULL for all repos; limit <= 0 means 50. Returns the count. */
int store_runs_list(struct store *st, const char *repo, int limit, int offset,
		    struct run_info **out, size_t *n, struct error **err);
/* Deletes a final run with its steps, logs, timelines and deploy results; reruns of it keep
 * their own history and lose the parent link. An active run is refused. */
int store_run_delete(struct store *st, int64_t id, struct error **err);
void run_info_release(struct run_info *r);
void run_info_free(struct run_info *r);
void run_infos_free(struct run_info *v, size_t n);

/* Marks as interrupted every queued or running run whose owner process is gone (no such pid,
 * or a pid with another start time), with its running steps (interrupted) and pending ones
 * (cancelled), then calls cleanup once per such run, after the change is committed, so the
 * caller removes what the run left (containers, workspace). Concurrent callers never handle
 * the same run twice. A cleanup returning < 0 is logged and the others still run. Cheap: one
 * indexed query when nothing is active. Returns how many runs it marked. */
int store_recover_interrupted(struct store *st, int (*cleanup)(const struct run_info *, void *),
			      void *data, struct error **err);

/* ---- steps ---- */

struct step_info {
	int64_t id;
	int64_t run_id;
	char *name;
	enum step_kind kind;
	enum step_status status;
	int exit_code; /* -1 when none */
	bool oom_killed;
	bool timed_out;
	int64_t started_at, finished_at;
	int64_t memory_peak_bytes;  /* -1 unknown */
	int64_t memory_limit_bytes; /* -1 no limit */
	int64_t cpu_us;		    /* -1 unknown */
	int64_t io_read_bytes;	    /* -1 unknown */
	int64_t io_write_bytes;	    /* -1 unknown */
	int64_t log_bytes;	    /* bytes of log kept */
	bool log_truncated;
};

/* What store_step_update changes. A field at -1 (or exit_code -1) is left as it was, so the
 * executor may update usage while the step runs. */
struct step_result {
	enum step_status status;
	int exit_code;
	bool oom_killed;
	bool timed_out;
	int64_t memory_peak_bytes;
	int64_t memory_limit_bytes;
	int64_t cpu_us;
	int64_t io_read_bytes;
	int64_t io_write_bytes;
};
/* A step_result that changes nothing but the status. */
#define STEP_RESULT_INIT(st)                                                                       \
	((struct step_result){.status = (st),                                                      \
			      .exit_code = -1,                                                     \
			      .memory_peak_bytes = -1,                                             \
			      .memory_limit_bytes = -1,                                            \
			      .cpu_us = -1,                                                        \
			      .io_read_bytes = -1,                                                 \
			      .io_write_bytes = -1})

/* A pending step of the run; name: 1-128 bytes of UTF-8 without control characters or '/'
 * (RUN/STEP), unique per run and kind. */
int store_step_create(struct store *st, int64_t run_id, const char *name, enum step_kind kind,
		      int64_t *id, struct error **err);
/* Moves the step to r->status (pending->running sets started_at, a final status sets
 * finished_at; a final step cannot change status again) and sets the given result fields. */
int store_step_update(struct store *st, int64_t step_id, const struct step_result *r,
		      struct error **err);
/* In creation order. */
int store_steps_of_run(struct store *st, int64_t run_id, struct step_info **out, size_t *n,
		       struct error **err);
/* The step of the run called name (kind step first, then build, service, deploy);
 * *out = NULL and 0 when none. */
int store_step_find(struct store *st, int64_t run_id, const char *name, struct step_info **out,
		    struct error **err);
void step_info_free(struct step_info *s);
void step_infos_free(struct step_info *v, size_t n);

/* ---- resource timeline ----
 *
 * Stored as chunks (rows of timeline_chunks) of samples, each sample three zigzag varints:
 * the deltas of t_ms, memory and cpu from the previous sample. At 4 Hz a sample takes 4-9
 * bytes (a steady memory costs 1 byte), so a 1-hour step (14,400 samples) is ~94 KB (measured),
 * where a row per sample would take ~40 bytes plus an index entry each. An append extends the
 * step's last chunk while it is under 4 KiB (rewriting at most 4 KiB) and otherwise starts a
 * new one, so appends stay cheap and a step has few rows. */
struct timeline_sample {
	int64_t t_ms;	      /* since the step started */
	int64_t memory_bytes; /* in use */
	int64_t cpu_us;	      /* cumulative CPU time */
};

int store_timeline_append(struct store *st, int64_t step_id, const struct timeline_sample *v,
			  size_t n, struct error **err);
/* All samples of the step in order; caller frees *out (NULL when none). */
int store_timeline_read(struct store *st, int64_t step_id, struct timeline_sample **out, size_t *n,
			struct error **err);

/* ---- logs ----
 *
 * store_log_append buffers; store_log_flush writes the buffer in one transaction. The executor
 * calls store_log_flush at least once a second (and at the end of a step), which makes lines
 * durable within a second: once flushed, a line survives the process being killed. Append also
 * flushes by itself when the buffer holds more than a second's or 1 MiB's worth.
 * Each step's kept output is capped (store_set_log_cap): the first line past the cap is replaced
 * by one system line "[slipway] log truncated: ..." and later lines are dropped. Text must be
 * one line without its newline, already masked; invalid UTF-8 and NUL bytes are replaced by
 * U+FFFD so every reader (JSON, web) gets valid text. */
struct log_line {
	int64_t id; /* increasing; store_logs_read(after_id = last id seen) continues (logs -f) */
	int64_t step_id; /* 0 for the run's own lines */
	int64_t t_ms;
	enum log_stream stream;
	const char *text; /* borrowed for the callback's duration; NUL-terminated */
	size_t len;
};

/* step_id 0: a line of the run itself. t_ms 0: now. */
int store_log_append(struct store *st, int64_t run_id, int64_t step_id, int64_t t_ms,
		     enum log_stream stream, const char *text, size_t len, struct error **err);
int store_log_flush(struct store *st, struct error **err);
/* Calls fn for each stored line of the run with id > after_id, in order; step_id -1 for all
 * the run's lines, 0 for the run's own, else that step's. fn returns non-zero to stop early.
 * Returns the number of lines passed to fn. Only flushed lines are seen. */
int store_logs_read(struct store *st, int64_t run_id, int64_t step_id, int64_t after_id,
		    int (*fn)(const struct log_line *line, void *data), void *data,
		    struct error **err);

/* ---- deploy results ---- */

struct deploy_record {
	int64_t id; /* set by store_deploy_record */
	int64_t run_id;
	char *name;
	enum deploy_kind kind;
	enum step_status status; /* passed, failed, error, skipped, cancelled */
	int http_status;	 /* 0 when none (command deploys, no answer) */
	int attempts;
	int64_t started_at, finished_at;
	char *error; /* NULL when none */
};

int store_deploy_record(struct store *st, int64_t run_id, const struct deploy_record *d,
			int64_t *id, struct error **err);
int store_deploys_of_run(struct store *st, int64_t run_id, struct deploy_record **out, size_t *n,
			 struct error **err);
void deploy_records_free(struct deploy_record *v, size_t n);

/* ---- JSON: the one set of field names of the CLI and the API ----
 *
 * A run: id, repo, number, commit, branch, tag, event, trigger, status, parent, queued_at,
 * started_at, finished_at, duration_ms, image_digest, and with with_steps also steps.
 * A step: name, status, exit_code, oom_killed, timed_out, started_at, finished_at,
 * memory_peak_bytes, memory_limit_bytes, cpu_us, io_read_bytes, io_write_bytes.
 * Times are ISO-8601 UTC strings with milliseconds ("2026-11-28T13:28:29.123Z") or null;
 * unknown numbers, an absent branch/tag/parent/digest are null. duration_ms runs from
 * started_at to finished_at (to now while running), null before the start. New references;
 * NULL only on out-of-memory. */
json_t *run_to_json(const struct run_info *run, bool with_steps, const struct step_info *steps,
		    size_t nsteps);
json_t *step_to_json(const struct step_info *step);
/* A deploy: name, kind, status, http_status, attempts, started_at, finished_at, error. */
json_t *deploy_to_json(const struct deploy_record *d);
/* Formats ms since the epoch as above into out (at least 25 bytes). */
void store_format_time(int64_t ms, char *out, size_t outlen);

/* ==== history queries (store/query.c): what `slipway runs|show|logs` and readers like the
 * web pages need beyond the calls above. Read-only; they never take the write lock. ==== */

/* Which runs store_runs_query returns. */
struct run_query {
	const char *repo;     /* NULL: every repo */
	unsigned status_mask; /* a bit (1u << status) per enum run_status wanted; 0: any */
	const char *branch;   /* NULL: any */
	const char *event;    /* NULL: any */
	int limit;	      /* <= 0: 50 */
	int offset;
};

/* Newest first (a repo's runs by number, all runs by id). Returns the count. An unknown repo
 * gives no runs (check with store_repo_get to tell it apart). */
int store_runs_query(struct store *st, const struct run_query *q, struct run_info **out, size_t *n,
		     struct error **err);
/* The run's status alone (no text columns read), for a follower that polls it. No such run
 * is an input error. */
int store_run_status(struct store *st, int64_t id, enum run_status *out, struct error **err);
/* A counter that changes whenever another connection commits to the database (SQLite's
 * PRAGMA data_version). It costs no table read, so a follower polls it and reads logs and
 * statuses only when it moved. Only meaningful compared with this connection's own values. */
int store_data_version(struct store *st, int64_t *out, struct error **err);

#endif
