/*
 * influx_sink_test: the InfluxDB sink against a live influxd 1.x given by
 * INFLUX_URL (skipped when unset). tests/integration/influx_roundtrip.sh
 * starts one with [http] max-body-size = 64 KiB, which the split case
 * relies on. Each case writes to a fresh database and reads it back with
 * InfluxQL over /query.
 */
#include <float.h>
#include <netinet/in.h>
#include <stdint.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <dirent.h>
#include <sys/stat.h>

#include <curl/curl.h>
#include <jansson.h>

#include "tests/lib/tap.h"
#include "util/buf.h"
#include "influx/influx.h"
#include "util/log.h"

static const char *influx_url;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void fresh_db(char *out, size_t n, const char *what)
{
    static unsigned seq;
    snprintf(out, n, "lw_%s_%ld_%u", what, (long)getpid(), seq++);
}

static struct cfg_influx_node one_node[1];

static void base_cfg(struct cfg_influx *cfg, const char *db)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->enabled = true;
    cfg->database = (char *)db;
    cfg->batch_size = 5000;
    cfg->flush_interval_ms = 60000;
    cfg->timeout_ms = 5000;
    cfg->max_retries = 2;
    cfg->queue_max_bytes = 64u << 20;
    cfg->create_database = true;
    cfg->gzip = true;
    one_node[0].name = "live";
    one_node[0].url = (char *)influx_url;
    one_node[0].weight = 1;
    cfg->nodes = one_node;
    cfg->n_nodes = 1;
}

static size_t on_body(char *p, size_t size, size_t nmemb, void *ctx)
{
    buf_add(ctx, p, size * nmemb);
    return size * nmemb;
}

/* Runs q on db; returns the raw JSON answer (free it) or NULL. */
static char *query_raw(const char *db, const char *q)
{
    CURL *c = curl_easy_init();
    struct buf url = BUF_INIT, body = BUF_INIT;
    char *res = NULL;
    if (!c)
        return NULL;
    char *eq = curl_easy_escape(c, q, 0);
    buf_addf(&url, "%s/query?epoch=ms&db=%s", influx_url, db);
    buf_addf(&body, "q=%s", eq);
    curl_free(eq);
    curl_easy_setopt(c, CURLOPT_URL, url.data);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data);
    struct buf resp = BUF_INIT;
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &resp);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
    long status = 0;
    if (curl_easy_perform(c) == CURLE_OK)
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status == 200)
        res = buf_detach(&resp, NULL);
    buf_release(&resp);
    buf_release(&url);
    buf_release(&body);
    curl_easy_cleanup(c);
    return res;
}

static json_t *query_json(const char *db, const char *q, size_t flags)
{
    char *raw = query_raw(db, q);
    if (!raw)
        return NULL;
    json_error_t je;
    json_t *j = json_loads(raw, flags, &je);
    free(raw);
    return j;
}

/* results[0].series (may be NULL). */
static json_t *series_of(json_t *j)
{
    return json_object_get(json_array_get(json_object_get(j, "results"), 0),
                           "series");
}

/* A single number from "SELECT count(f) ..."-like queries, -1 when none. */
static long long query_count(const char *db, const char *q)
{
    json_t *j = query_json(db, q, 0);
    json_t *v = json_array_get(
        json_array_get(
            json_object_get(json_array_get(series_of(j), 0), "values"), 0),
        1);
    long long n = json_is_integer(v) ? json_integer_value(v) : -1;
    json_decref(j);
    return n;
}

static int db_exists(const char *db)
{
    json_t *j = query_json("", "SHOW DATABASES", 0);
    json_t *vals = json_object_get(json_array_get(series_of(j), 0), "values");
    int found = 0;
    for (size_t i = 0; i < json_array_size(vals); i++) {
        const char *name =
            json_string_value(json_array_get(json_array_get(vals, i), 0));
        if (name && strcmp(name, db) == 0)
            found = 1;
    }
    json_decref(j);
    return found;
}

/* ------------------------------------------------------------------ */
/* round trip */

#define RT_TAGS   3
#define RT_FIELDS 6

