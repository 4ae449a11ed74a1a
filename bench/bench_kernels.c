/* bench_kernels.c - throughput of k_matmul (the selected kernel level) on the
 * 0.5B/1.5B weight shapes: GB/s of weights streamed for n=1 (decode) and GFLOP/s
 * for n=64/512 (prefill), with 1 and 2 threads. Quantized weights (q8_0, q4_0,
 * q4_k) are random floats through quant_row; -a 0|1 turns the AMX prefill path
 * off/on (default: as selected; OMNIC_AMX=0 also turns it off).
 *
 * Build (after `make`, independent of the Makefile):
 *   cc -O2 -Iinclude -Isrc bench/bench_kernels.c build/libomnic.a -lm -pthread -o build/bench_kernels
 * Run:
 *   build/bench_kernels [-d bf16|f16|f32|q8_0|q4_0|q4_k|all] [-n N,...] [-t T,...] [-s scalar|avx512]
 *                       [-a 0|1] [-S ROWSxCOLS,...] [-q] [-H]
 * -q: quicker (shorter timing windows). For n=1 the weights are rotated through
 * enough copies to total >= 1 GiB, so the figure is DRAM bandwidth, not cache;
 * -H keeps one copy (hot in cache: the kernel's arithmetic rate, not DRAM). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/dtype.h"
#include "core/threads.h"
#include "kernels/kernels.h"
#include "kernels/matmul_impl.h"
#include "kernels/quant.h"

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static unsigned rng = 12345;
static float frand(void) {
    rng = rng * 1664525u + 1013904223u;
    return ((rng >> 8) & 0xffff) / 32768.f - 1.f;
}

static int parse_list(const char *s, int *out, int max) {
    int k = 0;
    while (*s && k < max) {
        out[k++] = atoi(s);
        const char *c = strchr(s, ',');
        if (!c) break;
        s = c + 1;
    }
    return k;
}

int main(int argc, char **argv) {
    int shapes[8][2] = {{1024, 1024}, {2048, 7168}, {7168, 2048}, {110592, 1024}}, nshape = 4;
    const char *dts = "bf16", *level = NULL;
    int ns[8] = {1, 64, 512}, nn = 3, ts[8] = {1, 2}, nt = 2, quick = 0, amx = -1, hot = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-d") && i + 1 < argc) dts = argv[++i];
        else if (!strcmp(argv[i], "-n") && i + 1 < argc) nn = parse_list(argv[++i], ns, 8);
        else if (!strcmp(argv[i], "-t") && i + 1 < argc) nt = parse_list(argv[++i], ts, 8);
        else if (!strcmp(argv[i], "-s") && i + 1 < argc) level = argv[++i];
        else if (!strcmp(argv[i], "-q")) quick = 1;
        else if (!strcmp(argv[i], "-H")) hot = 1;
        else if (!strcmp(argv[i], "-a") && i + 1 < argc) amx = atoi(argv[++i]);
        else if (!strcmp(argv[i], "-S") && i + 1 < argc) {
            const char *p = argv[++i];
            for (nshape = 0; nshape < 8 && sscanf(p, "%dx%d", &shapes[nshape][0], &shapes[nshape][1]) == 2; nshape++) {
                p = strchr(p, ',');
                if (!p++) { nshape++; break; }
            }
        }
        else {
            fprintf(stderr, "usage: %s [-d bf16|f16|f32|q8_0|q4_0|q4_k|all] [-n N,...] [-t T,...] [-s level] [-a 0|1] "
                            "[-S RxC,...] [-q] [-H]\n", argv[0]);
            return 2;
        }
    }
    if (level && kernels_force(level) != 0) {
        fprintf(stderr, "kernel level '%s' not available\n", level);
        return 1;
    }
    printf("kernel level: %s\n", level ? level : kernels_init());
    if (amx >= 0) k_amx_on = amx && amx_available();
    printf("AMX prefill path: %s\n", k_amx_on ? "on" : "off");
    omnic_dtype dtl[6];
    int ndt = 0;
    if (!strcmp(dts, "all") || !strcmp(dts, "bf16")) dtl[ndt++] = DT_BF16;
    if (!strcmp(dts, "all") || !strcmp(dts, "f16")) dtl[ndt++] = DT_F16;
    if (!strcmp(dts, "all") || !strcmp(dts, "f32")) dtl[ndt++] = DT_F32;
    if (!strcmp(dts, "all") || !strcmp(dts, "q8_0")) dtl[ndt++] = DT_Q8_0;
    if (!strcmp(dts, "all") || !strcmp(dts, "q4_0")) dtl[ndt++] = DT_Q4_0;
    if (!strcmp(dts, "all") || !strcmp(dts, "q4_k")) dtl[ndt++] = DT_Q4_K;
    if (!ndt) { fprintf(stderr, "unknown dtype %s\n", dts); return 2; }
    double window = quick ? 0.15 : 0.5;
    printf("%-6s %-13s %4s %3s %10s %10s %10s\n", "dtype", "rows x cols", "n", "thr", "ms/call", "GB/s", "GFLOP/s");
    for (int di = 0; di < ndt; di++) {
        omnic_dtype dt = dtl[di];
        int es = dt == DT_F32 ? 4 : 2;
        for (int si = 0; si < nshape; si++) {
            int rows = shapes[si][0], cols = shapes[si][1];
            if (dtype_row_bytes(dt, cols) < 0) continue;
            size_t welems = (size_t)rows * cols;
            size_t wbytes = dtype_is_block(dt) ? (size_t)rows * (size_t)dtype_row_bytes(dt, cols) : welems * es;
            int ncopy = (int)((1ull << 30) / wbytes) + 1;
            if (ncopy > 512) ncopy = 512;
            char *wdata = malloc(wbytes * ncopy);
            if (!wdata) { fprintf(stderr, "out of memory\n"); return 1; }
            if (dtype_is_block(dt)) {
                float *row = malloc((size_t)cols * 4);
                size_t rb = (size_t)dtype_row_bytes(dt, cols);
                for (int r = 0; r < rows; r++) {
                    for (int c = 0; c < cols; c++) row[c] = frand() * 0.05f;
                    quant_row(dt, row, wdata + (size_t)r * rb, cols);
                }
                free(row);
            }
            for (size_t i = 0; i < welems && !dtype_is_block(dt); i++) {
                float v = frand() * 0.05f;
                if (dt == DT_F32) memcpy(wdata + i * 4, &v, 4);
                else {
                    uint16_t h = dt == DT_BF16 ? f32_to_bf16(v) : f32_to_f16(v);
                    memcpy(wdata + i * 2, &h, 2);
                }
            }
            for (int c = 1; c < ncopy; c++) memcpy(wdata + c * wbytes, wdata, wbytes);
            for (int ni = 0; ni < nn; ni++) {
                int n = ns[ni];
                float *x = malloc((size_t)n * cols * 4), *y = malloc((size_t)n * rows * 4);
                if (!x || !y) { fprintf(stderr, "out of memory\n"); return 1; }
                for (size_t i = 0; i < (size_t)n * cols; i++) x[i] = frand();
                int rot = n == 1 && !hot ? ncopy : 1;
                for (int ti = 0; ti < nt; ti++) {
                    omnic_pool *pool = omnic_pool_new(ts[ti]);
                    kweight w = {wdata, dt, rows, cols, 0, 0};
                    k_matmul(pool, &w, x, n, y); /* warm-up */
                    long calls = 0;
                    double t0 = now(), el;
                    do {
                        w.data = wdata + (size_t)(calls % rot) * wbytes;
                        k_matmul(pool, &w, x, n, y);
                        calls++;
                        el = now() - t0;
                    } while (el < window || calls < 2);
                    double per = el / calls;
                    printf("%-6s %6dx%-6d %4d %3d %10.3f %10.2f %10.2f\n", dtype_name(dt), rows, cols, n, ts[ti],
                           per * 1e3, wbytes / per * 1e-9, 2.0 * n * welems / per * 1e-9);
                    fflush(stdout);
                    omnic_pool_free(pool);
                }
                free(x);
                free(y);
            }
            free(wdata);
        }
    }
    return 0;
}
