/*
 * labelset: a small mutable set of labels, rebuilt for every sample.
 *
 * trim and relabel work on one labelset per pipeline thread: cleared before
 * each sample, so in steady state nothing is allocated. Strings are either
 * borrowed (labelset_push: the caller keeps them alive while the set is in
 * use) or copied into the set's arena (labelset_set, labelset_alloc), which
 * labelset_clear() rewinds without freeing. Every string is NUL-terminated.
 *
 * Order is insertion order; deleting keeps the order of the others. Names
 * are not checked for uniqueness by labelset_push (the caller checks when it
 * sorts); labelset_set replaces an existing name.
 */
#ifndef AGENT_LABELSET_H
#define AGENT_LABELSET_H

#include <stddef.h>

#include "pipeline/sample.h"

struct labelset;

struct labelset *labelset_new(void);
/* NULL-safe; sets *lsp = NULL. */
void labelset_free(struct labelset **lsp);

/* Removes every label and rewinds the arena (keeping its memory): strings
 * handed out by labelset_alloc() before are no longer valid. */
void labelset_clear(struct labelset *ls);

/* Appends a borrowed label (no copy, no duplicate check). */
void labelset_push(struct labelset *ls, const char *name, size_t name_len,
                   const char *value, size_t value_len);

/* Index of the label called name, or -1. */
long labelset_find(const struct labelset *ls, const char *name,
                   size_t name_len);

/* Value of the label called name (NUL-terminated) and its length, or NULL
 * when absent. */
const char *labelset_get(const struct labelset *ls, const char *name,
                         size_t name_len, size_t *value_len);

/* Sets name to value, copying both into the arena; an empty value deletes
 * the label, as in Prometheus. */
void labelset_set(struct labelset *ls, const char *name, size_t name_len,
                  const char *value, size_t value_len);

void labelset_del(struct labelset *ls, const char *name, size_t name_len);
void labelset_del_at(struct labelset *ls, size_t i);
/* Keeps the first n labels. */
void labelset_truncate(struct labelset *ls, size_t n);

/* n bytes of arena memory, valid until the next labelset_clear(). */
char *labelset_alloc(struct labelset *ls, size_t n);
/* Copies s[0..n) into the arena and NUL-terminates it. */
char *labelset_strdup(struct labelset *ls, const char *s, size_t n);

/* The labels in order. The array may be edited in place (reorder, replace
 * a value) but not grown; it moves on the next push or set. */
struct label *labelset_items(struct labelset *ls, size_t *n);
size_t labelset_count(const struct labelset *ls);

#endif
