/* JSON parser in two passes over the same code: the first validates the
   text and counts nodes, string bytes and each container's size; the
   second fills one exactly sized block. Children of a container are
   consecutive nodes, so indexing is O(1) and there is one malloc per
   document (plus the size list of the first pass). */
#include "core/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/utf8.h"
#include "gpt2.h"

struct g2_json {
  g2_json_type type;
  int is_integer;  /* NUMBER: `integer` holds the exact value */
  const char *key; /* member of an OBJECT: its key */
  size_t key_len;
  union {
    struct {
      double value;
      int64_t integer;
    } number;
    struct {
      const char *ptr;
      size_t len;
    } string;
    struct {
      g2_json *items;
      size_t count;
    } list;
  } as;
};

typedef struct parser {
  const unsigned char *text;
  size_t len, pos;
  const char *source;
  int depth;
  int filling; /* 0: first pass (count), 1: second pass (fill) */
  /* First pass results, read back in the second pass. */
  size_t n_nodes, n_string_bytes;
  size_t *sizes; /* element count of each container, in opening order */
  size_t n_containers, cap_containers;
  /* Second pass cursors. */
  size_t next_container;
  g2_json *nodes;
  size_t next_node;
  char *strings;
  size_t next_string;
} parser;

static int fail_at(const parser *p, size_t pos, const char *problem) {
  size_t line = 1, line_start = 0;
  for (size_t i = 0; i < pos && i < p->len; i++)
    if (p->text[i] == '\n') {
      line++;
      line_start = i + 1;
    }
  return g2_fail(GPT2_E_FORMAT, "%s: line %zu, column %zu: %s", p->source, line,
                 pos - line_start + 1, problem);
}

