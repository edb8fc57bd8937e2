/* runner/caps.h — Linux capabilities of a container: names, Docker's default set, and
 * applying a set to the calling process (bounding, permitted, effective, inheritable). */
#ifndef SLIPWAY_RUNNER_CAPS_H
#define SLIPWAY_RUNNER_CAPS_H

#include <stdint.h>

#include "lib/error.h"

/* Docker's 14 defaults as a bit mask (bit n = capability n). */
uint64_t caps_default(void);
/* "NET_ADMIN", "CAP_NET_ADMIN", "net_admin"; "ALL" gives every capability. -1 if unknown. */
int caps_parse(const char *name, uint64_t *mask);
/* The name of capability n without "CAP_", or NULL. */
const char *caps_name(int n);
/* Docker's defaults with cap_add added, then cap_drop removed (ALL clears all but what is
 * added explicitly, as Docker does). Unknown names: exit 2 quoting the name. */
int caps_compute(char *const *cap_add, char *const *cap_drop, uint64_t *out, struct error **err);
/* The highest capability number the running kernel knows. */
int caps_last_cap(void);

/* In the container (no allocation): drops from the bounding set every capability not in
 * keep, up to last_cap. */
int caps_drop_bounding(uint64_t keep, int last_cap);
/* Sets permitted and effective to set, inheritable empty. */
int caps_set(uint64_t set);

#endif
