/* ll_openapi.h - api/openapi.yaml, embedded at build time (tools/embed_text.sh) so both HTTP
 * services serve the exact contract they were built with at GET /openapi.yaml. */
#ifndef LL_OPENAPI_H
#define LL_OPENAPI_H

extern const char ll_openapi_yaml[];

#endif
