/*
 * kafka_groups: lists the consumer groups of a Kafka cluster (Admin
 * ListConsumerGroups) for kafka_lag's group patterns.
 *
 * The listing runs on a short-lived handle of its own: in librdkafka 2.0.2
 * a failed group listing can leave a handle unable to reach coordinators
 * (and its destroy hanging), which must not hit a long-lived handle.
 *
 * Threads: any thread; nothing is shared between calls.
 */
#ifndef AGENT_KAFKA_GROUPS_H
#define AGENT_KAFKA_GROUPS_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

/* Lists the groups of the cluster conf points at, waiting up to
 * timeout_ms. Takes ownership of conf. Returns 0 with at most max_ids
 * sorted, owned copies in *ids / *n (free each and the array; a warning
 * naming cluster is logged when there were more), 1 when the cluster does
 * not support listing, -1 with a message in err on other errors. */
int kafka_groups_list(rd_kafka_conf_t *conf, const char *cluster,
                      int timeout_ms, size_t max_ids, char ***ids, size_t *n,
                      char *err, size_t errlen);

#endif
