/* runner/registry-http.c — requests to one registry over libcurl: authentication (Basic, or
 * Bearer tokens fetched per scope set and cached until they expire), one answer to a 401
 * challenge, retries with backoff for connection failures, 5xx and 429, and the worker pool
 * that moves blobs concurrently. Credentials and tokens only ever go into request headers. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "lib/cleanup.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "runner/registry-internal.h"

#define USER_AGENT "slipway/" SLIPWAY_VERSION

uint64_t reg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

CURL *reg_handle_new(struct error **err)
{
	CURL *h;

	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK) {
		error_set(err, EXIT_INTERNAL, "cannot start the HTTP client: %s",
			  curl_easy_strerror(curl_init_rc));
		return NULL;
	}
	h = curl_easy_init();
	if (!h)
		error_set(err, EXIT_INTERNAL, "cannot start the HTTP client");
	return h;
}

/* --- the client -------------------------------------------------------------------------- */

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

int reg_client_new(const char *data_dir, const char *host, const char *repo, bool push,
		   const struct registry_opts *o, struct reg_client **out, struct error **err)
{
	struct reg_client *c = calloc(1, sizeof(*c));
	const char *env;
	int found;

	if (!c)
		return error_errno(err, "registry client");
	pthread_mutex_init(&c->lock, NULL);
	c->host = strdup(host);
	c->repo = repo ? strdup(repo) : NULL;
	if (!c->host || (repo && !c->repo) ||
	    (repo &&
	     asprintf(&c->scope, "repository:%s:%s", repo, push ? "pull,push" : "pull") < 0)) {
		reg_client_free(c);
		return error_errno(err, "registry client");
	}
	if (registry_base_url(data_dir, host, &c->base, err) < 0)
		goto fail;
	c->retry_ms = o && o->retry_ms ? o->retry_ms : 60000;
	if ((!o || !o->retry_ms) && (env = getenv("SLIPWAY_REGISTRY_RETRY")) &&
	    parse_duration(env, &c->retry_ms, err) < 0)
		goto fail;
	if (o && o->max_send_speed) {
		c->max_send_speed = (curl_off_t)o->max_send_speed;
	} else if ((env = getenv("SLIPWAY_REGISTRY_LIMIT_RATE"))) {
		uint64_t v;

		if (parse_size(env, &v, err) < 0)
			goto fail;
		c->max_send_speed = (curl_off_t)v;
	}
	found = reg_creds_find(data_dir, host, &c->creds, err);
	if (found < 0)
		goto fail;
	c->has_creds = found > 0;
	*out = c;
	return 0;
fail:
	reg_client_free(c);
	return error_wrap(err, "registry '%s'", host);
}

void reg_client_free(struct reg_client *c)
{
	if (!c)
		return;
	free(c->host);
	free(c->base);
	free(c->repo);
	free(c->scope);
	free(c->realm);
	free(c->service);
	reg_creds_release(&c->creds);
	for (size_t i = 0; i < c->ntokens; i++) {
		free(c->tokens[i].scope);
		wipe_free(c->tokens[i].token);
	}
	free(c->tokens);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void reg_resp_release(struct reg_resp *r)
{
	free(r->location);
	free(r->content_type);
	free(r->digest);
	free(r->challenge);
	free(r->retry_after);
	buf_release(&r->body);
	r->location = r->content_type = r->digest = r->challenge = r->retry_after = NULL;
	r->status = 0;
	r->length = -1;
	r->transient = false;
}

/* --- one transfer ------------------------------------------------------------------------ */

struct xfer {
	struct reg_client *c;
	const struct reg_req *rq;
	struct reg_resp *rs;
	int64_t off;	/* of the request body sent */
	bool too_big;	/* the buffered body passed its cap */
	bool sink_stop; /* the sink refused data */
};

static void set_field(char **f, const char *v, size_t n)
{
	free(*f);
	*f = strndup(v, n);
}

static size_t header_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb, klen, vlen;
	const char *colon, *v;

	if (n >= 5 && !strncmp(p, "HTTP/", 5)) {
		/* A new response (after a redirect or a 100 Continue): forget the last one's. */
		const char *sp = memchr(p, ' ', n);

		reg_resp_release(x->rs);
		buf_init(&x->rs->body, x->rq->max_body ? x->rq->max_body : REG_MAX_ERROR_BODY);
		if (sp)
			x->rs->status = strtol(sp + 1, NULL, 10);
		return n;
	}
	colon = memchr(p, ':', n);
	if (!colon)
		return n;
	klen = (size_t)(colon - p);
	v = colon + 1;
	while (v < p + n && (*v == ' ' || *v == '\t'))
		v++;
	vlen = (size_t)(p + n - v);
	while (vlen && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' '))
		vlen--;
