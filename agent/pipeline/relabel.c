#include "pipeline/relabel.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "config.h"
#include "util/buf.h"
#include "util/regex.h"
#include "util/validate.h"
#include "util/xalloc.h"

/* A value built by relabeling (joined sources, an expansion) is bounded by
 * the labels it comes from; this cap only guards against a pathological
 * template. Past it the rule does nothing. */
#define RELABEL_MAX_VALUE (1u << 20)

/* A template (replacement or target_label) pre-split into literal pieces
 * and group references, so that applying it never parses. */
struct tpart {
    const char *lit; /* NULL for a group reference */
    size_t len;
    int group; /* -1: a group that does not exist, expands to nothing */
};

struct tmpl {
    char *src;
    struct tpart *parts;
    size_t nparts;
};

struct rule {
    enum relabel_action action;
    char **src;
    size_t *src_len;
    size_t nsrc;
    char *sep;
    size_t sep_len;
    pcre2_code *re;
    pcre2_match_data *md;
    struct tmpl target;
    struct tmpl repl;
    char *target_label;
    size_t target_len;
    uint64_t modulus;
};

struct relabel {
    struct rule *rules;
    size_t n;
    EVP_MD *md5;
    EVP_MD_CTX *md5ctx;
    struct buf val;
    struct buf out_name;
    struct buf out_value;
    struct label *snap; /* labelmap iterates over a snapshot */
    size_t snap_cap;
};

static const char *const action_names[RELABEL_N_ACTIONS] = {
    [RELABEL_REPLACE] = "replace",     [RELABEL_KEEP] = "keep",
    [RELABEL_DROP] = "drop",           [RELABEL_LABELDROP] = "labeldrop",
    [RELABEL_LABELKEEP] = "labelkeep", [RELABEL_LABELMAP] = "labelmap",
    [RELABEL_HASHMOD] = "hashmod",     [RELABEL_LOWERCASE] = "lowercase",
    [RELABEL_UPPERCASE] = "uppercase",
};

const char *relabel_action_name(enum relabel_action a)
{
    return (unsigned)a < RELABEL_N_ACTIONS ? action_names[a] : NULL;
}

int relabel_action_parse(const char *s, enum relabel_action *a)
{
    for (unsigned i = 0; i < RELABEL_N_ACTIONS; i++) {
        if (strcmp(s, action_names[i]) == 0) {
            *a = (enum relabel_action)i;
            return 0;
        }
    }
    return -1;
}

static void rule_error(char *err, size_t errlen, const struct cfg_relabel *c,
                       const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void rule_error(char *err, size_t errlen, const struct cfg_relabel *c,
                       const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->line > 0)
        snprintf(err, errlen, "%d:%d: %s", c->line, c->col, msg);
    else
        snprintf(err, errlen, "%s", msg);
}

static bool is_word(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_';
}

/* Parses a reference after the '$' at s[i]; returns the index after it, or
 * 0 when the text there is not a reference (Go then keeps the '$'). */
static size_t parse_ref(const char *s, size_t n, size_t i, size_t *name_off,
                        size_t *name_len)
{
    size_t j = i + 1;
    bool brace = j < n && s[j] == '{';
    if (brace)
        j++;
    size_t start = j;
    while (j < n && is_word((unsigned char)s[j]))
        j++;
    if (j == start)
        return 0;
    *name_off = start;
    *name_len = j - start;
    if (brace) {
        if (j >= n || s[j] != '}')
            return 0;
        j++;
    }
    return j;
}

/* Prometheus's relabelTarget: word characters and references only, not
 * starting with a digit. */
static bool valid_target_template(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || (s[0] >= '0' && s[0] <= '9'))
        return false;
    size_t i = 0;
    while (i < n) {
        if (s[i] == '$') {
            size_t off, len;
            size_t next = parse_ref(s, n, i, &off, &len);
            if (!next)
                return false;
            i = next;
        } else if (is_word((unsigned char)s[i])) {
            i++;
        } else {
            return false;
        }
    }
    return true;
}

