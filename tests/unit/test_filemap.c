/* test_filemap.c - whole-file mapping (src/core/filemap.c): the huge-page copy
 * and the mmap give the same bytes, OMNIC_MMAP picks the strategy, small files
 * and non-resident modes stay mmap'ed, and bad paths are named in the error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/error.h"
#include "core/filemap.h"
#include "omnic.h"

static char path[256];

/* A file of n pseudo-random bytes (a size that is not a multiple of any page). */
static unsigned char *make_file(size_t n) {
    unsigned char *b = malloc(n);
    uint32_t s = 12345;
    for (size_t i = 0; i < n; i++) b[i] = (unsigned char)((s = s * 1103515245u + 12345u) >> 16);
    snprintf(path, sizeof path, "/tmp/omnic-filemap-%d.bin", (int)getpid());
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b, 1, n, f), n);
    fclose(f);
    return b;
}

static void check(omnic_map_mode mode, const char *env, int want_resident, const unsigned char *ref, size_t n) {
    if (env) setenv("OMNIC_MMAP", env, 1); else unsetenv("OMNIC_MMAP");
    omnic_filemap m;
    assert_int_equal(omnic_filemap_open(path, mode, &m), OMNIC_OK);
    assert_int_equal(m.size, n);
    assert_int_equal(m.resident, want_resident);
    assert_memory_equal(m.data, ref, n);
    if (m.resident) assert_int_equal((uintptr_t)m.data % ((uintptr_t)2 << 20), 0);
    omnic_filemap_close(&m);
    assert_null(m.base);
}

static void test_modes(void **state) {
    (void)state;
    size_t n = ((size_t)5 << 20) + 12345; /* 5 MiB + a tail: above the copy threshold */
    unsigned char *ref = make_file(n);
    check(OMNIC_MAP_RESIDENT, "0", 1, ref, n); /* forced copy */
    check(OMNIC_MAP_RESIDENT, "1", 0, ref, n); /* forced mmap */
    check(OMNIC_MAP_SHARED, "0", 0, ref, n);   /* shared mode never copies... */
    check(OMNIC_MAP_SHARED, NULL, 0, ref, n);
    check(OMNIC_MAP_RESIDENT, NULL, 1, ref, n); /* default: copy when it fits (it does here) */
    unlink(path);
    free(ref);
    ref = make_file(1000); /* small: stays mmap'ed by default */
    check(OMNIC_MAP_RESIDENT, NULL, 0, ref, 1000);
    check(OMNIC_MAP_RESIDENT, "0", 1, ref, 1000);
    unlink(path);
    free(ref);
    unsetenv("OMNIC_MMAP");
}

static void test_empty_and_errors(void **state) {
    (void)state;
    unsigned char *ref = make_file(0);
    omnic_filemap m;
    setenv("OMNIC_MMAP", "0", 1);
    assert_int_equal(omnic_filemap_open(path, OMNIC_MAP_RESIDENT, &m), OMNIC_OK);
    assert_int_equal(m.size, 0);
    assert_null(m.data);
    omnic_filemap_close(&m);
    unlink(path);
    free(ref);
    assert_int_equal(omnic_filemap_open("/nonexistent/omnic.bin", OMNIC_MAP_RESIDENT, &m), OMNIC_EIO);
    assert_non_null(strstr(omnic_errmsg(), "/nonexistent/omnic.bin"));
    assert_int_equal(omnic_filemap_open("/tmp", OMNIC_MAP_RESIDENT, &m), OMNIC_EIO);
    assert_non_null(strstr(omnic_errmsg(), "not a regular file"));
    unsetenv("OMNIC_MMAP");
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_modes), cmocka_unit_test(test_empty_and_errors)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
