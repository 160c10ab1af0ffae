#include "pipeline/flinkcat.h"

#include <stdbool.h>
#include <string.h>

struct entry {
    const char *name;
    enum flink_kind kind;
};

/*
 * The one table of known names, from Flink's own metric names
 * (flink-runtime MetricNames, TaskIOMetricGroup and the Kafka connector's
 * KafkaSourceReaderMetrics; tests/fixtures/flink holds recorded answers):
 *
 *   section 2.1 task scope: numRecordsIn/Out, numBytesIn/Out, numBuffersOut
 *     and initializationTime are Counters; their PerSecond variants and
 *     mailboxMailsPerSecond are Meters; mailboxLatencyMs is a Histogram;
 *     idle/busy/backPressured (soft, hard) and changelogBusy
 *     TimeMsPerSecond are Gauges (TimerGauge), although they end in
 *     "PerSecond".
 *   section 2.2 operator scope: same record and byte metrics;
 *     numLateRecordsDropped has no type in the doc: Flink's WindowOperator
 *     registers it with counter().
 *   section 2.3 sources: numRecordsInErrors, commitsSucceeded and
 *     commitsFailed are Counters; the lag and offset metrics are Gauges.
 *   section 2.4 latency tracking: "latency" is a Histogram.
 *
 * Everything else the doc lists (job-scope checkpoint and restart numbers,
 * JVM status, Kafka consumer metrics) is a Gauge, the default.
 */
static const struct entry catalog[] = {
    {"numRecordsIn", FLINK_COUNTER},
    {"numRecordsOut", FLINK_COUNTER},
    {"numBytesIn", FLINK_COUNTER},
    {"numBytesOut", FLINK_COUNTER},
    {"numBuffersOut", FLINK_COUNTER},
    {"initializationTime", FLINK_COUNTER},
    {"numLateRecordsDropped", FLINK_COUNTER},
    {"numRecordsInErrors", FLINK_COUNTER},
    {"commitsSucceeded", FLINK_COUNTER},
    {"commitsFailed", FLINK_COUNTER},
    {"numRecordsInPerSecond", FLINK_METER},
    {"numRecordsOutPerSecond", FLINK_METER},
    {"numBytesInPerSecond", FLINK_METER},
    {"numBytesOutPerSecond", FLINK_METER},
    {"numBuffersOutPerSecond", FLINK_METER},
    {"mailboxMailsPerSecond", FLINK_METER},
    {"idleTimeMsPerSecond", FLINK_GAUGE},
    {"busyTimeMsPerSecond", FLINK_GAUGE},
    {"backPressuredTimeMsPerSecond", FLINK_GAUGE},
    {"softBackPressuredTimeMsPerSecond", FLINK_GAUGE},
    {"hardBackPressuredTimeMsPerSecond", FLINK_GAUGE},
    {"changelogBusyTimeMsPerSecond", FLINK_GAUGE},
    {"mailboxLatencyMs", FLINK_HISTOGRAM},
    {"latency", FLINK_HISTOGRAM},
};

static bool ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

enum flink_kind flinkcat_kind(const char *metric, size_t len)
{
    if (len == 0)
        return FLINK_GAUGE;
    for (size_t i = 0; i < sizeof(catalog) / sizeof(catalog[0]); i++) {
        const char *n = catalog[i].name;
        if (n[0] == metric[0] && strlen(n) == len &&
            memcmp(n, metric, len) == 0)
            return catalog[i].kind;
    }
    /* The doc's patterns for names not in the table: "...PerSecond
     * variants" of counters are Meters, but the time-accounting family
     * "...TimeMsPerSecond" (including Flink 2.1's watermark.*
     * split metrics) are Gauges. */
    if (ends_with(metric, len, "TimeMsPerSecond"))
        return FLINK_GAUGE;
    if (ends_with(metric, len, "PerSecond"))
        return FLINK_METER;
    return FLINK_GAUGE;
}

const char *flinkcat_kind_name(enum flink_kind k)
{
    switch (k) {
    case FLINK_COUNTER:
        return "counter";
    case FLINK_METER:
        return "meter";
    case FLINK_HISTOGRAM:
        return "histogram";
    case FLINK_GAUGE:
        break;
    }
    return "gauge";
}
