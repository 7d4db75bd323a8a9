/* ll_problem.h - RFC 9457 problem details (application/problem+json).
 * type is LL_PROBLEM_TYPE_BASE + a stable slug (docs/errors.md); detail never holds internals. */
#ifndef LL_PROBLEM_H
#define LL_PROBLEM_H

#include <stddef.h>

#define LL_PROBLEM_TYPE_BASE    "https://ledgerline.dev/problems/"
#define LL_PROBLEM_CONTENT_TYPE "application/problem+json"

/* Writes {"type","title","status","detail"} into out (NUL-terminated). Returns the length, or -1
 * when it does not fit (out then holds a minimal problem for the status). */
int ll_problem_render(char *out, size_t size, int status, const char *slug, const char *title,
                      const char *detail);

#endif
