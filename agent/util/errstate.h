/*
 * errstate: logs a persistent failure once, not once per cycle.
 *
 * A collector that polls the same targets every cycle (reporter endpoints,
 * JobManager REST URLs) records each failure and success by key (the URL).
 * The first failure of a key is logged at the caller's level; further
 * failures with the same message are logged at debug only (the caller
 * counts them in its lagwatch_*_errors_total metric); a failure whose
 * message changes is logged again. A success after failures is logged once
 * at info, with the number of failures it ends, when the round is settled:
 * a round can have a successful fetch and then a failed parse of the same
 * URL, which is not a recovery.
 *
 * Numbers in "after N ms" (curl's elapsed time) do not make a message
 * different. At most ERRSTATE_MAX_KEYS keys are tracked; beyond that
 * failures are logged every time, as without this module. Not locked: one
 * thread per errstate.
 */
#ifndef AGENT_ERRSTATE_H
#define AGENT_ERRSTATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/log.h"

#define ERRSTATE_MAX_KEYS 4096

struct errstate;

/* what names the keys in the recovery message ("reporter endpoint" gives
 * "reporter endpoint 'http://x' works again after 5 failures"); copied. */
struct errstate *errstate_new(const char *what);
void errstate_free(struct errstate **esp);

/* A failure of key; the message is printf-formatted and is the complete
 * log line ("cannot scrape 'http://x': HTTP 503"). Returns true when it was
 * logged at lvl (a new or changed failure), false when at debug. */
bool errstate_fail(struct errstate *es, enum log_level lvl, const char *key,
                   const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* A success of key in this round. */
void errstate_ok(struct errstate *es, const char *key);

/* Ends a round: keys that succeeded after their last failure are logged as
 * recovered and forgotten; keys with neither a failure nor a success in
 * this round (targets that went away) are forgotten silently. */
void errstate_settle(struct errstate *es);

/* Keys failing right now (after the last settle). */
size_t errstate_failing(const struct errstate *es);

/* Whether two messages are the same failure: equal, except that the
 * digits of "<digits> ms" may differ. */
bool errstate_same_message(const char *a, const char *b);

#endif
