/* cli/cmd-build.c — `slipway image build`: flags over runner/build; progress on stderr, the
 * new image's digest on stdout. */
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/cleanup.h"
#include "lib/json.h"
#include "lib/parse.h"
#include "runner/build/build.h"

static int parse_epoch(struct cli *cli, int64_t *out)
{
	const char *s = getenv("SOURCE_DATE_EPOCH");
	struct error *err = NULL;

	*out = -1;
	if (!s || !*s)
		return EXIT_OK;
	if (parse_int(s, 0, INT64_MAX / 2, out, &err) < 0) {
		error_wrap(&err, "SOURCE_DATE_EPOCH");
		return cli_fail(err);
	}
	return EXIT_OK;
}

/* Ctrl-C, SIGTERM, SIGHUP: the running RUN container is stopped, the build fails cleanly
 * (nothing tagged, nothing left behind) and slipway exits 128+N. */
static volatile sig_atomic_t got_signal;
static struct container *volatile running;

static void on_signal(int sig)
{
	got_signal = sig;
	if (running)
		container_stop(running);
}

static void track_container(struct container *c, void *arg)
{
	(void)arg;
	running = c;
}

enum { O_BUILD_ARG = 0x100, O_TARGET, O_NO_CACHE, O_NETWORK, O_CPUS, O_PROGRESS };

