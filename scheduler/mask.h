/* scheduler/mask.h — hides secret values in log output.
 *
 * Every secret value, and each line of a multi-line value, becomes "********" wherever it
 * appears in a line of output, before the line is stored or printed. Longer values are matched
 * first, so a secret that contains another is hidden whole. Values shorter than
 * MASK_MIN_LEN bytes are not masked (masking "a" would make every log unreadable and tells an
 * attacker the value); docs/pipelines.md says so.
 */
#ifndef SLIPWAY_SCHEDULER_MASK_H
#define SLIPWAY_SCHEDULER_MASK_H

#include <stddef.h>

#include "lib/error.h"

#define MASK_MIN_LEN 3
#define MASK_TEXT "********"

struct masker;

/* values: n secret values (borrowed for the call; the masker keeps copies). */
int masker_new(const char *const *values, size_t n, struct masker **out, struct error **err);
void masker_free(struct masker *m);

/* Masks one line (no newline needed). Returns a new string (caller frees) and its length in
 * *outlen, or NULL when out of memory. A line without secrets comes back unchanged. */
char *masker_apply(const struct masker *m, const char *line, size_t len, size_t *outlen);

/* Number of patterns (for tests and diagnostics). */
size_t masker_count(const struct masker *m);

#endif
