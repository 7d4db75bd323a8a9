/* ll_problem.c - see ll_problem.h. */
#include "ll_problem.h"

#include <jansson.h>
#include <stdio.h>

int ll_problem_render(char *out, size_t size, int status, const char *slug, const char *title,
                      const char *detail) {
    char type[160];
    snprintf(type, sizeof type, "%s%s", LL_PROBLEM_TYPE_BASE, slug);
    json_t *p = json_pack("{s:s, s:s, s:i, s:s}", "type", type, "title", title, "status", status, "detail",
                          detail ? detail : "");
    size_t n = p ? json_dumpb(p, out, size > 0 ? size - 1 : 0, JSON_COMPACT) : 0;
    json_decref(p);
    if (n == 0 || n >= size) {
        snprintf(out, size, "{\"status\":%d}", status);
        return -1;
    }
    out[n] = '\0';
    return (int)n;
}
