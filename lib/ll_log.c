/* ll_log.c - see ll_log.h. */
#include "ll_log.h"

#include <stdio.h>

static void put_text(const char *s) {
    for (const char *p = s ? s : ""; *p; p++)
        fputc(*p == '"' || *p == '\\' || (unsigned char)*p < 0x20 ? '\'' : *p, stdout);
}

void ll_log_line(const char *level, const char *service, const char *msg, const char *account,
                 const char *detail) {
    fprintf(stdout, "{\"level\":\"%s\",\"service\":\"%s\",\"msg\":\"%s\"", level, service, msg);
    if (account != NULL) {
        fputs(",\"account_id\":\"", stdout);
        put_text(account);
        fputc('"', stdout);
    }
    fputs(",\"detail\":\"", stdout);
    put_text(detail);
    fputs("\"}\n", stdout);
    fflush(stdout);
}
