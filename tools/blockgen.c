/*
 * blockgen.c - writes sample blocks for tests, benchmarks and the demo.
 *
 * Each block is pseudo-random bytes, stored under the lower-case hex SHA-256 of those bytes,
 * exactly as an origin directory (file:///dir/ or nginx serving dir at /blocks/) holds them.
 * The output depends only on the seed and the sizes: sizes come from one stream of the seed,
 * block i's bytes from a stream of (seed, i), so the same command always writes the same keys
 * in the same order, and -n 10 writes the first ten blocks of -n 1000. A block is written under a
 * temporary name and renamed, so a reader never sees a partial block under its key. Keys are
 * appended, one per line, to the keys file. Knows nothing of the server beyond blockkey.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "blockedge/blockkey.h"

#define MAX_SIZE   (1ull << 30) /* one block is held in memory; 1 GiB is plenty for samples */

#define EXIT_USAGE 2

static const char usage_text[] =
    "usage: blockgen -d DIR -n N [-s SIZE | -s MIN-MAX] [--seed S] [-k KEYSFILE]\n"
    "\n"
    "Writes N blocks of pseudo-random bytes into DIR (created if missing), each named by the\n"
    "lower-case hex SHA-256 of its bytes, and appends their keys, one per line, to KEYSFILE.\n"
    "The same seed, count and sizes always give the same blocks.\n"
    "\n"
    "  -d, --dir DIR       output directory\n"
    "  -n, --count N       number of blocks (at least 1)\n"
    "  -s, --size SIZE     block size, or MIN-MAX for sizes uniform in [MIN, MAX];\n"
    "                      suffixes k and m (1k = 1024); default 4k; at most 1g\n"
    "      --seed S        seed, decimal or 0x hex; default 1\n"
    "  -k, --keys KEYSFILE keys file to append to; default DIR/keys.txt\n"
    "  -q, --quiet         no summary line\n"
    "  -h, --help          this help\n";

/*
 * splitmix64 (Steele, Lea, Flood, "Fast splittable pseudorandom number generators", 2014)
 * turns (seed, block index, stream) into well-mixed generator states; xoshiro256** (Blackman
 * and Vigna, 2018) then produces the bytes. Neither is cryptographic; they need only be fast,
 * reproducible and free of visible patterns, so that compressing transports gain nothing.
 */
typedef struct rng_s {
    uint64_t s[4];
} rng_t;

static uint64_t
splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t
rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t
rng_next(rng_t *r)
{
    uint64_t result = rotl(r->s[1] * 5, 7) * 9;
    uint64_t t = r->s[1] << 17;
    r->s[2] ^= r->s[0];
    r->s[3] ^= r->s[1];
    r->s[1] ^= r->s[2];
    r->s[0] ^= r->s[3];
    r->s[2] ^= t;
    r->s[3] = rotl(r->s[3], 45);
    return result;
}

/* Streams: 0 gives sizes, 1 gives block bytes. */
static void
rng_seed(rng_t *r, uint64_t seed, uint64_t index, uint64_t stream)
{
    uint64_t x = seed;
    x = splitmix64(&x) ^ index;
    x = splitmix64(&x) ^ stream;
    for (int i = 0; i < 4; i++)
        r->s[i] = splitmix64(&x);
}

/* Uniform in [lo, hi] without modulo bias (rejects the short top slice). */
static uint64_t
rng_range(rng_t *r, uint64_t lo, uint64_t hi)
{
    uint64_t span = hi - lo + 1;
    if (span == 0)
        return rng_next(r);
    uint64_t limit = UINT64_MAX - UINT64_MAX % span;
    uint64_t v;
    do {
        v = rng_next(r);
    } while (v >= limit);
    return lo + v % span;
}

static void
rng_fill(rng_t *r, uint8_t *buf, size_t len)
{
    while (len >= 8) {
        uint64_t v = rng_next(r);
        memcpy(buf, &v, 8);
        buf += 8;
        len -= 8;
    }
    if (len > 0) {
        uint64_t v = rng_next(r);
        memcpy(buf, &v, len);
    }
}

