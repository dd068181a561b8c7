/* gpt2_state_load on the tiny test model: a real blob (a context with
   fuzzed n_ctx, KV type, logits_all and positions, saved), then changed as
   the input says (bytes flipped, with or without the checksum made right
   again so that the header checks are reached; cut; or the input itself as
   the blob), loaded into a context with fuzzed n_ctx, KV type and
   positions. Checked: the status is GPT2_OK, GPT2_E_FORMAT or GPT2_E_RANGE;
   an unchanged blob loads (GPT2_E_RANGE when it holds more positions than
   the target, GPT2_E_FORMAT for another KV type); a failed load leaves the
   target as it was (its own saved bytes unchanged) with a message; a
   successful one gives the blob's position, and saving again gives the
   blob's very bytes when the two contexts keep the same kind of logits;
   nothing leaks. */
#include "fuzz_common.h"
#include "tokenizer/strtab.h"

enum { MAX_EDITS = 8, CHECKSUM_BYTES = 8 };

static unsigned char *save(const gpt2_context *ctx, size_t *len) {
  size_t need = 0;
  gpt2_state_save(ctx, NULL, 0, &need);
  unsigned char *blob = malloc(need);
  if (!blob || gpt2_state_save(ctx, blob, need, len) != GPT2_OK) {
    fuzz_fail("gpt2_state_save failed: %s", gpt2_last_error());
    free(blob);
    return NULL;
  }
  return blob;
}

/* A context on model with n_ctx 1..64 positions, n_used of them evaluated
   (token ids derived from `salt`); NULL if it cannot be made. */
static gpt2_context *context_with(gpt2_model *model, uint32_t n_ctx, uint32_t kv_type, uint32_t logits_all,
                                  size_t n_used, uint32_t salt) {
  gpt2_context_params p = GPT2_CONTEXT_PARAMS_INIT;
  p.n_ctx = n_ctx;
  p.n_threads = 1;
  p.kv_type = kv_type;
  p.logits_all = logits_all;
  p.seed = salt;
  gpt2_context *ctx = NULL;
  if (gpt2_context_new(model, &p, &ctx) != GPT2_OK) {
    fuzz_fail("context_new: %s", gpt2_last_error());
    return NULL;
  }
  gpt2_token tokens[64];
  int32_t n_vocab = gpt2_n_vocab(model);
  for (size_t i = 0; i < n_used; i++) tokens[i] = (gpt2_token)((salt + i * 37u) % (uint32_t)n_vocab);
  if (n_used && gpt2_eval(ctx, tokens, n_used) != GPT2_OK) fuzz_fail("eval: %s", gpt2_last_error());
  return ctx;
}

int fuzz_state(const uint8_t *data, size_t size) {
  gpt2_model *model = fuzz_model();
  fuzz_input in = {data, size, 0};
  long live = g2_alloc_live_blocks();
  uint32_t max_ctx = (uint32_t)gpt2_n_ctx_train(model) < 64 ? (uint32_t)gpt2_n_ctx_train(model) : 64;

  uint8_t flags = fuzz_u8(&in);
  uint32_t src_ctx = 1 + fuzz_u8(&in) % max_ctx, dst_ctx = 1 + fuzz_u8(&in) % max_ctx;
  size_t src_used = fuzz_u8(&in) % (src_ctx + 1), dst_used = fuzz_u8(&in) % (dst_ctx + 1);
  uint32_t src_kv = flags & 1, dst_kv = flags & 2 ? !src_kv : src_kv;
  uint32_t src_all = (flags >> 2) & 1, dst_all = flags & 8 ? !src_all : src_all;
  uint8_t mode = fuzz_u8(&in) % 4; /* 0 flips, 1 flips + checksum, 2 cut, 3 the input is the blob */

  gpt2_context *src = context_with(model, src_ctx, src_kv, src_all, src_used, flags);
  gpt2_context *dst = context_with(model, dst_ctx, dst_kv, dst_all, dst_used, flags ^ 0x55u);
  size_t len = 0, dst_len = 0;
  unsigned char *blob = src ? save(src, &len) : NULL, *before = dst ? save(dst, &dst_len) : NULL;
  unsigned char *original = blob ? malloc(len) : NULL;
  if (!src || !dst || !blob || !before || !original) goto done;
  memcpy(original, blob, len);

  const unsigned char *load_data = blob;
  size_t load_len = len;
  if (mode == 0 || mode == 1) {
    uint8_t n_edits = fuzz_u8(&in) % (MAX_EDITS + 1);
    for (uint8_t e = 0; e < n_edits; e++) {
      uint32_t at = fuzz_u32(&in) % (uint32_t)len;
      blob[at] ^= fuzz_u8(&in);
    }
    if (mode == 1) {
      uint64_t checksum = g2_hash_bytes(blob, len - CHECKSUM_BYTES);
      memcpy(blob + len - CHECKSUM_BYTES, &checksum, sizeof checksum);
    }
  } else if (mode == 2) {
    load_len = fuzz_u32(&in) % (len + 1);
  } else {
    load_data = data + in.pos;
    load_len = size - in.pos;
  }
  int unchanged = load_len == len && memcmp(load_data, original, len) == 0;

  int status = gpt2_state_load(dst, load_data, load_len);
  if (status != GPT2_OK && status != GPT2_E_FORMAT && status != GPT2_E_RANGE)
    fuzz_fail("state_load gave %d (%s)", status, gpt2_strerror(status));
  if (unchanged) {
    int expected = dst_kv != src_kv ? GPT2_E_FORMAT : src_used > dst_ctx ? GPT2_E_RANGE : GPT2_OK;
    if (status != expected)
      fuzz_fail("an unchanged blob (%zu positions, kv %u) into n_ctx %u kv %u gave %d, not %d: %s", src_used,
                (unsigned)src_kv, (unsigned)dst_ctx, (unsigned)dst_kv, status, expected, gpt2_last_error());
  }
  if (status != GPT2_OK) fuzz_check_error_message(status, "gpt2_state_load");
  size_t now_len = 0;
  unsigned char *now = save(dst, &now_len);
  if (!now) goto done;
  if (status != GPT2_OK) {
    if (now_len != dst_len || memcmp(now, before, dst_len) != 0) fuzz_fail("a failed load changed the context");
  } else {
    uint64_t pos;
    memcpy(&pos, load_data + 24, sizeof pos);
    if (gpt2_pos(dst) != pos) fuzz_fail("loaded position %zu, the blob says %llu", gpt2_pos(dst), (unsigned long long)pos);
    uint32_t blob_all;
    memcpy(&blob_all, load_data + 48, sizeof blob_all);
    if (dst_all == blob_all && (now_len != load_len || memcmp(now, load_data, load_len) != 0))
      fuzz_fail("saving a loaded state does not give the loaded bytes back");
  }
  free(now);

done:
  free(original);
  free(blob);
  free(before);
  gpt2_context_free(src);
  gpt2_context_free(dst);
  fuzz_check_no_leak(live, "fuzz_state");
  return 0;
}

#ifndef FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_state(data, size); }
#endif
