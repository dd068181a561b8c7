/* Tokenizer behaviour beyond the reference cases: pre-tokenizer rules,
   Unicode classes, invalid UTF-8, lossless round trips of random bytes,
   the two BPE strategies, long pieces, buffers, streaming, threads. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "gpt2.h"
#include "harness.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pretokenize.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer/unicode_tables.h"
#include "core/utf8.h"
#include "tokenizer_fixture.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rng_next(void) { /* xorshift64*: deterministic test data */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return (uint32_t)((rng_state * 0x2545F4914F6CDD1Dull) >> 32);
}

/* The pieces of text as "|"-separated string, e.g. "a|  | b". */
static const char *pieces(const char *text, size_t len) {
  static char out[1024];
  size_t at = 0;
  for (size_t pos = 0; pos < len;) {
    size_t end = g2_pretokenize_next((const unsigned char *)text, len, pos);
    if (pos) out[at++] = '|';
    memcpy(out + at, text + pos, end - pos);
    at += end - pos;
    pos = end;
  }
  out[at] = '\0';
  return out;
}

#define PIECES(text, want) \
  CHECK(strcmp(pieces(text, sizeof text - 1), want) == 0, \
        "pretokenize: %s -> %s", #text, #want)

static void test_pretokenizer(void) {
  PIECES("a   b", "a|  | b");
  PIECES("a   ", "a|   ");
  PIECES("   a", "  | a");
  PIECES("a\nb", "a|\n|b");
  PIECES("a\n\nb", "a|\n|\n|b");
  PIECES("a \nb", "a| |\n|b");
  PIECES("a\t b", "a|\t| b");
  PIECES("a \tb", "a| |\t|b");
  PIECES("he's", "he|'s");
  PIECES("HE'S", "HE|'|S");
  PIECES("we'll've", "we|'ll|'ve");
  PIECES("''s", "''|s");
  PIECES(" 's", " '|s");
  PIECES("x1 23y", "x|1| 23|y");
  PIECES("!? ...", "!?| ...");
  PIECES("caf\xC3\xA9 na\xC3\xAFve", "caf\xC3\xA9| na\xC3\xAFve");
  PIECES("\xE4\xB8\xAD\xE6\x96\x87", "\xE4\xB8\xAD\xE6\x96\x87");
  PIECES("x\xC2\x85y", "x|\xC2\x85|y");            /* U+0085 is \s */
  PIECES("x \xC2\x85y", "x| |\xC2\x85|y");
  PIECES("x \xEF\xBB\xBFy", "x| \xEF\xBB\xBF|y");  /* U+FEFF is not */
  PIECES("a\xE3\x80\x80\xE3\x80\x80 b", "a|\xE3\x80\x80\xE3\x80\x80| b"); /* U+3000 */
  PIECES("\xC2\xBD\xE2\x85\xA8", "\xC2\xBD\xE2\x85\xA8"); /* No, Nl are \p{N} */
  /* Invalid bytes are "other" characters: they join punctuation runs and
     take the optional space, like U+FFFD. */
  PIECES("a\xFF!b", "a|\xFF!|b");
  PIECES("a \x80\x80 b", "a| \x80\x80| b");
  PIECES("\xE4\xB8x", "\xE4\xB8|x");
  PIECES("'\xFFs", "'\xFF|s");
  char nul[] = {'a', 0, 'b'};
  CHECK(g2_pretokenize_next((const unsigned char *)nul, 3, 1) == 2,
        "pretokenize: NUL is an ordinary 'other' character");
}

static void test_unicode_classes(void) {
  static const struct {
    uint32_t cp;
    int cls;
  } samples[] = {
      {'A', G2_CP_LETTER},     {'0', G2_CP_NUMBER},     {' ', G2_CP_SPACE},
      {'\t', G2_CP_SPACE},     {0x0B, G2_CP_SPACE},     {0x1C, G2_CP_OTHER},
      {0x85, G2_CP_SPACE},     {0xA0, G2_CP_SPACE},     {0xFEFF, G2_CP_OTHER},
      {0x200B, G2_CP_OTHER},   {0x180E, G2_CP_OTHER},   {0x3000, G2_CP_SPACE},
      {0x2029, G2_CP_SPACE},   {0xE9, G2_CP_LETTER},    {0x4E2D, G2_CP_LETTER},
      {0x0663, G2_CP_NUMBER},  {0x2168, G2_CP_NUMBER},  {0xBD, G2_CP_NUMBER},
      {0x0301, G2_CP_OTHER},   {0x1F600, G2_CP_OTHER},  {0x0378, G2_CP_OTHER},
      {0x1E030, G2_CP_LETTER}, {0x31350, G2_CP_LETTER}, {0xE000, G2_CP_OTHER},
      {0x10FFFF, G2_CP_OTHER}, {0x02B0, G2_CP_LETTER},  {0x16EE, G2_CP_NUMBER},
  };
  int ok = 1;
  for (size_t i = 0; i < sizeof samples / sizeof *samples; i++) {
    if (g2_cp_class(samples[i].cp) != samples[i].cls) {
      printf("# U+%04X: class %d, want %d\n", (unsigned)samples[i].cp,
             g2_cp_class(samples[i].cp), samples[i].cls);
      ok = 0;
    }
  }
  CHECK(ok, "unicode: classes of %zu sample code points (UCD %s)",
        sizeof samples / sizeof *samples, G2_UNICODE_VERSION);
  size_t spaces = 0;
  for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) spaces += g2_cp_class(cp) == G2_CP_SPACE;
  CHECK(spaces == 25, "unicode: 25 White_Space code points");
}

