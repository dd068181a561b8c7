/* GPT-2's pre-tokenizer, the regular expression
     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
   written out by hand, with the semantics of Python's `regex` module that
   OpenAI's encoder.py used: \s is Unicode White_Space (U+0085 yes, U+FEFF
   no), letters and numbers are the general categories L* and N*.
   Invalid UTF-8: each byte that does not start a valid sequence counts as
   one character of the "other" class, as U+FFFD would, so the pieces are
   those of the text with each such byte replaced by U+FFFD. */
#ifndef G2_PRETOKENIZE_H
#define G2_PRETOKENIZE_H

#include <stddef.h>

/* The end of the pre-token that starts at text[pos] (pos < len). */
size_t g2_pretokenize_next(const unsigned char *text, size_t len, size_t pos);

#endif
