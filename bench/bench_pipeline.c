/*
 * bench_pipeline: parse + trim + map + hash + encode throughput on one core.
 *
 * Generates a PrometheusReporter-shaped exposition (jobs x tasks x operators
 * x subtasks, Flink's 11-label operator scope with long values, HELP/TYPE per
 * family, trailing commas) chunk by chunk, so the input is never held whole,
 * and pushes it through the same modules `lagwatch run` uses: promparse ->
 * trim (default rules: drop labels, fold subtasks) -> flink_schema -> router
 * over a 3-node ring -> lineproto into per-node batches that are discarded
 * when full (no network). Only the pipeline is timed (CPU time of this
 * thread), not the generator.
 *
 *   bench_pipeline [--samples N] [--chunk BYTES] [--cycles N]
 *                  [--stage parse|trim|schema|route|encode]
 *                  [--spool-dir DIR [--no-fsync]] [--file PATH]
 *
 * --file PATH: the cycles feed that exposition (read into memory before
 * anything is timed, fed in --chunk pieces) instead of the generated one;
 * `bench/e2e.py --write-exposition PATH` writes the one it serves, so both
 * benchmarks measure the same shape.
 *
 * --spool-dir DIR: after the normal run, the same cycles twice more, once
 * discarding batches and once with node influx-a down: as in the InfluxDB
 * sink, each of its full batches is handed to that node's own thread,
 * which appends it to a disk spool in DIR/influx-a (sinks/spool.h,
 * fdatasync per batch unless --no-fsync); past 64 MiB waiting (the sink's
 * default queue_max_bytes) the pipeline appends itself and its time
 * counts the wait for the disk. Both figures are printed, and how long
 * the spool thread needed after the pipeline finished.
 *
 * Values are written the way the reporter writes them (Java's
 * Double.toString): counters and watermarks are integral ("12345.0",
 * "1.82390365E8"), rates fractional, so counters are not skipped by
 * flink_schema as non-integral.
 *
 * --stage runs the pipeline only up to and including that stage (default
 * encode: all of it), so that the time of a stage is the difference between
 * two runs. --cycles repeats the same series that many times as separate
 * scrape cycles (trim_flush and promparse_reset in between): the first
 * cycle is cold, the later ones show the steady state.
 *
 * Prints samples/s on one core, ns/sample, series kept, bytes of line
 * protocol and the peak RSS of the process.
 */
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "util/clock.h"
#include "util/buf.h"
#include "config.h"
#include "influx/flink_schema.h"
#include "hashring/hashring.h"
#include "influx/lineproto.h"
#include "util/log.h"
#include "pipeline/promparse.h"
#include "route/router.h"
#include "spool.h"
#include "pipeline/trim.h"
#include "util/xalloc.h"

#define NODES        3
#define BATCH_POINTS 5000

enum stage {
    ST_PARSE = 0,
    ST_TRIM,
    ST_SCHEMA,
    ST_ROUTE,
    ST_ENCODE,
};

static const char *const stage_names[] = {"parse", "trim", "schema", "route",
                                          "encode"};

struct bench {
    struct trim *trim;
    struct router *router;
    struct flink_schema_opts sopts;
    struct flink_schema_scratch scratch;
    struct buf batch[NODES];
    uint64_t batch_points[NODES];
    uint64_t bytes_out;
    uint64_t points;
    struct label extra[1];
    int64_t ts;
    enum stage stage;
    struct promparse *pp; /* the source of label shapes */
    const char *file;     /* --file: the exposition, read before timing */
    size_t file_len;
    struct spooler *down; /* node 0's spool thread in the spool pass */
    double spool_wait_s;  /* pipeline: wall minus CPU time of appends */
};

static double cpu_s(void);

#define SPOOL_QUEUE_MAX (64u << 20)

struct spool_job {
    struct spool_job *next;
    char *data;
    size_t len;
    uint32_t points;
};

