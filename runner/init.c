/* runner/init.c — inside the container: set up the root, then be a tiny pid 1 for the command.
 *
 * Runs in the child of clone() in a possibly multi-threaded slipway, so it allocates nothing
 * (no malloc, no stdio): everything it needs was prepared by the parent in an init_plan, paths
 * are built in stack buffers. Paths inside the new root are resolved with openat2(
 * RESOLVE_IN_ROOT) and mounted on through /proc/self/fd, so a symlink in an image can never
 * send a mount (or a mkdir) outside the root. */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "runner/caps.h"
#include "runner/init.h"
#include "runner/passwd.h"

#define FILE_CAP (256 * 1024)

static const struct init_plan *plan;

/* Reports to the parent and ends the child. */
__attribute__((format(printf, 3, 4))) static _Noreturn void die(int stage, int errnum,
								const char *fmt, ...)
{
	struct init_report r;
	va_list ap;

	memset(&r, 0, sizeof(r));
	r.stage = stage;
	r.errnum = errnum;
	va_start(ap, fmt);
	vsnprintf(r.msg, sizeof(r.msg), fmt, ap);
	va_end(ap);
	if (write(plan->status_w, &r, sizeof(r)) < 0) {
		/* nobody to tell */
	}
	_exit(stage == INIT_STAGE_EXEC ? (errnum == ENOENT ? 127 : 126) : 125);
}

#define die_errno(...) die(INIT_STAGE_SETUP, errno, __VA_ARGS__)

static int open_in_root(int root, const char *path, int flags)
{
	struct open_how how = {
	    .flags = (uint64_t)(flags | O_CLOEXEC),
	    .resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};

	while (*path == '/')
		path++;
	if (!*path)
		path = ".";
	return (int)syscall(SYS_openat2, root, path, &how, sizeof(how));
}

/* mkdir -p of path inside root; the last component is a file when as_file. Returns an O_PATH
 * fd of it. */
