#include "util/regex.h"

#include <stdio.h>

/* PCRE2_ANCHORED|PCRE2_ENDANCHORED is ^(?:RE)\z without rewriting the
 * pattern, so error offsets point into what the user wrote. */
#define REGEX_FLAGS                                                            \
    (PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_ANCHORED | PCRE2_ENDANCHORED)

static pcre2_code *compile(const char *re, char *err, size_t errlen)
{
    int code = 0;
    PCRE2_SIZE off = 0;
    pcre2_code *rx = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED,
                                   REGEX_FLAGS, &code, &off, NULL);
    if (!rx) {
        PCRE2_UCHAR msg[256];
        if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
            snprintf((char *)msg, sizeof(msg), "error %d", code);
        snprintf(err, errlen, "%s at offset %zu", (const char *)msg,
                 (size_t)off);
        return NULL;
    }
    return rx;
}

pcre2_code *regex_compile(const char *re, char *err, size_t errlen)
{
    pcre2_code *rx = compile(re, err, errlen);
    /* JIT is an optimisation: without it pcre2_match interprets. */
    if (rx)
        (void)pcre2_jit_compile(rx, PCRE2_JIT_COMPLETE);
    return rx;
}

int regex_check(const char *re, char *err, size_t errlen)
{
    pcre2_code *rx = compile(re, err, errlen);
    if (!rx)
        return -1;
    pcre2_code_free(rx);
    return 0;
}