static int cmd_image_build(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"file", required_argument, NULL, 'f'},
	    {"tag", required_argument, NULL, 't'},
	    {"build-arg", required_argument, NULL, O_BUILD_ARG},
	    {"target", required_argument, NULL, O_TARGET},
	    {"no-cache", no_argument, NULL, O_NO_CACHE},
	    {"network", required_argument, NULL, O_NETWORK},
	    {"memory", required_argument, NULL, 'm'},
	    {"cpus", required_argument, NULL, O_CPUS},
	    {"progress", required_argument, NULL, O_PROGRESS},
	    {"quiet", no_argument, NULL, 'q'},
	    CLI_COMMON_LONGOPTS};
	struct build_opts o = {0};
	struct cli_list tags = {0}, args = {0};
	struct image_store *st = NULL;
	struct container_host *h = NULL;
	struct error *err = NULL;
	char digest[72];
	struct sigaction sa;
	cleanup_free char *data_dir = NULL;
	bool quiet = false;
	int opt, rc;

	o.source_date_epoch = -1;
	while ((opt = cli_getopt(cli, argc, argv, "+hf:t:m:q", longopts)) != -1) {
		switch (opt) {
		case 'q':
			quiet = true;
			break;
		case 'f':
			o.dockerfile = optarg;
			break;
		case 't':
			if ((rc = cli_list_add(cli, &tags, optarg, "tags")) != EXIT_OK)
				return rc;
			break;
		case O_BUILD_ARG:
			if ((rc = cli_list_add(cli, &args, optarg, "build args")) != EXIT_OK)
				return rc;
			break;
		case O_TARGET:
			o.target = optarg;
			break;
		case O_NO_CACHE:
			o.no_cache = true;
			break;
		case O_NETWORK:
			if (strcmp(optarg, "none") && strcmp(optarg, "host"))
				return cli_usage(cli, "invalid --network '%s': none or host",
						 optarg);
			o.network_host = !strcmp(optarg, "host");
			break;
		case 'm':
			if (parse_size(optarg, &o.limits.memory, &err) < 0)
				return cli_fail(err);
			if (o.limits.memory == 0)
				return cli_usage(cli, "invalid --memory '%s'", optarg);
			break;
		case O_CPUS:
			if ((rc = cli_parse_cpus(cli, optarg, &o.limits.cpus)) != EXIT_OK)
				return rc;
			break;
		case O_PROGRESS:
			if (strcmp(optarg, "auto") && strcmp(optarg, "plain"))
				return cli_usage(cli, "invalid --progress '%s': auto or plain",
						 optarg);
			break;
			CLI_COMMON_CASES(cli, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cli, argc - optind ? "expected one CONTEXT directory"
						    : "missing the CONTEXT directory");
	if ((rc = parse_epoch(cli, &o.source_date_epoch)) != EXIT_OK)
		return rc;
	o.context_dir = argv[optind];
	o.tags = tags.v;
	o.build_args = args.v;
	o.progress = quiet ? NULL : stderr;
	o.cancel = &got_signal;
	o.on_container = track_container;
	/* Layer paths become overlay options: they must be absolute. */
	if (cli->data_dir[0] != '/') {
		char cwd[4096];

		if (!getcwd(cwd, sizeof(cwd)) ||
		    asprintf(&data_dir, "%s/%s", cwd, cli->data_dir) < 0) {
			data_dir = NULL;
			error_errno(&err, "data dir '%s'", cli->data_dir);
			return cli_fail(err);
		}
	}
	if (image_store_open(data_dir ? data_dir : cli->data_dir, &st, &err) < 0)
		return cli_fail(err);
	if (container_host_open(data_dir ? data_dir : cli->data_dir, &h, &err) < 0) {
		image_store_close(st);
		return cli_fail(err);
	}
	/* What a slipway killed with -9 left behind goes first. */
	if (container_cleanup_stale_quick(h, &err) < 0)
		error_clear(&err);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	rc = build_image(h, st, &o, digest, &err);
	container_host_close(h);
	image_store_close(st);
	if (rc < 0) {
		rc = cli_fail(err);
		return got_signal ? 128 + got_signal : rc;
	}
	if (cli->json) {
		json_auto_t *j = json_pack("{s:s, s:[]}", "digest", digest, "tags");

		for (size_t i = 0; i < tags.n; i++)
			json_array_append_new(json_object_get(j, "tags"), json_string(tags.v[i]));
		return json_print(j, &err) < 0 ? cli_fail(err) : EXIT_OK;
	}
	printf("%s\n", digest);
	return EXIT_OK;
}

const struct command commands_image_build[] = {
    {"image build", "build an image from a Dockerfile (no daemon, layer cache)",
     "[-f FILE] [-t NAME:TAG]... [--build-arg K=V]...\n"
     "       [--target STAGE] [--no-cache] [--network none|host] [--memory SIZE] [--cpus N]\n"
     "       [--progress auto|plain] CONTEXT",
     "Builds the stages of the Dockerfile that the target needs, runs RUN in slipway\n"
     "containers (network none unless --network host), reuses cached layers, and stores\n"
     "the image in slipway's OCI store, tagged with each -t. Progress goes to stderr, one\n"
     "line per instruction; the manifest digest to stdout. With SOURCE_DATE_EPOCH set,\n"
     "the same context always gives the same digest.\n"
     "Exit status: 0 built, 1 a step failed (a RUN's status is shown), 2 bad input\n"
     "(Dockerfile:LINE: message), 3 internal error, 128+N when interrupted by signal N.\n"
     "Options:\n"
     "  -f, --file FILE           the Dockerfile (default: CONTEXT/Dockerfile; - = stdin)\n"
     "  -t, --tag NAME[:TAG]      tag the result (repeatable)\n"
     "      --build-arg K=V       set an ARG (K alone: take slipway's environment)\n"
     "      --target STAGE        build up to this stage (name or index)\n"
     "      --no-cache            run every step (the cache is still updated)\n"
     "      --network none|host   the network of RUN (default none)\n"
     "  -m, --memory SIZE         memory limit of each RUN (512M, 2G)\n"
     "      --cpus N              CPU quota of each RUN (0.5 = half of one)\n"
     "      --progress auto|plain progress style (both print plain lines)\n"
     "  -q, --quiet               no progress; a failing RUN's output ends its error\n"
     "      --json                print {\"digest\", \"tags\"} instead of the digest\n",
     cmd_image_build},
    {NULL, NULL, NULL, NULL, NULL},
};
