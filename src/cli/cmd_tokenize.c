/* cmd_tokenize.c - `omnic tokenize` (text -> ids, printed as a JSON array, CSV or JSON
 * with the token strings; optionally one result per input line) and `omnic detokenize`
 * (ids -> text, whole or through the streaming decoder; optionally one id list per
 * line of a file), both with a model folder's tokenizer.json. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "omnic.h"

static const char tok_usage[] =
    "usage: omnic tokenize -m DIR (--text STR | --file F) [--lines | -z] [--csv | --json] [--no-special]\n"
    "  -m, --model DIR     model folder with tokenizer.json (or the tokenizer.json itself)\n"
    "  -t, --text STR      text to encode\n"
    "  -f, --file F        text to encode, read as bytes from F (invalid UTF-8 becomes U+FFFD)\n"
    "      --lines         encode every line (split at \\n, which is not part of it) on its own\n"
    "                      and print one result per line\n"
    "  -z, --null-data     the same with NUL-separated records (texts may then hold \\n)\n"
    "      --csv           print the ids comma-separated: 1,2,3\n"
    "      --json          print {\"ids\":[...],\"tokens\":[...]}\n"
    "      --no-special    do not turn special added tokens in the text into their ids\n"
    "  Default output: the ids as a JSON array, e.g. [1, 2, 3].\n"
    "  (--decode LIST [--skip-special] [--stream] is kept as another spelling of `omnic detokenize`.)\n";

static const char detok_usage[] =
    "usage: omnic detokenize -m DIR (--ids LIST | --ids-file F) [--skip-special] [--stream] [--json]\n"
    "  -m, --model DIR     model folder with tokenizer.json (or the tokenizer.json itself)\n"
    "  -i, --ids LIST      token ids, comma-separated (1,2,3) or as a JSON array ([1, 2, 3])\n"
    "      --ids-file F    one id list per line of F; prints one JSON string per line\n"
    "                      (one JSON object with --json)\n"
    "      --skip-special  drop special tokens\n"
    "      --stream        decode one token at a time through the streaming decoder\n"
    "      --json          print {\"text\":...} (with --stream also \"pieces\":[...], one per id)\n"
    "  Default output: the text, then a newline.\n";

static int read_file(const char *cmd, const char *path, char **out, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "omnic %s: %s: cannot open: %s\n", cmd, path, strerror(errno));
        return -1;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (n < cap - 1) break;
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
        fprintf(stderr, "omnic %s: %s: %s\n", cmd, path, buf ? "read error" : "out of memory");
        free(buf);
        return -1;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return 0;
}

static void print_json(json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT | JSON_ENSURE_ASCII | JSON_ENCODE_ANY);
    if (s) puts(s);
    free(s);
    json_decref(j);
}

/* ---- detokenize ---- */

/* Parse "1,2,3", "1, 2, 3", "[1, 2, 3]" or "" (an empty list) strictly. */
static int parse_id_list(const char *flag, const char *s, size_t n, int32_t **ids, size_t *count) {
    size_t cap = 16, k = 0, i = 0;
    int32_t *v = malloc(cap * sizeof *v);
    if (!v) return -1;
#define SKIPWS() while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\r')) i++
    SKIPWS();
    int bracket = i < n && s[i] == '[';
    if (bracket) i++;
    SKIPWS();
    int need_num = 0;
    while (i < n && !(bracket && s[i] == ']')) {
        long long x = 0;
        size_t st = i;
        while (i < n && s[i] >= '0' && s[i] <= '9' && x <= INT32_MAX) x = x * 10 + (s[i++] - '0');
        if (i == st || x > INT32_MAX) {
            fprintf(stderr, "omnic: %s: '%.*s' is not a list of token ids (at '%.20s')\n", flag, (int)(n > 200 ? 200 : n),
                    s, s + st);
            free(v);
            return -1;
        }
        if (k == cap) {
            int32_t *nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv) {
                free(v);
                return -1;
            }
            v = nv;
        }
        v[k++] = (int32_t)x;
        need_num = 0;
        SKIPWS();
        if (i < n && s[i] == ',') {
            i++;
            need_num = 1;
            SKIPWS();
        } else if (i < n && !(bracket && s[i] == ']')) {
            fprintf(stderr, "omnic: %s: unexpected '%c' in id list\n", flag, s[i]);
            free(v);
            return -1;
        }
    }
    if (bracket) {
        if (i >= n || s[i] != ']') {
            fprintf(stderr, "omnic: %s: missing ']' in id list\n", flag);
            free(v);
            return -1;
        }
        i++;
        SKIPWS();
    }
#undef SKIPWS
    if (need_num || i < n) {
        fprintf(stderr, "omnic: %s: malformed id list '%.*s'\n", flag, (int)(n > 200 ? 200 : n), s);
        free(v);
        return -1;
    }
    *ids = v;
    *count = k;
    return 0;
}

