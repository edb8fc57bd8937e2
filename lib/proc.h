/* lib/proc.h — facts about processes read from /proc. */
#ifndef SLIPWAY_LIB_PROC_H
#define SLIPWAY_LIB_PROC_H

#include <stdint.h>
#include <sys/types.h>

/* The start time of pid in clock ticks since boot (field 22 of /proc/PID/stat): with the pid,
 * it names one process for good (pids are reused, start times are not). -1 (errno set) when
 * there is no such process. */
int64_t proc_start_time(pid_t pid);

#endif
