#include "proxy/proxy.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>

#include "hashring/hashring.h"
#include "influx/influx.h"
#include "http_client.h"
#include "proxy/influxql.h"
#include "proxy/merge.h"
#include "proxy/nodeq.h"
#include "proxy/lpparse.h"
#include "proxy/plan.h"
#include "proxy/qroute.h"
#include "route/ring_config.h"
#include "route/router.h"
#include "serve/endpoint.h"
#include "serve/httpd.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/gzip.h"
#include "util/log.h"
#include "util/secret.h"
#include "util/xalloc.h"

/* What /ping says: the InfluxDB API version the proxy speaks. */
#define PROXY_INFLUX_VERSION "1.6.7-lagwatch"

enum route_kind { RK_FORWARD, RK_MERGE, RK_REFUSED, RK_N_ };
static const char *const route_names[RK_N_] = {"forward", "merge", "refused"};

enum ep_kind { EP_PING, EP_QUERY, EP_WRITE, EP_N_ };
static const char *const ep_names[EP_N_] = {"ping", "query", "write"};

struct node_stat {
    unsigned long long queries, errors;
};

struct proxy {
    struct httpd *httpd;
    struct hashring *ring;
    struct router *router;
    char **shard_by;
    size_t n_shard_by;
    unsigned replicas;
    size_t n_nodes;
    char **node_name, **node_url;
    char *user, *pass;
    uint64_t timeout_ms;
    size_t max_bytes;
    pthread_mutex_t lock; /* router scratch and the counters */
    unsigned long long seq;
    struct node_stat *nstat;
    unsigned long long statements[RK_N_];
    unsigned long long requests[EP_N_][6]; /* by status class 0..5xx */
    double seconds_sum[EP_N_];
    unsigned long long seconds_count[EP_N_];
    struct nodeq_share *share; /* keep-alive connections to the nodes */
    /* writes: the ring's per-node queues and spools (influx.h) */
    struct influx_sink *writer;
    char *database, *rp;
    unsigned long long points[3]; /* queued, invalid, unwritable */
};

/* ------------------------------------------------------------------ */
/* Nodes                                                                */

/* One statement's answer from one node: the result object (a new
 * reference) or, on a node failure, NULL with the reason in err. A 4xx
 * with an InfluxDB error is an answer (the client's mistake, the same on
 * every node), not a failure. */
static json_t *node_answer(const struct nodeq_res *r, char *err, size_t n)
{
    if (r->status == 0) {
        snprintf(err, n, "%s", r->err);
        return NULL;
    }
    json_error_t je;
    json_t *doc = r->body ? json_loadb(r->body, r->len, 0, &je) : NULL;
    if (r->status >= 500 || !doc) {
        snprintf(err, n, "HTTP %ld%s%.200s", r->status, r->body ? ": " : "",
                 r->body ? r->body : "");
        json_decref(doc);
        return NULL;
    }
    json_t *res = json_array_get(json_object_get(doc, "results"), 0);
    json_t *out;
    if (res) {
        out = json_incref(res);
    } else {
        json_t *e = json_object_get(doc, "error");
        out = json_object();
        json_object_set_new(out, "error",
                            json_string(json_is_string(e)
                                            ? json_string_value(e)
                                            : "the node's answer has no "
                                              "results"));
    }
    json_decref(doc);
    return out;
}

static char *form(const char *q, const char *db, const char *rp,
                  const char *epoch, const char *params)
{
    struct buf b;
    buf_init(&b, 0);
    buf_adds(&b, "q=");
    http_client_add_pct(&b, q, "-._~");
    const char *k[] = {"db", "rp", "epoch", "params"};
    const char *v[] = {db, rp, epoch, params};
    for (int i = 0; i < 4; i++) {
        if (!v[i])
            continue;
        buf_addf(&b, "&%s=", k[i]);
        http_client_add_pct(&b, v[i], "-._~");
    }
    buf_addc(&b, '\0');
    return buf_detach(&b, NULL);
}

static json_t *error_result(const char *msg)
{
    json_t *o = json_object();
    json_object_set_new(o, "error", json_string(msg));
    return o;
}

struct qctx {
    const char *db, *rp, *epoch, *params;
};

