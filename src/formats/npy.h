/* npy.h - write NumPy .npy (format 1.0, little-endian, C order) arrays. */
#ifndef OMNIC_FORMATS_NPY_H
#define OMNIC_FORMATS_NPY_H
#include <stdint.h>

/* descr: "<f4" or "<i4". Writes to a temporary file and renames it into place so
 * a failed write never leaves a truncated array behind. */
int npy_write(const char *path, const char *descr, const void *data, int ndim, const int64_t *shape);

#endif
