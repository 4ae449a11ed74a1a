/* filemap.c - whole files in memory: mmap, or a copy on transparent huge pages
 * for weights (see filemap.h). */
#include "core/filemap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

#define HUGE_PAGE ((size_t)2 << 20)
/* A copy is made only when the file takes at most this share of MemAvailable:
 * anonymous memory cannot be paged back to the file, so a model that would crowd
 * out the KV cache or the rest of the system stays an mmap. */
#define RESIDENT_MAX_SHARE 0.6
/* Files below this size stay mmap'ed: too small for huge pages to matter. */
#define RESIDENT_MIN_SIZE HUGE_PAGE

/* MemAvailable from /proc/meminfo in bytes; 0 if unknown. */
static size_t mem_available(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) return 0;
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) break;
    fclose(f);
    return (size_t)kb * 1024;
}

static int want_copy(omnic_map_mode mode, size_t size) {
    const char *env = getenv("OMNIC_MMAP");
    if (env && !strcmp(env, "1")) return 0;
    if (mode != OMNIC_MAP_RESIDENT) return 0;
    if (env && !strcmp(env, "0")) return 1;
    if (size < RESIDENT_MIN_SIZE) return 0;
    size_t avail = mem_available();
    return avail > 0 && (double)size <= RESIDENT_MAX_SHARE * (double)avail;
}

/* Read the whole file into a huge-page-aligned anonymous mapping. Returns 1 on
 * success, 0 if memory could not be had (the caller then maps the file), -1 on a
 * read error (reported). */
static int copy_file(int fd, const char *path, size_t size, omnic_filemap *m) {
    size_t len = (size + HUGE_PAGE - 1) / HUGE_PAGE * HUGE_PAGE + HUGE_PAGE;
    char *raw = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (raw == MAP_FAILED) return 0;
    /* trim to a 2 MiB-aligned start so whole huge pages cover the data */
    char *start = (char *)(((uintptr_t)raw + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    size_t head = (size_t)(start - raw), body = len - HUGE_PAGE;
    if (head) munmap(raw, head);
    if (len - head > body) munmap(start + body, len - head - body);
    madvise(start, body, MADV_HUGEPAGE);
    size_t got = 0;
    while (got < size) {
        size_t want = size - got < ((size_t)1 << 30) ? size - got : ((size_t)1 << 30);
        ssize_t k = pread(fd, start + got, want, (off_t)got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            int e = k < 0 ? errno : 0;
            munmap(start, body);
            if (k == 0)
                omnic_err(OMNIC_EIO, "%s: file shrank while reading (%zu of %zu bytes)", path, got, size);
            else
                omnic_err(OMNIC_EIO, "%s: read failed: %s", path, strerror(e));
            return -1;
        }
        got += (size_t)k;
    }
    mprotect(start, body, PROT_READ);
    *m = (omnic_filemap){start, size, 1, start, body};
    return 1;
}

int omnic_filemap_open(const char *path, omnic_map_mode mode, omnic_filemap *out) {
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return omnic_err(OMNIC_EIO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return omnic_err(OMNIC_EIO, "%s: not a regular file", path);
    }
    size_t size = (size_t)st.st_size;
    if (size == 0) {
        close(fd);
        return OMNIC_OK;
    }
    if (want_copy(mode, size)) {
        int r = copy_file(fd, path, size, out);
        if (r != 0) {
            close(fd);
            return r > 0 ? OMNIC_OK : OMNIC_EIO;
        }
    }
    void *p = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (p == MAP_FAILED) return omnic_err(OMNIC_EIO, "%s: mmap failed: %s", path, strerror(errno));
    *out = (omnic_filemap){p, size, 0, p, size};
    return OMNIC_OK;
}

int omnic_filemap_writable(omnic_filemap *m, int w) {
    if (!m->resident || !m->base) return -1;
    return mprotect(m->base, m->len, w ? PROT_READ | PROT_WRITE : PROT_READ) == 0 ? 0 : -1;
}

void omnic_filemap_close(omnic_filemap *m) {
    if (m->base) munmap(m->base, m->len);
    memset(m, 0, sizeof *m);
}
