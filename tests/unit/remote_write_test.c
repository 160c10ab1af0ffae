/* Unit tests of sinks/remote_write: the sender's requests and its answers
 * to a scripted in-process receiver (libmicrohttpd on 127.0.0.1) that
 * decompresses and decodes every body: retries, refusals, drops, and the
 * spool's order and restart. The encoding itself: rwproto_test.c. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>
#include <snappy-c.h>

#include "util/buf.h"
#include "pipeline/series_fold.h"
#include "remote_write/remote_write.h"
#include "sinks/remote_write/remote_write.pb-c.h"
#include "tests/lib/tap.h"

#define L(n, v)                                                                \
    {                                                                          \
        n, v, (uint32_t)strlen(n), (uint32_t)strlen(v)                         \
    }

/* ---- a scripted receiver ------------------------------------------ */

struct receiver {
    pthread_mutex_t mu;
    const int *script; /* status of request i; the last one repeats */
    size_t nscript;
    size_t requests;
    size_t headers_ok; /* requests that carried every required header */
    size_t samples_ok; /* samples in requests answered 2xx */
    char names[4096];  /* "name=value;" of every 2xx sample, in order */
};

struct upload {
    struct buf body;
};

static enum MHD_Result on_request(void *vr, struct MHD_Connection *c,
                                  const char *url, const char *method,
                                  const char *version, const char *data,
                                  size_t *data_size, void **cls)
{
    struct receiver *r = vr;
    (void)url;
    (void)version;
    struct upload *u = *cls;
    if (!u) {
        u = calloc(1, sizeof(*u));
        buf_init(&u->body, 1 << 20);
        *cls = u;
        return MHD_YES;
    }
    if (*data_size > 0) {
        buf_add(&u->body, data, *data_size);
        *data_size = 0;
        return MHD_YES;
    }
    const char *ce =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Encoding");
    const char *ct =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    const char *ver = MHD_lookup_connection_value(
        c, MHD_HEADER_KIND, "X-Prometheus-Remote-Write-Version");
    const char *ua =
        MHD_lookup_connection_value(c, MHD_HEADER_KIND, "User-Agent");
    bool hdr = strcmp(method, "POST") == 0 && ce && strcmp(ce, "snappy") == 0 &&
               ct && strcmp(ct, "application/x-protobuf") == 0 && ver &&
               strcmp(ver, "0.1.0") == 0 && ua &&
               strncmp(ua, "lagwatch/", 9) == 0;

    pthread_mutex_lock(&r->mu);
    size_t i = r->requests++;
    int status = r->script[i < r->nscript ? i : r->nscript - 1];
    if (hdr)
        r->headers_ok++;
    size_t ulen = 0;
    char *raw = NULL;
    Prometheus__WriteRequest *req = NULL;
    if (snappy_uncompressed_length(u->body.data, u->body.len, &ulen) ==
        SNAPPY_OK) {
        raw = malloc(ulen + 1);
        if (snappy_uncompress(u->body.data, u->body.len, raw, &ulen) ==
            SNAPPY_OK)
            req = prometheus__write_request__unpack(NULL, ulen, (uint8_t *)raw);
    }
    if (!req)
        status = 400;
    if (req && status / 100 == 2) {
        for (size_t k = 0; k < req->n_timeseries; k++) {
            const Prometheus__TimeSeries *ts = req->timeseries[k];
            size_t o = strlen(r->names);
            snprintf(r->names + o, sizeof(r->names) - o, "%s=%g;",
                     ts->labels[0]->value, ts->samples[0]->value);
            r->samples_ok++;
        }
    }
    pthread_mutex_unlock(&r->mu);
    if (req)
        prometheus__write_request__free_unpacked(req, NULL);
    free(raw);

    static const char msg[] = "scripted answer\n";
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        sizeof(msg) - 1, (void *)msg, MHD_RESPMEM_PERSISTENT);
    enum MHD_Result rc = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static void on_done(void *vr, struct MHD_Connection *c, void **cls,
                    enum MHD_RequestTerminationCode toe)
{
    (void)vr;
    (void)c;
    (void)toe;
    struct upload *u = *cls;
    if (u) {
        buf_release(&u->body);
        free(u);
        *cls = NULL;
    }
}

