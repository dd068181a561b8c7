/* Read-only file mappings. */
#ifndef G2_FILE_H
#define G2_FILE_H

#include <stddef.h>
#include <stdio.h>

typedef struct g2_mapping {
  const unsigned char *data; /* NULL for an empty file */
  size_t size;
  int is_copy; /* data is a copy in `block`, not a mapping */
  void *block; /* what g2_free takes, for a copy */
} g2_mapping;

/* Maps `path` read-only. GPT2_E_IO with a message naming the path on
   failure: not a regular file (a FIFO or device is refused without
   blocking in open), larger than the address space (4 GiB or more on a
   32-bit system), unreadable. An empty file maps to {NULL, 0}. A mapping
   reads the file as it is at each access: if another process truncates it,
   touching the lost pages raises SIGBUS (docs/reliability.md). */
int g2_map_file(const char *path, g2_mapping *out);
/* The same, or with use_mmap == 0 the file read into memory (for file
   systems where mapping is slow or unsafe, or to keep the pages private),
   on huge pages where the system gives them (g2_malloc_huge: a mapped
   file's pages are 4 KiB, and the weights used in place stream faster
   from huge pages, docs/performance.md). GPT2_E_NOMEM if the copy cannot
   be allocated. */
int g2_load_file(const char *path, int use_mmap, g2_mapping *out);
void g2_unmap_file(g2_mapping *map);

/* The functions above and below this line are the ones with a POSIX body
   (core/file.c) and a Win32 one (core/file_win32.c: paths are UTF-8,
   converted to UTF-16 for the wide API). */

/* 1 if path names a directory (following links), else 0. */
int g2_is_directory(const char *path);
/* Creates a new file "path.PID.N.tmp" next to `path` (exclusively: never
   someone else's), its name written to tmp[cap], open for binary writing
   in *out. GPT2_E_IO (or GPT2_E_INVALID: name too long) with a message. */
int g2_create_temporary(const char *path, char *tmp, size_t cap, FILE **out);
/* Renames `from` to `to`, replacing `to` if it exists. 0, or an errno value. */
int g2_replace_file(const char *from, const char *to);
/* Deletes path, if it can (cleanup after a failure: errors are ignored). */
void g2_remove_file(const char *path);

/* Joins dir and name with '/', in a new g2_malloc'd string (NULL: no memory). */
char *g2_path_join(const char *dir, const char *name);

#endif
