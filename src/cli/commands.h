/* commands.h - one function per `omnic` subcommand (one file each in src/cli/). */
#ifndef OMNIC_CLI_COMMANDS_H
#define OMNIC_CLI_COMMANDS_H

/* argv[0] is the subcommand name; return the process exit code. */
int cmd_info(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_logits(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_detokenize(int argc, char **argv);
int cmd_bench(int argc, char **argv);
int cmd_perplexity(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_render_chat(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_image(int argc, char **argv);
int cmd_transcribe(int argc, char **argv);
int cmd_speak(int argc, char **argv);
int cmd_vocode(int argc, char **argv);
int cmd_voices(int argc, char **argv);
int cmd_video(int argc, char **argv);
int cmd_audio(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_hash(int argc, char **argv);

#endif
