/*
 * conf.c - the configuration language: lexer (words, quotes with backslash escapes, # comments,
 * ; { }), block parser, include with glob(3), generic setters (number, size, time, string,
 * keyword) and file:line errors, run over whatever directive table it is given.
 *
 * Knows no directive, context or be_config_t field by name; whole-file checks are config.c's.
 * Directive errors name the line where the directive starts; lexical errors (unexpected token,
 * unterminated quote, end of file) the line of the offending token, end of file the file's
 * last line. Nothing is logged and nothing but the configuration and its includes is opened.
 * Not thread-safe.
 */
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blockedge/conf.h"
#include "blockedge/confvalue.h"

#define MAX_ARGS          8          /* directive name plus up to 7 arguments are kept */
#define MAX_TOKEN         4096       /* bytes in one word or quoted string, NUL included */
#define MAX_INCLUDE_DEPTH 16         /* nested includes */
#define MAX_FILE_SIZE     (16 << 20) /* bytes in one configuration file */

enum { T_WORD, T_SEMI, T_LBRACE, T_RBRACE, T_EOF, T_ERROR };

typedef struct lexer_s {
    const char *p, *end;
    unsigned line;
    int ends_with_newline;
    char *buf; /* MAX_TOKEN bytes: the word being read */
} lexer_t;

static int parse_file(be_conf_t *cf, const char *path);

int
be_conf_error(be_conf_t *cf, const char *fmt, ...)
{
    va_list ap;
    int n;

    if (cf->errlen == 0) {
        return BE_ERROR;
    }
    va_start(ap, fmt);
    n = vsnprintf(cf->err, cf->errlen, fmt, ap);
    va_end(ap);
    for (char *c = cf->err; *c != '\0'; c++) {
        if (*c == '\n' || *c == '\r') {
            *c = ' '; /* a quoted value may hold line breaks: the message stays one line */
        }
    }
    if (n < 0 || (size_t)n >= cf->errlen) {
        return BE_ERROR;
    }
    if (cf->note != NULL) {
        snprintf(cf->err + n, cf->errlen - n, " (%s) in %s", cf->note, cf->file);
    } else if (cf->file != NULL && cf->line > 0) {
        snprintf(cf->err + n, cf->errlen - n, " in %s:%u", cf->file, cf->line);
    } else if (cf->file != NULL) {
        snprintf(cf->err + n, cf->errlen - n, " in %s", cf->file);
    }
    return BE_ERROR;
}

/* ---- bounds ------------------------------------------------------------------------------ */

/* "16m", "5s": a bound in the unit of the row's setter, for range messages. */
static void
format_bound(char *buf, size_t len, be_directive_set_pt set, uint64_t v)
{
    if (set == be_conf_set_size) {
        be_confvalue_format_size(buf, len, v);
    } else if (set == be_conf_set_msec) {
        be_confvalue_format_time(buf, len, v);
    } else {
        snprintf(buf, len, "%llu", (unsigned long long)v);
    }
}

/* Checks v against the row's bounds; the error shows the bounds in the row's own unit. */
static int
check_range(be_conf_t *cf, const be_directive_t *d, const char *arg, uint64_t v)
{
    char lo[32], hi[32];

    if (v >= (uint64_t)d->lo && (d->hi == 0 || v <= (uint64_t)d->hi)) {
        return BE_OK;
    }
    format_bound(lo, sizeof(lo), d->set, (uint64_t)d->lo);
    if (d->hi == 0) {
        return be_conf_error(cf, "\"%s\" directive value \"%s\" is out of range (at least %s)",
                             d->name, arg, lo);
    }
    format_bound(hi, sizeof(hi), d->set, (uint64_t)d->hi);
    return be_conf_error(cf, "\"%s\" directive value \"%s\" is out of range (%s..%s)", d->name, arg,
                         lo, hi);
}

static int
invalid_value(be_conf_t *cf, const be_directive_t *d, const char *arg)
{
    return be_conf_error(cf, "\"%s\" directive invalid value \"%s\"", d->name, arg);
}

/* ---- generic setters --------------------------------------------------------------------- */

