/*
 * fuzz_spool: opening a spool directory whose segments are damaged.
 *
 * Input byte 0 picks the mode:
 *   even: the rest of the input is one segment file, verbatim;
 *   odd:  the rest describes up to 16 records (payload, points, meta),
 *         written as two valid segments by this harness's own encoder of
 *         the layout in spool.h (an independent writer, so a format drift
 *         shows), then damaged: torn at an offset, bits flipped within one
 *         32-bit window, garbage appended, or several of these.
 * Then: open, peek and ack everything, append one record, close, reopen,
 * drain again. Properties:
 *   - never a crash, a leak, or a peek error on a readable directory;
 *   - nothing corrupt is returned: every record peeked is one that was
 *     written, byte for byte, under its sequence number, in order;
 *   - undamaged segments come back whole with no corruption counted, and
 *     a lost record that was not cut off cleanly at a record boundary is
 *     counted as corrupt;
 *   - after the scan cut a torn tail, an append continues cleanly: the new
 *     record survives a reopen.
 * Bit 1 of byte 0 sets a small cap, so that the append drops old segments;
 * bit 2 releases each record and peeks it again before the ack (it must
 * come back unchanged).
 */
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "spool.h"
#include "tests/fuzz/fuzz_common.h"

#define HDR         32
#define MAX_RECS    16
#define BASE_SEQ    7
#define AFTER       "record appended after the scan"
#define AFTER_META  0x5eedu
#define AFTER_POINT 3u
/* Empty payloads are records too (spool_test empty_record_survives_reopen). */
#define MIN_PAYLOAD 0

struct rec {
    const char *data;
    size_t len;
    uint32_t points;
    uint64_t meta;
    uint64_t seq;
};

static char root[256];
static char dir[300];

static void clean_dir(void);

/* The scratch root goes when the run ends normally (a crash leaves it, with
 * the spool directory as the input made it). */
static void remove_root(void)
{
    clean_dir();
    (void)rmdir(root); /* best effort: it is only scratch */
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet_logs();
    const char *tmp = getenv("TMPDIR");
    int n = snprintf(root, sizeof(root), "%s/lagwatch-fuzz-spool.XXXXXX",
                     tmp && *tmp ? tmp : "/tmp");
    FUZZ_CHECK(n > 0 && (size_t)n < sizeof(root), "TMPDIR too long");
    FUZZ_CHECK(mkdtemp(root) != NULL, "mkdtemp %s", root);
    n = snprintf(dir, sizeof(dir), "%s/spool", root);
    FUZZ_CHECK(n > 0 && (size_t)n < sizeof(dir), "path too long");
    FUZZ_CHECK(atexit(remove_root) == 0, "atexit");
    return 0;
}

/* The spool dir holds only files (segments, the lock). */
static void clean_dir(void)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char p[600];
        int n = snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        FUZZ_CHECK(n > 0 && (size_t)n < sizeof(p), "path too long");
        FUZZ_CHECK(unlink(p) == 0, "cannot unlink %s", p);
    }
    closedir(d);
    FUZZ_CHECK(rmdir(dir) == 0, "cannot rmdir %s", dir);
}

static void put32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Appends r to seg as spool.h lays a record out; returns the new length. */
static size_t encode(unsigned char *seg, size_t off, const struct rec *r)
{
    unsigned char *h = seg + off;
    memcpy(h, "LWS1", 4);
    put32(h + 4, (uint32_t)r->len);
    put64(h + 8, r->seq);
    put64(h + 16, r->meta);
    put32(h + 24, r->points);
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, h + 4, HDR - 8);
    c = crc32(c, (const Bytef *)r->data, (uInt)r->len);
    put32(h + 28, (uint32_t)c);
    memcpy(h + HDR, r->data, r->len);
    return off + HDR + r->len;
}

static void write_seg(uint64_t first_seq, const unsigned char *p, size_t n)
{
    char path[600];
    int k = snprintf(path, sizeof(path), "%s/%020llu.seg", dir,
                     (unsigned long long)first_seq);
    FUZZ_CHECK(k > 0 && (size_t)k < sizeof(path), "path too long");
    FILE *f = fopen(path, "wb");
    FUZZ_CHECK(f != NULL, "cannot create %s", path);
    FUZZ_CHECK(n == 0 || fwrite(p, 1, n, f) == n, "cannot write %s", path);
    FUZZ_CHECK(fclose(f) == 0, "cannot close %s", path);
}

