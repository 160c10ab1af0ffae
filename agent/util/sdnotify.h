/*
 * sdnotify: systemd's service notification protocol (what sd_notify(3)
 * does), so that lagwatch runs as a Type=notify service with a watchdog
 * without linking libsystemd.
 *
 * The protocol is one datagram per message over the AF_UNIX socket named by
 * $NOTIFY_SOCKET: newline-separated VAR=value assignments (READY=1,
 * STATUS=..., WATCHDOG=1, RELOADING=1, STOPPING=1). A name starting with
 * '@' is an abstract socket. Without $NOTIFY_SOCKET every call is a no-op,
 * so the daemon calls these unconditionally.
 *
 * $WATCHDOG_USEC (with $WATCHDOG_PID, when set, naming this process) turns
 * on the watchdog: sdnotify_watchdog() sends WATCHDOG=1 at most every half
 * of that period. Call it from the main loop only, so that a hung loop
 * stops the pings and systemd restarts the service.
 *
 * One thread owns a struct sdnotify; it is not locked.
 */
#ifndef AGENT_SDNOTIFY_H
#define AGENT_SDNOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sdnotify;

/* Reads $NOTIFY_SOCKET, $WATCHDOG_USEC and $WATCHDOG_PID now. Returns an
 * inert object when $NOTIFY_SOCKET is unset or empty, NULL with the reason
 * in err when it is set but unusable (not absolute, too long, no socket). */
struct sdnotify *sdnotify_new(char *err, size_t errlen);
void sdnotify_free(struct sdnotify **snp);

/* True when $NOTIFY_SOCKET was set (messages are really sent). */
bool sdnotify_enabled(const struct sdnotify *sn);

/* Sends msg ("READY=1\nSTATUS=..."), at most SDNOTIFY_MAX_MSG bytes, as
 * one datagram. 0 when sent or inert (also for sn == NULL), -1 when the
 * send failed. A failure is logged once when it starts and once when
 * sending works again, not on every call. */
int sdnotify_send(struct sdnotify *sn, const char *msg);
/* printf-style sdnotify_send(). */
int sdnotify_sendf(struct sdnotify *sn, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define SDNOTIFY_MAX_MSG 4096

/* The interval between watchdog pings in microseconds (half of
 * $WATCHDOG_USEC), 0 when the watchdog is off. */
uint64_t sdnotify_watchdog_interval_us(const struct sdnotify *sn);

/* Sends WATCHDOG=1 when the watchdog is on and the interval has passed
 * since the last ping (the first call always pings). Returns 1 when it
 * pinged, 0 when nothing was due, -1 when the send failed. */
int sdnotify_watchdog(struct sdnotify *sn);

#endif
