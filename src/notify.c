/*
 * notify.c - the service manager's notification protocol: one datagram of KEY=VALUE lines to
 * the AF_UNIX socket named by $NOTIFY_SOCKET (sd_notify(3); no libsystemd).
 *
 * Owns only the address rules and the send. Knows nothing of the node: main.c decides when
 * the node is ready, reloading or stopping. Invariant: without $NOTIFY_SOCKET nothing is
 * opened, sent or logged. A fresh socket per message (CLOEXEC, so nothing leaks into a
 * child): messages are rare and the service manager checks the sender's credentials.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "blockedge/clock.h"
#include "blockedge/log.h"
#include "blockedge/notify.h"

/* Fills sa from name ("/path" or "@abstract"); returns the address length, or 0 with errno
 * set when name is neither or does not fit. */
static socklen_t
notify_addr(const char *name, struct sockaddr_un *sa)
{
    size_t len = strlen(name);
    memset(sa, 0, sizeof(*sa));
    sa->sun_family = AF_UNIX;
    if (name[0] != '/' && name[0] != '@') {
        errno = EAFNOSUPPORT; /* e.g. systemd 254's "vsock:" addresses */
        return 0;
    }
    if (len >= sizeof(sa->sun_path) || len < 2) {
        errno = ENAMETOOLONG;
        return 0;
    }
    memcpy(sa->sun_path, name, len);
    if (name[0] == '@') {
        sa->sun_path[0] = '\0'; /* abstract: the name is exactly the bytes that follow */
        return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    }
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
}

/* One datagram to sa; BE_OK or BE_ERROR (logged, errno kept). */
static int
send_state(const char *name, const struct sockaddr_un *sa, socklen_t salen, const char *state)
{
    size_t len = strlen(state);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        int err = errno;
        be_log(BE_LOG_WARN, "socket() failed (%d: %s) while notifying the service manager", err,
               strerror(err));
        errno = err;
        return BE_ERROR;
    }
    ssize_t n = sendto(fd, state, len, MSG_NOSIGNAL, (const struct sockaddr *)sa, salen);
    int err = errno;
    close(fd);
    if (n == (ssize_t)len)
        return BE_OK;
    be_log(BE_LOG_WARN, "sendto() \"%s\" failed (%d: %s) while notifying the service manager", name,
           err, strerror(err));
    errno = err;
    return BE_ERROR;
}

int
be_notify(const char *state)
{
    const char *name = getenv("NOTIFY_SOCKET");
    struct sockaddr_un sa;
    if (name == NULL || name[0] == '\0')
        return BE_DECLINED;
    socklen_t salen = notify_addr(name, &sa);
    if (salen == 0) {
        int err = errno;
        be_log(BE_LOG_WARN, "NOTIFY_SOCKET \"%s\" is not an AF_UNIX path or abstract name (%d: %s)",
               name, err, strerror(err));
        errno = err;
        return BE_ERROR;
    }
    return send_state(name, &sa, salen, state);
}

int
be_notify_ready(void)
{
    char state[128];
    snprintf(state, sizeof(state), "READY=1\nMAINPID=%ld\nSTATUS=serving", (long)getpid());
    return be_notify(state);
}

int
be_notify_reloading(void)
{
    char state[128];
    snprintf(state, sizeof(state),
             "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading the configuration",
             (unsigned long long)be_clock_usec());
    return be_notify(state);
}

int
be_notify_stopping(void)
{
    return be_notify("STOPPING=1\nSTATUS=draining: finishing the requests in flight");
}
