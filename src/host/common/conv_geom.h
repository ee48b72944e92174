/* The geometry of one 2-D convolution as the backends receive it: every size already checked
 * by the entry point (src/host/ops/conv.c), so all are >= 1 (pads >= 0) and every product of
 * sizes that indexes a tensor fits in int64. Shared by the CPU reference and the CUDA kernels. */
#ifndef AX_CONV_GEOM_H
#define AX_CONV_GEOM_H

#include <stdint.h>

struct ax_conv2d_geom {
    int64_t n;              /* batch */
    int64_t c, h, w;        /* input channels and size: x [n, c, h, w] */
    int64_t k;              /* output channels: w [k, c / groups, r, s] */
    int64_t r, s;           /* kernel height and width */
    int64_t oh, ow;         /* output size: y [n, k, oh, ow] */
    int64_t stride_h, stride_w;
    int64_t pad_top, pad_left; /* bottom/right padding only shape oh/ow */
    int64_t dil_h, dil_w;
    int64_t groups;
    int64_t cg, kg;         /* c / groups, k / groups */
};

#endif
