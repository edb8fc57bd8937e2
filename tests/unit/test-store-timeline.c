/* tests/unit/test-store-timeline.c — store/timeline.c: the varint delta codec round trip (also
 * extreme values), refusal of malformed chunks, and an hour of 4 Hz samples stored in batches:
 * read back exactly, in a few chunks, small. */
#include <string.h>

#include "lib/cleanup.h"
#include "lib/fs.h"
#include "store/internal.h"
#include "tests/unit/tap.h"

/* ok() with the error's message appended, read after cond ran. */
#define OK_ERR(cond, err, ...)                                                                     \
	do {                                                                                       \
		int c_ = (cond);                                                                   \
		ok(c_, __VA_ARGS__, (err) ? (err)->msg : "");                                      \
	} while (0)

static char *tmpdir(void)
{
	char tmpl[] = "/tmp/slipway-test-store-timeline.XXXXXX";

	if (!mkdtemp(tmpl)) {
		perror("mkdtemp");
		exit(1);
	}
	return strdup(tmpl);
}

static int same(const struct timeline_sample *a, const struct timeline_sample *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].t_ms != b[i].t_ms || a[i].memory_bytes != b[i].memory_bytes ||
		    a[i].cpu_us != b[i].cpu_us)
			return 0;
	return 1;
}

static void test_codec(void)
{
	struct error *err = NULL;
	struct buf b = BUF_INIT(1 << 20);
	struct timeline_sample prev = {0}, dprev = {0};
	struct timeline_sample *out = NULL;
	size_t len = 0, alloc = 0;
	const struct timeline_sample v[] = {
	    {0, 0, 0},
	    {250, 4096, 10},
	    {500, 1 << 30, 250000},
	    {750, 4096, 250001}, /* memory falls */
	    {1000, INT64_MAX, INT64_MAX},
	    {1250, 0, 0},
	    {INT64_MAX, INT64_MAX, 1},
	};

	ok(timeline_encode(v, ARRAY_SIZE(v), &prev, &b, &err) == 0, "encode extreme samples");
	ok(timeline_decode((const uint8_t *)b.data, b.len, ARRAY_SIZE(v), &dprev, &out, &len,
			   &alloc, &err) == 0,
	   "decode them");
	ok(len == ARRAY_SIZE(v) && same(out, v, len), "the round trip is exact");
	ok(prev.t_ms == INT64_MAX && dprev.t_ms == INT64_MAX, "both ends track the last sample");

	/* malformed input */
	len = 0;
	dprev = (struct timeline_sample){0};
	ok(timeline_decode((const uint8_t *)b.data, b.len - 1, ARRAY_SIZE(v), &dprev, &out, &len,
			   &alloc, &err) < 0,
	   "a cut chunk is an error");
	error_clear(&err);
	len = 0;
	dprev = (struct timeline_sample){0};
	ok(timeline_decode((const uint8_t *)b.data, b.len, ARRAY_SIZE(v) - 1, &dprev, &out, &len,
			   &alloc, &err) < 0 &&
	       strstr(err->msg, "bytes after"),
	   "trailing bytes are an error");
	error_clear(&err);
	const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
	len = 0;
	ok(timeline_decode(junk, sizeof(junk), 1, &dprev, &out, &len, &alloc, &err) < 0,
	   "an overlong varint is an error");
	error_clear(&err);

	/* hostile bytes: every outcome is a clean result or a clean error (valgrind watches) */
	unsigned seed = 12345;
	int clean = 1;

	for (int round = 0; round < 2000; round++) {
		uint8_t rnd[64];
		size_t rl = (size_t)(rand_r(&seed) % sizeof(rnd));

		for (size_t i = 0; i < rl; i++)
			rnd[i] = (uint8_t)rand_r(&seed);
		len = 0;
		dprev = (struct timeline_sample){0};
		if (timeline_decode(rnd, rl, (size_t)(rand_r(&seed) % 30), &dprev, &out, &len,
				    &alloc, &err) < 0) {
			if (!err)
				clean = 0;
			error_clear(&err);
		}
	}
	ok(clean, "2000 random chunks decode or fail cleanly");
	free(out);
	buf_release(&b);
}

