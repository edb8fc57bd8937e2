/* cli/main.c — slipway's entry point: global flags, command dispatch, help. */
#include <errno.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config.h"
#include "lib/log.h"

static const char global_help[] =
    "Global options (before or after COMMAND):\n"
    "      --data-dir DIR    where slipway keeps its state (env SLIPWAY_HOME;\n"
    "                        default " SLIPWAY_DATA_DIR ")\n"
    "      --json            machine-readable output\n"
    "      --log-level LVL   error, warn, info or debug (env SLIPWAY_LOG)\n"
    "  -h, --help            show help\n"
    "      --version         same as 'slipway version'\n"
    "\n"
    "Exit status: 0 success, 1 the work failed, 2 usage or input error,\n"
    "3 internal or system error.\n";

/* Number of words of a command's name ("container run" = 2). */
static int name_words(const char *name)
{
	int n = 1;

	for (; *name; name++)
		n += *name == ' ';
	return n;
}

/* The command named by argv[0..]; *used gets how many words its name took. */
static const struct command *find_command(int argc, char **argv, int *used)
{
	const struct command *best = NULL;

	for_each_command(c)
	{
		int words = name_words(c->name), i;
		const char *p = c->name;

		if (words > argc || (best && words <= *used))
			continue;
		for (i = 0; i < words; i++) {
			size_t len = strcspn(p, " ");

			if (strlen(argv[i]) != len || strncmp(argv[i], p, len))
				break;
			p += len + (p[len] == ' ');
		}
		if (i == words) {
			best = c;
			*used = words;
		}
	}
	return best;
}

/* True when some command's name starts with the group word (e.g. "container"). */
static bool is_group(const char *word)
{
	size_t n = strlen(word);

	for_each_command(c) if (!strncmp(c->name, word, n) && c->name[n] == ' ') return true;
	return false;
}

static void list_commands(FILE *f, const char *group)
{
	size_t n = group ? strlen(group) : 0;

	for_each_command(c)
	{
		if (group && (strncmp(c->name, group, n) || c->name[n] != ' '))
			continue;
		fprintf(f, "  %-18s %s\n", c->name, c->summary);
	}
}

static void print_usage(FILE *f)
{
	fprintf(f, "Usage: slipway [OPTIONS] COMMAND [ARG...]\n\n"
		   "slipway is a continuous-integration runner: it builds each commit's image,\n"
		   "runs its test steps in isolated containers and keeps the history.\n\n"
		   "Commands:\n");
	list_commands(f, NULL);
	fprintf(f, "\n%s\nRun 'slipway help COMMAND' for more about a command.\n", global_help);
}

int cli_help(struct cli *cli)
{
	const struct command *c = cli->cmd;

	printf("Usage: slipway %s %s\n\n%s.\n", c->name, c->usage, c->summary);
	if (c->help && *c->help)
		printf("\n%s", c->help);
	printf(
	    "\nGlobal options: --data-dir DIR, --json, --log-level LEVEL (see 'slipway help').\n");
	return EXIT_OK;
}

