/* Run-time choice of the kernel table: the fastest one the CPU supports,
   unless GPT2_ISA names one. */
#include <string.h>

#include "core/cpu.h"
#include "kernels/kernels.h"

typedef struct candidate {
  const g2_kernels *table;
  int (*supported)(const g2_cpu_features *cpu);
} candidate;

static int always(const g2_cpu_features *cpu) {
  (void)cpu;
  return 1;
}

#if defined(__x86_64__)
static int has_avx512(const g2_cpu_features *cpu) { return cpu->avx512; }
static int has_avx512_bf16(const g2_cpu_features *cpu) {
  return cpu->avx512 && cpu->avx512_bf16 && cpu->avx512_vnni;
}
static int has_avx512_vnni(const g2_cpu_features *cpu) { return cpu->avx512 && cpu->avx512_vnni; }
static int has_avx2(const g2_cpu_features *cpu) { return cpu->avx2_fma_f16c; }
#endif
#if defined(__aarch64__)
static int has_neon(const g2_cpu_features *cpu) { return cpu->neon; }
#endif

/* Fastest first. avx512vnni differs from avx512 only in Q8_0/Q4_0
   products, which quantize the activations to 8 bits, and avx512bf16 also
   in BF16-weight products, which round them to bfloat16 (docs/kernels.md);
   gpt2_load_params.fp32_products = 1 or GPT2_ISA=avx512 keeps them FP32. */
static const candidate candidates[] = {
#if defined(__x86_64__)
    {&g2_kernels_avx512bf16, has_avx512_bf16},
    {&g2_kernels_avx512vnni, has_avx512_vnni},
    {&g2_kernels_avx512, has_avx512},
    {&g2_kernels_avx2, has_avx2},
#endif
#if defined(__aarch64__)
    {&g2_kernels_neon, has_neon},
#endif
    {&g2_kernels_ref, always},
};

const g2_kernels *g2_kernels_select(const char *forced, int fp32_only) {
  g2_cpu_features cpu = g2_cpu_detect();
  size_t n = sizeof candidates / sizeof candidates[0];
  for (size_t i = 0; i < n; i++) {
    int named = forced && *forced;
    if (named && strcmp(forced, candidates[i].table->name) != 0) continue;
    if (!named && fp32_only && candidates[i].table->rounds_activations) continue;
    if (candidates[i].supported(&cpu)) return candidates[i].table;
    if (named) return NULL;
  }
  return NULL;
}
