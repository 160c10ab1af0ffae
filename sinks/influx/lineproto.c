#include "influx/lineproto.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Escaping, as influxd 1.6.7 parses it (measured):
 *  - the scanner treats any byte preceded by a backslash as escaped, and
 *    unescapes only "\c" for c in a per-context set; "\\" stays two bytes.
 *    So a backslash is written as is, every c of the set gets a backslash,
 *    and a name ending in a backslash cannot be written at all (the
 *    terminator after it would read as escaped).
 *  - measurement: influxd unescapes "\,", "\ ", "\=" and "\"", so all four
 *    are escaped; a backslash right before one of them is not stored
 *    consistently by influxd (see bs_before_special()): skipped.
 *  - tag keys and values: "\,", "\ ", "\=" ('"' is literal).
 *  - field keys: "\,", "\ ", "\=", "\""; a backslash before one of them
 *    cannot be written (bs_before_special()): the field is dropped.
 *  - string field values: '"' and '\' escaped; newlines are allowed.
 *  - a line starting with '#' is a comment; leading tabs are skipped.
 */
enum esc_ctx {
    ESC_MEAS = 1 << 0,
    ESC_TAG = 1 << 1,
    ESC_FKEY = 1 << 2,
    ESC_STR = 1 << 3,
};

static const unsigned char esc_tab[256] = {
    [','] = ESC_MEAS | ESC_TAG | ESC_FKEY,
    [' '] = ESC_MEAS | ESC_TAG | ESC_FKEY,
    ['='] = ESC_MEAS | ESC_TAG | ESC_FKEY,
    ['"'] = ESC_MEAS | ESC_FKEY | ESC_STR,
    ['\\'] = ESC_STR,
    /* not escapable: put_esc() stops there and the caller skips */
    ['\n'] = ESC_MEAS | ESC_TAG | ESC_FKEY,
};

