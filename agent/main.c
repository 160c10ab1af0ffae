/*
 * lagwatch: collects Flink job and operator timing metrics and Kafka
 * consumer lag, trims the series and shards them over a consistent-hash
 * ring of InfluxDB nodes. main() only dispatches to a subcommand.
 */
#include <stdio.h>
#include <string.h>

#include "cmd/cmd.h"
#include "config.h"

static const char usage[] =
    "usage: lagwatch run    -c FILE [--once] [--log-level LEVEL]\n"
    "       lagwatch check  -c FILE | --keys\n"
    "       lagwatch lag    --brokers HOST:PORT[,..] [--group G]... [--json]"
    " [-X key=value]... [--timeout MS]\n"
    "       lagwatch ring   -c FILE [--key KEY]... [--stats]\n"
    "       lagwatch proxy  -c FILE [--log-level LEVEL]\n"
    "       lagwatch scrape URL [-c FILE] [--format line|prom]\n"
    "       lagwatch --version | --help\n"
    "\n"
    "Manual: lagwatch(8), lagwatch.yml(5), lagwatch-metrics(7) (`man "
    "lagwatch`;\n"
    "from the source tree `man -l man/lagwatch.8`). The status page: "
    "http://<agent.listen>/\n";

int main(int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage, stderr);
        return EXIT_USAGE;
    }
    const char *sub = argv[1];
    if (strcmp(sub, "--help") == 0 || strcmp(sub, "-h") == 0 ||
        strcmp(sub, "help") == 0) {
        fputs(usage, stdout);
        return 0;
    }
    if (strcmp(sub, "--version") == 0 || strcmp(sub, "-V") == 0) {
        printf("lagwatch %s\n", PACKAGE_VERSION);
        return 0;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {
        {"run", cmd_run},   {"check", cmd_check},   {"lag", cmd_lag},
        {"ring", cmd_ring}, {"scrape", cmd_scrape}, {"proxy", cmd_proxy},
    };
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        if (strcmp(sub, cmds[i].name) == 0)
            return cmds[i].fn(argc - 1, argv + 1);
    }
    fprintf(stderr, "lagwatch: unknown command '%s'\n%s", sub, usage);
    return EXIT_USAGE;
}
