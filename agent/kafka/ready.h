/*
 * ready: answers GET /api/v1/ready (lagwatch(8), HTTP ENDPOINTS) from the
 * latest lag sweep results: has consumer group G consumed every message with a
 * timestamp before `until`? Batch schedulers poll it before starting a job
 * that reads what G wrote.
 *
 * Pure: no I/O, no clock, no locking. The caller holds the sweep results
 * steady for the duration of the call and sends the status and body.
 */
#ifndef AGENT_READY_H
#define AGENT_READY_H

#include <stddef.h>

#include "util/buf.h"
#include "kafka/kafka_lag.h"

#define READY_ECHO_MAX 200 /* bytes of a parameter echoed back, pre-escape */

/*
 * Evaluates the readiness of group (optionally one topic, optionally one
 * cluster by name; NULL means "all") at until, the raw query parameter
 * (RFC 3339 or epoch seconds, see timefmt.h), over the n sweep results in
 * clusters. Appends the JSON body to json and returns the HTTP status:
 *   200  {"ready":true,...}   every matched topic consumed through until
 *   425  {"ready":false,...}  not yet (consumed_through may be null when
 *                             the group has committed nothing)
 *   404  {"error":"..."}      unknown cluster, group or topic
 *   400  {"error":"..."}      missing, empty or unparsable parameter
 *   500  {"error":"..."}      the body did not fit under json's cap (the
 *                             text appended by this call is replaced)
 * The success body is
 *   {"ready":B,"group":"G","topic":"T"|null,"cluster":"C"|null,
 *    "until":"<RFC 3339>","until_ms":N,"consumed_through":"..."|null,
 *    "consumed_through_ms":N|null,"stale":B,
 *    "topics":[{"cluster":"C","topic":"T","consumed_through_ms":N,
 *               "max_lag_seconds":X},...]}
 * Fields may be added, never renamed. Strings are JSON-escaped: quote and
 * backslash with a backslash, control bytes and DEL as \u00XX, each byte
 * that is not part of valid UTF-8 as \ufffd. Echoed parameters (group,
 * topic, cluster, until) are clipped to READY_ECHO_MAX bytes first, so the
 * body outside the topic list stays within a few KiB.
 */
int ready_eval(const struct kafka_lag_cluster *const *clusters, size_t n,
               const char *group, const char *topic, const char *cluster,
               const char *until, struct buf *json);

#endif
