/* Golden test: libgpt2's logits and greedy continuations against the
   independent float64 reference (tests/reference/gpt2_ref.py; data and
   format in tests/data/golden/README.md). Public API only.
   - tests/data/golden/models.txt: the generated models in every dtype.
   - tests/data/golden/variants.txt: Q8_0 and Q4_0 GGUF files written now
     from the generated models (as gpt2-quantize does; their bytes must hash
     to the golden data's), eight GGUF files llama.cpp's quantizer wrote
     (tests/data/llamacpp: Q4_K, Q5_K, Q6_K, Q2_K, Q3_K, IQ4_XS, and Q4_1,
     Q5_0, Q5_1, IQ4_NL; the int8 tables run them all on 8-bit activations),
     each against the reference run on the file's own dequantized weights,
     so that only our arithmetic is measured, not the quantization error;
     the F16 KV cache against the
     reference with float16 keys and values; the avx512bf16 table's BF16
     products against the reference with bfloat16 activations.
   Every table this CPU has runs once (the default, the default with
   fp32_products, and scalar, avx2, avx2int8, avx512, avx512vnni, avx512bf16, neondot, neon by
   GPT2_ISA; a table the CPU lacks prints a skip). The 124M shape runs the
   default and FP32 tables, and scalar on F32 only, to keep the run short:
   the tables are compared with each other on odd shapes in test_kernels.
   The weights' hash (FNV-1a of model.safetensors or of the GGUF file) is
   computed here from the file and must match the one the golden data were
   made from.

   Bounds (max |logit - golden| over the stored rows, and where stated the
   RMS difference relative to the RMS golden logit). Measured on x86-64 with
   AVX512-BF16/VNNI, gcc 12; planted bugs measured in libgpt2 itself
   (LayerNorm eps x10 in the forward pass, keys and values truncated to
   float16 in the cache writer, 7-bit instead of 8-bit activations in the
   int8 oracle and kernel, the high bits of a Q4_K/Q5_K min taken from the
   wrong byte) and, for smaller bugs, in the reference (gpt2_ref.py
   sensitivity: erf GELU 2.3e-3..4.9e-3, LayerNorm eps 1e-6 4.2e-3..6.7e-2,
   a dropped last-layer bias 6.1e-2..0.15, positions off by one 15..18).
   - float32 (every plain model, every GGUF variant on an FP32 table):
     2e-4, 124M 5e-4. Measured at most 4.6e-5 (small), 9.7e-5 (124M);
     numpy's own float32 run is 1e-5..8e-5 off. LayerNorm eps x10 planted:
     4.3e-2..0.8, the K-type min bug 5.0..8.2; erf GELU (2.3e-3) is the
     smallest reference bug, 10x the bound. A GELU constant changed in the
     4th digit (0.044715 -> 0.04472) moves the logits 1.7e-5..3.4e-5: below
     float32 rounding, so no logit bound can see it. Greedy continuations
     must be identical: every golden step's top-2 gap is at least 5e-3
     (min_margin).
   - F16 KV cache: 1e-2 and RMS 5e-4. Measured up to 6.6e-3, RMS 3.4e-4:
     rounding to float16 is discontinuous, so a 1e-7 relative change of the
     float32 keys (perturbing the QKV weights in the reference by that
     much) moves the logits up to 5.6e-3 on mid; the scalar table, summing
     in another order, measures 7.9e-4..3.8e-3. Truncating K and V planted:
     2.9e-2..3.7e-2, RMS 1.05e-3..1.53e-3; no rounding at all (the f32
     cache against this data): 1.7e-2..2.5e-2.
   - bfloat16 activations (avx512bf16 on BF16 weights, against the
     reference that rounds the activations likewise): 0.08 and RMS 4e-3,
     124M 0.3 and 1.5e-2. Measured 1.7e-2..5.0e-2, RMS 3.9e-4..2.4e-3, 124M
     0.14 and 6.5e-3 (the same discontinuity: numpy's float32 run of that
     reference is 0.14 off on 124M). LayerNorm eps x10 planted: 0.23..0.42,
     RMS 1.2e-2..1.6e-2; 124M 0.91, 3.7e-2. Smaller bugs (a dropped bias,
     0.06 on 124M) are left to the exact tables, which run every BF16 model
     at the float32 bound.
   - 8-bit activations (Q8_0/Q4_0, K-type, Q4_1/Q5_0/Q5_1/IQ4_NL weights
     on avx512vnni/avx512bf16/avx2int8/neondot; neondot runs the last four
     on FP32): no per-logit bound (largest difference measured 0.25..0.75);
     RMS 4e-2 and top-1 75%. Measured RMS 1.36e-2..2.92e-2 (kq-q4_k_m
     2.15e-2, kq-q5_k_m 1.92e-2, kq-q2_k 1.94e-2, kq-iq4_xs 2.01e-2, kq-q4_1,
     kq-q5_0, kq-q5_1, kq-iq4_nl 1.36e-2..1.45e-2), top-1 of 16 rows at least
     the bound; 7-bit activations planted: RMS 4.3e-2..6.3e-2; a wrong Q3_K
     hmask bit in the int8 kernel 1.4 (kq-q2_k), IQ4_XS's grid entry 13 -> 23
     0.142 (13 -> 14 stays inside: test_kernels' bitwise checks see it). Bugs smaller
     than the 8-bit rounding are caught on the FP32 tables, which run the
     same files at the float32 bound. */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gpt2.h"
