/*
 * tbl/fetch_errors.h - every way an origin fetch can end, one row each:
 *   X(ID, metric reason label, HTTP status to the client, message)
 * A new reason is one new row; status, metric and message cannot be half-added.
 */
X(OK, "ok", 200, "OK")
X(NOT_FOUND, "not_found", 404, "block not found at origin")
X(DIGEST_MISMATCH, "digest_mismatch", 502, "origin sent bytes that do not match the block name")
X(TIMEOUT, "timeout", 504, "origin timed out")
X(CONNECT, "connect", 502, "origin could not be reached")
X(STATUS, "status", 502, "origin answered with an unexpected status")
X(TOO_LARGE, "too_large", 502, "block is larger than max_block_size")
X(BUSY, "busy", 503, "origin busy: too many fetches under way, retry later")
X(CANCELLED, "cancelled", 503, "fetch cancelled: every client had left, retry")
