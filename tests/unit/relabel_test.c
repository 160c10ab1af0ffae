/*
 * relabel_test: Prometheus relabel_configs semantics (the cases mirror the
 * behaviour pinned down by Prometheus's model/relabel tests: every action,
 * defaults, anchoring, $1 / ${1} / named-group expansion, an empty result
 * deleting the target) and rule validation.
 */
#include "config.h"
#include "pipeline/relabel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/labelset.h"
#include "tests/lib/tap.h"

#define SRC(...)                                                               \
    (char *[]){__VA_ARGS__}, sizeof((char *[]){__VA_ARGS__}) / sizeof(char *)

/* Fills ls from "n1=v1|n2=v2" (values may hold ';' and '\n'). The strings
 * are copied into the set's arena. */
static void fill(struct labelset *ls, const char *spec)
{
    labelset_clear(ls);
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, '|');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', n);
        size_t nl = (size_t)(eq - p);
        const char *nm = labelset_strdup(ls, p, nl);
        const char *v = labelset_strdup(ls, eq + 1, n - nl - 1);
        labelset_push(ls, nm, nl, v, n - nl - 1);
        p += n + (end ? 1 : 0);
    }
}

static int cmp_label(const void *a, const void *b)
{
    return strcmp(((const struct label *)a)->name,
                  ((const struct label *)b)->name);
}

/* Renders ls sorted by name as "n1=v1|n2=v2". */
static void render(struct labelset *ls, char *out, size_t len)
{
    size_t n;
    struct label *items = labelset_items(ls, &n);
    struct label *v = malloc((n ? n : 1) * sizeof(*v));
    memcpy(v, items, n * sizeof(*v));
    qsort(v, n, sizeof(*v), cmp_label);
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && o < len; i++)
        o += (size_t)snprintf(out + o, len - o, "%s%s=%s", i ? "|" : "",
                              v[i].name, v[i].value);
    free(v);
}

struct rcase {
    const char *name;
    const char *in;
    struct cfg_relabel rules[3];
    size_t nrules;
    const char *want; /* NULL: the sample is dropped */
};

