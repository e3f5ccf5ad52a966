/*
 * fetch.h - the outcome of an origin fetch, shared by origin, in-flight table and requests.
 */
#ifndef BLOCKEDGE_FETCH_H
#define BLOCKEDGE_FETCH_H

typedef enum be_fetch_status {
#define X(id, label, status, msg) BE_FETCH_##id,
#include "blockedge/tbl/fetch_errors.h"
#undef X
    BE_FETCH_NSTATUS
} be_fetch_status_t;

/* Metric label, client HTTP status and message of a fetch status. */
const char *be_fetch_label(be_fetch_status_t s);
int be_fetch_http_status(be_fetch_status_t s);
const char *be_fetch_message(be_fetch_status_t s);

#endif
