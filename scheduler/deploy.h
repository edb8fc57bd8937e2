/* scheduler/deploy.h — deploy webhooks: a signed JSON POST, retried with backoff.
 *
 * The body is signed with HMAC-SHA256 of the raw bytes under the deploy's secret and sent as
 * `X-Slipway-Signature-256: sha256=<hex>` (GitHub's scheme, so receivers can reuse their
 * verification code). 2xx is success; 5xx, 429 and connection failures are retried with
 * exponential backoff and jitter; other statuses fail at once. Redirects are not followed: a
 * signed deploy goes where the pipeline says or nowhere.
 */
#ifndef SLIPWAY_SCHEDULER_DEPLOY_H
#define SLIPWAY_SCHEDULER_DEPLOY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/error.h"

struct deploy_webhook {
	const char *url;      /* http:// or https:// */
	const char *secret;   /* NULL: unsigned */
	const char *delivery; /* X-Slipway-Delivery value (e.g. "run-12-staging"), optional */
	int max_attempts;     /* 0: 5 */
	uint64_t backoff_ms;  /* first retry delay; doubles each time. 0: 500 ms */
	uint64_t timeout_ms;  /* per attempt. 0: 30 s */
};

struct deploy_result {
	int http_status; /* the last response's status, 0 if none came */
	int attempts;
	uint64_t duration_ms;
};

/* The body of a deploy webhook (new reference). image and digest may be NULL. */
json_t *deploy_payload(const char *repo, const char *commit, const char *branch, const char *tag,
		       int64_t run_number, const char *image, const char *digest,
		       const char *status, const char *deploy_name);

/* Sends body; fills res in every case. Returns 0 on a 2xx answer, else -1 with *err saying
 * what the receiver answered (exit class 1). The secret never appears in the error. */
int deploy_webhook_send(const struct deploy_webhook *w, const char *body, size_t len,
			struct deploy_result *res, struct error **err);

#endif
