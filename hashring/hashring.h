/*
 * hashring: the consistent-hash ring that places shard keys on nodes.
 *
 * A standalone library: it depends on libc and xxhash only, never on the
 * agent. Its placement is normative (lagwatch(8), RING), so that any tool in
 * any language computes the same owner:
 *
 *   hash          XXH3_64bits, seed 0, over the bytes, no terminator
 *   points        node N of weight w owns vnodes*w points XXH3("N#i"),
 *                 i = 0 .. vnodes*w-1 in decimal; points sort ascending as
 *                 uint64, equal points by node name (bytewise)
 *   owner         first point >= XXH3(key), wrapping; replicas walk on
 *                 clockwise collecting distinct nodes
 *   key           shard_by tag values joined by ",", each normalized:
 *                 every character outside [A-Za-z0-9:_] becomes '_'
 *                 (per code point, as Flink's Java regex does)
 *   fingerprint   16 lowercase hex digits of XXH3("vnodes=V;" followed by
 *                 "name=weight;" for every node sorted by name)
 */
#ifndef HASHRING_HASHRING_H
#define HASHRING_HASHRING_H

#include <stddef.h>
#include <stdint.h>

struct hashring;

struct hashring_node_spec {
    const char *name;
    unsigned weight; /* >= 1 */
};

#define HASHRING_DEFAULT_VNODES  1000u
#define HASHRING_FINGERPRINT_LEN 16

/* Builds a ring over n nodes (n >= 1, names unique and non-empty, weights
 * >= 1, vnodes >= 1). Node indices used by the lookups are the positions in
 * nodes[]. Returns NULL with a message in err on bad input, on more than
 * 4194304 points (vnodes * total weight) or when out of memory. The ring
 * copies the names; the caller keeps nodes. A built ring is immutable: any
 * thread may look up concurrently without locks. */
struct hashring *hashring_new(const struct hashring_node_spec *nodes, size_t n,
                              unsigned vnodes, char *err, size_t errlen);
void hashring_free(struct hashring **rp);

uint64_t hashring_hash(const void *p, size_t n);

/* Owners of a key: writes up to replicas distinct node indices into out
 * (first owner first) and returns how many (min(replicas, node count)). */
size_t hashring_lookup(const struct hashring *r, const void *key, size_t len,
                       unsigned replicas, size_t *out);
size_t hashring_lookup_hash(const struct hashring *r, uint64_t h,
                            unsigned replicas, size_t *out);

size_t hashring_node_count(const struct hashring *r);
const char *hashring_node_name(const struct hashring *r, size_t idx);
unsigned hashring_node_weight(const struct hashring *r, size_t idx);
unsigned hashring_vnodes(const struct hashring *r);

/* Writes the 16 hex digits and a NUL into out. */
void hashring_fingerprint(const struct hashring *r,
                          char out[HASHRING_FINGERPRINT_LEN + 1]);

/* Fraction of the 2^64 key space each node owns as first owner, written to
 * share[idx] for every node (the shares sum to 1). */
void hashring_shares(const struct hashring *r, double *share);

/* Normalizes len bytes of src into dst the way Flink's PrometheusReporter
 * filters label values: each code point outside [A-Za-z0-9:_] becomes one
 * '_' (so "é" and an emoji both become "_"); bytes that are not well-formed
 * UTF-8 become one '_' per maximal ill-formed subpart (Unicode 3.9). Returns
 * the bytes written, <= len; dst needs len bytes and may equal src. Writes
 * no NUL. */
size_t hashring_normalize(char *dst, const char *src, size_t len);

/* hashring_normalize of len bytes of src into a new heap string (malloc;
 * free() it), NUL-terminated at the normalized length, which also goes to
 * *outlen unless outlen is NULL. The one way to get a normalized copy, so
 * that no caller ends it at the input length. NULL when out of memory. */
char *hashring_normalize_dup(const char *src, size_t len, size_t *outlen);

#endif
