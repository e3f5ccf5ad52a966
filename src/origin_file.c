/*
 * origin_file.c - file:// attempts: the block's file read and verified on the I/O pool,
 * the end delivered on the worker through its mailbox. A file that changed size while read
 * is a bad answer, never a block. Knows nothing of retries or peers.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blockedge/block.h"
#include "blockedge/iopool.h"
#include "blockedge/services.h"
#include "blockedge/worker.h"
#include "origin_int.h"

static void
file_work(void *arg)
{
    fetch_t *f = arg;
    int fd = open(f->url, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        f->file_errno = errno;
        f->status = errno == ENOENT || errno == ENOTDIR ? BE_FETCH_NOT_FOUND : BE_FETCH_STATUS;
        return;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        f->file_errno = errno;
        f->status = BE_FETCH_NOT_FOUND;
        close(fd);
        return;
    }
    if ((uint64_t)st.st_size > f->max_size) {
        f->status = BE_FETCH_TOO_LARGE;
        close(fd);
        return;
    }
    f->declared = st.st_size;
    f->block = be_block_new(&f->key, (size_t)st.st_size);
    f->status = BE_FETCH_STATUS;
    if (f->block == NULL) {
        close(fd);
        return;
    }
    be_block_prefault(f->block, (size_t)st.st_size);
    while (f->block->size < (size_t)st.st_size) {
        ssize_t n = read(fd, f->block->data + f->block->size, (size_t)st.st_size - f->block->size);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            f->file_errno = n < 0 ? errno : 0;
            close(fd);
            return; /* short file: it changed under us */
        }
        be_sha256_update(&f->sha, f->block->data + f->block->size, (size_t)n);
        f->block->size += (size_t)n;
    }
    close(fd);
    f->status = be_origin_verify(f);
}

static void
file_done(void *arg)
{
    fetch_t *f = arg;
    if (f->o == NULL) { /* the client went away and already ended the fetch */
        be_sha256_free(&f->sha);
        be_block_unref(&f->block);
        free(f);
        return;
    }
    if (f->file_errno != 0)
        snprintf(f->why, sizeof(f->why), "%s", strerror(f->file_errno));
    f->verified = 1; /* be_origin_verify() already ran on the pool thread */
    be_origin_attempt_end(f, f->status, 0);
}

int
be_origin_file_start(fetch_t *f)
{
    f->max_size = f->o->cfg->max_block_size;
    if (be_iopool_submit(f->o->w->svc->iopool, f->o->w, file_work, file_done, f) != BE_OK)
        return BE_ERROR;
    return BE_OK;
}
