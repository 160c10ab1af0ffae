/* A kafka_lag (kafka_lag.h): its construction, the sweep driver and the
 * assembly of the result; the stages are in kafka_offsets.c and
 * kafka_tsread.c, sharing struct sweep through kafka_sweep.h. */
#include "kafka/kafka_lag.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka/kafka_sweep.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/regex.h"
#include "util/xalloc.h"

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

/* ================ construction ================ */

/* Compiles an optional selection pattern (NULL: not set) through the one
 * compile path, util/regex.h; -1 with err naming the key and pattern. */
static int compile_opt(const char *cluster, const char *key, const char *re,
                       pcre2_code **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!re)
        return 0;
    char why[300];
    *out = regex_compile(re, why, sizeof(why));
    if (!*out) {
        snprintf(err, errlen, "kafka cluster '%s': bad %s '%s': %s", cluster,
                 key, re, why);
        return -1;
    }
    return 0;
}

static bool re_matches(const pcre2_code *re, const char *s)
{
    pcre2_match_data *md = pcre2_match_data_create_from_pattern(re, NULL);
    int rc = pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0;
}

static void log_cb(const rd_kafka_t *rk, int level, const char *fac,
                   const char *msg)
{
    (void)rk;
    /* Connection failures (FAIL) repeat while a broker is down and the
     * sweep reports its own failure once; they stay at debug level. */
    if (level <= 2)
        log_error("librdkafka %s: %s", fac, msg);
    else if (level <= 4 && strcmp(fac, "FAIL") != 0)
        log_warn("librdkafka %s: %s", fac, msg);
    else
        log_debug("librdkafka %s: %s", fac, msg);
}

static void error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    (void)rk;
    (void)opaque;
    /* Connection errors repeat for as long as a broker is down; the sweep
     * reports its own failure once, so these stay at debug level. */
    log_debug("librdkafka error %s: %s", rd_kafka_err2name(err), reason);
}

int kafka_lag_conf_set(rd_kafka_conf_t *conf, const char *k, const char *v,
                       char *err, size_t errlen)
{
    char errstr[256];
    if (rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr)) ==
        RD_KAFKA_CONF_OK)
        return 0;
    snprintf(err, errlen, "cannot set Kafka property '%s': %s", k, errstr);
    return -1;
}

/* The client configuration every handle of this cluster shares: the
 * brokers, then the user's properties (which may override anything, e.g.
 * security.protocol, sasl.*, ssl.*). */
rd_kafka_conf_t *kafka_lag_conf_build(const struct kafka_lag *kl, char *err,
                                      size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    if (kafka_lag_conf_set(conf, "bootstrap.servers", kl->bootstrap, err,
                           errlen) != 0 ||
        kafka_lag_conf_set(conf, "client.id", "lagwatch", err, errlen) != 0)
        goto fail;
    for (size_t i = 0; i < kl->n_props; i++) {
        if (kafka_lag_conf_set(conf, kl->props[i].key, kl->props[i].value, err,
                               errlen) != 0)
            goto fail;
    }
    return conf;
fail:
    rd_kafka_conf_destroy(conf);
    return NULL;
}

