/* Soak test (outside make check; tests/soak/run.sh builds and runs it, see
   docs/reliability.md): THREADS threads, each CYCLES times: load the model,
   create a context (1 or 2 pool threads, F32 or F16 KV cache), tokenize a
   prompt, evaluate it, sample and evaluate TOKENS more, copy the context,
   save and load its state, free everything. The main thread samples the
   resident set (/proc/self/statm) every 100 ms. Printed: the cycles done,
   the errors (any status but GPT2_OK), the blocks still allocated at the
   end, and the most RSS seen in the first half of the run (after a 10 %
   warm-up) and in the second half. Exit status 1 on any error or leaked
   block, or when the second half's maximum exceeds the first's by more
   than GROWTH_LIMIT (the RSS of any one moment swings with which threads
   are loading: a leak shows as maxima that keep rising). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "gpt2.h"

enum { TOKENS = 8, MAX_PROMPT = 64 };
#define GROWTH_LIMIT 0.10 /* RSS may grow 10 % after warm-up (allocator noise) */

static const char *model_path;
static int cycles;
static long done, errors;
static int finished;

static void count_error(const char *what, int status) {
  __atomic_fetch_add(&errors, 1, __ATOMIC_RELAXED);
  fprintf(stderr, "soak: %s: status %d: %s\n", what, status, gpt2_last_error());
}

static int one_cycle(int thread, int cycle) {
  gpt2_model *model = NULL;
  int status = gpt2_load(model_path, NULL, &model);
  if (status) return count_error("gpt2_load", status), 1;
  gpt2_context_params params = GPT2_CONTEXT_PARAMS_INIT;
  params.n_threads = 1 + (uint32_t)(cycle % 2);
  params.kv_type = cycle % 3 == 0 ? GPT2_KV_F16 : GPT2_KV_F32;
  params.seed = (uint64_t)(thread * 100000 + cycle);
  params.n_ctx = 64;
  gpt2_context *ctx = NULL, *copy = NULL;
  gpt2_token prompt[MAX_PROMPT];
  size_t n_prompt = 0, blob_size = 0;
  unsigned char *blob = NULL;
  static const char text[] = "The soak test runs many cycles of load, eval and sample";
  gpt2_sample_params sampling = GPT2_SAMPLE_PARAMS_INIT;
  sampling.top_k = 20;
  if ((status = gpt2_context_new(model, &params, &ctx))) count_error("gpt2_context_new", status);
  else if ((status = gpt2_tokenize(model, text, sizeof text - 1, 0, prompt, MAX_PROMPT, &n_prompt)))
    count_error("gpt2_tokenize", status);
  else if ((status = gpt2_eval(ctx, prompt, n_prompt))) count_error("gpt2_eval", status);
  for (int i = 0; !status && i < TOKENS; i++) {
    gpt2_token next;
    if ((status = gpt2_sample(ctx, &sampling, &next))) count_error("gpt2_sample", status);
    else if ((status = gpt2_eval(ctx, &next, 1))) count_error("gpt2_eval", status);
  }
  if (!status && (status = gpt2_context_copy(ctx, NULL, &copy))) count_error("gpt2_context_copy", status);
  if (!status) {
    gpt2_state_save(copy, NULL, 0, &blob_size);
    blob = malloc(blob_size);
    if ((status = gpt2_state_save(copy, blob, blob_size, &blob_size))) count_error("gpt2_state_save", status);
    else if ((status = gpt2_state_load(ctx, blob, blob_size))) count_error("gpt2_state_load", status);
  }
  free(blob);
  gpt2_context_free(copy);
  gpt2_context_free(ctx);
  gpt2_model_free(model);
  return status != GPT2_OK;
}

static void *worker(void *arg) {
  int thread = (int)(intptr_t)arg;
  for (int c = 0; c < cycles; c++) {
    one_cycle(thread, c);
    __atomic_fetch_add(&done, 1, __ATOMIC_RELAXED);
  }
  return NULL;
}

static long rss_kib(void) {
  FILE *f = fopen("/proc/self/statm", "r");
  long pages = 0, resident = 0;
  if (!f) return 0;
  if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
  fclose(f);
  return resident * (sysconf(_SC_PAGESIZE) / 1024);
}

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: soak MODEL THREADS CYCLES\n");
    return 2;
  }
  model_path = argv[1];
  int threads = atoi(argv[2]);
  cycles = atoi(argv[3]);
  if (threads < 1 || threads > 64 || cycles < 1) return 2;
  pthread_t ids[64];
  for (int t = 0; t < threads; t++) pthread_create(&ids[t], NULL, worker, (void *)(intptr_t)t);
  long total = (long)threads * cycles, first = 0, second = 0, last = 0, samples = 0;
  struct timespec pause = {0, 100 * 1000 * 1000};
  while (!finished) {
    nanosleep(&pause, NULL);
    long now = __atomic_load_n(&done, __ATOMIC_RELAXED), rss = rss_kib();
    samples++;
    long *half = now * 10 < total ? NULL : now * 100 < total * 55 ? &first : &second;
    if (half && rss > *half) *half = rss;
    last = rss;
    finished = now >= total;
  }
  for (int t = 0; t < threads; t++) pthread_join(ids[t], NULL);
  long left = g2_alloc_live_blocks();
  double growth = first && second ? (double)(second - first) / (double)first : 0.0;
  printf("soak: %d threads x %d cycles = %ld cycles, %ld errors, %ld blocks left\n", threads, cycles,
         done, errors, left);
  printf("soak: RSS max %ld KiB in the first half, %ld KiB in the second, %ld KiB at the end (%ld samples): "
         "growth %.1f%% (limit %.0f%%)\n",
         first, second, last, samples, 100.0 * growth, 100.0 * GROWTH_LIMIT);
  return errors || left || growth > GROWTH_LIMIT;
}