/* Decode ids; pieces (may be NULL) collects the streaming decoder's output per id. */
static int decode_ids(const omnic_tokenizer *t, const int32_t *ids, size_t n, int skip_special, int stream,
                      json_t *pieces, char **text, size_t *len) {
    if (!stream) return omnic_detokenize(t, ids, n, skip_special, text, len) ? -1 : 0;
    omnic_detok_stream *s;
    size_t cap = 256, used = 0;
    char *buf = malloc(cap);
    if (!buf || omnic_detok_stream_new(t, skip_special, &s)) {
        free(buf);
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; i <= n && !rc; i++) {
        const char *p;
        size_t pl;
        if (i < n ? omnic_detok_stream_feed(s, ids[i], &p, &pl) : omnic_detok_stream_flush(s, &p, &pl)) {
            rc = -1;
            break;
        }
        if (used + pl + 1 > cap) {
            while (used + pl + 1 > cap) cap *= 2;
            char *nb = realloc(buf, cap);
            if (!nb) {
                rc = -1;
                break;
            }
            buf = nb;
        }
        memcpy(buf + used, p, pl);
        used += pl;
        if (pieces) json_array_append_new(pieces, json_stringn(p, pl));
    }
    omnic_detok_stream_free(s);
    if (rc) {
        free(buf);
        return -1;
    }
    buf[used] = 0;
    *text = buf;
    *len = used;
    return 0;
}

/* Decode one list and print it: raw text + newline, a JSON string (as_line) or a JSON object. */
static int decode_and_print(const omnic_tokenizer *t, const int32_t *ids, size_t n, int skip_special, int stream,
                            int json, int as_line) {
    json_t *pieces = json && stream ? json_array() : NULL;
    char *text;
    size_t len;
    if (decode_ids(t, ids, n, skip_special, stream, pieces, &text, &len)) {
        json_decref(pieces);
        return cli_fail();
    }
    if (json) {
        json_t *o = json_object();
        json_object_set_new(o, "text", json_stringn(text, len));
        if (pieces) json_object_set_new(o, "pieces", pieces);
        print_json(o);
    } else if (as_line)
        print_json(json_stringn(text, len));
    else {
        fwrite(text, 1, len, stdout);
        putchar('\n');
    }
    free(text);
    return 0;
}

static int run_detokenize(const char *cmd, const char *dir, const char *ids_arg, const char *ids_file,
                          int skip_special, int stream, int json) {
    omnic_tokenizer *t;
    char *buf = NULL;
    size_t blen = 0;
    if (ids_file && read_file(cmd, ids_file, &buf, &blen)) return 1;
    if (omnic_tokenizer_load(dir, &t)) {
        free(buf);
        return cli_fail();
    }
    int rc = 0;
    if (ids_arg) {
        int32_t *ids;
        size_t n;
        rc = parse_id_list("--ids", ids_arg, strlen(ids_arg), &ids, &n) ? 2 : 0;
        if (!rc) {
            rc = decode_and_print(t, ids, n, skip_special, stream, json, 0);
            free(ids);
        }
    } else {
        size_t line_no = 0;
        for (size_t s = 0; s < blen && !rc;) {
            const char *nl = memchr(buf + s, '\n', blen - s);
            size_t e = nl ? (size_t)(nl - buf) : blen;
            int32_t *ids;
            size_t n;
            char flag[300];
            snprintf(flag, sizeof flag, "%.250s:%zu", ids_file, ++line_no);
            if (parse_id_list(flag, buf + s, e - s, &ids, &n)) rc = 2;
            else {
                rc = decode_and_print(t, ids, n, skip_special, stream, json, 1);
                free(ids);
            }
            s = e + 1;
        }
    }
    free(buf);
    omnic_tokenizer_free(t);
    return rc;
}

int cmd_detokenize(int argc, char **argv) {
    const char *dir = NULL, *ids = NULL, *ids_file = NULL;
    int json = 0, skip_special = 0, stream = 0;
    enum { O_JSON = 256, O_SKIP, O_STREAM, O_IDSFILE };
    static const struct option opts[] = {{"model", 1, 0, 'm'},           {"ids", 1, 0, 'i'},
                                         {"ids-file", 1, 0, O_IDSFILE},  {"json", 0, 0, O_JSON},
                                         {"skip-special", 0, 0, O_SKIP}, {"stream", 0, 0, O_STREAM},
                                         {"help", 0, 0, 'h'},            {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "m:i:h", opts, NULL)) != -1) {
        switch (o) {
        case 'm': dir = optarg; break;
        case 'i': ids = optarg; break;
        case O_IDSFILE: ids_file = optarg; break;
        case O_JSON: json = 1; break;
        case O_SKIP: skip_special = 1; break;
        case O_STREAM: stream = 1; break;
        case 'h': fputs(detok_usage, stdout); return 0;
        default: fputs(detok_usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "omnic detokenize: unexpected argument '%s'\n%s", argv[optind], detok_usage);
        return 2;
    }
    if (!dir) {
        fprintf(stderr, "omnic detokenize: -m DIR is required\n%s", detok_usage);
        return 2;
    }
    if (!!ids == !!ids_file) {
        fprintf(stderr, "omnic detokenize: give exactly one of --ids or --ids-file\n%s", detok_usage);
        return 2;
    }
    return run_detokenize("detokenize", dir, ids, ids_file, skip_special, stream, json);
}

