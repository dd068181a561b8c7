#include "format/checkpoint.h"

#include "core/alloc.h"

void g2_checkpoint_free(g2_checkpoint *ckpt) {
  g2_free(ckpt->layers);
  g2_free(ckpt->tokens);
  g2_free(ckpt->merges);
  g2_free(ckpt->vocab_source);
  g2_json_free(ckpt->vocab_json);
  g2_unmap_file(&ckpt->weights);
  g2_unmap_file(&ckpt->text_files[0]);
  g2_unmap_file(&ckpt->text_files[1]);
  ckpt->layers = NULL;
  ckpt->tokens = ckpt->merges = NULL;
  ckpt->vocab_source = NULL;
  ckpt->vocab_json = NULL;
}
