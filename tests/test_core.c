/* Core API: status names, contexts, tensors; and their bad input. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

Test(api, status_str_names_every_code) {
    cr_assert_str_eq(ax_status_str(AX_OK), "AX_OK");
    cr_assert_str_eq(ax_status_str(AX_ERR_SHAPE), "AX_ERR_SHAPE");
    cr_assert_str_eq(ax_status_str(AX_ERR_STATE), "AX_ERR_STATE");
    cr_assert_str_eq(ax_status_str((ax_status)999), "AX_ERR_UNKNOWN");
}

Test(api, ctx_create_cpu_reports_device) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_device_info info;
    AX_ASSERT_OK(ax_ctx_device_info(ctx, &info));
    cr_assert_eq(info.kind, AX_DEVICE_CPU);
    cr_assert(info.multiprocessors >= 1);
    cr_assert(strlen(info.name) > 0);
    ax_ctx_destroy(ctx);
}

Test(api, ctx_create_auto_picks_a_working_device) {
    ax_ctx *ctx = NULL;
    AX_ASSERT_OK(ax_ctx_create(AX_DEVICE_AUTO, 0, &ctx));
    ax_device_info info;
    AX_ASSERT_OK(ax_ctx_device_info(ctx, &info));
    cr_assert_eq(info.kind, ax_cuda_device_count() > 0 ? AX_DEVICE_CUDA : AX_DEVICE_CPU);
    ax_ctx_destroy(ctx);
}

Test(api, ctx_seed_round_trips) {
    ax_ctx *ctx = th_cpu_ctx();
    uint64_t seed = 0;
    AX_ASSERT_OK(ax_ctx_set_seed(ctx, 0x123456789abcdefull));
    AX_ASSERT_OK(ax_ctx_get_seed(ctx, &seed));
    cr_assert_eq(seed, 0x123456789abcdefull);
    AX_ASSERT_OK(ax_ctx_synchronize(ctx));
    ax_ctx_destroy(ctx);
}

Test(api, tensor_from_host_round_trips) {
    ax_ctx *ctx = th_cpu_ctx();
    float data[6] = {1, 2, 3, 4, 5, 6}, back[6] = {0};
    int64_t shape[2] = {2, 3};
    ax_tensor *t = th_tensor(ctx, 2, shape, data);
    cr_assert_eq(ax_tensor_ndim(t), 2);
    cr_assert_eq(ax_tensor_dim(t, 0), 2);
    cr_assert_eq(ax_tensor_dim(t, -1), 3);
    cr_assert_eq(ax_tensor_dim(t, 2), 0);
    cr_assert_eq(ax_tensor_numel(t), 6);
    cr_assert_eq(ax_tensor_nbytes(t), sizeof data);
    cr_assert_eq(ax_tensor_dtype(t), AX_F32);
    cr_assert_eq(ax_tensor_ctx(t), ctx);
    AX_ASSERT_OK(ax_tensor_to_host(t, back, sizeof back));
    th_assert_equal(back, data, 6, "round trip");
    ax_tensor_destroy(t);
    ax_ctx_destroy(ctx);
}

Test(api, tensor_zeros_copy_reshape) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t shape[3] = {2, 2, 2}, flat[1] = {8};
    ax_tensor *z = NULL, *c = NULL;
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_I32, 3, shape, &z));
    int32_t zi[8];
    AX_ASSERT_OK(ax_tensor_to_host(z, zi, sizeof zi));
    for (int i = 0; i < 8; i++)
        cr_assert_eq(zi[i], 0);
    AX_ASSERT_OK(ax_fill(ctx, z, 7.0f));
    AX_ASSERT_OK(ax_tensor_create(ctx, AX_I32, 1, flat, &c));
    AX_ASSERT_OK(ax_tensor_copy(c, z));
    AX_ASSERT_OK(ax_tensor_to_host(c, zi, sizeof zi));
    for (int i = 0; i < 8; i++)
        cr_assert_eq(zi[i], 7);
    AX_ASSERT_OK(ax_tensor_reshape(z, 1, flat));
    cr_assert_eq(ax_tensor_ndim(z), 1);
    cr_assert_eq(ax_tensor_dim(z, 0), 8);
    ax_tensor_destroy(z);
    ax_tensor_destroy(c);
    ax_ctx_destroy(ctx);
}

Test(api, scalar_tensor_has_one_element) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_tensor *s = NULL;
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_F32, 0, NULL, &s));
    cr_assert_eq(ax_tensor_numel(s), 1);
    ax_tensor_destroy(s);
    ax_ctx_destroy(ctx);
}

Test(api, tensor_outlives_destroyed_ctx_safely) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t shape[1] = {4};
    ax_tensor *t = NULL;
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_F32, 1, shape, &t));
    ax_ctx_destroy(ctx);
    float back[4];
    AX_ASSERT_FAILS(ax_tensor_to_host(t, back, sizeof back), AX_ERR_STATE, "ax_tensor_to_host");
    AX_ASSERT_FAILS(ax_fill(ctx, t, 1.0f), AX_ERR_STATE, "ax_fill");
    ax_tensor_destroy(t); /* frees the context too; ASan checks nothing leaks */
}

