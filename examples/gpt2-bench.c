/* gpt2-bench: prompt-processing (pp) and generation (tg) speed of libgpt2,
   in the manner of llama-bench, next to the limits of this machine measured
   in the same run: the memory read bandwidth bounds generation, the FP32
   FMA peak bounds prompt processing (the BF16 dot peak for BF16 weights on
   AVX512-BF16 kernels). Every figure thus says how far it is
   from the hardware (docs/performance.md).

     gpt2-bench -m MODEL [-m MODEL ...] [-t 1,2] [-p 128,512] [-n 128] [-r 5]
                [-d 0,512,1000] [--type f32,f16,bf16,q8_0,q4_0] [--kv f32|f16] [--mmap 0|1] [--json]

   pp<P>: one gpt2_eval of P tokens on an empty cache. Work counted per
     prompt, in FLOPs: 24 L E^2 P (the layer matrices, 12 E^2 weights per
     layer, 2 FLOPs each), + 2 V E (the output matrix, for the last position
     only), + 2 L E P (P + 1) (attention: q.k and a.v, 2 x 2 E FLOPs per
     cached position, per layer, per token). LayerNorm, GELU and softmax are
     left out (under 1%).
   tg<N>: after a one-token prompt, N gpt2_eval calls of one token each.
     Bytes counted per token: gpt2_model_size_per_token (every matrix at its
     stored type, the output matrix whole, one row of each embedding table)
     + the K and V rows read by attention (2 L E (pos + 1) elements of the
     KV cache type).
   tg<N> @ d<D> (-d D,...): the same after a prompt of D tokens (one
     untimed gpt2_eval), so the N tokens take positions D .. D + N - 1 of a
     filled cache, as llama-bench's -d does; d0 is plain tg<N>.
   np<S> tg<N> (-np S,...): S sequences (contexts of the model's full n_ctx),
     each given its own NP_PROMPT-token prompt in one gpt2_eval_batch, then N
     steps of gpt2_eval_batch with one token per sequence. Aggregate tokens/s
     = S N / time, per sequence = N / time; bytes counted per step: the
     weights once (they are read once per pass) + the K and V rows of all S
     sequences. Peak RSS from before the contexts are made: with contexts of
     the full n_ctx it shows that a cache costs the positions it uses.
   Tokens are random valid ids from a fixed seed; a warm-up run precedes the
   timed repetitions of each test. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gpt2.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define BENCH_X86 1
#endif

enum { MAX_LIST = 16, MAX_REPS = 100, MACHINE_PASSES = 5, TG_PROMPT = 1, NP_PROMPT = 16, MAX_PARALLEL = 4096 };

/* ---- options -------------------------------------------------------------- */

typedef struct type_option {
  const char *name;
  uint32_t weight_type;
} type_option;

static const type_option type_options[] = {
    {"auto", GPT2_WTYPE_AUTO}, {"f32", GPT2_WTYPE_F32},   {"f16", GPT2_WTYPE_F16},
    {"bf16", GPT2_WTYPE_BF16}, {"q8_0", GPT2_WTYPE_Q8_0}, {"q4_0", GPT2_WTYPE_Q4_0},
};

typedef struct options {
  const char *models[MAX_LIST];
  int n_models;
  int threads[MAX_LIST], n_threads;
  int prompts[MAX_LIST], n_prompts;
  int gens[MAX_LIST], n_gens;
  int depths[MAX_LIST], n_depths; /* tg tests after prompts of these lengths */
  int parallel[MAX_LIST], n_parallel; /* -np: sequences of the np tests (0: none) */
  const type_option *types[MAX_LIST];
  int n_types;
  int reps;
  uint32_t kv_type;
  int use_mmap; /* gpt2_load_params.use_mmap */
  int json;
  int buffer_mib; /* of the bandwidth test */
} options;

static void usage(void) {
  printf(
          "usage: gpt2-bench -m MODEL [-m MODEL ...] [options]\n"
          "  -m PATH        Hugging Face directory or .gguf file (repeatable)\n"
          "  -t N,...       thread counts (default: all online CPUs); the largest\n"
          "                 also converts the weights at load (--type)\n"
          "  -p N,...       prompt lengths for pp tests, 0 for none (default 512)\n"
          "  -n N,...       generated tokens for tg tests, 0 for none (default 128)\n"
          "  -d D,...       tg tests after a D-token prompt too (default 0: after one token)\n"
          "  -np S,...      also S sequences generating -n tokens together, one\n"
          "                 gpt2_eval_batch per step after a 16-token prompt each\n"
          "  -r N           repetitions of each test (default 5)\n"
          "  --type T,...   convert weights at load: auto (as stored), f32, f16, bf16,\n"
          "                 q8_0, q4_0 (default auto)\n"
          "  --kv f32|f16   KV cache type (default f32)\n"
          "  --mmap 0|1     0: read the weights file into memory (gpt2_load_params\n"
          "                 .use_mmap; default 1: map it)\n"
          "  --bw-mib N     buffer of the read-bandwidth test, MiB (default 1024; keep it\n"
          "                 far larger than the caches)\n"
          "  --json         JSON instead of a table\n");
}

/* "a,b,c": integers in [min, max]; a usage error otherwise. */
static void parse_ints(const char *flag, const char *text, int min, int max, int *out,
                       int *count) {
  *count = 0;
  while (*text) {
    char item[32];
    size_t len = strcspn(text, ",");
    if (*count == MAX_LIST) cli_usage_error("%s: more than %d values", flag, MAX_LIST);
    if (len == 0 || len >= sizeof item) cli_usage_error("%s: '%s' is not a list", flag, text);
    memcpy(item, text, len);
    item[len] = '\0';
    out[(*count)++] = (int)cli_parse_integer(flag, item, min, max);
    text += len;
    if (*text == ',' && !*++text) cli_usage_error("%s: the list ends with a comma", flag);
  }
  if (*count == 0) cli_usage_error("%s: empty list", flag);
}

static void parse_types(const char *text, options *opts) {
  opts->n_types = 0;
  while (*text) {
    size_t len = strcspn(text, ",");
    const type_option *found = NULL;
    for (size_t i = 0; i < sizeof type_options / sizeof type_options[0]; i++)
      if (strlen(type_options[i].name) == len && strncmp(text, type_options[i].name, len) == 0)
        found = &type_options[i];
    if (!found) cli_usage_error("--type: unknown type in '%s'", text);
    if (opts->n_types == MAX_LIST) cli_usage_error("--type: more than %d values", MAX_LIST);
    opts->types[opts->n_types++] = found;
    text += len;
    if (*text == ',') text++;
  }
  if (opts->n_types == 0) cli_usage_error("--type: empty list");
}

