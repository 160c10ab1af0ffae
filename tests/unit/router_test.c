/* router: shard keys per lagwatch(8), RING, and their owners. */
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "hashring/hashring.h"
#include "route/router.h"
#include "tests/lib/tap.h"

#define L(n, v)                                                                \
    {                                                                          \
        n, v, sizeof(n) - 1, sizeof(v) - 1                                     \
    }

static struct hashring *three_nodes(void)
{
    static const struct hashring_node_spec nodes[] = {
        {"influx-a", 1}, {"influx-b", 1}, {"influx-c", 1}};
    char err[256];
    return hashring_new(nodes, 3, 1000, err, sizeof(err));
}

TAP_CASE(key_is_normalized_job_name)
{
    struct hashring *r = three_nodes();
    char *by[] = {"job_name"};
    struct router *rt = router_new(r, by, 1, 1, "agent-1");
    struct label tags[] = {L("job_name", "orders-enrich"), L("task_name", "x")};
    struct buf key = BUF_INIT;
    router_key(rt, tags, 2, &key);
    TAP_EQ_STR("orders_enrich", key.data);
    buf_release(&key);
    router_free(&rt);
    hashring_free(&r);
}

TAP_CASE(rest_and_reporter_names_land_together)
{
    struct hashring *r = three_nodes();
    char *by[] = {"job_name"};
    struct router *rt = router_new(r, by, 1, 1, "agent-1");
    struct label a[] = {L("job_name", "orders-enrich")};
    struct label b[] = {L("job_name", "orders_enrich")};
    size_t oa[1], ob[1], ok[1];
    TAP_EQ_INT(1, router_route(rt, a, 1, oa));
    TAP_EQ_INT(1, router_route(rt, b, 1, ob));
    TAP_EQ_INT(oa[0], ob[0]);
    TAP_EQ_INT(1, router_route_key(rt, "orders-enrich", ok));
    TAP_EQ_INT(oa[0], ok[0]);
    /* Independent of the router: the ring's own lookup of the raw key. */
    size_t direct[1];
    hashring_lookup(r, "orders_enrich", strlen("orders_enrich"), 1, direct);
    TAP_EQ_INT(direct[0], oa[0]);
    router_free(&rt);
    hashring_free(&r);
}

TAP_CASE(several_shard_tags_join_with_comma_absent_is_empty)
{
    struct hashring *r = three_nodes();
    char *by[] = {"flink_cluster", "job_name", "task_name"};
    struct router *rt = router_new(r, by, 3, 1, "agent-1");
    struct label tags[] = {L("flink_cluster", "prod-1"), L("job_name", "a b")};
    struct buf key = BUF_INIT;
    router_key(rt, tags, 2, &key);
    TAP_EQ_STR("prod_1,a_b,", key.data);
    size_t o1[1], o2[1];
    router_route(rt, tags, 2, o1);
    router_route_key(rt, "prod-1,a b,", o2);
    TAP_EQ_INT(o1[0], o2[0]);
    buf_release(&key);
    router_free(&rt);
    hashring_free(&r);
}

/* With one shard_by tag a text key is that tag's value, commas included:
 * `lagwatch ring --key "orders, EU"` must name the node the daemon writes
 * job "orders, EU" to (key "orders__EU", not "orders,_EU"). Twelve
 * names, so that a wrong split cannot agree with the ring by chance. */
TAP_CASE(one_shard_tag_key_text_is_not_split)
{
    static const char *const jobs[] = {
        "orders, EU", "a,b", ",",  "x,,y", "Zahlung, Nord",   "1,2,3",
        "p, q",       "k,",  ",k", "m ,n", "caf\xc3\xa9,bar", "last,one",
    };
    struct hashring *r = three_nodes();
    char *by[] = {"job_name"};
    struct router *rt = router_new(r, by, 1, 1, "agent-1");
    struct buf key = BUF_INIT, text = BUF_INIT;
    router_normalize_key(&text, "orders, EU", 1);
    TAP_EQ_STR("orders__EU", text.data);
    router_normalize_key(&text, "orders, EU", 2);
    TAP_EQ_STR("orders,_EU", text.data);
    for (size_t i = 0; i < TAP_N(jobs); i++) {
        struct label tags[] = {
            {"job_name", jobs[i], 8, (uint32_t)strlen(jobs[i])}};
        size_t o1[1], o2[1];
        router_key(rt, tags, 1, &key);
        router_normalize_key(&text, jobs[i], 1);
        TAP_EQ_STR(key.data, text.data);
        TAP_EQ_INT(1, router_route(rt, tags, 1, o1));
        TAP_EQ_INT(1, router_route_key(rt, jobs[i], o2));
        TAP_EQ_INT(o1[0], o2[0]);
    }
    buf_release(&key);
    buf_release(&text);
    router_free(&rt);
    hashring_free(&r);
}

