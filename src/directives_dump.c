/*
 * directives_dump.c - the directive table rendered for people: `blockedge -T` (name, context,
 * arguments, default, help), the README's reference tables (-M md) and the manual pages
 * (-M 5, -M 8). The table itself is directives.c's; this file only reads it.
 *
 * Help strings may mark code with backquotes, as Markdown does: -T prints them as written,
 * the README keeps them, the manual pages set the code in bold.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "blockedge/confvalue.h"
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

/* The bounds a number, size or time row enforces, in the row's unit ("1..256", "at least 1ms"),
 * or "" when the row has none (other setters check their own values). */
static void
bounds_text(char *buf, size_t len, const be_directive_t *d)
{
    char lo[32], hi[32];

    buf[0] = '\0';
    if ((d->lo == 0 && d->hi == 0) || d->set == be_conf_set_enum || d->set == be_conf_set_str) {
        return;
    }
    if (d->set == be_conf_set_size) {
        be_confvalue_format_size(lo, sizeof(lo), (uint64_t)d->lo);
        be_confvalue_format_size(hi, sizeof(hi), (uint64_t)d->hi);
    } else if (d->set == be_conf_set_msec) {
        be_confvalue_format_time(lo, sizeof(lo), (uint64_t)d->lo);
        be_confvalue_format_time(hi, sizeof(hi), (uint64_t)d->hi);
    } else {
        snprintf(lo, sizeof(lo), "%lld", (long long)d->lo);
        snprintf(hi, sizeof(hi), "%lld", (long long)d->hi);
    }
    if (d->hi == 0) {
        snprintf(buf, len, "at least %s", lo);
    } else {
        snprintf(buf, len, "%s..%s", lo, hi);
    }
}

/*
 * The README's "Configuration reference" tables: one per context, in the README's order, each
 * "| directive | syntax | default | meaning |". Cells escape "|" (also inside code spans, as
 * GitHub's tables require) and, outside code, the characters Markdown would take for markup.
 */
static void
md_text(FILE *out, const char *s, int capital, int code)
{
    for (; *s != '\0'; s++) {
        if (*s == '`') {
            code = !code;
        }
        if (*s == '|') {
            fputs("\\|", out);
        } else if (!code && strchr("\\*_<>[]", *s) != NULL) {
            fprintf(out, "\\%c", *s);
        } else if (capital && !code) {
            fputc(toupper((unsigned char)*s), out);
        } else {
            fputc(*s, out);
        }
        capital = 0;
    }
}

static void
md_code(FILE *out, const char *s)
{
    fputc('`', out);
    md_text(out, s, 0, 1);
    fputc('`', out);
}

/* A help as a cell: "see TITLE in the README" becomes a link to that section, "see [TITLE](#slug)",
 * the slug made as GitHub makes it (lower case, spaces to "-", other punctuation dropped). */
static void
md_help(FILE *out, const char *help)
{
    static const char tail[] = " in the README";
    char text[1024];
    const char *p = help, *end, *title;
    int capital = 1;

    while ((end = strstr(p, tail)) != NULL) {
        for (title = end; title - p >= 4 && strncmp(title - 4, "see ", 4) != 0; title--) {
        }
        if (title - p < 4 || (size_t)(end - p) >= sizeof(text)) {
            break;
        }
        snprintf(text, sizeof(text), "%.*s", (int)(title - p), p);
        md_text(out, text, capital, 0);
        snprintf(text, sizeof(text), "%.*s", (int)(end - title), title);
        fputc('[', out);
        md_text(out, text, 0, 0);
        fputs("](#", out);
        for (const char *c = title; c < end; c++) {
            if (*c == ' ' || *c == '-' || *c == '_' || isalnum((unsigned char)*c)) {
                fputc(*c == ' ' ? '-' : tolower((unsigned char)*c), out);
            }
        }
        fputc(')', out);
        p = end + sizeof(tail) - 1;
        capital = 0;
    }
    md_text(out, p, capital, 0);
}

