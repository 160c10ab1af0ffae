/*
 * The loader is driven by one table (CONFIG_TABLE below): every accepted key
 * path with its type, storage offset and range. The same table drives
 * parsing, the unknown-key error and its suggestion, freeing, printing
 * (config_print.c) and config_known_keys(), so none of them can drift from
 * the others. Checks that involve several keys live in per-section and
 * per-entry hooks (config_check.c, and the node hooks below, next to the
 * node keys), which get the YAML node so that their errors point at the
 * right line. Values are checked with util/validate.h and util/regex.h,
 * ${VAR} expanded with util/envsubst.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "config_int.h"
#include "pipeline/series_fold.h"
#include "route/router.h"
#include "util/envsubst.h"
#include "util/log.h"
#include "util/regex.h"
#include "util/secret.h"
#include "util/units.h"
#include "util/validate.h"
#include "util/xalloc.h"

#define MAX_LIST_ENTRIES 10000
#define MAX_PROPERTIES   1000
#define MAX_SCALAR_BYTES 65536
/* Aliases can make a small document expand exponentially when walked; a
 * real configuration has a few thousand nodes. */
#define MAX_NODE_VISITS 200000

/* ------------------------------------------------------------------ */
/* Hooks referenced by the table (the others are in config_check.c)     */

static void node_init(void *elem);

static const struct list_desc flink_list = {
    sizeof(struct cfg_flink), config_flink_init, config_flink_check,
    "flink cluster name", offsetof(struct cfg_flink, name)};
static const struct list_desc kafka_list = {
    sizeof(struct cfg_kafka), config_kafka_init, config_kafka_check,
    "kafka cluster name", offsetof(struct cfg_kafka, name)};
static const struct list_desc group_list = {sizeof(struct cfg_kafka_group),
                                            NULL, config_group_check, NULL, 0};
static const struct list_desc relabel_list = {sizeof(struct cfg_relabel),
                                              config_relabel_init,
                                              config_relabel_check, NULL, 0};
static const struct list_desc node_list = {
    sizeof(struct cfg_influx_node), node_init, config_node_check, "node name",
    offsetof(struct cfg_influx_node, name)};
static const struct section influx_section = {
    config_influx_enter, config_influx_check, config_influx_shown,
    config_influx_print_extra};
static const struct section rw_section = {config_rw_enter, config_rw_check,
                                          config_rw_shown, NULL};
static const struct section proxy_section = {config_proxy_enter, NULL,
                                             config_proxy_shown, NULL};
static const struct section fold_section = {NULL, config_fold_check, NULL,
                                            NULL};
static const struct section discover_section = {NULL, NULL,
                                                config_discover_shown, NULL};

#define OC(m)  offsetof(struct config, m)
#define OF(m)  offsetof(struct cfg_flink, m)
#define OK_(m) offsetof(struct cfg_kafka, m)
#define OG(m)  offsetof(struct cfg_kafka_group, m)
#define OR(m)  offsetof(struct cfg_relabel, m)
#define ON(m)  offsetof(struct cfg_influx_node, m)
#define U64MAX UINT64_MAX

