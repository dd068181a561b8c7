/* K-type products (Q4_K, Q5_K, Q6_K, Q2_K, Q3_K, IQ4_XS: super-blocks of
   256 values) with 8-bit activations, as the "avx512vnni" and
   "avx512bf16" tables run them: the numeric definition, its scalar oracle
   (kquant_int8_ref.c) and the SIMD kernel (kquant_int8_avx2.c), which
   gives the oracle's bits.

   Definition, for an NK matrix of super-blocks (n_in a multiple of 256)
   and float activations x (finite). The weights, as small integers per
   block (tensor/kquant.h and tensor/dequant.c give the bit layouts):
     Q4_K/Q5_K: (d * sc_k) * u - dmin * m_k, u in [0, 15] or [0, 31],
                6-bit sc_k, m_k per group k of 32;
     Q6_K:      (d * sc_g) * (u - 32), u in [0, 63], int8 sc_g per group
                g of 16;
     Q2_K:      (d * sc_g) * u - dmin * m_g, u in [0, 3], 4-bit sc_g, m_g
                per group g of 16;
     Q3_K:      (d * sc_g) * (u - 4), u in [0, 7] (the 2 low bits and the
                hmask bit as bit 2), sc_g = 6-bit scale - 32 per group g
                of 16;
     IQ4_XS:    (d * sc_k) * v, v = grid[index] (IQ4_NL's 16 values, in
                [-127, 113]), sc_k = 6-bit scale - 32 per group k of 32
                (its low 4 bits in scales_l, high 2 in scales_h).

   1. Activations, per token, in blocks b of 256 along n_in:
        d_x = max |x_i| / 127 over the block (float division, nearest-even)
        q_i = 0 if d_x == 0, else rne(clamp(x_i / d_x, -127, 127))
      (int8.h's rule with blocks of 256), and s_g = sum of q over each group
      g of 16 values (|s_g| <= 2032).
   2. Per block, exact in int32 (every partial sum is below 2^31: the
      largest, IQ4_XS's, is at most 8 * 32 * 32 * 127 * 127 < 2^28):
        Q4_K/Q5_K: S = sum_k sc_k * sum_{i in k} u_i q_i
                   M = sum_k m_k * (s_{2k} + s_{2k+1})
        Q6_K:      S = sum_g sc_g * (sum_{i in g} u_i q_i - 32 s_g),  M = 0
        Q2_K:      S = sum_g sc_g * sum_{i in g} u_i q_i
                   M = sum_g m_g * s_g
        Q3_K:      S = sum_g sc_g * (sum_{i in g} u_i q_i - 4 s_g),   M = 0
        IQ4_XS:    S = sum_k sc_k * sum_{i in k} v_i q_i,             M = 0
   3. Per output element, one chain in block order from +0:
        c = fmaf((float)S, d * d_x, c)
        c = fmaf((float)-M, dmin * d_x, c)      (Q4_K/Q5_K/Q2_K only)
      with d, dmin the block's F16 values as floats, each scale product
      rounded to float first and (float) rounding to nearest-even; then
        out = c + bias                          (+0 if there is none).
   The value depends on nothing but the element's own row and token, so any
   column split, token batch or thread count gives the same bits; one
   token and a batch run the same code. ggml's Q8_K dot products work the
   same way (one activation scale per 256, per-16 sums for the mins); the
   per-block float steps here are this library's own. Rows whose length is
   not a multiple of 256 (n_embd 1600) are never K types: the mixes give
   them 32-value types (model/policy.c, as llama-quantize does). */
#ifndef G2_KQUANT_INT8_H
#define G2_KQUANT_INT8_H

#include <stddef.h>
#include <stdint.h>

#include "tensor/matrix.h"

enum {
  G2_KQ8_GROUP = 16,        /* activations per sum s_g */
  G2_KQ8_MAX_IN = 16384     /* longest row taken (work area: kquant_int8_avx2.c) */
};

/* Where a block of one of the six types keeps its F16 d (dmin follows
   it), and whether the type has mins (step 3's second fmaf). */
static inline size_t g2_kq8_d_offset(g2_dtype dtype) {
  return dtype == G2_DT_Q6_K ? 208 : dtype == G2_DT_Q2_K ? 80 : dtype == G2_DT_Q3_K ? 108 : 0;
}

