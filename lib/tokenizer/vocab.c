/* Building the tokenizer's tables from a vocabulary and a merge list in
   GPT-2's mapped form, and looking tokens up. */
#include <string.h>

#include "core/alloc.h"
#include "core/error.h"
#include "gpt2.h"
#include "tokenizer/bpe.h"
#include "core/utf8.h"
#include "tokenizer/vocab.h"

static const char eot_text[] = "<|endoftext|>";

/* Decodes one mapped-form token into raw bytes (out may be NULL to only
   measure). A token with a character outside the byte map (an added token
   such as a GGUF user token) keeps its UTF-8 text as its bytes. Returns the
   byte length, or 0 for an empty token or invalid UTF-8. */
static size_t decode_token(g2_str text, char *out, int *raw) {
  const unsigned char *s = (const unsigned char *)text.ptr;
  size_t n_chars = 0;
  *raw = 0;
  for (size_t i = 0; i < text.len;) {
    uint32_t cp;
    size_t n = g2_utf8_decode(s + i, text.len - i, &cp);
    if (n == 0) return 0;
    int byte = g2_cp_to_byte(cp);
    if (byte < 0) *raw = 1;
    else if (out) out[n_chars] = (char)byte;
    n_chars++;
    i += n;
  }
  if (*raw) {
    if (out) memcpy(out, text.ptr, text.len);
    return text.len;
  }
  return n_chars;
}

static int build_token_bytes(g2_tokenizer *tok, const g2_str *tokens,
                             const char *source) {
  size_t total = 0;
  for (size_t i = 0; i < tok->n_tokens; i++) {
    int raw;
    if (!tokens[i].ptr && tokens[i].len)
      return g2_fail(GPT2_E_INVALID, "%s: token %zu has no text", source, i);
    /* no pre-token is that long (g2_bpe), so no text gives such a token */
    if (tokens[i].len >= G2_MAX_TOKEN_BYTES)
      return g2_fail(GPT2_E_FORMAT, "%s: token %zu is %zu bytes long (the limit is 2^29 - 1)",
                     source, i, tokens[i].len);
    size_t len = decode_token(tokens[i], NULL, &raw);
    if (len == 0)
      return g2_fail(GPT2_E_FORMAT, "%s: token %zu is %s", source, i,
                     tokens[i].len ? "not valid UTF-8" : "empty");
    total += len; /* len <= tokens[i].len: the sum fits, as the input does */
  }
  tok->blob = g2_malloc(total);
  tok->token_bytes = g2_malloc_array(tok->n_tokens, sizeof *tok->token_bytes);
  tok->token_flags = g2_calloc(tok->n_tokens, 1);
  if (!tok->blob || !tok->token_bytes || !tok->token_flags)
    return g2_fail(GPT2_E_NOMEM, "%s: out of memory for %zu tokens", source,
                   tok->n_tokens);
  char *at = tok->blob;
  for (size_t i = 0; i < tok->n_tokens; i++) {
    int raw;
    size_t len = decode_token(tokens[i], at, &raw);
    tok->token_bytes[i] = (g2_str){at, len};
    if (raw) tok->token_flags[i] = G2_TOKEN_RAW;
    at += len;
  }
  return GPT2_OK;
}

/* Lookups by mapped text use a table keyed by the caller's strings, which
   only lives while the tokenizer is being built. */
static int build_mapped_table(g2_strtab *mapped, const g2_str *tokens,
                              size_t n_tokens, const char *source) {
  if (g2_strtab_init(mapped, n_tokens) != GPT2_OK)
    return g2_fail(GPT2_E_NOMEM, "%s: out of memory for the token table",
                   source);
  for (size_t i = 0; i < n_tokens; i++) {
    int32_t other = g2_strtab_find(mapped, tokens, tokens[i].ptr, tokens[i].len);
    if (other >= 0)
      return g2_fail(GPT2_E_FORMAT, "%s: token %zu repeats token %d", source,
                     i, (int)other);
    g2_strtab_add(mapped, tokens, (int32_t)i);
  }
  return GPT2_OK;
}