static struct MHD_Daemon *receiver_start(struct receiver *r, unsigned *port)
{
    pthread_mutex_init(&r->mu, NULL);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        on_request, r, MHD_OPTION_NOTIFY_COMPLETED, on_done, r, MHD_OPTION_END);
    if (!d)
        return NULL;
    const union MHD_DaemonInfo *di =
        MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    *port = di ? di->port : 0;
    return d;
}

static struct remote_write *sink_to(unsigned port, unsigned batch,
                                    unsigned retries, const char *spool_dir)
{
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/api/v1/write", port);
    struct cfg_remote_write c = {
        .enabled = true,
        .url = url,
        .timeout_ms = 2000,
        .batch_size = batch,
        .max_retries = retries,
        .min_backoff_ms = 20,
        .max_backoff_ms = 100,
        .queue_max_bytes = 1 << 20,
    };
    char err[256];
    struct remote_write_spool sp = {.dir = spool_dir, .max_bytes = 1 << 20};
    struct remote_write *rw = remote_write_new(&c, &sp, err, sizeof(err));
    if (!rw)
        printf("# %s\n", err);
    return rw;
}

/* The series and points of one cycle, as the agent hands them over; k
 * scales the values so that cycles can be told apart. */
static void feed(struct remote_write *rw, double k)
{
    struct label sl[] = {L("job_name", "j"), L("task_name", "Map")};
    struct series folded = {.name = "flink_x",
                            .name_len = 7,
                            .labels = sl,
                            .nlabels = 2,
                            .ts_ms = 1000,
                            .folded = true,
                            .max = 5 * k,
                            .sum = 8 * k,
                            .count = 2};
    struct series plain = {.name = "flink_y",
                           .name_len = 7,
                           .labels = sl,
                           .nlabels = 2,
                           .ts_ms = 1000,
                           .value = NAN};
    struct field f[] = {
        {.key = "running", .kind = FIELD_BOOL, .b = true},
        {.key = "restarts", .kind = FIELD_INT, .i = 3},
        {.key = "state", .kind = FIELD_STRING, .s = "RUNNING"},
        {.key = "uptime_ms", .kind = FIELD_FLOAT, .f = 1.5 * k},
    };
    struct point p = {.measurement = "lagwatch_job",
                      .tags = sl,
                      .ntags = 1,
                      .fields = f,
                      .nfields = 4,
                      .ts_ms = 1000};
    remote_write_series(rw, &folded, SERIES_FOLD_MAX | SERIES_FOLD_AVG);
    remote_write_series(rw, &plain, 0);
    remote_write_point(rw, &p);
}

TAP_CASE(sends_and_retries_5xx_and_429)
{
    static const int script[] = {503, 429, 204};
    struct receiver r = {.script = script, .nscript = TAP_N(script)};
    unsigned port = 0;
    struct MHD_Daemon *d = receiver_start(&r, &port);
    TAP_OK(d != NULL);
    struct remote_write *rw = sink_to(port, 100, 3, NULL);
    TAP_OK(rw != NULL);
    feed(rw, 1);
    TAP_EQ_INT(0, remote_write_drain(rw, 10000));
    struct remote_write_stats st;
    remote_write_get_stats(rw, &st);
    TAP_EQ_U64(3, st.requests);
    TAP_EQ_U64(2, st.retries);
    TAP_EQ_U64(6, st.samples_sent);
    TAP_EQ_U64(1, st.samples_skipped); /* the NaN */
    TAP_EQ_U64(0, st.samples_failed + st.samples_dropped);
    TAP_EQ_INT(1, st.up);
    TAP_EQ_INT(3, r.headers_ok);
    TAP_EQ_STR(
        "flink_x_max=5;flink_x_avg=4;flink_x_subtasks=2;lagwatch_job_running=1;"
        "lagwatch_job_restarts=3;lagwatch_job_uptime_seconds=0.0015;",
        r.names);
    remote_write_free(&rw);
    MHD_stop_daemon(d);
    pthread_mutex_destroy(&r.mu);
}

