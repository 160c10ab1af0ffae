#include "influx/influx_ring.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "hashring/hashring.h"
#include "influx/flink_schema.h"
#include "influx/influx.h"
#include "prom/expo.h"
#include "route/ring_config.h"
#include "route/router.h"
#include "util/xalloc.h"

/* router.h clamps replicas to this many owners. */
#define INFLUX_RING_MAX_REPLICAS ROUTER_MAX_REPLICAS

struct influx_ring {
    struct sink base; /* first: a struct sink * is a struct influx_ring * */
    const struct cfg_influx *cfg;
    struct hashring *ring;
    struct router *router;
    struct influx_sink *writer;
    struct flink_schema_opts schema_opts;
    struct flink_schema_scratch scratch;
    char fingerprint[HASHRING_FINGERPRINT_LEN + 1];
    uint64_t *routed;           /* per node, this cycle */
    uint64_t points_mapped;     /* this cycle, before replication */
    uint64_t points_unwritable; /* this cycle */
    uint64_t unwritable_total;
};

static struct influx_ring *ring_of(struct sink *s)
{
    return (struct influx_ring *)s;
}

static bool ir_configured(const struct config *cfg)
{
    return cfg->influx.enabled && cfg->influx.n_nodes > 0;
}

static void ir_free(struct sink *s)
{
    struct influx_ring *ir = ring_of(s);
    if (!ir)
        return;
    influx_sink_free(&ir->writer);
    router_free(&ir->router);
    hashring_free(&ir->ring);
    flink_schema_scratch_release(&ir->scratch);
    free(ir->routed);
    free(ir);
}

static struct sink *ir_open(const struct config *cfg, char *err, size_t errlen)
{
    const struct cfg_influx *ci = &cfg->influx;
    struct influx_ring *ir = xcalloc(1, sizeof(*ir));
    ir->base.ops = &influx_ring_sink_ops;
    ir->cfg = ci;
    ir->schema_opts.fold_fields = cfg->trim.fold;
    ir->ring = ring_config_new(ci, err, errlen);
    if (!ir->ring)
        goto fail;
    hashring_fingerprint(ir->ring, ir->fingerprint);
    ir->router = router_new(ir->ring, ci->shard_by, ci->n_shard_by,
                            ci->replicas, cfg->agent.name);
    struct influx_spool_opts so = {
        .dir = cfg->agent.spool_dir,
        .max_bytes = cfg->agent.spool_max_bytes,
        .fsync = cfg->agent.spool_fsync,
    };
    ir->writer = influx_sink_new(ci, &so, err, errlen);
    if (!ir->writer)
        goto fail;
    ir->routed = xcalloc(ci->n_nodes, sizeof(*ir->routed));
    return &ir->base;
fail:
    ir_free(&ir->base);
    return NULL;
}

static void ir_cycle_begin(struct sink *s)
{
    struct influx_ring *ir = ring_of(s);
    for (size_t i = 0; i < ir->cfg->n_nodes; i++)
        ir->routed[i] = 0;
    ir->points_mapped = 0;
    ir->points_unwritable = 0;
}

/* Hands p to its owner node(s). */
static int ir_write_point(struct sink *s, const struct point *p)
{
    struct influx_ring *ir = ring_of(s);
    size_t owners[INFLUX_RING_MAX_REPLICAS];
    size_t n = router_route(ir->router, p->tags, p->ntags, owners);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (influx_sink_write(ir->writer, owners[i], p) < 0) {
            rc = -1;
            continue;
        }
        ir->routed[owners[i]]++;
    }
    ir->points_mapped++;
    return rc;
}

static int ir_write_series(struct sink *s, const struct series *se)
{
    struct influx_ring *ir = ring_of(s);
    struct point p;
    if (flink_schema_point(se, &ir->schema_opts, &p, &ir->scratch) != 0) {
        ir->points_unwritable++;
        ir->unwritable_total++;
        return 0;
    }
    return ir_write_point(s, &p);
}

