/* cmd_hash.c - `omnic hash -m MODEL [--json]`: SHA-256 manifest of a model (per
 * file, per tensor, and the manifest digest that depends on the weights only;
 * see src/audit/audit_manifest.c). */
#include <getopt.h>
#include <stdio.h>
#include <unistd.h>

#include "audit/audit.h"
#include "cli/commands.h"
#include "cli/common.h"

static void usage(FILE *f) {
    fprintf(f, "usage: omnic hash -m MODEL [--json] [--digest-only] [--quiet]\n"
               "  MODEL: a Hugging Face folder or a .gguf file. Prints the SHA-256 of every file and tensor\n"
               "  and the manifest digest: SHA-256 of the sorted lines \"name<TAB>dtype<TAB>shape<TAB>sha256\"\n"
               "  of all tensors (independent of the path, sharding and tensor order).\n");
}

int cmd_hash(int argc, char **argv) {
    const char *m = NULL;
    int json = 0, only = 0, quiet = 0;
    static const struct option opts[] = {{"model", 1, 0, 'm'}, {"json", 0, 0, 'j'}, {"digest-only", 0, 0, 'd'},
                                         {"quiet", 0, 0, 'q'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    int o;
    optind = 1;
    while ((o = getopt_long(argc, argv, "m:qh", opts, NULL)) != -1) {
        switch (o) {
        case 'm': m = optarg; break;
        case 'j': json = 1; break;
        case 'd': only = 1; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (!m && optind < argc) m = argv[optind];
    if (!m) {
        usage(stderr);
        return 2;
    }
    if (only) {
        char hex[65];
        if (audit_manifest_digest(m, hex)) return cli_fail();
        printf("sha256:%s\n", hex);
        return 0;
    }
    if (audit_manifest_print(m, stdout, json, !quiet && isatty(2))) return cli_fail();
    return 0;
}
