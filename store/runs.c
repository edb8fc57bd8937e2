/* store/runs.c — repos and runs: creation with per-repo numbers, status transitions, lookups,
 * and the recovery of runs whose process died. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "lib/proc.h"
#include "lib/cleanup.h"
#include "lib/log.h"
#include "store/internal.h"

static const char *const run_status_names[] = {
    [RUN_QUEUED] = "queued",	       [RUN_RUNNING] = "running", [RUN_PASSED] = "passed",
    [RUN_FAILED] = "failed",	       [RUN_ERROR] = "error",	  [RUN_CANCELLED] = "cancelled",
    [RUN_INTERRUPTED] = "interrupted",
};

const char *run_status_name(enum run_status s)
{
	return (unsigned)s < ARRAY_SIZE(run_status_names) ? run_status_names[s] : NULL;
}

int run_status_parse(const char *s)
{
	for (size_t i = 0; s && i < ARRAY_SIZE(run_status_names); i++)
		if (!strcmp(s, run_status_names[i]))
			return (int)i;
	return -1;
}

bool run_status_is_final(enum run_status s)
{
	return s != RUN_QUEUED && s != RUN_RUNNING;
}

/* ---- validation of what callers pass in ---- */

static bool valid_repo_name(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 128 || s[0] == '.' || s[0] == '/' || s[0] == '-' || strstr(s, ".."))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isalnum((unsigned char)s[i]) && !strchr("._/-", s[i]))
			return false;
	return true;
}

static bool valid_token(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > 32)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) && s[i] != '_')
			return false;
	return true;
}

static bool valid_hex(const char *s, size_t min, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n < min || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) || isupper((unsigned char)s[i]))
			return false;
	return true;
}

/* A branch or tag name: 1-255 bytes, no control characters. */
static bool valid_ref(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return store_utf8_valid(s, n);
}

static bool valid_digest(const char *s)
{
	const char *colon = strchr(s, ':');
	size_t alg = colon ? (size_t)(colon - s) : 0;

	if (alg == 0 || alg > 32)
		return false;
	for (size_t i = 0; i < alg; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]))
			return false;
	return valid_hex(colon + 1, 32, 128);
}

/* ---- repos ---- */

int store_repo_ensure(struct store *st, const char *name, const char *url, int64_t *id,
		      struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;

	if (!valid_repo_name(name))
		return error_usage(err, "repo name '%s': use 1-128 of A-Z a-z 0-9 . _ / -",
				   name ? name : "");
	if (url && strlen(url) > 4096)
		return error_usage(err, "repo '%s': url longer than 4096 bytes", name);
	if (store_prepare(st, &s,
			  "INSERT INTO repos (name, url, created_at) VALUES (?1, ?2, ?3) "
			  "ON CONFLICT (name) DO UPDATE SET url = excluded.url "
			  "WHERE url IS NOT excluded.url RETURNING id",
			  err) < 0)
		return -1;
	store_bind_text(s, 1, name);
	store_bind_text(s, 2, url ? url : "");
	sqlite3_bind_int64(s, 3, store_now_ms());
	switch (sqlite3_step(s)) {
	case SQLITE_ROW:
		*id = sqlite3_column_int64(s, 0);
		if (sqlite3_step(s) != SQLITE_DONE) /* the change commits when it ends */
			return store_db_error(st, err, "add repo '%s'", name);
		return 0;
	case SQLITE_DONE: /* it exists with this url: no row changed, none returned */
		break;
	default:
		return store_db_error(st, err, "add repo '%s'", name);
	}
	sqlite3_finalize(s);
	s = NULL;
	if (store_prepare(st, &s, "SELECT id FROM repos WHERE name = ?1", err) < 0)
		return -1;
	store_bind_text(s, 1, name);
	if (sqlite3_step(s) != SQLITE_ROW)
		return store_db_error(st, err, "find repo '%s'", name);
	*id = sqlite3_column_int64(s, 0);
	return 0;
}