static const struct rcase cases[] = {
    {"replace braces",
     "a=foo|b=bar|c=baz",
     {{.action = RELABEL_REPLACE,
       .source_labels = SRC("a"),
       .regex = "f(.*)",
       .target_label = "d",
       .replacement = "ch${1}-ch${1}"}},
     1,
     "a=foo|b=bar|c=baz|d=choo-choo"},
    {"replace multi-source, chained rules",
     "a=foo|b=bar|c=baz",
     {{.action = RELABEL_REPLACE,
       .source_labels = SRC("a", "b"),
       .regex = "f(.*);(.*)r",
       .target_label = "a",
       .replacement = "b${1}${2}m"},
      {.action = RELABEL_REPLACE,
       .source_labels = SRC("c", "a"),
       .regex = "(b).*b(.*)ba(.*)",
       .target_label = "d",
       .replacement = "$1$2$2$3"}},
     2,
     "a=boobam|b=bar|c=baz|d=boooom"},
    {"drop stops before later rules",
     "a=foo",
     {{.action = RELABEL_DROP, .source_labels = SRC("a"), .regex = ".*o.*"},
      {.action = RELABEL_REPLACE,
       .source_labels = SRC("a"),
       .regex = "f(.*)",
       .target_label = "d",
       .replacement = "ch$1"}},
     2,
     NULL},
    {"replace with an inner group",
     "a=abc",
     {{.action = RELABEL_REPLACE,
       .source_labels = SRC("a"),
       .regex = ".*(b).*",
       .target_label = "d",
       .replacement = "$1"}},
     1,
     "a=abc|d=b"},
    {"drop without match keeps",
     "a=foo",
     {{.action = RELABEL_DROP, .source_labels = SRC("a"), .regex = "no-match"}},
     1,
     "a=foo"},
    {"regex is anchored: f|o does not match foo",
     "a=foo",
     {{.action = RELABEL_DROP, .source_labels = SRC("a"), .regex = "f|o"}},
     1,
     "a=foo"},
    {"anchored at the very end, not before a newline",
     "a=foo\n",
     {{.action = RELABEL_KEEP, .source_labels = SRC("a"), .regex = "foo"}},
     1,
     NULL},
    {"keep without match drops",
     "a=foo",
     {{.action = RELABEL_KEEP, .source_labels = SRC("a"), .regex = "no-match"}},
     1,
     NULL},
    {"keep with match keeps",
     "a=foo",
     {{.action = RELABEL_KEEP, .source_labels = SRC("a"), .regex = "f.*"}},
     1,
     "a=foo"},
    {"no match, no replacement",
     "a=boo",
     {{.action = RELABEL_REPLACE,
       .source_labels = SRC("a"),
       .regex = "f",
       .target_label = "b",
       .replacement = "bar"}},
     1,
     "a=boo"},
    {"hashmod md5 last 8 bytes",
     "a=foo|b=bar|c=baz",
     {{.action = RELABEL_HASHMOD,
       .source_labels = SRC("c"),
       .target_label = "d",
       .modulus = 1000}},
     1,
     "a=foo|b=bar|c=baz|d=976"},
    {"hashmod with a newline",
     "a=foo\nbar",
     {{.action = RELABEL_HASHMOD,
       .source_labels = SRC("a"),
       .target_label = "b",
       .modulus = 1000}},
     1,
     "a=foo\nbar|b=734"},
    {"labelmap",
     "a=foo|b1=bar|b2=baz",
     {{.action = RELABEL_LABELMAP,
       .regex = "(b.*)",
       .replacement = "bar_${1}"}},
     1,
     "a=foo|b1=bar|b2=baz|bar_b1=bar|bar_b2=baz"},
    {"labelmap strips a prefix",
     "a=foo|__meta_my_bar=aaa|__meta_my_baz=bbb|__meta_other=ccc",
     {{.action = RELABEL_LABELMAP,
       .regex = "__meta_(my.*)",
       .replacement = "${1}"}},
     1,
     "__meta_my_bar=aaa|__meta_my_baz=bbb|__meta_other=ccc|a=foo|my_bar=aaa|"
     "my_baz=bbb"},
    {"target label from a group",
     "a=some-name-value",
     {{.action = RELABEL_REPLACE,
       .source_labels = SRC("a"),
       .regex = "some-([^-]+)-([^,]+)",
       .target_label = "${1}",
       .replacement = "${2}"}},
     1,
     "a=some-name-value|name=value"},
    {"missing group in replacement: empty, nothing to delete",
     "a=some-name-value",
     {{.action = RELABEL_REPLACE,
       .source_labels = SRC("a"),
       .regex = "some-([^-]+)-([^,]+)",
       .target_label = "${1}",
       .replacement = "${3}"}},
     1,
     "a=some-name-value"},
    {"missing group in target: invalid name, no-op",
     "a=some-name-0",
     {{.action = RELABEL_REPLACE,
       .source_labels = SRC("a"),
       .regex = "some-([^-]+)-([^,]+)",
       .target_label = "${3}",
       .replacement = "${1}"}},
     1,
     "a=some-name-0"},
    {"target expanding to a digit first is invalid",
     "a=x-0",
     {{.action = RELABEL_REPLACE,
       .source_labels = SRC("a"),
       .regex = "x-(.*)",
       .target_label = "${1}",
       .replacement = "v"}},
     1,
     "a=x-0"},
    {"empty result deletes the target",
     "a=foo|b=bar",
     {{.action = RELABEL_REPLACE,
       .source_labels = SRC("nope"),
       .target_label = "b"}},
     1,
     "a=foo"},
    {"defaults: regex (.*), replacement $1, separator ;",
     "a=foo|b=bar",
     {{.action = RELABEL_REPLACE,
       .source_labels = SRC("a", "b"),
       .target_label = "c"}},
     1,
     "a=foo|b=bar|c=foo;bar"},
    {"named groups, $name and ${name}",
     "a=foo-bar",
     {{.action = RELABEL_REPLACE,
       .source_labels = SRC("a"),
       .regex = "(?P<first>[a-z]+)-(?<second>[a-z]+)",
       .target_label = "b",
       .replacement = "$second.${first}"}},
     1,
     "a=foo-bar|b=bar.foo"},
    {"$1x_ names group 1x_ (absent), $$ is a dollar",
     "a=foo",
     {{.action = RELABEL_REPLACE,
       .source_labels = SRC("a"),
       .regex = "f(.*)",
       .target_label = "b",
       .replacement = "$1x_${1}y$$1"}},
     1,
     "a=foo|b=ooy$1"},
    {"labelkeep",
     "a=foo|b1=bar|b2=baz",
     {{.action = RELABEL_LABELKEEP, .regex = "(b.*)"}},
     1,
     "b1=bar|b2=baz"},
    {"labeldrop",
     "a=foo|b1=bar|b2=baz",
     {{.action = RELABEL_LABELDROP, .regex = "(b.*)"}},
     1,
     "a=foo"},
    {"labeldrop is anchored",
     "ab=1|b=2",
     {{.action = RELABEL_LABELDROP, .regex = "b"}},
     1,
     "ab=1"},
    {"upper and lower case",
     "foo=bAr123Foo",
     {{.action = RELABEL_UPPERCASE,
       .source_labels = SRC("foo"),
       .target_label = "foo_uppercase"},
      {.action = RELABEL_LOWERCASE,
       .source_labels = SRC("foo"),
       .target_label = "foo_lowercase"}},
     2,
     "foo=bAr123Foo|foo_lowercase=bar123foo|foo_uppercase=BAR123FOO"},
    {"rename the metric through __name__",
     "__name__=flink_taskmanager_job_task_numRecordsIn|job_name=x",
     {{.action = RELABEL_REPLACE,
       .source_labels = SRC("__name__"),
       .regex = "flink_(.*)",
       .target_label = "__name__",
       .replacement = "f_$1"}},
     1,
     "__name__=f_taskmanager_job_task_numRecordsIn|job_name=x"},
    {"drop by metric name",
     "__name__=flink_jobmanager_Status_JVM_CPU_Load",
     {{.action = RELABEL_DROP,
       .source_labels = SRC("__name__"),
       .regex = "flink_jobmanager_Status_.*"}},
     1,
     NULL},
};

