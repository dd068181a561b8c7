/* Run-time choice of the kernel table: the fastest one the CPU supports,
   unless GPT2_ISA names one. */
#include <string.h>

#include "kernels/kernels.h"

typedef struct candidate {
  const g2_kernels *table;
  int (*supported)(void);
} candidate;

static int always(void) { return 1; }

/* Fastest first. */
static const candidate candidates[] = {
    {&g2_kernels_ref, always},
};

const g2_kernels *g2_kernels_select(const char *forced) {
  size_t n = sizeof candidates / sizeof candidates[0];
  for (size_t i = 0; i < n; i++) {
    if (forced && *forced && strcmp(forced, candidates[i].table->name) != 0) continue;
    if (candidates[i].supported()) return candidates[i].table;
    if (forced && *forced) return NULL;
  }
  return NULL;
}
