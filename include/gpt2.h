/*
 * gpt2.h - libgpt2: GPT-2 inference on the CPU, exact and fast.
 *
 * This header is the reference documentation of the library. It compiles
 * alone as C99 and as C++.
 *
 * Threading rules
 *   - A gpt2_model is immutable after gpt2_load(): every function taking a
 *     `const gpt2_model *` may run concurrently from any number of threads.
 *   - A gpt2_context (one sequence: KV cache, logits, sampler RNG, history)
 *     belongs to one thread at a time. Different contexts on one model may
 *     run concurrently.
 *   - gpt2_last_error() is per thread.
 *   - The library's own threads (pthreads; Win32 threads on Windows): a
 *     context's n_threads - 1 workers, from gpt2_context_new() to
 *     gpt2_context_free(); a load's n_threads - 1 converters, inside
 *     gpt2_load() only.
 *
 * Errors
 *   Every fallible function returns GPT2_OK (0) or a negative GPT2_E_* code.
 *   gpt2_strerror() names the code; gpt2_last_error() gives the detail of the
 *   last failure in the calling thread. The library never prints, exits or
 *   aborts on bad input.
 *
 * Buffers
 *   Functions producing a variable amount write into (out, cap) and store the
 *   needed count in *n_out. A too small buffer gives GPT2_E_BUFFER with *n_out
 *   set; out = NULL, cap = 0 asks for the size.
 *
 * ABI
 *   Opaque handles only. Params structs are passed by pointer, start with
 *   their own size and only grow at the end; initialise them with the
 *   GPT2_*_PARAMS_INIT macros. NULL means defaults. See docs/abi.md.
 */
#ifndef GPT2_H
#define GPT2_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- version ------------------------------------------------------------ */
#define GPT2_VERSION_MAJOR 0
#define GPT2_VERSION_MINOR 3
#define GPT2_VERSION_PATCH 0
#define GPT2_VERSION_NUMBER \
  (GPT2_VERSION_MAJOR * 10000 + GPT2_VERSION_MINOR * 100 + GPT2_VERSION_PATCH)
/* "MAJOR.MINOR.PATCH", made from the three numbers above (their one source). */
#define GPT2_VERSION_STRING \
  GPT2_VERSION_STRINGIZE_(GPT2_VERSION_MAJOR, GPT2_VERSION_MINOR, GPT2_VERSION_PATCH)
#define GPT2_VERSION_STRINGIZE_(major, minor, patch) GPT2_VERSION_QUOTE_(major, minor, patch)
#define GPT2_VERSION_QUOTE_(major, minor, patch) #major "." #minor "." #patch

/* ---- export macro ------------------------------------------------------- */
/* Windows: the DLL is built with GPT2_BUILDING_DLL (dllexport); a program
   using the DLL gets dllimport; one linking the static library defines
   GPT2_STATIC (the CMake target gpt2::gpt2_static and pkg-config's
   --static do it). Elsewhere: default visibility, the rest is hidden. */
#if defined(_WIN32) && defined(GPT2_BUILDING_DLL)
#define GPT2_API __declspec(dllexport)
#elif defined(_WIN32) && !defined(GPT2_STATIC)
#define GPT2_API __declspec(dllimport)
#elif defined(_WIN32)
#define GPT2_API
#elif defined(__GNUC__) && __GNUC__ >= 4
#define GPT2_API __attribute__((visibility("default")))
#else
#define GPT2_API
#endif

/* ---- opaque types ------------------------------------------------------- */
typedef int32_t gpt2_token;
typedef struct gpt2_model gpt2_model;
typedef struct gpt2_context gpt2_context;
typedef struct gpt2_detok gpt2_detok;

/* ---- status codes (pinned values, never renumbered) --------------------- */
#define GPT2_OK 0
#define GPT2_E_INVALID (-1)     /* bad argument (NULL pointer, bad value) */
#define GPT2_E_NOMEM (-2)       /* an allocation failed */
#define GPT2_E_IO (-3)          /* a file could not be opened, read or mapped */
#define GPT2_E_FORMAT (-4)      /* a file is malformed */
#define GPT2_E_UNSUPPORTED (-5) /* valid file, but a feature we do not run */
#define GPT2_E_RANGE (-6)       /* token id or position out of range */
#define GPT2_E_BUFFER (-7)      /* output buffer too small; *n_out says how big */
#define GPT2_E_STATE (-8)       /* call not valid in the object's state */
#define GPT2_E_ABORTED (-9)     /* an abort callback asked to stop (0.2) */

