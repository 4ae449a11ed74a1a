/* media_store.h - the local media store (api.md 15.1 "url" mode): generated
 * files live in --media-dir as <32 hex>.<ext> and are served at
 * GET /media/<name> until they expire. Writing comes with media generation. */
#ifndef OMNIC_SERVE_MEDIA_STORE_H
#define OMNIC_SERVE_MEDIA_STORE_H
#include "serve/http.h"

#define MEDIA_RETENTION_S 3600

/* Store bytes as <32 hex>.<ext> in --media-dir (written to a temporary name and
 * renamed) and give its absolute URL: http://<host>/media/<name> (host: the
 * request's Host header, else the listen address). 0 or an OMNIC_* error. */
int media_store_put(server *s, const void *data, size_t len, const char *ext, const char *host, char *url,
                    size_t url_sz);

/* Answer GET /media/{name}: the file with its Content-Type, or 404. */
enum MHD_Result media_serve(http_req *r, const char *name);

#endif
