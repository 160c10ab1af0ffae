/*
 * promparse_test: the Prometheus text parser, case tables plus the recorded
 * Flink fixtures. Fixtures are read from $FLINK_FIXTURES/prometheus, else from
 * $srcdir/tests/fixtures/flink/prometheus (srcdir defaults to ".").
 *
 *   promparse_test [CASE]        run all cases, or one
 *   promparse_test --bench FILE [ROUNDS]
 *                                parse FILE 50 (ROUNDS) times, print
 *                                ns/sample and MB/s
 */
#include "pipeline/promparse.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "util/log.h"
#include "tests/lib/tap.h"
#include "tests/lib/testutil.h"

/* Far above any exposition body a test or a benchmark reads. */
#define MAX_BODY ((size_t)1 << 30)

/* ====================== Helpers ===================================== */

/* Collects samples rendered one per line as
 *   family/type name{a="v",...} value [@ts] [help="..."]
 * with label values and help raw except newline shown as <LF>. */
struct coll {
    struct buf out;
    uint64_t n;
    uint64_t abort_after; /* 0: never */
    bool bad;             /* a length did not match its string */
    uint64_t untyped, summary;
    uint64_t suffixed_bad; /* name != family but type has no suffixes */
};

static const char *const type_names[] = {"untyped", "counter", "gauge",
                                         "summary", "histogram"};

static void add_raw(struct buf *b, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\n')
            buf_adds(b, "<LF>");
        else
            buf_addc(b, s[i]);
    }
}

static void add_double(struct buf *b, double v)
{
    if (isnan(v))
        buf_adds(b, "NaN");
    else if (isinf(v))
        buf_adds(b, v > 0 ? "+Inf" : "-Inf");
    else
        buf_addf(b, "%.17g", v);
}

static int coll_fn(void *ctx, const struct sample *s)
{
    struct coll *c = ctx;
    struct buf *b = &c->out;
    c->n++;
    if (strlen(s->name) != s->name_len || strlen(s->family) != s->family_len ||
        (s->help && strlen(s->help) != s->help_len))
        c->bad = true;
    if (s->type == MT_UNTYPED)
        c->untyped++;
    if (s->type == MT_SUMMARY)
        c->summary++;
    if ((s->name_len != s->family_len ||
         memcmp(s->name, s->family, s->name_len) != 0) &&
        s->type != MT_COUNTER && s->type != MT_SUMMARY &&
        s->type != MT_HISTOGRAM)
        c->suffixed_bad++;
    buf_addf(b, "%s/%s %s{", s->family, type_names[s->type], s->name);
    for (size_t i = 0; i < s->nlabels; i++) {
        const struct label *l = &s->labels[i];
        if (strlen(l->name) != l->name_len ||
            memchr(l->value, '\0', l->value_len) || l->value[l->value_len])
            c->bad = true;
        buf_addf(b, "%s%s=\"", i ? "," : "", l->name);
        add_raw(b, l->value, l->value_len);
        buf_addc(b, '"');
    }
    buf_adds(b, "} ");
    add_double(b, s->value);
    if (s->has_ts)
        buf_addf(b, " @%lld", (long long)s->ts_ms);
    if (s->help) {
        buf_adds(b, " help=\"");
        add_raw(b, s->help, s->help_len);
        buf_addc(b, '"');
    }
    buf_addc(b, '\n');
    if (c->abort_after && c->n >= c->abort_after)
        return -1;
    return 0;
}

static uint64_t rnd_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *s = x;
    return x;
}

enum chunking { CH_WHOLE, CH_ONE, CH_RANDOM, CH_FIXED };

/* Parses body with the given chunking (chunk = fixed size or random
 * seed). Returns the last feed/finish result. */
static int run_parse(struct promparse *p, const char *body, size_t len,
                     enum chunking how, uint64_t chunk)
{
    uint64_t seed = chunk ? chunk : 1;
    size_t off = 0;
    int rc = 0;
    while (off < len) {
        size_t n = len - off;
        if (how == CH_ONE)
            n = 1;
        else if (how == CH_FIXED && n > chunk)
            n = (size_t)chunk;
        else if (how == CH_RANDOM) {
            size_t r = (size_t)(rnd_next(&seed) % 700) + 1;
            n = r < n ? r : n;
        }
        rc = promparse_feed(p, body + off, n);
        off += n;
    }
    if (promparse_finish(p) < 0)
        rc = -1;
    return rc;
}

struct result {
    struct coll c;
    struct promparse_stats st;
    int rc;
};

static void parse_body(const struct promparse_opts *o, const char *body,
                       size_t len, enum chunking how, uint64_t chunk,
                       struct result *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->c.out, 0);
    struct promparse *p = promparse_new(o, coll_fn, &r->c);
    if (!p) {
        r->rc = -2;
        return;
    }
    r->rc = run_parse(p, body, len, how, chunk);
    promparse_get_stats(p, &r->st);
    promparse_free(&p);
}

static void result_release(struct result *r)
{
    buf_release(&r->c.out);
}

/* Lines that are neither blank nor comments: what a parse must yield. */
static uint64_t count_sample_lines(const char *s, size_t len)
{
    uint64_t n = 0;
    size_t i = 0;
    while (i < len) {
        const char *nl = memchr(s + i, '\n', len - i);
        size_t e = nl ? (size_t)(nl - s) : len;
        size_t j = i;
        while (j < e && (s[j] == ' ' || s[j] == '\t' || s[j] == '\r'))
            j++;
        if (j < e && s[j] != '#')
            n++;
        i = e + 1;
    }
    return n;
}

/* ====================== Valid input ================================= */

