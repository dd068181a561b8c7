// simple.cpp - examples/simple.c in C++ with include/gpt2.hpp: greedy text
// from a prompt, errors as exceptions, handles freed by their destructors.
//   simple-cpp MODEL [PROMPT] [N_TOKENS]
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>

#include "gpt2.hpp"

int main(int argc, char **argv) {
  if (argc < 2 || argc > 4) {
    std::cerr << "usage: simple-cpp MODEL [PROMPT] [N_TOKENS]\n";
    return 2;
  }
  std::string prompt = argc > 2 ? argv[2] : "Hello, my name is";
  int n_tokens = argc > 3 ? std::atoi(argv[3]) : 32;
  try {
    gpt2::model model(argv[1]);
    gpt2::context ctx(model);
    gpt2::detokenizer detok(model);
    gpt2_sample_params greedy = GPT2_SAMPLE_PARAMS_INIT;
    greedy.temperature = 0.0f;

    std::cout << prompt << std::flush;
    ctx.eval(model.tokenize(prompt));
    for (int i = 0; i < n_tokens && ctx.pos() < ctx.n_ctx(); i++) {
      gpt2::token next = ctx.sample(&greedy);
      if (next == model.eot()) break;
      std::cout << detok.push(next) << std::flush;
      ctx.eval(next);
    }
    std::cout << detok.flush() << '\n';
  } catch (const gpt2::error &e) {
    std::cerr << "simple-cpp: " << e.what() << " (status " << e.status() << ")\n";
    return 1;
  }
  return 0;
}
