/* runner/cgroup.c — cgroup host detection (v1, v2, hybrid) and per-container cgroups:
 * create with limits, join, statistics, kill everything, remove. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/fs.h"
#include "runner/cgroup.h"

#define PROC_FILE_MAX (1 << 20)

static const char *const ctl_v1[CG_NCTL] = {"cpu",  "cpuacct", "cpuset",  "memory",
					    "pids", "blkio",   "freezer", "devices"};
static const char *const ctl_v2[CG_NCTL] = {"cpu",  "cpu", "cpuset", "memory",
					    "pids", "io",  NULL,     NULL};

const char *cgroup_mode_name(enum cgroup_mode m)
{
	switch (m) {
	case CGROUP_V1:
		return "v1";
	case CGROUP_V2:
		return "v2";
	case CGROUP_HYBRID:
		return "hybrid";
	}
	return "unknown";
}

const char *cgroup_ctl_name(enum cgroup_ctl c, int v2)
{
	if (c < 0 || c >= CG_NCTL)
		return NULL;
	return v2 ? ctl_v2[c] : ctl_v1[c];
}

/* mountinfo escapes spaces and such as \040; undo that in place. */
static void unescape_octal(char *s)
{
	char *w = s;

	for (; *s; s++) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*w++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 3;
		} else {
			*w++ = *s;
		}
	}
	*w = '\0';
}

static bool has_option(const char *opts, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = opts; p && *p;) {
		const char *e = strchr(p, ',');
		size_t len = e ? (size_t)(e - p) : strlen(p);

		if (len == n && !strncmp(p, name, n))
			return true;
		p = e ? e + 1 : NULL;
	}
	return false;
}

/* Our cgroup path in the v1 hierarchy holding controller name, from /proc/self/cgroup. */
static char *self_path(const char *self_cgroup, const char *ctl, bool v2)
{
	cleanup_free char *copy = strdup(self_cgroup);
	char *save = NULL;

	if (!copy)
		return NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *c1 = strchr(line, ':'), *c2;

		if (!c1 || !(c2 = strchr(c1 + 1, ':')))
			continue;
		*c1 = '\0';
		*c2 = '\0';
		if (v2 ? (!strcmp(line, "0") && c1[1] == '\0') : has_option(c1 + 1, ctl))
			return strdup(c2 + 1);
	}
	return NULL;
}

static void place_set(struct cgroup_place *p, int v2, const char *mount, char *self)
{
	free(p->mount);
	free(p->self);
	p->v2 = v2;
	p->mount = strdup(mount);
	p->self = self ? self : strdup("/");
}

int cgroup_host_parse(struct cgroup_host *h, const char *mountinfo, const char *self_cgroup,
		      struct error **err)
{
	cleanup_free char *copy = strdup(mountinfo);
	char *save = NULL;
	bool any_v1 = false;

	memset(h, 0, sizeof(*h));
	if (!copy)
		return error_errno(err, "read cgroup mounts");
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		/* id parent maj:min root mountpoint opts [optional...] - fstype source superopts */
		char *f[6] = {0}, *sep, *rest, *fstype, *source, *super, *s2 = NULL;
		int i = 0;

