/*
 * promvalue: sample values and timestamps of the Prometheus text format,
 * read as Prometheus reads them (Go's strconv), for the parser (promparse).
 *
 * Threads: pure functions of their arguments; any thread.
 */
#ifndef AGENT_PIPELINE_PROMVALUE_H
#define AGENT_PIPELINE_PROMVALUE_H

#include <locale.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Accepts what Go's strconv.ParseFloat accepts for decimal input (the
 * function Prometheus uses): [+-]digits[.digits][e[+-]digits] with digits
 * on at least one side of the point, "inf"/"infinity" with an optional sign
 * and "nan" without one, case-insensitively. Hex floats and underscores are
 * rejected, and so is overflow to infinity (Go's ErrRange); underflow gives
 * 0 or a subnormal as in Go. s[n] must be NUL.
 *
 * Returns 0 with *out set, or -1. c_locale is a C LC_NUMERIC locale
 * (newlocale): the decimal point must not follow the process's locale.
 */
int promvalue_parse(const char *s, size_t n, locale_t c_locale, double *out);

/* An int64 in decimal with an optional sign (Go's ParseInt base 10): 0 with
 * *out set, or -1. */
int promvalue_parse_ts(const char *s, size_t n, int64_t *out);

#endif
