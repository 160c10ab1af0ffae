/*
 * kafka_tscache: the timestamps of Kafka records, keyed by (topic,
 * partition, offset), so that a lag sweep reads the first unconsumed
 * message of a partition only when the committed offset has moved.
 *
 * The log never changes, so an entry stays valid for as long as it is kept.
 * Two generations of open-addressing tables bound the size: lookups
 * promote hits from the old generation, and when the current one fills up
 * the old one is dropped, which keeps what the last sweeps used without
 * per-entry LRU bookkeeping. Topic names are interned to small ids so that
 * entries are small and exact.
 *
 * Threads: one thread at a time.
 */
#ifndef AGENT_KAFKA_TSCACHE_H
#define AGENT_KAFKA_TSCACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KAFKA_TSCACHE_TOPICS_MAX 1000000 /* interned topic names */

struct kafka_tscache;

/* max_entries bounds both generations together (at least 2). */
struct kafka_tscache *kafka_tscache_new(size_t max_entries);
/* NULL-safe; sets *cp to NULL. */
void kafka_tscache_free(struct kafka_tscache **cp);

/* The id of topic, interned on first use. Ids stay valid until
 * kafka_tscache_clear. */
uint32_t kafka_tscache_topic(struct kafka_tscache *c, const char *topic);
/* True when KAFKA_TSCACHE_TOPICS_MAX names are interned: the caller then
 * clears the cache before interning a new sweep's topics. */
bool kafka_tscache_topics_full(const struct kafka_tscache *c);
/* Drops every entry and every interned name. */
void kafka_tscache_clear(struct kafka_tscache *c);

/* Returns 0 and the stored timestamp and type, or -1 when not cached. */
int kafka_tscache_get(struct kafka_tscache *c, uint32_t topic_id,
                      int32_t partition, int64_t offset, int64_t *ts_ms,
                      int *tstype);
void kafka_tscache_put(struct kafka_tscache *c, uint32_t topic_id,
                       int32_t partition, int64_t offset, int64_t ts_ms,
                       int tstype);
/* Entries held in both generations. */
size_t kafka_tscache_entries(const struct kafka_tscache *c);

#endif
