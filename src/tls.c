/*
 * tls.c - SSL_CTX from the config, certificates, ALPN selection, and how a connection's
 * queued output becomes TLS records.
 *
 * Knows nothing of HTTP: conn.c wraps sockets with the context built here and attaches a
 * record writer to each TLS bufferevent. ALPN prefers "h2", then "http/1.1"; a client that
 * offers neither (or no ALPN) gets HTTP/1.1.
 *
 * Records. libevent's OpenSSL bufferevent calls SSL_write once per evbuffer chain, and each
 * SSL_write is at least one record and one write(2): a 4 KiB hit (head chain + body chain by
 * reference) left as two records and two syscalls, and an HTTP/2 burst as a record per frame
 * header. The writer instead runs once at the end of the loop turn in which output was
 * queued, and writes the output in full records of up to 16 KiB. A record that lies in one
 * chain is encrypted from it; one that spans chains (an HTTP/2 frame header and its payload,
 * a response head and its body) is first copied into the worker thread's staging buffer:
 * one memcpy, where pulling the chains up into one would also allocate, copy and free a
 * chain per record. What the socket does not take stays at the front of the output, pulled
 * up then, where the bufferevent's own write event retries it: the same bytes, at least as
 * many (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER covers a moved front; OpenSSL keeps the
 * encrypted record itself, so the staging buffer may be reused at once).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "blockedge/defs.h"
#include "blockedge/tls.h"

int
be_tls_wanted(const be_config_t *cfg)
{
    for (int i = 0; i < cfg->nlisten; i++)
        if (cfg->listen[i].tls)
            return 1;
    return 0;
}

#define BE_TLS13_SUITES "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"
#define BE_TLS12_CIPHERS                                                                           \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:"     \
    "ECDHE-RSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305"

/* The most plaintext one TLS record carries. */
#define BE_TLS_RECORD 16384

static int
select_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
            unsigned int inlen, void *arg)
{
    BE_UNUSED(ssl);
    BE_UNUSED(arg);
    static const unsigned char ours[] = "\x02h2\x08http/1.1";
    unsigned char *sel = NULL;
    if (SSL_select_next_proto(&sel, outlen, ours, sizeof(ours) - 1, in, inlen) !=
        OPENSSL_NPN_NEGOTIATED)
        return SSL_TLSEXT_ERR_NOACK; /* no common protocol: go on without ALPN (HTTP/1.1) */
    *out = sel;
    return SSL_TLSEXT_ERR_OK;
}

static void
openssl_reason(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    if (e == 0) {
        snprintf(buf, len, "unknown error");
        return;
    }
    ERR_error_string_n(e, buf, len);
    ERR_clear_error();
}

