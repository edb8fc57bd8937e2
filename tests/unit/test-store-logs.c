/* tests/unit/test-store-logs.c — store/logs.c: lines read back in order with time and stream,
 * per step and for the whole run, continuing after a line id (logs -f), the per-step cap with
 * its one truncation notice (also across reopening), durability of flushed lines when the
 * writer is killed, UTF-8 clean-up, and the append rate. */
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
	char tmpl[] = "/tmp/slipway-test-store-logs.XXXXXX";

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
 * of ours, as a separate executor process does. */
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

static const struct run_spec spec = {
    .commit = "0123456789abcdef0123456789abcdef01234567",
    .event = "push",
    .trigger = "manual",
};

/* Collects what store_logs_read passes. */
struct lines {
	size_t n;
	int64_t ids[64];
	int64_t steps[64];
	int64_t t[64];
	int streams[64];
	char *text[64];
	int stop_after; /* 0: never */
};

static int collect(const struct log_line *l, void *data)
{
	struct lines *c = data;

	if (c->n < 64) {
		c->ids[c->n] = l->id;
		c->steps[c->n] = l->step_id;
		c->t[c->n] = l->t_ms;
		c->streams[c->n] = l->stream;
		c->text[c->n] = strndup(l->text, l->len);
	}
	c->n++;
	return c->stop_after && (int)c->n >= c->stop_after;
}

static void lines_free(struct lines *c)
{
	for (size_t i = 0; i < c->n && i < 64; i++)
		free(c->text[i]);
	memset(c, 0, sizeof(*c));
}

static int append(struct store *st, int64_t run, int64_t step, int64_t t, enum log_stream s,
		  const char *text)
{
	struct error *err = NULL;
	int rc = store_log_append(st, run, step, t, s, text, strlen(text), &err);

	if (rc < 0) {
		diag("append: %s", err->msg);
		error_free(err);
	}
	return rc;
}

static void test_read_back(const char *dir)
{
	struct store *st = open_store(dir);
	struct error *err = NULL;
	struct lines c = {0};
	int64_t repo = 0, run = 0, a = 0, b = 0;

	store_repo_ensure(st, "app", "", &repo, &err);
	store_run_create(st, repo, &spec, &run, NULL, &err);
	store_step_create(st, run, "a", STEP_KIND_STEP, &a, &err);
	store_step_create(st, run, "b", STEP_KIND_STEP, &b, &err);
	ok(append(st, run, 0, 1000, LOG_SYSTEM, "checking out") == 0, "a run line");
	ok(append(st, run, a, 1001, LOG_STDOUT, "a says hello") == 0, "a stdout line of a");
	ok(append(st, run, b, 1002, LOG_STDERR, "b complains") == 0, "a stderr line of b");
	ok(append(st, run, a, 1003, LOG_STDOUT, "a again") == 0, "another line of a");
	ok(append(st, run, a, 0, LOG_STDOUT, "") == 0, "an empty line, time now");

	ok(store_logs_read(st, run, -1, 0, collect, &c, &err) == 0 && c.n == 0,
	   "nothing is seen before a flush");
	ok(store_log_flush(st, &err) == 0, "flush");
	ok(store_logs_read(st, run, -1, 0, collect, &c, &err) == 5 && c.n == 5,
	   "five lines in all");
	is_str(c.text[0], "checking out", "in order: 1");
	is_str(c.text[1], "a says hello", "in order: 2");
	is_str(c.text[2], "b complains", "in order: 3");
	ok(c.ids[0] < c.ids[1] && c.ids[1] < c.ids[2] && c.ids[3] < c.ids[4], "ids increase");
	ok(c.steps[0] == 0 && c.steps[1] == a && c.steps[2] == b,
	   "with their step (0 for the run)");
	ok(c.streams[0] == LOG_SYSTEM && c.streams[1] == LOG_STDOUT && c.streams[2] == LOG_STDERR,
	   "and stream");
	ok(c.t[0] == 1000 && c.t[3] == 1003 && c.t[4] > 1000000, "and time (0 means now)");
	is_str(c.text[4], "", "an empty line stays empty");
	int64_t after = c.ids[1];
	lines_free(&c);

	ok(store_logs_read(st, run, a, 0, collect, &c, &err) == 3, "three lines of step a");
	is_str(c.text[1], "a again", "only a's");
	lines_free(&c);
	ok(store_logs_read(st, run, 0, 0, collect, &c, &err) == 1, "one line of the run itself");
	lines_free(&c);
	ok(store_logs_read(st, run, -1, after, collect, &c, &err) == 3, "three after line 2 (-f)");
	is_str(c.text[0], "b complains", "starting after it");
	lines_free(&c);
	c.stop_after = 2;
	ok(store_logs_read(st, run, -1, 0, collect, &c, &err) == 2 && c.n == 2,
	   "the callback can stop early");
	lines_free(&c);

	OK_ERR(store_log_append(st, run, 424242, 0, LOG_STDOUT, "x", 1, &err) < 0 &&
		   strstr(err->msg, "no step with id 424242"),
	       err, "a line of an unknown step is refused: %s");
	error_clear(&err);
	ok(store_log_append(st, 424242, 0, 0, LOG_STDOUT, "x", 1, &err) < 0,
	   "or of an unknown run");
	error_clear(&err);
	ok(store_log_append(st, run, a, 0, (enum log_stream)7, "x", 1, &err) < 0,
	   "or with a bad stream");
	error_clear(&err);

	/* text that is not clean UTF-8 */
	const char bad[] = "ok \xff\xfe bytes\0nul \xc3\xa9 \xe2\x82";
	ok(store_log_append(st, run, b, 0, LOG_STDOUT, bad, sizeof(bad) - 1, &err) == 0,
	   "a line with invalid UTF-8 and a NUL");
	store_log_flush(st, &err);
	ok(store_logs_read(st, run, b, c.ids[0], collect, &c, &err) >= 1, "read back");
	is_str(c.n ? c.text[c.n - 1] : NULL,
	       "ok \xef\xbf\xbd\xef\xbf\xbd bytes\xef\xbf\xbdnul \xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd",
	       "bad bytes and NUL became U+FFFD, valid UTF-8 kept");
	lines_free(&c);

	/* a very long line is cut */
	size_t big = 200000;
	char *line = malloc(big);
	memset(line, 'x', big);
	ok(store_log_append(st, run, b, 0, LOG_STDOUT, line, big, &err) == 0, "a 200 kB line");
	free(line);
	store_log_flush(st, &err);
	c.stop_after = 0;
	store_logs_read(st, run, b, 0, collect, &c, &err);
	ok(c.n >= 1 && strlen(c.text[c.n - 1]) == 65536 + strlen(" [line cut at 64 KiB]") &&
	       strstr(c.text[c.n - 1], "xxx [line cut at 64 KiB]"),
	   "is kept cut at 64 KiB with a mark");
	lines_free(&c);
	store_close(st);
}

