/* model.c - omnic_model_open/close: config + memory-mapped safetensors + decoder
 * weights, and the pieces of the public API that describe a loaded model. */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "formats/hf_config.h"
#include "models/hcx.h"

int omnic_model_open(const char *dir, int n_threads, omnic_model **out) {
    *out = NULL;
    omnic_err_clear();
    struct stat sb;
    if (!dir || stat(dir, &sb) != 0) return omnic_err(OMNIC_EIO, "%s: no such model folder", dir ? dir : "(null)");
    int gguf = S_ISREG(sb.st_mode); /* a .gguf file (hcx_load_gguf.c) */
    if (!S_ISDIR(sb.st_mode) && !gguf)
        return omnic_err(OMNIC_EIO, "%s: not a folder (expected a Hugging Face model folder or a .gguf file)", dir);
    kernels_init();
    omnic_model *m = calloc(1, sizeof *m);
    if (!m) return omnic_err(OMNIC_ENOMEM, "out of memory");
    m->dir = strdup(dir);
    /* the workers exist before the weights load (the GGUF loader rearranges
     * quantized rows on them) */
    m->pool = omnic_pool_new(n_threads);
    int rc = !m->pool ? omnic_err(OMNIC_ENOMEM, "cannot start worker threads")
             : gguf  ? hcx_load_gguf(m, dir)
                     : hf_config_load(dir, &m->info, &m->config);
    if (!rc && !gguf) rc = st_open_dir(dir, OMNIC_MAP_RESIDENT, &m->st);
    if (!rc && !gguf) {
        m->info.n_files = m->st->n_files;
        rc = hcx_load_weights(m);
    }
    if (!rc) {
        char p[4096];
        snprintf(p, sizeof p, "%s/decoder", dir);
        m->info.has_decoders = stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
        m->info.n_threads = omnic_pool_size(m->pool);
    }
    if (rc) {
        omnic_model_close(m);
        return rc;
    }
    *out = m;
    return OMNIC_OK;
}

void omnic_model_close(omnic_model *m) {
    if (!m) return;
    mm_free(m);
    hcx_free_weights(m);
    hcx_gguf_free(m);
    omnic_pool_free(m->pool);
    st_close(m->st);
    json_decref(m->config);
    free(m->dir);
    free(m);
}

const omnic_model_info *omnic_model_get_info(const omnic_model *m) { return &m->info; }
