/* lib/parse.h — parsing of the values users type: sizes (512k, 64M, 2G), durations (30s, 5m,
 * 1h, 1h30m, 250ms), integers with bounds. Errors are input errors (exit 2) quoting the value. */
#ifndef SLIPWAY_LIB_PARSE_H
#define SLIPWAY_LIB_PARSE_H

#include <stdint.h>

#include "lib/error.h"

/* "512", "512k", "64M", "2G", "1T" (binary units; optional trailing "b"/"B", "iB"). */
int parse_size(const char *s, uint64_t *out, struct error **err);
/* "250ms", "30s", "5m", "1h", "1h30m"; a bare number means seconds. Result in milliseconds. */
int parse_duration(const char *s, uint64_t *out_ms, struct error **err);
/* A decimal integer in [min, max]. */
int parse_int(const char *s, int64_t min, int64_t max, int64_t *out, struct error **err);

/* Formats bytes the way people read them: "512 B", "1.5 KiB", "32 MiB". */
void format_size(uint64_t bytes, char *out, size_t outlen);
/* Formats milliseconds: "250ms", "1.2s", "3m05s", "1h02m". */
void format_duration(uint64_t ms, char *out, size_t outlen);

#endif
