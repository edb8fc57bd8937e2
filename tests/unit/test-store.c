/* tests/unit/test-store.c — store/store.c: creating and reopening the database, its connection
 * settings, forward migrations, refusing newer or damaged files, and several processes at once
 * (WAL readers beside a writer, a writer waiting for another instead of failing). */
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/fs.h"
#include "store/internal.h"
#include "tests/unit/tap.h"

/* ok() with the error's message appended, read after cond ran. */
#define OK_ERR(cond, err, ...)                                                                     \
	do {                                                                                       \
		int c_ = (cond);                                                                   \
		ok(c_, __VA_ARGS__, (err) ? (err)->msg : "");                                      \
	} while (0)

static char *tmpdir(void)
{
	char tmpl[] = "/tmp/slipway-test-store.XXXXXX";

	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		exit(1);
	}
	return strdup(tmpl);
}

static void rmdir_all(char *dir)
{
	struct error *err = NULL;

	if (rm_rf(dir, &err) < 0) {
		diag("rm_rf: %s", err->msg);
		error_free(err);
	}
	free(dir);
}

/* Child processes are this program run again (fork + exec): they start with no SQLite state
 * of ours, as separate slipway processes do. */
static const char *self;

static pid_t spawn(char *const args[])
{
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		execv(self, args);
		_exit(127);
	}
	return pid;
}

