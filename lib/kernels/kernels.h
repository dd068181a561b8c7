/* The kernel tables: every numeric inner loop of the forward pass, per
   instruction set. `scalar` (kernels/ref.c) is the oracle that the FP32
   tables are tested against; the tables that round activations have their
   own scalar oracles (int8_ref.c, bf16_ref.c). The list of tables, their
   order of preference and what each is made of is in one place:
   `tables` in kernels/dispatch.c. A table is chosen once per model and the
   matmul for each matrix once per context (g2_kernels_matmul); there is
   no global state.

   Determinism rule for every implementation: the value of an output element
   must not depend on how the caller splits the work (column ranges, token
   counts, thread counts). Reductions run in an order fixed by the element's
   own index only.

   Stack: a kernel keeps at most G2_KERNEL_STACK_BYTES of its own on the
   stack (register tiles, a block's unpacked values); every larger buffer
   is in the caller's `work` area (g2_work: G2_KERNEL_WORK_BYTES, 64-byte
   aligned, one per thread), so the library runs on small thread stacks
   (tests/unit/test_stack.c evaluates from 64 KiB ones). */
#ifndef G2_KERNELS_H
#define G2_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "core/cpu.h"
#include "tensor/matrix.h"

enum {
  /* Per-thread work area of a matmul call; each kernel file checks its own
     needs against it with a static assertion. The panel kernels fill what
     their panel leaves with quantized tokens and repack the panel for each
     such block of tokens: 512 KiB holds a whole token slice of the forward
     pass (64 tokens) of int16 tokens of a row of 3072 beside a Q8_0 panel,
     so each slice packs each panel once (256 KiB: 30 tokens, three packs;
     AVX2 pp512 Q8_0 +5%, IQ4_XS +4%; docs/kernels.md). The L2 of the CPUs
     of the last years (512 KiB and more) holds it; where it does not, the
     tiles stream the tokens from L3 in order. */
  G2_KERNEL_WORK_BYTES = 512 * 1024,
  /* What one kernel call may use of the stack, its callees included:
     register tiles that the compiler spills (gcc 12 -O2 -fstack-usage:
     3.9 KiB at most, avx512 NK tiles under matmul_nk; attention 3.4 KiB). */
  G2_KERNEL_STACK_BYTES = 8 * 1024,
  /* Bytes ahead in a weight stream that the one-token paths prefetch into
     L2 (from the next rows when past the end of one: they come next). Into
     L2 and 16 KiB ahead measured 1.3-1.8x the tok/s of L1 prefetches 4 KiB
     ahead (Zen 4, one thread): the streams run at the memory's bandwidth. */
  G2_PREFETCH_BYTES = 16384
};

/* How far ahead a one-token kernel that reads `rows` contiguous rows of
   `row_bytes` side by side prefetches each row: a whole number of such
   groups, at least G2_PREFETCH_BYTES, so that each row's prefetch lands on
   the same row of a later group and every line is prefetched once, in the
   order it is read. A fixed distance lands inside the group being read
   when a group is longer (XL's rows of 6400: 16 KiB is 2.4 rows of Q8_0)
   and leaves lines out at each group's start when it is not a multiple
   of it (XL Q8_0 generation, 2 threads: 68-70% -> 82-85% of the read
   bandwidth). */
static inline size_t g2_prefetch_ahead(size_t rows, size_t row_bytes) {
  size_t group = rows * row_bytes;
  return group == 0 ? G2_PREFETCH_BYTES : (G2_PREFETCH_BYTES + group - 1) / group * group;
}

/* A thread's work area for matmuls: the kernels' buffers, then a mark of
   what they hold. The caller sets `kept` to 0 before a product's first
   column slice on the thread (g2_matmul does, for a whole product); a
   kernel may set it nonzero to find what it derived from x (quantized
   activations) in `area` again in the same product's later slices. */
typedef struct g2_work {
  _Alignas(64) unsigned char area[G2_KERNEL_WORK_BYTES];
  uint64_t kept;
} g2_work;

/* For kernels that quantize a product's tokens into their area, a block of
   token_block at a time: whether an earlier slice of the product on this
   thread left all n_tok of them there; if not, marks them kept for the
   later slices when they fit one block (the caller then quantizes). */
