/* GGUF reading: the crafted corpus of tests/data/gguf_bad (each bad file
   gives its expected status and a message naming the problem; the valid
   variants load with the right contents), every truncation and many
   single-byte corruptions of a valid file (clean errors, never a crash),
   and allocation failures on every path.
   GGUF writing: generated Hugging Face models written in every type and
   loaded back (logits bitwise equal where the weights are the same, within
   stated bounds where quantized), the layout and keys llama.cpp expects,
   a saved GGUF saved again unchanged, and failures that leave no file. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/half.h"
#include "format/gguf.h"
#include "gpt2.h"
#include "harness.h"
#include "k_model.h"
#include "model/model.h"
#include "tensor/quant.h"

static const char *data_dir;

static char *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *data = malloc(n > 0 ? (size_t)n : 1);
  if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
    free(data);
    data = NULL;
  }
  fclose(f);
  *size = (size_t)n;
  return data;
}

static int write_file(const char *path, const void *data, size_t size) {
  unlink(path); /* a new file: truncating one in place is slow on some file systems */
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  int ok = fwrite(data, 1, size, f) == size;
  return fclose(f) == 0 && ok;
}

static int status_code(const char *name) {
  if (!strcmp(name, "OK")) return GPT2_OK;
  if (!strcmp(name, "FORMAT")) return GPT2_E_FORMAT;
  if (!strcmp(name, "UNSUPPORTED")) return GPT2_E_UNSUPPORTED;
  if (!strcmp(name, "IO")) return GPT2_E_IO;
  return 1; /* never returned by gpt2_load */
}

static void corpus_path(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s/gguf_bad/%s", data_dir, name);
}

/* Every line of the index: the status and a phrase of the message. */
static void test_corpus(void) {
  char path[1024];
  corpus_path(path, sizeof path, "index.txt");
  FILE *index = fopen(path, "r");
  CHECK(index != NULL, "corpus index %s opens", path);
  if (!index) return;
  char line[1024];
  int n_bad = 0, n_good = 0;
  while (fgets(line, sizeof line, index)) {
    if (line[0] == '#' || line[0] == '\n') continue;
    line[strcspn(line, "\n")] = '\0';
    char *name = strtok(line, "\t"), *status_name = strtok(NULL, "\t"), *phrase = strtok(NULL, "\t");
    if (!name || !status_name) continue;
    int expected = status_code(status_name);
    corpus_path(path, sizeof path, name);
    gpt2_model *model = (gpt2_model *)1;
    int status = gpt2_load(path, NULL, &model);
    const char *message = gpt2_last_error();
    if (expected == GPT2_OK) {
      n_good++;
      CHECK(status == GPT2_OK && model, "%s loads (status %d: %s)", name, status, message);
    } else {
      n_bad++;
      CHECK(status == expected && model == NULL && message[0] && (!phrase || strstr(message, phrase)),
            "%s: %s, message has \"%s\" (got %d: %s)", name, status_name, phrase ? phrase : "",
            status, message);
    }
    if (status == GPT2_OK) gpt2_model_free(model);
  }
  fclose(index);
  CHECK(n_bad >= 40, "corpus has %d bad files (at least 40)", n_bad);
  CHECK(n_good >= 5, "corpus has %d valid variants", n_good);
}

static gpt2_model *load_corpus_model(const char *name) {
  char path[1024];
  corpus_path(path, sizeof path, name);
  gpt2_model *model = NULL;
  int status = gpt2_load(path, NULL, &model);
  CHECK(status == GPT2_OK, "%s loads: %s", name, gpt2_last_error());
  return status == GPT2_OK ? model : NULL;
}

static int inside_mapping(const gpt2_model *model, const void *p) {
  const unsigned char *byte = p;
  for (size_t i = 0; i < model->n_mappings; i++)
    if (byte >= model->mappings[i].data && byte < model->mappings[i].data + model->mappings[i].size)
      return 1;
  return 0;
}

/* The valid variants carry the values the generator wrote. */
static void test_valid_variants(void) {
  gpt2_model *base = load_corpus_model("good_base.gguf");
  if (!base) return;
  CHECK(gpt2_n_vocab(base) == 259 && gpt2_n_embd(base) == 4 && gpt2_n_layer(base) == 1 &&
            gpt2_n_head(base) == 2 && gpt2_n_ctx_train(base) == 4 && base->hp.n_ff == 16,
        "hyper-parameters read");
  CHECK(gpt2_token_eot(base) == 258, "<|endoftext|> is the last token");
  CHECK(base->wte.dtype == G2_DT_F16 && base->layers[0].attn_qkv.dtype == G2_DT_F16 &&
            base->layers[0].mlp_up.dtype == G2_DT_BF16 && base->layers[0].mlp_down.dtype == G2_DT_F32,
        "tensor types kept");
  CHECK(base->wte.layout == G2_LAYOUT_NK && base->layers[0].attn_qkv.layout == G2_LAYOUT_KN &&
            base->layers[0].mlp_up.layout == G2_LAYOUT_KN && base->layers[0].mlp_down.layout == G2_LAYOUT_KN &&
            base->layers[0].attn_qkv.n_in == 4 && base->layers[0].attn_qkv.n_out == 12,
        "the embedding stays [n_out][n_in]; float layer matrices are transposed at load (model/convert.c)");
  CHECK(inside_mapping(base, base->wte.data) && inside_mapping(base, base->lnf_gamma) &&
            !inside_mapping(base, base->layers[0].mlp_down.data),
        "the embedding and F32 vectors are read in place (no copy), transposed matrices copied");
  CHECK(base->lm_head.data == base->wte.data, "without output.weight the output is tied to token_embd");

  gpt2_model *f16 = load_corpus_model("good_f16_vectors.gguf");
  if (f16) {
    CHECK(!inside_mapping(f16, f16->lnf_gamma) &&
              !memcmp(f16->layers[0].ln1_gamma, base->layers[0].ln1_gamma, 4 * sizeof(float)) &&
              !memcmp(f16->layers[0].mlp_up_bias, base->layers[0].mlp_up_bias, 16 * sizeof(float)),
          "F16 vectors are converted to the same floats");
    gpt2_model_free(f16);
  }
  gpt2_model *untied = load_corpus_model("good_output_tensor.gguf");
  if (untied) {
    CHECK(untied->lm_head.data != untied->wte.data && untied->lm_head.dtype == G2_DT_F32 &&
              untied->lm_head.n_out == 259,
          "an explicit output.weight is used");
    gpt2_model_free(untied);
  }
  gpt2_model_free(base);
}

/* Each allocation of a load failing in turn gives GPT2_E_NOMEM, nothing
   else (and, under ASan, no leak). */
static void test_allocation_failures(void) {
  char path[1024];
  corpus_path(path, sizeof path, "good_base.gguf");
  gpt2_model *model = NULL;
  g2_alloc_fail_at(0);
  int status = gpt2_load(path, NULL, &model);
  size_t n_allocations = g2_alloc_fail_at(0);
  gpt2_model_free(model);
  CHECK(status == GPT2_OK && n_allocations > 3, "a load makes %zu allocations", n_allocations);
  int all_nomem = 1;
  for (size_t n = 1; n <= n_allocations; n++) {
    g2_alloc_fail_at(n);
    model = NULL;
    status = gpt2_load(path, NULL, &model);
    g2_alloc_fail_at(0);
    if (status != GPT2_E_NOMEM || model) {
      all_nomem = 0;
      printf("# allocation %zu: status %d: %s\n", n, status, gpt2_last_error());
    }
    gpt2_model_free(model);
  }
  CHECK(all_nomem, "failing any of the %zu allocations gives GPT2_E_NOMEM", n_allocations);
}

