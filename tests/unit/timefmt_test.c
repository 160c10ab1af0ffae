/*
 * timefmt_test: RFC 3339 / epoch parsing and formatting. Expected values
 * come from Python's calendar.timegm and, for the random round trips,
 * from glibc's gmtime_r, never from timefmt itself.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/lib/tap.h"
#include "util/timefmt.h"

struct good {
    const char *in;
    int64_t ms;
};

static const struct good goods[] = {
    {"2026-11-20T10:00:00Z", INT64_C(1795168800000)},
    {"2026-11-20t10:00:00z", INT64_C(1795168800000)},
    {"2026-11-20T10:00:00+00:00", INT64_C(1795168800000)},
    {"2026-11-20T10:00:00-00:00", INT64_C(1795168800000)},
    {"2026-11-20T12:00:00+02:00", INT64_C(1795168800000)},
    {"1970-01-01T00:00:00Z", 0},
    {"1969-12-31T23:59:59.999Z", -1},
    {"2024-02-29T00:00:00Z", INT64_C(1709164800000)},
    /* offsets that cross midnight, a month and a leap day */
    {"2024-03-01T01:30:00+02:00", INT64_C(1709249400000)},
    {"2024-02-29T23:30:00-05:30", INT64_C(1709269200000)},
    {"2025-01-01T00:00:00-23:59", INT64_C(1735775940000)},
    {"2027-01-01T01:59:59+02:00", INT64_C(1798761599000)},
    {"2000-02-29T12:00:00Z", INT64_C(951825600000)},
    {"1900-03-01T00:00:00Z", INT64_C(-2203891200000)},
    {"0001-01-01T00:00:00Z", INT64_C(-62135596800000)},
    {"0000-01-01T00:00:00Z", INT64_C(-62167219200000)},
    {"9999-12-31T23:59:59.999Z", INT64_C(253402300799999)},
    /* fractions truncate, any length */
    {"1970-01-01T00:00:00.5Z", 500},
    {"1970-01-01T00:00:00.05Z", 50},
    {"1970-01-01T00:00:00.123456789Z", 123},
    {"1970-01-01T00:00:00.9999999999999999999999999Z", 999},
    {"1969-12-31T23:59:59.9999Z", -1},
    {"1970-01-01T00:00:00.000+01:00", -3600000},
    /* epoch seconds */
    {"0", 0},
    {"1763632800", INT64_C(1763632800000)},
    {"1763632800.250", INT64_C(1763632800250)},
    {"1763632800.2", INT64_C(1763632800200)},
    {"1763632800.99999", INT64_C(1763632800999)},
    {"01763632800", INT64_C(1763632800000)},
    {"2026", 2026000},
    {"999999999999", INT64_C(999999999999000)},
    {"999999999999.999", INT64_C(999999999999999)},
};

TAP_CASE(parses_valid)
{
    for (size_t i = 0; i < TAP_N(goods); i++) {
        int64_t ms = 42;
        const char *why = NULL;
        int rc = timefmt_parse_time(goods[i].in, &ms, &why);
        if (rc != 0)
            printf("# %s: %s\n", goods[i].in, why);
        TAP_EQ_INT(0, rc);
        TAP_EQ_INT(goods[i].ms, ms);
    }
}

struct bad {
    const char *in;
    const char *why;
};