static inline int g2_work_tokens_kept(g2_work *work, size_t n_tok, size_t token_block) {
  if (work->kept) return 1;
  work->kept = n_tok <= token_block;
  return 0;
}

/* out[t*out_stride + j] = bias[j] + sum_k x[t*x_stride + k] * W(j, k)
   for t in [0, n_tok), j in [col_begin, col_end). bias may be NULL. `work`
   is a g2_work (its area at offset 0, 64-byte aligned) that no other
   thread uses during the call. */
typedef void (*g2_matmul_fn)(const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride,
                             const float *bias, float *out, size_t out_stride, size_t col_begin,
                             size_t col_end, void *work);

/* One instruction set's matmul for w, for one token (many = 0: called with
   n_tok = 1 only) or for batches (many = 1: any n_tok), or NULL if it does
   not take this matrix (type, layout or size).

   Small batches (generating several sequences: n_tok of 2 to about 16) are
   chosen inside the batch function by n_tok, not by the plan: below a
   per-file threshold (KN_FEW_TOKS and NK_TOKS in generic_simd.h, FEW_TOKS
   in avx512bf16.c, BATCH_MIN_TOKS in int8_avx512.c, q32_int8_avx512.c and
   kquant_int8_avx512.c)
   the weights stream once from memory through a loop carrying every token's
   sums,
   with no packing; above it they are packed once per call and swept by
   register tiles (int8_avx512.c streams them up to LANES_MAX_TOKS too,
   with the tokens in the vector lanes). Every path computes each element
   with the same chain, so the choice never changes a bit. */
typedef g2_matmul_fn (*g2_matmul_finder)(const g2_matrix *w, int many);

/* The kernels other than matmul. */
typedef struct g2_vector_kernels {
  /* out[0..n) = (x - mean) / sqrt(var + eps) * gamma + beta, mean and
     variance over x[0..n). */
  void (*layernorm)(const float *x, size_t n, const float *gamma, const float *beta, float eps,
                    float *out);

  /* x = 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), in place. */
  void (*gelu)(float *x, size_t n);

  /* dst[i] += src[i]. */
  void (*add)(float *dst, const float *src, size_t n);

  /* One head, a block of n_q >= 1 consecutive queries, causal: query i
     (q + i * q_stride) attends to the cached positions p in [0, n_kv + i),
       out[i * out_stride + 0..head_dim) = softmax(q_i . k_p * scale) . v_p.
     k and v point at the head's first element of position 0, with
     positions kv_stride elements apart, in kv_type (GPT2_KV_F32 or
     GPT2_KV_F16). scratch holds n_q * (n_kv + n_q - 1) floats. Every
     output has the same bits as a call for its query alone (n_q = 1,
     n_kv + i): a block only shares the loads of K and V rows. */
  void (*attention)(const float *q, size_t q_stride, size_t n_q, const void *k, const void *v,
                    uint32_t kv_type, size_t n_kv, size_t head_dim, size_t kv_stride, float scale,
                    float *scratch, float *out, size_t out_stride);

  /* Row `row` of an NK matrix, dequantized to n_in floats (embeddings). */
  void (*get_row)(const g2_matrix *w, int64_t row, float *out);
} g2_vector_kernels;

enum { G2_MAX_FINDERS = 8 };

typedef struct g2_kernels {
  const char *name; /* "scalar", "avx2", "avx512", "avx512vnni", "avx512bf16", "avx2int8", "neondot",
                       "neon" */
  /* Nonzero: some products round the activations below FP32 (faster, less
     exact); gpt2_load_params.fp32_products = 1 excludes such tables. */
  int rounds_activations;
  /* Whether a CPU with these features runs the table. */
  int (*supported)(const g2_cpu_features *cpu);
  const g2_vector_kernels *vec;
  /* Asked in order; the first that takes a matrix gives its matmul. The
     last is always the scalar one, which takes every matrix. */
  g2_matmul_finder matmul_finders[G2_MAX_FINDERS];
  /* Whether the default choice takes the table on a CPU that runs it
     (NULL: always); GPT2_ISA may name it regardless. */
  int (*preferred)(const g2_cpu_features *cpu);
} g2_kernels;

/* The matmul of table k for w: for one token if n_tok == 1, else for
   batches. Never NULL. The forward pass asks once per matrix and context. */
