/*
 * flinkcat: the catalog of Flink metric names and their Flink types.
 *
 * Flink's PrometheusReporter exposes every metric as a Prometheus gauge
 * (a meter only as its rate, a histogram as a summary), so the type Flink
 * registered has to come from the metric's name: numRecordsIn is a counter,
 * numRecordsInPerSecond a meter, busyTimeMsPerSecond a gauge. The InfluxDB
 * schema writes counters as integer "count", meters as float "rate" and
 * everything else as float "value" (lagwatch(8), DATA WRITTEN TO INFLUXDB).
 */
#ifndef AGENT_FLINKCAT_H
#define AGENT_FLINKCAT_H

#include <stddef.h>

enum flink_kind {
    FLINK_GAUGE = 0,
    FLINK_COUNTER,
    FLINK_METER,
    FLINK_HISTOGRAM,
};

/* Kind of the Flink metric called metric[0..len) (the raw name from the
 * reporter's HELP text, e.g. "numRecordsIn"); unknown names are gauges. */
enum flink_kind flinkcat_kind(const char *metric, size_t len);

/* "gauge", "counter", "meter" or "histogram". */
const char *flinkcat_kind_name(enum flink_kind k);

#endif
