/* One token's K-type products (Q4_K, Q5_K, Q6_K, Q2_K, Q3_K, IQ4_XS) by
   AVX-512BW and VNNI, to the bits of the oracle in kquant_int8_ref.c
   (definition in kernels/kquant_int8.h): the avx512vnni and avx512bf16
   tables' one-token path, where the AVX2 kernel (kquant_int8_avx2.c) was
   bound by its instructions, not by the weight stream.

   A block's 256 weights are unpacked straight from their bits into 4
   vectors of 64 bytes, in whatever order of 16-value chunks the type's
   layout gives with the fewest instructions (`chunk_order`); the token's
   activations are put in the same order once per product, so each vector
   of weights meets its activations in one load. vpmaddubsw pairs the
   unsigned weights with the signed activations (IQ4_XS: |v| with v's sign
   moved onto the activation; a pair is at most 2 * 127 * 127), and
   vpdpwssd multiplies the pairs by their group's scale (placed by vpermw)
   into the row's int32 lanes: S exactly. Mins and the offsets of Q6_K
   (32) and Q3_K (4) meet the activations' per-16 sums as in the AVX2
   kernel.

   16 rows at a time: each row's block leaves one vector of partial sums
   (S's 16 lanes, less the offset term; types with mins: S folded to 8
   lanes beside M's 8); a tree of adds over the 16 rows' vectors gives
   their S (and M) in the lanes of one vector, and the definition's float
   steps run for the 16 rows at once, with their F16 d and dmin gathered.
   The integers are exact, so their order is free; each lane's chain is
   the definition's, block by block, so any column split gives the same
   bits, and so does the AVX2 kernel for batches. */
#if defined(__x86_64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma,f16c"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma,f16c")
#endif

#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/kquant_avx2.h"
#include "kernels/kquant_int8.h"
#include "tensor/dequant.h"
#include "tensor/kquant.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

enum {
  ROWS = 16,                               /* rows whose float steps share a vector */
  VECS = G2_QK_K / 64,                     /* vectors of weights a block */
  CHUNKS = G2_QK_K / 16,                   /* 16-value chunks a block: one group each */
  MAX_BLOCKS = G2_KQ8_MAX_IN / G2_QK_K
};

typedef struct token_work {
  _Alignas(64) int8_t q[G2_KQ8_MAX_IN];       /* the activations, each block in chunk_order */
  float d[MAX_BLOCKS];
  int16_t sums[G2_KQ8_MAX_IN / G2_KQ8_GROUP]; /* per group of 16, in activation order */
  __m512i partial[MAX_BLOCKS][ROWS];          /* a row's block: S (and M) in parts */
} token_work;
_Static_assert(sizeof(token_work) <= G2_KERNEL_WORK_BYTES, "kquant_int8_token_avx512.c's buffers fit the work area");

/* The chunk (values 16 c .. 16 c + 15 of a block) in 128-bit lane i % 4 of
   vector i / 4 as unpack_block leaves them, per type. */
static const uint8_t *chunk_order(g2_dtype dtype) {
  /* Q2_K/Q3_K: vector v is bit pair v of the 64 qs bytes: values 32 v.. from the first 32, 128 + 32 v.. from the
     rest. Q4_K/Q5_K: low then high nibbles of runs 0-1, then of runs 2-3. IQ4_XS: low then high nibbles of
     groups 0-3, then of groups 4-7. Q6_K: in order. */
  static const uint8_t q2_q3[CHUNKS] = {0, 1, 8, 9, 2, 3, 10, 11, 4, 5, 12, 13, 6, 7, 14, 15};
  static const uint8_t q4_q5[CHUNKS] = {0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15};
  static const uint8_t iq4[CHUNKS] = {0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15};
  static const uint8_t q6[CHUNKS] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  switch (dtype) {
    case G2_DT_Q2_K:
    case G2_DT_Q3_K: return q2_q3;
    case G2_DT_Q4_K:
    case G2_DT_Q5_K: return q4_q5;
    case G2_DT_IQ4_XS: return iq4;
    default: return q6;
  }
}

/* Step 1 of the definition for the token, a block at a time (blocks are
   independent), each put into chunk order. */
