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

static const struct {
    const char *ext, *type;
} types[] = {{"png", "image/png"}, {"jpg", "image/jpeg"}, {"webp", "image/webp"}, {"wav", "audio/wav"},
             {"mp3", "audio/mpeg"}, {"flac", "audio/flac"}, {"ogg", "audio/ogg"}, {"aac", "audio/aac"},
             {"pcm", "audio/L16"}};

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
