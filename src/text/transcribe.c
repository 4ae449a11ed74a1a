/* transcribe.c - builds the transcription instruction (see transcribe.h). */
#include "text/transcribe.h"

#include <stdio.h>

char *transcribe_instruction(const char *language, const char *context, char *out, size_t out_sz) {
    int n = snprintf(out, out_sz, "%s", TRANSCRIBE_INSTRUCTION);
    if (language && *language && n >= 0 && (size_t)n < out_sz)
        n += snprintf(out + n, out_sz - (size_t)n, " (언어: %s)", language);
    if (context && *context && n >= 0 && (size_t)n < out_sz)
        snprintf(out + n, out_sz - (size_t)n, "\n참고 문맥: %s", context);
    return out;
}
