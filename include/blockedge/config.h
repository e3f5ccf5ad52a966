/*
 * config.h - loading the configuration.
 *
 * be_config_load() reads an nginx-style file (directives, { } blocks, # comments, quotes,
 * include with globs, size k/m/g and time ms/s/m/h/d suffixes, "auto") into a be_config_t
 * (config_types.h). Every directive is one row of the table in directives.c. Errors are
 * reported in nginx's words, naming the directive and file:line:
 *   unknown directive "memroy_size" in /etc/blockedge/blockedge.conf:16
 * The config is immutable once loaded; workers read it without locks.
 */
#ifndef BLOCKEDGE_CONFIG_H
#define BLOCKEDGE_CONFIG_H

#include <stdint.h>
#include <stdio.h>
#include <sys/socket.h>

#include "blockedge/config_types.h"
#include "blockedge/defs.h"

#define BE_DEFAULT_CONF_PATH "/etc/blockedge/blockedge.conf"

/* Fills cfg with every directive's default. */
void be_config_defaults(be_config_t *cfg);

/*
 * Loads and checks path into cfg (defaults first). On error returns BE_ERROR and writes one
 * line without a trailing newline into err (nginx's wording, ending in "in FILE:LINE" where
 * a line is known). There are no warnings (a group- or world-readable secret_file is only
 * flagged in cfg->auth_secret_file_loose, for the caller to log). Binds nothing and opens no
 * file other than the config, its includes, admin_token_file and secret_file (whose token and
 * secrets it keeps). Thread: main, before
 * workers start.
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
