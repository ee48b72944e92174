/* the layering test must reject this file: a backend includes the graph through -I src */
#include "host/graph/graph_internal.h"
