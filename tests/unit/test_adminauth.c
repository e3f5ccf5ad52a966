/*
 * test_adminauth.c - the admin token: what a token file may hold (white space around it is
 * ignored; empty, spaced, oversized, missing or non-regular files are refused with a reason
 * naming the file), the bearer check (scheme without regard to case, missing and wrong
 * tokens told apart, no token configured lets everything through), and the constant-time
 * equality on strings of any lengths (prefixes, one byte off, empty strings).
 *
 * Files live in a fresh temporary directory; nothing else is touched.
 */
#include <string.h>
#include <sys/stat.h>

#include "blockedge/adminauth.h"
#include "fixture.h"
#include "test.h"

static char dir[512];
static char err[1024];

/* Writes text to dir/name and reads it back as a token file into token[cap]. */
static int
read_text(const char *name, const char *text, char *token, size_t cap)
{
    char path[1024];
    fixture_write_file(dir, name, text, strlen(text));
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    err[0] = '\0';
    return be_adminauth_read(path, token, cap, err, sizeof(err));
}

static void
test_adminauth_token_file_holds_one_token_trimmed(void)
{
    char token[BE_ADMIN_TOKEN_MAX + 1], big[BE_ADMIN_TOKEN_MAX + 2], path[1024];

    fixture_tmpdir(dir, sizeof(dir), "adminauth");
    BE_CHECK_INT(read_text("t1", "s3cret-Token_1\n", token, sizeof(token)), BE_OK);
    BE_CHECK_STR(token, "s3cret-Token_1");
    BE_CHECK_INT(read_text("t2", "  \tabc.DEF~123 \r\n\r\n", token, sizeof(token)), BE_OK);
    BE_CHECK_STR(token, "abc.DEF~123");
    BE_CHECK_INT(read_text("t3", "x", token, sizeof(token)), BE_OK); /* no newline */
    BE_CHECK_STR(token, "x");

    BE_CHECK_INT(read_text("empty", "", token, sizeof(token)), BE_ERROR);
    BE_CHECK(strstr(err, "/empty\" is empty") != NULL);
    BE_CHECK_INT(read_text("blank", " \n\n\t\n", token, sizeof(token)), BE_ERROR);
    BE_CHECK(strstr(err, "is empty") != NULL);
    BE_CHECK_INT(read_text("two", "one\ntwo\n", token, sizeof(token)), BE_ERROR);
    BE_CHECK(strstr(err, "one token expected") != NULL);
    BE_CHECK_INT(read_text("spaced", "ab cd", token, sizeof(token)), BE_ERROR);
    BE_CHECK_INT(read_text("ctl", "ab\001cd", token, sizeof(token)), BE_ERROR);
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    BE_CHECK_INT(read_text("big", big, token, sizeof(token)), BE_ERROR);
    BE_CHECK(strstr(err, "longer than 512 bytes") != NULL);
    big[BE_ADMIN_TOKEN_MAX] = '\0'; /* exactly the longest */
    BE_CHECK_INT(read_text("max", big, token, sizeof(token)), BE_OK);
    BE_CHECK_INT(strlen(token), BE_ADMIN_TOKEN_MAX);
    BE_CHECK_INT(read_text("small", "abcdef", token, 4), BE_ERROR); /* no room: refused */

    snprintf(path, sizeof(path), "%s/missing", dir);
    BE_CHECK_INT(be_adminauth_read(path, token, sizeof(token), err, sizeof(err)), BE_ERROR);
    BE_CHECK(strstr(err, "open() \"") != NULL);
    BE_CHECK(strstr(err, "/missing\" failed (2: No such file or directory)") != NULL);
    snprintf(path, sizeof(path), "%s/sub", dir);
    BE_CHECK(mkdir(path, 0700) == 0);
    BE_CHECK_INT(be_adminauth_read(path, token, sizeof(token), err, sizeof(err)), BE_ERROR);
    BE_CHECK(strstr(err, "/sub\" is not a regular file") != NULL);
    rmdir(path);
    fixture_rmdir(dir);
}

static int
check(const char *token, const char *value)
{
    return be_adminauth_check(token, value, value != NULL ? strlen(value) : 0);
}

static void
test_adminauth_bearer_check_tells_missing_from_wrong(void)
{
    const char *tok = "s3cret-Token_1";
    BE_CHECK_INT(check(tok, "Bearer s3cret-Token_1"), BE_AUTH_OK);
    BE_CHECK_INT(check(tok, "bearer s3cret-Token_1"), BE_AUTH_OK);
    BE_CHECK_INT(check(tok, "BEARER  \ts3cret-Token_1 "), BE_AUTH_OK);
    BE_CHECK_INT(check(tok, NULL), BE_AUTH_MISSING);
    BE_CHECK_INT(check(tok, ""), BE_AUTH_MISSING);
    BE_CHECK_INT(check(tok, "Bearer"), BE_AUTH_MISSING);
    BE_CHECK_INT(check(tok, "Bearer   "), BE_AUTH_MISSING);
    BE_CHECK_INT(check(tok, "Basic czNjcmV0LVRva2VuXzE="), BE_AUTH_MISSING);
    BE_CHECK_INT(check(tok, "Bearers3cret-Token_1"), BE_AUTH_MISSING);
    BE_CHECK_INT(check(tok, "Bearer s3cret-Token_2"), BE_AUTH_WRONG);
    BE_CHECK_INT(check(tok, "Bearer s3cret-token_1"), BE_AUTH_WRONG);  /* the token has case */
    BE_CHECK_INT(check(tok, "Bearer s3cret-Token_"), BE_AUTH_WRONG);   /* a prefix */
    BE_CHECK_INT(check(tok, "Bearer s3cret-Token_11"), BE_AUTH_WRONG); /* longer */
    BE_CHECK_INT(check(tok, "Bearer s3cret-Token_1 x"), BE_AUTH_WRONG);
    /* a header value is bounded by its length, not by a NUL */
    BE_CHECK_INT(be_adminauth_check(tok, "Bearer s3cret-Token_1garbage", 21), BE_AUTH_OK);
    /* no token configured: allow/deny alone decide */
    BE_CHECK_INT(check("", NULL), BE_AUTH_OK);
    BE_CHECK_INT(check(NULL, "Bearer whatever"), BE_AUTH_OK);
}

static void
test_adminauth_equal_compares_whole_strings_of_any_length(void)
{
    BE_CHECK(be_adminauth_equal("abc", 3, "abc", 3));
    BE_CHECK(be_adminauth_equal("", 0, "", 0));
    BE_CHECK(!be_adminauth_equal("abc", 3, "abd", 3));
    BE_CHECK(!be_adminauth_equal("abc", 3, "bbc", 3));
    BE_CHECK(!be_adminauth_equal("abc", 3, "ab", 2));
    BE_CHECK(!be_adminauth_equal("ab", 2, "abc", 3));
    BE_CHECK(!be_adminauth_equal("", 0, "a", 1));
    BE_CHECK(be_adminauth_equal("a\0b", 3, "a\0b", 3)); /* bytes, not C strings */
    BE_CHECK(!be_adminauth_equal("a\0b", 3, "a\0c", 3));
}

int
main(void)
{
    BE_RUN(test_adminauth_token_file_holds_one_token_trimmed);
    BE_RUN(test_adminauth_bearer_check_tells_missing_from_wrong);
    BE_RUN(test_adminauth_equal_compares_whole_strings_of_any_length);
    BE_TEST_EXIT();
}
