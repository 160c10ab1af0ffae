/*
 * config: the YAML configuration (/etc/lagwatch/lagwatch.yml), loaded into
 * plain structs with every default applied and every value validated.
 *
 * Key names are the product contract (lagwatch.yml(5)). Errors
 * are reported as "FILE:LINE:COL: message" (1-based line and column of the
 * offending node). Durations are stored in milliseconds, sizes in bytes.
 * "${VAR}" and "${VAR:-default}" in scalar values expand from the
 * environment; an unset variable without a default is an error.
 */
#ifndef AGENT_CONFIG_H
#define AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pipeline/relabel.h"

struct cfg_agent {
    char *name;                   /* default: the host name */
    uint64_t interval_ms;         /* default 15s */
    bool align;                   /* cycles on interval multiples, true */
    char *listen;                 /* default "127.0.0.1:9743" */
    char *spool_dir;              /* default "/var/lib/lagwatch/spool" */
    uint64_t spool_max_bytes;     /* default 1GiB */
    char *log_level;              /* default "info" */
    uint64_t scrape_timeout_ms;   /* default 10s; must be <= interval */
    uint64_t max_response_bytes;  /* default 64MiB per scrape response */
    unsigned scrape_concurrency;  /* default 16 */
    uint64_t shutdown_timeout_ms; /* SIGTERM drain deadline, default 30s */
    bool spool_fsync;             /* fsync each spooled batch, default true */
    unsigned max_connections;     /* HTTP endpoint, default 64 */
    char *tls_cert_file;          /* HTTP endpoint TLS, optional */
    char *tls_key_file;
    char *bearer_token_file; /* HTTP endpoint auth, optional */
    char *basic_auth_user;
    char *basic_auth_password_file;
};

struct cfg_flink {
    char *name;       /* tag flink_cluster; required, unique */
    char *rest_url;   /* optional */
    char **reporters; /* PrometheusReporter URLs */
    size_t n_reporters;
    unsigned discover_port;    /* discover_reporters: {port: N}; 0 = off */
    unsigned rest_concurrency; /* default 8 */
    /* busy ratio at or above which a task can be the job's bottleneck
     * (see flink_rest.h / task_timing.h), default 0.8 */
    double bottleneck_threshold;
};

struct cfg_kafka_group {
    char *name;    /* exactly one of name / pattern */
    char *pattern; /* anchored PCRE2 regex over group ids */
    char *job;     /* optional: job_name tag (normalized as the ring does) */
    char *exclude; /* optional, with pattern: anchored regex of group ids
                      the pattern must not take */
};

struct cfg_kv {
    char *key;
    char *value;
};

struct cfg_kafka {
    char *name; /* tag kafka_cluster; required, unique */
    char **brokers;
    size_t n_brokers;
    struct cfg_kafka_group *groups;
    size_t n_groups;
    struct cfg_kv *properties; /* passed to librdkafka as given */
    size_t n_properties;
    bool lag_from_earliest;  /* no committed offset: lag from earliest
                                (true) or skip and count (false, default) */
    uint64_t rate_window_ms; /* catch-up rates over this span; default 5m */
    /* Selection (lagwatch.yml(5), KAFKA), anchored regexes, NULL = none:
     * groups a pattern must not take, topics measured, topics not. */
    char *exclude_groups, *topics, *exclude_topics;
};

/* One entry of relabel_configs, Prometheus semantics and defaults. */
struct cfg_relabel {
    enum relabel_action action; /* default replace */
    char **source_labels;
    size_t n_source_labels;
    char *separator; /* default ";" */
    char *regex;     /* default "(.*)"; anchored at both ends */
    char *target_label;
    char *replacement; /* default "$1" */
    uint64_t modulus;  /* hashmod */
    int line, col;     /* position of the entry, for error messages */
};

struct cfg_trim {
    char **drop_labels; /* default task_attempt_id, task_attempt_num,
                           tm_id, host */
    size_t n_drop_labels;
    /* drop_labels applies to series whose name matches this anchored regex
     * (default "flink_taskmanager_job_.*": task and operator scope), so that
     * dropping host/tm_id never merges two TaskManagers' JVM series. */
    char *drop_labels_match;
    char **fold_metrics; /* anchored regexes over the Flink metric name */
    size_t n_fold_metrics;
    char **fold_fields; /* subset of max, sum, avg (default all three) */
    size_t n_fold_fields;
    /* fold_fields as SERIES_FOLD_* bits (pipeline/series_fold.h), what
     * every sink reads; 0 for an empty list, which means all three. */
    unsigned fold;
    struct cfg_relabel *relabel;
    size_t n_relabel;
    uint64_t max_series; /* cap on series kept per cycle, default 1000000 */
    uint64_t max_label_bytes; /* a label name or value longer than this
                                 drops the sample, default 4096 */
};

