/* main.c - the `omnic` command: dispatch to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli/cmd_encode_audio.h"
#include "cli/commands.h"
#include "omnic.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
    {"info", cmd_info, "describe a model folder (architecture, sizes, dtypes, components)"},
    {"run", cmd_run, "generate text from a prompt (raw text or --ids)"},
    {"logits", cmd_logits, "write prompt logits [T, vocab] as float32 .npy (conformance)"},
    {"chat", cmd_chat, "interactive chat with the model's own prompt format"},
    {"perplexity", cmd_perplexity, "perplexity on a text (llama-perplexity style), e.g. to check a quantized file"},
    {"bench", cmd_bench, "prefill (pp) and decode (tg) tokens/s, llama-bench style"},
    {"quantize", cmd_quantize, "write a model as GGUF (q4_0, q4_k, q8_0, bf16, f16, f32)"},
    {"tokenize", cmd_tokenize, "tokenize text with the model folder's tokenizer.json"},
    {"detokenize", cmd_detokenize, "turn token ids back into text"},
    {"render-chat", cmd_render_chat, "render a chat prompt with the model's template"},
    {"serve", cmd_serve, "OpenAI/OmniServe-compatible HTTP server"},
    {"embed", cmd_embed, "encode an image/video/audio file to the rows the LLM sees (.npy)"},
    {"image", cmd_image, "decode/resize/patchify an image as the vision path does (.npy)"},
    {"transcribe", cmd_transcribe, "speech to text with an audio-capable model (Omni-8B)"},
    {"speak", cmd_speak, "text to speech with Omni-8B and its vocoder (.wav/.mp3/...)"},
    {"vocode", cmd_vocode, "speech units -> 24 kHz waveform with the Omni vocoder (.npy/.wav)"},
    {"voices", cmd_voices, "list the vocoder's preset voices"},
    {"video", cmd_video, "sample/resize/patchify a video as the vision path does (.npy)"},
    {"audio", cmd_audio, "decode/resample an audio file, log-mel features (.npy)"},
    {"audit", cmd_audit, "compare two checkpoints' weights: provenance per component"},
    {"encode-audio", cmd_encode_audio, "float samples (.npy) -> wav/pcm/mp3/flac/opus/aac"},
    {"hash", cmd_hash, "SHA-256 manifest of a model, per file and per tensor"},
};

static void usage(FILE *f) {
    fprintf(f, "omnic %s - HyperCLOVA X SEED models on your own machine\n\n"
               "usage: omnic <command> [options]   (omnic <command> --help)\n\ncommands:\n",
            OMNIC_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("omnic %s\n", OMNIC_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "omnic: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
