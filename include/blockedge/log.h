/*
 * log.h - the error log.
 *
 * Lines read like nginx's: "2026/11/22 10:00:00 [error] 1234#2: message". Before the
 * log file is opened (and for -t), lines go to stderr as "blockedge: [level] message".
 * Thread-safe: each line is one write(2) on an O_APPEND descriptor.
 */
#ifndef BLOCKEDGE_LOG_H
#define BLOCKEDGE_LOG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

enum be_log_level {
    BE_LOG_EMERG,
    BE_LOG_ALERT,
    BE_LOG_CRIT,
    BE_LOG_ERROR,
    BE_LOG_WARN,
    BE_LOG_NOTICE,
    BE_LOG_INFO,
    BE_LOG_DEBUG,
};

/* Name <-> level ("emerg" ... "debug"); be_log_level_parse returns -1 when unknown. */
const char *be_log_level_name(int level);
int be_log_level_parse(const char *name);

/* Opens (or reopens, for SIGUSR1) the error log at path, or stderr when path is NULL or
 * "stderr". Returns BE_OK or BE_ERROR with errno set; the old descriptor stays on error. */
int be_log_open(const char *path, int level);

/* For -t: BE_OK when a log at path (of the named directive) could be opened for appending
 * as be_log_open() does it, without creating the file (an absent one needs a directory that
 * takes new files). BE_ERROR with err set otherwise. */
int be_log_check_path(const char *path, const char *directive, char *err, size_t errlen);
void be_log_close(void);

/* Sets the thread's worker number shown after the pid ("1234#2"); 0 for the main thread. */
void be_log_set_thread_id(int id);

void be_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void be_log_va(int level, const char *fmt, va_list ap);

/* True when a line at this level would be written (to skip building expensive messages). */
int be_log_enabled(int level);

/*
 * A line that a flood could repeat (accept() failures, a full connection table): the first in
 * an interval is written, the rest are counted and the next one written says how many were
 * left out. One per call site, touched by one thread.
 */
typedef struct be_ratelog_s {
    int64_t last;        /* ms of the last line written; 0: never */
    unsigned suppressed; /* lines left out since */
} be_ratelog_t;

#define BE_RATELOG_INTERVAL_MS 10000

void be_log_rated(be_ratelog_t *rl, int64_t now_ms, int level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define be_log_debug(...)                                                                          \
    do {                                                                                           \
        if (be_log_enabled(BE_LOG_DEBUG))                                                          \
            be_log(BE_LOG_DEBUG, __VA_ARGS__);                                                     \
    } while (0)

#endif