static const struct {
    const char *name;
    const char *in;
    const char *want;
} valid_cases[] = {
    {"counter with _total",
     "# HELP c Things done.\n# TYPE c counter\nc_total{a=\"1\"} 3\n"
     "c 4\n",
     "c/counter c_total{a=\"1\"} 3 help=\"Things done.\"\n"
     "c/counter c{} 4 help=\"Things done.\"\n"},
    {"counter named _total", "# TYPE d_total counter\nd_total 1\n",
     "d_total/counter d_total{} 1\n"},
    {"gauge", "# TYPE g gauge\n# HELP g A gauge.\ng{x=\"y\"} -1.5\n",
     "g/gauge g{x=\"y\"} -1.5 help=\"A gauge.\"\n"},
    {"summary without _sum (Flink)",
     "# HELP s lat (scope: tm)\n# TYPE s summary\n"
     "s_count{t=\"1\",} 4.0\ns{t=\"1\",quantile=\"0.5\",} 1.0\n"
     "s{t=\"1\",quantile=\"0.99\",} 2.0\n",
     "s/summary s_count{t=\"1\"} 4 help=\"lat (scope: tm)\"\n"
     "s/summary s{t=\"1\",quantile=\"0.5\"} 1 help=\"lat (scope: tm)\"\n"
     "s/summary s{t=\"1\",quantile=\"0.99\"} 2 help=\"lat (scope: tm)\"\n"},
    {"summary with _sum",
     "# TYPE r summary\nr{quantile=\"0.5\"} 1\nr_sum 10\nr_count 3\n",
     "r/summary r{quantile=\"0.5\"} 1\nr/summary r_sum{} 10\n"
     "r/summary r_count{} 3\n"},
    {"histogram",
     "# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 3\n"
     "h_sum 0.5\nh_count 3\n",
     "h/histogram h_bucket{le=\"0.1\"} 1\nh/histogram h_bucket{le=\"+Inf\"} 3\n"
     "h/histogram h_sum{} 0.5\nh/histogram h_count{} 3\n"},
    {"untyped TYPE and no TYPE", "# TYPE u untyped\nu 1\nfree 2\n",
     "u/untyped u{} 1\nfree/untyped free{} 2\n"},
    {"suffix not of this type",
     "# TYPE g gauge\ng_total 1\n# TYPE s summary\ns_bucket 2\nsx 3\n",
     "g_total/untyped g_total{} 1\ns_bucket/untyped s_bucket{} 2\n"
     "sx/untyped sx{} 3\n"},
    {"family survives a foreign sample", "# TYPE f gauge\nf 1\nother 2\nf 3\n",
     "f/gauge f{} 1\nother/untyped other{} 2\nf/gauge f{} 3\n"},
    {"HELP only gives untyped family with help",
     "# HELP k some\\\\thing\\nnew \\t\nk 1\n",
     "k/untyped k{} 1 help=\"some\\thing<LF>new \\t\"\n"},
    {"HELP without text", "# HELP e\n# TYPE e gauge\ne 1\n",
     "e/gauge e{} 1 help=\"\"\n"},
    {"trailing comma, empty braces, blanks",
     "a{x=\"1\",y=\"2\",} 1\nb{} 2\nc { x = \"1\" , y=\"2\" , } 3\n"
     "  d\t4  \n",
     "a/untyped a{x=\"1\",y=\"2\"} 1\nb/untyped b{} 2\n"
     "c/untyped c{x=\"1\",y=\"2\"} 3\nd/untyped d{} 4\n"},
    {"label value escapes",
     "e{a=\"q\\\"uote\",b=\"back\\\\slash\",c=\"new\\nline\","
     "d=\"\xc3\xbcn\xc3\xaf\xe2\x9c\x93\",e=\"keep\\t\",f=\"\\\\n\","
     "g=\"\",h=\"x}y,z=\\\"w\"} 1\n",
     "e/untyped e{a=\"q\"uote\",b=\"back\\slash\",c=\"new<LF>line\","
     "d=\"\xc3\xbcn\xc3\xaf\xe2\x9c\x93\",e=\"keep\\t\",f=\"\\n\","
     "g=\"\",h=\"x}y,z=\"w\"} 1\n"},
    {"special values",
     "v NaN\nv +Inf\nv -Inf\nv Inf\nv inf\nv -infinity\nv nan\n",
     "v/untyped v{} NaN\nv/untyped v{} +Inf\nv/untyped v{} -Inf\n"
     "v/untyped v{} +Inf\nv/untyped v{} +Inf\nv/untyped v{} -Inf\n"
     "v/untyped v{} NaN\n"},
    {"number forms",
     "v 1.82390365E8\nv -9.223372036854776E18\nv 1.718093297801E12\n"
     "v .5\nv 5.\nv +3\nv -0.0\nv 1e-400\nv 0.1\nv 123456789012345678901\n",
     "v/untyped v{} 182390365\nv/untyped v{} -9.2233720368547758e+18\n"
     "v/untyped v{} 1718093297801\nv/untyped v{} 0.5\nv/untyped v{} 5\n"
     "v/untyped v{} 3\nv/untyped v{} -0\nv/untyped v{} 0\n"
     "v/untyped v{} 0.10000000000000001\n"
     "v/untyped v{} 1.2345678901234568e+20\n"},
    {"timestamps",
     "t 1 1718093400000\nt{a=\"b\"} 2\t-5\nt 3 +7 \n"
     "t 4 -9223372036854775808\n",
     "t/untyped t{} 1 @1718093400000\nt/untyped t{a=\"b\"} 2 @-5\n"
     "t/untyped t{} 3 @7\nt/untyped t{} 4 @-9223372036854775808\n"},
    {"comments, blanks, CRLF, no final newline",
     "# just a comment\n#\n# HELPER x\n\n   \r\nx 1\r\n\t# TYPE y gauge\r\n"
     "y 2",
     "x/untyped x{} 1\ny/gauge y{} 2\n"},
    {"metric names with colons", "job:rate:5m{a_b=\"1\",_c9=\"2\"} 1\n_x 2\n",
     "job:rate:5m/untyped job:rate:5m{a_b=\"1\",_c9=\"2\"} 1\n"
     "_x/untyped _x{} 2\n"},
};

