/*
 * listen.h - listening sockets: bound here, or inherited from the process that started this
 * one (a binary upgrade's BLOCKEDGE_LISTEN_FDS, or systemd's LISTEN_FDS), and handed on.
 *
 * The inherited sockets are found once at start-up (be_listen_inherit_init) and matched to
 * the configuration by address: a worker takes an inherited socket before it binds a new one,
 * so connections waiting in an inherited socket's queue are accepted here instead of being
 * refused. Thread: main only.
 */
#ifndef BLOCKEDGE_LISTEN_H
#define BLOCKEDGE_LISTEN_H

#include <sys/socket.h>

#include "blockedge/config_types.h"

#define BE_LISTEN_FDS_ENV       "BLOCKEDGE_LISTEN_FDS"
#define BE_LISTEN_MAX_INHERITED 256

/* Reads BLOCKEDGE_LISTEN_FDS ("3,4,9") or, when LISTEN_PID is this process, LISTEN_FDS
 * (fds 3..3+n-1), keeps the listening stream sockets among them (close-on-exec from now on)
 * and unsets the variables. Returns how many were found. */
int be_listen_inherit_init(void);

/* An inherited socket bound to addr not yet taken, or -1. The caller owns it. */
int be_listen_take(const struct sockaddr *addr, socklen_t len);

/* Whether a socket bound to addr was inherited at all (taken or not). */
int be_listen_inherited(const struct sockaddr *addr, socklen_t len);

/* Closes the inherited sockets nobody took; returns how many. */
int be_listen_inherit_close_rest(void);

/* A new non-blocking, close-on-exec socket bound to ls (SO_REUSEADDR, and SO_REUSEPORT when
 * reuseport is set) and listening, or -1 with errno set. */
int be_listen_bind(const be_listen_t *ls, int reuseport, int backlog);

/* Same address (family, address and port)? */
int be_listen_same_addr(const struct sockaddr *a, socklen_t alen, const struct sockaddr *b,
                        socklen_t blen);

#endif