/* ---- enumerations (passed as uint32_t fields) --------------------------- */
/* Weight types. GPT2_WTYPE_AUTO keeps the file's types. */
#define GPT2_WTYPE_AUTO 0u
#define GPT2_WTYPE_F32 1u
#define GPT2_WTYPE_F16 2u
#define GPT2_WTYPE_BF16 3u
#define GPT2_WTYPE_Q8_0 4u
#define GPT2_WTYPE_Q4_0 5u
/* 0.2: llama-quantize's K mixes (docs/gguf.md, "K mixes"): mostly Q3_K,
   Q4_K, Q5_K or Q6_K, with Q6_K for the output matrix and more bits for
   the attention and ffn_down matrices of some layers; rows that 256-value
   blocks do not fit fall back to Q4_0, Q5_0, Q5_1 or Q8_0, as llama.cpp's. */
#define GPT2_WTYPE_Q4_K_M 6u
#define GPT2_WTYPE_Q5_K_M 7u
#define GPT2_WTYPE_Q6_K 8u
#define GPT2_WTYPE_Q4_K_S 9u
#define GPT2_WTYPE_Q5_K_S 10u
#define GPT2_WTYPE_Q3_K_S 11u
#define GPT2_WTYPE_Q3_K_M 12u
#define GPT2_WTYPE_Q3_K_L 13u

/* KV cache element types. */
#define GPT2_KV_F32 0u
#define GPT2_KV_F16 1u

/* ---- params structs ----------------------------------------------------- */
typedef struct gpt2_load_params {
  uint32_t size;         /* sizeof(gpt2_load_params) */
  uint32_t weight_type;  /* GPT2_WTYPE_*: convert matrices at load (AUTO: the
                            file's types) */
  uint32_t use_mmap;     /* 1 (default): map the weights file and use it in place
                            (another process truncating it then raises SIGBUS
                            here: docs/reliability.md), but for a GGUF file's
                            F32/F16/BF16 layer matrices, which are transposed
                            into memory (docs/gguf.md); 0: read it into memory
                            instead, on huge pages where the system gives them
                            (faster generation from big quantized files:
                            docs/performance.md). The small files are always
                            read */
  uint32_t fp32_products; /* 0 (default): the fastest products the CPU has, which
                            round activations to bfloat16 for BF16 weights on
                            AMD AVX512-BF16 CPUs and to 8 bits for Q8_0, Q4_0 and
                            K-type weights on AVX512-VNNI ones (docs/kernels.md);
                            1: every product in FP32 on any CPU (what the
                            golden tests bound) */
  uint32_t n_threads;    /* 0 = number of online CPUs: threads that convert weights
                            at load (weight_type); they are joined before
                            gpt2_load returns, and the result does not depend
                            on their number */
  /* 0.2: called by gpt2_load on the loading thread with the part of the
     load done, from 0 to 1 (once the file is read, then after each matrix
     converted by weight_type, and 1 at the end); a non-zero return cancels
     the load: gpt2_load returns GPT2_E_ABORTED, *out NULL, nothing kept.
     NULL: never called. */
  int (*progress_callback)(float done, void *data);
  void *progress_data; /* passed to progress_callback */
} gpt2_load_params;
#define GPT2_LOAD_PARAMS_INIT \
  { (uint32_t)sizeof(gpt2_load_params), GPT2_WTYPE_AUTO, 1u, 0u, 0u, NULL, NULL }

