#include "core/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>
#else
#include <sys/mman.h>
#endif

/* Test hooks: a per-thread countdown to an injected failure, and a count of
   live blocks (all threads) so tests can check that nothing leaks. */
static _Thread_local size_t fail_countdown; /* 0: never fail */
static _Thread_local size_t allocations_made;
static long live_blocks;

static int should_fail(void) {
  allocations_made++;
  if (fail_countdown == 0) return 0;
  return --fail_countdown == 0;
}

static void *counted(void *block) {
  if (block) __atomic_fetch_add(&live_blocks, 1, __ATOMIC_RELAXED);
  return block;
}

size_t g2_alloc_fail_at(size_t n) {
  size_t made = allocations_made;
  allocations_made = 0;
  fail_countdown = n;
  return made;
}

long g2_alloc_live_blocks(void) { return __atomic_load_n(&live_blocks, __ATOMIC_RELAXED); }

void *g2_malloc(size_t size) {
  if (should_fail()) return NULL;
  return counted(malloc(size ? size : 1));
}

void *g2_malloc_array(size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / size) return NULL;
  return g2_malloc(count * size);
}

void *g2_calloc(size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / size) return NULL;
  if (should_fail()) return NULL;
  return counted(calloc(count ? count : 1, size ? size : 1));
}

void *g2_realloc(void *ptr, size_t size) {
  if (should_fail()) return NULL;
  void *block = realloc(ptr, size ? size : 1);
  return ptr ? block : counted(block);
}

void *g2_malloc_huge(size_t size, void **block) {
  enum { HUGE_PAGE = 2u << 20 };
  *block = NULL;
  if (size > SIZE_MAX - HUGE_PAGE) return NULL;
  unsigned char *base = g2_malloc(size + HUGE_PAGE);
  if (!base) return NULL;
  uintptr_t aligned = ((uintptr_t)base + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
#ifdef MADV_HUGEPAGE
  madvise((void *)aligned, size, MADV_HUGEPAGE); /* advice only: without THP, plain pages */
#endif
  *block = base;
  return base + (aligned - (uintptr_t)base);
}

void g2_free(void *ptr) {
  if (ptr) __atomic_fetch_sub(&live_blocks, 1, __ATOMIC_RELAXED);
  free(ptr);
}

void *g2_calloc_pages(size_t count, size_t size) {
  if (size != 0 && count > SIZE_MAX / size) return NULL;
  if (should_fail()) return NULL;
  size_t bytes = count * size != 0 ? count * size : 1;
#if defined(_WIN32)
  /* Committed pages are zero and take memory only when first touched. */
  void *block = VirtualAlloc(NULL, bytes, MEM_RESERVE | MEM_COMMIT, PAGE_READWRITE);
  if (!block) return NULL;
#else
  void *block = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (block == MAP_FAILED) return NULL;
#ifdef MADV_NOHUGEPAGE
  madvise(block, bytes, MADV_NOHUGEPAGE); /* advice only */
#endif
#endif
  return counted(block);
}

void g2_free_pages(void *ptr, size_t count, size_t size) {
  if (!ptr) return;
  __atomic_fetch_sub(&live_blocks, 1, __ATOMIC_RELAXED);
#if defined(_WIN32)
  (void)count;
  (void)size;
  VirtualFree(ptr, 0, MEM_RELEASE);
#else
  munmap(ptr, count * size != 0 ? count * size : 1);
#endif
}
