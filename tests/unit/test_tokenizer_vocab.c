/* The tokenizer's tables: the real GPT-2 vocabulary, and every way a
   vocabulary or merge list can be malformed. */
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "gpt2.h"
#include "harness.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/vocab.h"
#include "tokenizer_fixture.h"

static int bytes_are(const g2_tokenizer *tok, int32_t id, const char *want,
                     size_t want_len) {
  size_t len;
  const char *bytes = g2_token_bytes(tok, id, &len);
  return bytes && len == want_len && memcmp(bytes, want, len) == 0;
}

static void test_real_vocabulary(void) {
  g2_tokenizer *tok = fixture_tokenizer();
  CHECK(tok != NULL, "vocab: GPT-2 vocabulary builds");
  if (!tok) return;
  CHECK(g2_tokenizer_n_tokens(tok) == 50257, "vocab: 50257 tokens");
  CHECK(g2_tokenizer_eot(tok) == 50256, "vocab: <|endoftext|> is 50256");
  CHECK(tok->n_merges == 50000, "vocab: 50000 merges");
  CHECK(bytes_are(tok, 220, " ", 1), "vocab: 220 is a space (U+0120)");
  CHECK(bytes_are(tok, 198, "\n", 1), "vocab: 198 is a newline (U+010A)");
  CHECK(bytes_are(tok, 31373, "hello", 5), "vocab: 31373 is hello");
  CHECK(bytes_are(tok, 995, " world", 6), "vocab: 995 is ' world'");
  CHECK(bytes_are(tok, 50256, "<|endoftext|>", 13), "vocab: eot bytes");
  /* Mapped-form decoding of non-ASCII bytes: token 2343 is "âĢ" = E2 80. */
  CHECK(g2_tokenizer_find(tok, "\xE2\x80", 2) >= 0,
        "vocab: the bytes E2 80 are a token");
  int bytes_ok = 1;
  for (int b = 0; b < 256; b++) {
    char byte = (char)b;
    int32_t id = tok->byte_token[b];
    bytes_ok &= bytes_are(tok, id, &byte, 1) &&
                g2_tokenizer_find(tok, &byte, 1) == id &&
                (tok->token_flags[id] & G2_TOKEN_SELF);
  }
  CHECK(bytes_ok, "vocab: every byte has its one-byte token");
  int find_ok = 1, raw = 0;
  for (size_t i = 0; i < 50257; i++) {
    size_t len;
    const char *bytes = g2_token_bytes(tok, (int32_t)i, &len);
    find_ok &= g2_tokenizer_find(tok, bytes, len) == (int32_t)i;
    raw += tok->token_flags[i] & G2_TOKEN_RAW;
  }
  CHECK(find_ok, "vocab: every token is found by its bytes");
  CHECK(raw == 0, "vocab: no GPT-2 token is outside the byte map");
  size_t len = 99;
  CHECK(g2_token_bytes(tok, -1, &len) == NULL && len == 0,
        "vocab: id -1 has no bytes");
  CHECK(g2_token_bytes(tok, 50257, &len) == NULL, "vocab: id 50257 has no bytes");
  CHECK(g2_tokenizer_find(tok, "no such token!", 14) < 0,
        "vocab: unknown bytes are not found");
  g2_tokenizer_free(tok);
}

/* A small vocabulary: the 256 byte tokens in byte order, then extras. */
enum { MAX_EXTRA = 8 };
typedef struct small_vocab {
  g2_str tokens[256 + MAX_EXTRA];
  char text[256][4];
  size_t n;
} small_vocab;

static void small_vocab_init(small_vocab *v) {
  for (int b = 0; b < 256; b++) {
    uint32_t cp = g2_byte_to_cp((unsigned char)b);
    size_t len = 0;
    if (cp < 0x80) {
      v->text[b][len++] = (char)cp;
    } else {
      v->text[b][len++] = (char)(0xC0 | (cp >> 6));
      v->text[b][len++] = (char)(0x80 | (cp & 0x3F));
    }
    v->tokens[b] = (g2_str){v->text[b], len};
  }
  v->n = 256;
}

static void small_vocab_add(small_vocab *v, const char *text) {
  v->tokens[v->n++] = (g2_str){text, strlen(text)};
}

static int build(small_vocab *v, const char *const *merges, size_t n_merges,
                 g2_tokenizer **out) {
  g2_str merge_strs[8];
  for (size_t i = 0; i < n_merges; i++)
    merge_strs[i] = (g2_str){merges[i], strlen(merges[i])};
  return g2_tokenizer_new(v->tokens, v->n, merge_strs, n_merges, "test", out);
}

static int build_fails(small_vocab *v, const char *const *merges,
                       size_t n_merges, const char *message_part) {
  g2_tokenizer *tok = (g2_tokenizer *)1;
  int status = build(v, merges, n_merges, &tok);
  int ok = status == GPT2_E_FORMAT && tok == NULL &&
           strstr(gpt2_last_error(), message_part) != NULL;
  if (!ok) printf("# status %d, message '%s'\n", status, gpt2_last_error());
  return ok;
}