static int group_number(const pcre2_code *re, const char *name, size_t len)
{
    bool digits = true;
    long num = 0;
    for (size_t i = 0; i < len; i++) {
        if (name[i] < '0' || name[i] > '9' || num >= 100000000) {
            digits = false;
            break;
        }
        num = num * 10 + (name[i] - '0');
    }
    /* Go refuses leading zeros as a number and looks the text up as a
     * name, which then does not exist. */
    if (digits && !(name[0] == '0' && len > 1)) {
        uint32_t ncap = 0;
        pcre2_pattern_info(re, PCRE2_INFO_CAPTURECOUNT, &ncap);
        return num <= (long)ncap ? (int)num : -1;
    }
    char tmp[256];
    if (len >= sizeof(tmp))
        return -1;
    memcpy(tmp, name, len);
    tmp[len] = '\0';
    int g = pcre2_substring_number_from_name(re, (PCRE2_SPTR)tmp);
    return g > 0 ? g : -1;
}

static void tmpl_compile(struct tmpl *t, const char *src, const pcre2_code *re)
{
    t->src = xstrdup(src);
    size_t n = strlen(t->src);
    const char *s = t->src;
    size_t cap = 0;
    t->parts = NULL;
    t->nparts = 0;
    size_t i = 0;
    while (i < n) {
        struct tpart p = {.lit = NULL, .len = 0, .group = -1};
        size_t next;
        if (s[i] != '$') {
            size_t j = i;
            while (j < n && s[j] != '$')
                j++;
            p.lit = s + i;
            p.len = j - i;
            next = j;
        } else if (i + 1 < n && s[i + 1] == '$') {
            p.lit = s + i;
            p.len = 1;
            next = i + 2;
        } else {
            size_t off, len;
            next = parse_ref(s, n, i, &off, &len);
            if (next) {
                p.group = group_number(re, s + off, len);
            } else {
                p.lit = s + i;
                p.len = 1;
                next = i + 1;
            }
        }
        t->parts = xgrow(t->parts, &cap, t->nparts + 1, sizeof(*t->parts));
        t->parts[t->nparts++] = p;
        i = next;
    }
}

static void tmpl_free(struct tmpl *t)
{
    free(t->src);
    free(t->parts);
}

static void tmpl_expand(const struct tmpl *t, const char *subj,
                        const PCRE2_SIZE *ov, int npairs, struct buf *out)
{
    buf_reset(out);
    for (size_t i = 0; i < t->nparts; i++) {
        const struct tpart *p = &t->parts[i];
        if (p->lit) {
            buf_add(out, p->lit, p->len);
            continue;
        }
        if (p->group < 0 || p->group >= npairs)
            continue;
        PCRE2_SIZE a = ov[2 * p->group], b = ov[2 * p->group + 1];
        if (a == PCRE2_UNSET || b < a)
            continue;
        buf_add(out, subj + a, b - a);
    }
}

/* Compiles the user's regex the one way (util/regex.h): anchored as
 * Prometheus does. */
static pcre2_code *compile_anchored(const char *user, char *msg, size_t len)
{
    char why[300];
    pcre2_code *re = regex_compile(user, why, sizeof(why));
    if (!re)
        snprintf(msg, len, "invalid regex '%s': %s", user, why);
    return re;
}

static int compile_regex(struct rule *r, const struct cfg_relabel *c, char *err,
                         size_t errlen)
{
    char msg[400];
    r->re = compile_anchored(c->regex ? c->regex : "(.*)", msg, sizeof(msg));
    if (!r->re) {
        rule_error(err, errlen, c, "%s", msg);
        return -1;
    }
    r->md = pcre2_match_data_create_from_pattern(r->re, NULL);
    return 0;
}

struct relabel_regex {
    pcre2_code *re;
    pcre2_match_data *md;
};

