#include "core/params.h"

#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "gpt2.h"

int g2_read_params(void *dst, size_t dst_size, const void *given, const char *what) {
  if (!given) return GPT2_OK;
  uint32_t given_size;
  memcpy(&given_size, given, sizeof given_size);
  if (given_size < sizeof(uint32_t))
    return g2_fail(GPT2_E_INVALID, "%s: size field is %u; initialise the struct with its _INIT macro",
                   what, (unsigned)given_size);
  const unsigned char *bytes = given;
  for (size_t i = dst_size; i < given_size; i++)
    if (bytes[i] != 0)
      return g2_fail(GPT2_E_INVALID, "%s: field at byte %zu is unknown to libgpt2 %s and not zero",
                     what, i, GPT2_VERSION_STRING);
  size_t copy = given_size < dst_size ? given_size : dst_size;
  memcpy(dst, given, copy);
  memcpy(dst, &(uint32_t){(uint32_t)dst_size}, sizeof(uint32_t));
  return GPT2_OK;
}
