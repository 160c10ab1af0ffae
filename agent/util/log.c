#include "util/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

enum log_level log_threshold_ = LOG_LVL_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void log_set_level(enum log_level lvl)
{
    log_threshold_ = lvl;
}

int log_level_parse(const char *s, enum log_level *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    if (strcmp(s, "warning") == 0) {
        *out = LOG_LVL_WARN;
        return 0;
    }
    return -1;
}

void log_emit(enum log_level lvl, const char *fmt, ...)
{
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    /* logfmt quoting: escape backslash, quote and newline so that one event
     * is always one line whatever a remote server put in its error text. */
    char esc[4200];
    size_t j = 0;
    for (size_t i = 0; msg[i] && j + 3 < sizeof(esc); i++) {
        unsigned char c = (unsigned char)msg[i];
        if (c == '"' || c == '\\') {
            esc[j++] = '\\';
            esc[j++] = (char)c;
        } else if (c == '\n') {
            esc[j++] = '\\';
            esc[j++] = 'n';
        } else if (c < 0x20) {
            esc[j++] = ' ';
        } else {
            esc[j++] = (char)c;
        }
    }
    esc[j] = '\0';

    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char tbuf[32];
    strftime(tbuf, sizeof(tbuf), "%Y-%m-%dT%H:%M:%S", &tm);
    fprintf(stderr, "ts=%s.%03ldZ level=%s msg=\"%s\"\n", tbuf,
            ts.tv_nsec / 1000000, level_names[lvl], esc);
}
