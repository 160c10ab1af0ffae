/*
 * lineproto_test: the line protocol encoder against hand-written lines
 * (escapes as influxd 1.6.7 undoes them), the float round trip, the drop
 * and skip rules. `lineproto_test --bench [N]` prints ns per point.
 */
#include <float.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "tests/lib/tap.h"
#include "util/buf.h"
#include "influx/lineproto.h"

#define MAX_TAGS   6
#define MAX_FIELDS 4
#define NO_COUNTER ((size_t)-1)

struct lp_case {
    const char *meas;
    const char *tags[2 * MAX_TAGS + 1]; /* key, value, ..., NULL */
    struct field fields[MAX_FIELDS];
    size_t nfields;
    int64_t ts;
    int want_rc;
    const char *want; /* the line, for want_rc 0 */
    size_t counter;   /* offsetof a stats counter that must be 1 */
};

#define F_FLT(k, v)                                                            \
    {                                                                          \
        .key = (k), .kind = FIELD_FLOAT, .f = (v)                              \
    }
#define F_INT(k, v)                                                            \
    {                                                                          \
        .key = (k), .kind = FIELD_INT, .i = (v)                                \
    }
#define F_BOOL(k, v)                                                           \
    {                                                                          \
        .key = (k), .kind = FIELD_BOOL, .b = (v)                               \
    }
#define F_STR(k, v)                                                            \
    {                                                                          \
        .key = (k), .kind = FIELD_STRING, .s = (v)                             \
    }
#define CNT(x) offsetof(struct lineproto_stats, x)

