#include "prom/expo.h"

#include <ctype.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <xxhash.h>

#include "prom/fmt_openmetrics.h"
#include "prom/fmt_prom.h"
#include "prom/fmt_promproto.h"
#include "util/xalloc.h"

#define CHUNK_BYTES (64 * 1024)
/* What a hash slot costs, counted against the cap with each entry. */
#define SLOT_BYTES 16

/* Strings and label arrays live in chunks that never move, so pointers
 * into them stay valid as the model grows. */
struct chunk {
    struct chunk *next;
    size_t used;
    size_t cap;
    alignas(max_align_t) char data[];
};

struct istr {
    const char *s;
    uint32_t len;
    uint32_t hash;
};

struct ilabels {
    const struct label *ls;
    uint32_t n;
    uint32_t hash;
};

struct expo {
    size_t max_bytes;
    size_t bytes;
    uint64_t dropped;
    struct chunk *chunks;
    /* interned strings: open addressing, power-of-two size */
    struct istr *strs;
    size_t nstrs;
    size_t strs_cap;
    /* interned label sets (Flink gives every metric of a task the same
     * labels): open addressing, power-of-two size */
    struct ilabels *lsets;
    size_t nlsets;
    size_t lsets_cap;
    char *flat; /* a label set's strings end to end, hashed to find it */
    size_t flat_cap;
    /* family name -> index + 1 (0 = empty slot) */
    uint32_t *fam_slots;
    size_t fam_slots_cap;
    struct expo_family *fams;
    size_t nfams;
    size_t fams_cap;
    struct expo_sample *samples;
    size_t nsamples;
    size_t samples_cap;
    size_t cur; /* the family of the last expo_family call, or SIZE_MAX */
    /* The families expo_family_find found last, most recent first: series
     * come grouped by family, a folded one as 3 (_max, _sum, _avg), so a
     * name compare here usually replaces hashing the name. */
    struct {
        size_t fi;
        size_t len;
    } recent[4];
    size_t nrecent;
};

struct expo *expo_new(size_t max_bytes)
{
    struct expo *e = xcalloc(1, sizeof(*e));
    e->max_bytes = max_bytes;
    e->cur = SIZE_MAX;
    return e;
}

void expo_free(struct expo **ep)
{
    struct expo *e = *ep;
    if (!e)
        return;
    struct chunk *c = e->chunks;
    while (c) {
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
    free(e->strs);
    free(e->lsets);
    free(e->flat);
    free(e->fam_slots);
    free(e->fams);
    free(e->samples);
    free(e);
    *ep = NULL;
}

/* The smallest power of two holding n entries at half load. */
static size_t table_size(size_t n)
{
    size_t cap = 1024;
    while (cap < 2 * n)
        cap *= 2;
    return cap;
}

void expo_size_of(const struct expo *e, struct expo_size *out)
{
    *out = (struct expo_size){e->nstrs, e->nlsets, e->nsamples, e->nfams};
}

void expo_presize(struct expo *e, const struct expo_size *like)
{
    if (e->nstrs || e->nlsets || e->nsamples || e->nfams)
        return;
    if (like->strs) {
        free(e->strs);
        e->strs_cap = table_size(like->strs);
        e->strs = xcalloc(e->strs_cap, sizeof(*e->strs));
    }
    if (like->lsets) {
        free(e->lsets);
        e->lsets_cap = table_size(like->lsets);
        e->lsets = xcalloc(e->lsets_cap, sizeof(*e->lsets));
    }
    e->samples =
        xgrow(e->samples, &e->samples_cap, like->samples, sizeof(*e->samples));
    e->fams = xgrow(e->fams, &e->fams_cap, like->fams, sizeof(*e->fams));
}

void expo_set_max_bytes(struct expo *e, size_t max_bytes)
{
    e->max_bytes = max_bytes;
}

uint64_t expo_dropped(const struct expo *e)
{
    return e->dropped;
}

size_t expo_bytes(const struct expo *e)
{
    return e->bytes;
}

const struct expo_family *expo_families(const struct expo *e, size_t *n)
{
    *n = e->nfams;
    return e->fams;
}

const struct expo_sample *expo_samples(const struct expo *e, size_t *n)
{
    *n = e->nsamples;
    return e->samples;
}

static void *arena_alloc(struct expo *e, size_t size)
{
    size = (size + alignof(max_align_t) - 1) & ~(alignof(max_align_t) - 1);
    struct chunk *c = e->chunks;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > CHUNK_BYTES ? size : CHUNK_BYTES;
        c = xmalloc(sizeof(*c) + cap);
        c->used = 0;
        c->cap = cap;
        c->next = e->chunks;
        e->chunks = c;
    }
    void *p = c->data + c->used;
    c->used += size;
    return p;
}

