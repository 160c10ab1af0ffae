/*
 * sdnotify_test: the NOTIFY_SOCKET protocol against datagram sockets bound
 * by the test (a path in a temp directory and an abstract name), the
 * watchdog period from WATCHDOG_USEC/WATCHDOG_PID, and the inert and
 * invalid cases.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/log.h"
#include "util/sdnotify.h"
#include "tests/lib/tap.h"

/* A datagram socket bound to name ("/path" or "@abstract"), -1 on error. */
static int bind_dgram(const char *name)
{
    struct sockaddr_un a;
    memset(&a, 0, sizeof(a));
    a.sun_family = AF_UNIX;
    size_t len = strlen(name);
    if (len >= sizeof(a.sun_path))
        return -1;
    memcpy(a.sun_path, name, len);
    socklen_t alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    if (name[0] == '@')
        a.sun_path[0] = '\0';
    else
        alen++;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&a, alen) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* One datagram within 1 s into out (NUL-terminated); -1 when none came. */
static int recv_msg(int fd, char *out, size_t cap)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 1000) != 1)
        return -1;
    ssize_t n = recv(fd, out, cap - 1, 0);
    if (n < 0)
        return -1;
    out[n] = '\0';
    return 0;
}

/* 1 when a datagram is waiting. */
static int pending(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1;
}

static void clear_env(void)
{
    unsetenv("NOTIFY_SOCKET");
    unsetenv("WATCHDOG_USEC");
    unsetenv("WATCHDOG_PID");
}

/* Sends the daemon's messages through an object built from the
 * environment and checks each arrives as one datagram, unchanged. */
static void roundtrip(bool *tap_failed_, const char *name)
{
    char got[SDNOTIFY_MAX_MSG + 2];
    char err[256] = "";
    struct sdnotify *sn = NULL;
    int fd = bind_dgram(name);
    TAP_OK(fd >= 0);
    clear_env();
    setenv("NOTIFY_SOCKET", name, 1);
    sn = sdnotify_new(err, sizeof(err));
    if (!sn)
        close(fd);
    TAP_OK(sn != NULL);
    TAP_OK(sdnotify_enabled(sn));
    static const char *const msgs[] = {
        "READY=1\nSTATUS=cycle 1 done: 3 targets, 0 failed",
        "RELOADING=1\nMONOTONIC_USEC=123456",
        "STOPPING=1",
    };
    for (size_t i = 0; i < TAP_N(msgs); i++) {
        TAP_EQ_INT(0, sdnotify_send(sn, msgs[i]));
        TAP_EQ_INT(0, recv_msg(fd, got, sizeof(got)));
        TAP_EQ_STR(msgs[i], got);
    }
    TAP_EQ_INT(0, sdnotify_sendf(sn, "STATUS=%s %d", "cycles", 42));
    TAP_EQ_INT(0, recv_msg(fd, got, sizeof(got)));
    TAP_EQ_STR("STATUS=cycles 42", got);
    /* No watchdog without WATCHDOG_USEC. */
    TAP_EQ_U64(0, sdnotify_watchdog_interval_us(sn));
    TAP_EQ_INT(0, sdnotify_watchdog(sn));
    TAP_OK(!pending(fd));
    sdnotify_free(&sn);
    TAP_OK(sn == NULL);
    close(fd);
    clear_env();
}

TAP_CASE(path_socket)
{
    char dir[] = "/tmp/sdnotify_test.XXXXXX";
    char path[128];
    TAP_OK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/notify", dir);
    bool failed = false;
    roundtrip(&failed, path);
    unlink(path);
    rmdir(dir);
    TAP_OK(!failed);
}

TAP_CASE(abstract_socket)
{
    char name[64];
    snprintf(name, sizeof(name), "@lagwatch-sdnotify-test-%ld", (long)getpid());
    bool failed = false;
    roundtrip(&failed, name);
    TAP_OK(!failed);
}

TAP_CASE(watchdog_pings)
{
    char name[64], got[64], pid[32], err[256] = "";
    snprintf(name, sizeof(name), "@lagwatch-sdnotify-wd-%ld", (long)getpid());
    snprintf(pid, sizeof(pid), "%ld", (long)getpid());
    int fd = bind_dgram(name);
    TAP_OK(fd >= 0);
    clear_env();
    setenv("NOTIFY_SOCKET", name, 1);
    setenv("WATCHDOG_USEC", "200000", 1);
    setenv("WATCHDOG_PID", pid, 1);
    struct sdnotify *sn = sdnotify_new(err, sizeof(err));
    clear_env();
    if (!sn)
        close(fd);
    TAP_OK(sn != NULL);
    TAP_EQ_U64(100000, sdnotify_watchdog_interval_us(sn));
    /* The first call pings, a second one at once does not. */
    TAP_EQ_INT(1, sdnotify_watchdog(sn));
    TAP_EQ_INT(0, recv_msg(fd, got, sizeof(got)));
    TAP_EQ_STR("WATCHDOG=1", got);
    TAP_EQ_INT(0, sdnotify_watchdog(sn));
    TAP_OK(!pending(fd));
    struct timespec ts = {0, 120 * 1000000L};
    nanosleep(&ts, NULL);
    TAP_EQ_INT(1, sdnotify_watchdog(sn));
    TAP_EQ_INT(0, recv_msg(fd, got, sizeof(got)));
    TAP_EQ_STR("WATCHDOG=1", got);
    sdnotify_free(&sn);
    close(fd);
}