#include "harness.h"

#define MAX_IDS 64
#define MAX_LINE 4096

/* How a run is held to its golden data (figures in the comment above and
   in docs/testing.md): the largest |logit - golden| over the stored rows;
   runs with 8-bit activations, which no per-logit bound fits, by the RMS of
   the differences relative to the RMS golden logit and the top-1 agreement
   instead; F16 KV and bfloat16-activation runs by both. */
typedef struct bound {
  double max_abs;  /* 0: no per-logit bound (8-bit activations) */
  double rms_rel;  /* 0: not checked */
  double min_top1; /* 8-bit activations: fraction of rows with the golden argmax */
  const char *kind;
} bound;

/* Whether table `isa` multiplies Q8_0/Q4_0 and K-type weights with 8-bit
   activations. */
static int int8_table(const char *isa) {
  return !strcmp(isa, "avx512vnni") || !strcmp(isa, "avx512bf16") || !strcmp(isa, "avx2int8") ||
         !strcmp(isa, "neondot");
}

/* snprintf into a path buffer; 0 if it did not fit. */
static int format_path(char *out, size_t cap, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  int n = vsnprintf(out, cap, fmt, args);
  va_end(args);
  return n >= 0 && (size_t)n < cap;
}

typedef struct golden {
  char name[64];
  char checksum[32];     /* weights_fnv1a64 */
  char source[64];       /* the generated model it comes from ("": the name) */
  char gguf_type[16];    /* written now from source as a GGUF of this type */
  char file[256];        /* a committed model file under the data directory */
  int kv_f16;            /* evaluated with a float16 KV cache */
  int bf16_products;     /* computed with bfloat16 activations: avx512bf16 only */
  int int8_weights;      /* Q8_0/Q4_0/K-type/Q4_1/Q5_0/Q5_1/IQ4_NL matrices: 8-bit activations on int8 tables */
  int n_vocab;
  gpt2_token prompt[MAX_IDS];
  size_t n_prompt;
  gpt2_token continuation[MAX_IDS];
  size_t n_continuation;
  int32_t rows[MAX_IDS];
  size_t n_rows;
  double min_margin;
  float *logits; /* n_rows x n_vocab */
} golden;

/* "N id id ..." after a key: at most MAX_IDS ids; returns N or -1. */
static int parse_ids(const char *text, int32_t *ids) {
  char *end;
  long count = strtol(text, &end, 10);
  if (end == text || count < 0 || count > MAX_IDS) return -1;
  for (long i = 0; i < count; i++) {
    text = end;
    long id = strtol(text, &end, 10);
    if (end == text || id < 0 || id > INT32_MAX) return -1;
    ids[i] = (int32_t)id;
  }
  return (int)count;
}

