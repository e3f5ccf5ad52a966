/*
 * notify.h - telling the service manager how the node is doing: systemd's notification
 * protocol (sd_notify(3)), written here without libsystemd.
 *
 * A state is newline-separated KEY=VALUE assignments ("READY=1", "STOPPING=1", "STATUS=...")
 * sent as one datagram to the AF_UNIX socket named by $NOTIFY_SOCKET: a path ("/run/...") or
 * an abstract name ("@..."). Without $NOTIFY_SOCKET (not started by systemd, or a unit that
 * is not Type=notify) every call returns BE_DECLINED and does nothing. The variable is left
 * in the environment, so a process that takes over (a binary upgrade) can notify too: the
 * unit needs NotifyAccess=all for that.
 */
#ifndef BLOCKEDGE_NOTIFY_H
#define BLOCKEDGE_NOTIFY_H

#include "blockedge/defs.h"

/*
 * Sends state to $NOTIFY_SOCKET. BE_OK when sent; BE_DECLINED when the variable is unset or
 * empty; BE_ERROR when the address is not one this protocol allows (errno EAFNOSUPPORT or
 * ENAMETOOLONG) or the send failed (errno from socket() or sendto()); errors are logged at
 * warn, naming the socket. Blocks no longer than a send on a local datagram socket.
 * Thread: any.
 */
int be_notify(const char *state);

/* "READY=1", this process's "MAINPID=" (so a process that took over becomes the main one)
 * and a STATUS line: the listeners are bound and the workers run. Thread: any. */
int be_notify_ready(void);

/* "RELOADING=1" with "MONOTONIC_USEC=" (which Type=notify-reload asks for) and a STATUS
 * line: a configuration reload has begun; be_notify_ready() ends it. Thread: any. */
int be_notify_reloading(void);

/* "STOPPING=1" and a STATUS line: the drain has begun. Thread: any. */
int be_notify_stopping(void);

#endif
