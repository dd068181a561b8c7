/* A load's progress, reported to gpt2_load_params.progress_callback: each
   stage of the load spans [begin, end] of the whole, and reports the part
   of itself that is done. The callback runs on the loading thread only. */
#ifndef G2_PROGRESS_H
#define G2_PROGRESS_H

typedef struct g2_progress {
  int (*callback)(float done, void *data); /* NULL: nobody listens */
  void *data;
  float begin, end; /* the current stage's share of the whole */
} g2_progress;

/* Reports that `fraction` (0..1) of the current stage is done. Returns
   GPT2_E_ABORTED, with the error message set, when the callback returns
   non-zero; GPT2_OK otherwise (also for a NULL progress). */
int g2_progress_report(const g2_progress *progress, double fraction);

#endif
