/* Test helper: the real GPT-2 tokenizer built from tests/data/gpt2
   (vocab.json + merges.txt), read with the library's JSON parser. */
#ifndef TOKENIZER_FIXTURE_H
#define TOKENIZER_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/file.h"
#include "core/json.h"
#include "gpt2.h"
#include "harness.h"
#include "tokenizer/tokenizer.h"

static char *fixture_path(const char *name) {
  static char path[4096];
  snprintf(path, sizeof path, "%s/gpt2/%s",
           harness_path("GPT2_TEST_DATA", "tests/data"), name);
  return path;
}

/* Splits merges.txt into lines after the "#version" header. */
static g2_str *fixture_merges(const g2_mapping *map, size_t *count) {
  const char *text = (const char *)map->data, *end = text + map->size;
  size_t lines = 0;
  for (const char *c = text; c < end; c++) lines += *c == '\n';
  g2_str *merges = calloc(lines + 1, sizeof *merges);
  size_t n = 0;
  int header = 1;
  for (const char *line = text; line < end;) {
    const char *newline = memchr(line, '\n', (size_t)(end - line));
    const char *stop = newline ? newline : end;
    if (!header && stop > line) merges[n++] = (g2_str){line, (size_t)(stop - line)};
    header = 0;
    line = stop + 1;
  }
  *count = n;
  return merges;
}

static g2_tokenizer *fixture_tokenizer(void) {
  g2_mapping vocab_map, merges_map;
  if (g2_map_file(fixture_path("vocab.json"), &vocab_map) != GPT2_OK) return NULL;
  if (g2_map_file(fixture_path("merges.txt"), &merges_map) != GPT2_OK) return NULL;
  g2_json *root = NULL;
  g2_tokenizer *tok = NULL;
  if (g2_json_parse((const char *)vocab_map.data, vocab_map.size, "vocab.json",
                    &root) == GPT2_OK) {
    size_t n = g2_json_count(root);
    g2_str *tokens = calloc(n, sizeof *tokens);
    for (size_t i = 0; i < n; i++) {
      int64_t id;
      size_t len;
      const char *key = g2_json_key_at(root, i, &len);
      if (g2_json_int64(g2_json_at(root, i), &id) && id >= 0 && (size_t)id < n)
        tokens[id] = (g2_str){key, len};
    }
    size_t n_merges;
    g2_str *merges = fixture_merges(&merges_map, &n_merges);
    if (g2_tokenizer_new(tokens, n, merges, n_merges, "gpt2", &tok) != GPT2_OK)
      printf("# fixture: %s\n", gpt2_last_error());
    free(merges);
    free(tokens);
  }
  g2_json_free(root);
  g2_unmap_file(&vocab_map);
  g2_unmap_file(&merges_map);
  return tok;
}

#endif
