/* gpt2-quantize: convert a GPT-2 model (Hugging Face directory or GGUF
   file) to a GGUF file of a chosen weight type, loadable by libgpt2 and by
   llama.cpp. Shows gpt2_load and gpt2_save_gguf. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "gpt2.h"

static const char usage[] =
    "Usage: gpt2-quantize IN OUT [--type TYPE]\n"
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
    "               Q8_0 and Q4_0 round exactly as ggml's reference quantizer;\n"
    "               rows that do not fill their blocks (32 values) stay F16.\n"
    "  -h, --help   print this help\n"
    "\n"
    "Exit status: 0 success, 1 error (model, file), 2 bad command line.\n";

static const struct {
  const char *name;
  uint32_t weight_type;
} types[] = {
    {"auto", GPT2_WTYPE_AUTO}, {"f32", GPT2_WTYPE_F32},   {"f16", GPT2_WTYPE_F16},
    {"bf16", GPT2_WTYPE_BF16}, {"q8_0", GPT2_WTYPE_Q8_0}, {"q4_0", GPT2_WTYPE_Q4_0},
};

static uint32_t parse_type(const char *text) {
  for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
    if (!strcmp(text, types[i].name)) return types[i].weight_type;
  cli_usage_error("--type: unknown type '%s' (f32, f16, bf16, q8_0, q4_0 or auto)", text);
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
