/* quant.h - GGUF's block-quantized weight layouts (Q8_0, Q4_0, Q4_K), byte for
 * byte as ggml stores them (little-endian), and scalar row quantize/dequantize.
 *
 *  Q8_0: 32 values per 34-byte block: fp16 d, int8 q[32]; x = d * q.
 *  Q4_0: 32 values per 18-byte block: fp16 d, 16 bytes of nibbles; byte j holds
 *        element j (low nibble) and element j + 16 (high nibble); x = d * (q - 8).
 *  Q4_K: 256 values per 144-byte super-block: fp16 d, fp16 dmin, 12 bytes of
 *        6-bit scales sc[8] and mins m[8] (one per sub-block of 32; packing in
 *        q4k_scale_min), 128 bytes of nibbles: byte 32c + l holds element
 *        64c + l (low nibble) and 64c + 32 + l (high); x = d*sc[j]*q - dmin*m[j]
 *        for element i of sub-block j = i / 32.
 *
 * The quantizers follow ggml's reference rounding rules so a round trip agrees
 * with files other tools write: Q8_0 d = max|x| / 127, q = round(x / d) (half
 * away from zero); Q4_0 d = (the value of largest magnitude) / -8, q =
 * min(15, trunc(x / d + 8.5)); Q4_K per sub-block a weighted least-squares search
 * of scale and min over 21 candidate steps (weights sqrt(mean x^2) + |x|), then
 * 6-bit scales/mins relative to the largest, then the nibbles re-derived from the
 * rounded scales. Reciprocals are multiplied as ggml does (x * (1/d)). */
#ifndef OMNIC_KERNELS_QUANT_H
#define OMNIC_KERNELS_QUANT_H
#include <stdint.h>
#include <string.h>

#include "core/dtype.h"

#define QK8_0 32
#define QK4_0 32
#define QK_K 256

typedef struct { uint16_t d; int8_t qs[QK8_0]; } blk_q8_0;
typedef struct { uint16_t d; uint8_t qs[QK4_0 / 2]; } blk_q4_0;
typedef struct { uint16_t d, dmin; uint8_t scales[12]; uint8_t qs[QK_K / 2]; } blk_q4_k;
_Static_assert(sizeof(blk_q8_0) == 34, "Q8_0 block is 34 bytes");
_Static_assert(sizeof(blk_q4_0) == 18, "Q4_0 block is 18 bytes");
_Static_assert(sizeof(blk_q4_k) == 144, "Q4_K block is 144 bytes");

/* Quantize n values of x into dt (Q8_0, Q4_0, Q4_K, or F32/F16/BF16 as a
 * convenience); n must be a multiple of dtype_block_elems(dt). Returns 0, or -1
 * for an unsupported type / bad n (nothing written). */
int quant_row(omnic_dtype dt, const float *x, void *out, int64_t n);
/* The inverse: n values of dt -> float. Same types and return values. */
int dequant_row(omnic_dtype dt, const void *in, float *y, int64_t n);

/* Chunked rows: the in-memory layout the loader gives Q8_0 and Q4_0 weights it
 * holds in a private copy (kweight.layout KW_CHUNKED; files keep GGUF's layout). A row of
 * nb blocks is cut into chunks of QCHUNK blocks (the last may be shorter, k
 * blocks); a chunk holds its k fp16 scales, then the k blocks' quants (32 bytes
 * for Q8_0, 16 for Q4_0). Same bytes per row as GGUF, but a row reads as one
 * linear stream of aligned 64-byte vectors (4 Q4_0 or 2 Q8_0 blocks each) and
 * one 64-byte line of scales per chunk, with no per-block 2-byte header to
 * step over. bs: the block's size in bytes (sizeof blk_q8_0 / blk_q4_0). */
#define QCHUNK 32
static inline size_t qchunk_d(int b, int bs) { return (size_t)(b & ~(QCHUNK - 1)) * (size_t)bs + 2 * (size_t)(b & (QCHUNK - 1)); }
static inline size_t qchunk_qs(int b, int nb, int bs) {
    int c0 = b & ~(QCHUNK - 1), k = nb - c0 < QCHUNK ? nb - c0 : QCHUNK;
    return (size_t)c0 * (size_t)bs + 2 * (size_t)k + (size_t)(b - c0) * (size_t)(bs - 2);
}
/* Offsets in a row of block b's fp16 scale and quants, in GGUF's layout (ch = 0)
 * or the chunked one (ch = 1). */
static inline size_t qblk_d(int b, int bs, int ch) { return ch ? qchunk_d(b, bs) : (size_t)b * (size_t)bs; }
static inline size_t qblk_qs(int b, int nb, int bs, int ch) { return ch ? qchunk_qs(b, nb, bs) : (size_t)b * (size_t)bs + 2; }
/* Rows interleaved by 16 (kweight.layout KW_X16): the loader's layout for Q8_0
 * and Q4_0 matrices where the AVX-512 VNNI kernels do their prefill (no AMX). Rows come in
 * groups of QX16 (rows % 16 == 0), each 16 row-bytes long. A group holds its
 * blocks in pairs (2p, 2p + 1): the 16 rows' fp16 scales of block 2p, those of
 * block 2p + 1 (64 bytes), then each block's quants as (bs - 2) / 4 vectors of
 * 64 bytes, vector k holding row j's quant bytes 4k..4k+3 at bytes 4j..4j+3 (for
 * Q4_0 the nibbles of elements 4k..4k+3 and 16+4k..16+4k+3). A last unpaired
 * block has its 32 bytes of scales, then its quants. Same bytes per group as
 * GGUF. One 64-byte load then serves 16 rows x 4 (or 8) values, meeting each
 * token's 4 activations of that position broadcast to all lanes (one vpdpbusd),
 * and a vector of 16 rows' results needs no horizontal sum. */
