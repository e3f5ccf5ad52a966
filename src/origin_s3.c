/*
 * origin_s3.c - s3:// origins: the access key and secret (an AWS shared-credentials file's
 * [default] profile, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), and the SigV4 scope
 * libcurl signs with. Secrets are wiped from memory when the client goes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blockedge/log.h"
#include "origin_int.h"

static char *
trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
        s[--n] = '\0';
    return s;
}

/* The [default] profile of an AWS shared-credentials file. BE_OK or BE_ERROR (logged). */
static int
read_credentials(be_origin_t *o, const char *path)
{
    FILE *fp = fopen(path, "re");
    if (fp == NULL) {
        int e = errno;
        be_log(BE_LOG_EMERG, "open() \"%s\" failed (%d: %s) while reading s3_credentials_file",
               path, e, strerror(e));
        return BE_ERROR;
    }
    char line[2048];
    int in_default = 0;
    while (fgets(line, sizeof(line), fp) != NULL) {
        char *s = trim(line);
        if (*s == '#' || *s == ';' || *s == '\0')
            continue;
        if (*s == '[') {
            char *end = strchr(s, ']');
            if (end != NULL)
                *end = '\0';
            in_default = strcmp(trim(s + 1), "default") == 0;
            continue;
        }
        char *eq = strchr(s, '=');
        if (!in_default || eq == NULL)
            continue;
        *eq = '\0';
        char *k = trim(s), *v = trim(eq + 1);
        char **dst = strcmp(k, "aws_access_key_id") == 0       ? &o->access_key
                     : strcmp(k, "aws_secret_access_key") == 0 ? &o->secret_key
                                                               : NULL;
        if (dst != NULL && *v != '\0') {
            free(*dst);
            *dst = strdup(v);
        }
    }
    explicit_bzero(line, sizeof(line));
    fclose(fp);
    if (o->access_key == NULL || o->secret_key == NULL) {
        be_log(BE_LOG_EMERG,
               "no aws_access_key_id and aws_secret_access_key in the [default] profile of "
               "\"%s\"",
               path);
        return BE_ERROR;
    }
    return BE_OK;
}

int
be_origin_s3_setup(be_origin_t *o)
{
    const be_config_t *cfg = o->cfg;
    if (cfg->s3_credentials_file[0] != '\0') {
        if (read_credentials(o, cfg->s3_credentials_file) != BE_OK)
            return BE_ERROR;
    } else {
        const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
        if (id == NULL || *id == '\0' || secret == NULL || *secret == '\0') {
            be_log(BE_LOG_EMERG, "s3:// origin without credentials: set s3_credentials_file, or "
                                 "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
            return BE_ERROR;
        }
        o->access_key = strdup(id);
        o->secret_key = strdup(secret);
    }
    snprintf(o->sigv4, sizeof(o->sigv4), "aws:amz:%s:s3", cfg->s3_region);
    o->s3_headers = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    if (o->access_key == NULL || o->secret_key == NULL || o->s3_headers == NULL)
        return BE_ERROR;
    return BE_OK;
}

static void forget_secret(char **s);

void
be_origin_s3_refresh(be_origin_t *o)
{
    char *ak = o->access_key, *sk = o->secret_key;
    struct curl_slist *headers = o->s3_headers; /* transfers in flight point at it */
    o->access_key = o->secret_key = NULL;
    o->s3_headers = NULL;
    if (be_origin_s3_setup(o) != BE_OK) {
        be_log(BE_LOG_ERROR, "keeping the S3 credentials read before the reload");
        forget_secret(&o->access_key);
        forget_secret(&o->secret_key);
        o->access_key = ak;
        o->secret_key = sk;
    } else {
        forget_secret(&ak);
        forget_secret(&sk);
    }
    if (headers != NULL) {
        curl_slist_free_all(o->s3_headers);
        o->s3_headers = headers;
    }
}

static void
forget_secret(char **s)
{
    if (*s != NULL) {
        explicit_bzero(*s, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

void
be_origin_s3_dispose(be_origin_t *o)
{
    curl_slist_free_all(o->s3_headers);
    o->s3_headers = NULL;
    forget_secret(&o->access_key);
    forget_secret(&o->secret_key);
}
