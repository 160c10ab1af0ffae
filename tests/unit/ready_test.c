/*
 * ready_test: the /api/v1/ready decision and body over hand-built sweep
 * results (two clusters, one stale; groups in both; a group that has
 * committed nothing; hostile names).
 */
#include <stdint.h>
#include <string.h>

#include "util/buf.h"
#include "kafka/kafka_lag.h"
#include "kafka/ready.h"
#include "tests/lib/tap.h"
#include "util/jsonw.h"

/* consumed_through_ms values are whole seconds so epoch-second until=
 * parameters hit them exactly. */
static struct kafka_lag_topic main_etl[] = {
    {.topic = "clicks", .max_lag_seconds = 4.5, .consumed_through_ms = 1000000},
    {.topic = "orders", .max_lag_seconds = 0, .consumed_through_ms = 2000000},
};
static struct kafka_lag_topic main_odd[] = {
    {.topic = "q\"t\\\x01",
     .max_lag_seconds = 0.125,
     .consumed_through_ms = 7000},
};
static struct kafka_lag_group main_groups[] = {
    {.group = "etl", .topics = main_etl, .n_topics = 2},
    {.group = "idle", .topics = NULL, .n_topics = 0},
    {.group = "odd\"g\n", .topics = main_odd, .n_topics = 1},
};
static struct kafka_lag_cluster c_main = {
    .name = "main",
    .groups = main_groups,
    .n_groups = 3,
};

static struct kafka_lag_topic dr_etl[] = {
    {.topic = "clicks",
     .max_lag_seconds = 12.25,
     .consumed_through_ms = 1500000},
};
static struct kafka_lag_topic dr_reports[] = {
    {.topic = "daily", .max_lag_seconds = 1.0 / 3, .consumed_through_ms = 5000},
};
static struct kafka_lag_group dr_groups[] = {
    {.group = "etl", .topics = dr_etl, .n_topics = 1},
    {.group = "reports", .topics = dr_reports, .n_topics = 1},
    {.group = "idle", .topics = NULL, .n_topics = 0},
};
static struct kafka_lag_cluster c_dr = {
    .name = "dr",
    .stale = true,
    .error = "cannot reach 'dr': timeout",
    .groups = dr_groups,
    .n_groups = 3,
};

static const struct kafka_lag_cluster *const clusters[] = {&c_main, &c_dr};

#define MAIN_CLICKS                                                            \
    "{\"cluster\":\"main\",\"topic\":\"clicks\",\"consumed_through_ms\":"      \
    "1000000,\"max_lag_seconds\":4.5}"
#define MAIN_ORDERS                                                            \
    "{\"cluster\":\"main\",\"topic\":\"orders\",\"consumed_through_ms\":"      \
    "2000000,\"max_lag_seconds\":0}"
#define DR_CLICKS                                                              \
    "{\"cluster\":\"dr\",\"topic\":\"clicks\",\"consumed_through_ms\":"        \
    "1500000,\"max_lag_seconds\":12.25}"

struct rcase {
    const char *name;
    const char *group, *topic, *cluster, *until;
    int status;
    const char *body;
};

