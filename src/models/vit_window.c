/* vit_window.c - the window order of the vision tower (vision.md §2.3 step 3):
 * per frame, windows of wm x wm merged tokens enumerated row-major over the
 * merged grid padded to a multiple of wm (empty windows dropped), tokens
 * row-major inside each window; the window and per-frame attention segments;
 * and each permuted patch row's position for the 2-D rotary. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "models/vit_internal.h"

void vit_layout_free(vit_layout *lay) {
    free(lay->win);
    free(lay->ph);
    free(lay->pw);
    free(lay->wseg);
    free(lay->fseg);
    memset(lay, 0, sizeof *lay);
}

int vit_layout_build(const int (*grids)[3], int n_media, int wm, vit_layout *lay) {
    memset(lay, 0, sizeof *lay);
    long long nm = 0, nw = 0, nf = 0;
    for (int i = 0; i < n_media; i++) {
        long long T = grids[i][0], Mh = grids[i][1] / 2, Mw = grids[i][2] / 2;
        nm += T * Mh * Mw;
        nw += T * ((Mh + wm - 1) / wm) * ((Mw + wm - 1) / wm);
        nf += T;
    }
    if (nm * 4 > (1 << 26)) return omnic_err(OMNIC_EINVAL, "vision encoder: %lld patches in one call is too many", nm * 4);
    lay->n_merged = (int)nm;
    lay->L = (int)nm * 4;
    lay->win = malloc((size_t)(nm ? nm : 1) * sizeof(int));
    lay->ph = malloc((size_t)(nm ? nm : 1) * 4 * sizeof(int));
    lay->pw = malloc((size_t)(nm ? nm : 1) * 4 * sizeof(int));
    lay->wseg = malloc((size_t)(nw + 1) * sizeof(int));
    lay->fseg = malloc((size_t)(nf + 1) * sizeof(int));
    if (!lay->win || !lay->ph || !lay->pw || !lay->wseg || !lay->fseg) {
        vit_layout_free(lay);
        return omnic_err(OMNIC_ENOMEM, "out of memory for the window layout");
    }
    int k = 0, base = 0; /* k: window position; base: first merged index of the frame */
    lay->wseg[0] = lay->fseg[0] = 0;
    for (int i = 0; i < n_media; i++) {
        int T = grids[i][0], Mh = grids[i][1] / 2, Mw = grids[i][2] / 2;
        for (int t = 0; t < T; t++, base += Mh * Mw) {
            for (int wr = 0; wr < Mh; wr += wm)
                for (int wc = 0; wc < Mw; wc += wm) {
                    for (int r = wr; r < wr + wm && r < Mh; r++)
                        for (int c = wc; c < wc + wm && c < Mw; c++) {
                            lay->win[k] = base + r * Mw + c;
                            for (int q = 0; q < 4; q++) {
                                lay->ph[4 * k + q] = 2 * r + (q >> 1);
                                lay->pw[4 * k + q] = 2 * c + (q & 1);
                            }
                            k++;
                        }
                    lay->wseg[++lay->n_wseg] = 4 * k;
                }
            lay->fseg[++lay->n_fseg] = 4 * (base + Mh * Mw);
            if (4 * Mh * Mw > lay->max_seg) lay->max_seg = 4 * Mh * Mw;
        }
    }
    return OMNIC_OK;
}