static int read_golden(const char *dir, const char *name, golden *g) {
  char path[MAX_LINE], line[MAX_LINE];
  memset(g, 0, sizeof *g);
  if (!format_path(path, sizeof path, "%s/golden/%s.txt", dir, name)) return 0;
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  int n_prompt = -1, n_continuation = -1, n_rows = -1;
  while (fgets(line, sizeof line, f)) {
    char key[64];
    int used;
    if (line[0] == '#' || sscanf(line, "%63s %n", key, &used) != 1) continue;
    const char *value = line + used;
    if (!strcmp(key, "model")) sscanf(value, "%63s", g->name);
    else if (!strcmp(key, "weights_fnv1a64")) sscanf(value, "%31s", g->checksum);
    else if (!strcmp(key, "source")) sscanf(value, "%63s", g->source);
    else if (!strcmp(key, "gguf")) sscanf(value, "%15s", g->gguf_type);
    else if (!strcmp(key, "file")) sscanf(value, "%255s", g->file);
    else if (!strcmp(key, "kv_type")) g->kv_f16 = !strncmp(value, "f16", 3);
    else if (!strcmp(key, "products")) g->bf16_products = !strncmp(value, "bf16", 4);
    else if (!strcmp(key, "block_types")) g->int8_weights = strstr(value, "Q8_0") || strstr(value, "Q4_0") || strstr(value, "_K") ||
                                                  strstr(value, "Q4_1") || strstr(value, "Q5_0") ||
                                                  strstr(value, "Q5_1") || strstr(value, "IQ4_NL");
    else if (!strcmp(key, "n_vocab")) g->n_vocab = atoi(value);
    else if (!strcmp(key, "prompt")) n_prompt = parse_ids(value, g->prompt);
    else if (!strcmp(key, "continuation")) n_continuation = parse_ids(value, g->continuation);
    else if (!strcmp(key, "rows")) n_rows = parse_ids(value, g->rows);
    else if (!strcmp(key, "min_margin")) g->min_margin = atof(value);
  }
  fclose(f);
  if (strcmp(g->name, name) || g->n_vocab <= 0 || n_prompt <= 0 || n_continuation <= 0 || n_rows <= 0)
    return 0;
  g->n_prompt = (size_t)n_prompt;
  g->n_continuation = (size_t)n_continuation;
  g->n_rows = (size_t)n_rows;
  for (size_t r = 0; r < g->n_rows; r++)
    if ((size_t)g->rows[r] >= g->n_prompt) return 0;

  size_t n_values = g->n_rows * (size_t)g->n_vocab;
  if (!format_path(path, sizeof path, "%s/golden/%s.logits", dir, name)) return 0;
  f = fopen(path, "rb");
  if (!f) return 0;
  g->logits = malloc(n_values * sizeof *g->logits);
  unsigned char bytes[4];
  size_t i = 0;
  for (; g->logits && i < n_values && fread(bytes, 1, 4, f) == 4; i++) {
    uint32_t bits = (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 |
                    (uint32_t)bytes[3] << 24;
    memcpy(&g->logits[i], &bits, sizeof bits);
  }
  int complete = i == n_values && fgetc(f) == EOF;
  fclose(f);
  return complete;
}

/* 64-bit FNV-1a of the file's bytes, as 16 hex digits; 0 if unreadable. */
static int file_fnv1a64(const char *path, char out[32]) {
  enum { CHUNK = 1 << 16 };
  FILE *f = fopen(path, "rb");
  unsigned char *chunk = malloc(CHUNK);
  uint64_t hash = 0xcbf29ce484222325u;
  size_t n = 0;
  while (f && chunk && (n = fread(chunk, 1, CHUNK, f)) > 0)
    for (size_t i = 0; i < n; i++) hash = (hash ^ chunk[i]) * 0x100000001b3u;
  int ok = f && chunk && !ferror(f);
  if (f) fclose(f);
  free(chunk);
  snprintf(out, 32, "%016llx", (unsigned long long)hash);
  return ok;
}

static int argmax(const float *values, int n) {
  int best = 0;
  for (int i = 1; i < n; i++)
    if (values[i] > values[best]) best = i;
  return best;
}

/* Largest value minus the largest other than values[best]. */
static double golden_gap(const float *values, int n, int best) {
  double second = -INFINITY;
  for (int i = 0; i < n; i++)
    if (i != best && values[i] > second) second = values[i];
  return (double)values[best] - second;
}

/* Loads `model_path` with GPT2_ISA=isa (NULL: unset) and fp32_products.
   Returns NULL, with *status, when the library refuses. */
static gpt2_model *load_with_isa(const char *model_path, const char *isa, int fp32_products, int *status) {
  if (isa) setenv("GPT2_ISA", isa, 1);
  else unsetenv("GPT2_ISA");
  gpt2_load_params params = GPT2_LOAD_PARAMS_INIT;
  params.fp32_products = (uint32_t)fp32_products;
  gpt2_model *model = NULL;
  *status = gpt2_load(model_path, &params, &model);
  unsetenv("GPT2_ISA");
  return *status == GPT2_OK ? model : NULL;
}

/* The bound of golden data `g` on kernel table `isa`. */
static bound bound_for(const golden *g, const char *isa) {
  int big = strncmp(g->name, "124m-", 5) == 0;
  if (g->int8_weights && int8_table(isa)) return (bound){0, 4e-2, 0.75, "8-bit activations"};
  if (g->bf16_products)
    return big ? (bound){0.3, 0.015, 0, "bf16 activations"} : (bound){0.08, 4e-3, 0, "bf16 activations"};
  if (g->kv_f16) return (bound){1e-2, 5e-4, 0, "F16 KV"};
  return (bound){big ? 5e-4 : 2e-4, 0, 0, "float32"};
}

/* Prompt in one batch (logits of every row), then the greedy continuation
   one token at a time, on `model`, held to bound `b`. */
static void run_golden(const golden *g, gpt2_model *model, const char *label, bound b) {
  CHECK(gpt2_n_vocab(model) == g->n_vocab, "%s: n_vocab %d", label, gpt2_n_vocab(model));
  gpt2_context_params params = GPT2_CONTEXT_PARAMS_INIT;
  params.logits_all = 1;
  params.kv_type = g->kv_f16 ? GPT2_KV_F16 : GPT2_KV_F32;
  gpt2_context *ctx = NULL;
  int status = gpt2_context_new(model, &params, &ctx);
  CHECK(status == GPT2_OK, "%s: context (%s)", label, gpt2_last_error());
  if (status != GPT2_OK) return;
  status = gpt2_eval(ctx, g->prompt, g->n_prompt);
  CHECK(status == GPT2_OK, "%s: eval of the %zu-token prompt (%s)", label, g->n_prompt, gpt2_last_error());
  if (status != GPT2_OK) {
    gpt2_context_free(ctx);
    return;
  }
  double worst = 0.0, sum_sq_diff = 0.0, sum_sq = 0.0;
  int32_t worst_row = 0, worst_col = 0, rows_ok = 1;
  size_t top1_same = 0, top1_clear = 0, top1_clear_same = 0;
  for (size_t r = 0; r < g->n_rows; r++) {
    const float *logits = gpt2_logits(ctx, g->rows[r]);
    if (!logits) { rows_ok = 0; continue; }
    const float *expect = g->logits + r * (size_t)g->n_vocab;
    int best = argmax(expect, g->n_vocab), same = argmax(logits, g->n_vocab) == best;
    top1_same += (size_t)same;
    if (b.max_abs > 0 && golden_gap(expect, g->n_vocab, best) > 2 * b.max_abs) {
      top1_clear++;
      top1_clear_same += (size_t)same;
    }
    for (int j = 0; j < g->n_vocab; j++) {
      double error = fabs((double)logits[j] - (double)expect[j]);
      sum_sq_diff += error * error;
      sum_sq += (double)expect[j] * expect[j];
      if (!(error <= worst)) { /* also catches NaN */
        worst = isnan(error) ? INFINITY : error;
        worst_row = g->rows[r];
        worst_col = j;
      }
    }
  }
  double rms_rel = sqrt(sum_sq_diff / sum_sq);
  CHECK(rows_ok, "%s: logits of every prompt row available", label);
  if (b.max_abs > 0)
    CHECK(worst <= b.max_abs,
          "%s: max |logit - golden| = %.3g <= %.2g (%s) over %zu rows (worst at row %d, token %d)", label,
          worst, b.max_abs, b.kind, g->n_rows, worst_row, worst_col);
  if (b.rms_rel > 0)
    CHECK(rms_rel <= b.rms_rel, "%s: RMS |logit - golden| / RMS golden logit = %.3g <= %.2g (%s; largest %.3g)",
          label, rms_rel, b.rms_rel, b.kind, worst);
  if (b.max_abs > 0)
    CHECK(top1_clear_same == top1_clear,
          "%s: same argmax as the golden one on the %zu of %zu rows with a golden top-2 gap above %.2g "
          "(all rows: %zu agree)", label, top1_clear, g->n_rows, 2 * b.max_abs, top1_same);
  else
    CHECK((double)top1_same >= b.min_top1 * (double)g->n_rows,
          "%s: same argmax as the golden one on %zu of %zu rows (bound %.0f%%, %s)", label, top1_same, g->n_rows,
          100 * b.min_top1, b.kind);

  /* Greedy continuation: exact under float32 bounds; under looser per-logit
     bounds, up to a step where the golden token's logit is within twice the
     bound of the chosen one (a near-tie the bound allows); with 8-bit
     activations, where no per-logit bound exists, not compared. */
  int exact = !strcmp(b.kind, "float32");
  gpt2_token generated[MAX_IDS];
  int near_tie[MAX_IDS];
  size_t n_generated = 0;
  const float *last = gpt2_logits(ctx, -1);
  while (b.max_abs > 0 && last && n_generated < g->n_continuation) {
    generated[n_generated] = argmax(last, g->n_vocab);
    near_tie[n_generated] =
        (double)last[generated[n_generated]] - (double)last[g->continuation[n_generated]] <= 2 * b.max_abs;
    if (gpt2_eval(ctx, &generated[n_generated], 1) != GPT2_OK) break;
    n_generated++;
    last = gpt2_logits(ctx, -1);
  }
  size_t first_diff = 0;
  while (first_diff < n_generated && generated[first_diff] == g->continuation[first_diff]) first_diff++;
  if (b.max_abs > 0 && !exact)
    CHECK(n_generated == g->n_continuation && (first_diff == n_generated || near_tie[first_diff]),
          "%s: greedy continuation of %zu tokens identical up to a near-tie within %.2g (first difference "
          "at %zu)", label, g->n_continuation, 2 * b.max_abs, first_diff);
  else if (exact)
    CHECK(n_generated == g->n_continuation && first_diff == n_generated,
          "%s: greedy continuation of %zu tokens identical (first difference at %zu; golden min margin %.3g)",
          label, g->n_continuation, first_diff, g->min_margin);
  gpt2_context_free(ctx);
}

static const char *tmp_dir;

/* The model the golden data describe, ready to load, into `path`: a
   committed file, a GGUF written now from the generated model (as
   gpt2-quantize does), or the generated model's directory; `hashed` gets
   the file whose bytes weights_fnv1a64 covers. */
static int prepare_model(const golden *g, const char *data_dir, const char *models_dir, char *path, char *hashed,
                         size_t cap) {
  const char *source = *g->source ? g->source : g->name;
  if (*g->file)
    return format_path(path, cap, "%s/%s", data_dir, g->file) && format_path(hashed, cap, "%s", path);
  if (!*g->gguf_type)
    return format_path(path, cap, "%s/%s", models_dir, source) &&
           format_path(hashed, cap, "%s/model.safetensors", path);
  static const char *const names[] = {"q8_0", "q4_0"};
  static const uint32_t types[] = {GPT2_WTYPE_Q8_0, GPT2_WTYPE_Q4_0};
  gpt2_save_params params = GPT2_SAVE_PARAMS_INIT;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strcmp(g->gguf_type, names[i])) params.weight_type = types[i];
  char source_dir[MAX_LINE];
  gpt2_model *model = NULL;
  int ok = params.weight_type != GPT2_WTYPE_AUTO &&
           format_path(source_dir, sizeof source_dir, "%s/%s", models_dir, source) &&
           format_path(path, cap, "%s/%s.gguf", tmp_dir, g->name) && format_path(hashed, cap, "%s", path) &&
           gpt2_load(source_dir, NULL, &model) == GPT2_OK && gpt2_save_gguf(model, path, &params) == GPT2_OK;
  gpt2_model_free(model);
  return ok;
}

