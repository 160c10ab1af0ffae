/*
 * tap.h: the unit-test harness. Emits TAP for automake's tap-driver.sh.
 *
 * Built around three lessons from git's harness: a failing check ends its
 * case at once; `./x_test NAME` runs one case by name; one table line
 * registers a case.
 *
 *   TAP_CASE(parses_counter) { TAP_EQ_INT(1, 1); }
 *   static const struct tap_case cases[] = { TAP_ENTRY(parses_counter) };
 *   int main(int argc, char **argv) { return tap_main(cases, TAP_N(cases),
 *                                                     argc, argv); }
 *
 * Skipping and cleaning up:
 *   TAP_SKIP("needs %s", what);   ends the case as "ok N - name # SKIP
 *                                 needs ..." (counted as a skip, not a pass)
 *   tap_defer(fn, arg);           fn(arg) runs when the case ends, whether it
 *                                 passed, failed or was skipped, the last
 *                                 registered first; arg must outlive the case
 *                                 (static or heap, not the case's locals)
 *   return tap_skip_all("why");   from main: "1..0 # SKIP why", exit 0
 */
#ifndef TESTS_LIB_TAP_H
#define TESTS_LIB_TAP_H

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tap_case {
    const char *name;
    void (*fn)(bool *failed);
};

#define TAP_CASE(name) static void tap_case_##name(bool *tap_failed_)

#define TAP_MAX_DEFER 16

/* The running case's skip reason and cleanups (one test program per
 * translation unit). */
static struct {
    bool skipped;
    char skip_reason[256];
    size_t n_defer;
    struct {
        void (*fn)(void *);
        void *arg;
    } defer[TAP_MAX_DEFER];
} tap_state_ __attribute__((unused));

#define TAP_SKIP(...)                                                          \
    do {                                                                       \
        snprintf(tap_state_.skip_reason, sizeof(tap_state_.skip_reason),       \
                 __VA_ARGS__);                                                 \
        tap_state_.skipped = true;                                             \
        (void)tap_failed_;                                                     \
        return;                                                                \
    } while (0)

/* Registers fn(arg) to run when the current case ends. A full table is a
 * bug in the test: it runs fn at once, so nothing leaks, and says so. */
static inline void tap_defer(void (*fn)(void *), void *arg)
{
    if (tap_state_.n_defer == TAP_MAX_DEFER) {
        printf("# tap_defer: more than %d cleanups, running this one now\n",
               TAP_MAX_DEFER);
        fn(arg);
        return;
    }
    tap_state_.defer[tap_state_.n_defer].fn = fn;
    tap_state_.defer[tap_state_.n_defer].arg = arg;
    tap_state_.n_defer++;
}

static inline void tap_run_deferred_(void)
{
    while (tap_state_.n_defer > 0) {
        tap_state_.n_defer--;
        tap_state_.defer[tap_state_.n_defer].fn(
            tap_state_.defer[tap_state_.n_defer].arg);
    }
}

__attribute__((format(printf, 1, 2))) static inline int
tap_skip_all(const char *fmt, ...)
{
    va_list ap;
    printf("1..0 # SKIP ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    return 0;
}
#define TAP_ENTRY(name)                                                        \
    {                                                                          \
#name, tap_case_##name                                                 \
    }
#define TAP_N(a) (sizeof(a) / sizeof((a)[0]))

#define TAP_FAIL_(...)                                                         \
    do {                                                                       \
        printf("# %s:%d: ", __FILE__, __LINE__);                               \
        printf(__VA_ARGS__);                                                   \
        printf("\n");                                                          \
        *tap_failed_ = true;                                                   \
        return;                                                                \
    } while (0)

#define TAP_OK(cond)                                                           \
    do {                                                                       \
        if (!(cond))                                                           \
            TAP_FAIL_("check failed: %s", #cond);                              \
    } while (0)

#define TAP_EQ_INT(want, got)                                                  \
    do {                                                                       \
        long long w_ = (long long)(want), g_ = (long long)(got);               \
        if (w_ != g_)                                                          \
            TAP_FAIL_("%s: want %lld, got %lld", #got, w_, g_);                \
    } while (0)

#define TAP_EQ_U64(want, got)                                                  \
    do {                                                                       \
        uint64_t w_ = (uint64_t)(want), g_ = (uint64_t)(got);                  \
        if (w_ != g_)                                                          \
            TAP_FAIL_("%s: want %" PRIu64 ", got %" PRIu64, #got, w_, g_);     \
    } while (0)

#define TAP_EQ_STR(want, got)                                                  \
    do {                                                                       \
        const char *w_ = (want), *g_ = (got);                                  \
        if (!w_ || !g_ || strcmp(w_, g_) != 0)                                 \
            TAP_FAIL_("%s: want \"%s\", got \"%s\"", #got, w_ ? w_ : "(null)", \
                      g_ ? g_ : "(null)");                                     \
    } while (0)

#define TAP_EQ_DBL(want, got, eps)                                             \
    do {                                                                       \
        double w_ = (want), g_ = (got);                                        \
        if (!(fabs(w_ - g_) <= (eps)))                                         \
            TAP_FAIL_("%s: want %.17g, got %.17g", #got, w_, g_);              \
    } while (0)

static inline int tap_main(const struct tap_case *cases, size_t n, int argc,
                           char **argv)
{
    size_t run = 0, failed = 0;
    const char *only = argc > 1 ? argv[1] : NULL;
    size_t planned = 0;
    for (size_t i = 0; i < n; i++)
        if (!only || strcmp(only, cases[i].name) == 0)
            planned++;
    if (planned == 0) {
        printf("1..0 # SKIP no case named %s\n", only ? only : "");
        return only ? 1 : 0;
    }
    printf("1..%zu\n", planned);
    fflush(stdout);
    for (size_t i = 0; i < n; i++) {
        if (only && strcmp(only, cases[i].name) != 0)
            continue;
        bool f = false;
        tap_state_.skipped = false;
        tap_state_.skip_reason[0] = '\0';
        cases[i].fn(&f);
        fflush(stdout);
        tap_run_deferred_();
        run++;
        if (tap_state_.skipped && !f)
            printf("ok %zu - %s # SKIP %s\n", run, cases[i].name,
                   tap_state_.skip_reason);
        else
            printf("%s %zu - %s\n", f ? "not ok" : "ok", run, cases[i].name);
        fflush(stdout);
        if (f)
            failed++;
    }
    return failed ? 1 : 0;
}

#endif
