/*
 * influx_ring: the sinks.influxdb sink (lagwatch.yml(5), SINKS): InfluxDB
 * nodes on a consistent-hash ring.
 *
 * A trimmed series is mapped to a point in Flink's InfluxDB schema
 * (flink_schema.h, with the configured fold set); that point and every
 * REST and Kafka lag point are routed over the ring (route/ring_config.h,
 * route/router.h: the shard key, replicas owners) and handed to the
 * per-node writer (influx.h) of each owner. A series with no value
 * InfluxDB can store is counted (lagwatch_points_unwritable_total), not
 * written.
 *
 * On /metrics the sink writes lagwatch_ring_info, the unwritable count and
 * the per-node families (lagwatch-metrics(7), "influxdb" and "spool"); in
 * the report, the ring fingerprint, the points mapped this cycle and one
 * line per node.
 *
 * Threads: as sink.h; the per-node writer threads belong to influx.h.
 */
#ifndef SINKS_INFLUX_RING_H
#define SINKS_INFLUX_RING_H

#include "sink.h"

extern const struct sink_ops influx_ring_sink_ops;

#endif
