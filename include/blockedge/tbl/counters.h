/*
 * tbl/counters.h - per-worker counters without labels, one row each:
 *   X(ID, metric name, TYPE, HELP)
 * Labelled families (hits by tier, requests by proto and code, errors by reason) are
 * declared in stats.h because their label sets are tables of their own.
 */
X(CACHE_MISSES, "blockedge_cache_misses_total", "counter",
  "Block requests answered by neither cache tier (coalesced waiters included).")
X(ORIGIN_REQUESTS, "blockedge_origin_requests_total", "counter",
  "Fetches sent to an origin server (retries included).")
X(ORIGIN_CONNECTIONS, "blockedge_origin_connections_total", "counter",
  "New connections opened to origin servers (the rest reused a pooled one).")
X(ORIGIN_RETRIES, "blockedge_origin_retries_total", "counter",
  "Origin attempts that retried a failed one (connect error, 5xx, timeout).")
X(ORIGIN_MARKED_DOWN, "blockedge_origin_marked_down_total", "counter",
  "Times a worker's circuit breaker marked an origin server down.")
X(ORIGIN_UNAVAILABLE, "blockedge_origin_unavailable_total", "counter",
  "Fetches failed at once because every origin server was marked down.")
X(COALESCED, "blockedge_coalesced_requests_total", "counter",
  "Misses that joined a fetch already in flight instead of starting one.")
X(SENT_BYTES, "blockedge_sent_bytes_total", "counter", "Response body bytes queued to clients.")
X(CONNECTIONS_ACCEPTED, "blockedge_connections_accepted_total", "counter",
  "Client connections accepted.")
X(CONNECTIONS_OPEN, "blockedge_connections_open", "gauge", "Client connections open now.")
