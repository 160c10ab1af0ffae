/*
 * envsubst_test: ${VAR} expansion on its own (lagwatch.yml(5),
 * DESCRIPTION): values, defaults, $$, literal '$' that is no reference, the
 * error messages and the length cap.
 */
#include <stdlib.h>
#include <string.h>

#include "util/envsubst.h"
#include "tests/lib/tap.h"

static const struct {
    const char *in, *want, *err;
} cases[] = {
    {"plain", "plain", NULL},
    {"", "", NULL},
    {"${ES_A}", "alpha", NULL},
    {"x-${ES_A}-y", "x-alpha-y", NULL},
    {"${ES_A}${ES_B}", "alphabeta", NULL},
    {"${ES_UNSET:-dflt}", "dflt", NULL},
    {"${ES_EMPTY:-dflt}", "dflt", NULL},
    {"${ES_A:-dflt}", "alpha", NULL},
    {"${ES_UNSET:-}", "", NULL},
    {"${ES_EMPTY}", "", NULL},
    {"${ES_A:-a b}c", "alphac", NULL},
    {"${ES_UNSET:-a-b}", "a-b", NULL},
    {"$$", "$", NULL},
    {"$${ES_A}", "${ES_A}", NULL},
    {"a$$$$b", "a$$b", NULL},
    {"$1", "$1", NULL},
    {"${1}", "${1}", NULL},
    {"$ES_A", "$ES_A", NULL},
    {"${}", "${}", NULL},
    {"cost $", "cost $", NULL},
    {"${ES_BRACE}", "}{", NULL},
    {"${ES_A}${ES_BRACE}", "alpha}{", NULL},
    {"${ES_UNSET}", NULL, "environment variable 'ES_UNSET' is not set"},
    {"x${ES_UNSET}y", NULL, "environment variable 'ES_UNSET' is not set"},
    {"${ES_A", NULL,
     "invalid variable reference in '${ES_A' (use ${VAR} or "
     "${VAR:-default}, and $$ for a literal '$')"},
    {"${ES_A-x}", NULL,
     "invalid variable reference in '${ES_A-x}' (use ${VAR} or "
     "${VAR:-default}, and $$ for a literal '$')"},
    {"${ES_A:-x", NULL, "unterminated '${' in '${ES_A:-x'"},
};

TAP_CASE(expansion_table)
{
    setenv("ES_A", "alpha", 1);
    setenv("ES_B", "beta", 1);
    setenv("ES_EMPTY", "", 1);
    setenv("ES_BRACE", "}{", 1);
    unsetenv("ES_UNSET");
    for (size_t i = 0; i < TAP_N(cases); i++) {
        char *out = (char *)"untouched";
        char err[256] = "";
        int rc = envsubst(cases[i].in, 1024, &out, err, sizeof(err));
        if (cases[i].want) {
            if (rc != 0)
                printf("# %s: %s\n", cases[i].in, err);
            TAP_EQ_INT(0, rc);
            TAP_EQ_STR(cases[i].want, out);
            free(out);
        } else {
            TAP_EQ_INT(-1, rc);
            TAP_EQ_STR("untouched", out);
            TAP_EQ_STR(cases[i].err, err);
        }
    }
}

/* The cap is on the expanded value: a short reference to a long variable
 * is refused, exactly max bytes pass. */
TAP_CASE(length_cap)
{
    char big[101], err[256] = "", *out = NULL;
    memset(big, 'v', 100);
    big[100] = '\0';
    setenv("ES_BIG", big, 1);
    TAP_EQ_INT(0, envsubst("${ES_BIG}", 100, &out, err, sizeof(err)));
    TAP_EQ_INT(100, strlen(out));
    free(out);
    out = NULL;
    TAP_EQ_INT(-1, envsubst("x${ES_BIG}", 100, &out, err, sizeof(err)));
    TAP_OK(out == NULL);
    TAP_EQ_STR("value is longer than 100 bytes", err);
    TAP_EQ_INT(-1, envsubst(big, 99, &out, err, sizeof(err)));
    TAP_EQ_STR("value is longer than 99 bytes", err);
}

static const struct tap_case all[] = {
    TAP_ENTRY(expansion_table),
    TAP_ENTRY(length_cap),
};

int main(int argc, char **argv)
{
    return tap_main(all, TAP_N(all), argc, argv);
}
