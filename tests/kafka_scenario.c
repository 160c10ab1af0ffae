/*
 * kafka_scenario: sets up lag scenarios on a test cluster.
 *
 *   kafka_scenario --bootstrap B produce TOPIC PARTITION COUNT
 *                  [--ts-start MS] [--ts-step MS] [--size BYTES]
 *   kafka_scenario --bootstrap B commit GROUP TOPIC PARTITION OFFSET
 *                  [TOPIC PARTITION OFFSET ...]
 *
 * produce writes COUNT messages with CreateTime ts-start + i * ts-step
 * (default: now, step 0), each --size bytes long (default: a few; the
 * mock cluster keeps at most 5 MiB per partition and deletes the oldest
 * batches beyond that, which moves the log start like retention). commit
 * stores the offsets for GROUP: a plain
 * commit works while the group does not exist yet; once it does, brokers
 * (and the mock) refuse a commit from a non-member, so the tool then joins
 * the group by subscribing and commits as a member.
 *
 *   kafka_scenario --bootstrap B steady TOPIC PARTITION GROUP
 *                  PRODUCE_PER_S CONSUME_PER_S SECONDS [--ready FILE]
 *
 * steady is a producer and a consumer at known rates, for the catch-up
 * estimate: for SECONDS it keeps the partition's log end at
 * end0 + PRODUCE_PER_S * t and GROUP's committed offset at
 * committed0 + CONSUME_PER_S * t (never above the end), t counted from
 * the moment the group was joined (then FILE is written), in steps of
 * 50 ms; end0 and committed0 are read at the start.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#define MAX_COMMITS     100000
#define JOIN_TIMEOUT_MS 30000

static int usage(void)
{
    fprintf(stderr,
            "usage: kafka_scenario --bootstrap B produce TOPIC PARTITION "
            "COUNT [--ts-start MS] [--ts-step MS] [--size BYTES]\n"
            "       kafka_scenario --bootstrap B commit GROUP TOPIC "
            "PARTITION OFFSET [TOPIC PARTITION OFFSET ...]\n"
            "       kafka_scenario --bootstrap B steady TOPIC PARTITION "
            "GROUP PRODUCE_PER_S CONSUME_PER_S SECONDS [--ready FILE]\n");
    return 2;
}

static int parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static rd_kafka_t *client_new(rd_kafka_type_t type, const char *bootstrap,
                              const char *group)
{
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, errstr,
                          sizeof(errstr)) != RD_KAFKA_CONF_OK ||
        (group &&
         (rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof(errstr)) !=
              RD_KAFKA_CONF_OK ||
          rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr,
                            sizeof(errstr)) != RD_KAFKA_CONF_OK))) {
        fprintf(stderr, "kafka_scenario: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "kafka_scenario: cannot create client: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
    }
    return rk;
}

static int cmd_produce(const char *bootstrap, int argc, char **argv)
{
    int64_t partition, count, ts_start = now_ms(), ts_step = 0, size = 0;
    if (argc < 3 || parse_i64(argv[1], 0, INT32_MAX, &partition) != 0 ||
        parse_i64(argv[2], 1, 10000000, &count) != 0)
        return usage();
    for (int i = 3; i < argc; i++) {
        if (strcmp(argv[i], "--ts-start") == 0 && i + 1 < argc) {
            if (parse_i64(argv[++i], 0, INT64_MAX / 2, &ts_start) != 0)
                return usage();
        } else if (strcmp(argv[i], "--ts-step") == 0 && i + 1 < argc) {
            if (parse_i64(argv[++i], 0, 86400000, &ts_step) != 0)
                return usage();
        } else if (strcmp(argv[i], "--size") == 0 && i + 1 < argc) {
            if (parse_i64(argv[++i], 1, 900000, &size) != 0)
                return usage();
        } else {
            return usage();
        }
    }
    rd_kafka_t *rk = client_new(RD_KAFKA_PRODUCER, bootstrap, NULL);
    if (!rk)
        return 1;
    int rc = 1;
    char *big = size ? calloc(1, (size_t)size) : NULL;
    if (size && !big)
        goto out;
    for (int64_t i = 0; i < count; i++) {
        char small[64];
        int n = snprintf(small, sizeof(small), "m%" PRId64, i);
        char *val = small;
        if (big) {
            memset(big, 'x', (size_t)size);
            memcpy(big, small,
                   (size_t)n < (size_t)size ? (size_t)n : (size_t)size);
            val = big;
            n = (int)size;
        }
        rd_kafka_resp_err_t err;
        for (;;) {
            err = rd_kafka_producev(
                rk, RD_KAFKA_V_TOPIC(argv[0]),
                RD_KAFKA_V_PARTITION((int32_t)partition),
                RD_KAFKA_V_VALUE(val, (size_t)n),
                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_TIMESTAMP(ts_start + i * ts_step), RD_KAFKA_V_END);
            if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
                break;
            rd_kafka_poll(rk, 100);
        }
        if (err) {
            fprintf(stderr, "kafka_scenario: cannot produce to '%s': %s\n",
                    argv[0], rd_kafka_err2str(err));
            goto out;
        }
    }
    rd_kafka_resp_err_t err = rd_kafka_flush(rk, 30000);
    if (err) {
        fprintf(stderr, "kafka_scenario: cannot flush to '%s': %s\n", argv[0],
                rd_kafka_err2str(err));
        goto out;
    }
    rc = 0;
out:
    free(big);
    rd_kafka_destroy(rk);
    return rc;
}

/* Subscribes to every topic in offs and waits for an assignment, so that
 * the commit comes from a group member. */