struct rt_point {
    const char *meas;
    const char *tags[2 * RT_TAGS + 1];
    struct field fields[RT_FIELDS];
    size_t nfields;
};

#define F_FLT(k, v)                                                            \
    {                                                                          \
        .key = (k), .kind = FIELD_FLOAT, .f = (v)                              \
    }
#define F_INT(k, v)                                                            \
    {                                                                          \
        .key = (k), .kind = FIELD_INT, .i = (v)                                \
    }
#define F_BOOL(k, v)                                                           \
    {                                                                          \
        .key = (k), .kind = FIELD_BOOL, .b = (v)                               \
    }
#define F_STR(k, v)                                                            \
    {                                                                          \
        .key = (k), .kind = FIELD_STRING, .s = (v)                             \
    }

static char long_value[1001];

/* Field keys keep one type across measurements: a regex query merges
 * columns of the same name. */
static const struct rt_point rt_points[] = {
    {"plain", {"host", "a", NULL}, {F_FLT("f", 1.5)}, 1},
    {"sp ace,comma=eq\"quote\\back",
     {"t ag,=\"\\k", "v al,=\"\\x", NULL},
     {F_FLT("fi eld,=\"\\k", 0.1), F_STR("s", "q\"uo\\te\nnl \t tab")},
     2},
    {"a\\b\\c",
     {"k\\,", "v\\ w\\=x", NULL},
     {F_FLT("f", -2.25), F_FLT("g\\h", 7)},
     2},
    {"\xd0\xbc\xd0\xb5\xd1\x80\xd0\xb0",
     {"\xd0\xba\xd0\xbb\xd1\x8e\xd1\x87", "\xf0\x9f\x98\x80 \xe2\x82\xac",
      NULL},
     {F_STR("s", "\xf0\x9f\x98\x80\xf0\x9f\x8e\x89 caf\xc3\xa9")},
     1},
    {"long", {"t", long_value, NULL}, {F_FLT("f", 3)}, 1},
    {"floats",
     {NULL},
     {F_FLT("f", 1e-300), F_FLT("g", DBL_MAX), F_FLT("h", -0.0),
      F_FLT("i_f", 5e-324), F_FLT("j", 1.0 / 3.0), F_FLT("k", -DBL_MAX)},
     6},
    {"ints",
     {NULL},
     {F_INT("i", INT64_MAX), F_INT("j_i", -INT64_MAX), F_INT("k_i", 0),
      F_BOOL("b", true), F_BOOL("c", false)},
     5},
    /* the NaN and Inf fields go, the rest lands */
    {"nonfinite",
     {"t", "x", NULL},
     {F_FLT("nan", NAN), F_FLT("f", 42), F_FLT("inf", INFINITY),
      F_FLT("ninf", -INFINITY)},
     4},
};

static void make_point(const struct rt_point *rp, struct label *tags,
                       struct point *p, int64_t ts)
{
    size_t n = 0;
    for (size_t i = 0; rp->tags[i]; i += 2) {
        tags[n].name = rp->tags[i];
        tags[n].name_len = (uint32_t)strlen(rp->tags[i]);
        tags[n].value = rp->tags[i + 1];
        tags[n].value_len = (uint32_t)strlen(rp->tags[i + 1]);
        n++;
    }
    memset(p, 0, sizeof(*p));
    p->measurement = rp->meas;
    p->tags = tags;
    p->ntags = n;
    p->fields = rp->fields;
    p->nfields = rp->nfields;
    p->ts_ms = ts;
}

static json_t *find_series(json_t *series, const struct rt_point *rp)
{
    for (size_t i = 0; i < json_array_size(series); i++) {
        json_t *s = json_array_get(series, i);
        const char *name = json_string_value(json_object_get(s, "name"));
        if (!name || strcmp(name, rp->meas) != 0)
            continue;
        json_t *tags = json_object_get(s, "tags");
        size_t ntags = 0, match = 0;
        for (size_t t = 0; rp->tags[t]; t += 2) {
            ntags++;
            const char *v =
                json_string_value(json_object_get(tags, rp->tags[t]));
            if (v && strcmp(v, rp->tags[t + 1]) == 0)
                match++;
        }
        /* GROUP BY * lists every tag key of the database, empty when the
         * series lacks it */
        const char *k;
        json_t *v;
        size_t nonempty = 0;
        json_object_foreach(tags, k, v)
        {
            if (json_string_length(v) > 0)
                nonempty++;
        }
        if (match == ntags && nonempty == ntags)
            return s;
    }
    return NULL;
}

