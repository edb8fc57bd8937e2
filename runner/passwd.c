/* runner/passwd.c — --user resolution against /etc/passwd and /etc/group (no allocation). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner/passwd.h"

/* Field i (0-based, ':'-separated) of line [p, end): [*s, *e). */
static bool field(const char *p, const char *end, int i, const char **s, const char **e)
{
	for (; i > 0; i--) {
		p = memchr(p, ':', (size_t)(end - p));
		if (!p)
			return false;
		p++;
	}
	*s = p;
	*e = memchr(p, ':', (size_t)(end - p));
	if (!*e)
		*e = end;
	return true;
}

static bool field_is(const char *s, const char *e, const char *name, size_t nlen)
{
	return (size_t)(e - s) == nlen && !memcmp(s, name, nlen);
}

static bool parse_id(const char *s, size_t len, unsigned long *out)
{
	char buf[16];
	char *end;

	if (len == 0 || len >= sizeof(buf))
		return false;
	memcpy(buf, s, len);
	buf[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if (buf[i] < '0' || buf[i] > '9')
			return false;
	*out = strtoul(buf, &end, 10);
	return *out <= 0x7fffffffUL;
}

/* Finds a line whose field 0 (by name) or field 2 (by id) matches; [*ls, *le). */
static bool find_line(const char *text, const char *name, size_t nlen, bool by_id, const char **ls,
		      const char **le)
{
	for (const char *p = text; p && *p;) {
		const char *end = strchr(p, '\n'), *s, *e;

		if (!end)
			end = p + strlen(p);
		if (*p != '#' && field(p, end, by_id ? 2 : 0, &s, &e) &&
		    field_is(s, e, name, nlen)) {
			*ls = p;
			*le = end;
			return true;
		}
		p = *end ? end + 1 : NULL;
	}
	return false;
}

static bool add_group(struct passwd_user *u, gid_t g)
{
	for (int i = 0; i < u->ngroups; i++)
		if (u->groups[i] == g)
			return true;
	if (u->ngroups >= PASSWD_MAX_GROUPS)
		return false;
	u->groups[u->ngroups++] = g;
	return true;
}

/* Every group listing name as a member. */
static void member_groups(const char *group, const char *name, size_t nlen, struct passwd_user *u)
{
	for (const char *p = group; p && *p;) {
		const char *end = strchr(p, '\n'), *s, *e, *g, *ge;
		unsigned long gid;

		if (!end)
			end = p + strlen(p);
		if (*p != '#' && field(p, end, 3, &s, &e) && field(p, end, 2, &g, &ge) &&
		    parse_id(g, (size_t)(ge - g), &gid)) {
			for (const char *m = s; m < e;) {
				const char *c = memchr(m, ',', (size_t)(e - m));

				if (!c)
					c = e;
				if (field_is(m, c, name, nlen))
					add_group(u, (gid_t)gid);
				m = c + 1;
			}
		}
		p = *end ? end + 1 : NULL;
	}
}

int passwd_resolve(const char *user, const char *passwd, const char *group, struct passwd_user *out)
{
	const char *colon = strchr(user, ':'), *ls, *le, *s, *e;
	size_t ulen = colon ? (size_t)(colon - user) : strlen(user);
	unsigned long id;
	bool numeric = parse_id(user, ulen, &id), found;
	const char *name = user;
	size_t nlen = ulen;

	memset(out, 0, sizeof(*out));
	strcpy(out->home, "/");
	if (ulen == 0) {
		errno = EINVAL;
		return -1;
	}
	found = passwd && find_line(passwd, user, ulen, numeric, &ls, &le);
	if (!found && !numeric) {
		errno = ENOENT;
		return -1;
	}
	if (found) {
		unsigned long gid;

		if (!field(ls, le, 2, &s, &e) || !parse_id(s, (size_t)(e - s), &id) ||
		    !field(ls, le, 3, &s, &e) || !parse_id(s, (size_t)(e - s), &gid)) {
			errno = EINVAL;
			return -1;
		}
		out->gid = (gid_t)gid;
		field(ls, le, 0, &name, &e);
		nlen = (size_t)(e - name);
		if (field(ls, le, 5, &s, &e) && e > s && (size_t)(e - s) < sizeof(out->home)) {
			memcpy(out->home, s, (size_t)(e - s));
			out->home[e - s] = '\0';
		}
	}
	out->uid = (uid_t)id;
	if (colon) {
		const char *gs = colon + 1;
		size_t glen = strlen(gs);
		unsigned long gid;

		if (parse_id(gs, glen, &gid)) {
			out->gid = (gid_t)gid;
		} else if (group && find_line(group, gs, glen, false, &ls, &le) &&
			   field(ls, le, 2, &s, &e) && parse_id(s, (size_t)(e - s), &gid)) {
			out->gid = (gid_t)gid;
		} else {
			errno = ENOENT;
			return -1;
		}
		add_group(out, out->gid);
		return 0; /* an explicit group: no supplementary groups, as Docker */
	}
	add_group(out, out->gid);
	if (found && group)
		member_groups(group, name, nlen, out);
	return 0;
}