		sep = strstr(line, " - ");
		if (!sep)
			continue;
		*sep = '\0';
		rest = sep + 3;
		for (char *t = strtok_r(line, " ", &s2); t && i < 6; t = strtok_r(NULL, " ", &s2))
			f[i++] = t;
		if (i < 6 || strcmp(f[3], "/"))
			continue; /* a bind of a sub-cgroup is not a hierarchy root */
		fstype = strtok_r(rest, " ", &s2);
		source = strtok_r(NULL, " ", &s2);
		super = strtok_r(NULL, " ", &s2);
		(void)source;
		if (!fstype)
			continue;
		unescape_octal(f[4]);
		if (!strcmp(fstype, "cgroup2")) {
			if (h->unified_mount)
				continue;
			h->unified_mount = strdup(f[4]);
			h->unified_self = self_path(self_cgroup, NULL, true);
			if (!h->unified_self)
				h->unified_self = strdup("/");
		} else if (!strcmp(fstype, "cgroup") && super) {
			for (int c = 0; c < CG_NCTL; c++) {
				if (!has_option(super, ctl_v1[c]) || h->ctl[c].mount)
					continue;
				place_set(&h->ctl[c], 0, f[4],
					  self_path(self_cgroup, ctl_v1[c], false));
				any_v1 = true;
			}
		}
	}
	if (!any_v1 && !h->unified_mount) {
		cgroup_host_release(h);
		return error_set(err, EXIT_INTERNAL, "no cgroup file system is mounted");
	}
	h->mode = !any_v1 ? CGROUP_V2 : h->unified_mount ? CGROUP_HYBRID : CGROUP_V1;

	/* Controllers the unified hierarchy offers fill in what v1 lacks (hybrid) or all (v2). */
	if (h->unified_mount) {
		cleanup_free char *path = NULL, *ctls = NULL;

		if (asprintf(&path, "%s%s/cgroup.controllers", h->unified_mount,
			     strcmp(h->unified_self, "/") ? h->unified_self : "") >= 0 &&
		    read_file(path, 65536, &ctls, NULL, NULL) == 0) {
			for (int c = 0; c < CG_NCTL; c++) {
				const char *n = ctl_v2[c];
				char *dup;

				if (!n || h->ctl[c].mount)
					continue;
				dup = strdup(ctls);
				for (char *s3 = NULL, *t = strtok_r(dup, " \n", &s3); t;
				     t = strtok_r(NULL, " \n", &s3)) {
					if (!strcmp(t, n)) {
						place_set(&h->ctl[c], 1, h->unified_mount,
							  strdup(h->unified_self));
						break;
					}
				}
				free(dup);
			}
		}
		/* v2 freezes and kills with cgroup.freeze / cgroup.kill, not a controller. */
		if (h->mode == CGROUP_V2 && !h->ctl[CG_FREEZER].mount)
			place_set(&h->ctl[CG_FREEZER], 1, h->unified_mount,
				  strdup(h->unified_self));
	}
	return 0;
}

int cgroup_host_detect(struct cgroup_host *h, struct error **err)
{
	cleanup_free char *mi = NULL, *self = NULL;

	if (read_file("/proc/self/mountinfo", PROC_FILE_MAX, &mi, NULL, err) < 0 ||
	    read_file("/proc/self/cgroup", PROC_FILE_MAX, &self, NULL, err) < 0)
		return error_wrap(err, "detect cgroups");
	return cgroup_host_parse(h, mi, self, err);
}

void cgroup_host_release(struct cgroup_host *h)
{
	free(h->unified_mount);
	free(h->unified_self);
	for (int c = 0; c < CG_NCTL; c++) {
		free(h->ctl[c].mount);
		free(h->ctl[c].self);
	}
	memset(h, 0, sizeof(*h));
}

char *cgroup_parent_dir(const struct cgroup_host *h, enum cgroup_ctl c)
{
	const struct cgroup_place *p = &h->ctl[c];
	char *s = NULL;

	if (!p->mount)
		return NULL;
	if (asprintf(&s, "%s%s/slipway", p->mount, strcmp(p->self, "/") ? p->self : "") < 0)
		return NULL;
	return s;
}

/* --- one cgroup per container ------------------------------------------------------------ */

struct cgroup {
	char *dir[CG_NCTL]; /* per controller, NULL when unavailable (may repeat a path) */
	int v2[CG_NCTL];
	int uniq[CG_NCTL]; /* indexes of distinct directories in dir[] */
	int nuniq;
	/* Precomputed for cgroup_kill_all, which must not allocate. */
	char procs[PATH_MAX];	  /* a cgroup.procs listing every process */
	char freeze[PATH_MAX];	  /* freezer.state (v1) or cgroup.freeze (v2); "" = none */
	char kill_file[PATH_MAX]; /* v2 cgroup.kill; "" = none */
	int freeze_v2;
};

uint64_t cgroup_weight_to_shares(unsigned weight)
{
	if (weight < 1)
		weight = 1;
	if (weight > 10000)
		weight = 10000;
	return 2 + ((uint64_t)(weight - 1) * 262142) / 9999;
}

