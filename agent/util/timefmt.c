/*
 * timefmt: locale- and TZ-independent RFC 3339 / epoch parsing and
 * formatting (see timefmt.h).
 */
#include "util/timefmt.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>

#define MS_PER_DAY INT64_C(86400000)
/* 400 Gregorian years repeat exactly; 1970-01-01 is day 719468 counted from
 * 0000-03-01, the start of the era in which years begin in March (so the
 * leap day is the last day of a year and needs no special case). */
#define DAYS_PER_ERA 146097
#define EPOCH_SHIFT  719468

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0)))
        q--;
    return q;
}

int64_t timefmt_days_from_civil(int64_t y, int m, int d)
{
    if (m <= 2)
        y--;
    int64_t era = floor_div(y, 400);
    int64_t yoe = y - era * 400;              /* 0..399 */
    int64_t mp = (m + 9) % 12;                /* March = 0 */
    int64_t doy = (153 * mp + 2) / 5 + d - 1; /* 0..365 */
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * DAYS_PER_ERA + doe - EPOCH_SHIFT;
}

void timefmt_civil_from_days(int64_t days, int64_t *y, int *m, int *d)
{
    int64_t z = days + EPOCH_SHIFT;
    int64_t era = floor_div(z, DAYS_PER_ERA);
    int64_t doe = z - era * DAYS_PER_ERA; /* 0..146096 */
    /* The three corrections undo the leap days before doe within the era. */
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *d = (int)(doy - (153 * mp + 2) / 5 + 1);
    *m = (int)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in_month(int y, int m)
{
    static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && is_leap(y))
        return 29;
    return dim[m - 1];
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads exactly n digits at *p. */
static bool take_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (!is_digit((*p)[i]))
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool take_char(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

/* Reads ".ddd..." if present: at least one digit, any number of them, the
 * first three kept as milliseconds (truncated, never rounded, so a time is
 * never moved into the future). */
static int take_fraction(const char **p, int *msec, const char **why)
{
    *msec = 0;
    if (!take_char(p, '.'))
        return 0;
    if (!is_digit(**p)) {
        *why = "no digits after '.'";
        return -1;
    }
    int scale = 100;
    while (is_digit(**p)) {
        *msec += (**p - '0') * scale;
        scale /= 10;
        (*p)++;
    }
    return 0;
}

static int parse_rfc3339(const char *s, int64_t *ms, const char **why)
{
    const char *p = s;
    int year, mon, day, hour, min, sec, msec;
    int off_sign = 0, off_h = 0, off_m = 0;

    if (!take_digits(&p, 4, &year) || !take_char(&p, '-') ||
        !take_digits(&p, 2, &mon) || !take_char(&p, '-') ||
        !take_digits(&p, 2, &day)) {
        *why = "bad date, want YYYY-MM-DD";
        return -1;
    }
    if (mon < 1 || mon > 12) {
        *why = "month out of range";
        return -1;
    }
    if (day < 1 || day > days_in_month(year, mon)) {
        *why = "day out of range";
        return -1;
    }
    if (*p != 'T' && *p != 't') {
        *why = "expected 'T' between date and time";
        return -1;
    }
    p++;
    if (!take_digits(&p, 2, &hour) || !take_char(&p, ':') ||
        !take_digits(&p, 2, &min) || !take_char(&p, ':') ||
        !take_digits(&p, 2, &sec)) {
        *why = "bad time, want HH:MM:SS";
        return -1;
    }
    if (hour > 23) {
        *why = "hour out of range";
        return -1;
    }
    if (min > 59) {
        *why = "minute out of range";
        return -1;
    }
    if (sec == 60) {
        *why = "leap second not supported";
        return -1;
    }
    if (sec > 59) {
        *why = "second out of range";
        return -1;
    }
    if (take_fraction(&p, &msec, why) < 0)
        return -1;
    if (*p == 'Z' || *p == 'z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        off_sign = *p == '-' ? -1 : 1;
        p++;
        if (!take_digits(&p, 2, &off_h) || !take_char(&p, ':') ||
            !take_digits(&p, 2, &off_m)) {
            *why = "bad time zone offset, want Z or +HH:MM";
            return -1;
        }
        if (off_h > 23 || off_m > 59) {
            *why = "time zone offset out of range";
            return -1;
        }
    } else if (*p == '\0') {
        *why = "missing time zone offset, want Z or +HH:MM";
        return -1;
    } else {
        *why = "bad time zone offset, want Z or +HH:MM";
        return -1;
    }
    if (*p != '\0') {
        *why = "trailing characters after time zone offset";
        return -1;
    }

    int64_t secs = timefmt_days_from_civil(year, mon, day) * 86400 +
                   hour * 3600 + min * 60 + sec;
    /* Local time = UTC + offset, so UTC = local - offset. */
    secs -= (int64_t)off_sign * (off_h * 3600 + off_m * 60);
    *ms = secs * 1000 + msec;
    return 0;
}

static int parse_epoch(const char *s, int64_t *ms, const char **why)
{
    const char *p = s;
    int64_t secs = 0;
    int n = 0, msec;

    while (is_digit(*p)) {
        if (++n > TIMEFMT_EPOCH_DIGITS) {
            *why = "too many digits in epoch seconds";
            return -1;
        }
        secs = secs * 10 + (*p - '0');
        p++;
    }
    if (take_fraction(&p, &msec, why) < 0)
        return -1;
    if (*p != '\0') {
        *why = "unexpected character in epoch seconds";
        return -1;
    }
    *ms = secs * 1000 + msec;
    return 0;
}

int timefmt_parse_time(const char *s, int64_t *ms, const char **why)
{
    if (!s || !*s) {
        *why = "empty time";
        return -1;
    }
    if (!is_digit(s[0])) {
        *why = "want RFC 3339 date-time or epoch seconds";
        return -1;
    }
    /* Four digits and a dash can only be the start of a date. */
    if (is_digit(s[1]) && is_digit(s[2]) && is_digit(s[3]) && s[4] == '-')
        return parse_rfc3339(s, ms, why);
    return parse_epoch(s, ms, why);
}

void timefmt_rfc3339_ms(int64_t ms, char *out, size_t n)
{
    if (n == 0)
        return;
    int64_t days = floor_div(ms, MS_PER_DAY);
    int64_t rem = ms % MS_PER_DAY; /* not ms - days * MS_PER_DAY: overflows
                                      for INT64_MIN */
    if (rem < 0)
        rem += MS_PER_DAY;
    int64_t y;
    int m, d;
    timefmt_civil_from_days(days, &y, &m, &d);
    int msec = (int)(rem % 1000);
    int64_t s = rem / 1000;
    int hh = (int)(s / 3600), mm = (int)(s / 60 % 60), ss = (int)(s % 60);
    if (y >= 0 && y <= 9999)
        snprintf(out, n, "%04" PRId64 "-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m,
                 d, hh, mm, ss, msec);
    else
        snprintf(out, n, "%+06" PRId64 "-%02d-%02dT%02d:%02d:%02d.%03dZ", y, m,
                 d, hh, mm, ss, msec);
}
