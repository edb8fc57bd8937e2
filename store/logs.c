/* store/logs.c — log lines of runs and steps: buffered appends written in batches (durable
 * once flushed), the per-step cap with its truncation notice, and reading back in order. */
#include <errno.h>
#include <string.h>

#include "lib/cleanup.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "store/internal.h"

/* A longer line is cut here, marked with LINE_CUT. */
#define LINE_MAX_BYTES 65536
#define LINE_CUT " [line cut at 64 KiB]"
/* Append flushes by itself past any of these. */
#define FLUSH_LINES 4096
#define FLUSH_BYTES (1u << 20)
#define FLUSH_AGE_MS 1000
/* After a failed flush the lines wait for the next one, up to this much; then they are
 * dropped (with an error) rather than let memory grow without bound. */
#define PENDING_MAX (8u << 20)

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 sequence at p (1-4), or 0 when it is not one (or is NUL). */
static size_t utf8_seq(const unsigned char *p, size_t left)
{
	unsigned char c = p[0];
	size_t n;
	uint32_t cp;

	if (c == 0)
		return 0;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		n = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		n = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		n = 4, cp = c & 0x07;
	else
		return 0;
	if (n > left)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates and values past U+10FFFF */
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

bool store_utf8_valid(const char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		size_t n = utf8_seq((const unsigned char *)s + i, len - i);

		if (!n)
			return false;
		i += n;
	}
	return true;
}

char *store_utf8_sanitize(const char *text, size_t len, size_t *outlen)
{
	const unsigned char *p = (const unsigned char *)text;
	size_t bad = 0, i = 0, o = 0;
	char *out;

	while (i < len) {
		size_t n = utf8_seq(p + i, len - i);

		bad += n == 0;
		i += n ? n : 1;
	}
	/* each bad byte becomes the 3 bytes of U+FFFD */
	out = malloc(len + bad * 2 + 1);
	if (!out)
		return NULL;
	if (!bad) {
		memcpy(out, text, len);
		o = len;
	} else {
		for (i = 0; i < len;) {
			size_t n = utf8_seq(p + i, len - i);

			if (n) {
				memcpy(out + o, p + i, n);
				o += n;
				i += n;
			} else {
				memcpy(out + o, "\xef\xbf\xbd", 3);
				o += 3;
				i++;
			}
		}
	}
	out[o] = '\0';
	*outlen = o;
	return out;
}

/* ---- quotas ---- */

static struct log_quota *quota_find(struct store *st, int64_t run_id, int64_t step_id)
{
	/* newest first: the executor mostly writes the steps it created last */
	for (size_t i = st->nquotas; i-- > 0;)
		if (st->quotas[i].run_id == run_id && st->quotas[i].step_id == step_id)
			return &st->quotas[i];
	return NULL;
}

/* The quota of (run, step), read from the database on first use; also checks the step
 * belongs to the run. */
static struct log_quota *quota_get(struct store *st, int64_t run_id, int64_t step_id,
				   struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;
	struct log_quota *q = quota_find(st, run_id, step_id);
	int rc;

	if (q)
		return q;
	if (step_id)
		rc = store_prepare(st, &s,
				   "SELECT log_bytes, log_truncated FROM steps WHERE id = ?2 AND "
				   "run_id = ?1",
				   err);
	else
		rc = store_prepare(st, &s,
				   "SELECT log_bytes, log_truncated FROM runs WHERE id = ?1", err);
	if (rc < 0)
		return NULL;
	sqlite3_bind_int64(s, 1, run_id);
	if (step_id)
		sqlite3_bind_int64(s, 2, step_id);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		if (step_id)
			error_usage(err, "log: run %lld has no step with id %lld",
				    (long long)run_id, (long long)step_id);
		else
			error_usage(err, "log: no run with id %lld", (long long)run_id);
		return NULL;
	}
	if (rc != SQLITE_ROW) {
		store_db_error(st, err, "log of run %lld", (long long)run_id);
		return NULL;
	}
	if (st->nquotas == st->quotas_alloc) {
		size_t na = st->quotas_alloc ? st->quotas_alloc * 2 : 16;
		struct log_quota *nv = reallocarray(st->quotas, na, sizeof(*nv));

		if (!nv) {
			error_errno(err, "log of run %lld", (long long)run_id);
			return NULL;
		}
		st->quotas = nv;
		st->quotas_alloc = na;
	}
	q = &st->quotas[st->nquotas++];
	*q = (struct log_quota){
	    .run_id = run_id,
	    .step_id = step_id,
	    .bytes = (uint64_t)sqlite3_column_int64(s, 0),
	    .truncated = sqlite3_column_int(s, 1),
	};
	return q;
}

