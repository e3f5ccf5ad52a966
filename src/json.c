/*
 * json.c - a JSON document as a tree of nodes in one growing array, written once.
 *
 * Knows nothing of metrics or HTTP. Nodes refer to each other by index (the array moves as it
 * grows); an object's children are a singly linked list in the order their keys were first
 * named. Running out of memory marks the document failed and every later call does nothing.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "blockedge/defs.h"
#include "blockedge/json.h"

enum { J_OBJECT, J_SLOT, J_NUMBER, J_STRING, J_RAW };

typedef struct node_s {
    char *key; /* owned; NULL for the root */
    int kind;
    int first, last, next; /* children, and the next sibling; -1 for none */
    double num;
    const char *str;
    be_json_raw_fn raw;
    const void *arg;
} node_t;

struct be_json_s {
    node_t *n;
    int len, cap;
    int failed;
};

static int
add_node(be_json_t *j, int parent, const char *key, size_t len, int kind)
{
    if (j->len == j->cap) {
        int cap = j->cap > 0 ? j->cap * 2 : 64;
        node_t *n = realloc(j->n, (size_t)cap * sizeof(*n));
        if (n == NULL) {
            j->failed = 1;
            return -1;
        }
        j->n = n;
        j->cap = cap;
    }
    node_t *n = &j->n[j->len];
    memset(n, 0, sizeof(*n));
    n->kind = kind;
    n->first = n->last = n->next = -1;
    if (key != NULL) {
        n->key = malloc(len + 1);
        if (n->key == NULL) {
            j->failed = 1;
            return -1;
        }
        memcpy(n->key, key, len);
        n->key[len] = '\0';
    }
    int i = j->len++;
    if (parent >= 0) {
        node_t *p = &j->n[parent];
        if (p->last >= 0)
            j->n[p->last].next = i;
        else
            p->first = i;
        p->last = i;
    }
    return i;
}

be_json_t *
be_json_new(void)
{
    be_json_t *j = calloc(1, sizeof(*j));
    if (j == NULL)
        return NULL;
    if (add_node(j, -1, NULL, 0, J_OBJECT) != 0)
        be_json_free(&j);
    return j;
}

void
be_json_free(be_json_t **jp)
{
    be_json_t *j = *jp;
    if (j == NULL)
        return;
    *jp = NULL;
    for (int i = 0; i < j->len; i++)
        free(j->n[i].key);
    free(j->n);
    free(j);
}

static int
find_or_add(be_json_t *j, int obj, const char *key, size_t len, int kind)
{
    if (obj < 0 || obj >= j->len || j->failed)
        return -1;
    for (int c = j->n[obj].first; c >= 0; c = j->n[c].next)
        if (strncmp(j->n[c].key, key, len) == 0 && j->n[c].key[len] == '\0')
            return c;
    return add_node(j, obj, key, len, kind);
}

int
be_json_key(be_json_t *j, int obj, const char *key, size_t len)
{
    int i = find_or_add(j, obj, key, len, J_OBJECT);
    if (i >= 0 && j->n[i].kind == J_SLOT)
        j->n[i].kind = J_OBJECT;
    if (obj >= 0 && obj < j->len && j->n[obj].kind == J_SLOT)
        j->n[obj].kind = J_OBJECT; /* a key of its own: the slot is used */
    return i;
}

int
be_json_slot(be_json_t *j, int obj, const char *key, size_t len)
{
    return find_or_add(j, obj, key, len, J_SLOT);
}

static node_t *
value_node(be_json_t *j, int node, int kind)
{
    if (node < 0 || node >= j->len || j->failed)
        return NULL;
    node_t *n = &j->n[node];
    if (n->kind != kind) {
        n->kind = kind;
        n->num = 0;
    }
    return n;
}

void
be_json_set(be_json_t *j, int node, double v)
{
    node_t *n = value_node(j, node, J_NUMBER);
    if (n != NULL)
        n->num = v;
}

void
be_json_add(be_json_t *j, int node, double v)
{
    node_t *n = value_node(j, node, J_NUMBER);
    if (n != NULL)
        n->num += v;
}

void
be_json_string(be_json_t *j, int node, const char *s)
{
    node_t *n = value_node(j, node, J_STRING);
    if (n != NULL)
        n->str = s;
}

void
be_json_raw(be_json_t *j, int node, be_json_raw_fn fn, const void *arg)
{
    node_t *n = value_node(j, node, J_RAW);
    if (n != NULL) {
        n->raw = fn;
        n->arg = arg;
    }
}

void
be_json_quote(struct evbuffer *out, const char *s)
{
    evbuffer_add(out, "\"", 1);
    const char *run = s;
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        evbuffer_add(out, run, (size_t)(s - run));
        if (c == '"' || c == '\\')
            evbuffer_add_printf(out, "\\%c", c);
        else
            evbuffer_add_printf(out, "\\u%04x", c);
        run = s + 1;
    }
    evbuffer_add(out, run, (size_t)(s - run));
    evbuffer_add(out, "\"", 1);
}

void
be_json_number(struct evbuffer *out, double v)
{
    char buf[32];
    if (!isfinite(v)) {
        evbuffer_add(out, "null", 4);
        return;
    }
    snprintf(buf, sizeof(buf), "%.15g", v);
    if (strtod(buf, NULL) != v)
        snprintf(buf, sizeof(buf), "%.17g", v);
    evbuffer_add(out, buf, strlen(buf));
}

static void
write_node(const be_json_t *j, int i, struct evbuffer *out)
{
    const node_t *n = &j->n[i];
    switch (n->kind) {
    case J_NUMBER:
        be_json_number(out, n->num);
        return;
    case J_STRING:
        be_json_quote(out, n->str);
        return;
    case J_RAW:
        n->raw(n->arg, out);
        return;
    default:
        break;
    }
    const char *sep = "";
    evbuffer_add(out, "{", 1);
    for (int c = n->first; c >= 0; c = j->n[c].next) {
        if (j->n[c].kind == J_SLOT)
            continue; /* never used */
        evbuffer_add_printf(out, "%s", sep);
        be_json_quote(out, j->n[c].key);
        evbuffer_add(out, ":", 1);
        write_node(j, c, out);
        sep = ",";
    }
    evbuffer_add(out, "}", 1);
}

int
be_json_write(const be_json_t *j, struct evbuffer *out)
{
    if (j->failed)
        return BE_ERROR;
    write_node(j, 0, out);
    return BE_OK;
}