#define IS(name) (klen == strlen(name) && !strncasecmp(p, name, klen))
	if (IS("location"))
		set_field(&x->rs->location, v, vlen);
	else if (IS("content-type"))
		set_field(&x->rs->content_type, v, vlen);
	else if (IS("docker-content-digest"))
		set_field(&x->rs->digest, v, vlen);
	else if (IS("www-authenticate"))
		set_field(&x->rs->challenge, v, vlen);
	else if (IS("retry-after"))
		set_field(&x->rs->retry_after, v, vlen);
	else if (IS("content-length"))
		x->rs->length = strtoll(v, NULL, 10);
#undef IS
	return n;
}

static size_t write_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb;

	if (x->rq->sink && x->rs->status >= 200 && x->rs->status < 300) {
		if (x->rq->sink(p, n, x->rq->sink_arg) != n) {
			x->sink_stop = true;
			return 0;
		}
		atomic_fetch_add(&x->c->bytes_received, n);
		reg_slot_add(x->rq->slot, n);
		return n;
	}
	if (x->rs->body.len + n > x->rs->body.max) {
		if (!x->rq->sink && x->rs->status >= 200 && x->rs->status < 300) {
			x->too_big = true;
			return 0;
		}
		return n; /* an error page: keep its start */
	}
	buf_append(&x->rs->body, p, n, NULL);
	return n;
}

static size_t read_cb(char *p, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	const struct reg_req *rq = x->rq;
	size_t want = size * nmemb, n;

	if (atomic_load(&x->c->cancel))
		return CURL_READFUNC_ABORT;
	if (rq->fd >= 0) {
		ssize_t r;
		int64_t left = rq->size - x->off;

		if (left <= 0)
			return 0;
		if ((int64_t)want > left)
			want = (size_t)left;
		do
			r = pread(rq->fd, p, want, x->off);
		while (r < 0 && errno == EINTR);
		if (r <= 0)
			return CURL_READFUNC_ABORT;
		n = (size_t)r;
	} else {
		size_t left = rq->len - (size_t)x->off;

		n = want < left ? want : left;
		memcpy(p, (const char *)rq->data + x->off, n);
	}
	x->off += (int64_t)n;
	atomic_fetch_add(&x->c->bytes_sent, n);
	reg_slot_add(rq->slot, n);
	return n;
}

static int xferinfo_cb(void *arg, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	struct xfer *x = arg;

	return atomic_load(&x->c->cancel) ? 1 : 0;
}

static bool curl_transient(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_RECV_ERROR:
	case CURLE_SEND_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return true;
	default:
		return false;
	}
}

static bool status_transient(long status)
{
	return status == 429 || status == 500 || status == 502 || status == 503 || status == 504;
}

/* The path of url without its query (upload URLs carry a long opaque state). */
static void url_path(const char *url, char *out, size_t len)
{
	const char *p = strstr(url, "://");

	p = p ? strchr(p + 3, '/') : url;
	if (!p)
		p = "/";
	snprintf(out, len, "%.*s", (int)strcspn(p, "?"), p);
}

static char *full_url(const struct reg_client *c, const char *url)
{
	char *s = NULL;

	if (url[0] != '/')
		return strdup(url);
	if (asprintf(&s, "%s%s", c->base, url) < 0)
		return NULL;
	return s;
}

/* --- tokens ------------------------------------------------------------------------------ */

