#include "kafka/kafka_result.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

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

static void topic_copy(struct kafka_lag_topic *d,
                       const struct kafka_lag_topic *s)
{
    *d = *s;
    d->topic = xstrdup(s->topic);
    d->parts = NULL;
    if (s->n_parts) {
        d->parts = xmalloc(s->n_parts * sizeof(*d->parts));
        memcpy(d->parts, s->parts, s->n_parts * sizeof(*d->parts));
    }
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
        for (size_t j = 0; j < sg->n_topics; j++)
            topic_copy(&dg->topics[j], &sg->topics[j]);
    }
    return d;
}

int64_t kafka_lag_part_offsets(struct kafka_lag_part *kp, int64_t committed,
                               int64_t earliest, int64_t end)
{
    kp->committed = committed;
    kp->end = end;
    kp->lag = end > committed ? end - committed : 0;
    kp->data_loss = false;
    kp->lost_records = 0;
    int64_t first = earliest > committed ? earliest : committed;
    if (kp->lag > 0 && first > committed) {
        kp->data_loss = true;
        kp->lost_records = (first < end ? first : end) - committed;
    }
    return first;
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
                            uint64_t *clamped)
{
    t->max_lag = 0;
    t->sum_lag = 0;
    t->max_lag_seconds = 0;
    t->slowest_partition = -1;
    t->partitions = t->n_parts;
    t->ts_unknown_parts = 0;
    t->data_loss_parts = 0;
    t->consumed_through_ms = now_ms;
    const struct kafka_lag_part *slowest = NULL;
    for (size_t i = 0; i < t->n_parts; i++) {
        struct kafka_lag_part *p = &t->parts[i];
        if (p->lag > 0 && p->has_ts) {
            int64_t age = now_ms - p->first_unconsumed_ts_ms;
            if (age < 0) {
                age = 0;
                (*clamped)++;
            }
            p->lag_seconds = (double)age / 1000.0;
            if (p->first_unconsumed_ts_ms < t->consumed_through_ms)
                t->consumed_through_ms = p->first_unconsumed_ts_ms;
        } else {
            p->lag_seconds = 0;
            if (p->lag == 0 || p->has_ts)
                p->first_unconsumed_ts_ms = now_ms;
            else
                t->ts_unknown_parts++;
        }
        t->data_loss_parts += p->data_loss;
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

void kafka_lag_topic_hold(struct kafka_lag_topic *t, const char *group,
                          const struct kafka_lag_cluster *prev)
{
    bool unknown = false;
    for (size_t i = 0; i < t->n_parts; i++)
        unknown = unknown || (t->parts[i].lag > 0 && !t->parts[i].has_ts);
    if (!unknown)
        return;
    int64_t through = 0;
    for (size_t g = 0; prev && g < prev->n_groups; g++) {
        if (strcmp(prev->groups[g].group, group) != 0)
            continue;
        for (size_t k = 0; k < prev->groups[g].n_topics; k++) {
            if (strcmp(prev->groups[g].topics[k].topic, t->topic) == 0)
                through = prev->groups[g].topics[k].consumed_through_ms;
        }
    }
    if (through < t->consumed_through_ms)
        t->consumed_through_ms = through;
}

const char *kafka_catch_up_name(enum kafka_catch_up st)
{
    switch (st) {
    case KAFKA_CATCH_UP_GAINING:
        return "gaining";
    case KAFKA_CATCH_UP_NEVER:
        return "never";
    default:
        return "unknown";
    }
}
