/* units_test: duration and size parsing and formatting. */
#include "util/units.h"

#include "tests/lib/tap.h"

static const struct {
    const char *in;
    uint64_t want;
    const char *want_err;
} durations[] = {
    {"15s", 15000, NULL},
    {"1m30s", 90000, NULL},
    {"500ms", 500, NULL},
    {"2h", 7200000, NULL},
    {"1d", 86400000, NULL},
    {"1d2h3m4s5ms", 93784005, NULL},
    {"0s", 0, NULL},
    {"0ms", 0, NULL},
    {"15", 0, "duration needs a unit"},
    {"0", 0, "duration needs a unit"},
    {"1m30", 0, "duration needs a unit"},
    {"", 0, "empty duration"},
    {"s", 0, "expected a number"},
    {"-5s", 0, "expected a number"},
    {" 5s", 0, "expected a number"},
    {"5s ", 0, "expected a number"},
    {"1.5s", 0, "unknown duration unit (use ms, s, m, h or d)"},
    {"5x", 0, "unknown duration unit (use ms, s, m, h or d)"},
    {"5S", 0, "unknown duration unit (use ms, s, m, h or d)"},
    {"5sec", 0, "unknown duration unit (use ms, s, m, h or d)"},
    {"30s1m", 0, "duration units must go from largest to smallest"},
    {"1s1s", 0, "duration units must go from largest to smallest"},
    {"18446744073709551615ms", UINT64_MAX, NULL},
    {"18446744073709551616ms", 0, "duration overflows"},
    {"213503982335d", 0, "duration overflows"},
    {"213503982334d", 18446744073657600000ULL, NULL},
    {"213503982334d14h", 18446744073708000000ULL, NULL},
    {"18446744073709551615ms1ms", 0,
     "duration units must go from largest to smallest"},
    {"213503982334d15h", 0, "duration overflows"},
};

static const struct {
    const char *in;
    uint64_t want;
    const char *want_err;
} sizes[] = {
    {"512MiB", 512ULL << 20, NULL},
    {"1GiB", 1ULL << 30, NULL},
    {"64KiB", 65536, NULL},
    {"1GB", 1000000000ULL, NULL},
    {"100", 100, NULL},
    {"100B", 100, NULL},
    {"10MB", 10000000ULL, NULL},
    {"2TiB", 2ULL << 40, NULL},
    {"3TB", 3000000000000ULL, NULL},
    {"0", 0, NULL},
    {"", 0, "empty size"},
    {"MiB", 0, "expected a number"},
    {"-1", 0, "expected a number"},
    {"1.5GiB", 0,
     "unknown size unit (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)"},
    {"10mb", 0,
     "unknown size unit (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)"},
    {"10 MiB", 0,
     "unknown size unit (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)"},
    {"10MiBx", 0,
     "unknown size unit (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)"},
    {"18446744073709551615", UINT64_MAX, NULL},
    {"18446744073709551616", 0, "size overflows"},
    {"16777216TiB", 0, "size overflows"},
    {"16777215TiB", 16777215ULL << 40, NULL},
};

TAP_CASE(parse_duration)
{
    for (size_t i = 0; i < TAP_N(durations); i++) {
        uint64_t got = 4242;
        const char *err = units_parse_duration(durations[i].in, &got);
        printf("# duration '%s'\n", durations[i].in);
        if (durations[i].want_err) {
            TAP_EQ_STR(durations[i].want_err, err);
            TAP_EQ_U64(4242, got);
        } else {
            TAP_OK(err == NULL);
            TAP_EQ_U64(durations[i].want, got);
        }
    }
}

TAP_CASE(parse_size)
{
    for (size_t i = 0; i < TAP_N(sizes); i++) {
        uint64_t got = 4242;
        const char *err = units_parse_size(sizes[i].in, &got);
        printf("# size '%s'\n", sizes[i].in);
        if (sizes[i].want_err) {
            TAP_EQ_STR(sizes[i].want_err, err);
            TAP_EQ_U64(4242, got);
        } else {
            TAP_OK(err == NULL);
            TAP_EQ_U64(sizes[i].want, got);
        }
    }
}

static const struct {
    uint64_t ms;
    const char *want;
} dur_fmt[] = {
    {0, "0s"},
    {500, "500ms"},
    {15000, "15s"},
    {90000, "1m30s"},
    {7200000, "2h"},
    {86400000, "1d"},
    {93784005, "1d2h3m4s5ms"},
    {1001, "1s1ms"},
};

static const struct {
    uint64_t bytes;
    const char *want;
} size_fmt[] = {
    {0, "0B"},
    {100, "100B"},
    {1ULL << 30, "1GiB"},
    {64ULL << 20, "64MiB"},
    {1000000000ULL, "1GB"},
    {1536, "1536B"},
    {1536000, "1500KiB"},
    {1000, "1KB"},
    {3ULL << 40, "3TiB"},
    {2048, "2KiB"},
};

TAP_CASE(format_duration)
{
    char out[64];
    for (size_t i = 0; i < TAP_N(dur_fmt); i++) {
        units_format_duration(dur_fmt[i].ms, out, sizeof(out));
        TAP_EQ_STR(dur_fmt[i].want, out);
    }
    units_format_duration(93784005, out, 5);
    TAP_EQ_STR("1d2h", out);
}

TAP_CASE(format_size)
{
    char out[64];
    for (size_t i = 0; i < TAP_N(size_fmt); i++) {
        units_format_size(size_fmt[i].bytes, out, sizeof(out));
        TAP_EQ_STR(size_fmt[i].want, out);
    }
}

/* Formatting then parsing gives back the value, across magnitudes. */
TAP_CASE(round_trip)
{
    char out[64];
    uint64_t v = 1, got;
    for (int i = 0; i < 63; i++, v = v * 3 + 1) {
        units_format_duration(v, out, sizeof(out));
        TAP_OK(units_parse_duration(out, &got) == NULL);
        TAP_EQ_U64(v, got);
        units_format_size(v, out, sizeof(out));
        TAP_OK(units_parse_size(out, &got) == NULL);
        TAP_EQ_U64(v, got);
    }
    units_format_duration(UINT64_MAX, out, sizeof(out));
    TAP_OK(units_parse_duration(out, &got) == NULL);
    TAP_EQ_U64(UINT64_MAX, got);
}

static const struct tap_case cases[] = {
    TAP_ENTRY(parse_duration),  TAP_ENTRY(parse_size),
    TAP_ENTRY(format_duration), TAP_ENTRY(format_size),
    TAP_ENTRY(round_trip),
};

int main(int argc, char **argv)
{
    return tap_main(cases, TAP_N(cases), argc, argv);
}
