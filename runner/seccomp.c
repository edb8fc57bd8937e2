/* runner/seccomp.c — the default seccomp filter: what Docker's default profile denies a
 * container without extra capabilities, returning EPERM (clone3: ENOSYS, so that libcs fall
 * back to clone, whose flags can be checked). Other architectures are killed (libseccomp's
 * bad-arch action), so no compat syscall table slips past.
 *
 * Compiling with libseccomp costs milliseconds; the BPF is cached in memory per process and
 * on disk at $DATA/cache/seccomp-<key>.bpf, the key an FNV-1a hash of the rule table, the
 * architecture and libseccomp's version. */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/fs.h"
#include "runner/seccomp.h"

/* Bump when the meaning of the table changes in a way its text does not show. */
#define PROFILE_VERSION "slipway-default-1"

/* Denied outright (EPERM). Names the kernel or libseccomp does not know are skipped. */
static const char *const denied[] = {
    "mount",
    "umount",
    "umount2",
    "unshare",
    "setns",
    "pivot_root",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "move_mount",
    "open_tree",
    "mount_setattr",
    "keyctl",
    "add_key",
    "request_key",
    "bpf",
    "perf_event_open",
    "fanotify_init",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "create_module",
    "get_kernel_syms",
    "query_module",
    "reboot",
    "swapon",
    "swapoff",
    "acct",
    "open_by_handle_at",
    "name_to_handle_at",
    "userfaultfd",
    "iopl",
    "ioperm",
    "settimeofday",
    "clock_settime",
    "clock_adjtime",
    "stime",
    "quotactl",
    "quotactl_fd",
    "lookup_dcookie",
    "nfsservctl",
    "vm86",
    "vm86old",
    "uselib",
    "ustat",
    "sysfs",
    "_sysctl",
    "syslog",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "vhangup",
    "kcmp",
    "lsm_set_self_attr",
    "move_pages",
    "mbind",
    "set_mempolicy",
    "migrate_pages",
    "open_tree_attr",
};

static const unsigned long clone_ns_flags[] = {
    CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,	 CLONE_NEWUSER,
    CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP, 0x00000080 /* CLONE_NEWTIME */,
};

#define AF_VSOCK_NUM 40

struct seccomp_cache {
	pthread_mutex_t lock;
	struct sock_fprog prog;
	bool ready;
};

static uint64_t fnv1a(uint64_t h, const void *data, size_t len)
{
	const unsigned char *p = data;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= UINT64_C(0x100000001b3);
	}
	return h;
}

static uint64_t profile_key(void)
{
	const struct scmp_version *v = seccomp_version();
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	char ver[64];

	h = fnv1a(h, PROFILE_VERSION, strlen(PROFILE_VERSION));
	for (size_t i = 0; i < ARRAY_SIZE(denied); i++)
		h = fnv1a(h, denied[i], strlen(denied[i]) + 1);
	h = fnv1a(h, clone_ns_flags, sizeof(clone_ns_flags));
	snprintf(ver, sizeof(ver), "%u.%u.%u/%u", v->major, v->minor, v->micro,
		 (unsigned)seccomp_arch_native());
	return fnv1a(h, ver, strlen(ver));
}

static int rule(scmp_filter_ctx ctx, const char *name, uint32_t action, unsigned n,
		const struct scmp_arg_cmp *cmp, struct error **err)
{
	int nr = seccomp_syscall_resolve_name(name), rc;

	if (nr == __NR_SCMP_ERROR)
		return 0; /* not on this architecture */
	rc = seccomp_rule_add_array(ctx, action, nr, n, cmp);
	if (rc < 0 && rc != -EEXIST)
		return error_errnum(err, -rc, "seccomp rule for '%s'", name);
	return 0;
}