static void ir_flush(struct sink *s)
{
    influx_sink_flush(ring_of(s)->writer);
}

static int ir_drain(struct sink *s, uint64_t timeout_ms)
{
    return influx_sink_drain(ring_of(s)->writer, timeout_ms);
}

/* The per-node families, in the order lagwatch-metrics(7) lists them. */
enum node_value { NV_U64, NV_NS, NV_INT };
static const struct {
    const char *name, *type, *help;
    size_t off;
    enum node_value kind;
} node_fams[] = {
    {"lagwatch_points_written_total", "counter",
     "Points InfluxDB accepted, per node",
     offsetof(struct influx_node_stats, points_written), NV_U64},
    {"lagwatch_points_dropped_total", "counter",
     "Points lost, per node: refused for good by InfluxDB, spool cap "
     "reached, corrupt spool record, or no spool; each drop is logged "
     "with its reason",
     offsetof(struct influx_node_stats, points_dropped), NV_U64},
    {"lagwatch_points_retried_total", "counter",
     "Points sent again after a failed write, per node",
     offsetof(struct influx_node_stats, points_retried), NV_U64},
    {"lagwatch_points_invalid_total", "counter",
     "Points that InfluxDB cannot store and were never sent, per node",
     offsetof(struct influx_node_stats, points_skipped_invalid), NV_U64},
    {"lagwatch_write_requests_total", "counter",
     "Write requests sent, per node",
     offsetof(struct influx_node_stats, write_count), NV_U64},
    {"lagwatch_write_duration_seconds_total", "counter",
     "Time spent in write requests, per node",
     offsetof(struct influx_node_stats, write_ns_total), NV_NS},
    {"lagwatch_write_bytes_total", "counter",
     "Request bytes sent on the wire (after gzip), per node",
     offsetof(struct influx_node_stats, bytes_sent), NV_U64},
    {"lagwatch_node_up", "gauge",
     "1 when the last exchange with the InfluxDB node succeeded",
     offsetof(struct influx_node_stats, up), NV_INT},
    {"lagwatch_points_spooled_total", "counter",
     "Points written to the node's disk spool, per node",
     offsetof(struct influx_node_stats, points_spooled), NV_U64},
    {"lagwatch_points_replayed_total", "counter",
     "Points written to InfluxDB from the node's spool, per node",
     offsetof(struct influx_node_stats, points_replayed), NV_U64},
    {"lagwatch_spool_bytes", "gauge", "Size of the node's spool segment files",
     offsetof(struct influx_node_stats, spool_bytes), NV_U64},
    {"lagwatch_spool_points", "gauge", "Points waiting in the node's spool",
     offsetof(struct influx_node_stats, spool_points), NV_U64},
    {"lagwatch_spool_dropped_points_total", "counter",
     "Part of lagwatch_points_dropped_total lost in the spool (cap "
     "reached, corrupt record, I/O error), per node",
     offsetof(struct influx_node_stats, points_dropped_spool), NV_U64},
    {"lagwatch_node_down", "gauge",
     "1 while the node is marked down and probed with /ping",
     offsetof(struct influx_node_stats, down), NV_INT},
};

static double node_value(const struct influx_node_stats *ns, size_t f)
{
    const char *at = (const char *)ns + node_fams[f].off;
    switch (node_fams[f].kind) {
    case NV_NS:
        return (double)*(const uint64_t *)(const void *)at / 1e9;
    case NV_INT:
        return (double)*(const int *)(const void *)at;
    case NV_U64:
    default:
        return (double)*(const uint64_t *)(const void *)at;
    }
}

