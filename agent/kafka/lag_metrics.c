#include "kafka/lag_metrics.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "prom/expo.h"
#include "util/xalloc.h"

/* kafka-lag-exporter's families (its README, "Metrics"); the help texts
 * say where lagwatch's value differs in how it is measured. */
#define F_GROUP_MAX_LAG   "kafka_consumergroup_group_max_lag"
#define F_GROUP_MAX_LAG_S "kafka_consumergroup_group_max_lag_seconds"
#define F_GROUP_SUM_LAG   "kafka_consumergroup_group_sum_lag"
#define F_TOPIC_SUM_LAG   "kafka_consumergroup_group_topic_sum_lag"
#define F_PART_LAG        "kafka_consumergroup_group_lag"
#define F_PART_LAG_S      "kafka_consumergroup_group_lag_seconds"
#define F_PART_OFFSET     "kafka_consumergroup_group_offset"
#define F_LATEST          "kafka_partition_latest_offset"
#define F_EARLIEST        "kafka_partition_earliest_offset"
#define F_POLL            "kafka_consumergroup_poll_time_ms"
/* lagwatch's own, per group and topic. */
#define F_T_MAX_LAG   "lagwatch_kafka_group_topic_max_lag"
#define F_T_MAX_LAG_S "lagwatch_kafka_group_topic_max_lag_seconds"
#define F_T_SLOWEST   "lagwatch_kafka_group_topic_slowest_partition"
#define F_T_THROUGH   "lagwatch_kafka_group_topic_consumed_through_seconds"
#define F_T_PARTS     "lagwatch_kafka_group_topic_partitions"
/* Catch-up (kafka_rates.h): the estimate under a kafka-lag-exporter-style
 * name (issue 13), the rates as lagwatch's. */
#define F_CATCH_UP  "kafka_consumergroup_group_catch_up_seconds"
#define F_T_PRODUCE "lagwatch_kafka_group_topic_produce_rate"
#define F_T_CONSUME "lagwatch_kafka_group_topic_consume_rate"

static const struct {
    const char *name, *help;
} families[] = {
    {F_GROUP_MAX_LAG, "Max record lag of the group over all its topics and "
                      "partitions (kafka-lag-exporter)"},
    {F_GROUP_MAX_LAG_S,
     "Age of the oldest unconsumed message of the group, over all its "
     "topics: exact, the message at the committed offset was read "
     "(kafka-lag-exporter's name; it interpolated)"},
    {F_GROUP_SUM_LAG, "Sum of the record lag over all the group's partitions "
                      "(kafka-lag-exporter)"},
    {F_TOPIC_SUM_LAG, "Sum of the record lag over the group's partitions of "
                      "one topic (kafka-lag-exporter)"},
    {F_PART_LAG, "Record lag per partition (kafka-lag-exporter)"},
    {F_PART_LAG_S, "Age of the first unconsumed message per partition, "
                   "exact (kafka-lag-exporter's name)"},
    {F_PART_OFFSET, "Committed offset of the group per partition "
                    "(kafka-lag-exporter)"},
    {F_LATEST, "Log-end offset per partition (kafka-lag-exporter)"},
    {F_EARLIEST, "Log start offset per partition (kafka-lag-exporter)"},
    {F_POLL, "Duration of the last lag sweep of the cluster, in "
             "milliseconds (kafka-lag-exporter)"},
    {F_T_MAX_LAG, "Record lag of the group's slowest partition of the topic"},
    {F_T_MAX_LAG_S,
     "Age of the oldest unconsumed message of the group's slowest partition "
     "of the topic (exact)"},
    {F_T_SLOWEST, "The partition whose first unconsumed message is oldest"},
    {F_T_THROUGH, "Every message of the topic with an earlier timestamp has "
                  "been consumed by the group (Unix time)"},
    {F_T_PARTS, "Partitions with a committed offset, per topic"},
    {F_CATCH_UP,
     "Seconds until the group's sum lag on the topic reaches 0 at the "
     "produce and consume rates of the last rate_window; +Inf when it is "
     "not gaining; absent while unknown"},
    {F_T_PRODUCE, "Records produced per second to the topic's partitions "
                  "the group reads, over the last rate_window"},
    {F_T_CONSUME, "Records committed per second by the group on the topic, "
                  "over the last rate_window"},
};

#define LBL(n, v) EXPO_LABEL(n, v)

void lag_metrics_declare(struct expo *out)
{
    for (size_t f = 0; f < sizeof(families) / sizeof(families[0]); f++)
        expo_family(out, families[f].name, "gauge", families[f].help);
}

static void write_group(const struct kafka_lag_cluster *c,
                        const struct kafka_lag_group *kg, struct expo *out)
{
    int64_t max_lag = 0, sum_lag = 0;
    double max_s = 0;
    for (size_t t = 0; t < kg->n_topics; t++) {
        const struct kafka_lag_topic *kt = &kg->topics[t];
        if (kt->max_lag > max_lag)
            max_lag = kt->max_lag;
        if (kt->max_lag_seconds > max_s)
            max_s = kt->max_lag_seconds;
        sum_lag += kt->sum_lag;
    }
    struct label gl[] = {LBL("cluster_name", c->name), LBL("group", kg->group)};
    expo_sample(out, F_GROUP_MAX_LAG, gl, 2, (double)max_lag);
    expo_sample(out, F_GROUP_MAX_LAG_S, gl, 2, max_s);
    expo_sample(out, F_GROUP_SUM_LAG, gl, 2, (double)sum_lag);
}

