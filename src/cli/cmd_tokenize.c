/* cmd_tokenize.c - `omnic tokenize`: encode text with a model folder's tokenizer.json
 * (ids, or ids + token strings as JSON) or decode a comma-separated id list. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "omnic.h"

static const char usage_text[] =
    "usage: omnic tokenize -m DIR (--file F | --text STR) [--no-special] [--json]\n"
    "       omnic tokenize -m DIR --decode CSV [--skip-special] [--stream] [--json]\n"
    "  -m, --model DIR     model folder with tokenizer.json (or the tokenizer.json itself)\n"
    "  -f, --file F        text to encode, read as bytes from F\n"
    "  -t, --text STR      text to encode\n"
    "      --no-special    do not turn special added tokens in the text into their ids\n"
    "      --json          print {\"ids\":[...],\"tokens\":[...]} (decode: {\"text\":...,\"pieces\":[...]})\n"
    "  -d, --decode CSV    decode these token ids instead of encoding\n"
    "      --skip-special  drop special tokens when decoding\n"
    "      --stream        decode one token at a time through the streaming decoder\n";

static int read_file(const char *path, char **out, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "omnic tokenize: %s: cannot open: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n, f);
        n += r;
        if (n < cap) break;
        char *nb = realloc(buf, cap *= 2);
        if (!nb) {
            free(buf);
            buf = NULL;
        } else
            buf = nb;
    }
    int err = ferror(f);
    fclose(f);
    if (!buf || err) {
        fprintf(stderr, "omnic tokenize: %s: %s\n", path, buf ? "read error" : "out of memory");
        free(buf);
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

static void print_json(json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (s) puts(s);
    free(s);
    json_decref(j);
}

static int do_decode(const omnic_tokenizer *t, const char *csv, int skip_special, int stream, int json) {
    int32_t *ids;
    size_t n;
    if (cli_parse_ids("--decode", csv, &ids, &n)) return 2;
    json_t *pieces = json_array();
    char *text = NULL;
    size_t len = 0;
    int rc = 0;
    if (stream) {
        omnic_detok_stream *s;
        size_t cap = 256;
        text = malloc(cap);
        if (!text || omnic_detok_stream_new(t, skip_special, &s)) {
            free(ids);
            free(text);
            json_decref(pieces);
            return cli_fail();
        }
        for (size_t i = 0; i <= n && !rc; i++) {
            const char *p;
            size_t pl;
            rc = i < n ? omnic_detok_stream_feed(s, ids[i], &p, &pl) : omnic_detok_stream_flush(s, &p, &pl);
            if (rc) break;
            if (len + pl + 1 > cap) {
                while (len + pl + 1 > cap) cap *= 2;
                char *nt = realloc(text, cap);
                if (!nt) {
                    rc = -1;
                    break;
                }
                text = nt;
            }
            memcpy(text + len, p, pl);
            len += pl;
            json_array_append_new(pieces, json_stringn(p, pl));
        }
        omnic_detok_stream_free(s);
        if (text) text[len] = 0;
    } else
        rc = omnic_detokenize(t, ids, n, skip_special, &text, &len);
    free(ids);
    if (rc) {
        free(text);
        json_decref(pieces);
        return cli_fail();
    }
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "text", json_stringn(text, len));
        if (stream) json_object_set_new(o, "pieces", pieces);
        else json_decref(pieces);
        print_json(o);
    } else {
        json_decref(pieces);
        fwrite(text, 1, len, stdout);
        putchar('\n');
    }
    free(text);
    return 0;
}

int cmd_tokenize(int argc, char **argv) {
    const char *dir = NULL, *file = NULL, *text = NULL, *decode = NULL;
    int no_special = 0, json = 0, skip_special = 0, stream = 0;
    enum { O_NOSPECIAL = 256, O_JSON, O_SKIP, O_STREAM };
    static const struct option opts[] = {{"model", 1, 0, 'm'},         {"file", 1, 0, 'f'},
                                         {"text", 1, 0, 't'},          {"decode", 1, 0, 'd'},
                                         {"no-special", 0, 0, O_NOSPECIAL}, {"json", 0, 0, O_JSON},
                                         {"skip-special", 0, 0, O_SKIP}, {"stream", 0, 0, O_STREAM},
                                         {"help", 0, 0, 'h'},          {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "m:f:t:d:h", opts, NULL)) != -1) {
        switch (o) {
        case 'm': dir = optarg; break;
        case 'f': file = optarg; break;
        case 't': text = optarg; break;
        case 'd': decode = optarg; break;
        case O_NOSPECIAL: no_special = 1; break;
        case O_JSON: json = 1; break;
        case O_SKIP: skip_special = 1; break;
        case O_STREAM: stream = 1; break;
        case 'h': fputs(usage_text, stdout); return 0;
        default: fputs(usage_text, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "omnic tokenize: unexpected argument '%s'\n%s", argv[optind], usage_text);
        return 2;
    }
    if (!dir) {
        fprintf(stderr, "omnic tokenize: -m DIR is required\n%s", usage_text);
        return 2;
    }
    if (!decode && !!file == !!text) {
        fprintf(stderr, "omnic tokenize: give exactly one of --file or --text (or --decode)\n%s", usage_text);
        return 2;
    }
    if (decode && (file || text)) {
        fprintf(stderr, "omnic tokenize: --decode does not take --file/--text\n%s", usage_text);
        return 2;
    }
    omnic_tokenizer *t;
    if (omnic_tokenizer_load(dir, &t)) return cli_fail();
    if (decode) {
        int rc = do_decode(t, decode, skip_special, stream, json);
        omnic_tokenizer_free(t);
        return rc;
    }
    char *buf = NULL;
    size_t len;
    if (file) {
        if (read_file(file, &buf, &len)) {
            omnic_tokenizer_free(t);
            return 1;
        }
    } else
        len = strlen(text);
    int32_t *ids;
    size_t n;
    if (omnic_tokenize(t, buf ? buf : text, len, !no_special, &ids, &n)) {
        free(buf);
        omnic_tokenizer_free(t);
        return cli_fail();
    }
    free(buf);
    if (json) {
        json_t *o = json_object(), *ja = json_array(), *ta = json_array();
        for (size_t i = 0; i < n; i++) {
            json_array_append_new(ja, json_integer(ids[i]));
            const char *s = omnic_token_str(t, ids[i]);
            json_t *js = s ? json_string(s) : NULL;
            json_array_append_new(ta, js ? js : json_null());
        }
        json_object_set_new(o, "ids", ja);
        json_object_set_new(o, "tokens", ta);
        print_json(o);
    } else {
        for (size_t i = 0; i < n; i++) printf(i ? ",%d" : "%d", (int)ids[i]);
        putchar('\n');
    }
    free(ids);
    omnic_tokenizer_free(t);
    return 0;
}
