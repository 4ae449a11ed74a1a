/* media_store.h - the local media store (api.md 15.1 "url" mode): generated
 * files live in --media-dir as <32 hex>.<ext> and are served at
 * GET /media/<name> until they expire. Writing comes with media generation. */
#ifndef OMNIC_SERVE_MEDIA_STORE_H
#define OMNIC_SERVE_MEDIA_STORE_H
#include "serve/http.h"

#define MEDIA_RETENTION_S 3600

/* Answer GET /media/{name}: the file with its Content-Type, or 404. */
enum MHD_Result media_serve(http_req *r, const char *name);

#endif
