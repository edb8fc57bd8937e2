/* lib/parse.c — sizes, durations, bounded integers. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/parse.h"

int parse_size(const char *s, uint64_t *out, struct error **err)
{
	const char *p = s;
	uint64_t n = 0, mul = 1;

	if (!isdigit((unsigned char)*p))
		return error_usage(err,
				   "invalid size '%s': expected a number with an optional unit "
				   "(k, M, G, T), e.g. 64M",
				   s);
	while (isdigit((unsigned char)*p)) {
		if (n > (UINT64_MAX - 9) / 10)
			return error_usage(err, "invalid size '%s': too large", s);
		n = n * 10 + (uint64_t)(*p++ - '0');
	}
	switch (*p) {
	case '\0':
		break;
	case 'k':
	case 'K':
		mul = 1ULL << 10;
		p++;
		break;
	case 'm':
	case 'M':
		mul = 1ULL << 20;
		p++;
		break;
	case 'g':
	case 'G':
		mul = 1ULL << 30;
		p++;
		break;
	case 't':
	case 'T':
		mul = 1ULL << 40;
		p++;
		break;
	case 'b':
	case 'B':
		break;
	default:
		return error_usage(err, "invalid size '%s': unknown unit '%s' (use k, M, G or T)",
				   s, p);
	}
	if (mul > 1 && *p == 'i')
		p++;
	if (*p == 'b' || *p == 'B')
		p++;
	if (*p)
		return error_usage(err, "invalid size '%s': unknown unit (use k, M, G or T)", s);
	if (n > UINT64_MAX / mul)
		return error_usage(err, "invalid size '%s': too large", s);
	*out = n * mul;
	return 0;
}

int parse_duration(const char *s, uint64_t *out_ms, struct error **err)
{
	const char *p = s;
	uint64_t total = 0;

	if (!*s)
		return error_usage(err, "invalid duration '': expected e.g. 30s, 5m, 1h");
	while (*p) {
		uint64_t n = 0, unit;

		if (!isdigit((unsigned char)*p))
			return error_usage(err, "invalid duration '%s': expected e.g. 30s, 5m, 1h",
					   s);
		while (isdigit((unsigned char)*p)) {
			if (n > UINT64_MAX / 100)
				return error_usage(err, "invalid duration '%s': too large", s);
			n = n * 10 + (uint64_t)(*p++ - '0');
		}
		if (!strncmp(p, "ms", 2)) {
			unit = 1;
			p += 2;
		} else if (*p == 's' || (*p == '\0' && p == s + strlen(s) && total == 0)) {
			unit = 1000;
			if (*p)
				p++;
		} else if (*p == 'm') {
			unit = 60 * 1000;
			p++;
		} else if (*p == 'h') {
			unit = 3600 * 1000;
			p++;
		} else {
			return error_usage(
			    err, "invalid duration '%s': unknown unit (use ms, s, m or h)", s);
		}
		if (n > (UINT64_MAX - total) / unit)
			return error_usage(err, "invalid duration '%s': too large", s);
		total += n * unit;
	}
	*out_ms = total;
	return 0;
}

int parse_int(const char *s, int64_t min, int64_t max, int64_t *out, struct error **err)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (!*s || *end || errno || isspace((unsigned char)*s))
		return error_usage(err, "invalid number '%s'", s);
	if (v < min || v > max)
		return error_usage(err, "'%s' is out of range (%lld to %lld)", s, (long long)min,
				   (long long)max);
	*out = v;
	return 0;
}

void format_size(uint64_t bytes, char *out, size_t outlen)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(out, outlen, "%llu B", (unsigned long long)bytes);
	else if (v == (double)(uint64_t)v)
		snprintf(out, outlen, "%llu %s", (unsigned long long)v, units[u]);
	else
		snprintf(out, outlen, "%.1f %s", v, units[u]);
}

void format_duration(uint64_t ms, char *out, size_t outlen)
{
	if (ms < 1000)
		snprintf(out, outlen, "%llums", (unsigned long long)ms);
	else if (ms < 60000)
		snprintf(out, outlen, "%.1fs", (double)ms / 1000);
	else if (ms < 3600000)
		snprintf(out, outlen, "%llum%02llus", (unsigned long long)(ms / 60000),
			 (unsigned long long)(ms / 1000 % 60));
	else
		snprintf(out, outlen, "%lluh%02llum", (unsigned long long)(ms / 3600000),
			 (unsigned long long)(ms / 60000 % 60));
}
