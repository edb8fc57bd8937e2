/* tests/unit/test-cgroup.c — runner/cgroup.c: detecting v1, v2 and hybrid hosts from their
 * files, and on this host a real cgroup: created with limits visible in its files, a process
 * moved in, statistics, kill everything, removal, stale removal. */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/fs.h"
#include "runner/cgroup.h"
#include "tests/unit/tap.h"

static const char hybrid_mi[] =
    "30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "36 30 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n"
    "41 30 0:38 /sub /bind/of/sub rw - cgroup cgroup rw,blkio\n";
static const char hybrid_self[] = "8:pids:/\n4:memory:/process_api/abc\n2:cpuacct:/\n"
				  "1:cpu:/\n6:freezer:/\n0::/\n";

static const char v1_mi[] =
    "31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct\n"
    "34 30 0:31 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n"
    "35 30 0:32 / /sys/fs/cgroup/with\\040space rw - cgroup cgroup rw,pids\n";
static const char v1_self[] = "3:cpu,cpuacct:/user.slice\n2:memory:/user.slice/x\n1:pids:/\n";

static void test_parse(const char *tmp)
{
	struct cgroup_host h;
	struct error *err = NULL;
	char mi[1024], ctl[512];
	char *p;

	ok(cgroup_host_parse(&h, hybrid_mi, hybrid_self, &err) == 0, "hybrid parses");
	is_int(h.mode, CGROUP_HYBRID, "hybrid: v1 controllers plus a cgroup2 mount");
	is_str(h.unified_mount, "/sys/fs/cgroup/unified", "the unified mount");
	is_str(h.ctl[CG_MEMORY].self, "/process_api/abc", "memory: our own nested cgroup");
	ok(!h.ctl[CG_MEMORY].v2, "memory is v1");
	ok(h.ctl[CG_BLKIO].mount == NULL, "a bind of a sub-cgroup is not a hierarchy");
	p = cgroup_parent_dir(&h, CG_MEMORY);
	is_str(p, "/sys/fs/cgroup/memory/process_api/abc/slipway", "memory parent below our own");
	free(p);
	p = cgroup_parent_dir(&h, CG_PIDS);
	is_str(p, "/sys/fs/cgroup/pids/slipway", "pids parent at the root we are in");
	free(p);
	ok(cgroup_parent_dir(&h, CG_CPUSET) == NULL, "no cpuset here");
	cgroup_host_release(&h);

	ok(cgroup_host_parse(&h, v1_mi, v1_self, &err) == 0, "v1 parses");
	is_int(h.mode, CGROUP_V1, "pure v1");
	is_str(h.ctl[CG_CPU].mount, h.ctl[CG_CPUACCT].mount, "cpu and cpuacct co-mounted");
	is_str(h.ctl[CG_PIDS].mount, "/sys/fs/cgroup/with space", "\\040 unescaped");
	is_str(h.ctl[CG_MEMORY].self, "/user.slice/x", "memory self");
	cgroup_host_release(&h);

	/* v2: the controllers come from cgroup.controllers of our own cgroup. */
	snprintf(mi, sizeof(mi), "40 30 0:37 / %s rw - cgroup2 cgroup2 rw\n", tmp);
	snprintf(ctl, sizeof(ctl), "%s/svc", tmp);
	mkdir(ctl, 0755);
	snprintf(ctl, sizeof(ctl), "%s/svc/cgroup.controllers", tmp);
	write_file_atomic(ctl, "cpuset cpu io memory pids\n", 26, 0644, NULL);
	ok(cgroup_host_parse(&h, mi, "0::/svc\n", &err) == 0, "v2 parses");
	is_int(h.mode, CGROUP_V2, "pure v2");
	ok(h.ctl[CG_MEMORY].v2 && h.ctl[CG_BLKIO].v2 && h.ctl[CG_PIDS].v2, "controllers on v2");
	ok(h.ctl[CG_FREEZER].mount && h.ctl[CG_FREEZER].v2, "v2 freezes with cgroup.freeze");
	ok(h.ctl[CG_DEVICES].mount == NULL, "no devices controller on v2");
	is_str(cgroup_ctl_name(CG_BLKIO, 1), "io", "blkio is io on v2");
	p = cgroup_parent_dir(&h, CG_MEMORY);
	ok(p && strstr(p, "/svc/slipway"), "v2 parent below our own cgroup: %s", p);
	free(p);
	cgroup_host_release(&h);

	ok(cgroup_host_parse(&h, "1 0 0:1 / / rw - ext4 /dev/vda rw\n", "", &err) < 0,
	   "no cgroup file system is an error");
	error_clear(&err);
}

static uint64_t file_u64(const char *dir, const char *name)
{
	cleanup_free char *p = path_join(dir, name), *s = NULL;

	if (read_file(p, 4096, &s, NULL, NULL) < 0)
		return UINT64_MAX;
	return strtoull(s, NULL, 10);
}

static const char *found_name;
static int found;

static int count_name(const char *nm, void *arg)
{
	if (!strcmp(nm, found_name))
		found++;
	return 0;
}

