/*
 * sink_test: the loop over the sinks (sink.h). Fake sinks record their
 * calls and answer what the case asks: every sink gets every call even
 * after another failed, the worst result wins, the drain deadline is
 * shared. Then which sinks a configuration opens, in which order, and the
 * error for a configuration with none.
 */
#include "sink.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "util/clock.h"
#include "tests/lib/tap.h"

struct fake {
    struct sink base;
    int rc;            /* what write_* and drain return */
    uint64_t sleep_ms; /* drain takes this long */
    uint64_t timeout;  /* the deadline drain was given */
    int series, points, flushes, drains, begins;
};

static struct fake *fake_of(struct sink *s)
{
    return (struct fake *)s;
}

static void f_begin(struct sink *s)
{
    fake_of(s)->begins++;
}

static int f_series(struct sink *s, const struct series *se)
{
    (void)se;
    fake_of(s)->series++;
    return fake_of(s)->rc < 0 ? -1 : 0;
}

static int f_point(struct sink *s, const struct point *p)
{
    (void)p;
    fake_of(s)->points++;
    return fake_of(s)->rc < 0 ? -1 : 0;
}

static void f_flush(struct sink *s)
{
    fake_of(s)->flushes++;
}

static int f_drain(struct sink *s, uint64_t timeout_ms)
{
    struct fake *f = fake_of(s);
    f->drains++;
    f->timeout = timeout_ms;
    struct timespec ts = {(time_t)(f->sleep_ms / 1000),
                          (long)(f->sleep_ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
    return f->rc;
}

static const struct sink_ops fake_ops = {
    .section = "fake",
    .write_series = f_series,
    .write_point = f_point,
    .flush = f_flush,
    .drain = f_drain,
};

static const struct sink_ops fake_ops_begin = {
    .section = "fake",
    .cycle_begin = f_begin,
    .write_series = f_series,
    .write_point = f_point,
    .flush = f_flush,
    .drain = f_drain,
};

TAP_CASE(every_sink_gets_every_call)
{
    struct fake a = {.base.ops = &fake_ops_begin, .rc = -1};
    struct fake b = {.base.ops = &fake_ops, .rc = 0};
    struct sink *s[] = {&a.base, &b.base};
    struct series se;
    struct point p;
    memset(&se, 0, sizeof(se));
    memset(&p, 0, sizeof(p));
    sink_cycle_begin_all(s, 2); /* b has no cycle_begin: skipped */
    TAP_EQ_INT(-1, sink_write_series_all(s, 2, &se));
    TAP_EQ_INT(-1, sink_write_point_all(s, 2, &p));
    TAP_EQ_INT(-1, sink_write_point_all(s, 2, &p));
    sink_flush_all(s, 2);
    TAP_EQ_INT(1, a.begins);
    TAP_EQ_INT(1, a.series);
    TAP_EQ_INT(1, b.series);
    TAP_EQ_INT(2, a.points);
    TAP_EQ_INT(2, b.points);
    TAP_EQ_INT(1, a.flushes);
    TAP_EQ_INT(1, b.flushes);
    a.rc = 0;
    TAP_EQ_INT(0, sink_write_series_all(s, 2, &se));
    TAP_EQ_INT(0, sink_write_series_all(s, 0, &se)); /* no sink: nothing */
}

TAP_CASE(drain_worst_result_wins)
{
    static const int cases[][3] = {
        /* a, b, want */
        {0, 0, 0},   {0, 1, 1},   {1, 0, 1},   {1, 1, 1},
        {-1, 0, -1}, {0, -1, -1}, {1, -1, -1}, {-1, 1, -1},
    };
    for (size_t i = 0; i < TAP_N(cases); i++) {
        struct fake a = {.base.ops = &fake_ops, .rc = cases[i][0]};
        struct fake b = {.base.ops = &fake_ops, .rc = cases[i][1]};
        struct sink *s[] = {&a.base, &b.base};
        TAP_EQ_INT(cases[i][2], sink_drain_all(s, 2, 1000));
        TAP_EQ_INT(1, a.drains);
        TAP_EQ_INT(1, b.drains);
    }
}

TAP_CASE(drain_shares_the_deadline)
{
    struct fake a = {.base.ops = &fake_ops, .sleep_ms = 120};
    struct fake b = {.base.ops = &fake_ops};
    struct fake c = {.base.ops = &fake_ops, .sleep_ms = 300};
    struct fake d = {.base.ops = &fake_ops};
    struct sink *s[] = {&a.base, &b.base, &c.base, &d.base};
    uint64_t t0 = clock_mono_ms();
    TAP_EQ_INT(0, sink_drain_all(s, 4, 400));
    TAP_OK(clock_mono_ms() - t0 >= 420);
    TAP_EQ_U64(400, a.timeout);
    /* b gets what a left: at most 400 - 120 */
    TAP_OK(b.timeout <= 280);
    TAP_OK(b.timeout >= 180); /* generous: a loaded machine */
    /* past the deadline the rest still get their call, with 0 */
    TAP_EQ_INT(1, d.drains);
    TAP_EQ_U64(0, d.timeout);
}

static struct config *load(const char *yaml)
{
    char err[512];
    struct config *cfg =
        config_load_string("sinks.yml", yaml, strlen(yaml), err, sizeof(err));
    if (!cfg)
        printf("# %s\n", err);
    return cfg;
}

TAP_CASE(no_sink_is_an_error_naming_the_file)
{
    struct config *cfg = load("agent: {name: t}\n");
    TAP_OK(cfg);
    char err[512] = "";
    TAP_EQ_INT(-1, sink_check_configured(cfg, err, sizeof(err)));
    TAP_EQ_STR("sinks.yml: no sink configured: set sinks.influxdb.nodes, "
               "sinks.remote_write.url or both (see lagwatch.yml(5), SINKS)",
               err);
    struct sink *dummy = NULL;
    struct sink **sinks = &dummy; /* must be reset */
    size_t n = 7;
    err[0] = '\0';
    TAP_EQ_INT(-1, sink_open_all(cfg, &sinks, &n, err, sizeof(err)));
    TAP_OK(sinks == NULL);
    TAP_EQ_INT(0, n);
    TAP_OK(strstr(err, "no sink configured") != NULL);
    sink_free_all(&sinks, n); /* NULL-safe */
    config_free(&cfg);
}

TAP_CASE(opens_what_is_configured_in_order)
{
    /* "created when first needed": nothing is written, the sinks only
     * start (lagwatch.yml(5), AGENT) */
    char dir[] = "/tmp/lagwatch-sink-test.XXXXXX";
    TAP_OK(mkdtemp(dir) != NULL);
    char rw_only[512], both[512];
    snprintf(rw_only, sizeof(rw_only),
             "agent: {name: t, spool_dir: '%s'}\n"
             "sinks:\n"
             "  remote_write: {url: 'http://127.0.0.1:1/api/v1/write'}\n",
             dir);
    snprintf(both, sizeof(both),
             "agent: {name: t, spool_dir: '%s'}\n"
             "sinks:\n"
             "  remote_write: {url: 'http://127.0.0.1:1/api/v1/write'}\n"
             "  influxdb:\n"
             "    nodes: [{name: a, url: 'http://127.0.0.1:1'}]\n",
             dir);
    char err[512] = "";
    struct sink **sinks = NULL;
    size_t n = 0;

    struct config *cfg = load(rw_only);
    TAP_OK(cfg);
    TAP_EQ_INT(0, sink_check_configured(cfg, err, sizeof(err)));
    TAP_EQ_INT(0, sink_open_all(cfg, &sinks, &n, err, sizeof(err)));
    TAP_EQ_INT(1, n);
    TAP_EQ_STR("sinks.remote_write", sinks[0]->ops->section);
    sink_free_all(&sinks, n);
    TAP_OK(sinks == NULL);
    config_free(&cfg);

    cfg = load(both);
    TAP_OK(cfg);
    TAP_EQ_INT(0, sink_open_all(cfg, &sinks, &n, err, sizeof(err)));
    TAP_EQ_INT(2, n);
    TAP_EQ_STR("sinks.influxdb", sinks[0]->ops->section);
    TAP_EQ_STR("sinks.remote_write", sinks[1]->ops->section);
    sink_free_all(&sinks, n);
    config_free(&cfg);
    char cmd[256];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    TAP_EQ_INT(0, system(cmd));
}

static const struct tap_case cases[] = {
    TAP_ENTRY(every_sink_gets_every_call),
    TAP_ENTRY(drain_worst_result_wins),
    TAP_ENTRY(drain_shares_the_deadline),
    TAP_ENTRY(no_sink_is_an_error_naming_the_file),
    TAP_ENTRY(opens_what_is_configured_in_order),
};

int main(int argc, char **argv)
{
    return tap_main(cases, TAP_N(cases), argc, argv);
}
