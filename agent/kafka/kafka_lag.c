#include "kafka/kafka_lag.h"

#define PCRE2_CODE_UNIT_WIDTH 8

#include <assert.h>
#include <inttypes.h>
#include <pcre2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "util/buf.h"
#include "kafka/kafka_groups.h"
#include "kafka/kafka_reaper.h"
#include "kafka/kafka_tscache.h"
#include "util/log.h"
#include "util/regex.h"
#include "util/xalloc.h"

#define ADMIN_MAX_INFLIGHT     32
#define LIST_GROUPS_TIMEOUT_MS 5000
#define MIN_STEP_TIMEOUT_MS    100
#define READER_POLL_MS         50
/* Offsets read forward to the next group's committed offset before a seek
 * is cheaper: a fetch of a small batch costs about as much as a seek. */
#define READ_AHEAD_MAX 1000
/* Partitions per OffsetFetch on a group's first explicit sweep, when it is
 * asked for every partition of the cluster: librdkafka 2.0.2 handles an
 * OffsetFetch response in time quadratic in the request's partitions, so
 * smaller requests cost less in total (measured with bench/bench_lag:
 * 10,000 partitions x 50 groups, see the KAFKA LAG section of
 * lagwatch(8)). */
#define FIRST_CHUNK 250

/* Whether the cluster answers an OffsetFetch without a partition list
 * with every committed partition of the group (Kafka since 0.10.2 does;
 * librdkafka 2.0.2's mock cluster answers nothing). */
enum all_offsets {
    ALL_UNTRIED, /* no group with commits has shown it yet */
    ALL_WORKS,   /* one request per group; an empty answer is complete */
    ALL_EMPTY,   /* explicit partition lists only */
};

/* ================ sweep state ================ */

/* One partition of the cluster metadata. */
struct md_part {
    const char *topic; /* borrowed from the metadata */
    int32_t partition;
    int32_t leader;
    uint32_t topic_id;
    bool want_end, want_earliest;
    int64_t end, earliest;
    size_t need_lo, need_hi; /* range of sw->needs for this partition */
    long cursor;             /* next unresolved need while reading, or -1 */
};

struct commit {
    size_t md; /* index into md_part */
    int64_t offset;
};

struct sel_group {
    const char *name; /* borrowed from cfg or the listing copy */
    int entry;        /* configuration entry that selected it */
    struct commit *commits;
    size_t n_commits, cap_commits;
};

struct ts_need {
    size_t md;
    int64_t offset;
    bool done;
    bool found; /* a message was read */
    bool eof;   /* no message at or after offset: caught up in time */
    int64_t ts_ms;
    int8_t tstype;
};

/* What earlier sweeps learned about a group: the topics it has committed
 * on (queried in full every sweep) and where the probe of the other
 * partitions continues. */
struct known_group {
    char *group;
    uint32_t *topics; /* interned ids, sorted */
    size_t n_topics;
    size_t probe_next; /* index into the sweep's sorted partitions */
};

struct kafka_lag {
    char *name;
    char *bootstrap;
    struct cfg_kv *props;
    size_t n_props;
    bool from_earliest;
    struct cfg_kafka_group *groups;
    pcre2_code **re; /* per group entry, NULL for names */
    size_t n_groups;
    bool has_patterns;
    bool list_unsupported_logged;
    rd_kafka_t *rk;
    rd_kafka_queue_t *q;
    struct kafka_lag_stats st;
    struct kafka_lag_cluster *last; /* last good result */
    struct kafka_tscache *cache;
    uint64_t reader_seq;
    struct known_group *known; /* topics each group has committed on */
    size_t n_known, cap_known;
    enum all_offsets all_offsets;
    struct kafka_reaper *reaper; /* closes the last reader */
};

