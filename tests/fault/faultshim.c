/*
 * faultshim.c - a test-only LD_PRELOAD library that makes chosen system calls fail, on a
 * schedule read from the environment, so the integration tests can drive blockedge's disk and
 * socket error paths with the real server, a real origin and real clients. Never installed.
 *
 * BE_FAULT holds rules separated by ';', each "CALLS[:OPTION]...", CALLS a ','-separated list:
 *   pread preadv preadv2 pwrite pwritev pwritev2 fsync fdatasync open openat rename ftruncate
 *   read readv write writev recv send        (open: open/open64; rename: rename/renameat/
 *   renameat2; recv: recv/recvfrom; send: send/sendto; pread: pread/pread64, and so on)
 * Options:
 *   path=GLOB   only when the file (fnmatch, '*' also crosses '/') matches: the path argument
 *               of open/openat/rename (the old name), else the descriptor's /proc/self/fd link
 *               (a socket reads "socket:[INODE]"); looked up once per descriptor and cached
 *               until it is closed or a file is renamed
 *   lport=N     only sockets whose local port is N; rport=N: whose peer port is N
 *   after=N     let the first N matching calls through (default 0)
 *   every=K     then inject at every K-th matching call (default 1)
 *   count=C     inject at most C times (default: no limit)
 *   err=NAME    fail with this errno (EIO ENOSPC EINTR EAGAIN ECONNRESET EPIPE EDQUOT EROFS
 *               or a number); nothing is done
 *   short=N     instead, do the call with at most N bytes (a short count; data calls only)
 * Example: BE_FAULT="preadv2:path=*.seg:after=10:every=3:err=EIO;pwritev:short=1000:count=5"
 * Every rule counts each call that matches it (so after=N means the N-th such call of the
 * program, whatever other rules do); of the rules whose schedule fires, the first decides.
 * BE_FAULT_LOG=FILE appends one line per injected fault: "CALL fd=FD PATH err=NAME|short=N".
 * A malformed BE_FAULT is reported on stderr and the process exits 2 (a test must not run
 * without the faults it asked for).
 *
 * BE_FAULT_RECORD=FILE (with BE_FAULT_RECORD_PATH=GLOB, default "*.seg*") records what the
 * program does to matching files, for crash-image tests (tests/fault/crashimg.py reads it):
 * text lines, a write followed by its bytes:
 *   W PATH OFFSET LEN\n<LEN bytes>   S PATH (fsync/fdatasync)   T PATH LEN (ftruncate)
 *   C PATH (open with O_CREAT|O_TRUNC)   R OLD NEW (rename)   U PATH (unlink)
 * (the fsync or fdatasync of any directory is recorded too: it makes the names in it durable)
 * recorded after the call succeeded, under one lock so the order is the program's order.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum call {
    C_PREAD,
    C_PREADV,
    C_PREADV2,
    C_PWRITE,
    C_PWRITEV,
    C_PWRITEV2,
    C_FSYNC,
    C_FDATASYNC,
    C_OPEN,
    C_OPENAT,
    C_RENAME,
    C_FTRUNCATE,
    C_READ,
    C_READV,
    C_WRITE,
    C_WRITEV,
    C_RECV,
    C_SEND,
    C_N
};
static const char *const call_names[C_N] = {
    "pread", "preadv",    "preadv2", "pwrite", "pwritev", "pwritev2",
    "fsync", "fdatasync", "open",    "openat", "rename",  "ftruncate",
    "read",  "readv",     "write",   "writev", "recv",    "send"};

#define MAX_RULES 16
#define MAX_FDS   4096
#define PATH_LEN  512

typedef struct rule_s {
    unsigned calls; /* bit per enum call */
    char path[PATH_LEN];
    int lport, rport; /* 0: any */
    unsigned long after, every, count;
    int err;
    long short_len; /* > 0: a short count instead of err */
    atomic_ulong seen, fired;
} rule_t;

static rule_t rules[MAX_RULES];
static int nrules;
static int log_fd = -1, rec_fd = -1;
static char rec_glob[PATH_LEN] = "*.seg*";
static pthread_once_t once = PTHREAD_ONCE_INIT;
static pthread_mutex_t fd_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static char *fd_paths[MAX_FDS]; /* cached /proc/self/fd links; under fd_lock */

