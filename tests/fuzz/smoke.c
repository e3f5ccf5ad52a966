/*
 * smoke.c - runs a libFuzzer target without libFuzzer: every seed in the corpus directory
 * given as argv[1], then a bounded number of random mutations of them (fixed seed), so the
 * target gets a short sanitizer run under ctest with any compiler.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_SEEDS       256
#define SMOKE_MAX_INPUT 20000

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint64_t
next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void
mutate(uint8_t *buf, size_t *len)
{
    static const char *const tokens[] = {
        "\r\n", "\n",       " ", ":", "\r\n\r\n", "Content-Length: 1", "Transfer-Encoding: chunked",
        "\t",   "HTTP/1.1", "\0"};
    int edits = 1 + (int)(next() % 8);
    for (int e = 0; e < edits; e++) {
        size_t pos = *len ? next() % *len : 0;
        switch (next() % 4) {
        case 0: /* flip a byte */
            if (*len)
                buf[pos] = (uint8_t)next();
            break;
        case 1: /* cut */
            *len = pos;
            break;
        case 2: { /* insert a token */
            const char *t = tokens[next() % (sizeof(tokens) / sizeof(tokens[0]))];
            size_t tl = strlen(t) ? strlen(t) : 1;
            if (*len + tl < SMOKE_MAX_INPUT) {
                memmove(buf + pos + tl, buf + pos, *len - pos);
                memcpy(buf + pos, t, tl);
                *len += tl;
            }
            break;
        }
        default: /* repeat a slice */
            if (*len && *len * 2 < SMOKE_MAX_INPUT) {
                size_t n = next() % (*len - pos + 1);
                memmove(buf + pos + n, buf + pos, *len - pos);
                *len += n;
            }
            break;
        }
    }
}

int
main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s CORPUS_DIR ITERATIONS\n", argv[0]);
        return 2;
    }
    static uint8_t seeds[MAX_SEEDS][SMOKE_MAX_INPUT];
    static size_t lens[MAX_SEEDS];
    int nseeds = 0;
    DIR *d = opendir(argv[1]);
    if (d == NULL) {
        perror(argv[1]);
        return 2;
    }
    struct dirent *de;
    while ((de = readdir(d)) != NULL && nseeds < MAX_SEEDS) {
        if (de->d_name[0] == '.')
            continue;
        char path[4096];
        snprintf(path, sizeof(path), "%s/%s", argv[1], de->d_name);
        FILE *f = fopen(path, "rb");
        if (f == NULL)
            continue;
        lens[nseeds] = fread(seeds[nseeds], 1, SMOKE_MAX_INPUT / 2, f);
        fclose(f);
        LLVMFuzzerTestOneInput(seeds[nseeds], lens[nseeds]);
        nseeds++;
    }
    closedir(d);
    if (nseeds == 0) {
        fprintf(stderr, "%s: no seeds in %s\n", argv[0], argv[1]);
        return 1;
    }
    char *end = NULL;
    long iters = strtol(argv[2], &end, 10);
    if (end == argv[2] || *end != '\0' || iters <= 0) {
        fprintf(stderr, "%s: ITERATIONS must be a positive number\n", argv[0]);
        return 2;
    }
    static uint8_t buf[SMOKE_MAX_INPUT];
    for (long i = 0; i < iters; i++) {
        int s = (int)(next() % (uint64_t)nseeds);
        size_t len = lens[s];
        memcpy(buf, seeds[s], len);
        mutate(buf, &len);
        LLVMFuzzerTestOneInput(buf, len);
    }
    printf("%s: %d seeds, %ld mutated inputs, no crash\n", argv[0], nseeds, iters);
    return 0;
}
