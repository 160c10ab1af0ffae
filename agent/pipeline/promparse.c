/* strtod_l and newlocale are POSIX 2008 / GNU: configure defines
 * _GNU_SOURCE (AC_USE_SYSTEM_EXTENSIONS). */
#include "pipeline/promparse.h"

#include <errno.h>
#include <inttypes.h>
#include <locale.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pipeline/promscan.h"
#include "pipeline/promvalue.h"
#include "util/bytes_eq.h"
#include "util/buf.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/xalloc.h"

/* Far above any sane exposition line; keeps max_line + 2 and the uint32_t
 * label lengths from overflowing whatever a config says. */
#define MAX_LINE_LIMIT ((size_t)1 << 30)
#define EXCERPT_BEFORE 24
#define EXCERPT_LEN    64

struct promparse {
    sample_fn fn;
    void *ctx;
    char *target;
    size_t max_line;
    size_t max_labels;
    unsigned max_logged;
    locale_t c_locale; /* strtod must not follow the process's locale */

    char *part; /* a line split across chunks, up to max_line + 1 */
    size_t part_len;
    bool skipping; /* dropping the rest of an overlong line */
    char *work;    /* writable copy of the line being parsed */
    struct label *labels;
    uint32_t *qpos; /* quote offsets, for parse_labels_fast() */
    /* The label names of the last line parse_labels_fast() took, known
     * valid and distinct: the lines of a family repeat them, so a line
     * that does skips checking its names (memo_off[i] into memo). */
    char *memo;
    uint32_t *memo_off;
    uint32_t *memo_len;
    size_t memo_n;
    /* promparse_label_shape(): memo_gen names the memo's contents (bumped
     * on every rewrite, seeded from the clock, see promparse_new());
     * shape is that of the sample being handed out, 0 when unknown. */
    uint64_t memo_gen;
    uint64_t shape;
    /* Gathers the quote offsets of a label set (AVX2 or SSE2); NULL
     * without SIMD, and then there is no fast label path. */
    promscan_gather_fn gather;

    /* The family opened by the latest HELP or TYPE line. */
    bool have_family;
    struct buf fam_name;
    struct buf fam_help;
    bool fam_has_help;
    enum metric_type fam_type;

    uint64_t lineno;
    struct promparse_stats st;
    bool aborted;
};

/* ====================== Character classes =========================== */

#define C_MFIRST 0x01 /* may start a metric name */
#define C_MNAME  0x02 /* may continue a metric name */
#define C_LFIRST 0x04 /* may start a label name */
#define C_LNAME  0x08 /* may continue a label name */
#define C_WS     0x10 /* separates tokens */
#define C_STOP   0x20 /* ends a value or timestamp token (NUL or blank) */

#define C_ALPHA (C_MFIRST | C_MNAME | C_LFIRST | C_LNAME)

static const unsigned char cls[256] = {
    ['a' ... 'z'] = C_ALPHA,
    ['A' ... 'Z'] = C_ALPHA,
    ['_'] = C_ALPHA,
    [':'] = C_MFIRST | C_MNAME,
    ['0' ... '9'] = C_MNAME | C_LNAME,
    [' '] = C_WS | C_STOP,
    ['\t'] = C_WS | C_STOP,
    ['\0'] = C_STOP,
};

static inline unsigned char cl(const char *q)
{
    return cls[(unsigned char)*q];
}

static inline char *skip_ws(char *q)
{
    while (cl(q) & C_WS)
        q++;
    return q;
}

/* ====================== Errors ====================================== */

/* Counts a malformed line and logs the first few of a body. at is the byte
 * offset in src where the problem was found. */
