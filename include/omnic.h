/* omnic.h - public API of libomnic: load HyperCLOVA X SEED checkpoints, run the
 * decoder, sample, tokenize. The CLI (src/cli) and the server are its first users.
 *
 * Conventions (SQLite-like): functions that can fail return an int status
 * (OMNIC_OK == 0, negative on error) and leave a human-readable message, naming the
 * file / tensor / key at fault, in omnic_errmsg() (thread-local). */
#ifndef OMNIC_H
#define OMNIC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define OMNIC_VERSION "0.1.0"

enum {
    OMNIC_OK = 0,
    OMNIC_EIO = -1,      /* file missing / unreadable */
    OMNIC_EFORMAT = -2,  /* malformed file contents */
    OMNIC_ECONFIG = -3,  /* config key missing / wrong type / unsupported value */
    OMNIC_ETENSOR = -4,  /* tensor missing / wrong shape or dtype */
    OMNIC_ENOMEM = -5,   /* not enough memory */
    OMNIC_EINVAL = -6,   /* bad argument from the caller */
    OMNIC_EUNSUP = -7,   /* unsupported architecture or feature */
};

/* Last error message of the calling thread ("" if none). */
const char *omnic_errmsg(void);

/* ---- model ---------------------------------------------------------------- */

typedef struct omnic_model omnic_model;

typedef struct omnic_model_info {
    char arch[64];          /* config "architectures"[0] */
    char model_type[32];    /* "hyperclovax" or "llama" (of the LLM part) */
    int unified;            /* 1 if the LLM config is nested (text_config) */
    int vocab_size, hidden_size, n_layers, n_heads, n_kv_heads, head_dim, ffn_size;
    int max_pos;
    float rms_eps, rope_theta;
    float emb_mult, attn_mult, res_mult, logit_scale;
    int post_norm, tied, attn_bias, mlp_bias;
    int64_t n_params;       /* LLM parameters */
    int64_t weight_bytes;   /* bytes of LLM weights as stored */
    char dtypes[64];        /* e.g. "BF16" or "F32+BF16" */
    int bos_id, eos_id;     /* -1 if absent */
    int has_vision, has_audio, has_discrete_vision, has_discrete_audio, has_decoders;
    int n_files;            /* safetensors shards */
    int n_threads;          /* worker threads of this model's pool */
} omnic_model_info;

/* Open a Hugging Face model folder (config.json + safetensors) or a .gguf file
 * (NAVER's fork conventions or stock llama; see README). Weights are
 * memory-mapped, not copied. n_threads <= 0 picks the number of online CPUs. */
int omnic_model_open(const char *dir, int n_threads, omnic_model **out);
void omnic_model_close(omnic_model *m);
const omnic_model_info *omnic_model_get_info(const omnic_model *m);

/* ---- decoding context (KV cache + scratch for one sequence) ---------------- */

typedef struct omnic_ctx omnic_ctx;

/* n_ctx <= 0: the model's max_position_embeddings. The KV cache is float32. */
int omnic_ctx_new(omnic_model *m, int n_ctx, omnic_ctx **out);
/* KV cache element types: F16 halves and Q8_0 (GGUF blocks of 32) about
 * quarters its memory, at a small cost in accuracy. */
enum { OMNIC_KV_F32 = 0, OMNIC_KV_F16 = 1, OMNIC_KV_Q8_0 = 2 };
int omnic_ctx_new_kv(omnic_model *m, int n_ctx, int kv_type, omnic_ctx **out);
/* "f32" / "f16" / "q8_0" -> OMNIC_KV_*, or -1. */
int omnic_kv_type_parse(const char *name);
void omnic_ctx_free(omnic_ctx *c);
int omnic_ctx_pos(const omnic_ctx *c);   /* tokens held in the cache */
int omnic_ctx_size(const omnic_ctx *c);  /* positions it can hold */
void omnic_ctx_reset(omnic_ctx *c);      /* forget the cache */
/* Keep only the first n cached tokens (0 <= n <= pos): later evaluations append
 * after them. Lets a caller reuse the common prefix of two prompts. */
int omnic_ctx_truncate(omnic_ctx *c, int n);

/* Append n tokens at the current position and run them (batched prefill).
 * logits: if non-NULL receives float logits; all_logits ? [n][vocab] : [vocab]
 * (the last position only). */
int omnic_eval(omnic_ctx *c, const int32_t *ids, int n, float *logits, int all_logits);

/* One decode step for n distinct sequences of the same model at once (the
 * weights are read once for all of them): token ids[i] is appended to ctxs[i].
 * logits (if non-NULL) receives [n][vocab]. n <= 64. Not thread-safe with
 * other evaluations on the same model. */
int omnic_eval_batch(omnic_ctx **ctxs, const int32_t *ids, int n, float *logits);

/* Append n positions whose input rows are given directly, rows [n][hidden_size]
 * (media embeddings, before the embedding multiplier, which is applied to them as
 * to looked-up token rows: llm.md §5.1). logits as omnic_eval. */
int omnic_eval_embd(omnic_ctx *c, const float *rows, int n, float *logits, int all_logits);

/* ---- media: images, video, audio (vision.md, audio.md) ----------------------
 * A media item is encoded once into the streams the model's prompt format uses
 * (continuous rows from an encoder + projector, and for Omni-8B discrete code
 * tokens). Each stream replaces one placeholder token of the rendered prompt
 * (<|IMAGE_PAD|>, <|DISCRETE_IMAGE_PAD|>, <|VIDEO_PAD|>, <|AUDIO_PAD|>,
 * <|DISCRETE_AUDIO_PAD|>): the k-th placeholder of a kind takes the k-th media
 * stream of that kind, in prompt order. */

