#include "core/progress.h"

#include "core/error.h"
#include "gpt2.h"

int g2_progress_report(const g2_progress *progress, double fraction) {
  if (!progress || !progress->callback) return GPT2_OK;
  float done = progress->begin + (float)fraction * (progress->end - progress->begin);
  if (progress->callback(done, progress->data) == 0) return GPT2_OK;
  return g2_fail(GPT2_E_ABORTED, "gpt2_load: cancelled by the progress callback at %.0f%%", 100.0 * done);
}