/* Any prefix of a valid file is rejected cleanly by the parser. */
static void test_truncations(void) {
  char path[1024];
  corpus_path(path, sizeof path, "good_base.gguf");
  size_t size;
  char *data = read_file(path, &size);
  CHECK(data != NULL, "read %s", path);
  if (!data) return;
  int clean = 1;
  for (size_t n = 0; n < size; n++) {
    g2_gguf gguf;
    int status = g2_gguf_parse((const unsigned char *)data, n, "prefix", &gguf);
    if (status == GPT2_OK) g2_gguf_free(&gguf);
    if (status != GPT2_E_FORMAT || !gpt2_last_error()[0]) {
      clean = 0;
      printf("# prefix of %zu bytes: status %d: %s\n", n, status, gpt2_last_error());
    }
  }
  CHECK(clean, "all %zu truncations of a valid file are GPT2_E_FORMAT with a message", size);
  free(data);
}

/* Every byte of the header, metadata and tensor infos set to 0x00, 0xff
   or 0x80 (in turn along the file; all three in the header): each load succeeds or fails with a message, and never
   crashes (run under ASan/UBSan for the full value). */
static void test_corruptions(void) {
  char path[1024], tmp[1024];
  corpus_path(path, sizeof path, "good_base.gguf");
  snprintf(tmp, sizeof tmp, "%s/test_gguf_%d.gguf", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
           (int)getpid());
  size_t size;
  char *data = read_file(path, &size);
  if (!data) return;
  g2_gguf gguf;
  size_t structure = size;
  if (g2_gguf_parse((const unsigned char *)data, size, "base", &gguf) == GPT2_OK) {
    structure = (size_t)gguf.data_offset;
    g2_gguf_free(&gguf);
  }
  static const unsigned char values[] = {0x00, 0xff, 0x80};
  int clean = 1, loaded = 0, tried = 0;
  for (size_t i = 0; i < structure; i++) {
    for (size_t v = 0; v < sizeof values; v++) {
      if ((i >= 24 && v != i % sizeof values) || (unsigned char)data[i] == values[v]) continue;
      char saved = data[i];
      data[i] = (char)values[v];
      tried++;
      if (write_file(tmp, data, size)) {
        gpt2_model *model = NULL;
        int status = gpt2_load(tmp, NULL, &model);
        if (status == GPT2_OK) {
          loaded++;
          gpt2_model_free(model);
        } else if ((status != GPT2_E_FORMAT && status != GPT2_E_UNSUPPORTED) || !gpt2_last_error()[0]) {
          clean = 0;
          printf("# byte %zu = 0x%02x: status %d: %s\n", i, values[v], status, gpt2_last_error());
        }
      }
      data[i] = saved;
    }
  }
  unlink(tmp);
  CHECK(clean, "%d corruptions of the first %zu bytes: %d load, the others fail cleanly", tried,
        structure, loaded);
  free(data);
}

/* ---- writing ------------------------------------------------------------ */

static char tmp_dir[512];

static void tmp_path(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s/%s", tmp_dir, name);
}

static void model_path(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s/%s", harness_path("GPT2_TEST_MODELS", "build/models"), name);
}

enum { N_TOKENS = 40 };

typedef struct logits_run {
  float *logits; /* [N_TOKENS][n_vocab] */
  int n_vocab;
} logits_run;

/* How model_logits computes: the default kernel table; FP32 products
   (fp32_products = 1: no table that rounds activations); FP32 products on
   the weights dequantized to F32 after loading, which gives the logits of
   exactly the stored weights through the F32 kernels; the default table
   on files read into memory (use_mmap 0). */
enum { DEFAULT_TABLE, FP32_PRODUCTS, DEQUANTIZED, UNMAPPED };

/* Logits of every position of a fixed pseudo-random sequence. */
static int model_logits_as(const char *path, uint32_t weight_type, int mode, logits_run *out) {
  gpt2_load_params load_params = GPT2_LOAD_PARAMS_INIT;
  load_params.weight_type = weight_type;
  load_params.fp32_products = mode == FP32_PRODUCTS || mode == DEQUANTIZED;
  load_params.use_mmap = mode != UNMAPPED;
  gpt2_model *model;
  out->logits = NULL;
  if (gpt2_load(path, &load_params, &model) != GPT2_OK) return 0;
  gpt2_context_params ctx_params = GPT2_CONTEXT_PARAMS_INIT;
  ctx_params.logits_all = 1;
  ctx_params.n_threads = 1;
  gpt2_context *ctx = NULL;
  int ok = (mode != DEQUANTIZED || g2_model_convert_weights(model, GPT2_WTYPE_F32, 0, NULL) == GPT2_OK) &&
           gpt2_context_new(model, &ctx_params, &ctx) == GPT2_OK;
  out->n_vocab = gpt2_n_vocab(model);
  gpt2_token tokens[N_TOKENS];
  uint64_t state = 777;
  for (int i = 0; i < N_TOKENS; i++) {
    state = state * 6364136223846793005u + 1442695040888963407u;
    tokens[i] = (gpt2_token)((state >> 33) % (uint64_t)out->n_vocab);
  }
  ok = ok && gpt2_eval(ctx, tokens, N_TOKENS) == GPT2_OK;
  size_t row = (size_t)out->n_vocab * sizeof(float);
  out->logits = ok ? malloc(N_TOKENS * row) : NULL;
  for (int i = 0; ok && i < N_TOKENS; i++) memcpy(out->logits + (size_t)i * (size_t)out->n_vocab, gpt2_logits(ctx, i), row);
  gpt2_context_free(ctx);
  gpt2_model_free(model);
  return ok && out->logits;
}

static int model_logits(const char *path, uint32_t weight_type, logits_run *out) {
  return model_logits_as(path, weight_type, DEFAULT_TABLE, out);
}

static int same_logits(const logits_run *a, const logits_run *b) {
  return a->n_vocab == b->n_vocab &&
         !memcmp(a->logits, b->logits, (size_t)N_TOKENS * (size_t)a->n_vocab * sizeof(float));
}

typedef struct logits_error {
  double max_error; /* largest |difference| / largest |logit| */
  double rms_error; /* RMS difference / RMS logit */
  double top1;      /* fraction of positions with the same argmax */
} logits_error;

static logits_error compare_logits(const logits_run *ref, const logits_run *other) {
  double max_logit = 0, max_diff = 0, sum_diff2 = 0, sum_ref2 = 0;
  int agree = 0;
  for (int i = 0; i < N_TOKENS; i++) {
    const float *a = ref->logits + (size_t)i * (size_t)ref->n_vocab;
    const float *b = other->logits + (size_t)i * (size_t)ref->n_vocab;
    int best_a = 0, best_b = 0;
    for (int v = 0; v < ref->n_vocab; v++) {
      double diff = (double)a[v] - b[v];
      if (!isfinite(diff)) diff = INFINITY; /* a NaN must not compare as no error */
      max_logit = fmax(max_logit, fabs(a[v]));
      max_diff = fmax(max_diff, fabs(diff));
      sum_diff2 += diff * diff;
      sum_ref2 += (double)a[v] * a[v];
      if (a[v] > a[best_a]) best_a = v;
      if (b[v] > b[best_b]) best_b = v;
    }
    agree += best_a == best_b;
  }
  return (logits_error){max_diff / max_logit, sqrt(sum_diff2 / sum_ref2), (double)agree / N_TOKENS};
}

