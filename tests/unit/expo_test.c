/*
 * expo_test: the /metrics model and its three writers. Text and
 * OpenMetrics are checked against hand-written expositions; the protobuf
 * stream is decoded with protoc-c's generated code and compared, sample by
 * sample, with what the text writer's output parses to (promparse), and
 * with a table written by hand. Accept negotiation is table-driven, with
 * the headers Prometheus 2.42 sends.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/buf.h"
#include "prom/expo.h"
#include "prom/fmt_openmetrics.h"
#include "prom/fmt_promproto.h"
#include "pipeline/promparse.h"
#include "sinks/prom/metrics.pb-c.h"
#include "tests/lib/tap.h"

#define L(n, v)                                                                \
    {                                                                          \
        n, v, (uint32_t)strlen(n), (uint32_t)strlen(v)                         \
    }

/* Two families whose samples arrive interleaved, as series do across
 * targets, plus a counter and an undeclared family. */
static struct expo *small_model(void)
{
    struct expo *e = expo_new(0);
    struct label a[] = {L("job_name", "orders"), L("task_name", "Window")};
    struct label b[] = {L("job_name", "orders"), L("task_name", "Source")};
    static const char h1[] = "Busy ratio (max)";
    static const char h2[] = "Records in";
    expo_add(e, "flink_busy", 10, MT_GAUGE, h1, strlen(h1), a, 2, 0.987);
    expo_add(e, "flink_in", 8, MT_GAUGE, h2, strlen(h2), a, 2, 12);
    expo_add(e, "flink_busy", 10, MT_GAUGE, h1, strlen(h1), b, 2, 0.5);
    expo_add(e, "flink_in", 8, MT_GAUGE, h2, strlen(h2), b, 2, NAN);
    expo_family(e, "lw_cycles_total", "counter", "Cycles run");
    expo_sample(e, "lw_cycles_total", NULL, 0, 3);
    expo_sample(e, "lw_orphan", NULL, 0, INFINITY);
    return e;
}

TAP_CASE(text_groups_families)
{
    struct expo *e = small_model();
    struct buf b;
    buf_init(&b, 0);
    TAP_EQ_INT(0, expo_write_text(e, &b));
    TAP_EQ_STR("# HELP flink_busy Busy ratio (max)\n"
               "# TYPE flink_busy gauge\n"
               "flink_busy{job_name=\"orders\",task_name=\"Window\"} 0.987\n"
               "flink_busy{job_name=\"orders\",task_name=\"Source\"} 0.5\n"
               "# HELP flink_in Records in\n"
               "# TYPE flink_in gauge\n"
               "flink_in{job_name=\"orders\",task_name=\"Window\"} 12\n"
               "flink_in{job_name=\"orders\",task_name=\"Source\"} NaN\n"
               "# HELP lw_cycles_total Cycles run\n"
               "# TYPE lw_cycles_total counter\n"
               "lw_cycles_total 3\n"
               "# TYPE lw_orphan untyped\n"
               "lw_orphan +Inf\n",
               b.data);
    buf_release(&b);
    expo_free(&e);
    TAP_OK(e == NULL);
}

TAP_CASE(openmetrics)
{
    struct expo *e = small_model();
    struct label x[] = {L("path", "a\\b\"c\nd")};
    expo_family(e, "lw_odd", "counter", "no \"suffix\"\\ here\n");
    expo_sample(e, "lw_odd", x, 1, 1);
    struct buf b;
    buf_init(&b, 0);
    TAP_EQ_INT(0, fmt_openmetrics_write(e, &b));
    TAP_EQ_STR("# TYPE flink_busy gauge\n"
               "# HELP flink_busy Busy ratio (max)\n"
               "flink_busy{job_name=\"orders\",task_name=\"Window\"} 0.987\n"
               "flink_busy{job_name=\"orders\",task_name=\"Source\"} 0.5\n"
               "# TYPE flink_in gauge\n"
               "# HELP flink_in Records in\n"
               "flink_in{job_name=\"orders\",task_name=\"Window\"} 12\n"
               "flink_in{job_name=\"orders\",task_name=\"Source\"} NaN\n"
               "# TYPE lw_cycles counter\n"
               "# HELP lw_cycles Cycles run\n"
               "lw_cycles_total 3\n"
               "# TYPE lw_orphan unknown\n"
               "lw_orphan +Inf\n"
               "# TYPE lw_odd unknown\n"
               "# HELP lw_odd no \\\"suffix\\\"\\\\ here\\n\n"
               "lw_odd{path=\"a\\\\b\\\"c\\nd\"} 1\n"
               "# EOF\n",
               b.data);
    buf_release(&b);
    expo_free(&e);
}

