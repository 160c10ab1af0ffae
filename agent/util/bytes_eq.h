/*
 * bytes_eq: equality of short byte strings (label names and values)
 * without a call into memcmp, for the parse and trim hot paths.
 */
#ifndef AGENT_BYTES_EQ_H
#define AGENT_BYTES_EQ_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* a[0..n) == b[0..n) for label-sized strings without a call: overlapping
 * loads that stay inside both, 16 bytes at a time with SSE2. */
static inline bool bytes_eq(const char *a, const char *b, size_t n)
{
#if defined(__SSE2__)
    if (n > 16) {
        size_t i = 0;
        for (; i + 16 < n; i += 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(a + i));
            __m128i y = _mm_loadu_si128((const __m128i *)(const void *)(b + i));
            if (_mm_movemask_epi8(_mm_cmpeq_epi8(x, y)) != 0xffff)
                return false;
        }
        __m128i x =
            _mm_loadu_si128((const __m128i *)(const void *)(a + n - 16));
        __m128i y =
            _mm_loadu_si128((const __m128i *)(const void *)(b + n - 16));
        return _mm_movemask_epi8(_mm_cmpeq_epi8(x, y)) == 0xffff;
    }
#endif
    if (n >= 8 && n <= 16) {
        uint64_t x0, x1, y0, y1;
        memcpy(&x0, a, 8);
        memcpy(&y0, b, 8);
        memcpy(&x1, a + n - 8, 8);
        memcpy(&y1, b + n - 8, 8);
        return ((x0 ^ y0) | (x1 ^ y1)) == 0;
    }
    if (n >= 4 && n < 8) {
        uint32_t x0, x1, y0, y1;
        memcpy(&x0, a, 4);
        memcpy(&y0, b, 4);
        memcpy(&x1, a + n - 4, 4);
        memcpy(&y1, b + n - 4, 4);
        return ((x0 ^ y0) | (x1 ^ y1)) == 0;
    }
    return memcmp(a, b, n) == 0;
}

#endif
