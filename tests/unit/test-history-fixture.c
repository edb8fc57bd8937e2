/* tests/unit/test-history-fixture.c — store/query.c (runs by repo and status, a run's bare
 * status, the change counter), and the history databases that tests/integration/history.bats
 * drives ./slipway against, written through the store API:
 *
 *   test-history-fixture                      TAP tests of store/query.c
 *   test-history-fixture fixture DIR PID      several repos and runs; PID (a live process)
 *                                             owns the running and queued ones
 *   test-history-fixture live DIR STATUS      a running run of repo "live" that writes 5
 *                                             lines, creates DIR/ready, waits for DIR/go,
 *                                             writes 5 more and ends as STATUS
 *   test-history-fixture lock DIR SECONDS     holds an exclusive lock on DIR/slipway.db,
 *                                             creates DIR/locked, sleeps SECONDS
 */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/fs.h"
#include "store/internal.h"
#include "tests/unit/tap.h"

#define MIB (1024 * 1024)

static void die(const char *what, struct error *err)
{
	fprintf(stderr, "test-history-fixture: %s: %s\n", what, err ? err->msg : "failed");
	exit(1);
}

static struct store *open_store(const char *dir)
{
	struct store *st = NULL;
	struct error *err = NULL;

	if (store_open(dir, &st, &err) < 0)
		die("open", err);
	return st;
}