static const struct lp_case cases[] = {
    {"m",
     {"t", "v", NULL},
     {F_FLT("f", 1.5)},
     1,
     1000,
     0,
     "m,t=v f=1.5 1000\n",
     CNT(points)},
    /* measurement: comma, space, '=' and '"' escaped */
    {"a b,c=d\"e",
     {NULL},
     {F_FLT("f", 1)},
     1,
     1,
     0,
     "a\\ b\\,c\\=d\\\"e f=1 1\n",
     CNT(points)},
    /* tags: comma, space, '=' escaped; '"' literal */
    {"m",
     {"k ,=\"", "v ,=\"", NULL},
     {F_FLT("f", 1)},
     1,
     1,
     0,
     "m,k\\ \\,\\=\"=v\\ \\,\\=\" f=1 1\n",
     CNT(points)},
    /* field keys: comma, space, '=', '"' escaped */
    {"m",
     {NULL},
     {F_FLT("f ,=\"", 1)},
     1,
     1,
     0,
     "m f\\ \\,\\=\\\"=1 1\n",
     CNT(points)},
    /* string values: '"' and '\' escaped, newline kept */
    {"m",
     {NULL},
     {F_STR("s", "a\"b\\c\nd")},
     1,
     1,
     0,
     "m s=\"a\\\"b\\\\c\nd\" 1\n",
     CNT(points)},
    /* a backslash inside a name is literal; its neighbour is escaped */
    {"a\\b",
     {"k", "a\\ b", NULL},
     {F_FLT("f\\g", 2)},
     1,
     1,
     0,
     "a\\b,k=a\\\\ b f\\g=2 1\n",
     CNT(points)},
    {"m",
     {NULL},
     {F_INT("i", INT64_MAX), F_INT("j", INT64_MIN), F_INT("k", 0),
      F_INT("l", -42)},
     4,
     7,
     0,
     "m i=9223372036854775807i,j=-9223372036854775808i,k=0i,l=-42i 7\n",
     CNT(points)},
    {"m",
     {NULL},
     {F_BOOL("t", true), F_BOOL("f", false)},
     2,
     7,
     0,
     "m t=true,f=false 7\n",
     CNT(points)},
    {"m",
     {NULL},
     {F_FLT("a", 0.1), F_FLT("b", -0.0), F_FLT("c", 1e-300),
      F_FLT("d", DBL_MAX)},
     4,
     7,
     0,
     "m a=0.1,b=-0,c=1e-300,d=1.7976931348623157e+308 7\n",
     CNT(points)},
    {"m",
     {NULL},
     {F_FLT("a", 100), F_FLT("b", 0.005), F_FLT("c", -12.25), F_FLT("d", 1e22)},
     4,
     -5,
     0,
     "m a=100,b=0.005,c=-12.25,d=1e+22 -5\n",
     CNT(points)},
    {"m\xc3\xa9",
     {"\xf0\x9f\x98\x80", "\xe2\x82\xac", NULL},
     {F_STR("s", "\xf0\x9f\x98\x80")},
     1,
     1,
     0,
     "m\xc3\xa9,\xf0\x9f\x98\x80=\xe2\x82\xac s=\"\xf0\x9f\x98\x80\" 1\n",
     CNT(points)},
    /* NaN / Inf dropped, the rest written */
    {"m",
     {NULL},
     {F_FLT("a", NAN), F_FLT("b", 2), F_FLT("c", -INFINITY)},
     3,
     1,
     0,
     "m b=2 1\n",
     CNT(fields_nonfinite) /* checked == 1 below */},
    {"m", {NULL}, {F_FLT("a", NAN)}, 1, 1, 1, NULL, CNT(skipped_no_fields)},
    {"m", {NULL}, {{0}}, 0, 1, 1, NULL, CNT(skipped_no_fields)},
    /* empty tag key or value: the tag goes, the point stays */
    {"m",
     {"a", "", "b", "x", NULL},
     {F_FLT("f", 1)},
     1,
     1,
     0,
     "m,b=x f=1 1\n",
     CNT(tags_empty)},
    {"m",
     {"t", "a\nb", NULL},
     {F_FLT("f", 1)},
     1,
     1,
     1,
     NULL,
     CNT(skipped_newline)},
    {"m\n", {NULL}, {F_FLT("f", 1)}, 1, 1, 1, NULL, CNT(skipped_newline)},
    {"m",
     {"t", "a\\", NULL},
     {F_FLT("f", 1)},
     1,
     1,
     1,
     NULL,
     CNT(skipped_invalid)},
    {"m\\", {NULL}, {F_FLT("f", 1)}, 1, 1, 1, NULL, CNT(skipped_invalid)},
    {"a\\,b", {NULL}, {F_FLT("f", 1)}, 1, 1, 1, NULL, CNT(skipped_invalid)},
    {"a\\ b", {NULL}, {F_FLT("f", 1)}, 1, 1, 1, NULL, CNT(skipped_invalid)},
    {"#m", {NULL}, {F_FLT("f", 1)}, 1, 1, 1, NULL, CNT(skipped_invalid)},
    {"", {NULL}, {F_FLT("f", 1)}, 1, 1, 1, NULL, CNT(skipped_invalid)},
    {"m",
     {"time", "x", NULL},
     {F_FLT("f", 1)},
     1,
     1,
     1,
     NULL,
     CNT(skipped_invalid)},
    /* field keys influxd refuses: the field goes */
    {"m",
     {NULL},
     {F_FLT("time", 1), F_FLT("f", 2)},
     2,
     1,
     0,
     "m f=2 1\n",
     CNT(fields_invalid)},
    {"m",
     {NULL},
     {F_FLT("a\\", 1), F_FLT("f", 2)},
     2,
     1,
     0,
     "m f=2 1\n",
     CNT(fields_invalid)},
    {"m",
     {NULL},
     {F_FLT("a\\=b", 1), F_FLT("f", 2)},
     2,
     1,
     0,
     "m f=2 1\n",
     CNT(fields_invalid)},
    {"m",
     {NULL},
     {F_STR("s", NULL), F_FLT("f", 2)},
     2,
     1,
     0,
     "m f=2 1\n",
     CNT(fields_invalid)},
    /* tag order is kept; a repeated key is found even when unsorted */
    {"m",
     {"b", "1", "a", "2", NULL},
     {F_FLT("f", 1)},
     1,
     1,
     0,
     "m,b=1,a=2 f=1 1\n",
     CNT(points)},
    {"m",
     {"b", "1", "a", "2", "b", "3", NULL},
     {F_FLT("f", 1)},
     1,
     1,
     1,
     NULL,
     CNT(skipped_invalid)},
    {"m",
     {"a", "1", "a", "2", NULL},
     {F_FLT("f", 1)},
     1,
     1,
     1,
     NULL,
     CNT(skipped_invalid)},
};

static void make_tags(const struct lp_case *c, struct label *tags,
                      size_t *ntags)
{
    size_t n = 0;
    for (size_t i = 0; c->tags[i]; i += 2) {
        tags[n].name = c->tags[i];
        tags[n].name_len = (uint32_t)strlen(c->tags[i]);
        tags[n].value = c->tags[i + 1];
        tags[n].value_len = (uint32_t)strlen(c->tags[i + 1]);
        n++;
    }
    *ntags = n;
}

