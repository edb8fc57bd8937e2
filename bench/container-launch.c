/* bench/container-launch.c — what a pipeline step pays to run a container from inside a
 * running slipway: container_run of /bin/true N times, median milliseconds printed.
 * Usage: container-launch DATA_DIR ROOTFS N [--memory BYTES] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runner/container.h"

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct container_host *h;
	struct error *err = NULL;
	char *argv_true[] = {"/bin/true", NULL};
	char *lower[1];
	struct container_spec s;
	int n;
	double *t;

	if (argc < 4)
		return 2;
	n = atoi(argv[3]);
	t = calloc((size_t)n, sizeof(*t));
	lower[0] = argv[2];
	memset(&s, 0, sizeof(s));
	s.lower_dirs = lower;
	s.n_lower = 1;
	s.argv = argv_true;
	s.stdin_fd = s.stdout_fd = s.stderr_fd = -1;
	if (argc > 5 && !strcmp(argv[4], "--memory"))
		s.limits.memory = strtoull(argv[5], NULL, 10);
	if (container_host_open(argv[1], &h, &err) < 0) {
		error_print(err);
		return 3;
	}
	for (int i = 0; i < n; i++) {
		struct container_result r;
		struct timespec a, b;

		clock_gettime(CLOCK_MONOTONIC, &a);
		if (container_run(h, &s, &r, &err) < 0 || r.exit_code != 0) {
			if (err)
				error_print(err);
			return 3;
		}
		clock_gettime(CLOCK_MONOTONIC, &b);
		t[i] = (double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6;
	}
	qsort(t, (size_t)n, sizeof(*t), cmp);
	printf("%.2f\n", t[n / 2]);
	container_host_close(h);
	return 0;
}
