#include "remote_write/rwproto.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>

#include "util/xalloc.h"

/* The batch is the body itself: each add appends one encoded TimeSeries
 * (WriteRequest field 1), so encoding is a copy and no per-sample
 * structure or string table exists. */
struct rwproto_batch {
    struct buf body;    /* encoded TimeSeries entries, capped */
    struct buf scratch; /* sanitized names of the sample being added */
    size_t nent;
};

/* One label of the sample being added, pointing into the caller's strings
 * or into scratch. */
struct lab {
    const char *name;
    const char *value;
    uint32_t name_len;
    uint32_t value_len;
};

struct rwproto_batch *rwproto_batch_new(void)
{
    struct rwproto_batch *b = xcalloc(1, sizeof(*b));
    buf_init(&b->body, RWPROTO_BATCH_MAX_BYTES);
    buf_init(&b->scratch, 0);
    return b;
}

void rwproto_batch_free(struct rwproto_batch **bp)
{
    struct rwproto_batch *b = *bp;
    if (!b)
        return;
    buf_release(&b->body);
    buf_release(&b->scratch);
    free(b);
    *bp = NULL;
}

void rwproto_batch_reset(struct rwproto_batch *b)
{
    buf_reset(&b->body);
    b->nent = 0;
}

size_t rwproto_batch_samples(const struct rwproto_batch *b)
{
    return b->nent;
}

size_t rwproto_batch_bytes(const struct rwproto_batch *b)
{
    return b->body.len;
}

/* Bytes a Prometheus name may hold: bit 1 in label names, bit 2 in metric
 * names (':' too). A table: every name of every sample is checked. */
#define NC_LABEL       1
#define NC_METRIC      2
#define NC_BOTH        (NC_LABEL | NC_METRIC)
#define NC_RANGE(a, b) [a... b] = NC_BOTH
static const unsigned char name_tab[256] = {
    NC_RANGE('a', 'z'), NC_RANGE('A', 'Z'), NC_RANGE('0', '9'),
    ['_'] = NC_BOTH,    [':'] = NC_METRIC,
};

static bool name_char(char c, bool colon)
{
    return name_tab[(unsigned char)c] & (colon ? NC_METRIC : NC_LABEL);
}

static bool name_plain(const char *p, size_t len, bool colon)
{
    if (len > 0 && p[0] >= '0' && p[0] <= '9')
        return false;
    unsigned bit = colon ? NC_METRIC : NC_LABEL;
    unsigned ok = bit;
    for (size_t i = 0; i < len; i++)
        ok &= name_tab[(unsigned char)p[i]];
    return ok != 0;
}

/* A Prometheus-valid name made of p[0..len) then suffix: p itself when it
 * is one already (the common case), else a sanitized copy in scratch,
 * which the caller reserved room for (so earlier copies do not move). */
static const char *valid_name(struct buf *scratch, const char *p, size_t len,
                              const char *suffix, bool colon, uint32_t *out)
{
    size_t sl = suffix ? strlen(suffix) : 0;
    if (sl == 0 && name_plain(p, len, colon)) {
        *out = (uint32_t)len;
        return p;
    }
    char *d = scratch->data + scratch->len;
    size_t n = 0;
    if (len > 0 && p[0] >= '0' && p[0] <= '9')
        d[n++] = '_';
    for (size_t i = 0; i < len; i++)
        d[n++] = name_char(p[i], colon) ? p[i] : '_';
    for (size_t i = 0; i < sl; i++)
        d[n++] = name_char(suffix[i], colon) ? suffix[i] : '_';
    scratch->len += n;
    *out = (uint32_t)n;
    return d;
}

/* strcmp's order for strings with lengths (the wire holds no NULs). */
static int name_cmp(const struct lab *a, const struct lab *b)
{
    size_t n = a->name_len < b->name_len ? a->name_len : b->name_len;
    /* label names are short: a byte loop beats a memcmp call */
    for (size_t i = 0; i < n; i++)
        if (a->name[i] != b->name[i])
            return (unsigned char)a->name[i] < (unsigned char)b->name[i] ? -1
                                                                         : 1;
    return a->name_len < b->name_len ? -1 : a->name_len > b->name_len;
}

static size_t varint_len(uint64_t v)
{
    size_t n = 1;
    while (v >= 0x80) {
        v >>= 7;
        n++;
    }
    return n;
}

static char *put_varint(char *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (char)(v | 0x80);
        v >>= 7;
    }
    *p++ = (char)v;
    return p;
}

/* A length-delimited field: tag, length, bytes. */
static char *put_bytes(char *p, unsigned char tag, const char *s, size_t n)
{
    *p++ = (char)tag;
    p = put_varint(p, n);
    memcpy(p, s, n);
    return p + n;
}

/* The size of Label{name, value} (remote.proto: 1 name, 2 value). */
static size_t label_size(const struct lab *l)
{
    return 1 + varint_len(l->name_len) + l->name_len + 1 +
           varint_len(l->value_len) + l->value_len;
}

