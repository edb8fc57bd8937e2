/* runner/registry-progress.c — per-blob progress of a push or pull on stderr: on a terminal,
 * one bar per blob redrawn in place at most every 200 ms; otherwise one plain line per blob
 * when it is done. Worker threads report through slots; one mutex serializes the drawing. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/parse.h"
#include "runner/registry-internal.h"

#define MAX_SLOTS 128

struct reg_slot {
	struct reg_progress *p;
	char label[20]; /* "sha256:" + 12 hex */
	int64_t total;
	atomic_uint_fast64_t done;
	const char *state; /* NULL while running */
};

struct reg_progress {
	bool on, tty;
	pthread_mutex_t lock;
	struct reg_slot *slots[MAX_SLOTS];
	size_t n;
	size_t drawn; /* lines drawn last time (tty) */
	uint64_t last_ms;
};

int reg_progress_new(bool on, bool tty, struct reg_progress **out)
{
	struct reg_progress *p = calloc(1, sizeof(*p));

	*out = p;
	if (!p)
		return -1;
	p->on = on;
	p->tty = tty;
	pthread_mutex_init(&p->lock, NULL);
	return 0;
}

static void draw(struct reg_progress *p)
{
	if (p->drawn)
		fprintf(stderr, "\033[%zuA", p->drawn);
	for (size_t i = 0; i < p->n; i++) {
		struct reg_slot *s = p->slots[i];
		uint64_t done = atomic_load(&s->done);
		char d[32], t[32], bar[31];
		int fill = 0;

		format_size(done, d, sizeof(d));
		format_size(s->total > 0 ? (uint64_t)s->total : 0, t, sizeof(t));
		if (s->total > 0)
			fill =
			    (int)(done >= (uint64_t)s->total ? 30 : done * 30 / (uint64_t)s->total);
		memset(bar, '=', (size_t)fill);
		memset(bar + fill, ' ', (size_t)(30 - fill));
		bar[30] = '\0';
		if (s->state)
			fprintf(stderr, "\r\033[K%s  %-8s %s\n", s->label, s->state, t);
		else
			fprintf(stderr, "\r\033[K%s  [%s] %s / %s\n", s->label, bar, d, t);
	}
	p->drawn = p->n;
	fflush(stderr);
}

void reg_progress_free(struct reg_progress *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->slots[i]);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

struct reg_slot *reg_progress_slot(struct reg_progress *p, const char *digest, int64_t total)
{
	struct reg_slot *s;

	if (!p || !p->on)
		return NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->p = p;
	s->total = total;
	snprintf(s->label, sizeof(s->label), "%.19s", digest);
	pthread_mutex_lock(&p->lock);
	if (p->n < MAX_SLOTS) {
		p->slots[p->n++] = s;
	} else {
		free(s);
		s = NULL;
	}
	if (s && p->tty)
		draw(p);
	pthread_mutex_unlock(&p->lock);
	return s;
}

void reg_slot_add(struct reg_slot *s, uint64_t n)
{
	struct reg_progress *p;
	uint64_t now;

	if (!s)
		return;
	atomic_fetch_add(&s->done, n);
	p = s->p;
	if (!p->tty)
		return;
	now = reg_now_ms();
	if (now - p->last_ms < 200 || pthread_mutex_trylock(&p->lock) != 0)
		return;
	p->last_ms = now;
	draw(p);
	pthread_mutex_unlock(&p->lock);
}

void reg_slot_reset(struct reg_slot *s)
{
	if (s)
		atomic_store(&s->done, 0);
}

void reg_slot_done(struct reg_slot *s, const char *state)
{
	char t[32];

	if (!s)
		return;
	pthread_mutex_lock(&s->p->lock);
	s->state = state;
	if (s->p->tty) {
		draw(s->p);
	} else {
		format_size(s->total > 0 ? (uint64_t)s->total : atomic_load(&s->done), t,
			    sizeof(t));
		fprintf(stderr, "%s: %s (%s)\n", s->label, state, t);
	}
	pthread_mutex_unlock(&s->p->lock);
}

void reg_progress_line(struct reg_progress *p, const char *fmt, ...)
{
	va_list ap;

	if (!p || !p->on)
		return;
	pthread_mutex_lock(&p->lock);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	/* The bars go on below the line. */
	p->drawn = 0;
	pthread_mutex_unlock(&p->lock);
}

void reg_progress_summary(struct reg_progress *pr, const char *verb, const char *what,
			  const char *digest, const struct registry_stats *s)
{
	char sz[32], t[32];

	format_size(s->bytes_sent ? s->bytes_sent : s->bytes_received, sz, sizeof(sz));
	format_duration(s->ms, t, sizeof(t));
	if (!strcmp(verb, "pushed"))
		reg_progress_line(pr,
				  "pushed %s %s: %u blob%s uploaded, %u mounted, %u already there; "
				  "%s sent in %s",
				  what, digest, s->blobs_uploaded,
				  s->blobs_uploaded == 1 ? "" : "s", s->blobs_mounted,
				  s->blobs_present, sz, t);
	else
		reg_progress_line(pr,
				  "pulled %s %s: %u blob%s downloaded, %u already here; %s "
				  "received in %s",
				  what, digest, s->blobs_downloaded,
				  s->blobs_downloaded == 1 ? "" : "s", s->blobs_cached, sz, t);
}
