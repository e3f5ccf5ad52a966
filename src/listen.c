/*
 * listen.c - binding listening sockets, and adopting the ones a parent handed over.
 *
 * A binary upgrade (upgrade.c) execs the new binary with its listening sockets open and
 * their numbers in BLOCKEDGE_LISTEN_FDS; systemd's socket activation passes LISTEN_FDS
 * sockets from fd 3 on. Either way the new process learns each socket's address with
 * getsockname() and hands it to the listener of the configuration that names that address.
 * Main thread only; the table lives for the process.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blockedge/listen.h"
#include "blockedge/log.h"

typedef struct {
    int fd; /* -1 once taken */
    struct sockaddr_storage addr;
    socklen_t addrlen;
} inherited_t;

static inherited_t inherited[BE_LISTEN_MAX_INHERITED];
static int ninherited;

int
be_listen_same_addr(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b,
                    socklen_t blen)
{
    if (a->sa_family != b->sa_family)
        return 0;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return alen >= sizeof(*x) && blen >= sizeof(*y) && x->sin_port == y->sin_port &&
               x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return alen >= sizeof(*x) && blen >= sizeof(*y) && x->sin6_port == y->sin6_port &&
               memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
    }
    return 0;
}

/* Keeps fd when it is a listening TCP socket; closes anything else handed to us. */
static void
adopt(int fd)
{
    int listening = 0, type = 0;
    socklen_t n = sizeof(listening), tn = sizeof(type);
    inherited_t *in = &inherited[ninherited];
    in->addrlen = sizeof(in->addr);
    if (ninherited >= BE_LISTEN_MAX_INHERITED ||
        getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &n) != 0 || !listening ||
        getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tn) != 0 || type != SOCK_STREAM ||
        getsockname(fd, (struct sockaddr *)&in->addr, &in->addrlen) != 0 ||
        (in->addr.ss_family != AF_INET && in->addr.ss_family != AF_INET6)) {
        be_log(BE_LOG_WARN, "inherited descriptor %d is not a listening TCP socket: closed", fd);
        close(fd);
        return;
    }
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    in->fd = fd;
    ninherited++;
}

static void
adopt_list(const char *list)
{
    while (*list != '\0') {
        char *end;
        long fd = strtol(list, &end, 10);
        if (end == list || fd < 3 || fd > 65535) {
            be_log(BE_LOG_WARN, "ignoring a malformed %s entry \"%s\"", BE_LISTEN_FDS_ENV, list);
            return;
        }
        adopt((int)fd);
        list = *end == ',' ? end + 1 : end;
    }
}

int
be_listen_inherit_init(void)
{
    const char *ours = getenv(BE_LISTEN_FDS_ENV);
    const char *pid = getenv("LISTEN_PID");
    const char *nfds = getenv("LISTEN_FDS");
    if (ours != NULL) {
        adopt_list(ours);
    } else if (pid != NULL && nfds != NULL && strtol(pid, NULL, 10) == (long)getpid()) {
        long n = strtol(nfds, NULL, 10);
        for (long i = 0; i < n && i < BE_LISTEN_MAX_INHERITED; i++)
            adopt(3 + (int)i);
    }
    unsetenv(BE_LISTEN_FDS_ENV);
    unsetenv("LISTEN_PID");
    unsetenv("LISTEN_FDS");
    unsetenv("LISTEN_FDNAMES");
    return ninherited;
}

int
be_listen_take(const struct sockaddr *addr, socklen_t len)
{
    for (int i = 0; i < ninherited; i++) {
        inherited_t *in = &inherited[i];
        if (in->fd >= 0 &&
            be_listen_same_addr((struct sockaddr *)&in->addr, in->addrlen, addr, len)) {
            int fd = in->fd;
            in->fd = -1;
            return fd;
        }
    }
    return -1;
}

int
be_listen_inherited(const struct sockaddr *addr, socklen_t len)
{
    for (int i = 0; i < ninherited; i++)
        if (be_listen_same_addr((struct sockaddr *)&inherited[i].addr, inherited[i].addrlen, addr,
                                len))
            return 1;
    return 0;
}

int
be_listen_inherit_close_rest(void)
{
    int n = 0;
    for (int i = 0; i < ninherited; i++) {
        if (inherited[i].fd >= 0) {
            close(inherited[i].fd);
            inherited[i].fd = -1;
            n++;
        }
    }
    return n;
}

int
be_listen_bind(const be_listen_t *ls, int reuseport, int backlog)
{
    int fd = socket(ls->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
        bind(fd, (const struct sockaddr *)&ls->addr, ls->addrlen) != 0 ||
        listen(fd, backlog) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}
