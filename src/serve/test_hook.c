/* test_hook.c - TEST ONLY scripted generations (see test_hook.h). */
#include "serve/test_hook.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int test_hook_load(server *s) {
    const char *path = getenv("OMNIC_TEST_SCRIPT");
    if (!path || !*path) return 0;
    json_error_t je;
    s->test_scripts = json_load_file(path, 0, &je);
    if (!json_is_object(s->test_scripts)) {
        fprintf(stderr, "omnic serve: OMNIC_TEST_SCRIPT=%s: %s\n", path,
                s->test_scripts ? "not a JSON object" : je.text);
        json_decref(s->test_scripts);
        s->test_scripts = NULL;
        return -1;
    }
    fprintf(stderr, "omnic serve: TEST MODE: scripted generations from %s\n", path);
    return 0;
}

int test_hook_script(server *s, serve_model *m, const char *name, int32_t **ids, int *n) {
    *ids = NULL;
    *n = 0;
    if (!s->test_scripts || !name) return 0;
    json_t *t = json_object_get(s->test_scripts, name);
    if (!json_is_string(t)) return 0;
    size_t nn = 0;
    if (omnic_tokenize(m->tok, json_string_value(t), json_string_length(t), 1, ids, &nn)) return 0;
    *n = (int)nn;
    return 1;
}