static void parse_options(int argc, char **argv, options *opts) {
  long cpus = cli_cpu_count();
  *opts = (options){.n_threads = 1, .n_prompts = 1, .n_gens = 1, .n_depths = 1, .n_types = 1, .reps = 5,
                    .buffer_mib = 1024, .use_mmap = 1};
  opts->threads[0] = cpus > 0 ? (int)cpus : 1;
  opts->prompts[0] = 512;
  opts->gens[0] = 128;
  opts->types[0] = &type_options[0];
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
      usage();
      exit(0);
    } else if (strcmp(arg, "--json") == 0) {
      opts->json = 1;
    } else if (strcmp(arg, "-m") == 0) {
      const char *path = cli_value(argc, argv, &i);
      if (opts->n_models == MAX_LIST) cli_usage_error("-m: more than %d models", MAX_LIST);
      opts->models[opts->n_models++] = path;
    } else if (strcmp(arg, "-t") == 0) {
      parse_ints(arg, cli_value(argc, argv, &i), 1, 1024, opts->threads, &opts->n_threads);
    } else if (strcmp(arg, "-p") == 0) {
      parse_ints(arg, cli_value(argc, argv, &i), 0, 1 << 20, opts->prompts, &opts->n_prompts);
    } else if (strcmp(arg, "-d") == 0) {
      parse_ints(arg, cli_value(argc, argv, &i), 0, 1 << 20, opts->depths, &opts->n_depths);
    } else if (strcmp(arg, "-np") == 0) {
      parse_ints(arg, cli_value(argc, argv, &i), 1, MAX_PARALLEL, opts->parallel, &opts->n_parallel);
    } else if (strcmp(arg, "-n") == 0) {
      parse_ints(arg, cli_value(argc, argv, &i), 0, 1 << 20, opts->gens, &opts->n_gens);
    } else if (strcmp(arg, "-r") == 0) {
      opts->reps = (int)cli_parse_integer(arg, cli_value(argc, argv, &i), 1, MAX_REPS);
    } else if (strcmp(arg, "--bw-mib") == 0) {
      opts->buffer_mib = (int)cli_parse_integer(arg, cli_value(argc, argv, &i), 16, 1 << 20);
    } else if (strcmp(arg, "--type") == 0) {
      parse_types(cli_value(argc, argv, &i), opts);
    } else if (strcmp(arg, "--mmap") == 0) {
      opts->use_mmap = (int)cli_parse_integer(arg, cli_value(argc, argv, &i), 0, 1);
    } else if (strcmp(arg, "--kv") == 0) {
      const char *value = cli_value(argc, argv, &i);
      if (strcmp(value, "f32") != 0 && strcmp(value, "f16") != 0)
        cli_usage_error("--kv: '%s' is neither f32 nor f16", value);
      opts->kv_type = strcmp(value, "f16") == 0 ? GPT2_KV_F16 : GPT2_KV_F32;
    } else {
      cli_usage_error("unknown option '%s'", arg);
    }
  }
  if (opts->n_models == 0) cli_usage_error("no model given (-m)");
}

/* ---- measurement helpers --------------------------------------------------- */

typedef struct stats {
  double mean, sd, median;
} stats;

