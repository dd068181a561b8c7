/* The library on small thread stacks: gpt2_eval from a thread with a
   64 KiB stack (musl's default thread stack is 128 KiB, and language
   runtimes give their threads little more), for every kernel table this
   CPU runs and every weight type, gives bitwise the logits of the same
   eval on the main thread, for a prompt batch and for single tokens.

   The thread's stack is ours (pthread_attr_setstack): 64 KiB painted with
   a pattern, above a 1 MiB PROT_NONE guard, so that a frame that
   overflows it lands in the guard (SIGSEGV, the test dies) even if it is
   far larger than a page, and the deepest byte written gives the stack an
   eval used. Before the kernels' scratch moved into the context (a matmul
   kept up to ~170 KiB on the stack) this test died with SIGSEGV. Where the
   system's least thread stack is larger (glibc on aarch64: 128 KiB), the
   threads get that, and the bound below still holds the eval to 32 KiB.

   Under AddressSanitizer (GPT2_TEST_SANITIZER=address) frames grow by
   their redzones and lose slot sharing (the avx512 attention kernel's
   frame alone measured 69 KiB there): the threads get SANITIZER_STACK_BYTES
   instead, the bound on the stack used is not checked (a skip line says
   so), and the rest of the test runs as it is. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "gpt2.h"
#include "harness.h"
#include "k_model.h"
#include "model/model.h"
#include "tensor/quant.h"

enum {
  SMALL_STACK_BYTES = 64 * 1024,
  SANITIZER_STACK_BYTES = 512 * 1024,
  GUARD_BYTES = 1024 * 1024,
  N_PROMPT = 24, /* past the batch thresholds of every matmul path */
  N_SINGLE = 3,
  PAINT = 0xa5,
  /* The stack an eval may use: half the 64 KiB, the rest left to the
     caller's frames. Measured 9.7 KiB at most (the avx512 table on F32 KN
     weights, glibc's thread descriptor and TLS at the stack's top
     included); a kernel that put back a 24 KiB buffer fails here before
     it crashes (a planted 24 KiB array in matmul_nk: 33 KiB, 21 FAILs). */
  STACK_USE_BOUND = 32 * 1024
};

static const gpt2_token prompt[N_PROMPT + N_SINGLE] = {5,  17, 300, 1998, 0,  42, 7,  99, 1000, 3,  64, 128, 256, 511,
                                                     12, 13, 14,  15,   16, 77, 88, 99, 111,  222, 333, 444, 555};

typedef struct eval_job {
  const gpt2_model *model;
  size_t n_vocab;
  float *logits; /* [N_PROMPT + N_SINGLE][n_vocab] */
  int ok;
} eval_job;

/* A context on one thread (the caller: no worker stacks involved), the
   prompt as one batch with every row's logits, then single tokens. */
static void *run_eval(void *arg) {
  eval_job *job = arg;
  gpt2_context_params params = GPT2_CONTEXT_PARAMS_INIT;
  params.n_threads = 1;
  params.logits_all = 1;
  gpt2_context *ctx = NULL;
  job->ok = gpt2_context_new(job->model, &params, &ctx) == GPT2_OK &&
            gpt2_eval(ctx, prompt, N_PROMPT) == GPT2_OK;
  for (int32_t i = 0; job->ok && i < N_PROMPT; i++) {
    const float *row = gpt2_logits(ctx, i);
    job->ok = row != NULL;
    if (row) memcpy(job->logits + (size_t)i * job->n_vocab, row, job->n_vocab * sizeof(float));
  }
  for (size_t i = N_PROMPT; job->ok && i < N_PROMPT + N_SINGLE; i++) {
    const float *row = gpt2_eval(ctx, prompt + i, 1) == GPT2_OK ? gpt2_logits(ctx, -1) : NULL;
    job->ok = row != NULL;
    if (row) memcpy(job->logits + i * job->n_vocab, row, job->n_vocab * sizeof(float));
  }
  gpt2_context_free(ctx);
  return NULL;
}

static size_t stack_bytes = SMALL_STACK_BYTES;

/* run_eval on a thread with a stack_bytes stack; returns the bytes of it
   that were written (-1 if the thread could not be made). */
