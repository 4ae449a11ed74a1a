/* cmd_chat.c - `omnic chat -m DIR`: interactive chat in the terminal with the
 * model's own prompt format (src/text/chat.c), streamed output with the reasoning
 * shown dimmed, history, /reset, /system, /think, and media attached to the next
 * message (/image, /video, /audio PATH, or --image/--video/--audio with -p).
 * `-p TEXT` (or `omnic run --chat -p TEXT`) answers one turn and exits. A turn
 * whose prompt extends the previous one reuses the KV cache (only the new suffix
 * is evaluated, with the media that arrived since). */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/speak_out.h"
#include "omnic.h"
#include "text/chat.h"
#include "text/output_parser.h"

#define DIM "\033[2m"
#define RESET "\033[0m"

typedef struct {
    omnic_model *m;
    omnic_tokenizer *tok;
    chat_template *tpl;
    omnic_ctx *ctx;
    omnic_sampler *smp;
    const omnic_model_info *I;
    out_family fam;
    int32_t *cached;   /* tokens held in ctx */
    size_t n_cached, cap_cached;
    int32_t stops[16];
    int n_stops;
    long max_tokens;
    int color, think;
    json_t *history;   /* messages array (system first if set) */
    float *logits;
    omnic_media **media;   /* every media item of the history, in prompt order */
    int n_media, n_media_cached;
    struct { int kind; char *path; } pending[16]; /* attached to the next message (owned copies) */
    int n_pending;
    const char *dir;
    size_t gen_start;      /* cached[gen_start..n_cached): the last answer's tokens */
    int32_t *forced;       /* TEST ONLY (OMNIC_TEST_FORCE): the answer's tokens */
    size_t n_forced;
    const char *speak;     /* --speak OUT: synthesize the answer's speech units */
    const char *voice;     /* --voice NAME|INDEX */
    int clone;             /* --clone: the last input audio is the voice reference */
    char *last_audio;      /* path of the last --audio / /audio item, or --ref-audio */
    int ref_given;         /* --ref-audio: keep it over the inputs */
} chat_state;

static const char *kind_name(int kind) {
    return kind == OMNIC_MEDIA_IMAGE ? "image" : kind == OMNIC_MEDIA_VIDEO ? "video" : "audio";
}

static void clear_pending(chat_state *s) {
    while (s->n_pending) free(s->pending[--s->n_pending].path);
}

/* Encode the pending attachments and build the user message's content parts. */
static json_t *user_message(chat_state *s, const char *text) {
    if (!s->n_pending) return json_pack("{s:s,s:s}", "role", "user", "content", text);
    json_t *parts = json_array();
    omnic_media **nm = realloc(s->media, (size_t)(s->n_media + s->n_pending) * sizeof *nm);
    if (!nm) return NULL;
    s->media = nm;
    int n_new = 0;
    for (int i = 0; i < s->n_pending; i++) {
        const char *path = s->pending[i].path;
        int kind = s->pending[i].kind;
        if (omnic_media_encode_file(s->m, s->tok, kind, path, &s->media[s->n_media + n_new])) {
            cli_fail();
            for (int j = 0; j < n_new; j++) omnic_media_free(s->media[s->n_media + j]);
            json_decref(parts);
            clear_pending(s);
            return NULL;
        }
        n_new++;
        if (kind == OMNIC_MEDIA_AUDIO && !s->ref_given) {
            free(s->last_audio);
            s->last_audio = strdup(path);
        }
        if (kind == OMNIC_MEDIA_AUDIO) {
            const char *dot = strrchr(path, '.');
            json_array_append_new(parts, json_pack("{s:s,s:{s:s,s:s}}", "type", "input_audio", "input_audio", "data", "",
                                                   "format", dot ? dot + 1 : "wav"));
        } else {
            const char *ty = kind == OMNIC_MEDIA_VIDEO ? "video_url" : "image_url";
            json_array_append_new(parts, json_pack("{s:s,s:{s:s}}", "type", ty, ty, "url", path));
        }
    }
    s->n_media += n_new;
    clear_pending(s);
    json_array_append_new(parts, json_pack("{s:s,s:s}", "type", "text", "text", text));
    return json_pack("{s:s,s:o}", "role", "user", "content", parts);
}

