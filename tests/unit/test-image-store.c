/* tests/unit/test-image-store.c — blobs and tags (runner/image/store.c): streamed blobs are
 * verified before they appear, a corrupted blob is noticed on read, tags are replaced. */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/fs.h"
#include "runner/image/internal.h"
#include "tests/unit/tap.h"

static char base[] = "/tmp/test-image-store-XXXXXX";

int main(void)
{
	struct image_store *st = NULL;
	struct image_blob_writer *w = NULL;
	struct error *err = NULL;
	char digest[IMAGE_DIGEST_LEN + 1], d2[IMAGE_DIGEST_LEN + 1], *data = NULL, *path;
	const char *bad = "sha256:0000000000000000000000000000000000000000000000000000000000000000";
	int64_t size = 0;
	size_t len = 0;
	int fd;

	plan_lazy();
	if (!mkdtemp(base))
		return 1;
	ok(image_store_open(base, &st, &err) == 0, "open creates the layout");
	{
		char p[4200];
		struct stat sb;

		snprintf(p, sizeof(p), "%s/images/oci-layout", base);
		ok(stat(p, &sb) == 0, "oci-layout exists");
		snprintf(p, sizeof(p), "%s/images/index.json", base);
		ok(stat(p, &sb) == 0, "index.json exists");
	}

	image_blob_begin(st, &w, NULL);
	image_blob_write(w, "hello ", 6, NULL);
	image_blob_write(w, "world", 5, NULL);
	ok(image_blob_commit(w, bad, digest, &size, &err) < 0 && err->exit_code == EXIT_FAILED,
	   "a wrong expected digest is refused");
	ok(!image_blob_exists(st, bad), "and nothing is stored");
	error_clear(&err);

	image_blob_begin(st, &w, NULL);
	image_blob_write(w, "hello world", 11, NULL);
	ok(image_blob_commit(w, NULL, digest, &size, &err) == 0, "a streamed blob is stored");
	is_str(digest, "sha256:b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9",
	       "its digest");
	is_int(size, 11, "its size");
	ok(image_blob_exists(st, digest), "exists");
	ok(image_blob_put(st, "hello world", 11, d2, NULL) == 0 && !strcmp(d2, digest),
	   "put of the same bytes: same digest");
	ok(image_blob_read(st, digest, 100, &data, &len, NULL) == 0 && len == 11, "read back");
	free(data);
	ok(image_blob_read(st, digest, 5, &data, &len, &err) < 0, "read is capped");
	error_clear(&err);

	path = store_blob_path(st, digest, NULL);
	fd = open(path, O_WRONLY);
	if (pwrite(fd, "J", 1, 0) != 1)
		diag("pwrite failed");
	close(fd);
	ok(image_blob_read(st, digest, 100, &data, &len, &err) < 0 && strstr(err->msg, "corrupt"),
	   "a corrupted blob is noticed");
	error_clear(&err);
	free(path);
	ok(store_blob_path(st, "sha256:../../etc/passwd", &err) == NULL, "a bad digest is no path");
	error_clear(&err);
	ok(image_tag_digest(st, "x", bad, &err) < 0, "cannot tag a manifest that is not there");
	error_clear(&err);
	{
		char tmp[4200];
		DIR *d;
		struct dirent *de;
		int n = 0;

		snprintf(tmp, sizeof(tmp), "%s/tmp", base);
		d = opendir(tmp);
		while ((de = readdir(d)))
			n += de->d_name[0] != '.';
		closedir(d);
		is_int(n, 0, "no temp blobs left");
	}
	image_store_close(st);
	rm_rf(base, NULL);
	return done_testing();
}
