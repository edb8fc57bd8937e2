/* store/store.c — opening the history database: file creation, connection settings, errors,
 * statement helpers and the forward migrations of the schema. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "lib/cleanup.h"
#include "lib/fs.h"
#include "lib/log.h"
#include "store/internal.h"

/* Version N of the schema is the database after steps [0, N). Never edit a released step:
 * append a new one (ALTER TABLE ..., CREATE INDEX ...). */
const struct store_migration store_migrations[] = {
    {"CREATE TABLE repos (\n"
     "  id INTEGER PRIMARY KEY,\n"
     "  name TEXT NOT NULL UNIQUE,\n"
     "  url TEXT NOT NULL DEFAULT '',\n"
     "  trusted INTEGER NOT NULL DEFAULT 0 CHECK (trusted IN (0, 1)),\n"
     "  created_at INTEGER NOT NULL,\n"
     "  last_run_number INTEGER NOT NULL DEFAULT 0\n"
     ");\n"
     "CREATE TABLE runs (\n"
     "  id INTEGER PRIMARY KEY,\n"
     "  repo_id INTEGER NOT NULL REFERENCES repos(id) ON DELETE CASCADE,\n"
     "  number INTEGER NOT NULL,\n"
     "  commit_hash TEXT NOT NULL,\n"
     "  branch TEXT,\n"
     "  tag TEXT,\n"
     "  event TEXT NOT NULL,\n"
     "  trigger_kind TEXT NOT NULL,\n"
     "  status TEXT NOT NULL CHECK (status IN ('queued', 'running', 'passed', 'failed',\n"
     "    'error', 'cancelled', 'interrupted')),\n"
     "  queued_at INTEGER NOT NULL,\n"
     "  started_at INTEGER,\n"
     "  finished_at INTEGER,\n"
     "  parent_id INTEGER REFERENCES runs(id) ON DELETE SET NULL,\n"
     "  image_digest TEXT,\n"
     "  pipeline TEXT,\n"
     "  owner_pid INTEGER,\n"
     "  owner_start INTEGER,\n"
     "  error TEXT,\n"
     "  log_bytes INTEGER NOT NULL DEFAULT 0,\n"
     "  log_truncated INTEGER NOT NULL DEFAULT 0,\n"
     "  UNIQUE (repo_id, number)\n"
     ");\n"
     "CREATE INDEX runs_active ON runs(status) WHERE status IN ('queued', 'running');\n"
     "CREATE INDEX runs_parent ON runs(parent_id) WHERE parent_id IS NOT NULL;\n"
     "CREATE TABLE steps (\n"
     "  id INTEGER PRIMARY KEY,\n"
     "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
     "  name TEXT NOT NULL,\n"
     "  kind TEXT NOT NULL CHECK (kind IN ('step', 'service', 'deploy', 'build')),\n"
     "  status TEXT NOT NULL CHECK (status IN ('pending', 'running', 'passed', 'failed',\n"
     "    'skipped', 'cancelled', 'error', 'interrupted')),\n"
     "  exit_code INTEGER,\n"
     "  oom_killed INTEGER NOT NULL DEFAULT 0,\n"
     "  timed_out INTEGER NOT NULL DEFAULT 0,\n"
     "  started_at INTEGER,\n"
     "  finished_at INTEGER,\n"
     "  memory_peak_bytes INTEGER,\n"
     "  memory_limit_bytes INTEGER,\n"
     "  cpu_us INTEGER,\n"
     "  io_read_bytes INTEGER,\n"
     "  io_write_bytes INTEGER,\n"
     "  log_bytes INTEGER NOT NULL DEFAULT 0,\n"
     "  log_truncated INTEGER NOT NULL DEFAULT 0,\n"
     "  UNIQUE (run_id, kind, name)\n"
     ");\n"
     "CREATE TABLE timeline_chunks (\n"
     "  id INTEGER PRIMARY KEY,\n"
     "  step_id INTEGER NOT NULL REFERENCES steps(id) ON DELETE CASCADE,\n"
     "  n_samples INTEGER NOT NULL,\n"
     "  last_t INTEGER NOT NULL,\n"
     "  last_memory INTEGER NOT NULL,\n"
     "  last_cpu INTEGER NOT NULL,\n"
     "  data BLOB NOT NULL\n"
     ");\n"
     "CREATE INDEX timeline_chunks_step ON timeline_chunks(step_id, id);\n"
     "CREATE TABLE log_lines (\n"
     "  id INTEGER PRIMARY KEY,\n"
     "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
     "  step_id INTEGER REFERENCES steps(id) ON DELETE CASCADE,\n"
     "  t_ms INTEGER NOT NULL,\n"
     "  stream INTEGER NOT NULL CHECK (stream IN (0, 1, 2)),\n"
     "  line TEXT NOT NULL\n"
     ");\n"
     "CREATE INDEX log_lines_run ON log_lines(run_id, id);\n"
     "CREATE INDEX log_lines_step ON log_lines(step_id, id) WHERE step_id IS NOT NULL;\n"
     "CREATE TABLE deploys (\n"
     "  id INTEGER PRIMARY KEY,\n"
     "  run_id INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE,\n"
     "  name TEXT NOT NULL,\n"
     "  kind TEXT NOT NULL CHECK (kind IN ('webhook', 'command')),\n"
     "  status TEXT NOT NULL,\n"
     "  http_status INTEGER,\n"
     "  attempts INTEGER NOT NULL DEFAULT 0,\n"
     "  started_at INTEGER,\n"
     "  finished_at INTEGER,\n"
     "  error TEXT\n"
     ");\n"
     "CREATE INDEX deploys_run ON deploys(run_id);\n"},
};
const size_t store_migrations_count = ARRAY_SIZE(store_migrations);

