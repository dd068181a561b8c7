/* Tokenizer throughput: MB/s and tokens/s of gpt2_tokenize on each file
   given, single-threaded, best of several timed runs of at least 0.5 s, in
   wall-clock time and in CPU time (the fair figure on a busy machine). Run
   by bench/tokenizer_bench.sh, which also times the npm tokenizers on the
   same files.

     tokenizer_bench MODEL FILE...                                       */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gpt2.h"

static double seconds(clockid_t clock) {
  struct timespec ts;
  clock_gettime(clock, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static char *read_file(const char *path, size_t *len) {
  FILE *file = fopen(path, "rb");
  if (!file) return NULL;
  fseek(file, 0, SEEK_END);
  long size = ftell(file);
  fseek(file, 0, SEEK_SET);
  char *data = malloc(size > 0 ? (size_t)size : 1);
  *len = data ? fread(data, 1, (size_t)size, file) : 0;
  fclose(file);
  return data;
}

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: %s MODEL FILE...\n", argv[0]);
    return 2;
  }
  gpt2_model *model = NULL;
  if (gpt2_load(argv[1], NULL, &model) != GPT2_OK) {
    fprintf(stderr, "%s: %s\n", argv[1], gpt2_last_error());
    return 1;
  }
  for (int f = 2; f < argc; f++) {
    size_t len = 0, n = 0;
    char *text = read_file(argv[f], &len);
    gpt2_token *ids = text ? malloc((len + 1) * sizeof *ids) : NULL;
    if (!ids) {
      fprintf(stderr, "%s: cannot read\n", argv[f]);
      return 1;
    }
    double best = 1e30, best_cpu = 1e30;
    for (int run = 0; run < 5; run++) {
      int reps = 0;
      double start = seconds(CLOCK_MONOTONIC), elapsed;
      double start_cpu = seconds(CLOCK_PROCESS_CPUTIME_ID);
      do {
        if (gpt2_tokenize(model, text, len, 0, ids, len + 1, &n) != GPT2_OK) {
          fprintf(stderr, "%s: %s\n", argv[f], gpt2_last_error());
          return 1;
        }
        reps++;
        elapsed = seconds(CLOCK_MONOTONIC) - start;
      } while (elapsed < 0.5);
      double cpu = seconds(CLOCK_PROCESS_CPUTIME_ID) - start_cpu;
      if (elapsed / reps < best) best = elapsed / reps;
      if (cpu / reps < best_cpu) best_cpu = cpu / reps;
    }
    printf("%-14s %-12s %8.2f %8.2f %11.0f %11.0f %9zu %9zu\n", "libgpt2",
           strrchr(argv[f], '/') ? strrchr(argv[f], '/') + 1 : argv[f],
           (double)len / best / 1e6, (double)len / best_cpu / 1e6,
           (double)n / best, (double)n / best_cpu, len, n);
    free(ids);
    free(text);
  }
  gpt2_model_free(model);
  return 0;
}