static int join_group(rd_kafka_t *rk,
                      const rd_kafka_topic_partition_list_t *offs)
{
    rd_kafka_topic_partition_list_t *sub =
        rd_kafka_topic_partition_list_new(offs->cnt);
    for (int i = 0; i < offs->cnt; i++) {
        if (!rd_kafka_topic_partition_list_find(sub, offs->elems[i].topic,
                                                RD_KAFKA_PARTITION_UA))
            rd_kafka_topic_partition_list_add(sub, offs->elems[i].topic,
                                              RD_KAFKA_PARTITION_UA);
    }
    rd_kafka_resp_err_t err = rd_kafka_subscribe(rk, sub);
    rd_kafka_topic_partition_list_destroy(sub);
    if (err) {
        fprintf(stderr, "kafka_scenario: cannot subscribe: %s\n",
                rd_kafka_err2str(err));
        return -1;
    }
    int64_t deadline = now_ms() + JOIN_TIMEOUT_MS;
    while (now_ms() < deadline) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m)
            rd_kafka_message_destroy(m);
        rd_kafka_topic_partition_list_t *asg = NULL;
        if (rd_kafka_assignment(rk, &asg) == 0 && asg && asg->cnt > 0) {
            rd_kafka_topic_partition_list_destroy(asg);
            return 0;
        }
        if (asg)
            rd_kafka_topic_partition_list_destroy(asg);
    }
    fprintf(stderr, "kafka_scenario: cannot join group: timeout\n");
    return -1;
}

