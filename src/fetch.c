/*
 * fetch.c - the fetch outcome table (tbl/fetch_errors.h) as functions.
 */
#include "blockedge/fetch.h"

static const struct {
    const char *label;
    int status;
    const char *msg;
} rows[BE_FETCH_NSTATUS] = {
#define X(id, label, status, msg) {label, status, msg},
#include "blockedge/tbl/fetch_errors.h"
#undef X
};

const char *
be_fetch_label(be_fetch_status_t s)
{
    return rows[s].label;
}

int
be_fetch_http_status(be_fetch_status_t s)
{
    return rows[s].status;
}

const char *
be_fetch_message(be_fetch_status_t s)
{
    return rows[s].msg;
}