/* Exact powers of ten (all representable up to 1e22). */
static const double pow10_tab[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

#define TWO_POW_53 9007199254740992.0

static const char digits2[] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536"
    "37383940414243444546474849505152535455565758596061626364656667686970717273"
    "7475767778798081828384858687888990919293949596979899";

/* Number of decimal digits of u. */
static inline unsigned digits_of(uint64_t u)
{
    unsigned n = 1;
    while (u >= 10000) {
        u /= 10000;
        n += 4;
    }
    return n + (u >= 10) + (u >= 100) + (u >= 1000);
}

/* Writes u in decimal at p, two digits per step from the end; returns the
 * end. */
static char *put_u64(char *p, uint64_t u)
{
    unsigned n = digits_of(u);
    char *e = p + n;
    char *q = e;
    while (u >= 100) {
        unsigned r = (unsigned)(u % 100);
        u /= 100;
        q -= 2;
        memcpy(q, digits2 + 2 * r, 2);
    }
    if (u >= 10) {
        q -= 2;
        memcpy(q, digits2 + 2 * u, 2);
    } else {
        *--q = (char)('0' + u);
    }
    return e;
}

static char *put_i64(char *p, int64_t v)
{
    if (v < 0) {
        *p++ = '-';
        return put_u64(p, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(p, (uint64_t)v);
}

size_t lineproto_format_float(char *p, double v)
{
    char *s = p;
    if (signbit(v)) {
        *p++ = '-';
        v = -v;
    }
    /* Fast path: v = m / 10^k with m < 2^53. m and 10^k are exact doubles,
     * so IEEE division rounds the real m / 10^k exactly as a correct
     * decimal parser rounds "m e-k": equality proves the round trip. */
    if (v < TWO_POW_53) {
        for (unsigned k = 0; k < 18; k++) {
            double scaled = v * pow10_tab[k];
            if (scaled >= TWO_POW_53)
                break;
            double m = nearbyint(scaled);
            if (m / pow10_tab[k] != v)
                continue;
            char tmp[24];
            char *e = put_u64(tmp, (uint64_t)m);
            size_t n = (size_t)(e - tmp);
            if (k == 0) {
                memcpy(p, tmp, n);
                p += n;
            } else if (n > k) {
                memcpy(p, tmp, n - k);
                p += n - k;
                *p++ = '.';
                memcpy(p, tmp + n - k, k);
                p += k;
            } else {
                *p++ = '0';
                *p++ = '.';
                memset(p, '0', k - n);
                p += k - n;
                memcpy(p, tmp, n);
                p += n;
            }
            *p = '\0';
            return (size_t)(p - s);
        }
    }
    /* Rare path (very large, very small or many digits): the shortest of
     * %.15g..%.17g that reads back the same; %.17g always does. */
    for (int prec = 15; prec <= 17; prec++) {
        int n = snprintf(p, 28, "%.*g", prec, v);
        if (n < 0 || n >= 28)
            break;
        if (prec == 17 || strtod(p, NULL) == v)
            return (size_t)(p + n - s);
    }
    /* Not reached for finite v; keep the output well-formed regardless. */
    memcpy(p, "0", 2);
    return (size_t)(p + 1 - s);
}

#define ONES  0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL

/* Nonzero when some byte of w may equal the byte in pat (pat = c * ONES).
 * Borrows can flag a byte after a real match, never without one: a hit is
 * confirmed byte by byte. */
static inline uint64_t swar_eq(uint64_t w, uint64_t pat)
{
    uint64_t x = w ^ pat;
    return (x - ONES) & ~x & HIGHS;
}

/* Length of the prefix of s that needs no escape in ctx. Names are mostly
 * plain: scanning 8 bytes per step and copying runs with memcpy is several
 * times faster than a byte loop. */
static inline uint64_t swar_special(uint64_t w, unsigned ctx)
{
    if (ctx == ESC_STR)
        return swar_eq(w, '"' * ONES) | swar_eq(w, '\\' * ONES);
    uint64_t m = swar_eq(w, ',' * ONES) | swar_eq(w, ' ' * ONES) |
                 swar_eq(w, '=' * ONES) | swar_eq(w, '\n' * ONES);
    if (ctx != ESC_TAG)
        m |= swar_eq(w, '"' * ONES);
    return m;
}

/* Length of the prefix of s holding no byte flagged in ctx. Names are
 * mostly plain: testing 8 bytes per step (the tail zero-padded, and NUL is
 * never flagged) and copying runs with memcpy beats a byte loop severalfold.
 * swar_eq() is exact about whether a word holds a match, not where. */
static inline size_t plain_span(const char *s, size_t n, unsigned ctx)
{
    for (size_t i = 0; i < n; i += 8) {
        uint64_t w = 0;
        size_t k = 8;
        if (n - i >= 8) {
            memcpy(&w, s + i, 8);
        } else {
            k = n - i;
            for (size_t j = 0; j < k; j++)
                w |= (uint64_t)(unsigned char)s[i + j] << (8 * j);
        }
        if (!swar_special(w, ctx))
            continue;
        for (size_t j = i; j < i + k; j++)
            if (esc_tab[(unsigned char)s[j]] & ctx)
                return j;
    }
    return n;
}

#if defined(__SSE2__)
#include <emmintrin.h>

/* Bytes of x that need an escape in ctx (or end a name: '\n'). */
static inline __attribute__((always_inline)) int special16(__m128i x,
                                                           unsigned ctx)
{
    __m128i m;
    if (ctx == ESC_STR) {
        m = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
                         _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')));
    } else {
        m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(',')),
                                      _mm_cmpeq_epi8(x, _mm_set1_epi8(' '))),
                         _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('=')),
                                      _mm_cmpeq_epi8(x, _mm_set1_epi8('\n'))));
        if (ctx != ESC_TAG)
            m = _mm_or_si128(m, _mm_cmpeq_epi8(x, _mm_set1_epi8('"')));
    }
    return _mm_movemask_epi8(m);
}

/* The common case of put_esc(): nothing to escape. Tests and copies 16
 * bytes per step, the tail with overlapping loads that stay inside s, so a
 * short name costs a few instructions. Returns false, with p[0..n) written
 * or not, when some byte needs the general path. */
static inline __attribute__((always_inline)) bool
copy_plain(char *p, const char *s, size_t n, unsigned ctx)
{
    if (n >= 16) {
        size_t i = 0;
        for (; i + 16 <= n; i += 16) {
            __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
            if (special16(x, ctx))
                return false;
            _mm_storeu_si128((__m128i *)(void *)(p + i), x);
        }
        if (i < n) {
            __m128i x =
                _mm_loadu_si128((const __m128i *)(const void *)(s + n - 16));
            if (special16(x, ctx))
                return false;
            _mm_storeu_si128((__m128i *)(void *)(p + n - 16), x);
        }
        return true;
    }
    if (n >= 8) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        if (special16(_mm_set_epi64x((long long)b, (long long)a), ctx))
            return false;
        memcpy(p, &a, 8);
        memcpy(p + n - 8, &b, 8);
        return true;
    }
    if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        /* the zero lanes are NUL, which no context flags */
        if (special16(_mm_set_epi32(0, 0, (int)b, (int)a), ctx))
            return false;
        memcpy(p, &a, 4);
        memcpy(p + n - 4, &b, 4);
        return true;
    }
    for (size_t i = 0; i < n; i++) {
        if (esc_tab[(unsigned char)s[i]] & ctx)
            return false;
        p[i] = s[i];
    }
    return true;
}
#endif

