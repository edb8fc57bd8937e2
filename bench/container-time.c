/* bench/container-time.c — runs several command lines interleaved (A B C A B C ...) N times and
 * prints each one's median wall time in milliseconds, so that all of them see the same load.
 * A command written "ns:CMD" runs CMD in the mount namespace $BENCH_MNTNS (a bind-mounted
 * /proc/PID/ns/mnt), entered between fork and exec.
 *
 *   container-time N 'CMD ARGS...' 'ns:CMD ARGS...' ...   (split on spaces, no quoting) */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAXC 16

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 0, nc = argc - 2, nsfd = -1;
	char *args[MAXC][64];
	int in_ns[MAXC];
	double *t[MAXC];
	const char *ns = getenv("BENCH_MNTNS");

	if (n <= 0 || nc <= 0 || nc > MAXC)
		return 2;
	if (ns && *ns && (nsfd = open(ns, O_RDONLY | O_CLOEXEC)) < 0) {
		perror(ns);
		return 2;
	}
	for (int c = 0; c < nc; c++) {
		char *s = strdup(argv[c + 2]), *save = NULL;
		int k = 0;

		in_ns[c] = !strncmp(s, "ns:", 3);
		if (in_ns[c])
			s += 3;
		for (char *w = strtok_r(s, " ", &save); w && k < 63; w = strtok_r(NULL, " ", &save))
			args[c][k++] = w;
		args[c][k] = NULL;
		t[c] = calloc((size_t)n, sizeof(double));
	}
	for (int i = 0; i < n; i++) {
		for (int c = 0; c < nc; c++) {
			struct timespec a, b;
			int st;
			pid_t pid;

			clock_gettime(CLOCK_MONOTONIC, &a);
			pid = fork();
			if (pid == 0) {
				int dn = open("/dev/null", O_WRONLY);

				dup2(dn, 1);
				if (in_ns[c] && (nsfd < 0 || setns(nsfd, CLONE_NEWNS) < 0))
					_exit(120);
				execvp(args[c][0], args[c]);
				_exit(127);
			}
			waitpid(pid, &st, 0);
			clock_gettime(CLOCK_MONOTONIC, &b);
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
				fprintf(stderr, "container-time: '%s' failed (status %d)\n",
					argv[c + 2], st);
				return 1;
			}
			t[c][i] = (double)(b.tv_sec - a.tv_sec) * 1e3 +
				  (double)(b.tv_nsec - a.tv_nsec) / 1e6;
		}
	}
	for (int c = 0; c < nc; c++) {
		qsort(t[c], (size_t)n, sizeof(double), cmp);
		printf("%.2f\n", t[c][n / 2]);
	}
	return 0;
}