static const struct bad bads[] = {
    {"", "empty time"},
    {" 1763632800", "want RFC 3339 date-time or epoch seconds"},
    {"+1763632800", "want RFC 3339 date-time or epoch seconds"},
    {"-1", "want RFC 3339 date-time or epoch seconds"},
    {".5", "want RFC 3339 date-time or epoch seconds"},
    {"now", "want RFC 3339 date-time or epoch seconds"},
    {"1e9", "unexpected character in epoch seconds"},
    {"1763632800 ", "unexpected character in epoch seconds"},
    {"1763632800.5.5", "unexpected character in epoch seconds"},
    {"1763632800.", "no digits after '.'"},
    {"1763632800.x", "no digits after '.'"},
    {"1000000000000", "too many digits in epoch seconds"},
    {"99999999999999999999999", "too many digits in epoch seconds"},
    {"0001763632800", "too many digits in epoch seconds"},
    {"2026-1-20T10:00:00Z", "bad date, want YYYY-MM-DD"},
    {"2026-11-2T10:00:00Z", "bad date, want YYYY-MM-DD"},
    {"2026-11", "bad date, want YYYY-MM-DD"},
    {"2026-", "bad date, want YYYY-MM-DD"},
    {"2026/11/20T10:00:00Z", "unexpected character in epoch seconds"},
    {"2026-00-20T10:00:00Z", "month out of range"},
    {"2026-13-20T10:00:00Z", "month out of range"},
    {"2026-11-00T10:00:00Z", "day out of range"},
    {"2026-11-31T10:00:00Z", "day out of range"},
    {"2023-02-29T10:00:00Z", "day out of range"},
    {"1900-02-29T10:00:00Z", "day out of range"},
    {"2024-02-30T10:00:00Z", "day out of range"},
    {"2026-11-20 10:00:00Z", "expected 'T' between date and time"},
    {"2026-11-20", "expected 'T' between date and time"},
    {"2026-11-20T10:00Z", "bad time, want HH:MM:SS"},
    {"2026-11-20T1:00:00Z", "bad time, want HH:MM:SS"},
    {"2026-11-20T", "bad time, want HH:MM:SS"},
    {"2026-11-20T24:00:00Z", "hour out of range"},
    {"2026-11-20T10:60:00Z", "minute out of range"},
    {"2016-12-31T23:59:60Z", "leap second not supported"},
    {"2026-11-20T10:00:61Z", "second out of range"},
    {"2026-11-20T10:00:00.Z", "no digits after '.'"},
    {"2026-11-20T10:00:00", "missing time zone offset, want Z or +HH:MM"},
    {"2026-11-20T10:00:00.5", "missing time zone offset, want Z or +HH:MM"},
    {"2026-11-20T10:00:00 Z", "bad time zone offset, want Z or +HH:MM"},
    {"2026-11-20T10:00:00UTC", "bad time zone offset, want Z or +HH:MM"},
    {"2026-11-20T10:00:00+0200", "bad time zone offset, want Z or +HH:MM"},
    {"2026-11-20T10:00:00+2:00", "bad time zone offset, want Z or +HH:MM"},
    {"2026-11-20T10:00:00+02", "bad time zone offset, want Z or +HH:MM"},
    {"2026-11-20T10:00:00+24:00", "time zone offset out of range"},
    {"2026-11-20T10:00:00+02:60", "time zone offset out of range"},
    {"2026-11-20T10:00:00ZZ", "trailing characters after time zone offset"},
    {"2026-11-20T10:00:00+02:00x",
     "trailing characters after time zone offset"},
};

TAP_CASE(rejects_invalid)
{
    for (size_t i = 0; i < TAP_N(bads); i++) {
        int64_t ms = 42;
        const char *why = NULL;
        int rc = timefmt_parse_time(bads[i].in, &ms, &why);
        if (rc == 0)
            printf("# accepted '%s'\n", bads[i].in);
        TAP_EQ_INT(-1, rc);
        TAP_EQ_STR(bads[i].why, why);
        TAP_EQ_INT(42, ms);
    }
}

TAP_CASE(rejects_null)
{
    int64_t ms;
    const char *why = NULL;
    TAP_EQ_INT(-1, timefmt_parse_time(NULL, &ms, &why));
    TAP_EQ_STR("empty time", why);
}

struct fmt {
    int64_t ms;
    const char *out;
};

static const struct fmt fmts[] = {
    {0, "1970-01-01T00:00:00.000Z"},
    {-1, "1969-12-31T23:59:59.999Z"},
    {-1000, "1969-12-31T23:59:59.000Z"},
    {-86400000, "1969-12-31T00:00:00.000Z"},
    {-86400001, "1969-12-30T23:59:59.999Z"},
    {INT64_C(1795168800000), "2026-11-20T10:00:00.000Z"},
    {INT64_C(1763632800250), "2025-11-20T10:00:00.250Z"},
    {INT64_C(1709164800000), "2024-02-29T00:00:00.000Z"},
    {INT64_C(-2203891200000), "1900-03-01T00:00:00.000Z"},
    {INT64_C(-62167219200000), "0000-01-01T00:00:00.000Z"},
    {INT64_C(-62167219200001), "-00001-12-31T23:59:59.999Z"},
    {INT64_C(253402300799999), "9999-12-31T23:59:59.999Z"},
    {INT64_C(253402300800000), "+10000-01-01T00:00:00.000Z"},
};

TAP_CASE(formats_known)
{
    char out[TIMEFMT_RFC3339_LEN];
    for (size_t i = 0; i < TAP_N(fmts); i++) {
        timefmt_rfc3339_ms(fmts[i].ms, out, sizeof(out));
        TAP_EQ_STR(fmts[i].out, out);
    }
}

TAP_CASE(formats_extremes_fit)
{
    char out[TIMEFMT_RFC3339_LEN];
    int64_t v[] = {INT64_MIN, INT64_MAX, INT64_MIN + 1, INT64_MAX - 1};
    for (size_t i = 0; i < TAP_N(v); i++) {
        memset(out, 'x', sizeof(out));
        timefmt_rfc3339_ms(v[i], out, sizeof(out));
        size_t len = strnlen(out, sizeof(out));
        TAP_OK(len < sizeof(out));
        TAP_EQ_INT('Z', out[len - 1]);
    }
    /* Truncates instead of overflowing a short buffer. */
    char small[8];
    timefmt_rfc3339_ms(0, small, sizeof(small));
    TAP_EQ_STR("1970-01", small);
}

