/* Sampling internals: the RNG and a context-free sampler core, so that tests
   can drive the sampler with hand-made logits and no model. */
#ifndef G2_SAMPLE_H
#define G2_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "gpt2.h"

/* xoshiro256** (Blackman and Vigna), its state filled from `seed` by
   splitmix64 as its authors recommend; every seed, 0 included, is valid. */
void g2_rng_seed(uint64_t state[4], uint64_t seed);
uint64_t g2_rng_next(uint64_t state[4]);
/* Uniform in [0, 1) with 53 random bits: (next >> 11) * 2^-53. */
double g2_rng_uniform(uint64_t state[4]);

/* Copies `user` (NULL: defaults; fields beyond user->size: defaults) into
   *out as a full current-size struct (core/params.h rules: GPT2_E_INVALID
   for a size below 4 or a larger struct whose unknown tail is not zero). */
int g2_sample_params_read(const gpt2_sample_params *user,
                          gpt2_sample_params *out);

/* GPT2_E_INVALID naming the field for a value out of its documented range,
   GPT2_E_RANGE for a logit_bias token outside [0, n_vocab). */
int g2_sample_params_check(const gpt2_sample_params *params, size_t n_vocab);

/* The whole of gpt2_sample() on explicit inputs: `logits` [n_vocab] of the
   next position, `history` [n_history] the tokens before it (for the
   penalties), `params` a full struct (see g2_sample_params_read), `rng` the
   generator state, advanced by one draw unless greedy. Same errors as
   gpt2_sample(); history ids out of range give GPT2_E_RANGE. */
int g2_sample_logits(const float *logits, size_t n_vocab,
                     const gpt2_token *history, size_t n_history,
                     const gpt2_sample_params *params, uint64_t rng[4],
                     gpt2_token *out);

/* Whether any of the three history penalties is switched on. */
int g2_sample_has_penalty(const gpt2_sample_params *params);

/* Applies the penalties, the n-gram ban and the logit bias of `params` to `work`, a copy
   of the logits; params and history ids are already validated against its
   size. GPT2_E_NOMEM only. */
int g2_sample_penalize(float *work, const gpt2_token *history,
                       size_t n_history, const gpt2_sample_params *params);

#endif
