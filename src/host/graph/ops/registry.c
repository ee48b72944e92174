/* The table of graph ops (registry.h). */
#include "../graph_internal.h"

#define AX_GRAPH_OP_ENTRY(op) &ax_op_##op,
const ax_op_desc *const ax_graph_ops[] = {AX_GRAPH_OPS(AX_GRAPH_OP_ENTRY)};
#undef AX_GRAPH_OP_ENTRY

const int ax_graph_n_ops = (int)(sizeof ax_graph_ops / sizeof ax_graph_ops[0]);
