#include "proxy/lpparse.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int64_t lpparse_precision(const char *p)
{
    if (!p || !p[0] || strcmp(p, "ns") == 0 || strcmp(p, "n") == 0)
        return 1;
    if (strcmp(p, "u") == 0 || strcmp(p, "us") == 0)
        return 1000;
    if (strcmp(p, "ms") == 0)
        return 1000000;
    if (strcmp(p, "s") == 0)
        return 1000000000LL;
    if (strcmp(p, "m") == 0)
        return 60LL * 1000000000LL;
    if (strcmp(p, "h") == 0)
        return 3600LL * 1000000000LL;
    return 0;
}

/* Scans an escaped token from *pos up to an unescaped byte of stop (or
 * the end), unescaping the bytes of esc; appends it NUL-terminated to the
 * text and returns its offset there, -1 when empty. */
static long token(struct lp_line *l, const char *s, size_t len, size_t *pos,
                  const char *stop, const char *esc)
{
    size_t start = l->text.len;
    size_t i = *pos;
    while (i < len && !strchr(stop, s[i])) {
        if (s[i] == '\\' && i + 1 < len && strchr(esc, s[i + 1])) {
            buf_addc(&l->text, s[i + 1]);
            i += 2;
            continue;
        }
        buf_addc(&l->text, s[i]);
        i++;
    }
    *pos = i;
    if (l->text.len == start)
        return -1;
    buf_addc(&l->text, '\0');
    return (long)start;
}

static int cmp_tag(const void *a, const void *b)
{
    const struct label *x = a, *y = b;
    return strcmp(x->name, y->name);
}

/* A field value at s[*pos]: the kind, and for strings the unescaped text
 * appended to l->text (offset in *off). */
static int field_value(struct lp_line *l, const char *s, size_t len,
                       size_t *pos, struct field *f, long *off, char *err,
                       size_t errlen)
{
    size_t i = *pos;
    if (i >= len || s[i] == ' ' || s[i] == ',') {
        snprintf(err, errlen, "missing field value");
        return -1;
    }
    if (s[i] == '"') {
        i++;
        *off = (long)l->text.len;
        for (;;) {
            if (i >= len) {
                snprintf(err, errlen, "unbalanced quotes");
                return -1;
            }
            if (s[i] == '\\' && i + 1 < len &&
                (s[i + 1] == '"' || s[i + 1] == '\\')) {
                buf_addc(&l->text, s[i + 1]);
                i += 2;
                continue;
            }
            if (s[i] == '"')
                break;
            buf_addc(&l->text, s[i++]);
        }
        buf_addc(&l->text, '\0');
        f->kind = FIELD_STRING;
        *pos = i + 1;
        return 0;
    }
    size_t e = i;
    while (e < len && s[e] != ',' && s[e] != ' ')
        e++;
    char v[64];
    size_t vl = e - i;
    if (vl >= sizeof(v)) {
        snprintf(err, errlen, "invalid number");
        return -1;
    }
    memcpy(v, s + i, vl);
    v[vl] = '\0';
    *pos = e;
    static const char *const t[] = {"t", "T", "true", "True", "TRUE"};
    static const char *const fl[] = {"f", "F", "false", "False", "FALSE"};
    for (size_t k = 0; k < 5; k++) {
        if (strcmp(v, t[k]) == 0 || strcmp(v, fl[k]) == 0) {
            f->kind = FIELD_BOOL;
            f->b = strcmp(v, t[k]) == 0;
            return 0;
        }
    }
    char *end = NULL;
    errno = 0;
    if (vl > 1 && (v[vl - 1] == 'i' || v[vl - 1] == 'u')) {
        bool u = v[vl - 1] == 'u';
        v[vl - 1] = '\0';
        long long x = strtoll(v, &end, 10);
        if (errno || !end || *end || end == v ||
            (u && (v[0] == '-' || x < 0))) {
            snprintf(err, errlen, "unable to parse integer %s%c", v,
                     u ? 'u' : 'i');
            return -1;
        }
        f->kind = FIELD_INT;
        f->i = (int64_t)x;
        return 0;
    }
    double d = strtod(v, &end);
    if (errno == ERANGE || !end || *end || end == v ||
        strspn(v, "+-0123456789.eE") != vl) {
        snprintf(err, errlen, "invalid number");
        return -1;
    }
    f->kind = FIELD_FLOAT;
    f->f = d;
    return 0;
}