TAP_CASE(text_escaping)
{
    struct expo *e = expo_new(0);
    struct label x[] = {L("path", "a\\b\"c\nd")};
    expo_family(e, "lw_x", "gauge", "back\\slash\nnewline \"q\"");
    expo_sample(e, "lw_x", x, 1, -2.5e-7);
    struct buf b;
    buf_init(&b, 0);
    TAP_EQ_INT(0, expo_encode(e, EXPO_TEXT, &b));
    TAP_EQ_STR("# HELP lw_x back\\\\slash\\nnewline \"q\"\n"
               "# TYPE lw_x gauge\n"
               "lw_x{path=\"a\\\\b\\\"c\\nd\"} -2.5e-07\n",
               b.data);
    buf_release(&b);
    expo_free(&e);
}

/* ---- protobuf against text ---- */

struct flat {
    char **v;
    size_t n, cap;
};

static void flat_add(struct flat *f, const char *type, const char *name,
                     const struct label *l, size_t nl, double v)
{
    struct buf b;
    buf_init(&b, 0);
    buf_addf(&b, "%s %s{", type, name);
    for (size_t i = 0; i < nl; i++)
        buf_addf(&b, "%s%.*s=%.*s", i ? "," : "", (int)l[i].name_len, l[i].name,
                 (int)l[i].value_len, l[i].value);
    buf_addf(&b, "} %.17g", v);
    if (f->n == f->cap) {
        f->cap = f->cap ? f->cap * 2 : 64;
        f->v = realloc(f->v, f->cap * sizeof(*f->v));
    }
    f->v[f->n++] = buf_detach(&b, NULL);
    buf_release(&b);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void flat_free(struct flat *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->v[i]);
    free(f->v);
}

static int from_text(void *ctx, const struct sample *s)
{
    static const char *const tn[] = {"untyped", "counter", "gauge", "summary",
                                     "histogram"};
    char name[256];
    snprintf(name, sizeof(name), "%.*s", (int)s->name_len, s->name);
    flat_add(ctx, tn[s->type], name, s->labels, s->nlabels, s->value);
    return 0;
}

/* Decodes a delimited MetricFamily stream; -1 on any malformation. */
static int from_proto(const uint8_t *p, size_t len, struct flat *f,
                      size_t *nfam)
{
    size_t off = 0;
    *nfam = 0;
    while (off < len) {
        uint64_t size = 0;
        int shift = 0;
        for (;;) {
            if (off >= len || shift > 63)
                return -1;
            uint8_t c = p[off++];
            size |= (uint64_t)(c & 0x7f) << shift;
            shift += 7;
            if (!(c & 0x80))
                break;
        }
        if (size > len - off)
            return -1;
        Io__Prometheus__Client__MetricFamily *mf =
            io__prometheus__client__metric_family__unpack(NULL, size, p + off);
        if (!mf)
            return -1;
        off += size;
        (*nfam)++;
        const char *type =
            mf->type == IO__PROMETHEUS__CLIENT__METRIC_TYPE__COUNTER ? "counter"
            : mf->type == IO__PROMETHEUS__CLIENT__METRIC_TYPE__GAUGE
                ? "gauge"
                : "untyped";
        for (size_t i = 0; i < mf->n_metric; i++) {
            const Io__Prometheus__Client__Metric *m = mf->metric[i];
            struct label l[16];
            size_t nl = m->n_label < 16 ? m->n_label : 16;
            for (size_t j = 0; j < nl; j++)
                l[j] = (struct label)L(m->label[j]->name, m->label[j]->value);
            double v = m->gauge     ? m->gauge->value
                       : m->counter ? m->counter->value
                       : m->untyped ? m->untyped->value
                                    : -12345;
            flat_add(f, type, mf->name, l, nl, v);
        }
        io__prometheus__client__metric_family__free_unpacked(mf, NULL);
    }
    return 0;
}