Test(api, copy_between_cpu_and_gpu) {
    ax_ctx *gpu = th_gpu_ctx_or_skip();
    ax_ctx *cpu = th_cpu_ctx();
    enum { N = 1001 };
    float host[N], back[N];
    th_random(host, N, 5, -3, 3);
    int64_t shape[1] = {N};
    ax_tensor *c = th_tensor(cpu, 1, shape, host), *g = NULL, *c2 = th_nan_tensor(cpu, 1, shape);
    AX_ASSERT_OK(ax_tensor_create(gpu, AX_F32, 1, shape, &g));
    AX_ASSERT_OK(ax_tensor_copy(g, c));
    AX_ASSERT_OK(ax_tensor_copy(c2, g));
    AX_ASSERT_OK(ax_tensor_to_host(c2, back, sizeof back));
    th_assert_equal(back, host, N, "cpu -> gpu -> cpu");
    ax_tensor_destroy(c);
    ax_tensor_destroy(c2);
    ax_tensor_destroy(g);
    ax_ctx_destroy(cpu);
    ax_ctx_destroy(gpu);
}

/* ---------------------------------------------------------------- bad input */

Test(badinput, ctx_create) {
    ax_ctx *ctx = (ax_ctx *)0x1;
    AX_ASSERT_FAILS(ax_ctx_create(AX_DEVICE_CPU, 0, NULL), AX_ERR_INVALID_ARG, "ax_ctx_create");
    AX_ASSERT_FAILS(ax_ctx_create((ax_device_kind)42, 0, &ctx), AX_ERR_INVALID_ARG,
                    "ax_ctx_create");
    cr_assert_null(ctx);
    AX_ASSERT_FAILS(ax_ctx_create(AX_DEVICE_CPU, -1, &ctx), AX_ERR_INVALID_ARG, "ax_ctx_create");
    if (ax_cuda_device_count() == 0)
        AX_ASSERT_FAILS(ax_ctx_create(AX_DEVICE_CUDA, 0, &ctx), AX_ERR_DEVICE, "ax_ctx_create");
    else
        AX_ASSERT_FAILS(ax_ctx_create(AX_DEVICE_CUDA, 4096, &ctx), AX_ERR_DEVICE,
                        "ax_ctx_create");
    ax_ctx_destroy(NULL);
}

Test(badinput, ctx_calls_with_null) {
    ax_device_info info;
    uint64_t seed;
    AX_ASSERT_FAILS(ax_ctx_device_info(NULL, &info), AX_ERR_INVALID_ARG, "ax_ctx_device_info");
    AX_ASSERT_FAILS(ax_ctx_set_seed(NULL, 1), AX_ERR_INVALID_ARG, "ax_ctx_set_seed");
    AX_ASSERT_FAILS(ax_ctx_get_seed(NULL, &seed), AX_ERR_INVALID_ARG, "ax_ctx_get_seed");
    AX_ASSERT_FAILS(ax_ctx_synchronize(NULL), AX_ERR_INVALID_ARG, "ax_ctx_synchronize");
    ax_ctx *ctx = th_cpu_ctx();
    AX_ASSERT_FAILS(ax_ctx_device_info(ctx, NULL), AX_ERR_INVALID_ARG, "ax_ctx_device_info");
    AX_ASSERT_FAILS(ax_ctx_get_seed(ctx, NULL), AX_ERR_INVALID_ARG, "ax_ctx_get_seed");
    ax_ctx_destroy(ctx);
}

