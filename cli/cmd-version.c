/* cli/cmd-version.c — `slipway version`: build, libraries, cgroup mode, data dir. */
#include <stdio.h>
#include <stdlib.h>

#include <archive.h>
#include <curl/curl.h>
#include <git2.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <seccomp.h>
#include <sqlite3.h>
#include <yaml.h>

#include "cli/cli.h"
#include "config.h"
#include "lib/cleanup.h"
#include "lib/json.h"
#include "runner/cgroup.h"

struct libversion {
	const char *name;
	char version[64];
};

static void library_versions(struct libversion *v, size_t n)
{
	int maj = 0, min = 0, rev = 0;
	const struct scmp_version *sv = seccomp_version();
	const curl_version_info_data *cv = curl_version_info(CURLVERSION_NOW);
	size_t i = 0;

	git_libgit2_version(&maj, &min, &rev);
#define ADD(nm, ...)                                                                               \
	do {                                                                                       \
		if (i < n) {                                                                       \
			v[i].name = nm;                                                            \
			snprintf(v[i].version, sizeof(v[i].version), __VA_ARGS__);                 \
			i++;                                                                       \
		}                                                                                  \
	} while (0)
	ADD("libgit2", "%d.%d.%d", maj, min, rev);
	ADD("libyaml", "%s", yaml_get_version_string());
	ADD("libcurl", "%s", cv ? cv->version : "?");
	ADD("sqlite", "%s", sqlite3_libversion());
	ADD("libarchive", "%s", archive_version_string() + sizeof("libarchive ") - 1);
	ADD("jansson", "%s", jansson_version_str());
	ADD("libmicrohttpd", "%s", MHD_get_version());
	ADD("openssl", "%u.%u.%u", OPENSSL_version_major(), OPENSSL_version_minor(),
	    OPENSSL_version_patch());
	ADD("libseccomp", "%u.%u.%u", sv ? sv->major : 0, sv ? sv->minor : 0, sv ? sv->micro : 0);
#undef ADD
}

enum { NLIBS = 9 };

static int print_json(struct cli *cli, struct libversion *libs, const struct cgroup_host *h)
{
	json_auto_t *o = json_object();
	json_t *l = json_object(), *cg = json_object(), *parents = json_object();
	struct error *err = NULL;

	for (int i = 0; i < NLIBS; i++)
		json_object_set_new(l, libs[i].name, json_string(libs[i].version));
	json_object_set_new(o, "version", json_string(SLIPWAY_VERSION));
	json_object_set_new(o, "libraries", l);
	json_object_set_new(cg, "mode", json_string(h ? cgroup_mode_name(h->mode) : "unavailable"));
	if (h && h->unified_mount)
		json_object_set_new(cg, "unified_mount", json_string(h->unified_mount));
	for (int c = 0; h && c < CG_NCTL; c++) {
		cleanup_free char *dir = cgroup_parent_dir(h, c);
		json_t *p;

		if (!dir)
			continue;
		p = json_pack("{s:s, s:s}", "version", h->ctl[c].v2 ? "v2" : "v1", "path", dir);
		json_object_set_new(parents, cgroup_ctl_name(c, 0), p);
	}
	json_object_set_new(cg, "controllers", parents);
	json_object_set_new(o, "cgroups", cg);
	json_object_set_new(o, "data_dir", json_string(cli->data_dir));
	if (json_print(o, &err) < 0)
		return cli_fail(err);
	return EXIT_OK;
}

int cmd_version(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {CLI_COMMON_LONGOPTS};
	struct libversion libs[NLIBS] = {0};
	struct cgroup_host h;
	struct error *err = NULL;
	bool have_cg;
	int opt, rc;

	while ((opt = cli_getopt(cli, argc, argv, "+h", longopts)) != -1) {
		switch (opt) {
			CLI_COMMON_CASES(cli, argv);
		}
	}
	if (optind < argc)
		return cli_usage(cli, "unexpected argument '%s'", argv[optind]);

	library_versions(libs, NLIBS);
	have_cg = cgroup_host_detect(&h, &err) == 0;
	if (cli->json) {
		rc = print_json(cli, libs, have_cg ? &h : NULL);
		if (have_cg)
			cgroup_host_release(&h);
		error_free(err);
		return rc;
	}

	printf("slipway %s\n\nlibraries:\n", SLIPWAY_VERSION);
	for (int i = 0; i < NLIBS; i++)
		printf("  %-14s %s\n", libs[i].name, libs[i].version);
	if (have_cg) {
		printf("\ncgroups:          %s", cgroup_mode_name(h.mode));
		if (h.mode == CGROUP_HYBRID)
			printf(" (v1 controllers; cgroup2 at %s)", h.unified_mount);
		printf("\ncontainer cgroups:\n");
		for (int c = 0; c < CG_NCTL; c++) {
			cleanup_free char *dir = cgroup_parent_dir(&h, c);

			printf("  %-9s %s %s\n", cgroup_ctl_name(c, 0), h.ctl[c].v2 ? "v2" : "v1",
			       dir ? dir : "(not available)");
		}
		cgroup_host_release(&h);
	} else {
		printf("\ncgroups:          unavailable (%s)\n", err->msg);
	}
	printf("data dir:         %s\n", cli->data_dir);
	error_free(err);
	return EXIT_OK;
}