TAP_CASE(table)
{
    for (size_t i = 0; i < TAP_N(cases); i++) {
        const struct lp_case *c = &cases[i];
        struct label tags[MAX_TAGS];
        struct point p = {.measurement = c->meas,
                          .tags = tags,
                          .fields = c->fields,
                          .nfields = c->nfields,
                          .ts_ms = c->ts};
        make_tags(c, tags, &p.ntags);
        struct buf b = BUF_INIT;
        struct lineproto_stats st = {0};
        buf_adds(&b, "x\n");
        int rc = lineproto_encode(&b, &p, &st);
        if (rc != c->want_rc)
            TAP_FAIL_("case %zu: rc %d, want %d", i, rc, c->want_rc);
        if (rc == 0) {
            if (strcmp(c->want, b.data + 2) != 0)
                TAP_FAIL_("case %zu: got \"%s\"", i, b.data + 2);
            TAP_EQ_INT(1, st.points);
        } else {
            TAP_EQ_STR("x\n", b.data);
            TAP_EQ_INT(0, st.points);
            TAP_EQ_INT(1, lineproto_stats_skipped(&st));
        }
        uint64_t got;
        memcpy(&got, (const char *)&st + c->counter, sizeof(got));
        TAP_EQ_INT(c->counter == CNT(fields_nonfinite) ? 2 : 1, got);
        buf_release(&b);
    }
}

static uint64_t rng_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

/* Every finite double must come back bit for bit through strtod, which
 * rounds like influxd's Go parser (both correctly rounded). */
TAP_CASE(float_round_trip)
{
    uint64_t seed = 0x9e3779b97f4a7c15ULL;
    char out[40];
    for (int i = 0; i < 300000; i++) {
        double v;
        uint64_t r = rng_next(&seed);
        if (i % 3 == 0) {
            memcpy(&v, &r, sizeof(v));
        } else if (i % 3 == 1) {
            /* decimal-looking values, the common case on the fast path */
            v = (double)(int64_t)(r % 2000000001ULL - 1000000000) /
                pow(10, (double)(rng_next(&seed) % 12));
        } else {
            v = (double)(r >> 11) * 0x1p-53 * pow(10, (double)(i % 40 - 20));
        }
        if (!isfinite(v))
            continue;
        size_t n = lineproto_format_float(out, v);
        TAP_EQ_INT(strlen(out), n);
        TAP_OK(n < 32);
        TAP_OK(strspn(out, "0123456789.e+-") == n);
        double back = strtod(out, NULL);
        if (memcmp(&back, &v, sizeof(v)) != 0)
            TAP_FAIL_("%.17g formatted as %s reads back %.17g", v, out, back);
    }
}

TAP_CASE(line_cap)
{
    char big[300];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    struct field f = {.key = "f", .kind = FIELD_STRING, .s = big};
    struct point p = {.measurement = "m", .fields = &f, .nfields = 1};
    struct buf b = BUF_INIT;
    struct lineproto_stats st = {0};
    TAP_EQ_INT(1, lineproto_encode_max(&b, &p, &st, 200));
    TAP_EQ_INT(1, st.skipped_too_long);
    TAP_EQ_INT(0, b.len);
    /* escaping pushes it over: raw 290 fits 400, escaped 590 does not */
    memset(big, '"', sizeof(big) - 1);
    TAP_EQ_INT(1, lineproto_encode_max(&b, &p, &st, 400));
    TAP_EQ_INT(2, st.skipped_too_long);
    TAP_EQ_INT(0, b.len);
    TAP_EQ_INT(0, lineproto_encode_max(&b, &p, &st, 700));
    TAP_EQ_INT(1, st.points);
    buf_release(&b);
}

TAP_CASE(buf_cap_refuses)
{
    struct field f = {.key = "f", .kind = FIELD_FLOAT, .f = 1};
    struct point p = {.measurement = "m", .fields = &f, .nfields = 1};
    struct buf b;
    buf_init(&b, 40);
    buf_adds(&b, "keep");
    TAP_EQ_INT(-1, lineproto_encode(&b, &p, NULL));
    TAP_OK(buf_error(&b));
    TAP_EQ_STR("keep", b.data);
    buf_release(&b);
}

/* Reference escape: a backslash before every byte of set. */
static void ref_esc(struct buf *b, const char *s, const char *set)
{
    for (; *s; s++) {
        if (strchr(set, *s))
            buf_addc(b, '\\');
        buf_addc(b, *s);
    }
}

/* Names and values are copied 16, 8 or 4 bytes at a time when nothing
 * needs escaping, with overlapping loads at the end: every length from 0
 * to 40 with each special byte at each position (or none) must come out
 * exactly as the byte-by-byte rule says, in every context. */
