/* merges.txt through the Hugging Face loader: a copy of the tiny test
   model's directory whose merges.txt is the input. Whatever the lines say
   (missing spaces, unknown tokens, CR/LF mixes, NULs, repeated pairs,
   merges of merges), gpt2_load gives a model or an error with a message and
   leaks nothing; a model that loads tokenizes text and gets it back. */
#include <sys/stat.h>

#include "fuzz_common.h"

static char merges_dir[4096];

static void remove_merges_dir(void) {
  static const char *const names[] = {"config.json", "model.safetensors", "vocab.json", "merges.txt"};
  char path[4200];
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
    snprintf(path, sizeof path, "%s/%s", merges_dir, names[i]);
    unlink(path);
  }
  rmdir(merges_dir);
}

/* A temporary directory linking to the tiny model's files but merges.txt. */
static const char *fuzz_merges_dir(void) {
  if (merges_dir[0]) return merges_dir;
  snprintf(merges_dir, sizeof merges_dir, "%s/libgpt2-fuzz-merges-XXXXXX", fuzz_env("TMPDIR", "/tmp"));
  if (!mkdtemp(merges_dir)) {
    perror("fuzz_merges: mkdtemp");
    abort();
  }
  atexit(remove_merges_dir);
  static const char *const linked[] = {"config.json", "model.safetensors", "vocab.json"};
  char target[4200], link_path[4200], absolute[4096];
  if (!realpath(fuzz_model_dir(), absolute)) {
    fprintf(stderr, "fuzz_merges: no test model at %s\n", fuzz_model_dir());
    abort();
  }
  for (size_t i = 0; i < sizeof linked / sizeof linked[0]; i++) {
    snprintf(target, sizeof target, "%s/%s", absolute, linked[i]);
    snprintf(link_path, sizeof link_path, "%s/%s", merges_dir, linked[i]);
    if (symlink(target, link_path) != 0) {
      perror("fuzz_merges: symlink");
      abort();
    }
  }
  return merges_dir;
}

static void check_round_trip(gpt2_model *model) {
  static const char text[] = "the cat sat on the mat, 12 times\n\t \xf0\x9f\x98\x80<|endoftext|>";
  gpt2_token tokens[256];
  char back[sizeof text];
  size_t n = 0, n_back = 0;
  if (gpt2_tokenize(model, text, sizeof text - 1, 0, tokens, 256, &n) != GPT2_OK)
    fuzz_fail("tokenize on a loaded model: %s", gpt2_last_error());
  else if (gpt2_detokenize(model, tokens, n, back, sizeof back, &n_back) != GPT2_OK ||
           n_back != sizeof text - 1 || memcmp(back, text, n_back) != 0)
    fuzz_fail("tokenize/detokenize does not give the text back");
}

int fuzz_merges(const uint8_t *data, size_t size) {
  const char *dir = fuzz_merges_dir();
  char path[4200];
  snprintf(path, sizeof path, "%s/merges.txt", dir);
  FILE *file = fopen(path, "wb");
  if (!file || fwrite(data, 1, size, file) != size || fclose(file) != 0) {
    perror("fuzz_merges: writing merges.txt");
    abort();
  }
  long live = g2_alloc_live_blocks();
  gpt2_model *model = (gpt2_model *)path; /* must be overwritten */
  int status = gpt2_load(dir, NULL, &model);
  if (status == GPT2_OK) {
    check_round_trip(model);
    gpt2_model_free(model);
  } else {
    if (model) fuzz_fail("failed load left a model");
    if (status != GPT2_E_FORMAT && status != GPT2_E_NOMEM) fuzz_fail("load returned %d: %s", status, gpt2_last_error());
    fuzz_check_error_message(status, "gpt2_load");
  }
  fuzz_check_no_leak(live, "gpt2_load");
  return 0;
}

#ifndef FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_merges(data, size); }
#endif
