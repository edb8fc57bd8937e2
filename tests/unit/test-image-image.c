/* tests/unit/test-image-image.c — what the container engine and the builder use
 * (runner/image/image.c): commit on a parent, lookup, exec config, rootfs lower dirs topmost
 * first, the overlay lowerdir option for many layers, pins that prune respects. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "lib/fs.h"
#include "lib/json.h"
#include "runner/image/internal.h"
#include "tests/unit/tap.h"

static char base[] = "/tmp/test-image-image-XXXXXX";

static void put(const char *dir, const char *rel, const char *data)
{
	char p[4200];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, strlen(data)) < 0)
		abort();
	close(fd);
}

int main(void)
{
	struct image_store *st = NULL;
	struct image_pack_opts o;
	struct image_layer top = {0};
	struct image *base_img = NULL, *img = NULL;
	struct image_exec x;
	struct error *err = NULL;
	char data[4200], root[4200], upper[4200], p[4400], pin[4400];
	char **dirs = NULL, *opt = NULL, *cd = NULL, *digest = NULL;
	char *tags[] = {"app:v2", "localhost:5000/app:v2"};
	size_t n = 0;
	json_t *exec;
	struct stat sb;

	plan_lazy();
	if (!mkdtemp(base))
		return 1;
	snprintf(data, sizeof(data), "%s/data", base);
	snprintf(root, sizeof(root), "%s/root", base);
	snprintf(upper, sizeof(upper), "%s/upper", base);
	mkdir(root, 0755);
	mkdir(upper, 0755);
	put(root, "base", "b");
	put(root, "gone", "g");
	put(upper, "added", "a");
	snprintf(p, sizeof(p), "%s/gone", upper);
	mknod(p, S_IFCHR, makedev(0, 0));

	ok(image_store_open(data, &st, &err) == 0, "store");
	image_pack_opts_default(&o);
	ok(image_import(st, root, "app:v1", &o, NULL, &err) == 0, "import base");
	ok(image_lookup(st, "app:v1", &base_img, &err) == 0, "lookup base");
	o.overlay_upper = true;
	ok(image_layer_from_dir(st, upper, &o, &top, &err) == 0, "pack the upper dir");
	exec =
	    json_pack("{s:[s,s], s:[s], s:[s], s:s, s:s}", "Env", "PATH=/bin", "A=b", "Entrypoint",
		      "/bin/app", "Cmd", "--serve", "WorkingDir", "/srv", "User", "1000:1000");
	ok(image_commit(st, base_img, &top, 1, exec, "RUN make", tags, 2, &digest, &err) == 0,
	   "commit on the parent with two tags (%s)", err ? err->msg : "ok");
	json_decref(exec);
	ok(image_lookup(st, "localhost:5000/app:v2", &img, &err) == 0, "second tag found");
	is_str(img->manifest_digest, digest, "it is the committed manifest");
	is_int(img->n_layers, 2, "two layers");
	is_str(img->layers[0].digest, base_img->layers[0].digest, "bottom layer is the parent's");
	is_int(json_array_size(json_get_array(img->config, "history")), 2, "history grows");

	ok(image_exec_config(img, &x, &err) == 0, "exec config");
	ok(x.env && !strcmp(x.env[1], "A=b") && !x.env[2], "Env");
	ok(x.entrypoint && !strcmp(x.entrypoint[0], "/bin/app"), "Entrypoint");
	ok(x.cmd && !strcmp(x.cmd[0], "--serve"), "Cmd");
	is_str(x.workdir, "/srv", "WorkingDir");
	is_str(x.user, "1000:1000", "User");
	image_exec_release(&x);

	snprintf(pin, sizeof(pin), "%s/containers/c1", data);
	mkdir_p(pin, 0755, NULL);
	strcat(pin, "/layers");
	ok(image_pin(st, img, pin, &err) == 0, "pin");
	ok(image_rootfs(st, img, &dirs, &n, &err) == 0, "rootfs");
	is_int(n, 2, "two lower dirs");
	snprintf(p, sizeof(p), "%s/gone", dirs[0]);
	ok(lstat(p, &sb) == 0 && S_ISCHR(sb.st_mode) && sb.st_rdev == 0,
	   "topmost first: the whiteout is in dirs[0]");
	snprintf(p, sizeof(p), "%s/base", dirs[1]);
	ok(stat(p, &sb) == 0, "the base layer is dirs[1]");

	ok(image_overlay_lowerdir(st, dirs, n, 512, &opt, &cd, &err) == 0 && !cd &&
	       strchr(opt, ':') && opt[0] == '/',
	   "two layers: absolute lowerdir, no chdir");
	free(opt);
	{
		char *many[80];

		for (int i = 0; i < 80; i++)
			many[i] = i % 2 ? dirs[0] : dirs[1];
		ok(image_overlay_lowerdir(st, many, 50, 512, &opt, &cd, &err) == 0 && cd &&
		       !strcmp(cd, image_store_layers_dir(st)) && opt[0] != '/' &&
		       strlen(opt) == 50 * 65 - 1,
		   "50 layers: relative names and a chdir into the layers dir");
		free(opt);
		free(cd);
		ok(image_overlay_lowerdir(st, many, 80, 512, &opt, &cd, &err) < 0,
		   "80 layers: a clear error (%s)", err ? err->msg : "");
		error_clear(&err);
	}

	{
		struct image_prune_stats s;

		image_remove(st, "app:v2", NULL);
		image_remove(st, "localhost:5000/app:v2", NULL);
		ok(image_prune(st, &s, &err) == 0, "prune");
		ok(stat(dirs[0], &sb) == 0, "the pinned top layer dir stays");
		unlink(pin);
		ok(image_prune(st, &s, &err) == 0 && s.layer_dirs == 1, "unpinned: removed");
		ok(stat(dirs[0], &sb) < 0, "gone");
		ok(stat(dirs[1], &sb) == 0, "app:v1's layer stays");
	}
	image_strv_free(dirs, n);
	dirs = NULL;

	/* 50 layers: the absolute lowerdir does not fit a page; mount with the relative form. */
	{
		struct image *prev = NULL, *next = NULL;
		char ldir[4400], mnt[256], cwd[4096];
		char *t[] = {"deep:0"};
		bool all = true;

		image_lookup(st, "app:v1", &prev, NULL);
		for (int i = 0; i < 49 && prev; i++) {
			struct image_layer l = {0};
			char name[32];

			snprintf(ldir, sizeof(ldir), "%s/l%d", base, i);
			mkdir(ldir, 0755);
			snprintf(name, sizeof(name), "file%d", i);
			put(ldir, name, name);
			o.overlay_upper = false;
			if (image_layer_from_dir(st, ldir, &o, &l, &err) < 0 ||
			    image_commit(st, prev, &l, 1, NULL, name, t, 1, NULL, &err) < 0) {
				all = false;
				break;
			}
			image_layer_release(&l);
			image_free(prev);
			prev = NULL;
			image_lookup(st, "deep:0", &prev, &err);
		}
		ok(all && prev && prev->n_layers == 50, "an image of 50 layers (%s)",
		   err ? err->msg : "ok");
		error_clear(&err);
		ok(prev && image_rootfs(st, prev, &dirs, &n, &err) == 0, "its rootfs");
		ok(dirs && image_overlay_lowerdir(st, dirs, n, 512, &opt, &cd, &err) == 0 && cd,
		   "the relative form is chosen");
		snprintf(mnt, sizeof(mnt), "%.200s/mnt", base);
		mkdir(mnt, 0755);
		if (opt && cd && getcwd(cwd, sizeof(cwd))) {
			char *mo = NULL;
			int rc;

			if (asprintf(&mo, "lowerdir=%s", opt) < 0)
				abort();
			rc = chdir(cd) == 0 ? mount("overlay", mnt, "overlay", MS_RDONLY, mo) : -1;
			ok(rc == 0, "overlay mounts after chdir into the layers dir");
			if (chdir(cwd) < 0)
				diag("chdir back: %m");
			if (rc == 0) {
				snprintf(p, sizeof(p), "%s/file0", mnt);
				ok(stat(p, &sb) == 0, "bottom new layer's file is visible");
				snprintf(p, sizeof(p), "%s/file48", mnt);
				ok(stat(p, &sb) == 0, "top layer's file is visible");
				snprintf(p, sizeof(p), "%s/base", mnt);
				ok(stat(p, &sb) == 0, "the base image's file is visible");
				ok(umount2(mnt, MNT_DETACH) == 0, "unmount");
			}
			free(mo);
		}
		free(opt);
		free(cd);
		image_strv_free(dirs, n);
		image_free(prev);
		(void)next;
	}
	free(digest);
	image_free(img);
	image_free(base_img);
	image_layer_release(&top);
	image_store_close(st);
	rm_rf(base, NULL);
	return done_testing();
}