/* The reference rendering, via glibc's gmtime_r (always UTC, TZ-free). */
static void ref_format(int64_t ms, char *out, size_t n)
{
    int64_t s = ms / 1000, frac = ms % 1000;
    if (frac < 0) {
        frac += 1000;
        s--;
    }
    time_t t = (time_t)s;
    struct tm tm;
    if (!gmtime_r(&t, &tm)) {
        snprintf(out, n, "gmtime_r failed");
        return;
    }
    snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
             tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)frac);
}

/* xorshift64*: fixed seed, so a failure reproduces. */
static uint64_t next_rand(uint64_t *st)
{
    *st ^= *st >> 12;
    *st ^= *st << 25;
    *st ^= *st >> 27;
    return *st * UINT64_C(2685821657736338717);
}

TAP_CASE(round_trips_1900_2400)
{
    const int64_t lo = INT64_C(-2208988800000); /* 1900-01-01 */
    const int64_t hi = INT64_C(13569465600000); /* 2400-01-01 */
    uint64_t st = UINT64_C(0x9e3779b97f4a7c15);
    char out[TIMEFMT_RFC3339_LEN], ref[64];
    for (int i = 0; i < 200000; i++) {
        int64_t ms = lo + (int64_t)(next_rand(&st) % (uint64_t)(hi - lo));
        if (i < 4) /* the edges too */
            ms = (int64_t[]){lo, hi, -1, 0}[i];
        timefmt_rfc3339_ms(ms, out, sizeof(out));
        ref_format(ms, ref, sizeof(ref));
        TAP_EQ_STR(ref, out);
        int64_t back = 0;
        const char *why = NULL;
        TAP_EQ_INT(0, timefmt_parse_time(out, &back, &why));
        TAP_EQ_INT(ms, back);
    }
}

TAP_CASE(round_trips_negative)
{
    uint64_t st = UINT64_C(12345);
    char out[TIMEFMT_RFC3339_LEN], ref[64];
    const int64_t lo = INT64_C(-62167219200000); /* 0000-01-01 */
    for (int i = 0; i < 50000; i++) {
        int64_t ms = -(int64_t)(next_rand(&st) % (uint64_t)(-lo + 1));
        timefmt_rfc3339_ms(ms, out, sizeof(out));
        ref_format(ms, ref, sizeof(ref));
        TAP_EQ_STR(ref, out);
        int64_t back = 0;
        const char *why = NULL;
        TAP_EQ_INT(0, timefmt_parse_time(out, &back, &why));
        TAP_EQ_INT(ms, back);
    }
}

static int month_len(int64_t y, int m)
{
    if (m == 2)
        return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 ? 29 : 28;
    return m == 4 || m == 6 || m == 9 || m == 11 ? 30 : 31;
}

TAP_CASE(civil_days_inverse)
{
    /* Every 97th day over +-400000 years round trips, and each of the
     * days over +-2190 years follows the one before it. */
    int64_t py = 0;
    int pm = 0, pd = 0;
    for (int64_t d = -146097 * 1000; d <= 146097 * 1000; d += 97) {
        int64_t y;
        int m, dd;
        timefmt_civil_from_days(d, &y, &m, &dd);
        TAP_OK(m >= 1 && m <= 12 && dd >= 1 && dd <= 31);
        TAP_EQ_INT(d, timefmt_days_from_civil(y, m, dd));
    }
    for (int64_t d = -800000; d <= 800000; d++) {
        int64_t y;
        int m, dd;
        timefmt_civil_from_days(d, &y, &m, &dd);
        if (d > -800000) {
            bool next_day = y == py && m == pm && dd == pd + 1;
            bool next_month =
                y == py && m == pm + 1 && dd == 1 && pd == month_len(py, pm);
            bool next_year =
                y == py + 1 && m == 1 && dd == 1 && pm == 12 && pd == 31;
            TAP_OK(next_day || next_month || next_year);
        }
        py = y;
        pm = m;
        pd = dd;
    }
}

static const struct tap_case cases[] = {
    TAP_ENTRY(parses_valid),         TAP_ENTRY(rejects_invalid),
    TAP_ENTRY(rejects_null),         TAP_ENTRY(formats_known),
    TAP_ENTRY(formats_extremes_fit), TAP_ENTRY(round_trips_1900_2400),
    TAP_ENTRY(round_trips_negative), TAP_ENTRY(civil_days_inverse),
};

int main(int argc, char **argv)
{
    return tap_main(cases, TAP_N(cases), argc, argv);
}