TAP_CASE(valid_cases_parse)
{
    for (size_t i = 0; i < TAP_N(valid_cases); i++) {
        struct result r;
        const char *in = valid_cases[i].in;
        parse_body(NULL, in, strlen(in), CH_WHOLE, 0, &r);
        bool ok = r.rc == 0 && r.st.errors == 0 && !r.c.bad &&
                  strcmp(r.c.out.data, valid_cases[i].want) == 0;
        if (!ok)
            printf("# case '%s': rc %d errors %llu\n# got:\n%s",
                   valid_cases[i].name, r.rc, (unsigned long long)r.st.errors,
                   r.c.out.data);
        result_release(&r);
        TAP_OK(ok);
    }
}

TAP_CASE(family_and_line_counts)
{
    const char *in = "# HELP a x\n# TYPE a gauge\na 1\n# TYPE b counter\n"
                     "b_total 1\n\n# c\nfree 1\n";
    struct result r;
    parse_body(NULL, in, strlen(in), CH_WHOLE, 0, &r);
    result_release(&r);
    TAP_EQ_U64(8, r.st.lines);
    TAP_EQ_U64(3, r.st.samples);
    TAP_EQ_U64(2, r.st.families);
    TAP_EQ_U64(0, r.st.errors);
}

/* Values must equal strtod's bit for bit, fast path or not. */
TAP_CASE(values_equal_strtod)
{
    uint64_t seed = 0x9e3779b97f4a7c15u;
    struct buf body = BUF_INIT;
    struct buf strs = BUF_INIT;
    const int n = 20000;
    for (int i = 0; i < n; i++) {
        char num[64];
        int len = 0;
        uint64_t r = rnd_next(&seed);
        if (r & 1)
            num[len++] = '-';
        int intd = (int)((r >> 1) % 12), fracd = (int)((r >> 8) % 12);
        if (intd == 0 && fracd == 0)
            intd = 1;
        for (int k = 0; k < intd; k++)
            num[len++] = (char)('0' + rnd_next(&seed) % 10);
        if (fracd || (r >> 20) % 2) {
            num[len++] = '.';
            for (int k = 0; k < fracd; k++)
                num[len++] = (char)('0' + rnd_next(&seed) % 10);
        }
        if ((r >> 24) % 3 == 0)
            len +=
                snprintf(num + len, sizeof(num) - (size_t)len, "%c%d",
                         (r >> 30) % 2 ? 'E' : 'e', (int)((r >> 32) % 70) - 35);
        num[len] = '\0';
        buf_addf(&body, "v %s\n", num);
        buf_addf(&strs, "%s\n", num);
    }
    struct result res;
    parse_body(NULL, body.data, body.len, CH_WHOLE, 0, &res);
    /* Each rendered line ends with the value as %.17g, which round-trips.
     * Lines are copied out with memchr: ASan's string interceptors measure
     * the whole rest of a buffer, which makes a walk over one quadratic. */
    const char *got = res.c.out.data, *got_end = got + res.c.out.len;
    char *want = strs.data, *want_end = want + strs.len;
    int mismatches = 0;
    for (int i = 0; i < n && res.st.samples == (uint64_t)n; i++) {
        char *wnl = memchr(want, '\n', (size_t)(want_end - want));
        const char *gnl = memchr(got, '\n', (size_t)(got_end - got));
        char w1[64], g1[64];
        snprintf(w1, sizeof(w1), "%.*s", (int)(wnl - want), want);
        snprintf(g1, sizeof(g1), "%.*s", (int)(gnl - got), got);
        double w = strtod(w1, NULL);
        double g = strtod(strchr(g1, ' ') + 4, NULL); /* "v/untyped v{} " */
        if (memcmp(&w, &g, sizeof(w)) != 0 && mismatches++ < 5)
            printf("# value '%s': want %.17g got %.17g\n", w1, w, g);
        want = wnl + 1;
        got = gnl + 1;
    }
    result_release(&res);
    buf_release(&body);
    buf_release(&strs);
    TAP_EQ_U64(0, res.st.errors);
    TAP_EQ_U64((uint64_t)n, res.st.samples);
    TAP_EQ_INT(0, mismatches);
}

/* ====================== Malformed input ============================= */

