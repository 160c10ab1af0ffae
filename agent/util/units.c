#include "util/units.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct unit {
    const char *name;
    uint64_t factor;
};

/* Largest first: durations must be written in this order. */
static const struct unit duration_units[] = {
    {"d", 86400000}, {"h", 3600000}, {"m", 60000}, {"s", 1000}, {"ms", 1},
};

static const struct unit size_units[] = {
    {"TiB", 1ULL << 40},   {"TB", 1000000000000ULL}, {"GiB", 1ULL << 30},
    {"GB", 1000000000ULL}, {"MiB", 1ULL << 20},      {"MB", 1000000ULL},
    {"KiB", 1ULL << 10},   {"KB", 1000ULL},          {"B", 1},
};

#define N_DURATION_UNITS (sizeof(duration_units) / sizeof(duration_units[0]))
#define N_SIZE_UNITS     (sizeof(size_units) / sizeof(size_units[0]))

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

static bool is_alpha(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Reads digits at *p into *v; NULL on success or an error string. */
static const char *read_number(const char **p, uint64_t *v, const char *ovf)
{
    const char *s = *p;
    uint64_t n = 0;
    if (!is_digit(*s))
        return "expected a number";
    while (is_digit(*s)) {
        uint64_t d = (uint64_t)(*s - '0');
        if (n > (UINT64_MAX - d) / 10)
            return ovf;
        n = n * 10 + d;
        s++;
    }
    *p = s;
    *v = n;
    return NULL;
}

/* Finds the unit spelled by the letters at *p (exact match). */
static const struct unit *read_unit(const char **p, const struct unit *units,
                                    size_t n_units, size_t *idx)
{
    const char *s = *p;
    size_t len = 0;
    while (is_alpha(s[len]))
        len++;
    for (size_t i = 0; i < n_units; i++) {
        if (strlen(units[i].name) == len &&
            memcmp(units[i].name, s, len) == 0) {
            *p = s + len;
            *idx = i;
            return &units[i];
        }
    }
    return NULL;
}

static const char *mul_add(uint64_t *acc, uint64_t v, uint64_t f,
                           const char *ovf)
{
    if (v != 0 && f > UINT64_MAX / v)
        return ovf;
    if (*acc > UINT64_MAX - v * f)
        return ovf;
    *acc += v * f;
    return NULL;
}

const char *units_parse_duration(const char *s, uint64_t *ms)
{
    static const char ovf[] = "duration overflows";
    uint64_t total = 0;
    size_t last = 0;
    bool first = true;
    const char *e;
    if (!*s)
        return "empty duration";
    while (*s) {
        uint64_t v;
        size_t idx;
        e = read_number(&s, &v, ovf);
        if (e)
            return e;
        if (!*s)
            return "duration needs a unit";
        if (!read_unit(&s, duration_units, N_DURATION_UNITS, &idx))
            return "unknown duration unit (use ms, s, m, h or d)";
        if (!first && idx <= last)
            return "duration units must go from largest to smallest";
        e = mul_add(&total, v, duration_units[idx].factor, ovf);
        if (e)
            return e;
        last = idx;
        first = false;
    }
    *ms = total;
    return NULL;
}

const char *units_parse_size(const char *s, uint64_t *bytes)
{
    static const char ovf[] = "size overflows";
    uint64_t v, total = 0;
    size_t idx;
    const char *e;
    if (!*s)
        return "empty size";
    e = read_number(&s, &v, ovf);
    if (e)
        return e;
    if (!*s) {
        *bytes = v;
        return NULL;
    }
    if (!read_unit(&s, size_units, N_SIZE_UNITS, &idx) || *s)
        return "unknown size unit (use B, KB, MB, GB, TB, KiB, MiB, GiB "
               "or TiB)";
    e = mul_add(&total, v, size_units[idx].factor, ovf);
    if (e)
        return e;
    *bytes = total;
    return NULL;
}

void units_format_duration(uint64_t ms, char *out, size_t n)
{
    size_t used = 0;
    out[0] = '\0';
    if (ms == 0) {
        snprintf(out, n, "0s");
        return;
    }
    for (size_t i = 0; i < N_DURATION_UNITS && ms; i++) {
        uint64_t f = duration_units[i].factor;
        if (ms < f)
            continue;
        int w = snprintf(out + used, n - used, "%llu%s",
                         (unsigned long long)(ms / f), duration_units[i].name);
        if (w < 0 || (size_t)w >= n - used)
            return;
        used += (size_t)w;
        ms %= f;
    }
}

void units_format_size(uint64_t bytes, char *out, size_t n)
{
    for (size_t i = 0; i < N_SIZE_UNITS; i++) {
        uint64_t f = size_units[i].factor;
        if (bytes != 0 && bytes % f == 0) {
            snprintf(out, n, "%llu%s", (unsigned long long)(bytes / f),
                     size_units[i].name);
            return;
        }
    }
    snprintf(out, n, "0B");
}
