#include "core/cpu.h"

#include <string.h>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <cpuid.h>

/* XCR0: which register states the OS saves on context switches. A CPU can
   have AVX-512 while the OS (or hypervisor) does not enable it. */
static unsigned long long read_xcr0(void) {
  unsigned eax, edx;
  __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
  return ((unsigned long long)edx << 32) | eax;
}

static int bit(unsigned reg, int n) { return (reg >> n) & 1u; }

g2_cpu_features g2_cpu_detect(void) {
  g2_cpu_features features;
  memset(&features, 0, sizeof features);
  unsigned eax, ebx, ecx, edx;
  if (!__get_cpuid(0, &eax, &ebx, &ecx, &edx)) return features;
  int amd = ebx == 0x68747541u && edx == 0x69746e65u && ecx == 0x444d4163u; /* "AuthenticAMD" */
  if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return features;
  int fma = bit(ecx, 12), osxsave = bit(ecx, 27), avx = bit(ecx, 28), f16c = bit(ecx, 29);
  if (!osxsave || !avx) return features;
  unsigned long long xcr0 = read_xcr0();
  int os_ymm = (xcr0 & 0x6) == 0x6;    /* SSE and AVX state */
  int os_zmm = (xcr0 & 0xe6) == 0xe6;  /* plus opmask, ZMM_Hi256, Hi16_ZMM */
  if (__get_cpuid_max(0, 0) < 7) return features;
  __cpuid_count(7, 0, eax, ebx, ecx, edx);
  unsigned leaf7_ebx = ebx, leaf7_ecx = ecx, max_subleaf = eax;
  int avx2 = bit(leaf7_ebx, 5);
  int avx512 = bit(leaf7_ebx, 16) && bit(leaf7_ebx, 17) && bit(leaf7_ebx, 30) && bit(leaf7_ebx, 31);
  features.avx2_fma_f16c = (unsigned)(os_ymm && avx2 && fma && f16c);
  features.avx512 = (unsigned)(os_zmm && avx512 && features.avx2_fma_f16c);
  features.avx512_vnni = (unsigned)(features.avx512 && bit(leaf7_ecx, 11) && bit(leaf7_ebx, 8));
  if (max_subleaf >= 1) {
    __cpuid_count(7, 1, eax, ebx, ecx, edx);
    features.avx512_bf16 = (unsigned)(features.avx512 && bit(eax, 5));
  }
  features.bf16_dot_fast = (unsigned)(features.avx512_bf16 && amd);
  return features;
}

#else

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1ul << 20) /* the Linux ABI's bit, for C libraries whose headers lack it */
#endif
#endif

g2_cpu_features g2_cpu_detect(void) {
  g2_cpu_features features;
  memset(&features, 0, sizeof features);
#if defined(__aarch64__)
  features.neon = 1;
#if defined(__linux__)
  features.neon_dotprod = (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#endif /* elsewhere (Apple, Windows) not asked yet: the plain neon table runs */
#endif
  return features;
}

#endif
