/* gpt2_load_params.progress_callback: the reports a load makes (0.1 once
   the file is read, then after each converted matrix, 1 at the end, never
   decreasing), and a cancel at every one of them: GPT2_E_ABORTED, no
   model, no block left allocated, and the next load works. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "gpt2.h"
#include "harness.h"

enum { MAX_REPORTS = 256 };

typedef struct reports {
  float done[MAX_REPORTS];
  int n;
  int cancel_at; /* 1-based report that returns non-zero; 0: none */
} reports;

static int record(float done, void *data) {
  reports *r = data;
  if (r->n < MAX_REPORTS) r->done[r->n] = done;
  r->n++;
  return r->n == r->cancel_at;
}

static int load(const char *path, uint32_t weight_type, reports *r, gpt2_model **model) {
  gpt2_load_params params = GPT2_LOAD_PARAMS_INIT;
  params.weight_type = weight_type;
  params.n_threads = 2;
  params.progress_callback = record;
  params.progress_data = r;
  return gpt2_load(path, &params, model);
}

/* 1 if the reports start at 0.1, never decrease and end at exactly 1. */
static int well_formed(const reports *r) {
  if (r->n < 2 || r->n > MAX_REPORTS || r->done[0] != 0.1f || r->done[r->n - 1] != 1.0f) return 0;
  for (int i = 1; i < r->n; i++)
    if (r->done[i] < r->done[i - 1]) return 0;
  return 1;
}

static void test_reports(const char *path, uint32_t weight_type, const char *type_name,
                         int min_reports) {
  reports r = {{0}, 0, 0};
  gpt2_model *model = NULL;
  int status = load(path, weight_type, &r, &model);
  CHECK(status == GPT2_OK && model, "%s: load with a progress callback works (%s)", type_name,
        gpt2_last_error());
  CHECK(well_formed(&r) && r.n >= min_reports,
        "%s: %d reports from 0.1 to 1, never decreasing (at least %d; first %g, last %g)", type_name,
        r.n, min_reports, r.n ? r.done[0] : -1.0, r.n ? r.done[r.n - 1 < MAX_REPORTS ? r.n - 1 : 0] : -1.0);
  gpt2_model_free(model);

  /* A cancel at each report in turn. */
  int total = r.n, bad = 0;
  long live = g2_alloc_live_blocks();
  for (int k = 1; k <= total; k++) {
    reports cancel = {{0}, 0, k};
    model = (gpt2_model *)1;
    status = load(path, weight_type, &cancel, &model);
    if (status != GPT2_E_ABORTED || model != NULL || cancel.n != k || g2_alloc_live_blocks() != live) {
      bad++;
      printf("# %s: cancel at report %d: status %d, model %p, %d reports, %ld blocks (%ld before)\n",
             type_name, k, status, (void *)model, cancel.n, g2_alloc_live_blocks(), live);
    }
  }
  CHECK(bad == 0,
        "%s: a cancel at each of the %d reports gives GPT2_E_ABORTED, no model, no further report, "
        "no block left (%d wrong)", type_name, total, bad);
  CHECK(strstr(gpt2_last_error(), "progress callback") != NULL, "%s: the message says who cancelled (%s)",
        type_name, gpt2_last_error());
  reports again = {{0}, 0, 0};
  status = load(path, weight_type, &again, &model);
  CHECK(status == GPT2_OK && again.n == total, "%s: after the cancels a load works, with the same %d reports",
        type_name, total);
  gpt2_model_free(model);
}

int main(void) {
  char path[512];
  snprintf(path, sizeof path, "%s/mid-f32", harness_path("GPT2_TEST_MODELS", "build/models"));
  /* As stored: the file read, then the end. */
  test_reports(path, GPT2_WTYPE_AUTO, "auto", 2);
  /* Converted: mid has 4 layers of 4 matrices and a tied embedding, so
     17 matrices: the file read, 16 matrices but the last, the end. */
  test_reports(path, GPT2_WTYPE_Q8_0, "q8_0", 18);
  test_reports(path, GPT2_WTYPE_F16, "f16", 18);

  gpt2_load_params params = GPT2_LOAD_PARAMS_INIT;
  CHECK(params.progress_callback == NULL && params.progress_data == NULL,
        "GPT2_LOAD_PARAMS_INIT has no progress callback");
  HARNESS_EXIT();
}
