/* gpt2.hpp - a header-only C++17 layer over the C API of gpt2.h.
 *
 * RAII handles (gpt2::model, gpt2::context, gpt2::detokenizer: movable, not
 * copyable, freed by their destructors), errors thrown as gpt2::error (a
 * std::system_error whose code() is the GPT2_E_* status in
 * gpt2::error_category() and whose what() carries gpt2_last_error()'s
 * detail), and std::string_view / gpt2::span arguments. Every call is an
 * inline call of the C function it wraps: this header adds no symbol to
 * the library, whose ABI stays the C one (docs/abi.md).
 *
 * Thread rules are the C API's: a model may be shared by threads (its
 * const methods), a context or detokenizer is used by one thread at a time.
 * A context keeps its model alive, so a gpt2::model may be destroyed first.
 *
 *   gpt2::model m("models/gpt2");
 *   gpt2::context ctx(m);
 *   ctx.eval(m.tokenize("Hello"));
 *   gpt2::token next = ctx.sample();
 */
#ifndef GPT2_HPP
#define GPT2_HPP

#include <cstddef>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "gpt2.h"

namespace gpt2 {

using token = gpt2_token;

/* A view of n contiguous T (C++17 has no std::span): built from a
   pointer and a count, a std::vector, or a C array. */
template <typename T>
class span {
 public:
  constexpr span() noexcept = default;
  constexpr span(T *data, std::size_t size) noexcept : data_(data), size_(size) {}
  template <typename U, typename A>
  span(const std::vector<U, A> &v) noexcept : data_(v.data()), size_(v.size()) {}
  template <typename U, typename A>
  span(std::vector<U, A> &v) noexcept : data_(v.data()), size_(v.size()) {}
  template <std::size_t N>
  constexpr span(T (&array)[N]) noexcept : data_(array), size_(N) {}
  constexpr T *data() const noexcept { return data_; }
  constexpr std::size_t size() const noexcept { return size_; }
  constexpr bool empty() const noexcept { return size_ == 0; }
  constexpr T *begin() const noexcept { return data_; }
  constexpr T *end() const noexcept { return data_ + size_; }
  constexpr T &operator[](std::size_t i) const noexcept { return data_[i]; }