/* The scope set of a request: the client's plus the request's, space separated. */
static char *scope_of(const struct reg_client *c, const char *extra)
{
	char *s = NULL;

	if (asprintf(&s, "%s%s%s", c->scope ? c->scope : "", c->scope && extra ? " " : "",
		     extra ? extra : "") < 0)
		return NULL;
	return s;
}

static const char *token_cached(struct reg_client *c, const char *scope)
{
	uint64_t now = reg_now_ms();

	for (size_t i = 0; i < c->ntokens; i++)
		if (!strcmp(c->tokens[i].scope, scope) && c->tokens[i].expires_ms > now)
			return c->tokens[i].token;
	return NULL;
}

static void token_drop(struct reg_client *c, const char *scope)
{
	for (size_t i = 0; i < c->ntokens; i++)
		if (!strcmp(c->tokens[i].scope, scope))
			c->tokens[i].expires_ms = 0;
}

static int token_store(struct reg_client *c, const char *scope, const char *token,
		       int64_t expires_in, struct error **err)
{
	struct reg_token *t = NULL;

	for (size_t i = 0; i < c->ntokens; i++)
		if (!strcmp(c->tokens[i].scope, scope))
			t = &c->tokens[i];
	if (!t) {
		struct reg_token *v = realloc(c->tokens, (c->ntokens + 1) * sizeof(*v));

		if (!v)
			return error_errno(err, "token cache");
		c->tokens = v;
		t = &c->tokens[c->ntokens++];
		memset(t, 0, sizeof(*t));
		t->scope = strdup(scope);
	}
	wipe_free(t->token);
	t->token = strdup(token);
	if (!t->scope || !t->token)
		return error_errno(err, "token cache");
	/* The spec: less than 60 s means 60 s. Renew a little before the end. */
	if (expires_in < 60)
		expires_in = 60;
	t->expires_ms = reg_now_ms() + (uint64_t)(expires_in - 5) * 1000;
	return 0;
}

/* May credentials go to this realm? Not over plain HTTP to another machine. */
static int realm_check(struct reg_client *c, const char *realm, struct error **err)
{
	if (!strncmp(realm, "https://", 8))
		return 0;
	if (!strncmp(realm, "http://", 7)) {
		char host[256];

		snprintf(host, sizeof(host), "%.*s", (int)strcspn(realm + 7, "/?"), realm + 7);
		if (registry_host_is_loopback(host) || !strncmp(c->base, "http://", 7))
			return 0;
		return error_failed(err,
				    "registry '%s': token realm '%s' is plain HTTP: refusing to "
				    "send credentials there",
				    c->host, realm);
	}
	return error_failed(err, "registry '%s': token realm '%s' is not an http(s) URL", c->host,
			    realm);
}

static int auth_failed(struct reg_client *c, long status, struct error **err)
{
	if (c->has_creds)
		return error_failed(
		    err,
		    "registry '%s' refused the credentials for '%s' (HTTP %ld): "
		    "wrong username or password? ('slipway login %s' to change them)",
		    c->host, c->creds.user, status, c->host);
	return error_failed(err,
			    "registry '%s' requires authentication (HTTP %ld): run 'slipway login "
			    "%s'",
			    c->host, status, c->host);
}

/* The final answer to a request still unauthorized after one try with credentials: a token
 * without the scope asked for means no access to the repository, not a wrong password. */
static int refused(struct reg_client *c, const char *scope, const char *challenge, long status,
		   struct error **err)
{
	struct reg_challenge ch;
	int rc;

	if (c->has_creds && challenge && reg_challenge_parse(challenge, &ch) == 0) {
		bool scope_missing = ch.error && !strcmp(ch.error, "insufficient_scope");

		reg_challenge_release(&ch);
		if (scope_missing)
			return error_failed(err,
					    "registry '%s': user '%s' may not do '%s' (HTTP %ld: "
					    "insufficient_scope)",
					    c->host, c->creds.user, scope, status);
	}
	rc = auth_failed(c, status, err);
	return rc;
}

