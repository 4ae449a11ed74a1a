/* transcribe.h - the transcription instruction given to Omni-8B with an audio
 * part (`omnic transcribe`, POST /v1/audio/transcriptions). The model has no
 * dedicated ASR task token; the request is an ordinary user turn: the audio,
 * then this text, with reasoning skipped. */
#ifndef OMNIC_TEXT_TRANSCRIBE_H
#define OMNIC_TEXT_TRANSCRIBE_H
#include <stddef.h>

/* "Write down exactly what is said in this audio, without any explanation;
 * output only the transcript." (in Korean, the model's first language). */
#define TRANSCRIBE_INSTRUCTION "다음 음성을 들리는 그대로 정확하게 받아 적어 주세요. 설명 없이 전사한 텍스트만 출력하세요."

/* The instruction for a request: language (ISO-639-1, may be NULL/"") adds
 * "(language: xx)"; context (OpenAI's `prompt`: earlier text or spellings, may
 * be NULL/"") is appended as a hint. Returns out. */
char *transcribe_instruction(const char *language, const char *context, char *out, size_t out_sz);

#endif
