/* media_in.c - media content parts of a chat request (api.md 4.4-4.5): find
 * each part's bytes (data: URLs, base64 audio, local files below --media-dir,
 * http(s) only with --allow-remote-media), decide image / video / audio once,
 * rewrite the part so the template renders the same decision, and encode it
 * with the model's media encoders. */
#include "serve/media_in.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "serve/base64.h"

static const char *const video_ext[] = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".flv", ".wmv", ".m4v", NULL};

static int starts(const char *s, const char *p) { return !strncasecmp(s, p, strlen(p)); }

/* URL ends with a video extension (query string after the path ignored). */
static int url_is_video(const char *url) {
    size_t n = strcspn(url, "?#");
    for (const char *const *e = video_ext; *e; e++) {
        size_t k = strlen(*e);
        if (n >= k && !strncasecmp(url + n - k, *e, k)) return 1;
    }
    return 0;
}

/* Content sniffing: ISO-BMFF ftyp, Matroska/WebM EBML, RIFF AVI. */
static int bytes_are_video(const uint8_t *b, size_t n) {
    if (n >= 8 && !memcmp(b + 4, "ftyp", 4)) return 1;
    if (n >= 4 && b[0] == 0x1a && b[1] == 0x45 && b[2] == 0xdf && b[3] == 0xa3) return 1;
    if (n >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "AVI ", 4)) return 1;
    return 0;
}

typedef struct fetch_buf {
    uint8_t *p;
    size_t n, cap, max;
    int too_big;
} fetch_buf;

static size_t fetch_write(char *data, size_t sz, size_t nm, void *arg) {
    fetch_buf *f = arg;
    size_t k = sz * nm;
    if (f->n + k > f->max) {
        f->too_big = 1;
        return 0;
    }
    if (f->n + k > f->cap) {
        size_t nc = f->cap ? f->cap : 65536;
        while (nc < f->n + k) nc *= 2;
        uint8_t *np = realloc(f->p, nc);
        if (!np) return 0;
        f->p = np;
        f->cap = nc;
    }
    memcpy(f->p + f->n, data, k);
    f->n += k;
    return k;
}

static int fetch_remote(server *s, const char *url, const char *where, uint8_t **buf, size_t *len, char *ctype,
                        size_t ctype_sz, api_err *e) {
    if (!s->cfg.allow_remote_media)
        return api_errf(e, 400, "invalid_request_error", where,
                        "%s: remote media URLs are not fetched by this server (nothing leaves the machine); send the "
                        "media inline as a data: URL, or start the server with --allow-remote-media",
                        where);
    static int inited;
    if (!inited) {
        curl_global_init(CURL_GLOBAL_DEFAULT);
        inited = 1;
    }
    CURL *c = curl_easy_init();
    if (!c) return api_errf(e, 500, "InternalServerError", where, "cannot start a fetch");
    fetch_buf f = {.max = s->cfg.media_max_bytes};
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 10L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)(s->cfg.media_timeout_s * 1000));
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, fetch_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &f);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "omnic/" OMNIC_VERSION);
    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    char *ct = NULL;
    curl_easy_getinfo(c, CURLINFO_CONTENT_TYPE, &ct);
    if (ct) snprintf(ctype, ctype_sz, "%s", ct);
    curl_easy_cleanup(c);
    int ret = 0;
    if (f.too_big)
        ret = api_errf(e, 400, "invalid_request_error", where, "%s: %s is larger than the media limit (%zu bytes)", where,
                       url, s->cfg.media_max_bytes);
    else if (code == 404)
        ret = api_errf(e, 400, "BadRequestError", where, "some of media contents are not available: check expired");
    else if (rc != CURLE_OK || code >= 400)
        ret = api_errf(e, 400, "invalid_request_error", where, "%s: cannot fetch %s: %s", where, url,
                       rc != CURLE_OK ? curl_easy_strerror(rc) : "HTTP error status");
    if (ret) {
        free(f.p);
        return ret;
    }
    *buf = f.p ? f.p : malloc(1);
    *len = f.n;
    return 0;
}

