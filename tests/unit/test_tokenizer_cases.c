/* The tokenizer against the committed reference cases
   (tests/data/tokenizer/cases.txt, made by tools/gen/gen_tokenizer_cases.py
   from OpenAI's algorithm and three npm tokenizers), the tiktoken test
   vectors, and the round trip of every token id. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpt2.h"
#include "harness.h"
#include "tokenizer/tokenizer.h"
#include "tokenizer_fixture.h"

typedef struct id_list {
  int32_t *ids;
  size_t n, cap;
} id_list;

static void id_list_push(id_list *list, int32_t id) {
  if (list->n == list->cap) {
    list->cap = list->cap ? 2 * list->cap : 64;
    list->ids = realloc(list->ids, list->cap * sizeof *list->ids);
  }
  list->ids[list->n++] = id;
}

static void parse_ids(const char *text, id_list *list) {
  list->n = 0;
  while (*text && *text != '\n') {
    id_list_push(list, (int32_t)strtol(text, (char **)&text, 10));
    if (*text == ',') text++;
  }
}

static size_t parse_hex(const char *hex, size_t n_hex, char *out) {
  for (size_t i = 0; i + 1 < n_hex; i += 2) {
    unsigned value;
    sscanf(hex + i, "%2x", &value);
    out[i / 2] = (char)value;
  }
  return n_hex / 2;
}

static int tokenizes_to(const g2_tokenizer *tok, const char *text, size_t len,
                        unsigned flags, const int32_t *want, size_t n_want) {
  size_t n = 0;
  int32_t *got = malloc((len + 1) * sizeof *got);
  int status = g2_tokenize(tok, text, len, flags, got, len + 1, &n);
  int same = status == GPT2_OK && n == n_want &&
             memcmp(got, want, n * sizeof *got) == 0;
  free(got);
  return same;
}

static int detokenizes_to(const g2_tokenizer *tok, const int32_t *ids,
                          size_t n, const char *want, size_t len) {
  size_t n_out;
  char *out = malloc(len + 1);
  int status = g2_detokenize(tok, ids, n, out, len, &n_out);
  int same = status == GPT2_OK && n_out == len && memcmp(out, want, len) == 0;
  free(out);
  return same;
}

static void test_reference_cases(const g2_tokenizer *tok) {
  static char path[4096];
  snprintf(path, sizeof path, "%s/tokenizer/cases.txt",
           harness_path("GPT2_TEST_DATA", "tests/data"));
  FILE *file = fopen(path, "r");
  CHECK(file != NULL, "cases: %s opens", path);
  if (!file) return;
  const char *tags[] = {"all", "py", "bytes", "special"};
  size_t total[4] = {0}, matched[4] = {0}, lossless = 0, cases = 0;
  id_list want = {0};
  char *line = NULL, *text = NULL;
  size_t line_cap = 0;
  ssize_t line_len;
  while ((line_len = getline(&line, &line_cap, file)) > 0) {
    if (line[0] == '#') continue;
    char *hex = strchr(line, '\t'), *ids = hex ? strchr(hex + 1, '\t') : NULL;
    if (!ids) continue;
    *hex++ = '\0';
    int tag = 0;
    while (tag < 4 && strcmp(line, tags[tag]) != 0) tag++;
    if (tag == 4) continue;
    text = realloc(text, (size_t)(ids - hex) / 2 + 1);
    size_t len = parse_hex(hex, (size_t)(ids - hex), text);
    parse_ids(ids + 1, &want);
    unsigned flags = tag == 3 ? GPT2_TOKENIZE_SPECIAL : 0;
    total[tag]++;
    cases++;
    if (tokenizes_to(tok, text, len, flags, want.ids, want.n)) {
      matched[tag]++;
    } else if (total[tag] - matched[tag] <= 3) {
      printf("# mismatch (%s): %.*s\n", tags[tag], (int)(ids - hex), hex);
    }
    lossless += detokenizes_to(tok, want.ids, want.n, text, len);
  }
  fclose(file);
  free(line);
  free(text);
  free(want.ids);
  for (int tag = 0; tag < 4; tag++)
    CHECK(total[tag] > 0 && matched[tag] == total[tag],
          "cases: %zu of %zu '%s' cases match the references", matched[tag],
          total[tag], tags[tag]);
  CHECK(cases >= 1000, "cases: at least 1000 reference cases (%zu)", cases);
  CHECK(lossless == cases, "cases: detokenizing gives each case's bytes back");
}

/* openai/tiktoken tests/test_encoding.py, encoding "gpt2". */
static void test_tiktoken_vectors(const g2_tokenizer *tok) {
  static const int32_t hello[] = {31373, 995};
  CHECK(tokenizes_to(tok, "hello world", 11, 0, hello, 2),
        "tiktoken: 'hello world' is [31373, 995]");
  CHECK(detokenizes_to(tok, hello, 2, "hello world", 11),
        "tiktoken: [31373, 995] decodes to 'hello world'");
  static const int32_t special[] = {31373, 220, 50256};
  CHECK(tokenizes_to(tok, "hello <|endoftext|>", 19, GPT2_TOKENIZE_SPECIAL,
                     special, 3),
        "tiktoken: 'hello <|endoftext|>' with specials is [31373, 220, 50256]");
  static const int32_t as_text[] = {31373, 1279, 91, 437, 1659, 5239, 91, 29};
  CHECK(tokenizes_to(tok, "hello <|endoftext|>", 19, 0, as_text, 8),
        "tiktoken: without the flag <|endoftext|> is ordinary text");
  static const struct {
    int digits;
    int32_t ids[2];
  } zeros[] = {{1, {15}},      {2, {405}},    {3, {830}},
               {4, {2388}},    {5, {20483}},  {6, {10535}},
               {7, {24598}},   {8, {8269}},   {9, {10535, 830}},
               {16, {25645}}};
  const char *text = "0000000000000000";
  for (size_t i = 0; i < sizeof zeros / sizeof *zeros; i++) {
    size_t n = zeros[i].ids[1] ? 2 : 1;
    CHECK(tokenizes_to(tok, text, (size_t)zeros[i].digits, 0, zeros[i].ids, n),
          "tiktoken: %d zeros give [%d%s]", zeros[i].digits, (int)zeros[i].ids[0],
          n == 2 ? ", 830" : "");
  }
}

