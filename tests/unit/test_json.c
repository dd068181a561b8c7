/* The JSON parser: grammar, escapes, limits, error messages, allocation
   failures, and the real GPT-2 vocab.json. */
#include <locale.h>
#include <math.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/error.h"
#include "core/file.h"
#include "core/json.h"
#include "gpt2.h"
#include "harness.h"

static int parse_text(const char *text, g2_json **out) {
  return g2_json_parse(text, strlen(text), "test.json", out);
}

/* Parses `text`, expects failure with `message` in the error detail. */
static void expect_error(const char *text, size_t len, const char *message, const char *what) {
  g2_json *root = (g2_json *)1;
  int status = g2_json_parse(text, len, "test.json", &root);
  CHECK(status == GPT2_E_FORMAT && root == NULL, "rejects %s (status %d)", what, status);
  CHECK(strstr(gpt2_last_error(), message) != NULL, "%s: message '%s' mentions '%s'", what,
        gpt2_last_error(), message);
  g2_json_free(root);
}

static void expect_string(const char *text, const char *bytes, size_t len, const char *what) {
  g2_json *root = NULL;
  int status = parse_text(text, &root);
  size_t got_len = 0;
  const char *got = status == GPT2_OK ? g2_json_string(root, &got_len) : NULL;
  CHECK(got && got_len == len && memcmp(got, bytes, len) == 0 && got[len] == '\0',
        "string %s decodes", what);
  g2_json_free(root);
}

static void test_scalars(void) {
  g2_json *root = NULL;
  CHECK(parse_text(" true ", &root) == GPT2_OK && g2_json_type_of(root) == G2_JSON_TRUE,
        "true");
  g2_json_free(root);
  CHECK(parse_text("false", &root) == GPT2_OK && g2_json_type_of(root) == G2_JSON_FALSE,
        "false");
  g2_json_free(root);
  CHECK(parse_text("\t\r\nnull\n", &root) == GPT2_OK && g2_json_type_of(root) == G2_JSON_NULL,
        "null with whitespace around");
  g2_json_free(root);
  CHECK(parse_text("\xef\xbb\xbf{}", &root) == GPT2_OK && g2_json_type_of(root) == G2_JSON_OBJECT,
        "leading byte order mark is skipped");
  g2_json_free(root);
}

static void check_number(const char *text, double value, int is_integer, int64_t integer) {
  g2_json *root = NULL;
  int status = parse_text(text, &root);
  int64_t got_integer = 0;
  int got_is_integer = status == GPT2_OK ? g2_json_int64(root, &got_integer) : -1;
  CHECK(status == GPT2_OK && g2_json_type_of(root) == G2_JSON_NUMBER &&
            g2_json_number(root) == value && !signbit(g2_json_number(root)) == !signbit(value) &&
            got_is_integer == is_integer && (!is_integer || got_integer == integer),
        "number %s", text);
  g2_json_free(root);
}

static void test_numbers(void) {
  check_number("0", 0.0, 1, 0);
  check_number("-0", -0.0, 1, 0);
  check_number("42", 42.0, 1, 42);
  check_number("-17", -17.0, 1, -17);
  check_number("9223372036854775807", 9223372036854775807.0, 1, INT64_MAX);
  check_number("-9223372036854775808", -9223372036854775808.0, 1, INT64_MIN);
  check_number("9223372036854775808", 9223372036854775808.0, 0, 0);
  check_number("18446744073709551616", 18446744073709551616.0, 0, 0);
  check_number("1e-05", 1e-05, 0, 0);
  check_number("1.5", 1.5, 0, 0);
  check_number("-2.5E+3", -2500.0, 0, 0);
  check_number("1E2", 100.0, 0, 0);
  check_number("0.1", 0.1, 0, 0);
  check_number("1e-400", 0.0, 0, 0); /* underflow to zero is not an error */
  /* strict grammar */
  expect_error("01", 2, "leading zero", "leading zero");
  expect_error("-", 1, "expected a digit", "lone minus");
  expect_error("+1", 2, "unexpected character", "plus sign");
  expect_error("1.", 2, "after '.'", "missing fraction digits");
  expect_error(".5", 2, "unexpected character", "missing integer part");
  expect_error("1e", 2, "exponent", "missing exponent digits");
  expect_error("1e+", 3, "exponent", "missing exponent digits after sign");
  expect_error("1e999", 5, "out of range", "overflowing number");
  expect_error("-1e999", 6, "out of range", "overflowing negative number");
  expect_error("0x10", 4, "unexpected data", "hex number");
  expect_error("NaN", 3, "unexpected character", "NaN");
  expect_error("Infinity", 8, "unexpected character", "Infinity");
  expect_error("- 1", 3, "expected a digit", "minus then space");
}