static int write_at(const char *dir, const char *file, const char *val, struct error **err)
{
	char path[PATH_MAX];
	size_t len = strlen(val);
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return error_set(err, EXIT_INTERNAL, "cgroup path '%s/%s' is too long", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return error_errno(err, "open '%s'", path);
	n = write(fd, val, len);
	if (n != (ssize_t)len) {
		int e = n < 0 ? errno : EIO;

		close(fd);
		return error_errnum(err, e, "write '%s' to '%s'", val, path);
	}
	close(fd);
	return 0;
}

static int read_at(const char *dir, const char *file, char *out, size_t outlen)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, file) >= (int)sizeof(path))
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, out, outlen - 1);
	close(fd);
	if (n < 0)
		return -1;
	out[n] = '\0';
	return (int)n;
}

/* The value after "key " on a line of a flat-keyed file (memory.events, cpu.stat ...). */
static uint64_t keyed_value(const char *text, const char *key)
{
	size_t klen = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		if (!strncmp(p, key, klen) && p[klen] == ' ')
			return strtoull(p + klen + 1, NULL, 10);
	}
	return 0;
}

static uint64_t read_u64(const char *dir, const char *file)
{
	char buf[64];

	if (read_at(dir, file, buf, sizeof(buf)) <= 0)
		return 0;
	return strtoull(buf, NULL, 10);
}

/* v1 cpuset: a new cgroup starts with empty cpus/mems and refuses tasks until filled. */
static int cpuset_inherit(const char *dir, struct error **err)
{
	char parent[PATH_MAX], val[4096];
	const char *files[] = {"cpuset.cpus", "cpuset.mems"};

	snprintf(parent, sizeof(parent), "%s", dir);
	*strrchr(parent, '/') = '\0';
	for (size_t i = 0; i < 2; i++) {
		if (read_at(dir, files[i], val, sizeof(val)) > 1)
			continue;
		if (read_at(parent, files[i], val, sizeof(val)) < 0)
			return error_errno(err, "read '%s/%s'", parent, files[i]);
		if (write_at(dir, files[i], val, err) < 0)
			return -1;
	}
	return 0;
}

/* v2: a cgroup's children get a controller only when it is in its cgroup.subtree_control. A
 * cgroup with processes cannot hand domain controllers down (EBUSY): slipway then moves itself
 * into a "supervisor" leaf of its own cgroup. */
static int v2_enable(const char *dir, const char *ctl, struct error **err)
{
	char val[64];

	snprintf(val, sizeof(val), "+%s", ctl);
	if (write_at(dir, "cgroup.subtree_control", val, NULL) == 0)
		return 0;
	if (errno == EBUSY) {
		char leaf[PATH_MAX], pid[32];

		snprintf(leaf, sizeof(leaf), "%s/supervisor", dir);
		if (mkdir(leaf, 0755) < 0 && errno != EEXIST)
			return error_errno(err, "create cgroup '%s'", leaf);
		snprintf(pid, sizeof(pid), "%d", (int)getpid());
		if (write_at(leaf, "cgroup.procs", pid, err) < 0)
			return -1;
		if (write_at(dir, "cgroup.subtree_control", val, NULL) == 0)
			return 0;
	}
	return error_errno(err, "enable the '%s' controller in '%s'", ctl, dir);
}

static int make_dir(const char *dir, bool v1_cpuset, struct error **err)
{
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return error_errno(err, "create cgroup '%s'", dir);
	if (v1_cpuset)
		return cpuset_inherit(dir, err);
	return 0;
}

/* v1 devices: deny everything, then allow what a container needs (Docker's list). */
static const char *const device_allow[] = {
    "c 1:3 rwm",    /* null */
    "c 1:5 rwm",    /* zero */
    "c 1:7 rwm",    /* full */
    "c 1:8 rwm",    /* random */
    "c 1:9 rwm",    /* urandom */
    "c 5:0 rwm",    /* tty */
    "c 5:1 rwm",    /* console */
    "c 5:2 rwm",    /* ptmx */
    "c 136:* rwm",  /* pts */
    "c 10:200 rwm", /* tun */
    "c *:* m",	    /* mknod of char devices (it cannot open them) */
    "b *:* m",
};