_Static_assert(ARRAY_SIZE(store_migrations) == STORE_SCHEMA_VERSION,
	       "STORE_SCHEMA_VERSION must be the number of migrations");

int64_t store_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int store_db_error(struct store *st, struct error **err, const char *fmt, ...)
{
	char what[512];
	va_list ap;
	int code = sqlite3_extended_errcode(st->db) & 0xff;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (code == SQLITE_NOTADB || code == SQLITE_CORRUPT) {
		if (strstr(what, st->path))
			return error_set(err, EXIT_INTERNAL,
					 "%s: the file is damaged or not an SQLite database (%s); "
					 "see docs/operations.md on restoring a backup",
					 what, sqlite3_errmsg(st->db));
		return error_set(err, EXIT_INTERNAL,
				 "%s: database '%s' is damaged or not an SQLite database (%s); "
				 "see docs/operations.md on restoring a backup",
				 what, st->path, sqlite3_errmsg(st->db));
	}
	if (code == SQLITE_BUSY || code == SQLITE_LOCKED)
		return error_set(err, EXIT_INTERNAL,
				 "%s: database '%s' stayed locked by another process for %d ms",
				 what, st->path, STORE_BUSY_TIMEOUT_MS);
	return error_set(err, EXIT_INTERNAL, "%s: %s", what, sqlite3_errmsg(st->db));
}

int store_prepare(struct store *st, sqlite3_stmt **stmt, const char *sql, struct error **err)
{
	if (sqlite3_prepare_v2(st->db, sql, -1, stmt, NULL) != SQLITE_OK) {
		*stmt = NULL;
		return store_db_error(st, err, "prepare query");
	}
	return 0;
}

int store_exec(struct store *st, const char *sql, struct error **err)
{
	if (sqlite3_exec(st->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return store_db_error(st, err, "database '%s'", st->path);
	return 0;
}

int store_begin(struct store *st, struct error **err)
{
	return store_exec(st, "BEGIN IMMEDIATE", err);
}

int store_commit(struct store *st, struct error **err)
{
	if (sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
		store_db_error(st, err, "commit to '%s'", st->path);
		store_rollback(st);
		return -1;
	}
	return 0;
}

void store_rollback(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
}

int store_bind_text(sqlite3_stmt *s, int i, const char *v)
{
	if (!v)
		return sqlite3_bind_null(s, i);
	return sqlite3_bind_text(s, i, v, -1, SQLITE_TRANSIENT);
}

int store_bind_opt_int(sqlite3_stmt *s, int i, int64_t v)
{
	if (v < 0)
		return sqlite3_bind_null(s, i);
	return sqlite3_bind_int64(s, i, v);
}

char *store_col_text(sqlite3_stmt *s, int i, bool *oom)
{
	const unsigned char *t = sqlite3_column_text(s, i);
	char *copy;

	if (!t)
		return NULL;
	copy = strdup((const char *)t);
	if (!copy)
		*oom = true;
	return copy;
}

int64_t store_col_opt_int(sqlite3_stmt *s, int i)
{
	if (sqlite3_column_type(s, i) == SQLITE_NULL)
		return -1;
	return sqlite3_column_int64(s, i);
}

static int read_user_version(struct store *st, int64_t *v, struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;

	if (store_prepare(st, &s, "PRAGMA user_version", err) < 0)
		return -1;
	if (sqlite3_step(s) != SQLITE_ROW)
		return store_db_error(st, err, "read schema version of '%s'", st->path);
	*v = sqlite3_column_int64(s, 0);
	return 0;
}

static int newer_error(struct store *st, int64_t v, size_t n, struct error **err)
{
	return error_set(
	    err, EXIT_INTERNAL,
	    "database '%s' has schema version %lld, newer than this slipway knows (%zu): "
	    "use a newer slipway, or restore a backup made by this version",
	    st->path, (long long)v, n);
}

int store_migrate(struct store *st, const struct store_migration *steps, size_t n,
		  struct error **err)
{
	int64_t v;

	if (read_user_version(st, &v, err) < 0)
		return -1;
	if (v > (int64_t)n)
		return newer_error(st, v, n, err);
	while (v < (int64_t)n) {
		char setv[64];

		if (store_begin(st, err) < 0)
			return error_wrap(err, "migrate schema");
		/* Another process may have migrated while we waited for the lock. */
		if (read_user_version(st, &v, err) < 0)
			goto fail;
		if (v > (int64_t)n) {
			store_rollback(st);
			return newer_error(st, v, n, err);
		}
		if (v == (int64_t)n) {
			store_rollback(st);
			break;
		}
		if (sqlite3_exec(st->db, steps[v].sql, NULL, NULL, NULL) != SQLITE_OK) {
			store_db_error(st, err, "migrate database '%s' from schema version %lld",
				       st->path, (long long)v);
			goto fail;
		}
		snprintf(setv, sizeof(setv), "PRAGMA user_version = %lld", (long long)v + 1);
		if (store_exec(st, setv, err) < 0 || store_commit(st, err) < 0)
			goto fail;
		log_debug("database '%s' migrated to schema version %lld", st->path,
			  (long long)v + 1);
		v++;
	}
	return 0;
fail:
	store_rollback(st);
	return -1;
}

static int create_db_file(const char *path, struct error **err)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd < 0) {
		if (errno == EEXIST)
			return 0;
		return error_errno(err, "create database '%s'", path);
	}
	close(fd);
	return 0;
}

