/* Test helpers: build .safetensors images in memory and write files. */
#ifndef G2_TEST_ST_WRITER_H
#define G2_TEST_ST_WRITER_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 8-byte little-endian `header_len`, then `header` (strlen bytes), then
   `data_size` bytes of `data` (zeros if NULL). header_len is normally
   strlen(header); tests lie with it on purpose. */
static inline unsigned char *st_image_len(uint64_t header_len, const char *header, const void *data,
                                   size_t data_size, size_t *size) {
  size_t text_len = strlen(header);
  *size = 8 + text_len + data_size;
  unsigned char *bytes = calloc(1, *size);
  for (int i = 0; i < 8; i++) bytes[i] = (unsigned char)(header_len >> (8 * i));
  memcpy(bytes + 8, header, text_len);
  if (data) memcpy(bytes + 8 + text_len, data, data_size);
  return bytes;
}

static inline unsigned char *st_image(const char *header, const void *data, size_t data_size,
                               size_t *size) {
  return st_image_len(strlen(header), header, data, data_size, size);
}

static inline int write_bytes(const char *path, const void *bytes, size_t size) {
  FILE *file = fopen(path, "wb");
  if (!file) return -1;
  size_t written = fwrite(bytes, 1, size, file);
  return fclose(file) == 0 && written == size ? 0 : -1;
}

static inline int write_text(const char *path, const char *text) {
  return write_bytes(path, text, strlen(text));
}

#endif
