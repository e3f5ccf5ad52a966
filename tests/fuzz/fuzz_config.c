/*
 * fuzz_config.c - libFuzzer target for the configuration lexer, parser and loader.
 *
 * The input is up to four files separated by a line "%%": main.conf, then inc0, inc1, inc2,
 * written into a private temporary directory and loaded with be_config_load() from there, so
 * `include inc*;` (one in all: any later "include" is spelt "includ_") and relative
 * secret_file/admin_token_file paths read only those files. Every '/' is rewritten to '_'
 * except in "://", and a '.' before "*?[." too, so no word or glob can name a file outside the
 * directory (no absolute path, no "..", no ".*"); the working directory is the temporary one
 * during the load. Any input must end in BE_OK or in BE_ERROR with a one-line message; loading
 * the same files twice must give byte-identical configs (the config holds no pointers);
 * nothing may leak.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blockedge/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_INPUT 8192
#define NFILES    4

static char dir[64];
static char cwd[4096];

static void
remove_dir(void)
{
    static const char *const names[NFILES] = {"main.conf", "inc0", "inc1", "inc2"};
    char path[128];
    for (int i = 0; i < NFILES; i++) {
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void
setup(void)
{
    strcpy(dir, "/tmp/fuzz_config.XXXXXX");
    if (mkdtemp(dir) == NULL || getcwd(cwd, sizeof(cwd)) == NULL)
        abort();
    atexit(remove_dir);
}

static void
write_file(const char *name, const char *p, size_t n)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(p, 1, n, f) != n || fclose(f) != 0)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const names[NFILES] = {"main.conf", "inc0", "inc1", "inc2"};
    static be_config_t a, b;
    char text[MAX_INPUT], erra[512], errb[512], path[128];

    if (dir[0] == '\0')
        setup();
    if (size > MAX_INPUT)
        return 0;
    memcpy(text, data, size);
    for (size_t i = 0; i < size; i++) {
        /* no absolute path and no "..": a '/' only in "://", a '.' never before "*?[." */
        int in_scheme =
            (i >= 1 && text[i - 1] == ':') || (i >= 2 && text[i - 1] == '/' && text[i - 2] == ':');
        if (text[i] == '/' && !in_scheme)
            text[i] = '_';
        if (text[i] == '.' && i + 1 < size && strchr("*?[.", text[i + 1]) != NULL &&
            text[i + 1] != '\0')
            text[i] = '_';
    }
    /* One include statement in all: with two, files that include each other by glob are
     * read (statements)^depth times, which would only slow the fuzzer down. */
    for (size_t j = 0, seen = 0; j + 7 <= size; j++)
        if (memcmp(text + j, "include", 7) == 0 && seen++ > 0)
            text[j + 6] = '_';
    /* Split on lines "%%" into the files; the ones not given are empty. */
    size_t start = 0, nf = 0;
    for (size_t i = 0; i <= size && nf < NFILES; i++) {
        if (i == size || (i + 3 <= size && memcmp(text + i, "%%\n", 3) == 0 &&
                          (i == 0 || text[i - 1] == '\n'))) {
            write_file(names[nf++], text + start, i - start);
            start = i + 3;
            i += 2;
        }
    }
    for (; nf < NFILES; nf++)
        write_file(names[nf], "", 0);

    snprintf(path, sizeof(path), "%s/main.conf", dir);
    if (chdir(dir) != 0)
        abort();
    erra[0] = errb[0] = '\0';
    int ra = be_config_load(&a, path, erra, sizeof(erra));
    int rb = be_config_load(&b, path, errb, sizeof(errb));
    if (chdir(cwd) != 0)
        abort();

    if (ra != rb || strcmp(erra, errb) != 0)
        abort(); /* the same files must load the same way */
    if (ra == BE_OK) {
        if (memcmp(&a, &b, sizeof(a)) != 0 || a.magic != BE_CONFIG_MAGIC)
            abort();
    } else if (ra == BE_ERROR) {
        if (erra[0] == '\0' || strchr(erra, '\n') != NULL || strlen(erra) >= sizeof(erra))
            abort(); /* one line, without a trailing newline */
    } else {
        abort();
    }
    return 0;
}
