/*
 * sink: the interface of a push sink, a destination under `sinks:` that
 * lagwatch delivers every cycle's data to (lagwatch.yml(5), SINKS):
 *
 *   sinks.influxdb      the consistent-hash ring of InfluxDB nodes
 *                       (influx/influx_ring.h)
 *   sinks.remote_write  a Prometheus remote write receiver
 *                       (remote_write/remote_write_sink.h)
 *
 * The agent opens every configured sink (sink_open_all), hands each one
 * every trimmed series and every point (REST job and timing points, Kafka
 * lag) of a cycle, flushes them when the cycle ends and drains them on
 * `run --once`, before a reload and on shutdown. Each sink owns its defaults,
 * its lagwatch_* families on /metrics and its lines of the `run --once`
 * report; adding a sink is one implementation plus one line in sink.c's
 * table, and nothing in the agent.
 *
 * At least one sink must be configured: a configuration without any is
 * refused by `lagwatch check` and `lagwatch run` (sink_check_configured).
 *
 * The /metrics model (prom/expo_flink.h) is not a sink of this interface
 * on purpose: it is the pull side, a model the agent fills per cycle and
 * hands over whole to the HTTP endpoint. It is always there, configures
 * nothing under `sinks:`, and has nothing to flush, drain, retry or lose,
 * which is what this interface is about.
 *
 * Ownership: a sink borrows the configuration it was opened with (which
 * must outlive it) and copies nothing it is handed: series and points are
 * only read during the call. Threads: every call on one sink comes from one
 * thread at a time (the agent's collection thread); a sink's own sender
 * threads are its business.
 */
#ifndef SINKS_SINK_H
#define SINKS_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "pipeline/sample.h"

struct expo;
struct sink;

/* One destination of a sink as the status page shows it (lagwatch(8),
 * STATUS PAGE). name and url are borrowed from the configuration. */
struct sink_node_status {
    const char *sink; /* the section, set by sink_node_status_all */
    const char *name;
    const char *url;
    bool up;   /* the last attempt got an answer */
    bool down; /* marked down, probed before replay */
    uint64_t queue_bytes;
    uint64_t spool_bytes;
    uint64_t written;
    uint64_t dropped;
    char last_error[256];
};

struct sink_ops {
    /* The configuration section that enables it ("sinks.influxdb"). */
    const char *section;
    /* True when cfg configures this sink. */
    bool (*configured)(const struct config *cfg);
    /* Starts the sink. NULL with the reason in err (naming the target). */
    struct sink *(*open)(const struct config *cfg, char *err, size_t errlen);
    /* Optional: a cycle starts (reset per-cycle counters). */
    void (*cycle_begin)(struct sink *s);
    /* Hands over a trimmed series / a point. 0 when accepted or skipped
     * as unwritable (counted by the sink), -1 when the sink failed. Never
     * blocks on the network. */
    int (*write_series)(struct sink *s, const struct series *se);
    int (*write_point)(struct sink *s, const struct point *p);
    /* The cycle ended: queue what is batched now. */
    void (*flush)(struct sink *s);
    /* Waits at most timeout_ms for what was handed over: 0 when all of it
     * was delivered, 1 when nothing was lost but some still waits (spool,
     * deadline), -1 when anything was lost since the previous drain. */
    int (*drain)(struct sink *s, uint64_t timeout_ms);
    /* Adds the sink's lagwatch_* families (HELP, TYPE, samples). */
    void (*write_metrics)(struct sink *s, struct expo *out);
    /* Appends the sink's lines of the human-readable cycle report. */
    void (*print)(struct sink *s, FILE *out);
    /* Optional: fills at most max entries, one per destination (node);
     * returns how many. */
    size_t (*node_status)(struct sink *s, struct sink_node_status *out,
                          size_t max);
    /* Drains briefly, stops, frees (what is left is spooled or counted). */
    void (*free)(struct sink *s);
};

/* The first member of every sink implementation. */
struct sink {
    const struct sink_ops *ops;
};

/* 0 when cfg configures at least one sink, else -1 with "FILE: no sink
 * configured: ..." in err. */
int sink_check_configured(const struct config *cfg, char *err, size_t errlen);

/* Opens every sink cfg configures, in the order of sink.c's table, into a
 * heap array *out of *n sinks (n >= 1). Returns 0, or -1 with err (no sink
 * configured, or one that cannot start; those opened are freed). */
int sink_open_all(const struct config *cfg, struct sink ***out, size_t *n,
                  char *err, size_t errlen);

/* Frees every sink of the array and the array. NULL-safe; sets *sinks to
 * NULL. */
void sink_free_all(struct sink ***sinks, size_t n);

/* One call on every sink, in order. The write and drain calls return the
 * worst result of any sink (-1 over 1 over 0); every sink is called even
 * when an earlier one failed. */
void sink_cycle_begin_all(struct sink *const *s, size_t n);
int sink_write_series_all(struct sink *const *s, size_t n,
                          const struct series *se);
int sink_write_point_all(struct sink *const *s, size_t n,
                         const struct point *p);
void sink_flush_all(struct sink *const *s, size_t n);
/* The sinks share the deadline: each gets what the previous ones left. */
int sink_drain_all(struct sink *const *s, size_t n, uint64_t timeout_ms);
void sink_write_metrics_all(struct sink *const *s, size_t n, struct expo *out);
void sink_print_all(struct sink *const *s, size_t n, FILE *out);
/* Every sink's destinations, in order, at most max; returns how many. */
size_t sink_node_status_all(struct sink *const *s, size_t n,
                            struct sink_node_status *out, size_t max);

#endif
