/*
 * Unit tests of kafka_rates: the produce/consume rates and the catch-up
 * estimate (sum lag / (consume - produce)), the window, the bound, the
 * reset on offsets going back, and the table keyed by group and topic.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kafka/kafka_rates.h"
#include "tests/lib/tap.h"

static struct kafka_rates_sample S(int64_t t, int64_t end, int64_t com) {
    return (struct kafka_rates_sample){t, end, com, 3};
}

TAP_CASE(estimate_table)
{
    /* Two samples 10 s apart; rates and estimate computed by hand. */
    static const struct {
        int64_t end0, com0, end1, com1, lag;
        enum kafka_catch_up st;
        double produce, consume, catch_up;
    } cases[] = {
        /* 100 produced, 300 consumed in 10 s: gaining 20/s; 400 left */
        {1000, 0, 1100, 300, 800, KAFKA_CATCH_UP_GAINING, 10, 30, 40},
        /* consumer slower: never */
        {1000, 0, 1300, 100, 1200, KAFKA_CATCH_UP_NEVER, 30, 10, INFINITY},
        /* equal rates: not gaining, never */
        {1000, 0, 1100, 100, 1000, KAFKA_CATCH_UP_NEVER, 10, 10, INFINITY},
        /* idle consumer, idle producer, lag left: never */
        {50, 10, 50, 10, 40, KAFKA_CATCH_UP_NEVER, 0, 0, INFINITY},
        /* nothing lags: 0 whatever the rates */
        {50, 50, 60, 60, 0, KAFKA_CATCH_UP_GAINING, 1, 1, 0},
    };
    for (size_t i = 0; i < TAP_N(cases); i++) {
        struct kafka_rates r;
        memset(&r, 0, sizeof(r));
        struct kafka_rates_sample a = S(100000, cases[i].end0, cases[i].com0);
        struct kafka_rates_sample b = S(110000, cases[i].end1, cases[i].com1);
        kafka_rates_push(&r, &a, 300000);
        struct kafka_rates_est e = kafka_rates_estimate(&r, cases[i].lag);
        TAP_EQ_INT(KAFKA_CATCH_UP_UNKNOWN, e.state); /* one sweep only */
        TAP_OK(isnan(e.catch_up_s));
        kafka_rates_push(&r, &b, 300000);
        e = kafka_rates_estimate(&r, cases[i].lag);
        TAP_EQ_INT(cases[i].st, e.state);
        TAP_EQ_DBL(cases[i].produce, e.produce_rate, 1e-9);
        TAP_EQ_DBL(cases[i].consume, e.consume_rate, 1e-9);
        if (isinf(cases[i].catch_up))
            TAP_OK(isinf(e.catch_up_s) && e.catch_up_s > 0);
        else
            TAP_EQ_DBL(cases[i].catch_up, e.catch_up_s, 1e-9);
        TAP_EQ_DBL(10.0, e.window_s, 1e-9);
    }
}

TAP_CASE(window_keeps_last_before_start)
{
    /* A sweep every 10 s over 100 s, window 30 s: the estimate spans from
     * the last sample at or before now - 30 s, i.e. exactly 30 s. */
    struct kafka_rates r;
    memset(&r, 0, sizeof(r));
    for (int64_t t = 0; t <= 100; t += 10) {
        /* produce 5/s throughout; consume 10/s only in the last 30 s */
        int64_t com = t <= 70 ? 0 : (t - 70) * 10;
        struct kafka_rates_sample s = S(t * 1000, t * 5, com);
        kafka_rates_push(&r, &s, 30000);
    }
    TAP_EQ_INT(4, r.n);
    struct kafka_rates_est e = kafka_rates_estimate(&r, 200);
    TAP_EQ_DBL(30.0, e.window_s, 1e-9);
    TAP_EQ_DBL(5.0, e.produce_rate, 1e-9);
    TAP_EQ_DBL(10.0, e.consume_rate, 1e-9);
    TAP_EQ_DBL(40.0, e.catch_up_s, 1e-9);
    /* Sweeps further apart than the window still give a rate. */
    struct kafka_rates_sample late = S(1000000, 600, 400);
    kafka_rates_push(&r, &late, 30000);
    TAP_EQ_INT(2, r.n);
    TAP_OK(kafka_rates_estimate(&r, 200).state != KAFKA_CATCH_UP_UNKNOWN);
    /* An equal or older time is ignored. */
    kafka_rates_push(&r, &late, 30000);
    TAP_EQ_INT(2, r.n);
}

TAP_CASE(bounded)
{
    struct kafka_rates r;
    memset(&r, 0, sizeof(r));
    for (int64_t i = 1; i <= 10 * KAFKA_RATES_MAX; i++) {
        struct kafka_rates_sample s = S(i * 100, i, i);
        kafka_rates_push(&r, &s, 3600000);
    }
    TAP_EQ_INT(KAFKA_RATES_MAX, r.n);
    /* The oldest went first: the span is the newest samples'. */
    struct kafka_rates_est e = kafka_rates_estimate(&r, 0);
    TAP_EQ_DBL((KAFKA_RATES_MAX - 1) * 0.1, e.window_s, 1e-9);
}

