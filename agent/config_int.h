/*
 * config_int: what the configuration loader's files share (private to
 * config.c, config_defaults.c, config_check.c and config_print.c; nothing else
 * includes it).
 *
 * config.c owns the key table (CONFIG_TABLE) and walks the YAML with it;
 * config_defaults.c sets the defaults before the walk; config_check.c
 * holds the per-section and per-entry hooks the table names
 * (checks that involve several keys, with errors at the offending node);
 * config_print.c prints a loaded configuration from the same table. All of
 * it runs in the thread that loads the configuration.
 */
#ifndef AGENT_CONFIG_INT_H
#define AGENT_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "config.h"

/* Longest key path, "[]" included ("sinks.influxdb.nodes[].weight"). */
#define CONFIG_MAX_PATH_LEN 128

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
    /* Entries need unique names: what a name is called in the error
     * ("duplicate node name 'a'") and the offset of the char * name in an
     * entry; NULL for a list without names. */
    const char *unique;
    size_t name_off;
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

/* The key table, in table order; *n gets its length. */
const struct cfg_field *config_fields(size_t *n);

/* Whether path's parent (everything before the last '.') is prefix. */
static inline bool is_child(const char *path, const char *prefix)
{
    const char *dot = strrchr(path, '.');
    size_t plen = strlen(prefix);
    if (!dot)
        return plen == 0;
    return (size_t)(dot - path) == plen && memcmp(path, prefix, plen) == 0;
}

static inline const char *leaf(const char *path)
{
    const char *dot = strrchr(path, '.');
    return dot ? dot + 1 : path;
}

static inline void *at(void *base, size_t off)
{
    return (char *)base + off;
}

static inline const void *cat(const void *base, size_t off)
{
    return (const char *)base + off;
}

/* Reports "FILE:LINE:COL: message" (n NULL: "FILE: message") into c->err;
 * returns -1 so that callers can return it. */
int config_fail(struct ctx *c, const yaml_node_t *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The value node of key in map n, or NULL (also when n is NULL). */
const yaml_node_t *config_map_get(struct ctx *c, const yaml_node_t *n,
                                  const char *key);
/* Item i of sequence n. */
const yaml_node_t *config_list_item(struct ctx *c, const yaml_node_t *n,
                                    size_t i);

/* Index of the first entry (in input order) whose name (a char * at
 * name_off in each stride-sized element) appeared earlier, or -1; NULL
 * names are skipped. */
long config_find_dup(const void *arr, size_t n, size_t stride, size_t name_off);

/* v as the type shows it: a duration ("15s"), a size ("64MiB") or a
 * number. */
void config_fmt_value(enum ftype t, uint64_t v, char *out, size_t n);

/* Fills cfg (zeroed) with the defaults of every key (config_defaults.c). */
void config_set_defaults(struct config *cfg);

/* Hooks of the table (config_check.c). */
void config_flink_init(void *elem);
int config_flink_check(struct ctx *c, const yaml_node_t *n, void *elem);
int config_node_check(struct ctx *c, const yaml_node_t *n, void *elem);
int config_kafka_check(struct ctx *c, const yaml_node_t *n, void *elem);
int config_group_check(struct ctx *c, const yaml_node_t *n, void *elem);
void config_relabel_init(void *elem);
void config_kafka_init(void *elem);
int config_relabel_check(struct ctx *c, const yaml_node_t *n, void *elem);
void config_influx_enter(void *base);
int config_influx_check(struct ctx *c, const yaml_node_t *n, void *base);
bool config_influx_shown(const void *base);
void config_influx_print_extra(const void *base, FILE *out, int indent);
void config_rw_enter(void *base);
void config_proxy_enter(void *base);
bool config_proxy_shown(const void *base);
int config_rw_check(struct ctx *c, const yaml_node_t *n, void *base);
bool config_rw_shown(const void *base);
int config_fold_check(struct ctx *c, const yaml_node_t *n, void *base);
bool config_discover_shown(const void *base);
/* Checks across sections once the whole document is parsed (the agent's
 * defaults that depend on other keys, the endpoint's files). */
int config_check_root(struct ctx *c, const yaml_node_t *root,
                      struct config *cfg);

#endif
