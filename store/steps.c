/* store/steps.c — the steps of a run (steps, services, deploys, the build) with their results
 * and resource usage, and the results of deploy hooks. */
#include <errno.h>
#include <string.h>

#include "lib/cleanup.h"
#include "store/internal.h"

static const char *const step_status_names[] = {
    [STEP_PENDING] = "pending", [STEP_RUNNING] = "running",	    [STEP_PASSED] = "passed",
    [STEP_FAILED] = "failed",	[STEP_SKIPPED] = "skipped",	    [STEP_CANCELLED] = "cancelled",
    [STEP_ERROR] = "error",	[STEP_INTERRUPTED] = "interrupted",
};
static const char *const step_kind_names[] = {
    [STEP_KIND_STEP] = "step",
    [STEP_KIND_SERVICE] = "service",
    [STEP_KIND_DEPLOY] = "deploy",
    [STEP_KIND_BUILD] = "build",
};
static const char *const deploy_kind_names[] = {
    [DEPLOY_WEBHOOK] = "webhook",
    [DEPLOY_COMMAND] = "command",
};
static const char *const log_stream_names[] = {
    [LOG_STDOUT] = "stdout",
    [LOG_STDERR] = "stderr",
    [LOG_SYSTEM] = "system",
};

#define NAME_OF(table, v) ((unsigned)(v) < ARRAY_SIZE(table) ? (table)[v] : NULL)

static int parse_name(const char *const *table, size_t n, const char *s)
{
	for (size_t i = 0; s && i < n; i++)
		if (!strcmp(s, table[i]))
			return (int)i;
	return -1;
}

const char *step_status_name(enum step_status s)
{
	return NAME_OF(step_status_names, s);
}

const char *step_kind_name(enum step_kind k)
{
	return NAME_OF(step_kind_names, k);
}

const char *deploy_kind_name(enum deploy_kind k)
{
	return NAME_OF(deploy_kind_names, k);
}

const char *log_stream_name(enum log_stream s)
{
	return NAME_OF(log_stream_names, s);
}

int step_status_parse(const char *s)
{
	return parse_name(step_status_names, ARRAY_SIZE(step_status_names), s);
}

int step_kind_parse(const char *s)
{
	return parse_name(step_kind_names, ARRAY_SIZE(step_kind_names), s);
}

int deploy_kind_parse(const char *s)
{
	return parse_name(deploy_kind_names, ARRAY_SIZE(deploy_kind_names), s);
}

bool step_status_is_final(enum step_status s)
{
	return s != STEP_PENDING && s != STEP_RUNNING;
}

/* A step or deploy name: 1-128 bytes, no control characters and no '/' (RUN/STEP). */
static bool valid_step_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || s[i] == '/')
			return false;
	return store_utf8_valid(s, n);
}