TAP_CASE(escape_every_length_and_position)
{
    static const char specials[] = ", =\"\\";
    char meas[48], tk[48], tv[48], fk[48], sv[48];
    struct buf b = BUF_INIT, want = BUF_INIT;
    for (size_t n = 1; n <= 40; n++) {
        for (size_t pos = 0; pos <= n; pos++) {
            for (size_t si = 0; si < sizeof(specials) - 1; si++) {
                char c = specials[si];
                for (size_t i = 0; i < n; i++) {
                    char x = (char)('a' + (i * 7 + n) % 26);
                    meas[i] = tk[i] = tv[i] = fk[i] = sv[i] = x;
                }
                meas[n] = tk[n] = tv[n] = fk[n] = sv[n] = '\0';
                /* pos == n: no special byte at all */
                if (pos < n) {
                    sv[pos] = c;
                    /* backslashes in names have rules of their own */
                    if (c != '\\') {
                        meas[pos] = tk[pos] = fk[pos] = c;
                        tv[pos] = c;
                    }
                }
                /* a leading '#' or a trailing backslash is another test */
                struct label tag = {tk, tv, (uint32_t)n, (uint32_t)n};
                struct field f[2] = {
                    {.key = fk, .kind = FIELD_INT, .i = 1},
                    {.key = "s", .kind = FIELD_STRING, .s = sv},
                };
                struct point p = {.measurement = meas,
                                  .tags = &tag,
                                  .ntags = 1,
                                  .fields = f,
                                  .nfields = 2,
                                  .ts_ms = 12};
                buf_reset(&b);
                buf_reset(&want);
                ref_esc(&want, meas, ", =\"");
                buf_addc(&want, ',');
                ref_esc(&want, tk, ", =");
                buf_addc(&want, '=');
                ref_esc(&want, tv, ", =");
                buf_addc(&want, ' ');
                ref_esc(&want, fk, ", =\"");
                buf_adds(&want, "=1i,s=\"");
                ref_esc(&want, sv, "\"\\");
                buf_adds(&want, "\" 12\n");
                int rc = lineproto_encode(&b, &p, NULL);
                if (rc != 0 || strcmp(b.data, want.data) != 0)
                    printf("# n %zu pos %zu byte '%c': rc %d\n# got  %s# want "
                           "%s",
                           n, pos, c, rc, b.data, want.data);
                TAP_EQ_INT(0, rc);
                TAP_EQ_STR(want.data, b.data);
            }
        }
    }
    buf_release(&b);
    buf_release(&want);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* A Flink-shaped point: 5 tags, one field; half integer counters, half
 * float ratios. */
static int bench(long n)
{
    static const char *const tv[][2] = {
        {"flink_cluster", "prod"},
        {"job_name", "orders_enrich"},
        {"operator_name", "Source:_kafka_orders"},
        {"subtask_index", "17"},
        {"task_name", "Source:_kafka_orders____Map____Filter"},
    };
    struct label tags[5];
    for (size_t i = 0; i < 5; i++) {
        tags[i].name = tv[i][0];
        tags[i].name_len = (uint32_t)strlen(tv[i][0]);
        tags[i].value = tv[i][1];
        tags[i].value_len = (uint32_t)strlen(tv[i][1]);
    }
    struct field fi = {.key = "count", .kind = FIELD_INT};
    struct field ff = {.key = "value", .kind = FIELD_FLOAT};
    struct point p = {.measurement =
                          "taskmanager_job_task_operator_numRecordsIn",
                      .tags = tags,
                      .ntags = 5,
                      .nfields = 1,
                      .ts_ms = 1763600000000};
    struct buf b = BUF_INIT;
    struct lineproto_stats st = {0};
    uint64_t seed = 42;
    size_t bytes = 0;
    double t0 = now_s();
    for (long i = 0; i < n; i++) {
        if (i & 1) {
            fi.i = (int64_t)(rng_next(&seed) >> 20);
            p.fields = &fi;
        } else {
            ff.f = (double)(rng_next(&seed) % 1000) / 1000.0;
            p.fields = &ff;
        }
        if (lineproto_encode(&b, &p, &st) != 0)
            return 1;
        if (b.len > (1u << 20)) {
            bytes += b.len;
            buf_reset(&b);
        }
    }
    double dt = now_s() - t0;
    bytes += b.len;
    printf("points=%ld ns_per_point=%.1f bytes_per_point=%.1f\n", n,
           dt * 1e9 / (double)n, (double)bytes / (double)n);
    buf_release(&b);
    return 0;
}

static const struct tap_case tap_cases[] = {
    TAP_ENTRY(table),
    TAP_ENTRY(float_round_trip),
    TAP_ENTRY(line_cap),
    TAP_ENTRY(buf_cap_refuses),
    TAP_ENTRY(escape_every_length_and_position),
};

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--bench") == 0)
        return bench(argc > 2 ? strtol(argv[2], NULL, 10) : 2000000);
    return tap_main(tap_cases, TAP_N(tap_cases), argc, argv);
}