static int save_as(const char *in, const char *out, uint32_t weight_type) {
  gpt2_model *model = NULL;
  int status = gpt2_load(in, NULL, &model);
  if (status == GPT2_OK) {
    gpt2_save_params params = GPT2_SAVE_PARAMS_INIT;
    params.weight_type = weight_type;
    status = gpt2_save_gguf(model, out, &params);
  }
  if (status != GPT2_OK) printf("# save %s -> %s: %s\n", in, out, gpt2_last_error());
  gpt2_model_free(model);
  return status;
}

static const char *const type_names[] = {"auto",   "f32",    "f16",  "bf16",   "q8_0",   "q4_0",   "q4_k_m",
                                         "q5_k_m", "q6_k",   "q4_k_s", "q5_k_s", "q3_k_s", "q3_k_m", "q3_k_l"};

/* Logit error bounds against the F32 model, on FP32 products, relative to
   the RMS and the largest |logit|: the quantization error alone, which no
   float32 bound covers. A weight's relative RMS rounding error is about
   2^-11/sqrt 3 (3e-4) in F16, 2^-8/sqrt 3 (2e-3) in BF16, and step/sqrt 12
   of a block's spread in Q8_0 (step max|w|/127, max|w| about 2.1 sigma:
   5e-3) and Q4_0 (max|w|/8: 8e-2); the logits of these random-weight
   models carry it amplified about 6x. Measured on tiny, mid, odd (40
   positions; x86-64, gcc 12), and with a planted quantizer bug of each
   type (lib/tensor/quant.c: F16/BF16 truncated instead of rounded, Q8_0
   truncated instead of rounded, Q4_0 with x/d + 8 instead of + 8.5):
              RMS measured        RMS planted         largest measured   top-1
     F16      1.24e-3..1.29e-3    1.37e-3..1.75e-3    1.6e-3..2.6e-3     98-100%
     BF16     1.06e-2..1.37e-2    1.22e-2..1.44e-2    1.3e-2..2.3e-2     95-100%
     Q8_0     3.11e-2..3.29e-2    4.89e-2..6.17e-2    3.5e-2..4.6e-2     85-95%
     Q4_0     0.379..0.406        0.641..0.665        0.47..0.59         38-52%
   The RMS bounds sit between the measured and the planted figures (the
   figures depend on the kernels only through summation order, about 1e-6
   here), except BF16, whose truncation this statistic cannot separate from
   rounding (test_convert.c's can): its bound is 1.2x the measured one. The
   largest-error bounds are 1.1-1.4x the measured ones (Q8_0's planted
   7.8e-2..8.6e-2 and Q4_0's 0.70..0.79 exceed them). Random models have
   flat logits where near-ties flip, so the top-1 agreements required are
   what the noise allows (Q4_0's planted bug: 18-20%, under its 30%). The
   exact check of the arithmetic is the dequantized one below (and the
   golden variants of test_golden): whatever the quantization error, the
   file's weights must give the logits of those same weights in F32. */
typedef struct type_bound {
  double rms_error, max_error, top1;
} type_bound;
static const type_bound type_bounds[] = {
    [GPT2_WTYPE_F32] = {0, 0, 1.0},            [GPT2_WTYPE_F16] = {1.33e-3, 3.5e-3, 0.9},
    [GPT2_WTYPE_BF16] = {1.6e-2, 3e-2, 0.9},   [GPT2_WTYPE_Q8_0] = {4.2e-2, 6.5e-2, 0.75},
    [GPT2_WTYPE_Q4_0] = {0.5, 0.66, 0.3},
};

/* A file's weights on the FP32 table against the same weights dequantized
   to F32 after loading: the summation order may differ (F32 kernels against
   the block kernels), nothing else. Measured 0 (today's kernels give the
   same bits) for every type; 1e-5 allows for any order. */
static const double dequantized_bound = 1e-5;

/* HF -> GGUF in every type -> load: the same logits as the Hugging Face
   model converted at load to the same type, bitwise: one weight-type
   policy (model/policy.c) and one row conversion (tensor/convert.c) give
   both the same types, layout and bytes, and both run the same kernel
   table (on avx512bf16 the BF16 ones both round the activations alike).
   All are also compared with the F32 logits. */
static void test_round_trip(const char *name) {
  char hf[1024], out[1024];
  model_path(hf, sizeof hf, name);
  logits_run f32_nk, as_stored;
  int ok = model_logits(hf, GPT2_WTYPE_F32, &f32_nk) && model_logits(hf, GPT2_WTYPE_AUTO, &as_stored);
  CHECK(ok, "%s: loaded (%s)", name, gpt2_last_error());
  if (!ok) return;
  for (uint32_t type = GPT2_WTYPE_F32; type <= GPT2_WTYPE_Q4_0; type++) {
    char file[64];
    snprintf(file, sizeof file, "%s-%s.gguf", name, type_names[type]);
    tmp_path(out, sizeof out, file);
    logits_run gguf, direct;
    if (save_as(hf, out, type) != GPT2_OK || !model_logits(out, GPT2_WTYPE_AUTO, &gguf)) {
      CHECK(0, "%s: written as %s and loaded back (%s)", name, type_names[type], gpt2_last_error());
      continue;
    }
    ok = model_logits(hf, type, &direct);
    CHECK(ok && same_logits(&gguf, &direct),
          "%s: GGUF %s gives bitwise the logits of the HF model converted to %s at load", name,
          type_names[type], type_names[type]);
    free(direct.logits);
    /* On FP32 products: the quantization error alone, no activation rounding. */
    logits_run exact, dequantized = {NULL, 0};
    ok = model_logits_as(out, GPT2_WTYPE_AUTO, FP32_PRODUCTS, &exact);
    logits_error error = ok ? compare_logits(&f32_nk, &exact) : (logits_error){INFINITY, INFINITY, 0};
    const type_bound *bound = &type_bounds[type];
    CHECK(error.rms_error <= bound->rms_error && error.max_error <= bound->max_error &&
              error.top1 >= bound->top1,
          "%s: GGUF %s vs F32 (FP32 products): RMS error %.3g (bound %.2g), largest %.3g (bound %.2g), top-1 "
          "%.0f%% (bound %.0f%%)", name, type_names[type], error.rms_error, bound->rms_error, error.max_error,
          bound->max_error, 100 * error.top1, 100 * bound->top1);
    if (type != GPT2_WTYPE_F32) {
      ok = ok && model_logits_as(out, GPT2_WTYPE_AUTO, DEQUANTIZED, &dequantized);
      error = ok ? compare_logits(&dequantized, &exact) : (logits_error){INFINITY, INFINITY, 0};
      CHECK(error.rms_error <= dequantized_bound,
            "%s: GGUF %s on FP32 products vs its weights dequantized to F32: RMS error %.2g, largest %.2g "
            "(bound %.0e RMS)", name, type_names[type], error.rms_error, error.max_error, dequantized_bound);
    }
    free(exact.logits);
    free(dequantized.logits);
    if (type == GPT2_WTYPE_F32) {
      logits_error kn = compare_logits(&as_stored, &gguf);
      /* [n_in][n_out] and [n_out][n_in] products sum in different orders:
         float rounding only (2^-24 per operation, a few hundred terms). */
      CHECK(kn.max_error < 1e-5, "%s: GGUF F32 within %.1e of the HF model as stored (bound 1e-5)",
            name, kn.max_error);
    }
    free(gguf.logits);
  }
  /* AUTO: the model as loaded, which conversion at load leaves as it is,
     saved as held. From the Q4_0 file (Q4_0, Q8_0 and F32 tensors, already
     [n_out][n_in]) the file written back runs bitwise alike. */
  char file[64], again[1024];
  snprintf(file, sizeof file, "%s-%s.gguf", name, type_names[GPT2_WTYPE_Q4_0]);
  tmp_path(out, sizeof out, file);
  snprintf(file, sizeof file, "%s-auto-again.gguf", name);
  tmp_path(again, sizeof again, file);
  logits_run loaded, saved;
  ok = model_logits(out, GPT2_WTYPE_AUTO, &loaded) && save_as(out, again, GPT2_WTYPE_AUTO) == GPT2_OK &&
       model_logits(again, GPT2_WTYPE_AUTO, &saved);
  CHECK(ok && same_logits(&loaded, &saved),
        "%s: the Q4_0 GGUF saved with AUTO gives bitwise the logits of the file loaded with AUTO", name);
  free(loaded.logits);
  free(saved.logits);
  free(f32_nk.logits);
  free(as_stored.logits);
}