static int from_text_body(const char *data, size_t len, struct flat *f)
{
    struct promparse_opts o = {.target = "expo_test"};
    struct promparse *pp = promparse_new(&o, from_text, f);
    int rc = promparse_feed(pp, data, len);
    if (promparse_finish(pp) < 0)
        rc = -1;
    struct promparse_stats st;
    promparse_get_stats(pp, &st);
    promparse_free(&pp);
    return rc < 0 || st.errors ? -1 : 0;
}

static bool same(struct flat *a, struct flat *b)
{
    if (a->n != b->n)
        return false;
    qsort(a->v, a->n, sizeof(*a->v), cmp_str);
    qsort(b->v, b->n, sizeof(*b->v), cmp_str);
    for (size_t i = 0; i < a->n; i++)
        if (strcmp(a->v[i], b->v[i]) != 0) {
            printf("# differ: '%s' vs '%s'\n", a->v[i], b->v[i]);
            return false;
        }
    return true;
}

TAP_CASE(protobuf_small_by_hand)
{
    struct expo *e = small_model();
    struct buf b;
    buf_init(&b, 0);
    TAP_EQ_INT(0, expo_encode(e, EXPO_PROTOBUF, &b));
    struct flat got = {0}, want = {0};
    size_t nfam;
    TAP_EQ_INT(0, from_proto((const uint8_t *)b.data, b.len, &got, &nfam));
    TAP_EQ_INT(4, (int)nfam);
    struct label a[] = {L("job_name", "orders"), L("task_name", "Window")};
    struct label s[] = {L("job_name", "orders"), L("task_name", "Source")};
    flat_add(&want, "gauge", "flink_busy", a, 2, 0.987);
    flat_add(&want, "gauge", "flink_busy", s, 2, 0.5);
    flat_add(&want, "gauge", "flink_in", a, 2, 12);
    flat_add(&want, "gauge", "flink_in", s, 2, NAN);
    flat_add(&want, "counter", "lw_cycles_total", NULL, 0, 3);
    flat_add(&want, "untyped", "lw_orphan", NULL, 0, INFINITY);
    TAP_OK(same(&got, &want));
    flat_free(&got);
    flat_free(&want);
    buf_release(&b);
    expo_free(&e);
}

/* A model whose only family has no labels at all (found by the promproto
 * fuzzer: the label array was then NULL and its first element's address
 * undefined behaviour, tests/fuzz/crashes/promproto-unlabelled-family-null-
 * offset). Run under UBSan this fails without the fix. */
TAP_CASE(protobuf_unlabelled_only)
{
    struct expo *e = expo_new(0);
    expo_family(e, "lw_cycles_total", "counter", "Cycles run");
    expo_sample(e, "lw_cycles_total", NULL, 0, 3);
    struct buf b;
    buf_init(&b, 0);
    TAP_EQ_INT(0, expo_encode(e, EXPO_PROTOBUF, &b));
    struct flat got = {0}, want = {0};
    size_t nfam;
    TAP_EQ_INT(0, from_proto((const uint8_t *)b.data, b.len, &got, &nfam));
    TAP_EQ_INT(1, (int)nfam);
    flat_add(&want, "counter", "lw_cycles_total", NULL, 0, 3);
    TAP_OK(same(&got, &want));
    flat_free(&got);
    flat_free(&want);
    buf_release(&b);
    expo_free(&e);
}

