/* cli/cmd-image.c — `slipway image import|ls|inspect|tag|rm|save|load|prune`: flags and output
 * over runner/image. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "lib/cleanup.h"
#include "lib/json.h"
#include "lib/parse.h"
#include "runner/image/image.h"

static int open_store(struct cli *cli, struct image_store **st)
{
	struct error *err = NULL;

	if (image_store_open(cli->data_dir, st, &err) < 0)
		return cli_fail(err);
	image_store_set_progress(*st, cli->stderr_tty);
	return EXIT_OK;
}

/* Parses only the common flags; returns -1 to go on, else an exit status. */
static int common_only(struct cli *cli, int argc, char **argv, int nargs_min, int nargs_max)
{
	static const struct option longopts[] = {CLI_COMMON_LONGOPTS};
	int opt;

	while ((opt = cli_getopt(cli, argc, argv, "+h", longopts)) != -1) {
		switch (opt) {
			CLI_COMMON_CASES(cli, argv);
		}
	}
	if (argc - optind < nargs_min)
		return cli_usage(cli, "missing argument");
	if (argc - optind > nargs_max)
		return cli_usage(cli, "unexpected argument '%s'", argv[optind + nargs_max]);
	return -1;
}

int cmd_image_import(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {{"compression", required_argument, NULL, 'c'},
						 CLI_COMMON_LONGOPTS};
	struct image_pack_opts o;
	struct image_store *st = NULL;
	struct error *err = NULL;
	cleanup_free char *digest = NULL;
	int opt, rc;

	image_pack_opts_default(&o);
	while ((opt = cli_getopt(cli, argc, argv, "+hc:", longopts)) != -1) {
		switch (opt) {
		case 'c':
			if (image_compression_parse(optarg, &o.compression, &err) < 0)
				return cli_fail(err);
			break;
			CLI_COMMON_CASES(cli, argv);
		}
	}
	if (argc - optind != 2)
		return cli_usage(cli, "expected TARBALL|DIR and NAME[:TAG]");
	if ((rc = open_store(cli, &st)) != EXIT_OK)
		return rc;
	rc = image_import(st, argv[optind], argv[optind + 1], &o, &digest, &err);
	image_store_close(st);
	if (rc < 0)
		return cli_fail(err);
	if (cli->json) {
		json_auto_t *j = json_pack("{s:s, s:s}", "ref", argv[optind + 1], "digest", digest);

		return json_print(j, &err) < 0 ? cli_fail(err) : EXIT_OK;
	}
	printf("%s\n", digest);
	return EXIT_OK;
}

int cmd_image_ls(struct cli *cli, int argc, char **argv)
{
	struct image_store *st = NULL;
	struct image_summary *s = NULL;
	struct error *err = NULL;
	size_t n = 0, wn = 10, wt = 3;
	int rc = common_only(cli, argc, argv, 0, 0);

	if (rc >= 0)
		return rc;
	if ((rc = open_store(cli, &st)) != EXIT_OK)
		return rc;
	rc = image_list(st, &s, &n, &err);
	image_store_close(st);
	if (rc < 0)
		return cli_fail(err);
	if (cli->json) {
		json_auto_t *a = json_array();

		for (size_t i = 0; i < n; i++)
			json_array_append_new(
			    a, json_pack("{s:s, s:s, s:s, s:I, s:s?}", "repository", s[i].name,
					 "tag", s[i].tag, "digest", s[i].manifest_digest, "size",
					 (json_int_t)s[i].size, "created", s[i].created));
		image_summaries_free(s, n);
		return json_print(a, &err) < 0 ? cli_fail(err) : EXIT_OK;
	}
	for (size_t i = 0; i < n; i++) {
		if (strlen(s[i].name) > wn)
			wn = strlen(s[i].name);
		if (strlen(s[i].tag) > wt)
			wt = strlen(s[i].tag);
	}
	printf("%-*s  %-*s  %-12s  %10s  %s\n", (int)wn, "REPOSITORY", (int)wt, "TAG", "DIGEST",
	       "SIZE", "CREATED");
	for (size_t i = 0; i < n; i++) {
		char sz[32];

		format_size((uint64_t)s[i].size, sz, sizeof(sz));
		printf("%-*s  %-*s  %-12.12s  %10s  %s\n", (int)wn, s[i].name, (int)wt, s[i].tag,
		       s[i].manifest_digest + 7, sz, s[i].created ? s[i].created : "-");
	}
	image_summaries_free(s, n);
	return EXIT_OK;
}

