/*
 * ready: the /api/v1/ready decision and its JSON body (see ready.h).
 */
#include "kafka/ready.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/jsonw.h"
#include "util/timefmt.h"

/* What the sweep results say about one query. */
struct tally {
    bool any_cluster; /* a cluster passed the cluster filter */
    bool any_group;   /* ... and held the group */
    bool any_topic;   /* ... and the group had a (matching) topic */
    bool empty_group; /* a matched group had no topics at all */
    bool stale;       /* a cluster holding the group is stale */
    int64_t through;  /* min consumed_through_ms over matched topics */
};

static void json_str_or_null(struct buf *b, const char *s, size_t max)
{
    if (s)
        jsonw_cstrn(b, s, max);
    else
        buf_adds(b, "null");
}

/* {"error":"<what><val, clipped><tail>"}; val and tail may be NULL. */
static int fail(struct buf *b, int status, const char *what, const char *val,
                const char *tail)
{
    buf_adds(b, "{\"error\":\"");
    jsonw_escape_cstrn(b, what, SIZE_MAX);
    if (val)
        jsonw_escape_cstrn(b, val, READY_ECHO_MAX);
    if (tail)
        jsonw_escape_cstrn(b, tail, SIZE_MAX);
    buf_adds(b, "\"}");
    return status;
}

static bool name_is(const char *name, const char *want)
{
    return name && strcmp(name, want) == 0;
}

/* Walks every topic the query selects, tallying them and appending one
 * entry per topic to list. */
static void scan(const struct kafka_lag_cluster *const *clusters, size_t n,
                 const char *group, const char *topic, const char *cluster,
                 struct tally *t, struct buf *list)
{
    memset(t, 0, sizeof(*t));
    t->through = INT64_MAX;
    for (size_t i = 0; i < n; i++) {
        const struct kafka_lag_cluster *c = clusters[i];
        if (!c || (cluster && !name_is(c->name, cluster)))
            continue;
        t->any_cluster = true;
        for (size_t j = 0; j < c->n_groups; j++) {
            const struct kafka_lag_group *g = &c->groups[j];
            if (!name_is(g->group, group))
                continue;
            t->any_group = true;
            /* A stale result is the last good sweep. Committed offsets
             * only move forward, so what it says was consumed still is:
             * a stale "ready" stays true, a stale "not ready" may be
             * pessimistic. The flag tells the caller which it rests on. */
            if (c->stale)
                t->stale = true;
            if (g->n_topics == 0)
                t->empty_group = true;
            for (size_t k = 0; k < g->n_topics; k++) {
                const struct kafka_lag_topic *tp = &g->topics[k];
                if (topic && !name_is(tp->topic, topic))
                    continue;
                t->any_topic = true;
                if (tp->consumed_through_ms < t->through)
                    t->through = tp->consumed_through_ms;
                if (list->len > 0)
                    buf_addc(list, ',');
                buf_adds(list, "{\"cluster\":");
                jsonw_cstr(list, c->name ? c->name : "");
                buf_adds(list, ",\"topic\":");
                jsonw_cstr(list, tp->topic ? tp->topic : "");
                buf_addf(list,
                         ",\"consumed_through_ms\":%" PRId64
                         ",\"max_lag_seconds\":",
                         tp->consumed_through_ms);
                jsonw_seconds(list, tp->max_lag_seconds);
                buf_addc(list, '}');
            }
        }
    }
}

static int evaluate(const struct kafka_lag_cluster *const *clusters, size_t n,
                    const char *group, const char *topic, const char *cluster,
                    const char *until, struct buf *json, struct buf *list)
{
    int64_t until_ms;
    const char *why = NULL;
    struct tally t;
    char ts[TIMEFMT_RFC3339_LEN];

    if (!group || !*group)
        return fail(json, 400, "missing parameter 'group'", NULL, NULL);
    if (!until || !*until)
        return fail(json, 400, "missing parameter 'until'", NULL, NULL);
    /* Present but empty is a client bug, not "all". */
    if (topic && !*topic)
        return fail(json, 400, "empty parameter 'topic'", NULL, NULL);
    if (cluster && !*cluster)
        return fail(json, 400, "empty parameter 'cluster'", NULL, NULL);
    if (timefmt_parse_time(until, &until_ms, &why) < 0) {
        buf_adds(json, "{\"error\":\"bad parameter 'until' '");
        jsonw_escape_cstrn(json, until, READY_ECHO_MAX);
        buf_adds(json, "': ");
        jsonw_escape_cstrn(json, why, SIZE_MAX);
        buf_adds(json, "\"}");
        return 400;
    }

    scan(clusters, n, group, topic, cluster, &t, list);
    if (cluster && !t.any_cluster)
        return fail(json, 404, "unknown cluster '", cluster, "'");
    if (!t.any_group)
        return fail(json, 404, "unknown group '", group, "'");
    if (topic && !t.any_topic) {
        buf_adds(json, "{\"error\":\"unknown topic '");
        jsonw_escape_cstrn(json, topic, READY_ECHO_MAX);
        buf_adds(json, "' for group '");
        jsonw_escape_cstrn(json, group, READY_ECHO_MAX);
        buf_adds(json, "'\"}");
        return 404;
    }

    /* Without a topic filter, a group that committed nothing in one of its
     * clusters has consumed nothing there: not ready, and no instant to
     * report. With a filter, clusters whose group lacks the topic simply
     * do not carry it. */
    bool known = t.any_topic && !(topic == NULL && t.empty_group);
    bool ready = known && t.through >= until_ms;

    buf_addf(json, "{\"ready\":%s,\"group\":", ready ? "true" : "false");
    jsonw_cstrn(json, group, READY_ECHO_MAX);
    buf_adds(json, ",\"topic\":");
    json_str_or_null(json, topic, READY_ECHO_MAX);
    buf_adds(json, ",\"cluster\":");
    json_str_or_null(json, cluster, READY_ECHO_MAX);
    timefmt_rfc3339_ms(until_ms, ts, sizeof(ts));
    buf_addf(json, ",\"until\":\"%s\",\"until_ms\":%" PRId64, ts, until_ms);
    if (known) {
        timefmt_rfc3339_ms(t.through, ts, sizeof(ts));
        buf_addf(json,
                 ",\"consumed_through\":\"%s\""
                 ",\"consumed_through_ms\":%" PRId64,
                 ts, t.through);
    } else {
        buf_adds(json,
                 ",\"consumed_through\":null,\"consumed_through_ms\":null");
    }
    buf_addf(json, ",\"stale\":%s,\"topics\":[", t.stale ? "true" : "false");
    buf_add(json, list->data, list->len);
    buf_adds(json, "]}");
    if (buf_error(list))
        json->err = true;
    return ready ? 200 : 425;
}

int ready_eval(const struct kafka_lag_cluster *const *clusters, size_t n,
               const char *group, const char *topic, const char *cluster,
               const char *until, struct buf *json)
{
    size_t start = json->len;
    struct buf list;

    buf_init(&list, json->max);
    int status =
        evaluate(clusters, n, group, topic, cluster, until, json, &list);
    buf_release(&list);
    if (buf_error(json)) {
        /* Only a cap far below the size of the sweep gets here; replace
         * the partial text with something a client can parse. The sticky
         * flag is cleared by hand because buf has no "truncate and
         * recover" call. */
        buf_truncate(json, start);
        json->err = false;
        buf_adds(json, "{\"error\":\"response too large\"}");
        status = 500;
    }
    return status;
}
