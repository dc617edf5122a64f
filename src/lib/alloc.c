/*
 * alloc.c -- the one door to the heap (STYLE.md 14).  Every allocation in
 * the library goes through sg__malloc & co, so a test build can make the Nth
 * allocation fail (sg__alloc_fail_after) and check that the caller returns
 * SG_ENOMEM cleanly and leaks nothing.  Also owns sg_assert's failure path.
 */
#include "sg_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static long fail_countdown = -1; /* < 0: never fail */

static bool should_fail(void) {
    if (fail_countdown < 0) return false;
    if (fail_countdown == 0) return true;
    fail_countdown--;
    return false;
}

void sg__alloc_fail_after(long n) { fail_countdown = n; }

void *sg__malloc(size_t n) { return should_fail() ? NULL : malloc(n ? n : 1); }

void *sg__calloc(size_t n, size_t size) {
    return should_fail() ? NULL : calloc(n ? n : 1, size ? size : 1);
}

void *sg__realloc(void *p, size_t n) {
    return should_fail() ? NULL : realloc(p, n ? n : 1);
}

void sg__free(void *p) { free(p); }

/* 2 MiB: the x86-64 (and arm64 4K-granule) transparent huge page size. */
#define HUGE_PAGE ((size_t)2 << 20)

void *sg__calloc_huge(size_t n) {
    if (should_fail()) return NULL;
    if (n < HUGE_PAGE) return calloc(n ? n : 1, 1);
    size_t bytes = (n + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    void *p = aligned_alloc(HUGE_PAGE, bytes);
    if (!p) return NULL;
#ifdef MADV_HUGEPAGE
    (void)madvise(p, bytes, MADV_HUGEPAGE); /* a hint: failure is harmless */
#endif
    memset(p, 0, bytes); /* first touch, after the hint: huge pages */
    return p;
}

char *sg__strndup(const char *s, size_t n) {
    char *d = sg__malloc(n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *sg__strdup(const char *s) { return s ? sg__strndup(s, strlen(s)) : NULL; }

void sg__assert_fail(const char *expr, const char *file, int line) {
    fprintf(stderr, "spimguard: assertion failed: %s (%s:%d)\n", expr, file,
            line);
    abort();
}
