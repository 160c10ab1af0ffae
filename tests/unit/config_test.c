/*
 * config_test: loading, defaults, validation errors (with positions),
 * ${VAR} expansion, printing and the known-key list.
 *
 * Fixtures live in $srcdir/tests/fixtures/config (srcdir defaults to ".").
 * Every file in bad/ starts with "# error: FILE:LINE:COL: message", the
 * exact text config_load must report, FILE standing for the path.
 */
#include "config.h"

#include <dirent.h>
#include <stdlib.h>
#include <unistd.h>

#include "tests/lib/tap.h"

#define FIXTURES "tests/fixtures/config"

static void fixture(char *out, size_t n, const char *name)
{
    const char *srcdir = getenv("srcdir");
    snprintf(out, n, "%s/%s/%s", srcdir ? srcdir : ".", FIXTURES, name);
}

/* Writes text to a fresh temp file; returns its path in out. */
static int write_temp(char *out, size_t n, const char *text, size_t len)
{
    snprintf(out, n, "/tmp/lagwatch-config-test-XXXXXX");
    int fd = mkstemp(out);
    if (fd < 0)
        return -1;
    ssize_t w = write(fd, text, len);
    close(fd);
    return w == (ssize_t)len ? 0 : -1;
}

static char *print_to_string(const struct config *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem)
        return NULL;
    config_print(cfg, mem);
    fclose(mem);
    return text;
}

TAP_CASE(spec_example)
{
    char path[512], pass[64], err[512] = "";
    static const char secret[] = "s3cret-pw\n";
    TAP_OK(write_temp(pass, sizeof(pass), secret, strlen(secret)) == 0);
    setenv("LAGWATCH_TEST_PASSFILE", pass, 1);
    fixture(path, sizeof(path), "spec-example.yml");
    struct config *cfg = config_load(path, err, sizeof(err));
    unlink(pass);
    unsetenv("LAGWATCH_TEST_PASSFILE");
    if (!cfg)
        printf("# %s\n", err);
    TAP_OK(cfg != NULL);
    TAP_EQ_STR(path, cfg->path);

    TAP_EQ_STR("agent-1", cfg->agent.name);
    TAP_EQ_U64(15000, cfg->agent.interval_ms);
    TAP_EQ_STR("127.0.0.1:9743", cfg->agent.listen);
    TAP_EQ_STR("/var/lib/lagwatch/spool", cfg->agent.spool_dir);
    TAP_EQ_U64(1ULL << 30, cfg->agent.spool_max_bytes);
    TAP_EQ_STR("info", cfg->agent.log_level);
    TAP_EQ_U64(10000, cfg->agent.scrape_timeout_ms);
    TAP_EQ_U64(64ULL << 20, cfg->agent.max_response_bytes);
    TAP_EQ_INT(16, cfg->agent.scrape_concurrency);

    TAP_EQ_INT(1, cfg->n_flink);
    TAP_EQ_STR("prod", cfg->flink[0].name);
    TAP_EQ_STR("http://jobmanager:8081", cfg->flink[0].rest_url);
    TAP_EQ_INT(1, cfg->flink[0].n_reporters);
    TAP_EQ_STR("http://taskmanager-1:9249/metrics", cfg->flink[0].reporters[0]);
    TAP_EQ_INT(9249, cfg->flink[0].discover_port);
    TAP_EQ_INT(8, cfg->flink[0].rest_concurrency);

    TAP_EQ_INT(1, cfg->n_kafka);
    const struct cfg_kafka *k = &cfg->kafka[0];
    TAP_EQ_STR("main", k->name);
    TAP_EQ_INT(2, k->n_brokers);
    TAP_EQ_STR("kafka-1:9092", k->brokers[0]);
    TAP_EQ_STR("kafka-2:9092", k->brokers[1]);
    TAP_EQ_INT(2, k->n_groups);
    TAP_EQ_STR("orders-enrich", k->groups[0].name);
    TAP_OK(k->groups[0].pattern == NULL);
    /* Normalized the way the ring and the reporter do. */
    TAP_EQ_STR("orders_enrich", k->groups[0].job);
    TAP_OK(k->groups[1].name == NULL);
    TAP_EQ_STR("^flink-.*", k->groups[1].pattern);
    TAP_OK(k->groups[1].job == NULL);
    TAP_EQ_INT(1, k->n_properties);
    TAP_EQ_STR("security.protocol", k->properties[0].key);
    TAP_EQ_STR("SASL_SSL", k->properties[0].value);
    TAP_OK(!k->lag_from_earliest);

    const struct cfg_trim *t = &cfg->trim;
    TAP_EQ_INT(4, t->n_drop_labels);
    TAP_EQ_STR("task_attempt_id", t->drop_labels[0]);
    TAP_EQ_STR("task_attempt_num", t->drop_labels[1]);
    TAP_EQ_STR("tm_id", t->drop_labels[2]);
    TAP_EQ_STR("host", t->drop_labels[3]);
    TAP_EQ_STR("flink_taskmanager_job_.*", t->drop_labels_match);
    TAP_EQ_INT(3, t->n_fold_metrics);
    TAP_EQ_STR("numRecords.*", t->fold_metrics[0]);
    TAP_EQ_STR("numBytes.*", t->fold_metrics[1]);
    TAP_EQ_STR(".*TimeMsPerSecond", t->fold_metrics[2]);
    TAP_EQ_INT(3, t->n_fold_fields);
    TAP_EQ_STR("max", t->fold_fields[0]);
    TAP_EQ_STR("sum", t->fold_fields[1]);
    TAP_EQ_STR("avg", t->fold_fields[2]);
    TAP_EQ_INT(0, t->n_relabel);
    TAP_EQ_U64(1000000, t->max_series);
    TAP_EQ_U64(4096, t->max_label_bytes);

    const struct cfg_influx *in = &cfg->influx;
    TAP_OK(in->enabled);
    TAP_EQ_STR("flink", in->database);
    TAP_OK(in->retention_policy == NULL);
    TAP_EQ_INT(1, in->n_shard_by);
    TAP_EQ_STR("job_name", in->shard_by[0]);
    TAP_EQ_INT(1000, in->vnodes);
    TAP_EQ_INT(1, in->replicas);
    TAP_EQ_INT(5000, in->batch_size);
    TAP_EQ_U64(1000, in->flush_interval_ms);
    TAP_EQ_U64(10000, in->timeout_ms);
    TAP_EQ_INT(3, in->max_retries);
    TAP_EQ_U64(64ULL << 20, in->queue_max_bytes);
    TAP_OK(in->create_database);
    TAP_OK(in->gzip);
    TAP_EQ_STR("lagwatch", in->username);
    TAP_EQ_STR(pass, in->password_file);
    TAP_OK(in->password_env == NULL);
    TAP_EQ_STR("s3cret-pw", in->password);
    TAP_EQ_INT(2, in->n_nodes);
    TAP_EQ_STR("influx-a", in->nodes[0].name);
    TAP_EQ_STR("http://10.0.0.1:8086", in->nodes[0].url);
    TAP_EQ_INT(1, in->nodes[0].weight);
    TAP_EQ_STR("influx-b", in->nodes[1].name);
    TAP_EQ_STR("http://10.0.0.2:8086", in->nodes[1].url);
    TAP_EQ_INT(1, in->nodes[1].weight);

    TAP_OK(cfg->remote_write.enabled);
    TAP_EQ_STR("http://prometheus:9090/api/v1/write", cfg->remote_write.url);
    TAP_EQ_U64(10000, cfg->remote_write.timeout_ms);

    char *text = print_to_string(cfg);
    config_free(&cfg);
    TAP_OK(cfg == NULL);
    TAP_OK(text != NULL);
    printf("# printed:\n");
    for (char *l = text, *e; *l; l = e + 1) {
        e = strchr(l, '\n');
        printf("#   %.*s\n", (int)(e - l), l);
    }
    bool ok = strstr(text, "password: (set)\n") && !strstr(text, "s3cret") &&
              strstr(text, "  interval: 15s\n") &&
              strstr(text, "  spool_max_bytes: 1GiB\n") &&
              strstr(text, "      - http") == NULL &&
              strstr(text, "    reporters: [http://taskmanager-1:9249/"
                           "metrics]\n") &&
              strstr(text, "    rest_url: http://jobmanager:8081\n") &&
              strstr(text, "    brokers: [kafka-1:9092, kafka-2:9092]\n") &&
              strstr(text, "      - pattern: \"^flink-.*\"\n") &&
              strstr(text, "      - name: influx-a\n"
                           "        url: http://10.0.0.1:8086\n"
                           "        weight: 1\n") &&
              strstr(text, "    shard_by: [job_name]\n") &&
              strstr(text, "    vnodes: 1000\n");
    free(text);
    TAP_OK(ok);
}