/* Asks nodes idx[0..n) the statement text; ans[i] gets each answer or
 * NULL (failed, reason in errs[i]). */
static void ask(struct proxy *p, const size_t *idx, size_t n, const char *text,
                const char *epoch, const struct qctx *qc, json_t **ans,
                char (*errs)[300])
{
    char *body = form(text, qc->db, qc->rp, epoch, qc->params);
    struct nodeq_req *rq = xcalloc(n ? n : 1, sizeof(*rq));
    struct nodeq_res *rs = xcalloc(n ? n : 1, sizeof(*rs));
    for (size_t i = 0; i < n; i++) {
        rq[i].base_url = p->node_url[idx[i]];
        rq[i].form = body;
        rq[i].user = p->user;
        rq[i].pass = p->pass;
    }
    nodeq_run(rq, rs, n, p->timeout_ms, p->max_bytes, 16, p->share);
    for (size_t i = 0; i < n; i++) {
        ans[i] = node_answer(&rs[i], errs[i], sizeof(errs[i]));
        pthread_mutex_lock(&p->lock);
        p->nstat[idx[i]].queries++;
        if (!ans[i])
            p->nstat[idx[i]].errors++;
        pthread_mutex_unlock(&p->lock);
        if (!ans[i])
            log_warn("proxy: node %s (%s): %s", p->node_name[idx[i]],
                     p->node_url[idx[i]], errs[i]);
    }
    nodeq_res_release(rs, n);
    free(rs);
    free(rq);
    free(body);
}

/* ------------------------------------------------------------------ */
/* One statement                                                        */

static void count_route(struct proxy *p, enum route_kind k)
{
    pthread_mutex_lock(&p->lock);
    p->statements[k]++;
    pthread_mutex_unlock(&p->lock);
}

