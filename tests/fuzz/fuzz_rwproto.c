/*
 * fuzz_rwproto: the remote-write encoder, as a round trip through
 * independent decoders.
 *
 * The input describes up to 64 samples (name, suffix, labels, value,
 * timestamp). Each goes to rwproto_batch_add(); the batch is encoded and
 * snappy-compressed by rwproto, then decompressed with snappy's own
 * snappy_uncompress() and unpacked with protobuf-c's generated
 * prometheus__write_request__unpack(). Property: the request holds exactly
 * the samples that were added (return 0), in order, each with the labels a
 * model of rwproto.h's rules predicts:
 *   - __name__ is name+suffix with characters outside [A-Za-z0-9_:] made
 *     '_' (and a '_' put before a leading digit, as rwproto.c does);
 *   - labels with an empty name or value, or named __name__, are left out;
 *     label names keep [A-Za-z0-9_] (same leading-digit rule);
 *   - labels sorted by name (byte order), unique;
 * and a sample is skipped (return 1) exactly when the model says so: value
 * not finite, empty or too long name, RWPROTO_MAX_LABELS labels or more, a
 * value not UTF-8, a string past RWPROTO_MAX_STRING, or two names equal
 * once sanitized. The decoded strings are also checked against the remote
 * write spec itself (name charsets, valid UTF-8), independently of the
 * model.
 *
 * NUL bytes are replaced in the fuzzed strings: rwproto's strings are NUL-
 * terminated (protobuf-c packs with strlen) and its producer, promparse,
 * refuses NUL in names and label values.
 */
#include <math.h>

#include <snappy-c.h>

#include "remote_write/rwproto.h"
#include "sinks/remote_write/remote_write.pb-c.h"
#include "tests/fuzz/fuzz_common.h"

#define MAX_SAMPLES 64
#define MAX_LABELS  300 /* past RWPROTO_MAX_LABELS, to reach that rule */

/* One expected series: its labels as the model builds them. */
struct want {
    char *name[MAX_LABELS + 1];
    char *value[MAX_LABELS + 1];
    size_t n;
    double v;
    int64_t ts;
};

static bool name_char(unsigned char c, bool colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || (colon && c == ':');
}

static char *sanitize(const char *p, size_t len, const char *suffix, bool colon)
{
    size_t sl = suffix ? strlen(suffix) : 0;
    char *s = malloc(len + sl + 2);
    FUZZ_CHECK(s != NULL, "malloc");
    size_t k = 0;
    if (len > 0 && p[0] >= '0' && p[0] <= '9')
        s[k++] = '_';
    for (size_t i = 0; i < len; i++)
        s[k++] = name_char((unsigned char)p[i], colon) ? p[i] : '_';
    for (size_t i = 0; i < sl; i++)
        s[k++] = name_char((unsigned char)suffix[i], colon) ? suffix[i] : '_';
    s[k] = '\0';
    return s;
}

static char *dup_n(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    FUZZ_CHECK(s != NULL, "malloc");
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* RFC 3629 well-formedness, written from the RFC table (not from
 * rwproto.c): the byte ranges of each sequence length. */
static bool utf8_ok(const unsigned char *p, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = p[i];
        size_t k;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c <= 0x7f) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf) {
            k = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            k = 2;
            if (c == 0xe0)
                lo = 0xa0;
            if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            k = 3;
            if (c == 0xf0)
                lo = 0x90;
            if (c == 0xf4)
                hi = 0x8f;
        } else {
            return false;
        }
        if (n - i <= k)
            return false;
        if (p[i + 1] < lo || p[i + 1] > hi)
            return false;
        for (size_t j = 2; j <= k; j++)
            if (p[i + j] < 0x80 || p[i + j] > 0xbf)
                return false;
        i += k + 1;
    }
    return true;
}

static void want_free(struct want *w)
{
    for (size_t i = 0; i < w->n; i++) {
        free(w->name[i]);
        free(w->value[i]);
    }
    w->n = 0;
}

