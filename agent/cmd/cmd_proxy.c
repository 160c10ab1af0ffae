/* lagwatch proxy -c FILE [--log-level LEVEL]: the InfluxDB 1.x API for the
 * ring of sinks.influxdb on proxy.listen, with no collection (lagwatch(8),
 * PROXY). SIGTERM or SIGINT stops it; in-flight requests finish first. */
#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd/cmd.h"
#include "config.h"
#include "proxy/proxy.h"
#include "util/log.h"

static const char proxy_usage[] =
    "usage: lagwatch proxy -c FILE [--log-level LEVEL]\n";

static volatile sig_atomic_t proxy_stop;

static void on_stop(int sig)
{
    (void)sig;
    proxy_stop = 1;
}

int cmd_proxy(int argc, char **argv)
{
    const char *path = NULL, *level = NULL;
    int rc = EXIT_USAGE;
    struct config *cfg = NULL;
    struct proxy *px = NULL;
    static const struct option opts[] = {
        {"log-level", required_argument, NULL, 'l'},
        CMD_COMMON_OPTIONS,
    };
    int c;
    optind = 1;
    while ((c = cmd_getopt(argc, argv, "c:h", opts, proxy_usage, proxy_usage,
                           &path, &rc)) > 0)
        if (c == 'l')
            level = optarg;
    if (c == 0)
        return rc;
    if (!path || optind != argc) {
        fputs(proxy_usage, stderr);
        return EXIT_USAGE;
    }
    char err[1024];
    cfg = config_load(path, err, sizeof(err));
    if (!cfg) {
        fprintf(stderr, "%s\n", err);
        goto out;
    }
    enum log_level lvl;
    if (log_level_parse(level ? level : cfg->agent.log_level, &lvl) < 0) {
        fprintf(stderr, "lagwatch: invalid --log-level '%s'\n", level);
        goto out;
    }
    log_set_level(lvl);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    rc = EXIT_RUNTIME;
    if (sigaction(SIGTERM, &sa, NULL) < 0 || sigaction(SIGINT, &sa, NULL) < 0) {
        fprintf(stderr, "lagwatch: cannot install signal handlers: %s\n",
                strerror(errno));
        goto out;
    }
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "lagwatch: cannot initialize libcurl\n");
        goto out;
    }
    px = proxy_new(cfg, err, sizeof(err));
    if (!px) {
        log_error("%s: %s", path, err);
        goto out;
    }
    log_info("lagwatch %s: InfluxDB proxy for %zu nodes serving on '%s'",
             PACKAGE_VERSION, cfg->influx.n_nodes, cfg->proxy.listen);
    while (!proxy_stop)
        pause();
    log_info("proxy stopping");
    rc = 0;
out:
    proxy_free(&px);
    config_free(&cfg);
    return rc;
}
