/* influxql, qroute and plan: the parser's tree and errors, the shard keys
 * a WHERE pins, the statements sent to the nodes (lagwatch(8), PROXY). */
#include <stdlib.h>
#include <string.h>

#include "proxy/influxql.h"
#include "proxy/plan.h"
#include "proxy/qroute.h"
#include "tests/lib/tap.h"

static struct iql_query *parse(const char *q, char *err, size_t n)
{
    err[0] = '\0';
    return influxql_parse(q, strlen(q), err, n);
}

TAP_CASE(select_clauses)
{
    char err[512];
    const char *q = "SELECT mean(\"value\") AS m, max(n) FROM \"db\".\"rp\"."
                    "\"cpu\", /^mem/ WHERE time > now() - 1h AND host =~ "
                    "/^a\\/b$/ GROUP BY time(5m, 1m), \"host\" fill(0) ORDER "
                    "BY time DESC LIMIT 10 OFFSET 2 SLIMIT 3 SOFFSET 1 "
                    "tz('Europe/Berlin')";
    struct iql_query *iq = parse(q, err, sizeof(err));
    TAP_OK(iq != NULL);
    if (!iq) {
        TAP_EQ_STR("", err);
        return;
    }
    struct iql_stmt *st = &iq->stmts[0];
    TAP_EQ_INT(1, (int)iq->nstmts);
    TAP_EQ_INT(IQL_SELECT, st->kind);
    TAP_EQ_INT(2, (int)st->nfields);
    TAP_EQ_STR("m", st->fields[0].alias);
    TAP_EQ_STR("mean", st->fields[0].expr->s);
    TAP_EQ_STR("value", st->fields[0].expr->args[0]->s);
    TAP_EQ_INT(2, (int)st->nsources);
    TAP_EQ_STR("db", st->sources[0].db);
    TAP_EQ_STR("rp", st->sources[0].rp);
    TAP_EQ_STR("cpu", st->sources[0].name);
    TAP_EQ_STR("^mem", st->sources[1].regex);
    TAP_OK(st->where && st->where->op == IQL_OP_AND);
    TAP_EQ_STR("^a/b$", st->where->args[1]->args[1]->s);
    TAP_OK(st->group_time);
    TAP_OK(st->group_interval_ns == 300LL * 1000000000LL);
    TAP_OK(st->group_offset_ns == 60LL * 1000000000LL);
    TAP_EQ_INT(1, (int)st->ngroup_tags);
    TAP_EQ_STR("host", st->group_tags[0]);
    TAP_EQ_INT(IQL_FILL_NUMBER, st->fill);
    TAP_OK(st->order_desc);
    TAP_OK(st->limit == 10 && st->offset == 2 && st->slimit == 3 &&
           st->soffset == 1);
    TAP_EQ_STR("Europe/Berlin", st->tz);
    TAP_OK(influxql_has_aggregate(st));
    influxql_free(&iq);
    TAP_OK(iq == NULL);
}

TAP_CASE(precedence_and_several_statements)
{
    char err[512];
    struct iql_query *iq = parse("select a+b*2 from m where a = 1 or b = 2 "
                                 "and c = 3; SHOW DATABASES;",
                                 err, sizeof(err));
    TAP_OK(iq != NULL);
    if (!iq)
        return;
    TAP_EQ_INT(2, (int)iq->nstmts);
    struct iql_expr *f = iq->stmts[0].fields[0].expr;
    TAP_EQ_INT(IQL_OP_ADD, f->op);
    TAP_EQ_INT(IQL_OP_MUL, f->args[1]->op);
    struct iql_expr *w = iq->stmts[0].where;
    TAP_EQ_INT(IQL_OP_OR, w->op);
    TAP_EQ_INT(IQL_OP_AND, w->args[1]->op);
    TAP_EQ_INT(IQL_SHOW_DATABASES, iq->stmts[1].kind);
    TAP_OK(!influxql_has_aggregate(&iq->stmts[0]));
    influxql_free(&iq);
}

