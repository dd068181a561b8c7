/* Minimal test harness. Each CHECK prints one line, "ok NAME" or
   "FAIL NAME: detail (file:line)"; SKIP prints "skip NAME: reason" for a
   check that cannot run here (a CPU without the instruction set, a missing
   locale). tests/run.sh counts them across all test programs and prints
   the closing "N passed, N failed, N skipped". */
#ifndef G2_TEST_HARNESS_H
#define G2_TEST_HARNESS_H

#include <stdio.h>
#include <stdlib.h>

#include "win_compat.h" /* Windows build only: setenv, mkdtemp, ... */

static int harness_failures;

#define CHECK(cond, ...)                                              \
  do {                                                                \
    if (cond) {                                                       \
      printf("ok ");                                                  \
      printf(__VA_ARGS__);                                            \
      printf("\n");                                                   \
    } else {                                                          \
      harness_failures++;                                             \
      printf("FAIL ");                                                \
      printf(__VA_ARGS__);                                            \
      printf(" [%s] (%s:%d)\n", #cond, __FILE__, __LINE__);           \
    }                                                                 \
    fflush(stdout);                                                   \
  } while (0)

/* A check that did not run, and why: never counted as passed. */
#define SKIP(...)                                                     \
  do {                                                                \
    printf("skip ");                                                  \
    printf(__VA_ARGS__);                                              \
    printf("\n");                                                     \
    fflush(stdout);                                                   \
  } while (0)

/* Exit status of a test program: non-zero when any check failed. */
#define HARNESS_EXIT() return harness_failures ? 1 : 0

/* Directory of generated test models and data (set by tests/run.sh). */
static inline const char *harness_path(const char *var, const char *fallback) {
  const char *value = getenv(var);
  return value && *value ? value : fallback;
}

#endif
