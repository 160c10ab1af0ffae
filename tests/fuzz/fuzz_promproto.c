/*
 * fuzz_promproto: the /metrics protobuf writer, as a round trip through
 * protobuf-c's generated decoder.
 *
 * The input describes up to 64 samples, each joining a family (a new name,
 * or one seen before), with a type, help, labels and a value, added to an
 * expo model with expo_add(). The model is written by fmt_promproto_write()
 * and the delimited stream read back with varints and
 * io__prometheus__client__metric_family__unpack(). Properties: the stream
 * holds exactly the model's families that have samples, in first-seen
 * order, with the first type (counter, gauge, else untyped) and help each
 * was declared with, and every sample's labels and value in arrival order;
 * the varint framing covers the buffer exactly. The text and OpenMetrics
 * writers run on the same model (no crash, no leak).
 *
 * NUL bytes in the fuzzed strings are replaced: the model's strings are C
 * strings and its producers (promparse, lagwatch's own metrics) never hold
 * a NUL.
 */
#include <math.h>

#include "prom/expo.h"
#include "prom/fmt_promproto.h"
#include "sinks/prom/metrics.pb-c.h"
#include "tests/fuzz/fuzz_common.h"

#define MAX_SAMPLES 64
#define MAX_FAMS    16
#define MAX_LABELS  6

struct wsample {
    size_t nl;
    char *name[MAX_LABELS], *value[MAX_LABELS];
    double v;
};

struct wfam {
    char *name;
    char *help;
    enum metric_type type;
    struct wsample s[MAX_SAMPLES];
    size_t n;
};

static char *dup_n(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    FUZZ_CHECK(s != NULL, "malloc");
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static uint64_t get_varint(const uint8_t *p, size_t n, size_t *used)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n && i < 10; i++) {
        v |= (uint64_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *used = i + 1;
            return v;
        }
    }
    *used = 0;
    return 0;
}

