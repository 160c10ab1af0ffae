#include "kafka/kafka_rates.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

static const struct kafka_rates_sample *at(const struct kafka_rates *r,
                                           size_t i)
{
    return &r->s[(r->head + i) % KAFKA_RATES_MAX];
}

void kafka_rates_push(struct kafka_rates *r, const struct kafka_rates_sample *s,
                      int64_t window_ms)
{
    if (r->n > 0) {
        const struct kafka_rates_sample *last = at(r, r->n - 1);
        if (s->t_ms <= last->t_ms)
            return;
        /* Offsets never go back on their own: anything else is a reset
         * (or another partition set), and rates across it would lie. */
        if (s->end < last->end || s->committed < last->committed ||
            s->parts != last->parts) {
            r->head = r->n = 0;
            r->resets++;
        }
    }
    if (r->n == KAFKA_RATES_MAX) {
        r->head = (r->head + 1) % KAFKA_RATES_MAX;
        r->n--;
    }
    r->s[(r->head + r->n) % KAFKA_RATES_MAX] = *s;
    r->n++;
    /* The oldest sample kept is the last one at or before now - window
     * (so a full window spans at least window_ms), and the one before the
     * newest is always kept: two sweeps further apart than the window
     * still give a rate. */
    while (r->n > 2 && s->t_ms - at(r, 1)->t_ms >= window_ms) {
        r->head = (r->head + 1) % KAFKA_RATES_MAX;
        r->n--;
    }
}

struct kafka_rates_est kafka_rates_estimate(const struct kafka_rates *r,
                                            int64_t sum_lag)
{
    struct kafka_rates_est e = {KAFKA_CATCH_UP_UNKNOWN, 0, 0, NAN, 0};
    if (r->n < 2)
        return e;
    const struct kafka_rates_sample *a = at(r, 0), *b = at(r, r->n - 1);
    double dt = (double)(b->t_ms - a->t_ms) / 1000.0;
    if (dt <= 0)
        return e;
    e.window_s = dt;
    e.produce_rate = (double)(b->end - a->end) / dt;
    e.consume_rate = (double)(b->committed - a->committed) / dt;
    if (sum_lag <= 0) {
        e.state = KAFKA_CATCH_UP_GAINING;
        e.catch_up_s = 0;
    } else if (e.consume_rate > e.produce_rate) {
        e.state = KAFKA_CATCH_UP_GAINING;
        e.catch_up_s = (double)sum_lag / (e.consume_rate - e.produce_rate);
    } else {
        e.state = KAFKA_CATCH_UP_NEVER;
        e.catch_up_s = INFINITY;
    }
    return e;
}

struct rates_entry {
    char *group, *topic;
    struct kafka_rates r;
};

struct kafka_rates_table {
    struct rates_entry *e; /* sorted by (group, topic) */
    size_t n;
};

struct kafka_rates_table *kafka_rates_table_new(void)
{
    return xcalloc(1, sizeof(struct kafka_rates_table));
}

static void entries_free(struct rates_entry *e, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(e[i].group);
        free(e[i].topic);
    }
    free(e);
}

void kafka_rates_table_free(struct kafka_rates_table **tp)
{
    struct kafka_rates_table *t = *tp;
    if (!t)
        return;
    entries_free(t->e, t->n);
    free(t);
    *tp = NULL;
}

static int entry_cmp(const void *a, const void *b)
{
    const struct rates_entry *x = a, *y = b;
    int r = strcmp(x->group, y->group);
    return r ? r : strcmp(x->topic, y->topic);
}

void kafka_rates_table_update(struct kafka_rates_table *tab,
                              struct kafka_lag_cluster *c, int64_t window_ms)
{
    size_t n = 0;
    for (size_t g = 0; g < c->n_groups; g++)
        n += c->groups[g].n_topics;
    struct rates_entry *ne = n ? xcalloc(n, sizeof(*ne)) : NULL;
    size_t k = 0;
    for (size_t g = 0; g < c->n_groups; g++) {
        struct kafka_lag_group *kg = &c->groups[g];
        for (size_t t = 0; t < kg->n_topics; t++) {
            struct kafka_lag_topic *kt = &kg->topics[t];
            struct rates_entry key = {kg->group, kt->topic, {{{0}}, 0, 0, 0}};
            struct rates_entry *old =
                tab->n
                    ? bsearch(&key, tab->e, tab->n, sizeof(*tab->e), entry_cmp)
                    : NULL;
            struct rates_entry *e = &ne[k++];
            e->group = xstrdup(kg->group);
            e->topic = xstrdup(kt->topic);
            if (old)
                e->r = old->r;
            struct kafka_rates_sample s = {c->swept_at_ms, 0, 0, kt->n_parts};
            for (size_t p = 0; p < kt->n_parts; p++) {
                s.end += kt->parts[p].end;
                s.committed += kt->parts[p].committed;
            }
            kafka_rates_push(&e->r, &s, window_ms);
            struct kafka_rates_est est =
                kafka_rates_estimate(&e->r, kt->sum_lag);
            kt->catch_up = est.state;
            kt->produce_rate = est.produce_rate;
            kt->consume_rate = est.consume_rate;
            kt->catch_up_s = est.catch_up_s;
        }
    }
    if (n)
        qsort(ne, n, sizeof(*ne), entry_cmp);
    entries_free(tab->e, tab->n);
    tab->e = ne;
    tab->n = n;
}
