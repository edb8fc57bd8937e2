/* Tests for scheduler/deploy.c against a real HTTP receiver (libmicrohttpd on loopback):
 * signature, retries on 5xx, no retry on 4xx, connection refused, payload fields. */
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <microhttpd.h>

#include "lib/hash.h"
#include "scheduler/deploy.h"
#include "tests/unit/tap.h"

struct receiver {
	int fail_first; /* answer this many requests with fail_status */
	int fail_status;
	int requests;
	char signature[128];
	char body[4096];
	size_t body_len;
};

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **state)
{
	struct receiver *r = cls;
	struct MHD_Response *resp;
	const char *sig;
	int status;
	enum MHD_Result ret;

	if (!*state) { /* first call: headers only */
		*state = r;
		r->body_len = 0;
		return MHD_YES;
	}
	if (*upload_size) {
		size_t n = *upload_size;

		if (r->body_len + n < sizeof(r->body)) {
			memcpy(r->body + r->body_len, upload, n);
			r->body_len += n;
		}
		*upload_size = 0;
		return MHD_YES;
	}
	r->body[r->body_len] = '\0';
	sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Slipway-Signature-256");
	snprintf(r->signature, sizeof(r->signature), "%s", sig ? sig : "");
	status = r->requests++ < r->fail_first ? r->fail_status : 204;
	resp = MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	ret = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ret;
}

int main(void)
{
	struct receiver r = {0};
	struct MHD_Daemon *d;
	const union MHD_DaemonInfo *info;
	struct deploy_result res;
	struct error *err = NULL;
	char url[128], want[SHA256_HEX_LEN + 1], wantsig[128];
	json_t *p;
	char *body;

	plan_lazy();
	d = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handle, &r,
	    MHD_OPTION_SOCK_ADDR,
	    &(struct sockaddr_in){.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)},
	    MHD_OPTION_END);
	if (!ok(d != NULL, "receiver started"))
		return done_testing();
	info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/hook", info->port);

	p = deploy_payload("app", "0123456789abcdef0123456789abcdef01234567", "main", NULL, 7,
			   "127.0.0.1:5000/app:abc", "sha256:feed", "passed", "staging");
	body = json_dumps(p, JSON_COMPACT);
	ok(body && strstr(body, "\"run\":7") && strstr(body, "\"image_digest\":\"sha256:feed\"") &&
	       strstr(body, "\"tag\":null") != NULL,
	   "payload has the run fields (%s)", body ? body : "(none)");

	struct deploy_webhook w = {.url = url, .secret = "topsecret", .backoff_ms = 10};
	is_int(deploy_webhook_send(&w, body, strlen(body), &res, &err), 0, "delivered");
	is_int(res.http_status, 204, "status recorded");
	is_int(res.attempts, 1, "one attempt");
	hmac_sha256_hex("topsecret", 9, body, strlen(body), want);
	snprintf(wantsig, sizeof(wantsig), "sha256=%s", want);
	is_str(r.signature, wantsig, "signature is the HMAC of the raw body");
	ok(r.body_len == strlen(body) && !memcmp(r.body, body, r.body_len), "body arrived intact");

	r.requests = 0;
	r.fail_first = 2;
	r.fail_status = 503;
	is_int(deploy_webhook_send(&w, body, strlen(body), &res, &err), 0, "delivered after 503s");
	is_int(res.attempts, 3, "two retries");
	is_int(r.requests, 3, "the receiver saw three requests");

	r.requests = 0;
	r.fail_first = 100;
	r.fail_status = 403;
	is_int(deploy_webhook_send(&w, body, strlen(body), &res, &err), -1, "403 fails");
	is_int(res.attempts, 1, "4xx is not retried");
	ok(err && err->exit_code == EXIT_FAILED && strstr(err->msg, "HTTP 403"),
	   "error says what the receiver answered: %s", err ? err->msg : "");
	ok(err && !strstr(err->msg, "topsecret"), "the secret is not in the error");
	error_clear(&err);

	r.requests = 0;
	r.fail_status = 500;
	w.max_attempts = 3;
	is_int(deploy_webhook_send(&w, body, strlen(body), &res, &err), -1, "persistent 500 fails");
	is_int(res.attempts, 3, "after max_attempts");
	error_clear(&err);

	MHD_stop_daemon(d);
	is_int(deploy_webhook_send(&w, body, strlen(body), &res, &err), -1,
	       "a stopped receiver fails");
	is_int(res.attempts, 3, "connection failures are retried");
	ok(err && strstr(err->msg, url), "naming the url: %s", err ? err->msg : "");
	error_clear(&err);

	w.url = "ftp://example.com/x";
	is_int(deploy_webhook_send(&w, body, strlen(body), &res, &err), -1, "non-http url refused");
	ok(err && err->exit_code == EXIT_USAGE, "as an input error");
	error_clear(&err);
	free(body);
	json_decref(p);
	return done_testing();
}
