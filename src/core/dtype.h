/* dtype.h - element types of stored tensors and scalar conversions to float. */
#ifndef OMNIC_CORE_DTYPE_H
#define OMNIC_CORE_DTYPE_H
#include <stdint.h>
#include <string.h>

/* DT_Q8_0, DT_Q4_0, DT_Q4_K are GGUF's block-quantized layouts (kernels/quant.h):
 * a row of cols elements is cols / dtype_block_elems() blocks of
 * dtype_block_bytes() bytes; they are never safetensors dtypes. */
typedef enum {
    DT_F32 = 0, DT_F16, DT_BF16, DT_I32, DT_I64, DT_U8, DT_I8, DT_F64, DT_BOOL,
    DT_Q8_0, DT_Q4_0, DT_Q4_K, DT_COUNT
} omnic_dtype;

/* Bytes per element; 0 for block types (use dtype_row_bytes). */
int dtype_size(omnic_dtype t);
/* 1 for block-quantized types. */
int dtype_is_block(omnic_dtype t);
/* Elements per block (1 for plain types, 32 or 256) and bytes per block. */
int dtype_block_elems(omnic_dtype t);
int dtype_block_bytes(omnic_dtype t);
/* Bytes of one row of cols elements; -1 if t is unknown or cols < 0 or not a
 * multiple of the block size. */
int64_t dtype_row_bytes(omnic_dtype t, int64_t cols);
/* safetensors spelling ("F32", "BF16", ...) -> dtype; -1 if unknown (block
 * types are not safetensors dtypes and are never returned). */
int dtype_from_name(const char *name);
const char *dtype_name(omnic_dtype t);

static inline float bf16_to_f32(uint16_t h) {
    uint32_t u = (uint32_t)h << 16;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Round-to-nearest-even, NaN kept quiet. */
static inline uint16_t f32_to_bf16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40);
    u += 0x7fffu + ((u >> 16) & 1);
    return (uint16_t)(u >> 16);
}

float f16_to_f32(uint16_t h);
uint16_t f32_to_f16(float f);

#endif
