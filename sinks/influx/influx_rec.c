#include "influx/influx_rec.h"

#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

char *influx_rec_encode(const struct influx_dest *d, const uint32_t *ends,
                        size_t npoints, const char *lines, size_t len,
                        size_t *rec_len)
{
    size_t hlen = influx_api_rec_head_len(d);
    size_t elen = npoints * sizeof(*ends);
    char *rec = xcalloc(1, hlen + elen + len + 1);
    influx_api_rec_head(d, (unsigned char *)rec);
    memcpy(rec + hlen, ends, elen);
    memcpy(rec + hlen + elen, lines, len);
    *rec_len = hlen + elen + len;
    return rec;
}

bool influx_rec_parse(const void *rec, size_t len, uint32_t points,
                      struct influx_rec *out)
{
    const unsigned char *p = rec;
    memset(out, 0, sizeof(*out));
    if (points == 0)
        return false;
    size_t hlen = influx_api_rec_parse(rec, len, &out->dest);
    size_t elen = (size_t)points * sizeof(uint32_t);
    if (hlen == 0)
        return false;
    if (len < hlen || len - hlen < elen)
        goto bad;
    /* hlen is a multiple of 4 and rec is aligned */
    out->ends = (const uint32_t *)(const void *)(p + hlen);
    out->lines = (const char *)p + hlen + elen;
    out->len = len - hlen - elen;
    out->npoints = points;
    for (size_t i = 0; i < points; i++)
        if (out->ends[i] == 0 || out->ends[i] > out->len ||
            (i > 0 && out->ends[i] < out->ends[i - 1]))
            goto bad;
    return true;
bad:
    influx_rec_release(out);
    return false;
}

void influx_rec_release(struct influx_rec *r)
{
    if (r)
        influx_dest_free(&r->dest);
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
