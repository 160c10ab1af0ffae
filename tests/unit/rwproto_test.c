/* Unit tests of sinks/rwproto: the WriteRequest read back with protobuf-c's
 * generated unpack, what is skipped or refused, and snappy round trips. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>

#include "util/buf.h"
#include "remote_write/rwproto.h"
#include "sinks/remote_write/remote_write.pb-c.h"
#include "tests/lib/tap.h"

#define L(n, v)                                                                \
    {                                                                          \
        n, v, (uint32_t)strlen(n), (uint32_t)strlen(v)                         \
    }

/* Decodes an uncompressed body; NULL when it is not a WriteRequest. */
static Prometheus__WriteRequest *unpack(const struct buf *pb)
{
    return prometheus__write_request__unpack(NULL, pb->len,
                                             (const uint8_t *)pb->data);
}

/* "a=x,b=y" of a decoded series' labels, in wire order. */
static void series_text(const Prometheus__TimeSeries *ts, char *out, size_t n)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < ts->n_labels && o < n; i++)
        o += (size_t)snprintf(out + o, n - o, "%s%s=%s", i ? "," : "",
                              ts->labels[i]->name, ts->labels[i]->value);
}

TAP_CASE(encode_round_trip)
{
    static const struct {
        const char *name, *suffix;
        struct label labels[4];
        size_t nlabels;
        double v;
        int64_t ts;
        const char *want; /* labels as decoded, sorted */
    } cases[] = {
        {"flink_taskmanager_job_task_operator_numRecordsIn",
         "_max",
         {L("task_name", "Map"), L("job_name", "orders_enrich"),
          L("Zone", "eu")},
         3,
         1234,
         1763600000123,
         "Zone=eu,__name__=flink_taskmanager_job_task_operator_numRecordsIn"
         "_max,job_name=orders_enrich,task_name=Map"},
        {"lagwatch_task_timing",
         "_busy_ratio_max",
         {L("job_name", "j"), L("flink_cluster", "prod")},
         2,
         0.25,
         5,
         "__name__=lagwatch_task_timing_busy_ratio_max,flink_cluster=prod,"
         "job_name=j"},
        /* bad characters become '_', empty values and __name__ go */
        {"9x.y-z:w",
         NULL,
         {L("a.b", "v \"q\"\n"), L("empty", ""), L("__name__", "other"),
          L("1st", "é\xf0\x9f\x98\x80")},
         4,
         -1e300,
         -1,
         "_1st=é\xf0\x9f\x98\x80,__name__=_9x_y_z:w,a_b=v \"q\"\n"},
        {"up", NULL, {{0}}, 0, 0, 0, "__name__=up"},
    };
    struct rwproto_batch *b = rwproto_batch_new();
    for (size_t i = 0; i < TAP_N(cases); i++)
        TAP_EQ_INT(0, rwproto_batch_add(b, cases[i].name, strlen(cases[i].name),
                                        cases[i].suffix, cases[i].labels,
                                        cases[i].nlabels, cases[i].v,
                                        cases[i].ts));
    TAP_EQ_INT(TAP_N(cases), rwproto_batch_samples(b));
    struct buf pb = BUF_INIT;
    TAP_EQ_INT(0, rwproto_batch_encode(b, &pb));
    Prometheus__WriteRequest *req = unpack(&pb);
    TAP_OK(req != NULL);
    TAP_EQ_INT(TAP_N(cases), req->n_timeseries);
    for (size_t i = 0; i < TAP_N(cases); i++) {
        const Prometheus__TimeSeries *ts = req->timeseries[i];
        char got[512];
        series_text(ts, got, sizeof(got));
        TAP_EQ_STR(cases[i].want, got);
        TAP_EQ_INT(1, ts->n_samples);
        TAP_EQ_DBL(cases[i].v, ts->samples[0]->value, 0);
        TAP_EQ_INT(cases[i].ts, ts->samples[0]->timestamp);
    }
    prometheus__write_request__free_unpacked(req, NULL);

    /* the compressed request is the encoded one, snappy'd */
    struct buf z = BUF_INIT;
    TAP_EQ_INT(0, rwproto_batch_compress(b, &z));
    size_t ulen = 0;
    TAP_EQ_INT(SNAPPY_OK, snappy_uncompressed_length(z.data, z.len, &ulen));
    TAP_EQ_INT(pb.len, ulen);
    char *plain = malloc(ulen + 1);
    TAP_EQ_INT(SNAPPY_OK, snappy_uncompress(z.data, z.len, plain, &ulen));
    TAP_OK(memcmp(plain, pb.data, pb.len) == 0);
    free(plain);
    buf_release(&z);

    /* reset empties the batch: an empty request is a valid, empty body */
    rwproto_batch_reset(b);
    buf_reset(&pb);
    TAP_EQ_INT(0, rwproto_batch_encode(b, &pb));
    TAP_EQ_INT(0, pb.len);
    buf_release(&pb);
    rwproto_batch_free(&b);
    TAP_OK(b == NULL);
}

