/*
 * influxql: a tokenizer and parser for the InfluxQL statements the proxy
 * answers (lagwatch(8), PROXY): SELECT and the SHOW statements Grafana and
 * Chronograf send. Pure: no I/O, no globals, any thread.
 *
 * The parser does not rewrite or evaluate; it builds just enough of a tree
 * for the proxy to decide where a statement goes (the WHERE clause and the
 * GROUP BY dimensions) and how its node answers combine (the field list,
 * the LIMIT family), and it records the byte span of every statement and
 * clause so that a statement can be forwarded verbatim or with one clause
 * replaced. What it does not accept it refuses with a message (never a
 * guess), which the proxy returns in InfluxDB's error shape.
 *
 * Bounds: the text is at most INFLUXQL_MAX_TEXT bytes, a statement list at
 * most INFLUXQL_MAX_STATEMENTS, expressions at most INFLUXQL_MAX_DEPTH deep
 * and INFLUXQL_MAX_NODES nodes over the whole text, regexes at most
 * INFLUXQL_MAX_REGEX bytes.
 *
 * Ownership: influxql_parse() returns one heap tree per call, freed whole
 * with influxql_free(); every string in it is owned by the tree.
 */
#ifndef AGENT_PROXY_INFLUXQL_H
#define AGENT_PROXY_INFLUXQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INFLUXQL_MAX_TEXT       (1u << 20)
#define INFLUXQL_MAX_STATEMENTS 64
#define INFLUXQL_MAX_DEPTH      64
#define INFLUXQL_MAX_NODES      20000
#define INFLUXQL_MAX_REGEX      4096

enum iql_expr_kind {
    IQL_E_IDENT,    /* s = the name (unquoted), ident_type = "::type" or NULL */
    IQL_E_STRING,   /* s */
    IQL_E_NUMBER,   /* num */
    IQL_E_INTEGER,  /* num */
    IQL_E_DURATION, /* dur_ns; s = the text as written */
    IQL_E_REGEX,    /* s = the pattern between the slashes, unescaped "\/" */
    IQL_E_BOOL,     /* num 0 or 1 */
    IQL_E_PARAM,    /* s = name of a bound parameter ($name) */
    IQL_E_WILDCARD, /* "*" in a field list or call */
    IQL_E_CALL,     /* s = function name (lower-cased), args */
    IQL_E_BINARY,   /* op, lhs = args[0], rhs = args[1] */
    IQL_E_UNARY,    /* op '-', args[0] */
    IQL_E_PAREN,    /* args[0] */
};

/* Binary operators. */
enum iql_op {
    IQL_OP_NONE,
    IQL_OP_OR,
    IQL_OP_AND,
    IQL_OP_EQ,
    IQL_OP_NEQ,
    IQL_OP_LT,
    IQL_OP_LTE,
    IQL_OP_GT,
    IQL_OP_GTE,
    IQL_OP_EQREGEX,
    IQL_OP_NEQREGEX,
    IQL_OP_ADD,
    IQL_OP_SUB,
    IQL_OP_MUL,
    IQL_OP_DIV,
    IQL_OP_MOD,
    IQL_OP_BITAND,
    IQL_OP_BITOR,
    IQL_OP_BITXOR,
};

/* A byte range [start, end) of the parsed text. */
struct iql_span {
    size_t start, end;
};

struct iql_expr {
    enum iql_expr_kind kind;
    enum iql_op op;
    char *s;
    char *ident_type;
    double num;
    int64_t dur_ns;
    struct iql_expr **args;
    size_t nargs;
    struct iql_span span;
};

struct iql_field {
    struct iql_expr *expr;
    char *alias; /* NULL without AS */
    struct iql_span span;
};

struct iql_stmt;

/* A FROM source: a measurement ([db.][rp.]name), a regex over names, or a
 * subquery (SELECT statements only; nested at most INFLUXQL_MAX_DEPTH). */
struct iql_source {
    char *db, *rp, *name; /* NULL when absent */
    char *regex;          /* set instead of name for /re/ */
    struct iql_stmt *sub; /* set instead for (SELECT ...) */
};

enum iql_stmt_kind {
    IQL_SELECT,
    IQL_SHOW_DATABASES,
    IQL_SHOW_RETENTION_POLICIES,
    IQL_SHOW_MEASUREMENTS,
    IQL_SHOW_TAG_KEYS,
    IQL_SHOW_TAG_VALUES,
    IQL_SHOW_FIELD_KEYS,
    IQL_SHOW_SERIES,
};

enum iql_fill {
    IQL_FILL_NULL,
    IQL_FILL_NONE,
    IQL_FILL_PREVIOUS,
    IQL_FILL_LINEAR,
    IQL_FILL_NUMBER
};

struct iql_stmt {
    enum iql_stmt_kind kind;
    struct iql_span span; /* the statement's text, without the ';' */
    char *on_db;          /* SHOW ... ON db */

    struct iql_field *fields; /* SELECT */
    size_t nfields;
    struct iql_span fields_span;
    struct iql_source *sources; /* SELECT, SHOW ... FROM */
    size_t nsources;
    struct iql_expr *where; /* NULL without WHERE */

    /* GROUP BY: time(interval[, offset]), tags, "*" or regexes. */
    bool group_time;
    int64_t group_interval_ns, group_offset_ns;
    char **group_tags;
    size_t ngroup_tags;
    bool group_star;            /* GROUP BY * */
    bool group_regex;           /* GROUP BY /re/ */
    struct iql_span group_span; /* empty (start == end) without GROUP BY */
    size_t group_insert;        /* where a GROUP BY clause would go */

    enum iql_fill fill;
    double fill_value;
    struct iql_span fill_span; /* empty without fill() */
    bool order_desc;

    /* LIMIT family; -1 when absent. limit_start is the offset of the first
     * of these clauses (or where it would go). */
    int64_t limit, offset, slimit, soffset;
    size_t limit_start, limit_end;
    char *tz; /* tz('...') location, NULL without */

    /* SHOW TAG VALUES WITH KEY: op is EQ, NEQ, EQREGEX, NEQREGEX or
     * IQL_OP_NONE for IN (list); values in keys. */
    enum iql_op with_key_op;
    char **keys;
    size_t nkeys;
    /* SHOW MEASUREMENTS WITH MEASUREMENT = name | =~ /re/ */
    enum iql_op with_meas_op;
    char *with_meas;
};

struct iql_query {
    struct iql_stmt *stmts;
    size_t nstmts;
};

/* Parses text[len] (one or more statements separated by ';'). Returns the
 * tree, or NULL with a message (InfluxDB's style: "error parsing query:
 * found X, expected Y at line 1, char N") in err. */
struct iql_query *influxql_parse(const char *text, size_t len, char *err,
                                 size_t errlen);
void influxql_free(struct iql_query **qp);

/* The aggregate and selector functions the parser knows (a call to any
 * other name in a field list is refused). */
bool influxql_is_aggregate(const char *fn);

/* True when the field list calls an aggregate or selector anywhere. */
bool influxql_has_aggregate(const struct iql_stmt *st);

#endif
