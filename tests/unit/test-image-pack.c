/* tests/unit/test-image-pack.c — reproducible packing (runner/image/pack.c): an overlay upper
 * dir becomes a layer with .wh. whiteouts, the opaque marker right after its directory,
 * sorted entries, clamped mtimes, empty uname/gname, and the same digest every time. */
#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/cleanup.h"
#include "lib/fs.h"
#include "runner/image/internal.h"
#include "tests/unit/tap.h"

static char base[] = "/tmp/test-image-pack-XXXXXX";

static void put(const char *rel, const char *data)
{
	char p[4200];
	int fd;

	snprintf(p, sizeof(p), "%s/upper/%s", base, rel);
	fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (write(fd, data, strlen(data)) < 0)
		abort();
	close(fd);
}

int main(void)
{
	struct image_store *st = NULL;
	struct image_pack_opts o;
	struct image_layer l1 = {0}, l2 = {0};
	struct error *err = NULL;
	char p[4400], data[4200], upper[4200];
	struct archive *a;
	struct archive_entry *e;
	int fd, i = 0;
	const char *want[] = {"a/",	  "a/.wh.gone", "a/b", "o/", "o/.wh..wh..opq",
			      "o/-first", "o/z",	"z"};
	bool names_ok = true, owners_ok = true, times_ok = true, no_overlay_xattr = true;

	plan_lazy();
	if (!mkdtemp(base))
		return 1;
	snprintf(upper, sizeof(upper), "%s/upper", base);
	snprintf(data, sizeof(data), "%s/data", base);
	mkdir(upper, 0755);
	snprintf(p, sizeof(p), "%s/z", upper);
	put("z", "z");
	snprintf(p, sizeof(p), "%s/o", upper);
	mkdir(p, 0755);
	ok(setxattr(p, "trusted.overlay.opaque", "y", 1, 0) == 0, "upper: opaque dir");
	put("o/z", "z");
	put("o/-first", "sorts before '.'");
	snprintf(p, sizeof(p), "%s/a", upper);
	mkdir(p, 0755);
	put("a/b", "b");
	snprintf(p, sizeof(p), "%s/a/gone", upper);
	ok(mknod(p, S_IFCHR | 0, makedev(0, 0)) == 0, "upper: whiteout device");

	ok(image_store_open(data, &st, &err) == 0, "store opens");
	image_pack_opts_default(&o);
	o.overlay_upper = true;
	o.compression = IMAGE_UNCOMPRESSED;
	o.source_date_epoch = 1000;
	ok(image_layer_from_dir(st, upper, &o, &l1, &err) == 0, "packs (%s)",
	   err ? err->msg : "ok");
	error_clear(&err);
	is_str(l1.digest, l1.diff_id, "uncompressed: digest == diff_id");
	is_str(l1.media_type, MT_OCI_LAYER, "media type");

	/* read the tar back */
	image_blob_open(st, l1.digest, &fd, NULL, NULL);
	a = archive_read_new();
	archive_read_support_format_tar(a);
	archive_read_open_fd(a, fd, 65536);
	while (archive_read_next_header(a, &e) == ARCHIVE_OK) {
		const char *n = archive_entry_pathname(e);
		const char *xn;
		const void *xv;
		size_t xs;

		if (i >= (int)ARRAY_SIZE(want) || strcmp(n, want[i])) {
			names_ok = false;
			diag("entry %d: '%s', want '%s'", i, n,
			     i < (int)ARRAY_SIZE(want) ? want[i] : "(end)");
		}
		if ((archive_entry_uname(e) && *archive_entry_uname(e)) ||
		    (archive_entry_gname(e) && *archive_entry_gname(e))) {
			owners_ok = false;
			diag("'%s' has uname '%s'", n, archive_entry_uname(e));
		}
		if (archive_entry_mtime(e) != 1000 || archive_entry_atime_is_set(e) ||
		    archive_entry_ctime_is_set(e))
			times_ok = false;
		archive_entry_xattr_reset(e);
		while (archive_entry_xattr_next(e, &xn, &xv, &xs) == ARCHIVE_OK)
			if (!strncmp(xn, "trusted.overlay.", 16))
				no_overlay_xattr = false;
		i++;
	}
	archive_read_free(a);
	close(fd);
	ok(names_ok && i == (int)ARRAY_SIZE(want),
	   "entries sorted, whiteouts converted, opaque first in its dir");
	ok(owners_ok, "no uname/gname");
	ok(times_ok, "mtimes clamped to SOURCE_DATE_EPOCH, no atime/ctime");
	ok(no_overlay_xattr, "no trusted.overlay xattrs in the tar");

	/* the same tree after a read (atime) and a chmod-free touch of ctime: same digest */
	snprintf(p, sizeof(p), "%s/z", upper);
	if (chown(p, 0, 0) < 0)
		diag("chown: %m");
	o.compression = IMAGE_ZSTD;
	ok(image_layer_from_dir(st, upper, &o, &l2, &err) == 0, "packs again with zstd");
	is_str(l2.diff_id, l1.diff_id, "same diff_id");
	{
		struct image_layer l3 = {0};

		ok(image_layer_from_dir(st, upper, &o, &l3, &err) == 0, "and again");
		is_str(l3.digest, l2.digest, "same zstd blob digest");
		image_layer_release(&l3);
		o.compression = IMAGE_GZIP;
		ok(image_layer_from_dir(st, upper, &o, &l3, &err) == 0, "gzip");
		{
			char *gz = NULL;
			size_t len = 0;

			image_blob_read(st, l3.digest, 1 << 20, &gz, &len, NULL);
			ok(gz && len > 10 && gz[4] == 0 && gz[5] == 0 && gz[6] == 0 && gz[7] == 0,
			   "no timestamp in the gzip header");
			free(gz);
		}
		is_str(l3.diff_id, l1.diff_id, "gzip: same diff_id");
		image_layer_release(&l3);
	}
	image_layer_release(&l1);
	image_layer_release(&l2);
	image_store_close(st);
	rm_rf(base, NULL);
	return done_testing();
}