static uint32_t hash_str(const char *s, size_t len)
{
    return (uint32_t)XXH3_64bits(s, len);
}

static void strs_grow(struct expo *e)
{
    size_t cap = e->strs_cap ? e->strs_cap * 2 : 1024;
    struct istr *t = xcalloc(cap, sizeof(*t));
    for (size_t i = 0; i < e->strs_cap; i++) {
        if (!e->strs[i].s)
            continue;
        size_t j = e->strs[i].hash & (cap - 1);
        while (t[j].s)
            j = (j + 1) & (cap - 1);
        t[j] = e->strs[i];
    }
    free(e->strs);
    e->strs = t;
    e->strs_cap = cap;
}

/* The interned copy of s (NUL-terminated). Capacity was checked. */
static const char *intern(struct expo *e, const char *s, size_t len)
{
    if ((e->nstrs + 1) * 2 > e->strs_cap)
        strs_grow(e);
    uint32_t h = hash_str(s, len);
    size_t j = h & (e->strs_cap - 1);
    while (e->strs[j].s) {
        const struct istr *is = &e->strs[j];
        if (is->hash == h && is->len == len && memcmp(is->s, s, len) == 0)
            return is->s;
        j = (j + 1) & (e->strs_cap - 1);
    }
    char *copy = arena_alloc(e, len + 1);
    memcpy(copy, s, len);
    copy[len] = '\0';
    e->strs[j] = (struct istr){copy, (uint32_t)len, h};
    e->nstrs++;
    e->bytes += len + 1 + SLOT_BYTES;
    return copy;
}

static void lsets_grow(struct expo *e)
{
    size_t cap = e->lsets_cap ? e->lsets_cap * 2 : 1024;
    struct ilabels *t = xcalloc(cap, sizeof(*t));
    for (size_t i = 0; i < e->lsets_cap; i++) {
        if (!e->lsets[i].ls)
            continue;
        size_t j = e->lsets[i].hash & (cap - 1);
        while (t[j].ls)
            j = (j + 1) & (cap - 1);
        t[j] = e->lsets[i];
    }
    free(e->lsets);
    e->lsets = t;
    e->lsets_cap = cap;
}

/* Whether interned set ls holds the same strings as labels. */
static bool same_labels(const struct label *ls, const struct label *labels,
                        size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ls[i].name_len != labels[i].name_len ||
            ls[i].value_len != labels[i].value_len ||
            memcmp(ls[i].name, labels[i].name, labels[i].name_len) != 0 ||
            memcmp(ls[i].value, labels[i].value, labels[i].value_len) != 0)
            return false;
    return true;
}

/* The interned copy of labels (n > 0), its strings interned too.
 * Capacity was checked. Sets are found by their content: most samples
 * repeat a set seen before (every metric of a Flink task or operator has
 * the same labels), and one hash over the strings end to end then
 * replaces interning each of them. */
static const struct label *intern_labels(struct expo *e,
                                         const struct label *labels, size_t n)
{
    size_t flen = 0;
    for (size_t i = 0; i < n; i++)
        flen += labels[i].name_len + labels[i].value_len + 2;
    e->flat = xgrow(e->flat, &e->flat_cap, flen, 1);
    char *f = e->flat;
    for (size_t i = 0; i < n; i++) {
        /* NUL separators: no two different sets flatten alike */
        memcpy(f, labels[i].name, labels[i].name_len);
        f += labels[i].name_len;
        *f++ = '\0';
        memcpy(f, labels[i].value, labels[i].value_len);
        f += labels[i].value_len;
        *f++ = '\0';
    }
    uint32_t h = (uint32_t)XXH3_64bits(e->flat, flen);
    if ((e->nlsets + 1) * 2 > e->lsets_cap)
        lsets_grow(e);
    size_t j = h & (e->lsets_cap - 1);
    while (e->lsets[j].ls) {
        const struct ilabels *il = &e->lsets[j];
        if (il->hash == h && il->n == n && same_labels(il->ls, labels, n))
            return il->ls;
        j = (j + 1) & (e->lsets_cap - 1);
    }
    size_t size = n * sizeof(struct label);
    struct label *copy = arena_alloc(e, size);
    for (size_t i = 0; i < n; i++) {
        copy[i].name = intern(e, labels[i].name, labels[i].name_len);
        copy[i].value = intern(e, labels[i].value, labels[i].value_len);
        copy[i].name_len = labels[i].name_len;
        copy[i].value_len = labels[i].value_len;
    }
    e->lsets[j] = (struct ilabels){copy, (uint32_t)n, h};
    e->nlsets++;
    e->bytes += size + SLOT_BYTES;
    return copy;
}

