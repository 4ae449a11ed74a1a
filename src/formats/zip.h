/* zip.h - read-only ZIP archive reader (stored and deflated entries, ZIP64 sizes)
 * over a memory-mapped file or a caller's buffer. Used for TorchServe .mar
 * archives and PyTorch zip checkpoints (audio.md §9.1). Stored entries are
 * returned zero-copy (a pointer into the mapping); deflated ones are inflated
 * into a malloc'ed buffer with a size cap and a CRC check. Hostile input (bad
 * offsets, overlapping sizes, absolute or ".." names, zip bombs) is an error
 * naming the archive and the entry, never a crash. */
#ifndef OMNIC_FORMATS_ZIP_H
#define OMNIC_FORMATS_ZIP_H
#include <stddef.h>
#include <stdint.h>

#include "core/filemap.h"

typedef struct zip_entry {
    char *name;            /* NUL-terminated (names with NUL bytes are rejected) */
    uint16_t method;       /* 0 stored, 8 deflate */
    uint32_t crc;
    uint64_t csize, usize; /* compressed / uncompressed sizes */
    uint64_t lho;          /* offset of the local header */
} zip_entry;

typedef struct zip_archive {
    char name[256];        /* for error messages */
    const uint8_t *data;   /* the whole archive */
    size_t len;
    omnic_filemap fm;      /* the mapped file (zip_open; zeroed otherwise) */
    int n;
    zip_entry *e;
} zip_archive;

/* Largest inflated entry accepted (zip-bomb cap), bytes. */
#define ZIP_MAX_INFLATE ((uint64_t)8 << 30)

/* Map a file and read its central directory. */
int zip_open(const char *path, zip_archive *z);
/* Read an archive held in memory (not copied: buf must outlive z). */
int zip_open_mem(const uint8_t *buf, size_t len, const char *name, zip_archive *z);
void zip_close(zip_archive *z);

/* Index of the entry with exactly this name, or -1. */
int zip_find(const zip_archive *z, const char *name);
/* Index of the first entry whose name ends with suffix (after a slash or at the
 * start), or -1. */
int zip_find_suffix(const zip_archive *z, const char *suffix);

/* Contents of entry i in *data, *len; *owned is the malloc'ed buffer to free (NULL
 * when the entry is stored and the pointer is into the archive). */
int zip_read(const zip_archive *z, int i, const uint8_t **data, size_t *len, void **owned);

#endif
