/*
 * secret: reads a secret (the endpoint's bearer token, a basic-auth
 * password) from a file the operator controls, the same way at config
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

/* Checks that path is a readable, non-empty PEM file of at most max bytes
 * (it holds a "-----BEGIN " line), without keeping its content. 0, or -1
 * with the reason in err. */
int secret_check_pem(const char *path, const char *what, size_t max, char *err,
                     size_t errlen);

#endif
