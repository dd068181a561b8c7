/* gen_model - writes a deterministic random-weight GPT-2 model as a Hugging
   Face directory: config.json, model.safetensors, vocab.json, merges.txt,
   plus gen_model.txt (the arguments and a checksum of the weights file).

   The same arguments give the same bytes on every machine:
   - the PRNG is splitmix64, one stream per tensor, seeded from --seed and a
     hash of the tensor's name (without the "transformer." prefix, so the
     prefixed and unprefixed layouts hold identical weights);
   - a normal deviate is Irwin-Hall: twelve 16-bit uniforms (k + 1/2)/2^16
     summed minus 6, computed exactly in integers, then mean + std * z in
     double (only IEEE basic operations and sqrt, which are correctly
     rounded; no FMA contraction under -std=c11), rounded to float
     and from there to F16/BF16 with round-to-nearest-even.

   The vocabulary is either copied (--vocab and --merges, all merges) or
   synthesized from the first --n-merges merges of --merges: ids 0..255 are
   the byte tokens in GPT-2's bytes_to_unicode order, id 256+i is merge i,
   and <|endoftext|> comes last. For GPT-2's own files this gives exactly
   GPT-2's ids, so every prefix is a consistent BPE vocabulary.

   Usage: see usage() below. Exit status 0 on success, 1 with a message on
   stderr otherwise. */
#include <errno.h>
#include <math.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/half.h"

/* Bump when the bytes written for the same arguments change. */
#define GEN_MODEL_VERSION 1

/* ---- helpers ------------------------------------------------------------ */

_Noreturn static void die(const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  fputs("gen_model: ", stderr);
  vfprintf(stderr, fmt, args);
  fputc('\n', stderr);
  va_end(args);
  exit(1);
}

static void *xmalloc(size_t bytes) {
  void *block = malloc(bytes ? bytes : 1);
  if (!block) die("out of memory (%zu bytes)", bytes);
  return block;
}

/* A growable byte string. */
typedef struct text {
  char *data;
  size_t len, cap;
} text;

static void text_append(text *t, const char *bytes, size_t n) {
  if (t->len + n + 1 > t->cap) {
    size_t cap = t->cap ? t->cap : 4096;
    while (cap < t->len + n + 1) cap *= 2;
    char *grown = realloc(t->data, cap);
    if (!grown) die("out of memory");
    t->data = grown;
    t->cap = cap;
  }
  memcpy(t->data + t->len, bytes, n);
  t->len += n;
  t->data[t->len] = '\0';
}

static void text_printf(text *t, const char *fmt, ...) {
  char buf[512];
  va_list args;
  va_start(args, fmt);
  int n = vsnprintf(buf, sizeof buf, fmt, args);
  va_end(args);
  if (n < 0 || (size_t)n >= sizeof buf) die("internal: formatted text too long");
  text_append(t, buf, (size_t)n);
}

static char *path_in(const char *dir, const char *name) {
  size_t n = strlen(dir) + strlen(name) + 2;
  char *path = xmalloc(n);
  snprintf(path, n, "%s/%s", dir, name);
  return path;
}

static void write_file(const char *dir, const char *name, const char *bytes, size_t n) {
  char *path = path_in(dir, name);
  FILE *f = fopen(path, "wb");
  if (!f || fwrite(bytes, 1, n, f) != n || fclose(f) != 0)
    die("%s: cannot write: %s", path, strerror(errno));
  free(path);
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) die("%s: cannot open: %s", path, strerror(errno));
  text t = {0};
  char buf[65536];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, f)) > 0) text_append(&t, buf, n);
  if (ferror(f)) die("%s: read error", path);
  fclose(f);
  if (!t.data) text_append(&t, "", 0);
  *len = t.len;
  return t.data;
}

static uint64_t fnv1a64(uint64_t hash, const unsigned char *bytes, size_t n) {
  for (size_t i = 0; i < n; i++) {
    hash ^= bytes[i];
    hash *= 0x100000001b3u;
  }
  return hash;
}
#define FNV1A64_INIT 0xcbf29ce484222325u

