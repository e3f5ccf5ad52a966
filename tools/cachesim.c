/*
 * cachesim.c - replays a request trace through every eviction policy at a list of cache
 * sizes and prints hit ratio and byte hit ratio per policy and size (a table, CSV or JSON),
 * with the replay speed of each policy.
 *
 * The policies are the memory tier's own (policy.h, driven by policysim.c), so a figure here
 * is what `memory_policy` would give on one shard with the same bytes. Inputs: a text trace
 * of `key size` lines, blockedge's access log, the oracleGeneral binary format, or a built-in
 * generator (Zipf, with scans or a shifting hot set). The whole trace is loaded before any
 * replay; requests per second count the replay alone. --ref adds two offline references
 * (refsim.h: static, the best pinned set, and opt, Belady's farthest next request), ceilings for
 * the policies, printed apart from them (simout.h).
 *
 * --cluster N[,M] replays the trace through N edges and M shields instead (clustersim.h), each
 * node running one policy at one size, and prints origin requests per million client requests,
 * the hit ratio per tier and the load spread per tier (the busiest node's requests over the
 * mean). Placement is HAProxy 2.6's `balance uri path-only` with `hash-type consistent`, the
 * default hash function and servers with `id 1..N`, weight 1 (chring.h says how the ring is
 * matched: 16 points per server at full_hash(id x 4096 + j), the request at
 * full_hash(sdbm(path)) since `consistent` with no function named adds the avalanche modifier,
 * the nearer of the two neighbouring points); the path hashed is `/blocks/<key>`, a trace's key
 * token as written (a block's 64 hex digits), or for generated and oracleGeneral keys 64 hex
 * digits derived from the key's number. Edges send their misses to the shield ring (ids 1..M,
 * the same path), shields theirs to the origin. --fail/--join take a node out or in at a point
 * of the trace: its keys move to the nearest remaining point, as in HAProxy; a failed node
 * loses its cache.
 */
#include <ctype.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "blockedge/config.h"
#include "blockedge/confvalue.h"
#include "blockedge/policysim.h"
#include "clustersim.h"
#include "refsim.h"
#include "simout.h"

#define EXIT_USAGE 2
#define MAX_SIZES  32

static const char usage_text[] =
    "usage: cachesim INPUT [options]\n"
    "\n"
    "Replays a trace through each policy (lru, sieve, s3fifo, wtinylfu) at each cache size,\n"
    "and on request through two offline references (not policies: they read the whole trace\n"
    "first): static (the keys with the most requests per byte pinned, no cold misses) and opt\n"
    "(Belady: evict the object asked for again farthest ahead; the optimum for one size, a\n"
    "heuristic for mixed sizes).\n"
    "INPUT, one of:\n"
    "  --trace FILE      text lines `key size` (key: any token; size: bytes)\n"
    "  --log FILE        blockedge access log: key from /blocks/<hex>, size from the block\n"
    "                    size column (lines without one are skipped)\n"
    "  --oracle FILE     oracleGeneral binary trace (24-byte little-endian records)\n"
    "  --zipf S          generate Zipf(S) requests over --blocks N keys\n"
    "generator options:\n"
    "  --blocks N        distinct keys (default 100000)\n"
    "  --requests R      requests (default 20 x blocks)\n"
    "  --size SIZE       object size, or MIN-MAX: log-uniform per key (default 4k)\n"
    "  --scan K          half of the requests fall in scan phases: a sequential scan of K x\n"
    "                    the largest cache size in never-seen keys, one scan request per\n"
    "                    Zipf request; between phases as many Zipf requests (a quarter of all\n"
    "                    requests are scan keys: the output adds the hit ratio of the rest)\n"
    "  --shift T         every T requests the popularity ranking moves by N/10 keys\n"
    "  --seed S          generator seed (default 1)\n"
    "output options:\n"
    "  --cache LIST      cache sizes, comma-separated: bytes (k m g) or P% of the corpus:\n"
    "                    the generator's N keys, or a trace's distinct keys (default 10%)\n"
    "  --policy LIST     policies to run (default all), and references: static, opt\n"
    "  --ref             add both references (static, opt) to the policies run\n"
    "  --csv | --json    machine-readable output instead of the table\n"
    "cluster (one policy, one size per node):\n"
    "  --cluster N[,M]   N edges (HAProxy server ids 1..N) and M shields (default 0) on HAProxy\n"
    "                    2.6 consistent-hash rings (uri path-only, path /blocks/<key>); prints\n"
    "                    origin requests per million client requests, hit ratio per tier, load\n"
    "                    spread per tier (max/mean requests per node)\n"
    "  --cache SIZE      cache per edge (bytes or P% of the corpus; default 10%)\n"
    "  --shield-cache S  cache per shield (default: --cache)\n"
    "  --policy NAME     every node's policy (default: the memory tier's default, s3fifo)\n"
    "  --fail T:ID@W     node ID of tier T (edge or shield) fails before request W (a number,\n"
    "                    or P% of the trace): its keys move to the next owner, its cache is\n"
    "                    lost; repeatable\n"
    "  --join T:ID@W     node ID comes (back) up empty at W (an ID past N or M adds a node)\n"
    "  --owners FILE     write `key edge-id [shield-id]` per distinct key, under the initial\n"
    "                    rings (before any --fail or --join)\n"
    "  --no-avalanche    request hash sdbm alone, as `hash-type consistent sdbm`\n"
    "  -h, --help        this help\n";

