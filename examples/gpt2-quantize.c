/* gpt2-quantize: convert a GPT-2 model (Hugging Face directory or GGUF
   file) to a GGUF file of a chosen weight type, loadable by libgpt2 and by
   llama.cpp. Shows gpt2_load and gpt2_save_gguf. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "gpt2.h"

static const char usage[] =
    "Usage: gpt2-quantize IN OUT [--type TYPE] [--omit-tied-output]\n"
    "Write the GPT-2 model IN as the GGUF file OUT.\n"
    "\n"
    "  IN           a Hugging Face GPT-2 directory (config.json,\n"
    "               model.safetensors, vocab.json, merges.txt) or a .gguf file\n"
    "  OUT          the GGUF file to write (replaced only once complete)\n"
    "  --type TYPE  the weights' type, as llama.cpp's converter and quantizer\n"
    "               make them (norms, biases and position embeddings stay F32):\n"
    "                 f32, f16, bf16  every matrix in that type\n"
    "                 q8_0            matrices in Q8_0 blocks\n"
    "                 q4_0            layer matrices in Q4_0 blocks, the\n"
    "                                 token embeddings / output in Q8_0\n"
    "                 auto            each matrix as IN holds it (the default)\n"
    "               and llama-quantize's K mixes, tensor by tensor (layers\n"
    "               0..n-1; 'more-bits layers': the first and last n/8 and\n"
    "               every third from layer n/8 + 2: llama.cpp's use_more_bits):\n"
    "                 q3_k_s  Q3_K; output Q6_K\n"
    "                 q3_k_m  Q3_K; attn_qkv Q5_K in layers 0-1 else Q4_K,\n"
    "                         ffn_down Q5_K in the first n/16 else Q4_K,\n"
    "                         attn_output Q4_K; output Q6_K\n"
    "                 q3_k_l  Q3_K; attn_qkv, ffn_down, attn_output Q5_K;\n"
    "                         output Q6_K\n"
    "                 q4_k_m  Q4_K; attn_qkv and ffn_down Q6_K in the\n"
    "                         more-bits layers; output Q6_K\n"
    "                 q4_k_s  Q4_K; attn_qkv Q5_K in layers 0-3, ffn_down\n"
    "                         Q5_K in the first n/8; output Q6_K\n"
    "                 q5_k_m  Q5_K; attn_qkv and ffn_down Q6_K in the\n"
    "                         more-bits layers; output Q6_K\n"
    "                 q5_k_s  Q5_K; output Q6_K\n"
    "                 q6_k    Q6_K everywhere\n"
    "               token_embd takes the mix's base type (Q3_K .. Q6_K),\n"
    "               or the output's with --omit-tied-output.\n"
    "               Where 256-value blocks do not fit a row (n_embd not a\n"
    "               multiple of 256, e.g. GPT-2 XL's 1600) Q3_K becomes Q4_0,\n"
    "               Q4_K Q5_0, Q5_K Q5_1, Q6_K Q8_0, and the output Q8_0.\n"
    "               Every block rounds exactly as ggml's reference quantizer\n"
    "               (llama-quantize without --imatrix); rows that do not fill\n"
    "               32-value blocks stay F16.\n"
    "  --omit-tied-output\n"
    "               leave out output.weight when IN ties it to the token\n"
    "               embedding (by default a copy is written, as llama.cpp's\n"
    "               converter does: llama.cpp before March 2025 needs it)\n"
    "  -h, --help   print this help\n"
    "\n"
    "Exit status: 0 success, 1 error (model, file), 2 bad command line.\n";

static const struct {
  const char *name;
  uint32_t weight_type;
} types[] = {
    {"auto", GPT2_WTYPE_AUTO}, {"f32", GPT2_WTYPE_F32},   {"f16", GPT2_WTYPE_F16},
    {"bf16", GPT2_WTYPE_BF16}, {"q8_0", GPT2_WTYPE_Q8_0}, {"q4_0", GPT2_WTYPE_Q4_0},
    {"q4_k_m", GPT2_WTYPE_Q4_K_M}, {"q4_k_s", GPT2_WTYPE_Q4_K_S}, {"q5_k_m", GPT2_WTYPE_Q5_K_M},
    {"q5_k_s", GPT2_WTYPE_Q5_K_S}, {"q6_k", GPT2_WTYPE_Q6_K},     {"q3_k_s", GPT2_WTYPE_Q3_K_S},
    {"q3_k_m", GPT2_WTYPE_Q3_K_M}, {"q3_k_l", GPT2_WTYPE_Q3_K_L},
};

static uint32_t parse_type(const char *text) {
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (!strcmp(text, types[i].name)) return types[i].weight_type;
  cli_usage_error("--type: unknown type '%s' (f32, f16, bf16, q8_0, q4_0, q3_k_s, q3_k_m, q3_k_l, "
                  "q4_k_m, q4_k_s, q5_k_m, q5_k_s, q6_k or auto)",
                  text);
  return 0;
}

int main(int argc, char **argv) {
  cli_program = "gpt2-quantize";
  const char *paths[2] = {NULL, NULL};
  int n_paths = 0, options_done = 0;
  gpt2_save_params params = GPT2_SAVE_PARAMS_INIT;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (options_done || arg[0] != '-' || arg[1] == '\0') {
      if (n_paths == 2) cli_usage_error("unexpected argument '%s' (give IN and OUT)", arg);
      paths[n_paths++] = arg;
    } else if (!strcmp(arg, "--")) {
      options_done = 1;
    } else if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
      fputs(usage, stdout);
      return 0;
    } else if (!strcmp(arg, "--type")) {
      params.weight_type = parse_type(cli_value(argc, argv, &i));
    } else if (!strncmp(arg, "--type=", 7)) {
      params.weight_type = parse_type(arg + 7);
    } else if (!strcmp(arg, "--omit-tied-output")) {
      params.omit_tied_output = 1;
    } else {
      cli_usage_error("unknown option '%s'", arg);
    }
  }
  if (n_paths < 2) cli_usage_error("give the model to read (IN) and the file to write (OUT)");

  double start = cli_seconds();
  gpt2_model *model = cli_load_model(paths[0]);
  int status = gpt2_save_gguf(model, paths[1], &params);
  if (status != GPT2_OK) {
    char what[512];
    snprintf(what, sizeof what, "cannot write '%s'", paths[1]);
    cli_fail_status(what, status);
  }
  fprintf(stderr, "%s: wrote %s (%d layers, %d tokens) in %.2f s\n", cli_program, paths[1],
          gpt2_n_layer(model), gpt2_n_vocab(model), cli_seconds() - start);
  gpt2_model_free(model);
  return 0;
}
