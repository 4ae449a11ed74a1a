/* npy.h - read and write NumPy .npy (format 1.0, little-endian, C order) arrays. */
#ifndef OMNIC_FORMATS_NPY_H
#define OMNIC_FORMATS_NPY_H
#include <stdint.h>

/* descr: "<f4" or "<i4". Writes to a temporary file and renames it into place so
 * a failed write never leaves a truncated array behind. */
int npy_write(const char *path, const char *descr, const void *data, int ndim, const int64_t *shape);

/* A .npy array read into memory. descr is normalised to "<f4", "<f8", "<i4",
 * "<i8", "|u1" (the only types accepted). */
typedef struct npy_array {
    char descr[8];
    int ndim;
    int64_t shape[8];
    int64_t n;          /* number of elements */
    void *data;         /* malloc'ed, n * element size bytes */
} npy_array;

/* Read a C-order little-endian .npy (version 1.0/2.0). Errors name the file and
 * what is wrong (dtype, fortran order, truncated data, header syntax). */
int npy_read(const char *path, npy_array *out);
void npy_free(npy_array *a);

#endif