/* The model: fills w and returns what rwproto_batch_add should return. */
static int model(const char *name, size_t name_len, const char *suffix,
                 const struct label *l, size_t nl, double v, int64_t ts,
                 struct want *w)
{
    w->n = 0;
    if (!isfinite(v) || name_len == 0 || name_len > RWPROTO_MAX_STRING ||
        nl >= RWPROTO_MAX_LABELS)
        return 1;
    for (size_t i = 0; i < nl; i++)
        if (l[i].name_len > RWPROTO_MAX_STRING ||
            l[i].value_len > RWPROTO_MAX_STRING ||
            !utf8_ok((const unsigned char *)l[i].value, l[i].value_len))
            return 1;
    w->name[0] = dup_n("__name__", 8);
    w->value[0] = sanitize(name, name_len, suffix, true);
    w->n = 1;
    for (size_t i = 0; i < nl; i++) {
        if (l[i].name_len == 0 || l[i].value_len == 0 ||
            (l[i].name_len == 8 && memcmp(l[i].name, "__name__", 8) == 0))
            continue;
        w->name[w->n] = sanitize(l[i].name, l[i].name_len, NULL, false);
        w->value[w->n] = dup_n(l[i].value, l[i].value_len);
        w->n++;
    }
    /* sort by name, byte order */
    for (size_t i = 1; i < w->n; i++)
        for (size_t j = i; j > 0 && strcmp(w->name[j - 1], w->name[j]) > 0;
             j--) {
            char *t = w->name[j];
            w->name[j] = w->name[j - 1];
            w->name[j - 1] = t;
            t = w->value[j];
            w->value[j] = w->value[j - 1];
            w->value[j - 1] = t;
        }
    for (size_t i = 1; i < w->n; i++)
        if (strcmp(w->name[i - 1], w->name[i]) == 0) {
            want_free(w);
            return 1;
        }
    w->v = v;
    w->ts = ts;
    return 0;
}

/* The remote write 1.0 spec's own rules for what a receiver accepts. */
static void check_spec(const Prometheus__TimeSeries *t)
{
    FUZZ_CHECK(t->n_labels >= 1 && t->n_samples == 1, "%zu labels %zu samples",
               t->n_labels, t->n_samples);
    bool has_name = false;
    for (size_t i = 0; i < t->n_labels; i++) {
        const char *n = t->labels[i]->name, *v = t->labels[i]->value;
        bool metric = strcmp(n, "__name__") == 0;
        has_name = has_name || metric;
        FUZZ_CHECK(n[0] != '\0' && !(n[0] >= '0' && n[0] <= '9'),
                   "label name '%s'", n);
        for (const char *c = n; *c; c++)
            FUZZ_CHECK(name_char((unsigned char)*c, false), "label name '%s'",
                       n);
        FUZZ_CHECK(v[0] != '\0', "empty value of '%s'", n);
        FUZZ_CHECK(utf8_ok((const unsigned char *)v, strlen(v)),
                   "value of '%s' not UTF-8", n);
        if (metric) {
            FUZZ_CHECK(!(v[0] >= '0' && v[0] <= '9'), "metric name '%s'", v);
            for (const char *c = v; *c; c++)
                FUZZ_CHECK(name_char((unsigned char)*c, true),
                           "metric name '%s'", v);
        }
        if (i > 0)
            FUZZ_CHECK(strcmp(t->labels[i - 1]->name, n) < 0,
                       "labels '%s', '%s' not sorted/unique",
                       t->labels[i - 1]->name, n);
    }
    FUZZ_CHECK(has_name, "no __name__");
}

