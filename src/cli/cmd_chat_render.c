/* cmd_chat_render.c - `omnic render-chat`: render a chat prompt with a model's chat
 * template (src/text/chat.h) and print it exactly (no trailing newline added). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/commands.h"
#include "omnic.h"
#include "text/chat.h"

static const char usage_text[] =
    "usage: omnic render-chat [-m DIR] [--family F] --messages FILE [--tools FILE] [--kwargs JSON]\n"
    "                         [--no-generation-prompt] [--raw]\n"
    "       omnic render-chat [-m DIR] [--family F] (--dump-template | --info)\n"
    "  -m, --model DIR          model folder (config.json, tokenizer_config.json, chat template)\n"
    "      --family F           track-a | track-b | hcx-legacy | model-template (default: from config.json)\n"
    "      --messages FILE      JSON array of chat messages ('-' = stdin)\n"
    "      --tools FILE         JSON array of tools\n"
    "      --kwargs JSON        chat_template_kwargs object, e.g. '{\"thinking\":true}'\n"
    "      --no-generation-prompt  render without the assistant generation prompt\n"
    "      --raw                skip input normalization (render the messages exactly as given)\n"
    "      --dump-template      print the template text in use\n"
    "      --info               print {\"family\", \"stop\", \"never_stop\"} as JSON\n";

static int slurp(const char *path, char **out, size_t *len) {
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        fprintf(stderr, "omnic render-chat: %s: cannot open: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 14, n = 0;
    char *buf = malloc(cap + 1);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap) break;
        char *nb = realloc(buf, cap * 2 + 1);
        if (!nb) {
            free(buf);
            buf = NULL;
        } else {
            buf = nb;
            cap *= 2;
        }
    }
    int err = ferror(f);
    if (f != stdin) fclose(f);
    if (!buf || err) {
        fprintf(stderr, "omnic render-chat: %s: %s\n", path, buf ? "read error" : "out of memory");
        free(buf);
        return -1;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

static json_t *load_json_file(const char *what, const char *path) {
    char *buf;
    size_t len;
    if (slurp(path, &buf, &len)) return NULL;
    json_error_t je;
    json_t *j = json_loadb(buf, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
    free(buf);
    if (!j) fprintf(stderr, "omnic render-chat: %s %s: invalid JSON at line %d: %s\n", what, path, je.line, je.text);
    return j;
}

static json_t *str_list(const char *const *l) {
    json_t *a = json_array();
    for (; l && *l; l++) json_array_append_new(a, json_string(*l));
    return a;
}

int cmd_render_chat(int argc, char **argv) {
    static const struct option opts[] = {
        {"model", required_argument, 0, 'm'},     {"family", required_argument, 0, 'F'},
        {"messages", required_argument, 0, 'M'},  {"tools", required_argument, 0, 'T'},
        {"kwargs", required_argument, 0, 'K'},    {"no-generation-prompt", no_argument, 0, 'N'},
        {"raw", no_argument, 0, 'R'},             {"dump-template", no_argument, 0, 'D'},
        {"info", no_argument, 0, 'I'},            {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *dir = NULL, *family = NULL, *msgs_path = NULL, *tools_path = NULL, *kwargs = NULL;
    int agp = 1, raw = 0, dump = 0, info = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'm': dir = optarg; break;
        case 'F': family = optarg; break;
        case 'M': msgs_path = optarg; break;
        case 'T': tools_path = optarg; break;
        case 'K': kwargs = optarg; break;
        case 'N': agp = 0; break;
        case 'R': raw = 1; break;
        case 'D': dump = 1; break;
        case 'I': info = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: fputs(usage_text, stderr); return 2;
        }
    }
    if (optind < argc || (!msgs_path && !dump && !info) || (!dir && !family)) {
        fputs(usage_text, stderr);
        return 2;
    }
    chat_template *t;
    if (chat_load(dir, family, &t)) {
        fprintf(stderr, "omnic render-chat: %s\n", omnic_errmsg());
        return 1;
    }
    int rc = 0;
    if (dump || info) {
        if (dump) {
            size_t n;
            const char *s = chat_template_text(t, &n);
            fwrite(s, 1, n, stdout);
        } else {
            json_t *o = json_pack("{s:s, s:o, s:o}", "family", chat_family(t), "stop", str_list(chat_stop_strings(t)),
                                  "never_stop", str_list(chat_never_stop_strings(t)));
            char *s = json_dumps(o, JSON_COMPACT);
            if (s) puts(s);
            free(s);
            json_decref(o);
        }
        chat_free(t);
        return 0;
    }
    json_t *m = load_json_file("messages", msgs_path), *tl = NULL, *kw = NULL;
    if (!m) rc = 1;
    if (!rc && tools_path && !(tl = load_json_file("tools", tools_path))) rc = 1;
    if (!rc && kwargs) {
        json_error_t je;
        kw = json_loads(kwargs, JSON_DECODE_ANY, &je);
        if (!kw) {
            fprintf(stderr, "omnic render-chat: --kwargs: invalid JSON: %s\n", je.text);
            rc = 1;
        }
    }
    if (!rc) {
        char *out;
        size_t n;
        if (chat_render_json(t, m, tl, kw, agp, raw ? CHAT_RAW : 0, &out, &n)) {
            fprintf(stderr, "omnic render-chat: %s\n", omnic_errmsg());
            rc = 1;
        } else {
            if (fwrite(out, 1, n, stdout) != n || fflush(stdout)) rc = 1;
            free(out);
        }
    }
    json_decref(m);
    json_decref(tl);
    json_decref(kw);
    chat_free(t);
    return rc;
}
