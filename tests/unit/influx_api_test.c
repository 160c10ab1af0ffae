/*
 * influx_api_test: the per-node API knowledge of the InfluxDB sink (v1
 * /write and the v2 /api/v2/write): destinations resolved from config,
 * URL escaping, the auth header, /ping answers and the spool record
 * header, including records in the format spools were written in before
 * v2 nodes existed (bytes written out by hand here). Expected strings are
 * spelled out from lagwatch.yml(5) SINKS and RFC 3986, never computed by
 * the module under test.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "influx/influx_api.h"
#include "tests/lib/tap.h"

static struct cfg_influx cfg_of(const char *db, const char *rp)
{
    struct cfg_influx c;
    memset(&c, 0, sizeof(c));
    c.database = (char *)db;
    c.retention_policy = (char *)rp;
    return c;
}

static struct cfg_influx_node node_of(const char *api, const char *org,
                                      const char *bucket, const char *token)
{
    struct cfg_influx_node n;
    memset(&n, 0, sizeof(n));
    n.name = "n1";
    n.url = "http://127.0.0.1:8086";
    n.weight = 1;
    n.api = (char *)api;
    n.org = (char *)org;
    n.bucket = (char *)bucket;
    n.token = (char *)token;
    return n;
}

TAP_CASE(v1_urls)
{
    struct cfg_influx c = cfg_of("my db/x", "two weeks");
    struct cfg_influx_node n = node_of(NULL, NULL, NULL, NULL);
    struct influx_dest d;
    char err[256];
    TAP_EQ_INT(0, influx_dest_for_node(&d, &n, &c, err, sizeof(err)));
    TAP_EQ_INT(INFLUX_API_V1, d.api);
    char *w = influx_api_write_url("http://u:p@h:8086/pre", &d);
    TAP_EQ_STR("http://u:p@h:8086/pre/write?db=my%20db%2Fx&rp=two%20weeks"
               "&precision=ms",
               w);
    free(w);
    influx_dest_free(&d);

    c = cfg_of("flink", NULL);
    n = node_of("v1", NULL, NULL, NULL);
    TAP_EQ_INT(0, influx_dest_for_node(&d, &n, &c, err, sizeof(err)));
    w = influx_api_write_url("http://h:1", &d);
    TAP_EQ_STR("http://h:1/write?db=flink&precision=ms", w);
    free(w);
    TAP_OK(influx_dest_can_create(&d));
    influx_dest_free(&d);
    TAP_OK(d.db == NULL && d.rp == NULL);

    w = influx_api_query_url("http://h:1");
    TAP_EQ_STR("http://h:1/query", w);
    free(w);
    w = influx_api_ping_url("http://h:1");
    TAP_EQ_STR("http://h:1/ping", w);
    free(w);
}

TAP_CASE(v2_urls_and_bucket_default)
{
    struct cfg_influx c = cfg_of("flink", "autogen");
    struct cfg_influx_node n = node_of("v2", "my org&co", NULL, NULL);
    struct influx_dest d;
    char err[256];
    TAP_EQ_INT(0, influx_dest_for_node(&d, &n, &c, err, sizeof(err)));
    TAP_EQ_INT(INFLUX_API_V2, d.api);
    TAP_EQ_STR("flink/autogen", d.bucket);
    TAP_OK(!influx_dest_can_create(&d));
    char *w = influx_api_write_url("https://h:8086", &d);
    TAP_EQ_STR("https://h:8086/api/v2/write?org=my%20org%26co"
               "&bucket=flink%2Fautogen&precision=ms",
               w);
    free(w);
    influx_dest_free(&d);

    c = cfg_of("flink", NULL);
    TAP_EQ_INT(0, influx_dest_for_node(&d, &n, &c, err, sizeof(err)));
    TAP_EQ_STR("flink", d.bucket);
    influx_dest_free(&d);

    n = node_of("v2", "o", "b=ü?", NULL);
    TAP_EQ_INT(0, influx_dest_for_node(&d, &n, &c, err, sizeof(err)));
    w = influx_api_write_url("http://h", &d);
    TAP_EQ_STR("http://h/api/v2/write?org=o&bucket=b%3D%C3%BC%3F"
               "&precision=ms",
               w);
    free(w);
    influx_dest_free(&d);
}

TAP_CASE(v2_errors)
{
    struct cfg_influx c = cfg_of("flink", NULL);
    struct cfg_influx_node n = node_of("v2", NULL, "b", NULL);
    struct influx_dest d;
    char err[256] = "";
    TAP_EQ_INT(-1, influx_dest_for_node(&d, &n, &c, err, sizeof(err)));
    TAP_OK(strstr(err, "'n1'") && strstr(err, "org"));
    TAP_OK(d.org == NULL && d.bucket == NULL);

    c = cfg_of(NULL, NULL);
    n = node_of("v2", "o", NULL, NULL);
    TAP_EQ_INT(-1, influx_dest_for_node(&d, &n, &c, err, sizeof(err)));
    TAP_OK(strstr(err, "bucket") != NULL);

    /* a spool record header cannot carry a name this long */
    char *big = malloc(0x10001);
    TAP_OK(big != NULL);
    memset(big, 'b', 0x10000);
    big[0x10000] = '\0';
    n = node_of("v2", "o", big, NULL);
    c = cfg_of("flink", NULL);
    int rc = influx_dest_for_node(&d, &n, &c, err, sizeof(err));
    big[0xffff] = '\0'; /* exactly the limit is fine */
    int rc2 = influx_dest_for_node(&d, &n, &c, err, sizeof(err));
    influx_dest_free(&d);
    free(big);
    TAP_EQ_INT(-1, rc);
    TAP_EQ_INT(0, rc2);
}

