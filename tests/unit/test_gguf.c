/* GGUF reading: the crafted corpus of tests/data/gguf_bad (each bad file
   gives its expected status and a message naming the problem; the valid
   variants load with the right contents), every truncation and many
   single-byte corruptions of a valid file (clean errors, never a crash),
   and allocation failures on every path. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "format/gguf.h"
#include "gpt2.h"
#include "harness.h"
#include "model/model.h"

static const char *data_dir;

static char *read_file(const char *path, size_t *size) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *data = malloc(n > 0 ? (size_t)n : 1);
  if (data && fread(data, 1, (size_t)n, f) != (size_t)n) {
    free(data);
    data = NULL;
  }
  fclose(f);
  *size = (size_t)n;
  return data;
}

static int write_file(const char *path, const void *data, size_t size) {
  unlink(path); /* a new file: truncating one in place is slow on some file systems */
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  int ok = fwrite(data, 1, size, f) == size;
  return fclose(f) == 0 && ok;
}

static int status_code(const char *name) {
  if (!strcmp(name, "OK")) return GPT2_OK;
  if (!strcmp(name, "FORMAT")) return GPT2_E_FORMAT;
  if (!strcmp(name, "UNSUPPORTED")) return GPT2_E_UNSUPPORTED;
  if (!strcmp(name, "IO")) return GPT2_E_IO;
  return 1; /* never returned by gpt2_load */
}

static void corpus_path(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s/gguf_bad/%s", data_dir, name);
}

/* Every line of the index: the status and a phrase of the message. */
static void test_corpus(void) {
  char path[1024];
  corpus_path(path, sizeof path, "index.txt");
  FILE *index = fopen(path, "r");
  CHECK(index != NULL, "corpus index %s opens", path);
  if (!index) return;
  char line[1024];
  int n_bad = 0, n_good = 0;
  while (fgets(line, sizeof line, index)) {
    if (line[0] == '#' || line[0] == '\n') continue;
    line[strcspn(line, "\n")] = '\0';
    char *name = strtok(line, "\t"), *status_name = strtok(NULL, "\t"), *phrase = strtok(NULL, "\t");
    if (!name || !status_name) continue;
    int expected = status_code(status_name);
    corpus_path(path, sizeof path, name);
    gpt2_model *model = (gpt2_model *)1;
    int status = gpt2_load(path, NULL, &model);
    const char *message = gpt2_last_error();
    if (expected == GPT2_OK) {
      n_good++;
      CHECK(status == GPT2_OK && model, "%s loads (status %d: %s)", name, status, message);
    } else {
      n_bad++;
      CHECK(status == expected && model == NULL && message[0] && (!phrase || strstr(message, phrase)),
            "%s: %s, message has \"%s\" (got %d: %s)", name, status_name, phrase ? phrase : "",
            status, message);
    }
    if (status == GPT2_OK) gpt2_model_free(model);
  }
  fclose(index);
  CHECK(n_bad >= 40, "corpus has %d bad files (at least 40)", n_bad);
  CHECK(n_good >= 5, "corpus has %d valid variants", n_good);
}

static gpt2_model *load_corpus_model(const char *name) {
  char path[1024];
  corpus_path(path, sizeof path, name);
  gpt2_model *model = NULL;
  int status = gpt2_load(path, NULL, &model);
  CHECK(status == GPT2_OK, "%s loads: %s", name, gpt2_last_error());
  return status == GPT2_OK ? model : NULL;
}

static int inside_mapping(const gpt2_model *model, const void *p) {
  const unsigned char *byte = p;
  for (size_t i = 0; i < model->n_mappings; i++)
    if (byte >= model->mappings[i].data && byte < model->mappings[i].data + model->mappings[i].size)
      return 1;
  return 0;
}

/* The valid variants carry the values the generator wrote. */
static void test_valid_variants(void) {
  gpt2_model *base = load_corpus_model("good_base.gguf");
  if (!base) return;
  CHECK(gpt2_n_vocab(base) == 259 && gpt2_n_embd(base) == 4 && gpt2_n_layer(base) == 1 &&
            gpt2_n_head(base) == 2 && gpt2_n_ctx_train(base) == 4 && base->hp.n_ff == 16,
        "hyper-parameters read");
  CHECK(gpt2_token_eot(base) == 258, "<|endoftext|> is the last token");
  CHECK(base->wte.dtype == G2_DT_F16 && base->layers[0].attn_qkv.dtype == G2_DT_F16 &&
            base->layers[0].mlp_up.dtype == G2_DT_BF16 && base->layers[0].mlp_down.dtype == G2_DT_F32,
        "tensor types kept");
  CHECK(base->layers[0].attn_qkv.layout == G2_LAYOUT_NK && base->layers[0].attn_qkv.n_in == 4 &&
            base->layers[0].attn_qkv.n_out == 12,
        "GGUF matrices are [n_out][n_in]");
  CHECK(inside_mapping(base, base->wte.data) && inside_mapping(base, base->layers[0].mlp_down.data) &&
            inside_mapping(base, base->lnf_gamma),
        "weights and F32 vectors are read in place (no copy)");
  CHECK(base->lm_head.data == base->wte.data, "without output.weight the output is tied to token_embd");

  gpt2_model *f16 = load_corpus_model("good_f16_vectors.gguf");
  if (f16) {
    CHECK(!inside_mapping(f16, f16->lnf_gamma) &&
              !memcmp(f16->layers[0].ln1_gamma, base->layers[0].ln1_gamma, 4 * sizeof(float)) &&
              !memcmp(f16->layers[0].mlp_up_bias, base->layers[0].mlp_up_bias, 16 * sizeof(float)),
          "F16 vectors are converted to the same floats");
    gpt2_model_free(f16);
  }
  gpt2_model *untied = load_corpus_model("good_output_tensor.gguf");
  if (untied) {
    CHECK(untied->lm_head.data != untied->wte.data && untied->lm_head.dtype == G2_DT_F32 &&
              untied->lm_head.n_out == 259,
          "an explicit output.weight is used");
    gpt2_model_free(untied);
  }
  gpt2_model_free(base);
}

