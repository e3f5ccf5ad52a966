/*
 * block.c - refcounted blocks: a header allocation and a bytes allocation.
 *
 * Invariants: refs > 0 while anyone holds the block; the bytes never change, move or shrink
 * after the block is published (a send holds pointers into them); data is never NULL (an
 * empty block holds one byte) so copies of zero bytes stay defined; the magic is checked at
 * every entry so a stale pointer fails loudly.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "blockedge/alloc.h"
#include "blockedge/check.h"
#include "blockedge/block.h"

/* The header stays one size class: growing it would cost every cached block. */
_Static_assert(sizeof(be_block_t) <= 128, "be_block_t outgrew its 128-byte size class");

be_block_t *
be_block_new(const be_key_t *key, size_t capacity)
{
    be_block_t *b = be_alloc_block(sizeof(*b));
    if (b == NULL)
        return NULL;
    memset(b, 0, sizeof(*b));
    b->data = be_alloc_block(capacity);
    if (b->data == NULL) {
        be_alloc_block_free(b);
        return NULL;
    }
    b->magic = BE_BLOCK_MAGIC;
    atomic_init(&b->refs, 1);
    b->capacity = capacity;
    b->key = *key;
    return b;
}

/* Linux 5.14; older kernels answer EINVAL and the bytes fault in page by page as before. */
#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

void
be_block_prefault(be_block_t *b, size_t len)
{
    BE_CHECK_OBJ_NOTNULL(b, BE_BLOCK_MAGIC);
    long p = sysconf(_SC_PAGESIZE); /* glibc: a read of the auxiliary vector */
    size_t page = p > 0 ? (size_t)p : 4096;
    if (len > b->capacity)
        len = b->capacity;
    /* only whole pages inside [data, data + len): the block's own, whatever the allocator
     * keeps around them */
    uintptr_t start = ((uintptr_t)b->data + page - 1) & ~(uintptr_t)(page - 1);
    uintptr_t end = ((uintptr_t)b->data + len) & ~(uintptr_t)(page - 1);
    if (end >= start + BE_BLOCK_PREFAULT_MIN)
        (void)madvise((void *)start, end - start, MADV_POPULATE_WRITE);
}

be_block_t *
be_block_grow(be_block_t *b, size_t capacity)
{
    BE_CHECK_OBJ_NOTNULL(b, BE_BLOCK_MAGIC);
    BE_ASSERT(atomic_load(&b->refs) == 1);
    unsigned char *d = be_alloc_block_resize(b->data, capacity);
    if (d == NULL)
        return NULL;
    b->data = d;
    b->capacity = capacity;
    return b;
}

void
be_block_trim(be_block_t *b)
{
    BE_CHECK_OBJ_NOTNULL(b, BE_BLOCK_MAGIC);
    BE_ASSERT(atomic_load(&b->refs) == 1);
    if (b->capacity == b->size || be_alloc_class(b->capacity) == be_alloc_class(b->size))
        return;
    unsigned char *d = be_alloc_block_resize(b->data, b->size);
    if (d == NULL)
        return;
    b->data = d;
    b->capacity = b->size;
}

be_block_t *
be_block_ref(be_block_t *b)
{
    BE_CHECK_OBJ_NOTNULL(b, BE_BLOCK_MAGIC);
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void
be_block_unref(be_block_t **bp)
{
    be_block_t *b = *bp;
    if (b == NULL)
        return;
    *bp = NULL;
    BE_CHECK_OBJ_NOTNULL(b, BE_BLOCK_MAGIC);
    if (atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1) {
        b->magic = 0;
        be_alloc_block_free(b->data);
        be_alloc_block_free(b);
    }
}

size_t
be_block_footprint(const be_block_t *b)
{
    BE_CHECK_OBJ_NOTNULL(b, BE_BLOCK_MAGIC);
    return be_alloc_class(sizeof(*b)) + be_alloc_class(b->capacity);
}

static void
release_ref(const void *data, size_t len, void *arg)
{
    BE_UNUSED(data);
    BE_UNUSED(len);
    be_block_t *b = arg;
    be_block_unref(&b);
}

int
be_block_add_to_evbuffer(be_block_t *b, struct evbuffer *out, size_t off, size_t len)
{
    BE_CHECK_OBJ_NOTNULL(b, BE_BLOCK_MAGIC);
    BE_ASSERT(off + len <= b->size);
    if (len == 0)
        return BE_OK;
    be_block_ref(b);
    if (evbuffer_add_reference(out, b->data + off, len, release_ref, b) != 0) {
        be_block_unref(&b);
        return BE_ERROR;
    }
    return BE_OK;
}