static const struct rcase rcases[] = {
    {"ready over both clusters", "etl", NULL, NULL, "999", 200,
     "{\"ready\":true,\"group\":\"etl\",\"topic\":null,\"cluster\":null,"
     "\"until\":\"1970-01-01T00:16:39.000Z\",\"until_ms\":999000,"
     "\"consumed_through\":\"1970-01-01T00:16:40.000Z\","
     "\"consumed_through_ms\":1000000,\"stale\":true,\"topics\":[" MAIN_CLICKS
     "," MAIN_ORDERS "," DR_CLICKS "]}"},
    {"exactly equal is ready", "etl", NULL, NULL, "1970-01-01T00:16:40Z", 200,
     "{\"ready\":true,\"group\":\"etl\",\"topic\":null,\"cluster\":null,"
     "\"until\":\"1970-01-01T00:16:40.000Z\",\"until_ms\":1000000,"
     "\"consumed_through\":\"1970-01-01T00:16:40.000Z\","
     "\"consumed_through_ms\":1000000,\"stale\":true,\"topics\":[" MAIN_CLICKS
     "," MAIN_ORDERS "," DR_CLICKS "]}"},
    {"one ms later is not ready", "etl", NULL, NULL, "1000.001", 425,
     "{\"ready\":false,\"group\":\"etl\",\"topic\":null,\"cluster\":null,"
     "\"until\":\"1970-01-01T00:16:40.001Z\",\"until_ms\":1000001,"
     "\"consumed_through\":\"1970-01-01T00:16:40.000Z\","
     "\"consumed_through_ms\":1000000,\"stale\":true,\"topics\":[" MAIN_CLICKS
     "," MAIN_ORDERS "," DR_CLICKS "]}"},
    {"offset until", "etl", NULL, NULL, "1970-01-01T02:16:40+02:00", 200,
     "{\"ready\":true,\"group\":\"etl\",\"topic\":null,\"cluster\":null,"
     "\"until\":\"1970-01-01T00:16:40.000Z\",\"until_ms\":1000000,"
     "\"consumed_through\":\"1970-01-01T00:16:40.000Z\","
     "\"consumed_through_ms\":1000000,\"stale\":true,\"topics\":[" MAIN_CLICKS
     "," MAIN_ORDERS "," DR_CLICKS "]}"},
    /* dr's etl has the group but not the topic: it does not lower the
     * answer, yet it holds the group and is stale, so stale stays true. */
    {"topic filter", "etl", "orders", NULL, "1500", 200,
     "{\"ready\":true,\"group\":\"etl\",\"topic\":\"orders\",\"cluster\":null,"
     "\"until\":\"1970-01-01T00:25:00.000Z\",\"until_ms\":1500000,"
     "\"consumed_through\":\"1970-01-01T00:33:20.000Z\","
     "\"consumed_through_ms\":2000000,\"stale\":true,\"topics\":[" MAIN_ORDERS
     "]}"},
    {"topic filter over both clusters", "etl", "clicks", NULL, "1200", 425,
     "{\"ready\":false,\"group\":\"etl\",\"topic\":\"clicks\","
     "\"cluster\":null,"
     "\"until\":\"1970-01-01T00:20:00.000Z\",\"until_ms\":1200000,"
     "\"consumed_through\":\"1970-01-01T00:16:40.000Z\","
     "\"consumed_through_ms\":1000000,\"stale\":true,\"topics\":[" MAIN_CLICKS
     "," DR_CLICKS "]}"},
    {"cluster filter, fresh", "etl", NULL, "main", "1000", 200,
     "{\"ready\":true,\"group\":\"etl\",\"topic\":null,\"cluster\":\"main\","
     "\"until\":\"1970-01-01T00:16:40.000Z\",\"until_ms\":1000000,"
     "\"consumed_through\":\"1970-01-01T00:16:40.000Z\","
     "\"consumed_through_ms\":1000000,\"stale\":false,\"topics\":[" MAIN_CLICKS
     "," MAIN_ORDERS "]}"},
    {"cluster filter, stale ready", "etl", NULL, "dr", "1400", 200,
     "{\"ready\":true,\"group\":\"etl\",\"topic\":null,\"cluster\":\"dr\","
     "\"until\":\"1970-01-01T00:23:20.000Z\",\"until_ms\":1400000,"
     "\"consumed_through\":\"1970-01-01T00:25:00.000Z\","
     "\"consumed_through_ms\":1500000,\"stale\":true,\"topics\":[" DR_CLICKS
     "]}"},
    {"cluster filter, stale not ready", "etl", "clicks", "dr", "1600", 425,
     "{\"ready\":false,\"group\":\"etl\",\"topic\":\"clicks\","
     "\"cluster\":\"dr\","
     "\"until\":\"1970-01-01T00:26:40.000Z\",\"until_ms\":1600000,"
     "\"consumed_through\":\"1970-01-01T00:25:00.000Z\","
     "\"consumed_through_ms\":1500000,\"stale\":true,\"topics\":[" DR_CLICKS
     "]}"},
    {"group in one cluster only", "reports", NULL, NULL, "4", 200,
     "{\"ready\":true,\"group\":\"reports\",\"topic\":null,\"cluster\":null,"
     "\"until\":\"1970-01-01T00:00:04.000Z\",\"until_ms\":4000,"
     "\"consumed_through\":\"1970-01-01T00:00:05.000Z\","
     "\"consumed_through_ms\":5000,\"stale\":true,\"topics\":["
     "{\"cluster\":\"dr\",\"topic\":\"daily\",\"consumed_through_ms\":5000,"
     "\"max_lag_seconds\":0.333}]}"},
    {"group with no commits", "idle", NULL, NULL, "0", 425,
     "{\"ready\":false,\"group\":\"idle\",\"topic\":null,\"cluster\":null,"
     "\"until\":\"1970-01-01T00:00:00.000Z\",\"until_ms\":0,"
     "\"consumed_through\":null,\"consumed_through_ms\":null,"
     "\"stale\":true,\"topics\":[]}"},
    {"group with no commits, fresh cluster", "idle", NULL, "main", "0", 425,
     "{\"ready\":false,\"group\":\"idle\",\"topic\":null,\"cluster\":\"main\","
     "\"until\":\"1970-01-01T00:00:00.000Z\",\"until_ms\":0,"
     "\"consumed_through\":null,\"consumed_through_ms\":null,"
     "\"stale\":false,\"topics\":[]}"},
    {"hostile names in the sweep", "odd\"g\n", NULL, NULL, "7", 200,
     "{\"ready\":true,\"group\":\"odd\\\"g\\u000a\",\"topic\":null,"
     "\"cluster\":null,"
     "\"until\":\"1970-01-01T00:00:07.000Z\",\"until_ms\":7000,"
     "\"consumed_through\":\"1970-01-01T00:00:07.000Z\","
     "\"consumed_through_ms\":7000,\"stale\":false,\"topics\":["
     "{\"cluster\":\"main\",\"topic\":\"q\\\"t\\\\\\u0001\","
     "\"consumed_through_ms\":7000,\"max_lag_seconds\":0.125}]}"},
    {"unknown group", "nope", NULL, NULL, "1", 404,
     "{\"error\":\"unknown group 'nope'\"}"},
    {"group not in the chosen cluster", "reports", NULL, "main", "1", 404,
     "{\"error\":\"unknown group 'reports'\"}"},
    {"unknown topic", "etl", "nope", NULL, "1", 404,
     "{\"error\":\"unknown topic 'nope' for group 'etl'\"}"},
    {"unknown topic in the chosen cluster", "etl", "orders", "dr", "1", 404,
     "{\"error\":\"unknown topic 'orders' for group 'etl'\"}"},
    {"topic of a group with no commits", "idle", "clicks", NULL, "1", 404,
     "{\"error\":\"unknown topic 'clicks' for group 'idle'\"}"},
    {"unknown cluster", "etl", NULL, "mars", "1", 404,
     "{\"error\":\"unknown cluster 'mars'\"}"},
    {"hostile group", "a\"b\\c\n\x01\x7f\xff\xc3(", NULL, NULL, "1", 404,
     "{\"error\":\"unknown group "
     "'a\\\"b\\\\c\\u000a\\u0001\\u007f\\ufffd\\ufffd('\"}"},
    {"hostile cluster", "etl", NULL, "</script>\"", "1", 404,
     "{\"error\":\"unknown cluster '</script>\\\"'\"}"},
    {"missing group", NULL, NULL, NULL, "1", 400,
     "{\"error\":\"missing parameter 'group'\"}"},
    {"empty group", "", NULL, NULL, "1", 400,
     "{\"error\":\"missing parameter 'group'\"}"},
    {"missing until", "etl", NULL, NULL, NULL, 400,
     "{\"error\":\"missing parameter 'until'\"}"},
    {"empty until", "etl", NULL, NULL, "", 400,
     "{\"error\":\"missing parameter 'until'\"}"},
    {"empty topic", "etl", "", NULL, "1", 400,
     "{\"error\":\"empty parameter 'topic'\"}"},
    {"empty cluster", "etl", NULL, "", "1", 400,
     "{\"error\":\"empty parameter 'cluster'\"}"},
    {"bad until", "etl", NULL, NULL, "2023-02-29T00:00:00Z", 400,
     "{\"error\":\"bad parameter 'until' '2023-02-29T00:00:00Z': "
     "day out of range\"}"},
    {"hostile until", "etl", NULL, NULL, "1\"\n", 400,
     "{\"error\":\"bad parameter 'until' '1\\\"\\u000a': "
     "unexpected character in epoch seconds\"}"},
    /* A bad parameter is reported before an unknown group. */
    {"bad until, unknown group", "nope", NULL, NULL, "soon", 400,
     "{\"error\":\"bad parameter 'until' 'soon': "
     "want RFC 3339 date-time or epoch seconds\"}"},
};