int
be_conf_set_num(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc,
                char *const *argv)
{
    uint64_t v;

    BE_UNUSED(argc);
    if (be_confvalue_parse_number(argv[0], &v) != BE_OK) {
        return invalid_value(cf, d, argv[0]);
    }
    if (check_range(cf, d, argv[0], v) != BE_OK) {
        return BE_ERROR;
    }
    *(int *)((char *)cfg + d->offset) = (int)v;
    return BE_OK;
}

int
be_conf_set_size(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc,
                 char *const *argv)
{
    uint64_t v;

    BE_UNUSED(argc);
    if (be_confvalue_parse_size(argv[0], &v) != BE_OK) {
        return invalid_value(cf, d, argv[0]);
    }
    if (check_range(cf, d, argv[0], v) != BE_OK) {
        return BE_ERROR;
    }
    *(uint64_t *)((char *)cfg + d->offset) = v;
    return BE_OK;
}

int
be_conf_set_msec(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc,
                 char *const *argv)
{
    be_msec_t v;

    BE_UNUSED(argc);
    if (be_confvalue_parse_time(argv[0], &v) != BE_OK) {
        return invalid_value(cf, d, argv[0]);
    }
    if (check_range(cf, d, argv[0], (uint64_t)v) != BE_OK) {
        return BE_ERROR;
    }
    *(be_msec_t *)((char *)cfg + d->offset) = v;
    return BE_OK;
}

int
be_conf_set_str(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc,
                char *const *argv)
{
    size_t len = strlen(argv[0]);

    BE_UNUSED(argc);
    if (len == 0) {
        return invalid_value(cf, d, argv[0]);
    }
    if (len >= d->size) {
        return be_conf_error(cf, "\"%s\" directive value is too long (max %zu bytes)", d->name,
                             d->size - 1);
    }
    memcpy((char *)cfg + d->offset, argv[0], len + 1);
    return BE_OK;
}

int
be_conf_set_enum(be_conf_t *cf, const be_directive_t *d, be_config_t *cfg, int argc,
                 char *const *argv)
{
    const be_conf_enum_t *e;

    BE_UNUSED(argc);
    for (e = d->aux; e->name != NULL; e++) {
        if (strcmp(e->name, argv[0]) == 0) {
            *(int *)((char *)cfg + d->offset) = e->value;
            return BE_OK;
        }
    }
    return invalid_value(cf, d, argv[0]);
}

/* ---- lexer ------------------------------------------------------------------------------- */

static int
lex_escape(char c)
{
    switch (c) {
    case 'n':
        return '\n';
    case 't':
        return '\t';
    case 'r':
        return '\r';
    case '"':
    case '\'':
    case '\\':
        return c;
    default:
        return -1; /* kept as written, backslash included */
    }
}

static int
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/*
 * Reads the next token. A word or quoted string is returned in *word (malloc'd, the caller
 * frees it). cf->line is set to the token's line. Inside and outside quotes, \" \' \\ \n \t
 * \r are escapes and any other backslash pair is kept as written; # starts a comment only
 * where a token could start.
 */
