/* A GPT-2 checkpoint as a reader found it, in the terms of the schema
   (format/schema.h) and not of any model: the hyper-parameters, each
   tensor's type, layout and data, and the vocabulary strings. The readers
   fill it after checking every name, shape and type; lib/model/ builds a
   model from it (model/build.c). */
#ifndef G2_CHECKPOINT_H
#define G2_CHECKPOINT_H

#include <stddef.h>
#include <stdint.h>

#include "core/file.h"
#include "core/json.h"
#include "core/str.h"
#include "format/schema.h"
#include "tensor/matrix.h"

typedef struct g2_ckpt_tensor {
  const void *data; /* NULL: absent (only G2_T_OUTPUT may be: tied) */
  g2_dtype dtype;   /* vectors may be any type; they are read as floats */
  g2_layout layout; /* matrices; NK for vectors */
} g2_ckpt_tensor;

typedef struct g2_checkpoint {
  g2_hparams hp;
  g2_ckpt_tensor tensors[G2_MODEL_TENSORS];
  g2_ckpt_tensor *layers; /* [n_layer][G2_LAYER_TENSORS] */
  g2_str *tokens;         /* [n_tokens], by id */
  size_t n_tokens;
  g2_str *merges;         /* [n_merges] "A B", by rank */
  size_t n_merges;
  char *vocab_source;     /* names the vocabulary in messages */

  /* Owned. The tensors point into `weights`, which a model built from the
     checkpoint takes over (g2_model_keep_mapping empties it); the strings
     point into the rest, freed with the checkpoint. */
  g2_mapping weights;
  g2_mapping text_files[2];
  g2_json *vocab_json;
} g2_checkpoint;

/* Readers: *out (which need not be initialised) is filled, or on failure
   left for g2_checkpoint_free. use_mmap 0 reads the weights into memory. */
int g2_read_hf_dir(const char *dir, int use_mmap, g2_checkpoint *out);
int g2_read_gguf(const char *path, int use_mmap, g2_checkpoint *out);

/* Frees what the checkpoint still owns. */
void g2_checkpoint_free(g2_checkpoint *ckpt);

/* The layer tensor `id` of block `layer`. */
static inline g2_ckpt_tensor *g2_ckpt_layer(const g2_checkpoint *ckpt, int32_t layer,
                                            g2_layer_tensor id) {
  return &ckpt->layers[(size_t)layer * G2_LAYER_TENSORS + id];
}

#endif
