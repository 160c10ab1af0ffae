/*
 * hashring_test: unit cases for the ring, each checked by an independent
 * route (official XXH3 vectors, a linear-scan reference owner, fingerprints
 * recomputed from the canonical text, arcs measured from points hashed here).
 *
 * hashring.c is included, not linked, so that the tie rule (which no real
 * XXH3 input can trigger) is tested on fabricated equal points.
 */
#include "../hashring.c"

#include "tests/lib/tap.h"

#include <xxhash.h>

#define PRIME32 2654435761U
#define PRIME64 11400714785074694797ULL

/* xxHash's sanity buffer: the generator its own self-test uses. */
static void fill_sanity_buffer(unsigned char *buf, size_t len)
{
    uint64_t gen = PRIME32;

    for (size_t i = 0; i < len; i++) {
        buf[i] = (unsigned char)(gen >> 56);
        gen *= PRIME64;
    }
}

TAP_CASE(hash_matches_official_xxh3_vectors)
{
    /* XXH3_64bits, seed 0, over the first len sanity-buffer bytes: values
     * published in xxHash's cli/xsum_sanity_check.c, one per code path. */
    static const struct {
        size_t len;
        uint64_t want;
    } cases[] = {
        {0, 0x2D06800538D394C2ULL},    {1, 0xC44BDFF4074EECDBULL},
        {6, 0x27B56A84CD2D7325ULL},    {12, 0xA713DAF0DFBB77E7ULL},
        {24, 0xA3FE70BF9D3510EBULL},   {48, 0x397DA259ECBA1F11ULL},
        {80, 0xBCDEFBBB2C47C90AULL},   {195, 0xCD94217EE362EC3AULL},
        {403, 0xCDEB804D65C6DEA4ULL},  {512, 0x617E49599013CB6BULL},
        {2048, 0xDD59E2C3A5F038E0ULL}, {2240, 0x6E73A90539CF2948ULL},
        {2367, 0xCB37AEB9E5D361EDULL},
    };
    static unsigned char buf[2367];

    fill_sanity_buffer(buf, sizeof(buf));
    for (size_t i = 0; i < TAP_N(cases); i++)
        TAP_EQ_U64(cases[i].want, hashring_hash(buf, cases[i].len));
    TAP_EQ_U64(0x2D06800538D394C2ULL, hashring_hash("", 0));
}

/* ---- reference owner: a linear scan over every point, hashed here ---- */

struct ref_point {
    uint64_t h;
    size_t node;
};

struct ref_ring {
    const struct hashring_node_spec *nodes;
    size_t n;
    struct ref_point *pts;
    size_t npts;
};

static void ref_build(struct ref_ring *rr,
                      const struct hashring_node_spec *nodes, size_t n,
                      unsigned vnodes)
{
    char s[256];

    rr->nodes = nodes;
    rr->n = n;
    rr->npts = 0;
    for (size_t k = 0; k < n; k++)
        rr->npts += (size_t)vnodes * nodes[k].weight;
    rr->pts = calloc(rr->npts, sizeof(*rr->pts));
    rr->npts = 0;
    for (size_t k = 0; k < n; k++) {
        for (unsigned i = 0; i < vnodes * nodes[k].weight; i++) {
            int len = snprintf(s, sizeof(s), "%s#%u", nodes[k].name, i);

            rr->pts[rr->npts].h = XXH3_64bits(s, (size_t)len);
            rr->pts[rr->npts].node = k;
            rr->npts++;
        }
    }
}

/* Ring order: by value, then by node name. */
static int ref_before(const struct ref_ring *rr, const struct ref_point *a,
                      const struct ref_point *b)
{
    if (a->h != b->h)
        return a->h < b->h;
    return strcmp(rr->nodes[a->node].name, rr->nodes[b->node].name) < 0;
}

/* The smallest point in ring order that is after cur (or >= h when cur is
 * NULL), wrapping to the smallest point overall. */
static const struct ref_point *ref_next(const struct ref_ring *rr,
                                        const struct ref_point *cur, uint64_t h)
{
    const struct ref_point *best = NULL, *min = NULL;

    for (size_t j = 0; j < rr->npts; j++) {
        const struct ref_point *p = &rr->pts[j];
        int after = cur ? ref_before(rr, cur, p) : p->h >= h;

        if (!min || ref_before(rr, p, min))
            min = p;
        if (after && (!best || ref_before(rr, p, best)))
            best = p;
    }
    return best ? best : min;
}