static void quantize_token(g2_dtype dtype, const float *x, size_t n_in, token_work *tw) {
  const uint8_t *order = chunk_order(dtype);
  for (size_t b = 0; b < n_in / G2_QK_K; b++) {
    int8_t natural[G2_QK_K];
    g2_kq8_quantize_row_avx2(x + b * G2_QK_K, G2_QK_K, natural, tw->d + b, tw->sums + b * CHUNKS);
    for (int i = 0; i < CHUNKS; i++) memcpy(tw->q + b * G2_QK_K + 16 * i, natural + 16 * order[i], 16);
  }
}

/* The unpacking's constant vectors: gcc 12 rebuilt them in the loop each
   time (two instructions each, on the vector ports) from set1 and even
   from this table, unless their values are hidden from it (`constant`). */
#define SPLAT16(x) x, x, x, x, x, x, x, x, x, x, x, x, x, x, x, x
#define SPLAT32(x) SPLAT16(x), SPLAT16(x)
#define SPLAT64(x) SPLAT32(x), SPLAT32(x)
#define HALVES(low, high) {SPLAT32(low), SPLAT32(high)}
static const struct unpack_constants {
  _Alignas(64) uint8_t low4[64], two_bits[64], four[64], eight[64], sixteen[64];
  uint8_t q3_bits[VECS][64]; /* vector v: hmask bit v in the low 256 bits, 4 + v in the high */
  uint8_t q5_bits[VECS][64]; /* vector 2 half + nibble: qh bit 4 half + nibble, then 4 half + 2 + nibble */
  uint16_t q6_shifts[2][32]; /* nibble: qh's bit pair 2 nibble (low 256 bits), 2 nibble + 1 (high) */
} constants = {
    {SPLAT64(0x0f)}, {SPLAT64(3)}, {SPLAT64(4)}, {SPLAT64(8)}, {SPLAT64(16)},
    {HALVES(1, 16), HALVES(2, 32), HALVES(4, 64), HALVES(8, 128)},
    {HALVES(1, 4), HALVES(2, 8), HALVES(16, 64), HALVES(32, 128)},
    {{SPLAT16(0), SPLAT16(2)}, {SPLAT16(4), SPLAT16(6)}},
};

static ALWAYS_INLINE __m512i constant(const void *vector) {
  __m512i v = _mm512_load_si512(vector);
  __asm__("" : "+v"(v));
  return v;
}

static ALWAYS_INLINE __m512i broadcast_256(const unsigned char *p) {
  return _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(const void *)p));
}

/* A block's u (IQ4_XS: |v|, with v < 0 in `negative`) in chunk order, and
   its 16 groups' scales (and Q4_K/Q5_K/Q2_K's mins) as int16 words. */
