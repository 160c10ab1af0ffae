/*
 * flinkcat_test: Flink metric names to their Flink types, per
 * FLINK-METRICS.md (the fixtures' HELP names included).
 */
#include "pipeline/flinkcat.h"

#include <string.h>

#include "tests/lib/tap.h"

static const struct {
    const char *name;
    enum flink_kind want;
} cases[] = {
    {"numRecordsIn", FLINK_COUNTER},
    {"numRecordsOut", FLINK_COUNTER},
    {"numBytesIn", FLINK_COUNTER},
    {"numBytesOut", FLINK_COUNTER},
    {"numBuffersOut", FLINK_COUNTER},
    {"numRecordsInErrors", FLINK_COUNTER},
    {"numLateRecordsDropped", FLINK_COUNTER},
    {"commitsSucceeded", FLINK_COUNTER},
    {"commitsFailed", FLINK_COUNTER},
    {"initializationTime", FLINK_COUNTER},
    {"numRecordsInPerSecond", FLINK_METER},
    {"numRecordsOutPerSecond", FLINK_METER},
    {"numBytesInPerSecond", FLINK_METER},
    {"numBytesOutPerSecond", FLINK_METER},
    {"numBuffersOutPerSecond", FLINK_METER},
    {"mailboxMailsPerSecond", FLINK_METER},
    /* Not in the table: the doc's "...PerSecond variants" pattern. */
    {"numBuffersInRemotePerSecond", FLINK_METER},
    /* Timer gauges despite the suffix. */
    {"busyTimeMsPerSecond", FLINK_GAUGE},
    {"idleTimeMsPerSecond", FLINK_GAUGE},
    {"backPressuredTimeMsPerSecond", FLINK_GAUGE},
    {"softBackPressuredTimeMsPerSecond", FLINK_GAUGE},
    {"hardBackPressuredTimeMsPerSecond", FLINK_GAUGE},
    {"changelogBusyTimeMsPerSecond", FLINK_GAUGE},
    {"accumulatedBusyTimeMsPerSecond", FLINK_GAUGE},
    {"mailboxLatencyMs", FLINK_HISTOGRAM},
    {"latency", FLINK_HISTOGRAM},
    /* Gauges from the doc and the fixtures, and unknown names. */
    {"currentInputWatermark", FLINK_GAUGE},
    {"pendingRecords", FLINK_GAUGE},
    {"numRestarts", FLINK_GAUGE},
    {"lastCheckpointDuration", FLINK_GAUGE},
    {"records-lag-max", FLINK_GAUGE},
    {"records-consumed-rate", FLINK_GAUGE},
    {"Load", FLINK_GAUGE},
    {"no_such_metric", FLINK_GAUGE},
    {"", FLINK_GAUGE},
    /* Exact names only: prefixes and case differences are not matches. */
    {"numRecordsInX", FLINK_GAUGE},
    {"numrecordsin", FLINK_GAUGE},
    {"numRecords", FLINK_GAUGE},
};

TAP_CASE(kinds)
{
    for (size_t i = 0; i < TAP_N(cases); i++) {
        enum flink_kind k = flinkcat_kind(cases[i].name, strlen(cases[i].name));
        if (k != cases[i].want)
            printf("# %s: want %s, got %s\n", cases[i].name,
                   flinkcat_kind_name(cases[i].want), flinkcat_kind_name(k));
        TAP_EQ_INT(cases[i].want, k);
    }
}

TAP_CASE(length_is_respected)
{
    /* The name need not be NUL-terminated where len says it ends. */
    TAP_EQ_INT(FLINK_COUNTER, flinkcat_kind("numRecordsInPerSecond", 12));
    TAP_EQ_INT(FLINK_METER, flinkcat_kind("numRecordsInPerSecond!", 21));
}

TAP_CASE(kind_names)
{
    TAP_EQ_STR("gauge", flinkcat_kind_name(FLINK_GAUGE));
    TAP_EQ_STR("counter", flinkcat_kind_name(FLINK_COUNTER));
    TAP_EQ_STR("meter", flinkcat_kind_name(FLINK_METER));
    TAP_EQ_STR("histogram", flinkcat_kind_name(FLINK_HISTOGRAM));
}

static const struct tap_case tcases[] = {
    TAP_ENTRY(kinds),
    TAP_ENTRY(length_is_respected),
    TAP_ENTRY(kind_names),
};

int main(int argc, char **argv)
{
    return tap_main(tcases, TAP_N(tcases), argc, argv);
}