static json_t *column(json_t *s, const char *key)
{
    json_t *cols = json_object_get(s, "columns");
    json_t *row = json_array_get(json_object_get(s, "values"), 0);
    for (size_t i = 0; i < json_array_size(cols); i++)
        if (strcmp(json_string_value(json_array_get(cols, i)), key) == 0)
            return json_array_get(row, i);
    return NULL;
}

TAP_CASE(round_trip)
{
    char db[64];
    fresh_db(db, sizeof(db), "rt");
    memset(long_value, 'L', sizeof(long_value) - 1);
    long_value[500] = ' ';
    long_value[501] = ',';
    long_value[502] = '=';
    struct cfg_influx cfg;
    base_cfg(&cfg, db);
    char err[256] = "";
    struct influx_sink *s = influx_sink_new(&cfg, NULL, err, sizeof(err));
    if (!s)
        TAP_FAIL_("influx_sink_new: %s", err);
    const int64_t ts0 = 1700000000000;
    for (size_t i = 0; i < TAP_N(rt_points); i++) {
        struct label tags[RT_TAGS];
        struct point p;
        make_point(&rt_points[i], tags, &p, ts0 + (int64_t)i);
        TAP_EQ_INT(0, influx_sink_write(s, 0, &p));
    }
    int rc = influx_sink_drain(s, 20000);
    struct influx_node_stats st;
    influx_sink_node_stats(s, 0, &st);
    influx_sink_free(&s);
    TAP_OK(s == NULL);
    if (rc != 0)
        TAP_FAIL_("drain failed: %s", st.last_error);
    TAP_EQ_U64(TAP_N(rt_points), st.points_written);
    TAP_EQ_U64(0, st.points_dropped);
    TAP_EQ_U64(0, st.points_skipped_invalid);
    TAP_OK(db_exists(db));

    /* Twice: as reals (floats bit-exact, "-0" kept) and as integers. */
    const char *q = "SELECT * FROM /.*/ GROUP BY *";
    json_t *jr = query_json(db, q, JSON_DECODE_INT_AS_REAL);
    json_t *ji = query_json(db, q, 0);
    TAP_OK(jr && ji);
    for (size_t i = 0; i < TAP_N(rt_points); i++) {
        const struct rt_point *rp = &rt_points[i];
        json_t *sr = find_series(series_of(jr), rp);
        json_t *si = find_series(series_of(ji), rp);
        if (!sr || !si)
            TAP_FAIL_("point %zu ('%s') not found", i, rp->meas);
        TAP_EQ_INT(1, json_array_size(json_object_get(si, "values")));
        TAP_EQ_INT(ts0 + (int64_t)i, json_integer_value(column(si, "time")));
        for (size_t f = 0; f < rp->nfields; f++) {
            const struct field *fd = &rp->fields[f];
            json_t *vr = column(sr, fd->key);
            json_t *vi = column(si, fd->key);
            switch (fd->kind) {
            case FIELD_FLOAT:
                if (!isfinite(fd->f)) {
                    TAP_OK(!vr || json_is_null(vr));
                    break;
                }
                if (!json_is_real(vr))
                    TAP_FAIL_("point %zu field '%s' missing", i, fd->key);
                double got = json_real_value(vr);
                if (memcmp(&got, &fd->f, sizeof(got)) != 0)
                    TAP_FAIL_("point %zu field '%s': want %.17g got %.17g", i,
                              fd->key, fd->f, got);
                break;
            case FIELD_INT:
                TAP_OK(json_is_integer(vi));
                TAP_EQ_INT(fd->i, json_integer_value(vi));
                break;
            case FIELD_BOOL:
                TAP_OK(json_is_boolean(vi));
                TAP_EQ_INT(fd->b, json_is_true(vi));
                break;
            case FIELD_STRING:
                TAP_OK(json_is_string(vi));
                TAP_EQ_INT(strlen(fd->s), json_string_length(vi));
                TAP_OK(memcmp(fd->s, json_string_value(vi), strlen(fd->s)) ==
                       0);
                break;
            }
        }
    }
    json_decref(jr);
    json_decref(ji);
}