static int compare_doubles(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Mean, sample standard deviation and median of n values. */
static stats summarize(const double *values, int n) {
  double sorted[MAX_REPS > MACHINE_PASSES ? MAX_REPS : MACHINE_PASSES], sum = 0, sum_sq = 0;
  memcpy(sorted, values, (size_t)n * sizeof *values);
  qsort(sorted, (size_t)n, sizeof *sorted, compare_doubles);
  for (int i = 0; i < n; i++) sum += values[i];
  stats s = {sum / n, 0, n % 2 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2};
  for (int i = 0; i < n; i++) sum_sq += (values[i] - s.mean) * (values[i] - s.mean);
  s.sd = n > 1 ? sqrt(sum_sq / (n - 1)) : 0;
  return s;
}

/* Peak resident memory since the last reset, in bytes: VmHWM, which Linux
   lets a process reset (clear_refs 5); elsewhere ru_maxrss since start. */
static void reset_peak_rss(void) {
  FILE *file = fopen("/proc/self/clear_refs", "w");
  if (!file) return;
  fputs("5", file);
  fclose(file);
}

static uint64_t peak_rss(void) {
  FILE *file = fopen("/proc/self/status", "r");
  if (!file) return 0;
  char line[256];
  uint64_t kib = 0;
  while (fgets(line, sizeof line, file))
    if (strncmp(line, "VmHWM:", 6) == 0) kib = strtoull(line + 6, NULL, 10);
  fclose(file);
  return kib * 1024;
}

/* ---- running a measurement on several threads at once ------------------ */

/* One thread's part of a measurement: its index among `threads`, and what it returns. */
typedef double (*part_fn)(const void *arg, int index);

typedef struct part {
  part_fn fn;
  const void *arg;
  int index;
  double result;
} part;

static void *run_part(void *arg) {
  part *p = arg;
  p->result = p->fn(p->arg, p->index);
  return NULL;
}

/* The sum of fn(arg, i) for i < threads, run on `threads` threads at once
   (the caller is index 0). */
static double run_parts(int threads, part_fn fn, const void *arg) {
  part *parts = calloc((size_t)threads, sizeof *parts);
  pthread_t *ids = calloc((size_t)threads, sizeof *ids);
  if (!parts || !ids) cli_fail("out of memory for %d threads", threads);
  for (int i = 0; i < threads; i++) parts[i] = (part){fn, arg, i, 0.0};
  for (int i = 1; i < threads; i++)
    if (pthread_create(&ids[i], NULL, run_part, &parts[i]) != 0)
      cli_fail("cannot start thread %d of %d", i + 1, threads);
  run_part(&parts[0]);
  double sum = parts[0].result;
  for (int i = 1; i < threads; i++) {
    pthread_join(ids[i], NULL);
    sum += parts[i].result;
  }
  free(ids);
  free(parts);
  return sum;
}

/* ---- machine limits: memory read bandwidth and FP32 FMA peak -------------- */

typedef enum isa { ISA_C, ISA_AVX2, ISA_AVX512 } isa;
static const char *const isa_names[] = {"c", "avx2+fma", "avx512"};

static isa widest_isa(void) {
#ifdef BENCH_X86
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return ISA_AVX512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ISA_AVX2;
#endif
  return ISA_C;
}

/* Sums n floats (a multiple of 64) with independent accumulators, so that
   only the memory system limits the speed. With `ahead` > 0 the data `ahead`
   bytes further on is prefetched into L2, one line per 256 bytes (the core's
   own prefetcher fetches the neighbours), as the library's one-token kernels
   do: on some cores that is what reaches the bandwidth. */
static float sum_c(const float *data, size_t n, size_t ahead) {
  float lanes[16] = {0};
  for (size_t i = 0; i < n; i += 16) {
    if (ahead && i % 64 == 0) __builtin_prefetch((const char *)(data + i) + ahead, 0, 2);
    for (int j = 0; j < 16; j++) lanes[j] += data[i + j];
  }
  float sum = 0;
  for (int j = 0; j < 16; j++) sum += lanes[j];
  return sum;
}

#ifdef BENCH_X86
__attribute__((target("avx2"))) static float sum_avx2(const float *data, size_t n, size_t ahead) {
  __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (size_t i = 0; i < n; i += 32) {
    if (ahead && i % 64 == 0) __builtin_prefetch((const char *)(data + i) + ahead, 0, 2);
    s0 = _mm256_add_ps(s0, _mm256_load_ps(data + i));
    s1 = _mm256_add_ps(s1, _mm256_load_ps(data + i + 8));
    s2 = _mm256_add_ps(s2, _mm256_load_ps(data + i + 16));
    s3 = _mm256_add_ps(s3, _mm256_load_ps(data + i + 24));
  }
  float lanes[8];
  _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
  return lanes[0] + lanes[1] + lanes[2] + lanes[3] + lanes[4] + lanes[5] + lanes[6] + lanes[7];
}

__attribute__((target("avx512f"))) static float sum_avx512(const float *data, size_t n, size_t ahead) {
  __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
  for (size_t i = 0; i < n; i += 64) {
    if (ahead) __builtin_prefetch((const char *)(data + i) + ahead, 0, 2);
    s0 = _mm512_add_ps(s0, _mm512_load_ps(data + i));
    s1 = _mm512_add_ps(s1, _mm512_load_ps(data + i + 16));
    s2 = _mm512_add_ps(s2, _mm512_load_ps(data + i + 32));
    s3 = _mm512_add_ps(s3, _mm512_load_ps(data + i + 48));
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
}
#endif

static float sum_floats(isa level, const float *data, size_t n, size_t ahead) {
#ifdef BENCH_X86
  if (level == ISA_AVX512) return sum_avx512(data, n, ahead);
  if (level == ISA_AVX2) return sum_avx2(data, n, ahead);
#endif
  (void)level;
  return sum_c(data, n, ahead);
}

/* FLOPs of `iters` rounds of 12 independent chains of multiply-adds (enough
   to cover the FMA latency times the issue width of current cores). */
static double fma_c(long iters, float *sink) {
  float acc[12][16];
  for (int a = 0; a < 12; a++)
    for (int j = 0; j < 16; j++) acc[a][j] = 1.0f + 0.001f * (float)(a + j);
  for (long i = 0; i < iters; i++)
    for (int a = 0; a < 12; a++)
      for (int j = 0; j < 16; j++) acc[a][j] = acc[a][j] * 0.999999f + 1e-6f;
  for (int a = 0; a < 12; a++)
    for (int j = 0; j < 16; j++) *sink += acc[a][j];
  return (double)iters * 12 * 16 * 2;
}

#ifdef BENCH_X86
__attribute__((target("avx2,fma"))) static double fma_avx2(long iters, float *sink) {
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-6f);
  __m256 a0 = _mm256_set1_ps(1.0f), a1 = _mm256_set1_ps(1.01f), a2 = _mm256_set1_ps(1.02f),
         a3 = _mm256_set1_ps(1.03f), a4 = _mm256_set1_ps(1.04f), a5 = _mm256_set1_ps(1.05f),
         a6 = _mm256_set1_ps(1.06f), a7 = _mm256_set1_ps(1.07f), a8 = _mm256_set1_ps(1.08f),
         a9 = _mm256_set1_ps(1.09f), a10 = _mm256_set1_ps(1.10f), a11 = _mm256_set1_ps(1.11f);
  for (long i = 0; i < iters; i++) {
    a0 = _mm256_fmadd_ps(a0, m, c), a1 = _mm256_fmadd_ps(a1, m, c);
    a2 = _mm256_fmadd_ps(a2, m, c), a3 = _mm256_fmadd_ps(a3, m, c);
    a4 = _mm256_fmadd_ps(a4, m, c), a5 = _mm256_fmadd_ps(a5, m, c);
    a6 = _mm256_fmadd_ps(a6, m, c), a7 = _mm256_fmadd_ps(a7, m, c);
    a8 = _mm256_fmadd_ps(a8, m, c), a9 = _mm256_fmadd_ps(a9, m, c);
    a10 = _mm256_fmadd_ps(a10, m, c), a11 = _mm256_fmadd_ps(a11, m, c);
  }
  __m256 sum = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                             _mm256_add_ps(_mm256_add_ps(a4, a5), _mm256_add_ps(a6, a7)));
  sum = _mm256_add_ps(sum, _mm256_add_ps(_mm256_add_ps(a8, a9), _mm256_add_ps(a10, a11)));
  float lanes[8];
  _mm256_storeu_ps(lanes, sum);
  *sink += lanes[0];
  return (double)iters * 12 * 8 * 2;
}

__attribute__((target("avx512f"))) static double fma_avx512(long iters, float *sink) {
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-6f);
  __m512 a0 = _mm512_set1_ps(1.0f), a1 = _mm512_set1_ps(1.01f), a2 = _mm512_set1_ps(1.02f),
         a3 = _mm512_set1_ps(1.03f), a4 = _mm512_set1_ps(1.04f), a5 = _mm512_set1_ps(1.05f),
         a6 = _mm512_set1_ps(1.06f), a7 = _mm512_set1_ps(1.07f), a8 = _mm512_set1_ps(1.08f),
         a9 = _mm512_set1_ps(1.09f), a10 = _mm512_set1_ps(1.10f), a11 = _mm512_set1_ps(1.11f);
  for (long i = 0; i < iters; i++) {
    a0 = _mm512_fmadd_ps(a0, m, c), a1 = _mm512_fmadd_ps(a1, m, c);
    a2 = _mm512_fmadd_ps(a2, m, c), a3 = _mm512_fmadd_ps(a3, m, c);
    a4 = _mm512_fmadd_ps(a4, m, c), a5 = _mm512_fmadd_ps(a5, m, c);
    a6 = _mm512_fmadd_ps(a6, m, c), a7 = _mm512_fmadd_ps(a7, m, c);
    a8 = _mm512_fmadd_ps(a8, m, c), a9 = _mm512_fmadd_ps(a9, m, c);
    a10 = _mm512_fmadd_ps(a10, m, c), a11 = _mm512_fmadd_ps(a11, m, c);
  }
  __m512 sum = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)),
                             _mm512_add_ps(_mm512_add_ps(a4, a5), _mm512_add_ps(a6, a7)));
  sum = _mm512_add_ps(sum, _mm512_add_ps(_mm512_add_ps(a8, a9), _mm512_add_ps(a10, a11)));
  *sink += _mm512_reduce_add_ps(sum);
  return (double)iters * 12 * 16 * 2;
}

