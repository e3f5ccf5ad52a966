/*
 * adminauth.c - the admin token: the file that holds it and the constant-time check of the
 * bearer token a write request presents.
 *
 * Owns the token file's format (one token, white space around it ignored) and the
 * comparison; the admin listener decides which requests need it and answers 403. Invariant:
 * a presented token is never compared byte by byte with the secret: both are hashed and the
 * digests compared with CRYPTO_memcmp, so neither a mismatch's position nor the secret's
 * length shows in the time taken. No allocation, no locks, no clock.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "blockedge/adminauth.h"
#include "blockedge/blockkey.h"

#define FILE_MAX 4096 /* a token file larger than this is not a token file */

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* Reads at most cap bytes of fd into buf. Returns the count, or -1 (errno set). */
static ssize_t
read_all(int fd, char *buf, size_t cap)
{
    size_t n = 0;
    while (n < cap) {
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        n += (size_t)r;
    }
    return (ssize_t)n;
}

/* Checks the trimmed text of a token file. NULL when it is a token, else the reason. */
static const char *
token_problem(const char *t, size_t len)
{
    if (len == 0)
        return "is empty";
    if (len > BE_ADMIN_TOKEN_MAX)
        return "holds a token longer than 512 bytes";
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)t[i] <= ' ' || (unsigned char)t[i] >= 0x7f)
            return "holds a space, a control or a non-ASCII character (one token expected)";
    return NULL;
}

int
be_secret_file_read(const char *path, char *buf, size_t max, size_t *len, int *loose, char *err,
                    size_t errlen)
{
    struct stat st;
    *len = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(err, errlen, "open() \"%s\" failed (%d: %s)", path, errno, strerror(errno));
        return BE_ERROR;
    }
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        snprintf(err, errlen, "\"%s\" is not a regular file", path);
        return BE_ERROR;
    }
    if (loose != NULL)
        *loose = (st.st_mode & (S_IRWXG | S_IRWXO)) != 0;
    ssize_t n = read_all(fd, buf, max + 1);
    int e = errno;
    close(fd);
    if (n < 0) {
        snprintf(err, errlen, "read() \"%s\" failed (%d: %s)", path, e, strerror(e));
        return BE_ERROR;
    }
    *len = (size_t)n;
    return (size_t)n > max ? BE_DECLINED : BE_OK;
}

int
be_adminauth_read(const char *path, char *token, size_t cap, char *err, size_t errlen)
{
    char buf[FILE_MAX + 1];
    size_t n;
    int rc = be_secret_file_read(path, buf, FILE_MAX, &n, NULL, err, errlen);
    if (rc == BE_ERROR)
        return BE_ERROR;
    if (rc == BE_DECLINED) {
        snprintf(err, errlen, "\"%s\" is larger than %d bytes (one token expected)", path,
                 FILE_MAX);
        return BE_ERROR;
    }
    const char *t = buf, *end = buf + n;
    while (t < end && is_space(*t))
        t++;
    while (end > t && is_space(end[-1]))
        end--;
    const char *why = token_problem(t, (size_t)(end - t));
    if (why == NULL && (size_t)(end - t) >= cap)
        why = "holds a token too long for its buffer";
    if (why != NULL) {
        snprintf(err, errlen, "\"%s\" %s", path, why);
        return BE_ERROR;
    }
    memcpy(token, t, (size_t)(end - t));
    token[end - t] = '\0';
    OPENSSL_cleanse(buf, sizeof(buf));
    return BE_OK;
}

int
be_adminauth_equal(const void *a, size_t alen, const void *b, size_t blen)
{
    be_key_t da, db;
    if (be_sha256(a, alen, &da) != BE_OK || be_sha256(b, blen, &db) != BE_OK)
        return 0;
    return CRYPTO_memcmp(da.d, db.d, sizeof(da.d)) == 0;
}

int
be_adminauth_check(const char *token, const char *value, size_t len)
{
    static const char scheme[] = "Bearer";
    const size_t slen = sizeof(scheme) - 1;
    if (token == NULL || token[0] == '\0')
        return BE_AUTH_OK;
    if (value == NULL)
        return BE_AUTH_MISSING;
    while (len > 0 && is_space(*value)) {
        value++;
        len--;
    }
    if (len < slen || strncasecmp(value, scheme, slen) != 0 ||
        (len > slen && value[slen] != ' ' && value[slen] != '\t'))
        return BE_AUTH_MISSING; /* another scheme (Basic ...) is no bearer token */
    value += slen;
    len -= slen;
    while (len > 0 && is_space(*value)) {
        value++;
        len--;
    }
    while (len > 0 && is_space(value[len - 1]))
        len--;
    if (len == 0)
        return BE_AUTH_MISSING;
    return be_adminauth_equal(value, len, token, strlen(token)) ? BE_AUTH_OK : BE_AUTH_WRONG;
}