int store_step_create(struct store *st, int64_t run_id, const char *name, enum step_kind kind,
		      int64_t *id, struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;
	const char *k = step_kind_name(kind);

	if (!valid_step_name(name))
		return error_usage(err,
				   "step name '%s': 1-128 bytes without '/' or control "
				   "characters",
				   name ? name : "");
	if (!k)
		return error_set(err, EXIT_INTERNAL, "step '%s': bad kind %d", name, (int)kind);
	if (store_prepare(st, &s,
			  "INSERT INTO steps (run_id, name, kind, status) "
			  "VALUES (?1, ?2, ?3, 'pending')",
			  err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, run_id);
	store_bind_text(s, 2, name);
	store_bind_text(s, 3, k);
	if (sqlite3_step(s) != SQLITE_DONE) {
		int code = sqlite3_extended_errcode(st->db);

		if (code == SQLITE_CONSTRAINT_UNIQUE)
			return error_usage(err, "run %lld already has a %s '%s'", (long long)run_id,
					   k, name);
		if (code == SQLITE_CONSTRAINT_FOREIGNKEY)
			return error_usage(err, "add step '%s': no run with id %lld", name,
					   (long long)run_id);
		return store_db_error(st, err, "add step '%s' to run %lld", name,
				      (long long)run_id);
	}
	*id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

int store_step_update(struct store *st, int64_t step_id, const struct step_result *r,
		      struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;
	cleanup_stmt sqlite3_stmt *q = NULL;
	const char *name = step_status_name(r->status);

	if (!name)
		return error_set(err, EXIT_INTERNAL, "step %lld: bad status %d", (long long)step_id,
				 (int)r->status);
	if (r->exit_code < -1 || r->exit_code > 255)
		return error_set(err, EXIT_INTERNAL, "step %lld: exit code %d out of range",
				 (long long)step_id, r->exit_code);
	/* Same transitions as runs: pending -> any; running -> running or final; final only to
	 * itself (repeating it may add late usage figures). */
	if (store_prepare(st, &s,
			  "UPDATE steps SET status = ?1, "
			  "started_at = CASE WHEN ?1 IN ('running', 'passed', 'failed') AND "
			  "  started_at IS NULL THEN ?2 ELSE started_at END, "
			  "finished_at = CASE WHEN ?1 NOT IN ('pending', 'running') AND "
			  "  finished_at IS NULL THEN ?2 ELSE finished_at END, "
			  "exit_code = COALESCE(?3, exit_code), "
			  "oom_killed = oom_killed OR ?4, timed_out = timed_out OR ?5, "
			  "memory_peak_bytes = COALESCE(?6, memory_peak_bytes), "
			  "memory_limit_bytes = COALESCE(?7, memory_limit_bytes), "
			  "cpu_us = COALESCE(?8, cpu_us), "
			  "io_read_bytes = COALESCE(?9, io_read_bytes), "
			  "io_write_bytes = COALESCE(?10, io_write_bytes) "
			  "WHERE id = ?11 AND (status = 'pending' OR status = ?1 OR "
			  "  (status = 'running' AND ?1 <> 'pending'))",
			  err) < 0)
		return -1;
	store_bind_text(s, 1, name);
	sqlite3_bind_int64(s, 2, store_now_ms());
	store_bind_opt_int(s, 3, r->exit_code);
	sqlite3_bind_int(s, 4, r->oom_killed);
	sqlite3_bind_int(s, 5, r->timed_out);
	store_bind_opt_int(s, 6, r->memory_peak_bytes);
	store_bind_opt_int(s, 7, r->memory_limit_bytes);
	store_bind_opt_int(s, 8, r->cpu_us);
	store_bind_opt_int(s, 9, r->io_read_bytes);
	store_bind_opt_int(s, 10, r->io_write_bytes);
	sqlite3_bind_int64(s, 11, step_id);
	if (sqlite3_step(s) != SQLITE_DONE)
		return store_db_error(st, err, "update step %lld", (long long)step_id);
	if (sqlite3_changes(st->db) == 1)
		return 0;
	if (store_prepare(st, &q, "SELECT status, name FROM steps WHERE id = ?1", err) < 0)
		return -1;
	sqlite3_bind_int64(q, 1, step_id);
	if (sqlite3_step(q) != SQLITE_ROW)
		return error_usage(err, "no step with id %lld", (long long)step_id);
	return error_set(err, EXIT_INTERNAL, "step '%s' is %s: it cannot become %s",
			 (const char *)sqlite3_column_text(q, 1),
			 (const char *)sqlite3_column_text(q, 0), name);
}

#define STEP_COLS                                                                                  \
	"id, run_id, name, kind, status, exit_code, oom_killed, timed_out, started_at, "           \
	"finished_at, memory_peak_bytes, memory_limit_bytes, cpu_us, io_read_bytes, "              \
	"io_write_bytes, log_bytes, log_truncated"

static int64_t col_time(sqlite3_stmt *s, int i)
{
	return sqlite3_column_type(s, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, i);
}

static int read_step_row(sqlite3_stmt *s, struct step_info *p, struct error **err)
{
	bool oom = false;
	int v;

	memset(p, 0, sizeof(*p));
	p->id = sqlite3_column_int64(s, 0);
	p->run_id = sqlite3_column_int64(s, 1);
	p->name = store_col_text(s, 2, &oom);
	v = step_kind_parse((const char *)sqlite3_column_text(s, 3));
	p->kind = v < 0 ? STEP_KIND_STEP : (enum step_kind)v;
	v = step_status_parse((const char *)sqlite3_column_text(s, 4));
	p->status = v < 0 ? STEP_ERROR : (enum step_status)v;
	p->exit_code = (int)store_col_opt_int(s, 5);
	p->oom_killed = sqlite3_column_int(s, 6);
	p->timed_out = sqlite3_column_int(s, 7);
	p->started_at = col_time(s, 8);
	p->finished_at = col_time(s, 9);
	p->memory_peak_bytes = store_col_opt_int(s, 10);
	p->memory_limit_bytes = store_col_opt_int(s, 11);
	p->cpu_us = store_col_opt_int(s, 12);
	p->io_read_bytes = store_col_opt_int(s, 13);
	p->io_write_bytes = store_col_opt_int(s, 14);
	p->log_bytes = sqlite3_column_int64(s, 15);
	p->log_truncated = sqlite3_column_int(s, 16);
	if (oom) {
		free(p->name);
		return error_errnum(err, ENOMEM, "read step");
	}
	return 0;
}

void step_info_free(struct step_info *s)
{
	if (s)
		free(s->name);
	free(s);
}

void step_infos_free(struct step_info *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].name);
	free(v);
}