/* The same with vdpbf16ps, which multiplies pairs of bfloat16 values and
   adds both products to a float lane: 4 FLOPs per lane. The library's BF16
   products use it (the avx512bf16 kernels), so it bounds their pp. */
__attribute__((target("avx512f,avx512bf16"))) static double bf16_dot_avx512(long iters, float *sink) {
  const __m512i ones = _mm512_set1_epi16(0x3f80); /* bfloat16 1.0 */
  __m512 acc[12];
  for (int a = 0; a < 12; a++) acc[a] = _mm512_set1_ps((float)a);
  for (long i = 0; i < iters; i++)
#pragma GCC unroll 12
    for (int a = 0; a < 12; a++) acc[a] = _mm512_dpbf16_ps(acc[a], (__m512bh)ones, (__m512bh)ones);
  for (int a = 1; a < 12; a++) acc[0] = _mm512_add_ps(acc[0], acc[a]);
  *sink += _mm512_reduce_add_ps(acc[0]);
  return (double)iters * 12 * 16 * 4;
}

/* The int8 dot of AVX2, vpmaddubsw: 16 int16 lanes, each the sum of two
   products of an unsigned and a signed byte, added to an int16 sum (the
   avx2int8 kernels add a few in int16 before widening): 4 integer ops per
   lane, as many per byte of operand as vpdpbusd. 6 independent sums of
   distinct operand pairs (more spill the 16 ymm registers); the
   signed operands change every round, so that nothing can be hoisted (the
   values wrap, which costs nothing). Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL and
   the K types multiply with it on AVX2; Q8_0's batches use vpmaddwd (half
   the products an instruction: its weights need all 8 bits), so its pp is
   bounded by half this peak. */
__attribute__((target("avx2"))) static double int8_dot_avx2(long iters, float *sink) {
  const __m256i x0 = _mm256_set1_epi8(3), x1 = _mm256_set1_epi8(4), x2 = _mm256_set1_epi8(5);
  __m256i w0 = _mm256_set1_epi8(1), w1 = _mm256_set1_epi8(2);
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0;
  for (long i = 0; i < iters; i++) { /* named sums: gcc 12 keeps an array of them in memory */
    a0 = _mm256_add_epi16(a0, _mm256_maddubs_epi16(x0, w0)), a1 = _mm256_add_epi16(a1, _mm256_maddubs_epi16(x1, w0));
    a2 = _mm256_add_epi16(a2, _mm256_maddubs_epi16(x2, w0)), a3 = _mm256_add_epi16(a3, _mm256_maddubs_epi16(x0, w1));
    a4 = _mm256_add_epi16(a4, _mm256_maddubs_epi16(x1, w1)), a5 = _mm256_add_epi16(a5, _mm256_maddubs_epi16(x2, w1));
    w0 = _mm256_add_epi8(w0, x0), w1 = _mm256_add_epi8(w1, x1);
  }
  __m256i sum = _mm256_add_epi16(_mm256_add_epi16(_mm256_add_epi16(a0, a1), _mm256_add_epi16(a2, a3)),
                                 _mm256_add_epi16(a4, a5));
  *sink += (float)_mm256_extract_epi16(sum, 0);
  return (double)iters * 6 * 16 * 4;
}

/* The same with vpdpbusd, which multiplies four unsigned by four signed
   bytes and adds them to an int32 lane: 8 integer ops per lane. The int8
   products (Q8_0, Q4_0 and the K types on the avx512vnni and avx512bf16
   kernels) do their multiplications with it or with vpmaddubsw, which does
   no more per instruction, so it bounds their pp. */
__attribute__((target("avx512f,avx512vnni"))) static double int8_dot_avx512(long iters, float *sink) {
  const __m512i ones = _mm512_set1_epi8(1);
  __m512i acc[12];
  for (int a = 0; a < 12; a++) acc[a] = _mm512_set1_epi32(a);
  for (long i = 0; i < iters; i++)
#pragma GCC unroll 12
    for (int a = 0; a < 12; a++) acc[a] = _mm512_dpbusd_epi32(acc[a], ones, ones);
  for (int a = 1; a < 12; a++) acc[0] = _mm512_add_epi32(acc[0], acc[a]);
  *sink += (float)_mm512_reduce_add_epi32(acc[0]);
  return (double)iters * 12 * 16 * 8;
}
#endif

static double fma_loop(isa level, long iters, float *sink) {
#ifdef BENCH_X86
  if (level == ISA_AVX512) return fma_avx512(iters, sink);
  if (level == ISA_AVX2) return fma_avx2(iters, sink);
#endif
  (void)level;
  return fma_c(iters, sink);
}

typedef struct machine {
  isa level;
  int has_bf16; /* AVX512-BF16: bf16_gflops measured */
  int has_int8; /* AVX512-VNNI: int8_gops measured */
  int has_int8_avx2; /* AVX2: int8_avx2_gops measured */
  size_t buffer_bytes;
  int threads[MAX_LIST], n_threads;
  double read_gbs[MAX_LIST];   /* median of MACHINE_PASSES */
  double fma_gflops[MAX_LIST]; /* median of MACHINE_PASSES */
  double bf16_gflops[MAX_LIST]; /* median of MACHINE_PASSES, if has_bf16 */
  double int8_gops[MAX_LIST];   /* median of MACHINE_PASSES, if has_int8 */
  double int8_avx2_gops[MAX_LIST]; /* median of MACHINE_PASSES, if has_int8_avx2 */
} machine;

static volatile float machine_sink; /* keeps the measured loops alive */

typedef struct read_shares {
  isa level;
  const float *data;
  size_t share; /* floats per thread */
  size_t ahead; /* prefetch distance in bytes, 0 for none */
} read_shares;

static double read_share(const void *arg, int index) {
  const read_shares *r = arg;
  return sum_floats(r->level, r->data + (size_t)index * r->share, r->share, r->ahead);
}

/* GB/s of a streaming read of `n` floats by `threads` threads, each taking
   one contiguous share, as the matrix kernels split rows. */
static double read_bandwidth_ahead(isa level, const float *data, size_t n, int threads,
                                  size_t ahead) {
  read_shares shares = {level, data, n / 64 / (size_t)threads * 64, ahead};
  double start = cli_seconds();
  double total = run_parts(threads, read_share, &shares);
  double seconds = cli_seconds() - start;
  machine_sink = (float)total;
  return (double)(shares.share * (size_t)threads) * sizeof(float) / seconds / 1e9;
}

/* The faster of a plain streaming read and one that prefetches 16 KiB ahead. */
static double read_bandwidth(isa level, const float *data, size_t n, int threads) {
  double plain = read_bandwidth_ahead(level, data, n, threads, 0);
  double ahead = read_bandwidth_ahead(level, data, n, threads, 16384);
  return plain > ahead ? plain : ahead;
}

