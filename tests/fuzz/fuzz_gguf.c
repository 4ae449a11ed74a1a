/* fuzz_gguf.c - libFuzzer target for the GGUF reader (src/formats/gguf.c): any
 * input must parse or be refused with an error, never read out of bounds, leak
 * or trip UBSan. After a successful parse it touches every tensor's bytes and
 * every string so that a bad offset would show up under ASan.
 * Not part of the normal build. Build and run (from the repo root):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc \
 *       tests/fuzz/fuzz_gguf.c src/formats/gguf.c src/core/error.c src/core/dtype.c \
 *       -o build/fuzz_gguf
 *   mkdir -p build/fuzz_corpus && build/omnic quantize -m ../shared/golden/hcx-tiny/model \
 *       -o build/fuzz_corpus/tiny.gguf --type q8_0 --quiet
 *   build/fuzz_gguf -max_len=65536 -max_total_time=60 build/fuzz_corpus
 * (apt-get install clang if needed.) */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "formats/gguf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    gguf_file *f = NULL;
    if (gguf_parse_mem(data, size, "fuzz.gguf", &f) != 0) return 0;
    volatile uint8_t sink = 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        const uint8_t *p = t->data;
        for (uint64_t k = 0; k < t->nbytes; k += 61) sink ^= p[k];
        if (t->nbytes) sink ^= p[t->nbytes - 1];
        if (gguf_find_tensor(f, t->name) == NULL) __builtin_trap();
    }
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const gguf_kv *kv = &f->kv[i];
        if (kv->type == GGUF_T_STR && kv->s.n) sink ^= (uint8_t)kv->s.p[kv->s.n - 1];
        if (kv->strs)
            for (uint64_t k = 0; k < kv->n; k++)
                if (kv->strs[k].n) sink ^= (uint8_t)kv->strs[k].p[kv->strs[k].n - 1];
        int64_t v;
        double d;
        char buf[16];
        gguf_get_int(f, kv->key, &v);
        gguf_get_float(f, kv->key, &d);
        gguf_get_str(f, kv->key, buf, sizeof buf);
    }
    (void)sink;
    gguf_close(f);
    return 0;
}