/* One table names and sizes every dtype; sizes drive the bytes of a tensor, names every
 * message that mentions a dtype. */
Test(api, dtype_names_and_sizes) {
    cr_assert_str_eq(ax_dtype_name(AX_F32), "f32");
    cr_assert_str_eq(ax_dtype_name(AX_I32), "i32");
    cr_assert_str_eq(ax_dtype_name((ax_dtype)2), "unknown");
    cr_assert_str_eq(ax_dtype_name((ax_dtype)-1), "unknown");
    cr_assert_eq(ax_dtype_size(AX_F32), sizeof(float));
    cr_assert_eq(ax_dtype_size(AX_I32), sizeof(int32_t));
    cr_assert_eq(ax_dtype_size((ax_dtype)2), 0);
    cr_assert_eq(ax_dtype_size((ax_dtype)-1), 0);

    ax_ctx *ctx = th_cpu_ctx();
    int64_t shape[2] = {3, 5};
    ax_tensor *f = NULL, *i = NULL, *t = NULL;
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_F32, 2, shape, &f));
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_I32, 2, shape, &i));
    cr_assert_eq(ax_tensor_nbytes(i), 15 * ax_dtype_size(AX_I32));
    cr_assert_eq(ax_tensor_dtype(i), AX_I32);
    /* messages name both dtypes, each by its own name */
    AX_ASSERT_FAILS(ax_add(ctx, f, i, f), AX_ERR_DTYPE, "ax_add");
    cr_assert(strstr(ax_last_error(), "b is i32, expected f32") != NULL, "%s", ax_last_error());
    AX_ASSERT_FAILS(ax_fill(ctx, i, 0.5f), AX_ERR_INVALID_ARG, "ax_fill");
    AX_ASSERT_FAILS(ax_tensor_create(ctx, (ax_dtype)2, 2, shape, &t), AX_ERR_DTYPE,
                    "ax_tensor_create");
    cr_assert(strstr(ax_last_error(), "unknown dtype 2") != NULL, "%s", ax_last_error());
    /* the byte count of a shape must fit in 64 bits at the dtype's size */
    int64_t over[1] = {INT64_MAX / 4 + 1};
    AX_ASSERT_FAILS(ax_tensor_create(ctx, AX_I32, 1, over, &t), AX_ERR_SHAPE, "ax_tensor_create");
    cr_assert_null(t);
    ax_tensor_destroy(f);
    ax_tensor_destroy(i);
    ax_ctx_destroy(ctx);
}

/* The labels of a cross entropy are i32: an f32 tensor in their place is named as such. */
Test(badinput, dtype_named_in_messages) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t ls[2] = {2, 3}, ys[1] = {2}, one[1] = {1};
    ax_tensor *logits = NULL, *labels = NULL, *loss = NULL;
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_F32, 2, ls, &logits));
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_F32, 1, ys, &labels));
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_F32, 1, one, &loss));
    AX_ASSERT_FAILS(ax_cross_entropy_forward(ctx, logits, labels, AX_REDUCE_MEAN, loss),
                    AX_ERR_DTYPE, "ax_cross_entropy_forward");
    cr_assert(strstr(ax_last_error(), "labels is f32, expected i32") != NULL, "%s",
              ax_last_error());
    ax_tensor_destroy(logits);
    ax_tensor_destroy(labels);
    ax_tensor_destroy(loss);
    ax_ctx_destroy(ctx);
}