typedef enum peak_kind { PEAK_FMA, PEAK_BF16, PEAK_INT8, PEAK_INT8_AVX2 } peak_kind;

typedef struct fma_work {
  isa level;
  peak_kind kind;
} fma_work;

static double fma_part(const void *arg, int index) {
  const fma_work *work = arg;
  const long iters = 20000000;
  float sink = 0;
  (void)index;
#ifdef BENCH_X86
  double flops = work->kind == PEAK_BF16   ? bf16_dot_avx512(iters, &sink)
                 : work->kind == PEAK_INT8 ? int8_dot_avx512(iters, &sink)
                 : work->kind == PEAK_INT8_AVX2 ? int8_dot_avx2(iters, &sink)
                                           : fma_loop(work->level, iters, &sink);
#else
  double flops = fma_loop(work->level, iters, &sink);
#endif
  machine_sink = sink;
  return flops;
}

/* FP32 FMA peak, BF16 dot peak (AVX512-BF16 only) or int8 dot peak
   (AVX512-VNNI's or AVX2's), in G(FL)OP/s. */
static double fma_peak(isa level, peak_kind kind, int threads) {
  fma_work work = {level, kind};
  double start = cli_seconds();
  double flops = run_parts(threads, fma_part, &work);
  return flops / (cli_seconds() - start) / 1e9;
}

/* Measures both limits for every thread count. The buffer (1 GiB by
   default, halved while memory is short) must be far larger than any cache. */
static int measure_machine(const options *opts, machine *out) {
  out->level = widest_isa();
  out->has_bf16 = out->has_int8 = out->has_int8_avx2 = 0;
#ifdef BENCH_X86
  out->has_bf16 = out->level == ISA_AVX512 && __builtin_cpu_supports("avx512bf16");
  out->has_int8 = out->level == ISA_AVX512 && __builtin_cpu_supports("avx512vnni");
  out->has_int8_avx2 = out->level >= ISA_AVX2;
#endif
  size_t bytes = (size_t)opts->buffer_mib << 20;
  float *data = NULL;
  while (bytes >= ((size_t)16 << 20) && !(data = cli_aligned_alloc(64, bytes))) bytes /= 2;
  if (!data) return 0;
  size_t n = bytes / sizeof(float);
  out->buffer_bytes = bytes;
  for (size_t i = 0; i < n; i++) data[i] = (float)(i & 1023) * 1e-3f;
  out->n_threads = opts->n_threads;
  for (int t = 0; t < opts->n_threads; t++) {
    int threads = opts->threads[t];
    double read[MACHINE_PASSES], fma[MACHINE_PASSES], bf16[MACHINE_PASSES], int8[MACHINE_PASSES],
        int8_avx2[MACHINE_PASSES];
    read_bandwidth(out->level, data, n, threads); /* warm-up */
    for (int pass = 0; pass < MACHINE_PASSES; pass++)
      read[pass] = read_bandwidth(out->level, data, n, threads);
    fma_peak(out->level, PEAK_FMA, threads);
    for (int pass = 0; pass < MACHINE_PASSES; pass++) {
      fma[pass] = fma_peak(out->level, PEAK_FMA, threads);
      bf16[pass] = out->has_bf16 ? fma_peak(out->level, PEAK_BF16, threads) : 0.0;
      int8[pass] = out->has_int8 ? fma_peak(out->level, PEAK_INT8, threads) : 0.0;
      int8_avx2[pass] = out->has_int8_avx2 ? fma_peak(out->level, PEAK_INT8_AVX2, threads) : 0.0;
    }
    out->threads[t] = threads;
    out->read_gbs[t] = summarize(read, MACHINE_PASSES).median;
    out->fma_gflops[t] = summarize(fma, MACHINE_PASSES).median;
    out->bf16_gflops[t] = summarize(bf16, MACHINE_PASSES).median;
    out->int8_gops[t] = summarize(int8, MACHINE_PASSES).median;
    out->int8_avx2_gops[t] = summarize(int8_avx2, MACHINE_PASSES).median;
  }
  cli_aligned_free(data);
  return 1;
}

/* ---- output ---------------------------------------------------------------- */

static void json_string(const char *text) {
  putchar('"');
  for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
    if (*c == '"' || *c == '\\') printf("\\%c", *c);
    else if (*c < 0x20) printf("\\u%04x", *c);
    else putchar(*c);
  }
  putchar('"');
}

static void print_machine(const options *opts, const machine *m) {
  long cpus = cli_cpu_count();
  if (opts->json) {
    printf("{\n  \"library\": \"%s\",\n  \"cpus\": %ld,\n  \"machine\": {\"isa\": \"%s\", "
           "\"read_buffer_bytes\": %zu, \"passes\": %d, \"limits\": [",
           gpt2_version(), cpus, isa_names[m->level], m->buffer_bytes, MACHINE_PASSES);
    for (int t = 0; t < m->n_threads; t++)
      printf("%s{\"threads\": %d, \"read_gbs\": %.4f, \"fma_gflops\": %.4f, \"bf16_gflops\": %.4f, "
             "\"int8_gops\": %.4f, \"int8_avx2_gops\": %.4f}",
             t ? ", " : "", m->threads[t], m->read_gbs[t], m->fma_gflops[t], m->bf16_gflops[t], m->int8_gops[t],
             m->int8_avx2_gops[t]);
    printf("]},\n  \"results\": [");
    return;
  }
  printf("libgpt2 %s, %ld CPUs\n", gpt2_version(), cpus);
  printf("machine limits (median of %d passes):\n", MACHINE_PASSES);
  for (int t = 0; t < m->n_threads; t++) {
    printf("  %d thread%s: read bandwidth %.1f GB/s (%zu MiB streaming read), "
           "FP32 FMA peak %.1f GFLOP/s (%s)",
           m->threads[t], m->threads[t] > 1 ? "s" : " ", m->read_gbs[t], m->buffer_bytes >> 20,
           m->fma_gflops[t], isa_names[m->level]);
    if (m->has_bf16) printf(", BF16 dot peak %.1f GFLOP/s (vdpbf16ps)", m->bf16_gflops[t]);
    if (m->has_int8) printf(", int8 dot peak %.1f GOP/s (vpdpbusd)", m->int8_gops[t]);
    if (m->has_int8_avx2) printf(", AVX2 int8 dot peak %.1f GOP/s (vpmaddubsw)", m->int8_avx2_gops[t]);
    printf("\n");
  }
  printf("pp: FLOPs per prompt of P tokens = 24 L E^2 P + 2 V E + 2 L E P (P+1); "
         "%% of the FMA peak (of the BF16 dot peak for --type bf16 on the avx512bf16 kernels, of the int8\n"
         "    dot peak for block-quantized weights (under 1.1 bytes a parameter) on avx512vnni/avx512bf16, of the\n"
         "    AVX2 int8 dot peak for them on avx2int8)\n");
  printf("tg: bytes per token = gpt2_model_size_per_token + KV rows 2 L E (pos+1) x kv size; "
         "%% of the read bandwidth\n");
}

