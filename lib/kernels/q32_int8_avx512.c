/* Q4_1, Q5_0, Q5_1 and IQ4_NL batches by vpdpbusd (AVX512-VNNI), to the
   bits of the oracle in q32_int8_ref.c (definition in kernels/q32_int8.h).

   16 rows are unpacked once per block of tokens into a panel whose lane r
   holds row r's codes as unsigned bytes, 4 values of a block per vector (8
   vectors a block), with the rows' F16 scales and mins as floats: Q4_1/
   Q5_1/Q5_0 the codes u, IQ4_NL T[u] + 128. A broadcast 4-byte group of a
   token's activations meets the 16 rows in one vpdpbusd, and 8 of them
   give the 16 rows' block sums without any reduction; the offsets come
   off exactly with the activations' block sums (I_b = dot - 16 s_b for
   Q5_0, dot - 128 s_b for IQ4_NL). The float steps are the definition's,
   16 rows in the lanes, so tiles of TILE_TOKS tokens give each token's
   one-token bits.

   One token: 8 rows in the stored layout, 4 blocks a step. Block k's 16
   code bytes are loaded into 128-bit lane k, whose low nibbles meet the
   block's first 16 activations and high nibbles its last 16, so no code
   moves; Q5_0/Q5_1's fifth bits become two 64-bit byte masks, by pext
   from the 4 blocks' qh words. The offsets start in the accumulators, a
   tree of adds leaves one integer per (row, block), and each block's
   float step runs for the 8 rows at once, in block order (F16 scales
   gathered). Against pairs of blocks with the reduction per pair, one
   thread, from cache: Q4_1 12.5 -> 18.3 GB/s, Q5_0 16.7 -> 17.4, Q5_1
   12.1 -> 16.2, IQ4_NL 10.9 -> 18.7.

   Batches of fewer than BATCH_MIN_TOKS tokens or rows longer than the
   panel holds run the AVX2 kernel (q32_int8_avx2.c): the same definition,
   so the same bits. */
#if defined(__x86_64__)

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma,f16c,bmi2"))), apply_to = function)
#else
#pragma GCC target("avx512f,avx512bw,avx512dq,avx512vl,avx512vnni,avx2,fma,f16c,bmi2")
#endif

#include <immintrin.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/q32_int8.h"
#include "kernels/transpose_avx512.h"
#include "tensor/dequant.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

enum {
  BLOCK = 32,
  PANEL_ROWS = 16,
  TILE_TOKS = 6,
  /* Fewer tokens run the AVX2 kernel: packing a panel costs about what
     its 8-row passes over 4 tokens do. */
  BATCH_MIN_TOKS = 5,
  /* The panel (640 bytes a block) and, after it, the quantized
     activations of a block of tokens (1.25 bytes a value) share the work
     area: rows up to 5248 values (4096 and 5120, GPT-2 medium's and
     large's longest) leave room for at least X_MIN_BYTES of tokens. Each
     token block repacks the panel, so the more tokens the better: the
     whole rest of the area (768-value rows: 163 tokens; 3072: 28). */
  PANEL_MAX_BLOCKS = 164,
  X_MIN_BYTES = 60 * 1024
};

typedef struct panel_block {
  __m512i codes[8]; /* vector i, lane r: row r's unsigned codes 4i .. 4i+3 */
  __m512 d, m;      /* lane r: row r's scale and min (0 without one) */
} panel_block;
_Static_assert(PANEL_MAX_BLOCKS * sizeof(panel_block) + X_MIN_BYTES <= G2_KERNEL_WORK_BYTES,
               "q32_int8_avx512.c's buffers fit the work area");

/* The area's layout for rows of n_blocks blocks (the one-token path: the
   token's activations at offset 0). */
static panel_block *panel_at(g2_work *work) { return (panel_block *)(void *)work->area; }
static unsigned char *tokens_at(g2_work *work, size_t n_blocks) {
  return work->area + n_blocks * sizeof(panel_block);
}

static size_t token_bytes(size_t n_in) { return (n_in + n_in / BLOCK * 8 + 63) / 64 * 64; }

