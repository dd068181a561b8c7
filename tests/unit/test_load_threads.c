/* gpt2_load_params.n_threads: load-time conversion on the library's own
   threads (lib/model/convert.c on a g2_pool). Each tile of rows is
   converted alone by whichever runner claims it, into that runner's
   scratch, so the converted bytes must be the same for 1 and 3 threads (3:
   more runners than the development machine's cores, and an odd number
   that divides no tile count). The comparison is exact: no rounding
   depends on the schedule. tests/tsan.test.sh runs this program under
   ThreadSanitizer too, where it leaves the 124M model to the plain run. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpt2.h"
#include "harness.h"
#include "model/model.h"

/* The model at `path` converted to `weight_type` on `n_threads` threads. */
static gpt2_model *load_threads(const char *path, uint32_t weight_type, uint32_t n_threads) {
  gpt2_load_params params = GPT2_LOAD_PARAMS_INIT;
  params.weight_type = weight_type;
  params.n_threads = n_threads;
  gpt2_model *model = NULL;
  return gpt2_load(path, &params, &model) == GPT2_OK ? model : NULL;
}

/* 1 if both matrices have the same type, layout, shape and bytes. */
static int same_matrix(const g2_matrix *a, const g2_matrix *b) {
  if (a->dtype != b->dtype || a->layout != b->layout || a->n_out != b->n_out || a->n_in != b->n_in)
    return 0;
  int64_t rows = a->layout == G2_LAYOUT_NK ? a->n_out : a->n_in;
  size_t bytes = g2_dtype_row_bytes(a->dtype, a->layout == G2_LAYOUT_NK ? a->n_in : a->n_out);
  return memcmp(a->data, b->data, bytes * (size_t)rows) == 0;
}

/* Matrices that differ between the two models. */
static int differing_matrices(const struct gpt2_model *a, const struct gpt2_model *b) {
  int differ = !same_matrix(&a->wte, &b->wte) + !same_matrix(&a->lm_head, &b->lm_head);
  for (int32_t l = 0; l < a->hp.n_layer; l++) {
    const g2_layer *x = &a->layers[l], *y = &b->layers[l];
    differ += !same_matrix(&x->attn_qkv, &y->attn_qkv) + !same_matrix(&x->attn_proj, &y->attn_proj) +
              !same_matrix(&x->mlp_up, &y->mlp_up) + !same_matrix(&x->mlp_down, &y->mlp_down);
  }
  return differ;
}

static void test_thread_count(const char *name) {
  char path[1024];
  snprintf(path, sizeof path, "%s/%s", harness_path("GPT2_TEST_MODELS", "build/models"), name);
  static const uint32_t types[] = {GPT2_WTYPE_Q8_0, GPT2_WTYPE_Q4_0};
  static const char *const type_names[] = {"q8_0", "q4_0"};
  for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
    gpt2_model *one = load_threads(path, types[t], 1), *three = load_threads(path, types[t], 3);
    CHECK(one && three, "%s: loads as %s with 1 and 3 conversion threads (%s)", name,
          type_names[t], gpt2_last_error());
    if (one && three) {
      int differ = differing_matrices(one, three);
      CHECK(differ == 0, "%s as %s: 1 and 3 conversion threads give the same bytes (%d matrices differ)",
            name, type_names[t], differ);
    }
    gpt2_model_free(one);
    gpt2_model_free(three);
  }
}

int main(void) {
  test_thread_count("mid-f32");
  if (getenv("GPT2_TEST_SANITIZER"))
    SKIP("124m-f32 conversion threads: left to the plain run under %s (4 loads of 124M, slow there)",
         getenv("GPT2_TEST_SANITIZER"));
  else
    test_thread_count("124m-f32");
  HARNESS_EXIT();
}