TAP_CASE(no_job_falls_back_to_group_then_agent)
{
    struct hashring *r = three_nodes();
    char *by[] = {"job_name"};
    struct router *rt = router_new(r, by, 1, 1, "agent-1");
    struct buf key = BUF_INIT;
    struct label lag[] = {L("group", "billing.consumer"), L("topic", "orders")};
    router_key(rt, lag, 2, &key);
    TAP_EQ_STR("billing_consumer", key.data);
    struct label jvm[] = {L("host", "10_42_1_17")};
    router_key(rt, jvm, 1, &key);
    TAP_EQ_STR("agent_1", key.data);
    struct label empty_job[] = {L("job_name", "")};
    router_key(rt, empty_job, 1, &key);
    TAP_EQ_STR("agent_1", key.data);
    buf_release(&key);
    router_free(&rt);
    hashring_free(&r);
}

TAP_CASE(replicas_are_distinct_and_cached_route_is_stable)
{
    struct hashring *r = three_nodes();
    char *by[] = {"job_name"};
    struct router *rt = router_new(r, by, 1, 2, "agent-1");
    struct label t1[] = {L("job_name", "j1")};
    struct label t2[] = {L("job_name", "j2")};
    size_t a[2], b[2], c[2];
    TAP_EQ_INT(2, router_route(rt, t1, 1, a));
    TAP_OK(a[0] != a[1]);
    router_route(rt, t2, 1, b);
    TAP_EQ_INT(2, router_route(rt, t1, 1, c));
    TAP_EQ_INT(a[0], c[0]);
    TAP_EQ_INT(a[1], c[1]);
    router_free(&rt);
    hashring_free(&r);
}

/* router_route() remembers the raw shard_by values of the last point:
 * any sequence of points, with values repeating, changing, absent or
 * falling back to the group tag, and interleaved router_route_key() calls,
 * must get the owners of its own key (as a fresh router computes them). */
TAP_CASE(route_cache_follows_every_change)
{
    struct hashring *r = three_nodes();
    char *by[] = {"job_name", "task"};
    struct router *rt = router_new(r, by, 2, 2, "agent-1");
    struct label p[][2] = {
        {L("job_name", "j-1"), L("task", "t")},
        {L("job_name", "j-1"), L("task", "t")},
        {L("job_name", "j_1"), L("task", "t")},
        {L("job_name", "j-1"), L("task", "u")},
        {L("job_name", "j-1t"), L("task", "")},
        {L("job_name", "j-1"), L("taskx", "t")},
        {L("group", "g-1"), L("other", "t")},
        {L("group", "g-2"), L("other", "t")},
        {L("job_name", "j-2"), L("task", "t")},
        {L("job_name", "j-1"), L("task", "t")},
    };
    size_t np = sizeof(p) / sizeof(p[0]);
    for (int round = 0; round < 3; round++) {
        for (size_t i = 0; i < np; i++) {
            size_t idx = round == 1 ? np - 1 - i : (i * 7 + round) % np;
            size_t got[2], want[2];
            size_t n = router_route(rt, p[idx], 2, got);
            struct router *fresh = router_new(r, by, 2, 2, "agent-1");
            size_t wn = router_route(fresh, p[idx], 2, want);
            router_free(&fresh);
            TAP_EQ_INT(wn, n);
            TAP_EQ_INT(want[0], got[0]);
            TAP_EQ_INT(want[1], got[1]);
            if (round == 2 && i % 3 == 0) {
                size_t k[2];
                router_route_key(rt, "zz", k);
            }
        }
    }
    router_free(&rt);
    hashring_free(&r);
}

static const struct tap_case cases[] = {
    TAP_ENTRY(key_is_normalized_job_name),
    TAP_ENTRY(rest_and_reporter_names_land_together),
    TAP_ENTRY(several_shard_tags_join_with_comma_absent_is_empty),
    TAP_ENTRY(no_job_falls_back_to_group_then_agent),
    TAP_ENTRY(replicas_are_distinct_and_cached_route_is_stable),
    TAP_ENTRY(route_cache_follows_every_change),
    TAP_ENTRY(one_shard_tag_key_text_is_not_split),
};

int main(int argc, char **argv)
{
    return tap_main(cases, TAP_N(cases), argc, argv);
}
