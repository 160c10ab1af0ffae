#include "kafka/lag_report.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hashring/hashring.h"
#include "util/jsonw.h"
#include "util/xalloc.h"

/* ================ JSON ================ */

static void json_part(struct buf *b, const struct kafka_lag_part *p)
{
    buf_addf(b,
             "{\"partition\":%" PRId32 ",\"committed\":%" PRId64
             ",\"end\":%" PRId64 ",\"lag\":%" PRId64 ",\"lag_seconds\":",
             p->partition, p->committed, p->end, p->lag);
    /* An unread timestamp is unknown, not 0: 0 would claim caught up. */
    bool unknown = p->lag > 0 && !p->has_ts;
    if (unknown)
        buf_adds(b, "null,\"ts_unknown\":true");
    else
        jsonw_seconds(b, p->lag_seconds);
    buf_addf(b, ",\"has_commit\":%s", p->has_commit ? "true" : "false");
    if (p->data_loss)
        buf_addf(b, ",\"data_loss\":true,\"lost_records\":%" PRId64,
                 p->lost_records);
    if (p->has_ts)
        buf_addf(b, ",\"first_unconsumed_ts_ms\":%" PRId64,
                 p->first_unconsumed_ts_ms);
    buf_addc(b, '}');
}

/* Catch-up (lagwatch(8), /api/v1/lag): "gaining" with the seconds left,
 * "never" (+Inf: JSON has no infinity, so catch_up_s is null) or
 * "unknown" (before two sweeps, after a reset: everything null). */
static void json_catch_up(struct buf *b, const struct kafka_lag_topic *t)
{
    buf_adds(b, ",\"catch_up\":");
    jsonw_cstr(b, kafka_catch_up_name(t->catch_up));
    buf_adds(b, ",\"catch_up_s\":");
    if (t->catch_up == KAFKA_CATCH_UP_GAINING)
        jsonw_seconds(b, t->catch_up_s);
    else
        buf_adds(b, "null");
    if (t->catch_up == KAFKA_CATCH_UP_UNKNOWN)
        buf_adds(b, ",\"produce_rate\":null,\"consume_rate\":null");
    else
        buf_addf(b, ",\"produce_rate\":%.3f,\"consume_rate\":%.3f",
                 t->produce_rate, t->consume_rate);
}

static void json_topic(struct buf *b, const struct kafka_lag_topic *t)
{
    buf_adds(b, "{\"topic\":");
    jsonw_cstr(b, t->topic);
    buf_adds(b, ",\"ts_type\":");
    jsonw_cstr(b, t->ts_type ? t->ts_type : "unknown");
    buf_addf(b, ",\"max_lag\":%" PRId64 ",\"max_lag_seconds\":", t->max_lag);
    jsonw_seconds(b, t->max_lag_seconds);
    buf_addf(b,
             ",\"slowest_partition\":%" PRId32 ",\"sum_lag\":%" PRId64
             ",\"consumed_through_ms\":%" PRId64,
             t->slowest_partition, t->sum_lag, t->consumed_through_ms);
    json_catch_up(b, t);
    buf_addf(b, ",\"partition_count\":%zu", t->partitions);
    if (t->ts_unknown_parts)
        buf_addf(b, ",\"ts_unknown_partitions\":%zu", t->ts_unknown_parts);
    if (t->data_loss_parts)
        buf_addf(b, ",\"data_loss_partitions\":%zu", t->data_loss_parts);
    buf_adds(b, ",\"partitions\":[");
    for (size_t i = 0; i < t->n_parts; i++) {
        if (i > 0)
            buf_addc(b, ',');
        json_part(b, &t->parts[i]);
    }
    buf_adds(b, "]}");
}

