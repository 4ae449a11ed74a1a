/* cmd_audit.c - `omnic audit`: where a checkpoint's weights come from.
 *   omnic audit A B [--json] [--html F] [--component vision|audio|llm|all] [--tensors] [thresholds]
 *   omnic audit --fingerprint A -o FP.json [--component C]
 *   omnic audit A FP.json
 * A, B: HF folders (any naming convention: HCX unified, Qwen2.5-VL, Qwen2-Audio,
 * Whisper, standalone LLM) or GGUF files, any dtype or quantization. The method
 * is described in src/audit/audit_stats.c and audit_verdict.c. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "audit/audit_impl.h"
#include "cli/commands.h"
#include "cli/common.h"
#include "core/error.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: omnic audit A B [--json] [--html FILE] [--component vision|audio|llm|all] [--tensors]\n"
            "                   [--same-resid X] [--z Z] [--min-corr C] [--rows N] [--cols N] [--null-shifts N]\n"
            "                   [-t THREADS] [--quiet]\n"
            "       omnic audit --fingerprint A -o FP.json [--component C]\n"
            "       omnic audit A FP.json\n"
            "  Compares two checkpoints (HF folders or GGUF, any dtype / quantization) per tensor, layer block and\n"
            "  component (LLM, vision encoder + projector, audio encoder + projector, ...), across naming conventions\n"
            "  (model.vision_model.* / visual.*, model.audio_model.* / audio_tower.* / encoder.*, GGUF blk.N.*),\n"
            "  undoing permutations of hidden units, rescaling, transposition and quantization, and gives a verdict\n"
            "  per block and component: same weights / derived (fine-tuned) / independent, with the margin to the\n"
            "  null distribution of independent pairs (mismatched layers) in standard deviations.\n"
            "  --same-resid X   residual at or below which weights are the same (default 0.01; at least 0.3 x the\n"
            "                   quantization noise of the coarser format)\n"
            "  --z Z            margin in sd of the null for 'derived' (default 6)\n"
            "  --min-corr C     and at least this aligned correlation (default 0.2)\n"
            "  --rows N         rows of A sampled per tensor (default 256); --cols N columns used to match units (512)\n"
            "  --null-shifts N  mismatched-layer shifts for the null (default 2)\n");
}

static int is_fingerprint(const char *p, json_t **out) {
    *out = NULL;
    size_t n = strlen(p);
    if (n < 5 || strcmp(p + n - 5, ".json")) return 0;
    json_error_t e;
    json_t *j = json_load_file(p, 0, &e);
    if (!j) {
        omnic_err(OMNIC_EFORMAT, "%s: not valid JSON (line %d: %s)", p, e.line, e.text);
        return -1;
    }
    *out = j;
    return 1;
}

int cmd_audit(int argc, char **argv) {
    au_opts o = {.same_resid = 0.01, .z = 6, .min_corr = 0.2, .max_rows = 256, .max_cols = 512, .null_shifts = 2,
                 .threads = 0, .progress = 1};
    const char *html = NULL, *comp = "all", *fpa = NULL, *out = NULL;
    int json = 0, tensors = 0, quiet = 0;
    long v;
    double d;
    static const struct option opts[] = {
        {"json", 0, 0, 'j'}, {"html", 1, 0, 'H'}, {"component", 1, 0, 'c'}, {"tensors", 0, 0, 'T'},
        {"same-resid", 1, 0, 's'}, {"z", 1, 0, 'z'}, {"min-corr", 1, 0, 'C'}, {"rows", 1, 0, 'r'},
        {"cols", 1, 0, 'k'}, {"null-shifts", 1, 0, 'n'}, {"threads", 1, 0, 't'}, {"quiet", 0, 0, 'q'},
        {"fingerprint", 1, 0, 'f'}, {"out", 1, 0, 'o'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int opt;
    optind = 1;
    while ((opt = getopt_long(argc, argv, "t:o:qh", opts, NULL)) != -1) {
        switch (opt) {
        case 'j': json = 1; break;
        case 'H': html = optarg; break;
        case 'c': comp = optarg; break;
        case 'T': tensors = 1; break;
        case 's': if (cli_parse_float("--same-resid", optarg, &d) || d < 0 || d > 1) return 2; o.same_resid = d; break;
        case 'z': if (cli_parse_float("--z", optarg, &d) || d <= 0) return 2; o.z = d; break;
        case 'C': if (cli_parse_float("--min-corr", optarg, &d) || d < -1 || d > 1) return 2; o.min_corr = d; break;
        case 'r': if (cli_parse_int("--rows", optarg, 8, 65536, &v)) return 2; o.max_rows = (int)v; break;
        case 'k': if (cli_parse_int("--cols", optarg, 8, 65536, &v)) return 2; o.max_cols = (int)v; break;
        case 'n': if (cli_parse_int("--null-shifts", optarg, 1, 64, &v)) return 2; o.null_shifts = (int)v; break;
        case 't': if (cli_parse_int("--threads", optarg, 1, 1024, &v)) return 2; o.threads = (int)v; break;
        case 'q': quiet = 1; break;
        case 'f': fpa = optarg; break;
        case 'o': out = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    int mask = au_comp_mask(comp);
    if (mask < 0) {
        fprintf(stderr, "omnic audit: --component must be vision, audio, llm or all (or a component name)\n");
        return 2;
    }
    o.progress = !quiet && isatty(2);
    if (fpa) {
        if (!out) {
            fprintf(stderr, "omnic audit: --fingerprint needs -o FP.json\n");
            return 2;
        }
        au_source *a;
        if (au_open(fpa, &a)) return cli_fail();
        int rc = au_fingerprint_write(a, mask, out, o.progress);
        au_close(a);
        if (rc) return cli_fail();
        if (!quiet) fprintf(stderr, "omnic audit: wrote fingerprint %s\n", out);
        return 0;
    }
    if (argc - optind != 2) {
        fprintf(stderr, "omnic audit: give two checkpoints A B (or A FP.json)\n");
        usage(stderr);
        return 2;
    }
    const char *pa = argv[optind], *pb = argv[optind + 1];
    json_t *fp = NULL;
    int isfp = is_fingerprint(pb, &fp);
    if (isfp < 0) return cli_fail();
    au_source *a = NULL, *b = NULL;
    if (au_open(pa, &a)) {
        fprintf(stderr, "omnic audit: A: %s\n", omnic_errmsg());
        json_decref(fp);
        return 1;
    }
    if (!isfp && au_open(pb, &b)) {
        fprintf(stderr, "omnic audit: B: %s\n", omnic_errmsg());
        au_close(a);
        return 1;
    }
    au_result r;
    int rc = au_run(a, b, fp, mask, &o, &r);
    if (rc) {
        cli_fail();
    } else {
        if (json) {
            json_t *j = au_report_json(&r);
            char *s = json_dumps(j, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
            if (s) printf("%s\n", s);
            free(s);
            json_decref(j);
        } else {
            au_report_table(&r, stdout, tensors);
        }
        if (html && au_report_html(&r, html)) rc = cli_fail();
        au_result_free(&r);
    }
    au_close(a);
    au_close(b);
    json_decref(fp);
    return rc ? 1 : 0;
}