static size_t ref_lookup(const struct ref_ring *rr, uint64_t h,
                         unsigned replicas, size_t *out)
{
    const struct ref_point *p = NULL;
    size_t got = 0;

    for (size_t step = 0; step < rr->npts && got < replicas; step++) {
        size_t k = 0;

        p = ref_next(rr, p, h);
        while (k < got && out[k] != p->node)
            k++;
        if (k == got)
            out[got++] = p->node;
    }
    return got;
}

TAP_CASE(owners_match_linear_scan_reference)
{
    static const struct hashring_node_spec nodes[] = {
        {"influx-c", 1}, {"influx-a", 2}, {"influx-b", 1}, {"B", 1}};
    struct ref_ring rr;
    struct hashring *r;
    char err[256], key[64];
    size_t got[8], want[8];

    r = hashring_new(nodes, TAP_N(nodes), 6, err, sizeof(err));
    TAP_OK(r);
    ref_build(&rr, nodes, TAP_N(nodes), 6);
    for (int i = 0; i < 4000; i++) {
        int len = snprintf(key, sizeof(key), "job-%d", i);
        uint64_t h = XXH3_64bits(key, (size_t)len);

        for (unsigned rep = 1; rep <= 5; rep++) {
            size_t ng = hashring_lookup(r, key, (size_t)len, rep, got);
            size_t nw = ref_lookup(&rr, h, rep, want);

            if (ng != nw || memcmp(got, want, nw * sizeof(*got)) != 0) {
                free(rr.pts);
                hashring_free(&r);
                TAP_FAIL_("key '%s' replicas %u differs from reference", key,
                          rep);
            }
        }
    }
    free(rr.pts);
    hashring_free(&r);
    TAP_OK(!r);
}

TAP_CASE(wrap_and_point_boundaries)
{
    static const struct hashring_node_spec nodes[] = {{"x", 1}, {"y", 1}};
    struct ref_ring rr;
    struct hashring *r;
    char err[256], key[32];
    size_t out[2], minj = 0, maxj = 0;
    int found = 0;

    r = hashring_new(nodes, 2, 2, err, sizeof(err));
    TAP_OK(r);
    ref_build(&rr, nodes, 2, 2);
    for (size_t j = 1; j < rr.npts; j++) {
        if (rr.pts[j].h < rr.pts[minj].h)
            minj = j;
        if (rr.pts[j].h > rr.pts[maxj].h)
            maxj = j;
    }
    /* A hash equal to a point belongs to that point's node. */
    for (size_t j = 0; j < rr.npts; j++) {
        TAP_EQ_INT(1, hashring_lookup_hash(r, rr.pts[j].h, 1, out));
        TAP_EQ_INT(rr.pts[j].node, out[0]);
    }
    /* Past the last point wraps to the first; so does the very top. */
    TAP_OK(rr.pts[maxj].h != UINT64_MAX);
    hashring_lookup_hash(r, rr.pts[maxj].h + 1, 1, out);
    TAP_EQ_INT(rr.pts[minj].node, out[0]);
    hashring_lookup_hash(r, UINT64_MAX, 1, out);
    TAP_EQ_INT(rr.pts[minj].node, out[0]);
    hashring_lookup_hash(r, 0, 1, out);
    TAP_EQ_INT(rr.pts[minj].node, out[0]);
    /* And through a real key that hashes past the last point. */
    for (int i = 0; i < 10000 && !found; i++) {
        int len = snprintf(key, sizeof(key), "k%d", i);

        if (XXH3_64bits(key, (size_t)len) > rr.pts[maxj].h) {
            out[0] = 99;
            hashring_lookup(r, key, (size_t)len, 1, out);
            found = 1;
        }
    }
    hashring_free(&r);
    TAP_OK(found);
    TAP_EQ_INT(rr.pts[minj].node, out[0]);
    free(rr.pts);
}

