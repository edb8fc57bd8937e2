/* runner/registry.h — the OCI distribution v2 client: pull images from a registry into the
 * image store and push images from it, with the credentials `slipway login` saved.
 *
 * Who uses what:
 *   builder (FROM), executor (image:)   registry_ensure_image (or registry_pull_image)
 *   executor (image.push)               registry_push_image
 *   cli/cmd-registry.c                  everything
 *
 * References are read as Docker reads them: [HOST[:PORT]/]PATH[:TAG][@DIGEST]; without a host
 * the registry is docker.io and a one-part path gets "library/". Plain HTTP is used only for
 * localhost, 127.0.0.1, [::1] and the registries listed in $DATA/registries.json
 * ({"insecure": ["host:port", ...]}); every other registry is HTTPS with verification.
 *
 * Credentials come from $DATA/auth.json (mode 0600, written by registry_login) and then from
 * the "auths" of ~/.docker/config.json ($DOCKER_CONFIG/config.json). They are sent as Basic
 * auth or exchanged for Bearer tokens (cached in the process until they expire); they never
 * appear in logs, errors, process arguments or the database.
 */
#ifndef SLIPWAY_RUNNER_REGISTRY_H
#define SLIPWAY_RUNNER_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "lib/error.h"
#include "runner/image/image.h"

/* What a transfer did (filled when registry_opts.stats is set). */
struct registry_stats {
	uint64_t bytes_sent;	 /* blob and manifest bytes uploaded */
	uint64_t bytes_received; /* blob and manifest bytes downloaded */
	unsigned blobs_uploaded, blobs_mounted, blobs_present;
	unsigned blobs_downloaded, blobs_cached;
	uint64_t ms; /* wall time */
};

struct registry_opts {
	const char *data_dir;	 /* borrowed: where auth.json and registries.json live */
	bool progress;		 /* progress and a summary on stderr */
	bool tty;		 /* progress as bars redrawn in place (else one line per blob) */
	const char *platform;	 /* "os/arch[/variant]" picked from an index; NULL: linux/amd64 */
	bool docker_media_types; /* push Docker schema 2 media types instead of OCI */
	int jobs;		 /* blobs transferred at once; 0: 3 */
	uint64_t retry_ms;	 /* give up retrying a request after this long; 0: 60 s
				    ($SLIPWAY_REGISTRY_RETRY, a duration, overrides the default) */
	uint64_t
	    max_send_speed; /* bytes/s per upload; 0: unlimited ($SLIPWAY_REGISTRY_LIMIT_RATE) */
	struct registry_stats *stats; /* optional out */
};
void registry_opts_init(struct registry_opts *o, const char *data_dir);

/* Pulls ref (an OCI or Docker manifest, or an index from which o->platform is picked): the
 * blobs are downloaded concurrently, verified while streaming and each layer unpacked into
 * $DATA/layers in the same pass. A digest mismatch or any failure stores nothing; ref is
 * tagged last (a ref with only a digest is tagged NAME:sha256-<hex>). digest_out receives the
 * digest of the image manifest tagged. Exit 1 for what the registry refused or sent wrong. */
int registry_pull_image(struct image_store *st, const char *ref, const struct registry_opts *o,
			char digest_out[72], struct error **err);

/* What FROM and image: need: nothing when ref is already in the store (image_lookup finds
 * it), else registry_pull_image. */
int registry_ensure_image(struct image_store *st, const char *ref, const struct registry_opts *o,
			  struct error **err);

/* Pushes src_ref from the store to dest_ref (NULL: src_ref): each blob is HEADed first, mounted
 * from another repository of the same registry when it was seen there, else uploaded (POST,
 * one streamed PATCH, PUT ?digest=); the manifest goes last, so a failed push never writes it.
 * digest_out receives the digest of the manifest pushed. */
int registry_push_image(struct image_store *st, const char *src_ref, const char *dest_ref,
			const struct registry_opts *o, char digest_out[72], struct error **err);

/* --- references ------------------------------------------------------------------------ */

struct registry_ref {
	char *host;   /* owned: "docker.io", "localhost:5000", "[::1]:5000" */
	char *repo;   /* owned: "library/busybox" */
	char *tag;    /* owned; NULL when only a digest was given */
	char *digest; /* owned; "sha256:<hex>" or NULL */
};
int registry_ref_parse(const char *s, struct registry_ref *out, struct error **err);
void registry_ref_release(struct registry_ref *r);
/* True for localhost, 127.0.0.0/8 and [::1], with or without a port. */
bool registry_host_is_loopback(const char *host);
/* "https://registry-1.docker.io" for docker.io, "http://HOST" for loopback and insecure
 * registries, else "https://HOST". Caller frees. */
int registry_base_url(const char *data_dir, const char *host, char **out, struct error **err);
/* The host part of what a user types after `slipway login`: "https://h:5000/v2/" -> "h:5000";
 * "index.docker.io", "registry-1.docker.io" -> "docker.io". Caller frees. */
int registry_host_normalize(const char *s, char **out, struct error **err);

/* --- credentials ------------------------------------------------------------------------ */

/* Checks user/password against the registry (GET /v2/, and a token for Bearer registries),
 * then saves them in $DATA/auth.json (0600). Wrong credentials: exit 1, nothing saved. */
int registry_login(const char *data_dir, const char *registry, const char *user,
		   const char *password, struct error **err);
/* Removes the registry's entry from $DATA/auth.json; *was (optional) tells if there was one. */
int registry_logout(const char *data_dir, const char *registry, bool *was, struct error **err);

#endif
