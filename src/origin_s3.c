/*
 * origin_s3.c - s3:// origins: the access key and secret (an AWS shared-credentials file's
 * [default] profile, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), and the SigV4 scope
 * libcurl signs with. Secrets are wiped from memory when the client goes. The file is read
 * whole, bounded (BE_S3_CREDENTIALS_MAX, a regular file only), by start-up and by -t alike.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include "blockedge/log.h"
#include "origin_int.h"

static void
forget_secret(char **s)
{
    if (*s != NULL) {
        explicit_bzero(*s, strlen(*s));
        free(*s);
        *s = NULL;
    }
}

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

/* Reads the whole credentials file into buf (cap bytes; the file must be shorter). A FIFO, a
 * device such as /dev/zero or a file past the bound is refused, so start-up never reads
 * without end. Returns the length, or -1 with err set. */
static ssize_t
read_bounded(const char *path, char *buf, size_t cap, char *err, size_t errlen)
{
    struct stat st;
    size_t len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0) {
        snprintf(err, errlen, "open() \"%s\" failed (%d: %s) while reading s3_credentials_file",
                 path, errno, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(err, errlen, "s3_credentials_file \"%s\" is not a regular file", path);
        return -1;
    }
    for (;;) {
        ssize_t n = len < cap ? read(fd, buf + len, cap - len) : 0;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int e = errno;
            close(fd);
            snprintf(err, errlen, "read() \"%s\" failed (%d: %s) while reading s3_credentials_file",
                     path, e, strerror(e));
            return -1;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    close(fd);
    if (len >= cap) {
        snprintf(err, errlen, "s3_credentials_file \"%s\" is larger than %zu bytes", path, cap - 1);
        return -1;
    }
    return (ssize_t)len;
}

int
be_origin_s3_parse_credentials(char *buf, char **ak, char **sk)
{
    int in_default = 0;
    for (char *line = buf, *next; line != NULL; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
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
        char **dst = strcmp(k, "aws_access_key_id") == 0       ? ak
                     : strcmp(k, "aws_secret_access_key") == 0 ? sk
                                                               : NULL;
        if (dst != NULL && *v != '\0') {
            forget_secret(dst);
            *dst = strdup(v);
        }
    }
    if (*ak == NULL || *sk == NULL) {
        forget_secret(ak);
        forget_secret(sk);
        return BE_ERROR;
    }
    return BE_OK;
}

/* The [default] profile of an AWS shared-credentials file into *ak and *sk (malloc'd).
 * BE_OK, or BE_ERROR with err set. */
static int
read_credentials(const char *path, char **ak, char **sk, char *err, size_t errlen)
{
    static _Thread_local char buf[BE_S3_CREDENTIALS_MAX + 1];
    ssize_t len = read_bounded(path, buf, sizeof(buf), err, errlen);
    if (len < 0)
        return BE_ERROR;
    buf[len] = '\0';
    int rc = be_origin_s3_parse_credentials(buf, ak, sk);
    explicit_bzero(buf, (size_t)len);
    if (rc != BE_OK) {
        snprintf(err, errlen,
                 "no aws_access_key_id and aws_secret_access_key in the [default] profile of "
                 "\"%s\"",
                 path);
        return BE_ERROR;
    }
    return BE_OK;
}

/* The credentials of cfg: from its file, else from the environment. */
static int
credentials_of(const be_config_t *cfg, char **ak, char **sk, char *err, size_t errlen)
{
    if (cfg->s3_credentials_file[0] != '\0')
        return read_credentials(cfg->s3_credentials_file, ak, sk, err, errlen);
    const char *id = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
    if (id == NULL || *id == '\0' || secret == NULL || *secret == '\0') {
        snprintf(err, errlen,
                 "s3:// origin without credentials: set s3_credentials_file, or "
                 "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
        return BE_ERROR;
    }
    *ak = strdup(id);
    *sk = strdup(secret);
    return BE_OK;
}

int
be_origin_check(const be_config_t *cfg, char *err, size_t errlen)
{
    int s3 = 0;
    for (int i = 0; i < cfg->nservers; i++)
        s3 |= cfg->servers[i].kind == BE_ORIGIN_S3;
    if (!s3)
        return BE_OK;
    char *ak = NULL, *sk = NULL;
    int rc = credentials_of(cfg, &ak, &sk, err, errlen);
    forget_secret(&ak);
    forget_secret(&sk);
    return rc;
}

int
be_origin_s3_setup(be_origin_t *o)
{
    const be_config_t *cfg = o->cfg;
    char err[1200];
    if (credentials_of(cfg, &o->access_key, &o->secret_key, err, sizeof(err)) != BE_OK) {
        be_log(BE_LOG_EMERG, "%s", err);
        return BE_ERROR;
    }
    snprintf(o->sigv4, sizeof(o->sigv4), "aws:amz:%s:s3", cfg->s3_region);
    o->s3_headers = curl_slist_append(NULL, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
    if (o->access_key == NULL || o->secret_key == NULL || o->s3_headers == NULL)
        return BE_ERROR;
    return BE_OK;
}

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

void
be_origin_s3_dispose(be_origin_t *o)
{
    curl_slist_free_all(o->s3_headers);
    o->s3_headers = NULL;
    forget_secret(&o->access_key);
    forget_secret(&o->secret_key);
}
