/* The kernel tables, and the run-time choice among them: the fastest one
   the CPU supports, unless GPT2_ISA names one.

   Adding a table: its row below (and its source files). Adding a weight
   type: the finders of the files that accelerate it (each says which
   matrices it takes), and g2_dequantize for the scalar table. */
#include <string.h>

#include "core/cpu.h"
#include "kernels/kernels.h"

static int always(const g2_cpu_features *cpu) {
  (void)cpu;
  return 1;
}

#if defined(__x86_64__)
static int has_avx2(const g2_cpu_features *cpu) { return cpu->avx2_fma_f16c; }
static int has_avx512(const g2_cpu_features *cpu) { return cpu->avx512; }
static int has_avx512_vnni(const g2_cpu_features *cpu) { return cpu->avx512 && cpu->avx512_vnni; }
static int has_avx512_bf16(const g2_cpu_features *cpu) {
  return cpu->avx512 && cpu->avx512_bf16 && cpu->avx512_vnni;
}
/* Where vdpbf16ps is slower than FMAs, avx512vnni (the same products but
   BF16's, in FP32) is both exact and faster: Intel Xeon (family 6 model
   207), 124M BF16 pp512 1285 tok/s against 752. */
static int bf16_dot_fast(const g2_cpu_features *cpu) { return cpu->bf16_dot_fast; }
#endif
#if defined(__aarch64__)
static int has_neon(const g2_cpu_features *cpu) { return cpu->neon; }
static int has_neon_dotprod(const g2_cpu_features *cpu) { return cpu->neon && cpu->neon_dotprod; }
#endif

/* Fastest first. avx512vnni differs from avx512 only in Q8_0/Q4_0,
   K-type (Q2_K..Q6_K, IQ4_XS) and Q4_1/Q5_0/Q5_1/IQ4_NL products, which
   quantize the activations to 8 bits, and avx512bf16 also
   in BF16-weight products, which round them to bfloat16 (docs/kernels.md);
   gpt2_load_params.fp32_products = 1 or GPT2_ISA=avx512 keeps them FP32.
   avx512bf16 is the default only where vdpbf16ps is fast (below).
   avx2int8 is the same step above avx2 for CPUs without AVX-512 (its
   Q8_0/Q4_0 products in int8_avx2.c, the K types' in kquant_int8_avx2.c,
   Q4_1/Q5_0/Q5_1/IQ4_NL in q32_int8_avx2.c, their batches in panels:
   panel_avx2.c, kquant_panel_avx2.c);
   neondot is neon with the same Q8_0/Q4_0 and K-type products on 8-bit
   activations, by sdot (GPT2_ISA=neon keeps them FP32). */
static const g2_kernels tables[] = {
#if defined(__x86_64__)
    {"avx512bf16", 1, has_avx512_bf16, &g2_avx512_vector,
     {g2_bf16_matmul_for, g2_int8_vnni_matmul_for, g2_kq8_vnni_matmul_for, g2_kq8_matmul_for, g2_q32_vnni_matmul_for,
      g2_avx512_matmul_for, g2_ref_matmul_for},
     bf16_dot_fast},
    {"avx512vnni", 1, has_avx512_vnni, &g2_avx512_vector,
     {g2_int8_vnni_matmul_for, g2_kq8_vnni_matmul_for, g2_kq8_matmul_for, g2_q32_vnni_matmul_for, g2_avx512_matmul_for,
      g2_ref_matmul_for}, NULL},
    {"avx512", 0, has_avx512, &g2_avx512_vector, {g2_avx512_matmul_for, g2_ref_matmul_for, NULL, NULL, NULL}, NULL},
    {"avx2int8", 1, has_avx2, &g2_avx2_vector,
     {g2_int8_avx2_matmul_for, g2_kq8_matmul_for, g2_q32_matmul_for, g2_avx2_matmul_for, g2_ref_matmul_for}, NULL},
    {"avx2", 0, has_avx2, &g2_avx2_vector, {g2_avx2_matmul_for, g2_ref_matmul_for, NULL, NULL, NULL}, NULL},
#endif
#if defined(__aarch64__)
    {"neondot", 1, has_neon_dotprod, &g2_neon_vector,
     {g2_int8_neondot_matmul_for, g2_kq8_neondot_matmul_for, g2_neon_matmul_for, g2_ref_matmul_for, NULL}, NULL},
    {"neon", 0, has_neon, &g2_neon_vector, {g2_neon_matmul_for, g2_ref_matmul_for, NULL, NULL, NULL}, NULL},
#endif
    {"scalar", 0, always, &g2_ref_vector, {g2_ref_matmul_for, NULL, NULL, NULL, NULL}, NULL},
};

const g2_kernels *g2_kernels_select_for(const g2_cpu_features *cpu, const char *forced, int fp32_only) {
  int named = forced && *forced;
  for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
    const g2_kernels *table = &tables[i];
    if (named && strcmp(forced, table->name) != 0) continue;
    if (!named && fp32_only && table->rounds_activations) continue;
    if (!named && table->preferred && !table->preferred(cpu)) continue;
    if (table->supported(cpu)) return table;
    if (named) return NULL;
  }
  return NULL;
}

const g2_kernels *g2_kernels_select(const char *forced, int fp32_only) {
  g2_cpu_features cpu = g2_cpu_detect();
  return g2_kernels_select_for(&cpu, forced, fp32_only);
}

g2_matmul_fn g2_kernels_matmul(const g2_kernels *k, const g2_matrix *w, size_t n_tok) {
  g2_matmul_fn fn = NULL;
  for (size_t i = 0; !fn && i < G2_MAX_FINDERS && k->matmul_finders[i]; i++)
    fn = k->matmul_finders[i](w, n_tok != 1);
  return fn;
}

void g2_matmul(const g2_kernels *k, const g2_matrix *w, const float *x, size_t n_tok, size_t x_stride,
               const float *bias, float *out, size_t out_stride, size_t col_begin, size_t col_end,
               g2_work *work) {
  work->kept = 0;
  g2_kernels_matmul(k, w, n_tok)(w, x, n_tok, x_stride, bias, out, out_stride, col_begin, col_end, work);
}
