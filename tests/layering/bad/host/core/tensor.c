/* the layering test must reject this file: core includes ops */
#include "../ops/check.h"