TAP_CASE(every_key_set)
{
    char path[512], err[512] = "";
    setenv("LAGWATCH_TEST_PW", "env-secret", 1);
    fixture(path, sizeof(path), "full.yml");
    struct config *cfg = config_load(path, err, sizeof(err));
    unsetenv("LAGWATCH_TEST_PW");
    if (!cfg)
        printf("# %s\n", err);
    TAP_OK(cfg != NULL);
    const struct cfg_agent *a = &cfg->agent;
    TAP_EQ_STR("edge-7", a->name);
    TAP_EQ_U64(90000, a->interval_ms);
    TAP_EQ_STR("[::1]:0", a->listen);
    TAP_EQ_STR("/tmp/lagwatch-spool", a->spool_dir);
    TAP_EQ_U64(10000000, a->spool_max_bytes);
    TAP_EQ_STR("debug", a->log_level);
    TAP_EQ_U64(45000, a->scrape_timeout_ms);
    TAP_EQ_U64(512 * 1024, a->max_response_bytes);
    TAP_EQ_INT(4, a->scrape_concurrency);

    TAP_EQ_INT(2, cfg->n_flink);
    TAP_OK(cfg->flink[0].rest_url == NULL);
    TAP_EQ_INT(2, cfg->flink[0].n_reporters);
    TAP_EQ_STR("https://tm-2:9250/", cfg->flink[0].reporters[1]);
    TAP_EQ_INT(0, cfg->flink[0].discover_port);
    TAP_EQ_INT(2, cfg->flink[0].rest_concurrency);
    TAP_EQ_STR("https://jm.example.com", cfg->flink[1].rest_url);
    TAP_EQ_INT(0, cfg->flink[1].n_reporters);
    TAP_EQ_INT(9249, cfg->flink[1].discover_port);
    TAP_EQ_INT(8, cfg->flink[1].rest_concurrency);

    const struct cfg_kafka *k = &cfg->kafka[0];
    TAP_OK(k->lag_from_earliest);
    TAP_EQ_STR("^g-[0-9]+$", k->groups[0].pattern);
    TAP_EQ_STR("my_job_v2", k->groups[0].job);
    TAP_EQ_INT(3, k->n_properties);
    TAP_EQ_STR("sasl.password", k->properties[1].key);
    TAP_EQ_STR("hunter2", k->properties[1].value);
    TAP_EQ_STR("fetch.wait.max.ms", k->properties[2].key);
    TAP_EQ_STR("100", k->properties[2].value);

    const struct cfg_trim *t = &cfg->trim;
    TAP_EQ_INT(0, t->n_drop_labels);
    TAP_EQ_STR("flink_.*", t->drop_labels_match);
    TAP_EQ_INT(0, t->n_fold_metrics);
    TAP_EQ_INT(1, t->n_fold_fields);
    TAP_EQ_STR("max", t->fold_fields[0]);
    TAP_EQ_U64(5000, t->max_series);
    TAP_EQ_U64(1024, t->max_label_bytes);
    TAP_EQ_INT(4, t->n_relabel);
    const struct cfg_relabel *r = t->relabel;
    TAP_EQ_INT(RELABEL_REPLACE, r[0].action);
    TAP_EQ_INT(2, r[0].n_source_labels);
    TAP_EQ_STR("task_name", r[0].source_labels[1]);
    TAP_EQ_STR("/", r[0].separator);
    TAP_EQ_STR("(.+)/(.+)", r[0].regex);
    TAP_EQ_STR("job_task", r[0].target_label);
    /* Prometheus templates are not environment references. */
    TAP_EQ_STR("${1}-$2", r[0].replacement);
    TAP_EQ_INT(38, r[0].line);
    TAP_EQ_INT(7, r[0].col);
    TAP_EQ_INT(RELABEL_HASHMOD, r[1].action);
    TAP_EQ_U64(8, r[1].modulus);
    TAP_EQ_STR(";", r[1].separator);
    TAP_EQ_STR("(.*)", r[1].regex);
    TAP_EQ_STR("$1", r[1].replacement);
    TAP_EQ_INT(RELABEL_LABELDROP, r[2].action);
    TAP_EQ_STR("tmp_.*", r[2].regex);
    TAP_OK(r[2].target_label == NULL);
    TAP_EQ_INT(RELABEL_KEEP, r[3].action);
    TAP_EQ_INT(49, r[3].line);

    const struct cfg_influx *in = &cfg->influx;
    TAP_EQ_STR("metrics", in->database);
    TAP_EQ_STR("autogen", in->retention_policy);
    TAP_EQ_INT(2, in->n_shard_by);
    TAP_EQ_STR("flink_cluster", in->shard_by[0]);
    TAP_EQ_INT(100000, in->vnodes);
    TAP_EQ_INT(2, in->replicas);
    TAP_EQ_INT(1, in->batch_size);
    TAP_EQ_U64(250, in->flush_interval_ms);
    TAP_EQ_U64(2000, in->timeout_ms);
    TAP_EQ_INT(0, in->max_retries);
    TAP_EQ_U64(1000000000ULL, in->queue_max_bytes);
    TAP_OK(!in->create_database);
    TAP_OK(!in->gzip);
    TAP_EQ_STR("writer", in->username);
    TAP_OK(in->password_file == NULL);
    TAP_EQ_STR("LAGWATCH_TEST_PW", in->password_env);
    TAP_EQ_STR("env-secret", in->password);
    TAP_EQ_STR("https://influx-1.example.com:8086/prefix", in->nodes[0].url);
    TAP_EQ_INT(3, in->nodes[0].weight);
    TAP_EQ_STR("http://[fd00::2]:8086", in->nodes[1].url);
    TAP_EQ_INT(1, in->nodes[1].weight);
    TAP_EQ_U64(30000, cfg->remote_write.timeout_ms);

    char *text = print_to_string(cfg);
    config_free(&cfg);
    TAP_OK(text != NULL);
    bool ok = !strstr(text, "hunter2") && !strstr(text, "env-secret") &&
              strstr(text, "      sasl.password: (set)\n") &&
              strstr(text, "    password: (set)\n") &&
              strstr(text, "  interval: 1m30s\n") &&
              strstr(text, "    replacement: \"${1}-$2\"\n") &&
              strstr(text, "    discover_reporters:\n      port: 9249\n");
    free(text);
    TAP_OK(ok);
}

