/*
 * directives.h - the directive table shared by config.c (the parser) and directives.c (the
 * table itself, the directive-specific setters and the -T dump).
 *
 * One row per directive: name, the contexts it may appear in, its arity, the setter that
 * parses its arguments into the be_config_t field at `offset`, its default as text, and a
 * one-line help. The parser owns everything generic (context, arity and duplicate checks); a
 * setter only parses and stores its arguments. Private to the configuration module: no other
 * module includes this header.
 */
#ifndef BLOCKEDGE_DIRECTIVES_H
#define BLOCKEDGE_DIRECTIVES_H

#include <stddef.h>
#include <stdint.h>

#include "blockedge/config.h"

/* Contexts, as a bit set in be_directive_t.ctx and as the context a block opens. */
#define BE_CTX_MAIN   0x01u
#define BE_CTX_HTTP   0x02u
#define BE_CTX_CACHE  0x04u
#define BE_CTX_ORIGIN 0x08u
#define BE_CTX_ADMIN  0x10u
#define BE_CTX_STATS  0x20u
#define BE_CTX_ANY    0x3fu

/* be_directive_t.flags */
#define BE_DIR_BLOCK   0x01u /* "name { ... }": opens the context in .block */
#define BE_DIR_MULTI   0x02u /* may repeat; the field is an array counted at .count_offset */
#define BE_DIR_INCLUDE 0x04u /* the include directive, handled by the parser itself */

/* The parser's state, opaque to setters: they only pass it to be_conf_error(). */
typedef struct be_conf_s be_conf_t;

typedef struct be_directive_s be_directive_t;

/* Parses argv[0..argc-1] (arity already checked) into cfg. BE_OK, or BE_ERROR after
 * be_conf_error(). */
typedef int (*be_directive_set_pt)(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg,
                                   int argc, char *const *argv);

/* A keyword and its value, for be_conf_set_enum (.aux points at a list ending in NULL). */
typedef struct be_conf_enum_s {
    const char *name;
    int value;
} be_conf_enum_t;

struct be_directive_s {
    const char *name;
    unsigned ctx;   /* BE_CTX_* where it may appear */
    unsigned flags; /* BE_DIR_* */
    unsigned block; /* BE_DIR_BLOCK: the context it opens */
    int nmin, nmax; /* number of arguments */
    be_directive_set_pt set;
    size_t offset;       /* field in be_config_t */
    size_t size;         /* its size in bytes (for strings: the buffer) */
    size_t count_offset; /* BE_DIR_MULTI: the int that counts the array's entries */
    int64_t lo, hi;      /* bounds for numbers, sizes, times; hi == 0: no upper bound */
    const void *aux;     /* setter-specific (be_conf_enum_t list, allow/deny) */
    const char *args;    /* syntax for -T, e.g. "ADDR:PORT [tls]" */
    const char *dflt;    /* default as it would be written; NULL: none */
    const char *help;    /* one line: what it does and the trade-off */
};

#define BE_CONF_FIELD(m) .offset = offsetof(be_config_t, m), .size = sizeof(((be_config_t *)0)->m)

extern const be_directive_t be_directives[];
extern const size_t be_directives_count;

/* The name of one context bit: "main", "http", "cache", "origin", "admin" ("any" else). */
const char *be_conf_context_name(unsigned ctx);

/* Writes "<message> in FILE:LINE" (the directive being parsed) into the caller's buffer.
 * Returns BE_ERROR so a setter can `return be_conf_error(...)`. */
int be_conf_error(be_conf_t *cf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The generic setters (config.c). Bounds come from d->lo and d->hi. */
int be_conf_set_num(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc,
                    char *const *argv);
int be_conf_set_size(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc,
                     char *const *argv);
int be_conf_set_msec(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc,
                     char *const *argv);
int be_conf_set_str(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc,
                    char *const *argv);
int be_conf_set_enum(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc,
                     char *const *argv);

#endif
