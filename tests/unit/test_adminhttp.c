/*
 * test_adminhttp.c - the admin listener's request parser: the request line (method, path,
 * query, version), the fields the admin keeps (Authorization, Content-Length,
 * Transfer-Encoding, Expect) and the heads it refuses, each with its status and reason.
 */
#include <string.h>

#include "blockedge/adminhttp.h"
#include "test.h"

static be_adminreq_t req;
static int status;
static const char *why;

static int
parse(const char *head)
{
    status = 0;
    why = NULL;
    return be_adminreq_parse(head, strlen(head), &req, &status, &why);
}

static void
test_adminreq_keeps_line_and_the_fields_it_needs(void)
{
    BE_CHECK_INT(parse("DELETE /blocks/abc?x=1&top=5 HTTP/1.1\r\n"
                       "Host: admin\r\n"
                       "authorization:   Bearer t0k3n \r\n"
                       "Content-Length: 123\r\n"
                       "Expect: 100-continue\r\n"
                       "X-Other: whatever\r\n"
                       "\r\n"),
                 BE_OK);
    BE_CHECK_STR(req.method, "DELETE");
    BE_CHECK_STR(req.path, "/blocks/abc");
    BE_CHECK_STR(req.query, "x=1&top=5");
    BE_CHECK(req.has_authorization);
    BE_CHECK_STR(req.authorization, "Bearer t0k3n");
    BE_CHECK(req.has_length);
    BE_CHECK_INT(req.content_length, 123);
    BE_CHECK(req.expect_continue);
    BE_CHECK(!req.chunked);

    BE_CHECK_INT(parse("GET /metrics HTTP/1.0\r\n\r\n"), BE_OK);
    BE_CHECK_STR(req.path, "/metrics");
    BE_CHECK_STR(req.query, "");
    BE_CHECK(!req.has_authorization && !req.has_length && !req.expect_continue);
    BE_CHECK_INT(parse("POST /prefetch HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"), BE_OK);
    BE_CHECK(req.chunked);
    BE_CHECK_INT(parse("POST /prefetch HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n"), BE_OK);
    BE_CHECK(!req.chunked);
}

/* The head is refused with this status and a reason containing text. */
static int
refused(const char *head, int want, const char *text)
{
    if (parse(head) != BE_ERROR || status != want || why == NULL || strstr(why, text) == NULL) {
        fprintf(stderr, "head %.40s...: status %d, reason %s\n", head, status, why ? why : "-");
        return 0;
    }
    return 1;
}

static void
test_adminreq_refuses_malformed_heads_with_a_status(void)
{
    char big[2048];
    BE_CHECK(refused("\r\n", 400, "no request line"));
    BE_CHECK(refused("GET /metrics\r\n\r\n", 400, "request line"));
    BE_CHECK(refused("GET  /metrics HTTP/1.1\r\n\r\n", 400, "request line"));
    BE_CHECK(refused("GET /metrics HTTP/2.0\r\n\r\n", 505, "HTTP/1."));
    BE_CHECK(refused("GET /metrics FTP/1.1\r\n\r\n", 400, "HTTP/1."));
    BE_CHECK(refused("GET metrics HTTP/1.1\r\n\r\n", 400, "start with /"));
    BE_CHECK(refused("G(T /metrics HTTP/1.1\r\n\r\n", 400, "method"));
    BE_CHECK(refused("GET /metrics HTTP/1.1\nHost: a\r\n\r\n", 400, "CRLF"));
    BE_CHECK(refused("GET /metrics HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", 400, "folding"));
    BE_CHECK(refused("GET /metrics HTTP/1.1\r\nHost a\r\n\r\n", 400, "header field"));
    BE_CHECK(refused("GET /metrics HTTP/1.1\r\nHo st: a\r\n\r\n", 400, "header field name"));
    BE_CHECK(refused("GET /metrics HTTP/1.1\r\nX: a\001b\r\n\r\n", 400, "control character"));
    BE_CHECK(refused("POST /prefetch HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
                     400, "Content-Length"));
    BE_CHECK(
        refused("POST /prefetch HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 400, "Content-Length"));
    BE_CHECK(refused("POST /prefetch HTTP/1.1\r\nContent-Length: 1234567890123\r\n\r\n", 400,
                     "Content-Length"));
    BE_CHECK(refused("DELETE /x HTTP/1.1\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n", 400,
                     "Authorization"));
    BE_CHECK(refused("GET /metrics HTTP/1.1\r\nHost: a\r\n", 400, "incomplete"));
    memset(big, 'a', sizeof(big));
    memcpy(big, "GET /", 5);
    strcpy(big + 1000, " HTTP/1.1\r\n\r\n");
    BE_CHECK(refused(big, 414, "too long"));
    memcpy(big, "DELETE / HTTP/1.1\r\nAuthorization: ", 34);
    memset(big + 34, 'a', 1000);
    strcpy(big + 1034, "\r\n\r\n");
    BE_CHECK(refused(big, 431, "Authorization"));
}

static void
test_adminreq_top_reads_the_first_top_with_digits(void)
{
    BE_CHECK_INT(be_adminreq_top("", 10, 100), 10);
    BE_CHECK_INT(be_adminreq_top("top=25", 10, 100), 25);
    BE_CHECK_INT(be_adminreq_top("a=1&top=0", 10, 100), 0);
    BE_CHECK_INT(be_adminreq_top("top=5000", 10, 100), 100);
    BE_CHECK_INT(be_adminreq_top("top=99999999999999999999999", 10, 100), 100);
    BE_CHECK_INT(be_adminreq_top("top=-1", 10, 100), 10); /* not a huge N */
    BE_CHECK_INT(be_adminreq_top("top=&top=3", 10, 100), 3);
    BE_CHECK_INT(be_adminreq_top("xtop=4&stop=5", 10, 100), 10);
}

int
main(void)
{
    BE_RUN(test_adminreq_keeps_line_and_the_fields_it_needs);
    BE_RUN(test_adminreq_refuses_malformed_heads_with_a_status);
    BE_RUN(test_adminreq_top_reads_the_first_top_with_digits);
    BE_TEST_EXIT();
}
