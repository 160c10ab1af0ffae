/*
 * lag_metrics: the Kafka lag series of one sweep result on /metrics.
 *
 * Two sets of names (lagwatch-metrics(7), "Kafka lag"):
 *  - kafka-lag-exporter's families with its label sets and meanings, so
 *    its Grafana dashboard and alert rules keep working: group level
 *    {cluster_name, group}, topic level {cluster_name, group, topic},
 *    partition level with the member labels member_host, consumer_id and
 *    client_id (empty strings: lagwatch does not read group membership,
 *    as kafka-lag-exporter shows groups without members), partition
 *    offsets {cluster_name, topic, partition} and the poll time;
 *  - lagwatch's own per-topic series (lagwatch_kafka_group_topic_*): the
 *    slowest partition, its record and time lag, consumed-through and the
 *    partition count.
 *
 * Pure formatting of a result into the model: no I/O. Threads: the
 * caller's; the result and model are not shared while it runs.
 */
#ifndef AGENT_LAG_METRICS_H
#define AGENT_LAG_METRICS_H

#include "kafka/kafka_result.h"

struct expo;

/* Declares every family (also with no cluster, so they are listed) and
 * adds the samples of c (NULL-safe). poll_ms: the duration of the sweep
 * that produced c (kafka_consumergroup_poll_time_ms), < 0 = not known. */
void lag_metrics_declare(struct expo *out);
void lag_metrics_write(const struct kafka_lag_cluster *c, double poll_ms,
                       struct expo *out);

#endif
