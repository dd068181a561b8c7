/* Every allocation of the library goes through here, so that tests can make
   the Nth one fail (allocation-failure injection) and walk every error path. */
#ifndef G2_ALLOC_H
#define G2_ALLOC_H

#include <stddef.h>

void *g2_malloc(size_t size);
void *g2_calloc(size_t count, size_t size); /* overflow-checked */
void *g2_realloc(void *ptr, size_t size);
/* count * size bytes, NULL on overflow or failure. */
void *g2_malloc_array(size_t count, size_t size);
void g2_free(void *ptr);
/* `size` bytes starting on a 2 MiB boundary, which the kernel is asked to
   back with transparent huge pages (Linux, THP enabled "always" or
   "madvise"): a decode step streams every weight once, and on 4 KiB pages
   it pays a TLB miss per page and the hardware prefetcher stops at each
   page end (one thread, the same Q4_0 product alternated: 15.4-16.6 GB/s
   from 4 KiB pages, 17.5-18.0 from huge pages). Below 2 MiB, which no huge
   page can back, on a 64-byte boundary instead, without the padding.
   *block receives what g2_free takes. */
void *g2_malloc_huge(size_t size, void **block);

/* count * size zeroed bytes straight from the system (anonymous mmap), whose
   pages become resident only when first written, whatever malloc's state:
   glibc serves even megabytes from its heap, zeroed by memset (all
   resident), once a large block has been freed (its mmap threshold grows).
   Huge pages are declined, so that resident memory follows the bytes
   written to 4 KiB. For KV caches, which fill from the start. Freed with
   g2_free_pages(ptr, count, size) only. */
void *g2_calloc_pages(size_t count, size_t size);
void g2_free_pages(void *ptr, size_t count, size_t size);

/* Test hook, hidden like every g2_ symbol: reachable only from programs
   linked with the static library (in the shared one the countdown is never
   set; each allocation pays one thread-local test). The `n`-th allocation
   from now in this thread fails (n = 1: the next one); n = 0 disables.
   Returns how many allocations were made since the last call, so a test
   can count them. */
size_t g2_alloc_fail_at(size_t n);
/* Blocks allocated and not yet freed, across all threads (leak checks). */
long g2_alloc_live_blocks(void);
/* Bytes allocated and not yet freed, all threads: each block counted as
   malloc_usable_size gives it (its request rounded up to the allocator's
   granule), KV pages as mapped. g2_alloc_peak_reset() starts a new peak at
   the live bytes now, which it returns; g2_alloc_peak_bytes() is the most
   live at once since. 0 everywhere where the C library cannot tell a
   block's size (not Linux): tests then skip their bounds. */
size_t g2_alloc_peak_reset(void);
size_t g2_alloc_peak_bytes(void);

#endif
