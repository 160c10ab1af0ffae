/*
 * hashring.c: the consistent-hash ring (lagwatch(8), RING).
 *
 * The ring is two flat parallel arrays, the sorted point values and the
 * owning node of each, so a lookup is one binary search with no allocation.
 * Standalone: libc and xxhash only, and allocation failure is an error
 * returned to the caller rather than an abort.
 */
#include "hashring.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* Bounds the memory a config can ask for: 16 bytes per point while building,
 * 12 afterwards. Far above any sane vnodes * total weight. */
#define HASHRING_MAX_POINTS (1u << 22)

struct hashring {
    size_t n;
    unsigned vnodes;
    char **names;
    unsigned *weights;
    size_t npoints;
    uint64_t *points; /* ascending */
    uint32_t *owner;  /* owner[j] is the node index of points[j] */
    double *shares;   /* first-owner fraction of the key space, per node */
    char fp[HASHRING_FINGERPRINT_LEN + 1];
};

struct point {
    uint64_t h;
    uint32_t rank; /* the node's position in name order: breaks ties */
    uint32_t node;
};

uint64_t hashring_hash(const void *p, size_t n)
{
    return XXH3_64bits(p, n);
}

/* strdup is POSIX, not C11; the library keeps to plain C11. */
static char *dup_string(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = malloc(n);

    if (d)
        memcpy(d, s, n);
    return d;
}

static int point_cmp(const void *a, const void *b)
{
    const struct point *pa = a, *pb = b;

    if (pa->h != pb->h)
        return pa->h < pb->h ? -1 : 1;
    if (pa->rank != pb->rank)
        return pa->rank < pb->rank ? -1 : 1;
    return 0;
}

struct named {
    const char *name;
    size_t idx;
};

static int named_cmp(const void *a, const void *b)
{
    const struct named *na = a, *nb = b;

    return strcmp(na->name, nb->name);
}

/* Fills order[] with the node indices in name order (bytewise), which both
 * the tie rule and the fingerprint use. */
static int sort_by_name(size_t *order, size_t n, char **names)
{
    struct named *v = malloc(n * sizeof(*v));

    if (!v)
        return -1;
    for (size_t i = 0; i < n; i++) {
        v[i].name = names[i];
        v[i].idx = i;
    }
    qsort(v, n, sizeof(*v), named_cmp);
    for (size_t i = 0; i < n; i++)
        order[i] = v[i].idx;
    free(v);
    return 0;
}

static int make_fingerprint(struct hashring *r, const size_t *order)
{
    size_t cap = 32, len;
    char *text = NULL;
    int ret = -1;

    for (size_t i = 0; i < r->n; i++)
        cap += strlen(r->names[i]) + 16;
    text = malloc(cap);
    if (!text)
        goto out;
    len = (size_t)snprintf(text, cap, "vnodes=%u;", r->vnodes);
    for (size_t i = 0; i < r->n; i++) {
        size_t k = order[i];

        len += (size_t)snprintf(text + len, cap - len, "%s=%u;", r->names[k],
                                r->weights[k]);
    }
    assert(len < cap);
    snprintf(r->fp, sizeof(r->fp), "%016llx",
             (unsigned long long)XXH3_64bits(text, len));
    ret = 0;
out:
    free(text);
    return ret;
}

/* Writes v in decimal, no padding and no NUL; returns the digit count.
 * snprintf dominated the ring build time. */
static size_t put_decimal(char *out, uint64_t v)
{
    char tmp[20];
    size_t n = 0;

    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t k = 0; k < n; k++)
        out[k] = tmp[n - 1 - k];
    return n;
}

/* Hashes "name#0" .. "name#count-1" into pts. The name is copied once and
 * only the decimal suffix is rewritten per point. */
static int hash_node_points(const char *name, uint32_t node, uint32_t rank,
                            uint64_t count, struct point *pts)
{
    size_t nl = strlen(name);
    char *s = malloc(nl + 1 + 20);

    if (!s)
        return -1;
    memcpy(s, name, nl);
    s[nl] = '#';
    for (uint64_t i = 0; i < count; i++) {
        size_t d = put_decimal(s + nl + 1, i);

        pts[i].h = XXH3_64bits(s, nl + 1 + d);
        pts[i].rank = rank;
        pts[i].node = node;
    }
    free(s);
    return 0;
}

