#include "pipeline/labelset.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

#define ARENA_BLOCK 4096

struct block {
    struct block *next;
    size_t cap;
    size_t used;
    char data[];
};

struct labelset {
    struct label *v;
    size_t n;
    size_t cap;
    /* Blocks are kept across clears; cur is where allocation goes on. */
    struct block *head;
    struct block *cur;
};

struct labelset *labelset_new(void)
{
    return xcalloc(1, sizeof(struct labelset));
}

void labelset_free(struct labelset **lsp)
{
    if (!lsp || !*lsp)
        return;
    struct labelset *ls = *lsp;
    struct block *b = ls->head;
    while (b) {
        struct block *next = b->next;
        free(b);
        b = next;
    }
    free(ls->v);
    free(ls);
    *lsp = NULL;
}

void labelset_clear(struct labelset *ls)
{
    ls->n = 0;
    for (struct block *b = ls->head; b; b = b->next)
        b->used = 0;
    ls->cur = ls->head;
}

char *labelset_alloc(struct labelset *ls, size_t n)
{
    struct block *b = ls->cur;
    while (b && b->cap - b->used < n)
        b = b->next;
    if (!b) {
        size_t cap = n > ARENA_BLOCK ? n : ARENA_BLOCK;
        b = xmalloc(sizeof(*b) + cap);
        b->cap = cap;
        b->used = 0;
        /* Appended at the end so that the order of reuse stays stable. */
        b->next = NULL;
        struct block **pp = &ls->head;
        while (*pp)
            pp = &(*pp)->next;
        *pp = b;
    }
    ls->cur = b;
    char *p = b->data + b->used;
    b->used += n;
    return p;
}

char *labelset_strdup(struct labelset *ls, const char *s, size_t n)
{
    char *p = labelset_alloc(ls, n + 1);
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

void labelset_push(struct labelset *ls, const char *name, size_t name_len,
                   const char *value, size_t value_len)
{
    if (ls->n == ls->cap)
        ls->v = xgrow(ls->v, &ls->cap, ls->n + 1, sizeof(*ls->v));
    struct label *l = &ls->v[ls->n++];
    l->name = name;
    l->name_len = (uint32_t)name_len;
    l->value = value;
    l->value_len = (uint32_t)value_len;
}

long labelset_find(const struct labelset *ls, const char *name, size_t name_len)
{
    for (size_t i = 0; i < ls->n; i++) {
        const struct label *l = &ls->v[i];
        if (l->name_len == name_len && memcmp(l->name, name, name_len) == 0)
            return (long)i;
    }
    return -1;
}

const char *labelset_get(const struct labelset *ls, const char *name,
                         size_t name_len, size_t *value_len)
{
    long i = labelset_find(ls, name, name_len);
    if (i < 0)
        return NULL;
    *value_len = ls->v[i].value_len;
    return ls->v[i].value;
}

void labelset_del_at(struct labelset *ls, size_t i)
{
    memmove(&ls->v[i], &ls->v[i + 1], (ls->n - i - 1) * sizeof(*ls->v));
    ls->n--;
}

void labelset_del(struct labelset *ls, const char *name, size_t name_len)
{
    long i = labelset_find(ls, name, name_len);
    if (i >= 0)
        labelset_del_at(ls, (size_t)i);
}

void labelset_set(struct labelset *ls, const char *name, size_t name_len,
                  const char *value, size_t value_len)
{
    long i = labelset_find(ls, name, name_len);
    if (value_len == 0) {
        if (i >= 0)
            labelset_del_at(ls, (size_t)i);
        return;
    }
    const char *v = labelset_strdup(ls, value, value_len);
    if (i >= 0) {
        ls->v[i].value = v;
        ls->v[i].value_len = (uint32_t)value_len;
        return;
    }
    const char *nm = labelset_strdup(ls, name, name_len);
    labelset_push(ls, nm, name_len, v, value_len);
}

void labelset_truncate(struct labelset *ls, size_t n)
{
    if (n < ls->n)
        ls->n = n;
}

struct label *labelset_items(struct labelset *ls, size_t *n)
{
    *n = ls->n;
    return ls->v;
}

size_t labelset_count(const struct labelset *ls)
{
    return ls->n;
}
