#include "tests/lib/testutil.h"

#include <errno.h>
#include <ftw.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <zlib.h>

#include "util/clock.h"

char *tu_slurp(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    struct buf b = BUF_INIT;
    char tmp[65536];
    size_t n;
    char *data = NULL;

    if (!f)
        return NULL;
    buf_init(&b, max);
    while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        if (buf_add(&b, tmp, n) != 0)
            break;
    if (!ferror(f) && !buf_error(&b))
        data = buf_detach(&b, len);
    fclose(f);
    buf_release(&b);
    return data;
}

void tu_src_path(char *out, size_t n, const char *env, const char *rel)
{
    const char *e = env ? getenv(env) : NULL;
    const char *srcdir = getenv("srcdir");

    if (e && *e)
        snprintf(out, n, "%s", e);
    else
        snprintf(out, n, "%s/%s", srcdir && *srcdir ? srcdir : ".", rel);
}

void tu_fixture_path(char *out, size_t n, const char *rel)
{
    char dir[1024];

    tu_src_path(dir, sizeof(dir), "FLINK_FIXTURES", "tests/fixtures/flink");
    snprintf(out, n, "%s/%s", dir, rel);
}

int tu_mkdtemp(char *out, size_t n, const char *prefix)
{
    const char *t = getenv("TMPDIR");

    snprintf(out, n, "%s/%s.XXXXXX", t && *t ? t : "/tmp", prefix);
    if (!mkdtemp(out)) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

static int rm_one(const char *path, const struct stat *st, int flag,
                  struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    /* Keeps going: what cannot be removed shows up as rmdir's failure. */
    if (flag == FTW_DP)
        (void)rmdir(path);
    else
        (void)unlink(path);
    return 0;
}

int tu_rm_rf(const char *dir)
{
    if (!dir[0])
        return 0;
    if (nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
        return -1;
    return access(dir, F_OK) == 0 ? -1 : 0;
}

int tu_gunzip(const struct buf *in, struct buf *out)
{
    z_stream zs;
    unsigned char chunk[4096];
    int rc;

    memset(&zs, 0, sizeof(zs));
    if (inflateInit2(&zs, 15 + 16) != Z_OK)
        return -1;
    zs.next_in = (Bytef *)in->data;
    zs.avail_in = (uInt)in->len;
    do {
        zs.next_out = chunk;
        zs.avail_out = sizeof(chunk);
        rc = inflate(&zs, Z_NO_FLUSH);
        if (buf_add(out, chunk, sizeof(chunk) - zs.avail_out) != 0)
            rc = Z_MEM_ERROR;
    } while (rc == Z_OK);
    inflateEnd(&zs);
    return rc == Z_STREAM_END && zs.avail_in == 0 ? 0 : -1;
}

int tu_fake_start(struct tu_fake *f, const char *scenario)
{
    char script[1024], portfile[300];

    memset(f, 0, sizeof(*f));
    tu_src_path(script, sizeof(script), "FAKEFLINK", "tests/fakeflink.py");
    tu_src_path(f->fixtures, sizeof(f->fixtures), "FLINK_FIXTURES",
                "tests/fixtures/flink");
    if (tu_mkdtemp(f->dir, sizeof(f->dir), "fakeflink") != 0)
        return -1;
    snprintf(portfile, sizeof(portfile), "%s/port", f->dir);
    snprintf(f->log, sizeof(f->log), "%s/requests.log", f->dir);
    fflush(stdout);
    f->pid = fork();
    if (f->pid < 0) {
        f->pid = 0;
        goto fail;
    }
    if (f->pid == 0) {
        char *argv[16];
        int a = 0;
        argv[a++] = "python3";
        argv[a++] = script;
        argv[a++] = "--fixtures";
        argv[a++] = f->fixtures;
        argv[a++] = "--port";
        argv[a++] = "0";
        argv[a++] = "--port-file";
        argv[a++] = portfile;
        argv[a++] = "--log";
        argv[a++] = f->log;
        argv[a++] = "--static";
        if (scenario) {
            argv[a++] = "--scenario";
            argv[a++] = (char *)scenario;
        }
        argv[a] = NULL;
        /* stdout is the TAP stream */
        if (!freopen("/dev/null", "w", stdout))
            _exit(127);
        execvp("python3", argv);
        fprintf(stderr, "cannot run python3 '%s': %s\n", script,
                strerror(errno));
        _exit(127);
    }
    uint64_t deadline = clock_mono_ms() + 10000;
    while (clock_mono_ms() < deadline) {
        int st;
        if (waitpid(f->pid, &st, WNOHANG) == f->pid) {
            f->pid = 0; /* it died */
            goto fail;
        }
        size_t len;
        char *txt = tu_slurp(portfile, 4096, &len);
        if (txt) {
            int port = 0;
            if (sscanf(txt, "port=%d", &port) == 1 && port > 0)
                f->port = port;
            free(txt);
            if (f->port > 0)
                return 0;
        }
        usleep(20000);
    }
fail:
    tu_fake_stop(f);
    return -1;
}

void tu_fake_stop(struct tu_fake *f)
{
    if (f->pid > 0) {
        kill(f->pid, SIGTERM);
        waitpid(f->pid, NULL, 0);
        f->pid = 0;
    }
    if (f->dir[0] && tu_rm_rf(f->dir) != 0)
        fprintf(stderr, "# cannot remove %s\n", f->dir);
    f->dir[0] = '\0';
}
