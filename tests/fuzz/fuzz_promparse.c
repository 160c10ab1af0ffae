/*
 * fuzz_promparse: the Prometheus text exposition parser, streamed, and trim
 * on what it parses.
 *
 * Input: byte 0 picks the options (max_line, max_labels, whether the chunked
 * parse uses the SSE2 scan), the rest is the body. The body is parsed twice:
 * once in one feed, once cut into chunks whose sizes come from a PRNG seeded
 * by the input, so every streaming boundary (inside an escape, between \r
 * and \n, inside a number) is met. Properties:
 *   - the two parses hand out the same samples (a digest of every field) and
 *     the same stats: streaming is invisible, and the AVX2 and SSE2 label
 *     scans agree;
 *   - every sample's strings are NUL-terminated at their length;
 *   - every series trim emits has its labels sorted by name, unique, non
 *     empty and within max_label_bytes (trim.h's contract).
 */
#include <math.h>

#include "pipeline/promparse.h"
#include "pipeline/trim.h"
#include "tests/fuzz/fuzz_common.h"

#define MAX_LABEL_BYTES 256

struct digest {
    uint64_t h;
    uint64_t n;
    struct promparse *p; /* for the label shape */
    struct trim *t;      /* NULL: do not trim */
};

static void check_str(const char *s, size_t len, const char *what)
{
    FUZZ_CHECK(s != NULL && s[len] == '\0', "%s not NUL-terminated", what);
}

static int on_sample(void *ctx, const struct sample *s)
{
    struct digest *d = ctx;
    check_str(s->name, s->name_len, "name");
    check_str(s->family, s->family_len, "family");
    if (s->help)
        check_str(s->help, s->help_len, "help");
    FUZZ_CHECK(s->nlabels <= PROMPARSE_DEFAULT_MAX_LABELS, "%zu labels",
               s->nlabels);
    uint64_t h = d->h;
    h = fuzz_hash(h, s->name, s->name_len + 1);
    h = fuzz_hash(h, s->family, s->family_len + 1);
    h = fuzz_hash(h, &s->type, sizeof(s->type));
    if (s->help)
        h = fuzz_hash(h, s->help, s->help_len + 1);
    for (size_t i = 0; i < s->nlabels; i++) {
        const struct label *l = &s->labels[i];
        check_str(l->name, l->name_len, "label name");
        check_str(l->value, l->value_len, "label value");
        h = fuzz_hash(h, l->name, l->name_len + 1);
        h = fuzz_hash(h, l->value, l->value_len + 1);
    }
    /* NaN payloads are whatever strtod makes; both parses use the same
     * code, but fold every NaN to one so the digest tests meaning */
    double v = isnan(s->value) ? NAN : s->value;
    h = fuzz_hash(h, &v, sizeof(v));
    h = fuzz_hash(h, &s->has_ts, sizeof(s->has_ts));
    if (s->has_ts)
        h = fuzz_hash(h, &s->ts_ms, sizeof(s->ts_ms));
    d->h = h;
    d->n++;
    if (d->t) {
        static const struct label extra[] = {
            {"flink_cluster", "fuzz", 13, 4},
        };
        int rc = trim_sample_shaped(d->t, s, d->p, promparse_label_shape(d->p),
                                    extra, 1, 1700000000000);
        FUZZ_CHECK(rc == 0, "trim_sample_shaped returned %d", rc);
    }
    return 0;
}

static int label_cmp(const struct label *a, const struct label *b)
{
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    int c = memcmp(a->name, b->name, n);
    if (c)
        return c;
    return a->name_len < b->name_len ? -1 : a->name_len > b->name_len;
}

static int on_series(void *ctx, const struct series *s)
{
    (void)ctx;
    check_str(s->name, s->name_len, "series name");
    FUZZ_CHECK(s->name_len > 0, "empty series name");
    for (size_t i = 0; i < s->nlabels; i++) {
        const struct label *l = &s->labels[i];
        FUZZ_CHECK(l->value_len > 0, "empty value of label %s", l->name);
        FUZZ_CHECK(l->name_len <= MAX_LABEL_BYTES &&
                       l->value_len <= MAX_LABEL_BYTES,
                   "label %s longer than max_label_bytes", l->name);
        if (i > 0)
            FUZZ_CHECK(label_cmp(&s->labels[i - 1], l) < 0,
                       "labels %s, %s not sorted/unique", s->labels[i - 1].name,
                       l->name);
    }
    if (s->folded)
        FUZZ_CHECK(s->count > 0, "a fold group of no subtask");
    return 0;
}