static int key_u32(const g2_gguf *gguf, const char *key, uint64_t *value) {
  const g2_gguf_kv *kv = g2_gguf_find(gguf, key);
  return kv && kv->type == G2_GGUF_UINT32 && g2_gguf_uint(gguf, kv, UINT32_MAX, value) == GPT2_OK;
}

static int key_is(const g2_gguf *gguf, const char *key, const char *text) {
  const g2_gguf_kv *kv = g2_gguf_find(gguf, key);
  g2_str value;
  return kv && g2_gguf_string(gguf, kv, &value) == GPT2_OK && value.len == strlen(text) &&
         !memcmp(value.ptr, text, value.len);
}

static uint32_t tensor_type(const g2_gguf *gguf, const char *name) {
  const g2_gguf_tensor *t = g2_gguf_find_tensor(gguf, name);
  return t ? t->type : UINT32_MAX;
}

/* What llama.cpp reads and expects in the written files: its keys with
   their types, the type mix of its quantizer, and tensors packed in order
   at 32-byte alignment (ggml's reader requires each offset to follow the
   previous tensor). */
static void test_file_layout(const char *name, uint32_t weight_type, int n_layer, int n_vocab,
                             uint32_t file_type, uint32_t token_type, uint32_t output_type, uint32_t layer_type) {
  char path[1024], file[64];
  snprintf(file, sizeof file, "%s-%s.gguf", name, type_names[weight_type]);
  tmp_path(path, sizeof path, file);
  size_t size;
  char *data = read_file(path, &size);
  g2_gguf gguf;
  if (!data || g2_gguf_parse((const unsigned char *)data, size, path, &gguf) != GPT2_OK) {
    CHECK(0, "%s parses: %s", file, gpt2_last_error());
    free(data);
    return;
  }
  uint64_t ftype = 99, qversion = 0, layers = 0, eos = 0, bos = 0, ctx = 0, embd = 0, ff = 0, heads = 0;
  const g2_gguf_kv *tokens = g2_gguf_find(&gguf, "tokenizer.ggml.tokens");
  const g2_gguf_kv *types = g2_gguf_find(&gguf, "tokenizer.ggml.token_type");
  const g2_gguf_kv *merges = g2_gguf_find(&gguf, "tokenizer.ggml.merges");
  const g2_gguf_kv *eps = g2_gguf_find(&gguf, "gpt2.attention.layer_norm_epsilon");
  CHECK(gguf.version == 3 && gguf.alignment == 32 && !g2_gguf_find(&gguf, "general.alignment") &&
            key_is(&gguf, "general.architecture", "gpt2") && key_is(&gguf, "tokenizer.ggml.model", "gpt2") &&
            key_is(&gguf, "tokenizer.ggml.pre", "gpt-2") && key_u32(&gguf, "general.file_type", &ftype) &&
            ftype == file_type && key_u32(&gguf, "gpt2.block_count", &layers) && layers == (uint64_t)n_layer &&
            key_u32(&gguf, "gpt2.context_length", &ctx) && key_u32(&gguf, "gpt2.embedding_length", &embd) &&
            key_u32(&gguf, "gpt2.feed_forward_length", &ff) && ff == 4 * embd &&
            key_u32(&gguf, "gpt2.attention.head_count", &heads) && eps && eps->type == G2_GGUF_FLOAT32 &&
            tokens && tokens->count == (uint64_t)n_vocab && g2_gguf_check_array(&gguf, tokens, G2_GGUF_STRING) == 0 &&
            types && types->count == (uint64_t)n_vocab && g2_gguf_check_array(&gguf, types, G2_GGUF_INT32) == 0 &&
            merges && g2_gguf_check_array(&gguf, merges, G2_GGUF_STRING) == 0 &&
            key_u32(&gguf, "tokenizer.ggml.bos_token_id", &bos) && key_u32(&gguf, "tokenizer.ggml.eos_token_id", &eos) &&
            bos == (uint64_t)n_vocab - 1 && eos == bos,
        "%s: llama.cpp's GPT-2 keys, with their types and values", file);
  int quantized = weight_type >= GPT2_WTYPE_Q8_0;
  CHECK(key_u32(&gguf, "general.quantization_version", &qversion) == quantized && (!quantized || qversion == 2),
        "%s: general.quantization_version %s", file, quantized ? "is 2" : "is absent");
  CHECK(tensor_type(&gguf, "token_embd.weight") == token_type &&
            tensor_type(&gguf, "output.weight") == output_type &&
            tensor_type(&gguf, "position_embd.weight") == G2_GGML_F32 &&
            tensor_type(&gguf, "blk.0.attn_qkv.weight") == layer_type &&
            tensor_type(&gguf, "blk.0.ffn_down.weight") == layer_type &&
            tensor_type(&gguf, "blk.0.attn_norm.weight") == G2_GGML_F32 &&
            tensor_type(&gguf, "blk.0.ffn_up.bias") == G2_GGML_F32 &&
            tensor_type(&gguf, "output_norm.bias") == G2_GGML_F32 &&
            gguf.n_tensors == 5 + 12 * (size_t)n_layer,
        "%s: token_embd %s, output.weight %s (the tied output written, as llama.cpp's converter does), "
        "blk.0 matrices %s, norms, biases and position_embd F32", file, g2_ggml_type_name(token_type),
        g2_ggml_type_name(output_type), g2_ggml_type_name(layer_type));
  /* packed: sorted by offset, each tensor starts at the previous end rounded up to 32 */
  uint64_t *ends = calloc(gguf.n_tensors, sizeof *ends);
  int packed = ends != NULL && gguf.data_offset % 32 == 0;
  for (size_t i = 0; packed && i < gguf.n_tensors; i++) {
    uint64_t begin = gguf.tensors[i].offset;
    int found = begin == gguf.data_offset;
    for (size_t j = 0; j < gguf.n_tensors && !found; j++)
      found = (gguf.tensors[j].offset + gguf.tensors[j].n_bytes + 31) / 32 * 32 == begin;
    packed = found;
  }
  CHECK(packed, "%s: tensors packed in order at 32-byte alignment", file);
  free(ends);
  g2_gguf_free(&gguf);
  free(data);
}