static json_t *exec_stmt(struct proxy *p, const char *q,
                         const struct iql_stmt *st, const struct qctx *qc)
{
    json_t *out = NULL;
    char **keys = NULL;
    size_t nkeys = 0;
    size_t(*owners)[ROUTER_MAX_REPLICAS] = NULL;
    size_t *nown = NULL, *choice = NULL;
    bool *bad = xcalloc(p->n_nodes, sizeof(bool));
    bool *asked = xcalloc(p->n_nodes, sizeof(bool));
    json_t **answer = xcalloc(p->n_nodes, sizeof(json_t *));
    char(*errs)[300] = xcalloc(p->n_nodes, sizeof(*errs));
    size_t *want = xcalloc(p->n_nodes, sizeof(size_t));
    struct plan pl;
    bool have_plan = false;
    char err[1024];

    nkeys = qroute_stmt_keys(st, p->shard_by, p->n_shard_by, &keys);
    if (nkeys) {
        owners = xcalloc(nkeys, sizeof(*owners));
        nown = xcalloc(nkeys, sizeof(size_t));
        choice = xcalloc(nkeys, sizeof(size_t));
        pthread_mutex_lock(&p->lock);
        for (size_t k = 0; k < nkeys; k++)
            nown[k] = router_route_key(p->router, keys[k], owners[k]);
        pthread_mutex_unlock(&p->lock);
    }
    bool merging = false;
    for (;;) {
        /* the nodes the statement needs now */
        size_t nw = 0;
        memset(want, 0, p->n_nodes * sizeof(size_t));
        bool *in = xcalloc(p->n_nodes, sizeof(bool));
        if (nkeys) {
            for (size_t k = 0; k < nkeys; k++) {
                while (choice[k] < nown[k] && bad[owners[k][choice[k]]])
                    choice[k]++;
                if (choice[k] == nown[k]) {
                    size_t last = owners[k][nown[k] - 1];
                    snprintf(err, sizeof(err),
                             "InfluxDB node %s (%s) holding shard key '%s' "
                             "does not answer: %s",
                             p->node_name[last], p->node_url[last], keys[k],
                             errs[last]);
                    free(in);
                    out = error_result(err);
                    goto done;
                }
                in[owners[k][choice[k]]] = true;
            }
        } else {
            size_t nbad = 0, first_bad = 0;
            for (size_t i = 0; i < p->n_nodes; i++) {
                if (bad[i] && nbad++ == 0)
                    first_bad = i;
                in[i] = !bad[i];
            }
            if (nbad >= p->replicas && nbad > 0) {
                snprintf(err, sizeof(err),
                         "InfluxDB node %s (%s) does not answer (%zu of %zu "
                         "nodes down, replicas %u): %s",
                         p->node_name[first_bad], p->node_url[first_bad], nbad,
                         p->n_nodes, p->replicas, errs[first_bad]);
                free(in);
                out = error_result(err);
                goto done;
            }
        }
        size_t nin = 0;
        for (size_t i = 0; i < p->n_nodes; i++)
            if (in[i]) {
                nin++;
                if (!asked[i])
                    want[nw++] = i;
            }
        free(in);
        if (!merging && nin == 1 && nw == 1) {
            /* one node holds everything: its answer, verbatim */
            char *text =
                xstrndup(q + st->span.start, st->span.end - st->span.start);
            json_t *one = NULL;
            char oerr[1][300];
            ask(p, want, 1, text, qc->epoch, qc, &one, oerr);
            free(text);
            asked[want[0]] = true;
            if (!one) {
                memcpy(errs[want[0]], oerr[0], sizeof(oerr[0]));
                bad[want[0]] = true;
                continue;
            }
            out = one;
            count_route(p, RK_FORWARD);
            goto done;
        }
        if (!merging) {
            if (plan_build(&pl, q, st, p->shard_by, p->n_shard_by, p->replicas,
                           qc->epoch, err, sizeof(err)) < 0) {
                count_route(p, RK_REFUSED);
                out = error_result(err);
                goto done;
            }
            have_plan = true;
            merging = true;
        }
        if (nw == 0)
            break;
        json_t **got = xcalloc(nw, sizeof(json_t *));
        char(*gerr)[300] = xcalloc(nw, sizeof(*gerr));
        ask(p, want, nw, pl.text, "ns", qc, got, gerr);
        for (size_t i = 0; i < nw; i++) {
            asked[want[i]] = true;
            answer[want[i]] = got[i];
            if (!got[i]) {
                bad[want[i]] = true;
                memcpy(errs[want[i]], gerr[i], sizeof(gerr[i]));
            }
        }
        free(got);
        free(gerr);
    }
    /* every needed node answered: errors first, then the merge */
    json_t **parts = xcalloc(p->n_nodes, sizeof(json_t *));
    size_t np = 0;
    const char *first_err = NULL;
    size_t err_node = 0;
    bool same_err = true;
    for (size_t i = 0; i < p->n_nodes; i++) {
        if (!answer[i])
            continue;
        const char *e = json_string_value(json_object_get(answer[i], "error"));
        if (e) {
            if (!first_err) {
                first_err = e;
                err_node = i;
            } else if (strcmp(e, first_err) != 0) {
                same_err = false;
            }
        }
        parts[np++] = answer[i];
    }
    if (first_err) {
        if (same_err) {
            out = error_result(first_err);
        } else {
            snprintf(err, sizeof(err), "InfluxDB node %s: %s",
                     p->node_name[err_node], first_err);
            out = error_result(err);
        }
    } else if (merge_results(&pl.spec, parts, np, &out, err, sizeof(err)) < 0) {
        out = error_result(err);
    }
    free(parts);
    count_route(p, RK_MERGE);
done:
    if (have_plan)
        plan_release(&pl);
    for (size_t i = 0; i < p->n_nodes; i++)
        json_decref(answer[i]);
    free(answer);
    free(errs);
    free(want);
    free(bad);
    free(asked);
    free(owners);
    free(nown);
    free(choice);
    qroute_keys_free(keys, nkeys);
    return out;
}

/* ------------------------------------------------------------------ */
/* HTTP                                                                 */

static void influx_headers(struct proxy *p, struct httpd_response *resp)
{
    pthread_mutex_lock(&p->lock);
    unsigned long long n = ++p->seq;
    pthread_mutex_unlock(&p->lock);
    uint64_t t = (uint64_t)clock_wall_ms() * 1000000ULL ^ clock_mono_ns();
    char id[64];
    snprintf(id, sizeof(id), "%08llx-%04llx-%04llx-%04llx-%012llx",
             (unsigned long long)(t >> 32) & 0xffffffffULL,
             (unsigned long long)(t >> 16) & 0xffffULL,
             0x1000ULL | ((unsigned long long)t & 0x0fffULL),
             0x8000ULL | (n & 0x3fffULL), n & 0xffffffffffffULL);
    httpd_response_header(resp, "X-Influxdb-Build", "OSS");
    httpd_response_header(resp, "X-Influxdb-Version", PROXY_INFLUX_VERSION);
    httpd_response_header(resp, "Request-Id", id);
    httpd_response_header(resp, "X-Request-Id", id);
}