#define QX16 16
static inline size_t qx16_d(int b, int bs) { return (size_t)(b >> 1) * 32 * (size_t)bs + 32 * (size_t)(b & 1); }
static inline size_t qx16_qs(int b, int nb, int bs) {
    size_t p = (size_t)(b >> 1) * 32 * (size_t)bs;
    return (b & 1) ? p + 64 + 16 * (size_t)(bs - 2) : p + (b + 1 < nb ? 64 : 32);
}
/* Quant byte i of block b of the group's row j. */
static inline size_t qx16_q(int b, int nb, int bs, int j, int i) {
    return qx16_qs(b, nb, bs) + 64 * (size_t)(i >> 2) + 4 * (size_t)j + (size_t)(i & 3);
}
/* Q4_K interleaved by 16 (also KW_X16): a group holds its super-blocks one after
 * another, QX16 * 144 bytes each: the 16 rows' fp16 d (32 bytes), their fp16
 * dmin (32), the 12 packed scale bytes as 12 x 16 bytes (byte k of row j at
 * 16k + j), then the 128 quant bytes as 32 vectors of 64 bytes, vector v holding
 * row j's bytes 4v..4v+3 at 4j..4j+3. Same bytes per group as GGUF. */
#define QX16K_SB (QX16 * 144)
/* Offset in a group of byte h (0..143, GGUF's order) of super-block sb of row j. */
static inline size_t qx16k_byte(int sb, int j, int h) {
    size_t o = (size_t)sb * QX16K_SB;
    if (h < 2) return o + 2 * (size_t)j + (size_t)h;
    if (h < 4) return o + 32 + 2 * (size_t)j + (size_t)(h - 2);
    if (h < 16) return o + 64 + 16 * (size_t)(h - 4) + (size_t)j;
    h -= 16;
    return o + 256 + 64 * (size_t)(h >> 2) + 4 * (size_t)j + (size_t)(h & 3);
}
/* How a Q8_0 / Q4_0 (or, interleaved, Q4_K) matrix's rows lie in memory (kweight.layout): as in GGUF,
 * chunked, or interleaved by 16. */
enum { KW_GGUF = 0, KW_CHUNKED = 1, KW_X16 = 2 };
/* Block b of row r of a Q8_0 / Q4_0 matrix at `data` (rows rb bytes, nb blocks of
 * bs bytes each) in layout lay, gathered back into GGUF's block layout: out[0..1]
 * the fp16 scale, out[2..bs-1] the quants (Q4_K, bs = 144, only interleaved:
 * super-block b as GGUF stores it). For KW_X16, r's whole group of 16 rows must
 * be in the matrix. */
static inline void qblk_gather(int lay, const void *data, size_t rb, int64_t r, int b, int nb, int bs, uint8_t *out) {
    const uint8_t *row = (const uint8_t *)data + (size_t)r * rb;
    if (lay == KW_X16 && bs == 144) { /* Q4_K: b is a super-block */
        int j = (int)(r % QX16);
        const uint8_t *g = row - (size_t)j * rb;
        for (int h = 0; h < 16; h++) out[h] = g[qx16k_byte(b, j, h)];
        for (int h = 16; h < 144; h += 4) memcpy(out + h, g + qx16k_byte(b, j, h), 4);
        return;
    }
    if (lay == KW_X16) {
        int j = (int)(r % QX16);
        const uint8_t *g = row - (size_t)j * rb;
        memcpy(out, g + qx16_d(b, bs) + 2 * (size_t)j, 2);
        for (int i = 0; i < bs - 2; i += 4) memcpy(out + 2 + i, g + qx16_q(b, nb, bs, j, i), 4);
        return;
    }
    memcpy(out, row + qblk_d(b, bs, lay == KW_CHUNKED), 2);
    memcpy(out + 2, row + qblk_qs(b, nb, bs, lay == KW_CHUNKED), (size_t)bs - 2);
}
/* dequant_row for row `row` of a matrix at `data` whose rows lie in layout lay
 * (KW_GGUF: any type dequant_row takes; KW_CHUNKED: Q8_0, Q4_0; KW_X16: Q8_0,
 * Q4_0, Q4_K). Returns
 * 0, or -1 for another type or layout (y untouched). */
int dequant_row_in(omnic_dtype dt, int lay, const void *data, int64_t row, float *y, int64_t n);
/* GGUF rows -> rows interleaved by 16 in place (Q8_0, Q4_0, Q4_K; rows % 16 == 0).
 * Returns 0, or -1 for another type, rows not a multiple of 16 or out of memory
 * (nothing changed). */
int quant_x16_rows(omnic_dtype dt, void *data, int64_t rows, int cols);
/* GGUF rows -> chunked rows in place (Q8_0, Q4_0; rows of cols values). Returns
 * 0, or -1 for another type or out of memory (nothing changed). */
int quant_chunk_rows(omnic_dtype dt, void *data, int64_t rows, int cols);

/* Scale and min (6 bits each) of sub-block j (0..7) from a Q4_K scales[12]. */
static inline void q4k_scale_min(int j, const uint8_t *s, int *sc, int *m) {
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (s[j + 4] & 0xf) | ((s[j - 4] >> 6) << 4);
        *m = (s[j + 4] >> 4) | ((s[j] >> 6) << 4);
    }
}

/* fp16 at p (any alignment) -> float. */
static inline float q_ld_f16(const void *p) {
    uint16_t h;
    memcpy(&h, p, 2);
    return f16_to_f32(h);
}

#endif