static int same_file(const char *a, const char *b) {
  size_t size_a, size_b;
  char *x = read_file(a, &size_a), *y = read_file(b, &size_b);
  int same = x && y && size_a == size_b && !memcmp(x, y, size_a);
  free(x);
  free(y);
  return same;
}

/* A GGUF file saved again as it is (AUTO) is the same file: every tensor
   copied in its type, Q6_K included, and the same metadata. */
static void test_resave(const char *name, const char *type) {
  char first[1024], second[1024], file[64];
  snprintf(file, sizeof file, "%s-%s.gguf", name, type);
  tmp_path(first, sizeof first, file);
  snprintf(file, sizeof file, "%s-%s-again.gguf", name, type);
  tmp_path(second, sizeof second, file);
  CHECK(save_as(first, second, GPT2_WTYPE_AUTO) == GPT2_OK && same_file(first, second),
        "%s %s: saved again as loaded, byte for byte the same file", name, type);
}

/* The vocabulary survives: every token's bytes, the merges (through the
   tokenization of text) and <|endoftext|>. GPT-2's own 50257 tokens. */
static void test_vocab_round_trip(const char *name) {
  char hf[1024], out[1024], file[64];
  model_path(hf, sizeof hf, name);
  snprintf(file, sizeof file, "%s-vocab.gguf", name);
  tmp_path(out, sizeof out, file);
  gpt2_model *a = NULL, *b = NULL;
  if (save_as(hf, out, GPT2_WTYPE_Q8_0) != GPT2_OK || gpt2_load(hf, NULL, &a) || gpt2_load(out, NULL, &b)) {
    CHECK(0, "%s: vocabulary round trip loads (%s)", name, gpt2_last_error());
    gpt2_model_free(a);
    gpt2_model_free(b);
    return;
  }
  int same = gpt2_n_vocab(a) == gpt2_n_vocab(b) && gpt2_token_eot(a) == gpt2_token_eot(b);
  for (int id = 0; same && id < gpt2_n_vocab(a); id++) {
    size_t len_a, len_b;
    const char *x = gpt2_token_bytes(a, id, &len_a), *y = gpt2_token_bytes(b, id, &len_b);
    same = len_a == len_b && !memcmp(x, y, len_a);
  }
  CHECK(same, "%s: the %d tokens' bytes and <|endoftext|> survive", name, gpt2_n_vocab(a));
  static const char text[] =
      "Hello world! It's 2024; naïve café — 日本語 🎉\n\n\tindented   spaces<|endoftext|>x";
  gpt2_token ids_a[256], ids_b[256];
  size_t n_a = 0, n_b = 0;
  int ok = gpt2_tokenize(a, text, sizeof text - 1, GPT2_TOKENIZE_SPECIAL, ids_a, 256, &n_a) == GPT2_OK &&
           gpt2_tokenize(b, text, sizeof text - 1, GPT2_TOKENIZE_SPECIAL, ids_b, 256, &n_b) == GPT2_OK;
  CHECK(ok && n_a == n_b && !memcmp(ids_a, ids_b, n_a * sizeof *ids_a),
        "%s: the same %zu tokens for a mixed text (merges survive)", name, n_a);
  gpt2_model_free(a);
  gpt2_model_free(b);
}

/* Entries of dir but . and .. (-1: cannot read it). */
static int count_files(const char *dir) {
  DIR *listing = opendir(dir);
  if (!listing) return -1;
  int n = 0;
  for (struct dirent *entry; (entry = readdir(listing)) != NULL;)
    n += strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0;
  closedir(listing);
  return n;
}

/* Bad arguments, unwritable places and allocation failures: the right
   status, and nothing left behind. */
static void test_save_failures(void) {
  char hf[1024], out[1100], dir[1024];
  model_path(hf, sizeof hf, "tiny-f32");
  gpt2_model *model = NULL;
  if (gpt2_load(hf, NULL, &model) != GPT2_OK) {
    CHECK(0, "tiny-f32 loads: %s", gpt2_last_error());
    return;
  }
  tmp_path(dir, sizeof dir, "failures");
  mkdir(dir, 0700);
  snprintf(out, sizeof out, "%s/out.gguf", dir);
  gpt2_save_params params = GPT2_SAVE_PARAMS_INIT;
  CHECK(gpt2_save_gguf(NULL, out, NULL) == GPT2_E_INVALID && gpt2_save_gguf(model, NULL, NULL) == GPT2_E_INVALID,
        "NULL model or path: GPT2_E_INVALID");
  params.weight_type = GPT2_WTYPE_Q3_K_L + 1;
  CHECK(gpt2_save_gguf(model, out, &params) == GPT2_E_INVALID && strstr(gpt2_last_error(), "weight_type"),
        "an unknown weight type: GPT2_E_INVALID naming it");
  params.weight_type = GPT2_WTYPE_AUTO;
  params.size = 2;
  CHECK(gpt2_save_gguf(model, out, &params) == GPT2_E_INVALID, "a params struct without its size: GPT2_E_INVALID");
  char missing[1200];
  snprintf(missing, sizeof missing, "%s/no/such/dir/out.gguf", dir);
  CHECK(gpt2_save_gguf(model, missing, NULL) == GPT2_E_IO && strstr(gpt2_last_error(), "no/such/dir"),
        "a missing directory: GPT2_E_IO naming the path");
  char subdir[1200];
  snprintf(subdir, sizeof subdir, "%s/a-directory", dir);
  mkdir(subdir, 0700);
  struct stat st;
  CHECK(gpt2_save_gguf(model, subdir, NULL) == GPT2_E_IO && stat(subdir, &st) == 0 && S_ISDIR(st.st_mode),
        "OUT is a directory: GPT2_E_IO, the directory untouched");
  CHECK(count_files(dir) == 1, "no temporary file is left behind");

  /* each allocation failing in turn: GPT2_E_NOMEM, no file (but the subdirectory) */
  g2_alloc_fail_at(0);
  int status = gpt2_save_gguf(model, out, NULL);
  size_t n_allocations = g2_alloc_fail_at(0);
  unlink(out);
  int all_nomem = status == GPT2_OK && n_allocations > 0;
  for (size_t n = 1; n <= n_allocations; n++) {
    g2_alloc_fail_at(n);
    status = gpt2_save_gguf(model, out, NULL);
    g2_alloc_fail_at(0);
    if (status != GPT2_E_NOMEM || count_files(dir) != 1) all_nomem = 0;
    unlink(out);
  }
  CHECK(all_nomem, "failing any of the %zu allocations of a save: GPT2_E_NOMEM and no file", n_allocations);

  /* an existing file is replaced only by a complete one */
  size_t old_size = 0;
  char *old = NULL;
  int failed = write_file(out, "old", 3) && gpt2_save_gguf(model, subdir, NULL) == GPT2_E_IO;
  old = read_file(out, &old_size);
  CHECK(failed && old && old_size == 3 && !memcmp(old, "old", 3) && count_files(dir) == 2,
        "a failed save leaves other files alone");
  free(old);
  CHECK(gpt2_save_gguf(model, out, NULL) == GPT2_OK && count_files(dir) == 2, "a save replaces the file at OUT");
  unlink(out);
  rmdir(subdir);
  rmdir(dir);
  gpt2_model_free(model);
}