TAP_CASE(reset_makes_unknown)
{
    static const struct kafka_rates_sample back[] = {
        {20000, 500, 50, 3},  /* committed went back (group reset) */
        {20000, 50, 300, 3},  /* log-end went back (topic re-created) */
        {20000, 900, 300, 4}, /* another partition set */
    };
    for (size_t i = 0; i < TAP_N(back); i++) {
        struct kafka_rates r;
        memset(&r, 0, sizeof(r));
        struct kafka_rates_sample a = S(0, 0, 0), b = S(10000, 100, 200);
        kafka_rates_push(&r, &a, 300000);
        kafka_rates_push(&r, &b, 300000);
        TAP_EQ_INT(KAFKA_CATCH_UP_GAINING, kafka_rates_estimate(&r, 300).state);
        kafka_rates_push(&r, &back[i], 300000);
        TAP_EQ_INT(KAFKA_CATCH_UP_UNKNOWN, kafka_rates_estimate(&r, 300).state);
        TAP_EQ_U64(1, r.resets);
        /* and known again from the next sweep on */
        struct kafka_rates_sample c = back[i];
        c.t_ms += 10000;
        c.end += 10;
        c.committed += 20;
        kafka_rates_push(&r, &c, 300000);
        struct kafka_rates_est e = kafka_rates_estimate(&r, 300);
        TAP_EQ_INT(KAFKA_CATCH_UP_GAINING, e.state);
        TAP_EQ_DBL(300.0, e.catch_up_s, 1e-9);
    }
}

static void set_topic(struct kafka_lag_topic *t, struct kafka_lag_part *p,
                      int64_t end, int64_t com)
{
    memset(p, 0, sizeof(*p));
    p->end = end;
    p->committed = com;
    p->lag = end - com;
    t->parts = p;
    t->n_parts = 1;
    t->sum_lag = p->lag;
}

TAP_CASE(table_by_group_and_topic)
{
    struct kafka_rates_table *tab = kafka_rates_table_new();
    struct kafka_lag_part pa, pb;
    struct kafka_lag_topic ta = {.topic = "t"}, tb = {.topic = "t"};
    struct kafka_lag_group g[2] = {
        {.group = "g1", .topics = &ta, .n_topics = 1},
        {.group = "g2", .topics = &tb, .n_topics = 1}};
    struct kafka_lag_cluster c = {.name = "main", .groups = g, .n_groups = 2};
    /* g1 gains 10/s on 100 left; g2 is idle while 10/s are produced. */
    set_topic(&ta, &pa, 1000, 800);
    set_topic(&tb, &pb, 1000, 500);
    c.swept_at_ms = 0;
    kafka_rates_table_update(tab, &c, 300000);
    TAP_EQ_INT(KAFKA_CATCH_UP_UNKNOWN, ta.catch_up);
    TAP_EQ_INT(KAFKA_CATCH_UP_UNKNOWN, tb.catch_up);
    set_topic(&ta, &pa, 1100, 1000);
    set_topic(&tb, &pb, 1100, 500);
    c.swept_at_ms = 10000;
    kafka_rates_table_update(tab, &c, 300000);
    TAP_EQ_INT(KAFKA_CATCH_UP_GAINING, ta.catch_up);
    TAP_EQ_DBL(10.0, ta.catch_up_s, 1e-9); /* 100 / (20 - 10) */
    TAP_EQ_INT(KAFKA_CATCH_UP_NEVER, tb.catch_up);
    TAP_EQ_DBL(10.0, tb.produce_rate, 1e-9);
    /* g1 leaves the result: its history goes; back, it starts over. */
    c.n_groups = 1;
    g[0] = g[1];
    c.swept_at_ms = 20000;
    set_topic(&tb, &pb, 1200, 600);
    kafka_rates_table_update(tab, &c, 300000);
    TAP_EQ_INT(KAFKA_CATCH_UP_NEVER, tb.catch_up); /* 10/s each: equal */
    struct kafka_lag_group g1 = {.group = "g1", .topics = &ta, .n_topics = 1};
    c.groups = &g1;
    c.swept_at_ms = 30000;
    kafka_rates_table_update(tab, &c, 300000);
    TAP_EQ_INT(KAFKA_CATCH_UP_UNKNOWN, ta.catch_up);
    kafka_rates_table_free(&tab);
    TAP_OK(tab == NULL);
}

static const struct tap_case cases[] = {
    TAP_ENTRY(estimate_table),
    TAP_ENTRY(window_keeps_last_before_start),
    TAP_ENTRY(bounded),
    TAP_ENTRY(reset_makes_unknown),
    TAP_ENTRY(table_by_group_and_topic),
};

int main(int argc, char **argv)
{
    return tap_main(cases, TAP_N(cases), argc, argv);
}