struct kafka_lag *kafka_lag_new(const struct cfg_kafka *cfg, char *err,
                                size_t errlen)
{
    struct kafka_lag *kl = xcalloc(1, sizeof(*kl));
    struct buf b = BUF_INIT;
    kl->name = xstrdup(cfg->name);
    kl->from_earliest = cfg->lag_from_earliest;
    kl->rate_window_ms = (int64_t)cfg->rate_window_ms;
    kl->rates = kafka_rates_table_new();
    kl->cache = kafka_tscache_new(KAFKA_LAG_CACHE_MAX);
    kl->reaper = kafka_reaper_new(cfg->name);
    if (cfg->n_brokers == 0) {
        snprintf(err, errlen, "kafka cluster '%s': no brokers", cfg->name);
        goto fail;
    }
    for (size_t i = 0; i < cfg->n_brokers; i++) {
        if (i > 0)
            buf_addc(&b, ',');
        buf_adds(&b, cfg->brokers[i]);
    }
    kl->bootstrap = buf_detach(&b, NULL);
    kl->n_props = cfg->n_properties;
    kl->props = kl->n_props ? xcalloc(kl->n_props, sizeof(*kl->props)) : NULL;
    for (size_t i = 0; i < kl->n_props; i++) {
        kl->props[i].key = xstrdup(cfg->properties[i].key);
        kl->props[i].value = xstrdup(cfg->properties[i].value);
    }
    kl->n_groups = cfg->n_groups;
    kl->groups =
        kl->n_groups ? xcalloc(kl->n_groups, sizeof(*kl->groups)) : NULL;
    kl->re = kl->n_groups ? xcalloc(kl->n_groups, sizeof(*kl->re)) : NULL;
    kl->re_exclude =
        kl->n_groups ? xcalloc(kl->n_groups, sizeof(*kl->re_exclude)) : NULL;
    if (compile_opt(cfg->name, "exclude_groups", cfg->exclude_groups,
                    &kl->re_exclude_groups, err, errlen) != 0 ||
        compile_opt(cfg->name, "topics", cfg->topics, &kl->re_topics, err,
                    errlen) != 0 ||
        compile_opt(cfg->name, "exclude_topics", cfg->exclude_topics,
                    &kl->re_exclude_topics, err, errlen) != 0)
        goto fail;
    for (size_t i = 0; i < kl->n_groups; i++) {
        const struct cfg_kafka_group *g = &cfg->groups[i];
        kl->groups[i].name = dup_or_null(g->name);
        kl->groups[i].pattern = dup_or_null(g->pattern);
        kl->groups[i].job = dup_or_null(g->job);
        if (!g->pattern)
            continue;
        if (compile_opt(cfg->name, "group exclude", g->exclude,
                        &kl->re_exclude[i], err, errlen) != 0)
            goto fail;
        char why[300];
        kl->re[i] = regex_compile(g->pattern, why, sizeof(why));
        if (!kl->re[i]) {
            snprintf(err, errlen,
                     "kafka cluster '%s': bad group pattern '%s': %s",
                     cfg->name, g->pattern, why);
            goto fail;
        }
        kl->has_patterns = true;
    }
    rd_kafka_conf_t *conf = kafka_lag_conf_build(kl, err, errlen);
    if (!conf)
        goto fail;
    char errstr[512];
    kl->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!kl->rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "kafka cluster '%s': cannot create client: %s",
                 cfg->name, errstr);
        goto fail;
    }
    kl->q = rd_kafka_queue_new(kl->rk);
    return kl;
fail:
    buf_release(&b);
    kafka_lag_free(&kl);
    return NULL;
}

void kafka_lag_known_clear(struct kafka_lag *kl)
{
    for (size_t i = 0; i < kl->n_known; i++) {
        free(kl->known[i].group);
        free(kl->known[i].topics);
    }
    free(kl->known);
    kl->known = NULL;
    kl->n_known = kl->cap_known = 0;
}

void kafka_lag_free(struct kafka_lag **klp)
{
    struct kafka_lag *kl = *klp;
    if (!kl)
        return;
    kafka_reaper_free(&kl->reaper);
    if (kl->q)
        rd_kafka_queue_destroy(kl->q);
    if (kl->rk)
        rd_kafka_destroy(kl->rk);
    for (size_t i = 0; i < kl->n_groups; i++) {
        free(kl->groups[i].name);
        free(kl->groups[i].pattern);
        free(kl->groups[i].job);
        pcre2_code_free(kl->re[i]);
        if (kl->re_exclude)
            pcre2_code_free(kl->re_exclude[i]);
    }
    free(kl->groups);
    free(kl->re);
    free(kl->re_exclude);
    pcre2_code_free(kl->re_exclude_groups);
    pcre2_code_free(kl->re_topics);
    pcre2_code_free(kl->re_exclude_topics);
    for (size_t i = 0; i < kl->n_props; i++) {
        free(kl->props[i].key);
        free(kl->props[i].value);
    }
    free(kl->props);
    free(kl->bootstrap);
    free(kl->name);
    kafka_lag_cluster_free(&kl->last);
    kafka_lag_known_clear(kl);
    kafka_rates_table_free(&kl->rates);
    kafka_tscache_free(&kl->cache);
    free(kl);
    *klp = NULL;
}

const struct kafka_lag_stats *kafka_lag_stats(const struct kafka_lag *kl)
{
    return &kl->st;
}

