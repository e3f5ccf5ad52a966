/*
 * test_json.c - the JSON document builder: keys keep the order they were first named in,
 * naming a key again finds the same node, a reserved slot is left out unless filled, numbers
 * come out in their shortest exact form (non-finite ones as null), strings are escaped, and
 * raw values are written by their callback.
 */
#include <math.h>
#include <string.h>

#include <event2/buffer.h>

#include "blockedge/defs.h"
#include "blockedge/json.h"
#include "test.h"

static char text[4096];

/* Writes j into text[]; returns be_json_write's result. */
static int
write_doc(const be_json_t *j)
{
    struct evbuffer *out = evbuffer_new();
    int rc = be_json_write(j, out);
    size_t n = evbuffer_get_length(out);
    if (n >= sizeof(text))
        n = sizeof(text) - 1;
    evbuffer_remove(out, text, n);
    text[n] = '\0';
    evbuffer_free(out);
    return rc;
}

#define KEY(j, obj, s) be_json_key((j), (obj), (s), strlen(s))

static void
test_json_keys_keep_their_first_order_and_are_found_again(void)
{
    be_json_t *j = be_json_new();
    int b = KEY(j, 0, "b");
    be_json_set(j, KEY(j, b, "y"), 1);
    be_json_set(j, KEY(j, 0, "a"), 2);
    be_json_add(j, KEY(j, KEY(j, 0, "b"), "x"), 3); /* "b" again: the same object */
    be_json_add(j, KEY(j, b, "x"), 4);
    KEY(j, 0, "empty");
    BE_CHECK_INT(write_doc(j), BE_OK);
    BE_CHECK_STR(text, "{\"b\":{\"y\":1,\"x\":7},\"a\":2,\"empty\":{}}");
    be_json_free(&j);
    BE_CHECK(j == NULL);
}

static void
test_json_slots_are_left_out_unless_filled(void)
{
    be_json_t *j = be_json_new();
    be_json_slot(j, 0, "first", 5);
    int later = be_json_slot(j, 0, "later", 5);
    be_json_slot(j, later, "deep", 4);
    be_json_slot(j, 0, "unused", 6);
    be_json_set(j, KEY(j, 0, "last"), 1);
    be_json_set(j, KEY(j, KEY(j, 0, "later"), "inner"), 2);
    be_json_string(j, KEY(j, 0, "first"), "x");
    BE_CHECK_INT(write_doc(j), BE_OK);
    BE_CHECK_STR(text, "{\"first\":\"x\",\"later\":{\"inner\":2},\"last\":1}");
    be_json_free(&j);
}

static void
test_json_numbers_are_shortest_exact_and_strings_escaped(void)
{
    be_json_t *j = be_json_new();
    be_json_set(j, KEY(j, 0, "int"), 18446744073709551615.0);
    be_json_set(j, KEY(j, 0, "tenth"), 0.1);
    be_json_set(j, KEY(j, 0, "third"), 1.0 / 3);
    be_json_set(j, KEY(j, 0, "nan"), NAN);
    be_json_set(j, KEY(j, 0, "inf"), INFINITY);
    be_json_string(j, KEY(j, 0, "q\"\\\n"), "tab\there");
    BE_CHECK_INT(write_doc(j), BE_OK);
    BE_CHECK_STR(text, "{\"int\":1.8446744073709552e+19,\"tenth\":0.1,"
                       "\"third\":0.33333333333333331,\"nan\":null,\"inf\":null,"
                       "\"q\\\"\\\\\\u000a\":\"tab\\u0009here\"}");
    be_json_free(&j);
}

static void
raw_list(const void *arg, struct evbuffer *out)
{
    evbuffer_add_printf(out, "[%d]", *(const int *)arg);
}

static void
test_json_raw_values_are_written_by_their_callback(void)
{
    be_json_t *j = be_json_new();
    int n = 42;
    be_json_raw(j, KEY(j, 0, "list"), raw_list, &n);
    BE_CHECK_INT(write_doc(j), BE_OK);
    BE_CHECK_STR(text, "{\"list\":[42]}");
    be_json_free(&j);
}

static void
test_json_a_bad_node_is_ignored(void)
{
    be_json_t *j = be_json_new();
    BE_CHECK_INT(KEY(j, -1, "x"), -1);
    BE_CHECK_INT(KEY(j, 99, "x"), -1);
    be_json_set(j, -1, 1);
    be_json_set(j, KEY(j, -1, "y"), 1);
    BE_CHECK_INT(write_doc(j), BE_OK);
    BE_CHECK_STR(text, "{}");
    be_json_free(&j);
}

int
main(void)
{
    BE_RUN(test_json_keys_keep_their_first_order_and_are_found_again);
    BE_RUN(test_json_slots_are_left_out_unless_filled);
    BE_RUN(test_json_numbers_are_shortest_exact_and_strings_escaped);
    BE_RUN(test_json_raw_values_are_written_by_their_callback);
    BE_RUN(test_json_a_bad_node_is_ignored);
    BE_TEST_EXIT();
}
