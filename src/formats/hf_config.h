/* hf_config.h - read a Hugging Face config.json: the LLM hyper-parameters of
 * standalone repos (top level) and unified multimodal repos (text_config). */
#ifndef OMNIC_FORMATS_HF_CONFIG_H
#define OMNIC_FORMATS_HF_CONFIG_H
#include <jansson.h>

#include "omnic.h"

/* Fill the config part of *info (sizes, multipliers, flags; post_norm is -1 when
 * the key is absent, to be decided from the tensors). *root receives the parsed
 * file (caller json_decref's it). Errors name config.json and the key. */
int hf_config_load(const char *dir, omnic_model_info *info, json_t **root);

#endif