static void line_error(struct promparse *p, const char *src, size_t n,
                       size_t at, const char *why)
{
    p->st.errors++;
    if (p->st.errors > p->max_logged)
        return;
    if (at > n)
        at = n;
    size_t start = at > EXCERPT_BEFORE ? at - EXCERPT_BEFORE : 0;
    size_t len = n - start < EXCERPT_LEN ? n - start : EXCERPT_LEN;
    char ex[EXCERPT_LEN + 8];
    size_t j = 0;
    if (start > 0) {
        memcpy(ex, "...", 3);
        j = 3;
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)src[start + i];
        ex[j++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (start + len < n) {
        memcpy(ex + j, "...", 3);
        j += 3;
    }
    ex[j] = '\0';
    log_warn("malformed line in '%s' line %" PRIu64 ": %s (column %zu, "
             "near '%s')",
             p->target, p->lineno, why, at + 1, ex);
}

/* ====================== Families ==================================== */

static int family_open(struct promparse *p, const char *name, size_t len)
{
    if (p->have_family && p->fam_name.len == len &&
        memcmp(p->fam_name.data, name, len) == 0)
        return 0;
    buf_reset(&p->fam_name);
    buf_reset(&p->fam_help);
    if (buf_add(&p->fam_name, name, len) < 0)
        return -1;
    p->have_family = true;
    p->fam_has_help = false;
    p->fam_type = MT_UNTYPED;
    p->st.families++;
    return 0;
}

static bool suffix_is(const char *suf, size_t n, const char *lit, size_t litlen)
{
    return n == litlen && memcmp(suf, lit, n) == 0;
}

/* Whether a sample named name belongs to the current family: the bare
 * name, or one of the suffixes its TYPE implies. A summary's "_sum" is
 * optional (Flink omits it); nothing here depends on it being present. */
static bool family_owns(const struct promparse *p, const char *name, size_t len)
{
    size_t fl = p->fam_name.len;
    if (!p->have_family || len < fl || memcmp(name, p->fam_name.data, fl) != 0)
        return false;
    if (len == fl)
        return true;
    const char *suf = name + fl;
    size_t sl = len - fl;
    switch (p->fam_type) {
    case MT_COUNTER:
        return suffix_is(suf, sl, "_total", 6);
    case MT_SUMMARY:
        return suffix_is(suf, sl, "_count", 6) || suffix_is(suf, sl, "_sum", 4);
    case MT_HISTOGRAM:
        return suffix_is(suf, sl, "_count", 6) ||
               suffix_is(suf, sl, "_sum", 4) ||
               suffix_is(suf, sl, "_bucket", 7);
    case MT_GAUGE:
    case MT_UNTYPED:
        break;
    }
    return false;
}

/* ====================== Lines ======================================= */

/* Parses a metric name at q; returns its end, or NULL if q holds none. */
static char *scan_metric_name(char *q)
{
    if (!(cl(q) & C_MFIRST))
        return NULL;
    return promscan_name(q + 1, true);
}

/* Unescapes label value text in place from r (just after the opening quote
 * or at the first backslash) up to the closing quote. Like Prometheus's
 * textparse: \\, \" and \n are replaced, any other escape is kept as the
 * backslash and the character. Returns the position of the closing quote
 * and sets *wend to the end of the unescaped text, or NULL if the value is
 * unterminated. */
static char *unescape_lvalue(char *r, char **wend)
{
    char *w = r;
    for (;;) {
        char c = *r;
        if (c == '"')
            break;
        if (c == '\0')
            return NULL;
        if (c != '\\') {
            *w++ = c;
            r++;
            continue;
        }
        char e = r[1];
        if (e == '\0')
            return NULL;
        if (e == 'n') {
            *w++ = '\n';
        } else if (e == '\\' || e == '"') {
            *w++ = e;
        } else {
            *w++ = '\\';
            *w++ = e;
        }
        r += 2;
    }
    *wend = w;
    return r;
}

/* Whether label name ln repeats one of the nl before it. seen is a 64-bit
 * Bloom filter of the names so far, so the common case costs no scan. The
 * Fibonacci hash of first byte, last byte and length happens to give
 * Flink's operator-scope label names (plus "quantile") 12 distinct bits. */
static inline uint64_t label_bit(const char *ln, uint32_t lnl)
{
    uint64_t key = (uint64_t)(unsigned char)ln[0] |
                   (uint64_t)(unsigned char)ln[lnl - 1] << 8 |
                   (uint64_t)lnl << 16;
    return UINT64_C(1) << ((key * UINT64_C(0x9E3779B97F4A7C15)) >> 58);
}

static inline void label_seen(uint64_t *seen, const char *ln, uint32_t lnl)
{
    *seen |= label_bit(ln, lnl);
}

static inline bool label_dup(const struct promparse *p, size_t nl,
                             uint64_t *seen, const char *ln, uint32_t lnl)
{
    uint64_t bit = label_bit(ln, lnl);
    if (*seen & bit) {
        for (size_t i = 0; i < nl; i++)
            if (p->labels[i].name_len == lnl &&
                memcmp(p->labels[i].name, ln, lnl) == 0)
                return true;
    }
    *seen |= bit;
    return false;
}

/*
 * The label set as reporters write it, {name="value",...} with an optional
 * trailing comma, no blanks, no backslash and no NUL, parsed from the
 * positions of its quotes: one pass over the line collects them 16 bytes at
 * a time, and each label is then found from the array instead of from the
 * scan of the label before it, which keeps the CPU busy where the general
 * loop waits on one scan after another. q is just after the '{', end the
 * line's end. Returns the position after the '}' with the labels in
 * p->labels and *nlp set, or NULL, with the line as it was, for the general
 * loop to parse (and report) the line as usual.
 */
static char *parse_labels_fast(struct promparse *p, char *q, char *end,
                               size_t *nlp)
{
    uint32_t *qp = p->qpos;
    unsigned bad = 0;
    size_t nq = p->gather(q, end, qp, &bad);
    /* qpos has room for a quote per byte of the longest line */
    if (bad || nq > 2 * p->max_labels)
        return NULL;
    if (nq & 1)
        return NULL;
    size_t nl = 0;
    uint64_t seen = 0;
    char *pos = q;
    size_t k = 0;
    bool memo = true; /* the names so far are the memo's */
    for (; k < nq && *pos != '}'; k += 2) {
        char *open = q + qp[k], *close = q + qp[k + 1];
        char *ln = pos, *ln_end = open - 1;
        if (open - pos < 2 || *ln_end != '=')
            goto bail;
        uint32_t lnl = (uint32_t)(ln_end - ln);
        if (memo && !(nl < p->memo_n && lnl == p->memo_len[nl] &&
                      bytes_eq(ln, p->memo + p->memo_off[nl], lnl))) {
            /* off the memo: check from here on, with the names so far
             * in the duplicate filter */
            memo = false;
            for (size_t i = 0; i < nl; i++)
                label_seen(&seen, p->labels[i].name, p->labels[i].name_len);
        }
        if (!memo) {
            if (!(cl(ln) & C_LFIRST) || promscan_name(ln + 1, false) != ln_end)
                goto bail;
            if (nl == p->max_labels || label_dup(p, nl, &seen, ln, lnl))
                goto bail;
        }
        p->labels[nl].name = ln;
        p->labels[nl].name_len = lnl;
        p->labels[nl].value = open + 1;
        p->labels[nl].value_len = (uint32_t)(close - open - 1);
        nl++;
        /* undone at bail */
        *ln_end = '\0';
        *close = '\0';
        pos = close + 1;
        if (*pos == ',')
            pos++;
        else if (*pos != '}')
            goto bail;
    }
    if (k != nq || *pos != '}')
        goto bail;
    if (!memo || nl != p->memo_n) {
        size_t off = 0;
        for (size_t i = 0; i < nl; i++) {
            memcpy(p->memo + off, p->labels[i].name, p->labels[i].name_len);
            p->memo_off[i] = (uint32_t)off;
            p->memo_len[i] = p->labels[i].name_len;
            off += p->labels[i].name_len;
        }
        p->memo_n = nl;
        p->memo_gen++;
    }
    p->shape = p->memo_gen;
    p->st.fast_labels++;
    *nlp = nl;
    return pos + 1;
bail:
    /* the general loop parses the line as it came */
    for (size_t i = 0; i < nl; i++) {
        ((char *)p->labels[i].name)[p->labels[i].name_len] = '=';
        ((char *)p->labels[i].value)[p->labels[i].value_len] = '"';
    }
    return NULL;
}

#define FAIL(pos, msg)                                                         \
    do {                                                                       \
        *at = (size_t)((pos)-l);                                               \
        why = (msg);                                                           \
        goto out;                                                              \
    } while (0)

/* Parses the sample line l[0..n) (a writable copy, l[n] == '\0', no other
 * NUL) starting at its first non-blank byte q, and hands it on. Returns
 * NULL or the reason it is malformed, with *at its offset. */
static const char *parse_sample(struct promparse *p, char *l, size_t n, char *q,
                                size_t *at)
{
    const char *why = NULL;
    char *end = l + n;
    char *name = q;
    char *name_end = scan_metric_name(q);
    if (!name_end)
        FAIL(q, "invalid metric name");
    q = skip_ws(name_end);
    bool blank = q > name_end;

    size_t nl = 0;
    uint64_t seen = 0;
    p->shape = 0;
    if (*q == '{') {
        char *fq = p->gather ? parse_labels_fast(p, q + 1, end, &nl) : NULL;
        if (fq) {
            q = fq;
            goto labels_parsed;
        }
        q++;
        for (;;) {
            q = skip_ws(q);
            if (*q == '}')
                break;
            char *ln = q;
            if (!(cl(q) & C_LFIRST))
                FAIL(q, *q ? "invalid label name" : "unterminated label set");
            q = promscan_name(q + 1, false);
            char *ln_end = q;
            q = skip_ws(q);
            if (*q != '=')
                FAIL(q, "expected '=' after label name");
            q = skip_ws(q + 1);
            if (*q != '"')
                FAIL(q, "expected '\"' to open label value");
            char *v = ++q;
            char *close = promscan_lvalue(v);
            char *v_end = close;
            if (*close == '\\')
                close = unescape_lvalue(close, &v_end);
            if (!close || *close != '"')
                FAIL(v - 1, "unterminated label value");
            q = close + 1;

            if (nl == p->max_labels)
                FAIL(ln, "too many labels");
            uint32_t lnl = (uint32_t)(ln_end - ln);
            if (label_dup(p, nl, &seen, ln, lnl))
                FAIL(ln, "duplicate label name");
            *ln_end = '\0';
            *v_end = '\0';
            p->labels[nl].name = ln;
            p->labels[nl].name_len = lnl;
            p->labels[nl].value = v;
            p->labels[nl].value_len = (uint32_t)(v_end - v);
            nl++;

            q = skip_ws(q);
            if (*q == ',') {
                q++;
                continue;
            }
            if (*q == '}')
                break;
            FAIL(q, *q ? "expected ',' or '}' after label value"
                       : "unterminated label set");
        }
        q++;
labels_parsed:;
        char *after = q;
        q = skip_ws(q);
        blank = q > after;
    }
    if (*q == '\0')
        FAIL(q, "missing value");
    if (!blank)
        FAIL(q, nl ? "expected blank before value"
                   : "invalid character in metric name");

    char *val = q;
    while (!(cl(q) & C_STOP))
        q++;
    char *val_end = q;
    q = skip_ws(q);
    *val_end = '\0';
    struct sample s;
    if (promvalue_parse(val, (size_t)(val_end - val), p->c_locale, &s.value) <
        0)
        FAIL(val, "invalid value");

    s.has_ts = false;
    s.ts_ms = 0;
    if (*q) {
        char *ts = q;
        while (!(cl(q) & C_STOP))
            q++;
        if (promvalue_parse_ts(ts, (size_t)(q - ts), &s.ts_ms) < 0)
            FAIL(ts, "invalid timestamp");
        s.has_ts = true;
        q = skip_ws(q);
        if (*q)
            FAIL(q, "unexpected text after timestamp");
    }
    if (q != end)
        FAIL(q, "NUL byte in line");

    size_t name_len = (size_t)(name_end - name);
    *name_end = '\0';
    s.name = name;
    s.name_len = name_len;
    if (family_owns(p, name, name_len)) {
        s.family = p->fam_name.data;
        s.family_len = p->fam_name.len;
        s.type = p->fam_type;
        s.help = p->fam_has_help ? p->fam_help.data : NULL;
        s.help_len = p->fam_has_help ? p->fam_help.len : 0;
    } else {
        s.family = name;
        s.family_len = name_len;
        s.type = MT_UNTYPED;
        s.help = NULL;
        s.help_len = 0;
    }
    s.labels = p->labels;
    s.nlabels = nl;
    p->st.samples++;
    if (p->fn(p->ctx, &s) != 0)
        p->aborted = true;
out:
    return why;
}

static const struct {
    const char *word;
    enum metric_type type;
} type_words[] = {
    {"counter", MT_COUNTER}, {"gauge", MT_GAUGE},
    {"summary", MT_SUMMARY}, {"histogram", MT_HISTOGRAM},
    {"untyped", MT_UNTYPED},
};

/* Parses a comment line at q ('#'). HELP and TYPE open or update the
 * current family; any other comment is ignored. Same return as
 * parse_sample(). */
static const char *parse_comment(struct promparse *p, char *l, char *q,
                                 size_t *at)
{
    const char *why = NULL;
    q = skip_ws(q + 1);
    bool help = strncmp(q, "HELP", 4) == 0;
    if (!help && strncmp(q, "TYPE", 4) != 0)
        goto out;
    if (!(cl(q + 4) & C_WS))
        goto out; /* "# HELPER ..." or a bare "# HELP": a plain comment */
    q = skip_ws(q + 4);
    char *name = q;
    char *name_end = scan_metric_name(q);
    if (!name_end || !(cl(name_end) & C_STOP))
        FAIL(q, help ? "invalid metric name in HELP"
                     : "invalid metric name in TYPE");
    q = skip_ws(name_end);

    if (help) {
        /* HELP escapes, as in Prometheus: \\ and \n only, others kept. */
        char *w = q, *r = q;
        while (*r) {
            if (r[0] == '\\' && r[1] == '\\') {
                *w++ = '\\';
                r += 2;
            } else if (r[0] == '\\' && r[1] == 'n') {
                *w++ = '\n';
                r += 2;
            } else {
                *w++ = *r++;
            }
        }
        if (family_open(p, name, (size_t)(name_end - name)) < 0)
            FAIL(name, "metric name too long");
        buf_reset(&p->fam_help);
        if (buf_add(&p->fam_help, q, (size_t)(w - q)) < 0)
            FAIL(q, "HELP text too long");
        p->fam_has_help = true;
        goto out;
    }

    char *word = q;
    while (!(cl(q) & C_STOP))
        q++;
    size_t wl = (size_t)(q - word);
    if (*skip_ws(q))
        FAIL(skip_ws(q), "unexpected text after TYPE");
    size_t i;
    for (i = 0; i < sizeof(type_words) / sizeof(type_words[0]); i++)
        if (strlen(type_words[i].word) == wl &&
            memcmp(type_words[i].word, word, wl) == 0)
            break;
    if (i == sizeof(type_words) / sizeof(type_words[0]))
        FAIL(word, "unknown metric type");
    if (family_open(p, name, (size_t)(name_end - name)) < 0)
        FAIL(name, "metric name too long");
    p->fam_type = type_words[i].type;
out:
    return why;
}

#undef FAIL

/* One complete line src[0..n), newline excluded; src is not modified. */
static void handle_line(struct promparse *p, const char *src, size_t n)
{
    p->lineno++;
    p->st.lines++;
    if (n > 0 && src[n - 1] == '\r')
        n--;
    if (n > p->max_line) {
        char why[64];
        snprintf(why, sizeof(why), "line longer than %zu bytes", p->max_line);
        line_error(p, src, n, 0, why);
        return;
    }
    size_t i = 0;
    while (i < n && (src[i] == ' ' || src[i] == '\t'))
        i++;
    if (i == n)
        return;
    memcpy(p->work, src, n);
    p->work[n] = '\0';
    size_t at = 0;
    const char *why;
    /* The sample parser stops at a NUL like at the end of the line and then
     * finds itself short of the end, so only comments need this scan. */
    const char *nul = src[i] == '#' ? memchr(src, '\0', n) : NULL;
    if (nul)
        why = "NUL byte in line";
    else if (src[i] == '#')
        why = parse_comment(p, p->work, p->work + i, &at);
    else
        why = parse_sample(p, p->work, n, p->work + i, &at);
    if (why && !nul) {
        /* Name the NUL rather than what it looked like to the parser. */
        nul = memchr(src, '\0', n);
        if (nul)
            why = "NUL byte in line";
    }
    if (nul)
        at = (size_t)(nul - src);
    if (why)
        line_error(p, src, n, at, why);
}

/* ====================== API ========================================= */

struct promparse *promparse_new(const struct promparse_opts *o, sample_fn fn,
                                void *ctx)
{
    struct promparse_opts d = {0};
    if (o)
        d = *o;
    locale_t loc = newlocale(LC_NUMERIC_MASK, "C", (locale_t)0);
    if (loc == (locale_t)0)
        return NULL;
    struct promparse *p = xcalloc(1, sizeof(*p));
    p->fn = fn;
    p->ctx = ctx;
    p->c_locale = loc;
    p->target = xstrdup(d.target ? d.target : "-");
    p->max_line = d.max_line ? d.max_line : PROMPARSE_DEFAULT_MAX_LINE;
    if (p->max_line > MAX_LINE_LIMIT)
        p->max_line = MAX_LINE_LIMIT;
    p->max_labels = d.max_labels ? d.max_labels : PROMPARSE_DEFAULT_MAX_LABELS;
    p->max_logged = d.max_logged_errors ? d.max_logged_errors
                                        : PROMPARSE_DEFAULT_MAX_LOGGED_ERRORS;
    p->part = xmalloc(p->max_line + 2);
    p->work = xcalloc(1, p->max_line + 2 + PROMSCAN_PAD);
    p->labels = xcalloc(p->max_labels, sizeof(*p->labels));
    p->qpos = xcalloc(p->max_line + 32, sizeof(*p->qpos));
    p->memo = xmalloc(p->max_line + 1);
    p->memo_off = xcalloc(p->max_labels, sizeof(*p->memo_off));
    p->memo_len = xcalloc(p->max_labels, sizeof(*p->memo_len));
    /* A parser freed and another made at the same address must not reuse
     * a shape id a consumer may still hold for the old one: starting from
     * the monotonic clock in ns puts the new ids above every old one (the
     * old parser made at most one id per line parsed, far under one per
     * ns). */
    p->memo_gen = clock_mono_ns();
    p->gather = promscan_gather_for(d.no_avx2);
    buf_init(&p->fam_name, p->max_line + 1);
    buf_init(&p->fam_help, p->max_line + 1);
    return p;
}

void promparse_reset(struct promparse *p, const char *target)
{
    if (target) {
        free(p->target);
        p->target = xstrdup(target);
    }
    p->part_len = 0;
    p->skipping = false;
    p->memo_n = 0;
    p->have_family = false;
    p->fam_has_help = false;
    p->fam_type = MT_UNTYPED;
    buf_reset(&p->fam_name);
    buf_reset(&p->fam_help);
    p->lineno = 0;
    memset(&p->st, 0, sizeof(p->st));
    p->aborted = false;
}

int promparse_feed(struct promparse *p, const char *data, size_t len)
{
    const char *end = data + len;
    while (data < end && !p->aborted) {

        size_t avail = (size_t)(end - data);
        const char *nl = memchr(data, '\n', avail);
        if (p->skipping) {
            if (!nl)
                return 0;
            p->skipping = false;
            data = nl + 1;
            continue;
        }
        /* Room for max_line bytes plus a '\r' before the newline. */
        size_t room = p->max_line + 1 - p->part_len;
        size_t seg = nl ? (size_t)(nl - data) : avail;
        if (p->part_len == 0 && nl) {
            handle_line(p, data, seg);
        } else if (seg > room) {
            const char *src = p->part_len ? p->part : data;
            size_t sl = p->part_len ? p->part_len : seg;
            char why[64];
            p->lineno++;
            p->st.lines++;
            snprintf(why, sizeof(why), "line longer than %zu bytes",
                     p->max_line);
            line_error(p, src, sl, 0, why);
            p->part_len = 0;
            if (!nl) {
                p->skipping = true;
                return 0;
            }
        } else {
            memcpy(p->part + p->part_len, data, seg);
            p->part_len += seg;
            if (!nl)
                return 0;
            handle_line(p, p->part, p->part_len);
            p->part_len = 0;
        }
        data = nl + 1;
    }
    return p->aborted ? -1 : 0;
}

int promparse_finish(struct promparse *p)
{
    if (!p->aborted && p->part_len > 0 && !p->skipping)
        handle_line(p, p->part, p->part_len);
    p->part_len = 0;
    p->skipping = false;
    return p->aborted ? -1 : 0;
}

uint64_t promparse_label_shape(const struct promparse *p)
{
    return p->shape;
}

void promparse_get_stats(const struct promparse *p, struct promparse_stats *out)
{
    *out = p->st;
}

void promparse_free(struct promparse **pp)
{
    struct promparse *p = *pp;
    if (!p)
        return;
    freelocale(p->c_locale);
    free(p->target);
    free(p->part);
    free(p->work);
    free(p->labels);
    free(p->qpos);
    free(p->memo);
    free(p->memo_off);
    free(p->memo_len);
    buf_release(&p->fam_name);
    buf_release(&p->fam_help);
    free(p);
    *pp = NULL;
}