typedef struct model_info {
  const char *name; /* path as given */
  const char *type;
  const char *isa;
  uint64_t size, n_params, size_per_token;
  int n_vocab, n_ctx, n_embd, n_layer;
  double load_seconds;
  uint64_t load_rss;
  uint64_t rss_budget; /* weights read per token + KV cache + 32 MiB (issue 8) */
} model_info;

typedef struct result {
  const model_info *model;
  int threads;
  int n_parallel; /* sequences (1 for pp and tg) */
  int n_prompt, n_gen;
  int depth; /* tg: the prompt before the timed tokens (0: TG_PROMPT) */
  stats tokens_per_second;
  double samples[MAX_REPS];
  int reps;
  double rate;  /* GFLOP/s (pp) or GB/s (tg) at the mean speed */
  double limit; /* the machine's peak for that rate */
  uint64_t peak_rss;
} result;

static void print_table_header(void) {
  printf("\n| %-24s | %-5s | %-10s | %9s | %7s | %12s | %21s | %10s | %11s | %16s | %7s | %9s |\n",
         "model", "type", "kernels", "size MiB", "threads", "test", "t/s (mean +- sd)",
         "median", "t/s per seq", "rate", "% limit", "RSS MiB");
  printf("|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|%s|\n", "--------------------------", "-------",
         "------------", "----------:", "--------:", "-------------:", "----------------------:",
         "-----------:", "------------:", "-----------------:", "--------:", "----------:");
}

static void print_model(const options *opts, const model_info *info) {
  if (opts->json) return;
  printf("\nmodel %s as %s: kernels %s, %.2f MiB, %.2f M params, %.2f MiB read per token, "
         "load %.3f s, peak RSS at load %.1f MiB, RSS budget (weights read + KV cache + 32 MiB) "
         "%.1f MiB\n",
         info->name, info->type, info->isa, (double)info->size / 1048576.0,
         (double)info->n_params / 1e6, (double)info->size_per_token / 1048576.0,
         info->load_seconds, (double)info->load_rss / 1048576.0,
         (double)info->rss_budget / 1048576.0);
  print_table_header();
}

static void print_result(const options *opts, const result *r, int *first_json) {
  const model_info *m = r->model;
  char test[32];
  if (r->n_parallel > 1 || (r->n_gen && r->n_prompt)) snprintf(test, sizeof test, "np%d tg%d", r->n_parallel, r->n_gen);
  else if (r->n_gen && r->depth) snprintf(test, sizeof test, "tg%d @ d%d", r->n_gen, r->depth);
  else if (r->n_gen) snprintf(test, sizeof test, "tg%d", r->n_gen);
  else snprintf(test, sizeof test, "pp%d", r->n_prompt);
  if (opts->json) {
    printf("%s\n    {\"model\": ", *first_json ? "" : ",");
    *first_json = 0;
    json_string(m->name);
    printf(", \"type\": \"%s\", \"kernels\": \"%s\", \"kv_type\": \"%s\", \"n_vocab\": %d, "
           "\"n_embd\": %d, \"n_layer\": %d, \"size_bytes\": %llu, "
           "\"n_params\": %llu, \"bytes_per_token_weights\": %llu, \"load_seconds\": %.4f, "
           "\"load_peak_rss_bytes\": %llu, \"rss_budget_bytes\": %llu,\n     \"threads\": %d, \"test\": \"%s\", "
           "\"n_prompt\": %d, \"n_gen\": %d, \"n_depth\": %d, \"n_parallel\": %d, \"reps\": %d, \"samples_ts\": [",
           m->type, m->isa, opts->kv_type == GPT2_KV_F16 ? "f16" : "f32", m->n_vocab, m->n_embd,
           m->n_layer, (unsigned long long)m->size, (unsigned long long)m->n_params,
           (unsigned long long)m->size_per_token, m->load_seconds,
           (unsigned long long)m->load_rss, (unsigned long long)m->rss_budget, r->threads, test, r->n_prompt,
           r->n_gen, r->depth, r->n_parallel, r->reps);
    for (int i = 0; i < r->reps; i++) printf("%s%.3f", i ? ", " : "", r->samples[i]);
    printf("],\n     \"avg_ts\": %.3f, \"stddev_ts\": %.3f, \"median_ts\": %.3f, \"%s\": %.4f, "
           "\"%s\": %.4f, \"fraction_of_limit\": %.4f, \"per_sequence_ts\": %.3f, \"peak_rss_bytes\": %llu}",
           r->tokens_per_second.mean, r->tokens_per_second.sd, r->tokens_per_second.median,
           r->n_gen ? "gbs" : "gflops", r->rate, r->n_gen ? "limit_gbs" : "limit_gflops",
           r->limit, r->rate / r->limit, r->tokens_per_second.mean / r->n_parallel,
           (unsigned long long)r->peak_rss);
    return;
  }
  char speed[40], rate[32];
  snprintf(speed, sizeof speed, "%.2f +- %.2f", r->tokens_per_second.mean,
           r->tokens_per_second.sd);
  snprintf(rate, sizeof rate, r->n_gen ? "%.2f GB/s" : "%.1f GFLOP/s", r->rate);
  const char *base = strrchr(m->name, '/');
  base = base && base[1] ? base + 1 : m->name;
  printf("| %-24.24s | %-5s | %-10s | %9.2f | %7d | %12s | %21s | %10.2f | %11.2f | %16s | %6.1f%% | %9.1f |\n",
         base, m->type, m->isa, (double)m->size / 1048576.0, r->threads, test, speed,
         r->tokens_per_second.median, r->tokens_per_second.mean / r->n_parallel, rate, 100.0 * r->rate / r->limit,
         (double)r->peak_rss / 1048576.0);
  fflush(stdout);
}

/* ---- the tests ------------------------------------------------------------- */

static void random_tokens(gpt2_token *tokens, size_t n, int n_vocab) {
  uint64_t state = 0x853c49e6748fea9bu;
  for (size_t i = 0; i < n; i++) {
    state = state * 6364136223846793005u + 1442695040888963407u;
    tokens[i] = (gpt2_token)((state >> 33) % (uint64_t)n_vocab);
  }
}

/* Seconds of one pp run: a prompt of n tokens on an empty cache. */
static int run_prompt(gpt2_context *ctx, const gpt2_token *tokens, int n, double *seconds) {
  if (gpt2_truncate(ctx, 0) != GPT2_OK) return 0;
  double start = cli_seconds();
  int status = gpt2_eval(ctx, tokens, (size_t)n);
  *seconds = cli_seconds() - start;
  return status == GPT2_OK;
}