static int build_byte_tokens(g2_tokenizer *tok, const g2_strtab *mapped,
                             const g2_str *tokens, const char *source) {
  for (int byte = 0; byte < 256; byte++) {
    unsigned char text[4];
    size_t len = g2_utf8_encode(g2_byte_to_cp((unsigned char)byte), text);
    tok->byte_token[byte] =
        g2_strtab_find(mapped, tokens, (const char *)text, len);
    if (tok->byte_token[byte] < 0)
      return g2_fail(GPT2_E_FORMAT,
                     "%s: no token for byte 0x%02X (every byte needs one)",
                     source, byte);
  }
  return GPT2_OK;
}

static void add_pair(g2_tokenizer *tok, int32_t left, int32_t right,
                     int32_t rank) {
  uint64_t key = g2_pair_key(left, right);
  size_t i = g2_pair_hash(key) & tok->pair_mask;
  while (tok->pair_keys[i] != G2_PAIR_EMPTY && tok->pair_keys[i] != key)
    i = (i + 1) & tok->pair_mask;
  /* A repeated pair takes its last rank, as encoder.py's dict does. */
  tok->pair_keys[i] = key;
  tok->pair_ranks[i] = rank;
}

static int build_merges(g2_tokenizer *tok, const g2_strtab *mapped,
                        const g2_str *tokens, const g2_str *merges,
                        const char *source) {
  size_t capacity = 16, longest = 0;
  while (capacity / 2 < tok->n_merges) capacity *= 2; /* n_merges < 2^31 */
  for (size_t r = 0; r < tok->n_merges; r++)
    if (merges[r].len > longest) longest = merges[r].len;
  tok->merges = g2_malloc_array(tok->n_merges, sizeof *tok->merges);
  tok->pair_keys = g2_malloc_array(capacity, sizeof *tok->pair_keys);
  tok->pair_ranks = g2_malloc_array(capacity, sizeof *tok->pair_ranks);
  char *joined = g2_malloc(longest);
  if (!tok->merges || !tok->pair_keys || !tok->pair_ranks || !joined) {
    g2_free(joined);
    return g2_fail(GPT2_E_NOMEM, "%s: out of memory for %zu merges", source,
                   tok->n_merges);
  }
  tok->pair_mask = capacity - 1;
  for (size_t i = 0; i < capacity; i++) tok->pair_keys[i] = G2_PAIR_EMPTY;

  int status = GPT2_OK;
  for (size_t r = 0; r < tok->n_merges && status == GPT2_OK; r++) {
    const char *text = merges[r].ptr;
    size_t len = merges[r].len;
    const char *space = text ? memchr(text, ' ', len) : NULL;
    size_t left_len = space ? (size_t)(space - text) : 0;
    size_t right_len = space ? len - left_len - 1 : 0;
    if (!space || left_len == 0 || right_len == 0 ||
        memchr(space + 1, ' ', right_len)) {
      status = g2_fail(GPT2_E_FORMAT,
                       "%s: merge %zu is not two tokens separated by one space",
                       source, r);
      break;
    }
    memcpy(joined, text, left_len);
    memcpy(joined + left_len, space + 1, right_len);
    int32_t left = g2_strtab_find(mapped, tokens, text, left_len);
    int32_t right = g2_strtab_find(mapped, tokens, space + 1, right_len);
    int32_t result = g2_strtab_find(mapped, tokens, joined, left_len + right_len);
    if (left < 0 || right < 0 || result < 0) {
      status = g2_fail(GPT2_E_FORMAT,
                       "%s: merge %zu: %s is not in the vocabulary", source, r,
                       left < 0 ? "its first token"
                       : right < 0 ? "its second token" : "the merged token");
      break;
    }
    tok->merges[r] = (g2_merge){left, right, result};
    add_pair(tok, left, right, (int32_t)r);
  }
  g2_free(joined);
  return status;
}

