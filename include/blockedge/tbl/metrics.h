/*
 * tbl/metrics.h - every metric family of /metrics and /stats, one row each, in /metrics order:
 *   X(ID, name, TYPE, LABELS, SOURCE, FIELD, /stats key, help)
 *
 * TYPE    COUNTER, GAUGE or HISTOGRAM.
 * LABELS  the label set, e.g. TIER (tier="memory|disk") or PROTO_CODE (proto, code); NONE.
 * SOURCE  where metrics.c reads the value at scrape time; FIELD says which one (a counter slot
 *         of stats.h, a member of be_stats_t, or a field of the source's own stats struct; - for
 *         none). A family whose source is absent (no disk tier, popularity off, no jemalloc) is
 *         left out of both outputs. The sources are listed in metrics.c.
 * key     where /stats shows the family besides its place under "metrics" ("" for nowhere),
 *         a dotted path; "*" stands for the label's value, and a path without it on a
 *         labelled family is the sum of its samples.
 * A new metric is one row here plus the code that counts it.
 */
/* clang-format off */
X(CACHE_MISSES, "blockedge_cache_misses_total", COUNTER, NONE, CTR, CACHE_MISSES, "misses", "Block requests answered by neither cache tier (coalesced waiters included).")
X(NEGATIVE_HITS, "blockedge_negative_hits_total", COUNTER, NONE, CTR, NEGATIVE_HITS, "", "Requests answered 404 from the negative cache (an origin 404 within negative_ttl), without an origin request.")
X(ORIGIN_REQUESTS, "blockedge_origin_requests_total", COUNTER, NONE, CTR, ORIGIN_REQUESTS, "origin.requests", "Fetches sent to an origin server (retries included).")
X(ORIGIN_CONNECTIONS, "blockedge_origin_connections_total", COUNTER, NONE, CTR, ORIGIN_CONNECTIONS, "", "New connections opened to origin servers (the rest reused a pooled one).")
X(ORIGIN_RETRIES, "blockedge_origin_retries_total", COUNTER, NONE, CTR, ORIGIN_RETRIES, "", "Origin attempts that retried a failed one (connect error, 5xx, timeout).")
X(ORIGIN_MARKED_DOWN, "blockedge_origin_marked_down_total", COUNTER, NONE, CTR, ORIGIN_MARKED_DOWN, "", "Times a worker's circuit breaker marked an origin server down.")
X(ORIGIN_UNAVAILABLE, "blockedge_origin_unavailable_total", COUNTER, NONE, CTR, ORIGIN_UNAVAILABLE, "", "Fetches failed at once because every origin server was marked down.")
X(ORIGIN_QUEUED, "blockedge_origin_queued_fetches", GAUGE, NONE, CTR, ORIGIN_QUEUED, "origin.queued", "Fetches waiting now for a slot under origin_max_inflight.")
X(ORIGIN_QUEUE_WAITS, "blockedge_origin_queue_waits_total", COUNTER, NONE, CTR, ORIGIN_QUEUE_WAITS, "", "Fetches that waited for a slot under origin_max_inflight.")
X(ORIGIN_QUEUE_REJECTED, "blockedge_origin_queue_rejected_total", COUNTER, NONE, CTR, ORIGIN_QUEUE_REJECTED, "", "Fetches that waited origin_queue_timeout without a slot: their clients got 503 with Retry-After.")
X(ORIGIN_ORPHANS_CANCELLED, "blockedge_origin_orphans_cancelled_total", COUNTER, NONE, CTR, ORIGIN_ORPHANS_CANCELLED, "", "Fetches every client had left, cancelled to give their slot to a waiting one.")
X(MISS_RATE_LIMITED, "blockedge_miss_rate_limited_total", COUNTER, NONE, CTR, MISS_RATE_LIMITED, "", "Requests that needed the origin from a client past its miss_rate budget: answered 429 with Retry-After.")
X(COALESCED, "blockedge_coalesced_requests_total", COUNTER, NONE, CTR, COALESCED, "coalesced", "Misses that joined a fetch already in flight instead of starting one.")
X(SENT_BYTES, "blockedge_sent_bytes_total", COUNTER, NONE, CTR, SENT_BYTES, "sent_bytes", "Response body bytes queued to clients.")
X(CONNECTIONS_ACCEPTED, "blockedge_connections_accepted_total", COUNTER, NONE, CTR, CONNECTIONS_ACCEPTED, "connections.accepted", "Client connections accepted.")
X(CONNECTIONS_OPEN, "blockedge_connections_open", GAUGE, NONE, CTR, CONNECTIONS_OPEN, "connections.open", "Client connections open now.")
X(CACHE_HITS, "blockedge_cache_hits_total", COUNTER, TIER, ARRAY, hits, "hits.*", "Block requests answered from a cache tier.")
X(HTTP_REQUESTS, "blockedge_http_requests_total", COUNTER, PROTO_CODE, ARRAY2, requests, "requests", "Client requests answered, by protocol and status code.")
X(ORIGIN_ERRORS, "blockedge_origin_errors_total", COUNTER, FETCH_REASON, ARRAY, origin_errors, "origin.errors.*", "Origin fetches that did not produce a verified block, by reason.")
X(CONNECTIONS_CLOSED, "blockedge_connections_closed_total", COUNTER, CLOSE_REASON, ARRAY, closed, "", "Client connections closed, by reason.")
X(REQUEST_DURATION, "blockedge_request_duration_seconds", HISTOGRAM, TIER_MISS, HISTS, request_duration, "", "Time from a parsed request to its response queued, by tier.")
X(FETCH_DURATION, "blockedge_origin_fetch_duration_seconds", HISTOGRAM, NONE, HIST, fetch_duration, "", "Time from an origin fetch started to its block verified or failed.")
X(CACHE_BLOCKS, "blockedge_cache_blocks", GAUGE, TIER, TIERS, blocks, "cache.*.blocks", "Blocks held, by tier.")
X(CACHE_BYTES, "blockedge_cache_bytes", GAUGE, TIER, TIERS, bytes, "cache.*.bytes", "Bytes held (blocks and index), by tier.")
X(CACHE_CAPACITY, "blockedge_cache_capacity_bytes", GAUGE, TIER, TIERS, capacity, "cache.*.capacity_bytes", "Configured capacity in bytes, by tier.")
X(CACHE_EVICTIONS, "blockedge_cache_evictions_total", COUNTER, TIER, TIERS, evictions, "cache.*.evictions", "Blocks evicted to make room, by tier.")
X(DISK_CORRUPTIONS, "blockedge_disk_corruptions_total", COUNTER, NONE, DISK_ALWAYS, corruptions, "", "Disk records that failed their checks on read (dropped, refetched).")
X(DISK_SEGMENTS_RETIRED, "blockedge_disk_segments_retired_total", COUNTER, NONE, DISK, retired, "", "Segments dropped after repeated read errors (their blocks are fetched again).")
X(DISK_ERRORS, "blockedge_disk_errors_total", COUNTER, DISK_KIND, DISK_ARRAY, errors, "", "Disk tier I/O faults, by kind (each kind is logged once).")
X(DISK_INDEX_STATE, "blockedge_disk_index_state", GAUGE, NONE, DISK, state, "", "Disk index: 0 loading (requests go to the origin), 1 ready, 2 failed.")
X(DISK_INDEX_LOAD_SECONDS, "blockedge_disk_index_load_seconds", GAUGE, NONE, DISK_MSEC, load_msec, "", "Time the disk index took to load at start-up.")
X(DISK_INDEX_BYTES, "blockedge_disk_index_bytes", GAUGE, NONE, DISK, index_bytes, "", "RAM held by the disk index.")
X(DISK_SEGMENTS, "blockedge_disk_segments", GAUGE, NONE, DISK, segments, "", "Segment files on disk.")
X(DISK_WRITES, "blockedge_disk_writes_total", COUNTER, NONE, DISK, writes, "", "Records appended to the disk tier (fills, re-appends, purges).")
X(DISK_WRITES_DROPPED, "blockedge_disk_writes_dropped_total", COUNTER, NONE, DISK, writes_dropped, "", "Fills not written to disk: writer behind, faults, or disk paused.")
X(DISK_WRITE_BACKLOG, "blockedge_disk_write_backlog_bytes", GAUGE, NONE, DISK, backlog, "", "Bytes of fills queued for the disk writer and not yet written (fills are dropped past 256 MiB).")
X(DISK_WRITTEN_BYTES, "blockedge_disk_written_bytes_total", COUNTER, NONE, DISK, written_bytes, "", "Bytes of fill records (headers included) appended to the disk tier.")
X(DISK_WRITE_BUSY, "blockedge_disk_write_busy_seconds_total", COUNTER, NONE, DISK_MSEC, write_busy_msec, "", "Time the disk writer spent appending fills: written bytes over it is the writer's rate.")
X(DISK_WRITE_CPU, "blockedge_disk_write_cpu_seconds_total", COUNTER, NONE, DISK_MSEC, write_cpu_msec, "", "CPU time the disk writer used while appending fills (busy time minus waits for a CPU or the device).")
X(DISK_REAPPENDS, "blockedge_disk_reappends_total", COUNTER, NONE, DISK, reappends, "", "Hot blocks rewritten when their segment was reclaimed.")
X(DISK_ADMISSION_SKIPPED, "blockedge_disk_admission_skipped_total", COUNTER, NONE, CTR, DISK_ADMISSION_SKIPPED, "", "Fills not written to the disk tier because disk_admission second_hit had not seen the block asked for before, or disk_admission policy found it still in the memory policy's small queue.")
X(DISK_PURGES, "blockedge_disk_purges_total", COUNTER, NONE, DISK, purges, "", "Blocks purged from the disk tier.")
X(INFLIGHT_FETCHES, "blockedge_inflight_fetches", GAUGE, NONE, INFLIGHT, -, "origin.inflight", "Origin fetches under way now.")
X(ORIGIN_SERVER_MARKED_DOWN, "blockedge_origin_server_marked_down", GAUGE, SERVER, ORIGIN, -, "", "Workers whose circuit breaker has this origin server marked down now (0: up everywhere).")
X(MEMORY_ALLOCATED, "blockedge_memory_allocated_bytes", GAUGE, NONE, ALLOC, allocated, "memory.allocated_bytes", "Bytes allocated by blockedge, from jemalloc.")
X(MEMORY_RESIDENT, "blockedge_memory_resident_bytes", GAUGE, NONE, ALLOC, resident, "memory.resident_bytes", "Bytes in physically resident pages mapped by jemalloc.")
X(POPULARITY_REFERENCES, "blockedge_popularity_references_total", COUNTER, NONE, POP, references, "popularity.references", "Block references counted by the popularity statistics.")
X(POPULARITY_DROPPED, "blockedge_popularity_dropped_total", COUNTER, NONE, POP, dropped, "popularity.dropped", "Block references lost because a worker's ring was full.")
X(ZIPF_EXPONENT, "blockedge_popularity_zipf_exponent", GAUGE, NONE, ZIPF, exponent, "popularity.zipf.exponent", "Zipf exponent s of the block popularity (share of rank r ~ r^-s), maximum likelihood over the reliable top ranks; 0 until known.")
X(ZIPF_REQUESTS, "blockedge_popularity_zipf_requests", GAUGE, NONE, ZIPF, requests, "popularity.zipf.requests", "Requests (decayed) the Zipf exponent rests on.")
X(ZIPF_RANKS, "blockedge_popularity_zipf_ranks", GAUGE, NONE, ZIPF, ranks, "popularity.zipf.ranks", "Ranks the Zipf exponent was fitted over.")
X(MRC_HIT_RATIO, "blockedge_mrc_hit_ratio", GAUGE, POLICY_CACHE_BYTES, MRC, -, "", "Predicted hit ratio of a memory tier of cache_bytes under policy: lru from SHARDS, the configured memory_policy from miniature simulations.")
X(MRC_SAMPLE_RATE, "blockedge_mrc_sample_rate", GAUGE, NONE, POP, sample_rate, "popularity.mrc.sample_rate", "SHARDS key sample rate now in force.")
X(MRC_SAMPLED_KEYS, "blockedge_mrc_sampled_keys", GAUGE, NONE, POP, sampled_keys, "popularity.mrc.sampled_keys", "Keys SHARDS tracks now (bounded by mrc_max_keys).")
X(POPULARITY_MEMORY, "blockedge_popularity_memory_bytes", GAUGE, NONE, POP, memory_bytes, "popularity.memory_bytes", "Bytes allocated by the popularity statistics (fixed at start-up).")
X(CONFIG_RELOADS, "blockedge_config_reloads_total", COUNTER, RESULT, NODE_ARRAY, reloads, "reloads.*", "Configuration reloads (SIGHUP), by result: ok, or error with the running configuration kept.")
X(ADMIN_PURGES, "blockedge_admin_purges_total", COUNTER, PURGE_RESULT, ADMIN, purges, "", "Purge requests on the admin listener, by result (purged: a tier held the block or a fetch of it was under way; absent: nothing did).")
X(ADMIN_PREFETCH_JOBS, "blockedge_admin_prefetch_jobs_total", COUNTER, PREFETCH_JOB, ADMIN, prefetch_jobs, "", "POST /prefetch requests, by result (accepted, too_large, busy, bad_request).")
X(ADMIN_PREFETCH_KEYS, "blockedge_admin_prefetch_keys_total", COUNTER, PREFETCH_KEY, ADMIN, prefetch_keys, "", "Keys of prefetch jobs finished, by result: fetched, cached, disk, bad_key, error or the origin error.")
X(ADMIN_DENIED, "blockedge_admin_denied_total", COUNTER, DENY_REASON, ADMIN, denied, "", "Admin requests refused with 403, by reason (address: allow/deny; no_token, bad_token: admin_token_file).")
X(AUTH_DENIED, "blockedge_auth_denied_total", COUNTER, AUTH_REASON, ARRAY, auth_denied, "", "Block requests refused with 403 by signed URLs (auth mode signed), by reason: missing, malformed, expired, bad_signature.")
X(BUILD_INFO, "blockedge_build_info", GAUGE, VERSION, BUILD, -, "", "Build information; the value is always 1.")
/* clang-format on */