static void
md_row(FILE *out, const be_directive_t *d)
{
    char bounds[80];

    fputs("| ", out);
    md_code(out, d->name);
    fputs(" | ", out);
    md_code(out, d->args);
    fputs(" | ", out);
    if (d->flags & (BE_DIR_BLOCK | BE_DIR_INCLUDE)) {
        fputs("\xe2\x80\x94", out); /* an em dash: no default */
    } else if (d->dflt != NULL) {
        md_code(out, d->dflt);
    } else {
        fputs("none", out);
    }
    fputs(" | ", out);
    md_help(out, d->help);
    fputs(".", out);
    bounds_text(bounds, sizeof(bounds), d);
    if (bounds[0] != '\0') {
        fprintf(out, " %c%s.", toupper((unsigned char)bounds[0]), bounds + 1);
    }
    if ((d->flags & BE_DIR_MULTI) && !(d->flags & BE_DIR_INCLUDE)) {
        fputs(" May repeat.", out);
    }
    fputs(" |\n", out);
}

void
be_directives_markdown(FILE *out)
{
    static const unsigned order[] = {BE_CTX_MAIN,  BE_CTX_HTTP,  BE_CTX_CACHE, BE_CTX_ORIGIN,
                                     BE_CTX_ADMIN, BE_CTX_STATS, BE_CTX_AUTH};
    size_t i, c;

    for (c = 0; c < sizeof(order) / sizeof(order[0]); c++) {
        if (c == 0) {
            fputs("### main\n", out);
        } else {
            fprintf(out, "\n### %s { }\n", context_name(order[c]));
        }
        fputs("\n| directive | syntax | default | meaning |\n| --- | --- | --- | --- |\n", out);
        for (i = 0; i < be_directives_count; i++) {
            const be_directive_t *d = &be_directives[i];
            /* a directive of every context (include) is listed once, under main */
            if (d->ctx == order[c] || (c == 0 && d->ctx == BE_CTX_ANY)) {
                md_row(out, d);
            }
        }
    }
}

/*
 * Manual pages. Every string from the table goes through roff_text(), which escapes what roff
 * reads as markup: a backslash, a hyphen (so "-t" is not a hyphenation point) and a line that
 * would start with "." or "'".
 */
#define MAN_DATE "2026-12-02"

static void
roff_text(FILE *out, const char *s)
{
    int bol = 1, code = 0;
    for (; *s != '\0'; s++) {
        if (bol && (*s == '.' || *s == '\'')) {
            fputs("\\&", out);
        }
        bol = *s == '\n';
        if (*s == '\\') {
            fputs("\\e", out);
        } else if (*s == '-') {
            fputs("\\-", out);
        } else if (*s == '\n') {
            fputc(' ', out);
            bol = 0;
        } else if (*s == '`') {
            fputs(code ? "\\fR" : "\\fB", out);
            code = !code;
        } else {
            fputc(*s, out);
        }
    }
}

static void
man_header(FILE *out, const char *name, int section, const char *what)
{
    fprintf(out,
            ".\\\" Generated by blockedge -M %d from the directive table and the options of "
            "main.c; do not edit.\n",
            section);
    fprintf(out, ".TH %s %d \"%s\" \"blockedge %s\" \"blockedge\"\n", name, section, MAN_DATE,
            BE_VERSION);
    fprintf(out, ".SH NAME\n%s \\- %s\n", name, what);
}

static void
man_directive(FILE *out, const be_directive_t *d)
{
    char bounds[80];

    fputs(".TP\n.BR \"", out);
    roff_text(out, d->name);
    fputs("\" \" ", out);
    if (d->flags & BE_DIR_BLOCK) {
        fputs("{ ... }\"\n", out);
    } else {
        fputs("\\fI", out);
        roff_text(out, d->args);
        fputs("\\fP;\"\n", out);
    }
    fprintf(out, "Context: \\fB%s\\fP.", context_name(d->ctx));
    if (!(d->flags & (BE_DIR_BLOCK | BE_DIR_INCLUDE))) {
        fputs(" Default: ", out);
        if (d->dflt != NULL) {
            fputs("\\fB", out);
            roff_text(out, d->dflt);
            fputs("\\fP.", out);
        } else {
            fputs("none.", out);
        }
    }
    bounds_text(bounds, sizeof(bounds), d);
    if (bounds[0] != '\0') {
        fputs(" Range: ", out);
        roff_text(out, bounds);
        fputs(".", out);
    }
    if (d->flags & BE_DIR_MULTI) {
        fputs(" May repeat.", out);
    }
    fputs("\n.br\n", out);
    roff_text(out, d->help);
    fputs(".\n", out);
}