static ALWAYS_INLINE int has_min(g2_dtype dtype) { return dtype == G2_DT_Q4_1 || dtype == G2_DT_Q5_1; }
static ALWAYS_INLINE int five_bits(g2_dtype dtype) { return dtype == G2_DT_Q5_0 || dtype == G2_DT_Q5_1; }
static ALWAYS_INLINE int code_offset(g2_dtype dtype) {
  return dtype == G2_DT_Q5_0 ? 16 : dtype == G2_DT_IQ4_NL ? 128 : 0;
}

static ALWAYS_INLINE float half_at(const unsigned char *p) {
  uint16_t h;
  memcpy(&h, p, sizeof h);
  return _cvtsh_ss(h);
}

/* Step 1 for one token, in the layout q[n_in], d[n_in / 32], sums[n_in / 32]:
   g2_int8_quantize_row's bits (the same float division, clamp and
   round-to-nearest-even conversion), 32 values at a time. */
static void quantize_token(const float *x, size_t n_in, unsigned char *base) {
  size_t n_blocks = n_in / BLOCK;
  int8_t *q = (int8_t *)base;
  float *d = (float *)(void *)(base + n_in);
  int32_t *sums = (int32_t *)(void *)(base + n_in + 4 * n_blocks);
  const __m512 low = _mm512_set1_ps(-127.0f), high = _mm512_set1_ps(127.0f);
  for (size_t b = 0; b < n_blocks; b++) {
    __m512 x0 = _mm512_loadu_ps(x + b * BLOCK), x1 = _mm512_loadu_ps(x + b * BLOCK + 16);
    float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
    float scale = amax / 127.0f;
    __m512i q0 = _mm512_setzero_si512(), q1 = _mm512_setzero_si512();
    if (scale != 0.0f) {
      __m512 divisor = _mm512_set1_ps(scale);
      q0 = _mm512_cvt_roundps_epi32(_mm512_min_ps(_mm512_max_ps(_mm512_div_ps(x0, divisor), low), high),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
      q1 = _mm512_cvt_roundps_epi32(_mm512_min_ps(_mm512_max_ps(_mm512_div_ps(x1, divisor), low), high),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    }
    _mm_storeu_si128((__m128i *)(void *)(q + b * BLOCK), _mm512_cvtepi32_epi8(q0));
    _mm_storeu_si128((__m128i *)(void *)(q + b * BLOCK + 16), _mm512_cvtepi32_epi8(q1));
    d[b] = scale;
    sums[b] = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
  }
}

/* Where a block's qh word (Q5_*) and its 16 code bytes start. */
static ALWAYS_INLINE size_t qh_at(g2_dtype dtype) { return has_min(dtype) ? 4 : 2; }
static ALWAYS_INLINE size_t codes_at(g2_dtype dtype) { return qh_at(dtype) + (five_bits(dtype) ? 4 : 0); }

/* IQ4_NL's values T[u] + 128, the unsigned bytes vpdpbusd takes, for a
   vpshufb by u. */
static ALWAYS_INLINE __m128i iq4_grid_unsigned(void) {
  return _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)g2_iq4_grid), _mm_set1_epi8((char)0x80));
}

/* A block's 32 unsigned codes in activation order (IQ4_NL: T[u] + 128). */
static ALWAYS_INLINE __m256i block_codes(g2_dtype dtype, const unsigned char *block) {
  const unsigned char *qs = block + codes_at(dtype);
  __m256i bytes = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)qs));
  __m256i u = _mm256_and_si256(_mm256_srlv_epi32(bytes, _mm256_setr_epi32(0, 0, 0, 0, 4, 4, 4, 4)),
                               _mm256_set1_epi8(0x0f));
  if (five_bits(dtype)) {
    uint32_t qh;
    memcpy(&qh, block + qh_at(dtype), sizeof qh);
    u = _mm256_or_si256(u, _mm256_maskz_mov_epi8((__mmask32)qh, _mm256_set1_epi8(0x10)));
  }
  if (dtype == G2_DT_IQ4_NL) {
    u = _mm256_shuffle_epi8(_mm256_broadcastsi128_si256(iq4_grid_unsigned()), u);
  }
  return u;
}

