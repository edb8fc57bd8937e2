/* tests/unit/test-store-runs.c — store/runs.c, store/steps.c, store/json.c: repos, run numbers
 * per repo (also from two processes at once), status transitions and their times, steps and
 * their results, lookups, deploy results, the exact JSON fields, and the recovery of runs whose
 * process died. */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
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
	char tmpl[] = "/tmp/slipway-test-store-runs.XXXXXX";

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

static struct store *open_store(const char *dir)
{
	struct store *st = NULL;
	struct error *err = NULL;

	if (store_open(dir, &st, &err) < 0) {
		diag("store_open: %s", err->msg);
		exit(1);
	}
	return st;
}

static void diag_err(struct error **err)
{
	if (*err)
		diag("error: %s", (*err)->msg);
	error_clear(err);
}

static const char commit1[] = "0123456789abcdef0123456789abcdef01234567";

static struct run_spec spec(void)
{
	return (struct run_spec){
	    .commit = commit1,
	    .branch = "main",
	    .event = "push",
	    .trigger = "manual",
	    .pipeline = "steps:\n  - name: test\n    commands: [make check]\n",
	};
}

static void test_repos(struct store *st)
{
	struct error *err = NULL;
	struct repo_info *r = NULL;
	int64_t a = 0, a2 = 0, b = 0;

	ok(store_repo_ensure(st, "team/app", "https://git.example/app.git", &a, &err) == 0 && a > 0,
	   "a repo is created");
	ok(store_repo_ensure(st, "team/app", "https://git.example/app.git", &a2, &err) == 0 &&
	       a2 == a,
	   "ensuring it again gives the same id");
	ok(store_repo_ensure(st, "team/app", "/srv/app", &a2, &err) == 0 && a2 == a,
	   "a new url keeps the id");
	ok(store_repo_get(st, "team/app", &r, &err) == 0 && r, "the repo is read back");
	is_str(r ? r->url : NULL, "/srv/app", "with the new url");
	ok(r && !r->trusted && r->created_at > 0, "not trusted, with a creation time");
	repo_info_free(r);
	ok(store_repo_set_trusted(st, "team/app", true, &err) == 0, "it can be marked trusted");
	store_repo_get(st, "team/app", &r, &err);
	ok(r && r->trusted, "and is then trusted");
	repo_info_free(r);
	r = (struct repo_info *)1;
	ok(store_repo_get(st, "nope", &r, &err) == 0 && !r, "an unknown repo reads as none");
	ok(store_repo_ensure(st, "other", NULL, &b, &err) == 0 && b != a, "a second repo");

	static const char *const bad[] = {"",	 "../x", ".hidden", "/abs",
					  "a b", "a\nb", "-x",	    "x..y"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		ok(store_repo_ensure(st, bad[i], "", &b, &err) < 0 && err &&
		       err->exit_code == EXIT_USAGE,
		   "repo name #%zu is refused", i);
		error_clear(&err);
	}
	ok(store_repo_set_trusted(st, "nope", true, &err) < 0, "trusting an unknown repo fails");
	error_clear(&err);
}