/* Set once on the "slipway" parent: a new v1 devices cgroup starts with its parent's list. */
static int apply_devices(const char *d, struct error **err)
{
	char list[64];

	if (read_at(d, "devices.list", list, sizeof(list)) < 0)
		return error_errno(err, "read '%s/devices.list'", d);
	if (strncmp(list, "a *:* rwm", 9))
		return 0; /* done already */
	if (write_at(d, "devices.deny", "a", err) < 0)
		return -1;
	/* A parent that already denies a device refuses to allow it (EPERM): fine. */
	for (size_t i = 0; i < ARRAY_SIZE(device_allow); i++)
		if (write_at(d, "devices.allow", device_allow[i], NULL) < 0 && errno != EPERM)
			return error_errno(err, "allow device '%s' in '%s'", device_allow[i], d);
	return 0;
}

static int prepare_parent(const struct cgroup_host *h, enum cgroup_ctl c, const char *parent,
			  struct error **err)
{
	const struct cgroup_place *p = &h->ctl[c];

	if (p->v2) {
		char self[PATH_MAX];
		const char *name = ctl_v2[c];

		snprintf(self, sizeof(self), "%s%s", p->mount, strcmp(p->self, "/") ? p->self : "");
		if (name && v2_enable(self, name, err) < 0)
			return -1;
		if (make_dir(parent, false, err) < 0)
			return -1;
		return name ? v2_enable(parent, name, err) : 0;
	}
	if (make_dir(parent, c == CG_CPUSET, err) < 0)
		return -1;
	return c == CG_DEVICES ? apply_devices(parent, err) : 0;
}

static bool lim_needs(const struct limits *lim, enum cgroup_ctl c)
{
	switch (c) {
	case CG_MEMORY:
		return lim->memory || lim->memory_soft || lim->swap;
	case CG_CPU:
		return lim->cpus > 0 || lim->cpu_weight;
	case CG_CPUSET:
		return lim->cpuset[0];
	case CG_PIDS:
		return lim->pids > 0;
	case CG_BLKIO:
		return lim->n_read_bps || lim->n_write_bps;
	default:
		return false;
	}
}

static int apply_v1(struct cgroup *cg, const struct limits *lim, struct error **err)
{
	char v[128];
	const char *d;

	if ((d = cg->dir[CG_MEMORY])) {
		if (lim->memory) {
			snprintf(v, sizeof(v), "%llu", (unsigned long long)lim->memory);
			if (write_at(d, "memory.limit_in_bytes", v, err) < 0)
				return -1;
		}
		if (lim->swap) {
			snprintf(v, sizeof(v), "%llu", (unsigned long long)lim->swap);
			if (write_at(d, "memory.memsw.limit_in_bytes", v, err) < 0)
				return error_wrap(err,
						  "set the swap limit (is swap accounting on?)");
		}
		if (lim->memory_soft) {
			snprintf(v, sizeof(v), "%llu", (unsigned long long)lim->memory_soft);
			if (write_at(d, "memory.soft_limit_in_bytes", v, err) < 0)
				return -1;
		}
	}
	if ((d = cg->dir[CG_CPU])) {
		if (lim->cpus > 0) {
			snprintf(v, sizeof(v), "%lld", (long long)(lim->cpus * 100000 + 0.5));
			if (write_at(d, "cpu.cfs_period_us", "100000", err) < 0 ||
			    write_at(d, "cpu.cfs_quota_us", v, err) < 0)
				return -1;
		}
		if (lim->cpu_weight) {
			snprintf(v, sizeof(v), "%llu",
				 (unsigned long long)cgroup_weight_to_shares(lim->cpu_weight));
			if (write_at(d, "cpu.shares", v, err) < 0)
				return -1;
		}
	}
	if ((d = cg->dir[CG_CPUSET]) && lim->cpuset[0] &&
	    write_at(d, "cpuset.cpus", lim->cpuset, err) < 0)
		return -1;
	if ((d = cg->dir[CG_PIDS]) && lim->pids > 0) {
		snprintf(v, sizeof(v), "%lld", (long long)lim->pids);
		if (write_at(d, "pids.max", v, err) < 0)
			return -1;
	}
	if ((d = cg->dir[CG_BLKIO])) {
		for (int i = 0; i < lim->n_read_bps; i++) {
			snprintf(v, sizeof(v), "%u:%u %llu", major(lim->read_bps[i].dev),
				 minor(lim->read_bps[i].dev),
				 (unsigned long long)lim->read_bps[i].bps);
			if (write_at(d, "blkio.throttle.read_bps_device", v, err) < 0)
				return -1;
		}
		for (int i = 0; i < lim->n_write_bps; i++) {
			snprintf(v, sizeof(v), "%u:%u %llu", major(lim->write_bps[i].dev),
				 minor(lim->write_bps[i].dev),
				 (unsigned long long)lim->write_bps[i].bps);
			if (write_at(d, "blkio.throttle.write_bps_device", v, err) < 0)
				return -1;
		}
	}
	return 0;
}

