/*
 * kafka_reaper: closes and destroys librdkafka consumer handles off the
 * caller's thread. librdkafka 2.0.2 can block forever in
 * rd_kafka_destroy() when a broker thread still holds fetched messages
 * (seen after pause, and after resume + unassign), so a handle is drained
 * by the caller and then handed to a thread of its own that the caller
 * waits for only as long as it chooses. At most one handle is in flight.
 *
 * Threads: a struct kafka_reaper is used by one thread at a time (its
 * owner); the reaper thread touches only its shared, refcounted state, so
 * a reaper still stuck when the struct is freed never writes into freed
 * memory.
 */
#ifndef AGENT_KAFKA_REAPER_H
#define AGENT_KAFKA_REAPER_H

#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

struct kafka_reaper;

/* name (copied) is the cluster named in log lines. */
struct kafka_reaper *kafka_reaper_new(const char *name);
/* Waits up to 5 s for a handle in flight, then lets it go (detached, it
 * finishes or not in the background). NULL-safe; sets *rp to NULL. */
void kafka_reaper_free(struct kafka_reaper **rp);

/* Takes ownership of rk: closes and destroys it on a new thread (or here,
 * when no thread can be started). The previous handle must be gone
 * (kafka_reaper_wait returned true). */
void kafka_reaper_hand(struct kafka_reaper *r, rd_kafka_t *rk);

/* Waits up to ms for the handle in flight. Returns true when none is left
 * (logging once when a handle that was reported stuck has finished);
 * false, with one warning per stuck handle, when it still runs. */
bool kafka_reaper_wait(struct kafka_reaper *r, int64_t ms);

#endif
