/* Strict UTF-8 decoding (RFC 3629): no overlongs, no surrogates, nothing
   above U+10FFFF, no truncated sequences. */
#ifndef G2_UTF8_H
#define G2_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Decodes the sequence starting at s[0] (len > 0 bytes available). Returns
   its length (1..4) and stores the code point, or returns 0 when s[0] does
   not start a valid sequence. */
static inline size_t g2_utf8_decode(const unsigned char *s, size_t len,
                                    uint32_t *cp) {
  unsigned char b0 = s[0];
  if (b0 < 0x80) {
    *cp = b0;
    return 1;
  }
  size_t n;
  uint32_t min, value;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2, min = 0x80, value = b0 & 0x1Fu;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3, min = 0x800, value = b0 & 0x0Fu;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4, min = 0x10000, value = b0 & 0x07u;
  } else {
    return 0; /* continuation byte, C0, C1 or F5..FF */
  }
  if (len < n) return 0;
  for (size_t i = 1; i < n; i++) {
    if ((s[i] & 0xC0u) != 0x80u) return 0;
    value = (value << 6) | (s[i] & 0x3Fu);
  }
  if (value < min || value > 0x10FFFF || (value >= 0xD800 && value <= 0xDFFF))
    return 0;
  *cp = value;
  return n;
}

/* Encodes a code point (<= U+10FFFF, not a surrogate); returns 1..4. */
static inline size_t g2_utf8_encode(uint32_t cp, unsigned char *out) {
  if (cp < 0x80) {
    out[0] = (unsigned char)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (unsigned char)(0xC0 | (cp >> 6));
    out[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (unsigned char)(0xE0 | (cp >> 12));
    out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (unsigned char)(0xF0 | (cp >> 18));
  out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

#endif