static void count_request(struct proxy *p, enum ep_kind e, int status,
                          uint64_t t0)
{
    double s = (double)(clock_mono_ns() - t0) / 1e9;
    int cls = status / 100;
    if (cls < 0 || cls > 5)
        cls = 0;
    pthread_mutex_lock(&p->lock);
    p->requests[e][cls]++;
    p->seconds_sum[e] += s;
    p->seconds_count[e]++;
    pthread_mutex_unlock(&p->lock);
}

static void json_body(struct httpd_response *resp, int status, json_t *doc)
{
    resp->status = status;
    resp->content_type = "application/json";
    char *s = json_dumps(doc, JSON_COMPACT);
    if (s) {
        buf_adds(&resp->body, s);
        buf_addc(&resp->body, '\n');
    } else {
        resp->status = 500;
    }
    free(s);
}

static void top_error(struct httpd_response *resp, int status, const char *msg)
{
    json_t *o = json_object();
    json_object_set_new(o, "error", json_string(msg));
    json_body(resp, status, o);
    json_decref(o);
}

static void handle_ping(void *ctx, const struct httpd_request *req,
                        struct httpd_response *resp)
{
    struct proxy *p = ctx;
    uint64_t t0 = clock_mono_ns();
    influx_headers(p, resp);
    const char *v = httpd_query(req, "verbose");
    if (v && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0)) {
        json_t *o = json_pack("{s:s}", "version", PROXY_INFLUX_VERSION);
        json_body(resp, 200, o);
        json_decref(o);
    } else {
        resp->status = 204;
    }
    count_request(p, EP_PING, resp->status, t0);
}

/* The largest POST /query body: a query at the parser's cap plus the
 * other parameters. */
#define MAX_QUERY_BODY (INFLUXQL_MAX_TEXT + 65536)

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The value of key in an application/x-www-form-urlencoded body, decoded
 * (heap), or NULL. */
static char *form_get(const char *body, size_t len, const char *key)
{
    size_t kl = strlen(key);
    size_t i = 0;
    while (i < len) {
        size_t e = i;
        while (e < len && body[e] != '&')
            e++;
        if (e - i > kl && memcmp(body + i, key, kl) == 0 &&
            body[i + kl] == '=') {
            struct buf b;
            buf_init(&b, 0);
            for (size_t k = i + kl + 1; k < e; k++) {
                char c = body[k];
                if (c == '+') {
                    buf_addc(&b, ' ');
                } else if (c == '%' && k + 2 < e && hexval(body[k + 1]) >= 0 &&
                           hexval(body[k + 2]) >= 0) {
                    buf_addc(&b, (char)(hexval(body[k + 1]) * 16 +
                                        hexval(body[k + 2])));
                    k += 2;
                } else {
                    buf_addc(&b, c);
                }
            }
            buf_addc(&b, '\0');
            return buf_detach(&b, NULL);
        }
        i = e + 1;
    }
    return NULL;
}

/* A /query parameter: the URL's, else the POST form body's (kept in
 * owned[*n] for the caller to free). */
static const char *param(const struct httpd_request *req, const char *key,
                         char **owned, size_t *n)
{
    const char *v = httpd_query(req, key);
    if (v || !req->body)
        return v;
    if (req->content_type &&
        strncasecmp(req->content_type, "application/x-www-form-urlencoded",
                    33) != 0)
        return NULL;
    char *f = form_get(req->body, req->body_len, key);
    if (f)
        owned[(*n)++] = f;
    return f;
}