/* WATCHDOG_USEC/WATCHDOG_PID combinations and the resulting interval. */
TAP_CASE(watchdog_env)
{
    char self[32], other[32], err[256];
    snprintf(self, sizeof(self), "%ld", (long)getpid());
    snprintf(other, sizeof(other), "%ld", (long)getpid() + 1);
    const struct {
        const char *usec, *pid;
        uint64_t want;
    } cases[] = {
        {NULL, NULL, 0},
        {"", NULL, 0},
        {"30000000", NULL, 15000000},
        {"30000000", self, 15000000},
        {"30000000", other, 0},
        {"30000000", "x", 0},
        {"0", NULL, 0},
        {"1", NULL, 1},
        {"-5", NULL, 0},
        {"12abc", NULL, 0},
        {"99999999999999999999999", NULL, 0},
    };
    for (size_t i = 0; i < TAP_N(cases); i++) {
        clear_env();
        setenv("NOTIFY_SOCKET", "@lagwatch-sdnotify-unused", 1);
        if (cases[i].usec)
            setenv("WATCHDOG_USEC", cases[i].usec, 1);
        if (cases[i].pid)
            setenv("WATCHDOG_PID", cases[i].pid, 1);
        struct sdnotify *sn = sdnotify_new(err, sizeof(err));
        TAP_OK(sn != NULL);
        uint64_t got = sdnotify_watchdog_interval_us(sn);
        sdnotify_free(&sn);
        if (got != cases[i].want)
            printf("# case %zu: usec '%s' pid '%s'\n", i,
                   cases[i].usec ? cases[i].usec : "(unset)",
                   cases[i].pid ? cases[i].pid : "(unset)");
        TAP_EQ_U64(cases[i].want, got);
    }
    clear_env();
}

TAP_CASE(inert_without_socket)
{
    char err[256] = "";
    clear_env();
    setenv("WATCHDOG_USEC", "1000", 1);
    struct sdnotify *sn = sdnotify_new(err, sizeof(err));
    clear_env();
    TAP_OK(sn != NULL);
    TAP_OK(!sdnotify_enabled(sn));
    TAP_EQ_INT(0, sdnotify_send(sn, "READY=1"));
    TAP_EQ_INT(0, sdnotify_watchdog(sn));
    TAP_EQ_U64(0, sdnotify_watchdog_interval_us(sn));
    sdnotify_free(&sn);
    /* NULL-safe everywhere. */
    TAP_EQ_INT(0, sdnotify_send(NULL, "READY=1"));
    TAP_EQ_INT(0, sdnotify_sendf(NULL, "STATUS=%d", 1));
    TAP_EQ_INT(0, sdnotify_watchdog(NULL));
    TAP_OK(!sdnotify_enabled(NULL));
    sdnotify_free(&sn);
}

TAP_CASE(invalid_names)
{
    char longname[200];
    memset(longname, 'a', sizeof(longname) - 1);
    longname[0] = '/';
    longname[sizeof(longname) - 1] = '\0';
    const char *bad[] = {"relative/path", "@", longname};
    for (size_t i = 0; i < TAP_N(bad); i++) {
        char err[512] = "";
        clear_env();
        setenv("NOTIFY_SOCKET", bad[i], 1);
        struct sdnotify *sn = sdnotify_new(err, sizeof(err));
        clear_env();
        TAP_OK(sn == NULL);
        TAP_OK(strstr(err, "NOTIFY_SOCKET") != NULL);
    }
}

/* Nobody listening: the send fails and says so, and works once a socket
 * is bound there. */
TAP_CASE(send_failure_and_recovery)
{
    char name[64], got[64], err[256] = "";
    snprintf(name, sizeof(name), "@lagwatch-sdnotify-late-%ld", (long)getpid());
    clear_env();
    setenv("NOTIFY_SOCKET", name, 1);
    struct sdnotify *sn = sdnotify_new(err, sizeof(err));
    clear_env();
    TAP_OK(sn != NULL);
    TAP_EQ_INT(-1, sdnotify_send(sn, "READY=1"));
    TAP_EQ_INT(-1, sdnotify_send(sn, "READY=1"));
    int fd = bind_dgram(name);
    if (fd < 0)
        sdnotify_free(&sn);
    TAP_OK(fd >= 0);
    TAP_EQ_INT(0, sdnotify_send(sn, "READY=1"));
    TAP_EQ_INT(0, recv_msg(fd, got, sizeof(got)));
    TAP_EQ_STR("READY=1", got);
    /* Longer than the cap: refused, nothing sent. */
    char *big = malloc(SDNOTIFY_MAX_MSG + 2);
    TAP_OK(big != NULL);
    memset(big, 'x', SDNOTIFY_MAX_MSG + 1);
    big[SDNOTIFY_MAX_MSG + 1] = '\0';
    TAP_EQ_INT(-1, sdnotify_send(sn, big));
    free(big);
    TAP_OK(!pending(fd));
    sdnotify_free(&sn);
    close(fd);
}

static const struct tap_case cases[] = {
    TAP_ENTRY(path_socket),
    TAP_ENTRY(abstract_socket),
    TAP_ENTRY(watchdog_pings),
    TAP_ENTRY(watchdog_env),
    TAP_ENTRY(inert_without_socket),
    TAP_ENTRY(invalid_names),
    TAP_ENTRY(send_failure_and_recovery),
};

int main(int argc, char **argv)
{
    log_set_level(LOG_LVL_ERROR);
    return tap_main(cases, TAP_N(cases), argc, argv);
}