/* Rows rows[0..16) (repeats allowed), blocks [0, n_blocks), into the
   panel: a pair of blocks of each row in one vector, 16 of them turned
   into lanes by a transpose of 32-bit lanes; the F16 scale and min (d, m:
   the block's first 32-bit word) gathered for the 16 rows. */
static void pack_panel(g2_dtype dtype, const unsigned char *const rows[PANEL_ROWS], size_t n_blocks,
                       size_t block_bytes, panel_block *panel) {
  int32_t offsets[PANEL_ROWS];
  for (int r = 0; r < PANEL_ROWS; r++) offsets[r] = (int32_t)(rows[r] - rows[0]);
  const __m512i index = _mm512_loadu_si512(offsets);
  for (size_t b = 0; b < n_blocks; b += 2) {
    int pair = b + 1 < n_blocks;
    __m512i in[PANEL_ROWS], lanes[PANEL_ROWS];
    for (int r = 0; r < PANEL_ROWS; r++) {
      const unsigned char *block = rows[r] + b * block_bytes;
      /* 16 short streams the hardware does not follow */
      __builtin_prefetch(block + G2_PREFETCH_BYTES, 0, 2);
      __m256i second = pair ? block_codes(dtype, block + block_bytes) : _mm256_setzero_si256();
      in[r] = _mm512_inserti64x4(_mm512_castsi256_si512(block_codes(dtype, block)), second, 1);
    }
    g2_transpose16_epi32(in, lanes);
    for (int h = 0; h <= pair; h++) {
      panel_block *out = &panel[b + (size_t)h];
      for (int i = 0; i < 8; i++) out->codes[i] = lanes[8 * h + i];
      __m512i words = _mm512_i32gather_epi32(index, rows[0] + (b + (size_t)h) * block_bytes, 1);
      out->d = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(words));
      out->m = has_min(dtype) ? _mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(words, 16))) : _mm512_setzero_ps();
    }
  }
}

/* nt tokens (a constant after inlining) against the panel: chains[t],
   lane r = row r . token t under the definition. */
static ALWAYS_INLINE void tile(g2_dtype dtype, int nt, const panel_block *panel, size_t n_blocks,
                               const unsigned char *x, size_t x_bytes, size_t n_in, __m512 chains[TILE_TOKS]) {
  const size_t n_x_blocks = n_in / BLOCK;
  for (int t = 0; t < nt; t++) chains[t] = _mm512_setzero_ps();
  for (size_t b = 0; b < n_blocks; b++) {
    __m512i acc[TILE_TOKS];
    for (int t = 0; t < nt; t++) acc[t] = _mm512_setzero_si512();
#pragma GCC unroll 8
    for (int i = 0; i < 8; i++) {
      __m512i codes = _mm512_load_si512(&panel[b].codes[i]);
#pragma GCC unroll 6
      for (int t = 0; t < nt; t++) {
        int32_t group;
        memcpy(&group, x + (size_t)t * x_bytes + b * BLOCK + 4 * i, sizeof group);
        acc[t] = _mm512_dpbusd_epi32(acc[t], codes, _mm512_set1_epi32(group));
      }
    }
#pragma GCC unroll 6
    for (int t = 0; t < nt; t++) {
      const unsigned char *xt = x + (size_t)t * x_bytes;
      float d_x;
      int32_t sum;
      memcpy(&d_x, xt + n_in + 4 * b, sizeof d_x);
      memcpy(&sum, xt + n_in + 4 * n_x_blocks + 4 * b, sizeof sum);
      __m512i isum = acc[t];
      if (code_offset(dtype)) isum = _mm512_sub_epi32(isum, _mm512_set1_epi32(code_offset(dtype) * sum));
      __m512 dx = _mm512_set1_ps(d_x);
      chains[t] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(panel[b].d, dx), chains[t]);
      if (has_min(dtype))
        chains[t] = _mm512_fmadd_ps(_mm512_set1_ps((float)sum), _mm512_mul_ps(panel[b].m, dx), chains[t]);
    }
  }
}

/* ---- one token: 8 rows, 4 blocks a step ---- */