/* Drop the media of a user message that failed (the last n items). */
static void drop_media(chat_state *s, int n) {
    while (n-- > 0 && s->n_media > s->n_media_cached) omnic_media_free(s->media[--s->n_media]);
}

static out_family family_of(const chat_state *s) {
    const char *f = chat_family(s->tpl);
    if (!strcmp(f, "track-a")) return OUT_FAMILY_THINK;
    if (!strcmp(f, "track-b")) return OUT_FAMILY_OMNI;
    return strcmp(s->I->model_type, "llama") ? OUT_FAMILY_HCX_LEGACY : OUT_FAMILY_PLAIN;
}

static void add_stop(chat_state *s, int32_t id) {
    if (id < 0 || s->n_stops >= 16) return;
    for (int i = 0; i < s->n_stops; i++)
        if (s->stops[i] == id) return;
    s->stops[s->n_stops++] = id;
}

/* Evaluate prompt ids, reusing the cached prefix when the prompt extends it. */
static int eval_prompt(chat_state *s, const int32_t *ids, size_t n) {
    size_t keep = 0;
    while (keep < s->n_cached && keep < n && s->cached[keep] == ids[keep]) keep++;
    if (keep < s->n_cached || keep == n) { /* diverged (or nothing new): start over */
        omnic_ctx_reset(s->ctx);
        keep = 0;
        s->n_media_cached = 0;
    }
    if (n > s->cap_cached) {
        int32_t *nc = realloc(s->cached, (n + 1024) * sizeof *nc);
        if (!nc) return -1;
        s->cached = nc;
        s->cap_cached = n + 1024;
    }
    memcpy(s->cached, ids, n * sizeof *ids);
    s->n_cached = n;
    omnic_sampler_reset(s->smp);
    for (size_t i = 0; i < n; i++) omnic_sampler_accept(s->smp, ids[i]);
    /* the suffix holds the placeholders of the media not yet in the cache */
    int rc = omnic_eval_mm(s->ctx, ids + keep, (int)(n - keep), s->media + s->n_media_cached,
                           s->n_media - s->n_media_cached, s->logits, 0);
    if (rc) {
        omnic_ctx_reset(s->ctx);
        s->n_cached = 0;
        s->n_media_cached = 0;
        return rc;
    }
    s->n_media_cached = s->n_media;
    return 0;
}

static void print_text(const chat_state *s, const char *t, size_t n, int reasoning) {
    if (!n) return;
    if (reasoning && s->color) fputs(DIM, stdout);
    fwrite(t, 1, n, stdout);
    if (reasoning && s->color) fputs(RESET, stdout);
    fflush(stdout);
}

