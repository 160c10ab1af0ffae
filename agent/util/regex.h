/*
 * regex: the one way lagwatch compiles a regular expression from the
 * configuration (kafka[].groups[].pattern, trim.drop_labels_match,
 * trim.fold_subtasks.metrics, trim.relabel_configs[].regex; lagwatch.yml(5),
 * KAFKA and TRIM).
 *
 * Every pattern is PCRE2 in UTF mode (invalid UTF-8 in a subject never
 * matches a multi-byte character but does not fail the match) and anchored
 * at both ends, as Prometheus anchors relabel regexes (^(?:RE)$ with Go's
 * $, which is PCRE2's \z). `lagwatch check` and the daemon compile through
 * this function, so that a pattern passes the one exactly when it starts in
 * the other. JIT is used when available.
 *
 * A compiled pattern is immutable and may be shared by threads; match data
 * (pcre2_match_data_create_from_pattern) is per thread.
 */
#ifndef AGENT_UTIL_REGEX_H
#define AGENT_UTIL_REGEX_H

#include <stddef.h>

#ifndef PCRE2_CODE_UNIT_WIDTH
#define PCRE2_CODE_UNIT_WIDTH 8
#endif
#include <pcre2.h>

/* Compiles re. NULL with "MESSAGE at offset N" (the offset into re) in err
 * when it does not compile; callers prefix the pattern and its key. Free
 * with pcre2_code_free(). */
pcre2_code *regex_compile(const char *re, char *err, size_t errlen);

/* regex_compile() without keeping the code: 0, or -1 with err set. */
int regex_check(const char *re, char *err, size_t errlen);

#endif
