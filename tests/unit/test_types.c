/* The block types libgpt2 reads for llama-quantize's mixes (Q4_1, Q5_0,
   Q5_1, Q2_K, Q3_K, IQ4_NL, IQ4_XS) in whole models, from the crafted files
   of tests/data/gguf_bad (tools/gen/gen_bad_gguf.py: random blocks with
   chosen scales, every type in a layer matrix and one as the token
   embedding):
   - good_types_32 / good_types_256 keep their types at load and evaluate
     to finite logits; converted to F32 at load (weight_type F32), the
     scalar table gives bitwise the same logits: the products read the
     blocks as the conversion does (the values themselves are checked
     against ggml in test_quant and, whole models, in test_golden);
   - bad blocks (NaN scales; infinite scales) load, since block contents
     are not checked, and evaluate to NaN logits, which sampling refuses
     with GPT2_E_INVALID: defined results, never a crash (the sanitizer
     build runs this too). IQ4 indices have no out-of-range values: 4 bits
     index a 16-value grid. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpt2.h"
#include "harness.h"
#include "model/model.h"

enum { N_TOKENS = 4 };

static const char *data_dir;

static gpt2_model *load(const char *name, uint32_t weight_type) {
  char path[1024];
  snprintf(path, sizeof path, "%s/gguf_bad/%s", data_dir, name);
  gpt2_load_params params = GPT2_LOAD_PARAMS_INIT;
  params.weight_type = weight_type;
  gpt2_model *model = NULL;
  int status = gpt2_load(path, &params, &model);
  CHECK(status == GPT2_OK, "%s loads (weight_type %u): %s", name, weight_type, gpt2_last_error());
  return status == GPT2_OK ? model : NULL;
}

/* Evaluates N_TOKENS tokens; the last logits to out (n_vocab floats), and
   the status of a greedy sample. 0 if eval failed. */
static int run(gpt2_model *model, float *out, int *sample_status) {
  gpt2_context_params params = GPT2_CONTEXT_PARAMS_INIT;
  params.n_threads = 1;
  gpt2_context *ctx = NULL;
  if (gpt2_context_new(model, &params, &ctx) != GPT2_OK) return 0;
  gpt2_token tokens[N_TOKENS] = {72, 101, 108, 258};
  int ok = gpt2_eval(ctx, tokens, N_TOKENS) == GPT2_OK;
  if (ok) {
    memcpy(out, gpt2_logits(ctx, -1), (size_t)gpt2_n_vocab(model) * sizeof *out);
    gpt2_sample_params greedy = GPT2_SAMPLE_PARAMS_INIT;
    greedy.temperature = 0;
    gpt2_token next;
    *sample_status = gpt2_sample(ctx, &greedy, &next);
  }
  gpt2_context_free(ctx);
  return ok;
}

static int count_finite(const float *x, int n) {
  int finite = 0;
  for (int i = 0; i < n; i++) finite += isfinite(x[i]) != 0;
  return finite;
}

static void check_types(const char *name, const g2_dtype want[5]) {
  gpt2_model *model = load(name, GPT2_WTYPE_AUTO);
  if (!model) return;
  const g2_layer *layer = &model->layers[0];
  CHECK(model->wte.dtype == want[0] && layer->attn_qkv.dtype == want[1] && layer->attn_proj.dtype == want[2] &&
            layer->mlp_up.dtype == want[3] && layer->mlp_down.dtype == want[4],
        "%s: types kept (%s, %s, %s, %s, %s)", name, g2_dtype_name(want[0]), g2_dtype_name(want[1]),
        g2_dtype_name(want[2]), g2_dtype_name(want[3]), g2_dtype_name(want[4]));
  int n_vocab = gpt2_n_vocab(model), sampled = 1, sampled_f32 = 1;
  float *logits = calloc((size_t)n_vocab, sizeof *logits), *logits_f32 = calloc((size_t)n_vocab, sizeof *logits);
  gpt2_model *f32 = load(name, GPT2_WTYPE_F32);
  if (logits && logits_f32 && f32 && run(model, logits, &sampled) && run(f32, logits_f32, &sampled_f32)) {
    CHECK(count_finite(logits, n_vocab) == n_vocab && sampled == GPT2_OK, "%s: %d logits, all finite; sampled",
          name, n_vocab);
    CHECK(f32->layers[0].attn_qkv.dtype == G2_DT_F32 && !memcmp(logits, logits_f32, (size_t)n_vocab * sizeof *logits),
          "%s: converted to F32 at load, bitwise the same logits with the scalar table", name);
  } else {
    CHECK(0, "%s evaluates", name);
  }
  gpt2_model_free(f32);
  gpt2_model_free(model);
  free(logits);
  free(logits_f32);
}

static void check_bad_blocks(const char *name) {
  gpt2_model *model = load(name, GPT2_WTYPE_AUTO);
  if (!model) return;
  int n_vocab = gpt2_n_vocab(model), sampled = GPT2_OK;
  float *logits = calloc((size_t)n_vocab, sizeof *logits);
  if (logits && run(model, logits, &sampled)) {
    int nan = 0;
    for (int i = 0; i < n_vocab; i++) nan += isnan(logits[i]) != 0;
    CHECK(nan == n_vocab, "%s: evaluates, every logit NaN (%d of %d)", name, nan, n_vocab);
    CHECK(sampled == GPT2_E_INVALID, "%s: sampling refuses the NaN logits (%d)", name, sampled);
  } else {
    CHECK(0, "%s evaluates", name);
  }
  gpt2_model_free(model);
  free(logits);
}

int main(void) {
  data_dir = harness_path("GPT2_TEST_DATA", "tests/data");
  setenv("GPT2_ISA", "scalar", 1); /* bitwise comparison of the two loads' products */
  static const g2_dtype small[5] = {G2_DT_IQ4_NL, G2_DT_Q4_1, G2_DT_Q5_0, G2_DT_Q5_1, G2_DT_IQ4_NL};
  static const g2_dtype k[5] = {G2_DT_Q3_K, G2_DT_Q2_K, G2_DT_Q3_K, G2_DT_IQ4_XS, G2_DT_Q2_K};
  check_types("good_types_32.gguf", small);
  check_types("good_types_256.gguf", k);
  unsetenv("GPT2_ISA"); /* the bad blocks through the default table */
  check_bad_blocks("blocks_nan_scales_32.gguf");
  check_bad_blocks("blocks_inf_scales_256.gguf");
  HARNESS_EXIT();
}
