/*
 * gzip_test: util/gzip against zlib's own inflate (tests/lib/testutil.c):
 * one state encodes body after body, and the cap of the output is kept.
 */
#include <string.h>

#include "tests/lib/tap.h"
#include "tests/lib/testutil.h"
#include "util/buf.h"
#include "util/gzip.h"

/* Repetitive like an exposition, with a counter so no two lines match. */
static void fill(struct buf *b, size_t lines)
{
    for (size_t i = 0; i < lines; i++)
        buf_addf(b,
                 "flink_taskmanager_job_task_busyTimeMsPerSecond{host=\"tm-%"
                 "zu\"} %zu\n",
                 i % 7, i);
}

TAP_CASE(roundtrip_with_one_state)
{
    struct gzip *gz = gzip_new();
    TAP_OK(gz != NULL);
    const size_t sizes[] = {0, 1, 100, 20000, 3};
    for (size_t i = 0; i < TAP_N(sizes); i++) {
        struct buf in = BUF_INIT, out = BUF_INIT, back = BUF_INIT;
        fill(&in, sizes[i]);
        int rc = gzip_encode(gz, in.data, in.len, &out);
        int back_rc = rc == 0 ? tu_gunzip(&out, &back) : -1;
        bool same =
            back.len == in.len && memcmp(back.data, in.data, in.len) == 0;
        bool smaller = in.len < 1000 || out.len < in.len / 4;
        bool nul = out.data[out.len] == '\0';
        buf_release(&in);
        buf_release(&out);
        buf_release(&back);
        TAP_EQ_INT(0, rc);
        TAP_EQ_INT(0, back_rc);
        TAP_OK(same);
        TAP_OK(smaller);
        TAP_OK(nul);
    }
    gzip_free(&gz);
    TAP_OK(gz == NULL);
    gzip_free(&gz);
}

TAP_CASE(cap_is_kept)
{
    struct gzip *gz = gzip_new();
    struct buf in = BUF_INIT, out;
    TAP_OK(gz != NULL);
    fill(&in, 2000);
    /* Far more than the encoding needs, but less than zlib's worst case:
     * refused up front, and out is left empty. */
    buf_init(&out, in.len / 2);
    buf_adds(&out, "old");
    int rc = gzip_encode(gz, in.data, in.len, &out);
    size_t len = out.len;
    /* The same state still works after a refusal. */
    struct buf big = BUF_INIT, back = BUF_INIT;
    int rc2 = gzip_encode(gz, in.data, in.len, &big);
    int back_rc = rc2 == 0 ? tu_gunzip(&big, &back) : -1;
    bool same = back.len == in.len && memcmp(back.data, in.data, in.len) == 0;
    buf_release(&in);
    buf_release(&out);
    buf_release(&big);
    buf_release(&back);
    gzip_free(&gz);
    TAP_EQ_INT(-1, rc);
    TAP_EQ_INT(0, len);
    TAP_EQ_INT(0, rc2);
    TAP_EQ_INT(0, back_rc);
    TAP_OK(same);
}

/* gzip_decode undoes gzip_encode, refuses corrupt and truncated streams
 * and stops at its output cap (a gzip bomb). */
TAP_CASE(decode_roundtrip_and_limits)
{
    struct gzip *gz = gzip_new();
    struct buf enc, dec;
    buf_init(&enc, 0);
    buf_init(&dec, 0);
    struct buf text;
    buf_init(&text, 0);
    for (int i = 0; i < 5000; i++)
        buf_addf(&text, "m,job_name=j%d v=%di %d\n", i % 7, i, i);
    TAP_EQ_INT(0, gzip_encode(gz, text.data, text.len, &enc));
    TAP_EQ_INT(0, gzip_decode(enc.data, enc.len, &dec));
    TAP_OK(dec.len == text.len && memcmp(dec.data, text.data, text.len) == 0);
    TAP_EQ_INT(-1, gzip_decode(enc.data, enc.len / 2, &dec));
    TAP_EQ_INT(0, (int)dec.len);
    TAP_EQ_INT(-1, gzip_decode("not gzip at all", 15, &dec));
    struct buf small;
    buf_init(&small, 1000);
    TAP_EQ_INT(-2, gzip_decode(enc.data, enc.len, &small));
    TAP_EQ_INT(0, (int)small.len);
    buf_release(&small);
    buf_release(&text);
    buf_release(&enc);
    buf_release(&dec);
    gzip_free(&gz);
}

static const struct tap_case cases[] = {
    TAP_ENTRY(decode_roundtrip_and_limits),
    TAP_ENTRY(roundtrip_with_one_state),
    TAP_ENTRY(cap_is_kept),
};

int main(int argc, char **argv)
{
    return tap_main(cases, TAP_N(cases), argc, argv);
}
