/* Shared by the example programs: strict number parsing for flags, reading
   a whole file or stdin, loading a model, and the exit-code convention
   (0 success, 1 failure at run time, 2 bad command line). Header-only so that
   each program stays one file to compile. */
#ifndef GPT2_EXAMPLES_CLI_H
#define GPT2_EXAMPLES_CLI_H

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#if defined(_WIN32)
#include <malloc.h>
#include <windows.h>
#else
#include <unistd.h>
#endif

#include "gpt2.h"

#define CLI_EXIT_FAILURE 1
#define CLI_EXIT_USAGE 2

static const char *cli_program = "gpt2";

/* Bad command line: message, a hint, exit status 2. */
static inline void cli_usage_error(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  fprintf(stderr, "%s: ", cli_program);
  vfprintf(stderr, fmt, args);
  fprintf(stderr, "\nTry '%s --help'.\n", cli_program);
  va_end(args);
  exit(CLI_EXIT_USAGE);
}

/* Failure at run time (model, file, input): message, exit status 1. */
static inline void cli_fail(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  fprintf(stderr, "%s: ", cli_program);
  vfprintf(stderr, fmt, args);
  fputc('\n', stderr);
  va_end(args);
  exit(CLI_EXIT_FAILURE);
}

/* A library call that failed: its status name and detail. */
static inline void cli_fail_status(const char *what, int status) {
  const char *detail = gpt2_last_error();
  cli_fail("%s: %s%s%s", what, gpt2_strerror(status), *detail ? ": " : "",
           detail);
}

/* The value after flag argv[*i], advancing *i; a usage error if missing. */
static inline const char *cli_value(int argc, char **argv, int *i) {
  if (*i + 1 >= argc) cli_usage_error("%s needs a value", argv[*i]);
  return argv[++*i];
}

static inline long long cli_parse_integer(const char *flag, const char *text,
                                          long long min, long long max) {
  char *end;
  errno = 0;
  long long value = strtoll(text, &end, 10);
  if (end == text || *end != '\0' || errno == ERANGE)
    cli_usage_error("%s: '%s' is not an integer", flag, text);
  if (value < min || value > max) {
    if (value < min && max >= INT32_MAX)
      cli_usage_error("%s: %lld must be >= %lld", flag, value, min);
    cli_usage_error("%s: %lld is out of range [%lld, %lld]", flag, value, min, max);
  }
  return value;
}

static inline uint64_t cli_parse_u64(const char *flag, const char *text) {
  char *end;
  errno = 0;
  unsigned long long value = strtoull(text, &end, 10);
  if (end == text || *end != '\0' || errno == ERANGE || text[0] == '-')
    cli_usage_error("%s: '%s' is not an integer in [0, 2^64)", flag, text);
  return (uint64_t)value;
}

/* A finite number in [min, max] (max = FLT_MAX: no upper bound). */
static inline float cli_parse_float(const char *flag, const char *text,
                                    float min, float max) {
  char *end;
  errno = 0;
  float value = strtof(text, &end);
  if (end == text || *end != '\0' || !isfinite(value))
    cli_usage_error("%s: '%s' is not a number", flag, text);
  if (value < min || value > max) {
    if (value < min && max >= FLT_MAX)
      cli_usage_error("%s: %g must be >= %g", flag, value, min);
    cli_usage_error("%s: %g is out of range [%g, %g]", flag, value, min, max);
  }
  return value;
}

/* The whole of `path` (NULL: stdin) in a malloc'd buffer, NUL-terminated
   for convenience; its length in *len. Fails with status 1. */
static inline char *cli_read_all(const char *path, size_t *len) {
  FILE *file = path ? fopen(path, "rb") : stdin;
  if (!file) cli_fail("cannot open '%s': %s", path, strerror(errno));
  size_t size = 0, cap = 4096;
  char *data = malloc(cap);
  if (!data) cli_fail("out of memory");
  for (;;) {
    if (size + 1 == cap) { /* keep room for the NUL */
      char *grown = cap <= SIZE_MAX / 2 ? realloc(data, cap * 2) : NULL;
      if (!grown) cli_fail("out of memory reading '%s'", path ? path : "stdin");
      data = grown;
      cap *= 2;
    }
    size_t got = fread(data + size, 1, cap - size - 1, file);
    if (got == 0) break;
    size += got;
  }
  if (ferror(file))
    cli_fail("cannot read '%s': %s", path ? path : "stdin", strerror(errno));
  if (path) fclose(file);
  data[size] = '\0';
  *len = size;
  return data;
}

static inline gpt2_model *cli_load_model(const char *path) {
  gpt2_model *model = NULL;
  int status = gpt2_load(path, NULL, &model);
  if (status != GPT2_OK) {
    char what[512];
    snprintf(what, sizeof what, "cannot load model '%s'", path);
    cli_fail_status(what, status);
  }
  return model;
}