typedef struct rng_s {
    uint64_t x;
} rng_t;

/* splitmix64 (Steele, Lea, Flood, 2014): fast and reproducible, all a generator needs. */
static uint64_t
rng_next(rng_t *r)
{
    uint64_t z = (r->x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double
rng_unit(rng_t *r)
{
    return (double)(rng_next(r) >> 11) * (1.0 / 9007199254740992.0);
}

/*
 * What the cluster replay needs beside the trace: per key id, its ring position (the HAProxy
 * hash of the path `/blocks/<name>`) and, for --owners, its name. A trace token is the name;
 * a generated or oracleGeneral key (a number) is named by 64 hex digits derived from it.
 */
typedef struct keys_s {
    uint32_t *ring;
    char **name; /* NULL unless names are kept */
    uint64_t n, cap;
    int keep_names, avalanche;
} keys_t;

static keys_t keys = {.avalanche = 1};

static void
synth_name(uint64_t key, char out[65])
{
    rng_t r = {key ^ 0x6b65797321ull};
    for (int w = 0; w < 4; w++)
        snprintf(out + 16 * w, 17, "%016" PRIx64, rng_next(&r));
}

/* Records key id n's ring position (and name) the first time the trace sees it. */
static int
keys_note(const be_trace_t *t, const char *tok, size_t len)
{
    if (t->nkeys == keys.n)
        return 0;
    if (keys.n == keys.cap) {
        uint64_t cap = keys.cap ? keys.cap * 2 : 4096;
        uint32_t *nr = realloc(keys.ring, cap * sizeof(*nr));
        if (nr == NULL)
            return -1;
        keys.ring = nr;
        if (keys.keep_names) {
            char **nn = realloc(keys.name, cap * sizeof(*nn));
            if (nn == NULL)
                return -1;
            keys.name = nn;
        }
        keys.cap = cap;
    }
    char path[1100];
    int pl = snprintf(path, sizeof(path), "/blocks/%.*s", (int)len, tok);
    keys.ring[keys.n] = chring_path_hash(path, (size_t)pl, keys.avalanche);
    if (keys.keep_names && (keys.name[keys.n] = strndup(tok, len)) == NULL)
        return -1;
    keys.n++;
    return 0;
}

/* be_trace_add, and the key's ring position: named by tok (len bytes), or by a name derived
 * from key when tok is NULL. */
static int
trace_add(be_trace_t *t, uint64_t key, const char *tok, size_t len, uint32_t size)
{
    char hex[65];
    if (be_trace_add(t, key, size) != BE_OK)
        return -1;
    if (tok == NULL) {
        synth_name(key, hex);
        tok = hex;
        len = 64;
    }
    return keys_note(t, tok, len);
}

/* The generator's scan requests: how many, their bytes, and where each is in the trace (a scan
 * key is asked for once). */
typedef struct scans_s {
    uint64_t *at;
    uint64_t n, cap, bytes;
} scans_t;

static scans_t scans;

static int
scans_note(uint64_t at, uint32_t size)
{
    if (scans.n == scans.cap) {
        uint64_t cap = scans.cap ? scans.cap * 2 : 4096;
        uint64_t *na = realloc(scans.at, cap * sizeof(*na));
        if (na == NULL)
            return -1;
        scans.at = na;
        scans.cap = cap;
    }
    scans.at[scans.n++] = at;
    scans.bytes += size;
    return 0;
}

typedef struct gen_s {
    double zipf_s;
    uint64_t blocks, requests, size_min, size_max, shift, seed;
    double scan_k;
} gen_t;

static uint32_t
key_size(const gen_t *g, uint64_t key)
{
    if (g->size_min == g->size_max)
        return (uint32_t)g->size_min;
    rng_t r = {key * 0x9e3779b97f4a7c15ull ^ g->seed};
    double lo = log((double)g->size_min), hi = log((double)g->size_max);
    return (uint32_t)exp(lo + (hi - lo) * rng_unit(&r));
}

/* Inverse-CDF sampling of ranks 0..n-1 with p(r) proportional to (r + 1)^-s. */
typedef struct zipf_s {
    double *cdf;
    uint64_t n;
} zipf_t;

static int
zipf_init(zipf_t *z, uint64_t n, double s)
{
    z->n = n;
    z->cdf = malloc(n * sizeof(double));
    if (z->cdf == NULL)
        return -1;
    double sum = 0;
    for (uint64_t i = 0; i < n; i++)
        z->cdf[i] = (sum += pow((double)(i + 1), -s));
    for (uint64_t i = 0; i < n; i++)
        z->cdf[i] /= sum;
    return 0;
}

static uint64_t
zipf_next(const zipf_t *z, rng_t *r)
{
    double u = rng_unit(r);
    uint64_t lo = 0, hi = z->n - 1;
    while (lo < hi) {
        uint64_t mid = (lo + hi) / 2;
        if (z->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Zipf keys are 0..N-1 (rank r is key (r + shift offset) mod N); scan keys count up from N. */
static int
generate(be_trace_t *t, const gen_t *g, uint64_t scan_objects)
{
    zipf_t z;
    rng_t r = {g->seed};
    if (zipf_init(&z, g->blocks, g->zipf_s) != 0)
        return -1;
    uint64_t scan_next = g->blocks, phase_len = 2 * scan_objects, in_phase = 0;
    int scanning = 0;
    for (uint64_t i = 0; i < g->requests; i++) {
        uint64_t key;
        if (scan_objects > 0 && ++in_phase > phase_len) {
            scanning = !scanning;
            in_phase = 1;
        }
        if (scanning && (i & 1)) {
            key = scan_next++;
        } else {
            key = zipf_next(&z, &r);
            if (g->shift > 0)
                key = (key + i / g->shift * (g->blocks / 10)) % g->blocks;
        }
        if (trace_add(t, key, NULL, 0, key_size(g, key)) != 0 ||
            (key >= g->blocks && scans_note(t->n - 1, key_size(g, key)) != 0)) {
            free(z.cdf);
            return -1;
        }
    }
    free(z.cdf);
    return 0;
}

/* A key token: a 64-hex digest is named by its first 16 digits, anything else by FNV-1a. */
static uint64_t
key_of_token(const char *s, size_t len)
{
    if (len >= 16) {
        uint64_t v = 0;
        size_t i = 0;
        for (; i < 16 && isxdigit((unsigned char)s[i]); i++)
            v = v << 4 |
                (uint64_t)(isdigit((unsigned char)s[i]) ? s[i] - '0' : (tolower(s[i]) - 'a' + 10));
        if (i == 16)
            return v;
    }
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
    return h;
}

static int
load_text(be_trace_t *t, FILE *f)
{
    char line[4096];
    while (fgets(line, sizeof(line), f) != NULL) {
        char key[1024];
        unsigned long long size;
        if (line[0] == '#' || sscanf(line, "%1023s %llu", key, &size) != 2)
            continue;
        if (trace_add(t, key_of_token(key, strlen(key)), key, strlen(key), (uint32_t)size) != 0)
            return -1;
    }
    return 0;
}

/* An access log line (accesslog.c):
 *   ADDR - - [TIME] "METHOD /blocks/<hex> PROTO" STATUS BYTES "REFERER" "AGENT" CACHE TIER
 *   BLOCK_SIZE DURATION
 * The key is the path's last segment; the size the BLOCK_SIZE field ("-" when unknown: the
 * line is skipped, as are other paths). */
static int
load_log(be_trace_t *t, FILE *f)
{
    char line[8192];
    while (fgets(line, sizeof(line), f) != NULL) {
        char *p = strstr(line, " /blocks/");
        char *q = strrchr(line, '"');
        if (p == NULL || q == NULL || q < p)
            continue;
        p += strlen(" /blocks/");
        size_t len = strcspn(p, " ?\"");
        char cache[32], tier[32], size[32];
        if (sscanf(q + 1, "%31s %31s %31s", cache, tier, size) != 3 ||
            !isdigit((unsigned char)size[0]))
            continue;
        if (trace_add(t, key_of_token(p, len), p, len, (uint32_t)strtoull(size, NULL, 10)) != 0)
            return -1;
    }
    return 0;
}

/*
 * oracleGeneral, the binary format of the public CDN and cloud traces converted for cache
 * simulators: a sequence of 24-byte packed little-endian records, one per request:
 *   offset 0  uint32 timestamp (seconds)
 *   offset 4  uint64 object id
 *   offset 12 uint32 object size (bytes)
 *   offset 16 int64  virtual time of the object's next access (-1: none)
 * Only the id and the size are used (the oracle field serves offline-optimal policies).
 */
static uint64_t
le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int
load_oracle(be_trace_t *t, FILE *f)
{
    unsigned char buf[24 * 4096];
    size_t n;
    while ((n = fread(buf, 24, 4096, f)) > 0)
        for (size_t i = 0; i < n; i++) {
            const unsigned char *rec = buf + 24 * i;
            if (trace_add(t, le(rec + 4, 8), NULL, 0, (uint32_t)le(rec + 12, 4)) != 0)
                return -1;
        }
    return 0;
}

/* Cache sizes from a list; a percentage is of `corpus` bytes. */
static int
parse_caches(const char *list, uint64_t corpus, uint64_t *out)
{
    int n = 0;
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", list);
    for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (n == MAX_SIZES)
            return -1;
        size_t len = strlen(tok);
        if (len > 1 && tok[len - 1] == '%') {
            double pct = strtod(tok, NULL);
            if (pct <= 0)
                return -1;
            out[n++] = (uint64_t)((double)corpus * pct / 100.0);
        } else if (be_confvalue_parse_size(tok, &out[n++]) != BE_OK) {
            return -1;
        }
    }
    return n;
}

/* The generator's corpus: the bytes of keys 0..N-1 (scan keys are not part of it). */
static uint64_t
corpus_bytes(const gen_t *g)
{
    uint64_t sum = 0;
    for (uint64_t k = 0; k < g->blocks; k++)
        sum += key_size(g, k);
    return sum;
}

static uint64_t
largest_cache(const char *list, uint64_t corpus)
{
    uint64_t sizes[MAX_SIZES], best = 0;
    int n = parse_caches(list, corpus, sizes);
    for (int i = 0; i < n; i++)
        if (sizes[i] > best)
            best = sizes[i];
    return best;
}

/* ---------------------------------------------------------------------------------------------
 * --cluster: the replay through edges and shields (clustersim.h). */

#define MAX_EVENTS 64

typedef struct cluster_s {
    uint32_t edges, shields;
    const char *edge_cache, *shield_cache, *owners;
    int kind;
    cl_event_t ev[MAX_EVENTS];
    int nev;
} cluster_t;

static double
wall_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --fail/--join TIER:ID@WHEN, WHEN a percentage of the trace or a request number. The request
 * number is resolved once the trace is loaded: `at` holds it, or the percentage x 1e6 with
 * tier + 2 marking it (see resolve_events). */
static int
parse_event(const char *arg, int join, cluster_t *c)
{
    char tier[16], when[32];
    unsigned id;
    if (c->nev == MAX_EVENTS || sscanf(arg, "%15[a-z]:%u@%31s", tier, &id, when) != 3 || id == 0)
        return -1;
    cl_event_t *e = &c->ev[c->nev];
    memset(e, 0, sizeof(*e));
    if (strcmp(tier, "edge") == 0)
        e->tier = 0;
    else if (strcmp(tier, "shield") == 0)
        e->tier = 1;
    else
        return -1;
    e->node = id - 1;
    e->join = join;
    char *end;
    double v = strtod(when, &end);
    if (end == when || v < 0 || (*end != '\0' && strcmp(end, "%") != 0))
        return -1;
    if (*end == '%') {
        if (v > 100)
            return -1;
        e->tier += 2;
        e->at = (uint64_t)(v * 1e6);
    } else {
        e->at = (uint64_t)v;
    }
    c->nev++;
    return 0;
}

static int
event_cmp(const void *a, const void *b)
{
    const cl_event_t *x = a, *y = b;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* Percentages become request numbers; events sorted; each checked against the nodes that are
 * up at its moment (a failure of a node that is down, a join of one that is up, a tier left
 * empty: usage errors). Sets the node slots each tier needs (joiners past N or M). */
static int
resolve_events(cluster_t *c, uint64_t requests, uint32_t slots[2])
{
    for (int i = 0; i < c->nev; i++)
        if (c->ev[i].tier >= 2) {
            c->ev[i].tier -= 2;
            c->ev[i].at = (uint64_t)((double)c->ev[i].at / 1e8 * (double)requests);
        }
    qsort(c->ev, (size_t)c->nev, sizeof(c->ev[0]), event_cmp);
    slots[0] = c->edges;
    slots[1] = c->shields;
    for (int i = 0; i < c->nev; i++)
        if (c->ev[i].node + 1 > slots[c->ev[i].tier])
            slots[c->ev[i].tier] = c->ev[i].node + 1;
    uint8_t *up[2];
    for (int k = 0; k < 2; k++)
        if ((up[k] = calloc(slots[k] + 1, 1)) == NULL)
            return -1;
    memset(up[0], 1, c->edges);
    memset(up[1], 1, c->shields);
    uint32_t live[2] = {c->edges, c->shields};
    int rc = 0;
    for (int i = 0; i < c->nev && rc == 0; i++) {
        cl_event_t *e = &c->ev[i];
        if (e->at >= requests || e->join == up[e->tier][e->node] ||
            (!e->join && live[e->tier] == 1)) {
            fprintf(stderr,
                    "cachesim: %s %u cannot %s before request %" PRIu64 " (of %" PRIu64
                    "): it is %s, or it is the last one, or the trace has ended\n",
                    e->tier ? "shield" : "edge", e->node + 1, e->join ? "join" : "fail", e->at,
                    requests, up[e->tier][e->node] ? "up" : "down");
            rc = -1;
        }
        up[e->tier][e->node] = (uint8_t)e->join;
        live[e->tier] += e->join ? 1 : (uint32_t)-1;
    }
    free(up[0]);
    free(up[1]);
    return rc;
}

typedef struct tier_sum_s {
    uint64_t requests, hits, bytes, hit_bytes, max;
    uint32_t nodes;
} tier_sum_t;

static tier_sum_t
tier_sum(const cl_tier_t *t)
{
    tier_sum_t s = {0};
    for (uint32_t k = 0; k < t->n; k++) {
        const cl_node_t *nd = &t->node[k];
        s.requests += nd->requests;
        s.hits += nd->hits;
        s.bytes += nd->bytes;
        s.hit_bytes += nd->hit_bytes;
        if (nd->requests > s.max)
            s.max = nd->requests;
    }
    s.nodes = t->n;
    return s;
}

/* Load spread: the busiest node's requests over the mean of the tier's nodes. */
static double
spread(const tier_sum_t *s)
{
    return s->requests ? (double)s->max * s->nodes / (double)s->requests : 0.0;
}

static int
write_owners(const char *path, const be_trace_t *t, cl_tier_t tiers[2])
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        perror(path);
        return -1;
    }
    for (uint64_t i = 0; i < t->nkeys; i++) {
        fprintf(f, "%s %u", keys.name[i], tiers[0].owner[i] + 1);
        if (tiers[1].n > 0)
            fprintf(f, " %u", tiers[1].owner[i] + 1);
        fputc('\n', f);
    }
    return fclose(f);
}

static void
print_events(const cluster_t *c, uint64_t requests, uint64_t nkeys, FILE *out)
{
    for (int i = 0; i < c->nev; i++) {
        const cl_event_t *e = &c->ev[i];
        fprintf(out,
                "event: %s %u %s before request %" PRIu64 " (%.1f%%): %" PRIu64
                " keys (%.1f%%) changed %s\n",
                e->tier ? "shield" : "edge", e->node + 1, e->join ? "joins" : "fails", e->at,
                100 * ratio(e->at, requests), e->moved, 100 * ratio(e->moved, nkeys),
                e->tier ? "shield" : "edge");
    }
}

static void
print_cluster(const cluster_t *c, const char *load, const be_trace_t *t, uint64_t corpus,
              const uint64_t cache[2], cl_tier_t tiers[2], const cl_result_t *r, int csv, int json)
{
    tier_sum_t s[2] = {tier_sum(&tiers[0]), tier_sum(&tiers[1])};
    double per_m = 1e6 * ratio(r->origin, r->requests), rate = r->requests / r->seconds;
    const char *pol = be_policy_name(c->kind);
    if (csv) {
        printf("load,policy,edges,shields,edge_cache_bytes,shield_cache_bytes,events,requests,"
               "origin_requests,origin_per_million,edge_hit_ratio,edge_byte_hit_ratio,"
               "edge_spread,shield_hit_ratio,shield_byte_hit_ratio,shield_spread,requests_per_s\n");
        printf("\"%s\",%s,%u,%u,%" PRIu64 ",%" PRIu64 ",%d,%" PRIu64 ",%" PRIu64
               ",%.1f,%.4f,%.4f,%.3f,%.4f,%.4f,%.3f,%.0f\n",
               load, pol, c->edges, c->shields, cache[0], cache[1], c->nev, r->requests, r->origin,
               per_m, ratio(s[0].hits, s[0].requests), ratio(s[0].hit_bytes, s[0].bytes),
               spread(&s[0]), ratio(s[1].hits, s[1].requests), ratio(s[1].hit_bytes, s[1].bytes),
               spread(&s[1]), rate);
        return;
    }
    if (json) {
        printf("{\"load\":\"%s\",\"policy\":\"%s\",\"requests\":%" PRIu64 ",\"keys\":%" PRIu64
               ",\"corpus_bytes\":%" PRIu64 ",\"origin_requests\":%" PRIu64
               ",\"origin_bytes\":%" PRIu64 ",\"origin_per_million\":%.1f,\"requests_per_s\":%.0f,"
               "\"events\":[",
               load, pol, r->requests, t->nkeys, corpus, r->origin, r->origin_bytes, per_m, rate);
        for (int i = 0; i < c->nev; i++)
            printf("%s{\"tier\":\"%s\",\"id\":%u,\"what\":\"%s\",\"at\":%" PRIu64
                   ",\"keys_moved\":%" PRIu64 "}",
                   i ? "," : "", c->ev[i].tier ? "shield" : "edge", c->ev[i].node + 1,
                   c->ev[i].join ? "join" : "fail", c->ev[i].at, c->ev[i].moved);
        printf("],\"tiers\":[");
        for (int k = 0; k < 2; k++) {
            printf(
                "%s\n {\"tier\":\"%s\",\"nodes\":%u,\"cache_bytes\":%" PRIu64
                ",\"requests\":%" PRIu64 ",\"hits\":%" PRIu64
                ",\"hit_ratio\":%.4f,\"byte_hit_ratio\":%.4f,\"spread\":%.3f,\"node_requests\":[",
                k ? "," : "", k ? "shield" : "edge", s[k].nodes, cache[k], s[k].requests, s[k].hits,
                ratio(s[k].hits, s[k].requests), ratio(s[k].hit_bytes, s[k].bytes), spread(&s[k]));
            for (uint32_t n = 0; n < tiers[k].n; n++)
                printf("%s%" PRIu64, n ? "," : "", tiers[k].node[n].requests);
            printf("],\"node_objects\":[");
            for (uint32_t n = 0; n < tiers[k].n; n++)
                printf("%s%" PRIu64, n ? "," : "", tiers[k].node[n].objects);
            printf("]}");
        }
        printf("\n]}\n");
        return;
    }
    printf("load: %s; %" PRIu64 " requests, %" PRIu64 " keys, corpus %" PRIu64 " bytes\n", load,
           t->n, t->nkeys, corpus);
    printf("cluster: %u edges x %" PRIu64 " bytes", c->edges, cache[0]);
    if (c->shields > 0)
        printf(", %u shields x %" PRIu64 " bytes", c->shields, cache[1]);
    printf(", policy %s; ring: HAProxy 2.6 hash-type consistent (%s), path /blocks/<key>\n", pol,
           keys.avalanche ? "sdbm + avalanche" : "sdbm");
    print_events(c, t->n, t->nkeys, stdout);
    printf("%-8s %6s %12s %8s %11s %14s\n", "tier", "nodes", "requests", "hit %", "byte hit %",
           "load max/mean");
    for (int k = 0; k < 2; k++) {
        if (s[k].nodes == 0)
            continue;
        printf("%-8s %6u %12" PRIu64 " %8.2f %11.2f %14.3f\n", k ? "shield" : "edge", s[k].nodes,
               s[k].requests, 100 * ratio(s[k].hits, s[k].requests),
               100 * ratio(s[k].hit_bytes, s[k].bytes), spread(&s[k]));
    }
    printf("origin: %" PRIu64 " requests, %.0f per million client requests (cluster hit %.2f%%, "
           "byte hit %.2f%%)\n",
           r->origin, per_m, 100 - per_m / 1e4, 100 * (1 - ratio(r->origin_bytes, r->bytes)));
    printf("replay: %.2f M requests/s\n", rate / 1e6);
}

static int
run_cluster(cluster_t *c, const char *load, const be_trace_t *t, uint64_t corpus, int csv, int json)
{
    uint64_t cache[2] = {0, 0};
    if (parse_caches(c->edge_cache, corpus, &cache[0]) != 1 ||
        parse_caches(c->shield_cache ? c->shield_cache : c->edge_cache, corpus, &cache[1]) != 1) {
        fprintf(stderr, "cachesim: --cluster takes one --cache size per node (and one "
                        "--shield-cache)\n");
        return EXIT_USAGE;
    }
    uint32_t slots[2];
    if (resolve_events(c, t->n, slots) != 0)
        return EXIT_USAGE;
    if (slots[1] == 0)
        cache[1] = 0;
    cl_tier_t tiers[2];
    memset(tiers, 0, sizeof(tiers));
    int rc = cl_tier_init(&tiers[0], slots[0], c->edges, cache[0], c->kind, t->nkeys);
    if (rc == 0 && slots[1] > 0)
        rc = cl_tier_init(&tiers[1], slots[1], c->shields, cache[1], c->kind, t->nkeys);
    if (rc == 0 && c->owners != NULL) {
        for (int k = 0; k < 2; k++)
            if (tiers[k].n > 0)
                cl_owners(&tiers[k], keys.ring, t->nkeys);
        if (write_owners(c->owners, t, tiers) != 0)
            rc = 1;
    }
    cl_result_t r;
    if (rc == 0 && cl_run(t, keys.ring, tiers, c->ev, c->nev, &r, wall_seconds) != 0)
        rc = -1;
    if (rc < 0)
        fprintf(stderr, "cachesim: out of memory in the cluster replay\n");
    if (rc == 0)
        print_cluster(c, load, t, corpus, cache, tiers, &r, csv, json);
    cl_tier_free(&tiers[0]);
    cl_tier_free(&tiers[1]);
    return rc == 0 ? 0 : 1;
}

/* One row: column k (a policy or a reference) at cache bytes. Under every policy and under opt
 * a scan key, asked for once, is a miss; under static it is a hit when pinned, and those hits
 * are counted apart. 0, or -1 on allocation failure. */
static int
replay(const be_trace_t *t, int k, uint64_t cache, row_t *w)
{
    w->scan_hits = w->scan_hit_bytes = 0;
    if (k < BE_POLICY_N)
        return be_policysim_run(t, k, cache, &w->r) == BE_OK ? 0 : -1;
    if (k == BE_POLICY_N + REF_OPT)
        return ref_opt_run(t, cache, &w->r) == BE_OK ? 0 : -1;
    uint8_t *pinned = scans.n > 0 ? malloc(t->nkeys) : NULL;
    if ((scans.n > 0 && pinned == NULL) || ref_static_run(t, cache, &w->r, pinned) != BE_OK) {
        free(pinned);
        return -1;
    }
    for (uint64_t j = 0; pinned != NULL && j < scans.n; j++)
        if (pinned[t->id[scans.at[j]]]) {
            w->scan_hits++;
            w->scan_hit_bytes += t->size[scans.at[j]];
        }
    free(pinned);
    return 0;
}

int
main(int argc, char **argv)
{
    enum {
        O_TRACE = 256,
        O_LOG,
        O_ORACLE,
        O_ZIPF,
        O_BLOCKS,
        O_REQ,
        O_SIZE,
        O_SCAN,
        O_SHIFT,
        O_SEED,
        O_CACHE,
        O_POLICY,
        O_CSV,
        O_JSON,
        O_CLUSTER,
        O_SHIELD_CACHE,
        O_FAIL,
        O_JOIN,
        O_OWNERS,
        O_NO_AVALANCHE,
        O_REF
    };
    static const struct option opts[] = {
        {"trace", 1, 0, O_TRACE},
        {"log", 1, 0, O_LOG},
        {"oracle", 1, 0, O_ORACLE},
        {"zipf", 1, 0, O_ZIPF},
        {"blocks", 1, 0, O_BLOCKS},
        {"requests", 1, 0, O_REQ},
        {"size", 1, 0, O_SIZE},
        {"scan", 1, 0, O_SCAN},
        {"shift", 1, 0, O_SHIFT},
        {"seed", 1, 0, O_SEED},
        {"cache", 1, 0, O_CACHE},
        {"policy", 1, 0, O_POLICY},
        {"csv", 0, 0, O_CSV},
        {"json", 0, 0, O_JSON},
        {"cluster", 1, 0, O_CLUSTER},
        {"shield-cache", 1, 0, O_SHIELD_CACHE},
        {"fail", 1, 0, O_FAIL},
        {"join", 1, 0, O_JOIN},
        {"owners", 1, 0, O_OWNERS},
        {"no-avalanche", 0, 0, O_NO_AVALANCHE},
        {"ref", 0, 0, O_REF},
        {"help", 0, 0, 'h'},
        {0, 0, 0, 0},
    };
    gen_t g = {.blocks = 100000, .size_min = 4096, .size_max = 4096, .seed = 1};
    const char *path = NULL, *caches = "10%", *policies = NULL;
    int input = 0, csv = 0, json = 0, cluster = 0, refs = 0, c;
    static be_config_t defaults; /* the memory tier's default policy is the nodes' default */
    be_config_defaults(&defaults);
    cluster_t cl = {.kind = defaults.memory_policy};
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_TRACE:
        case O_LOG:
        case O_ORACLE:
            input = c;
            path = optarg;
            break;
        case O_ZIPF:
            input = c;
            g.zipf_s = strtod(optarg, NULL);
            break;
        case O_BLOCKS:
            g.blocks = strtoull(optarg, NULL, 10);
            break;
        case O_REQ:
            g.requests = strtoull(optarg, NULL, 10);
            break;
        case O_SIZE: {
            char lo[64], hi[64];
            if (sscanf(optarg, "%63[^-]-%63s", lo, hi) == 2) {
                if (be_confvalue_parse_size(lo, &g.size_min) != BE_OK ||
                    be_confvalue_parse_size(hi, &g.size_max) != BE_OK)
                    goto usage;
            } else if (be_confvalue_parse_size(optarg, &g.size_min) != BE_OK) {
                goto usage;
            } else {
                g.size_max = g.size_min;
            }
            if (g.size_min == 0 || g.size_min > g.size_max || g.size_max > UINT32_MAX)
                goto usage;
            break;
        }
        case O_SCAN:
            g.scan_k = strtod(optarg, NULL);
            break;
        case O_SHIFT:
            g.shift = strtoull(optarg, NULL, 10);
            break;
        case O_SEED:
            g.seed = strtoull(optarg, NULL, 0);
            break;
        case O_CACHE:
            caches = optarg;
            break;
        case O_POLICY:
            policies = optarg;
            break;
        case O_CSV:
            csv = 1;
            break;
        case O_JSON:
            json = 1;
            break;
        case O_CLUSTER: {
            char *end;
            unsigned long e = strtoul(optarg, &end, 10), m = 0;
            if (*end == ',')
                m = strtoul(end + 1, &end, 10);
            if (*end != '\0' || e == 0 || e > 100000 || m > 100000)
                goto usage;
            cl.edges = (uint32_t)e;
            cl.shields = (uint32_t)m;
            cluster = 1;
            break;
        }
        case O_SHIELD_CACHE:
            cl.shield_cache = optarg;
            break;
        case O_FAIL:
        case O_JOIN:
            if (parse_event(optarg, c == O_JOIN, &cl) != 0) {
                fprintf(stderr, "cachesim: bad --%s \"%s\" (TIER:ID@P%% or @REQUEST)\n",
                        c == O_JOIN ? "join" : "fail", optarg);
                return EXIT_USAGE;
            }
            break;
        case O_OWNERS:
            cl.owners = optarg;
            keys.keep_names = 1;
            break;
        case O_NO_AVALANCHE:
            keys.avalanche = 0;
            break;
        case O_REF:
            refs = 1;
            break;
        case 'h':
            fputs(usage_text, stdout);
            return 0;
        default:
            goto usage;
        }
    }
    if (input == 0 || optind != argc || g.blocks == 0)
        goto usage;
    if (!cluster && (cl.nev > 0 || cl.owners != NULL || cl.shield_cache != NULL)) {
        fprintf(stderr, "cachesim: --fail, --join, --owners and --shield-cache need --cluster\n");
        return EXIT_USAGE;
    }
    if (cluster && (refs || (policies != NULL && ref_parse(policies) >= 0))) {
        fprintf(stderr, "cachesim: --cluster runs a policy; static and opt are offline "
                        "references, not policies\n");
        return EXIT_USAGE;
    }
    if (cluster) {
        cl.edge_cache = caches;
        if (policies != NULL && (cl.kind = be_policy_parse(policies)) < 0) {
            fprintf(stderr, "cachesim: --cluster runs one policy; unknown \"%s\"\n", policies);
            return EXIT_USAGE;
        }
    }

    int run[SIM_COLUMNS] = {0};
    if (policies == NULL) {
        for (int k = 0; k < BE_POLICY_N; k++)
            run[k] = 1;
    } else {
        char buf[256];
        snprintf(buf, sizeof(buf), "%s", policies);
        for (char *save, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
            int k = col_parse(tok);
            if (k < 0) {
                fprintf(stderr, "cachesim: unknown policy \"%s\"\n", tok);
                return EXIT_USAGE;
            }
            run[k] = 1;
        }
    }
    for (int k = BE_POLICY_N; refs && k < SIM_COLUMNS; k++)
        run[k] = 1;

    be_trace_t *t = be_trace_new();
    int rc = t == NULL ? -1 : 0;
    char load[256];
    uint64_t corpus = 0;
    if (rc == 0 && input == O_ZIPF) {
        if (g.requests == 0)
            g.requests = 20 * g.blocks;
        uint64_t scan = 0;
        corpus = corpus_bytes(&g);
        if (g.scan_k > 0)
            scan = (uint64_t)(g.scan_k * (double)largest_cache(caches, corpus) /
                              ((double)corpus / (double)g.blocks));
        rc = generate(t, &g, scan);
        snprintf(load, sizeof(load), "zipf %.2f, %" PRIu64 " blocks%s%s", g.zipf_s, g.blocks,
                 g.scan_k > 0 ? ", scans" : "", g.shift > 0 ? ", shifting" : "");
    } else if (rc == 0) {
        FILE *f = fopen(path, input == O_ORACLE ? "rb" : "r");
        if (f == NULL) {
            perror(path);
            return 1;
        }
        rc = input == O_TRACE ? load_text(t, f)
             : input == O_LOG ? load_log(t, f)
                              : load_oracle(t, f);
        fclose(f);
        snprintf(load, sizeof(load), "%s", path);
    }
    if (rc != 0) {
        fprintf(stderr, "cachesim: out of memory while loading the trace\n");
        return 1;
    }
    if (cluster) {
        rc = run_cluster(&cl, load, t, corpus ? corpus : t->bytes, csv, json);
        be_trace_free(&t);
        return rc;
    }
    uint64_t sizes[MAX_SIZES];
    int nsizes = parse_caches(caches, corpus ? corpus : t->bytes, sizes);
    if (nsizes <= 0) {
        fprintf(stderr, "cachesim: bad --cache list \"%s\"\n", caches);
        return EXIT_USAGE;
    }

    row_t rows[MAX_SIZES * SIM_COLUMNS];
    int nrows = 0;
    for (int i = 0; i < nsizes; i++)
        for (int k = 0; k < SIM_COLUMNS; k++) {
            if (!run[k])
                continue;
            rows[nrows].col = k;
            rows[nrows].cache = sizes[i];
            if (replay(t, k, sizes[i], &rows[nrows]) != 0) {
                fprintf(stderr, "cachesim: out of memory while replaying\n");
                return 1;
            }
            nrows++;
        }
    sim_out_t o = {.load = load,
                   .t = t,
                   .corpus = corpus ? corpus : t->bytes,
                   .scan_requests = scans.n,
                   .scan_bytes = scans.bytes,
                   .one_size = ref_one_size(t)};
    if (csv)
        print_csv(&o, rows, nrows);
    else if (json)
        print_json(&o, rows, nrows);
    else
        print_table(&o, rows, nrows, run);
    free(scans.at);
    be_trace_free(&t);
    return 0;
usage:
    fputs(usage_text, stderr);
    return EXIT_USAGE;
}
