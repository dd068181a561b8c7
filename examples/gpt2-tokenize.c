/* gpt2-tokenize: text to GPT-2 token ids (or pieces), and ids back to text.
   Shows gpt2_tokenize, gpt2_token_bytes and gpt2_detokenize. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "gpt2.h"

static const char usage[] =
    "Usage: gpt2-tokenize -m MODEL [--special] [--ids | --pieces] [TEXT | -f FILE]\n"
    "       gpt2-tokenize -m MODEL --decode [IDS | -f FILE]\n"
    "Tokenize text with a model's byte-level BPE, or decode token ids.\n"
    "\n"
    "  -m MODEL     model: a Hugging Face GPT-2 directory or a .gguf file\n"
    "  TEXT         the text (with neither TEXT nor -f: read stdin; after\n"
    "               \"--\" it may start with \"-\"). Taken\n"
    "               byte for byte; \"<|endoftext|>\" in it is text\n"
    "  --special    \"<|endoftext|>\" in the text is the end-of-text token\n"
    "  -f FILE      read the text (or the ids) from FILE\n"
    "  --ids        print the token ids on one line, separated by spaces\n"
    "               (the default)\n"
    "  --pieces     print one token per line: its id, a tab, and its bytes\n"
    "               as a quoted string (\\n, \\t, \\\\, \\\", and \\xNN for bytes\n"
    "               that are not printable or not complete UTF-8)\n"
    "  --decode     read token ids (separated by spaces, commas or newlines;\n"
    "               brackets are ignored, so a Python list works) and write\n"
    "               their text, byte for byte, to stdout\n"
    "  -h, --help   print this help\n"
    "\n"
    "Exit status: 0 success, 1 error (model, file, bad token id), 2 bad\n"
    "command line.\n";

enum mode { MODE_IDS, MODE_PIECES, MODE_DECODE };

/* Length of the valid UTF-8 sequence of 2 to 4 bytes at s, or 0. */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
  size_t len = s[0] > 0xf4 ? 0 : s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 ? 2 : 0;
  if (len == 0 || len > n) return 0;
  for (size_t i = 1; i < len; i++)
    if ((s[i] & 0xc0) != 0x80) return 0;
  /* overlong 3- and 4-byte forms, surrogates, beyond U+10FFFF */
  if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
      (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
    return 0;
  return len;
}

static void print_quoted(const unsigned char *s, size_t n) {
  putchar('"');
  for (size_t i = 0; i < n;) {
    unsigned char c = s[i];
    size_t seq = c >= 0x80 ? utf8_sequence(s + i, n - i) : 0;
    if (seq) {
      fwrite(s + i, 1, seq, stdout);
      i += seq;
      continue;
    }
    if (c == '\n') fputs("\\n", stdout);
    else if (c == '\t') fputs("\\t", stdout);
    else if (c == '\\') fputs("\\\\", stdout);
    else if (c == '"') fputs("\\\"", stdout);
    else if (c < 0x20 || c >= 0x7f) printf("\\x%02x", c);
    else putchar(c);
    i++;
  }
  putchar('"');
}

static void print_tokens(const gpt2_model *model, const char *text, size_t len,
                         enum mode mode) {
  size_t n = 0;
  gpt2_token *tokens = cli_tokenize(model, text, len, &n);
  for (size_t i = 0; i < n; i++) {
    if (mode == MODE_IDS) {
      printf(i ? " %d" : "%d", (int)tokens[i]);
      continue;
    }
    size_t piece_len = 0;
    const char *piece = gpt2_token_bytes(model, tokens[i], &piece_len);
    printf("%d\t", (int)tokens[i]);
    print_quoted((const unsigned char *)piece, piece_len);
    putchar('\n');
  }
  if (mode == MODE_IDS) putchar('\n');
  free(tokens);
}

