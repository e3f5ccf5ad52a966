/*
 * json.h - a JSON document built key by key in any order, then written once.
 *
 * /stats shows one figure under several keys and fills objects from many places, so it is
 * built as a tree first: a node is an index, an object's keys keep the order they were first
 * named in, and naming a key twice finds the same node. Numbers are written in the shortest
 * form that reads back to the same double (non-finite ones as null). Thread: one at a time.
 */
#ifndef BLOCKEDGE_JSON_H
#define BLOCKEDGE_JSON_H

#include <stddef.h>

struct evbuffer;
typedef struct be_json_s be_json_t;

/* Writes a value for the raw node it was set on (an array, say). */
typedef void (*be_json_raw_fn)(const void *arg, struct evbuffer *out);

/* The root object is node 0. NULL when out of memory. */
be_json_t *be_json_new(void);
void be_json_free(be_json_t **jp);

/* The node named key under obj: found, or added after obj's other keys. It is written as an
 * object (possibly empty) unless a value is set on it. -1 when out of memory or obj < 0, and
 * every call below ignores a node < 0, so a chain of calls needs one check at the end. */
int be_json_key(be_json_t *j, int obj, const char *key, size_t len);

/* Like be_json_key, but the node is left out of the output unless it gets a value or a key of
 * its own: a place reserved for a key in an order of the caller's choice. */
int be_json_slot(be_json_t *j, int obj, const char *key, size_t len);

/* Values: a number (set, or added to what the node holds), a string (not copied: it must
 * outlive be_json_write), or raw text written by fn(arg) (arg must outlive it too). */
void be_json_set(be_json_t *j, int node, double v);
void be_json_add(be_json_t *j, int node, double v);
void be_json_string(be_json_t *j, int node, const char *s);
void be_json_raw(be_json_t *j, int node, be_json_raw_fn fn, const void *arg);

/* Appends the document to out; BE_ERROR (and nothing appended) if a call above ran out of
 * memory. */
int be_json_write(const be_json_t *j, struct evbuffer *out);

/* Appends s as a quoted JSON string, escaped; and v as a JSON number. */
void be_json_quote(struct evbuffer *out, const char *s);
void be_json_number(struct evbuffer *out, double v);

#endif