/* The process locale must not change how "1.5" is read: checked under a
   locale whose decimal point is a comma. tests/run.sh generates one
   (de_DE.UTF-8, from Debian's `locales` package) into $BUILD/locale and
   points LOCPATH at it; without one the check is a skip. */
static void test_number_locale(void) {
  const char *names[] = {"de_DE.UTF-8", "fr_FR.UTF-8", "de_DE"};
  const char *used = NULL;
  for (size_t i = 0; i < sizeof names / sizeof names[0] && !used; i++)
    if (setlocale(LC_NUMERIC, names[i]) && strcmp(localeconv()->decimal_point, ",") == 0)
      used = names[i];
  if (used) {
    printf("# number locale test runs under %s\n", used);
    check_number("1.5", 1.5, 0, 0);
    check_number("2.25e1", 22.5, 0, 0);
  } else {
    SKIP("numbers under a comma-decimal locale: none installed (apt-get install locales; tests/run.sh makes one)");
  }
  setlocale(LC_NUMERIC, "C");
}

static void test_strings(void) {
  expect_string("\"plain\"", "plain", 5, "plain");
  expect_string("\"\"", "", 0, "empty");
  expect_string("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\"", "\"\\/\b\f\n\r\t", 8, "with every short escape");
  expect_string("\"\\u0041\\u00e9\\u0120\\u20AC\"", "A\xc3\xa9\xc4\xa0\xe2\x82\xac", 8,
                "with \\u escapes of 1, 2 and 3 UTF-8 bytes");
  expect_string("\"a\\u0000b\"", "a\0b", 3, "with an escaped NUL");
  expect_string("\"\\ud83d\\ude00\"", "\xf0\x9f\x98\x80", 4, "with a surrogate pair");
  expect_string("\"\\uDBFF\\uDFFF\"", "\xf4\x8f\xbf\xbf", 4, "with the last code point");
  expect_string("\"\xc4\xa0the \xe2\x82\xac \xf0\x9f\x98\x80\"", "\xc4\xa0the \xe2\x82\xac \xf0\x9f\x98\x80",
                14, "with raw UTF-8");
  expect_string("\"\x7f\"", "\x7f", 1, "with DEL (not a control character in JSON)");

  expect_error("\"\\ud83d\"", 8, "lone high surrogate", "lone high surrogate");
  expect_error("\"\\ud83dx\"", 9, "lone high surrogate", "high surrogate followed by a letter");
  expect_error("\"\\ud83d\\u0041\"", 14, "lone high surrogate", "high surrogate then non-surrogate");
  expect_error("\"\\ude00\"", 8, "lone low surrogate", "lone low surrogate");
  expect_error("\"\\u12\"", 6, "4 hex digits", "short \\u escape");
  expect_error("\"\\u12G4\"", 8, "4 hex digits", "non-hex \\u escape");
  expect_error("\"\\x41\"", 6, "invalid escape", "unknown escape");
  expect_error("\"\\'\"", 4, "invalid escape", "escaped single quote");
  expect_error("\"abc", 4, "unterminated string", "unterminated string");
  expect_error("\"abc\\", 5, "unterminated string", "string ending in a backslash");
  expect_error("\"a\nb\"", 5, "control character", "raw newline in a string");
  expect_error("\"a\tb\"", 5, "control character", "raw tab in a string");
  expect_error("\"a\0b\"", 5, "control character", "raw NUL in a string");
  expect_error("\"\xff\"", 3, "invalid UTF-8", "byte 0xFF");
  expect_error("\"\xc0\xaf\"", 4, "invalid UTF-8", "overlong encoding");
  expect_error("\"\xed\xa0\x80\"", 5, "invalid UTF-8", "UTF-8 encoded surrogate");
  expect_error("\"\xf4\x90\x80\x80\"", 6, "invalid UTF-8", "code point past U+10FFFF");
  expect_error("\"\xe2\x82\"", 4, "invalid UTF-8", "truncated UTF-8 sequence");
  expect_error("'a'", 3, "unexpected character", "single-quoted string");
}

