/*
 * bench_lag: cost of a Kafka lag sweep on an in-process mock cluster.
 *
 *   bench_lag [TOPICS [PARTITIONS_PER_TOPIC [GROUPS [MESSAGES]]]]
 *
 * Defaults: 20 topics x 500 partitions (10,000), 50 groups, 10 messages per
 * partition; at most 9999 topics and groups (issue 13's figure:
 * `bench_lag 1000 20 1000 10`, 1,000 groups over 20,000 partitions). Group i
 * commits on every partition of topic i % TOPICS at an offset below the end, so
 * every partition has lag. Prints the wall time of a cold sweep (empty
 * timestamp cache) and of a warm one (same offsets) and the requests each sent,
 * from kafka_lag's own counters.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "kafka/kafka_lag.h"
#include "util/clock.h"
#include "util/log.h"

static rd_kafka_t *client(rd_kafka_type_t type, const char *boot,
                          const char *group)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", boot, errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK ||
        (group && rd_kafka_conf_set(conf, "group.id", group, errstr,
                                    sizeof(errstr)) != RD_KAFKA_CONF_OK) ||
        (type == RD_KAFKA_PRODUCER &&
         rd_kafka_conf_set(conf, "linger.ms", "5", errstr, sizeof(errstr)) !=
             RD_KAFKA_CONF_OK)) {
        fprintf(stderr, "bench_lag: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "bench_lag: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

static int produce_all(const char *boot, int topics, int parts, int msgs)
{
    rd_kafka_t *rk = client(RD_KAFKA_PRODUCER, boot, NULL);
    if (!rk)
        return -1;
    int64_t base = clock_wall_ms() - 3600000;
    for (int t = 0; t < topics; t++) {
        char topic[32];
        snprintf(topic, sizeof(topic), "topic%04d", t);
        for (int p = 0; p < parts; p++) {
            for (int m = 0; m < msgs; m++) {
                rd_kafka_resp_err_t err;
                do {
                    err = rd_kafka_producev(
                        rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(p),
                        RD_KAFKA_V_VALUE("x", 1),
                        RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                        RD_KAFKA_V_TIMESTAMP(base + p * 10 + m * 1000),
                        RD_KAFKA_V_END);
                    if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL)
                        rd_kafka_poll(rk, 10);
                } while (err == RD_KAFKA_RESP_ERR__QUEUE_FULL);
                if (err) {
                    fprintf(stderr, "bench_lag: produce: %s\n",
                            rd_kafka_err2str(err));
                    rd_kafka_destroy(rk);
                    return -1;
                }
            }
        }
    }
    rd_kafka_resp_err_t err = rd_kafka_flush(rk, 120000);
    rd_kafka_destroy(rk);
    if (err) {
        fprintf(stderr, "bench_lag: flush: %s\n", rd_kafka_err2str(err));
        return -1;
    }
    return 0;
}

static int commit_all(const char *boot, int topics, int parts, int groups,
                      int msgs)
{
    for (int g = 0; g < groups; g++) {
        char group[32], topic[32];
        snprintf(group, sizeof(group), "group%04d", g);
        snprintf(topic, sizeof(topic), "topic%04d", g % topics);
        rd_kafka_t *rk = client(RD_KAFKA_CONSUMER, boot, group);
        if (!rk)
            return -1;
        rd_kafka_topic_partition_list_t *l =
            rd_kafka_topic_partition_list_new(parts);
        for (int p = 0; p < parts; p++)
            rd_kafka_topic_partition_list_add(l, topic, p)->offset =
                (g / topics + p) % (msgs - 1);
        rd_kafka_resp_err_t err = rd_kafka_commit(rk, l, 0);
        rd_kafka_topic_partition_list_destroy(l);
        rd_kafka_destroy(rk);
        if (err) {
            fprintf(stderr, "bench_lag: commit %s: %s\n", group,
                    rd_kafka_err2str(err));
            return -1;
        }
    }
    return 0;
}

static void report(const char *what, int64_t ms,
                   const struct kafka_lag_stats *a,
                   const struct kafka_lag_stats *b,
                   const struct kafka_lag_cluster *c)
{
    size_t gp = 0;
    for (size_t g = 0; g < c->n_groups; g++)
        for (size_t t = 0; t < c->groups[g].n_topics; t++)
            gp += c->groups[g].topics[t].n_parts;
    printf("%s sweep: %" PRId64 " ms, %zu group-partitions; requests: "
           "metadata %" PRIu64 ", OffsetFetch %" PRIu64 " (%" PRIu64
           " without a partition list), ListOffsets %" PRIu64 " (%" PRIu64
           " earliest), reader handles %" PRIu64 ", reader messages %" PRIu64
           "; cache hits %" PRIu64 ", misses %" PRIu64 "\n",
           what, ms, gp, b->req_metadata - a->req_metadata,
           b->req_offset_fetch - a->req_offset_fetch,
           b->req_offset_fetch_all - a->req_offset_fetch_all,
           b->req_list_offsets - a->req_list_offsets,
           b->req_list_offsets_earliest - a->req_list_offsets_earliest,
           b->reader_assigns - a->reader_assigns,
           b->reader_messages - a->reader_messages,
           b->cache_hits - a->cache_hits, b->cache_misses - a->cache_misses);
    printf("  steps (ms): groups+metadata %" PRId64 ", OffsetFetch %" PRId64
           ", ListOffsets %" PRId64 ", reader %" PRId64 ", assemble %" PRId64
           "; reader seeks %" PRIu64 "\n",
           b->last_groups_ms, b->last_offset_fetch_ms, b->last_list_offsets_ms,
           b->last_timestamps_ms, b->last_assemble_ms,
           b->reader_seeks - a->reader_seeks);
}

/* argv[i] as a positive int, dflt when absent, 0 when it is not one (the
 * range check below reports it). */