/* ---- K types: files with Q4_K, Q5_K and Q6_K matrices ------------------- */

/* The same weights as F32. */
static g2_matrix to_f32(struct gpt2_model *model, const g2_matrix *m) {
  size_t row = g2_dtype_row_bytes(m->dtype, m->n_in);
  float *values = g2_model_alloc(model, (size_t)(m->n_out * m->n_in) * sizeof *values);
  for (int64_t j = 0; j < m->n_out; j++)
    g2_dequantize(m->dtype, (const unsigned char *)m->data + (size_t)j * row, 0, m->n_in, values + j * m->n_in);
  return (g2_matrix){values, G2_DT_F32, G2_LAYOUT_NK, m->n_out, m->n_in, NULL};
}

/* mid (n_embd 256) with K-type matrices, saved as they are and as F32:
   the two files give the same logits (bitwise with the scalar kernels,
   which dequantize and sum in the same order for every type; within float
   rounding with the SIMD ones, which send K types to the scalar kernels). */
static void test_k_types(void) {
  char hf[1024], k_file[1024], f32_file[1024];
  model_path(hf, sizeof hf, "mid-f32");
  tmp_path(k_file, sizeof k_file, "mid-k.gguf");
  tmp_path(f32_file, sizeof f32_file, "mid-k-f32.gguf");
  gpt2_model *model = NULL;
  if (gpt2_load(hf, NULL, &model) != GPT2_OK) {
    CHECK(0, "mid-f32 loads: %s", gpt2_last_error());
    return;
  }
  if (!make_k_types(model)) {
    CHECK(0, "K-type matrices made (no memory)");
    gpt2_model_free(model);
    return;
  }
  int saved = gpt2_save_gguf(model, k_file, NULL) == GPT2_OK;
  for (int32_t i = 0; i < model->hp.n_layer; i++) {
    g2_layer *l = &model->layers[i];
    l->attn_qkv = to_f32(model, &l->attn_qkv);
    l->attn_proj = to_f32(model, &l->attn_proj);
    l->mlp_up = to_f32(model, &l->mlp_up);
    l->mlp_down = to_f32(model, &l->mlp_down);
  }
  model->wte = model->lm_head = to_f32(model, &model->wte);
  saved = saved && gpt2_save_gguf(model, f32_file, NULL) == GPT2_OK;
  gpt2_model_free(model);
  CHECK(saved, "a model with Q4_K, Q5_K and Q6_K matrices saved as it is and as F32 (%s)", gpt2_last_error());
  if (!saved) return;

  gpt2_model *k_model = NULL;
  CHECK(gpt2_load(k_file, NULL, &k_model) == GPT2_OK && k_model->layers[0].attn_qkv.dtype == G2_DT_Q4_K &&
            k_model->layers[1].attn_qkv.dtype == G2_DT_Q5_K && k_model->wte.dtype == G2_DT_Q6_K,
        "the K types are read back as they were written");
  /* The int8 tables multiply K-type weights with 8-bit activations
     (docs/kernels.md), the float tables in float: on a CPU whose default
     table is an int8 one, the float bound is checked on the FP32 table of
     its instruction set (avx512, or avx2 for avx2int8). */
  const char *k_isa = k_model ? gpt2_model_isa(k_model) : "";
  int int8_activations = !strcmp(k_isa, "avx512vnni") || !strcmp(k_isa, "avx512bf16") || !strcmp(k_isa, "avx2int8");
  gpt2_model_free(k_model);
  const char *isa = getenv("GPT2_ISA");
  char *saved_isa = isa ? strdup(isa) : NULL;
  /* avx2int8's FP32 products are avx2's */
  const char *const float_isas[] = {NULL, strcmp(k_isa, "avx2int8") ? "avx512" : "avx2"};
  for (int run = 0; run < 1 + int8_activations; run++) {
    if (run) setenv("GPT2_ISA", float_isas[run], 1);
    logits_run k, f32;
    int ok = model_logits(k_file, GPT2_WTYPE_AUTO, &k) && model_logits(f32_file, GPT2_WTYPE_AUTO, &f32);
    logits_error error = ok ? compare_logits(&f32, &k) : (logits_error){1, 1, 0};
    if (int8_activations && !run) {
      /* 8-bit activations: test_golden's RMS bound for K-type files
         (measured 1.9e-2 to 2.2e-2 there) */
      CHECK(ok && error.rms_error < 4e-2, "K types (%s, 8-bit activations): logits within %.1e RMS of F32 (bound 4e-2)",
            k_isa, error.rms_error);
    } else {
      /* different summation orders only: a few float roundings per sum */
      CHECK(ok && error.max_error < 1e-4, "K types (%s): logits within %.1e of the same weights in F32 (bound 1e-4)",
            run ? float_isas[run] : k_isa, error.max_error);
    }
    free(k.logits);
    free(f32.logits);
  }
  setenv("GPT2_ISA", "scalar", 1);
  logits_run k, f32;
  int ok = model_logits(k_file, GPT2_WTYPE_AUTO, &k) && model_logits(f32_file, GPT2_WTYPE_AUTO, &f32);
  CHECK(ok && same_logits(&k, &f32), "K types with the scalar kernels: bitwise the logits of F32");
  free(k.logits);
  free(f32.logits);
  if (saved_isa) setenv("GPT2_ISA", saved_isa, 1);
  else unsetenv("GPT2_ISA");
  free(saved_isa);
}

/* The K mixes: each tensor in llama-quantize's type (llama.cpp de3ff81's
   llama_tensor_get_type, no importance matrix; the bytes themselves are
   compared with llama-quantize's by tools/check_llamacpp.sh), the file
   loads, and its weights run exactly as the same weights dequantized to
   F32. mid (n_embd 256, n_ff 1024, 4 layers: the more-bits layers are 2
   and 3) fills 256-value blocks; tiny (n_embd 64, n_ff 256, 2 layers:
   layer 1 more bits) makes every n_embd-row matrix fall back (Q3_K ->
   Q4_0, Q4_K -> Q5_0, Q5_K -> Q5_1, Q6_K -> Q8_0, output Q8_0) but
   ffn_down. */
typedef struct mix_case {
  const char *model;
  uint32_t weight_type, file_type;
  struct {
    const char *tensor;
    uint32_t type;
  } want[8];
} mix_case;

