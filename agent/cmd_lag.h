/*
 * cmd_lag: `lagwatch lag`, one Kafka lag sweep of a cluster given on the
 * command line, printed as a table or as the /api/v1/lag JSON document.
 * Needs no configuration file.
 */
#ifndef AGENT_CMD_LAG_H
#define AGENT_CMD_LAG_H

/* argv[0] is the subcommand name. Returns 0, 1 (runtime failure, e.g. the
 * cluster is unreachable) or 2 (usage). Same declaration as in cmd.h. */
int cmd_lag(int argc, char **argv);

#endif
