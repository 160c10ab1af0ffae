#include "sink.h"

#include <stdlib.h>

#include "influx/influx_ring.h"
#include "remote_write/remote_write_sink.h"
#include "util/clock.h"
#include "util/xalloc.h"

/* Every sink lagwatch knows, in the order they are opened, fed, drained
 * and reported (InfluxDB first: the report and /metrics kept that order
 * before the interface existed). */
static const struct sink_ops *const sink_table[] = {
    &influx_ring_sink_ops,
    &remote_write_sink_ops,
};
#define N_SINK_KINDS (sizeof(sink_table) / sizeof(sink_table[0]))

int sink_check_configured(const struct config *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < N_SINK_KINDS; i++)
        if (sink_table[i]->configured(cfg))
            return 0;
    snprintf(err, errlen,
             "%s: no sink configured: set sinks.influxdb.nodes, "
             "sinks.remote_write.url or both (see lagwatch.yml(5), SINKS)",
             cfg->path);
    return -1;
}

int sink_open_all(const struct config *cfg, struct sink ***out, size_t *n,
                  char *err, size_t errlen)
{
    struct sink **sinks = NULL;
    size_t cnt = 0;
    *out = NULL;
    *n = 0;
    if (sink_check_configured(cfg, err, errlen) < 0)
        goto fail;
    sinks = xcalloc(N_SINK_KINDS, sizeof(*sinks));
    for (size_t i = 0; i < N_SINK_KINDS; i++) {
        if (!sink_table[i]->configured(cfg))
            continue;
        sinks[cnt] = sink_table[i]->open(cfg, err, errlen);
        if (!sinks[cnt])
            goto fail;
        cnt++;
    }
    *out = sinks;
    *n = cnt;
    return 0;
fail:
    sink_free_all(&sinks, cnt);
    return -1;
}

void sink_free_all(struct sink ***sinksp, size_t n)
{
    struct sink **sinks = *sinksp;
    if (!sinks)
        return;
    for (size_t i = 0; i < n; i++)
        if (sinks[i])
            sinks[i]->ops->free(sinks[i]);
    free(sinks);
    *sinksp = NULL;
}

/* -1 (something lost) is worse than 1 (something waits), which is worse
 * than 0. */
static int worst(int a, int b)
{
    if (a < 0 || b < 0)
        return -1;
    return a > b ? a : b;
}

void sink_cycle_begin_all(struct sink *const *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i]->ops->cycle_begin)
            s[i]->ops->cycle_begin(s[i]);
}

int sink_write_series_all(struct sink *const *s, size_t n,
                          const struct series *se)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        rc = worst(rc, s[i]->ops->write_series(s[i], se));
    return rc;
}

int sink_write_point_all(struct sink *const *s, size_t n, const struct point *p)
{
    int rc = 0;
    for (size_t i = 0; i < n; i++)
        rc = worst(rc, s[i]->ops->write_point(s[i], p));
    return rc;
}

void sink_flush_all(struct sink *const *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        s[i]->ops->flush(s[i]);
}

int sink_drain_all(struct sink *const *s, size_t n, uint64_t timeout_ms)
{
    uint64_t t0 = clock_mono_ms();
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t spent = clock_mono_ms() - t0;
        uint64_t left = spent < timeout_ms ? timeout_ms - spent : 0;
        rc = worst(rc, s[i]->ops->drain(s[i], left));
    }
    return rc;
}

void sink_write_metrics_all(struct sink *const *s, size_t n, struct expo *out)
{
    for (size_t i = 0; i < n; i++)
        s[i]->ops->write_metrics(s[i], out);
}

void sink_print_all(struct sink *const *s, size_t n, FILE *out)
{
    for (size_t i = 0; i < n; i++)
        s[i]->ops->print(s[i], out);
}

size_t sink_node_status_all(struct sink *const *s, size_t n,
                            struct sink_node_status *out, size_t max)
{
    size_t k = 0;
    for (size_t i = 0; i < n && k < max; i++) {
        if (!s[i]->ops->node_status)
            continue;
        size_t got = s[i]->ops->node_status(s[i], out + k, max - k);
        for (size_t j = k; j < k + got; j++)
            out[j].sink = s[i]->ops->section;
        k += got;
    }
    return k;
}