/* ---- deterministic numbers ---------------------------------------------- */

static uint64_t splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

/* Irwin-Hall with twelve uniforms (k + 1/2) / 2^16: mean 0, variance
   1 - 1/(12 * 2^32) (close enough to 1), support [-6, 6]. Exact. */
static double normal_deviate(uint64_t *state) {
  int64_t sum = 0;
  for (int word = 0; word < 3; word++) {
    uint64_t bits = splitmix64(state);
    for (int part = 0; part < 4; part++) sum += (int64_t)((bits >> (16 * part)) & 0xffffu);
  }
  /* sum over k_i + 12/2 - 6 * 2^16, in units of 2^-16, doubled to stay integral */
  return (double)(2 * sum + 12 - 12 * 65536) / 131072.0;
}

/* ---- tensors ------------------------------------------------------------ */

typedef enum dtype { DT_F32, DT_F16, DT_BF16 } dtype;
static const char *const dtype_st_name[] = {"F32", "F16", "BF16"};
static const char *const dtype_torch_name[] = {"float32", "float16", "bfloat16"};
static const size_t dtype_bytes[] = {4, 2, 2};

typedef enum fill { FILL_NORMAL, FILL_CAUSAL_MASK, FILL_CONSTANT } fill;

typedef struct tensor {
  char name[96]; /* without the "transformer." prefix */
  int rank;
  int64_t shape[4];
  fill kind;
  double mean, std; /* FILL_NORMAL; FILL_CONSTANT uses mean */
  uint64_t offset;  /* in the data buffer */
} tensor;

static int64_t tensor_count(const tensor *t) {
  int64_t n = 1;
  for (int i = 0; i < t->rank; i++) n *= t->shape[i];
  return n;
}

typedef struct tensor_list {
  tensor *items;
  size_t n, cap;
} tensor_list;

static tensor *add_tensor(tensor_list *list, const char *name, int rank, const int64_t *shape,
                          fill kind, double mean, double std) {
  if (list->n == list->cap) {
    list->cap = list->cap ? 2 * list->cap : 64;
    list->items = realloc(list->items, list->cap * sizeof *list->items);
    if (!list->items) die("out of memory");
  }
  tensor *t = &list->items[list->n++];
  memset(t, 0, sizeof *t);
  snprintf(t->name, sizeof t->name, "%s", name);
  t->rank = rank;
  for (int i = 0; i < rank; i++) t->shape[i] = shape[i];
  t->kind = kind;
  t->mean = mean;
  t->std = std;
  return t;
}

typedef struct config {
  const char *out_dir;
  int64_t n_layer, n_head, n_embd, n_positions, n_vocab;
  dtype type;
  uint64_t seed;
  int prefix; /* names start with "transformer." */
} config;

/* Weight scales, tuned with the float64 reference (gpt2_ref.py stats) so
   that logits spread over several units and greedy decoding wanders
   instead of repeating one token, for every shape from n_embd 64 to 768:
   - matrices: std MATRIX_GAIN / sqrt(n_in), so each layer's output is of
     unit order; a gain of 2 (rather than 1) makes the blocks nonlinear
     enough that the continuation depends on the whole context;
   - embeddings: rows of expected norm EMBD_ROW_NORM, small against the
     residual stream, so a token's own embedding does not make it predict
     itself (the tied unembedding favours h . wte[t] for the last token t);
   - ln_f gamma around LOGIT_STD / EMBD_ROW_NORM: logits = ln_f(h) . wte
     then have a standard deviation of about LOGIT_STD across the vocabulary. */
#define MATRIX_GAIN 2.0
#define EMBD_ROW_NORM 1.0
#define LOGIT_STD 4.0
#define GAMMA_STD 0.1
#define BETA_STD 0.05
#define BIAS_STD 0.05

static void layer_norm_tensors(tensor_list *list, const char *base, int64_t n_embd, double gain) {
  char name[96];
  snprintf(name, sizeof name, "%s.weight", base);
  add_tensor(list, name, 1, &n_embd, FILL_NORMAL, gain, GAMMA_STD * gain);
  snprintf(name, sizeof name, "%s.bias", base);
  add_tensor(list, name, 1, &n_embd, FILL_NORMAL, 0.0, BETA_STD);
}

