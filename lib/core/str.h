/* A byte string that points into memory owned elsewhere (a mapped file,
   a vocabulary table): not NUL-terminated. */
#ifndef G2_STR_H
#define G2_STR_H

#include <stddef.h>

typedef struct g2_str {
  const char *ptr;
  size_t len;
} g2_str;

#endif