static void test_cap(const char *dir)
{
	struct store *st = open_store(dir);
	struct error *err = NULL;
	struct lines c = {0};
	struct step_info *one = NULL;
	int64_t repo = 0, run = 0, a = 0, b = 0;
	char line[32];
	int kept = 0;

	store_repo_ensure(st, "cap", "", &repo, &err);
	store_run_create(st, repo, &spec, &run, NULL, &err);
	store_step_create(st, run, "a", STEP_KIND_STEP, &a, &err);
	store_step_create(st, run, "b", STEP_KIND_STEP, &b, &err);
	store_set_log_cap(st, 1000);
	/* 100 lines of 19 bytes (20 with the newline): exactly 50 fit in 1000 bytes */
	for (int i = 0; i < 100; i++) {
		snprintf(line, sizeof(line), "line %03d of step a.", i);
		if (append(st, run, a, 0, LOG_STDOUT, line) < 0)
			break;
	}
	append(st, run, b, 0, LOG_STDOUT, "b is not affected");
	ok(store_log_flush(st, &err) == 0, "flushed");
	c.stop_after = 0;
	is_int(store_logs_read(st, run, a, 0, collect, &c, &err), 51,
	       "50 lines kept and one notice");
	kept = (int)c.n - 1;
	is_str(c.n > 49 ? c.text[49] : NULL, "line 049 of step a.", "the last kept line");
	ok(c.n == 51 && c.streams[50] == LOG_SYSTEM &&
	       !strcmp(c.text[50], "[slipway] log truncated: this output passed the 1000 B cap; "
				   "later lines are not kept"),
	   "the notice is a system line: %s", c.n == 51 ? c.text[50] : "");
	lines_free(&c);
	ok(store_step_find(st, run, "a", &one, &err) == 0 && one && one->log_truncated &&
	       one->log_bytes == kept * 20,
	   "the step records its log size and truncation");
	step_info_free(one);
	is_int(store_logs_read(st, run, b, 0, collect, &c, &err), 1, "another step is not capped");
	lines_free(&c);
	store_close(st);

	/* another process (here: another connection) continues the run's log */
	st = open_store(dir);
	store_set_log_cap(st, 1000);
	append(st, run, a, 0, LOG_STDOUT, "after reopening");
	store_log_flush(st, &err);
	is_int(store_logs_read(st, run, a, 0, collect, &c, &err), 51,
	       "a truncated step stays truncated after reopening: no second notice");
	lines_free(&c);
	store_close(st);
}

