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