int store_repo_set_trusted(struct store *st, const char *name, bool trusted, struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;

	if (store_prepare(st, &s, "UPDATE repos SET trusted = ?1 WHERE name = ?2", err) < 0)
		return -1;
	sqlite3_bind_int(s, 1, trusted);
	store_bind_text(s, 2, name);
	if (sqlite3_step(s) != SQLITE_DONE)
		return store_db_error(st, err, "update repo '%s'", name);
	if (sqlite3_changes(st->db) == 0)
		return error_usage(err, "no repo '%s'", name);
	return 0;
}

int store_repo_get(struct store *st, const char *name, struct repo_info **out, struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;
	struct repo_info *r;
	bool oom = false;
	int rc;

	*out = NULL;
	if (store_prepare(st, &s,
			  "SELECT id, name, url, trusted, created_at FROM repos WHERE name = ?1",
			  err) < 0)
		return -1;
	store_bind_text(s, 1, name);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return store_db_error(st, err, "read repo '%s'", name);
	r = calloc(1, sizeof(*r));
	if (!r)
		return error_errno(err, "read repo '%s'", name);
	r->id = sqlite3_column_int64(s, 0);
	r->name = store_col_text(s, 1, &oom);
	r->url = store_col_text(s, 2, &oom);
	r->trusted = sqlite3_column_int(s, 3);
	r->created_at = sqlite3_column_int64(s, 4);
	if (oom) {
		repo_info_free(r);
		return error_errnum(err, ENOMEM, "read repo '%s'", name);
	}
	*out = r;
	return 0;
}

void repo_info_free(struct repo_info *r)
{
	if (!r)
		return;
	free(r->name);
	free(r->url);
	free(r);
}

void repo_infos_free(struct repo_info *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].name);
		free(v[i].url);
	}
	free(v);
}

int store_repos_list(struct store *st, struct repo_info **out, size_t *n, struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;
	struct repo_info *v = NULL;
	size_t len = 0, alloc = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (store_prepare(st, &s,
			  "SELECT id, name, url, trusted, created_at FROM repos ORDER BY name",
			  err) < 0)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		bool oom = false;

		if (len == alloc) {
			size_t na = alloc ? alloc * 2 : 16;
			struct repo_info *nv = reallocarray(v, na, sizeof(*v));

			if (!nv) {
				repo_infos_free(v, len);
				return error_errno(err, "list repos");
			}
			v = nv;
			alloc = na;
		}
		v[len] = (struct repo_info){
		    .id = sqlite3_column_int64(s, 0),
		    .name = store_col_text(s, 1, &oom),
		    .url = store_col_text(s, 2, &oom),
		    .trusted = sqlite3_column_int(s, 3),
		    .created_at = sqlite3_column_int64(s, 4),
		};
		len++;
		if (oom) {
			repo_infos_free(v, len);
			return error_errnum(err, ENOMEM, "list repos");
		}
	}
	if (rc != SQLITE_DONE) {
		repo_infos_free(v, len);
		return store_db_error(st, err, "list repos");
	}
	*out = v;
	*n = len;
	return (int)len;
}

/* ---- reading runs ---- */

static int64_t col_time(sqlite3_stmt *s, int i)
{
	return sqlite3_column_type(s, i) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, i);
}