/* The offset of a 32-bit word inside the block that holds d, and for the
   types with mins dmin in its high half; where d ends the block (Q6_K,
   Q3_K) the word starts 2 bytes earlier, with d in its high half, so that
   it stays inside the block. Kernels that gather d (and dmin) for several
   rows load one such word a row. */
static inline int g2_kq8_d_in_high_half(g2_dtype dtype) { return dtype == G2_DT_Q6_K || dtype == G2_DT_Q3_K; }
static inline size_t g2_kq8_d_word(g2_dtype dtype) {
  return g2_kq8_d_offset(dtype) - (g2_kq8_d_in_high_half(dtype) ? 2 : 0);
}

/* A super-block's bytes, as a constant where dtype is one (matrix.h). */
static inline size_t g2_kq8_block_bytes(g2_dtype dtype) {
  switch (dtype) {
    case G2_DT_Q2_K: return G2_Q2_K_BLOCK_BYTES;
    case G2_DT_Q3_K: return G2_Q3_K_BLOCK_BYTES;
    case G2_DT_Q4_K: return G2_Q4_K_BLOCK_BYTES;
    case G2_DT_Q5_K: return G2_Q5_K_BLOCK_BYTES;
    case G2_DT_Q6_K: return G2_Q6_K_BLOCK_BYTES;
    default: return G2_IQ4_XS_BLOCK_BYTES;
  }
}

static inline int g2_kq8_has_mins(g2_dtype dtype) {
  return dtype == G2_DT_Q4_K || dtype == G2_DT_Q5_K || dtype == G2_DT_Q2_K;
}

/* Step 1 for one token row (n_in a multiple of 256): q[0..n_in),
   d[n_in / 256] and sums[n_in / 16]. */
void g2_kq8_quantize_row(const float *x, size_t n_in, int8_t *q, float *d, int16_t *sums);

#if defined(__x86_64__)
/* The same, by AVX2 (kquant_int8_avx2.c; only on CPUs with AVX2, FMA and
   F16C): the same bits. */
void g2_kq8_quantize_row_avx2(const float *x, size_t n_in, int8_t *q, float *d, int16_t *sums);
#endif

/* Whether the K-type int8 path takes this matrix (NK, one of the six
   types above, 0 < n_in <= G2_KQ8_MAX_IN). */
int g2_kq8_supported(const g2_matrix *w);

#if defined(__x86_64__)
/* One token's activations as the AVX2 K-type kernels keep them
   (kquant_int8_avx2.c, kquant_panel_avx2.c): q[n_in], then d[n_in / 256],
   then sums[n_in / 16] (int16), in 64-byte pieces. */
typedef struct g2_kq8_token {
  const int8_t *q;
  const float *d;
  const int16_t *sums;
} g2_kq8_token;

static inline size_t g2_kq8_token_bytes(size_t n_in) {
  return (n_in + n_in / 256 * sizeof(float) + n_in / G2_KQ8_GROUP * sizeof(int16_t) + 63) / 64 * 64;
}

static inline g2_kq8_token g2_kq8_token_at(const unsigned char *base, size_t n_in) {
  return (g2_kq8_token){(const int8_t *)base, (const float *)(const void *)(base + n_in),
                        (const int16_t *)(const void *)(base + n_in + n_in / 256 * sizeof(float))};
}

/* Step 1 for one token, into that layout (g2_kq8_quantize_row_avx2). */
void g2_kq8_quantize_token_avx2(const float *x, size_t n_in, unsigned char *token);

/* AVX2 batches of the six types in rows-in-lanes panels
   (kquant_panel_avx2.c): whether they take a product of n_tok tokens
   (at least G2_KQ8_PANEL_MIN_TOKS, rows of at most G2_KQ8_PANEL_MAX_IN),
   and the kernels' matmul contract for it, to the definition's bits. */
enum { G2_KQ8_PANEL_MIN_TOKS = 5, G2_KQ8_PANEL_MAX_IN = 5120 };
int g2_kq8_panel_takes(const g2_matrix *w, size_t n_tok);
void g2_kq8_panel_matmul(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,
                         float *out, size_t out_stride, size_t col_begin, size_t col_end, void *work);
#endif

/* The kernels' matmul contract (kernels.h) under the definition above, for
   supported matrices: the oracle, in plain C. */
void g2_kq8_ref_matmul(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,
                       float *out, size_t out_stride, size_t col_begin, size_t col_end);

#endif
