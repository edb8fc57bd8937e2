/* scheduler/executor.c — one run: checkout, image, services, the step DAG, push, deploys.
 *
 * One executor per run. The main thread prepares everything, then schedules the DAG: it
 * starts a thread per ready step (up to max_parallel) and waits on a condition variable for
 * steps to end. Each container gets a reader thread that splits its output into lines, masks
 * secrets, stores and shows them, and samples the container's usage for the timeline.
 * The store connection is shared by these threads under store_mu (SQLite serialises anyway;
 * the mutex keeps buffered log lines and statuses in one order).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "lib/buf.h"
#include "lib/cleanup.h"
#include "lib/fs.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "lib/proc.h"
#include "pipelines/pipeline.h"
#include "runner/image/image.h"
#include "scheduler/checkout.h"
#include "scheduler/deploy.h"
#include "scheduler/executor.h"
#include "scheduler/mask.h"

#include "runner/build/build.h"
#include "runner/registry.h"

#define PIPELINE_FILE ".slipway.yml"
#define LINE_MAX_BYTES (64 * 1024) /* longer output lines are split */
#define SAMPLE_INTERVAL_MS 250
#define FLUSH_INTERVAL_MS 500

enum node_state { NODE_PENDING, NODE_RUNNING, NODE_DONE };

/* A step, service or command deploy: what runs in one container. */
struct node {
	const char *name;
	enum step_kind kind;
	const char *image; /* expanded image reference, NULL = the built image */
	const struct pipeline_strv *commands;
	const struct pipeline_env *env;
	size_t n_env;
	struct pipeline_resources resources;
	const char *user;
	uint64_t timeout_ms;
	const struct pipeline_strv *cache;
	enum pipeline_network network;
	bool privileged;
	bool failure_ignore;

	int64_t step_id;
	enum node_state state;
	enum step_status status;
	struct container *ctr; /* while it runs; under ex->mu */
	pthread_t thread;
	bool joinable;	      /* thread created, not yet joined */
	bool skip_propagates; /* skipped because a dependency did not pass */
	struct executor *ex;
	size_t index;
};

/* Reads one container's stdout and stderr (or the builder's progress) into log lines. */
struct reader {
	struct executor *ex;
	const char *step; /* NULL: the run's own lines */
	int64_t step_id;
	int fds[2];
	enum log_stream streams[2];
	struct container *ctr; /* sampled for the timeline, may be NULL */
	pthread_t thread;
	bool started;
	int64_t t0;
};

struct executor {
	struct executor_opts o;
	pthread_mutex_t mu;	  /* scheduler state, node->ctr, cancelled */
	pthread_cond_t cond;	  /* a node finished, or cancel */
	pthread_mutex_t store_mu; /* the store and the observer */
	volatile sig_atomic_t cancelled;
	struct container *build_ctr; /* the builder's RUN container, under mu */

	struct store *store;
	struct image_store *images;
	struct container_host *host;
	struct masker *masker;
	struct pipeline *pipeline;
	char *pipeline_text;
	struct pipeline_vars vars;
	struct commit_info commit;
	char *repo_name;
	char *branch;
	char *tag;
	const char *event;
	bool trusted;

	int64_t run_id;
	int64_t number;
	char *work_dir;	 /* $DATA/work/<run> */
	char *workspace; /* .../workspace */
	char *cache_dir; /* $DATA/cache/<repo> */
	int netns_fd;
	char **extra_hosts;
	size_t n_extra_hosts;
	int lease;

	char *built_image; /* local reference of the built image */
	char *built_digest;
	char *pushed_image; /* the pushed reference (SLIPWAY_IMAGE) */

	struct node *services;
	size_t n_services;
	struct reader *service_readers;
	struct node *steps;
	size_t n_steps;
	struct pipeline_dag dag;
	size_t running;
	bool torn_down;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- output ------------------------------------------------------------------------------ */

/* Stores and shows one line (masking it first). Any thread. */
static void emit_line(struct executor *ex, const char *step, int64_t step_id, int64_t t_ms,
		      enum log_stream stream, const char *text, size_t len)
{
	cleanup_free char *masked = NULL;
	size_t mlen = len;
	struct error *err = NULL;

