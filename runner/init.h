/* runner/init.h — the container's side of container_start: what the parent prepares (an
 * init_plan, filled before clone so that the child allocates nothing), and the child's entry.
 *
 * The child becomes pid 1 of the new pid namespace: it joins the cgroup, sets up the root
 * (overlay, /proc, /dev, /sys, binds, masks), pivots into it, forks the command with the
 * container's user, capabilities, no_new_privs and seccomp filter, then reaps and forwards
 * signals until the command ends, and exits with its status. */
#ifndef SLIPWAY_RUNNER_INIT_H
#define SLIPWAY_RUNNER_INIT_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stdint.h>

#include "runner/cgroup.h"
#include "runner/container.h"

#define INIT_MSG_MAX 480
#define INIT_ENV_MAX 4096 /* variables of a container, at most */

/* What the child reports through the status pipe (nothing at all means the command was
 * exec'd). */
enum init_stage {
	INIT_STAGE_SETUP = 1, /* setting up the container failed: container_start fails */
	INIT_STAGE_EXEC = 2,  /* the command could not be started: exit 127 (ENOENT) or 126 */
	INIT_STAGE_INPUT = 3, /* the spec does not fit the root (no such user): exit 2 */
};

struct init_report {
	int stage;
	int errnum;
	char msg[INIT_MSG_MAX];
};

/* A page shared between the parent and init (MAP_SHARED): init's last words. */
struct init_shared {
	int cmd_status; /* the command's wait status */
	int cmd_done;
};

struct init_plan {
	const struct container_spec *spec;
	const char *mount_at;	   /* where the overlay is mounted (in the new mount namespace) */
	const char *overlay_opts;  /* the overlay mount data */
	const char *overlay_chdir; /* relative lower dirs are resolved against it, or NULL */
	const char *hostname;
	const char *etc_hosts, *etc_hostname, *etc_resolv; /* the files' contents */
	const char *path;				   /* the PATH argv[0] is looked up in */
	char *const *env;
	int cg_fds[CG_NCTL];
	int n_cg_fds;
	int status_w;	/* write end of the status pipe (O_CLOEXEC) */
	int lifeline_r; /* read end: hangs up when the slipway process is gone */
	bool new_net;	/* loopback up in the new net namespace */
	int netns_fd;	/* join this one (CONTAINER_NET_JOIN), else -1 */
	uint64_t caps;
	int last_cap;
	const struct sock_fprog *seccomp; /* NULL = none */
	struct init_shared *shared;
};

/* The child's entry after clone(); never returns. */
_Noreturn void init_main(const struct init_plan *p);

/* Brings loopback up in the current network namespace. */
int init_loopback_up(void);

#endif
