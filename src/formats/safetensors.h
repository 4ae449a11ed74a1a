/* safetensors.h - memory-mapped safetensors checkpoints: one file, or a sharded
 * set described by model.safetensors.index.json. Tensors are read in place. */
#ifndef OMNIC_FORMATS_SAFETENSORS_H
#define OMNIC_FORMATS_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>

#include "core/dtype.h"
#include "core/filemap.h"

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
    omnic_filemap fm;
} st_file;

typedef struct st_set {
    st_file *files;
    int n_files;
    st_tensor *tensors; /* sorted by name */
    int n_tensors;
    omnic_map_mode mode; /* how st_add_file maps files (zeroed: OMNIC_MAP_SHARED) */
} st_set;

/* Open one .safetensors file and validate its header (offsets, sizes, dtypes,
 * overlaps). Adds it to *set (which may start zeroed). */
int st_add_file(st_set *set, const char *path);
/* Open a model folder: model.safetensors.index.json if present, else
 * model.safetensors. mode: OMNIC_MAP_RESIDENT for weights a model computes with. */
int st_open_dir(const char *dir, omnic_map_mode mode, st_set **out);
/* Sort tensors by name and reject duplicates across shards (after st_add_file). */
int st_finish(st_set *set);
const st_tensor *st_find(const st_set *set, const char *name);
int64_t st_numel(const st_tensor *t);
void st_close(st_set *set);

#endif
