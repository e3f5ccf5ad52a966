/*
 * segfill.c - writes N blocks straight into a disk tier directory, for benchmarks.
 *
 * Filling a million blocks through HTTP takes minutes; this appends them through the disk
 * store itself (the same code, format and footers the server writes), so a server started on
 * the directory afterwards finds a disk tier of N blocks. Block i is size bytes derived from
 * (seed, i), stored under its SHA-256. Every step-th key is written to the keys file, so a
 * benchmark can check a sample after a restart. Knows nothing of the server beyond
 * diskstore.h and blockkey.h.
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blockedge/config.h"
#include "blockedge/diskstore.h"

static const char usage_text[] =
    "usage: segfill -d DIR -n N [-s SIZE] [--disk-size SIZE] [--segment-size SIZE]\n"
    "               [--seed S] [-k KEYSFILE] [--step K]\n"
    "\n"
    "Appends N blocks of SIZE pseudo-random bytes (default 512) to the disk tier in DIR, as\n"
    "blockedge would with disk_path DIR, disk_size (default 4g) and disk_segment_size\n"
    "(default 256m); writes every K-th key (default 1000) to KEYSFILE (default DIR.keys).\n";

static uint64_t
mix(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double
now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"dir", required_argument, NULL, 'd'},
        {"count", required_argument, NULL, 'n'},
        {"size", required_argument, NULL, 's'},
        {"disk-size", required_argument, NULL, 'D'},
        {"segment-size", required_argument, NULL, 'S'},
        {"seed", required_argument, NULL, 'r'},
        {"keys", required_argument, NULL, 'k'},
        {"step", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    const char *dir = NULL, *keys = NULL;
    uint64_t n = 0, size = 512, disk_size = 4ull << 30, seg_size = 256ull << 20, seed = 1,
             step = 1000;
    int c;
    while ((c = getopt_long(argc, argv, "d:n:s:k:h", opts, NULL)) != -1) {
        switch (c) {
        case 'd':
            dir = optarg;
            break;
        case 'n':
            n = strtoull(optarg, NULL, 10);
            break;
        case 's':
            if (be_config_parse_size(optarg, &size) != BE_OK)
                n = 0;
            break;
        case 'D':
            if (be_config_parse_size(optarg, &disk_size) != BE_OK)
                n = 0;
            break;
        case 'S':
            if (be_config_parse_size(optarg, &seg_size) != BE_OK)
                n = 0;
            break;
        case 'r':
            seed = strtoull(optarg, NULL, 0);
            break;
        case 'k':
            keys = optarg;
            break;
        case 't':
            step = strtoull(optarg, NULL, 10);
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            fputs(usage_text, stderr);
            return 2;
        }
    }
    if (dir == NULL || n == 0 || size < 8 || size > (64u << 20) || step == 0) {
        fputs(usage_text, stderr);
        return 2;
    }
    char keys_path[1200];
    snprintf(keys_path, sizeof(keys_path), "%s.keys", dir);
    FILE *kf = fopen(keys != NULL ? keys : keys_path, "w");
    if (kf == NULL) {
        perror("segfill: keys file");
        return 1;
    }
    be_diskstore_conf_t conf = {.path = dir, .size = disk_size, .segment_size = seg_size};
    be_diskstore_t *s = be_diskstore_open(&conf);
    if (s == NULL || be_diskstore_wait_loaded(s, 600000) != BE_DISK_READY) {
        fprintf(stderr, "segfill: cannot open the disk tier in %s\n", dir);
        return 1;
    }
    uint8_t *buf = malloc(size);
    if (buf == NULL)
        return 1;
    double t0 = now_sec();
    uint64_t written = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t x = mix(seed ^ mix(i));
        for (uint64_t j = 0; j + 8 <= size; j += 8) {
            x = mix(x);
            memcpy(buf + j, &x, 8);
        }
        be_key_t k;
        be_sha256(buf, size, &k);
        if (be_diskstore_admit(s, &k, size) != BE_OK)
            continue;
        if (be_diskstore_append(s, &k, buf, size) == BE_OK)
            written++;
        if (i % step == 0) {
            char hex[BE_KEY_HEX_LEN + 1];
            fprintf(kf, "%s\n", be_key_to_hex(&k, hex));
        }
    }
    double t1 = now_sec();
    be_diskstore_stats_t st;
    be_diskstore_stats(s, &st);
    printf("segfill: %llu blocks of %llu bytes in %.1f s; %llu on disk in %llu segments, %llu "
           "bytes\n",
           (unsigned long long)written, (unsigned long long)size, t1 - t0,
           (unsigned long long)st.blocks, (unsigned long long)st.segments,
           (unsigned long long)st.bytes);
    free(buf);
    fclose(kf);
    be_diskstore_close(&s);
    return written == n ? 0 : 1;
}