TAP_CASE(table)
{
    struct buf json = BUF_INIT;
    for (size_t i = 0; i < TAP_N(rcases); i++) {
        const struct rcase *rc = &rcases[i];
        buf_reset(&json);
        int status = ready_eval(clusters, TAP_N(clusters), rc->group, rc->topic,
                                rc->cluster, rc->until, &json);
        if (status != rc->status || strcmp(json.data, rc->body) != 0)
            printf("# case '%s'\n", rc->name);
        TAP_EQ_INT(rc->status, status);
        TAP_EQ_STR(rc->body, json.data);
        TAP_OK(!buf_error(&json));
    }
    buf_release(&json);
}

TAP_CASE(no_clusters)
{
    struct buf json = BUF_INIT;
    int status = ready_eval(NULL, 0, "etl", NULL, NULL, "1", &json);
    TAP_EQ_INT(404, status);
    TAP_EQ_STR("{\"error\":\"unknown group 'etl'\"}", json.data);
    buf_release(&json);
}

TAP_CASE(echo_is_clipped)
{
    /* 1000 quotes would escape to 2000 bytes; only READY_ECHO_MAX of them
     * are echoed. */
    char big[1001];
    memset(big, '"', 1000);
    big[1000] = '\0';
    struct buf json = BUF_INIT;
    TAP_EQ_INT(404, ready_eval(clusters, TAP_N(clusters), big, NULL, NULL, "1",
                               &json));
    size_t want =
        strlen("{\"error\":\"unknown group ''\"}") + 2 * READY_ECHO_MAX;
    TAP_EQ_INT(want, json.len);
    buf_reset(&json);
    TAP_EQ_INT(400, ready_eval(clusters, TAP_N(clusters), "etl", NULL, NULL,
                               big, &json));
    TAP_OK(json.len < 2 * READY_ECHO_MAX + 200);
    buf_release(&json);
}