/* Every token's bytes tokenize back to the token, except the tokens listed
   in roundtrip.txt: sixteen whose bytes end (or start) inside a UTF-8
   character, which the pre-tokenizer splits off as invalid bytes, and
   <|endoftext|>, which is text unless GPT2_TOKENIZE_SPECIAL is given. */
static void test_round_trip(const g2_tokenizer *tok) {
  static char path[4096];
  snprintf(path, sizeof path, "%s/tokenizer/roundtrip.txt",
           harness_path("GPT2_TEST_DATA", "tests/data"));
  FILE *file = fopen(path, "r");
  CHECK(file != NULL, "roundtrip: %s opens", path);
  if (!file) return;
  size_t n_tokens = g2_tokenizer_n_tokens(tok);
  id_list *expected = calloc(n_tokens, sizeof *expected);
  char line[1024];
  size_t n_exceptions = 0;
  while (fgets(line, sizeof line, file)) {
    if (line[0] == '#') continue;
    char *tab;
    long id = strtol(line, &tab, 10);
    if (id < 0 || (size_t)id >= n_tokens || *tab != '\t') continue;
    parse_ids(tab + 1, &expected[id]);
    n_exceptions++;
  }
  fclose(file);
  size_t ok = 0;
  for (size_t id = 0; id < n_tokens; id++) {
    size_t len;
    const char *bytes = g2_token_bytes(tok, (int32_t)id, &len);
    int32_t self = (int32_t)id;
    const int32_t *want = expected[id].n ? expected[id].ids : &self;
    size_t n_want = expected[id].n ? expected[id].n : 1;
    if (tokenizes_to(tok, bytes, len, 0, want, n_want)) ok++;
    else if (n_tokens - ok < 5) printf("# token %zu does not round-trip\n", id);
    free(expected[id].ids);
  }
  free(expected);
  CHECK(n_exceptions == 18, "roundtrip: 18 listed exceptions");
  CHECK(ok == n_tokens,
        "roundtrip: %zu of %zu tokens tokenize to themselves or the listed ids",
        ok, n_tokens);
  size_t len;
  const char *eot = g2_token_bytes(tok, 50256, &len);
  static const int32_t eot_id[] = {50256};
  CHECK(tokenizes_to(tok, eot, len, GPT2_TOKENIZE_SPECIAL, eot_id, 1),
        "roundtrip: <|endoftext|> with GPT2_TOKENIZE_SPECIAL");
}

int main(void) {
  g2_tokenizer *tok = fixture_tokenizer();
  CHECK(tok != NULL, "cases: GPT-2 tokenizer builds");
  if (!tok) HARNESS_EXIT();
  test_tiktoken_vectors(tok);
  test_reference_cases(tok);
  test_round_trip(tok);
  g2_tokenizer_free(tok);
  HARNESS_EXIT();
}
