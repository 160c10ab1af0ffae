#include "util/sdnotify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/log.h"
#include "util/xalloc.h"

struct sdnotify {
    int fd; /* -1: inert */
    struct sockaddr_un addr;
    socklen_t addrlen;
    char *name;           /* $NOTIFY_SOCKET as given, for messages */
    uint64_t watchdog_us; /* ping interval, 0 = off */
    uint64_t last_ping_us;
    bool pinged;
    bool failing; /* the last send failed: log only state changes */
};

/* Half of $WATCHDOG_USEC when it is a positive decimal number and
 * $WATCHDOG_PID is unset or names this process (systemd sets the PID so a
 * child that inherited the environment does not ping for its parent). */
static uint64_t watchdog_from_env(void)
{
    const char *us = getenv("WATCHDOG_USEC");
    const char *pid = getenv("WATCHDOG_PID");
    char *end;
    if (!us || !*us || *us < '0' || *us > '9')
        return 0;
    errno = 0;
    unsigned long long v = strtoull(us, &end, 10);
    if (errno != 0 || *end != '\0' || v == 0)
        return 0;
    if (pid && *pid) {
        errno = 0;
        unsigned long long p = strtoull(pid, &end, 10);
        if (errno != 0 || *end != '\0' || p != (unsigned long long)getpid())
            return 0;
    }
    return v / 2 ? v / 2 : 1;
}

struct sdnotify *sdnotify_new(char *err, size_t errlen)
{
    struct sdnotify *sn = xcalloc(1, sizeof(*sn));
    const char *name = getenv("NOTIFY_SOCKET");
    sn->fd = -1;
    if (!name || !*name)
        return sn;
    size_t len = strlen(name);
    if (name[0] != '/' && name[0] != '@') {
        snprintf(err, errlen,
                 "NOTIFY_SOCKET '%s' is neither an absolute path nor an "
                 "abstract socket ('@...')",
                 name);
        goto fail;
    }
    if (len >= sizeof(sn->addr.sun_path) || (name[0] == '@' && len < 2)) {
        snprintf(err, errlen, "NOTIFY_SOCKET '%s' is not a valid socket name",
                 name);
        goto fail;
    }
    sn->addr.sun_family = AF_UNIX;
    memcpy(sn->addr.sun_path, name, len);
    if (name[0] == '@') {
        /* Abstract names are not NUL-terminated: the length is the name. */
        sn->addr.sun_path[0] = '\0';
        sn->addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    } else {
        sn->addrlen =
            (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
    }
    sn->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (sn->fd < 0) {
        snprintf(err, errlen,
                 "cannot create a socket for NOTIFY_SOCKET "
                 "'%s': %s",
                 name, strerror(errno));
        goto fail;
    }
    sn->name = xstrdup(name);
    sn->watchdog_us = watchdog_from_env();
    return sn;
fail:
    sdnotify_free(&sn);
    return NULL;
}

void sdnotify_free(struct sdnotify **snp)
{
    struct sdnotify *sn = *snp;
    if (!sn)
        return;
    if (sn->fd >= 0)
        close(sn->fd);
    free(sn->name);
    free(sn);
    *snp = NULL;
}

bool sdnotify_enabled(const struct sdnotify *sn)
{
    return sn && sn->fd >= 0;
}

int sdnotify_send(struct sdnotify *sn, const char *msg)
{
    if (!sdnotify_enabled(sn))
        return 0;
    size_t len = strlen(msg);
    if (len > SDNOTIFY_MAX_MSG) {
        log_warn("not sending a %zu-byte message to NOTIFY_SOCKET '%s': "
                 "longer than %d bytes",
                 len, sn->name, SDNOTIFY_MAX_MSG);
        return -1;
    }
    ssize_t n;
    do {
        n = sendto(sn->fd, msg, len, MSG_NOSIGNAL,
                   (const struct sockaddr *)&sn->addr, sn->addrlen);
    } while (n < 0 && errno == EINTR);
    if (n < 0 || (size_t)n != len) {
        if (!sn->failing)
            log_warn("cannot notify '%s': %s", sn->name,
                     n < 0 ? strerror(errno) : "short write");
        sn->failing = true;
        return -1;
    }
    if (sn->failing)
        log_info("notifying '%s' works again", sn->name);
    sn->failing = false;
    return 0;
}

int sdnotify_sendf(struct sdnotify *sn, const char *fmt, ...)
{
    char msg[SDNOTIFY_MAX_MSG + 1];
    va_list ap;
    if (!sdnotify_enabled(sn))
        return 0;
    va_start(ap, fmt);
    int len = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= sizeof(msg)) {
        log_warn("not sending a message to NOTIFY_SOCKET '%s': longer than "
                 "%d bytes",
                 sn->name, SDNOTIFY_MAX_MSG);
        return -1;
    }
    return sdnotify_send(sn, msg);
}

uint64_t sdnotify_watchdog_interval_us(const struct sdnotify *sn)
{
    return sdnotify_enabled(sn) ? sn->watchdog_us : 0;
}

int sdnotify_watchdog(struct sdnotify *sn)
{
    if (sdnotify_watchdog_interval_us(sn) == 0)
        return 0;
    uint64_t now = clock_mono_ns() / 1000;
    if (sn->pinged && now - sn->last_ping_us < sn->watchdog_us)
        return 0;
    if (sdnotify_send(sn, "WATCHDOG=1") < 0)
        return -1;
    sn->pinged = true;
    sn->last_ping_us = now;
    return 1;
}