int seccomp_compile(struct sock_fprog *out, struct error **err)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	char path[] = "/tmp/slipway-seccomp.XXXXXX";
	cleanup_close int fd = -1;
	struct stat st;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if (!ctx)
		return error_set(err, EXIT_INTERNAL, "seccomp_init failed");
	for (size_t i = 0; i < ARRAY_SIZE(denied); i++)
		if (rule(ctx, denied[i], SCMP_ACT_ERRNO(EPERM), 0, NULL, err) < 0)
			goto out;
	for (size_t i = 0; i < ARRAY_SIZE(clone_ns_flags); i++) {
		struct scmp_arg_cmp c =
		    SCMP_A0(SCMP_CMP_MASKED_EQ, clone_ns_flags[i], clone_ns_flags[i]);

		if (rule(ctx, "clone", SCMP_ACT_ERRNO(EPERM), 1, &c, err) < 0)
			goto out;
	}
	if (rule(ctx, "clone3", SCMP_ACT_ERRNO(ENOSYS), 0, NULL, err) < 0)
		goto out;
	{
		struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_EQ, AF_VSOCK_NUM);

		if (rule(ctx, "socket", SCMP_ACT_ERRNO(EPERM), 1, &c, err) < 0)
			goto out;
	}
	/* Export through a memfd-like temp file: libseccomp writes BPF to an fd. */
	fd = memfd_create("slipway-seccomp", MFD_CLOEXEC);
	if (fd < 0) {
		fd = mkstemp(path);
		if (fd < 0) {
			error_errno(err, "create a seccomp temp file");
			goto out;
		}
		unlink(path);
	}
	if ((rc = seccomp_export_bpf(ctx, fd)) < 0) {
		error_errnum(err, -rc, "export the seccomp filter");
		rc = -1;
		goto out;
	}
	rc = -1;
	if (fstat(fd, &st) < 0 || st.st_size <= 0 ||
	    st.st_size % (off_t)sizeof(struct sock_filter) || st.st_size > 65536) {
		error_set(err, EXIT_INTERNAL, "the seccomp filter has a bad size");
		goto out;
	}
	out->filter = malloc((size_t)st.st_size);
	out->len = (unsigned short)(st.st_size / (off_t)sizeof(struct sock_filter));
	if (!out->filter || pread(fd, out->filter, (size_t)st.st_size, 0) != st.st_size) {
		free(out->filter);
		out->filter = NULL;
		error_errno(err, "read the seccomp filter");
		goto out;
	}
	rc = 0;
out:
	seccomp_release(ctx);
	return rc;
}

static int load_cached(const char *path, struct sock_fprog *out)
{
	char *data = NULL;
	size_t len = 0;

	if (read_file(path, 65536, &data, &len, NULL) < 0)
		return -1;
	if (len == 0 || len % sizeof(struct sock_filter)) {
		free(data);
		return -1;
	}
	out->filter = (struct sock_filter *)data;
	out->len = (unsigned short)(len / sizeof(struct sock_filter));
	return 0;
}

static int build(struct seccomp_cache *c, const char *data_dir, struct error **err)
{
	cleanup_free char *dir = path_join(data_dir, "cache"), *path = NULL;

	if (!dir ||
	    asprintf(&path, "%s/seccomp-%016llx.bpf", dir, (unsigned long long)profile_key()) < 0)
		return error_errno(err, "allocate");
	if (load_cached(path, &c->prog) == 0)
		return 0;
	if (seccomp_compile(&c->prog, err) < 0)
		return error_wrap(err, "compile the seccomp filter");
	/* A cache we cannot write only costs the next process a compile. */
	if (mkdir_p(dir, 0700, NULL) == 0)
		write_file_atomic(path, c->prog.filter, c->prog.len * sizeof(struct sock_filter),
				  0600, NULL);
	return 0;
}

int seccomp_default_program(struct seccomp_cache **cache, const char *data_dir,
			    const struct sock_fprog **out, struct error **err)
{
	static pthread_mutex_t create_lock = PTHREAD_MUTEX_INITIALIZER;
	struct seccomp_cache *c;
	int rc = 0;

	pthread_mutex_lock(&create_lock);
	if (!*cache) {
		*cache = calloc(1, sizeof(**cache));
		if (*cache)
			pthread_mutex_init(&(*cache)->lock, NULL);
	}
	c = *cache;
	pthread_mutex_unlock(&create_lock);
	if (!c)
		return error_errno(err, "allocate");
	pthread_mutex_lock(&c->lock);
	if (!c->ready && (rc = build(c, data_dir, err)) == 0)
		c->ready = true;
	pthread_mutex_unlock(&c->lock);
	*out = rc == 0 ? &c->prog : NULL;
	return rc;
}

void seccomp_cache_free(struct seccomp_cache *c)
{
	if (!c)
		return;
	free(c->prog.filter);
	pthread_mutex_destroy(&c->lock);
	free(c);
}
