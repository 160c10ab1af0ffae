#include "spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include <zlib.h>

#include "util/log.h"
#include "util/xalloc.h"

#define REC_MAGIC       0x3153574cu /* "LWS1" little-endian */
#define HDR_LEN         32
#define SEG_MIN         (64u << 10)
#define SEG_MAX         (64u << 20)
#define SEG_SUFFIX      ".seg"
#define SEG_NAME_DIGITS 20

struct segment {
    uint64_t first_seq;
    char *path;
    uint64_t size;     /* valid bytes (records end here) */
    uint64_t read_off; /* first unacknowledged byte */
    uint64_t records;  /* unacknowledged */
    uint64_t points;
    /* Offsets of records found corrupt by the scan at open: replay skips
     * them without counting them again. */
    uint64_t *bad;
    size_t nbad;
    size_t cap_bad;
};

struct spool {
    char *dir;
    uint64_t max_bytes;
    uint64_t seg_max;
    bool fsync;
    struct segment *segs;
    size_t nsegs;
    size_t cap_segs;
    int lock_fd;          /* DIR/lock, flock()ed while open */
    int tail_fd;          /* segs[nsegs - 1] opened for appending, or -1 */
    int head_fd;          /* segs[0] opened for reading, or -1 */
    uint64_t head_fd_seq; /* first_seq of the segment head_fd reads */
    uint64_t next_seq;
    bool pinned;
    uint64_t pin_len; /* record bytes of the pinned record */
    uint32_t pin_points;
    void *rd;
    size_t rd_cap;
    struct spool_stats st;
};

struct hdr {
    uint32_t magic;
    uint32_t len;
    uint64_t seq;
    uint64_t meta;
    uint32_t points;
    uint32_t crc;
};

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

static uint32_t get32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint64_t get64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t rec_crc(const unsigned char *hdr, const void *data, size_t len)
{
    uLong c = crc32(0L, Z_NULL, 0);
    c = crc32(c, hdr + 4, HDR_LEN - 8);
    /* zlib takes uInt lengths; records are capped well below 4 GiB. An
     * empty payload may come with a NULL buffer, for which crc32() answers
     * 0 instead of the running value: leave it out. */
    if (len > 0)
        c = crc32(c, data, (uInt)len);
    return (uint32_t)c;
}

static void hdr_encode(unsigned char *p, const struct hdr *h)
{
    put32(p, h->magic);
    put32(p + 4, h->len);
    put64(p + 8, h->seq);
    put64(p + 16, h->meta);
    put32(p + 24, h->points);
    put32(p + 28, h->crc);
}

static void hdr_decode(const unsigned char *p, struct hdr *h)
{
    h->magic = get32(p);
    h->len = get32(p + 4);
    h->seq = get64(p + 8);
    h->meta = get64(p + 16);
    h->points = get32(p + 24);
    h->crc = get32(p + 28);
}

/* Reads exactly n bytes at off; 1 done, 0 short (end of file), -1 error. */
static int pread_full(int fd, void *p, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)p + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            return 0;
        got += (size_t)r;
    }
    return 1;
}

static void *rd_buf(struct spool *sp, size_t n)
{
    if (n > sp->rd_cap) {
        free(sp->rd);
        sp->rd = xmalloc(n ? n : 1);
        sp->rd_cap = n;
    }
    return sp->rd;
}

static int mkdir_p(const char *dir)
{
    char *p = xstrdup(dir);
    int rc = 0;
    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0750) < 0 && errno != EEXIST) {
            rc = -1;
            goto out;
        }
        *s = '/';
    }
    if (mkdir(p, 0750) < 0 && errno != EEXIST)
        rc = -1;
out:
    free(p);
    return rc;
}