static const struct rec *find(const struct rec *v, size_t n, uint64_t seq)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].seq == seq)
            return &v[i];
    return NULL;
}

struct drain {
    size_t got;          /* records returned */
    bool seen[MAX_RECS]; /* which of the written ones */
    bool seen_after;     /* the record appended after the scan */
    uint64_t last_seq;   /* order */
    uint64_t max_seq;
    bool release; /* release and peek again before each ack */
};

/* Peeks and acks until empty, checking each record against v (NULL: raw
 * mode, nothing known). */
static void drain(struct spool *sp, const struct rec *v, size_t n,
                  struct drain *d, bool after_known)
{
    char err[256];
    struct spool_rec r;
    bool first = true;
    for (;;) {
        int rc = spool_peek_oldest(sp, &r, err, sizeof(err));
        FUZZ_CHECK(rc >= 0, "peek failed: %s", err);
        if (rc == 0)
            break;
        FUZZ_CHECK(r.data != NULL || r.len == 0, "record without data");
        if (d->release) {
            /* unpinned without an ack, the record comes back as it was */
            uint64_t seq = r.seq, h = fuzz_hash(0, r.data, r.len);
            size_t len = r.len;
            spool_release(sp, &r);
            rc = spool_peek_oldest(sp, &r, err, sizeof(err));
            FUZZ_CHECK(rc == 1 && r.seq == seq && r.len == len &&
                           fuzz_hash(0, r.data, r.len) == h,
                       "released record %llu did not come back",
                       (unsigned long long)seq);
        }
        /* in order, for the segments written here: a raw input may hold
         * one record twice or sequences out of order, and spool.h promises
         * nothing about those but their integrity */
        if (!first && v)
            FUZZ_CHECK(r.seq > d->last_seq, "seq %llu after %llu",
                       (unsigned long long)r.seq,
                       (unsigned long long)d->last_seq);
        first = false;
        d->last_seq = r.seq;
        if (r.seq > d->max_seq)
            d->max_seq = r.seq;
        d->got++;
        bool is_after = after_known && r.len == strlen(AFTER) &&
                        memcmp(r.data, AFTER, r.len) == 0 &&
                        r.meta == AFTER_META && r.points == AFTER_POINT;
        if (is_after) {
            d->seen_after = true;
        } else if (v) {
            const struct rec *w = find(v, n, r.seq);
            FUZZ_CHECK(w != NULL, "seq %llu was never written",
                       (unsigned long long)r.seq);
            FUZZ_CHECK(w->len == r.len && memcmp(w->data, r.data, r.len) == 0 &&
                           w->points == r.points && w->meta == r.meta,
                       "record %llu came back different",
                       (unsigned long long)r.seq);
            d->seen[w - v] = true;
        }
        spool_ack(sp, &r);
    }
    FUZZ_CHECK(spool_empty(sp), "empty after draining, yet not spool_empty");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > (1u << 20))
        return 0;
    struct fuzz_in in = {data, size};
    uint8_t mode = fuzz_u8(&in);
    bool structured = mode & 1;
    uint64_t cap = (mode & 2) ? 4096 : 0;
    FUZZ_CHECK(mkdir(dir, 0750) == 0, "cannot mkdir %s", dir);

    struct rec v[MAX_RECS];
    size_t n = 0;
    /* whether losing a record without a corruption count is acceptable:
     * only when a segment was cut exactly at a record boundary */
    bool clean_cut = true;
    bool damaged = false;
    if (!structured) {
        write_seg(BASE_SEQ, in.p, in.n);
    } else {
        n = 1 + fuzz_u8(&in) % MAX_RECS;
        for (size_t i = 0; i < n; i++) {
            v[i].data = fuzz_bytes(&in, 255, &v[i].len);
            if (v[i].len < MIN_PAYLOAD) {
                v[i].data = "-";
                v[i].len = 1;
            }
            v[i].points = fuzz_u8(&in);
            v[i].meta = fuzz_u8(&in) * 0x0101010101010101u;
            v[i].seq = BASE_SEQ + i;
        }
        size_t split = fuzz_u8(&in) % (n + 1); /* records in segment A */
        uint8_t how = fuzz_u8(&in);
        bool target_b = how & 0x80;
        uint16_t at = fuzz_u16(&in);
        uint8_t flip = fuzz_u8(&in);
        unsigned char seg[2][MAX_RECS * (HDR + 255) + 256];
        size_t len[2] = {0, 0};
        size_t bound[2][MAX_RECS + 1]; /* record boundaries */
        size_t nb[2] = {1, 1};
        bound[0][0] = bound[1][0] = 0;
        for (size_t i = 0; i < n; i++) {
            int s = i >= split;
            len[s] = encode(seg[s], len[s], &v[i]);
            bound[s][nb[s]++] = len[s];
        }
        int t = target_b ? 1 : 0;
        if ((how & 1) && len[t] > 0) { /* tear */
            size_t cut = at % len[t];
            clean_cut = false;
            for (size_t k = 0; k < nb[t]; k++)
                clean_cut = clean_cut || bound[t][k] == cut;
            len[t] = cut;
            damaged = true;
        }
        if ((how & 2) && len[t] > 0 && flip) { /* flip bits in 32 of them */
            size_t off = (at / 7) % len[t];
            for (int b = 0; b < 8; b++)
                if (flip & (1u << b)) {
                    size_t bit = (size_t)b * 4 + (at & 3);
                    size_t byte = off + bit / 8;
                    if (byte < len[t])
                        seg[t][byte] ^= (unsigned char)(1u << (bit % 8));
                }
            clean_cut = false;
            damaged = true;
        }
        if (how & 4) { /* garbage after the last record */
            size_t g = in.n < 255 ? in.n : 255;
            memcpy(seg[t] + len[t], in.p, g);
            len[t] += g;
            if (g > 0) {
                clean_cut = false;
                damaged = true;
            }
        }
        /* A may be empty (no records) and is then not written: spool
         * names a segment after its first record */
        if (split > 0)
            write_seg(BASE_SEQ, seg[0], len[0]);
        if (split < n)
            write_seg(BASE_SEQ + split, seg[1], len[1]);
    }

    char err[256];
    struct spool *sp = spool_open(dir, cap, false, err, sizeof(err));
    FUZZ_CHECK(sp != NULL, "spool_open: %s", err);
    struct spool_stats st;
    spool_get_stats(sp, &st);
    uint64_t corrupt_at_open = st.corrupt_records + st.corrupt_bytes;
    struct drain d = {.release = mode & 4};
    drain(sp, structured ? v : NULL, n, &d, false);
    spool_get_stats(sp, &st);
    uint64_t corrupt = st.corrupt_records + st.corrupt_bytes;
    FUZZ_CHECK(corrupt >= corrupt_at_open, "corruption counts went down");
    FUZZ_CHECK(st.records == 0 && st.points == 0, "%llu records left",
               (unsigned long long)st.records);
    if (structured) {
        size_t lost = n - d.got;
        if (!damaged)
            FUZZ_CHECK(lost == 0 && corrupt == 0,
                       "undamaged: %zu of %zu lost, corrupt %llu", lost, n,
                       (unsigned long long)corrupt);
        if (lost > 0 && !clean_cut)
            FUZZ_CHECK(corrupt > 0, "%zu records lost, none counted", lost);
    }

    int rc = spool_append(sp, AFTER, strlen(AFTER), AFTER_POINT, AFTER_META,
                          err, sizeof(err));
    FUZZ_CHECK(rc == 0, "append after the scan: %d %s", rc, err);
    spool_close(&sp);
    FUZZ_CHECK(sp == NULL, "spool_close left the pointer");

    sp = spool_open(dir, cap, false, err, sizeof(err));
    FUZZ_CHECK(sp != NULL, "reopen: %s", err);
    struct drain d2 = {0};
    /* acknowledged records may be replayed (at-least-once), so the second
     * drain may see written ones again: they must still be intact */
    drain(sp, structured ? v : NULL, n, &d2, true);
    FUZZ_CHECK(d2.seen_after, "the record appended after the scan is lost");
    FUZZ_CHECK(d2.last_seq > d.max_seq || d.got == 0,
               "appended seq %llu not after %llu",
               (unsigned long long)d2.last_seq, (unsigned long long)d.max_seq);
    spool_close(&sp);
    clean_dir();
    return 0;
}
