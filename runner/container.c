/* runner/container.c — the container engine's host side: prepare a container (dirs, cgroup,
 * /etc files, the init plan), clone its init into new namespaces, wait for it with timeout and
 * stop, read what it used from the cgroup, and remove every trace of it.
 *
 * What never leaks: mounts live only in the container's own mount namespace (gone with its
 * last process); init watches a "lifeline" pipe whose only writer is this process, so if
 * slipway dies init kills the container; cgroups are named after their owner process
 * ("<pid>.<starttime>-<id>") and container dirs carry an owner file, so
 * container_cleanup_stale() knows what belongs to a dead slipway. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/proc.h"
#include "lib/cleanup.h"
#include "lib/fs.h"
#include "runner/caps.h"
#include "runner/cgroup.h"
#include "runner/container.h"
#include "runner/init.h"
#include "runner/seccomp.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define OVERLAY_OPTS_MAX 4095
#define CAP_SYS_ADMIN_BIT 21

struct container_host {
	char *data_dir;
	char *containers_dir;
	struct cgroup_host cg;
	int last_cap;
	char owner[48]; /* "<pid>.<starttime>" of this process */
	struct seccomp_cache *seccomp;
};

struct container {
	struct container_host *h;
	char id[17];
	char *name;
	char *dir;
	struct cgroup *cg;
	pid_t pid;
	int pidfd;
	int dir_fd; /* holds the flock that marks the dir as ours */
	int lifeline_w;
	int stop_efd;
	struct init_shared *shared;
	uint64_t started_ms;
	uint64_t timeout_ms;
	uint64_t memory_limit;
	atomic_int stopped;
	bool reaped, waited;
	int status; /* init's wait status */
	int exec_errno;
	char **lowers;	/* copies of the spec's lower dirs, NULL-terminated */
	char **mpoints; /* paths in the root the engine mounts on, NULL-terminated */
};

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* What container_upper_dir needs after the spec is gone. */
static int remember_paths(struct container *c, const struct container_spec *s)
{
	static const char *const fixed[] = {"/proc",	  "/dev",	   "/sys",
					    "/etc/hosts", "/etc/hostname", "/etc/resolv.conf"};
	size_t n = ARRAY_SIZE(fixed) + s->n_mounts + s->n_tmpfs, k = 0;

	c->lowers = calloc(s->n_lower + 1, sizeof(char *));
	c->mpoints = calloc(n + 1, sizeof(char *));
	if (!c->lowers || !c->mpoints)
		return -1;
	for (size_t i = 0; i < s->n_lower; i++)
		if (!(c->lowers[i] = strdup(s->lower_dirs[i])))
			return -1;
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++)
		if (!(c->mpoints[k++] = strdup(fixed[i])))
			return -1;
	for (size_t i = 0; i < s->n_mounts; i++)
		if (!(c->mpoints[k++] = strdup(s->mounts[i].target)))
			return -1;
	for (size_t i = 0; i < s->n_tmpfs; i++)
		if (!(c->mpoints[k++] = strdup(s->tmpfs[i].target)))
			return -1;
	return 0;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot. */
static int proc_starttime(pid_t pid, unsigned long long *out)
{
	int64_t t = proc_start_time(pid);

	if (t < 0)
		return -1;
	*out = (unsigned long long)t;
	return 0;
}

/* "<pid>.<starttime>": is that process still alive (and the same one)? */
static bool owner_alive(const char *owner)
{
	unsigned long long st, want;
	char *dot;
	long pid = strtol(owner, &dot, 10);

	if (pid <= 0 || *dot != '.')
		return false;
	want = strtoull(dot + 1, NULL, 10);
	return proc_starttime((pid_t)pid, &st) == 0 && st == want;
}

int container_host_open(const char *data_dir, struct container_host **out, struct error **err)
{
	struct container_host *h = calloc(1, sizeof(*h));
	unsigned long long st = 0;

	if (!h)
		return error_errno(err, "allocate the container host");
	h->data_dir = strdup(data_dir);
	h->containers_dir = path_join(data_dir, "containers");
	if (!h->data_dir || !h->containers_dir) {
		container_host_close(h);
		return error_errno(err, "allocate the container host");
	}
	if (mkdir_p(h->containers_dir, 0700, err) < 0 || cgroup_host_detect(&h->cg, err) < 0) {
		container_host_close(h);
		return error_wrap(err, "prepare containers in '%s'", data_dir);
	}
	proc_starttime(getpid(), &st);
	snprintf(h->owner, sizeof(h->owner), "%d.%llu", (int)getpid(), st);
	h->last_cap = caps_last_cap();
	*out = h;
	return 0;
}