static const struct {
    const char *name;
    const char *in;
    size_t len; /* 0: strlen */
    size_t max_labels;
    size_t max_line;
} bad_cases[] = {
    {"missing value", "m{a=\"b\"}\n", 0, 0, 0},
    {"missing value, no labels", "m\n", 0, 0, 0},
    {"missing value after blank", "m{a=\"b\"}   \n", 0, 0, 0},
    {"bad value 1.2.3", "m 1.2.3\n", 0, 0, 0},
    {"bad value word", "m abc\n", 0, 0, 0},
    {"bad value hex", "m 0x10\n", 0, 0, 0},
    {"bad value signed NaN", "m +NaN\n", 0, 0, 0},
    {"bad value overflow", "m 1e400\n", 0, 0, 0},
    {"bad value exponent", "m 1e\n", 0, 0, 0},
    {"bad value lone dot", "m .\n", 0, 0, 0},
    {"bad value underscore", "m 1_000\n", 0, 0, 0},
    {"unterminated quote", "m{a=\"b} 1\n", 0, 0, 0},
    {"unterminated quote after escape", "m{a=\"b\\\"} 1\n", 0, 0, 0},
    {"trailing backslash", "m{a=\"b\\", 0, 0, 0},
    {"unterminated label set", "m{a=\"b\" 1\n", 0, 0, 0},
    {"open brace only", "m{\n", 0, 0, 0},
    {"bad label name digit", "m{1a=\"b\"} 1\n", 0, 0, 0},
    {"bad label name dash", "m{a-b=\"c\"} 1\n", 0, 0, 0},
    {"bad label name colon", "m{a:b=\"c\"} 1\n", 0, 0, 0},
    {"missing =", "m{a\"b\"} 1\n", 0, 0, 0},
    {"unquoted value", "m{a=b} 1\n", 0, 0, 0},
    {"missing comma", "m{a=\"b\" c=\"d\"} 1\n", 0, 0, 0},
    {"double comma", "m{a=\"b\",,c=\"d\"} 1\n", 0, 0, 0},
    {"no blank before value", "m{a=\"b\"}1\n", 0, 0, 0},
    {"bad metric name", "1m 1\n", 0, 0, 0},
    {"bad char in metric name", "m-x 1\n", 0, 0, 0},
    {"junk after timestamp", "m 1 2 x\n", 0, 0, 0},
    {"bad timestamp", "m 1 2.5\n", 0, 0, 0},
    {"timestamp overflow", "m 1 9223372036854775808\n", 0, 0, 0},
    {"duplicate label", "m{a=\"1\",b=\"2\",a=\"3\"} 1\n", 0, 0, 0},
    {"too many labels", "m{a=\"1\",b=\"2\",c=\"3\"} 1\n", 0, 2, 0},
    {"NUL in label value", "m{a=\"x\0y\"} 1\n", sizeof("m{a=\"x\0y\"} 1\n") - 1,
     0, 0},
    {"NUL in name", "m\0 1\n", sizeof("m\0 1\n") - 1, 0, 0},
    {"unknown TYPE", "# TYPE m gauge2\n", 0, 0, 0},
    {"TYPE without type", "# TYPE m\n", 0, 0, 0},
    {"TYPE with junk", "# TYPE m gauge x\n", 0, 0, 0},
    {"TYPE bad name", "# TYPE 1m gauge\n", 0, 0, 0},
    {"HELP bad name", "# HELP m-x text\n", 0, 0, 0},
    {"line too long", "m{a=\"0123456789012345678901234567890\"} 1\n", 0, 0, 32},
};

/* Each bad line is counted once and the good line after it still parses,
 * whatever the chunking. */
TAP_CASE(malformed_lines_counted)
{
    for (size_t i = 0; i < TAP_N(bad_cases); i++) {
        struct buf in = BUF_INIT;
        size_t blen =
            bad_cases[i].len ? bad_cases[i].len : strlen(bad_cases[i].in);
        buf_add(&in, bad_cases[i].in, blen);
        /* The bad line may lack its newline (trailing backslash case). */
        if (in.data[in.len - 1] != '\n')
            buf_addc(&in, '\n');
        buf_adds(&in, "ok{z=\"1\"} 7\n");
        struct promparse_opts o = {.target = "test",
                                   .max_labels = bad_cases[i].max_labels,
                                   .max_line = bad_cases[i].max_line,
                                   .max_logged_errors = 1000};
        for (int how = CH_WHOLE; how <= CH_ONE; how++) {
            struct result r;
            parse_body(&o, in.data, in.len, (enum chunking)how, 0, &r);
            bool ok = r.rc == 0 && r.st.errors == 1 && r.st.samples == 1 &&
                      strcmp(r.c.out.data, "ok/untyped ok{z=\"1\"} 7\n") == 0;
            if (!ok)
                printf("# case '%s' (chunking %d): errors %llu samples "
                       "%llu\n# got: %s\n",
                       bad_cases[i].name, how, (unsigned long long)r.st.errors,
                       (unsigned long long)r.st.samples, r.c.out.data);
            result_release(&r);
            if (!ok)
                buf_release(&in);
            TAP_OK(ok);
        }
        buf_release(&in);
    }
}

/* The parser remembers the label names of the last line and skips
 * checking names that repeat them: a line that starts like the line before
 * and then goes wrong must still fail, and one that differs must still
 * parse to its own names. Each row: a good line, then the line under test,
 * then a good line again; errors expected for the middle one. */
static const struct {
    const char *name;
    const char *mid;
    unsigned errors;
    const char *want_mid; /* rendered sample when errors == 0 */
} memo_cases[] = {
    {"duplicate after known names", "m{a=\"1\",b=\"2\",a=\"3\"} 1\n", 1, NULL},
    {"duplicate of the first name", "m{a=\"1\",a=\"2\"} 1\n", 1, NULL},
    {"bad name after known one", "m{a=\"1\",b-c=\"2\"} 1\n", 1, NULL},
    {"too many after known names", "m{a=\"1\",b=\"2\",c=\"3\",d=\"4\"} 1\n", 1,
     NULL},
    {"known names, no blank", "m{a=\"1\",b=\"2\",c=\"3\"}1\n", 1, NULL},
    {"known names, bad value", "m{a=\"1\",b=\"2\",c=\"3\"} x\n", 1, NULL},
    {"name longer than known", "m{ab=\"1\",b=\"2\"} 5\n", 0,
     "m/untyped m{ab=\"1\",b=\"2\"} 5\n"},
    {"fewer names", "m{a=\"9\"} 5\n", 0, "m/untyped m{a=\"9\"} 5\n"},
    {"other order", "m{c=\"3\",a=\"1\",b=\"2\",} 5\n", 0,
     "m/untyped m{c=\"3\",a=\"1\",b=\"2\"} 5\n"},
    {"escape in value", "m{a=\"1\",b=\"x\\\"y\",c=\"3\"} 5\n", 0,
     "m/untyped m{a=\"1\",b=\"x\"y\",c=\"3\"} 5\n"},
    {"blanks", "m { a = \"1\" , b=\"2\",c=\"3\" } 5\n", 0,
     "m/untyped m{a=\"1\",b=\"2\",c=\"3\"} 5\n"},
};