static int check_nodes(const struct hashring_node_spec *nodes, size_t n,
                       unsigned vnodes, uint64_t *npoints, char *err,
                       size_t errlen)
{
    uint64_t total = 0;

    if (n == 0) {
        snprintf(err, errlen, "ring has no nodes");
        return -1;
    }
    if (vnodes == 0) {
        snprintf(err, errlen, "ring vnodes must be >= 1");
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!nodes[i].name || !nodes[i].name[0]) {
            snprintf(err, errlen, "ring node %zu has an empty name", i + 1);
            return -1;
        }
        if (nodes[i].weight == 0) {
            snprintf(err, errlen, "ring node '%s' has weight 0 (must be >= 1)",
                     nodes[i].name);
            return -1;
        }
        total += (uint64_t)vnodes * nodes[i].weight;
        if (total > HASHRING_MAX_POINTS) {
            snprintf(err, errlen,
                     "ring too large: vnodes * total weight exceeds %u points",
                     HASHRING_MAX_POINTS);
            return -1;
        }
    }
    *npoints = total;
    return 0;
}

/*
 * Point j owns the hashes in (points[j-1], points[j]]; point 0 also owns the
 * wrap (points[last], 2^64). Arc lengths are exact in uint64 except when
 * point 0 owns all 2^64 hashes (every point equal), so each node's total is
 * kept exactly as carry * 2^64 + low and rounded once.
 */
static int compute_shares(struct hashring *r)
{
    size_t last = r->npoints - 1;
    uint64_t *low = calloc(r->n, sizeof(*low));
    unsigned *carry = calloc(r->n, sizeof(*carry));
    int ret = -1;

    if (!low || !carry)
        goto out;
    if (r->points[0] == r->points[last]) {
        carry[r->owner[0]] = 1;
    } else {
        for (size_t j = 0; j < r->npoints; j++) {
            uint32_t k = r->owner[j];
            uint64_t arc = r->points[j] - r->points[j ? j - 1 : last];

            low[k] += arc;
            if (low[k] < arc)
                carry[k]++;
        }
    }
    for (size_t i = 0; i < r->n; i++)
        r->shares[i] =
            (double)((long double)carry[i] + (long double)low[i] * 0x1p-64L);
    ret = 0;
out:
    free(low);
    free(carry);
    return ret;
}

struct hashring *hashring_new(const struct hashring_node_spec *nodes, size_t n,
                              unsigned vnodes, char *err, size_t errlen)
{
    struct hashring *r = NULL;
    struct point *pts = NULL;
    size_t *order = NULL;
    uint64_t npoints = 0, at = 0;

    if (check_nodes(nodes, n, vnodes, &npoints, err, errlen) < 0)
        goto fail;
    r = calloc(1, sizeof(*r));
    if (!r)
        goto oom;
    r->n = n;
    r->vnodes = vnodes;
    r->names = calloc(n, sizeof(*r->names));
    r->weights = calloc(n, sizeof(*r->weights));
    r->shares = calloc(n, sizeof(*r->shares));
    order = calloc(n, sizeof(*order));
    if (!r->names || !r->weights || !r->shares || !order)
        goto oom;
    for (size_t i = 0; i < n; i++) {
        r->names[i] = dup_string(nodes[i].name);
        if (!r->names[i])
            goto oom;
        r->weights[i] = nodes[i].weight;
        order[i] = i;
    }
    if (sort_by_name(order, n, r->names) < 0)
        goto oom;
    for (size_t i = 1; i < n; i++) {
        if (strcmp(r->names[order[i - 1]], r->names[order[i]]) == 0) {
            snprintf(err, errlen, "ring node '%s' is listed twice",
                     r->names[order[i]]);
            goto fail;
        }
    }
    if (make_fingerprint(r, order) < 0)
        goto oom;

    pts = malloc((size_t)npoints * sizeof(*pts));
    r->points = malloc((size_t)npoints * sizeof(*r->points));
    r->owner = malloc((size_t)npoints * sizeof(*r->owner));
    if (!pts || !r->points || !r->owner)
        goto oom;
    for (size_t rank = 0; rank < n; rank++) {
        size_t k = order[rank];
        uint64_t count = (uint64_t)vnodes * r->weights[k];

        if (hash_node_points(r->names[k], (uint32_t)k, (uint32_t)rank, count,
                             pts + at) < 0)
            goto oom;
        at += count;
    }
    assert(at == npoints);
    qsort(pts, (size_t)npoints, sizeof(*pts), point_cmp);
    for (size_t j = 0; j < npoints; j++) {
        r->points[j] = pts[j].h;
        r->owner[j] = pts[j].node;
    }
    r->npoints = (size_t)npoints;
    if (compute_shares(r) < 0)
        goto oom;
    free(pts);
    free(order);
    return r;

oom:
    snprintf(err, errlen, "cannot build ring: out of memory");
fail:
    free(pts);
    free(order);
    hashring_free(&r);
    return NULL;
}