/* ------------------------------------------------------------------ */

static void write_simple(struct influx_sink *s, size_t node, const char *m,
                         const char *tagv, int64_t ts, double v)
{
    struct label t = {"t", tagv, 1, (uint32_t)strlen(tagv)};
    struct field f = {.key = "v", .kind = FIELD_FLOAT, .f = v};
    struct point p = {.measurement = m,
                      .tags = &t,
                      .ntags = 1,
                      .fields = &f,
                      .nfields = 1,
                      .ts_ms = ts};
    influx_sink_write(s, node, &p);
}

/* 3000 points of ~110 bytes, uncompressed: 330 KB against influxd's
 * 64 KiB max-body-size, so 413 and splits down to ~40 KB. Against an
 * influxd with the default limit (25 MB) nothing would split: the case
 * needs INFLUX_MAX_BODY_SIZE, the limit the server was started with. */
TAP_CASE(split_on_413)
{
    const char *max = getenv("INFLUX_MAX_BODY_SIZE");
    unsigned long long limit = max ? strtoull(max, NULL, 10) : 0;
    if (limit < 45000 || limit > 300000)
        TAP_SKIP("needs an influxd with [http] max-body-size between 45000 "
                 "and 300000 bytes, named by INFLUX_MAX_BODY_SIZE (got %s)",
                 max ? max : "none");
    char db[64];
    fresh_db(db, sizeof(db), "split");
    struct cfg_influx cfg;
    base_cfg(&cfg, db);
    cfg.gzip = false;
    char err[256] = "";
    struct influx_sink *s = influx_sink_new(&cfg, NULL, err, sizeof(err));
    if (!s)
        TAP_FAIL_("influx_sink_new: %s", err);
    char tagv[80];
    for (int i = 0; i < 3000; i++) {
        snprintf(tagv, sizeof(tagv),
                 "series-%05d-padding-padding-padding-"
                 "padding-padding-padding-padding",
                 i);
        write_simple(s, 0, "big", tagv, 1700000000000 + i, i * 0.5);
    }
    int rc = influx_sink_drain(s, 30000);
    struct influx_node_stats st;
    influx_sink_node_stats(s, 0, &st);
    influx_sink_free(&s);
    if (rc != 0)
        TAP_FAIL_("drain failed: %s", st.last_error);
    TAP_EQ_U64(3000, st.points_written);
    TAP_OK(st.write_count > 3); /* the 413s plus the halves */
    TAP_EQ_INT(3000, query_count(db, "SELECT count(v) FROM big"));
}

TAP_CASE(database_created_or_not)
{
    char db[64], db2[64];
    fresh_db(db, sizeof(db), "create");
    fresh_db(db2, sizeof(db2), "nocreate");
    TAP_OK(!db_exists(db));
    struct cfg_influx cfg;
    base_cfg(&cfg, db);
    char err[256] = "";
    struct influx_sink *s = influx_sink_new(&cfg, NULL, err, sizeof(err));
    if (!s)
        TAP_FAIL_("influx_sink_new: %s", err);
    write_simple(s, 0, "m", "a", 1700000000000, 1);
    TAP_EQ_INT(0, influx_sink_drain(s, 20000));
    influx_sink_free(&s);
    TAP_OK(db_exists(db));
    TAP_EQ_INT(1, query_count(db, "SELECT count(v) FROM m"));

    base_cfg(&cfg, db2);
    cfg.create_database = false;
    s = influx_sink_new(&cfg, NULL, err, sizeof(err));
    if (!s)
        TAP_FAIL_("influx_sink_new: %s", err);
    write_simple(s, 0, "m", "a", 1700000000000, 1);
    write_simple(s, 0, "m", "b", 1700000000000, 2);
    TAP_EQ_INT(-1, influx_sink_drain(s, 20000));
    struct influx_node_stats st;
    influx_sink_node_stats(s, 0, &st);
    influx_sink_free(&s);
    TAP_EQ_U64(2, st.points_dropped);
    TAP_EQ_U64(0, st.points_written);
    TAP_OK(strstr(st.last_error, "database not found") != NULL);
    TAP_OK(!db_exists(db2));
}

