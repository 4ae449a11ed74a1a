/* cpu.c - runtime CPU-feature dispatch for the kernels (see kernels.h). */
#include <stdlib.h>
#include <string.h>

#include "kernels/kernels.h"
#include "kernels/matmul_impl.h"
#include "kernels/ops_avx512.h"
#include "kernels/quant.h"

static const char *level = NULL;
matmul_fn k_matmul_rows = matmul_rows_scalar;
const qmm_level *k_qmm = &qmm_scalar;
int k_amx_on = 0, k_amx_bf16_on = 0, k_amx_bf16_ok = 0;
int k_decode_pf = 0;
int k_bf16_dp_ok = 0, k_bf16_dp_on = 0;
static int x16_mask = 0; /* 1 << dt of the types whose rows k_layout_for interleaves */
void (*k_silu_mul)(float *, const float *, int) = k_silu_mul_scalar;
void (*k_axpy)(float *, const float *, float, int) = k_axpy_scalar;
float (*k_dot)(const float *, const float *, int) = k_dot_scalar;
float (*k_exp_sum)(float *, int, float) = k_exp_sum_scalar;
void (*k_attn)(const k_attn_tile *, const k_kv_src *) = k_attn_rows;

int kernels_force(const char *name) {
    if (strcmp(name, "scalar") == 0) {
        k_matmul_rows = matmul_rows_scalar;
        k_qmm = &qmm_scalar;
        k_amx_on = k_amx_bf16_on = k_amx_bf16_ok = 0;
        k_decode_pf = 0;
        k_bf16_dp_ok = k_bf16_dp_on = 0;
        x16_mask = 0;
        k_silu_mul = k_silu_mul_scalar;
        k_axpy = k_axpy_scalar;
        k_dot = k_dot_scalar;
        k_exp_sum = k_exp_sum_scalar;
        k_attn = k_attn_rows;
        level = "scalar";
        return 0;
    }
#if defined(__x86_64__)
    if (strcmp(name, "avx512") == 0) {
        __builtin_cpu_init();
        if (!__builtin_cpu_supports("avx512f") || !__builtin_cpu_supports("avx512bw") ||
            !__builtin_cpu_supports("avx512vl") || !__builtin_cpu_supports("fma") ||
            !__builtin_cpu_supports("f16c"))
            return -1;
        k_matmul_rows = matmul_rows_avx512;
        /* int8 dot products need VNNI (vpdpbusd); without it quantized weights
         * take the scalar path */
        k_qmm = __builtin_cpu_supports("avx512vnni") ? &qmm_avx512 : &qmm_scalar;
        /* AMX tiles for quantized prefill unless OMNIC_AMX=0 */
        const char *amx = getenv("OMNIC_AMX");
        k_amx_on = k_qmm == &qmm_avx512 && !(amx && strcmp(amx, "0") == 0) && amx_available();
        /* BF16 weights on AMX: fp32-accurate three-term activations by default;
         * OMNIC_AMX_BF16=1 rounds them to bf16 (changes numerics), =0 disables */
        const char *ab = getenv("OMNIC_AMX_BF16");
        k_amx_bf16_ok = !(amx && strcmp(amx, "0") == 0) && !(ab && strcmp(ab, "0") == 0) && amx_bf16_available();
        k_amx_bf16_on = k_amx_bf16_ok && ab && strcmp(ab, "1") == 0;
        /* BF16 prefill without AMX: VDPBF16PS for act_bf16 weights; for all
         * BF16 weights only with OMNIC_BF16_ACT=bf16 (the LLM's contract is fp32
         * activations, ../shared/spec/llm.md 1.4) */
        const char *ba = getenv("OMNIC_BF16_ACT");
        int round_act = ba && strcmp(ba, "bf16") == 0;
        k_bf16_dp_ok = __builtin_cpu_supports("avx512bf16") && !k_amx_bf16_ok;
        k_bf16_dp_on = k_bf16_dp_ok && round_act;
        if (k_amx_bf16_ok && round_act) k_amx_bf16_on = 1;
        /* decode streams: one row at a time with prefetch on AMD, 4 rows elsewhere */
        const char *pf = getenv("OMNIC_DECODE_PF");
        k_decode_pf = pf && *pf ? atoi(pf) : __builtin_cpu_is("amd") ? K_DECODE_PF_AMD : 0;
        if (k_decode_pf < 0 || k_decode_pf > (1 << 16)) k_decode_pf = 0;
        /* Q4_0 rows interleaved by 16 where VNNI does the prefill (with AMX, the
         * tiles read chunked rows) */
        x16_mask = k_qmm == &qmm_avx512 && !k_amx_on ? K_X16_DEFAULT : 0;
        k_silu_mul = k_silu_mul_avx512;
        k_axpy = k_axpy_avx512;
        k_dot = k_dot_avx512;
        k_exp_sum = k_exp_sum_avx512;
        /* attention with queries (prompt) or keys (decode) in the lanes unless
         * OMNIC_ATTN=rows (the per-query loop, whose order matches the scalar
         * level's) */
        const char *at = getenv("OMNIC_ATTN");
        k_attn = at && strcmp(at, "rows") == 0 ? k_attn_rows : k_attn_avx512;
        level = "avx512";
        return 0;
    }
#endif
    return -1;
}

int k_layout_for(omnic_dtype dt, int64_t rows) {
    if (dt != DT_Q8_0 && dt != DT_Q4_0 && dt != DT_Q4_K) return KW_GGUF;
    const char *e = getenv("OMNIC_QX16");
    int mask = e && *e ? (strcmp(e, "0") ? (1 << DT_Q8_0) | (1 << DT_Q4_0) | (1 << DT_Q4_K) : 0) : x16_mask;
    if ((mask >> dt & 1) && rows % QX16 == 0) return KW_X16;
    return dt == DT_Q4_K ? KW_GGUF : KW_CHUNKED; /* Q4_K has no chunked layout */
}

const char *kernels_init(void) {
    if (level) return level;
    const char *env = getenv("OMNIC_SIMD");
    if (env && *env && kernels_force(env) == 0) return level;
    if (kernels_force("avx512") != 0) kernels_force("scalar");
    return level;
}