static int
usage_error(const char *fmt, const char *arg)
{
    fprintf(stderr, "blockgen: ");
    fprintf(stderr, fmt, arg);
    fprintf(stderr, "\nTry 'blockgen -h' for help.\n");
    return EXIT_USAGE;
}

/* "4096", "4k", "1m", "1g" (either case). Returns 0 on success. */
static int
parse_size(const char *s, uint64_t *out)
{
    char *end;
    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0)
        return -1;
    uint64_t mult = 1;
    switch (*end) {
    case '\0':
        break;
    case 'k':
    case 'K':
        mult = 1ull << 10;
        end++;
        break;
    case 'm':
    case 'M':
        mult = 1ull << 20;
        end++;
        break;
    case 'g':
    case 'G':
        mult = 1ull << 30;
        end++;
        break;
    default:
        return -1;
    }
    if (*end != '\0' || v > UINT64_MAX / mult)
        return -1;
    *out = v * mult;
    return 0;
}

/* "SIZE" or "MIN-MAX". Returns 0 on success. */
static int
parse_size_range(const char *arg, uint64_t *min, uint64_t *max)
{
    const char *dash = strchr(arg, '-');
    if (dash == NULL) {
        if (parse_size(arg, min) != 0)
            return -1;
        *max = *min;
        return 0;
    }
    char lo[64];
    size_t n = (size_t)(dash - arg);
    if (n == 0 || n >= sizeof(lo))
        return -1;
    memcpy(lo, arg, n);
    lo[n] = '\0';
    if (parse_size(lo, min) != 0 || parse_size(dash + 1, max) != 0)
        return -1;
    return 0;
}