void container_host_close(struct container_host *h)
{
	if (!h)
		return;
	cgroup_host_release(&h->cg);
	seccomp_cache_free(h->seccomp);
	free(h->data_dir);
	free(h->containers_dir);
	free(h);
}

const struct cgroup_host *container_host_cgroups(const struct container_host *h)
{
	return &h->cg;
}

const char *container_id(const struct container *c)
{
	return c->id;
}

pid_t container_pid(const struct container *c)
{
	return c->pid;
}

const char *container_dir(const struct container *c)
{
	return c->dir;
}

static const char *env_path(char *const *env)
{
	for (size_t i = 0; env && env[i]; i++)
		if (!strncmp(env[i], "PATH=", 5))
			return env[i] + 5;
	return DEFAULT_PATH;
}

/* The overlay mount data. Paths holding ',' or ':' cannot be given to overlayfs. */
static int overlay_opts(const struct container_spec *s, const char *dir, char **out,
			char **chdir_to, struct error **err)
{
	char buf[OVERLAY_OPTS_MAX + 1];
	size_t len;
	bool relative = false;
	cleanup_free char *common = NULL;

	*chdir_to = NULL;
	for (size_t i = 0; i < s->n_lower; i++) {
		if (strpbrk(s->lower_dirs[i], ",:\\"))
			return error_usage(err, "layer path '%s' holds ',', ':' or '\\'",
					   s->lower_dirs[i]);
	}
retry:
	len = (size_t)snprintf(buf, sizeof(buf), "lowerdir=");
	for (size_t i = 0; i < s->n_lower && len < sizeof(buf); i++) {
		const char *l = s->lower_dirs[i];

		if (relative)
			l = strrchr(l, '/') + 1;
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s%s", i ? ":" : "", l);
	}
	if (len < sizeof(buf))
		len += (size_t)snprintf(buf + len, sizeof(buf) - len,
					",upperdir=%s/upper,workdir=%s/work", dir, dir);
	if (len >= sizeof(buf)) {
		/* Too long: relative names, when all layers share one parent directory. */
		if (relative)
			return error_usage(err, "too many layers to mount (%zu)", s->n_lower);
		for (size_t i = 0; i < s->n_lower; i++) {
			const char *l = s->lower_dirs[i], *slash = strrchr(l, '/');

			if (!slash || l[0] != '/')
				return error_usage(err, "too many layers to mount (%zu)",
						   s->n_lower);
			if (!common)
				common = strndup(l, (size_t)(slash - l));
			else if (strlen(common) != (size_t)(slash - l) ||
				 strncmp(common, l, (size_t)(slash - l)))
				return error_usage(err, "too many layers to mount (%zu)",
						   s->n_lower);
		}
		relative = true;
		goto retry;
	}
	*out = strdup(buf);
	if (relative)
		*chdir_to = steal_pointer(&common);
	return *out ? 0 : error_errno(err, "allocate");
}