static int make_in_root(int root, const char *path, bool as_file, mode_t mode)
{
	char buf[4096], *p;
	int fd;

	fd = open_in_root(root, path, O_PATH);
	if (fd >= 0)
		return fd;
	if (strlen(path) >= sizeof(buf)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(buf, path);
	for (p = buf; *p == '/'; p++)
		;
	for (;;) {
		char *slash = strchr(p, '/');
		bool last;
		int dfd, rc;

		if (slash)
			*slash = '\0';
		last = !slash || !slash[1];
		/* The parent resolved in root, then a plain mkdirat / openat of one name. */
		{
			char *base = strrchr(buf, '/');
			char saved = 0;

			if (base && base > buf) {
				saved = *base;
				*base = '\0';
				dfd = open_in_root(root, buf, O_PATH | O_DIRECTORY);
				*base = saved;
				base++;
			} else {
				dfd = open_in_root(root, "/", O_PATH | O_DIRECTORY);
				base = buf[0] == '/' ? buf + 1 : buf;
			}
			if (dfd < 0)
				return -1;
			if (last && as_file) {
				rc = openat(dfd, base, O_CREAT | O_WRONLY | O_NOFOLLOW | O_CLOEXEC,
					    mode);
				if (rc >= 0)
					close(rc);
				else if (errno == EEXIST)
					rc = 0;
			} else {
				rc = mkdirat(dfd, base, mode);
				if (rc < 0 && errno == EEXIST)
					rc = 0;
			}
			close(dfd);
			if (rc < 0)
				return -1;
		}
		if (last)
			break;
		*slash = '/';
		p = slash + 1;
	}
	return open_in_root(root, path, O_PATH);
}

static void fd_path(char *buf, size_t len, int fd)
{
	snprintf(buf, len, "/proc/self/fd/%d", fd);
}

/* Makes the mount now on path read-only (reopened: an fd taken before the mount refers to
 * what is under it). */
static void remount_ro(int root, const char *path, unsigned long rec)
{
	char target[64];
	int fd = open_in_root(root, path, O_PATH | O_NOFOLLOW);

	if (fd < 0)
		die_errno("open '%s'", path);
	fd_path(target, sizeof(target), fd);
	if (mount(NULL, target, NULL, MS_REMOUNT | MS_BIND | MS_RDONLY | rec, NULL) < 0)
		die_errno("make '%s' read-only", path);
	close(fd);
}

/* Mounts onto path in root, creating it (a directory, or a file when as_file). */
static void mount_in_root(int root, const char *path, bool as_file, const char *src,
			  const char *type, unsigned long flags, const char *data)
{
	char target[64];
	int fd = make_in_root(root, path, as_file, as_file ? 0644 : 0755);

	if (fd < 0)
		die_errno("create mount point '%s'", path);
	fd_path(target, sizeof(target), fd);
	if (mount(src, target, type, flags, data) < 0)
		die_errno("mount %s on '%s'", type ? type : src, path);
	close(fd);
	if ((flags & MS_BIND) && (flags & MS_RDONLY))
		remount_ro(root, path, flags & MS_REC);
}

static void make_dev(int root)
{
	static const struct {
		const char *name;
		unsigned maj, min;
	} nodes[] = {{"null", 1, 3},   {"zero", 1, 5},	  {"full", 1, 7},
		     {"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0}};
	static const char *const links[][2] = {
	    {"/proc/self/fd", "fd"},	   {"/proc/self/fd/0", "stdin"},
	    {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"},
	    {"pts/ptmx", "ptmx"},	   {"/proc/kcore", "core"},
	};
	int dev;

	mount_in_root(root, "/dev", false, "tmpfs", "tmpfs", MS_NOSUID | MS_STRICTATIME,
		      "mode=755,size=65536k");
	dev = open_in_root(root, "/dev", O_PATH | O_DIRECTORY);
	if (dev < 0)
		die_errno("open /dev");
	for (size_t i = 0; i < ARRAY_SIZE(nodes); i++)
		if (mknodat(dev, nodes[i].name, S_IFCHR | 0666,
			    makedev(nodes[i].maj, nodes[i].min)) < 0 ||
		    fchmodat(dev, nodes[i].name, 0666, 0) < 0)
			die_errno("create /dev/%s", nodes[i].name);
	for (size_t i = 0; i < ARRAY_SIZE(links); i++)
		if (symlinkat(links[i][0], dev, links[i][1]) < 0)
			die_errno("create /dev/%s", links[i][1]);
	close(dev);
	mount_in_root(root, "/dev/pts", false, "devpts", "devpts", MS_NOSUID | MS_NOEXEC,
		      "newinstance,ptmxmode=0666,mode=0620,gid=5");
	mount_in_root(root, "/dev/shm", false, "shm", "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC,
		      "mode=1777,size=65536k");
	mount_in_root(root, "/dev/mqueue", false, "mqueue", "mqueue",
		      MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
}

/* Docker's masked and read-only paths. */
static void mask_paths(int root)
{
	static const char *const masked[] = {
	    "/proc/asound",
	    "/proc/acpi",
	    "/proc/kcore",
	    "/proc/keys",
	    "/proc/latency_stats",
	    "/proc/timer_list",
	    "/proc/timer_stats",
	    "/proc/sched_debug",
	    "/proc/scsi",
	    "/sys/firmware",
	    "/sys/devices/virtual/powercap",
	};
	static const char *const readonly[] = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
					       "/proc/sysrq-trigger"};
	char target[64];

	for (size_t i = 0; i < ARRAY_SIZE(masked); i++) {
		struct stat st;
		int fd = open_in_root(root, masked[i], O_PATH | O_NOFOLLOW);

		if (fd < 0)
			continue;
		fd_path(target, sizeof(target), fd);
		if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
			if (mount("tmpfs", target, "tmpfs", MS_RDONLY, "size=0") < 0)
				die_errno("mask '%s'", masked[i]);
		} else if (mount("/dev/null", target, NULL, MS_BIND, NULL) < 0) {
			die_errno("mask '%s'", masked[i]);
		}
		close(fd);
	}
	for (size_t i = 0; i < ARRAY_SIZE(readonly); i++) {
		int fd = open_in_root(root, readonly[i], O_PATH | O_NOFOLLOW);

		if (fd < 0)
			continue;
		fd_path(target, sizeof(target), fd);
		if (mount(target, target, NULL, MS_BIND | MS_REC, NULL) < 0)
			die_errno("bind '%s'", readonly[i]);
		close(fd);
		remount_ro(root, readonly[i], MS_REC);
	}
}

static void bind_volumes(int root)
{
	const struct container_spec *s = plan->spec;
	char src[PATH_MAX];

	for (size_t i = 0; i < s->n_mounts; i++) {
		struct stat st;

		if (stat(s->mounts[i].source, &st) < 0)
			die_errno("volume '%s'", s->mounts[i].source);
		snprintf(src, sizeof(src), "%s", s->mounts[i].source);
		mount_in_root(root, s->mounts[i].target, !S_ISDIR(st.st_mode), src, NULL,
			      MS_BIND | MS_REC | (s->mounts[i].read_only ? MS_RDONLY : 0), NULL);
	}
	for (size_t i = 0; i < s->n_tmpfs; i++) {
		char data[64] = "mode=1777";

		if (s->tmpfs[i].size)
			snprintf(data, sizeof(data), "mode=1777,size=%llu",
				 (unsigned long long)s->tmpfs[i].size);
		mount_in_root(root, s->tmpfs[i].target, false, "tmpfs", "tmpfs",
			      MS_NOSUID | MS_NODEV, data);
	}
}

/* /etc/hosts, hostname and resolv.conf of this container: files of a detached tmpfs (never
 * on disk, gone with the mount namespace), each bind-mounted over the root's. */
static void bind_etc(int root)
{
	const char *const files[][2] = {{"hosts", plan->etc_hosts},
					{"hostname", plan->etc_hostname},
					{"resolv.conf", plan->etc_resolv}};
	int fs, mnt;

	fs = fsopen("tmpfs", FSOPEN_CLOEXEC);
	if (fs < 0)
		die_errno("create the /etc files");
	if (fsconfig(fs, FSCONFIG_SET_STRING, "size", "1m", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_SET_STRING, "mode", "0755", 0) < 0 ||
	    fsconfig(fs, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0)
		die_errno("create the /etc files");
	mnt =
	    fsmount(fs, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
	if (mnt < 0)
		die_errno("mount the /etc files");
	close(fs);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		const char *text = files[i][1] ? files[i][1] : "";
		size_t len = strlen(text);
		char dst[64];
		int fd, tree, target;

		fd = openat(mnt, files[i][0], O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
		if (fd < 0 || write(fd, text, len) != (ssize_t)len)
			die_errno("write /etc/%s", files[i][0]);
		close(fd);
		snprintf(dst, sizeof(dst), "/etc/%s", files[i][0]);
		target = make_in_root(root, dst, true, 0644);
		if (target < 0)
			die_errno("create '%s'", dst);
		tree = open_tree(mnt, files[i][0], OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
		if (tree < 0 || move_mount(tree, "", target, "",
					   MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0)
			die_errno("mount '%s'", dst);
		close(tree);
		close(target);
	}
	close(mnt);
}

int init_loopback_up(void)
{
	struct ifreq ifr;
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc;

	if (s < 0)
		return -1;
	memset(&ifr, 0, sizeof(ifr));
	strcpy(ifr.ifr_name, "lo");
	rc = ioctl(s, SIOCGIFFLAGS, &ifr);
	if (rc == 0) {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		rc = ioctl(s, SIOCSIFFLAGS, &ifr);
	}
	close(s);
	return rc;
}

/* Closes every fd but those in keep (small, any order). */
static void close_others(const int *keep, int n)
{
	int sorted[16], m = 0, lo = 3;

	for (int i = 0; i < n && m < 16; i++)
		if (keep[i] > 2)
			sorted[m++] = keep[i];
	for (int i = 1; i < m; i++)
		for (int j = i; j > 0 && sorted[j - 1] > sorted[j]; j--) {
			int t = sorted[j];

			sorted[j] = sorted[j - 1];
			sorted[j - 1] = t;
		}
	for (int i = 0; i < m; i++) {
		if (sorted[i] > lo)
			close_range((unsigned)lo, (unsigned)sorted[i] - 1, 0);
		lo = sorted[i] + 1;
	}
	close_range((unsigned)lo, ~0U, 0);
}

static void setup_root(void)
{
	const struct container_spec *s = plan->spec;
	int root;

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		die_errno("make the mounts private");
	if (plan->overlay_chdir && chdir(plan->overlay_chdir) < 0)
		die_errno("enter '%s'", plan->overlay_chdir);
	if (mount("overlay", plan->mount_at, "overlay", 0, plan->overlay_opts) < 0)
		die_errno("mount the overlay root");
	root = open(plan->mount_at, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (root < 0)
		die_errno("open the root");
	mount_in_root(root, "/proc", false, "proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	make_dev(root);
	mount_in_root(root, "/sys", false, "sysfs", "sysfs",
		      MS_NOSUID | MS_NODEV | MS_NOEXEC | MS_RDONLY, NULL);
	bind_etc(root);
	bind_volumes(root);
	mask_paths(root);
	if (s->workdir) {
		int fd = make_in_root(root, s->workdir, false, 0755);

		if (fd < 0)
			die_errno("create the working directory '%s'", s->workdir);
		close(fd);
	}
	if (fchdir(root) < 0)
		die_errno("enter the root");
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		die_errno("pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		die_errno("detach the old root");
	if (chdir("/") < 0)
		die_errno("chdir /");
	close(root);
	if (s->read_only && mount(NULL, "/", NULL, MS_REMOUNT | MS_BIND | MS_RDONLY, NULL) < 0)
		die_errno("make the root read-only");
}

/* Reads a small file of the container into an anonymous mapping (NULL when missing). */
static char *slurp(const char *path)
{
	char *buf;
	ssize_t n, len = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	buf = mmap(NULL, FILE_CAP, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED) {
		close(fd);
		return NULL;
	}
	while (len < FILE_CAP - 1 && (n = read(fd, buf + len, (size_t)(FILE_CAP - 1 - len))) > 0)
		len += n;
	buf[len] = '\0';
	close(fd);
	return buf;
}

static void resolve_user(struct passwd_user *u)
{
	const char *user = plan->spec->user;
	char *pw, *gr;

	memset(u, 0, sizeof(*u));
	strcpy(u->home, "/root");
	u->ngroups = 1; /* group 0 */
	if (!user || !*user)
		return;
	pw = slurp("/etc/passwd");
	gr = slurp("/etc/group");
	if (passwd_resolve(user, pw, gr, u) < 0)
		die(INIT_STAGE_INPUT, 0, "unable to find user '%s' in the container's /etc/passwd",
		    user);
	if (pw)
		munmap(pw, FILE_CAP);
	if (gr)
		munmap(gr, FILE_CAP);
}

/* execve argv[0] in each directory of PATH (when it has no '/'). Returns the most telling
 * errno. */
static int exec_command(char *const *argv, char *const *env)
{
	const char *path = plan->path, *p;
	char full[PATH_MAX];
	int best = ENOENT;

	if (strchr(argv[0], '/')) {
		execve(argv[0], argv, env);
		return errno;
	}
	for (p = path; p;) {
		const char *colon = strchr(p, ':');
		size_t len = colon ? (size_t)(colon - p) : strlen(p);

		if (len == 0)
			len = 1, p = ".";
		if (snprintf(full, sizeof(full), "%.*s/%s", (int)len, p, argv[0]) <
		    (int)sizeof(full)) {
			execve(full, argv, env);
			if (errno != ENOENT && errno != ENOTDIR)
				best = errno;
		}
		p = colon ? colon + 1 : NULL;
	}
	return best;
}

static void redirect(int from, int to, const char *what)
{
	if (from < 0) {
		from = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (from < 0)
			die_errno("open /dev/null for %s", what);
	}
	if (from == to) {
		int flags = fcntl(from, F_GETFD);

		fcntl(from, F_SETFD, flags & ~FD_CLOEXEC);
	} else if (dup2(from, to) < 0) {
		die_errno("redirect %s", what);
	}
}

struct command_args {
	const struct passwd_user *u;
	const sigset_t *none;
	char *const *env;
};

static int command_main(void *arg)
{
	const struct passwd_user *u = ((struct command_args *)arg)->u;
	const sigset_t *none = ((struct command_args *)arg)->none;
	const struct container_spec *s = plan->spec;
	int in = s->stdin_fd, out = s->stdout_fd, errfd = s->stderr_fd, e;

	sigprocmask(SIG_SETMASK, none, NULL);
	setsid();
	/* Move the fds out of the way of 0-2 before dup2 so none overwrites another. */
	if (in >= 0 && in <= 2)
		in = fcntl(in, F_DUPFD_CLOEXEC, 3);
	if (out >= 0 && out <= 2)
		out = fcntl(out, F_DUPFD_CLOEXEC, 3);
	if (errfd >= 0 && errfd <= 2)
		errfd = fcntl(errfd, F_DUPFD_CLOEXEC, 3);
	redirect(in, 0, "stdin");
	redirect(out, 1, "stdout");
	redirect(errfd, 2, "stderr");
	/* Raw system calls: glibc's wrappers would try to change every thread of the parent,
	 * which do not exist here. */
	if (syscall(SYS_setgroups, (size_t)u->ngroups, u->groups) < 0)
		die_errno("set the supplementary groups");
	if (syscall(SYS_setresgid, u->gid, u->gid, u->gid) < 0)
		die_errno("set gid %u", (unsigned)u->gid);
	if (syscall(SYS_setresuid, u->uid, u->uid, u->uid) < 0)
		die_errno("set uid %u", (unsigned)u->uid);
	if (caps_set(u->uid == 0 ? plan->caps : 0) < 0)
		die_errno("set the capabilities");
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		die_errno("set no_new_privs");
	if (chdir(s->workdir ? s->workdir : "/") < 0)
		die(INIT_STAGE_EXEC, errno, "enter the working directory '%s'",
		    s->workdir ? s->workdir : "/");
	if (plan->seccomp && syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, plan->seccomp) < 0)
		die_errno("load the seccomp filter");
	e = exec_command(s->argv, ((struct command_args *)arg)->env);
	die(INIT_STAGE_EXEC, e, "%s", s->argv[0]);
}

static bool env_has(char *const *env, const char *key)
{
	size_t kl = strlen(key);

	for (size_t i = 0; env[i]; i++)
		if (!strncmp(env[i], key, kl) && env[i][kl] == '=')
			return true;
	return false;
}

/* The command's environment: the spec's, plus HOME (from the user's passwd entry) and
 * HOSTNAME when it does not set them, as Docker does. */
static char *const *command_env(const struct passwd_user *u, char **buf, char *home, size_t hlen,
				char *host, size_t slen)
{
	size_t n = 0;

	for (; plan->env[n] && n < INIT_ENV_MAX; n++)
		buf[n] = plan->env[n];
	buf[n] = NULL;
	if (!env_has(buf, "HOME")) {
		snprintf(home, hlen, "HOME=%s", u->home);
		buf[n++] = home;
		buf[n] = NULL;
	}
	if (!env_has(buf, "HOSTNAME")) {
		snprintf(host, slen, "HOSTNAME=%s", plan->hostname);
		buf[n++] = host;
	}
	buf[n] = NULL;
	return buf;
}

/* pid 1: reap everything, forward signals to the command, end with its status. */
static _Noreturn void init_loop(pid_t cmd, int sfd)
{
	struct pollfd pfd[2] = {{sfd, POLLIN, 0}, {plan->lifeline_r, POLLIN, 0}};

	for (;;) {
		struct signalfd_siginfo si;
		int status;
		pid_t pid;

		if (poll(pfd, plan->lifeline_r >= 0 ? 2 : 1, -1) < 0 && errno != EINTR)
			_exit(125);
		if (plan->lifeline_r >= 0 && pfd[1].revents) {
			/* slipway is gone: nobody will wait for us. */
			kill(-1, SIGKILL);
			_exit(137);
		}
		if (!(pfd[0].revents & POLLIN) || read(sfd, &si, sizeof(si)) != sizeof(si))
			continue;
		if (si.ssi_signo != SIGCHLD) {
			kill(cmd, (int)si.ssi_signo);
			continue;
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid != cmd)
				continue;
			plan->shared->cmd_status = status;
			plan->shared->cmd_done = 1;
			/* The rest of the namespace dies with us. */
			_exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		}
	}
}

_Noreturn void init_main(const struct init_plan *p)
{
	const struct container_spec *s = p->spec;
	int keep[16], nkeep = 0, sfd;
	char *envbuf[INIT_ENV_MAX + 3], home[300], host[128];
	char *const *env;
	struct passwd_user u;
	sigset_t all, none;
	pid_t cmd;

	plan = p;
	keep[nkeep++] = p->status_w;
	keep[nkeep++] = p->lifeline_r;
	keep[nkeep++] = p->netns_fd;
	keep[nkeep++] = s->stdin_fd;
	keep[nkeep++] = s->stdout_fd;
	keep[nkeep++] = s->stderr_fd;
	for (int i = 0; i < p->n_cg_fds; i++)
		keep[nkeep++] = p->cg_fds[i];
	close_others(keep, nkeep);

	if (cgroup_join_fds(p->cg_fds, p->n_cg_fds) < 0)
		die_errno("join the cgroup");
	for (int i = 0; i < p->n_cg_fds; i++)
		close(p->cg_fds[i]);
	if (unshare(CLONE_NEWCGROUP) < 0)
		die_errno("create the cgroup namespace");
	if (p->netns_fd >= 0) {
		if (setns(p->netns_fd, CLONE_NEWNET) < 0)
			die_errno("join the network namespace");
		close(p->netns_fd);
	} else if (p->new_net && init_loopback_up() < 0) {
		die_errno("bring loopback up");
	}
	setup_root();
	if (sethostname(p->hostname, strlen(p->hostname)) < 0)
		die_errno("set the hostname");
	resolve_user(&u);
	env = command_env(&u, envbuf, home, sizeof(home), host, sizeof(host));
	if (caps_drop_bounding(p->caps, p->last_cap) < 0)
		die_errno("drop capabilities");

	sigemptyset(&none);
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	sfd = signalfd(-1, &all, SFD_CLOEXEC);
	if (sfd < 0)
		die_errno("signalfd");
	/* Like vfork: the command shares init's memory until it execs (no page tables to copy),
	 * on a stack of its own. Not fork(): its at-fork handlers take locks another thread of
	 * slipway may have held when we were cloned. */
	{
		struct command_args a = {&u, &none, env};
		size_t stack_size = 256 * 1024;
		char *stack = mmap(NULL, stack_size, PROT_READ | PROT_WRITE,
				   MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);

		if (stack == MAP_FAILED)
			die_errno("allocate the command's stack");
		cmd = clone(command_main, stack + stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
		if (cmd < 0)
			die_errno("start the command");
		munmap(stack, stack_size);
	}
	close(p->status_w);
	/* init keeps only what it needs to signal the command. */
	{
		int in = open("/dev/null", O_RDWR | O_CLOEXEC);

		if (in >= 0) {
			dup2(in, 0);
			dup2(in, 1);
			dup2(in, 2);
			close(in);
		}
		if (s->stdin_fd > 2)
			close(s->stdin_fd);
		if (s->stdout_fd > 2)
			close(s->stdout_fd);
		if (s->stderr_fd > 2)
			close(s->stderr_fd);
	}
	caps_set(UINT64_C(1) << 5 /* CAP_KILL */);
	prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
	init_loop(cmd, sfd);
}
