#include "cmd/cmd.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "config.h"
#include "kafka/kafka_lag.h"
#include "kafka/lag_report.h"
#include "util/units.h"
#include "util/xalloc.h"

#define LAG_MAX_ARGS           10000
#define LAG_DEFAULT_TIMEOUT_MS 15000
#define LAG_JSON_MAX           (256u << 20)
#define LAG_MAX_INTERVAL_MS    3600000

static const char usage[] =
    "usage: lagwatch lag --brokers HOST:PORT[,..] [--group G]... [--json]\n"
    "                    [-X key=value]... [--timeout MS] [--interval D]\n";

static int parse_timeout(const char *s, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < 1 || v > 3600000)
        return -1;
    *out = (int)v;
    return 0;
}

/* Splits "a,b,c" into cfg->brokers (empty items are an error). */
static int add_brokers(struct cfg_kafka *cfg, size_t *cap, const char *list)
{
    const char *p = list;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == 0 || cfg->n_brokers >= LAG_MAX_ARGS)
            return -1;
        cfg->brokers =
            xgrow(cfg->brokers, cap, cfg->n_brokers + 1, sizeof(*cfg->brokers));
        cfg->brokers[cfg->n_brokers++] = xstrndup(p, n);
        if (!comma)
            return 0;
        p = comma + 1;
    }
}

static void cfg_release(struct cfg_kafka *cfg)
{
    for (size_t i = 0; i < cfg->n_brokers; i++)
        free(cfg->brokers[i]);
    free(cfg->brokers);
    for (size_t i = 0; i < cfg->n_groups; i++)
        free(cfg->groups[i].name);
    free(cfg->groups);
    for (size_t i = 0; i < cfg->n_properties; i++) {
        free(cfg->properties[i].key);
        free(cfg->properties[i].value);
    }
    free(cfg->properties);
}

int cmd_lag(int argc, char **argv)
{
    struct cfg_kafka cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.name = "default";
    size_t cap_brokers = 0, cap_groups = 0, cap_props = 0;
    bool json = false;
    int timeout_ms = LAG_DEFAULT_TIMEOUT_MS;
    uint64_t interval_ms = 0; /* > 0: two sweeps this far apart (catch-up) */
    int rc = 2;
    struct kafka_lag *kl = NULL;
    struct kafka_lag_cluster *res = NULL;
    struct buf out = BUF_INIT;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--json") == 0) {
            json = true;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(usage, stdout);
            rc = 0;
            goto out;
        } else if (!v) {
            fprintf(stderr,
                    "lagwatch lag: unknown or incomplete option "
                    "'%s'\n%s",
                    a, usage);
            goto out;
        } else if (strcmp(a, "--brokers") == 0) {
            if (add_brokers(&cfg, &cap_brokers, v) != 0) {
                fprintf(stderr, "lagwatch lag: bad broker list '%s'\n", v);
                goto out;
            }
            i++;
        } else if (strcmp(a, "--group") == 0) {
            if (*v == '\0' || cfg.n_groups >= LAG_MAX_ARGS) {
                fprintf(stderr, "lagwatch lag: bad group '%s'\n", v);
                goto out;
            }
            cfg.groups = xgrow(cfg.groups, &cap_groups, cfg.n_groups + 1,
                               sizeof(*cfg.groups));
            memset(&cfg.groups[cfg.n_groups], 0, sizeof(*cfg.groups));
            cfg.groups[cfg.n_groups++].name = xstrdup(v);
            i++;
        } else if (strcmp(a, "-X") == 0) {
            const char *eq = strchr(v, '=');
            if (!eq || eq == v || cfg.n_properties >= LAG_MAX_ARGS) {
                fprintf(stderr,
                        "lagwatch lag: bad property '%s', want "
                        "key=value\n",
                        v);
                goto out;
            }
            cfg.properties =
                xgrow(cfg.properties, &cap_props, cfg.n_properties + 1,
                      sizeof(*cfg.properties));
            cfg.properties[cfg.n_properties].key =
                xstrndup(v, (size_t)(eq - v));
            cfg.properties[cfg.n_properties++].value = xstrdup(eq + 1);
            i++;
        } else if (strcmp(a, "--interval") == 0) {
            const char *perr = units_parse_duration(v, &interval_ms);
            if (perr || interval_ms < 1 || interval_ms > LAG_MAX_INTERVAL_MS) {
                fprintf(stderr, "lagwatch lag: bad interval '%s'%s%s\n", v,
                        perr ? ": " : "", perr ? perr : "");
                goto out;
            }
            i++;
        } else if (strcmp(a, "--timeout") == 0) {
            if (parse_timeout(v, &timeout_ms) != 0) {
                fprintf(stderr, "lagwatch lag: bad timeout '%s'\n", v);
                goto out;
            }
            i++;
        } else {
            fprintf(stderr, "lagwatch lag: unknown option '%s'\n%s", a, usage);
            goto out;
        }
    }
    if (cfg.n_brokers == 0 || cfg.n_groups == 0) {
        fprintf(stderr,
                "lagwatch lag: --brokers and at least one --group "
                "are required\n%s",
                usage);
        goto out;
    }

    char err[1024];
    kl = kafka_lag_new(&cfg, err, sizeof(err));
    if (!kl) {
        fprintf(stderr, "lagwatch lag: %s\n", err);
        goto out;
    }
    rc = 1;
    /* With --interval, a first sweep: catch-up needs the rates between two
     * (lagwatch(8), lag). rate_window is 0 here, so exactly these two. */
    if (interval_ms > 0) {
        if (kafka_lag_sweep(kl, timeout_ms, &res) != 0) {
            fprintf(stderr, "lagwatch lag: %s\n",
                    res->error ? res->error : "sweep failed");
            goto out;
        }
        kafka_lag_cluster_free(&res);
        struct timespec ts = {(time_t)(interval_ms / 1000),
                              (long)(interval_ms % 1000) * 1000000L};
        while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
            ;
    }
    if (kafka_lag_sweep(kl, timeout_ms, &res) != 0) {
        fprintf(stderr, "lagwatch lag: %s\n",
                res->error ? res->error : "sweep failed");
        goto out;
    }
    if (json) {
        buf_init(&out, LAG_JSON_MAX);
        const struct kafka_lag_cluster *one = res;
        if (lag_report_json(&out, &one, 1) != 0) {
            fprintf(stderr, "lagwatch lag: result larger than %u bytes\n",
                    LAG_JSON_MAX);
            goto out;
        }
        if (puts(out.data) < 0)
            goto out;
    } else if (lag_report_table(stdout, res) != 0) {
        goto out;
    }
    if (fflush(stdout) != 0) {
        fprintf(stderr, "lagwatch lag: cannot write output\n");
        goto out;
    }
    rc = 0;
out:
    buf_release(&out);
    kafka_lag_cluster_free(&res);
    kafka_lag_free(&kl);
    cfg_release(&cfg);
    return rc;
}
