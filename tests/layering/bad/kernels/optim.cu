// the layering test must reject this file: a kernel includes the optimizers
#include "../host/optim/update.h"