/* Fetches a token for scope from the realm. Called with c->lock held. */
static int token_fetch(struct reg_client *c, CURL *h, const char *scope, struct error **err)
{
	struct buf url = BUF_INIT(16384), body = BUF_INIT(REG_MAX_TOKEN_BODY);
	char errbuf[CURL_ERROR_SIZE];
	uint64_t start = reg_now_ms(), delay = 200;
	json_auto_t *j = NULL;
	const char *tok;
	long status = 0;
	CURLcode rc;
	int ret = -1;

	if (realm_check(c, c->realm, err) < 0)
		return -1;
	buf_puts(&url, c->realm, NULL);
	buf_putc(&url, strchr(c->realm, '?') ? '&' : '?', NULL);
	if (c->service) {
		char *e = curl_easy_escape(h, c->service, 0);

		buf_printf(&url, NULL, "service=%s", e ? e : "");
		curl_free(e);
	}
	for (const char *p = scope; p && *p;) {
		size_t n = strcspn(p, " ");
		char *e = curl_easy_escape(h, p, (int)n);

		buf_printf(&url, NULL, "&scope=%s", e ? e : "");
		curl_free(e);
		p += n;
		p += *p == ' ';
	}
	if (c->has_creds) {
		char *e = curl_easy_escape(h, c->creds.user, 0);

		buf_printf(&url, NULL, "&account=%s", e ? e : "");
		curl_free(e);
	}
	for (;;) {
		curl_easy_reset(h);
		curl_easy_setopt(h, CURLOPT_URL, buf_str(&url));
		curl_easy_setopt(h, CURLOPT_USERAGENT, USER_AGENT);
		curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
		curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 60000L);
		curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
		curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, NULL);
		{
			struct reg_req rq = {.max_body = REG_MAX_TOKEN_BODY, .fd = -1};
			struct reg_resp rs = {0};
			struct xfer x = {.c = c, .rq = &rq, .rs = &rs};

			buf_init(&rs.body, REG_MAX_TOKEN_BODY);
			curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
			curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
			curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
			curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
			if (c->has_creds) {
				curl_easy_setopt(h, CURLOPT_HTTPAUTH, CURLAUTH_BASIC);
				curl_easy_setopt(h, CURLOPT_USERNAME, c->creds.user);
				curl_easy_setopt(h, CURLOPT_PASSWORD, c->creds.pass);
			}
			errbuf[0] = '\0';
			rc = curl_easy_perform(h);
			status = rs.status;
			buf_release(&body);
			body = rs.body;
			rs.body.data = NULL;
			reg_resp_release(&rs);
			if (x.too_big) {
				error_failed(err,
					     "registry '%s': token answer larger than %u bytes",
					     c->host, REG_MAX_TOKEN_BODY);
				goto out;
			}
		}
		if ((rc == CURLE_OK && !status_transient(status)) ||
		    (rc != CURLE_OK && !curl_transient(rc)) ||
		    reg_now_ms() + delay > start + c->retry_ms)
			break;
		usleep((useconds_t)(delay * 1000));
		delay = delay * 2 > 5000 ? 5000 : delay * 2;
	}
	if (rc != CURLE_OK) {
		error_failed(err, "registry '%s': token server: %s", c->host,
			     errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	if (status == 401 || status == 403) {
		auth_failed(c, status, err);
		goto out;
	}
	if (status != 200) {
		error_failed(err, "registry '%s': token server answered HTTP %ld", c->host, status);
		goto out;
	}
	j = json_parse(buf_str(&body), body.len, "token answer", err);
	if (!j)
		goto out;
	tok = json_get_str(j, "token", NULL);
	if (!tok || !*tok)
		tok = json_get_str(j, "access_token", NULL);
	if (!tok || !*tok || strlen(tok) > 64 * 1024 || strpbrk(tok, "\r\n")) {
		error_failed(err, "registry '%s': the token server sent no usable token", c->host);
		goto out;
	}
	ret = token_store(c, scope, tok, json_get_int(j, "expires_in", 60), err);
out:
	if (body.data)
		explicit_bzero(body.data, body.len);
	buf_release(&body);
	buf_release(&url);
	return ret;
}

/* The Authorization header for a request with this scope set (NULL: none). Caller frees. */
static char *auth_header(struct reg_client *c, CURL *h, const char *scope, struct error **err)
{
	char *hdr = NULL;
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	if (c->auth == REG_AUTH_BASIC && c->has_creds) {
		char *b = reg_basic_token(&c->creds);

		if (!b || asprintf(&hdr, "Authorization: Basic %s", b) < 0)
			rc = error_errno(err, "credentials");
		wipe_free(b);
	} else if (c->auth == REG_AUTH_BEARER) {
		const char *t = token_cached(c, scope);

		if (!t && token_fetch(c, h, scope, err) < 0)
			rc = -1;
		else if (!t)
			t = token_cached(c, scope);
		if (rc == 0 && t && asprintf(&hdr, "Authorization: Bearer %s", t) < 0)
			rc = error_errno(err, "credentials");
	}
	pthread_mutex_unlock(&c->lock);
	if (rc < 0)
		return (char *)-1;
	return hdr;
}

/* Learns from a 401 challenge. Returns 1 to try again, 0 when there is nothing to try. */
static int answer_challenge(struct reg_client *c, const char *scope, const char *header, bool sent,
			    struct error **err)
{
	struct reg_challenge ch;
	int rc = 0;

	if (!header || reg_challenge_parse(header, &ch) < 0)
		return 0;
	pthread_mutex_lock(&c->lock);
	if (!strcmp(ch.scheme, "bearer") && ch.realm) {
		bool changed =
		    c->auth != REG_AUTH_BEARER || !c->realm || strcmp(c->realm, ch.realm);

		if (changed) {
			free(c->realm);
			free(c->service);
			c->realm = strdup(ch.realm);
			c->service = ch.service ? strdup(ch.service) : NULL;
			c->auth = REG_AUTH_BEARER;
		}
		/* A token we sent was refused (expired, or lacking a scope): get a new one. */
		token_drop(c, scope);
		rc = changed || sent ? 1 : 0;
	} else if (!strcmp(ch.scheme, "basic")) {
		rc = c->auth != REG_AUTH_BASIC && c->has_creds ? 1 : 0;
		c->auth = REG_AUTH_BASIC;
	}
	pthread_mutex_unlock(&c->lock);
	reg_challenge_release(&ch);
	(void)err;
	return rc;
}

static long parse_retry_after(const char *v)
{
	long s;

	if (!v)
		return 0;
	s = strtol(v, NULL, 10);
	return s > 0 && s < 30 ? s * 1000 : 0;
}

static void setup_request(struct reg_client *c, CURL *h, const struct reg_req *rq, const char *url,
			  struct curl_slist *hdrs, struct xfer *x, char *errbuf)
{
	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_USERAGENT, USER_AGENT);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	/* A transfer that moves nothing for 60 s is dead. */
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, header_cb);
	curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, write_cb);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, xferinfo_cb);
	curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
	curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
	if (rq->follow) {
		/* Blob downloads may be redirected to storage; curl sends our Authorization
		 * header to the registry's own host only. */
		curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(h, CURLOPT_MAXREDIRS, 5L);
		curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR,
				 strncmp(c->base, "https://", 8) ? "http,https" : "https");
	}
	if (!strcmp(rq->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (!strcmp(rq->method, "POST")) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
	} else if (strcmp(rq->method, "GET")) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, rq->method);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, read_cb);
		curl_easy_setopt(h, CURLOPT_READDATA, x);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)(rq->fd >= 0 ? rq->size : (int64_t)rq->len));
		curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 2L * 1024 * 1024);
		if (c->max_send_speed)
			curl_easy_setopt(h, CURLOPT_MAX_SEND_SPEED_LARGE, c->max_send_speed);
	}
}

