#include "prom/fmt_openmetrics.h"

#include <string.h>

#include "prom/fmt_prom.h"

static bool has_total(const char *name, size_t len)
{
    return len > 6 && memcmp(name + len - 6, "_total", 6) == 0;
}

int fmt_openmetrics_write(const struct expo *e, struct buf *out)
{
    size_t nf, ns;
    const struct expo_family *fams = expo_families(e, &nf);
    const struct expo_sample *smp = expo_samples(e, &ns);
    for (size_t f = 0; f < nf; f++) {
        const struct expo_family *fam = &fams[f];
        if (fam->nsamples == 0)
            continue;
        size_t len = strlen(fam->name);
        const char *type = "unknown";
        size_t flen = len;
        if (fam->type == MT_GAUGE) {
            type = "gauge";
        } else if (fam->type == MT_COUNTER && has_total(fam->name, len)) {
            type = "counter";
            flen = len - 6;
        }
        buf_adds(out, "# TYPE ");
        buf_add(out, fam->name, flen);
        buf_addc(out, ' ');
        buf_adds(out, type);
        buf_addc(out, '\n');
        if (fam->help[0]) {
            buf_adds(out, "# HELP ");
            buf_add(out, fam->name, flen);
            buf_addc(out, ' ');
            fmt_prom_label_value(out, fam->help, strlen(fam->help));
            buf_addc(out, '\n');
        }
        for (uint32_t s = fam->first; s != EXPO_NONE; s = smp[s].next) {
            const struct expo_sample *sm = &smp[s];
            buf_add(out, fam->name, len);
            fmt_prom_labels(out, sm->labels, sm->nlabels);
            buf_addc(out, ' ');
            fmt_prom_value(out, sm->value);
            buf_addc(out, '\n');
            if (buf_error(out))
                return -1;
        }
    }
    buf_adds(out, "# EOF\n");
    return buf_error(out) ? -1 : 0;
}