/* A model shaped like a big Flink cluster: many families, interleaved,
 * shared label values. */
static struct expo *big_model(size_t nseries, size_t max_bytes)
{
    struct expo *e = expo_new(max_bytes);
    char fam[64], task[32], sub[24];
    for (size_t i = 0; i < nseries; i++) {
        snprintf(fam, sizeof(fam), "flink_taskmanager_job_task_m%zu_max",
                 i % 97);
        snprintf(task, sizeof(task), "task-%zu", (i / 97) % 50);
        snprintf(sub, sizeof(sub), "%zu", i / (97 * 50));
        struct label l[] = {L("flink_cluster", "prod"),
                            L("job_name", "orders \"enrich\""),
                            L("subtask", sub), L("task_name", task)};
        if (expo_add(e, fam, strlen(fam), i % 3 ? MT_GAUGE : MT_COUNTER,
                     "help\\text", 9, l, 4, (double)i * 0.25) < 0)
            break;
    }
    return e;
}

TAP_CASE(protobuf_equals_text)
{
    struct expo *e = big_model(20000, 0);
    struct buf t, p;
    buf_init(&t, 0);
    buf_init(&p, 0);
    TAP_EQ_INT(0, expo_encode(e, EXPO_TEXT, &t));
    TAP_EQ_INT(0, expo_encode(e, EXPO_PROTOBUF, &p));
    struct flat ft = {0}, fp = {0};
    size_t nfam;
    TAP_EQ_INT(0, from_text_body(t.data, t.len, &ft));
    TAP_EQ_INT(0, from_proto((const uint8_t *)p.data, p.len, &fp, &nfam));
    TAP_EQ_INT(97, (int)nfam);
    TAP_EQ_INT(20000, (int)ft.n);
    TAP_OK(same(&ft, &fp));
    flat_free(&ft);
    flat_free(&fp);
    buf_release(&t);
    buf_release(&p);
    expo_free(&e);
}

TAP_CASE(cap_refuses_and_counts)
{
    struct expo *e = big_model(5000, 64 * 1024);
    size_t nf, ns;
    const struct expo_family *f = expo_families(e, &nf);
    expo_samples(e, &ns);
    TAP_OK(ns > 100 && ns < 5000);
    TAP_OK(expo_bytes(e) <= 64 * 1024);
    TAP_EQ_INT(1, (int)expo_dropped(e)); /* big_model stops at the first */
    size_t sum = 0;
    for (size_t i = 0; i < nf; i++)
        sum += f[i].nsamples;
    TAP_EQ_INT((int)ns, (int)sum);
    /* refused again while capped, accepted once the cap is lifted */
    static char big[2048];
    memset(big, 'x', sizeof(big) - 1);
    struct label bl[] = {L("big", big)};
    TAP_EQ_INT(-1, expo_sample(e, "lw_more", bl, 1, 1));
    TAP_EQ_INT(2, (int)expo_dropped(e));
    expo_set_max_bytes(e, 0);
    TAP_EQ_INT(0, expo_family(e, "lw_more", "gauge", "more"));
    TAP_EQ_INT(0, expo_sample(e, "lw_more", bl, 1, 1));
    struct buf t;
    buf_init(&t, 0);
    TAP_EQ_INT(0, expo_write_text(e, &t));
    struct flat ft = {0};
    TAP_EQ_INT(0, from_text_body(t.data, t.len, &ft));
    TAP_EQ_INT((int)ns + 1, (int)ft.n);
    flat_free(&ft);
    buf_release(&t);
    expo_free(&e);
}