/* The kernel tables each golden runs on: the default, the default FP32
   one, and every table by name; each distinct table once. */
typedef struct table_run {
  const char *isa; /* GPT2_ISA, NULL: unset */
  int fp32_products;
} table_run;

static const table_run table_runs[] = {
    {NULL, 0},   {NULL, 1}, {"scalar", 0}, {"avx2", 0}, {"avx2int8", 0}, {"avx512", 0}, {"avx512vnni", 0}, {"avx512bf16", 0},
    {"neondot", 0}, {"neon", 0},
};

static void test_model(const char *data_dir, const char *models_dir, const char *name) {
  golden g;
  int ok = read_golden(data_dir, name, &g);
  CHECK(ok, "%s: golden files readable and consistent", name);
  if (!ok) {
    free(g.logits);
    return;
  }
  char model_path[MAX_LINE], hashed[MAX_LINE], checksum[32] = "";
  ok = prepare_model(&g, data_dir, models_dir, model_path, hashed, sizeof model_path);
  CHECK(ok, "%s: model %s (%s)", name, *g.gguf_type ? "written as a GGUF file" : "path formed",
        ok ? "ok" : gpt2_last_error());
  if (!ok) {
    free(g.logits);
    return;
  }
  CHECK(file_fnv1a64(hashed, checksum) && !strcmp(checksum, g.checksum),
        "%s: FNV-1a of %s is the golden data's (%s vs %s; if they differ, regenerate with "
        "tests/reference/make_golden.sh)", name, hashed, checksum, g.checksum);

  /* 124M: the default table, the FP32 one, and scalar on F32 only, to keep the
     run short: the tables are compared with each other in test_kernels. */
  int big = strncmp(name, "124m-", 5) == 0, big_f32 = !strcmp(name, "124m-f32");
  char ran[256] = " ";
  for (size_t i = 0; i < sizeof table_runs / sizeof table_runs[0]; i++) {
    const table_run *run = &table_runs[i];
    /* bfloat16-activation data: only the table that computes that way */
    if (g.bf16_products != (run->isa && !strcmp(run->isa, "avx512bf16"))) continue;
    if (big && run->isa && (strcmp(run->isa, "scalar") || !big_f32) && !g.bf16_products) continue;
    if (big && run->fp32_products && !strstr(name, "-bf16")) continue; /* the default's products are FP32 */
    int status;
    gpt2_model *model = load_with_isa(model_path, run->isa, run->fp32_products, &status);
    if (!model) {
      /* Only a SIMD table this CPU lacks may be refused, and only as unsupported. */
      if (run->isa && strcmp(run->isa, "scalar") && status == GPT2_E_UNSUPPORTED)
        SKIP("%s [%s]: this CPU lacks the table (%s)", name, run->isa, gpt2_last_error());
      else
        CHECK(0, "%s: load with GPT2_ISA=%s%s (%s)", name, run->isa ? run->isa : "(unset)",
              run->fp32_products ? ", fp32_products" : "", gpt2_last_error());
      continue;
    }
    const char *isa = gpt2_model_isa(model);
    char key[40];
    format_path(key, sizeof key, " %s ", isa);
    /* BF16 weights on avx512bf16: held to the <model>-bf16p data instead */
    int rounds_bf16 = !strcmp(isa, "avx512bf16") && strstr(name, "-bf16") && !g.bf16_products;
    if (strstr(ran, key) || rounds_bf16) {
      if (rounds_bf16 && !strstr(ran, key))
        printf("# %s [%s]: bfloat16 activations, checked against the %.*sbf16p golden data\n", name, isa,
               (int)(strstr(name, "bf16") - name), name);
      gpt2_model_free(model);
      continue;
    }
    snprintf(ran + strlen(ran), sizeof ran - strlen(ran), "%s ", isa);
    char label[160];
    format_path(label, sizeof label, "%s [%s%s]", name, isa,
                run->fp32_products ? ", fp32_products" : run->isa ? "" : ", default");
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    run_golden(&g, model, label, bound_for(&g, isa));
    clock_gettime(CLOCK_MONOTONIC, &end);
    printf("# %s: %.2f s\n", label,
           (double)(end.tv_sec - start.tv_sec) + 1e-9 * (double)(end.tv_nsec - start.tv_nsec));
    gpt2_model_free(model);
  }
  printf("# %s: kernel tables run:%s\n", name, ran);
  if (*g.gguf_type) remove(model_path);
  free(g.logits);
}

