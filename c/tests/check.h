/* check.h: what every C unit test shares: a failure counter (atomic, as
 * some tests check from several threads), CHECK macros that name the file
 * and line of a failed check, and the closing report. */
#ifndef ISF_TESTS_CHECK_H
#define ISF_TESTS_CHECK_H

#include <stdatomic.h>
#include <stdio.h>

static atomic_int failures;

#define CHECK(cond)                                                        \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,         \
                    __LINE__, #cond);                                      \
            failures++;                                                    \
        }                                                                  \
    } while (0)

/* The same, showing the last core error e (a struct isf_error). */
#define CHECK_E(cond, e)                                                   \
    do {                                                                   \
        if (!(cond)) {                                                     \
            fprintf(stderr, "%s:%d: check failed: %s (last error %d: %s)\n", \
                    __FILE__, __LINE__, #cond, (e).code, (e).msg);         \
            failures++;                                                    \
        }                                                                  \
    } while (0)

/* A string literal as pointer and length. */
#define S(lit) lit, sizeof(lit) - 1

/* Prints the outcome; returns the process exit status. */
static inline int check_report(const char *name)
{
    int n = failures;

    if (n)
        fprintf(stderr, "%s: %d failure(s)\n", name, n);
    else
        printf("%s: all passed\n", name);
    return n != 0;
}

#endif
