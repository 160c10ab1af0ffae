/*
 * envsubst: ${VAR} expansion in configuration values (lagwatch.yml(5),
 * DESCRIPTION).
 *
 * ${VAR} is the variable's value (unset is an error), ${VAR:-default} the
 * default when VAR is unset or empty, $$ a literal '$'. A '$' not followed
 * by '{' and a variable name stays literal, so that Prometheus templates
 * such as "$1" and "${1}" in relabel replacements pass through unchanged.
 * Reads the environment (getenv): call it from one thread at a time with
 * respect to setenv.
 */
#ifndef AGENT_UTIL_ENVSUBST_H
#define AGENT_UTIL_ENVSUBST_H

#include <stddef.h>

/* Expands in into *out (heap, NUL-terminated; the caller frees it). A
 * result longer than max bytes is an error. 0, or -1 with the reason in
 * err ("environment variable 'X' is not set"); *out is untouched then. */
int envsubst(const char *in, size_t max, char **out, char *err, size_t errlen);

#endif
