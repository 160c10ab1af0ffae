#include "util/envsubst.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/validate.h"
#include "util/xalloc.h"

int envsubst(const char *in, size_t max, char **out, char *err, size_t errlen)
{
    struct buf b;
    char *name = NULL;
    int rc = -1;
    buf_init(&b, max);
    for (size_t i = 0; in[i];) {
        if (in[i] == '$' && in[i + 1] == '$') {
            buf_addc(&b, '$');
            i += 2;
            continue;
        }
        if (in[i] != '$' || in[i + 1] != '{' ||
            !validate_ident_char(in[i + 2], true)) {
            buf_addc(&b, in[i]);
            i++;
            continue;
        }
        size_t s = i + 2, e = s;
        while (validate_ident_char(in[e], false))
            e++;
        const char *def = NULL;
        size_t def_len = 0, end;
        if (in[e] == '}') {
            end = e + 1;
        } else if (in[e] == ':' && in[e + 1] == '-') {
            const char *close = strchr(in + e + 2, '}');
            if (!close) {
                snprintf(err, errlen, "unterminated '${' in '%s'", in);
                goto out;
            }
            def = in + e + 2;
            def_len = (size_t)(close - def);
            end = (size_t)(close - in) + 1;
        } else {
            snprintf(err, errlen,
                     "invalid variable reference in '%s' (use ${VAR} or "
                     "${VAR:-default}, and $$ for a literal '$')",
                     in);
            goto out;
        }
        free(name);
        name = xstrndup(in + s, e - s);
        const char *v = getenv(name);
        if (def && (!v || !*v))
            buf_add(&b, def, def_len);
        else if (v)
            buf_adds(&b, v);
        else {
            snprintf(err, errlen, "environment variable '%s' is not set", name);
            goto out;
        }
        i = end;
    }
    if (buf_error(&b)) {
        snprintf(err, errlen, "value is longer than %zu bytes", max);
        goto out;
    }
    *out = buf_detach(&b, NULL);
    rc = 0;
out:
    free(name);
    buf_release(&b);
    return rc;
}
