/*
 * tls.h - the server's TLS context: certificate and key from the config, TLS 1.2 and
 * later, ALPN choosing "h2" or "http/1.1".
 */
#ifndef BLOCKEDGE_TLS_H
#define BLOCKEDGE_TLS_H

#include <stddef.h>

#include "blockedge/config.h"

typedef struct ssl_ctx_st SSL_CTX;
typedef struct ssl_st SSL;
struct bufferevent;
struct event_base;
typedef struct be_tls_writer_s be_tls_writer_t;

/* True when some http listen address has the tls flag. */
int be_tls_wanted(const be_config_t *cfg);

/* Builds the server context: loads tls_certificate (a PEM chain) and tls_certificate_key
 * and checks that they match. NULL with a one-line reason in err (nginx's wording, naming
 * the file) on failure. Thread: main. */
SSL_CTX *be_tls_ctx_new(const be_config_t *cfg, char *err, size_t errlen);

void be_tls_ctx_free(SSL_CTX **ctxp);

/* 1 when ALPN settled on "h2" for an established connection; 0 for "http/1.1" or when the
 * client offered no ALPN at all (both mean HTTP/1.1). */
int be_tls_alpn_is_h2(SSL *ssl);

/* Attaches a record writer to an OpenSSL bufferevent (bev, over ssl): from the end of the
 * handshake on, what the protocol queues in one loop turn leaves in records of up to 16 KiB
 * at the end of that turn, and the bufferevent's write callback runs as after its own
 * writes. The caller frees it with be_tls_writer_free() before freeing bev. NULL when out of
 * memory. Thread: the one running base. */
be_tls_writer_t *be_tls_writer_new(struct event_base *base, struct bufferevent *bev, SSL *ssl);

/* Detaches and frees the writer; sets *twp to NULL. NULL-safe. */
void be_tls_writer_free(be_tls_writer_t **twp);

#endif