static void fams_rehash(struct expo *e)
{
    size_t cap = e->fam_slots_cap ? e->fam_slots_cap * 2 : 256;
    uint32_t *t = xcalloc(cap, sizeof(*t));
    for (size_t i = 0; i < e->nfams; i++) {
        const char *n = e->fams[i].name;
        size_t j = hash_str(n, strlen(n)) & (cap - 1);
        while (t[j])
            j = (j + 1) & (cap - 1);
        t[j] = (uint32_t)i + 1;
    }
    free(e->fam_slots);
    e->fam_slots = t;
    e->fam_slots_cap = cap;
}

/* The slot of family name: holds its index + 1, or 0 where it would go. */
static uint32_t *fam_slot(struct expo *e, const char *name, size_t len)
{
    size_t j = hash_str(name, len) & (e->fam_slots_cap - 1);
    for (;;) {
        uint32_t *slot = &e->fam_slots[j];
        if (*slot == 0)
            return slot;
        const char *n = e->fams[*slot - 1].name;
        if (strncmp(n, name, len) == 0 && n[len] == '\0')
            return slot;
        j = (j + 1) & (e->fam_slots_cap - 1);
    }
}

static bool fits(struct expo *e, size_t need)
{
    if (e->max_bytes && e->bytes + need > e->max_bytes) {
        e->dropped++;
        return false;
    }
    return true;
}

/* The index of family name, created when new; SIZE_MAX when it did not
 * fit. */
static size_t family_get(struct expo *e, const char *name, size_t name_len,
                         enum metric_type type, const char *help,
                         size_t help_len)
{
    if ((e->nfams + 1) * 2 > e->fam_slots_cap)
        fams_rehash(e);
    uint32_t *slot = fam_slot(e, name, name_len);
    if (*slot)
        return *slot - 1;
    if (e->nfams >= EXPO_NONE - 1 ||
        !fits(e, sizeof(struct expo_family) + SLOT_BYTES + name_len + help_len +
                     2 + 2 * SLOT_BYTES))
        return SIZE_MAX;
    e->fams = xgrow(e->fams, &e->fams_cap, e->nfams + 1, sizeof(*e->fams));
    struct expo_family *f = &e->fams[e->nfams];
    f->name = intern(e, name, name_len);
    f->help = intern(e, help ? help : "", help ? help_len : 0);
    /* The model holds single-valued samples: the parts of a summary or
     * histogram stand alone, untyped. */
    f->type = type == MT_COUNTER || type == MT_GAUGE ? type : MT_UNTYPED;
    f->first = f->last = EXPO_NONE;
    f->nsamples = 0;
    *slot = (uint32_t)e->nfams + 1;
    e->bytes += sizeof(*f) + SLOT_BYTES;
    return e->nfams++;
}

/* Links sample si (labels already interned) into family fi. */
static void link_sample(struct expo *e, size_t fi, const struct label *ls,
                        size_t nlabels, double v)
{
    e->samples = xgrow(e->samples, &e->samples_cap, e->nsamples + 1,
                       sizeof(*e->samples));
    uint32_t si = (uint32_t)e->nsamples++;
    e->samples[si] = (struct expo_sample){ls, (uint32_t)nlabels, EXPO_NONE, v};
    e->bytes += sizeof(struct expo_sample);
    struct expo_family *f = &e->fams[fi];
    if (f->last == EXPO_NONE)
        f->first = si;
    else
        e->samples[f->last].next = si;
    f->last = si;
    f->nsamples++;
}

int expo_add_values(struct expo *e, const size_t *fam, const double *v,
                    size_t nv, const struct label *labels, size_t nlabels)
{
    /* an upper bound: the label set and its strings may be known */
    size_t need = nv * (sizeof(struct expo_sample) + SLOT_BYTES) +
                  nlabels * sizeof(struct label);
    for (size_t i = 0; i < nlabels; i++)
        need += labels[i].name_len + labels[i].value_len + 2 + 2 * SLOT_BYTES;
    if (nv == 0)
        return 0;
    if (e->nsamples + nv >= EXPO_NONE - 1 || nlabels > UINT32_MAX ||
        !fits(e, need)) {
        e->dropped += nv - 1; /* fits() counted one */
        return -1;
    }
    const struct label *ls =
        nlabels > 0 ? intern_labels(e, labels, nlabels) : NULL;
    for (size_t i = 0; i < nv; i++)
        link_sample(e, fam[i], ls, nlabels, v[i]);
    return 0;
}