TAP_CASE(equal_points_sort_by_node_name)
{
    /* Input order; bytewise name order is "B" < "a" < "ab" < "b". */
    char *names[] = {"b", "ab", "B", "a"};
    static const size_t want_order[] = {2, 3, 1, 0};
    size_t order[4];
    uint32_t rank_of[4];
    /* Four nodes share the value 7; the sort must order them by name. */
    struct point pts[] = {
        {7, 0, 0}, {5, 0, 0}, {7, 0, 3}, {7, 0, 2}, {3, 0, 0}, {7, 0, 1},
    };

    TAP_EQ_INT(0, sort_by_name(order, 4, names));
    for (size_t i = 0; i < 4; i++) {
        TAP_EQ_INT(want_order[i], order[i]);
        rank_of[order[i]] = (uint32_t)i;
    }
    for (size_t j = 0; j < TAP_N(pts); j++)
        pts[j].rank = rank_of[pts[j].node];
    qsort(pts, TAP_N(pts), sizeof(pts[0]), point_cmp);
    TAP_EQ_U64(3, pts[0].h);
    TAP_EQ_U64(5, pts[1].h);
    for (size_t j = 2; j < TAP_N(pts); j++) {
        TAP_EQ_U64(7, pts[j].h);
        TAP_EQ_INT(want_order[j - 2], pts[j].node);
    }
}

TAP_CASE(replicas_are_distinct_and_prefix_ordered)
{
    static const struct hashring_node_spec nodes[] = {
        {"n1", 1}, {"n2", 1}, {"n3", 2}, {"n4", 1}};
    struct hashring *r;
    char err[256], key[32];
    size_t one[1], two[2], all[4], many[16];

    r = hashring_new(nodes, 4, 50, err, sizeof(err));
    TAP_OK(r);
    for (int i = 0; i < 2000; i++) {
        int len = snprintf(key, sizeof(key), "orders-%d", i);
        size_t n1 = hashring_lookup(r, key, (size_t)len, 1, one);
        size_t n2 = hashring_lookup(r, key, (size_t)len, 2, two);
        size_t n4 = hashring_lookup(r, key, (size_t)len, 4, all);
        size_t nm = hashring_lookup(r, key, (size_t)len, 16, many);
        int bad = n1 != 1 || n2 != 2 || n4 != 4 || nm != 4;

        bad = bad || one[0] != all[0] || two[0] != all[0] || two[1] != all[1] ||
              memcmp(all, many, sizeof(all)) != 0;
        for (size_t a = 0; a < 4 && !bad; a++)
            for (size_t b = a + 1; b < 4; b++)
                bad = bad || all[a] == all[b] || all[a] >= 4;
        if (bad) {
            hashring_free(&r);
            TAP_FAIL_("replicas of '%s' are not a distinct prefix chain", key);
        }
    }
    TAP_EQ_INT(0, hashring_lookup(r, "x", 1, 0, many));
    hashring_free(&r);
}

TAP_CASE(fingerprint_is_xxh3_of_canonical_text)
{
    static const struct hashring_node_spec a[] = {
        {"zeta", 3}, {"a", 2}, {"b", 1}, {"B", 1}};
    static const struct hashring_node_spec b[] = {
        {"B", 1}, {"b", 1}, {"zeta", 3}, {"a", 2}};
    static const struct hashring_node_spec c[] = {
        {"B", 1}, {"b", 1}, {"zeta", 4}, {"a", 2}};
    static const char canon[] = "vnodes=7;B=1;a=2;b=1;zeta=3;";
    char want[32], fa[HASHRING_FINGERPRINT_LEN + 1];
    char fb[HASHRING_FINGERPRINT_LEN + 1], fc[HASHRING_FINGERPRINT_LEN + 1];
    char fd[HASHRING_FINGERPRINT_LEN + 1], err[256];
    struct hashring *ra = hashring_new(a, 4, 7, err, sizeof(err));
    struct hashring *rb = hashring_new(b, 4, 7, err, sizeof(err));
    struct hashring *rc = hashring_new(c, 4, 7, err, sizeof(err));
    struct hashring *rd = hashring_new(a, 4, 8, err, sizeof(err));
    int ok = ra && rb && rc && rd;

    if (ok) {
        hashring_fingerprint(ra, fa);
        hashring_fingerprint(rb, fb);
        hashring_fingerprint(rc, fc);
        hashring_fingerprint(rd, fd);
    }
    hashring_free(&ra);
    hashring_free(&rb);
    hashring_free(&rc);
    hashring_free(&rd);
    TAP_OK(ok);
    snprintf(want, sizeof(want), "%016llx",
             (unsigned long long)XXH3_64bits(canon, strlen(canon)));
    TAP_EQ_STR(want, fa);
    TAP_EQ_INT(HASHRING_FINGERPRINT_LEN, strlen(fa));
    TAP_EQ_STR(fa, fb);          /* input order does not matter */
    TAP_OK(strcmp(fa, fc) != 0); /* a weight does */
    TAP_OK(strcmp(fa, fd) != 0); /* and vnodes does */
}

