/* runner/exec.c — run a command inside a live container: join its cgroups and namespaces,
 * then confine it as the container's own command is (caps, no_new_privs, seccomp). */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/seccomp.h>

#include "lib/cleanup.h"
#include "lib/fs.h"
#include "runner/caps.h"
#include "runner/cgroup.h"
#include "runner/exec.h"
#include "runner/passwd.h"
#include "runner/seccomp.h"

#define ENV_MAX (1u << 20)
#define MAX_CGROUPS 16

static const char *const ns_names[] = {"cgroup", "ipc", "uts", "net", "pid", "mnt"};
#define N_NS (sizeof(ns_names) / sizeof(ns_names[0]))

/* The container's command: the first child of its init. */
static pid_t first_child(pid_t init)
{
	char path[64];
	cleanup_free char *data = NULL;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)init, (int)init);
	if (read_file(path, 4096, &data, &len, NULL) < 0)
		return -1;
	return (pid_t)strtol(data, NULL, 10);
}

/* environ of pid as a NULL-terminated array pointing into *data (caller frees both). */
static char **read_environ(pid_t pid, char **data)
{
	char path[64];
	size_t len, n = 0;
	char **v;

	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	if (read_file(path, ENV_MAX, data, &len, NULL) < 0)
		return NULL;
	for (size_t i = 0; i < len; i++)
		n += (*data)[i] == '\0';
	v = calloc(n + 2, sizeof(*v));
	if (!v)
		return NULL;
	n = 0;
	for (size_t i = 0; i < len; i += strlen(*data + i) + 1)
		if ((*data)[i])
			v[n++] = *data + i;
	return v;
}

/* The cgroup dirs (on this host's mounts) that pid is in, one per hierarchy. */
static int cgroup_dirs(pid_t pid, char **dirs, size_t *n, struct error **err)
{
	struct cgroup_host h = {0};
	char path[64];
	cleanup_free char *data = NULL;
	char *save = NULL;
	size_t len;

	*n = 0;
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	if (read_file(path, 64 * 1024, &data, &len, err) < 0 || cgroup_host_detect(&h, err) < 0)
		return -1;
	for (char *line = strtok_r(data, "\n", &save); line && *n < MAX_CGROUPS;
	     line = strtok_r(NULL, "\n", &save)) {
		char *ctls = strchr(line, ':'), *cgpath;
		const char *mount = NULL;

		if (!ctls || !(cgpath = strchr(ctls + 1, ':')))
			continue;
		*ctls++ = '\0';
		*cgpath++ = '\0';
		if (!*ctls) {
			mount = h.unified_mount;
		} else {
			for (int c = 0; c < CG_NCTL && !mount; c++) {
				const char *name = cgroup_ctl_name((enum cgroup_ctl)c, 0);
				size_t nl = name ? strlen(name) : 0;

				for (const char *p = ctls; name && p && *p;) {
					if (!strncmp(p, name, nl) && (p[nl] == ',' || !p[nl]) &&
					    h.ctl[c].mount && !h.ctl[c].v2)
						mount = h.ctl[c].mount;
					p = strchr(p, ',');
					p = p ? p + 1 : NULL;
				}
			}
		}
		if (!mount)
			continue;
		if (asprintf(&dirs[*n], "%s%s", mount, cgpath) < 0) {
			cgroup_host_release(&h);
			return error_errnum(err, ENOMEM, "cgroups of pid %d", (int)pid);
		}
		(*n)++;
	}
	cgroup_host_release(&h);
	return 0;
}

static void die(const char *what)
{
	fprintf(stderr, "slipway: exec: %s: %s\n", what, strerror(errno));
	_exit(126);
}