/* The contents of the container's /etc/hosts, hostname and resolv.conf (caller frees). */
static int etc_files(const struct container_spec *s, const char *hostname, char **hosts, char **hn,
		     char **resolv, struct error **err)
{
	size_t len = 0;
	FILE *f = open_memstream(hosts, &len);

	if (!f)
		return error_errno(err, "allocate");
	fprintf(f, "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
	fprintf(f, "127.0.1.1\t%s\n", hostname);
	for (size_t i = 0; s->extra_hosts && s->extra_hosts[i]; i++)
		fprintf(f, "%s\n", s->extra_hosts[i]);
	if (fclose(f) != 0 || asprintf(hn, "%s\n", hostname) < 0)
		return error_errno(err, "allocate");
	if (read_file("/etc/resolv.conf", 65536, resolv, NULL, NULL) < 0)
		*resolv = strdup("");
	return *resolv ? 0 : error_errno(err, "allocate");
}

/* Which hierarchies the container's /sys/fs/cgroup shows: each v1 one slipway knows (named as
 * on the host, e.g. "cpu,cpuacct", mounted with its controllers) and the unified one. */
static void cgroup_mount_plan(const struct cgroup_host *cg, struct init_plan *p)
{
	p->n_cg_v1 = 0;
	for (int c = 0; c < CG_NCTL; c++) {
		const char *mnt = cg->ctl[c].mount, *base;
		char *data;
		bool seen = false;

		if (!mnt || cg->ctl[c].v2)
			continue;
		base = strrchr(mnt, '/') ? strrchr(mnt, '/') + 1 : mnt;
		for (int i = 0; i < p->n_cg_v1; i++)
			if (!strcmp(p->cg_v1[i][0], base))
				seen = true;
		if (seen || !*base || strlen(base) >= sizeof(p->cg_v1[0][0]))
			continue;
		snprintf(p->cg_v1[p->n_cg_v1][0], sizeof(p->cg_v1[0][0]), "%s", base);
		data = p->cg_v1[p->n_cg_v1][1];
		data[0] = '\0';
		for (int k = 0; k < CG_NCTL; k++) {
			const char *name = cgroup_ctl_name(k, 0);
			size_t len = strlen(data);

			if (cg->ctl[k].mount && !cg->ctl[k].v2 && !strcmp(cg->ctl[k].mount, mnt))
				snprintf(data + len, sizeof(p->cg_v1[0][1]) - len, "%s%s",
					 len ? "," : "", name);
		}
		p->n_cg_v1++;
	}
	p->cg_unified = !cg->unified_mount ? 0 : cg->mode == CGROUP_V2 ? 1 : 2;
	p->no_devices_cgroup = !cg->ctl[CG_DEVICES].mount || cg->ctl[CG_DEVICES].v2;
}

static int validate(const struct container_spec *s, struct error **err)
{
	if (!s->argv || !s->argv[0] || !s->argv[0][0])
		return error_usage(err, "no command to run");
	if (!s->lower_dirs || s->n_lower == 0)
		return error_usage(err, "no root file system");
	for (size_t i = 0; i < s->n_lower; i++) {
		struct stat st;

		if (s->lower_dirs[i][0] != '/')
			return error_usage(err, "root file system '%s' is not an absolute path",
					   s->lower_dirs[i]);
		if (stat(s->lower_dirs[i], &st) < 0)
			return error_errno(err, "root file system '%s'", s->lower_dirs[i]);
		if (!S_ISDIR(st.st_mode))
			return error_usage(err, "root file system '%s' is not a directory",
					   s->lower_dirs[i]);
	}
	for (size_t i = 0; s->env && s->env[i]; i++)
		if (i >= INIT_ENV_MAX)
			return error_usage(err, "too many environment variables (at most %d)",
					   INIT_ENV_MAX);
	if (s->network == CONTAINER_NET_JOIN && s->netns_fd < 0)
		return error_usage(err, "no network namespace to join");
	for (size_t i = 0; i < s->n_mounts; i++)
		if (!s->mounts[i].source || s->mounts[i].source[0] != '/' || !s->mounts[i].target ||
		    s->mounts[i].target[0] != '/')
			return error_usage(err, "volume '%s:%s' needs absolute paths",
					   s->mounts[i].source ? s->mounts[i].source : "",
					   s->mounts[i].target ? s->mounts[i].target : "");
	for (size_t i = 0; i < s->n_tmpfs; i++)
		if (!s->tmpfs[i].target || s->tmpfs[i].target[0] != '/')
			return error_usage(err, "tmpfs '%s' needs an absolute path",
					   s->tmpfs[i].target ? s->tmpfs[i].target : "");
	return 0;
}

/* $DATA/containers/<id> with upper/ and work/, locked (flock) for as long as this process
 * lives: container_cleanup_stale takes a dir whose lock it can get for a leftover. It is made
 * as ".new-<id>" and renamed once locked, so that no unlocked live dir is ever seen. */
static int make_dirs(struct container *c, struct error **err)
{
	static const char *const sub[] = {"upper", "work"};
	char tmp[PATH_MAX];

	snprintf(tmp, sizeof(tmp), "%s/.new-%s", c->h->containers_dir, c->id);
	if (mkdir(tmp, 0700) < 0)
		return error_errno(err, "create '%s'", tmp);
	c->dir_fd = open(tmp, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dir_fd < 0 || flock(c->dir_fd, LOCK_EX | LOCK_NB) < 0) {
		error_errno(err, "lock '%s'", tmp);
		rmdir(tmp);
		return -1;
	}
	for (size_t i = 0; i < ARRAY_SIZE(sub); i++) {
		if (mkdirat(c->dir_fd, sub[i], 0755) < 0) {
			error_errno(err, "create '%s/%s'", tmp, sub[i]);
			rm_rf(tmp, NULL);
			return -1;
		}
	}
	if (rename(tmp, c->dir) < 0) {
		error_errno(err, "rename '%s'", tmp);
		rm_rf(tmp, NULL);
		return -1;
	}
	return 0;
}

static void free_partial(struct container *c)
{
	struct error *e = NULL;

	if (!c)
		return;
	cgroup_free(c->cg);
	if (c->dir && c->dir_fd >= 0 && rm_rf(c->dir, &e) < 0)
		error_free(e);
	if (c->dir_fd >= 0)
		close(c->dir_fd);
	if (c->shared)
		munmap(c->shared, sizeof(*c->shared));
	if (c->pidfd >= 0)
		close(c->pidfd);
	if (c->lifeline_w >= 0)
		close(c->lifeline_w);
	if (c->stop_efd >= 0)
		close(c->stop_efd);
	strv_free(c->lowers);
	strv_free(c->mpoints);
	free(c->name);
	free(c->dir);
	free(c);
}

/* Reads what init reported; nothing (EOF) means the command was exec'd. */
static int read_report(struct container *c, int fd, struct error **err)
{
	struct init_report r;
	ssize_t n;

	do
		n = read(fd, &r, sizeof(r));
	while (n < 0 && errno == EINTR);
	if (n == 0)
		return 0;
	if (n != sizeof(r))
		return error_errno(err, "read the status of container '%s'", c->name);
	r.msg[sizeof(r.msg) - 1] = '\0';
	if (r.stage == INIT_STAGE_EXEC) {
		c->exec_errno = r.errnum ? r.errnum : ENOENT;
		return 0;
	}
	if (r.stage == INIT_STAGE_INPUT)
		return error_usage(err, "container '%s': %s", c->name, r.msg);
	if (r.errnum)
		return error_errnum(err, r.errnum, "start container '%s': %s", c->name, r.msg);
	return error_set(err, EXIT_INTERNAL, "start container '%s': %s", c->name, r.msg);
}

static void reap(struct container *c)
{
	int st;

	if (c->reaped)
		return;
	while (waitpid(c->pid, &st, __WALL) < 0 && errno == EINTR)
		;
	c->status = st;
	c->reaped = true;
}

int container_start(struct container_host *h, const struct container_spec *spec,
		    struct container **out, struct error **err)
{
	struct container *c;
	struct init_plan p;
	unsigned char rnd[8];
	int status[2] = {-1, -1}, life[2] = {-1, -1};
	cleanup_free char *opts = NULL, *chdir_to = NULL, *cgname = NULL;
	cleanup_free char *hosts = NULL, *hn = NULL, *resolv = NULL;
	char *hostname;
	unsigned long flags;
	int pidfd = -1, rc;
	uint64_t caps;
	pid_t pid;

	if (validate(spec, err) < 0 || caps_compute(spec->cap_add, spec->cap_drop, &caps, err) < 0)
		return -1;
	c = calloc(1, sizeof(*c));
	if (!c)
		return error_errno(err, "allocate a container");
	c->h = h;
	c->pidfd = c->lifeline_w = c->stop_efd = c->dir_fd = -1;
	if (getrandom(rnd, sizeof(rnd), 0) != sizeof(rnd)) {
		free(c);
		return error_errno(err, "make a container id");
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(c->id + 2 * i, 3, "%02x", rnd[i]);
	c->name = strdup(spec->name && *spec->name ? spec->name : c->id);
	c->dir = path_join(h->containers_dir, c->id);
	c->timeout_ms = spec->timeout_ms;
	c->memory_limit = spec->limits.memory;
	if (!c->name || !c->dir || remember_paths(c, spec) < 0 ||
	    asprintf(&cgname, "%s-%s", h->owner, c->id) < 0) {
		free_partial(c);
		return error_errno(err, "allocate a container");
	}
	hostname = (char *)(spec->hostname && *spec->hostname ? spec->hostname : c->id);
	if (make_dirs(c, err) < 0 || etc_files(spec, hostname, &hosts, &hn, &resolv, err) < 0 ||
	    overlay_opts(spec, c->dir, &opts, &chdir_to, err) < 0 ||
	    cgroup_create(&h->cg, cgname, &spec->limits, &c->cg, err) < 0)
		goto fail;

	memset(&p, 0, sizeof(p));
	p.spec = spec;
	p.overlay_opts = opts;
	p.overlay_chdir = chdir_to;
	p.hostname = hostname;
	p.etc_hosts = hosts;
	p.etc_hostname = hn;
	p.etc_resolv = resolv;
	p.mount_at = c->dir;
	p.env = spec->env;
	p.path = env_path(spec->env);
	p.new_net = spec->network == CONTAINER_NET_NONE;
	p.netns_fd = spec->network == CONTAINER_NET_JOIN ? spec->netns_fd : -1;
	p.caps = caps;
	p.last_cap = h->last_cap;
	cgroup_mount_plan(&h->cg, &p);
	/* With CAP_SYS_ADMIN added, the filter's denials (mount, unshare, ...) would contradict
	 * the capability: such a container runs unfiltered, as a privileged one. */
	if (!(caps & (UINT64_C(1) << CAP_SYS_ADMIN_BIT)) &&
	    seccomp_default_program(&h->seccomp, h->data_dir, &p.seccomp, err) < 0)
		goto fail;
	{
		static char *const default_env[] = {"PATH=" DEFAULT_PATH, NULL};

		if (!p.env)
			p.env = default_env;
	}
	{
		c->shared = mmap(NULL, sizeof(*c->shared), PROT_READ | PROT_WRITE,
				 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
		if (c->shared == MAP_FAILED) {
			c->shared = NULL;
			error_errno(err, "map the init page");
			goto fail;
		}
		p.shared = c->shared;
		if ((rc = cgroup_procs_fds(c->cg, p.cg_fds, err)) < 0)
			goto fail;
		p.n_cg_fds = rc;
		if (pipe2(status, O_CLOEXEC) < 0 || pipe2(life, O_CLOEXEC) < 0) {
			error_errno(err, "create a pipe");
			for (int i = 0; i < p.n_cg_fds; i++)
				close(p.cg_fds[i]);
			goto fail_pipes;
		}
		p.status_w = status[1];
		p.lifeline_r = life[0];
		flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_PIDFD |
			(spec->network == CONTAINER_NET_NONE ? CLONE_NEWNET : 0);
		c->started_ms = now_ms();
		/* A raw clone: a fork of only this thread, into new namespaces; the child
		 * allocates nothing (see runner/init.c). */
		pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, NULL, &pidfd, NULL, NULL);
		if (pid == 0)
			init_main(&p);
		for (int i = 0; i < p.n_cg_fds; i++)
			close(p.cg_fds[i]);
		if (pid < 0) {
			error_errno(err, "create the namespaces of container '%s'", c->name);
			goto fail_pipes;
		}
	}
	c->pid = pid;
	c->pidfd = pidfd;
	close(status[1]);
	close(life[0]);
	c->lifeline_w = life[1];
	rc = read_report(c, status[0], err);
	close(status[0]);
	if (rc < 0) {
		reap(c);
		goto fail;
	}
	c->stop_efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	*out = c;
	return 0;

fail_pipes:
	for (int i = 0; i < 2; i++) {
		if (status[i] >= 0)
			close(status[i]);
		if (life[i] >= 0)
			close(life[i]);
	}
fail:
	free_partial(c);
	return -1;
}

void container_stop(struct container *c)
{
	uint64_t one = 1;

	if (!c)
		return;
	atomic_store(&c->stopped, 1);
	cgroup_kill_all(c->cg);
	if (c->stop_efd >= 0 && write(c->stop_efd, &one, sizeof(one)) < 0) {
		/* already signalled */
	}
}

static void fill_usage(struct container *c, struct container_result *r)
{
	struct cgroup_usage u;

	if (cgroup_stats(c->cg, &u, NULL) < 0)
		return;
	r->cpu_user_us = u.cpu_user_us;
	r->cpu_system_us = u.cpu_system_us;
	r->memory_peak_bytes = u.memory_peak_bytes;
	r->io_read_bytes = u.io_read_bytes;
	r->io_write_bytes = u.io_write_bytes;
	r->oom_killed = u.oom_kills > 0;
	r->pids_limit_hit = u.pids_max_hits > 0;
	r->memory_limit = c->memory_limit;
}

int container_sample(struct container *c, struct container_result *now, struct error **err)
{
	memset(now, 0, sizeof(*now));
	now->wall_ms = now_ms() - c->started_ms;
	fill_usage(c, now);
	(void)err;
	return 0;
}

int container_wait(struct container *c, struct container_result *res, struct error **err)
{
	bool timed_out = false;
	int st;

	memset(res, 0, sizeof(*res));
	if (c->waited)
		return error_set(err, EXIT_INTERNAL, "container '%s' was waited for already",
				 c->name);
	while (!c->reaped) {
		struct pollfd pfd[2] = {{c->pidfd, POLLIN, 0}, {c->stop_efd, POLLIN, 0}};
		int timeout = -1, n;

		if (c->timeout_ms && !timed_out) {
			uint64_t el = now_ms() - c->started_ms;

			timeout = el >= c->timeout_ms ? 0 : (int)(c->timeout_ms - el);
		}
		n = poll(pfd, c->stop_efd >= 0 ? 2 : 1, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return error_errno(err, "wait for container '%s'", c->name);
		}
		if (n == 0) { /* the timeout */
			timed_out = true;
			cgroup_kill_all(c->cg);
			continue;
		}
		if (pfd[0].revents) {
			reap(c);
			break;
		}
		if (pfd[1].revents) {
			uint64_t v;

			if (read(c->stop_efd, &v, sizeof(v)) < 0) {
				/* drained already */
			}
			cgroup_kill_all(c->cg);
		}
	}
	c->waited = true;
	res->wall_ms = now_ms() - c->started_ms;
	/* What is left of the container (orphans of a daemonizing command) goes now: the
	 * container ends with its command. */
	if (!cgroup_is_empty(c->cg))
		cgroup_kill_all(c->cg);
	if (c->shared->cmd_done) {
		st = c->shared->cmd_status;
	} else {
		st = c->status;
	}
	if (WIFSIGNALED(st)) {
		res->signal = WTERMSIG(st);
		res->exit_code = 128 + res->signal;
	} else {
		res->exit_code = WEXITSTATUS(st);
	}
	fill_usage(c, res);
	res->timed_out = timed_out;
	res->stopped = atomic_load(&c->stopped) && !timed_out;
	res->exec_errno = c->exec_errno;
	if (c->exec_errno)
		res->exit_code = c->exec_errno == ENOENT ? 127 : 126;
	return 0;
}

static bool in_lower(struct container *c, const char *rel)
{
	char p[PATH_MAX];
	struct stat st;

	for (size_t i = 0; c->lowers[i]; i++) {
		snprintf(p, sizeof(p), "%s%s", c->lowers[i], rel);
		if (lstat(p, &st) == 0)
			return true;
	}
	return false;
}

/* Removes the mount point rel (and parents made for it) from the upper dir when the image
 * did not have it and nothing was put in it. */
static void tidy_mount_point(struct container *c, const char *upper, const char *mp)
{
	char rel[PATH_MAX], p[PATH_MAX];
	struct stat st;

	snprintf(rel, sizeof(rel), "%s", mp);
	while (rel[0] == '/' && rel[1]) {
		char *slash;

		snprintf(p, sizeof(p), "%s%s", upper, rel);
		if (lstat(p, &st) == 0) {
			if (in_lower(c, rel))
				return;
			if (S_ISDIR(st.st_mode)
				? rmdir(p) < 0
				: !S_ISREG(st.st_mode) || st.st_size || unlink(p) < 0)
				return;
		}
		slash = strrchr(rel, '/');
		if (!slash || slash == rel)
			return;
		*slash = '\0';
	}
}

int container_upper_dir(struct container *c, char **out, struct error **err)
{
	cleanup_free char *upper = path_join(c->dir, "upper");

	if (!upper)
		return error_errno(err, "allocate");
	if (!c->reaped)
		return error_set(err, EXIT_INTERNAL, "container '%s' still runs", c->name);
	for (size_t i = 0; c->mpoints[i]; i++)
		tidy_mount_point(c, upper, c->mpoints[i]);
	*out = steal_pointer(&upper);
	return 0;
}

void container_free(struct container *c)
{
	if (!c)
		return;
	if (!c->reaped) {
		cgroup_kill_all(c->cg);
		reap(c);
	}
	free_partial(c);
}

int container_run(struct container_host *h, const struct container_spec *spec,
		  struct container_result *res, struct error **err)
{
	struct container *c;
	int rc;

	if (container_start(h, spec, &c, err) < 0)
		return -1;
	rc = container_wait(c, res, err);
	container_free(c);
	return rc;
}

int container_netns_create(int *fd, struct error **err)
{
	cleanup_close int old = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	int rc = 0;

	if (old < 0)
		return error_errno(err, "open the current network namespace");
	if (unshare(CLONE_NEWNET) < 0)
		return error_errno(err, "create a network namespace");
	if (init_loopback_up() < 0)
		rc = error_errno(err, "bring loopback up");
	else if ((*fd = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) < 0)
		rc = error_errno(err, "open the new network namespace");
	if (setns(old, CLONE_NEWNET) < 0) {
		/* This thread is stuck in the new namespace: nothing sane is left to do. */
		abort();
	}
	return rc;
}

/* --- stale containers ------------------------------------------------------------------- */

struct stale_ctx {
	struct container_host *h;
	void (*report)(const char *what, const char *id, void *arg);
	void *arg;
	int count;
	struct error **err;
	const char *only_id; /* only the cgroups of this container */
};

/* "<pid>.<starttime>-<16 hex digits>", as container_start names them. */
static bool is_cgroup_name(const char *name)
{
	const char *p = name;
	size_t n;

	n = strspn(p, "0123456789");
	if (!n || p[n] != '.')
		return false;
	p += n + 1;
	n = strspn(p, "0123456789");
	if (!n || p[n] != '-')
		return false;
	p += n + 1;
	return strlen(p) == 16 && strspn(p, "0123456789abcdef") == 16;
}

static int stale_cgroup(const char *name, void *arg)
{
	struct stale_ctx *x = arg;
	char owner[48];
	const char *dash = strchr(name, '-');
	int rc;

	if (!dash || (size_t)(dash - name) >= sizeof(owner) || !is_cgroup_name(name))
		return 0; /* not a container's: someone else's cgroup */
	if (x->only_id && strcmp(dash + 1, x->only_id))
		return 0;
	memcpy(owner, name, (size_t)(dash - name));
	owner[dash - name] = '\0';
	if (owner_alive(owner))
		return 0;
	rc = cgroup_remove_stale(&x->h->cg, name, x->err);
	if (rc < 0)
		return -1;
	if (rc > 0) {
		x->count++;
		if (x->report)
			x->report("cgroup", name, x->arg);
	}
	return 0;
}

static int cleanup_stale(struct container_host *h, bool full,
			 void (*report)(const char *what, const char *id, void *arg), void *arg,
			 struct error **err)
{
	struct stale_ctx x = {h, report, arg, 0, err, NULL};
	cleanup_closedir DIR *d = opendir(h->containers_dir);
	struct dirent *e;

	while (d && (e = readdir(d))) {
		cleanup_free char *dir = NULL;
		struct stat st;

		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		dir = path_join(h->containers_dir, e->d_name);
		if (!dir)
			return error_errno(err, "allocate");
		if (!strncmp(e->d_name, ".new-", 5)) {
			/* Being made right now, or left by a crash in between: wait a minute. */
			if (lstat(dir, &st) < 0 || time(NULL) - st.st_mtime < 60)
				continue;
		} else if (e->d_name[0] == '.') {
			continue;
		} else {
			cleanup_close int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

			if (fd < 0 || flock(fd, LOCK_EX | LOCK_NB) < 0)
				continue; /* locked: its owner lives */
		}
		if (rm_rf(dir, err) < 0)
			return error_wrap(err, "remove stale container '%s'", e->d_name);
		x.count++;
		if (report)
			report("container", e->d_name, arg);
		if (!full && e->d_name[0] != '.') {
			x.only_id = e->d_name;
			if (cgroup_list_children(&h->cg, stale_cgroup, &x, err) < 0)
				return -1;
			x.only_id = NULL;
		}
	}
	if (full && cgroup_list_children(&h->cg, stale_cgroup, &x, err) < 0)
		return -1;
	return x.count;
}

int container_cleanup_stale_report(struct container_host *h,
				   void (*report)(const char *what, const char *id, void *arg),
				   void *arg, struct error **err)
{
	return cleanup_stale(h, true, report, arg, err);
}

int container_cleanup_stale_quick(struct container_host *h, struct error **err)
{
	return cleanup_stale(h, false, NULL, NULL, err);
}

int container_cleanup_stale(struct container_host *h, struct error **err)
{
	return container_cleanup_stale_report(h, NULL, NULL, err);
}
