/*
 * upgrade.c - SIGUSR2: a new binary takes over the listening sockets and the disk tier.
 *
 * Old process: collects the listening sockets (workers' and admin's) from the server, makes
 * inheritable copies, forks and execs argv[0] with them named in BLOCKEDGE_LISTEN_FDS and a
 * pipe's write end in BLOCKEDGE_UPGRADE_FD, then watches the pipe on the main loop. "R" means
 * the new process's workers accept: the server stops accepting and releases the disk tier,
 * and the caller drains. End of file without "R" (the new binary exited) or the timeout
 * means failure: logged, the child reaped or killed, and nothing else changes.
 * New process: be_upgrade_child_init() finds the pipe, be_upgrade_child_ready() writes "R".
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>

#include "blockedge/listen.h"
#include "blockedge/log.h"
#include "blockedge/upgrade.h"

#define MAX_FDS 512

extern char **environ;

struct be_upgrade_s {
    be_server_t *srv;
    pid_t child;
    int rfd;
    struct event *ev;      /* the pipe */
    struct event *timeout; /* BE_UPGRADE_TIMEOUT_MS */
    void (*handed_over)(void *);
    void *arg;
    int pending;
};

static int child_fd = -1;

/* environ without the variables that name inherited descriptors, plus ours. */
static char **
child_env(const char *fds_var, const char *pipe_var)
{
    size_t n = 0;
    while (environ[n] != NULL)
        n++;
    char **env = calloc(n + 3, sizeof(char *));
    if (env == NULL)
        return NULL;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const char *e = environ[i];
        if (strncmp(e, BE_LISTEN_FDS_ENV "=", sizeof(BE_LISTEN_FDS_ENV)) == 0 ||
            strncmp(e, BE_UPGRADE_FD_ENV "=", sizeof(BE_UPGRADE_FD_ENV)) == 0 ||
            strncmp(e, "LISTEN_", 7) == 0)
            continue;
        env[k++] = (char *)e;
    }
    env[k++] = (char *)fds_var;
    env[k++] = (char *)pipe_var;
    env[k] = NULL;
    return env;
}

static void
finish(be_upgrade_t *u)
{
    u->pending = 0;
    if (u->ev != NULL)
        event_del(u->ev);
    if (u->timeout != NULL)
        event_del(u->timeout);
    if (u->rfd >= 0) {
        close(u->rfd);
        u->rfd = -1;
    }
}

static void
failed(be_upgrade_t *u, const char *why)
{
    int status = 0;
    pid_t r = 0;
    for (int i = 0; i < 100 && (r = waitpid(u->child, &status, WNOHANG)) == 0; i++)
        usleep(10000); /* the pipe closes a moment before the process is gone */
    if (r == 0) {
        kill(u->child, SIGKILL);
        r = waitpid(u->child, &status, 0);
    }
    if (r == u->child && WIFEXITED(status))
        be_log(BE_LOG_ALERT,
               "binary upgrade failed: %s (the new process exited with status %d); "
               "this process goes on serving",
               why, WEXITSTATUS(status));
    else
        be_log(BE_LOG_ALERT, "binary upgrade failed: %s; this process goes on serving", why);
    finish(u);
}

static void
on_pipe(evutil_socket_t fd, short what, void *arg)
{
    be_upgrade_t *u = arg;
    BE_UNUSED(what);
    char c = 0;
    ssize_t n = read(fd, &c, 1);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n != 1 || c != 'R') {
        failed(u, "the new binary closed the upgrade pipe before it served");
        return;
    }
    finish(u);
    be_log(BE_LOG_NOTICE,
           "binary upgrade: new process %d serves; this one stops accepting, "
           "hands over its disk tier and drains",
           (int)u->child);
    be_server_hand_over(u->srv);
    u->handed_over(u->arg);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
    BE_UNUSED(fd);
    BE_UNUSED(what);
    failed(arg, "the new binary did not say it was ready in time");
}

/* argv0 as a path: itself when it names a directory, else the first match in PATH, as the
 * shell that started us found it. */
static const char *
resolve_exe(const char *argv0, char *buf, size_t len)
{
    const char *path = getenv("PATH");
    if (strchr(argv0, '/') != NULL || path == NULL)
        return argv0;
    while (*path != '\0') {
        size_t n = strcspn(path, ":");
        snprintf(buf, len, "%.*s/%s", (int)n, path, argv0);
        if (n > 0 && access(buf, X_OK) == 0)
            return buf;
        path += n + (path[n] == ':');
    }
    return argv0;
}

/* fork + exec with fds inheritable; returns the child's pid or -1 (errno). */
static pid_t
spawn(char *const argv[], char **env)
{
    char buf[4096];
    const char *exe = resolve_exe(argv[0], buf, sizeof(buf));
    pid_t pid = fork();
    if (pid == 0) {
        /* Only async-signal-safe calls between fork and exec. */
        execve(exe, argv, env);
        _exit(127);
    }
    return pid;
}