/* Conv1D: weight [n_in, n_out] as Hugging Face stores it, bias [n_out]. */
static void conv1d_tensors(tensor_list *list, const char *base, int64_t n_in, int64_t n_out) {
  char name[96];
  int64_t shape[2] = {n_in, n_out};
  /* sqrt is correctly rounded (IEEE 754), so this is the same everywhere */
  double std = MATRIX_GAIN / sqrt((double)n_in);
  snprintf(name, sizeof name, "%s.weight", base);
  add_tensor(list, name, 2, shape, FILL_NORMAL, 0.0, std);
  snprintf(name, sizeof name, "%s.bias", base);
  add_tensor(list, name, 1, &n_out, FILL_NORMAL, 0.0, BIAS_STD);
}

static void build_tensors(const config *cfg, tensor_list *list) {
  int64_t e = cfg->n_embd;
  int64_t wte_shape[2] = {cfg->n_vocab, e}, wpe_shape[2] = {cfg->n_positions, e};
  double embd_std = EMBD_ROW_NORM / sqrt((double)e);
  add_tensor(list, "wte.weight", 2, wte_shape, FILL_NORMAL, 0.0, embd_std);
  add_tensor(list, "wpe.weight", 2, wpe_shape, FILL_NORMAL, 0.0, embd_std);
  for (int64_t layer = 0; layer < cfg->n_layer; layer++) {
    char base[64], name[96];
    snprintf(base, sizeof base, "h.%" PRId64, layer);
    snprintf(name, sizeof name, "%s.ln_1", base);
    layer_norm_tensors(list, name, e, 1.0);
    /* The non-weight buffers real checkpoints carry. */
    int64_t mask_shape[4] = {1, 1, cfg->n_positions, cfg->n_positions};
    snprintf(name, sizeof name, "%s.attn.bias", base);
    add_tensor(list, name, 4, mask_shape, FILL_CAUSAL_MASK, 0.0, 0.0);
    snprintf(name, sizeof name, "%s.attn.masked_bias", base);
    add_tensor(list, name, 0, NULL, FILL_CONSTANT, -1e4, 0.0);
    snprintf(name, sizeof name, "%s.attn.c_attn", base);
    conv1d_tensors(list, name, e, 3 * e);
    snprintf(name, sizeof name, "%s.attn.c_proj", base);
    conv1d_tensors(list, name, e, e);
    snprintf(name, sizeof name, "%s.ln_2", base);
    layer_norm_tensors(list, name, e, 1.0);
    snprintf(name, sizeof name, "%s.mlp.c_fc", base);
    conv1d_tensors(list, name, e, 4 * e);
    snprintf(name, sizeof name, "%s.mlp.c_proj", base);
    conv1d_tensors(list, name, 4 * e, e);
  }
  layer_norm_tensors(list, "ln_f", e, LOGIT_STD / EMBD_ROW_NORM);
}

static void store_value(dtype type, float value, unsigned char *out) {
  uint32_t bits = type == DT_F32 ? g2_f32_to_bits(value)
                  : type == DT_F16 ? g2_f32_to_f16(value)
                                   : g2_f32_to_bf16(value);
  for (size_t i = 0; i < dtype_bytes[type]; i++) out[i] = (unsigned char)(bits >> (8 * i));
}

static float tensor_value(const tensor *t, int64_t index, uint64_t *state) {
  switch (t->kind) {
  case FILL_NORMAL: {
    double scaled = t->std * normal_deviate(state);
    return (float)(t->mean + scaled);
  }
  case FILL_CAUSAL_MASK: {
    int64_t n = t->shape[3];
    return (index % n) <= (index / n % n) ? 1.0f : 0.0f;
  }
  case FILL_CONSTANT: return (float)t->mean;
  }
  return 0.0f;
}