/* The comparisons of an AND chain, left to right. */
static void ops_of(const struct iql_expr *e, enum iql_op *out, size_t *n)
{
    if (e->op == IQL_OP_AND) {
        ops_of(e->args[0], out, n);
        ops_of(e->args[1], out, n);
    } else if (*n < 16) {
        out[(*n)++] = e->op;
    }
}

TAP_CASE(every_operator)
{
    char err[512];
    struct iql_query *iq = parse(
        "SELECT a % 2 & 1 | 4 ^ 8, b::field FROM m WHERE a =~ /x/ AND b !~ "
        "/y/ AND c != 1 AND d <> 2 AND e <= 3 AND f >= 4 AND g < 5 AND h > "
        "6 AND i = 7",
        err, sizeof(err));
    TAP_OK(iq != NULL);
    if (!iq) {
        TAP_EQ_STR("", err);
        return;
    }
    static const enum iql_op want[] = {
        IQL_OP_EQREGEX, IQL_OP_NEQREGEX, IQL_OP_NEQ, IQL_OP_NEQ, IQL_OP_LTE,
        IQL_OP_GTE,     IQL_OP_LT,       IQL_OP_GT,  IQL_OP_EQ};
    enum iql_op got[16];
    size_t n = 0;
    ops_of(iq->stmts[0].where, got, &n);
    TAP_EQ_INT((int)TAP_N(want), (int)n);
    for (size_t i = 0; i < n && i < TAP_N(want); i++)
        TAP_EQ_INT(want[i], got[i]);
    /* | and ^ bind looser than % and & */
    const struct iql_expr *f = iq->stmts[0].fields[0].expr;
    TAP_EQ_INT(IQL_OP_BITXOR, f->op);
    TAP_EQ_INT(IQL_OP_BITOR, f->args[0]->op);
    TAP_EQ_STR("field", iq->stmts[0].fields[1].expr->ident_type);
    influxql_free(&iq);
    iq = parse("SELECT a FROM m WHERE a ! 1", err, sizeof(err));
    TAP_OK(iq == NULL);
    iq = parse("SELECT a: FROM m", err, sizeof(err));
    TAP_OK(iq == NULL);
}

TAP_CASE(show_statements)
{
    char err[512];
    struct iql_query *iq = parse(
        "SHOW TAG VALUES ON flink FROM cpu WITH KEY IN (job_name, host) "
        "WHERE job_name =~ /^x$/ LIMIT 5; SHOW MEASUREMENTS WITH MEASUREMENT "
        "=~ /flink_.*/ LIMIT 2 OFFSET 1; SHOW FIELD KEYS FROM m; SHOW SERIES "
        "FROM m WHERE a = 'b'; SHOW TAG KEYS; SHOW RETENTION POLICIES ON db",
        err, sizeof(err));
    TAP_OK(iq != NULL);
    if (!iq) {
        TAP_EQ_STR("", err);
        return;
    }
    TAP_EQ_INT(6, (int)iq->nstmts);
    TAP_EQ_INT(IQL_SHOW_TAG_VALUES, iq->stmts[0].kind);
    TAP_EQ_STR("flink", iq->stmts[0].on_db);
    TAP_EQ_INT(2, (int)iq->stmts[0].nkeys);
    TAP_OK(iq->stmts[0].limit == 5);
    TAP_EQ_STR("flink_.*", iq->stmts[1].with_meas);
    TAP_OK(iq->stmts[1].offset == 1);
    TAP_EQ_INT(IQL_SHOW_FIELD_KEYS, iq->stmts[2].kind);
    TAP_EQ_INT(IQL_SHOW_SERIES, iq->stmts[3].kind);
    TAP_EQ_INT(IQL_SHOW_TAG_KEYS, iq->stmts[4].kind);
    TAP_EQ_STR("db", iq->stmts[5].on_db);
    influxql_free(&iq);
}