struct sweep {
    struct kafka_lag *kl;
    int64_t deadline; /* monotonic ms */
    const rd_kafka_metadata_t *md;
    struct md_part *parts;
    size_t n_parts;
    struct sel_group *groups;
    size_t n_groups;
    char **listed; /* owned copies of group ids from ListGroups */
    size_t n_listed;
    struct ts_need *needs;
    size_t n_needs;
    struct buf err;
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining_ms(const struct sweep *sw)
{
    int64_t left = sw->deadline - mono_ms();
    if (left < MIN_STEP_TIMEOUT_MS)
        left = MIN_STEP_TIMEOUT_MS;
    if (left > 3600000)
        left = 3600000;
    return (int)left;
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

/* ================ construction ================ */

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

static int conf_set(rd_kafka_conf_t *conf, const char *k, const char *v,
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
static rd_kafka_conf_t *conf_build(const struct kafka_lag *kl, char *err,
                                   size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    rd_kafka_conf_set_log_cb(conf, log_cb);
    rd_kafka_conf_set_error_cb(conf, error_cb);
    if (conf_set(conf, "bootstrap.servers", kl->bootstrap, err, errlen) != 0 ||
        conf_set(conf, "client.id", "lagwatch", err, errlen) != 0)
        goto fail;
    for (size_t i = 0; i < kl->n_props; i++) {
        if (conf_set(conf, kl->props[i].key, kl->props[i].value, err, errlen) !=
            0)
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
    for (size_t i = 0; i < kl->n_groups; i++) {
        const struct cfg_kafka_group *g = &cfg->groups[i];
        kl->groups[i].name = dup_or_null(g->name);
        kl->groups[i].pattern = dup_or_null(g->pattern);
        kl->groups[i].job = dup_or_null(g->job);
        if (!g->pattern)
            continue;
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
    rd_kafka_conf_t *conf = conf_build(kl, err, errlen);
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

static void known_clear(struct kafka_lag *kl)
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
    }
    free(kl->groups);
    free(kl->re);
    for (size_t i = 0; i < kl->n_props; i++) {
        free(kl->props[i].key);
        free(kl->props[i].value);
    }
    free(kl->props);
    free(kl->bootstrap);
    free(kl->name);
    kafka_lag_cluster_free(&kl->last);
    known_clear(kl);
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
        if (rc >= 0)
            found = (int)i;
    }
    pcre2_match_data_free(md);
    return found;
}

/* ================ step 1: groups ================ */

static bool sel_has(const struct sweep *sw, const char *name)
{
    for (size_t i = 0; i < sw->n_groups; i++) {
        if (strcmp(sw->groups[i].name, name) == 0)
            return true;
    }
    return false;
}

static void sel_add(struct sweep *sw, size_t *cap, const char *name, int entry)
{
    sw->groups = xgrow(sw->groups, cap, sw->n_groups + 1, sizeof(*sw->groups));
    struct sel_group *g = &sw->groups[sw->n_groups++];
    memset(g, 0, sizeof(*g));
    g->name = name;
    g->entry = entry;
}

/* Lists the cluster's groups (kafka_groups): 0 with the ids in
 * sw->listed, 1 when the cluster does not support listing, -1 on other
 * errors. */
static int list_groups(struct sweep *sw)
{
    struct kafka_lag *kl = sw->kl;
    char err[1024];
    rd_kafka_conf_t *conf = conf_build(kl, err, sizeof(err));
    if (!conf) {
        buf_addf(&sw->err, "%s", err);
        return -1;
    }
    int tmo = remaining_ms(sw);
    if (tmo > LIST_GROUPS_TIMEOUT_MS)
        tmo = LIST_GROUPS_TIMEOUT_MS;
    kl->st.req_list_groups++;
    int rc = kafka_groups_list(conf, kl->name, tmo, KAFKA_LAG_MAX_GROUPS,
                               &sw->listed, &sw->n_listed, err, sizeof(err));
    if (rc < 0)
        buf_addf(&sw->err, "%s", err);
    return rc;
}

static int select_groups(struct sweep *sw)
{
    struct kafka_lag *kl = sw->kl;
    size_t cap = 0;
    bool listed = false;
    if (kl->has_patterns) {
        int rc = list_groups(sw);
        if (rc < 0)
            return -1;
        if (rc == 1 && !kl->list_unsupported_logged) {
            log_warn("kafka cluster '%s' does not support listing consumer "
                     "groups: groups configured by pattern cannot be listed "
                     "on this cluster and are skipped",
                     kl->name);
            kl->list_unsupported_logged = true;
        }
        listed = rc == 0;
    }
    for (size_t i = 0; i < kl->n_groups; i++) {
        if (kl->groups[i].name) {
            if (!sel_has(sw, kl->groups[i].name))
                sel_add(sw, &cap, kl->groups[i].name, (int)i);
            continue;
        }
        if (!listed)
            continue;
        for (size_t j = 0; j < sw->n_listed; j++) {
            /* The first matching entry decides (and its job applies). */
            if (kafka_lag_match_group(kl, sw->listed[j]) == (int)i &&
                !sel_has(sw, sw->listed[j]))
                sel_add(sw, &cap, sw->listed[j], (int)i);
        }
    }
    return 0;
}

/* ================ step 2: metadata and committed offsets ================ */

static int cmp_md_part(const void *a, const void *b)
{
    const struct md_part *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    if (c)
        return c;
    return (x->partition > y->partition) - (x->partition < y->partition);
}

static long md_find(const struct sweep *sw, const char *topic,
                    int32_t partition)
{
    if (!sw->n_parts)
        return -1;
    struct md_part key = {.topic = topic, .partition = partition};
    const struct md_part *p =
        bsearch(&key, sw->parts, sw->n_parts, sizeof(*sw->parts), cmp_md_part);
    return p ? (long)(p - sw->parts) : -1;
}

static int load_metadata(struct sweep *sw)
{
    struct kafka_lag *kl = sw->kl;
    kl->st.req_metadata++;
    rd_kafka_resp_err_t e =
        rd_kafka_metadata(kl->rk, 1, NULL, &sw->md, remaining_ms(sw));
    if (e) {
        sw->md = NULL;
        buf_addf(&sw->err, "cannot read metadata: %s", rd_kafka_err2str(e));
        return -1;
    }
    size_t total = 0;
    for (int i = 0; i < sw->md->topic_cnt; i++)
        total += (size_t)sw->md->topics[i].partition_cnt;
    if (total > KAFKA_LAG_MAX_PARTITIONS) {
        buf_addf(&sw->err,
                 "cluster has %zu partitions, more than the cap "
                 "of %u",
                 total, KAFKA_LAG_MAX_PARTITIONS);
        return -1;
    }
    sw->parts = total ? xcalloc(total, sizeof(*sw->parts)) : NULL;
    for (int i = 0; i < sw->md->topic_cnt; i++) {
        const rd_kafka_metadata_topic_t *t = &sw->md->topics[i];
        /* Internal topics (__consumer_offsets, __transaction_state) are
         * never consumed by applications. */
        if (t->err || strncmp(t->topic, "__", 2) == 0)
            continue;
        if (kafka_tscache_topics_full(kl->cache)) {
            kafka_tscache_clear(kl->cache);
            known_clear(kl); /* its topic ids are gone */
        }
        uint32_t id = kafka_tscache_topic(kl->cache, t->topic);
        for (int j = 0; j < t->partition_cnt; j++) {
            struct md_part *p = &sw->parts[sw->n_parts++];
            p->topic = t->topic;
            p->partition = t->partitions[j].id;
            p->leader = t->partitions[j].leader;
            p->topic_id = id;
            p->end = -1;
            p->earliest = -1;
            p->cursor = -1;
        }
    }
    if (sw->n_parts)
        qsort(sw->parts, sw->n_parts, sizeof(*sw->parts), cmp_md_part);
    /* Interning may have been reset above; ids are refreshed here so
     * that every part of this sweep uses the current table. */
    for (size_t i = 0; i < sw->n_parts; i++) {
        if (i == 0 || sw->parts[i].topic != sw->parts[i - 1].topic)
            sw->parts[i].topic_id =
                kafka_tscache_topic(kl->cache, sw->parts[i].topic);
        else
            sw->parts[i].topic_id = sw->parts[i - 1].topic_id;
    }
    return 0;
}

struct fetch_req {
    size_t group;
    const size_t *idx; /* indexes into sw->parts; NULL: no partition list,
                          every committed partition of the group */
    size_t count;
};

static void send_offset_fetch(struct sweep *sw, struct fetch_req *r)
{
    struct kafka_lag *kl = sw->kl;
    rd_kafka_topic_partition_list_t *l = NULL;
    if (r->idx) {
        l = rd_kafka_topic_partition_list_new((int)r->count);
        for (size_t i = 0; i < r->count; i++)
            rd_kafka_topic_partition_list_add(l, sw->parts[r->idx[i]].topic,
                                              sw->parts[r->idx[i]].partition);
    } else {
        kl->st.req_offset_fetch_all++;
    }
    rd_kafka_ListConsumerGroupOffsets_t *req =
        rd_kafka_ListConsumerGroupOffsets_new(sw->groups[r->group].name, l);
    if (l)
        rd_kafka_topic_partition_list_destroy(l);
    rd_kafka_AdminOptions_t *opts = rd_kafka_AdminOptions_new(
        kl->rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPOFFSETS);
    char errstr[256];
    /* Cannot fail for a positive timeout below the library's maximum. */
    (void)rd_kafka_AdminOptions_set_request_timeout(opts, remaining_ms(sw),
                                                    errstr, sizeof(errstr));
    rd_kafka_AdminOptions_set_opaque(opts, r);
    kl->st.req_offset_fetch++;
    rd_kafka_ListConsumerGroupOffsets(kl->rk, &req, 1, opts, kl->q);
    rd_kafka_ListConsumerGroupOffsets_destroy(req);
    rd_kafka_AdminOptions_destroy(opts);
}

static void add_commit(struct sel_group *g, size_t md, int64_t off)
{
    g->commits = xgrow(g->commits, &g->cap_commits, g->n_commits + 1,
                       sizeof(*g->commits));
    g->commits[g->n_commits].md = md;
    g->commits[g->n_commits].offset = off;
    g->n_commits++;
}

static int take_offset_fetch(struct sweep *sw, rd_kafka_event_t *ev)
{
    struct fetch_req *r = rd_kafka_event_opaque(ev);
    struct sel_group *g = &sw->groups[r->group];
    rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
    if (e && !r->idx) {
        /* The explicit request that follows reports it if it persists. */
        log_debug("kafka cluster '%s': cannot list every committed offset "
                  "of group '%s': %s",
                  sw->kl->name, g->name, rd_kafka_event_error_string(ev));
        return 0;
    }
    if (e) {
        buf_addf(&sw->err, "cannot fetch committed offsets of group '%s': %s",
                 g->name, rd_kafka_event_error_string(ev));
        return -1;
    }
    const rd_kafka_ListConsumerGroupOffsets_result_t *res =
        rd_kafka_event_ListConsumerGroupOffsets_result(ev);
    size_t n = 0;
    const rd_kafka_group_result_t **gr =
        res ? rd_kafka_ListConsumerGroupOffsets_result_groups(res, &n) : NULL;
    for (size_t i = 0; i < n; i++) {
        const rd_kafka_error_t *ge = rd_kafka_group_result_error(gr[i]);
        if (ge && !r->idx)
            return 0;
        if (ge) {
            buf_addf(&sw->err,
                     "cannot fetch committed offsets of group '%s': %s",
                     g->name, rd_kafka_error_string(ge));
            return -1;
        }
        const rd_kafka_topic_partition_list_t *l =
            rd_kafka_group_result_partitions(gr[i]);
        for (int j = 0; l && j < l->cnt; j++) {
            const rd_kafka_topic_partition_t *tp = &l->elems[j];
            if (tp->err || tp->offset < 0)
                continue;
            long md = md_find(sw, tp->topic, tp->partition);
            if (md >= 0)
                add_commit(g, (size_t)md, tp->offset);
        }
    }
    return 0;
}

static int cmp_commit(const void *a, const void *b)
{
    const struct commit *x = a, *y = b;
    return (x->md > y->md) - (x->md < y->md);
}

static struct known_group *known_find(const struct kafka_lag *kl,
                                      const char *group)
{
    for (size_t i = 0; i < kl->n_known; i++) {
        if (strcmp(kl->known[i].group, group) == 0)
            return &kl->known[i];
    }
    return NULL;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static bool known_has(const struct known_group *k, uint32_t topic_id)
{
    return k->n_topics && bsearch(&topic_id, k->topics, k->n_topics,
                                  sizeof(*k->topics), cmp_u32) != NULL;
}

/* The partitions group g is asked for, into idx (room for n_parts): all
 * of them the first time; afterwards those of the topics it has committed
 * on plus the next KAFKA_LAG_CHUNK others in rotation. OffsetFetch costs
 * librdkafka 2.0.2 time quadratic in the partitions per request (a linear
 * search per partition of the response), so asking every group for every
 * partition of a large cluster dominated a sweep; with the rotation a
 * group that starts on a new topic is still found, within
 * ceil(partitions / KAFKA_LAG_CHUNK) sweeps, and on clusters of at most
 * KAFKA_LAG_CHUNK partitions at once. */
static size_t plan_group(struct sweep *sw, size_t g, size_t *idx, size_t *chunk)
{
    struct known_group *k = known_find(sw->kl, sw->groups[g].name);
    size_t n = 0;
    *chunk = KAFKA_LAG_CHUNK;
    if (!k) {
        for (size_t i = 0; i < sw->n_parts; i++)
            idx[n++] = i;
        *chunk = FIRST_CHUNK;
        return n;
    }
    for (size_t i = 0; i < sw->n_parts; i++) {
        if (known_has(k, sw->parts[i].topic_id))
            idx[n++] = i;
    }
    size_t i = sw->n_parts ? k->probe_next % sw->n_parts : 0;
    size_t probed = 0;
    for (size_t step = 0; step < sw->n_parts && probed < KAFKA_LAG_CHUNK;
         step++) {
        if (!known_has(k, sw->parts[i].topic_id)) {
            idx[n++] = i;
            probed++;
        }
        i = (i + 1) % sw->n_parts;
    }
    k->probe_next = i;
    return n;
}

/* Remembers the topics each group has committed on in this sweep. */
static void known_update(struct sweep *sw)
{
    struct kafka_lag *kl = sw->kl;
    for (size_t g = 0; g < sw->n_groups; g++) {
        const struct sel_group *sg = &sw->groups[g];
        struct known_group *k = known_find(kl, sg->name);
        if (!k) {
            kl->known = xgrow(kl->known, &kl->cap_known, kl->n_known + 1,
                              sizeof(*kl->known));
            k = &kl->known[kl->n_known++];
            memset(k, 0, sizeof(*k));
            k->group = xstrdup(sg->name);
        }
        free(k->topics);
        k->topics =
            sg->n_commits ? xcalloc(sg->n_commits, sizeof(*k->topics)) : NULL;
        k->n_topics = 0;
        for (size_t c = 0; c < sg->n_commits; c++) {
            uint32_t id = sw->parts[sg->commits[c].md].topic_id;
            /* commits are sorted by partition index, hence by topic */
            if (k->n_topics == 0 || k->topics[k->n_topics - 1] != id)
                k->topics[k->n_topics++] = id;
        }
        if (k->n_topics)
            qsort(k->topics, k->n_topics, sizeof(*k->topics), cmp_u32);
    }
}

/* Sends reqs (at most ADMIN_MAX_INFLIGHT at a time) and takes their
 * results. */
static int run_fetches(struct sweep *sw, struct fetch_req *reqs, size_t n)
{
    struct kafka_lag *kl = sw->kl;
    size_t sent = 0, done = 0;
    int rc = -1;
    while (done < n) {
        while (sent < n && sent - done < ADMIN_MAX_INFLIGHT)
            send_offset_fetch(sw, &reqs[sent++]);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(kl->q, remaining_ms(sw));
        if (!ev) {
            buf_addf(&sw->err, "cannot fetch committed offsets: timeout");
            goto out;
        }
        if (rd_kafka_event_type(ev) !=
            RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT) {
            rd_kafka_event_destroy(ev);
            continue;
        }
        done++;
        int trc = take_offset_fetch(sw, ev);
        rd_kafka_event_destroy(ev);
        if (trc != 0)
            goto out;
    }
    rc = 0;
out:
    /* Results still in flight reference reqs: wait for them (bounded by
     * their request timeout) before the caller frees them. */
    while (done < sent) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(kl->q, 1000);
        if (!ev)
            continue;
        if (rd_kafka_event_type(ev) ==
            RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT)
            done++;
        rd_kafka_event_destroy(ev);
    }
    return rc;
}

/* Asks each group for every committed partition in one request, unless
 * the cluster is known not to answer that. */
static int fetch_all_committed(struct sweep *sw)
{
    struct kafka_lag *kl = sw->kl;
    if (kl->all_offsets == ALL_EMPTY || sw->n_groups == 0)
        return 0;
    struct fetch_req *reqs = xcalloc(sw->n_groups, sizeof(*reqs));
    for (size_t g = 0; g < sw->n_groups; g++)
        reqs[g].group = g;
    int rc = run_fetches(sw, reqs, sw->n_groups);
    free(reqs);
    for (size_t g = 0; rc == 0 && g < sw->n_groups; g++) {
        if (sw->groups[g].n_commits)
            kl->all_offsets = ALL_WORKS;
    }
    return rc;
}

/* Committed offsets of every selected group: first without partition
 * lists (one request per group, complete on Kafka), then with explicit
 * lists (plan_group) for the groups that answer returned nothing, unless
 * the cluster has shown that such an answer is complete. */
static int fetch_committed(struct sweep *sw)
{
    struct kafka_lag *kl = sw->kl;
    bool tried_all = kl->all_offsets != ALL_EMPTY;
    size_t **lists =
        sw->n_groups ? xcalloc(sw->n_groups, sizeof(*lists)) : NULL;
    struct fetch_req *reqs = NULL;
    size_t n_reqs = 0, cap_reqs = 0;
    int rc = -1;
    if (fetch_all_committed(sw) != 0)
        goto out;
    for (size_t g = 0; g < sw->n_groups; g++) {
        if (kl->all_offsets == ALL_WORKS || sw->groups[g].n_commits)
            continue;
        lists[g] = sw->n_parts ? xcalloc(sw->n_parts, sizeof(**lists)) : NULL;
        size_t chunk;
        size_t n = plan_group(sw, g, lists[g], &chunk);
        for (size_t start = 0; start < n; start += chunk) {
            reqs = xgrow(reqs, &cap_reqs, n_reqs + 1, sizeof(*reqs));
            struct fetch_req *r = &reqs[n_reqs++];
            r->group = g;
            r->idx = lists[g] + start;
            r->count = n - start < chunk ? n - start : chunk;
        }
    }
    if (run_fetches(sw, reqs, n_reqs) != 0)
        goto out;
    for (size_t g = 0; g < sw->n_groups; g++) {
        if (!sw->groups[g].n_commits)
            continue;
        if (tried_all && kl->all_offsets == ALL_UNTRIED) {
            /* Commits that the request without a list did not return. */
            log_debug("kafka cluster '%s' does not return committed "
                      "offsets without a partition list: asking for "
                      "explicit partitions",
                      kl->name);
            kl->all_offsets = ALL_EMPTY;
        }
        qsort(sw->groups[g].commits, sw->groups[g].n_commits,
              sizeof(struct commit), cmp_commit);
    }
    known_update(sw);
    rc = 0;
out:
    free(reqs);
    for (size_t g = 0; g < sw->n_groups; g++)
        free(lists[g]);
    free(lists);
    return rc;
}

/* ================ step 3: log-end (and earliest) offsets ================ */

/* Marks what ListOffsets must read: for every topic a group has committed
 * on, all its partitions (the uncommitted ones are counted or measured
 * from the earliest offset). */
static void mark_wanted(struct sweep *sw)
{
    for (size_t g = 0; g < sw->n_groups; g++) {
        const struct sel_group *sg = &sw->groups[g];
        size_t k = 0;
        while (k < sg->n_commits) {
            const char *topic = sw->parts[sg->commits[k].md].topic;
            size_t first = sg->commits[k].md;
            while (first > 0 && sw->parts[first - 1].topic == topic)
                first--;
            for (size_t i = first;
                 i < sw->n_parts && sw->parts[i].topic == topic; i++) {
                bool committed = k < sg->n_commits && sg->commits[k].md == i;
                if (committed) {
                    sw->parts[i].want_end = true;
                    k++;
                } else if (sw->kl->from_earliest) {
                    sw->parts[i].want_end = true;
                    sw->parts[i].want_earliest = true;
                }
            }
        }
    }
}

/* After the end offsets: the log start is needed wherever a group is
 * behind, since retention may have deleted records at or after its
 * committed offset (data loss), and then its first unconsumed message is
 * the earliest one left. Partitions without lag cannot have lost any. */
static void mark_earliest(struct sweep *sw)
{
    for (size_t g = 0; g < sw->n_groups; g++) {
        const struct sel_group *sg = &sw->groups[g];
        for (size_t k = 0; k < sg->n_commits; k++) {
            struct md_part *p = &sw->parts[sg->commits[k].md];
            if (sg->commits[k].offset < p->end)
                p->want_earliest = true;
        }
    }
}

static size_t count_leaders(const rd_kafka_topic_partition_list_t *l,
                            const struct sweep *sw, const size_t *idx)
{
    /* Few leaders per chunk: a small linear set is enough. */
    int32_t seen[64];
    size_t n = 0, extra = 0;
    for (int i = 0; i < l->cnt; i++) {
        int32_t leader = sw->parts[idx[i]].leader;
        bool dup = false;
        for (size_t j = 0; j < n && !dup; j++)
            dup = seen[j] == leader;
        if (dup)
            continue;
        if (n < sizeof(seen) / sizeof(seen[0]))
            seen[n++] = leader;
        else
            extra++;
    }
    return n + extra;
}

static int list_offsets(struct sweep *sw, bool earliest)
{
    struct kafka_lag *kl = sw->kl;
    size_t *idx = xcalloc(KAFKA_LAG_CHUNK, sizeof(*idx));
    int rc = -1;
    size_t i = 0;
    while (i < sw->n_parts) {
        rd_kafka_topic_partition_list_t *l =
            rd_kafka_topic_partition_list_new(KAFKA_LAG_CHUNK);
        for (; i < sw->n_parts && l->cnt < KAFKA_LAG_CHUNK; i++) {
            const struct md_part *p = &sw->parts[i];
            if (earliest ? !p->want_earliest : !p->want_end)
                continue;
            idx[l->cnt] = i;
            rd_kafka_topic_partition_list_add(l, p->topic, p->partition)
                ->offset =
                earliest ? RD_KAFKA_OFFSET_BEGINNING : RD_KAFKA_OFFSET_END;
        }
        if (l->cnt == 0) {
            rd_kafka_topic_partition_list_destroy(l);
            continue;
        }
        size_t reqs = count_leaders(l, sw, idx);
        kl->st.req_list_offsets += reqs;
        if (earliest)
            kl->st.req_list_offsets_earliest += reqs;
        rd_kafka_resp_err_t e =
            rd_kafka_offsets_for_times(kl->rk, l, remaining_ms(sw));
        for (int j = 0; !e && j < l->cnt; j++) {
            const rd_kafka_topic_partition_t *tp = &l->elems[j];
            e = tp->err;
            if (!e && tp->offset < 0)
                e = RD_KAFKA_RESP_ERR__BAD_MSG;
            if (e) {
                buf_addf(&sw->err,
                         "cannot read %s offset of '%s' [%" PRId32 "]: %s",
                         earliest ? "earliest" : "end", tp->topic,
                         tp->partition, rd_kafka_err2str(e));
                break;
            }
            struct md_part *p = &sw->parts[idx[j]];
            if (earliest)
                p->earliest = tp->offset;
            else
                p->end = tp->offset;
        }
        rd_kafka_topic_partition_list_destroy(l);
        if (e) {
            if (buf_error(&sw->err) || sw->err.len == 0)
                buf_addf(&sw->err, "cannot read %s offsets: %s",
                         earliest ? "earliest" : "end", rd_kafka_err2str(e));
            goto out;
        }
    }
    rc = 0;
out:
    free(idx);
    return rc;
}

/* ================ step 4: timestamps ================ */

static void add_need(struct sweep *sw, size_t *cap, size_t md, int64_t off)
{
    sw->needs = xgrow(sw->needs, cap, sw->n_needs + 1, sizeof(*sw->needs));
    struct ts_need *n = &sw->needs[sw->n_needs++];
    memset(n, 0, sizeof(*n));
    n->md = md;
    n->offset = off;
}

static int cmp_need(const void *a, const void *b)
{
    const struct ts_need *x = a, *y = b;
    if (x->md != y->md)
        return (x->md > y->md) - (x->md < y->md);
    return (x->offset > y->offset) - (x->offset < y->offset);
}

static long need_find(const struct sweep *sw, size_t md, int64_t off)
{
    if (!sw->n_needs)
        return -1;
    struct ts_need key = {.md = md, .offset = off};
    const struct ts_need *n =
        bsearch(&key, sw->needs, sw->n_needs, sizeof(*sw->needs), cmp_need);
    return n ? (long)(n - sw->needs) : -1;
}

/* The offset a group's lag counts from on partition md, or -1 when the
 * partition is skipped. */
static int64_t start_offset(const struct sweep *sw, const struct sel_group *g,
                            size_t *k, size_t md, bool *has_commit)
{
    *has_commit = *k < g->n_commits && g->commits[*k].md == md;
    if (*has_commit)
        return g->commits[(*k)++].offset;
    if (sw->kl->from_earliest)
        return sw->parts[md].earliest;
    return -1;
}

/* Where the first unconsumed message after offset off is: at off, or at
 * the log start when retention has deleted records past off. */
static int64_t read_offset(const struct md_part *p, int64_t off)
{
    return p->earliest > off ? p->earliest : off;
}

/* Calls fn for every partition of every topic group g has committed on,
 * with the offset its lag counts from (-1: no commit, skipped). */
static void each_group_part(struct sweep *sw, const struct sel_group *sg,
                            void (*fn)(struct sweep *sw, size_t md, int64_t off,
                                       bool has_commit, void *ctx),
                            void *ctx)
{
    size_t k = 0;
    while (k < sg->n_commits) {
        const char *topic = sw->parts[sg->commits[k].md].topic;
        size_t first = sg->commits[k].md;
        while (first > 0 && sw->parts[first - 1].topic == topic)
            first--;
        for (size_t i = first; i < sw->n_parts && sw->parts[i].topic == topic;
             i++) {
            bool has_commit;
            int64_t off = start_offset(sw, sg, &k, i, &has_commit);
            fn(sw, i, off, has_commit, ctx);
        }
    }
}

static void need_if_uncached(struct sweep *sw, size_t md, int64_t off,
                             bool has_commit, void *ctx)
{
    struct kafka_lag *kl = sw->kl;
    const struct md_part *p = &sw->parts[md];
    int64_t ts;
    int tstype;
    (void)has_commit;
    if (off < 0)
        return;
    off = read_offset(p, off);
    if (p->end <= off)
        return;
    if (kafka_tscache_get(kl->cache, p->topic_id, p->partition, off, &ts,
                          &tstype) == 0) {
        kl->st.cache_hits++;
        return;
    }
    kl->st.cache_misses++;
    add_need(sw, ctx, md, off);
}

/* Collects the (partition, offset) pairs whose timestamp is not cached,
 * sorted, and gives every partition the range of its needs. */
static void collect_needs(struct sweep *sw)
{
    size_t cap = 0;
    for (size_t g = 0; g < sw->n_groups; g++)
        each_group_part(sw, &sw->groups[g], need_if_uncached, &cap);
    if (sw->n_needs)
        qsort(sw->needs, sw->n_needs, sizeof(*sw->needs), cmp_need);
    size_t w = 0;
    for (size_t r = 0; r < sw->n_needs; r++) {
        if (w > 0 && sw->needs[w - 1].md == sw->needs[r].md &&
            sw->needs[w - 1].offset == sw->needs[r].offset)
            continue;
        sw->needs[w++] = sw->needs[r];
    }
    sw->n_needs = w;
    for (size_t i = 0; i < sw->n_needs; i++) {
        struct md_part *p = &sw->parts[sw->needs[i].md];
        if (i == 0 || sw->needs[i - 1].md != sw->needs[i].md)
            p->need_lo = i;
        p->need_hi = i + 1;
    }
}

static rd_kafka_t *reader_new(struct sweep *sw, char *err, size_t errlen)
{
    struct kafka_lag *kl = sw->kl;
    rd_kafka_conf_t *conf = conf_build(kl, err, errlen);
    if (!conf)
        return NULL;
    char group[96];
    /* A private group id: the reader never joins or commits, but the
     * consumer needs one to poll without spinning on "Unknown group".
     * Only the first message at an offset is needed: small fetches per
     * partition keep a sweep of many partitions from pulling megabytes
     * each (a broker still returns at least one whole batch). */
    snprintf(group, sizeof(group), "lagwatch-reader-%ld-%" PRIu64,
             (long)getpid(), ++kl->reader_seq);
    if (conf_set(conf, "group.id", group, err, errlen) != 0 ||
        conf_set(conf, "enable.partition.eof", "true", err, errlen) != 0 ||
        conf_set(conf, "auto.offset.reset", "error", err, errlen) != 0 ||
        conf_set(conf, "enable.auto.commit", "false", err, errlen) != 0 ||
        conf_set(conf, "enable.auto.offset.store", "false", err, errlen) != 0 ||
        conf_set(conf, "fetch.wait.max.ms", "10", err, errlen) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    char errstr[512];
    rd_kafka_t *rk =
        rd_kafka_new(RD_KAFKA_CONSUMER, conf, errstr, sizeof(errstr));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        snprintf(err, errlen, "cannot create reader: %s", errstr);
    }
    return rk;
}

/* A partition whose needs are all resolved stops fetching. */
static void reader_done(rd_kafka_t *rk, struct md_part *p, size_t *left)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition);
    /* A failure only means more messages for a resolved partition, which
     * are ignored. */
    (void)rd_kafka_pause_partitions(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
    p->cursor = -1;
    (*left)--;
}

/* Moves the partition's read position to its next need: used when that
 * need is further ahead than reading forward is worth, or after an
 * out-of-range offset. Asynchronous: an error shows up as a message. */
static void reader_seek(struct sweep *sw, rd_kafka_t *rk, struct md_part *p)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset =
        sw->needs[p->cursor].offset;
    rd_kafka_error_t *e = rd_kafka_seek_partitions(rk, l, 0);
    if (e) {
        /* The partition keeps reading forward, which is slower but still
         * resolves every need in order. */
        log_debug("kafka cluster '%s': cannot seek '%s' [%" PRId32 "]: %s",
                  sw->kl->name, p->topic, p->partition,
                  rd_kafka_error_string(e));
        rd_kafka_error_destroy(e);
    }
    rd_kafka_topic_partition_list_destroy(l);
    sw->kl->st.reader_seeks++;
}

/* Messages of a partition arrive in offset order from its lowest needed
 * offset (or a seek position at or below its next need), so the first
 * message at or after a needed offset is the first unconsumed message of
 * every group committed there. */
static void reader_take(struct sweep *sw, rd_kafka_t *rk, rd_kafka_message_t *m,
                        size_t *left)
{
    struct kafka_lag *kl = sw->kl;
    if (!m->rkt)
        return;
    const char *topic = rd_kafka_topic_name(m->rkt);
    long md = md_find(sw, topic, m->partition);
    if (md < 0 || sw->parts[md].cursor < 0)
        return;
    struct md_part *p = &sw->parts[md];
    struct ts_need *n = &sw->needs[p->cursor];
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        /* Nothing left to read at or after the remaining offsets (only
         * transaction markers or compacted records were left): those
         * groups are caught up in time. */
        for (size_t i = (size_t)p->cursor; i < p->need_hi; i++) {
            sw->needs[i].done = true;
            sw->needs[i].eof = true;
        }
        reader_done(rk, p, left);
        return;
    }
    if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
        m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
        log_warn("kafka cluster '%s': offset %" PRId64 " of '%s' [%" PRId32
                 "] is out of range (deleted by retention during the sweep?): "
                 "its time lag is unknown",
                 kl->name, n->offset, topic, m->partition);
        n->done = true;
        if ((size_t)++p->cursor == p->need_hi)
            reader_done(rk, p, left);
        else
            reader_seek(sw, rk, p);
        return;
    }
    if (m->err || m->offset < n->offset)
        return; /* errors are transient: retried until the deadline */
    rd_kafka_timestamp_type_t tstype;
    int64_t ts = rd_kafka_message_timestamp(m, &tstype);
    bool found = tstype != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && ts >= 0;
    while ((size_t)p->cursor < p->need_hi &&
           sw->needs[p->cursor].offset <= m->offset) {
        n = &sw->needs[p->cursor++];
        n->done = true;
        if (!found)
            continue;
        n->found = true;
        n->ts_ms = ts;
        n->tstype = (int8_t)tstype;
        kafka_tscache_put(kl->cache, p->topic_id, m->partition, n->offset, ts,
                          n->tstype);
    }
    if ((size_t)p->cursor == p->need_hi)
        reader_done(rk, p, left);
    else if (sw->needs[p->cursor].offset - m->offset > READ_AHEAD_MAX)
        reader_seek(sw, rk, p);
}