/* Whether `name` is one of the comma-separated names in `list`. */
static int in_list(const char *list, const char *name) {
  size_t len = strlen(name);
  for (const char *at = list; *at;) {
    const char *end = strchr(at, ',');
    size_t item = end ? (size_t)(end - at) : strlen(at);
    if (item == len && strncmp(at, name, len) == 0) return 1;
    if (!end) break;
    at = end + 1;
  }
  return 0;
}

/* Runs every golden name listed in data_dir/golden/`list` (filtered by
   GPT2_GOLDEN_ONLY); returns how many it ran. */
static size_t test_list(const char *data_dir, const char *models_dir, const char *list_name) {
  char path[MAX_LINE], name[256];
  format_path(path, sizeof path, "%s/golden/%s", data_dir, list_name);
  FILE *list = fopen(path, "r");
  CHECK(list != NULL, "golden model list %s readable", path);
  /* GPT2_GOLDEN_ONLY=name,name,... runs just those (tests/neon.test.sh runs
     the small models under qemu, where the 124M shape would take too long);
     the coverage check is for the whole list. */
  const char *only = getenv("GPT2_GOLDEN_ONLY");
  size_t n_models = 0;
  /* The ASan pass (tests/asan.test.sh) leaves the 124M models to the plain
     run: a minute there, through the same code as the smaller models. */
  const char *sanitizer = getenv("GPT2_TEST_SANITIZER");
  while (list && fscanf(list, "%255s", name) == 1) {
    if (only && *only && !in_list(only, name)) continue;
    if (sanitizer && *sanitizer && strncmp(name, "124m-", 5) == 0)
      printf("# %s: not run under GPT2_TEST_SANITIZER=%s (the plain run checks it)\n", name, sanitizer);
    else
      test_model(data_dir, models_dir, name);
    n_models++;
  }
  if (list) fclose(list);
  return n_models;
}

int main(void) {
  const char *data_dir = harness_path("GPT2_TEST_DATA", "tests/data");
  const char *models_dir = harness_path("GPT2_TEST_MODELS", "build/models");
  char tmp[] = "/tmp/test_golden_XXXXXX";
  tmp_dir = mkdtemp(tmp);
  CHECK(tmp_dir != NULL, "temporary directory for the GGUF files");
  if (!tmp_dir) HARNESS_EXIT();
  size_t n_models = test_list(data_dir, models_dir, "models.txt");
  size_t n_variants = test_list(data_dir, models_dir, "variants.txt");
  rmdir(tmp_dir);
  const char *only = getenv("GPT2_GOLDEN_ONLY");
  if (only && *only)
    CHECK(n_models + n_variants > 0, "GPT2_GOLDEN_ONLY=%s names %zu golden models", only, n_models + n_variants);
  else
    CHECK(n_models >= 12 && n_variants >= 19,
          "golden data covers %zu model/dtype pairs and %zu variants (quantized GGUF, llama.cpp files, "
          "F16 KV, bfloat16 activations)", n_models, n_variants);
  HARNESS_EXIT();
}
