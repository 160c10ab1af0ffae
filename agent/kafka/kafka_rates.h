/*
 * kafka_rates: will a consumer group catch up, and when? The produce and
 * consume rates of one group on one topic from the sweeps of the last
 * kafka[].rate_window (lagwatch.yml(5)), and the catch-up estimate from
 * them (lagwatch-metrics(7), kafka_consumergroup_group_catch_up_seconds).
 *
 * A history holds, per sweep, the time and the sums over the topic's
 * partitions of the log-end and committed offsets; it is bounded
 * (KAFKA_RATES_MAX samples: the oldest goes first) and keeps only the
 * samples inside the window. Offsets only move forward, so a sum that
 * goes down (a topic re-created, a group reset or a rebalance that
 * committed older offsets) or a changed partition count starts the
 * history again: the estimate is then unknown until two sweeps agree.
 *
 * Pure arithmetic, no I/O: unit-tested in tests/unit/kafka_rates_test.c.
 * Threads: a history belongs to one thread (the sweeper's).
 */
#ifndef AGENT_KAFKA_RATES_H
#define AGENT_KAFKA_RATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka/kafka_result.h"

#define KAFKA_RATES_MAX 64

struct kafka_rates_sample {
    int64_t t_ms;
    int64_t end;       /* sum of the log-end offsets */
    int64_t committed; /* sum of the committed offsets */
    size_t parts;      /* partitions summed */
};

struct kafka_rates {
    struct kafka_rates_sample s[KAFKA_RATES_MAX]; /* ring, oldest at head */
    size_t head, n;
    uint64_t resets; /* histories started again (offsets went back) */
};

struct kafka_rates_est {
    enum kafka_catch_up state;
    double produce_rate; /* records/s; 0 when unknown */
    double consume_rate; /* records/s; 0 when unknown */
    double catch_up_s;   /* GAINING: sum_lag / (consume - produce); 0 when
                            nothing lags; INFINITY for NEVER; NAN when
                            UNKNOWN */
    double window_s;     /* span of the samples the rates come from */
};

/* Adds a sweep's sample (t_ms after the last one; an older or equal time
 * is ignored) and drops the samples the window no longer needs: the
 * oldest kept is the last one at or before t_ms - window_ms, and the
 * previous sample is always kept. */
void kafka_rates_push(struct kafka_rates *r, const struct kafka_rates_sample *s,
                      int64_t window_ms);

/* The estimate from the oldest and newest samples of r; sum_lag is the
 * current sum of the record lag (end - committed, >= 0 per partition). */
struct kafka_rates_est kafka_rates_estimate(const struct kafka_rates *r,
                                            int64_t sum_lag);

/* The histories of every group and topic of one cluster, sorted by
 * (group, topic); only those of the last result are kept, so the table is
 * bounded by the result. */
struct kafka_rates_table;
struct kafka_rates_table *kafka_rates_table_new(void);
void kafka_rates_table_free(struct kafka_rates_table **tp);

/* Adds the sample of every topic of c (swept at c->swept_at_ms) to its
 * history and sets the topic's catch_up, produce_rate, consume_rate and
 * catch_up_s from it. Histories of groups or topics no longer in c go. */
void kafka_rates_table_update(struct kafka_rates_table *tab,
                              struct kafka_lag_cluster *c, int64_t window_ms);

#endif