/* The real functions, each looked up on first use (a call may come before init, or from init
 * itself): R(name) is the next definition of name after this library. */
static void *
real_get(void **slot, const char *name)
{
    void *p = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (p == NULL) {
        p = dlsym(RTLD_NEXT, name);
        __atomic_store_n(slot, p, __ATOMIC_RELEASE);
    }
    return p;
}
#define REAL(name)                                                                                 \
    typedef __typeof__(name) *name##_fn;                                                           \
    static void *real_##name
#define R(name) ((name##_fn)real_get(&real_##name, #name))
REAL(pread);
REAL(preadv);
REAL(preadv2);
REAL(pwrite);
REAL(pwritev);
REAL(pwritev2);
REAL(fsync);
REAL(fdatasync);
REAL(open);
REAL(openat);
REAL(rename);
REAL(renameat);
REAL(renameat2);
REAL(ftruncate);
REAL(read);
REAL(readv);
REAL(write);
REAL(writev);
REAL(recv);
REAL(recvfrom);
REAL(send);
REAL(sendto);
REAL(close);
REAL(unlinkat);
REAL(unlink);

static const struct {
    const char *name;
    int err;
} errnames[] = {{"EIO", EIO},       {"ENOSPC", ENOSPC},         {"EINTR", EINTR},
                {"EAGAIN", EAGAIN}, {"ECONNRESET", ECONNRESET}, {"EPIPE", EPIPE},
                {"EDQUOT", EDQUOT}, {"EROFS", EROFS},           {"ENOENT", ENOENT}};

static const char *
err_name(int err)
{
    for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
        if (errnames[i].err == err)
            return errnames[i].name;
    return "E?";
}

static void
die(const char *what, const char *rule)
{
    fprintf(stderr, "faultshim: BE_FAULT: %s in \"%s\"\n", what, rule);
    _exit(2);
}

static int
parse_calls(const char *s, unsigned *out)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", s);
    *out = 0;
    for (char *save, *tok = strtok_r(buf, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        int k = -1;
        for (int i = 0; i < C_N; i++)
            if (strcmp(tok, call_names[i]) == 0)
                k = i;
        if (k < 0)
            return -1;
        *out |= 1u << k;
    }
    return *out != 0 ? 0 : -1;
}

static unsigned long
num(const char *v, const char *rule)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0')
        die("bad number", rule);
    return n;
}

static void
parse_rule(char *text, rule_t *r)
{
    char copy[1024];
    snprintf(copy, sizeof(copy), "%s", text);
    char *save, *tok = strtok_r(text, ":", &save);
    if (tok == NULL || parse_calls(tok, &r->calls) != 0)
        die("unknown call", copy);
    r->every = 1;
    r->err = 0;
    for (tok = strtok_r(NULL, ":", &save); tok != NULL; tok = strtok_r(NULL, ":", &save)) {
        char *v = strchr(tok, '=');
        if (v == NULL)
            die("an option without '='", copy);
        *v++ = '\0';
        if (strcmp(tok, "path") == 0) {
            snprintf(r->path, sizeof(r->path), "%s", v);
        } else if (strcmp(tok, "lport") == 0) {
            r->lport = (int)num(v, copy);
        } else if (strcmp(tok, "rport") == 0) {
            r->rport = (int)num(v, copy);
        } else if (strcmp(tok, "after") == 0) {
            r->after = num(v, copy);
        } else if (strcmp(tok, "every") == 0) {
            r->every = num(v, copy);
            if (r->every == 0)
                die("every=0", copy);
        } else if (strcmp(tok, "count") == 0) {
            r->count = num(v, copy);
        } else if (strcmp(tok, "short") == 0) {
            r->short_len = (long)num(v, copy);
            if (r->short_len == 0)
                die("short=0", copy);
        } else if (strcmp(tok, "err") == 0) {
            for (size_t i = 0; i < sizeof(errnames) / sizeof(errnames[0]); i++)
                if (strcmp(v, errnames[i].name) == 0)
                    r->err = errnames[i].err;
            if (r->err == 0)
                r->err = (int)num(v, copy);
        } else {
            die("unknown option", copy);
        }
    }
    if ((r->err == 0) == (r->short_len == 0))
        die("exactly one of err= and short= is needed", copy);
}

