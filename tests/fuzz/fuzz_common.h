/* Shared by the fuzz targets. Each target tests/fuzz/fuzz_NAME.c defines
   `int fuzz_NAME(const uint8_t *data, size_t size)`, which checks the
   library's properties on one input, and, unless FUZZ_REPLAY is defined,
   the libFuzzer entry point calling it (`make fuzz`). With FUZZ_REPLAY,
   tests/unit/test_regressions.c includes the targets and replays the seed
   corpora and the crash reproducers of tests/regressions/ through the same
   functions in the normal test run.

   A broken property calls fuzz_fail(): libFuzzer reports it as a crash
   (abort), the replay counts it as a FAIL line. Memory errors are caught by
   ASan (the fuzzers and `make check`'s ASan pass). */
#ifndef G2_FUZZ_COMMON_H
#define G2_FUZZ_COMMON_H

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/json.h"
#include "gpt2.h"
#include "tokenizer/tokenizer.h"

/* ---- failures ------------------------------------------------------------ */

#ifdef FUZZ_REPLAY
/* Set by the replay: the failure is reported as a FAIL line naming the
   input, and the replay goes on with the next input. */
static int fuzz_failures;
static const char *fuzz_current_input = "";
#endif

static inline void fuzz_fail(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
#ifdef FUZZ_REPLAY
  printf("FAIL %s: ", fuzz_current_input);
  vprintf(fmt, args);
  printf("\n");
  fflush(stdout);
  fuzz_failures++;
#else
  fprintf(stderr, "fuzz property broken: ");
  vfprintf(stderr, fmt, args);
  fprintf(stderr, "\n");
  abort();
#endif
  va_end(args);
}

/* Checks that a failed call explained itself, and that a call released
   every block it allocated (live count back to `live`). */
static inline void fuzz_check_error_message(int status, const char *call) {
  if (status != GPT2_OK && gpt2_last_error()[0] == '\0')
    fuzz_fail("%s returned %d (%s) with an empty gpt2_last_error()", call, status,
              gpt2_strerror(status));
}

static inline void fuzz_check_no_leak(long live, const char *call) {
  if (g2_alloc_live_blocks() != live)
    fuzz_fail("%s: %ld blocks still allocated afterwards, %ld before", call,
              g2_alloc_live_blocks(), live);
}

/* A small file never makes the library allocate much (issue 19 #3, the
   promise of docs/reliability.md): the most bytes live at once during a
   call, beyond those live before it, stay within `ratio` times the input's
   size plus FUZZ_PEAK_SLACK (fixed costs: the model struct, error text,
   the kernels' tables). `base` is g2_alloc_peak_reset()'s value before the
   call. Where the allocator cannot count bytes the peak reads 0 and the
   check holds trivially. */
#define FUZZ_PEAK_SLACK ((size_t)64 << 10)

static inline void fuzz_check_peak(size_t base, size_t size, size_t ratio, const char *call) {
  size_t peak = g2_alloc_peak_bytes(), used = peak > base ? peak - base : 0;
#ifdef FUZZ_PEAK_REPORT
  fprintf(stderr, "peak %s %zu %zu %.2f\n", call, size, used, size ? (double)used / (double)size : 0.0);
#endif
  if (used > ratio * size + FUZZ_PEAK_SLACK)
    fuzz_fail("%s: %zu bytes allocated at the peak for a %zu-byte input (bound %zu x size + %zu)",
              call, used, size, ratio, FUZZ_PEAK_SLACK);
}

/* ---- reading parameters from the input ----------------------------------- */

/* The input consumed front to back; reads past its end give zeros. */
typedef struct fuzz_input {
  const uint8_t *data;
  size_t size, pos;
} fuzz_input;

static inline uint8_t fuzz_u8(fuzz_input *in) { return in->pos < in->size ? in->data[in->pos++] : 0; }

static inline uint32_t fuzz_u32(fuzz_input *in) {
  uint32_t value = 0;
  for (int i = 0; i < 4; i++) value = value << 8 | fuzz_u8(in);
  return value;
}

/* A float that is often an edge case: NaN, infinities, zeros, negatives,
   denormals, huge values, or arbitrary bits. */
static inline float fuzz_float(fuzz_input *in) {
  static const float special[] = {0.0f,    -0.0f, 1.0f,   -1.0f,    0.5f,     2.0f,
                                  1e-45f,  1e-30f, 1e30f, -1e30f,   3.4e38f,  -3.4e38f,
                                  0.999f,  1.001f, 100.0f, 1e-7f};
  uint8_t kind = fuzz_u8(in);
  if (kind < 16) return special[kind];
  if (kind < 20) return NAN;
  if (kind < 24) return INFINITY;
  if (kind < 28) return -INFINITY;
  if (kind < 128) return (float)(kind - 28) / 50.0f; /* ordinary values in [0, 2) */
  uint32_t bits = fuzz_u32(in);
  float value;
  memcpy(&value, &bits, sizeof value);
  return value;
}

/* ---- shared objects -------------------------------------------------------- */

static inline const char *fuzz_env(const char *name, const char *fallback) {
  const char *value = getenv(name);
  return value && *value ? value : fallback;
}

