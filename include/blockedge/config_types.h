/*
 * config_types.h - the parsed configuration as every module reads it: be_config_t and the
 * listen, origin server and allow/deny rule types it holds.
 *
 * Data only. How a file becomes this struct is config.h's business (the language is conf.h's,
 * the directive table directives.h's); a module that only reads settings includes this header
 * or config.h, never conf.h or directives.h. The struct is filled once by be_config_load()
 * and is immutable afterwards, so workers read it without locks.
 */
#ifndef BLOCKEDGE_CONFIG_TYPES_H
#define BLOCKEDGE_CONFIG_TYPES_H

#include <stdint.h>
#include <sys/socket.h>

#include "blockedge/admission.h" /* enum be_disk_admission */
#include "blockedge/adminauth.h"
#include "blockedge/auth.h"
#include "blockedge/defs.h"
#include "blockedge/policy.h" /* enum be_memory_policy */

#define BE_CONFIG_MAGIC 0x62656366u /* "becf" */

#define BE_MAX_LISTEN   16
#define BE_MAX_ORIGINS  16
#define BE_MAX_ACL      64

typedef struct be_listen_s {
    struct sockaddr_storage addr; /* resolved numeric address, port set */
    socklen_t addrlen;
    char text[128];     /* as written, e.g. "127.0.0.1:8480" or "[::1]:8480" */
    int tls;            /* "tls" flag given */
    int proxy_protocol; /* "proxy_protocol": a PROXY header (v1 or v2) precedes each connection */
} be_listen_t;

enum be_origin_kind {
    BE_ORIGIN_HTTP, /* http:// or https:// : GET url + hex */
    BE_ORIGIN_FILE, /* file:///dir/ : read dir/hex */
    BE_ORIGIN_S3,   /* s3://bucket/prefix/ */
};

typedef struct be_origin_server_s {
    int kind;        /* enum be_origin_kind */
    char url[1024];  /* as written; always ends with '/' for http and file */
    char path[1024]; /* file: the directory; s3: "bucket/prefix/" */
    int backup;
} be_origin_server_t;

typedef struct be_acl_rule_s {
    int allow;  /* 1 allow, 0 deny */
    int family; /* AF_INET, AF_INET6, or AF_UNSPEC for "all" */
    uint8_t addr[16];
    int prefix; /* bits */
} be_acl_rule_t;

typedef struct be_config_s {
    uint32_t magic;
    char path[1024]; /* the main file as given */

    /* main */
    int worker_threads;        /* 0 = auto (one per core) */
    char pid_path[1024];       /* "" = none */
    char error_log_path[1024]; /* "" = stderr */
    int error_log_level;       /* enum be_log_level, default BE_LOG_NOTICE */
    /* SIGTERM, SIGINT, SIGQUIT: how long requests in flight may take; default 10s */
    be_msec_t shutdown_timeout;
    be_msec_t drain_delay; /* after a stop signal, /healthz answers 503 this long first */

    /* http { } */
    be_listen_t listen[BE_MAX_LISTEN];
    int nlisten;
    char tls_certificate[1024];
    char tls_certificate_key[1024];
    char access_log[1024];             /* "" = off */
    int access_log_json;               /* access_log PATH json: one JSON object per line */
    be_msec_t keepalive_timeout;       /* default 75s */
    be_msec_t client_header_timeout;   /* default 60s */
    be_msec_t send_timeout;            /* default 60s */
    int max_connections;               /* whole node; default 10000 */
    int max_connections_per_ip;        /* node-wide per address (IPv6: /64); 0 = off, the default */
    int h2_max_concurrent_streams;     /* default 100 */
    double miss_rate;                  /* origin-bound requests per second per client; 0 = off */
    int miss_burst;                    /* tokens a client's bucket holds; default 1 */
    be_acl_rule_t trusted[BE_MAX_ACL]; /* peers exempt from miss_rate (allow flag unused) */
    int ntrusted;
    char real_ip_header[64]; /* from a trusted peer, names the real client; "" = none */

    /* cache { } */
    uint64_t memory_size;    /* default 256m */
    uint64_t max_block_size; /* default 16m */
    int memory_policy;       /* enum be_memory_policy; default s3fifo */
    char disk_path[1024];    /* "" = no disk tier */
    uint64_t disk_size;
    uint64_t disk_segment_size;
    int disk_admission;     /* enum be_disk_admission; changes on reload */
    be_msec_t negative_ttl; /* origin 404s remembered; 0 = off; default 10s */
    int negative_max_keys;  /* default 65536; fixed at start-up */

    /* origin { } */
    be_origin_server_t servers[BE_MAX_ORIGINS];
    int nservers;
    char s3_endpoint[1024];
    char s3_region[64];
    char s3_credentials_file[1024];
    be_msec_t connect_timeout;        /* default 5s */
    be_msec_t read_timeout;           /* default 30s */
    int retries;                      /* default 1 */
    be_msec_t fetch_timeout;          /* one fetch, retries included; default 60s */
    int max_fails;                    /* consecutive failures that mark a server down; 0 = never */
    be_msec_t fail_timeout;           /* how long a server stays down before a probe; default 10s */
    be_msec_t error_summary_interval; /* origin errors are summarized per interval */
    int origin_max_inflight;          /* node-wide fetches under way; 0: 1024 per server */
    be_msec_t origin_queue_timeout;   /* a miss's wait for a slot; default 5s */
    int origin_max_conns;             /* connections per origin host, node-wide; 0 = no cap */

    /* admin { } */
    be_listen_t admin_listen[BE_MAX_LISTEN];
    int nadmin_listen;
    be_acl_rule_t acl[BE_MAX_ACL];
    int nacl;
    char admin_token_file[1024];              /* "" = no token: allow/deny alone */
    char admin_token[BE_ADMIN_TOKEN_MAX + 1]; /* read from it when the config is loaded */
    int prefetch_concurrency;                 /* prefetch fetches under way; default 16 */

    /* stats { } */
    int popularity;                 /* 1 on (default), 0 off */
    int popularity_top_k;           /* Space-Saving counters; default 4096 */
    be_msec_t popularity_half_life; /* decay; 0 = never; default 5m */
    double mrc_sample_rate;         /* SHARDS starting rate; default 0.1 */
    int mrc_max_keys;               /* SHARDS key bound; default 32768 */

    /* auth { } */
    int auth_mode;               /* enum be_auth_mode; default off */
    char auth_secret_file[1024]; /* "" = none; required with mode signed */
    be_msec_t auth_clock_skew;   /* grace after expires; default 30s */
    be_auth_keys_t auth_keys;    /* read from auth_secret_file when the config is loaded */
    int auth_secret_file_loose;  /* group or others may read it: warned about */
} be_config_t;

#endif