static __thread int in_init;
static atomic_int ready;

static void
init(void)
{
    in_init = 1;
    int n = 0;
    const char *spec = getenv("BE_FAULT");
    if (spec != NULL && *spec != '\0') {
        char *buf = strdup(spec), *save;
        for (char *r = strtok_r(buf, ";", &save); r != NULL; r = strtok_r(NULL, ";", &save)) {
            if (*r == '\0')
                continue;
            if (n == MAX_RULES)
                die("too many rules", spec);
            parse_rule(r, &rules[n++]);
        }
        free(buf);
    }
    const char *lp = getenv("BE_FAULT_LOG");
    if (lp != NULL && *lp != '\0')
        log_fd = R(open)(lp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    const char *rp = getenv("BE_FAULT_RECORD");
    if (rp != NULL && *rp != '\0')
        rec_fd = R(open)(rp, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    const char *rg = getenv("BE_FAULT_RECORD_PATH");
    if (rg != NULL && *rg != '\0')
        snprintf(rec_glob, sizeof(rec_glob), "%s", rg);
    nrules = n;
    atomic_store(&ready, 1);
    in_init = 0;
}

/* Reads the environment once; a call made while that runs (on its thread) sees no rules. */
static void
setup(void)
{
    if (!atomic_load(&ready) && !in_init)
        pthread_once(&once, init);
}

__attribute__((constructor)) static void
shim_ctor(void)
{
    setup();
}

/* ---- descriptors and paths ------------------------------------------------------------- */

/* The descriptor's path into buf ("" when unknown); cached until close(). */
static void
fd_path(int fd, char *buf, size_t len)
{
    buf[0] = '\0';
    if (fd < 0)
        return;
    pthread_mutex_lock(&fd_lock);
    if (fd < MAX_FDS && fd_paths[fd] != NULL) {
        snprintf(buf, len, "%s", fd_paths[fd]);
        pthread_mutex_unlock(&fd_lock);
        return;
    }
    pthread_mutex_unlock(&fd_lock);
    char link[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, buf, len - 1);
    if (n < 0) {
        buf[0] = '\0';
        return;
    }
    buf[n] = '\0';
    pthread_mutex_lock(&fd_lock);
    if (fd < MAX_FDS && fd_paths[fd] == NULL)
        fd_paths[fd] = strdup(buf);
    pthread_mutex_unlock(&fd_lock);
}

static void
fd_forget(int fd)
{
    if (fd < 0 || fd >= MAX_FDS)
        return;
    pthread_mutex_lock(&fd_lock);
    free(fd_paths[fd]);
    fd_paths[fd] = NULL;
    pthread_mutex_unlock(&fd_lock);
}

static void
fd_forget_all(void)
{
    pthread_mutex_lock(&fd_lock);
    for (int fd = 0; fd < MAX_FDS; fd++) {
        free(fd_paths[fd]);
        fd_paths[fd] = NULL;
    }
    pthread_mutex_unlock(&fd_lock);
}

/* dirfd + name as an absolute path where it can be told. */
static void
at_path(int dirfd, const char *name, char *buf, size_t len)
{
    if (name == NULL) {
        buf[0] = '\0';
    } else if (name[0] == '/' || dirfd == AT_FDCWD) {
        snprintf(buf, len, "%s", name);
    } else {
        char dir[PATH_LEN];
        fd_path(dirfd, dir, sizeof(dir));
        size_t d = strnlen(dir, len - 1);
        memcpy(buf, dir, d);
        snprintf(buf + d, len - d, "/%s", name);
    }
}

static int
port_of(int fd, int peer)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    int rc = peer ? getpeername(fd, (struct sockaddr *)&ss, &sl)
                  : getsockname(fd, (struct sockaddr *)&ss, &sl);
    if (rc != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

/* ---- the schedule ---------------------------------------------------------------------- */

typedef struct {
    int err;        /* errno to fail with, or 0 */
    long short_len; /* > 0: at most this many bytes */
} fault_t;

static void
log_fault(int c, int fd, const char *path, const fault_t *f)
{
    if (log_fd < 0)
        return;
    char line[PATH_LEN + 128];
    int n;
    if (f->err != 0)
        n = snprintf(line, sizeof(line), "%s fd=%d %s err=%s\n", call_names[c], fd, path,
                     err_name(f->err));
    else
        n = snprintf(line, sizeof(line), "%s fd=%d %s short=%ld\n", call_names[c], fd, path,
                     f->short_len);
    if (n > (int)sizeof(line) - 1)
        n = (int)sizeof(line) - 1;
    if (R(write)(log_fd, line, (size_t)n) < 0) {
        /* nothing to do: the test sees the missing line */
    }
}

/* Whether call c on fd (or on the path given, for open and rename) is to fail now. */
static int
decide(int c, int fd, const char *given, fault_t *out)
{
    setup();
    out->err = 0;
    out->short_len = 0;
    if (nrules == 0)
        return 0;
    char path[PATH_LEN];
    int have_path = 0, fire = -1;
    for (int i = 0; i < nrules; i++) {
        rule_t *r = &rules[i];
        if (!(r->calls & (1u << c)))
            continue;
        if (r->path[0] != '\0') {
            if (!have_path) {
                if (given != NULL)
                    snprintf(path, sizeof(path), "%s", given);
                else
                    fd_path(fd, path, sizeof(path));
                have_path = 1;
            }
            if (fnmatch(r->path, path, 0) != 0)
                continue;
        }
        if (r->lport != 0 && port_of(fd, 0) != r->lport)
            continue;
        if (r->rport != 0 && port_of(fd, 1) != r->rport)
            continue;
        /* every matching rule counts the call; the first whose schedule fires decides */
        unsigned long n = atomic_fetch_add(&r->seen, 1);
        if (fire >= 0 || n < r->after || (n - r->after) % r->every != 0)
            continue;
        if (r->count != 0 && atomic_fetch_add(&r->fired, 1) >= r->count)
            continue;
        fire = i;
    }
    if (fire < 0)
        return 0;
    out->err = rules[fire].err;
    out->short_len = rules[fire].short_len;
    if (!have_path) {
        if (given != NULL)
            snprintf(path, sizeof(path), "%s", given);
        else
            fd_path(fd, path, sizeof(path));
    }
    log_fault(c, fd, path, out);
    return 1;
}

/* iov trimmed to at most max bytes into tmp (up to 64 entries); returns the count. */
static int
trim_iov(const struct iovec *iov, int n, long max, struct iovec *tmp)
{
    int k = 0;
    for (int i = 0; i < n && k < 64 && max > 0; i++) {
        tmp[k] = iov[i];
        if ((long)tmp[k].iov_len > max)
            tmp[k].iov_len = (size_t)max;
        max -= (long)tmp[k].iov_len;
        k++;
    }
    return k;
}

/* ---- the crash-consistency record --------------------------------------------------------- */

static int
rec_wanted(const char *path)
{
    return rec_fd >= 0 && path[0] != '\0' && fnmatch(rec_glob, path, 0) == 0;
}

static void
rec_put(const void *p, size_t n)
{
    const char *b = p;
    while (n > 0) {
        ssize_t w = R(write)(rec_fd, b, n);
        if (w <= 0)
            return;
        b += w;
        n -= (size_t)w;
    }
}

static void
rec_line(const char *fmt, ...)
{
    char line[2 * PATH_LEN + 64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (n > 0)
        rec_put(line, (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

/* Records n bytes written at off from iov (the first n bytes of it). */
static void
rec_write(int fd, const struct iovec *iov, int cnt, off_t off, ssize_t n)
{
    if (rec_fd < 0 || n <= 0)
        return;
    char path[PATH_LEN];
    fd_path(fd, path, sizeof(path));
    if (!rec_wanted(path))
        return;
    pthread_mutex_lock(&rec_lock);
    rec_line("W %s %lld %lld\n", path, (long long)off, (long long)n);
    size_t left = (size_t)n;
    for (int i = 0; i < cnt && left > 0; i++) {
        size_t k = iov[i].iov_len < left ? iov[i].iov_len : left;
        rec_put(iov[i].iov_base, k);
        left -= k;
    }
    pthread_mutex_unlock(&rec_lock);
}

static void
rec_fd_op(int fd, char op, long long arg)
{
    if (rec_fd < 0)
        return;
    char path[PATH_LEN];
    fd_path(fd, path, sizeof(path));
    struct stat st;
    /* a directory's sync makes the names in it durable: recorded whatever the glob */
    int dir = op == 'S' && fstat(fd, &st) == 0 && S_ISDIR(st.st_mode);
    if (!dir && !rec_wanted(path))
        return;
    pthread_mutex_lock(&rec_lock);
    if (op == 'T')
        rec_line("T %s %lld\n", path, arg);
    else
        rec_line("%c %s\n", op, path);
    pthread_mutex_unlock(&rec_lock);
}

static void
rec_names(char op, const char *a, const char *b)
{
    if (rec_fd < 0 || !(rec_wanted(a) || (b != NULL && rec_wanted(b))))
        return;
    pthread_mutex_lock(&rec_lock);
    if (b != NULL)
        rec_line("%c %s %s\n", op, a, b);
    else
        rec_line("%c %s\n", op, a);
    pthread_mutex_unlock(&rec_lock);
}

/* ---- file data calls ------------------------------------------------------------------------ */

#define FAIL_IF(f)                                                                                 \
    if ((f).err != 0) {                                                                            \
        errno = (f).err;                                                                           \
        return -1;                                                                                 \
    }

static ssize_t
do_pread(int c, int fd, void *buf, size_t n, off_t off)
{
    fault_t f;
    if (decide(c, fd, NULL, &f)) {
        FAIL_IF(f);
        if ((long)n > f.short_len)
            n = (size_t)f.short_len;
    }
    return R(pread)(fd, buf, n, off);
}

ssize_t
pread(int fd, void *buf, size_t n, off_t off)
{
    return do_pread(C_PREAD, fd, buf, n, off);
}

ssize_t
pread64(int fd, void *buf, size_t n, off_t off)
{
    return do_pread(C_PREAD, fd, buf, n, off);
}

static ssize_t
do_preadv(int c, int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
    fault_t f;
    struct iovec tmp[64];
    if (decide(c, fd, NULL, &f)) {
        FAIL_IF(f);
        cnt = trim_iov(iov, cnt, f.short_len, tmp);
        iov = tmp;
    }
    return c == C_PREADV ? R(preadv)(fd, iov, cnt, off) : R(preadv2)(fd, iov, cnt, off, flags);
}

ssize_t
preadv(int fd, const struct iovec *iov, int cnt, off_t off)
{
    return do_preadv(C_PREADV, fd, iov, cnt, off, 0);
}

ssize_t
preadv64(int fd, const struct iovec *iov, int cnt, off_t off)
{
    return do_preadv(C_PREADV, fd, iov, cnt, off, 0);
}

ssize_t
preadv2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
    return do_preadv(C_PREADV2, fd, iov, cnt, off, flags);
}

ssize_t
preadv64v2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
    return do_preadv(C_PREADV2, fd, iov, cnt, off, flags);
}

static ssize_t
do_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    fault_t f;
    if (decide(C_PWRITE, fd, NULL, &f)) {
        FAIL_IF(f);
        if ((long)n > f.short_len)
            n = (size_t)f.short_len;
    }
    ssize_t w = R(pwrite)(fd, buf, n, off);
    struct iovec one = {(void *)buf, n};
    rec_write(fd, &one, 1, off, w);
    return w;
}

ssize_t
pwrite(int fd, const void *buf, size_t n, off_t off)
{
    return do_pwrite(fd, buf, n, off);
}

ssize_t
pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    return do_pwrite(fd, buf, n, off);
}

static ssize_t
do_pwritev(int c, int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
    fault_t f;
    struct iovec tmp[64];
    if (decide(c, fd, NULL, &f)) {
        FAIL_IF(f);
        cnt = trim_iov(iov, cnt, f.short_len, tmp);
        iov = tmp;
    }
    ssize_t w =
        c == C_PWRITEV ? R(pwritev)(fd, iov, cnt, off) : R(pwritev2)(fd, iov, cnt, off, flags);
    rec_write(fd, iov, cnt, off, w);
    return w;
}

ssize_t
pwritev(int fd, const struct iovec *iov, int cnt, off_t off)
{
    return do_pwritev(C_PWRITEV, fd, iov, cnt, off, 0);
}

ssize_t
pwritev64(int fd, const struct iovec *iov, int cnt, off_t off)
{
    return do_pwritev(C_PWRITEV, fd, iov, cnt, off, 0);
}

ssize_t
pwritev2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
    return do_pwritev(C_PWRITEV2, fd, iov, cnt, off, flags);
}

ssize_t
pwritev64v2(int fd, const struct iovec *iov, int cnt, off_t off, int flags)
{
    return do_pwritev(C_PWRITEV2, fd, iov, cnt, off, flags);
}

int
fsync(int fd)
{
    fault_t f;
    if (decide(C_FSYNC, fd, NULL, &f)) {
        FAIL_IF(f);
    }
    int rc = R(fsync)(fd);
    if (rc == 0)
        rec_fd_op(fd, 'S', 0);
    return rc;
}

int
fdatasync(int fd)
{
    fault_t f;
    if (decide(C_FDATASYNC, fd, NULL, &f)) {
        FAIL_IF(f);
    }
    int rc = R(fdatasync)(fd);
    if (rc == 0)
        rec_fd_op(fd, 'S', 0);
    return rc;
}

int
ftruncate(int fd, off_t len)
{
    fault_t f;
    if (decide(C_FTRUNCATE, fd, NULL, &f)) {
        FAIL_IF(f);
    }
    int rc = R(ftruncate)(fd, len);
    if (rc == 0)
        rec_fd_op(fd, 'T', (long long)len);
    return rc;
}

int
ftruncate64(int fd, off_t len)
{
    return ftruncate(fd, len);
}

/* ---- names -------------------------------------------------------------------------------- */

static int
after_open(int fd, const char *path, int flags)
{
    if (fd >= 0) {
        fd_forget(fd); /* a descriptor number closed behind the cache (dup2, close_range) */
        if ((flags & O_CREAT) && (flags & O_TRUNC)) {
            char real[PATH_LEN];
            fd_path(fd, real, sizeof(real));
            rec_names('C', real[0] != '\0' ? real : path, NULL);
        }
    }
    return fd;
}

static int
do_openat(int c, int dirfd, const char *name, int flags, mode_t mode)
{
    char path[PATH_LEN];
    fault_t f;
    at_path(dirfd, name, path, sizeof(path));
    if (decide(c, -1, path, &f)) {
        FAIL_IF(f);
    }
    int fd = c == C_OPEN ? R(open)(name, flags, mode) : R(openat)(dirfd, name, flags, mode);
    return after_open(fd, path, flags);
}

int
open(const char *name, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    return do_openat(C_OPEN, AT_FDCWD, name, flags, mode);
}

int
open64(const char *name, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    return do_openat(C_OPEN, AT_FDCWD, name, flags, mode);
}

int
openat(int dirfd, const char *name, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    return do_openat(C_OPENAT, dirfd, name, flags, mode);
}

int
openat64(int dirfd, const char *name, int flags, ...)
{
    mode_t mode = 0;
    if (flags & (O_CREAT | O_TMPFILE)) {
        va_list ap;
        va_start(ap, flags);
        mode = va_arg(ap, mode_t);
        va_end(ap);
    }
    return do_openat(C_OPENAT, dirfd, name, flags, mode);
}

static int
do_rename(int olddir, const char *oldname, int newdir, const char *newname, unsigned flags, int how)
{
    char a[PATH_LEN], b[PATH_LEN];
    fault_t f;
    at_path(olddir, oldname, a, sizeof(a));
    at_path(newdir, newname, b, sizeof(b));
    if (decide(C_RENAME, -1, a, &f)) {
        FAIL_IF(f);
    }
    int rc = how == 0   ? R(rename)(oldname, newname)
             : how == 1 ? R(renameat)(olddir, oldname, newdir, newname)
                        : R(renameat2)(olddir, oldname, newdir, newname, flags);
    if (rc == 0) {
        fd_forget_all(); /* a descriptor of the renamed file has a new name */
        rec_names('R', a, b);
    }
    return rc;
}

int
rename(const char *oldname, const char *newname)
{
    return do_rename(AT_FDCWD, oldname, AT_FDCWD, newname, 0, 0);
}

int
renameat(int olddir, const char *oldname, int newdir, const char *newname)
{
    return do_rename(olddir, oldname, newdir, newname, 0, 1);
}

int
renameat2(int olddir, const char *oldname, int newdir, const char *newname, unsigned flags)
{
    return do_rename(olddir, oldname, newdir, newname, flags, 2);
}

int
unlinkat(int dirfd, const char *name, int flags)
{
    setup();
    char path[PATH_LEN];
    at_path(dirfd, name, path, sizeof(path));
    int rc = R(unlinkat)(dirfd, name, flags);
    if (rc == 0)
        rec_names('U', path, NULL);
    return rc;
}

int
unlink(const char *name)
{
    setup();
    int rc = R(unlink)(name);
    if (rc == 0)
        rec_names('U', name, NULL);
    return rc;
}

int
close(int fd)
{
    setup();
    fd_forget(fd);
    return R(close)(fd);
}

/* ---- sockets and any descriptor ---------------------------------------------------------- */

ssize_t
read(int fd, void *buf, size_t n)
{
    fault_t f;
    if (decide(C_READ, fd, NULL, &f)) {
        FAIL_IF(f);
        if ((long)n > f.short_len)
            n = (size_t)f.short_len;
    }
    return R(read)(fd, buf, n);
}

ssize_t
write(int fd, const void *buf, size_t n)
{
    fault_t f;
    if (decide(C_WRITE, fd, NULL, &f)) {
        FAIL_IF(f);
        if ((long)n > f.short_len)
            n = (size_t)f.short_len;
    }
    return R(write)(fd, buf, n);
}

ssize_t
readv(int fd, const struct iovec *iov, int cnt)
{
    fault_t f;
    struct iovec tmp[64];
    if (decide(C_READV, fd, NULL, &f)) {
        FAIL_IF(f);
        cnt = trim_iov(iov, cnt, f.short_len, tmp);
        iov = tmp;
    }
    return R(readv)(fd, iov, cnt);
}

ssize_t
writev(int fd, const struct iovec *iov, int cnt)
{
    fault_t f;
    struct iovec tmp[64];
    if (decide(C_WRITEV, fd, NULL, &f)) {
        FAIL_IF(f);
        cnt = trim_iov(iov, cnt, f.short_len, tmp);
        iov = tmp;
    }
    return R(writev)(fd, iov, cnt);
}

ssize_t
recv(int fd, void *buf, size_t n, int flags)
{
    fault_t f;
    if (decide(C_RECV, fd, NULL, &f)) {
        FAIL_IF(f);
        if ((long)n > f.short_len)
            n = (size_t)f.short_len;
    }
    return R(recv)(fd, buf, n, flags);
}

ssize_t
recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *from, socklen_t *fromlen)
{
    fault_t f;
    if (decide(C_RECV, fd, NULL, &f)) {
        FAIL_IF(f);
        if ((long)n > f.short_len)
            n = (size_t)f.short_len;
    }
    return R(recvfrom)(fd, buf, n, flags, from, fromlen);
}

ssize_t
send(int fd, const void *buf, size_t n, int flags)
{
    fault_t f;
    if (decide(C_SEND, fd, NULL, &f)) {
        FAIL_IF(f);
        if ((long)n > f.short_len)
            n = (size_t)f.short_len;
    }
    return R(send)(fd, buf, n, flags);
}

ssize_t
sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *to, socklen_t tolen)
{
    fault_t f;
    if (decide(C_SEND, fd, NULL, &f)) {
        FAIL_IF(f);
        if ((long)n > f.short_len)
            n = (size_t)f.short_len;
    }
    return R(sendto)(fd, buf, n, flags, to, tolen);
}
