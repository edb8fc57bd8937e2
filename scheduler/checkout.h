/* scheduler/checkout.h — a commit's tree, written into a run's workspace (libgit2).
 *
 * The source repository (a working clone or a bare mirror) is only read: no index, ref or
 * work tree of it changes. Submodules are checked out at the commits the tree records, from
 * the source's .git/modules/NAME when it has them, else from their URL (a local path, or
 * relative to the source repository).
 */
#ifndef SLIPWAY_SCHEDULER_CHECKOUT_H
#define SLIPWAY_SCHEDULER_CHECKOUT_H

#include <stddef.h>
#include <stdint.h>

#include "lib/error.h"

struct commit_info {
	char sha[41];
	int64_t time;	/* committer time, seconds since the epoch (SOURCE_DATE_EPOCH) */
	char *author;	/* "Name <email>" */
	char *subject;	/* the message's first line */
	char **changed; /* paths changed against the first parent (all files for a root commit) */
	size_t n_changed;
};

void commit_info_release(struct commit_info *ci);

/* Reads what rev ("HEAD", a branch, a tag, a sha) names in the repository at repo_path. */
int commit_resolve(const char *repo_path, const char *rev, struct commit_info *out,
		   struct error **err);

/* Writes the tree of commit sha (and its submodules) into dest, which must not exist yet or
 * be empty. On error, dest is removed. */
int checkout_commit(const char *repo_path, const char *sha, const char *dest, struct error **err);

/* The branch that HEAD of repo_path points at ("main"), or NULL when detached; caller frees. */
char *repo_head_branch(const char *repo_path, struct error **err);

/* Reads the file at path (e.g. ".slipway.yml") in the tree of commit sha into *data (NUL-
 * terminated, caller frees). Returns 1 when read, 0 when the commit has no such file, -1 on
 * error (a file over max bytes is an input error). */
int commit_read_file(const char *repo_path, const char *sha, const char *path, size_t max,
		     char **data, size_t *len, struct error **err);

#endif
