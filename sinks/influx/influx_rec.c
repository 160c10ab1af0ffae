#include "influx/influx_rec.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

#define REC_MAGIC "LWI2"

static size_t header_len(size_t dl, size_t rl)
{
    return (8 + dl + rl + 3) & ~(size_t)3;
}

char *influx_rec_encode(const char *db, const char *rp, const uint32_t *ends,
                        size_t npoints, const char *lines, size_t len,
                        size_t *rec_len)
{
    size_t dl = strlen(db), rl = strlen(rp);
    size_t hlen = header_len(dl, rl);
    size_t elen = npoints * sizeof(*ends);
    char *rec = xcalloc(1, hlen + elen + len + 1);
    memcpy(rec, REC_MAGIC, 4);
    rec[4] = (char)(dl & 0xff);
    rec[5] = (char)(dl >> 8);
    rec[6] = (char)(rl & 0xff);
    rec[7] = (char)(rl >> 8);
    memcpy(rec + 8, db, dl);
    memcpy(rec + 8 + dl, rp, rl);
    memcpy(rec + hlen, ends, elen);
    memcpy(rec + hlen + elen, lines, len);
    *rec_len = hlen + elen + len;
    return rec;
}

bool influx_rec_parse(const void *rec, size_t len, uint32_t points,
                      struct influx_rec *out)
{
    const unsigned char *p = rec;
    if (len < 8 || memcmp(p, REC_MAGIC, 4) != 0 || points == 0)
        return false;
    size_t dl = p[4] | (size_t)p[5] << 8, rl = p[6] | (size_t)p[7] << 8;
    size_t hlen = header_len(dl, rl);
    size_t elen = (size_t)points * sizeof(uint32_t);
    if (dl == 0 || len < hlen || len - hlen < elen)
        return false;
    /* hlen is a multiple of 4 and rec is aligned */
    out->ends = (const uint32_t *)(const void *)(p + hlen);
    out->lines = (const char *)p + hlen + elen;
    out->len = len - hlen - elen;
    out->npoints = points;
    for (size_t i = 0; i < points; i++)
        if (out->ends[i] == 0 || out->ends[i] > out->len ||
            (i > 0 && out->ends[i] < out->ends[i - 1]))
            return false;
    out->db = (const char *)p + 8;
    out->db_len = dl;
    out->rp = out->db + dl;
    out->rp_len = rl;
    return true;
}

void influx_rec_ts_range(const struct influx_rec *r, int64_t *lo, int64_t *hi)
{
    *lo = *hi = 0;
    for (size_t i = 0; i < r->npoints; i++) {
        size_t p = r->ends[i] - 1;
        size_t start = i ? r->ends[i - 1] : 0;
        while (p > start && r->lines[p - 1] != ' ')
            p--;
        int64_t ts = strtoll(r->lines + p, NULL, 10);
        if (i == 0 || ts < *lo)
            *lo = ts;
        if (i == 0 || ts > *hi)
            *hi = ts;
    }
}