static int arg_int(int argc, char **argv, int i, int dflt)
{
    if (argc <= i)
        return dflt;
    char *end;
    errno = 0;
    long v = strtol(argv[i], &end, 10);
    if (errno || end == argv[i] || *end || v < 1 || v > INT_MAX)
        return 0;
    return (int)v;
}

int main(int argc, char **argv)
{
    int topics = arg_int(argc, argv, 1, 20);
    int parts = arg_int(argc, argv, 2, 500);
    int groups = arg_int(argc, argv, 3, 50);
    int msgs = arg_int(argc, argv, 4, 10);
    if (topics < 1 || parts < 1 || groups < 1 || msgs < 2 || topics > 9999 ||
        groups > 9999) {
        fprintf(stderr, "usage: bench_lag [TOPICS [PARTITIONS [GROUPS "
                        "[MESSAGES]]]]\n");
        return 2;
    }
    int rc = 1;
    char errstr[512];
    rd_kafka_t *host = NULL;
    rd_kafka_mock_cluster_t *mc = NULL;
    struct kafka_lag *kl = NULL;
    struct kafka_lag_cluster *c = NULL;
    struct cfg_kafka_group *cg = calloc((size_t)groups, sizeof(*cg));
    char(*names)[32] = calloc((size_t)groups, sizeof(*names));
    if (!cg || !names)
        goto out;

    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!host) {
        rd_kafka_conf_destroy(conf);
        goto out;
    }
    mc = rd_kafka_mock_cluster_new(host, 3);
    if (!mc)
        goto out;
    for (int t = 0; t < topics; t++) {
        char topic[32];
        snprintf(topic, sizeof(topic), "topic%04d", t);
        if (rd_kafka_mock_topic_create(mc, topic, parts, 3) != 0)
            goto out;
    }
    char *boot = (char *)rd_kafka_mock_cluster_bootstraps(mc);
    int64_t t0 = (int64_t)clock_mono_ms();
    if (produce_all(boot, topics, parts, msgs) != 0 ||
        commit_all(boot, topics, parts, groups, msgs) != 0)
        goto out;
    printf("setup: %d topics x %d partitions, %d groups, %d messages per "
           "partition: %" PRId64 " ms\n",
           topics, parts, groups, msgs, (int64_t)clock_mono_ms() - t0);

    for (int g = 0; g < groups; g++) {
        snprintf(names[g], sizeof(names[g]), "group%04d", g);
        cg[g].name = names[g];
    }
    char *brokers[] = {boot};
    struct cfg_kafka cfg = {.name = "bench",
                            .brokers = brokers,
                            .n_brokers = 1,
                            .groups = cg,
                            .n_groups = (size_t)groups};
    kl = kafka_lag_new(&cfg, errstr, sizeof(errstr));
    if (!kl) {
        fprintf(stderr, "bench_lag: %s\n", errstr);
        goto out;
    }
    const char *what[] = {"cold", "warm", "warm"};
    for (int i = 0; i < 3; i++) {
        struct kafka_lag_stats before = *kafka_lag_stats(kl);
        t0 = (int64_t)clock_mono_ms();
        int src = kafka_lag_sweep(kl, 300000, &c);
        int64_t ms = (int64_t)clock_mono_ms() - t0;
        if (src != 0) {
            fprintf(stderr, "bench_lag: %s\n", c->error);
            goto out;
        }
        report(what[i], ms, &before, kafka_lag_stats(kl), c);
        kafka_lag_cluster_free(&c);
    }
    /* Peak RSS of the whole process: the mock cluster (which holds every
     * message and commit) and the client included. */
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        printf("peak RSS: %ld KiB (this process: mock cluster, producer, "
               "lag sweeper)\n",
               ru.ru_maxrss);
    rc = 0;
out:
    kafka_lag_cluster_free(&c);
    t0 = (int64_t)clock_mono_ms();
    kafka_lag_free(&kl);
    if (mc)
        rd_kafka_mock_cluster_destroy(mc);
    if (host)
        rd_kafka_destroy(host);
    free(cg);
    free(names);
    return rc;
}