static void write_topic(const struct kafka_lag_cluster *c,
                        const struct kafka_lag_group *kg,
                        const struct kafka_lag_topic *kt, struct expo *out)
{
    struct label tl[] = {LBL("cluster_name", c->name), LBL("group", kg->group),
                         LBL("topic", kt->topic)};
    expo_sample(out, F_TOPIC_SUM_LAG, tl, 3, (double)kt->sum_lag);
    expo_sample(out, F_T_MAX_LAG, tl, 3, (double)kt->max_lag);
    expo_sample(out, F_T_MAX_LAG_S, tl, 3, kt->max_lag_seconds);
    expo_sample(out, F_T_SLOWEST, tl, 3, (double)kt->slowest_partition);
    expo_sample(out, F_T_THROUGH, tl, 3,
                (double)kt->consumed_through_ms / 1000.0);
    expo_sample(out, F_T_PARTS, tl, 3, (double)kt->partitions);
    if (kt->catch_up != KAFKA_CATCH_UP_UNKNOWN) {
        expo_sample(out, F_CATCH_UP, tl, 3, kt->catch_up_s);
        expo_sample(out, F_T_PRODUCE, tl, 3, kt->produce_rate);
        expo_sample(out, F_T_CONSUME, tl, 3, kt->consume_rate);
    }

    char part[16];
    for (size_t p = 0; p < kt->n_parts; p++) {
        const struct kafka_lag_part *kp = &kt->parts[p];
        snprintf(part, sizeof(part), "%" PRId32, kp->partition);
        /* kafka-lag-exporter's partition labels; the member is not known
         * (no group membership is read), so those are empty as it shows
         * them for a group without members. */
        struct label l[] = {
            LBL("client_id", ""),    LBL("cluster_name", c->name),
            LBL("consumer_id", ""),  LBL("group", kg->group),
            LBL("member_host", ""),  LBL("partition", part),
            LBL("topic", kt->topic),
        };
        expo_sample(out, F_PART_LAG, l, 7, (double)kp->lag);
        expo_sample(out, F_PART_LAG_S, l, 7, kp->lag_seconds);
        if (kp->has_commit)
            expo_sample(out, F_PART_OFFSET, l, 7, (double)kp->committed);
    }
}

/* A partition of a topic seen by any group, for the per-partition offset
 * families, which carry no group label: each partition once. */
struct part_ref {
    const char *topic;
    const struct kafka_lag_part *p;
};

static int part_ref_cmp(const void *a, const void *b)
{
    const struct part_ref *x = a, *y = b;
    int r = strcmp(x->topic, y->topic);
    if (r)
        return r;
    return (x->p->partition > y->p->partition) -
           (x->p->partition < y->p->partition);
}

static void write_partitions(const struct kafka_lag_cluster *c,
                             struct expo *out)
{
    size_t n = 0;
    for (size_t g = 0; g < c->n_groups; g++)
        for (size_t t = 0; t < c->groups[g].n_topics; t++)
            n += c->groups[g].topics[t].n_parts;
    if (n == 0)
        return;
    /* Bounded by the result's own partitions. */
    struct part_ref *refs = xcalloc(n, sizeof(*refs));
    size_t k = 0;
    for (size_t g = 0; g < c->n_groups; g++)
        for (size_t t = 0; t < c->groups[g].n_topics; t++) {
            const struct kafka_lag_topic *kt = &c->groups[g].topics[t];
            for (size_t p = 0; p < kt->n_parts; p++)
                refs[k++] = (struct part_ref){kt->topic, &kt->parts[p]};
        }
    qsort(refs, n, sizeof(*refs), part_ref_cmp);
    char part[16];
    for (size_t i = 0; i < n; i++) {
        if (i > 0 && part_ref_cmp(&refs[i - 1], &refs[i]) == 0)
            continue;
        snprintf(part, sizeof(part), "%" PRId32, refs[i].p->partition);
        struct label l[] = {LBL("cluster_name", c->name),
                            LBL("partition", part),
                            LBL("topic", refs[i].topic)};
        expo_sample(out, F_LATEST, l, 3, (double)refs[i].p->end);
        if (refs[i].p->earliest >= 0)
            expo_sample(out, F_EARLIEST, l, 3, (double)refs[i].p->earliest);
    }
    free(refs);
}

void lag_metrics_write(const struct kafka_lag_cluster *c, double poll_ms,
                       struct expo *out)
{
    if (!c)
        return;
    lag_metrics_declare(out);
    for (size_t g = 0; g < c->n_groups; g++) {
        const struct kafka_lag_group *kg = &c->groups[g];
        write_group(c, kg, out);
        for (size_t t = 0; t < kg->n_topics; t++)
            write_topic(c, kg, &kg->topics[t], out);
    }
    write_partitions(c, out);
    if (poll_ms >= 0) {
        struct label l[] = {LBL("cluster_name", c->name)};
        expo_sample(out, F_POLL, l, 1, poll_ms);
    }
}