/* In the forked child: cgroups and namespaces, then a grandchild inside the pid namespace. */
static void child(const struct container_exec_opts *o, char **dirs, size_t n_dirs, const int *ns,
		  int cwd_fd, char **env, const struct passwd_user *pu,
		  const struct sock_fprog *prog)
{
	char pid[32];
	pid_t gc;
	int st;

	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	for (size_t i = 0; i < n_dirs; i++) {
		char procs[4096];
		int fd;

		snprintf(procs, sizeof(procs), "%s/cgroup.procs", dirs[i]);
		fd = open(procs, O_WRONLY | O_CLOEXEC);
		if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
			die("join the container's cgroup");
		close(fd);
	}
	for (size_t i = 0; i < N_NS; i++)
		if (setns(ns[i], 0) < 0)
			die("join the container's namespaces");
	gc = fork();
	if (gc < 0)
		die("fork");
	if (gc > 0) {
		signal(SIGINT, SIG_IGN);
		while (waitpid(gc, &st, 0) < 0)
			if (errno != EINTR)
				_exit(126);
		_exit(WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	}
	if (o->workdir ? chdir(o->workdir) < 0 : fchdir(cwd_fd) < 0)
		die(o->workdir ? o->workdir : "the container's working directory");
	if (caps_drop_bounding(caps_default(), caps_last_cap()) < 0)
		die("drop capabilities");
	if (setgroups((size_t)pu->ngroups, pu->groups) < 0 ||
	    setresgid(pu->gid, pu->gid, pu->gid) < 0 || setresuid(pu->uid, pu->uid, pu->uid) < 0)
		die("set the user");
	if (pu->uid == 0 && caps_set(caps_default()) < 0)
		die("set capabilities");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, prog, 0, 0) < 0)
		die("apply the seccomp filter");
	environ = env;
	execvp(o->argv[0], o->argv);
	fprintf(stderr, "slipway: exec: '%s': %s\n", o->argv[0], strerror(errno));
	_exit(errno == ENOENT ? 127 : 126);
}

int container_exec(pid_t init_pid, const struct container_exec_opts *o, int *status,
		   struct error **err)
{
	struct seccomp_cache *cache = NULL;
	const struct sock_fprog *prog = NULL;
	char *dirs[MAX_CGROUPS] = {NULL};
	size_t n_dirs = 0;
	int ns[N_NS];
	cleanup_close int cwd_fd = -1;
	cleanup_free char *env_data = NULL, *passwd = NULL, *group = NULL;
	cleanup_free char **env = NULL;
	struct passwd_user pu = {0};
	char path[128];
	size_t len, n_env = 0, n_extra = 0;
	pid_t cmd, pid;
	int r = -1, st;

	for (size_t i = 0; i < N_NS; i++)
		ns[i] = -1;
	cmd = first_child(init_pid);
	if (cmd <= 0)
		return error_failed(err, "the container of pid %d runs no command", (int)init_pid);
	env = read_environ(cmd, &env_data);
	if (!env)
		return error_errno(err, "read the environment of the container's command");
	for (; env[n_env]; n_env++)
		;
	for (char *const *e = o->env; e && *e; e++)
		n_extra++;
	if (n_extra) {
		char **all = realloc(env, (n_env + n_extra + 1) * sizeof(*all));

		if (!all)
			return error_errnum(err, ENOMEM, "exec");
		env = all;
		for (size_t i = 0; i < n_extra; i++)
			env[n_env++] = o->env[i];
		env[n_env] = NULL;
	}
	snprintf(path, sizeof(path), "/proc/%d/root/etc/passwd", (int)init_pid);
	read_file(path, 1u << 20, &passwd, &len, NULL);
	snprintf(path, sizeof(path), "/proc/%d/root/etc/group", (int)init_pid);
	read_file(path, 1u << 20, &group, &len, NULL);
	if (passwd_resolve(o->user ? o->user : "0", passwd, group, &pu) < 0)
		return error_usage(err, "no user '%s' in the container", o->user);
	snprintf(path, sizeof(path), "/proc/%d/cwd", (int)cmd);
	cwd_fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (cwd_fd < 0)
		return error_errno(err, "open the container's working directory");
	if (seccomp_default_program(&cache, o->data_dir, &prog, err) < 0)
		return -1;
	if (cgroup_dirs(init_pid, dirs, &n_dirs, err) < 0)
		goto out;
	for (size_t i = 0; i < N_NS; i++) {
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)init_pid, ns_names[i]);
		ns[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (ns[i] < 0) {
			error_errno(err, "open the container's %s namespace", ns_names[i]);
			goto out;
		}
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		error_errno(err, "fork");
		goto out;
	}
	if (pid == 0)
		child(o, dirs, n_dirs, ns, cwd_fd, env, &pu, prog);
	signal(SIGINT, SIG_IGN);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR) {
			error_errno(err, "wait for the command");
			goto out;
		}
	signal(SIGINT, SIG_DFL);
	*status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	r = 0;
out:
	for (size_t i = 0; i < N_NS; i++)
		if (ns[i] >= 0)
			close(ns[i]);
	for (size_t i = 0; i < n_dirs; i++)
		free(dirs[i]);
	seccomp_cache_free(cache);
	return r;
}