/* Seconds of one tg run: n single-token evaluations after a prompt of
   `prompt` tokens. */
static int run_generation(gpt2_context *ctx, const gpt2_token *tokens, int prompt, int n, double *seconds) {
  if (gpt2_truncate(ctx, 0) != GPT2_OK || gpt2_eval(ctx, tokens, (size_t)prompt) != GPT2_OK) return 0;
  double start = cli_seconds();
  for (int i = 0; i < n; i++)
    if (gpt2_eval(ctx, tokens + prompt + i, 1) != GPT2_OK) return 0;
  *seconds = cli_seconds() - start;
  return 1;
}

/* S sequences: each context's prompt in one batch, then n steps of one
   token per sequence in one batch each; the seconds of the steps. Sequence
   i reads its tokens from tokens + i (all different). */
static int run_parallel(gpt2_context **ctxs, int n_seq, const gpt2_token *tokens, int n, double *seconds) {
  const gpt2_token **ptrs = malloc((size_t)n_seq * sizeof *ptrs);
  size_t *counts = malloc((size_t)n_seq * sizeof *counts);
  int ok = ptrs && counts;
  for (int i = 0; ok && i < n_seq; i++) {
    ok = gpt2_truncate(ctxs[i], 0) == GPT2_OK;
    ptrs[i] = tokens + i;
    counts[i] = NP_PROMPT;
  }
  ok = ok && gpt2_eval_batch(ctxs, ptrs, counts, (size_t)n_seq) == GPT2_OK;
  double start = cli_seconds();
  for (int step = 0; ok && step < n; step++) {
    for (int i = 0; i < n_seq; i++) {
      ptrs[i] = tokens + i + NP_PROMPT + step;
      counts[i] = 1;
    }
    ok = gpt2_eval_batch(ctxs, ptrs, counts, (size_t)n_seq) == GPT2_OK;
  }
  *seconds = cli_seconds() - start;
  free(ptrs);
  free(counts);
  return ok;
}

static double prompt_flops(const model_info *m, int n) {
  double L = m->n_layer, E = m->n_embd, V = m->n_vocab, P = n;
  return 24 * L * E * E * P + 2 * V * E + 2 * L * E * P * (P + 1);
}

/* Bytes read by n generation steps of n_seq sequences after a prompt of
   `prompt` tokens each: the weights once per step, every sequence's K and
   V rows. */
static double generation_bytes(const model_info *m, int n, int n_seq, int prompt, uint32_t kv_type) {
  double kv_elem = kv_type == GPT2_KV_F16 ? 2 : 4, bytes = 0;
  for (int i = 0; i < n; i++) {
    double cached = prompt + i + 1; /* positions attended to, itself included */
    bytes += (double)m->size_per_token + n_seq * 2.0 * m->n_layer * m->n_embd * cached * kv_elem;
  }
  return bytes;
}

/* Runs one test (pp when n_gen is 0) with a warm-up; 0 on failure. */
static int run_test(const options *opts, gpt2_context *ctx, const gpt2_token *tokens,
                    result *r) {
  double seconds;
  int n = r->n_gen ? r->n_gen : r->n_prompt, prompt = r->depth ? r->depth : TG_PROMPT;
  int ok = r->n_gen ? run_generation(ctx, tokens, prompt, n, &seconds) : run_prompt(ctx, tokens, n, &seconds);
  for (int rep = 0; ok && rep < opts->reps; rep++) {
    ok = r->n_gen ? run_generation(ctx, tokens, prompt, n, &seconds) : run_prompt(ctx, tokens, n, &seconds);
    r->samples[rep] = n / seconds;
  }
  if (!ok) return 0;
  r->reps = opts->reps;
  r->tokens_per_second = summarize(r->samples, r->reps);
  double runs_per_second = r->tokens_per_second.mean / n;
  r->rate = runs_per_second *
            (r->n_gen ? generation_bytes(r->model, n, 1, prompt, opts->kv_type) : prompt_flops(r->model, n)) /
            1e9;
  r->peak_rss = peak_rss();
  return 1;
}

/* The np test of r->n_parallel sequences and r->n_gen steps, with contexts
   of the model's full n_ctx on `threads` threads (the runner; the others
   need no workers); 0 on failure. Peak RSS counts from before the contexts. */
static int run_parallel_test(const options *opts, gpt2_model *model, const gpt2_token *tokens, result *r) {
  int n_seq = r->n_parallel, n = r->n_gen, ok = 1;
  gpt2_context **ctxs = calloc((size_t)n_seq, sizeof *ctxs);
  if (!ctxs) return 0;
  reset_peak_rss();
  for (int i = 0; ok && i < n_seq; i++) {
    gpt2_context_params p = GPT2_CONTEXT_PARAMS_INIT;
    p.n_threads = i == 0 ? (uint32_t)r->threads : 1;
    p.kv_type = opts->kv_type;
    ok = gpt2_context_new(model, &p, &ctxs[i]) == GPT2_OK;
  }
  double seconds;
  ok = ok && run_parallel(ctxs, n_seq, tokens, n, &seconds); /* warm-up */
  for (int rep = 0; ok && rep < opts->reps; rep++) {
    ok = run_parallel(ctxs, n_seq, tokens, n, &seconds);
    r->samples[rep] = (double)n_seq * n / seconds;
  }
  if (ok) {
    r->reps = opts->reps;
    r->tokens_per_second = summarize(r->samples, r->reps);
    r->rate = r->tokens_per_second.mean / ((double)n_seq * n) *
              generation_bytes(r->model, n, n_seq, NP_PROMPT, opts->kv_type) / 1e9;
    r->peak_rss = peak_rss();
  }
  for (int i = 0; i < n_seq; i++) gpt2_context_free(ctxs[i]);
  free(ctxs);
  return ok;
}

static int largest(const int *values, int n) {
  int max = 0;
  for (int i = 0; i < n; i++) max = values[i] > max ? values[i] : max;
  return max;
}

/* Whether the model's matrices are block-quantized (Q8_0, Q4_0, K types:
   at most 1.0625 bytes a parameter; F16 and BF16 take 2). */
static int block_quantized(const model_info *m) {
  return (double)m->size_per_token < 1.1 * (double)m->n_params;
}

/* The int8 dot peak that bounds the model's pp (threads index t): its
   matrices are block-quantized and its kernels multiply them on 8-bit
   activations; 0 otherwise. */
static double int8_limit(const machine *mach, const model_info *m, int t) {
  if (!block_quantized(m)) return 0.0;
  if (mach->has_int8 && (strcmp(m->isa, "avx512vnni") == 0 || strcmp(m->isa, "avx512bf16") == 0))
    return mach->int8_gops[t];
  if (mach->has_int8_avx2 && strcmp(m->isa, "avx2int8") == 0) return mach->int8_avx2_gops[t];
  return 0.0;
}

