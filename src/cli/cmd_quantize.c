/* cmd_quantize.c - `omnic quantize -m MODEL -o OUT.gguf --type T`: write a model
 * (HF folder, or a GGUF omnic reads) as GGUF in the conventions of NAVER's
 * llama.cpp fork (architecture "hyperclovax") or of stock llama.cpp ("llama",
 * for model_type llama: the 0.5B / 1.5B text models), so that those programs and
 * omnic (src/models/hcx_load_gguf.c) read it.
 *
 * What is written (llm.md §6, the golden manifests' "gguf_conventions"):
 *  - tensor names token_embd, output_norm, output, blk.N.{attn_norm, attn_q,
 *    attn_k, attn_v, attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down}
 *    (+ .bias), and for Peri-LN models blk.N.post_attention_norm / post_ffw_norm;
 *  - attn_q / attn_k rows (and biases) permuted per head for adjacent-pair RoPE;
 *  - m_emb folded into token_embd; `output` is the unscaled output matrix (always
 *    written for hyperclovax, which requires it; omitted for a tied llama model,
 *    where llama.cpp uses token_embd);
 *  - m_res folded into the post-norm gains; without post-norms it cannot be
 *    folded and is written as ARCH.residual_scale (read by omnic, ignored by the
 *    fork: a warning says so);
 *  - hyperclovax.attention.scale = m_attn, hyperclovax.logit_scale = m_logit,
 *    hyperclovax.attention.layer_norm_epsilon = rms_norm_eps (the fork's graph
 *    applies LayerNorm with it; omnic applies RMSNorm, the reference);
 *  - tokenizer.ggml.model = "no_vocab" and the bos/eos ids: the vocabulary is not
 *    embedded (omnic uses the folder's tokenizer.json).
 * Types (as llama-quantize chooses, without its Q6_K): 2-D weights get --type;
 * `output` (or token_embd when it doubles as the output) gets Q8_0 for q4_0 /
 * q4_k (llama.cpp would use Q6_K, which omnic lacks) and --type otherwise; 1-D
 * tensors (norm gains, biases) stay F32. A matrix whose columns are not a
 * multiple of the block size falls back: Q4_K -> Q8_0 (llama.cpp: Q5_0, which
 * omnic lacks), then F16. --token-embedding-type / --output-tensor-type override. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"
#include "formats/gguf.h"
#include "kernels/quant.h"
#include "models/hcx.h"
#include "omnic.h"

static void usage(FILE *f) {
    fprintf(f, "usage: omnic quantize -m MODEL -o OUT.gguf --type q4_0|q4_k|q8_0|bf16|f16|f32\n"
               "         [--token-embedding-type T] [--output-tensor-type T] [-t THREADS] [--quiet]\n"
               "  MODEL: a Hugging Face folder (or a .gguf omnic reads). Writes NAVER's llama.cpp fork\n"
               "  conventions (hyperclovax) or stock llama.cpp's (llama models); see cmd_quantize.c.\n");
}

static int parse_type(const char *s, omnic_dtype *dt) {
    static const struct { const char *n; omnic_dtype dt; } t[] = {
        {"q4_0", DT_Q4_0}, {"q4_k", DT_Q4_K}, {"q8_0", DT_Q8_0}, {"bf16", DT_BF16}, {"f16", DT_F16}, {"f32", DT_F32}};
    for (size_t i = 0; i < sizeof t / sizeof *t; i++)
        if (!strcasecmp(s, t[i].n)) {
            *dt = t[i].dt;
            return 0;
        }
    return -1;
}

/* llama_ftype values (general.file_type) */
static uint32_t file_type(omnic_dtype dt) {
    switch (dt) {
    case DT_F32: return 0;
    case DT_F16: return 1;
    case DT_Q4_0: return 2;
    case DT_Q8_0: return 7;
    case DT_Q4_K: return 14; /* Q4_K_S: Q4_K everywhere but the output */
    case DT_BF16: return 32;
    default: return 0;
    }
}