/* X(path, type, element type, offset, count offset, min, max, aux) */
#define CONFIG_TABLE(X)                                                        \
    X("agent", T_MAP, 0, 0, 0, 0, 0, NULL)                                     \
    X("agent.name", T_STR, 0, OC(agent.name), 0, 1, 0, NULL)                   \
    X("agent.interval", T_DURATION, 0, OC(agent.interval_ms), 0, 1, U64MAX,    \
      NULL)                                                                    \
    X("agent.align", T_BOOL, 0, OC(agent.align), 0, 0, 0, NULL)                \
    X("agent.listen", T_LISTEN, 0, OC(agent.listen), 0, 0, 0, NULL)            \
    X("agent.spool_dir", T_STR, 0, OC(agent.spool_dir), 0, 1, 0, NULL)         \
    X("agent.spool_max_bytes", T_SIZE, 0, OC(agent.spool_max_bytes), 0, 1,     \
      U64MAX, NULL)                                                            \
    X("agent.log_level", T_LOGLEVEL, 0, OC(agent.log_level), 0, 0, 0, NULL)    \
    X("agent.scrape_timeout", T_DURATION, 0, OC(agent.scrape_timeout_ms), 0,   \
      1, U64MAX, NULL)                                                         \
    X("agent.max_response_bytes", T_SIZE, 0, OC(agent.max_response_bytes), 0,  \
      1, U64MAX, NULL)                                                         \
    X("agent.scrape_concurrency", T_UINT, 0, OC(agent.scrape_concurrency), 0,  \
      1, 1024, NULL)                                                           \
    X("agent.shutdown_timeout", T_DURATION, 0, OC(agent.shutdown_timeout_ms),  \
      0, 1, U64MAX, NULL)                                                      \
    X("agent.spool_fsync", T_BOOL, 0, OC(agent.spool_fsync), 0, 0, 0, NULL)    \
    X("agent.max_connections", T_UINT, 0, OC(agent.max_connections), 0, 1,     \
      10000, NULL)                                                             \
    X("agent.tls_cert_file", T_STR, 0, OC(agent.tls_cert_file), 0, 1, 0, NULL) \
    X("agent.tls_key_file", T_STR, 0, OC(agent.tls_key_file), 0, 1, 0, NULL)   \
    X("agent.bearer_token_file", T_STR, 0, OC(agent.bearer_token_file), 0, 1,  \
      0, NULL)                                                                 \
    X("agent.basic_auth_user", T_STR, 0, OC(agent.basic_auth_user), 0, 1, 0,   \
      NULL)                                                                    \
    X("agent.basic_auth_password_file", T_STR, 0,                              \
      OC(agent.basic_auth_password_file), 0, 1, 0, NULL)                       \
    X("flink", T_LIST, 0, OC(flink), OC(n_flink), 0, 0, &flink_list)           \
    X("flink[].name", T_STR, 0, OF(name), 0, 1, 0, NULL)                       \
    X("flink[].rest_url", T_URL, 0, OF(rest_url), 0, 0, 0, NULL)               \
    X("flink[].reporters", T_STRLIST, T_URL, OF(reporters), OF(n_reporters),   \
      0, 0, NULL)                                                              \
    X("flink[].discover_reporters", T_MAP, 0, 0, 0, 0, 0, &discover_section)   \
    X("flink[].discover_reporters.port", T_UINT, 0, OF(discover_port), 0, 1,   \
      65535, NULL)                                                             \
    X("flink[].rest_concurrency", T_UINT, 0, OF(rest_concurrency), 0, 1, 256,  \
      NULL)                                                                    \
    X("flink[].bottleneck_threshold", T_RATIO, 0, OF(bottleneck_threshold), 0, \
      0, 0, NULL)                                                              \
    X("kafka", T_LIST, 0, OC(kafka), OC(n_kafka), 0, 0, &kafka_list)           \
    X("kafka[].name", T_STR, 0, OK_(name), 0, 1, 0, NULL)                      \
    X("kafka[].brokers", T_STRLIST, T_BROKER, OK_(brokers), OK_(n_brokers), 0, \
      0, NULL)                                                                 \
    X("kafka[].groups", T_LIST, 0, OK_(groups), OK_(n_groups), 0, 0,           \
      &group_list)                                                             \
    X("kafka[].groups[].name", T_STR, 0, OG(name), 0, 1, 0, NULL)              \
    X("kafka[].groups[].pattern", T_REGEX, 0, OG(pattern), 0, 0, 0, NULL)      \
    X("kafka[].groups[].job", T_STR, 0, OG(job), 0, 1, 0, NULL)                \
    X("kafka[].groups[].exclude", T_REGEX, 0, OG(exclude), 0, 0, 0, NULL)      \
    X("kafka[].properties", T_KV, 0, OK_(properties), OK_(n_properties), 0, 0, \
      NULL)                                                                    \
    X("kafka[].lag_from_earliest", T_BOOL, 0, OK_(lag_from_earliest), 0, 0, 0, \
      NULL)                                                                    \
    X("kafka[].rate_window", T_DURATION, 0, OK_(rate_window_ms), 0, 1000,      \
      U64MAX, NULL)                                                            \
    X("kafka[].exclude_groups", T_REGEX, 0, OK_(exclude_groups), 0, 0, 0,      \
      NULL)                                                                    \
    X("kafka[].topics", T_REGEX, 0, OK_(topics), 0, 0, 0, NULL)                \
    X("kafka[].exclude_topics", T_REGEX, 0, OK_(exclude_topics), 0, 0, 0,      \
      NULL)                                                                    \
    X("trim", T_MAP, 0, 0, 0, 0, 0, NULL)                                      \
    X("trim.drop_labels", T_STRLIST, T_LABELNAME, OC(trim.drop_labels),        \
      OC(trim.n_drop_labels), 0, 0, NULL)                                      \
    X("trim.drop_labels_match", T_REGEX, 0, OC(trim.drop_labels_match), 0, 0,  \
      0, NULL)                                                                 \
    X("trim.fold_subtasks", T_MAP, 0, 0, 0, 0, 0, &fold_section)               \
    X("trim.fold_subtasks.metrics", T_STRLIST, T_REGEX, OC(trim.fold_metrics), \
      OC(trim.n_fold_metrics), 0, 0, NULL)                                     \
    X("trim.fold_subtasks.fields", T_STRLIST, T_FOLDFIELD,                     \
      OC(trim.fold_fields), OC(trim.n_fold_fields), 0, 0, NULL)                \
    X("trim.relabel_configs", T_LIST, 0, OC(trim.relabel), OC(trim.n_relabel), \
      0, 0, &relabel_list)                                                     \
    X("trim.relabel_configs[].action", T_ACTION, 0, OR(action), 0, 0, 0, NULL) \
    X("trim.relabel_configs[].source_labels", T_STRLIST, T_LABELNAME,          \
      OR(source_labels), OR(n_source_labels), 0, 0, NULL)                      \
    X("trim.relabel_configs[].separator", T_STR, 0, OR(separator), 0, 0, 0,    \
      NULL)                                                                    \
    X("trim.relabel_configs[].regex", T_REGEX, 0, OR(regex), 0, 0, 0, NULL)    \
    X("trim.relabel_configs[].target_label", T_STR, 0, OR(target_label), 0, 1, \
      0, NULL)                                                                 \
    X("trim.relabel_configs[].replacement", T_STR, 0, OR(replacement), 0, 0,   \
      0, NULL)                                                                 \
    X("trim.relabel_configs[].modulus", T_U64, 0, OR(modulus), 0, 0, U64MAX,   \
      NULL)                                                                    \
    X("trim.max_series", T_U64, 0, OC(trim.max_series), 0, 1, U64MAX, NULL)    \
    X("trim.max_label_bytes", T_SIZE, 0, OC(trim.max_label_bytes), 0, 1,       \
      U64MAX, NULL)                                                            \
    X("sinks", T_MAP, 0, 0, 0, 0, 0, NULL)                                     \
    X("sinks.influxdb", T_MAP, 0, 0, 0, 0, 0, &influx_section)                 \
    X("sinks.influxdb.database", T_STR, 0, OC(influx.database), 0, 1, 0, NULL) \
    X("sinks.influxdb.retention_policy", T_STR, 0,                             \
      OC(influx.retention_policy), 0, 1, 0, NULL)                              \
    X("sinks.influxdb.shard_by", T_STRLIST, T_STR, OC(influx.shard_by),        \
      OC(influx.n_shard_by), 1, 0, NULL)                                       \
    X("sinks.influxdb.vnodes", T_UINT, 0, OC(influx.vnodes), 0, 1, 100000,     \
      NULL)                                                                    \
    X("sinks.influxdb.replicas", T_UINT, 0, OC(influx.replicas), 0, 1,         \
      ROUTER_MAX_REPLICAS, NULL)                                               \
    X("sinks.influxdb.batch_size", T_UINT, 0, OC(influx.batch_size), 0, 1,     \
      1000000, NULL)                                                           \
    X("sinks.influxdb.flush_interval", T_DURATION, 0,                          \
      OC(influx.flush_interval_ms), 0, 1, U64MAX, NULL)                        \
    X("sinks.influxdb.timeout", T_DURATION, 0, OC(influx.timeout_ms), 0, 1,    \
      U64MAX, NULL)                                                            \
    X("sinks.influxdb.max_retries", T_UINT, 0, OC(influx.max_retries), 0, 0,   \
      100, NULL)                                                               \
    X("sinks.influxdb.queue_max_bytes", T_SIZE, 0, OC(influx.queue_max_bytes), \
      0, 1, U64MAX, NULL)                                                      \
    X("sinks.influxdb.create_database", T_BOOL, 0, OC(influx.create_database), \
      0, 0, 0, NULL)                                                           \
    X("sinks.influxdb.gzip", T_BOOL, 0, OC(influx.gzip), 0, 0, 0, NULL)        \
    X("sinks.influxdb.nodes", T_LIST, 0, OC(influx.nodes), OC(influx.n_nodes), \
      0, 0, &node_list)                                                        \
    X("sinks.influxdb.nodes[].name", T_STR, 0, ON(name), 0, 1, 0, NULL)        \
    X("sinks.influxdb.nodes[].url", T_URL, 0, ON(url), 0, 0, 0, NULL)          \
    X("sinks.influxdb.nodes[].weight", T_UINT, 0, ON(weight), 0, 1, 1000,      \
      NULL)                                                                    \
    X("sinks.influxdb.nodes[].api", T_STR, 0, ON(api), 0, 1, 0, NULL)          \
    X("sinks.influxdb.nodes[].org", T_STR, 0, ON(org), 0, 1, 0, NULL)          \
    X("sinks.influxdb.nodes[].bucket", T_STR, 0, ON(bucket), 0, 1, 0, NULL)    \
    X("sinks.influxdb.nodes[].token_file", T_STR, 0, ON(token_file), 0, 1, 0,  \
      NULL)                                                                    \
    X("sinks.influxdb.username", T_STR, 0, OC(influx.username), 0, 1, 0, NULL) \
    X("sinks.influxdb.password_file", T_STR, 0, OC(influx.password_file), 0,   \
      1, 0, NULL)                                                              \
    X("sinks.influxdb.password_env", T_STR, 0, OC(influx.password_env), 0, 1,  \
      0, NULL)                                                                 \
    X("sinks.remote_write", T_MAP, 0, 0, 0, 0, 0, &rw_section)                 \
    X("sinks.remote_write.url", T_URL, 0, OC(remote_write.url), 0, 0, 0, NULL) \
    X("sinks.remote_write.timeout", T_DURATION, 0,                             \
      OC(remote_write.timeout_ms), 0, 1, U64MAX, NULL)                         \
    X("sinks.remote_write.batch_size", T_UINT, 0, OC(remote_write.batch_size), \
      0, 1, 100000, NULL)                                                      \
    X("sinks.remote_write.max_retries", T_UINT, 0,                             \
      OC(remote_write.max_retries), 0, 0, 100, NULL)                           \
    X("sinks.remote_write.min_backoff", T_DURATION, 0,                         \
      OC(remote_write.min_backoff_ms), 0, 1, U64MAX, NULL)                     \
    X("sinks.remote_write.max_backoff", T_DURATION, 0,                         \
      OC(remote_write.max_backoff_ms), 0, 1, U64MAX, NULL)                     \
    X("sinks.remote_write.queue_max_bytes", T_SIZE, 0,                         \
      OC(remote_write.queue_max_bytes), 0, 1, U64MAX, NULL)                    \
    X("sinks.remote_write.username", T_STR, 0, OC(remote_write.username), 0,   \
      1, 0, NULL)                                                              \
    X("sinks.remote_write.password_file", T_STR, 0,                            \
      OC(remote_write.password_file), 0, 1, 0, NULL)                           \
    X("proxy", T_MAP, 0, 0, 0, 0, 0, &proxy_section)                           \
    X("proxy.listen", T_LISTEN, 0, OC(proxy.listen), 0, 0, 0, NULL)            \
    X("proxy.timeout", T_DURATION, 0, OC(proxy.timeout_ms), 0, 1, U64MAX,      \
      NULL)                                                                    \
    X("proxy.max_response_bytes", T_SIZE, 0, OC(proxy.max_response_bytes), 0,  \
      1024, U64MAX, NULL)                                                      \
    X("proxy.threads", T_UINT, 0, OC(proxy.threads), 0, 1, 64, NULL)