TAP_CASE(refusal_is_not_retried_and_gives_up_after_retries)
{
    static const int script[] = {400, 500};
    struct receiver r = {.script = script, .nscript = TAP_N(script)};
    unsigned port = 0;
    struct MHD_Daemon *d = receiver_start(&r, &port);
    TAP_OK(d != NULL);
    /* batch_size 2: the six samples make three requests */
    struct remote_write *rw = sink_to(port, 2, 1, NULL);
    TAP_OK(rw != NULL);
    feed(rw, 1);
    TAP_EQ_INT(-1, remote_write_drain(rw, 10000));
    struct remote_write_stats st;
    remote_write_get_stats(rw, &st);
    /* 400 once; then two requests of 500 each tried twice */
    TAP_EQ_U64(5, st.requests);
    TAP_EQ_U64(2, st.retries);
    TAP_EQ_U64(2, st.samples_failed);
    TAP_EQ_U64(4, st.samples_dropped);
    TAP_EQ_U64(0, st.samples_sent);
    TAP_EQ_INT(0, st.up);
    TAP_OK(strstr(st.last_error, "HTTP 500") != NULL);
    /* a later good drain reports success again */
    TAP_EQ_INT(0, remote_write_drain(rw, 1000));
    remote_write_free(&rw);
    MHD_stop_daemon(d);
    pthread_mutex_destroy(&r.mu);
}

TAP_CASE(unreachable_receiver_is_dropped_and_counted)
{
    struct receiver r = {0};
    unsigned port = 0;
    /* find a free port, then close it */
    static const int script[] = {204};
    r.script = script;
    r.nscript = 1;
    struct MHD_Daemon *d = receiver_start(&r, &port);
    TAP_OK(d != NULL);
    MHD_stop_daemon(d);
    pthread_mutex_destroy(&r.mu);
    struct remote_write *rw = sink_to(port, 100, 0, NULL);
    TAP_OK(rw != NULL);
    feed(rw, 1);
    TAP_EQ_INT(-1, remote_write_drain(rw, 5000));
    struct remote_write_stats st;
    remote_write_get_stats(rw, &st);
    TAP_EQ_U64(1, st.requests);
    TAP_EQ_U64(6, st.samples_dropped);
    TAP_EQ_U64(0, st.bytes_sent);
    TAP_EQ_INT(0, st.up);
    remote_write_free(&rw);
}

TAP_CASE(rejects_bad_config)
{
    char err[256] = "";
    struct cfg_remote_write c = {.enabled = true, .url = NULL};
    TAP_OK(remote_write_new(&c, NULL, err, sizeof(err)) == NULL);
    TAP_OK(strstr(err, "url") != NULL);
    c.url = "http://127.0.0.1:1/api/v1/write";
    c.password_file = "/nonexistent/lagwatch-rw.pass";
    TAP_OK(remote_write_new(&c, NULL, err, sizeof(err)) == NULL);
    TAP_OK(strstr(err, "'/nonexistent/lagwatch-rw.pass'") != NULL);
}

