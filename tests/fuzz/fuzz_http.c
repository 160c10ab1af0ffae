/*
 * fuzz_http: the pure request-handling functions behind lagwatch's HTTP
 * endpoint (a whole server per input would be too slow): Accept
 * negotiation for /metrics, the until= time parser and the rest of
 * /api/v1/ready's parameters, the JSON string escaper, and the response
 * header check.
 *
 * Input byte 0 % 5 picks the target, the rest is its text (NUL-terminated
 * copies, as libmicrohttpd hands headers and arguments over). Properties:
 *   accept: the answer is a format; appending or prepending a media range
 *           nobody supports, or a supported one with q=0, changes nothing;
 *           a first range of text/plain;q=1 is never beaten by a later one
 *           of the same q;
 *   time:   a parsed time prints (RFC 3339) and parses back to itself;
 *   ready:  the status is one of ready.h's, and the body is valid JSON
 *           (jansson) holding "error" or "ready" as documented;
 *   json:   jsonw_cstrn() makes one valid JSON string of valid UTF-8;
 *   header: httpd_response_header() refuses exactly what httpd.h lists.
 */
#include <strings.h>

#include <jansson.h>

#include "kafka/kafka_lag.h"
#include "kafka/ready.h"
#include "prom/expo.h"
#include "serve/httpd.h"
#include "util/buf.h"
#include "util/jsonw.h"
#include "util/timefmt.h"
#include "tests/fuzz/fuzz_common.h"

static struct kafka_lag_topic main_etl[] = {
    {.topic = "clicks", .max_lag_seconds = 4.5, .consumed_through_ms = 1000000},
    {.topic = "orders", .max_lag_seconds = 0, .consumed_through_ms = 2000000},
};
static struct kafka_lag_group main_groups[] = {
    {.group = "etl", .topics = main_etl, .n_topics = 2},
    {.group = "idle", .topics = NULL, .n_topics = 0},
};
static struct kafka_lag_cluster c_main = {
    .name = "main",
    .groups = main_groups,
    .n_groups = 2,
};
static struct kafka_lag_topic dr_etl[] = {
    {.topic = "clicks\"\\\x01",
     .max_lag_seconds = 1e300,
     .consumed_through_ms = INT64_MIN},
};
static struct kafka_lag_group dr_groups[] = {
    {.group = "etl", .topics = dr_etl, .n_topics = 1},
};
static struct kafka_lag_cluster c_dr = {
    .name = "dr",
    .stale = true,
    .error = "cannot reach 'dr': timeout",
    .groups = dr_groups,
    .n_groups = 1,
};
static const struct kafka_lag_cluster *const clusters[] = {&c_main, &c_dr};

static char *join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    char *s = malloc(la + lb + 1);
    FUZZ_CHECK(s != NULL, "malloc");
    memcpy(s, a, la);
    memcpy(s + la, b, lb + 1);
    return s;
}

static void accept_(const char *s)
{
    enum expo_format f = expo_negotiate(s);
    FUZZ_CHECK(f >= EXPO_TEXT && f < EXPO_FORMAT_N_, "format %d", (int)f);
    FUZZ_CHECK(expo_content_type(f) != NULL, "no content type");
    /* a range that cannot win changes nothing, wherever it goes; a comma
     * inside a quoted parameter would make this untrue, so only inputs
     * without quotes are compared */
    if (strchr(s, '"'))
        return;
    static const char *const losers[] = {
        "image/png",
        "application/json;q=1",
        "application/openmetrics-text;version=9.9.9",
        "application/vnd.google.protobuf;proto=x.y;encoding=delimited",
        "application/openmetrics-text;q=0",
        "text/plain;version=0.0.4;q=0",
    };
    for (size_t i = 0; i < sizeof(losers) / sizeof(*losers); i++) {
        char *tail = join(",", losers[i]);
        char *a = join(s, tail);
        FUZZ_CHECK(expo_negotiate(a) == f, "'%s' differs from '%s'", a, s);
        free(a);
        free(tail);
        char *head = join(losers[i], ",");
        char *b = join(head, s);
        FUZZ_CHECK(expo_negotiate(b) == f, "'%s' differs from '%s'", b, s);
        free(b);
        free(head);
    }
    /* ties go to the earlier range: nothing after a q=1 text/plain wins */
    char *c = join("text/plain;version=0.0.4,", s);
    FUZZ_CHECK(expo_negotiate(c) == EXPO_TEXT, "'%s' is not text", c);
    free(c);
}

static void time_(const char *s)
{
    int64_t ms;
    const char *why = NULL;
    if (timefmt_parse_time(s, &ms, &why) != 0) {
        FUZZ_CHECK(why != NULL && why[0] != '\0', "no reason for '%s'", s);
        return;
    }
    char out[64];
    timefmt_rfc3339_ms(ms, out, sizeof(out));
    int64_t back;
    int rc = timefmt_parse_time(out, &back, &why);
    /* years past 9999 print with five digits, which is not RFC 3339 and is
     * refused by the parser: only years 0000-9999 must round-trip */
    if (out[0] == '+' || out[0] == '-')
        return;
    FUZZ_CHECK(rc == 0 && back == ms, "'%s' -> %lld -> '%s' -> %lld (%s)", s,
               (long long)ms, out, (long long)back, rc ? why : "ok");
    int64_t y;
    int m, d;
    int64_t days = ms >= 0 ? ms / 86400000 : -((-ms + 86399999) / 86400000);
    timefmt_civil_from_days(days, &y, &m, &d);
    FUZZ_CHECK(timefmt_days_from_civil(y, m, d) == days, "civil round trip");
}