int cmd_help(struct cli *cli, int argc, char **argv)
{
	const struct command *c;
	int used = 0;
	int opt;
	static const struct option longopts[] = {CLI_COMMON_LONGOPTS};

	while ((opt = cli_getopt(cli, argc, argv, "+h", longopts)) != -1) {
		switch (opt) {
			CLI_COMMON_CASES(cli, argv);
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		print_usage(stdout);
		return EXIT_OK;
	}
	c = find_command(argc, argv, &used);
	if (c && used == argc) {
		cli->cmd = c;
		return cli_help(cli);
	}
	if (argc == 1 && is_group(argv[0])) {
		printf("Usage: slipway %s COMMAND [ARG...]\n\nCommands:\n", argv[0]);
		list_commands(stdout, argv[0]);
		return EXIT_OK;
	}
	fprintf(stderr, "slipway: unknown command '%s'; run 'slipway help' for the list\n",
		argv[0]);
	return EXIT_USAGE;
}

int cli_getopt(struct cli *cli, int argc, char **argv, const char *shortopts,
	       const struct option *longopts)
{
	int c;

	opterr = 0;
	c = getopt_long(argc, argv, shortopts, longopts, NULL);
	switch (c) {
	case CLI_OPT_COMMON + 1:
		cli->json = true;
		return CLI_OPT_COMMON;
	case CLI_OPT_COMMON + 2:
		cli->data_dir = optarg;
		return CLI_OPT_COMMON;
	default:
		return c;
	}
}

int cli_bad_option(struct cli *cli, char **argv)
{
	const char *name = cli->cmd ? cli->cmd->name : "slipway";
	const char *bad = argv[optind - 1];

	if (optopt && optopt < 256 && strchr("?:", optopt) == NULL) {
		/* a short option: unknown, or missing its argument */
		fprintf(stderr, "slipway: %s option '-%c' for '%s'\n",
			bad[0] == '-' && bad[1] == optopt && !bad[2] ? "bad or incomplete"
								     : "unknown",
			optopt, name);
	} else if (bad && !strncmp(bad, "--", 2)) {
		fprintf(stderr, "slipway: unknown option or missing value '%s' for '%s'\n", bad,
			name);
	} else {
		fprintf(stderr, "slipway: bad option '%s' for '%s'\n", bad ? bad : "?", name);
	}
	fprintf(stderr, "Run 'slipway %s --help' for usage.\n", name);
	return EXIT_USAGE;
}

int cli_usage(struct cli *cli, const char *fmt, ...)
{
	va_list ap;

	fputs("slipway: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nUsage: slipway %s %s\nRun 'slipway %s --help' for more.\n",
		cli->cmd->name, cli->cmd->usage, cli->cmd->name);
	return EXIT_USAGE;
}

int cli_fail(struct error *err)
{
	int code = err ? err->exit_code : EXIT_INTERNAL;

	if (err)
		error_print(err);
	else
		fprintf(stderr, "slipway: unknown error\n");
	error_free(err);
	return code;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"log-level", required_argument, NULL, 'L'},
	    {"version", no_argument, NULL, 'V'},
	    CLI_COMMON_LONGOPTS,
	};
	struct cli cli = {0};
	const struct command *c;
	const char *level = getenv("SLIPWAY_LOG");
	int used = 0, opt, lvl;

	setlocale(LC_CTYPE, "C.UTF-8");
	signal(SIGPIPE, SIG_IGN);
	cli.data_dir = getenv("SLIPWAY_HOME");
	if (!cli.data_dir || !*cli.data_dir)
		cli.data_dir = SLIPWAY_DATA_DIR;
	cli.stdout_tty = isatty(STDOUT_FILENO);
	cli.stderr_tty = isatty(STDERR_FILENO);

	while ((opt = cli_getopt(&cli, argc, argv, "+h", longopts)) != -1) {
		switch (opt) {
		case 'L':
			level = optarg;
			break;
		case 'V':
			argv[optind - 1] = "version";
			optind--;
			goto dispatch;
		case CLI_OPT_COMMON:
			break;
		case CLI_OPT_HELP:
			print_usage(stdout);
			return EXIT_OK;
		default:
			return cli_bad_option(&cli, argv);
		}
	}
dispatch:
	if (level) {
		lvl = log_level_parse(level);
		if (lvl < 0) {
			fprintf(stderr,
				"slipway: invalid log level '%s': use error, warn, info or "
				"debug\n",
				level);
			return EXIT_USAGE;
		}
		log_setup((enum log_level)lvl, false);
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		print_usage(stderr);
		return EXIT_USAGE;
	}
	c = find_command(argc, argv, &used);
	if (!c) {
		if (is_group(argv[0])) {
			bool named = argc > 1 && argv[1][0] != '-';

			if (named)
				fprintf(stderr, "slipway: unknown command '%s %s'\n", argv[0],
					argv[1]);
			fprintf(stderr, "Usage: slipway %s COMMAND [ARG...]\n\nCommands:\n",
				argv[0]);
			list_commands(stderr, argv[0]);
			return EXIT_USAGE;
		}
		fprintf(stderr, "slipway: unknown command '%s'; run 'slipway help' for the list\n",
			argv[0]);
		return EXIT_USAGE;
	}
	cli.cmd = c;
	/* The command sees its own name as argv[0]. */
	argc -= used - 1;
	argv += used - 1;
	optind = 0; /* full getopt reset for the command's own parse */
	return c->run(&cli, argc, argv);
}

int cli_list_add(struct cli *cli, struct cli_list *l, char *s, const char *what)
{
	if (l->n >= CLI_LIST_MAX)
		return cli_usage(cli, "too many %s (at most %d)", what, CLI_LIST_MAX);
	l->v[l->n++] = s;
	l->v[l->n] = NULL;
	return EXIT_OK;
}

int cli_parse_cpus(struct cli *cli, const char *s, double *out)
{
	char *end;
	double d = strtod(s, &end);

	if (end == s || *end || !(d >= 0.01) || d > 1024 || isnan(d))
		return cli_usage(cli, "invalid --cpus '%s': a number like 0.5", s);
	*out = d;
	return EXIT_OK;
}
