#include "kafka/kafka_tscache.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

struct ts_entry {
    uint32_t topic_id; /* interned id + 1; 0 = empty slot */
    int32_t partition;
    int64_t offset;
    int64_t ts_ms;
    int8_t tstype;
};

struct ts_table {
    struct ts_entry *slots;
    size_t cap; /* power of two or 0 */
    size_t used;
};

struct topic_intern {
    char **names;
    size_t n, cap;
    uint32_t *index; /* open addressing over names, id + 1; 0 = empty */
    size_t index_cap;
};

struct kafka_tscache {
    struct ts_table cur, old;
    size_t gen_max;
    struct topic_intern topics;
};

#define HASH_SEED 0xcbf29ce484222325ULL

static uint64_t hash_bytes(const void *p, size_t n, uint64_t h)
{
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

/* ================ topic interning ================ */

static void intern_clear(struct topic_intern *ti)
{
    for (size_t i = 0; i < ti->n; i++)
        free(ti->names[i]);
    free(ti->names);
    free(ti->index);
    memset(ti, 0, sizeof(*ti));
}

static void intern_insert_index(struct topic_intern *ti, uint32_t id)
{
    const char *s = ti->names[id];
    size_t mask = ti->index_cap - 1;
    size_t i = hash_bytes(s, strlen(s), HASH_SEED) & mask;
    while (ti->index[i] != 0)
        i = (i + 1) & mask;
    ti->index[i] = id + 1;
}

uint32_t kafka_tscache_topic(struct kafka_tscache *c, const char *topic)
{
    struct topic_intern *ti = &c->topics;
    size_t len = strlen(topic);
    if (ti->index_cap) {
        size_t mask = ti->index_cap - 1;
        size_t i = hash_bytes(topic, len, HASH_SEED) & mask;
        while (ti->index[i] != 0) {
            uint32_t id = ti->index[i] - 1;
            if (strcmp(ti->names[id], topic) == 0)
                return id;
            i = (i + 1) & mask;
        }
    }
    if ((ti->n + 1) * 2 > ti->index_cap) {
        size_t ncap = ti->index_cap ? ti->index_cap * 2 : 64;
        free(ti->index);
        ti->index = xcalloc(ncap, sizeof(*ti->index));
        ti->index_cap = ncap;
        for (uint32_t id = 0; id < ti->n; id++)
            intern_insert_index(ti, id);
    }
    ti->names = xgrow(ti->names, &ti->cap, ti->n + 1, sizeof(*ti->names));
    ti->names[ti->n] = xstrdup(topic);
    uint32_t id = (uint32_t)ti->n++;
    intern_insert_index(ti, id);
    return id;
}

bool kafka_tscache_topics_full(const struct kafka_tscache *c)
{
    return c->topics.n >= KAFKA_TSCACHE_TOPICS_MAX;
}

/* ================ tables ================ */

static size_t entry_hash(uint32_t topic_id, int32_t partition, int64_t off)
{
    uint64_t h = hash_bytes(&topic_id, sizeof(topic_id), HASH_SEED);
    h = hash_bytes(&partition, sizeof(partition), h);
    h = hash_bytes(&off, sizeof(off), h);
    return (size_t)(h ^ (h >> 29));
}

static struct ts_entry *table_find(struct ts_table *t, uint32_t topic_id,
                                   int32_t partition, int64_t off)
{
    if (!t->cap)
        return NULL;
    size_t mask = t->cap - 1;
    size_t i = entry_hash(topic_id, partition, off) & mask;
    while (t->slots[i].topic_id != 0) {
        struct ts_entry *e = &t->slots[i];
        if (e->topic_id == topic_id + 1 && e->partition == partition &&
            e->offset == off)
            return e;
        i = (i + 1) & mask;
    }
    return NULL;
}

static void table_put_slot(struct ts_table *t, const struct ts_entry *e)
{
    size_t mask = t->cap - 1;
    size_t i = entry_hash(e->topic_id - 1, e->partition, e->offset) & mask;
    while (t->slots[i].topic_id != 0)
        i = (i + 1) & mask;
    t->slots[i] = *e;
    t->used++;
}

static void table_release(struct ts_table *t)
{
    free(t->slots);
    memset(t, 0, sizeof(*t));
}

void kafka_tscache_put(struct kafka_tscache *c, uint32_t topic_id,
                       int32_t partition, int64_t off, int64_t ts_ms,
                       int tstype)
{
    struct ts_entry *old = table_find(&c->cur, topic_id, partition, off);
    if (old) {
        old->ts_ms = ts_ms;
        old->tstype = (int8_t)tstype;
        return;
    }
    if (c->cur.used >= c->gen_max) {
        table_release(&c->old);
        c->old = c->cur;
        memset(&c->cur, 0, sizeof(c->cur));
    }
    if ((c->cur.used + 1) * 2 > c->cur.cap) {
        struct ts_table nt = {0};
        nt.cap = c->cur.cap ? c->cur.cap * 2 : 1024;
        nt.slots = xcalloc(nt.cap, sizeof(*nt.slots));
        for (size_t i = 0; i < c->cur.cap; i++) {
            if (c->cur.slots[i].topic_id != 0)
                table_put_slot(&nt, &c->cur.slots[i]);
        }
        table_release(&c->cur);
        c->cur = nt;
    }
    struct ts_entry e = {topic_id + 1, partition, off, ts_ms, (int8_t)tstype};
    table_put_slot(&c->cur, &e);
}

int kafka_tscache_get(struct kafka_tscache *c, uint32_t topic_id,
                      int32_t partition, int64_t off, int64_t *ts_ms,
                      int *tstype)
{
    struct ts_entry *e = table_find(&c->cur, topic_id, partition, off);
    if (!e) {
        e = table_find(&c->old, topic_id, partition, off);
        if (!e)
            return -1;
        *ts_ms = e->ts_ms;
        *tstype = e->tstype;
        /* Promoted: what the last sweeps used survives the next drop. */
        kafka_tscache_put(c, topic_id, partition, off, *ts_ms, *tstype);
        return 0;
    }
    *ts_ms = e->ts_ms;
    *tstype = e->tstype;
    return 0;
}

size_t kafka_tscache_entries(const struct kafka_tscache *c)
{
    return c->cur.used + c->old.used;
}

/* ================ life cycle ================ */

struct kafka_tscache *kafka_tscache_new(size_t max_entries)
{
    struct kafka_tscache *c = xcalloc(1, sizeof(*c));
    c->gen_max = max_entries / 2 ? max_entries / 2 : 1;
    return c;
}

void kafka_tscache_clear(struct kafka_tscache *c)
{
    table_release(&c->cur);
    table_release(&c->old);
    intern_clear(&c->topics);
}

void kafka_tscache_free(struct kafka_tscache **cp)
{
    struct kafka_tscache *c = *cp;
    if (!c)
        return;
    kafka_tscache_clear(c);
    free(c);
    *cp = NULL;
}
