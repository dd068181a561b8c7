/* Reading caller-sized params structs (docs/abi.md): the first uint32_t of
   every params struct is its size as the caller compiled it. */
#ifndef G2_PARAMS_H
#define G2_PARAMS_H

#include <stddef.h>

/* Copies the caller's struct `given` (may be NULL: keep defaults) over
   `dst`, which holds the defaults and is `dst_size` bytes. A caller struct
   smaller than ours keeps our defaults for the missing fields; a larger one
   (a newer header) is accepted only if its extra bytes are zero, since we
   cannot honour fields we do not know. GPT2_E_INVALID otherwise, naming
   `what`. */
int g2_read_params(void *dst, size_t dst_size, const void *given, const char *what);

#endif