static ALWAYS_INLINE void unpack_block(g2_dtype dtype, const unsigned char *block, __m512i u[VECS],
                                       __mmask64 negative[VECS], __m256i *scales, __m256i *mins, __m512i abs_grid) {
  const __m512i low4 = constant(constants.low4), two_bits = constant(constants.two_bits);
  if (dtype == G2_DT_Q2_K || dtype == G2_DT_Q3_K || dtype == G2_DT_IQ4_XS) g2_k_small_scales_avx2(dtype, block, scales, mins);
  if (dtype == G2_DT_Q2_K || dtype == G2_DT_Q3_K) {
    __m512i bytes = _mm512_loadu_si512(block + (dtype == G2_DT_Q2_K ? 16 : 32));
    __m512i hmask = broadcast_256(block); /* Q3_K: bit v of its bytes for the low half, 4 + v for the high */
#pragma GCC unroll 4
    for (int v = 0; v < VECS; v++) {
      u[v] = _mm512_and_si512(_mm512_srli_epi16(bytes, 2 * v), two_bits);
      if (dtype == G2_DT_Q3_K)
        u[v] = _mm512_mask_add_epi8(u[v], _mm512_test_epi8_mask(hmask, constant(constants.q3_bits[v])), u[v],
                                    constant(constants.four));
    }
  } else if (dtype == G2_DT_IQ4_XS) {
#pragma GCC unroll 2
    for (int half = 0; half < 2; half++) {
      __m512i bytes = _mm512_loadu_si512(block + 8 + 64 * half);
      __m512i index[2] = {_mm512_and_si512(bytes, low4), _mm512_and_si512(_mm512_srli_epi16(bytes, 4), low4)};
#pragma GCC unroll 2
      for (int nibble = 0; nibble < 2; nibble++) {
        u[2 * half + nibble] = _mm512_shuffle_epi8(abs_grid, index[nibble]);
        negative[2 * half + nibble] = _mm512_testn_epi8_mask(index[nibble], constant(constants.eight)); /* grid[0..7] < 0 */
      }
    }
  } else if (dtype == G2_DT_Q6_K) {
    /* vector 2 half + nibble: values 128 half + 64 nibble.., the 4 low bits
       from ql's nibble, the 2 high from qh's bit pair 2 nibble (low 256
       bits) or 2 nibble + 1 (high) */
#pragma GCC unroll 2
    for (int half = 0; half < 2; half++) {
      __m512i ql = _mm512_loadu_si512(block + 64 * half), qh = broadcast_256(block + 128 + 32 * half);
#pragma GCC unroll 2
      for (int nibble = 0; nibble < 2; nibble++) {
        __m512i low = _mm512_and_si512(nibble ? _mm512_srli_epi16(ql, 4) : ql, low4);
        __m512i high = _mm512_and_si512(_mm512_srlv_epi16(qh, constant(constants.q6_shifts[nibble])), two_bits);
        u[2 * half + nibble] = _mm512_or_si512(low, _mm512_slli_epi16(high, 4));
      }
    }
    *scales = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(const void *)(block + 192)));
  } else {
    int five_bits = dtype == G2_DT_Q5_K;
    __m512i qh = five_bits ? broadcast_256(block + 16) : _mm512_setzero_si512();
#pragma GCC unroll 2
    for (int half = 0; half < 2; half++) { /* runs 2 half and 2 half + 1 */
      __m512i bytes = _mm512_loadu_si512(block + (five_bits ? 48 : 16) + 64 * half);
      u[2 * half] = _mm512_and_si512(bytes, low4);
      u[2 * half + 1] = _mm512_and_si512(_mm512_srli_epi16(bytes, 4), low4);
      if (five_bits) /* run r's fifth bits: bit 2 r of qh (low nibbles), 2 r + 1 (high) */
#pragma GCC unroll 2
        for (int nibble = 0; nibble < 2; nibble++) {
          __mmask64 set = _mm512_test_epi8_mask(qh, constant(constants.q5_bits[2 * half + nibble]));
          u[2 * half + nibble] = _mm512_mask_add_epi8(u[2 * half + nibble], set, u[2 * half + nibble],
                                                      constant(constants.sixteen));
        }
    }
    __m128i scale_bytes, min_bytes;
    g2_k_scales_mins(block, &scale_bytes, &min_bytes);
    *scales = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(scale_bytes, scale_bytes));
    *mins = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(min_bytes, min_bytes));
  }
}

/* One row's block against the token's: S's parts in 16 lanes less the
   offset term (Q6_K, Q3_K), or for types with mins S's parts folded to
   lanes 0..7 and M's in 8..15. */
static ALWAYS_INLINE __m512i row_block(g2_dtype dtype, const unsigned char *block, const int8_t *q,
                                       const int16_t *sums, const __m512i scale_index[VECS], __m512i abs_grid) {
  __m512i u[VECS];
  __mmask64 negative[VECS];
  __m256i scales, mins = _mm256_setzero_si256();
  unpack_block(dtype, block, u, negative, &scales, &mins, abs_grid);
  __m512i scales_512 = _mm512_castsi256_si512(scales), acc = _mm512_setzero_si512();
#pragma GCC unroll 4
  for (int v = 0; v < VECS; v++) {
    __m512i qv = _mm512_load_si512(q + 64 * v);
    if (dtype == G2_DT_IQ4_XS) qv = _mm512_mask_sub_epi8(qv, negative[v], _mm512_setzero_si512(), qv);
    __m512i pairs = _mm512_maddubs_epi16(u[v], qv);
    acc = _mm512_dpwssd_epi32(acc, pairs, _mm512_permutexvar_epi16(scale_index[v], scales_512));
  }
  __m256i s = _mm256_loadu_si256((const __m256i *)(const void *)sums);
  if (g2_kq8_has_mins(dtype)) {
    __m256i folded = _mm256_add_epi32(_mm512_castsi512_si256(acc), _mm512_extracti64x4_epi64(acc, 1));
    return _mm512_inserti64x4(_mm512_castsi256_si512(folded), _mm256_madd_epi16(mins, s), 1);
  }
  if (dtype == G2_DT_Q6_K || dtype == G2_DT_Q3_K) {
    __m256i offsets = _mm256_slli_epi32(_mm256_madd_epi16(scales, s), dtype == G2_DT_Q6_K ? 5 : 2);
    acc = _mm512_sub_epi32(acc, _mm512_zextsi256_si512(offsets));
  }
  return acc;
}

