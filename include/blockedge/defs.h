/*
 * defs.h - types and return codes shared by every blockedge module.
 *
 * Status functions return one of the BE_* codes below; look-ups return a pointer or NULL.
 * Time is always passed in as a be_msec_t (milliseconds on the monotonic clock) so that
 * data structures never read the clock themselves.
 */
#ifndef BLOCKEDGE_DEFS_H
#define BLOCKEDGE_DEFS_H

#include <stddef.h>
#include <stdint.h>

#define BE_VERSION  "0.1.0"

#define BE_OK       0
#define BE_ERROR    -1
#define BE_AGAIN    -2
#define BE_DECLINED -3
#define BE_BUSY     -4

typedef int64_t be_msec_t;

#define BE_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#define BE_UNUSED(x)    ((void)(x))

#endif
