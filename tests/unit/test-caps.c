/* tests/unit/test-caps.c — capability names and Docker's default set (runner/caps.c). */
#include <linux/capability.h>

#include "runner/caps.h"
#include "tests/unit/tap.h"

#define BIT(n) (UINT64_C(1) << (n))

int main(void)
{
	struct error *err = NULL;
	uint64_t m, set;
	char *add[] = {"NET_ADMIN", "cap_sys_ptrace", NULL};
	char *drop[] = {"CAP_CHOWN", "net_raw", NULL};
	char *all[] = {"ALL", NULL};
	char *bad[] = {"NET_ADMINN", NULL};

	plan_lazy();
	is_int(__builtin_popcountll(caps_default()), 14, "Docker's default set has 14");
	ok(caps_default() == 0xa80425fbULL, "the same bits Docker's containers show (CapBnd)");
	ok(!(caps_default() & BIT(CAP_SYS_ADMIN)), "no SYS_ADMIN by default");
	ok(caps_parse("NET_ADMIN", &m) == 0 && m == BIT(CAP_NET_ADMIN), "NET_ADMIN");
	ok(caps_parse("CAP_NET_ADMIN", &m) == 0 && m == BIT(CAP_NET_ADMIN), "CAP_ prefix");
	ok(caps_parse("net_admin", &m) == 0 && m == BIT(CAP_NET_ADMIN), "lowercase");
	ok(caps_parse("CHECKPOINT_RESTORE", &m) == 0 && m == BIT(40), "the last one");
	ok(caps_parse("BOGUS", &m) < 0, "unknown name");
	ok(caps_parse("", &m) < 0, "empty name");
	is_str(caps_name(CAP_SYS_ADMIN), "SYS_ADMIN", "name of 21");
	ok(caps_name(99) == NULL, "no name past the table");
	ok(caps_last_cap() >= 37 && caps_last_cap() <= 63, "cap_last_cap %d", caps_last_cap());

	ok(caps_compute(add, drop, &set, &err) == 0, "compute");
	ok(set & BIT(CAP_NET_ADMIN) && set & BIT(CAP_SYS_PTRACE), "added");
	ok(!(set & BIT(CAP_CHOWN)) && !(set & BIT(CAP_NET_RAW)), "dropped");
	is_int(__builtin_popcountll(set), 14, "14 - 2 + 2");
	ok(caps_compute(add, all, &set, &err) == 0 &&
	       set == (BIT(CAP_NET_ADMIN) | BIT(CAP_SYS_PTRACE)),
	   "drop ALL keeps only what is added");
	ok(caps_compute(all, NULL, &set, &err) == 0 && set & BIT(CAP_SYS_ADMIN), "add ALL");
	ok(caps_compute(bad, NULL, &set, &err) < 0 && err && err->exit_code == EXIT_USAGE &&
	       strstr(err->msg, "'NET_ADMINN'"),
	   "an unknown name is an input error quoting it");
	error_free(err);
	return done_testing();
}