/* The directory of the small test model (tools/gen/make_models.sh "tiny"):
   GPT2_FUZZ_MODEL, else $GPT2_TEST_MODELS/tiny-f32. */
static inline const char *fuzz_model_dir(void) {
  static char dir[4096];
  if (!dir[0]) {
    const char *forced = getenv("GPT2_FUZZ_MODEL");
    if (forced && *forced) snprintf(dir, sizeof dir, "%s", forced);
    else snprintf(dir, sizeof dir, "%s/tiny-f32", fuzz_env("GPT2_TEST_MODELS", "build/models"));
  }
  return dir;
}

/* The tiny model, loaded once (kept for the life of the process). Fuzzing
   without it would prove nothing, so its absence is a failure. */
static inline gpt2_model *fuzz_model(void) {
  static gpt2_model *model;
  if (!model && gpt2_load(fuzz_model_dir(), NULL, &model) != GPT2_OK) {
    fprintf(stderr, "fuzz: cannot load the test model %s: %s (run tools/gen/make_models.sh, or set GPT2_FUZZ_MODEL)\n",
            fuzz_model_dir(), gpt2_last_error());
    abort();
  }
  return model;
}

/* A whole file in a new malloc'd buffer (NUL-terminated), or NULL. */
static inline char *fuzz_read_file(const char *path, size_t *size) {
  FILE *file = fopen(path, "rb");
  if (!file) return NULL;
  char *text = NULL;
  if (fseek(file, 0, SEEK_END) == 0) {
    long length = ftell(file);
    if (length >= 0 && fseek(file, 0, SEEK_SET) == 0 && (text = malloc((size_t)length + 1))) {
      if (fread(text, 1, (size_t)length, file) != (size_t)length) {
        free(text);
        text = NULL;
      } else {
        text[length] = '\0';
        *size = (size_t)length;
      }
    }
  }
  fclose(file);
  return text;
}

/* GPT-2's own tokenizer (50,257 tokens, 50,000 merges), built once from
   $GPT2_TEST_DATA/gpt2/{vocab.json,merges.txt} with the internal builder,
   as the HF loader does; the tokenizer targets run on it because its large
   merge table is the one real inputs meet. */
static inline const g2_tokenizer *fuzz_gpt2_tokenizer(void) {
  static g2_tokenizer *tok;
  if (tok) return tok;
  char path[4096];
  const char *data_dir = fuzz_env("GPT2_TEST_DATA", "tests/data");
  size_t vocab_size = 0, merges_size = 0;
  snprintf(path, sizeof path, "%s/gpt2/vocab.json", data_dir);
  char *vocab_text = fuzz_read_file(path, &vocab_size);
  snprintf(path, sizeof path, "%s/gpt2/merges.txt", data_dir);
  char *merges_text = fuzz_read_file(path, &merges_size);
  g2_json *vocab = NULL;
  if (!vocab_text || !merges_text ||
      g2_json_parse(vocab_text, vocab_size, "vocab.json", &vocab) != GPT2_OK) {
    fprintf(stderr, "fuzz: cannot read %s/gpt2/{vocab.json,merges.txt}\n", data_dir);
    abort();
  }
  size_t n_tokens = g2_json_count(vocab), n_merges = 0;
  g2_str *tokens = calloc(n_tokens, sizeof *tokens);
  g2_str *merges = calloc(merges_size / 4 + 1, sizeof *merges);
  for (size_t i = 0; i < n_tokens; i++) {
    int64_t id;
    if (g2_json_int64(g2_json_at(vocab, i), &id) && id >= 0 && (size_t)id < n_tokens)
      tokens[id].ptr = g2_json_key_at(vocab, i, &tokens[id].len);
  }
  /* One merge per line after the "#version" line. */
  for (char *line = strchr(merges_text, '\n'); line && line[1]; line = strchr(line, '\n')) {
    line++;
    char *end = strchr(line, '\n');
    size_t len = end ? (size_t)(end - line) : strlen(line);
    if (len) merges[n_merges++] = (g2_str){line, len};
  }
  if (g2_tokenizer_new(tokens, n_tokens, merges, n_merges, "gpt2", &tok) != GPT2_OK) {
    fprintf(stderr, "fuzz: cannot build GPT-2's tokenizer: %s\n", gpt2_last_error());
    abort();
  }
  free(tokens);
  free(merges);
  g2_json_free(vocab);
  free(vocab_text);
  free(merges_text);
  return tok;
}

/* A path naming a new in-memory file holding data[0..size), for the
   loaders that take a path; close(*fd) afterwards. NULL on failure. */
static inline const char *fuzz_memory_file(const uint8_t *data, size_t size, int *fd, char *path,
                                    size_t cap) {
  *fd = memfd_create("fuzz-input", MFD_CLOEXEC);
  if (*fd < 0) return NULL;
  size_t done = 0;
  while (done < size) {
    ssize_t n = write(*fd, data + done, size - done);
    if (n <= 0) {
      close(*fd);
      return NULL;
    }
    done += (size_t)n;
  }
  snprintf(path, cap, "/proc/self/fd/%d", *fd);
  return path;
}

#endif
