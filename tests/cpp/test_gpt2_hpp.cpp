// include/gpt2.hpp exercised against the C API it wraps, on the generated
// tiny model: load, tokenize, eval, logits, sample, detokenize, copies,
// moves, and errors as gpt2::error carrying the status and the message.
// Built with -std=c++17 -Wall -Wextra -Wpedantic -Werror by tests/cpp.test.sh.
// Output: "ok NAME" / "FAIL NAME" lines, as the C harness.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "gpt2.hpp"

static int failures = 0;
static void check(bool cond, const std::string &name) {
  std::printf("%s %s\n", cond ? "ok" : "FAIL", name.c_str());
  std::fflush(stdout); /* kept if a later check crashes */
  if (!cond) failures++;
}

// Runs f, which must throw gpt2::error with `status`; returns its what().
template <typename F>
static std::string expect_error(F f, int status, const std::string &name) {
  try {
    f();
  } catch (const gpt2::error &e) {
    check(e.status() == status && e.code().category() == gpt2::error_category(),
          name + ": gpt2::error with status " + std::to_string(status) + " (got " +
              std::to_string(e.status()) + ", " + e.code().message() + ")");
    return e.what();
  }
  check(false, name + ": throws");
  return "";
}

int main() {
  const char *models = std::getenv("GPT2_TEST_MODELS");
  std::string dir = std::string(models ? models : "build/models") + "/tiny-f32";

  gpt2::model model(dir);
  check(model.n_vocab() > 256 && model.eot() == model.n_vocab() - 1, "model loads, n_vocab and eot");

  std::string text = "Hello, world";
  std::vector<gpt2::token> tokens = model.tokenize(text);
  std::vector<gpt2_token> c_tokens(64);
  size_t n = 0;
  gpt2_tokenize(model.get(), text.data(), text.size(), 0, c_tokens.data(), c_tokens.size(), &n);
  c_tokens.resize(n);
  check(!tokens.empty() && tokens == c_tokens, "tokenize = gpt2_tokenize (" + std::to_string(n) + " tokens)");
  check(model.detokenize(tokens) == text, "detokenize(tokenize(text)) == text");
  check(model.tokenize(std::string_view("ab<|endoftext|>", 15), GPT2_TOKENIZE_SPECIAL).back() == model.eot(),
        "tokenize with GPT2_TOKENIZE_SPECIAL reads <|endoftext|> as eot");
  check(model.tokenize("").empty(), "tokenize of an empty string: no tokens");

  gpt2::context ctx(model);
  expect_error([&] { (void)ctx.logits(); }, GPT2_E_STATE, "logits before any eval");
  ctx.eval(tokens);
  check(ctx.pos() == tokens.size(), "eval advances pos");
  gpt2::span<const float> logits = ctx.logits();
  check(logits.size() == static_cast<size_t>(model.n_vocab()) &&
            logits.data() == gpt2_logits(ctx.get(), -1),
        "logits(): the C row, n_vocab wide");

  // Greedy sampling is the argmax of the logits.
  size_t best = 0;
  for (size_t i = 1; i < logits.size(); i++)
    if (logits[i] > logits[best]) best = i;
  gpt2_sample_params greedy = GPT2_SAMPLE_PARAMS_INIT;
  greedy.temperature = 0.0f;
  gpt2::token next = ctx.sample(&greedy);
  check(next == static_cast<gpt2::token>(best), "greedy sample is the argmax");

  // A copy continues as the original does, bit for bit.
  gpt2::context fork = ctx.copy();
  ctx.eval(next);
  fork.eval(next);
  check(std::memcmp(ctx.logits().data(), fork.logits().data(), logits.size() * sizeof(float)) == 0 &&
            fork.pos() == ctx.pos(),
        "copy() then the same eval: the same logits");

  // Errors: the status, and the C API's detail in what().
  gpt2::token bad = model.n_vocab();
  size_t pos = ctx.pos();
  std::string what = expect_error([&] { ctx.eval(bad); }, GPT2_E_RANGE, "eval of a bad token id");
  check(what.find("outside") != std::string::npos && ctx.pos() == pos,
        "its what() has gpt2_last_error's detail (" + what + "), pos unchanged");
  what = expect_error([&] { gpt2::model missing(dir + "/no-such-model"); }, GPT2_E_IO, "loading a missing model");
  check(what.find("no-such-model") != std::string::npos, "its what() names the path (" + what + ")");
  expect_error([&] { ctx.truncate(ctx.pos() + 1); }, GPT2_E_RANGE, "truncate past pos");
  expect_error([&] { (void)model.token_bytes(-1); }, GPT2_E_RANGE, "token_bytes of a bad id");
  check(gpt2::make_error_code(GPT2_E_NOMEM).message() == "out of memory", "error_category messages are gpt2_strerror's");

  // The streaming detokenizer gives the bytes of the tokens, in order.
  gpt2::detokenizer detok(model);
  std::string streamed;
  for (gpt2::token t : tokens) streamed += detok.push(t);
  streamed += detok.flush();
  check(streamed == text, "detokenizer push + flush gives the text back");

  // Moves hand the handle over; the context outlives its model object.
  gpt2::model moved = std::move(model);
  check(moved.get() != nullptr && model.get() == nullptr, "a moved model hands over its handle");
  gpt2::context kept = std::move(fork);
  check(kept.get() != nullptr && fork.get() == nullptr, "a moved context hands over its handle");
  gpt2::context assigned(moved);
  assigned = std::move(kept); // frees assigned's own context, takes kept's
  check(assigned.get() != nullptr && kept.get() == nullptr && assigned.pos() == pos,
        "move assignment takes the handle and empties the source");
  { gpt2::model dropped = std::move(moved); }
  assigned.eval(next);
  check(assigned.pos() == pos + 1 && assigned.logits().size() == logits.size(),
        "a context keeps working after its model object is destroyed");

  std::printf("%s\n", failures ? "C++ layer: failures" : "C++ layer: all passed");
  return failures != 0;
}
