/* Steps 1-3 of a sweep (kafka_lag.h): the groups, the metadata and
 * committed offsets, the log-end and earliest offsets. */
#include "kafka/kafka_sweep.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kafka/kafka_groups.h"
#include "util/log.h"
#include "util/xalloc.h"

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
    rd_kafka_conf_t *conf = kafka_lag_conf_build(kl, err, sizeof(err));
    if (!conf) {
        buf_addf(&sw->err, "%s", err);
        return -1;
    }
    int tmo = sweep_remaining_ms(sw);
    if (tmo > LIST_GROUPS_TIMEOUT_MS)
        tmo = LIST_GROUPS_TIMEOUT_MS;
    kl->st.req_list_groups++;
    int rc = kafka_groups_list(conf, kl->name, tmo, KAFKA_LAG_MAX_GROUPS,
                               &sw->listed, &sw->n_listed, err, sizeof(err));
    if (rc < 0)
        buf_addf(&sw->err, "%s", err);
    return rc;
}

int sweep_select_groups(struct sweep *sw)
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

long sweep_md_find(const struct sweep *sw, const char *topic, int32_t partition)
{
    struct md_part key = {.topic = topic, .partition = partition};
    return sweep_bsearch(&key, sw->parts, sw->n_parts, sizeof(*sw->parts),
                         cmp_md_part);
}

int sweep_load_metadata(struct sweep *sw)
{
    struct kafka_lag *kl = sw->kl;
    kl->st.req_metadata++;
    rd_kafka_resp_err_t e =
        rd_kafka_metadata(kl->rk, 1, NULL, &sw->md, sweep_remaining_ms(sw));
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
        /* kafka[].topics / exclude_topics: an unselected topic is not
         * measured for any group (lagwatch.yml(5)). */
        if (!kafka_lag_topic_selected(kl, t->topic))
            continue;
        if (kafka_tscache_topics_full(kl->cache)) {
            kafka_tscache_clear(kl->cache);
            kafka_lag_known_clear(kl); /* its topic ids are gone */
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
    (void)rd_kafka_AdminOptions_set_request_timeout(
        opts, sweep_remaining_ms(sw), errstr, sizeof(errstr));
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
            long md = sweep_md_find(sw, tp->topic, tp->partition);
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
        rd_kafka_event_t *ev =
            rd_kafka_queue_poll(kl->q, sweep_remaining_ms(sw));
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
int sweep_fetch_committed(struct sweep *sw)
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

int64_t sweep_start_offset(const struct sweep *sw, const struct sel_group *g,
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
void sweep_each_group_part(struct sweep *sw, const struct sel_group *sg,
                           sweep_part_fn fn, void *ctx)
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
            int64_t off = sweep_start_offset(sw, sg, &k, i, &has_commit);
            fn(sw, i, off, has_commit, ctx);
        }
    }
}

static void mark_part(struct sweep *sw, size_t md, int64_t off, bool has_commit,
                      void *ctx)
{
    (void)off; /* the earliest offsets are not read yet */
    (void)ctx;
    if (has_commit) {
        sw->parts[md].want_end = true;
    } else if (sw->kl->from_earliest) {
        sw->parts[md].want_end = true;
        sw->parts[md].want_earliest = true;
    }
}

/* Marks what ListOffsets must read: for every topic a group has committed
 * on, all its partitions (the uncommitted ones are counted or measured
 * from the earliest offset). */
void sweep_mark_wanted(struct sweep *sw)
{
    for (size_t g = 0; g < sw->n_groups; g++)
        sweep_each_group_part(sw, &sw->groups[g], mark_part, NULL);
}

/* After the end offsets: the log start of every partition read. A group
 * behind needs it, since retention may have deleted records at or after
 * its committed offset (data loss), and then its first unconsumed message
 * is the earliest one left; the others are exported as
 * kafka_partition_earliest_offset (lagwatch-metrics(7), kafka-lag-exporter's
 * family). One more ListOffsets per leader and chunk. */
void sweep_mark_earliest(struct sweep *sw)
{
    for (size_t i = 0; i < sw->n_parts; i++)
        if (sw->parts[i].want_end)
            sw->parts[i].want_earliest = true;
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

int sweep_list_offsets(struct sweep *sw, bool earliest)
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
            rd_kafka_offsets_for_times(kl->rk, l, sweep_remaining_ms(sw));
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