/* put_esc() past its common case. */
static __attribute__((noinline)) char *put_esc_slow(char *p, const char *s,
                                                    size_t n, unsigned ctx)
{
    for (;;) {
        size_t k = plain_span(s, n, ctx);
        memcpy(p, s, k);
        p += k;
        if (k == n)
            return p;
        if (s[k] == '\n')
            return NULL;
        *p++ = '\\';
        *p++ = s[k];
        s += k + 1;
        n -= k + 1;
    }
}

/* Copies s escaped for ctx; returns the end, or NULL at a newline in a
 * name (influxd cannot store one there). */
static inline __attribute__((always_inline)) char *
put_esc(char *p, const char *s, size_t n, unsigned ctx)
{
#if defined(__SSE2__)
    if (copy_plain(p, s, n, ctx))
        return p + n;
#endif
    return put_esc_slow(p, s, n, ctx);
}

/* A name influxd can take: no newline, no trailing backslash. */
static bool name_ok(const char *s, size_t n)
{
    return n > 0 && s[n - 1] != '\\' && !memchr(s, '\n', n);
}

/* A backslash right before a byte escaped in ctx: influxd 1.6.7 stores
 * such a measurement (wire a\\,b) under a series key no query finds, and
 * its field-key scanner takes a backslash pair as one unit, so the byte
 * after it ends the key and the line fails to parse (measured). Neither
 * can be written. */
static bool bs_before_special(const char *s, size_t n, unsigned ctx)
{
    for (const char *p = memchr(s, '\\', n); p;
         p = memchr(p + 1, '\\', n - (size_t)(p + 1 - s))) {
        if ((size_t)(p + 1 - s) < n && (esc_tab[(unsigned char)p[1]] & ctx))
            return true;
    }
    return false;
}

static bool tag_dropped(const struct label *t)
{
    return t->name_len == 0 || t->value_len == 0;
}

static bool is_time(const char *s, size_t n)
{
    return n == 4 && memcmp(s, "time", 4) == 0;
}

/* Returns true when the field is written; counts the reason otherwise. */
static bool field_ok(const struct field *f, size_t klen,
                     struct lineproto_stats *st)
{
    if (f->kind == FIELD_FLOAT && !isfinite(f->f)) {
        st->fields_nonfinite++;
        return false;
    }
    if (!name_ok(f->key, klen) || is_time(f->key, klen) ||
        bs_before_special(f->key, klen, ESC_FKEY) ||
        (f->kind == FIELD_STRING && !f->s) || f->kind > FIELD_STRING) {
        st->fields_invalid++;
        return false;
    }
    return true;
}

/* Checks the tags; returns 0, or 1 with the skip counted. Adds the
 * written tags' raw length (before escaping) to *raw and their worst-case
 * escaped length to *bound, and counts the empty ones in *empty. */
static int check_tags(const struct point *p, struct lineproto_stats *st,
                      size_t *raw, size_t *bound, uint64_t *empty)
{
    bool sorted = true;
    const struct label *prev = NULL;
    size_t bytes = 0, nt = 0;
    for (size_t i = 0; i < p->ntags; i++) {
        const struct label *t = &p->tags[i];
        if (tag_dropped(t)) {
            (*empty)++;
            continue;
        }
        if (t->name[t->name_len - 1] == '\\' ||
            t->value[t->value_len - 1] == '\\' ||
            is_time(t->name, t->name_len)) {
            st->skipped_invalid++;
            return 1;
        }
        bytes += (size_t)t->name_len + t->value_len;
        nt++;
        if (prev && sorted) {
            size_t n =
                prev->name_len < t->name_len ? prev->name_len : t->name_len;
            /* tag keys mostly differ in their first byte */
            int c = (unsigned char)prev->name[0] - (unsigned char)t->name[0];
            if (c == 0)
                c = memcmp(prev->name, t->name, n);
            if (c > 0 || (c == 0 && prev->name_len >= t->name_len))
                sorted = false;
        }
        prev = t;
    }
    *raw += bytes + 2 * nt;
    *bound += 2 * bytes + 2 * nt;
    if (sorted)
        return 0;
    /* Unsorted: influxd rejects a line with a repeated tag key, so look
     * for one the quadratic way (tag sets are small, and rare unsorted). */
    for (size_t i = 0; i < p->ntags; i++) {
        const struct label *a = &p->tags[i];
        if (tag_dropped(a))
            continue;
        for (size_t j = i + 1; j < p->ntags; j++) {
            const struct label *b = &p->tags[j];
            if (!tag_dropped(b) && a->name_len == b->name_len &&
                memcmp(a->name, b->name, a->name_len) == 0) {
                st->skipped_invalid++;
                return 1;
            }
        }
    }
    return 0;
}