TAP_CASE(errors_are_clear)
{
    static const struct {
        const char *q, *want;
    } bad[] = {
        {"SELEC x FROM m", "found SELEC, expected SELECT, SHOW at line 1, "
                           "char 1"},
        {"SELECT x FROM", "found EOF, expected identifier"},
        {"SELECT x FROM m WHERE", "expected identifier, string, number"},
        {"SELECT x FROM m WHERE a =~ /abc", "unterminated regular"},
        {"SELECT x FROM (SELECT y FROM m", "found EOF, expected )"},
        {"SELECT x INTO y FROM m", "SELECT INTO is not supported"},
        {"DROP MEASUREMENT m", "DROP statements are not supported"},
        {"SHOW USERS", "SHOW USERS is not supported"},
        {"SELECT x FROM m ORDER BY host", "only ORDER BY time"},
        {"", "found EOF, expected SELECT, SHOW"},
        {"SELECT x FROM m LIMIT x", "expected integer"},
        {"SELECT x FROM m; foo", "found foo, expected SELECT, SHOW"},
        /* found by fuzz_influxql (crashes/influxql-group-by-time-zero) */
        {"SELECT last(x) FROM m GROUP BY time(0m)",
         "time dimension must have a positive duration"},
        /* found by fuzz_influxql (crashes/influxql-db-dot-open-regex-leak):
         * leaked "db" (visible under ASan's leak check, scripts/fuzz.sh) */
        {"SELECT x FROM db./", "unterminated regular"},
    };
    for (size_t i = 0; i < TAP_N(bad); i++) {
        char err[512];
        struct iql_query *iq = parse(bad[i].q, err, sizeof(err));
        TAP_OK(iq == NULL);
        TAP_OK(strstr(err, bad[i].want) != NULL);
        if (!strstr(err, bad[i].want))
            TAP_EQ_STR(bad[i].want, err);
        influxql_free(&iq);
    }
}

TAP_CASE(bounds)
{
    char err[512];
    /* nesting */
    char deep[1024];
    size_t n = 0;
    n += (size_t)snprintf(deep, sizeof(deep), "SELECT x FROM m WHERE ");
    for (int i = 0; i < 100; i++)
        deep[n++] = '(';
    deep[n++] = 'a';
    for (int i = 0; i < 100; i++)
        deep[n++] = ')';
    deep[n] = '\0';
    struct iql_query *iq = parse(deep, err, sizeof(err));
    TAP_OK(iq == NULL);
    TAP_OK(strstr(err, "too deeply nested") != NULL);
    /* a huge regex */
    size_t rl = INFLUXQL_MAX_REGEX + 100;
    char *q = malloc(rl + 64);
    int k = snprintf(q, rl + 64, "SELECT x FROM m WHERE a =~ /");
    memset(q + k, 'a', rl);
    memcpy(q + k + rl, "/", 2);
    iq = parse(q, err, sizeof(err));
    TAP_OK(iq == NULL);
    TAP_OK(strstr(err, "regular expression longer") != NULL);
    free(q);
    /* too many statements */
    char many[2048];
    size_t ml = 0;
    for (int i = 0; i < 70; i++) {
        memcpy(many + ml, "SHOW DATABASES;", 15);
        ml += 15;
    }
    many[ml] = '\0';
    iq = parse(many, err, sizeof(err));
    TAP_OK(iq == NULL);
    TAP_OK(strstr(err, "too many statements") != NULL);
}

