/* cli/commands.c — the table of slipway's commands, in the order `slipway help` lists them. */
#include <stddef.h>

#include "cli/cli.h"

const struct command commands[] = {
	{ "help", "show help for slipway or one command", "[COMMAND]",
	  "Without COMMAND, lists the commands. With one, shows its usage and options\n"
	  "(the same as 'slipway COMMAND --help').\n",
	  cmd_help },
	{ "version", "show versions, linked libraries, cgroup mode and data dir", "[--json]",
	  "Options:\n"
	  "      --json            print one JSON object\n",
	  cmd_version },
	{ NULL, NULL, NULL, NULL, NULL },
};
