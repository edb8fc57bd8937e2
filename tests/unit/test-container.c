/* tests/unit/test-container.c — the engine's API as the builder and the executor use it
 * (runner/container.c): run, exit codes and signals, output through a pipe, stop from another
 * thread, timeout, a shared network namespace, samples, many containers from many threads,
 * failed starts that leave nothing, and stale containers of a killed process. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/fs.h"
#include "runner/cgroup.h"
#include "runner/container.h"
#include "tests/unit/tap.h"

static char base[] = "/tmp/test-container-XXXXXX";
static char data[512], root[512];
static char *lower[1] = {root};

static void make_root(void)
{
	static const char *const applets[] = {"sh", "echo", "cat",   "sleep", "true", "readlink",
					      "ls", "ip",   "touch", "kill",  "id",   "hostname"};
	char p[600];

	snprintf(p, sizeof(p), "%s/bin", root);
	mkdir_p(p, 0755, NULL);
	snprintf(p, sizeof(p), "cp /bin/busybox %s/bin/busybox", root);
	if (system(p) != 0)
		abort();
	for (size_t i = 0; i < ARRAY_SIZE(applets); i++) {
		snprintf(p, sizeof(p), "%s/bin/%s", root, applets[i]);
		if (symlink("busybox", p) < 0)
			abort();
	}
	snprintf(p, sizeof(p), "%s/etc", root);
	mkdir(p, 0755);
}

static void spec_init(struct container_spec *s, char **argv)
{
	memset(s, 0, sizeof(*s));
	s->lower_dirs = lower;
	s->n_lower = 1;
	s->argv = argv;
	s->stdin_fd = s->stdout_fd = s->stderr_fd = -1;
}

/* Runs argv with stdout captured into out. */
static int run_capture(struct container_host *h, struct container_spec *s, char *out, size_t len,
		       struct container_result *r)
{
	struct error *err = NULL;
	int pfd[2], rc;
	ssize_t n, got = 0;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return -1;
	s->stdout_fd = pfd[1];
	struct container *c;

	rc = container_start(h, s, &c, &err);
	close(pfd[1]);
	if (rc < 0) {
		diag("start: %s", err->msg);
		error_free(err);
		close(pfd[0]);
		return -1;
	}
	while ((n = read(pfd[0], out + got, len - 1 - (size_t)got)) > 0)
		got += n;
	out[got] = '\0';
	close(pfd[0]);
	rc = container_wait(c, r, &err);
	container_free(c);
	if (rc < 0) {
		diag("wait: %s", err->msg);
		error_free(err);
	}
	return rc;
}