/* Splits s at the first three '&' into group, topic, cluster, until; an
 * empty part is NULL for topic and cluster ("all"), "" for the others. */
static void ready_(char *s)
{
    char *part[4] = {s, NULL, NULL, NULL};
    for (int i = 1; i < 4 && part[i - 1]; i++) {
        char *amp = strchr(part[i - 1], '&');
        if (amp) {
            *amp = '\0';
            part[i] = amp + 1;
        }
    }
    const char *topic = part[1] && *part[1] ? part[1] : NULL;
    const char *cluster = part[2] && *part[2] ? part[2] : NULL;
    const char *until = part[3] ? part[3] : "";
    struct buf json = BUF_INIT;
    /* a small cap half the time, so the 500 path is reached */
    buf_init(&json, (s[0] & 1) ? 64 : 0);
    int st = ready_eval(clusters, 2, part[0], topic, cluster, until, &json);
    FUZZ_CHECK(st == 200 || st == 425 || st == 404 || st == 400 || st == 500,
               "status %d", st);
    json_error_t e;
    json_t *j = json_loadb(json.data, json.len, 0, &e);
    FUZZ_CHECK(j != NULL, "status %d, body not JSON (%s): %s", st, e.text,
               json.data);
    const char *key = st == 200 || st == 425 ? "ready" : "error";
    FUZZ_CHECK(json_object_get(j, key) != NULL, "status %d without '%s': %s",
               st, key, json.data);
    if (st == 200 || st == 425)
        FUZZ_CHECK(json_is_true(json_object_get(j, "ready")) == (st == 200),
                   "ready does not match %d", st);
    json_decref(j);
    buf_release(&json);
}

static void json_(const char *s, size_t len)
{
    struct buf b = BUF_INIT;
    size_t max = len > 4 ? len - (unsigned char)s[0] % 4 : len;
    jsonw_cstrn(&b, s, max);
    FUZZ_CHECK(!buf_error(&b), "buf error");
    json_error_t e;
    json_t *j = json_loadb(b.data, b.len, JSON_DECODE_ANY, &e);
    FUZZ_CHECK(j != NULL && json_is_string(j), "not a JSON string (%s): %s",
               e.text, b.data);
    json_decref(j);
    buf_release(&b);
}

static void header_(char *s)
{
    static const char *const managed[] = {
        "Content-Length", "Content-Encoding",
        "Content-Type",   "Transfer-Encoding",
        "Vary",           "Connection",
    };
    struct httpd_response r;
    memset(&r, 0, sizeof(r));
    /* name and value split at the first NUL-free ": " ... or the first
     * '\t'; then up to HTTPD_MAX_HEADERS + 1 pairs separated by '\v' */
    char *save = s;
    for (size_t k = 0; k <= HTTPD_MAX_HEADERS && save; k++) {
        char *next = strchr(save, '\v');
        if (next)
            *next++ = '\0';
        char *name = save, *value = strchr(save, '\t');
        if (value)
            *value++ = '\0';
        else
            value = "";
        bool ok = name[0] && !strpbrk(name, "\r\n:") &&
                  !strpbrk(value, "\r\n") && r.nheaders_ < HTTPD_MAX_HEADERS;
        for (size_t i = 0; ok && i < sizeof(managed) / sizeof(*managed); i++)
            ok = strcasecmp(name, managed[i]) != 0;
        size_t before = r.nheaders_;
        int rc = httpd_response_header(&r, name, value);
        FUZZ_CHECK(rc == (ok ? 0 : -1), "header '%s' -> %d", name, rc);
        FUZZ_CHECK(r.nheaders_ == before + (rc == 0), "count");
        save = next;
    }
    for (size_t i = 0; i < r.nheaders_; i++) {
        free(r.hname_[i]);
        free(r.hvalue_[i]);
    }
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
    if (size < 1 || size > 8192)
        return 0;
    /* the text up to the first NUL, as a C string in its own allocation */
    size_t len = size - 1;
    const uint8_t *nul = memchr(data + 1, 0, len);
    if (nul)
        len = (size_t)(nul - (data + 1));
    char *s = malloc(len + 1);
    FUZZ_CHECK(s != NULL, "malloc");
    memcpy(s, data + 1, len);
    s[len] = '\0';
    switch (data[0] % 5) {
    case 0:
        accept_(s);
        break;
    case 1:
        time_(s);
        break;
    case 2:
        ready_(s);
        break;
    case 3:
        json_(s, len);
        break;
    default:
        header_(s);
        break;
    }
    free(s);
    return 0;
}
