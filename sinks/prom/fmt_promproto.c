#include "prom/fmt_promproto.h"

#include <stdlib.h>

#include "sinks/prom/metrics.pb-c.h"
#include "util/xalloc.h"

/* Scratch arrays for one family, grown to the largest family and reused. */
struct scratch {
    Io__Prometheus__Client__Metric *m;
    Io__Prometheus__Client__Metric **mp;
    Io__Prometheus__Client__Gauge *g;
    Io__Prometheus__Client__Counter *c;
    Io__Prometheus__Client__Untyped *u;
    size_t cap_m;
    Io__Prometheus__Client__LabelPair *lp;
    Io__Prometheus__Client__LabelPair **lpp;
    size_t cap_l;
};

static void scratch_reserve(struct scratch *s, size_t nm, size_t nl)
{
    if (nm > s->cap_m) {
        s->m = xrealloc(s->m, nm * sizeof(*s->m));
        s->mp = xrealloc(s->mp, nm * sizeof(*s->mp));
        s->g = xrealloc(s->g, nm * sizeof(*s->g));
        s->c = xrealloc(s->c, nm * sizeof(*s->c));
        s->u = xrealloc(s->u, nm * sizeof(*s->u));
        s->cap_m = nm;
    }
    if (nl > s->cap_l) {
        s->lp = xrealloc(s->lp, nl * sizeof(*s->lp));
        s->lpp = xrealloc(s->lpp, nl * sizeof(*s->lpp));
        s->cap_l = nl;
    }
}

static void scratch_release(struct scratch *s)
{
    free(s->m);
    free(s->mp);
    free(s->g);
    free(s->c);
    free(s->u);
    free(s->lp);
    free(s->lpp);
}

static Io__Prometheus__Client__MetricType proto_type(enum metric_type t)
{
    if (t == MT_COUNTER)
        return IO__PROMETHEUS__CLIENT__METRIC_TYPE__COUNTER;
    if (t == MT_GAUGE)
        return IO__PROMETHEUS__CLIENT__METRIC_TYPE__GAUGE;
    return IO__PROMETHEUS__CLIENT__METRIC_TYPE__UNTYPED;
}

/* Fills s with family fam's messages and points mf at them. protobuf-c
 * declares strings as char * but only reads them when packing. */
static void build(const struct expo_family *fam, const struct expo_sample *smp,
                  struct scratch *s, Io__Prometheus__Client__MetricFamily *mf)
{
    size_t nl = 0;
    for (uint32_t i = fam->first; i != EXPO_NONE; i = smp[i].next)
        nl += smp[i].nlabels;
    scratch_reserve(s, fam->nsamples, nl);
    io__prometheus__client__metric_family__init(mf);
    mf->name = (char *)fam->name;
    if (fam->help[0])
        mf->help = (char *)fam->help;
    mf->has_type = 1;
    mf->type = proto_type(fam->type);
    size_t k = 0, l = 0;
    for (uint32_t i = fam->first; i != EXPO_NONE; i = smp[i].next, k++) {
        const struct expo_sample *sm = &smp[i];
        Io__Prometheus__Client__Metric *m = &s->m[k];
        io__prometheus__client__metric__init(m);
        m->n_label = sm->nlabels;
        /* no label in any family so far leaves lpp NULL, and NULL + 0 is
         * undefined (UBSan, tests/fuzz/crashes/promproto-unlabelled-...) */
        m->label = sm->nlabels ? &s->lpp[l] : NULL;
        for (uint32_t j = 0; j < sm->nlabels; j++, l++) {
            io__prometheus__client__label_pair__init(&s->lp[l]);
            s->lp[l].name = (char *)sm->labels[j].name;
            s->lp[l].value = (char *)sm->labels[j].value;
            s->lpp[l] = &s->lp[l];
        }
        if (fam->type == MT_COUNTER) {
            io__prometheus__client__counter__init(&s->c[k]);
            s->c[k].has_value = 1;
            s->c[k].value = sm->value;
            m->counter = &s->c[k];
        } else if (fam->type == MT_GAUGE) {
            io__prometheus__client__gauge__init(&s->g[k]);
            s->g[k].has_value = 1;
            s->g[k].value = sm->value;
            m->gauge = &s->g[k];
        } else {
            io__prometheus__client__untyped__init(&s->u[k]);
            s->u[k].has_value = 1;
            s->u[k].value = sm->value;
            m->untyped = &s->u[k];
        }
        s->mp[k] = m;
    }
    mf->n_metric = k;
    mf->metric = s->mp;
}

static size_t put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t)v;
    return n;
}

int fmt_promproto_write(const struct expo *e, struct buf *out)
{
    size_t nf, ns;
    const struct expo_family *fams = expo_families(e, &nf);
    const struct expo_sample *smp = expo_samples(e, &ns);
    struct scratch s = {0};
    int rc = 0;
    for (size_t f = 0; f < nf; f++) {
        if (fams[f].nsamples == 0)
            continue;
        Io__Prometheus__Client__MetricFamily mf;
        build(&fams[f], smp, &s, &mf);
        size_t size =
            io__prometheus__client__metric_family__get_packed_size(&mf);
        if (buf_reserve(out, size + 10) < 0) {
            rc = -1;
            goto out;
        }
        uint8_t *p = (uint8_t *)out->data + out->len;
        size_t n = put_varint(p, size);
        n += io__prometheus__client__metric_family__pack(&mf, p + n);
        out->len += n;
        out->data[out->len] = '\0';
    }
out:
    scratch_release(&s);
    return rc;
}
