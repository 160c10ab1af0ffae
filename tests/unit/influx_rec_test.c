/* Unit tests of sinks/influx/influx_rec: the record of a batch as the
 * outbox queues it and the spool keeps it. */
#include <stdlib.h>
#include <string.h>

#include "influx/influx_rec.h"
#include "tests/lib/tap.h"

/* Two lines, the second with a string field holding a space and a raw
 * newline (so lines cannot be found by scanning). */
static const char lines[] = "m,t=a v=1 1700000000002\n"
                            "m s=\"x y\nz\" 1700000000001\n";

static char *two_lines(size_t *len, const char *rp)
{
    uint32_t ends[2] = {24, (uint32_t)strlen(lines)};
    struct influx_dest d = {
        .api = INFLUX_API_V1, .db = (char *)"flink", .rp = (char *)rp};
    return influx_rec_encode(&d, ends, 2, lines, strlen(lines), len);
}

/* A v2 record: its own magic, org and bucket. */
static char *two_lines_v2(size_t *len)
{
    uint32_t ends[2] = {24, (uint32_t)strlen(lines)};
    struct influx_dest d = {.api = INFLUX_API_V2,
                            .org = (char *)"acme",
                            .bucket = (char *)"flink/week"};
    return influx_rec_encode(&d, ends, 2, lines, strlen(lines), len);
}

TAP_CASE(round_trip)
{
    size_t len;
    char *rec = two_lines(&len, "week");
    struct influx_rec r;
    TAP_OK(influx_rec_parse(rec, len, 2, &r));
    TAP_EQ_INT(2, r.npoints);
    TAP_EQ_INT(strlen(lines), r.len);
    TAP_OK(memcmp(r.lines, lines, r.len) == 0);
    TAP_EQ_INT(24, r.ends[0]);
    TAP_EQ_INT(INFLUX_API_V1, r.dest.api);
    TAP_EQ_STR("flink", r.dest.db);
    TAP_EQ_STR("week", r.dest.rp);
    int64_t lo, hi;
    influx_rec_ts_range(&r, &lo, &hi);
    TAP_EQ_INT(1700000000001, lo);
    TAP_EQ_INT(1700000000002, hi);
    influx_rec_release(&r);
    free(rec);
    rec = two_lines(&len, "");
    TAP_OK(influx_rec_parse(rec, len, 2, &r));
    TAP_EQ_STR("", r.dest.rp);
    influx_rec_release(&r);
    free(rec);
    rec = two_lines_v2(&len);
    TAP_OK(memcmp(rec, "LWV2", 4) == 0);
    TAP_OK(influx_rec_parse(rec, len, 2, &r));
    TAP_EQ_INT(INFLUX_API_V2, r.dest.api);
    TAP_EQ_STR("acme", r.dest.org);
    TAP_EQ_STR("flink/week", r.dest.bucket);
    TAP_OK(memcmp(r.lines, lines, r.len) == 0);
    influx_rec_release(&r);
    free(rec);
}

TAP_CASE(malformed_records_are_refused)
{
    size_t len;
    char *rec = two_lines(&len, "");
    struct influx_rec r;
    /* the spool's point count must match the line ends */
    TAP_OK(!influx_rec_parse(rec, len, 0, &r));
    TAP_OK(!influx_rec_parse(rec, len, 1000, &r));
    /* cut short, bad magic */
    TAP_OK(!influx_rec_parse(rec, 7, 2, &r));
    rec[0] = 'X';
    TAP_OK(!influx_rec_parse(rec, len, 2, &r));
    rec[0] = 'L';
    TAP_OK(influx_rec_parse(rec, len, 2, &r));
    influx_rec_release(&r);
    /* a line end past the lines */
    uint32_t *ends = (uint32_t *)(void *)(rec + 16); /* 8 + "flink" + pad */
    ends[1] = (uint32_t)len;
    TAP_OK(!influx_rec_parse(rec, len, 2, &r));
    free(rec);
}

static const struct tap_case cases[] = {
    TAP_ENTRY(round_trip),
    TAP_ENTRY(malformed_records_are_refused),
};

int main(int argc, char **argv)
{
    return tap_main(cases, TAP_N(cases), argc, argv);
}
