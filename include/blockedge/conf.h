/*
 * conf.h - the configuration language engine: reads nginx-style files (words, quotes, # comments,
 * ; { }, include with globs) and runs a directive table, passed in by the caller, over them.
 *
 * A table row (be_directive_t) says what a directive is: the contexts it may appear in, its
 * arity, whether it opens a block or repeats, and the setter that parses its arguments into
 * the be_config_t field at `offset`. The engine does every generic check (unknown, not allowed
 * here, arity, duplicate) and owns the generic setters; a directive-specific setter only
 * parses and stores its arguments, reporting through be_conf_error(). The engine knows no
 * directive and no context by name: contexts are bits the table gives meaning to.
 */
#ifndef BLOCKEDGE_CONF_H
#define BLOCKEDGE_CONF_H

#include <stddef.h>
#include <stdint.h>

#include "blockedge/config_types.h"
#include "blockedge/defs.h"

/* be_directive_t.flags */
#define BE_DIR_BLOCK   0x01u /* "name { ... }": opens the context in .block */
#define BE_DIR_MULTI   0x02u /* may repeat; the field is an array counted at .count_offset */
#define BE_DIR_INCLUDE 0x04u /* the include directive, handled by the parser itself */

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
    unsigned ctx;   /* context bits where it may appear */
    unsigned flags; /* BE_DIR_* */
    unsigned block; /* BE_DIR_BLOCK: the context it opens */
    int nmin, nmax; /* number of arguments */
    be_directive_set_pt set;
    size_t offset;       /* field in be_config_t */
    size_t size;         /* its size in bytes (for strings: the buffer) */
    size_t count_offset; /* BE_DIR_MULTI: the int that counts the array's entries */
    int64_t lo, hi;      /* bounds for numbers, sizes, times; hi == 0: no upper bound */
    const void *aux;     /* setter-specific (be_conf_enum_t list) */
    const char *args;    /* syntax for -T, e.g. "ADDR:PORT [tls]" */
    const char *dflt;    /* default as it would be written; NULL: none */
    const char *help;    /* one line: what it does and the trade-off */
};

#define BE_CONF_FIELD(m) .offset = offsetof(be_config_t, m), .size = sizeof(((be_config_t *)0)->m)

/*
 * One parse. Setters treat it as opaque and only hand it to be_conf_error(); the loader reads
 * the per-row record after be_conf_parse() and points file, line and note at what a
 * whole-file check blames.
 */
struct be_conf_s {
    be_config_t *cfg;
    const be_directive_t *table;
    size_t ntable;
    char *err; /* the caller's buffer for the one error line */
    size_t errlen;

    const char *file; /* file being parsed (an entry of files[]), or NULL */
    unsigned line;    /* line of the directive or token at fault; 0 = none */
    const char *note; /* set while applying a default after parsing: named in errors */

    unsigned ctx; /* context we are in */
    int depth;    /* include nesting */

    unsigned *seen; /* per table row: how often it appeared, and where last */
    const char **seen_file;
    unsigned *seen_line;
    char **files; /* names of every file read, kept for error locations */
    size_t nfiles;
};

/* Prepares cf to run table over cfg, errors into err (errlen may be 0: no text). Allocates
 * nothing. */
void be_conf_init(be_conf_t *cf, const be_directive_t *table, size_t ntable, be_config_t *cfg,
                  char *err, size_t errlen);

/* Parses path, which starts in context ctx; includes are read in place. Once per cf. BE_OK,
 * or BE_ERROR with the message in the caller's buffer. */
int be_conf_parse(be_conf_t *cf, const char *path, unsigned ctx);

/* Frees what be_conf_parse() kept (the per-row record and file names); cf's pointers into it
 * are then invalid. */
void be_conf_dispose(be_conf_t *cf);

/* The row for name that may appear in ctx (~0u: in any context), or NULL. */
const be_directive_t *be_conf_find(const be_conf_t *cf, const char *name, unsigned ctx);

/* Runs d's setter on its default text (words separated by single spaces). */
int be_conf_apply_default(be_conf_t *cf, const be_directive_t *d);

/* Writes "<message> in FILE:LINE" (the directive being parsed) into the caller's buffer.
 * Returns BE_ERROR so a setter can `return be_conf_error(...)`. */
int be_conf_error(be_conf_t *cf, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The generic setters. Bounds come from d->lo and d->hi. */
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
