#include "model/policy.h"

#include "core/error.h"
#include "format/gguf.h"
#include "gpt2.h"

int g2_check_weight_type(uint32_t weight_type, const char *params_name) {
  if (weight_type <= GPT2_WTYPE_Q3_K_L) return GPT2_OK;
  return g2_fail(GPT2_E_INVALID, "%s.weight_type %u is not a GPT2_WTYPE_*", params_name,
                 (unsigned)weight_type);
}

g2_weight_slot g2_weight_role_of(const struct gpt2_model *model, int32_t layer, int id) {
  g2_weight_slot slot = {G2_ROLE_OUTPUT, layer, model->hp.n_layer};
  if (layer >= 0) {
    slot.role = id == G2_L_ATTN_QKV ? G2_ROLE_ATTN_QKV
              : id == G2_L_ATTN_OUT ? G2_ROLE_ATTN_OUT
              : id == G2_L_FFN_UP   ? G2_ROLE_FFN_UP
                                    : G2_ROLE_FFN_DOWN;
  } else if (id == G2_T_POSITIONS) {
    slot.role = G2_ROLE_POSITIONS;
  } else if (id == G2_T_TOKENS && !g2_model_output_tied(model)) {
    slot.role = G2_ROLE_TOKENS;
  }
  return slot;
}

static int is_k_mix(uint32_t weight_type) {
  return weight_type >= GPT2_WTYPE_Q4_K_M && weight_type <= GPT2_WTYPE_Q3_K_L;
}

static int fits(g2_dtype dtype, int64_t n_in) { return g2_dtype_row_bytes(dtype, n_in) != 0; }

/* llama.cpp's use_more_bits: the first and last eighth of the layers and
   every third one between. */
static int more_bits(int32_t layer, int32_t n_layer) {
  return layer < n_layer / 8 || layer >= 7 * n_layer / 8 || (layer - n_layer / 8) % 3 == 2;
}

/* A K mix (llama_tensor_get_type_impl for the tensors GPT-2 has):
   - the output matrix (and a tied token embedding): Q6_K, or Q8_0 where
     the mix's 256-value blocks do not fit its rows;
   - attn_qkv (an "attn_v-like" tensor to llama.cpp): Q6_K in the
     more_bits layers for Q4_K_M/Q5_K_M; Q5_K in layers 0-3 for Q4_K_S;
     Q5_K in layers 0-1, else Q4_K, for Q3_K_M; Q5_K for Q3_K_L;
   - ffn_down: Q6_K in the more_bits layers for Q4_K_M/Q5_K_M; Q5_K in the
     first eighth for Q4_K_S; Q5_K in the first sixteenth, else Q4_K, for
     Q3_K_M; Q5_K for Q3_K_L;
   - attn_output: Q4_K for Q3_K_M, Q5_K for Q3_K_L;
   - everything else in the mix's type (Q3_K, Q4_K, Q5_K or Q6_K). */
static g2_dtype k_mix_type(uint32_t weight_type, g2_weight_slot slot, int64_t n_in) {
  g2_dtype base;
  switch (weight_type) {
    case GPT2_WTYPE_Q6_K: base = G2_DT_Q6_K; break;
    case GPT2_WTYPE_Q5_K_M:
    case GPT2_WTYPE_Q5_K_S: base = G2_DT_Q5_K; break;
    case GPT2_WTYPE_Q3_K_S:
    case GPT2_WTYPE_Q3_K_M:
    case GPT2_WTYPE_Q3_K_L: base = G2_DT_Q3_K; break;
    default: base = G2_DT_Q4_K;
  }
  int m_mix = weight_type == GPT2_WTYPE_Q4_K_M || weight_type == GPT2_WTYPE_Q5_K_M;
  switch (slot.role) {
    case G2_ROLE_OUTPUT: return fits(base, n_in) ? G2_DT_Q6_K : G2_DT_Q8_0;
    case G2_ROLE_ATTN_QKV:
      if (m_mix && more_bits(slot.layer, slot.n_layer)) return G2_DT_Q6_K;
      if (weight_type == GPT2_WTYPE_Q4_K_S && slot.layer < 4) return G2_DT_Q5_K;
      if (weight_type == GPT2_WTYPE_Q3_K_M) return slot.layer < 2 ? G2_DT_Q5_K : G2_DT_Q4_K;
      if (weight_type == GPT2_WTYPE_Q3_K_L) return G2_DT_Q5_K;
      return base;
    case G2_ROLE_FFN_DOWN:
      if (m_mix && more_bits(slot.layer, slot.n_layer)) return G2_DT_Q6_K;
      if (weight_type == GPT2_WTYPE_Q4_K_S && slot.layer < slot.n_layer / 8) return G2_DT_Q5_K;
      if (weight_type == GPT2_WTYPE_Q3_K_M) return slot.layer < slot.n_layer / 16 ? G2_DT_Q5_K : G2_DT_Q4_K;
      if (weight_type == GPT2_WTYPE_Q3_K_L) return G2_DT_Q5_K;
      return base;
    case G2_ROLE_ATTN_OUT:
      if (weight_type == GPT2_WTYPE_Q3_K_M) return G2_DT_Q4_K;
      if (weight_type == GPT2_WTYPE_Q3_K_L) return G2_DT_Q5_K;
      return base;
    default: return base;
  }
}

/* llama.cpp's tensor_type_fallback: a K type whose blocks do not fit the
   rows becomes a 32-value type (Q3_K -> Q4_0, Q4_K -> Q5_0, Q5_K -> Q5_1,
   Q6_K -> Q8_0); a type that still does not fit, F16. */