#define AS_FIELD(p, t, et, o, on, mn, mx, ax) {p, t, et, o, on, mn, mx, ax},
#define AS_PATH(p, t, et, o, on, mn, mx, ax)  p,

static const struct cfg_field fields[] = {CONFIG_TABLE(AS_FIELD)};
static const char *const known_keys[] = {CONFIG_TABLE(AS_PATH)};

#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

const struct cfg_field *config_fields(size_t *n)
{
    *n = N_FIELDS;
    return fields;
}

const char *const *config_known_keys(size_t *n)
{
    *n = sizeof(known_keys) / sizeof(known_keys[0]);
    return known_keys;
}

/* ------------------------------------------------------------------ */
/* Table helpers                                                       */

static const struct cfg_field *find_field(const char *prefix, const char *key)
{
    for (size_t i = 0; i < N_FIELDS; i++) {
        if (is_child(fields[i].path, prefix) &&
            strcmp(leaf(fields[i].path), key) == 0)
            return &fields[i];
    }
    return NULL;
}

/* Optimal string alignment distance, for "did you mean". */
static size_t edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 64 || lb > 64)
        return 64;
    size_t d[65][65];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v)
                v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < v)
                v = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
                a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < v)
                v = d[i - 2][j - 2] + 1;
            d[i][j] = v;
        }
    }
    return d[la][lb];
}