/* ---- buffering ---- */

static int pending_add(struct store *st, int64_t run_id, int64_t step_id, int64_t t_ms,
		       enum log_stream stream, char *text, size_t len, struct error **err)
{
	if (st->npending == st->pending_alloc) {
		size_t na = st->pending_alloc ? st->pending_alloc * 2 : 256;
		struct pending_line *nv = reallocarray(st->pending, na, sizeof(*nv));

		if (!nv) {
			free(text);
			return error_errno(err, "log of run %lld", (long long)run_id);
		}
		st->pending = nv;
		st->pending_alloc = na;
	}
	if (!st->npending)
		st->pending_since = store_now_ms();
	st->pending[st->npending++] = (struct pending_line){
	    .run_id = run_id,
	    .step_id = step_id,
	    .t_ms = t_ms,
	    .stream = stream,
	    .text = text,
	    .len = len,
	};
	st->pending_bytes += len;
	return 0;
}

static void pending_drop(struct store *st)
{
	for (size_t i = 0; i < st->npending; i++)
		free(st->pending[i].text);
	st->npending = 0;
	st->pending_bytes = 0;
}

static int add_notice(struct store *st, struct log_quota *q, int64_t t_ms, struct error **err)
{
	char size[32], msg[160];
	char *text;

	format_size(st->log_cap, size, sizeof(size));
	snprintf(msg, sizeof(msg),
		 "[slipway] log truncated: this output passed the %s cap; later lines are not kept",
		 size);
	text = strdup(msg);
	if (!text)
		return error_errno(err, "log of run %lld", (long long)q->run_id);
	q->truncated = true;
	q->dirty = true;
	return pending_add(st, q->run_id, q->step_id, t_ms, LOG_SYSTEM, text, strlen(text), err);
}

int store_log_append(struct store *st, int64_t run_id, int64_t step_id, int64_t t_ms,
		     enum log_stream stream, const char *text, size_t len, struct error **err)
{
	struct log_quota *q;
	char *copy;
	size_t clen;
	bool cut = len > LINE_MAX_BYTES;

	if (!log_stream_name(stream) || step_id < 0)
		return error_set(err, EXIT_INTERNAL, "log of run %lld: bad stream or step",
				 (long long)run_id);
	if (t_ms <= 0)
		t_ms = store_now_ms();
	q = quota_get(st, run_id, step_id, err);
	if (!q)
		return -1;
	if (q->truncated)
		return 0;
	if (cut)
		len = LINE_MAX_BYTES;
	if (q->bytes + len + 1 > st->log_cap) {
		if (add_notice(st, q, t_ms, err) < 0)
			return -1;
	} else {
		copy = store_utf8_sanitize(text, len, &clen);
		if (!copy)
			return error_errno(err, "log of run %lld", (long long)run_id);
		if (cut) {
			char *longer = realloc(copy, clen + sizeof(LINE_CUT));

			if (!longer) {
				free(copy);
				return error_errno(err, "log of run %lld", (long long)run_id);
			}
			copy = longer;
			memcpy(copy + clen, LINE_CUT, sizeof(LINE_CUT));
			clen += sizeof(LINE_CUT) - 1;
		}
		if (pending_add(st, run_id, step_id, t_ms, stream, copy, clen, err) < 0)
			return -1;
		q->bytes += len + 1;
		q->dirty = true;
	}
	if (st->npending >= FLUSH_LINES || st->pending_bytes >= FLUSH_BYTES ||
	    store_now_ms() - st->pending_since >= FLUSH_AGE_MS)
		return store_log_flush(st, err);
	return 0;
}