static const mix_case mix_cases[] = {
    {"mid-f32", GPT2_WTYPE_Q4_K_M, G2_FTYPE_MOSTLY_Q4_K_M,
     {{"token_embd.weight", G2_GGML_Q4_K}, {"output.weight", G2_GGML_Q6_K},
      {"blk.0.attn_qkv.weight", G2_GGML_Q4_K}, {"blk.2.attn_qkv.weight", G2_GGML_Q6_K},
      {"blk.3.ffn_down.weight", G2_GGML_Q6_K}, {"blk.1.ffn_down.weight", G2_GGML_Q4_K},
      {"blk.3.ffn_up.weight", G2_GGML_Q4_K}, {"blk.3.attn_output.weight", G2_GGML_Q4_K}}},
    {"mid-f32", GPT2_WTYPE_Q5_K_M, G2_FTYPE_MOSTLY_Q5_K_M,
     {{"token_embd.weight", G2_GGML_Q5_K}, {"output.weight", G2_GGML_Q6_K},
      {"blk.0.attn_qkv.weight", G2_GGML_Q5_K}, {"blk.3.attn_qkv.weight", G2_GGML_Q6_K},
      {"blk.2.ffn_down.weight", G2_GGML_Q6_K}, {"blk.0.ffn_down.weight", G2_GGML_Q5_K},
      {"blk.2.ffn_up.weight", G2_GGML_Q5_K}, {"blk.2.attn_output.weight", G2_GGML_Q5_K}}},
    {"mid-f32", GPT2_WTYPE_Q4_K_S, G2_FTYPE_MOSTLY_Q4_K_S,
     {{"token_embd.weight", G2_GGML_Q4_K}, {"output.weight", G2_GGML_Q6_K},
      {"blk.0.attn_qkv.weight", G2_GGML_Q5_K}, {"blk.3.attn_qkv.weight", G2_GGML_Q5_K},
      {"blk.0.ffn_down.weight", G2_GGML_Q4_K}, {"blk.3.ffn_down.weight", G2_GGML_Q4_K},
      {"blk.0.ffn_up.weight", G2_GGML_Q4_K}, {"position_embd.weight", G2_GGML_F32}}},
    {"mid-f32", GPT2_WTYPE_Q5_K_S, G2_FTYPE_MOSTLY_Q5_K_S,
     {{"token_embd.weight", G2_GGML_Q5_K}, {"output.weight", G2_GGML_Q6_K},
      {"blk.3.attn_qkv.weight", G2_GGML_Q5_K}, {"blk.3.ffn_down.weight", G2_GGML_Q5_K}}},
    {"mid-f32", GPT2_WTYPE_Q6_K, G2_FTYPE_MOSTLY_Q6_K,
     {{"token_embd.weight", G2_GGML_Q6_K}, {"output.weight", G2_GGML_Q6_K},
      {"blk.0.attn_qkv.weight", G2_GGML_Q6_K}, {"blk.1.ffn_down.weight", G2_GGML_Q6_K}}},
    {"mid-f32", GPT2_WTYPE_Q3_K_S, G2_FTYPE_MOSTLY_Q3_K_S,
     {{"token_embd.weight", G2_GGML_Q3_K}, {"output.weight", G2_GGML_Q6_K},
      {"blk.0.attn_qkv.weight", G2_GGML_Q3_K}, {"blk.3.ffn_down.weight", G2_GGML_Q3_K},
      {"blk.0.attn_output.weight", G2_GGML_Q3_K}}},
    {"mid-f32", GPT2_WTYPE_Q3_K_M, G2_FTYPE_MOSTLY_Q3_K_M,
     {{"token_embd.weight", G2_GGML_Q3_K}, {"output.weight", G2_GGML_Q6_K},
      {"blk.1.attn_qkv.weight", G2_GGML_Q5_K}, {"blk.2.attn_qkv.weight", G2_GGML_Q4_K},
      {"blk.0.ffn_down.weight", G2_GGML_Q4_K}, {"blk.0.attn_output.weight", G2_GGML_Q4_K},
      {"blk.0.ffn_up.weight", G2_GGML_Q3_K}}},
    {"mid-f32", GPT2_WTYPE_Q3_K_L, G2_FTYPE_MOSTLY_Q3_K_L,
     {{"token_embd.weight", G2_GGML_Q3_K}, {"output.weight", G2_GGML_Q6_K},
      {"blk.3.attn_qkv.weight", G2_GGML_Q5_K}, {"blk.3.ffn_down.weight", G2_GGML_Q5_K},
      {"blk.3.attn_output.weight", G2_GGML_Q5_K}, {"blk.3.ffn_up.weight", G2_GGML_Q3_K}}},
    {"tiny-f32", GPT2_WTYPE_Q3_K_M, G2_FTYPE_MOSTLY_Q3_K_M,
     {{"token_embd.weight", G2_GGML_Q4_0}, {"output.weight", G2_GGML_Q8_0},
      {"blk.1.attn_qkv.weight", G2_GGML_Q5_1}, {"blk.0.ffn_down.weight", G2_GGML_Q4_K},
      {"blk.0.attn_output.weight", G2_GGML_Q5_0}, {"blk.0.ffn_up.weight", G2_GGML_Q4_0}}},
    {"tiny-f32", GPT2_WTYPE_Q4_K_M, G2_FTYPE_MOSTLY_Q4_K_M,
     {{"token_embd.weight", G2_GGML_Q5_0}, {"output.weight", G2_GGML_Q8_0},
      {"blk.0.attn_qkv.weight", G2_GGML_Q5_0}, {"blk.1.attn_qkv.weight", G2_GGML_Q8_0},
      {"blk.0.ffn_down.weight", G2_GGML_Q4_K}, {"blk.1.ffn_down.weight", G2_GGML_Q6_K},
      {"blk.1.ffn_up.weight", G2_GGML_Q5_0}, {"blk.0.attn_output.weight", G2_GGML_Q5_0}}},
    {"tiny-f32", GPT2_WTYPE_Q5_K_M, G2_FTYPE_MOSTLY_Q5_K_M,
     {{"token_embd.weight", G2_GGML_Q5_1}, {"output.weight", G2_GGML_Q8_0},
      {"blk.0.attn_qkv.weight", G2_GGML_Q5_1}, {"blk.0.ffn_down.weight", G2_GGML_Q5_K}}},
    {"tiny-f32", GPT2_WTYPE_Q6_K, G2_FTYPE_MOSTLY_Q6_K,
     {{"token_embd.weight", G2_GGML_Q8_0}, {"output.weight", G2_GGML_Q8_0},
      {"blk.0.attn_qkv.weight", G2_GGML_Q8_0}, {"blk.0.ffn_down.weight", G2_GGML_Q6_K}}},
};

/* gpt2_save_params.omit_tied_output: the file of a tied model without
   output.weight, the token embedding in the output matrix's type (as
   llama-quantize types a tied token_embd); it loads tied and gives the
   logits of the default file, whose output.weight holds the same bytes. */
