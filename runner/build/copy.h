/* runner/build/copy.h — COPY and ADD: sources matched in a view (the context or another
 * stage), Docker's destination rules, and the new layer written as a directory tree.
 *
 * Sources: paths relative to the view's root (never above it), with `*`, `?` and `[...]`
 * globs per component; a directory source copies its contents. Destination: relative to the
 * working directory; a directory when it ends with '/', when there are several sources, or
 * when it is a directory in the stage already; else the file's new name. Symbolic links on
 * the way to the destination are followed inside the stage's root. Owners are 0:0 for the
 * context, the source's for another stage or an unpacked archive, unless --chown; --chmod
 * sets the mode of everything copied. mtimes are kept.
 */
#ifndef SLIPWAY_RUNNER_BUILD_COPY_H
#define SLIPWAY_RUNNER_BUILD_COPY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "lib/error.h"
#include "lib/hash.h"
#include "runner/build/view.h"

struct copy_opts {
	const char *what; /* "COPY" or "ADD", for messages */
	const char *from; /* "the build context" or "stage 'x'", for messages */
	bool chown;	  /* --chown given: uid, gid */
	uid_t uid;
	gid_t gid;
	bool chmod; /* --chmod given: mode */
	mode_t mode;
	bool keep_owner;      /* keep the source's uid/gid (another stage); else 0:0 */
	bool unpack_archives; /* ADD: local tar archives (plain, gzip, zstd) are unpacked */
	int64_t dir_mtime;    /* mtime of the directories the copy creates */
	const char *tmp_dir;  /* where archives are unpacked first */
};

/* Hashes what the sources match (names, types, modes, owners, bytes, link targets; never
 * mtimes) into h: the cache key's part for COPY/ADD. Fails like copy_to_layer when a source
 * is outside the view or matches nothing. */
int copy_hash(const struct view *src, char *const *sources, size_t n, const struct copy_opts *o,
	      struct sha256 *h, struct error **err);

/* Writes into layer_dir (an empty directory) what the stage gains: dest and its parent
 * directories (their metadata taken from rootfs when they exist there) and the sources. */
int copy_to_layer(const struct view *src, char *const *sources, size_t n, const char *dest,
		  const char *workdir, const struct view *rootfs, const char *layer_dir,
		  const struct copy_opts *o, struct error **err);

/* Creates layer_dir/rel and its parents as copy_to_layer does for a destination: the
 * stage's metadata for directories it has, else 0755, o's owner (--chown or 0:0) and
 * o->dir_mtime. */
int copy_make_dirs(const struct view *rootfs, const char *layer_dir, const char *rel,
		   const struct copy_opts *o, struct error **err);

/* Reads "USER[:GROUP]" (names looked up in rootfs's /etc/passwd and /etc/group, numbers
 * taken as they are; without a group the gid is the uid's number, as Docker documents). */
int copy_parse_chown(const char *spec, const struct view *rootfs, uid_t *uid, gid_t *gid,
		     struct error **err);

#endif
