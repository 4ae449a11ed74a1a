/* media_store.c - serving stored media files (see media_store.h). Names are
 * checked strictly (no path components) and files older than the retention
 * time are treated as gone. */
#include "serve/media_store.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"

static const struct {
    const char *ext, *type;
} types[] = {{"png", "image/png"}, {"jpg", "image/jpeg"}, {"webp", "image/webp"}, {"wav", "audio/wav"},
             {"mp3", "audio/mpeg"}, {"flac", "audio/flac"}, {"ogg", "audio/ogg"}, {"opus", "audio/ogg"},
             {"aac", "audio/aac"}, {"pcm", "audio/L16"}};

int media_store_put(server *s, const void *data, size_t len, const char *ext, const char *host, char *url,
                    size_t url_sz) {
    if (!s->cfg.media_dir) return omnic_err(OMNIC_EINVAL, "no media store (--media-dir)");
    char hex[33], name[64], path[PATH_MAX], tmp[PATH_MAX + 16];
    serve_random_hex(hex);
    snprintf(name, sizeof name, "%s.%s", hex, ext ? ext : "bin");
    snprintf(path, sizeof path, "%s/%s", s->cfg.media_dir, name);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(data, 1, len, f) == len;
    ok = f && fclose(f) == 0 && ok;
    if (!ok || rename(tmp, path)) {
        unlink(tmp);
        return omnic_err(OMNIC_EIO, "%s: cannot write", path);
    }
    if (host && *host && !strpbrk(host, "/ \r\n\"")) snprintf(url, url_sz, "http://%s/media/%s", host, name);
    else snprintf(url, url_sz, "http://%s:%d/media/%s", s->cfg.host, s->cfg.port, name);
    return 0;
}

enum MHD_Result media_serve(http_req *r, const char *name) {
    const char *type = NULL;
    int ok = strlen(name) > 33 && name[32] == '.';
    for (int i = 0; ok && i < 32; i++) ok = (name[i] >= '0' && name[i] <= '9') || (name[i] >= 'a' && name[i] <= 'f');
    for (size_t i = 0; ok && !type && i < sizeof types / sizeof *types; i++)
        if (!strcmp(name + 33, types[i].ext)) type = types[i].type;
    if (!type) return http_errorf(r, 404, "NotFoundError", NULL, "Not Found: no media named '%.80s'", name);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", r->srv->cfg.media_dir, name);
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) || !S_ISREG(st.st_mode) || time(NULL) - st.st_mtime > MEDIA_RETENTION_S) {
        if (fd >= 0) close(fd);
        return http_errorf(r, 404, "NotFoundError", NULL, "Not Found: media '%s' does not exist or has expired", name);
    }
    struct MHD_Response *resp = MHD_create_response_from_fd((uint64_t)st.st_size, fd);
    if (!resp) { close(fd); return MHD_NO; }
    MHD_add_response_header(resp, "Content-Type", type);
    r->status = 200;
    enum MHD_Result rc = MHD_queue_response(r->conn, 200, resp);
    MHD_destroy_response(resp);
    return rc;
}
