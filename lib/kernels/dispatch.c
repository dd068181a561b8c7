/* Run-time choice of the kernel table: the fastest one the CPU supports,
   unless GPT2_ISA names one. */
#include <string.h>

#include "core/cpu.h"
#include "kernels/kernels.h"

typedef struct candidate {
  const g2_kernels *table;
  int (*supported)(const g2_cpu_features *cpu);
  int by_name_only; /* results further from the oracle: never the default */
} candidate;

static int always(const g2_cpu_features *cpu) {
  (void)cpu;
  return 1;
}

#if defined(__x86_64__)
static int has_avx512(const g2_cpu_features *cpu) { return cpu->avx512; }
static int has_avx512_bf16(const g2_cpu_features *cpu) { return cpu->avx512 && cpu->avx512_bf16; }
static int has_avx512_vnni(const g2_cpu_features *cpu) { return cpu->avx512 && cpu->avx512_vnni; }
static int has_avx2(const g2_cpu_features *cpu) { return cpu->avx2_fma_f16c; }
#endif
#if defined(__aarch64__)
static int has_neon(const g2_cpu_features *cpu) { return cpu->neon; }
#endif

/* Fastest first. */
static const candidate candidates[] = {
#if defined(__x86_64__)
    {&g2_kernels_avx512bf16, has_avx512_bf16, 1},
    {&g2_kernels_avx512vnni, has_avx512_vnni, 1},
    {&g2_kernels_avx512, has_avx512, 0},
    {&g2_kernels_avx2, has_avx2, 0},
#endif
#if defined(__aarch64__)
    {&g2_kernels_neon, has_neon, 0},
#endif
    {&g2_kernels_ref, always, 0},
};

const g2_kernels *g2_kernels_select(const char *forced) {
  g2_cpu_features cpu = g2_cpu_detect();
  size_t n = sizeof candidates / sizeof candidates[0];
  for (size_t i = 0; i < n; i++) {
    int named = forced && *forced;
    if (named && strcmp(forced, candidates[i].table->name) != 0) continue;
    if (!named && candidates[i].by_name_only) continue;
    if (candidates[i].supported(&cpu)) return candidates[i].table;
    if (named) return NULL;
  }
  return NULL;
}