static int configure_connection(struct store *st, struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;
	const char *mode;

	/* The busy timeout first: every later statement may meet another process's lock. */
	sqlite3_busy_timeout(st->db, STORE_BUSY_TIMEOUT_MS);
	if (sqlite3_prepare_v2(st->db, "PRAGMA journal_mode = WAL", -1, &s, NULL) != SQLITE_OK)
		return store_db_error(st, err, "open database '%s'", st->path);
	if (sqlite3_step(s) != SQLITE_ROW)
		return store_db_error(st, err, "open database '%s'", st->path);
	mode = (const char *)sqlite3_column_text(s, 0);
	if (!mode || strcmp(mode, "wal"))
		log_warn("database '%s': WAL mode unavailable (journal mode '%s'): readers will "
			 "wait for writers",
			 st->path, mode ? mode : "?");
	/* NORMAL in WAL: a commit survives the process being killed (the WAL is written at
	 * commit); only a power loss can take the last commits back. */
	return store_exec(st,
			  "PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;"
			  "PRAGMA journal_size_limit = 67108864; PRAGMA trusted_schema = OFF",
			  err);
}

int store_open(const char *data_dir, struct store **out, struct error **err)
{
	struct store *st;
	struct stat sb;

	*out = NULL;
	if (mkdir_p(data_dir, 0700, err) < 0)
		return error_wrap(err, "open history");
	st = calloc(1, sizeof(*st));
	if (!st)
		return error_errno(err, "open history");
	st->log_cap = STORE_LOG_CAP_DEFAULT;
	st->path = path_join(data_dir, "slipway.db");
	if (!st->path) {
		free(st);
		return error_errno(err, "open history");
	}
	if (create_db_file(st->path, err) < 0)
		goto fail;
	if (lstat(st->path, &sb) < 0) {
		error_errno(err, "open database '%s'", st->path);
		goto fail;
	}
	if (!S_ISREG(sb.st_mode)) {
		error_set(err, EXIT_INTERNAL, "open database '%s': not a regular file", st->path);
		goto fail;
	}
	if (sqlite3_open_v2(st->path, &st->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_EXRESCODE,
			    NULL) != SQLITE_OK) {
		if (!st->db)
			error_set(err, EXIT_INTERNAL, "open database '%s': out of memory",
				  st->path);
		else
			store_db_error(st, err, "open database '%s'", st->path);
		goto fail;
	}
	if (configure_connection(st, err) < 0 ||
	    store_migrate(st, store_migrations, store_migrations_count, err) < 0)
		goto fail;
	*out = st;
	return 0;
fail:
	if (st->db)
		sqlite3_close(st->db);
	free(st->path);
	free(st);
	return -1;
}

void store_set_log_cap(struct store *st, size_t bytes)
{
	st->log_cap = bytes ? bytes : STORE_LOG_CAP_DEFAULT;
}

const char *store_path(const struct store *st)
{
	return st->path;
}

void store_close(struct store *st)
{
	struct error *err = NULL;

	if (!st)
		return;
	if (store_log_flush(st, &err) < 0) {
		log_warn("%s", err->msg);
		error_free(err);
	}
	store_logs_release(st);
	sqlite3_close(st->db);
	free(st->path);
	free(st);
}