TAP_CASE(subqueries)
{
    char err[512];
    const char *q = "SELECT sum(\"x\") FROM (SELECT last(v) AS \"x\" FROM m "
                    "WHERE job_name =~ /^(a|b)$/ GROUP BY \"job_name\") WHERE "
                    "job_name != 'c'";
    struct iql_query *iq = parse(q, err, sizeof(err));
    TAP_OK(iq != NULL);
    if (!iq) {
        TAP_EQ_STR("", err);
        return;
    }
    struct iql_stmt *st = &iq->stmts[0];
    TAP_EQ_INT(1, (int)st->nsources);
    TAP_OK(st->sources[0].sub != NULL);
    TAP_EQ_STR("job_name", st->sources[0].sub->group_tags[0]);
    TAP_EQ_STR("last", st->sources[0].sub->fields[0].expr->s);
    char *by[] = {"job_name"};
    char **keys = NULL;
    /* the inner WHERE pins, the outer does not: the inner's keys */
    size_t n = qroute_stmt_keys(st, by, 1, &keys);
    TAP_EQ_INT(2, (int)n);
    if (n == 2) {
        TAP_EQ_STR("a", keys[0]);
        TAP_EQ_STR("b", keys[1]);
    }
    qroute_keys_free(keys, n);
    influxql_free(&iq);
}

static size_t keys_of(const char *where, char *const *by, size_t nby,
                      char ***keys)
{
    char q[512], err[512];
    snprintf(q, sizeof(q), "SELECT x FROM m WHERE %s", where);
    struct iql_query *iq = parse(q, err, sizeof(err));
    if (!iq)
        return (size_t)-1;
    size_t n = qroute_keys(iq->stmts[0].where, by, nby, keys);
    influxql_free(&iq);
    return n;
}

TAP_CASE(pinned_keys)
{
    char *by[] = {"job_name"};
    static const struct {
        const char *where;
        size_t n;
        const char *k0, *k1;
    } cases[] = {
        {"job_name = 'a'", 1, "a", NULL},
        {"'a' = job_name AND time > now() - 1h", 1, "a", NULL},
        {"\"job_name\" =~ /^a$/", 1, "a", NULL},
        {"job_name =~ /^(a|b\\.c)$/ AND host = 'x'", 2, "a", "b.c"},
        {"(job_name = 'a' OR job_name = 'b') AND time > 0", 2, "a", "b"},
        {"job_name = 'a' AND job_name =~ /^(a|b)$/", 1, "a", NULL},
        /* not pinned: fan out */
        {"job_name = 'a' OR host = 'x'", 0, NULL, NULL},
        {"job_name != 'a'", 0, NULL, NULL},
        {"job_name =~ /^a.*$/", 0, NULL, NULL},
        {"job_name =~ /a/", 0, NULL, NULL},
        {"job_name =~ /^(a|b)c$/", 0, NULL, NULL},
        {"job_name = ''", 0, NULL, NULL},
        {"job_name = $job", 0, NULL, NULL},
        {"job_name::field = 'a'", 0, NULL, NULL},
        {"host = 'x'", 0, NULL, NULL},
        {"job_name =~ /^\\d$/", 0, NULL, NULL},
    };
    for (size_t i = 0; i < TAP_N(cases); i++) {
        char **keys = NULL;
        size_t n = keys_of(cases[i].where, by, 1, &keys);
        TAP_EQ_INT((int)cases[i].n, (int)n);
        if (n >= 1 && cases[i].k0)
            TAP_EQ_STR(cases[i].k0, keys[0]);
        if (n >= 2 && cases[i].k1)
            TAP_EQ_STR(cases[i].k1, keys[1]);
        qroute_keys_free(keys, n == (size_t)-1 ? 0 : n);
    }
    /* several shard tags: the product, joined by "," */
    char *by2[] = {"flink_cluster", "job_name"};
    char **keys = NULL;
    size_t n =
        keys_of("flink_cluster = 'p' AND job_name =~ /^(a|b)$/", by2, 2, &keys);
    TAP_EQ_INT(2, (int)n);
    if (n == 2) {
        TAP_EQ_STR("p,a", keys[0]);
        TAP_EQ_STR("p,b", keys[1]);
    }
    qroute_keys_free(keys, n);
    n = keys_of("job_name = 'a'", by2, 2, &keys);
    TAP_EQ_INT(0, (int)n);
    n = keys_of("flink_cluster = 'p,q' AND job_name = 'a'", by2, 2, &keys);
    TAP_EQ_INT(0, (int)n);
}