TAP_CASE(label_memo_keeps_checks)
{
    static const char good[] = "m{a=\"1\",b=\"2\",c=\"3\"} 7\n";
    static const char good_out[] = "m/untyped m{a=\"1\",b=\"2\",c=\"3\"} 7\n";
    struct promparse_opts o = {.max_labels = 3, .max_logged_errors = 1000};
    for (size_t i = 0; i < TAP_N(memo_cases); i++) {
        struct buf in = BUF_INIT, want = BUF_INIT;
        buf_adds(&in, good);
        buf_adds(&in, memo_cases[i].mid);
        buf_adds(&in, good);
        buf_adds(&want, good_out);
        if (memo_cases[i].want_mid)
            buf_adds(&want, memo_cases[i].want_mid);
        buf_adds(&want, good_out);
        struct result r;
        parse_body(&o, in.data, in.len, CH_WHOLE, 0, &r);
        bool ok = r.rc == 0 && r.st.errors == memo_cases[i].errors &&
                  !r.c.bad && strcmp(r.c.out.data, want.data) == 0;
        if (!ok)
            printf("# case '%s': errors %llu\n# got: %s", memo_cases[i].name,
                   (unsigned long long)r.st.errors, r.c.out.data);
        result_release(&r);
        buf_release(&in);
        buf_release(&want);
        TAP_OK(ok);
    }
}

TAP_CASE(label_count_limits)
{
    struct buf in = BUF_INIT;
    for (int nl = 128; nl <= 129; nl++) {
        buf_adds(&in, "m{");
        for (int i = 0; i < nl; i++)
            buf_addf(&in, "l%d=\"v\",", i);
        buf_adds(&in, "} 1\n");
    }
    struct result r;
    parse_body(NULL, in.data, in.len, CH_WHOLE, 0, &r);
    buf_release(&in);
    result_release(&r);
    TAP_EQ_U64(1, r.st.samples);
    TAP_EQ_U64(1, r.st.errors);
}

/* Lines of exactly max_line bytes pass (with or without \r), one more
 * byte fails, whether the line arrives whole or split. */
TAP_CASE(max_line_boundary)
{
    static const struct {
        const char *in;
        uint64_t samples, errors;
    } cases[] = {
        {"m{a=\"01234567890123456789012\"} 1\n", 1, 0},    /* 32 bytes */
        {"m{a=\"01234567890123456789012\"} 1\r\n", 1, 0},  /* 32 + \r */
        {"m{a=\"012345678901234567890123\"} 1\n", 0, 1},   /* 33 bytes */
        {"m{a=\"012345678901234567890123\"} 1\r\n", 0, 1}, /* 33 + \r */
        {"m{a=\"01234567890123456789012\"} 1", 1, 0},      /* no \n */
        {"m{a=\"012345678901234567890123\"} 1", 0, 1},
    };
    struct promparse_opts o = {.max_line = 32};
    for (size_t i = 0; i < TAP_N(cases); i++) {
        for (int how = CH_WHOLE; how <= CH_ONE; how++) {
            struct result r;
            parse_body(&o, cases[i].in, strlen(cases[i].in), (enum chunking)how,
                       0, &r);
            result_release(&r);
            if (r.st.samples != cases[i].samples ||
                r.st.errors != cases[i].errors)
                printf("# case %zu chunking %d\n", i, how);
            TAP_EQ_U64(cases[i].samples, r.st.samples);
            TAP_EQ_U64(cases[i].errors, r.st.errors);
            TAP_EQ_U64(1, r.st.lines);
        }
    }
}

/* A 1 MB label value under the default 64 KiB line cap: one error, the
 * next line still parses, whether fed whole or in chunks. */
TAP_CASE(huge_label)
{
    struct buf in = BUF_INIT;
    buf_adds(&in, "before 1\nhuge{v=\"");
    for (int i = 0; i < 1024 * 1024 / 64; i++)
        buf_adds(&in, "0123456789abcdef0123456789abcdef"
                      "0123456789abcdef0123456789abcdef");
    buf_adds(&in, "\"} 1\nafter 2\n");
    static const struct {
        enum chunking how;
        uint64_t chunk;
    } ways[] = {{CH_WHOLE, 0},
                {CH_FIXED, 4096},
                {CH_FIXED, 65535},
                {CH_RANDOM, 7},
                {CH_ONE, 0}};
    struct promparse_opts o = {.max_line = 65536, .target = "huge"};
    for (size_t i = 0; i < TAP_N(ways); i++) {
        struct result r;
        parse_body(&o, in.data, in.len, ways[i].how, ways[i].chunk, &r);
        bool ok = r.st.errors == 1 && r.st.samples == 2 && r.st.lines == 3 &&
                  strcmp(r.c.out.data, "before/untyped before{} 1\n"
                                       "after/untyped after{} 2\n") == 0;
        result_release(&r);
        if (!ok)
            buf_release(&in);
        TAP_OK(ok);
    }
    buf_release(&in);
}

/* ====================== Streaming =================================== */

static void build_mixed_body(struct buf *b)
{
    for (size_t i = 0; i < TAP_N(valid_cases); i++) {
        buf_adds(b, valid_cases[i].in);
        if (b->data[b->len - 1] != '\n')
            buf_addc(b, '\n');
    }
    for (size_t i = 0; i < TAP_N(bad_cases); i++) {
        if (bad_cases[i].max_labels || bad_cases[i].max_line)
            continue;
        buf_add(b, bad_cases[i].in,
                bad_cases[i].len ? bad_cases[i].len : strlen(bad_cases[i].in));
        if (b->data[b->len - 1] != '\n')
            buf_addc(b, '\n');
    }
    buf_adds(b, "# TYPE last gauge\r\nlast{a=\"\\\"\"} 9 10");
}