static void test_containers(void) {
  g2_json *root = NULL;
  const char *text = "{\"a\": [1, 2, [3, {}]], \"b\": {\"c\": null}, \"a\": \"last\", \"\": []}";
  int status = parse_text(text, &root);
  CHECK(status == GPT2_OK && g2_json_type_of(root) == G2_JSON_OBJECT && g2_json_count(root) == 4,
        "object with 4 members (a duplicate key kept)");
  if (status == GPT2_OK) {
    size_t key_len = 99;
    const char *key = g2_json_key_at(root, 1, &key_len);
    CHECK(key && key_len == 1 && key[0] == 'b', "members keep file order");
    const g2_json *first_a = g2_json_at(root, 0);
    CHECK(g2_json_type_of(first_a) == G2_JSON_ARRAY && g2_json_count(first_a) == 3 &&
              g2_json_number(g2_json_at(first_a, 1)) == 2.0,
          "array elements by index");
    const g2_json *nested = g2_json_at(first_a, 2);
    CHECK(g2_json_count(nested) == 2 && g2_json_type_of(g2_json_at(nested, 1)) == G2_JSON_OBJECT &&
              g2_json_count(g2_json_at(nested, 1)) == 0,
          "nested array and empty object");
    const g2_json *a = g2_json_get(root, "a");
    CHECK(a && g2_json_type_of(a) == G2_JSON_STRING, "get returns the last duplicate");
    CHECK(g2_json_get(g2_json_get(root, "b"), "c") != NULL, "nested get");
    CHECK(g2_json_get(root, "missing") == NULL, "get of a missing key");
    CHECK(g2_json_get(root, "") && g2_json_count(g2_json_get(root, "")) == 0, "empty key");
    CHECK(g2_json_at(root, 4) == NULL && g2_json_key_at(root, 4, NULL) == NULL,
          "index out of range gives NULL");
    CHECK(g2_json_get(first_a, "a") == NULL && g2_json_key_at(first_a, 0, NULL) == NULL,
          "object accessors on an array give NULL");
  }
  g2_json_free(root);

  expect_error("", 0, "empty input", "empty input");
  expect_error("   \n ", 5, "empty input", "whitespace only");
  expect_error(NULL, 0, "empty input", "NULL text");
  expect_error("{} x", 4, "line 1, column 4: unexpected data", "trailing garbage");
  expect_error("{}{}", 4, "unexpected data", "two documents");
  expect_error("{}\0", 3, "unexpected data", "NUL after the value");
  expect_error("\0{}", 3, "unexpected character", "NUL before the value");
  expect_error("[1, 2", 5, "unterminated array", "unterminated array");
  expect_error("[1 2]", 5, "expected ',' or ']'", "missing comma");
  expect_error("[1,]", 4, "unexpected character", "trailing comma in array");
  expect_error("{\"a\":1,}", 8, "expected a string key", "trailing comma in object");
  expect_error("{\"a\" 1}", 7, "expected ':'", "missing colon");
  expect_error("{1: 2}", 6, "expected a string key", "number key");
  expect_error("{\"a\": 1", 7, "unterminated object", "unterminated object");
  expect_error("[tru]", 5, "invalid literal", "bad literal");
  expect_error("{\"a\":\n  [1,\n   x]}", 18, "line 3, column 4", "line and column of an error");
}

