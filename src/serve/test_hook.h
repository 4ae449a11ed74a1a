/* test_hook.h - TEST ONLY: scripted generations. When the environment
 * variable OMNIC_TEST_SCRIPT names a JSON file {"NAME": "text", ...}, a
 * request whose "user" field is NAME generates exactly the tokens of that text
 * (special tokens parsed) followed by the model's first stop token, instead of
 * sampling. The model still runs every step. This exists so integration tests
 * can drive the reasoning / tool-call parsers end to end with random-weight
 * models; it is never enabled unless that variable is set. */
#ifndef OMNIC_SERVE_TEST_HOOK_H
#define OMNIC_SERVE_TEST_HOOK_H
#include <stdint.h>

#include "serve/serve.h"

/* Load $OMNIC_TEST_SCRIPT into s->test_scripts (no-op if unset). 0 or -1. */
int test_hook_load(server *s);
/* Tokens of script `name` for model m: 1 if found (*ids malloc'd), 0 if not. */
int test_hook_script(server *s, serve_model *m, const char *name, int32_t **ids, int *n);

#endif
