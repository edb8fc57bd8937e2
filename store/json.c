/* store/json.c — runs, steps and deploys as JSON: the one set of field names the CLI's --json
 * output and the web API share. */
#include <stdio.h>
#include <time.h>

#include "lib/cleanup.h"
#include "store/internal.h"

void store_format_time(int64_t ms, char *out, size_t outlen)
{
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;

	if (ms < 0 || !gmtime_r(&secs, &tm)) {
		snprintf(out, outlen, "%s", "");
		return;
	}
	snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

static json_t *time_json(int64_t ms)
{
	char s[40];

	if (ms <= 0)
		return json_null();
	store_format_time(ms, s, sizeof(s));
	return json_string(s);
}

static json_t *str_json(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* -1 (unknown) is null. */
static json_t *opt_int_json(int64_t v)
{
	return v < 0 ? json_null() : json_integer(v);
}

/* Adds each pair; on any failure (out of memory, a string jansson refused) drops obj and the
 * values not yet added and returns NULL. */
static json_t *build(json_t *obj, const char *const *keys, json_t **vals, size_t n)
{
	bool failed = !obj;

	for (size_t i = 0; i < n; i++) {
		if (failed || !vals[i]) {
			json_decref(vals[i]);
			failed = true;
			continue;
		}
		if (json_object_set_new(obj, keys[i], vals[i]) < 0) /* it took vals[i] */
			failed = true;
	}
	if (failed) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

json_t *step_to_json(const struct step_info *p)
{
	static const char *const keys[] = {
	    "name",
	    "status",
	    "exit_code",
	    "oom_killed",
	    "timed_out",
	    "started_at",
	    "finished_at",
	    "memory_peak_bytes",
	    "memory_limit_bytes",
	    "cpu_us",
	    "io_read_bytes",
	    "io_write_bytes",
	};
	json_t *vals[] = {
	    json_string(p->name),
	    json_string(step_status_name(p->status)),
	    p->exit_code < 0 ? json_null() : json_integer(p->exit_code),
	    json_boolean(p->oom_killed),
	    json_boolean(p->timed_out),
	    time_json(p->started_at),
	    time_json(p->finished_at),
	    opt_int_json(p->memory_peak_bytes),
	    opt_int_json(p->memory_limit_bytes),
	    opt_int_json(p->cpu_us),
	    opt_int_json(p->io_read_bytes),
	    opt_int_json(p->io_write_bytes),
	};

	_Static_assert(ARRAY_SIZE(keys) == ARRAY_SIZE(vals), "one value per key");
	return build(json_object(), keys, vals, ARRAY_SIZE(keys));
}

json_t *run_to_json(const struct run_info *r, bool with_steps, const struct step_info *steps,
		    size_t nsteps)
{
	static const char *const keys[] = {
	    "id",	 "repo",       "number",      "commit",	     "branch",
	    "tag",	 "event",      "trigger",     "status",	     "parent",
	    "queued_at", "started_at", "finished_at", "duration_ms", "image_digest",
	};
	int64_t duration = -1;
	json_t *obj, *arr;

	if (r->started_at > 0)
		duration = (r->finished_at > 0 ? r->finished_at : store_now_ms()) - r->started_at;
	if (r->started_at > 0 && duration < 0)
		duration = 0; /* the clock went back */
	json_t *vals[] = {
	    json_integer(r->id),
	    json_string(r->repo ? r->repo : ""),
	    json_integer(r->number),
	    json_string(r->commit ? r->commit : ""),
	    str_json(r->branch),
	    str_json(r->tag),
	    json_string(r->event ? r->event : ""),
	    json_string(r->trigger ? r->trigger : ""),
	    json_string(run_status_name(r->status)),
	    r->parent > 0 ? json_integer(r->parent) : json_null(),
	    time_json(r->queued_at),
	    time_json(r->started_at),
	    time_json(r->finished_at),
	    opt_int_json(duration),
	    str_json(r->image_digest),
	};

	_Static_assert(ARRAY_SIZE(keys) == ARRAY_SIZE(vals), "one value per key");
	obj = build(json_object(), keys, vals, ARRAY_SIZE(keys));
	if (!obj || !with_steps)
		return obj;
	arr = json_array();
	if (!arr || json_object_set_new(obj, "steps", arr) < 0) {
		json_decref(obj);
		return NULL;
	}
	for (size_t i = 0; i < nsteps; i++)
		if (json_array_append_new(arr, step_to_json(&steps[i])) < 0) {
			json_decref(obj);
			return NULL;
		}
	return obj;
}

json_t *deploy_to_json(const struct deploy_record *d)
{
	static const char *const keys[] = {
	    "name",	"kind",	      "status",	     "http_status",
	    "attempts", "started_at", "finished_at", "error",
	};
	json_t *vals[] = {
	    json_string(d->name ? d->name : ""),
	    json_string(deploy_kind_name(d->kind)),
	    json_string(step_status_name(d->status)),
	    d->http_status > 0 ? json_integer(d->http_status) : json_null(),
	    json_integer(d->attempts),
	    time_json(d->started_at),
	    time_json(d->finished_at),
	    str_json(d->error),
	};

	_Static_assert(ARRAY_SIZE(keys) == ARRAY_SIZE(vals), "one value per key");
	return build(json_object(), keys, vals, ARRAY_SIZE(keys));
}
