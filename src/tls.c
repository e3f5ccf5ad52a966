/*
 * tls.c - SSL_CTX from the config, certificates, ALPN selection.
 *
 * Knows nothing of connections: conn.c wraps sockets with the context built here. ALPN
 * prefers "h2", then "http/1.1"; a client that offers neither (or no ALPN) gets HTTP/1.1.
 */
#include <stdio.h>
#include <string.h>

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
    SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
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