TAP_CASE(type_conflict_partial_write)
{
    char db[64];
    fresh_db(db, sizeof(db), "conflict");
    struct cfg_influx cfg;
    base_cfg(&cfg, db);
    char err[256] = "";
    struct influx_sink *s = influx_sink_new(&cfg, NULL, err, sizeof(err));
    if (!s)
        TAP_FAIL_("influx_sink_new: %s", err);
    write_simple(s, 0, "m", "a", 1700000000000, 1);
    TAP_EQ_INT(0, influx_sink_drain(s, 20000));
    write_simple(s, 0, "m", "b", 1700000000001, 2);
    struct label t = {"t", "c", 1, 1};
    struct field f = {.key = "v", .kind = FIELD_STRING, .s = "text"};
    struct point p = {.measurement = "m",
                      .tags = &t,
                      .ntags = 1,
                      .fields = &f,
                      .nfields = 1,
                      .ts_ms = 1700000000002};
    TAP_EQ_INT(0, influx_sink_write(s, 0, &p));
    write_simple(s, 0, "m", "d", 1700000000003, 4);
    TAP_EQ_INT(-1, influx_sink_drain(s, 20000));
    struct influx_node_stats st;
    influx_sink_node_stats(s, 0, &st);
    influx_sink_free(&s);
    TAP_EQ_U64(3, st.points_written);
    TAP_EQ_U64(1, st.points_dropped);
    TAP_OK(strstr(st.last_error, "field type conflict") != NULL);
    TAP_EQ_INT(3, query_count(db, "SELECT count(v) FROM m"));
}

TAP_CASE(auto_flush)
{
    char db[64];
    fresh_db(db, sizeof(db), "flush");
    struct cfg_influx cfg;
    base_cfg(&cfg, db);
    cfg.flush_interval_ms = 100;
    char err[256] = "";
    struct influx_sink *s = influx_sink_new(&cfg, NULL, err, sizeof(err));
    if (!s)
        TAP_FAIL_("influx_sink_new: %s", err);
    write_simple(s, 0, "m", "a", 1700000000000, 1);
    struct influx_node_stats st;
    uint64_t t0 = now_ms();
    do {
        usleep(20000);
        influx_sink_node_stats(s, 0, &st);
    } while (st.points_written == 0 && now_ms() - t0 < 5000);
    uint64_t dt = now_ms() - t0;
    influx_sink_free(&s);
    TAP_EQ_U64(1, st.points_written);
    TAP_OK(dt >= 80);
}

/* A port with nothing listening: bind, read the port, close. */
static int dead_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    int port = -1;
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

