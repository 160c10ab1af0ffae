#include "route/router.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "hashring/hashring.h"
#include "util/xalloc.h"

/* One cached route: the series of one job mostly arrive back to back, so
 * remembering the last key's owners skips most ring lookups. */
struct router {
    const struct hashring *ring;
    char **shard_by;
    size_t *shard_by_len;
    size_t n_shard_by;
    unsigned replicas;
    char *agent_name;
    struct buf key;
    struct buf last_key;
    size_t last_out[ROUTER_MAX_REPLICAS];
    size_t last_n;
    /* The raw (not normalized) shard_by values that gave last_key, length
     * prefixed: equal raw values skip the normalization. */
    struct buf raw;
    struct buf last_raw;
    bool last_raw_valid;
};

struct router *router_new(const struct hashring *ring, char *const *shard_by,
                          size_t n_shard_by, unsigned replicas,
                          const char *agent_name)
{
    struct router *rt = xcalloc(1, sizeof(*rt));
    rt->ring = ring;
    rt->n_shard_by = n_shard_by;
    rt->shard_by = xcalloc(n_shard_by ? n_shard_by : 1, sizeof(char *));
    rt->shard_by_len = xcalloc(n_shard_by ? n_shard_by : 1, sizeof(size_t));
    for (size_t i = 0; i < n_shard_by; i++) {
        rt->shard_by[i] = xstrdup(shard_by[i]);
        rt->shard_by_len[i] = strlen(shard_by[i]);
    }
    if (replicas < 1)
        replicas = 1;
    if (replicas > ROUTER_MAX_REPLICAS)
        replicas = ROUTER_MAX_REPLICAS;
    rt->replicas = replicas;
    rt->agent_name = xstrdup(agent_name ? agent_name : "");
    buf_init(&rt->key, 0);
    buf_init(&rt->last_key, 0);
    buf_init(&rt->raw, 0);
    buf_init(&rt->last_raw, 0);
    return rt;
}

void router_free(struct router **rp)
{
    struct router *rt = *rp;
    if (!rt)
        return;
    for (size_t i = 0; i < rt->n_shard_by; i++)
        free(rt->shard_by[i]);
    free(rt->shard_by);
    free(rt->shard_by_len);
    free(rt->agent_name);
    buf_release(&rt->key);
    buf_release(&rt->last_key);
    buf_release(&rt->raw);
    buf_release(&rt->last_raw);
    free(rt);
    *rp = NULL;
}

static const struct label *find_tag(const struct label *tags, size_t ntags,
                                    const char *name, size_t len)
{
    for (size_t i = 0; i < ntags; i++) {
        if (tags[i].name_len == len && tags[i].name[0] == name[0] &&
            memcmp(tags[i].name, name, len) == 0)
            return &tags[i];
    }
    return NULL;
}

static void add_normalized(struct buf *key, const char *s, size_t len)
{
    if (buf_reserve(key, len) < 0)
        return;
    size_t n = hashring_normalize(key->data + key->len, s, len);
    key->len += n;
    key->data[key->len] = '\0';
}

void router_key(struct router *rt, const struct label *tags, size_t ntags,
                struct buf *key)
{
    buf_reset(key);
    bool any = false;
    for (size_t i = 0; i < rt->n_shard_by; i++) {
        if (i > 0)
            buf_addc(key, ',');
        const struct label *t =
            find_tag(tags, ntags, rt->shard_by[i], rt->shard_by_len[i]);
        if (t && t->value_len > 0) {
            add_normalized(key, t->value, t->value_len);
            any = true;
        }
    }
    if (any)
        return;
    buf_reset(key);
    const struct label *g = find_tag(tags, ntags, "group", 5);
    if (g && g->value_len > 0)
        add_normalized(key, g->value, g->value_len);
    else
        add_normalized(key, rt->agent_name, strlen(rt->agent_name));
}

static size_t route_current(struct router *rt, size_t *out)
{
    if (rt->last_n && rt->key.len == rt->last_key.len &&
        memcmp(rt->key.data, rt->last_key.data, rt->key.len) == 0) {
        memcpy(out, rt->last_out, rt->last_n * sizeof(size_t));
        return rt->last_n;
    }
    size_t n = hashring_lookup(rt->ring, rt->key.data, rt->key.len,
                               rt->replicas, rt->last_out);
    buf_reset(&rt->last_key);
    buf_add(&rt->last_key, rt->key.data, rt->key.len);
    rt->last_n = n;
    memcpy(out, rt->last_out, n * sizeof(size_t));
    return n;
}

/* The raw shard_by values of tags into rt->raw; false when none is set
 * (the key then comes from a fallback). */
static bool raw_values(struct router *rt, const struct label *tags,
                       size_t ntags)
{
    buf_reset(&rt->raw);
    bool any = false;
    for (size_t i = 0; i < rt->n_shard_by; i++) {
        const struct label *t =
            find_tag(tags, ntags, rt->shard_by[i], rt->shard_by_len[i]);
        uint32_t len = t ? t->value_len : 0;
        buf_add(&rt->raw, &len, sizeof(len));
        if (len) {
            buf_add(&rt->raw, t->value, len);
            any = true;
        }
    }
    return any && !buf_error(&rt->raw);
}

size_t router_route(struct router *rt, const struct label *tags, size_t ntags,
                    size_t *out)
{
    /* Points of one job come in runs: skip normalizing the same values. */
    bool raw_ok = raw_values(rt, tags, ntags);
    if (raw_ok && rt->last_raw_valid && rt->last_n &&
        rt->raw.len == rt->last_raw.len &&
        memcmp(rt->raw.data, rt->last_raw.data, rt->raw.len) == 0) {
        memcpy(out, rt->last_out, rt->last_n * sizeof(size_t));
        return rt->last_n;
    }
    router_key(rt, tags, ntags, &rt->key);
    size_t n = route_current(rt, out);
    buf_reset(&rt->last_raw);
    rt->last_raw_valid = false;
    if (raw_ok) {
        buf_add(&rt->last_raw, rt->raw.data, rt->raw.len);
        rt->last_raw_valid = !buf_error(&rt->last_raw);
    }
    return n;
}

void router_normalize_key(struct buf *key, const char *text, size_t n_shard_by)
{
    buf_reset(key);
    if (n_shard_by <= 1) {
        add_normalized(key, text, strlen(text));
        return;
    }
    const char *p = text;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        add_normalized(key, p, len);
        if (!comma)
            break;
        buf_addc(key, ',');
        p = comma + 1;
    }
}

size_t router_route_key(struct router *rt, const char *key, size_t *out)
{
    rt->last_raw_valid = false;
    router_normalize_key(&rt->key, key, rt->n_shard_by);
    return route_current(rt, out);
}

unsigned router_replicas(const struct router *rt)
{
    return rt->replicas;
}