typedef struct {
    char name[96];
    const kweight *w;   /* matrices */
    const float *vec;   /* vectors (F32 out) */
    int n;              /* vector length */
    float mult;         /* folded multiplier */
    int heads;          /* > 0: permute rows for adjacent-pair RoPE */
    omnic_dtype dt;
    int idx;
} plan_t;

/* Type for a matrix with cols columns, falling back where blocks do not fit. */
static omnic_dtype fit(omnic_dtype want, int cols, const char *name, int quiet) {
    omnic_dtype dt = want;
    if (dtype_row_bytes(dt, cols) < 0 && dt == DT_Q4_K) dt = DT_Q8_0;
    if (dtype_row_bytes(dt, cols) < 0) dt = DT_F16;
    if (dt != want && !quiet)
        fprintf(stderr, "omnic quantize: %s: %d columns are not a multiple of the %s block (%d); using %s\n", name, cols,
                dtype_name(want), dtype_block_elems(want), dtype_name(dt));
    return dt;
}

/* ---- row conversion on the pool ---- */
typedef struct {
    const plan_t *p;
    int r0, r1;
    uint8_t *out;
    size_t rb;
    float **scratch;
} conv_job;

static void conv_worker(void *arg, int ith, int nth) {
    conv_job *j = arg;
    const kweight *w = j->p->w;
    int lo, hi, d = j->p->heads > 0 ? w->rows / j->p->heads : 0;
    omnic_split(j->r1 - j->r0, 1, ith, nth, &lo, &hi);
    float *row = j->scratch[ith];
    for (int i = lo; i < hi; i++) {
        int r = j->r0 + i, src = r;
        if (d) { /* GGUF row (h, 2i + s) <- HF row (h, s * d/2 + i) */
            int h = r / d, k = r % d;
            src = h * d + (k % 2) * (d / 2) + k / 2;
        }
        k_row_to_f32(w, src, row);
        if (j->p->mult != 1.f)
            for (int c = 0; c < w->cols; c++) row[c] *= j->p->mult;
        quant_row(j->p->dt, row, j->out + (size_t)i * j->rb, w->cols);
    }
}

static void progress(int quiet, int tty, double done, double total, const char *name, const char *type) {
    static int last = -1;
    if (quiet) return;
    int pct = total > 0 ? (int)(100.0 * done / total) : 100;
    if (tty) {
        char bar[41];
        int k = pct * 40 / 100;
        for (int i = 0; i < 40; i++) bar[i] = i < k ? '#' : '.';
        bar[40] = 0;
        fprintf(stderr, "\r[%s] %3d%% %-32.32s %-5s", bar, pct, name, type);
    } else if (pct / 10 != last / 10 || pct == 100) {
        fprintf(stderr, "omnic quantize: %3d%% (%s)\n", pct, name);
    }
    last = pct;
}

