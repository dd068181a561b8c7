/* A small strict JSON parser (RFC 8259) for config.json, vocab.json and
   safetensors headers. The whole document lives in one allocation: the
   root node is the start of it, so g2_json_free(root) releases everything,
   and every pointer obtained from the tree stays valid until then.

   Policies (see docs/formats.md):
   - Input must be UTF-8; invalid UTF-8, raw control characters in strings,
     lone surrogate escapes and trailing garbage are errors. A leading
     UTF-8 byte order mark is skipped.
   - Strings are decoded (\uXXXX and surrogate pairs to UTF-8) and may
     contain NUL: use the explicit lengths. Each string is also followed
     by a NUL byte for convenience.
   - Object members keep file order; duplicate keys are kept (a reader
     that forbids them, like safetensors, checks itself); g2_json_get
     returns the last one, as Python's json module does.
   - Containers nest at most G2_JSON_MAX_DEPTH deep.
   - Numbers follow the strict grammar; a number whose magnitude overflows
     a double is an error. Integer literals that fit int64 are also kept
     exactly (g2_json_int64). */
#ifndef G2_JSON_H
#define G2_JSON_H

#include <stddef.h>
#include <stdint.h>

#define G2_JSON_MAX_DEPTH 128

typedef enum g2_json_type {
  G2_JSON_NULL,
  G2_JSON_FALSE,
  G2_JSON_TRUE,
  G2_JSON_NUMBER,
  G2_JSON_STRING,
  G2_JSON_ARRAY,
  G2_JSON_OBJECT
} g2_json_type;

typedef struct g2_json g2_json;

/* Parses `len` bytes of `text` (no terminator needed). GPT2_E_FORMAT with
   "SOURCE: line L, column C: problem" (1-based, column in bytes), or
   GPT2_E_NOMEM. On failure *out is NULL. */
int g2_json_parse(const char *text, size_t len, const char *source, g2_json **out);
/* Frees the document given its root. NULL accepted. */
void g2_json_free(g2_json *root);

g2_json_type g2_json_type_of(const g2_json *node);
/* Name of a type for messages: "null", "boolean", "number", ... */
const char *g2_json_type_name(g2_json_type type);

/* A NUMBER's value (0 for other types). */
double g2_json_number(const g2_json *node);
/* 1 and *out set if `node` is a NUMBER written as an integer literal (no
   fraction or exponent) that fits int64; 0 otherwise. */
int g2_json_int64(const g2_json *node, int64_t *out);

/* A STRING's bytes (NUL-terminated, may contain NUL) and length; NULL for
   other types. */
const char *g2_json_string(const g2_json *node, size_t *len);

/* Number of elements of an ARRAY or members of an OBJECT (0 otherwise). */
size_t g2_json_count(const g2_json *node);
/* The i-th element of an ARRAY or the value of the i-th member of an
   OBJECT, in file order; NULL if out of range or not a container. */
const g2_json *g2_json_at(const g2_json *node, size_t i);
/* The key of the i-th member of an OBJECT; NULL otherwise. */
const char *g2_json_key_at(const g2_json *node, size_t i, size_t *len);
/* The value of the last member of OBJECT whose key is the NUL-terminated
   `key`; NULL if none or not an object. Linear in the number of members. */
const g2_json *g2_json_get(const g2_json *object, const char *key);

#endif
