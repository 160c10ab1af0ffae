#include "flink/reporters.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/errstate.h"
#include "util/log.h"
#include "pipeline/promparse.h"
#include "flink/scrape.h"
#include "pipeline/trim.h"
#include "util/xalloc.h"

/* Per-endpoint parse state for one collection. */
struct target_ctx {
    struct reporters *r;
    struct promparse *pp;
    struct label extra[1];
    int64_t ts_ms;
    bool aborted;
    struct reporter_result *res;
    /* The target's series until it has succeeded (trim.h, staging). */
    struct trim_stage *stage;
    /* The URL whose first cut label value was logged (log once per
     * target, not per cycle). */
    char *trunc_logged;
};

struct reporters {
    struct trim *trim;
    struct target_ctx *ctx;
    size_t n_ctx;
    size_t cap_ctx;
    struct reporter_result *results;
    size_t n_results;
    series_fn out;
    void *out_ctx;
    struct trim_stats last; /* trim's totals at the end of the last
                               collection: stats are reported per cycle */
    bool out_failed;
    /* A dead endpoint is logged when it starts failing and when it is back,
     * not every cycle (the agent counts every failure). */
    struct errstate *failing;
};

static int on_series(void *vr, const struct series *s)
{
    struct reporters *r = vr;
    if (r->out(r->out_ctx, s) < 0) {
        r->out_failed = true;
        return -1;
    }
    return 0;
}

/* The first label value cut to max_label_bytes of a target is logged
 * (lagwatch(8), FAULTS), the rest only counted. */
static void log_truncated(struct target_ctx *tc, const struct sample *s)
{
    if (tc->trunc_logged && strcmp(tc->trunc_logged, tc->res->url) == 0)
        return;
    free(tc->trunc_logged);
    tc->trunc_logged = xstrdup(tc->res->url);
    log_warn("scraped '%s': a label value of %.*s over trim.max_label_bytes, "
             "cut and ended in a hash (further ones are only counted in "
             "lagwatch_labels_truncated_total)",
             tc->res->url, (int)(s->name_len < 256 ? s->name_len : 256),
             s->name);
}

static int on_sample(void *vt, const struct sample *s)
{
    struct target_ctx *tc = vt;
    uint64_t cut = trim_labels_truncated(tc->r->trim);
    /* The parser names each label-name sequence, so trim can skip
     * re-checking names it already planned for. */
    int rc = trim_sample_staged(tc->r->trim, tc->stage, s, tc->pp,
                                promparse_label_shape(tc->pp), tc->extra, 1,
                                tc->ts_ms);
    if (trim_labels_truncated(tc->r->trim) != cut)
        log_truncated(tc, s);
    return rc;
}

static int on_data(void *vt, const char *data, size_t len)
{
    struct target_ctx *tc = vt;
    if (promparse_feed(tc->pp, data, len) < 0) {
        tc->aborted = true;
        return -1;
    }
    return 0;
}

static void on_done(void *vt, const struct scrape_result *sr)
{
    struct target_ctx *tc = vt;
    struct reporter_result *res = tc->res;
    if (sr->ok && !tc->aborted && promparse_finish(tc->pp) < 0)
        tc->aborted = true;
    struct promparse_stats ps;
    promparse_get_stats(tc->pp, &ps);
    res->samples = ps.samples;
    res->parse_errors = ps.errors;
    res->duration_s = sr->duration_s;
    res->bytes = sr->bytes;
    res->ok = sr->ok && !tc->aborted;
    /* All or nothing, as Prometheus treats a scrape: a target that failed
     * half way (cut body, timeout, size cap) contributes no series, and no
     * subtask to a fold (lagwatch(8), FAULTS). */
    if (res->ok) {
        if (trim_stage_commit(tc->r->trim, tc->stage) < 0)
            tc->r->out_failed = true;
        res->discarded = 0;
    } else {
        res->discarded = trim_stage_discard(tc->r->trim, tc->stage);
    }
    if (!sr->ok)
        snprintf(res->error, sizeof(res->error), "%s", sr->error);
    else if (tc->aborted)
        snprintf(res->error, sizeof(res->error), "output aborted");
    else
        res->error[0] = '\0';
    if (res->ok && ps.errors > 0)
        log_warn("scraped '%s' with %llu malformed lines skipped", res->url,
                 (unsigned long long)ps.errors);
}