/* The down node's writer thread: appends handed-over batches in order. */
struct spooler {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct spool_job *head, *tail;
    size_t queued;
    bool stop;
    struct spool *sp;
    uint64_t fail;
    pthread_t th;
};

static void spooler_append(struct spooler *q, struct spool_job *j)
{
    char err[256];
    if (spool_append(q->sp, j->data, j->len, j->points, 0, err, sizeof(err)) !=
        0)
        q->fail++;
    free(j->data);
    free(j);
}

static void *spooler_main(void *arg)
{
    struct spooler *q = arg;
    pthread_mutex_lock(&q->mu);
    for (;;) {
        struct spool_job *j = q->head;
        if (!j && q->stop)
            break;
        if (!j) {
            pthread_cond_wait(&q->cv, &q->mu);
            continue;
        }
        q->head = j->next;
        if (!q->head)
            q->tail = NULL;
        q->queued -= j->len;
        pthread_mutex_unlock(&q->mu);
        spooler_append(q, j);
        pthread_mutex_lock(&q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    return NULL;
}

/* A full batch of the down node: to its thread, or (queue full) to disk
 * right here, as influx.c does. */
static void spool_batch(struct bench *b, const struct buf *out, uint32_t points)
{
    struct spooler *q = b->down;
    struct spool_job *j = xcalloc(1, sizeof(*j));
    j->data = xmalloc(out->len ? out->len : 1);
    memcpy(j->data, out->data, out->len);
    j->len = out->len;
    j->points = points;
    pthread_mutex_lock(&q->mu);
    if (q->queued + j->len > SPOOL_QUEUE_MAX) {
        /* the sink appends on the caller's thread then; the thread's
         * appends are serialized with this one by the mutex */
        double w0 = clock_mono_s(), c0 = cpu_s();
        spooler_append(q, j);
        b->spool_wait_s += (clock_mono_s() - w0) - (cpu_s() - c0);
        pthread_mutex_unlock(&q->mu);
        return;
    }
    if (q->tail)
        q->tail->next = j;
    else
        q->head = j;
    q->tail = j;
    q->queued += j->len;
    pthread_cond_signal(&q->cv);
    pthread_mutex_unlock(&q->mu);
}

static int on_series(void *vb, const struct series *s)
{
    struct bench *b = vb;
    struct point p;
    if (b->stage == ST_TRIM)
        return 0;
    if (flink_schema_point(s, &b->sopts, &p, &b->scratch) != 0)
        return 0;
    if (b->stage == ST_SCHEMA) {
        b->points++;
        return 0;
    }
    size_t owners[1];
    size_t n = router_route(b->router, p.tags, p.ntags, owners);
    if (b->stage == ST_ROUTE) {
        b->points++;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        struct buf *out = &b->batch[owners[i]];
        struct lineproto_stats ls = {0};
        lineproto_encode(out, &p, &ls);
        if (++b->batch_points[owners[i]] >= BATCH_POINTS) {
            if (b->down && owners[i] == 0)
                spool_batch(b, out, BATCH_POINTS);
            b->bytes_out += out->len;
            buf_reset(out);
            b->batch_points[owners[i]] = 0;
        }
    }
    b->points++;
    return 0;
}

static int on_sample(void *vb, const struct sample *s)
{
    struct bench *b = vb;
    if (b->stage == ST_PARSE)
        return 0;
    return trim_sample_shaped(b->trim, s, b->pp, promparse_label_shape(b->pp),
                              b->extra, 1, b->ts);
}

/* The generator: walks (family, job, task, operator, subtask) in the order
 * the reporter writes families. */
static const char *const op_metrics[] = {
    "numRecordsIn",
    "numRecordsOut",
    "numRecordsInPerSecond",
    "numRecordsOutPerSecond",
    "numBytesIn",
    "numBytesOut",
    "currentInputWatermark",
    "currentOutputWatermark",
    "numLateRecordsDropped",
    "numRecordsInErrors",
};
static const char *const task_metrics[] = {
    "busyTimeMsPerSecond",          "idleTimeMsPerSecond",
    "backPressuredTimeMsPerSecond", "isBackPressured",
    "numBuffersInLocalPerSecond",   "numBuffersOutPerSecond",
    "checkpointStartDelayNanos",    "mailboxMailsPerSecond",
};

/* Java's Double.toString for an integral v >= 0: "123.0" below 10^7, else
 * "1.2345E8" (shortest digits, at least one after the point). */
static void put_java_integral(struct buf *out, uint64_t v)
{
    if (v < 10000000) {
        buf_addf(out, "%" PRIu64 ".0", v);
        return;
    }
    char d[24];
    int n = snprintf(d, sizeof(d), "%" PRIu64, v);
    int last = n - 1;
    while (last > 1 && d[last] == '0')
        last--;
    buf_addf(out, "%c.%.*sE%d", d[0], last, d + 1, n - 1);
}

/* The value of sample number i of metric m, as the reporter prints it. */
static void put_value(struct buf *out, const char *m, uint64_t i)
{
    if (strstr(m, "Watermark")) {
        put_java_integral(out, UINT64_C(1718093400000) + i % 100000);
    } else if (strncmp(m, "num", 3) == 0 && !strstr(m, "PerSecond")) {
        /* counters: a mix of small ("123.0") and large ("1.2E8") */
        put_java_integral(out, (i % 100000) * 1537 + (i % 7));
    } else if (strcmp(m, "isBackPressured") == 0) {
        put_java_integral(out, i % 2);
    } else {
        buf_addf(out, "%.1f", (double)(i % 100000) * 1.5 + 0.5);
    }
}

struct gen {
    unsigned jobs, tasks, ops, subtasks;
    size_t nfam;
    size_t fam, job, task, op, sub;
    bool header_done;
    uint64_t emitted;
    uint64_t target;
};

static bool gen_line(struct gen *g, struct buf *out)
{
    size_t n_op = sizeof(op_metrics) / sizeof(op_metrics[0]);
    if (g->emitted >= g->target)
        return false;
    bool opscope = g->fam < n_op;
    const char *metric =
        opscope ? op_metrics[g->fam] : task_metrics[g->fam - n_op];
    const char *scope =
        opscope ? "taskmanager_job_task_operator" : "taskmanager_job_task";
    if (!g->header_done) {
        buf_addf(out, "# HELP flink_%s_%s %s (scope: %s)\n", scope, metric,
                 metric, scope);
        buf_addf(out, "# TYPE flink_%s_%s gauge\n", scope, metric);
        g->header_done = true;
    }
    unsigned tm = (unsigned)(g->sub % 16);
    buf_addf(out,
             "flink_%s_%s{job_id=\"%08zx5c1a2b3c4d5e6f708192a3b4\","
             "task_id=\"%08zxd77cffb7decc0c5e6a0a2e\","
             "task_attempt_id=\"5d96cf7f265beda9cf0c26ef4243ed52_%08zx"
             "d77cffb7decc0c5e6a0a2e_%zu_1\",host=\"10_42_%u_17\",",
             scope, metric, g->job, g->task, g->task, g->sub, tm);
    if (opscope)
        buf_addf(out,
                 "operator_id=\"%08zx%08zxbfb637dd5bae2d26\","
                 "operator_name=\"Map:_enrich_customer_%zu__cache_LRU_\",",
                 g->task, g->op, g->op);
    buf_addf(out,
             "task_name=\"Map:_enrich_customer_%zu__cache_LRU_____Filter:_"
             "status_____TEST_\",task_attempt_num=\"1\","
             "job_name=\"orders_enrich_%zu\",tm_id=\"10_42_%u_17:6122_4d5c1a"
             "\",subtask_index=\"%zu\",} ",
             g->task, g->job, tm, g->sub);
    put_value(out, metric, g->emitted);
    buf_addc(out, '\n');
    g->emitted++;
    /* Advance: subtask fastest, then operator, task, job, family. */
    if (++g->sub < g->subtasks)
        return true;
    g->sub = 0;
    if (opscope && ++g->op < g->ops)
        return true;
    g->op = 0;
    if (++g->task < g->tasks)
        return true;
    g->task = 0;
    if (++g->job < g->jobs)
        return true;
    g->job = 0;
    g->fam = (g->fam + 1) % g->nfam;
    g->header_done = false;
    return true;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One scrape cycle over the same series: returns its pipeline CPU time. */
static double run_cycle(struct bench *b, struct promparse *pp, struct gen *g,
                        struct buf *in, size_t chunk, uint64_t *in_bytes)
{
    double t_pipe = 0;
    bool more = true;
    while (more) {
        buf_reset(in);
        while (in->len < chunk && (more = gen_line(g, in)))
            ;
        *in_bytes += in->len;
        double t0 = cpu_s();
        promparse_feed(pp, in->data, in->len);
        t_pipe += cpu_s() - t0;
    }
    double t0 = cpu_s();
    promparse_finish(pp);
    trim_flush(b->trim);
    t_pipe += cpu_s() - t0;
    return t_pipe;
}

/* One cycle of the generated Flink stream (samples samples) from a reset
 * parser: returns its pipeline time, with the parser's counts in *ps. */
static double gen_cycle(struct bench *b, struct promparse *pp, struct buf *in,
                        size_t chunk, uint64_t samples, uint64_t *in_bytes,
                        struct promparse_stats *ps)
{
    if (b->file) {
        promparse_reset(pp, NULL);
        double t = 0;
        for (size_t off = 0; off < b->file_len; off += chunk) {
            size_t n = b->file_len - off < chunk ? b->file_len - off : chunk;
            double t0 = cpu_s();
            promparse_feed(pp, b->file + off, n);
            t += cpu_s() - t0;
        }
        *in_bytes += b->file_len;
        double t0 = cpu_s();
        promparse_finish(pp);
        trim_flush(b->trim);
        t += cpu_s() - t0;
        promparse_get_stats(pp, ps);
        return t;
    }
    struct gen g = {
        .jobs = 64, .tasks = 8, .ops = 2, .subtasks = 16, .target = samples};
    g.nfam = sizeof(op_metrics) / sizeof(op_metrics[0]) +
             sizeof(task_metrics) / sizeof(task_metrics[0]);
    promparse_reset(pp, NULL);
    double t = run_cycle(b, pp, &g, in, chunk, in_bytes);
    promparse_get_stats(pp, ps);
    return t;
}

/* cycles more cycles; samples parsed in *parsed, returns the pipeline
 * time (CPU, plus the disk waits of the spool pass). */
static double timed_cycles(struct bench *b, struct promparse *pp,
                           struct buf *in, size_t chunk, uint64_t samples,
                           unsigned cycles, uint64_t *parsed)
{
    double t = 0;
    uint64_t in_bytes = 0;
    *parsed = 0;
    b->spool_wait_s = 0;
    for (unsigned cy = 0; cy < cycles; cy++) {
        struct promparse_stats ps;
        t += gen_cycle(b, pp, in, chunk, samples, &in_bytes, &ps);
        *parsed += ps.samples;
    }
    return t + b->spool_wait_s;
}

/* --spool-dir: the same cycles without and with node 0 spooling. */
static int spool_compare(struct bench *b, struct promparse *pp, struct buf *in,
                         size_t chunk, uint64_t samples, unsigned cycles,
                         const char *dir, bool fsync)
{
    char err[512], path[4096];
    struct spooler q = {.mu = PTHREAD_MUTEX_INITIALIZER,
                        .cv = PTHREAD_COND_INITIALIZER};
    snprintf(path, sizeof(path), "%s/influx-a", dir);
    q.sp = spool_open(path, 0, fsync, err, sizeof(err));
    if (!q.sp) {
        fprintf(stderr, "%s\n", err);
        return -1;
    }
    if (pthread_create(&q.th, NULL, spooler_main, &q) != 0) {
        fprintf(stderr, "cannot start the spool thread\n");
        spool_close(&q.sp);
        return -1;
    }
    uint64_t n_off, n_on;
    b->down = NULL;
    double t_off = timed_cycles(b, pp, in, chunk, samples, cycles, &n_off);
    b->down = &q;
    double t_on = timed_cycles(b, pp, in, chunk, samples, cycles, &n_on);
    double wait = b->spool_wait_s;
    b->down = NULL;
    double w0 = clock_mono_s();
    pthread_mutex_lock(&q.mu);
    q.stop = true;
    pthread_cond_signal(&q.cv);
    pthread_mutex_unlock(&q.mu);
    pthread_join(q.th, NULL);
    double behind = clock_mono_s() - w0;
    struct spool_stats st;
    spool_get_stats(q.sp, &st);
    spool_close(&q.sp);
    double r_off = (double)n_off / t_off, r_on = (double)n_on / t_on;
    printf("spool pass:          %u cycles each, node influx-a down, "
           "fsync %s\n",
           cycles, fsync ? "on" : "off");
    printf("  no spool:          %.0f samples/s\n", r_off);
    printf("  spooling:          %.0f samples/s (%.1f%% lower; %.1f MiB in "
           "%" PRIu64 " batches, pipeline waited %.3f s for the disk, "
           "spool thread done %.3f s after it, %" PRIu64 " failed)\n",
           r_on, 100.0 * (1.0 - r_on / r_off), (double)st.bytes / 1048576.0,
           st.records, wait, behind, q.fail);
    return q.fail ? -1 : 0;
}

int main(int argc, char **argv)
{
    uint64_t samples = 1000000;
    size_t chunk = 1 << 20;
    unsigned cycles = 1;
    int c;
    static const struct option opts[] = {
        {"samples", required_argument, NULL, 's'},
        {"chunk", required_argument, NULL, 'k'},
        {"cycles", required_argument, NULL, 'c'},
        {"stage", required_argument, NULL, 't'},
        {"spool-dir", required_argument, NULL, 'd'},
        {"no-fsync", no_argument, NULL, 'n'},
        {"file", required_argument, NULL, 'f'},
        {NULL, 0, NULL, 0},
    };
    struct bench b;
    memset(&b, 0, sizeof(b));
    b.stage = ST_ENCODE;
    const char *spool_dir = NULL;
    bool spool_fsync = true;
    const char *file = NULL;
    struct buf fbuf;
    buf_init(&fbuf, 0);
    while ((c = getopt_long(argc, argv, "s:k:c:t:d:nf:", opts, NULL)) != -1) {
        if (c == 'f') {
            file = optarg;
        } else if (c == 'd') {
            spool_dir = optarg;
        } else if (c == 'n') {
            spool_fsync = false;
        } else if (c == 's') {
            samples = strtoull(optarg, NULL, 10);
        } else if (c == 'k') {
            chunk = strtoull(optarg, NULL, 10);
        } else if (c == 'c') {
            cycles = (unsigned)strtoul(optarg, NULL, 10);
        } else if (c == 't') {
            size_t i;
            for (i = 0; i <= ST_ENCODE; i++)
                if (strcmp(optarg, stage_names[i]) == 0)
                    break;
            if (i > ST_ENCODE) {
                fprintf(stderr,
                        "unknown stage '%s' (parse, trim, schema, "
                        "route or encode)\n",
                        optarg);
                return 2;
            }
            b.stage = (enum stage)i;
        } else {
            return 2;
        }
    }
    if (cycles < 1 || chunk < 1)
        return 2;
    log_set_level(LOG_LVL_WARN);
    if (file) {
        FILE *fp = fopen(file, "rb");
        char rd[1 << 16];
        size_t n;
        if (!fp) {
            perror(file);
            return 1;
        }
        while ((n = fread(rd, 1, sizeof(rd), fp)) > 0)
            if (buf_add(&fbuf, rd, n) < 0)
                break;
        int bad = ferror(fp) || buf_error(&fbuf);
        fclose(fp);
        if (bad) {
            fprintf(stderr, "%s: cannot read\n", file);
            buf_release(&fbuf);
            return 1;
        }
        b.file = fbuf.data;
        b.file_len = fbuf.len;
    }

    char err[512];
    static const char yml[] = "agent: {name: bench}\n";
    struct config *cfg =
        config_load_string("bench", yml, sizeof(yml) - 1, err, sizeof(err));
    if (!cfg) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    b.ts = 1718093400000;
    b.extra[0] = (struct label){"flink_cluster", "prod", 13, 4};
    b.trim = trim_new(&cfg->trim, on_series, &b, err, sizeof(err));
    if (!b.trim) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    static const struct hashring_node_spec nodes[NODES] = {
        {"influx-a", 1}, {"influx-b", 1}, {"influx-c", 1}};
    struct hashring *ring = hashring_new(nodes, NODES, 1000, err, sizeof(err));
    char *by[] = {"job_name"};
    b.router = router_new(ring, by, 1, 1, "bench");
    b.sopts.fold_fields = cfg->trim.fold;
    for (int i = 0; i < NODES; i++)
        buf_init(&b.batch[i], 0);

    struct promparse_opts po = {.target = "generated",
                                .max_line = 65536,
                                .max_labels = 128,
                                .max_logged_errors = 10};
    struct promparse *pp = promparse_new(&po, on_sample, &b);
    b.pp = pp;

    struct buf in;
    buf_init(&in, 0);
    uint64_t in_bytes = 0;
    double t_total = 0;
    uint64_t parsed = 0, errors = 0;
    for (unsigned cy = 0; cy < cycles; cy++) {
        struct promparse_stats ps;
        double t = gen_cycle(&b, pp, &in, chunk, samples, &in_bytes, &ps);
        parsed += ps.samples;
        errors += ps.errors;
        t_total += t;
        if (cycles > 1)
            printf("cycle %-3u %-5s      %.3f s, %.0f samples/s/core, "
                   "%.1f ns/sample\n",
                   cy + 1, cy ? "warm" : "cold", t, (double)ps.samples / t,
                   t * 1e9 / (double)ps.samples);
    }
    for (int i = 0; i < NODES; i++)
        b.bytes_out += b.batch[i].len;

    struct trim_stats ts;
    trim_get_stats(b.trim, &ts);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);

    printf("stage:               %s\n", stage_names[b.stage]);
    printf("samples parsed:      %" PRIu64 " (parse errors %" PRIu64 ")\n",
           parsed, errors);
    printf("input:               %.1f MiB of exposition\n",
           (double)in_bytes / 1048576.0);
    printf("series kept:         %" PRIu64 " (%" PRIu64 " samples folded)\n",
           ts.series_out, ts.folded_in);
    printf("points encoded:      %" PRIu64 " (%.1f MiB line protocol, "
           "%" PRIu64 " skipped non-integral)\n",
           b.points, (double)b.bytes_out / 1048576.0,
           b.scratch.skipped_nonintegral);
    printf("pipeline CPU time:   %.3f s\n", t_total);
    printf("samples/s/core:      %.0f\n", (double)parsed / t_total);
    printf("ns/sample:           %.1f\n", t_total * 1e9 / (double)parsed);
    printf("peak RSS:            %.1f MiB\n", (double)ru.ru_maxrss / 1024.0);
    if (spool_dir && b.stage == ST_ENCODE &&
        spool_compare(&b, pp, &in, chunk, samples, cycles, spool_dir,
                      spool_fsync) < 0)
        errors++;

    promparse_free(&pp);
    buf_release(&in);
    for (int i = 0; i < NODES; i++)
        buf_release(&b.batch[i]);
    flink_schema_scratch_release(&b.scratch);
    router_free(&b.router);
    hashring_free(&ring);
    trim_free(&b.trim);
    config_free(&cfg);
    buf_release(&fbuf);
    return errors ? 1 : 0;
}
