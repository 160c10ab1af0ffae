/*
 * The loader is driven by one table (CONFIG_TABLE below): every accepted key
 * path with its type, storage offset and range. The same table drives
 * parsing, the unknown-key error and its suggestion, freeing, printing and
 * config_known_keys(), so none of them can drift from the others. Checks
 * that involve several keys live in per-section and per-entry hooks, which
 * get the YAML node so that their errors point at the right line.
 *
 * The file is longer than our usual ~1,500-line guide only because the
 * table and its hooks belong together: splitting printing or freeing out
 * would mean exporting the table.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "hashring/hashring.h"
#include "route/router.h"
#include "util/buf.h"
#include "util/log.h"
#include "util/regex.h"
#include "util/secret.h"
#include "util/units.h"
#include "util/xalloc.h"

#define MAX_LIST_ENTRIES 10000
#define MAX_PROPERTIES   1000
#define MAX_SCALAR_BYTES 65536
#define MAX_PATH_LEN     128
/* Aliases can make a small document expand exponentially when walked; a
 * real configuration has a few thousand nodes. */
#define MAX_NODE_VISITS 200000

enum ftype {
    T_MAP,       /* section: a nested map stored in the same struct */
    T_LIST,      /* list of maps, each an array element (aux: list_desc) */
    T_STRLIST,   /* list of scalars checked as etype */
    T_KV,        /* map of string -> scalar, copied as strings */
    T_STR,       /* string of at least min bytes */
    T_LABELNAME, /* Prometheus label name */
    T_URL,
    T_BROKER, /* host:port */
    T_LISTEN, /* [host]:port, port 0 allowed */
    T_REGEX,
    T_LOGLEVEL,
    T_FOLDFIELD,
    T_ACTION,
    T_DURATION, /* uint64_t milliseconds */
    T_SIZE,     /* uint64_t bytes */
    T_UINT,     /* unsigned */
    T_U64,
    T_BOOL,
    T_RATIO, /* double in [0, 1] */
};

struct ctx;

struct section {
    void (*enter)(void *base);
    int (*check)(struct ctx *c, const yaml_node_t *node, void *base);
    /* Whether to print the section (a disabled sink is not shown). */
    bool (*shown)(const void *base);
    void (*print_extra)(const void *base, FILE *out, int indent);
};

struct list_desc {
    size_t elem_size;
    void (*init)(void *elem);
    int (*check)(struct ctx *c, const yaml_node_t *node, void *elem);
    int (*check_all)(struct ctx *c, const yaml_node_t *node, void *arr,
                     size_t n);
};

struct cfg_field {
    const char *path;
    enum ftype type;
    enum ftype etype; /* element type of T_STRLIST */
    size_t off;
    size_t off_n; /* element count of lists */
    uint64_t min, max;
    const void *aux;
};

struct ctx {
    const char *file;
    yaml_document_t *doc;
    char *err;
    size_t errlen;
    long budget;
};

/* ------------------------------------------------------------------ */
/* Hooks referenced by the table                                       */

static void flink_init(void *elem);
static int flink_check(struct ctx *c, const yaml_node_t *n, void *elem);
static int flink_check_all(struct ctx *c, const yaml_node_t *n, void *arr,
                           size_t cnt);
static int kafka_check(struct ctx *c, const yaml_node_t *n, void *elem);
static int kafka_check_all(struct ctx *c, const yaml_node_t *n, void *arr,
                           size_t cnt);
static int group_check(struct ctx *c, const yaml_node_t *n, void *elem);
static void relabel_init(void *elem);
static int relabel_check(struct ctx *c, const yaml_node_t *n, void *elem);
static void node_init(void *elem);
static int node_check(struct ctx *c, const yaml_node_t *n, void *elem);
static int node_check_all(struct ctx *c, const yaml_node_t *n, void *arr,
                          size_t cnt);
static void influx_enter(void *base);
static int influx_check(struct ctx *c, const yaml_node_t *n, void *base);
static bool influx_shown(const void *base);
static void influx_print_extra(const void *base, FILE *out, int indent);
static void rw_enter(void *base);
static int rw_check(struct ctx *c, const yaml_node_t *n, void *base);
static bool rw_shown(const void *base);
static int fold_check(struct ctx *c, const yaml_node_t *n, void *base);
static bool discover_shown(const void *base);

static const struct list_desc flink_list = {
    sizeof(struct cfg_flink), flink_init, flink_check, flink_check_all};
static const struct list_desc kafka_list = {sizeof(struct cfg_kafka), NULL,
                                            kafka_check, kafka_check_all};
static const struct list_desc group_list = {sizeof(struct cfg_kafka_group),
                                            NULL, group_check, NULL};
static const struct list_desc relabel_list = {
    sizeof(struct cfg_relabel), relabel_init, relabel_check, NULL};
static const struct list_desc node_list = {
    sizeof(struct cfg_influx_node), node_init, node_check, node_check_all};
static const struct section influx_section = {influx_enter, influx_check,
                                              influx_shown, influx_print_extra};
static const struct section rw_section = {rw_enter, rw_check, rw_shown, NULL};
static const struct section fold_section = {NULL, fold_check, NULL, NULL};
static const struct section discover_section = {NULL, NULL, discover_shown,
                                                NULL};

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
    X("kafka[].properties", T_KV, 0, OK_(properties), OK_(n_properties), 0, 0, \
      NULL)                                                                    \
    X("kafka[].lag_from_earliest", T_BOOL, 0, OK_(lag_from_earliest), 0, 0, 0, \
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
      OC(remote_write.password_file), 0, 1, 0, NULL)

