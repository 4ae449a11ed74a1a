/* audit_match.c - which component, layer and role each tensor plays, across
 * naming conventions: HCX unified repos (llm.md §3.2: model.language_model.*,
 * model.vision_model.*, model.audio_model.*, ...), standalone LLMs (model.*,
 * lm_head), Qwen2.5-VL (visual.*), Qwen2-Audio (audio_tower.*,
 * multi_modal_projector.*), Whisper (model.encoder.* / encoder.*) and GGUF
 * (token_embd, blk.N.*, the fork's a.* / mm.a.* audio names). Roles are
 * canonical strings ("attn_q.w", "ffn_down.b", "pos_embed.w"); a fused
 * attn.qkv tensor is split into its Q, K and V row blocks (vision.md §2.2). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "audit/audit_impl.h"
#include "core/error.h"

static const char *const COMP[AU_NCOMP] = {"llm", "vision", "vision-projector", "audio", "audio-projector",
                                           "discrete-vision", "discrete-audio", "video-audio-compressor",
                                           "audio-decoder", "other"};

const char *au_comp_name(int c) { return c >= 0 && c < AU_NCOMP ? COMP[c] : "?"; }

int au_comp_mask(const char *s) {
    if (!s || !strcmp(s, "all")) return (1 << AU_NCOMP) - 1;
    if (!strcmp(s, "llm")) return 1 << AU_LLM;
    if (!strcmp(s, "vision")) return 1 << AU_VISION | 1 << AU_VPROJ;
    if (!strcmp(s, "audio")) return 1 << AU_AUDIO | 1 << AU_APROJ;
    for (int c = 0; c < AU_NCOMP; c++)
        if (!strcmp(s, COMP[c])) return 1 << c;
    return -1;
}

/* prefix -> component; "re" is put back in front of the rest (LLM names are
 * kept in the standalone spelling). First match wins; gguf: only for GGUF. */
static const struct { const char *pre; int comp; const char *re; int gguf; } PFX[] = {
    {"model.language_model.model.", AU_LLM, "", 0},
    {"model.language_model.lm_head.", AU_LLM, "lm_head.", 0},
    {"model.language_model.", AU_LLM, "", 0},
    {"model.vision_model.", AU_VISION, "", 0},
    {"model.visual.", AU_VISION, "", 0},
    {"visual.", AU_VISION, "", 0},
    {"model.mm_projector.", AU_VPROJ, "", 0},
    {"mm_projector.", AU_VPROJ, "", 0},
    {"model.audio_model.", AU_AUDIO, "", 0},
    {"audio_tower.", AU_AUDIO, "", 0},
    {"model.audio_tower.", AU_AUDIO, "", 0},
    {"model.encoder.", AU_AUDIO, "", 0},
    {"encoder.", AU_AUDIO, "", 0},
    {"model.audio_projector.", AU_APROJ, "", 0},
    {"multi_modal_projector.", AU_APROJ, "", 0},
    {"model.multi_modal_projector.", AU_APROJ, "", 0},
    {"model.discrete_vision_model.", AU_DVISION, "", 0},
    {"model.discrete_audio_model.", AU_DAUDIO, "", 0},
    {"model.video_audio_compressor.", AU_VACOMP, "", 0},
    {"model.decoder.", AU_ADEC, "", 0},
    {"decoder.", AU_ADEC, "", 0},
    {"proj_out.", AU_ADEC, "proj_out.", 0},
    {"language_model.model.", AU_LLM, "", 0},
    {"language_model.lm_head.", AU_LLM, "lm_head.", 0},
    {"language_model.", AU_LLM, "", 0},
    {"model.", AU_LLM, "", 0},
    {"lm_head.", AU_LLM, "lm_head.", 0},
    {"mm.a.", AU_APROJ, "", 1},
    {"mm.", AU_VPROJ, "", 1},
    {"a.", AU_AUDIO, "", 1},
    {"v.", AU_VISION, "", 1},
    {"", AU_LLM, "", 1}, /* token_embd, output_norm, output, blk.N.* */
};

/* role synonyms (the part after the layer index, without .weight/.bias) */
static const struct { const char *from, *to; } ROLE[] = {
    {"self_attn.q_proj", "attn_q"}, {"attn_q", "attn_q"}, {"attn.q_proj", "attn_q"},
    {"self_attn.k_proj", "attn_k"}, {"attn_k", "attn_k"}, {"attn.k_proj", "attn_k"},
    {"self_attn.v_proj", "attn_v"}, {"attn_v", "attn_v"}, {"attn.v_proj", "attn_v"},
    {"self_attn.o_proj", "attn_o"}, {"self_attn.out_proj", "attn_o"}, {"attn_output", "attn_o"},
    {"attn_out", "attn_o"}, {"attn.proj", "attn_o"}, {"attn.out_proj", "attn_o"},
    {"mlp.gate_proj", "ffn_gate"}, {"ffn_gate", "ffn_gate"},
    {"mlp.up_proj", "ffn_up"}, {"ffn_up", "ffn_up"}, {"fc1", "ffn_up"}, {"mlp.fc1", "ffn_up"},
    {"mlp.down_proj", "ffn_down"}, {"ffn_down", "ffn_down"}, {"fc2", "ffn_down"}, {"mlp.fc2", "ffn_down"},
    {"input_layernorm", "norm1"}, {"attn_norm", "norm1"}, {"norm1", "norm1"}, {"self_attn_layer_norm", "norm1"},
    {"ln1", "norm1"}, {"ln_1", "norm1"},
    {"post_attention_layernorm", "norm2"}, {"ffn_norm", "norm2"}, {"norm2", "norm2"},
    {"final_layer_norm", "norm2"}, {"ln2", "norm2"}, {"ln_2", "norm2"},
    {"post_norm1", "post_norm1"}, {"post_attention_norm", "post_norm1"},
    {"post_norm2", "post_norm2"}, {"post_ffw_norm", "post_norm2"},
    /* outside layers */
    {"embed_tokens", "embed"}, {"token_embd", "embed"}, {"norm", "final_norm"}, {"output_norm", "final_norm"},
    {"lm_head", "lm_head"}, {"output", "lm_head"},
    {"patch_embed.proj", "patch_embed"}, {"patch_embd", "patch_embed"},
    {"merger.ln_q", "merger.norm"}, {"merger.mlp.0", "merger.fc1"}, {"merger.mlp.2", "merger.fc2"},
    {"conv1", "conv1"}, {"conv1d.1", "conv1"}, {"conv2", "conv2"}, {"conv1d.2", "conv2"},
    {"embed_positions", "pos_embed"}, {"position_embd", "pos_embed"},
    {"layer_norm", "final_norm"}, {"post_ln", "final_norm"},
    {"mlp.1", "fc1"}, {"mlp.2", "fc2"}, {"linear", "fc"}, {"model.fc", "fc"}, {"", "fc"},
};

