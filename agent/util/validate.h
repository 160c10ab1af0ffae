/*
 * validate: checks of configuration values that need no domain knowledge
 * (lagwatch.yml(5)): URLs, host:port addresses, Prometheus label names,
 * unsigned decimals. Each returns NULL (or true) for a valid value, else
 * the reason as a static string ("invalid port") that the caller puts
 * after the value and its key. Stateless; any thread.
 */
#ifndef AGENT_UTIL_VALIDATE_H
#define AGENT_UTIL_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* [A-Za-z_] (first) or [A-Za-z0-9_] (the rest): label names, ${VAR}. */
bool validate_ident_char(char ch, bool first);

/* The classic Prometheus label name [a-zA-Z_][a-zA-Z0-9_]* over n bytes. */
bool validate_label_name(const char *s, size_t n);

/* http:// or https://, a host (name, IPv4 or [IPv6]), an optional port
 * 1-65535, then nothing or a path; no space or control character. */
const char *validate_url(const char *u);

/* host:port with a port 1-65535 (broker); with listen the host may be
 * empty (":9743") and the port 0 (any free port). */
const char *validate_hostport(const char *s, bool listen);

/* An unsigned decimal without sign or spaces that fits 64 bits. */
const char *validate_u64(const char *s, uint64_t *v);

#endif
