/* Layer probe: a file of api/ that includes services/ll_store.h, the command service, a neighbour
 * on the same floor. The build must refuse it: each folder is compiled with the include paths of
 * its own floor and the floors below only (Makefile: INC_api). */
#include "ll_store.h"

int ll_layer_probe(void);
int ll_layer_probe(void) { return 0; }
