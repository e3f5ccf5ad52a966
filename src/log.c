/*
 * log.c - the error log.
 *
 * One descriptor, swapped atomically on reopen (SIGUSR1), so any thread may log at any
 * time. Each line is formatted into a stack buffer and written with one write(2) to an
 * O_APPEND file, which keeps lines whole when threads log at once. Before a file is opened
 * lines go to stderr in the short form operators see from -t.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "blockedge/defs.h"
#include "blockedge/log.h"

static const char *const level_names[] = {"emerg", "alert",  "crit", "error",
                                          "warn",  "notice", "info", "debug"};

static atomic_int log_fd = -1; /* -1: stderr, short form */
static atomic_int log_level = BE_LOG_NOTICE;
static _Thread_local int thread_id;

const char *
be_log_level_name(int level)
{
    if (level < 0 || level >= (int)BE_ARRAY_LEN(level_names))
        return "unknown";
    return level_names[level];
}

int
be_log_level_parse(const char *name)
{
    for (size_t i = 0; i < BE_ARRAY_LEN(level_names); i++)
        if (strcmp(name, level_names[i]) == 0)
            return (int)i;
    return -1;
}

int
be_log_check_path(const char *path, const char *directive, char *err, size_t errlen)
{
    if (path == NULL || path[0] == '\0' || strcmp(path, "stderr") == 0)
        return BE_OK;
    /* O_NONBLOCK: a FIFO without a reader yet answers ENXIO at once instead of blocking */
    int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    int e = errno;
    if (fd >= 0) {
        close(fd);
        return BE_OK;
    }
    if (e == ENOENT) { /* start-up will create it: its directory must take a new file */
        char dir[1024];
        snprintf(dir, sizeof(dir), "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash == NULL)
            snprintf(dir, sizeof(dir), ".");
        else
            slash[slash == dir] = '\0'; /* "/x.log": the root itself */
        struct stat st;
        if (stat(dir, &st) != 0)
            e = errno;
        else if (!S_ISDIR(st.st_mode))
            e = ENOTDIR;
        else if (access(dir, W_OK | X_OK) != 0)
            e = errno;
        else
            return BE_OK;
    } else if (e == ENXIO) {
        return BE_OK;
    }
    snprintf(err, errlen, "open() \"%s\" failed (%d: %s) while checking \"%s\"", path, e,
             strerror(e), directive);
    return BE_ERROR;
}

int
be_log_open(const char *path, int level)
{
    int fd = -1;
    if (path != NULL && path[0] != '\0' && strcmp(path, "stderr") != 0) {
        fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (fd < 0)
            return BE_ERROR;
    }
    atomic_store(&log_level, level);
    /* Another thread may be writing to the old descriptor right now: its number is never
     * closed while in use, the new file is put behind it instead (dup2 is atomic). */
    int old = atomic_load(&log_fd);
    if (old >= 0 && fd >= 0) {
        dup2(fd, old);
        close(fd);
    } else if (old >= 0) {
        atomic_store(&log_fd, -1);
        dup2(STDERR_FILENO, old); /* stays open, pointing at stderr, for a late writer */
    } else {
        atomic_store(&log_fd, fd);
    }
    return BE_OK;
}

void
be_log_close(void)
{
    int old = atomic_exchange(&log_fd, -1);
    if (old >= 0)
        close(old);
}

void
be_log_set_thread_id(int id)
{
    thread_id = id;
}

int
be_log_enabled(int level)
{
    return level <= atomic_load_explicit(&log_level, memory_order_relaxed);
}

void
be_log_va(int level, const char *fmt, va_list ap)
{
    if (!be_log_enabled(level))
        return;
    char line[2048];
    size_t n;
    int fd = atomic_load(&log_fd);
    if (fd < 0) {
        n = (size_t)snprintf(line, sizeof(line), "blockedge: [%s] ", be_log_level_name(level));
    } else {
        struct timeval tv;
        struct tm tm;
        gettimeofday(&tv, NULL);
        localtime_r(&tv.tv_sec, &tm);
        n = strftime(line, sizeof(line), "%Y/%m/%d %H:%M:%S", &tm);
        n += (size_t)snprintf(line + n, sizeof(line) - n, " [%s] %d#%d: ", be_log_level_name(level),
                              (int)getpid(), thread_id);
    }
    int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    if (m < 0)
        m = 0;
    n += (size_t)m;
    if (n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    ssize_t w = write(fd < 0 ? STDERR_FILENO : fd, line, n);
    BE_UNUSED(w);
}

void
be_log(int level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    be_log_va(level, fmt, ap);
    va_end(ap);
}

void
be_log_rated(be_ratelog_t *rl, int64_t now_ms, int level, const char *fmt, ...)
{
    if (rl->last != 0 && now_ms - rl->last < BE_RATELOG_INTERVAL_MS) {
        rl->suppressed++;
        return;
    }
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (rl->suppressed > 0)
        be_log(level, "%s (and %u more like it in the last %d s)", msg, rl->suppressed,
               (int)((now_ms - rl->last) / 1000));
    else
        be_log(level, "%s", msg);
    rl->last = now_ms > 0 ? now_ms : 1;
    rl->suppressed = 0;
}
