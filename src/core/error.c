/* error.c - thread-local error message buffer (see omnic_errmsg) and logging. */
#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char errbuf[1024];
int omnic_log_level = 1;

const char *omnic_errmsg(void) { return errbuf; }

void omnic_err_clear(void) { errbuf[0] = 0; }

int omnic_err(int code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof errbuf, fmt, ap);
    va_end(ap);
    return code;
}

void omnic_log(int level, const char *fmt, ...) {
    if (level > omnic_log_level) return;
    va_list ap;
    va_start(ap, fmt);
    fputs("omnic: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}
