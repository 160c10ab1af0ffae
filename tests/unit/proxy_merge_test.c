/* merge: the arithmetic of recombining node answers (lagwatch(8), PROXY,
 * "Merging"), on hand-made node answers whose merge is worked out here. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/merge.h"
#include "tests/lib/tap.h"

static json_t *js(const char *s)
{
    json_error_t e;
    json_t *v = json_loads(s, 0, &e);
    if (!v)
        fprintf(stderr, "# bad JSON in the test: %s\n", e.text);
    return v;
}

/* Merges the node answers and compares the "series" with want (JSON). */
static void check(const struct merge_spec *sp, const char *const *nodes,
                  size_t n, const char *want, bool *tap_failed_)
{
    json_t *in[8];
    for (size_t i = 0; i < n; i++)
        in[i] = js(nodes[i]);
    json_t *out = NULL;
    char err[512] = "";
    int rc = merge_results(sp, in, n, &out, err, sizeof(err));
    TAP_EQ_INT(0, rc);
    if (rc == 0) {
        json_t *w = js(want);
        json_t *got = json_object_get(out, "series");
        char *gs =
            json_dumps(got ? got : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
        char *ws = json_dumps(w, JSON_COMPACT | JSON_ENCODE_ANY);
        TAP_EQ_STR(ws, gs);
        free(gs);
        free(ws);
        json_decref(w);
    } else {
        TAP_EQ_STR("", err);
    }
    json_decref(out);
    for (size_t i = 0; i < n; i++)
        json_decref(in[i]);
}

static char *by[] = {"job_name"};

TAP_CASE(aggregates_recombine_per_bucket)
{
    struct merge_field f[] = {
        {MF_COUNT, "count", "lw0a", NULL},
        {MF_SUM, "sum", "lw1a", NULL},
        {MF_MIN, "min", "lw2a", NULL},
        {MF_MAX, "max", "lw3a", NULL},
        {MF_MEAN, "mean", "lw4a", "lw4b"},
        {MF_SPREAD, "spread", "lw5a", "lw5b"},
    };
    struct merge_spec sp = {.kind = MERGE_AGG,
                            .fields = f,
                            .nfields = 6,
                            .strip_tags = by,
                            .nstrip = 1,
                            .limit = -1,
                            .offset = -1,
                            .slimit = -1,
                            .soffset = -1,
                            .epoch = "s"};
    /* node 1: job a, buckets 0 and 60 s; node 2: job b, bucket 60 only
     * and a null bucket 0 (fill(null)) */
    const char *cols = "[\"time\",\"lw0a\",\"lw1a\",\"lw2a\",\"lw3a\","
                       "\"lw4a\",\"lw4b\",\"lw5a\",\"lw5b\"]";
    char n1[512], n2[512];
    snprintf(n1, sizeof(n1),
             "{\"series\":[{\"name\":\"m\",\"tags\":{\"job_name\":\"a\"},"
             "\"columns\":%s,\"values\":[[0,2,3.0,1.0,2.0,3.0,2,2.0,1.0],"
             "[60000000000,1,5.0,5.0,5.0,5.0,1,5.0,5.0]]}]}",
             cols);
    snprintf(n2, sizeof(n2),
             "{\"series\":[{\"name\":\"m\",\"tags\":{\"job_name\":\"b\"},"
             "\"columns\":%s,\"values\":[[0,null,null,null,null,null,null,"
             "null,null],[60000000000,3,3.0,0.5,1.5,3.0,3,1.5,0.5]]}]}",
             cols);
    const char *nodes[] = {n1, n2};
    /* bucket 60: count 1+3, sum 5+3, min 0.5, max 5, mean 8/4, spread
     * 5-0.5 */
    check(&sp, nodes, 2,
          "[{\"name\":\"m\",\"columns\":[\"time\",\"count\",\"sum\",\"min\","
          "\"max\",\"mean\",\"spread\"],\"values\":[[0,2,3.0,1.0,2.0,1.5,1.0],"
          "[60,4,8.0,0.5,5.0,2.0,4.5]]}]",
          tap_failed_);
}

TAP_CASE(integers_stay_integers_and_fill_after_merge)
{
    struct merge_field f[] = {{MF_SUM, "sum", "lw0a", NULL},
                              {MF_SPREAD, "spread", "lw1a", "lw1b"}};
    struct merge_spec sp = {.kind = MERGE_AGG,
                            .fields = f,
                            .nfields = 2,
                            .strip_tags = by,
                            .nstrip = 1,
                            .limit = -1,
                            .offset = -1,
                            .slimit = -1,
                            .soffset = -1,
                            .fill = IQL_FILL_NUMBER,
                            .fill_value = 0,
                            .epoch = "ns"};
    const char *nodes[] = {
        "{\"series\":[{\"name\":\"m\",\"tags\":{\"job_name\":\"a\"},"
        "\"columns\":[\"time\",\"lw0a\",\"lw1a\",\"lw1b\"],\"values\":"
        "[[1,4,9,2],[2,null,null,null]]}]}",
        "{\"series\":[{\"name\":\"m\",\"tags\":{\"job_name\":\"b\"},"
        "\"columns\":[\"time\",\"lw0a\",\"lw1a\",\"lw1b\"],\"values\":"
        "[[1,6,7,-1],[2,null,null,null]]}]}",
    };
    check(&sp, nodes, 2,
          "[{\"name\":\"m\",\"columns\":[\"time\",\"sum\",\"spread\"],"
          "\"values\":[[1,10,10],[2,0,0]]}]",
          tap_failed_);
}

TAP_CASE(first_last_by_point_time)
{
    struct merge_field f[] = {{MF_LAST, "last", "lw0a", NULL}};
    struct merge_spec sp = {.kind = MERGE_AGG,
                            .fields = f,
                            .nfields = 1,
                            .strip_tags = by,
                            .nstrip = 1,
                            .limit = -1,
                            .offset = -1,
                            .slimit = -1,
                            .soffset = -1,
                            .epoch = "ms"};
    const char *nodes[] = {
        "{\"series\":[{\"name\":\"m\",\"tags\":{\"job_name\":\"a\"},"
        "\"columns\":[\"time\",\"lw0a\"],\"values\":[[7000000,1.5]]}]}",
        "{\"series\":[{\"name\":\"m\",\"tags\":{\"job_name\":\"b\"},"
        "\"columns\":[\"time\",\"lw0a\"],\"values\":[[9000000,\"x\"]]},"
        "{\"name\":\"m\",\"tags\":{\"job_name\":\"c\"},"
        "\"columns\":[\"time\",\"lw0a\"],\"values\":[[3000000,2]]}]}",
    };
    check(&sp, nodes, 2,
          "[{\"name\":\"m\",\"columns\":[\"time\",\"last\"],\"values\":"
          "[[9,\"x\"]]}]",
          tap_failed_);
    f[0].fn = MF_FIRST;
    f[0].out_name = "first";
    check(&sp, nodes, 2,
          "[{\"name\":\"m\",\"columns\":[\"time\",\"first\"],\"values\":"
          "[[3,2]]}]",
          tap_failed_);
}

TAP_CASE(raw_rows_merge_by_time_and_replicas_count_once)
{
    struct merge_spec sp = {.kind = MERGE_RAW,
                            .strip_tags = by,
                            .nstrip = 1,
                            .shard_tags = by,
                            .nshard = 1,
                            .keep_tags = true,
                            .limit = 2,
                            .offset = 1,
                            .slimit = -1,
                            .soffset = -1,
                            .epoch = "ns"};
    /* host h1 from two jobs on two nodes; job a also on node 2 (a replica
     * copy) */
    const char *nodes[] = {
        "{\"series\":[{\"name\":\"m\",\"tags\":{\"host\":\"h1\",\"job_name\":"
        "\"a\"},\"columns\":[\"time\",\"v\"],\"values\":[[1,10],[4,40]]}]}",
        "{\"series\":[{\"name\":\"m\",\"tags\":{\"host\":\"h1\",\"job_name\":"
        "\"a\"},\"columns\":[\"time\",\"v\"],\"values\":[[1,10],[4,40]]},"
        "{\"name\":\"m\",\"tags\":{\"host\":\"h1\",\"job_name\":\"b\"},"
        "\"columns\":[\"time\",\"v\"],\"values\":[[2,20],[3,30]]}]}",
    };
    sp.dedupe = true;
    check(&sp, nodes, 2,
          "[{\"name\":\"m\",\"tags\":{\"host\":\"h1\"},\"columns\":[\"time\","
          "\"v\"],\"values\":[[2,20],[3,30]]}]",
          tap_failed_);
    sp.desc = true;
    sp.limit = -1;
    sp.offset = -1;
    check(&sp, nodes, 2,
          "[{\"name\":\"m\",\"tags\":{\"host\":\"h1\"},\"columns\":[\"time\","
          "\"v\"],\"values\":[[4,40],[3,30],[2,20],[1,10]]}]",
          tap_failed_);
    /* without dedupe (replicas 1) nothing is dropped */
    sp.dedupe = false;
    sp.desc = false;
    check(&sp, nodes, 2,
          "[{\"name\":\"m\",\"tags\":{\"host\":\"h1\"},\"columns\":[\"time\","
          "\"v\"],\"values\":[[1,10],[1,10],[2,20],[3,30],[4,40],[4,40]]}]",
          tap_failed_);
}

TAP_CASE(show_sets_and_rfc3339)
{
    struct merge_spec sp = {.kind = MERGE_SHOW_SORTED,
                            .limit = 3,
                            .offset = 1,
                            .slimit = -1,
                            .soffset = -1};
    const char *nodes[] = {
        "{\"series\":[{\"name\":\"m\",\"columns\":[\"key\",\"value\"],"
        "\"values\":[[\"job_name\",\"b\"],[\"job_name\",\"d\"]]}]}",
        "{\"series\":[{\"name\":\"m\",\"columns\":[\"key\",\"value\"],"
        "\"values\":[[\"job_name\",\"a\"],[\"job_name\",\"b\"],"
        "[\"job_name\",\"c\"]]}]}",
    };
    check(&sp, nodes, 2,
          "[{\"name\":\"m\",\"columns\":[\"key\",\"value\"],\"values\":"
          "[[\"job_name\",\"b\"],[\"job_name\",\"c\"],[\"job_name\",\"d\"]]}]",
          tap_failed_);
    json_t *t = merge_time_value(1700000040500000000LL, NULL);
    TAP_EQ_STR("2023-11-14T22:14:00.5Z", json_string_value(t));
    json_decref(t);
    t = merge_time_value(1700000040000000000LL, NULL);
    TAP_EQ_STR("2023-11-14T22:14:00Z", json_string_value(t));
    json_decref(t);
}

TAP_CASE(refusals)
{
    struct merge_spec sp = {.kind = MERGE_RAW,
                            .strip_tags = by,
                            .nstrip = 1,
                            .shard_tags = by,
                            .nshard = 1,
                            .limit = -1,
                            .offset = -1,
                            .slimit = -1,
                            .soffset = -1,
                            .epoch = "ns"};
    json_t *in[2] = {
        js("{\"series\":[{\"name\":\"m\",\"tags\":{\"job_name\":\"a\"},"
           "\"columns\":[\"time\",\"v\"],\"values\":[[1,1]]}]}"),
        js("{\"series\":[{\"name\":\"m\",\"tags\":{\"job_name\":\"b\"},"
           "\"columns\":[\"time\",\"w\"],\"values\":[[1,1]]}]}")};
    json_t *out = NULL;
    char err[512] = "";
    TAP_EQ_INT(-1, merge_results(&sp, in, 2, &out, err, sizeof(err)));
    TAP_OK(strstr(err, "different columns") != NULL);
    json_decref(in[1]);
    /* replicas > 1 and points without the shard tag on two nodes */
    in[1] = js("{\"series\":[{\"name\":\"m\",\"tags\":{\"job_name\":\"\"},"
               "\"columns\":[\"time\",\"v\"],\"values\":[[1,1]]}]}");
    json_decref(in[0]);
    in[0] = json_deep_copy(in[1]);
    sp.dedupe = true;
    TAP_EQ_INT(-1, merge_results(&sp, in, 2, &out, err, sizeof(err)));
    TAP_OK(strstr(err, "without the shard_by tags") != NULL);
    json_decref(in[0]);
    json_decref(in[1]);
}

static const struct tap_case cases[] = {
    TAP_ENTRY(aggregates_recombine_per_bucket),
    TAP_ENTRY(integers_stay_integers_and_fill_after_merge),
    TAP_ENTRY(first_last_by_point_time),
    TAP_ENTRY(raw_rows_merge_by_time_and_replicas_count_once),
    TAP_ENTRY(show_sets_and_rfc3339),
    TAP_ENTRY(refusals),
};

int main(int argc, char **argv)
{
    return tap_main(cases, TAP_N(cases), argc, argv);
}