TAP_CASE(clip_inside_utf8)
{
    /* A 3-byte character straddling the clip comes out as replacement
     * characters, never as a broken sequence. */
    char s[READY_ECHO_MAX + 4];
    memset(s, 'a', READY_ECHO_MAX - 1);
    memcpy(s + READY_ECHO_MAX - 1, "\xe2\x82\xac", 4); /* U+20AC + NUL */
    struct buf b = BUF_INIT;
    jsonw_cstrn(&b, s, READY_ECHO_MAX);
    TAP_EQ_INT(1 + (READY_ECHO_MAX - 1) + 6 + 1, b.len);
    TAP_EQ_STR("\\ufffd\"", b.data + b.len - 7);
    buf_release(&b);
}

struct esc {
    const char *in;
    const char *out;
};

static const struct esc escs[] = {
    {"", "\"\""},
    {"plain", "\"plain\""},
    {"gr\xc3\xbc\xc3\x9f"
     "e",
     "\"gr\xc3\xbc\xc3\x9f"
     "e\""},
    {"\xe2\x82\xac", "\"\xe2\x82\xac\""},                     /* U+20AC */
    {"\xf0\x9f\x98\x80", "\"\xf0\x9f\x98\x80\""},             /* U+1F600 */
    {"\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\""},             /* U+10FFFF */
    {"\xc0\x80", "\"\\ufffd\\ufffd\""},                       /* overlong NUL */
    {"\xe0\x80\xaf", "\"\\ufffd\\ufffd\\ufffd\""},            /* overlong '/' */
    {"\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\""},            /* surrogate */
    {"\xf4\x90\x80\x80", "\"\\ufffd\\ufffd\\ufffd\\ufffd\""}, /* too big */
    {"\xe2\x82", "\"\\ufffd\\ufffd\""},                       /* truncated */
    {"\xe2\x82x", "\"\\ufffd\\ufffdx\""},
    {"\x80", "\"\\ufffd\""},
    {"\t\r\x1f", "\"\\u0009\\u000d\\u001f\""},
    {"\\\"/", "\"\\\\\\\"/\""},
};

TAP_CASE(json_escaping)
{
    struct buf b = BUF_INIT;
    for (size_t i = 0; i < TAP_N(escs); i++) {
        buf_reset(&b);
        jsonw_cstr(&b, escs[i].in);
        TAP_EQ_STR(escs[i].out, b.data);
    }
    buf_release(&b);
}

TAP_CASE(overflow_gives_500)
{
    struct buf json;
    buf_init(&json, 128);
    buf_adds(&json, "keep:");
    int status =
        ready_eval(clusters, TAP_N(clusters), "etl", NULL, NULL, "1", &json);
    TAP_EQ_INT(500, status);
    TAP_EQ_STR("keep:{\"error\":\"response too large\"}", json.data);
    TAP_OK(!buf_error(&json));
    buf_release(&json);
}

static const struct tap_case cases[] = {
    TAP_ENTRY(table),           TAP_ENTRY(no_clusters),
    TAP_ENTRY(echo_is_clipped), TAP_ENTRY(clip_inside_utf8),
    TAP_ENTRY(json_escaping),   TAP_ENTRY(overflow_gives_500),
};

int main(int argc, char **argv)
{
    return tap_main(cases, TAP_N(cases), argc, argv);
}
