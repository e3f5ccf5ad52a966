/*
 * zipf.c - how skewed the load is: the Zipf exponent fitted by maximum likelihood on the
 * top ranks whose counts Space-Saving guarantees.
 *
 * Owns nothing between calls (each fit allocates and frees its own scratch); knows counts
 * and their error bars, not keys, rings or SHARDS. Invariant: only ranks whose count minus
 * error exceeds the smallest counter are fitted, and at least 8 of them, else no exponent.
 * No locks, no clock.
 */

/*
 * ---- the Zipf fit --------------------------------------------------------------------------
 *
 * Block requests are close to Zipf's law: the r-th most requested block gets a share
 * proportional to r^-s. s says how much a cache of a given size can catch (s near 1: a
 * small cache catches most of the load; s near 0.6: it takes a big one).
 *
 * The usual fit, least squares on log(count) against log(rank), is biased and its error
 * is hard to state: the points in the tail outnumber the head, their noise is not
 * Gaussian, and the line's slope is not the exponent's maximum likelihood estimate
 * (Clauset, Shalizi and Newman, "Power-law distributions in empirical data", SIAM Review
 * 51(4), 2009, sections 3 and 4). Instead, treat the fitted ranks 1..n as a discrete
 * distribution truncated at n, p(r) = r^-s / H(n, s) with H(n, s) = sum_{r<=n} r^-s, and
 * maximize the log-likelihood of the counts c_r:
 *     L(s) = -s * sum c_r ln r - C ln H(n, s),   C = sum c_r.
 * L is concave in s (an exponential family in s with statistic -ln r), so
 *     L'(s) = -sum c_r ln r + C * (sum r^-s ln r) / H(n, s)
 * decreases in s and its one root is found by bisection on [0, 8] to 1e-6.
 *
 * Which ranks: only those whose count Space-Saving guarantees. A key whose count minus
 * error exceeds the smallest counter is certainly among the top keys and its count is
 * tight; the fit uses the leading run of such keys (at least 8 of them). Ranks past it
 * carry errors of the order of the counts themselves and would flatten the fit.
 */

#include <math.h>
#include <stdlib.h>

#include "blockedge/popularity.h"
#include "popularity_int.h"

double
be_zipf_mle(const double *c, size_t n)
{
    double total = 0, a = 0;
    if (n < 2)
        return 0;
    for (size_t r = 0; r < n; r++) {
        total += c[r];
        a += c[r] * log((double)(r + 1));
    }
    if (total <= 0)
        return 0;
    double lo = 0, hi = 8;
    for (int it = 0; it < 64 && hi - lo > 1e-6; it++) {
        double s = (lo + hi) / 2, h = 0, b = 0;
        for (size_t r = 1; r <= n; r++) {
            double lr = log((double)r), p = exp(-s * lr);
            h += p;
            b += p * lr;
        }
        double d = -a + total * b / h;
        if (d > 0)
            lo = s;
        else
            hi = s;
    }
    return (lo + hi) / 2;
}

void
zipf_fit_top(const be_popularity_item_t *items, size_t n, double floor_count,
             be_popularity_zipf_t *out)
{
    double *c = malloc((n ? n : 1) * sizeof(*c));
    if (c == NULL)
        return;
    size_t ranks = 0;
    double req = 0;
    while (ranks < n && items[ranks].count - items[ranks].error > floor_count) {
        c[ranks] = items[ranks].count;
        req += c[ranks];
        ranks++;
    }
    if (ranks >= 8) {
        out->exponent = be_zipf_mle(c, ranks);
        out->requests = req;
        out->ranks = (unsigned)ranks;
    }
    free(c);
}