/* ---- tokenize ---- */

static void print_ids(const omnic_tokenizer *t, const int32_t *ids, size_t n, int mode) {
    if (mode == 2) { /* --json */
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
        return;
    }
    if (mode == 0) putchar('[');
    for (size_t i = 0; i < n; i++) printf(!i ? "%d" : mode == 1 ? ",%d" : ", %d", (int)ids[i]);
    if (mode == 0) putchar(']');
    putchar('\n');
}

static int encode_and_print(const omnic_tokenizer *t, const char *s, size_t n, int parse_special, int mode) {
    int32_t *ids;
    size_t k;
    if (omnic_tokenize(t, s, n, parse_special, &ids, &k)) return cli_fail();
    print_ids(t, ids, k, mode);
    free(ids);
    return 0;
}

int cmd_tokenize(int argc, char **argv) {
    const char *dir = NULL, *file = NULL, *text = NULL, *decode = NULL;
    int no_special = 0, mode = 0, lines = 0, skip_special = 0, stream = 0, json = 0;
    char sep = '\n';
    enum { O_NOSPECIAL = 256, O_JSON, O_CSV, O_LINES, O_SKIP, O_STREAM };
    static const struct option opts[] = {{"model", 1, 0, 'm'},           {"file", 1, 0, 'f'},
                                         {"text", 1, 0, 't'},            {"decode", 1, 0, 'd'},
                                         {"no-special", 0, 0, O_NOSPECIAL}, {"json", 0, 0, O_JSON},
                                         {"csv", 0, 0, O_CSV},           {"lines", 0, 0, O_LINES},
                                         {"skip-special", 0, 0, O_SKIP}, {"stream", 0, 0, O_STREAM},
                                         {"null-data", 0, 0, 'z'},       {"help", 0, 0, 'h'},
                                         {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "m:f:t:d:zh", opts, NULL)) != -1) {
        switch (o) {
        case 'm': dir = optarg; break;
        case 'f': file = optarg; break;
        case 't': text = optarg; break;
        case 'd': decode = optarg; break;
        case O_NOSPECIAL: no_special = 1; break;
        case O_JSON: json = 1; break;
        case O_CSV: mode = 1; break;
        case O_LINES: lines = 1; break;
        case 'z':
            lines = 1;
            sep = 0;
            break;
        case O_SKIP: skip_special = 1; break;
        case O_STREAM: stream = 1; break;
        case 'h': fputs(tok_usage, stdout); return 0;
        default: fputs(tok_usage, stderr); return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "omnic tokenize: unexpected argument '%s'\n%s", argv[optind], tok_usage);
        return 2;
    }
    if (!dir) {
        fprintf(stderr, "omnic tokenize: -m DIR is required\n%s", tok_usage);
        return 2;
    }
    if (decode) {
        if (file || text || lines || mode || no_special) {
            fprintf(stderr, "omnic tokenize: --decode takes only --skip-special, --stream and --json\n%s", tok_usage);
            return 2;
        }
        return run_detokenize("tokenize", dir, decode, NULL, skip_special, stream, json);
    }
    if (!!file == !!text) {
        fprintf(stderr, "omnic tokenize: give exactly one of --file or --text\n%s", tok_usage);
        return 2;
    }
    if (json && mode) {
        fprintf(stderr, "omnic tokenize: --csv and --json exclude each other\n%s", tok_usage);
        return 2;
    }
    if (skip_special || stream) {
        fprintf(stderr, "omnic tokenize: --skip-special and --stream are decoding options (omnic detokenize)\n%s",
                tok_usage);
        return 2;
    }
    if (json) mode = 2;
    char *buf = NULL;
    size_t len;
    if (file) {
        if (read_file("tokenize", file, &buf, &len)) return 1;
        text = buf;
    } else
        len = strlen(text);
    omnic_tokenizer *t;
    if (omnic_tokenizer_load(dir, &t)) {
        free(buf);
        return cli_fail();
    }
    int rc = 0;
    if (!lines)
        rc = encode_and_print(t, text, len, !no_special, mode);
    else
        for (size_t s = 0; s < len && !rc;) {
            const char *nl = memchr(text + s, sep, len - s);
            size_t e = nl ? (size_t)(nl - text) : len;
            rc = encode_and_print(t, text + s, e - s, !no_special, mode);
            s = e + 1;
        }
    free(buf);
    omnic_tokenizer_free(t);
    return rc;
}
