/*
 * test_notify.c - the service manager's notification protocol: without $NOTIFY_SOCKET
 * nothing happens; with a path or an abstract ("@") name, a datagram socket bound there
 * receives each state exactly as sent (READY with this MAINPID, RELOADING with a monotonic
 * stamp, STOPPING); an address of another kind, one too long, and one nobody listens on are
 * errors with their errno and a warn line naming the socket in the error log.
 *
 * The receiving sockets are this process's own, bound under a private mkdtemp() directory or
 * at an abstract name made of the pid; a local datagram is queued at the receiver before
 * sendto() returns, so each test reads it without waiting.
 */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "blockedge/clock.h"
#include "blockedge/log.h"
#include "blockedge/notify.h"
#include "test.h"

static char dir[256];
static char logpath[512];

/* A datagram socket bound at name ("/path" or "@abstract"), as the service manager's. */
static int
listener(const char *name)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    size_t len = strlen(name);
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    memcpy(sa.sun_path, name, len);
    if (name[0] == '@')
        sa.sun_path[0] = '\0';
    else
        salen++;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, salen) != 0) {
        perror("test_notify: bind");
        exit(1);
    }
    return fd;
}

/* The datagram waiting on fd, as a string ("" when none). */
static const char *
received(int fd)
{
    static char buf[1024];
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

/* Whether the error log holds text. */
static int
logged(const char *text)
{
    static char buf[8192];
    int fd = open(logpath, O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof(buf) - 1) : -1;
    if (fd >= 0)
        close(fd);
    buf[n > 0 ? n : 0] = '\0';
    return strstr(buf, text) != NULL;
}

static void
test_notify_without_socket_does_nothing(void)
{
    unsetenv("NOTIFY_SOCKET");
    BE_CHECK_INT(be_notify("READY=1"), BE_DECLINED);
    BE_CHECK_INT(be_notify_ready(), BE_DECLINED);
    setenv("NOTIFY_SOCKET", "", 1);
    BE_CHECK_INT(be_notify_stopping(), BE_DECLINED);
    BE_CHECK(!logged("notif"));
}

static void
test_notify_path_socket_receives_each_state(void)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/notify", dir);
    int fd = listener(path);
    setenv("NOTIFY_SOCKET", path, 1);
    BE_CHECK_INT(be_notify("STATUS=one\nX=2"), BE_OK);
    BE_CHECK_STR(received(fd), "STATUS=one\nX=2");
    BE_CHECK_INT(be_notify_stopping(), BE_OK);
    BE_CHECK_STR(received(fd), "STOPPING=1\nSTATUS=draining: finishing the requests in flight");
    BE_CHECK_STR(received(fd), ""); /* one datagram per call */
    close(fd);
    unlink(path);
}

static void
test_notify_abstract_socket_receives_ready_with_this_pid(void)
{
    char name[108], want[128];
    snprintf(name, sizeof(name), "@blockedge-test-notify-%ld", (long)getpid());
    int fd = listener(name);
    setenv("NOTIFY_SOCKET", name, 1);
    BE_CHECK_INT(be_notify_ready(), BE_OK);
    snprintf(want, sizeof(want), "READY=1\nMAINPID=%ld\nSTATUS=serving", (long)getpid());
    BE_CHECK_STR(received(fd), want);
    close(fd);
}

static void
test_notify_reloading_carries_a_monotonic_stamp(void)
{
    char name[108];
    unsigned long long stamp = 0;
    int used = 0;
    snprintf(name, sizeof(name), "@blockedge-test-reload-%ld", (long)getpid());
    int fd = listener(name);
    setenv("NOTIFY_SOCKET", name, 1);
    uint64_t before = be_clock_usec();
    BE_CHECK_INT(be_notify_reloading(), BE_OK);
    uint64_t after = be_clock_usec();
    const char *got = received(fd);
    BE_CHECK(sscanf(got, "RELOADING=1\nMONOTONIC_USEC=%llu\n%n", &stamp, &used) == 1);
    BE_CHECK(stamp >= before && stamp <= after);
    BE_CHECK_STR(got + used, "STATUS=reloading the configuration");
    close(fd);
}

static void
test_notify_bad_or_absent_socket_is_an_error_and_logged(void)
{
    char path[512], longname[200];

    setenv("NOTIFY_SOCKET", "vsock:2:1234", 1);
    errno = 0;
    BE_CHECK_INT(be_notify("READY=1"), BE_ERROR);
    BE_CHECK_INT(errno, EAFNOSUPPORT);
    BE_CHECK(logged("NOTIFY_SOCKET \"vsock:2:1234\" is not an AF_UNIX path or abstract name"));

    memset(longname, 'n', sizeof(longname) - 1);
    longname[0] = '/';
    longname[sizeof(longname) - 1] = '\0';
    setenv("NOTIFY_SOCKET", longname, 1);
    BE_CHECK_INT(be_notify("READY=1"), BE_ERROR);
    BE_CHECK_INT(errno, ENAMETOOLONG);

    snprintf(path, sizeof(path), "%s/nobody", dir);
    setenv("NOTIFY_SOCKET", path, 1);
    BE_CHECK_INT(be_notify("READY=1"), BE_ERROR);
    BE_CHECK_INT(errno, ENOENT);
    char line[700];
    snprintf(line, sizeof(line),
             "[warn] %ld#0: sendto() \"%s\" failed (2: No such file or directory) while "
             "notifying the service manager",
             (long)getpid(), path);
    BE_CHECK(logged(line));
}

int
main(void)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof(dir), "%s/test_notify.XXXXXX", tmp != NULL && tmp[0] ? tmp : "/tmp");
    if (mkdtemp(dir) == NULL) {
        perror("test_notify: mkdtemp");
        return 1;
    }
    snprintf(logpath, sizeof(logpath), "%s/error.log", dir);
    if (be_log_open(logpath, BE_LOG_INFO) != BE_OK) {
        perror("test_notify: error log");
        return 1;
    }
    BE_RUN(test_notify_without_socket_does_nothing);
    BE_RUN(test_notify_path_socket_receives_each_state);
    BE_RUN(test_notify_abstract_socket_receives_ready_with_this_pid);
    BE_RUN(test_notify_reloading_carries_a_monotonic_stamp);
    BE_RUN(test_notify_bad_or_absent_socket_is_an_error_and_logged);
    be_log_close();
    unlink(logpath);
    rmdir(dir);
    BE_TEST_EXIT();
}