static int apply_v2(struct cgroup *cg, const struct limits *lim, struct error **err)
{
	char v[128];
	const char *d;

	if ((d = cg->dir[CG_MEMORY]) && cg->v2[CG_MEMORY]) {
		if (lim->memory) {
			snprintf(v, sizeof(v), "%llu", (unsigned long long)lim->memory);
			if (write_at(d, "memory.max", v, err) < 0)
				return -1;
		}
		if (lim->swap) {
			uint64_t sw = lim->swap > lim->memory ? lim->swap - lim->memory : 0;

			snprintf(v, sizeof(v), "%llu", (unsigned long long)sw);
			if (write_at(d, "memory.swap.max", v, err) < 0)
				return -1;
		}
		if (lim->memory_soft) {
			snprintf(v, sizeof(v), "%llu", (unsigned long long)lim->memory_soft);
			if (write_at(d, "memory.low", v, err) < 0)
				return -1;
		}
	}
	if ((d = cg->dir[CG_CPU]) && cg->v2[CG_CPU]) {
		if (lim->cpus > 0) {
			snprintf(v, sizeof(v), "%lld 100000",
				 (long long)(lim->cpus * 100000 + 0.5));
			if (write_at(d, "cpu.max", v, err) < 0)
				return -1;
		}
		if (lim->cpu_weight) {
			snprintf(v, sizeof(v), "%u", lim->cpu_weight);
			if (write_at(d, "cpu.weight", v, err) < 0)
				return -1;
		}
	}
	if ((d = cg->dir[CG_CPUSET]) && cg->v2[CG_CPUSET] && lim->cpuset[0] &&
	    write_at(d, "cpuset.cpus", lim->cpuset, err) < 0)
		return -1;
	if ((d = cg->dir[CG_PIDS]) && cg->v2[CG_PIDS] && lim->pids > 0) {
		snprintf(v, sizeof(v), "%lld", (long long)lim->pids);
		if (write_at(d, "pids.max", v, err) < 0)
			return -1;
	}
	if ((d = cg->dir[CG_BLKIO]) && cg->v2[CG_BLKIO]) {
		for (int i = 0; i < lim->n_read_bps; i++) {
			snprintf(v, sizeof(v), "%u:%u rbps=%llu", major(lim->read_bps[i].dev),
				 minor(lim->read_bps[i].dev),
				 (unsigned long long)lim->read_bps[i].bps);
			if (write_at(d, "io.max", v, err) < 0)
				return -1;
		}
		for (int i = 0; i < lim->n_write_bps; i++) {
			snprintf(v, sizeof(v), "%u:%u wbps=%llu", major(lim->write_bps[i].dev),
				 minor(lim->write_bps[i].dev),
				 (unsigned long long)lim->write_bps[i].bps);
			if (write_at(d, "io.max", v, err) < 0)
				return -1;
		}
	}
	return 0;
}

static void precompute(struct cgroup *cg)
{
	const char *any = NULL;

	for (int c = 0; c < CG_NCTL && !any; c++)
		any = cg->dir[c];
	if (cg->dir[CG_PIDS])
		any = cg->dir[CG_PIDS];
	snprintf(cg->procs, sizeof(cg->procs), "%s/cgroup.procs", any ? any : "");
	if (cg->dir[CG_FREEZER]) {
		cg->freeze_v2 = cg->v2[CG_FREEZER];
		snprintf(cg->freeze, sizeof(cg->freeze), "%s/%s", cg->dir[CG_FREEZER],
			 cg->freeze_v2 ? "cgroup.freeze" : "freezer.state");
		if (cg->freeze_v2)
			snprintf(cg->kill_file, sizeof(cg->kill_file), "%s/cgroup.kill",
				 cg->dir[CG_FREEZER]);
	}
}

