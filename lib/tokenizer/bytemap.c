/* GPT-2's byte <-> code point map (encoder.py bytes_to_unicode): the 188
   printable bytes '!'..'~', 0xA1..0xAC and 0xAE..0xFF stand for themselves;
   the other 68 map, in byte order, to U+0100..U+0143 (space is U+0120). */
#include "tokenizer/vocab.h"

/* The unprintable bytes, in order: 0x00..0x20 (33), 0x7F..0xA0 (34), 0xAD. */
uint32_t g2_byte_to_cp(unsigned char byte) {
  if (byte <= 0x20) return 0x100u + byte;
  if (byte >= 0x7F && byte <= 0xA0) return 0x100u + 33u + (byte - 0x7Fu);
  if (byte == 0xAD) return 0x100u + 67u;
  return byte;
}

int g2_cp_to_byte(uint32_t cp) {
  if (cp < 0x100) return g2_byte_to_cp((unsigned char)cp) == cp ? (int)cp : -1;
  if (cp >= 0x144) return -1;
  uint32_t index = cp - 0x100u;
  if (index < 33) return (int)index;
  if (index < 67) return (int)(0x7F + index - 33);
  return 0xAD;
}
