/*
 * config.c - blockedge's configuration: defaults, loading a file with the directive table,
 * the checks that need the whole file, and the admin allow/deny match.
 *
 * The language is conf.c's and the directives are directives.c's; this file joins them and
 * names directives only in the whole-file checks (origin required, max_block_size <=
 * memory_size, disk_size with disk_path and at least two segments). It also keeps the
 * be_config_* names other modules and tools call. Nothing is logged from here; not
 * thread-safe, called from main before workers start.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "blockedge/check.h"
#include "blockedge/conf.h"
#include "blockedge/config.h"
#include "blockedge/confvalue.h"
#include "blockedge/directives.h"

/* ---- defaults, load, checks -------------------------------------------------------------- */

void
be_config_defaults(be_config_t *cfg)
{
    char err[256];
    be_conf_t cf;
    size_t i;

    memset(cfg, 0, sizeof(*cfg));
    cfg->magic = BE_CONFIG_MAGIC;
    be_conf_init(&cf, be_directives, be_directives_count, cfg, err, sizeof(err));
    for (i = 0; i < be_directives_count; i++) {
        const be_directive_t *d = &be_directives[i];
        if (d->set != NULL && d->dflt != NULL && be_conf_apply_default(&cf, d) != BE_OK) {
            /* a default that does not parse is a bug in the table, caught by every test */
            fprintf(stderr, "blockedge: bad default for \"%s\": %s\n", d->name, err);
            abort();
        }
    }
    be_conf_dispose(&cf);
}

/* The table index of a cache { } directive that a whole-file check names. */
static size_t
cache_row(const be_conf_t *cf, const char *name)
{
    return (size_t)(be_conf_find(cf, name, BE_CTX_CACHE) - be_directives);
}

/* Points errors at where table row i last appeared, else at the main file without a line. */
static void
blame(be_conf_t *cf, size_t i, const char *main_path)
{
    cf->file = cf->seen_file[i] != NULL ? cf->seen_file[i] : main_path;
    cf->line = cf->seen_line[i];
}

static int
check_config(be_conf_t *cf, const char *main_path)
{
    be_config_t *cfg = cf->cfg;
    const be_directive_t *d;
    char text[128], mb[32], ms[32];
    size_t i;

    /* a repeatable directive's default applies only when it never appeared */
    cf->file = main_path;
    cf->line = 0;
    for (i = 0; i < be_directives_count; i++) {
        d = &be_directives[i];
        if ((d->flags & BE_DIR_MULTI) && d->dflt != NULL && cf->seen[i] == 0) {
            snprintf(text, sizeof(text), "default of \"%s\"", d->name);
            cf->note = text;
            if (be_conf_apply_default(cf, d) != BE_OK) {
                return BE_ERROR;
            }
            cf->note = NULL;
        }
    }

    if (cfg->max_block_size > cfg->memory_size) {
        /* blame max_block_size where written, else the memory_size too small for its default */
        i = cache_row(cf, "max_block_size");
        if (cf->seen[i] == 0) {
            i = cache_row(cf, "memory_size");
        }
        blame(cf, i, main_path);
        be_confvalue_format_size(mb, sizeof(mb), cfg->max_block_size);
        be_confvalue_format_size(ms, sizeof(ms), cfg->memory_size);
        return be_conf_error(cf, "\"max_block_size\" %s is larger than \"memory_size\" %s", mb, ms);
    }

    if (cfg->disk_path[0] != '\0') {
        blame(cf, cache_row(cf, "disk_path"), main_path);
        if (cfg->disk_size == 0) {
            return be_conf_error(cf, "\"disk_path\" requires \"disk_size\"");
        }
        if (cfg->disk_size < 2 * cfg->disk_segment_size) {
            be_confvalue_format_size(mb, sizeof(mb), cfg->disk_size);
            be_confvalue_format_size(ms, sizeof(ms), cfg->disk_segment_size);
            return be_conf_error(cf, "\"disk_size\" %s is less than two \"disk_segment_size\" %s",
                                 mb, ms);
        }
    }

    if (cfg->auth_mode == BE_AUTH_MODE_SIGNED && cfg->auth_keys.n == 0) {
        blame(cf, (size_t)(be_conf_find(cf, "mode", BE_CTX_AUTH) - be_directives), main_path);
        return be_conf_error(cf, "\"mode signed\" requires \"secret_file\"");
    }

    if (cfg->nservers == 0) {
        cf->file = main_path;
        cf->line = 0;
        return be_conf_error(cf, "no origin \"server\" defined");
    }
    return BE_OK;
}

int
be_config_load(be_config_t *cfg, const char *path, char *err, size_t errlen)
{
    char dummy[1];
    be_conf_t cf;
    size_t i;
    int rc;

    be_config_defaults(cfg);
    be_conf_init(&cf, be_directives, be_directives_count, cfg, err != NULL ? err : dummy,
                 err != NULL ? errlen : sizeof(dummy));
    if (strlen(path) >= sizeof(cfg->path)) {
        return be_conf_error(&cf, "configuration path too long");
    }
    strcpy(cfg->path, path);

    /* repeatable directives start empty; check_config() puts their default back if unused */
    for (i = 0; i < be_directives_count; i++) {
        const be_directive_t *d = &be_directives[i];
        if ((d->flags & BE_DIR_MULTI) && d->count_offset != 0) {
            *(int *)((char *)cfg + d->count_offset) = 0;
        }
    }

    rc = be_conf_parse(&cf, path, BE_CTX_MAIN);
    if (rc == BE_OK) {
        rc = check_config(&cf, cfg->path);
    }
    be_conf_dispose(&cf);
    return rc;
}

/* ---- admin access ------------------------------------------------------------------------ */

static int
prefix_matches(const uint8_t *a, const uint8_t *net, int bits)
{
    int full = bits / 8, rest = bits % 8;

    if (memcmp(a, net, (size_t)full) != 0) {
        return 0;
    }
    return rest == 0 || ((a[full] ^ net[full]) & (0xff << (8 - rest))) == 0;
}

int
be_config_acl_allows(const be_config_t *cfg, const struct sockaddr *peer)
{
    BE_CHECK_OBJ_NOTNULL(cfg, BE_CONFIG_MAGIC);
    const uint8_t *addr = NULL;
    int family = AF_UNSPEC, i;

    if (cfg->nacl == 0) {
        return 1;
    }
    if (peer != NULL && peer->sa_family == AF_INET) {
        family = AF_INET;
        addr = (const uint8_t *)&((const struct sockaddr_in *)peer)->sin_addr;
    } else if (peer != NULL && peer->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)peer)->sin6_addr;
        family = AF_INET6;
        addr = a6->s6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) { /* a dual-stack listener's IPv4 client */
            family = AF_INET;
            addr += 12;
        }
    }

    for (i = 0; i < cfg->nacl; i++) {
        const be_acl_rule_t *r = &cfg->acl[i];
        if (r->family == AF_UNSPEC ||
            (r->family == family && prefix_matches(addr, r->addr, r->prefix))) {
            return r->allow;
        }
    }
    return 0;
}

/* ---- value parsers and -T, under the names callers use ---------------------------------- */

int
be_config_parse_size(const char *s, uint64_t *out)
{
    return be_confvalue_parse_size(s, out);
}

int
be_config_parse_time(const char *s, be_msec_t *out)
{
    return be_confvalue_parse_time(s, out);
}

int
be_config_parse_listen(const char *s, be_listen_t *out)
{
    return be_confvalue_parse_listen(s, out);
}

void
be_config_dump_directives(FILE *out)
{
    be_directives_dump(out);
}