struct reporters *reporters_new(const struct cfg_trim *trim, series_fn out,
                                void *ctx, char *err, size_t errlen)
{
    struct reporters *r = xcalloc(1, sizeof(*r));
    r->out = out;
    r->out_ctx = ctx;
    r->trim = trim_new(trim, on_series, r, err, errlen);
    if (!r->trim) {
        free(r);
        return NULL;
    }
    r->failing = errstate_new("reporter endpoint");
    return r;
}

void reporters_free(struct reporters **rp)
{
    struct reporters *r = *rp;
    if (!r)
        return;
    for (size_t i = 0; i < r->cap_ctx; i++) {
        promparse_free(&r->ctx[i].pp);
        trim_stage_free(&r->ctx[i].stage);
        free(r->ctx[i].trunc_logged);
    }
    free(r->ctx);
    free(r->results);
    trim_free(&r->trim);
    errstate_free(&r->failing);
    free(r);
    *rp = NULL;
}

int reporters_collect(struct reporters *r, struct scraper *sc,
                      const struct reporter_target *targets, size_t n,
                      int64_t ts_ms, struct reporters_stats *st)
{
    int rc = -1;
    struct scrape_target *st_targets = NULL;
    memset(st, 0, sizeof(*st));
    r->out_failed = false;

    if (n > r->cap_ctx) {
        r->ctx = xrealloc(r->ctx, n * sizeof(*r->ctx));
        memset(r->ctx + r->cap_ctx, 0, (n - r->cap_ctx) * sizeof(*r->ctx));
        r->cap_ctx = n;
    }
    free(r->results);
    r->results = xcalloc(n ? n : 1, sizeof(*r->results));
    r->n_results = n;
    st_targets = xcalloc(n ? n : 1, sizeof(*st_targets));

    for (size_t i = 0; i < n; i++) {
        struct target_ctx *tc = &r->ctx[i];
        tc->r = r;
        tc->ts_ms = ts_ms;
        tc->aborted = false;
        tc->res = &r->results[i];
        tc->res->url = targets[i].url;
        if (!tc->stage)
            tc->stage = trim_stage_new();
        tc->extra[0].name = "flink_cluster";
        tc->extra[0].name_len = (uint32_t)strlen("flink_cluster");
        tc->extra[0].value = targets[i].cluster;
        tc->extra[0].value_len = (uint32_t)strlen(targets[i].cluster);
        if (!tc->pp) {
            struct promparse_opts po = {
                .target = targets[i].url,
                .max_line = 65536,
                .max_labels = 128,
                .max_logged_errors = 10,
            };
            tc->pp = promparse_new(&po, on_sample, tc);
        } else {
            promparse_reset(tc->pp, targets[i].url);
        }
        st_targets[i] = (struct scrape_target){
            .url = targets[i].url,
            .accept = "text/plain;version=0.0.4;q=1,*/*;q=0.1",
            .on_data = on_data,
            .on_done = on_done,
            .user = tc,
        };
    }

    if (scraper_run(sc, st_targets, n) < 0) {
        log_error("cannot run scraper over %zu reporter endpoints", n);
        goto out;
    }
    if (trim_flush(r->trim) < 0)
        r->out_failed = true;

    st->targets = n;
    for (size_t i = 0; i < n; i++) {
        const struct reporter_result *res = &r->results[i];
        if (res->ok) {
            errstate_ok(r->failing, res->url);
        } else {
            errstate_fail(r->failing, LOG_LVL_ERROR, res->url,
                          "cannot scrape '%s': %s", res->url, res->error);
            st->targets_failed++;
        }
        st->samples += res->samples;
        st->parse_errors += res->parse_errors;
        st->bytes += res->bytes;
        st->dropped_scrape_failed += res->discarded;
    }
    struct trim_stats ts;
    trim_get_stats(r->trim, &ts);
    st->series_out = ts.series_out - r->last.series_out;
    st->dropped = (ts.dropped_relabel - r->last.dropped_relabel) +
                  (ts.dropped_invalid - r->last.dropped_invalid) +
                  (ts.dropped_over_cap - r->last.dropped_over_cap);
    st->folded_in = ts.folded_in - r->last.folded_in;
    st->labels_truncated = ts.labels_truncated - r->last.labels_truncated;
    r->last = ts;
    errstate_settle(r->failing);
    rc = (st->targets_failed || r->out_failed) ? -1 : 0;
out:
    free(st_targets);
    return rc;
}

const struct reporter_result *reporters_results(const struct reporters *r,
                                                size_t *n)
{
    *n = r->n_results;
    return r->results;
}
