#include "core/alloc.h"

#include <stdint.h>
#include <stdlib.h>

static _Thread_local size_t fail_countdown; /* 0: never fail */
static _Thread_local size_t allocations_made;

static int should_fail(void) {
  allocations_made++;
  if (fail_countdown == 0) return 0;
  return --fail_countdown == 0;
}

size_t g2_alloc_fail_at(size_t n) {
  size_t made = allocations_made;
  allocations_made = 0;
  fail_countdown = n;
  return made;
}

void *g2_malloc(size_t size) {
  if (should_fail()) return NULL;
  return malloc(size ? size : 1);
}

void *g2_malloc_array(size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / size) return NULL;
  return g2_malloc(count * size);
}

void *g2_calloc(size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / size) return NULL;
  if (should_fail()) return NULL;
  return calloc(count ? count : 1, size ? size : 1);
}

void *g2_realloc(void *ptr, size_t size) {
  if (should_fail()) return NULL;
  return realloc(ptr, size ? size : 1);
}

void g2_free(void *ptr) { free(ptr); }
