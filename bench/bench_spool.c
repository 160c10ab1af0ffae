/*
 * bench_spool: throughput of the disk spool (sinks/spool.h): appending
 * ready-to-send batches and replaying them (peek + ack), with an fdatasync
 * per batch and without, in MB/s and points/s.
 *
 *   bench_spool [--dir DIR] [--mb TOTAL] [--batch-kb KB] [--points N]
 *
 * Defaults: a fresh directory under $TMPDIR or /tmp (removed at the end),
 * 128 MB per run, batches of 512 KB holding 5000 points (the size of a
 * default InfluxDB batch of Flink series).
 */
#include <dirent.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "spool.h"
#include "util/xalloc.h"

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *de;
    char p[4096];
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, de->d_name);
        unlink(p);
    }
    closedir(d);
    rmdir(dir);
}

static int run(const char *dir, bool fsync, size_t total, size_t batch,
               uint32_t points)
{
    char err[512];
    struct spool *sp = spool_open(dir, 0, fsync, err, sizeof(err));
    if (!sp) {
        fprintf(stderr, "bench_spool: %s\n", err);
        return -1;
    }
    char *rec = xmalloc(batch);
    for (size_t i = 0; i < batch; i++)
        rec[i] = (char)('a' + i % 26);
    size_t n = total / batch ? total / batch : 1;
    double t0 = mono_s();
    for (size_t i = 0; i < n; i++) {
        if (spool_append(sp, rec, batch, points, i, err, sizeof(err)) != 0) {
            fprintf(stderr, "bench_spool: %s\n", err);
            goto fail;
        }
    }
    double ta = mono_s() - t0;
    t0 = mono_s();
    struct spool_rec r;
    size_t got = 0;
    while (spool_peek_oldest(sp, &r, err, sizeof(err)) == 1) {
        got++;
        spool_ack(sp, &r);
    }
    double tr = mono_s() - t0;
    if (got != n) {
        fprintf(stderr, "bench_spool: replayed %zu of %zu\n", got, n);
        goto fail;
    }
    double mb = (double)n * (double)batch / 1e6;
    printf("fsync=%-3s append: %8.1f MB/s %10.0f points/s %7.1f batches/s"
           " | replay: %8.1f MB/s %10.0f points/s\n",
           fsync ? "yes" : "no", mb / ta, (double)n * points / ta,
           (double)n / ta, mb / tr, (double)n * points / tr);
    free(rec);
    spool_close(&sp);
    return 0;
fail:
    free(rec);
    spool_close(&sp);
    return -1;
}

int main(int argc, char **argv)
{
    const char *dir = NULL;
    size_t mb = 128, kb = 512;
    unsigned long points = 5000;
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"mb", required_argument, NULL, 'm'},
        {"batch-kb", required_argument, NULL, 'b'},
        {"points", required_argument, NULL, 'p'},
        {NULL, 0, NULL, 0},
    };
    int c;
    while ((c = getopt_long(argc, argv, "d:m:b:p:", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'm':
            mb = strtoul(optarg, NULL, 10);
            break;
        case 'b':
            kb = strtoul(optarg, NULL, 10);
            break;
        case 'p':
            points = strtoul(optarg, NULL, 10);
            break;
        default:
            fprintf(stderr, "usage: bench_spool [--dir DIR] [--mb N] "
                            "[--batch-kb N] [--points N]\n");
            return 2;
        }
    }
    if (mb == 0 || kb == 0 || kb > 65536 || points > UINT32_MAX) {
        fprintf(stderr, "bench_spool: bad sizes\n");
        return 2;
    }
    log_set_level(LOG_LVL_WARN);
    char tmp[512];
    const char *t = getenv("TMPDIR");
    snprintf(tmp, sizeof(tmp), "%s/bench_spool.XXXXXX", t && t[0] ? t : "/tmp");
    const char *base = dir;
    if (!base) {
        if (!mkdtemp(tmp)) {
            perror("bench_spool: mkdtemp");
            return 1;
        }
        base = tmp;
    }
    printf("spool in %s: %zu MB per run, batches of %zu KB with %lu "
           "points\n",
           base, mb, kb, points);
    int rc = 0;
    for (int f = 1; f >= 0 && rc == 0; f--) {
        char sub[600];
        snprintf(sub, sizeof(sub), "%s/run%d", base, f);
        rc = run(sub, f == 1, mb << 20, kb << 10, (uint32_t)points);
        rm_dir(sub);
    }
    if (!dir)
        rmdir(tmp);
    return rc ? 1 : 0;
}