typedef struct gpt2_context_params {
  uint32_t size;       /* sizeof(gpt2_context_params) */
  uint32_t n_ctx;      /* positions in the KV cache; 0 = the model's n_ctx */
  uint32_t n_threads;  /* 0 = number of online CPUs; n - 1 workers start with the context */
  uint32_t logits_all; /* 1: keep logits for every evaluated token; 0: last only */
  uint64_t seed;       /* sampler RNG seed */
  uint32_t kv_type;    /* GPT2_KV_F32 (default) or GPT2_KV_F16 */
  uint32_t reserved;   /* must be 0 */
  /* 0.2: called by gpt2_eval / gpt2_eval_batch on the evaluating thread
     between layers; a non-zero return stops the evaluation with
     GPT2_E_ABORTED and every context as before the call. NULL: never. */
  int (*abort_callback)(void *data);
  void *abort_data; /* passed to abort_callback */
  /* 0.3: 1 keeps the final hidden state (after the last layer norm, the
     vector the logits are made from) of every token of the last
     gpt2_eval batch, read with gpt2_embeddings(); 0 (default): none.
     Like the logits they last until the next successful eval, and go with
     gpt2_truncate; gpt2_context_copy and gpt2_state_save do not carry them. */
  uint32_t embeddings;
} gpt2_context_params;
#define GPT2_CONTEXT_PARAMS_INIT \
  { (uint32_t)sizeof(gpt2_context_params), 0u, 0u, 0u, 0u, GPT2_KV_F32, 0u, NULL, NULL, 0u }

typedef struct gpt2_save_params {
  uint32_t size;        /* sizeof(gpt2_save_params) */
  uint32_t weight_type; /* GPT2_WTYPE_*: the file's weight mix (AUTO: as held) */
  /* 0.2: 0 (default): output.weight is written even when the model ties it
     to the token embedding (a copy, in the type llama-quantize gives it),
     as llama.cpp's converter writes it: every llama.cpp version loads the
     file. 1: a tied output matrix is left out (smaller; llama.cpp before
     about March 2025 refuses such files). */
  uint32_t omit_tied_output;
} gpt2_save_params;
#define GPT2_SAVE_PARAMS_INIT \
  { (uint32_t)sizeof(gpt2_save_params), GPT2_WTYPE_AUTO, 0u }

/* ---- library ------------------------------------------------------------ */
/* "MAJOR.MINOR.PATCH" of the library actually loaded. Static storage. */
GPT2_API const char *gpt2_version(void);
/* A constant English name of a status code. Never NULL. */
GPT2_API const char *gpt2_strerror(int status);
/* Detail of the last failure in the calling thread (file, key, tensor, limit),
   or "" if none. Valid until the next libgpt2 call in this thread. */
GPT2_API const char *gpt2_last_error(void);

/* ---- model -------------------------------------------------------------- */
/* Load a model from `path`: a Hugging Face GPT-2 directory (config.json,
   model.safetensors, vocab.json, merges.txt) or a .gguf file (architecture
   gpt2). `params` may be NULL. On success *out owns the model; free it with
   gpt2_model_free(). On failure *out is NULL, nothing leaks, and
   gpt2_last_error() names the file and the problem. Any thread. */
GPT2_API int gpt2_load(const char *path, const gpt2_load_params *params,
                       gpt2_model **out);
/* Release the caller's reference. Contexts still alive keep the model alive
   until they are freed. NULL is accepted. */
GPT2_API void gpt2_model_free(gpt2_model *model);

GPT2_API int gpt2_n_vocab(const gpt2_model *model);
GPT2_API int gpt2_n_ctx_train(const gpt2_model *model);
GPT2_API int gpt2_n_embd(const gpt2_model *model);
GPT2_API int gpt2_n_layer(const gpt2_model *model);
GPT2_API int gpt2_n_head(const gpt2_model *model);
/* <|endoftext|>, or -1 if the vocabulary has none. */
GPT2_API gpt2_token gpt2_token_eot(const gpt2_model *model);
/* Bytes of the weights as held in memory (after any conversion at load; a
   tied output matrix counted once), and the number of weights. */
GPT2_API uint64_t gpt2_model_size(const gpt2_model *model);
GPT2_API uint64_t gpt2_model_n_params(const gpt2_model *model);
/* Bytes of weights that evaluating one token reads: every matrix and vector,
   the output matrix whole, and one row of each embedding table. With the
   KV cache traffic, what bounds generation speed by memory bandwidth
   (gpt2-bench, docs/performance.md). */
GPT2_API uint64_t gpt2_model_size_per_token(const gpt2_model *model);
/* Name of the kernel set chosen for this model ("scalar", "avx2",
   "avx2int8", "avx512", "avx512vnni", "avx512bf16", "neondot", "neon").
   GPT2_ISA=name
   in the environment forces one at load. "avx512vnni" (the default on CPUs
   with AVX512-VNNI) and "avx2int8" (the default on CPUs with AVX2 but no
   AVX-512) multiply Q8_0/Q4_0 and K-type weights with activations quantized
   to 8 bits, as llama.cpp does; "avx512bf16" (the default with AVX512-BF16 too) also
   multiplies BF16 weights with bf16-rounded activations: faster, less exact
   (docs/kernels.md); "neondot" (the default on ARM CPUs with the dot
   product, Linux) rounds the activations of Q8_0/Q4_0 and K-type products
   to 8 bits likewise. gpt2_load_params.fp32_products = 1 keeps every product
   in FP32. Static. */
