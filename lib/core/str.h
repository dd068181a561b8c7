/* A byte string that points into memory owned elsewhere (a mapped file,
   a vocabulary table): not NUL-terminated. */
#ifndef G2_STR_H
#define G2_STR_H

#include <stddef.h>
#include <string.h>

typedef struct g2_str {
  const char *ptr;
  size_t len;
} g2_str;

/* The first `needle` in `haystack`, or NULL: memmem, which the C libraries
   of Linux, the BSDs and macOS have and Windows' runtime lacks (there, a
   memchr-and-compare loop). */
static inline const char *g2_memmem(const char *haystack, size_t len, const char *needle,
                                    size_t needle_len) {
#if defined(_WIN32)
  if (needle_len == 0) return haystack;
  const char *end = haystack + len;
  for (const char *at = haystack; (size_t)(end - at) >= needle_len; at++) {
    at = memchr(at, needle[0], (size_t)(end - at) - needle_len + 1);
    if (!at) return NULL;
    if (memcmp(at, needle, needle_len) == 0) return at;
  }
  return NULL;
#else
  return memmem(haystack, len, needle, needle_len);
#endif
}

#endif
