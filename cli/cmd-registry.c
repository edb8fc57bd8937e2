/* cli/cmd-registry.c — `slipway login|logout` and `slipway image push|pull`: flags, password
 * input and output over runner/registry. Passwords are read from stdin or the terminal,
 * never from the command line. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "lib/cleanup.h"
#include "lib/json.h"
#include "lib/parse.h"
#include "runner/registry.h"

#define MAX_SECRET 4096

/* Reads one line (without its newline) from fd, at most MAX_SECRET bytes. */
static char *read_line(int fd, bool all)
{
	char *s = calloc(1, MAX_SECRET + 1);
	size_t n = 0;

	if (!s)
		return NULL;
	while (n < MAX_SECRET) {
		ssize_t r = read(fd, s + n, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0 || (!all && s[n] == '\n'))
			break;
		n++;
	}
	s[n] = '\0';
	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = '\0';
	return s;
}

/* Asks on the terminal; echo off for secrets. */
static char *prompt(const char *what, bool secret)
{
	cleanup_close int fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY);
	struct termios old, quiet;
	char *s;

	if (fd < 0)
		return NULL;
	if (write(fd, what, strlen(what)) < 0)
		return NULL;
	if (secret && tcgetattr(fd, &old) == 0) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(fd, TCSAFLUSH, &quiet);
		s = read_line(fd, false);
		tcsetattr(fd, TCSAFLUSH, &old);
		if (write(fd, "\n", 1) < 0) {
			/* nothing to do */
		}
		return s;
	}
	return read_line(fd, false);
}

static void secret_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

