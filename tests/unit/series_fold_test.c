/*
 * series_fold_test: the one expansion of a series into its values, for
 * every fold set; the configuration parse that produces the set; and the
 * names every sink derives from it (/metrics, remote write and the
 * InfluxDB fields), which must agree.
 */
#include "pipeline/series_fold.h"

#include <math.h>
#include <string.h>

#include "config.h"
#include "influx/flink_schema.h"
#include "pipeline/sample.h"
#include "prom/expo.h"
#include "prom/expo_flink.h"
#include "prom/fmt_prom.h"
#include "util/buf.h"
#include "tests/lib/tap.h"

static const struct label labels[] = {
    {"job_name", "orders", 8, 6},
    {"task_name", "Window", 9, 6},
};

#define NAME "flink_taskmanager_job_task_busyTimeMsPerSecond"

static struct series folded_series(void)
{
    struct series s;
    memset(&s, 0, sizeof(s));
    s.name = NAME;
    s.name_len = strlen(NAME);
    s.metric = "busyTimeMsPerSecond";
    s.metric_len = strlen(s.metric);
    s.family = s.name;
    s.family_len = s.name_len;
    s.type = MT_GAUGE;
    s.labels = labels;
    s.nlabels = 2;
    s.ts_ms = 1000;
    s.folded = true;
    s.max = 900;
    s.sum = 1500;
    s.count = 4;
    return s;
}

TAP_CASE(parse_names)
{
    TAP_EQ_INT(SERIES_FOLD_MAX, series_fold_parse("max"));
    TAP_EQ_INT(SERIES_FOLD_SUM, series_fold_parse("sum"));
    TAP_EQ_INT(SERIES_FOLD_AVG, series_fold_parse("avg"));
    TAP_EQ_INT(0, series_fold_parse("p99"));
    TAP_EQ_INT(0, series_fold_parse("MAX"));
    TAP_EQ_INT(0, series_fold_parse(""));
    TAP_EQ_INT(0, series_fold_parse("maximum"));
}

/* Every fold set 0..7: the values in the order max, sum, avg, those of
 * the set only (0: all three), with their suffix, field and help, then
 * the subtasks count. */
TAP_CASE(every_combination)
{
    static const char *const suffix[] = {"_max", "_sum", "_avg"};
    static const char *const field[] = {"max", "sum", "avg"};
    static const char *const help[] = {", maximum over the subtasks",
                                       ", sum over the subtasks",
                                       ", average over the subtasks"};
    static const double value[] = {900, 1500, 375};
    struct series s = folded_series();
    for (unsigned fold = 0; fold <= SERIES_FOLD_ALL; fold++) {
        unsigned want = fold ? fold : SERIES_FOLD_ALL;
        struct series_value v[SERIES_FOLD_MAX_VALUES];
        size_t n = series_fold_values(&s, fold, v);
        size_t k = 0;
        for (size_t i = 0; i < 3; i++) {
            if (!(want & (1u << i)))
                continue;
            if (k >= n)
                TAP_FAIL_("fold %u: value %zu missing", fold, i);
            TAP_EQ_STR(suffix[i], v[k].suffix);
            TAP_EQ_STR(field[i], v[k].field);
            TAP_EQ_STR(help[i], v[k].help);
            TAP_EQ_DBL(value[i], v[k].value, 0);
            TAP_OK(!v[k].integer);
            k++;
        }
        /* whatever the set, the number of subtasks, last, an integer */
        if (k >= n)
            TAP_FAIL_("fold %u: subtasks missing", fold);
        TAP_EQ_STR("_subtasks", v[k].suffix);
        TAP_EQ_STR("subtasks", v[k].field);
        TAP_EQ_DBL(4, v[k].value, 0);
        TAP_OK(v[k].integer);
        k++;
        TAP_EQ_INT(k, n);
        /* bits outside the set are ignored, as 0 is */
        TAP_EQ_INT(n, series_fold_values(&s, fold | 8u, v));
    }
}

TAP_CASE(plain_and_empty)
{
    struct series s = folded_series();
    s.folded = false;
    s.value = NAN;
    struct series_value v[SERIES_FOLD_MAX_VALUES];
    for (unsigned fold = 0; fold <= SERIES_FOLD_ALL; fold++) {
        TAP_EQ_INT(1, series_fold_values(&s, fold, v));
        TAP_EQ_STR("", v[0].suffix);
        TAP_OK(v[0].field == NULL);
        TAP_EQ_STR("", v[0].help);
        TAP_OK(isnan(v[0].value));
    }
    s = folded_series();
    s.count = 0; /* every subtask was NaN */
    TAP_EQ_INT(0, series_fold_values(&s, SERIES_FOLD_ALL, v));
}

