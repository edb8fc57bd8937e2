/* runner/exec.h — a command run inside a live container (`slipway exec`), as `docker exec`.
 *
 * The command joins the namespaces (mount, pid, uts, ipc, net, cgroup) and the cgroups of the
 * container whose init has pid init_pid, and gets the same confinement as the container's
 * own command: Docker's default capabilities (none for a non-root user), no_new_privs and
 * the default seccomp filter. Its environment is the container command's, its working
 * directory the container command's unless given. It ends with the container: the pid
 * namespace's init kills it.
 */
#ifndef SLIPWAY_RUNNER_EXEC_H
#define SLIPWAY_RUNNER_EXEC_H

#include <sys/types.h>

#include "lib/error.h"

struct container_exec_opts {
	const char *data_dir; /* for the compiled seccomp filter */
	char *const *argv;    /* NULL-terminated */
	char *const *env;     /* extra K=V, NULL-terminated; may be NULL */
	const char *user;     /* "UID[:GID]" or NAME; NULL = root */
	const char *workdir;  /* NULL = the container command's */
};

/* Runs the command with this process's stdin, stdout and stderr and waits for it; *status
 * gets its exit status (128+N when killed by signal N). */
int container_exec(pid_t init_pid, const struct container_exec_opts *o, int *status,
		   struct error **err);

#endif
