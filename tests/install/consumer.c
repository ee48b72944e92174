/* An outside C program linked against the installed axon. */
#include <stdio.h>

#include <axon.h>

int main(void) {
    ax_ctx *ctx = NULL;
    if (ax_ctx_create(AX_DEVICE_CPU, 0, &ctx) != AX_OK) {
        fprintf(stderr, "%s\n", ax_last_error());
        return 1;
    }
    int64_t shape[1] = {3};
    float a[3] = {1, 2, 3}, out[3];
    ax_tensor *x = NULL;
    if (ax_tensor_from_host(ctx, AX_F32, 1, shape, a, &x) != AX_OK ||
        ax_scale(ctx, 2.0f, x, x) != AX_OK || ax_tensor_to_host(x, out, sizeof out) != AX_OK) {
        fprintf(stderr, "%s\n", ax_last_error());
        return 1;
    }
    ax_tensor_destroy(x);
    ax_ctx_destroy(ctx);
    if (out[0] != 2 || out[1] != 4 || out[2] != 6)
        return 1;
    printf("consumer (C): ok\n");
    return 0;
}
