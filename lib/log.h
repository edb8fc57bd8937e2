/* lib/log.h — diagnostics to stderr, as text for people or JSON lines for the daemon.
 *
 * The level and format are process-wide, set once at start-up by cli/ (log_setup); modules
 * only call log_*(). Text form: `slipway: warning: ...`; JSON form: one object per line with
 * time, level, msg.
 */
#ifndef SLIPWAY_LIB_LOG_H
#define SLIPWAY_LIB_LOG_H

#include <stdbool.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

void log_setup(enum log_level level, bool json);
enum log_level log_get_level(void);
/* Parses "error", "warn", "info", "debug"; returns -1 for anything else. */
int log_level_parse(const char *s);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
