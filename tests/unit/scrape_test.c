/*
 * scrape_test: the scraper against tests/fakeflink.py (started here, on
 * 127.0.0.1 port 0, with --static so bodies equal the fixture files).
 *
 * Environment: srcdir (automake; default "."), FAKEFLINK (default
 * $srcdir/tests/fakeflink.py), FLINK_FIXTURES (default
 * $srcdir/tests/fixtures/flink). Needs python3 on PATH.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "util/buf.h"
#include "flink/scrape.h"
#include "tests/lib/tap.h"
#include "tests/lib/testutil.h"
#include "util/clock.h"
#include "util/xalloc.h"

#define PROM_CT     "text/plain; version=0.0.4; charset=utf-8"
#define MAX_FIXTURE (1u << 20)

/* The fake is process-wide so that atexit() can stop it on any exit. */
static struct tu_fake fake;

static void fake_stop(void)
{
    tu_fake_stop(&fake);
}

static double now_s(void)
{
    return clock_mono_s();
}

/* Starts the fake once; returns its port or -1. */
static int fake_port(void)
{
    if (fake.pid > 0)
        return fake.port;
    if (tu_fake_start(&fake, NULL) != 0)
        return -1;
    atexit(fake_stop);
    return fake.port;
}

static char *fixture(const char *rel, size_t *len)
{
    char path[2048];

    snprintf(path, sizeof(path), "%s/%s", fake.fixtures, rel);
    return tu_slurp(path, MAX_FIXTURE, len);
}

static void url_for(char *out, size_t n, const char *path)
{
    snprintf(out, n, "http://127.0.0.1:%d%s", fake.port, path);
}

/* What one target saw, recorded by the callbacks. */
struct got {
    struct buf body;
    int done; /* done callback count: must end at exactly 1 */
    bool ok;
    long status;
    char error[256];
    char ctype[128];
    double duration;
    uint64_t bytes;     /* as reported in the result */
    uint64_t delivered; /* as summed in the data callback */
    int abort_at_call;  /* > 0: on_data returns -1 on that call */
    int calls;
};

static int got_data(void *user, const char *data, size_t len)
{
    struct got *g = user;

    g->calls++;
    if (g->abort_at_call > 0 && g->calls >= g->abort_at_call)
        return -1;
    g->delivered += len;
    buf_add(&g->body, data, len);
    return 0;
}

static void got_done(void *user, const struct scrape_result *r)
{
    struct got *g = user;

    g->done++;
    g->ok = r->ok;
    g->status = r->http_status;
    snprintf(g->error, sizeof(g->error), "%s", r->error ? r->error : "");
    snprintf(g->ctype, sizeof(g->ctype), "%s",
             r->content_type ? r->content_type : "");
    g->duration = r->duration_s;
    g->bytes = r->bytes;
}

static void got_init(struct got *g)
{
    memset(g, 0, sizeof(*g));
    buf_init(&g->body, 2 * MAX_FIXTURE);
}

static void targets_init(struct scrape_target *t, struct got *g,
                         char (*urls)[256], const char *const *paths, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        got_init(&g[i]);
        url_for(urls[i], sizeof(urls[i]), paths[i]);
        t[i] = (struct scrape_target){.url = urls[i],
                                      .on_data = got_data,
                                      .on_done = got_done,
                                      .user = &g[i]};
    }
}

static void gots_release(struct got *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf_release(&g[i].body);
}

/* Counts log lines "GET <path> ..." and returns the client port of the
 * last one (0 if none). */
