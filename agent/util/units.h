/*
 * units: durations ("15s", "1m30s", "500ms", "2h", "1d") and sizes
 * ("512MiB", "1GiB", "1GB", "100") as written in the configuration.
 *
 * Parsers return NULL on success or a static error string (tests compare
 * it); they never write *out on failure. Overflow of 64 bits is an error.
 * Durations need a unit on every number (ms, s, m, h, d), largest unit
 * first, each unit at most once. Sizes are one unsigned integer with an
 * optional unit: B, KB/MB/GB/TB (powers of 1000), KiB/MiB/GiB/TiB (powers
 * of 1024); no unit means bytes.
 */
#ifndef AGENT_UNITS_H
#define AGENT_UNITS_H

#include <stddef.h>
#include <stdint.h>

const char *units_parse_duration(const char *s, uint64_t *ms);
const char *units_parse_size(const char *s, uint64_t *bytes);
/* Writes the shortest compound form that parses back to the same value
 * ("1m30s", "500ms", "0s"); truncates to fit n bytes (n >= 1). */
void units_format_duration(uint64_t ms, char *out, size_t n);
/* Writes the largest exact unit ("64MiB", "1GB", "100B"). */
void units_format_size(uint64_t bytes, char *out, size_t n);

#endif