static const char *suggest(const char *prefix, const char *key)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; i < N_FIELDS; i++) {
        if (!is_child(fields[i].path, prefix))
            continue;
        const char *cand = leaf(fields[i].path);
        size_t d = edit_distance(key, cand);
        if (d < best_d && d < strlen(cand)) {
            best = cand;
            best_d = d;
        }
    }
    return best;
}

/* ------------------------------------------------------------------ */
/* Errors and YAML helpers                                             */

int config_fail(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n)
        snprintf(c->err, c->errlen, "%s:%zu:%zu: %s", c->file,
                 n->start_mark.line + 1, n->start_mark.column + 1, msg);
    else
        snprintf(c->err, c->errlen, "%s: %s", c->file, msg);
    return -1;
}

static const char *kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "map";
    case YAML_SEQUENCE_NODE:
        return "list";
    default:
        return "scalar";
    }
}

static bool is_null(const yaml_node_t *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    if (n->type != YAML_SCALAR_NODE ||
        n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    for (size_t i = 0; i < sizeof(nulls) / sizeof(nulls[0]); i++)
        if (strcmp((const char *)n->data.scalar.value, nulls[i]) == 0)
            return true;
    return false;
}

static const yaml_node_t *node_at(struct ctx *c, int id)
{
    return yaml_document_get_node(c->doc, id);
}

/* The value node of key in map n, or NULL. */
const yaml_node_t *config_map_get(struct ctx *c, const yaml_node_t *n,
                                  const char *key)
{
    if (!n || n->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
         p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node_at(c, p->key);
        if (k && k->type == YAML_SCALAR_NODE &&
            strcmp((const char *)k->data.scalar.value, key) == 0)
            return node_at(c, p->value);
    }
    return NULL;
}

const yaml_node_t *config_list_item(struct ctx *c, const yaml_node_t *n,
                                    size_t i)
{
    return node_at(c, n->data.sequence.items.start[i]);
}

static int visit(struct ctx *c, const yaml_node_t *n)
{
    if (--c->budget < 0)
        return config_fail(c, n,
                           "configuration is too complex (more than %d "
                           "nodes after alias expansion)",
                           MAX_NODE_VISITS);
    return 0;
}

/* The expanded text of a scalar node (heap, caller frees). */
static int get_scalar(struct ctx *c, const yaml_node_t *n, const char *path,
                      char **out)
{
    if (n->type != YAML_SCALAR_NODE)
        return config_fail(c, n, "'%s' must be a scalar, got a %s", path,
                           kind(n));
    const char *v = (const char *)n->data.scalar.value;
    if (strlen(v) != n->data.scalar.length)
        return config_fail(c, n, "'%s' contains a NUL byte", path);
    char why[1024];
    if (envsubst(v, MAX_SCALAR_BYTES, out, why, sizeof(why)) < 0)
        return config_fail(c, n, "%s", why);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Value checks                                                        */

/* Through the daemon's own compile (util/regex.h), so that `lagwatch check`
 * refuses exactly the patterns start-up would. */
static int check_regex(struct ctx *c, const yaml_node_t *n, const char *path,
                       const char *re)
{
    char why[300];
    if (regex_check(re, why, sizeof(why)) == 0)
        return 0;
    return config_fail(c, n, "invalid regex '%s' for '%s': %s", re, path, why);
}

/* Reads an unsigned decimal; 0, or -1 after reporting. */
static int parse_u64(struct ctx *c, const yaml_node_t *n, const char *path,
                     const char *s, uint64_t *v)
{
    const char *why = validate_u64(s, v);
    if (why)
        return config_fail(c, n, "'%s' %s, got '%s'", path, why, s);
    return 0;
}

void config_fmt_value(enum ftype t, uint64_t v, char *out, size_t n)
{
    if (t == T_DURATION)
        units_format_duration(v, out, n);
    else if (t == T_SIZE)
        units_format_size(v, out, n);
    else
        snprintf(out, n, "%llu", (unsigned long long)v);
}

static int check_range(struct ctx *c, const yaml_node_t *n,
                       const struct cfg_field *f, uint64_t v, const char *s)
{
    char lo[32], hi[32];
    if (v >= f->min && v <= f->max)
        return 0;
    config_fmt_value(f->type, f->min, lo, sizeof(lo));
    config_fmt_value(f->type, f->max, hi, sizeof(hi));
    if (f->max == UINT64_MAX)
        return config_fail(c, n, "'%s' must be at least %s, got '%s'", f->path,
                           lo, s);
    return config_fail(c, n, "'%s' must be between %s and %s, got '%s'",
                       f->path, lo, hi, s);
}

/* Validates s as a value of type t; 0, or -1 after reporting. */
static int check_string(struct ctx *c, const yaml_node_t *n,
                        const struct cfg_field *f, enum ftype t, const char *s)
{
    const char *why = NULL;
    enum log_level lvl;
    switch (t) {
    case T_STR:
        if (strlen(s) < f->min)
            return config_fail(c, n, "%s'%s' must not be empty",
                               f->type == T_STRLIST ? "entries of " : "",
                               f->path);
        return 0;
    case T_LABELNAME:
        if (!validate_label_name(s, strlen(s)))
            return config_fail(c, n, "invalid label name '%s' in '%s'", s,
                               f->path);
        return 0;
    case T_URL:
        why = validate_url(s);
        if (why)
            return config_fail(c, n, "invalid URL '%s' for '%s': %s", s,
                               f->path, why);
        return 0;
    case T_BROKER:
    case T_LISTEN:
        why = validate_hostport(s, t == T_LISTEN);
        if (why)
            return config_fail(c, n, "invalid address '%s' for '%s': %s", s,
                               f->path, why);
        return 0;
    case T_REGEX:
        return check_regex(c, n, f->path, s);
    case T_LOGLEVEL:
        if (log_level_parse(s, &lvl) < 0)
            return config_fail(c, n,
                               "invalid log level '%s' for '%s' (use debug, "
                               "info, warn or error)",
                               s, f->path);
        return 0;
    case T_FOLDFIELD:
        if (series_fold_parse(s) == 0)
            return config_fail(
                c, n, "invalid fold field '%s' (use max, sum or avg)", s);
        return 0;
    default:
        return 0;
    }
}

/* ------------------------------------------------------------------ */
/* Parsing                                                             */

static int parse_map(struct ctx *c, const yaml_node_t *n, const char *prefix,
                     void *base);

static void free_strv(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

static int parse_scalar(struct ctx *c, const struct cfg_field *f,
                        const yaml_node_t *n, void *base)
{
    char *s = NULL;
    uint64_t v = 0;
    const char *why;
    int rc = -1;
    if (get_scalar(c, n, f->path, &s) < 0)
        goto out;
    switch (f->type) {
    case T_DURATION:
    case T_SIZE:
        why = f->type == T_DURATION ? units_parse_duration(s, &v)
                                    : units_parse_size(s, &v);
        if (why) {
            config_fail(c, n, "invalid %s '%s' for '%s': %s",
                        f->type == T_DURATION ? "duration" : "size", s, f->path,
                        why);
            goto out;
        }
        if (check_range(c, n, f, v, s) < 0)
            goto out;
        *(uint64_t *)at(base, f->off) = v;
        break;
    case T_UINT:
    case T_U64:
        if (parse_u64(c, n, f->path, s, &v) < 0 ||
            check_range(c, n, f, v, s) < 0)
            goto out;
        if (f->type == T_UINT)
            *(unsigned *)at(base, f->off) = (unsigned)v;
        else
            *(uint64_t *)at(base, f->off) = v;
        break;
    case T_RATIO: {
        char *end = NULL;
        errno = 0;
        double d = strtod(s, &end);
        if (errno || end == s || *end || !(d >= 0.0 && d <= 1.0)) {
            config_fail(c, n, "'%s' must be a number from 0 to 1, got '%s'",
                        f->path, s);
            goto out;
        }
        *(double *)at(base, f->off) = d;
        break;
    }
    case T_BOOL:
        if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0) {
            config_fail(c, n, "'%s' must be true or false, got '%s'", f->path,
                        s);
            goto out;
        }
        *(bool *)at(base, f->off) = s[0] == 't';
        break;
    case T_ACTION: {
        enum relabel_action a;
        if (relabel_action_parse(s, &a) < 0) {
            config_fail(c, n,
                        "invalid relabel action '%s' (use replace, keep, drop, "
                        "labeldrop, labelkeep, labelmap, hashmod, lowercase or "
                        "uppercase)",
                        s);
            goto out;
        }
        *(enum relabel_action *)at(base, f->off) = a;
        break;
    }
    default: {
        if (check_string(c, n, f, f->type, s) < 0)
            goto out;
        char **slot = at(base, f->off);
        free(*slot);
        *slot = s;
        s = NULL;
        break;
    }
    }
    rc = 0;
out:
    free(s);
    return rc;
}

static int parse_strlist(struct ctx *c, const struct cfg_field *f,
                         const yaml_node_t *n, void *base)
{
    char ***vp = at(base, f->off);
    size_t *np = at(base, f->off_n);
    free_strv(*vp, *np);
    *vp = NULL;
    *np = 0;
    if (is_null(n))
        return 0;
    if (n->type != YAML_SEQUENCE_NODE)
        return config_fail(c, n, "'%s' must be a list, got a %s", f->path,
                           kind(n));
    size_t cnt =
        (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt > MAX_LIST_ENTRIES)
        return config_fail(c, n, "'%s' has more than %d entries", f->path,
                           MAX_LIST_ENTRIES);
    *vp = xcalloc(cnt, sizeof(char *));
    for (size_t i = 0; i < cnt; i++) {
        const yaml_node_t *item = config_list_item(c, n, i);
        char *s = NULL;
        if (visit(c, item) < 0 || get_scalar(c, item, f->path, &s) < 0)
            return -1;
        /* Stored first so that an error below still frees it. */
        (*vp)[(*np)++] = s;
        if (check_string(c, item, f, f->etype, s) < 0)
            return -1;
    }
    return 0;
}

struct name_idx {
    const char *name;
    size_t idx;
};

static int cmp_name_idx(const void *a, const void *b)
{
    const struct name_idx *x = a, *y = b;
    int r = strcmp(x->name, y->name);
    if (r)
        return r;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/*
 * Index of the first entry (in input order) whose name (a char * at
 * name_off in each stride-sized element) appeared earlier, or -1. Sorting
 * keeps this O(n log n) for large user-sized lists. NULL names are skipped.
 */
long config_find_dup(const void *arr, size_t n, size_t stride, size_t name_off)
{
    struct name_idx *v = xcalloc(n ? n : 1, sizeof(*v));
    size_t m = 0;
    long best = -1;
    for (size_t i = 0; i < n; i++) {
        const char *name = *(char *const *)cat(arr, i * stride + name_off);
        if (!name)
            continue;
        v[m].name = name;
        v[m].idx = i;
        m++;
    }
    qsort(v, m, sizeof(*v), cmp_name_idx);
    for (size_t i = 1; i < m; i++) {
        if (strcmp(v[i].name, v[i - 1].name) == 0 &&
            (best < 0 || (long)v[i].idx < best))
            best = (long)v[i].idx;
    }
    free(v);
    return best;
}

static int parse_kv(struct ctx *c, const struct cfg_field *f,
                    const yaml_node_t *n, void *base)
{
    struct cfg_kv **vp = at(base, f->off);
    size_t *np = at(base, f->off_n);
    if (is_null(n))
        return 0;
    if (n->type != YAML_MAPPING_NODE)
        return config_fail(c, n, "'%s' must be a map, got a %s", f->path,
                           kind(n));
    size_t cnt =
        (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (cnt > MAX_PROPERTIES)
        return config_fail(c, n, "'%s' has more than %d entries", f->path,
                           MAX_PROPERTIES);
    *vp = xcalloc(cnt, sizeof(struct cfg_kv));
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
        const yaml_node_t *k = node_at(c, p->key);
        const yaml_node_t *v = node_at(c, p->value);
        if (visit(c, k) < 0 || visit(c, v) < 0)
            return -1;
        if (k->type != YAML_SCALAR_NODE || !k->data.scalar.length)
            return config_fail(c, k, "keys in '%s' must be non-empty scalars",
                               f->path);
        (*vp)[i].key = xstrdup((const char *)k->data.scalar.value);
        (*np)++;
        if (get_scalar(c, v, f->path, &(*vp)[i].value) < 0)
            return -1;
    }
    long d = config_find_dup(*vp, *np, sizeof(struct cfg_kv),
                             offsetof(struct cfg_kv, key));
    if (d >= 0)
        return config_fail(c, node_at(c, n->data.mapping.pairs.start[d].key),
                           "duplicate key '%s' in '%s'", (*vp)[d].key, f->path);
    return 0;
}

static int parse_list(struct ctx *c, const struct cfg_field *f,
                      const yaml_node_t *n, void *base)
{
    const struct list_desc *ld = f->aux;
    void **vp = at(base, f->off);
    size_t *np = at(base, f->off_n);
    char elem_path[CONFIG_MAX_PATH_LEN];
    if (is_null(n))
        return 0;
    if (n->type != YAML_SEQUENCE_NODE)
        return config_fail(c, n, "'%s' must be a list, got a %s", f->path,
                           kind(n));
    size_t cnt =
        (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt > MAX_LIST_ENTRIES)
        return config_fail(c, n, "'%s' has more than %d entries", f->path,
                           MAX_LIST_ENTRIES);
    snprintf(elem_path, sizeof(elem_path), "%s[]", f->path);
    *vp = xcalloc(cnt, ld->elem_size);
    *np = cnt;
    for (size_t i = 0; ld->init && i < cnt; i++)
        ld->init(at(*vp, i * ld->elem_size));
    for (size_t i = 0; i < cnt; i++) {
        const yaml_node_t *item = config_list_item(c, n, i);
        void *elem = at(*vp, i * ld->elem_size);
        if (item->type != YAML_MAPPING_NODE)
            return config_fail(c, item,
                               "entries of '%s' must be maps, got a %s",
                               f->path, kind(item));
        if (parse_map(c, item, elem_path, elem) < 0)
            return -1;
        if (ld->check && ld->check(c, item, elem) < 0)
            return -1;
    }
    long d = ld->unique ? config_find_dup(*vp, cnt, ld->elem_size, ld->name_off)
                        : -1;
    if (d >= 0)
        return config_fail(
            c, config_map_get(c, config_list_item(c, n, (size_t)d), "name"),
            "duplicate %s '%s'", ld->unique,
            *(char *const *)cat(*vp, (size_t)d * ld->elem_size + ld->name_off));
    return 0;
}

static int parse_field(struct ctx *c, const struct cfg_field *f,
                       const yaml_node_t *n, void *base)
{
    const struct section *sec = f->aux;
    switch (f->type) {
    case T_MAP:
        if (sec && sec->enter)
            sec->enter(base);
        if (parse_map(c, n, f->path, base) < 0)
            return -1;
        if (sec && sec->check)
            return sec->check(c, n, base);
        return 0;
    case T_LIST:
        return parse_list(c, f, n, base);
    case T_STRLIST:
        return parse_strlist(c, f, n, base);
    case T_KV:
        return parse_kv(c, f, n, base);
    default:
        return parse_scalar(c, f, n, base);
    }
}

static int parse_map(struct ctx *c, const yaml_node_t *n, const char *prefix,
                     void *base)
{
    if (visit(c, n) < 0)
        return -1;
    if (is_null(n))
        return 0;
    if (n->type != YAML_MAPPING_NODE)
        return config_fail(c, n, "'%s' must be a map, got a %s", prefix,
                           kind(n));
    yaml_node_pair_t *start = n->data.mapping.pairs.start;
    for (yaml_node_pair_t *p = start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node_at(c, p->key);
        const yaml_node_t *v = node_at(c, p->value);
        if (visit(c, k) < 0)
            return -1;
        if (k->type != YAML_SCALAR_NODE)
            return config_fail(c, k, "keys must be scalars, got a %s", kind(k));
        const char *key = (const char *)k->data.scalar.value;
        const struct cfg_field *f = find_field(prefix, key);
        char where[CONFIG_MAX_PATH_LEN + 16];
        if (*prefix)
            snprintf(where, sizeof(where), "in '%s'", prefix);
        else
            snprintf(where, sizeof(where), "at top level");
        if (!f) {
            const char *hint = suggest(prefix, key);
            if (hint)
                return config_fail(c, k,
                                   "unknown key '%s' %s (did you mean '%s'?)",
                                   key, where, hint);
            return config_fail(c, k, "unknown key '%s' %s", key, where);
        }
        /* Known keys are few per map, so this scan stays short. */
        for (yaml_node_pair_t *q = start; q < p; q++) {
            const yaml_node_t *qk = node_at(c, q->key);
            if (strcmp((const char *)qk->data.scalar.value, key) == 0)
                return config_fail(c, k, "duplicate key '%s' %s", key, where);
        }
        if (visit(c, v) < 0 || parse_field(c, f, v, base) < 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Section and entry checks                                            */

static void node_init(void *elem)
{
    struct cfg_influx_node *nd = elem;
    nd->weight = 1;
}

/* ------------------------------------------------------------------ */
/* Freeing                                                             */

static void free_fields(const char *prefix, void *base)
{
    char elem_path[CONFIG_MAX_PATH_LEN];
    for (size_t i = 0; i < N_FIELDS; i++) {
        const struct cfg_field *f = &fields[i];
        if (!is_child(f->path, prefix))
            continue;
        switch (f->type) {
        case T_MAP:
            free_fields(f->path, base);
            break;
        case T_LIST: {
            const struct list_desc *ld = f->aux;
            void **vp = at(base, f->off);
            size_t n = *(size_t *)at(base, f->off_n);
            snprintf(elem_path, sizeof(elem_path), "%s[]", f->path);
            for (size_t j = 0; *vp && j < n; j++)
                free_fields(elem_path, at(*vp, j * ld->elem_size));
            free(*vp);
            break;
        }
        case T_STRLIST:
            free_strv(*(char ***)at(base, f->off),
                      *(size_t *)at(base, f->off_n));
            break;
        case T_KV: {
            struct cfg_kv *kv = *(struct cfg_kv **)at(base, f->off);
            size_t n = *(size_t *)at(base, f->off_n);
            for (size_t j = 0; j < n; j++) {
                free(kv[j].key);
                free(kv[j].value);
            }
            free(kv);
            break;
        }
        case T_STR:
        case T_LABELNAME:
        case T_URL:
        case T_BROKER:
        case T_LISTEN:
        case T_REGEX:
        case T_LOGLEVEL:
        case T_FOLDFIELD:
            free(*(char **)at(base, f->off));
            break;
        default:
            break;
        }
    }
}

void config_free(struct config **cfgp)
{
    struct config *cfg = *cfgp;
    if (!cfg)
        return;
    for (size_t i = 0; cfg->influx.nodes && i < cfg->influx.n_nodes; i++)
        secret_free(&cfg->influx.nodes[i].token);
    free_fields("", cfg);
    secret_free(&cfg->influx.password);
    free(cfg->path);
    free(cfg);
    *cfgp = NULL;
}

/* ------------------------------------------------------------------ */
/* Loading                                                             */

static int yaml_fail(struct ctx *c, const yaml_parser_t *p)
{
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->context)
        snprintf(c->err, c->errlen, "%s:%zu:%zu: %s (%s at line %zu)", c->file,
                 p->problem_mark.line + 1, p->problem_mark.column + 1, problem,
                 p->context, p->context_mark.line + 1);
    else
        snprintf(c->err, c->errlen, "%s:%zu:%zu: %s", c->file,
                 p->problem_mark.line + 1, p->problem_mark.column + 1, problem);
    return -1;
}

struct config *config_load_string(const char *path, const char *text,
                                  size_t len, char *err, size_t errlen)
{
    struct ctx c = {path, NULL, err, errlen, MAX_NODE_VISITS};
    yaml_parser_t parser;
    yaml_document_t doc, extra;
    bool have_parser = false, have_doc = false;
    struct config *cfg = NULL;

    if (len > CONFIG_MAX_FILE_BYTES) {
        config_fail(&c, NULL, "configuration is larger than 4MiB");
        goto fail;
    }
    if (!yaml_parser_initialize(&parser)) {
        config_fail(&c, NULL, "cannot initialize the YAML parser");
        goto fail;
    }
    have_parser = true;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        yaml_fail(&c, &parser);
        goto fail;
    }
    have_doc = true;
    c.doc = &doc;
    const yaml_node_t *root = yaml_document_get_root_node(&doc);
    if (!root || is_null(root)) {
        config_fail(&c, NULL, "configuration is empty");
        goto fail;
    }
    if (!yaml_parser_load(&parser, &extra)) {
        yaml_fail(&c, &parser);
        goto fail;
    }
    const yaml_node_t *second = yaml_document_get_root_node(&extra);
    if (second) {
        config_fail(&c, second, "only one YAML document is allowed");
        yaml_document_delete(&extra);
        goto fail;
    }
    yaml_document_delete(&extra);
    if (root->type != YAML_MAPPING_NODE) {
        config_fail(&c, root, "top level must be a map, got a %s", kind(root));
        goto fail;
    }
    cfg = xcalloc(1, sizeof(*cfg));
    cfg->path = xstrdup(path);
    config_set_defaults(cfg);
    if (parse_map(&c, root, "", cfg) < 0 ||
        config_check_root(&c, root, cfg) < 0)
        goto fail;
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return cfg;
fail:
    config_free(&cfg);
    if (have_doc)
        yaml_document_delete(&doc);
    if (have_parser)
        yaml_parser_delete(&parser);
    return NULL;
}

struct config *config_load(const char *path, char *err, size_t errlen)
{
    struct config *cfg = NULL;
    char *text = NULL;
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    /* Read one byte past the cap so that a too-large file (or a pipe)
     * is detected without trusting st_size. */
    text = xmalloc(CONFIG_MAX_FILE_BYTES + 1);
    for (;;) {
        ssize_t r = read(fd, text + len, CONFIG_MAX_FILE_BYTES + 1 - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        len += (size_t)r;
        if (len > CONFIG_MAX_FILE_BYTES)
            break;
    }
    cfg = config_load_string(path, text, len, err, errlen);
out:
    close(fd);
    free(text);
    return cfg;
}