static int build_byte_table(g2_tokenizer *tok, const char *source) {
  if (g2_strtab_init(&tok->by_bytes, tok->n_tokens) != GPT2_OK)
    return g2_fail(GPT2_E_NOMEM, "%s: out of memory for the token table",
                   source);
  /* Mapped tokens have distinct bytes; a raw token with the same bytes as
     one of them is only reachable by its id. */
  for (int pass = 0; pass < 2; pass++) {
    for (size_t i = 0; i < tok->n_tokens; i++) {
      int raw = tok->token_flags[i] & G2_TOKEN_RAW;
      if (raw != (pass ? (int)G2_TOKEN_RAW : 0)) continue;
      g2_str bytes = tok->token_bytes[i];
      if (!raw || g2_strtab_find(&tok->by_bytes, tok->token_bytes, bytes.ptr,
                                 bytes.len) < 0)
        g2_strtab_add(&tok->by_bytes, tok->token_bytes, (int32_t)i);
    }
  }
  return GPT2_OK;
}

int g2_tokenizer_new(const g2_str *tokens, size_t n_tokens,
                     const g2_str *merges, size_t n_merges,
                     const char *source, g2_tokenizer **out) {
  if (!out || (!tokens && n_tokens) || (!merges && n_merges))
    return g2_fail(GPT2_E_INVALID, "g2_tokenizer_new: NULL argument");
  *out = NULL;
  if (!source) source = "vocabulary";
  if (n_tokens > INT32_MAX || n_merges > INT32_MAX)
    return g2_fail(GPT2_E_FORMAT, "%s: %zu tokens and %zu merges (at most %d)",
                   source, n_tokens, n_merges, INT32_MAX);
  g2_tokenizer *tok = g2_calloc(1, sizeof *tok);
  if (!tok) return g2_fail(GPT2_E_NOMEM, "%s: out of memory", source);
  tok->n_tokens = n_tokens;
  tok->n_merges = n_merges;

  g2_strtab mapped = {0};
  int status = build_token_bytes(tok, tokens, source);
  if (status == GPT2_OK)
    status = build_mapped_table(&mapped, tokens, n_tokens, source);
  if (status == GPT2_OK)
    status = build_byte_tokens(tok, &mapped, tokens, source);
  if (status == GPT2_OK)
    status = build_merges(tok, &mapped, tokens, merges, source);
  if (status == GPT2_OK) status = build_byte_table(tok, source);
  if (status == GPT2_OK) {
    tok->eot = g2_strtab_find(&mapped, tokens, eot_text, sizeof eot_text - 1);
    status = g2_bpe_mark_self(tok, source);
  }
  g2_strtab_free(&mapped);
  if (status != GPT2_OK) {
    g2_tokenizer_free(tok);
    return status;
  }
  *out = tok;
  return GPT2_OK;
}

void g2_tokenizer_free(g2_tokenizer *tok) {
  if (!tok) return;
  g2_free(tok->token_bytes);
  g2_free(tok->blob);
  g2_free(tok->token_flags);
  g2_strtab_free(&tok->by_bytes);
  g2_free(tok->merges);
  g2_free(tok->pair_keys);
  g2_free(tok->pair_ranks);
  g2_free(tok);
}

size_t g2_tokenizer_n_tokens(const g2_tokenizer *tok) { return tok->n_tokens; }

int32_t g2_tokenizer_eot(const g2_tokenizer *tok) { return tok->eot; }

const char *g2_token_bytes(const g2_tokenizer *tok, int32_t id, size_t *len) {
  if (id < 0 || (size_t)id >= tok->n_tokens) {
    if (len) *len = 0;
    return NULL;
  }
  if (len) *len = tok->token_bytes[id].len;
  return tok->token_bytes[id].ptr;
}

int32_t g2_tokenizer_find(const g2_tokenizer *tok, const char *bytes,
                          size_t len) {
  return g2_strtab_find(&tok->by_bytes, tok->token_bytes, bytes, len);
}