/* A local path (or file:// URL), allowed only below --media-dir. */
static int read_local(server *s, const char *url, const char *where, uint8_t **buf, size_t *len, api_err *e) {
    const char *path = starts(url, "file://") ? url + 7 : url;
    if (!s->cfg.media_dir)
        return api_errf(e, 400, "invalid_request_error", where,
                        "%s: local media paths are refused unless the server runs with --media-dir (send a data: URL)",
                        where);
    char root[PATH_MAX], full[2 * PATH_MAX + 2], real[PATH_MAX];
    if (!realpath(s->cfg.media_dir, root))
        return api_errf(e, 500, "InternalServerError", where, "--media-dir %s: %s", s->cfg.media_dir, strerror(errno));
    if (strlen(path) + strlen(root) + 2 > PATH_MAX)
        return api_errf(e, 400, "invalid_request_error", where, "%s: path too long", where);
    if (path[0] == '/') snprintf(full, sizeof full, "%s", path);
    else snprintf(full, sizeof full, "%s/%s", root, path);
    size_t rl = strlen(root);
    if (!realpath(full, real) || strncmp(real, root, rl) || (real[rl] != '/' && real[rl] != 0))
        return api_errf(e, 400, "invalid_request_error", where, "%s: %s is not a file below the media directory", where,
                        path);
    FILE *f = fopen(real, "rb");
    struct stat st;
    if (!f || fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
        if (f) fclose(f);
        return api_errf(e, 400, "invalid_request_error", where, "%s: %s is not a readable file", where, path);
    }
    if ((size_t)st.st_size > s->cfg.media_max_bytes) {
        fclose(f);
        return api_errf(e, 400, "invalid_request_error", where, "%s: %s is larger than the media limit (%zu bytes)",
                        where, path, s->cfg.media_max_bytes);
    }
    uint8_t *b = malloc((size_t)st.st_size + 1);
    size_t n = b ? fread(b, 1, (size_t)st.st_size, f) : 0;
    fclose(f);
    if (!b || n != (size_t)st.st_size) {
        free(b);
        return api_errf(e, 500, "InternalServerError", where, "%s: cannot read %s", where, path);
    }
    *buf = b;
    *len = n;
    return 0;
}

/* data:<mime>[;base64],<payload> */
static int read_data_url(server *s, const char *url, const char *where, uint8_t **buf, size_t *len, char *mime,
                         size_t mime_sz, api_err *e) {
    const char *comma = strchr(url, ',');
    if (!comma) return api_errf(e, 400, "invalid_request_error", where, "%s: malformed data: URL (no comma)", where);
    const char *semi = memchr(url + 5, ';', (size_t)(comma - url - 5));
    size_t ml = (size_t)((semi ? semi : comma) - (url + 5));
    snprintf(mime, mime_sz, "%.*s", (int)(ml < mime_sz ? ml : mime_sz - 1), url + 5);
    int is_b64 = semi && strstr(semi, ";base64") && strstr(semi, ";base64") < comma;
    if (!is_b64) return api_errf(e, 400, "invalid_request_error", where, "%s: data: URLs must be base64-encoded", where);
    size_t plen = strlen(comma + 1);
    if (plen / 4 * 3 > s->cfg.media_max_bytes)
        return api_errf(e, 400, "invalid_request_error", where, "%s: inline media larger than the limit (%zu bytes)",
                        where, s->cfg.media_max_bytes);
    if (b64_decode(comma + 1, plen, buf, len))
        return api_errf(e, 400, "invalid_request_error", where, "%s: invalid base64 in the data: URL", where);
    return 0;
}

/* Bytes of an image_url / video_url URL. mime receives a data:/HTTP type if any. */
static int url_bytes(server *s, const char *url, const char *where, uint8_t **buf, size_t *len, char *mime,
                     size_t mime_sz, api_err *e) {
    mime[0] = 0;
    if (starts(url, "data:")) return read_data_url(s, url, where, buf, len, mime, mime_sz, e);
    if (starts(url, "http://") || starts(url, "https://")) return fetch_remote(s, url, where, buf, len, mime, mime_sz, e);
    if (starts(url, "s3://"))
        return api_errf(e, 400, "invalid_request_error", where, "%s: s3:// media is not supported by this server", where);
    return read_local(s, url, where, buf, len, e);
}

/* input_audio.data per the disambiguation rule of api.md 4.5. */
static int audio_bytes(server *s, const char *data, const char *where, uint8_t **buf, size_t *len, api_err *e) {
    char mime[64];
    if (starts(data, "http://") || starts(data, "https://") || starts(data, "file://") || starts(data, "s3://"))
        return url_bytes(s, data, where, buf, len, mime, sizeof mime, e);
    if (starts(data, "data:")) return read_data_url(s, data, where, buf, len, mime, sizeof mime, e);
    size_t dl = strlen(data);
    if (dl / 4 * 3 > s->cfg.media_max_bytes)
        return api_errf(e, 400, "invalid_request_error", where, "%s: inline audio larger than the limit (%zu bytes)",
                        where, s->cfg.media_max_bytes);
    uint8_t *b;
    size_t n;
    if (b64_decode(data, dl, &b, &n))
        return api_errf(e, 400, "invalid_request_error", where, "%s: not base64 audio data and not a URL", where);
    int text = n > 0 && n < 4096;
    for (size_t i = 0; text && i < n; i++) text = b[i] >= 0x20 && b[i] != 0x7f;
    if (text) {
        char *u = strndup((const char *)b, n);
        if (u && (starts(u, "http://") || starts(u, "https://") || starts(u, "file://") || starts(u, "s3://"))) {
            free(b);
            int rc = url_bytes(s, u, where, buf, len, mime, sizeof mime, e);
            free(u);
            return rc;
        }
        free(u);
    }
    *buf = b;
    *len = n;
    return 0;
}