static void sync_dir(struct spool *sp)
{
    if (!sp->fsync)
        return;
    int fd = open(sp->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return;
    /* best effort: the record itself was synced already */
    if (fsync(fd) < 0)
        log_debug("cannot fsync spool directory '%s': %s", sp->dir,
                  strerror(errno));
    close(fd);
}

static char *seg_path(const char *dir, uint64_t first_seq)
{
    size_t n = strlen(dir) + SEG_NAME_DIGITS + sizeof(SEG_SUFFIX) + 2;
    char *p = xmalloc(n);
    snprintf(p, n, "%s/%020" PRIu64 SEG_SUFFIX, dir, first_seq);
    return p;
}

static void recount(struct spool *sp)
{
    sp->st.bytes = sp->st.records = sp->st.points = 0;
    for (size_t i = 0; i < sp->nsegs; i++) {
        sp->st.bytes += sp->segs[i].size;
        sp->st.records += sp->segs[i].records;
        sp->st.points += sp->segs[i].points;
    }
}

/* Unlinks segs[i] and removes it from the table. */
static void seg_remove(struct spool *sp, size_t i)
{
    struct segment *g = &sp->segs[i];
    if (i == sp->nsegs - 1 && sp->tail_fd >= 0) {
        close(sp->tail_fd);
        sp->tail_fd = -1;
    }
    if (sp->head_fd >= 0 && sp->head_fd_seq == g->first_seq) {
        close(sp->head_fd);
        sp->head_fd = -1;
    }
    if (unlink(g->path) < 0 && errno != ENOENT)
        log_warn("cannot remove spool segment '%s': %s", g->path,
                 strerror(errno));
    free(g->path);
    free(g->bad);
    memmove(g, g + 1, (sp->nsegs - i - 1) * sizeof(*g));
    sp->nsegs--;
    sync_dir(sp);
    recount(sp);
}

/* ------------------------------------------------------------------ */
/* Open: scan the segments */

static int cmp_seg(const void *a, const void *b)
{
    const struct segment *x = a, *y = b;
    return x->first_seq < y->first_seq ? -1 : x->first_seq > y->first_seq;
}

static bool seg_name(const char *name, uint64_t *seq)
{
    size_t n = strlen(name);
    if (n != SEG_NAME_DIGITS + strlen(SEG_SUFFIX) ||
        strcmp(name + SEG_NAME_DIGITS, SEG_SUFFIX) != 0)
        return false;
    uint64_t v = 0;
    for (size_t i = 0; i < SEG_NAME_DIGITS; i++) {
        if (name[i] < '0' || name[i] > '9')
            return false;
        uint64_t d = (uint64_t)(name[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *seq = v;
    return true;
}

/* Validates every record of g; sets size, records, points. The last
 * segment is truncated after its last good record. */
static int seg_scan(struct spool *sp, struct segment *g, bool last,
                    uint64_t *max_seq, char *err, size_t errlen)
{
    int fd = open(g->path, (last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    int rc = -1;
    if (fd < 0) {
        snprintf(err, errlen, "cannot open '%s': %s", g->path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (fstat(fd, &sb) < 0) {
        snprintf(err, errlen, "cannot stat '%s': %s", g->path, strerror(errno));
        goto out;
    }
    uint64_t fsize = (uint64_t)sb.st_size, off = 0;
    g->records = g->points = 0;
    while (off < fsize) {
        unsigned char hb[HDR_LEN];
        struct hdr h;
        const char *why = NULL;
        int r = fsize - off >= HDR_LEN ? pread_full(fd, hb, HDR_LEN, off) : 0;
        if (r < 0) {
            snprintf(err, errlen, "cannot read '%s': %s", g->path,
                     strerror(errno));
            goto out;
        }
        if (r == 0) {
            why = "torn record header";
        } else {
            hdr_decode(hb, &h);
            if (h.magic != REC_MAGIC)
                why = "bad record magic";
            else if (h.len > SPOOL_MAX_RECORD)
                why = "impossible record length";
            else if (fsize - off - HDR_LEN < h.len)
                why = "torn record";
        }
        if (why) {
            /* Nothing after this can be trusted to start a record. A torn
             * record (a crash mid-append, a cut file) still has a legible
             * header: its points are counted as lost by that header. */
            uint32_t lost =
                r > 0 && h.magic == REC_MAGIC && h.len <= SPOOL_MAX_RECORD
                    ? h.points
                    : 0;
            sp->st.corrupt_records++;
            sp->st.corrupt_points += lost;
            sp->st.corrupt_bytes += fsize - off;
            log_warn("spool segment '%s': %s at offset %" PRIu64
                     ": discarding the last %" PRIu64 " bytes (%" PRIu32
                     " points by its header)",
                     g->path, why, off, fsize - off, lost);
            if (last && ftruncate(fd, (off_t)off) < 0) {
                snprintf(err, errlen, "cannot truncate '%s': %s", g->path,
                         strerror(errno));
                goto out;
            }
            break;
        }
        void *p = rd_buf(sp, h.len);
        r = pread_full(fd, p, h.len, off + HDR_LEN);
        if (r <= 0) {
            snprintf(err, errlen, "cannot read '%s': %s", g->path,
                     r < 0 ? strerror(errno) : "file shrank");
            goto out;
        }
        if (rec_crc(hb, p, h.len) != h.crc) {
            /* The length was plausible and the record complete: skip just
             * this one. Its point count is a guess (the header is not
             * trusted), and is reported as such. */
            sp->st.corrupt_records++;
            sp->st.corrupt_points += h.points;
            sp->st.corrupt_bytes += HDR_LEN + (uint64_t)h.len;
            log_warn("spool segment '%s': bad CRC at offset %" PRIu64
                     ": skipping the record (%" PRIu32 " points by its "
                     "header)",
                     g->path, off, h.points);
            g->bad = xgrow(g->bad, &g->cap_bad, g->nbad + 1, sizeof(*g->bad));
            g->bad[g->nbad++] = off;
            off += HDR_LEN + (uint64_t)h.len;
            continue;
        }
        if (h.seq > *max_seq)
            *max_seq = h.seq;
        g->records++;
        g->points += h.points;
        off += HDR_LEN + (uint64_t)h.len;
    }
    g->size = off;
    rc = 0;
out:
    close(fd);
    return rc;
}

static int scan_dir(struct spool *sp, char *err, size_t errlen)
{
    DIR *d = opendir(sp->dir);
    if (!d) {
        snprintf(err, errlen, "cannot open spool directory '%s': %s", sp->dir,
                 strerror(errno));
        return -1;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        uint64_t seq;
        if (!seg_name(de->d_name, &seq))
            continue;
        sp->segs =
            xgrow(sp->segs, &sp->cap_segs, sp->nsegs + 1, sizeof(*sp->segs));
        struct segment *g = &sp->segs[sp->nsegs++];
        memset(g, 0, sizeof(*g));
        g->first_seq = seq;
        g->path = seg_path(sp->dir, seq);
    }
    closedir(d);
    if (sp->nsegs > 1)
        qsort(sp->segs, sp->nsegs, sizeof(*sp->segs), cmp_seg);
    uint64_t max_seq = 0;
    for (size_t i = 0; i < sp->nsegs; i++) {
        if (seg_scan(sp, &sp->segs[i], i == sp->nsegs - 1, &max_seq, err,
                     errlen) < 0)
            return -1;
        if (sp->segs[i].first_seq > max_seq)
            max_seq = sp->segs[i].first_seq;
    }
    /* Segments with nothing left to send go now. */
    for (size_t i = 0; i < sp->nsegs;) {
        if (sp->segs[i].records == 0)
            seg_remove(sp, i);
        else
            i++;
    }
    sp->next_seq = max_seq + 1;
    recount(sp);
    return 0;
}

struct spool *spool_open(const char *dir, uint64_t max_bytes, bool fsync,
                         char *err, size_t errlen)
{
    if (!dir || !dir[0]) {
        snprintf(err, errlen, "empty spool directory");
        return NULL;
    }
    if (mkdir_p(dir) < 0) {
        snprintf(err, errlen, "cannot create spool directory '%s': %s", dir,
                 strerror(errno));
        return NULL;
    }
    struct spool *sp = xcalloc(1, sizeof(*sp));
    sp->dir = xstrdup(dir);
    sp->max_bytes = max_bytes;
    sp->fsync = fsync;
    sp->tail_fd = -1;
    sp->head_fd = -1;
    sp->lock_fd = -1;
    size_t lock_len = strlen(dir) + sizeof("/lock");
    char *lock = xmalloc(lock_len);
    snprintf(lock, lock_len, "%s/lock", dir);
    sp->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0640);
    free(lock);
    if (sp->lock_fd < 0) {
        snprintf(err, errlen, "cannot open '%s/lock': %s", dir,
                 strerror(errno));
        spool_close(&sp);
        return NULL;
    }
    /* Two writers on one spool would interleave records: refuse. */
    if (flock(sp->lock_fd, LOCK_EX | LOCK_NB) < 0) {
        snprintf(err, errlen, "spool directory '%s' is in use: %s", dir,
                 errno == EWOULDBLOCK ? "locked by another writer"
                                      : strerror(errno));
        spool_close(&sp);
        return NULL;
    }
    uint64_t seg = max_bytes ? max_bytes / 8 : SEG_MAX;
    sp->seg_max = seg < SEG_MIN ? SEG_MIN : seg > SEG_MAX ? SEG_MAX : seg;
    if (scan_dir(sp, err, errlen) < 0)
        spool_close(&sp);
    return sp;
}

/* ------------------------------------------------------------------ */
/* Append */

/* Frees room for need bytes under the cap; false when it cannot. */
static bool make_room(struct spool *sp, uint64_t need)
{
    uint64_t recs = 0, pts = 0;
    bool ok = true;
    while (sp->st.bytes + need > sp->max_bytes) {
        size_t victim = sp->pinned ? 1 : 0;
        if (victim >= sp->nsegs) {
            ok = false;
            break;
        }
        recs += sp->segs[victim].records;
        pts += sp->segs[victim].points;
        seg_remove(sp, victim);
    }
    if (recs || pts) {
        sp->st.dropped_records += recs;
        sp->st.dropped_points += pts;
        log_warn("spool '%s' reached its cap of %" PRIu64 " bytes: dropped "
                 "the oldest %" PRIu64 " points (%" PRIu64 " batches)",
                 sp->dir, sp->max_bytes, pts, recs);
    }
    return ok;
}

static int open_tail(struct spool *sp, char *err, size_t errlen)
{
    bool fresh = sp->nsegs == 0 || sp->segs[sp->nsegs - 1].size >= sp->seg_max;
    if (!fresh && sp->tail_fd >= 0)
        return 0;
    if (sp->tail_fd >= 0) {
        close(sp->tail_fd);
        sp->tail_fd = -1;
    }
    if (!fresh) {
        const char *path = sp->segs[sp->nsegs - 1].path;
        sp->tail_fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
        if (sp->tail_fd < 0) {
            snprintf(err, errlen, "cannot open '%s': %s", path,
                     strerror(errno));
            return -1;
        }
        return 0;
    }
    char *path = seg_path(sp->dir, sp->next_seq);
    int fd =
        open(path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640);
    if (fd < 0) {
        snprintf(err, errlen, "cannot create '%s': %s", path, strerror(errno));
        free(path);
        return -1;
    }
    sp->segs = xgrow(sp->segs, &sp->cap_segs, sp->nsegs + 1, sizeof(*sp->segs));
    struct segment *g = &sp->segs[sp->nsegs++];
    memset(g, 0, sizeof(*g));
    g->first_seq = sp->next_seq;
    g->path = path;
    sp->tail_fd = fd;
    sync_dir(sp);
    return 0;
}

static int write_all(int fd, struct iovec *iov, int n)
{
    while (n > 0) {
        ssize_t w = writev(fd, iov, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return -1;
        size_t left = (size_t)w;
        while (n > 0 && left >= iov->iov_len) {
            left -= iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + left;
            iov->iov_len -= left;
        }
    }
    return 0;
}

int spool_append(struct spool *sp, const void *data, size_t len,
                 uint32_t points, uint64_t meta, char *err, size_t errlen)
{
    uint64_t need = HDR_LEN + (uint64_t)len;
    if (len > SPOOL_MAX_RECORD || (sp->max_bytes && !make_room(sp, need))) {
        sp->st.dropped_records++;
        sp->st.dropped_points += points;
        log_warn("spool '%s' cannot hold a batch of %zu bytes under its cap "
                 "of %" PRIu64 " bytes: dropped its %" PRIu32 " points",
                 sp->dir, len, sp->max_bytes, points);
        return 1;
    }
    if (open_tail(sp, err, errlen) < 0)
        return -1;
    struct segment *g = &sp->segs[sp->nsegs - 1];
    unsigned char hb[HDR_LEN];
    struct hdr h = {REC_MAGIC, (uint32_t)len, sp->next_seq, meta, points, 0};
    hdr_encode(hb, &h);
    h.crc = rec_crc(hb, data, len);
    hdr_encode(hb, &h);
    struct iovec iov[2] = {{hb, HDR_LEN}, {(void *)data, len}};
    int e = 0;
    if (write_all(sp->tail_fd, iov, 2) < 0)
        e = errno;
    else if (sp->fsync && fdatasync(sp->tail_fd) < 0)
        e = errno;
    if (e) {
        snprintf(err, errlen, "cannot write to '%s': %s", g->path, strerror(e));
        /* cut a partial record off so that the next append starts clean */
        if (ftruncate(sp->tail_fd, (off_t)g->size) < 0)
            log_warn("cannot truncate '%s': %s", g->path, strerror(errno));
        return -1;
    }
    g->size += need;
    g->records++;
    g->points += points;
    sp->next_seq++;
    sp->st.appended_points += points;
    recount(sp);
    return 0;
}

/* ------------------------------------------------------------------ */
/* Replay */

/* Marks the unread rest of the head segment as lost (it cannot be read). */
static void head_lost(struct spool *sp, const char *why, uint64_t off)
{
    struct segment *g = &sp->segs[0];
    sp->st.corrupt_records += g->records;
    sp->st.corrupt_points += g->points;
    sp->st.corrupt_bytes += g->size - off;
    log_warn("spool segment '%s': %s at offset %" PRIu64 ": dropping its "
             "last %" PRIu64 " points",
             g->path, why, off, g->points);
    g->records = g->points = 0;
    g->read_off = g->size;
}

static bool seg_known_bad(const struct segment *g, uint64_t off)
{
    for (size_t i = 0; i < g->nbad; i++)
        if (g->bad[i] == off)
            return true;
    return false;
}

int spool_peek_oldest(struct spool *sp, struct spool_rec *rec, char *err,
                      size_t errlen)
{
    memset(rec, 0, sizeof(*rec));
    sp->pinned = false;
    for (;;) {
        if (sp->nsegs == 0)
            return 0;
        struct segment *g = &sp->segs[0];
        if (g->records == 0) {
            seg_remove(sp, 0);
            continue;
        }
        if (sp->head_fd < 0 || sp->head_fd_seq != g->first_seq) {
            if (sp->head_fd >= 0)
                close(sp->head_fd);
            sp->head_fd = open(g->path, O_RDONLY | O_CLOEXEC);
            if (sp->head_fd < 0) {
                snprintf(err, errlen, "cannot open '%s': %s", g->path,
                         strerror(errno));
                return -1;
            }
            sp->head_fd_seq = g->first_seq;
        }
        unsigned char hb[HDR_LEN];
        struct hdr h;
        uint64_t off = g->read_off;
        int r = pread_full(sp->head_fd, hb, HDR_LEN, off);
        if (r < 0) {
            snprintf(err, errlen, "cannot read '%s': %s", g->path,
                     strerror(errno));
            return -1;
        }
        hdr_decode(hb, &h);
        if (r == 0 || h.magic != REC_MAGIC || h.len > SPOOL_MAX_RECORD ||
            off + HDR_LEN + h.len > g->size) {
            head_lost(sp, "unreadable record", off);
            recount(sp);
            continue;
        }
        void *p = xmalloc(h.len ? h.len : 1);
        r = pread_full(sp->head_fd, p, h.len, off + HDR_LEN);
        if (r <= 0) {
            free(p);
            head_lost(sp, "short record", off);
            recount(sp);
            continue;
        }
        if (seg_known_bad(g, off)) {
            free(p);
            g->read_off = off + HDR_LEN + h.len;
            continue;
        }
        if (rec_crc(hb, p, h.len) != h.crc) {
            free(p);
            sp->st.corrupt_records++;
            sp->st.corrupt_points += h.points;
            sp->st.corrupt_bytes += HDR_LEN + (uint64_t)h.len;
            log_warn("spool segment '%s': bad CRC at offset %" PRIu64
                     ": skipping the record (%" PRIu32 " points)",
                     g->path, off, h.points);
            g->read_off = off + HDR_LEN + h.len;
            g->records--;
            g->points -= h.points <= g->points ? h.points : g->points;
            recount(sp);
            continue;
        }
        rec->data = p;
        rec->len = h.len;
        rec->points = h.points;
        rec->meta = h.meta;
        rec->seq = h.seq;
        sp->pinned = true;
        sp->pin_len = HDR_LEN + (uint64_t)h.len;
        sp->pin_points = h.points;
        return 1;
    }
}

void spool_ack(struct spool *sp, struct spool_rec *rec)
{
    free(rec->data);
    rec->data = NULL;
    if (!sp->pinned || sp->nsegs == 0)
        return;
    struct segment *g = &sp->segs[0];
    sp->pinned = false;
    g->read_off += sp->pin_len;
    g->records--;
    g->points -= sp->pin_points <= g->points ? sp->pin_points : g->points;
    sp->st.acked_points += sp->pin_points;
    if (g->records == 0)
        seg_remove(sp, 0);
    else
        recount(sp);
}

void spool_release(struct spool *sp, struct spool_rec *rec)
{
    free(rec->data);
    rec->data = NULL;
    sp->pinned = false;
}

uint64_t spool_bytes(const struct spool *sp)
{
    return sp->st.bytes;
}

bool spool_empty(const struct spool *sp)
{
    return sp->st.records == 0;
}

void spool_get_stats(const struct spool *sp, struct spool_stats *out)
{
    *out = sp->st;
}

const char *spool_dir(const struct spool *sp)
{
    return sp->dir;
}

void spool_close(struct spool **spp)
{
    struct spool *sp = *spp;
    if (!sp)
        return;
    if (sp->tail_fd >= 0)
        close(sp->tail_fd);
    if (sp->head_fd >= 0)
        close(sp->head_fd);
    if (sp->lock_fd >= 0)
        close(sp->lock_fd);
    for (size_t i = 0; i < sp->nsegs; i++) {
        free(sp->segs[i].path);
        free(sp->segs[i].bad);
    }
    free(sp->segs);
    free(sp->rd);
    free(sp->dir);
    free(sp);
    *spp = NULL;
}