#define AS_FIELD(p, t, et, o, on, mn, mx, ax) {p, t, et, o, on, mn, mx, ax},
#define AS_PATH(p, t, et, o, on, mn, mx, ax)  p,

static const struct cfg_field fields[] = {CONFIG_TABLE(AS_FIELD)};
static const char *const known_keys[] = {CONFIG_TABLE(AS_PATH)};

#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

const char *const *config_known_keys(size_t *n)
{
    *n = sizeof(known_keys) / sizeof(known_keys[0]);
    return known_keys;
}

/* ------------------------------------------------------------------ */
/* Table helpers                                                       */

/* Whether path's parent (everything before the last '.') is prefix. */
static bool is_child(const char *path, const char *prefix)
{
    const char *dot = strrchr(path, '.');
    size_t plen = strlen(prefix);
    if (!dot)
        return plen == 0;
    return (size_t)(dot - path) == plen && memcmp(path, prefix, plen) == 0;
}

static const char *leaf(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : path;
}

static const struct cfg_field *find_field(const char *prefix, const char *key)
{
    for (size_t i = 0; i < N_FIELDS; i++) {
        if (is_child(fields[i].path, prefix) &&
            strcmp(leaf(fields[i].path), key) == 0)
            return &fields[i];
    }
    return NULL;
}

static void *at(void *base, size_t off)
{
    return (char *)base + off;
}

