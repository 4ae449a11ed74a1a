/* dtype.c - dtype names/sizes and IEEE half conversions (portable, no F16C needed). */
#include "core/dtype.h"

#include <stdint.h>

/* size: bytes per element; block types: elements and bytes per block (GGUF). */
static const struct { const char *name; int size, belems, bbytes; } info[DT_COUNT] = {
    [DT_F32] = {"F32", 4, 1, 4},      [DT_F16] = {"F16", 2, 1, 2},      [DT_BF16] = {"BF16", 2, 1, 2},
    [DT_I32] = {"I32", 4, 1, 4},      [DT_I64] = {"I64", 8, 1, 8},      [DT_U8] = {"U8", 1, 1, 1},
    [DT_I8] = {"I8", 1, 1, 1},        [DT_F64] = {"F64", 8, 1, 8},      [DT_BOOL] = {"BOOL", 1, 1, 1},
    [DT_Q8_0] = {"Q8_0", 0, 32, 34},  [DT_Q4_0] = {"Q4_0", 0, 32, 18},  [DT_Q4_K] = {"Q4_K", 0, 256, 144},
};

int dtype_size(omnic_dtype t) { return (unsigned)t < DT_COUNT ? info[t].size : 0; }
const char *dtype_name(omnic_dtype t) { return (unsigned)t < DT_COUNT ? info[t].name : "?"; }
int dtype_is_block(omnic_dtype t) { return (unsigned)t < DT_COUNT && info[t].belems > 1; }
int dtype_block_elems(omnic_dtype t) { return (unsigned)t < DT_COUNT ? info[t].belems : 0; }
int dtype_block_bytes(omnic_dtype t) { return (unsigned)t < DT_COUNT ? info[t].bbytes : 0; }

int64_t dtype_row_bytes(omnic_dtype t, int64_t cols) {
    if ((unsigned)t >= DT_COUNT || cols < 0 || cols % info[t].belems) return -1;
    if (cols / info[t].belems > INT64_MAX / info[t].bbytes) return -1;
    return cols / info[t].belems * info[t].bbytes;
}

int dtype_from_name(const char *name) {
    for (int i = 0; i < DT_COUNT; i++)
        if (!dtype_is_block((omnic_dtype)i) && strcmp(name, info[i].name) == 0) return i;
    return -1;
}

float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
    if (exp == 0) {
        if (man == 0) {
            u = sign;
        } else { /* subnormal: normalise */
            exp = 127 - 15 + 1;
            while (!(man & 0x400)) { man <<= 1; exp--; }
            u = sign | (exp << 23) | ((man & 0x3ff) << 13);
        }
    } else if (exp == 31) {
        u = sign | 0x7f800000u | (man << 13);
    } else {
        u = sign | ((exp + 127 - 15) << 23) | (man << 13);
    }
    float f;
    memcpy(&f, &u, 4);
    return f;
}

uint16_t f32_to_f16(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    uint32_t sign = (u >> 16) & 0x8000;
    int32_t exp = (int32_t)((u >> 23) & 0xff) - 127 + 15;
    uint32_t man = u & 0x7fffff;
    if (((u >> 23) & 0xff) == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 : 0));
    if (exp >= 31) return (uint16_t)(sign | 0x7c00);
    if (exp <= 0) {
        if (exp < -10) return (uint16_t)sign;
        man |= 0x800000;
        int shift = 14 - exp;
        uint32_t half = man >> shift, rem = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rem > mid || (rem == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = sign | ((uint32_t)exp << 10) | (man >> 13), rem = man & 0x1fff;
    if (rem > 0x1000 || (rem == 0x1000 && (half & 1))) half++;
    return (uint16_t)half;
}
