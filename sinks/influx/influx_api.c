#include "influx/influx_api.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http_client.h"
#include "util/xalloc.h"

#define REC_MAGIC_V1 "LWI2"
#define REC_MAGIC_V2 "LWV2"

enum influx_api_version influx_api_of(const struct cfg_influx_node *cn)
{
    return cn->api && strcmp(cn->api, "v2") == 0 ? INFLUX_API_V2
                                                 : INFLUX_API_V1;
}

void influx_dest_free(struct influx_dest *d)
{
    if (!d)
        return;
    free(d->db);
    free(d->rp);
    free(d->org);
    free(d->bucket);
    memset(d, 0, sizeof(*d));
}

static bool too_long(const char *s)
{
    return s && strlen(s) > INFLUX_API_NAME_MAX;
}

int influx_dest_for_node(struct influx_dest *d,
                         const struct cfg_influx_node *cn,
                         const struct cfg_influx *cfg, char *err, size_t errlen)
{
    const char *name = cn->name ? cn->name : "";
    const char *db = cfg->database ? cfg->database : "";
    const char *rp = cfg->retention_policy ? cfg->retention_policy : "";
    memset(d, 0, sizeof(*d));
    d->api = influx_api_of(cn);
    if (d->api == INFLUX_API_V1) {
        if (!db[0]) {
            snprintf(err, errlen, "no influxdb database for node '%s'", name);
            goto fail;
        }
        d->db = xstrdup(db);
        d->rp = xstrdup(rp);
    } else {
        if (!cn->org || !cn->org[0]) {
            snprintf(err, errlen, "node '%s' (api v2) has no org", name);
            goto fail;
        }
        d->org = xstrdup(cn->org);
        if (cn->bucket && cn->bucket[0]) {
            d->bucket = xstrdup(cn->bucket);
        } else if (db[0]) {
            struct buf b = BUF_INIT;
            buf_adds(&b, db);
            if (rp[0]) {
                buf_addc(&b, '/');
                buf_adds(&b, rp);
            }
            d->bucket = buf_detach(&b, NULL);
        } else {
            snprintf(err, errlen,
                     "node '%s' (api v2) has no bucket and there is no "
                     "database to derive one from",
                     name);
            goto fail;
        }
    }
    if (too_long(d->db) || too_long(d->rp) || too_long(d->org) ||
        too_long(d->bucket)) {
        snprintf(err, errlen,
                 "node '%s': database, retention policy, org or bucket "
                 "name longer than %u bytes",
                 name, INFLUX_API_NAME_MAX);
        goto fail;
    }
    return 0;
fail:
    influx_dest_free(d);
    return -1;
}

static bool str_eq(const char *a, const char *b)
{
    return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

bool influx_dest_equal(const struct influx_dest *a, const struct influx_dest *b)
{
    return a->api == b->api && str_eq(a->db, b->db) && str_eq(a->rp, b->rp) &&
           str_eq(a->org, b->org) && str_eq(a->bucket, b->bucket);
}

void influx_dest_describe(const struct influx_dest *d, struct buf *out)
{
    if (d->api == INFLUX_API_V1)
        buf_addf(out, "database '%s' retention policy '%s'", d->db, d->rp);
    else
        buf_addf(out, "org '%s' bucket '%s'", d->org, d->bucket);
}

bool influx_dest_can_create(const struct influx_dest *d)
{
    return d->api == INFLUX_API_V1;
}

static void add_pct(struct buf *b, const char *s)
{
    http_client_add_pct(b, s, "-._~");
}

char *influx_api_write_url(const char *base, const struct influx_dest *d)
{
    struct buf b = BUF_INIT;
    buf_adds(&b, base);
    if (d->api == INFLUX_API_V1) {
        buf_adds(&b, "/write?db=");
        add_pct(&b, d->db);
        if (d->rp[0]) {
            buf_adds(&b, "&rp=");
            add_pct(&b, d->rp);
        }
    } else {
        buf_adds(&b, "/api/v2/write?org=");
        add_pct(&b, d->org);
        buf_adds(&b, "&bucket=");
        add_pct(&b, d->bucket);
    }
    buf_adds(&b, "&precision=ms");
    return buf_detach(&b, NULL);
}

static char *join(const char *base, const char *path)
{
    struct buf b = BUF_INIT;
    buf_adds(&b, base);
    buf_adds(&b, path);
    return buf_detach(&b, NULL);
}

char *influx_api_query_url(const char *base)
{
    return join(base, "/query");
}

char *influx_api_ping_url(const char *base)
{
    return join(base, "/ping");
}

bool influx_api_ping_ok(enum influx_api_version api, long status)
{
    if (api == INFLUX_API_V1)
        return status == 204;
    return status >= 200 && status < 300;
}

char *influx_api_auth_header(const struct cfg_influx_node *cn)
{
    if (influx_api_of(cn) != INFLUX_API_V2 || !cn->token || !cn->token[0])
        return NULL;
    return join("Authorization: Token ", cn->token);
}

bool influx_api_sends_basic(const struct cfg_influx_node *cn)
{
    return influx_api_of(cn) == INFLUX_API_V1 || !cn->token || !cn->token[0];
}

static void names_of(const struct influx_dest *d, const char **a,
                     const char **b)
{
    *a = d->api == INFLUX_API_V1 ? d->db : d->org;
    *b = d->api == INFLUX_API_V1 ? d->rp : d->bucket;
}

size_t influx_api_rec_head_len(const struct influx_dest *d)
{
    const char *a, *b;
    names_of(d, &a, &b);
    return (8 + strlen(a) + strlen(b) + 3) & ~(size_t)3;
}

void influx_api_rec_head(const struct influx_dest *d, unsigned char *out)
{
    const char *a, *b;
    names_of(d, &a, &b);
    size_t al = strlen(a), bl = strlen(b);
    size_t hlen = influx_api_rec_head_len(d);
    memset(out, 0, hlen);
    memcpy(out, d->api == INFLUX_API_V1 ? REC_MAGIC_V1 : REC_MAGIC_V2, 4);
    out[4] = (unsigned char)(al & 0xff);
    out[5] = (unsigned char)(al >> 8);
    out[6] = (unsigned char)(bl & 0xff);
    out[7] = (unsigned char)(bl >> 8);
    memcpy(out + 8, a, al);
    memcpy(out + 8 + al, b, bl);
}

size_t influx_api_rec_parse(const void *rec, size_t len,
                            struct influx_dest *out)
{
    const unsigned char *p = rec;
    memset(out, 0, sizeof(*out));
    if (len < 8)
        return 0;
    if (memcmp(p, REC_MAGIC_V1, 4) == 0)
        out->api = INFLUX_API_V1;
    else if (memcmp(p, REC_MAGIC_V2, 4) == 0)
        out->api = INFLUX_API_V2;
    else
        return 0;
    size_t al = p[4] | (size_t)p[5] << 8, bl = p[6] | (size_t)p[7] << 8;
    size_t hlen = (8 + al + bl + 3) & ~(size_t)3;
    /* a v1 record needs a database; a v2 one an org and a bucket */
    if (al == 0 || (out->api == INFLUX_API_V2 && bl == 0) || len < hlen)
        return 0;
    const char *a = (const char *)p + 8, *b = a + al;
    if (memchr(a, '\0', al + bl))
        return 0;
    if (out->api == INFLUX_API_V1) {
        out->db = xstrndup(a, al);
        out->rp = xstrndup(b, bl);
    } else {
        out->org = xstrndup(a, al);
        out->bucket = xstrndup(b, bl);
    }
    return hlen;
}
