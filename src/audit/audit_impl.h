/* audit_impl.h - internal interfaces of src/audit/: checkpoint sources
 * (tensors read as float32 rows), comparable items (component, layer, role),
 * pair statistics, verdicts and reports. */
#ifndef OMNIC_AUDIT_IMPL_H
#define OMNIC_AUDIT_IMPL_H
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "core/dtype.h"
#include "core/threads.h"

/* ---- sources (audit_source.c) ---- */
typedef struct au_tensor {
    const char *name;     /* as stored */
    omnic_dtype dt;       /* storage type; (int)dt < 0: unreadable (reported) */
    int ndim;
    int64_t shape[8];     /* outermost first (Hugging Face order; GGUF ne reversed) */
    int64_t rows, cols;   /* 2-D view: rows = shape[0], cols = the rest; 1-D: n x 1 */
    const uint8_t *data;
    uint64_t nbytes;
    int qk_group;         /* > 0: rows stored in the llama.cpp fork's per-head pair
                             order with head size qk_group (undone on read) */
} au_tensor;

typedef struct au_source {
    char *path;
    int is_gguf;
    void *st;             /* st_set * */
    void *gg;             /* gguf_file * */
    au_tensor *t;
    int n;
    json_t *config;       /* config.json of an HF folder, or NULL */
    char kind[96];        /* "safetensors, BF16" ... for the report */
} au_source;

int au_open(const char *path, au_source **out);
void au_close(au_source *s);
/* Rows [r0, r0 + n) (canonical order) of t as float32, row-major, t->cols each. */
int au_read_rows(const au_tensor *t, int64_t r0, int64_t n, float *out);
/* Columns cols[0..nc) of rows [r0, r0 + n) of a matrix as float32, [n x nc];
 * block types dequantize only the blocks holding them (scratch: one block). */
int au_read_cols(const au_tensor *t, int64_t r0, int64_t n, const int *cols, int nc, float *out, float *scratch);

/* ---- items: what is compared (audit_match.c) ---- */
enum { AU_LLM, AU_VISION, AU_VPROJ, AU_AUDIO, AU_APROJ, AU_DVISION, AU_DAUDIO, AU_VACOMP, AU_ADEC, AU_OTHER, AU_NCOMP };
const char *au_comp_name(int c);
/* "vision" -> mask of components (vision encoder + its projector) ; -1 unknown */
int au_comp_mask(const char *s);

typedef struct au_item {
    int comp, layer;      /* layer -1: not in a layer block */
    char role[176];       /* canonical role, e.g. "attn_q.w" */
    char prefix[64];      /* prefix that selected the component ("visual.") */
    const au_tensor *t;
    int64_t row0, rows, cols; /* part of t (fused tensors are split into parts) */
    int part;             /* 0 whole, else 1.. (fused part index) */
} au_item;

int au_items(const au_source *s, int comp_mask, au_item **out, int *n);

/* ---- pair statistics (audit_stats.c) ---- */
typedef struct au_opts {
    double same_resid;    /* residual at or below which weights are "the same" */
    double z;             /* margin (sd of the null) for "derived" */
    double min_corr;      /* and at least this aligned correlation */
    int max_rows;         /* rows sampled from A per tensor */
    int max_cols;         /* columns used for permutation matching */
    int null_shifts;      /* mismatched-layer shifts for the null */
    int threads;
    int progress;
} au_opts;

typedef struct au_stats {
    int ok;               /* compared */
    char why[256];        /* when not: the reason */
    double cos, pearson, rel_l2;  /* elementwise, as stored (name-aligned) */
    double corr;          /* aligned, row/column-balanced, centred correlation */
    double resid;         /* residual after alignment, scale and requantization */
    double qnoise;        /* relative error of the coarser storage format */
    int perm_rows, perm_cols, transposed;
    int untrained;        /* 1: sinusoidal table, 2: constant */
    int verdict_use;      /* counts for the verdict (trained matrix of fair size) */
} au_stats;

typedef struct au_ctx {
    omnic_pool *pool;
    au_opts o;
    unsigned null_signs;  /* != 0: flip B's rows and columns by pseudo-random
                             signs (seeded): an unrelated partner of the same
                             size and value distribution, for the null */
#define AU_NBUF 16
    float *bufs[AU_NBUF];
    size_t caps[AU_NBUF];
} au_ctx;

void au_compare(au_ctx *c, const au_item *a, const au_item *b, au_stats *st);
/* 1: sinusoidal position table (either classic layout), 2: constant, 0: neither */
int au_untrained(const au_item *it);

/* ---- fingerprints (audit_fingerprint.c) ---- */
#define AU_SKETCH 128
int au_sketch(const au_item *it, float sk[AU_SKETCH], char sha[65]);

/* ---- run and verdicts (audit_verdict.c) ---- */
typedef struct au_pair {
    const au_item *a, *b;
    int b_by_shape;
    au_stats st;
    double fp_corr;       /* fingerprint mode */
} au_pair;

typedef struct au_block {
    int comp, layer;
    int n, n_used;
    double cos, pearson, corr, resid, margin, qtol;
    int verdict;          /* AU_V_* */
} au_block;

enum { AU_V_NONE = 0, AU_V_INDEP, AU_V_DERIVED, AU_V_SAME, AU_V_INCOMP };
const char *au_verdict_name(int v);

typedef struct au_comp_res {
    int present_a, present_b;
    int n_pairs, n_missing_a, n_missing_b, n_shape, n_untrained;
    double null_mu, null_sd;
    int null_n;
    double item_mu, item_sd;
    int verdict;
    double margin, max_margin;
    int n_blocks, n_same, n_derived, n_indep;
    char prefix_a[64], prefix_b[64];
    char note[256];
} au_comp_res;

typedef struct au_result {
    const char *path_a, *path_b;
    char kind_a[96], kind_b[96];
    au_pair *pairs;
    int n_pairs;
    char **missing;       /* "comp: name (missing in B)" lines */
    int n_missing;
    au_block *blocks;
    int n_blocks;
    au_comp_res comp[AU_NCOMP];
    int fingerprint;      /* B is a fingerprint */
    au_opts o;
    double seconds;
    au_item **pairs_items; /* the item arrays the pairs point into */
} au_result;

/* Compare two sources (b may be NULL with fp != NULL: a fingerprint JSON). */
int au_run(au_source *a, au_source *b, json_t *fp, int comp_mask, const au_opts *o, au_result *r);
void au_result_free(au_result *r);

/* ---- reports (audit_report.c) ---- */
void au_report_table(const au_result *r, FILE *f, int per_tensor);
json_t *au_report_json(const au_result *r);
int au_report_html(const au_result *r, const char *path);
int au_fingerprint_write(au_source *a, int comp_mask, const char *path, int progress);

/* progress bar on stderr (audit_report.c) */
void au_progress(int on, double frac, const char *what);

#endif