/* A random byte string, biased towards the interesting: ASCII letters,
   spaces, apostrophes, multi-byte characters, and broken sequences. */
static size_t random_bytes(char *out, size_t max) {
  static const char *atoms[] = {
      "a", "Z", "s", "'", " ", "  ", "\n", "\t", "1", "!", "\xC3\xA9",
      "\xE4\xB8\xAD", "\xF0\x9F\x98\x80", "\xC2\x85", "\xEF\xBB\xBF",
      "\xE2\x80\x8D", "\xCC\x81", "\xE3\x80\x80", "\x80", "\xBF", "\xC0\x80",
      "\xE2\x82", "\xF0\x9F", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xFF",
      "\xF5", "\xC2", "\x00", "'s", "'LL"};
  size_t n = 0, target = rng_next() % max;
  while (n < target) {
    if (rng_next() % 4 == 0) {
      out[n++] = (char)rng_next();
      continue;
    }
    const char *atom = atoms[rng_next() % (sizeof atoms / sizeof *atoms)];
    size_t len = *atom ? strlen(atom) : 1;
    if (n + len > max) break;
    memcpy(out + n, atom, len);
    n += len;
  }
  return n;
}

/* The pieces of bytes b must be those of b with each invalid byte replaced
   by U+FFFD (EF BF BD): the documented classification. */
static int same_pieces_as_replaced(const char *text, size_t len) {
  char replaced[3 * 512];
  size_t map[512 + 1], n = 0; /* map: offset in text -> offset in replaced */
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    size_t k = g2_utf8_decode((const unsigned char *)text + i, len - i, &cp);
    if (k == 0) {
      map[i] = n;
      memcpy(replaced + n, "\xEF\xBF\xBD", 3);
      n += 3, i++;
    } else {
      for (size_t j = 0; j < k; j++) map[i + j] = n + j;
      memcpy(replaced + n, text + i, k);
      n += k, i += k;
    }
  }
  map[len] = n;
  size_t pos = 0, rpos = 0;
  while (pos < len) {
    size_t end = g2_pretokenize_next((const unsigned char *)text, len, pos);
    size_t rend = g2_pretokenize_next((const unsigned char *)replaced, n, rpos);
    if (map[pos] != rpos || map[end] != rend) return 0;
    pos = end, rpos = rend;
  }
  return rpos == n;
}