typedef struct omnic_tokenizer omnic_tokenizer;

enum { OMNIC_MEDIA_IMAGE = 1, OMNIC_MEDIA_VIDEO = 2, OMNIC_MEDIA_AUDIO = 3 };

typedef struct omnic_media omnic_media;

/* Encode one item held in memory (an encoded file: JPEG, PNG, MP4, WAV, ...).
 * tok resolves the placeholder and code token ids. name is used in errors
 * (e.g. "messages[0].content[1]"). The encoders are loaded on first use and
 * kept with the model. Not thread-safe with other calls on the same model. */
int omnic_media_encode(omnic_model *m, const omnic_tokenizer *tok, int kind, const uint8_t *buf,
                       size_t len, const char *name, omnic_media **out);
int omnic_media_encode_file(omnic_model *m, const omnic_tokenizer *tok, int kind, const char *path,
                            omnic_media **out);
void omnic_media_free(omnic_media *md);
/* Prompt positions this item adds in total (all its streams). */
int omnic_media_positions(const omnic_media *md);

/* Number of positions of ids[0..n) once every placeholder is expanded with the
 * given media; OMNIC_EINVAL (naming the placeholder) when the placeholders and
 * the media do not match one to one. */
int omnic_mm_expanded_len(const int32_t *ids, int n, omnic_media *const *media, int n_media, int *n_pos);
/* Write the expanded sequence: out_ids[n_pos] token ids (-1 where a continuous
 * row goes) and out_rows[n_pos] row pointers ([hidden_size] floats; NULL at token
 * positions), valid while the media live. For callers that schedule the prompt
 * themselves (the server): rows go through omnic_eval_embd. */
int omnic_mm_expand(const int32_t *ids, int n, omnic_media *const *media, int n_media, int32_t *out_ids,
                    const float **out_rows);
/* Evaluate a prompt with placeholders: like omnic_eval over the expanded
 * sequence (all_logits: logits [n_pos][vocab], see omnic_mm_expanded_len). */
int omnic_eval_mm(omnic_ctx *c, const int32_t *ids, int n, omnic_media *const *media, int n_media,
                  float *logits, int all_logits);

/* ---- sampling ---------------------------------------------------------------- */

typedef struct omnic_sampling {
    float temperature;        /* <= 0: greedy (argmax, lowest id wins ties) */
    int top_k;                /* <= 0: off */
    float top_p;              /* >= 1: off */
    float min_p;              /* <= 0: off */
    float repeat_penalty;     /* 1: off (llama.cpp / HF semantics) */
    int repeat_last_n;        /* window for all penalties; <0: whole history */
    float presence_penalty;   /* 0: off (OpenAI semantics) */
    float frequency_penalty;  /* 0: off */
    uint64_t seed;
} omnic_sampling;

void omnic_sampling_default(omnic_sampling *s);

typedef struct omnic_sampler omnic_sampler;
int omnic_sampler_new(const omnic_sampling *s, int vocab_size, omnic_sampler **out);
void omnic_sampler_free(omnic_sampler *s);
/* Pick the next token from logits (modified in place: penalties, temperature). */
int32_t omnic_sampler_sample(omnic_sampler *s, float *logits);
/* Record a token in the history that the penalties look at (prompt and output). */
void omnic_sampler_accept(omnic_sampler *s, int32_t token);
void omnic_sampler_reset(omnic_sampler *s);

/* ---- tokenizer --------------------------------------------------------------- */

typedef struct omnic_tokenizer omnic_tokenizer;

/* Load tokenizer.json (+ tokenizer_config.json if present) from a model folder,
 * a tokenizer.json path, or the folder holding a .gguf path. */
int omnic_tokenizer_load(const char *dir, omnic_tokenizer **out);
void omnic_tokenizer_free(omnic_tokenizer *t);
int omnic_tokenizer_vocab_size(const omnic_tokenizer *t);
/* Encode UTF-8 text. parse_special: match added tokens (as HF does by default).
 * *ids is malloc'd; the caller frees it. */
int omnic_tokenize(const omnic_tokenizer *t, const char *text, size_t len,
                   int parse_special, int32_t **ids, size_t *n_ids);
/* Token id -> id string (e.g. "Ġhello") or NULL if out of range. */
const char *omnic_token_str(const omnic_tokenizer *t, int32_t id);
/* Look a token string up (vocab or added tokens); -1 if absent. */
int32_t omnic_token_id(const omnic_tokenizer *t, const char *str);
/* Decode ids to UTF-8 (invalid sequences -> U+FFFD). *out is malloc'd, NUL-terminated. */
int omnic_detokenize(const omnic_tokenizer *t, const int32_t *ids, size_t n,
                     int skip_special, char **out, size_t *out_len);

/* Streaming decode: feed one token at a time; emits only complete UTF-8. */
typedef struct omnic_detok_stream omnic_detok_stream;
int omnic_detok_stream_new(const omnic_tokenizer *t, int skip_special, omnic_detok_stream **out);
/* Returns OMNIC_OK and the bytes now ready in *piece and *len (possibly 0); the
 * buffer stays valid until the next call on this stream. */
int omnic_detok_stream_feed(omnic_detok_stream *s, int32_t id, const char **piece, size_t *len);
/* Flush held-back bytes (as U+FFFD if incomplete). */
int omnic_detok_stream_flush(omnic_detok_stream *s, const char **piece, size_t *len);
void omnic_detok_stream_free(omnic_detok_stream *s);

#ifdef __cplusplus
}
#endif
#endif
