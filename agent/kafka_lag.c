#include "kafka_lag.h"

#define PCRE2_CODE_UNIT_WIDTH 8

#include <assert.h>
#include <inttypes.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "buf.h"
#include "log.h"
#include "xalloc.h"

#define ADMIN_MAX_INFLIGHT 32
#define LIST_GROUPS_TIMEOUT_MS 5000
#define MIN_STEP_TIMEOUT_MS 100
#define READER_POLL_MS 50
#define TOPIC_INTERN_MAX 1000000

/* ================ timestamp cache ================ */

/* Two generations of open-addressing tables: lookups promote hits from the
 * old generation, and when the current one fills up the old one is
 * dropped. This keeps everything used in the last sweeps within a bounded
 * size without per-entry LRU bookkeeping. The log never changes, so an
 * entry is valid for as long as it is kept. */
struct ts_entry {
    uint32_t topic_id; /* interned id + 1; 0 = empty slot */
    int32_t partition;
    int64_t offset;
    int64_t ts_ms;
    int8_t tstype;
};

struct ts_table {
    struct ts_entry *slots;
    size_t cap; /* power of two or 0 */
    size_t used;
};

struct ts_cache {
    struct ts_table cur, old;
    size_t gen_max;
};

/* Interned topic names, so that cache entries are small and exact. */
struct topic_intern {
    char **names;
    size_t n, cap;
    uint32_t *index; /* open addressing over names, id + 1; 0 = empty */
    size_t index_cap;
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
    int32_t pending; /* index in the reader's round, or -1 */
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
    struct ts_cache cache;
    struct topic_intern topics;
    uint64_t reader_seq;
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

static uint64_t hash_bytes(const void *p, size_t n, uint64_t h)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

#define HASH_SEED 0xcbf29ce484222325ULL

/* ================ topic interning ================ */

static void intern_clear(struct topic_intern *ti)
{
    for (size_t i = 0; i < ti->n; i++)
        free(ti->names[i]);
    free(ti->names);
    free(ti->index);
    memset(ti, 0, sizeof(*ti));
}

static void intern_insert_index(struct topic_intern *ti, uint32_t id)
{
    const char *s = ti->names[id];
    size_t mask = ti->index_cap - 1;
    size_t i = hash_bytes(s, strlen(s), HASH_SEED) & mask;
    while (ti->index[i] != 0)
        i = (i + 1) & mask;
    ti->index[i] = id + 1;
}

/* Returns the id of topic, adding it when new. */
static uint32_t intern_topic(struct topic_intern *ti, const char *topic)
{
    size_t len = strlen(topic);
    if (ti->index_cap) {
        size_t mask = ti->index_cap - 1;
        size_t i = hash_bytes(topic, len, HASH_SEED) & mask;
        while (ti->index[i] != 0) {
            uint32_t id = ti->index[i] - 1;
            if (strcmp(ti->names[id], topic) == 0)
                return id;
            i = (i + 1) & mask;
        }
    }
    if ((ti->n + 1) * 2 > ti->index_cap) {
        size_t ncap = ti->index_cap ? ti->index_cap * 2 : 64;
        free(ti->index);
        ti->index = xcalloc(ncap, sizeof(*ti->index));
        ti->index_cap = ncap;
        for (uint32_t id = 0; id < ti->n; id++)
            intern_insert_index(ti, id);
    }
    ti->names = xgrow(ti->names, &ti->cap, ti->n + 1, sizeof(*ti->names));
    ti->names[ti->n] = xstrdup(topic);
    uint32_t id = (uint32_t)ti->n++;
    intern_insert_index(ti, id);
    return id;
}

/* ================ cache ================ */

static size_t entry_hash(uint32_t topic_id, int32_t partition, int64_t off)
{
    uint64_t h = hash_bytes(&topic_id, sizeof(topic_id), HASH_SEED);
    h = hash_bytes(&partition, sizeof(partition), h);
    h = hash_bytes(&off, sizeof(off), h);
    return (size_t)(h ^ (h >> 29));
}

static struct ts_entry *table_find(struct ts_table *t, uint32_t topic_id,
                                   int32_t partition, int64_t off)
{
    if (!t->cap)
        return NULL;
    size_t mask = t->cap - 1;
    size_t i = entry_hash(topic_id, partition, off) & mask;
    while (t->slots[i].topic_id != 0) {
        struct ts_entry *e = &t->slots[i];
        if (e->topic_id == topic_id + 1 && e->partition == partition &&
            e->offset == off)
            return e;
        i = (i + 1) & mask;
    }
    return NULL;
}

static void table_put_slot(struct ts_table *t, const struct ts_entry *e)
{
    size_t mask = t->cap - 1;
    size_t i = entry_hash(e->topic_id - 1, e->partition, e->offset) & mask;
    while (t->slots[i].topic_id != 0)
        i = (i + 1) & mask;
    t->slots[i] = *e;
    t->used++;
}

static void table_release(struct ts_table *t)
{
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

static void cache_put(struct ts_cache *c, uint32_t topic_id,
                      int32_t partition, int64_t off, int64_t ts_ms,
                      int8_t tstype)
{
    struct ts_entry *old = table_find(&c->cur, topic_id, partition, off);
    if (old) {
        old->ts_ms = ts_ms;
        old->tstype = tstype;
        return;
    }
    if (c->cur.used >= c->gen_max) {
        table_release(&c->old);
        c->old = c->cur;
        memset(&c->cur, 0, sizeof(c->cur));
    }
    if ((c->cur.used + 1) * 2 > c->cur.cap) {
        struct ts_table nt = {0};
        nt.cap = c->cur.cap ? c->cur.cap * 2 : 1024;
        nt.slots = xcalloc(nt.cap, sizeof(*nt.slots));
        for (size_t i = 0; i < c->cur.cap; i++) {
            if (c->cur.slots[i].topic_id != 0)
                table_put_slot(&nt, &c->cur.slots[i]);
        }
        table_release(&c->cur);
        c->cur = nt;
    }
    struct ts_entry e = {topic_id + 1, partition, off, ts_ms, tstype};
    table_put_slot(&c->cur, &e);
}

static const struct ts_entry *cache_get(struct ts_cache *c, uint32_t topic_id,
                                        int32_t partition, int64_t off)
{
    struct ts_entry *e = table_find(&c->cur, topic_id, partition, off);
    if (e)
        return e;
    e = table_find(&c->old, topic_id, partition, off);
    if (!e)
        return NULL;
    struct ts_entry copy = *e;
    cache_put(c, topic_id, partition, off, copy.ts_ms, copy.tstype);
    return table_find(&c->cur, topic_id, partition, off);
}

/* ================ results ================ */

static void topic_release(struct kafka_lag_topic *t)
{
    free(t->topic);
    free(t->parts);
}

static void group_release(struct kafka_lag_group *g)
{
    for (size_t i = 0; i < g->n_topics; i++)
        topic_release(&g->topics[i]);
    free(g->topics);
    free(g->group);
    free(g->job);
}

void kafka_lag_cluster_free(struct kafka_lag_cluster **cp)
{
    struct kafka_lag_cluster *c = *cp;
    if (!c)
        return;
    for (size_t i = 0; i < c->n_groups; i++)
        group_release(&c->groups[i]);
    free(c->groups);
    free(c->name);
    free(c->error);
    free(c);
    *cp = NULL;
}

static char *dup_or_null(const char *s)
{
    return s ? xstrdup(s) : NULL;
}

struct kafka_lag_cluster *
kafka_lag_cluster_dup(const struct kafka_lag_cluster *c)
{
    struct kafka_lag_cluster *d = xcalloc(1, sizeof(*d));
    *d = *c;
    d->name = dup_or_null(c->name);
    d->error = dup_or_null(c->error);
    d->groups = c->n_groups ? xcalloc(c->n_groups, sizeof(*d->groups)) : NULL;
    for (size_t i = 0; i < c->n_groups; i++) {
        const struct kafka_lag_group *sg = &c->groups[i];
        struct kafka_lag_group *dg = &d->groups[i];
        dg->group = xstrdup(sg->group);
        dg->job = dup_or_null(sg->job);
        dg->n_topics = sg->n_topics;
        dg->topics =
            sg->n_topics ? xcalloc(sg->n_topics, sizeof(*dg->topics)) : NULL;
        for (size_t j = 0; j < sg->n_topics; j++) {
            dg->topics[j] = sg->topics[j];
            dg->topics[j].topic = xstrdup(sg->topics[j].topic);
            size_t n = sg->topics[j].n_parts;
            dg->topics[j].parts = n ? xmalloc(n * sizeof(struct
                                                      kafka_lag_part))
                                    : NULL;
            if (n)
                memcpy(dg->topics[j].parts, sg->topics[j].parts,
                       n * sizeof(struct kafka_lag_part));
        }
    }
    return d;
}

/* Time lag first, then record lag, then the lower partition id. */
static bool part_slower(const struct kafka_lag_part *a,
                        const struct kafka_lag_part *b)
{
    if (a->lag_seconds != b->lag_seconds)
        return a->lag_seconds > b->lag_seconds;
    if (a->lag != b->lag)
        return a->lag > b->lag;
    return a->partition < b->partition;
}

void kafka_lag_topic_finish(struct kafka_lag_topic *t, int64_t now_ms,
                            struct kafka_lag_stats *st)
{
    t->max_lag = 0;
    t->sum_lag = 0;
    t->max_lag_seconds = 0;
    t->slowest_partition = -1;
    t->partitions = t->n_parts;
    t->consumed_through_ms = now_ms;
    const struct kafka_lag_part *slowest = NULL;
    for (size_t i = 0; i < t->n_parts; i++) {
        struct kafka_lag_part *p = &t->parts[i];
        if (p->lag > 0 && p->has_ts) {
            int64_t age = now_ms - p->first_unconsumed_ts_ms;
            if (age < 0) {
                age = 0;
                st->negative_age_clamped++;
            }
            p->lag_seconds = (double)age / 1000.0;
            if (p->first_unconsumed_ts_ms < t->consumed_through_ms)
                t->consumed_through_ms = p->first_unconsumed_ts_ms;
        } else {
            p->lag_seconds = 0;
            if (p->lag == 0 || p->has_ts)
                p->first_unconsumed_ts_ms = now_ms;
        }
        if (p->lag > t->max_lag)
            t->max_lag = p->lag;
        t->sum_lag += p->lag;
        if (!slowest || part_slower(p, slowest))
            slowest = p;
    }
    if (slowest) {
        t->slowest_partition = slowest->partition;
        t->max_lag_seconds = slowest->lag_seconds;
    }
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

static void error_cb(rd_kafka_t *rk, int err, const char *reason,
                     void *opaque)
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
        if (conf_set(conf, kl->props[i].key, kl->props[i].value, err,
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
    kl->cache.gen_max = KAFKA_LAG_CACHE_MAX / 2;
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
    kl->groups = kl->n_groups ? xcalloc(kl->n_groups, sizeof(*kl->groups))
                              : NULL;
    kl->re = kl->n_groups ? xcalloc(kl->n_groups, sizeof(*kl->re)) : NULL;
    for (size_t i = 0; i < kl->n_groups; i++) {
        const struct cfg_kafka_group *g = &cfg->groups[i];
        kl->groups[i].name = dup_or_null(g->name);
        kl->groups[i].pattern = dup_or_null(g->pattern);
        kl->groups[i].job = dup_or_null(g->job);
        if (!g->pattern)
            continue;
        int code = 0;
        PCRE2_SIZE off = 0;
        kl->re[i] = pcre2_compile((PCRE2_SPTR)g->pattern, PCRE2_ZERO_TERMINATED,
                                  PCRE2_ANCHORED | PCRE2_ENDANCHORED |
                                      PCRE2_UTF,
                                  &code, &off, NULL);
        if (!kl->re[i]) {
            PCRE2_UCHAR msg[256];
            pcre2_get_error_message(code, msg, sizeof(msg));
            snprintf(err, errlen,
                     "kafka cluster '%s': bad group pattern '%s' at offset "
                     "%zu: %s",
                     cfg->name, g->pattern, (size_t)off, (const char *)msg);
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

void kafka_lag_free(struct kafka_lag **klp)
{
    struct kafka_lag *kl = *klp;
    if (!kl)
        return;
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
    table_release(&kl->cache.cur);
    table_release(&kl->cache.old);
    intern_clear(&kl->topics);
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
        int rc = pcre2_match(kl->re[i], (PCRE2_SPTR)group, strlen(group), 0,
                             0, md, NULL);
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

static void sel_add(struct sweep *sw, size_t *cap, const char *name,
                    int entry)
{
    sw->groups = xgrow(sw->groups, cap, sw->n_groups + 1, sizeof(*sw->groups));
    struct sel_group *g = &sw->groups[sw->n_groups++];
    memset(g, 0, sizeof(*g));
    g->name = name;
    g->entry = entry;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists the cluster's groups on a short-lived handle: in librdkafka 2.0.2
 * a failed group listing can leave the handle unable to reach coordinators
 * (and its destroy hanging), which must not hit the long-lived handle.
 * Returns 0 with the ids in sw->listed, 1 when the cluster does not
 * support listing, -1 on other errors. */
static int list_groups(struct sweep *sw)
{
    struct kafka_lag *kl = sw->kl;
    char err[1024];
    int rc = -1;
    rd_kafka_t *rk = NULL;
    rd_kafka_queue_t *q = NULL;
    rd_kafka_event_t *ev = NULL;
    rd_kafka_AdminOptions_t *opts = NULL;
    rd_kafka_conf_t *conf = conf_build(kl, err, sizeof(err));
    if (!conf) {
        buf_addf(&sw->err, "%s", err);
        goto out;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (!rk) {
        rd_kafka_conf_destroy(conf);
        buf_addf(&sw->err, "cannot create client: %s", err);
        goto out;
    }
    q = rd_kafka_queue_new(rk);
    opts = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_LISTCONSUMERGROUPS);
    int tmo = remaining_ms(sw);
    if (tmo > LIST_GROUPS_TIMEOUT_MS)
        tmo = LIST_GROUPS_TIMEOUT_MS;
    if (rd_kafka_AdminOptions_set_request_timeout(opts, tmo, err,
                                                  sizeof(err)) != 0) {
        buf_addf(&sw->err, "%s", err);
        goto out;
    }
    kl->st.req_list_groups++;
    rd_kafka_ListConsumerGroups(rk, opts, q);
    ev = rd_kafka_queue_poll(q, tmo + 1000);
    if (!ev) {
        buf_addf(&sw->err, "cannot list consumer groups: timeout");
        goto out;
    }
    const rd_kafka_ListConsumerGroups_result_t *res =
        rd_kafka_event_ListConsumerGroups_result(ev);
    rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
    size_t n_errs = 0;
    const rd_kafka_error_t **errs =
        res ? rd_kafka_ListConsumerGroups_result_errors(res, &n_errs) : NULL;
    for (size_t i = 0; !e && i < n_errs; i++)
        e = rd_kafka_error_code(errs[i]);
    if (e == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE ||
        e == RD_KAFKA_RESP_ERR_UNSUPPORTED_VERSION) {
        rc = 1;
        goto out;
    }
    if (e || !res) {
        buf_addf(&sw->err, "cannot list consumer groups: %s",
                 rd_kafka_err2str(e));
        goto out;
    }
    size_t n = 0;
    const rd_kafka_ConsumerGroupListing_t **l =
        rd_kafka_ListConsumerGroups_result_valid(res, &n);
    if (n > KAFKA_LAG_MAX_GROUPS) {
        log_warn("kafka cluster '%s' lists %zu groups, only the first %u "
                 "are matched against patterns",
                 kl->name, n, KAFKA_LAG_MAX_GROUPS);
        n = KAFKA_LAG_MAX_GROUPS;
    }
    sw->listed = n ? xcalloc(n, sizeof(*sw->listed)) : NULL;
    for (size_t i = 0; i < n; i++)
        sw->listed[sw->n_listed++] =
            xstrdup(rd_kafka_ConsumerGroupListing_group_id(l[i]));
    if (sw->n_listed)
        qsort(sw->listed, sw->n_listed, sizeof(*sw->listed), cmp_str);
    rc = 0;
out:
    if (ev)
        rd_kafka_event_destroy(ev);
    rd_kafka_AdminOptions_destroy(opts);
    if (q)
        rd_kafka_queue_destroy(q);
    if (rk)
        rd_kafka_destroy(rk);
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
    const struct md_part *p = bsearch(&key, sw->parts, sw->n_parts,
                                      sizeof(*sw->parts), cmp_md_part);
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
        buf_addf(&sw->err, "cluster has %zu partitions, more than the cap "
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
        if (kl->topics.n >= TOPIC_INTERN_MAX) {
            table_release(&kl->cache.cur);
            table_release(&kl->cache.old);
            intern_clear(&kl->topics);
        }
        uint32_t id = intern_topic(&kl->topics, t->topic);
        for (int j = 0; j < t->partition_cnt; j++) {
            struct md_part *p = &sw->parts[sw->n_parts++];
            p->topic = t->topic;
            p->partition = t->partitions[j].id;
            p->leader = t->partitions[j].leader;
            p->topic_id = id;
            p->end = -1;
            p->earliest = -1;
            p->pending = -1;
        }
    }
    if (sw->n_parts)
        qsort(sw->parts, sw->n_parts, sizeof(*sw->parts), cmp_md_part);
    /* Interning may have been reset above; ids are refreshed here so
     * that every part of this sweep uses the current table. */
    for (size_t i = 0; i < sw->n_parts; i++) {
        if (i == 0 || sw->parts[i].topic != sw->parts[i - 1].topic)
            sw->parts[i].topic_id = intern_topic(&kl->topics,
                                                 sw->parts[i].topic);
        else
            sw->parts[i].topic_id = sw->parts[i - 1].topic_id;
    }
    return 0;
}

struct fetch_req {
    size_t group;
    size_t start, count; /* range of sw->parts */
};

static void send_offset_fetch(struct sweep *sw, struct fetch_req *r)
{
    struct kafka_lag *kl = sw->kl;
    rd_kafka_topic_partition_list_t *l =
        rd_kafka_topic_partition_list_new((int)r->count);
    for (size_t i = r->start; i < r->start + r->count; i++)
        rd_kafka_topic_partition_list_add(l, sw->parts[i].topic,
                                          sw->parts[i].partition);
    rd_kafka_ListConsumerGroupOffsets_t *req =
        rd_kafka_ListConsumerGroupOffsets_new(sw->groups[r->group].name, l);
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

static int fetch_committed(struct sweep *sw)
{
    struct kafka_lag *kl = sw->kl;
    size_t chunks = (sw->n_parts + KAFKA_LAG_CHUNK - 1) / KAFKA_LAG_CHUNK;
    size_t n_reqs = chunks * sw->n_groups;
    struct fetch_req *reqs = n_reqs ? xcalloc(n_reqs, sizeof(*reqs)) : NULL;
    int rc = -1;
    for (size_t g = 0; g < sw->n_groups; g++) {
        for (size_t c = 0; c < chunks; c++) {
            struct fetch_req *r = &reqs[g * chunks + c];
            r->group = g;
            r->start = c * KAFKA_LAG_CHUNK;
            r->count = sw->n_parts - r->start < KAFKA_LAG_CHUNK
                           ? sw->n_parts - r->start
                           : KAFKA_LAG_CHUNK;
        }
    }
    size_t sent = 0, done = 0;
    while (done < n_reqs) {
        while (sent < n_reqs && sent - done < ADMIN_MAX_INFLIGHT)
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
    for (size_t g = 0; g < sw->n_groups; g++) {
        if (sw->groups[g].n_commits)
            qsort(sw->groups[g].commits, sw->groups[g].n_commits,
                  sizeof(struct commit), cmp_commit);
    }
    rc = 0;
out:
    /* Results still in flight reference reqs: wait for them (bounded by
     * their request timeout) before freeing. */
    while (done < sent) {
        rd_kafka_event_t *ev = rd_kafka_queue_poll(kl->q, 1000);
        if (!ev)
            continue;
        if (rd_kafka_event_type(ev) ==
            RD_KAFKA_EVENT_LISTCONSUMERGROUPOFFSETS_RESULT)
            done++;
        rd_kafka_event_destroy(ev);
    }
    free(reqs);
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
                ->offset = earliest ? RD_KAFKA_OFFSET_BEGINNING
                                    : RD_KAFKA_OFFSET_END;
        }
        if (l->cnt == 0) {
            rd_kafka_topic_partition_list_destroy(l);
            continue;
        }
        kl->st.req_list_offsets += count_leaders(l, sw, idx);
        rd_kafka_resp_err_t e =
            rd_kafka_offsets_for_times(kl->rk, l, remaining_ms(sw));
        for (int j = 0; !e && j < l->cnt; j++) {
            const rd_kafka_topic_partition_t *tp = &l->elems[j];
            e = tp->err;
            if (!e && tp->offset < 0)
                e = RD_KAFKA_RESP_ERR__BAD_MSG;
            if (e) {
                buf_addf(&sw->err, "cannot read %s offset of '%s' [%" PRId32
                                   "]: %s",
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
    const struct ts_need *n = bsearch(&key, sw->needs, sw->n_needs,
                                      sizeof(*sw->needs), cmp_need);
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

/* Calls fn for every partition of every topic group g has committed on,
 * with the offset its lag counts from (-1: no commit, skipped). */
static void each_group_part(struct sweep *sw, const struct sel_group *sg,
                            void (*fn)(struct sweep *sw, size_t md,
                                       int64_t off, bool has_commit,
                                       void *ctx),
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
    (void)has_commit;
    if (off < 0 || sw->parts[md].end <= off)
        return;
    if (cache_get(&kl->cache, sw->parts[md].topic_id,
                  sw->parts[md].partition, off)) {
        kl->st.cache_hits++;
        return;
    }
    kl->st.cache_misses++;
    add_need(sw, ctx, md, off);
}

/* Collects the (partition, offset) pairs whose timestamp is not cached. */
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
}

static rd_kafka_t *reader_new(struct sweep *sw, char *err, size_t errlen)
{
    struct kafka_lag *kl = sw->kl;
    rd_kafka_conf_t *conf = conf_build(kl, err, errlen);
    if (!conf)
        return NULL;
    char group[96];
    /* A private group id: the reader never joins or commits, but the
     * consumer needs one to poll without spinning on "Unknown group". */
    snprintf(group, sizeof(group), "lagwatch-reader-%ld-%" PRIu64,
             (long)getpid(), ++kl->reader_seq);
    if (conf_set(conf, "group.id", group, err, errlen) != 0 ||
        conf_set(conf, "enable.partition.eof", "true", err, errlen) != 0 ||
        conf_set(conf, "auto.offset.reset", "error", err, errlen) != 0 ||
        conf_set(conf, "enable.auto.commit", "false", err, errlen) != 0 ||
        conf_set(conf, "enable.auto.offset.store", "false", err, errlen) !=
            0 ||
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

static void reader_pause(rd_kafka_t *rk, const char *topic, int32_t part)
{
    rd_kafka_topic_partition_list_t *l = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(l, topic, part);
    /* A failure only means more messages for a resolved partition, which
     * are ignored. */
    (void)rd_kafka_pause_partitions(rk, l);
    rd_kafka_topic_partition_list_destroy(l);
}

static void reader_take(struct sweep *sw, rd_kafka_t *rk,
                        rd_kafka_message_t *m, size_t *left)
{
    struct kafka_lag *kl = sw->kl;
    if (!m->rkt)
        return;
    const char *topic = rd_kafka_topic_name(m->rkt);
    long md = md_find(sw, topic, m->partition);
    if (md < 0 || sw->parts[md].pending < 0)
        return;
    struct ts_need *n = &sw->needs[sw->parts[md].pending];
    if (n->done)
        return;
    if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
        /* Nothing to read at or after the committed offset (only
         * transaction markers or compacted records were left): the
         * partition is caught up in time. */
        n->done = true;
        n->eof = true;
    } else if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET ||
               m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
        log_warn("kafka cluster '%s': offset %" PRId64 " of '%s' [%" PRId32
                 "] is out of range (deleted by retention?): its time lag is "
                 "unknown",
                 kl->name, n->offset, topic, m->partition);
        n->done = true;
    } else if (m->err) {
        return; /* transient; retried by the client until the deadline */
    } else if (m->offset < n->offset) {
        return;
    } else {
        rd_kafka_timestamp_type_t tstype;
        int64_t ts = rd_kafka_message_timestamp(m, &tstype);
        n->done = true;
        if (tstype != RD_KAFKA_TIMESTAMP_NOT_AVAILABLE && ts >= 0) {
            n->found = true;
            n->ts_ms = ts;
            n->tstype = (int8_t)tstype;
            cache_put(&kl->cache, sw->parts[md].topic_id, m->partition,
                      n->offset, ts, n->tstype);
        }
    }
    reader_pause(rk, topic, m->partition);
    (*left)--;
}

/* One round: the reader assigns every pending partition at its offset,
 * reads until each has given one message (or EOF), pausing each as it
 * resolves. Returns -1 on error, 1 when the deadline passed, 0 otherwise.
 * (A fresh reader per round would avoid 2.0.2's slowdown of reused
 * readers, but destroying a reader that had thousands of partitions
 * assigned can hang in thread join: one reader per sweep.) */
static int read_round(struct sweep *sw, rd_kafka_t *rk,
                      rd_kafka_topic_partition_list_t *l, size_t left)
{
    struct kafka_lag *kl = sw->kl;
    int rc = 0;
    rd_kafka_resp_err_t e = rd_kafka_assign(rk, l);
    if (e) {
        buf_addf(&sw->err, "cannot assign reader: %s", rd_kafka_err2str(e));
        return -1;
    }
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
    /* Pause survives a reassignment in 2.0.2: resume first. */
    (void)rd_kafka_resume_partitions(rk, l);
    (void)rd_kafka_assign(rk, NULL);
    return rc;
}

/* Reads the first unconsumed message of every needed partition: one assign
 * per round, each partition at most once per round (groups at different
 * offsets of one partition take more rounds). */
static int read_timestamps(struct sweep *sw)
{
    struct kafka_lag *kl = sw->kl;
    if (sw->n_needs == 0)
        return 0;
    char err[1024];
    rd_kafka_t *rk = reader_new(sw, err, sizeof(err));
    if (!rk) {
        buf_addf(&sw->err, "%s", err);
        return -1;
    }
    kl->st.reader_assigns++;
    size_t next = 0;
    int rc = 0;
    while (next < sw->n_needs && rc == 0) {
        rd_kafka_topic_partition_list_t *l =
            rd_kafka_topic_partition_list_new(64);
        size_t left = 0;
        for (size_t i = next; i < sw->n_needs; i++) {
            struct ts_need *n = &sw->needs[i];
            struct md_part *p = &sw->parts[n->md];
            if (n->done || p->pending >= 0)
                continue;
            p->pending = (int32_t)i;
            rd_kafka_topic_partition_list_add(l, p->topic, p->partition)
                ->offset = n->offset;
            left++;
        }
        rc = read_round(sw, rk, l, left);
        rd_kafka_topic_partition_list_destroy(l);
        for (size_t i = next; i < sw->n_needs; i++)
            sw->parts[sw->needs[i].md].pending = -1;
        while (next < sw->n_needs && sw->needs[next].done)
            next++;
    }
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    if (rc == 1) {
        size_t missing = 0;
        for (size_t i = 0; i < sw->n_needs; i++)
            missing += !sw->needs[i].done;
        kl->st.ts_timeouts += missing;
        log_warn("kafka cluster '%s': timestamps of %zu partitions not read "
                 "before the sweep deadline: their time lag reads 0",
                 kl->name, missing);
    }
    return rc < 0 ? -1 : 0;
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
    kp->committed = off;
    kp->end = p->end;
    kp->lag = p->end > off ? p->end - off : 0;
    kp->first_unconsumed_ts_ms = now;
    kp->has_ts = true;
    if (kp->lag == 0)
        return;
    int64_t ts;
    int tstype;
    long ni = need_find(sw, md, off);
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
        const struct ts_entry *e =
            cache_get(&kl->cache, p->topic_id, p->partition, off);
        if (!e) {
            kp->has_ts = false;
            return;
        }
        ts = e->ts_ms;
        tstype = e->tstype;
    }
    kp->first_unconsumed_ts_ms = ts;
    if (strcmp(t->ts_type, "unknown") == 0)
        t->ts_type = tstype_name(tstype);
}

static void build_topic(struct sweep *sw, const struct sel_group *sg,
                        size_t *k, size_t first, size_t last,
                        struct kafka_lag_topic *t, int64_t now)
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
    kafka_lag_topic_finish(t, now, &kl->st);
}

static struct kafka_lag_cluster *assemble(struct sweep *sw, int64_t now)
{
    struct kafka_lag *kl = sw->kl;
    struct kafka_lag_cluster *c = xcalloc(1, sizeof(*c));
    c->name = xstrdup(kl->name);
    c->swept_at_ms = now;
    c->n_groups = sw->n_groups;
    c->groups = sw->n_groups ? xcalloc(sw->n_groups, sizeof(*c->groups))
                             : NULL;
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
            kg->topics = xgrow(kg->topics, &cap, kg->n_topics + 1,
                               sizeof(*kg->topics));
            struct kafka_lag_topic *t = &kg->topics[kg->n_topics++];
            memset(t, 0, sizeof(*t));
            build_topic(sw, sg, &k, first, last, t, now);
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
    if (load_metadata(&sw) != 0 || select_groups(&sw) != 0 ||
        fetch_committed(&sw) != 0)
        goto out;
    mark_wanted(&sw);
    if (list_offsets(&sw, false) != 0 ||
        (kl->from_earliest && list_offsets(&sw, true) != 0))
        goto out;
    collect_needs(&sw);
    if (read_timestamps(&sw) != 0)
        goto out;
    struct kafka_lag_cluster *c = assemble(&sw, wall_ms());
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
    kl->st.cache_entries = kl->cache.cur.used + kl->cache.old.used;
    kl->st.last_sweep_ms = mono_ms() - t0;
    sweep_release(&sw);
    return rc;
}