static void test_random_bytes(const g2_tokenizer *tok) {
  enum { N_STRINGS = 20000, MAX_LEN = 512 };
  char text[MAX_LEN], back[MAX_LEN];
  int32_t ids[MAX_LEN];
  size_t lossless = 0, replaced_ok = 0, invalid = 0;
  for (int i = 0; i < N_STRINGS; i++) {
    size_t len = random_bytes(text, MAX_LEN), n = 0, n_back = 0;
    for (size_t j = 0; j < len;) {
      uint32_t cp;
      size_t k = g2_utf8_decode((const unsigned char *)text + j, len - j, &cp);
      if (!k) { invalid++; break; }
      j += k;
    }
    if (g2_tokenize(tok, text, len, 0, ids, MAX_LEN, &n) == GPT2_OK &&
        g2_detokenize(tok, ids, n, back, MAX_LEN, &n_back) == GPT2_OK &&
        n_back == len && memcmp(back, text, len) == 0)
      lossless++;
    replaced_ok += same_pieces_as_replaced(text, len);
  }
  CHECK(lossless == N_STRINGS,
        "bytes: detokenize(tokenize(b)) == b for %d random byte strings "
        "(%zu with invalid UTF-8)", N_STRINGS, invalid);
  CHECK(replaced_ok == N_STRINGS,
        "bytes: invalid bytes split like U+FFFD in %d random strings", N_STRINGS);
}

/* The rank queue (long pieces) and the scan (short ones) agree. */
static void test_bpe_strategies(const g2_tokenizer *tok) {
  g2_bpe_work work = {.cap_nodes = 0};
  int32_t short_ids[G2_BPE_SHORT];
  unsigned char piece[G2_BPE_SHORT];
  size_t agree = 0, total = 0;
  for (int i = 0; i < 20000; i++) {
    size_t len = 1 + rng_next() % G2_BPE_SHORT;
    if (i % 2) { /* concatenated token texts: many merges apply */
      size_t at = 0;
      while (at < len) {
        size_t tlen;
        const char *bytes = g2_token_bytes(tok, (int32_t)(rng_next() % 50000), &tlen);
        for (size_t k = 0; k < tlen && at < len; k++) piece[at++] = (unsigned char)bytes[k];
      }
    } else {
      for (size_t k = 0; k < len; k++) piece[k] = (unsigned char)"aeiouns tr"[rng_next() % 10];
    }
    size_t n_short = g2_bpe_short(tok, piece, len, short_ids), n_heap = 0;
    total++;
    if (g2_bpe_long(tok, piece, len, &work, &n_heap) == GPT2_OK &&
        n_heap == n_short && memcmp(work.ids, short_ids, n_short * sizeof *short_ids) == 0)
      agree++;
  }
  g2_bpe_work_free(&work);
  CHECK(agree == total, "bpe: queue and scan agree on %zu random pieces", total);
}

/* A long text tokenized at once (which turns the per-call cache of merged
   pieces on) gives what merging each of its pre-tokens alone gives. */
static void test_piece_cache(const g2_tokenizer *tok) {
  enum { LEN = 300000 };
  char *text = malloc(LEN);
  size_t len = 0;
  while (len + 3 * 64 <= LEN) { /* each string thrice, so the cache hits */
    size_t n = random_bytes(text + len, 64);
    memcpy(text + len + n, text + len, n);
    memcpy(text + len + 2 * n, text + len, n);
    len += 3 * n;
  }
  int32_t *whole = malloc(len * sizeof *whole);
  size_t n_whole = 0, at = 0, pieces = 0;
  g2_tokenize(tok, text, len, 0, whole, len, &n_whole);
  g2_bpe_work work = {.cap_nodes = 0};
  int same = 1;
  for (size_t pos = 0; pos < len && same;) {
    size_t end = g2_pretokenize_next((const unsigned char *)text, len, pos);
    const int32_t *ids;
    size_t n;
    g2_bpe(tok, (const unsigned char *)text + pos, end - pos, &work, &ids, &n);
    same = at + n <= n_whole && memcmp(whole + at, ids, n * sizeof *ids) == 0;
    at += n, pos = end, pieces++;
  }
  g2_bpe_work_free(&work);
  CHECK(same && at == n_whole,
        "cache: %zu bytes at once == BPE of each of its %zu pieces", len, pieces);

  /* Short pieces only, so every allocation of the call is the cache's:
     failing any of them changes nothing but the speed. */
  len = 0;
  while (len + 12 < 100000) {
    text[len++] = ' ';
    for (uint32_t k = 0, n = 1 + rng_next() % 10; k < n; k++)
      text[len++] = (char)('a' + rng_next() % 6);
  }
  g2_tokenize(tok, text, len, 0, whole, len, &n_whole);
  int32_t *again = malloc(len * sizeof *again);
  g2_alloc_fail_at(0);
  size_t n_again = 0;
  g2_tokenize(tok, text, len, 0, again, len, &n_again);
  size_t count = g2_alloc_fail_at(0);
  int unchanged = count > 0;
  for (size_t k = 1; k <= count; k++) {
    g2_alloc_fail_at(k);
    int status = g2_tokenize(tok, text, len, 0, again, len, &n_again);
    unchanged &= status == GPT2_OK && n_again == n_whole &&
                 memcmp(again, whole, n_whole * sizeof *again) == 0;
  }
  g2_alloc_fail_at(0);
  CHECK(unchanged, "cache: each of its %zu allocations failing changes no token",
        count);
  free(again);
  free(text);
  free(whole);
}

