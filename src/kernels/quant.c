/* quant.c - scalar quantize/dequantize of rows in GGUF's Q8_0, Q4_0 and Q4_K
 * layouts (see quant.h for the formats and the rounding rules followed). */
#include "kernels/quant.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Round half to even, as ggml's nearest_int (valid for |v| < 2^22). */
static int near_int(float v) { return (int)nearbyintf(v); }

/* Clamp before converting so that NaN/huge values never reach an int cast. */
static int clampi(float v, int lo, int hi) {
    if (!(v >= (float)lo)) return lo; /* also NaN */
    if (v > (float)hi) return hi;
    return (int)v;
}

static void q8_0_block(const float *x, blk_q8_0 *b) {
    float amax = 0.f;
    for (int i = 0; i < QK8_0; i++) amax = fmaxf(amax, fabsf(x[i]));
    float d = amax / 127.f, id = d != 0.f ? 1.f / d : 0.f;
    b->d = f32_to_f16(d);
    for (int i = 0; i < QK8_0; i++) b->qs[i] = (int8_t)clampi(roundf(x[i] * id), -128, 127);
}

static void q4_0_block(const float *x, blk_q4_0 *b) {
    float amax = 0.f, mx = 0.f;
    for (int i = 0; i < QK4_0; i++)
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            mx = x[i];
        }
    float d = mx / -8.f, id = d != 0.f ? 1.f / d : 0.f;
    b->d = f32_to_f16(d);
    for (int i = 0; i < QK4_0 / 2; i++) {
        int lo = clampi(x[i] * id + 8.5f, 0, 15), hi = clampi(x[i + QK4_0 / 2] * id + 8.5f, 0, 15);
        b->qs[i] = (uint8_t)(lo | hi << 4);
    }
}

/* Best (scale, -min) for x[n] ~ scale * L + min with L in [0, nmax], min <= 0,
 * minimizing sum w * err^2: start from the plain range fit, then try nstep + 1
 * candidate inverse scales (nmax + rmin + rdelta * k) / range and keep the
 * weighted least-squares solution with the lowest error. */
static float fit_scale_min(int n, int nmax, const float *x, const float *w, uint8_t *L, float *neg_min, float rmin,
                           float rdelta, int nstep) {
    float lo = x[0], hi = x[0], sw = w[0], swx = w[0] * x[0];
    for (int i = 1; i < n; i++) {
        lo = fminf(lo, x[i]);
        hi = fmaxf(hi, x[i]);
        sw += w[i];
        swx += w[i] * x[i];
    }
    if (lo > 0) lo = 0;
    if (hi == lo) {
        memset(L, 0, (size_t)n);
        *neg_min = -lo;
        return 0.f;
    }
    float iscale = nmax / (hi - lo), scale = 1.f / iscale, best = 0.f;
    for (int i = 0; i < n; i++) {
        int l = near_int(iscale * (x[i] - lo));
        L[i] = (uint8_t)(l < 0 ? 0 : l > nmax ? nmax : l);
        float e = scale * L[i] + lo - x[i];
        best += w[i] * (e * e);
    }
    uint8_t cand[32];
    for (int k = 0; k <= nstep; k++) {
        float is = (rmin + rdelta * k + nmax) / (hi - lo);
        float sl = 0, sl2 = 0, sxl = 0;
        for (int i = 0; i < n; i++) {
            int l = near_int(is * (x[i] - lo));
            l = l < 0 ? 0 : l > nmax ? nmax : l;
            cand[i] = (uint8_t)l;
            sl += w[i] * l;
            sl2 += w[i] * l * l;
            sxl += w[i] * l * x[i];
        }
        float det = sw * sl2 - sl * sl;
        if (det > 0) {
            float s = (sw * sxl - swx * sl) / det, m = (sl2 * swx - sl * sxl) / det;
            if (m > 0) {
                m = 0;
                s = sxl / sl2;
            }
            float err = 0;
            for (int i = 0; i < n; i++) {
                float e = s * cand[i] + m - x[i];
                err += w[i] * (e * e);
            }
            if (err < best) {
                memcpy(L, cand, (size_t)n);
                best = err;
                scale = s;
                lo = m;
            }
        }
    }
    *neg_min = -lo;
    return scale;
}

