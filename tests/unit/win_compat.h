/* The POSIX calls the unit tests use, for the Windows build (MinGW-w64,
   mk/windows.mk; run under Wine by tests/windows.test.sh). Included by
   harness.h; empty elsewhere. Test code only: the library itself uses the
   Win32 API (lib/core/file_win32.c, core/sys_thread.h). */
#ifndef G2_TEST_WIN_COMPAT_H
#define G2_TEST_WIN_COMPAT_H
#if defined(_WIN32)

#include <direct.h>
#include <io.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* msvcrt's _putenv_s (setenv below) may move the environment block, leaving
   what earlier getenv calls returned dangling, and tests keep such pointers
   (the data folder across a setenv of GPT2_ISA): here getenv returns a copy,
   never freed (a test is a short process). */
static inline char *win_compat_getenv(const char *name) {
  const char *value = getenv(name);
  return value ? _strdup(value) : NULL;
}
#define getenv win_compat_getenv

/* _putenv_s with "" removes the variable. */
static inline int setenv(const char *name, const char *value, int overwrite) {
  if (!overwrite && getenv(name)) return 0; /* (the copy leaks, as above) */
  return _putenv_s(name, value);
}
static inline int unsetenv(const char *name) { return _putenv_s(name, ""); }

/* mkdir's mode has no meaning on Windows. */
#define mkdir(path, mode) _mkdir(path)

static inline char *mkdtemp(char *name) {
  if (_mktemp_s(name, strlen(name) + 1) != 0) return NULL;
  return _mkdir(name) == 0 ? name : NULL;
}

/* Only _SC_PAGESIZE is asked for (test_batch, after /proc/self/statm,
   which Windows lacks, so the value is never used there). */
#ifndef _SC_PAGESIZE
#define _SC_PAGESIZE 30
static inline long sysconf(int name) { return name == _SC_PAGESIZE ? 4096 : -1; }
#endif

static inline long long getline(char **line, size_t *cap, FILE *file) {
  size_t n = 0;
  int c;
  while ((c = fgetc(file)) != EOF) {
    if (n + 2 > *cap) {
      size_t grown = *cap ? *cap * 2 : 128;
      char *bigger = realloc(*line, grown);
      if (!bigger) return -1;
      *line = bigger;
      *cap = grown;
    }
    (*line)[n++] = (char)c;
    if (c == '\n') break;
  }
  if (n == 0) return -1;
  (*line)[n] = '\0';
  return (long long)n;
}

#endif
#endif
