/* store/timeline.c — a step's resource timeline (memory in use and CPU time, ~4 samples a
 * second) stored compactly as delta-encoded varint chunks; see store.h for the format. */
#include <errno.h>
#include <string.h>

#include "lib/cleanup.h"
#include "store/internal.h"

/* A chunk stops growing past this many bytes: an append rewrites at most this much. */
#define CHUNK_TARGET 4096
/* The most samples one append may pass. */
#define CHUNK_MAX_SAMPLES (1u << 20)

static int put_varint(struct buf *out, int64_t v, struct error **err)
{
	/* zigzag: small negative and positive deltas both encode in few bytes */
	uint64_t z = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
	uint8_t b[10];
	size_t n = 0;

	do {
		b[n] = z & 0x7f;
		z >>= 7;
		if (z)
			b[n] |= 0x80;
		n++;
	} while (z);
	return buf_append(out, b, n, err);
}

static int get_varint(const uint8_t *p, size_t len, size_t *off, int64_t *v)
{
	uint64_t z = 0;

	for (unsigned shift = 0; shift < 70; shift += 7) {
		uint8_t c;

		if (*off >= len)
			return -1;
		c = p[(*off)++];
		if (shift == 63 && c > 1)
			return -1;
		z |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80)) {
			*v = (int64_t)(z >> 1) ^ -(int64_t)(z & 1);
			return 0;
		}
	}
	return -1;
}

int timeline_encode(const struct timeline_sample *v, size_t n, struct timeline_sample *prev,
		    struct buf *out, struct error **err)
{
	for (size_t i = 0; i < n; i++) {
		if (put_varint(out, (int64_t)((uint64_t)v[i].t_ms - (uint64_t)prev->t_ms), err) <
			0 ||
		    put_varint(
			out, (int64_t)((uint64_t)v[i].memory_bytes - (uint64_t)prev->memory_bytes),
			err) < 0 ||
		    put_varint(out, (int64_t)((uint64_t)v[i].cpu_us - (uint64_t)prev->cpu_us),
			       err) < 0)
			return -1;
		*prev = v[i];
	}
	return 0;
}

int timeline_decode(const uint8_t *data, size_t len, size_t n, struct timeline_sample *prev,
		    struct timeline_sample **v, size_t *vlen, size_t *valloc, struct error **err)
{
	size_t off = 0;

	for (size_t i = 0; i < n; i++) {
		int64_t dt, dm, dc;

		if (get_varint(data, len, &off, &dt) < 0 || get_varint(data, len, &off, &dm) < 0 ||
		    get_varint(data, len, &off, &dc) < 0)
			return error_set(err, EXIT_INTERNAL,
					 "timeline chunk: malformed at byte %zu of %zu", off, len);
		if (*vlen == *valloc) {
			size_t na = *valloc ? *valloc * 2 : 256;
			struct timeline_sample *nv = reallocarray(*v, na, sizeof(**v));

			if (!nv)
				return error_errno(err, "read timeline");
			*v = nv;
			*valloc = na;
		}
		prev->t_ms = (int64_t)((uint64_t)prev->t_ms + (uint64_t)dt);
		prev->memory_bytes = (int64_t)((uint64_t)prev->memory_bytes + (uint64_t)dm);
		prev->cpu_us = (int64_t)((uint64_t)prev->cpu_us + (uint64_t)dc);
		(*v)[(*vlen)++] = *prev;
	}
	if (off != len)
		return error_set(err, EXIT_INTERNAL, "timeline chunk: %zu bytes after %zu samples",
				 len - off, n);
	return 0;
}