TAP_CASE(defaults)
{
    char path[512], err[512] = "", host[256];
    fixture(path, sizeof(path), "minimal.yml");
    struct config *cfg = config_load(path, err, sizeof(err));
    if (!cfg)
        printf("# %s\n", err);
    TAP_OK(cfg != NULL);
    TAP_OK(gethostname(host, sizeof(host)) == 0);
    TAP_EQ_STR(host, cfg->agent.name);
    TAP_EQ_U64(15000, cfg->agent.interval_ms);
    TAP_EQ_STR("127.0.0.1:9743", cfg->agent.listen);
    TAP_EQ_STR("/var/lib/lagwatch/spool", cfg->agent.spool_dir);
    TAP_EQ_U64(1ULL << 30, cfg->agent.spool_max_bytes);
    TAP_EQ_STR("info", cfg->agent.log_level);
    TAP_EQ_U64(10000, cfg->agent.scrape_timeout_ms);
    TAP_EQ_U64(64ULL << 20, cfg->agent.max_response_bytes);
    TAP_EQ_INT(16, cfg->agent.scrape_concurrency);
    TAP_EQ_INT(8, cfg->flink[0].rest_concurrency);
    TAP_EQ_INT(0, cfg->flink[0].discover_port);
    TAP_EQ_INT(0, cfg->n_kafka);
    TAP_EQ_INT(4, cfg->trim.n_drop_labels);
    TAP_EQ_STR("host", cfg->trim.drop_labels[3]);
    TAP_EQ_STR("flink_taskmanager_job_.*", cfg->trim.drop_labels_match);
    TAP_EQ_INT(3, cfg->trim.n_fold_metrics);
    TAP_EQ_STR(".*TimeMsPerSecond", cfg->trim.fold_metrics[2]);
    TAP_EQ_INT(3, cfg->trim.n_fold_fields);
    TAP_EQ_INT(0, cfg->trim.n_relabel);
    TAP_EQ_U64(1000000, cfg->trim.max_series);
    TAP_EQ_U64(4096, cfg->trim.max_label_bytes);
    TAP_OK(!cfg->influx.enabled);
    TAP_OK(!cfg->remote_write.enabled);
    TAP_OK(cfg->influx.password == NULL);
    char *text = print_to_string(cfg);
    config_free(&cfg);
    TAP_OK(text != NULL);
    bool ok = !strstr(text, "influxdb") && !strstr(text, "remote_write") &&
              !strstr(text, "discover_reporters");
    free(text);
    TAP_OK(ok);
}