TAP_CASE(skips_what_cannot_be_stored)
{
    static const struct {
        double v;
        struct label labels[2];
        size_t nlabels;
    } cases[] = {
        {NAN, {{0}}, 0},
        {INFINITY, {{0}}, 0},
        {-INFINITY, {{0}}, 0},
        /* two names equal once sanitized */
        {1, {L("a-b", "1"), L("a_b", "2")}, 2},
        /* not UTF-8: a lone continuation byte, a truncated sequence, an
         * overlong '/', a surrogate */
        {1, {L("k", "\x80")}, 1},
        {1, {L("k", "ab\xc3")}, 1},
        {1, {L("k", "\xc0\xaf")}, 1},
        {1, {L("k", "\xed\xa0\x80")}, 1},
    };
    struct rwproto_batch *b = rwproto_batch_new();
    for (size_t i = 0; i < TAP_N(cases); i++)
        TAP_EQ_INT(1, rwproto_batch_add(b, "m", 1, NULL, cases[i].labels,
                                        cases[i].nlabels, cases[i].v, 0));
    TAP_EQ_INT(0, rwproto_batch_samples(b));
    TAP_EQ_INT(0, rwproto_batch_bytes(b));
    TAP_EQ_INT(1, rwproto_batch_add(b, "", 0, NULL, NULL, 0, 1, 0));
    /* too many labels; one fewer is fine */
    struct label many[RWPROTO_MAX_LABELS];
    char names[RWPROTO_MAX_LABELS][8];
    for (size_t i = 0; i < RWPROTO_MAX_LABELS; i++) {
        snprintf(names[i], sizeof(names[i]), "l%zu", i);
        many[i] = (struct label){names[i], "v", (uint32_t)strlen(names[i]), 1};
    }
    TAP_EQ_INT(
        1, rwproto_batch_add(b, "m", 1, NULL, many, RWPROTO_MAX_LABELS, 1, 0));
    TAP_EQ_INT(0, rwproto_batch_add(b, "m", 1, NULL, many,
                                    RWPROTO_MAX_LABELS - 1, 1, 0));
    rwproto_batch_free(&b);
}

TAP_CASE(batch_cap_refuses_then_accepts_after_reset)
{
    struct rwproto_batch *b = rwproto_batch_new();
    char *big = malloc(RWPROTO_MAX_STRING);
    memset(big, 'v', RWPROTO_MAX_STRING);
    struct label l = {"k", big, 1, RWPROTO_MAX_STRING};
    size_t added = 0;
    int rc = 0;
    while (rc == 0) {
        rc = rwproto_batch_add(b, "m", 1, NULL, &l, 1, 1, 0);
        if (rc == 0)
            added++;
    }
    TAP_EQ_INT(-1, rc);
    /* per sample: "__name__", "m", "k" and the value, NUL-terminated */
    TAP_EQ_INT(RWPROTO_BATCH_MAX_BYTES / (9 + 2 + 2 + RWPROTO_MAX_STRING + 1),
               added);
    TAP_OK(rwproto_batch_bytes(b) <= RWPROTO_BATCH_MAX_BYTES);
    /* what was added before the refusal is intact */
    struct buf pb = BUF_INIT;
    TAP_EQ_INT(0, rwproto_batch_encode(b, &pb));
    Prometheus__WriteRequest *req = unpack(&pb);
    TAP_OK(req != NULL);
    TAP_EQ_INT(added, req->n_timeseries);
    TAP_EQ_INT(RWPROTO_MAX_STRING,
               strlen(req->timeseries[added - 1]->labels[1]->value));
    prometheus__write_request__free_unpacked(req, NULL);
    rwproto_batch_reset(b);
    TAP_EQ_INT(0, rwproto_batch_add(b, "m", 1, NULL, &l, 1, 1, 0));
    /* longer than a string may be: skipped, not a full batch */
    l.value_len = RWPROTO_MAX_STRING + 1;
    TAP_EQ_INT(1, rwproto_batch_add(b, "m", 1, NULL, &l, 1, 1, 0));
    buf_release(&pb);
    free(big);
    rwproto_batch_free(&b);
}

TAP_CASE(snappy_round_trip)
{
    /* repetitive text, incompressible bytes, and nothing */
    static const size_t sizes[] = {0, 1, 100, 70000, 300000};
    unsigned seed = 42;
    for (size_t k = 0; k < TAP_N(sizes); k++) {
        for (int noisy = 0; noisy < 2; noisy++) {
            size_t n = sizes[k];
            char *in = malloc(n + 1);
            for (size_t i = 0; i < n; i++)
                in[i] = noisy ? (char)rand_r(&seed) : "lagwatch"[i % 8];
            struct buf z = BUF_INIT;
            TAP_EQ_INT(0, rwproto_compress(in, n, &z));
            if (!noisy && n >= 100)
                TAP_OK(z.len < n / 4);
            size_t ulen = 0;
            TAP_EQ_INT(SNAPPY_OK,
                       snappy_uncompressed_length(z.data, z.len, &ulen));
            TAP_EQ_INT(n, ulen);
            char *out = malloc(ulen + 1);
            TAP_EQ_INT(SNAPPY_OK, snappy_uncompress(z.data, z.len, out, &ulen));
            TAP_OK(memcmp(in, out, n) == 0);
            free(out);
            free(in);
            buf_release(&z);
        }
    }
}

static const struct tap_case cases[] = {
    TAP_ENTRY(encode_round_trip),
    TAP_ENTRY(skips_what_cannot_be_stored),
    TAP_ENTRY(batch_cap_refuses_then_accepts_after_reset),
    TAP_ENTRY(snappy_round_trip),
};

int main(int argc, char **argv)
{
    return tap_main(cases, TAP_N(cases), argc, argv);
}
