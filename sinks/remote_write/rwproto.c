#include "remote_write/rwproto.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>

#include "sinks/remote_write/remote_write.pb-c.h"
#include "util/xalloc.h"

/* Offsets into the arena of NUL-terminated strings (protobuf-c packs
 * strings with strlen); offsets because the arena moves as it grows. */
struct lref {
    uint32_t name;
    uint32_t value;
};

struct entry {
    uint32_t first; /* index into lab */
    uint32_t nlabels;
    double v;
    int64_t ts_ms;
};

struct rwproto_batch {
    struct buf arena;
    struct lref *lab;
    size_t nlab, caplab;
    struct entry *ent;
    size_t nent, capent;
};

struct rwproto_batch *rwproto_batch_new(void)
{
    struct rwproto_batch *b = xcalloc(1, sizeof(*b));
    buf_init(&b->arena, RWPROTO_BATCH_MAX_BYTES);
    return b;
}

void rwproto_batch_free(struct rwproto_batch **bp)
{
    struct rwproto_batch *b = *bp;
    if (!b)
        return;
    buf_release(&b->arena);
    free(b->lab);
    free(b->ent);
    free(b);
    *bp = NULL;
}

void rwproto_batch_reset(struct rwproto_batch *b)
{
    buf_reset(&b->arena);
    b->nlab = 0;
    b->nent = 0;
}

size_t rwproto_batch_samples(const struct rwproto_batch *b)
{
    return b->nent;
}

size_t rwproto_batch_bytes(const struct rwproto_batch *b)
{
    return b->arena.len;
}

static bool name_char(char c, bool colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || (colon && c == ':');
}

/* Appends a Prometheus-valid name made of p[0..len) then suffix, NUL
 * included; returns its offset. */
static uint32_t add_name(struct buf *a, const char *p, size_t len,
                         const char *suffix, bool colon)
{
    uint32_t off = (uint32_t)a->len;
    if (len > 0 && p[0] >= '0' && p[0] <= '9')
        buf_addc(a, '_');
    for (size_t i = 0; i < len; i++)
        buf_addc(a, name_char(p[i], colon) ? p[i] : '_');
    for (const char *s = suffix; s && *s; s++)
        buf_addc(a, name_char(*s, colon) ? *s : '_');
    buf_addc(a, '\0');
    return off;
}

static uint32_t add_str(struct buf *a, const char *p, size_t len)
{
    uint32_t off = (uint32_t)a->len;
    buf_add(a, p, len);
    buf_addc(a, '\0');
    return off;
}

/* Whether p[0..len) is well-formed UTF-8 (no overlongs, surrogates or
 * code points past U+10FFFF): a receiver refuses the whole request for
 * one bad label value, so such a sample is skipped instead. */