void hashring_free(struct hashring **rp)
{
    struct hashring *r = *rp;

    if (!r)
        return;
    if (r->names)
        for (size_t i = 0; i < r->n; i++)
            free(r->names[i]);
    free(r->names);
    free(r->weights);
    free(r->shares);
    free(r->points);
    free(r->owner);
    free(r);
    *rp = NULL;
}

/* Index of the first point >= h, or 0 when h is past the last point. */
static size_t first_at_or_after(const struct hashring *r, uint64_t h)
{
    size_t lo = 0, hi = r->npoints;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (r->points[mid] < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo == r->npoints ? 0 : lo;
}

size_t hashring_lookup_hash(const struct hashring *r, uint64_t h,
                            unsigned replicas, size_t *out)
{
    size_t want = replicas < r->n ? replicas : r->n;
    size_t got = 0, j;

    if (want == 0)
        return 0;
    j = first_at_or_after(r, h);
    /* Every node owns at least one point, so one lap finds all of them. */
    for (size_t step = 0; step < r->npoints && got < want; step++) {
        size_t node = r->owner[j];
        size_t k = 0;

        while (k < got && out[k] != node)
            k++;
        if (k == got)
            out[got++] = node;
        j = j + 1 == r->npoints ? 0 : j + 1;
    }
    assert(got == want);
    return got;
}

size_t hashring_lookup(const struct hashring *r, const void *key, size_t len,
                       unsigned replicas, size_t *out)
{
    return hashring_lookup_hash(r, XXH3_64bits(key, len), replicas, out);
}

size_t hashring_node_count(const struct hashring *r)
{
    return r->n;
}

const char *hashring_node_name(const struct hashring *r, size_t idx)
{
    assert(idx < r->n);
    return r->names[idx];
}

unsigned hashring_node_weight(const struct hashring *r, size_t idx)
{
    assert(idx < r->n);
    return r->weights[idx];
}

unsigned hashring_vnodes(const struct hashring *r)
{
    return r->vnodes;
}

void hashring_fingerprint(const struct hashring *r,
                          char out[HASHRING_FINGERPRINT_LEN + 1])
{
    memcpy(out, r->fp, HASHRING_FINGERPRINT_LEN + 1);
}

void hashring_shares(const struct hashring *r, double *share)
{
    memcpy(share, r->shares, r->n * sizeof(*share));
}

/*
 * Length of the next code point at s, or of the maximal ill-formed subpart
 * (Unicode 3.9, "U+FFFD substitution of maximal subparts") when the bytes
 * are not well-formed UTF-8. Always >= 1.
 */
static size_t utf8_unit(const unsigned char *s, size_t n)
{
    unsigned char c = s[0], lo = 0x80, hi = 0xbf;
    size_t need, k;

    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        need = 1;
    else if (c >= 0xe0 && c <= 0xef)
        need = 2;
    else if (c >= 0xf0 && c <= 0xf4)
        need = 3;
    else
        return 1;
    /* The second byte's range excludes overlongs and surrogates. */
    if (c == 0xe0)
        lo = 0xa0;
    else if (c == 0xed)
        hi = 0x9f;
    else if (c == 0xf0)
        lo = 0x90;
    else if (c == 0xf4)
        hi = 0x8f;
    for (k = 1; k <= need && k < n; k++) {
        if (s[k] < lo || s[k] > hi)
            break;
        lo = 0x80;
        hi = 0xbf;
    }
    return k;
}

static int allowed(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == ':' || c == '_';
}

size_t hashring_normalize(char *dst, const char *src, size_t len)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t i = 0, o = 0;

    /* o never passes i, so writing in place is safe. */
    while (i < len) {
        size_t u = utf8_unit(s + i, len - i);

        dst[o++] = u == 1 && allowed(s[i]) ? (char)s[i] : '_';
        i += u;
    }
    return o;
}

char *hashring_normalize_dup(const char *src, size_t len, size_t *outlen)
{
    char *d = malloc(len + 1);
    if (!d)
        return NULL;
    size_t n = hashring_normalize(d, src, len);
    d[n] = '\0';
    if (outlen)
        *outlen = n;
    return d;
}
