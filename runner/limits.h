/* runner/limits.h — the resource limits of one container, as the user gave them. */
#ifndef SLIPWAY_RUNNER_LIMITS_H
#define SLIPWAY_RUNNER_LIMITS_H

#include <stdint.h>
#include <sys/types.h>

#define LIMITS_MAX_IO 8

struct io_limit {
	dev_t dev;
	uint64_t bps; /* bytes per second */
};

/* Zero in a field means "not set". */
struct limits {
	uint64_t memory;      /* hard limit, bytes */
	uint64_t memory_soft; /* v1 soft_limit_in_bytes, v2 memory.low */
	uint64_t swap;	      /* memory+swap total, bytes */
	double cpus;	      /* CFS quota in CPUs, e.g. 0.5 */
	unsigned cpu_weight;  /* 1-10000 (v2 weight; mapped to shares on v1) */
	char cpuset[64];      /* "0-1", "" = not set */
	int64_t pids;	      /* pids.max */
	struct io_limit read_bps[LIMITS_MAX_IO], write_bps[LIMITS_MAX_IO];
	int n_read_bps, n_write_bps;
};

#endif