/* Blocks 0 .. n - 1 from `first` of a row against the step's activations
   (x_low: 128-bit lane k holds block k's first 16 values, x_high its last
   16), from `init`: one block per 128-bit lane, its 16 code bytes loaded
   into their lane, the low nibbles meeting x_low and the high ones x_high,
   so no code moves. Lane k's 4 dwords add up to row . block k (+ init's). */
static ALWAYS_INLINE __m512i row_dots(g2_dtype dtype, int n, const unsigned char *first, size_t block_bytes,
                                      __m512i x_low, __m512i x_high, __m512i init) {
  size_t at = codes_at(dtype);
  const __m512i low4 = _mm512_set1_epi8(0x0f);
  __m512i nibbles = _mm512_zextsi128_si512(_mm_loadu_si128((const __m128i *)(const void *)(first + at)));
#define BLOCK_CODES(k) _mm_loadu_si128((const __m128i *)(const void *)(first + (k) * block_bytes + at))
  if (n > 1) nibbles = _mm512_inserti32x4(nibbles, BLOCK_CODES(1), 1);
  if (n > 2) nibbles = _mm512_inserti32x4(nibbles, BLOCK_CODES(2), 2);
  if (n > 3) nibbles = _mm512_inserti32x4(nibbles, BLOCK_CODES(3), 3);
#undef BLOCK_CODES
  __m512i low = _mm512_and_si512(nibbles, low4), high = _mm512_and_si512(_mm512_srli_epi16(nibbles, 4), low4);
  if (five_bits(dtype)) { /* bit i of block k's qh: bit 4 of byte 16 k + i % 16 of low (i < 16) or high */
    uint32_t qh[4] = {0, 0, 0, 0};
#pragma GCC unroll 4
    for (int k = 0; k < n; k++) memcpy(&qh[k], first + k * block_bytes + qh_at(dtype), sizeof qh[k]);
    uint64_t pair01 = qh[0] | (uint64_t)qh[1] << 32, pair23 = qh[2] | (uint64_t)qh[3] << 32;
    const uint64_t low_halves = 0x0000ffff0000ffffull, high_halves = ~low_halves;
    uint64_t low_bits = _pext_u64(pair01, low_halves) | _pext_u64(pair23, low_halves) << 32;
    uint64_t high_bits = _pext_u64(pair01, high_halves) | _pext_u64(pair23, high_halves) << 32;
    const __m512i sixteen = _mm512_set1_epi8(0x10);
    low = _mm512_or_si512(low, _mm512_maskz_mov_epi8((__mmask64)low_bits, sixteen));
    high = _mm512_or_si512(high, _mm512_maskz_mov_epi8((__mmask64)high_bits, sixteen));
  }
  if (dtype == G2_DT_IQ4_NL) {
    const __m512i grid = _mm512_broadcast_i32x4(iq4_grid_unsigned());
    low = _mm512_shuffle_epi8(grid, low);
    high = _mm512_shuffle_epi8(grid, high);
  }
  return _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(init, low, x_low), high, x_high);
}

/* a + b of the pairs (lanes 4k, 4k+2) and (4k+1, 4k+3) within 128 bits. */
static ALWAYS_INLINE __m512i add_pairs32(__m512i a, __m512i b) {
  return _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
}
static ALWAYS_INLINE __m512i add_pairs64(__m512i a, __m512i b) {
  return _mm512_add_epi32(_mm512_unpacklo_epi64(a, b), _mm512_unpackhi_epi64(a, b));
}

/* dots[r]: row r's partial sums, 128-bit lane k from block k. pairs[p],
   lane 8 h + r: row r's sum over block 2 p + h. */
static ALWAYS_INLINE void reduce_rows(const __m512i dots[8], __m512i pairs[2]) {
  __m512i low = add_pairs64(add_pairs32(dots[0], dots[1]), add_pairs32(dots[2], dots[3])); /* lane 4k + r */
  __m512i high = add_pairs64(add_pairs32(dots[4], dots[5]), add_pairs32(dots[6], dots[7])); /* 4k + r - 4 */
  pairs[0] = _mm512_permutex2var_epi64(low, _mm512_setr_epi64(0, 1, 8, 9, 2, 3, 10, 11), high);
  pairs[1] = _mm512_permutex2var_epi64(low, _mm512_setr_epi64(4, 5, 12, 13, 6, 7, 14, 15), high);
}

