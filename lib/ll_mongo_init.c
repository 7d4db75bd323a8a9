/* ll_mongo_init.c - see ll_mongo_init.h. */
#include "ll_mongo_init.h"

#include <mongoc/mongoc.h>
#include <stdlib.h>

void ll_mongo_init(void) {
    setenv("MONGOC_DISABLE_SHM", "1", 0); /* an operator's own setting wins */
    mongoc_init();
}