static long eval_on_small_stack(eval_job *job) {
  unsigned char *region = mmap(NULL, GUARD_BYTES + stack_bytes, PROT_READ | PROT_WRITE,
                               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (region == MAP_FAILED) return -1;
  unsigned char *stack = region + GUARD_BYTES; /* stacks grow down, into the guard */
  long used = -1;
  pthread_attr_t attr;
  pthread_t thread;
  if (mprotect(region, GUARD_BYTES, PROT_NONE) == 0 && pthread_attr_init(&attr) == 0) {
    memset(stack, PAINT, stack_bytes);
    if (pthread_attr_setstack(&attr, stack, stack_bytes) == 0 &&
        pthread_create(&thread, &attr, run_eval, job) == 0) {
      pthread_join(thread, NULL);
      size_t untouched = 0;
      while (untouched < stack_bytes && stack[untouched] == PAINT) untouched++;
      used = (long)(stack_bytes - untouched);
    }
    pthread_attr_destroy(&attr);
  }
  munmap(region, GUARD_BYTES + stack_bytes);
  return used;
}

typedef struct weights_case {
  const char *name, *model_dir; /* under GPT2_TEST_MODELS */
  uint32_t weight_type;
  int k_types;
  g2_dtype dtype; /* of the first layer's qkv matrix, as loaded */
  g2_layout layout;
} weights_case;

/* Float layer matrices load as KN whatever the weight type
   (model/convert.c); the NK float kernels run in every case on the output
   matrix, the token embedding (F32, F16 or BF16 as the directory's). */
static const weights_case weight_cases[] = {
    {"F32 KN", "mid-f32", GPT2_WTYPE_AUTO, 0, G2_DT_F32, G2_LAYOUT_KN},
    {"F16 KN", "mid-f16", GPT2_WTYPE_AUTO, 0, G2_DT_F16, G2_LAYOUT_KN},
    {"BF16 KN", "mid-bf16", GPT2_WTYPE_AUTO, 0, G2_DT_BF16, G2_LAYOUT_KN},
    {"Q8_0", "mid-f32", GPT2_WTYPE_Q8_0, 0, G2_DT_Q8_0, G2_LAYOUT_NK},
    {"Q4_0", "mid-f32", GPT2_WTYPE_Q4_0, 0, G2_DT_Q4_0, G2_LAYOUT_NK},
    {"Q4_K/Q5_K/Q6_K", "mid-f32", GPT2_WTYPE_AUTO, 1, G2_DT_Q4_K, G2_LAYOUT_NK},
};

/* Loads a case's model under kernel table `isa`; NULL (and a FAIL) if it
   cannot. */
static gpt2_model *load_case(const weights_case *c, const char *isa) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", harness_path("GPT2_TEST_MODELS", "build/models"), c->model_dir);
  gpt2_load_params params = GPT2_LOAD_PARAMS_INIT;
  params.weight_type = c->weight_type;
  setenv("GPT2_ISA", isa, 1);
  gpt2_model *model = NULL;
  int status = gpt2_load(path, &params, &model);
  unsetenv("GPT2_ISA");
  int ok = status == GPT2_OK && (!c->k_types || make_k_types(model)) &&
           model->layers[0].attn_qkv.dtype == c->dtype && model->layers[0].attn_qkv.layout == c->layout &&
           strcmp(gpt2_model_isa(model), isa) == 0;
  CHECK(ok, "%s: %s loads as %s under %s%s%s", isa, c->model_dir, c->name, isa, ok ? "" : ": ",
        ok ? "" : status == GPT2_OK ? "other matrices or table" : gpt2_last_error());
  if (!ok) {
    gpt2_model_free(model);
    return NULL;
  }
  return model;
}

int main(void) {
  static const char *tables[] = {"scalar", "avx2", "avx2int8", "avx512", "avx512vnni", "avx512bf16", "neondot", "neon"};
  int sanitized = getenv("GPT2_TEST_SANITIZER") != NULL;
  long stack_min = sysconf(_SC_THREAD_STACK_MIN); /* 128 KiB on aarch64 glibc (64 KiB pages) */
  if (stack_min > 0 && (size_t)stack_min > stack_bytes) {
    stack_bytes = (size_t)stack_min;
    printf("# threads get %zu KiB stacks, this system's least\n", stack_bytes / 1024);
  }
  if (sanitized) {
    stack_bytes = SANITIZER_STACK_BYTES;
    SKIP("stack use of an eval within %d bytes: not measured under a sanitizer (%zu KiB stacks instead)",
         STACK_USE_BOUND, stack_bytes / 1024);
  }
  long most_used = 0;
  const char *most_used_case = "none";
  char most_used_name[96];
  for (size_t t = 0; t < sizeof tables / sizeof tables[0]; t++) {
    if (!g2_kernels_select(tables[t], 0)) {
      SKIP("%s on a small thread stack: this CPU or build does not run the table", tables[t]);
      continue;
    }
    for (size_t w = 0; w < sizeof weight_cases / sizeof weight_cases[0]; w++) {
      const weights_case *c = &weight_cases[w];
      gpt2_model *model = load_case(c, tables[t]);
      if (!model) continue;
      size_t n_vocab = gpt2_n_vocab(model), bytes = (N_PROMPT + N_SINGLE) * n_vocab * sizeof(float);
      eval_job main_job = {model, n_vocab, malloc(bytes), 0};
      eval_job small_job = {model, n_vocab, malloc(bytes), 0};
      if (main_job.logits && small_job.logits) {
        run_eval(&main_job);
        long used = eval_on_small_stack(&small_job);
        size_t kib = stack_bytes / 1024;
        CHECK(used >= 0, "%s %s: a thread with a %zu KiB stack made", tables[t], c->name, kib);
        CHECK(main_job.ok && small_job.ok, "%s %s: evaluated on the main thread and on a %zu KiB stack", tables[t],
              c->name, kib);
        if (main_job.ok && small_job.ok) {
          CHECK(memcmp(main_job.logits, small_job.logits, N_PROMPT * n_vocab * sizeof(float)) == 0,
                "%s %s: a batch of %d tokens on a %zu KiB stack: the main thread's logits, bitwise", tables[t],
                c->name, N_PROMPT, kib);
          CHECK(memcmp(main_job.logits + N_PROMPT * n_vocab, small_job.logits + N_PROMPT * n_vocab,
                       N_SINGLE * n_vocab * sizeof(float)) == 0,
                "%s %s: %d single tokens on a %zu KiB stack: the main thread's logits, bitwise", tables[t], c->name,
                N_SINGLE, kib);
        }
        if (!sanitized)
          CHECK(used <= STACK_USE_BOUND, "%s %s: an eval used %ld bytes of the stack (bound %d)", tables[t],
                c->name, used, STACK_USE_BOUND);
        if (used > most_used) {
          most_used = used;
          snprintf(most_used_name, sizeof most_used_name, "%s %s", tables[t], c->name);
          most_used_case = most_used_name;
        }
      }
      free(main_job.logits);
      free(small_job.logits);
      gpt2_model_free(model);
    }
  }
  printf("# deepest stack use of an eval: %ld bytes (%s)\n", most_used, most_used_case);
  HARNESS_EXIT();
}
