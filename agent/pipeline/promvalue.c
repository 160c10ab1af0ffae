/* The value and timestamp parsers of promvalue.h. */
#include "pipeline/promvalue.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

static const double pow10_exact[] = {
    1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
    1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

static bool eq_nocase(const char *s, size_t n, const char *lit)
{
    size_t i = 0;
    for (; i < n && lit[i]; i++) {
        char c = s[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lit[i])
            return false;
    }
    return i == n && lit[i] == '\0';
}

/* Skips an optional sign at q, setting *neg; NULL when nothing follows. */
static const char *take_sign(const char *q, const char *end, bool *neg)
{
    *neg = false;
    if (q < end && (*q == '+' || *q == '-')) {
        *neg = *q == '-';
        q++;
    }
    return q == end ? NULL : q;
}

/* The common case, a mantissa up to 2^53 (about 16 significant digits) and
 * a power of ten up to 1e22, is computed as one correctly rounded multiply
 * or divide of two exactly representable doubles (Clinger's fast path),
 * which equals strtod's result; everything else goes to strtod_l. */
int promvalue_parse(const char *s, size_t n, locale_t c_locale, double *out)
{
    const char *end = s + n;
    bool neg;
    const char *q = take_sign(s, end, &neg);
    if (!q)
        return -1;
    if (!(*q >= '0' && *q <= '9') && *q != '.') {
        if (eq_nocase(q, (size_t)(end - q), "inf") ||
            eq_nocase(q, (size_t)(end - q), "infinity")) {
            *out = neg ? -HUGE_VAL : HUGE_VAL;
            return 0;
        }
        if (q == s && eq_nocase(q, n, "nan")) {
            *out = NAN;
            return 0;
        }
        return -1;
    }

    uint64_t m = 0;
    int exp10 = 0, ndigits = 0;
    bool exact = true;
    for (; q < end && *q >= '0' && *q <= '9'; q++, ndigits++) {
        if (m < UINT64_C(100000000000000000))
            m = m * 10 + (uint64_t)(*q - '0');
        else
            exact = false;
    }
    if (q < end && *q == '.') {
        for (q++; q < end && *q >= '0' && *q <= '9'; q++, ndigits++) {
            if (m < UINT64_C(100000000000000000)) {
                m = m * 10 + (uint64_t)(*q - '0');
                exp10--;
            } else {
                exact = false;
            }
        }
    }
    if (ndigits == 0)
        return -1;
    if (q < end && (*q == 'e' || *q == 'E')) {
        q++;
        bool eneg = false;
        if (q < end && (*q == '+' || *q == '-')) {
            eneg = *q == '-';
            q++;
        }
        if (q == end || !(*q >= '0' && *q <= '9'))
            return -1;
        int e = 0;
        for (; q < end && *q >= '0' && *q <= '9'; q++)
            if (e < 100000)
                e = e * 10 + (*q - '0');
        exp10 += eneg ? -e : e;
    }
    if (q != end)
        return -1;

    if (exact && m <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
        double d = (double)m;
        if (exp10 < 0)
            d /= pow10_exact[-exp10];
        else
            d *= pow10_exact[exp10];
        *out = neg ? -d : d;
        return 0;
    }

    char *ep;
    errno = 0;
    double d = strtod_l(s, &ep, c_locale);
    if (ep != end)
        return -1;
    if (errno == ERANGE && isinf(d))
        return -1;
    *out = d;
    return 0;
}

int promvalue_parse_ts(const char *s, size_t n, int64_t *out)
{
    const char *end = s + n;
    bool neg;
    const char *q = take_sign(s, end, &neg);
    if (!q)
        return -1;
    uint64_t v = 0;
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; q < end; q++) {
        if (!(*q >= '0' && *q <= '9'))
            return -1;
        unsigned d = (unsigned)(*q - '0');
        if (v > (lim - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}
