/* The JSON parser (config.json, vocab.json, safetensors headers) on
   arbitrary bytes: it returns a tree or an error with a message, never
   crashes, leaks nothing, and every value of the tree can be read back
   (strings NUL-terminated at their length, lookups find the last member). */
#include "fuzz_common.h"

static void walk_json(const g2_json *node, int depth) {
  if (depth > G2_JSON_MAX_DEPTH + 1) fuzz_fail("tree deeper than G2_JSON_MAX_DEPTH");
  switch (g2_json_type_of(node)) {
    case G2_JSON_STRING: {
      size_t len;
      const char *text = g2_json_string(node, &len);
      if (!text || text[len] != '\0') fuzz_fail("string not NUL-terminated at its length");
      break;
    }
    case G2_JSON_NUMBER: {
      int64_t exact;
      double value = g2_json_number(node);
      if (!isfinite(value)) fuzz_fail("number %g is not finite", value);
      if (g2_json_int64(node, &exact) && fabs((double)exact - value) > fabs(value) * 1e-15)
        fuzz_fail("integer %lld differs from its double %g", (long long)exact, value);
      break;
    }
    case G2_JSON_ARRAY:
      for (size_t i = 0; i < g2_json_count(node); i++) walk_json(g2_json_at(node, i), depth + 1);
      if (g2_json_at(node, g2_json_count(node)) != NULL) fuzz_fail("element past the end");
      break;
    case G2_JSON_OBJECT: {
      size_t n = g2_json_count(node);
      for (size_t i = 0; i < n; i++) {
        size_t key_len;
        const char *key = g2_json_key_at(node, i, &key_len);
        if (!key || key[key_len] != '\0') fuzz_fail("key not NUL-terminated at its length");
        /* g2_json_get returns the last member with this key; keys with a
           NUL inside cannot be looked up by a C string. */
        if (strlen(key) == key_len) {
          const g2_json *found = g2_json_get(node, key);
          size_t last = i;
          for (size_t j = i + 1; j < n; j++) {
            size_t other_len;
            const char *other = g2_json_key_at(node, j, &other_len);
            if (other_len == key_len && memcmp(other, key, key_len) == 0) last = j;
          }
          if (found != g2_json_at(node, last)) fuzz_fail("g2_json_get(\"%.40s\") is not the last member", key);
        }
        walk_json(g2_json_at(node, i), depth + 1);
      }
      break;
    }
    default:
      break;
  }
}

/* Peak allocation of a parse: the tree is about 20 x the text at worst
   (docs/reliability.md); bound 32 x (+ the slack). Measured over the
   corpus: all within the slack (the largest seed, 345 bytes: 1,328). */
#define FUZZ_JSON_PEAK_RATIO 32

int fuzz_json(const uint8_t *data, size_t size) {
  long live = g2_alloc_live_blocks();
  size_t base = g2_alloc_peak_reset();
  g2_json *root = (g2_json *)data; /* must be overwritten */
  int status = g2_json_parse((const char *)data, size, "fuzz.json", &root);
  fuzz_check_peak(base, size, FUZZ_JSON_PEAK_RATIO, "g2_json_parse");
  if (status == GPT2_OK) {
    walk_json(root, 1);
  } else {
    if (root) fuzz_fail("failed parse left a tree");
    if (status != GPT2_E_FORMAT && status != GPT2_E_NOMEM) fuzz_fail("parse returned %d", status);
    fuzz_check_error_message(status, "g2_json_parse");
  }
  g2_json_free(root);
  fuzz_check_no_leak(live, "g2_json_parse");
  return 0;
}

#ifndef FUZZ_REPLAY
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) { return fuzz_json(data, size); }
#endif
