/* 64-bit file sizes on 32-bit systems too, so that a file of 4 GiB or more
   is seen whole and refused, not read as a prefix of itself. */
#define _FILE_OFFSET_BITS 64

#include "core/file.h"

#include <string.h>

#ifndef _WIN32 /* Windows: lib/core/file_win32.c */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#endif

#include "core/alloc.h"
#include "core/error.h"
#include "gpt2.h"

int g2_map_file(const char *path, g2_mapping *out) { return g2_load_file(path, 1, out); }

#ifndef _WIN32 /* Windows: lib/core/file_win32.c */

/* Reads the whole of fd (size bytes) into a new block. */
static int read_copy(int fd, const char *path, size_t size, g2_mapping *out) {
  void *block;
  unsigned char *copy = g2_malloc_huge(size, &block);
  if (!copy) return g2_fail(GPT2_E_NOMEM, "%s: out of memory for a %zu-byte copy", path, size);
  size_t done = 0;
  while (done < size) {
    ssize_t got = read(fd, copy + done, size - done);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      int err = got < 0 ? errno : EIO;
      g2_free(block);
      return g2_fail(GPT2_E_IO, "%s: cannot read: %s", path, strerror(err));
    }
    done += (size_t)got;
  }
  out->data = copy;
  out->size = size;
  out->is_copy = 1;
  out->block = block;
  return GPT2_OK;
}

/* Opens `path` for reading without blocking on a FIFO or device (open(2)
   of a FIFO waits for a writer), then accepts regular files only and clears
   O_NONBLOCK again before any read. *size: the file's size, which must fit
   the address space (on a 32-bit system a file of 4 GiB or more does not). */
static int open_regular(const char *path, int *fd_out, size_t *size) {
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0) return g2_fail(GPT2_E_IO, "%s: cannot open: %s", path, strerror(errno));
  struct stat st;
  int status = GPT2_OK, flags;
  if (fstat(fd, &st) != 0)
    status = g2_fail(GPT2_E_IO, "%s: cannot stat: %s", path, strerror(errno));
  else if (!S_ISREG(st.st_mode))
    status = g2_fail(GPT2_E_IO, "%s: not a regular file", path);
  else if ((uintmax_t)st.st_size > SIZE_MAX)
    status = g2_fail(GPT2_E_IO, "%s: %jd bytes do not fit this system's address space", path,
                     (intmax_t)st.st_size);
  else if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0)
    status = g2_fail(GPT2_E_IO, "%s: cannot clear O_NONBLOCK: %s", path, strerror(errno));
  if (status) {
    close(fd);
    return status;
  }
  *fd_out = fd;
  *size = (size_t)st.st_size;
  return GPT2_OK;
}

int g2_load_file(const char *path, int use_mmap, g2_mapping *out) {
  out->data = NULL;
  out->size = 0;
  out->is_copy = 0;
  out->block = NULL;
  int fd = -1;
  size_t size = 0;
  int status = open_regular(path, &fd, &size);
  if (status) return status;
  if (size == 0) {
    close(fd);
    return GPT2_OK;
  }
  if (!use_mmap) {
    status = read_copy(fd, path, size, out);
    close(fd);
    return status;
  }
  void *addr = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
  int err = errno;
  close(fd);
  if (addr == MAP_FAILED) return g2_fail(GPT2_E_IO, "%s: cannot map: %s", path, strerror(err));
  out->data = addr;
  out->size = size;
  return GPT2_OK;
}

void g2_unmap_file(g2_mapping *map) {
  if (map->is_copy)
    g2_free(map->block);
  else if (map->data)
    munmap((void *)map->data, map->size);
  map->is_copy = 0;
  map->block = NULL;
  map->data = NULL;
  map->size = 0;
}

int g2_is_directory(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int g2_create_temporary(const char *path, char *tmp, size_t cap, FILE **out) {
  for (int attempt = 0; attempt < 100; attempt++) {
    int n = snprintf(tmp, cap, "%s.%ld.%d.tmp", path, (long)getpid(), attempt);
    if (n < 0 || (size_t)n >= cap) return g2_fail(GPT2_E_INVALID, "%s: path too long", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0 && errno == EEXIST) continue;
    if (fd < 0) return g2_fail(GPT2_E_IO, "%s: cannot create: %s", tmp, strerror(errno));
    *out = fdopen(fd, "wb");
    if (*out) return GPT2_OK;
    int err = errno;
    close(fd);
    unlink(tmp);
    return g2_fail(GPT2_E_IO, "%s: cannot open: %s", tmp, strerror(err));
  }
  return g2_fail(GPT2_E_IO, "%s: cannot create a temporary file next to it", path);
}

int g2_replace_file(const char *from, const char *to) { return rename(from, to) == 0 ? 0 : errno; }

void g2_remove_file(const char *path) { unlink(path); }
#endif

char *g2_path_join(const char *dir, const char *name) {
  size_t dir_len = strlen(dir), name_len = strlen(name);
  char *path = g2_malloc(dir_len + 1 + name_len + 1);
  if (!path) return NULL;
  memcpy(path, dir, dir_len);
  path[dir_len] = '/';
  memcpy(path + dir_len + 1, name, name_len + 1);
  return path;
}