static const char *const suffixes[] = {NULL,     "_total",  "_sum",
                                       "_count", "_bucket", "-x.y"};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_logs();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* a NUL-free copy of the input, so strings can point into it */
    uint8_t *copy = malloc(size ? size : 1);
    FUZZ_CHECK(copy != NULL, "malloc");
    for (size_t i = 0; i < size; i++)
        copy[i] = data[i] ? data[i] : 1;
    /* the numbers are read from the original, NULs included */
    struct fuzz_in in = {data, size};
    struct rwproto_batch *b = rwproto_batch_new();
    static struct want want[MAX_SAMPLES];
    static struct label labels[MAX_LABELS];
    size_t nwant = 0;
    for (size_t k = 0; k < MAX_SAMPLES && in.n > 0; k++) {
        size_t name_len;
        const char *name = fuzz_bytes(&in, 64, &name_len);
        name = (const char *)copy + (name - (const char *)data);
        const char *suffix =
            suffixes[fuzz_u8(&in) % (sizeof(suffixes) / sizeof(*suffixes))];
        uint8_t nl8 = fuzz_u8(&in);
        /* 255: many copies of one label, past the label limit */
        size_t nl = nl8 == 255 ? 255 + fuzz_u8(&in) % 40 : nl8 % 8;
        for (size_t i = 0; i < nl; i++) {
            struct label *l = &labels[i];
            if (i >= 8 && nl8 == 255) {
                *l = labels[i % 8];
                continue;
            }
            size_t n, v;
            const char *ln = fuzz_bytes(&in, 32, &n);
            const char *lv = fuzz_bytes(&in, 64, &v);
            l->name = (const char *)copy + (ln - (const char *)data);
            l->value = (const char *)copy + (lv - (const char *)data);
            l->name_len = (uint32_t)n;
            l->value_len = (uint32_t)v;
        }
        uint8_t vk = fuzz_u8(&in);
        double v = vk < 0x40 ? fuzz_double(&in) : (double)vk - 0x80;
        int64_t ts = (int64_t)fuzz_u64(&in);
        /* strings in the batch are copies: they need not be terminated */
        int exp =
            model(name, name_len, suffix, labels, nl, v, ts, &want[nwant]);
        int got =
            rwproto_batch_add(b, name, name_len, suffix, labels, nl, v, ts);
        FUZZ_CHECK(got == exp, "sample %zu: add returned %d, model says %d", k,
                   got, exp);
        if (got == 0)
            nwant++;
    }
    FUZZ_CHECK(rwproto_batch_samples(b) == nwant, "%zu samples, %zu added",
               rwproto_batch_samples(b), nwant);

    struct buf raw = BUF_INIT, z = BUF_INIT;
    FUZZ_CHECK(rwproto_batch_encode(b, &raw) == 0, "encode");
    FUZZ_CHECK(rwproto_compress(raw.data, raw.len, &z) == 0, "compress");
    size_t ulen;
    FUZZ_CHECK(snappy_uncompressed_length(z.data, z.len, &ulen) == SNAPPY_OK,
               "snappy length");
    FUZZ_CHECK(ulen == raw.len, "uncompressed %zu, encoded %zu", ulen, raw.len);
    char *u = malloc(ulen ? ulen : 1);
    FUZZ_CHECK(u != NULL, "malloc");
    FUZZ_CHECK(snappy_uncompress(z.data, z.len, u, &ulen) == SNAPPY_OK,
               "snappy_uncompress");
    FUZZ_CHECK(ulen == raw.len && memcmp(u, raw.data, ulen) == 0,
               "snappy round trip differs");
    Prometheus__WriteRequest *req =
        prometheus__write_request__unpack(NULL, ulen, (const uint8_t *)u);
    FUZZ_CHECK(req != NULL, "the WriteRequest does not unpack");
    FUZZ_CHECK(req->n_timeseries == nwant, "%zu series, %zu added",
               req->n_timeseries, nwant);
    for (size_t i = 0; i < nwant; i++) {
        const Prometheus__TimeSeries *t = req->timeseries[i];
        const struct want *w = &want[i];
        check_spec(t);
        FUZZ_CHECK(t->n_labels == w->n, "series %zu: %zu labels, want %zu", i,
                   t->n_labels, w->n);
        for (size_t j = 0; j < w->n; j++) {
            FUZZ_CHECK(strcmp(t->labels[j]->name, w->name[j]) == 0 &&
                           strcmp(t->labels[j]->value, w->value[j]) == 0,
                       "series %zu label %zu: %s=%s, want %s=%s", i, j,
                       t->labels[j]->name, t->labels[j]->value, w->name[j],
                       w->value[j]);
        }
        /* ==, not the bits: proto3 leaves a 0 double out, so -0 arrives
         * as 0 (the same number to Prometheus) */
        FUZZ_CHECK(
            t->samples[0]->value == w->v && t->samples[0]->timestamp == w->ts,
            "series %zu: sample %g@%lld, want %g@%lld", i, t->samples[0]->value,
            (long long)t->samples[0]->timestamp, w->v, (long long)w->ts);
    }
    prometheus__write_request__free_unpacked(req, NULL);
    for (size_t i = 0; i < nwant; i++)
        want_free(&want[i]);
    free(u);
    buf_release(&raw);
    buf_release(&z);

    /* a reset batch is empty again */
    rwproto_batch_reset(b);
    FUZZ_CHECK(rwproto_batch_samples(b) == 0 && rwproto_batch_bytes(b) == 0,
               "reset left samples");
    rwproto_batch_free(&b);
    free(copy);
    return 0;
}