/* Lines reach the database without an explicit flush: by age (a second) and at close. */
static void test_implicit_flush(const char *dir)
{
	struct store *w = open_store(dir), *r = open_store(dir);
	struct error *err = NULL;
	struct lines c = {0};
	int64_t repo = 0, run = 0, step = 0;

	store_repo_ensure(w, "implicit", "", &repo, &err);
	store_run_create(w, repo, &spec, &run, NULL, &err);
	store_step_create(w, run, "s", STEP_KIND_STEP, &step, &err);
	append(w, run, step, 0, LOG_STDOUT, "first");
	is_int(store_logs_read(r, run, step, 0, collect, &c, &err), 0,
	       "a fresh line is buffered, not yet visible to a reader");
	lines_free(&c);
	usleep(1100 * 1000);
	append(w, run, step, 0, LOG_STDOUT, "second");
	is_int(store_logs_read(r, run, step, 0, collect, &c, &err), 2,
	       "an append more than a second after the oldest buffered line flushes both");
	lines_free(&c);
	append(w, run, step, 0, LOG_STDOUT, "third");
	store_close(w);
	is_int(store_logs_read(r, run, step, 0, collect, &c, &err), 3, "closing flushes the rest");
	is_str(c.n == 3 ? c.text[2] : NULL, "third", "in order");
	lines_free(&c);
	store_close(r);
}

/* A child appends and flushes, then is killed with SIGKILL: the flushed lines are there. */
static void test_durable_flush(const char *dir)
{
	struct store *st = open_store(dir);
	struct error *err = NULL;
	struct lines c = {0};
	int64_t repo = 0, run = 0, step = 0;
	int ready[2], status = 0;
	char x, run_s[32], step_s[32], fd[16];
	pid_t pid;

	store_repo_ensure(st, "durable", "", &repo, &err);
	store_run_create(st, repo, &spec, &run, NULL, &err);
	store_step_create(st, run, "s", STEP_KIND_STEP, &step, &err);
	store_close(st);
	if (pipe(ready) < 0)
		exit(1);
	snprintf(run_s, sizeof(run_s), "%lld", (long long)run);
	snprintf(step_s, sizeof(step_s), "%lld", (long long)step);
	snprintf(fd, sizeof(fd), "%d", ready[1]);
	pid = spawn((char *const[]){(char *)self, "append", (char *)dir, run_s, step_s, fd, NULL});
	close(ready[1]);
	ok(read(ready[0], &x, 1) == 1, "the child appended and flushed 50 lines");
	close(ready[0]);
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	ok(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL, "the child was killed with SIGKILL");
	st = open_store(dir);
	is_int(store_logs_read(st, run, step, 0, collect, &c, &err), 50,
	       "all 50 flushed lines are in the database");
	is_str(c.n == 50 ? c.text[49] : NULL, "flushed 49", "the last one too");
	lines_free(&c);
	store_close(st);
}

static double secs_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) + (t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Not a timing assertion: the figure is printed for the report. */
static void measure_rate(const char *dir)
{
	struct store *st = open_store(dir);
	struct error *err = NULL;
	int64_t repo = 0, run = 0, step = 0;
	struct timespec t0;
	int n = 30000, done = 0;
	char line[100];
	double s;

	store_repo_ensure(st, "rate", "", &repo, &err);
	store_run_create(st, repo, &spec, &run, NULL, &err);
	store_step_create(st, run, "s", STEP_KIND_STEP, &step, &err);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < n; i++) {
		int len =
		    snprintf(line, sizeof(line),
			     "make[2]: compiling src/module%05d.c -> build/module%05d.o", i, i);

		if (store_log_append(st, run, step, 0, LOG_STDOUT, line, (size_t)len, &err) < 0)
			break;
		done++;
	}
	store_log_flush(st, &err);
	s = secs_since(&t0);
	ok(done == n && !err, "%d lines appended and flushed", n);
	diag("log append rate: %.0f lines/s (%.2f us/line, ~60-byte lines)", n / s, s * 1e6 / n);
	error_clear(&err);
	store_close(st);
}

/* The child: appends and flushes 50 lines, buffers one more, says so on fd, waits to be
 * killed. */
static int child_append(char **argv)
{
	struct store *st = NULL;
	struct error *err = NULL;
	int64_t run = strtoll(argv[3], NULL, 10), step = strtoll(argv[4], NULL, 10);
	char line[64];

	if (store_open(argv[2], &st, &err) < 0)
		return 2;
	for (int i = 0; i < 50; i++) {
		snprintf(line, sizeof(line), "flushed %d", i);
		if (store_log_append(st, run, step, 0, LOG_STDOUT, line, strlen(line), &err) < 0)
			return 3;
	}
	if (store_log_flush(st, &err) < 0)
		return 4;
	store_log_append(st, run, step, 0, LOG_STDOUT, "buffered", 8, &err);
	if (write(atoi(argv[5]), "x", 1) != 1)
		return 5;
	pause();
	return 6;
}

int main(int argc, char **argv)
{
	char *dir;

	if (argc == 6 && !strcmp(argv[1], "append"))
		return child_append(argv);
	self = argv[0];
	plan_lazy();
	dir = tmpdir();
	test_read_back(dir);
	test_cap(dir);
	test_implicit_flush(dir);
	test_durable_flush(dir);
	measure_rate(dir);
	rmdir_all(dir);
	return done_testing();
}
