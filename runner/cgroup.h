/* runner/cgroup.h — cgroups on v1, v2 and hybrid hosts: where they are and which to use.
 *
 * Container cgroups are created below the cgroup slipway itself runs in (per controller, as
 * /proc/self/cgroup names it), in a "slipway" child, so that limits and accounting of the
 * host's own cgroup (a systemd service's MemoryMax, a CI job's quota) still cover them.
 */
#ifndef SLIPWAY_RUNNER_CGROUP_H
#define SLIPWAY_RUNNER_CGROUP_H

#include "lib/error.h"

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
	int v2;      /* 1: the controller lives on the unified hierarchy */
	char *mount; /* where its hierarchy is mounted; NULL if the controller is unavailable */
	char *self;  /* slipway's own cgroup in that hierarchy, e.g. "/user.slice/x" */
};

struct cgroup_host {
	enum cgroup_mode mode;
	char *unified_mount;  /* the cgroup2 mount, NULL on pure v1 */
	char *unified_self;   /* our cgroup on it */
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

#endif