int cgroup_create(const struct cgroup_host *h, const char *name, const struct limits *lim,
		  struct cgroup **out, struct error **err)
{
	struct cgroup *cg = calloc(1, sizeof(*cg));

	if (!cg)
		return error_errno(err, "allocate a cgroup");
	for (int c = 0; c < CG_NCTL; c++) {
		cleanup_free char *parent = NULL;
		int dup = -1;

		/* cpu and cpuset only limit: without a limit, the container stays in slipway's
		 * own (v1; on v2 every controller shares one dir anyway). */
		if ((c == CG_CPU || c == CG_CPUSET) && !h->ctl[c].v2 && !lim_needs(lim, c) &&
		    !(c == CG_CPU && h->ctl[CG_CPUACCT].mount &&
		      !strcmp(h->ctl[CG_CPUACCT].mount,
			      h->ctl[CG_CPU].mount ? h->ctl[CG_CPU].mount : "")))
			continue;
		parent = cgroup_parent_dir(h, c);
		if (!parent) {
			if (lim_needs(lim, c)) {
				cgroup_free(cg);
				return error_set(err, EXIT_INTERNAL,
						 "the '%s' cgroup controller is not available here",
						 ctl_v1[c]);
			}
			continue;
		}
		cg->v2[c] = h->ctl[c].v2;
		if (asprintf(&cg->dir[c], "%s/%s", parent, name) < 0) {
			cg->dir[c] = NULL;
			cgroup_free(cg);
			return error_errno(err, "allocate a cgroup path");
		}
		for (int u = 0; u < cg->nuniq; u++)
			if (!strcmp(cg->dir[cg->uniq[u]], cg->dir[c]))
				dup = u;
		if (dup >= 0)
			continue;
		cg->uniq[cg->nuniq++] = c;
		if (prepare_parent(h, c, parent, err) < 0 ||
		    make_dir(cg->dir[c], c == CG_CPUSET && !cg->v2[c], err) < 0) {
			cgroup_free(cg);
			return error_wrap(err, "create cgroup '%s'", name);
		}
	}
	precompute(cg);
	if (apply_v1(cg, lim, err) < 0 || apply_v2(cg, lim, err) < 0) {
		cgroup_free(cg);
		return error_wrap(err, "set the limits of cgroup '%s'", name);
	}
	*out = cg;
	return 0;
}

int cgroup_procs_fds(struct cgroup *cg, int *fds, struct error **err)
{
	int n = 0;

	for (int u = 0; u < cg->nuniq; u++) {
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/cgroup.procs", cg->dir[cg->uniq[u]]);
		fds[n] = open(path, O_WRONLY | O_CLOEXEC);
		if (fds[n] < 0) {
			error_errno(err, "open '%s'", path);
			while (n > 0)
				close(fds[--n]);
			return -1;
		}
		n++;
	}
	return n;
}

int cgroup_join_fds(const int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (write(fds[i], "0", 1) != 1)
			return -1;
	return 0;
}

int cgroup_enter(struct cgroup *cg, pid_t pid, struct error **err)
{
	char v[32];

	snprintf(v, sizeof(v), "%d", (int)pid);
	for (int u = 0; u < cg->nuniq; u++)
		if (write_at(cg->dir[cg->uniq[u]], "cgroup.procs", v, err) < 0)
			return error_wrap(err, "move process %d into its cgroup", (int)pid);
	return 0;
}

const char *cgroup_dir(const struct cgroup *cg, enum cgroup_ctl c)
{
	return c >= 0 && c < CG_NCTL ? cg->dir[c] : NULL;
}

