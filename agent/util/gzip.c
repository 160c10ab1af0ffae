#include "util/gzip.h"

#include <libdeflate.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <zlib.h>

#include "util/xalloc.h"

/* Level 1: measured with bench/e2e.py (README, Speed), libdeflate's level 1
 * compresses line protocol and exposition text about as well as zlib's and
 * in well under half its CPU; higher levels cost more than the bytes they
 * save on loopback and LAN links. */
#define GZIP_LEVEL 1

struct gzip {
    struct libdeflate_compressor *c;
};

struct gzip *gzip_new(void)
{
    struct gzip *gz = xcalloc(1, sizeof(*gz));
    gz->c = libdeflate_alloc_compressor(GZIP_LEVEL);
    if (!gz->c) {
        free(gz);
        return NULL;
    }
    return gz;
}

void gzip_free(struct gzip **gzp)
{
    if (!gzp || !*gzp)
        return;
    libdeflate_free_compressor((*gzp)->c);
    free(*gzp);
    *gzp = NULL;
}

int gzip_encode(struct gzip *gz, const void *data, size_t len, struct buf *out)
{
    buf_reset(out);
    size_t bound = libdeflate_gzip_compress_bound(gz->c, len);
    if (buf_reserve(out, bound) < 0)
        goto fail;
    size_t n = libdeflate_gzip_compress(gz->c, data, len, out->data, bound);
    if (n == 0)
        goto fail;
    /* buf_reserve() made room for bound bytes and the NUL. */
    out->len = n;
    out->data[n] = '\0';
    return 0;
fail:
    buf_reset(out);
    return -1;
}

/* zlib's streaming inflate rather than libdeflate's one-shot decoder:
 * the output size is not known up front, and inflating chunk by chunk into
 * a capped buf stops a gzip bomb at the cap. */
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
