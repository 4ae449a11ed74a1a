/* torch_pickle.h - PyTorch zip checkpoints (torch.save) read through a restricted
 * unpickler (audio.md §9.1): only the opcodes and globals a state-dict checkpoint
 * uses are accepted; anything else is an error naming the file and the opcode or
 * global. Nothing in the pickle is ever executed: REDUCE is interpreted for three
 * known callables only (OrderedDict, _rebuild_tensor_v2, _rebuild_parameter). */
#ifndef OMNIC_FORMATS_TORCH_PICKLE_H
#define OMNIC_FORMATS_TORCH_PICKLE_H
#include <stddef.h>
#include <stdint.h>

#include "formats/zip.h"

typedef enum { TP_F32 = 0, TP_F16, TP_BF16, TP_I64 } tp_dtype;

typedef struct tp_tensor {
    char *name;               /* state-dict key */
    tp_dtype dtype;
    char *storage_key;        /* file <root>/data/<key> */
    int64_t storage_numel;
    int64_t offset;           /* in elements */
    int ndim;
    int64_t shape[8], stride[8];
    int64_t numel;
    const void *data;         /* after torch_ckpt_open: first element (C-contiguous) */
} tp_tensor;

/* Parse a pickle (protocol 2) into the tensors of a state dict. The top object
 * must be a dict; with dict_key != NULL its value under that key (a dict) is the
 * state dict, else the top dict itself. Every value must be a tensor. fname is
 * used in errors. *out (n entries) is freed with tp_tensors_free. */
int torch_pickle_state_dict(const uint8_t *pkl, size_t len, const char *fname, const char *dict_key,
                            tp_tensor **out, int *n);
void tp_tensors_free(tp_tensor *t, int n);

/* A checkpoint: the zip, its state dict and the storages (zero-copy from the
 * zip where the entries are stored, which torch.save always does). */
typedef struct torch_ckpt {
    zip_archive zip;
    tp_tensor *t;
    int n;
    void **owned;             /* inflated storages to free */
    int n_owned;
} torch_ckpt;

/* Open a torch.save zip held in memory (buf must outlive ck). name for errors.
 * A legacy (non-zip) torch.save file is reported as such. */
int torch_ckpt_open_mem(const uint8_t *buf, size_t len, const char *name, const char *dict_key, torch_ckpt *ck);
void torch_ckpt_close(torch_ckpt *ck);
/* Tensor by name or NULL. */
const tp_tensor *torch_ckpt_find(const torch_ckpt *ck, const char *name);

#endif
