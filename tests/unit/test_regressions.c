/* Replays, through the fuzz targets' own checks (tests/fuzz/fuzz_*.c), every
   seed of tests/fuzz/corpus/TARGET/, every crash reproducer of
   tests/regressions/TARGET/ (inputs that once broke the library, kept so
   the bug stays fixed), and for GGUF the hand-made bad files of
   $GPT2_TEST_DATA/gguf_bad/. Each input is also replayed cut short at a few
   lengths, as a truncated download would be. A broken property prints a
   FAIL line naming the input; a memory error crashes the program (the ASan
   pass of `make check` runs it too). */
#define FUZZ_REPLAY
#include <dirent.h>

#include "harness.h"
#include "../fuzz/fuzz_detok.c"
#include "../fuzz/fuzz_eval.c"
#include "../fuzz/fuzz_state.c"
#include "../fuzz/fuzz_batch.c"
#include "../fuzz/fuzz_gguf.c"
#include "../fuzz/fuzz_json.c"
#include "../fuzz/fuzz_merges.c"
#include "../fuzz/fuzz_safetensors.c"
#include "../fuzz/fuzz_tokenize.c"

typedef int (*fuzz_target)(const uint8_t *data, size_t size);

static int compare_names(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Cut points of a truncated replay: a few lengths spread over the input. */
enum { N_CUTS = 6 };

/* Runs `run` on every regular file of `dir` (in name order), whole and
   truncated; returns the number of files (0 if the directory is absent). */
static size_t replay_dir(const char *dir, fuzz_target run, size_t *n_runs) {
  DIR *handle = opendir(dir);
  if (!handle) return 0;
  char **names = NULL;
  size_t n = 0, cap = 0;
  for (struct dirent *entry; (entry = readdir(handle));) {
    if (entry->d_name[0] == '.' || strcmp(entry->d_name, "README.md") == 0) continue;
    if (n == cap) names = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names);
    names[n++] = strdup(entry->d_name);
  }
  closedir(handle);
  qsort(names, n, sizeof *names, compare_names);
  size_t files = 0;
  for (size_t i = 0; i < n; i++) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, names[i]);
    size_t size = 0;
    char *data = fuzz_read_file(path, &size);
    if (data) {
      /* an exact-size copy, so ASan sees reads past the end */
      uint8_t *input = malloc(size ? size : 1);
      memcpy(input, data, size);
      fuzz_current_input = path;
      run(input, size);
      for (size_t cut = 1; cut <= N_CUTS && size > N_CUTS; cut++) {
        run(input, size * cut / (N_CUTS + 1));
        (*n_runs)++;
      }
      (*n_runs)++;
      files++;
      free(input);
      free(data);
    }
    free(names[i]);
  }
  free(names);
  return files;
}

/* tests/, found from $GPT2_TEST_DATA (tests/data), so that the replay also
   works from another directory (meson test runs in the build directory). */
static char tests_dir[4096];

static void replay(const char *name, fuzz_target run, const char *extra_dir) {
  char dir[4200];
  int failures = fuzz_failures;
  size_t runs = 0;
  snprintf(dir, sizeof dir, "%s/fuzz/corpus/%s", tests_dir, name);
  size_t seeds = replay_dir(dir, run, &runs);
  snprintf(dir, sizeof dir, "%s/regressions/%s", tests_dir, name);
  size_t regressions = replay_dir(dir, run, &runs);
  size_t extra = extra_dir ? replay_dir(extra_dir, run, &runs) : 0;
  char extra_text[4200] = "";
  if (extra_dir) snprintf(extra_text, sizeof extra_text, ", %zu files of %s", extra, extra_dir);
  CHECK(seeds > 0 && fuzz_failures == failures,
        "fuzz target %s: %zu seeds, %zu regressions%s (%zu runs with the truncations): every property holds",
        name, seeds, regressions, extra_text, runs);
}

int main(void) {
  const char *data_dir = harness_path("GPT2_TEST_DATA", "tests/data");
  char gguf_bad[4200];
  snprintf(gguf_bad, sizeof gguf_bad, "%s/gguf_bad", data_dir);
  snprintf(tests_dir, sizeof tests_dir, "%s/..", data_dir);
  /* each target checks that every call released what it allocated */
  replay("json", fuzz_json, NULL);
  replay("safetensors", fuzz_safetensors, NULL);
  replay("gguf", fuzz_gguf, gguf_bad);
  replay("merges", fuzz_merges, NULL);
  replay("tokenize", fuzz_tokenize, NULL);
  replay("detok", fuzz_detok, NULL);
  replay("eval", fuzz_eval, NULL);
  replay("state", fuzz_state, NULL);
  replay("batch", fuzz_batch, NULL);
  HARNESS_EXIT();
}
