/* Layer probe: a file of domain/ that includes lib/ll_pg.h, infrastructure above the pure domain.
 * The build must refuse it: each folder is compiled with the include paths of its own floor and
 * the floors below only (Makefile: INC_domain). */
#include "ll_pg.h"

int ll_layer_probe(void);
int ll_layer_probe(void) { return 0; }
