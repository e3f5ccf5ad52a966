/*
 * clientaddr.h - who a request's client is, for per-client limits: the peer's address, or
 * (from a trusted peer such as a load balancer or shield) the address it names in a header.
 *
 * An address is 16 bytes, IPv4 as ::ffff:a.b.c.d, so one table holds both families. IPv6
 * clients are grouped by /64: one host is routinely given a whole /64, so limiting a single
 * address would let it walk through 2^64 of them.
 */
#ifndef BLOCKEDGE_CLIENTADDR_H
#define BLOCKEDGE_CLIENTADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "blockedge/config_types.h"

typedef struct be_clientaddr_s {
    uint8_t a[16];
} be_clientaddr_t;

/* From a socket address (IPv4, IPv6 or v4-mapped IPv6). BE_ERROR for other families. */
int be_clientaddr_from_sockaddr(const struct sockaddr *sa, be_clientaddr_t *out);

/* The address as text (IPv4 dotted for ::ffff:a.b.c.d). Returns out. */
const char *be_clientaddr_text(const be_clientaddr_t *addr, char *out, size_t len);

/* The client a trusted peer's real_ip_header (header, hlen bytes; NULL when absent) names, for
 * the access log: 1 with *out set; 0 when the peer is not trusted or the header names none. */
int be_clientaddr_named(const be_config_t *cfg, const struct sockaddr *peer, const char *header,
                        size_t hlen, be_clientaddr_t *out);

/* From text (one IPv4 or IPv6 address, blanks around it ignored). BE_ERROR when it is not. */
int be_clientaddr_from_text(const char *s, size_t len, be_clientaddr_t *out);

/* Whether addr falls in one of the n rules' prefixes (the rules' allow flag is ignored). */
int be_clientaddr_in(const be_clientaddr_t *addr, const be_acl_rule_t *rules, int n);

/* Clears the host part of an IPv6 address past /64; IPv4 is kept whole. */
void be_clientaddr_group(be_clientaddr_t *addr);

/* The client a per-client limit applies to. A peer outside cfg->trusted is the client. A
 * trusted peer is exempt, unless cfg->real_ip_header is set and the request carried it
 * (header, hlen; header NULL when absent): then the client is the rightmost address in that
 * comma-separated list that is not itself trusted, and exempt when every one is trusted or
 * one does not parse. Returns 1 with *out set (grouped), or 0: exempt. */
int be_clientaddr_of_request(const be_config_t *cfg, const struct sockaddr *peer,
                             const char *header, size_t hlen, be_clientaddr_t *out);

#endif
