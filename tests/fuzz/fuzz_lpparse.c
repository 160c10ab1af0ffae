/*
 * fuzz_lpparse: the proxy's line protocol reader (proxy/lpparse.h) against
 * the sink's writer (influx/lineproto.h), an independent encoder.
 *
 * Input: byte 0 picks the precision (ns u ms s m h) and whether the text
 * buffer gets a small cap (its "line too long" path); the rest is a /write
 * body, cut into lines by lpparse_next_line(), as the proxy cuts it.
 * Properties:
 *   - a rejected line gets a reason (NUL-terminated, not empty), and the
 *     body's tally accepted + rejected is the number of lines tried, the
 *     first rejected one being the one the proxy would name;
 *   - an accepted line is a well-formed point: a non-empty measurement,
 *     tags sorted by key with non-empty keys and values and their lengths
 *     right, 1..LPPARSE_MAX_FIELDS fields with non-empty keys and a string
 *     for string fields;
 *   - re-encoded with lineproto_encode() and parsed again (precision ms, as
 *     the writer sends), it gives the same point: measurement, tags, field
 *     keys, kinds and values (float bits), timestamp. Lines the writer
 *     skips or trims (its documented rules: "time" keys, duplicate tags,
 *     '#'-led measurements, backslash runs it cannot write) are only
 *     counted.
 */
#include <math.h>

#include "influx/lineproto.h"
#include "proxy/lpparse.h"
#include "tests/fuzz/fuzz_common.h"

#define NOW_NS 1700000000123456789LL

static struct lp_line *one, *two;
static struct buf enc;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_logs();
    one = calloc(1, sizeof(*one));
    two = calloc(1, sizeof(*two));
    FUZZ_CHECK(one && two, "calloc");
    buf_init(&two->text, 1u << 20);
    buf_init(&enc, 1u << 20);
    return 0;
}

static void check_point(const struct point *p, const char *line, size_t ll)
{
    FUZZ_CHECK(p->measurement && p->measurement[0], "empty measurement: %.*s",
               (int)ll, line);
    FUZZ_CHECK(p->ntags <= LPPARSE_MAX_TAGS, "%zu tags", p->ntags);
    for (size_t i = 0; i < p->ntags; i++) {
        const struct label *t = &p->tags[i];
        FUZZ_CHECK(t->name && t->value && t->name_len > 0 && t->value_len > 0,
                   "empty tag %zu", i);
        FUZZ_CHECK(strlen(t->name) == t->name_len &&
                       strlen(t->value) == t->value_len,
                   "tag %zu lengths", i);
        if (i > 0)
            FUZZ_CHECK(strcmp(p->tags[i - 1].name, t->name) <= 0,
                       "tags %s, %s not sorted", p->tags[i - 1].name, t->name);
    }
    FUZZ_CHECK(p->nfields >= 1 && p->nfields <= LPPARSE_MAX_FIELDS,
               "%zu fields", p->nfields);
    for (size_t i = 0; i < p->nfields; i++) {
        const struct field *f = &p->fields[i];
        FUZZ_CHECK(f->key && f->key[0], "field %zu without a key", i);
        FUZZ_CHECK(f->kind != FIELD_STRING || f->s != NULL,
                   "string field %s without a value", f->key);
        if (f->kind == FIELD_FLOAT)
            FUZZ_CHECK(isfinite(f->f), "field %s = %g", f->key, f->f);
    }
}

