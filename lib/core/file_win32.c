/* Windows bodies of core/file.h's functions (POSIX: core/file.c). Paths are
   UTF-8, converted to UTF-16 for the wide Win32 API, so that any file name
   opens whatever the process's ANSI code page. The rules are the POSIX
   side's: regular files only (a pipe, device or directory is refused before
   any read, so nothing blocks), empty files map to {NULL, 0}. */
#ifndef WIN32_LEAN_AND_MEAN
#define WIN32_LEAN_AND_MEAN
#endif
#include <windows.h>

#include <errno.h>
#include <fcntl.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "gpt2.h"

/* path as a new malloc'd UTF-16 string, or NULL with *status GPT2_E_IO
   (not valid UTF-8) or GPT2_E_NOMEM. Plain malloc: a transient buffer,
   freed before the caller returns, like the C runtime's own inside fopen;
   the allocation-failure tests count only the library's lasting blocks. */
static wchar_t *wide_path(const char *path, int *status) {
  *status = GPT2_E_IO;
  int n = MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, NULL, 0);
  if (n <= 0) return NULL;
  wchar_t *wide = malloc((size_t)n * sizeof *wide);
  if (!wide) {
    *status = GPT2_E_NOMEM;
    return NULL;
  }
  MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, path, -1, wide, n);
  *status = GPT2_OK;
  return wide;
}

/* Fails with wide_path's status. */
static int path_fail(const char *path, int status, const char *action) {
  return status == GPT2_E_NOMEM
             ? g2_fail(GPT2_E_NOMEM, "%s: out of memory to %s it", path, action)
             : g2_fail(GPT2_E_IO, "%s: cannot %s: not a UTF-8 path", path, action);
}

/* A short English reason for GetLastError()'s code. */
static const char *win32_reason(DWORD code) {
  switch (code) {
    case ERROR_FILE_NOT_FOUND: case ERROR_PATH_NOT_FOUND: return "No such file or directory";
    case ERROR_ACCESS_DENIED: return "Permission denied";
    case ERROR_SHARING_VIOLATION: return "The file is in use";
    case ERROR_NOT_ENOUGH_MEMORY: case ERROR_OUTOFMEMORY: return "Out of memory";
    default: return "Win32 error";
  }
}

static int read_copy(HANDLE file, const char *path, size_t size, g2_mapping *out) {
  void *block;
  unsigned char *copy = g2_malloc_huge(size, &block);
  if (!copy) return g2_fail(GPT2_E_NOMEM, "%s: out of memory for a %zu-byte copy", path, size);
  size_t done = 0;
  while (done < size) {
    DWORD want = size - done > 0x40000000u ? 0x40000000u : (DWORD)(size - done), got = 0;
    if (!ReadFile(file, copy + done, want, &got, NULL) || got == 0) {
      DWORD code = GetLastError();
      g2_free(block);
      return g2_fail(GPT2_E_IO, "%s: cannot read: %s (%lu)", path, win32_reason(code),
                     (unsigned long)code);
    }
    done += got;
  }
  out->data = copy;
  out->size = size;
  out->is_copy = 1;
  out->block = block;
  return GPT2_OK;
}

/* Maps `size` bytes of file read-only (copy-on-write is not needed: the
   view is never written). */
static int map_view(HANDLE file, const char *path, size_t size, g2_mapping *out) {
  HANDLE section = CreateFileMappingW(file, NULL, PAGE_READONLY, 0, 0, NULL);
  if (!section) {
    DWORD code = GetLastError();
    return g2_fail(GPT2_E_IO, "%s: cannot map: %s (%lu)", path, win32_reason(code),
                   (unsigned long)code);
  }
  void *view = MapViewOfFile(section, FILE_MAP_READ, 0, 0, size);
  DWORD code = GetLastError();
  CloseHandle(section); /* the view keeps the section alive */
  if (!view)
    return g2_fail(GPT2_E_IO, "%s: cannot map: %s (%lu)", path, win32_reason(code),
                   (unsigned long)code);
  out->data = view;
  out->size = size;
  return GPT2_OK;
}