/* Writes the tensor's bytes to f in chunks; returns the updated checksum. */
static uint64_t write_tensor_data(const config *cfg, const tensor *t, FILE *f, uint64_t hash,
                                  unsigned char *chunk, size_t chunk_elems) {
  uint64_t state = fnv1a64(FNV1A64_INIT, (const unsigned char *)t->name, strlen(t->name)) ^
                   (cfg->seed * 0x9e3779b97f4a7c15u);
  int64_t total = tensor_count(t);
  size_t width = dtype_bytes[cfg->type];
  for (int64_t done = 0; done < total;) {
    size_t n = (size_t)(total - done) < chunk_elems ? (size_t)(total - done) : chunk_elems;
    for (size_t i = 0; i < n; i++)
      store_value(cfg->type, tensor_value(t, done + (int64_t)i, &state), chunk + i * width);
    if (fwrite(chunk, width, n, f) != n) die("model.safetensors: write failed");
    hash = fnv1a64(hash, chunk, n * width);
    done += (int64_t)n;
  }
  return hash;
}

static void write_safetensors(const config *cfg, tensor_list *list, uint64_t *checksum) {
  text header = {0};
  uint64_t offset = 0;
  text_append(&header, "{\"__metadata__\":{\"format\":\"pt\"}", 31);
  for (size_t i = 0; i < list->n; i++) {
    tensor *t = &list->items[i];
    uint64_t bytes = (uint64_t)tensor_count(t) * dtype_bytes[cfg->type];
    t->offset = offset;
    text_printf(&header, ",\"%s%s\":{\"dtype\":\"%s\",\"shape\":[", cfg->prefix ? "transformer." : "",
                t->name, dtype_st_name[cfg->type]);
    for (int d = 0; d < t->rank; d++) text_printf(&header, "%s%" PRId64, d ? "," : "", t->shape[d]);
    text_printf(&header, "],\"data_offsets\":[%" PRIu64 ",%" PRIu64 "]}", offset, offset + bytes);
    offset += bytes;
  }
  text_append(&header, "}", 1);
  while (header.len % 8) text_append(&header, " ", 1); /* the data starts 8-aligned */

  char *path = path_in(cfg->out_dir, "model.safetensors");
  FILE *f = fopen(path, "wb");
  if (!f) die("%s: cannot create: %s", path, strerror(errno));
  unsigned char length[8];
  for (int i = 0; i < 8; i++) length[i] = (unsigned char)((uint64_t)header.len >> (8 * i));
  uint64_t hash = fnv1a64(FNV1A64_INIT, length, 8);
  hash = fnv1a64(hash, (const unsigned char *)header.data, header.len);
  if (fwrite(length, 1, 8, f) != 8 || fwrite(header.data, 1, header.len, f) != header.len)
    die("%s: write failed", path);
  size_t chunk_elems = (size_t)1 << 20;
  unsigned char *chunk = xmalloc(chunk_elems * 4);
  for (size_t i = 0; i < list->n; i++)
    hash = write_tensor_data(cfg, &list->items[i], f, hash, chunk, chunk_elems);
  if (fclose(f) != 0) die("%s: write failed: %s", path, strerror(errno));
  free(chunk);
  free(path);
  free(header.data);
  *checksum = hash;
}

/* ---- vocabulary --------------------------------------------------------- */

