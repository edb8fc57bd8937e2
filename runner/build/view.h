/* runner/build/view.h — a read-only view of a file tree made of layers, as overlayfs would
 * merge them, without mounting anything: the build context (one directory, minus what
 * .dockerignore excludes) and the root of a stage or an image (its unpacked layers, whiteouts
 * and opaque directories honoured). Symbolic links are resolved inside the view, as in a
 * chroot: ".." and absolute targets never leave it.
 */
#ifndef SLIPWAY_RUNNER_BUILD_VIEW_H
#define SLIPWAY_RUNNER_BUILD_VIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "lib/error.h"
#include "runner/build/ignore.h"

struct view {
	char *const *layers; /* host directories, topmost first; borrowed */
	size_t n;
	bool overlay; /* char 0/0 is a whiteout, trusted.overlay.opaque=y hides lower */
	const struct ignore *ignore; /* paths it excludes do not exist; NULL = none */
};

struct vnode {
	char *path; /* in the view, no leading '/', "" for the root */
	char *host; /* the host path of the topmost entry (NULL for an empty root) */
	struct stat st;
	char **dirs; /* a directory: the host directories merged into it, topmost first */
	size_t ndirs;
	bool excluded; /* an excluded directory entered only for the exceptions below it */
};
void vnode_release(struct vnode *n);

/* The root of the view. */
int view_root(const struct view *v, struct vnode *out, struct error **err);

/* Resolves path (relative to the root; a leading '/' is ignored), following symbolic links
 * in every component and in the last one when follow_last. When a component is missing,
 * *exists is false and out->path holds the resolved path of what would be created (the
 * existing prefix with its links resolved, then the missing components). A non-directory in
 * the middle of the path is an error. */
int view_resolve(const struct view *v, const char *path, bool follow_last, struct vnode *out,
		 bool *exists, struct error **err);

/* The names in directory dir, sorted, whiteouts and excluded entries left out (an excluded
 * directory stays when exceptions may match below it). Caller frees with df_strv_free. */
int view_list(const struct view *v, const struct vnode *dir, char ***names, size_t *n,
	      struct error **err);

/* The entry name in directory dir (no links followed); *exists false when absent. */
int view_child(const struct view *v, const struct vnode *dir, const char *name, struct vnode *out,
	       bool *exists, struct error **err);

#endif
