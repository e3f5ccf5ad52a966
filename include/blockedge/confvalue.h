/*
 * confvalue.h - the value syntax of the configuration language: numbers, sizes (k m g),
 * times (ms s m h d) and listen addresses, parsed from one word and printed back.
 *
 * Pure functions of their arguments: no directive, no file, no error text. The parser
 * (conf.c), the directive setters (directives.c) and the loader (config.c) share them, so a
 * value means the same everywhere.
 */
#ifndef BLOCKEDGE_CONFVALUE_H
#define BLOCKEDGE_CONFVALUE_H

#include <stddef.h>
#include <stdint.h>

#include "blockedge/config_types.h"
#include "blockedge/defs.h"

/* Parses one or more decimal digits and nothing else, up to UINT64_MAX. BE_OK/BE_ERROR. */
int be_confvalue_parse_number(const char *s, uint64_t *out);

/* Parses "512", "64k", "16m", "2g" (also upper case). BE_OK or BE_ERROR. */
int be_confvalue_parse_size(const char *s, uint64_t *out);

/* Parses "500ms", "30s", "5m", "1h", "2d", and a bare number as seconds. BE_OK/BE_ERROR. */
int be_confvalue_parse_time(const char *s, be_msec_t *out);

/* Parses "ADDR:PORT", "[V6]:PORT", "*:PORT" or "PORT" (then 0.0.0.0) into *out, numeric
 * addresses only (no name lookup). BE_OK/BE_ERROR. */
int be_confvalue_parse_listen(const char *s, be_listen_t *out);

/* Prints a size or a time in the largest unit that divides it ("16m", "5s"); 0 is "0". */
void be_confvalue_format_size(char *buf, size_t len, uint64_t v);
void be_confvalue_format_time(char *buf, size_t len, uint64_t ms);

#endif