int cmd_quantize(int argc, char **argv) {
    const char *in = NULL, *outp = NULL, *type_s = NULL, *embd_s = NULL, *outt_s = NULL;
    long threads = 0;
    int quiet = 0;
    static const struct option opts[] = {{"model", 1, 0, 'm'}, {"out", 1, 0, 'o'}, {"type", 1, 0, 'T'},
                                         {"token-embedding-type", 1, 0, 'E'}, {"output-tensor-type", 1, 0, 'O'},
                                         {"threads", 1, 0, 't'}, {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "m:o:t:qh", opts, NULL)) != -1) {
        switch (o) {
        case 'm': in = optarg; break;
        case 'o': outp = optarg; break;
        case 'T': type_s = optarg; break;
        case 'E': embd_s = optarg; break;
        case 'O': outt_s = optarg; break;
        case 't': if (cli_parse_int("--threads", optarg, 1, 1024, &threads)) return 2; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!in || !outp || !type_s) {
        fprintf(stderr, "omnic quantize: -m, -o and --type are required\n");
        usage(stderr);
        return 2;
    }
    omnic_dtype base, embd_t = DT_COUNT, out_t = DT_COUNT;
    if (parse_type(type_s, &base) || (embd_s && parse_type(embd_s, &embd_t)) || (outt_s && parse_type(outt_s, &out_t))) {
        fprintf(stderr, "omnic quantize: unknown type (use q4_0, q4_k, q8_0, bf16, f16 or f32)\n");
        return 2;
    }
    omnic_model *m;
    if (omnic_model_open(in, (int)threads, &m)) return cli_fail();
    const omnic_model_info *I = &m->info;
    int hcx = strcmp(I->model_type, "llama") != 0;
    const char *arch = hcx ? "hyperclovax" : "llama";
    int D = I->hidden_size, H = I->n_heads, KV = I->n_kv_heads, d = I->head_dim, L = I->n_layers;
    int rc = 1, nplan = 0, write_output = hcx || !I->tied;
    plan_t *plan = calloc((size_t)(3 + 20 * L), sizeof *plan);
    gguf_writer *w = gguf_writer_new();
    FILE *fo = NULL;
    float **scratch = NULL;
    uint8_t *buf = NULL;
    if (!plan || !w) { fprintf(stderr, "omnic quantize: out of memory\n"); goto done; }
    if (hcx && H * d != D && !quiet)
        fprintf(stderr, "omnic quantize: warning: heads x head_dim = %d != hidden %d; NAVER's fork assumes they are equal "
                        "(omnic reads the file; the fork may not)\n", H * d, D);
    if (hcx && !I->post_norm && I->res_mult != 1.f && !quiet)
        fprintf(stderr, "omnic quantize: warning: no post-norms to fold residual_multiplier %g into: writing %s.residual_scale, "
                        "which omnic applies but NAVER's fork ignores\n", I->res_mult, arch);
    if (!quiet && hcx)
        fprintf(stderr, "omnic quantize: note: NAVER's fork runs hyperclovax GGUFs with LayerNorm; the reference (and omnic) "
                        "use RMSNorm (llm.md §6)\n");

    /* the tensors, in llama.cpp's order */
    omnic_dtype outd = out_t != DT_COUNT ? out_t : (base == DT_Q4_0 || base == DT_Q4_K) ? DT_Q8_0 : base;
#define MAT(nm, W, MULT, HEADS, DT)                                              \
    do {                                                                          \
        plan_t *p = &plan[nplan++];                                               \
        snprintf(p->name, sizeof p->name, "%s", nm);                              \
        p->w = (W), p->mult = (MULT), p->heads = (HEADS);                         \
        p->dt = fit((DT), p->w->cols, p->name, quiet);                            \
    } while (0)
#define VEC(nm, V, N, MULT, HEADS)                                               \
    do {                                                                          \
        if (V) {                                                                  \
            plan_t *p = &plan[nplan++];                                           \
            snprintf(p->name, sizeof p->name, "%s", nm);                          \
            p->vec = (V), p->n = (N), p->mult = (MULT), p->heads = (HEADS);       \
            p->dt = DT_F32;                                                       \
        }                                                                         \
    } while (0)
    MAT("token_embd.weight", &m->embed, hcx ? I->emb_mult : 1.f, 0,
        embd_t != DT_COUNT ? embd_t : write_output ? base : outd);
    VEC("output_norm.weight", m->final_norm, D, 1.f, 0);
    if (write_output) MAT("output.weight", &m->output, 1.f, 0, outd);
    char nm[96];
    float pm = I->post_norm ? I->res_mult : 1.f;
    for (int i = 0; i < L; i++) {
        const hcx_layer *Ly = &m->layers[i];
#define N(what) (snprintf(nm, sizeof nm, "blk.%d.%s", i, what), nm)
        VEC(N("attn_norm.weight"), Ly->in_norm, D, 1.f, 0);
        MAT(N("attn_q.weight"), &Ly->q, 1.f, H, base);
        VEC(N("attn_q.bias"), Ly->bq, H * d, 1.f, H);
        MAT(N("attn_k.weight"), &Ly->k, 1.f, KV, base);
        VEC(N("attn_k.bias"), Ly->bk, KV * d, 1.f, KV);
        MAT(N("attn_v.weight"), &Ly->v, 1.f, 0, base);
        VEC(N("attn_v.bias"), Ly->bv, KV * d, 1.f, 0);
        MAT(N("attn_output.weight"), &Ly->o, 1.f, 0, base);
        VEC(N("attn_output.bias"), Ly->bo, D, 1.f, 0);
        VEC(N("post_attention_norm.weight"), Ly->post1, D, pm, 0);
        VEC(N("ffn_norm.weight"), Ly->pa_norm, D, 1.f, 0);
        MAT(N("ffn_gate.weight"), &Ly->gate, 1.f, 0, base);
        VEC(N("ffn_gate.bias"), Ly->bg, I->ffn_size, 1.f, 0);
        MAT(N("ffn_up.weight"), &Ly->up, 1.f, 0, base);
        VEC(N("ffn_up.bias"), Ly->bu, I->ffn_size, 1.f, 0);
        MAT(N("ffn_down.weight"), &Ly->down, 1.f, 0, base);
        VEC(N("ffn_down.bias"), Ly->bd, D, 1.f, 0);
        VEC(N("post_ffw_norm.weight"), Ly->post2, D, pm, 0);
#undef N
    }
#undef MAT
#undef VEC

    /* metadata */
    char k[128];
    const char *bn = strrchr(in, '/');
    char name[256];
    snprintf(name, sizeof name, "%s", bn && bn[1] ? bn + 1 : in);
    size_t nl = strlen(name);
    while (nl > 1 && name[nl - 1] == '/') name[--nl] = 0;
    int quantized = 0;
    for (int i = 0; i < nplan; i++) quantized |= dtype_is_block(plan[i].dt);
#define KEY(s) (snprintf(k, sizeof k, "%s.%s", arch, s), k)
    int e = gguf_w_str(w, "general.architecture", arch) || gguf_w_str(w, "general.name", name) ||
            gguf_w_u32(w, "general.file_type", file_type(base)) ||
            (quantized && gguf_w_u32(w, "general.quantization_version", 2)) ||
            gguf_w_u32(w, KEY("context_length"), (uint32_t)I->max_pos) || gguf_w_u32(w, KEY("embedding_length"), (uint32_t)D) ||
            gguf_w_u32(w, KEY("block_count"), (uint32_t)L) || gguf_w_u32(w, KEY("feed_forward_length"), (uint32_t)I->ffn_size) ||
            gguf_w_u32(w, KEY("attention.head_count"), (uint32_t)H) ||
            gguf_w_u32(w, KEY("attention.head_count_kv"), (uint32_t)KV) ||
            gguf_w_f32(w, KEY("rope.freq_base"), I->rope_theta) || gguf_w_u32(w, KEY("rope.dimension_count"), (uint32_t)d) ||
            (d * H != D && (gguf_w_u32(w, KEY("attention.key_length"), (uint32_t)d) ||
                            gguf_w_u32(w, KEY("attention.value_length"), (uint32_t)d)));
    if (!e && hcx)
        e = gguf_w_f32(w, KEY("attention.layer_norm_epsilon"), I->rms_eps) ||
            gguf_w_f32(w, KEY("attention.scale"), I->attn_mult) || gguf_w_f32(w, KEY("logit_scale"), I->logit_scale) ||
            (!I->post_norm && I->res_mult != 1.f && gguf_w_f32(w, KEY("residual_scale"), I->res_mult));
    if (!e && !hcx) e = gguf_w_f32(w, KEY("attention.layer_norm_rms_epsilon"), I->rms_eps);
    if (!e) e = gguf_w_u32(w, KEY("vocab_size"), (uint32_t)I->vocab_size); /* llama.cpp's n_vocab without a vocab */
    /* No vocabulary is embedded (omnic reads tokenizer.json); "no_vocab" lets
     * llama.cpp load the file anyway and run it on token ids (llama-bench). */
    if (!e) e = gguf_w_str(w, "tokenizer.ggml.model", "no_vocab");
    if (!e && I->bos_id >= 0) e = gguf_w_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)I->bos_id);
    if (!e && I->eos_id >= 0) e = gguf_w_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)I->eos_id);