static void q4_k_block(const float *x, blk_q4_k *b) {
    uint8_t L[QK_K];
    float scale[8], mn[8], w[32], max_scale = 0, max_min = 0;
    for (int j = 0; j < 8; j++) {
        const float *xs = x + 32 * j;
        float s2 = 0;
        for (int i = 0; i < 32; i++) s2 += xs[i] * xs[i];
        float av = sqrtf(s2 / 32);
        for (int i = 0; i < 32; i++) w[i] = av + fabsf(xs[i]);
        scale[j] = fit_scale_min(32, 15, xs, w, L + 32 * j, &mn[j], -1.f, 0.1f, 20);
        if (scale[j] > max_scale) max_scale = scale[j];
        if (mn[j] > max_min) max_min = mn[j];
    }
    float inv_s = max_scale > 0 ? 63.f / max_scale : 0.f, inv_m = max_min > 0 ? 63.f / max_min : 0.f;
    memset(b->scales, 0, sizeof b->scales);
    for (int j = 0; j < 8; j++) {
        int ls = near_int(inv_s * scale[j]), lm = near_int(inv_m * mn[j]);
        ls = ls > 63 ? 63 : ls;
        lm = lm > 63 ? 63 : lm;
        if (j < 4) {
            b->scales[j] = (uint8_t)ls;
            b->scales[j + 4] = (uint8_t)lm;
        } else {
            b->scales[j + 4] = (uint8_t)((ls & 0xf) | (lm & 0xf) << 4);
            b->scales[j - 4] |= (uint8_t)((ls >> 4) << 6);
            b->scales[j] |= (uint8_t)((lm >> 4) << 6);
        }
    }
    b->d = f32_to_f16(max_scale / 63.f);
    b->dmin = f32_to_f16(max_min / 63.f);
    float d = f16_to_f32(b->d), dmin = f16_to_f32(b->dmin);
    for (int j = 0; j < 8; j++) {
        int sc, m;
        q4k_scale_min(j, b->scales, &sc, &m);
        float ds = d * sc;
        if (ds == 0.f) continue; /* keep the search's L (ggml does the same) */
        float dm = dmin * m;
        for (int i = 0; i < 32; i++) {
            int l = near_int((x[32 * j + i] + dm) / ds);
            L[32 * j + i] = (uint8_t)(l < 0 ? 0 : l > 15 ? 15 : l);
        }
    }
    for (int c = 0; c < 4; c++)
        for (int l = 0; l < 32; l++) b->qs[32 * c + l] = (uint8_t)(L[64 * c + l] | L[64 * c + 32 + l] << 4);
}

int quant_row(omnic_dtype dt, const float *x, void *out, int64_t n) {
    if (dtype_row_bytes(dt, n) < 0) return -1;
    switch (dt) {
    case DT_F32: memcpy(out, x, (size_t)n * 4); return 0;
    case DT_F16:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)out)[i] = f32_to_f16(x[i]);
        return 0;
    case DT_BF16:
        for (int64_t i = 0; i < n; i++) ((uint16_t *)out)[i] = f32_to_bf16(x[i]);
        return 0;
    case DT_Q8_0:
        for (int64_t b = 0; b < n / QK8_0; b++) q8_0_block(x + b * QK8_0, (blk_q8_0 *)out + b);
        return 0;
    case DT_Q4_0:
        for (int64_t b = 0; b < n / QK4_0; b++) q4_0_block(x + b * QK4_0, (blk_q4_0 *)out + b);
        return 0;
    case DT_Q4_K:
        for (int64_t b = 0; b < n / QK_K; b++) q4_k_block(x + b * QK_K, (blk_q4_k *)out + b);
        return 0;
    default: return -1;
    }
}

int dequant_row(omnic_dtype dt, const void *in, float *y, int64_t n) {
    if (dtype_row_bytes(dt, n) < 0) return -1;
    const uint8_t *p = in;
    switch (dt) {
    case DT_F32: memcpy(y, in, (size_t)n * 4); return 0;
    case DT_F16:
        for (int64_t i = 0; i < n; i++) y[i] = q_ld_f16(p + 2 * i);
        return 0;
    case DT_BF16:
        for (int64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, p + 2 * i, 2);
            y[i] = bf16_to_f32(h);
        }
        return 0;
    case DT_Q8_0:
        for (int64_t b = 0; b < n / QK8_0; b++, p += sizeof(blk_q8_0), y += QK8_0) {
            float d = q_ld_f16(p);
            const int8_t *q = (const int8_t *)(p + 2);
            for (int i = 0; i < QK8_0; i++) y[i] = d * q[i];
        }
        return 0;
    case DT_Q4_0:
        for (int64_t b = 0; b < n / QK4_0; b++, p += sizeof(blk_q4_0), y += QK4_0) {
            float d = q_ld_f16(p);
            const uint8_t *q = p + 2;
            for (int i = 0; i < QK4_0 / 2; i++) {
                y[i] = d * ((q[i] & 0xf) - 8);
                y[i + QK4_0 / 2] = d * ((q[i] >> 4) - 8);
            }
        }
        return 0;
    case DT_Q4_K:
        for (int64_t b = 0; b < n / QK_K; b++, p += sizeof(blk_q4_k), y += QK_K) {
            float d = q_ld_f16(p), dmin = q_ld_f16(p + 2);
            const uint8_t *s = p + 4, *q = p + 16;
            for (int c = 0; c < 4; c++) {
                int sc0, m0, sc1, m1;
                q4k_scale_min(2 * c, s, &sc0, &m0);
                q4k_scale_min(2 * c + 1, s, &sc1, &m1);
                float d0 = d * sc0, n0 = dmin * m0, d1 = d * sc1, n1 = dmin * m1;
                for (int l = 0; l < 32; l++) {
                    y[64 * c + l] = d0 * (q[32 * c + l] & 0xf) - n0;
                    y[64 * c + 32 + l] = d1 * (q[32 * c + l] >> 4) - n1;
                }
            }
        }
        return 0;
    default: return -1;
    }
}