TAP_CASE(rule_table)
{
    struct labelset *ls = labelset_new();
    for (size_t i = 0; i < TAP_N(cases); i++) {
        const struct rcase *c = &cases[i];
        char err[256] = "";
        struct relabel *rl = relabel_new(c->rules, c->nrules, err, sizeof(err));
        if (!rl)
            printf("# %s: %s\n", c->name, err);
        TAP_OK(rl != NULL);
        fill(ls, c->in);
        int drop = relabel_apply(rl, ls);
        char got[1024];
        render(ls, got, sizeof(got));
        relabel_free(&rl);
        if (drop != (c->want == NULL) || (c->want && strcmp(got, c->want)))
            printf("# case '%s': want %s, got %s%s\n", c->name,
                   c->want ? c->want : "(dropped)", drop ? "(dropped) " : "",
                   got);
        TAP_EQ_INT(c->want == NULL, drop);
        if (c->want)
            TAP_EQ_STR(c->want, got);
    }
    labelset_free(&ls);
}

struct vcase {
    struct cfg_relabel rule;
    const char *want_err; /* substring */
};

static const struct vcase bad[] = {
    {{.action = RELABEL_REPLACE,
      .source_labels = SRC("a"),
      .line = 3,
      .col = 7},
     "3:7: relabel action 'replace' requires 'target_label'"},
    {{.action = RELABEL_LOWERCASE, .source_labels = SRC("a")},
     "relabel action 'lowercase' requires 'target_label'"},
    {{.action = RELABEL_LOWERCASE, .target_label = "${3}"},
     "'${3}' is an invalid 'target_label' for relabel action 'lowercase'"},
    {{.action = RELABEL_REPLACE, .target_label = "0${3}"},
     "'0${3}' is an invalid 'target_label'"},
    {{.action = RELABEL_REPLACE, .target_label = "-${3}"},
     "'-${3}' is an invalid 'target_label' for relabel action 'replace'"},
    {{.action = RELABEL_REPLACE, .target_label = "foo${"},
     "'foo${' is an invalid 'target_label'"},
    {{.action = RELABEL_HASHMOD, .target_label = "h"},
     "'hashmod' requires a non-zero 'modulus'"},
    {{.action = RELABEL_LABELMAP, .replacement = "a-b"},
     "'a-b' is an invalid 'replacement' for relabel action 'labelmap'"},
    {{.action = RELABEL_LABELDROP, .source_labels = SRC("a")},
     "relabel action 'labeldrop' takes only 'regex'"},
    {{.action = RELABEL_KEEP, .regex = "(unclosed", .line = 9, .col = 2},
     "9:2: invalid regex '(unclosed': "},
};

