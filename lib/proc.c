/* lib/proc.c — facts about processes read from /proc. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/proc.h"

int64_t proc_start_time(pid_t pid)
{
	char path[64], buf[1024];
	const char *p;
	ssize_t n;
	int fd;
	int field;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0) {
		errno = ESRCH;
		return -1;
	}
	buf[n] = '\0';
	/* "PID (COMM) STATE ..." where COMM may hold spaces and parentheses: fields count from
	 * after the last ')'. A zombie has exited: it counts as gone. */
	p = strrchr(buf, ')');
	if (!p || p[1] != ' ' || p[2] == 'Z' || p[2] == 'X') {
		errno = ESRCH;
		return -1;
	}
	p += 2;
	for (field = 3; field < 22 && p; field++) {
		p = strchr(p, ' ');
		if (p)
			p++;
	}
	if (!p || !isdigit((unsigned char)*p)) {
		errno = EINVAL;
		return -1;
	}
	return strtoll(p, NULL, 10);
}
