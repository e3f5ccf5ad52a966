/*
 * adminhttp.h - HTTP/1.1 on the admin listener: one request per connection, read with bounds
 * (head, then a body when the handler asks for one), answered once, then closed.
 *
 * The admin's endpoints are few and operator-driven, so the parser is small and strict: a
 * request line, the header fields the admin uses (Authorization, Content-Length,
 * Transfer-Encoding, Expect), nothing pipelined. What to answer is the handler's business
 * (admin.c routes); how bytes come and go is this module's. Thread: the admin's loop.
 */
#ifndef BLOCKEDGE_ADMINHTTP_H
#define BLOCKEDGE_ADMINHTTP_H

#include <stddef.h>
#include <stdint.h>

#include "blockedge/adminauth.h"
#include "blockedge/defs.h"

struct event_base;
struct evbuffer;

#define BE_ADMINHTTP_MAX_HEAD 8192       /* request line and fields; past it: 431 */
#define BE_ADMINHTTP_MAX_BODY (16 << 20) /* the most any handler may ask to read */

/* A parsed request head. */
typedef struct be_adminreq_s {
    char method[16];
    char path[512];  /* the target up to '?' */
    char query[512]; /* after '?', or "" */
    char authorization[BE_ADMIN_TOKEN_MAX + 64];
    int has_authorization;
    uint64_t content_length;
    int has_length;
    int chunked;         /* Transfer-Encoding other than identity */
    int expect_continue; /* Expect: 100-continue */
} be_adminreq_t;

/*
 * Parses a request head: head[0..len) holds the request line and the fields and ends with the
 * blank line. BE_OK; or BE_ERROR with the status to answer in *status (400, 414, 431, 505) and a
 * short reason in *why (a static string).
 */
int be_adminreq_parse(const char *head, size_t len, be_adminreq_t *r, int *status,
                      const char **why);

/* The first "top=N" parameter of a query (N decimal digits) clamped to max, else dflt (no such
 * parameter, or one without a digit after "top=": "top=-1" is not a huge N). */
size_t be_adminreq_top(const char *query, size_t dflt, size_t max);

typedef struct be_adminhttp_s be_adminhttp_t;

/* What the admin does with a connection's request. */
typedef struct be_adminhttp_ops_s {
    /* The head has arrived (or could not be parsed: then the connection has already answered
     * it and this is not called). Answer with be_adminhttp_reply() now, or hold the connection
     * and answer later, and return BE_DECLINED; or return BE_OK to have a body of
     * r->content_length bytes read (answered 100 Continue first when the client expects it),
     * after which body() runs. */
    int (*head)(void *ctx, be_adminhttp_t *c, const be_adminreq_t *r);
    /* The whole body; answer now or hold. body holds exactly r->content_length bytes. */
    void (*body)(void *ctx, be_adminhttp_t *c, const be_adminreq_t *r, struct evbuffer *body);
    /* The connection is gone (answered, timed out, reset, or freed): forget c. */
    void (*closed)(void *ctx, be_adminhttp_t *c);
} be_adminhttp_ops_t;

/* Takes an accepted socket; it reads at once unless answered first. NULL when out of memory
 * (fd is closed). ops and ctx must outlive it. */
be_adminhttp_t *be_adminhttp_new(struct event_base *base, int fd, const be_adminhttp_ops_t *ops,
                                 void *ctx);

/* Closes at once (an answer not yet sent is lost); ops->closed runs. *cp = NULL. */
void be_adminhttp_free(be_adminhttp_t **cp);

/* Queues the one answer (status line from the status, the usual fields, extra ones: "" or
 * lines each ending in \r\n) and closes once it has left. body is emptied; NULL = no body.
 * A second answer is ignored. */
void be_adminhttp_reply(be_adminhttp_t *c, int status, const char *type, const char *extra,
                        struct evbuffer *body);

/* be_adminhttp_reply() with a text/plain body from a format; a newline is added. */
void be_adminhttp_text(be_adminhttp_t *c, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Whether the connection is reading a body now (the admin bounds how many do at once). */
int be_adminhttp_reading_body(const be_adminhttp_t *c);

/* Keeps the connection waiting for an answer from elsewhere (another thread's result through
 * the admin box). If it goes first, gone(arg) runs and the holder must forget c; an answer
 * releases the hold. Reading stops meanwhile. */
void be_adminhttp_hold(be_adminhttp_t *c, void (*gone)(void *arg), void *arg);

#endif