static void test_real(void)
{
	struct cgroup_host h;
	struct cgroup *cg = NULL;
	struct cgroup_usage u;
	struct limits lim;
	struct error *err = NULL;
	char name[64], path[512];
	const char *d;
	int st, fds[CG_NCTL], n;
	pid_t pid;

	if (cgroup_host_detect(&h, &err) < 0) {
		diag("no cgroups: %s", err->msg);
		error_free(err);
		return;
	}
	diag("this host is %s", cgroup_mode_name(h.mode));
	snprintf(name, sizeof(name), "test-cgroup-%d", (int)getpid());
	memset(&lim, 0, sizeof(lim));
	lim.memory = 64 << 20;
	lim.memory_soft = 32 << 20;
	lim.pids = 32;
	lim.cpus = 0.5;
	lim.cpu_weight = 100;
	snprintf(lim.cpuset, sizeof(lim.cpuset), "0");
	if (!ok(cgroup_create(&h, name, &lim, &cg, &err) == 0, "create with limits")) {
		diag("%s", err->msg);
		error_free(err);
		cgroup_host_release(&h);
		return;
	}
	if ((d = cgroup_dir(cg, CG_MEMORY)) && !h.ctl[CG_MEMORY].v2) {
		is_int(file_u64(d, "memory.limit_in_bytes"), 64 << 20, "memory.limit_in_bytes");
		is_int(file_u64(d, "memory.soft_limit_in_bytes"), 32 << 20, "soft limit");
	} else if (d) {
		is_int(file_u64(d, "memory.max"), 64 << 20, "memory.max");
	}
	if ((d = cgroup_dir(cg, CG_PIDS)))
		is_int(file_u64(d, "pids.max"), 32, "pids.max");
	if ((d = cgroup_dir(cg, CG_CPU)) && !h.ctl[CG_CPU].v2) {
		is_int(file_u64(d, "cpu.cfs_quota_us"), 50000, "cfs quota for 0.5 CPU");
		is_int(file_u64(d, "cpu.shares"), cgroup_weight_to_shares(100),
		       "shares for weight");
	}
	if ((d = cgroup_dir(cg, CG_CPUSET)))
		is_int(file_u64(d, "cpuset.cpus"), 0, "cpuset.cpus");
	ok(strstr(cgroup_dir(cg, CG_MEMORY), "/slipway/") != NULL, "below the slipway parent");

	/* A child joins through the procs fds, as a container's init does. */
	n = cgroup_procs_fds(cg, fds, &err);
	ok(n > 0, "%d cgroup.procs fds", n);
	pid = fork();
	if (pid == 0) {
		volatile char *mem;

		if (cgroup_join_fds(fds, n) < 0)
			_exit(1);
		mem = malloc(4 << 20); /* charged to the new cgroup */
		for (size_t i = 0; mem && i < (4 << 20); i += 4096)
			mem[i] = 1;
		for (;;)
			pause();
	}
	for (int i = 0; i < n; i++)
		close(fds[i]);
	for (int i = 0; i < 200 && cgroup_is_empty(cg); i++)
		usleep(5000);
	ok(!cgroup_is_empty(cg), "the child is in it");
	usleep(100000); /* let it touch its memory */
	snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
	{
		cleanup_free char *text = NULL;

		read_file(path, 65536, &text, NULL, NULL);
		ok(text && strstr(text, name), "/proc/PID/cgroup names it");
	}
	ok(cgroup_stats(cg, &u, &err) == 0, "stats");
	is_int(u.pids_current, 1, "one process");
	ok(u.memory_current_bytes > 0, "memory is charged (%llu, peak %llu)",
	   (unsigned long long)u.memory_current_bytes, (unsigned long long)u.memory_peak_bytes);
	ok(cgroup_kill_all(cg) >= 1, "kill all");
	ok(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
	   "the child died of SIGKILL");
	ok(cgroup_is_empty(cg), "empty after");

	/* Another process moved in with cgroup_enter. */
	pid = fork();
	if (pid == 0) {
		for (;;)
			pause();
	}
	ok(cgroup_enter(cg, pid, &err) == 0, "enter");
	ok(!cgroup_is_empty(cg), "it is in");
	snprintf(path, sizeof(path), "%s", cgroup_dir(cg, CG_MEMORY));
	cgroup_free(cg); /* kills what is left */
	ok(waitpid(pid, &st, 0) == pid && WIFSIGNALED(st), "free killed the process left");
	ok(access(path, F_OK) < 0, "the directory is gone");

	/* Stale removal by name, and listing. */
	memset(&lim, 0, sizeof(lim));
	/* made by a process that dies without removing it */
	pid = fork();
	if (pid == 0)
		_exit(cgroup_create(&h, name, &lim, &cg, NULL) < 0 ? 1 : 0);
	ok(waitpid(pid, &st, 0) == pid && WIFEXITED(st) && WEXITSTATUS(st) == 0, "create again");
	{
		char *parent = cgroup_parent_dir(&h, CG_PIDS);

		snprintf(path, sizeof(path), "%s/%s", parent, name);
		free(parent);
	}
	ok(access(path, F_OK) == 0, "left behind");
	found_name = name;
	ok(cgroup_list_children(&h, count_name, NULL, &err) == 0 && found >= 1, "listed");
	is_int(cgroup_remove_stale(&h, name, &err), 1, "stale removal removes it");
	ok(access(path, F_OK) < 0, "gone");
	is_int(cgroup_remove_stale(&h, name, &err), 0, "nothing the second time");
	cgroup_host_release(&h);
}

int main(void)
{
	char tmp[] = "/tmp/test-cgroup-XXXXXX";

	plan_lazy();
	if (!mkdtemp(tmp))
		return 1;
	test_parse(tmp);
	rm_rf(tmp, NULL);
	is_int(cgroup_weight_to_shares(1), 2, "weight 1 = 2 shares");
	is_int(cgroup_weight_to_shares(10000), 262144, "weight 10000 = 262144 shares");
	is_int(cgroup_weight_to_shares(100), 2597, "weight 100");
	test_real();
	return done_testing();
}
