/*
 * admin.h - the admin listener: /metrics (Prometheus text 0.0.4), /stats (JSON),
 * /healthz, guarded by the config's allow/deny rules. Runs on the main thread's loop, so
 * a scrape never delays a client request.
 */
#ifndef BLOCKEDGE_ADMIN_H
#define BLOCKEDGE_ADMIN_H

#include "blockedge/services.h"

struct event_base;
typedef struct be_admin_s be_admin_t;

/* Binds every admin listen address on base. NULL on failure (logged). Thread: main. */
be_admin_t *be_admin_new(struct event_base *base, be_services_t *svc);

/* Closes the listeners and any admin connection. *ap = NULL. */
void be_admin_free(be_admin_t **ap);

/* The admin listening sockets' descriptors (still owned by the admin), for a binary upgrade
 * to hand over. Returns how many were written. */
int be_admin_listen_fds(const be_admin_t *a, int *fds, int max);

/* Closes the admin listeners (a binary upgrade's hand-over); open connections are answered. */
void be_admin_unlisten(be_admin_t *a);

#endif