/* Loads one model with one weight type and runs every test on it. */
static int bench_model(const options *opts, const machine *mach, const char *path,
                       const type_option *type, int *first_json) {
  gpt2_load_params load_params = GPT2_LOAD_PARAMS_INIT;
  load_params.weight_type = type->weight_type;
  load_params.use_mmap = (uint32_t)opts->use_mmap;
  load_params.n_threads = (uint32_t)largest(opts->threads, opts->n_threads);
  gpt2_model *model;
  reset_peak_rss();
  double start = cli_seconds();
  int status = gpt2_load(path, &load_params, &model);
  if (status != GPT2_OK) {
    fprintf(stderr, "gpt2-bench: cannot load %s as %s: %s: %s\n", path, type->name,
            gpt2_strerror(status), gpt2_last_error());
    return 0;
  }
  model_info info = {path, type->name, gpt2_model_isa(model), gpt2_model_size(model),
                     gpt2_model_n_params(model), gpt2_model_size_per_token(model),
                     gpt2_n_vocab(model), gpt2_n_ctx_train(model), gpt2_n_embd(model),
                     gpt2_n_layer(model), cli_seconds() - start, peak_rss(), 0};

  /* Positions for the longest test that fits the model. */
  int max_prompt = largest(opts->prompts, opts->n_prompts);
  int max_gen = largest(opts->gens, opts->n_gens), max_depth = largest(opts->depths, opts->n_depths);
  int tg_positions = (max_depth > TG_PROMPT ? max_depth : TG_PROMPT) + max_gen;
  int n_ctx = max_prompt > tg_positions ? max_prompt : tg_positions;
  if (n_ctx > info.n_ctx) n_ctx = info.n_ctx;
  /* np tests: sequence i reads tokens i .. i + NP_PROMPT + max_gen */
  int n_tokens = opts->n_parallel ? largest(opts->parallel, opts->n_parallel) + NP_PROMPT + max_gen : 0;
  n_tokens = n_tokens > n_ctx ? n_tokens : n_ctx;
  uint64_t kv_bytes = 2ull * (uint64_t)info.n_layer * (uint64_t)n_ctx * (uint64_t)info.n_embd *
                      (opts->kv_type == GPT2_KV_F16 ? 2 : 4);
  info.rss_budget = info.size_per_token + kv_bytes + (32ull << 20);
  print_model(opts, &info);

  gpt2_token *tokens = malloc((size_t)n_tokens * sizeof *tokens);
  int ok = tokens != NULL;
  if (ok) random_tokens(tokens, (size_t)n_tokens, info.n_vocab);
  for (int t = 0; ok && t < opts->n_threads; t++) {
    gpt2_context_params ctx_params = GPT2_CONTEXT_PARAMS_INIT;
    ctx_params.n_ctx = (uint32_t)n_ctx;
    ctx_params.n_threads = (uint32_t)opts->threads[t];
    ctx_params.kv_type = opts->kv_type;
    gpt2_context *ctx;
    status = gpt2_context_new(model, &ctx_params, &ctx);
    if (status != GPT2_OK) {
      fprintf(stderr, "gpt2-bench: context for %s: %s: %s\n", path, gpt2_strerror(status),
              gpt2_last_error());
      ok = 0;
      break;
    }
    /* The pp tests, then the tg tests at each depth. */
    for (int i = 0; ok && i < opts->n_prompts + opts->n_gens * opts->n_depths; i++) {
      int is_gen = i >= opts->n_prompts;
      result r = {.model = &info, .threads = opts->threads[t], .n_parallel = 1};
      r.n_prompt = is_gen ? 0 : opts->prompts[i];
      r.n_gen = is_gen ? opts->gens[(i - opts->n_prompts) / opts->n_depths] : 0;
      r.depth = is_gen ? opts->depths[(i - opts->n_prompts) % opts->n_depths] : 0;
      int needed = is_gen ? (r.depth ? r.depth : TG_PROMPT) + r.n_gen : r.n_prompt;
      if (r.n_prompt == 0 && r.n_gen == 0) continue;
      if (needed > info.n_ctx) {
        fprintf(stderr, "gpt2-bench: %s%d%s%.0d needs %d positions, the model has %d: skipped\n",
                is_gen ? "tg" : "pp", is_gen ? r.n_gen : r.n_prompt, r.depth ? " @ d" : "", r.depth, needed,
                info.n_ctx);
        continue;
      }
      r.limit = is_gen ? mach->read_gbs[t] : mach->fma_gflops[t];
      if (!is_gen && mach->has_bf16 && strcmp(type->name, "bf16") == 0 && strcmp(info.isa, "avx512bf16") == 0)
        r.limit = mach->bf16_gflops[t];
      double int8_peak = int8_limit(mach, &info, t);
      if (!is_gen && int8_peak > 0.0) r.limit = int8_peak;
      if (!run_test(opts, ctx, tokens, &r)) {
        fprintf(stderr, "gpt2-bench: %s failed: %s\n", path, gpt2_last_error());
        ok = 0;
      } else {
        print_result(opts, &r, first_json);
      }
    }
    gpt2_context_free(ctx);
    /* The np tests, with their own contexts. */
    for (int g = 0; ok && g < opts->n_gens; g++)
      for (int i = 0; ok && i < opts->n_parallel && opts->gens[g]; i++) {
        result r = {.model = &info, .threads = opts->threads[t], .n_parallel = opts->parallel[i],
                    .n_prompt = NP_PROMPT, .n_gen = opts->gens[g], .limit = mach->read_gbs[t]};
        if (NP_PROMPT + r.n_gen > info.n_ctx) {
          fprintf(stderr, "gpt2-bench: np%d tg%d needs %d positions, the model has %d: skipped\n", r.n_parallel,
                  r.n_gen, NP_PROMPT + r.n_gen, info.n_ctx);
          continue;
        }
        if (!run_parallel_test(opts, model, tokens, &r)) {
          fprintf(stderr, "gpt2-bench: np%d on %s failed: %s\n", r.n_parallel, path, gpt2_last_error());
          ok = 0;
        } else {
          print_result(opts, &r, first_json);
        }
      }
  }
  free(tokens);
  gpt2_model_free(model);
  return ok;
}

int main(int argc, char **argv) {
  cli_program = "gpt2-bench";
  options opts;
  parse_options(argc, argv, &opts);
  machine mach;
  if (!measure_machine(&opts, &mach)) cli_fail("no memory for the bandwidth buffer");
  print_machine(&opts, &mach);
  int ok = 1, first_json = 1;
  for (int m = 0; m < opts.n_models; m++)
    for (int t = 0; t < opts.n_types; t++)
      ok &= bench_model(&opts, &mach, opts.models[m], opts.types[t], &first_json);
  if (opts.json) printf("\n  ]\n}\n");
  return ok ? 0 : CLI_EXIT_FAILURE;
}
