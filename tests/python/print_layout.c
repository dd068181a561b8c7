/* Prints what the Python binding mirrors from include/gpt2.h, as the C
   compiler sees it, for python/tests/test_layout.py:
     struct NAME SIZE
     field NAME.FIELD OFFSET SIZE
     init NAME HEX          (the bytes of the *_PARAMS_INIT value)
     const NAME VALUE
   Header only: no library is linked. */
#include <stddef.h>
#include <stdio.h>

#include "gpt2.h"

#define STRUCT(type) printf("struct %s %zu\n", #type, sizeof(type))
#define FIELD(type, field)                                                  \
  printf("field %s.%s %zu %zu\n", #type, #field, offsetof(type, field), \
         sizeof(((type *)0)->field))
#define CONST(name) printf("const %s %lld\n", #name, (long long)(name))

static void print_init(const char *name, const void *value, size_t size) {
  const unsigned char *bytes = value;
  printf("init %s ", name);
  for (size_t i = 0; i < size; i++) printf("%02x", bytes[i]);
  printf("\n");
}

/* Static storage: padding bytes, if any, are zero. */
static const gpt2_load_params load_init = GPT2_LOAD_PARAMS_INIT;
static const gpt2_context_params context_init = GPT2_CONTEXT_PARAMS_INIT;
static const gpt2_save_params save_init = GPT2_SAVE_PARAMS_INIT;
static const gpt2_sample_params sample_init = GPT2_SAMPLE_PARAMS_INIT;
static const gpt2_score_params score_init = GPT2_SCORE_PARAMS_INIT;

int main(void) {
  STRUCT(gpt2_load_params);
  FIELD(gpt2_load_params, size);
  FIELD(gpt2_load_params, weight_type);
  FIELD(gpt2_load_params, use_mmap);
  FIELD(gpt2_load_params, fp32_products);
  FIELD(gpt2_load_params, n_threads);
  FIELD(gpt2_load_params, progress_callback);
  FIELD(gpt2_load_params, progress_data);
  print_init("gpt2_load_params", &load_init, sizeof load_init);

  STRUCT(gpt2_context_params);
  FIELD(gpt2_context_params, size);
  FIELD(gpt2_context_params, n_ctx);
  FIELD(gpt2_context_params, n_threads);
  FIELD(gpt2_context_params, logits_all);
  FIELD(gpt2_context_params, seed);
  FIELD(gpt2_context_params, kv_type);
  FIELD(gpt2_context_params, reserved);
  FIELD(gpt2_context_params, abort_callback);
  FIELD(gpt2_context_params, abort_data);
  FIELD(gpt2_context_params, embeddings);
  print_init("gpt2_context_params", &context_init, sizeof context_init);

  STRUCT(gpt2_save_params);
  FIELD(gpt2_save_params, size);
  FIELD(gpt2_save_params, weight_type);
  FIELD(gpt2_save_params, omit_tied_output);
  print_init("gpt2_save_params", &save_init, sizeof save_init);

  STRUCT(gpt2_logit_bias);
  FIELD(gpt2_logit_bias, token);
  FIELD(gpt2_logit_bias, bias);

  STRUCT(gpt2_sample_params);
  FIELD(gpt2_sample_params, size);
  FIELD(gpt2_sample_params, temperature);
  FIELD(gpt2_sample_params, top_k);
  FIELD(gpt2_sample_params, top_p);
  FIELD(gpt2_sample_params, min_p);
  FIELD(gpt2_sample_params, repetition_penalty);
  FIELD(gpt2_sample_params, repeat_last_n);
  FIELD(gpt2_sample_params, presence_penalty);
  FIELD(gpt2_sample_params, frequency_penalty);
  FIELD(gpt2_sample_params, n_logit_bias);
  FIELD(gpt2_sample_params, logit_bias);
  FIELD(gpt2_sample_params, typical_p);
  FIELD(gpt2_sample_params, no_repeat_ngram_size);
  print_init("gpt2_sample_params", &sample_init, sizeof sample_init);

  STRUCT(gpt2_token_logprob);
  FIELD(gpt2_token_logprob, token);
  FIELD(gpt2_token_logprob, logprob);

  STRUCT(gpt2_score_params);
  FIELD(gpt2_score_params, size);
  FIELD(gpt2_score_params, window);
  FIELD(gpt2_score_params, stride);
  FIELD(gpt2_score_params, n_threads);
  FIELD(gpt2_score_params, prefix);
  FIELD(gpt2_score_params, n_prefix);
  FIELD(gpt2_score_params, reserved);
  print_init("gpt2_score_params", &score_init, sizeof score_init);

  CONST(GPT2_OK);
  CONST(GPT2_E_INVALID);
  CONST(GPT2_E_NOMEM);
  CONST(GPT2_E_IO);
  CONST(GPT2_E_FORMAT);
  CONST(GPT2_E_UNSUPPORTED);
  CONST(GPT2_E_RANGE);
  CONST(GPT2_E_BUFFER);
  CONST(GPT2_E_STATE);
  CONST(GPT2_E_ABORTED);
  CONST(GPT2_WTYPE_AUTO);
  CONST(GPT2_WTYPE_F32);
  CONST(GPT2_WTYPE_F16);
  CONST(GPT2_WTYPE_BF16);
  CONST(GPT2_WTYPE_Q8_0);
  CONST(GPT2_WTYPE_Q4_0);
  CONST(GPT2_WTYPE_Q4_K_M);
  CONST(GPT2_WTYPE_Q5_K_M);
  CONST(GPT2_WTYPE_Q6_K);
  CONST(GPT2_WTYPE_Q4_K_S);
  CONST(GPT2_WTYPE_Q5_K_S);
  CONST(GPT2_WTYPE_Q3_K_S);
  CONST(GPT2_WTYPE_Q3_K_M);
  CONST(GPT2_WTYPE_Q3_K_L);
  CONST(GPT2_KV_F32);
  CONST(GPT2_KV_F16);
  CONST(GPT2_TOKENIZE_SPECIAL);
  printf("version %s\n", GPT2_VERSION_STRING);
  return 0;
}