static g2_dtype fallback(g2_dtype dtype, int64_t n_in) {
  if (fits(dtype, n_in)) return dtype;
  dtype = dtype == G2_DT_Q3_K ? G2_DT_Q4_0
        : dtype == G2_DT_Q4_K ? G2_DT_Q5_0
        : dtype == G2_DT_Q5_K ? G2_DT_Q5_1
        : dtype == G2_DT_Q6_K ? G2_DT_Q8_0
                              : dtype;
  return fits(dtype, n_in) ? dtype : G2_DT_F16;
}

/* The mixes: position embeddings F32 (one row is read per token, as
   llama.cpp's converter keeps them); every other matrix in the type asked
   for, except that the Q4_0 mix keeps both embeddings, the output matrix
   above all (the logits are the most quantization-sensitive product), in
   Q8_0. Measured against llama.cpp's choice, Q6_K for the output matrix,
   on the random 124M model (docs/gguf.md): the output matrix alone adds a
   logit RMS error of 2.5% in Q8_0 against 9.4% in Q6_K, and generation
   runs 150-180 tok/s against 95 (one thread), for 9 MB more. The K mixes
   are llama-quantize's (k_mix_type). Rows that do not fill a type's blocks
   fall back as llama.cpp's quantizer does (fallback). AUTO keeps each
   matrix's type. */
g2_dtype g2_weight_policy(uint32_t weight_type, g2_weight_slot slot, const g2_matrix *m) {
  g2_dtype dtype;
  int embedding = slot.role == G2_ROLE_TOKENS || slot.role == G2_ROLE_OUTPUT;
  if (weight_type == GPT2_WTYPE_AUTO) return m->dtype;
  if (slot.role == G2_ROLE_POSITIONS) return G2_DT_F32;
  switch (weight_type) {
    case GPT2_WTYPE_F32: dtype = G2_DT_F32; break;
    case GPT2_WTYPE_F16: dtype = G2_DT_F16; break;
    case GPT2_WTYPE_BF16: dtype = G2_DT_BF16; break;
    case GPT2_WTYPE_Q8_0: dtype = G2_DT_Q8_0; break;
    case GPT2_WTYPE_Q4_0: dtype = embedding ? G2_DT_Q8_0 : G2_DT_Q4_0; break;
    default: dtype = is_k_mix(weight_type) ? k_mix_type(weight_type, slot, m->n_in) : m->dtype;
  }
  return fallback(dtype, m->n_in);
}

uint32_t g2_weight_file_type(uint32_t weight_type, const g2_matrix *qkv) {
  switch (weight_type) {
    case GPT2_WTYPE_F32: return G2_FTYPE_ALL_F32;
    case GPT2_WTYPE_F16: return G2_FTYPE_MOSTLY_F16;
    case GPT2_WTYPE_BF16: return G2_FTYPE_MOSTLY_BF16;
    case GPT2_WTYPE_Q8_0: return G2_FTYPE_MOSTLY_Q8_0;
    case GPT2_WTYPE_Q4_0: return G2_FTYPE_MOSTLY_Q4_0;
    case GPT2_WTYPE_Q4_K_M: return G2_FTYPE_MOSTLY_Q4_K_M;
    case GPT2_WTYPE_Q5_K_M: return G2_FTYPE_MOSTLY_Q5_K_M;
    case GPT2_WTYPE_Q6_K: return G2_FTYPE_MOSTLY_Q6_K;
    case GPT2_WTYPE_Q4_K_S: return G2_FTYPE_MOSTLY_Q4_K_S;
    case GPT2_WTYPE_Q5_K_S: return G2_FTYPE_MOSTLY_Q5_K_S;
    case GPT2_WTYPE_Q3_K_S: return G2_FTYPE_MOSTLY_Q3_K_S;
    case GPT2_WTYPE_Q3_K_M: return G2_FTYPE_MOSTLY_Q3_K_M;
    case GPT2_WTYPE_Q3_K_L: return G2_FTYPE_MOSTLY_Q3_K_L;
    default: break;
  }
  switch (qkv->dtype) { /* AUTO: the file's type, named by its layers */
    case G2_DT_F16: return G2_FTYPE_MOSTLY_F16;
    case G2_DT_BF16: return G2_FTYPE_MOSTLY_BF16;
    case G2_DT_Q8_0: return G2_FTYPE_MOSTLY_Q8_0;
    case G2_DT_Q4_0: return G2_FTYPE_MOSTLY_Q4_0;
    case G2_DT_Q4_K: return G2_FTYPE_MOSTLY_Q4_K_M;
    case G2_DT_Q5_K: return G2_FTYPE_MOSTLY_Q5_K_M;
    case G2_DT_Q6_K: return G2_FTYPE_MOSTLY_Q6_K;
    case G2_DT_Q4_1: return G2_FTYPE_MOSTLY_Q4_1;
    case G2_DT_Q5_0: return G2_FTYPE_MOSTLY_Q5_0;
    case G2_DT_Q5_1: return G2_FTYPE_MOSTLY_Q5_1;
    case G2_DT_Q2_K: return G2_FTYPE_MOSTLY_Q2_K;
    case G2_DT_Q3_K: return G2_FTYPE_MOSTLY_Q3_K_M;
    case G2_DT_IQ4_NL: return G2_FTYPE_MOSTLY_IQ4_NL;
    case G2_DT_IQ4_XS: return G2_FTYPE_MOSTLY_IQ4_XS;
    default: return G2_FTYPE_ALL_F32;
  }
}