int cmd_image_inspect(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {{"layers", no_argument, NULL, 'l'},
						 CLI_COMMON_LONGOPTS};
	struct image_store *st = NULL;
	struct image *img = NULL;
	struct error *err = NULL;
	bool layers = false;
	int opt, rc;

	while ((opt = cli_getopt(cli, argc, argv, "+hl", longopts)) != -1) {
		switch (opt) {
		case 'l':
			layers = true;
			break;
			CLI_COMMON_CASES(cli, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cli, "expected one image reference");
	if ((rc = open_store(cli, &st)) != EXIT_OK)
		return rc;
	if (image_lookup(st, argv[optind], &img, &err) < 0) {
		image_store_close(st);
		return cli_fail(err);
	}
	if (layers) {
		char **dirs = NULL;
		size_t n = 0;

		rc = image_rootfs(st, img, &dirs, &n, &err);
		if (rc == 0 && cli->json) {
			json_auto_t *a = json_array();

			for (size_t i = 0; i < n; i++)
				json_array_append_new(a, json_string(dirs[i]));
			rc = json_print(a, &err);
		} else if (rc == 0) {
			for (size_t i = 0; i < n; i++)
				printf("%s\n", dirs[i]);
		}
		image_strv_free(dirs, n);
	} else {
		json_auto_t *o =
		    json_pack("{s:s?, s:s, s:O, s:s, s:O}", "ref", img->ref, "digest",
			      img->manifest_digest, "manifest", img->manifest, "config_digest",
			      img->config_digest, "config", img->config);

		rc = json_print(o, &err);
	}
	image_free(img);
	image_store_close(st);
	return rc < 0 ? cli_fail(err) : EXIT_OK;
}

int cmd_image_tag(struct cli *cli, int argc, char **argv)
{
	struct image_store *st = NULL;
	struct error *err = NULL;
	int rc = common_only(cli, argc, argv, 2, 2);

	if (rc >= 0)
		return rc;
	if ((rc = open_store(cli, &st)) != EXIT_OK)
		return rc;
	rc = image_tag(st, argv[optind], argv[optind + 1], &err);
	image_store_close(st);
	return rc < 0 ? cli_fail(err) : EXIT_OK;
}

int cmd_image_rm(struct cli *cli, int argc, char **argv)
{
	struct image_store *st = NULL;
	struct error *err = NULL;
	int rc = common_only(cli, argc, argv, 1, 64);

	if (rc >= 0)
		return rc;
	if ((rc = open_store(cli, &st)) != EXIT_OK)
		return rc;
	for (int i = optind; i < argc; i++) {
		if (image_remove(st, argv[i], &err) < 0) {
			image_store_close(st);
			return cli_fail(err);
		}
		printf("untagged: %s\n", argv[i]);
	}
	image_store_close(st);
	return EXIT_OK;
}

int cmd_image_save(struct cli *cli, int argc, char **argv)
{
	struct image_store *st = NULL;
	struct error *err = NULL;
	int rc = common_only(cli, argc, argv, 2, 2);

	if (rc >= 0)
		return rc;
	if ((rc = open_store(cli, &st)) != EXIT_OK)
		return rc;
	rc = image_save(st, argv[optind], argv[optind + 1], &err);
	image_store_close(st);
	return rc < 0 ? cli_fail(err) : EXIT_OK;
}

int cmd_image_load(struct cli *cli, int argc, char **argv)
{
	struct image_store *st = NULL;
	struct error *err = NULL;
	char **refs = NULL;
	int rc = common_only(cli, argc, argv, 1, 1);

	if (rc >= 0)
		return rc;
	if ((rc = open_store(cli, &st)) != EXIT_OK)
		return rc;
	rc = image_load(st, argv[optind], &refs, &err);
	image_store_close(st);
	if (rc < 0)
		return cli_fail(err);
	for (size_t i = 0; refs && refs[i]; i++)
		printf("loaded: %s\n", refs[i]);
	image_strv_free(refs, SIZE_MAX);
	return EXIT_OK;
}

int cmd_image_prune(struct cli *cli, int argc, char **argv)
{
	struct image_store *st = NULL;
	struct image_prune_stats s;
	struct error *err = NULL;
	char sz[32];
	int rc = common_only(cli, argc, argv, 0, 0);

	if (rc >= 0)
		return rc;
	if ((rc = open_store(cli, &st)) != EXIT_OK)
		return rc;
	rc = image_prune(st, &s, &err);
	image_store_close(st);
	if (rc < 0)
		return cli_fail(err);
	if (cli->json) {
		json_auto_t *o =
		    json_pack("{s:I, s:I, s:I}", "blobs", (json_int_t)s.blobs, "layer_dirs",
			      (json_int_t)s.layer_dirs, "bytes", (json_int_t)s.bytes);

		return json_print(o, &err) < 0 ? cli_fail(err) : EXIT_OK;
	}
	format_size(s.bytes, sz, sizeof(sz));
	printf("removed %zu blobs (%s) and %zu layer dirs\n", s.blobs, sz, s.layer_dirs);
	return EXIT_OK;
}

const struct command commands_image[] = {
    {"image import", "make a one-layer image from a root filesystem",
     "[--compression zstd|gzip|none] TARBALL|DIR NAME[:TAG]",
     "TARBALL may be a tar, .tar.gz or .tar.zst; it is unpacked securely and packed again\n"
     "reproducibly (SOURCE_DATE_EPOCH clamps mtimes). Prints the manifest digest.\n"
     "Options:\n"
     "  -c, --compression C   layer compression: zstd (default), gzip, none\n"
     "      --json            print {ref, digest}\n",
     cmd_image_import},
    {"image ls", "list images", "[--json]",
     "Columns: REPOSITORY, TAG, DIGEST (short manifest digest), SIZE (compressed), CREATED.\n"
     "Options:\n"
     "      --json            print a JSON array\n",
     cmd_image_ls},
    {"image inspect", "show an image's manifest and config, or its layer dirs", "[--layers] REF",
     "REF is NAME[:TAG], NAME@sha256:..., or a manifest digest (or a 12+ digit prefix).\n"
     "Options:\n"
     "  -l, --layers          unpack the layers if needed and print their dirs, topmost\n"
     "                        first (the overlay lowerdir order), one per line\n",
     cmd_image_inspect},
    {"image tag", "give an image another name", "SRC DST", "", cmd_image_tag},
    {"image rm", "remove image tags (data stays until 'image prune')", "REF...", "", cmd_image_rm},
    {"image save", "write an image as an OCI archive", "REF FILE.tar",
     "The archive is a tar of an OCI layout; skopeo reads it as oci-archive:FILE.tar.\n",
     cmd_image_save},
    {"image load", "load an OCI archive or a docker-save archive", "FILE.tar",
     "Every blob digest and layer diff_id is verified and every layer unpacked before\n"
     "anything is tagged.\n",
     cmd_image_load},
    {"image prune", "remove unreferenced blobs and layer dirs", "[--json]",
     "Layer dirs a live container pinned ($DATA/containers/<id>/layers) are kept.\n",
     cmd_image_prune},
    {NULL, NULL, NULL, NULL, NULL},
};
