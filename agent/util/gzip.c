#include "util/gzip.h"

#include <limits.h>
#include <stdint.h>
#include <stdlib.h>

#include <zlib.h>

#include "util/xalloc.h"

struct gzip {
    z_stream zs;
};

struct gzip *gzip_new(void)
{
    struct gzip *gz = xcalloc(1, sizeof(*gz));
    /* 15 + 16: a 32 KiB window with a gzip header and trailer. */
    if (deflateInit2(&gz->zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
        Z_OK) {
        free(gz);
        return NULL;
    }
    return gz;
}

void gzip_free(struct gzip **gzp)
{
    if (!gzp || !*gzp)
        return;
    deflateEnd(&(*gzp)->zs);
    free(*gzp);
    *gzp = NULL;
}

int gzip_encode(struct gzip *gz, const void *data, size_t len, struct buf *out)
{
    buf_reset(out);
    /* zlib counts in uInt; bodies are capped far below. */
    if (len > UINT_MAX || deflateReset(&gz->zs) != Z_OK)
        return -1;
    uLong bound = deflateBound(&gz->zs, (uLong)len);
    if (bound > UINT_MAX || buf_reserve(out, (size_t)bound) < 0)
        goto fail;
    gz->zs.next_in = (Bytef *)(uintptr_t)data;
    gz->zs.avail_in = (uInt)len;
    gz->zs.next_out = (Bytef *)out->data;
    gz->zs.avail_out = (uInt)bound;
    if (deflate(&gz->zs, Z_FINISH) != Z_STREAM_END)
        goto fail;
    /* buf_reserve() made room for bound bytes and the NUL. */
    out->len = (size_t)bound - gz->zs.avail_out;
    out->data[out->len] = '\0';
    return 0;
fail:
    buf_reset(out);
    return -1;
}

int gzip_decode(const void *data, size_t len, struct buf *out)
{
    z_stream z = {0};
    int rc = -1;
    buf_reset(out);
    /* 16 + MAX_WBITS: a gzip header and trailer, not raw deflate */
    if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK)
        return -1;
    z.next_in = (Bytef *)(uintptr_t)data;
    size_t left = len;
    for (;;) {
        unsigned char chunk[16384];
        if (z.avail_in == 0 && left > 0) {
            z.avail_in = left > UINT_MAX ? UINT_MAX : (uInt)left;
            left -= z.avail_in;
        }
        z.next_out = chunk;
        z.avail_out = sizeof(chunk);
        int zr = inflate(&z, Z_NO_FLUSH);
        if (zr != Z_OK && zr != Z_STREAM_END)
            break;
        if (buf_add(out, chunk, sizeof(chunk) - z.avail_out) < 0) {
            rc = -2;
            break;
        }
        if (zr == Z_STREAM_END) {
            rc = 0;
            break;
        }
        if (z.avail_in == 0 && left == 0 && z.avail_out != 0)
            break; /* truncated input */
    }
    inflateEnd(&z);
    if (rc < 0)
        buf_reset(out);
    return rc;
}
