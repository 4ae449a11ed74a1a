/* common.h - helpers shared by the subcommands: id lists, numbers, timing. */
#ifndef OMNIC_CLI_COMMON_H
#define OMNIC_CLI_COMMON_H
#include <stddef.h>
#include <stdint.h>

/* Parse "1,2,3" into a malloc'd array. Errors name the flag. Returns 0 on success. */
int cli_parse_ids(const char *flag, const char *csv, int32_t **ids, size_t *n);
/* Strict number parsing: the whole string must be a number in range. */
int cli_parse_int(const char *flag, const char *s, long lo, long hi, long *out);
int cli_parse_float(const char *flag, const char *s, double *out);
double cli_now_ms(void);
/* Print "omnic: <msg>" for the last library error and return exit code 1. */
int cli_fail(void);
/* --kv-type f32|f16|q8_0 -> OMNIC_KV_*; prints the error and returns nonzero if bad. */
int cli_parse_kv(const char *s, int *out);

#endif