static void test_numbers_and_status(struct store *st)
{
	struct error *err = NULL;
	struct run_spec sp = spec();
	struct run_info *r = NULL;
	int64_t app = 0, other = 0, id1 = 0, id2 = 0, id3 = 0, n = 0, before;

	store_repo_ensure(st, "team/app", "", &app, &err);
	store_repo_ensure(st, "other", "", &other, &err);
	ok(store_run_create(st, app, &sp, &id1, &n, &err) == 0 && n == 1, "first run of app is #1");
	ok(store_run_create(st, app, &sp, &id2, &n, &err) == 0 && n == 2,
	   "second run of app is #2");
	ok(store_run_create(st, other, &sp, &id3, &n, &err) == 0 && n == 1,
	   "first run of another repo is #1");
	ok(id1 < id2 && id2 < id3, "ids grow across repos");

	ok(store_run_get(st, id1, &r, &err) == 0 && r, "a run is read back");
	if (!r)
		return;
	is_str(r->repo, "team/app", "its repo");
	is_str(r->commit, commit1, "its commit");
	is_str(r->branch, "main", "its branch");
	ok(r->tag == NULL, "no tag");
	is_str(r->event, "push", "its event");
	is_str(r->trigger, "manual", "its trigger");
	is_str(run_status_name(r->status), "queued", "it is queued");
	ok(r->queued_at > 0 && r->started_at == 0 && r->finished_at == 0,
	   "queued_at set, not started, not finished");
	is_str(r->pipeline, sp.pipeline, "the pipeline text is kept");
	is_int(r->owner_pid, getpid(), "the creating process owns it");
	is_int(r->owner_start, store_proc_start_time(getpid()), "with its start time");
	run_info_free(r);

	before = store_now_ms();
	ok(store_run_set_status(st, id1, RUN_RUNNING, NULL, &err) == 0, "queued -> running");
	store_run_get(st, id1, &r, &err);
	ok(r && r->started_at >= before && r->finished_at == 0, "sets started_at only");
	run_info_free(r);
	ok(store_run_set_image_digest(st, id1,
				      "sha256:"
				      "0123456789abcdef0123456789abcdef"
				      "0123456789abcdef0123456789abcdef",
				      &err) == 0,
	   "the image digest is recorded");
	ok(store_run_set_image_digest(st, id1, "sha256:nothex", &err) < 0,
	   "a bad digest is refused");
	error_clear(&err);
	ok(store_run_set_status(st, id1, RUN_FAILED, "step 'test' failed", &err) == 0,
	   "running -> failed");
	store_run_get(st, id1, &r, &err);
	ok(r && r->finished_at >= r->started_at && r->status == RUN_FAILED,
	   "sets finished_at after started_at");
	is_str(r ? r->error : NULL, "step 'test' failed", "the error message is kept");
	run_info_free(r);
	ok(store_run_set_status(st, id1, RUN_FAILED, NULL, &err) == 0,
	   "repeating the final status is harmless");
	ok(store_run_set_status(st, id1, RUN_PASSED, NULL, &err) < 0,
	   "failed -> passed is refused");
	OK_ERR(err && strstr(err->msg, "is failed: it cannot become passed"), err,
	       "saying why: %s");
	error_clear(&err);
	ok(store_run_set_status(st, id1, RUN_RUNNING, NULL, &err) < 0,
	   "failed -> running is refused");
	error_clear(&err);
	store_run_set_status(st, id2, RUN_RUNNING, NULL, &err);
	ok(store_run_set_status(st, id2, RUN_QUEUED, NULL, &err) < 0,
	   "running -> queued is refused");
	error_clear(&err);
	ok(store_run_set_status(st, id3, RUN_CANCELLED, NULL, &err) == 0,
	   "queued -> cancelled (never started)");
	store_run_get(st, id3, &r, &err);
	ok(r && r->started_at == 0 && r->finished_at > 0, "finished without a start time");
	run_info_free(r);
	ok(store_run_set_status(st, 999999, RUN_RUNNING, NULL, &err) < 0 && err &&
	       strstr(err->msg, "no run with id 999999"),
	   "an unknown run is an error");
	error_clear(&err);

	/* input validation */
	sp.commit = "XYZ";
	ok(store_run_create(st, app, &sp, &n, NULL, &err) < 0 && err->exit_code == EXIT_USAGE,
	   "a bad commit is refused");
	error_clear(&err);
	sp = spec();
	sp.trigger = "Push!";
	ok(store_run_create(st, app, &sp, &n, NULL, &err) < 0, "a bad trigger is refused");
	error_clear(&err);
	sp = spec();
	sp.parent = 424242;
	ok(store_run_create(st, app, &sp, &n, NULL, &err) < 0 && strstr(err->msg, "no parent run"),
	   "an unknown parent is refused");
	error_clear(&err);
	sp = spec();
	ok(store_run_create(st, 424242, &sp, &n, NULL, &err) < 0 && strstr(err->msg, "no repo"),
	   "an unknown repo is refused");
	error_clear(&err);
	sp = spec();
	sp.event = "rerun";
	sp.trigger = "rerun";
	sp.parent = id1;
	ok(store_run_create(st, app, &sp, &id2, &n, &err) == 0 && n == 3,
	   "a rerun gets the next number (failed ones did not use one)");
	store_run_get(st, id2, &r, &err);
	ok(r && r->parent == id1, "and records its parent");
	run_info_free(r);
	diag_err(&err);
}

static void test_find_and_list(struct store *st)
{
	struct error *err = NULL;
	struct run_info *r = NULL, *v = NULL;
	size_t n = 0;
	char ref[32];

	ok(store_run_find(st, "team/app#2", &r, &err) == 0 && r && r->number == 2,
	   "find REPO#NUMBER");
	is_str(r ? r->repo : NULL, "team/app", "of the right repo");
	snprintf(ref, sizeof(ref), "%lld", r ? (long long)r->id : 0LL);
	run_info_free(r);
	r = NULL;
	ok(store_run_find(st, ref, &r, &err) == 0 && r && r->number == 2, "find by numeric id");
	run_info_free(r);
	r = NULL;
	static const char *const bad[] = {"team/app#", "#3", "team/app", "app#x", "", "12a"};
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		OK_ERR(store_run_find(st, bad[i], &r, &err) < 0 && !r &&
			   err->exit_code == EXIT_USAGE,
		       err, "'%s' is refused: %s", bad[i]);
		error_clear(&err);
	}
	OK_ERR(store_run_find(st, "team/app#99", &r, &err) < 0 &&
		   strstr(err->msg, "no run 'team/app#99'"),
	       err, "a missing run: %s");
	error_clear(&err);

	ok(store_runs_list(st, "team/app", 0, 0, &v, &n, &err) == 3 && n == 3, "three runs of app");
	ok(n == 3 && v[0].number == 3 && v[1].number == 2 && v[2].number == 1, "newest first");
	ok(n == 3 && !v[0].pipeline, "lists leave the pipeline out");
	run_infos_free(v, n);
	ok(store_runs_list(st, NULL, 2, 1, &v, &n, &err) == 2 && n == 2,
	   "all repos, limit 2 offset 1");
	ok(n == 2 && !strcmp(v[0].repo, "other") && v[1].number == 2,
	   "skips the newest, in id order");
	run_infos_free(v, n);
	ok(store_runs_list(st, "nope", 10, 0, &v, &n, &err) == 0 && n == 0,
	   "none for unknown repo");
	run_infos_free(v, n);
}

