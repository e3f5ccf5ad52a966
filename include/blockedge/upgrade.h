/*
 * upgrade.h - the binary upgrade (SIGUSR2), as nginx's USR2 but finished in one step.
 *
 * The running process starts the binary at its own argv[0] with the same arguments and hands
 * it every listening socket (BLOCKEDGE_LISTEN_FDS) and the write end of a pipe
 * (BLOCKEDGE_UPGRADE_FD). The new process adopts the sockets, waits for the disk tier's lock
 * and says "ready" on the pipe once its workers accept. Then the old one stops accepting
 * (the sockets stay open in the new one, so no connection waiting in a queue is lost),
 * seals and releases its disk tier, and drains. A new binary that exits, or stays silent for
 * BE_UPGRADE_TIMEOUT_MS, is logged and the old process serves on. Thread: main.
 */
#ifndef BLOCKEDGE_UPGRADE_H
#define BLOCKEDGE_UPGRADE_H

#include "blockedge/server.h"

#define BE_UPGRADE_FD_ENV     "BLOCKEDGE_UPGRADE_FD"
#define BE_UPGRADE_TIMEOUT_MS 60000

typedef struct be_upgrade_s be_upgrade_t;

/* Starts the new binary. handed_over(arg) runs on the main loop once the new process serves
 * and this one has stopped accepting and released its disk tier: the caller then drains and
 * exits. NULL when it could not start (logged; nothing changed). */
be_upgrade_t *be_upgrade_start(be_server_t *srv, char *const argv[], void (*handed_over)(void *),
                               void *arg);

/* Whether an upgrade is under way (started, not yet handed over or failed). */
int be_upgrade_pending(const be_upgrade_t *u);

void be_upgrade_free(be_upgrade_t **up);

/* The new process's side: whether this process was started by an upgrade (reads and unsets
 * BLOCKEDGE_UPGRADE_FD), and the "ready" it sends once it serves. */
int be_upgrade_child_init(void);
void be_upgrade_child_ready(void);

#endif