int kafka_lag_match_group(const struct kafka_lag *kl, const char *group)
{
    pcre2_match_data *md = NULL;
    int found = -1;
    for (size_t i = 0; i < kl->n_groups && found < 0; i++) {
        if (kl->groups[i].name) {
            if (strcmp(kl->groups[i].name, group) == 0)
                found = (int)i;
            continue;
        }
        if (!md)
            md = pcre2_match_data_create_from_pattern(kl->re[i], NULL);
        int rc = pcre2_match(kl->re[i], (PCRE2_SPTR)group, strlen(group), 0, 0,
                             md, NULL);
        /* groups[].exclude takes the group back from this pattern only
         * (a later entry may still take it); exclude_groups from all. */
        if (rc >= 0 &&
            !(kl->re_exclude[i] && re_matches(kl->re_exclude[i], group)))
            found = (int)i;
    }
    pcre2_match_data_free(md);
    if (found >= 0 && !kl->groups[found].name && kl->re_exclude_groups &&
        re_matches(kl->re_exclude_groups, group))
        found = -1;
    return found;
}

bool kafka_lag_topic_selected(const struct kafka_lag *kl, const char *topic)
{
    if (kl->re_topics && !re_matches(kl->re_topics, topic))
        return false;
    return !(kl->re_exclude_topics && re_matches(kl->re_exclude_topics, topic));
}

/* ================ assembly ================ */

static const char *tstype_name(int tstype)
{
    switch (tstype) {
    case RD_KAFKA_TIMESTAMP_CREATE_TIME:
        return "CreateTime";
    case RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME:
        return "LogAppendTime";
    default:
        return "unknown";
    }
}

static void fill_part(struct sweep *sw, struct kafka_lag_topic *t,
                      struct kafka_lag_part *kp, size_t md, int64_t off,
                      int64_t now)
{
    struct kafka_lag *kl = sw->kl;
    const struct md_part *p = &sw->parts[md];
    kp->partition = p->partition;
    kp->earliest = p->earliest;
    int64_t rd = kafka_lag_part_offsets(kp, off, p->earliest, p->end);
    kp->first_unconsumed_ts_ms = now;
    kp->has_ts = true;
    if (kp->lag == 0)
        return;
    if (rd >= p->end)
        return; /* every record left to consume was deleted */
    int64_t ts;
    int tstype;
    long ni = sweep_need_find(sw, md, rd);
    if (ni >= 0) {
        const struct ts_need *n = &sw->needs[ni];
        if (n->eof)
            return; /* nothing left to read: caught up in time */
        if (!n->found) {
            kp->has_ts = false;
            return;
        }
        ts = n->ts_ms;
        tstype = n->tstype;
    } else {
        if (kafka_tscache_get(kl->cache, p->topic_id, p->partition, rd, &ts,
                              &tstype) != 0) {
            kp->has_ts = false;
            return;
        }
    }
    kp->first_unconsumed_ts_ms = ts;
    if (strcmp(t->ts_type, "unknown") == 0)
        t->ts_type = tstype_name(tstype);
}

static void build_topic(struct sweep *sw, const struct sel_group *sg, size_t *k,
                        size_t first, size_t last, struct kafka_lag_topic *t,
                        int64_t now)
{
    struct kafka_lag *kl = sw->kl;
    t->topic = xstrdup(sw->parts[first].topic);
    t->ts_type = "unknown";
    t->parts = xcalloc(last - first, sizeof(*t->parts));
    for (size_t i = first; i < last; i++) {
        bool has_commit;
        int64_t off = sweep_start_offset(sw, sg, k, i, &has_commit);
        if (off < 0) {
            kl->st.no_commit_skipped++;
            continue;
        }
        struct kafka_lag_part *kp = &t->parts[t->n_parts++];
        fill_part(sw, t, kp, i, off, now);
        kp->has_commit = has_commit;
    }
    kafka_lag_topic_finish(t, now, &kl->st.negative_age_clamped);
    kafka_lag_topic_hold(t, sg->name, kl->last);
}

static struct kafka_lag_cluster *assemble(struct sweep *sw, int64_t now)
{
    struct kafka_lag *kl = sw->kl;
    struct kafka_lag_cluster *c = xcalloc(1, sizeof(*c));
    c->name = xstrdup(kl->name);
    c->swept_at_ms = now;
    kl->st.last_data_loss = kl->st.last_ts_unknown = 0;
    c->n_groups = sw->n_groups;
    c->groups = sw->n_groups ? xcalloc(sw->n_groups, sizeof(*c->groups)) : NULL;
    for (size_t g = 0; g < sw->n_groups; g++) {
        const struct sel_group *sg = &sw->groups[g];
        struct kafka_lag_group *kg = &c->groups[g];
        size_t cap = 0;
        kg->group = xstrdup(sg->name);
        kg->job = dup_or_null(kl->groups[sg->entry].job);
        size_t k = 0;
        while (k < sg->n_commits) {
            const char *topic = sw->parts[sg->commits[k].md].topic;
            size_t first = sg->commits[k].md, last = first;
            while (first > 0 && sw->parts[first - 1].topic == topic)
                first--;
            while (last < sw->n_parts && sw->parts[last].topic == topic)
                last++;
            kg->topics =
                xgrow(kg->topics, &cap, kg->n_topics + 1, sizeof(*kg->topics));
            struct kafka_lag_topic *t = &kg->topics[kg->n_topics++];
            memset(t, 0, sizeof(*t));
            build_topic(sw, sg, &k, first, last, t, now);
            kl->st.last_data_loss += t->data_loss_parts;
            kl->st.last_ts_unknown += t->ts_unknown_parts;
        }
    }
    return c;
}