static struct config *load_str(const char *yaml, char *err, size_t n)
{
    return config_load_string("t.yml", yaml, strlen(yaml), err, n);
}

static const struct {
    const char *yaml;
    const char *want_err; /* NULL: loads */
    uint64_t timeout_ms;
} interval_cases[] = {
    /* scrape_timeout follows a short interval unless set. */
    {"agent: {interval: 5s}\n", NULL, 5000},
    {"agent: {interval: 5s, scrape_timeout: 2s}\n", NULL, 2000},
    {"agent: {interval: 1m}\n", NULL, 10000},
    {"agent: {interval: 10s, scrape_timeout: 10s}\n", NULL, 10000},
    {"agent: {interval: 5s, scrape_timeout: 10s}\n",
     "t.yml:1:39: 'agent.scrape_timeout' (10s) must not exceed "
     "'agent.interval' (5s)",
     0},
};

TAP_CASE(scrape_timeout_vs_interval)
{
    for (size_t i = 0; i < TAP_N(interval_cases); i++) {
        char err[512] = "";
        struct config *cfg = load_str(interval_cases[i].yaml, err, sizeof(err));
        if (interval_cases[i].want_err) {
            TAP_OK(cfg == NULL);
            TAP_EQ_STR(interval_cases[i].want_err, err);
            continue;
        }
        if (!cfg)
            printf("# %s\n", err);
        TAP_OK(cfg != NULL);
        uint64_t got = cfg->agent.scrape_timeout_ms;
        config_free(&cfg);
        TAP_EQ_U64(interval_cases[i].timeout_ms, got);
    }
}

TAP_CASE(trim_explicit_empty)
{
    char err[512] = "";
    struct config *cfg =
        load_str("trim:\n  drop_labels: []\n  fold_subtasks: {metrics: []}\n",
                 err, sizeof(err));
    TAP_OK(cfg != NULL);
    size_t nd = cfg->trim.n_drop_labels, nf = cfg->trim.n_fold_metrics;
    size_t nff = cfg->trim.n_fold_fields;
    config_free(&cfg);
    TAP_EQ_INT(0, nd);
    TAP_EQ_INT(0, nf);
    TAP_EQ_INT(3, nff);
    /* A present but empty trim section keeps every default. */
    cfg = load_str("trim: {}\n", err, sizeof(err));
    TAP_OK(cfg != NULL);
    nd = cfg->trim.n_drop_labels;
    nf = cfg->trim.n_fold_metrics;
    config_free(&cfg);
    TAP_EQ_INT(4, nd);
    TAP_EQ_INT(3, nf);
}

/* Expansion is wired into every scalar value, seen through a relabel
 * replacement (which may be empty); the expansion rules themselves are
 * envsubst_test's. Errors carry the value's position. */
static const struct {
    const char *value;
    const char *want;     /* NULL: error */
    const char *want_err; /* message after "t.yml:4:20: " */
} expand_cases[] = {
    {"x-${LW_A}-y", "x-alpha-y", NULL},
    {"${LW_UNSET:-}", "", NULL},
    {"$1", "$1", NULL},
    {"x${LW_UNSET}", NULL, "environment variable 'LW_UNSET' is not set"},
    {"${LW_A:-x", NULL, "unterminated '${' in '${LW_A:-x'"},
};