int store_read_run_row(sqlite3_stmt *s, struct run_info *r, bool with_pipeline, struct error **err)
{
	bool oom = false;
	int status;

	memset(r, 0, sizeof(*r));
	r->id = sqlite3_column_int64(s, 0);
	r->repo_id = sqlite3_column_int64(s, 1);
	r->repo = store_col_text(s, 2, &oom);
	r->number = sqlite3_column_int64(s, 3);
	r->commit = store_col_text(s, 4, &oom);
	r->branch = store_col_text(s, 5, &oom);
	r->tag = store_col_text(s, 6, &oom);
	r->event = store_col_text(s, 7, &oom);
	r->trigger = store_col_text(s, 8, &oom);
	status = run_status_parse((const char *)sqlite3_column_text(s, 9));
	r->status = status < 0 ? RUN_ERROR : (enum run_status)status;
	r->parent = col_time(s, 10);
	r->queued_at = col_time(s, 11);
	r->started_at = col_time(s, 12);
	r->finished_at = col_time(s, 13);
	r->image_digest = store_col_text(s, 14, &oom);
	r->owner_pid = (pid_t)col_time(s, 15);
	r->owner_start = store_col_opt_int(s, 16);
	r->error = store_col_text(s, 17, &oom);
	if (with_pipeline)
		r->pipeline = store_col_text(s, 18, &oom);
	if (oom) {
		run_info_release(r);
		return error_errnum(err, ENOMEM, "read run");
	}
	return 0;
}

void run_info_release(struct run_info *r)
{
	if (!r)
		return;
	free(r->repo);
	free(r->commit);
	free(r->branch);
	free(r->tag);
	free(r->event);
	free(r->trigger);
	free(r->image_digest);
	free(r->pipeline);
	free(r->error);
	memset(r, 0, sizeof(*r));
}

void run_info_free(struct run_info *r)
{
	run_info_release(r);
	free(r);
}

void run_infos_free(struct run_info *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		run_info_release(&v[i]);
	free(v);
}

/* Runs the prepared single-run query; *out = NULL when no row. */
static int get_one_run(struct store *st, sqlite3_stmt *s, struct run_info **out, struct error **err)
{
	struct run_info *r;
	int rc = sqlite3_step(s);

	*out = NULL;
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW)
		return store_db_error(st, err, "read run");
	r = malloc(sizeof(*r));
	if (!r)
		return error_errno(err, "read run");
	if (store_read_run_row(s, r, true, err) < 0) {
		free(r);
		return -1;
	}
	*out = r;
	return 0;
}