TAP_CASE(dead_node_does_not_block)
{
    char db[64], dead_url[64];
    fresh_db(db, sizeof(db), "dead");
    int port = dead_port();
    TAP_OK(port > 0);
    snprintf(dead_url, sizeof(dead_url), "http://127.0.0.1:%d", port);
    struct cfg_influx cfg;
    base_cfg(&cfg, db);
    struct cfg_influx_node nodes[2] = {
        {.name = "dead", .url = dead_url, .weight = 1},
        {.name = "live", .url = (char *)influx_url, .weight = 1},
    };
    cfg.nodes = nodes;
    cfg.n_nodes = 2;
    cfg.max_retries = 3; /* backoff ~0.2 + 0.4 + 0.8 s */
    char err[256] = "";
    struct influx_sink *s = influx_sink_new(&cfg, NULL, err, sizeof(err));
    if (!s)
        TAP_FAIL_("influx_sink_new: %s", err);
    for (int i = 0; i < 10; i++) {
        write_simple(s, 0, "m", "dead", 1700000000000 + i, i);
        write_simple(s, 1, "m", "live", 1700000000000 + i, i);
    }
    uint64_t t0 = now_ms();
    influx_sink_flush(s);
    struct influx_node_stats dead, live;
    do {
        usleep(10000);
        influx_sink_node_stats(s, 1, &live);
    } while (live.points_written < 10 && now_ms() - t0 < 5000);
    influx_sink_node_stats(s, 0, &dead);
    /* the live node finished while the dead one is still retrying */
    TAP_EQ_U64(10, live.points_written);
    TAP_EQ_U64(0, dead.points_dropped);
    TAP_OK(now_ms() - t0 < 1000);
    int rc = influx_sink_drain(s, 20000);
    uint64_t dt = now_ms() - t0;
    influx_sink_node_stats(s, 0, &dead);
    influx_sink_node_stats(s, 1, &live);
    influx_sink_free(&s);
    TAP_EQ_INT(-1, rc);
    TAP_OK(dt < 10000);
    TAP_EQ_U64(10, dead.points_dropped);
    TAP_EQ_U64(30, dead.points_retried);
    TAP_EQ_U64(0, dead.points_written);
    TAP_EQ_INT(0, dead.up);
    TAP_OK(dead.last_error[0] != '\0');
    TAP_EQ_U64(10, live.points_written);
    TAP_EQ_U64(0, live.points_dropped);
    TAP_EQ_INT(10, query_count(db, "SELECT count(v) FROM m"));
}