/* kafka[].groups[].job is normalized per code point, as Flink's reporter
 * filters the job_name of the job's own series and as the ring key is
 * built (lagwatch(8), RING): "caf\xc3\xa9" is "caf_", not "caf__", so
 * that the group's lag carries the job's tag and lands on its node. */
TAP_CASE(group_job_normalized_per_code_point)
{
    static const struct {
        const char *job, *want;
    } cases[] = {
        {"caf\xc3\xa9", "caf_"},
        {"\xc3\x9c"
         "berweisung caf\xc3\xa9",
         "_berweisung_caf_"},
        {"orders-enrich", "orders_enrich"},
        {"a:b_c9", "a:b_c9"},
        {"\xf0\x9f\x9a\x80 launch", "__launch"},
    };
    for (size_t i = 0; i < TAP_N(cases); i++) {
        char yaml[512], err[512] = "";
        snprintf(yaml, sizeof(yaml),
                 "kafka:\n  - name: k\n    brokers: [\"k:9092\"]\n"
                 "    groups:\n      - {name: g, job: \"%s\"}\n",
                 cases[i].job);
        struct config *cfg = load_str(yaml, err, sizeof(err));
        if (!cfg)
            printf("# %s\n", err);
        TAP_OK(cfg != NULL);
        char *got = strdup(cfg->kafka[0].groups[0].job);
        config_free(&cfg);
        TAP_EQ_STR(cases[i].want, got);
        free(got);
    }
}

TAP_CASE(env_expansion)
{
    setenv("LW_A", "alpha", 1);
    unsetenv("LW_UNSET");
    for (size_t i = 0; i < TAP_N(expand_cases); i++) {
        char yaml[256], err[512] = "", want_err[512];
        snprintf(yaml, sizeof(yaml),
                 "trim:\n  relabel_configs:\n    - target_label: t\n"
                 "      replacement: '%s'\n",
                 expand_cases[i].value);
        struct config *cfg = load_str(yaml, err, sizeof(err));
        printf("# value '%s'\n", expand_cases[i].value);
        if (!expand_cases[i].want) {
            TAP_OK(cfg == NULL);
            snprintf(want_err, sizeof(want_err), "t.yml:4:20: %s",
                     expand_cases[i].want_err);
            TAP_EQ_STR(want_err, err);
            continue;
        }
        if (!cfg)
            printf("# %s\n", err);
        TAP_OK(cfg != NULL);
        char *got = strdup(cfg->trim.relabel[0].replacement);
        config_free(&cfg);
        TAP_EQ_STR(expand_cases[i].want, got);
        free(got);
    }
}

TAP_CASE(env_expansion_typed_values_not_keys)
{
    char err[512] = "";
    setenv("LW_IV", "30s", 1);
    setenv("LW_VN", "77", 1);
    setenv("LW_KEY", "interval", 1);
    struct config *cfg = load_str(
        "agent: {interval: \"${LW_IV}\", name: \"${LW_NAME:-fallback}\"}\n"
        "sinks:\n  influxdb:\n    vnodes: ${LW_VN}\n"
        "    nodes: [{name: a, url: \"http://${LW_HOST:-localhost}:8086\"}]\n",
        err, sizeof(err));
    if (!cfg)
        printf("# %s\n", err);
    TAP_OK(cfg != NULL);
    uint64_t iv = cfg->agent.interval_ms;
    unsigned vn = cfg->influx.vnodes;
    bool name_ok = strcmp(cfg->agent.name, "fallback") == 0;
    bool url_ok =
        strcmp(cfg->influx.nodes[0].url, "http://localhost:8086") == 0;
    config_free(&cfg);
    TAP_EQ_U64(30000, iv);
    TAP_EQ_INT(77, vn);
    TAP_OK(name_ok);
    TAP_OK(url_ok);
    /* Keys are never expanded. */
    cfg = load_str("agent: {\"${LW_KEY}\": 15s}\n", err, sizeof(err));
    TAP_OK(cfg == NULL);
    TAP_EQ_STR("t.yml:1:9: unknown key '${LW_KEY}' in 'agent'", err);
    /* An expanded value is validated like a literal one. */
    setenv("LW_VN", "0", 1);
    cfg = load_str("sinks:\n  influxdb:\n    vnodes: ${LW_VN}\n"
                   "    nodes: [{name: a, url: \"http://a:1\"}]\n",
                   err, sizeof(err));
    TAP_OK(cfg == NULL);
    TAP_EQ_STR("t.yml:3:13: 'sinks.influxdb.vnodes' must be between 1 and "
               "100000, got '0'",
               err);
}