void
be_directives_man5(FILE *out)
{
    size_t i;

    man_header(out, "blockedge.conf", 5, "configuration of the blockedge block cache");
    fputs(".SH SYNOPSIS\n/etc/blockedge/blockedge.conf\n"
          ".SH DESCRIPTION\n"
          "The configuration of \\fBblockedge\\fP(8), in nginx's syntax: a simple directive is a "
          "name and its arguments ended by \\(lq;\\(rq; a block is a name followed by directives "
          "in braces; \\(lq#\\(rq starts a comment that runs to the end of the line. An argument "
          "with spaces or any of \\(lq; { } #\\(rq is quoted with \\(dq or \\(aq.\n"
          ".PP\n"
          "Sizes are bytes or take a suffix: 64k, 16m, 2g (1k = 1024 bytes). Times take ms, s, m, "
          "h or d; a bare number is seconds.\n"
          ".PP\n"
          "\\fBblockedge \\-t\\fP checks a file without binding sockets; "
          "\\fBblockedge \\-T\\fP prints this list as a table.\n"
          ".SH DIRECTIVES\n"
          "Each directive with its arguments, the context it may appear in (main is the top "
          "level; the others are the blocks of the same name), its default and what it "
          "trades.\n",
          out);
    for (i = 0; i < be_directives_count; i++) {
        man_directive(out, &be_directives[i]);
    }
    fputs(".SH FILES\n.TP\n/etc/blockedge/blockedge.conf\nthe default configuration file.\n"
          ".SH SEE ALSO\n\\fBblockedge\\fP(8)\n",
          out);
}

void
be_directives_man8(FILE *out, const be_cli_option_t *opts, size_t n)
{
    size_t i;

    man_header(out, "blockedge", 8, "content-addressed block cache and CDN edge proxy");
    fputs(".SH SYNOPSIS\n.B blockedge\n", out);
    for (i = 0; i < n; i++) {
        if (opts[i].arg != NULL) {
            fprintf(out, ".RB [ \\-%c\n.IR %s ]\n", opts[i].opt, opts[i].arg);
        } else {
            fprintf(out, ".RB [ \\-%c ]\n", opts[i].opt);
        }
    }
    fputs(".SH DESCRIPTION\n"
          "\\fBblockedge\\fP serves blocks named by the SHA\\-256 of their content "
          "(GET /blocks/\\fIhex\\fP) over HTTP/1.1 and HTTP/2, from a memory tier, a disk tier "
          "and, on a miss, an origin (HTTP, S3 or a directory), checking every block's digest. "
          "Its configuration is described in \\fBblockedge.conf\\fP(5).\n"
          ".SH OPTIONS\n",
          out);
    for (i = 0; i < n; i++) {
        fprintf(out, ".TP\n.B \\-%c", opts[i].opt);
        if (opts[i].arg != NULL) {
            fprintf(out, " \\fI%s\\fP", opts[i].arg);
        }
        fputc('\n', out);
        roff_text(out, opts[i].help);
        fputs(".\n", out);
    }
    fputs(".SH SIGNALS\n"
          ".TP\n.B TERM, INT, QUIT\ndrain: /healthz says 503 for drain_delay, the listeners "
          "close, requests in flight may finish for shutdown_timeout, then exit 0.\n"
          ".TP\n.B HUP\nreload the configuration; a configuration that fails is not taken.\n"
          ".TP\n.B USR1\nreopen the logs (for logrotate).\n"
          ".TP\n.B USR2\nstart a new binary on the same listening sockets.\n"
          ".SH FILES\n"
          ".TP\n/etc/blockedge/blockedge.conf\nthe configuration.\n"
          ".TP\n/var/cache/blockedge\nthe disk tier, when disk_path names it.\n"
          ".TP\n/var/log/blockedge\nlogs, when error_log or access_log name files there.\n"
          ".SH SEE ALSO\n\\fBblockedge.conf\\fP(5)\n",
          out);
}
