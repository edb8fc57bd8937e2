/* tests/unit/test-passwd.c — --user resolution against /etc/passwd and /etc/group
 * (runner/passwd.c): names, ids, groups, supplementary groups, hostile lines. */
#include <errno.h>

#include "runner/passwd.h"
#include "tests/unit/tap.h"

static const char passwd[] = "root:x:0:0:root:/root:/bin/sh\n"
			     "# comment:x:5:5::/:\n"
			     "user:x:1000:1000:User:/home/user:/bin/sh\n"
			     "broken:x:notanumber:1::/:\n"
			     "nohome:x:1002:1002::\n"
			     "last:x:1003:1003::/last:/bin/sh"; /* no final newline */
static const char group[] = "root:x:0:\n"
			    "user:x:1000:\n"
			    "wheel:x:10:root,user\n"
			    "users:x:100:other,user\n"
			    "staff:x:50:username\n"; /* "username" is not "user" */

int main(void)
{
	struct passwd_user u;

	plan_lazy();
	ok(passwd_resolve("user", passwd, group, &u) == 0, "name");
	is_int(u.uid, 1000, "uid of user");
	is_int(u.gid, 1000, "gid of user");
	is_str(u.home, "/home/user", "home of user");
	is_int(u.ngroups, 3, "primary + wheel + users, not staff");
	is_int(u.groups[0], 1000, "primary group first");
	is_int(u.groups[1], 10, "wheel");
	is_int(u.groups[2], 100, "users");

	ok(passwd_resolve("1000", passwd, group, &u) == 0, "numeric uid in passwd");
	is_int(u.gid, 1000, "its gid from passwd");
	is_int(u.ngroups, 3, "and its groups");

	ok(passwd_resolve("4242", passwd, group, &u) == 0, "numeric uid not in passwd");
	is_int(u.uid, 4242, "uid");
	is_int(u.gid, 0, "gid 0, as Docker");
	is_str(u.home, "/", "home /");

	ok(passwd_resolve("user:wheel", passwd, group, &u) == 0, "name:group");
	is_int(u.gid, 10, "gid of wheel");
	is_int(u.ngroups, 1, "an explicit group: no supplementary groups");
	ok(passwd_resolve("1000:2000", passwd, group, &u) == 0, "uid:gid");
	is_int(u.gid, 2000, "gid 2000");

	errno = 0;
	ok(passwd_resolve("nobody", passwd, group, &u) < 0 && errno == ENOENT, "unknown name");
	ok(passwd_resolve("user:nogroup", passwd, group, &u) < 0, "unknown group");
	ok(passwd_resolve("broken", passwd, group, &u) < 0, "a line with a bad uid is refused");
	ok(passwd_resolve("comment", passwd, group, &u) < 0, "comments are not users");
	ok(passwd_resolve("", passwd, group, &u) < 0, "empty user");
	ok(passwd_resolve(":5", passwd, group, &u) < 0, "empty name before the group");
	ok(passwd_resolve("last", passwd, group, &u) == 0 && u.uid == 1003,
	   "last line, no newline");
	ok(passwd_resolve("nohome", passwd, group, &u) == 0 && !strcmp(u.home, "/"),
	   "a missing home is /");
	ok(passwd_resolve("root", NULL, NULL, &u) < 0, "no passwd file: names are unknown");
	ok(passwd_resolve("0", NULL, NULL, &u) == 0 && u.uid == 0, "no passwd file: ids work");
	ok(passwd_resolve("99999999999", passwd, group, &u) < 0, "an id out of range");
	return done_testing();
}
