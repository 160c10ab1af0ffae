#include "util/secret.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/xalloc.h"

/* Reads at most max bytes of path into a heap buffer (NUL-terminated);
 * *len gets the size. NULL with err when the file cannot be read or is
 * larger than max. */
static char *slurp(const char *path, const char *what, size_t max, size_t *len,
                   char *err, size_t errlen)
{
    char *data = xmalloc(max + 2);
    size_t n = 0;
    FILE *fp = fopen(path, "re");
    if (!fp) {
        snprintf(err, errlen, "cannot read %s '%s': %s", what, path,
                 strerror(errno));
        goto fail;
    }
    n = fread(data, 1, max + 1, fp);
    if (ferror(fp)) {
        snprintf(err, errlen, "cannot read %s '%s': %s", what, path,
                 strerror(errno));
        goto fail;
    }
    if (n > max) {
        snprintf(err, errlen, "%s '%s' is larger than %zu bytes", what, path,
                 max);
        goto fail;
    }
    fclose(fp);
    data[n] = '\0';
    *len = n;
    return data;
fail:
    if (fp)
        fclose(fp);
    explicit_bzero(data, max + 2);
    free(data);
    return NULL;
}

char *secret_read_file(const char *path, const char *what, bool token,
                       char *err, size_t errlen)
{
    size_t len = 0;
    char *s = slurp(path, what, SECRET_MAX_BYTES, &len, err, errlen);
    if (!s)
        return NULL;
    if (len > 0 && s[len - 1] == '\n')
        len--;
    if (len > 0 && s[len - 1] == '\r')
        len--;
    s[len] = '\0';
    if (len == 0) {
        snprintf(err, errlen, "%s '%s' is empty", what, path);
        goto fail;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\0' || c == '\r' || c == '\n') {
            snprintf(err, errlen,
                     "%s '%s' contains a NUL byte or a line break inside "
                     "the secret",
                     what, path);
            goto fail;
        }
        if (token && (c <= ' ' || c == 0x7f)) {
            snprintf(err, errlen,
                     "%s '%s' contains a space or a control character", what,
                     path);
            goto fail;
        }
    }
    return s;
fail:
    /* Not secret_free(): an embedded NUL would stop its strlen(). */
    explicit_bzero(s, len);
    free(s);
    return NULL;
}

void secret_free(char **sp)
{
    char *s = *sp;
    if (!s)
        return;
    explicit_bzero(s, strlen(s));
    free(s);
    *sp = NULL;
}

char *secret_read_pem(const char *path, const char *what, size_t max, char *err,
                      size_t errlen)
{
    size_t len = 0;
    char *s = slurp(path, what, max, &len, err, errlen);
    if (!s)
        return NULL;
    if (len == 0 || memchr(s, '\0', len) || !strstr(s, "-----BEGIN ")) {
        snprintf(err, errlen, "%s '%s' is not a PEM file", what, path);
        /* A key file is a secret too. */
        explicit_bzero(s, len);
        free(s);
        return NULL;
    }
    return s;
}

int secret_check_pem(const char *path, const char *what, size_t max, char *err,
                     size_t errlen)
{
    char *s = secret_read_pem(path, what, max, err, errlen);
    if (!s)
        return -1;
    secret_free(&s);
    return 0;
}