GPT2_API const char *gpt2_model_isa(const gpt2_model *model);
/* Write the model to `path` as a GGUF v3 file that libgpt2 and llama.cpp
   load: llama.cpp's GPT-2 tensor names and metadata keys, the vocabulary
   and merges embedded. weight_type chooses the types by the same rules as
   gpt2_load_params.weight_type at load, so the file and the model converted
   at load give the same logits (docs/gguf.md): norms, biases and the
   position embeddings stay F32, Q4_0 keeps the embeddings Q8_0. The K
   mixes are llama-quantize's tensor by tensor, token_embd included (Q4_K
   or Q5_K beside a Q6_K output.weight; conversion at load unties a tied
   model the same way). Every block is bit for bit what ggml's reference
   quantizers write. `params` may be NULL. The file is written
   next to `path` and renamed over it when complete: on failure `path` is
   untouched. Any thread; the model is only read. */
GPT2_API int gpt2_save_gguf(const gpt2_model *model, const char *path,
                            const gpt2_save_params *params);

/* ---- context ------------------------------------------------------------ */
/* Create a context (one sequence) on `model`; it holds a reference to the
   model. `params` may be NULL. Any thread. */
GPT2_API int gpt2_context_new(const gpt2_model *model,
                              const gpt2_context_params *params,
                              gpt2_context **out);
/* NULL is accepted. */
GPT2_API void gpt2_context_free(gpt2_context *ctx);
/* Effective positions in the KV cache. */
GPT2_API size_t gpt2_n_ctx(const gpt2_context *ctx);

/* Append n tokens at the current position, evaluating them as one batch
   (one matrix product per layer) and filling the KV cache. Afterwards
   gpt2_logits() gives their logits. On failure (GPT2_E_RANGE for an id
   outside the vocabulary or a position past n_ctx, GPT2_E_INVALID for
   n == 0, GPT2_E_ABORTED when the abort_callback said stop, GPT2_E_NOMEM)
   the cache, position and logits are as they were. The one-context case
   of gpt2_eval_batch. */
GPT2_API int gpt2_eval(gpt2_context *ctx, const gpt2_token *tokens, size_t n);
/* Logits (n_vocab floats) of the i-th token of the last gpt2_eval batch;
   i = -1 is the last one. Other i need logits_all. NULL if not available.
   Valid until the next gpt2_eval/gpt2_truncate on this context. */
GPT2_API const float *gpt2_logits(const gpt2_context *ctx, int32_t i);
/* Number of tokens in the KV cache. */
GPT2_API size_t gpt2_pos(const gpt2_context *ctx);
/* Forget every position >= pos. The logits are no longer available
   until the next eval. GPT2_E_RANGE if pos > gpt2_pos(). */
GPT2_API int gpt2_truncate(gpt2_context *ctx, size_t pos);

/* ---- many sequences (0.2) ------------------------------------------------ */
/* One forward pass over several contexts of the same model: ctxs[i] appends
   tokens[i][0 .. n_tokens[i]) (n_tokens[i] may differ, and may be 0 for a
   context that sits this pass out; at least one must be non-zero). The
   weights are read once for the whole batch; attention runs per context
   over its own cache. Afterwards gpt2_logits(ctxs[i], ...) gives each
   context's logits as if it had been evaluated alone: bitwise the same,
   whatever the other contexts, their order and the thread count. A context
   with n_tokens[i] == 0 keeps its logits. Runs on ctxs[0]'s threads and
   scratch; every context's abort_callback is asked between layers. Errors
   (NULL arrays, n_ctxs 0, a context appearing twice, contexts of different
   models: GPT2_E_INVALID; a position past a context's n_ctx, a bad id:
   GPT2_E_RANGE; GPT2_E_ABORTED; GPT2_E_NOMEM) change no context at all.
   The contexts must not be in use by other threads during the call. */
GPT2_API int gpt2_eval_batch(gpt2_context *const *ctxs, const gpt2_token *const *tokens,
                             const size_t *n_tokens, size_t n_ctxs);
