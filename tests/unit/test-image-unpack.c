/* tests/unit/test-image-unpack.c — secure layer unpacking (runner/image/unpack.c): hostile
 * tars written here with libarchive (names GNU tar would not write) are refused naming the
 * entry and the layer, write nothing outside, and leave no layer dir in the store; legit
 * layers keep xattrs, devices, hardlinks and whiteouts. */
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "lib/fs.h"
#include "lib/hash.h"
#include "runner/image/internal.h"
#include "tests/unit/tap.h"

struct ent {
	const char *name;
	char type;	    /* f file, d dir, l symlink, h hardlink, c chardev */
	const char *target; /* symlink or hardlink target, or file data */
};

static void write_tar(const char *path, const struct ent *e, size_t n, bool gzip)
{
	struct archive *a = archive_write_new();

	archive_write_set_format_pax_restricted(a);
	if (gzip)
		archive_write_add_filter_gzip(a);
	archive_write_open_filename(a, path);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *x = archive_entry_new();
		const char *data = e[i].type == 'f' && e[i].target ? e[i].target : "";

		archive_entry_set_pathname(x, e[i].name);
		archive_entry_set_perm(x, 0644);
		switch (e[i].type) {
		case 'd':
			archive_entry_set_filetype(x, AE_IFDIR);
			archive_entry_set_perm(x, 0750);
			break;
		case 'l':
			archive_entry_set_filetype(x, AE_IFLNK);
			archive_entry_set_symlink(x, e[i].target);
			break;
		case 'h':
			archive_entry_set_filetype(x, AE_IFREG);
			archive_entry_set_hardlink(x, e[i].target);
			break;
		case 'c':
			archive_entry_set_filetype(x, AE_IFCHR);
			archive_entry_set_rdev(x, makedev(1, 3));
			break;
		default:
			archive_entry_set_filetype(x, AE_IFREG);
			archive_entry_set_size(x, (la_int64_t)strlen(data));
			if (!strcmp(e[i].name, "x/xattr"))
				archive_entry_xattr_add_entry(x, "user.color", "blue", 4);
			if (!strcmp(e[i].name, "x/suid"))
				archive_entry_set_perm(x, 04755);
			archive_entry_set_uid(x, 1234);
			archive_entry_set_gid(x, 5678);
		}
		archive_write_header(a, x);
		if (*data)
			archive_write_data(a, data, strlen(data));
		archive_entry_free(x);
	}
	archive_write_close(a);
	archive_write_free(a);
}

static char base[] = "/tmp/test-image-unpack-XXXXXX";

static int unpack(const char *tar, const char *root, struct error **err)
{
	struct layer_limits lim;
	struct layer_unpack_result res;
	int fd = open(tar, O_RDONLY), rc;

	layer_limits_default(&lim);
	mkdir(root, 0755);
	rc = layer_unpack_fd(fd, root, "sha256:test", &lim, NULL, &res, err);
	close(fd);
	return rc;
}

static bool outside_empty(void)
{
	char p[4200];
	struct stat sb;

	snprintf(p, sizeof(p), "%s/outside/pwned", base);
	return stat(p, &sb) < 0;
}

static void refused(const char *what, const struct ent *e, size_t n, const char *entry)
{
	char tar[4200], root[4200];
	struct error *err = NULL;

	snprintf(tar, sizeof(tar), "%s/evil.tar", base);
	snprintf(root, sizeof(root), "%s/layer/root", base);
	rm_rf(root, NULL);
	write_tar(tar, e, n, false);
	ok(unpack(tar, root, &err) < 0, "%s: refused", what);
	ok(err && strstr(err->msg, entry) && strstr(err->msg, "layer 'sha256:test'"),
	   "%s: the error names the entry and the layer (%s)", what, err ? err->msg : "");
	ok(outside_empty(), "%s: nothing written outside", what);
	error_free(err);
}

