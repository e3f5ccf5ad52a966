/*
 * diskstore_io.c - the disk tier's positioned reads and writes, carried to the end: a call
 * interrupted by a signal (EINTR) is made again, and a short count goes on from where it
 * stopped, so a caller sees either every byte it asked for, the end of the file, or an error.
 *
 * Knows file descriptors and byte ranges only. Regular files rarely return short counts or
 * EINTR on Linux, but a network or FUSE file system may, and a torn record must never come of
 * it: before, a short write was taken for ENOSPC (the store shrank and paused) and a short or
 * interrupted read for a corrupt record (dropped, counted, refetched).
 * One buffer is read with pread, several (a record's header and bytes) with preadv2.
 */
#include <errno.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#include "diskstore_int.h"

#define MAX_EINTR 64 /* interruptions in a row before giving up (EINTR is returned) */
#define MAX_IOV   4

/* Moves iov (*cnt entries) on by n bytes. */
static void
advance(struct iovec **iov, int *cnt, size_t n)
{
    while (*cnt > 0 && n >= (*iov)->iov_len) {
        n -= (*iov)->iov_len;
        (*iov)++;
        (*cnt)--;
    }
    if (*cnt > 0 && n > 0) {
        (*iov)->iov_base = (char *)(*iov)->iov_base + n;
        (*iov)->iov_len -= n;
    }
}

ssize_t
ds_preadv_full(int fd, const struct iovec *iov, int cnt, uint64_t off, int flags)
{
    struct iovec v[MAX_IOV], *cur = v;
    if (cnt > MAX_IOV) {
        errno = EINVAL;
        return -1;
    }
    memcpy(v, iov, (size_t)cnt * sizeof(*v));
    size_t done = 0;
    int intr = 0;
    while (cnt > 0) {
        ssize_t n = cnt == 1 && flags == 0
                        ? pread(fd, cur->iov_base, cur->iov_len, (off_t)(off + done))
                        : preadv2(fd, cur, cnt, (off_t)(off + done), flags);
        if (n < 0 && errno == EINTR && ++intr < MAX_EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0)
            break; /* the end of the file */
        intr = 0;
        done += (size_t)n;
        advance(&cur, &cnt, (size_t)n);
    }
    return (ssize_t)done;
}

ssize_t
ds_pread_full(int fd, void *buf, size_t len, uint64_t off)
{
    struct iovec v = {buf, len};
    return ds_preadv_full(fd, &v, 1, off, 0);
}

ssize_t
ds_pwritev_full(int fd, const struct iovec *iov, int cnt, uint64_t off)
{
    struct iovec v[MAX_IOV], *cur = v;
    if (cnt > MAX_IOV) {
        errno = EINVAL;
        return -1;
    }
    memcpy(v, iov, (size_t)cnt * sizeof(*v));
    size_t done = 0;
    int intr = 0;
    while (cnt > 0) {
        ssize_t n = pwritev(fd, cur, cnt, (off_t)(off + done));
        if (n < 0 && errno == EINTR && ++intr < MAX_EINTR)
            continue;
        if (n < 0)
            return -1;
        if (n == 0) {
            errno = ENOSPC; /* no progress and no error: the file system took nothing */
            return -1;
        }
        intr = 0;
        done += (size_t)n;
        advance(&cur, &cnt, (size_t)n);
    }
    return (ssize_t)done;
}
