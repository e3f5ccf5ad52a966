/*
 * test_block.c - the refcounted block: be_block_prefault() makes a fill's pages resident before
 * they are written, keeps the bytes already there and never reaches past the block's capacity.
 */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "blockedge/block.h"
#include "test.h"

/* Whole pages of [p, p + len) that are resident, and how many whole pages there are. */
static size_t
resident_pages(const void *p, size_t len, size_t *total)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    uintptr_t start = ((uintptr_t)p + page - 1) & ~(uintptr_t)(page - 1);
    uintptr_t end = ((uintptr_t)p + len) & ~(uintptr_t)(page - 1);
    *total = end > start ? (end - start) / page : 0;
    if (*total == 0)
        return 0;
    unsigned char vec[*total];
    if (mincore((void *)start, end - start, vec) != 0)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < *total; i++)
        n += vec[i] & 1;
    return n;
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* Whether this kernel knows MADV_POPULATE_WRITE (Linux 5.14). */
static int
kernel_populates(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    void *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 0;
    int ok = madvise(p, page, MADV_POPULATE_WRITE) == 0;
    munmap(p, page);
    return ok;
}

static void
test_block_prefault_makes_the_fill_resident(void)
{
    if (!kernel_populates()) {
        printf("note: this kernel has no MADV_POPULATE_WRITE; nothing to check\n");
        return;
    }
    be_key_t k;
    memset(&k, 7, sizeof(k));
    size_t cap = 8u << 20, len = 5u << 20, total = 0;
    be_block_t *b = be_block_new(&k, cap);
    BE_CHECK(b != NULL);
    size_t before = resident_pages(b->data, len, &total);
    BE_CHECK(total > 0);
    if (before == total) /* memory the process used before: nothing to tell apart */
        printf("note: the block's pages were resident before the prefault\n");
    be_block_prefault(b, len);
    BE_CHECK_INT(resident_pages(b->data, len, &total), total);
    BE_CHECK_INT(b->size, 0);
    BE_CHECK_INT(b->capacity, cap);
    be_block_unref(&b);
    BE_CHECK(b == NULL);
}

static void
test_block_prefault_keeps_bytes_and_stays_within_capacity(void)
{
    be_key_t k;
    memset(&k, 9, sizeof(k));
    size_t cap = 256 * 1024;
    be_block_t *b = be_block_new(&k, cap);
    BE_CHECK(b != NULL);
    memset(b->data, 0xab, 1000);
    b->size = 1000;
    be_block_prefault(b, 64u << 20); /* more than it holds: clamped to its capacity */
    BE_CHECK_INT(b->size, 1000);
    for (size_t i = 0; i < 1000; i++)
        BE_CHECK_INT(b->data[i], 0xab);
    memset(b->data + 1000, 0xcd, cap - 1000); /* every byte it owns is still writable */
    BE_CHECK_INT(b->data[cap - 1], 0xcd);
    be_block_prefault(b, 0); /* nothing to do */
    be_block_t *small = be_block_new(&k, 100);
    BE_CHECK(small != NULL);
    be_block_prefault(small, 100); /* below a page: left alone */
    be_block_unref(&small);
    be_block_unref(&b);
}

int
main(void)
{
    BE_RUN(test_block_prefault_makes_the_fill_resident);
    BE_RUN(test_block_prefault_keeps_bytes_and_stays_within_capacity);
    BE_TEST_EXIT();
}
