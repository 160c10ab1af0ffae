/* lagwatch check -c FILE: validate the config, print targets and ring. */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd/cmd.h"
#include "config.h"
#include "cmd/ringinfo.h"
#include "sink.h"

int cmd_check(int argc, char **argv)
{
    const char *path = NULL;
    bool keys = false;
    static const struct option opts[] = {
        {"keys", no_argument, NULL, 'k'},
        CMD_COMMON_OPTIONS,
    };
    int c, rc = 0;
    optind = 1;
    while ((c = cmd_getopt(argc, argv, "c:h", opts,
                           "usage: lagwatch check -c FILE\n"
                           "       lagwatch check --keys\n",
                           "usage: lagwatch check -c FILE\n", &path, &rc)) > 0)
        if (c == 'k')
            keys = true;
    if (c == 0)
        return rc;
    if (keys && !path && optind == argc) {
        /* Every key the loader accepts, from the same table that drives
         * parsing: what the man page must document. */
        size_t n;
        const char *const *k = config_known_keys(&n);
        for (size_t i = 0; i < n; i++)
            puts(k[i]);
        return 0;
    }
    if (!path || optind != argc) {
        fprintf(stderr, "usage: lagwatch check -c FILE\n");
        return EXIT_USAGE;
    }
    char err[1024];
    struct config *cfg = config_load(path, err, sizeof(err));
    if (!cfg) {
        fprintf(stderr, "%s\n", err);
        return EXIT_USAGE;
    }
    /* what `lagwatch run` refuses: nowhere to write (sink.h) */
    if (sink_check_configured(cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "%s\n", err);
        config_free(&cfg);
        return EXIT_USAGE;
    }
    config_print(cfg, stdout);
    rc = 0;
    if (cfg->influx.enabled) {
        printf("ring:\n");
        if (ringinfo_print(cfg, NULL, 0, false, stdout, err, sizeof(err)) < 0) {
            fprintf(stderr, "%s\n", err);
            rc = EXIT_USAGE;
        }
    }
    if (rc == 0)
        printf("config ok: %s\n", path);
    config_free(&cfg);
    return rc;
}