/* One assistant turn for the current history; appends the answer to it. */
static int chat_turn(chat_state *s) {
    json_t *kw = json_object();
    json_object_set_new(kw, "thinking", json_boolean(s->think));
    json_object_set_new(kw, "skip_reasoning", json_boolean(!s->think));
    char *prompt = NULL;
    size_t plen = 0;
    int rc = chat_render_json(s->tpl, s->history, NULL, kw, 1, 0, &prompt, &plen);
    json_decref(kw);
    if (rc) return cli_fail();
    int32_t *ids = NULL;
    size_t n = 0;
    rc = omnic_tokenize(s->tok, prompt, plen, 1, &ids, &n);
    free(prompt);
    if (rc) return cli_fail();
    double t0 = cli_now_ms();
    if (eval_prompt(s, ids, n)) {
        free(ids);
        return cli_fail();
    }
    free(ids);
    double t1 = cli_now_ms();
    out_opts oo = {.family = s->fam, .reasoning = s->think ? OUT_REASON_ON : OUT_REASON_OFF, .id_seed = 1};
    if (s->fam == OUT_FAMILY_HCX_LEGACY) oo.reasoning = s->think ? OUT_REASON_AUTO : OUT_REASON_OFF;
    out_parser *op = out_parser_new_opts(&oo);
    omnic_detok_stream *ds = NULL;
    if (!op || omnic_detok_stream_new(s->tok, 0, &ds)) {
        out_parser_free(op);
        return cli_fail();
    }
    long produced = 0;
    out_delta d;
    rc = 0;
    s->gen_start = s->n_cached;
    for (; produced < s->max_tokens; produced++) {
        int32_t next = omnic_sampler_sample(s->smp, s->logits);
        if (s->forced) next = (size_t)produced < s->n_forced ? s->forced[produced] : -1;
        int stop = next < 0;
        for (int i = 0; i < s->n_stops; i++) stop |= next == s->stops[i];
        if (stop) break;
        omnic_sampler_accept(s->smp, next);
        const char *piece;
        size_t len;
        if (omnic_detok_stream_feed(ds, next, &piece, &len) == 0 && len && out_parser_feed(op, piece, len, &d) == 0) {
            print_text(s, d.reasoning, d.reasoning_len, 1);
            print_text(s, d.content, d.content_len, 0);
        }
        if (omnic_eval(s->ctx, &next, 1, s->logits, 0)) {
            rc = cli_fail();
            break;
        }
        if (s->n_cached + 1 > s->cap_cached) {
            int32_t *nc = realloc(s->cached, (s->cap_cached + 1024) * sizeof *nc);
            if (!nc) { rc = 1; break; }
            s->cached = nc;
            s->cap_cached += 1024;
        }
        s->cached[s->n_cached++] = next;
    }
    const char *piece;
    size_t len;
    if (omnic_detok_stream_flush(ds, &piece, &len) == 0 && len) out_parser_feed(op, piece, len, NULL);
    if (out_parser_finish(op, &d) == 0) {
        print_text(s, d.reasoning, d.reasoning_len, 1);
        print_text(s, d.content, d.content_len, 0);
        const out_result *r = out_parser_result(op);
        json_t *msg = json_pack("{s:s}", "role", "assistant");
        json_object_set_new(msg, "content", r->content ? json_stringn(r->content, r->content_len) : json_string(""));
        if (r->reasoning) json_object_set_new(msg, "reasoning_content", json_stringn(r->reasoning, r->reasoning_len));
        json_array_append_new(s->history, msg);
    }
    double t2 = cli_now_ms();
    printf("\n");
    fprintf(stderr, "%s[prompt %zu tokens %.0f ms, %ld tokens %.1f tok/s]%s\n", s->color ? DIM : "", n, t1 - t0, produced,
            produced ? produced / ((t2 - t1) / 1e3) : 0.0, s->color ? RESET : "");
    omnic_detok_stream_free(ds);
    out_parser_free(op);
    return rc;
}

static void set_system(chat_state *s, const char *text) {
    json_t *first = json_array_get(s->history, 0);
    const char *role = json_string_value(json_object_get(first, "role"));
    if (role && !strcmp(role, "system")) json_array_remove(s->history, 0);
    if (text && *text) json_array_insert_new(s->history, 0, json_pack("{s:s,s:s}", "role", "system", "content", text));
}

static void usage(FILE *f) {
    fprintf(f, "usage: omnic chat -m DIR [-p TEXT] [--system TEXT] [--think on|off] [--family F] [-n N]\n"
               "                  [--temp T] [--top-p P] [--top-k K] [--seed S] [-t THREADS] [--ctx N]\n"
               "                  [--image F] [--video F] [--audio F]   (repeatable; attached to -p / the first message)\n"
               "                  [--speak OUT.wav|.mp3|.flac|.opus|.aac|.pcm|.npy [--voice NAME|INDEX] [--clone]]\n"
               "  --speak: synthesize the answer's speech units (Omni-8B) with its vocoder; --clone: in the voice\n"
               "           of the last --audio input (zero-shot archive); --ref-audio F: clone F instead\n"
               "  interactive commands: /reset  /system TEXT  /think on|off  /image PATH  /video PATH\n"
               "                        /audio PATH  /quit\n");
}

enum { O_SYS = 256, O_THINK, O_FAM, O_TEMP, O_TOPP, O_TOPK, O_SEED, O_CTX, O_NOCOLOR, O_IMG, O_VID, O_AUD, O_KV,
       O_SPEAK, O_VOICE, O_CLONE, O_REF };

static int attach(chat_state *s, int kind, const char *path) {
    if (s->n_pending == 16) {
        fprintf(stderr, "omnic chat: at most 16 media items per message\n");
        return 1;
    }
    char *copy = strdup(path);
    if (!copy) return 1;
    s->pending[s->n_pending].kind = kind;
    s->pending[s->n_pending++].path = copy;
    return 0;
}