static int
lex(be_conf_t *cf, lexer_t *lx, char **word)
{
    size_t n = 0;
    char quote = 0, c;

    for (;;) {
        while (lx->p < lx->end && is_space(*lx->p)) {
            if (*lx->p++ == '\n') {
                lx->line++;
            }
        }
        if (lx->p < lx->end && *lx->p == '#') {
            while (lx->p < lx->end && *lx->p != '\n') {
                lx->p++;
            }
            continue;
        }
        break;
    }
    if (lx->p == lx->end) {
        /* the file's last line, not the empty one after its final newline */
        cf->line = lx->line - (lx->ends_with_newline && lx->line > 1 ? 1 : 0);
        return T_EOF;
    }
    cf->line = lx->line;
    switch (*lx->p) {
    case ';':
        lx->p++;
        return T_SEMI;
    case '{':
        lx->p++;
        return T_LBRACE;
    case '}':
        lx->p++;
        return T_RBRACE;
    case '"':
    case '\'':
        quote = *lx->p++;
        break;
    }

    for (;;) {
        int e;

        if (lx->p == lx->end) {
            if (quote) {
                be_conf_error(cf, "unterminated quoted string");
                return T_ERROR;
            }
            break;
        }
        c = *lx->p;
        if (quote && c == quote) {
            lx->p++;
            if (lx->p < lx->end && !is_space(*lx->p) && *lx->p != ';' && *lx->p != '{' &&
                *lx->p != '}') {
                cf->line = lx->line;
                be_conf_error(cf, "unexpected \"%c\" after a quoted string", *lx->p);
                return T_ERROR;
            }
            break;
        }
        if (!quote && (is_space(c) || c == ';' || c == '{' || c == '}')) {
            break;
        }
        if (c == '\0') {
            cf->line = lx->line;
            be_conf_error(cf, "unexpected NUL byte");
            return T_ERROR;
        }
        if (n + 2 >= MAX_TOKEN) {
            be_conf_error(cf, "parameter too long (max %d bytes)", MAX_TOKEN - 1);
            return T_ERROR;
        }
        if (c == '\n') {
            lx->line++;
        }
        if (c == '\\' && lx->p + 1 < lx->end && lx->p[1] != '\0') {
            /* a backslash pair never ends a word: "\;" is a literal backslash and ";" */
            if ((e = lex_escape(lx->p[1])) >= 0) {
                lx->buf[n++] = (char)e;
            } else {
                lx->buf[n++] = '\\';
                lx->buf[n++] = lx->p[1];
                if (lx->p[1] == '\n') {
                    lx->line++;
                }
            }
            lx->p += 2;
            continue;
        }
        lx->buf[n++] = c;
        lx->p++;
    }

    *word = malloc(n + 1);
    if (*word == NULL) {
        be_conf_error(cf, "out of memory");
        return T_ERROR;
    }
    memcpy(*word, lx->buf, n);
    (*word)[n] = '\0';
    return T_WORD;
}

/* ---- parser ------------------------------------------------------------------------------ */

const be_directive_t *
be_conf_find(const be_conf_t *cf, const char *name, unsigned ctx)
{
    size_t i;

    for (i = 0; i < cf->ntable; i++) {
        if (strcmp(cf->table[i].name, name) == 0 && (cf->table[i].ctx & ctx)) {
            return &cf->table[i];
        }
    }
    return NULL;
}

static int
include(be_conf_t *cf, const char *pattern)
{
    char path[4096];
    const char *slash = strrchr(cf->file, '/');
    glob_t g;
    size_t i;
    int n, rc;

    if (pattern[0] != '/' && slash != NULL) {
        n = snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - cf->file), cf->file, pattern);
    } else {
        n = snprintf(path, sizeof(path), "%s", pattern);
    }
    if (n < 0 || (size_t)n >= sizeof(path)) {
        return be_conf_error(cf, "include path too long");
    }
    if (strpbrk(pattern, "*?[") == NULL) {
        return parse_file(cf, path);
    }

    rc = glob(path, 0, NULL, &g);
    if (rc == GLOB_NOMATCH) {
        return BE_OK;
    }
    if (rc != 0) {
        return be_conf_error(cf, "glob() \"%s\" failed (%s)", path,
                             rc == GLOB_NOSPACE ? "out of memory" : "read error");
    }
    rc = BE_OK;
    for (i = 0; i < g.gl_pathc && rc == BE_OK; i++) {
        rc = parse_file(cf, g.gl_pathv[i]);
    }
    globfree(&g);
    return rc;
}

/* One statement: argv[0] is the name; argc counts every word, kept or not. */
static int handle(be_conf_t *cf, lexer_t *lx, char **argv, int argc, int is_block);

