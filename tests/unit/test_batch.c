/* test_batch.c - batched decode across sequences (omnic_eval_batch) gives the
 * same logits as decoding each sequence alone, on the golden hcx-small model. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "omnic.h"

#define MODEL "../shared/golden/hcx-small/model"
#define NSEQ 3
#define STEPS 4

static void test_batch_matches_single(void **state) {
    (void)state;
    omnic_model *m;
    assert_int_equal(omnic_model_open(MODEL, 2, &m), 0);
    int V = omnic_model_get_info(m)->vocab_size;
    static const int32_t prompts[NSEQ][9] = {{5, 17, 300, 41, 9, 0, 0, 0, 0}, {700, 3, 0, 0, 0, 0, 0, 0, 0},
                                             {11, 12, 13, 14, 15, 16, 17, 18, 19}};
    static const int plen[NSEQ] = {5, 2, 9};
    static const int32_t next[STEPS][NSEQ] = {{1, 2, 3}, {100, 200, 300}, {4, 4, 4}, {767, 0, 500}};
    float *ref = malloc(sizeof(float) * V * NSEQ * STEPS), *got = malloc(sizeof(float) * V * NSEQ);
    omnic_ctx *c[NSEQ];
    for (int s = 0; s < NSEQ; s++) { /* reference: each sequence alone */
        assert_int_equal(omnic_ctx_new(m, 64, &c[s]), 0);
        assert_int_equal(omnic_eval(c[s], prompts[s], plen[s], NULL, 0), 0);
        for (int k = 0; k < STEPS; k++)
            assert_int_equal(omnic_eval(c[s], &next[k][s], 1, ref + ((size_t)k * NSEQ + s) * V, 0), 0);
        omnic_ctx_reset(c[s]);
        assert_int_equal(omnic_eval(c[s], prompts[s], plen[s], NULL, 0), 0);
    }
    double worst = 0, maxabs = 0;
    for (int k = 0; k < STEPS; k++) {
        assert_int_equal(omnic_eval_batch(c, next[k], NSEQ, got), 0);
        for (int i = 0; i < NSEQ * V; i++) {
            double r = ref[(size_t)k * NSEQ * V + i];
            if (fabs(got[i] - r) > worst) worst = fabs(got[i] - r);
            if (fabs(r) > maxabs) maxabs = fabs(r);
        }
    }
    assert_true(maxabs > 0.1);
    assert_true(worst <= 1e-5 * maxabs);
    for (int s = 0; s < NSEQ; s++) assert_int_equal(omnic_ctx_pos(c[s]), plen[s] + STEPS);
    /* the same context twice in one step is refused */
    omnic_ctx *dup[2] = {c[0], c[0]};
    int32_t ids[2] = {1, 2};
    assert_int_equal(omnic_eval_batch(dup, ids, 2, got), OMNIC_EINVAL);
    for (int s = 0; s < NSEQ; s++) omnic_ctx_free(c[s]);
    free(ref);
    free(got);
    omnic_model_close(m);
}

static void test_bad_ids_rejected(void **state) {
    (void)state;
    omnic_model *m;
    assert_int_equal(omnic_model_open(MODEL, 1, &m), 0);
    omnic_ctx *c;
    assert_int_equal(omnic_ctx_new(m, 4, &c), 0);
    int32_t bad = 100000;
    assert_int_equal(omnic_eval(c, &bad, 1, NULL, 0), OMNIC_EINVAL);
    int32_t ok[5] = {1, 2, 3, 4, 5};
    assert_int_equal(omnic_eval(c, ok, 5, NULL, 0), OMNIC_EINVAL); /* > n_ctx */
    assert_int_equal(omnic_ctx_pos(c), 0);
    omnic_ctx_free(c);
    omnic_model_close(m);
}

/* Truncating to a shared prefix and evaluating the rest equals a fresh run. */
static void test_truncate_reuses_prefix(void **state) {
    (void)state;
    omnic_model *m;
    assert_int_equal(omnic_model_open(MODEL, 2, &m), 0);
    int V = omnic_model_get_info(m)->vocab_size;
    static const int32_t a[10] = {5, 6, 7, 8, 9, 100, 200, 300, 400, 500};
    static const int32_t b[8] = {5, 6, 7, 8, 9, 42, 43, 44};
    float *ref = malloc(sizeof(float) * V), *got = malloc(sizeof(float) * V);
    omnic_ctx *c;
    assert_int_equal(omnic_ctx_new(m, 32, &c), 0);
    assert_int_equal(omnic_eval(c, b, 8, ref, 0), 0);
    omnic_ctx_reset(c);
    assert_int_equal(omnic_eval(c, a, 10, got, 0), 0);
    assert_int_equal(omnic_ctx_truncate(c, 11), OMNIC_EINVAL);
    assert_int_equal(omnic_ctx_truncate(c, 5), 0);
    assert_int_equal(omnic_ctx_pos(c), 5);
    assert_int_equal(omnic_eval(c, b + 5, 3, got, 0), 0);
    double worst = 0;
    for (int i = 0; i < V; i++)
        if (fabs(got[i] - ref[i]) > worst) worst = fabs(got[i] - ref[i]);
    assert_true(worst < 1e-5);
    omnic_ctx_free(c);
    free(ref);
    free(got);
    omnic_model_close(m);
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_batch_matches_single), cmocka_unit_test(test_bad_ids_rejected),
                                       cmocka_unit_test(test_truncate_reuses_prefix)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
