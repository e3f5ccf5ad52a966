/*
 * config.h - the parsed configuration.
 *
 * be_config_load() reads an nginx-style file (directives, { } blocks, # comments, quotes,
 * include with globs, size k/m/g and time ms/s/m/h/d suffixes, "auto") into a be_config_t.
 * Every directive is one row of the table in directives.c. Errors are reported in nginx's
 * words, naming the directive and file:line:
 *   unknown directive "memroy_size" in /etc/blockedge/blockedge.conf:16
 * The config is immutable once loaded; workers read it without locks.
 */
#ifndef BLOCKEDGE_CONFIG_H
#define BLOCKEDGE_CONFIG_H

#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "blockedge/defs.h"

#define BE_CONFIG_MAGIC      0x62656366u /* "becf" */

#define BE_MAX_LISTEN        16
#define BE_MAX_ORIGINS       16
#define BE_MAX_ACL           64

#define BE_DEFAULT_CONF_PATH "/etc/blockedge/blockedge.conf"

typedef struct be_listen_s {
    struct sockaddr_storage addr; /* resolved numeric address, port set */
    socklen_t addrlen;
    char text[128]; /* as written, e.g. "127.0.0.1:8480" or "[::1]:8480" */
    int tls;        /* "tls" flag given */
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

enum be_memory_policy {
    BE_POLICY_LRU,
};

typedef struct be_config_s {
    uint32_t magic;
    char path[1024]; /* the main file as given */

    /* main */
    int worker_threads;        /* 0 = auto (one per core) */
    char pid_path[1024];       /* "" = none */
    char error_log_path[1024]; /* "" = stderr */
    int error_log_level;       /* enum be_log_level, default BE_LOG_NOTICE */

    /* http { } */
    be_listen_t listen[BE_MAX_LISTEN];
    int nlisten;
    char tls_certificate[1024];
    char tls_certificate_key[1024];
    char access_log[1024];           /* "" = off */
    be_msec_t keepalive_timeout;     /* default 75s */
    be_msec_t client_header_timeout; /* default 60s */
    be_msec_t send_timeout;          /* default 60s */
    int max_connections;             /* whole node; default 10000 */
    int h2_max_concurrent_streams;   /* default 100 */

    /* cache { } */
    uint64_t memory_size;    /* default 256m */
    uint64_t max_block_size; /* default 16m */
    int memory_policy;       /* enum be_memory_policy */
    char disk_path[1024];    /* "" = no disk tier */
    uint64_t disk_size;
    uint64_t disk_segment_size;

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

    /* admin { } */
    be_listen_t admin_listen[BE_MAX_LISTEN];
    int nadmin_listen;
    be_acl_rule_t acl[BE_MAX_ACL];
    int nacl;

    /* stats { } */
    int popularity;                 /* 1 on (default), 0 off */
    int popularity_top_k;           /* Space-Saving counters; default 4096 */
    be_msec_t popularity_half_life; /* decay; 0 = never; default 5m */
    double mrc_sample_rate;         /* SHARDS starting rate; default 0.1 */
    int mrc_max_keys;               /* SHARDS key bound; default 32768 */
} be_config_t;

/* Fills cfg with every directive's default. */
void be_config_defaults(be_config_t *cfg);

/*
 * Loads and checks path into cfg (defaults first). On error returns BE_ERROR and writes one
 * line without a trailing newline into err (nginx's wording, ending in "in FILE:LINE" where
 * a line is known). There are no warnings. Binds nothing and opens no file other than the
 * config and its includes. Thread: main, before workers start.
 */
int be_config_load(be_config_t *cfg, const char *path, char *err, size_t errlen);

/* Parses "512", "64k", "16m", "2g" (also upper case). BE_OK or BE_ERROR. */
int be_config_parse_size(const char *s, uint64_t *out);

/* Parses "500ms", "30s", "5m", "1h", "2d", and a bare number as seconds. BE_OK/BE_ERROR. */
int be_config_parse_time(const char *s, be_msec_t *out);

/* Parses "ADDR:PORT", "[V6]:PORT", "*:PORT" or "PORT" (then 0.0.0.0). BE_OK/BE_ERROR. */
int be_config_parse_listen(const char *s, be_listen_t *out);

/* Checks the peer address against the admin allow/deny rules: first match wins; no rules
 * means allow; rules but no match means deny. Returns 1 when allowed. */
int be_config_acl_allows(const be_config_t *cfg, const struct sockaddr *peer);

/* Prints every directive with its context, arguments, default and help (for -T). */
void be_config_dump_directives(FILE *out);

#endif