/* blkio.throttle.io_service_bytes: "MAJ:MIN Read N" lines; io.stat: "MAJ:MIN rbytes=N ...". */
static void io_bytes(const char *text, bool v2, uint64_t *rd, uint64_t *wr)
{
	for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
		const char *sp = strchr(p, ' '), *nl = strchr(p, '\n');

		if (!sp || (nl && sp > nl))
			continue;
		if (v2) {
			const char *r = strstr(sp, "rbytes="), *w = strstr(sp, "wbytes=");

			if (r && (!nl || r < nl))
				*rd += strtoull(r + 7, NULL, 10);
			if (w && (!nl || w < nl))
				*wr += strtoull(w + 7, NULL, 10);
		} else if (!strncmp(sp + 1, "Read ", 5)) {
			*rd += strtoull(sp + 6, NULL, 10);
		} else if (!strncmp(sp + 1, "Write ", 6)) {
			*wr += strtoull(sp + 7, NULL, 10);
		}
	}
}

int cgroup_stats(struct cgroup *cg, struct cgroup_usage *u, struct error **err)
{
	char text[8192];
	const char *d;

	memset(u, 0, sizeof(*u));
	if ((d = cg->dir[CG_MEMORY])) {
		if (cg->v2[CG_MEMORY]) {
			u->memory_peak_bytes = read_u64(d, "memory.peak");
			u->memory_current_bytes = read_u64(d, "memory.current");
			if (read_at(d, "memory.events", text, sizeof(text)) > 0)
				u->oom_kills = keyed_value(text, "oom_kill");
		} else {
			u->memory_peak_bytes = read_u64(d, "memory.max_usage_in_bytes");
			u->memory_current_bytes = read_u64(d, "memory.usage_in_bytes");
			if (read_at(d, "memory.oom_control", text, sizeof(text)) > 0)
				u->oom_kills = keyed_value(text, "oom_kill");
		}
	}
	if (cg->v2[CG_CPU] && (d = cg->dir[CG_CPU])) {
		if (read_at(d, "cpu.stat", text, sizeof(text)) > 0) {
			u->cpu_user_us = keyed_value(text, "user_usec");
			u->cpu_system_us = keyed_value(text, "system_usec");
			u->cpu_throttled = keyed_value(text, "nr_throttled");
		}
	} else {
		if ((d = cg->dir[CG_CPUACCT])) {
			u->cpu_user_us = read_u64(d, "cpuacct.usage_user") / 1000;
			u->cpu_system_us = read_u64(d, "cpuacct.usage_sys") / 1000;
		}
		if ((d = cg->dir[CG_CPU]) && read_at(d, "cpu.stat", text, sizeof(text)) > 0)
			u->cpu_throttled = keyed_value(text, "nr_throttled");
	}
	if ((d = cg->dir[CG_BLKIO])) {
		bool v2 = cg->v2[CG_BLKIO];

		if (read_at(d, v2 ? "io.stat" : "blkio.throttle.io_service_bytes", text,
			    sizeof(text)) > 0)
			io_bytes(text, v2, &u->io_read_bytes, &u->io_write_bytes);
	}
	if ((d = cg->dir[CG_PIDS])) {
		u->pids_current = read_u64(d, "pids.current");
		if (read_at(d, "pids.events", text, sizeof(text)) > 0)
			u->pids_max_hits = keyed_value(text, "max");
	}
	(void)err;
	return 0;
}

static int write_path(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

static void sleep_us(long us)
{
	struct timespec ts = {0, us * 1000};

	nanosleep(&ts, NULL);
}

/* Signals every pid listed in cgroup.procs; returns how many. */
static int kill_listed(const char *procs)
{
	char buf[4096];
	int fd = open(procs, O_RDONLY | O_CLOEXEC), count = 0;
	ssize_t n;
	size_t have = 0;

	if (fd < 0)
		return -1;
	while ((n = read(fd, buf + have, sizeof(buf) - 1 - have)) > 0) {
		char *p = buf, *nl;

		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = strchr(p, '\n'))) {
			pid_t pid = (pid_t)strtol(p, NULL, 10);

			if (pid > 0 && kill(pid, SIGKILL) == 0)
				count++;
			p = nl + 1;
		}
		have = (size_t)(buf + have - p);
		memmove(buf, p, have);
	}
	close(fd);
	return count;
}