static void test_depth(void) {
  char text[2 * 200 + 1];
  for (int depth = 127; depth <= 129; depth++) {
    size_t n = 0;
    for (int i = 0; i < depth; i++) text[n++] = '[';
    for (int i = 0; i < depth; i++) text[n++] = ']';
    g2_json *root = NULL;
    int status = g2_json_parse(text, n, "deep.json", &root);
    if (depth <= G2_JSON_MAX_DEPTH)
      CHECK(status == GPT2_OK, "nesting depth %d accepted", depth);
    else
      CHECK(status == GPT2_E_FORMAT && strstr(gpt2_last_error(), "nesting"),
            "nesting depth %d rejected: %s", depth, gpt2_last_error());
    g2_json_free(root);
  }
  /* A million open brackets must fail quickly, without deep recursion. */
  size_t n = 1000000;
  char *deep = malloc(n);
  memset(deep, '[', n);
  g2_json *root = NULL;
  CHECK(g2_json_parse(deep, n, "deep.json", &root) == GPT2_E_FORMAT, "a million '[' rejected");
  free(deep);
}

/* Every allocation failure gives GPT2_E_NOMEM and leaks nothing (ASan). */
static void test_allocation_failures(void) {
  const char *text = "{\"k\": [1.5, \"s\", {\"x\": [[], {}]}], \"n\": -2}";
  g2_json *root = NULL;
  g2_alloc_fail_at(0);
  CHECK(parse_text(text, &root) == GPT2_OK, "document parses");
  g2_json_free(root);
  size_t allocations = g2_alloc_fail_at(0);
  int all_nomem = 1;
  for (size_t n = 1; n <= allocations; n++) {
    g2_alloc_fail_at(n);
    root = NULL;
    if (parse_text(text, &root) != GPT2_E_NOMEM || root != NULL) all_nomem = 0;
    g2_json_free(root);
  }
  g2_alloc_fail_at(0);
  CHECK(allocations >= 2 && all_nomem, "each of the %zu allocations failing gives GPT2_E_NOMEM",
        allocations);
}

static void test_vocab(void) {
  const char *dir = harness_path("GPT2_TEST_DATA", "tests/data");
  char path[4096];
  snprintf(path, sizeof path, "%s/gpt2/vocab.json", dir);
  g2_mapping map;
  int status = g2_map_file(path, &map);
  CHECK(status == GPT2_OK, "map %s", path);
  if (status) return;
  g2_json *root = NULL;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  status = g2_json_parse((const char *)map.data, map.size, "vocab.json", &root);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-6;
  CHECK(status == GPT2_OK && g2_json_count(root) == 50257, "vocab.json has 50257 members");
  printf("# vocab.json parsed in %.1f ms\n", ms);
  if (status == GPT2_OK) {
    int64_t id = -1;
    CHECK(g2_json_int64(g2_json_get(root, "!"), &id) && id == 0, "\"!\" -> 0");
    CHECK(g2_json_int64(g2_json_get(root, "\xc4\xa0the"), &id) && id == 262, "\"\\u0120the\" -> 262");
    CHECK(g2_json_int64(g2_json_get(root, "<|endoftext|>"), &id) && id == 50256,
          "<|endoftext|> -> 50256");
    CHECK(g2_json_int64(g2_json_get(root, "\""), &id) && id == 1, "escaped quote -> 1");
    size_t key_len;
    const char *key = g2_json_key_at(root, 50256, &key_len);
    CHECK(key && key_len == 13 && memcmp(key, "<|endoftext|>", 13) == 0, "last member is EOT");
  }
  g2_json_free(root);
  g2_unmap_file(&map);
}

int main(void) {
  test_scalars();
  test_numbers();
  test_number_locale();
  test_strings();
  test_containers();
  test_depth();
  test_allocation_failures();
  test_vocab();
  HARNESS_EXIT();
}