/* Levels 1 and 2 of the tree: out[i], 128-bit lane k, 32-bit lane r =
   the sum of 128-bit lane k of in[4 i + r]. */
static ALWAYS_INLINE void reduce_rows(const __m512i in[ROWS], __m512i out[ROWS / 4]) {
  for (int i = 0; i < ROWS / 4; i++) {
    const __m512i *v = in + 4 * i;
    __m512i ab = _mm512_add_epi32(_mm512_unpacklo_epi32(v[0], v[1]), _mm512_unpackhi_epi32(v[0], v[1]));
    __m512i cd = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2], v[3]), _mm512_unpackhi_epi32(v[2], v[3]));
    out[i] = _mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd));
  }
}

/* The 16 rows' S (and M) of one block from their partial vectors: lane r
   for row r. */
static ALWAYS_INLINE void block_sums(g2_dtype dtype, const __m512i partial[ROWS], __m512i *s, __m512i *m) {
  __m512i rows4[ROWS / 4], pairs[2];
  reduce_rows(partial, rows4);
  if (g2_kq8_has_mins(dtype)) { /* 128-bit lanes 0-1 hold S's parts, 2-3 M's */
    for (int i = 0; i < 2; i++) /* pairs[i]: S, M of rows4[2 i], then S, M of rows4[2 i + 1] */
      pairs[i] = _mm512_add_epi32(_mm512_shuffle_i32x4(rows4[2 * i], rows4[2 * i + 1], _MM_SHUFFLE(2, 0, 2, 0)),
                                  _mm512_shuffle_i32x4(rows4[2 * i], rows4[2 * i + 1], _MM_SHUFFLE(3, 1, 3, 1)));
    *s = _mm512_shuffle_i32x4(pairs[0], pairs[1], _MM_SHUFFLE(2, 0, 2, 0));
    *m = _mm512_shuffle_i32x4(pairs[0], pairs[1], _MM_SHUFFLE(3, 1, 3, 1));
    return;
  }
  for (int i = 0; i < 2; i++) /* pairs[i]: rows4[2 i]'s lanes 0+2, 1+3, then rows4[2 i + 1]'s */
    pairs[i] = _mm512_add_epi32(_mm512_shuffle_i32x4(rows4[2 * i], rows4[2 * i + 1], _MM_SHUFFLE(1, 0, 1, 0)),
                                _mm512_shuffle_i32x4(rows4[2 * i], rows4[2 * i + 1], _MM_SHUFFLE(3, 2, 3, 2)));
  *s = _mm512_add_epi32(_mm512_shuffle_i32x4(pairs[0], pairs[1], _MM_SHUFFLE(2, 0, 2, 0)),
                        _mm512_shuffle_i32x4(pairs[0], pairs[1], _MM_SHUFFLE(3, 1, 3, 1)));
  *m = _mm512_setzero_si512();
}

static ALWAYS_INLINE void prefetch_block(g2_dtype dtype, const unsigned char *block) {
  for (size_t at = 0; at < g2_kq8_block_bytes(dtype); at += 64) __builtin_prefetch(block + at + G2_PREFETCH_BYTES, 0, 2);
}

