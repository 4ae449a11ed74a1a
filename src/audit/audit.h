/* audit.h - checkpoint provenance audit (`omnic audit`) and content manifests
 * (`omnic hash`): the public entry points of src/audit/. */
#ifndef OMNIC_AUDIT_AUDIT_H
#define OMNIC_AUDIT_AUDIT_H
#include <stdint.h>
#include <stdio.h>

/* SHA-256 over the tensors of a model (HF folder or .gguf file): the digest of
 * the sorted lines "name\tdtype\tshape\tsha256(bytes)\n", one per tensor, so it
 * depends on the stored weights only (not on the path, sharding or file order).
 * out_hex receives 64 lowercase hex digits + NUL. Returns 0 or an OMNIC_* error. */
int audit_manifest_digest(const char *model_path, char out_hex[65]);

/* Print the full manifest (per file, per tensor, the digest) of a model to f;
 * json != 0: as one JSON object. Returns 0 or an OMNIC_* error. */
int audit_manifest_print(const char *model_path, FILE *f, int json, int progress);

#endif