/* Walks bad/: each file states the exact error it must produce. */
TAP_CASE(bad_configs)
{
    char dir[512];
    fixture(dir, sizeof(dir), "bad");
    DIR *d = opendir(dir);
    TAP_OK(d != NULL);
    size_t n = 0, failed = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".yml") != 0)
            continue;
        char path[1024], line[1024], want[2048], err[1024] = "";
        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        FILE *fp = fopen(path, "r");
        if (!fp || !fgets(line, sizeof(line), fp) ||
            strncmp(line, "# error: FILE", 13) != 0) {
            printf("# %s: no '# error: FILE...' first line\n", path);
            if (fp)
                fclose(fp);
            failed++;
            continue;
        }
        fclose(fp);
        line[strcspn(line, "\n")] = '\0';
        snprintf(want, sizeof(want), "%s%s", path, line + 13);
        struct config *cfg = config_load(path, err, sizeof(err));
        n++;
        if (cfg) {
            printf("# %s: loaded, want error\n", path);
            config_free(&cfg);
            failed++;
        } else if (strcmp(want, err) != 0) {
            printf("# want: %s\n#  got: %s\n", want, err);
            failed++;
        }
    }
    closedir(d);
    printf("# %zu bad configs checked\n", n);
    TAP_EQ_INT(0, failed);
    TAP_OK(n >= 80);
}

TAP_CASE(file_limits)
{
    char err[512] = "", path[64], want[256];
    size_t big = CONFIG_MAX_FILE_BYTES + 1;
    char *text = malloc(big);
    TAP_OK(text != NULL);
    memset(text, '#', big);
    struct config *cfg =
        config_load_string("big.yml", text, big, err, sizeof(err));
    TAP_OK(cfg == NULL);
    TAP_EQ_STR("big.yml: configuration is larger than 4MiB", err);
    /* Exactly at the cap is accepted (all comment: empty). */
    cfg = config_load_string("big.yml", text, big - 1, err, sizeof(err));
    TAP_OK(cfg == NULL);
    TAP_EQ_STR("big.yml: configuration is empty", err);
    int rc = write_temp(path, sizeof(path), text, big);
    free(text);
    TAP_OK(rc == 0);
    cfg = config_load(path, err, sizeof(err));
    snprintf(want, sizeof(want), "%s: configuration is larger than 4MiB", path);
    unlink(path);
    TAP_OK(cfg == NULL);
    TAP_EQ_STR(want, err);

    TAP_OK(write_temp(path, sizeof(path), "", 0) == 0);
    cfg = config_load(path, err, sizeof(err));
    snprintf(want, sizeof(want), "%s: configuration is empty", path);
    unlink(path);
    TAP_OK(cfg == NULL);
    TAP_EQ_STR(want, err);

    cfg = config_load("/nonexistent/lagwatch.yml", err, sizeof(err));
    TAP_OK(cfg == NULL);
    TAP_EQ_STR("/nonexistent/lagwatch.yml: cannot open: No such file or "
               "directory",
               err);
}

TAP_CASE(password_file_newline)
{
    static const struct {
        const char *content;
        const char *want;
    } cases[] = {
        {"pw\n", "pw"},
        {"pw", "pw"},
        {"pw\r\n", "pw"},
        {" spaced pw \n", " spaced pw "},
    };
    for (size_t i = 0; i < TAP_N(cases); i++) {
        char pass[64], yaml[512], err[512] = "";
        TAP_OK(write_temp(pass, sizeof(pass), cases[i].content,
                          strlen(cases[i].content)) == 0);
        snprintf(yaml, sizeof(yaml),
                 "sinks:\n  influxdb:\n    password_file: %s\n"
                 "    nodes: [{name: a, url: \"http://a:8086\"}]\n",
                 pass);
        struct config *cfg = load_str(yaml, err, sizeof(err));
        unlink(pass);
        TAP_OK(cfg != NULL);
        char *got = strdup(cfg->influx.password);
        config_free(&cfg);
        TAP_EQ_STR(cases[i].want, got);
        free(got);
    }
    /* Only a newline: empty after stripping it. */
    char pass[64], yaml[512], err[512] = "", want[512];
    TAP_OK(write_temp(pass, sizeof(pass), "\n", 1) == 0);
    snprintf(yaml, sizeof(yaml),
             "sinks:\n  influxdb:\n    password_file: %s\n"
             "    nodes: [{name: a, url: \"http://a:8086\"}]\n",
             pass);
    struct config *cfg = load_str(yaml, err, sizeof(err));
    unlink(pass);
    snprintf(want, sizeof(want), "t.yml:3:20: password file '%s' is empty",
             pass);
    TAP_OK(cfg == NULL);
    TAP_EQ_STR(want, err);
    /* Read as every secret file is (util/secret.h): a line break left
     * after the one stripped is refused, as the endpoint's files are. */
    TAP_OK(write_temp(pass, sizeof(pass), "pw\n\n", 4) == 0);
    snprintf(yaml, sizeof(yaml),
             "sinks:\n  influxdb:\n    password_file: %s\n"
             "    nodes: [{name: a, url: \"http://a:8086\"}]\n",
             pass);
    cfg = load_str(yaml, err, sizeof(err));
    unlink(pass);
    snprintf(want, sizeof(want),
             "t.yml:3:20: password file '%s' contains a NUL byte or a line "
             "break inside the secret",
             pass);
    TAP_OK(cfg == NULL);
    TAP_EQ_STR(want, err);
}

