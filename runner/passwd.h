/* runner/passwd.h — resolving a container's --user against the root's /etc/passwd and
 * /etc/group, without allocating (it runs in the container's init after clone). */
#ifndef SLIPWAY_RUNNER_PASSWD_H
#define SLIPWAY_RUNNER_PASSWD_H

#include <stddef.h>
#include <sys/types.h>

#define PASSWD_MAX_GROUPS 64

struct passwd_user {
	uid_t uid;
	gid_t gid;
	gid_t groups[PASSWD_MAX_GROUPS]; /* supplementary groups, the primary one first */
	int ngroups;
	char home[256]; /* "/" when unknown */
};

/* user: "UID", "UID:GID", "NAME", "NAME:GROUP", "UID:GROUP". passwd and group are the
 * files' contents (NUL-terminated; NULL when missing). A name that is not found is an error
 * (-1, errno ENOENT); a numeric uid not in passwd is fine (gid 0 unless given, as Docker). */
int passwd_resolve(const char *user, const char *passwd, const char *group,
		   struct passwd_user *out);

#endif