g2_matmul_fn g2_kernels_matmul(const g2_kernels *k, const g2_matrix *w, size_t n_tok);

/* g2_kernels_matmul(k, w, n_tok) called on these arguments, each call a
   product of its own (work->kept reset): for tests and tools. */
void g2_matmul(const g2_kernels *k, const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride,
               const float *bias, float *out, size_t out_stride, size_t col_begin, size_t col_end,
               g2_work *work);

/* The fastest table a CPU with `cpu` runs (skipping those that round
   activations if fp32_only), or the one named by `forced` (e.g.
   getenv("GPT2_ISA"); NULL or "" names none), whatever fp32_only says.
   NULL if `forced` names an unknown table or one this CPU cannot run. */
const g2_kernels *g2_kernels_select_for(const g2_cpu_features *cpu, const char *forced, int fp32_only);
/* The same for the CPU we run on. */
const g2_kernels *g2_kernels_select(const char *forced, int fp32_only);

/* ---- the parts the tables are made of (dispatch.c lists the tables) ---- */

/* Scalar (ref.c): plain C, every CPU. Its finder takes every matrix. */
extern const g2_vector_kernels g2_ref_vector;
g2_matmul_fn g2_ref_matmul_for(const g2_matrix *w, int many);
#if defined(__x86_64__)
/* FP32 products over the vector interface of generic_simd.h. */
extern const g2_vector_kernels g2_avx2_vector, g2_avx512_vector;
g2_matmul_fn g2_avx2_matmul_for(const g2_matrix *w, int many);
g2_matmul_fn g2_avx512_matmul_for(const g2_matrix *w, int many);
/* NK Q8_0/Q4_0 on 8-bit activations by vpdpbusd (kernels/int8.h). */
g2_matmul_fn g2_int8_vnni_matmul_for(const g2_matrix *w, int many);
/* The same products by AVX2 integer code (kernels/int8_avx2.c), for CPUs
   without AVX512-VNNI. */
g2_matmul_fn g2_int8_avx2_matmul_for(const g2_matrix *w, int many);
/* NK K types (Q2_K..Q6_K, IQ4_XS) on 8-bit activations by AVX2 integer code
   (kernels/kquant_int8.h); run by the tables that round activations. */
g2_matmul_fn g2_kq8_matmul_for(const g2_matrix *w, int many);
/* The same products by AVX512-VNNI: batches of at least 8 tokens by
   vpdpbusd panels (kernels/kquant_int8_avx512.c), fewer by the AVX2
   kernel, one token 16 rows at a time (kquant_int8_token_avx512.c, whose
   function for each K type g2_kq8_vnni_token_matmul gives): the
   avx512vnni and avx512bf16 tables' finder before g2_kq8_matmul_for. */
g2_matmul_fn g2_kq8_vnni_matmul_for(const g2_matrix *w, int many);
g2_matmul_fn g2_kq8_vnni_token_matmul(g2_dtype dtype);
/* NK Q4_1/Q5_0/Q5_1/IQ4_NL on 8-bit activations by AVX2 integer code
   (kernels/q32_int8.h), for tables that round activations. */
g2_matmul_fn g2_q32_matmul_for(const g2_matrix *w, int many);
/* The same products, batches by vpdpbusd (AVX512-VNNI) panels and one
   token by the AVX2 kernel: the avx512vnni and avx512bf16 tables' finder. */
g2_matmul_fn g2_q32_vnni_matmul_for(const g2_matrix *w, int many);
/* BF16 weights by vdpbf16ps, activations rounded to bfloat16
   (kernels/bf16.h). */
g2_matmul_fn g2_bf16_matmul_for(const g2_matrix *w, int many);
#endif
#if defined(__aarch64__)
extern const g2_vector_kernels g2_neon_vector;
g2_matmul_fn g2_neon_matmul_for(const g2_matrix *w, int many);
/* NK Q8_0/Q4_0 (kernels/int8.h) and Q4_K/Q5_K/Q6_K (kernels/kquant_int8.h)
   on 8-bit activations by sdot, for CPUs with the dot-product extension. */
g2_matmul_fn g2_int8_neondot_matmul_for(const g2_matrix *w, int many);
g2_matmul_fn g2_kq8_neondot_matmul_for(const g2_matrix *w, int many);
#endif

#endif