/* ================ the sweep ================ */

static void sweep_release(struct sweep *sw)
{
    if (sw->md)
        rd_kafka_metadata_destroy(sw->md);
    free(sw->parts);
    for (size_t i = 0; i < sw->n_groups; i++)
        free(sw->groups[i].commits);
    free(sw->groups);
    for (size_t i = 0; i < sw->n_listed; i++)
        free(sw->listed[i]);
    free(sw->listed);
    free(sw->needs);
    buf_release(&sw->err);
}

/* Milliseconds since *t, which moves to now. */
static int64_t step_ms(int64_t *t)
{
    int64_t now = (int64_t)clock_mono_ms();
    int64_t d = now - *t;
    *t = now;
    return d;
}

int kafka_lag_sweep(struct kafka_lag *kl, int timeout_ms,
                    struct kafka_lag_cluster **out)
{
    struct sweep sw;
    memset(&sw, 0, sizeof(sw));
    sw.kl = kl;
    buf_init(&sw.err, 4096);
    int64_t t0 = (int64_t)clock_mono_ms();
    sw.deadline = t0 + timeout_ms;
    int rc = -1;
    kl->st.sweeps++;
    rd_kafka_poll(kl->rk, 0);
    kl->st.last_groups_ms = kl->st.last_offset_fetch_ms = 0;
    kl->st.last_list_offsets_ms = kl->st.last_timestamps_ms = 0;
    kl->st.last_assemble_ms = 0;
    int64_t t = t0;
    if (sweep_load_metadata(&sw) != 0 || sweep_select_groups(&sw) != 0)
        goto out;
    kl->st.last_groups_ms = step_ms(&t);
    if (sweep_fetch_committed(&sw) != 0)
        goto out;
    kl->st.last_offset_fetch_ms = step_ms(&t);
    sweep_mark_wanted(&sw);
    if (sweep_list_offsets(&sw, false) != 0)
        goto out;
    sweep_mark_earliest(&sw);
    if (sweep_list_offsets(&sw, true) != 0)
        goto out;
    kl->st.last_list_offsets_ms = step_ms(&t);
    sweep_collect_needs(&sw);
    if (sweep_read_timestamps(&sw) != 0)
        goto out;
    kl->st.last_timestamps_ms = step_ms(&t);
    struct kafka_lag_cluster *c = assemble(&sw, clock_wall_ms());
    /* Catch-up from this and the earlier good sweeps of the window; a
     * failed sweep adds nothing (lagwatch-metrics(7)). */
    kafka_rates_table_update(kl->rates, c, kl->rate_window_ms);
    kl->st.last_assemble_ms = step_ms(&t);
    kafka_lag_cluster_free(&kl->last);
    kl->last = c;
    *out = kafka_lag_cluster_dup(c);
    rc = 0;
out:
    if (rc != 0) {
        kl->st.sweep_errors++;
        struct kafka_lag_cluster *sc = NULL;
        if (kl->last) {
            sc = kafka_lag_cluster_dup(kl->last);
        } else {
            sc = xcalloc(1, sizeof(*sc));
            sc->name = xstrdup(kl->name);
        }
        sc->stale = true;
        free(sc->error);
        struct buf e = BUF_INIT;
        buf_addf(&e, "kafka cluster '%s' (brokers '%s'): %s", kl->name,
                 kl->bootstrap, sw.err.len ? sw.err.data : "unknown error");
        sc->error = buf_detach(&e, NULL);
        *out = sc;
    }
    kl->st.cache_entries = kafka_tscache_entries(kl->cache);
    kl->st.last_sweep_ms = (int64_t)clock_mono_ms() - t0;
    sweep_release(&sw);
    return rc;
}
