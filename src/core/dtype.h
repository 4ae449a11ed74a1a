/* dtype.h - element types of stored tensors and scalar conversions to float. */
#ifndef OMNIC_CORE_DTYPE_H
#define OMNIC_CORE_DTYPE_H
#include <stdint.h>
#include <string.h>

typedef enum { DT_F32 = 0, DT_F16, DT_BF16, DT_I32, DT_I64, DT_U8, DT_I8, DT_F64, DT_BOOL, DT_COUNT } omnic_dtype;

/* Bytes per element. */
int dtype_size(omnic_dtype t);
/* safetensors spelling ("F32", "BF16", ...) -> dtype; -1 if unknown. */
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