int store_steps_of_run(struct store *st, int64_t run_id, struct step_info **out, size_t *n,
		       struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;
	struct step_info *v = NULL;
	size_t len = 0, alloc = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (store_prepare(st, &s, "SELECT " STEP_COLS " FROM steps WHERE run_id = ?1 ORDER BY id",
			  err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, run_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == alloc) {
			size_t na = alloc ? alloc * 2 : 16;
			struct step_info *nv = reallocarray(v, na, sizeof(*v));

			if (!nv) {
				step_infos_free(v, len);
				return error_errno(err, "read steps of run %lld",
						   (long long)run_id);
			}
			v = nv;
			alloc = na;
		}
		if (read_step_row(s, &v[len], err) < 0) {
			step_infos_free(v, len);
			return -1;
		}
		len++;
	}
	if (rc != SQLITE_DONE) {
		step_infos_free(v, len);
		return store_db_error(st, err, "read steps of run %lld", (long long)run_id);
	}
	*out = v;
	*n = len;
	return (int)len;
}

int store_step_find(struct store *st, int64_t run_id, const char *name, struct step_info **out,
		    struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;
	struct step_info *p;
	int rc;

	*out = NULL;
	if (store_prepare(st, &s,
			  "SELECT " STEP_COLS " FROM steps WHERE run_id = ?1 AND name = ?2 "
			  "ORDER BY CASE kind WHEN 'step' THEN 0 WHEN 'build' THEN 1 "
			  "WHEN 'service' THEN 2 ELSE 3 END LIMIT 1",
			  err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, run_id);
	store_bind_text(s, 2, name);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return store_db_error(st, err, "find step '%s'", name);
	p = malloc(sizeof(*p));
	if (!p)
		return error_errno(err, "find step '%s'", name);
	if (read_step_row(s, p, err) < 0) {
		free(p);
		return -1;
	}
	*out = p;
	return 0;
}

/* ---- deploy results ---- */

int store_deploy_record(struct store *st, int64_t run_id, const struct deploy_record *d,
			int64_t *id, struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;
	cleanup_free char *clean = NULL;
	const char *kind = deploy_kind_name(d->kind);
	const char *status = step_status_name(d->status);

	if (!valid_step_name(d->name))
		return error_usage(err,
				   "deploy name '%s': 1-128 bytes without '/' or control "
				   "characters",
				   d->name ? d->name : "");
	if (!kind || !status || d->http_status < 0 || d->http_status > 999 || d->attempts < 0)
		return error_set(err, EXIT_INTERNAL, "deploy '%s': bad kind, status or counts",
				 d->name);
	if (store_prepare(st, &s,
			  "INSERT INTO deploys (run_id, name, kind, status, http_status, attempts, "
			  "started_at, finished_at, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, "
			  "?9)",
			  err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, run_id);
	store_bind_text(s, 2, d->name);
	store_bind_text(s, 3, kind);
	store_bind_text(s, 4, status);
	store_bind_opt_int(s, 5, d->http_status ? d->http_status : -1);
	sqlite3_bind_int(s, 6, d->attempts);
	store_bind_opt_int(s, 7, d->started_at ? d->started_at : -1);
	store_bind_opt_int(s, 8, d->finished_at ? d->finished_at : -1);
	if (d->error) {
		size_t len = strlen(d->error);

		clean = store_utf8_sanitize(d->error, len < 4096 ? len : 4096, &len);
		if (!clean)
			return error_errno(err, "record deploy '%s'", d->name);
	}
	store_bind_text(s, 9, clean);
	if (sqlite3_step(s) != SQLITE_DONE) {
		if (sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
			return error_usage(err, "record deploy '%s': no run with id %lld", d->name,
					   (long long)run_id);
		return store_db_error(st, err, "record deploy '%s'", d->name);
	}
	if (id)
		*id = sqlite3_last_insert_rowid(st->db);
	return 0;
}

void deploy_records_free(struct deploy_record *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].name);
		free(v[i].error);
	}
	free(v);
}