/* Polls until the receiver acknowledged n samples, at most 8 s. */
static bool wait_sent(struct remote_write *rw, uint64_t n)
{
    for (int i = 0; i < 800; i++) {
        struct remote_write_stats st;
        remote_write_get_stats(rw, &st);
        if (st.samples_sent >= n)
            return true;
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

TAP_CASE(spool_keeps_order_until_the_receiver_recovers)
{
    char dir[] = "/tmp/lagwatch-rw-test.XXXXXX";
    TAP_OK(mkdtemp(dir) != NULL);
    char spool[64];
    snprintf(spool, sizeof(spool), "%s/remote_write", dir);
    static const int script[] = {503, 503, 204};
    struct receiver r = {.script = script, .nscript = TAP_N(script)};
    unsigned port = 0;
    struct MHD_Daemon *d = receiver_start(&r, &port);
    TAP_OK(d != NULL);
    struct remote_write *rw = sink_to(port, 100, 3, spool);
    TAP_OK(rw != NULL);
    feed(rw, 1);
    /* the receiver fails: spooled, nothing lost, drain does not wait */
    TAP_EQ_INT(1, remote_write_drain(rw, 10000));
    struct remote_write_stats st;
    remote_write_get_stats(rw, &st);
    TAP_EQ_U64(6, st.samples_spooled);
    TAP_EQ_U64(0, st.samples_dropped);
    /* a second cycle queues behind the spooled one */
    feed(rw, 2);
    remote_write_flush(rw);
    TAP_OK(wait_sent(rw, 10));
    TAP_EQ_INT(0, remote_write_drain(rw, 10000));
    remote_write_get_stats(rw, &st);
    TAP_EQ_U64(12, st.samples_spooled);
    TAP_EQ_U64(12, st.samples_replayed);
    TAP_EQ_U64(0, st.spool_samples);
    TAP_OK(st.retries >= 1);
    TAP_EQ_STR(
        "flink_x_max=5;flink_x_avg=4;flink_x_subtasks=2;lagwatch_job_running=1;"
        "lagwatch_job_restarts=3;lagwatch_job_uptime_seconds=0.0015;"
        "flink_x_max=10;flink_x_avg=8;flink_x_subtasks=2;lagwatch_job_running="
        "1;"
        "lagwatch_job_restarts=3;lagwatch_job_uptime_seconds=0.003;",
        r.names);
    remote_write_free(&rw);
    MHD_stop_daemon(d);
    pthread_mutex_destroy(&r.mu);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    TAP_EQ_INT(0, system(cmd));
}

TAP_CASE(spool_survives_a_restart)
{
    char dir[] = "/tmp/lagwatch-rw-test.XXXXXX";
    TAP_OK(mkdtemp(dir) != NULL);
    char spool[64];
    snprintf(spool, sizeof(spool), "%s/remote_write", dir);
    static const int down[] = {503};
    struct receiver r1 = {.script = down, .nscript = 1};
    unsigned port = 0;
    struct MHD_Daemon *d = receiver_start(&r1, &port);
    TAP_OK(d != NULL);
    struct remote_write *rw = sink_to(port, 100, 3, spool);
    TAP_OK(rw != NULL);
    feed(rw, 1);
    TAP_EQ_INT(1, remote_write_drain(rw, 10000));
    remote_write_free(&rw);
    MHD_stop_daemon(d);
    pthread_mutex_destroy(&r1.mu);

    static const int up[] = {200};
    struct receiver r2 = {.script = up, .nscript = 1};
    d = receiver_start(&r2, &port);
    TAP_OK(d != NULL);
    rw = sink_to(port, 100, 3, spool);
    TAP_OK(rw != NULL);
    TAP_EQ_INT(0, remote_write_drain(rw, 10000));
    struct remote_write_stats st;
    remote_write_get_stats(rw, &st);
    TAP_EQ_U64(6, st.samples_replayed);
    TAP_EQ_U64(0, st.spool_samples);
    TAP_EQ_STR(
        "flink_x_max=5;flink_x_avg=4;flink_x_subtasks=2;lagwatch_job_running=1;"
        "lagwatch_job_restarts=3;lagwatch_job_uptime_seconds=0.0015;",
        r2.names);
    remote_write_free(&rw);
    MHD_stop_daemon(d);
    pthread_mutex_destroy(&r2.mu);
    /* the spool keeps its files (lock, empty segment): remove them */
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    TAP_EQ_INT(0, system(cmd));
}

static const struct tap_case cases[] = {
    TAP_ENTRY(sends_and_retries_5xx_and_429),
    TAP_ENTRY(refusal_is_not_retried_and_gives_up_after_retries),
    TAP_ENTRY(unreachable_receiver_is_dropped_and_counted),
    TAP_ENTRY(rejects_bad_config),
    TAP_ENTRY(spool_keeps_order_until_the_receiver_recovers),
    TAP_ENTRY(spool_survives_a_restart),
};

int main(int argc, char **argv)
{
    return tap_main(cases, TAP_N(cases), argc, argv);
}