Test(badinput, tensor_create_shapes) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_tensor *t = (ax_tensor *)0x1;
    int64_t neg[2] = {2, -3}, zero[1] = {0}, huge[3] = {INT64_MAX / 2, 4, 4},
            nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
    AX_ASSERT_FAILS(ax_tensor_create(ctx, AX_F32, 2, neg, &t), AX_ERR_SHAPE, "ax_tensor_create");
    cr_assert_null(t);
    AX_ASSERT_FAILS(ax_tensor_create(ctx, AX_F32, 1, zero, &t), AX_ERR_SHAPE, "ax_tensor_create");
    AX_ASSERT_FAILS(ax_tensor_create(ctx, AX_F32, 3, huge, &t), AX_ERR_SHAPE, "ax_tensor_create");
    AX_ASSERT_FAILS(ax_tensor_create(ctx, AX_F32, 9, nine, &t), AX_ERR_SHAPE, "ax_tensor_create");
    AX_ASSERT_FAILS(ax_tensor_create(ctx, AX_F32, -1, nine, &t), AX_ERR_SHAPE, "ax_tensor_create");
    AX_ASSERT_FAILS(ax_tensor_create(ctx, AX_F32, 2, NULL, &t), AX_ERR_INVALID_ARG,
                    "ax_tensor_create");
    AX_ASSERT_FAILS(ax_tensor_create(ctx, (ax_dtype)7, 1, nine, &t), AX_ERR_DTYPE,
                    "ax_tensor_create");
    AX_ASSERT_FAILS(ax_tensor_create(NULL, AX_F32, 1, nine, &t), AX_ERR_INVALID_ARG,
                    "ax_tensor_create");
    AX_ASSERT_FAILS(ax_tensor_create(ctx, AX_F32, 1, nine, NULL), AX_ERR_INVALID_ARG,
                    "ax_tensor_create");
    AX_ASSERT_FAILS(ax_tensor_zeros(ctx, AX_F32, 2, neg, &t), AX_ERR_SHAPE, "ax_tensor_zeros");
    AX_ASSERT_FAILS(ax_tensor_from_host(ctx, AX_F32, 1, nine, NULL, &t), AX_ERR_INVALID_ARG,
                    "ax_tensor_from_host");
    cr_assert_null(t);
    ax_ctx_destroy(ctx);
}

Test(badinput, tensor_copies_and_reshape) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t s4[1] = {4}, s5[1] = {5}, s22[2] = {2, 2}, s3[1] = {3};
    ax_tensor *a = NULL, *b = NULL, *i = NULL;
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_F32, 1, s4, &a));
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_F32, 1, s5, &b));
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_I32, 1, s4, &i));
    float buf[5];
    AX_ASSERT_FAILS(ax_tensor_to_host(a, buf, sizeof buf), AX_ERR_SHAPE, "ax_tensor_to_host");
    AX_ASSERT_FAILS(ax_tensor_to_host(a, NULL, 16), AX_ERR_INVALID_ARG, "ax_tensor_to_host");
    AX_ASSERT_FAILS(ax_tensor_to_host(NULL, buf, 16), AX_ERR_INVALID_ARG, "ax_tensor_to_host");
    AX_ASSERT_FAILS(ax_tensor_set_from_host(a, buf, 12), AX_ERR_SHAPE,
                    "ax_tensor_set_from_host");
    AX_ASSERT_FAILS(ax_tensor_set_from_host(a, NULL, 16), AX_ERR_INVALID_ARG,
                    "ax_tensor_set_from_host");
    AX_ASSERT_FAILS(ax_tensor_copy(a, b), AX_ERR_SHAPE, "ax_tensor_copy");
    AX_ASSERT_FAILS(ax_tensor_copy(a, i), AX_ERR_DTYPE, "ax_tensor_copy");
    AX_ASSERT_FAILS(ax_tensor_copy(NULL, a), AX_ERR_INVALID_ARG, "ax_tensor_copy");
    AX_ASSERT_FAILS(ax_tensor_reshape(a, 1, s3), AX_ERR_SHAPE, "ax_tensor_reshape");
    AX_ASSERT_OK(ax_tensor_reshape(a, 2, s22));
    cr_assert_eq(ax_tensor_ndim(NULL), 0);
    cr_assert_eq(ax_tensor_numel(NULL), 0);
    cr_assert_null(ax_tensor_data(NULL));
    ax_tensor_destroy(NULL);
    ax_tensor_destroy(a);
    ax_tensor_destroy(b);
    ax_tensor_destroy(i);
    ax_ctx_destroy(ctx);
}

