/*
 * promscan: the byte scanners of the exposition parser (promparse.c), kept
 * apart from its grammar: names and label values make up most of a line,
 * and byte loops or a memchr call per token were the largest cost in
 * profiles on the Flink fixtures (SSE2: 250-300 ns per sample, byte loops:
 * ~440), so with SSE2 (every x86-64) they test 16 bytes at a time, and the
 * quote gatherer of the fast label path uses AVX2 where the CPU has it
 * (chosen at run time). Other machines use byte loops and have no fast
 * path.
 *
 * The scanners read past the NUL that ends a line: the caller's buffer
 * must have PROMSCAN_PAD bytes after it, zeroed once so that nothing
 * uninitialised is ever read.
 *
 * Threads: pure functions of their arguments; any thread.
 */
#ifndef AGENT_PIPELINE_PROMSCAN_H
#define AGENT_PIPELINE_PROMSCAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Bytes a scanner may read past a line's NUL sentinel (the AVX2 quote
 * gatherer loads 32 at a time). */
#define PROMSCAN_PAD 32

/* Gathers the offsets from q of the '"' in q[0..end) into qp (room for one
 * per byte), in order, and returns their number; *bad is set nonzero when
 * a '\\' or a NUL is in there. Reads up to PROMSCAN_PAD - 1 bytes past
 * end. */
typedef size_t (*promscan_gather_fn)(const char *q, const char *end,
                                     uint32_t *qp, unsigned *bad);

/* The quote gatherer for this CPU (AVX2 unless no_avx2, else SSE2), or
 * NULL where there is no SIMD: the parser then has no fast label path. */
promscan_gather_fn promscan_gather_for(bool no_avx2);

#if defined(__SSE2__)

/* First byte at or after q that is not in [a-zA-Z0-9_] (plus ':' when
 * colon is set). Bytes >= 0x80 are negative as signed chars and so fall
 * outside every range. */
static inline char *promscan_name(char *q, bool colon)
{
    const __m128i d_lo = _mm_set1_epi8('0' - 1), d_hi = _mm_set1_epi8('9' + 1);
    const __m128i a_lo = _mm_set1_epi8('a' - 1), a_hi = _mm_set1_epi8('z' + 1);
    const __m128i low = _mm_set1_epi8(0x20), us = _mm_set1_epi8('_');
    const __m128i co = _mm_set1_epi8(colon ? ':' : '_');
    for (;; q += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)q);
        __m128i l = _mm_or_si128(x, low); /* folds A-Z onto a-z */
        __m128i m =
            _mm_and_si128(_mm_cmpgt_epi8(x, d_lo), _mm_cmplt_epi8(x, d_hi));
        m = _mm_or_si128(
            m, _mm_and_si128(_mm_cmpgt_epi8(l, a_lo), _mm_cmplt_epi8(l, a_hi)));
        m = _mm_or_si128(m, _mm_cmpeq_epi8(x, us));
        m = _mm_or_si128(m, _mm_cmpeq_epi8(x, co));
        unsigned stop = ~(unsigned)_mm_movemask_epi8(m) & 0xffffu;
        if (stop)
            return q + __builtin_ctz(stop);
    }
}

/* First '"', '\\' or NUL at or after q. */
static inline char *promscan_lvalue(char *q)
{
    const __m128i dq = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
    const __m128i zero = _mm_setzero_si128();
    for (;; q += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)q);
        __m128i m = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(x, dq), _mm_cmpeq_epi8(x, bs)),
            _mm_cmpeq_epi8(x, zero));
        unsigned hit = (unsigned)_mm_movemask_epi8(m);
        if (hit)
            return q + __builtin_ctz(hit);
    }
}
#else
static inline bool promscan_name_byte(unsigned char c, bool colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || (colon && c == ':');
}

static inline char *promscan_name(char *q, bool colon)
{
    while (promscan_name_byte((unsigned char)*q, colon))
        q++;
    return q;
}

static inline char *promscan_lvalue(char *q)
{
    while (*q != '"' && *q != '\\' && *q != '\0')
        q++;
    return q;
}
#endif

#endif
