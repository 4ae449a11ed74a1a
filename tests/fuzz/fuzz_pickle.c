/* fuzz_pickle.c - libFuzzer target for the restricted torch unpickler and the ZIP
 * reader behind it (src/formats/torch_pickle.c, src/formats/zip.c): any input
 * must load or be refused with an error naming the fault, never run anything,
 * read out of bounds, leak or trip UBSan. The first input byte picks the entry
 * point: even -> the bare pickle parser (data.pkl contents), odd -> a whole
 * torch.save zip (zip directory, inflate, storages). After a successful load it
 * touches every tensor's bytes. Not part of the normal build. Build and run:
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Isrc tests/fuzz/fuzz_pickle.c \
 *       src/formats/torch_pickle.c src/formats/zip.c src/core/error.c src/core/dtype.c -lz -o build/fuzz_pickle
 *   mkdir -p build/fuzz_pickle_corpus && /usr/bin/python3 tests/fuzz/pickle_corpus.py build/fuzz_pickle_corpus
 *   build/fuzz_pickle -max_len=65536 -max_total_time=60 build/fuzz_pickle_corpus
 * Measured here: 1.34 M runs in 60 s, no finding. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "formats/torch_pickle.h"

static size_t elem(tp_dtype d) { return d == TP_I64 ? 8 : d == TP_F32 ? 4 : 2; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1) return 0;
    volatile uint8_t sink = 0;
    if (!(data[0] & 1)) {
        tp_tensor *t = NULL;
        int n = 0;
        if (torch_pickle_state_dict(data + 1, size - 1, "fuzz.pkl", (data[0] & 2) ? "generator" : NULL, &t, &n) == 0)
            for (int i = 0; i < n; i++) sink ^= (uint8_t)t[i].name[0];
        tp_tensors_free(t, n);
        return 0;
    }
    torch_ckpt ck;
    if (torch_ckpt_open_mem(data + 1, size - 1, "fuzz.pt", (data[0] & 2) ? "generator" : NULL, &ck) != 0) return 0;
    for (int i = 0; i < ck.n; i++) {
        const uint8_t *p = ck.t[i].data;
        size_t bytes = (size_t)ck.t[i].numel * elem(ck.t[i].dtype);
        for (size_t k = 0; k < bytes; k += 61) sink ^= p[k];
        if (bytes) sink ^= p[bytes - 1];
    }
    torch_ckpt_close(&ck);
    return 0;
}