static bool same_value(double a, double b)
{
    return a == b || (isnan(a) && isnan(b));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_logs();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t *copy = malloc(size ? size : 1);
    FUZZ_CHECK(copy != NULL, "malloc");
    for (size_t i = 0; i < size; i++)
        copy[i] = data[i] ? data[i] : 1;
#define IN_COPY(p) ((const char *)copy + ((p) - (const char *)data))
    struct fuzz_in in = {data, size};
    static struct wfam fam[MAX_FAMS];
    size_t nfam = 0;
    struct expo *e = expo_new(0);
    FUZZ_CHECK(e != NULL, "expo_new");
    for (size_t k = 0; k < MAX_SAMPLES && in.n > 0; k++) {
        uint8_t pick = fuzz_u8(&in);
        size_t name_len;
        const char *name;
        struct wfam *f = NULL;
        if (pick >= 0x80 && nfam > 0) {
            f = &fam[pick % nfam];
            name = f->name;
            name_len = strlen(name);
        } else {
            name = IN_COPY(fuzz_bytes(&in, 48, &name_len));
            for (size_t i = 0; i < nfam && !f; i++)
                if (strlen(fam[i].name) == name_len &&
                    memcmp(fam[i].name, name, name_len) == 0)
                    f = &fam[i];
        }
        enum metric_type type = (enum metric_type)(pick % 5);
        size_t help_len;
        const char *help = IN_COPY(fuzz_bytes(&in, 48, &help_len));
        bool no_help = pick & 0x20;
        size_t nl = fuzz_u8(&in) % (MAX_LABELS + 1);
        struct label l[MAX_LABELS];
        for (size_t i = 0; i < nl; i++) {
            size_t a, b;
            l[i].name = IN_COPY(fuzz_bytes(&in, 24, &a));
            l[i].value = IN_COPY(fuzz_bytes(&in, 48, &b));
            l[i].name_len = (uint32_t)a;
            l[i].value_len = (uint32_t)b;
        }
        uint8_t vk = fuzz_u8(&in);
        double v = vk < 0x40 ? fuzz_double(&in) : (double)vk - 0x80;
        if (!f && nfam == MAX_FAMS)
            continue; /* the model's table of expectations is full */
        int rc = expo_add(e, name, name_len, type, no_help ? NULL : help,
                          no_help ? 0 : help_len, l, nl, v);
        FUZZ_CHECK(rc == 0, "expo_add without a cap returned %d", rc);
        if (!f) {
            f = &fam[nfam++];
            f->name = dup_n(name, name_len);
            f->help = dup_n(no_help ? "" : help, no_help ? 0 : help_len);
            f->type =
                type == MT_COUNTER || type == MT_GAUGE ? type : MT_UNTYPED;
            f->n = 0;
        }
        struct wsample *w = &f->s[f->n++];
        w->nl = nl;
        for (size_t i = 0; i < nl; i++) {
            w->name[i] = dup_n(l[i].name, l[i].name_len);
            w->value[i] = dup_n(l[i].value, l[i].value_len);
        }
        w->v = v;
    }

    struct buf out = BUF_INIT;
    FUZZ_CHECK(fmt_promproto_write(e, &out) == 0, "fmt_promproto_write");
    const uint8_t *p = (const uint8_t *)out.data;
    size_t left = out.len, fi = 0;
    while (left > 0) {
        size_t used;
        uint64_t mlen = get_varint(p, left, &used);
        FUZZ_CHECK(used > 0 && mlen <= left - used, "bad frame at %zu",
                   out.len - left);
        Io__Prometheus__Client__MetricFamily *mf =
            io__prometheus__client__metric_family__unpack(NULL, mlen, p + used);
        FUZZ_CHECK(mf != NULL, "family %zu does not unpack", fi);
        FUZZ_CHECK(fi < nfam, "more families than added");
        const struct wfam *f = &fam[fi];
        FUZZ_CHECK(mf->name && strcmp(mf->name, f->name) == 0,
                   "family %zu is '%s', want '%s'", fi, mf->name, f->name);
        const char *help = mf->help ? mf->help : "";
        FUZZ_CHECK(strcmp(help, f->help) == 0, "help of '%s'", f->name);
        Io__Prometheus__Client__MetricType t =
            f->type == MT_COUNTER ? IO__PROMETHEUS__CLIENT__METRIC_TYPE__COUNTER
            : f->type == MT_GAUGE
                ? IO__PROMETHEUS__CLIENT__METRIC_TYPE__GAUGE
                : IO__PROMETHEUS__CLIENT__METRIC_TYPE__UNTYPED;
        FUZZ_CHECK(mf->has_type && mf->type == t, "type of '%s'", f->name);
        FUZZ_CHECK(mf->n_metric == f->n, "'%s': %zu metrics, want %zu", f->name,
                   mf->n_metric, f->n);
        for (size_t i = 0; i < f->n; i++) {
            const Io__Prometheus__Client__Metric *m = mf->metric[i];
            const struct wsample *w = &f->s[i];
            FUZZ_CHECK(m->n_label == w->nl, "'%s'[%zu]: %zu labels", f->name, i,
                       m->n_label);
            for (size_t j = 0; j < w->nl; j++)
                FUZZ_CHECK(strcmp(m->label[j]->name, w->name[j]) == 0 &&
                               strcmp(m->label[j]->value, w->value[j]) == 0,
                           "'%s'[%zu] label %zu", f->name, i, j);
            double got = NAN;
            bool has = false;
            if (f->type == MT_COUNTER && m->counter)
                got = m->counter->value, has = m->counter->has_value;
            else if (f->type == MT_GAUGE && m->gauge)
                got = m->gauge->value, has = m->gauge->has_value;
            else if (m->untyped)
                got = m->untyped->value, has = m->untyped->has_value;
            FUZZ_CHECK(has && same_value(got, w->v), "'%s'[%zu]: %g, want %g",
                       f->name, i, got, w->v);
        }
        io__prometheus__client__metric_family__free_unpacked(mf, NULL);
        p += used + mlen;
        left -= used + mlen;
        fi++;
    }
    FUZZ_CHECK(fi == nfam, "%zu families written, %zu added", fi, nfam);

    /* the other two writers of the same model */
    buf_reset(&out);
    FUZZ_CHECK(expo_encode(e, EXPO_TEXT, &out) == 0, "text writer");
    buf_reset(&out);
    FUZZ_CHECK(expo_encode(e, EXPO_OPENMETRICS, &out) == 0, "openmetrics");
    buf_release(&out);
    expo_free(&e);
    for (size_t i = 0; i < nfam; i++) {
        for (size_t k = 0; k < fam[i].n; k++)
            for (size_t j = 0; j < fam[i].s[k].nl; j++) {
                free(fam[i].s[k].name[j]);
                free(fam[i].s[k].value[j]);
            }
        free(fam[i].name);
        free(fam[i].help);
    }
    free(copy);
    return 0;
}