/* component-specific exceptions: projector fc1/fc2 stay fc1/fc2 */
static const char *canon(int comp, int layer, const char *base) {
    if (comp == AU_APROJ || comp == AU_VPROJ) {
        if (!strcmp(base, "fc1") || !strcmp(base, "mlp.1") || !strcmp(base, "mlp.0")) return "fc1";
        if (!strcmp(base, "fc2") || !strcmp(base, "mlp.2")) return "fc2";
    }
    (void)layer;
    for (size_t i = 0; i < sizeof ROLE / sizeof *ROLE; i++)
        if (!strcmp(base, ROLE[i].from)) return ROLE[i].to;
    return NULL;
}

/* "layers.N." / "blocks.N." / "blk.N." / "h.N." at the start: returns N and
 * advances *rest past it; else -1 */
static int layer_of(const char **rest) {
    static const char *const L[] = {"layers.", "blocks.", "blk.", "h.", "layer."};
    for (size_t i = 0; i < sizeof L / sizeof *L; i++) {
        size_t n = strlen(L[i]);
        const char *p = *rest;
        if (strncmp(p, L[i], n) || !isdigit((unsigned char)p[n])) continue;
        char *e;
        long v = strtol(p + n, &e, 10);
        if (*e != '.' || v > 100000) continue;
        *rest = e + 1;
        return (int)v;
    }
    return -1;
}

int au_items(const au_source *s, int comp_mask, au_item **out, int *nout) {
    *out = NULL;
    *nout = 0;
    au_item *it = calloc((size_t)s->n * 3 + 1, sizeof *it);
    if (!it) return omnic_err(OMNIC_ENOMEM, "out of memory");
    int n = 0;
    for (int i = 0; i < s->n; i++) {
        const au_tensor *t = &s->t[i];
        const char *nm = t->name, *rest = NULL;
        int comp = AU_OTHER;
        char pre[64] = "";
        for (size_t k = 0; k < sizeof PFX / sizeof *PFX; k++) {
            if (PFX[k].gguf != s->is_gguf) continue;
            size_t l = strlen(PFX[k].pre);
            if (!strncmp(nm, PFX[k].pre, l)) {
                comp = PFX[k].comp;
                rest = nm + l;
                snprintf(pre, sizeof pre, "%s*", PFX[k].pre[0] ? PFX[k].pre : "(GGUF llm names) ");
                if (PFX[k].re[0]) rest = nm + l - strlen(PFX[k].re); /* keep "lm_head." */
                break;
            }
        }
        if (!rest) rest = nm;
        if (!(comp_mask & (1 << comp))) continue;
        /* LLM standalone spelling: model.layers.N -> layers.N */
        int layer = layer_of(&rest);
        char base[160];
        snprintf(base, sizeof base, "%s", rest);
        const char *suf = "w";
        size_t bl = strlen(base);
        if (bl > 7 && !strcmp(base + bl - 7, ".weight")) base[bl - 7] = 0;
        else if (bl > 5 && !strcmp(base + bl - 5, ".bias")) base[bl - 5] = 0, suf = "b";
        else if (!strcmp(base, "weight")) base[0] = 0;
        else if (!strcmp(base, "bias")) base[0] = 0, suf = "b";
        const char *c = canon(comp, layer, base);
        /* fused qkv: three parts of equal rows */
        if (!strcmp(base, "attn.qkv") || !strcmp(base, "attn_qkv") || !strcmp(base, "self_attn.qkv_proj")) {
            if (t->rows % 3 == 0) {
                static const char *const P[3] = {"attn_q", "attn_k", "attn_v"};
                for (int p = 0; p < 3; p++) {
                    au_item *x = &it[n++];
                    x->comp = comp, x->layer = layer, x->t = t, x->part = p + 1;
                    snprintf(x->role, sizeof x->role, "%s.%s", P[p], suf);
                    snprintf(x->prefix, sizeof x->prefix, "%s", pre);
                    x->rows = t->rows / 3, x->row0 = p * x->rows, x->cols = t->cols;
                }
                continue;
            }
        }
        au_item *x = &it[n++];
        x->comp = comp, x->layer = layer, x->t = t;
        snprintf(x->role, sizeof x->role, "%s.%s", c ? c : base, suf);
        snprintf(x->prefix, sizeof x->prefix, "%s", pre);
        x->row0 = 0, x->rows = t->rows, x->cols = t->cols;
    }
    *out = it;
    *nout = n;
    return 0;
}
