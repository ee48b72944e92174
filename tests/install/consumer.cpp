// An outside C++ program linked against the installed axon: the headers are C++-clean.
#include <axon.h>

#include <cstdio>
#include <vector>

int main() {
    ax_ctx *ctx = nullptr;
    if (ax_ctx_create(AX_DEVICE_CPU, 0, &ctx) != AX_OK)
        return 1;
    std::vector<float> a = {1, 2, 3}, b = {4, 5, 6}, out(3);
    int64_t shape[1] = {3};
    ax_tensor *x = nullptr, *y = nullptr;
    if (ax_tensor_from_host(ctx, AX_F32, 1, shape, a.data(), &x) != AX_OK ||
        ax_tensor_from_host(ctx, AX_F32, 1, shape, b.data(), &y) != AX_OK ||
        ax_add(ctx, x, y, y) != AX_OK ||
        ax_tensor_to_host(y, out.data(), out.size() * sizeof(float)) != AX_OK) {
        std::fprintf(stderr, "%s\n", ax_last_error());
        return 1;
    }
    ax_tensor_destroy(x);
    ax_tensor_destroy(y);
    ax_ctx_destroy(ctx);
    if (out[0] != 5 || out[1] != 7 || out[2] != 9)
        return 1;
    std::printf("consumer (C++): ok\n");
    return 0;
}