/* Shared nodes may not be used to make the walk explode. */
TAP_CASE(alias_bomb)
{
    char err[512] = "";
    size_t cap = 64 * 1024 * 4;
    char *yaml = malloc(cap);
    TAP_OK(yaml != NULL);
    size_t len = (size_t)snprintf(yaml, cap,
                                  "kafka:\n  - &k {name: k, brokers: "
                                  "[\"k:9092\"], groups: [&g {name: g}");
    for (int i = 0; i < 2000; i++)
        len += (size_t)snprintf(yaml + len, cap - len, ", *g");
    len += (size_t)snprintf(yaml + len, cap - len, "]}\n");
    for (int i = 0; i < 2000; i++)
        len += (size_t)snprintf(yaml + len, cap - len, "  - *k\n");
    struct config *cfg = load_str(yaml, err, sizeof(err));
    free(yaml);
    TAP_OK(cfg == NULL);
    printf("# %s\n", err);
    TAP_OK(strstr(err, ": configuration is too complex (more than 200000 "
                       "nodes after alias expansion)") != NULL);
}

static const char *const spec_keys[] = {
    "agent",
    "agent.name",
    "agent.interval",
    "agent.listen",
    "agent.spool_dir",
    "agent.spool_max_bytes",
    "agent.log_level",
    "flink",
    "flink[].name",
    "flink[].rest_url",
    "flink[].reporters",
    "flink[].discover_reporters",
    "flink[].discover_reporters.port",
    "kafka",
    "kafka[].name",
    "kafka[].brokers",
    "kafka[].groups",
    "kafka[].groups[].name",
    "kafka[].groups[].job",
    "kafka[].groups[].pattern",
    "kafka[].properties",
    "trim",
    "trim.drop_labels",
    "trim.fold_subtasks",
    "trim.fold_subtasks.metrics",
    "trim.fold_subtasks.fields",
    "trim.relabel_configs",
    "trim.relabel_configs[].source_labels",
    "sinks",
    "sinks.influxdb",
    "sinks.influxdb.database",
    "sinks.influxdb.shard_by",
    "sinks.influxdb.vnodes",
    "sinks.influxdb.replicas",
    "sinks.influxdb.batch_size",
    "sinks.influxdb.flush_interval",
    "sinks.influxdb.username",
    "sinks.influxdb.password_file",
    "sinks.influxdb.nodes",
    "sinks.influxdb.nodes[].name",
    "sinks.influxdb.nodes[].url",
    "sinks.influxdb.nodes[].weight",
    "sinks.remote_write",
    "sinks.remote_write.url",
};

TAP_CASE(known_keys)
{
    size_t n = 0;
    const char *const *keys = config_known_keys(&n);
    TAP_OK(n > TAP_N(spec_keys));
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (strcmp(keys[i], keys[j]) == 0)
                TAP_FAIL_("duplicate known key '%s'", keys[i]);
    for (size_t i = 0; i < TAP_N(spec_keys); i++) {
        bool found = false;
        for (size_t j = 0; j < n && !found; j++)
            found = strcmp(spec_keys[i], keys[j]) == 0;
        if (!found)
            TAP_FAIL_("missing known key '%s'", spec_keys[i]);
    }
    /* Every key's parent section is itself a known key. */
    for (size_t i = 0; i < n; i++) {
        const char *dot = strrchr(keys[i], '.');
        if (!dot)
            continue;
        size_t plen = (size_t)(dot - keys[i]);
        if (plen > 2 && strncmp(dot - 2, "[]", 2) == 0)
            plen -= 2;
        bool found = false;
        for (size_t j = 0; j < n && !found; j++)
            found =
                strlen(keys[j]) == plen && strncmp(keys[j], keys[i], plen) == 0;
        if (!found)
            TAP_FAIL_("key '%s' has no parent section", keys[i]);
    }
}

/* Every known leaf key is really accepted by the parser in its section:
 * a wrong type for it must not be reported as an unknown key. */
TAP_CASE(known_keys_are_parsed)
{
    size_t n = 0;
    const char *const *keys = config_known_keys(&n);
    for (size_t i = 0; i < n; i++) {
        char yaml[512], err[512] = "";
        size_t len = 0, depth = 0;
        const char *p = keys[i];
        while (*p) {
            size_t seg = strcspn(p, ".");
            bool list = seg > 2 && strncmp(p + seg - 2, "[]", 2) == 0;
            len += (size_t)snprintf(yaml + len, sizeof(yaml) - len,
                                    "%*s%.*s:\n", (int)(2 * depth), "",
                                    (int)(list ? seg - 2 : seg), p);
            depth++;
            if (list) {
                len += (size_t)snprintf(yaml + len, sizeof(yaml) - len,
                                        "%*s-\n", (int)(2 * depth), "");
                depth++;
            }
            p += seg;
            if (*p == '.')
                p++;
        }
        /* Nest an unknown key under the last one: only that may be
         * reported as unknown. */
        len += (size_t)snprintf(yaml + len, sizeof(yaml) - len,
                                "%*szz_not_a_key: 1\n", (int)(2 * depth), "");
        struct config *cfg = load_str(yaml, err, sizeof(err));
        config_free(&cfg);
        if (strstr(err, "unknown key") && !strstr(err, "'zz_not_a_key'"))
            TAP_FAIL_("key '%s' rejected: %s", keys[i], err);
    }
}

static bool same_strv(char **a, size_t na, char **b, size_t nb)
{
    if (na != nb)
        return false;
    for (size_t i = 0; i < na; i++)
        if (strcmp(a[i], b[i]) != 0)
            return false;
    return true;
}

/* The shipped config loads, spells out the default trim rules, and
 * mentions every key the loader accepts. */
