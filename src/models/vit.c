/* vit.c - STUB (to be replaced by the vision transformer). */
#include "models/vit.h"

#include "core/error.h"

int vit_load(omnic_model *m, vit_model **out) {
    (void)m; *out = NULL;
    return omnic_err(OMNIC_EUNSUP, "the vision encoder is not built yet");
}
void vit_free(vit_model *v) { (void)v; }
int vit_out_dim(const vit_model *v) { (void)v; return 0; }
int vit_encode(vit_model *v, omnic_pool *pool, const float *pixels, const int (*grids)[3],
               int n_media, float **out, int *n_rows) {
    (void)v; (void)pool; (void)pixels; (void)grids; (void)n_media; (void)out; (void)n_rows;
    return omnic_err(OMNIC_EUNSUP, "the vision encoder is not built yet");
}