static bool valid_epoch(const char *e)
{
    static const char *const ok[] = {"ns", "u", "\xc2\xb5", "ms",
                                     "s",  "m", "h"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
        if (strcmp(e, ok[i]) == 0)
            return true;
    return false;
}

static void handle_query(void *ctx, const struct httpd_request *req,
                         struct httpd_response *resp)
{
    struct proxy *p = ctx;
    uint64_t t0 = clock_mono_ns();
    struct iql_query *iq = NULL;
    json_t *results = NULL;
    char *owned[6];
    size_t nowned = 0;
    influx_headers(p, resp);
    const char *q = param(req, "q", owned, &nowned);
    struct qctx qc = {param(req, "db", owned, &nowned),
                      param(req, "rp", owned, &nowned),
                      param(req, "epoch", owned, &nowned),
                      param(req, "params", owned, &nowned)};
    if (qc.epoch && !qc.epoch[0])
        qc.epoch = NULL;
    if (!q || !q[0]) {
        top_error(resp, 400, "missing required parameter \"q\"");
        goto out;
    }
    if (qc.epoch && !valid_epoch(qc.epoch)) {
        top_error(resp, 400, "epoch must be one of ns, u, ms, s, m, h");
        goto out;
    }
    const char *ch = param(req, "chunked", owned, &nowned);
    if (ch && strcmp(ch, "true") == 0)
        log_debug("proxy: chunked=true answered in one piece");
    char err[1024];
    iq = influxql_parse(q, strlen(q), err, sizeof(err));
    if (!iq) {
        top_error(resp, 400, err);
        goto out;
    }
    results = json_array();
    for (size_t i = 0; i < iq->nstmts; i++) {
        json_t *r = exec_stmt(p, q, &iq->stmts[i], &qc);
        json_object_set_new(r, "statement_id", json_integer((json_int_t)i));
        json_array_append_new(results, r);
    }
    json_t *doc = json_object();
    json_object_set(doc, "results", results);
    json_body(resp, 200, doc);
    json_decref(doc);
out:
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    json_decref(results);
    influxql_free(&iq);
    count_request(p, EP_QUERY, resp->status, t0);
}

/* The largest /write body (influxd's max-body-size) and what it may
 * decompress to. */
#define MAX_WRITE_BODY    (25u << 20)
#define MAX_WRITE_DECODED (256u << 20)

/* Owners of a point: by its shard_by tags; one with none of them by its
 * database and measurement (lagwatch(8), PROXY, "Writes"). */
static size_t write_owners(struct proxy *p, const struct point *pt,
                           size_t *owners)
{
    bool any = false;
    for (size_t i = 0; i < pt->ntags && !any; i++)
        for (size_t k = 0; k < p->n_shard_by; k++)
            if (strcmp(pt->tags[i].name, p->shard_by[k]) == 0)
                any = true;
    size_t n;
    pthread_mutex_lock(&p->lock);
    if (any) {
        n = router_route(p->router, pt->tags, pt->ntags, owners);
    } else {
        struct buf k;
        buf_init(&k, 0);
        buf_addf(&k, "%s.%s", p->database, pt->measurement);
        buf_addc(&k, '\0');
        n = router_route_key(p->router, k.data, owners);
        buf_release(&k);
    }
    pthread_mutex_unlock(&p->lock);
    return n;
}

/* POST /write (lagwatch(8), PROXY, "Writes"): every good line is handed
 * to the queue (or spool) of each of its owners; 204 when all were, 400
 * in influxd's shape naming the first bad line otherwise. */
static void handle_write(void *ctx, const struct httpd_request *req,
                         struct httpd_response *resp)
{
    struct proxy *p = ctx;
    uint64_t t0 = clock_mono_ns();
    struct buf dec;
    struct lp_line *l = NULL;
    buf_init(&dec, MAX_WRITE_DECODED);
    influx_headers(p, resp);
    const char *db = httpd_query(req, "db");
    const char *rp = httpd_query(req, "rp");
    int64_t prec = lpparse_precision(httpd_query(req, "precision"));
    if (!req->body) {
        top_error(resp, 405, "POST the points to /write");
        goto out;
    }
    if (!db || !db[0]) {
        top_error(resp, 400, "database is required");
        goto out;
    }
    /* The ring's writer writes one database (sinks.influxdb.database). */
    if (strcmp(db, p->database) != 0) {
        char m[512];
        snprintf(m, sizeof(m),
                 "database not found: \"%.200s\" (the lagwatch proxy writes "
                 "sinks.influxdb.database \"%.200s\" only)",
                 db, p->database);
        top_error(resp, 404, m);
        goto out;
    }
    if (rp && rp[0] && (!p->rp || strcmp(rp, p->rp) != 0)) {
        top_error(resp, 400,
                  "retention policy not found: the lagwatch proxy writes "
                  "sinks.influxdb.retention_policy only");
        goto out;
    }
    if (prec == 0) {
        top_error(resp, 400, "invalid precision (ns, u, ms, s, m, h)");
        goto out;
    }
    const char *body = req->body;
    size_t len = req->body_len;
    if (req->content_encoding &&
        strcasecmp(req->content_encoding, "gzip") == 0) {
        int zr = gzip_decode(req->body, req->body_len, &dec);
        if (zr < 0) {
            top_error(resp, zr == -2 ? 413 : 400,
                      zr == -2 ? "request body too large once decompressed"
                               : "invalid gzip body");
            goto out;
        }
        body = dec.data;
        len = dec.len;
    }
    l = xcalloc(1, sizeof(*l));
    buf_init(&l->text, 1u << 20);
    int64_t now = (int64_t)clock_wall_ms() * 1000000LL;
    unsigned long long queued = 0, bad = 0, unwritable = 0;
    char first_bad[600] = "";
    size_t pos = 0;
    const char *line;
    size_t ll;
    while (lpparse_next_line(body, len, &pos, &line, &ll)) {
        char why[128];
        if (lpparse_line(l, line, ll, prec, now, why, sizeof(why)) < 0) {
            if (bad++ == 0 && unwritable == 0)
                snprintf(first_bad, sizeof(first_bad),
                         "unable to parse '%.*s': %s",
                         (int)(ll > 400 ? 400 : ll), line, why);
            continue;
        }
        size_t owners[ROUTER_MAX_REPLICAS];
        size_t n = write_owners(p, &l->point, owners);
        bool ok = n > 0;
        for (size_t i = 0; i < n; i++)
            if (influx_sink_write(p->writer, owners[i], &l->point) != 0)
                ok = false;
        if (ok)
            queued++;
        else if (unwritable++ == 0 && bad == 0)
            snprintf(first_bad, sizeof(first_bad),
                     "unable to write '%.*s': InfluxDB cannot store it "
                     "(lagwatch(8), WRITES)",
                     (int)(ll > 400 ? 400 : ll), line);
    }
    pthread_mutex_lock(&p->lock);
    p->points[0] += queued;
    p->points[1] += bad;
    p->points[2] += unwritable;
    pthread_mutex_unlock(&p->lock);
    if (bad || unwritable) {
        char m[800];
        snprintf(m, sizeof(m), "partial write: %s dropped=%llu", first_bad,
                 bad + unwritable);
        top_error(resp, 400, m);
    } else {
        resp->status = 204;
    }
out:
    if (l)
        lpparse_release(l);
    free(l);
    buf_release(&dec);
    count_request(p, EP_WRITE, resp->status, t0);
}

/* lagwatch(8), PROXY, "Endpoints". */
static void handle_metrics(void *ctx, const struct httpd_request *req,
                           struct httpd_response *resp)
{
    (void)req;
    struct proxy *p = ctx;
    struct buf *b = &resp->body;
    resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
    pthread_mutex_lock(&p->lock);
    buf_adds(b, "# HELP lagwatch_proxy_requests_total HTTP requests to the "
                "InfluxDB proxy by endpoint and status class.\n"
                "# TYPE lagwatch_proxy_requests_total counter\n");
    for (int e = 0; e < EP_N_; e++)
        for (int c = 1; c < 6; c++)
            buf_addf(b,
                     "lagwatch_proxy_requests_total{endpoint=\"%s\",code="
                     "\"%dxx\"} %llu\n",
                     ep_names[e], c, p->requests[e][c]);
    buf_adds(b, "# HELP lagwatch_proxy_request_seconds Time spent answering "
                "proxy requests.\n"
                "# TYPE lagwatch_proxy_request_seconds summary\n");
    for (int e = 0; e < EP_N_; e++)
        buf_addf(b,
                 "lagwatch_proxy_request_seconds_sum{endpoint=\"%s\"} %.9f\n"
                 "lagwatch_proxy_request_seconds_count{endpoint=\"%s\"} "
                 "%llu\n",
                 ep_names[e], p->seconds_sum[e], ep_names[e],
                 p->seconds_count[e]);
    buf_adds(b, "# HELP lagwatch_proxy_statements_total InfluxQL statements "
                "by how they were answered: forward (one node, verbatim), "
                "merge (several nodes), refused.\n"
                "# TYPE lagwatch_proxy_statements_total counter\n");
    for (int k = 0; k < RK_N_; k++)
        buf_addf(b, "lagwatch_proxy_statements_total{route=\"%s\"} %llu\n",
                 route_names[k], p->statements[k]);
    buf_adds(b, "# HELP lagwatch_proxy_points_total Points received on "
                "/write: queued (handed to every owner's queue or spool), "
                "invalid (did not parse), unwritable.\n"
                "# TYPE lagwatch_proxy_points_total counter\n");
    static const char *const pr[] = {"queued", "invalid", "unwritable"};
    for (int k = 0; k < 3; k++)
        buf_addf(b, "lagwatch_proxy_points_total{result=\"%s\"} %llu\n", pr[k],
                 p->points[k]);
    static const struct {
        const char *name, *help;
    } per_node[] = {
        {"lagwatch_proxy_node_queries_total",
         "Statements sent to each InfluxDB node."},
        {"lagwatch_proxy_node_errors_total",
         "Statements a node did not answer (transport error, timeout, 5xx, "
         "size cap)."},
    };
    for (int f = 0; f < 2; f++) {
        buf_addf(b, "# HELP %s %s\n# TYPE %s counter\n", per_node[f].name,
                 per_node[f].help, per_node[f].name);
        for (size_t i = 0; i < p->n_nodes; i++)
            buf_addf(b, "%s{node=\"%s\"} %llu\n", per_node[f].name,
                     p->node_name[i],
                     f ? p->nstat[i].errors : p->nstat[i].queries);
    }
    pthread_mutex_unlock(&p->lock);
}

/* ------------------------------------------------------------------ */
/* Life cycle                                                           */

struct proxy *proxy_new(const struct config *cfg, char *err, size_t errlen)
{
    const struct cfg_influx *ci = &cfg->influx;
    const struct cfg_agent *a = &cfg->agent;
    char *token = NULL, *password = NULL;
    if (!ci->enabled || ci->n_nodes == 0) {
        snprintf(err, errlen, "the proxy needs a sinks.influxdb ring");
        return NULL;
    }
    for (size_t i = 0; i < ci->n_nodes; i++)
        if (ci->nodes[i].api && strcmp(ci->nodes[i].api, "v2") == 0) {
            snprintf(err, errlen,
                     "sinks.influxdb node '%s' is api v2: the proxy reads "
                     "v1 nodes only (lagwatch(8), PROXY)",
                     ci->nodes[i].name);
            return NULL;
        }
    struct proxy *p = xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->lock, NULL);
    p->share = nodeq_share_new();
    if (!p->share) {
        snprintf(err, errlen, "cannot set up libcurl's connection cache");
        goto fail;
    }
    p->ring = ring_config_new(ci, err, errlen);
    if (!p->ring)
        goto fail;
    p->router = router_new(p->ring, ci->shard_by, ci->n_shard_by, ci->replicas,
                           a->name);
    p->n_shard_by = ci->n_shard_by;
    p->shard_by = xcalloc(ci->n_shard_by + 1, sizeof(char *));
    for (size_t i = 0; i < ci->n_shard_by; i++)
        p->shard_by[i] = xstrdup(ci->shard_by[i]);
    p->replicas = ci->replicas ? ci->replicas : 1;
    p->n_nodes = ci->n_nodes;
    p->node_name = xcalloc(ci->n_nodes, sizeof(char *));
    p->node_url = xcalloc(ci->n_nodes, sizeof(char *));
    p->nstat = xcalloc(ci->n_nodes, sizeof(*p->nstat));
    /* the ring's node order is the configuration's */
    for (size_t i = 0; i < ci->n_nodes; i++) {
        p->node_name[i] = xstrdup(hashring_node_name(p->ring, i));
        for (size_t j = 0; j < ci->n_nodes; j++)
            if (strcmp(ci->nodes[j].name, p->node_name[i]) == 0)
                p->node_url[i] = xstrdup(ci->nodes[j].url);
        if (!p->node_url[i]) {
            snprintf(err, errlen, "ring node '%s' has no URL", p->node_name[i]);
            goto fail;
        }
    }
    if (ci->username)
        p->user = xstrdup(ci->username);
    if (ci->password)
        p->pass = xstrdup(ci->password);
    p->timeout_ms = cfg->proxy.timeout_ms;
    p->database = xstrdup(ci->database);
    if (ci->retention_policy)
        p->rp = xstrdup(ci->retention_policy);
    /* Its own spools (agent.spool_dir/proxy_write/<node>): a lagwatch run
     * on the same spool_dir holds the lock of agent.spool_dir/<node>. */
    struct buf sd;
    buf_init(&sd, 0);
    buf_addf(&sd, "%s/proxy_write", a->spool_dir);
    buf_addc(&sd, '\0');
    struct influx_spool_opts so = {.dir = sd.data,
                                   .max_bytes = a->spool_max_bytes,
                                   .fsync = a->spool_fsync};
    /* no spool when its directory cannot be made: reads still work,
     * writes are queued in memory only (logged) */
    if ((mkdir(a->spool_dir, 0750) < 0 && errno != EEXIST) ||
        (mkdir(sd.data, 0750) < 0 && errno != EEXIST)) {
        log_warn("proxy: cannot create the /write spool '%s': %s; writes "
                 "through the proxy are queued in memory only",
                 sd.data, strerror(errno));
        so.dir = NULL;
    }
    p->writer = influx_sink_new(ci, &so, err, errlen);
    buf_release(&sd);
    if (!p->writer)
        goto fail;
    p->max_bytes = (size_t)cfg->proxy.max_response_bytes;
    if (endpoint_read_auth(a, &token, &password, err, errlen) < 0)
        goto fail;
    struct httpd_opts o = {
        .listen = cfg->proxy.listen,
        .max_connections = a->max_connections,
        .threads = cfg->proxy.threads,
        .bearer_token = token,
        .basic_user = a->basic_auth_user,
        .basic_password = password,
        .tls_cert_file = a->tls_cert_file,
        .tls_key_file = a->tls_key_file,
    };
    p->httpd = httpd_new(&o, err, errlen);
    secret_free(&token);
    secret_free(&password);
    if (!p->httpd)
        goto fail;
    if (httpd_route(p->httpd, "/ping", handle_ping, p) < 0 ||
        httpd_route_post(p->httpd, "/query", handle_query, p, MAX_QUERY_BODY) <
            0 ||
        httpd_route_post(p->httpd, "/write", handle_write, p, MAX_WRITE_BODY) <
            0 ||
        httpd_route(p->httpd, "/metrics", handle_metrics, p) < 0) {
        snprintf(err, errlen, "cannot register the proxy's HTTP routes");
        goto fail;
    }
    if (httpd_start(p->httpd, err, errlen) < 0)
        goto fail;
    return p;
fail:
    secret_free(&token);
    secret_free(&password);
    proxy_free(&p);
    return NULL;
}

unsigned proxy_port(const struct proxy *p)
{
    return httpd_port(p->httpd);
}

void proxy_free(struct proxy **pp)
{
    struct proxy *p = *pp;
    if (!p)
        return;
    httpd_free(&p->httpd);
    /* after the server: no handler writes any more; drains, spools the
     * rest */
    influx_sink_free(&p->writer);
    free(p->database);
    free(p->rp);
    router_free(&p->router);
    nodeq_share_free(&p->share);
    hashring_free(&p->ring);
    for (size_t i = 0; i < p->n_shard_by; i++)
        free(p->shard_by[i]);
    free(p->shard_by);
    for (size_t i = 0; i < p->n_nodes; i++) {
        free(p->node_name[i]);
        free(p->node_url[i]);
    }
    free(p->node_name);
    free(p->node_url);
    free(p->nstat);
    free(p->user);
    secret_free(&p->pass);
    pthread_mutex_destroy(&p->lock);
    free(p);
    *pp = NULL;
}