static void sql(struct store *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sql(struct store *st, const char *fmt, ...)
{
	char text[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	if (sqlite3_exec(st->db, text, NULL, NULL, NULL) != SQLITE_OK)
		die(text, &(struct error){.msg = (char *)sqlite3_errmsg(st->db)});
}

static int64_t repo(struct store *st, const char *name)
{
	struct error *err = NULL;
	int64_t id;

	if (store_repo_ensure(st, name, "https://git.example.com/x.git", &id, &err) < 0)
		die(name, err);
	return id;
}

/* What a fixture run is: its spec, its final (or current) status and times relative to now. */
struct fx_run {
	const char *commit, *branch, *tag, *event, *trigger;
	enum run_status status;
	int64_t parent;
	int64_t started_ago_s, duration_s; /* started_ago_s 0: never started */
	pid_t owner;			   /* 0: the fixture process (gone when it exits) */
	const char *error;
};

static int64_t run(struct store *st, int64_t repo_id, const struct fx_run *f, int64_t now)
{
	struct error *err = NULL;
	struct run_spec spec = {.commit = f->commit,
				.branch = f->branch,
				.tag = f->tag,
				.event = f->event,
				.trigger = f->trigger,
				.parent = f->parent,
				.pipeline = "steps: []\n"};
	int64_t id, started = now - f->started_ago_s * 1000;

	if (store_run_create(st, repo_id, &spec, &id, NULL, &err) < 0 ||
	    (f->owner && store_run_set_owner(st, id, f->owner, &err) < 0) ||
	    (f->status != RUN_QUEUED &&
	     store_run_set_status(st, id, RUN_RUNNING, NULL, &err) < 0) ||
	    (run_status_is_final(f->status) &&
	     store_run_set_status(st, id, f->status, f->error, &err) < 0))
		die("run", err);
	sql(st, "UPDATE runs SET queued_at = %lld WHERE id = %lld", (long long)(started - 2000),
	    (long long)id);
	if (f->started_ago_s)
		sql(st, "UPDATE runs SET started_at = %lld, finished_at = %s WHERE id = %lld",
		    (long long)started, run_status_is_final(f->status) ? "started_at" : "NULL",
		    (long long)id);
	if (f->started_ago_s && run_status_is_final(f->status))
		sql(st, "UPDATE runs SET finished_at = %lld WHERE id = %lld",
		    (long long)(started + f->duration_s * 1000), (long long)id);
	return id;
}

struct fx_step {
	const char *name;
	enum step_kind kind;
	enum step_status status;
	int exit_code;
	bool oom, timeout;
	int64_t offset_s, duration_s; /* from the run's start */
	int64_t mem_peak, mem_limit, cpu_us;
};

static int64_t step(struct store *st, int64_t run_id, const struct fx_step *f)
{
	struct error *err = NULL;
	struct step_result r = STEP_RESULT_INIT(STEP_RUNNING);
	int64_t id;

	if (store_step_create(st, run_id, f->name, f->kind, &id, &err) < 0)
		die("step", err);
	if (f->status != STEP_PENDING && f->status != STEP_SKIPPED &&
	    store_step_update(st, id, &r, &err) < 0)
		die("step", err);
	r = (struct step_result){.status = f->status,
				 .exit_code = f->exit_code,
				 .oom_killed = f->oom,
				 .timed_out = f->timeout,
				 .memory_peak_bytes = f->mem_peak,
				 .memory_limit_bytes = f->mem_limit,
				 .cpu_us = f->cpu_us,
				 .io_read_bytes = -1,
				 .io_write_bytes = -1};
	if (f->status != STEP_PENDING && store_step_update(st, id, &r, &err) < 0)
		die("step", err);
	if (f->status != STEP_PENDING && f->status != STEP_SKIPPED)
		sql(st,
		    "UPDATE steps SET started_at = (SELECT started_at FROM runs WHERE id = %lld) "
		    "+ %lld, finished_at = CASE WHEN finished_at IS NULL THEN NULL ELSE "
		    "(SELECT started_at FROM runs WHERE id = %lld) + %lld END WHERE id = %lld",
		    (long long)run_id, (long long)f->offset_s * 1000, (long long)run_id,
		    (long long)(f->offset_s + f->duration_s) * 1000, (long long)id);
	return id;
}

static void line(struct store *st, int64_t run_id, int64_t step_id, enum log_stream s,
		 const char *text)
{
	struct error *err = NULL;

	if (store_log_append(st, run_id, step_id, 0, s, text, strlen(text), &err) < 0)
		die("log", err);
}

static void deploy(struct store *st, int64_t run_id, const char *name, enum deploy_kind kind,
		   enum step_status status, int http, const char *error)
{
	struct error *err = NULL;
	int64_t now = store_now_ms(), id;
	struct deploy_record d = {.name = (char *)name,
				  .kind = kind,
				  .status = status,
				  .http_status = http,
				  .attempts = status == STEP_SKIPPED ? 0 : 1 + (error != NULL),
				  .started_at = status == STEP_SKIPPED ? 0 : now - 5000,
				  .finished_at = status == STEP_SKIPPED ? 0 : now - 4200,
				  .error = (char *)error};

	if (store_deploy_record(st, run_id, &d, &id, &err) < 0)
		die("deploy", err);
}

#define C1 "1111111122222222333333334444444455555555"
#define C2 "2222222233333333444444445555555566666666"
#define C3 "abcdef0123456789abcdef0123456789abcdef01"

static void write_app(struct store *st, pid_t owner, int64_t now)
{
	int64_t app = repo(st, "app"), r1, r2, r3, r4, s;

	r1 = run(
	    st, app,
	    &(struct fx_run){C1, "main", NULL, "push", "webhook", RUN_PASSED, 0, 600, 62, 0, NULL},
	    now);
	store_run_set_image_digest(st, r1,
				   "sha256:0123456789abcdef0123456789abcdef"
				   "0123456789abcdef0123456789abcdef",
				   &(struct error *){NULL});
	s = step(st, r1,
		 &(struct fx_step){"image", STEP_KIND_BUILD, STEP_PASSED, 0, false, false, 0, 15,
				   200 * MIB, -1, 14200000});
	line(st, r1, s, LOG_STDOUT, "STEP 1/3: FROM busybox");
	s = step(st, r1,
		 &(struct fx_step){"db", STEP_KIND_SERVICE, STEP_PASSED, 0, false, false, 15, 45,
				   30 * MIB, 128 * MIB, 900000});
	s = step(st, r1,
		 &(struct fx_step){"test", STEP_KIND_STEP, STEP_PASSED, 0, false, false, 16, 40,
				   48 * MIB, 256 * MIB, 12500000});
	line(st, r1, s, LOG_STDOUT, "ok 1 - parses");
	line(st, r1, s, LOG_STDERR, "warning: slow test");
	line(st, r1, s, LOG_STDOUT, "ok 2 - runs");
	s = step(st, r1,
		 &(struct fx_step){"lint", STEP_KIND_STEP, STEP_PASSED, 0, false, false, 16, 3,
				   10 * MIB, -1, 1200000});
	line(st, r1, s, LOG_STDOUT, "all clean");
	line(st, r1, 0, LOG_SYSTEM, "[slipway] pushed registry.example.com/app:11111111");
	deploy(st, r1, "staging", DEPLOY_WEBHOOK, STEP_PASSED, 200, NULL);
	deploy(st, r1, "announce", DEPLOY_COMMAND, STEP_PASSED, 0, NULL);

	r2 = run(st, app,
		 &(struct fx_run){C2, "feature/login", NULL, "push", "webhook", RUN_FAILED, 0, 300,
				  25, 0, "step 'test' failed"},
		 now);
	s = step(st, r2,
		 &(struct fx_step){"test", STEP_KIND_STEP, STEP_FAILED, 1, false, false, 1, 20,
				   20 * MIB, 256 * MIB, 3000000});
	line(st, r2, s, LOG_STDOUT, "using token ********");
	line(st, r2, s, LOG_STDERR, "FAIL: login_test");
	step(st, r2,
	     &(struct fx_step){"package", STEP_KIND_STEP, STEP_SKIPPED, -1, false, false, 0, 0, -1,
			       -1, -1});
	deploy(st, r2, "staging", DEPLOY_WEBHOOK, STEP_SKIPPED, 0, NULL);

	r3 = run(st, app,
		 &(struct fx_run){C2, "feature/login", NULL, "rerun", "rerun", RUN_PASSED, r2, 200,
				  30, 0, NULL},
		 now);
	step(st, r3,
	     &(struct fx_step){"test", STEP_KIND_STEP, STEP_PASSED, 0, false, false, 1, 25,
			       22 * MIB, 256 * MIB, 3100000});
	deploy(st, r3, "staging", DEPLOY_WEBHOOK, STEP_FAILED, 502, "gave 502 after 2 attempts");

	r4 = run(
	    st, app,
	    &(struct fx_run){C3, "main", NULL, "push", "poll", RUN_RUNNING, 0, 30, 0, owner, NULL},
	    now);
	s = step(st, r4,
		 &(struct fx_step){"test", STEP_KIND_STEP, STEP_RUNNING, -1, false, false, 1, 0,
				   5 * MIB, 256 * MIB, 400000});
	line(st, r4, s, LOG_STDOUT, "running test 1 of 40");
	step(st, r4,
	     &(struct fx_step){"lint", STEP_KIND_STEP, STEP_PENDING, -1, false, false, 0, 0, -1, -1,
			       -1});
}

static void write_others(struct store *st, pid_t owner, int64_t now)
{
	int64_t longr = repo(st, "team/a-rather-long-repository-name");
	int64_t lib = repo(st, "lib"), r, s;

	run(st, longr,
	    &(struct fx_run){C1, "feature/an-extremely-long-branch-name-that-keeps-going-and-going",
			     NULL, "push", "webhook", RUN_ERROR, 0, 3 * 3600, 1, 0,
			     ".slipway.yml:3:5: unknown key 'stpes'"},
	    now);
	run(st, longr,
	    &(struct fx_run){C2, "fix/\u00fcn\u00efc\u00f6d\u00e9-\u5bbd\u5b57\u7b26", NULL,
			     "manual", "manual", RUN_PASSED, 0, 2 * 86400, 3725, 0, NULL},
	    now);
	run(st, longr,
	    &(struct fx_run){C3, NULL, "v1.0.0", "tag", "webhook", RUN_CANCELLED, 0, 45 * 86400, 9,
			     0, NULL},
	    now);
	run(st, longr,
	    &(struct fx_run){C3, "main", NULL, "push", "poll", RUN_QUEUED, 0, 0, 0, owner, NULL},
	    now);

	r = run(st, lib,
		&(struct fx_run){C1, "main", NULL, "push", "webhook", RUN_FAILED, 0, 900, 70, 0,
				 "step 'build' failed"},
		now);
	s = step(st, r,
		 &(struct fx_step){"build", STEP_KIND_STEP, STEP_FAILED, 137, true, false, 1, 12,
				   64 * MIB, 64 * MIB, 11000000});
	/* a build's colours, and controls a hostile one could send a terminal */
	line(st, r, s, LOG_STDOUT, "\033[31mred\033[0m and \033]0;pwned\007 title\tend");
	line(st, r, s, LOG_STDERR,
	     "\033[2Jcleared \xc2\x9b"
	     "6n");
	step(st, r,
	     &(struct fx_step){"slow", STEP_KIND_STEP, STEP_FAILED, 143, false, true, 1, 60,
			       2 * MIB, -1, 100000});
	/* owned by this process: once it exits, a run whose process died */
	r = run(
	    st, lib,
	    &(struct fx_run){C2, "main", NULL, "push", "webhook", RUN_RUNNING, 0, 60, 0, 0, NULL},
	    now);
	s = step(st, r,
		 &(struct fx_step){"build", STEP_KIND_STEP, STEP_RUNNING, -1, false, false, 1, 0,
				   -1, -1, -1});
	line(st, r, s, LOG_STDOUT, "compiling 3 of 9");
}

static int write_fixture(const char *dir, pid_t owner)
{
	struct store *st = open_store(dir);
	int64_t now = store_now_ms();

	write_app(st, owner, now);
	write_others(st, owner, now);
	store_close(st);
	return 0;
}

static void touch(const char *dir, const char *name, const char *text)
{
	cleanup_free char *path = path_join(dir, name);
	struct error *err = NULL;

	if (!path || write_file_atomic(path, text, strlen(text), 0644, &err) < 0)
		die(name, err);
}

static bool exists(const char *dir, const char *name)
{
	cleanup_free char *path = path_join(dir, name);

	return path && access(path, F_OK) == 0;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* A live run, as the executor writes one: lines flushed as they come. */
static int write_live(const char *dir, const char *status_name)
{
	struct store *st = open_store(dir);
	struct error *err = NULL;
	struct step_result res = STEP_RESULT_INIT(STEP_RUNNING);
	int status = run_status_parse(status_name);
	int64_t rid, sid, number;
	char text[64];

	if (status < 0 || !run_status_is_final((enum run_status)status))
		die("live: a final status is needed", NULL);
	if (store_run_create(
		st, repo(st, "live"),
		&(struct run_spec){
		    .commit = C3, .branch = "main", .event = "manual", .trigger = "manual"},
		&rid, &number, &err) < 0 ||
	    store_run_set_status(st, rid, RUN_RUNNING, NULL, &err) < 0 ||
	    store_step_create(st, rid, "work", STEP_KIND_STEP, &sid, &err) < 0 ||
	    store_step_update(st, sid, &res, &err) < 0)
		die("live", err);
	for (int i = 1; i <= 10; i++) {
		if (i == 6) {
			snprintf(text, sizeof(text), "live#%lld", (long long)number);
			touch(dir, "ready", text);
			for (int waited = 0; !exists(dir, "go"); waited += 20) {
				if (waited > 60000)
					die("live: nobody said go", NULL);
				sleep_ms(20);
			}
		}
		snprintf(text, sizeof(text), "line %d", i);
		line(st, rid, sid, LOG_STDOUT, text);
		if (store_log_flush(st, &err) < 0)
			die("live", err);
		sleep_ms(30);
	}
	res = STEP_RESULT_INIT(status == RUN_PASSED ? STEP_PASSED : STEP_FAILED);
	res.exit_code = status == RUN_PASSED ? 0 : 1;
	if (store_step_update(st, sid, &res, &err) < 0 || store_log_flush(st, &err) < 0 ||
	    store_run_set_status(st, rid, (enum run_status)status, NULL, &err) < 0)
		die("live", err);
	store_close(st);
	return 0;
}

/* Holds the database's lock as a process that took it and hangs would. */
static int hold_lock(const char *dir, const char *seconds)
{
	struct store *st = open_store(dir);

	sql(st, "PRAGMA locking_mode = EXCLUSIVE; BEGIN EXCLUSIVE; "
		"UPDATE repos SET url = url WHERE 0");
	touch(dir, "locked", "");
	sleep((unsigned)atoi(seconds));
	store_close(st);
	return 0;
}

/* ---- the TAP tests of store/query.c ---- */

static char *tmpdir(void)
{
	char tmpl[] = "/tmp/slipway-test-history.XXXXXX";

	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		exit(1);
	}
	return strdup(tmpl);
}

static size_t count(struct store *st, const char *repo_name, unsigned mask, int limit, int offset,
		    struct run_info **out)
{
	struct error *err = NULL;
	struct run_query q = {
	    .repo = repo_name, .status_mask = mask, .limit = limit, .offset = offset};
	size_t n = 0;

	*out = NULL;
	if (store_runs_query(st, &q, out, &n, &err) < 0) {
		diag("store_runs_query: %s", err->msg);
		error_free(err);
	}
	return n;
}

static void test_query(struct store *st)
{
	struct run_info *v;
	size_t n;

	n = count(st, NULL, 0, 0, 0, &v);
	is_int(n, 10, "all runs of every repo");
	ok(n == 10 && v[0].id > v[9].id, "newest first");
	ok(n == 10 && v[0].pipeline == NULL, "without the pipeline text");
	run_infos_free(v, n);

	n = count(st, "app", 0, 0, 0, &v);
	is_int(n, 4, "the runs of one repo");
	ok(n == 4 && v[0].number == 4 && v[3].number == 1, "by number, newest first");
	run_infos_free(v, n);

	n = count(st, "app", 1u << RUN_PASSED, 0, 0, &v);
	is_int(n, 2, "its passed runs");
	ok(n == 2 && v[0].status == RUN_PASSED && v[1].status == RUN_PASSED, "only passed ones");
	run_infos_free(v, n);

	n = count(st, NULL, 1u << RUN_FAILED | 1u << RUN_ERROR, 0, 0, &v);
	is_int(n, 3, "failed or errored runs of every repo");
	run_infos_free(v, n);

	n = count(st, NULL, 0, 2, 0, &v);
	is_int(n, 2, "a limit");
	run_infos_free(v, n);
	n = count(st, NULL, 0, 5, 8, &v);
	is_int(n, 2, "an offset");
	run_infos_free(v, n);

	{
		struct error *err = NULL;
		struct run_query q = {.branch = "feature/login", .event = "push"};

		ok(store_runs_query(st, &q, &v, &n, &err) == 1 && n == 1 && v[0].number == 2,
		   "by branch and event");
		run_infos_free(v, n);
		q = (struct run_query){
		    .repo = "app", .branch = "main", .status_mask = 1u << RUN_PASSED};
		ok(store_runs_query(st, &q, &v, &n, &err) == 1 && n == 1 && v[0].number == 1,
		   "by repo, branch and status");
		run_infos_free(v, n);
		error_free(err);
	}

	n = count(st, "nope", 0, 0, 0, &v);
	is_int(n, 0, "an unknown repo has no runs");
	run_infos_free(v, n);
}

static void test_status_and_version(const char *dir, struct store *st)
{
	struct error *err = NULL;
	enum run_status s = RUN_QUEUED;
	struct run_info *r = NULL;
	struct store *other = open_store(dir);
	int64_t v1 = 0, v2 = 0, v3 = 0;

	ok(store_run_find(st, "app#2", &r, &err) == 0 && r, "app#2 is found");
	ok(r && store_run_status(st, r->id, &s, &err) == 0 && s == RUN_FAILED,
	   "its bare status is failed");
	ok(store_run_status(st, 999999, &s, &err) < 0 && err && err->exit_code == EXIT_USAGE,
	   "no such run is an input error");
	error_clear(&err);

	ok(store_data_version(st, &v1, &err) == 0, "the change counter is read");
	store_data_version(st, &v2, &err);
	is_int(v2, v1, "it stays while nothing changes");
	store_run_set_image_digest(other, r->id,
				   "sha256:fedcba9876543210fedcba9876543210"
				   "fedcba9876543210fedcba9876543210",
				   &err);
	store_data_version(st, &v3, &err);
	ok(v3 != v1, "another connection's commit moves it");
	run_info_free(r);
	store_close(other);
}

int main(int argc, char **argv)
{
	char *dir;
	struct store *st;
	pid_t child;
	int status;

	if (argc == 4 && !strcmp(argv[1], "fixture"))
		return write_fixture(argv[2], (pid_t)atoi(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "live"))
		return write_live(argv[2], argv[3]);
	if (argc == 4 && !strcmp(argv[1], "lock"))
		return hold_lock(argv[2], argv[3]);
	if (argc != 1) {
		fprintf(stderr,
			"usage: %s [fixture DIR PID | live DIR STATUS | lock DIR SECONDS]\n",
			argv[0]);
		return 2;
	}

	plan_lazy();
	dir = tmpdir();
	/* the fixture is written by a child, as the integration tests do */
	child = fork();
	if (child == 0)
		_exit(write_fixture(dir, getppid()));
	ok(waitpid(child, &status, 0) == child && WIFEXITED(status) && !WEXITSTATUS(status),
	   "the fixture is written");
	st = open_store(dir);
	test_query(st);
	test_status_and_version(dir, st);
	store_close(st);
	rm_rf(dir, &(struct error *){NULL});
	free(dir);
	return done_testing();
}