int lineproto_encode(struct buf *out, const struct point *p,
                     struct lineproto_stats *st)
{
    return lineproto_encode_max(out, p, st, LINEPROTO_MAX_LINE);
}

/* Fields whose checks are remembered between the sizing and the writing
 * pass; later ones are checked again. */
#define FIELDS_KEPT 8

int lineproto_encode_max(struct buf *out, const struct point *p,
                         struct lineproto_stats *st, size_t max_line)
{
    struct lineproto_stats dummy;
    if (!st) {
        memset(&dummy, 0, sizeof(dummy));
        st = &dummy;
    }
    size_t mlen = p->measurement ? strlen(p->measurement) : 0;
    if (mlen == 0 || p->measurement[0] == '#' || p->measurement[0] == '\t' ||
        p->measurement[mlen - 1] == '\\') {
        st->skipped_invalid++;
        return 1;
    }
    if (bs_before_special(p->measurement, mlen, ESC_MEAS)) {
        st->skipped_invalid++;
        return 1;
    }

    /* raw: the line's length before escaping, a lower bound for the cap
     * check; bound: escaping at most doubles names, plus fixed overhead. */
    size_t raw = mlen + 24;
    size_t bound = 2 * mlen + 24;
    uint64_t empty = 0;
    if (check_tags(p, st, &raw, &bound, &empty))
        return 1;
    st->tags_empty += empty;
    size_t nfields = 0;
    size_t klens[FIELDS_KEPT];
    bool oks[FIELDS_KEPT];
    for (size_t i = 0; i < p->nfields; i++) {
        const struct field *f = &p->fields[i];
        size_t klen = f->key ? strlen(f->key) : 0;
        bool ok = field_ok(f, klen, st);
        if (i < FIELDS_KEPT) {
            klens[i] = klen;
            oks[i] = ok;
        }
        if (!ok)
            continue;
        nfields++;
        size_t vlen = f->kind == FIELD_STRING ? strlen(f->s) : 0;
        raw += klen + vlen + 4;
        bound += 2 * (klen + vlen) + 2 + 32;
        if (raw > max_line)
            break;
    }
    if (nfields == 0) {
        st->skipped_no_fields++;
        return 1;
    }
    if (raw > max_line) {
        st->skipped_too_long++;
        return 1;
    }

    size_t start = out->len;
    if (buf_reserve(out, bound) < 0)
        return -1;
    char *w = out->data + start;
    w = put_esc(w, p->measurement, mlen, ESC_MEAS);
    for (size_t i = 0; w && i < p->ntags; i++) {
        const struct label *t = &p->tags[i];
        if (tag_dropped(t))
            continue;
        *w++ = ',';
        w = put_esc(w, t->name, t->name_len, ESC_TAG);
        if (!w)
            break;
        *w++ = '=';
        w = put_esc(w, t->value, t->value_len, ESC_TAG);
    }
    if (!w) {
        out->data[start] = '\0';
        st->skipped_newline++;
        return 1;
    }
    char sep = ' ';
    struct lineproto_stats scratch = {0}; /* drops counted above */
    for (size_t i = 0; i < p->nfields; i++) {
        const struct field *f = &p->fields[i];
        size_t klen;
        if (i < FIELDS_KEPT) {
            klen = klens[i];
            if (!oks[i])
                continue;
        } else {
            klen = f->key ? strlen(f->key) : 0;
            if (!field_ok(f, klen, &scratch))
                continue;
        }
        *w++ = sep;
        sep = ',';
        /* field_ok() ruled out a newline in the key */
        w = put_esc(w, f->key, klen, ESC_FKEY);
        *w++ = '=';
        switch (f->kind) {
        case FIELD_FLOAT:
            w += lineproto_format_float(w, f->f);
            break;
        case FIELD_INT:
            w = put_i64(w, f->i);
            *w++ = 'i';
            break;
        case FIELD_BOOL:
            if (f->b) {
                memcpy(w, "true", 4);
                w += 4;
            } else {
                memcpy(w, "false", 5);
                w += 5;
            }
            break;
        case FIELD_STRING:
            *w++ = '"';
            w = put_esc(w, f->s, strlen(f->s), ESC_STR);
            *w++ = '"';
            break;
        }
    }
    *w++ = ' ';
    w = put_i64(w, p->ts_ms);
    *w++ = '\n';
    size_t n = (size_t)(w - (out->data + start));
    if (n > max_line) {
        out->data[start] = '\0';
        st->skipped_too_long++;
        return 1;
    }
    out->len = start + n;
    out->data[out->len] = '\0';
    st->points++;
    return 0;
}

uint64_t lineproto_stats_skipped(const struct lineproto_stats *st)
{
    return st->skipped_no_fields + st->skipped_newline + st->skipped_invalid +
           st->skipped_too_long;
}