int cgroup_kill_all(struct cgroup *cg)
{
	int count;

	if (!cg || !cg->procs[0])
		return -1;
	if (cg->kill_file[0] && write_path(cg->kill_file, "1") == 0)
		return 1;
	/* Frozen, nothing can fork between the listing and the kill. */
	if (cg->freeze[0]) {
		write_path(cg->freeze, cg->freeze_v2 ? "1" : "FROZEN");
		for (int i = 0; i < 200 && !cg->freeze_v2; i++) {
			char st[32] = "";
			int fd = open(cg->freeze, O_RDONLY | O_CLOEXEC);

			if (fd >= 0) {
				ssize_t n = read(fd, st, sizeof(st) - 1);

				st[n > 0 ? n : 0] = '\0';
				close(fd);
			}
			if (strncmp(st, "FREEZING", 8))
				break;
			sleep_us(500);
		}
	}
	count = kill_listed(cg->procs);
	if (cg->freeze[0])
		write_path(cg->freeze, cg->freeze_v2 ? "0" : "THAWED");
	return count;
}

bool cgroup_is_empty(struct cgroup *cg)
{
	char buf[16];
	int fd = open(cg->procs, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return true;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	return n <= 0;
}

/* rmdir, retrying while the last processes finish exiting. */
static int remove_dir(const char *dir, struct cgroup *cg)
{
	for (int i = 0; i < 400; i++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return 0;
		if (errno != EBUSY)
			return -1;
		if (cg && i % 20 == 10)
			cgroup_kill_all(cg);
		sleep_us(i < 20 ? 250 : 5000);
	}
	return -1;
}

void cgroup_free(struct cgroup *cg)
{
	if (!cg)
		return;
	if (cg->procs[0] && !cgroup_is_empty(cg))
		cgroup_kill_all(cg);
	for (int u = 0; u < cg->nuniq; u++)
		remove_dir(cg->dir[cg->uniq[u]], cg);
	for (int c = 0; c < CG_NCTL; c++)
		free(cg->dir[c]);
	free(cg);
}

int cgroup_remove_stale(const struct cgroup_host *h, const char *name, struct error **err)
{
	struct cgroup cg;
	int found = 0;

	memset(&cg, 0, sizeof(cg));
	for (int c = 0; c < CG_NCTL; c++) {
		cleanup_free char *parent = cgroup_parent_dir(h, c);
		struct stat st;
		int dup = -1;

		if (!parent || asprintf(&cg.dir[c], "%s/%s", parent, name) < 0) {
			cg.dir[c] = NULL;
			continue;
		}
		cg.v2[c] = h->ctl[c].v2;
		for (int u = 0; u < cg.nuniq; u++)
			if (!strcmp(cg.dir[cg.uniq[u]], cg.dir[c]))
				dup = u;
		if (dup < 0 && stat(cg.dir[c], &st) == 0) {
			cg.uniq[cg.nuniq++] = c;
			found = 1;
		}
	}
	if (found) {
		precompute(&cg);
		cgroup_kill_all(&cg);
		for (int u = 0; u < cg.nuniq; u++) {
			if (remove_dir(cg.dir[cg.uniq[u]], &cg) < 0) {
				error_errno(err, "remove cgroup '%s'", cg.dir[cg.uniq[u]]);
				found = -1;
				break;
			}
		}
	}
	for (int c = 0; c < CG_NCTL; c++)
		free(cg.dir[c]);
	return found;
}

int cgroup_list_children(const struct cgroup_host *h, int (*fn)(const char *name, void *arg),
			 void *arg, struct error **err)
{
	/* The memory (or else any) hierarchy holds every container's cgroup. */
	for (int c = 0; c < CG_NCTL; c++) {
		cleanup_free char *parent = cgroup_parent_dir(h, c);
		cleanup_closedir DIR *d = NULL;
		struct dirent *e;
		int rc;

		if (!parent)
			continue;
		d = opendir(parent);
		if (!d)
			continue;
		while ((e = readdir(d))) {
			if (e->d_type != DT_DIR || e->d_name[0] == '.' ||
			    !strcmp(e->d_name, "supervisor"))
				continue;
			if ((rc = fn(e->d_name, arg)) < 0)
				return error_wrap(err, "cgroup '%s'", e->d_name);
		}
	}
	return 0;
}