TAP_CASE(shares_equal_measured_arcs)
{
    static const struct hashring_node_spec nodes[] = {
        {"p", 1}, {"q", 2}, {"r", 1}};
    static const struct hashring_node_spec solo[] = {{"only", 3}};
    struct ref_ring rr;
    struct hashring *r;
    char err[256];
    double share[3], sum = 0;
    long double want[3] = {0, 0, 0};

    r = hashring_new(nodes, 3, 3, err, sizeof(err));
    TAP_OK(r);
    hashring_shares(r, share);
    hashring_free(&r);
    /* Each point owns the hashes from the previous point (exclusive) up to
     * itself; the lowest point also owns everything above the highest. */
    ref_build(&rr, nodes, 3, 3);
    for (size_t j = 0; j < rr.npts; j++) {
        const struct ref_point *prev = NULL;
        long double arc;

        for (size_t k = 0; k < rr.npts; k++)
            if (rr.pts[k].h < rr.pts[j].h && (!prev || rr.pts[k].h > prev->h))
                prev = &rr.pts[k];
        if (prev) {
            arc = (long double)(rr.pts[j].h - prev->h);
        } else {
            uint64_t top = 0;

            for (size_t k = 0; k < rr.npts; k++)
                if (rr.pts[k].h > top)
                    top = rr.pts[k].h;
            arc = 0x1p64L - (long double)top + (long double)rr.pts[j].h;
        }
        want[rr.pts[j].node] += arc / 0x1p64L;
    }
    free(rr.pts);
    for (size_t k = 0; k < 3; k++) {
        TAP_EQ_DBL((double)want[k], share[k], 1e-15);
        sum += share[k];
    }
    TAP_EQ_DBL(1.0, sum, 1e-12);

    r = hashring_new(solo, 1, 5, err, sizeof(err));
    TAP_OK(r);
    hashring_shares(r, share);
    hashring_free(&r);
    TAP_EQ_DBL(1.0, share[0], 0);
}

TAP_CASE(accessors_copy_the_spec)
{
    char name[] = "influx-a";
    struct hashring_node_spec nodes[] = {{name, 2}, {"influx-b", 1}};
    struct hashring *r;
    char err[256];

    r = hashring_new(nodes, 2, 11, err, sizeof(err));
    TAP_OK(r);
    name[0] = 'X'; /* the ring keeps its own copy */
    TAP_EQ_INT(2, hashring_node_count(r));
    TAP_EQ_INT(11, hashring_vnodes(r));
    TAP_EQ_STR("influx-a", hashring_node_name(r, 0));
    TAP_EQ_STR("influx-b", hashring_node_name(r, 1));
    TAP_EQ_INT(2, hashring_node_weight(r, 0));
    TAP_EQ_INT(1, hashring_node_weight(r, 1));
    hashring_free(&r);
    TAP_OK(!r);
    hashring_free(&r); /* NULL-safe */
}

TAP_CASE(bad_specs_are_rejected)
{
    static const struct hashring_node_spec dup[] = {
        {"a", 1}, {"b", 1}, {"a", 2}};
    static const struct hashring_node_spec zero[] = {{"a", 1}, {"b", 0}};
    static const struct hashring_node_spec empty[] = {{"a", 1}, {"", 1}};
    static const struct hashring_node_spec null[] = {{NULL, 1}};
    static const struct hashring_node_spec heavy[] = {{"a", 4000000}, {"b", 1}};
    static const struct {
        const struct hashring_node_spec *nodes;
        size_t n;
        unsigned vnodes;
        const char *want;
    } cases[] = {
        {dup, 3, 10, "ring node 'a' is listed twice"},
        {zero, 2, 10, "ring node 'b' has weight 0 (must be >= 1)"},
        {empty, 2, 10, "ring node 2 has an empty name"},
        {null, 1, 10, "ring node 1 has an empty name"},
        {dup, 0, 10, "ring has no nodes"},
        {zero, 1, 0, "ring vnodes must be >= 1"},
        {heavy, 2, 1000,
         "ring too large: vnodes * total weight exceeds "
         "4194304 points"},
    };

    for (size_t i = 0; i < TAP_N(cases); i++) {
        char err[256] = "";
        struct hashring *r = hashring_new(cases[i].nodes, cases[i].n,
                                          cases[i].vnodes, err, sizeof(err));

        if (r) {
            hashring_free(&r);
            TAP_FAIL_("case %zu: bad spec accepted", i);
        }
        TAP_EQ_STR(cases[i].want, err);
    }
}

