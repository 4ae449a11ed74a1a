/* common.c - argument parsing and error helpers for the CLI subcommands. */
#include "cli/common.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "omnic.h"

int cli_parse_ids(const char *flag, const char *csv, int32_t **ids, size_t *n) {
    size_t cap = 16, k = 0;
    int32_t *v = malloc(cap * sizeof *v);
    if (!v) return -1;
    const char *p = csv;
    while (*p) {
        while (*p == ' ') p++;
        char *end;
        errno = 0;
        long x = strtol(p, &end, 10);
        if (end == p || errno || x < 0 || x > INT32_MAX) {
            fprintf(stderr, "omnic: %s: '%s' is not a comma-separated list of token ids (at '%.20s')\n", flag, csv, p);
            free(v);
            return -1;
        }
        if (k == cap) {
            int32_t *nv = realloc(v, (cap *= 2) * sizeof *v);
            if (!nv) { free(v); return -1; }
            v = nv;
        }
        v[k++] = (int32_t)x;
        p = end;
        while (*p == ' ') p++;
        if (*p == ',') p++;
        else if (*p) {
            fprintf(stderr, "omnic: %s: unexpected '%c' in id list\n", flag, *p);
            free(v);
            return -1;
        }
    }
    if (k == 0) {
        fprintf(stderr, "omnic: %s: empty id list\n", flag);
        free(v);
        return -1;
    }
    *ids = v;
    *n = k;
    return 0;
}

int cli_parse_int(const char *flag, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long x = strtol(s, &end, 10);
    if (!*s || *end || errno || x < lo || x > hi) {
        fprintf(stderr, "omnic: %s: '%s' is not an integer in [%ld, %ld]\n", flag, s, lo, hi);
        return -1;
    }
    *out = x;
    return 0;
}

int cli_parse_float(const char *flag, const char *s, double *out) {
    char *end;
    errno = 0;
    double x = strtod(s, &end);
    if (!*s || *end || errno || !isfinite(x)) {
        fprintf(stderr, "omnic: %s: '%s' is not a number\n", flag, s);
        return -1;
    }
    *out = x;
    return 0;
}

double cli_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int cli_fail(void) {
    fprintf(stderr, "omnic: %s\n", omnic_errmsg());
    return 1;
}

int cli_parse_kv(const char *s, int *out) {
    int k = omnic_kv_type_parse(s);
    if (k < 0) {
        fprintf(stderr, "omnic: --kv-type: want f32, f16 or q8_0, got '%s'\n", s);
        return 1;
    }
    *out = k;
    return 0;
}