static int
start_child(be_upgrade_t *u, char *const argv[], const int *fds, int nfds)
{
    int copies[MAX_FDS], ncopies = 0, p[2] = {-1, -1}, wcopy = -1, rc = BE_ERROR;
    char fds_var[MAX_FDS * 7 + 32], pipe_var[64];
    size_t off = (size_t)snprintf(fds_var, sizeof(fds_var), "%s=", BE_LISTEN_FDS_ENV);
    for (int i = 0; i < nfds; i++) {
        int c = fcntl(fds[i], F_DUPFD, 3); /* no FD_CLOEXEC: the exec keeps it */
        if (c < 0)
            goto out;
        copies[ncopies++] = c;
        off += (size_t)snprintf(fds_var + off, sizeof(fds_var) - off, "%s%d", i ? "," : "", c);
    }
    if (pipe2(p, O_CLOEXEC) != 0 || (wcopy = fcntl(p[1], F_DUPFD, 3)) < 0)
        goto out;
    snprintf(pipe_var, sizeof(pipe_var), "%s=%d", BE_UPGRADE_FD_ENV, wcopy);
    char **env = child_env(fds_var, pipe_var);
    if (env == NULL)
        goto out;
    u->child = spawn(argv, env);
    free(env);
    if (u->child < 0)
        goto out;
    u->rfd = p[0];
    p[0] = -1;
    rc = BE_OK;
out:
    for (int i = 0; i < ncopies; i++)
        close(copies[i]);
    if (wcopy >= 0)
        close(wcopy);
    if (p[0] >= 0)
        close(p[0]);
    if (p[1] >= 0)
        close(p[1]);
    return rc;
}

be_upgrade_t *
be_upgrade_start(be_server_t *srv, char *const argv[], void (*handed_over)(void *), void *arg)
{
    int fds[MAX_FDS];
    int nfds = be_server_listen_fds(srv, fds, MAX_FDS);
    be_upgrade_t *u = calloc(1, sizeof(*u));
    if (u == NULL)
        return NULL;
    u->srv = srv;
    u->rfd = -1;
    u->handed_over = handed_over;
    u->arg = arg;
    if (start_child(u, argv, fds, nfds) != BE_OK) {
        be_log(BE_LOG_ALERT, "binary upgrade: cannot start \"%s\" (%d: %s)", argv[0], errno,
               strerror(errno));
        free(u);
        return NULL;
    }
    struct event_base *base = be_server_base(srv);
    struct timeval tv = {BE_UPGRADE_TIMEOUT_MS / 1000, 0};
    u->ev = event_new(base, u->rfd, EV_READ | EV_PERSIST, on_pipe, u);
    u->timeout = evtimer_new(base, on_timeout, u);
    u->pending = 1;
    if (u->ev == NULL || u->timeout == NULL || event_add(u->ev, NULL) != 0 ||
        evtimer_add(u->timeout, &tv) != 0) {
        failed(u, "out of memory");
        return u;
    }
    be_log(BE_LOG_NOTICE, "binary upgrade: started \"%s\" as process %d with %d listening sockets",
           argv[0], (int)u->child, nfds);
    return u;
}

int
be_upgrade_pending(const be_upgrade_t *u)
{
    return u != NULL && u->pending;
}

void
be_upgrade_free(be_upgrade_t **up)
{
    be_upgrade_t *u = *up;
    if (u == NULL)
        return;
    *up = NULL;
    if (u->pending)
        failed(u, "this process is exiting");
    if (u->ev != NULL)
        event_free(u->ev);
    if (u->timeout != NULL)
        event_free(u->timeout);
    if (u->rfd >= 0)
        close(u->rfd);
    free(u);
}

int
be_upgrade_child_init(void)
{
    const char *v = getenv(BE_UPGRADE_FD_ENV);
    if (v == NULL)
        return 0;
    char *end;
    long fd = strtol(v, &end, 10);
    unsetenv(BE_UPGRADE_FD_ENV);
    if (end == v || *end != '\0' || fd < 3 || fd > 65535 || fcntl((int)fd, F_GETFD) < 0)
        return 0;
    fcntl((int)fd, F_SETFD, FD_CLOEXEC);
    child_fd = (int)fd;
    return 1;
}

void
be_upgrade_child_ready(void)
{
    if (child_fd < 0)
        return;
    if (write(child_fd, "R", 1) != 1)
        be_log(BE_LOG_WARN, "could not tell the old process that this one serves (%d: %s)", errno,
               strerror(errno));
    close(child_fd);
    child_fd = -1;
}
