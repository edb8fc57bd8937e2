/* store/internal.h — what the files of store/ share: the connection struct, statement helpers,
 * the migration runner and the timeline codec (also used by the unit tests). Not for other
 * modules: they use store/store.h. */
#ifndef SLIPWAY_STORE_INTERNAL_H
#define SLIPWAY_STORE_INTERNAL_H

#include <sqlite3.h>
#include <stdint.h>

#include "lib/buf.h"
#include "store/store.h"

struct pending_line {
	int64_t run_id;
	int64_t step_id;
	int64_t t_ms;
	int stream;
	char *text; /* owned, valid UTF-8 */
	size_t len;
};

/* Log bytes kept so far for one (run, step) in this process. */
struct log_quota {
	int64_t run_id;
	int64_t step_id;
	uint64_t bytes;
	bool truncated;
	bool dirty; /* changed since the last flush */
};

struct store {
	sqlite3 *db;
	char *path;
	size_t log_cap;
	struct pending_line *pending;
	size_t npending, pending_alloc;
	size_t pending_bytes;
	int64_t pending_since; /* ms time of the oldest pending line */
	struct log_quota *quotas;
	size_t nquotas, quotas_alloc;
};

/* The columns of a run, selected FROM RUN_FROM (store_read_run_row reads them). */
#define RUN_COLS                                                                                   \
	"r.id, r.repo_id, p.name, r.number, r.commit_hash, r.branch, r.tag, r.event, "             \
	"r.trigger_kind, r.status, r.parent_id, r.queued_at, r.started_at, r.finished_at, "        \
	"r.image_digest, r.owner_pid, r.owner_start, r.error"
#define RUN_FROM " FROM runs r JOIN repos p ON p.id = r.repo_id "
/* Fills r from a row of RUN_COLS (and the pipeline in column 18 when with_pipeline). */
int store_read_run_row(sqlite3_stmt *s, struct run_info *r, bool with_pipeline, struct error **err);

/* Frees the log buffer and quotas (store_close). */
void store_logs_release(struct store *st);

/* ms since the epoch. */
int64_t store_now_ms(void);

/* Sets *err from the connection's last error: "<what>: <sqlite message>"; returns -1. A
 * corrupt file or one that is not a database names the file. */
int store_db_error(struct store *st, struct error **err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prepares sql (a cached statement is not kept: prepares are a few µs). */
int store_prepare(struct store *st, sqlite3_stmt **stmt, const char *sql, struct error **err);
/* Runs statements without results. */
int store_exec(struct store *st, const char *sql, struct error **err);
/* BEGIN IMMEDIATE (takes the write lock now, so the busy timeout applies), COMMIT, ROLLBACK. */
int store_begin(struct store *st, struct error **err);
int store_commit(struct store *st, struct error **err);
void store_rollback(struct store *st);

/* Binds helpers: NULL/-1 become SQL NULL. */
int store_bind_text(sqlite3_stmt *s, int i, const char *v);
int store_bind_opt_int(sqlite3_stmt *s, int i, int64_t v);
/* Column helpers: a NULL column reads as NULL / -1 / 0. Strings are strdup'ed (NULL on
 * NULL); *oom is set when a copy fails. */
char *store_col_text(sqlite3_stmt *s, int i, bool *oom);
int64_t store_col_opt_int(sqlite3_stmt *s, int i);

static inline void store_finalizep(sqlite3_stmt **s)
{
	sqlite3_finalize(*s);
}
#define cleanup_stmt __attribute__((cleanup(store_finalizep)))

/* One forward migration: the SQL of one step, applied in its own transaction. */
struct store_migration {
	const char *sql;
};
/* Applies steps[v..n) to a database at user_version v, one transaction each, re-reading the
 * version under the write lock (another process may have migrated meanwhile). A version above
 * n is an error naming both. */
int store_migrate(struct store *st, const struct store_migration *steps, size_t n,
		  struct error **err);
extern const struct store_migration store_migrations[];
extern const size_t store_migrations_count;

/* Timeline codec: appends the samples to out as zigzag varint deltas from *prev, which is
 * updated to the last sample. */
int timeline_encode(const struct timeline_sample *v, size_t n, struct timeline_sample *prev,
		    struct buf *out, struct error **err);
/* Decodes n samples from data, starting from *prev (all zero for a chunk's start), appending
 * them to *v (grown as needed, *vlen and *valloc updated). A malformed chunk is an error. */
int timeline_decode(const uint8_t *data, size_t len, size_t n, struct timeline_sample *prev,
		    struct timeline_sample **v, size_t *vlen, size_t *valloc, struct error **err);

/* Reads field 22 (start time in clock ticks since boot) of /proc/PID/stat; -1 with errno when
 * the process does not exist. */
int64_t store_proc_start_time(pid_t pid);

/* Whether s is valid UTF-8 without NUL bytes. */
bool store_utf8_valid(const char *s, size_t len);
/* Writes a copy of text with invalid UTF-8 and NUL replaced by U+FFFD; caller frees. */
char *store_utf8_sanitize(const char *text, size_t len, size_t *outlen);

#endif
