/* audio_chunks.c - chunking and row/code counts of the two audio paths
 * (audio.md §2.3, §3.3, §5.5). Every length formula uses floor division (P1). */
#include "media/audio_info.h"

#include "models/mel.h"

static int64_t floordiv(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

/* Length of the discrete chunk starting at s (tail rule). */
static int64_t s3_chunk_len(int64_t n, int64_t s) {
    int64_t len = n - s <= OMNIC_AUDIO_S3_CHUNK ? n - s : OMNIC_AUDIO_S3_CHUNK;
    if (n - (s + len) > 0 && n - (s + len) < OMNIC_AUDIO_S3_MIN_TAIL) len = n - s;
    return len;
}

int omnic_audio_s3_chunks(int64_t n, int64_t (*chunks)[2], int max) {
    int k = 0;
    for (int64_t s = 0; s < n;) {
        int64_t len = s3_chunk_len(n, s);
        if (k < max) { chunks[k][0] = s; chunks[k][1] = len; }
        k++;
        s += len;
    }
    return k;
}

int64_t omnic_audio_continuous_rows(int64_t n) {
    int64_t rows = 0;
    for (int64_t s = 0; s < n; s += MEL_WHISPER_SAMPLES) {
        int64_t len = n - s < MEL_WHISPER_SAMPLES ? n - s : MEL_WHISPER_SAMPLES;
        int64_t n_mel = (len + 159) / 160;
        int64_t l1 = floordiv(n_mel - 1, 2) + 1;
        rows += floordiv(l1 - 2, 2) + 1;
    }
    return rows;
}

int64_t omnic_audio_discrete_codes(int64_t n) {
    int64_t codes = 0;
    for (int64_t s = 0; s < n;) {
        int64_t len = s3_chunk_len(n, s);
        int64_t padded = len < 400 ? 400 : len; /* short chunks are zero-padded to 400 */
        int64_t t = padded / 160;
        int64_t t1 = floordiv(t - 1, 2) + 1;
        codes += floordiv(t1 - 1, 2) + 1;
        s += len;
    }
    return codes;
}