struct relabel_regex *relabel_regex_new(const char *re, char *err,
                                        size_t errlen)
{
    pcre2_code *code = compile_anchored(re, err, errlen);
    if (!code)
        return NULL;
    struct relabel_regex *rx = xcalloc(1, sizeof(*rx));
    rx->re = code;
    rx->md = pcre2_match_data_create_from_pattern(code, NULL);
    return rx;
}

bool relabel_regex_match(struct relabel_regex *rx, const char *s, size_t n)
{
    return pcre2_match(rx->re, (PCRE2_SPTR)s, n, 0, 0, rx->md, NULL) > 0;
}

void relabel_regex_free(struct relabel_regex **rxp)
{
    if (!rxp || !*rxp)
        return;
    pcre2_match_data_free((*rxp)->md);
    pcre2_code_free((*rxp)->re);
    free(*rxp);
    *rxp = NULL;
}

static int validate(const struct cfg_relabel *c, char *err, size_t errlen)
{
    const char *act = relabel_action_name(c->action);
    if (!act) {
        rule_error(err, errlen, c, "unknown relabel action %d", c->action);
        return -1;
    }
    const char *tl = c->target_label ? c->target_label : "";
    const char *repl = c->replacement ? c->replacement : "$1";
    switch (c->action) {
    case RELABEL_REPLACE:
        if (!*tl)
            goto need_target;
        if (!valid_target_template(tl))
            goto bad_target;
        break;
    case RELABEL_HASHMOD:
        if (c->modulus == 0) {
            rule_error(err, errlen, c,
                       "relabel action 'hashmod' requires a non-zero "
                       "'modulus'");
            return -1;
        }
        /* fallthrough */
    case RELABEL_LOWERCASE:
    case RELABEL_UPPERCASE:
        if (!*tl)
            goto need_target;
        if (!validate_label_name(tl, strlen(tl)))
            goto bad_target;
        break;
    case RELABEL_LABELMAP:
        if (!valid_target_template(repl)) {
            rule_error(err, errlen, c,
                       "'%s' is an invalid 'replacement' for relabel action "
                       "'labelmap'",
                       repl);
            return -1;
        }
        break;
    case RELABEL_LABELDROP:
    case RELABEL_LABELKEEP:
        if (c->n_source_labels || *tl) {
            rule_error(err, errlen, c, "relabel action '%s' takes only 'regex'",
                       act);
            return -1;
        }
        break;
    case RELABEL_KEEP:
    case RELABEL_DROP:
        break;
    }
    return 0;
need_target:
    rule_error(err, errlen, c, "relabel action '%s' requires 'target_label'",
               act);
    return -1;
bad_target:
    rule_error(err, errlen, c,
               "'%s' is an invalid 'target_label' for relabel action '%s'", tl,
               act);
    return -1;
}

static int rule_init(struct relabel *rl, struct rule *r,
                     const struct cfg_relabel *c, char *err, size_t errlen)
{
    r->action = c->action;
    if (validate(c, err, errlen) < 0)
        return -1;
    if (compile_regex(r, c, err, errlen) < 0)
        return -1;
    r->nsrc = c->n_source_labels;
    r->src = xcalloc(r->nsrc ? r->nsrc : 1, sizeof(*r->src));
    r->src_len = xcalloc(r->nsrc ? r->nsrc : 1, sizeof(*r->src_len));
    for (size_t i = 0; i < r->nsrc; i++) {
        r->src[i] = xstrdup(c->source_labels[i]);
        r->src_len[i] = strlen(r->src[i]);
    }
    r->sep = xstrdup(c->separator ? c->separator : ";");
    r->sep_len = strlen(r->sep);
    r->target_label = xstrdup(c->target_label ? c->target_label : "");
    r->target_len = strlen(r->target_label);
    tmpl_compile(&r->target, r->target_label, r->re);
    tmpl_compile(&r->repl, c->replacement ? c->replacement : "$1", r->re);
    r->modulus = c->modulus;
    if (r->action == RELABEL_HASHMOD && !rl->md5) {
        rl->md5 = EVP_MD_fetch(NULL, "MD5", NULL);
        rl->md5ctx = EVP_MD_CTX_new();
        if (!rl->md5 || !rl->md5ctx) {
            rule_error(err, errlen, c,
                       "action 'hashmod' is not supported: md5 is not "
                       "available from libcrypto");
            return -1;
        }
    }
    return 0;
}