/* Blocks b .. b + n - 1 (1 <= n <= 4) of 8 rows into the chain (lane r:
   row r), each block's step in order. `where`: lane 8 h + r, row r's
   offset from rows[0] plus h blocks. */
static ALWAYS_INLINE void step(g2_dtype dtype, int n, const unsigned char *const rows[8], size_t b,
                               size_t block_bytes, const int8_t *q, const float *d, const int32_t *sums,
                               __m512i where, __m256 *chain) {
  for (size_t at = 0; at < 32 * block_bytes; at += 64) /* the 8 rows' run, as one stream */
    __builtin_prefetch(rows[0] + G2_PREFETCH_BYTES + b * 8 * block_bytes + at, 0, 2);
  __m512i x01 = _mm512_maskz_loadu_epi8(n >= 2 ? ~0ull : 0xffffffffull, q + b * BLOCK);
  __m512i x23 = _mm512_maskz_loadu_epi8(n == 4 ? ~0ull : n == 3 ? 0xffffffffull : 0, q + b * BLOCK + 64);
  __m512i x_low = _mm512_shuffle_i64x2(x01, x23, 0x88), x_high = _mm512_shuffle_i64x2(x01, x23, 0xdd);
  __mmask8 blocks = (__mmask8)((1u << n) - 1);
  __m512i block_sums = _mm512_castsi128_si512(_mm_maskz_loadu_epi32(blocks, sums + b));
  __m512i init = _mm512_setzero_si512(); /* - offset s_k in dword 0 of lane k */
  if (code_offset(dtype)) {
    const __m512i lane_block = _mm512_setr_epi32(0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0);
    init = _mm512_sub_epi32(init, _mm512_maskz_permutexvar_epi32((__mmask16)0x1111, lane_block,
                                                                 _mm512_mullo_epi32(block_sums, _mm512_set1_epi32(code_offset(dtype)))));
  }
  __m512i dots[8];
#pragma GCC unroll 8
  for (int r = 0; r < 8; r++) dots[r] = row_dots(dtype, n, rows[r] + b * block_bytes, block_bytes, x_low, x_high, init);
  __m512i pairs[2];
  reduce_rows(dots, pairs);
  __m512 d_x4 = _mm512_castps128_ps512(_mm_maskz_loadu_ps(blocks, d + b));
  __m512 s4 = _mm512_cvtepi32_ps(block_sums);
  for (int h = 0; 2 * h < n; h++) {
    const __m512i pair_lanes = _mm512_setr_epi32(2 * h, 2 * h, 2 * h, 2 * h, 2 * h, 2 * h, 2 * h, 2 * h, 2 * h + 1,
                                                 2 * h + 1, 2 * h + 1, 2 * h + 1, 2 * h + 1, 2 * h + 1, 2 * h + 1, 2 * h + 1);
    int lone = 2 * h + 1 == n;
    __m512i halves = _mm512_mask_i32gather_epi32(_mm512_setzero_si512(), lone ? (__mmask16)0xff : (__mmask16)0xffff,
                                                 where, rows[0] + (b + 2 * (size_t)h) * block_bytes, 1);
    __m512 d_x = _mm512_permutexvar_ps(pair_lanes, d_x4);
    __m512 scales = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_cvtepi32_epi16(halves)), d_x);
    __m512 terms = _mm512_cvtepi32_ps(pairs[h]);
    __m512 min_scales = _mm512_setzero_ps(), s = _mm512_setzero_ps();
    if (has_min(dtype)) {
      min_scales = _mm512_mul_ps(_mm512_cvtph_ps(_mm512_cvtepi32_epi16(_mm512_srli_epi32(halves, 16))), d_x);
      s = _mm512_permutexvar_ps(pair_lanes, s4);
    }
    *chain = _mm256_fmadd_ps(_mm512_castps512_ps256(terms), _mm512_castps512_ps256(scales), *chain);
    if (has_min(dtype))
      *chain = _mm256_fmadd_ps(_mm512_castps512_ps256(s), _mm512_castps512_ps256(min_scales), *chain);
    if (lone) break;
    *chain = _mm256_fmadd_ps(_mm512_extractf32x8_ps(terms, 1), _mm512_extractf32x8_ps(scales, 1), *chain);
    if (has_min(dtype))
      *chain = _mm256_fmadd_ps(_mm512_extractf32x8_ps(s, 1), _mm512_extractf32x8_ps(min_scales, 1), *chain);
  }
}