/* Parses the ids in `text` (its separators replaced in place). */
static gpt2_token *parse_ids(char *text, size_t len, int n_vocab, size_t *n_out) {
  gpt2_token *ids = malloc((len / 2 + 1) * sizeof *ids); /* an id and a separator */
  if (!ids) cli_fail("out of memory");
  size_t n = 0;
  for (size_t i = 0; i < len; i++)
    if (text[i] == ',' || text[i] == '[' || text[i] == ']') text[i] = ' ';
  for (char *word = strtok(text, " \t\r\n"); word; word = strtok(NULL, " \t\r\n")) {
    char *end;
    long value = strtol(word, &end, 10);
    if (*end != '\0' || !isdigit((unsigned char)word[0]))
      cli_fail("--decode: '%s' is not a token id", word);
    if (value >= n_vocab)
      cli_fail("--decode: token id %ld is outside the vocabulary (0 to %d)", value,
               n_vocab - 1);
    ids[n++] = (gpt2_token)value;
  }
  *n_out = n;
  return ids;
}

static void print_decoded(const gpt2_model *model, char *text, size_t len) {
  size_t n = 0;
  gpt2_token *ids = parse_ids(text, len, gpt2_n_vocab(model), &n);
  size_t needed = 0;
  int status = gpt2_detokenize(model, ids, n, NULL, 0, &needed);
  if (status != GPT2_OK && status != GPT2_E_BUFFER)
    cli_fail_status("cannot decode", status);
  char *out = malloc(needed ? needed : 1);
  if (!out) cli_fail("out of memory");
  status = gpt2_detokenize(model, ids, n, out, needed, &needed);
  if (status != GPT2_OK) cli_fail_status("cannot decode", status);
  if (needed && fwrite(out, 1, needed, stdout) != needed) cli_fail("cannot write the output");
  free(out);
  free(ids);
}

int main(int argc, char **argv) {
  cli_program = "gpt2-tokenize";
  const char *model_path = NULL, *file = NULL, *text_arg = NULL;
  enum mode mode = MODE_IDS;
  int mode_flags = 0, options_done = 0;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (options_done || arg[0] != '-' || arg[1] == '\0') {
      if (text_arg) cli_usage_error("more than one TEXT argument (quote the text)");
      text_arg = arg;
    } else if (!strcmp(arg, "--")) {
      options_done = 1;
    } else if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
      fputs(usage, stdout);
      return 0;
    } else if (!strcmp(arg, "-m")) {
      model_path = cli_value(argc, argv, &i);
    } else if (!strcmp(arg, "-f")) {
      file = cli_value(argc, argv, &i);
    } else if (cli_parse_special(arg)) {
      /* parsed into cli_tokenize_flags */
    } else if (!strcmp(arg, "--ids")) {
      mode = MODE_IDS, mode_flags++;
    } else if (!strcmp(arg, "--pieces")) {
      mode = MODE_PIECES, mode_flags++;
    } else if (!strcmp(arg, "--decode")) {
      mode = MODE_DECODE, mode_flags++;
    } else {
      cli_usage_error("unknown option '%s'", arg);
    }
  }
  if (!model_path) cli_usage_error("no model: give -m MODEL");
  if (mode_flags > 1) cli_usage_error("give only one of --ids, --pieces, --decode");
  if (text_arg && file) cli_usage_error("give TEXT or -f FILE, not both");

  size_t len;
  char *text;
  if (text_arg) {
    len = strlen(text_arg);
    text = malloc(len + 1);
    if (!text) cli_fail("out of memory");
    memcpy(text, text_arg, len + 1);
  } else {
    text = cli_read_all(file, &len);
  }
  gpt2_model *model = cli_load_model(model_path);
  if (mode == MODE_DECODE)
    print_decoded(model, text, len);
  else
    print_tokens(model, text, len, mode);
  if (fflush(stdout) != 0) cli_fail("cannot write the output");
  gpt2_model_free(model);
  free(text);
  return 0;
}
