/* What the CPU we run on can execute, asked of the CPU itself (cpuid and the
   OS's saved-state mask on x86-64; NEON is part of the aarch64 baseline,
   the dot-product extension is asked of the kernel on Linux).
   Detected on each call: the model stores the kernel table it leads to, so
   there is no global state. */
#ifndef G2_CPU_H
#define G2_CPU_H

typedef struct g2_cpu_features {
  /* x86-64 */
  unsigned avx2_fma_f16c : 1; /* AVX2 + FMA3 + F16C, with OS support for ymm */
  unsigned avx512 : 1;        /* AVX-512 F+BW+DQ+VL, with OS support for zmm */
  unsigned avx512_bf16 : 1;   /* vdpbf16ps */
  unsigned avx512_vnni : 1;   /* vpdpbusd, with BMI2 (pext), which every such CPU has */
  /* vdpbf16ps at least at the FP32 FMAs' rate of products: AMD's (Zen 4
     measured 1.65x the F32 prompt speed with it); Intel's Xeons run it at
     half that rate (docs/kernels.md) */
  unsigned bf16_dot_fast : 1;
  /* aarch64 */
  unsigned neon : 1;
  unsigned neon_dotprod : 1; /* ASIMD dot product (sdot/udot, ARMv8.2 optional, 8.4 mandatory) */
} g2_cpu_features;

g2_cpu_features g2_cpu_detect(void);

#endif
