/* metrics.h - process-wide counters for GET /metrics (Prometheus text format). */
#ifndef OMNIC_SERVE_METRICS_H
#define OMNIC_SERVE_METRICS_H
#include "serve/sbuf.h"
#include "serve/serve.h"

void metrics_request(const char *route, int status, double total_ms);
/* One finished generation. finish: FIN_* of sched.h. */
void metrics_generation(int n_prompt, int n_reused, int n_gen, double ttft_ms, int finish);
void metrics_render(server *s, sbuf *out);

#endif
