/* lpparse: influxd's line protocol, escaping and value types, and the
 * errors a bad line gets (lagwatch(8), PROXY, "Writes"). */
#include <stdlib.h>
#include <string.h>

#include "proxy/lpparse.h"
#include "tests/lib/tap.h"

static int parse(struct lp_line *l, const char *s, int64_t prec, char *err)
{
    return lpparse_line(l, s, strlen(s), prec, 42000000, err, 128);
}

TAP_CASE(escaping_types_and_sorted_tags)
{
    struct lp_line *l = calloc(1, sizeof(*l));
    char err[128] = "";
    buf_init(&l->text, 1 << 16);
    const char *s = "my\\ meas\\,x,zz=1,a\\=b=c\\ d\\,e f\\ 1=1.5,i=-3i,u=7u,"
                    "b=TRUE,s=\"q\\\"uo\\\\te\\n\" 1700000000123";
    TAP_EQ_INT(0, parse(l, s, 1000000, err));
    TAP_EQ_STR("", err);
    const struct point *p = &l->point;
    TAP_EQ_STR("my meas,x", p->measurement);
    TAP_EQ_INT(2, (int)p->ntags);
    TAP_EQ_STR("a=b", p->tags[0].name); /* sorted by key */
    TAP_EQ_STR("c d,e", p->tags[0].value);
    TAP_EQ_STR("zz", p->tags[1].name);
    TAP_EQ_INT(5, (int)p->nfields);
    TAP_EQ_STR("f 1", p->fields[0].key);
    TAP_EQ_INT(FIELD_FLOAT, p->fields[0].kind);
    TAP_EQ_DBL(1.5, p->fields[0].f, 0);
    TAP_EQ_INT(FIELD_INT, p->fields[1].kind);
    TAP_OK(p->fields[1].i == -3);
    TAP_OK(p->fields[2].kind == FIELD_INT && p->fields[2].i == 7);
    TAP_OK(p->fields[3].kind == FIELD_BOOL && p->fields[3].b);
    TAP_EQ_INT(FIELD_STRING, p->fields[4].kind);
    TAP_EQ_STR("q\"uo\\te\\n", p->fields[4].s);
    TAP_OK(p->ts_ms == 1700000000123LL);
    /* precisions; no timestamp = now */
    TAP_EQ_INT(0, parse(l, "m v=1 1700000000", 1000000000LL, err));
    TAP_OK(l->point.ts_ms == 1700000000000LL);
    TAP_EQ_INT(0, parse(l, "m v=1 1700000000123456789", 1, err));
    TAP_OK(l->point.ts_ms == 1700000000123LL);
    TAP_EQ_INT(0, parse(l, "m v=1", 1, err));
    TAP_OK(l->point.ts_ms == 42);
    TAP_OK(lpparse_precision("ms") == 1000000 && lpparse_precision(NULL) == 1 &&
           lpparse_precision("x") == 0);
    lpparse_release(l);
    free(l);
}

TAP_CASE(bad_lines_say_why)
{
    static const struct {
        const char *line, *why;
    } bad[] = {
        {"m", "missing fields"},
        {"m,t=1", "missing fields"},
        {"m,t= v=1", "missing tag value"},
        {"m,=x v=1", "missing tag key"},
        {"m v=", "missing field value"},
        {"m v=1x", "invalid number"},
        {"m v=12ai", "unable to parse integer"},
        {"m v=-1u", "unable to parse integer"},
        {"m v=\"open", "unbalanced quotes"},
        {"m v=1 12x", "bad timestamp"},
        {",t=1 v=1", "missing measurement"},
        {"m v=1 99999999999999999", "time outside range"},
    };
    struct lp_line *l = calloc(1, sizeof(*l));
    buf_init(&l->text, 1 << 16);
    for (size_t i = 0; i < TAP_N(bad); i++) {
        char err[128] = "";
        int64_t prec = strstr(bad[i].why, "range") ? 3600LL * 1000000000LL : 1;
        TAP_EQ_INT(-1, parse(l, bad[i].line, prec, err));
        TAP_OK(strstr(err, bad[i].why) != NULL);
        if (!strstr(err, bad[i].why))
            TAP_EQ_STR(bad[i].why, err);
    }
    lpparse_release(l);
    free(l);
}

/* Found by tests/fuzz/fuzz_lpparse.c (crashes/lpparse-measurement-escaped-
 * equals): influxd also unescapes "\=" and "\"" in a measurement and "\""
 * in a field key, which the sink's writer (lineproto.c, measured against
 * influxd 1.6.7) relies on; the reader kept the backslash, so a point the
 * ring wrote came back renamed. */
TAP_CASE(escapes_the_writer_uses)
{
    struct lp_line *l = calloc(1, sizeof(*l));
    char err[128] = "";
    buf_init(&l->text, 1 << 16);
    TAP_EQ_INT(0, parse(l, "a\\=b\\\"c,t=x f\\\"k=1", 1, err));
    TAP_EQ_STR("a=b\"c", l->point.measurement);
    TAP_EQ_STR("f\"k", l->point.fields[0].key);
    /* any other backslash stays literal */
    TAP_EQ_INT(0, parse(l, "a\\xb,t=\\y f\\z=1", 1, err));
    TAP_EQ_STR("a\\xb", l->point.measurement);
    TAP_EQ_STR("\\y", l->point.tags[0].value);
    TAP_EQ_STR("f\\z", l->point.fields[0].key);
    /* found by fuzz_lpparse (crashes/lpparse-backslash-nul-empty-name): a
     * NUL after a backslash was taken for an escaped byte, leaving an empty
     * measurement; any NUL cut a name short */
    static const char nul1[] = "\\\0m v=1", nul2[] = "m,t=a\0b v=1";
    TAP_EQ_INT(-1, lpparse_line(l, nul1, sizeof(nul1) - 1, 1, 0, err, 128));
    TAP_EQ_STR("invalid NUL byte", err);
    TAP_EQ_INT(-1, lpparse_line(l, nul2, sizeof(nul2) - 1, 1, 0, err, 128));
    /* found by fuzz_lpparse (crashes/lpparse-int64-min-timestamp): the
     * floor to milliseconds negated INT64_MIN (UBSan), and a time the
     * writer's milliseconds cannot carry back was accepted */
    TAP_EQ_INT(-1, parse(l, "m v=1 -9223372036854775808", 1, err));
    TAP_EQ_STR("time outside range", err);
    TAP_EQ_INT(0, parse(l, "m v=1 -9223372036854000000", 1, err));
    TAP_OK(l->point.ts_ms == -9223372036854LL);
    TAP_EQ_INT(0, parse(l, "m v=1 -1", 1, err));
    TAP_OK(l->point.ts_ms == -1);
    lpparse_release(l);
    free(l);
}

static const struct tap_case cases[] = {
    TAP_ENTRY(escaping_types_and_sorted_tags),
    TAP_ENTRY(bad_lines_say_why),
    TAP_ENTRY(escapes_the_writer_uses),
};

int main(int argc, char **argv)
{
    return tap_main(cases, TAP_N(cases), argc, argv);
}
