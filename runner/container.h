/* runner/container.h — one isolated container: namespaces, overlay root, cgroup limits, init.
 *
 * This is the engine every step, service and build RUN goes through. It knows nothing of
 * pipelines, git or SQLite. A container_host is per process (cgroup places, the data dir, the
 * compiled seccomp program); containers are started from a spec, waited for, and freed; nothing
 * of a freed container remains (mounts, cgroups, $DATA/containers/<id>, processes).
 *
 * Threads: different containers may be started, waited and freed from different threads;
 * container_stop() may be called from any thread while another waits, and from a signal
 * handler (it allocates nothing). A container's init is a child of this process: do not reap
 * with waitpid(-1) elsewhere in the process, or its status is lost. The init dies when this
 * process does (a "lifeline" pipe), whatever thread started it.
 */
#ifndef SLIPWAY_RUNNER_CONTAINER_H
#define SLIPWAY_RUNNER_CONTAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/error.h"
#include "runner/limits.h"

struct container_host;
struct container;

/* data_dir: $DATA (containers live in $DATA/containers/<id>). Caller closes. */
int container_host_open(const char *data_dir, struct container_host **out, struct error **err);
void container_host_close(struct container_host *h); /* NULL is fine */

enum container_network {
	CONTAINER_NET_NONE, /* own network namespace, loopback up, nothing else (the default) */
	CONTAINER_NET_HOST, /* the host's network */
	CONTAINER_NET_JOIN, /* the namespace open at spec.netns_fd (container_netns_create) */
};

struct container_mount {    /* a bind mount */
	const char *source; /* host path */
	const char *target; /* path in the container */
	bool read_only;
};

struct container_tmpfs {
	const char *target;
	uint64_t size; /* bytes, 0 = the kernel's default */
};

/* Everything borrowed: the spec must outlive container_start() only. */
struct container_spec {
	const char *name;	 /* shown in messages; NULL = the generated id */
	char *const *lower_dirs; /* read-only layers, topmost first (never modified) */
	size_t n_lower;
	char *const *argv;    /* NULL-terminated; argv[0] looked up in PATH of env */
	char *const *env;     /* NULL-terminated K=V; NULL = PATH only */
	const char *workdir;  /* NULL = "/"; created when missing */
	const char *user;     /* "UID[:GID]" or a NAME of the root's /etc/passwd; NULL = 0:0 */
	const char *hostname; /* NULL = the name (or id) */
	struct limits limits; /* zeroed = no limits */
	const struct container_mount *mounts;
	size_t n_mounts;
	const struct container_tmpfs *tmpfs;
	size_t n_tmpfs;
	enum container_network network;
	int netns_fd;		  /* for CONTAINER_NET_JOIN */
	char *const *extra_hosts; /* NULL-terminated "ADDR NAME" lines for /etc/hosts */
	char *const *cap_add;	  /* NULL-terminated names ("NET_ADMIN", "CAP_NET_ADMIN", "ALL") */
	char *const *cap_drop;
	bool read_only;	     /* no writable upper layer */
	uint64_t timeout_ms; /* 0 = none; on expiry everything is killed, timed_out set */
	int stdin_fd;	     /* -1 = /dev/null */
	int stdout_fd;	     /* -1 = /dev/null */
	int stderr_fd;	     /* -1 = /dev/null */
};

/* What happened, from the cgroup's own counters. */
struct container_result {
	int exit_code;	 /* of the command; 128+signal when killed by one */
	int signal;	 /* the signal that killed the command, 0 if it exited */
	bool oom_killed; /* the cgroup's oom_kill counter moved (any process) */
	bool timed_out;
	bool stopped; /* container_stop() ended it */
	bool pids_limit_hit;
	uint64_t wall_ms;
	uint64_t cpu_user_us, cpu_system_us;
	uint64_t memory_peak_bytes;
	uint64_t io_read_bytes, io_write_bytes;
	uint64_t memory_limit; /* the hard limit applied, for messages */
	int exec_errno;	       /* the command could not be started (exit_code 127 for ENOENT,
				   else 126): e.g. "command not found in container" */
};

int container_start(struct container_host *h, const struct container_spec *spec,
		    struct container **out, struct error **err);
const char *container_id(const struct container *c);
pid_t container_pid(const struct container *c); /* the init's pid on the host */
/* Blocks until the container's command ends (or the timeout); fills res. Once. */
int container_wait(struct container *c, struct container_result *res, struct error **err);
/* Freezes the cgroup, kills everything in it, thaws; container_wait then returns with
 * res->stopped. Safe from another thread; idempotent. */
void container_stop(struct container *c);
/* Current usage while it runs (for timelines); fields as in the result. */
int container_sample(struct container *c, struct container_result *now, struct error **err);
/* After container_wait, before container_free: the overlay upper dir, what the command changed
 * (whiteouts as char 0/0 devices, opaque dirs with trusted.overlay.opaque), for the builder to
 * pack (image_layer_from_dir with overlay_upper). The mount points the engine made that the
 * root did not have (/proc, /dev, /sys, /etc/hosts..., volume and tmpfs targets) are removed
 * from it first. *path: caller frees; the dir goes with container_free. */
int container_upper_dir(struct container *c, char **path, struct error **err);
/* Kills what is left, unmounts, removes the cgroup and its dir. NULL is fine. */
void container_free(struct container *c);

/* start + wait + free. */
int container_run(struct container_host *h, const struct container_spec *spec,
		  struct container_result *res, struct error **err);

/* A new network namespace with loopback up and nothing else; *fd is an O_CLOEXEC fd to it
 * (caller closes). Steps and services of one run join it. */
int container_netns_create(int *fd, struct error **err);

/* Removes containers whose owner process is gone (after a kill -9 of slipway): their mounts,
 * cgroups and dirs. Returns how many were removed. */
int container_cleanup_stale(struct container_host *h, struct error **err);
/* As above, calling report(what, id, arg) for each thing removed (what: "container" for a
 * $DATA/containers/<id> dir, "cgroup" for a cgroup). */
int container_cleanup_stale_report(struct container_host *h,
				   void (*report)(const char *what, const char *id, void *arg),
				   void *arg, struct error **err);

/* Only what $DATA/containers shows (a dir whose owner is gone, and that container's cgroups):
 * cheap enough for every start. */
int container_cleanup_stale_quick(struct container_host *h, struct error **err);

/* $DATA/containers/<id> (borrowed): image_pin's pin file goes in it. */
const char *container_dir(const struct container *c);
/* The cgroup places this host uses (borrowed; for `slipway version`). */
struct cgroup_host;
const struct cgroup_host *container_host_cgroups(const struct container_host *h);

#endif
