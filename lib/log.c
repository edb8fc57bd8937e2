/* lib/log.c — leveled diagnostics to stderr, text or JSON lines. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "lib/log.h"

/* Set once by log_setup() before any thread starts; read-only afterwards. */
static enum log_level log_level = LOG_WARN;
static bool log_json;

static const char *const level_names[] = {"error", "warning", "info", "debug"};

void log_setup(enum log_level level, bool json)
{
	log_level = level;
	log_json = json;
}

enum log_level log_get_level(void)
{
	return log_level;
}

int log_level_parse(const char *s)
{
	if (!strcmp(s, "error"))
		return LOG_ERROR;
	if (!strcmp(s, "warn") || !strcmp(s, "warning"))
		return LOG_WARN;
	if (!strcmp(s, "info"))
		return LOG_INFO;
	if (!strcmp(s, "debug"))
		return LOG_DEBUG;
	return -1;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;

	if (level > log_level)
		return;
	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		msg = NULL;
	va_end(ap);
	if (!msg)
		return;
	if (log_json) {
		struct timespec ts;
		char stamp[96];
		struct tm tm;
		json_t *o;
		char *line;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		snprintf(stamp, sizeof(stamp), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000);
		o = json_pack("{s:s, s:s, s:s}", "time", stamp, "level", level_names[level], "msg",
			      msg);
		line = o ? json_dumps(o, JSON_COMPACT) : NULL;
		if (line)
			fprintf(stderr, "%s\n", line);
		free(line);
		json_decref(o);
	} else if (level == LOG_ERROR) {
		fprintf(stderr, "slipway: %s\n", msg);
	} else {
		fprintf(stderr, "slipway: %s: %s\n", level_names[level], msg);
	}
	free(msg);
}
