/*
 * directives_dump.c - the directive table rendered for people: `blockedge -T` (name, context,
 * arguments, default, help). The table itself is directives.c's; this file only reads it, so
 * other renderings of the same rows (reference tables, manual pages) belong here too.
 */
#include <stdio.h>
#include <string.h>

#include "blockedge/directives.h"

static const char *
context_name(unsigned ctx)
{
    switch (ctx) {
    case BE_CTX_MAIN:
        return "main";
    case BE_CTX_HTTP:
        return "http";
    case BE_CTX_CACHE:
        return "cache";
    case BE_CTX_ORIGIN:
        return "origin";
    case BE_CTX_ADMIN:
        return "admin";
    case BE_CTX_STATS:
        return "stats";
    case BE_CTX_AUTH:
        return "auth";
    default:
        return "any";
    }
}

static const char *
default_text(const be_directive_t *d)
{
    if (d->flags & (BE_DIR_BLOCK | BE_DIR_INCLUDE)) {
        return "-";
    }
    return d->dflt != NULL ? d->dflt : "none";
}

void
be_directives_dump(FILE *out)
{
    int wn = (int)strlen("directive"), wc = (int)strlen("context");
    int wa = (int)strlen("arguments"), wd = (int)strlen("default");
    size_t i;

    for (i = 0; i < be_directives_count; i++) {
        const be_directive_t *d = &be_directives[i];
        int n = (int)strlen(d->name), c = (int)strlen(context_name(d->ctx));
        int a = (int)strlen(d->args), df = (int)strlen(default_text(d));
        wn = n > wn ? n : wn;
        wc = c > wc ? c : wc;
        wa = a > wa ? a : wa;
        wd = df > wd ? df : wd;
    }
    fprintf(out, "%-*s  %-*s  %-*s  %-*s  %s\n", wn, "directive", wc, "context", wa, "arguments",
            wd, "default", "help");
    for (i = 0; i < be_directives_count; i++) {
        const be_directive_t *d = &be_directives[i];
        fprintf(out, "%-*s  %-*s  %-*s  %-*s  %s\n", wn, d->name, wc, context_name(d->ctx), wa,
                d->args, wd, default_text(d), d->help);
    }
}