static void ir_write_metrics(struct sink *s, struct expo *out)
{
    struct influx_ring *ir = ring_of(s);
    const struct cfg_influx *ci = ir->cfg;
    char vn[16];
    snprintf(vn, sizeof(vn), "%u", ci->vnodes);
    struct label rl[] = {EXPO_LABEL("fingerprint", ir->fingerprint),
                         EXPO_LABEL("vnodes", vn)};
    expo_family(out, "lagwatch_ring_info", "gauge",
                "Always 1; agents with the same nodes, weights and "
                "vnodes have the same fingerprint");
    expo_sample(out, "lagwatch_ring_info", rl, 2, 1);
    expo_counter(out, "lagwatch_points_unwritable_total",
                 "Series with no value InfluxDB can store (NaN, +-Inf)",
                 (double)ir->unwritable_total);

    struct influx_node_stats *ns = xcalloc(ci->n_nodes, sizeof(*ns));
    for (size_t i = 0; i < ci->n_nodes; i++)
        influx_sink_node_stats(ir->writer, i, &ns[i]);
    for (size_t f = 0; f < sizeof(node_fams) / sizeof(node_fams[0]); f++) {
        expo_family(out, node_fams[f].name, node_fams[f].type,
                    node_fams[f].help);
        for (size_t i = 0; i < ci->n_nodes; i++) {
            struct label l[] = {EXPO_LABEL("node", ci->nodes[i].name)};
            expo_sample(out, node_fams[f].name, l, 1, node_value(&ns[i], f));
        }
    }
    free(ns);
}

static void ir_print(struct sink *s, FILE *out)
{
    struct influx_ring *ir = ring_of(s);
    const struct cfg_influx *ci = ir->cfg;
    fprintf(out, "ring fingerprint: %s\n", ir->fingerprint);
    fprintf(out,
            "points mapped: %" PRIu64 " (%" PRIu64
            " not writable: no finite field)\n",
            ir->points_mapped, ir->points_unwritable);
    for (size_t i = 0; i < ci->n_nodes; i++) {
        struct influx_node_stats ns;
        influx_sink_node_stats(ir->writer, i, &ns);
        fprintf(out,
                "  node %-12s %-28s routed %6" PRIu64 "  written %6" PRIu64
                "  spooled %" PRIu64 " (waiting %" PRIu64 ")  dropped %" PRIu64
                "%s%s\n",
                ci->nodes[i].name, ci->nodes[i].url, ir->routed[i],
                ns.points_written, ns.points_spooled, ns.spool_points,
                ns.points_dropped, ns.last_error[0] ? "  last error: " : "",
                ns.last_error);
    }
}

static size_t ir_node_status(struct sink *s, struct sink_node_status *out,
                             size_t max)
{
    struct influx_ring *ir = ring_of(s);
    const struct cfg_influx *ci = ir->cfg;
    size_t n = ci->n_nodes < max ? ci->n_nodes : max;
    for (size_t i = 0; i < n; i++) {
        struct influx_node_stats ns;
        influx_sink_node_stats(ir->writer, i, &ns);
        memset(&out[i], 0, sizeof(out[i]));
        out[i].name = ci->nodes[i].name;
        out[i].url = ci->nodes[i].url;
        out[i].up = ns.up != 0;
        out[i].down = ns.down != 0;
        out[i].queue_bytes = ns.queue_bytes;
        out[i].spool_bytes = ns.spool_bytes;
        out[i].written = ns.points_written;
        out[i].dropped = ns.points_dropped;
        memcpy(out[i].last_error, ns.last_error, sizeof(out[i].last_error));
    }
    return n;
}

const struct sink_ops influx_ring_sink_ops = {
    .section = "sinks.influxdb",
    .configured = ir_configured,
    .open = ir_open,
    .cycle_begin = ir_cycle_begin,
    .write_series = ir_write_series,
    .write_point = ir_write_point,
    .flush = ir_flush,
    .drain = ir_drain,
    .write_metrics = ir_write_metrics,
    .print = ir_print,
    .node_status = ir_node_status,
    .free = ir_free,
};
