/* ll_log.h - one JSON log line on stdout, for the long-running processes. */
#ifndef LL_LOG_H
#define LL_LOG_H

/* Writes {"level","service","msg"[,"account_id"],"detail"} and flushes. level, service and msg
 * are constants of the caller; account (NULL: no field) and detail may carry outside input, so
 * quotes, backslashes and control bytes in them become ' and the line stays JSON. */
void ll_log_line(const char *level, const char *service, const char *msg, const char *account,
                 const char *detail);

#endif