int lpparse_line(struct lp_line *l, const char *s, size_t len, int64_t prec_ns,
                 int64_t now_ns, char *err, size_t errlen)
{
    size_t pos = 0, ntags = 0, nfields = 0;
    long moff, toff[LPPARSE_MAX_TAGS][2], foff[LPPARSE_MAX_FIELDS][2];
    buf_reset(&l->text);
    memset(&l->point, 0, sizeof(l->point));
    /* the point's strings are C strings: a NUL would cut a name or value
     * short (or, after a backslash, leave it empty) */
    if (memchr(s, '\0', len)) {
        snprintf(err, errlen, "invalid NUL byte");
        return -1;
    }
    /* influxd unescapes "\=" and "\"" in a measurement too (what
     * sinks/influx/lineproto.c writes, measured against influxd 1.6.7) */
    moff = token(l, s, len, &pos, ", ", ", =\"");
    if (moff < 0) {
        snprintf(err, errlen, "missing measurement");
        return -1;
    }
    while (pos < len && s[pos] == ',') {
        pos++;
        if (ntags == LPPARSE_MAX_TAGS) {
            snprintf(err, errlen, "more than %d tags", LPPARSE_MAX_TAGS);
            return -1;
        }
        toff[ntags][0] = token(l, s, len, &pos, "=, ", ",= ");
        if (toff[ntags][0] < 0 || pos >= len || s[pos] != '=') {
            snprintf(err, errlen, "missing tag key");
            return -1;
        }
        pos++;
        toff[ntags][1] = token(l, s, len, &pos, ", =", ",= ");
        if (toff[ntags][1] < 0) {
            snprintf(err, errlen, "missing tag value");
            return -1;
        }
        ntags++;
    }
    if (pos >= len || s[pos] != ' ') {
        snprintf(err, errlen, "missing fields");
        return -1;
    }
    while (pos < len && s[pos] == ' ')
        pos++;
    for (;;) {
        if (nfields == LPPARSE_MAX_FIELDS) {
            snprintf(err, errlen, "more than %d fields", LPPARSE_MAX_FIELDS);
            return -1;
        }
        struct field *f = &l->fields[nfields];
        memset(f, 0, sizeof(*f));
        foff[nfields][0] = token(l, s, len, &pos, "= ,", ",= \"");
        if (foff[nfields][0] < 0 || pos >= len || s[pos] != '=') {
            snprintf(err, errlen, "missing fields");
            return -1;
        }
        pos++;
        foff[nfields][1] = -1;
        if (field_value(l, s, len, &pos, f, &foff[nfields][1], err, errlen) < 0)
            return -1;
        nfields++;
        if (pos < len && s[pos] == ',') {
            pos++;
            continue;
        }
        break;
    }
    int64_t ts = now_ns;
    while (pos < len && s[pos] == ' ')
        pos++;
    if (pos < len) {
        char v[32];
        size_t vl = len - pos;
        while (vl > 0 && (s[pos + vl - 1] == ' ' || s[pos + vl - 1] == '\r'))
            vl--;
        if (vl == 0 || vl >= sizeof(v)) {
            snprintf(err, errlen, "bad timestamp");
            return -1;
        }
        memcpy(v, s + pos, vl);
        v[vl] = '\0';
        char *end = NULL;
        errno = 0;
        long long t = strtoll(v, &end, 10);
        if (errno || !end || *end) {
            snprintf(err, errlen, "bad timestamp");
            return -1;
        }
        if (t > INT64_MAX / prec_ns || t < INT64_MIN / prec_ns) {
            snprintf(err, errlen, "time outside range");
            return -1;
        }
        ts = (int64_t)t * prec_ns;
        /* the point carries whole milliseconds, which the ring's writer
         * sends back in ms: the earliest is INT64_MIN / 10^6 of them */
        if (ts < INT64_MIN / 1000000 * 1000000) {
            snprintf(err, errlen, "time outside range");
            return -1;
        }
    }
    if (buf_error(&l->text)) {
        snprintf(err, errlen, "line too long");
        return -1;
    }
    /* the text is complete: pointers into it are stable now */
    const char *base = l->text.data;
    for (size_t i = 0; i < ntags; i++) {
        l->tags[i].name = base + toff[i][0];
        l->tags[i].value = base + toff[i][1];
        l->tags[i].name_len = (uint32_t)strlen(l->tags[i].name);
        l->tags[i].value_len = (uint32_t)strlen(l->tags[i].value);
    }
    qsort(l->tags, ntags, sizeof(l->tags[0]), cmp_tag);
    for (size_t i = 0; i < nfields; i++) {
        l->fields[i].key = base + foff[i][0];
        if (l->fields[i].kind == FIELD_STRING)
            l->fields[i].s = base + foff[i][1];
    }
    l->point.measurement = base + moff;
    l->point.tags = l->tags;
    l->point.ntags = ntags;
    l->point.fields = l->fields;
    l->point.nfields = nfields;
    /* floor division: a negative time stays in its millisecond */
    l->point.ts_ms = ts / 1000000 - (ts % 1000000 < 0);
    return 0;
}

void lpparse_release(struct lp_line *l)
{
    buf_release(&l->text);
}

bool lpparse_next_line(const char *body, size_t len, size_t *pos,
                       const char **line, size_t *ll)
{
    while (*pos < len) {
        const char *nl = memchr(body + *pos, '\n', len - *pos);
        size_t e = nl ? (size_t)(nl - body) : len;
        const char *l = body + *pos;
        size_t n = e - *pos;
        *pos = e + 1;
        while (n && (l[0] == ' ' || l[0] == '\t')) {
            l++;
            n--;
        }
        while (n && l[n - 1] == '\r')
            n--;
        if (n == 0 || l[0] == '#')
            continue;
        *line = l;
        *ll = n;
        return true;
    }
    return false;
}
