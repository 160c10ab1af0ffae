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
 */
#ifndef TESTS_LIB_TAP_H
#define TESTS_LIB_TAP_H

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tap_case {
    const char *name;
    void (*fn)(bool *failed);
};

#define TAP_CASE(name) static void tap_case_##name(bool *tap_failed_)
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
        cases[i].fn(&f);
        run++;
        printf("%s %zu - %s\n", f ? "not ok" : "ok", run, cases[i].name);
        fflush(stdout);
        if (f)
            failed++;
    }
    return failed ? 1 : 0;
}

#endif
