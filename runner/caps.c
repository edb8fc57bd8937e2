/* runner/caps.c — capability names, Docker's default set, applying a set with capset(2). */
#include <ctype.h>
#include <errno.h>
#include <linux/capability.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "runner/caps.h"

static const char *const names[] = {
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
};

#define BIT(n) (UINT64_C(1) << (n))

uint64_t caps_default(void)
{
	return BIT(CAP_CHOWN) | BIT(CAP_DAC_OVERRIDE) | BIT(CAP_FSETID) | BIT(CAP_FOWNER) |
	       BIT(CAP_MKNOD) | BIT(CAP_NET_RAW) | BIT(CAP_SETGID) | BIT(CAP_SETUID) |
	       BIT(CAP_SETFCAP) | BIT(CAP_SETPCAP) | BIT(CAP_NET_BIND_SERVICE) |
	       BIT(CAP_SYS_CHROOT) | BIT(CAP_KILL) | BIT(CAP_AUDIT_WRITE);
}

const char *caps_name(int n)
{
	return n >= 0 && n < (int)ARRAY_SIZE(names) ? names[n] : NULL;
}

int caps_last_cap(void)
{
	static int last = -1;
	char buf[16] = "";
	FILE *f;

	if (last >= 0)
		return last;
	f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	if (f && fgets(buf, sizeof(buf), f))
		last = atoi(buf);
	if (f)
		fclose(f);
	if (last <= 0 || last > 63)
		last = CAP_LAST_CAP;
	return last;
}

int caps_parse(const char *name, uint64_t *mask)
{
	const char *n = name;

	if (!strncasecmp(n, "CAP_", 4))
		n += 4;
	if (!strcasecmp(n, "ALL")) {
		*mask = ~UINT64_C(0);
		return 0;
	}
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (!strcasecmp(n, names[i])) {
			*mask = BIT(i);
			return 0;
		}
	}
	return -1;
}

int caps_compute(char *const *cap_add, char *const *cap_drop, uint64_t *out, struct error **err)
{
	uint64_t set = caps_default(), add = 0, m, all;

	all = caps_last_cap() >= 63 ? ~UINT64_C(0) : BIT(caps_last_cap() + 1) - 1;
	for (size_t i = 0; cap_add && cap_add[i]; i++) {
		if (caps_parse(cap_add[i], &m) < 0)
			return error_usage(err, "unknown capability '%s'", cap_add[i]);
		add |= m;
	}
	for (size_t i = 0; cap_drop && cap_drop[i]; i++) {
		if (caps_parse(cap_drop[i], &m) < 0)
			return error_usage(err, "unknown capability '%s'", cap_drop[i]);
		set &= ~m;
	}
	*out = (set | add) & all;
	return 0;
}

int caps_drop_bounding(uint64_t keep, int last_cap)
{
	for (int c = 0; c <= last_cap; c++) {
		if (keep & BIT(c))
			continue;
		if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL)
			return -1;
	}
	return 0;
}

int caps_set(uint64_t set)
{
	struct __user_cap_header_struct hdr = {_LINUX_CAPABILITY_VERSION_3, 0};
	struct __user_cap_data_struct data[2];

	memset(data, 0, sizeof(data));
	data[0].permitted = data[0].effective = (uint32_t)set;
	data[1].permitted = data[1].effective = (uint32_t)(set >> 32);
	return (int)syscall(SYS_capset, &hdr, data);
}