static int log_last_port(const char *path, int *count)
{
    size_t len;
    char *txt = tu_slurp(fake.log, 1u << 22, &len);
    char *line, *save = NULL;
    char m[16], p[1024], enc[16];
    int st, port, last = 0;

    *count = 0;
    if (!txt)
        return 0;
    for (line = strtok_r(txt, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (sscanf(line, "%15s %1023s %d %15s %d", m, p, &st, enc, &port) ==
                5 &&
            strcmp(p, path) == 0) {
            (*count)++;
            last = port;
        }
    }
    free(txt);
    return last;
}

/* The encoding field of the last log line for path. */
static void log_last_enc(const char *path, char *enc, size_t n)
{
    size_t len;
    char *txt = tu_slurp(fake.log, 1u << 22, &len);
    char *line, *save = NULL;
    char m[16], p[1024], e[16];
    int st, port;

    snprintf(enc, n, "%s", "");
    if (!txt)
        return;
    for (line = strtok_r(txt, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        if (sscanf(line, "%15s %1023s %d %15s %d", m, p, &st, e, &port) == 5 &&
            strcmp(p, path) == 0)
            snprintf(enc, n, "%s", e);
    }
    free(txt);
}

#define NEED_FAKE()                                                            \
    do {                                                                       \
        if (fake_port() < 0)                                                   \
            TAP_FAIL_("cannot start the fake Flink server");                   \
    } while (0)

TAP_CASE(reporters_concurrently_byte_equal)
{
    static const char *const paths[] = {"/tm1/metrics", "/tm2/metrics",
                                        "/jm/metrics"};
    static const char *const files[] = {"prometheus/taskmanager-1.prom",
                                        "prometheus/taskmanager-2.prom",
                                        "prometheus/jobmanager.prom"};
    struct scraper_opts o = {
        .timeout_ms = 5000, .max_bytes = 1u << 20, .concurrency = 3};
    struct scrape_target t[3];
    struct got g[3];
    char urls[3][256];
    struct scraper *s = NULL;
    bool pass = false;

    NEED_FAKE();
    targets_init(t, g, urls, paths, 3);
    s = scraper_new(&o);
    if (!s)
        goto out;
    if (scraper_run(s, t, 3) != 0)
        goto out;
    for (size_t i = 0; i < 3; i++) {
        size_t flen = 0;
        char *want = fixture(files[i], &flen);
        bool same = want && g[i].body.len == flen &&
                    memcmp(want, g[i].body.data, flen) == 0;

        free(want);
        if (g[i].done != 1 || !g[i].ok || g[i].status != 200 || !same ||
            g[i].bytes != flen || g[i].delivered != flen ||
            strcmp(g[i].ctype, PROM_CT) != 0 || g[i].error[0]) {
            printf("# %s: done=%d ok=%d status=%ld bytes=%llu/%zu same=%d "
                   "ctype='%s' error='%s'\n",
                   paths[i], g[i].done, g[i].ok, g[i].status,
                   (unsigned long long)g[i].bytes, flen, same, g[i].ctype,
                   g[i].error);
            goto out;
        }
    }
    pass = true;
out:
    scraper_free(&s);
    gots_release(g, 3);
    TAP_OK(pass);
}

TAP_CASE(gzip_requested_and_decoded)
{
    static const char *const paths[] = {"/tm2/metrics"};
    struct scraper_opts o = {
        .timeout_ms = 5000, .max_bytes = 1u << 20, .concurrency = 1};
    struct scrape_target t[1];
    struct got g[1];
    char urls[1][256];
    char enc[16];
    struct scraper *s = NULL;
    size_t flen = 0;
    char *want = NULL;
    int rc;

    NEED_FAKE();
    targets_init(t, g, urls, paths, 1);
    s = scraper_new(&o);
    rc = s ? scraper_run(s, t, 1) : -1;
    scraper_free(&s);
    want = fixture("prometheus/taskmanager-2.prom", &flen);
    log_last_enc("/tm2/metrics", enc, sizeof(enc));
    bool same = want && g[0].body.len == flen &&
                memcmp(want, g[0].body.data, flen) == 0;
    free(want);
    gots_release(g, 1);
    TAP_EQ_INT(0, rc);
    TAP_OK(g[0].ok);
    /* The fake compresses only when asked, and logs that it did. */
    TAP_EQ_STR("gzip", enc);
    TAP_OK(same);
    TAP_EQ_U64(flen, g[0].bytes);
}

TAP_CASE(concurrency_limit)
{
    static const char *const paths[] = {"/fault/slow/250/jm/metrics",
                                        "/fault/slow/250/jobs",
                                        "/fault/slow/250/overview"};
    static const struct {
        unsigned concurrency;
        double min_s, max_s;
    } cases[] = {
        {1, 0.75, 10.0}, /* one at a time: three sleeps in a row */
        {3, 0.25, 0.70}, /* all at once: about one sleep */
    };

    NEED_FAKE();
    for (size_t c = 0; c < TAP_N(cases); c++) {
        struct scraper_opts o = {.timeout_ms = 5000,
                                 .max_bytes = 1u << 20,
                                 .concurrency = cases[c].concurrency};
        struct scrape_target t[3];
        struct got g[3];
        char urls[3][256];
        struct scraper *s = scraper_new(&o);
        double t0 = now_s(), took;
        int rc, okn = 0, done = 0;

        targets_init(t, g, urls, paths, 3);
        rc = s ? scraper_run(s, t, 3) : -1;
        took = now_s() - t0;
        scraper_free(&s);
        for (size_t i = 0; i < 3; i++) {
            okn += g[i].ok;
            done += g[i].done;
        }
        gots_release(g, 3);
        TAP_EQ_INT(0, rc);
        TAP_EQ_INT(3, okn);
        TAP_EQ_INT(3, done);
        if (took < cases[c].min_s || took > cases[c].max_s)
            TAP_FAIL_("concurrency %u took %.3f s, want %.2f..%.2f",
                      cases[c].concurrency, took, cases[c].min_s,
                      cases[c].max_s);
    }
}

TAP_CASE(slow_target_times_out_alone)
{
    static const char *const paths[] = {"/fault/slow/3000/tm1/metrics",
                                        "/jm/metrics", "/jobs/overview"};
    struct scraper_opts o = {
        .timeout_ms = 300, .max_bytes = 1u << 20, .concurrency = 3};
    struct scrape_target t[3];
    struct got g[3];
    char urls[3][256];
    struct scraper *s = NULL;
    double t0, took;
    int rc;

    NEED_FAKE();
    targets_init(t, g, urls, paths, 3);
    s = scraper_new(&o);
    t0 = now_s();
    rc = s ? scraper_run(s, t, 3) : -1;
    took = now_s() - t0;
    scraper_free(&s);
    gots_release(g, 3);
    TAP_EQ_INT(0, rc);
    TAP_EQ_INT(1, g[0].done);
    TAP_OK(!g[0].ok);
    TAP_EQ_STR("timeout after 300 ms", g[0].error);
    TAP_OK(g[0].duration >= 0.29 && g[0].duration < 2.0);
    TAP_OK(took < 2.0);
    for (size_t i = 1; i < 3; i++) {
        TAP_EQ_INT(1, g[i].done);
        TAP_OK(g[i].ok);
        TAP_OK(g[i].duration < 0.3);
    }
}

TAP_CASE(error_outcomes)
{
    /* want_error NULL: ok; "" : some error whose text is curl's */
    static const struct {
        const char *path;
        const char *want_error;
        long want_status;
        const char *want_ctype;
    } cases[] = {
        {"/fault/500/jobs", "HTTP 500", 500, "application/json"},
        {"/no/such/route", "HTTP 404", 404, "application/json"},
        {"/fault/reset/jobs", "", 0, ""},
        {"/fault/html/jobs", NULL, 200, "text/html; charset=utf-8"},
        {"/fault/truncate/overview", NULL, 200, "application/json"},
    };
    struct scraper_opts o = {
        .timeout_ms = 5000, .max_bytes = 1u << 20, .concurrency = 2};
    struct scrape_target t[TAP_N(cases)];
    struct got g[TAP_N(cases)];
    char urls[TAP_N(cases)][256];
    const char *paths[TAP_N(cases)];
    struct scraper *s = NULL;
    size_t n = TAP_N(cases);
    size_t olen = 0;
    char *overview = NULL;
    int rc;

    NEED_FAKE();
    for (size_t i = 0; i < n; i++)
        paths[i] = cases[i].path;
    targets_init(t, g, urls, paths, n);
    s = scraper_new(&o);
    rc = s ? scraper_run(s, t, n) : -1;
    scraper_free(&s);
    overview = fixture("overview.json", &olen);
    gots_release(g, n);
    TAP_EQ_INT(0, rc);
    for (size_t i = 0; i < n; i++) {
        printf("# %s: ok=%d status=%ld error='%s' bytes=%llu\n", cases[i].path,
               g[i].ok, g[i].status, g[i].error,
               (unsigned long long)g[i].bytes);
        TAP_EQ_INT(1, g[i].done);
        TAP_EQ_INT(cases[i].want_status, g[i].status);
        TAP_OK(strncmp(g[i].ctype, cases[i].want_ctype,
                       strlen(cases[i].want_ctype)) == 0);
        if (!cases[i].want_error) {
            TAP_OK(g[i].ok);
            TAP_EQ_STR("", g[i].error);
        } else {
            TAP_OK(!g[i].ok);
            TAP_OK(g[i].error[0] != '\0');
            if (cases[i].want_error[0])
                TAP_EQ_STR(cases[i].want_error, g[i].error);
            /* Error bodies never reach the data callback. */
            TAP_EQ_U64(0, g[i].delivered);
        }
    }
    free(overview);
    /* truncate serves exactly the first half of the fixture */
    TAP_EQ_U64(olen / 2, g[4].bytes);
}

TAP_CASE(size_cap)
{
    static const struct {
        const char *path;
        uint64_t cap;
        bool want_ok;
    } cases[] = {
        {"/fault/big/100000", 10000, false},
        {"/fault/big/10000", 10000, true},  /* exactly at the cap */
        {"/fault/big/10001", 10000, false}, /* one byte over */
        /* gzip on the wire is far below the cap: the cap counts the
         * decompressed body (337824 bytes) */
        {"/tm2/metrics", 100000, false},
    };

    NEED_FAKE();
    for (size_t c = 0; c < TAP_N(cases); c++) {
        struct scraper_opts o = {
            .timeout_ms = 5000, .max_bytes = cases[c].cap, .concurrency = 1};
        struct scrape_target t[1];
        struct got g[1];
        char urls[1][256];
        const char *paths[1] = {cases[c].path};
        char want[64];
        struct scraper *s = scraper_new(&o);
        int rc;

        targets_init(t, g, urls, paths, 1);
        rc = s ? scraper_run(s, t, 1) : -1;
        scraper_free(&s);
        gots_release(g, 1);
        TAP_EQ_INT(0, rc);
        TAP_EQ_INT(1, g[0].done);
        TAP_EQ_INT(cases[c].want_ok, g[0].ok);
        TAP_OK(g[0].delivered <= cases[c].cap);
        TAP_EQ_U64(g[0].delivered, g[0].bytes);
        if (cases[c].want_ok) {
            TAP_EQ_U64(cases[c].cap, g[0].bytes);
        } else {
            snprintf(want, sizeof(want),
                     "response larger than %llu bytes "
                     "(agent.max_response_bytes)",
                     (unsigned long long)cases[c].cap);
            TAP_EQ_STR(want, g[0].error);
        }
    }
}

TAP_CASE(connection_refused)
{
    struct sockaddr_in a = {.sin_family = AF_INET};
    socklen_t alen = sizeof(a);
    struct scraper_opts o = {
        .timeout_ms = 2000, .max_bytes = 1024, .concurrency = 1};
    struct scrape_target t[1];
    struct got g[1];
    char url[64];
    struct scraper *s = NULL;
    int fd, rc;

    /* A port that was just free and is closed again: nothing listens. */
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    fd = socket(AF_INET, SOCK_STREAM, 0);
    TAP_OK(fd >= 0);
    TAP_OK(bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0);
    TAP_OK(getsockname(fd, (struct sockaddr *)&a, &alen) == 0);
    close(fd);
    snprintf(url, sizeof(url), "http://127.0.0.1:%u/metrics",
             (unsigned)ntohs(a.sin_port));
    got_init(&g[0]);
    t[0] = (struct scrape_target){
        .url = url, .on_data = got_data, .on_done = got_done, .user = &g[0]};
    s = scraper_new(&o);
    rc = s ? scraper_run(s, t, 1) : -1;
    scraper_free(&s);
    gots_release(g, 1);
    printf("# refused: '%s'\n", g[0].error);
    TAP_EQ_INT(0, rc);
    TAP_EQ_INT(1, g[0].done);
    TAP_OK(!g[0].ok);
    TAP_EQ_INT(0, g[0].status);
    TAP_OK(g[0].error[0] != '\0');
    TAP_OK(strstr(g[0].error, "timeout") == NULL);
}

TAP_CASE(disallowed_schemes)
{
    static const char *const urls[] = {"file:///etc/hostname",
                                       "ftp://127.0.0.1/x", "gopher://x/"};
    struct scraper_opts o = {
        .timeout_ms = 2000, .max_bytes = 1024, .concurrency = 3};
    struct scrape_target t[3];
    struct got g[3];
    struct scraper *s = NULL;
    int rc;

    for (size_t i = 0; i < 3; i++) {
        got_init(&g[i]);
        t[i] = (struct scrape_target){.url = urls[i],
                                      .on_data = got_data,
                                      .on_done = got_done,
                                      .user = &g[i]};
    }
    s = scraper_new(&o);
    rc = s ? scraper_run(s, t, 3) : -1;
    scraper_free(&s);
    gots_release(g, 3);
    TAP_EQ_INT(0, rc);
    for (size_t i = 0; i < 3; i++) {
        TAP_EQ_INT(1, g[i].done);
        TAP_OK(!g[i].ok);
        TAP_EQ_U64(0, g[i].delivered);
    }
}

TAP_CASE(data_abort_hits_one_target)
{
    static const char *const paths[] = {"/tm1/metrics", "/tm2/metrics",
                                        "/jm/metrics"};
    struct scraper_opts o = {
        .timeout_ms = 5000, .max_bytes = 1u << 20, .concurrency = 3};
    struct scrape_target t[3];
    struct got g[3];
    char urls[3][256];
    struct scraper *s = NULL;
    int rc;

    NEED_FAKE();
    targets_init(t, g, urls, paths, 3);
    g[1].abort_at_call = 1;
    s = scraper_new(&o);
    rc = s ? scraper_run(s, t, 3) : -1;
    scraper_free(&s);
    gots_release(g, 3);
    TAP_EQ_INT(0, rc);
    TAP_EQ_INT(1, g[1].done);
    TAP_OK(!g[1].ok);
    TAP_EQ_STR("aborted", g[1].error);
    TAP_EQ_U64(0, g[1].delivered);
    for (size_t i = 0; i < 3; i += 2) {
        TAP_EQ_INT(1, g[i].done);
        TAP_OK(g[i].ok);
        TAP_OK(g[i].bytes > 10000);
    }
}

TAP_CASE(keepalive_across_runs)
{
    static const char *const paths[] = {"/overview"};
    struct scraper_opts o = {
        .timeout_ms = 5000, .max_bytes = 1u << 20, .concurrency = 1};
    struct scrape_target t[1];
    struct got g[1];
    char urls[1][256];
    struct scraper *s = NULL;
    int port1, port2, n1, n2, rc1, rc2;
    bool ok1;

    NEED_FAKE();
    s = scraper_new(&o);
    TAP_OK(s != NULL);
    targets_init(t, g, urls, paths, 1);
    rc1 = scraper_run(s, t, 1);
    ok1 = g[0].ok;
    gots_release(g, 1);
    port1 = log_last_port("/overview", &n1);
    targets_init(t, g, urls, paths, 1);
    rc2 = scraper_run(s, t, 1);
    scraper_free(&s);
    gots_release(g, 1);
    port2 = log_last_port("/overview", &n2);
    TAP_EQ_INT(0, rc1);
    TAP_EQ_INT(0, rc2);
    TAP_OK(ok1);
    TAP_OK(g[0].ok);
    TAP_EQ_INT(n1 + 1, n2);
    /* Same client port: the second run reused the first run's
     * connection. */
    TAP_OK(port1 > 0);
    TAP_EQ_INT(port1, port2);
}

TAP_CASE(many_targets_each_done_once)
{
    enum { N = 12 };
    static const char *const base[] = {"/tm1/metrics", "/jobs", "/overview",
                                       "/nope"};
    const char *paths[N];
    struct scraper_opts o = {
        .timeout_ms = 5000, .max_bytes = 1u << 20, .concurrency = 2};
    struct scrape_target t[N];
    struct got g[N];
    char urls[N][256];
    struct scraper *s = NULL;
    int rc, rc0;

    NEED_FAKE();
    for (size_t i = 0; i < N; i++)
        paths[i] = base[i % TAP_N(base)];
    targets_init(t, g, urls, paths, N);
    s = scraper_new(&o);
    TAP_OK(s != NULL);
    rc0 = scraper_run(s, t, 0);
    rc = scraper_run(s, t, N);
    scraper_free(&s);
    gots_release(g, N);
    TAP_EQ_INT(0, rc0);
    TAP_EQ_INT(0, rc);
    for (size_t i = 0; i < N; i++) {
        TAP_EQ_INT(1, g[i].done);
        TAP_EQ_INT(i % 4 != 3, g[i].ok);
    }
}

static const struct tap_case cases[] = {
    TAP_ENTRY(reporters_concurrently_byte_equal),
    TAP_ENTRY(gzip_requested_and_decoded),
    TAP_ENTRY(concurrency_limit),
    TAP_ENTRY(slow_target_times_out_alone),
    TAP_ENTRY(error_outcomes),
    TAP_ENTRY(size_cap),
    TAP_ENTRY(connection_refused),
    TAP_ENTRY(disallowed_schemes),
    TAP_ENTRY(data_abort_hits_one_target),
    TAP_ENTRY(keepalive_across_runs),
    TAP_ENTRY(many_targets_each_done_once),
};

int main(int argc, char **argv)
{
    /* A fake that dies mid-test must not kill us with SIGPIPE. */
    signal(SIGPIPE, SIG_IGN);
    return tap_main(cases, TAP_N(cases), argc, argv);
}