/* The flags of cli_tokenize: GPT2_TOKENIZE_SPECIAL once a program is given
   --special (cli_parse_special). By default the literal "<|endoftext|>" is
   text, as in the Python binding and its server: text from elsewhere cannot
   plant a document boundary (docs/tokenizer.md). */
static unsigned cli_tokenize_flags = 0u;

/* --special: "<|endoftext|>" in the text becomes the end-of-text token.
   1 if `flag` was it. */
static inline int cli_parse_special(const char *flag) {
  if (strcmp(flag, "--special")) return 0;
  cli_tokenize_flags = GPT2_TOKENIZE_SPECIAL;
  return 1;
}

/* Text to tokens with the two-call pattern, with cli_tokenize_flags.
   malloc'd result. */
static inline gpt2_token *cli_tokenize(const gpt2_model *model,
                                       const char *text, size_t len,
                                       size_t *n_tokens) {
  size_t needed = 0;
  int status = gpt2_tokenize(model, text, len, cli_tokenize_flags, NULL, 0,
                             &needed);
  if (status != GPT2_OK && status != GPT2_E_BUFFER)
    cli_fail_status("cannot tokenize", status);
  gpt2_token *tokens = malloc((needed ? needed : 1) * sizeof *tokens);
  if (!tokens) cli_fail("out of memory for %zu tokens", needed);
  status = gpt2_tokenize(model, text, len, cli_tokenize_flags, tokens,
                         needed, n_tokens);
  if (status != GPT2_OK) cli_fail_status("cannot tokenize", status);
  return tokens;
}

/* Online CPUs (0 if unknown). */
static inline long cli_cpu_count(void) {
#if defined(_WIN32)
  return (long)GetActiveProcessorCount(ALL_PROCESSOR_GROUPS);
#else
  return sysconf(_SC_NPROCESSORS_ONLN);
#endif
}

/* aligned_alloc, and the free that matches it: Windows' C runtime has
   _aligned_malloc, whose blocks free() must not take. */
static inline void *cli_aligned_alloc(size_t alignment, size_t bytes) {
#if defined(_WIN32)
  return _aligned_malloc(bytes, alignment);
#else
  return aligned_alloc(alignment, bytes);
#endif
}
static inline void cli_aligned_free(void *block) {
#if defined(_WIN32)
  _aligned_free(block);
#else
  free(block);
#endif
}

/* memmem, which Windows' C runtime lacks (there, a memchr-and-compare loop). */
static inline const char *cli_memmem(const char *haystack, size_t len, const char *needle,
                                     size_t needle_len) {
#if defined(_WIN32)
  if (needle_len == 0) return haystack;
  const char *end = haystack + len;
  for (const char *at = haystack; (size_t)(end - at) >= needle_len; at++) {
    at = memchr(at, needle[0], (size_t)(end - at) - needle_len + 1);
    if (!at) return NULL;
    if (memcmp(at, needle, needle_len) == 0) return at;
  }
  return NULL;
#else
  return memmem(haystack, len, needle, needle_len);
#endif
}

static inline double cli_seconds(void) {
  struct timespec now;
  clock_gettime(CLOCK_MONOTONIC, &now);
  return (double)now.tv_sec + (double)now.tv_nsec * 1e-9;
}

/* The sampling options the generating programs share (--temp, --top-k,
   --top-p, --min-p, --repeat-penalty): 1 if `flag` is one of them, its
   value parsed into `sample`; 0 otherwise. */
static inline int cli_parse_sampling(const char *flag, int argc, char **argv, int *i,
                                     gpt2_sample_params *sample) {
  if (!strcmp(flag, "--temp")) {
    sample->temperature = cli_parse_float(flag, cli_value(argc, argv, i), 0.0f, FLT_MAX);
  } else if (!strcmp(flag, "--top-k")) {
    sample->top_k = (int32_t)cli_parse_integer(flag, cli_value(argc, argv, i), 0, INT32_MAX);
  } else if (!strcmp(flag, "--top-p")) {
    sample->top_p = cli_parse_float(flag, cli_value(argc, argv, i), 0.0f, 1.0f);
  } else if (!strcmp(flag, "--min-p")) {
    sample->min_p = cli_parse_float(flag, cli_value(argc, argv, i), 0.0f, 1.0f);
  } else if (!strcmp(flag, "--repeat-penalty")) {
    sample->repetition_penalty = cli_parse_float(flag, cli_value(argc, argv, i), 0.0f, FLT_MAX);
    if (sample->repetition_penalty == 0.0f) cli_usage_error("%s: must be greater than 0", flag);
  } else {
    return 0;
  }
  return 1;
}

#endif
