#include "kafka/lagcollect.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom/expo.h"
#include "kafka/lag_metrics.h"
#include "kafka/lag_report.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/timefmt.h"
#include "util/xalloc.h"

struct lagcollect {
    const struct config *cfg;
    struct kafka_lag **kl;
    struct kafka_lag_cluster **latest;
    bool *failing; /* per cluster: last sweep failed (log on change only) */
    size_t n;
};

struct lagcollect *lagcollect_new(const struct config *cfg, char *err,
                                  size_t errlen)
{
    struct lagcollect *lc = xcalloc(1, sizeof(*lc));
    lc->cfg = cfg;
    lc->n = cfg->n_kafka;
    size_t n = lc->n ? lc->n : 1;
    lc->kl = xcalloc(n, sizeof(*lc->kl));
    lc->latest = xcalloc(n, sizeof(*lc->latest));
    lc->failing = xcalloc(n, sizeof(*lc->failing));
    for (size_t i = 0; i < lc->n; i++) {
        lc->kl[i] = kafka_lag_new(&cfg->kafka[i], err, errlen);
        if (!lc->kl[i]) {
            lagcollect_free(&lc);
            return NULL;
        }
    }
    return lc;
}

void lagcollect_free(struct lagcollect **lcp)
{
    struct lagcollect *lc = *lcp;
    if (!lc)
        return;
    for (size_t i = 0; i < lc->n; i++) {
        kafka_lag_free(&lc->kl[i]);
        kafka_lag_cluster_free(&lc->latest[i]);
    }
    free(lc->kl);
    free(lc->latest);
    free(lc->failing);
    free(lc);
    *lcp = NULL;
}

int lagcollect_sweep(struct lagcollect *lc, int timeout_ms, point_fn fn,
                     void *ctx)
{
    int rc = 0;
    for (size_t i = 0; i < lc->n; i++) {
        const char *name = lc->cfg->kafka[i].name;
        struct kafka_lag_cluster *res = NULL;
        int src = kafka_lag_sweep(lc->kl[i], timeout_ms, &res);
        if (src < 0) {
            rc = -1;
            /* A persistent failure is logged when it starts, not every
             * cycle; the stale gauge and error counter carry the rest.
             * The sweep's error names the cluster and its brokers. */
            if (!lc->failing[i]) {
                const struct kafka_lag_cluster *last = lc->latest[i];
                char why[128];
                snprintf(why, sizeof(why), "kafka cluster '%s': sweep failed",
                         name);
                const char *err = res && res->error ? res->error : why;
                if (last && last->swept_at_ms > 0)
                    log_error(
                        "%s; serving the last result (%.1f s old) as stale",
                        err,
                        (double)(clock_wall_ms() - last->swept_at_ms) / 1000.0);
                else
                    log_error("%s; no earlier result to serve yet", err);
            }
            lc->failing[i] = true;
        } else if (lc->failing[i]) {
            log_info("kafka cluster '%s' is reachable again", name);
            lc->failing[i] = false;
        }
        if (res) {
            kafka_lag_cluster_free(&lc->latest[i]);
            lc->latest[i] = res;
        } else if (lc->latest[i]) {
            lc->latest[i]->stale = true;
        }
        if (lc->latest[i] && !lc->latest[i]->stale &&
            lag_report_points(lc->latest[i], fn, ctx) < 0)
            rc = -1;
    }
    return rc;
}

const struct kafka_lag_cluster *const *
lagcollect_results(const struct lagcollect *lc, size_t *n)
{
    *n = lc->n;
    return (const struct kafka_lag_cluster *const *)lc->latest;
}

struct kafka_lag_cluster **lagcollect_copy(const struct lagcollect *lc,
                                           size_t *n)
{
    struct kafka_lag_cluster **out = xcalloc(lc->n ? lc->n : 1, sizeof(*out));
    size_t k = 0;
    for (size_t i = 0; i < lc->n; i++)
        if (lc->latest[i])
            out[k++] = kafka_lag_cluster_dup(lc->latest[i]);
    *n = k;
    return out;
}

size_t lagcollect_count(const struct lagcollect *lc)
{
    return lc->n;
}

#define LBL(n, v)                                                              \
    {                                                                          \
        n, v, (uint32_t)strlen(n), (uint32_t)strlen(v)                         \
    }

/* kafka-lag-exporter's families and lagwatch's per-topic series
 * (lag_metrics.h); the poll time is the last sweep's duration. */
static void write_lag_series(const struct lagcollect *lc, struct expo *out)
{
    lag_metrics_declare(out);
    for (size_t i = 0; i < lc->n; i++)
        lag_metrics_write(lc->latest[i],
                          (double)kafka_lag_stats(lc->kl[i])->last_sweep_ms,
                          out);
}

