/* tts_prompt.h - the text-to-speech instruction given to Omni-8B (`omnic speak`,
 * POST /v1/audio/speech). Like transcription, TTS is an ordinary user turn with
 * reasoning skipped; the model answers with speech units (audio.md §8.2). */
#ifndef OMNIC_TEXT_TTS_PROMPT_H
#define OMNIC_TEXT_TTS_PROMPT_H

/* "Read the following text aloud, exactly as written, in a natural voice." followed
 * by a newline and the text. */
#define TTS_INSTRUCTION "다음 글을 쓰인 그대로 자연스러운 목소리로 읽어 주세요."

#endif
