/*
 * clock_test: the wall clock as lagwatch reads it, stepped through the
 * test hook (util/clock.h: clock_wall_source) without touching the
 * machine's clock: the hook is what clock_wall_ms() returns, a step back
 * is detected with its size (the agent logs and counts it,
 * lagwatch_clock_steps_back_total), and what a step back does to
 * consumed_through and the ready API (lagwatch(8), FAULTS): they follow
 * the wall clock back, so a ready answer can turn false, never falsely
 * true.
 */
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "kafka/kafka_result.h"
#include "kafka/ready.h"
#include "tests/lib/tap.h"
#include "util/buf.h"
#include "util/clock.h"

static int64_t fake_now;

static int64_t fake_wall(void)
{
    return fake_now;
}

TAP_CASE(hook_replaces_the_wall_clock)
{
    clock_wall_source = fake_wall;
    fake_now = 1234567;
    TAP_EQ_INT(1234567, clock_wall_ms());
    fake_now = 42;
    TAP_EQ_INT(42, clock_wall_ms());
    clock_wall_source = NULL;
    int64_t real = (int64_t)time(NULL) * 1000;
    int64_t got = clock_wall_ms();
    TAP_OK(got > real - 5000 && got < real + 5000);
}

TAP_CASE(step_back_detected)
{
    struct clock_steps c = {0};
    TAP_EQ_INT(0, clock_step_back(&c, 5000)); /* the first: no step */
    TAP_EQ_INT(0, clock_step_back(&c, 6000));
    TAP_EQ_INT(0, clock_step_back(&c, 6000)); /* standing still is fine */
    TAP_EQ_INT(3600000 - 1000, clock_step_back(&c, 6000 - 3600000 + 1000));
    TAP_EQ_INT(0, clock_step_back(&c, 10000)); /* forward: no step back */
    TAP_EQ_INT(1, clock_step_back(&c, 9999));
}

/* A caught-up topic is consumed through the sweep's wall time: after a
 * step back it is consumed through less, and a group that was ready for
 * `until` is not any more until the clock passes it again. */
TAP_CASE(consumed_through_follows_a_step_back)
{
    struct kafka_lag_part part = {
        .partition = 0, .committed = 10, .end = 10, .has_commit = true};
    struct kafka_lag_topic topic = {.topic = "orders",
                                    .ts_type = "CreateTime",
                                    .parts = &part,
                                    .n_parts = 1};
    struct kafka_lag_group group = {
        .group = "etl", .topics = &topic, .n_topics = 1};
    struct kafka_lag_cluster cl = {
        .name = "main", .groups = &group, .n_groups = 1};
    const struct kafka_lag_cluster *cls[] = {&cl};
    uint64_t clamped = 0;
    struct buf json;
    buf_init(&json, 0);

    clock_wall_source = fake_wall;
    fake_now = 2000000000000; /* 2033-05-18 */
    kafka_lag_topic_finish(&topic, clock_wall_ms(), &clamped);
    TAP_EQ_INT(2000000000000, topic.consumed_through_ms);
    TAP_EQ_INT(200, ready_eval(cls, 1, "etl", NULL, NULL, "1999999999", &json));

    fake_now -= 3600 * 1000; /* the clock steps back an hour */
    kafka_lag_topic_finish(&topic, clock_wall_ms(), &clamped);
    TAP_EQ_INT(2000000000000 - 3600000, topic.consumed_through_ms);
    buf_reset(&json);
    TAP_EQ_INT(425, ready_eval(cls, 1, "etl", NULL, NULL, "1999999999", &json));
    TAP_OK(strstr(json.data, "\"ready\":false") != NULL);
    TAP_EQ_INT(0, (int)clamped);
    clock_wall_source = NULL;
    buf_release(&json);
}

static const struct tap_case tcases[] = {
    TAP_ENTRY(hook_replaces_the_wall_clock),
    TAP_ENTRY(step_back_detected),
    TAP_ENTRY(consumed_through_follows_a_step_back),
};

int main(int argc, char **argv)
{
    return tap_main(tcases, TAP_N(tcases), argc, argv);
}