int store_deploys_of_run(struct store *st, int64_t run_id, struct deploy_record **out, size_t *n,
			 struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;
	struct deploy_record *v = NULL;
	size_t len = 0, alloc = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (store_prepare(
		st, &s,
		"SELECT id, run_id, name, kind, status, http_status, attempts, started_at, "
		"finished_at, error FROM deploys WHERE run_id = ?1 ORDER BY id",
		err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, run_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct deploy_record *d;
		bool oom = false;
		int v2;

		if (len == alloc) {
			size_t na = alloc ? alloc * 2 : 8;
			struct deploy_record *nv = reallocarray(v, na, sizeof(*v));

			if (!nv) {
				deploy_records_free(v, len);
				return error_errno(err, "read deploys of run %lld",
						   (long long)run_id);
			}
			v = nv;
			alloc = na;
		}
		d = &v[len++];
		memset(d, 0, sizeof(*d));
		d->id = sqlite3_column_int64(s, 0);
		d->run_id = sqlite3_column_int64(s, 1);
		d->name = store_col_text(s, 2, &oom);
		v2 = deploy_kind_parse((const char *)sqlite3_column_text(s, 3));
		d->kind = v2 < 0 ? DEPLOY_WEBHOOK : (enum deploy_kind)v2;
		v2 = step_status_parse((const char *)sqlite3_column_text(s, 4));
		d->status = v2 < 0 ? STEP_ERROR : (enum step_status)v2;
		d->http_status = sqlite3_column_int(s, 5);
		d->attempts = sqlite3_column_int(s, 6);
		d->started_at = col_time(s, 7);
		d->finished_at = col_time(s, 8);
		d->error = store_col_text(s, 9, &oom);
		if (oom) {
			deploy_records_free(v, len);
			return error_errnum(err, ENOMEM, "read deploys of run %lld",
					    (long long)run_id);
		}
	}
	if (rc != SQLITE_DONE) {
		deploy_records_free(v, len);
		return store_db_error(st, err, "read deploys of run %lld", (long long)run_id);
	}
	*out = v;
	*n = len;
	return (int)len;
}