int quant_chunk_rows(omnic_dtype dt, void *data, int64_t rows, int cols) {
    if ((dt != DT_Q8_0 && dt != DT_Q4_0) || dtype_row_bytes(dt, cols) < 0) return -1;
    int bs = dt == DT_Q8_0 ? (int)sizeof(blk_q8_0) : (int)sizeof(blk_q4_0), nb = cols / 32;
    size_t rb = (size_t)nb * (size_t)bs;
    uint8_t *tmp = malloc(rb ? rb : 1);
    if (!tmp) return -1;
    for (int64_t r = 0; r < rows; r++) {
        uint8_t *row = (uint8_t *)data + (size_t)r * rb;
        memcpy(tmp, row, rb);
        for (int b = 0; b < nb; b++) {
            memcpy(row + qchunk_d(b, bs), tmp + (size_t)b * bs, 2);
            memcpy(row + qchunk_qs(b, nb, bs), tmp + (size_t)b * bs + 2, (size_t)bs - 2);
        }
    }
    free(tmp);
    return 0;
}

int quant_x16_rows(omnic_dtype dt, void *data, int64_t rows, int cols) {
    if ((dt != DT_Q8_0 && dt != DT_Q4_0 && dt != DT_Q4_K) || dtype_row_bytes(dt, cols) < 0 || rows % QX16) return -1;
    int k4 = dt == DT_Q4_K, bs = dtype_block_bytes(dt), nb = cols / dtype_block_elems(dt);
    size_t rb = (size_t)nb * (size_t)bs, gb = QX16 * rb;
    uint8_t *tmp = malloc(gb ? gb : 1);
    if (!tmp) return -1;
    for (int64_t r = 0; r < rows; r += QX16) {
        uint8_t *g = (uint8_t *)data + (size_t)r * rb;
        memcpy(tmp, g, gb);
        for (int j = 0; j < QX16; j++)
            for (int b = 0; b < nb; b++) {
                if (k4) {
                    for (int h = 0; h < bs; h++) g[qx16k_byte(b, j, h)] = tmp[(size_t)j * rb + (size_t)b * bs + (size_t)h];
                    continue;
                }
                const uint8_t *src = tmp + (size_t)j * rb + (size_t)b * bs;
                memcpy(g + qx16_d(b, bs) + 2 * j, src, 2);
                for (int i = 0; i < bs - 2; i += 4) memcpy(g + qx16_q(b, nb, bs, j, i), src + 2 + i, 4);
            }
    }
    free(tmp);
    return 0;
}

int dequant_row_in(omnic_dtype dt, int lay, const void *data, int64_t row, float *y, int64_t n) {
    int64_t rb = dtype_row_bytes(dt, n);
    if (rb < 0 || row < 0) return -1;
    if (lay == KW_GGUF) return dequant_row(dt, (const uint8_t *)data + (size_t)row * (size_t)rb, y, n);
    int q80 = dt == DT_Q8_0 || dt == DT_Q4_0;
    if (!(q80 && (lay == KW_CHUNKED || lay == KW_X16)) && !(dt == DT_Q4_K && lay == KW_X16)) return -1;
    int be = dtype_block_elems(dt), bs = dtype_block_bytes(dt), nb = (int)(n / be);
    uint8_t blk[sizeof(blk_q4_k)]; /* the largest of the three blocks */
    for (int b = 0; b < nb; b++, y += be) {
        qblk_gather(lay, data, (size_t)rb, row, b, nb, bs, blk);
        dequant_row(dt, blk, y, be);
    }
    return 0;
}