static int add_sample(struct expo *e, size_t fi, const struct label *labels,
                      size_t nlabels, double v)
{
    return expo_add_values(e, &fi, &v, 1, labels, nlabels);
}

size_t expo_family_find(struct expo *e, const char *name, size_t name_len)
{
    if (e->nfams == 0)
        return EXPO_NO_FAMILY;
    for (size_t i = 0; i < e->nrecent; i++)
        if (e->recent[i].len == name_len &&
            memcmp(e->fams[e->recent[i].fi].name, name, name_len) == 0)
            return e->recent[i].fi;
    uint32_t *slot = fam_slot(e, name, name_len);
    if (!*slot)
        return EXPO_NO_FAMILY;
    size_t n = e->nrecent < 4 ? e->nrecent + 1 : 4;
    memmove(&e->recent[1], &e->recent[0], (n - 1) * sizeof(e->recent[0]));
    e->recent[0].fi = *slot - 1;
    e->recent[0].len = name_len;
    e->nrecent = n;
    return *slot - 1;
}

size_t expo_family_index(struct expo *e, const char *name, size_t name_len,
                         enum metric_type type, const char *help,
                         size_t help_len)
{
    return family_get(e, name, name_len, type, help, help_len);
}

static enum metric_type parse_type(const char *type)
{
    static const struct {
        const char *name;
        enum metric_type t;
    } types[] = {
        {"counter", MT_COUNTER},
        {"gauge", MT_GAUGE},
        {"summary", MT_SUMMARY},
        {"histogram", MT_HISTOGRAM},
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
        if (strcmp(type, types[i].name) == 0)
            return types[i].t;
    return MT_UNTYPED;
}

const char *expo_type_name(enum metric_type t)
{
    switch (t) {
    case MT_COUNTER:
        return "counter";
    case MT_GAUGE:
        return "gauge";
    case MT_SUMMARY:
        return "summary";
    case MT_HISTOGRAM:
        return "histogram";
    case MT_UNTYPED:
        break;
    }
    return "untyped";
}

int expo_family(struct expo *e, const char *name, const char *type,
                const char *help)
{
    size_t fi = family_get(e, name, strlen(name), parse_type(type), help,
                           help ? strlen(help) : 0);
    e->cur = fi;
    return fi == SIZE_MAX ? -1 : 0;
}

int expo_sample(struct expo *e, const char *name, const struct label *labels,
                size_t nlabels, double v)
{
    size_t fi = e->cur;
    if (fi == SIZE_MAX || strcmp(e->fams[fi].name, name) != 0) {
        fi = family_get(e, name, strlen(name), MT_UNTYPED, NULL, 0);
        if (fi == SIZE_MAX)
            return -1;
    }
    return add_sample(e, fi, labels, nlabels, v);
}

static int single(struct expo *e, const char *name, const char *type,
                  const char *help, double v)
{
    if (expo_family(e, name, type, help) < 0)
        return -1;
    return expo_sample(e, name, NULL, 0, v);
}

int expo_counter(struct expo *e, const char *name, const char *help, double v)
{
    return single(e, name, "counter", help, v);
}

int expo_gauge(struct expo *e, const char *name, const char *help, double v)
{
    return single(e, name, "gauge", help, v);
}

int expo_add(struct expo *e, const char *name, size_t name_len,
             enum metric_type type, const char *help, size_t help_len,
             const struct label *labels, size_t nlabels, double v)
{
    size_t fi = family_get(e, name, name_len, type, help, help_len);
    if (fi == SIZE_MAX)
        return -1;
    return add_sample(e, fi, labels, nlabels, v);
}

int expo_write_text(const struct expo *e, struct buf *out)
{
    for (size_t f = 0; f < e->nfams; f++) {
        const struct expo_family *fam = &e->fams[f];
        if (fam->nsamples == 0)
            continue;
        if (fam->help[0])
            fmt_prom_family(out, fam->name, expo_type_name(fam->type),
                            fam->help);
        else
            buf_addf(out, "# TYPE %s %s\n", fam->name,
                     expo_type_name(fam->type));
        for (uint32_t s = fam->first; s != EXPO_NONE; s = e->samples[s].next) {
            const struct expo_sample *sm = &e->samples[s];
            if (fmt_prom_sample(out, fam->name, sm->labels, sm->nlabels,
                                sm->value) < 0)
                return -1;
        }
    }
    return buf_error(out) ? -1 : 0;
}

int expo_encode(const struct expo *e, enum expo_format f, struct buf *out)
{
    switch (f) {
    case EXPO_OPENMETRICS:
        return fmt_openmetrics_write(e, out);
    case EXPO_PROTOBUF:
        return fmt_promproto_write(e, out);
    case EXPO_TEXT:
    case EXPO_FORMAT_N_:
        break;
    }
    return expo_write_text(e, out);
}

const char *expo_content_type(enum expo_format f)
{
    switch (f) {
    case EXPO_OPENMETRICS:
        return "application/openmetrics-text; version=1.0.0; charset=utf-8";
    case EXPO_PROTOBUF:
        return "application/vnd.google.protobuf; "
               "proto=io.prometheus.client.MetricFamily; encoding=delimited";
    case EXPO_TEXT:
    case EXPO_FORMAT_N_:
        break;
    }
    return "text/plain; version=0.0.4; charset=utf-8";
}

/* ---- Accept negotiation ---- */

/* Copies [s, e) without surrounding blanks and quotes, lowercased when
 * fold is set. */
static void token(char *dst, size_t cap, const char *s, const char *end,
                  bool fold)
{
    while (s < end && isspace((unsigned char)*s))
        s++;
    while (end > s && isspace((unsigned char)end[-1]))
        end--;
    if (end - s >= 2 && *s == '"' && end[-1] == '"') {
        s++;
        end--;
    }
    size_t n = 0;
    for (; s < end && n + 1 < cap; s++)
        dst[n++] = fold ? (char)tolower((unsigned char)*s) : *s;
    dst[n] = '\0';
}

/* The format one media range asks for, or -1; its q in *q. */
static int media_range(const char *s, const char *end, double *q)
{
    char type[64], proto[96] = "", encoding[96] = "", version[96] = "";
    const char *semi = memchr(s, ';', (size_t)(end - s));
    token(type, sizeof(type), s, semi ? semi : end, true);
    *q = 1.0;
    while (semi) {
        const char *p = semi + 1;
        semi = memchr(p, ';', (size_t)(end - p));
        const char *pend = semi ? semi : end;
        const char *eq = memchr(p, '=', (size_t)(pend - p));
        if (!eq)
            continue;
        char key[32], val[96];
        token(key, sizeof(key), p, eq, true);
        char *dst = strcmp(key, "proto") == 0      ? proto
                    : strcmp(key, "encoding") == 0 ? encoding
                    : strcmp(key, "version") == 0  ? version
                                                   : val;
        token(dst, sizeof(val), eq + 1, pend, false);
        if (strcmp(key, "q") == 0) {
            char *ep;
            double v = strtod(val, &ep);
            *q = (*ep || ep == val || !(v >= 0) || v > 1) ? 0 : v;
        }
    }
    if (strcmp(type, "application/vnd.google.protobuf") == 0) {
        if (strcmp(proto, "io.prometheus.client.MetricFamily") == 0 &&
            strcasecmp(encoding, "delimited") == 0)
            return EXPO_PROTOBUF;
        return -1;
    }
    if (strcmp(type, "application/openmetrics-text") == 0) {
        if (!version[0] || strcmp(version, "1.0.0") == 0 ||
            strcmp(version, "0.0.1") == 0)
            return EXPO_OPENMETRICS;
        return -1;
    }
    if (strcmp(type, "text/plain") == 0) {
        if (!version[0] || strcmp(version, "0.0.4") == 0)
            return EXPO_TEXT;
        return -1;
    }
    if (strcmp(type, "*/*") == 0 || strcmp(type, "text/*") == 0)
        return EXPO_TEXT;
    return -1;
}

enum expo_format expo_negotiate(const char *accept)
{
    enum expo_format best = EXPO_TEXT;
    double best_q = 0;
    if (!accept)
        return EXPO_TEXT;
    const char *p = accept;
    for (;;) {
        const char *comma = strchr(p, ',');
        const char *end = comma ? comma : p + strlen(p);
        double q;
        int f = media_range(p, end, &q);
        if (f >= 0 && q > best_q) {
            best = (enum expo_format)f;
            best_q = q;
        }
        if (!comma)
            break;
        p = comma + 1;
    }
    return best;
}