static void write_self(const struct lagcollect *lc, struct expo *out)
{
    static const struct {
        const char *name, *type, *help;
    } fam[] = {
        {"lagwatch_kafka_stale", "gauge",
         "1 when the last sweep of the cluster failed and the lag shown is "
         "the last good one"},
        {"lagwatch_kafka_sweep_duration_seconds", "gauge",
         "Duration of the last lag sweep"},
        {"lagwatch_kafka_sweeps_total", "counter", "Lag sweeps"},
        {"lagwatch_kafka_sweep_errors_total", "counter", "Failed lag sweeps"},
        {"lagwatch_kafka_partitions_without_commit_total", "counter",
         "Partitions skipped because the group has no committed offset"},
        {"lagwatch_kafka_negative_age_clamped_total", "counter",
         "Message timestamps in the future (clock skew), counted as age 0"},
        {"lagwatch_kafka_timestamp_timeouts_total", "counter",
         "Partitions whose first unconsumed message was not read in time"},
        {"lagwatch_kafka_timestamp_cache_hits_total", "counter",
         "Timestamps of first unconsumed messages served from the cache"},
        {"lagwatch_kafka_timestamp_cache_misses_total", "counter",
         "Timestamps of first unconsumed messages read from Kafka"},
        {"lagwatch_kafka_partitions_data_loss", "gauge",
         "Partitions whose committed offset is below the log start in the "
         "last sweep (retention deleted unconsumed records)"},
    };
    for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
        expo_family(out, fam[f].name, fam[f].type, fam[f].help);
        for (size_t i = 0; i < lc->n; i++) {
            const struct kafka_lag_stats *s = kafka_lag_stats(lc->kl[i]);
            const struct kafka_lag_cluster *c = lc->latest[i];
            struct label l[] = {LBL("kafka_cluster", lc->cfg->kafka[i].name)};
            double v = f == 0   ? (double)(!c || c->stale)
                       : f == 1 ? (double)s->last_sweep_ms / 1000.0
                       : f == 2 ? (double)s->sweeps
                       : f == 3 ? (double)s->sweep_errors
                       : f == 4 ? (double)s->no_commit_skipped
                       : f == 5 ? (double)s->negative_age_clamped
                       : f == 6 ? (double)s->ts_timeouts
                       : f == 7 ? (double)s->cache_hits
                       : f == 8 ? (double)s->cache_misses
                                : (double)s->last_data_loss;
            expo_sample(out, fam[f].name, l, 1, v);
        }
    }
    static const char *const kinds[] = {"metadata", "list_groups",
                                        "offset_fetch", "list_offsets"};
    expo_family(out, "lagwatch_kafka_requests_total", "counter",
                "Kafka requests sent by the lag sweeps, by type (they "
                "grow with brokers and groups, not partitions)");
    for (size_t i = 0; i < lc->n; i++) {
        const struct kafka_lag_stats *s = kafka_lag_stats(lc->kl[i]);
        const uint64_t v[] = {s->req_metadata, s->req_list_groups,
                              s->req_offset_fetch, s->req_list_offsets};
        for (size_t k = 0; k < 4; k++) {
            struct label l[] = {LBL("kafka_cluster", lc->cfg->kafka[i].name),
                                LBL("type", kinds[k])};
            expo_sample(out, "lagwatch_kafka_requests_total", l, 2,
                        (double)v[k]);
        }
    }
}

void lagcollect_write_metrics(const struct lagcollect *lc, struct expo *out)
{
    if (lc->n == 0)
        return;
    write_lag_series(lc, out);
    write_self(lc, out);
}

void lagcollect_print(const struct lagcollect *lc, FILE *out)
{
    for (size_t i = 0; i < lc->n; i++) {
        const struct kafka_lag_cluster *c = lc->latest[i];
        if (!c) {
            fprintf(out, "kafka %s: no result\n", lc->cfg->kafka[i].name);
            continue;
        }
        fprintf(out, "kafka %s:%s%s\n", c->name, c->stale ? " STALE: " : "",
                c->stale && c->error ? c->error : "");
        for (size_t g = 0; g < c->n_groups; g++) {
            const struct kafka_lag_group *kg = &c->groups[g];
            for (size_t t = 0; t < kg->n_topics; t++) {
                const struct kafka_lag_topic *kt = &kg->topics[t];
                char through[40];
                timefmt_rfc3339_ms(kt->consumed_through_ms, through,
                                   sizeof(through));
                fprintf(out,
                        "  group %s topic %s: max lag %" PRId64
                        ", slowest partition %" PRId32 " (%.1f s behind), "
                        "sum lag %" PRId64 ", consumed through %s\n",
                        kg->group, kt->topic, kt->max_lag,
                        kt->slowest_partition, kt->max_lag_seconds, kt->sum_lag,
                        through);
            }
        }
    }
}