static bool same_result(const struct result *a, const struct result *b)
{
    return a->rc == b->rc && a->st.lines == b->st.lines &&
           a->st.samples == b->st.samples && a->st.errors == b->st.errors &&
           a->st.families == b->st.families && a->c.out.len == b->c.out.len &&
           memcmp(a->c.out.data, b->c.out.data, a->c.out.len) == 0;
}

TAP_CASE(every_split_gives_same_samples)
{
    struct buf body = BUF_INIT;
    build_mixed_body(&body);
    struct promparse_opts o = {.max_logged_errors = 1};
    struct result ref;
    parse_body(&o, body.data, body.len, CH_WHOLE, 0, &ref);
    bool ok = ref.st.errors > 30 && ref.st.samples > 50;
    /* Every single split point. */
    for (size_t cut = 0; ok && cut <= body.len; cut++) {
        struct result r;
        memset(&r, 0, sizeof(r));
        buf_init(&r.c.out, 0);
        struct promparse *p = promparse_new(&o, coll_fn, &r.c);
        promparse_feed(p, body.data, cut);
        promparse_feed(p, body.data + cut, body.len - cut);
        r.rc = promparse_finish(p);
        promparse_get_stats(p, &r.st);
        promparse_free(&p);
        if (!same_result(&ref, &r)) {
            printf("# differs when split at %zu\n", cut);
            ok = false;
        }
        result_release(&r);
    }
    for (uint64_t seed = 0; ok && seed < 60; seed++) {
        struct result r;
        enum chunking how = seed == 0 ? CH_ONE : CH_RANDOM;
        parse_body(&o, body.data, body.len, how, seed, &r);
        if (!same_result(&ref, &r)) {
            printf("# differs with seed %llu\n", (unsigned long long)seed);
            ok = false;
        }
        result_release(&r);
    }
    result_release(&ref);
    buf_release(&body);
    TAP_OK(ok);
}

/* Lines whose quotes, backslashes, NULs and ends fall on every offset of
 * a 16- and a 32-byte block of the label scan, in forms the fast label
 * path takes and forms it hands to the general loop. */
static const char body_fill[] =
    "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrs";

static void build_scan_body(struct buf *b)
{
    for (size_t len = 0; len < 70; len++) {
        for (int kind = 0; kind < 6; kind++) {
            buf_adds(b, "m{a=\"");
            for (size_t i = 0; i < len; i++)
                buf_addc(b, (char)('a' + i % 26));
            if (kind == 0)
                buf_adds(b, "\"} 1\n");
            else if (kind == 1)
                buf_adds(b, "\",bb=\"x\\\"y\",} 2\n");
            else if (kind == 2)
                buf_adds(b, "\",c=\"\"} 3\n");
            else if (kind == 3)
                buf_adds(b, "\n"); /* unterminated value */
            else if (kind == 4)
                buf_add(b, "\0\"} 4\n", 6);
            else
                buf_adds(b, "\",d=\"q\"}\n"); /* no value */
        }
        buf_adds(b, "m{");
        for (size_t i = 0; i < len % 40; i++)
            buf_addc(b, 'n');
        buf_adds(b, "\n");
        /* quotes on every offset of the full blocks, too */
        buf_addf(b, "m{a=\"%.*s\",bb=\"%.*s\",c=\"x\",dd=\"%.*s\",e=\"y\"} 5\n",
                 (int)len, body_fill, (int)(70 - len), body_fill, (int)len,
                 body_fill);
    }
}

/* The AVX2 and the SSE2 quote scans must give the same samples, errors and
 * log lines; where the CPU has no AVX2 both runs take SSE2. */
TAP_CASE(avx2_and_sse2_label_scans_agree)
{
    struct buf body = BUF_INIT;
    build_scan_body(&body);
    build_mixed_body(&body);
    struct promparse_opts o = {.max_logged_errors = 1};
    struct promparse_opts o_sse2 = {.max_logged_errors = 1, .no_avx2 = true};
    struct result a, b;
    parse_body(&o, body.data, body.len, CH_WHOLE, 0, &a);
    parse_body(&o_sse2, body.data, body.len, CH_WHOLE, 0, &b);
#if defined(__x86_64__)
    printf("# cpu has avx2: %s\n",
           __builtin_cpu_supports("avx2") ? "yes" : "no");
#endif
    printf("# %llu samples, %llu errors\n", (unsigned long long)a.st.samples,
           (unsigned long long)a.st.errors);
    TAP_OK(a.st.samples > 200 && a.st.errors > 300);
    TAP_OK(same_result(&a, &b));
    /* a scan that misses a quote is caught by the checks after it and the
     * line still parses (the general way): count the fast ones */
    printf("# fast label scans: %llu and %llu\n",
           (unsigned long long)a.st.fast_labels,
           (unsigned long long)b.st.fast_labels);
    TAP_EQ_INT((long long)b.st.fast_labels, (long long)a.st.fast_labels);
    TAP_OK(a.st.fast_labels > 200);
    result_release(&a);
    result_release(&b);
    buf_release(&body);
}

/* Samples of one parser with the same nonzero promparse_label_shape() have
 * the same label names in the same order, across bodies; lines of one
 * shape in a row share an id; the general path (a blank, an escape) gives
 * 0. */
struct shape_coll {
    struct promparse *p;
    uint64_t ids[1024];
    char names[1024][64];
    size_t nids;
    size_t n, nonzero, reused, zero_expected_bad, bad;
    uint64_t last_id;
};