static int encode_error(const char *where, int rc, api_err *e) {
    if (rc == OMNIC_ENOMEM) return api_errf(e, 500, "InternalServerError", where, "%s: out of memory", where);
    if (rc == OMNIC_EUNSUP)
        return api_errf(e, 400, "invalid_request_error", where, "%s: this model cannot take this media: %s", where,
                        omnic_errmsg());
    return api_errf(e, 400, "invalid_request_error", where, "%s: %s", where, omnic_errmsg());
}

int media_prepare(server *s, serve_model *m, json_t *messages, omnic_media ***out, int *n_out, uint8_t **last_audio,
                  size_t *last_len, api_err *e) {
    *out = NULL;
    *n_out = 0;
    uint8_t *la = NULL;
    size_t lal = 0;
    omnic_media **list = NULL;
    int n = 0, cap = 0;
    size_t i, k;
    json_t *msg, *part;
    json_array_foreach(messages, i, msg) {
        json_t *content = json_object_get(msg, "content");
        if (!json_is_array(content)) continue;
        for (k = 0; k < json_array_size(content); k++) {
            part = json_array_get(content, k);
            const char *type = json_string_value(json_object_get(part, "type"));
            if (!type || !strcmp(type, "text") || !strcmp(type, "file")) continue;
            if (!strcmp(type, "input_audio") && m->family == FAM_THINK32) { /* api.md 4.3: ignored */
                json_array_remove(content, k--);
                continue;
            }
            char where[96];
            snprintf(where, sizeof where, "messages[%zu].content[%zu]", i, k);
            uint8_t *buf = NULL;
            size_t len = 0;
            int kind, rc;
            if (!strcmp(type, "input_audio")) {
                const char *data = json_string_value(json_object_get(json_object_get(part, "input_audio"), "data"));
                rc = audio_bytes(s, data ? data : "", where, &buf, &len, e);
                kind = OMNIC_MEDIA_AUDIO;
            } else {
                const char *url = json_string_value(json_object_get(json_object_get(part, type), "url"));
                char mime[64];
                rc = url_bytes(s, url ? url : "", where, &buf, &len, mime, sizeof mime, e);
                if (!strcmp(type, "video_url")) kind = OMNIC_MEDIA_VIDEO;
                else if (starts(mime, "video/")) kind = OMNIC_MEDIA_VIDEO;
                else if (starts(mime, "image/")) kind = OMNIC_MEDIA_IMAGE;
                else if (url && !starts(url, "data:") && url_is_video(url)) kind = OMNIC_MEDIA_VIDEO;
                else kind = !rc && bytes_are_video(buf, len) ? OMNIC_MEDIA_VIDEO : OMNIC_MEDIA_IMAGE;
            }
            if (rc) goto fail;
            if (n == cap) {
                int nc = cap ? cap * 2 : 8;
                omnic_media **nl = realloc(list, (size_t)nc * sizeof *nl);
                if (!nl) {
                    free(buf);
                    api_errf(e, 500, "InternalServerError", NULL, "out of memory");
                    goto fail;
                }
                list = nl;
                cap = nc;
            }
            rc = omnic_media_encode(m->m, m->tok, kind, buf, len, where, &list[n]);
            if (!rc && kind == OMNIC_MEDIA_AUDIO) {
                free(la);
                la = buf;
                lal = len;
                buf = NULL;
            }
            free(buf);
            if (rc) {
                encode_error(where, rc, e);
                goto fail;
            }
            n++;
            /* the template tells videos from images by the URL ending: make it
             * see the decision taken here; inline payloads are not rendered */
            json_t *np = kind == OMNIC_MEDIA_AUDIO
                             ? json_pack("{s:s,s:{s:s,s:O?}}", "type", "input_audio", "input_audio", "data", "",
                                         "format", json_object_get(json_object_get(part, "input_audio"), "format"))
                             : json_pack("{s:s,s:{s:s}}", "type", kind == OMNIC_MEDIA_VIDEO ? "video_url" : "image_url",
                                         kind == OMNIC_MEDIA_VIDEO ? "video_url" : "image_url", "url",
                                         kind == OMNIC_MEDIA_VIDEO ? "video.mp4" : "image.jpg");
            if (!np || json_array_set_new(content, k, np)) {
                api_errf(e, 500, "InternalServerError", NULL, "out of memory");
                goto fail;
            }
        }
    }
    *out = list;
    *n_out = n;
    if (last_audio) {
        *last_audio = la;
        *last_len = lal;
    } else {
        free(la);
    }
    return 0;
fail:
    free(la);
    while (n > 0) omnic_media_free(list[--n]);
    free(list);
    return -1;
}
