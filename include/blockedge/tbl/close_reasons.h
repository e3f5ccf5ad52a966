/*
 * tbl/close_reasons.h - why a client connection ended, one row each:
 *   X(ID, metric reason label)
 */
X(CLIENT, "client_closed")
X(DONE, "done")
X(BAD_REQUEST, "bad_request")
X(HEADER_TIMEOUT, "header_timeout")
X(IDLE_TIMEOUT, "idle_timeout")
X(SEND_TIMEOUT, "send_timeout")
X(IO_ERROR, "io_error")
X(LIMIT, "connection_limit")
X(PER_IP_LIMIT, "per_ip_limit")
X(SHUTDOWN, "shutdown")
X(TLS_ERROR, "tls_error")
X(H2_ERROR, "h2_protocol_error")
X(H2_CALM, "h2_enhance_your_calm")