int main(void)
{
	char outside[4200], tar[4200], root[4200], p[4300], v[16];
	struct error *err = NULL;
	struct stat sb;

	plan_lazy();
	if (!mkdtemp(base))
		return 1;
	snprintf(outside, sizeof(outside), "%s/outside", base);
	mkdir(outside, 0755);
	{
		char layer[4200];

		snprintf(layer, sizeof(layer), "%s/layer", base);
		mkdir(layer, 0755);
	}

	/* root/../outside/pwned from root = base/layer/root: two levels up is base. */
	refused("dotdot", (struct ent[]){{"../../outside/pwned", 'f', "x"}}, 1,
		"../../outside/pwned");
	refused("dotdot inside", (struct ent[]){{"a/../../../outside/pwned", 'f', "x"}}, 1,
		"a/../../../outside/pwned");
	snprintf(p, sizeof(p), "%s/pwned", outside);
	refused("absolute", (struct ent[]){{p, 'f', "x"}}, 1, p);
	refused("symlink then write through",
		(struct ent[]){{"link", 'l', outside}, {"link/pwned", 'f', "x"}}, 2, "link/pwned");
	refused("relative symlink out",
		(struct ent[]){{"up", 'l', "../../outside"}, {"up/pwned", 'f', "x"}}, 2,
		"up/pwned");
	refused("symlink chain out",
		(struct ent[]){{"a", 'd', NULL},
			       {"a/b", 'l', ".."},
			       {"a/b/c", 'l', ".."},
			       {"a/b/c/pwned", 'f', "x"}},
		4, "a/b/c/pwned");
	snprintf(p, sizeof(p), "%s/victim", outside);
	{
		int fd = open(p, O_CREAT | O_WRONLY, 0644);

		close(fd);
	}
	refused("hardlink to outside (relative)",
		(struct ent[]){{"pwned", 'h', "../../outside/victim"}}, 1, "pwned");
	refused("hardlink to outside (absolute)", (struct ent[]){{"pwned", 'h', p}}, 1, "pwned");
	refused("hardlink through an outside symlink",
		(struct ent[]){{"l", 'l', outside}, {"pwned", 'h', "l/victim"}}, 2, "pwned");
	stat(p, &sb);
	is_int(sb.st_nlink, 1, "the outside file got no new link");

	/* A legit layer. */
	snprintf(tar, sizeof(tar), "%s/ok.tar.gz", base);
	snprintf(root, sizeof(root), "%s/layer/ok", base);
	write_tar(tar,
		  (struct ent[]){{"./x/", 'd', NULL},
				 {"x/xattr", 'f', "data"},
				 {"x/suid", 'f', "s"},
				 {"x/hard", 'h', "x/xattr"},
				 {"x/null", 'c', NULL},
				 {"usr/lib/", 'd', NULL},
				 {"lib", 'l', "usr/lib"},
				 {"lib/x.so", 'f', "so"},
				 {"x/.wh.gone", 'f', NULL},
				 {"o/.wh..wh..opq", 'f', NULL},
				 {"o/kept", 'f', "k"}},
		  11, true);
	ok(unpack(tar, root, &err) == 0, "legit layer unpacks (%s)", err ? err->msg : "");
	error_clear(&err);
	snprintf(p, sizeof(p), "%s/x/xattr", root);
	ok(getxattr(p, "user.color", v, sizeof(v)) == 4 && !memcmp(v, "blue", 4), "xattr kept");
	stat(p, &sb);
	is_int(sb.st_nlink, 2, "hardlink kept");
	is_int(sb.st_uid, 1234, "owner kept");
	is_int(sb.st_gid, 5678, "group kept");
	snprintf(p, sizeof(p), "%s/x/suid", root);
	stat(p, &sb);
	is_int(sb.st_mode & 07777, 04755, "setuid kept after chown");
	snprintf(p, sizeof(p), "%s/x", root);
	stat(p, &sb);
	is_int(sb.st_mode & 07777, 0750, "directory mode set at the end");
	snprintf(p, sizeof(p), "%s/x/null", root);
	ok(stat(p, &sb) == 0 && S_ISCHR(sb.st_mode) && sb.st_rdev == makedev(1, 3),
	   "device node kept");
	snprintf(p, sizeof(p), "%s/x/gone", root);
	ok(lstat(p, &sb) == 0 && S_ISCHR(sb.st_mode) && sb.st_rdev == makedev(0, 0),
	   ".wh.gone became a 0/0 char device");
	snprintf(p, sizeof(p), "%s/x/.wh.gone", root);
	ok(lstat(p, &sb) < 0, "no .wh. file left");
	snprintf(p, sizeof(p), "%s/o", root);
	ok(getxattr(p, "trusted.overlay.opaque", v, sizeof(v)) == 1 && v[0] == 'y',
	   "opaque dir marked trusted.overlay.opaque=y");
	snprintf(p, sizeof(p), "%s/o/kept", root);
	ok(stat(p, &sb) == 0, "the opaque dir's own children stay");
	snprintf(p, sizeof(p), "%s/usr/lib/x.so", root);
	ok(stat(p, &sb) == 0, "write through an in-layer relative symlink lands inside");

	/* Through the store: a refused layer leaves no dir, temp or final. */
	{
		struct image_store *st = NULL;
		char data[4200], *blob = NULL, digest[IMAGE_DIGEST_LEN + 1];
		size_t len = 0;
		struct image_layer l = {0};
		char *ld;

		snprintf(data, sizeof(data), "%s/data", base);
		image_store_open(data, &st, NULL);
		snprintf(tar, sizeof(tar), "%s/evil.tar", base);
		write_tar(tar, (struct ent[]){{"ok", 'f', "x"}, {"../../../pwned", 'f', "x"}}, 2,
			  false);
		read_file(tar, 1 << 20, &blob, &len, NULL);
		image_blob_put(st, blob, len, digest, NULL);
		l.digest = digest;
		l.diff_id = digest;
		ok(store_unpack_layer(st, &l, &err) < 0 && strstr(err->msg, digest),
		   "store refuses it naming the digest (%s)", err ? err->msg : "");
		error_clear(&err);
		ld = store_layer_dir(st, digest);
		ok(stat(ld, &sb) < 0, "no layer dir");
		snprintf(p, sizeof(p), "%s/layers", data);
		{
			DIR *d = opendir(p);
			struct dirent *de;
			int n = 0;

			while ((de = readdir(d)))
				n += de->d_name[0] != '.' || strncmp(de->d_name, ".tmp", 4) == 0;
			closedir(d);
			is_int(n, 0, "no temp dir left in layers/");
		}
		free(ld);
		free(blob);
		image_store_close(st);
	}
	rm_rf(base, NULL);
	return done_testing();
}