int g2_load_file(const char *path, int use_mmap, g2_mapping *out) {
  out->data = NULL;
  out->size = 0;
  out->is_copy = 0;
  out->block = NULL;
  int status;
  wchar_t *wide = wide_path(path, &status);
  if (!wide) return path_fail(path, status, "open");
  /* FILE_FLAG_OVERLAPPED would be needed for a read to return early on a
     pipe; instead anything but a disk file is refused before reading. */
  HANDLE file = CreateFileW(wide, GENERIC_READ, FILE_SHARE_READ | FILE_SHARE_DELETE, NULL,
                            OPEN_EXISTING, FILE_ATTRIBUTE_NORMAL, NULL);
  DWORD code = GetLastError();
  free(wide);
  if (file == INVALID_HANDLE_VALUE)
    return g2_fail(GPT2_E_IO, "%s: cannot open: %s (%lu)", path, win32_reason(code),
                   (unsigned long)code);
  BY_HANDLE_FILE_INFORMATION info;
  LARGE_INTEGER size;
  if (GetFileType(file) != FILE_TYPE_DISK || !GetFileInformationByHandle(file, &info) ||
      (info.dwFileAttributes & FILE_ATTRIBUTE_DIRECTORY))
    status = g2_fail(GPT2_E_IO, "%s: not a regular file", path);
  else if (!GetFileSizeEx(file, &size) || (uint64_t)size.QuadPart > SIZE_MAX)
    status = g2_fail(GPT2_E_IO, "%s: cannot stat", path);
  else if (size.QuadPart == 0)
    status = GPT2_OK;
  else if (!use_mmap)
    status = read_copy(file, path, (size_t)size.QuadPart, out);
  else
    status = map_view(file, path, (size_t)size.QuadPart, out);
  CloseHandle(file);
  return status;
}

void g2_unmap_file(g2_mapping *map) {
  if (map->is_copy)
    g2_free(map->block);
  else if (map->data)
    UnmapViewOfFile(map->data);
  map->is_copy = 0;
  map->block = NULL;
  map->data = NULL;
  map->size = 0;
}

int g2_is_directory(const char *path) {
  int status;
  wchar_t *wide = wide_path(path, &status);
  if (!wide) return 0; /* then opening it as a file fails the same way */
  DWORD attributes = GetFileAttributesW(wide);
  free(wide);
  return attributes != INVALID_FILE_ATTRIBUTES && (attributes & FILE_ATTRIBUTE_DIRECTORY);
}

int g2_create_temporary(const char *path, char *tmp, size_t cap, FILE **out) {
  for (int attempt = 0; attempt < 100; attempt++) {
    int n = snprintf(tmp, cap, "%s.%lu.%d.tmp", path, (unsigned long)GetCurrentProcessId(), attempt);
    if (n < 0 || (size_t)n >= cap) return g2_fail(GPT2_E_INVALID, "%s: path too long", path);
    int status;
    wchar_t *wide = wide_path(tmp, &status);
    if (!wide) return path_fail(tmp, status, "create");
    int fd = _wopen(wide, _O_WRONLY | _O_CREAT | _O_EXCL | _O_BINARY | _O_NOINHERIT,
                    _S_IREAD | _S_IWRITE);
    int err = errno;
    free(wide);
    if (fd < 0 && err == EEXIST) continue;
    if (fd < 0) return g2_fail(GPT2_E_IO, "%s: cannot create: %s", tmp, strerror(err));
    *out = _fdopen(fd, "wb");
    if (*out) return GPT2_OK;
    err = errno;
    _close(fd);
    g2_remove_file(tmp);
    return g2_fail(GPT2_E_IO, "%s: cannot open: %s", tmp, strerror(err));
  }
  return g2_fail(GPT2_E_IO, "%s: cannot create a temporary file next to it", path);
}

int g2_replace_file(const char *from, const char *to) {
  int status_from, status_to;
  wchar_t *wide_from = wide_path(from, &status_from), *wide_to = wide_path(to, &status_to);
  /* MoveFileEx, not rename(): the C runtime's rename fails when `to` exists. */
  int err = status_from == GPT2_E_NOMEM || status_to == GPT2_E_NOMEM ? ENOMEM
            : !wide_from || !wide_to                                   ? EINVAL
            : MoveFileExW(wide_from, wide_to, MOVEFILE_REPLACE_EXISTING) ? 0
                                                                       : EACCES;
  free(wide_from);
  free(wide_to);
  return err;
}

void g2_remove_file(const char *path) {
  int status;
  wchar_t *wide = wide_path(path, &status);
  if (wide) DeleteFileW(wide);
  free(wide);
}
