/* runner/cgroup.h — cgroups on v1, v2 and hybrid hosts: where they are and which to use.
 *
 * Container cgroups are created below the cgroup slipway itself runs in (per controller, as
 * /proc/self/cgroup names it), in a "slipway" child, so that limits and accounting of the
 * host's own cgroup (a systemd service's MemoryMax, a CI job's quota) still cover them.
 */
#ifndef SLIPWAY_RUNNER_CGROUP_H
#define SLIPWAY_RUNNER_CGROUP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/error.h"
#include "runner/limits.h"

enum cgroup_mode {
	CGROUP_V1,     /* only v1 hierarchies */
	CGROUP_V2,     /* the unified hierarchy alone */
	CGROUP_HYBRID, /* v1 controllers plus a cgroup2 mount (e.g. /sys/fs/cgroup/unified) */
};

/* The controllers slipway uses. */
enum cgroup_ctl {
	CG_CPU,
	CG_CPUACCT,
	CG_CPUSET,
	CG_MEMORY,
	CG_PIDS,
	CG_BLKIO, /* "io" on v2 */
	CG_FREEZER,
	CG_DEVICES,
	CG_NCTL,
};

/* One controller's place on this host. */
struct cgroup_place {
	int v2;	     /* 1: the controller lives on the unified hierarchy */
	char *mount; /* where its hierarchy is mounted; NULL if the controller is unavailable */
	char *self;  /* slipway's own cgroup in that hierarchy, e.g. "/user.slice/x" */
};

struct cgroup_host {
	enum cgroup_mode mode;
	char *unified_mount; /* the cgroup2 mount, NULL on pure v1 */
	char *unified_self;  /* our cgroup on it */
	struct cgroup_place ctl[CG_NCTL];
};

const char *cgroup_mode_name(enum cgroup_mode m);
const char *cgroup_ctl_name(enum cgroup_ctl c, int v2);

/* Reads /proc/self/mountinfo and /proc/self/cgroup. The result is owned by the caller
 * (cgroup_host_release). */
int cgroup_host_detect(struct cgroup_host *h, struct error **err);
/* As above from given file contents (for tests). */
int cgroup_host_parse(struct cgroup_host *h, const char *mountinfo, const char *self_cgroup,
		      struct error **err);
void cgroup_host_release(struct cgroup_host *h);

/* The directory under which slipway creates container cgroups for a controller: caller frees.
 * NULL when the controller is not available. */
char *cgroup_parent_dir(const struct cgroup_host *h, enum cgroup_ctl c);

/* --- one cgroup per container ------------------------------------------------------------ */

struct cgroup;

/* What a cgroup used, from its own counters (zero when the host does not count it). */
struct cgroup_usage {
	uint64_t cpu_user_us, cpu_system_us;
	uint64_t memory_peak_bytes, memory_current_bytes;
	uint64_t io_read_bytes, io_write_bytes;
	uint64_t oom_kills;	/* memory.oom_control / memory.events oom_kill */
	uint64_t pids_max_hits; /* pids.events max */
	uint64_t pids_current;
	uint64_t cpu_throttled; /* cpu.stat nr_throttled */
};

/* Creates NAME under cgroup_parent_dir() of every controller slipway uses (the "slipway"
 * parents on first use) and applies lim. A limit whose controller the host lacks is an
 * error naming it. Caller frees with cgroup_free. */
int cgroup_create(const struct cgroup_host *h, const char *name, const struct limits *lim,
		  struct cgroup **out, struct error **err);
/* Opens every cgroup.procs of the cgroup for writing (O_CLOEXEC); a process writes "0" to
 * each to join (cgroup_join_fds, async-signal-safe). Returns the count; fds has room for
 * CG_NCTL. */
int cgroup_procs_fds(struct cgroup *cg, int *fds, struct error **err);
int cgroup_join_fds(const int *fds, int n);
/* Moves pid into the cgroup. */
int cgroup_enter(struct cgroup *cg, pid_t pid, struct error **err);
int cgroup_stats(struct cgroup *cg, struct cgroup_usage *out, struct error **err);
/* Freezes, SIGKILLs every process in it, thaws. Allocates nothing (callable from a signal
 * handler). Returns how many processes it signalled, or -1. */
int cgroup_kill_all(struct cgroup *cg);
/* True when no process is left in it. */
bool cgroup_is_empty(struct cgroup *cg);
/* The directory of the cgroup for a controller (borrowed; NULL when unavailable). */
const char *cgroup_dir(const struct cgroup *cg, enum cgroup_ctl c);
/* Kills what is left and removes the directories. NULL is fine. */
void cgroup_free(struct cgroup *cg);

/* Removes cgroup NAME below the slipway parents (after a crash): kills its processes first.
 * Returns 1 if something was removed, 0 if there was nothing. */
int cgroup_remove_stale(const struct cgroup_host *h, const char *name, struct error **err);
/* Calls fn for each NAME found under the slipway parents (each name once). */
int cgroup_list_children(const struct cgroup_host *h, int (*fn)(const char *name, void *arg),
			 void *arg, struct error **err);

/* v1 cpu.shares for a v2 weight (1-10000), as runc and crun map them. */
uint64_t cgroup_weight_to_shares(unsigned weight);

#endif
