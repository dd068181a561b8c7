#include "tokenizer/pretokenize.h"

#include <stdint.h>

#include "tokenizer/unicode_tables.h"
#include "core/utf8.h"

/* The class of the character at text[pos]; stores its length in bytes. */
static inline int char_class(const unsigned char *text, size_t len, size_t pos,
                             size_t *n) {
  uint32_t cp;
  if (text[pos] < 0x80) {
    *n = 1;
    return g2_cp_ascii_class[text[pos]];
  }
  *n = g2_utf8_decode(text + pos, len - pos, &cp);
  if (*n == 0) {
    *n = 1;
    return G2_CP_OTHER; /* an invalid byte */
  }
  return g2_cp_class(cp);
}

/* The end of the run of characters of class `cls` starting at pos. */
static size_t run_end(const unsigned char *text, size_t len, size_t pos,
                      int cls) {
  while (pos < len) {
    size_t n;
    if (char_class(text, len, pos, &n) != cls) break;
    pos += n;
  }
  return pos;
}

/* 's 't 're 've 'm 'll 'd, lower case only (encoder.py's quirk). Returns the
   length of the contraction at text[pos] (which is '\''), or 0. */
static size_t contraction(const unsigned char *text, size_t len, size_t pos) {
  if (pos + 1 >= len) return 0;
  unsigned char c1 = text[pos + 1];
  if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd') return 2;
  if (pos + 2 >= len) return 0;
  unsigned char c2 = text[pos + 2];
  if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') ||
      (c1 == 'l' && c2 == 'l'))
    return 3;
  return 0;
}

size_t g2_pretokenize_next(const unsigned char *text, size_t len, size_t pos) {
  if (text[pos] == '\'') {
    size_t n = contraction(text, len, pos);
    if (n) return pos + n;
  }
  size_t n;
  int cls = char_class(text, len, pos, &n);
  /* ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: one optional ASCII space,
     then a run of the class of the character after it. */
  if (text[pos] == ' ' && pos + 1 < len) {
    size_t n_next;
    int next_cls = char_class(text, len, pos + 1, &n_next);
    if (next_cls != G2_CP_SPACE) return run_end(text, len, pos + 1, next_cls);
  }
  if (cls != G2_CP_SPACE) return run_end(text, len, pos, cls);
  /* `\s+(?!\S)|\s+`: a whitespace run; before a non-space, the run gives its
     last character back (to become the next piece's optional space) when
     that leaves at least one. */
  size_t last = pos, end = pos + n;
  while (end < len) {
    size_t n_next;
    if (char_class(text, len, end, &n_next) != G2_CP_SPACE) break;
    last = end;
    end += n_next;
  }
  if (end < len && last > pos) return last;
  return end;
}