/* A merge list whose ranks are not in build order (no real vocabulary is
   like this): encoder.py finishes merging every occurrence of the best pair
   before it looks at the pairs that creates. */
static void test_bpe_rank_order(void) {
  g2_str tokens[260];
  char text[256][3];
  for (int b = 0; b < 256; b++) {
    uint32_t cp = g2_byte_to_cp((unsigned char)b);
    size_t len = g2_utf8_encode(cp, (unsigned char *)text[b]);
    tokens[b] = (g2_str){text[b], len};
  }
  tokens[256] = (g2_str){"ab", 2};
  tokens[257] = (g2_str){"aba", 3};
  tokens[258] = (g2_str){"abab", 4};
  g2_str merges[] = {{"ab a", 4}, {"ab ab", 5}, {"a b", 3}};
  g2_tokenizer *tok = NULL;
  int status = g2_tokenizer_new(tokens, 259, merges, 3, "test", &tok);
  CHECK(status == GPT2_OK, "bpe: a vocabulary with inverted ranks builds");
  if (status != GPT2_OK) return;
  /* "abab": pass 1 merges both "a b" -> [ab, ab]; then "ab ab" -> abab.
     Merging greedily by rank as pairs appear would give [aba, b]. */
  int32_t ids[8];
  size_t n = 0;
  g2_tokenize(tok, "abab", 4, 0, ids, 8, &n);
  CHECK(n == 1 && ids[0] == 258, "bpe: inverted ranks: 'abab' -> [abab] (scan)");
  char long_piece[200];
  for (int i = 0; i < 200; i += 2) long_piece[i] = 'a', long_piece[i + 1] = 'b';
  int32_t long_ids[200];
  g2_tokenize(tok, long_piece, 200, 0, long_ids, 200, &n);
  int all_abab = n == 50;
  for (size_t i = 0; i < n && all_abab; i++) all_abab = long_ids[i] == 258;
  CHECK(all_abab, "bpe: inverted ranks: 100 x 'ab' -> 50 x [abab] (queue)");
  g2_tokenizer_free(tok);
}

static double seconds_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* A 1 MB piece: O(n log n) merging takes well under a second; a quadratic
   loop would take minutes. The 5 s bound is only a coarse guard that holds
   under sanitizers and valgrind-free slow machines. */
static void test_long_piece(const g2_tokenizer *tok) {
  enum { LEN = 1 << 20 };
  char *text = malloc(LEN), *back = malloc(LEN);
  int32_t *ids = malloc(LEN * sizeof *ids);
  const char *kinds[] = {"random letters", "one letter repeated", "CJK"};
  for (int kind = 0; kind < 3; kind++) {
    for (size_t i = 0; i < LEN; i++) {
      if (kind == 0) text[i] = (char)('a' + rng_next() % 26);
      if (kind == 1) text[i] = 'a';
      if (kind == 2) {
        if (i + 3 > LEN) { text[i] = 'x'; continue; }
        uint32_t cp = 0x4E00 + rng_next() % 0x5000;
        i += g2_utf8_encode(cp, (unsigned char *)text + i) - 1;
      }
    }
    size_t n = 0, n_back = 0;
    double start = seconds_now();
    int status = g2_tokenize(tok, text, LEN, 0, ids, LEN, &n);
    double elapsed = seconds_now() - start;
    int lossless = status == GPT2_OK &&
                   g2_detokenize(tok, ids, n, back, LEN, &n_back) == GPT2_OK &&
                   n_back == LEN && memcmp(back, text, LEN) == 0;
    CHECK(status == GPT2_OK && lossless && elapsed < 5.0,
          "long: a 1 MB word (%s) in %.3f s, %zu tokens, lossless", kinds[kind],
          elapsed, n);
  }
  free(text);
  free(back);
  free(ids);
}

