/* cmd_encode_audio.h - entry point of `omnic encode-audio` (to be registered in
 * commands.h / main.c: {"encode-audio", cmd_encode_audio, "..."}). */
#ifndef OMNIC_CLI_CMD_ENCODE_AUDIO_H
#define OMNIC_CLI_CMD_ENCODE_AUDIO_H

int cmd_encode_audio(int argc, char **argv);

#endif
