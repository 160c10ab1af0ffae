/*
 * reporters_test: a reporter endpoint is all or nothing per cycle
 * (lagwatch(8), FAULTS). Both TaskManagers of the real tests/fakeflink.py
 * serve subtasks of the same tasks; with the scraper's size cap between
 * their body sizes (tm1 226 KB, tm2 338 KB) tm2 fails half way, after
 * most of its body was parsed. The cycle's output is then exactly what a
 * collection of tm1 alone gives (the same series, the same folds with the
 * same subtask counts): nothing of tm2 leaks in, and what it had sent is
 * counted. Without the cap the next cycle is whole again, its folds
 * counting more subtasks. Needs python3.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "flink/reporters.h"
#include "flink/scrape.h"
#include "tests/lib/tap.h"
#include "tests/lib/testutil.h"
#include "util/buf.h"

/* Every series as "name{labels} [folded count]" (values move between
 * requests, so they are left out), one per line, and the folds' total
 * subtask count. */
struct out {
    struct buf text;
    uint64_t n, nfolded, subtasks;
    bool tm2_host; /* a series labelled with tm2's host */
};

static int on_series(void *ctx, const struct series *s)
{
    struct out *o = ctx;
    buf_addf(&o->text, "%.*s{", (int)s->name_len, s->name);
    for (size_t i = 0; i < s->nlabels; i++) {
        buf_addf(&o->text, "%s=%s,", s->labels[i].name, s->labels[i].value);
        if (strcmp(s->labels[i].value, "10_42_2_9") == 0)
            o->tm2_host = true;
    }
    if (s->folded)
        buf_addf(&o->text, "} %u\n", s->count);
    else
        buf_addf(&o->text, "}\n");
    o->n++;
    o->nfolded += s->folded;
    o->subtasks += s->folded ? s->count : 0;
    return 0;
}

static int collect(struct reporters *r, uint64_t cap,
                   const struct reporter_target *t, size_t n,
                   struct reporters_stats *st)
{
    struct scraper_opts so = {5000, cap, 4, NULL};
    struct scraper *sc = scraper_new(&so);
    if (!sc)
        return -2;
    int rc = reporters_collect(r, sc, t, n, 1718093400000, st);
    scraper_free(&sc);
    return rc;
}

TAP_CASE(failed_target_contributes_nothing)
{
    struct tu_fake fk;
    if (tu_fake_start(&fk, NULL) < 0)
        TAP_FAIL_("cannot start fakeflink (FAKEFLINK, python3?)");
    char u1[128], u2[128];
    snprintf(u1, sizeof(u1), "http://127.0.0.1:%d/tm1/metrics", fk.port);
    snprintf(u2, sizeof(u2), "http://127.0.0.1:%d/tm2/metrics", fk.port);
    const struct reporter_target both[] = {{u1, "prod"}, {u2, "prod"}};
    static char *fold[] = {"numRecords.*", "numBytes.*", ".*TimeMsPerSecond"};
    static char *drop[] = {"task_attempt_id", "task_attempt_num", "tm_id",
                           "host"};
    struct cfg_trim cfg = {
        .drop_labels = drop,
        .n_drop_labels = 4,
        .drop_labels_match = "flink_taskmanager_job_.*",
        .fold_metrics = fold,
        .n_fold_metrics = 3,
    };
    struct out alone = {0}, cut = {0}, whole = {0};
    buf_init(&alone.text, 0);
    buf_init(&cut.text, 0);
    buf_init(&whole.text, 0);
    char err[256];
    struct reporters *ra = reporters_new(&cfg, on_series, &alone, err, 256);
    struct reporters *r = reporters_new(&cfg, on_series, &cut, err, 256);
    TAP_OK(ra && r);
    struct reporters_stats st;

    TAP_EQ_INT(0, collect(ra, 1 << 20, both, 1, &st));
    TAP_EQ_INT(-1, collect(r, 280000, both, 2, &st));
    TAP_EQ_U64(1, st.targets_failed);
    size_t nres;
    const struct reporter_result *res = reporters_results(r, &nres);
    TAP_OK(res[0].ok && !res[1].ok);
    printf("# tm2: %s after %llu bytes, %llu samples parsed, %llu series "
           "discarded\n",
           res[1].error, (unsigned long long)res[1].bytes,
           (unsigned long long)res[1].samples,
           (unsigned long long)res[1].discarded);
    TAP_OK(res[1].samples > 300); /* it failed half way, not at once */
    TAP_OK(st.dropped_scrape_failed > 300);
    TAP_OK(!cut.tm2_host);
    TAP_EQ_U64(alone.n, cut.n);
    TAP_EQ_U64(alone.subtasks, cut.subtasks);
    TAP_EQ_STR(alone.text.data, cut.text.data);

    /* the next cycle, without the cap: whole */
    reporters_free(&r);
    r = reporters_new(&cfg, on_series, &whole, err, 256);
    TAP_EQ_INT(0, collect(r, 1 << 20, both, 2, &st));
    printf("# folds: %llu subtasks from tm1 alone, %llu from both\n",
           (unsigned long long)cut.subtasks,
           (unsigned long long)whole.subtasks);
    TAP_OK(whole.tm2_host);
    TAP_OK(whole.subtasks > cut.subtasks);
    TAP_EQ_U64(0, st.dropped_scrape_failed);

    reporters_free(&ra);
    reporters_free(&r);
    buf_release(&alone.text);
    buf_release(&cut.text);
    buf_release(&whole.text);
    tu_fake_stop(&fk);
}

static const struct tap_case tcases[] = {
    TAP_ENTRY(failed_target_contributes_nothing),
};

int main(int argc, char **argv)
{
    return tap_main(tcases, TAP_N(tcases), argc, argv);
}