TAP_CASE(normalize_follows_flink_per_code_point)
{
    /* Expected values checked against Java 17's
     * Pattern.compile("[^a-zA-Z0-9:_]").matcher(s).replaceAll("_"), which is
     * what Flink's PrometheusReporter runs, and for ill-formed bytes against
     * Python's bytes.decode("utf-8", "replace") (maximal subparts). */
    static const struct {
        const char *in;
        size_t len;
        const char *want;
    } cases[] = {
        {"orders-enrich", 13, "orders_enrich"},
        {"10.42.1.17:6122-4d5c1a", 22, "10_42_1_17:6122_4d5c1a"},
        {"Job_Name:01", 11, "Job_Name:01"},
        {"a b\tc/d.e", 9, "a_b_c_d_e"},
        {"", 0, ""},
        {"\0", 1, "_"},
        {"\xc3\xa9", 2, "_"}, /* é */
        {"caf\xc3\xa9-x", 7, "caf__x"},
        {"\xe2\x82\xac", 3, "_"},     /* € */
        {"\xef\xbf\xbf", 3, "_"},     /* U+FFFF */
        {"\xf0\x9f\x98\x80", 4, "_"}, /* emoji: one code point */
        {"a\xf0\x9f\x98\x80z", 6, "a_z"},
        {"\xff", 1, "_"},
        {"a\xff\x80z", 4, "a__z"},
        {"\xc3", 1, "_"},         /* truncated */
        {"\xf0\x9f\x98", 3, "_"}, /* truncated 4-byte */
        {"\xe1\x80"
         "A",
         3, "_A"},
        {"\xc0\x80", 2, "__"},           /* overlong */
        {"\xe0\x80\x80", 3, "___"},      /* overlong */
        {"\xf4\x90\x80\x80", 4, "____"}, /* above U+10FFFF */
        {"\xf5\x80", 2, "__"},
        {"\xed\xa0\x80", 3, "___"}, /* surrogate */
    };

    for (size_t i = 0; i < TAP_N(cases); i++) {
        char out[32], inplace[32];
        size_t n;

        memset(out, '#', sizeof(out));
        n = hashring_normalize(out, cases[i].in, cases[i].len);
        TAP_OK(n <= cases[i].len);
        TAP_EQ_INT(strlen(cases[i].want), n);
        TAP_OK(out[n] == '#'); /* nothing written past the result */
        out[n] = '\0';
        TAP_EQ_STR(cases[i].want, out);
        memcpy(inplace, cases[i].in, cases[i].len);
        n = hashring_normalize(inplace, inplace, cases[i].len);
        inplace[n] = '\0';
        TAP_EQ_STR(cases[i].want, inplace);
        /* the copy ends at the normalized length, not the input's */
        size_t dn = 99;
        char *d = hashring_normalize_dup(cases[i].in, cases[i].len, &dn);
        TAP_OK(d != NULL);
        TAP_EQ_INT(strlen(cases[i].want), dn);
        TAP_OK(memcmp(d, cases[i].want, dn + 1) == 0);
        free(d);
    }
}

static const struct tap_case cases[] = {
    TAP_ENTRY(hash_matches_official_xxh3_vectors),
    TAP_ENTRY(owners_match_linear_scan_reference),
    TAP_ENTRY(wrap_and_point_boundaries),
    TAP_ENTRY(equal_points_sort_by_node_name),
    TAP_ENTRY(replicas_are_distinct_and_prefix_ordered),
    TAP_ENTRY(fingerprint_is_xxh3_of_canonical_text),
    TAP_ENTRY(shares_equal_measured_arcs),
    TAP_ENTRY(accessors_copy_the_spec),
    TAP_ENTRY(bad_specs_are_rejected),
    TAP_ENTRY(normalize_follows_flink_per_code_point),
};

int main(int argc, char **argv)
{
    return tap_main(cases, TAP_N(cases), argc, argv);
}
