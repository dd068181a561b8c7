/* Steps 1 and 2 of sampling: penalties for recently seen tokens, the ban
   of repeated n-grams and the caller's logit bias, applied to a copy of
   the logits. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "sample/sample.h"

static int compare_tokens(const void *a, const void *b) {
  gpt2_token x = *(const gpt2_token *)a, y = *(const gpt2_token *)b;
  return (x > y) - (x < y);
}

/* Hugging Face's rule: shrink a positive logit, grow a negative one, so the
   token always becomes less likely. */
static float repetition_penalized(float logit, float penalty) {
  return logit < 0.0f ? logit * penalty : logit / penalty;
}

static int penalize_history(float *work, const gpt2_token *history,
                            size_t n_history, const gpt2_sample_params *p) {
  size_t n_window = n_history;
  if (p->repeat_last_n >= 0 && (size_t)p->repeat_last_n < n_window)
    n_window = (size_t)p->repeat_last_n;
  if (n_window == 0) return GPT2_OK;

  /* Sorting the window groups each token's occurrences, giving both the
     set of seen tokens and their counts without a vocabulary-sized table. */
  gpt2_token *window = g2_malloc_array(n_window, sizeof *window);
  if (!window)
    return g2_fail(GPT2_E_NOMEM, "sampling: no memory for %zu history tokens",
                   n_window);
  memcpy(window, history + (n_history - n_window), n_window * sizeof *window);
  qsort(window, n_window, sizeof *window, compare_tokens);

  for (size_t i = 0; i < n_window;) {
    size_t run_end = i + 1;
    while (run_end < n_window && window[run_end] == window[i]) run_end++;
    float *logit = &work[window[i]];
    *logit = repetition_penalized(*logit, p->repetition_penalty);
    *logit -= p->presence_penalty +
              (float)(run_end - i) * p->frequency_penalty;
    i = run_end;
  }
  g2_free(window);
  return GPT2_OK;
}

/* Hugging Face's NoRepeatNGramLogitsProcessor: bans every token that
   would complete an n-gram (n = no_repeat_ngram_size) already present in
   the whole history, i.e. each token that followed an earlier occurrence
   of the history's last n - 1 tokens. */
static void ban_repeated_ngrams(float *work, const gpt2_token *history, size_t n_history, size_t n) {
  if (n_history < n) return; /* no n-gram in the history yet */
  const gpt2_token *tail = history + n_history - (n - 1);
  for (size_t start = 0; start + n <= n_history; start++)
    if (memcmp(history + start, tail, (n - 1) * sizeof *tail) == 0) work[history[start + n - 1]] = -INFINITY;
}

int g2_sample_has_penalty(const gpt2_sample_params *p) {
  return p->repetition_penalty != 1.0f || p->presence_penalty != 0.0f ||
         p->frequency_penalty != 0.0f;
}

int g2_sample_penalize(float *work, const gpt2_token *history,
                       size_t n_history, const gpt2_sample_params *p) {
  if (g2_sample_has_penalty(p)) {
    int status = penalize_history(work, history, n_history, p);
    if (status != GPT2_OK) return status;
  }
  if (p->no_repeat_ngram_size > 0)
    ban_repeated_ngrams(work, history, n_history, (size_t)p->no_repeat_ngram_size);
  for (uint32_t i = 0; i < p->n_logit_bias; i++)
    work[p->logit_bias[i].token] += p->logit_bias[i].bias;
  return GPT2_OK;
}