	if (ex->masker) {
		masked = masker_apply(ex->masker, text, len, &mlen);
		if (!masked)
			return;
		text = masked;
	}
	pthread_mutex_lock(&ex->store_mu);
	if (ex->run_id &&
	    store_log_append(ex->store, ex->run_id, step_id, t_ms, stream, text, mlen, &err) < 0) {
		log_warn("store a log line: %s", err->msg);
		error_free(err);
	}
	if (ex->o.observer.log_line)
		ex->o.observer.log_line(ex->o.observer.data, step, stream, text, mlen);
	pthread_mutex_unlock(&ex->store_mu);
}

/* A line of the run itself ("[slipway] ..."). */
static void sysline(struct executor *ex, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void sysline(struct executor *ex, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	emit_line(ex, NULL, 0, 0, LOG_SYSTEM, line, strlen(line));
}

static void step_line(struct executor *ex, const struct node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void step_line(struct executor *ex, const struct node *n, const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	emit_line(ex, n->name, n->step_id, 0, LOG_SYSTEM, line, strlen(line));
}

static void set_step(struct executor *ex, struct node *n, const struct step_result *r,
		     const struct container_result *res)
{
	struct error *err = NULL;

	pthread_mutex_lock(&ex->store_mu);
	if (store_step_update(ex->store, n->step_id, r, &err) < 0) {
		log_warn("record step '%s': %s", n->name, err->msg);
		error_free(err);
	}
	if (ex->o.observer.step_status)
		ex->o.observer.step_status(ex->o.observer.data, n->name, n->kind, r->status, res);
	pthread_mutex_unlock(&ex->store_mu);
	n->status = r->status;
}

static void flush_logs(struct executor *ex)
{
	struct error *err = NULL;

	pthread_mutex_lock(&ex->store_mu);
	if (ex->store && store_log_flush(ex->store, &err) < 0) {
		log_warn("flush logs: %s", err->msg);
		error_free(err);
	}
	pthread_mutex_unlock(&ex->store_mu);
}

struct linebuf {
	char *data;
	size_t len;
};

/* Emits the complete lines of lb (all of it when final). */
static void drain_lines(struct reader *rd, struct linebuf *lb, enum log_stream stream, bool final)
{
	size_t start = 0;

	for (size_t i = 0; i < lb->len; i++) {
		if (lb->data[i] != '\n')
			continue;
		emit_line(rd->ex, rd->step, rd->step_id, 0, stream, lb->data + start, i - start);
		start = i + 1;
	}
	if (lb->len - start >= LINE_MAX_BYTES || (final && lb->len > start)) {
		emit_line(rd->ex, rd->step, rd->step_id, 0, stream, lb->data + start,
			  lb->len - start);
		start = lb->len;
	}
	memmove(lb->data, lb->data + start, lb->len - start);
	lb->len -= start;
}

static void sample(struct reader *rd)
{
	struct container_result now;
	struct timeline_sample s;
	struct error *err = NULL;

	if (!rd->ctr || container_sample(rd->ctr, &now, &err) < 0) {
		error_free(err);
		return;
	}
	s.t_ms = mono_ms() - rd->t0;
	s.memory_bytes = (int64_t)now.memory_peak_bytes;
	s.cpu_us = (int64_t)(now.cpu_user_us + now.cpu_system_us);
	pthread_mutex_lock(&rd->ex->store_mu);
	if (store_timeline_append(rd->ex->store, rd->step_id, &s, 1, &err) < 0) {
		log_debug("timeline of '%s': %s", rd->step, err->msg);
		error_free(err);
	}
	pthread_mutex_unlock(&rd->ex->store_mu);
}

static void *reader_main(void *arg)
{
	struct reader *rd = arg;
	struct linebuf lb[2] = {{malloc(LINE_MAX_BYTES + 4096), 0},
				{malloc(LINE_MAX_BYTES + 4096), 0}};
	struct pollfd pfd[2];
	int open_fds = 0;
	int64_t next_sample = mono_ms();

	for (int i = 0; i < 2; i++) {
		pfd[i].fd = rd->fds[i];
		pfd[i].events = POLLIN;
		open_fds += rd->fds[i] >= 0;
	}
	if (!lb[0].data || !lb[1].data)
		goto out;
	while (open_fds > 0) {
		int timeout = rd->ctr ? (int)(next_sample - mono_ms()) : -1;

		if (rd->ctr && timeout <= 0) {
			sample(rd);
			next_sample = mono_ms() + SAMPLE_INTERVAL_MS;
			timeout = SAMPLE_INTERVAL_MS;
		}
		if (poll(pfd, 2, timeout) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < 2; i++) {
			ssize_t r;

			if (pfd[i].fd < 0 || !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR)))
				continue;
			r = read(pfd[i].fd, lb[i].data + lb[i].len,
				 LINE_MAX_BYTES + 4096 - lb[i].len);
			if (r < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (r <= 0) {
				drain_lines(rd, &lb[i], rd->streams[i], true);
				close(pfd[i].fd);
				pfd[i].fd = -1;
				rd->fds[i] = -1;
				open_fds--;
				continue;
			}
			lb[i].len += (size_t)r;
			drain_lines(rd, &lb[i], rd->streams[i], false);
		}
	}
	if (rd->ctr)
		sample(rd);
out:
	for (int i = 0; i < 2; i++) {
		if (rd->fds[i] >= 0)
			close(rd->fds[i]);
		rd->fds[i] = -1;
		free(lb[i].data);
	}
	return NULL;
}

static int reader_start(struct reader *rd, struct error **err)
{
	int r;

	rd->t0 = mono_ms();
	r = pthread_create(&rd->thread, NULL, reader_main, rd);
	if (r)
		return error_errnum(err, r, "start an output reader");
	rd->started = true;
	return 0;
}

static void reader_join(struct reader *rd)
{
	if (rd->started)
		pthread_join(rd->thread, NULL);
	rd->started = false;
	for (int i = 0; i < 2; i++)
		if (rd->fds[i] >= 0) {
			close(rd->fds[i]);
			rd->fds[i] = -1;
		}
}

/* ---- variables, secrets -------------------------------------------------------------------- */

static const char *secret_value(const struct executor *ex, const char *name)
{
	size_t n = strlen(name);

	for (char *const *s = ex->o.secrets; s && *s; s++)
		if (!strncmp(*s, name, n) && (*s)[n] == '=')
			return *s + n + 1;
	return NULL;
}

/* Every from_secret of the pipeline must be given: checked before anything runs. */
static int check_env_secrets(const struct executor *ex, const struct pipeline_env *env, size_t n,
			     const char *where, struct error **err)
{
	for (size_t i = 0; i < n; i++)
		if (env[i].secret && !secret_value(ex, env[i].secret))
			return error_usage(err,
					   "%s needs secret '%s', which is not set (pass --secret "
					   "%s=VALUE)",
					   where, env[i].secret, env[i].secret);
	return 0;
}

static int check_secrets(const struct executor *ex, struct error **err)
{
	const struct pipeline *p = ex->pipeline;
	char where[300];

	for (size_t i = 0; i < p->n_steps; i++) {
		snprintf(where, sizeof(where), "step '%s'", p->steps[i].name);
		if (check_env_secrets(ex, p->steps[i].env, p->steps[i].n_env, where, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < p->n_services; i++) {
		snprintf(where, sizeof(where), "service '%s'", p->services[i].name);
		if (check_env_secrets(ex, p->services[i].env, p->services[i].n_env, where, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < p->n_deploys; i++) {
		const struct pipeline_deploy *d = &p->deploys[i];

		snprintf(where, sizeof(where), "deploy '%s'", d->name);
		if (check_env_secrets(ex, d->env, d->n_env, where, err) < 0)
			return -1;
		if (d->webhook_url && check_env_secrets(ex, &d->webhook_secret, 1, where, err) < 0)
			return -1;
	}
	return 0;
}

static int make_masker(struct executor *ex, struct error **err)
{
	size_t n = 0, i = 0;
	cleanup_free const char **values = NULL;

	for (char *const *s = ex->o.secrets; s && *s; s++)
		n++;
	values = calloc(n + 1, sizeof(*values));
	if (!values)
		return error_errnum(err, ENOMEM, "mask secrets");
	for (char *const *s = ex->o.secrets; s && *s; s++) {
		const char *eq = strchr(*s, '=');

		if (!eq || eq == *s)
			return error_usage(err, "secret '%s' is not NAME=VALUE", "(hidden)");
		values[i++] = eq + 1;
	}
	return masker_new(values, n, &ex->masker, err);
}

static int set_var(struct executor *ex, const char *k, const char *v, struct error **err)
{
	return pipeline_vars_set(&ex->vars, k, v ? v : "", err);
}

static int set_vars(struct executor *ex, struct error **err)
{
	char num[32], short_sha[9], epoch[32];

	snprintf(num, sizeof(num), "%lld", (long long)ex->number);
	snprintf(short_sha, sizeof(short_sha), "%.8s", ex->commit.sha);
	snprintf(epoch, sizeof(epoch), "%lld", (long long)ex->commit.time);
	if (set_var(ex, "CI", "true", err) < 0 || set_var(ex, "SLIPWAY", "true", err) < 0 ||
	    set_var(ex, "SLIPWAY_REPO", ex->repo_name, err) < 0 ||
	    set_var(ex, "SLIPWAY_COMMIT", ex->commit.sha, err) < 0 ||
	    set_var(ex, "SLIPWAY_COMMIT_SHORT", short_sha, err) < 0 ||
	    set_var(ex, "SLIPWAY_BRANCH", ex->branch, err) < 0 ||
	    set_var(ex, "SLIPWAY_TAG", ex->tag, err) < 0 ||
	    set_var(ex, "SLIPWAY_EVENT", ex->event, err) < 0 ||
	    set_var(ex, "SLIPWAY_RUN", num, err) < 0 ||
	    set_var(ex, "SOURCE_DATE_EPOCH", epoch, err) < 0 ||
	    /* Woodpecker's names, for scripts written for it */
	    set_var(ex, "CI_REPO", ex->repo_name, err) < 0 ||
	    set_var(ex, "CI_REPO_NAME", ex->repo_name, err) < 0 ||
	    set_var(ex, "CI_COMMIT_SHA", ex->commit.sha, err) < 0 ||
	    set_var(ex, "CI_COMMIT_SHORT_SHA", short_sha, err) < 0 ||
	    set_var(ex, "CI_COMMIT_BRANCH", ex->branch, err) < 0 ||
	    set_var(ex, "CI_COMMIT_TAG", ex->tag, err) < 0 ||
	    set_var(ex, "CI_COMMIT_MESSAGE", ex->commit.subject, err) < 0 ||
	    set_var(ex, "CI_COMMIT_AUTHOR", ex->commit.author, err) < 0 ||
	    set_var(ex, "CI_PIPELINE_EVENT", ex->event, err) < 0 ||
	    set_var(ex, "CI_PIPELINE_NUMBER", num, err) < 0 ||
	    set_var(ex, "CI_WORKSPACE", "/workspace", err) < 0)
		return -1;
	return 0;
}

/* ---- images ------------------------------------------------------------------------------ */

/* Finds ref in the store, pulling it first when it is not there. */
static int resolve_image(struct executor *ex, const char *ref, struct image **out,
			 struct error **err)
{
	struct registry_opts ro;

	registry_opts_init(&ro, ex->o.data_dir);
	ro.progress = false;
	if (registry_ensure_image(ex->images, ref, &ro, err) < 0)
		return error_wrap(err, "image '%s'", ref);
	return image_lookup(ex->images, ref, out, err);
}

/* ---- one container ----------------------------------------------------------------------- */

/* Appends a shell-quoted copy of s. */
static int sh_quote(struct buf *b, const char *s, struct error **err)
{
	if (buf_putc(b, '\'', err) < 0)
		return -1;
	for (; *s; s++) {
		if (*s == '\'') {
			if (buf_puts(b, "'\\''", err) < 0)
				return -1;
		} else if (buf_putc(b, *s, err) < 0) {
			return -1;
		}
	}
	return buf_putc(b, '\'', err);
}

/* The script of a step: each command echoed (as `+ cmd`, like sh -x) then run; the first
 * failure ends it. Commands are expanded with the run's variables first. */
static char *make_script(struct executor *ex, const struct pipeline_strv *cmds, struct error **err)
{
	struct buf b = BUF_INIT(4u << 20);

	if (buf_puts(&b, "set -e\n", err) < 0)
		goto fail;
	for (size_t i = 0; i < cmds->n; i++) {
		cleanup_free char *c = pipeline_expand(cmds->v[i], &ex->vars, err);

		if (!c)
			goto fail;
		if (buf_puts(&b, "printf '+ %s\\n' ", err) < 0 || sh_quote(&b, c, err) < 0 ||
		    buf_printf(&b, err, "\n%s\n", c) < 0)
			goto fail;
	}
	return buf_steal(&b);
fail:
	buf_release(&b);
	return NULL;
}

struct strv {
	char **v;
	size_t n, cap;
};

static int strv_push(struct strv *s, char *item, struct error **err)
{
	if (!item)
		return error_errnum(err, ENOMEM, "build a container's environment");
	if (s->n + 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 16;
		char **v = realloc(s->v, cap * sizeof(*v));

		if (!v) {
			free(item);
			return error_errnum(err, ENOMEM, "build a container's environment");
		}
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = item;
	s->v[s->n] = NULL;
	return 0;
}

static void strv_release(struct strv *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Sets K=V, replacing an earlier K. */
static int env_set(struct strv *env, const char *k, const char *v, struct error **err)
{
	size_t kl = strlen(k);
	char *item = NULL;

	if (asprintf(&item, "%s=%s", k, v) < 0)
		item = NULL;
	if (!item)
		return error_errnum(err, ENOMEM, "build a container's environment");
	for (size_t i = 0; i < env->n; i++)
		if (!strncmp(env->v[i], k, kl) && env->v[i][kl] == '=') {
			free(env->v[i]);
			env->v[i] = item;
			return 0;
		}
	return strv_push(env, item, err);
}

static int make_env(struct executor *ex, const struct node *n, char **image_env, struct strv *env,
		    struct error **err)
{
	for (char **e = image_env; e && *e; e++)
		if (strv_push(env, strdup(*e), err) < 0)
			return -1;
	for (size_t i = 0; i < ex->vars.n; i++)
		if (env_set(env, ex->vars.v[i].key, ex->vars.v[i].value, err) < 0)
			return -1;
	for (size_t i = 0; i < n->n_env; i++) {
		const struct pipeline_env *pe = &n->env[i];

		if (pe->secret) {
			if (env_set(env, pe->name, secret_value(ex, pe->secret), err) < 0)
				return -1;
		} else {
			cleanup_free char *v = pipeline_expand(pe->value, &ex->vars, err);

			if (!v || env_set(env, pe->name, v, err) < 0)
				return error_wrap(err, "environment '%s'", pe->name);
		}
	}
	return 0;
}

static void merge_resources(struct limits *lim, const struct pipeline_resources *r)
{
	if (r->has_memory)
		lim->memory = r->memory;
	if (r->has_memory_soft)
		lim->memory_soft = r->memory_soft;
	if (r->has_swap)
		lim->swap = r->swap;
	if (r->has_cpus)
		lim->cpus = r->cpus;
	if (r->has_cpu_weight)
		lim->cpu_weight = r->cpu_weight;
	if (r->has_cpuset && r->cpuset)
		snprintf(lim->cpuset, sizeof(lim->cpuset), "%s", r->cpuset);
	if (r->has_pids)
		lim->pids = r->pids;
}

/* A cache entry is a path inside the workspace that persists across runs of the repo. */
static int cache_mounts(struct executor *ex, const struct node *n, struct container_mount *m,
			char **paths, struct error **err)
{
	for (size_t i = 0; n->cache && i < n->cache->n; i++) {
		const char *c = n->cache->v[i];
		cleanup_free char *key = strdup(c);
		cleanup_free char *inside = NULL;

		if (!key)
			return error_errnum(err, ENOMEM, "cache '%s'", c);
		if (!*c || *c == '/' || strstr(c, "..") || strlen(c) > 200)
			return error_usage(err,
					   "step '%s': cache '%s' must be a relative path inside "
					   "the workspace, without '..'",
					   n->name, c);
		for (char *p = key; *p; p++)
			if (!isalnum((unsigned char)*p) && *p != '.' && *p != '-' && *p != '_')
				*p = '_';
		if (asprintf(&paths[2 * i], "%s/%s", ex->cache_dir, key) < 0 ||
		    asprintf(&paths[2 * i + 1], "/workspace/%s", c) < 0 ||
		    asprintf(&inside, "%s/%s", ex->workspace, c) < 0)
			return error_errnum(err, ENOMEM, "cache '%s'", c);
		if (mkdir_p(paths[2 * i], 0755, err) < 0 || mkdir_p(inside, 0755, err) < 0)
			return error_wrap(err, "cache '%s'", c);
		m[i].source = paths[2 * i];
		m[i].target = paths[2 * i + 1];
		m[i].read_only = false;
	}
	return 0;
}

/* Starts n's container with its output going to rd. Caller waits and frees. */
static int node_start(struct executor *ex, struct node *n, struct reader *rd,
		      struct container **out, struct error **err)
{
	struct image *img = NULL;
	struct image_exec x = {0};
	char **lower = NULL;
	size_t n_lower = 0;
	struct strv env = {0}, argv = {0};
	cleanup_free char *script = NULL;
	struct container_spec spec = {0};
	struct container_mount mounts[1 + 32];
	char *cache_paths[64] = {0};
	cleanup_free char *image_ref = NULL;
	int pout[2] = {-1, -1}, perr[2] = {-1, -1};
	int r = -1;

	if (n->image) {
		image_ref = pipeline_expand(n->image, &ex->vars, err);
		if (!image_ref)
			return error_wrap(err, "image of '%s'", n->name);
	} else if (ex->built_image) {
		image_ref = strdup(ex->built_image);
	} else {
		return error_usage(err, "'%s' has no image and the pipeline builds none", n->name);
	}
	if (!image_ref)
		return error_errnum(err, ENOMEM, "start '%s'", n->name);
	if (resolve_image(ex, image_ref, &img, err) < 0 || image_exec_config(img, &x, err) < 0 ||
	    image_rootfs(ex->images, img, &lower, &n_lower, err) < 0)
		goto out;
	if (make_env(ex, n, x.env, &env, err) < 0)
		goto out;
	if (n->commands && n->commands->n) {
		script = make_script(ex, n->commands, err);
		if (!script || strv_push(&argv, strdup("/bin/sh"), err) < 0 ||
		    strv_push(&argv, strdup("-c"), err) < 0 ||
		    strv_push(&argv, strdup(script), err) < 0)
			goto out;
	} else {
		for (char **a = x.entrypoint; a && *a; a++)
			if (strv_push(&argv, strdup(*a), err) < 0)
				goto out;
		for (char **a = x.cmd; a && *a; a++)
			if (strv_push(&argv, strdup(*a), err) < 0)
				goto out;
		if (!argv.n) {
			error_usage(err, "'%s' has no commands and image '%s' no command", n->name,
				    image_ref);
			goto out;
		}
	}
	if (n->cache && n->cache->n > 32) {
		error_usage(err, "step '%s': at most 32 caches", n->name);
		goto out;
	}
	mounts[0] = (struct container_mount){ex->workspace, "/workspace", false};
	if (cache_mounts(ex, n, mounts + 1, cache_paths, err) < 0)
		goto out;
	if (pipe2(pout, O_CLOEXEC) < 0 || pipe2(perr, O_CLOEXEC) < 0) {
		error_errno(err, "make pipes for '%s'", n->name);
		goto out;
	}

	spec.name = n->name;
	spec.lower_dirs = lower;
	spec.n_lower = n_lower;
	spec.argv = argv.v;
	spec.env = env.v;
	spec.workdir = "/workspace";
	spec.user = n->user ? n->user : x.user;
	spec.hostname = n->name;
	merge_resources(&spec.limits, &ex->pipeline->defaults);
	merge_resources(&spec.limits, &n->resources);
	spec.mounts = mounts;
	spec.n_mounts = 1 + (n->cache ? n->cache->n : 0);
	switch (n->network) {
	case PIPELINE_NET_NONE:
		spec.network = CONTAINER_NET_NONE;
		break;
	case PIPELINE_NET_HOST:
		if (!ex->trusted) {
			error_usage(
			    err,
			    "'%s' asks for the host's network, which only trusted repos may "
			    "use",
			    n->name);
			goto out;
		}
		spec.network = CONTAINER_NET_HOST;
		break;
	default:
		spec.network = CONTAINER_NET_JOIN;
		spec.netns_fd = ex->netns_fd;
		spec.extra_hosts = ex->extra_hosts;
	}
	if (n->privileged) {
		static char *const all_caps[] = {"ALL", NULL};

		if (!ex->trusted) {
			error_usage(err,
				    "'%s' asks to be privileged, which only trusted repos may be",
				    n->name);
			goto out;
		}
		spec.cap_add = all_caps;
	}
	spec.timeout_ms = n->timeout_ms ? n->timeout_ms : ex->pipeline->default_timeout_ms;
	spec.stdin_fd = -1;
	spec.stdout_fd = pout[1];
	spec.stderr_fd = perr[1];
	if (container_start(ex->host, &spec, out, err) < 0) {
		error_wrap(err, "start '%s'", n->name);
		goto out;
	}
	close(pout[1]);
	close(perr[1]);
	pout[1] = perr[1] = -1;
	rd->ex = ex;
	rd->step = n->name;
	rd->step_id = n->step_id;
	rd->fds[0] = pout[0];
	rd->fds[1] = perr[0];
	rd->streams[0] = LOG_STDOUT;
	rd->streams[1] = LOG_STDERR;
	rd->ctr = *out;
	pout[0] = perr[0] = -1;
	if (reader_start(rd, err) < 0) {
		container_stop(*out);
		container_free(*out);
		*out = NULL;
		goto out;
	}
	r = 0;
out:
	for (int i = 0; i < 2; i++) {
		if (pout[i] >= 0)
			close(pout[i]);
		if (perr[i] >= 0)
			close(perr[i]);
	}
	for (size_t i = 0; i < 64; i++)
		free(cache_paths[i]);
	strv_release(&env);
	strv_release(&argv);
	image_strv_free(lower, n_lower);
	image_exec_release(&x);
	image_free(img);
	return r;
}

static void result_to_step(const struct container_result *res, enum step_status status,
			   struct step_result *r)
{
	*r = STEP_RESULT_INIT(status);
	r->exit_code = res->exit_code;
	r->oom_killed = res->oom_killed;
	r->timed_out = res->timed_out;
	r->memory_peak_bytes = (int64_t)res->memory_peak_bytes;
	r->memory_limit_bytes = res->memory_limit ? (int64_t)res->memory_limit : -1;
	r->cpu_us = (int64_t)(res->cpu_user_us + res->cpu_system_us);
	r->io_read_bytes = (int64_t)res->io_read_bytes;
	r->io_write_bytes = (int64_t)res->io_write_bytes;
}

/* $DATA/work/<run>/pids/<name>: "<pid> <start time>" of the container's init while it
 * runs, for `slipway exec`. */
static void pid_file(struct executor *ex, const struct node *n, struct container *c)
{
	cleanup_free char *dir = NULL, *path = NULL;
	struct error *err = NULL;
	char line[64];

	if (asprintf(&dir, "%s/pids", ex->work_dir) < 0 ||
	    asprintf(&path, "%s/%s", dir, n->name) < 0) {
		log_warn("'%s' cannot be reached by 'slipway exec': out of memory", n->name);
		return;
	}
	if (!c) {
		unlink(path);
		return;
	}
	snprintf(line, sizeof(line), "%d %lld\n", (int)container_pid(c),
		 (long long)proc_start_time(container_pid(c)));
	if (mkdir_p(dir, 0700, &err) < 0 ||
	    write_file_atomic(path, line, strlen(line), 0600, &err) < 0) {
		log_warn("'%s' cannot be reached by 'slipway exec': %s", n->name, err->msg);
		error_free(err);
	}
}

/* Runs n to its end and records the outcome. */
static void node_run(struct executor *ex, struct node *n)
{
	struct reader rd = {.fds = {-1, -1}};
	struct container *c = NULL;
	struct container_result res = {0};
	struct step_result sr;
	struct error *err = NULL;
	enum step_status status;
	char sz[32];

	set_step(ex, n, &STEP_RESULT_INIT(STEP_RUNNING), NULL);
	if (node_start(ex, n, &rd, &c, &err) < 0) {
		step_line(ex, n, "[slipway] %s", err->msg);
		error_free(err);
		sr = STEP_RESULT_INIT(STEP_ERROR);
		set_step(ex, n, &sr, NULL);
		return;
	}
	pthread_mutex_lock(&ex->mu);
	n->ctr = c;
	if (ex->cancelled)
		container_stop(c);
	pthread_mutex_unlock(&ex->mu);
	pid_file(ex, n, c);

	if (container_wait(c, &res, &err) < 0) {
		step_line(ex, n, "[slipway] %s", err->msg);
		error_free(err);
		container_stop(c);
	}
	reader_join(&rd);
	pid_file(ex, n, NULL);
	pthread_mutex_lock(&ex->mu);
	n->ctr = NULL;
	pthread_mutex_unlock(&ex->mu);
	container_free(c);

	if (res.stopped || ex->cancelled)
		status = STEP_CANCELLED;
	else if (res.exit_code == 0 && !res.oom_killed && !res.timed_out)
		status = STEP_PASSED;
	else
		status = STEP_FAILED;
	if (res.oom_killed) {
		format_size(res.memory_limit, sz, sizeof(sz));
		step_line(ex, n, "[slipway] '%s' ran out of memory (limit %s)", n->name, sz);
	}
	if (res.timed_out) {
		format_duration(n->timeout_ms ? n->timeout_ms : ex->pipeline->default_timeout_ms,
				sz, sizeof(sz));
		step_line(ex, n, "[slipway] '%s' timed out after %s", n->name, sz);
	}
	if (res.pids_limit_hit)
		step_line(ex, n, "[slipway] '%s' reached its process limit", n->name);
	if (status == STEP_FAILED && !res.oom_killed && !res.timed_out)
		step_line(ex, n, "[slipway] '%s' exited with status %d", n->name, res.exit_code);
	flush_logs(ex);
	result_to_step(&res, status, &sr);
	set_step(ex, n, &sr, &res);
}

/* ---- the DAG ------------------------------------------------------------------------------ */

static void *step_thread(void *arg)
{
	struct node *n = arg;
	struct executor *ex = n->ex;

	node_run(ex, n);
	pthread_mutex_lock(&ex->mu);
	n->state = NODE_DONE;
	ex->running--;
	pthread_cond_broadcast(&ex->cond);
	pthread_mutex_unlock(&ex->mu);
	return NULL;
}

static struct pipeline_event run_event(const struct executor *ex)
{
	return (struct pipeline_event){.branch = ex->branch,
				       .tag = ex->tag,
				       .event = ex->event,
				       .paths = ex->commit.changed,
				       .n_paths = ex->commit.n_changed};
}

/* Whether step i may start (1), must be skipped (-1) or waits (0). */
static int step_ready(struct executor *ex, size_t i)
{
	for (size_t k = 0; k < ex->dag.n_deps[i]; k++) {
		const struct node *d = &ex->steps[ex->dag.deps[i][k]];

		if (d->state != NODE_DONE)
			return 0;
		if (d->status == STEP_FAILED || d->status == STEP_ERROR ||
		    d->status == STEP_CANCELLED) {
			if (!d->failure_ignore || d->status != STEP_FAILED)
				return -1;
		}
		if (d->status == STEP_SKIPPED && d->skip_propagates)
			return -1;
	}
	return 1;
}

static void skip_node(struct executor *ex, struct node *n, const char *why, bool dep_failed)
{
	step_line(ex, n, "[slipway] skipped: %s", why);
	set_step(ex, n, &STEP_RESULT_INIT(STEP_SKIPPED), NULL);
	n->state = NODE_DONE;
	n->skip_propagates = dep_failed;
}

static int run_dag(struct executor *ex, struct error **err)
{
	size_t done = 0;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	size_t max = ex->o.max_parallel > 0 ? (size_t)ex->o.max_parallel
		     : ncpu > 0		    ? (size_t)ncpu
					    : 1;
	struct pipeline_event ev = run_event(ex);

	pthread_mutex_lock(&ex->mu);
	while (done < ex->n_steps) {
		bool progress = false;

		/* Reap the steps that ended. */
		for (size_t i = 0; i < ex->n_steps; i++) {
			struct node *n = &ex->steps[i];

			if (n->state == NODE_DONE && n->joinable) {
				n->joinable = false;
				pthread_mutex_unlock(&ex->mu);
				pthread_join(n->thread, NULL);
				pthread_mutex_lock(&ex->mu);
				done++;
				progress = true;
			}
		}
		/* Start, skip or cancel the pending ones that can move. */
		for (size_t i = 0; i < ex->n_steps; i++) {
			struct node *n = &ex->steps[i];
			const struct pipeline_step *ps = &ex->pipeline->steps[i];
			int ready;

			if (n->state != NODE_PENDING)
				continue;
			if (ex->cancelled) {
				n->state = NODE_DONE;
				pthread_mutex_unlock(&ex->mu);
				set_step(ex, n, &STEP_RESULT_INIT(STEP_CANCELLED), NULL);
				pthread_mutex_lock(&ex->mu);
				done++;
				progress = true;
				continue;
			}
			ready = step_ready(ex, i);
			if (ready == 0)
				continue;
			if (ready < 0 || (ps->when.set && !pipeline_when_matches(&ps->when, &ev))) {
				pthread_mutex_unlock(&ex->mu);
				skip_node(ex, n,
					  ready < 0 ? "a step it depends on did not pass"
						    : "its 'when' does not match",
					  ready < 0);
				pthread_mutex_lock(&ex->mu);
				done++;
				progress = true;
				continue;
			}
			if (ex->running >= max)
				continue;
			n->state = NODE_RUNNING;
			n->ex = ex;
			if (pthread_create(&n->thread, NULL, step_thread, n) != 0) {
				n->state = NODE_PENDING;
				pthread_mutex_unlock(&ex->mu);
				return error_errno(err, "start a thread for step '%s'", n->name);
			}
			n->joinable = true;
			ex->running++;
			progress = true;
		}
		if (!progress && done < ex->n_steps) {
			struct timespec ts;

			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += FLUSH_INTERVAL_MS * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&ex->cond, &ex->mu, &ts);
			pthread_mutex_unlock(&ex->mu);
			flush_logs(ex);
			pthread_mutex_lock(&ex->mu);
		}
	}
	pthread_mutex_unlock(&ex->mu);
	return 0;
}

/* ---- services ------------------------------------------------------------------------------ */

static int start_services(struct executor *ex, struct error **err)
{
	ex->service_readers = calloc(ex->n_services + 1, sizeof(*ex->service_readers));
	if (!ex->service_readers)
		return error_errnum(err, ENOMEM, "start services");
	for (size_t i = 0; i < ex->n_services; i++) {
		struct node *n = &ex->services[i];
		struct reader *rd = &ex->service_readers[i];
		struct container *c = NULL;

		rd->fds[0] = rd->fds[1] = -1;
		set_step(ex, n, &STEP_RESULT_INIT(STEP_RUNNING), NULL);
		if (node_start(ex, n, rd, &c, err) < 0) {
			set_step(ex, n, &STEP_RESULT_INIT(STEP_ERROR), NULL);
			return error_wrap(err, "service '%s'", n->name);
		}
		pthread_mutex_lock(&ex->mu);
		n->ctr = c;
		pthread_mutex_unlock(&ex->mu);
		pid_file(ex, n, c);
		sysline(ex, "[slipway] service '%s' started", n->name);
	}
	return 0;
}

/* Services end with the run: stopped, then recorded. A service that died early failed. */
static void stop_services(struct executor *ex)
{
	for (size_t i = 0; i < ex->n_services; i++) {
		struct node *n = &ex->services[i];
		struct container_result res = {0};
		struct step_result sr;
		struct error *err = NULL;
		struct container *c;

		pthread_mutex_lock(&ex->mu);
		c = n->ctr;
		n->ctr = NULL;
		pthread_mutex_unlock(&ex->mu);
		if (!c)
			continue;
		container_stop(c);
		if (container_wait(c, &res, &err) < 0)
			error_free(err);
		reader_join(&ex->service_readers[i]);
		container_free(c);
		result_to_step(&res,
			       res.stopped     ? STEP_PASSED
			       : res.exit_code ? STEP_FAILED
					       : STEP_PASSED,
			       &sr);
		set_step(ex, n, &sr, &res);
	}
}

/* ---- image: build and push ------------------------------------------------------------------ */

static char *local_image_name(const char *repo)
{
	char *s = malloc(strlen(repo) + 1), *o = s;

	if (!s)
		return NULL;
	for (const char *p = repo; *p; p++) {
		char c = (char)tolower((unsigned char)*p);

		*o++ = isalnum((unsigned char)c) || c == '/' || c == '-' || c == '_' || c == '.'
			   ? c
			   : '-';
	}
	*o = '\0';
	while (o > s && !isalnum((unsigned char)o[-1]))
		*--o = '\0';
	if (!*s) {
		free(s);
		return strdup("slipway-image");
	}
	return s;
}

/* The builder tells which RUN container runs, so that a cancel can stop it. */
static void on_build_container(struct container *c, void *arg)
{
	struct executor *ex = arg;

	pthread_mutex_lock(&ex->mu);
	ex->build_ctr = c;
	if (c && ex->cancelled)
		container_stop(c);
	pthread_mutex_unlock(&ex->mu);
}

/* A pipe whose read end feeds a reader; the write end as a FILE for the builder. */
static FILE *progress_pipe(struct executor *ex, struct node *n, struct reader *rd,
			   struct error **err)
{
	int p[2];
	FILE *f;

	if (pipe2(p, O_CLOEXEC) < 0) {
		error_errno(err, "make a pipe for the build output");
		return NULL;
	}
	f = fdopen(p[1], "w");
	if (!f) {
		error_errno(err, "make a pipe for the build output");
		close(p[0]);
		close(p[1]);
		return NULL;
	}
	setvbuf(f, NULL, _IOLBF, 0);
	*rd = (struct reader){.ex = ex,
			      .step = n->name,
			      .step_id = n->step_id,
			      .fds = {p[0], -1},
			      .streams = {LOG_STDOUT, LOG_STDERR}};
	if (reader_start(rd, err) < 0) {
		fclose(f);
		close(p[0]);
		return NULL;
	}
	return f;
}

/* The tags of the built image, expanded: "NAME:TAG" locally, and "PUSH:TAG" when pushing. */
static int image_tags(struct executor *ex, struct strv *local, struct strv *push,
		      struct error **err)
{
	const struct pipeline_image *pi = &ex->pipeline->image;
	cleanup_free char *name = local_image_name(ex->repo_name);
	cleanup_free char *repo = NULL;
	char short_sha[9];

	if (!name)
		return error_errnum(err, ENOMEM, "image tags");
	if (pi->push && !(repo = pipeline_expand(pi->push, &ex->vars, err)))
		return error_wrap(err, "image push");
	snprintf(short_sha, sizeof(short_sha), "%.8s", ex->commit.sha);
	for (size_t i = 0; i < (pi->tags.n ? pi->tags.n : 1); i++) {
		cleanup_free char *t =
		    pi->tags.n ? pipeline_expand(pi->tags.v[i], &ex->vars, err) : strdup(short_sha);
		char *ref = NULL;

		if (!t)
			return error_wrap(err, "image tag");
		if (asprintf(&ref, "%s:%s", name, t) < 0 || strv_push(local, ref, err) < 0)
			return error_errnum(err, ENOMEM, "image tags");
		if (repo) {
			if (asprintf(&ref, "%s:%s", repo, t) < 0 || strv_push(push, ref, err) < 0)
				return error_errnum(err, ENOMEM, "image tags");
		}
	}
	return 0;
}

static int build_pipeline_image(struct executor *ex, struct node *n, struct error **err)
{
	struct strv local = {0}, push = {0}, all = {0};
	int r = -1;

	if (image_tags(ex, &local, &push, err) < 0)
		goto out;
	ex->built_image = strdup(local.v[0]);
	ex->pushed_image = strdup(push.n ? push.v[0] : local.v[0]);
	if (!ex->built_image || !ex->pushed_image) {
		error_errnum(err, ENOMEM, "build");
		goto out;
	}
	if (set_var(ex, "SLIPWAY_IMAGE", ex->pushed_image, err) < 0)
		goto out;
	for (size_t i = 0; i < local.n; i++)
		if (strv_push(&all, strdup(local.v[i]), err) < 0)
			goto out;
	for (size_t i = 0; i < push.n; i++)
		if (strv_push(&all, strdup(push.v[i]), err) < 0)
			goto out;
	{
		const struct pipeline_image *pi = &ex->pipeline->image;
		struct build_opts bo = {0};
		struct reader rd = {.fds = {-1, -1}};
		struct strv args = {0};
		cleanup_free char *ctx = NULL, *df = NULL;
		char digest[72] = "";
		FILE *prog;

		if (strstr(pi->context ? pi->context : ".", "..") ||
		    strstr(pi->dockerfile ? pi->dockerfile : "Dockerfile", "..")) {
			error_usage(err, "image: context and dockerfile must stay inside the repo");
			goto out;
		}
		if (asprintf(&ctx, "%s/%s", ex->workspace, pi->context ? pi->context : ".") < 0 ||
		    asprintf(&df, "%s/%s", ex->workspace,
			     pi->dockerfile ? pi->dockerfile : "Dockerfile") < 0) {
			error_errnum(err, ENOMEM, "build");
			goto out;
		}
		for (size_t i = 0; i < pi->n_args; i++) {
			cleanup_free char *v = pipeline_expand(pi->args[i].value, &ex->vars, err);
			char *kv = NULL;

			if (!v || asprintf(&kv, "%s=%s", pi->args[i].key, v) < 0 ||
			    strv_push(&args, kv, err) < 0) {
				strv_release(&args);
				goto out;
			}
		}
		prog = progress_pipe(ex, n, &rd, err);
		if (!prog) {
			strv_release(&args);
			goto out;
		}
		bo.context_dir = ctx;
		bo.dockerfile = df;
		bo.target = pi->target;
		bo.build_args = args.v;
		bo.tags = all.v;
		bo.source_date_epoch = ex->commit.time;
		bo.progress = prog;
		bo.cancel = &ex->cancelled;
		bo.on_container = on_build_container;
		bo.on_container_arg = ex;
		merge_resources(&bo.limits, &ex->pipeline->defaults);
		set_step(ex, n, &STEP_RESULT_INIT(STEP_RUNNING), NULL);
		r = build_image(ex->host, ex->images, &bo, digest, err);
		fclose(prog);
		reader_join(&rd);
		strv_release(&args);
		if (r < 0) {
			step_line(ex, n, "[slipway] %s", (*err)->msg);
			goto out;
		}
		ex->built_digest = strdup(digest);
		pthread_mutex_lock(&ex->store_mu);
		if (store_run_set_image_digest(ex->store, ex->run_id, digest, err) < 0) {
			pthread_mutex_unlock(&ex->store_mu);
			r = -1;
			goto out;
		}
		pthread_mutex_unlock(&ex->store_mu);
		step_line(ex, n, "[slipway] built %s (%s)", ex->built_image, digest);
	}
	r = 0;
out:
	strv_release(&local);
	strv_release(&push);
	strv_release(&all);
	return r;
}

static int push_pipeline_image(struct executor *ex, struct node *n, struct error **err)
{
	struct strv local = {0}, push = {0};
	int r = -1;

	if (image_tags(ex, &local, &push, err) < 0)
		goto out;
	for (size_t i = 0; i < push.n; i++) {
		struct registry_opts ro;
		char digest[72];

		registry_opts_init(&ro, ex->o.data_dir);
		ro.progress = false;
		step_line(ex, n, "[slipway] pushing %s", push.v[i]);
		if (registry_push_image(ex->images, push.v[i], NULL, &ro, digest, err) < 0)
			goto out;
		step_line(ex, n, "[slipway] pushed %s@%s", push.v[i], digest);
	}
	r = 0;
out:
	strv_release(&local);
	strv_release(&push);
	return r;
}

/* ---- deploys ------------------------------------------------------------------------------ */

static int webhook_deploy(struct executor *ex, const struct pipeline_deploy *d,
			  struct deploy_record *rec)
{
	struct deploy_webhook w = {0};
	struct deploy_result res = {0};
	struct error *err = NULL;
	cleanup_free char *url = pipeline_expand(d->webhook_url, &ex->vars, &err);
	cleanup_free char *body = NULL;
	cleanup_free char *secret = NULL;
	char delivery[160];
	json_t *payload;

	if (!url)
		goto fail;
	if (d->webhook_secret.secret)
		secret = strdup(secret_value(ex, d->webhook_secret.secret));
	else if (d->webhook_secret.value)
		secret = strdup(d->webhook_secret.value);
	payload = deploy_payload(ex->repo_name, ex->commit.sha, ex->branch, ex->tag, ex->number,
				 ex->pushed_image, ex->built_digest, "passed", d->name);
	body = payload ? json_dumps(payload, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
	json_decref(payload);
	if (!body) {
		error_errnum(&err, ENOMEM, "deploy payload");
		goto fail;
	}
	snprintf(delivery, sizeof(delivery), "run-%lld-%s", (long long)ex->run_id, d->name);
	w.url = url;
	w.secret = secret;
	w.delivery = delivery;
	sysline(ex, "[slipway] deploy '%s': POST %s", d->name, url);
	if (deploy_webhook_send(&w, body, strlen(body), &res, &err) < 0) {
		rec->http_status = res.http_status;
		rec->attempts = res.attempts;
		goto fail;
	}
	rec->http_status = res.http_status;
	rec->attempts = res.attempts;
	rec->status = STEP_PASSED;
	sysline(ex, "[slipway] deploy '%s': %d after %d attempt(s)", d->name, res.http_status,
		res.attempts);
	return 0;
fail:
	rec->status = STEP_FAILED;
	rec->error = strdup(err->msg);
	sysline(ex, "[slipway] deploy '%s' failed: %s", d->name, err->msg);
	error_free(err);
	return -1;
}

static int run_deploys(struct executor *ex)
{
	struct pipeline_event ev = run_event(ex);
	int failed = 0;

	for (size_t i = 0; i < ex->pipeline->n_deploys && !ex->cancelled; i++) {
		const struct pipeline_deploy *d = &ex->pipeline->deploys[i];
		struct deploy_record rec = {.run_id = ex->run_id,
					    .name = d->name,
					    .kind =
						d->webhook_url ? DEPLOY_WEBHOOK : DEPLOY_COMMAND};
		struct error *err = NULL;

		if (d->when.set && !pipeline_when_matches(&d->when, &ev)) {
			sysline(ex, "[slipway] deploy '%s' skipped: its 'when' does not match",
				d->name);
			continue;
		}
		rec.started_at = now_ms();
		if (d->webhook_url) {
			failed |= webhook_deploy(ex, d, &rec) < 0;
		} else {
			struct node n = {.name = d->name,
					 .kind = STEP_KIND_DEPLOY,
					 .image = d->image,
					 .commands = &d->commands,
					 .env = d->env,
					 .n_env = d->n_env,
					 .network = PIPELINE_NET_RUN,
					 .ex = ex};

			pthread_mutex_lock(&ex->store_mu);
			if (store_step_create(ex->store, ex->run_id, d->name, STEP_KIND_DEPLOY,
					      &n.step_id, &err) < 0) {
				pthread_mutex_unlock(&ex->store_mu);
				sysline(ex, "[slipway] deploy '%s': %s", d->name, err->msg);
				error_free(err);
				failed = 1;
				continue;
			}
			pthread_mutex_unlock(&ex->store_mu);
			node_run(ex, &n);
			rec.status = n.status;
			failed |= n.status != STEP_PASSED;
		}
		rec.finished_at = now_ms();
		rec.attempts = rec.attempts ? rec.attempts : 1;
		pthread_mutex_lock(&ex->store_mu);
		if (store_deploy_record(ex->store, ex->run_id, &rec, &rec.id, &err) < 0) {
			log_warn("record deploy '%s': %s", d->name, err->msg);
			error_free(err);
		}
		pthread_mutex_unlock(&ex->store_mu);
		free(rec.error);
	}
	return failed ? -1 : 0;
}

/* ---- the run ------------------------------------------------------------------------------ */

int executor_new(const struct executor_opts *opts, struct executor **out, struct error **err)
{
	struct executor *ex = calloc(1, sizeof(*ex));

	if (!ex)
		return error_errnum(err, ENOMEM, "start a run");
	ex->o = *opts;
	ex->netns_fd = -1;
	ex->lease = -1;
	pthread_mutex_init(&ex->mu, NULL);
	pthread_mutex_init(&ex->store_mu, NULL);
	pthread_cond_init(&ex->cond, NULL);
	*out = ex;
	return 0;
}

void executor_cancel(struct executor *ex)
{
	pthread_mutex_lock(&ex->mu);
	ex->cancelled = 1;
	for (size_t i = 0; i < ex->n_steps; i++)
		if (ex->steps[i].ctr)
			container_stop(ex->steps[i].ctr);
	if (ex->build_ctr)
		container_stop(ex->build_ctr);
	pthread_cond_broadcast(&ex->cond);
	pthread_mutex_unlock(&ex->mu);
}

static char *basename_of(const char *path)
{
	size_t len = strlen(path);
	const char *b;

	while (len > 1 && path[len - 1] == '/')
		len--;
	b = memrchr(path, '/', len);
	b = b ? b + 1 : path;
	if (len - (size_t)(b - path) > 4 && !strncmp(path + len - 4, ".git", 4))
		len -= 4;
	return strndup(b, len - (size_t)(b - path));
}

/* Reads and validates the pipeline of the commit. */
static int load_pipeline(struct executor *ex, struct error **err)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	r = commit_read_file(ex->o.repo_path, ex->commit.sha, PIPELINE_FILE, 1u << 20, &text, &len,
			     err);
	if (r < 0)
		return -1;
	if (r == 0)
		return error_usage(err, "commit '%.12s' of '%s' has no %s", ex->commit.sha,
				   ex->o.repo_path, PIPELINE_FILE);
	ex->pipeline_text = text;
	return pipeline_parse(text, len, PIPELINE_FILE, &ex->pipeline, err);
}

static void node_from_step(struct node *n, const struct pipeline_step *s)
{
	n->name = s->name;
	n->kind = STEP_KIND_STEP;
	n->image = s->image;
	n->commands = &s->commands;
	n->env = s->env;
	n->n_env = s->n_env;
	n->resources = s->resources;
	n->user = s->user;
	n->timeout_ms = s->timeout_ms;
	n->cache = &s->cache;
	n->network = s->network;
	n->privileged = s->privileged;
	n->failure_ignore = s->failure_ignore;
}

static void node_from_service(struct node *n, const struct pipeline_service *s)
{
	n->name = s->name;
	n->kind = STEP_KIND_SERVICE;
	n->image = s->image;
	n->commands = &s->commands;
	n->env = s->env;
	n->n_env = s->n_env;
	n->resources = s->resources;
	n->network = PIPELINE_NET_RUN;
}

/* Checks what can be checked before a run is recorded: secrets, images. */
static int preflight(struct executor *ex, struct error **err)
{
	const struct pipeline *p = ex->pipeline;

	if (check_secrets(ex, err) < 0)
		return -1;
	for (size_t i = 0; i < p->n_steps; i++)
		if (!p->steps[i].image && !p->has_image)
			return error_usage(err,
					   "%s:%d:%d: step '%s' has no image and the pipeline "
					   "builds none (add 'image:' to the step or the pipeline)",
					   PIPELINE_FILE, p->steps[i].line, p->steps[i].col,
					   p->steps[i].name);
	for (size_t i = 0; i < p->n_deploys; i++)
		if (!p->deploys[i].webhook_url && !p->deploys[i].image && !p->has_image)
			return error_usage(err,
					   "%s:%d:%d: deploy '%s' has no image and the pipeline "
					   "builds none",
					   PIPELINE_FILE, p->deploys[i].line, p->deploys[i].col,
					   p->deploys[i].name);
	return 0;
}

static int create_step_rows(struct executor *ex, struct node *build, struct error **err)
{
	if (build && store_step_create(ex->store, ex->run_id, build->name, STEP_KIND_BUILD,
				       &build->step_id, err) < 0)
		return -1;
	for (size_t i = 0; i < ex->n_services; i++)
		if (store_step_create(ex->store, ex->run_id, ex->services[i].name,
				      STEP_KIND_SERVICE, &ex->services[i].step_id, err) < 0)
			return -1;
	for (size_t i = 0; i < ex->n_steps; i++)
		if (store_step_create(ex->store, ex->run_id, ex->steps[i].name, STEP_KIND_STEP,
				      &ex->steps[i].step_id, err) < 0)
			return -1;
	return 0;
}

static int record_run(struct executor *ex, struct error **err)
{
	cleanup_free char *url = realpath(ex->o.repo_path, NULL);
	struct run_spec spec = {.commit = ex->commit.sha,
				.branch = ex->branch,
				.tag = ex->tag,
				.event = ex->event,
				.trigger = ex->o.trigger ? ex->o.trigger : "manual",
				.parent = ex->o.parent,
				.pipeline = ex->pipeline_text};
	struct repo_info *repo = NULL;
	struct run_info *run = NULL;
	int64_t repo_id;

	if (store_open(ex->o.data_dir, &ex->store, err) < 0 ||
	    store_repo_ensure(ex->store, ex->repo_name, url ? url : ex->o.repo_path, &repo_id,
			      err) < 0 ||
	    store_repo_get(ex->store, ex->repo_name, &repo, err) < 0)
		return -1;
	ex->trusted = repo && repo->trusted;
	repo_info_free(repo);
	if (store_run_create(ex->store, repo_id, &spec, &ex->run_id, &ex->number, err) < 0 ||
	    store_run_set_status(ex->store, ex->run_id, RUN_RUNNING, NULL, err) < 0)
		return -1;
	if (ex->o.observer.run_started && store_run_get(ex->store, ex->run_id, &run, err) == 0 &&
	    run) {
		const struct pipeline *p = ex->pipeline;
		size_t n = 0;
		char **names =
		    calloc(p->n_steps + p->n_services + p->n_deploys + 2, sizeof(char *));

		if (names) {
			if (p->has_image)
				names[n++] = "image";
			for (size_t i = 0; i < p->n_services; i++)
				names[n++] = p->services[i].name;
			for (size_t i = 0; i < p->n_steps; i++)
				names[n++] = p->steps[i].name;
			for (size_t i = 0; i < p->n_deploys; i++)
				names[n++] = p->deploys[i].name;
		}
		ex->o.observer.run_started(ex->o.observer.data, run, names, n);
		free(names);
		run_info_free(run);
	}
	return 0;
}

static int prepare_run(struct executor *ex, struct error **err)
{
	const struct pipeline *p = ex->pipeline;
	cleanup_free char *cache_key = local_image_name(ex->repo_name);
	int64_t t0 = mono_ms();

	if (!cache_key)
		return error_errnum(err, ENOMEM, "prepare the run");
	for (char *c = cache_key; *c; c++)
		if (*c == '/')
			*c = '_';
	if (asprintf(&ex->work_dir, "%s/work/%lld", ex->o.data_dir, (long long)ex->run_id) < 0 ||
	    asprintf(&ex->workspace, "%s/workspace", ex->work_dir) < 0 ||
	    asprintf(&ex->cache_dir, "%s/cache/%s", ex->o.data_dir, cache_key) < 0)
		return error_errnum(err, ENOMEM, "prepare the run");
	if (mkdir_p(ex->work_dir, 0700, err) < 0)
		return -1;
	if (checkout_commit(ex->o.repo_path, ex->commit.sha, ex->workspace, err) < 0)
		return -1;
	sysline(ex, "[slipway] checked out %.12s (%s) in %lld ms", ex->commit.sha,
		ex->commit.subject ? ex->commit.subject : "", (long long)(mono_ms() - t0));
	if (container_host_open(ex->o.data_dir, &ex->host, err) < 0 ||
	    image_store_open(ex->o.data_dir, &ex->images, err) < 0)
		return -1;
	ex->lease = image_store_lease(ex->images, err);
	if (ex->lease < 0)
		return -1;
	if (container_netns_create(&ex->netns_fd, err) < 0)
		return error_wrap(err, "the run's network");
	ex->extra_hosts = calloc(p->n_services + 1, sizeof(char *));
	if (!ex->extra_hosts)
		return error_errnum(err, ENOMEM, "prepare the run");
	for (size_t i = 0; i < p->n_services; i++) {
		if (asprintf(&ex->extra_hosts[i], "127.0.0.1 %s", p->services[i].name) < 0)
			return error_errnum(err, ENOMEM, "prepare the run");
		ex->n_extra_hosts++;
	}
	return 0;
}

static void teardown(struct executor *ex)
{
	struct error *err = NULL;

	if (ex->torn_down)
		return;
	ex->torn_down = true;
	stop_services(ex);
	if (ex->netns_fd >= 0)
		close(ex->netns_fd);
	ex->netns_fd = -1;
	if (ex->lease >= 0)
		image_store_unlease(ex->lease);
	ex->lease = -1;
	if (ex->work_dir && !ex->o.keep_workspace && rm_rf(ex->work_dir, &err) < 0) {
		log_warn("remove the workspace: %s", err->msg);
		error_free(err);
	}
}

static void finish(struct executor *ex, enum run_status status, const char *why,
		   struct executor_result *res)
{
	struct error *err = NULL;

	flush_logs(ex);
	pthread_mutex_lock(&ex->store_mu);
	if (store_run_set_status(ex->store, ex->run_id, status, why, &err) < 0) {
		log_error("record the end of run %lld: %s", (long long)ex->run_id, err->msg);
		error_free(err);
	}
	pthread_mutex_unlock(&ex->store_mu);
	res->status = status;
	if (why)
		res->error = strdup(why);
}

static int resolve(struct executor *ex, struct error **err)
{
	const char *rev = ex->o.rev ? ex->o.rev : "HEAD";

	if (commit_resolve(ex->o.repo_path, rev, &ex->commit, err) < 0) {
		(*err)->exit_code = EXIT_USAGE;
		return -1;
	}
	if (ex->o.branch)
		ex->branch = strdup(ex->o.branch);
	else if (!strcmp(rev, "HEAD"))
		ex->branch = repo_head_branch(ex->o.repo_path, NULL);
	if (ex->o.tag)
		ex->tag = strdup(ex->o.tag);
	ex->event = ex->o.event ? ex->o.event : ex->tag ? "tag" : "manual";
	ex->repo_name = ex->o.repo_name ? strdup(ex->o.repo_name) : NULL;
	if (!ex->repo_name) {
		cleanup_free char *abs = realpath(ex->o.repo_path, NULL);

		ex->repo_name = basename_of(abs ? abs : ex->o.repo_path);
	}
	if (!ex->repo_name)
		return error_errnum(err, ENOMEM, "run");
	return 0;
}

int executor_run(struct executor *ex, struct executor_result *res, struct error **err)
{
	const struct pipeline *p;
	struct node build = {.name = "image", .kind = STEP_KIND_BUILD};
	struct pipeline_event ev;
	struct error *e = NULL;
	bool failed = false;

	memset(res, 0, sizeof(*res));
	if (resolve(ex, err) < 0 || load_pipeline(ex, err) < 0 || preflight(ex, err) < 0)
		return -1;
	p = ex->pipeline;
	ev = run_event(ex);
	if (p->when.set && !pipeline_when_matches(&p->when, &ev)) {
		res->skipped = true;
		return 0;
	}
	if (make_masker(ex, err) < 0)
		return -1;
	ex->services = calloc(p->n_services + 1, sizeof(*ex->services));
	ex->steps = calloc(p->n_steps + 1, sizeof(*ex->steps));
	if (!ex->services || !ex->steps)
		return error_errnum(err, ENOMEM, "run");
	ex->n_services = p->n_services;
	ex->n_steps = p->n_steps;
	for (size_t i = 0; i < p->n_services; i++)
		node_from_service(&ex->services[i], &p->services[i]);
	for (size_t i = 0; i < p->n_steps; i++) {
		node_from_step(&ex->steps[i], &p->steps[i]);
		ex->steps[i].ex = ex;
		ex->steps[i].index = i;
	}
	if (pipeline_dag_build(p, &ex->dag, err) < 0)
		return -1;

	if (record_run(ex, err) < 0)
		return -1;
	res->run_id = ex->run_id;
	res->number = ex->number;
	if (set_vars(ex, &e) < 0 || create_step_rows(ex, p->has_image ? &build : NULL, &e) < 0 ||
	    prepare_run(ex, &e) < 0)
		goto error;
	if (!p->has_image) {
		/* nothing to build */
	} else if (build_pipeline_image(ex, &build, &e) < 0) {
		struct step_result sr =
		    STEP_RESULT_INIT(e->exit_code == EXIT_INTERNAL ? STEP_ERROR : STEP_FAILED);

		set_step(ex, &build, &sr, NULL);
		if (e->exit_code == EXIT_INTERNAL)
			goto error;
		sysline(ex, "[slipway] image build failed: %s", e->msg);
		error_free(e);
		e = NULL;
		failed = true;
	} else {
		set_step(ex, &build, &STEP_RESULT_INIT(STEP_PASSED), NULL);
	}
	if (!failed && !ex->cancelled) {
		if (start_services(ex, &e) < 0)
			goto error;
		if (run_dag(ex, &e) < 0)
			goto error;
	} else {
		for (size_t i = 0; i < ex->n_steps; i++)
			set_step(ex, &ex->steps[i], &STEP_RESULT_INIT(STEP_SKIPPED), NULL);
		for (size_t i = 0; i < ex->n_services; i++)
			set_step(ex, &ex->services[i], &STEP_RESULT_INIT(STEP_SKIPPED), NULL);
	}
	for (size_t i = 0; i < ex->n_steps; i++)
		if ((ex->steps[i].status == STEP_FAILED && !ex->steps[i].failure_ignore) ||
		    ex->steps[i].status == STEP_ERROR)
			failed = true;
	stop_services(ex);
	if (!failed && !ex->cancelled && p->has_image && p->image.push && !ex->o.no_push) {
		if (push_pipeline_image(ex, &build, &e) < 0) {
			sysline(ex, "[slipway] push failed: %s", e->msg);
			error_free(e);
			e = NULL;
			failed = true;
		}
	}
	if (!failed && !ex->cancelled && !ex->o.no_deploy && run_deploys(ex) < 0)
		failed = true;
	teardown(ex);
	finish(ex, ex->cancelled ? RUN_CANCELLED : failed ? RUN_FAILED : RUN_PASSED, NULL, res);
	return 0;
error:
	sysline(ex, "[slipway] %s", e->msg);
	for (size_t i = 0; i < ex->n_steps; i++)
		if (!step_status_is_final(ex->steps[i].status) && ex->steps[i].step_id)
			set_step(ex, &ex->steps[i], &STEP_RESULT_INIT(STEP_CANCELLED), NULL);
	teardown(ex);
	finish(ex, RUN_ERROR, e->msg, res);
	error_free(e);
	return 0;
}

void executor_result_release(struct executor_result *res)
{
	free(res->error);
	res->error = NULL;
}

void executor_free(struct executor *ex)
{
	if (!ex)
		return;
	teardown(ex);
	for (size_t i = 0; i < ex->n_extra_hosts; i++)
		free(ex->extra_hosts[i]);
	free(ex->extra_hosts);
	free(ex->services);
	free(ex->service_readers);
	free(ex->steps);
	pipeline_dag_release(&ex->dag);
	pipeline_free(ex->pipeline);
	pipeline_vars_release(&ex->vars);
	free(ex->pipeline_text);
	commit_info_release(&ex->commit);
	masker_free(ex->masker);
	free(ex->repo_name);
	free(ex->branch);
	free(ex->tag);
	free(ex->work_dir);
	free(ex->workspace);
	free(ex->cache_dir);
	free(ex->built_image);
	free(ex->built_digest);
	free(ex->pushed_image);
	image_store_close(ex->images);
	container_host_close(ex->host);
	store_close(ex->store);
	pthread_mutex_destroy(&ex->mu);
	pthread_mutex_destroy(&ex->store_mu);
	pthread_cond_destroy(&ex->cond);
	free(ex);
}

int executor_cleanup_run(const char *data_dir, int64_t run_id, struct error **err)
{
	cleanup_free char *dir = NULL;

	if (asprintf(&dir, "%s/work/%lld", data_dir, (long long)run_id) < 0)
		return error_errnum(err, ENOMEM, "clean up run %lld", (long long)run_id);
	return rm_rf(dir, err);
}
