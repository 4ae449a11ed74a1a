/* cmd_info.c - `omnic info -m DIR [--json] [--hash]`: what a model folder holds;
 * --hash adds the weights' manifest digest (the one GET /v1/models reports). */
#include <getopt.h>
#include <stdio.h>

#include "cli/commands.h"
#include "audit/audit.h"
#include "cli/common.h"
#include "omnic.h"

int cmd_info(int argc, char **argv) {
    const char *dir = NULL;
    int json = 0, hash = 0;
    static const struct option opts[] = {{"model", 1, 0, 'm'}, {"json", 0, 0, 'j'}, {"hash", 0, 0, 'H'},
                                         {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "m:jh", opts, NULL)) != -1) {
        switch (o) {
        case 'm': dir = optarg; break;
        case 'j': json = 1; break;
        case 'H': hash = 1; break;
        case 'h': printf("usage: omnic info -m DIR [--json] [--hash]\n"); return 0;
        default: fprintf(stderr, "usage: omnic info -m DIR [--json] [--hash]\n"); return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "omnic info: -m DIR is required\n");
        return 2;
    }
    omnic_model *m;
    if (omnic_model_open(dir, 1, &m)) return cli_fail();
    const omnic_model_info *I = omnic_model_get_info(m);
    int ctx = I->max_pos < 4096 ? I->max_pos : 4096;
    double kv = 2.0 * I->n_layers * ctx * I->n_kv_heads * I->head_dim * 4;
    double gib = 1024.0 * 1024 * 1024;
    char digest[65] = "";
    if (hash && audit_manifest_digest(dir, digest)) {
        omnic_model_close(m);
        return cli_fail();
    }
    if (json) {
        if (hash) printf("{\"weights_sha256\":\"%s\",", digest);
        printf("%s\"architecture\":\"%s\",\"model_type\":\"%s\",\"unified\":%s,\"vocab_size\":%d,\"hidden_size\":%d,"
               "\"num_hidden_layers\":%d,\"num_attention_heads\":%d,\"num_key_value_heads\":%d,\"head_dim\":%d,"
               "\"intermediate_size\":%d,\"max_position_embeddings\":%d,\"rms_norm_eps\":%g,\"rope_theta\":%g,"
               "\"embedding_multiplier\":%g,\"attention_multiplier\":%g,\"residual_multiplier\":%g,\"logits_scaling\":%g,"
               "\"post_norm\":%s,\"tie_word_embeddings\":%s,\"attention_bias\":%s,\"mlp_bias\":%s,\"parameters\":%lld,"
               "\"weight_bytes\":%lld,\"dtypes\":\"%s\",\"files\":%d,\"kv_cache_bytes_at_%d\":%.0f,"
               "\"components\":{\"llm\":true,\"vision\":%s,\"audio\":%s,\"discrete_vision\":%s,\"discrete_audio\":%s,"
               "\"decoders\":%s}}\n",
               hash ? "" : "{", I->arch, I->model_type, I->unified ? "true" : "false", I->vocab_size, I->hidden_size, I->n_layers,
               I->n_heads, I->n_kv_heads, I->head_dim, I->ffn_size, I->max_pos, I->rms_eps, I->rope_theta, I->emb_mult,
               I->attn_mult, I->res_mult, I->logit_scale, I->post_norm ? "true" : "false", I->tied ? "true" : "false",
               I->attn_bias ? "true" : "false", I->mlp_bias ? "true" : "false", (long long)I->n_params,
               (long long)I->weight_bytes, I->dtypes, I->n_files, ctx, kv, I->has_vision ? "true" : "false",
               I->has_audio ? "true" : "false", I->has_discrete_vision ? "true" : "false",
               I->has_discrete_audio ? "true" : "false", I->has_decoders ? "true" : "false");
    } else {
        printf("model:        %s\n", dir);
        if (hash) printf("weights:      sha256:%s (manifest digest, see omnic hash)\n", digest);
        printf("architecture: %s (%s decoder%s)\n", I->arch, I->model_type, I->unified ? ", unified multimodal repo" : "");
        printf("layers %d, hidden %d, heads %d (kv %d, head_dim %d), ffn %d, vocab %d, max positions %d\n", I->n_layers,
               I->hidden_size, I->n_heads, I->n_kv_heads, I->head_dim, I->ffn_size, I->vocab_size, I->max_pos);
        printf("rms_norm_eps %g, rope_theta %g\n", I->rms_eps, I->rope_theta);
        printf("multipliers:  embedding %g, attention %g, residual %g, logits %g\n", I->emb_mult, I->attn_mult,
               I->res_mult, I->logit_scale);
        printf("post-norms:   %s; embeddings %s; biases: attention %s, mlp %s\n", I->post_norm ? "on (Peri-LN)" : "off",
               I->tied ? "tied" : "untied", I->attn_bias ? "yes" : "no", I->mlp_bias ? "yes" : "no");
        printf("parameters:   %.1f M (LLM), %s, %.2f GiB in %d file%s (memory-mapped)\n", I->n_params / 1e6, I->dtypes,
               I->weight_bytes / gib, I->n_files, I->n_files == 1 ? "" : "s");
        printf("memory:       %.2f GiB weights + %.2f GiB f32 KV cache at %d tokens\n", I->weight_bytes / gib, kv / gib, ctx);
        printf("components:   LLM%s%s%s%s%s\n", I->has_vision ? ", vision encoder" : "", I->has_audio ? ", audio encoder" : "",
               I->has_discrete_vision ? ", discrete vision tokenizer" : "",
               I->has_discrete_audio ? ", discrete audio tokenizer" : "", I->has_decoders ? ", media decoders" : "");
        if (I->bos_id >= 0 || I->eos_id >= 0) printf("special ids:  bos %d, eos %d\n", I->bos_id, I->eos_id);
    }
    omnic_model_close(m);
    return 0;
}