static void test_edges(const g2_tokenizer *tok) {
  int32_t ids[16];
  size_t n = 99;
  CHECK(g2_tokenize(tok, NULL, 0, 0, NULL, 0, &n) == GPT2_OK && n == 0,
        "edges: empty input gives zero tokens");
  CHECK(g2_tokenize(tok, "a\0b", 3, 0, ids, 16, &n) == GPT2_OK && n == 3 &&
            ids[0] == 64 && ids[1] == tok->byte_token[0] && ids[2] == 65,
        "edges: a NUL byte is an ordinary byte token");
  CHECK(g2_tokenize(tok, "hello world", 11, 0, NULL, 0, &n) == GPT2_E_BUFFER && n == 2,
        "edges: NULL/0 asks for the size (2)");
  ids[0] = -7;
  CHECK(g2_tokenize(tok, "hello world", 11, 0, ids, 1, &n) == GPT2_E_BUFFER &&
            n == 2 && ids[0] == 31373,
        "edges: too small a buffer gives GPT2_E_BUFFER, the needed count and a prefix");
  CHECK(g2_tokenize(tok, "x", 1, 0, NULL, 5, &n) == GPT2_E_INVALID,
        "edges: NULL out with a capacity is invalid");
  int32_t bad[] = {31373, 50257};
  char out[64];
  CHECK(g2_detokenize(tok, bad, 2, out, 64, &n) == GPT2_E_RANGE &&
            strstr(gpt2_last_error(), "50257"),
        "edges: detokenize of id 50257 gives GPT2_E_RANGE");
  int32_t negative[] = {-1};
  CHECK(g2_detokenize(tok, negative, 1, out, 64, &n) == GPT2_E_RANGE,
        "edges: detokenize of id -1 gives GPT2_E_RANGE");
  int32_t hello[] = {31373, 995};
  CHECK(g2_detokenize(tok, hello, 2, out, 5, &n) == GPT2_E_BUFFER && n == 11,
        "edges: detokenize into 5 bytes gives GPT2_E_BUFFER and 11");
  CHECK(g2_detokenize(tok, hello, 0, NULL, 0, &n) == GPT2_OK && n == 0,
        "edges: detokenize of nothing is empty");

  /* Every allocation failure of a long piece is reported, nothing leaks. */
  char long_word[300];
  memset(long_word, 'q', sizeof long_word);
  int32_t many[300];
  g2_alloc_fail_at(0);
  g2_tokenize(tok, long_word, sizeof long_word, 0, many, 300, &n);
  size_t count = g2_alloc_fail_at(0);
  int all_fail = 1;
  for (size_t k = 1; k <= count; k++) {
    g2_alloc_fail_at(k);
    all_fail &= g2_tokenize(tok, long_word, sizeof long_word, 0, many, 300, &n) ==
                GPT2_E_NOMEM;
  }
  g2_alloc_fail_at(0);
  CHECK(count > 0 && all_fail,
        "edges: each of %zu allocations of a long piece failing gives GPT2_E_NOMEM",
        count);
}

static int valid_utf8(const char *s, size_t len) {
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    size_t k = g2_utf8_decode((const unsigned char *)s + i, len - i, &cp);
    if (!k) return 0;
    i += k;
  }
  return 1;
}

/* Streams text token by token: each piece must be whole UTF-8 (when the
   text is), at most 3 bytes held, and pushes + flush == text. */