static int has_keys(json_t *obj, const char *const *keys, size_t n)
{
	if (!obj || json_object_size(obj) != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!json_object_get(obj, keys[i]))
			return 0;
	return 1;
}

static void test_steps_and_json(struct store *st)
{
	struct error *err = NULL;
	struct run_spec sp = spec();
	struct run_info *r = NULL;
	struct step_info *steps = NULL, *one = NULL;
	struct deploy_record *deps = NULL;
	size_t n = 0;
	int64_t repo = 0, id = 0, s1 = 0, s2 = 0, s3 = 0, svc = 0, dep = 0;
	struct step_result res;
	static const char *const run_keys[] = {
	    "id",	   "repo",	  "number",	  "commit", "branch",	 "tag",
	    "event",	   "trigger",	  "status",	  "parent", "queued_at", "started_at",
	    "finished_at", "duration_ms", "image_digest", "steps",
	};
	static const char *const step_keys[] = {
	    "name",
	    "status",
	    "exit_code",
	    "oom_killed",
	    "timed_out",
	    "started_at",
	    "finished_at",
	    "memory_peak_bytes",
	    "memory_limit_bytes",
	    "cpu_us",
	    "io_read_bytes",
	    "io_write_bytes",
	};

	sp.tag = "v1.0";
	store_repo_ensure(st, "json", "", &repo, &err);
	store_run_create(st, repo, &sp, &id, NULL, &err);
	ok(store_step_create(st, id, "test", STEP_KIND_STEP, &s1, &err) == 0, "a step is added");
	ok(store_step_create(st, id, "lint", STEP_KIND_STEP, &s2, &err) == 0, "another");
	ok(store_step_create(st, id, "slow", STEP_KIND_STEP, &s3, &err) == 0, "a third");
	ok(store_step_create(st, id, "db", STEP_KIND_SERVICE, &svc, &err) == 0, "a service");
	ok(store_step_create(st, id, "test", STEP_KIND_DEPLOY, &dep, &err) == 0,
	   "a deploy may share a step's name");
	OK_ERR(store_step_create(st, id, "test", STEP_KIND_STEP, &s3, &err) < 0 &&
		   strstr(err->msg, "already has a step 'test'"),
	       err, "a duplicate step is refused: %s");
	error_clear(&err);
	ok(store_step_create(st, id, "a/b", STEP_KIND_STEP, &s3, &err) < 0,
	   "'/' in a name is refused");
	error_clear(&err);
	ok(store_step_create(st, 777777, "x", STEP_KIND_STEP, &s3, &err) < 0 &&
	       strstr(err->msg, "no run with id 777777"),
	   "a step of an unknown run is refused");
	error_clear(&err);

	store_run_set_status(st, id, RUN_RUNNING, NULL, &err);
	ok(store_step_update(st, s1, &STEP_RESULT_INIT(STEP_RUNNING), &err) == 0, "test runs");
	res = STEP_RESULT_INIT(STEP_RUNNING);
	res.memory_limit_bytes = 64 << 20;
	res.memory_peak_bytes = 1000;
	ok(store_step_update(st, s1, &res, &err) == 0, "usage is updated while it runs");
	res = STEP_RESULT_INIT(STEP_FAILED);
	res.exit_code = 137;
	res.oom_killed = true;
	res.memory_peak_bytes = 67108864;
	res.cpu_us = 1234567;
	res.io_read_bytes = 4096;
	res.io_write_bytes = 8192;
	ok(store_step_update(st, s1, &res, &err) == 0, "test finishes OOM-killed");
	OK_ERR(store_step_update(st, s1, &STEP_RESULT_INIT(STEP_PASSED), &err) < 0 &&
		   strstr(err->msg, "step 'test' is failed: it cannot become passed"),
	       err, "a final step cannot change: %s");
	error_clear(&err);
	ok(store_step_update(st, s2, &STEP_RESULT_INIT(STEP_SKIPPED), &err) == 0,
	   "lint is skipped");
	res = STEP_RESULT_INIT(STEP_RUNNING);
	ok(store_step_update(st, s3, &res, &err) == 0, "slow runs");
	res = STEP_RESULT_INIT(STEP_FAILED);
	res.exit_code = 143;
	res.timed_out = true;
	ok(store_step_update(st, s3, &res, &err) == 0, "slow times out");
	ok(store_step_update(st, 99999, &res, &err) < 0 && strstr(err->msg, "no step with id"),
	   "an unknown step is an error");
	error_clear(&err);
	res = STEP_RESULT_INIT(STEP_PASSED);
	res.exit_code = 300;
	ok(store_step_update(st, svc, &res, &err) < 0, "exit code 300 is refused");
	error_clear(&err);

	ok(store_step_find(st, id, "test", &one, &err) == 0 && one && one->kind == STEP_KIND_STEP,
	   "find 'test' prefers the step over the deploy");
	step_info_free(one);
	one = (struct step_info *)1;
	ok(store_step_find(st, id, "nope", &one, &err) == 0 && !one, "an unknown name is none");

	ok(store_steps_of_run(st, id, &steps, &n, &err) == 5 && n == 5, "five steps read back");
	if (n != 5)
		return;
	is_str(steps[0].name, "test", "in creation order");
	is_int(steps[0].exit_code, 137, "exit code");
	ok(steps[0].oom_killed && !steps[0].timed_out, "oom_killed");
	is_int(steps[0].memory_limit_bytes, 64 << 20, "memory limit from the running update");
	is_int(steps[0].memory_peak_bytes, 67108864, "memory peak from the final update");
	ok(steps[0].started_at > 0 && steps[0].finished_at >= steps[0].started_at, "times");
	ok(steps[1].status == STEP_SKIPPED && steps[1].started_at == 0 &&
	       steps[1].finished_at > 0 && steps[1].exit_code == -1 && steps[1].cpu_us == -1,
	   "a skipped step: finished, never started, no exit code or usage");
	ok(steps[2].timed_out && steps[2].exit_code == 143, "timed_out");

	store_run_set_status(st, id, RUN_FAILED, NULL, &err);
	store_run_get(st, id, &r, &err);
	json_t *j = run_to_json(r, true, steps, n);
	json_t *js = j ? json_array_get(json_object_get(j, "steps"), 0) : NULL;
	char *dump = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;

	diag("%s", dump ? dump : "(null)");
	free(dump);
	ok(has_keys(j, run_keys, ARRAY_SIZE(run_keys)), "a run has exactly the documented fields");
	ok(has_keys(js, step_keys, ARRAY_SIZE(step_keys)),
	   "a step has exactly the documented fields");
	is_int(json_integer_value(json_object_get(j, "id")), id, "id");
	is_str(json_string_value(json_object_get(j, "repo")), "json", "repo is the name");
	is_int(json_integer_value(json_object_get(j, "number")), 1, "number");
	is_str(json_string_value(json_object_get(j, "commit")), commit1, "commit");
	is_str(json_string_value(json_object_get(j, "tag")), "v1.0", "tag");
	is_str(json_string_value(json_object_get(j, "trigger")), "manual", "trigger");
	is_str(json_string_value(json_object_get(j, "status")), "failed", "status");
	ok(json_is_null(json_object_get(j, "parent")), "parent null");
	ok(json_is_null(json_object_get(j, "image_digest")), "image_digest null");
	is_int(json_integer_value(json_object_get(j, "duration_ms")),
	       r->finished_at - r->started_at, "duration_ms = finished - started");
	{
		char want[80], secs_s[40];
		const char *got = json_string_value(json_object_get(j, "started_at"));
		struct tm tm;
		time_t secs = (time_t)(r->started_at / 1000);

		gmtime_r(&secs, &tm);
		strftime(secs_s, sizeof(secs_s), "%Y-%m-%dT%H:%M:%S", &tm);
		snprintf(want, sizeof(want), "%s.%03dZ", secs_s, (int)(r->started_at % 1000));
		is_str(got, want, "times are ISO-8601 UTC with milliseconds");
	}
	is_int(json_array_size(json_object_get(j, "steps")), 5, "steps array");
	is_str(json_string_value(json_object_get(js, "status")), "failed", "step status");
	is_int(json_integer_value(json_object_get(js, "exit_code")), 137, "step exit_code");
	ok(json_is_true(json_object_get(js, "oom_killed")), "step oom_killed true");
	ok(json_is_false(json_object_get(js, "timed_out")), "step timed_out false");
	is_int(json_integer_value(json_object_get(js, "memory_peak_bytes")), 67108864,
	       "memory_peak_bytes");
	is_int(json_integer_value(json_object_get(js, "memory_limit_bytes")), 64 << 20,
	       "memory_limit_bytes");
	is_int(json_integer_value(json_object_get(js, "cpu_us")), 1234567, "cpu_us");
	is_int(json_integer_value(json_object_get(js, "io_read_bytes")), 4096, "io_read_bytes");
	is_int(json_integer_value(json_object_get(js, "io_write_bytes")), 8192, "io_write_bytes");
	js = json_array_get(json_object_get(j, "steps"), 1);
	ok(json_is_null(json_object_get(js, "exit_code")) &&
	       json_is_null(json_object_get(js, "started_at")) &&
	       json_is_null(json_object_get(js, "cpu_us")),
	   "unknown values of a skipped step are null");
	json_decref(j);
	j = run_to_json(r, false, NULL, 0);
	ok(has_keys(j, run_keys, ARRAY_SIZE(run_keys) - 1), "without steps: no steps field");
	json_decref(j);
	run_info_free(r);
	step_infos_free(steps, n);

	/* a queued run: null times and duration */
	store_run_create(st, repo, &sp, &id, NULL, &err);
	store_run_get(st, id, &r, &err);
	j = run_to_json(r, true, NULL, 0);
	ok(j && json_is_null(json_object_get(j, "started_at")) &&
	       json_is_null(json_object_get(j, "duration_ms")) &&
	       json_is_string(json_object_get(j, "queued_at")) &&
	       json_array_size(json_object_get(j, "steps")) == 0,
	   "a queued run: null start and duration, empty steps");
	json_decref(j);
	run_info_free(r);

	/* deploy results */
	struct deploy_record d = {
	    .name = "staging",
	    .kind = DEPLOY_WEBHOOK,
	    .status = STEP_PASSED,
	    .http_status = 204,
	    .attempts = 2,
	    .started_at = 1700000000000,
	    .finished_at = 1700000000250,
	};
	int64_t did = 0;

	ok(store_deploy_record(st, id, &d, &did, &err) == 0 && did > 0, "a webhook deploy result");
	d.name = "announce";
	d.kind = DEPLOY_COMMAND;
	d.status = STEP_FAILED;
	d.http_status = 0;
	d.attempts = 1;
	d.error = "exit status 1";
	ok(store_deploy_record(st, id, &d, &did, &err) == 0, "a command deploy result");
	ok(store_deploy_record(st, 555555, &d, &did, &err) < 0, "not for an unknown run");
	error_clear(&err);
	ok(store_deploys_of_run(st, id, &deps, &n, &err) == 2 && n == 2, "both read back");
	if (n == 2) {
		is_str(deps[0].name, "staging", "in order");
		ok(deps[0].http_status == 204 && deps[0].attempts == 2 &&
		       deps[0].finished_at == 1700000000250 && !deps[0].error,
		   "with their fields");
		is_str(deps[1].error, "exit status 1", "and error");
		j = deploy_to_json(&deps[0]);
		is_str(json_string_value(json_object_get(j, "started_at")),
		       "2023-11-14T22:13:20.000Z", "deploy JSON time");
		is_int(json_integer_value(json_object_get(j, "http_status")), 204,
		       "deploy JSON http_status");
		json_decref(j);
		j = deploy_to_json(&deps[1]);
		ok(json_is_null(json_object_get(j, "http_status")), "no http status: null");
		is_str(json_string_value(json_object_get(j, "kind")), "command", "kind");
		json_decref(j);
	}
	deploy_records_free(deps, n);
	diag_err(&err);
}

