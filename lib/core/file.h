/* Read-only file mappings. */
#ifndef G2_FILE_H
#define G2_FILE_H

#include <stddef.h>

typedef struct g2_mapping {
  const unsigned char *data; /* NULL for an empty file */
  size_t size;
} g2_mapping;

/* Maps `path` read-only. GPT2_E_IO with a message naming the path on
   failure. An empty file maps to {NULL, 0}. */
int g2_map_file(const char *path, g2_mapping *out);
void g2_unmap_file(g2_mapping *map);

/* Joins dir and name with '/', in a new g2_malloc'd string (NULL: no memory). */
char *g2_path_join(const char *dir, const char *name);

#endif
