/* safetensors.h - memory-mapped safetensors checkpoints: one file, or a sharded
 * set described by model.safetensors.index.json. Tensors are read in place. */
#ifndef OMNIC_FORMATS_SAFETENSORS_H
#define OMNIC_FORMATS_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>

#include "core/dtype.h"

#define ST_MAX_DIMS 8

typedef struct st_tensor {
    char *name;
    omnic_dtype dt;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data;
    size_t nbytes;
    int file;   /* index into st_set.files */
    int used;   /* set by consumers, to report unexpected tensors */
} st_tensor;

typedef struct st_file {
    char *path;
    void *map;
    size_t size;
} st_file;

typedef struct st_set {
    st_file *files;
    int n_files;
    st_tensor *tensors; /* sorted by name */
    int n_tensors;
} st_set;

/* Open one .safetensors file and validate its header (offsets, sizes, dtypes,
 * overlaps). Adds it to *set (which may start zeroed). */
int st_add_file(st_set *set, const char *path);
/* Open a model folder: model.safetensors.index.json if present, else
 * model.safetensors. */
int st_open_dir(const char *dir, st_set **out);
/* Sort tensors by name and reject duplicates across shards (after st_add_file). */
int st_finish(st_set *set);
const st_tensor *st_find(const st_set *set, const char *name);
int64_t st_numel(const st_tensor *t);
void st_close(st_set *set);

#endif