static char *plan_text(const char *q, unsigned replicas, struct plan *pl,
                       char *err, size_t errlen)
{
    char *by[] = {"job_name"};
    char perr[512];
    struct iql_query *iq = parse(q, perr, sizeof(perr));
    if (!iq) {
        snprintf(err, errlen, "%s", perr);
        return NULL;
    }
    char *t = NULL;
    if (plan_build(pl, q, &iq->stmts[0], by, 1, replicas, "ms", err, errlen) ==
        0)
        t = strdup(pl->text);
    influxql_free(&iq);
    return t;
}

TAP_CASE(node_statements)
{
    static const struct {
        const char *q, *want;
    } cases[] = {
        {"SELECT mean(value), count(value) FROM m WHERE time > 0 GROUP BY "
         "time(1m) fill(0) LIMIT 3 OFFSET 2",
         "SELECT sum(value) AS \"lw0a\", count(value) AS \"lw0b\", "
         "count(value) AS \"lw1a\" FROM m WHERE time > 0 GROUP BY time(1m), "
         "\"job_name\"  fill(null)  LIMIT 5 "},
        {"SELECT spread(v) FROM m", "SELECT max(v) AS \"lw0a\", min(v) AS "
                                    "\"lw0b\" FROM m GROUP BY \"job_name\" "},
        {"SELECT value FROM m WHERE a = 'b' ORDER BY time DESC",
         "SELECT value FROM m WHERE a = 'b'  GROUP BY \"job_name\" ORDER BY "
         "time DESC"},
        {"SELECT median(v) FROM m GROUP BY job_name SLIMIT 2 SOFFSET 1",
         "SELECT median(v) FROM m GROUP BY job_name  SLIMIT 3 "},
        {"SELECT sum(x) FROM (SELECT last(v) AS x FROM m GROUP BY job_name)",
         "SELECT sum(x) AS \"lw0a\" FROM (SELECT last(v) AS x FROM m GROUP BY "
         "job_name) GROUP BY \"job_name\" "},
        {"SELECT job_name, v FROM (SELECT last(v) AS v FROM m GROUP BY "
         "job_name) LIMIT 3",
         "SELECT job_name, v FROM (SELECT last(v) AS v FROM m GROUP BY "
         "job_name)  LIMIT 3 "},
        {"SHOW TAG VALUES WITH KEY = job_name LIMIT 4 OFFSET 4",
         "SHOW TAG VALUES WITH KEY = job_name  LIMIT 8 "},
    };
    for (size_t i = 0; i < TAP_N(cases); i++) {
        struct plan pl;
        char err[512] = "";
        char *t = plan_text(cases[i].q, 1, &pl, err, sizeof(err));
        TAP_EQ_STR(cases[i].want, t ? t : err);
        if (t)
            plan_release(&pl);
        free(t);
    }
    static const struct {
        const char *q, *want;
    } refused[] = {
        {"SELECT median(v) FROM m", "median() does not merge"},
        {"SELECT percentile(v, 95) FROM m GROUP BY host",
         "percentile() does not merge"},
        {"SELECT derivative(mean(v)) FROM m GROUP BY time(1m)",
         "derivative() does not merge"},
        {"SELECT mean(v) * 2 FROM m", "an expression over aggregates"},
        {"SELECT first(v) FROM m GROUP BY time(1m)", "first() does not merge"},
        {"SELECT count(*) FROM m", "unless its argument is one field"},
        {"SELECT v FROM m GROUP BY /a/", "GROUP BY /regex/"},
        {"SELECT count(v) FROM (SELECT last(v) AS v FROM m)",
         "GROUP BY \"job_name\" at every level"},
        {"SELECT v FROM (SELECT last(v) AS v FROM m GROUP BY job_name) GROUP "
         "BY host",
         "cannot GROUP BY"},
        {"SELECT mean(v) FROM m GROUP BY time(1m) fill(linear)",
         "fill(linear)"},
        {"SELECT * FROM m", "need named fields"},
        {"SELECT job_name, v FROM m", "need named fields"},
        {"SELECT mean(v) FROM m GROUP BY time(1m) fill(previous) ORDER BY "
         "time DESC",
         "with ORDER BY time DESC"},
    };
    for (size_t i = 0; i < TAP_N(refused); i++) {
        struct plan pl;
        char err[512] = "";
        char *t = plan_text(refused[i].q, 1, &pl, err, sizeof(err));
        TAP_OK(t == NULL);
        TAP_OK(strstr(err, refused[i].want) != NULL);
        if (!strstr(err, refused[i].want))
            TAP_EQ_STR(refused[i].want, err);
        if (t)
            plan_release(&pl);
        free(t);
    }
}

