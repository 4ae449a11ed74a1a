/* filemap.h - a whole file in memory, read-only: either mmap'ed (pages shared
 * with the page cache, loaded on first touch) or, for model weights that fit in
 * RAM, copied once into anonymous memory backed by 2 MiB transparent huge pages.
 * The copy is what decode wants: a token streams every weight once, and the
 * hardware prefetchers and TLB reach the machine's read bandwidth on huge pages
 * but not on 4 KiB page-cache pages (bench/membw.c measures both).
 * OMNIC_MMAP=1 forces mmap everywhere, OMNIC_MMAP=0 forces the copy. */
#ifndef OMNIC_CORE_FILEMAP_H
#define OMNIC_CORE_FILEMAP_H
#include <stddef.h>

typedef enum {
    OMNIC_MAP_SHARED = 0,   /* mmap: for files read once (audit, hashing) */
    OMNIC_MAP_RESIDENT = 1, /* weights read every token: huge-page copy when it fits */
} omnic_map_mode;

typedef struct omnic_filemap {
    const void *data;  /* the file's bytes (NULL when size == 0) */
    size_t size;
    int resident;      /* 1: an anonymous copy, 0: an mmap of the file */
    void *base;        /* what to unmap */
    size_t len;
} omnic_filemap;

/* Returns OMNIC_OK or an error naming the file. A resident copy falls back to
 * mmap when the file is larger than RESIDENT_MAX_SHARE of the available memory. */
int omnic_filemap_open(const char *path, omnic_map_mode mode, omnic_filemap *out);
void omnic_filemap_close(omnic_filemap *m);
/* Make a resident copy writable (w = 1) or read-only again (w = 0), for a loader
 * that rearranges weights in place (the file is untouched). Returns 0, or -1
 * for an mmap'ed file or when mprotect fails. */
int omnic_filemap_writable(omnic_filemap *m, int w);

#endif
