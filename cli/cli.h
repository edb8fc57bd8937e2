/* cli/cli.h — what every command file shares: the invocation context, the command table,
 * option parsing with the common flags, and usage errors in one style.
 *
 * A command is a function `int cmd_x(struct cli *cli, int argc, char **argv)` that parses its
 * flags (argv[0] is the command's name), calls a module, prints, and returns an exit status
 * (enum exit_code). Errors from modules are printed with cli_fail().
 */
#ifndef SLIPWAY_CLI_CLI_H
#define SLIPWAY_CLI_CLI_H

#include <getopt.h>
#include <stdbool.h>

#include "lib/error.h"

struct command;

struct cli {
	const char *data_dir; /* --data-dir, $SLIPWAY_HOME, or the built-in default */
	bool json;	      /* --json: machine-readable output */
	bool stdout_tty;      /* stdout is a terminal: colours, progress */
	bool stderr_tty;
	const struct command *cmd; /* the command being run */
};

struct command {
	const char *name;    /* "version", "container run" */
	const char *summary; /* one line for `slipway help` */
	const char *usage;   /* the synopsis after "slipway NAME " */
	const char *help;    /* the options and notes, printed by --help */
	int (*run)(struct cli *cli, int argc, char **argv);
};

/* The command groups (cli/commands.c); a NULL entry is a group not linked in. Each group is
 * an array ended by an entry with a NULL name, defined by its command file as
 * `const struct command commands_<group>[]` (groups: core run history container image
 * image_build registry maint serve). */
extern const struct command *const command_groups[];
extern const size_t command_ngroups;

#define for_each_command(c)                                                                        \
	for (size_t cg_ = 0; cg_ < command_ngroups; cg_++)                                         \
		for (const struct command *c = command_groups[cg_]; c && c->name; c++)

/* Values cli_getopt returns besides the command's own options. */
enum {
	CLI_OPT_HELP = 'h',
	CLI_OPT_BAD = '?',
	CLI_OPT_COMMON = 0x10000, /* a common flag (--json, --data-dir): already applied */
};

/* Long options every command accepts; end a command's option array with this. */
/* clang-format off */
#define CLI_COMMON_LONGOPTS                                                                        \
	{"help", no_argument, NULL, CLI_OPT_HELP}, {"json", no_argument, NULL, CLI_OPT_COMMON + 1},  \
		{"data-dir", required_argument, NULL, CLI_OPT_COMMON + 2}, {NULL, 0, NULL, 0}
/* clang-format on */

/* getopt_long with the common flags applied to cli. Options stop at the first operand. */
int cli_getopt(struct cli *cli, int argc, char **argv, const char *shortopts,
	       const struct option *longopts);

/* Prints the command's help to stdout; returns EXIT_OK. */
int cli_help(struct cli *cli);
/* For CLI_OPT_BAD: `slipway: unknown option '--x' for 'cmd'` and a pointer to --help; exit 2. */
int cli_bad_option(struct cli *cli, char **argv);
/* A usage error in the command's words; returns EXIT_USAGE. */
int cli_usage(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A NULL-terminated list of borrowed strings (repeated flags), capped. */
#define CLI_LIST_MAX 256
struct cli_list {
	char *v[CLI_LIST_MAX + 1];
	size_t n;
};
/* Appends s; past the cap, a usage error naming what ("--env values"). */
int cli_list_add(struct cli *cli, struct cli_list *l, char *s, const char *what);

/* --cpus N: a CPU quota from 0.01 to 1024 ("0.5" = half of one CPU); a usage error otherwise. */
int cli_parse_cpus(struct cli *cli, const char *s, double *out);

/* Prints err, frees it, returns its exit code. */
int cli_fail(struct error *err);

#define CLI_COMMON_CASES(cli, argv)                                                                \
	case CLI_OPT_COMMON:                                                                       \
		break;                                                                             \
	case CLI_OPT_HELP:                                                                         \
		return cli_help(cli);                                                              \
	case CLI_OPT_BAD:                                                                          \
	default:                                                                                   \
		return cli_bad_option(cli, argv)

/* Command implementations (cli/cmd-*.c). */
int cmd_version(struct cli *cli, int argc, char **argv);
int cmd_help(struct cli *cli, int argc, char **argv);
int cmd_image_import(struct cli *cli, int argc, char **argv);
int cmd_image_ls(struct cli *cli, int argc, char **argv);
int cmd_image_inspect(struct cli *cli, int argc, char **argv);
int cmd_image_tag(struct cli *cli, int argc, char **argv);
int cmd_image_rm(struct cli *cli, int argc, char **argv);
int cmd_image_save(struct cli *cli, int argc, char **argv);
int cmd_image_load(struct cli *cli, int argc, char **argv);
int cmd_image_prune(struct cli *cli, int argc, char **argv);

#endif
