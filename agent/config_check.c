/*
 * The hooks of the configuration table (config_int.h): defaults of list
 * entries, checks that involve several keys of a section or entry, and the
 * checks across sections once the document is parsed. Each error points at
 * the YAML node that has to change (lagwatch.yml(5)).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_int.h"
#include "pipeline/series_fold.h"
#include "hashring/hashring.h"
#include "util/secret.h"
#include "util/units.h"
#include "util/xalloc.h"

void config_flink_init(void *elem)
{
    struct cfg_flink *fl = elem;
    fl->rest_concurrency = 8;
    fl->bottleneck_threshold = 0.8;
}

/* An entry of sinks.influxdb.nodes (lagwatch.yml(5), SINKS). */
int config_node_check(struct ctx *c, const yaml_node_t *n, void *elem)
{
    struct cfg_influx_node *nd = elem;
    if (!nd->name)
        return config_fail(c, n, "influxdb node needs a 'name'");
    if (!nd->url)
        return config_fail(c, n, "influxdb node '%s' needs a 'url'", nd->name);
    /* A node's spool is agent.spool_dir/<name>: this one would share the
     * remote-write sink's spool directory. */
    if (strcmp(nd->name, "remote_write") == 0)
        return config_fail(c, n,
                           "influxdb node name 'remote_write' is reserved "
                           "(agent.spool_dir/remote_write is the remote-write "
                           "spool): rename the node");
    if (strcmp(nd->name, "proxy_write") == 0)
        return config_fail(c, n,
                           "influxdb node name 'proxy_write' is reserved "
                           "(agent.spool_dir/proxy_write holds the proxy's "
                           "/write spools): rename the node");
    /* lagwatch.yml(5) SINKS: the keys of the InfluxDB 2 API are refused on
     * a v1 node rather than ignored, so that a forgotten 'api: v2' is an
     * error, not points written to the wrong place. */
    bool v2 = nd->api && strcmp(nd->api, "v2") == 0;
    if (nd->api && !v2 && strcmp(nd->api, "v1") != 0)
        return config_fail(
            c, config_map_get(c, n, "api"),
            "influxdb node '%s': 'api' must be v1 or v2, not '%s'", nd->name,
            nd->api);
    const char *v2_only = nd->org          ? "org"
                          : nd->bucket     ? "bucket"
                          : nd->token_file ? "token_file"
                                           : NULL;
    if (!v2 && v2_only)
        return config_fail(c, config_map_get(c, n, v2_only),
                           "influxdb node '%s': '%s' needs 'api: v2'", nd->name,
                           v2_only);
    if (v2 && !nd->org)
        return config_fail(c, n,
                           "influxdb node '%s' (api: v2) needs an 'org' "
                           "(InfluxDB 2 refuses writes without one)",
                           nd->name);
    if (nd->token_file) {
        char err[768];
        nd->token = secret_read_file(nd->token_file, "InfluxDB token file",
                                     true, err, sizeof(err));
        if (!nd->token)
            return config_fail(c, config_map_get(c, n, "token_file"), "%s",
                               err);
    }
    return 0;
}

int config_flink_check(struct ctx *c, const yaml_node_t *n, void *elem)
{
    struct cfg_flink *fl = elem;
    if (!fl->name)
        return config_fail(c, n, "flink cluster needs a 'name'");
    if (!fl->rest_url && fl->n_reporters == 0)
        return config_fail(c, n,
                           "flink cluster '%s' needs 'rest_url' or 'reporters'",
                           fl->name);
    if (fl->discover_port && !fl->rest_url)
        return config_fail(c, config_map_get(c, n, "discover_reporters"),
                           "'discover_reporters' in flink cluster '%s' needs "
                           "'rest_url'",
                           fl->name);
    return 0;
}

int config_kafka_check(struct ctx *c, const yaml_node_t *n, void *elem)
{
    struct cfg_kafka *k = elem;
    if (!k->name)
        return config_fail(c, n, "kafka cluster needs a 'name'");
    if (k->n_brokers == 0)
        return config_fail(
            c,
            config_map_get(c, n, "brokers") ? config_map_get(c, n, "brokers")
                                            : n,
            "kafka cluster '%s' needs at least one broker", k->name);
    return 0;
}

