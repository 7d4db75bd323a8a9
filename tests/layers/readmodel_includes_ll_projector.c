/* Layer probe: a file of readmodel/ that includes projector/ll_projector.h, a service above the
 * read model. The build must refuse it: each folder is compiled with the include paths of its own
 * floor and the floors below only (Makefile: INC_readmodel). */
#include "ll_projector.h"

int ll_layer_probe(void);
int ll_layer_probe(void) { return 0; }