#undef KEY
    double total = 0;
    for (int i = 0; !e && i < nplan; i++) {
        plan_t *p = &plan[i];
        int64_t ne[2] = {p->w ? p->w->cols : p->n, p->w ? p->w->rows : 1};
        p->idx = gguf_w_tensor(w, p->name, (uint32_t)dtype_to_ggml(p->dt), p->w ? 2 : 1, ne);
        if (p->idx < 0) e = 1;
        total += (double)ne[0] * ne[1];
    }
    if (e) { cli_fail(); goto done; }

    fo = fopen(outp, "wb");
    if (!fo) { perror(outp); goto done; }
    if (gguf_w_header(w, fo, outp)) { cli_fail(); goto done; }
    int nth = omnic_pool_size(m->pool), tty = isatty(2);
    scratch = calloc((size_t)nth, sizeof *scratch);
    for (int i = 0; scratch && i < nth; i++)
        if (!(scratch[i] = malloc((size_t)(D > I->ffn_size ? D : I->ffn_size) * 4 + 64 + (size_t)H * d * 4))) break;
    size_t cap = 64u << 20;
    buf = malloc(cap);
    if (!scratch || !scratch[nth - 1] || !buf) { fprintf(stderr, "omnic quantize: out of memory\n"); goto done; }
    double done_el = 0;
    for (int i = 0; i < nplan; i++) {
        plan_t *p = &plan[i];
        progress(quiet, tty, done_el, total, p->name, dtype_name(p->dt));
        if (p->vec) {
            float *v = (float *)buf;
            int dd = p->heads > 0 ? p->n / p->heads : 0;
            for (int c = 0; c < p->n; c++) {
                int src = c;
                if (dd) src = c / dd * dd + (c % dd % 2) * (dd / 2) + c % dd / 2;
                v[c] = p->vec[src] * p->mult;
            }
            if (gguf_w_data(w, fo, outp, v, (size_t)p->n * 4)) { cli_fail(); goto done; }
            done_el += p->n;
            continue;
        }
        size_t rb = (size_t)dtype_row_bytes(p->dt, p->w->cols);
        int chunk = (int)(cap / rb) > 0 ? (int)(cap / rb) : 1;
        if ((size_t)chunk * rb > cap) { fprintf(stderr, "omnic quantize: row of '%s' too large\n", p->name); goto done; }
        for (int r0 = 0; r0 < p->w->rows; r0 += chunk) {
            int r1 = r0 + chunk < p->w->rows ? r0 + chunk : p->w->rows;
            conv_job j = {p, r0, r1, buf, rb, scratch};
            omnic_pool_run(m->pool, conv_worker, &j);
            if (gguf_w_data(w, fo, outp, buf, (size_t)(r1 - r0) * rb)) { cli_fail(); goto done; }
            done_el += (double)(r1 - r0) * p->w->cols;
            progress(quiet, tty, done_el, total, p->name, dtype_name(p->dt));
        }
    }
    progress(quiet, tty, total, total, "done", "");
    if (gguf_w_finish(w, fo, outp)) { cli_fail(); goto done; }
    long bytes = ftell(fo);
    if (fclose(fo) != 0) {
        fo = NULL;
        perror(outp);
        goto done;
    }
    fo = NULL;
    if (!quiet) {
        if (tty) fputc('\n', stderr);
        fprintf(stderr, "omnic quantize: wrote %s: %s, %d tensors, %.1f MiB, %.2f bits per weight\n", outp, arch, nplan,
                bytes / 1048576.0, bytes * 8.0 / total);
    }
    rc = 0;
done:
    if (fo) {
        fclose(fo);
        unlink(outp);
    }
    if (scratch)
        for (int i = 0; i < omnic_pool_size(m->pool); i++) free(scratch[i]);
    free(scratch);
    free(buf);
    free(plan);
    gguf_writer_free(w);
    omnic_model_close(m);
    return rc;
}
