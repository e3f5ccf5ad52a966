/*
 * proxyproto.h - the PROXY protocol header (versions 1 and 2) a load balancer such as HAProxy
 * sends before the client's first byte ("listen ... proxy_protocol"), as pure functions.
 *
 * The header is read without taking a byte past its end (what follows belongs to TLS or HTTP):
 * be_proxyproto_need() says how many bytes may be looked at, be_proxyproto_take() how many of
 * those looked at belong to the header, be_proxyproto_parse() reads the complete header.
 */
#ifndef BLOCKEDGE_PROXYPROTO_H
#define BLOCKEDGE_PROXYPROTO_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define BE_PROXY_V1_MAX 107  /* the longest version 1 line, CRLF included (the spec's bound) */
#define BE_PROXY_V2_MAX 2048 /* 16 fixed bytes plus addresses and TLVs; longer is refused */

/* Bytes that may be read next without passing the header's end: > 0; 0 when the header is
 * complete; -1 when what has arrived is no PROXY header, or one too long (*why says which). */
long be_proxyproto_need(const uint8_t *buf, size_t have, const char **why);

/* Of n bytes looked at after the have already taken, how many belong to the header: a
 * version 1 header ends at its LF, a version 2 one is taken whole (need() bounds it). */
size_t be_proxyproto_take(const uint8_t *buf, size_t have, const uint8_t *next, size_t n);

/* A complete header of len bytes. BE_OK with *src the client's address, or AF_UNSPEC when the
 * header names none (v1 UNKNOWN, v2 LOCAL, a family other than TCP over IPv4/IPv6: the
 * connection's own peer stands); BE_ERROR with *why otherwise. */
int be_proxyproto_parse(const uint8_t *buf, size_t len, struct sockaddr_storage *src,
                        const char **why);

#endif