static int count_entries(const char *dir)
{
	cleanup_closedir DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	while (d && (e = readdir(d)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	return n;
}

struct stopper {
	struct container *c;
	int delay_ms;
};

static void *stop_later(void *arg)
{
	struct stopper *s = arg;

	usleep((useconds_t)s->delay_ms * 1000);
	container_stop(s->c);
	container_stop(s->c); /* idempotent */
	return NULL;
}

static struct container_host *shared_host;
static int thread_failures;

static void *many(void *arg)
{
	char *argv[] = {"sh", "-c", "exit 3", NULL};
	struct container_spec s;

	(void)arg;
	spec_init(&s, argv);
	s.limits.memory = 64 << 20;
	for (int i = 0; i < 5; i++) {
		struct container_result r;
		struct error *err = NULL;

		if (container_run(shared_host, &s, &r, &err) < 0 || r.exit_code != 3) {
			__atomic_add_fetch(&thread_failures, 1, __ATOMIC_SEQ_CST);
			error_free(err);
		}
	}
	return NULL;
}

static void test_basics(struct container_host *h)
{
	char *argv_true[] = {"true", NULL}, *argv_exit[] = {"sh", "-c", "exit 5", NULL};
	char *argv_kill[] = {"sh", "-c", "kill -TERM $$", NULL}, *argv_none[] = {"nope", NULL};
	char *argv_echo[] = {"sh", "-c", "echo out; echo $FOO; hostname; cat /etc/hostname", NULL};
	char *env[] = {"FOO=bar", "PATH=/bin", NULL};
	struct container_spec s;
	struct container_result r;
	struct error *err = NULL;
	char out[512];

	spec_init(&s, argv_true);
	ok(container_run(h, &s, &r, &err) == 0 && r.exit_code == 0 && r.signal == 0, "true: 0");
	ok(!r.oom_killed && !r.timed_out && !r.stopped && !r.pids_limit_hit, "nothing special");
	spec_init(&s, argv_exit);
	ok(container_run(h, &s, &r, &err) == 0 && r.exit_code == 5, "exit 5");
	spec_init(&s, argv_kill);
	ok(container_run(h, &s, &r, &err) == 0 && r.exit_code == 128 + SIGTERM &&
	       r.signal == SIGTERM,
	   "killed by SIGTERM: 143, signal 15");
	spec_init(&s, argv_none);
	ok(container_run(h, &s, &r, &err) == 0 && r.exit_code == 127 && r.exec_errno == ENOENT,
	   "not found: 127, ENOENT");

	spec_init(&s, argv_echo);
	s.env = env;
	s.hostname = "unit-box";
	ok(run_capture(h, &s, out, sizeof(out), &r) == 0 && r.exit_code == 0, "captured run");
	is_str(out, "out\nbar\nunit-box\nunit-box\n", "stdout through a pipe, env, hostname");

	{
		char *argv_w[] = {"sh", "-c", "echo changed > /etc/new; touch /bin/x", NULL};
		char p[600];

		spec_init(&s, argv_w);
		ok(container_run(h, &s, &r, &err) == 0 && r.exit_code == 0, "writes inside");
		snprintf(p, sizeof(p), "%s/etc/new", root);
		ok(access(p, F_OK) < 0, "the lower dir is untouched");
	}
	ok(count_entries(data) >= 0 && count_entries(strcat(strcpy(out, data), "/containers")) == 0,
	   "no container dir left");
	{
		/* A failing start leaves nothing either. */
		spec_init(&s, argv_true);
		s.user = "nosuchuser";
		ok(container_run(h, &s, &r, &err) < 0 && err->exit_code == EXIT_USAGE,
		   "unknown user: input error");
		error_clear(&err);
		ok(count_entries(out) == 0, "no container dir after a failed start");
	}
}

static void test_stop_timeout(struct container_host *h)
{
	char *argv[] = {"sh", "-c", "sleep 100 & sleep 101", NULL};
	struct container_spec s;
	struct container_result r, now;
	struct container *c = NULL;
	struct error *err = NULL;
	struct stopper st;
	pthread_t t;
	uint64_t t0;

	spec_init(&s, argv);
	ok(container_start(h, &s, &c, &err) == 0, "start a sleeper");
	ok(container_pid(c) > 0 && strlen(container_id(c)) == 16, "pid %d, id %s",
	   (int)container_pid(c), container_id(c));
	usleep(50000);
	ok(container_sample(c, &now, &err) == 0 && now.wall_ms >= 40, "sample while it runs");
	st.c = c;
	st.delay_ms = 100;
	pthread_create(&t, NULL, stop_later, &st);
	ok(container_wait(c, &r, &err) == 0, "wait returns after a stop from another thread");
	pthread_join(t, NULL);
	ok(r.stopped && !r.timed_out && r.exit_code == 137, "stopped, 137");
	ok(container_wait(c, &r, &err) < 0, "wait only once");
	error_clear(&err);
	container_free(c);

	spec_init(&s, argv);
	s.timeout_ms = 300;
	t0 = (uint64_t)time(NULL);
	ok(container_run(h, &s, &r, &err) == 0 && r.timed_out && !r.stopped, "timed out");
	ok(r.wall_ms >= 300 && r.wall_ms < 3000 && (uint64_t)time(NULL) - t0 < 5, "in %llu ms",
	   (unsigned long long)r.wall_ms);

	/* Freed without waiting: everything is killed and removed. */
	spec_init(&s, argv);
	ok(container_start(h, &s, &c, &err) == 0, "start and free at once");
	{
		pid_t pid = container_pid(c);

		container_free(c);
		ok(kill(pid, 0) < 0 && errno == ESRCH, "its init is gone");
	}
	container_free(NULL);
}

static void test_netns(struct container_host *h)
{
	char *argv[] = {"sh", "-c", "readlink /proc/self/ns/net; ip -o link show lo", NULL};
	struct container_spec s;
	struct container_result r;
	struct error *err = NULL;
	char out1[512], out2[512], want[64];
	struct stat st;
	int fd = -1;

	ok(container_netns_create(&fd, &err) == 0 && fd >= 0, "netns created");
	fstat(fd, &st);
	snprintf(want, sizeof(want), "net:[%llu]", (unsigned long long)st.st_ino);
	spec_init(&s, argv);
	s.network = CONTAINER_NET_JOIN;
	s.netns_fd = fd;
	ok(run_capture(h, &s, out1, sizeof(out1), &r) == 0, "first in it");
	ok(run_capture(h, &s, out2, sizeof(out2), &r) == 0, "second in it");
	ok(!strncmp(out1, want, strlen(want)) && !strncmp(out2, want, strlen(want)), "both in %s",
	   want);
	ok(strstr(out1, "UP") != NULL, "loopback up");
	{
		struct stat self;

		stat("/proc/self/ns/net", &self);
		ok(self.st_ino != st.st_ino, "this thread is back in its own namespace");
	}
	s.network = CONTAINER_NET_NONE;
	ok(run_capture(h, &s, out2, sizeof(out2), &r) == 0 && strncmp(out2, want, strlen(want)),
	   "a default container has a namespace of its own");
	close(fd);
}

static void test_threads(struct container_host *h)
{
	pthread_t t[4];

	shared_host = h;
	for (int i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, many, NULL);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	is_int(thread_failures, 0, "20 containers from 4 threads at once");
}

/* A process that starts a container and dies by SIGKILL: its container dies with it and
 * cleanup_stale removes the dir and the cgroup. */
static void test_stale(struct container_host *h)
{
	char *argv[] = {"sleep", "100", NULL};
	char id[32] = "", dir[600];
	int pfd[2], st;
	pid_t pid, init = 0;

	if (pipe(pfd) < 0)
		abort();
	pid = fork();
	if (pid == 0) {
		struct container_host *h2;
		struct container_spec s;
		struct container *c;
		struct error *err = NULL;
		char msg[64];

		close(pfd[0]);
		spec_init(&s, argv);
		s.limits.pids = 10;
		if (container_host_open(data, &h2, &err) < 0 ||
		    container_start(h2, &s, &c, &err) < 0)
			_exit(1);
		snprintf(msg, sizeof(msg), "%s %d", container_id(c), (int)container_pid(c));
		if (write(pfd[1], msg, strlen(msg)) < 0)
			_exit(1);
		close(pfd[1]);
		kill(getpid(), SIGKILL);
	}
	close(pfd[1]);
	{
		char buf[64] = "";
		ssize_t n = read(pfd[0], buf, sizeof(buf) - 1);

		if (n > 0) {
			buf[n] = '\0';
			sscanf(buf, "%31s %d", id, &init);
		}
	}
	close(pfd[0]);
	waitpid(pid, &st, 0);
	ok(WIFSIGNALED(st) && strlen(id) == 16, "the owner died with container %s", id);
	for (int i = 0; i < 100 && kill(init, 0) == 0; i++)
		usleep(20000);
	ok(kill(init, 0) < 0, "its init followed (lifeline)");
	snprintf(dir, sizeof(dir), "%s/containers/%s", data, id);
	ok(access(dir, F_OK) == 0, "its dir is left");
	ok(container_cleanup_stale(h, NULL) >= 2, "cleanup removes the dir and the cgroup");
	ok(access(dir, F_OK) < 0, "the dir is gone");
	{
		const struct cgroup_host *cgh = container_host_cgroups(h);
		cleanup_free char *parent = cgroup_parent_dir(cgh, CG_PIDS);
		cleanup_closedir DIR *d = parent ? opendir(parent) : NULL;
		struct dirent *e;
		int left = 0;

		while (d && (e = readdir(d)))
			if (strstr(e->d_name, id))
				left++;
		is_int(left, 0, "no cgroup of it is left");
	}
	is_int(container_cleanup_stale(h, NULL), 0, "nothing more to clean");
}

int main(void)
{
	struct container_host *h = NULL;
	struct error *err = NULL;

	plan_lazy();
	if (!mkdtemp(base))
		return 1;
	snprintf(data, sizeof(data), "%s/data", base);
	snprintf(root, sizeof(root), "%s/root", base);
	make_root();
	if (!ok(container_host_open(data, &h, &err) == 0, "host open")) {
		diag("%s", err->msg);
		return done_testing();
	}
	test_basics(h);
	test_stop_timeout(h);
	test_netns(h);
	test_threads(h);
	test_stale(h);
	container_host_close(h);
	rm_rf(base, NULL);
	return done_testing();
}
