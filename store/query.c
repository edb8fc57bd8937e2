/* store/query.c — read queries of the history commands: runs filtered by repo and status,
 * a run's bare status, and the database's change counter that lets a follower poll cheaply. */
#include <errno.h>
#include <string.h>

#include "lib/cleanup.h"
#include "store/internal.h"

/* ",failed,error," for a status mask: the statement tests membership with instr(), which
 * keeps it one static SQL text whatever the mask. */
static void mask_list(unsigned mask, char *out, size_t outlen)
{
	size_t len = 0;

	out[len++] = ',';
	for (int s = RUN_QUEUED; s <= RUN_INTERRUPTED; s++) {
		const char *name = run_status_name((enum run_status)s);
		size_t n = strlen(name);

		if (!(mask & (1u << s)) || len + n + 2 > outlen)
			continue;
		memcpy(out + len, name, n);
		len += n;
		out[len++] = ',';
	}
	out[len] = '\0';
}

int store_runs_query(struct store *st, const struct run_query *q, struct run_info **out, size_t *n,
		     struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;
	struct run_info *v = NULL;
	size_t len = 0, alloc = 0;
	char statuses[128];
	int limit = q->limit <= 0 ? 50 : q->limit > 100000 ? 100000 : q->limit;
	int rc;

	*out = NULL;
	*n = 0;
	mask_list(q->status_mask, statuses, sizeof(statuses));
	/* Two forms so that each walks an index newest first: a repo's runs by number, or all
	 * runs by id; status, branch and event filter along the way. */
	if (store_prepare(
		st, &s,
		q->repo ? "SELECT " RUN_COLS RUN_FROM
			  "WHERE r.repo_id = (SELECT id FROM repos WHERE name = ?1) "
			  "AND (?4 = ',' OR instr(?4, ',' || r.status || ',') > 0) "
			  "AND (?5 IS NULL OR r.branch = ?5) AND (?6 IS NULL OR r.event = ?6) "
			  "ORDER BY r.number DESC LIMIT ?2 OFFSET ?3"
			: "SELECT " RUN_COLS RUN_FROM "WHERE ?1 IS NULL "
			  "AND (?4 = ',' OR instr(?4, ',' || r.status || ',') > 0) "
			  "AND (?5 IS NULL OR r.branch = ?5) AND (?6 IS NULL OR r.event = ?6) "
			  "ORDER BY r.id DESC LIMIT ?2 OFFSET ?3",
		err) < 0)
		return -1;
	store_bind_text(s, 1, q->repo);
	sqlite3_bind_int(s, 2, limit);
	sqlite3_bind_int(s, 3, q->offset > 0 ? q->offset : 0);
	store_bind_text(s, 4, statuses);
	store_bind_text(s, 5, q->branch);
	store_bind_text(s, 6, q->event);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (len == alloc) {
			size_t na = alloc ? alloc * 2 : 32;
			struct run_info *nv = reallocarray(v, na, sizeof(*v));

			if (!nv) {
				run_infos_free(v, len);
				return error_errno(err, "list runs");
			}
			v = nv;
			alloc = na;
		}
		if (store_read_run_row(s, &v[len], false, err) < 0) {
			run_infos_free(v, len);
			return error_wrap(err, "list runs");
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

int store_run_status(struct store *st, int64_t id, enum run_status *out, struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;
	int rc, status;

	if (store_prepare(st, &s, "SELECT status FROM runs WHERE id = ?1", err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		return error_usage(err, "no run with id %lld", (long long)id);
	if (rc != SQLITE_ROW)
		return store_db_error(st, err, "read run %lld", (long long)id);
	status = run_status_parse((const char *)sqlite3_column_text(s, 0));
	*out = status < 0 ? RUN_ERROR : (enum run_status)status;
	return 0;
}

int store_data_version(struct store *st, int64_t *out, struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;

	if (store_prepare(st, &s, "PRAGMA data_version", err) < 0)
		return -1;
	if (sqlite3_step(s) != SQLITE_ROW)
		return store_db_error(st, err, "read the change counter of '%s'", st->path);
	*out = sqlite3_column_int64(s, 0);
	return 0;
}
