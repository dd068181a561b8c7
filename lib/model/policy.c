#include "model/policy.h"

#include "core/error.h"
#include "gpt2.h"

int g2_check_weight_type(uint32_t weight_type, const char *params_name) {
  if (weight_type <= GPT2_WTYPE_Q4_0) return GPT2_OK;
  return g2_fail(GPT2_E_INVALID, "%s.weight_type %u is not a GPT2_WTYPE_*", params_name,
                 (unsigned)weight_type);
}

g2_weight_role g2_weight_role_of(const struct gpt2_model *model, int32_t layer, int id) {
  if (layer >= 0) return G2_ROLE_LAYER;
  if (id == G2_T_POSITIONS) return G2_ROLE_POSITIONS;
  if (id == G2_T_TOKENS && !g2_model_output_tied(model)) return G2_ROLE_TOKENS;
  return G2_ROLE_OUTPUT;
}

/* The mixes: position embeddings F32 (one row is read per token, as
   llama.cpp's converter keeps them); every other matrix in the type asked
   for, except that the Q4_0 mix keeps both embeddings, the output matrix
   above all (the logits are the most quantization-sensitive product), in
   Q8_0. Measured against llama.cpp's choice, Q6_K for the output matrix,
   on the random 124M model (docs/gguf.md): the output matrix alone adds a
   logit RMS error of 2.5% in Q8_0 against 9.4% in Q6_K, and generation
   runs 150-180 tok/s against 95 (one thread), for 9 MB more. Rows that do
   not fill a type's blocks fall back to F16, as llama.cpp's converter
   does. AUTO keeps each matrix's type. */
g2_dtype g2_weight_policy(uint32_t weight_type, g2_weight_role role, const g2_matrix *m) {
  g2_dtype dtype;
  switch (weight_type) {
    case GPT2_WTYPE_F32: dtype = G2_DT_F32; break;
    case GPT2_WTYPE_F16: dtype = G2_DT_F16; break;
    case GPT2_WTYPE_BF16: dtype = G2_DT_BF16; break;
    case GPT2_WTYPE_Q8_0: dtype = G2_DT_Q8_0; break;
    case GPT2_WTYPE_Q4_0: dtype = role == G2_ROLE_LAYER ? G2_DT_Q4_0 : G2_DT_Q8_0; break;
    default: return m->dtype;
  }
  if (role == G2_ROLE_POSITIONS) return G2_DT_F32;
  return g2_dtype_row_bytes(dtype, m->n_in) ? dtype : G2_DT_F16;
}
