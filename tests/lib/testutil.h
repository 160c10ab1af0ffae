/*
 * testutil: what several unit tests need besides tap.h: whole files, paths
 * into the source tree, temporary directories, gunzip, and the fake Flink
 * (tests/fakeflink.py) on a free 127.0.0.1 port.
 *
 * Environment, as `make check` sets it: srcdir (default "."), FAKEFLINK
 * (default $srcdir/tests/fakeflink.py), FLINK_FIXTURES (default
 * $srcdir/tests/fixtures/flink). The fake needs python3 on PATH.
 *
 * Threads: the test's main thread.
 */
#ifndef TESTS_LIB_TESTUTIL_H
#define TESTS_LIB_TESTUTIL_H

#include <stddef.h>
#include <sys/types.h>

#include "util/buf.h"

/* The file's contents, NUL-terminated, in a heap string (free() it) with
 * its length in *len; NULL when it is missing, unreadable or longer than
 * max bytes. */
char *tu_slurp(const char *path, size_t max, size_t *len);

/* $env, else $srcdir/rel, into out. */
void tu_src_path(char *out, size_t n, const char *env, const char *rel);

/* A recorded Flink fixture: rel under $FLINK_FIXTURES into out. */
void tu_fixture_path(char *out, size_t n, const char *rel);

/* Makes $TMPDIR/prefix.XXXXXX (TMPDIR default /tmp) into out: 0, or -1
 * with out empty. */
int tu_mkdtemp(char *out, size_t n, const char *prefix);

/* Removes dir and everything below it: 0, or -1 when something stayed. */
int tu_rm_rf(const char *dir);

/* Appends the gunzipped in to out: 0, or -1 unless in is exactly one
 * complete gzip stream. */
int tu_gunzip(const struct buf *in, struct buf *out);

/* The fake Flink, serving the fixtures as they are (--static) and logging
 * every request to log. */
struct tu_fake {
    pid_t pid; /* 0: not running */
    int port;
    char dir[256]; /* its temporary directory, removed by tu_fake_stop */
    char log[300];
    char fixtures[1024];
};

/* Starts the fake (scenario may be NULL) and waits up to 10 s for its
 * port: 0, or -1 when it does not come up (it is then stopped). */
int tu_fake_start(struct tu_fake *f, const char *scenario);
/* Stops it (SIGTERM, then waits) and removes its directory; safe on a
 * fake that never started. */
void tu_fake_stop(struct tu_fake *f);

#endif
