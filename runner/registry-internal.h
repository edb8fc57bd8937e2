/* runner/registry-internal.h — what the registry client's files share: the client (one
 * registry repository, its credentials and tokens), requests with retries and auth, progress,
 * credential files and the record of which repositories hold which blob. */
#ifndef SLIPWAY_RUNNER_REGISTRY_INTERNAL_H
#define SLIPWAY_RUNNER_REGISTRY_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <curl/curl.h>

#include "lib/buf.h"
#include "runner/registry.h"

#define REG_MAX_MANIFEST (4u << 20)
#define REG_MAX_CONFIG (16u << 20)
#define REG_MAX_ERROR_BODY (64u << 10)
#define REG_MAX_TOKEN_BODY (256u << 10)

/* --- credentials (registry-auth.c) --- */

struct reg_creds {
	char *user; /* owned; NULL: anonymous */
	char *pass; /* owned, secret: wiped when released */
};
/* Finds credentials for host in $DATA/auth.json, then ~/.docker/config.json. Returns 1 when
 * found, 0 when none, -1 on a broken file. */
int reg_creds_find(const char *data_dir, const char *host, struct reg_creds *out,
		   struct error **err);
void reg_creds_release(struct reg_creds *c);
/* base64 of "user:pass" (caller frees, wipe it). */
char *reg_basic_token(const struct reg_creds *c);
/* Decodes standard base64; caller frees; NULL when invalid. */
char *reg_base64_decode(const char *s, size_t *len);

/* WWW-Authenticate, parsed. Each field owned or NULL. */
struct reg_challenge {
	char *scheme; /* "bearer" or "basic", lowercase */
	char *realm, *service, *scope, *error;
};
int reg_challenge_parse(const char *header, struct reg_challenge *out);
void reg_challenge_release(struct reg_challenge *c);

/* --- the client (registry-http.c) --- */

enum reg_auth { REG_AUTH_UNKNOWN, REG_AUTH_NONE, REG_AUTH_BASIC, REG_AUTH_BEARER };

struct reg_token {
	char *scope;	     /* the scopes it was asked for, space separated */
	char *token;	     /* secret */
	uint64_t expires_ms; /* monotonic */
};

struct reg_client {
	char *host, *base, *repo;
	char *scope; /* "repository:REPO:pull[,push]" */
	struct reg_creds creds;
	bool has_creds;
	uint64_t retry_ms;
	curl_off_t max_send_speed;
	pthread_mutex_t lock; /* guards what follows */
	enum reg_auth auth;
	char *realm, *service;
	struct reg_token *tokens;
	size_t ntokens;
	atomic_bool cancel; /* set on the first failure: transfers in flight stop */
	atomic_uint_fast64_t bytes_sent, bytes_received;
};

/* host/repo from a parsed reference; push asks for pull,push scope. */
int reg_client_new(const char *data_dir, const char *host, const char *repo, bool push,
		   const struct registry_opts *o, struct reg_client **out, struct error **err);
void reg_client_free(struct reg_client *c);

struct reg_progress;
struct reg_slot;

/* One HTTP request. */
struct reg_req {
	const char *method; /* GET HEAD POST PATCH PUT */
	const char *url;    /* absolute, or a path starting with '/' (joined to base) */
	const char *scope;  /* extra scope ("repository:OTHER:pull") or NULL */
	const char *accept; /* Accept header value or NULL */
	const char *content_type;
	const void *data; /* in-memory body (len bytes) */
	size_t len;
	int fd; /* file body when >= 0: size bytes from offset 0 */
	int64_t size;
	/* streaming response body (GET): return n to go on, anything else stops the transfer */
	size_t (*sink)(const char *p, size_t n, void *arg);
	void *sink_arg;
	size_t max_body;       /* for a buffered body; 0: REG_MAX_ERROR_BODY */
	bool follow;	       /* follow redirects (blob downloads) */
	bool once;	       /* no retry of transient failures (the caller retries) */
	struct reg_slot *slot; /* progress of the body sent or received */
};

struct reg_resp {
	long status;
	char *location, *content_type, *digest, *challenge, *retry_after;
	int64_t length;
	struct buf body; /* the response body when there is no sink, capped */
	bool transient;	 /* (with once) the failure may pass on a retry */
};
void reg_resp_release(struct reg_resp *r);

/* Performs rq on the handle h (one per thread): authenticates (Basic, or a Bearer token for
 * the client's scope plus rq->scope, fetched once and cached), answers a 401 challenge once,
 * retries connection failures, 5xx and 429 with backoff until retry_ms have passed. Returns 0
 * with rs->status for any HTTP answer but an authentication failure; -1 with err otherwise. */
int reg_do(struct reg_client *c, CURL *h, const struct reg_req *rq, struct reg_resp *rs,
	   struct error **err);
/* An error for an unexpected status: "registry 'h': what: HTTP 404: MANIFEST_UNKNOWN: ..." */
int reg_status_error(struct reg_client *c, const struct reg_resp *rs, const char *what,
		     struct error **err);
/* Makes sure the client knows how to authenticate (GET /v2/) and has a token for its scope. */
int reg_ping(struct reg_client *c, CURL *h, struct error **err);
CURL *reg_handle_new(struct error **err);
uint64_t reg_now_ms(void);

/* Runs fn(i) for i in [0, n) on up to jobs threads, each with its own curl handle. Stops
 * handing out work after the first failure and returns it. */
typedef int (*reg_job_fn)(void *ctx, size_t i, CURL *h, struct error **err);
int reg_parallel(struct reg_client *c, size_t n, int jobs, reg_job_fn fn, void *ctx,
		 struct error **err);

/* --- progress (registry-progress.c) --- */

/* Per-blob lines on stderr: bars redrawn in place on a tty, one plain line per finished
 * blob otherwise. Thread-safe. NULL progress or slot: no-ops. */
int reg_progress_new(bool on, bool tty, struct reg_progress **out);
void reg_progress_free(struct reg_progress *p);
struct reg_slot *reg_progress_slot(struct reg_progress *p, const char *digest, int64_t total);
void reg_slot_add(struct reg_slot *s, uint64_t n);
void reg_slot_reset(struct reg_slot *s);
/* The blob is done: state is "pushed", "exists", "mounted", "pulled", "cached". */
void reg_slot_done(struct reg_slot *s, const char *state);
void reg_progress_line(struct reg_progress *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* The closing line: "pushed REF DIGEST: ..." (verb "pushed") or "pulled REF DIGEST: ...". */
void reg_progress_summary(struct reg_progress *pr, const char *verb, const char *what,
			  const char *digest, const struct registry_stats *s);

/* --- where blobs were seen (registry-auth.c) --- */

/* Records that repo on host holds digests (after a push or pull). Failures are ignored. */
void reg_seen_add(const char *data_dir, const char *host, const char *repo,
		  const char *const *digests, size_t n);
/* A repository of host other than repo known to hold digest; caller frees; NULL if none. */
char *reg_seen_find(const char *data_dir, const char *host, const char *repo, const char *digest);

#endif