/* A new context holding a copy of src's sequence: positions, KV cache rows
   in use, history and last logits. params NULL: src's params and sampler
   RNG state (the copy draws what src would); given: those params (kv_type
   must match src's, n_ctx must hold src's positions: GPT2_E_INVALID /
   GPT2_E_RANGE) and a sampler seeded from params->seed, so that forks with
   different seeds sample different continuations. Copies only the
   positions in use. For n completions of one prompt, beam search, prompt
   caching. src is only read. */
GPT2_API int gpt2_context_copy(const gpt2_context *src, const gpt2_context_params *params,
                               gpt2_context **out);
/* A context's state as bytes (buffer convention of the header) and back.
   The bytes carry a format version, a fingerprint of the model
   (hyper-parameters, weight types, a checksum of the vocabulary), the KV
   type, the positions with their history and cache rows, the last logits,
   the RNG state and a checksum of the whole. Loading state made with
   another model or KV type, or a cut or corrupted blob, gives
   GPT2_E_FORMAT; a blob with more positions than the context's n_ctx
   GPT2_E_RANGE. On any failure the context is unchanged. A successful load
   replaces the context's whole sequence (positions beyond the blob's are
   forgotten). */
GPT2_API int gpt2_state_save(const gpt2_context *ctx, void *out, size_t cap, size_t *n_out);
GPT2_API int gpt2_state_load(gpt2_context *ctx, const void *data, size_t len);

/* ---- tokenizer ---------------------------------------------------------- */
#define GPT2_TOKENIZE_SPECIAL 1u /* the literal "<|endoftext|>" becomes EOT */

/* Byte-level BPE exactly as GPT-2. Any bytes are accepted (invalid UTF-8
   is tokenized losslessly, see docs/tokenizer.md). Any thread. */
GPT2_API int gpt2_tokenize(const gpt2_model *model, const char *text,
                           size_t len, unsigned flags, gpt2_token *out,
                           size_t cap, size_t *n_out);
/* The raw bytes of a token (not NUL-terminated), valid while the model
   lives; NULL for an id out of range. */
GPT2_API const char *gpt2_token_bytes(const gpt2_model *model, gpt2_token t,
                                      size_t *len);
/* Concatenated bytes of n tokens. GPT2_E_RANGE for a bad id. */
GPT2_API int gpt2_detokenize(const gpt2_model *model, const gpt2_token *tokens,
                             size_t n, char *out, size_t cap, size_t *n_out);

/* Streaming detokenizer: push tokens one by one, get only complete UTF-8
   back; partial sequences are held until completed or flushed. */
GPT2_API int gpt2_detok_new(const gpt2_model *model, gpt2_detok **out);
GPT2_API void gpt2_detok_free(gpt2_detok *detok);
/* Appends the bytes of `t`; writes the newly completed UTF-8 text to out.
   Bytes that can never become valid UTF-8 are emitted as they are. At most
   3 bytes are held, so one push writes at most the token's length + 3. On
   failure (GPT2_E_BUFFER with *n_out set, GPT2_E_RANGE) the state is
   unchanged and the push can be repeated. One thread at a time. */
GPT2_API int gpt2_detok_push(gpt2_detok *detok, gpt2_token t, char *out,
                             size_t cap, size_t *n_out);
/* Writes what is held back (raw bytes, at most 3) and resets the state. */
GPT2_API int gpt2_detok_flush(gpt2_detok *detok, char *out, size_t cap,
                              size_t *n_out);

/* ---- sampling ----------------------------------------------------------- */
/* A per-token additive bias, as OpenAI's `logit_bias`. */
typedef struct gpt2_logit_bias {
  gpt2_token token; /* 0 <= token < gpt2_n_vocab() */
  float bias;       /* added to the logit; -INFINITY bans the token. Must not
                       be NaN or +INFINITY. */
} gpt2_logit_bias;

