#include "util/validate.h"

#include <string.h>

bool validate_ident_char(char ch, bool first)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
           (!first && ch >= '0' && ch <= '9');
}

bool validate_label_name(const char *s, size_t n)
{
    if (n == 0 || !validate_ident_char(s[0], true))
        return false;
    for (size_t i = 1; i < n; i++)
        if (!validate_ident_char(s[i], false))
            return false;
    return true;
}

static bool valid_port(const char *p, size_t len, bool allow_zero)
{
    unsigned v = 0;
    if (len == 0 || len > 5)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (p[i] < '0' || p[i] > '9')
            return false;
        v = v * 10 + (unsigned)(p[i] - '0');
    }
    return v <= 65535 && (allow_zero || v > 0);
}

static bool host_char(char ch)
{
    return validate_ident_char(ch, false) || ch == '-' || ch == '.';
}

/* Checks a host (name, IPv4 or [IPv6]) starting at s; *end is set past
 * it. NULL or the reason it is invalid. */
static const char *scan_host(const char *s, const char **end, bool allow_empty)
{
    const char *p = s;
    if (*p == '[') {
        p++;
        while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
               (*p >= 'A' && *p <= 'F') || *p == ':' || *p == '.')
            p++;
        if (*p != ']' || p == s + 1)
            return "invalid IPv6 address";
        *end = p + 1;
        return NULL;
    }
    while (host_char(*p))
        p++;
    if (p == s && !allow_empty)
        return "missing host";
    *end = p;
    return NULL;
}

const char *validate_url(const char *u)
{
    const char *p, *e;
    for (p = u; *p; p++)
        if ((unsigned char)*p <= ' ' || *p == 0x7f)
            return "contains a space or control character";
    if (strncmp(u, "http://", 7) == 0)
        p = u + 7;
    else if (strncmp(u, "https://", 8) == 0)
        p = u + 8;
    else
        return "must start with http:// or https://";
    const char *why = scan_host(p, &e, false);
    if (why)
        return why;
    p = e;
    if (*p == ':') {
        const char *port = ++p;
        while (*p >= '0' && *p <= '9')
            p++;
        if (!valid_port(port, (size_t)(p - port), false))
            return "invalid port";
    }
    if (*p && *p != '/')
        return "invalid character in host";
    return NULL;
}

const char *validate_hostport(const char *s, bool listen)
{
    const char *e;
    const char *why = scan_host(s, &e, listen);
    if (why)
        return why;
    if (*e != ':')
        return *e ? "invalid character in host" : "expected host:port";
    if (!valid_port(e + 1, strlen(e + 1), listen))
        return "invalid port";
    return NULL;
}

const char *validate_u64(const char *s, uint64_t *v)
{
    uint64_t x = 0;
    if (*s == '-' && s[1])
        return "must not be negative";
    if (!*s)
        return "must be an integer";
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return "must be an integer";
        uint64_t d = (uint64_t)(*p - '0');
        if (x > (UINT64_MAX - d) / 10)
            return "is too large";
        x = x * 10 + d;
    }
    *v = x;
    return NULL;
}
