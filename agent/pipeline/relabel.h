/*
 * relabel: Prometheus relabel_configs over one label set.
 *
 * Semantics follow Prometheus's model/relabel package: regexes are anchored
 * as ^(?:REGEX)$ (PCRE2, JIT when available); source label values are joined
 * with the separator (an absent label counts as empty); replacement and
 * target_label expand $1, ${1}, $name and ${name} as Go's Regexp.Expand does
 * ($$ is a literal $, an unknown group expands to nothing); a replace whose
 * target expands to an invalid label name does nothing, and an empty result
 * deletes the target label. The metric name is the label "__name__".
 *
 * Deliberate differences: label names are checked against the classic
 * [a-zA-Z_][a-zA-Z0-9_]* (InfluxDB tag keys and the remote-write sink want
 * that); lowercase/uppercase fold ASCII letters only. keepequal/dropequal
 * are not in our config (enum relabel_action) and so not supported.
 *
 * hashmod is md5 of the joined value, the last 8 bytes big-endian, modulo
 * modulus, exactly as Prometheus does (md5 from libcrypto).
 *
 * Not thread-safe: one struct relabel per pipeline thread (it holds match
 * scratch).
 */
#ifndef AGENT_RELABEL_H
#define AGENT_RELABEL_H

#include <stdbool.h>
#include <stddef.h>

#include "pipeline/labelset.h"

struct cfg_relabel;
struct relabel;

/* The actions of trim.relabel_configs[].action (lagwatch.yml(5), TRIM). */
enum relabel_action {
    RELABEL_REPLACE = 0,
    RELABEL_KEEP,
    RELABEL_DROP,
    RELABEL_LABELDROP,
    RELABEL_LABELKEEP,
    RELABEL_LABELMAP,
    RELABEL_HASHMOD,
    RELABEL_LOWERCASE,
    RELABEL_UPPERCASE,
};
/* Not an enum member, so that switches over actions stay exhaustive. */
#define RELABEL_N_ACTIONS (RELABEL_UPPERCASE + 1)

/* The configuration name of an action ("replace"), or NULL when a is not
 * one. */
const char *relabel_action_name(enum relabel_action a);
/* The action named s: 0, or -1 when s names none. */
int relabel_action_parse(const char *s, enum relabel_action *a);

/* Compiles n rules (n may be 0). On error returns NULL with
 * "LINE:COL: message" in err (just "message" when the rule has no
 * position); the caller prefixes the file name. */
struct relabel *relabel_new(const struct cfg_relabel *r, size_t n, char *err,
                            size_t errlen);
/* NULL-safe; sets *rlp = NULL. */
void relabel_free(struct relabel **rlp);

size_t relabel_count(const struct relabel *rl);

/* Applies every rule in order to ls. Returns 0 to keep the sample, 1 to
 * drop it (keep/drop action); ls is then in an unspecified state. New
 * strings go into ls's arena. */
int relabel_apply(struct relabel *rl, struct labelset *ls);

/* One anchored regex with its match scratch, for trim's drop_labels_match
 * and fold_metrics: same dialect as the rules. NULL with a message in err
 * when re does not compile. */
struct relabel_regex;
struct relabel_regex *relabel_regex_new(const char *re, char *err,
                                        size_t errlen);
bool relabel_regex_match(struct relabel_regex *rx, const char *s, size_t n);
void relabel_regex_free(struct relabel_regex **rxp);

#endif
