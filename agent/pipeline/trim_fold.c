/* The fold table of trim_fold.h: open addressing over the groups, with the
 * keys, metrics and families of all groups in one arena. */
#include "pipeline/trim_fold.h"

#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "util/buf.h"
#include "util/bytes_eq.h"
#include "util/xalloc.h"

/* One fold group. Its key, metric and family live in trim_fold.keys
 * (offsets: the buffer moves as it grows). */
struct fold {
    uint64_t hash;
    size_t key_off;
    size_t key_len;
    size_t metric_off;
    size_t metric_len;
    size_t family_off;
    size_t family_len;
    enum metric_type type;
    int64_t ts_ms;
    double max;
    double sum;
    uint32_t count;
};

struct trim_fold {
    struct fold *groups;
    size_t ngroups;
    size_t groups_cap;
    uint32_t *slots; /* open addressing: group index + 1, 0 = empty */
    size_t nslots;   /* power of two */
    struct buf keys;
    struct buf kbuf; /* the key being looked up */
    struct label *flush_labels;
    size_t flush_cap;
    /* The last group a sample went to: the subtasks of one operator
     * mostly come one after the other. */
    size_t last_group;
    bool last_group_valid;
};

struct trim_fold *trim_fold_new(void)
{
    struct trim_fold *f = xcalloc(1, sizeof(*f));
    buf_init(&f->keys, 0);
    buf_init(&f->kbuf, 0);
    return f;
}

void trim_fold_free(struct trim_fold **fp)
{
    if (!fp || !*fp)
        return;
    struct trim_fold *f = *fp;
    free(f->groups);
    free(f->slots);
    buf_release(&f->keys);
    buf_release(&f->kbuf);
    free(f->flush_labels);
    free(f);
    *fp = NULL;
}

static void put_u32(char *p, uint32_t v)
{
    memcpy(p, &v, sizeof(v));
}

static uint32_t get_u32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* Key = name and every label but labels[skip], length-prefixed so that no
 * byte sequence is ambiguous, with a NUL after each string so that flush
 * can hand the strings out as they are. Written in place: this runs for
 * every folded sample. */
static void build_key(struct trim_fold *f, const struct series *in, size_t skip)
{
    const struct label *v = in->labels;
    size_t n = in->nlabels;
    size_t need = 4 + in->name_len + 1 + 4;
    for (size_t i = 0; i < n; i++)
        need += 8 + v[i].name_len + 1 + v[i].value_len + 1;
    buf_reset(&f->kbuf);
    /* Unlimited: cannot fail (xalloc aborts on out of memory). */
    (void)buf_reserve(&f->kbuf, need);
    char *p = f->kbuf.data;
    put_u32(p, (uint32_t)in->name_len);
    p += 4;
    memcpy(p, in->name, in->name_len);
    p += in->name_len;
    *p++ = '\0';
    put_u32(p, (uint32_t)(n - 1));
    p += 4;
    for (size_t i = 0; i < n; i++) {
        if (i == skip)
            continue;
        put_u32(p, v[i].name_len);
        put_u32(p + 4, v[i].value_len);
        p += 8;
        memcpy(p, v[i].name, v[i].name_len);
        p += v[i].name_len;
        *p++ = '\0';
        memcpy(p, v[i].value, v[i].value_len);
        p += v[i].value_len;
        *p++ = '\0';
    }
    f->kbuf.len = (size_t)(p - f->kbuf.data);
}

static void slots_insert(uint32_t *slots, size_t nslots, uint64_t h,
                         uint32_t val)
{
    size_t mask = nslots - 1;
    size_t i = (size_t)h & mask;
    while (slots[i])
        i = (i + 1) & mask;
    slots[i] = val;
}

static void slots_grow(struct trim_fold *f)
{
    size_t n = f->nslots ? f->nslots * 2 : 1024;
    uint32_t *s = xcalloc(n, sizeof(*s));
    for (size_t g = 0; g < f->ngroups; g++)
        slots_insert(s, n, f->groups[g].hash, (uint32_t)(g + 1));
    free(f->slots);
    f->slots = s;
    f->nslots = n;
}

/* Copies p[0..n) into the arena, followed by a NUL when nul is set, and
 * returns its offset; the caller has reserved the room. Written in place:
 * every group of a cycle makes three of these. */
static size_t keys_put(struct trim_fold *f, const char *p, size_t n, bool nul)
{
    size_t off = f->keys.len;
    memcpy(f->keys.data + off, p, n);
    f->keys.len += n;
    if (nul)
        f->keys.data[f->keys.len++] = '\0';
    f->keys.data[f->keys.len] = '\0';
    return off;
}

/* Whether group g's key is the one build_key() would make of in; compares
 * without building it. */
