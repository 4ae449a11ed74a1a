/* tatok.c - STUB (to be replaced by the TA-Tok tokenizer). */
#include "models/tatok.h"

#include "core/error.h"

int tatok_load(omnic_model *m, tatok_model **out) {
    (void)m; *out = NULL;
    return omnic_err(OMNIC_EUNSUP, "the TA-Tok image tokenizer is not built yet");
}
void tatok_free(tatok_model *t) { (void)t; }
int tatok_encode(tatok_model *t, omnic_pool *pool, const omnic_image *img, int32_t *codes) {
    (void)t; (void)pool; (void)img; (void)codes;
    return omnic_err(OMNIC_EUNSUP, "the TA-Tok image tokenizer is not built yet");
}