static void skip_whitespace(parser *p) {
  while (p->pos < p->len) {
    unsigned char c = p->text[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    p->pos++;
  }
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

static int hex_value(unsigned char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Reads the 4 hex digits of a \u escape at p->pos (just after "\u"). */
static int read_hex4(parser *p, uint32_t *out) {
  if (p->len - p->pos < 4) return fail_at(p, p->pos, "\\u escape needs 4 hex digits");
  uint32_t value = 0;
  for (int i = 0; i < 4; i++) {
    int digit = hex_value(p->text[p->pos + (size_t)i]);
    if (digit < 0) return fail_at(p, p->pos, "\\u escape needs 4 hex digits");
    value = value * 16 + (uint32_t)digit;
  }
  p->pos += 4;
  *out = value;
  return GPT2_OK;
}

/* Decodes the \u escape(s) after a backslash-u, joining surrogate pairs. */
static int parse_unicode_escape(parser *p, uint32_t *cp) {
  size_t escape_start = p->pos - 2;
  uint32_t unit;
  int status = read_hex4(p, &unit);
  if (status) return status;
  if (unit >= 0xdc00 && unit <= 0xdfff)
    return fail_at(p, escape_start, "lone low surrogate escape (\\uDC00-\\uDFFF without a preceding high surrogate)");
  if (unit >= 0xd800 && unit <= 0xdbff) {
    uint32_t low;
    if (p->len - p->pos < 2 || p->text[p->pos] != '\\' || p->text[p->pos + 1] != 'u')
      return fail_at(p, escape_start, "lone high surrogate escape (\\uD800-\\uDBFF not followed by a low surrogate escape)");
    p->pos += 2;
    status = read_hex4(p, &low);
    if (status) return status;
    if (low < 0xdc00 || low > 0xdfff)
      return fail_at(p, escape_start, "lone high surrogate escape (\\uD800-\\uDBFF not followed by a low surrogate escape)");
    unit = 0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00);
  }
  *cp = unit;
  return GPT2_OK;
}

/* Parses a string at p->pos (on the opening quote). In the first pass it
   only measures; in the second it writes the decoded bytes and a NUL into
   the string area and returns where they are. */
static int parse_string(parser *p, const char **out_ptr, size_t *out_len) {
  size_t start = p->pos;
  const unsigned char *text = p->text;
  unsigned char *dst = p->filling ? (unsigned char *)p->strings + p->next_string : NULL;
  size_t n = 0;
  p->pos++;
  for (;;) {
    /* Fast path: a run of plain printable ASCII. */
    size_t run = p->pos;
    while (run < p->len && text[run] >= 0x20 && text[run] < 0x80 && text[run] != '"' &&
           text[run] != '\\')
      run++;
    if (dst) memcpy(dst + n, text + p->pos, run - p->pos);
    n += run - p->pos;
    p->pos = run;
    if (p->pos >= p->len) return fail_at(p, start, "unterminated string");
    unsigned char c = text[p->pos];
    if (c == '"') {
      p->pos++;
      break;
    }
    if (c < 0x20) return fail_at(p, p->pos, "control character in string (must be escaped)");
    if (c >= 0x80) {
      uint32_t cp;
      size_t k = g2_utf8_decode(text + p->pos, p->len - p->pos, &cp);
      if (k == 0) return fail_at(p, p->pos, "invalid UTF-8 in string");
      if (dst) memcpy(dst + n, text + p->pos, k);
      n += k;
      p->pos += k;
      continue;
    }
    /* A backslash escape. */
    if (p->len - p->pos < 2) return fail_at(p, start, "unterminated string");
    unsigned char e = text[p->pos + 1];
    unsigned char decoded[4];
    size_t k = 1;
    p->pos += 2;
    switch (e) {
      case '"': decoded[0] = '"'; break;
      case '\\': decoded[0] = '\\'; break;
      case '/': decoded[0] = '/'; break;
      case 'b': decoded[0] = '\b'; break;
      case 'f': decoded[0] = '\f'; break;
      case 'n': decoded[0] = '\n'; break;
      case 'r': decoded[0] = '\r'; break;
      case 't': decoded[0] = '\t'; break;
      case 'u': {
        uint32_t cp = 0;
        int status = parse_unicode_escape(p, &cp);
        if (status) return status;
        k = g2_utf8_encode(cp, decoded); /* never a lone surrogate: rejected above */
        break;
      }
      default: return fail_at(p, p->pos - 2, "invalid escape in string");
    }
    if (dst) memcpy(dst + n, decoded, k);
    n += k;
  }
  if (dst) {
    dst[n] = '\0';
    *out_ptr = (const char *)dst;
    p->next_string += n + 1;
  } else {
    p->n_string_bytes += n + 1;
    *out_ptr = NULL;
  }
  *out_len = n;
  return GPT2_OK;
}

/* strtod reading '.' whatever the process locale: the number is copied
   with '.' replaced by the locale's decimal point, learnt from snprintf
   (unlike localeconv, safe to call from any thread). */
static int text_to_double(const unsigned char *text, size_t len, double *out) {
  char probe[16];
  int probe_len = snprintf(probe, sizeof probe, "%.1f", 0.5); /* "0.5", "0,5", ... */
  const char *point = ".";
  size_t point_len = 1;
  if (probe_len >= 3 && (size_t)probe_len < sizeof probe) {
    point = probe + 1;
    point_len = (size_t)probe_len - 2;
  }
  char local[128];
  size_t cap = len * point_len + 1;
  char *buffer = cap <= sizeof local ? local : g2_malloc(cap);
  if (!buffer) return g2_fail(GPT2_E_NOMEM, "out of memory converting a JSON number");
  size_t n = 0;
  for (size_t i = 0; i < len; i++) {
    if (text[i] == '.') {
      memcpy(buffer + n, point, point_len);
      n += point_len;
    } else {
      buffer[n++] = (char)text[i];
    }
  }
  buffer[n] = '\0';
  char *end;
  *out = strtod(buffer, &end);
  int complete = end == buffer + n;
  if (buffer != local) g2_free(buffer);
  return complete ? GPT2_OK : GPT2_E_FORMAT;
}

static int parse_number(parser *p, g2_json *node) {
  const unsigned char *text = p->text;
  size_t start = p->pos;
  int negative = 0, is_integer = 1;
  if (text[p->pos] == '-') {
    negative = 1;
    p->pos++;
  }
  if (p->pos >= p->len || !is_digit(text[p->pos]))
    return fail_at(p, p->pos, "invalid number (expected a digit)");
  uint64_t magnitude = 0;
  int overflow = 0;
  if (text[p->pos] == '0') {
    p->pos++;
    if (p->pos < p->len && is_digit(text[p->pos]))
      return fail_at(p, start, "invalid number (leading zero)");
  } else {
    while (p->pos < p->len && is_digit(text[p->pos])) {
      unsigned digit = (unsigned)(text[p->pos] - '0');
      if (magnitude > (UINT64_MAX - digit) / 10) overflow = 1;
      else magnitude = magnitude * 10 + digit;
      p->pos++;
    }
  }
  if (p->pos < p->len && text[p->pos] == '.') {
    is_integer = 0;
    p->pos++;
    if (p->pos >= p->len || !is_digit(text[p->pos]))
      return fail_at(p, p->pos, "invalid number (expected a digit after '.')");
    while (p->pos < p->len && is_digit(text[p->pos])) p->pos++;
  }
  if (p->pos < p->len && (text[p->pos] == 'e' || text[p->pos] == 'E')) {
    is_integer = 0;
    p->pos++;
    if (p->pos < p->len && (text[p->pos] == '+' || text[p->pos] == '-')) p->pos++;
    if (p->pos >= p->len || !is_digit(text[p->pos]))
      return fail_at(p, p->pos, "invalid number (expected a digit in the exponent)");
    while (p->pos < p->len && is_digit(text[p->pos])) p->pos++;
  }
  uint64_t int64_limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
  int64_t integer = 0;
  double value = 0.0;
  if (is_integer && !overflow && magnitude <= int64_limit) {
    /* exact, and the int64 -> double conversion rounds to nearest */
    if (!negative) integer = (int64_t)magnitude;
    else if (magnitude > 0) integer = -(int64_t)(magnitude - 1) - 1;
    value = (double)integer;
    if (negative && magnitude == 0) value = -0.0;
  } else {
    is_integer = 0;
    int status = text_to_double(text + start, p->pos - start, &value);
    if (status == GPT2_E_NOMEM) return status;
    if (status || isinf(value)) return fail_at(p, start, "number out of range");
  }
  if (node) {
    node->type = G2_JSON_NUMBER;
    node->is_integer = is_integer;
    node->as.number.value = value;
    node->as.number.integer = integer;
  }
  return GPT2_OK;
}

static int parse_literal(parser *p, const char *word, g2_json_type type, g2_json *node) {
  size_t n = strlen(word);
  if (p->len - p->pos < n || memcmp(p->text + p->pos, word, n) != 0)
    return fail_at(p, p->pos, "invalid literal (expected true, false or null)");
  p->pos += n;
  if (node) node->type = type;
  return GPT2_OK;
}

static int parse_value(parser *p, g2_json *node);

/* First pass: appends a container's size slot; second pass: reads it and
   reserves that many consecutive nodes for the children. */
static int open_container(parser *p, size_t *slot, g2_json *node, g2_json_type type) {
  if (!p->filling) {
    if (p->n_containers == p->cap_containers) {
      size_t cap = p->cap_containers ? p->cap_containers * 2 : 64;
      size_t *sizes = cap <= SIZE_MAX / sizeof *sizes
                          ? g2_realloc(p->sizes, cap * sizeof *sizes) : NULL;
      if (!sizes)
        return g2_fail(GPT2_E_NOMEM, "%s: out of memory parsing JSON", p->source);
      p->sizes = sizes;
      p->cap_containers = cap;
    }
    *slot = p->n_containers++;
    p->sizes[*slot] = 0;
    return GPT2_OK;
  }
  size_t count = p->sizes[p->next_container++];
  node->type = type;
  node->is_integer = 0;
  node->as.list.items = count ? p->nodes + p->next_node : NULL;
  node->as.list.count = count;
  p->next_node += count;
  return GPT2_OK;
}

/* The node of the i-th child: NULL in the first pass, which counts it. */
static g2_json *child_node(parser *p, size_t slot, g2_json *node, size_t i) {
  if (!p->filling) {
    p->sizes[slot]++;
    p->n_nodes++;
    return NULL;
  }
  g2_json *child = &node->as.list.items[i];
  child->key = NULL;
  child->key_len = 0;
  return child;
}

static int parse_container(parser *p, g2_json *node, int is_object) {
  unsigned char close = is_object ? '}' : ']';
  if (++p->depth > G2_JSON_MAX_DEPTH)
    return fail_at(p, p->pos, "nesting deeper than 128 levels");
  size_t slot = 0;
  int status = open_container(p, &slot, node, is_object ? G2_JSON_OBJECT : G2_JSON_ARRAY);
  if (status) return status;
  p->pos++;
  skip_whitespace(p);
  if (p->pos < p->len && p->text[p->pos] == close) {
    p->pos++;
    p->depth--;
    return GPT2_OK;
  }
  for (size_t i = 0;; i++) {
    g2_json *child = child_node(p, slot, node, i);
    if (is_object) {
      if (p->pos >= p->len || p->text[p->pos] != '"')
        return fail_at(p, p->pos, "expected a string key in object");
      const char *key;
      size_t key_len;
      status = parse_string(p, &key, &key_len);
      if (status) return status;
      if (child) {
        child->key = key;
        child->key_len = key_len;
      }
      skip_whitespace(p);
      if (p->pos >= p->len || p->text[p->pos] != ':')
        return fail_at(p, p->pos, "expected ':' after key in object");
      p->pos++;
      skip_whitespace(p);
    }
    status = parse_value(p, child);
    if (status) return status;
    skip_whitespace(p);
    if (p->pos >= p->len)
      return fail_at(p, p->pos, is_object ? "unterminated object" : "unterminated array");
    if (p->text[p->pos] == close) {
      p->pos++;
      break;
    }
    if (p->text[p->pos] != ',')
      return fail_at(p, p->pos, is_object ? "expected ',' or '}' in object"
                                          : "expected ',' or ']' in array");
    p->pos++;
    skip_whitespace(p);
  }
  p->depth--;
  return GPT2_OK;
}

/* Parses the value at p->pos (whitespace already skipped) into `node`
   (NULL in the first pass). */
static int parse_value(parser *p, g2_json *node) {
  if (p->pos >= p->len) return fail_at(p, p->pos, "unexpected end of input (expected a value)");
  switch (p->text[p->pos]) {
    case '{': return parse_container(p, node, 1);
    case '[': return parse_container(p, node, 0);
    case '"': {
      const char *ptr;
      size_t len;
      int status = parse_string(p, &ptr, &len);
      if (status || !node) return status;
      node->type = G2_JSON_STRING;
      node->is_integer = 0;
      node->as.string.ptr = ptr;
      node->as.string.len = len;
      return GPT2_OK;
    }
    case 't': return parse_literal(p, "true", G2_JSON_TRUE, node);
    case 'f': return parse_literal(p, "false", G2_JSON_FALSE, node);
    case 'n': return parse_literal(p, "null", G2_JSON_NULL, node);
    default:
      if (p->text[p->pos] == '-' || is_digit(p->text[p->pos])) return parse_number(p, node);
      return fail_at(p, p->pos, "unexpected character (expected a value)");
  }
}

/* One pass over the whole text: a value, then only whitespace. */
static int parse_document(parser *p, g2_json *root) {
  p->pos = 0;
  p->depth = 0;
  if (p->len >= 3 && memcmp(p->text, "\xef\xbb\xbf", 3) == 0) p->pos = 3;
  skip_whitespace(p);
  if (p->pos >= p->len) return fail_at(p, p->pos, "empty input (expected a value)");
  int status = parse_value(p, root);
  if (status) return status;
  skip_whitespace(p);
  if (p->pos < p->len) return fail_at(p, p->pos, "unexpected data after the JSON value");
  return GPT2_OK;
}

int g2_json_parse(const char *text, size_t len, const char *source, g2_json **out) {
  *out = NULL;
  parser p;
  memset(&p, 0, sizeof p);
  p.text = (const unsigned char *)(text ? text : "");
  p.len = text ? len : 0;
  p.source = source;
  p.n_nodes = 1;
  int status = parse_document(&p, NULL);
  if (status) {
    g2_free(p.sizes);
    return status;
  }
  size_t node_bytes = p.n_nodes * sizeof(g2_json); /* bounded by len */
  g2_json *block = g2_malloc(node_bytes + p.n_string_bytes);
  if (!block) {
    g2_free(p.sizes);
    return g2_fail(GPT2_E_NOMEM, "%s: out of memory parsing JSON", source);
  }
  p.filling = 1;
  p.nodes = block;
  p.next_node = 1;
  p.strings = (char *)block + node_bytes;
  block->key = NULL;
  block->key_len = 0;
  status = parse_document(&p, block);
  g2_free(p.sizes);
  if (status) { /* only an allocation failure can differ from pass one */
    g2_free(block);
    return status;
  }
  *out = block;
  return GPT2_OK;
}

void g2_json_free(g2_json *root) { g2_free(root); }

g2_json_type g2_json_type_of(const g2_json *node) { return node->type; }

const char *g2_json_type_name(g2_json_type type) {
  switch (type) {
    case G2_JSON_NULL: return "null";
    case G2_JSON_FALSE:
    case G2_JSON_TRUE: return "boolean";
    case G2_JSON_NUMBER: return "number";
    case G2_JSON_STRING: return "string";
    case G2_JSON_ARRAY: return "array";
    case G2_JSON_OBJECT: return "object";
  }
  return "unknown";
}

double g2_json_number(const g2_json *node) {
  return node->type == G2_JSON_NUMBER ? node->as.number.value : 0.0;
}

int g2_json_int64(const g2_json *node, int64_t *out) {
  if (node->type != G2_JSON_NUMBER || !node->is_integer) return 0;
  *out = node->as.number.integer;
  return 1;
}

const char *g2_json_string(const g2_json *node, size_t *len) {
  if (node->type != G2_JSON_STRING) return NULL;
  if (len) *len = node->as.string.len;
  return node->as.string.ptr;
}

static int is_container(const g2_json *node) {
  return node->type == G2_JSON_ARRAY || node->type == G2_JSON_OBJECT;
}

size_t g2_json_count(const g2_json *node) {
  return is_container(node) ? node->as.list.count : 0;
}

const g2_json *g2_json_at(const g2_json *node, size_t i) {
  if (!is_container(node) || i >= node->as.list.count) return NULL;
  return &node->as.list.items[i];
}

const char *g2_json_key_at(const g2_json *node, size_t i, size_t *len) {
  if (node->type != G2_JSON_OBJECT || i >= node->as.list.count) return NULL;
  if (len) *len = node->as.list.items[i].key_len;
  return node->as.list.items[i].key;
}

const g2_json *g2_json_get(const g2_json *object, const char *key) {
  if (object->type != G2_JSON_OBJECT) return NULL;
  size_t key_len = strlen(key);
  for (size_t i = object->as.list.count; i-- > 0;) {
    const g2_json *member = &object->as.list.items[i];
    if (member->key_len == key_len && memcmp(member->key, key, key_len) == 0) return member;
  }
  return NULL;
}