int cmd_chat(int argc, char **argv) {
    const char *dir = NULL, *prompt = NULL, *sys = NULL, *family = NULL;
    long threads = 0, n_ctx = 4096, lv;
    double dv;
    chat_state s = {.max_tokens = 1024, .color = isatty(1)};
    int kv = OMNIC_KV_F32;
    omnic_sampling sp;
    omnic_sampling_default(&sp);
    sp.temperature = 0.6f;
    sp.top_p = 0.95f;
    sp.seed = 42;
    static const struct option opts[] = {
        {"model", 1, 0, 'm'}, {"prompt", 1, 0, 'p'}, {"system", 1, 0, O_SYS}, {"think", 1, 0, O_THINK},
        {"family", 1, 0, O_FAM}, {"max-tokens", 1, 0, 'n'}, {"temp", 1, 0, O_TEMP}, {"top-p", 1, 0, O_TOPP},
        {"top-k", 1, 0, O_TOPK}, {"seed", 1, 0, O_SEED}, {"threads", 1, 0, 't'}, {"ctx", 1, 0, O_CTX}, {"kv-type", 1, 0, O_KV},
        {"no-color", 0, 0, O_NOCOLOR}, {"chat", 0, 0, 'c'}, {"image", 1, 0, O_IMG}, {"video", 1, 0, O_VID},
        {"audio", 1, 0, O_AUD}, {"speak", 1, 0, O_SPEAK}, {"voice", 1, 0, O_VOICE}, {"clone", 0, 0, O_CLONE}, {"ref-audio", 1, 0, O_REF},
        {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "m:p:n:t:ch", opts, NULL)) != -1) {
        switch (o) {
        case 'm': dir = optarg; break;
        case 'p': prompt = optarg; break;
        case 'c': break; /* `omnic run --chat` */
        case O_SYS: sys = optarg; break;
        case O_FAM: family = optarg; break;
        case O_THINK:
            if (strcmp(optarg, "on") && strcmp(optarg, "off")) { fprintf(stderr, "omnic chat: --think on|off\n"); return 2; }
            s.think = !strcmp(optarg, "on");
            break;
        case 'n': if (cli_parse_int("--max-tokens", optarg, 1, 1 << 30, &s.max_tokens)) return 2; break;
        case 't': if (cli_parse_int("--threads", optarg, 1, 1024, &threads)) return 2; break;
        case O_CTX: if (cli_parse_int("--ctx", optarg, 16, 1 << 30, &n_ctx)) return 2; break;
        case O_TEMP: if (cli_parse_float("--temp", optarg, &dv)) return 2; sp.temperature = (float)dv; break;
        case O_TOPP: if (cli_parse_float("--top-p", optarg, &dv)) return 2; sp.top_p = (float)dv; break;
        case O_TOPK: if (cli_parse_int("--top-k", optarg, 0, 1 << 30, &lv)) return 2; sp.top_k = (int)lv; break;
        case O_SEED: if (cli_parse_int("--seed", optarg, 0, 0x7fffffffffffffffL, &lv)) return 2; sp.seed = (uint64_t)lv; break;
        case O_NOCOLOR: s.color = 0; break;
        case O_KV: if (cli_parse_kv(optarg, &kv)) return 2; break;
        case O_SPEAK: s.speak = optarg; break;
        case O_VOICE: s.voice = optarg; break;
        case O_CLONE: s.clone = 1; break;
        case O_REF:
            free(s.last_audio);
            s.last_audio = strdup(optarg);
            s.clone = s.ref_given = 1;
            break;
        case O_IMG: if (attach(&s, OMNIC_MEDIA_IMAGE, optarg)) return 2; break;
        case O_VID: if (attach(&s, OMNIC_MEDIA_VIDEO, optarg)) return 2; break;
        case O_AUD: if (attach(&s, OMNIC_MEDIA_AUDIO, optarg)) return 2; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!dir) {
        fprintf(stderr, "omnic chat: -m DIR is required\n");
        usage(stderr);
        return 2;
    }
    int rc = 1;
    s.dir = dir;
    if (s.speak && !prompt) {
        fprintf(stderr, "omnic chat: --speak needs -p TEXT (one turn)\n");
        return 2;
    }
    if (omnic_model_open(dir, (int)threads, &s.m) || omnic_tokenizer_load(dir, &s.tok) || chat_load(dir, family, &s.tpl)) {
        cli_fail();
        goto done;
    }
    s.I = omnic_model_get_info(s.m);
    if (n_ctx > s.I->max_pos) n_ctx = s.I->max_pos;
    if (omnic_ctx_new_kv(s.m, (int)n_ctx, kv, &s.ctx) || omnic_sampler_new(&sp, s.I->vocab_size, &s.smp)) {
        cli_fail();
        goto done;
    }
    s.fam = family_of(&s);
    add_stop(&s, s.I->eos_id);
    for (const char *const *st = chat_stop_strings(s.tpl); st && *st; st++) add_stop(&s, omnic_token_id(s.tok, *st));
    s.logits = malloc((size_t)s.I->vocab_size * sizeof(float));
    s.history = json_array();
    if (!s.logits || !s.history) goto done;
    set_system(&s, sys);
    const char *force = getenv("OMNIC_TEST_FORCE");
    if (force) {
        if (omnic_tokenize(s.tok, force, strlen(force), 1, &s.forced, &s.n_forced)) {
            cli_fail();
            goto done;
        }
    }
    if (prompt) {
        json_t *um = user_message(&s, prompt);
        if (!um) goto done;
        json_array_append_new(s.history, um);
        rc = chat_turn(&s);
        if (!rc && s.speak)
            rc = speak_answer(s.m, s.tok, s.dir, s.cached + s.gen_start, s.n_cached - s.gen_start, s.voice,
                              s.clone ? s.last_audio : NULL, s.speak);
        goto done;
    }
    fprintf(stderr, "omnic chat: %s (%s format). /reset /system TEXT /think on|off /quit\n", dir, chat_family(s.tpl));
    char *line = NULL;
    size_t cap = 0;
    for (;;) {
        if (isatty(0)) fputs("> ", stdout), fflush(stdout);
        ssize_t r = getline(&line, &cap, stdin);
        if (r < 0) break;
        while (r > 0 && (line[r - 1] == '\n' || line[r - 1] == '\r')) line[--r] = 0;
        if (!r) continue;
        if (!strcmp(line, "/quit") || !strcmp(line, "/exit")) break;
        if (!strcmp(line, "/reset")) {
            json_array_clear(s.history);
            while (s.n_media) omnic_media_free(s.media[--s.n_media]);
            s.n_media_cached = 0;
            set_system(&s, sys);
            omnic_ctx_reset(s.ctx);
            s.n_cached = 0;
            fprintf(stderr, "(history cleared)\n");
            continue;
        }
        if (!strncmp(line, "/system", 7) && (line[7] == ' ' || !line[7])) {
            set_system(&s, line[7] ? line + 8 : NULL);
            fprintf(stderr, "(system prompt %s)\n", line[7] ? "set" : "cleared");
            continue;
        }
        if (!strcmp(line, "/think on") || !strcmp(line, "/think off")) {
            s.think = !strcmp(line, "/think on");
            fprintf(stderr, "(thinking %s)\n", s.think ? "on" : "off");
            continue;
        }
        int mk = !strncmp(line, "/image ", 7) ? OMNIC_MEDIA_IMAGE : !strncmp(line, "/video ", 7) ? OMNIC_MEDIA_VIDEO
               : !strncmp(line, "/audio ", 7) ? OMNIC_MEDIA_AUDIO : 0;
        if (mk) {
            if (attach(&s, mk, line + 7)) continue;
            fprintf(stderr, "(%s %s attached to the next message)\n", kind_name(mk), line + 7);
            continue;
        }
        if (line[0] == '/') {
            fprintf(stderr, "unknown command %s (try /reset, /system TEXT, /think on|off, /image PATH, /video PATH, "
                            "/audio PATH, /quit)\n", line);
            continue;
        }
        int before = s.n_media;
        json_t *um = user_message(&s, line);
        if (!um) continue;
        json_array_append_new(s.history, um);
        if (chat_turn(&s)) {
            json_array_remove(s.history, json_array_size(s.history) - 1);
            drop_media(&s, s.n_media - before);
        }
    }

    free(line);
    rc = 0;
done:
    clear_pending(&s);
    free(s.forced);
    free(s.last_audio);
    while (s.n_media) omnic_media_free(s.media[--s.n_media]);
    free(s.media);
    json_decref(s.history);
    free(s.logits);
    free(s.cached);
    omnic_sampler_free(s.smp);
    omnic_ctx_free(s.ctx);
    chat_free(s.tpl);
    omnic_tokenizer_free(s.tok);
    omnic_model_close(s.m);
    return rc;
}
