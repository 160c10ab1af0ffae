/*
 * fuzz_common: what every libFuzzer harness in tests/fuzz/ shares: a
 * reader that turns the fuzz input into choices (FuzzedDataProvider's idea
 * in C: structure comes off the front, so a mutation of one byte moves one
 * decision), a fatal check that names the broken property, and quiet
 * logging.
 *
 * Built only by scripts/fuzz.sh (clang, -fsanitize=fuzzer), never by make.
 */
#ifndef TESTS_FUZZ_COMMON_H
#define TESTS_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A property violation is a finding like a crash: abort() so that libFuzzer
 * saves the input and prints the stack. */
#define FUZZ_CHECK(cond, ...)                                                  \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__,          \
                    __LINE__, #cond);                                          \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* The parsers log every malformed line they skip; at thousands of inputs a
 * second that is all the fuzzer would do. LAGWATCH_FUZZ_LOG=1 keeps the
 * logs, for reading what a reproducer does. */
static inline void fuzz_quiet_logs(void)
{
    const char *keep = getenv("LAGWATCH_FUZZ_LOG");
    if (keep && *keep == '1')
        return;
    /* one past the highest level: log_at() compares, nothing passes */
    log_threshold_ = (enum log_level)(LOG_LVL_ERROR + 1);
}

struct fuzz_in {
    const uint8_t *p;
    size_t n;
};

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
    if (in->n == 0)
        return 0;
    in->n--;
    return *in->p++;
}

static inline uint16_t fuzz_u16(struct fuzz_in *in)
{
    uint16_t hi = fuzz_u8(in);
    return (uint16_t)(hi << 8 | fuzz_u8(in));
}

static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | fuzz_u8(in);
    return v;
}

static inline double fuzz_double(struct fuzz_in *in)
{
    uint64_t bits = fuzz_u64(in);
    double d;
    memcpy(&d, &bits, sizeof(d));
    return d;
}

/* Up to max bytes, length-prefixed (one byte): a mutation that changes one
 * string leaves the later ones where they were. Points into the input. */
static inline const char *fuzz_bytes(struct fuzz_in *in, size_t max,
                                     size_t *len)
{
    size_t want = fuzz_u8(in);
    if (want > max)
        want = max;
    if (want > in->n)
        want = in->n;
    const char *s = (const char *)in->p;
    in->p += want;
    in->n -= want;
    *len = want;
    return s;
}

/* xorshift64*: chunk sizes and the like that must depend on the input
 * without consuming it (the parser still sees every byte). */
static inline uint64_t fuzz_rand(uint64_t *s)
{
    uint64_t x = *s ? *s : 0x9e3779b97f4a7c15u;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1du;
}

/* FNV-1a, to derive a seed from the input or fold a result into a digest. */
static inline uint64_t fuzz_hash(uint64_t h, const void *p, size_t n)
{
    const uint8_t *b = p;
    if (h == 0)
        h = 0xcbf29ce484222325u;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3u;
    }
    return h;
}

#endif