/* How long a sweep that needs timestamps waits for the previous reader to
 * shut down. */
#define REAPER_WAIT_MS 2000

/* Unassigns, drains and closes the reader. librdkafka 2.0.2 can block
 * forever in rd_kafka_destroy() when a broker thread still holds fetched
 * messages (seen here after pause, and after resume + unassign), so the
 * queue is drained first and close + destroy run on a thread of their own.
 * The sweep does not wait for it: shutting down a reader of 10,000
 * partitions took 0.3-1 s here, which now overlaps the interval between
 * sweeps; the next sweep that needs a reader waits for it a bounded time
 * (read_timestamps). A stuck reader is left behind (at most one; the
 * sweeps read no timestamps until it is gone) and never stalls the
 * collection. */
static void reader_close(struct kafka_lag *kl, rd_kafka_t *rk, bool assigned)
{
    if (assigned)
        (void)rd_kafka_assign(rk, NULL);
    int64_t until = mono_ms() + 200;
    while (mono_ms() < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 10);
        if (!m)
            break;
        rd_kafka_message_destroy(m);
    }
    kafka_reaper_hand(kl->reaper, rk);
}

/* Reads the first unconsumed message of every needed (partition, offset):
 * one assign of every partition at its lowest needed offset, reading
 * forward through the offsets of the other groups (a seek when the next
 * one is far ahead). One assign per reader: librdkafka 2.0.2 readers get
 * slower with every large reassignment. */
