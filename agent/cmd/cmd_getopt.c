/* cmd_getopt(): the option loop the subcommands share (cmd.h). */
#include <stdio.h>

#include "cmd/cmd.h"

int cmd_getopt(int argc, char **argv, const char *shortopts,
               const struct option *opts, const char *help, const char *usage,
               const char **path, int *rc)
{
    for (;;) {
        int c = getopt_long(argc, argv, shortopts, opts, NULL);
        if (c == 'c') {
            *path = optarg;
            continue;
        }
        if (c == 'h') {
            fputs(help, stdout);
            *rc = 0;
            return 0;
        }
        if (c == '?' || c == ':') {
            fputs(usage, stderr);
            *rc = EXIT_USAGE;
            return 0;
        }
        return c;
    }
}
