/* npy.c - .npy writer (the conformance interfaces write their outputs with it). */
#include "formats/npy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"

int npy_write(const char *path, const char *descr, const void *data, int ndim, const int64_t *shape) {
    char hdr[512], dims[256] = "";
    size_t n = 1, dl = 0;
    for (int i = 0; i < ndim; i++) {
        dl += (size_t)snprintf(dims + dl, sizeof dims - dl, "%lld%s", (long long)shape[i], ndim == 1 ? "," : (i + 1 < ndim ? ", " : ""));
        if (dl >= sizeof dims) return omnic_err(OMNIC_EINVAL, "npy: too many dimensions");
        n *= (size_t)shape[i];
    }
    int hl = snprintf(hdr, sizeof hdr, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, dims);
    int total = 10 + hl + 1;
    int pad = (64 - total % 64) % 64;
    if (hl + pad + 1 >= (int)sizeof hdr) return omnic_err(OMNIC_EINVAL, "npy: header too long");
    memset(hdr + hl, ' ', (size_t)pad);
    hdr[hl + pad] = '\n';
    uint16_t hlen = (uint16_t)(hl + pad + 1);
    size_t esz = descr[2] == '8' ? 8 : descr[2] == '2' ? 2 : descr[2] == '1' ? 1 : 4;

    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return omnic_err(OMNIC_EIO, "%s: cannot create: %s", path, strerror(errno));
    unsigned char magic[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (unsigned char)(hlen & 0xff), (unsigned char)(hlen >> 8)};
    int ok = fwrite(magic, 1, 10, f) == 10 && fwrite(hdr, 1, hlen, f) == hlen && (n == 0 || fwrite(data, esz, n, f) == n);
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        int e = errno;
        unlink(tmp);
        return omnic_err(OMNIC_EIO, "%s: write failed: %s", path, strerror(e));
    }
    return OMNIC_OK;
}