TAP_CASE(auth_header)
{
    struct cfg_influx_node n = node_of("v2", "o", NULL, "s3cr3t-TOKEN==");
    char *h = influx_api_auth_header(&n);
    TAP_EQ_STR("Authorization: Token s3cr3t-TOKEN==", h);
    free(h);
    TAP_OK(!influx_api_sends_basic(&n));

    n = node_of("v2", "o", NULL, NULL);
    TAP_OK(influx_api_auth_header(&n) == NULL);
    TAP_OK(influx_api_sends_basic(&n));

    /* v1 nodes authenticate with username/password only */
    n = node_of(NULL, NULL, NULL, "tok");
    TAP_OK(influx_api_auth_header(&n) == NULL);
    TAP_OK(influx_api_sends_basic(&n));
}

TAP_CASE(ping_answers)
{
    TAP_OK(influx_api_ping_ok(INFLUX_API_V1, 204));
    TAP_OK(!influx_api_ping_ok(INFLUX_API_V1, 200));
    TAP_OK(!influx_api_ping_ok(INFLUX_API_V1, 0));
    TAP_OK(influx_api_ping_ok(INFLUX_API_V2, 204));
    TAP_OK(influx_api_ping_ok(INFLUX_API_V2, 200));
    TAP_OK(!influx_api_ping_ok(INFLUX_API_V2, 401));
    TAP_OK(!influx_api_ping_ok(INFLUX_API_V2, 502));
    TAP_OK(!influx_api_ping_ok(INFLUX_API_V2, 0));
}

/* A record header exactly as spools were written before v2 nodes: "LWI2",
 * database length 5, retention policy length 7, the names, zero padding
 * to 20 bytes; then the first line end of the batch. */
static const unsigned char legacy[] = {
    'L', 'W', 'I', '2', 5,   0,   7,   0,   'f', 'l', 'i', 'n',
    'k', 'a', 'u', 't', 'o', 'g', 'e', 'n', 0,   0,   0,   0,
    9,   0,   0,   0,   'm', ' ', 'f', '=', '1', ' ', '1', '\n'};

TAP_CASE(legacy_record_readable)
{
    struct influx_dest d;
    size_t h = influx_api_rec_parse(legacy, sizeof(legacy), &d);
    TAP_EQ_U64(20, h);
    TAP_EQ_INT(INFLUX_API_V1, d.api);
    TAP_EQ_STR("flink", d.db);
    TAP_EQ_STR("autogen", d.rp);
    char *w = influx_api_write_url("http://h:8086", &d);
    TAP_EQ_STR("http://h:8086/write?db=flink&rp=autogen&precision=ms", w);
    free(w);

    /* and today's writer produces exactly those bytes for a v1 node */
    unsigned char out[64];
    TAP_EQ_U64(20, influx_api_rec_head_len(&d));
    memset(out, 0xaa, sizeof(out));
    influx_api_rec_head(&d, out);
    TAP_OK(memcmp(out, legacy, 20) == 0);
    influx_dest_free(&d);
}

