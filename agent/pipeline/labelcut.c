#include "pipeline/labelcut.h"

#include <stdint.h>
#include <string.h>
#include <xxhash.h>

size_t labelcut(const char *v, size_t n, size_t max, char *out)
{
    if (max < LABELCUT_MIN || n <= max)
        return 0;
    size_t keep = max - LABELCUT_SUFFIX;
    /* v[keep] is the first byte left out: back up while it continues a
     * UTF-8 sequence, so the prefix ends on a whole character. */
    while (keep > 0 && ((unsigned char)v[keep] & 0xc0) == 0x80)
        keep--;
    memcpy(out, v, keep);
    uint64_t h = XXH3_64bits(v, n);
    static const char hex[] = "0123456789abcdef";
    char *p = out + keep;
    *p++ = '~';
    for (int i = LABELCUT_HASH_HEX - 1; i >= 0; i--)
        *p++ = hex[(h >> (4 * i)) & 0xf];
    *p = '\0';
    return (size_t)(p - out);
}
