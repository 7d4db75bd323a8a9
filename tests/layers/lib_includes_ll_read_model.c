/* Layer probe: a file of lib/ that includes readmodel/ll_read_model.h, an adapter above lib. The
 * build must refuse it: each folder is compiled with the include paths of its own floor and the
 * floors below only (Makefile: INC_lib). */
#include "ll_read_model.h"

int ll_layer_probe(void);
int ll_layer_probe(void) { return 0; }