/* Lane r of the result = row r . token (q, d, sums) under the definition. */
static ALWAYS_INLINE __m256 rows_dot(g2_dtype dtype, const unsigned char *const rows[8], size_t n_blocks,
                                     size_t block_bytes, const int8_t *q, const float *d, const int32_t *sums) {
  int32_t offsets[16];
  for (int h = 0; h < 2; h++)
    for (int r = 0; r < 8; r++) offsets[8 * h + r] = (int32_t)(rows[r] - rows[0]) + h * (int32_t)block_bytes;
  const __m512i where = _mm512_loadu_si512(offsets);
  __m256 chain = _mm256_setzero_ps();
  size_t b = 0;
  for (; b + 4 <= n_blocks; b += 4) step(dtype, 4, rows, b, block_bytes, q, d, sums, where, &chain);
  switch (n_blocks - b) {
    case 3: step(dtype, 3, rows, b, block_bytes, q, d, sums, where, &chain); break;
    case 2: step(dtype, 2, rows, b, block_bytes, q, d, sums, where, &chain); break;
    case 1: step(dtype, 1, rows, b, block_bytes, q, d, sums, where, &chain); break;
    default: break;
  }
  return chain;
}

static ALWAYS_INLINE void q32_vnni_one_token(g2_dtype dtype, const g2_matrix *w, const float *x, const float *bias,
                                             float *out, size_t col_begin, size_t col_end, g2_work *work) {
  size_t n_in = (size_t)w->n_in, n_blocks = n_in / BLOCK;
  size_t row_bytes = g2_dtype_row_bytes(dtype, w->n_in), block_bytes = g2_dtype_row_bytes(dtype, BLOCK);
  if (!g2_work_tokens_kept(work, 1, 1)) quantize_token(x, n_in, work->area);
  const int8_t *q = (const int8_t *)work->area;
  const float *d = (const float *)(const void *)(work->area + n_in);
  const int32_t *sums = (const int32_t *)(const void *)(work->area + n_in + 4 * n_blocks);
  for (size_t j0 = col_begin; j0 < col_end; j0 += 8) {
    size_t n_rows = col_end - j0 < 8 ? col_end - j0 : 8;
    const unsigned char *rows[8];
    for (size_t r = 0; r < 8; r++) /* missing rows repeat the last */
      rows[r] = (const unsigned char *)w->data + (j0 + (r < n_rows ? r : n_rows - 1)) * row_bytes;
    __m256 chain = rows_dot(dtype, rows, n_blocks, block_bytes, q, d, sums);
    __mmask8 valid = (__mmask8)((1u << n_rows) - 1);
    __m256 b = bias ? _mm256_maskz_loadu_ps(valid, bias + j0) : _mm256_setzero_ps();
    _mm256_mask_storeu_ps(out + j0, valid, _mm256_add_ps(chain, b));
  }
}

/* ---- batches ---- */

