/*
 * fuzz_admin.c - libFuzzer target for the admin listener's request head parser (request line,
 * target split into path and query, the fields the admin keeps).
 *
 * Any input must end in BE_ERROR with 400, 414, 431 or 505 and a reason, or BE_OK with a
 * request whose method, path and query are the request line's own bytes: the input starts with
 * "METHOD SP PATH" and, when a query was split off, "?QUERY" follows; a kept Content-Length
 * has at most 12 digits; be_adminreq_top() on the query agrees with a plain reading of it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blockedge/adminhttp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* be_adminreq_top() against a plain reading of the query: the first parameter that is "top="
 * and a digit gives its decimal value, clamped; none gives the default. */
static void
check_top(const char *query)
{
    size_t want = 7;
    for (const char *p = query; *p != '\0';) {
        const char *amp = strchr(p, '&');
        size_t n = amp != NULL ? (size_t)(amp - p) : strlen(p);
        if (n > 4 && memcmp(p, "top=", 4) == 0 && p[4] >= '0' && p[4] <= '9') {
            unsigned long long v = 0;
            for (size_t i = 4; i < n && p[i] >= '0' && p[i] <= '9' && v <= 1000; i++)
                v = v * 10 + (unsigned long long)(p[i] - '0');
            want = v > 1000 ? 1000 : (size_t)v;
            break;
        }
        p = amp != NULL ? amp + 1 : p + n;
    }
    if (be_adminreq_top(query, 7, 1000) != want)
        abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > BE_ADMINHTTP_MAX_HEAD)
        return 0;
    /* A private copy so the sanitizer sees any read past the end. */
    char *p = malloc(size ? size : 1);
    if (p == NULL)
        return 0;
    memcpy(p, data, size);
    static be_adminreq_t r;
    int status = 0;
    const char *why = NULL;
    int rc = be_adminreq_parse(p, size, &r, &status, &why);
    if (rc == BE_OK) {
        size_t ml = strlen(r.method), pl = strlen(r.path), ql = strlen(r.query);
        if (ml == 0 || ml >= sizeof(r.method) || pl == 0 || r.path[0] != '/' ||
            ml + 1 + pl > size || memcmp(p, r.method, ml) != 0 || p[ml] != ' ' ||
            memcmp(p + ml + 1, r.path, pl) != 0 || strchr(r.path, '?') != NULL)
            abort();
        const char *after = p + ml + 1 + pl;
        if (*after == '?' ? memcmp(after + 1, r.query, ql) != 0 || after[1 + ql] != ' '
                          : *after != ' ' || ql != 0)
            abort();
        if (r.has_length && r.content_length > 999999999999u)
            abort();
        if (!r.has_authorization && r.authorization[0] != '\0')
            abort();
        check_top(r.query);
    } else if (rc != BE_ERROR || why == NULL ||
               (status != 400 && status != 414 && status != 431 && status != 505)) {
        abort();
    }
    free(p);
    return 0;
}