static int64_t count(struct store *st, const char *sql, int64_t id)
{
	sqlite3_stmt *q = NULL;
	int64_t v = -1;

	if (sqlite3_prepare_v2(st->db, sql, -1, &q, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(q, 1, id);
		if (sqlite3_step(q) == SQLITE_ROW)
			v = sqlite3_column_int64(q, 0);
	}
	sqlite3_finalize(q);
	return v;
}

/* Deleting a run takes everything of it along, and only it. */
static void test_delete(struct store *st)
{
	struct error *err = NULL;
	struct run_spec sp = spec();
	struct run_info *r = NULL;
	struct repo_info *repos = NULL;
	struct timeline_sample smp = {250, 4096, 100};
	struct deploy_record d = {.name = "hook", .kind = DEPLOY_WEBHOOK, .status = STEP_PASSED};
	int64_t repo = 0, old = 0, rerun = 0, step = 0, step2 = 0;
	size_t n = 0;

	store_repo_ensure(st, "del", "", &repo, &err);
	store_run_create(st, repo, &sp, &old, NULL, &err);
	store_step_create(st, old, "s", STEP_KIND_STEP, &step, &err);
	store_log_append(st, old, step, 0, LOG_STDOUT, "x", 1, &err);
	store_log_append(st, old, 0, 0, LOG_SYSTEM, "y", 1, &err);
	store_log_flush(st, &err);
	store_timeline_append(st, step, &smp, 1, &err);
	store_deploy_record(st, old, &d, NULL, &err);
	sp.parent = old;
	store_run_create(st, repo, &sp, &rerun, NULL, &err);
	store_step_create(st, rerun, "s", STEP_KIND_STEP, &step2, &err);
	store_log_append(st, rerun, step2, 0, LOG_STDOUT, "z", 1, &err);
	store_log_flush(st, &err);
	ok(store_run_delete(st, old, &err) < 0 && strstr(err->msg, "only a finished run"),
	   "an active run cannot be deleted");
	error_clear(&err);
	store_run_set_status(st, old, RUN_PASSED, NULL, &err);
	ok(store_run_delete(st, old, &err) == 0, "a finished run is deleted");
	is_int(count(st, "SELECT count(*) FROM runs WHERE id = ?1", old), 0, "the run is gone");
	is_int(count(st, "SELECT count(*) FROM steps WHERE run_id = ?1", old), 0, "its steps");
	is_int(count(st, "SELECT count(*) FROM log_lines WHERE run_id = ?1", old), 0, "its logs");
	is_int(count(st, "SELECT count(*) FROM timeline_chunks WHERE step_id = ?1", step), 0,
	       "its timeline");
	is_int(count(st, "SELECT count(*) FROM deploys WHERE run_id = ?1", old), 0, "its deploys");
	is_int(count(st, "SELECT count(*) FROM log_lines WHERE run_id = ?1", rerun), 1,
	       "the rerun keeps its log");
	store_run_get(st, rerun, &r, &err);
	ok(r && r->parent == 0, "and loses the parent link");
	run_info_free(r);
	ok(store_run_delete(st, old, &err) < 0 && strstr(err->msg, "no run with id"),
	   "deleting it again: no such run");
	error_clear(&err);
	ok(store_repos_list(st, &repos, &n, &err) >= 3 && n >= 3, "repos are listed");
	ok(n >= 3 && !strcmp(repos[0].name, "del") && !strcmp(repos[1].name, "json"), "by name");
	repo_infos_free(repos, n);
}

/* Two processes create 50 runs each of one repo at the same time. */
static void test_concurrent_numbers(const char *dir)
{
	struct store *st = open_store(dir);
	struct error *err = NULL;
	struct run_info *v = NULL;
	int64_t repo = 0;
	size_t n = 0;
	pid_t kids[2];
	int go[2], okk = 1;
	char seen[101] = {0}, gofd[16], closefd[16], repo_s[32];

	store_repo_ensure(st, "race", "", &repo, &err);
	store_close(st); /* no connection crosses fork */
	if (pipe(go) < 0)
		exit(1);
	snprintf(gofd, sizeof(gofd), "%d", go[0]);
	snprintf(closefd, sizeof(closefd), "%d", go[1]);
	snprintf(repo_s, sizeof(repo_s), "%lld", (long long)repo);
	for (int k = 0; k < 2; k++)
		kids[k] = spawn((char *const[]){(char *)self, "create-runs", (char *)dir, repo_s,
						gofd, closefd, NULL});
	close(go[0]);
	close(go[1]); /* both start now */
	for (int k = 0; k < 2; k++) {
		int status = 0;

		waitpid(kids[k], &status, 0);
		ok(WIFEXITED(status) && WEXITSTATUS(status) == 0, "process %d created 50 runs",
		   k + 1);
	}
	st = open_store(dir);
	ok(store_runs_list(st, "race", 1000, 0, &v, &n, &err) == 100 && n == 100,
	   "100 runs in all");
	for (size_t i = 0; i < n; i++) {
		if (v[i].number < 1 || v[i].number > 100 || seen[v[i].number])
			okk = 0;
		else
			seen[v[i].number] = 1;
	}
	ok(okk && n == 100, "their numbers are exactly 1..100, each once");
	run_infos_free(v, n);
	store_close(st);
}

struct recovered {
	int calls;
	int64_t id;
	enum run_status status;
};

static int on_recover(const struct run_info *run, void *data)
{
	struct recovered *r = data;

	r->calls++;
	r->id = run->id;
	r->status = run->status;
	return 0;
}

static void test_recover(const char *dir)
{
	struct store *st = open_store(dir);
	struct error *err = NULL;
	struct run_spec sp = spec();
	struct run_info *r = NULL;
	struct step_info *steps = NULL;
	struct recovered rec = {0};
	int64_t repo = 0, dead = 0, live = 0, reused = 0, s1 = 0, s2 = 0, s3 = 0;
	size_t n = 0;
	int block[2], status = 0;
	char fd[16], closefd[16];
	pid_t child;
	struct timespec t0, t1;

	store_repo_ensure(st, "rec", "", &repo, &err);
	store_run_create(st, repo, &sp, &dead, NULL, &err);
	store_run_create(st, repo, &sp, &live, NULL, &err);
	store_run_create(st, repo, &sp, &reused, NULL, &err);
	store_step_create(st, dead, "done", STEP_KIND_STEP, &s1, &err);
	store_step_create(st, dead, "busy", STEP_KIND_STEP, &s2, &err);
	store_step_create(st, dead, "later", STEP_KIND_STEP, &s3, &err);
	store_run_set_status(st, dead, RUN_RUNNING, NULL, &err);
	store_run_set_status(st, live, RUN_RUNNING, NULL, &err);
	store_step_update(st, s1, &STEP_RESULT_INIT(STEP_PASSED), &err);
	store_step_update(st, s2, &STEP_RESULT_INIT(STEP_RUNNING), &err);
	diag_err(&err);

	/* A child process that owns the run and is then killed. It does no SQLite work. */
	if (pipe(block) < 0)
		exit(1);
	snprintf(fd, sizeof(fd), "%d", block[0]);
	snprintf(closefd, sizeof(closefd), "%d", block[1]);
	child = spawn((char *const[]){(char *)self, "block", fd, closefd, NULL});
	close(block[0]);
	ok(store_run_set_owner(st, dead, child, &err) == 0, "the child owns a running run");
	/* a run recorded with our pid but another start time: the pid was reused */
	ok(sqlite3_exec(st->db,
			"UPDATE runs SET owner_start = owner_start + 1 WHERE status = "
			"'queued' AND id = (SELECT max(id) FROM runs)",
			NULL, NULL, NULL) == SQLITE_OK,
	   "a queued run's owner start time differs from our pid's");

	rec = (struct recovered){0};
	ok(store_recover_interrupted(st, on_recover, &rec, &err) == 1,
	   "while the owner lives: only "
	   "the reused-pid run is recovered");
	is_int(rec.id, reused, "it is the reused-pid one");
	store_run_get(st, dead, &r, &err);
	ok(r && r->status == RUN_RUNNING, "the live child's run is untouched");
	run_info_free(r);

	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	close(block[1]);

	rec = (struct recovered){0};
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok(store_recover_interrupted(st, on_recover, &rec, &err) == 1, "after kill -9: one run");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	is_int(rec.calls, 1, "the cleanup callback ran once");
	is_int(rec.id, dead, "for the dead run");
	is_str(run_status_name(rec.status), "interrupted", "which it sees as interrupted");
	store_run_get(st, dead, &r, &err);
	ok(r && r->status == RUN_INTERRUPTED && r->finished_at > 0,
	   "the run is interrupted, finished");
	ok(r && r->error && strstr(r->error, "is gone"), "with a reason: %s",
	   r && r->error ? r->error : "");
	run_info_free(r);
	store_steps_of_run(st, dead, &steps, &n, &err);
	ok(n == 3 && steps[0].status == STEP_PASSED, "a finished step stays passed");
	ok(n == 3 && steps[1].status == STEP_INTERRUPTED && steps[1].finished_at > 0,
	   "the running step is interrupted");
	ok(n == 3 && steps[2].status == STEP_CANCELLED, "the pending step is cancelled");
	step_infos_free(steps, n);
	store_run_get(st, live, &r, &err);
	ok(r && r->status == RUN_RUNNING, "a run owned by a live process is untouched");
	run_info_free(r);

	rec = (struct recovered){0};
	ok(store_recover_interrupted(st, on_recover, &rec, &err) == 0 && rec.calls == 0,
	   "recovering again does nothing");
	ok(store_recover_interrupted(st, NULL, NULL, &err) == 0, "a NULL callback is fine");

	/* an owner that has exited but is not reaped yet (a zombie) is gone too */
	{
		int64_t zrun = 0;
		siginfo_t si;
		char sql[128];
		pid_t z;

		store_run_create(st, repo, &sp, &zrun, NULL, &err);
		z = spawn((char *const[]){(char *)self, "exit", NULL});
		/* WNOWAIT: wait until it has exited but leave it unreaped */
		waitid(P_PID, (id_t)z, &si, WEXITED | WNOWAIT);
		snprintf(sql, sizeof(sql), "UPDATE runs SET owner_pid = %d WHERE id = %lld", (int)z,
			 (long long)zrun);
		sqlite3_exec(st->db, sql, NULL, NULL, NULL);
		ok(kill(z, 0) == 0, "the zombie's pid still exists");
		rec = (struct recovered){0};
		ok(store_recover_interrupted(st, on_recover, &rec, &err) == 1 && rec.id == zrun,
		   "a run owned by a zombie is recovered");
		waitpid(z, NULL, 0);
	}

	/* what it costs at each command start, with a few live runs */
	{
		struct timespec a, b;
		int reps = 200;
		double per_call;

		clock_gettime(CLOCK_MONOTONIC, &a);
		for (int i = 0; i < reps; i++)
			store_recover_interrupted(st, NULL, NULL, &err);
		clock_gettime(CLOCK_MONOTONIC, &b);
		per_call = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / reps;
		clock_gettime(CLOCK_MONOTONIC, &a);
		for (int i = 0; i < 50; i++) {
			struct store *o = open_store(dir);

			store_recover_interrupted(o, NULL, NULL, &err);
			store_close(o);
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		diag("a command start (open + recover + close): %.1f us",
		     ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / 50);
		diag("recover with nothing dead: %.1f us per call; with one dead run: %.1f us",
		     per_call, ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e3);
	}
	diag_err(&err);
	store_close(st);
}

/* A second process recovers at the same time: each dead run is handled once in all. */
static void test_recover_race(const char *dir)
{
	struct store *st = open_store(dir);
	struct error *err = NULL;
	struct run_spec sp = spec();
	int64_t repo = 0, id = 0;
	pid_t kids[2], gone;
	int fds[2], total = 0, go[2];
	char gofd[16], closefd[16], outfd[16];

	store_repo_ensure(st, "race2", "", &repo, &err);
	gone = spawn((char *const[]){(char *)self, "exit", NULL});
	waitpid(gone, NULL, 0);
	for (int i = 0; i < 20; i++) {
		char sql[128];

		if (store_run_create(st, repo, &sp, &id, NULL, &err) < 0)
			break;
		/* owned by a process that has exited */
		snprintf(sql, sizeof(sql), "UPDATE runs SET owner_pid = %d WHERE id = %lld",
			 (int)gone, (long long)id);
		sqlite3_exec(st->db, sql, NULL, NULL, NULL);
	}
	diag_err(&err);
	store_close(st);
	if (pipe(fds) < 0 || pipe(go) < 0)
		exit(1);
	snprintf(gofd, sizeof(gofd), "%d", go[0]);
	snprintf(closefd, sizeof(closefd), "%d", go[1]);
	snprintf(outfd, sizeof(outfd), "%d", fds[1]);
	for (int k = 0; k < 2; k++)
		kids[k] = spawn((char *const[]){(char *)self, "recover", (char *)dir, gofd, closefd,
						outfd, NULL});
	close(go[0]);
	close(go[1]);
	close(fds[1]);
	for (int k = 0; k < 2; k++) {
		int calls = 0, status = 0;

		if (read(fds[0], &calls, sizeof(calls)) == sizeof(calls))
			total += calls;
		waitpid(kids[k], &status, 0);
	}
	close(fds[0]);
	is_int(total, 20, "two processes recovering at once call cleanup 20 times in all");
}

/* ---- the child processes ---- */

/* Waits until the parent closes the other end of the pipe: all children start together. */
static int wait_go(const char *gofd, const char *closefd)
{
	char c;

	close(atoi(closefd));
	return read(atoi(gofd), &c, 1) == 0 ? 0 : -1;
}

static int child_create_runs(char **argv)
{
	struct store *st = NULL;
	struct error *err = NULL;
	struct run_spec sp = spec();

	if (wait_go(argv[4], argv[5]) < 0 || store_open(argv[2], &st, &err) < 0)
		return 2;
	for (int i = 0; i < 50; i++) {
		int64_t id = 0, num = 0;

		if (store_run_create(st, strtoll(argv[3], NULL, 10), &sp, &id, &num, &err) < 0) {
			fprintf(stderr, "child: %s\n", err->msg);
			return 3;
		}
	}
	store_close(st);
	return 0;
}

static int child_recover(char **argv)
{
	struct store *st = NULL;
	struct error *err = NULL;
	struct recovered rec = {0};

	if (wait_go(argv[3], argv[4]) < 0 || store_open(argv[2], &st, &err) < 0 ||
	    store_recover_interrupted(st, on_recover, &rec, &err) < 0)
		return 2;
	store_close(st);
	if (write(atoi(argv[5]), &rec.calls, sizeof(rec.calls)) != sizeof(rec.calls))
		return 3;
	return 0;
}

static int child_main(int argc, char **argv)
{
	char c;

	if (!strcmp(argv[1], "create-runs") && argc == 6)
		return child_create_runs(argv);
	if (!strcmp(argv[1], "recover") && argc == 6)
		return child_recover(argv);
	if (!strcmp(argv[1], "block") && argc == 4) { /* until the pipe closes or a signal */
		close(atoi(argv[3]));
		while (read(atoi(argv[2]), &c, 1) > 0)
			;
		return 0;
	}
	if (!strcmp(argv[1], "exit"))
		return 0;
	return 127;
}

int main(int argc, char **argv)
{
	char *dir;
	struct store *st;

	if (argc > 1)
		return child_main(argc, argv);
	self = argv[0];
	dir = tmpdir();
	st = open_store(dir);
	plan_lazy();
	test_repos(st);
	test_numbers_and_status(st);
	test_find_and_list(st);
	test_steps_and_json(st);
	test_delete(st);
	store_close(st);
	rmdir_all(dir);
	/* each on a database of its own: dead owners of one would count in the next */
	dir = tmpdir();
	test_concurrent_numbers(dir);
	rmdir_all(dir);
	dir = tmpdir();
	test_recover(dir);
	rmdir_all(dir);
	dir = tmpdir();
	test_recover_race(dir);
	rmdir_all(dir);
	return done_testing();
}