/* Parses statements until the end of the file, or until the "}" closing the block. */
static int
parse_stream(be_conf_t *cf, lexer_t *lx, int in_block)
{
    char *argv[MAX_ARGS];
    int argc, kept, t, rc, i;
    unsigned line = 0;

    for (;;) {
        char *w = NULL;

        argc = 0;
        kept = 0;
        while ((t = lex(cf, lx, &w)) == T_WORD) {
            if (argc++ == 0) {
                line = cf->line;
            }
            if (kept < MAX_ARGS) {
                argv[kept++] = w;
            } else {
                free(w);
            }
        }

        if (t == T_ERROR) {
            rc = BE_ERROR;
        } else if (argc == 0) {
            switch (t) {
            case T_EOF:
                rc = in_block ? be_conf_error(cf, "unexpected end of file, expecting \"}\"")
                              : BE_DECLINED;
                break;
            case T_RBRACE:
                rc = in_block ? BE_DECLINED : be_conf_error(cf, "unexpected \"}\"");
                break;
            case T_SEMI:
                rc = be_conf_error(cf, "unexpected \";\"");
                break;
            default:
                rc = be_conf_error(cf, "unexpected \"{\"");
                break;
            }
        } else if (t == T_EOF) {
            rc = be_conf_error(cf, "unexpected end of file, expecting \";\" or \"}\"");
        } else if (t == T_RBRACE) {
            rc = be_conf_error(cf, "unexpected \"}\"");
        } else {
            cf->line = line;
            rc = handle(cf, lx, argv, argc, t == T_LBRACE);
        }

        for (i = 0; i < kept; i++) {
            free(argv[i]);
        }
        if (rc == BE_DECLINED) {
            return BE_OK; /* end of this file or block */
        }
        if (rc != BE_OK) {
            return rc;
        }
    }
}

static int
handle(be_conf_t *cf, lexer_t *lx, char **argv, int argc, int is_block)
{
    const be_directive_t *d = be_conf_find(cf, argv[0], cf->ctx);
    const char *name = argv[0];
    size_t idx;
    int nargs = argc - 1;

    if (d == NULL) {
        if (be_conf_find(cf, name, ~0u) == NULL) {
            return be_conf_error(cf, "unknown directive \"%s\"", name);
        }
        return be_conf_error(cf, "\"%s\" directive is not allowed here", name);
    }
    if (is_block && !(d->flags & BE_DIR_BLOCK)) {
        return be_conf_error(cf, "directive \"%s\" is not terminated by \";\"", name);
    }
    if (!is_block && (d->flags & BE_DIR_BLOCK)) {
        return be_conf_error(cf, "directive \"%s\" has no opening \"{\"", name);
    }
    if (nargs < d->nmin || nargs > d->nmax) {
        return be_conf_error(cf, "invalid number of arguments in \"%s\" directive", name);
    }

    idx = (size_t)(d - cf->table);
    if (cf->seen[idx] > 0 && !(d->flags & BE_DIR_MULTI)) {
        return be_conf_error(cf, "\"%s\" directive is duplicate", name);
    }
    cf->seen[idx]++;
    cf->seen_file[idx] = cf->file;
    cf->seen_line[idx] = cf->line;

    if (d->flags & BE_DIR_BLOCK) {
        unsigned saved = cf->ctx;
        int rc;

        cf->ctx = d->block;
        rc = parse_stream(cf, lx, 1);
        cf->ctx = saved;
        return rc;
    }
    if (d->flags & BE_DIR_INCLUDE) {
        return include(cf, argv[1]);
    }
    return d->set(cf, d, cf->cfg, nargs, argv + 1);
}

/* Reads a whole file into a malloc'd buffer. */
static int
read_file(be_conf_t *cf, const char *path, char **out, size_t *outlen)
{
    size_t len = 0, cap = 8192;
    char *buf, *nbuf;
    ssize_t n;
    int fd, e;

    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        e = errno;
        return be_conf_error(cf, "open() \"%s\" failed (%d: %s)", path, e, strerror(e));
    }
    buf = malloc(cap);
    for (;;) {
        if (buf == NULL) {
            close(fd);
            return be_conf_error(cf, "out of memory reading \"%s\"", path);
        }
        if (len == cap) {
            if (len > MAX_FILE_SIZE) {
                free(buf);
                close(fd);
                return be_conf_error(cf, "\"%s\" is too large (more than %d bytes)", path,
                                     MAX_FILE_SIZE);
            }
            cap = cap * 2 > MAX_FILE_SIZE ? MAX_FILE_SIZE + 1 : cap * 2;
            nbuf = realloc(buf, cap);
            if (nbuf == NULL) {
                free(buf);
            }
            buf = nbuf;
            continue;
        }
        n = read(fd, buf + len, cap - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            e = errno;
            free(buf);
            close(fd);
            return be_conf_error(cf, "read() \"%s\" failed (%d: %s)", path, e, strerror(e));
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
    }
    close(fd);
    *out = buf;
    *outlen = len;
    return BE_OK;
}