/* A step that grows its memory until its limit, with CPU ticking, sampled at 4 Hz. */
static void sample_at(size_t i, struct timeline_sample *s)
{
	s->t_ms = (int64_t)i * 250 + (int64_t)(i % 7); /* a little jitter */
	s->memory_bytes = (int64_t)(8 << 20) + (int64_t)(i / 4) * 4096 * 3;
	if (i % 400 > 380)
		s->memory_bytes -= 1 << 20; /* a garbage collection now and then */
	s->cpu_us = (int64_t)i * 240000 + (int64_t)(i % 13) * 17;
}

static void test_hour(void)
{
	char *dir = tmpdir();
	struct store *st = NULL;
	struct error *err = NULL;
	static struct timeline_sample want[14400];
	struct timeline_sample *got = NULL, batch[4];
	sqlite3_stmt *q = NULL;
	int64_t repo = 0, run = 0, step = 0, bytes = -1, chunks = -1;
	size_t n = 0, failed = 0;
	const struct run_spec spec = {
	    .commit = "0123456789abcdef0123456789abcdef01234567",
	    .event = "push",
	    .trigger = "manual",
	};

	if (store_open(dir, &st, &err) < 0) {
		diag("%s", err->msg);
		exit(1);
	}
	store_repo_ensure(st, "tl", "", &repo, &err);
	store_run_create(st, repo, &spec, &run, NULL, &err);
	store_step_create(st, run, "s", STEP_KIND_STEP, &step, &err);
	ok(store_timeline_read(st, step, &got, &n, &err) == 0 && n == 0 && !got,
	   "a new step has no samples");
	/* the executor appends each second's 4 samples */
	for (size_t i = 0; i < ARRAY_SIZE(want); i += 4) {
		for (size_t k = 0; k < 4; k++) {
			sample_at(i + k, &batch[k]);
			want[i + k] = batch[k];
		}
		if (store_timeline_append(st, step, batch, 4, &err) < 0) {
			diag("%s", err->msg);
			error_clear(&err);
			failed++;
		}
	}
	is_int(failed, 0, "3,600 appends of 4 samples");
	ok(store_timeline_read(st, step, &got, &n, &err) == 0, "read back");
	is_int(n, 14400, "14,400 samples");
	ok(n == 14400 && same(got, want, n), "exactly as appended");
	free(got);

	sqlite3_prepare_v2(
	    st->db, "SELECT sum(length(data)), count(*) FROM timeline_chunks WHERE step_id = ?1",
	    -1, &q, NULL);
	sqlite3_bind_int64(q, 1, step);
	if (sqlite3_step(q) == SQLITE_ROW) {
		bytes = sqlite3_column_int64(q, 0);
		chunks = sqlite3_column_int64(q, 1);
	}
	sqlite3_finalize(q);
	diag("1 hour at 4 Hz: %lld bytes in %lld chunks (%.1f bytes/sample)", (long long)bytes,
	     (long long)chunks, bytes / 14400.0);
	ok(bytes > 0 && bytes < 200 * 1024, "stored in under 200 KiB (%lld bytes)",
	   (long long)bytes);
	ok(chunks > 0 && chunks < 100, "in few rows (%lld chunks)", (long long)chunks);

	/* a damaged row: its sample count no longer matches its data */
	sqlite3_exec(st->db,
		     "UPDATE timeline_chunks SET n_samples = n_samples + 5 WHERE id = "
		     "(SELECT min(id) FROM timeline_chunks)",
		     NULL, NULL, NULL);
	got = NULL;
	OK_ERR(store_timeline_read(st, step, &got, &n, &err) < 0 && !got && err &&
		   strstr(err->msg, "timeline of step"),
	       err, "a damaged chunk is an error, not garbage: %s");
	error_clear(&err);

	ok(store_timeline_append(st, 987654, batch, 4, &err) < 0 && err &&
	       strstr(err->msg, "no step with id 987654"),
	   "samples of an unknown step are refused");
	error_clear(&err);
	batch[0].memory_bytes = -1;
	ok(store_timeline_append(st, step, batch, 1, &err) < 0, "a negative sample is refused");
	error_clear(&err);
	ok(store_timeline_append(st, step, batch, 0, &err) == 0, "an empty append is a no-op");
	store_close(st);
	rm_rf(dir, &err);
	free(dir);
}

int main(void)
{
	plan_lazy();
	test_codec();
	test_hour();
	return done_testing();
}
