#include "remote_write/remote_write_sink.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "prom/expo.h"
#include "remote_write/remote_write.h"
#include "util/xalloc.h"

struct rw_sink {
    struct sink base; /* first: a struct sink * is a struct rw_sink * */
    const struct config *cfg;
    struct remote_write *rw;
};

static struct rw_sink *rw_of(struct sink *s)
{
    return (struct rw_sink *)s;
}

static bool rws_configured(const struct config *cfg)
{
    return cfg->remote_write.enabled;
}

static void rws_free(struct sink *s)
{
    struct rw_sink *r = rw_of(s);
    if (!r)
        return;
    remote_write_free(&r->rw);
    free(r);
}

static struct sink *rws_open(const struct config *cfg, char *err, size_t errlen)
{
    struct rw_sink *r = xcalloc(1, sizeof(*r));
    char *dir = NULL;
    r->base.ops = &remote_write_sink_ops;
    r->cfg = cfg;
    /* Beside the InfluxDB node spools (a node may not be named
     * remote_write: lagwatch.yml(5), SINKS). */
    if (cfg->agent.spool_dir &&
        asprintf(&dir, "%s/remote_write", cfg->agent.spool_dir) < 0) {
        snprintf(err, errlen, "%s: cannot build the remote-write spool path",
                 cfg->remote_write.url);
        dir = NULL;
        goto fail;
    }
    struct remote_write_spool spool = {
        .dir = dir,
        .max_bytes = cfg->agent.spool_max_bytes,
        .fsync = cfg->agent.spool_fsync,
    };
    r->rw = remote_write_new(&cfg->remote_write, &spool, err, errlen);
    if (!r->rw)
        goto fail;
    free(dir);
    return &r->base;
fail:
    free(dir);
    rws_free(&r->base);
    return NULL;
}

static int rws_write_series(struct sink *s, const struct series *se)
{
    struct rw_sink *r = rw_of(s);
    return remote_write_series(r->rw, se, r->cfg->trim.fold) < 0 ? -1 : 0;
}

static int rws_write_point(struct sink *s, const struct point *p)
{
    return remote_write_point(rw_of(s)->rw, p) < 0 ? -1 : 0;
}

static void rws_flush(struct sink *s)
{
    remote_write_flush(rw_of(s)->rw);
}

static int rws_drain(struct sink *s, uint64_t timeout_ms)
{
    return remote_write_drain(rw_of(s)->rw, timeout_ms);
}

/* The unlabelled lagwatch_remote_write_* families, in the order
 * lagwatch(8), REMOTE WRITE lists them. */
static const struct {
    const char *name;
    bool counter;
    const char *help;
    size_t off;
} rw_fams[] = {
    {"lagwatch_remote_write_samples_sent_total", true,
     "Samples the remote-write receiver accepted",
     offsetof(struct remote_write_stats, samples_sent)},
    {"lagwatch_remote_write_samples_failed_total", true,
     "Samples the remote-write receiver refused (4xx other than "
     "429), not retried",
     offsetof(struct remote_write_stats, samples_failed)},
    {"lagwatch_remote_write_samples_dropped_total", true,
     "Samples given up on (queue full, retries exhausted); each "
     "drop is logged with its reason",
     offsetof(struct remote_write_stats, samples_dropped)},
    {"lagwatch_remote_write_samples_skipped_total", true,
     "Samples never sent: non-finite value or invalid label set",
     offsetof(struct remote_write_stats, samples_skipped)},
    {"lagwatch_remote_write_samples_spooled_total", true,
     "Samples written to the remote-write disk spool",
     offsetof(struct remote_write_stats, samples_spooled)},
    {"lagwatch_remote_write_samples_replayed_total", true,
     "Samples sent from the remote-write disk spool",
     offsetof(struct remote_write_stats, samples_replayed)},
    {"lagwatch_remote_write_spool_samples", false,
     "Samples waiting in the remote-write disk spool",
     offsetof(struct remote_write_stats, spool_samples)},
    {"lagwatch_remote_write_spool_bytes", false,
     "Size of the remote-write spool segment files",
     offsetof(struct remote_write_stats, spool_bytes)},
    {"lagwatch_remote_write_requests_total", true,
     "Remote-write requests sent, retries included",
     offsetof(struct remote_write_stats, requests)},
    {"lagwatch_remote_write_retries_total", true,
     "Remote-write requests sent again after a 5xx, 429 or "
     "transport error",
     offsetof(struct remote_write_stats, retries)},
    {"lagwatch_remote_write_bytes_total", true,
     "Remote-write request bytes sent (snappy-compressed)",
     offsetof(struct remote_write_stats, bytes_sent)},
    {"lagwatch_remote_write_queue_bytes", false,
     "Compressed remote-write requests waiting in memory",
     offsetof(struct remote_write_stats, queue_bytes)},
};

static void rws_write_metrics(struct sink *s, struct expo *out)
{
    struct remote_write_stats rs;
    remote_write_get_stats(rw_of(s)->rw, &rs);
    for (size_t f = 0; f < sizeof(rw_fams) / sizeof(rw_fams[0]); f++) {
        const void *at = (const char *)&rs + rw_fams[f].off;
        double v = (double)*(const uint64_t *)at;
        if (rw_fams[f].counter)
            expo_counter(out, rw_fams[f].name, rw_fams[f].help, v);
        else
            expo_gauge(out, rw_fams[f].name, rw_fams[f].help, v);
    }
    expo_gauge(out, "lagwatch_remote_write_up",
               "1 when the last exchange with the remote-write "
               "receiver got an answer below 500",
               rs.up);
}

static void rws_print(struct sink *s, FILE *out)
{
    struct rw_sink *r = rw_of(s);
    struct remote_write_stats rs;
    remote_write_get_stats(r->rw, &rs);
    fprintf(out,
            "  remote write %-28s sent %6" PRIu64 "  failed %" PRIu64
            "  dropped %" PRIu64 "  spooled %" PRIu64 " (waiting %" PRIu64
            ")%s%s\n",
            r->cfg->remote_write.url, rs.samples_sent, rs.samples_failed,
            rs.samples_dropped, rs.samples_spooled, rs.spool_samples,
            rs.last_error[0] ? "  last error: " : "", rs.last_error);
}

static size_t rws_node_status(struct sink *s, struct sink_node_status *out,
                              size_t max)
{
    struct rw_sink *r = rw_of(s);
    struct remote_write_stats rs;
    if (max == 0)
        return 0;
    remote_write_get_stats(r->rw, &rs);
    memset(out, 0, sizeof(*out));
    out->name = "remote_write";
    out->url = r->cfg->remote_write.url;
    out->up = rs.up != 0;
    out->queue_bytes = rs.queue_bytes;
    out->spool_bytes = rs.spool_bytes;
    out->written = rs.samples_sent;
    out->dropped = rs.samples_failed + rs.samples_dropped;
    memcpy(out->last_error, rs.last_error, sizeof(out->last_error));
    return 1;
}

const struct sink_ops remote_write_sink_ops = {
    .section = "sinks.remote_write",
    .configured = rws_configured,
    .open = rws_open,
    .write_series = rws_write_series,
    .write_point = rws_write_point,
    .flush = rws_flush,
    .drain = rws_drain,
    .write_metrics = rws_write_metrics,
    .print = rws_print,
    .node_status = rws_node_status,
    .free = rws_free,
};
