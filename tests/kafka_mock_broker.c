/*
 * kafka_mock_broker: a standalone Kafka test cluster on librdkafka's mock
 * cluster (rdkafka_mock.h), for the integration tests.
 *
 *   kafka_mock_broker --brokers N --topic NAME:PARTITIONS [--topic ...]
 *                     [--port-file F]
 *
 * Prints the bootstrap servers on one line to stdout (and into F, written
 * atomically through a temporary file so a reader never sees half a line),
 * then serves until SIGTERM or SIGINT.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#define MAX_TOPICS 256

static int usage(void)
{
    fprintf(stderr, "usage: kafka_mock_broker --brokers N "
                    "--topic NAME:PARTITIONS [--topic ...] "
                    "[--port-file F]\n");
    return 2;
}

static int parse_long(const char *s, long lo, long hi, long *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

static int write_port_file(const char *path, const char *line)
{
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    if (n < 0 || (size_t)n >= sizeof(tmp))
        return -1;
    FILE *f = fopen(tmp, "w");
    if (!f)
        return -1;
    int rc = fprintf(f, "%s\n", line) < 0 ? -1 : 0;
    if (fclose(f) != 0)
        rc = -1;
    if (rc == 0 && rename(tmp, path) != 0)
        rc = -1;
    return rc;
}

int main(int argc, char **argv)
{
    long brokers = 1;
    const char *port_file = NULL;
    char *topics[MAX_TOPICS];
    long parts[MAX_TOPICS];
    size_t ntopics = 0;
    int rc = 1;
    rd_kafka_t *rk = NULL;
    rd_kafka_mock_cluster_t *mc = NULL;

    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--brokers") == 0 && i + 1 < argc) {
            if (parse_long(argv[++i], 1, 64, &brokers) != 0)
                return usage();
        } else if (strcmp(argv[i], "--port-file") == 0 && i + 1 < argc) {
            port_file = argv[++i];
        } else if (strcmp(argv[i], "--topic") == 0 && i + 1 < argc) {
            char *spec = argv[++i];
            char *colon = strrchr(spec, ':');
            if (!colon || colon == spec || ntopics == MAX_TOPICS)
                return usage();
            *colon = '\0';
            if (parse_long(colon + 1, 1, 100000, &parts[ntopics]) != 0)
                return usage();
            topics[ntopics++] = spec;
        } else {
            return usage();
        }
    }

    /* Blocked before librdkafka starts its threads (they inherit the mask),
     * so the signals wait for sigwait() below instead of hitting a broker
     * thread. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    if (pthread_sigmask(SIG_BLOCK, &set, NULL) != 0) {
        fprintf(stderr, "kafka_mock_broker: cannot block signals\n");
        return 1;
    }

    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* The mock cluster needs a client instance to live in; this producer
     * never produces. */
    if (rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr)) !=
        RD_KAFKA_CONF_OK) {
        fprintf(stderr, "kafka_mock_broker: %s\n", errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
    if (!rk) {
        fprintf(stderr, "kafka_mock_broker: cannot create client: %s\n",
                errstr);
        rd_kafka_conf_destroy(conf);
        return 1;
    }
    mc = rd_kafka_mock_cluster_new(rk, (int)brokers);
    if (!mc) {
        fprintf(stderr, "kafka_mock_broker: cannot create mock cluster\n");
        goto out;
    }
    for (size_t i = 0; i < ntopics; i++) {
        int repl = brokers < 3 ? (int)brokers : 3;
        rd_kafka_resp_err_t err =
            rd_kafka_mock_topic_create(mc, topics[i], (int)parts[i], repl);
        if (err) {
            fprintf(stderr,
                    "kafka_mock_broker: cannot create topic '%s': "
                    "%s\n",
                    topics[i], rd_kafka_err2str(err));
            goto out;
        }
    }

    const char *boot = rd_kafka_mock_cluster_bootstraps(mc);
    printf("%s\n", boot);
    fflush(stdout);
    if (port_file && write_port_file(port_file, boot) != 0) {
        fprintf(stderr, "kafka_mock_broker: cannot write '%s': %s\n", port_file,
                strerror(errno));
        goto out;
    }
    int sig = 0;
    if (sigwait(&set, &sig) != 0) {
        fprintf(stderr, "kafka_mock_broker: sigwait failed\n");
        goto out;
    }
    rc = 0;
out:
    if (mc)
        rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(rk);
    return rc;
}