static void rule_free(struct rule *r)
{
    for (size_t i = 0; i < r->nsrc; i++)
        free(r->src[i]);
    free(r->src);
    free(r->src_len);
    free(r->sep);
    free(r->target_label);
    tmpl_free(&r->target);
    tmpl_free(&r->repl);
    pcre2_match_data_free(r->md);
    pcre2_code_free(r->re);
}

struct relabel *relabel_new(const struct cfg_relabel *r, size_t n, char *err,
                            size_t errlen)
{
    struct relabel *rl = xcalloc(1, sizeof(*rl));
    buf_init(&rl->val, RELABEL_MAX_VALUE);
    buf_init(&rl->out_name, RELABEL_MAX_VALUE);
    buf_init(&rl->out_value, RELABEL_MAX_VALUE);
    rl->rules = xcalloc(n ? n : 1, sizeof(*rl->rules));
    for (size_t i = 0; i < n; i++) {
        rl->n = i + 1; /* so that relabel_free frees a partial rule too */
        if (rule_init(rl, &rl->rules[i], &r[i], err, errlen) < 0)
            goto fail;
    }
    rl->n = n;
    return rl;
fail:
    relabel_free(&rl);
    return NULL;
}

void relabel_free(struct relabel **rlp)
{
    if (!rlp || !*rlp)
        return;
    struct relabel *rl = *rlp;
    for (size_t i = 0; i < rl->n; i++)
        rule_free(&rl->rules[i]);
    free(rl->rules);
    EVP_MD_CTX_free(rl->md5ctx);
    EVP_MD_free(rl->md5);
    buf_release(&rl->val);
    buf_release(&rl->out_name);
    buf_release(&rl->out_value);
    free(rl->snap);
    free(rl);
    *rlp = NULL;
}

size_t relabel_count(const struct relabel *rl)
{
    return rl->n;
}

/* Returns the number of ovector pairs set (> 0) on a match, else 0. */
static int match(struct rule *r, const char *s, size_t n)
{
    int rc = pcre2_match(r->re, (PCRE2_SPTR)s, n, 0, 0, r->md, NULL);
    return rc > 0 ? rc : 0;
}

static void join_sources(struct relabel *rl, const struct rule *r,
                         const struct labelset *ls)
{
    buf_reset(&rl->val);
    for (size_t i = 0; i < r->nsrc; i++) {
        if (i)
            buf_add(&rl->val, r->sep, r->sep_len);
        size_t vlen;
        const char *v = labelset_get(ls, r->src[i], r->src_len[i], &vlen);
        if (v)
            buf_add(&rl->val, v, vlen);
    }
}

static void do_replace(struct relabel *rl, struct rule *r, struct labelset *ls)
{
    const char *val = rl->val.data;
    int npairs = match(r, val, rl->val.len);
    if (!npairs)
        return;
    const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
    tmpl_expand(&r->target, val, ov, npairs, &rl->out_name);
    if (buf_error(&rl->out_name) ||
        !validate_label_name(rl->out_name.data, rl->out_name.len))
        return;
    tmpl_expand(&r->repl, val, ov, npairs, &rl->out_value);
    if (buf_error(&rl->out_value))
        return;
    labelset_set(ls, rl->out_name.data, rl->out_name.len, rl->out_value.data,
                 rl->out_value.len);
}

