#include <axon.h>
#include <stdio.h>

int main(void) {
    ax_ctx *ctx;
    if (ax_ctx_create(AX_DEVICE_AUTO, 0, &ctx) != AX_OK) {   /* GPU if one works, else CPU */
        fprintf(stderr, "%s\n", ax_last_error());
        return 1;
    }
    int64_t xs[2] = {64, 784}, ws[2] = {256, 784}, bs[1] = {256}, ys[2] = {64, 256};
    ax_tensor *x, *w, *b, *y;
    ax_tensor_create(ctx, AX_F32, 2, xs, &x);
    ax_tensor_create(ctx, AX_F32, 2, ws, &w);
    ax_tensor_zeros(ctx, AX_F32, 1, bs, &b);
    ax_tensor_create(ctx, AX_F32, 2, ys, &y);
    ax_rng_uniform(ctx, x, 0.0f, 1.0f, /*seed*/ 1, /*offset*/ 0);
    ax_rng_normal(ctx, w, 0.0f, 0.05f, 2, 0);

    ax_status st = ax_dense_forward(ctx, x, w, b, y);          /* y = x W^T + b */
    if (st == AX_OK)
        st = ax_activation_forward(ctx, AX_ACT_RELU, 0.0f, y, y);
    if (st != AX_OK)   /* e.g. "ax_dense_forward: x has shape [64, 785], w has shape ..." */
        fprintf(stderr, "%s: %s\n", ax_status_str(st), ax_last_error());

    float out[64 * 256];
    ax_tensor_to_host(y, out, sizeof out);
    ax_tensor_destroy(x); ax_tensor_destroy(w); ax_tensor_destroy(b); ax_tensor_destroy(y);
    ax_ctx_destroy(ctx);
    return st != AX_OK;
}