TAP_CASE(memory_grows_with_series_not_strings)
{
    /* label strings repeat: the model must cost far less than the text */
    struct expo *e = big_model(20000, 0);
    struct buf t;
    buf_init(&t, 0);
    expo_write_text(e, &t);
    printf("# 20000 series: model %zu bytes, text %zu bytes\n", expo_bytes(e),
           t.len);
    TAP_OK(expo_bytes(e) < t.len / 2);
    TAP_OK(expo_bytes(e) < 20000 * 64);
    buf_release(&t);
    expo_free(&e);
}

TAP_CASE(response_cap)
{
    struct expo *e = big_model(1000, 0);
    for (int f = 0; f < EXPO_FORMAT_N_; f++) {
        struct buf b;
        buf_init(&b, 4096);
        TAP_EQ_INT(-1, expo_encode(e, (enum expo_format)f, &b));
        TAP_OK(b.len <= 4096);
        buf_release(&b);
    }
    expo_free(&e);
}

/* What Prometheus 2.42 sends: by default, and with
 * --enable-feature=native-histograms. */
#define PROM_DEFAULT                                                           \
    "application/openmetrics-text;version=1.0.0,application/openmetrics-"      \
    "text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
#define PROM_PROTOBUF                                                          \
    "application/vnd.google.protobuf;proto=io.prometheus.client."              \
    "MetricFamily;encoding=delimited,application/openmetrics-text;"            \
    "version=1.0.0;q=0.8,application/openmetrics-text;version=0.0.1;"          \
    "q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"