static void test_malformed(void) {
  small_vocab v;
  small_vocab_init(&v);
  small_vocab_add(&v, "ab");
  const char *good[] = {"a b"};
  g2_tokenizer *tok = NULL;
  CHECK(build(&v, good, 1, &tok) == GPT2_OK, "vocab: small vocabulary builds");
  CHECK(tok && g2_tokenizer_eot(tok) == -1, "vocab: no eot gives -1");
  g2_tokenizer_free(tok);

  small_vocab_init(&v);
  small_vocab_add(&v, "a");
  CHECK(build_fails(&v, NULL, 0, "token 256 repeats token 97"),
        "vocab: duplicate token rejected");
  small_vocab_init(&v);
  small_vocab_add(&v, "");
  CHECK(build_fails(&v, NULL, 0, "token 256 is empty"),
        "vocab: empty token rejected");
  const char *bad_utf8[] = {"\xC3", "\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80",
                            "a\xFF", "\x80"};
  for (size_t i = 0; i < sizeof bad_utf8 / sizeof *bad_utf8; i++) {
    small_vocab_init(&v);
    small_vocab_add(&v, bad_utf8[i]);
    CHECK(build_fails(&v, NULL, 0, "token 256 is not valid UTF-8"),
          "vocab: invalid UTF-8 token %zu rejected", i);
  }
  small_vocab_init(&v);
  v.tokens[0x41] = (g2_str){"\xC4\xA0\xC4\xA0", 4}; /* "ĠĠ" instead of "A" */
  CHECK(build_fails(&v, NULL, 0, "no token for byte 0x41"),
        "vocab: missing byte token rejected");

  small_vocab_init(&v);
  small_vocab_add(&v, "ab");
  const char *malformed[] = {"ab", "a  b", " ab", "ab ", "a b c", ""};
  for (size_t i = 0; i < sizeof malformed / sizeof *malformed; i++)
    CHECK(build_fails(&v, &malformed[i], 1, "merge 0 is not two tokens"),
          "vocab: malformed merge '%s' rejected", malformed[i]);
  const char *unknown_part[] = {"a b", "xy b"};
  CHECK(build_fails(&v, unknown_part, 2, "merge 1: its first token"),
        "vocab: merge with an unknown token rejected");
  const char *unknown_result[] = {"b a"};
  CHECK(build_fails(&v, unknown_result, 1, "merge 0: the merged token"),
        "vocab: merge whose result is not a token rejected");
}

/* A token with characters outside the byte map keeps its UTF-8 text; one
   whose bytes equal a mapped token's is only reachable by id. */
static void test_raw_tokens(void) {
  small_vocab v;
  small_vocab_init(&v);
  small_vocab_add(&v, "\xC3\xA9t\xC3\xA9");        /* "été": é is U+00E9, in the map */
  small_vocab_add(&v, "\xE2\x82\xAC");             /* "€" (U+20AC): not in the map */
  small_vocab_add(&v, "\xC3\xA2\xC4\xA4\xC2\xAC"); /* "âĤ¬": mapped form of E2 82 AC */
  small_vocab_add(&v, "\xD0\xB6");                 /* "ж": raw, bytes D0 B6 */
  g2_tokenizer *tok = NULL;
  CHECK(build(&v, NULL, 0, &tok) == GPT2_OK, "vocab: added tokens accepted");
  if (!tok) return;
  CHECK(bytes_are(tok, 256, "\xE9t\xE9", 3), "vocab: 'été' decodes to E9 74 E9");
  CHECK(bytes_are(tok, 257, "\xE2\x82\xAC", 3) &&
            (tok->token_flags[257] & G2_TOKEN_RAW),
        "vocab: '€' keeps its UTF-8 bytes");
  CHECK(bytes_are(tok, 258, "\xE2\x82\xAC", 3), "vocab: 'âĤ¬' decodes to E2 82 AC");
  CHECK(g2_tokenizer_find(tok, "\xE2\x82\xAC", 3) == 258,
        "vocab: the mapped token wins the bytes E2 82 AC");
  CHECK(g2_tokenizer_find(tok, "\xD0\xB6", 2) == 259,
        "vocab: a raw token is found when no mapped one has its bytes");
  g2_tokenizer_free(tok);
}

/* Every allocation failure is reported and leaks nothing (ASan/valgrind). */
static void test_allocation_failures(void) {
  small_vocab v;
  small_vocab_init(&v);
  small_vocab_add(&v, "ab");
  small_vocab_add(&v, "abab");
  const char *merges[] = {"a b", "ab ab"};
  g2_tokenizer *tok = NULL;
  g2_alloc_fail_at(0);
  build(&v, merges, 2, &tok);
  size_t count = g2_alloc_fail_at(0);
  g2_tokenizer_free(tok);
  int all_fail = 1;
  for (size_t n = 1; n <= count; n++) {
    tok = NULL;
    g2_alloc_fail_at(n);
    int status = build(&v, merges, 2, &tok);
    all_fail &= status == GPT2_E_NOMEM && tok == NULL;
  }
  g2_alloc_fail_at(0);
  CHECK(count > 0 && all_fail,
        "vocab: each of %zu allocations failing gives GPT2_E_NOMEM", count);
}

int main(void) {
  test_real_vocabulary();
  test_malformed();
  test_raw_tokens();
  test_allocation_failures();
  HARNESS_EXIT();
}