static int shape_fn(void *ctx, const struct sample *s)
{
    struct shape_coll *c = ctx;
    uint64_t id = promparse_label_shape(c->p);
    char names[64] = "";
    size_t len = 0;
    for (size_t i = 0; i < s->nlabels && len + 16 < sizeof(names); i++)
        len += (size_t)snprintf(names + len, sizeof(names) - len, "%s,",
                                s->labels[i].name);
    c->n++;
    /* the test's general-path lines all have a value "\\" or start "  " */
    bool general = s->nlabels && (s->labels[0].value[0] == '\\' ||
                                  s->labels[0].value[0] == ' ');
    if (general && id != 0)
        c->zero_expected_bad++;
    if (id == 0)
        return 0;
    c->nonzero++;
    if (id == c->last_id)
        c->reused++;
    c->last_id = id;
    for (size_t i = 0; i < c->nids; i++) {
        if (c->ids[i] == id) {
            if (strcmp(c->names[i], names) != 0)
                c->bad++;
            return 0;
        }
    }
    if (c->nids < 1024) {
        c->ids[c->nids] = id;
        memcpy(c->names[c->nids], names, sizeof(names));
        c->nids++;
    }
    return 0;
}

TAP_CASE(label_shape_ids_name_the_names)
{
    static const char *const shapes[][3] = {
        {"a", "bb", "c"}, {"a", "bb", "d"}, {"a", "cc", "c"},
        {"bb", "a", "c"}, {"a", "bb", "c"}, {"x", "y", "z"},
    };
    struct shape_coll c;
    memset(&c, 0, sizeof(c));
    c.p = promparse_new(NULL, shape_fn, &c);
    TAP_OK(c.p != NULL);
    uint64_t seed = 88172645463325252u;
    for (int body = 0; body < 3; body++) {
        for (int i = 0; i < 2000; i++) {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            const char *const *sh =
                shapes[(seed % 8 < 7 ? (size_t)i / 30 : seed >> 8) % 6];
            const char *v = (seed >> 20) % 13 == 0   ? "\\\\"
                            : (seed >> 20) % 13 == 1 ? " \" "
                                                     : "v";
            char line[128];
            int n = snprintf(line, sizeof(line),
                             "m{%s=\"%s\",%s=\"w\",%s=\"u\"} 1\n", sh[0], v,
                             sh[1], sh[2]);
            /* the blank before '=' sends the line to the general loop */
            if (v[0] == ' ')
                n = snprintf(line, sizeof(line),
                             "m{%s =\" \",%s=\"w\",%s=\"u\"} 1\n", sh[0], sh[1],
                             sh[2]);
            promparse_feed(c.p, line, (size_t)n);
        }
        promparse_reset(c.p, NULL);
    }
    printf("# %zu samples, %zu with an id, %zu ids, %zu same as before\n", c.n,
           c.nonzero, c.nids, c.reused);
    TAP_EQ_INT(6000, (long long)c.n);
    TAP_EQ_INT(0, (long long)c.bad);
    TAP_EQ_INT(0, (long long)c.zero_expected_bad);
    TAP_OK(c.nonzero > 4000 && c.reused > 3000 && c.nids > 6);
    promparse_free(&c.p);
}

TAP_CASE(callback_abort_and_reset)
{
    const char *in = "# TYPE a gauge\na 1\na 2\na 3\na 4\n";
    struct coll c;
    memset(&c, 0, sizeof(c));
    buf_init(&c.out, 0);
    c.abort_after = 2;
    struct promparse *p = promparse_new(NULL, coll_fn, &c);
    TAP_OK(p != NULL);
    int rc = promparse_feed(p, in, strlen(in));
    int rc2 = promparse_feed(p, "a 5\n", 4);
    int rc3 = promparse_finish(p);
    struct promparse_stats st;
    promparse_get_stats(p, &st);
    /* After reset the family from the first body is gone. */
    c.abort_after = 0;
    promparse_reset(p, "second");
    const char *in2 = "a 6\n# TYPE b gauge\nb 7";
    int rc4 = promparse_feed(p, in2, strlen(in2));
    int rc5 = promparse_finish(p);
    struct promparse_stats st2;
    promparse_get_stats(p, &st2);
    promparse_free(&p);
    bool out_ok = strcmp(c.out.data, "a/gauge a{} 1\na/gauge a{} 2\n"
                                     "a/untyped a{} 6\nb/gauge b{} 7\n") == 0;
    if (!out_ok)
        printf("# got:\n%s", c.out.data);
    buf_release(&c.out);
    TAP_OK(p == NULL);
    TAP_EQ_INT(-1, rc);
    TAP_EQ_INT(-1, rc2);
    TAP_EQ_INT(-1, rc3);
    TAP_EQ_INT(0, rc4);
    TAP_EQ_INT(0, rc5);
    TAP_EQ_U64(2, st.samples);
    TAP_EQ_U64(2, st2.samples);
    TAP_EQ_U64(3, st2.lines);
    TAP_EQ_U64(1, st2.families);
    TAP_OK(out_ok);
    promparse_free(&p); /* NULL-safe */
}

/* Only the first max_logged_errors errors are logged, with target and
 * line number; all are counted. */
TAP_CASE(error_logging_capped)
{
    const char *in = "ok 1\nbad1\nbad2 x\nok 2\nbad3{\nbad4 1 2 3\nbad5 .\n";
    enum log_level lvl = log_threshold_;
    log_set_level(LOG_LVL_WARN);
    fflush(stderr);
    FILE *tmp = tmpfile();
    TAP_OK(tmp != NULL);
    int saved = dup(2);
    TAP_OK(saved >= 0);
    dup2(fileno(tmp), 2);
    struct promparse_opts o = {.target = "http://tm1:9249/metrics",
                               .max_logged_errors = 3};
    struct result r;
    parse_body(&o, in, strlen(in), CH_WHOLE, 0, &r);
    fflush(stderr);
    dup2(saved, 2);
    close(saved);
    log_set_level(lvl);
    result_release(&r);
    char log[4096];
    rewind(tmp);
    size_t n = fread(log, 1, sizeof(log) - 1, tmp);
    fclose(tmp);
    log[n] = '\0';
    int lines = 0;
    for (char *s = log; (s = strchr(s, '\n')) != NULL; s++)
        lines++;
    TAP_EQ_U64(5, r.st.errors);
    TAP_EQ_INT(3, lines);
    TAP_OK(strstr(log, "malformed line in 'http://tm1:9249/metrics' line 2: "
                       "missing value") != NULL);
    TAP_OK(strstr(log, "line 3: invalid value") != NULL);
    TAP_OK(strstr(log, "line 5: unterminated label set") != NULL);
    TAP_OK(strstr(log, "line 6") == NULL);
}