static int
parse_file(be_conf_t *cf, const char *path)
{
    const char *saved_file = cf->file;
    unsigned saved_line = cf->line;
    char *buf = NULL, *name, **files;
    size_t len = 0;
    lexer_t lx;
    int rc;

    if (cf->depth > MAX_INCLUDE_DEPTH) {
        return be_conf_error(cf, "include of \"%s\" nested too deeply (limit %d)", path,
                             MAX_INCLUDE_DEPTH);
    }
    if (read_file(cf, path, &buf, &len) != BE_OK) {
        return BE_ERROR;
    }
    name = strdup(path);
    files = realloc(cf->files, (cf->nfiles + 1) * sizeof(*files));
    lx.buf = malloc(MAX_TOKEN);
    if (name == NULL || files == NULL || lx.buf == NULL) {
        free(name);
        free(lx.buf);
        free(buf);
        if (files != NULL) {
            cf->files = files;
        }
        return be_conf_error(cf, "out of memory");
    }
    cf->files = files;
    cf->files[cf->nfiles++] = name;

    lx.p = buf;
    lx.end = buf + len;
    lx.line = 1;
    lx.ends_with_newline = len > 0 && buf[len - 1] == '\n';

    cf->file = name;
    cf->depth++;
    rc = parse_stream(cf, &lx, 0);
    cf->depth--;
    cf->file = saved_file;
    cf->line = saved_line;

    free(lx.buf);
    free(buf);
    return rc;
}

/* Runs a row's setter on its default text (words separated by single spaces). */
int
be_conf_apply_default(be_conf_t *cf, const be_directive_t *d)
{
    char text[256], *argv[MAX_ARGS], *p;
    int argc = 0;

    snprintf(text, sizeof(text), "%s", d->dflt);
    for (p = strtok(text, " "); p != NULL && argc < MAX_ARGS; p = strtok(NULL, " ")) {
        argv[argc++] = p;
    }
    return d->set(cf, d, cf->cfg, argc, argv);
}

/* ---- one parse --------------------------------------------------------------------------- */

void
be_conf_init(be_conf_t *cf, const be_directive_t *table, size_t ntable, be_config_t *cfg, char *err,
             size_t errlen)
{
    memset(cf, 0, sizeof(*cf));
    cf->cfg = cfg;
    cf->table = table;
    cf->ntable = ntable;
    cf->err = err;
    cf->errlen = errlen;
    if (errlen > 0) {
        err[0] = '\0';
    }
}

int
be_conf_parse(be_conf_t *cf, const char *path, unsigned ctx)
{
    cf->seen = calloc(cf->ntable, sizeof(*cf->seen));
    cf->seen_file = calloc(cf->ntable, sizeof(*cf->seen_file));
    cf->seen_line = calloc(cf->ntable, sizeof(*cf->seen_line));
    if (cf->seen == NULL || cf->seen_file == NULL || cf->seen_line == NULL) {
        return be_conf_error(cf, "out of memory");
    }
    cf->ctx = ctx;
    return parse_file(cf, path);
}

void
be_conf_dispose(be_conf_t *cf)
{
    size_t i;

    for (i = 0; i < cf->nfiles; i++) {
        free(cf->files[i]);
    }
    free(cf->files);
    free(cf->seen);
    free(cf->seen_file);
    free(cf->seen_line);
    cf->files = NULL;
    cf->nfiles = 0;
    cf->seen = NULL;
    cf->seen_file = NULL;
    cf->seen_line = NULL;
    cf->file = NULL;
}