static void json_cluster(struct buf *b, const struct kafka_lag_cluster *c)
{
    buf_adds(b, "{\"name\":");
    jsonw_cstr(b, c->name ? c->name : "");
    buf_addf(b, ",\"stale\":%s", c->stale ? "true" : "false");
    if (c->error) {
        buf_adds(b, ",\"error\":");
        jsonw_cstr(b, c->error);
    }
    buf_addf(b, ",\"swept_at_ms\":%" PRId64 ",\"groups\":[", c->swept_at_ms);
    for (size_t g = 0; g < c->n_groups; g++) {
        const struct kafka_lag_group *kg = &c->groups[g];
        if (g > 0)
            buf_addc(b, ',');
        buf_adds(b, "{\"group\":");
        jsonw_cstr(b, kg->group);
        if (kg->job) {
            buf_adds(b, ",\"job\":");
            jsonw_cstr(b, kg->job);
        }
        buf_adds(b, ",\"topics\":[");
        for (size_t t = 0; t < kg->n_topics; t++) {
            if (t > 0)
                buf_addc(b, ',');
            json_topic(b, &kg->topics[t]);
        }
        buf_adds(b, "]}");
    }
    buf_adds(b, "]}");
}

int lag_report_json(struct buf *out,
                    const struct kafka_lag_cluster *const *clusters, size_t n)
{
    buf_adds(out, "{\"clusters\":[");
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            buf_addc(out, ',');
        json_cluster(out, clusters[i]);
    }
    buf_adds(out, "]}");
    return buf_error(out) ? -1 : 0;
}

/* ================ table ================ */

/* A copy of s safe for a terminal: control characters become '?'. */
static char *printable(const char *s)
{
    char *d = xstrdup(s);
    for (char *p = d; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f)
            *p = '?';
    }
    return d;
}

static int width_of(const char *s, int min)
{
    size_t n = strlen(s);
    int w = n > 200 ? 200 : (int)n;
    return w > min ? w : min;
}

int lag_report_table(FILE *f, const struct kafka_lag_cluster *c)
{
    int gw = 5, tw = 5;
    for (size_t g = 0; g < c->n_groups; g++) {
        gw = width_of(c->groups[g].group, gw);
        for (size_t t = 0; t < c->groups[g].n_topics; t++)
            tw = width_of(c->groups[g].topics[t].topic, tw);
    }
    bool ok = true;
    if (c->stale) {
        char *e = printable(c->error ? c->error : "unknown error");
        ok = fprintf(f, "# stale result: %s\n", e) >= 0;
        free(e);
    }
    ok = ok && fprintf(f, "%-*s %-*s %9s %12s %12s %10s %11s\n", gw, "GROUP",
                       tw, "TOPIC", "PARTITION", "COMMITTED", "END", "LAG",
                       "LAG_SECONDS") >= 0;
    for (size_t g = 0; ok && g < c->n_groups; g++) {
        const struct kafka_lag_group *kg = &c->groups[g];
        char *group = printable(kg->group);
        for (size_t t = 0; ok && t < kg->n_topics; t++) {
            const struct kafka_lag_topic *kt = &kg->topics[t];
            char *topic = printable(kt->topic);
            for (size_t p = 0; ok && p < kt->n_parts; p++) {
                const struct kafka_lag_part *kp = &kt->parts[p];
                char secs[32];
                if (kp->lag > 0 && !kp->has_ts)
                    snprintf(secs, sizeof(secs), "unknown");
                else
                    snprintf(secs, sizeof(secs), "%.3f", kp->lag_seconds);
                ok = fprintf(f,
                             "%-*s %-*s %9" PRId32 " %12" PRId64 " %12" PRId64
                             " %10" PRId64 " %11s%s\n",
                             gw, group, tw, topic, kp->partition, kp->committed,
                             kp->end, kp->lag, secs,
                             kp->data_loss ? " DATA LOSS" : "") >= 0;
            }
            ok = ok && fprintf(f,
                               "# %s %s: slowest partition %" PRId32
                               " (%.3f s behind), max lag %" PRId64
                               ", sum lag %" PRId64 ", %zu partitions, %s\n",
                               group, topic, kt->slowest_partition,
                               kt->max_lag_seconds, kt->max_lag, kt->sum_lag,
                               kt->partitions,
                               kt->ts_type ? kt->ts_type : "unknown") >= 0;
            if (ok && kt->catch_up == KAFKA_CATCH_UP_GAINING)
                ok = fprintf(f,
                             "# %s %s: catch-up %.1f s (produce %.1f/s, "
                             "consume %.1f/s)\n",
                             group, topic, kt->catch_up_s, kt->produce_rate,
                             kt->consume_rate) >= 0;
            else if (ok && kt->catch_up == KAFKA_CATCH_UP_NEVER)
                ok = fprintf(f,
                             "# %s %s: catch-up never, not gaining (produce "
                             "%.1f/s, consume %.1f/s)\n",
                             group, topic, kt->produce_rate,
                             kt->consume_rate) >= 0;
            else if (ok)
                ok = fprintf(f,
                             "# %s %s: catch-up unknown (needs two sweeps: "
                             "--interval)\n",
                             group, topic) >= 0;
            if (ok && (kt->ts_unknown_parts || kt->data_loss_parts))
                ok = fprintf(f,
                             "# %s %s: %zu partitions of unknown time lag, "
                             "%zu with data loss (committed offset below "
                             "the log start)\n",
                             group, topic, kt->ts_unknown_parts,
                             kt->data_loss_parts) >= 0;
            free(topic);
        }
        free(group);
    }
    return ok ? 0 : -1;
}