/* ====================== Flink fixtures ============================== */

static const char *const fixtures[] = {
    "taskmanager-1.prom",
    "taskmanager-2.prom",
    "jobmanager.prom",
    "taskmanager-2.unfiltered-labels.excerpt.prom",
};

TAP_CASE(flink_fixtures_parse_cleanly)
{
    for (size_t i = 0; i < TAP_N(fixtures); i++) {
        char rel[256], path[8192];
        snprintf(rel, sizeof(rel), "prometheus/%s", fixtures[i]);
        tu_fixture_path(path, sizeof(path), rel);
        size_t len;
        char *body = tu_slurp(path, MAX_BODY, &len);
        if (!body)
            printf("# cannot read '%s': %s (set FLINK_FIXTURES)\n", path,
                   strerror(errno));
        TAP_OK(body != NULL);
        uint64_t want = count_sample_lines(body, len);
        struct result whole, split;
        parse_body(NULL, body, len, CH_FIXED, 16384, &whole);
        parse_body(NULL, body, len, CH_RANDOM, 42 + i, &split);
        bool same = same_result(&whole, &split);
        bool quoted = i != 3 || strstr(whole.c.out.data,
                                       "SessionWindow[gap=\"30 min\"]") != NULL;
        printf("# %s: %llu samples, %llu families, %llu summary samples\n",
               fixtures[i], (unsigned long long)whole.st.samples,
               (unsigned long long)whole.st.families,
               (unsigned long long)whole.c.summary);
        struct result w = whole;
        result_release(&whole);
        result_release(&split);
        free(body);
        TAP_OK(want > 0);
        TAP_EQ_U64(0, w.st.errors);
        TAP_EQ_U64(want, w.st.samples);
        TAP_OK(!w.c.bad);
        /* Flink types every family; a sample that fell out of its family
         * (e.g. a summary _count) would show up as untyped. */
        TAP_EQ_U64(0, w.c.untyped);
        TAP_EQ_U64(0, w.c.suffixed_bad);
        TAP_OK(i >= 2 || w.c.summary > 0);
        TAP_OK(same);
        TAP_OK(quoted);
    }
}

/* ====================== Benchmark =================================== */

static int bench_fn(void *ctx, const struct sample *s)
{
    double *sum = ctx;
    *sum += (isnan(s->value) ? 0 : s->value) + (double)s->nlabels +
            (s->nlabels ? (double)s->labels[0].value_len : 0);
    return 0;
}

static int bench(const char *path, int rounds)
{
    size_t len;
    char *body = tu_slurp(path, MAX_BODY, &len);
    if (!body) {
        fprintf(stderr, "cannot read '%s': %s\n", path, strerror(errno));
        return 1;
    }
    double sum = 0;
    struct promparse *p = promparse_new(NULL, bench_fn, &sum);
    if (!p) {
        free(body);
        return 1;
    }
    const size_t chunk = 16384; /* what libcurl typically hands over */
    struct timespec t0, t1;
    uint64_t samples = 0;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    for (int r = 0; r < rounds; r++) {
        promparse_reset(p, NULL);
        for (size_t off = 0; off < len; off += chunk)
            promparse_feed(p, body + off,
                           len - off < chunk ? len - off : chunk);
        promparse_finish(p);
        struct promparse_stats st;
        promparse_get_stats(p, &st);
        samples += st.samples;
    }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    double ns = (double)(t1.tv_sec - t0.tv_sec) * 1e9 +
                (double)(t1.tv_nsec - t0.tv_nsec);
    printf("%s: %d rounds, %zu bytes, %llu samples/round: %.1f ns/sample, "
           "%.1f MB/s, %.2f M samples/s (checksum %g)\n",
           path, rounds, len, (unsigned long long)(samples / rounds),
           ns / (double)samples, (double)len * rounds / (ns / 1e9) / 1e6,
           (double)samples / (ns / 1e9) / 1e6, sum);
    promparse_free(&p);
    free(body);
    return 0;
}

static const struct tap_case cases[] = {
    TAP_ENTRY(valid_cases_parse),
    TAP_ENTRY(family_and_line_counts),
    TAP_ENTRY(values_equal_strtod),
    TAP_ENTRY(malformed_lines_counted),
    TAP_ENTRY(label_memo_keeps_checks),
    TAP_ENTRY(label_count_limits),
    TAP_ENTRY(max_line_boundary),
    TAP_ENTRY(huge_label),
    TAP_ENTRY(every_split_gives_same_samples),
    TAP_ENTRY(callback_abort_and_reset),
    TAP_ENTRY(avx2_and_sse2_label_scans_agree),
    TAP_ENTRY(label_shape_ids_name_the_names),
    TAP_ENTRY(error_logging_capped),
    TAP_ENTRY(flink_fixtures_parse_cleanly),
};

int main(int argc, char **argv)
{
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "--bench") == 0)
        return bench(argv[2], argc == 4 ? (int)strtol(argv[3], NULL, 10) : 50);
    /* Malformed-input cases log on purpose; keep the TAP stream readable. */
    log_set_level(LOG_LVL_ERROR);
    return tap_main(cases, TAP_N(cases), argc, argv);
}