static struct config *load(const char *yaml)
{
    char err[512];
    struct config *cfg =
        config_load_string("test.yml", yaml, strlen(yaml), err, sizeof(err));
    if (!cfg)
        printf("# %s\n", err);
    return cfg;
}

TAP_CASE(config_parses_the_set_once)
{
    struct config *cfg = load("agent: {}\n");
    TAP_OK(cfg);
    TAP_EQ_INT(SERIES_FOLD_ALL, cfg->trim.fold);
    config_free(&cfg);
    cfg = load("trim:\n  fold_subtasks:\n    fields: [avg, max]\n");
    TAP_OK(cfg);
    TAP_EQ_INT(SERIES_FOLD_MAX | SERIES_FOLD_AVG, cfg->trim.fold);
    config_free(&cfg);
    cfg = load("trim:\n  fold_subtasks:\n    fields: [sum]\n");
    TAP_OK(cfg);
    TAP_EQ_INT(SERIES_FOLD_SUM, cfg->trim.fold);
    config_free(&cfg);
    char err[512] = "";
    static const char bad[] = "trim:\n  fold_subtasks:\n    fields: [p99]\n";
    cfg = config_load_string("test.yml", bad, strlen(bad), err, sizeof(err));
    TAP_OK(cfg == NULL);
    TAP_OK(strstr(err, "invalid fold field 'p99'") != NULL);
}

/* "name;" appended to a list of names, NUL-terminated. */
static void add_name(struct buf *b, const char *name, size_t len)
{
    if (b->len && b->data[b->len - 1] == '\0')
        buf_truncate(b, b->len - 1);
    buf_add(b, name, len);
    buf_addc(b, ';');
    buf_addc(b, '\0');
}

/* The names /metrics (expo_flink), the text format (fmt_prom) and the
 * InfluxDB fields (flink_schema) give a folded series, for every set: the
 * same list, since all come from series_fold_values. Remote write names
 * samples through the same call (remote_write_test checks its wire). */
TAP_CASE(sinks_agree_on_names)
{
    struct series s = folded_series();
    struct buf want, got, text;
    buf_init(&want, 0);
    buf_init(&got, 0);
    buf_init(&text, 0);
    for (unsigned fold = 1; fold <= SERIES_FOLD_ALL; fold++) {
        buf_reset(&want);
        buf_reset(&got);
        buf_reset(&text);
        struct series_value v[SERIES_FOLD_MAX_VALUES];
        size_t n = series_fold_values(&s, fold, v);
        for (size_t i = 0; i < n; i++) {
            char full[128];
            int len = snprintf(full, sizeof(full), "%s%s", NAME, v[i].suffix);
            add_name(&want, full, (size_t)len);
        }

        struct expo *e = expo_new(0);
        TAP_EQ_INT(0, expo_flink_series(e, &s, fold));
        size_t nf;
        const struct expo_family *fam = expo_families(e, &nf);
        for (size_t i = 0; i < nf; i++) {
            TAP_EQ_INT(MT_GAUGE, fam[i].type);
            add_name(&got, fam[i].name, strlen(fam[i].name));
        }
        expo_free(&e);
        TAP_EQ_STR(want.data, got.data);

        buf_reset(&got);
        struct fmt_prom_opts po = {.fold = fold};
        TAP_EQ_INT(0, fmt_prom_series(&text, &s, &po));
        buf_addc(&text, '\0');
        for (const char *line = text.data; *line;) {
            const char *end = strchr(line, '\n');
            TAP_OK(end);
            add_name(&got, line, strcspn(line, "{ "));
            line = end + 1;
        }
        TAP_EQ_STR(want.data, got.data);

        struct flink_schema_opts so = {fold};
        struct flink_schema_scratch sc = FLINK_SCHEMA_SCRATCH_INIT;
        struct point p;
        TAP_EQ_INT(0, flink_schema_point(&s, &so, &p, &sc));
        TAP_EQ_INT(n, p.nfields);
        for (size_t i = 0; i < n; i++) {
            TAP_EQ_STR(v[i].field, p.fields[i].key);
            if (v[i].integer)
                TAP_EQ_DBL(v[i].value, (double)p.fields[i].i, 0);
            else
                TAP_EQ_DBL(v[i].value, p.fields[i].f, 0);
        }
        flink_schema_scratch_release(&sc);
    }
    buf_release(&want);
    buf_release(&got);
    buf_release(&text);
}

static const struct tap_case cases[] = {
    TAP_ENTRY(parse_names),          TAP_ENTRY(every_combination),
    TAP_ENTRY(plain_and_empty),      TAP_ENTRY(config_parses_the_set_once),
    TAP_ENTRY(sinks_agree_on_names),
};

int main(int argc, char **argv)
{
    return tap_main(cases, TAP_N(cases), argc, argv);
}