static void do_case(struct relabel *rl, struct rule *r, struct labelset *ls,
                    bool upper)
{
    char *p = rl->val.data;
    for (size_t i = 0; i < rl->val.len; i++) {
        char c = p[i];
        if (upper && c >= 'a' && c <= 'z')
            p[i] = (char)(c - 'a' + 'A');
        else if (!upper && c >= 'A' && c <= 'Z')
            p[i] = (char)(c - 'A' + 'a');
    }
    labelset_set(ls, r->target_label, r->target_len, p, rl->val.len);
}

static void do_hashmod(struct relabel *rl, struct rule *r, struct labelset *ls)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_DigestInit_ex2(rl->md5ctx, rl->md5, NULL) != 1 ||
        EVP_DigestUpdate(rl->md5ctx, rl->val.data, rl->val.len) != 1 ||
        EVP_DigestFinal_ex(rl->md5ctx, md, &mdlen) != 1 || mdlen != 16)
        return;
    uint64_t h = 0;
    for (int i = 8; i < 16; i++)
        h = (h << 8) | md[i];
    char num[24];
    int len = snprintf(num, sizeof(num), "%" PRIu64, h % r->modulus);
    labelset_set(ls, r->target_label, r->target_len, num, (size_t)len);
}

static void do_labelmap(struct relabel *rl, struct rule *r, struct labelset *ls)
{
    size_t n;
    const struct label *items = labelset_items(ls, &n);
    if (n > rl->snap_cap)
        rl->snap = xgrow(rl->snap, &rl->snap_cap, n, sizeof(*rl->snap));
    if (n)
        memcpy(rl->snap, items, n * sizeof(*items));
    for (size_t i = 0; i < n; i++) {
        const struct label *l = &rl->snap[i];
        int npairs = match(r, l->name, l->name_len);
        if (!npairs)
            continue;
        const PCRE2_SIZE *ov = pcre2_get_ovector_pointer(r->md);
        tmpl_expand(&r->repl, l->name, ov, npairs, &rl->out_name);
        if (buf_error(&rl->out_name) ||
            !validate_label_name(rl->out_name.data, rl->out_name.len))
            continue;
        labelset_set(ls, rl->out_name.data, rl->out_name.len, l->value,
                     l->value_len);
    }
}

static void do_labelfilter(struct rule *r, struct labelset *ls, bool keep)
{
    size_t n;
    struct label *items = labelset_items(ls, &n);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        bool m = match(r, items[i].name, items[i].name_len) > 0;
        if (m == keep)
            items[o++] = items[i];
    }
    labelset_truncate(ls, o);
}

int relabel_apply(struct relabel *rl, struct labelset *ls)
{
    for (size_t i = 0; i < rl->n; i++) {
        struct rule *r = &rl->rules[i];
        switch (r->action) {
        case RELABEL_DROP:
        case RELABEL_KEEP:
            join_sources(rl, r, ls);
            if (buf_error(&rl->val))
                break;
            if ((match(r, rl->val.data, rl->val.len) > 0) ==
                (r->action == RELABEL_DROP))
                return 1;
            break;
        case RELABEL_REPLACE:
            join_sources(rl, r, ls);
            if (!buf_error(&rl->val))
                do_replace(rl, r, ls);
            break;
        case RELABEL_LOWERCASE:
        case RELABEL_UPPERCASE:
            join_sources(rl, r, ls);
            if (!buf_error(&rl->val))
                do_case(rl, r, ls, r->action == RELABEL_UPPERCASE);
            break;
        case RELABEL_HASHMOD:
            join_sources(rl, r, ls);
            if (!buf_error(&rl->val))
                do_hashmod(rl, r, ls);
            break;
        case RELABEL_LABELMAP:
            do_labelmap(rl, r, ls);
            break;
        case RELABEL_LABELDROP:
            do_labelfilter(r, ls, false);
            break;
        case RELABEL_LABELKEEP:
            do_labelfilter(r, ls, true);
            break;
        }
    }
    return 0;
}
