/* Work runs on its context's device, and error messages wrap safely.
 *
 * The CUDA runtime's current device is per host thread: an application that calls
 * cudaSetDevice, or a second context on another GPU, changes it under a context. Every entry
 * of the backend therefore enters its context's device first. On the CPU this is shown with a
 * copy of the CPU table whose `enter` counts its calls: every op must enter before it
 * dispatches. On a machine with two GPUs the real thing runs. */
#include <string.h>

#include "helpers.h"
#include "host/backend.h"

static _Thread_local int enters;
static _Thread_local const ax_ctx *entered_ctx;

static ax_status counting_enter(const ax_ctx *ctx, const char *fn) {
    (void)fn;
    enters++;
    entered_ctx = ctx;
    return AX_OK;
}

static ax_status failing_enter(const ax_ctx *ctx, const char *fn) {
    (void)ctx;
    return ax_fail(AX_ERR_CUDA, fn, "cudaSetDevice: invalid device ordinal");
}

/* Each call must enter ctx's device exactly before it queues work (at least once). */
#define ASSERT_ENTERS(ctx, expr)                                                               \
    do {                                                                                       \
        enters = 0;                                                                            \
        entered_ctx = NULL;                                                                    \
        AX_ASSERT_OK(expr);                                                                    \
        cr_assert(enters >= 1, "%s did not enter its context's device", #expr);               \
        cr_assert(entered_ctx == (ctx), "%s entered another context", #expr);                 \
    } while (0)

Test(device, every_op_enters_its_context_device) {
    ax_ctx *ctx = th_cpu_ctx();
    struct ax_backend counting = ax_cpu_backend;
    counting.enter = counting_enter;
    const struct ax_backend *saved = ctx->backend;
    ctx->backend = &counting;

    float xs[12], ws[12];
    th_random(xs, 12, 1, -1, 1);
    th_random(ws, 12, 2, -1, 1);
    ax_tensor *x = th_tensor(ctx, 2, (int64_t[]){3, 4}, xs);
    ax_tensor *w = th_tensor(ctx, 2, (int64_t[]){3, 4}, ws);
    ax_tensor *y = th_nan_tensor(ctx, 2, (int64_t[]){3, 4});
    ax_tensor *d = th_nan_tensor(ctx, 2, (int64_t[]){3, 3});
    ax_tensor *s = th_nan_tensor(ctx, 0, NULL);
    ax_tensor *labels = th_tensor_i32(ctx, 1, (int64_t[]){3}, (int32_t[]){0, 3, 1});

    ASSERT_ENTERS(ctx, ax_fill(ctx, y, 1.0f));
    ASSERT_ENTERS(ctx, ax_add(ctx, x, w, y));
    ASSERT_ENTERS(ctx, ax_mul(ctx, x, w, y));
    ASSERT_ENTERS(ctx, ax_scale(ctx, 2.0f, x, y));
    ASSERT_ENTERS(ctx, ax_rng_uniform(ctx, y, 0, 1, 3, 0));
    ASSERT_ENTERS(ctx, ax_dense_forward(ctx, x, w, NULL, d));
    ASSERT_ENTERS(ctx, ax_activation_forward(ctx, AX_ACT_TANH, 0, x, y));
    ASSERT_ENTERS(ctx, ax_softmax_forward(ctx, x, y));
    ASSERT_ENTERS(ctx, ax_sum_squares(ctx, x, 0, s));
    ASSERT_ENTERS(ctx, ax_cross_entropy_forward(ctx, x, labels, AX_REDUCE_MEAN, s));
    ASSERT_ENTERS(ctx, ax_dropout_forward(ctx, 0.5f, 7, 0, x, y));

    /* a failure to enter is the op's failure, reported before any work is queued */
    ctx->backend = saved;
    AX_ASSERT_OK(ax_fill(ctx, y, 5.0f));
    counting.enter = failing_enter;
    ctx->backend = &counting;
    AX_ASSERT_FAILS(ax_scale(ctx, 2.0f, x, y), AX_ERR_CUDA, "ax_scale");
    cr_assert(strstr(ax_last_error(), "cudaSetDevice") != NULL, "%s", ax_last_error());

    ctx->backend = saved;
    float got[12];
    AX_ASSERT_OK(ax_tensor_to_host(y, got, sizeof got));
    cr_assert_eq(got[0], 5.0f, "y was written although entering the device failed");
    ax_tensor *all[] = {x, w, y, d, s, labels};
    for (int i = 0; i < 6; i++)
        ax_tensor_destroy(all[i]);
    ax_ctx_destroy(ctx);
}

/* Two contexts on two GPUs, used alternately from one thread: each creation leaves its own
 * device current, so every call after the first switch must set the device back. */
Test(device, two_gpus_alternate_from_one_thread) {
    if (ax_cuda_device_count() < 2)
        cr_skip("needs 2 CUDA devices: more CUDA devices than this machine has (%d)",
                ax_cuda_device_count());
    ax_ctx *c0, *c1;
    AX_ASSERT_OK(ax_ctx_create(AX_DEVICE_CUDA, 0, &c0));
    AX_ASSERT_OK(ax_ctx_create(AX_DEVICE_CUDA, 1, &c1));
    enum { N = 1000 };
    static float a[N], b[N], got[N];
    th_random(a, N, 11, -2, 2);
    th_random(b, N, 12, -2, 2);
    ax_ctx *ctxs[3] = {c0, c1, c0};
    for (int round = 0; round < 3; round++) {
        ax_ctx *c = ctxs[round];
        ax_tensor *ta = th_tensor(c, 1, (int64_t[]){N}, a);
        ax_tensor *tb = th_tensor(c, 1, (int64_t[]){N}, b);
        ax_tensor *ty = th_nan_tensor(c, 1, (int64_t[]){N});
        AX_ASSERT_OK(ax_mul(c, ta, tb, ty));
        AX_ASSERT_OK(ax_ctx_synchronize(c));
        AX_ASSERT_OK(ax_tensor_to_host(ty, got, sizeof got));
        for (int i = 0; i < N; i++)
            cr_assert_eq(got[i], a[i] * b[i], "round %d, element %d", round, i);
        ax_tensor_destroy(ta);
        ax_tensor_destroy(tb);
        ax_tensor_destroy(ty);
    }
    AX_ASSERT_OK(ax_ctx_synchronize(c0));
    AX_ASSERT_OK(ax_ctx_synchronize(c1));
    ax_ctx_destroy(c1);
    ax_ctx_destroy(c0);
}

/* Wrapping an earlier message in a new one reads the buffer being written: the result must
 * be the new prefix followed by the whole earlier message, not a garbled overlap. */
Test(status, wrapping_the_last_error_is_safe) {
    ax_fail(AX_ERR_IO, "inner_call", "could not open '%s'", "/tmp/x.safetensors");
    ax_fail(AX_ERR_IO, "outer_call", "loading failed: %s", ax_last_error());
    cr_assert_str_eq(ax_last_error(),
                     "outer_call: loading failed: inner_call: could not open '/tmp/x.safetensors'");
    /* twice more: the message grows and stays intact */
    ax_fail(AX_ERR_IO, "top", "%s", ax_last_error());
    cr_assert_str_eq(ax_last_error(),
                     "top: outer_call: loading failed: inner_call: could not open "
                     "'/tmp/x.safetensors'");
    /* a message longer than the buffer is cut, not overrun */
    char big[3000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    ax_fail(AX_ERR_IO, "long_call", "%s", big);
    ax_fail(AX_ERR_IO, "wrap", "%s", ax_last_error());
    cr_assert(strncmp(ax_last_error(), "wrap: long_call: aaa", 20) == 0, "%.40s",
              ax_last_error());
    cr_assert(strlen(ax_last_error()) < 1024);
}
