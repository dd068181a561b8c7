/* Thread-local error detail behind gpt2_last_error(). */
#ifndef G2_ERROR_H
#define G2_ERROR_H

#if defined(__MINGW32__)
/* MinGW-w64 builds with __USE_MINGW_ANSI_STDIO=1 (C99 printf: %zu), whose
   formats GCC checks as gnu_printf; plain `printf` there means msvcrt's. */
#define G2_PRINTF(fmt_index, first_arg) \
  __attribute__((format(gnu_printf, fmt_index, first_arg)))
#elif defined(__GNUC__)
#define G2_PRINTF(fmt_index, first_arg) \
  __attribute__((format(printf, fmt_index, first_arg)))
#else
#define G2_PRINTF(fmt_index, first_arg)
#endif

/* Records a formatted message for gpt2_last_error() and returns `status`,
   so that error paths read `return g2_fail(GPT2_E_FORMAT, "...", ...);`. */
int g2_fail(int status, const char *fmt, ...) G2_PRINTF(2, 3);
/* Clears the message at the start of a public call that can fail. */
void g2_clear_error(void);

#endif
