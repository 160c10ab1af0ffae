/*
 * secret: reads a secret (the endpoint's bearer token, a basic-auth
 * password, an InfluxDB or remote-write password, a TLS key) from a file
 * the operator controls, the same way at config
 * check time and when the endpoint starts, so that `lagwatch check` fails
 * for exactly the files the daemon would refuse.
 *
 * The file holds the secret alone; one trailing newline ("\n" or "\r\n")
 * is stripped, as editors and `echo` add one. Messages name the file,
 * never its content.
 */
#ifndef AGENT_SECRET_H
#define AGENT_SECRET_H

#include <stdbool.h>
#include <stddef.h>

/* Larger secret files are refused. */
#define SECRET_MAX_BYTES 4096

/* Returns the secret of path (heap, NUL-terminated; free with
 * secret_free()), or NULL with the reason in err, e.g. "cannot read bearer
 * token file '/etc/x': No such file or directory". what names the file's
 * role in messages. The secret must be non-empty and free of NUL, CR and
 * LF; with token true also free of spaces, tabs and other control
 * characters (an HTTP Authorization header cannot carry them). */
char *secret_read_file(const char *path, const char *what, bool token,
                       char *err, size_t errlen);

/* Overwrites and frees *sp; NULL-safe; sets *sp = NULL. */
void secret_free(char **sp);

/* Largest TLS certificate or key file accepted (agent.tls_cert_file and
 * agent.tls_key_file, lagwatch.yml(5), AGENT). */
#define SECRET_MAX_PEM_BYTES (1024 * 1024)

/* The content of path when it is a readable, non-empty PEM file of at most
 * max bytes (no NUL byte, a "-----BEGIN " line), as the endpoint loads its
 * TLS certificate and key (heap, NUL-terminated; free with secret_free()).
 * NULL with the reason in err, e.g. "TLS key file '/etc/k' is not a PEM
 * file". */
char *secret_read_pem(const char *path, const char *what, size_t max, char *err,
                      size_t errlen);

/* secret_read_pem() without keeping the content: 0, or -1 with the reason
 * in err. */
int secret_check_pem(const char *path, const char *what, size_t max, char *err,
                     size_t errlen);

#endif
