/* cli/commands.c — the command tables, in the order `slipway help` lists them.
 *
 * Each command file owns its group's table (commands_image in cmd-image.c, ...); this file
 * lists the groups. A group whose file is not linked in is a weak NULL and is skipped, so
 * adding a command never touches another group's file. */
#include <stddef.h>

#include "cli/cli.h"

const struct command commands_core[] = {
    {"help", "show help for slipway or one command", "[COMMAND]",
     "Without COMMAND, lists the commands. With one, shows its usage and options\n"
     "(the same as 'slipway COMMAND --help').\n",
     cmd_help},
    {"version", "show versions, linked libraries, cgroup mode and data dir", "[--json]",
     "Options:\n"
     "      --json            print one JSON object\n",
     cmd_version},
    {NULL, NULL, NULL, NULL, NULL},
};

extern const struct command commands_run[] __attribute__((weak));
extern const struct command commands_history[] __attribute__((weak));
extern const struct command commands_container[] __attribute__((weak));
extern const struct command commands_image[] __attribute__((weak));
extern const struct command commands_image_build[] __attribute__((weak));
extern const struct command commands_registry[] __attribute__((weak));
extern const struct command commands_maint[] __attribute__((weak));
extern const struct command commands_serve[] __attribute__((weak));

const struct command *const command_groups[] = {
    commands_core,	  commands_run,	     commands_history, commands_container, commands_image,
    commands_image_build, commands_registry, commands_maint,   commands_serve,
};

const size_t command_ngroups = sizeof(command_groups) / sizeof(command_groups[0]);