/* How gpt2_sample() picks the next token. Names and meanings follow Hugging
   Face generate(); the defaults are those of GPT2_SAMPLE_PARAMS_INIT (also
   used for NULL params and for fields beyond `size`).

   Order of operations on the last logits (docs/sampling.md):
     1. repetition_penalty, presence_penalty and frequency_penalty, for the
        tokens among the last repeat_last_n tokens of the context's history
        (the prompt included); then, with no_repeat_ngram_size n > 0, every
        token that would repeat an n-gram of the whole history is banned
        (Hugging Face's no_repeat_ngram_size: the tokens that followed
        earlier occurrences of the history's last n - 1 tokens);
     2. logit_bias is added;
     3. temperature == 0: the highest logit wins (greedy; no random number
        is drawn). Otherwise the logits are divided by the temperature and
        turned into probabilities, then
     4. top_k keeps the k most probable tokens,
     5. top_p keeps, of those, the smallest set of most probable tokens whose
        probability (renormalised over the top-k set) sums to at least top_p,
     6. min_p keeps, of those, the tokens whose probability is at least
        min_p times that of the most probable token,
     7. typical_p (Hugging Face's typical decoding) keeps, of those, the
        tokens ranked by how far their -log p is from the entropy of what
        is left, the fewest whose probability sums to at least typical_p
        (and any tied with the last one kept),
     8. one token is drawn from what is left, in proportion to probability.
   Ties (equal logits) are ordered by lower token id first, so top_k = 1 and
   greedy pick the lowest id among equal maxima.

   Determinism: the random numbers come from the context's xoshiro256**
   generator (seeded from gpt2_context_params.seed with splitmix64; each
   sampled token draws exactly one 53-bit uniform). Sampling runs on one
   thread. Same logits + same params + same RNG state give the same token,
   whatever n_threads. Logits themselves are bitwise identical across thread
   counts but not across kernel sets (GPT2_ISA): scalar, AVX2 and AVX-512
   round differently, so a forced ISA may give a different sequence. */
typedef struct gpt2_sample_params {
  uint32_t size;            /* sizeof(gpt2_sample_params) */
  float temperature;        /* 1.0; 0 = greedy; must be finite and >= 0 */
  int32_t top_k;            /* 50 (as Hugging Face); 0 = off; >= 0 */
  float top_p;              /* 1.0 = off; in [0, 1] (0 keeps one token) */
  float min_p;              /* 0 = off; in [0, 1] */
  float repetition_penalty; /* 1.0 = off; > 0. A penalised logit is divided
                               by it if positive, multiplied if negative */
  int32_t repeat_last_n;    /* tokens of history the penalties look at:
                               -1 (default) = all, 0 = none */
  float presence_penalty;   /* 0; subtracted once from each seen token */
  float frequency_penalty;  /* 0; subtracted once per occurrence */
  uint32_t n_logit_bias;    /* entries in logit_bias (0) */
  const gpt2_logit_bias *logit_bias; /* caller's array, read during the call
                                        only; NULL if n_logit_bias is 0 */
  /* 0.3 */
  float typical_p;          /* 1.0 = off; in [0, 1] */
  int32_t no_repeat_ngram_size; /* 0 = off; >= 0 */
} gpt2_sample_params;
#define GPT2_SAMPLE_PARAMS_INIT                                           \
  { (uint32_t)sizeof(gpt2_sample_params), 1.0f, 50, 1.0f, 0.0f, 1.0f, -1, \
    0.0f, 0.0f, 0u, NULL, 1.0f, 0 }

/* Draws the next token from the logits of the last evaluated token
   (gpt2_logits(ctx, -1)) and stores it in *out. It does not evaluate the
   token: pass it to gpt2_eval() to continue. `params` may be NULL
   (defaults). Advances the context's RNG by one draw unless greedy.
   Errors: GPT2_E_INVALID for a bad parameter (NaN, out of range, NULL
   logit_bias with a count), a NaN logit, or when every token is banned;
   GPT2_E_RANGE for a logit_bias token out of the vocabulary; GPT2_E_STATE
   when no logits are available (before the first gpt2_eval, after
   gpt2_truncate); GPT2_E_NOMEM. On failure *out and the RNG state are
   unchanged. The context's thread. */
GPT2_API int gpt2_sample(gpt2_context *ctx, const gpt2_sample_params *params,
                         gpt2_token *out);
/* 0.3: gpt2_sample(), also storing in *logprob (if not NULL) the
   log-probability of the drawn token under the model: the log-softmax of
   the raw logits, as gpt2_logprob(ctx, -1, *out) gives, whatever the
   sampling params (temperature, penalties, filters change which token is
   drawn, not the number reported; OpenAI's `logprobs` are the same). Same
   errors as gpt2_sample(); on failure *out, *logprob and the RNG are
   unchanged. The context's thread. */
