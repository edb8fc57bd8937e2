/* runner/cgroup.c — cgroup host detection (v1, v2, hybrid) and per-container cgroups. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/fs.h"
#include "runner/cgroup.h"

#define PROC_FILE_MAX (1 << 20)

static const char *const ctl_v1[CG_NCTL] = {"cpu",     "cpuacct", "cpuset",  "memory",
					    "pids",    "blkio",   "freezer", "devices"};
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
				place_set(&h->ctl[c], 0, f[4], self_path(self_cgroup, ctl_v1[c], false));
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
			place_set(&h->ctl[CG_FREEZER], 1, h->unified_mount, strdup(h->unified_self));
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