static bool key_is(const struct trim_fold *f, const struct fold *g,
                   const struct series *in, size_t skip)
{
    const struct label *v = in->labels;
    size_t n = in->nlabels;
    const char *p = f->keys.data + g->key_off;
    const char *end = p + g->key_len;
    if (get_u32(p) != in->name_len || !bytes_eq(p + 4, in->name, in->name_len))
        return false;
    p += 4 + in->name_len + 1;
    if (get_u32(p) != n - 1)
        return false;
    p += 4;
    for (size_t i = 0; i < n; i++) {
        if (i == skip)
            continue;
        if (get_u32(p) != v[i].name_len || get_u32(p + 4) != v[i].value_len)
            return false;
        p += 8;
        if (!bytes_eq(p, v[i].name, v[i].name_len))
            return false;
        p += v[i].name_len + 1;
        if (!bytes_eq(p, v[i].value, v[i].value_len))
            return false;
        p += v[i].value_len + 1;
    }
    return p == end;
}

static void fold_into(struct fold *g, double value, int64_t ts)
{
    if (value > g->max)
        g->max = value;
    g->sum += value;
    g->count++;
    if (ts > g->ts_ms)
        g->ts_ms = ts;
}

enum trim_fold_added trim_fold_add(struct trim_fold *f, const struct series *in,
                                   size_t skip, bool may_open)
{
    if (f->last_group_valid && key_is(f, &f->groups[f->last_group], in, skip)) {
        fold_into(&f->groups[f->last_group], in->value, in->ts_ms);
        return TRIM_FOLD_INTO;
    }
    build_key(f, in, skip);
    const char *key = f->kbuf.data;
    size_t klen = f->kbuf.len;
    uint64_t h = XXH3_64bits(key, klen);
    if (f->nslots) {
        size_t mask = f->nslots - 1;
        for (size_t i = (size_t)h & mask; f->slots[i]; i = (i + 1) & mask) {
            struct fold *g = &f->groups[f->slots[i] - 1];
            if (g->hash != h || g->key_len != klen ||
                memcmp(f->keys.data + g->key_off, key, klen) != 0)
                continue;
            fold_into(g, in->value, in->ts_ms);
            f->last_group = f->slots[i] - 1;
            f->last_group_valid = true;
            return TRIM_FOLD_INTO;
        }
    }
    if (!may_open)
        return TRIM_FOLD_REFUSED;
    if ((f->ngroups + 1) * 2 > f->nslots)
        slots_grow(f);
    if (f->ngroups == f->groups_cap)
        f->groups = xgrow(f->groups, &f->groups_cap, f->ngroups + 1,
                          sizeof(*f->groups));
    struct fold *g = &f->groups[f->ngroups];
    g->hash = h;
    g->key_len = klen;
    /* Unlimited: cannot fail (xalloc aborts on out of memory). */
    (void)buf_reserve(&f->keys, klen + in->metric_len + 1 + in->family_len + 1);
    g->key_off = keys_put(f, key, klen, false);
    g->metric_off = keys_put(f, in->metric, in->metric_len, true);
    g->metric_len = in->metric_len;
    g->family_off = keys_put(f, in->family, in->family_len, true);
    g->family_len = in->family_len;
    g->type = in->type;
    g->ts_ms = in->ts_ms;
    g->max = in->value;
    g->sum = in->value;
    g->count = 1;
    f->last_group = f->ngroups;
    f->last_group_valid = true;
    f->ngroups++;
    slots_insert(f->slots, f->nslots, h, (uint32_t)f->ngroups);
    return TRIM_FOLD_OPENED;
}

int trim_fold_flush(struct trim_fold *f, series_fn out, void *ctx,
                    uint64_t *emitted)
{
    int rc = 0;
    for (size_t gi = 0; gi < f->ngroups; gi++) {
        const struct fold *g = &f->groups[gi];
        const char *p = f->keys.data + g->key_off;
        uint32_t name_len = get_u32(p);
        const char *name = p + 4;
        p += 4 + name_len + 1;
        uint32_t n = get_u32(p);
        p += 4;
        if (n > f->flush_cap)
            f->flush_labels = xgrow(f->flush_labels, &f->flush_cap, n,
                                    sizeof(*f->flush_labels));
        for (uint32_t i = 0; i < n; i++) {
            struct label *l = &f->flush_labels[i];
            l->name_len = get_u32(p);
            l->value_len = get_u32(p + 4);
            p += 8;
            l->name = p;
            p += l->name_len + 1;
            l->value = p;
            p += l->value_len + 1;
        }
        struct series se = {
            .name = name,
            .name_len = name_len,
            .metric = f->keys.data + g->metric_off,
            .metric_len = g->metric_len,
            .family = f->keys.data + g->family_off,
            .family_len = g->family_len,
            .type = g->type,
            .labels = f->flush_labels,
            .nlabels = n,
            .ts_ms = g->ts_ms,
            .folded = true,
            .value = g->max,
            .max = g->max,
            .sum = g->sum,
            .count = g->count,
        };
        (*emitted)++;
        if (out(ctx, &se))
            rc = -1;
    }
    f->ngroups = 0;
    f->last_group_valid = false;
    buf_reset(&f->keys);
    if (f->nslots)
        memset(f->slots, 0, f->nslots * sizeof(*f->slots));
    return rc;
}
