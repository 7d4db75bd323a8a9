/* Layer probe: a file of projector/ that includes api/ll_query_api.h, the query API, a neighbour
 * on the same floor. The build must refuse it: each folder is compiled with the include paths of
 * its own floor and the floors below only (Makefile: INC_projector). */
#include "ll_query_api.h"

int ll_layer_probe(void);
int ll_layer_probe(void) { return 0; }