TAP_CASE(v2_record_round_trip)
{
    struct cfg_influx c = cfg_of("flink", NULL);
    struct cfg_influx_node n = node_of("v2", "org-1", "bkt/a", NULL);
    struct influx_dest d, back;
    char err[256];
    TAP_EQ_INT(0, influx_dest_for_node(&d, &n, &c, err, sizeof(err)));
    size_t h = influx_api_rec_head_len(&d);
    TAP_EQ_U64(20, h); /* 8 + 5 + 5 = 18, padded to 4 */
    unsigned char rec[64];
    memset(rec, 0xaa, sizeof(rec));
    influx_api_rec_head(&d, rec);
    static const unsigned char want[] = {'L', 'W', 'V', '2', 5,   0,   5,
                                         0,   'o', 'r', 'g', '-', '1', 'b',
                                         'k', 't', '/', 'a', 0,   0};
    TAP_OK(memcmp(rec, want, sizeof(want)) == 0);
    TAP_EQ_U64(20, influx_api_rec_parse(rec, 40, &back));
    TAP_OK(influx_dest_equal(&d, &back));
    char *w = influx_api_write_url("http://vm:8428", &back);
    TAP_EQ_STR("http://vm:8428/api/v2/write?org=org-1&bucket=bkt%2Fa"
               "&precision=ms",
               w);
    free(w);
    struct buf b = BUF_INIT;
    influx_dest_describe(&back, &b);
    TAP_EQ_STR("org 'org-1' bucket 'bkt/a'", b.data);
    buf_release(&b);
    influx_dest_free(&back);
    influx_dest_free(&d);
}

TAP_CASE(dest_equal_needs_same_api)
{
    /* db "x" rp "y" is not org "x" bucket "y" */
    struct influx_dest v1 = {INFLUX_API_V1, "x", "y", NULL, NULL};
    struct influx_dest v2 = {INFLUX_API_V2, NULL, NULL, "x", "y"};
    struct influx_dest v1b = {INFLUX_API_V1, "x", "", NULL, NULL};
    TAP_OK(!influx_dest_equal(&v1, &v2));
    TAP_OK(!influx_dest_equal(&v1, &v1b));
    TAP_OK(influx_dest_equal(&v2, &v2));
    struct buf b = BUF_INIT;
    influx_dest_describe(&v1, &b);
    TAP_EQ_STR("database 'x' retention policy 'y'", b.data);
    buf_release(&b);
}

TAP_CASE(bad_records)
{
    struct influx_dest d;
    unsigned char r[32];
    /* too short, unknown magic */
    TAP_EQ_U64(0, influx_api_rec_parse(legacy, 7, &d));
    memcpy(r, legacy, 24);
    r[3] = '3';
    TAP_EQ_U64(0, influx_api_rec_parse(r, 24, &d));
    /* lengths pointing past the record */
    memcpy(r, legacy, 24);
    r[4] = 200;
    TAP_EQ_U64(0, influx_api_rec_parse(r, 24, &d));
    /* v1 without a database */
    memcpy(r, legacy, 24);
    r[4] = 0;
    TAP_EQ_U64(0, influx_api_rec_parse(r, 24, &d));
    /* v2 without a bucket */
    static const unsigned char nob[] = {'L', 'W', 'V', '2', 1, 0,
                                        0,   0,   'o', 0,   0, 0};
    TAP_EQ_U64(0, influx_api_rec_parse(nob, sizeof(nob), &d));
    /* a NUL inside a name */
    memcpy(r, legacy, 24);
    r[9] = 0;
    TAP_EQ_U64(0, influx_api_rec_parse(r, 24, &d));
    TAP_OK(d.db == NULL && d.org == NULL);
}

static const struct tap_case cases[] = {
    TAP_ENTRY(v1_urls),
    TAP_ENTRY(v2_urls_and_bucket_default),
    TAP_ENTRY(v2_errors),
    TAP_ENTRY(auth_header),
    TAP_ENTRY(ping_answers),
    TAP_ENTRY(legacy_record_readable),
    TAP_ENTRY(v2_record_round_trip),
    TAP_ENTRY(dest_equal_needs_same_api),
    TAP_ENTRY(bad_records),
};

int main(int argc, char **argv)
{
    return tap_main(cases, TAP_N(cases), argc, argv);
}