int store_timeline_append(struct store *st, int64_t step_id, const struct timeline_sample *v,
			  size_t n, struct error **err)
{
	cleanup_stmt sqlite3_stmt *last = NULL;
	cleanup_stmt sqlite3_stmt *put = NULL;
	struct buf data;
	struct timeline_sample prev = {0};
	int64_t chunk_id = -1, count = 0;
	int rc;

	if (n == 0)
		return 0;
	if (n > CHUNK_MAX_SAMPLES)
		return error_set(err, EXIT_INTERNAL, "timeline of step %lld: %zu samples at once",
				 (long long)step_id, n);
	/* a sample encodes in at most 3 * 10 bytes */
	buf_init(&data, CHUNK_TARGET + n * 30);
	for (size_t i = 0; i < n; i++)
		if (v[i].t_ms < 0 || v[i].memory_bytes < 0 || v[i].cpu_us < 0)
			return error_set(err, EXIT_INTERNAL,
					 "timeline of step %lld: negative sample",
					 (long long)step_id);
	if (store_prepare(st, &last,
			  "SELECT id, n_samples, last_t, last_memory, last_cpu, data "
			  "FROM timeline_chunks WHERE step_id = ?1 ORDER BY id DESC LIMIT 1",
			  err) < 0)
		return -1;
	if (store_begin(st, err) < 0)
		return error_wrap(err, "timeline of step %lld", (long long)step_id);
	sqlite3_bind_int64(last, 1, step_id);
	rc = sqlite3_step(last);
	if (rc == SQLITE_ROW && sqlite3_column_bytes(last, 5) < CHUNK_TARGET) {
		chunk_id = sqlite3_column_int64(last, 0);
		count = sqlite3_column_int64(last, 1);
		prev.t_ms = sqlite3_column_int64(last, 2);
		prev.memory_bytes = sqlite3_column_int64(last, 3);
		prev.cpu_us = sqlite3_column_int64(last, 4);
		if (buf_append(&data, sqlite3_column_blob(last, 5),
			       (size_t)sqlite3_column_bytes(last, 5), err) < 0)
			goto fail;
	} else if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_db_error(st, err, "timeline of step %lld", (long long)step_id);
		goto fail;
	}
	sqlite3_reset(last);
	/* A large batch makes a larger chunk; the next append starts a new one. */
	if (timeline_encode(v, n, &prev, &data, err) < 0)
		goto fail;
	count += (int64_t)n;
	if (chunk_id >= 0)
		rc = store_prepare(st, &put,
				   "UPDATE timeline_chunks SET n_samples = ?2, last_t = ?3, "
				   "last_memory = ?4, last_cpu = ?5, data = ?6 WHERE id = ?1",
				   err);
	else
		rc = store_prepare(st, &put,
				   "INSERT INTO timeline_chunks (step_id, n_samples, last_t, "
				   "last_memory, last_cpu, data) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
				   err);
	if (rc < 0)
		goto fail;
	sqlite3_bind_int64(put, 1, chunk_id >= 0 ? chunk_id : step_id);
	sqlite3_bind_int64(put, 2, count);
	sqlite3_bind_int64(put, 3, prev.t_ms);
	sqlite3_bind_int64(put, 4, prev.memory_bytes);
	sqlite3_bind_int64(put, 5, prev.cpu_us);
	sqlite3_bind_blob(put, 6, data.data, (int)data.len, SQLITE_STATIC);
	if (sqlite3_step(put) != SQLITE_DONE) {
		if (sqlite3_extended_errcode(st->db) == SQLITE_CONSTRAINT_FOREIGNKEY)
			error_usage(err, "timeline: no step with id %lld", (long long)step_id);
		else
			store_db_error(st, err, "timeline of step %lld", (long long)step_id);
		goto fail;
	}
	if (store_commit(st, err) < 0)
		goto out;
	buf_release(&data);
	return 0;
fail:
	store_rollback(st);
out:
	buf_release(&data);
	return -1;
}

int store_timeline_read(struct store *st, int64_t step_id, struct timeline_sample **out, size_t *n,
			struct error **err)
{
	cleanup_stmt sqlite3_stmt *s = NULL;
	struct timeline_sample *v = NULL;
	size_t len = 0, alloc = 0;
	int rc;

	*out = NULL;
	*n = 0;
	if (store_prepare(
		st, &s,
		"SELECT n_samples, data FROM timeline_chunks WHERE step_id = ?1 ORDER BY id",
		err) < 0)
		return -1;
	sqlite3_bind_int64(s, 1, step_id);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		struct timeline_sample prev = {0};
		int64_t count = sqlite3_column_int64(s, 0);
		const uint8_t *blob = sqlite3_column_blob(s, 1);
		size_t bytes = (size_t)sqlite3_column_bytes(s, 1);

		if (count < 0 || (uint64_t)count * 3 > bytes) {
			free(v);
			return error_set(err, EXIT_INTERNAL, "timeline of step %lld: damaged chunk",
					 (long long)step_id);
		}
		if (timeline_decode(blob, bytes, (size_t)count, &prev, &v, &len, &alloc, err) < 0) {
			free(v);
			return error_wrap(err, "timeline of step %lld", (long long)step_id);
		}
	}
	if (rc != SQLITE_DONE) {
		free(v);
		return store_db_error(st, err, "timeline of step %lld", (long long)step_id);
	}
	*out = v;
	*n = len;
	return 0;
}