static bool utf8_valid(const unsigned char *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        size_t n;
        unsigned min;
        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1;
            min = 0x80;
            c &= 0x1f;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2;
            min = 0x800;
            c &= 0x0f;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3;
            min = 0x10000;
            c &= 0x07;
        } else {
            return false;
        }
        if (len - i <= n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
            c = (c << 6) | (p[i + k] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

int rwproto_batch_add(struct rwproto_batch *b, const char *name,
                      size_t name_len, const char *suffix,
                      const struct label *labels, size_t nlabels, double v,
                      int64_t ts_ms)
{
    if (!isfinite(v) || name_len == 0 || name_len > RWPROTO_MAX_STRING ||
        nlabels >= RWPROTO_MAX_LABELS)
        return 1;
    /* the arena bytes this sample needs, NULs and '_' prefixes included */
    size_t need = 9 + name_len + 2 + (suffix ? strlen(suffix) : 0);
    for (size_t i = 0; i < nlabels; i++) {
        const struct label *l = &labels[i];
        if (l->name_len > RWPROTO_MAX_STRING ||
            l->value_len > RWPROTO_MAX_STRING ||
            !utf8_valid((const unsigned char *)l->value, l->value_len))
            return 1;
        need += l->name_len + 2 + l->value_len + 1;
    }
    if (b->arena.len + need > RWPROTO_BATCH_MAX_BYTES)
        return -1;

    size_t mark = b->arena.len;
    size_t first = b->nlab;
    struct lref tmp[RWPROTO_MAX_LABELS];
    size_t n = 0;
    tmp[n].name = add_str(&b->arena, "__name__", 8);
    tmp[n].value = add_name(&b->arena, name, name_len, suffix, true);
    n++;
    for (size_t i = 0; i < nlabels; i++) {
        const struct label *l = &labels[i];
        if (l->value_len == 0 || l->name_len == 0 ||
            (l->name_len == 8 && memcmp(l->name, "__name__", 8) == 0))
            continue;
        tmp[n].name = add_name(&b->arena, l->name, l->name_len, NULL, false);
        tmp[n].value = add_str(&b->arena, l->value, l->value_len);
        n++;
    }
    if (buf_error(&b->arena))
        return -1; /* cannot happen: need was checked */
    /* Insertion sort by name (byte order); n is small. Sanitizing can make
     * two names equal, which the receiver would refuse. */
    const char *base = b->arena.data;
    for (size_t i = 1; i < n; i++) {
        struct lref x = tmp[i];
        size_t j = i;
        while (j > 0 && strcmp(base + tmp[j - 1].name, base + x.name) > 0) {
            tmp[j] = tmp[j - 1];
            j--;
        }
        tmp[j] = x;
    }
    for (size_t i = 1; i < n; i++) {
        if (strcmp(base + tmp[i - 1].name, base + tmp[i].name) == 0) {
            buf_truncate(&b->arena, mark);
            return 1;
        }
    }
    b->lab = xgrow(b->lab, &b->caplab, b->nlab + n, sizeof(*b->lab));
    memcpy(b->lab + b->nlab, tmp, n * sizeof(*tmp));
    b->nlab += n;
    b->ent = xgrow(b->ent, &b->capent, b->nent + 1, sizeof(*b->ent));
    b->ent[b->nent++] = (struct entry){
        .first = (uint32_t)first,
        .nlabels = (uint32_t)n,
        .v = v,
        .ts_ms = ts_ms,
    };
    return 0;
}

int rwproto_batch_encode(const struct rwproto_batch *b, struct buf *out)
{
    size_t ns = b->nent ? b->nent : 1;
    size_t nl = b->nlab ? b->nlab : 1;
    Prometheus__TimeSeries *ts = xcalloc(ns, sizeof(*ts));
    Prometheus__TimeSeries **tsp = xcalloc(ns, sizeof(*tsp));
    Prometheus__Sample *sm = xcalloc(ns, sizeof(*sm));
    Prometheus__Sample **smp = xcalloc(ns, sizeof(*smp));
    Prometheus__Label *lb = xcalloc(nl, sizeof(*lb));
    Prometheus__Label **lbp = xcalloc(nl, sizeof(*lbp));
    int rc = -1;

    char *base = b->arena.data;
    for (size_t i = 0; i < b->nlab; i++) {
        prometheus__label__init(&lb[i]);
        lb[i].name = base + b->lab[i].name;
        lb[i].value = base + b->lab[i].value;
        lbp[i] = &lb[i];
    }
    for (size_t i = 0; i < b->nent; i++) {
        const struct entry *e = &b->ent[i];
        prometheus__sample__init(&sm[i]);
        sm[i].value = e->v;
        sm[i].timestamp = e->ts_ms;
        smp[i] = &sm[i];
        prometheus__time_series__init(&ts[i]);
        ts[i].n_labels = e->nlabels;
        ts[i].labels = lbp + e->first;
        ts[i].n_samples = 1;
        ts[i].samples = &smp[i];
        tsp[i] = &ts[i];
    }
    Prometheus__WriteRequest req;
    prometheus__write_request__init(&req);
    req.n_timeseries = b->nent;
    req.timeseries = tsp;

    size_t need = prometheus__write_request__get_packed_size(&req);
    if (buf_reserve(out, need + 1) < 0)
        goto out;
    size_t got =
        prometheus__write_request__pack(&req, (uint8_t *)out->data + out->len);
    if (got != need)
        goto out;
    out->len += got;
    out->data[out->len] = '\0';
    rc = 0;
out:
    free(ts);
    free(tsp);
    free(sm);
    free(smp);
    free(lb);
    free(lbp);
    return rc;
}

int rwproto_compress(const void *in, size_t len, struct buf *out)
{
    size_t bound = snappy_max_compressed_length(len);
    if (buf_reserve(out, bound + 1) < 0)
        return -1;
    size_t got = bound;
    if (snappy_compress(in, len, out->data + out->len, &got) != SNAPPY_OK)
        return -1;
    out->len += got;
    out->data[out->len] = '\0';
    return 0;
}
