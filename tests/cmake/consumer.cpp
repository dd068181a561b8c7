// The same as consumer.c through gpt2.hpp.
#include <gpt2.hpp>
#include <iostream>

int main(int argc, char **argv) {
  if (argc != 2) return 2;
  try {
    gpt2::model model(argv[1]);
    gpt2::context ctx(model);
    ctx.eval(model.tokenize("Hello"));
    gpt2_sample_params greedy = GPT2_SAMPLE_PARAMS_INIT;
    greedy.temperature = 0.0f;
    std::cout << gpt2_version() << " next " << ctx.sample(&greedy) << "\n";
  } catch (const gpt2::error &e) {
    std::cout << e.what() << "\n";
    return 1;
  }
  return 0;
}