GPT2_API int gpt2_sample_logprob(gpt2_context *ctx, const gpt2_sample_params *params,
                                 gpt2_token *out, double *logprob);

/* ---- log-probabilities, scoring, embeddings (0.3) ------------------------ */
/* Log-probabilities are the log-softmax of a row of logits, computed with
   the largest logit subtracted and the sum of exponentials accumulated in
   double, so any finite logits (and -inf ones) give finite results. */

/* A token and its log-probability (natural log, <= 0). */
typedef struct gpt2_token_logprob {
  gpt2_token token;
  double logprob;
} gpt2_token_logprob;

/* Log-probability of `token` at the i-th token of the last gpt2_eval batch
   (the distribution of the token that follows it; i as for gpt2_logits():
   -1 is the last, others need logits_all). Errors: GPT2_E_INVALID (NULL),
   GPT2_E_RANGE (token outside the vocabulary), GPT2_E_STATE (no logits for
   i: before the first eval, after gpt2_truncate, i outside the last batch
   or not the last without logits_all). *logprob is unchanged on failure.
   Reads the context only. */
GPT2_API int gpt2_logprob(const gpt2_context *ctx, int32_t i, gpt2_token token,
                          double *logprob);
/* The k most probable tokens at the i-th token of the last batch (i as
   above), most probable first, ties by lower id: min(k, n_vocab) entries
   written to out (buffer convention: cap too small gives GPT2_E_BUFFER
   with *n_out set; out = NULL, cap = 0 asks for the count). k = 0 writes
   nothing. Same errors as gpt2_logprob() otherwise; GPT2_E_NOMEM. */
GPT2_API int gpt2_top_logprobs(const gpt2_context *ctx, int32_t i, size_t k,
                               gpt2_token_logprob *out, size_t cap, size_t *n_out);

typedef struct gpt2_score_params {
  uint32_t size;      /* sizeof(gpt2_score_params) */
  uint32_t window;    /* tokens the model sees at once; 0 = the model's n_ctx */
  uint32_t stride;    /* tokens the window advances when the text is longer
                         than it; 0 = window / 2; in [1, window - 1] */
  uint32_t n_threads; /* 0 = number of online CPUs */
  const gpt2_token *prefix; /* the tokens the text follows, not scored; */
  uint32_t n_prefix;        /* 0: <|endoftext|> (an error if the vocabulary
                               has none) */
  uint32_t reserved;        /* must be 0 */
} gpt2_score_params;
#define GPT2_SCORE_PARAMS_INIT \
  { (uint32_t)sizeof(gpt2_score_params), 0u, 0u, 0u, NULL, 0u, 0u }

/* Scores a text: logprobs[t] = log p(tokens[t] | the tokens before it),
   for every t < n, the first conditioned on the prefix. Any length: past
   `window` tokens the window slides as in Hugging Face's perplexity guide
   (docs/api.md): windows start at 0, stride, 2 stride, ... of prefix +
   tokens, and each token is scored in the first window that holds it past
   the end of the previous one, so with at least window - stride tokens
   before it (or all there are). Tokens run through the model in batches,
   at prefill speed; on its own threads and KV cache (nothing of the
   caller's changes but logprobs). Errors: GPT2_E_INVALID (NULL, n = 0,
   bad params, no <|endoftext|> and no prefix), GPT2_E_RANGE (a token id,
   window past the model's n_ctx), GPT2_E_NOMEM. logprobs is written only
   on success. Any thread; the model is only read. */
GPT2_API int gpt2_score(const gpt2_model *model, const gpt2_token *tokens, size_t n,
                        const gpt2_score_params *params, double *logprobs);

/* The final hidden states of the last gpt2_eval batch (a context made with
   embeddings = 1): n_embd floats per token, in batch order, written to out
   (buffer convention, counted in floats: batch tokens x n_embd). Errors:
   GPT2_E_INVALID (NULL ctx or n_out), GPT2_E_STATE (embeddings off, no
   batch since creation or gpt2_truncate), GPT2_E_BUFFER. Reads the context
   only. */
GPT2_API int gpt2_embeddings(const gpt2_context *ctx, float *out, size_t cap, size_t *n_out);

#ifdef __cplusplus
}
#endif
#endif /* GPT2_H */