/* ================ points ================ */

int lag_report_points(const struct kafka_lag_cluster *c, point_fn fn, void *ctx)
{
    if (c->stale)
        return 0;
    int rc = 0;
    for (size_t g = 0; rc == 0 && g < c->n_groups; g++) {
        const struct kafka_lag_group *kg = &c->groups[g];
        char *job = NULL;
        size_t job_len = 0;
        if (kg->job) {
            size_t n = strlen(kg->job);
            job = xcheck(hashring_normalize_dup(kg->job, n, &job_len), n + 1);
        }
        for (size_t t = 0; rc == 0 && t < kg->n_topics; t++) {
            const struct kafka_lag_topic *kt = &kg->topics[t];
            /* Sorted by key, as influxd prefers. */
            struct label tags[4];
            size_t nt = 0;
            tags[nt++] = (struct label){"group", kg->group, 5,
                                        (uint32_t)strlen(kg->group)};
            if (job && job_len > 0)
                tags[nt++] =
                    (struct label){"job_name", job, 8, (uint32_t)job_len};
            tags[nt++] = (struct label){"kafka_cluster", c->name, 13,
                                        (uint32_t)strlen(c->name)};
            tags[nt++] = (struct label){"topic", kt->topic, 5,
                                        (uint32_t)strlen(kt->topic)};
            /* Sorted by key. The catch-up fields only when known, and
             * catch_up_s only while gaining: line protocol has no +Inf
             * (lagwatch(8), kafka_consumergroup_lag). */
            bool known = kt->catch_up != KAFKA_CATCH_UP_UNKNOWN;
            struct field fields[9];
            size_t nf = 0;
            if (kt->catch_up == KAFKA_CATCH_UP_GAINING)
                fields[nf++] = (struct field){.key = "catch_up_s",
                                              .kind = FIELD_FLOAT,
                                              .f = kt->catch_up_s};
            if (known)
                fields[nf++] = (struct field){.key = "consume_rate",
                                              .kind = FIELD_FLOAT,
                                              .f = kt->consume_rate};
            fields[nf++] = (struct field){.key = "consumed_through_ms",
                                          .kind = FIELD_INT,
                                          .i = kt->consumed_through_ms};
            fields[nf++] = (struct field){
                .key = "max_lag", .kind = FIELD_INT, .i = kt->max_lag};
            fields[nf++] = (struct field){.key = "max_lag_seconds",
                                          .kind = FIELD_FLOAT,
                                          .f = kt->max_lag_seconds};
            fields[nf++] = (struct field){.key = "partitions",
                                          .kind = FIELD_INT,
                                          .i = (int64_t)kt->partitions};
            if (known)
                fields[nf++] = (struct field){.key = "produce_rate",
                                              .kind = FIELD_FLOAT,
                                              .f = kt->produce_rate};
            fields[nf++] = (struct field){.key = "slowest_partition",
                                          .kind = FIELD_INT,
                                          .i = kt->slowest_partition};
            fields[nf++] = (struct field){
                .key = "sum_lag", .kind = FIELD_INT, .i = kt->sum_lag};
            struct point pt = {
                .measurement = LAG_REPORT_MEASUREMENT,
                .tags = tags,
                .ntags = nt,
                .fields = fields,
                .nfields = nf,
                .ts_ms = c->swept_at_ms,
            };
            rc = fn(ctx, &pt);
        }
        free(job);
    }
    return rc;
}
