#include "core/alloc.h"

#include <stdint.h>
#include <stdlib.h>
#if defined(_WIN32)
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <malloc.h> /* _msize */
#include <windows.h>
#define BLOCK_BYTES(ptr) _msize(ptr)
#else
#include <sys/mman.h>
#endif
#if defined(__linux__)
#include <malloc.h> /* malloc_usable_size: glibc and musl */
#define BLOCK_BYTES(ptr) malloc_usable_size(ptr)
#elif !defined(_WIN32)
#define BLOCK_BYTES(ptr) ((void)(ptr), (size_t)0) /* bytes not counted */
#endif

/* Test hooks: a per-thread countdown to an injected failure, a count of
   live blocks (all threads) so tests can check that nothing leaks, and of
   live bytes with their peak, so tests can bound what an input makes the
   library allocate. */
static _Thread_local size_t fail_countdown; /* 0: never fail */
static _Thread_local size_t allocations_made;
static long live_blocks;
static size_t live_bytes, peak_bytes;

static void add_bytes(size_t n) {
  size_t now = __atomic_add_fetch(&live_bytes, n, __ATOMIC_RELAXED);
  size_t peak = __atomic_load_n(&peak_bytes, __ATOMIC_RELAXED);
  while (now > peak &&
         !__atomic_compare_exchange_n(&peak_bytes, &peak, now, 1, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
  }
}

static void sub_bytes(size_t n) { __atomic_sub_fetch(&live_bytes, n, __ATOMIC_RELAXED); }

static int should_fail(void) {
  allocations_made++;
  if (fail_countdown == 0) return 0;
  return --fail_countdown == 0;
}

static void *counted(void *block) {
  if (block) {
    __atomic_fetch_add(&live_blocks, 1, __ATOMIC_RELAXED);
    add_bytes(BLOCK_BYTES(block));
  }
  return block;
}

size_t g2_alloc_fail_at(size_t n) {
  size_t made = allocations_made;
  allocations_made = 0;
  fail_countdown = n;
  return made;
}

long g2_alloc_live_blocks(void) { return __atomic_load_n(&live_blocks, __ATOMIC_RELAXED); }

size_t g2_alloc_peak_reset(void) {
  size_t now = __atomic_load_n(&live_bytes, __ATOMIC_RELAXED);
  __atomic_store_n(&peak_bytes, now, __ATOMIC_RELAXED);
  return now;
}

size_t g2_alloc_peak_bytes(void) { return __atomic_load_n(&peak_bytes, __ATOMIC_RELAXED); }

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
  if (!ptr) return counted(malloc(size ? size : 1));
  size_t old_bytes = BLOCK_BYTES(ptr);
  void *block = realloc(ptr, size ? size : 1);
  if (block) {
    add_bytes(BLOCK_BYTES(block)); /* first: the peak sees both while realloc copies */
    sub_bytes(old_bytes);
  }
  return block;
}

void *g2_malloc_huge(size_t size, void **block) {
  enum { HUGE_PAGE = 2u << 20, LINE = 64 };
  size_t align = size < HUGE_PAGE ? LINE : HUGE_PAGE;
  *block = NULL;
  if (size > SIZE_MAX - align) return NULL;
  unsigned char *base = g2_malloc(size + align);
  if (!base) return NULL;
  uintptr_t aligned = ((uintptr_t)base + align - 1) & ~(uintptr_t)(align - 1);
#ifdef MADV_HUGEPAGE
  if (align == HUGE_PAGE) madvise((void *)aligned, size, MADV_HUGEPAGE); /* advice only: without THP, plain pages */
#endif
  *block = base;
  return base + (aligned - (uintptr_t)base);
}

void g2_free(void *ptr) {
  if (ptr) {
    __atomic_fetch_sub(&live_blocks, 1, __ATOMIC_RELAXED);
    sub_bytes(BLOCK_BYTES(ptr));
  }
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
  __atomic_fetch_add(&live_blocks, 1, __ATOMIC_RELAXED);
  add_bytes(bytes);
  return block;
}

void g2_free_pages(void *ptr, size_t count, size_t size) {
  if (!ptr) return;
  size_t bytes = count * size != 0 ? count * size : 1;
  __atomic_fetch_sub(&live_blocks, 1, __ATOMIC_RELAXED);
  sub_bytes(bytes);
#if defined(_WIN32)
  VirtualFree(ptr, 0, MEM_RELEASE);
#else
  munmap(ptr, bytes);
#endif
}