static ALWAYS_INLINE void kq8_token(g2_dtype dtype, const g2_matrix *w, const float *x, const float *bias,
                                    float *out, size_t col_begin, size_t col_end, token_work *tw) {
  size_t n_in = (size_t)w->n_in, n_blocks = n_in / G2_QK_K;
  size_t block_bytes = g2_kq8_block_bytes(dtype), row_bytes = n_blocks * block_bytes;
  if (!g2_work_tokens_kept((g2_work *)(void *)tw, 1, 1)) quantize_token(dtype, x, n_in, tw);
  const uint8_t *order = chunk_order(dtype);
  __m512i scale_index[VECS]; /* word k of vector v: the group of the chunk that pair k belongs to */
  for (int v = 0; v < VECS; v++) {
    _Alignas(64) uint16_t index[32];
    for (int k = 0; k < 32; k++) index[k] = order[4 * v + k / 8];
    scale_index[v] = _mm512_load_si512(index);
  }
  const __m512i abs_grid =
      _mm512_abs_epi8(_mm512_broadcast_i32x4(_mm_loadu_si128((const __m128i *)(const void *)g2_iq4_grid)));
  int d_high = g2_kq8_d_in_high_half(dtype);
  size_t d_word = g2_kq8_d_word(dtype);
  for (size_t j0 = col_begin; j0 < col_end; j0 += ROWS) {
    size_t n_rows = col_end - j0 < ROWS ? col_end - j0 : ROWS;
    const unsigned char *rows = (const unsigned char *)w->data + j0 * row_bytes;
    for (size_t r = 0; r < ROWS; r++)
      for (size_t b = 0; b < n_blocks; b++) {
        if (r >= n_rows) { /* a part group: the missing rows' lanes are computed from zeros, never stored */
          tw->partial[b][r] = _mm512_setzero_si512();
          continue;
        }
        const unsigned char *block = rows + r * row_bytes + b * block_bytes;
        prefetch_block(dtype, block);
        tw->partial[b][r] =
            row_block(dtype, block, tw->q + b * G2_QK_K, tw->sums + b * CHUNKS, scale_index, abs_grid);
      }
    __m512i offsets = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                         _mm512_set1_epi32((int)row_bytes));
    offsets = _mm512_min_epi32(offsets, _mm512_set1_epi32((int)((n_rows - 1) * row_bytes))); /* missing rows: the last */
    __m512 chain = _mm512_setzero_ps();
    for (size_t b = 0; b < n_blocks; b++) {
      __m512i s, m;
      block_sums(dtype, tw->partial[b], &s, &m);
      __m512i words = _mm512_i32gather_epi32(offsets, rows + b * block_bytes + d_word, 1);
      __m512 d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(d_high ? _mm512_srli_epi32(words, 16) : words));
      __m512 d_x = _mm512_set1_ps(tw->d[b]);
      chain = _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(d, d_x), chain);
      if (g2_kq8_has_mins(dtype)) {
        __m512 dmin = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(words, 16)));
        chain = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_setzero_si512(), m)),
                                _mm512_mul_ps(dmin, d_x), chain);
      }
    }
    __mmask16 valid = (__mmask16)((1u << n_rows) - 1);
    __m512 bias_v = bias ? _mm512_maskz_loadu_ps(valid, bias + j0) : _mm512_setzero_ps();
    _mm512_mask_storeu_ps(out + j0, valid, _mm512_add_ps(chain, bias_v));
  }
}

#define KQ8_TOKEN(name, dtype)                                                                               \
  static void name(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,     \
                   float *out, size_t out_stride, size_t col_begin, size_t col_end, void *work) {            \
    (void)n_tok;                                                                                             \
    (void)x_stride;                                                                                          \
    (void)out_stride;                                                                                        \
    kq8_token(dtype, w, x, bias, out, col_begin, col_end, work);                                             \
  }
KQ8_TOKEN(kq8_token_q6_k, G2_DT_Q6_K)
KQ8_TOKEN(kq8_token_q4_k, G2_DT_Q4_K)
KQ8_TOKEN(kq8_token_q5_k, G2_DT_Q5_K)
KQ8_TOKEN(kq8_token_q2_k, G2_DT_Q2_K)
KQ8_TOKEN(kq8_token_q3_k, G2_DT_Q3_K)
KQ8_TOKEN(kq8_token_iq4_xs, G2_DT_IQ4_XS)

g2_matmul_fn g2_kq8_vnni_token_matmul(g2_dtype dtype) {
  switch (dtype) {
    case G2_DT_Q6_K: return kq8_token_q6_k;
    case G2_DT_Q4_K: return kq8_token_q4_k;
    case G2_DT_Q5_K: return kq8_token_q5_k;
    case G2_DT_Q2_K: return kq8_token_q2_k;
    case G2_DT_Q3_K: return kq8_token_q3_k;
    default: return kq8_token_iq4_xs;
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else
typedef int g2_kquant_int8_token_avx512_not_built; /* ISO C wants a declaration in every file */
#endif
