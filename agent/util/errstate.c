#include "util/errstate.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

/* Log messages longer than this are cut (for comparison and logging). */
#define MAX_MESSAGE 1024

struct entry {
    char *key;
    char *msg;         /* the last logged message */
    uint64_t failures; /* since the key started failing */
    uint64_t fail_seq; /* sequence number of the last failure */
    uint64_t ok_seq;   /* of the last success, 0 = none */
    bool touched;      /* failed or succeeded in this round */
};

struct errstate {
    char *what;
    struct entry *v;
    size_t n, cap;
    uint64_t seq;
};

struct errstate *errstate_new(const char *what)
{
    struct errstate *es = xcalloc(1, sizeof(*es));
    es->what = xstrdup(what);
    return es;
}

static void entry_release(struct entry *e)
{
    free(e->key);
    free(e->msg);
}

void errstate_free(struct errstate **esp)
{
    struct errstate *es = *esp;
    if (!es)
        return;
    for (size_t i = 0; i < es->n; i++)
        entry_release(&es->v[i]);
    free(es->v);
    free(es->what);
    free(es);
    *esp = NULL;
}

static struct entry *find(struct errstate *es, const char *key)
{
    for (size_t i = 0; i < es->n; i++)
        if (strcmp(es->v[i].key, key) == 0)
            return &es->v[i];
    return NULL;
}

/* Length of the digit run at s when " ms" follows it, else 0. */
static size_t ms_digits(const char *s)
{
    size_t n = 0;
    while (isdigit((unsigned char)s[n]))
        n++;
    return n > 0 && strncmp(s + n, " ms", 3) == 0 ? n : 0;
}

bool errstate_same_message(const char *a, const char *b)
{
    for (;;) {
        size_t da = ms_digits(a), db = ms_digits(b);
        if (da && db) {
            a += da;
            b += db;
            continue;
        }
        if (*a != *b)
            return false;
        if (!*a)
            return true;
        a++;
        b++;
    }
}

bool errstate_fail(struct errstate *es, enum log_level lvl, const char *key,
                   const char *fmt, ...)
{
    char msg[MAX_MESSAGE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct entry *e = find(es, key);
    if (!e && es->n >= ERRSTATE_MAX_KEYS) {
        log_at(lvl, "%s", msg);
        return true;
    }
    if (!e) {
        if (es->n == es->cap) {
            es->cap = es->cap ? es->cap * 2 : 8;
            es->v = xrealloc(es->v, es->cap * sizeof(*es->v));
        }
        e = &es->v[es->n++];
        memset(e, 0, sizeof(*e));
        e->key = xstrdup(key);
    }
    e->failures++;
    e->fail_seq = ++es->seq;
    e->touched = true;
    if (e->msg && errstate_same_message(e->msg, msg)) {
        log_debug("%s (failing %llu times in a row)", msg,
                  (unsigned long long)e->failures);
        return false;
    }
    free(e->msg);
    e->msg = xstrdup(msg);
    log_at(lvl, "%s", msg);
    return true;
}

void errstate_ok(struct errstate *es, const char *key)
{
    if (es->n == 0)
        return;
    struct entry *e = find(es, key);
    if (!e)
        return;
    e->ok_seq = ++es->seq;
    e->touched = true;
}

void errstate_settle(struct errstate *es)
{
    size_t w = 0;
    for (size_t i = 0; i < es->n; i++) {
        struct entry *e = &es->v[i];
        bool recovered = e->ok_seq > e->fail_seq;
        if (recovered)
            log_info("%s '%s' works again after %llu failure%s", es->what,
                     e->key, (unsigned long long)e->failures,
                     e->failures == 1 ? "" : "s");
        if (recovered || !e->touched) {
            entry_release(e);
            continue;
        }
        e->touched = false;
        es->v[w++] = *e;
    }
    es->n = w;
}

size_t errstate_failing(const struct errstate *es)
{
    return es->n;
}
