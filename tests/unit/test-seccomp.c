/* tests/unit/test-seccomp.c — the default seccomp filter (runner/seccomp.c): loaded in a child,
 * it refuses what Docker's profile refuses and lets ordinary work through; the compiled
 * program is cached on disk and read back the same. */
#include <errno.h>
#include <fcntl.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/fs.h"
#include "runner/seccomp.h"
#include "tests/unit/tap.h"

/* In a child with the filter: each probe's errno, one byte each. */
static void probe(const struct sock_fprog *prog, unsigned char *out, int n)
{
	int pfd[2];
	pid_t pid;

	if (pipe(pfd) < 0)
		abort();
	pid = fork();
	if (pid == 0) {
		unsigned char r[16] = {0};
		int i = 0;

		close(pfd[0]);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, prog) < 0)
			_exit(99);
#define PROBE(call) (errno = 0, r[i++] = (call) < 0 ? (unsigned char)errno : 0)
		PROBE(mount("none", "/mnt", "tmpfs", 0, NULL));
		PROBE(umount2("/proc", MNT_DETACH));
		PROBE(unshare(CLONE_NEWNS));
		PROBE(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, NULL));
		PROBE(syscall(SYS_clone3, NULL, 0));
		PROBE(syscall(SYS_keyctl, 0, 0, 0, 0, 0));
		PROBE(syscall(SYS_bpf, 0, NULL, 0));
		PROBE(socket(40 /* AF_VSOCK */, SOCK_STREAM, 0));
		PROBE(syscall(SYS_pivot_root, "/", "/"));
		PROBE(syscall(SYS_setns, 0, 0));
		PROBE(syscall(SYS_userfaultfd, 0));
		/* allowed */
		PROBE(getpid());
		PROBE(socket(AF_UNIX, SOCK_STREAM, 0));
		{
			pid_t c = fork();

			if (c == 0)
				_exit(0);
			r[i++] = c < 0 ? (unsigned char)errno : 0;
			waitpid(c, NULL, 0);
		}
		if (write(pfd[1], r, (size_t)i) != i)
			_exit(98);
		_exit(0);
	}
	close(pfd[1]);
	memset(out, 0xff, (size_t)n);
	if (read(pfd[0], out, (size_t)n) != n)
		diag("the probe child failed");
	close(pfd[0]);
	waitpid(pid, NULL, 0);
}

int main(void)
{
	char dir[] = "/tmp/test-seccomp-XXXXXX", path[256];
	struct seccomp_cache *c1 = NULL, *c2 = NULL;
	const struct sock_fprog *p1, *p2;
	struct sock_fprog compiled;
	struct error *err = NULL;
	unsigned char r[14];
	const char *names[] = {
	    "mount", "umount2",	   "unshare", "clone(NEWUSER)", "clone3", "keyctl",	 "bpf",
	    "vsock", "pivot_root", "setns",   "userfaultfd",	"getpid", "unix socket", "fork"};
	const int want[] = {EPERM, EPERM, EPERM, EPERM, ENOSYS, EPERM, EPERM,
			    EPERM, EPERM, EPERM, EPERM, 0,	0,     0};

	plan_lazy();
	if (!mkdtemp(dir))
		return 1;
	ok(seccomp_compile(&compiled, &err) == 0 && compiled.len > 10, "compiles (%u insns)",
	   compiled.len);
	probe(&compiled, r, 14);
	for (int i = 0; i < 14; i++)
		is_int(r[i], want[i], "%s gives %s", names[i],
		       want[i] ? strerror(want[i]) : "success");

	{
		/* x32 system calls (another ABI on the same architecture) kill the process. */
		int st;
		pid_t pid = fork();

		if (pid == 0) {
			prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
			syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &compiled);
			syscall(0x40000000 | SYS_getpid);
			_exit(0);
		}
		waitpid(pid, &st, 0);
		ok(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS,
		   "an x32 system call is killed (SIGSYS)");
	}
	ok(seccomp_default_program(&c1, dir, &p1, &err) == 0 && p1, "the cached program");
	ok(p1->len == compiled.len &&
	       !memcmp(p1->filter, compiled.filter, compiled.len * sizeof(struct sock_filter)),
	   "is what compile gives");
	{
		const struct sock_fprog *again;

		ok(seccomp_default_program(&c1, dir, &again, &err) == 0 && again == p1,
		   "compiled once per process");
	}
	snprintf(path, sizeof(path), "%s/cache", dir);
	{
		struct stat st;
		char cmd[400];
		FILE *f;
		char name[256] = "";

		snprintf(cmd, sizeof(cmd), "ls %s", path);
		f = popen(cmd, "r");
		if (f && fgets(name, sizeof(name), f))
			name[strcspn(name, "\n")] = '\0';
		if (f)
			pclose(f);
		ok(!strncmp(name, "seccomp-", 8), "cached on disk as %s", name);
		snprintf(cmd, sizeof(cmd), "%s/%s", path, name);
		ok(stat(cmd, &st) == 0 &&
		       st.st_size == (off_t)(p1->len * sizeof(struct sock_filter)) &&
		       (st.st_mode & 0777) == 0600,
		   "its size is the program's, mode 0600");
	}
	ok(seccomp_default_program(&c2, dir, &p2, &err) == 0 && p2->len == p1->len &&
	       !memcmp(p2->filter, p1->filter, p1->len * sizeof(struct sock_filter)),
	   "another process reads the same program back");
	probe(p2, r, 14);
	is_int(r[0], EPERM, "the read-back program still refuses mount");
	seccomp_cache_free(c1);
	seccomp_cache_free(c2);
	free(compiled.filter);
	rm_rf(dir, NULL);
	return done_testing();
}