Test(badinput, tensors_from_another_context) {
    ax_ctx *c1 = th_cpu_ctx(), *c2 = th_cpu_ctx();
    int64_t shape[1] = {3};
    ax_tensor *a = NULL, *b = NULL;
    AX_ASSERT_OK(ax_tensor_zeros(c1, AX_F32, 1, shape, &a));
    AX_ASSERT_OK(ax_tensor_zeros(c2, AX_F32, 1, shape, &b));
    AX_ASSERT_FAILS(ax_add(c1, a, b, a), AX_ERR_DEVICE, "ax_add");
    AX_ASSERT_OK(ax_tensor_copy(a, b)); /* explicit copies may cross contexts */
    ax_tensor_destroy(a);
    ax_tensor_destroy(b);
    ax_ctx_destroy(c1);
    ax_ctx_destroy(c2);
}

/* The dispatch contract: an op whose backend entry is missing answers AX_ERR_UNSUPPORTED
 * with a message instead of crashing. A copy of the CPU table with holes stands in for a
 * backend that lacks them. */
#include "host/backend.h"

Test(api, missing_backend_entry_is_unsupported) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t shape[1] = {5};
    ax_tensor *a = NULL;
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_F32, 1, shape, &a));
    struct ax_backend partial = ax_cpu_backend;
    partial.name = "partial";
    partial.add = NULL;
    partial.rng_normal = NULL;
    const struct ax_backend *saved = ctx->backend;
    ctx->backend = &partial;
    AX_ASSERT_FAILS(ax_add(ctx, a, a, a), AX_ERR_UNSUPPORTED, "ax_add");
    cr_assert(strstr(ax_last_error(), "partial") != NULL, "message names the backend");
    AX_ASSERT_FAILS(ax_rng_normal(ctx, a, 0, 1, 1, 0), AX_ERR_UNSUPPORTED, "ax_rng_normal");
    AX_ASSERT_OK(ax_mul(ctx, a, a, a)); /* the entries that exist still work */
    ctx->backend = saved;
    ax_tensor_destroy(a);
    ax_ctx_destroy(ctx);
}

/* The reference backend is complete: every entry of backend_entries.h is filled in the CPU
 * table (its table is generated from the list, so a hand edit or a NULL slipping in shows
 * here), and the list matches the struct: the listed entries plus the name and the eleven
 * device and memory entries make up the whole struct. */
#include <stddef.h>

static const struct {
    const char *name;
    size_t offset;
} backend_entries[] = {
#define AX_BACKEND_ENTRY(ret, name, params) {#name, offsetof(struct ax_backend, name)},
#include "host/backend_entries.h"
#undef AX_BACKEND_ENTRY
};

Test(api, cpu_backend_fills_every_entry) {
    size_t count = sizeof backend_entries / sizeof backend_entries[0];
    cr_assert_geq(count, 32, "the list has all the op entries (%zu)", count);
    for (size_t i = 0; i < count; i++) {
        void (*fnp)(void);
        memcpy(&fnp, (const char *)&ax_cpu_backend + backend_entries[i].offset, sizeof fnp);
        cr_assert(fnp != NULL, "the CPU backend lacks %s", backend_entries[i].name);
    }
    cr_assert(ax_cpu_backend.alloc && ax_cpu_backend.free && ax_cpu_backend.copy_to_device &&
                  ax_cpu_backend.copy_to_host && ax_cpu_backend.copy_on_device &&
                  ax_cpu_backend.copy_2d_on_device && ax_cpu_backend.synchronize,
              "the CPU memory entries are filled");
    cr_assert(ax_cpu_backend.ctx_init != NULL, "the CPU backend fills a context's info");
    /* name + device_count, ctx_init, ctx_fini, enter + 7 memory entries + the listed ops */
    cr_assert_eq(sizeof(struct ax_backend),
                 sizeof(const char *) + (11 + count) * sizeof(void (*)(void)),
                 "struct ax_backend has fields the list does not declare");
}