int config_group_check(struct ctx *c, const yaml_node_t *n, void *elem)
{
    struct cfg_kafka_group *g = elem;
    if (!g->name == !g->pattern)
        return config_fail(c, n,
                           "group entry needs exactly one of 'name' or "
                           "'pattern'");
    if (g->exclude && !g->pattern)
        return config_fail(c, n,
                           "group entry: 'exclude' needs 'pattern' (a "
                           "name selects one group)");
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

/* kafka[] defaults (lagwatch.yml(5), KAFKA). */
void config_kafka_init(void *elem)
{
    struct cfg_kafka *k = elem;
    k->rate_window_ms = 300000;
}

void config_relabel_init(void *elem)
{
    struct cfg_relabel *r = elem;
    r->action = RELABEL_REPLACE;
    r->separator = xstrdup(";");
    r->regex = xstrdup("(.*)");
    r->replacement = xstrdup("$1");
}

int config_relabel_check(struct ctx *c, const yaml_node_t *n, void *elem)
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
            return config_fail(c, n, "relabel action '%s' needs 'target_label'",
                               act);
        if (r->action == RELABEL_HASHMOD && r->modulus == 0)
            return config_fail(
                c,
                config_map_get(c, n, "modulus")
                    ? config_map_get(c, n, "modulus")
                    : n,
                "relabel action 'hashmod' needs 'modulus' greater "
                "than 0");
        break;
    case RELABEL_LABELDROP:
    case RELABEL_LABELKEEP:
        for (size_t i = 0; i < sizeof(only_regex) / sizeof(only_regex[0]);
             i++) {
            const yaml_node_t *v = config_map_get(c, n, only_regex[i]);
            if (v)
                return config_fail(
                    c, v,
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

int config_fold_check(struct ctx *c, const yaml_node_t *n, void *base)
{
    struct config *cfg = base;
    long d = config_find_dup(cfg->trim.fold_fields, cfg->trim.n_fold_fields,
                             sizeof(char *), 0);
    if (d < 0) {
        /* the one place the names become the fold set every sink uses */
        cfg->trim.fold = 0;
        for (size_t i = 0; i < cfg->trim.n_fold_fields; i++)
            cfg->trim.fold |= series_fold_parse(cfg->trim.fold_fields[i]);
        return 0;
    }
    return config_fail(
        c, config_list_item(c, config_map_get(c, n, "fields"), (size_t)d),
        "duplicate fold field '%s'", cfg->trim.fold_fields[d]);
}

bool config_discover_shown(const void *base)
{
    return ((const struct cfg_flink *)base)->discover_port != 0;
}

void config_influx_enter(void *base)
{
    ((struct config *)base)->influx.enabled = true;
}

int config_influx_check(struct ctx *c, const yaml_node_t *n, void *base)
{
    struct config *cfg = base;
    struct cfg_influx *in = &cfg->influx;
    const yaml_node_t *nodes = config_map_get(c, n, "nodes");
    if (in->n_nodes == 0)
        return config_fail(c, nodes ? nodes : n,
                           "'sinks.influxdb' needs at least one node");
    if (in->replicas > in->n_nodes)
        return config_fail(
            c, config_map_get(c, n, "replicas"),
            "'sinks.influxdb.replicas' (%u) exceeds the number of "
            "nodes (%zu)",
            in->replicas, in->n_nodes);
    if (in->n_shard_by == 0)
        return config_fail(c, config_map_get(c, n, "shard_by"),
                           "'sinks.influxdb.shard_by' must not be empty");
    if (in->password_file && in->password_env)
        return config_fail(
            c, config_map_get(c, n, "password_env"),
            "set only one of 'password_file' and 'password_env'");
    if (in->password_file) {
        char err[512];
        in->password = secret_read_file(in->password_file, "password file",
                                        false, err, sizeof(err));
        if (!in->password)
            return config_fail(c, config_map_get(c, n, "password_file"), "%s",
                               err);
    }
    if (in->password_env) {
        const char *v = getenv(in->password_env);
        if (!v || !*v)
            return config_fail(c, config_map_get(c, n, "password_env"),
                               "environment variable '%s' named by "
                               "'sinks.influxdb.password_env' is %s",
                               in->password_env, v ? "empty" : "not set");
        in->password = xstrdup(v);
    }
    return 0;
}

bool config_influx_shown(const void *base)
{
    return ((const struct config *)base)->influx.enabled;
}

void config_influx_print_extra(const void *base, FILE *out, int indent)
{
    const struct config *cfg = base;
    if (cfg->influx.password)
        fprintf(out, "%*spassword: (set)\n", indent, "");
}

void config_proxy_enter(void *base)
{
    ((struct config *)base)->proxy.enabled = true;
}

bool config_proxy_shown(const void *base)
{
    return ((const struct config *)base)->proxy.enabled;
}

void config_rw_enter(void *base)
{
    ((struct config *)base)->remote_write.enabled = true;
}

int config_rw_check(struct ctx *c, const yaml_node_t *n, void *base)
{
    const struct cfg_remote_write *rw = &((struct config *)base)->remote_write;
    if (!rw->url)
        return config_fail(c, n, "'sinks.remote_write' needs 'url'");
    if (rw->min_backoff_ms > rw->max_backoff_ms)
        return config_fail(
            c, config_map_get(c, n, "min_backoff"),
            "'sinks.remote_write.min_backoff' exceeds 'max_backoff'");
    if (rw->password_file && !rw->username)
        return config_fail(
            c, config_map_get(c, n, "password_file"),
            "'sinks.remote_write.password_file' needs 'username'");
    if (rw->password_file) {
        /* read again by the sink at start; checked here so that `lagwatch
         * check` refuses what the daemon would */
        char err[512];
        char *s =
            secret_read_file(rw->password_file, "remote write password file",
                             false, err, sizeof(err));
        if (!s)
            return config_fail(c, config_map_get(c, n, "password_file"), "%s",
                               err);
        secret_free(&s);
    }
    return 0;
}

bool config_rw_shown(const void *base)
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
        return config_fail(
            c,
            config_map_get(c, agent,
                           a->tls_cert_file ? "tls_cert_file" : "tls_key_file"),
            "'agent.tls_cert_file' and 'agent.tls_key_file' must be "
            "set together");
    if (a->tls_cert_file &&
        secret_check_pem(a->tls_cert_file, "TLS certificate file",
                         SECRET_MAX_PEM_BYTES, err, sizeof(err)) < 0)
        return config_fail(c, config_map_get(c, agent, "tls_cert_file"), "%s",
                           err);
    if (a->tls_key_file &&
        secret_check_pem(a->tls_key_file, "TLS key file", SECRET_MAX_PEM_BYTES,
                         err, sizeof(err)) < 0)
        return config_fail(c, config_map_get(c, agent, "tls_key_file"), "%s",
                           err);
    if (!a->basic_auth_user != !a->basic_auth_password_file)
        return config_fail(
            c,
            config_map_get(c, agent,
                           a->basic_auth_user ? "basic_auth_user"
                                              : "basic_auth_password_file"),
            "'agent.basic_auth_user' and "
            "'agent.basic_auth_password_file' must be set together");
    if (a->basic_auth_user && strchr(a->basic_auth_user, ':'))
        return config_fail(c, config_map_get(c, agent, "basic_auth_user"),
                           "'agent.basic_auth_user' must not contain ':'");
    if (a->bearer_token_file) {
        s = secret_read_file(a->bearer_token_file, "bearer token file", true,
                             err, sizeof(err));
        if (!s)
            return config_fail(c, config_map_get(c, agent, "bearer_token_file"),
                               "%s", err);
        secret_free(&s);
    }
    if (a->basic_auth_password_file) {
        s = secret_read_file(a->basic_auth_password_file,
                             "basic auth password file", false, err,
                             sizeof(err));
        if (!s)
            return config_fail(
                c, config_map_get(c, agent, "basic_auth_password_file"), "%s",
                err);
        secret_free(&s);
    }
    return 0;
}

int config_check_root(struct ctx *c, const yaml_node_t *root,
                      struct config *cfg)
{
    const yaml_node_t *agent = config_map_get(c, root, "agent");
    const yaml_node_t *st = config_map_get(c, agent, "scrape_timeout");
    struct cfg_agent *a = &cfg->agent;
    if (st && a->scrape_timeout_ms > a->interval_ms) {
        char t[32], i[32];
        units_format_duration(a->scrape_timeout_ms, t, sizeof(t));
        units_format_duration(a->interval_ms, i, sizeof(i));
        return config_fail(c, st,
                           "'agent.scrape_timeout' (%s) must not exceed "
                           "'agent.interval' (%s)",
                           t, i);
    }
    if (!st && a->scrape_timeout_ms > a->interval_ms)
        a->scrape_timeout_ms = a->interval_ms;
    if (!a->name) {
        char host[256];
        if (gethostname(host, sizeof(host)) < 0)
            return config_fail(c, NULL,
                               "'agent.name' is not set and the host name is "
                               "unknown: %s",
                               strerror(errno));
        host[sizeof(host) - 1] = '\0';
        a->name = xstrdup(host);
    }
    return check_endpoint_files(c, agent, a);
}
