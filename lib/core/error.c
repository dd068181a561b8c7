#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

#include "gpt2.h"

#if defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L && \
    !defined(__STDC_NO_THREADS__)
#define G2_THREAD_LOCAL _Thread_local
#else
#define G2_THREAD_LOCAL __thread
#endif

static G2_THREAD_LOCAL char last_error[512];

int g2_fail(int status, const char *fmt, ...) {
  va_list args;
  va_start(args, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, args);
  va_end(args);
  return status;
}

void g2_clear_error(void) { last_error[0] = '\0'; }

GPT2_API const char *gpt2_last_error(void) { return last_error; }

GPT2_API const char *gpt2_strerror(int status) {
  switch (status) {
    case GPT2_OK: return "success";
    case GPT2_E_INVALID: return "invalid argument";
    case GPT2_E_NOMEM: return "out of memory";
    case GPT2_E_IO: return "input/output error";
    case GPT2_E_FORMAT: return "malformed file";
    case GPT2_E_UNSUPPORTED: return "unsupported feature";
    case GPT2_E_RANGE: return "out of range";
    case GPT2_E_BUFFER: return "buffer too small";
    case GPT2_E_STATE: return "invalid state";
    case GPT2_E_ABORTED: return "aborted";
    default: return "unknown status";
  }
}

GPT2_API const char *gpt2_version(void) { return GPT2_VERSION_STRING; }