static int read_timestamps(struct sweep *sw)
{
    struct kafka_lag *kl = sw->kl;
    if (sw->n_needs == 0)
        return 0;
    int wait = remaining_ms(sw) / 2;
    if (!kafka_reaper_wait(kl->reaper,
                           wait < REAPER_WAIT_MS ? wait : REAPER_WAIT_MS)) {
        /* The partitions keep has_ts false: their time lag is unknown and
         * consumed_through holds still (kafka_lag_topic_hold). */
        kl->st.ts_timeouts += sw->n_needs;
        return 0;
    }
    char err[1024];
    int rc = -1;
    rd_kafka_topic_partition_list_t *l = NULL;
    rd_kafka_t *rk = reader_new(sw, err, sizeof(err));
    if (!rk) {
        buf_addf(&sw->err, "%s", err);
        return -1;
    }
    kl->st.reader_assigns++;
    l = rd_kafka_topic_partition_list_new(64);
    size_t left = 0;
    for (size_t i = 0; i < sw->n_needs; i++) {
        struct md_part *p = &sw->parts[sw->needs[i].md];
        if (i > 0 && sw->needs[i - 1].md == sw->needs[i].md)
            continue;
        p->cursor = (long)i;
        rd_kafka_topic_partition_list_add(l, p->topic, p->partition)->offset =
            sw->needs[i].offset;
        left++;
    }
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, l);
    if (e) {
        buf_addf(&sw->err, "cannot assign reader: %s", rd_kafka_err2str(e));
        goto out;
    }
    rc = 0;
    while (left > 0) {
        if (mono_ms() >= sw->deadline) {
            rc = 1;
            break;
        }
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, READER_POLL_MS);
        if (!m)
            continue;
        kl->st.reader_messages++;
        reader_take(sw, rk, m, &left);
        rd_kafka_message_destroy(m);
    }
    if (rc == 1) {
        size_t missing = 0;
        for (size_t i = 0; i < sw->n_needs; i++)
            missing += !sw->needs[i].done;
        kl->st.ts_timeouts += missing;
        log_warn("kafka cluster '%s': timestamps of %zu partitions not read "
                 "before the sweep deadline: their time lag reads 0",
                 kl->name, missing);
        rc = 0;
    }
