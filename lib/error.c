/* lib/error.c — the error type: set, wrap with context, print. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/error.h"

static char *vformat(const char *fmt, va_list ap)
{
	char *s = NULL;

	if (vasprintf(&s, fmt, ap) < 0)
		return NULL;
	return s;
}

static int error_new(struct error **err, int exit_code, int errnum, char *msg)
{
	struct error *e;

	if (!err || *err) {
		free(msg);
		return -1;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		free(msg);
		return -1;
	}
	e->exit_code = exit_code;
	e->errnum = errnum;
	e->msg = msg ? msg : strdup("out of memory");
	*err = e;
	return -1;
}

int error_setv(struct error **err, int exit_code, const char *fmt, va_list ap)
{
	if (!err || *err)
		return -1;
	return error_new(err, exit_code, 0, vformat(fmt, ap));
}

int error_set(struct error **err, int exit_code, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_setv(err, exit_code, fmt, ap);
	va_end(ap);
	return -1;
}

int error_usage(struct error **err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_setv(err, EXIT_USAGE, fmt, ap);
	va_end(ap);
	return -1;
}

int error_failed(struct error **err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	error_setv(err, EXIT_FAILED, fmt, ap);
	va_end(ap);
	return -1;
}

static int errnum_v(struct error **err, int errnum, const char *fmt, va_list ap)
{
	char *what, *msg = NULL;

	if (!err || *err)
		return -1;
	what = vformat(fmt, ap);
	if (what && asprintf(&msg, "%s: %s", what, strerror(errnum)) < 0)
		msg = NULL;
	free(what);
	return error_new(err, EXIT_INTERNAL, errnum, msg);
}

int error_errno(struct error **err, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	errnum_v(err, saved, fmt, ap);
	va_end(ap);
	errno = saved;
	return -1;
}

int error_errnum(struct error **err, int errnum, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	errnum_v(err, errnum, fmt, ap);
	va_end(ap);
	return -1;
}

int error_wrap(struct error **err, const char *fmt, ...)
{
	char *ctx, *msg = NULL;
	va_list ap;

	if (!err || !*err)
		return -1;
	va_start(ap, fmt);
	ctx = vformat(fmt, ap);
	va_end(ap);
	if (ctx && asprintf(&msg, "%s: %s", ctx, (*err)->msg) >= 0) {
		free((*err)->msg);
		(*err)->msg = msg;
	}
	free(ctx);
	return -1;
}

void error_print(const struct error *e)
{
	if (e)
		fprintf(stderr, "slipway: %s\n", e->msg);
}

void error_free(struct error *e)
{
	if (!e)
		return;
	free(e->msg);
	free(e);
}

void error_clear(struct error **err)
{
	if (err) {
		error_free(*err);
		*err = NULL;
	}
}
