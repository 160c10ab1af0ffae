/* lagwatch ring -c FILE [--key KEY]... [--stats] */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd/cmd.h"
#include "config.h"
#include "cmd/ringinfo.h"
#include "util/xalloc.h"

static const char ring_usage[] =
    "usage: lagwatch ring -c FILE [--key KEY]... [--stats]\n";

int cmd_ring(int argc, char **argv)
{
    const char *path = NULL;
    char **keys = NULL;
    size_t nkeys = 0, capkeys = 0;
    bool stats = false;
    int rc = EXIT_USAGE;
    struct config *cfg = NULL;
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},
        {"stats", no_argument, NULL, 's'},
        CMD_COMMON_OPTIONS,
    };
    int c;
    optind = 1;
    while ((c = cmd_getopt(argc, argv, "c:k:sh", opts, ring_usage, ring_usage,
                           &path, &rc)) > 0) {
        if (c == 'k') {
            keys = xgrow(keys, &capkeys, nkeys + 1, sizeof(*keys));
            keys[nkeys++] = optarg;
        } else if (c == 's') {
            stats = true;
        }
    }
    if (c == 0)
        goto out;
    if (!path || optind != argc) {
        fputs(ring_usage, stderr);
        goto out;
    }
    char err[1024];
    cfg = config_load(path, err, sizeof(err));
    if (!cfg) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    if (!cfg->influx.enabled) {
        fprintf(stderr, "%s: sinks.influxdb is not configured: no ring\n",
                path);
        goto out;
    }
    if (ringinfo_print(cfg, keys, nkeys, stats, stdout, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s: %s\n", path, err);
        goto out;
    }
    rc = 0;
out:
    config_free(&cfg);
    free(keys);
    return rc;
}