TAP_CASE(validation_errors)
{
    for (size_t i = 0; i < TAP_N(bad); i++) {
        char err[256] = "";
        struct relabel *rl = relabel_new(&bad[i].rule, 1, err, sizeof(err));
        if (rl || !strstr(err, bad[i].want_err))
            printf("# case %zu: want error containing \"%s\", got \"%s\"\n", i,
                   bad[i].want_err, err);
        TAP_OK(rl == NULL);
        TAP_OK(strstr(err, bad[i].want_err) != NULL);
    }
}

TAP_CASE(valid_target_templates)
{
    static const struct {
        const char *target;
        bool ok;
    } t[] = {
        {"label", true},         {"label${1}", true},    {"${1}label", true},
        {"${1}", true},          {"$1", true},           {"asd$2asd", true},
        {"_${1}_", true},        {"foo${bar}foo", true}, {"-label", false},
        {"${", false},           {"$", false},           {"${}", false},
        {"-foo${1}bar-", false},
    };
    for (size_t i = 0; i < TAP_N(t); i++) {
        struct cfg_relabel r = {.action = RELABEL_REPLACE,
                                .target_label = (char *)t[i].target};
        char err[256] = "";
        struct relabel *rl = relabel_new(&r, 1, err, sizeof(err));
        if ((rl != NULL) != t[i].ok)
            printf("# target '%s': want %s (%s)\n", t[i].target,
                   t[i].ok ? "valid" : "invalid", err);
        TAP_EQ_INT(t[i].ok, rl != NULL);
        relabel_free(&rl);
    }
}

TAP_CASE(no_rules_is_identity)
{
    char err[64];
    struct relabel *rl = relabel_new(NULL, 0, err, sizeof(err));
    TAP_OK(rl != NULL);
    TAP_EQ_INT(0, relabel_count(rl));
    struct labelset *ls = labelset_new();
    fill(ls, "a=1|b=2");
    TAP_EQ_INT(0, relabel_apply(rl, ls));
    char got[64];
    render(ls, got, sizeof(got));
    TAP_EQ_STR("a=1|b=2", got);
    labelset_free(&ls);
    relabel_free(&rl);
    relabel_free(&rl); /* NULL-safe */
}

TAP_CASE(standalone_regex)
{
    char err[256];
    struct relabel_regex *rx =
        relabel_regex_new("flink_taskmanager_job_.*", err, sizeof(err));
    TAP_OK(rx != NULL);
    TAP_OK(relabel_regex_match(rx, "flink_taskmanager_job_task_x", 28));
    TAP_OK(!relabel_regex_match(rx, "flink_taskmanager_Status_JVM", 28));
    TAP_OK(!relabel_regex_match(rx, "xflink_taskmanager_job_", 23));
    relabel_regex_free(&rx);
    TAP_OK(rx == NULL);
    TAP_OK(relabel_regex_new("a(", err, sizeof(err)) == NULL);
    TAP_OK(strstr(err, "invalid regex 'a('") != NULL);
}

static const struct tap_case tcases[] = {
    TAP_ENTRY(rule_table),
    TAP_ENTRY(validation_errors),
    TAP_ENTRY(valid_target_templates),
    TAP_ENTRY(no_rules_is_identity),
    TAP_ENTRY(standalone_regex),
};

int main(int argc, char **argv)
{
    return tap_main(tcases, TAP_N(tcases), argc, argv);
}