int store_run_get(struct store *st, int64_t id, struct run_info **out, struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;

	*out = NULL;
	if (store_prepare(st, &s, "SELECT " RUN_COLS ", r.pipeline" RUN_FROM "WHERE r.id = ?1",
			  err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	return get_one_run(st, s, out, err);
}

static bool all_digits(const char *s)
{
	if (!*s || strlen(s) > 18)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

int store_run_find(struct store *st, const char *ref, struct run_info **out, struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;
	cleanup_free char *repo = NULL;
	const char *hash = strrchr(ref, '#');

	*out = NULL;
	if (all_digits(ref)) {
		if (store_run_get(st, strtoll(ref, NULL, 10), out, err) < 0)
			return -1;
	} else {
		if (!hash || !all_digits(hash + 1) || hash == ref)
			return error_usage(err, "run '%s': expected REPO#NUMBER or a run id", ref);
		repo = strndup(ref, (size_t)(hash - ref));
		if (!repo)
			return error_errno(err, "find run '%s'", ref);
		if (store_prepare(st, &s,
				  "SELECT " RUN_COLS ", r.pipeline" RUN_FROM
				  "WHERE p.name = ?1 AND r.number = ?2",
				  err) < 0)
			return -1;
		store_bind_text(s, 1, repo);
		sqlite3_bind_int64(s, 2, strtoll(hash + 1, NULL, 10));
		if (get_one_run(st, s, out, err) < 0)
			return -1;
	}
	if (!*out)
		return error_usage(err, "no run '%s'", ref);
	return 0;
}

int store_runs_list(struct store *st, const char *repo, int limit, int offset,
		    struct run_info **out, size_t *n, struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;
	struct run_info *v = NULL;
	size_t len = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (limit <= 0)
		limit = 50;
	if (limit > 100000)
		limit = 100000;
	if (offset < 0)
		offset = 0;
	/* Two forms so that each uses an index: runs by id, or a repo's runs by number. */
	if (store_prepare(st, &s,
			  repo ? "SELECT " RUN_COLS RUN_FROM
				 "WHERE r.repo_id = (SELECT id FROM repos WHERE name = ?1) "
				 "ORDER BY r.number DESC LIMIT ?2 OFFSET ?3"
			       : "SELECT " RUN_COLS RUN_FROM "WHERE ?1 IS NULL "
				 "ORDER BY r.id DESC LIMIT ?2 OFFSET ?3",
			  err) < 0)
		return -1;
	store_bind_text(s, 1, repo);
	sqlite3_bind_int(s, 2, limit);
	sqlite3_bind_int(s, 3, offset);
	v = calloc((size_t)limit < 64 ? (size_t)limit : 64, sizeof(*v));
	if (!v)
		return error_errno(err, "list runs");
	size_t alloc = (size_t)limit < 64 ? (size_t)limit : 64;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == alloc) {
			struct run_info *nv = reallocarray(v, alloc * 2, sizeof(*v));

			if (!nv) {
				run_infos_free(v, len);
				return error_errno(err, "list runs");
			}
			v = nv;
			alloc *= 2;
		}
		if (store_read_run_row(s, &v[len], false, err) < 0) {
			run_infos_free(v, len);
			return -1;
		}
		len++;
	}
	if (rc != SQLITE_DONE) {
		run_infos_free(v, len);
		return store_db_error(st, err, "list runs");
	}
	*out = v;
	*n = len;
	return (int)len;
}

/* ---- writing runs ---- */

static int check_spec(const struct run_spec *spec, struct error **err)
{
	if (!valid_hex(spec->commit, 4, 64))
		return error_usage(err, "run commit '%s': expected 4-64 lowercase hex digits",
				   spec->commit ? spec->commit : "");
	if (!valid_token(spec->event))
		return error_usage(err, "run event '%s': expected 1-32 of a-z _",
				   spec->event ? spec->event : "");
	if (!valid_token(spec->trigger))
		return error_usage(err, "run trigger '%s': expected 1-32 of a-z _",
				   spec->trigger ? spec->trigger : "");
	if (spec->branch && !valid_ref(spec->branch))
		return error_usage(err, "run branch: 1-255 bytes without control characters");
	if (spec->tag && !valid_ref(spec->tag))
		return error_usage(err, "run tag: 1-255 bytes without control characters");
	if (spec->pipeline && strlen(spec->pipeline) > STORE_PIPELINE_MAX)
		return error_usage(err, "run pipeline: longer than %u bytes", STORE_PIPELINE_MAX);
	if (spec->parent < 0)
		return error_usage(err, "run parent %lld: not a run id", (long long)spec->parent);
	return 0;
}

int store_run_create(struct store *st, int64_t repo_id, const struct run_spec *spec, int64_t *id,
		     int64_t *number, struct error **err)
{
	cleanup_stmt sqlite3_stmt *num = NULL;
	cleanup_stmt sqlite3_stmt *ins = NULL;
	cleanup_stmt sqlite3_stmt *par = NULL;
	pid_t self = getpid();
	int64_t start = store_proc_start_time(self);
	int64_t n;

	if (check_spec(spec, err) < 0)
		return -1;
	if (store_prepare(st, &num,
			  "UPDATE repos SET last_run_number = last_run_number + 1 WHERE id = ?1 "
			  "RETURNING last_run_number",
			  err) < 0 ||
	    store_prepare(st, &par, "SELECT 1 FROM runs WHERE id = ?1", err) < 0 ||
	    store_prepare(st, &ins,
			  "INSERT INTO runs (repo_id, number, commit_hash, branch, tag, event, "
			  "trigger_kind, status, queued_at, parent_id, pipeline, owner_pid, "
			  "owner_start) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'queued', ?8, ?9, ?10, "
			  "?11, ?12)",
			  err) < 0)
		return -1;
	if (store_begin(st, err) < 0)
		return error_wrap(err, "create run");
	if (spec->parent) {
		sqlite3_bind_int64(par, 1, spec->parent);
		if (sqlite3_step(par) != SQLITE_ROW) {
			store_rollback(st);
			return error_usage(err, "create run: no parent run %lld",
					   (long long)spec->parent);
		}
		sqlite3_reset(par);
	}
	sqlite3_bind_int64(num, 1, repo_id);
	switch (sqlite3_step(num)) {
	case SQLITE_ROW:
		n = sqlite3_column_int64(num, 0);
		/* a statement still stepping would make COMMIT fail */
		sqlite3_reset(num);
		break;
	case SQLITE_DONE:
		store_rollback(st);
		return error_usage(err, "create run: no repo with id %lld", (long long)repo_id);
	default:
		store_db_error(st, err, "create run");
		store_rollback(st);
		return -1;
	}
	sqlite3_bind_int64(ins, 1, repo_id);
	sqlite3_bind_int64(ins, 2, n);
	store_bind_text(ins, 3, spec->commit);
	store_bind_text(ins, 4, spec->branch);
	store_bind_text(ins, 5, spec->tag);
	store_bind_text(ins, 6, spec->event);
	store_bind_text(ins, 7, spec->trigger);
	sqlite3_bind_int64(ins, 8, store_now_ms());
	store_bind_opt_int(ins, 9, spec->parent ? spec->parent : -1);
	store_bind_text(ins, 10, spec->pipeline);
	sqlite3_bind_int64(ins, 11, self);
	store_bind_opt_int(ins, 12, start);
	if (sqlite3_step(ins) != SQLITE_DONE) {
		store_db_error(st, err, "create run");
		store_rollback(st);
		return -1;
	}
	*id = sqlite3_last_insert_rowid(st->db);
	if (store_commit(st, err) < 0)
		return error_wrap(err, "create run");
	if (number)
		*number = n;
	return 0;
}

static int no_such_run(struct store *st, int64_t id, struct error **err)
{
	return error_usage(err, "no run with id %lld", (long long)id);
}

int store_run_set_owner(struct store *st, int64_t id, pid_t pid, struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;
	int64_t start = store_proc_start_time(pid);

	if (start < 0)
		return error_errno(err, "run %lld: owner process %d", (long long)id, (int)pid);
	if (store_prepare(st, &s, "UPDATE runs SET owner_pid = ?1, owner_start = ?2 WHERE id = ?3",
			  err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, pid);
	sqlite3_bind_int64(s, 2, start);
	sqlite3_bind_int64(s, 3, id);
	if (sqlite3_step(s) != SQLITE_DONE)
		return store_db_error(st, err, "update run %lld", (long long)id);
	if (sqlite3_changes(st->db) == 0)
		return no_such_run(st, id, err);
	return 0;
}

int store_run_set_status(struct store *st, int64_t id, enum run_status status,
			 const char *error_msg, struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;
	cleanup_stmt sqlite3_stmt *q = NULL;
	cleanup_free char *clean = NULL;
	const char *name = run_status_name(status);

	if (!name)
		return error_set(err, EXIT_INTERNAL, "run %lld: bad status %d", (long long)id,
				 (int)status);
	if (error_msg) {
		size_t len = strlen(error_msg);

		/* kept whole up to 4 KiB, as valid UTF-8 (it comes from anywhere) */
		clean = store_utf8_sanitize(error_msg, len < 4096 ? len : 4096, &len);
		if (!clean)
			return error_errno(err, "update run %lld", (long long)id);
	}
	/* ?1 new status, ?2 now, ?3 error, ?4 id. The allowed previous states: queued -> any;
	 * running -> running or final; a final state only to itself (a repeat is harmless). */
	if (store_prepare(st, &s,
			  "UPDATE runs SET status = ?1, "
			  "started_at = CASE WHEN ?1 IN ('running', 'passed', 'failed') AND "
			  "  started_at IS NULL THEN ?2 ELSE started_at END, "
			  "finished_at = CASE WHEN ?1 NOT IN ('queued', 'running') AND "
			  "  finished_at IS NULL THEN ?2 ELSE finished_at END, "
			  "error = COALESCE(?3, error) "
			  "WHERE id = ?4 AND (status = 'queued' OR status = ?1 OR "
			  "  (status = 'running' AND ?1 <> 'queued'))",
			  err) < 0)
		return -1;
	store_bind_text(s, 1, name);
	sqlite3_bind_int64(s, 2, store_now_ms());
	store_bind_text(s, 3, clean);
	sqlite3_bind_int64(s, 4, id);
	if (sqlite3_step(s) != SQLITE_DONE)
		return store_db_error(st, err, "update run %lld", (long long)id);
	if (sqlite3_changes(st->db) == 1)
		return 0;
	if (store_prepare(st, &q, "SELECT status FROM runs WHERE id = ?1", err) < 0)
		return -1;
	sqlite3_bind_int64(q, 1, id);
	if (sqlite3_step(q) != SQLITE_ROW)
		return no_such_run(st, id, err);
	return error_set(err, EXIT_INTERNAL, "run %lld is %s: it cannot become %s", (long long)id,
			 (const char *)sqlite3_column_text(q, 0), name);
}

int store_run_set_image_digest(struct store *st, int64_t id, const char *digest, struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;

	if (!digest || !valid_digest(digest))
		return error_usage(err, "run %lld: image digest '%s': expected ALGORITHM:HEX",
				   (long long)id, digest ? digest : "");
	if (store_prepare(st, &s, "UPDATE runs SET image_digest = ?1 WHERE id = ?2", err) < 0)
		return -1;
	store_bind_text(s, 1, digest);
	sqlite3_bind_int64(s, 2, id);
	if (sqlite3_step(s) != SQLITE_DONE)
		return store_db_error(st, err, "update run %lld", (long long)id);
	if (sqlite3_changes(st->db) == 0)
		return no_such_run(st, id, err);
	return 0;
}

int store_run_delete(struct store *st, int64_t id, struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;
	cleanup_stmt sqlite3_stmt *q = NULL;

	if (store_prepare(st, &s,
			  "DELETE FROM runs WHERE id = ?1 AND status NOT IN ('queued', 'running')",
			  err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	if (sqlite3_step(s) != SQLITE_DONE)
		return store_db_error(st, err, "delete run %lld", (long long)id);
	if (sqlite3_changes(st->db) == 1)
		return 0;
	if (store_prepare(st, &q, "SELECT status FROM runs WHERE id = ?1", err) < 0)
		return -1;
	sqlite3_bind_int64(q, 1, id);
	if (sqlite3_step(q) != SQLITE_ROW)
		return no_such_run(st, id, err);
	return error_usage(err, "run %lld is %s: only a finished run can be deleted", (long long)id,
			   (const char *)sqlite3_column_text(q, 0));
}

/* ---- runs whose process died ---- */

int64_t store_proc_start_time(pid_t pid)
{
	return proc_start_time(pid);
}

/* Whether the process recorded as a run's owner still runs. When it cannot be told (no /proc,
 * another pid namespace's view), the run is left alone. */
static bool owner_alive(pid_t pid, int64_t start)
{
	int64_t now;

	if (pid <= 0)
		return false;
	if (kill(pid, 0) < 0 && errno == ESRCH)
		return false;
	now = store_proc_start_time(pid);
	if (now < 0)
		return errno != ESRCH && errno != ENOENT ? true : false;
	return start < 0 || now == start;
}

struct dead_run {
	int64_t id;
	int64_t pid;
	int64_t start;
};

/* Marks one run interrupted if it is still active with the same owner; 1 if this call did. */
static int mark_interrupted(struct store *st, const struct dead_run *d, struct error **err)
{
	char msg[128];
	int64_t now = store_now_ms();
	int changed;
	cleanup_stmt sqlite3_stmt *run = NULL;
	cleanup_stmt sqlite3_stmt *steps = NULL;
	cleanup_stmt sqlite3_stmt *line = NULL;

	snprintf(msg, sizeof(msg), "the process running it (pid %lld) is gone", (long long)d->pid);
	if (store_prepare(st, &run,
			  "UPDATE runs SET status = 'interrupted', finished_at = ?1, "
			  "error = COALESCE(error, ?2) WHERE id = ?3 AND status IN ('queued', "
			  "'running') AND owner_pid IS ?4 AND owner_start IS ?5",
			  err) < 0 ||
	    store_prepare(st, &steps,
			  "UPDATE steps SET finished_at = ?1, status = CASE status WHEN 'running' "
			  "THEN 'interrupted' ELSE 'cancelled' END "
			  "WHERE run_id = ?2 AND status IN ('running', 'pending')",
			  err) < 0 ||
	    store_prepare(st, &line,
			  "INSERT INTO log_lines (run_id, step_id, t_ms, stream, line) "
			  "VALUES (?1, NULL, ?2, 2, '[slipway] run interrupted: ' || ?3)",
			  err) < 0)
		return -1;
	if (store_begin(st, err) < 0)
		return -1;
	sqlite3_bind_int64(run, 1, now);
	store_bind_text(run, 2, msg);
	sqlite3_bind_int64(run, 3, d->id);
	store_bind_opt_int(run, 4, d->pid);
	store_bind_opt_int(run, 5, d->start);
	if (sqlite3_step(run) != SQLITE_DONE)
		goto fail;
	changed = sqlite3_changes(st->db);
	if (changed) {
		sqlite3_bind_int64(steps, 1, now);
		sqlite3_bind_int64(steps, 2, d->id);
		sqlite3_bind_int64(line, 1, d->id);
		sqlite3_bind_int64(line, 2, now);
		store_bind_text(line, 3, msg);
		if (sqlite3_step(steps) != SQLITE_DONE || sqlite3_step(line) != SQLITE_DONE)
			goto fail;
	}
	if (store_commit(st, err) < 0)
		return -1;
	return changed ? 1 : 0;
fail:
	store_db_error(st, err, "mark run %lld interrupted", (long long)d->id);
	store_rollback(st);
	return -1;
}

int store_recover_interrupted(struct store *st, int (*cleanup)(const struct run_info *, void *),
			      void *data, struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;
	cleanup_free struct dead_run *dead = NULL;
	size_t ndead = 0, alloc = 0;
	int marked = 0, rc;

	if (store_prepare(st, &s,
			  "SELECT id, owner_pid, owner_start FROM runs "
			  "WHERE status IN ('queued', 'running')",
			  err) < 0)
		return -1;
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct dead_run d = {
		    .id = sqlite3_column_int64(s, 0),
		    .pid = store_col_opt_int(s, 1),
		    .start = store_col_opt_int(s, 2),
		};

		if (d.pid > 0 && d.pid <= INT32_MAX && owner_alive((pid_t)d.pid, d.start))
			continue;
		if (ndead == alloc) {
			size_t na = alloc ? alloc * 2 : 8;
			struct dead_run *nv = reallocarray(dead, na, sizeof(*dead));

			if (!nv)
				return error_errno(err, "recover interrupted runs");
			dead = nv;
			alloc = na;
		}
		dead[ndead++] = d;
	}
	if (rc != SQLITE_DONE)
		return store_db_error(st, err, "recover interrupted runs");
	sqlite3_finalize(s);
	s = NULL;
	for (size_t i = 0; i < ndead; i++) {
		struct run_info *run = NULL;

		rc = mark_interrupted(st, &dead[i], err);
		if (rc < 0)
			return error_wrap(err, "recover interrupted runs");
		if (rc == 0)
			continue; /* another process got there first, or it was claimed */
		marked++;
		if (!cleanup)
			continue;
		if (store_run_get(st, dead[i].id, &run, err) < 0)
			return error_wrap(err, "recover interrupted runs");
		if (run && cleanup(run, data) < 0)
			log_warn("cleaning up after interrupted run %s#%lld failed", run->repo,
				 (long long)run->number);
		run_info_free(run);
	}
	return marked;
}
