/*
 * test_listen.c - listening sockets: bound here, or adopted from BLOCKEDGE_LISTEN_FDS (a binary
 * upgrade) and LISTEN_FDS (systemd) by address. Only listening TCP sockets are adopted (a
 * descriptor that is anything else is closed), each is taken once, the variables are unset,
 * close-on-exec is set, and the ones nobody took are closed.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blockedge/listen.h"
#include "test.h"

/* A be_listen_t for 127.0.0.1:port (0: any free port, which the bound socket then tells). */
static be_listen_t
loopback(int port)
{
    be_listen_t ls;
    memset(&ls, 0, sizeof(ls));
    struct sockaddr_in *in = (struct sockaddr_in *)&ls.addr;
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    in->sin_port = htons((uint16_t)port);
    ls.addrlen = sizeof(*in);
    snprintf(ls.text, sizeof(ls.text), "127.0.0.1:%d", port);
    return ls;
}

/* The listen entry for where fd is bound. */
static be_listen_t
bound_to(int fd)
{
    be_listen_t ls = loopback(0);
    socklen_t len = sizeof(ls.addr);
    getsockname(fd, (struct sockaddr *)&ls.addr, &len);
    return ls;
}

static int
is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0 || errno != EBADF;
}

static void
test_listen_bind_gives_a_listening_nonblocking_cloexec_socket(void)
{
    be_listen_t ls = loopback(0);
    int fd = be_listen_bind(&ls, 1, 16);
    BE_CHECK(fd >= 0);
    int on = 0;
    socklen_t n = sizeof(on);
    BE_CHECK(getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &n) == 0 && on);
    BE_CHECK(fcntl(fd, F_GETFL) & O_NONBLOCK);
    BE_CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    /* SO_REUSEPORT: a second socket on the same address binds too */
    be_listen_t same = bound_to(fd);
    int fd2 = be_listen_bind(&same, 1, 16);
    BE_CHECK(fd2 >= 0);
    /* without it, the address is busy */
    int fd3 = be_listen_bind(&same, 0, 16);
    BE_CHECK(fd3 < 0 && errno == EADDRINUSE);
    close(fd);
    close(fd2);
}

static void
test_listen_adopts_inherited_sockets_by_address_once_each(void)
{
    be_listen_t any = loopback(0);
    int a = be_listen_bind(&any, 1, 16);
    be_listen_t la = bound_to(a);
    int a2 = be_listen_bind(&la, 1, 16); /* a second socket of the same address */
    int b = be_listen_bind(&any, 1, 16);
    be_listen_t lb = bound_to(b);
    int unbound = socket(AF_INET, SOCK_STREAM, 0); /* not listening: refused and closed */
    BE_CHECK(a >= 0 && a2 >= 0 && b >= 0 && unbound >= 0);
    fcntl(a, F_SETFD, 0);
    char list[128];
    snprintf(list, sizeof(list), "%d,%d,%d,%d", a, a2, b, unbound);
    setenv(BE_LISTEN_FDS_ENV, list, 1);

    BE_CHECK_INT(be_listen_inherit_init(), 3);
    BE_CHECK(getenv(BE_LISTEN_FDS_ENV) == NULL);
    BE_CHECK(!is_open(unbound));
    BE_CHECK(fcntl(a, F_GETFD) & FD_CLOEXEC);

    const struct sockaddr *sa = (const struct sockaddr *)&la.addr;
    BE_CHECK(be_listen_inherited(sa, la.addrlen));
    int t1 = be_listen_take(sa, la.addrlen);
    int t2 = be_listen_take(sa, la.addrlen);
    BE_CHECK((t1 == a && t2 == a2) || (t1 == a2 && t2 == a));
    BE_CHECK_INT(be_listen_take(sa, la.addrlen), -1);
    BE_CHECK(be_listen_inherited(sa, la.addrlen)); /* still known as inherited */

    be_listen_t other = loopback(1);
    BE_CHECK(!be_listen_inherited((const struct sockaddr *)&other.addr, other.addrlen));

    /* b was not taken: closed by close_rest */
    BE_CHECK_INT(be_listen_inherit_close_rest(), 1);
    BE_CHECK(!is_open(b));
    BE_CHECK(be_listen_take((const struct sockaddr *)&lb.addr, lb.addrlen) < 0);
    close(a);
    close(a2);
}

static void
test_listen_same_addr_compares_family_address_and_port(void)
{
    be_listen_t x = loopback(8480), y = loopback(8480), z = loopback(8481);
    const struct sockaddr *px = (const void *)&x.addr, *py = (const void *)&y.addr,
                          *pz = (const void *)&z.addr;
    BE_CHECK(be_listen_same_addr(px, x.addrlen, py, y.addrlen));
    BE_CHECK(!be_listen_same_addr(px, x.addrlen, pz, z.addrlen));
    struct sockaddr_in6 v6;
    memset(&v6, 0, sizeof(v6));
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(8480);
    BE_CHECK(!be_listen_same_addr(px, x.addrlen, (const struct sockaddr *)&v6, sizeof(v6)));
}

int
main(void)
{
    BE_RUN(test_listen_bind_gives_a_listening_nonblocking_cloexec_socket);
    BE_RUN(test_listen_adopts_inherited_sockets_by_address_once_each);
    BE_RUN(test_listen_same_addr_compares_family_address_and_port);
    BE_TEST_EXIT();
}