static ALWAYS_INLINE void q32_vnni_matmul(g2_dtype dtype, const g2_matrix *w, const float *x, size_t n_tok,
                                          size_t x_stride, const float *bias, float *out, size_t out_stride,
                                          size_t col_begin, size_t col_end, g2_work *work) {
  size_t n_in = (size_t)w->n_in, n_blocks = n_in / BLOCK, x_bytes = token_bytes(n_in);
  if (n_tok == 1) {
    q32_vnni_one_token(dtype, w, x, bias, out, col_begin, col_end, work);
    return;
  }
  if (n_tok < BATCH_MIN_TOKS || n_blocks > PANEL_MAX_BLOCKS) {
    g2_q32_matmul_for(w, 1)(w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end, work);
    return;
  }
  size_t row_bytes = g2_dtype_row_bytes(dtype, w->n_in), block_bytes = g2_dtype_row_bytes(dtype, BLOCK);
  panel_block *panel = panel_at(work);
  unsigned char *tokens = tokens_at(work, n_blocks);
  size_t token_block = (size_t)(work->area + G2_KERNEL_WORK_BYTES - tokens) / x_bytes; /* >= 1: X_MIN_BYTES */
  for (size_t t0 = 0; t0 < n_tok; t0 += token_block) {
    size_t t_end = n_tok - t0 < token_block ? n_tok : t0 + token_block;
    if (!g2_work_tokens_kept(work, n_tok, token_block))
      for (size_t t = t0; t < t_end; t++) quantize_token(x + t * x_stride, n_in, tokens + (t - t0) * x_bytes);
    for (size_t j0 = col_begin; j0 < col_end; j0 += PANEL_ROWS) {
      size_t n_rows = col_end - j0 < PANEL_ROWS ? col_end - j0 : PANEL_ROWS;
      const unsigned char *rows[PANEL_ROWS];
      for (size_t r = 0; r < PANEL_ROWS; r++) /* missing rows repeat the last */
        rows[r] = (const unsigned char *)w->data + (j0 + (r < n_rows ? r : n_rows - 1)) * row_bytes;
      pack_panel(dtype, rows, n_blocks, block_bytes, panel);
      __mmask16 valid = (__mmask16)((1u << n_rows) - 1);
      __m512 b = bias ? _mm512_maskz_loadu_ps(valid, bias + j0) : _mm512_setzero_ps();
      for (size_t t = t0; t < t_end;) {
        size_t nt = t_end - t < TILE_TOKS ? t_end - t : TILE_TOKS;
        const unsigned char *xt = tokens + (t - t0) * x_bytes;
        __m512 chains[TILE_TOKS];
        switch (nt) {
          case 6: tile(dtype, 6, panel, n_blocks, xt, x_bytes, n_in, chains); break;
          case 5: tile(dtype, 5, panel, n_blocks, xt, x_bytes, n_in, chains); break;
          case 4: tile(dtype, 4, panel, n_blocks, xt, x_bytes, n_in, chains); break;
          case 3: tile(dtype, 3, panel, n_blocks, xt, x_bytes, n_in, chains); break;
          case 2: tile(dtype, 2, panel, n_blocks, xt, x_bytes, n_in, chains); break;
          default: tile(dtype, 1, panel, n_blocks, xt, x_bytes, n_in, chains); break;
        }
        for (size_t i = 0; i < nt; i++)
          _mm512_mask_storeu_ps(out + (t + i) * out_stride + j0, valid, _mm512_add_ps(chains[i], b));
        t += nt;
      }
    }
  }
}

#define Q32_VNNI_MATMUL(name, dtype)                                                                         \
  static void name(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride, const float *bias,     \
                   float *out, size_t out_stride, size_t col_begin, size_t col_end, void *work) {            \
    q32_vnni_matmul(dtype, w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end, work);          \
  }
Q32_VNNI_MATMUL(q32_vnni_q4_1, G2_DT_Q4_1)
Q32_VNNI_MATMUL(q32_vnni_q5_0, G2_DT_Q5_0)
Q32_VNNI_MATMUL(q32_vnni_q5_1, G2_DT_Q5_1)
Q32_VNNI_MATMUL(q32_vnni_iq4_nl, G2_DT_IQ4_NL)

/* One token and batches alike (n_tok chooses the path inside). */
g2_matmul_fn g2_q32_vnni_matmul_for(const g2_matrix *w, int many) {
  (void)many;
  if (!g2_q32_supported(w)) return NULL;
  switch (w->dtype) {
    case G2_DT_Q4_1: return q32_vnni_q4_1;
    case G2_DT_Q5_0: return q32_vnni_q5_0;
    case G2_DT_Q5_1: return q32_vnni_q5_1;
    default: return q32_vnni_iq4_nl;
  }
}

#if defined(__clang__)
#pragma clang attribute pop
#endif

#else
typedef int g2_q32_int8_avx512_not_built; /* ISO C wants a declaration in every file */
#endif