static int cmd_login(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {{"username", required_argument, NULL, 'u'},
						 {"password-stdin", no_argument, NULL, 'P'},
						 CLI_COMMON_LONGOPTS};
	cleanup_free char *user = NULL;
	char *pass = NULL;
	bool from_stdin = false;
	struct error *err = NULL;
	int opt, rc;

	while ((opt = cli_getopt(cli, argc, argv, "hu:", longopts)) != -1) {
		switch (opt) {
		case 'u':
			free(user);
			user = strdup(optarg);
			break;
		case 'P':
			from_stdin = true;
			break;
			CLI_COMMON_CASES(cli, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cli, "expected one REGISTRY");
	if (!user && (from_stdin || !isatty(STDIN_FILENO)))
		return cli_usage(cli, "give the username with -u USER");
	if (!user)
		user = prompt("Username: ", false);
	if (from_stdin)
		pass = read_line(STDIN_FILENO, true);
	else if (isatty(STDIN_FILENO))
		pass = prompt("Password: ", true);
	else
		return cli_usage(cli, "no terminal to ask the password on: use --password-stdin");
	if (!user || !pass) {
		secret_free(pass);
		return cli_usage(cli, "no username or password");
	}
	rc = registry_login(cli->data_dir, argv[optind], user, pass, &err);
	secret_free(pass);
	if (rc < 0)
		return cli_fail(err);
	printf("logged in to %s\n", argv[optind]);
	return EXIT_OK;
}

static int cmd_logout(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {CLI_COMMON_LONGOPTS};
	struct error *err = NULL;
	bool was = false;
	int opt;

	while ((opt = cli_getopt(cli, argc, argv, "h", longopts)) != -1) {
		switch (opt) {
			CLI_COMMON_CASES(cli, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cli, "expected one REGISTRY");
	if (registry_logout(cli->data_dir, argv[optind], &was, &err) < 0)
		return cli_fail(err);
	if (was)
		printf("logged out of %s\n", argv[optind]);
	else
		printf("not logged in to %s\n", argv[optind]);
	return EXIT_OK;
}

static int print_result(struct cli *cli, const char *ref, const char *digest,
			const struct registry_stats *s)
{
	struct error *err = NULL;

	if (cli->json) {
		json_auto_t *j = json_pack(
		    "{s:s, s:s, s:I, s:I, s:i, s:i, s:i, s:i, s:i, s:I}", "ref", ref, "digest",
		    digest, "bytes_sent", (json_int_t)s->bytes_sent, "bytes_received",
		    (json_int_t)s->bytes_received, "blobs_uploaded", (int)s->blobs_uploaded,
		    "blobs_mounted", (int)s->blobs_mounted, "blobs_present", (int)s->blobs_present,
		    "blobs_downloaded", (int)s->blobs_downloaded, "blobs_cached",
		    (int)s->blobs_cached, "ms", (json_int_t)s->ms);

		return json_print(j, &err) < 0 ? cli_fail(err) : EXIT_OK;
	}
	printf("%s\n", digest);
	return EXIT_OK;
}

static int open_store(struct cli *cli, struct image_store **st)
{
	struct error *err = NULL;

	if (image_store_open(cli->data_dir, st, &err) < 0)
		return cli_fail(err);
	image_store_set_progress(*st, cli->stderr_tty);
	return EXIT_OK;
}

static int cmd_image_push(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {{"format", required_argument, NULL, 'f'},
						 {"jobs", required_argument, NULL, 'j'},
						 CLI_COMMON_LONGOPTS};
	struct registry_opts o;
	struct registry_stats stats;
	struct image_store *st = NULL;
	struct error *err = NULL;
	char digest[IMAGE_DIGEST_LEN + 1];
	int64_t jobs;
	int opt, rc;

	registry_opts_init(&o, cli->data_dir);
	while ((opt = cli_getopt(cli, argc, argv, "hf:j:", longopts)) != -1) {
		switch (opt) {
		case 'f':
			if (!strcmp(optarg, "docker") || !strcmp(optarg, "v2s2"))
				o.docker_media_types = true;
			else if (strcmp(optarg, "oci"))
				return cli_usage(cli, "--format is oci or docker, not '%s'",
						 optarg);
			break;
		case 'j':
			if (parse_int(optarg, 1, 16, &jobs, &err) < 0)
				return cli_fail(err);
			o.jobs = (int)jobs;
			break;
			CLI_COMMON_CASES(cli, argv);
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		return cli_usage(cli, "expected REF [DEST]");
	if ((rc = open_store(cli, &st)) != EXIT_OK)
		return rc;
	o.progress = !cli->json;
	o.tty = cli->stderr_tty;
	o.stats = &stats;
	rc = registry_push_image(st, argv[optind], argc - optind == 2 ? argv[optind + 1] : NULL, &o,
				 digest, &err);
	image_store_close(st);
	if (rc < 0)
		return cli_fail(err);
	return print_result(cli, argc - optind == 2 ? argv[optind + 1] : argv[optind], digest,
			    &stats);
}

static int cmd_image_pull(struct cli *cli, int argc, char **argv)
{
	static const struct option longopts[] = {{"platform", required_argument, NULL, 'p'},
						 {"jobs", required_argument, NULL, 'j'},
						 CLI_COMMON_LONGOPTS};
	struct registry_opts o;
	struct registry_stats stats;
	struct image_store *st = NULL;
	struct error *err = NULL;
	char digest[IMAGE_DIGEST_LEN + 1];
	int64_t jobs;
	int opt, rc;

	registry_opts_init(&o, cli->data_dir);
	while ((opt = cli_getopt(cli, argc, argv, "hp:j:", longopts)) != -1) {
		switch (opt) {
		case 'p':
			if (strchr(optarg, '/') == NULL || strlen(optarg) > 100)
				return cli_usage(cli, "--platform is OS/ARCH[/VARIANT], not '%s'",
						 optarg);
			o.platform = optarg;
			break;
		case 'j':
			if (parse_int(optarg, 1, 16, &jobs, &err) < 0)
				return cli_fail(err);
			o.jobs = (int)jobs;
			break;
			CLI_COMMON_CASES(cli, argv);
		}
	}
	if (argc - optind != 1)
		return cli_usage(cli, "expected one REF");
	if ((rc = open_store(cli, &st)) != EXIT_OK)
		return rc;
	o.progress = !cli->json;
	o.tty = cli->stderr_tty;
	o.stats = &stats;
	rc = registry_pull_image(st, argv[optind], &o, digest, &err);
	image_store_close(st);
	if (rc < 0)
		return cli_fail(err);
	return print_result(cli, argv[optind], digest, &stats);
}

const struct command commands_registry[] = {
    {"login", "save credentials for a registry", "REGISTRY [-u USER] [--password-stdin]",
     "The credentials are checked against the registry first, then saved in\n"
     "$DATA/auth.json (mode 0600). Without --password-stdin the password is asked on\n"
     "the terminal; it is never taken from the command line.\n"
     "Options:\n"
     "  -u, --username USER   the user name (asked on the terminal when missing)\n"
     "      --password-stdin  read the password from standard input\n",
     cmd_login},
    {"logout", "forget the credentials saved for a registry", "REGISTRY", "", cmd_logout},
    {"image push", "push an image to a registry", "[--format oci|docker] REF [DEST]",
     "Pushes REF from the store to DEST (default REF), e.g. registry.example.com/team/app:v1.\n"
     "Blobs the registry has are skipped, blobs seen in another repository of the same\n"
     "registry are mounted from there; the manifest goes last. Prints the manifest digest.\n"
     "Options:\n"
     "  -f, --format F        manifest media types: oci (default) or docker (schema 2)\n"
     "  -j, --jobs N          blobs uploaded at once (default 3)\n"
     "      --json            print {ref, digest, bytes_sent, ...}\n",
     cmd_image_push},
    {"image pull", "pull an image from a registry", "[--platform OS/ARCH] REF",
     "Downloads REF's blobs concurrently, verifying each digest while it streams and\n"
     "unpacking each layer in the same pass; tags REF last. Prints the manifest digest.\n"
     "Options:\n"
     "  -p, --platform P      the image picked from an index (default linux/amd64)\n"
     "  -j, --jobs N          blobs downloaded at once (default 3)\n"
     "      --json            print {ref, digest, bytes_received, ...}\n",
     cmd_image_pull},
    {NULL, NULL, NULL, NULL, NULL},
};
