/*
 * errstate_test: which failures and recoveries reach the log. The log
 * goes to stderr, so the test redirects stderr into a temp file and counts
 * the lines per level after each step.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/errstate.h"
#include "util/log.h"
#include "tests/lib/tap.h"

/* stderr goes to a temp file; take() returns what was logged since the
 * last call (static buffer). */
static FILE *cap;
static long cap_off;

static const char *take(void)
{
    static char out[8192];
    fflush(stderr);
    fseek(cap, cap_off, SEEK_SET);
    size_t n = fread(out, 1, sizeof(out) - 1, cap);
    out[n] = '\0';
    cap_off += (long)n;
    return out;
}

static int count(const char *text, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(text, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

/* One step of a scenario: a round with the given outcome per key ('f' =
 * fail with message msg, 'o' = ok, 'p' = ok then a parse failure, '-' =
 * not polled), then what the round must have logged. */
struct step {
    const char *outcome; /* one char per key: keys a, b */
    const char *msg_a;
    int want_errors; /* level=error lines */
    int want_recovered;
    size_t want_failing;
};

TAP_CASE(rounds)
{
    static const struct step steps[] = {
        {"oo", NULL, 0, 0, 0},
        {"fo", "cannot scrape 'a': Failed to connect after 0 ms", 1, 0, 1},
        /* Same failure, elapsed time differs: not logged again. */
        {"fo", "cannot scrape 'a': Failed to connect after 3 ms", 0, 0, 1},
        {"fo", "cannot scrape 'a': Failed to connect after 1 ms", 0, 0, 1},
        /* A different failure is logged. */
        {"fo", "cannot scrape 'a': HTTP 503", 1, 0, 1},
        {"ff", "cannot scrape 'a': HTTP 503", 1, 0, 2},
        {"of", NULL, 0, 1, 1},
        /* Fetched but unparsable: a changed failure, not a recovery. */
        {"op", NULL, 1, 0, 1},
        {"op", NULL, 0, 0, 1},
        {"oo", NULL, 0, 1, 0},
        /* A failing key that is not polled any more is forgotten. */
        {"fo", "cannot scrape 'a': HTTP 500", 1, 0, 1},
        {"-o", NULL, 0, 0, 0},
        {"fo", "cannot scrape 'a': HTTP 500", 1, 0, 1},
    };
    struct errstate *es = errstate_new("target");
    take();
    for (size_t i = 0; i < TAP_N(steps); i++) {
        const struct step *s = &steps[i];
        const char *keys[2] = {"a", "b"};
        for (size_t k = 0; k < 2; k++) {
            char o = s->outcome[k];
            if (o == 'f' && k == 0)
                errstate_fail(es, LOG_LVL_ERROR, "a", "%s", s->msg_a);
            else if (o == 'f')
                errstate_fail(es, LOG_LVL_ERROR, "b", "cannot scrape 'b': %s",
                              "HTTP 404");
            else if (o == 'o')
                errstate_ok(es, keys[k]);
            else if (o == 'p') {
                errstate_ok(es, keys[k]);
                errstate_fail(es, LOG_LVL_ERROR, keys[k],
                              "cannot parse '%s': bad", keys[k]);
            }
        }
        errstate_settle(es);
        const char *log = take();
        if (count(log, "level=error") != s->want_errors ||
            count(log, "works again") != s->want_recovered)
            printf("# step %zu logged:\n# %s\n", i, log);
        TAP_EQ_INT(s->want_errors, count(log, "level=error"));
        TAP_EQ_INT(s->want_recovered, count(log, "works again"));
        TAP_EQ_U64(s->want_failing, errstate_failing(es));
    }
    errstate_free(&es);
    TAP_OK(es == NULL);
    errstate_free(&es);
}

TAP_CASE(recovery_line)
{
    struct errstate *es = errstate_new("reporter endpoint");
    take();
    for (int i = 0; i < 3; i++) {
        errstate_fail(es, LOG_LVL_WARN, "http://x/metrics",
                      "cannot scrape 'http://x/metrics': HTTP 503");
        errstate_settle(es);
    }
    errstate_ok(es, "http://x/metrics");
    errstate_settle(es);
    const char *log = take();
    TAP_EQ_INT(1, count(log, "level=warn"));
    TAP_OK(strstr(log, "reporter endpoint 'http://x/metrics' works again "
                       "after 3 failures") != NULL);
    errstate_free(&es);
}

TAP_CASE(key_cap)
{
    struct errstate *es = errstate_new("t");
    char key[32];
    for (int i = 0; i < ERRSTATE_MAX_KEYS + 10; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        TAP_OK(errstate_fail(es, LOG_LVL_ERROR, key, "cannot %s", key));
    }
    TAP_EQ_U64(ERRSTATE_MAX_KEYS, errstate_failing(es));
    /* Untracked keys beyond the cap are logged every time. */
    snprintf(key, sizeof(key), "k%d", ERRSTATE_MAX_KEYS + 1);
    TAP_OK(errstate_fail(es, LOG_LVL_ERROR, key, "cannot %s", key));
    TAP_OK(!errstate_fail(es, LOG_LVL_ERROR, "k0", "cannot k0"));
    take();
    errstate_free(&es);
}

TAP_CASE(same_message)
{
    const struct {
        const char *a, *b;
        bool same;
    } cases[] = {
        {"x", "x", true},
        {"x", "y", false},
        {"after 0 ms: refused", "after 12 ms: refused", true},
        {"timeout after 10000 ms", "timeout after 10000 ms", true},
        {"HTTP 503", "HTTP 500", false},
        {"after 1 ms", "after 1 s", false},
        {"after 1 ms", "after  ms", false},
        {"", "", true},
        {"a", "", false},
    };
    for (size_t i = 0; i < TAP_N(cases); i++) {
        if (errstate_same_message(cases[i].a, cases[i].b) != cases[i].same)
            printf("# case %zu: '%s' vs '%s'\n", i, cases[i].a, cases[i].b);
        TAP_EQ_INT(cases[i].same,
                   errstate_same_message(cases[i].a, cases[i].b));
    }
}

static const struct tap_case cases[] = {
    TAP_ENTRY(rounds),
    TAP_ENTRY(recovery_line),
    TAP_ENTRY(key_cap),
    TAP_ENTRY(same_message),
};

int main(int argc, char **argv)
{
    cap = tmpfile();
    if (!cap || dup2(fileno(cap), STDERR_FILENO) < 0) {
        printf("Bail out! cannot capture stderr\n");
        return 1;
    }
    log_set_level(LOG_LVL_INFO);
    return tap_main(cases, TAP_N(cases), argc, argv);
}