static struct trim *new_trim(void)
{
    static char *drop[] = {"task_attempt_id", "task_attempt_num", "tm_id",
                           "host"};
    static char *fold[] = {"numRecords.*", "busyTimeMsPerSecond",
                           "currentInputWatermark"};
    static char *fields[] = {"max", "sum", "avg"};
    static char *src[] = {"job_name", "task_name"};
    static struct cfg_relabel rl[] = {
        {.action = RELABEL_REPLACE,
         .source_labels = src,
         .n_source_labels = 2,
         .separator = ";",
         .regex = "(.+);(.*)",
         .target_label = "job_task",
         .replacement = "$1/$2"},
        {.action = RELABEL_LABELDROP,
         .separator = ";",
         .regex = "tmp_.*",
         .replacement = "$1"},
    };
    struct cfg_trim c = {
        .drop_labels = drop,
        .n_drop_labels = 4,
        .drop_labels_match = "flink_taskmanager_job_.*",
        .fold_metrics = fold,
        .n_fold_metrics = 3,
        .fold_fields = fields,
        .n_fold_fields = 3,
        .relabel = rl,
        .n_relabel = 2,
        /* small, so that the cap's drop path is reached too */
        .max_series = 500,
        .max_label_bytes = MAX_LABEL_BYTES,
    };
    char err[256];
    struct trim *t = trim_new(&c, on_series, NULL, err, sizeof(err));
    FUZZ_CHECK(t != NULL, "trim_new: %s", err);
    return t;
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
    if (size < 1)
        return 0;
    uint8_t opt = data[0];
    const char *body = (const char *)data + 1;
    size_t len = size - 1;

    /* small limits half the time, so that the over-long line and too many
     * labels paths are reached with small inputs */
    struct promparse_opts o = {
        .target = "fuzz",
        .max_line = (opt & 1) ? 64 + (opt >> 4) * 16 : 0,
        .max_labels = (opt & 2) ? 1 + (opt >> 5) : 0,
    };
    struct digest whole = {0}, chunked = {0};

    struct promparse *p = promparse_new(&o, on_sample, &whole);
    FUZZ_CHECK(p != NULL, "promparse_new");
    whole.p = p;
    whole.t = (opt & 8) ? new_trim() : NULL;
    int rc = promparse_feed(p, body, len);
    FUZZ_CHECK(rc == 0, "feed returned %d", rc);
    rc = promparse_finish(p);
    FUZZ_CHECK(rc == 0, "finish returned %d", rc);
    struct promparse_stats sw;
    promparse_get_stats(p, &sw);
    if (whole.t) {
        rc = trim_flush(whole.t);
        FUZZ_CHECK(rc == 0, "trim_flush returned %d", rc);
        trim_free(&whole.t);
    }
    promparse_free(&p);

    o.no_avx2 = (opt & 4) != 0;
    p = promparse_new(&o, on_sample, &chunked);
    FUZZ_CHECK(p != NULL, "promparse_new");
    chunked.p = p;
    uint64_t seed = fuzz_hash(0, data, size);
    size_t off = 0;
    while (off < len) {
        /* mostly tiny chunks (1..8 bytes), sometimes a larger one */
        uint64_t r = fuzz_rand(&seed);
        size_t n = (r & 3) ? 1 + (r >> 8) % 8 : 1 + (r >> 8) % 512;
        if (n > len - off)
            n = len - off;
        /* an empty feed now and then: must be a no-op */
        if ((r & 0xf0) == 0)
            FUZZ_CHECK(promparse_feed(p, body + off, 0) == 0, "empty feed");
        rc = promparse_feed(p, body + off, n);
        FUZZ_CHECK(rc == 0, "chunked feed returned %d", rc);
        off += n;
    }
    rc = promparse_finish(p);
    FUZZ_CHECK(rc == 0, "chunked finish returned %d", rc);
    struct promparse_stats sc;
    promparse_get_stats(p, &sc);

    FUZZ_CHECK(whole.n == chunked.n && whole.h == chunked.h,
               "chunked parse differs: %llu vs %llu samples",
               (unsigned long long)whole.n, (unsigned long long)chunked.n);
    FUZZ_CHECK(sw.lines == sc.lines && sw.samples == sc.samples &&
                   sw.errors == sc.errors && sw.families == sc.families,
               "stats differ: lines %llu/%llu errors %llu/%llu",
               (unsigned long long)sw.lines, (unsigned long long)sc.lines,
               (unsigned long long)sw.errors, (unsigned long long)sc.errors);
    FUZZ_CHECK(sw.samples == whole.n, "stats.samples %llu, callbacks %llu",
               (unsigned long long)sw.samples, (unsigned long long)whole.n);

    /* the same parser again after a reset must give the same answer (the
     * callback context is fixed at creation: chunked's is reused) */
    chunked.h = 0;
    chunked.n = 0;
    promparse_reset(p, NULL);
    rc = promparse_feed(p, body, len);
    FUZZ_CHECK(rc == 0 && promparse_finish(p) == 0, "feed after reset");
    FUZZ_CHECK(chunked.n == whole.n && chunked.h == whole.h,
               "parse after reset differs");
    promparse_free(&p);
    return 0;
}
