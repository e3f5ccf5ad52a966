/*
 * directives.h - blockedge's directive table: every directive the configuration accepts,
 * one row each (conf.h describes a row), the contexts they live in, and the -T dump.
 *
 * The loader (config.c) hands this table to the engine (conf.c); tests read it to check its
 * rows; main.c includes it for the manual pages only. No other module includes this header:
 * settings are read from be_config_t.
 */
#ifndef BLOCKEDGE_DIRECTIVES_H
#define BLOCKEDGE_DIRECTIVES_H

#include <stddef.h>
#include <stdio.h>

#include "blockedge/conf.h"

/* Contexts, as a bit set in be_directive_t.ctx and as the context a block opens. */
#define BE_CTX_MAIN   0x01u
#define BE_CTX_HTTP   0x02u
#define BE_CTX_CACHE  0x04u
#define BE_CTX_ORIGIN 0x08u
#define BE_CTX_ADMIN  0x10u
#define BE_CTX_STATS  0x20u
#define BE_CTX_AUTH   0x40u
#define BE_CTX_ANY    0x7fu

extern const be_directive_t be_directives[];
extern const size_t be_directives_count;

/* The setters of server and s3_endpoint (directives_origin.c), rows of the table. */
int be_directive_set_server(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc,
                            char *const *argv);
int be_directive_set_s3_endpoint(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc,
                                 char *const *argv);

/* Prints every directive with its context, arguments, default and help, one per line under
 * a header line (for -T). */
void be_directives_dump(FILE *out);

/* The README's "Configuration reference" tables in Markdown (for -M md): a "### context"
 * heading and a "| directive | syntax | default | meaning |" table per context, main first,
 * then the blocks in the order the README describes them. */
void be_directives_markdown(FILE *out);

/* One command-line option, as main.c's usage() prints it: "-c FILE  help". A help with "\n"
 * goes on over several lines. */
typedef struct {
    char opt;         /* the letter after "-" */
    const char *arg;  /* its argument's name, or NULL */
    const char *help; /* one sentence, lower case first */
} be_cli_option_t;

/* Manual pages in man(7) roff, so that they cannot drift from the table and the options:
 * blockedge.conf(5) lists every directive (context, arguments, default, help);
 * blockedge(8) lists the n options of opts. Write to out; no allocation. */
void be_directives_man5(FILE *out);
void be_directives_man8(FILE *out, const be_cli_option_t *opts, size_t n);

#endif