static int cmd_commit(const char *bootstrap, int argc, char **argv)
{
    if (argc < 4 || (argc - 1) % 3 != 0 || (argc - 1) / 3 > MAX_COMMITS)
        return usage();
    const char *group = argv[0];
    rd_kafka_topic_partition_list_t *offs =
        rd_kafka_topic_partition_list_new((argc - 1) / 3);
    for (int i = 1; i < argc; i += 3) {
        int64_t p, o;
        if (parse_i64(argv[i + 1], 0, INT32_MAX, &p) != 0 ||
            parse_i64(argv[i + 2], 0, INT64_MAX, &o) != 0) {
            rd_kafka_topic_partition_list_destroy(offs);
            return usage();
        }
        rd_kafka_topic_partition_list_add(offs, argv[i], (int32_t)p)->offset =
            o;
    }
    int rc = 1;
    rd_kafka_t *rk = client_new(RD_KAFKA_CONSUMER, bootstrap, group);
    if (!rk)
        goto out;
    rd_kafka_resp_err_t err = rd_kafka_commit(rk, offs, 0);
    if (err == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID ||
        err == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION) {
        if (join_group(rk, offs) != 0)
            goto out;
        err = rd_kafka_commit(rk, offs, 0);
    }
    if (!err) {
        for (int i = 0; i < offs->cnt && !err; i++)
            err = offs->elems[i].err;
    }
    if (err) {
        fprintf(stderr, "kafka_scenario: cannot commit for group '%s': %s\n",
                group, rd_kafka_err2str(err));
        goto out;
    }
    rc = 0;
out:
    if (rk) {
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    rd_kafka_topic_partition_list_destroy(offs);
    return rc;
}

/* Commits offs as a member of the consumer's group, joining it first when
 * the broker asks for that. */
static rd_kafka_resp_err_t commit_member(rd_kafka_t *rk,
                                         rd_kafka_topic_partition_list_t *offs,
                                         bool *joined)
{
    rd_kafka_resp_err_t err = rd_kafka_commit(rk, offs, 0);
    if (!*joined && (err == RD_KAFKA_RESP_ERR_UNKNOWN_MEMBER_ID ||
                     err == RD_KAFKA_RESP_ERR_ILLEGAL_GENERATION)) {
        if (join_group(rk, offs) != 0)
            return err;
        *joined = true;
        err = rd_kafka_commit(rk, offs, 0);
    }
    for (int i = 0; i < offs->cnt && !err; i++)
        err = offs->elems[i].err;
    return err;
}

static int cmd_steady(const char *bootstrap, int argc, char **argv)
{
    int64_t partition, prate, crate, secs;
    const char *ready = NULL;
    if (argc < 6 || parse_i64(argv[1], 0, INT32_MAX, &partition) != 0 ||
        parse_i64(argv[3], 0, 100000, &prate) != 0 ||
        parse_i64(argv[4], 0, 100000, &crate) != 0 ||
        parse_i64(argv[5], 1, 3600, &secs) != 0)
        return usage();
    for (int i = 6; i < argc; i++) {
        if (strcmp(argv[i], "--ready") == 0 && i + 1 < argc)
            ready = argv[++i];
        else
            return usage();
    }
    const char *topic = argv[0], *group = argv[2];
    int rc = 1;
    rd_kafka_topic_partition_list_t *offs =
        rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_t *tp =
        rd_kafka_topic_partition_list_add(offs, topic, (int32_t)partition);
    rd_kafka_t *prod = client_new(RD_KAFKA_PRODUCER, bootstrap, NULL);
    rd_kafka_t *cons = client_new(RD_KAFKA_CONSUMER, bootstrap, group);
    if (!prod || !cons)
        goto out;
    int64_t lo, end0;
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        prod, topic, (int32_t)partition, &lo, &end0, 10000);
    if (!err)
        err = rd_kafka_committed(cons, offs, 10000);
    if (!err)
        err = tp->err;
    if (err) {
        fprintf(stderr, "kafka_scenario: cannot read offsets of '%s': %s\n",
                topic, rd_kafka_err2str(err));
        goto out;
    }
    int64_t com0 = tp->offset < 0 ? 0 : tp->offset;
    bool joined = false;
    err = commit_member(cons, offs, &joined); /* join before the clock runs */
    if (err) {
        fprintf(stderr, "kafka_scenario: cannot commit for group '%s': %s\n",
                group, rd_kafka_err2str(err));
        goto out;
    }
    if (ready) {
        FILE *f = fopen(ready, "w");
        if (!f || fprintf(f, "%" PRId64 " %" PRId64 "\n", end0, com0) < 0 ||
            fclose(f) != 0) {
            fprintf(stderr, "kafka_scenario: cannot write %s\n", ready);
            goto out;
        }
    }
    int64_t t0 = now_ms(), produced = end0, committed = com0;
    for (;;) {
        int64_t el = now_ms() - t0;
        bool last = el >= secs * 1000;
        if (last)
            el = secs * 1000;
        int64_t want_p = end0 + prate * el / 1000;
        for (; produced < want_p; produced++) {
            err = rd_kafka_producev(prod, RD_KAFKA_V_TOPIC(topic),
                                    RD_KAFKA_V_PARTITION((int32_t)partition),
                                    RD_KAFKA_V_VALUE("s", 1),
                                    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                    RD_KAFKA_V_TIMESTAMP(now_ms()),
                                    RD_KAFKA_V_END);
            if (err == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
                rd_kafka_poll(prod, 10);
                produced--;
                continue;
            }
            if (err)
                break;
        }
        if (!err)
            err = rd_kafka_flush(prod, 10000);
        int64_t want_c = com0 + crate * el / 1000;
        if (want_c > produced)
            want_c = produced;
        if (!err && want_c > committed) {
            tp->offset = want_c;
            tp->err = 0;
            err = commit_member(cons, offs, &joined);
            committed = want_c;
        }
        if (err) {
            fprintf(stderr, "kafka_scenario: steady on '%s': %s\n", topic,
                    rd_kafka_err2str(err));
            goto out;
        }
        if (last)
            break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(cons, 50);
        if (m)
            rd_kafka_message_destroy(m);
    }
    printf("produced %" PRId64 " committed %" PRId64 "\n", produced, committed);
    rc = 0;
out:
    if (prod)
        rd_kafka_destroy(prod);
    if (cons) {
        rd_kafka_consumer_close(cons);
        rd_kafka_destroy(cons);
    }
    rd_kafka_topic_partition_list_destroy(offs);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 4 || strcmp(argv[1], "--bootstrap") != 0)
        return usage();
    if (strcmp(argv[3], "produce") == 0)
        return cmd_produce(argv[2], argc - 4, argv + 4);
    if (strcmp(argv[3], "commit") == 0)
        return cmd_commit(argv[2], argc - 4, argv + 4);
    if (strcmp(argv[3], "steady") == 0)
        return cmd_steady(argv[2], argc - 4, argv + 4);
    return usage();
}
