/* runner/build/build.h — `slipway image build`: an OCI image from a Dockerfile, built with
 * slipway's own container engine (RUN) and image store (layers, tags). No daemon.
 *
 * Each instruction of the stages the target needs is run in order; a layer is reused from the
 * cache ($DATA/build-cache) when its key is known: the parent's key, the instruction after
 * substitution, and for RUN its environment, user and working directory, for COPY/ADD the
 * sources' names, modes, owners and bytes (never mtimes). With source_date_epoch set, times
 * in the image and mtimes in new layers are clamped to it: the same context gives the same
 * manifest digest, cached or not.
 *
 * Failures: a Dockerfile error is exit 2 (`Dockerfile:LINE: message`), a failing RUN exit 1
 * with its status; on any failure no tag moves and no temp dir or partial blob stays.
 */
#ifndef SLIPWAY_RUNNER_BUILD_BUILD_H
#define SLIPWAY_RUNNER_BUILD_BUILD_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "lib/error.h"
#include "runner/container.h"
#include "runner/image/image.h"
#include "runner/limits.h"

struct build_opts {
	const char *context_dir;
	const char *dockerfile;	   /* path; NULL = CONTEXT/Dockerfile */
	const char *target;	   /* stage name or index; NULL = the last stage */
	char *const *build_args;   /* K=V (or K: taken from the environment), NULL-terminated */
	char *const *tags;	   /* NAME[:TAG], NULL-terminated; NULL = untagged */
	bool no_cache;		   /* run every step; the cache is still written */
	bool network_host;	   /* RUN with the host's network instead of none */
	struct limits limits;	   /* of every RUN container */
	int64_t source_date_epoch; /* -1 = unset */
	FILE *progress;		   /* one line per instruction and RUN output; NULL = none */
	/* Cancellation (both optional): once *cancel is non-zero the build fails before its next
	 * step ("interrupted"); on_container is told each RUN container once it runs and NULL
	 * when it is gone, so that a signal handler or another thread can container_stop() it. */
	const volatile sig_atomic_t *cancel;
	void (*on_container)(struct container *c, void *arg);
	void *on_container_arg;
};

/* Builds the image and tags it; digest_out receives the manifest digest ("sha256:..."). */
int build_image(struct container_host *h, struct image_store *st, const struct build_opts *o,
		char digest_out[72], struct error **err);

#endif
