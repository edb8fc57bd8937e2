/* runner/seccomp.h — the default seccomp filter of every container (Docker's profile in
 * spirit: an allowlist returning EPERM), compiled to BPF once with libseccomp and cached on
 * disk ($DATA/cache/seccomp-<key>.bpf, keyed by a checksum of the profile, the architecture
 * and libseccomp's version) so that a container start only reads it. */
#ifndef SLIPWAY_RUNNER_SECCOMP_H
#define SLIPWAY_RUNNER_SECCOMP_H

#include <linux/filter.h>

#include "lib/error.h"

struct seccomp_cache;

/* The compiled default filter (borrowed, valid until seccomp_cache_free). *cache is created
 * on first use; data_dir holds the on-disk cache. Thread-safe. */
int seccomp_default_program(struct seccomp_cache **cache, const char *data_dir,
			    const struct sock_fprog **out, struct error **err);
void seccomp_cache_free(struct seccomp_cache *c);

/* Compiles the filter with libseccomp into *out (caller frees out->filter). */
int seccomp_compile(struct sock_fprog *out, struct error **err);

#endif
