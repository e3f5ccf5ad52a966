/*
 * test_admission.c - the seen-once set of disk_admission second_hit: a first fill is skipped
 * and remembered, the second request (a fill or a memory hit) is admitted once, a colliding
 * key takes the slot, a purge forgets; disk_admission policy's rule and its remembered fills.
 */
#include <string.h>

#include "blockedge/admission.h"
#include "blockedge/policy.h"
#include "test.h"

#define BITS 4 /* 16 slots: slot = (hash >> 16) & 15 */

static uint64_t
in_slot(unsigned slot, uint64_t tag)
{
    return (tag << 20) | ((uint64_t)slot << 16) | 0x1234;
}

static void
test_admission_second_fill_is_admitted_once(void)
{
    be_admission_t *a = be_admission_new(BITS);
    BE_CHECK(a != NULL);
    uint64_t h = in_slot(3, 1);
    BE_CHECK_INT(be_admission_fill(a, h), 0);
    BE_CHECK_INT(be_admission_fill(a, h), 1);
    BE_CHECK_INT(be_admission_fill(a, h), 0); /* forgotten once admitted */
    be_admission_free(&a);
    BE_CHECK(a == NULL);
}

static void
test_admission_hit_after_skipped_fill_is_admitted_once(void)
{
    be_admission_t *a = be_admission_new(BITS);
    uint64_t h = in_slot(5, 7);
    BE_CHECK_INT(be_admission_hit(a, h), 0); /* never filled */
    BE_CHECK_INT(be_admission_fill(a, h), 0);
    BE_CHECK_INT(be_admission_hit(a, h), 1);
    BE_CHECK_INT(be_admission_hit(a, h), 0);
    BE_CHECK_INT(be_admission_fill(a, h), 0); /* a refill after that starts over */
    be_admission_free(&a);
}

static void
test_admission_colliding_key_takes_the_slot(void)
{
    be_admission_t *a = be_admission_new(BITS);
    uint64_t old = in_slot(9, 1), young = in_slot(9, 2), other = in_slot(10, 1);
    BE_CHECK_INT(be_admission_fill(a, old), 0);
    BE_CHECK_INT(be_admission_fill(a, other), 0);
    BE_CHECK_INT(be_admission_fill(a, young), 0);
    BE_CHECK_INT(be_admission_hit(a, old), 0); /* overwritten by young */
    BE_CHECK_INT(be_admission_fill(a, old), 0);
    BE_CHECK_INT(be_admission_hit(a, other), 1); /* another slot: untouched */
    be_admission_free(&a);
}

static void
test_admission_forget_and_zero_hash(void)
{
    be_admission_t *a = be_admission_new(BITS);
    uint64_t h = in_slot(2, 3);
    BE_CHECK_INT(be_admission_fill(a, h), 0);
    be_admission_forget(a, h);
    BE_CHECK_INT(be_admission_hit(a, h), 0);
    BE_CHECK_INT(be_admission_fill(a, 0), 0); /* 0 is stored as 1, not as "empty" */
    BE_CHECK_INT(be_admission_fill(a, 0), 1);
    BE_CHECK(be_admission_new(3) == NULL);
    BE_CHECK(be_admission_new(31) == NULL);
    be_admission_free(&a);
}

/* policy is itself under S3-FIFO and W-TinyLFU and second_hit (said by a note) under LRU and
 * SIEVE; the other modes are what they say. A remembered fill is written by one later hit
 * only, and a second remember of the same block is not a second sighting. */
static void
test_admission_policy_mode_and_remember(void)
{
    BE_CHECK_INT(be_admission_mode(BE_DISK_ADMIT_POLICY, BE_POLICY_S3FIFO), BE_DISK_ADMIT_POLICY);
    BE_CHECK_INT(be_admission_mode(BE_DISK_ADMIT_POLICY, BE_POLICY_WTINYLFU), BE_DISK_ADMIT_POLICY);
    BE_CHECK_INT(be_admission_mode(BE_DISK_ADMIT_POLICY, BE_POLICY_LRU), BE_DISK_ADMIT_SECOND_HIT);
    BE_CHECK_INT(be_admission_mode(BE_DISK_ADMIT_POLICY, BE_POLICY_SIEVE),
                 BE_DISK_ADMIT_SECOND_HIT);
    BE_CHECK_INT(be_admission_mode(BE_DISK_ADMIT_ALL, BE_POLICY_LRU), BE_DISK_ADMIT_ALL);
    BE_CHECK_INT(be_admission_mode(BE_DISK_ADMIT_SECOND_HIT, BE_POLICY_S3FIFO),
                 BE_DISK_ADMIT_SECOND_HIT);
    BE_CHECK(be_admission_note(BE_DISK_ADMIT_POLICY, BE_POLICY_S3FIFO) == NULL);
    BE_CHECK(be_admission_note(BE_DISK_ADMIT_SECOND_HIT, BE_POLICY_LRU) == NULL);
    const char *note = be_admission_note(BE_DISK_ADMIT_POLICY, BE_POLICY_SIEVE);
    BE_CHECK(note != NULL && strstr(note, "sieve") != NULL && strstr(note, "second_hit") != NULL);

    be_admission_t *a = be_admission_new(BITS);
    uint64_t h = in_slot(5, 9);
    be_admission_remember(a, h);
    be_admission_remember(a, h); /* filled again while still small: still one pending write */
    BE_CHECK_INT(be_admission_hit(a, h), 1);
    BE_CHECK_INT(be_admission_hit(a, h), 0);
    be_admission_remember(a, h);
    be_admission_remember(a, in_slot(5, 10)); /* a colliding key takes the slot */
    BE_CHECK_INT(be_admission_hit(a, h), 0);
    be_admission_free(&a);
}

int
main(void)
{
    BE_RUN(test_admission_second_fill_is_admitted_once);
    BE_RUN(test_admission_hit_after_skipped_fill_is_admitted_once);
    BE_RUN(test_admission_colliding_key_takes_the_slot);
    BE_RUN(test_admission_forget_and_zero_hash);
    BE_RUN(test_admission_policy_mode_and_remember);
    BE_TEST_EXIT();
}