/* Found by tests/fuzz/fuzz_influxql.c (crashes/influxql-trailing-blank-
 * clause-past-statement): a clause's end was the next token's start, so a
 * LIMIT or GROUP BY last in a statement with trailing blanks ended past the
 * statement (whose span is trimmed), and plan_build() copied the rest as
 * span.end - pos, which wrapped: an over-read of the query text. */
TAP_CASE(trailing_blanks_stay_in_the_statement)
{
    static const struct {
        const char *q, *want;
    } cases[] = {
        {"SELECT job_name, v FROM (SELECT last(v) AS v FROM m GROUP BY "
         "job_name) LIMIT 3 \n",
         "SELECT job_name, v FROM (SELECT last(v) AS v FROM m GROUP BY "
         "job_name)  LIMIT 3 "},
        {"SELECT spread(v) FROM m GROUP BY host  ",
         "SELECT max(v) AS \"lw0a\", min(v) AS \"lw0b\" FROM m GROUP BY "
         "host, \"job_name\" "},
        {"SHOW TAG VALUES WITH KEY = job_name LIMIT 4 OFFSET 4 \t",
         "SHOW TAG VALUES WITH KEY = job_name  LIMIT 8 "},
        /* found by fuzz_influxql (crashes/influxql-plan-select-touching-
         * fields): the pushed-down list glued to the keyword */
        {"SELECT+mean(v) FROM m",
         "SELECT sum(v) AS \"lw0a\", count(v) AS \"lw0b\" FROM m GROUP BY "
         "\"job_name\" "},
    };
    for (size_t i = 0; i < TAP_N(cases); i++) {
        char err[512];
        struct iql_query *iq = parse(cases[i].q, err, sizeof(err));
        TAP_OK(iq != NULL);
        if (!iq)
            continue;
        const struct iql_stmt *st = &iq->stmts[0];
        TAP_OK(st->limit_end <= st->span.end);
        TAP_OK(st->group_span.end <= st->span.end);
        TAP_OK(st->group_insert <= st->span.end);
        influxql_free(&iq);
        struct plan pl;
        char *t = plan_text(cases[i].q, 1, &pl, err, sizeof(err));
        TAP_EQ_STR(cases[i].want, t ? t : err);
        if (t)
            plan_release(&pl);
        free(t);
    }
}

static const struct tap_case cases[] = {
    TAP_ENTRY(select_clauses),
    TAP_ENTRY(precedence_and_several_statements),
    TAP_ENTRY(show_statements),
    TAP_ENTRY(errors_are_clear),
    TAP_ENTRY(bounds),
    TAP_ENTRY(pinned_keys),
    TAP_ENTRY(node_statements),
    TAP_ENTRY(subqueries),
    TAP_ENTRY(every_operator),
    TAP_ENTRY(trailing_blanks_stay_in_the_statement),
};

int main(int argc, char **argv)
{
    return tap_main(cases, TAP_N(cases), argc, argv);
}
