/*
 * check.h - checks that run in every build type, unlike assert(3) (every build defines
 * NDEBUG). Varnish's CHECK_OBJ_NOTNULL is the model: one load and one compare at the entry
 * of each public function that takes a long-lived object, so a stale or wrong pointer fails
 * at once, loudly, with file:line and the expression, instead of corrupting memory later.
 */
#ifndef BLOCKEDGE_CHECK_H
#define BLOCKEDGE_CHECK_H

#include <stdio.h>
#include <stdlib.h>

/* Prints "blockedge: check failed at FILE:LINE in FUNC(): EXPR" to stderr and aborts. */
__attribute__((noreturn, cold)) static inline void
be_check_failed(const char *file, int line, const char *func, const char *expr)
{
    fprintf(stderr, "blockedge: check failed at %s:%d in %s(): %s\n", file, line, func, expr);
    abort();
}

/* Aborts unless cond holds. */
#define BE_ASSERT(cond)                                                                            \
    do {                                                                                           \
        if (__builtin_expect(!(cond), 0))                                                          \
            be_check_failed(__FILE__, __LINE__, __func__, #cond);                                  \
    } while (0)

/* Aborts unless p is not NULL and p->magic == m. */
#define BE_CHECK_OBJ_NOTNULL(p, m)                                                                 \
    do {                                                                                           \
        if (__builtin_expect((p) == NULL || (p)->magic != (m), 0))                                 \
            be_check_failed(__FILE__, __LINE__, __func__, #p "->magic == " #m);                    \
    } while (0)

/* Aborts unless p is NULL or p->magic == m. */
#define BE_CHECK_OBJ_ORNULL(p, m)                                                                  \
    do {                                                                                           \
        if (__builtin_expect((p) != NULL && (p)->magic != (m), 0))                                 \
            be_check_failed(__FILE__, __LINE__, __func__, #p "->magic == " #m);                    \
    } while (0)

#endif