 private:
  T *data_ = nullptr;
  std::size_t size_ = 0;
};

/* The GPT2_E_* codes as a std::error_category: message() is gpt2_strerror. */
class status_category final : public std::error_category {
 public:
  const char *name() const noexcept override { return "gpt2"; }
  std::string message(int status) const override { return gpt2_strerror(status); }
};
inline const std::error_category &error_category() noexcept {
  static const status_category category;
  return category;
}
inline std::error_code make_error_code(int status) noexcept {
  return std::error_code(status, error_category());
}

/* What every failing call throws: code().value() is the status, what()
   is "gpt2_strerror: gpt2_last_error()" as it was when the call failed. */
class error : public std::system_error {
 public:
  explicit error(int status) : std::system_error(make_error_code(status), gpt2_last_error()) {}
  int status() const noexcept { return code().value(); }
};

/* Throws gpt2::error for a status other than GPT2_OK. */
inline void check(int status) {
  if (status != GPT2_OK) throw error(status);
}

/* A loaded model: immutable, shareable between threads. */
class model {
 public:
  explicit model(const std::string &path, const gpt2_load_params *params = nullptr) {
    check(gpt2_load(path.c_str(), params, &handle_));
  }
  model(model &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  model &operator=(model &&other) noexcept {
    if (this != &other) {
      gpt2_model_free(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  model(const model &) = delete;
  model &operator=(const model &) = delete;
  ~model() { gpt2_model_free(handle_); }

  const gpt2_model *get() const noexcept { return handle_; }
  int n_vocab() const noexcept { return gpt2_n_vocab(handle_); }
  int n_ctx_train() const noexcept { return gpt2_n_ctx_train(handle_); }
  int n_embd() const noexcept { return gpt2_n_embd(handle_); }
  int n_layer() const noexcept { return gpt2_n_layer(handle_); }
  token eot() const noexcept { return gpt2_token_eot(handle_); }
  const char *isa() const noexcept { return gpt2_model_isa(handle_); }

  /* GPT-2's BPE of `text`; flags GPT2_TOKENIZE_SPECIAL reads
     "<|endoftext|>" as the end-of-text token. */
  std::vector<token> tokenize(std::string_view text, unsigned flags = 0) const {
    std::size_t n = 0;
    int status = gpt2_tokenize(handle_, text.data(), text.size(), flags, nullptr, 0, &n);
    if (status != GPT2_OK && status != GPT2_E_BUFFER) throw error(status);
    std::vector<token> tokens(n);
    check(gpt2_tokenize(handle_, text.data(), text.size(), flags, tokens.data(), tokens.size(), &n));
    tokens.resize(n);
    return tokens;
  }

  /* The concatenated bytes of `tokens` (not necessarily valid UTF-8). */
  std::string detokenize(span<const token> tokens) const {
    std::size_t n = 0;
    int status = gpt2_detokenize(handle_, tokens.data(), tokens.size(), nullptr, 0, &n);
    if (status != GPT2_OK && status != GPT2_E_BUFFER) throw error(status);
    std::string text(n, '\0');
    check(gpt2_detokenize(handle_, tokens.data(), tokens.size(), text.data(), text.size(), &n));
    text.resize(n);
    return text;
  }

  /* The raw bytes of one token, valid while the model lives. */
  std::string_view token_bytes(token t) const {
    std::size_t len = 0;
    const char *bytes = gpt2_token_bytes(handle_, t, &len);
    if (!bytes) throw error(GPT2_E_RANGE);
    return std::string_view(bytes, len);
  }

  void save_gguf(const std::string &path, const gpt2_save_params *params = nullptr) const {
    check(gpt2_save_gguf(handle_, path.c_str(), params));
  }

 private:
  gpt2_model *handle_ = nullptr;
};

/* A KV cache, logits and a sampler on a model; one thread at a time. */
class context {
 public:
  explicit context(const model &m, const gpt2_context_params *params = nullptr)
      : n_vocab_(m.n_vocab()) {
    check(gpt2_context_new(m.get(), params, &handle_));
  }
  context(context &&other) noexcept
      : handle_(std::exchange(other.handle_, nullptr)), n_vocab_(other.n_vocab_) {}
  context &operator=(context &&other) noexcept {
    if (this != &other) {
      gpt2_context_free(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
      n_vocab_ = other.n_vocab_;
    }
    return *this;
  }
  context(const context &) = delete;
  context &operator=(const context &) = delete;
  ~context() { gpt2_context_free(handle_); }

  gpt2_context *get() const noexcept { return handle_; }
  std::size_t n_ctx() const noexcept { return gpt2_n_ctx(handle_); }
  std::size_t pos() const noexcept { return gpt2_pos(handle_); }

  /* Evaluates tokens at the current position; on failure the cache is as
     it was. */
  void eval(span<const token> tokens) { check(gpt2_eval(handle_, tokens.data(), tokens.size())); }
  void eval(token t) { eval(span<const token>(&t, 1)); }

  /* Row i of the last eval's logits (-1: the last row), n_vocab floats;
     throws GPT2_E_STATE when there is none. Valid until the next eval. */
  span<const float> logits(int32_t i = -1) const {
    const float *row = gpt2_logits(handle_, i);
    if (!row) throw error(GPT2_E_STATE);
    return span<const float>(row, static_cast<std::size_t>(n_vocab_));
  }

  token sample(const gpt2_sample_params *params = nullptr) {
    token t = 0;
    check(gpt2_sample(handle_, params, &t));
    return t;
  }

  void truncate(std::size_t pos) { check(gpt2_truncate(handle_, pos)); }

  /* An independent copy (cache, logits, sampler), as gpt2_context_copy. */
  context copy(const gpt2_context_params *params = nullptr) const {
    gpt2_context *out = nullptr;
    check(gpt2_context_copy(handle_, params, &out));
    return context(out, n_vocab_);
  }

 private:
  context(gpt2_context *handle, int n_vocab) noexcept : handle_(handle), n_vocab_(n_vocab) {}
  gpt2_context *handle_ = nullptr;
  int n_vocab_ = 0; /* the width of a logits row */
};

/* Streaming detokenizer: complete UTF-8 out, partial sequences held. */
class detokenizer {
 public:
  explicit detokenizer(const model &m) { check(gpt2_detok_new(m.get(), &handle_)); }
  detokenizer(detokenizer &&other) noexcept : handle_(std::exchange(other.handle_, nullptr)) {}
  detokenizer &operator=(detokenizer &&other) noexcept {
    if (this != &other) {
      gpt2_detok_free(handle_);
      handle_ = std::exchange(other.handle_, nullptr);
    }
    return *this;
  }
  detokenizer(const detokenizer &) = delete;
  detokenizer &operator=(const detokenizer &) = delete;
  ~detokenizer() { gpt2_detok_free(handle_); }

  /* The text that `t` completes (possibly empty). */
  std::string push(token t) {
    std::size_t n = 0;
    int status = gpt2_detok_push(handle_, t, nullptr, 0, &n);
    if (status != GPT2_OK && status != GPT2_E_BUFFER) throw error(status);
    std::string text(n, '\0');
    if (n) check(gpt2_detok_push(handle_, t, text.data(), text.size(), &n));
    text.resize(n);
    return text;
  }
  /* What is held back (at most 3 raw bytes); resets the state. */
  std::string flush() {
    char held[8];
    std::size_t n = 0;
    check(gpt2_detok_flush(handle_, held, sizeof held, &n));
    return std::string(held, n);
  }

 private:
  gpt2_detok *handle_ = nullptr;
};

}  // namespace gpt2

#endif /* GPT2_HPP */