static void same_point(const struct point *a, const struct point *b,
                       const char *line, size_t ll)
{
    const char *enc_line = enc.data;
    FUZZ_CHECK(strcmp(a->measurement, b->measurement) == 0,
               "measurement '%s' came back '%s' (line '%.*s', written '%s')",
               a->measurement, b->measurement, (int)ll, line, enc_line);
    FUZZ_CHECK(a->ntags == b->ntags, "%zu tags came back %zu (written '%s')",
               a->ntags, b->ntags, enc_line);
    for (size_t i = 0; i < a->ntags; i++)
        FUZZ_CHECK(strcmp(a->tags[i].name, b->tags[i].name) == 0 &&
                       strcmp(a->tags[i].value, b->tags[i].value) == 0,
                   "tag '%s'='%s' came back '%s'='%s' (written '%s')",
                   a->tags[i].name, a->tags[i].value, b->tags[i].name,
                   b->tags[i].value, enc_line);
    FUZZ_CHECK(a->nfields == b->nfields,
               "%zu fields came back %zu (written '%s')", a->nfields,
               b->nfields, enc_line);
    for (size_t i = 0; i < a->nfields; i++) {
        const struct field *x = &a->fields[i], *y = &b->fields[i];
        FUZZ_CHECK(strcmp(x->key, y->key) == 0 && x->kind == y->kind,
                   "field '%s' kind %d came back '%s' kind %d (written '%s')",
                   x->key, x->kind, y->key, y->kind, enc_line);
        bool eq = false;
        switch (x->kind) {
        case FIELD_FLOAT:
            eq = memcmp(&x->f, &y->f, sizeof(x->f)) == 0;
            break;
        case FIELD_INT:
            eq = x->i == y->i;
            break;
        case FIELD_BOOL:
            eq = x->b == y->b;
            break;
        case FIELD_STRING:
            eq = strcmp(x->s, y->s) == 0;
            break;
        default:
            FUZZ_CHECK(0, "field kind %d", x->kind);
        }
        FUZZ_CHECK(eq, "field '%s' value changed (written '%s')", x->key,
                   enc_line);
    }
    FUZZ_CHECK(a->ts_ms == b->ts_ms, "ts %lld came back %lld (written '%s')",
               (long long)a->ts_ms, (long long)b->ts_ms, enc_line);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int64_t precs[] = {1,
                                    1000,
                                    1000000,
                                    1000000000LL,
                                    60LL * 1000000000LL,
                                    3600LL * 1000000000LL};
    if (size < 1)
        return 0;
    uint8_t opt = data[0];
    int64_t prec = precs[(opt & 7) % 6];
    buf_init(&one->text, (opt & 8) ? 64 : 1u << 20);
    const char *body = (const char *)data + 1;
    size_t len = size - 1;

    size_t tried = 0, accepted = 0, rejected = 0, first_bad = 0;
    bool have_bad = false;
    size_t pos = 0;
    const char *line;
    size_t ll;
    while (lpparse_next_line(body, len, &pos, &line, &ll)) {
        tried++;
        char why[128];
        memset(why, 0x55, sizeof(why));
        if (lpparse_line(one, line, ll, prec, NOW_NS, why, sizeof(why)) < 0) {
            FUZZ_CHECK(memchr(why, '\0', sizeof(why)) != NULL && why[0],
                       "line %zu rejected without a reason", tried);
            if (!have_bad) {
                have_bad = true;
                first_bad = tried;
            }
            rejected++;
            continue;
        }
        accepted++;
        const struct point *p = &one->point;
        check_point(p, line, ll);

        buf_reset(&enc);
        struct lineproto_stats st = {0};
        int rc = lineproto_encode(&enc, p, &st);
        FUZZ_CHECK(rc >= 0, "lineproto_encode %d", rc);
        if (rc == 1 || st.fields_invalid || st.fields_nonfinite ||
            st.tags_empty)
            continue; /* the writer's own rules dropped something */
        FUZZ_CHECK(enc.len > 0 && enc.data[enc.len - 1] == '\n',
                   "encoded line without its newline");
        char why2[128];
        rc = lpparse_line(two, enc.data, enc.len - 1, 1000000, 0, why2,
                          sizeof(why2));
        FUZZ_CHECK(rc == 0, "'%.*s' re-encoded as '%.*s' is refused: %s",
                   (int)ll, line, (int)enc.len - 1, enc.data, why2);
        same_point(p, &two->point, line, ll);
    }
    FUZZ_CHECK(accepted + rejected == tried, "%zu + %zu of %zu lines", accepted,
               rejected, tried);
    FUZZ_CHECK(have_bad == (rejected > 0) && (!have_bad || first_bad >= 1),
               "first bad line %zu of %zu rejected", first_bad, rejected);
    lpparse_release(one);
    return 0;
}