static const void *cat(const void *base, size_t off)
{
    return (const char *)base + off;
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

static int fail(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
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
static const yaml_node_t *map_get(struct ctx *c, const yaml_node_t *n,
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

static const yaml_node_t *list_item(struct ctx *c, const yaml_node_t *n,
                                    size_t i)
{
    return node_at(c, n->data.sequence.items.start[i]);
}

static int visit(struct ctx *c, const yaml_node_t *n)
{
    if (--c->budget < 0)
        return fail(c, n,
                    "configuration is too complex (more than %d "
                    "nodes after alias expansion)",
                    MAX_NODE_VISITS);
    return 0;
}

static bool is_ident(char ch, bool first)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
           (!first && ch >= '0' && ch <= '9');
}

/*
 * Expands ${VAR}, ${VAR:-default} and $$. A '$' not followed by '{' plus
 * a variable name stays literal, so Prometheus templates such as "$1" and
 * "${1}" in relabel replacements pass through unchanged.
 */
static int expand(struct ctx *c, const yaml_node_t *n, const char *in,
                  char **out)
{
    struct buf b;
    char *name = NULL;
    int rc = -1;
    buf_init(&b, MAX_SCALAR_BYTES);
    for (size_t i = 0; in[i];) {
        if (in[i] == '$' && in[i + 1] == '$') {
            buf_addc(&b, '$');
            i += 2;
            continue;
        }
        if (in[i] != '$' || in[i + 1] != '{' || !is_ident(in[i + 2], true)) {
            buf_addc(&b, in[i]);
            i++;
            continue;
        }
        size_t s = i + 2, e = s;
        while (is_ident(in[e], false))
            e++;
        const char *def = NULL;
        size_t def_len = 0, end;
        if (in[e] == '}') {
            end = e + 1;
        } else if (in[e] == ':' && in[e + 1] == '-') {
            const char *close = strchr(in + e + 2, '}');
            if (!close) {
                fail(c, n, "unterminated '${' in '%s'", in);
                goto out;
            }
            def = in + e + 2;
            def_len = (size_t)(close - def);
            end = (size_t)(close - in) + 1;
        } else {
            fail(c, n,
                 "invalid variable reference in '%s' (use ${VAR} or "
                 "${VAR:-default}, and $$ for a literal '$')",
                 in);
            goto out;
        }
        free(name);
        name = xstrndup(in + s, e - s);
        const char *v = getenv(name);
        if (def && (!v || !*v))
            buf_add(&b, def, def_len);
        else if (v)
            buf_adds(&b, v);
        else {
            fail(c, n, "environment variable '%s' is not set", name);
            goto out;
        }
        i = end;
    }
    if (buf_error(&b)) {
        fail(c, n, "value is longer than %d bytes", MAX_SCALAR_BYTES);
        goto out;
    }
    *out = buf_detach(&b, NULL);
    rc = 0;
out:
    free(name);
    buf_release(&b);
    return rc;
}

/* The expanded text of a scalar node (heap, caller frees). */
static int get_scalar(struct ctx *c, const yaml_node_t *n, const char *path,
                      char **out)
{
    if (n->type != YAML_SCALAR_NODE)
        return fail(c, n, "'%s' must be a scalar, got a %s", path, kind(n));
    const char *v = (const char *)n->data.scalar.value;
    if (strlen(v) != n->data.scalar.length)
        return fail(c, n, "'%s' contains a NUL byte", path);
    return expand(c, n, v, out);
}

/* ------------------------------------------------------------------ */
/* Value checks                                                        */

static bool valid_port(const char *p, size_t len, bool allow_zero)
{
    unsigned v = 0;
    if (len == 0 || len > 5)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    return v <= 65535 && (allow_zero || v > 0);
}

static bool host_char(char ch)
{
    return is_ident(ch, false) || ch == '-' || ch == '.';
}

/* Checks a host (name, IPv4 or [IPv6]) starting at s; *end is set past
 * it. NULL or the reason it is invalid. */
static const char *scan_host(const char *s, const char **end, bool allow_empty)
{
    const char *p = s;
    if (*p == '[') {
        p++;
        while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
               (*p >= 'A' && *p <= 'F') || *p == ':' || *p == '.')
            p++;
        if (*p != ']' || p == s + 1)
            return "invalid IPv6 address";
        *end = p + 1;
        return NULL;
    }
    while (host_char(*p))
        p++;
    if (p == s && !allow_empty)
        return "missing host";
    *end = p;
    return NULL;
}

static const char *check_url(const char *u)
{
    const char *p, *e;
    for (p = u; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return "contains a space or control character";
    if (strncmp(u, "http://", 7) == 0)
        p = u + 7;
    else if (strncmp(u, "https://", 8) == 0)
        p = u + 8;
    else
        return "must start with http:// or https://";
    const char *why = scan_host(p, &e, false);
    if (why)
        return why;
    p = e;
    if (*p == ':') {
        const char *port = ++p;
        while (*p >= '0' && *p <= '9')
            p++;
        if (!valid_port(port, (size_t)(p - port), false))
            return "invalid port";
    }
    if (*p && *p != '/')
        return "invalid character in host";
    return NULL;
}

static const char *check_hostport(const char *s, bool listen)
{
    const char *e;
    const char *why = scan_host(s, &e, listen);
    if (why)
        return why;
    if (*e != ':')
        return *e ? "invalid character in host" : "expected host:port";
    if (!valid_port(e + 1, strlen(e + 1), listen))
        return "invalid port";
    return NULL;
}

static bool valid_label_name(const char *s)
{
    if (!is_ident(*s, true))
        return false;
    for (s++; *s; s++)
        if (!is_ident(*s, false))
            return false;
    return true;
}

/* Through the daemon's own compile (util/regex.h), so that `lagwatch check`
 * refuses exactly the patterns start-up would. */
static int check_regex(struct ctx *c, const yaml_node_t *n, const char *path,
                       const char *re)
{
    char why[300];
    if (regex_check(re, why, sizeof(why)) == 0)
        return 0;
    return fail(c, n, "invalid regex '%s' for '%s': %s", re, path, why);
}

/* Reads an unsigned decimal; 0, or -1 after reporting. */
static int parse_u64(struct ctx *c, const yaml_node_t *n, const char *path,
                     const char *s, uint64_t *v)
{
    uint64_t x = 0;
    if (*s == '-' && s[1])
        return fail(c, n, "'%s' must not be negative, got '%s'", path, s);
    if (!*s)
        return fail(c, n, "'%s' must be an integer, got ''", path);
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return fail(c, n, "'%s' must be an integer, got '%s'", path, s);
        uint64_t d = (uint64_t)(*p - '0');
        if (x > (UINT64_MAX - d) / 10)
            return fail(c, n, "'%s' is too large, got '%s'", path, s);
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

static void fmt_value(enum ftype t, uint64_t v, char *out, size_t n)
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
    fmt_value(f->type, f->min, lo, sizeof(lo));
    fmt_value(f->type, f->max, hi, sizeof(hi));
    if (f->max == UINT64_MAX)
        return fail(c, n, "'%s' must be at least %s, got '%s'", f->path, lo, s);
    return fail(c, n, "'%s' must be between %s and %s, got '%s'", f->path, lo,
                hi, s);
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
            return fail(c, n, "%s'%s' must not be empty",
                        f->type == T_STRLIST ? "entries of " : "", f->path);
        return 0;
    case T_LABELNAME:
        if (!valid_label_name(s))
            return fail(c, n, "invalid label name '%s' in '%s'", s, f->path);
        return 0;
    case T_URL:
        why = check_url(s);
        if (why)
            return fail(c, n, "invalid URL '%s' for '%s': %s", s, f->path, why);
        return 0;
    case T_BROKER:
    case T_LISTEN:
        why = check_hostport(s, t == T_LISTEN);
        if (why)
            return fail(c, n, "invalid address '%s' for '%s': %s", s, f->path,
                        why);
        return 0;
    case T_REGEX:
        return check_regex(c, n, f->path, s);
    case T_LOGLEVEL:
        if (log_level_parse(s, &lvl) < 0)
            return fail(c, n,
                        "invalid log level '%s' for '%s' (use debug, "
                        "info, warn or error)",
                        s, f->path);
        return 0;
    case T_FOLDFIELD:
        if (strcmp(s, "max") && strcmp(s, "sum") && strcmp(s, "avg"))
            return fail(c, n, "invalid fold field '%s' (use max, sum or avg)",
                        s);
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
            fail(c, n, "invalid %s '%s' for '%s': %s",
                 f->type == T_DURATION ? "duration" : "size", s, f->path, why);
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
            fail(c, n, "'%s' must be a number from 0 to 1, got '%s'", f->path,
                 s);
            goto out;
        }
        *(double *)at(base, f->off) = d;
        break;
    }
    case T_BOOL:
        if (strcmp(s, "true") != 0 && strcmp(s, "false") != 0) {
            fail(c, n, "'%s' must be true or false, got '%s'", f->path, s);
            goto out;
        }
        *(bool *)at(base, f->off) = s[0] == 't';
        break;
    case T_ACTION: {
        enum relabel_action a;
        if (relabel_action_parse(s, &a) < 0) {
            fail(c, n,
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
        return fail(c, n, "'%s' must be a list, got a %s", f->path, kind(n));
    size_t cnt =
        (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt > MAX_LIST_ENTRIES)
        return fail(c, n, "'%s' has more than %d entries", f->path,
                    MAX_LIST_ENTRIES);
    *vp = xcalloc(cnt, sizeof(char *));
    for (size_t i = 0; i < cnt; i++) {
        const yaml_node_t *item = list_item(c, n, i);
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
static long find_dup(const void *arr, size_t n, size_t stride, size_t name_off)
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
        return fail(c, n, "'%s' must be a map, got a %s", f->path, kind(n));
    size_t cnt =
        (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start);
    if (cnt > MAX_PROPERTIES)
        return fail(c, n, "'%s' has more than %d entries", f->path,
                    MAX_PROPERTIES);
    *vp = xcalloc(cnt, sizeof(struct cfg_kv));
    for (size_t i = 0; i < cnt; i++) {
        yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
        const yaml_node_t *k = node_at(c, p->key);
        const yaml_node_t *v = node_at(c, p->value);
        if (visit(c, k) < 0 || visit(c, v) < 0)
            return -1;
        if (k->type != YAML_SCALAR_NODE || !k->data.scalar.length)
            return fail(c, k, "keys in '%s' must be non-empty scalars",
                        f->path);
        (*vp)[i].key = xstrdup((const char *)k->data.scalar.value);
        (*np)++;
        if (get_scalar(c, v, f->path, &(*vp)[i].value) < 0)
            return -1;
    }
    long d =
        find_dup(*vp, *np, sizeof(struct cfg_kv), offsetof(struct cfg_kv, key));
    if (d >= 0)
        return fail(c, node_at(c, n->data.mapping.pairs.start[d].key),
                    "duplicate key '%s' in '%s'", (*vp)[d].key, f->path);
    return 0;
}

static int parse_list(struct ctx *c, const struct cfg_field *f,
                      const yaml_node_t *n, void *base)
{
    const struct list_desc *ld = f->aux;
    void **vp = at(base, f->off);
    size_t *np = at(base, f->off_n);
    char elem_path[MAX_PATH_LEN];
    if (is_null(n))
        return 0;
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(c, n, "'%s' must be a list, got a %s", f->path, kind(n));
    size_t cnt =
        (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
    if (cnt > MAX_LIST_ENTRIES)
        return fail(c, n, "'%s' has more than %d entries", f->path,
                    MAX_LIST_ENTRIES);
    snprintf(elem_path, sizeof(elem_path), "%s[]", f->path);
    *vp = xcalloc(cnt, ld->elem_size);
    *np = cnt;
    for (size_t i = 0; ld->init && i < cnt; i++)
        ld->init(at(*vp, i * ld->elem_size));
    for (size_t i = 0; i < cnt; i++) {
        const yaml_node_t *item = list_item(c, n, i);
        void *elem = at(*vp, i * ld->elem_size);
        if (item->type != YAML_MAPPING_NODE)
            return fail(c, item, "entries of '%s' must be maps, got a %s",
                        f->path, kind(item));
        if (parse_map(c, item, elem_path, elem) < 0)
            return -1;
        if (ld->check && ld->check(c, item, elem) < 0)
            return -1;
    }
    if (ld->check_all && ld->check_all(c, n, *vp, cnt) < 0)
        return -1;
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
        return fail(c, n, "'%s' must be a map, got a %s", prefix, kind(n));
    yaml_node_pair_t *start = n->data.mapping.pairs.start;
    for (yaml_node_pair_t *p = start; p < n->data.mapping.pairs.top; p++) {
        const yaml_node_t *k = node_at(c, p->key);
        const yaml_node_t *v = node_at(c, p->value);
        if (visit(c, k) < 0)
            return -1;
        if (k->type != YAML_SCALAR_NODE)
            return fail(c, k, "keys must be scalars, got a %s", kind(k));
        const char *key = (const char *)k->data.scalar.value;
        const struct cfg_field *f = find_field(prefix, key);
        char where[MAX_PATH_LEN + 16];
        if (*prefix)
            snprintf(where, sizeof(where), "in '%s'", prefix);
        else
            snprintf(where, sizeof(where), "at top level");
        if (!f) {
            const char *hint = suggest(prefix, key);
            if (hint)
                return fail(c, k, "unknown key '%s' %s (did you mean '%s'?)",
                            key, where, hint);
            return fail(c, k, "unknown key '%s' %s", key, where);
        }
        /* Known keys are few per map, so this scan stays short. */
        for (yaml_node_pair_t *q = start; q < p; q++) {
            const yaml_node_t *qk = node_at(c, q->key);
            if (strcmp((const char *)qk->data.scalar.value, key) == 0)
                return fail(c, k, "duplicate key '%s' %s", key, where);
        }
        if (visit(c, v) < 0 || parse_field(c, f, v, base) < 0)
            return -1;
    }
    return 0;
}

/* ------------------------------------------------------------------ */
/* Section and entry checks                                            */

static void flink_init(void *elem)
{
    struct cfg_flink *fl = elem;
    fl->rest_concurrency = 8;
    fl->bottleneck_threshold = 0.8;
}

static int flink_check(struct ctx *c, const yaml_node_t *n, void *elem)
{
    struct cfg_flink *fl = elem;
    if (!fl->name)
        return fail(c, n, "flink cluster needs a 'name'");
    if (!fl->rest_url && fl->n_reporters == 0)
        return fail(c, n, "flink cluster '%s' needs 'rest_url' or 'reporters'",
                    fl->name);
    if (fl->discover_port && !fl->rest_url)
        return fail(c, map_get(c, n, "discover_reporters"),
                    "'discover_reporters' in flink cluster '%s' needs "
                    "'rest_url'",
                    fl->name);
    return 0;
}

static int flink_check_all(struct ctx *c, const yaml_node_t *n, void *arr,
                           size_t cnt)
{
    struct cfg_flink *fl = arr;
    long d = find_dup(arr, cnt, sizeof(*fl), offsetof(struct cfg_flink, name));
    if (d < 0)
        return 0;
    return fail(c, map_get(c, list_item(c, n, (size_t)d), "name"),
                "duplicate flink cluster name '%s'", fl[d].name);
}

static int kafka_check(struct ctx *c, const yaml_node_t *n, void *elem)
{
    struct cfg_kafka *k = elem;
    if (!k->name)
        return fail(c, n, "kafka cluster needs a 'name'");
    if (k->n_brokers == 0)
        return fail(c, map_get(c, n, "brokers") ? map_get(c, n, "brokers") : n,
                    "kafka cluster '%s' needs at least one broker", k->name);
    return 0;
}

static int kafka_check_all(struct ctx *c, const yaml_node_t *n, void *arr,
                           size_t cnt)
{
    struct cfg_kafka *k = arr;
    long d = find_dup(arr, cnt, sizeof(*k), offsetof(struct cfg_kafka, name));
    if (d < 0)
        return 0;
    return fail(c, map_get(c, list_item(c, n, (size_t)d), "name"),
                "duplicate kafka cluster name '%s'", k[d].name);
}

static int group_check(struct ctx *c, const yaml_node_t *n, void *elem)
{
    struct cfg_kafka_group *g = elem;
    if (!g->name == !g->pattern)
        return fail(c, n,
                    "group entry needs exactly one of 'name' or "
                    "'pattern'");
    /* Same normalization as the ring and Flink's PrometheusReporter (per
     * code point), so the job_name tag matches the job's own series. */
    if (g->job) {
        size_t len = strlen(g->job);
        char *norm = xcheck(hashring_normalize_dup(g->job, len, NULL), len + 1);
        free(g->job);
        g->job = norm;
    }
    return 0;
}

static void relabel_init(void *elem)
{
    struct cfg_relabel *r = elem;
    r->action = RELABEL_REPLACE;
    r->separator = xstrdup(";");
    r->regex = xstrdup("(.*)");
    r->replacement = xstrdup("$1");
}

static int relabel_check(struct ctx *c, const yaml_node_t *n, void *elem)
{
    static const char *const only_regex[] = {
        "source_labels", "target_label", "separator", "replacement", "modulus"};
    struct cfg_relabel *r = elem;
    const char *act = relabel_action_name(r->action);
    r->line = (int)n->start_mark.line + 1;
    r->col = (int)n->start_mark.column + 1;
    switch (r->action) {
    case RELABEL_REPLACE:
    case RELABEL_HASHMOD:
    case RELABEL_LOWERCASE:
    case RELABEL_UPPERCASE:
        if (!r->target_label)
            return fail(c, n, "relabel action '%s' needs 'target_label'", act);
        if (r->action == RELABEL_HASHMOD && r->modulus == 0)
            return fail(c,
                        map_get(c, n, "modulus") ? map_get(c, n, "modulus") : n,
                        "relabel action 'hashmod' needs 'modulus' greater "
                        "than 0");
        break;
    case RELABEL_LABELDROP:
    case RELABEL_LABELKEEP:
        for (size_t i = 0; i < sizeof(only_regex) / sizeof(only_regex[0]);
             i++) {
            const yaml_node_t *v = map_get(c, n, only_regex[i]);
            if (v)
                return fail(c, v,
                            "relabel action '%s' takes only 'regex', not "
                            "'%s'",
                            act, only_regex[i]);
        }
        break;
    default:
        break;
    }
    return 0;
}

static int fold_check(struct ctx *c, const yaml_node_t *n, void *base)
{
    struct config *cfg = base;
    long d = find_dup(cfg->trim.fold_fields, cfg->trim.n_fold_fields,
                      sizeof(char *), 0);
    if (d < 0)
        return 0;
    return fail(c, list_item(c, map_get(c, n, "fields"), (size_t)d),
                "duplicate fold field '%s'", cfg->trim.fold_fields[d]);
}

static bool discover_shown(const void *base)
{
    return ((const struct cfg_flink *)base)->discover_port != 0;
}

static void node_init(void *elem)
{
    struct cfg_influx_node *nd = elem;
    nd->weight = 1;
}

static int node_check(struct ctx *c, const yaml_node_t *n, void *elem)
{
    struct cfg_influx_node *nd = elem;
    if (!nd->name)
        return fail(c, n, "influxdb node needs a 'name'");
    if (!nd->url)
        return fail(c, n, "influxdb node '%s' needs a 'url'", nd->name);
    /* A node's spool is agent.spool_dir/<name>: this one would share the
     * remote-write sink's spool directory. */
    if (strcmp(nd->name, "remote_write") == 0)
        return fail(c, n,
                    "influxdb node name 'remote_write' is reserved "
                    "(agent.spool_dir/remote_write is the remote-write "
                    "spool): rename the node");
    return 0;
}

static int node_check_all(struct ctx *c, const yaml_node_t *n, void *arr,
                          size_t cnt)
{
    struct cfg_influx_node *nd = arr;
    long d =
        find_dup(arr, cnt, sizeof(*nd), offsetof(struct cfg_influx_node, name));
    if (d < 0)
        return 0;
    return fail(c, map_get(c, list_item(c, n, (size_t)d), "name"),
                "duplicate node name '%s'", nd[d].name);
}

static void influx_enter(void *base)
{
    ((struct config *)base)->influx.enabled = true;
}

static int influx_check(struct ctx *c, const yaml_node_t *n, void *base)
{
    struct config *cfg = base;
    struct cfg_influx *in = &cfg->influx;
    const yaml_node_t *nodes = map_get(c, n, "nodes");
    if (in->n_nodes == 0)
        return fail(c, nodes ? nodes : n,
                    "'sinks.influxdb' needs at least one node");
    if (in->replicas > in->n_nodes)
        return fail(c, map_get(c, n, "replicas"),
                    "'sinks.influxdb.replicas' (%u) exceeds the number of "
                    "nodes (%zu)",
                    in->replicas, in->n_nodes);
    if (in->n_shard_by == 0)
        return fail(c, map_get(c, n, "shard_by"),
                    "'sinks.influxdb.shard_by' must not be empty");
    if (in->password_file && in->password_env)
        return fail(c, map_get(c, n, "password_env"),
                    "set only one of 'password_file' and 'password_env'");
    if (in->password_file) {
        char err[512];
        in->password = secret_read_file(in->password_file, "password file",
                                        false, err, sizeof(err));
        if (!in->password)
            return fail(c, map_get(c, n, "password_file"), "%s", err);
    }
    if (in->password_env) {
        const char *v = getenv(in->password_env);
        if (!v || !*v)
            return fail(c, map_get(c, n, "password_env"),
                        "environment variable '%s' named by "
                        "'sinks.influxdb.password_env' is %s",
                        in->password_env, v ? "empty" : "not set");
        in->password = xstrdup(v);
    }
    return 0;
}

static bool influx_shown(const void *base)
{
    return ((const struct config *)base)->influx.enabled;
}

static void influx_print_extra(const void *base, FILE *out, int indent)
{
    const struct config *cfg = base;
    if (cfg->influx.password)
        fprintf(out, "%*spassword: (set)\n", indent, "");
}

static void rw_enter(void *base)
{
    ((struct config *)base)->remote_write.enabled = true;
}

static int rw_check(struct ctx *c, const yaml_node_t *n, void *base)
{
    const struct cfg_remote_write *rw = &((struct config *)base)->remote_write;
    if (!rw->url)
        return fail(c, n, "'sinks.remote_write' needs 'url'");
    if (rw->min_backoff_ms > rw->max_backoff_ms)
        return fail(c, map_get(c, n, "min_backoff"),
                    "'sinks.remote_write.min_backoff' exceeds 'max_backoff'");
    if (rw->password_file && !rw->username)
        return fail(c, map_get(c, n, "password_file"),
                    "'sinks.remote_write.password_file' needs 'username'");
    if (rw->password_file) {
        /* read again by the sink at start; checked here so that `lagwatch
         * check` refuses what the daemon would */
        char err[512];
        char *s =
            secret_read_file(rw->password_file, "remote write password file",
                             false, err, sizeof(err));
        if (!s)
            return fail(c, map_get(c, n, "password_file"), "%s", err);
        secret_free(&s);
    }
    return 0;
}

static bool rw_shown(const void *base)
{
    return ((const struct config *)base)->remote_write.enabled;
}

/* The endpoint's TLS and auth files are read here as well as when the
 * endpoint starts (both through secret.h), so that `lagwatch check` fails
 * for a file the daemon would refuse. Secrets are not kept. */
static int check_endpoint_files(struct ctx *c, const yaml_node_t *agent,
                                const struct cfg_agent *a)
{
    char err[768];
    char *s = NULL;
    if (!a->tls_cert_file != !a->tls_key_file)
        return fail(
            c,
            map_get(c, agent,
                    a->tls_cert_file ? "tls_cert_file" : "tls_key_file"),
            "'agent.tls_cert_file' and 'agent.tls_key_file' must be "
            "set together");
    if (a->tls_cert_file &&
        secret_check_pem(a->tls_cert_file, "TLS certificate file",
                         SECRET_MAX_PEM_BYTES, err, sizeof(err)) < 0)
        return fail(c, map_get(c, agent, "tls_cert_file"), "%s", err);
    if (a->tls_key_file &&
        secret_check_pem(a->tls_key_file, "TLS key file", SECRET_MAX_PEM_BYTES,
                         err, sizeof(err)) < 0)
        return fail(c, map_get(c, agent, "tls_key_file"), "%s", err);
    if (!a->basic_auth_user != !a->basic_auth_password_file)
        return fail(c,
                    map_get(c, agent,
                            a->basic_auth_user ? "basic_auth_user"
                                               : "basic_auth_password_file"),
                    "'agent.basic_auth_user' and "
                    "'agent.basic_auth_password_file' must be set together");
    if (a->basic_auth_user && strchr(a->basic_auth_user, ':'))
        return fail(c, map_get(c, agent, "basic_auth_user"),
                    "'agent.basic_auth_user' must not contain ':'");
    if (a->bearer_token_file) {
        s = secret_read_file(a->bearer_token_file, "bearer token file", true,
                             err, sizeof(err));
        if (!s)
            return fail(c, map_get(c, agent, "bearer_token_file"), "%s", err);
        secret_free(&s);
    }
    if (a->basic_auth_password_file) {
        s = secret_read_file(a->basic_auth_password_file,
                             "basic auth password file", false, err,
                             sizeof(err));
        if (!s)
            return fail(c, map_get(c, agent, "basic_auth_password_file"), "%s",
                        err);
        secret_free(&s);
    }
    return 0;
}

static int check_root(struct ctx *c, const yaml_node_t *root,
                      struct config *cfg)
{
    const yaml_node_t *agent = map_get(c, root, "agent");
    const yaml_node_t *st = map_get(c, agent, "scrape_timeout");
    struct cfg_agent *a = &cfg->agent;
    if (st && a->scrape_timeout_ms > a->interval_ms) {
        char t[32], i[32];
        units_format_duration(a->scrape_timeout_ms, t, sizeof(t));
        units_format_duration(a->interval_ms, i, sizeof(i));
        return fail(c, st,
                    "'agent.scrape_timeout' (%s) must not exceed "
                    "'agent.interval' (%s)",
                    t, i);
    }
    if (!st && a->scrape_timeout_ms > a->interval_ms)
        a->scrape_timeout_ms = a->interval_ms;
    if (!a->name) {
        char host[256];
        if (gethostname(host, sizeof(host)) < 0)
            return fail(c, NULL,
                        "'agent.name' is not set and the host name is "
                        "unknown: %s",
                        strerror(errno));
        host[sizeof(host) - 1] = '\0';
        a->name = xstrdup(host);
    }
    return check_endpoint_files(c, agent, a);
}

/* ------------------------------------------------------------------ */
/* Defaults, freeing                                                   */

static char **strv(const char *const *src, size_t n)
{
    char **v = xcalloc(n, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        v[i] = xstrdup(src[i]);
    return v;
}

static void set_defaults(struct config *cfg)
{
    static const char *const drop[] = {"task_attempt_id", "task_attempt_num",
                                       "tm_id", "host"};
    static const char *const fold[] = {"numRecords.*", "numBytes.*",
                                       ".*TimeMsPerSecond"};
    static const char *const fields3[] = {"max", "sum", "avg"};
    static const char *const shard[] = {"job_name"};
    struct cfg_agent *a = &cfg->agent;
    struct cfg_trim *t = &cfg->trim;
    struct cfg_influx *in = &cfg->influx;

    a->interval_ms = 15000;
    a->listen = xstrdup("127.0.0.1:9743");
    a->spool_dir = xstrdup("/var/lib/lagwatch/spool");
    a->spool_max_bytes = 1ULL << 30;
    a->log_level = xstrdup("info");
    a->scrape_timeout_ms = 10000;
    a->max_response_bytes = 64ULL << 20;
    a->scrape_concurrency = 16;
    a->shutdown_timeout_ms = 30000;
    a->spool_fsync = true;
    a->max_connections = 64;

    t->drop_labels = strv(drop, 4);
    t->n_drop_labels = 4;
    t->drop_labels_match = xstrdup("flink_taskmanager_job_.*");
    t->fold_metrics = strv(fold, 3);
    t->n_fold_metrics = 3;
    t->fold_fields = strv(fields3, 3);
    t->n_fold_fields = 3;
    t->max_series = 1000000;
    t->max_label_bytes = 4096;

    in->database = xstrdup("flink");
    in->shard_by = strv(shard, 1);
    in->n_shard_by = 1;
    in->vnodes = 1000;
    in->replicas = 1;
    in->batch_size = 5000;
    in->flush_interval_ms = 1000;
    in->timeout_ms = 10000;
    in->max_retries = 3;
    in->queue_max_bytes = 64ULL << 20;
    in->create_database = true;
    in->gzip = true;

    cfg->remote_write.timeout_ms = 10000;
    cfg->remote_write.batch_size = 2000;
    cfg->remote_write.max_retries = 5;
    cfg->remote_write.min_backoff_ms = 500;
    cfg->remote_write.max_backoff_ms = 30000;
    cfg->remote_write.queue_max_bytes = 64ULL << 20;
}

static void free_fields(const char *prefix, void *base)
{
    char elem_path[MAX_PATH_LEN];
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
    free_fields("", cfg);
    if (cfg->influx.password) {
        explicit_bzero(cfg->influx.password, strlen(cfg->influx.password));
        free(cfg->influx.password);
    }
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
        fail(&c, NULL, "configuration is larger than 4MiB");
        goto fail;
    }
    if (!yaml_parser_initialize(&parser)) {
        fail(&c, NULL, "cannot initialize the YAML parser");
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
        fail(&c, NULL, "configuration is empty");
        goto fail;
    }
    if (!yaml_parser_load(&parser, &extra)) {
        yaml_fail(&c, &parser);
        goto fail;
    }
    const yaml_node_t *second = yaml_document_get_root_node(&extra);
    if (second) {
        fail(&c, second, "only one YAML document is allowed");
        yaml_document_delete(&extra);
        goto fail;
    }
    yaml_document_delete(&extra);
    if (root->type != YAML_MAPPING_NODE) {
        fail(&c, root, "top level must be a map, got a %s", kind(root));
        goto fail;
    }
    cfg = xcalloc(1, sizeof(*cfg));
    cfg->path = xstrdup(path);
    set_defaults(cfg);
    if (parse_map(&c, root, "", cfg) < 0 || check_root(&c, root, cfg) < 0)
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

/* ------------------------------------------------------------------ */
/* Printing                                                            */

/* Strings that YAML would read as something else get double quotes. */
static void print_str(FILE *out, const char *s)
{
    bool plain = *s && !strchr("-?:,[]{}#&*!|>'\"%@`~ ", s[0]) &&
                 strcmp(s, "true") && strcmp(s, "false") && strcmp(s, "null");
    for (const char *p = s; plain && *p; p++)
        if (strchr("#\"'\\{}[],;", *p) || (*p == ':' && p[1] == ' ') ||
            (unsigned char)*p < ' ' || *p == '$' || *p == '*')
            plain = false;
    if (plain && s[strlen(s) - 1] != ' ' && s[strlen(s) - 1] != ':') {
        fputs(s, out);
        return;
    }
    fputc('"', out);
    for (const char *p = s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if ((unsigned char)*p < ' ')
            fprintf(out, "\\x%02x", (unsigned char)*p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

/* librdkafka properties may carry SASL or TLS secrets. */
static bool secret_key(const char *k)
{
    return strstr(k, "password") || strstr(k, "secret") ||
           strstr(k, "key.pem") || strstr(k, "sasl.jaas");
}

static void print_entry(const char *prefix, const void *base, FILE *out,
                        int indent);

static void print_fields(const char *prefix, const void *base, FILE *out,
                         int indent)
{
    char elem_path[MAX_PATH_LEN], tmp[32];
    for (size_t i = 0; i < N_FIELDS; i++) {
        const struct cfg_field *f = &fields[i];
        const char *key = leaf(f->path);
        if (!is_child(f->path, prefix))
            continue;
        switch (f->type) {
        case T_MAP: {
            const struct section *sec = f->aux;
            if (sec && sec->shown && !sec->shown(base))
                break;
            fprintf(out, "%*s%s:\n", indent, "", key);
            print_fields(f->path, base, out, indent + 2);
            if (sec && sec->print_extra)
                sec->print_extra(base, out, indent + 2);
            break;
        }
        case T_LIST: {
            const struct list_desc *ld = f->aux;
            const void *arr = *(void *const *)cat(base, f->off);
            size_t n = *(const size_t *)cat(base, f->off_n);
            fprintf(out, "%*s%s:%s\n", indent, "", key, n ? "" : " []");
            snprintf(elem_path, sizeof(elem_path), "%s[]", f->path);
            for (size_t j = 0; j < n; j++)
                print_entry(elem_path, cat(arr, j * ld->elem_size), out,
                            indent + 2);
            break;
        }
        case T_STRLIST: {
            char *const *v = *(char *const *const *)cat(base, f->off);
            size_t n = *(const size_t *)cat(base, f->off_n);
            fprintf(out, "%*s%s: [", indent, "", key);
            for (size_t j = 0; j < n; j++) {
                fputs(j ? ", " : "", out);
                print_str(out, v[j]);
            }
            fputs("]\n", out);
            break;
        }
        case T_KV: {
            const struct cfg_kv *kv =
                *(struct cfg_kv *const *)cat(base, f->off);
            size_t n = *(const size_t *)cat(base, f->off_n);
            fprintf(out, "%*s%s:%s\n", indent, "", key, n ? "" : " {}");
            for (size_t j = 0; j < n; j++) {
                fprintf(out, "%*s", indent + 2, "");
                print_str(out, kv[j].key);
                fputs(": ", out);
                if (secret_key(kv[j].key))
                    fputs("(set)", out);
                else
                    print_str(out, kv[j].value);
                fputc('\n', out);
            }
            break;
        }
        case T_DURATION:
        case T_SIZE:
        case T_U64:
            fmt_value(f->type, *(const uint64_t *)cat(base, f->off), tmp,
                      sizeof(tmp));
            fprintf(out, "%*s%s: %s\n", indent, "", key, tmp);
            break;
        case T_UINT:
            fprintf(out, "%*s%s: %u\n", indent, "", key,
                    *(const unsigned *)cat(base, f->off));
            break;
        case T_BOOL:
            fprintf(out, "%*s%s: %s\n", indent, "", key,
                    *(const bool *)cat(base, f->off) ? "true" : "false");
            break;
        case T_RATIO:
            fprintf(out, "%*s%s: %g\n", indent, "", key,
                    *(const double *)cat(base, f->off));
            break;
        case T_ACTION:
            fprintf(out, "%*s%s: %s\n", indent, "", key,
                    relabel_action_name(
                        *(const enum relabel_action *)cat(base, f->off)));
            break;
        default: {
            const char *s = *(char *const *)cat(base, f->off);
            if (!s)
                break;
            fprintf(out, "%*s%s: ", indent, "", key);
            print_str(out, s);
            fputc('\n', out);
            break;
        }
        }
    }
}

/* One list entry in block style: "- " replaces the indentation of its
 * first line. */
static void print_entry(const char *prefix, const void *base, FILE *out,
                        int indent)
{
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) {
        fprintf(out, "%*s- (cannot format entry)\n", indent, "");
        return;
    }
    print_fields(prefix, base, mem, indent + 2);
    fclose(mem);
    if (len >= (size_t)indent + 2) {
        text[indent] = '-';
        text[indent + 1] = ' ';
    }
    fputs(text, out);
    free(text);
}

void config_print(const struct config *cfg, FILE *out)
{
    fprintf(out, "# %s\n", cfg->path);
    print_fields("", cfg, out, 0);
}
