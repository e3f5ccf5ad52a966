/*
 * test.h - the unit tests' few assertion macros.
 *
 * Each test is a function named after the one thing it proves; main() runs them with
 * BE_RUN(). A failed check prints file:line and the expression, and the run exits 1.
 */
#ifndef BLOCKEDGE_TEST_H
#define BLOCKEDGE_TEST_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int be_test_failed;
static int be_test_checks;

#define BE_CHECK(cond)                                                                             \
    do {                                                                                           \
        be_test_checks++;                                                                          \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            be_test_failed = 1;                                                                    \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define BE_CHECK_INT(a, b)                                                                         \
    do {                                                                                           \
        long long va_ = (long long)(a), vb_ = (long long)(b);                                      \
        be_test_checks++;                                                                          \
        if (va_ != vb_) {                                                                          \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__, __LINE__, #a,    \
                    va_, #b, vb_);                                                                 \
            be_test_failed = 1;                                                                    \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define BE_CHECK_STR(a, b)                                                                         \
    do {                                                                                           \
        const char *sa_ = (a), *sb_ = (b);                                                         \
        be_test_checks++;                                                                          \
        if (sa_ == NULL || sb_ == NULL || strcmp(sa_, sb_) != 0) {                                 \
            fprintf(stderr, "%s:%d: %s\n    got:      \"%s\"\n    expected: \"%s\"\n", __FILE__,   \
                    __LINE__, #a, sa_ ? sa_ : "(null)", sb_ ? sb_ : "(null)");                     \
            be_test_failed = 1;                                                                    \
            return;                                                                                \
        }                                                                                          \
    } while (0)

#define BE_RUN(fn)                                                                                 \
    do {                                                                                           \
        int before_ = be_test_failed;                                                              \
        be_test_failed = 0;                                                                        \
        fn();                                                                                      \
        printf("%s %s\n", be_test_failed ? "FAIL" : "ok  ", #fn);                                  \
        be_test_failed = be_test_failed || before_;                                                \
    } while (0)

#define BE_TEST_EXIT()                                                                             \
    do {                                                                                           \
        printf("%d checks, %s\n", be_test_checks, be_test_failed ? "FAILED" : "all passed");       \
        return be_test_failed || be_test_checks == 0 ? 1 : 0;                                      \
    } while (0)

#endif