int reg_do(struct reg_client *c, CURL *h, const struct reg_req *rq, struct reg_resp *rs,
	   struct error **err)
{
	cleanup_free char *url = full_url(c, rq->url), *scope = scope_of(c, rq->scope);
	char errbuf[CURL_ERROR_SIZE], path[512];
	uint64_t start = reg_now_ms(), delay = 250;
	bool challenged = false;
	int attempts = 0;

	memset(rs, 0, sizeof(*rs));
	rs->length = -1;
	if (!url || !scope)
		return error_errno(err, "registry request");
	url_path(url, path, sizeof(path));
	for (;;) {
		struct xfer x = {.c = c, .rq = rq, .rs = rs};
		struct curl_slist *hdrs = NULL;
		char line[512];
		char *auth;
		CURLcode rc;
		long wait;

		if (atomic_load(&c->cancel))
			return error_failed(err, "registry '%s': %s %s: cancelled", c->host,
					    rq->method, path);
		auth = auth_header(c, h, scope, err);
		if (auth == (char *)-1)
			return -1;
		reg_resp_release(rs);
		buf_init(&rs->body, rq->max_body ? rq->max_body : REG_MAX_ERROR_BODY);
		hdrs = curl_slist_append(hdrs, "Expect:");
		if (rq->accept) {
			snprintf(line, sizeof(line), "Accept: %s", rq->accept);
			hdrs = curl_slist_append(hdrs, line);
		}
		if (rq->content_type) {
			snprintf(line, sizeof(line), "Content-Type: %s", rq->content_type);
			hdrs = curl_slist_append(hdrs, line);
		}
		if (auth)
			hdrs = curl_slist_append(hdrs, auth);
		wipe_free(auth);
		reg_slot_reset(rq->slot);
		setup_request(c, h, rq, url, hdrs, &x, errbuf);
		errbuf[0] = '\0';
		attempts++;
		rc = curl_easy_perform(h);
		/* The header list held the credentials: wipe it before freeing. */
		for (struct curl_slist *s = hdrs; s; s = s->next)
			explicit_bzero(s->data, strlen(s->data));
		curl_slist_free_all(hdrs);
		if (x.too_big)
			return error_failed(err,
					    "registry '%s': %s %s: answer larger than %zu bytes",
					    c->host, rq->method, path, rs->body.max);
		if (x.sink_stop)
			return error_failed(err, "registry '%s': %s %s: download stopped", c->host,
					    rq->method, path);
		if (rc == CURLE_OK && rs->status == 401) {
			int a =
			    challenged ? 0 : answer_challenge(c, scope, rs->challenge, true, err);

			challenged = true;
			if (a > 0)
				continue;
			return refused(c, scope, rs->challenge, rs->status, err);
		}
		if (rc == CURLE_OK && !status_transient(rs->status))
			return 0;
		if (rc == CURLE_ABORTED_BY_CALLBACK && atomic_load(&c->cancel))
			return error_failed(err, "registry '%s': %s %s: cancelled", c->host,
					    rq->method, path);
		if (rc != CURLE_OK && !curl_transient(rc))
			return error_failed(err, "registry '%s': %s %s: %s", c->host, rq->method,
					    path, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		if (rq->once) {
			rs->transient = true;
			if (rc == CURLE_OK)
				return 0;
			return error_failed(err, "registry '%s': %s %s: %s", c->host, rq->method,
					    path, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		}
		wait = parse_retry_after(rs->retry_after);
		if (wait < (long)delay)
			wait = (long)delay;
		if (reg_now_ms() + (uint64_t)wait > start + c->retry_ms) {
			char took[32];

			format_duration(reg_now_ms() - start, took, sizeof(took));
			if (rc == CURLE_OK)
				return error_failed(
				    err,
				    "registry '%s': %s %s: HTTP %ld (gave up after %d "
				    "attempts in %s)",
				    c->host, rq->method, path, rs->status, attempts, took);
			return error_failed(
			    err, "registry '%s': %s %s: %s (gave up after %d attempts in %s)",
			    c->host, rq->method, path, errbuf[0] ? errbuf : curl_easy_strerror(rc),
			    attempts, took);
		}
		log_debug("registry '%s': %s %s: %s; retrying in %ld ms", c->host, rq->method, path,
			  rc == CURLE_OK ? "server error" : curl_easy_strerror(rc), wait);
		usleep((useconds_t)(wait + rand() % (wait / 4 + 1)) * 1000);
		delay = delay * 2 > 5000 ? 5000 : delay * 2;
	}
}

int reg_status_error(struct reg_client *c, const struct reg_resp *rs, const char *what,
		     struct error **err)
{
	json_auto_t *j = NULL;
	const char *code = NULL, *msg = NULL;

	if (rs->body.len && rs->content_type && strstr(rs->content_type, "json"))
		j = json_loadb(rs->body.data, rs->body.len, 0, NULL);
	if (j) {
		json_t *e0 = json_array_get(json_get_array(j, "errors"), 0);

		code = json_get_str(e0, "code", NULL);
		msg = json_get_str(e0, "message", NULL);
	}
	if (rs->status == 401 || rs->status == 403)
		return error_failed(err, "registry '%s': %s: access denied (HTTP %ld%s%s%s%s)",
				    c->host, what, rs->status, code ? ": " : "", code ? code : "",
				    msg ? ": " : "", msg ? msg : "");
	return error_failed(err, "registry '%s': %s: HTTP %ld%s%s%s%s", c->host, what, rs->status,
			    code ? ": " : "", code ? code : "", msg ? ": " : "", msg ? msg : "");
}

int reg_ping(struct reg_client *c, CURL *h, struct error **err)
{
	struct reg_req rq = {.method = "GET", .url = "/v2/", .fd = -1};
	struct reg_resp rs;
	int rc = reg_do(c, h, &rq, &rs, err);

	if (rc == 0 && rs.status != 200) {
		if (rs.status == 404)
			rc = error_failed(err, "'%s' is not an OCI registry: GET /v2/ answered 404",
					  c->host);
		else
			rc = reg_status_error(c, &rs, "GET /v2/", err);
	}
	pthread_mutex_lock(&c->lock);
	if (rc == 0 && c->auth == REG_AUTH_UNKNOWN)
		c->auth = REG_AUTH_NONE;
	pthread_mutex_unlock(&c->lock);
	reg_resp_release(&rs);
	return rc;
}

/* --- worker pool ------------------------------------------------------------------------- */

struct pool {
	struct reg_client *c;
	reg_job_fn fn;
	void *ctx;
	size_t n;
	atomic_size_t next;
	pthread_mutex_t lock;
	struct error *first;
};

struct worker {
	struct pool *p;
	CURL *h;
	pthread_t tid;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->p;

	for (;;) {
		size_t i = atomic_fetch_add(&p->next, 1);
		struct error *e = NULL;

		if (i >= p->n || atomic_load(&p->c->cancel))
			break;
		if (p->fn(p->ctx, i, w->h, &e) < 0) {
			pthread_mutex_lock(&p->lock);
			/* The first real failure wins over the "cancelled" of the others. */
			if (!p->first)
				p->first = e;
			else
				error_free(e);
			pthread_mutex_unlock(&p->lock);
			atomic_store(&p->c->cancel, true);
			break;
		}
	}
	return NULL;
}

int reg_parallel(struct reg_client *c, size_t n, int jobs, reg_job_fn fn, void *ctx,
		 struct error **err)
{
	struct pool p = {.c = c, .fn = fn, .ctx = ctx, .n = n};
	struct worker *w;
	size_t nw = jobs > 0 ? (size_t)jobs : 3, started = 0;

	if (n == 0)
		return 0;
	if (nw > n)
		nw = n;
	w = calloc(nw, sizeof(*w));
	if (!w)
		return error_errno(err, "start transfers");
	pthread_mutex_init(&p.lock, NULL);
	for (size_t i = 0; i < nw; i++) {
		w[i].p = &p;
		w[i].h = reg_handle_new(i == 0 ? err : NULL);
		if (!w[i].h)
			break;
		if (pthread_create(&w[i].tid, NULL, worker_main, &w[i]) != 0) {
			curl_easy_cleanup(w[i].h);
			w[i].h = NULL;
			break;
		}
		started++;
	}
	if (started == 0) {
		free(w);
		pthread_mutex_destroy(&p.lock);
		return error_set(err, EXIT_INTERNAL, "cannot start transfer threads");
	}
	for (size_t i = 0; i < started; i++) {
		pthread_join(w[i].tid, NULL);
		curl_easy_cleanup(w[i].h);
	}
	free(w);
	pthread_mutex_destroy(&p.lock);
	if (p.first) {
		if (err && !*err)
			*err = p.first;
		else
			error_free(p.first);
		return -1;
	}
	return 0;
}
