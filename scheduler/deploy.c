/* scheduler/deploy.c — signed deploy webhooks over libcurl, with bounded retries. */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "config.h"
#include "lib/hash.h"
#include "scheduler/deploy.h"

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

json_t *deploy_payload(const char *repo, const char *commit, const char *branch, const char *tag,
		       int64_t run_number, const char *image, const char *digest,
		       const char *status, const char *deploy_name)
{
	return json_pack("{s:s, s:s, s:s?, s:s?, s:I, s:s?, s:s?, s:s, s:s}", "repo", repo,
			 "commit", commit, "branch", branch, "tag", tag, "run",
			 (json_int_t)run_number, "image", image, "image_digest", digest, "status",
			 status, "deploy", deploy_name);
}

/* Response bodies are not needed: read and drop them (bounded by the timeout). */
static size_t discard(char *p, size_t size, size_t n, void *u)
{
	(void)p;
	(void)u;
	return size * n;
}

static bool retryable(CURLcode rc, long status)
{
	if (rc != CURLE_OK)
		return rc == CURLE_COULDNT_CONNECT || rc == CURLE_OPERATION_TIMEDOUT ||
		       rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR ||
		       rc == CURLE_GOT_NOTHING || rc == CURLE_COULDNT_RESOLVE_HOST ||
		       rc == CURLE_PARTIAL_FILE;
	return status >= 500 || status == 429;
}

int deploy_webhook_send(const struct deploy_webhook *w, const char *body, size_t len,
			struct deploy_result *res, struct error **err)
{
	int max = w->max_attempts > 0 ? w->max_attempts : 5;
	uint64_t delay = w->backoff_ms ? w->backoff_ms : 500;
	uint64_t start = now_ms();
	struct curl_slist *hdr = NULL;
	char sig[SHA256_HEX_LEN + 1], line[256];
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc = CURLE_OK;
	long status = 0;
	CURL *c;

	memset(res, 0, sizeof(*res));
	if (strncmp(w->url, "http://", 7) && strncmp(w->url, "https://", 8))
		return error_usage(
		    err, "deploy webhook url '%s' must start with http:// or https://", w->url);
	c = curl_easy_init();
	if (!c)
		return error_set(err, EXIT_INTERNAL, "cannot start an HTTP client");
	hdr = curl_slist_append(hdr, "Content-Type: application/json");
	hdr = curl_slist_append(hdr, "X-Slipway-Event: deploy");
	if (w->secret) {
		hmac_sha256_hex(w->secret, strlen(w->secret), body, len, sig);
		snprintf(line, sizeof(line), "X-Slipway-Signature-256: sha256=%s", sig);
		hdr = curl_slist_append(hdr, line);
	}
	if (w->delivery) {
		snprintf(line, sizeof(line), "X-Slipway-Delivery: %.200s", w->delivery);
		hdr = curl_slist_append(hdr, line);
	}
	curl_easy_setopt(c, CURLOPT_URL, w->url);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "slipway/" SLIPWAY_VERSION);
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(w->timeout_ms ? w->timeout_ms : 30000));
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);

	for (res->attempts = 1;; res->attempts++) {
		errbuf[0] = '\0';
		status = 0;
		rc = curl_easy_perform(c);
		if (rc == CURLE_OK)
			curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
		res->http_status = (int)status;
		if (rc == CURLE_OK && status >= 200 && status < 300)
			break;
		if (!retryable(rc, status) || res->attempts >= max)
			break;
		/* exponential backoff with up to 25% jitter, so many runners don't retry in step */
		usleep((useconds_t)((delay + (uint64_t)rand() % (delay / 4 + 1)) * 1000));
		delay *= 2;
	}
	res->duration_ms = now_ms() - start;
	curl_slist_free_all(hdr);
	curl_easy_cleanup(c);
	if (rc != CURLE_OK)
		return error_failed(err, "deploy webhook '%s': %s (after %d attempt%s)", w->url,
				    errbuf[0] ? errbuf : curl_easy_strerror(rc), res->attempts,
				    res->attempts == 1 ? "" : "s");
	if (status < 200 || status >= 300)
		return error_failed(err,
				    "deploy webhook '%s' answered HTTP %ld (after %d attempt%s)",
				    w->url, status, res->attempts, res->attempts == 1 ? "" : "s");
	return 0;
}