static int stream_ok(const g2_tokenizer *tok, const char *text, size_t len,
                     size_t *n_tokens, size_t *held_pushes) {
  size_t n = 0;
  int32_t *ids = malloc((len + 1) * sizeof *ids);
  char *joined = malloc(len + 4);
  g2_tokenize(tok, text, len, 0, ids, len + 1, &n);
  g2_detok detok;
  g2_detok_init(&detok, tok);
  size_t at = 0, n_out = 0;
  int ok = 1, text_valid = valid_utf8(text, len);
  *held_pushes = 0;
  for (size_t i = 0; i < n && ok; i++) {
    char piece[256];
    ok = g2_detok_push(&detok, ids[i], piece, sizeof piece, &n_out) == GPT2_OK &&
         at + n_out <= len && detok.n_held <= 3 &&
         (!text_valid || valid_utf8(piece, n_out));
    if (!ok) break;
    *held_pushes += detok.n_held > 0;
    memcpy(joined + at, piece, n_out);
    at += n_out;
  }
  ok = ok && g2_detok_flush(&detok, joined + at, 4, &n_out) == GPT2_OK;
  at += n_out;
  ok = ok && at == len && memcmp(joined, text, len) == 0;
  *n_tokens = n;
  free(ids);
  free(joined);
  return ok;
}

static void stream(const g2_tokenizer *tok, const char *text, const char *name) {
  size_t n, held;
  int ok = stream_ok(tok, text, strlen(text), &n, &held);
  CHECK(ok && held > 0,
        "stream: %s: %zu tokens, %zu pushes hold bytes back, pieces are whole "
        "UTF-8, pushes + flush == text", name, n, held);
}

static void test_streaming(const g2_tokenizer *tok) {
  const char *emoji = "Family: \xF0\x9F\x91\xA8\xE2\x80\x8D\xF0\x9F\x91\xA9\xE2\x80\x8D"
                      "\xF0\x9F\x91\xA7 flags \xF0\x9F\x87\xBA\xF0\x9F\x87\xB8 "
                      "\xF0\x9F\x98\x80\xF0\x9F\x98\x81\xF0\x9F\xA4\x96!";
  const char *cjk = "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C"
                    "\xE3\x80\x82\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E\xE3\x81\xAE"
                    "\xE3\x83\x86\xE3\x82\xAD\xE3\x82\xB9\xE3\x83\x88 \xED\x95\x9C"
                    "\xEA\xB5\xAD\xEC\x96\xB4 \xE9\xBE\x8D\xE5\xA3\xAB";
  stream(tok, emoji, "emoji");
  stream(tok, cjk, "CJK");
  /* Check the held count is real: the emoji is split across tokens. */
  g2_detok detok;
  g2_detok_init(&detok, tok);
  size_t n_ids = 0, n_out = 0;
  int32_t ids[8];
  char out[32];
  g2_tokenize(tok, "\xF0\x9F\xA4\x96", 4, 0, ids, 8, &n_ids);
  int first_empty = n_ids > 1 &&
                    g2_detok_push(&detok, ids[0], out, sizeof out, &n_out) == GPT2_OK &&
                    n_out == 0;
  CHECK(first_empty, "stream: U+1F916 is %zu tokens; the first push emits nothing",
        n_ids);
  /* A broken sequence is emitted as soon as it is known broken. */
  g2_detok_init(&detok, tok);
  int32_t e2 = tok->byte_token[0xE2], letter = tok->byte_token['a'];
  g2_detok_push(&detok, e2, out, sizeof out, &n_out);
  int held = n_out == 0 && detok.n_held == 1;
  g2_detok_push(&detok, letter, out, sizeof out, &n_out);
  CHECK(held && n_out == 2 && memcmp(out, "\xE2" "a", 2) == 0 && detok.n_held == 0,
        "stream: E2 is held, then emitted raw with the 'a' that breaks it");
  int32_t f0 = tok->byte_token[0xF0], x9f = tok->byte_token[0x9F];
  int32_t cont = tok->byte_token[0x98], ff = tok->byte_token[0xFF];
  g2_detok_init(&detok, tok);
  g2_detok_push(&detok, f0, out, sizeof out, &n_out);
  g2_detok_push(&detok, x9f, out, sizeof out, &n_out);
  g2_detok_push(&detok, cont, out, sizeof out, &n_out);
  int three_held = n_out == 0 && detok.n_held == 3;
  g2_detok_push(&detok, ff, out, sizeof out, &n_out);
  CHECK(three_held && n_out == 4 && memcmp(out, "\xF0\x9F\x98\xFF", 4) == 0,
        "stream: F0 9F 98 held, emitted with the FF that breaks it");
  g2_detok_init(&detok, tok);
  g2_detok_push(&detok, tok->byte_token[0xED], out, sizeof out, &n_out);
  g2_detok_push(&detok, tok->byte_token[0xA0], out, sizeof out, &n_out);
  CHECK(n_out == 2 && detok.n_held == 0,
        "stream: ED A0 (a surrogate) is never held");
  g2_detok_init(&detok, tok);
  g2_detok_push(&detok, e2, out, sizeof out, &n_out);
  g2_detok_push(&detok, tok->byte_token[0x82], out, sizeof out, &n_out);
  CHECK(g2_detok_flush(&detok, out, 1, &n_out) == GPT2_E_BUFFER && n_out == 2 &&
            detok.n_held == 2,
        "stream: flush into 1 byte: GPT2_E_BUFFER, state kept");
  CHECK(g2_detok_flush(&detok, out, sizeof out, &n_out) == GPT2_OK && n_out == 2 &&
            memcmp(out, "\xE2\x82", 2) == 0 && detok.n_held == 0,
        "stream: flush emits the held E2 82 raw");
  g2_detok_init(&detok, tok);
  g2_detok_push(&detok, e2, out, sizeof out, &n_out);
  int32_t hello = 31373;
  CHECK(g2_detok_push(&detok, hello, out, 3, &n_out) == GPT2_E_BUFFER && n_out == 6 &&
            detok.n_held == 1,
        "stream: push into too small a buffer: GPT2_E_BUFFER (6), state kept");
  CHECK(g2_detok_push(&detok, 50257, out, sizeof out, &n_out) == GPT2_E_RANGE &&
            detok.n_held == 1,
        "stream: push of id 50257: GPT2_E_RANGE, state kept");
  /* Random bytes streamed: the concatenation is always the input. */
  char text[512];
  int all = 1;
  for (int i = 0; i < 2000; i++) {
    size_t len = random_bytes(text, sizeof text), n, held;
    all &= stream_ok(tok, text, len, &n, &held);
  }
  CHECK(all, "stream: 2000 random byte strings streamed back exactly");
}

