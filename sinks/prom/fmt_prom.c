#include "prom/fmt_prom.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "pipeline/series_fold.h"

int fmt_prom_value(struct buf *out, double v)
{
    if (isnan(v))
        return buf_adds(out, "NaN");
    if (isinf(v))
        return buf_adds(out, v > 0 ? "+Inf" : "-Inf");
    /* The shortest precision that reads back to the same double. */
    char tmp[40];
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
        if (strtod(tmp, NULL) == v)
            break;
    }
    return buf_adds(out, tmp);
}

int fmt_prom_label_value(struct buf *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '\\')
            buf_add(out, "\\\\", 2);
        else if (c == '"')
            buf_add(out, "\\\"", 2);
        else if (c == '\n')
            buf_add(out, "\\n", 2);
        else
            buf_addc(out, c);
    }
    return buf_error(out) ? -1 : 0;
}

int fmt_prom_family(struct buf *out, const char *name, const char *type,
                    const char *help)
{
    buf_addf(out, "# HELP %s ", name);
    for (const char *p = help; *p; p++) {
        if (*p == '\\')
            buf_add(out, "\\\\", 2);
        else if (*p == '\n')
            buf_add(out, "\\n", 2);
        else
            buf_addc(out, *p);
    }
    buf_addf(out, "\n# TYPE %s %s\n", name, type);
    return buf_error(out) ? -1 : 0;
}

int fmt_prom_labels(struct buf *out, const struct label *labels, size_t n)
{
    if (n == 0)
        return buf_error(out) ? -1 : 0;
    buf_addc(out, '{');
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            buf_addc(out, ',');
        buf_add(out, labels[i].name, labels[i].name_len);
        buf_add(out, "=\"", 2);
        fmt_prom_label_value(out, labels[i].value, labels[i].value_len);
        buf_addc(out, '"');
    }
    buf_addc(out, '}');
    return buf_error(out) ? -1 : 0;
}

int fmt_prom_sample(struct buf *out, const char *name,
                    const struct label *labels, size_t nlabels, double v)
{
    buf_adds(out, name);
    fmt_prom_labels(out, labels, nlabels);
    buf_addc(out, ' ');
    fmt_prom_value(out, v);
    buf_addc(out, '\n');
    return buf_error(out) ? -1 : 0;
}

static void add_sample(struct buf *out, const struct series *s,
                       const char *suffix, double v,
                       const struct fmt_prom_opts *o)
{
    buf_add(out, s->name, s->name_len);
    buf_adds(out, suffix);
    fmt_prom_labels(out, s->labels, s->nlabels);
    buf_addc(out, ' ');
    fmt_prom_value(out, v);
    if (o->timestamps)
        buf_addf(out, " %" PRId64, s->ts_ms);
    buf_addc(out, '\n');
}

int fmt_prom_series(struct buf *out, const struct series *s,
                    const struct fmt_prom_opts *o)
{
    struct series_value vals[SERIES_FOLD_MAX_VALUES];
    size_t n = series_fold_values(s, o->fold, vals);
    for (size_t i = 0; i < n; i++)
        add_sample(out, s, vals[i].suffix, vals[i].value, o);
    return buf_error(out) ? -1 : 0;
}