static void rm_tree(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    char p[1024];
    while ((de = readdir(d)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        struct stat sb;
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode))
            rm_tree(p);
        else
            unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static void rm_tree_deferred(void *dir)
{
    rm_tree(dir);
}

/* A node that cannot be reached spools its batches (nothing dropped, the
 * drain says "left in the spool"); a later sink with a node of the SAME
 * NAME but a live URL resumes the spool and replays every point. With a
 * cap, what the cap dropped is counted exactly: written + dropped = sent. */
TAP_CASE(spool_and_resume_by_name)
{
    static const struct {
        uint64_t cap;
        unsigned points;
    } runs[] = {
        {0, 3000},          /* no cap: everything arrives */
        {256u << 10, 6000}, /* ~600 KB of records: the oldest go */
    };
    /* static: the spool directories are removed after the case, also when
     * a check ends it early */
    static char dirs[TAP_N(runs)][256];
    for (size_t r = 0; r < TAP_N(runs); r++) {
        char db[64], dead_url[64], *dir = dirs[r];
        fresh_db(db, sizeof(db), "spool");
        snprintf(dir, sizeof(dirs[r]), "/tmp/lw_spool_%ld_%zu", (long)getpid(),
                 r);
        rm_tree(dir);
        tap_defer(rm_tree_deferred, dir);
        int port = dead_port();
        TAP_OK(port > 0);
        snprintf(dead_url, sizeof(dead_url), "http://127.0.0.1:%d", port);
        struct cfg_influx cfg;
        base_cfg(&cfg, db);
        cfg.batch_size = 100;
        cfg.gzip = false;
        cfg.max_retries = 1;
        struct cfg_influx_node node = {
            .name = "n/1", .url = dead_url, .weight = 1};
        cfg.nodes = &node;
        cfg.n_nodes = 1;
        struct influx_spool_opts so = {
            .dir = dir, .max_bytes = runs[r].cap, .fsync = r == 0};
        char err[256] = "";
        struct influx_sink *s = influx_sink_new(&cfg, &so, err, sizeof(err));
        if (!s)
            TAP_FAIL_("influx_sink_new: %s", err);
        char tagv[32];
        for (unsigned i = 0; i < runs[r].points; i++) {
            snprintf(tagv, sizeof(tagv), "series-%04u-padding-padding", i % 50);
            write_simple(s, 0, "sp", tagv, 1700000000000 + i, i);
        }
        int rc = influx_sink_drain(s, 20000);
        struct influx_node_stats st;
        influx_sink_node_stats(s, 0, &st);
        influx_sink_free(&s);
        TAP_EQ_INT(runs[r].cap ? -1 : 1, rc);
        TAP_EQ_INT(1, st.down);
        TAP_EQ_U64(0, st.points_written);
        TAP_EQ_U64(runs[r].points, st.points_spooled);
        TAP_EQ_U64(runs[r].points, st.spool_points + st.points_dropped);
        TAP_EQ_U64(st.points_dropped, st.points_dropped_spool);
        if (runs[r].cap)
            TAP_OK(st.points_dropped > 0 && st.spool_bytes <= runs[r].cap);
        else
            TAP_EQ_U64(0, st.points_dropped);
        uint64_t waiting = st.spool_points;

        node.url = (char *)influx_url;
        s = influx_sink_new(&cfg, &so, err, sizeof(err));
        if (!s)
            TAP_FAIL_("influx_sink_new: %s", err);
        rc = influx_sink_drain(s, 20000);
        influx_sink_node_stats(s, 0, &st);
        influx_sink_free(&s);
        TAP_EQ_INT(0, rc);
        TAP_EQ_U64(waiting, st.points_replayed);
        TAP_EQ_U64(0, st.spool_points);
        TAP_EQ_INT((long long)waiting,
                   query_count(db, "SELECT count(v) FROM sp"));
        if (runs[r].cap) {
            /* the newest survived: the last point is there */
            char q[128];
            snprintf(q, sizeof(q), "SELECT count(v) FROM sp WHERE v = %u",
                     runs[r].points - 1);
            TAP_EQ_INT(1, query_count(db, q));
        }
    }
}

/* A spooled batch goes to the database and retention policy it was
 * written for, even when the next sink is configured with others. */
TAP_CASE(spool_replays_into_its_database)
{
    static char dir[256]; /* removed after the case, however it ends */
    char db_a[64], db_b[64], dead_url[64], q[256];
    fresh_db(db_a, sizeof(db_a), "spool_a");
    fresh_db(db_b, sizeof(db_b), "spool_b");
    snprintf(dir, sizeof(dir), "/tmp/lw_spooldb_%ld", (long)getpid());
    rm_tree(dir);
    tap_defer(rm_tree_deferred, dir);
    snprintf(q, sizeof(q),
             "CREATE DATABASE %s WITH DURATION INF "
             "REPLICATION 1 NAME keep",
             db_a);
    free(query_raw(db_a, q));
    int port = dead_port();
    TAP_OK(port > 0);
    snprintf(dead_url, sizeof(dead_url), "http://127.0.0.1:%d", port);
    struct cfg_influx cfg;
    base_cfg(&cfg, db_a);
    cfg.retention_policy = "keep";
    cfg.max_retries = 1;
    struct cfg_influx_node node = {
        .name = "moved", .url = dead_url, .weight = 1};
    cfg.nodes = &node;
    cfg.n_nodes = 1;
    struct influx_spool_opts so = {.dir = dir, .max_bytes = 0};
    char err[256] = "";
    struct influx_sink *s = influx_sink_new(&cfg, &so, err, sizeof(err));
    if (!s)
        TAP_FAIL_("influx_sink_new: %s", err);
    for (int i = 0; i < 20; i++)
        write_simple(s, 0, "sp", "x", 1700000000000 + i, i);
    TAP_EQ_INT(1, influx_sink_drain(s, 10000));
    influx_sink_free(&s);

    /* same node name, live URL, another database and no policy */
    node.url = (char *)influx_url;
    cfg.database = db_b;
    cfg.retention_policy = NULL;
    s = influx_sink_new(&cfg, &so, err, sizeof(err));
    if (!s)
        TAP_FAIL_("influx_sink_new: %s", err);
    int rc = influx_sink_drain(s, 20000);
    struct influx_node_stats st;
    influx_sink_node_stats(s, 0, &st);
    TAP_EQ_INT(0, rc);
    TAP_EQ_U64(20, st.points_replayed);
    write_simple(s, 0, "sp", "x", 1700000001000, 99);
    rc = influx_sink_drain(s, 20000);
    influx_sink_node_stats(s, 0, &st);
    influx_sink_free(&s);
    TAP_EQ_INT(0, rc);
    TAP_EQ_U64(1, st.points_written - st.points_replayed);
    TAP_EQ_U64(0, st.points_dropped);
    snprintf(q, sizeof(q), "SELECT count(v) FROM \"%s\".\"keep\".\"sp\"", db_a);
    TAP_EQ_INT(20, query_count(db_a, q));
    TAP_EQ_INT(1, query_count(db_b, "SELECT count(v) FROM sp"));
}

/* A node switched from api v1 to v2 with batches in its spool: they are
 * replayed to /write?db= of the database they were written for (created
 * on the 404, as the destination is v1), while new points go to
 * /api/v2/write, which influxd 1.x does not serve (404: dropped, never
 * a database created for a bucket). */
TAP_CASE(spool_v1_records_on_a_v2_node)
{
    char db[64], dead_url[64], dir[256];
    fresh_db(db, sizeof(db), "spool_v1v2");
    snprintf(dir, sizeof(dir), "/tmp/lw_spoolv2_%ld", (long)getpid());
    rm_tree(dir);
    int port = dead_port();
    TAP_OK(port > 0);
    snprintf(dead_url, sizeof(dead_url), "http://127.0.0.1:%d", port);
    struct cfg_influx cfg;
    base_cfg(&cfg, db);
    cfg.max_retries = 1;
    struct cfg_influx_node node = {
        .name = "switched", .url = dead_url, .weight = 1};
    cfg.nodes = &node;
    cfg.n_nodes = 1;
    struct influx_spool_opts so = {.dir = dir, .max_bytes = 0};
    char err[256] = "";
    struct influx_sink *s = influx_sink_new(&cfg, &so, err, sizeof(err));
    if (!s)
        TAP_FAIL_("influx_sink_new: %s", err);
    for (int i = 0; i < 20; i++)
        write_simple(s, 0, "sp", "x", 1700000000000 + i, i);
    TAP_EQ_INT(1, influx_sink_drain(s, 10000));
    influx_sink_free(&s);

    node.url = (char *)influx_url;
    node.api = "v2";
    node.org = "o";
    node.bucket = db; /* a bucket named like the database: still v2 */
    node.token = "t0k";
    s = influx_sink_new(&cfg, &so, err, sizeof(err));
    if (!s)
        TAP_FAIL_("influx_sink_new: %s", err);
    int rc = influx_sink_drain(s, 20000);
    struct influx_node_stats st;
    influx_sink_node_stats(s, 0, &st);
    TAP_EQ_INT(0, rc);
    TAP_EQ_U64(20, st.points_replayed);
    write_simple(s, 0, "sp", "x", 1700000001000, 99);
    rc = influx_sink_drain(s, 20000);
    influx_sink_node_stats(s, 0, &st);
    influx_sink_free(&s);
    TAP_EQ_INT(-1, rc);
    TAP_EQ_U64(1, st.points_dropped);
    TAP_OK(strstr(st.last_error, "HTTP 404") != NULL);
    TAP_EQ_INT(20, query_count(db, "SELECT count(v) FROM sp"));
    rm_tree(dir);
}

static const struct tap_case cases[] = {
    TAP_ENTRY(round_trip),
    TAP_ENTRY(split_on_413),
    TAP_ENTRY(database_created_or_not),
    TAP_ENTRY(type_conflict_partial_write),
    TAP_ENTRY(auto_flush),
    TAP_ENTRY(dead_node_does_not_block),
    TAP_ENTRY(spool_and_resume_by_name),
    TAP_ENTRY(spool_replays_into_its_database),
    TAP_ENTRY(spool_v1_records_on_a_v2_node),
};

int main(int argc, char **argv)
{
    influx_url = getenv("INFLUX_URL");
    if (!influx_url || !influx_url[0])
        return tap_skip_all("INFLUX_URL not set (tests/integration/"
                            "influx_roundtrip.sh starts an influxd for it)");
    if (!getenv("LW_LOG_DEBUG"))
        log_set_level(LOG_LVL_ERROR);
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = tap_main(cases, TAP_N(cases), argc, argv);
    curl_global_cleanup();
    return rc;
}