static int write_pending(struct store *st, struct error **err)
{
	cleanup_stmt sqlite3_stmt *ins = NULL;
	cleanup_stmt sqlite3_stmt *step = NULL;
	cleanup_stmt sqlite3_stmt *run = NULL;

	if (store_prepare(st, &ins,
			  "INSERT INTO log_lines (run_id, step_id, t_ms, stream, line) "
			  "VALUES (?1, ?2, ?3, ?4, ?5)",
			  err) < 0 ||
	    store_prepare(st, &step,
			  "UPDATE steps SET log_bytes = ?1, log_truncated = ?2 WHERE id = ?3",
			  err) < 0 ||
	    store_prepare(st, &run,
			  "UPDATE runs SET log_bytes = ?1, log_truncated = ?2 WHERE id = ?3",
			  err) < 0)
		return -1;
	for (size_t i = 0; i < st->npending; i++) {
		const struct pending_line *l = &st->pending[i];

		sqlite3_bind_int64(ins, 1, l->run_id);
		store_bind_opt_int(ins, 2, l->step_id ? l->step_id : -1);
		sqlite3_bind_int64(ins, 3, l->t_ms);
		sqlite3_bind_int(ins, 4, l->stream);
		sqlite3_bind_text(ins, 5, l->text, (int)l->len, SQLITE_STATIC);
		if (sqlite3_step(ins) != SQLITE_DONE)
			return store_db_error(st, err, "write log of run %lld",
					      (long long)l->run_id);
		sqlite3_reset(ins);
	}
	for (size_t i = 0; i < st->nquotas; i++) {
		struct log_quota *q = &st->quotas[i];
		sqlite3_stmt *s = q->step_id ? step : run;

		if (!q->dirty)
			continue;
		sqlite3_bind_int64(s, 1, (int64_t)q->bytes);
		sqlite3_bind_int(s, 2, q->truncated);
		sqlite3_bind_int64(s, 3, q->step_id ? q->step_id : q->run_id);
		if (sqlite3_step(s) != SQLITE_DONE)
			return store_db_error(st, err, "write log of run %lld",
					      (long long)q->run_id);
		sqlite3_reset(s);
	}
	return 0;
}

int store_log_flush(struct store *st, struct error **err)
{
	if (!st->npending)
		return 0;
	if (store_begin(st, err) < 0 || write_pending(st, err) < 0 || store_commit(st, err) < 0) {
		store_rollback(st);
		if (st->pending_bytes > PENDING_MAX) {
			error_wrap(err, "%zu log lines lost", st->npending);
			pending_drop(st);
		}
		return -1;
	}
	pending_drop(st);
	for (size_t i = 0; i < st->nquotas; i++)
		st->quotas[i].dirty = false;
	/* A long-lived writer (the daemon) must not collect a quota per step forever: all are
	 * in the database now and are read back on next use. */
	if (st->nquotas > 256)
		st->nquotas = 0;
	return 0;
}

void store_logs_release(struct store *st)
{
	pending_drop(st);
	free(st->pending);
	free(st->quotas);
	st->pending = NULL;
	st->quotas = NULL;
	st->pending_alloc = st->quotas_alloc = st->nquotas = 0;
}

int store_logs_read(struct store *st, int64_t run_id, int64_t step_id, int64_t after_id,
		    int (*fn)(const struct log_line *line, void *data), void *data,
		    struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;
	const char *sql;
	int count = 0, rc;

	if (step_id < 0)
		sql = "SELECT id, step_id, t_ms, stream, line FROM log_lines "
		      "WHERE run_id = ?1 AND id > ?2 ORDER BY id";
	else if (step_id == 0)
		sql = "SELECT id, step_id, t_ms, stream, line FROM log_lines "
		      "WHERE run_id = ?1 AND id > ?2 AND step_id IS NULL ORDER BY id";
	else
		sql = "SELECT id, step_id, t_ms, stream, line FROM log_lines "
		      "WHERE step_id = ?3 AND id > ?2 AND run_id = ?1 ORDER BY id";
	if (store_prepare(st, &s, sql, err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, run_id);
	sqlite3_bind_int64(s, 2, after_id);
	if (step_id > 0)
		sqlite3_bind_int64(s, 3, step_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		int stream = sqlite3_column_int(s, 3);
		struct log_line line = {
		    .id = sqlite3_column_int64(s, 0),
		    .step_id =
			sqlite3_column_type(s, 1) == SQLITE_NULL ? 0 : sqlite3_column_int64(s, 1),
		    .t_ms = sqlite3_column_int64(s, 2),
		    .stream =
			stream >= 0 && stream <= LOG_SYSTEM ? (enum log_stream)stream : LOG_SYSTEM,
		    .text = (const char *)sqlite3_column_text(s, 4),
		};

		line.len = (size_t)sqlite3_column_bytes(s, 4);
		if (!line.text)
			line.text = "";
		count++;
		if (fn(&line, data))
			return count;
	}
	if (rc != SQLITE_DONE)
		return store_db_error(st, err, "read log of run %lld", (long long)run_id);
	return count;
}
