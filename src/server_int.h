/*
 * server_int.h - the server object, shared by its files and seen by nothing else:
 *   server.c         build, start, drain and teardown
 *   server_reload.c  a new configuration applied to the running node
 *   upgrade.c        the listening sockets and the disk tier handed to a new binary
 * All of it runs on the main thread, except the tasks server_reload.c posts to workers.
 */
#ifndef BLOCKEDGE_SERVER_INT_H
#define BLOCKEDGE_SERVER_INT_H

#include <stdatomic.h>
#include <stdint.h>
#include <sys/socket.h>

#include "blockedge/server.h"

#define SERVER_MAGIC 0x73727672u /* "srvr" */

typedef struct be_admin_s be_admin_t;

/* One configuration with what was built from it that threads read directly (the TLS
 * context). The server holds one reference, each worker one; the last one out frees it. */
typedef struct generation_s {
    be_config_t *owned; /* freed with it; NULL for the configuration the caller passed */
    const be_config_t *cfg;
    SSL_CTX *tls_ctx;
    atomic_int refs;
} generation_t;

/* A client listening socket the node holds, and which worker accepts on it. The fd belongs
 * to the worker's listener; the entry leaves this table before the worker closes it. */
typedef struct lsock_s {
    int fd;
    int worker; /* index */
    struct sockaddr_storage addr;
    socklen_t addrlen;
} lsock_t;

struct be_server_s {
    uint32_t magic;
    unsigned flags;
    be_services_t svc;
    struct event_base *base; /* the main thread's loop: admin, and main's signals */
    be_admin_t *admin;
    generation_t *gen;   /* current */
    generation_t **wgen; /* [nworkers]: each worker's; written by its own thread once started */
    lsock_t *lsocks;
    int nlsocks, lsock_cap;
    unsigned started : 1;
    unsigned drained : 1;
};

generation_t *be_server_gen_new(const be_config_t *cfg, be_config_t *owned, SSL_CTX *tls_ctx,
                                int refs);
void be_server_gen_unref(generation_t *g);

/* Records fd (listening on addr, accepted on by worker i). BE_OK or BE_ERROR (no memory). */
int be_server_lsock_add(be_server_t *srv, int fd, int worker, const struct sockaddr *addr,
                        socklen_t len);

/* Opens the listening sockets of one listen address on every worker (inherited ones first).
 * BE_OK or BE_ERROR (logged). Before start, the workers take them at once; afterwards each
 * fd goes to its worker in fds[i] for the caller to post. */
int be_server_open_listen(be_server_t *srv, const be_listen_t *ls, int fds[], int nfds);

#endif
