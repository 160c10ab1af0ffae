/* The quote gatherers of promscan.h and their run-time choice. */
#include "pipeline/promscan.h"

#if defined(__SSE2__)
/* The offsets from q of the '"' in q[0..end) into qp, in order; returns
 * their number. *bad is set nonzero when a '\\' or a NUL is in there:
 * only whether, so the full blocks just accumulate them; the last block (1
 * to 16 bytes) is masked to the line. Reads up to 15 bytes past end. */
static size_t gather_sse2(const char *q, const char *end, uint32_t *qp,
                          unsigned *bad)
{
    const __m128i dq = _mm_set1_epi8('"'), bs = _mm_set1_epi8('\\');
    const __m128i zero = _mm_setzero_si128();
    const __m128i ones = _mm_set1_epi8((char)0xff);
    __m128i acc_bs = zero, acc_min = ones;
    size_t nq = 0;
    const char *b = q;
    for (; end - b > 16; b += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)b);
        acc_bs = _mm_or_si128(acc_bs, _mm_cmpeq_epi8(x, bs));
        acc_min = _mm_min_epu8(acc_min, x);
        unsigned mq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, dq));
        while (mq) {
            qp[nq++] = (uint32_t)(b - q) + (uint32_t)__builtin_ctz(mq);
            mq &= mq - 1;
        }
    }
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)b);
    unsigned keep = (1u << (end - b)) - 1;
    unsigned mq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x, dq)) & keep;
    *bad = ((unsigned)_mm_movemask_epi8(
                _mm_or_si128(_mm_cmpeq_epi8(x, bs), _mm_cmpeq_epi8(x, zero))) &
            keep) |
           (unsigned)_mm_movemask_epi8(
               _mm_or_si128(acc_bs, _mm_cmpeq_epi8(acc_min, zero)));
    while (mq) {
        qp[nq++] = (uint32_t)(b - q) + (uint32_t)__builtin_ctz(mq);
        mq &= mq - 1;
    }
    return nq;
}

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_GATHER_AVX2 1
#include <immintrin.h>

/* gather_sse2() 32 bytes at a time, for CPUs that have AVX2 (chosen
 * at run time): half the blocks on a Flink line of ~500 bytes. Reads up to
 * 31 bytes past end. */
__attribute__((target("avx2"))) static size_t
gather_avx2(const char *q, const char *end, uint32_t *qp, unsigned *bad)
{
    const __m256i dq = _mm256_set1_epi8('"'), bs = _mm256_set1_epi8('\\');
    const __m256i zero = _mm256_setzero_si256();
    const __m256i ones = _mm256_set1_epi8((char)0xff);
    __m256i acc_bs = zero, acc_min = ones;
    size_t nq = 0;
    const char *b = q;
    for (; end - b > 32; b += 32) {
        __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)b);
        acc_bs = _mm256_or_si256(acc_bs, _mm256_cmpeq_epi8(x, bs));
        acc_min = _mm256_min_epu8(acc_min, x);
        uint32_t mq = (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(x, dq));
        while (mq) {
            qp[nq++] = (uint32_t)(b - q) + (uint32_t)__builtin_ctz(mq);
            mq &= mq - 1;
        }
    }
    __m256i x = _mm256_loadu_si256((const __m256i *)(const void *)b);
    /* end - b is 0..32: shifted as 64 bits, 32 is a defined shift */
    uint32_t keep = (uint32_t)(UINT64_C(0xffffffff) >> (32 - (end - b)));
    uint32_t mq =
        (uint32_t)_mm256_movemask_epi8(_mm256_cmpeq_epi8(x, dq)) & keep;
    uint32_t last = (uint32_t)_mm256_movemask_epi8(_mm256_or_si256(
                        _mm256_cmpeq_epi8(x, bs), _mm256_cmpeq_epi8(x, zero))) &
                    keep;
    uint32_t acc = (uint32_t)_mm256_movemask_epi8(
        _mm256_or_si256(acc_bs, _mm256_cmpeq_epi8(acc_min, zero)));
    *bad = (last | acc) != 0;
    while (mq) {
        qp[nq++] = (uint32_t)(b - q) + (uint32_t)__builtin_ctz(mq);
        mq &= mq - 1;
    }
    return nq;
}
#endif
#endif

promscan_gather_fn promscan_gather_for(bool no_avx2)
{
#if defined(HAVE_GATHER_AVX2)
    if (!no_avx2 && __builtin_cpu_supports("avx2"))
        return gather_avx2;
    return gather_sse2;
#elif defined(__SSE2__)
    (void)no_avx2;
    return gather_sse2;
#else
    (void)no_avx2;
    return NULL;
#endif
}
