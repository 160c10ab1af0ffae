/*
 * timefmt: parses and formats the instants that users type into the API
 * (lagwatch(8), HTTP ENDPOINTS: /api/v1/ready's until=), independent of the
 * process locale and time zone.
 *
 * Accepted input, nothing else:
 *   - RFC 3339 date-time: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), 'T'
 *     and 'Z' in either case. A space instead of 'T' is refused (RFC 3339
 *     allows it only by "agreement", and it does not survive a URL
 *     unescaped). Fractions of any length are truncated to milliseconds;
 *     a leap second (:60) is refused because the epoch scale has none.
 *   - Unix epoch seconds: digits with an optional decimal fraction
 *     ("1763632800", "1763632800.250"), no sign, no exponent, at most
 *     TIMEFMT_EPOCH_DIGITS integer digits.
 * The calendar is the proleptic Gregorian one, computed by hand: no mktime,
 * timegm or strptime, so the TZ variable and locale cannot change a result.
 */
#ifndef AGENT_TIMEFMT_H
#define AGENT_TIMEFMT_H

#include <stddef.h>
#include <stdint.h>

#define TIMEFMT_EPOCH_DIGITS 12 /* year ~33658: far beyond any real input */
#define TIMEFMT_RFC3339_LEN  40 /* enough for any int64 ms, with the NUL */

/* Parses s into milliseconds since 1970-01-01T00:00:00Z. Returns 0, or -1
 * with *why set to a static, lowercase reason (e.g. "day out of range"). */
int timefmt_parse_time(const char *s, int64_t *ms, const char **why);

/* Formats ms as "2026-11-20T10:00:00.000Z": UTC, always three fractional
 * digits, floor semantics for negative ms (-1 is 1969-12-31T23:59:59.999Z).
 * Years outside 0000..9999 are written ISO 8601 style with a sign and at
 * least five digits ("+10000-01-01T...", "-00001-..."): not RFC 3339, but
 * unambiguous. Output is truncated (still NUL-terminated) if n is below
 * TIMEFMT_RFC3339_LEN and the text does not fit. */
void timefmt_rfc3339_ms(int64_t ms, char *out, size_t n);

/* Days since 1970-01-01 of a proleptic Gregorian date (month 1..12, day
 * 1..31, not validated here), and the inverse. Exposed for the tests. */
int64_t timefmt_days_from_civil(int64_t y, int m, int d);
void timefmt_civil_from_days(int64_t days, int64_t *y, int *m, int *d);

#endif