struct cfg_influx_node {
    char *name;       /* unique */
    char *url;        /* http(s)://host:port, no path other than a prefix */
    unsigned weight;  /* default 1, >= 1 */
    char *api;        /* "v1" (also when NULL) or "v2": see influx_api.h */
    char *org;        /* v2: required */
    char *bucket;     /* v2: optional, default database[/retention_policy] */
    char *token_file; /* v2: optional; read at load time */
    char *token;      /* resolved secret; never printed or logged */
};

struct cfg_influx {
    bool enabled;           /* false when sinks.influxdb is absent */
    char *database;         /* default "flink" */
    char *retention_policy; /* optional */
    char **shard_by;        /* default [job_name] */
    size_t n_shard_by;
    unsigned vnodes;            /* default 1000 */
    unsigned replicas;          /* default 1, <= number of nodes */
    unsigned batch_size;        /* points per request, default 5000 */
    uint64_t flush_interval_ms; /* default 1s */
    uint64_t timeout_ms;        /* per request, default 10s */
    unsigned max_retries;       /* per batch within a cycle, default 3 */
    uint64_t queue_max_bytes;   /* in-memory queue per node, default 64MiB */
    bool create_database;       /* create on 404, default true */
    bool gzip;                  /* default true */
    char *username;             /* optional */
    char *password_file;        /* optional; read at load time */
    char *password_env;         /* optional: name of an environment variable */
    char *password;             /* resolved secret; never printed or logged */
    struct cfg_influx_node *nodes;
    size_t n_nodes;
};

struct cfg_remote_write {
    bool enabled; /* false when sinks.remote_write is absent */
    char *url;
    uint64_t timeout_ms;      /* per request, default 10s */
    unsigned batch_size;      /* samples per request, default 2000 */
    unsigned max_retries;     /* without spool (5xx, 429, transport), 5 */
    uint64_t min_backoff_ms;  /* first retry delay, default 500ms */
    uint64_t max_backoff_ms;  /* cap of the doubling delay, default 30s */
    uint64_t queue_max_bytes; /* compressed requests in memory, 64MiB */
    char *username;           /* optional basic auth */
    char *password_file;      /* optional; read when the sink starts */
};

/* proxy: the InfluxDB-compatible endpoint for the ring (lagwatch(8),
 * PROXY); served by `lagwatch proxy`. */
struct cfg_proxy {
    bool enabled;                /* false when proxy: is absent */
    char *listen;                /* default "127.0.0.1:9744" */
    uint64_t timeout_ms;         /* per node request, default 30s */
    uint64_t max_response_bytes; /* per node answer, default 64MiB */
    unsigned threads;            /* HTTP threads, default 4 */
};

struct config {
    char *path;
    struct cfg_agent agent;
    struct cfg_flink *flink;
    size_t n_flink;
    struct cfg_kafka *kafka;
    size_t n_kafka;
    struct cfg_trim trim;
    struct cfg_influx influx;
    struct cfg_remote_write remote_write;
    struct cfg_proxy proxy;
};

/* Loads and validates FILE. On failure returns NULL and writes
 * "FILE:LINE:COL: message" (or "FILE: message") into err. */
struct config *config_load(const char *path, char *err, size_t errlen);
/* Same, from a string (path is used in messages only). */
struct config *config_load_string(const char *path, const char *text,
                                  size_t len, char *err, size_t errlen);
/* NULL-safe; sets *cfgp to NULL. */
void config_free(struct config **cfgp);
/* Prints the resolved configuration (targets, sinks; never the password)
 * for `lagwatch check`. */
void config_print(const struct config *cfg, FILE *out);
/* Every dotted key path the loader accepts ("agent.interval",
 * "flink[].reporters", "sinks.influxdb.nodes[].weight", ...), sections
 * included, in table order and without duplicates. The array is static;
 * *n receives its length. Any thread. */
const char *const *config_known_keys(size_t *n);

/* Larger configuration files are refused. */
#define CONFIG_MAX_FILE_BYTES (4u << 20)

#endif