#define HIGHS 0x8080808080808080ULL

/* Whether p[0..len) is well-formed UTF-8 (no overlongs, surrogates or
 * code points past U+10FFFF): a receiver refuses the whole request for
 * one bad label value, so such a sample is skipped instead. */
static bool utf8_valid(const unsigned char *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        /* ASCII, the usual case, 8 bytes a step */
        if (len - i >= 8) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if ((w & HIGHS) == 0) {
                i += 8;
                continue;
            }
        }
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
    /* room for every sanitized name: '_' prefixes and the suffix */
    size_t need = name_len + 1 + (suffix ? strlen(suffix) : 0);
    for (size_t i = 0; i < nlabels; i++) {
        const struct label *l = &labels[i];
        if (l->name_len > RWPROTO_MAX_STRING ||
            l->value_len > RWPROTO_MAX_STRING ||
            !utf8_valid((const unsigned char *)l->value, l->value_len))
            return 1;
        need += l->name_len + 1;
    }
    buf_reset(&b->scratch);
    if (buf_reserve(&b->scratch, need) < 0)
        return 1; /* cannot happen: the scratch has no cap */

    struct lab tmp[RWPROTO_MAX_LABELS];
    size_t n = 0;
    tmp[n].name = "__name__";
    tmp[n].name_len = 8;
    tmp[n].value = valid_name(&b->scratch, name, name_len, suffix, true,
                              &tmp[n].value_len);
    n++;
    for (size_t i = 0; i < nlabels; i++) {
        const struct label *l = &labels[i];
        if (l->value_len == 0 || l->name_len == 0 ||
            (l->name_len == 8 && memcmp(l->name, "__name__", 8) == 0))
            continue;
        tmp[n].name = valid_name(&b->scratch, l->name, l->name_len, NULL, false,
                                 &tmp[n].name_len);
        tmp[n].value = l->value;
        tmp[n].value_len = l->value_len;
        n++;
    }
    /* Insertion sort by name (byte order): series come sorted, so this is
     * one pass. Sanitizing can make two names equal, which the receiver
     * would refuse. */
    bool sorted = true;
    for (size_t i = 1; i < n && sorted; i++)
        sorted = name_cmp(&tmp[i - 1], &tmp[i]) < 0;
    if (!sorted) {
        for (size_t i = 1; i < n; i++) {
            struct lab x = tmp[i];
            size_t j = i;
            while (j > 0 && name_cmp(&tmp[j - 1], &x) > 0) {
                tmp[j] = tmp[j - 1];
                j--;
            }
            tmp[j] = x;
        }
        for (size_t i = 1; i < n; i++)
            if (name_cmp(&tmp[i - 1], &tmp[i]) == 0)
                return 1;
    }

    /* TimeSeries{1: labels, 2: samples}; Sample{1: double value,
     * 2: int64 timestamp} (remote.proto) */
    size_t ts_size = 0;
    for (size_t i = 0; i < n; i++) {
        size_t ls = label_size(&tmp[i]);
        ts_size += 1 + varint_len(ls) + ls;
    }
    size_t sm_size = 1 + 8 + 1 + varint_len((uint64_t)ts_ms);
    ts_size += 1 + varint_len(sm_size) + sm_size;
    size_t total = 1 + varint_len(ts_size) + ts_size;
    if (b->body.len + total > RWPROTO_BATCH_MAX_BYTES ||
        buf_reserve(&b->body, total) < 0) {
        b->body.err = false; /* full: the caller seals and retries */
        return -1;
    }

    char *p = b->body.data + b->body.len;
    *p++ = 0x0a;
    p = put_varint(p, ts_size);
    for (size_t i = 0; i < n; i++) {
        *p++ = 0x0a;
        p = put_varint(p, label_size(&tmp[i]));
        p = put_bytes(p, 0x0a, tmp[i].name, tmp[i].name_len);
        p = put_bytes(p, 0x12, tmp[i].value, tmp[i].value_len);
    }
    *p++ = 0x12;
    p = put_varint(p, sm_size);
    *p++ = 0x09;
    uint64_t bits;
    memcpy(&bits, &v, 8);
    for (int k = 0; k < 8; k++) /* little-endian, whatever the host */
        *p++ = (char)(bits >> (8 * k));
    *p++ = 0x10;
    p = put_varint(p, (uint64_t)ts_ms);
    b->body.len = (size_t)(p - b->body.data);
    b->body.data[b->body.len] = '\0';
    b->nent++;
    return 0;
}

int rwproto_batch_encode(const struct rwproto_batch *b, struct buf *out)
{
    return buf_add(out, b->body.data, b->body.len);
}

int rwproto_batch_compress(const struct rwproto_batch *b, struct buf *out)
{
    return rwproto_compress(b->body.data, b->body.len, out);
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
