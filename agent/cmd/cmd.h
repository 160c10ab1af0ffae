/*
 * cmd: the lagwatch subcommands. Each takes the arguments after the
 * subcommand name (argv[0] is the subcommand) and returns the process exit
 * code: 0 success, 1 runtime failure, 2 usage or configuration error.
 */
#ifndef AGENT_CMD_H
#define AGENT_CMD_H

#include <getopt.h>

#define EXIT_RUNTIME 1
#define EXIT_USAGE   2

/* The options every subcommand with a configuration takes: the end of its
 * getopt_long() table. */
#define CMD_COMMON_OPTIONS                                                     \
    {"config", required_argument, NULL, 'c'},                                  \
        {"help", no_argument, NULL, 'h'},                                      \
    {                                                                          \
        NULL, 0, NULL, 0                                                       \
    }

/* getopt_long() for a subcommand (optind set to 1 before the first call):
 * -c/--config sets *path, -h/--help prints help to stdout, an unknown
 * option prints usage to stderr. Returns the subcommand's own option
 * character, -1 after the last option, or 0 when the subcommand must exit
 * with *rc (0 after --help, EXIT_USAGE). */
int cmd_getopt(int argc, char **argv, const char *shortopts,
               const struct option *opts, const char *help, const char *usage,
               const char **path, int *rc);

int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_ring(int argc, char **argv);
int cmd_scrape(int argc, char **argv);
int cmd_lag(int argc, char **argv);
int cmd_proxy(int argc, char **argv);

#endif