TAP_CASE(negotiate)
{
    static const struct {
        const char *accept;
        enum expo_format want;
    } cases[] = {
        {NULL, EXPO_TEXT},
        {"", EXPO_TEXT},
        {"*/*", EXPO_TEXT},
        {"text/plain", EXPO_TEXT},
        {"text/plain; version=0.0.4; charset=utf-8", EXPO_TEXT},
        {PROM_DEFAULT, EXPO_OPENMETRICS},
        {PROM_PROTOBUF, EXPO_PROTOBUF},
        {"application/openmetrics-text", EXPO_OPENMETRICS},
        {"Application/OpenMetrics-Text; Version=1.0.0", EXPO_OPENMETRICS},
        {"application/openmetrics-text; version=\"0.0.1\"", EXPO_OPENMETRICS},
        {"application/openmetrics-text;version=2.0.0", EXPO_TEXT},
        {"text/plain;q=0.5, application/openmetrics-text;q=0.4", EXPO_TEXT},
        {"text/plain;q=0.5, application/openmetrics-text;q=0.6",
         EXPO_OPENMETRICS},
        /* equal q: the first listed wins */
        {"application/openmetrics-text;q=0.5,text/plain;q=0.5",
         EXPO_OPENMETRICS},
        {"text/plain;q=0.5,application/openmetrics-text;q=0.5", EXPO_TEXT},
        /* q=0 means not acceptable */
        {"application/openmetrics-text;q=0,text/plain;q=0.1", EXPO_TEXT},
        {"application/openmetrics-text;q=0", EXPO_TEXT},
        /* protobuf only as the delimited MetricFamily stream */
        {"application/vnd.google.protobuf", EXPO_TEXT},
        {"application/vnd.google.protobuf;proto=io.prometheus.client."
         "MetricFamily;encoding=text,text/plain;q=0.1",
         EXPO_TEXT},
        {"application/vnd.google.protobuf; proto=io.prometheus.client."
         "MetricFamily; encoding=delimited",
         EXPO_PROTOBUF},
        {"application/json, text/html", EXPO_TEXT},
        {"text/*;q=0.9, application/openmetrics-text;q=0.8", EXPO_TEXT},
        {"application/openmetrics-text;q=abc, text/plain;q=0.1", EXPO_TEXT},
        {",,;;=,q=1", EXPO_TEXT},
    };
    for (size_t i = 0; i < TAP_N(cases); i++) {
        enum expo_format got = expo_negotiate(cases[i].accept);
        if (got != cases[i].want)
            printf("# accept '%s'\n",
                   cases[i].accept ? cases[i].accept : "(null)");
        TAP_EQ_INT((int)cases[i].want, (int)got);
    }
    TAP_OK(strstr(expo_content_type(EXPO_PROTOBUF), "encoding=delimited"));
    TAP_OK(strstr(expo_content_type(EXPO_OPENMETRICS), "version=1.0.0"));
    TAP_OK(strstr(expo_content_type(EXPO_TEXT), "version=0.0.4"));
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

TAP_CASE(encode_speed)
{
    /* 100k series; the budget is generous for sanitizer builds */
    double t0 = now_s();
    struct expo *e = big_model(100000, 0);
    double t1 = now_s();
    printf("# build 100k series: %.3f s, %zu bytes\n", t1 - t0, expo_bytes(e));
    for (int f = 0; f < EXPO_FORMAT_N_; f++) {
        struct buf b;
        buf_init(&b, 0);
        double s0 = now_s();
        TAP_EQ_INT(0, expo_encode(e, (enum expo_format)f, &b));
        double s1 = now_s();
        printf("# format %d: %zu bytes in %.3f s\n", f, b.len, s1 - s0);
        TAP_OK(s1 - s0 < 3.0);
        buf_release(&b);
    }
    expo_free(&e);
}

/* A model sized for the previous one encodes the same as one grown step
 * by step, also with more series than the previous one held. */
TAP_CASE(presize_changes_nothing_but_capacity)
{
    struct expo *prev = small_model();
    struct expo_size sz;
    expo_size_of(prev, &sz);
    TAP_EQ_INT(4, sz.fams);
    TAP_EQ_INT(6, sz.samples);
    TAP_EQ_INT(2, sz.lsets);
    struct buf want, got;
    buf_init(&want, 0);
    buf_init(&got, 0);
    for (int round = 0; round < 2; round++) {
        struct expo *e = expo_new(0);
        struct expo *ref = expo_new(0);
        expo_presize(e, &sz);
        for (int i = 0; i < 3000 * round + 3; i++) {
            char v[16];
            snprintf(v, sizeof(v), "t%d", i % 1500);
            struct label l[] = {L("job_name", "orders"), L("task_name", v)};
            expo_add(e, "flink_in", 8, MT_GAUGE, "h", 1, l, 2, i);
            expo_add(ref, "flink_in", 8, MT_GAUGE, "h", 1, l, 2, i);
        }
        buf_reset(&want);
        buf_reset(&got);
        TAP_EQ_INT(0, expo_write_text(ref, &want));
        TAP_EQ_INT(0, expo_write_text(e, &got));
        TAP_EQ_STR(want.data, got.data);
        TAP_EQ_INT(expo_bytes(ref), expo_bytes(e));
        expo_size_of(e, &sz);
        expo_free(&e);
        expo_free(&ref);
    }
    /* job_name, orders, task_name, 1500 task names, the family, its help */
    TAP_EQ_INT(1505, sz.strs);
    TAP_EQ_INT(1500, sz.lsets);
    buf_release(&want);
    buf_release(&got);
    expo_free(&prev);
}

int main(int argc, char **argv)
{
    static const struct tap_case cases[] = {
        TAP_ENTRY(text_groups_families),
        TAP_ENTRY(openmetrics),
        TAP_ENTRY(text_escaping),
        TAP_ENTRY(protobuf_small_by_hand),
        TAP_ENTRY(protobuf_unlabelled_only),
        TAP_ENTRY(protobuf_equals_text),
        TAP_ENTRY(cap_refuses_and_counts),
        TAP_ENTRY(memory_grows_with_series_not_strings),
        TAP_ENTRY(response_cap),
        TAP_ENTRY(negotiate),
        TAP_ENTRY(encode_speed),
        TAP_ENTRY(presize_changes_nothing_but_capacity),
    };
    return tap_main(cases, TAP_N(cases), argc, argv);
}
