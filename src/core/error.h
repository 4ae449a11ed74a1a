/* error.h - thread-local error message and status codes shared by every layer. */
#ifndef OMNIC_CORE_ERROR_H
#define OMNIC_CORE_ERROR_H
#include "omnic.h"

/* Set the calling thread's error message (printf-style) and return code. */
int omnic_err(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void omnic_err_clear(void);

/* Verbosity for informational messages on stderr (0 quiet, 1 info, 2 debug). */
extern int omnic_log_level;
void omnic_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
