/* gguf.h - GGUF files (versions 2 and 3): a validating reader over a memory map
 * (or a caller's buffer) and a streaming writer.
 *
 * Layout (little-endian): "GGUF", u32 version, u64 n_tensors, u64 n_kv; n_kv
 * key/value pairs (string key, u32 value type, value; strings are u64 length +
 * bytes, arrays u32 element type + u64 count + elements, possibly nested);
 * n_tensors infos (string name, u32 n_dims, u64 ne[n_dims] with ne[0] the
 * contiguous dimension, u32 ggml type, u64 offset into the data section); the
 * data section starts at the next multiple of general.alignment (u32, default
 * 32) and every tensor offset is a multiple of it.
 *
 * The reader checks every count, length, type and offset against the bytes that
 * are actually there before it touches them, and its errors name the field or
 * tensor at fault; nothing in a hostile file makes it read out of bounds or
 * allocate more than a small multiple of the file size. */
#ifndef OMNIC_FORMATS_GGUF_H
#define OMNIC_FORMATS_GGUF_H
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/dtype.h"
#include "core/filemap.h"

enum {
    GGUF_T_U8 = 0, GGUF_T_I8, GGUF_T_U16, GGUF_T_I16, GGUF_T_U32, GGUF_T_I32, GGUF_T_F32, GGUF_T_BOOL,
    GGUF_T_STR, GGUF_T_ARR, GGUF_T_U64, GGUF_T_I64, GGUF_T_F64, GGUF_T_COUNT
};

/* ggml tensor types this reader knows the block sizes of (others are refused). */
enum {
    GGML_F32 = 0, GGML_F16 = 1, GGML_Q4_0 = 2, GGML_Q4_1 = 3, GGML_Q5_0 = 6, GGML_Q5_1 = 7, GGML_Q8_0 = 8,
    GGML_Q8_1 = 9, GGML_Q2_K = 10, GGML_Q3_K = 11, GGML_Q4_K = 12, GGML_Q5_K = 13, GGML_Q6_K = 14,
    GGML_Q8_K = 15, GGML_I8 = 24, GGML_I16 = 25, GGML_I32 = 26, GGML_I64 = 27, GGML_F64 = 28, GGML_BF16 = 30,
};

#define GGUF_MAX_DIMS 4
#define GGUF_DEFAULT_ALIGNMENT 32

typedef struct gguf_str { const char *p; uint64_t n; } gguf_str; /* not NUL-terminated */

typedef struct gguf_kv {
    char *key;
    uint32_t type;           /* GGUF_T_* */
    union { uint64_t u; int64_t i; double f; } v; /* numeric scalars and bools, widened */
    gguf_str s;              /* GGUF_T_STR */
    uint32_t atype;          /* arrays: element type */
    uint64_t n;              /* arrays: element count */
    const uint8_t *arr;      /* arrays: first element in the file */
    gguf_str *strs;          /* arrays of strings: the n elements */
} gguf_kv;

typedef struct gguf_tensor {
    char *name;
    int ndim;
    int64_t ne[GGUF_MAX_DIMS]; /* ne[0]: contiguous (columns); unused dims 1 */
    uint32_t type;             /* GGML_* */
    int dt;                    /* omnic_dtype, or -1 if omnic cannot compute with it */
    uint64_t offset, nbytes;   /* within the data section */
    const void *data;
    int used;                  /* set by consumers, to report unexpected tensors */
} gguf_tensor;

typedef struct gguf_file {
    char *path;
    const uint8_t *base;
    size_t size;
    omnic_filemap fm;          /* base's owner when gguf_open mapped it */
    uint32_t version, alignment;
    uint64_t n_kv, n_tensors, data_offset;
    gguf_kv *kv;
    gguf_tensor *tensors;      /* in file order */
    gguf_tensor **by_name;     /* sorted by name */
} gguf_file;

/* Map and parse a file. mode: OMNIC_MAP_RESIDENT for weights a model computes with. */
int gguf_open(const char *path, omnic_map_mode mode, gguf_file **out);
/* Parse a buffer the caller keeps alive (name is used in messages). */
int gguf_parse_mem(const void *data, size_t size, const char *name, gguf_file **out);
void gguf_close(gguf_file *f);

const gguf_kv *gguf_find_kv(const gguf_file *f, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);

/* Typed getters. Absent key: return 1 and leave *out alone (required keys are
 * checked by the caller). Present with another type: an OMNIC_EFORMAT error
 * naming the key. Integers accept any integer type whose value fits; floats
 * accept F32/F64. */
int gguf_get_int(const gguf_file *f, const char *key, int64_t *out);
int gguf_get_float(const gguf_file *f, const char *key, double *out);
int gguf_get_bool(const gguf_file *f, const char *key, int *out);
/* Copies into buf (NUL-terminated, truncated to cap - 1). */
int gguf_get_str(const gguf_file *f, const char *key, char *buf, size_t cap);

const char *gguf_type_name(uint32_t vtype);
const char *ggml_type_name(uint32_t t);
/* Bytes of one row of ne0 elements of ggml type t; -1 if t is unknown or ne0 is
 * not a multiple of its block size. */
int64_t ggml_row_bytes(uint32_t t, int64_t ne0);
int ggml_block_elems(uint32_t t);
/* ggml type <-> omnic dtype (-1 when there is no counterpart). */
int ggml_to_dtype(uint32_t t);
int dtype_to_ggml(omnic_dtype dt);

/* ---- writer ---- */
typedef struct gguf_writer gguf_writer;

gguf_writer *gguf_writer_new(void);
void gguf_writer_free(gguf_writer *w);
/* Metadata, in the order written. Return 0, or an OMNIC_* error (out of memory). */
int gguf_w_u32(gguf_writer *w, const char *key, uint32_t v);
int gguf_w_i32(gguf_writer *w, const char *key, int32_t v);
int gguf_w_u64(gguf_writer *w, const char *key, uint64_t v);
int gguf_w_f32(gguf_writer *w, const char *key, float v);
int gguf_w_bool(gguf_writer *w, const char *key, int v);
int gguf_w_str(gguf_writer *w, const char *key, const char *s);
int gguf_w_arr_str(gguf_writer *w, const char *key, const char *const *s, uint64_t n);
int gguf_w_arr_i32(gguf_writer *w, const char *key, const int32_t *v, uint64_t n);
int gguf_w_arr_f32(gguf_writer *w, const char *key, const float *v, uint64_t n);
/* Raw value bytes of type vtype (for tests that build odd files). */
int gguf_w_raw(gguf_writer *w, const char *key, uint32_t vtype, const void *val, size_t len);
/* Declare a tensor (ne[0] = columns); returns its index or an error (< 0). Data
 * must then be written for every tensor, in declaration order. */
int gguf_w_tensor(gguf_writer *w, const char *name, uint32_t ggml_type, int ndim, const int64_t *ne);
uint64_t gguf_w_tensor_bytes(const gguf_writer *w, int idx);
/* Header, metadata, tensor infos and padding up to the data section. */
int gguf_w_header(gguf_writer *w, FILE *f, const char *path);
/* The data of tensor idx (the next one); nbytes must be its full size, or
 * less when called repeatedly (chunks) until complete. */
int gguf_w_data(gguf_writer *w, FILE *f, const char *path, const void *data, size_t nbytes);
/* Check that all data was written and pad the file's end. */
int gguf_w_finish(gguf_writer *w, FILE *f, const char *path);

#endif
