/*
 * Unit tests of kafka_tscache: exact keys, topic interning, updates, and
 * the two-generation bound (recently used entries survive a drop).
 */
#include <stdio.h>

#include "kafka/kafka_tscache.h"
#include "tests/lib/tap.h"

TAP_CASE(keys_are_exact)
{
    struct kafka_tscache *c = kafka_tscache_new(100);
    uint32_t a = kafka_tscache_topic(c, "orders");
    uint32_t b = kafka_tscache_topic(c, "orders-dlq");
    TAP_OK(a != b);
    TAP_EQ_INT(a, kafka_tscache_topic(c, "orders"));
    kafka_tscache_put(c, a, 3, 42, 1000, 1);
    static const struct {
        uint32_t topic;
        int32_t part;
        int64_t off;
        int found;
    } cases[] = {
        {0, 3, 42, 1}, /* the stored key (topic a, set below) */
        {1, 3, 42, 0}, /* other topic */
        {0, 4, 42, 0}, /* other partition */
        {0, 3, 43, 0}, /* other offset */
        {0, 3, 41, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t ts = -1;
        int type = -1;
        uint32_t t = cases[i].topic == 0 ? a : b;
        int rc =
            kafka_tscache_get(c, t, cases[i].part, cases[i].off, &ts, &type);
        TAP_EQ_INT(cases[i].found ? 0 : -1, rc);
        if (cases[i].found) {
            TAP_EQ_INT(1000, ts);
            TAP_EQ_INT(1, type);
        }
    }
    kafka_tscache_put(c, a, 3, 42, 2000, 2); /* overwrite, no new entry */
    int64_t ts;
    int type;
    TAP_EQ_INT(0, kafka_tscache_get(c, a, 3, 42, &ts, &type));
    TAP_EQ_INT(2000, ts);
    TAP_EQ_INT(2, type);
    TAP_EQ_INT(1, kafka_tscache_entries(c));
    kafka_tscache_free(&c);
    TAP_OK(c == NULL);
    kafka_tscache_free(&c); /* NULL-safe */
}

TAP_CASE(bounded_keeps_recent)
{
    /* 2 generations of 50: after 200 inserts at most 100 remain, and an
     * entry read every round survives every drop. */
    struct kafka_tscache *c = kafka_tscache_new(100);
    uint32_t t = kafka_tscache_topic(c, "t");
    kafka_tscache_put(c, t, 0, 0, 7, 1);
    for (int64_t off = 1; off <= 200; off++) {
        int64_t ts;
        int type;
        TAP_EQ_INT(0, kafka_tscache_get(c, t, 0, 0, &ts, &type));
        TAP_EQ_INT(7, ts);
        kafka_tscache_put(c, t, 0, off, off * 10, 1);
    }
    TAP_OK(kafka_tscache_entries(c) <= 100);
    int64_t ts;
    int type;
    TAP_EQ_INT(0, kafka_tscache_get(c, t, 0, 200, &ts, &type));
    TAP_EQ_INT(2000, ts);
    TAP_EQ_INT(-1, kafka_tscache_get(c, t, 0, 1, &ts, &type));
    kafka_tscache_clear(c);
    TAP_EQ_INT(0, kafka_tscache_entries(c));
    TAP_OK(!kafka_tscache_topics_full(c));
    TAP_EQ_INT(0, kafka_tscache_topic(c, "u")); /* ids restart */
    kafka_tscache_free(&c);
}

TAP_CASE(many_topics_intern)
{
    struct kafka_tscache *c = kafka_tscache_new(10000);
    char name[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(name, sizeof(name), "topic-%d", i);
        TAP_EQ_INT(i, kafka_tscache_topic(c, name));
    }
    for (int i = 0; i < 1000; i += 97) {
        snprintf(name, sizeof(name), "topic-%d", i);
        TAP_EQ_INT(i, kafka_tscache_topic(c, name));
    }
    kafka_tscache_free(&c);
}

static const struct tap_case cases[] = {
    TAP_ENTRY(keys_are_exact),
    TAP_ENTRY(bounded_keeps_recent),
    TAP_ENTRY(many_topics_intern),
};

int main(int argc, char **argv)
{
    return tap_main(cases, TAP_N(cases), argc, argv);
}