static void test_omit_tied_output(void) {
  char hf[1024], with[1024], without[1024];
  model_path(hf, sizeof hf, "tiny-f32");
  tmp_path(with, sizeof with, "tiny-f32-q8_0.gguf"); /* written by test_round_trip */
  tmp_path(without, sizeof without, "tiny-f32-q8_0-tied.gguf");
  gpt2_model *model = NULL;
  int status = gpt2_load(hf, NULL, &model);
  gpt2_save_params params = GPT2_SAVE_PARAMS_INIT;
  params.weight_type = GPT2_WTYPE_Q8_0;
  params.omit_tied_output = 1;
  if (status == GPT2_OK) status = gpt2_save_gguf(model, without, &params);
  gpt2_model_free(model);
  size_t size = 0;
  char *data = status == GPT2_OK ? read_file(without, &size) : NULL;
  g2_gguf gguf;
  int parsed = data && g2_gguf_parse((const unsigned char *)data, size, without, &gguf) == GPT2_OK;
  CHECK(parsed && !g2_gguf_find_tensor(&gguf, "output.weight") && gguf.n_tensors == 4 + 12 * 2 &&
            tensor_type(&gguf, "token_embd.weight") == G2_GGML_Q8_0,
        "omit_tied_output: no output.weight, token_embd Q8_0 (%s)", gpt2_last_error());
  if (parsed) g2_gguf_free(&gguf);
  free(data);
  gpt2_model *tied = NULL, *copy = NULL;
  int loaded = gpt2_load(without, NULL, &tied) == GPT2_OK && gpt2_load(with, NULL, &copy) == GPT2_OK;
  CHECK(loaded && gpt2_model_n_params(copy) == gpt2_model_n_params(tied) &&
            gpt2_model_size(copy) == gpt2_model_size(tied),
        "an output.weight that copies token_embd loads tied again: %llu parameters, %llu bytes (tied file: %llu, %llu)",
        loaded ? (unsigned long long)gpt2_model_n_params(copy) : 0ull,
        loaded ? (unsigned long long)gpt2_model_size(copy) : 0ull,
        loaded ? (unsigned long long)gpt2_model_n_params(tied) : 0ull,
        loaded ? (unsigned long long)gpt2_model_size(tied) : 0ull);
  gpt2_model_free(tied);
  gpt2_model_free(copy);
  logits_run a, b;
  int ok = model_logits(with, GPT2_WTYPE_AUTO, &a) && model_logits(without, GPT2_WTYPE_AUTO, &b);
  CHECK(ok && same_logits(&a, &b), "omit_tied_output: the tied file gives bitwise the logits of the default one");
  if (ok) {
    free(a.logits);
    free(b.logits);
  }
}

static void test_k_mixes(void) {
  for (size_t c = 0; c < sizeof mix_cases / sizeof mix_cases[0]; c++) {
    const mix_case *mc = &mix_cases[c];
    char hf[1024], out[1024], file[64];
    model_path(hf, sizeof hf, mc->model);
    snprintf(file, sizeof file, "%s-%s.gguf", mc->model, type_names[mc->weight_type]);
    tmp_path(out, sizeof out, file);
    size_t size = 0;
    char *data = save_as(hf, out, mc->weight_type) == GPT2_OK ? read_file(out, &size) : NULL;
    g2_gguf gguf;
    if (!data || g2_gguf_parse((const unsigned char *)data, size, out, &gguf) != GPT2_OK) {
      CHECK(0, "%s: written and parsed (%s)", file, gpt2_last_error());
      free(data);
      continue;
    }
    uint64_t ftype = 0;
    int ok = key_u32(&gguf, "general.file_type", &ftype) && ftype == mc->file_type;
    char wrong[256] = "";
    for (size_t i = 0; i < 8 && mc->want[i].tensor; i++)
      if (tensor_type(&gguf, mc->want[i].tensor) != mc->want[i].type && !wrong[0])
        snprintf(wrong, sizeof wrong, "%s is %s", mc->want[i].tensor,
                 g2_ggml_type_name(tensor_type(&gguf, mc->want[i].tensor)));
    CHECK(ok && !wrong[0], "%s: general.file_type %u and llama-quantize's type for each tensor checked %s", file,
          (unsigned)mc->file_type, wrong);
    g2_gguf_free(&gguf);
    free(data);
    logits_run exact, dequantized;
    ok = model_logits_as(out, GPT2_WTYPE_AUTO, FP32_PRODUCTS, &exact) &&
         model_logits_as(out, GPT2_WTYPE_AUTO, DEQUANTIZED, &dequantized);
    logits_error error = ok ? compare_logits(&dequantized, &exact) : (logits_error){INFINITY, INFINITY, 0};
    CHECK(ok && error.rms_error <= dequantized_bound,
          "%s: loads and runs; on FP32 products vs its weights dequantized to F32: RMS error %.2g (bound %.0e)",
          file, error.rms_error, dequantized_bound);
    /* gpt2_load_params.weight_type: the same mix converted at load is
       the same model, the tied token embedding split in two types as in
       the file (both converted from one source: also from a file read
       into memory, whose released pages would read back as zeros). */
    logits_run file_run, direct, unmapped;
    int all = model_logits(out, GPT2_WTYPE_AUTO, &file_run) && model_logits(hf, mc->weight_type, &direct) &&
              model_logits_as(hf, mc->weight_type, UNMAPPED, &unmapped);
    CHECK(all && same_logits(&direct, &file_run) && same_logits(&unmapped, &file_run),
          "%s: bitwise the logits of the HF model converted to the mix at load (mapped and read)", file);
    if (all) {
      free(file_run.logits);
      free(direct.logits);
      free(unmapped.logits);
    }
    if (ok) {
      free(exact.logits);
      free(dequantized.logits);
    }
  }
}

static void remove_tmp_dir(void) {
  char command[600];
  snprintf(command, sizeof command, "rm -rf '%s'", tmp_dir);
  if (system(command) != 0) printf("# could not remove %s\n", tmp_dir);
}

int main(void) {
  data_dir = harness_path("GPT2_TEST_DATA", "tests/data");
  snprintf(tmp_dir, sizeof tmp_dir, "%s/test_gguf_%d", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
           (int)getpid());
  mkdir(tmp_dir, 0700);
  test_round_trip("tiny-f32");
  test_round_trip("mid-f32");
  test_round_trip("odd-f32");
  /* names, types: file type, output, layer matrices (mid: n_embd 256 fills
     Q6_K blocks; tiny: 64 does not, so Q8_0 as llama.cpp does) */
  test_file_layout("tiny-f32", GPT2_WTYPE_F32, 2, 509, G2_FTYPE_ALL_F32, G2_GGML_F32, G2_GGML_F32, G2_GGML_F32);
  test_file_layout("tiny-f32", GPT2_WTYPE_F16, 2, 509, G2_FTYPE_MOSTLY_F16, G2_GGML_F16, G2_GGML_F16, G2_GGML_F16);
  test_file_layout("tiny-f32", GPT2_WTYPE_BF16, 2, 509, G2_FTYPE_MOSTLY_BF16, G2_GGML_BF16, G2_GGML_BF16, G2_GGML_BF16);
  test_file_layout("tiny-f32", GPT2_WTYPE_Q8_0, 2, 509, G2_FTYPE_MOSTLY_Q8_0, G2_GGML_Q8_0, G2_GGML_Q8_0, G2_GGML_Q8_0);
  test_file_layout("tiny-f32", GPT2_WTYPE_Q4_0, 2, 509, G2_FTYPE_MOSTLY_Q4_0, G2_GGML_Q8_0, G2_GGML_Q8_0, G2_GGML_Q4_0);
  test_file_layout("mid-f32", GPT2_WTYPE_Q4_0, 4, 1999, G2_FTYPE_MOSTLY_Q4_0, G2_GGML_Q8_0, G2_GGML_Q8_0, G2_GGML_Q4_0);
  test_k_mixes();
  test_omit_tied_output();
  test_resave("mid-f32", "q4_0");
  test_resave("odd-f32", "f16");
  test_vocab_round_trip("124m-f16");
  test_save_failures();
  test_k_types();
  remove_tmp_dir();
  test_corpus();
  test_valid_variants();
  test_allocation_failures();
  test_truncations();
  test_corruptions();
  HARNESS_EXIT();
}
