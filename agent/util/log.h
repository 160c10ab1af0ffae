/*
 * log: logfmt lines on stderr, one per event.
 *
 * The level check happens before any argument is evaluated. The log level is
 * the one piece of process-wide mutable state outside main (set once from
 * the command line or config). Messages follow the project rules: lowercase
 * first word, say what failed first, quote the subject, append the cause.
 *
 *   log_error("cannot write to node 'influx-a': %s", err);
 * prints
 *   ts=2026-11-20T10:00:00.123Z level=error msg="cannot write to node ..."
 */
#ifndef AGENT_LOG_H
#define AGENT_LOG_H

#include <stdbool.h>

enum log_level {
    LOG_LVL_DEBUG = 0,
    LOG_LVL_INFO = 1,
    LOG_LVL_WARN = 2,
    LOG_LVL_ERROR = 3,
};

extern enum log_level log_threshold_;

void log_set_level(enum log_level lvl);
/* Parses "debug", "info", "warn", "error"; returns -1 on anything else. */
int log_level_parse(const char *s, enum log_level *out);
void log_emit(enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_at(lvl, ...)                                                       \
    do {                                                                       \
        if ((lvl) >= log_threshold_)                                           \
            log_emit((lvl), __VA_ARGS__);                                      \
    } while (0)
#define log_debug(...) log_at(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...)  log_at(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_LVL_WARN, __VA_ARGS__)
#define log_error(...) log_at(LOG_LVL_ERROR, __VA_ARGS__)

static inline bool log_enabled(enum log_level lvl)
{
    return lvl >= log_threshold_;
}

#endif
