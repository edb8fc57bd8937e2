/* lib/error.h — the one error type: filled through an out-parameter, wrapped with context.
 *
 * A function that can fail takes `struct error **err` last, returns a negative value on
 * failure and sets *err (caller frees with error_free). A caller adds what it was doing with
 * error_wrap() and passes the error up; cli/ prints it once as `slipway: <message>` and exits
 * with its exit code. Messages are lowercase, name the subject in quotes, no full stop.
 */
#ifndef SLIPWAY_LIB_ERROR_H
#define SLIPWAY_LIB_ERROR_H

#include <stdarg.h>

/* Exit statuses of the slipway command (DESIGN.md). */
enum exit_code {
	EXIT_OK = 0,
	EXIT_FAILED = 1,   /* the work failed: a step failed, a push was refused */
	EXIT_USAGE = 2,	   /* usage or input error: bad flag, bad YAML */
	EXIT_INTERNAL = 3, /* internal or system error */
};

struct error {
	int exit_code; /* one of enum exit_code */
	int errnum;    /* errno when the cause was a system call, else 0 */
	char *msg;     /* owned */
};

/* Each sets *err (when err is non-NULL and *err is NULL; an existing error is kept, so the
 * first cause wins) and returns -1. The errno variants append ": strerror(errno)". */
int error_set(struct error **err, int exit_code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int error_setv(struct error **err, int exit_code, const char *fmt, va_list ap);
int error_errno(struct error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int error_errnum(struct error **err, int errnum, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Input errors: exit 2. */
int error_usage(struct error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* The work failed: exit 1. */
int error_failed(struct error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes "<context>: " to the message of *err; returns -1. No-op without an error. */
int error_wrap(struct error **err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prints `slipway: <msg>` to stderr. */
void error_print(const struct error *e);
void error_free(struct error *e);
/* Frees *err and sets it to NULL (for callers that recover from an error). */
void error_clear(struct error **err);

#endif