static size_t utf8_encode(uint32_t cp, char *out) {
  if (cp < 0x80) { out[0] = (char)cp; return 1; }
  if (cp < 0x800) {
    out[0] = (char)(0xc0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
  }
  out[0] = (char)(0xe0 | (cp >> 12));
  out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
  out[2] = (char)(0x80 | (cp & 0x3f));
  return 3;
}

/* GPT-2's bytes_to_unicode order: printable Latin-1 bytes map to themselves
   and come first; the other 68 bytes map to U+0100.. in byte order. */
static void byte_token_codepoints(uint32_t codepoints[256]) {
  size_t n = 0;
  for (uint32_t b = 0; b < 256; b++)
    if ((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae)) codepoints[n++] = b;
  uint32_t next = 0x100;
  for (uint32_t b = 0; b < 256; b++)
    if (!((b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae))) codepoints[n++] = next++;
}

/* Appends `token` (UTF-8) as a JSON string with non-ASCII as \u escapes,
   as Python's json.dump does by default. */
static void json_string(text *out, const char *token, size_t len) {
  text_append(out, "\"", 1);
  for (size_t i = 0; i < len;) {
    unsigned char c = (unsigned char)token[i];
    uint32_t cp;
    size_t width;
    if (c < 0x80) { cp = c; width = 1; }
    else if (c >= 0xc0 && c < 0xe0 && i + 1 < len) { cp = ((c & 0x1fu) << 6) | (token[i + 1] & 0x3f); width = 2; }
    else if (c >= 0xe0 && c < 0xf0 && i + 2 < len) {
      cp = ((c & 0x0fu) << 12) | ((token[i + 1] & 0x3fu) << 6) | (token[i + 2] & 0x3f);
      width = 3;
    } else if (c >= 0xf0 && i + 3 < len) {
      cp = ((c & 0x07u) << 18) | ((token[i + 1] & 0x3fu) << 12) | ((token[i + 2] & 0x3fu) << 6) |
           (token[i + 3] & 0x3f);
      width = 4;
    } else die("merges: invalid UTF-8 in token");
    i += width;
    if (cp == '"' || cp == '\\') text_printf(out, "\\%c", (char)cp);
    else if (cp >= 0x20 && cp < 0x7f) text_printf(out, "%c", (char)cp);
    else if (cp < 0x10000) text_printf(out, "\\u%04x", (unsigned)cp);
    else {
      cp -= 0x10000;
      text_printf(out, "\\u%04x\\u%04x", 0xd800u + (unsigned)(cp >> 10), 0xdc00u + (unsigned)(cp & 0x3ff));
    }
  }
  text_append(out, "\"", 1);
}

/* The merge lines of merges.txt (after the "#version" line). */
typedef struct merges {
  char *file;
  char **lines;
  size_t n;
} merges;

static void read_merges(const char *path, merges *m) {
  size_t len;
  m->file = read_file(path, &len);
  m->lines = xmalloc((len / 2 + 1) * sizeof *m->lines);
  m->n = 0;
  char *line = m->file;
  if (strncmp(line, "#version", 8) == 0) line = strchr(line, '\n') ? strchr(line, '\n') + 1 : line + len;
  while (*line) {
    char *end = strchr(line, '\n');
    if (end) *end = '\0';
    if (*line) {
      char *space = strchr(line, ' ');
      if (!space || space == line || !space[1] || strchr(space + 1, ' '))
        die("%s: merge %zu is not \"A B\"", path, m->n);
      m->lines[m->n++] = line;
    }
    if (!end) break;
    line = end + 1;
  }
}

static void write_synthetic_vocab(const char *out_dir, const merges *m, size_t n_merges) {
  uint32_t codepoints[256];
  byte_token_codepoints(codepoints);
  text vocab = {0}, merge_text = {0};
  text_append(&vocab, "{", 1);
  for (size_t id = 0; id < 256; id++) {
    char utf8[4];
    size_t n = utf8_encode(codepoints[id], utf8);
    if (id) text_append(&vocab, ", ", 2);
    json_string(&vocab, utf8, n);
    text_printf(&vocab, ": %zu", id);
  }
  text_append(&merge_text, "#version: 0.2\n", 14);
  for (size_t i = 0; i < n_merges; i++) {
    const char *line = m->lines[i];
    const char *space = strchr(line, ' ');
    char token[256];
    size_t a = (size_t)(space - line), b = strlen(space + 1);
    if (a + b >= sizeof token) die("merges: merge %zu too long", i);
    memcpy(token, line, a);
    memcpy(token + a, space + 1, b);
    text_append(&vocab, ", ", 2);
    json_string(&vocab, token, a + b);
    text_printf(&vocab, ": %zu", 256 + i);
    text_append(&merge_text, line, strlen(line));
    text_append(&merge_text, "\n", 1);
  }
  text_printf(&vocab, ", \"<|endoftext|>\": %zu}", 256 + n_merges);
  write_file(out_dir, "vocab.json", vocab.data, vocab.len);
  write_file(out_dir, "merges.txt", merge_text.data, merge_text.len);
  free(vocab.data);
  free(merge_text.data);
}

static void copy_file(const char *from, const char *out_dir, const char *name) {
  size_t len;
  char *bytes = read_file(from, &len);
  write_file(out_dir, name, bytes, len);
  free(bytes);
}

/* ---- config.json -------------------------------------------------------- */

static void write_config(const config *cfg) {
  text t = {0};
  int64_t eot = cfg->n_vocab - 1;
  text_printf(&t, "{\n  \"activation_function\": \"gelu_new\",\n");
  text_printf(&t, "  \"architectures\": [\n    \"GPT2LMHeadModel\"\n  ],\n");
  text_printf(&t, "  \"attn_pdrop\": 0.1,\n  \"bos_token_id\": %" PRId64 ",\n", eot);
  text_printf(&t, "  \"embd_pdrop\": 0.1,\n  \"eos_token_id\": %" PRId64 ",\n", eot);
  text_printf(&t, "  \"initializer_range\": 0.02,\n  \"layer_norm_epsilon\": 1e-05,\n");
  text_printf(&t, "  \"model_type\": \"gpt2\",\n  \"n_ctx\": %" PRId64 ",\n", cfg->n_positions);
  text_printf(&t, "  \"n_embd\": %" PRId64 ",\n  \"n_head\": %" PRId64 ",\n", cfg->n_embd, cfg->n_head);
  text_printf(&t, "  \"n_inner\": null,\n  \"n_layer\": %" PRId64 ",\n", cfg->n_layer);
  text_printf(&t, "  \"n_positions\": %" PRId64 ",\n", cfg->n_positions);
  text_printf(&t, "  \"reorder_and_upcast_attn\": false,\n  \"resid_pdrop\": 0.1,\n");
  text_printf(&t, "  \"scale_attn_by_inverse_layer_idx\": false,\n  \"scale_attn_weights\": true,\n");
  text_printf(&t, "  \"summary_activation\": null,\n  \"summary_first_dropout\": 0.1,\n");
  text_printf(&t, "  \"summary_proj_to_labels\": true,\n  \"summary_type\": \"cls_index\",\n");
  text_printf(&t, "  \"summary_use_proj\": true,\n  \"task_specific_params\": {\n");
  text_printf(&t, "    \"text-generation\": {\n      \"do_sample\": true,\n      \"max_length\": 50\n    }\n  },\n");
  text_printf(&t, "  \"torch_dtype\": \"%s\",\n", dtype_torch_name[cfg->type]);
  text_printf(&t, "  \"transformers_version\": \"4.40.0\",\n  \"use_cache\": true,\n");
  text_printf(&t, "  \"vocab_size\": %" PRId64 "\n}\n", cfg->n_vocab);
  write_file(cfg->out_dir, "config.json", t.data, t.len);
  free(t.data);
}

/* ---- command line ------------------------------------------------------- */

_Noreturn static void usage(void) {
  fprintf(stderr,
          "usage: gen_model --out DIR --layers N --heads N --embd N --positions N\n"
          "                 --dtype f32|f16|bf16 --seed N --merges FILE\n"
          "                 [--n-merges M | --vocab FILE] [--no-prefix]\n"
          "  --merges FILE   GPT-2 merges.txt; with --n-merges M the vocabulary is\n"
          "                  synthesized from its first M merges (vocab 256 + M + 1)\n"
          "  --vocab FILE    copy this vocab.json and the whole merges file instead\n"
          "  --no-prefix     tensor names without \"transformer.\"\n"
          "  --version       print the generator version\n");
  exit(2);
}

static int64_t parse_int(const char *flag, const char *value, int64_t min, int64_t max) {
  char *end;
  errno = 0;
  long long n = strtoll(value, &end, 10);
  if (errno || *end || end == value || n < min || n > max)
    die("%s: expected an integer in [%" PRId64 ", %" PRId64 "], got \"%s\"", flag, min, max, value);
  return (int64_t)n;
}

int main(int argc, char **argv) {
  config cfg = {0};
  const char *merges_path = NULL, *vocab_path = NULL, *dtype_arg = NULL;
  int64_t n_merges = -1;
  cfg.prefix = 1;
  cfg.seed = 1;
  for (int i = 1; i < argc; i++) {
    const char *flag = argv[i];
    if (!strcmp(flag, "--version")) { printf("gen_model %d\n", GEN_MODEL_VERSION); return 0; }
    if (!strcmp(flag, "--no-prefix")) { cfg.prefix = 0; continue; }
    if (i + 1 >= argc) usage();
    const char *value = argv[++i];
    if (!strcmp(flag, "--out")) cfg.out_dir = value;
    else if (!strcmp(flag, "--layers")) cfg.n_layer = parse_int(flag, value, 1, 1000);
    else if (!strcmp(flag, "--heads")) cfg.n_head = parse_int(flag, value, 1, 1000);
    else if (!strcmp(flag, "--embd")) cfg.n_embd = parse_int(flag, value, 1, 1 << 16);
    else if (!strcmp(flag, "--positions")) cfg.n_positions = parse_int(flag, value, 1, 1 << 16);
    else if (!strcmp(flag, "--seed")) cfg.seed = (uint64_t)parse_int(flag, value, 0, INT64_MAX);
    else if (!strcmp(flag, "--dtype")) dtype_arg = value;
    else if (!strcmp(flag, "--merges")) merges_path = value;
    else if (!strcmp(flag, "--vocab")) vocab_path = value;
    else if (!strcmp(flag, "--n-merges")) n_merges = parse_int(flag, value, 0, 1 << 24);
    else usage();
  }
  if (!cfg.out_dir || !cfg.n_layer || !cfg.n_head || !cfg.n_embd || !cfg.n_positions ||
      !dtype_arg || !merges_path || (vocab_path && n_merges >= 0))
    usage();
  if (!strcmp(dtype_arg, "f32")) cfg.type = DT_F32;
  else if (!strcmp(dtype_arg, "f16")) cfg.type = DT_F16;
  else if (!strcmp(dtype_arg, "bf16")) cfg.type = DT_BF16;
  else die("--dtype: expected f32, f16 or bf16, got \"%s\"", dtype_arg);
  if (cfg.n_embd % cfg.n_head) die("--embd %" PRId64 " is not a multiple of --heads %" PRId64, cfg.n_embd, cfg.n_head);

  merges m;
  read_merges(merges_path, &m);
  if (n_merges < 0) n_merges = (int64_t)m.n;
  if ((size_t)n_merges > m.n) die("--n-merges %" PRId64 ": %s has only %zu merges", n_merges, merges_path, m.n);
  cfg.n_vocab = 256 + n_merges + 1;

  if (mkdir(cfg.out_dir, 0777) != 0 && errno != EEXIST) die("%s: cannot create: %s", cfg.out_dir, strerror(errno));
  if (vocab_path) {
    copy_file(vocab_path, cfg.out_dir, "vocab.json");
    copy_file(merges_path, cfg.out_dir, "merges.txt");
  } else {
    write_synthetic_vocab(cfg.out_dir, &m, (size_t)n_merges);
  }
  free(m.lines);
  free(m.file);
  write_config(&cfg);

  tensor_list list = {0};
  build_tensors(&cfg, &list);
  uint64_t checksum;
  write_safetensors(&cfg, &list, &checksum);
  free(list.items);

  text stamp = {0};
  text_printf(&stamp, "generator gen_model %d\nargs", GEN_MODEL_VERSION);
  for (int i = 1; i < argc; i++)
    if (strcmp(argv[i - 1], "--out") && strcmp(argv[i], "--out")) text_printf(&stamp, " %s", argv[i]);
  text_printf(&stamp, "\nsafetensors_fnv1a64 %016" PRIx64 "\n", checksum);
  write_file(cfg.out_dir, "gen_model.txt", stamp.data, stamp.len);
  free(stamp.data);
  return 0;
}
