/* models.h - loading the server's models (see models.c). */
#ifndef OMNIC_SERVE_MODELS_H
#define OMNIC_SERVE_MODELS_H
#include "serve/serve.h"

/* Open dir: weights, tokenizer, tables, ids and aliases. On failure the
 * partly filled *m must still be released with model_free. */
int model_load(serve_model *m, const char *dir, const serve_cfg *cfg);
void model_free(serve_model *m);
/* Add the id of a token string to the model's always-stop ids (if in the vocabulary). */
void model_add_stop_token(serve_model *m, const char *tok);
/* Remove it (tokens that must never stop this model's family). */
void model_remove_stop_token(serve_model *m, const char *tok);

#endif