SSL_CTX *
be_tls_ctx_new(const be_config_t *cfg, char *err, size_t errlen)
{
    char why[256];
    if (cfg->tls_certificate[0] == '\0' || cfg->tls_certificate_key[0] == '\0') {
        snprintf(err, errlen,
                 "no \"tls_certificate\" and \"tls_certificate_key\" defined for the \"listen ... "
                 "tls\" directive in %s",
                 cfg->path);
        return NULL;
    }
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (ctx == NULL) {
        openssl_reason(why, sizeof(why));
        snprintf(err, errlen, "SSL_CTX_new() failed (%s)", why);
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    /* IGNORE_UNEXPECTED_EOF: a client that closes without close_notify (curl does) has
     * simply closed; it is not an I/O error. */
    SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION |
                                 SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* AES-128-GCM first (AES-NI: 10 rounds against 14 for AES-256, the same security margin
     * for the lifetime of a block request), in the server's order; a client that puts
     * ChaCha20 first (no AES instructions) gets it. */
    SSL_CTX_set_options(ctx, SSL_OP_PRIORITIZE_CHACHA);
    if (SSL_CTX_set_ciphersuites(ctx, BE_TLS13_SUITES) != 1 ||
        SSL_CTX_set_cipher_list(ctx, BE_TLS12_CIPHERS) != 1) {
        openssl_reason(why, sizeof(why));
        snprintf(err, errlen, "cannot set the TLS cipher suites (%s)", why);
        SSL_CTX_free(ctx);
        return NULL;
    }
    /* Resumption: a server-side session cache (TLS 1.2 session ids) and stateless tickets
     * with this context's keys; one TLS 1.3 ticket per connection, not OpenSSL's two. */
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
    SSL_CTX_set_session_id_context(ctx, (const unsigned char *)"blockedge", 9);
    SSL_CTX_set_num_tickets(ctx, 1);
    if (SSL_CTX_use_certificate_chain_file(ctx, cfg->tls_certificate) != 1) {
        openssl_reason(why, sizeof(why));
        snprintf(err, errlen, "cannot load certificate \"%s\" (%s)", cfg->tls_certificate, why);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, cfg->tls_certificate_key, SSL_FILETYPE_PEM) != 1) {
        /* OpenSSL 3 checks the pair here already: name both files for a mismatch. */
        int mismatch = ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH;
        openssl_reason(why, sizeof(why));
        if (mismatch) {
            snprintf(err, errlen, "certificate \"%s\" and key \"%s\" do not match (%s)",
                     cfg->tls_certificate, cfg->tls_certificate_key, why);
            SSL_CTX_free(ctx);
            return NULL;
        }
        snprintf(err, errlen, "cannot load certificate key \"%s\" (%s)", cfg->tls_certificate_key,
                 why);
        SSL_CTX_free(ctx);
        return NULL;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        openssl_reason(why, sizeof(why));
        snprintf(err, errlen, "certificate \"%s\" and key \"%s\" do not match (%s)",
                 cfg->tls_certificate, cfg->tls_certificate_key, why);
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_alpn_select_cb(ctx, select_alpn, NULL);
    return ctx;
}

void
be_tls_ctx_free(SSL_CTX **ctxp)
{
    if (*ctxp != NULL)
        SSL_CTX_free(*ctxp);
    *ctxp = NULL;
}

int
be_tls_alpn_is_h2(SSL *ssl)
{
    const unsigned char *p = NULL;
    unsigned int len = 0;
    SSL_get0_alpn_selected(ssl, &p, &len);
    return len == 2 && memcmp(p, "h2", 2) == 0;
}

/* ---- the record writer --------------------------------------------------------------- */

struct be_tls_writer_s {
    struct bufferevent *bev;
    SSL *ssl;
    struct event *ev;                /* the flush, made active when output is queued */
    struct evbuffer_cb_entry *watch; /* on the bufferevent's output */
    int armed;
};

static void
output_changed(struct evbuffer *buf, const struct evbuffer_cb_info *info, void *arg)
{
    BE_UNUSED(buf);
    be_tls_writer_t *tw = arg;
    if (info->n_added > 0 && !tw->armed) {
        tw->armed = 1;
        event_active(tw->ev, EV_WRITE, 1);
    }
}

/* The plaintext of one record that spans chains; one per thread (flush runs on a worker's
 * loop and SSL_write is done with the bytes when it returns). */
static _Thread_local unsigned char stage[BE_TLS_RECORD];

/* Where the next n bytes of out can be encrypted from: the first chain when it holds them,
 * else the staging buffer. */
static const unsigned char *
record_bytes(struct evbuffer *out, size_t n)
{
    struct evbuffer_iovec v;
    if (evbuffer_peek(out, -1, NULL, &v, 1) >= 1 && v.iov_len >= n)
        return v.iov_base;
    return evbuffer_copyout(out, stage, n) == (ev_ssize_t)n ? stage : NULL;
}

static void
flush(evutil_socket_t fd, short what, void *arg)
{
    BE_UNUSED(fd);
    BE_UNUSED(what);
    be_tls_writer_t *tw = arg;
    tw->armed = 0;
    if (!SSL_is_init_finished(tw->ssl))
        return; /* the handshake is the bufferevent's */
    struct evbuffer *out = bufferevent_get_output(tw->bev);
    int wrote = 0;
    size_t len;
    while ((len = evbuffer_get_length(out)) > 0) {
        size_t n = len < BE_TLS_RECORD ? len : BE_TLS_RECORD;
        const unsigned char *p = record_bytes(out, n);
        if (p == NULL)
            break;
        ERR_clear_error();
        int r = SSL_write(tw->ssl, p, (int)n);
        if (r <= 0) {
            /* Socket full, or an error: the bufferevent's write event (armed while output is
             * queued) retries these bytes, and reports what fails. It writes its first chain,
             * which must hold at least the n bytes OpenSSL has taken. */
            ERR_clear_error();
            if (p == stage)
                evbuffer_pullup(out, (ssize_t)n);
            break;
        }
        evbuffer_drain(out, (size_t)r);
        wrote = 1;
    }
    /* As the bufferevent does after a write: the protocol's write callback, when the output
     * is down to its low-water mark. It may free the connection: tw is not touched after. */
    if (wrote)
        bufferevent_trigger(tw->bev, EV_WRITE, 0);
}

be_tls_writer_t *
be_tls_writer_new(struct event_base *base, struct bufferevent *bev, SSL *ssl)
{
    be_tls_writer_t *tw = calloc(1, sizeof(*tw));
    if (tw == NULL)
        return NULL;
    tw->bev = bev;
    tw->ssl = ssl;
    tw->ev = event_new(base, -1, 0, flush, tw);
    if (tw->ev != NULL)
        tw->watch = evbuffer_add_cb(bufferevent_get_output(bev), output_changed, tw);
    if (tw->ev == NULL || tw->watch == NULL) {
        be_tls_writer_free(&tw);
        return NULL;
    }
    return tw;
}

void
be_tls_writer_free(be_tls_writer_t **twp)
{
    be_tls_writer_t *tw = *twp;
    if (tw == NULL)
        return;
    if (tw->watch != NULL)
        evbuffer_remove_cb_entry(bufferevent_get_output(tw->bev), tw->watch);
    if (tw->ev != NULL)
        event_free(tw->ev);
    free(tw);
    *twp = NULL;
}