out:
    reader_close(kl, rk, e == RD_KAFKA_RESP_ERR_NO_ERROR);
    rd_kafka_topic_partition_list_destroy(l);
    return rc;
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
    int64_t rd = kafka_lag_part_offsets(kp, off, p->earliest, p->end);
    kp->first_unconsumed_ts_ms = now;
    kp->has_ts = true;
    if (kp->lag == 0)
        return;
    if (rd >= p->end)
        return; /* every record left to consume was deleted */
    int64_t ts;
    int tstype;
    long ni = need_find(sw, md, rd);
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
        int64_t off = start_offset(sw, sg, k, i, &has_commit);
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
    int64_t now = mono_ms();
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
    int64_t t0 = mono_ms();
    sw.deadline = t0 + timeout_ms;
    int rc = -1;
    kl->st.sweeps++;
    rd_kafka_poll(kl->rk, 0);
    kl->st.last_groups_ms = kl->st.last_offset_fetch_ms = 0;
    kl->st.last_list_offsets_ms = kl->st.last_timestamps_ms = 0;
    kl->st.last_assemble_ms = 0;
    int64_t t = t0;
    if (load_metadata(&sw) != 0 || select_groups(&sw) != 0)
        goto out;
    kl->st.last_groups_ms = step_ms(&t);
    if (fetch_committed(&sw) != 0)
        goto out;
    kl->st.last_offset_fetch_ms = step_ms(&t);
    mark_wanted(&sw);
    if (list_offsets(&sw, false) != 0)
        goto out;
    mark_earliest(&sw);
    if (list_offsets(&sw, true) != 0)
        goto out;
    kl->st.last_list_offsets_ms = step_ms(&t);
    collect_needs(&sw);
    if (read_timestamps(&sw) != 0)
        goto out;
    kl->st.last_timestamps_ms = step_ms(&t);
    struct kafka_lag_cluster *c = assemble(&sw, wall_ms());
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
    kl->st.last_sweep_ms = mono_ms() - t0;
    sweep_release(&sw);
    return rc;
}
