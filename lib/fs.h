/* lib/fs.h — file helpers: capped reads, atomic writes, mkdir -p, and an rm -rf that never
 * leaves the file system (mount) it started on. */
#ifndef SLIPWAY_LIB_FS_H
#define SLIPWAY_LIB_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lib/error.h"

/* Reads a whole file of at most max bytes into *out (NUL-terminated, caller frees). */
int read_file(const char *path, size_t max, char **out, size_t *len, struct error **err);

/* Writes the file through a temp file in the same directory: write, fsync, rename, fsync the
 * directory. Readers see the old or the new contents, never a mix. */
int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode,
		      struct error **err);

/* Creates path and its missing parents with mode (existing directories are fine). */
int mkdir_p(const char *path, mode_t mode, struct error **err);

/* Removes path and everything below it. Symlinks are removed, never followed. A mount point
 * anywhere below path stops it with an error before that mount is entered; what it removed
 * until then stays removed. A missing path is not an error. Depth is not limited by fds. */
int rm_rf(const char *path, struct error **err);

/* True when path is the root of a mount (its mount id differs from its parent's). */
int is_mount_point(const char *path, bool *out, struct error **err);

/* Joins two path parts with one '/'; caller frees. NULL on out-of-memory. */
char *path_join(const char *a, const char *b);

#endif
