/* tatok_opts.h - TA-Tok options beyond the fixed contract of tatok.h: the
 * OmniServe-like sampling mode (vision.md §4.4 tatok_sampling). */
#ifndef OMNIC_MODELS_TATOK_OPTS_H
#define OMNIC_MODELS_TATOK_OPTS_H
#include <stdint.h>

#include "models/tatok.h"

/* on = 0: argmax of the cosine similarity (the default; lowest index on ties).
 * on = 1: each code is drawn from softmax(s / stochastic_temperature), from a
 * stream determined by seed (same seed, same image -> same codes).
 * tatok_load also turns sampling on when the environment has
 * OMNIC_TATOK_SAMPLING=<seed>. */
void tatok_set_sampling(tatok_model *t, int on, uint64_t seed);

#endif
