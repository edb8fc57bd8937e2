/* lib/buf.h — growable byte buffers with a hard maximum (curl's dynbuf).
 *
 * Every buffer filled from outside has a cap: an append that would pass `max` fails with an
 * error and leaves the buffer as it was. The data is always NUL-terminated (not counted in len).
 */
#ifndef SLIPWAY_LIB_BUF_H
#define SLIPWAY_LIB_BUF_H

#include <stdarg.h>
#include <stddef.h>

#include "lib/error.h"

struct buf {
	char *data; /* owned; NULL until the first append */
	size_t len;
	size_t cap;
	size_t max; /* the most bytes len may reach */
};

#define BUF_INIT(maxbytes)                                                                         \
	{                                                                                          \
		NULL, 0, 0, (maxbytes)                                                             \
	}

void buf_init(struct buf *b, size_t max);
/* Frees the data; the buffer can be used again, with the same max. */
void buf_release(struct buf *b);
/* Empties the buffer, keeping its memory. */
void buf_reset(struct buf *b);

int buf_append(struct buf *b, const void *data, size_t len, struct error **err);
int buf_puts(struct buf *b, const char *s, struct error **err);
int buf_putc(struct buf *b, char c, struct error **err);
int buf_printf(struct buf *b, struct error **err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
int buf_vprintf(struct buf *b, struct error **err, const char *fmt, va_list ap);

/* The contents as a C string ("" when empty); borrowed. */
const char *buf_str(const struct buf *b);
/* Hands the data out (caller frees) and empties the buffer; never NULL on success. */
char *buf_steal(struct buf *b);

#endif
