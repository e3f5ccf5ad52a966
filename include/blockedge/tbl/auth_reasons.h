/*
 * tbl/auth_reasons.h - what the signed-URL check can say of a block request, one row each:
 *   X(ID, metric reason label and access-log word, 403 body text)
 * OK lets the request through; every other row is a 403 with its text as the body, counted in
 * blockedge_auth_denied_total{reason}. A new reason is one new row.
 */
X(OK, "ok", "OK")
X(MISSING, "missing", "missing")
X(MALFORMED, "malformed", "malformed")
X(EXPIRED, "expired", "expired")
X(BAD_SIGNATURE, "bad_signature", "bad signature")