TAP_CASE(deploy_config)
{
    char path[512], err[512] = "";
    const char *srcdir = getenv("srcdir");
    snprintf(path, sizeof(path), "%s/deploy/lagwatch.yml",
             srcdir ? srcdir : ".");
    struct config *cfg = config_load(path, err, sizeof(err));
    if (!cfg)
        printf("# %s\n", err);
    TAP_OK(cfg != NULL);
    struct config *def = load_str("agent: {}\n", err, sizeof(err));
    TAP_OK(def != NULL);
    const struct cfg_trim *a = &cfg->trim, *b = &def->trim;
    bool same = same_strv(a->drop_labels, a->n_drop_labels, b->drop_labels,
                          b->n_drop_labels) &&
                same_strv(a->fold_metrics, a->n_fold_metrics, b->fold_metrics,
                          b->n_fold_metrics) &&
                same_strv(a->fold_fields, a->n_fold_fields, b->fold_fields,
                          b->n_fold_fields) &&
                strcmp(a->drop_labels_match, b->drop_labels_match) == 0 &&
                a->n_relabel == 0 && cfg->influx.enabled &&
                cfg->influx.n_nodes == 1 && cfg->n_flink == 1 &&
                cfg->n_kafka == 1;
    config_free(&cfg);
    config_free(&def);
    TAP_OK(same);

    FILE *fp = fopen(path, "r");
    TAP_OK(fp != NULL);
    static char text[65536];
    size_t len = fread(text, 1, sizeof(text) - 1, fp);
    fclose(fp);
    text[len] = '\0';
    size_t n;
    const char *const *keys = config_known_keys(&n);
    for (size_t i = 0; i < n; i++) {
        const char *leafname = strrchr(keys[i], '.');
        char want[128];
        leafname = leafname ? leafname + 1 : keys[i];
        snprintf(want, sizeof(want), "%.*s:", (int)strcspn(leafname, "["),
                 leafname);
        if (!strstr(text, want))
            TAP_FAIL_("deploy/lagwatch.yml does not mention '%s'", keys[i]);
    }
}

/* A v2 node: the token is read at load time, one trailing newline
 * stripped, and never printed; a token an HTTP header cannot carry is
 * refused; v1 nodes keep their defaults. */
TAP_CASE(influx_v2_node)
{
    char tok[64], yaml[1024], err[512] = "";
    TAP_OK(write_temp(tok, sizeof(tok), "tok-XYZ_123==\n", 14) == 0);
    snprintf(yaml, sizeof(yaml),
             "sinks:\n  influxdb:\n    nodes:\n"
             "      - {name: a, url: \"http://a:8086\"}\n"
             "      - {name: b, url: \"http://b:8428\", api: v2, org: ops, "
             "token_file: %s}\n"
             "      - {name: c, url: \"http://c:8086\", api: v1}\n",
             tok);
    struct config *cfg = load_str(yaml, err, sizeof(err));
    if (!cfg)
        printf("# %s\n", err);
    TAP_OK(cfg != NULL);
    const struct cfg_influx *in = &cfg->influx;
    bool ok = in->n_nodes == 3 && in->nodes[0].api == NULL &&
              in->nodes[0].token == NULL && in->nodes[1].api &&
              strcmp(in->nodes[1].api, "v2") == 0 && in->nodes[1].org &&
              strcmp(in->nodes[1].org, "ops") == 0 &&
              in->nodes[1].bucket == NULL && in->nodes[1].token &&
              strcmp(in->nodes[1].token, "tok-XYZ_123==") == 0;
    char *text = print_to_string(cfg);
    config_free(&cfg);
    bool printed = text && strstr(text, "api: v2") &&
                   strstr(text, "org: ops") && strstr(text, "token_file: ") &&
                   !strstr(text, "tok-XYZ");
    free(text);
    TAP_OK(ok);
    TAP_OK(printed);

    /* a space cannot go into "Authorization: Token ..." */
    FILE *fp = fopen(tok, "w");
    TAP_OK(fp != NULL);
    fputs("two words\n", fp);
    fclose(fp);
    cfg = load_str(yaml, err, sizeof(err));
    unlink(tok);
    TAP_OK(cfg == NULL);
    TAP_OK(strstr(err, "t.yml:5:") && strstr(err, "token file") &&
           !strstr(err, "two words"));
}

static const struct tap_case cases[] = {
    TAP_ENTRY(spec_example),
    TAP_ENTRY(every_key_set),
    TAP_ENTRY(defaults),
    TAP_ENTRY(scrape_timeout_vs_interval),
    TAP_ENTRY(trim_explicit_empty),
    TAP_ENTRY(group_job_normalized_per_code_point),
    TAP_ENTRY(env_expansion),
    TAP_ENTRY(env_expansion_typed_values_not_keys),
    TAP_ENTRY(bad_configs),
    TAP_ENTRY(file_limits),
    TAP_ENTRY(password_file_newline),
    TAP_ENTRY(alias_bomb),
    TAP_ENTRY(known_keys),
    TAP_ENTRY(known_keys_are_parsed),
    TAP_ENTRY(deploy_config),
    TAP_ENTRY(influx_v2_node),
};

int main(int argc, char **argv)
{
    return tap_main(cases, TAP_N(cases), argc, argv);
}
