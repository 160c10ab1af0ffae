/*
 * cmd: the lagwatch subcommands. Each takes the arguments after the
 * subcommand name (argv[0] is the subcommand) and returns the process exit
 * code: 0 success, 1 runtime failure, 2 usage or configuration error.
 */
#ifndef AGENT_CMD_H
#define AGENT_CMD_H

#define EXIT_RUNTIME 1
#define EXIT_USAGE   2

int cmd_run(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_ring(int argc, char **argv);
int cmd_scrape(int argc, char **argv);
int cmd_lag(int argc, char **argv);

#endif