static int64_t pragma_int(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int64_t v = -12345;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static char *pragma_text(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *s = NULL;
	char *v = NULL;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
		v = strdup((const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
	return v;
}

static char *db_path(const char *dir)
{
	return path_join(dir, "slipway.db");
}

static void test_create_and_reopen(void)
{
	char *base = tmpdir();
	cleanup_free char *dir = path_join(base, "data/nested");
	cleanup_free char *path = db_path(dir);
	cleanup_free char *mode = NULL;
	struct store *st = NULL;
	struct error *err = NULL;
	struct repo_info *repo = NULL;
	struct stat sb;
	int64_t id = 0;
	sqlite3 *raw = NULL;

	ok(store_open(dir, &st, &err) == 0, "store_open creates the data dir and database");
	if (err)
		diag("%s", err->msg);
	if (stat(path, &sb) < 0)
		sb.st_mode = 0;
	ok((sb.st_mode & 0777) == 0600, "slipway.db has mode 0600 (%o)", sb.st_mode & 0777);
	is_str(store_path(st), path, "store_path names the file");
	is_int(pragma_int(st->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION,
	       "schema version is the current one");
	is_int(pragma_int(st->db, "PRAGMA foreign_keys"), 1, "foreign keys are on");
	is_int(pragma_int(st->db, "PRAGMA synchronous"), 1, "synchronous is NORMAL");
	is_int(pragma_int(st->db, "PRAGMA busy_timeout"), STORE_BUSY_TIMEOUT_MS,
	       "busy timeout is set");
	mode = pragma_text(st->db, "PRAGMA journal_mode");
	is_str(mode, "wal", "journal mode is WAL");
	ok(store_repo_ensure(st, "app", "/src/app", &id, &err) == 0 && id > 0, "a repo is added");
	store_close(st);

	/* WAL is a property of the file: another connection sees it too. */
	ok(sqlite3_open(path, &raw) == SQLITE_OK, "plain sqlite opens the file");
	free(mode);
	mode = pragma_text(raw, "PRAGMA journal_mode");
	is_str(mode, "wal", "the file itself is in WAL mode");
	sqlite3_close(raw);

	st = NULL;
	ok(store_open(dir, &st, &err) == 0, "reopen works");
	ok(store_repo_get(st, "app", &repo, &err) == 0 && repo && repo->id == id,
	   "the repo is still there after reopening");
	is_str(repo ? repo->url : NULL, "/src/app", "with its url");
	repo_info_free(repo);
	store_close(st);
	rmdir_all(base);
}

static void test_migrate_from_zero(void)
{
	char *dir = tmpdir();
	cleanup_free char *path = db_path(dir);
	struct store *st = NULL;
	struct error *err = NULL;
	sqlite3 *raw = NULL;
	int64_t tables;

	/* A database file at version 0 that already exists (an empty SQLite database). */
	ok(sqlite3_open(path, &raw) == SQLITE_OK &&
	       sqlite3_exec(raw, "CREATE TABLE unrelated (x); DROP TABLE unrelated", NULL, NULL,
			    NULL) == SQLITE_OK,
	   "an SQLite file at schema version 0");
	is_int(pragma_int(raw, "PRAGMA user_version"), 0, "it is at version 0");
	sqlite3_close(raw);
	ok(store_open(dir, &st, &err) == 0, "store_open migrates it");
	if (err)
		diag("%s", err->msg);
	is_int(pragma_int(st->db, "PRAGMA user_version"), STORE_SCHEMA_VERSION,
	       "it is at the current version");
	tables = pragma_int(st->db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
				    "name IN ('repos', 'runs', 'steps', 'log_lines', "
				    "'timeline_chunks', 'deploys')");
	is_int(tables, 6, "all six tables exist");
	store_close(st);
	rmdir_all(dir);
}

/* The migration runner itself, on a made-up schema history. */
static void test_migrate_steps(void)
{
	char *dir = tmpdir();
	struct store *st = NULL;
	struct error *err = NULL;
	static const struct store_migration v2[] = {
	    {"CREATE TABLE a (x INTEGER)"},
	    {"CREATE TABLE b (y INTEGER); INSERT INTO a VALUES (1)"},
	};
	static const struct store_migration v3_bad[] = {
	    {"CREATE TABLE a (x INTEGER)"},
	    {"CREATE TABLE b (y INTEGER); INSERT INTO a VALUES (1)"},
	    {"CREATE TABLE c (z INTEGER); INSERT INTO nosuchtable VALUES (1)"},
	};

	ok(store_open(dir, &st, &err) == 0, "open for the migration runner test");
	/* Pretend the database is empty at version 0 with its own history. */
	store_exec(st, "PRAGMA user_version = 0", &err);
	ok(store_migrate(st, v2, 1, &err) == 0, "step 1 applies");
	is_int(pragma_int(st->db, "PRAGMA user_version"), 1, "version 1");
	ok(store_migrate(st, v2, 2, &err) == 0, "step 2 applies on top");
	is_int(pragma_int(st->db, "PRAGMA user_version"), 2, "version 2");
	is_int(pragma_int(st->db, "SELECT count(*) FROM a"), 1, "step 2's statements ran");
	ok(store_migrate(st, v2, 2, &err) == 0, "migrating again is a no-op");
	is_int(pragma_int(st->db, "SELECT count(*) FROM a"), 1, "nothing ran twice");

	ok(store_migrate(st, v3_bad, 3, &err) < 0, "a failing step is an error");
	OK_ERR(err && strstr(err->msg, "from schema version 2") && strstr(err->msg, "nosuchtable"),
	       err, "which says which step and why: %s");
	error_clear(&err);
	is_int(pragma_int(st->db, "PRAGMA user_version"), 2, "the version stays 2");
	is_int(pragma_int(st->db, "SELECT count(*) FROM sqlite_master WHERE name = 'c'"), 0,
	       "the failed step left nothing behind (its CREATE TABLE rolled back)");
	ok(sqlite3_get_autocommit(st->db), "no transaction is left open");

	ok(store_migrate(st, v2, 1, &err) < 0, "a database newer than the steps is refused");
	OK_ERR(err && strstr(err->msg, "schema version 2, newer than this slipway knows (1)"), err,
	       "with a clear message: %s");
	error_clear(&err);
	store_close(st);
	rmdir_all(dir);
}

static void test_newer_refused(void)
{
	char *dir = tmpdir();
	cleanup_free char *path = db_path(dir);
	struct store *st = NULL;
	struct error *err = NULL;
	sqlite3 *raw = NULL;

	ok(store_open(dir, &st, &err) == 0, "create a database");
	store_close(st);
	st = NULL;
	sqlite3_open(path, &raw);
	sqlite3_exec(raw, "PRAGMA user_version = 99", NULL, NULL, NULL);
	sqlite3_close(raw);
	ok(store_open(dir, &st, &err) < 0 && !st, "a database from a newer slipway is refused");
	OK_ERR(err && strstr(err->msg, path) && strstr(err->msg, "schema version 99") &&
		   strstr(err->msg, "newer than this slipway knows"),
	       err, "the error names the file and both versions: %s");
	error_clear(&err);
	sqlite3_open(path, &raw);
	is_int(pragma_int(raw, "PRAGMA user_version"), 99, "the file is left as it was");
	sqlite3_close(raw);
	rmdir_all(dir);
}

static void test_corrupt_refused(void)
{
	char *dir = tmpdir();
	cleanup_free char *path = db_path(dir);
	cleanup_free char *link = path_join(dir, "other");
	cleanup_free char *back = NULL;
	struct store *st = NULL;
	struct error *err = NULL;
	const char junk[] = "this is not a database, it is a text file that happens to be here\n";
	struct repo_info *repo = NULL;
	char page[4096];
	size_t len = 0;
	int64_t id = 0;
	int fd;

	ok(write_file_atomic(path, junk, sizeof(junk) - 1, 0600, &err) == 0, "a junk file");
	ok(store_open(dir, &st, &err) < 0 && !st, "a file that is not a database is refused");
	OK_ERR(err && strstr(err->msg, path) && strstr(err->msg, "not an SQLite database"), err,
	       "with a clear error: %s");
	is_int(err ? err->exit_code : -1, EXIT_INTERNAL, "exit code 3");
	error_clear(&err);
	ok(read_file(path, 1 << 20, &back, &len, &err) == 0 && len == sizeof(junk) - 1 &&
	       !memcmp(back, junk, len),
	   "the file is left untouched");

	/* A real database whose pages are damaged (after the schema page). */
	unlink(path);
	ok(store_open(dir, &st, &err) == 0 && store_repo_ensure(st, "app", "", &id, &err) == 0,
	   "a fresh database with a repo");
	store_close(st); /* checkpoints the WAL into the file */
	st = NULL;
	memset(page, 0xA5, sizeof(page));
	fd = open(path, O_WRONLY);
	ok(fd >= 0 && pwrite(fd, page, sizeof(page), 4096) == (ssize_t)sizeof(page),
	   "page 2 is overwritten with junk");
	close(fd);
	if (store_open(dir, &st, &err) == 0)
		store_repo_get(st, "app", &repo, &err);
	OK_ERR(err && strstr(err->msg, "damaged or not an SQLite database") && !repo, err,
	       "a damaged database gives a clear error (at open or first read): %s");
	error_clear(&err);
	store_close(st);
	st = NULL;

	/* Not a regular file. */
	unlink(path);
	ok(mkdir(path, 0700) == 0, "a directory where the database should be");
	store_open(dir, &st, &err);
	OK_ERR(!st && err && strstr(err->msg, "not a regular file"), err, "is refused: %s");
	error_clear(&err);
	rmdir(path);
	ok(symlink(link, path) == 0, "a symlink where the database should be");
	store_open(dir, &st, &err);
	OK_ERR(!st && err, err, "is refused too: %s");
	error_clear(&err);
	ok(access(link, F_OK) < 0, "and its target was not created");
	rmdir_all(dir);
}

/* Counts runs with a plain connection of this process. */
static int64_t count_runs(struct store *st)
{
	struct run_info *v = NULL;
	size_t n = 0;
	struct error *err = NULL;

	if (store_runs_list(st, NULL, 1000, 0, &v, &n, &err) < 0) {
		diag("list: %s", err->msg);
		error_free(err);
		return -1;
	}
	run_infos_free(v, n);
	return (int64_t)n;
}

static const struct run_spec spec = {
    .commit = "0123456789abcdef0123456789abcdef01234567",
    .branch = "main",
    .event = "push",
    .trigger = "manual",
};

static void test_reader_beside_writer(void)
{
	char *dir = tmpdir();
	struct store *w = NULL, *r = NULL;
	struct error *err = NULL;
	int64_t repo = 0;

	ok(store_open(dir, &w, &err) == 0 && store_open(dir, &r, &err) == 0,
	   "two connections (writer and reader)");
	store_repo_ensure(w, "app", "", &repo, &err);
	ok(store_begin(w, &err) == 0, "the writer holds a write transaction");
	/* the insert inside the writer's open transaction */
	ok(sqlite3_exec(w->db,
			"INSERT INTO runs (repo_id, number, commit_hash, event, trigger_kind, "
			"status, queued_at) VALUES (1, 1, 'abcd', 'push', 'manual', 'queued', 1)",
			NULL, NULL, NULL) == SQLITE_OK,
	   "the writer adds a run, not committed yet");
	is_int(count_runs(r), 0, "the reader reads at once and sees the committed state");
	ok(store_commit(w, &err) == 0, "the writer commits");
	is_int(count_runs(r), 1, "the reader now sees the run");
	store_close(w);
	store_close(r);
	rmdir_all(dir);
}

/* Another process holds the write lock for a while: a writer here waits, a reader doesn't. */
static void test_writer_waits_for_other_process(void)
{
	char *dir = tmpdir();
	struct store *st = NULL;
	struct error *err = NULL;
	int64_t repo = 0, id = 0, number = 0;
	int ready[2], status = 0;
	char c = 0, fd[16];
	pid_t pid;

	ok(store_open(dir, &st, &err) == 0 && store_repo_ensure(st, "app", "", &repo, &err) == 0,
	   "a database with a repo");
	store_close(st);
	st = NULL;
	if (pipe(ready) < 0)
		exit(1);
	snprintf(fd, sizeof(fd), "%d", ready[1]);
	pid = spawn((char *const[]){(char *)self, "hold-lock", dir, fd, NULL});
	close(ready[1]);
	ok(read(ready[0], &c, 1) == 1, "the other process holds the write lock");
	close(ready[0]);
	ok(store_open(dir, &st, &err) == 0, "opening meanwhile works");
	if (err)
		diag("%s", err->msg);
	is_int(count_runs(st), 0, "reading meanwhile works (the old state)");
	ok(store_run_create(st, repo, &spec, &id, &number, &err) == 0,
	   "a write meanwhile waits for the lock instead of failing");
	if (err)
		diag("%s", err->msg);
	is_int(number, 2, "and gets the next number after the other process's run");
	waitpid(pid, &status, 0);
	ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the other process committed (status %d)",
	   status);
	is_int(count_runs(st), 2, "both runs are there");
	store_close(st);
	rmdir_all(dir);
}

/* The other process: takes the write lock, adds a run, says so on fd, commits 400 ms later. */
static int hold_lock(const char *dir, int fd)
{
	struct store *st = NULL;
	struct error *err = NULL;

	if (store_open(dir, &st, &err) < 0 || store_begin(st, &err) < 0)
		return 2;
	if (sqlite3_exec(
		st->db,
		"UPDATE repos SET last_run_number = last_run_number + 1; "
		"INSERT INTO runs (repo_id, number, commit_hash, event, trigger_kind, status, "
		"queued_at) VALUES (1, 1, 'abcd', 'push', 'manual', 'queued', 1)",
		NULL, NULL, NULL) != SQLITE_OK)
		return 3;
	if (write(fd, "x", 1) != 1)
		return 4;
	usleep(400 * 1000);
	if (store_commit(st, &err) < 0)
		return 5;
	store_close(st);
	return 0;
}

/* Containers and hooks are started by the process that holds the store: none of the
 * database's file descriptors may leak into them through exec. */
static void test_fds_cloexec(void)
{
	char *dir = tmpdir();
	struct store *st = NULL;
	struct error *err = NULL;
	int64_t id = 0;
	int found = 0, leaking = 0;
	char link[64], target[4096];

	ok(store_open(dir, &st, &err) == 0 && store_repo_ensure(st, "app", "", &id, &err) == 0,
	   "open and write (WAL and shm files open)");
	for (int fd = 0; fd < 1024; fd++) {
		ssize_t n;
		int flags = fcntl(fd, F_GETFD);

		if (flags < 0)
			continue;
		snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = '\0';
		if (strncmp(target, dir, strlen(dir)))
			continue;
		found++;
		if (!(flags & FD_CLOEXEC)) {
			leaking++;
			diag("fd %d on '%s' lacks FD_CLOEXEC", fd, target);
		}
	}
	ok(found >= 2, "the database has %d descriptors open", found);
	is_int(leaking, 0, "all of them close on exec");
	store_close(st);
	rmdir_all(dir);
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "hold-lock"))
		return hold_lock(argv[2], atoi(argv[3]));
	self = argv[0];
	plan_lazy();
	test_create_and_reopen();
	test_migrate_from_zero();
	test_migrate_steps();
	test_newer_refused();
	test_corrupt_refused();
	test_fds_cloexec();
	test_reader_beside_writer();
	test_writer_waits_for_other_process();
	return done_testing();
}
