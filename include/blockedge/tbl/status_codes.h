/*
 * tbl/status_codes.h - the HTTP statuses blockedge sends, one row each:
 *   X(code, reason phrase)
 * Each is counted on its own in blockedge_http_requests_total{code}; any other status counts
 * as code="other". The status line's digits and reason come from here too.
 */
X(200, "OK")
X(206, "Partial Content")
X(304, "Not Modified")
X(400, "Bad Request")
X(403, "Forbidden")
X(404, "Not Found")
X(405, "Method Not Allowed")
X(408, "Request Timeout")
X(414, "URI Too Long")
X(416, "Range Not Satisfiable")
X(429, "Too Many Requests")
X(431, "Request Header Fields Too Large")
X(500, "Internal Server Error")
X(502, "Bad Gateway")
X(503, "Service Unavailable")
X(504, "Gateway Timeout")