typedef struct thread_job {
  const g2_tokenizer *tok;
  const char *text;
  size_t len;
  const int32_t *want;
  size_t n_want;
  int same;
} thread_job;

static void *tokenize_repeatedly(void *arg) {
  thread_job *job = arg;
  int32_t *ids = malloc(job->len * sizeof *ids);
  job->same = 1;
  for (int round = 0; round < 20; round++) {
    size_t n = 0;
    g2_tokenize(job->tok, job->text, job->len, 0, ids, job->len, &n);
    job->same &= n == job->n_want && memcmp(ids, job->want, n * sizeof *ids) == 0;
  }
  free(ids);
  return NULL;
}

static void test_threads(const g2_tokenizer *tok) {
  enum { LEN = 200000, THREADS = 4 };
  char *text = malloc(LEN);
  size_t len = 0;
  while (len < LEN - 600) len += random_bytes(text + len, 512);
  int32_t *want = malloc(len * sizeof *want);
  size_t n_want = 0;
  g2_tokenize(tok, text, len, 0, want, len, &n_want);
  pthread_t threads[THREADS];
  thread_job jobs[THREADS];
  for (int i = 0; i < THREADS; i++) {
    jobs[i] = (thread_job){tok, text, len, want, n_want, 0};
    pthread_create(&threads[i], NULL, tokenize_repeatedly, &jobs[i]);
  }
  int same = 1;
  for (int i = 0; i < THREADS; i++) {
    pthread_join(threads[i], NULL);
    same &= jobs[i].same;
  }
  CHECK(same, "threads: %d threads tokenizing one tokenizer agree", THREADS);
  free(text);
  free(want);
}

int main(void) {
  test_pretokenizer();
  test_unicode_classes();
  test_bpe_rank_order();
  g2_tokenizer *tok = fixture_tokenizer();
  CHECK(tok != NULL, "tokenizer: GPT-2 tokenizer builds");
  if (!tok) HARNESS_EXIT();
  test_random_bytes(tok);
  test_bpe_strategies(tok);
  test_piece_cache(tok);
  test_long_piece(tok);
  test_edges(tok);
  test_streaming(tok);
  test_threads(tok);
  g2_tokenizer_free(tok);
  HARNESS_EXIT();
}