/* Each allocation of a load failing in turn gives GPT2_E_NOMEM, nothing
   else (and, under ASan, no leak). */
static void test_allocation_failures(void) {
  char path[1024];
  corpus_path(path, sizeof path, "good_base.gguf");
  gpt2_model *model = NULL;
  g2_alloc_fail_at(0);
  int status = gpt2_load(path, NULL, &model);
  size_t n_allocations = g2_alloc_fail_at(0);
  gpt2_model_free(model);
  CHECK(status == GPT2_OK && n_allocations > 3, "a load makes %zu allocations", n_allocations);
  int all_nomem = 1;
  for (size_t n = 1; n <= n_allocations; n++) {
    g2_alloc_fail_at(n);
    model = NULL;
    status = gpt2_load(path, NULL, &model);
    g2_alloc_fail_at(0);
    if (status != GPT2_E_NOMEM || model) {
      all_nomem = 0;
      printf("# allocation %zu: status %d: %s\n", n, status, gpt2_last_error());
    }
    gpt2_model_free(model);
  }
  CHECK(all_nomem, "failing any of the %zu allocations gives GPT2_E_NOMEM", n_allocations);
}

/* Any prefix of a valid file is rejected cleanly by the parser. */
static void test_truncations(void) {
  char path[1024];
  corpus_path(path, sizeof path, "good_base.gguf");
  size_t size;
  char *data = read_file(path, &size);
  CHECK(data != NULL, "read %s", path);
  if (!data) return;
  int clean = 1;
  for (size_t n = 0; n < size; n++) {
    g2_gguf gguf;
    int status = g2_gguf_parse((const unsigned char *)data, n, "prefix", &gguf);
    if (status == GPT2_OK) g2_gguf_free(&gguf);
    if (status != GPT2_E_FORMAT || !gpt2_last_error()[0]) {
      clean = 0;
      printf("# prefix of %zu bytes: status %d: %s\n", n, status, gpt2_last_error());
    }
  }
  CHECK(clean, "all %zu truncations of a valid file are GPT2_E_FORMAT with a message", size);
  free(data);
}

/* Every byte of the header, metadata and tensor infos set to 0x00, 0xff
   or 0x80 (in turn along the file; all three in the header): each load succeeds or fails with a message, and never
   crashes (run under ASan/UBSan for the full value). */
static void test_corruptions(void) {
  char path[1024], tmp[1024];
  corpus_path(path, sizeof path, "good_base.gguf");
  snprintf(tmp, sizeof tmp, "%s/test_gguf_%d.gguf", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
           (int)getpid());
  size_t size;
  char *data = read_file(path, &size);
  if (!data) return;
  g2_gguf gguf;
  size_t structure = size;
  if (g2_gguf_parse((const unsigned char *)data, size, "base", &gguf) == GPT2_OK) {
    structure = (size_t)gguf.data_offset;
    g2_gguf_free(&gguf);
  }
  static const unsigned char values[] = {0x00, 0xff, 0x80};
  int clean = 1, loaded = 0, tried = 0;
  for (size_t i = 0; i < structure; i++) {
    for (size_t v = 0; v < sizeof values; v++) {
      if ((i >= 24 && v != i % sizeof values) || (unsigned char)data[i] == values[v]) continue;
      char saved = data[i];
      data[i] = (char)values[v];
      tried++;
      if (write_file(tmp, data, size)) {
        gpt2_model *model = NULL;
        int status = gpt2_load(tmp, NULL, &model);
        if (status == GPT2_OK) {
          loaded++;
          gpt2_model_free(model);
        } else if ((status != GPT2_E_FORMAT && status != GPT2_E_UNSUPPORTED) || !gpt2_last_error()[0]) {
          clean = 0;
          printf("# byte %zu = 0x%02x: status %d: %s\n", i, values[v], status, gpt2_last_error());
        }
      }
      data[i] = saved;
    }
  }
  unlink(tmp);
  CHECK(clean, "%d corruptions of the first %zu bytes: %d load, the others fail cleanly", tried,
        structure, loaded);
  free(data);
}

int main(void) {
  data_dir = harness_path("GPT2_TEST_DATA", "tests/data");
  test_corpus();
  test_valid_variants();
  test_allocation_failures();
  test_truncations();
  test_corruptions();
  HARNESS_EXIT();
}