/* mkdir -p: creates every missing component of path. Returns 0 or -1 with errno set. */
static int
make_dirs(const char *path)
{
    char buf[4096];
    size_t len = strlen(path);
    if (len == 0 || len >= sizeof(buf)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(buf, path, len + 1);
    for (char *p = buf + 1; *p != '\0'; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST)
            return -1;
        *p = '/';
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST)
        return -1;
    struct stat st;
    if (stat(buf, &st) != 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

static void
io_error(const char *call, const char *path)
{
    fprintf(stderr, "blockgen: %s() \"%s\" failed (%d: %s)\n", call, path, errno, strerror(errno));
}

/* Writes buf to tmp, then renames it to final. Returns 0, or -1 after reporting. */
static int
write_block(const char *tmp, const char *final, const uint8_t *buf, size_t len)
{
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        io_error("open", tmp);
        return -1;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t n = write(fd, buf + off, len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            io_error("write", tmp);
            close(fd);
            unlink(tmp);
            return -1;
        }
        off += (size_t)n;
    }
    if (close(fd) != 0) {
        io_error("close", tmp);
        unlink(tmp);
        return -1;
    }
    if (rename(tmp, final) != 0) {
        io_error("rename", final);
        unlink(tmp);
        return -1;
    }
    return 0;
}

int
main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"dir", required_argument, NULL, 'd'},  {"count", required_argument, NULL, 'n'},
        {"size", required_argument, NULL, 's'}, {"seed", required_argument, NULL, 'S'},
        {"keys", required_argument, NULL, 'k'}, {"quiet", no_argument, NULL, 'q'},
        {"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
    };
    const char *dir = NULL;
    const char *keys_path = NULL;
    uint64_t count = 0;
    uint64_t min_size = 4096, max_size = 4096;
    uint64_t seed = 1;
    int quiet = 0;
    char *end;
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, ":d:n:s:k:qh", longopts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'n':
            errno = 0;
            count = strtoull(optarg, &end, 10);
            if (errno != 0 || *optarg < '0' || *optarg > '9' || *end != '\0' || count == 0)
                return usage_error("-n wants a positive count, not \"%s\"", optarg);
            break;
        case 's':
            if (parse_size_range(optarg, &min_size, &max_size) != 0)
                return usage_error("-s wants SIZE or MIN-MAX (e.g. 4k or 1k-64k), not \"%s\"",
                                   optarg);
            if (min_size == 0 || min_size > max_size || max_size > MAX_SIZE)
                return usage_error("-s \"%s\": sizes must satisfy 1 <= MIN <= MAX <= 1g", optarg);
            break;
        case 'S':
            errno = 0;
            seed = strtoull(optarg, &end, 0);
            if (errno != 0 || *optarg == '-' || *optarg == '\0' || *end != '\0')
                return usage_error("--seed wants an unsigned number, not \"%s\"", optarg);
            break;
        case 'k':
            keys_path = optarg;
            break;
        case 'q':
            quiet = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        case ':':
        default: {
            char opt[3] = {'-', (char)optopt, '\0'};
            const char *name = optopt != 0 ? opt : argv[optind - 1];
            if (c == ':')
                return usage_error("option \"%s\" needs an argument", name);
            return usage_error("unknown option \"%s\"", name);
        }
        }
    }
    if (optind < argc)
        return usage_error("unexpected argument \"%s\"", argv[optind]);
    if (dir == NULL || *dir == '\0')
        return usage_error("%s", "-d DIR is required");
    if (count == 0)
        return usage_error("%s", "-n N is required");

    if (make_dirs(dir) != 0) {
        io_error("mkdir", dir);
        return 1;
    }

    char default_keys[4096];
    if (keys_path == NULL) {
        if (snprintf(default_keys, sizeof(default_keys), "%s/keys.txt", dir) >=
            (int)sizeof(default_keys))
            return usage_error("directory name too long: \"%s\"", dir);
        keys_path = default_keys;
    }
    FILE *keys = fopen(keys_path, "ae");
    if (keys == NULL) {
        io_error("fopen", keys_path);
        return 1;
    }

    uint8_t *buf = malloc(max_size);
    if (buf == NULL) {
        fprintf(stderr, "blockgen: cannot allocate %llu bytes\n", (unsigned long long)max_size);
        fclose(keys);
        return 1;
    }

    char tmp[4096], final[4096], hex[BE_KEY_HEX_LEN + 1];
    if (snprintf(tmp, sizeof(tmp), "%s/.blockgen.%ld.tmp", dir, (long)getpid()) >=
        (int)sizeof(tmp)) {
        free(buf);
        fclose(keys);
        return usage_error("directory name too long: \"%s\"", dir);
    }

    int rc = 0;
    uint64_t total = 0;
    rng_t sizes;
    rng_seed(&sizes, seed, 0, 0);
    for (uint64_t i = 0; i < count; i++) {
        size_t len = (size_t)rng_range(&sizes, min_size, max_size);
        rng_t bytes;
        rng_seed(&bytes, seed, i, 1);
        rng_fill(&bytes, buf, len);

        be_key_t key;
        if (be_sha256(buf, len, &key) != BE_OK) {
            fprintf(stderr, "blockgen: SHA-256 failed (OpenSSL)\n");
            rc = 1;
            break;
        }
        be_key_to_hex(&key, hex);
        snprintf(final, sizeof(final), "%s/%s", dir, hex);
        if (write_block(tmp, final, buf, len) != 0) {
            rc = 1;
            break;
        }
        if (fprintf(keys, "%s\n", hex) < 0) {
            io_error("fprintf", keys_path);
            rc = 1;
            break;
        }
        total += len;
    }
    free(buf);
    if (fclose(keys) != 0 && rc == 0) {
        io_error("fclose", keys_path);
        rc = 1;
    }
    if (rc == 0 && !quiet)
        printf("blockgen: wrote %llu blocks, %llu bytes, into %s; keys appended to %s\n",
               (unsigned long long)count, (unsigned long long)total, dir, keys_path);
    return rc;
}
