/* Handles: every kind destroyed and then used answers AX_ERR_STATE with a message naming the
 * call, a second destroy does nothing, and neither reads the freed object (the sanitizer build
 * runs this file: a use after free would show there). Also the registry of live handles
 * itself, and what may be done from several threads. */
#define _XOPEN_SOURCE 700 /* mkstemp, pthread barriers */

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "helpers.h"
#include "host/core/handles.h"
#include "host/core/internal.h"

/* The call failed with AX_ERR_STATE, naming fn and saying the handle is not live. */
#define ASSERT_DEAD(expr, fn)                                                                  \
    do {                                                                                       \
        AX_ASSERT_FAILS(expr, AX_ERR_STATE, fn);                                               \
        cr_assert(strstr(ax_last_error(), "destroyed") != NULL,                                \
                  "message \"%s\" does not say the handle was destroyed", ax_last_error());    \
    } while (0)

/* ---------------------------------------------------------------- contexts and tensors */

Test(handles, destroyed_context) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_ctx_destroy(ctx);
    ax_device_info info;
    uint64_t seed;
    int64_t shape[1] = {2};
    float data[2] = {1, 2};
    ax_tensor *t = NULL;
    ASSERT_DEAD(ax_ctx_device_info(ctx, &info), "ax_ctx_device_info");
    ASSERT_DEAD(ax_ctx_set_seed(ctx, 1), "ax_ctx_set_seed");
    ASSERT_DEAD(ax_ctx_get_seed(ctx, &seed), "ax_ctx_get_seed");
    ASSERT_DEAD(ax_ctx_synchronize(ctx), "ax_ctx_synchronize");
    ASSERT_DEAD(ax_tensor_create(ctx, AX_F32, 1, shape, &t), "ax_tensor_create");
    cr_assert_null(t);
    ASSERT_DEAD(ax_tensor_from_host(ctx, AX_F32, 1, shape, data, &t), "ax_tensor_from_host");
    ax_graph *g;
    ASSERT_DEAD(ax_graph_create(ctx, 0, &g), "ax_graph_create");
    cr_assert_null(g);
    ax_optimizer *opt;
    ASSERT_DEAD(ax_optimizer_create_sgd(ctx, NULL, &opt), "ax_optimizer_create_sgd");
    cr_assert_null(opt);
    ax_ctx_destroy(ctx); /* a second destroy is a no-op */
    ax_ctx_destroy(NULL);
}

Test(handles, null_context_is_an_invalid_argument) {
    ax_device_info info;
    AX_ASSERT_FAILS(ax_ctx_device_info(NULL, &info), AX_ERR_INVALID_ARG, "ax_ctx_device_info");
    cr_assert(strstr(ax_last_error(), "ctx is NULL"), "%s", ax_last_error());
}

Test(handles, destroyed_tensor) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t shape[1] = {3};
    float data[3] = {1, 2, 3};
    ax_tensor *live = th_tensor(ctx, 1, shape, data);
    ax_tensor *t = th_tensor(ctx, 1, shape, data);
    int64_t before = ax_handle_count(AX_HANDLE_TENSOR);
    ax_tensor_destroy(t);
    cr_assert_eq(ax_handle_count(AX_HANDLE_TENSOR), before - 1);
    ASSERT_DEAD(ax_tensor_to_host(t, data, sizeof data), "ax_tensor_to_host");
    ASSERT_DEAD(ax_tensor_set_from_host(t, data, sizeof data), "ax_tensor_set_from_host");
    ASSERT_DEAD(ax_tensor_copy(t, live), "ax_tensor_copy");
    ASSERT_DEAD(ax_tensor_copy(live, t), "ax_tensor_copy");
    ASSERT_DEAD(ax_tensor_reshape(t, 1, shape), "ax_tensor_reshape");
    ASSERT_DEAD(ax_fill(ctx, t, 1.0f), "ax_fill");
    ASSERT_DEAD(ax_scale(ctx, 2.0f, live, t), "ax_scale");
    ASSERT_DEAD(ax_add(ctx, live, t, live), "ax_add");
    cr_assert_eq(ax_tensor_ndim(t), 0);
    cr_assert_eq(ax_tensor_dim(t, 0), 0);
    cr_assert_eq(ax_tensor_numel(t), 0);
    cr_assert_eq(ax_tensor_nbytes(t), 0);
    cr_assert_null(ax_tensor_ctx(t));
    cr_assert_null(ax_tensor_data(t));
    ax_tensor_destroy(t); /* no-op */
    cr_assert_eq(ax_handle_count(AX_HANDLE_TENSOR), before - 1);
    /* the live one is untouched */
    float back[3];
    AX_ASSERT_OK(ax_tensor_to_host(live, back, sizeof back));
    th_assert_equal(back, data, 3, "live tensor");
    ax_tensor_destroy(live);
    ax_ctx_destroy(ctx);
}

/* A destroyed context stays allocated for its tensors, which then answer AX_ERR_STATE; the
 * last tensor frees it (the leak checker sees it go). */
Test(handles, context_outlives_its_destroy_for_its_tensors) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t shape[1] = {2};
    ax_tensor *a = NULL, *b = NULL;
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_F32, 1, shape, &a));
    AX_ASSERT_OK(ax_tensor_zeros(ctx, AX_F32, 1, shape, &b));
    cr_assert_eq(atomic_load(&ctx->refs), 3);
    ax_ctx_destroy(ctx);
    cr_assert_eq(atomic_load(&ctx->refs), 2, "the destroy drops the user's reference");
    ax_ctx_destroy(ctx);
    cr_assert_eq(atomic_load(&ctx->refs), 2, "a second destroy drops nothing");
    float back[2];
    AX_ASSERT_FAILS(ax_tensor_to_host(a, back, sizeof back), AX_ERR_STATE, "ax_tensor_to_host");
    cr_assert(strstr(ax_last_error(), "destroyed context"), "%s", ax_last_error());
    cr_assert_eq(ax_tensor_numel(a), 2, "queries still answer");
    ax_tensor_destroy(a);
    ax_tensor_destroy(a);
    cr_assert_eq(atomic_load(&ctx->refs), 1, "a second tensor destroy drops nothing");
    ax_tensor_destroy(b); /* frees the context */
}

/* A handle of one kind passed where another is expected is not live there, and a destroy of
 * the wrong kind leaves it alone. */
Test(handles, kinds_are_told_apart) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g = NULL;
    AX_ASSERT_OK(ax_graph_create(ctx, 1, &g));
    float back[1];
    AX_ASSERT_FAILS(ax_tensor_to_host((ax_tensor *)ctx, back, sizeof back), AX_ERR_STATE,
                    "ax_tensor_to_host");
    AX_ASSERT_FAILS(ax_ctx_set_seed((ax_ctx *)g, 1), AX_ERR_STATE, "ax_ctx_set_seed");
    ax_tensor_destroy((ax_tensor *)g);
    ax_ctx_destroy((ax_ctx *)g);
    ax_optimizer_destroy((ax_optimizer *)g);
    ax_data_loader_destroy((ax_data_loader *)g);
    ax_text_dataset_destroy((ax_text_dataset *)g);
    ax_safetensors_close((ax_safetensors *)g);
    ax_graph_destroy((ax_graph *)ctx);
    cr_assert(ax_handle_live(g, AX_HANDLE_GRAPH));
    int64_t shape[2] = {4, 3};
    ax_node *x = NULL;
    AX_ASSERT_OK(ax_graph_input(g, "x", 2, shape, &x));
    AX_ASSERT_OK(ax_ctx_set_seed(ctx, 2));
    ax_graph_destroy(g);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- graphs and nodes */

Test(handles, destroyed_graph) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g = NULL;
    AX_ASSERT_OK(ax_graph_create(ctx, 1, &g));
    int64_t shape[2] = {4, 3};
    ax_node *x = NULL, *y = NULL, *out = NULL;
    AX_ASSERT_OK(ax_graph_input(g, "x", 2, shape, &x));
    AX_ASSERT_OK(ax_graph_dense(g, "fc", x, 2, &y));
    int64_t nodes = ax_handle_count(AX_HANDLE_NODE);
    ax_graph_destroy(g);
    cr_assert_eq(ax_handle_count(AX_HANDLE_NODE), nodes - 4, "x, fc.weight, fc.bias, fc");
    ASSERT_DEAD(ax_graph_input(g, "x2", 2, shape, &out), "ax_graph_input");
    cr_assert_null(out);
    ASSERT_DEAD(ax_graph_labels(g, "y", 4, &out), "ax_graph_labels");
    ASSERT_DEAD(ax_graph_dense(g, "fc2", y, 2, &out), "ax_graph_dense");
    ASSERT_DEAD(ax_graph_activation(g, "r", AX_ACT_RELU, 0, y, &out), "ax_graph_activation");
    ASSERT_DEAD(ax_graph_compile(g, NULL), "ax_graph_compile");
    ASSERT_DEAD(ax_graph_forward(g), "ax_graph_forward");
    ASSERT_DEAD(ax_graph_backward(g), "ax_graph_backward");
    ASSERT_DEAD(ax_graph_set_batch(g, 2), "ax_graph_set_batch");
    ASSERT_DEAD(ax_graph_find(g, "x", &out), "ax_graph_find");
    int index;
    ASSERT_DEAD(ax_graph_param_find(g, "fc.weight", &index), "ax_graph_param_find");
    ASSERT_DEAD(ax_graph_param_get(g, 0, NULL, NULL, NULL), "ax_graph_param_get");
    ASSERT_DEAD(ax_graph_save(g, "/nonexistent/never-written.safetensors"), "ax_graph_save");
    cr_assert_eq(ax_graph_param_count(g), 0);
    cr_assert_eq(ax_graph_batch(g), 0);
    cr_assert_null(ax_graph_value(g, x));
    cr_assert_null(ax_graph_grad(g, y));
    cr_assert_str_eq(ax_graph_node_name(g, x), "");
    ax_graph_destroy(g); /* no-op */
    ax_ctx_destroy(ctx);
}

/* A node of a destroyed graph handed to a live graph. */
Test(handles, node_of_a_destroyed_graph) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g1 = NULL, *g2 = NULL;
    AX_ASSERT_OK(ax_graph_create(ctx, 1, &g1));
    AX_ASSERT_OK(ax_graph_create(ctx, 1, &g2));
    int64_t shape[2] = {4, 3};
    ax_node *x1 = NULL, *x2 = NULL, *out = NULL;
    AX_ASSERT_OK(ax_graph_input(g1, "x", 2, shape, &x1));
    AX_ASSERT_OK(ax_graph_input(g2, "x", 2, shape, &x2));
    /* live, but another graph's: an invalid argument */
    AX_ASSERT_FAILS(ax_graph_activation(g2, "r", AX_ACT_RELU, 0, x1, &out), AX_ERR_INVALID_ARG,
                    "ax_graph_activation");
    ax_graph_destroy(g1);
    ASSERT_DEAD(ax_graph_activation(g2, "r", AX_ACT_RELU, 0, x1, &out), "ax_graph_activation");
    ASSERT_DEAD(ax_graph_add(g2, "s", x2, x1, &out), "ax_graph_add");
    ASSERT_DEAD(ax_graph_compile(g2, x1), "ax_graph_compile");
    cr_assert_null(ax_graph_value(g2, x1));
    cr_assert_not_null(ax_graph_value(g2, x2));
    ax_graph_destroy(g2);
    ax_ctx_destroy(ctx);
}

/* A graph keeps its context allocated; calls then report the destroyed context. */
Test(handles, graph_of_a_destroyed_context) {
    ax_ctx *ctx = th_cpu_ctx();
    ax_graph *g = NULL;
    AX_ASSERT_OK(ax_graph_create(ctx, 1, &g));
    ax_ctx_destroy(ctx);
    int64_t shape[2] = {4, 3};
    ax_node *x = NULL;
    ASSERT_DEAD(ax_graph_input(g, "x", 2, shape, &x), "ax_graph_input");
    cr_assert(strstr(ax_last_error(), "ctx"), "%s", ax_last_error());
    ax_graph_destroy(g); /* frees the context too */
}

/* ---------------------------------------------------------------- optimizers */

Test(handles, destroyed_optimizer) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t shape[1] = {2};
    float w[2] = {1, 2}, gr[2] = {0.5f, 0.5f};
    ax_tensor *tw = th_tensor(ctx, 1, shape, w), *tg = th_tensor(ctx, 1, shape, gr);
    ax_optimizer *opt = NULL;
    AX_ASSERT_OK(ax_optimizer_create_adam(ctx, NULL, &opt));
    AX_ASSERT_OK(ax_optimizer_step(opt, 1, &tw, &tg));
    ax_optimizer_destroy(opt);
    float lr;
    int64_t steps;
    ASSERT_DEAD(ax_optimizer_step(opt, 1, &tw, &tg), "ax_optimizer_step");
    ASSERT_DEAD(ax_optimizer_set_lr(opt, 0.1f), "ax_optimizer_set_lr");
    ASSERT_DEAD(ax_optimizer_get_lr(opt, &lr), "ax_optimizer_get_lr");
    ASSERT_DEAD(ax_optimizer_step_count(opt, &steps), "ax_optimizer_step_count");
    ax_graph *g = NULL;
    AX_ASSERT_OK(ax_graph_create(ctx, 1, &g));
    ASSERT_DEAD(ax_optimizer_save(opt, g, "/nonexistent/never.safetensors"),
                "ax_optimizer_save");
    ASSERT_DEAD(ax_optimizer_load(opt, g, "/nonexistent/never.safetensors"),
                "ax_optimizer_load");
    ax_optimizer_destroy(opt); /* no-op */
    ax_graph_destroy(g);
    ax_tensor_destroy(tw);
    ax_tensor_destroy(tg);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- data loaders */

Test(handles, destroyed_loader) {
    ax_ctx *ctx = th_cpu_ctx();
    float x[6] = {1, 2, 3, 4, 5, 6};
    int32_t y[3] = {0, 1, 2};
    int64_t xshape[2] = {3, 2}, bshape[2] = {2, 2}, lshape[1] = {2};
    ax_data_loader *l = NULL;
    AX_ASSERT_OK(ax_data_loader_create(x, 2, xshape, y, 2, 0, 0, 1, &l));
    cr_assert_eq(ax_data_loader_batches(l), 2);
    ax_tensor *bx = NULL, *by = NULL;
    AX_ASSERT_OK(ax_tensor_create(ctx, AX_F32, 2, bshape, &bx));
    AX_ASSERT_OK(ax_tensor_create(ctx, AX_I32, 1, lshape, &by));
    ax_data_loader_destroy(l);
    int64_t n = -1;
    ASSERT_DEAD(ax_data_loader_next(l, bx, by, &n), "ax_data_loader_next");
    cr_assert_eq(ax_data_loader_batches(l), 0);
    cr_assert_eq(ax_data_loader_epoch(l), 0);
    ax_data_loader_destroy(l); /* no-op */
    AX_ASSERT_FAILS(ax_data_loader_next(NULL, bx, by, &n), AX_ERR_INVALID_ARG,
                    "ax_data_loader_next");
    ax_tensor_destroy(bx);
    ax_tensor_destroy(by);
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- text datasets */

static ax_text_dataset *load_text(const char *text) {
    char path[] = "/tmp/axon-handles-XXXXXX";
    int fd = mkstemp(path);
    cr_assert(fd >= 0);
    cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    ax_text_dataset *ds = NULL;
    AX_ASSERT_OK(ax_text_dataset_load(path, &ds));
    unlink(path);
    return ds;
}

Test(handles, destroyed_text_dataset) {
    ax_text_dataset *ds = load_text("hello, world");
    cr_assert_eq(ax_text_vocab_size(ds), 9);
    ax_text_dataset_destroy(ds);
    ax_text_dataset *train = NULL, *val = NULL;
    int32_t ids[4] = {0, 1, 2, 3}, targets[4];
    char out[4];
    ASSERT_DEAD(ax_text_dataset_split(ds, 0.5, &train, &val), "ax_text_dataset_split");
    cr_assert_null(train);
    cr_assert_null(val);
    ASSERT_DEAD(ax_text_encode(ds, "hell", 4, ids), "ax_text_encode");
    ASSERT_DEAD(ax_text_decode(ds, ids, 4, out), "ax_text_decode");
    ASSERT_DEAD(ax_text_batch(ds, 1, 4, 1, 0, ids, targets), "ax_text_batch");
    cr_assert_eq(ax_text_vocab_size(ds), 0);
    cr_assert_eq(ax_text_length(ds), 0);
    cr_assert_null(ax_text_ids(ds));
    ax_text_dataset_destroy(ds); /* no-op */
    ax_text_dataset_destroy(NULL);
}

Test(handles, null_text_dataset_is_an_invalid_argument) {
    int32_t ids[1];
    char out[1];
    AX_ASSERT_FAILS(ax_text_encode(NULL, "a", 1, ids), AX_ERR_INVALID_ARG, "ax_text_encode");
    AX_ASSERT_FAILS(ax_text_decode(NULL, ids, 1, out), AX_ERR_INVALID_ARG, "ax_text_decode");
    cr_assert_eq(ax_text_length(NULL), 0);
}

/* The parts of a split are handles of their own: destroying the source leaves them live. */
Test(handles, split_parts_outlive_their_source) {
    ax_text_dataset *ds = load_text("abcdefgh");
    ax_text_dataset *train = NULL, *val = NULL;
    AX_ASSERT_OK(ax_text_dataset_split(ds, 0.5, &train, &val));
    ax_text_dataset_destroy(ds);
    cr_assert_eq(ax_text_length(train), 4);
    cr_assert_eq(ax_text_length(val), 4);
    int32_t ids[2];
    AX_ASSERT_OK(ax_text_encode(val, "ef", 2, ids));
    cr_assert_eq(ids[0], 4);
    ax_text_dataset_destroy(train);
    ax_text_dataset_destroy(val);
}

/* ---------------------------------------------------------------- safetensors files */

Test(handles, closed_safetensors) {
    ax_ctx *ctx = th_cpu_ctx();
    /* a file of one F32 [1] tensor "a" */
    const char json[] = "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    unsigned char file[8 + sizeof json - 1 + 4] = {(unsigned char)(sizeof json - 1)};
    memcpy(file + 8, json, sizeof json - 1);
    ax_safetensors *st = NULL;
    AX_ASSERT_OK(ax_safetensors_parse(file, sizeof file, &st));
    cr_assert_eq(ax_safetensors_count(st), 1);
    ax_safetensors_close(st);
    ax_safetensors_entry entry;
    int index;
    const void *data;
    size_t nbytes;
    ax_tensor *t = NULL;
    ASSERT_DEAD(ax_safetensors_entry_get(st, 0, &entry), "ax_safetensors_entry_get");
    ASSERT_DEAD(ax_safetensors_find(st, "a", &index), "ax_safetensors_find");
    ASSERT_DEAD(ax_safetensors_raw(st, 0, &data, &nbytes), "ax_safetensors_raw");
    ASSERT_DEAD(ax_safetensors_to_tensor(st, 0, ctx, &t), "ax_safetensors_to_tensor");
    cr_assert_eq(ax_safetensors_count(st), 0);
    ax_safetensors_close(st); /* no-op */
    AX_ASSERT_FAILS(ax_safetensors_find(NULL, "a", &index), AX_ERR_INVALID_ARG,
                    "ax_safetensors_find");
    ax_ctx_destroy(ctx);
}

/* ---------------------------------------------------------------- the registry */

/* Many entries (growth), removals (deleted entries probed past), re-adds and counts; the
 * addresses are bytes of one buffer, so neighbours share their low bits. */
Test(registry, grows_removes_and_re_adds) {
    enum { N = 5000 };
    char *base = malloc(N);
    cr_assert_not_null(base);
    int64_t before = ax_handle_count(AX_HANDLE_TEXT);
    for (int i = 0; i < N; i++)
        AX_ASSERT_OK(ax_handle_add("test", base + i, AX_HANDLE_TEXT));
    cr_assert_eq(ax_handle_count(AX_HANDLE_TEXT), before + N);
    for (int i = 0; i < N; i += 2)
        cr_assert(ax_handle_remove(base + i, AX_HANDLE_TEXT), "entry %d", i);
    for (int i = 0; i < N; i++) {
        cr_assert_eq(ax_handle_live(base + i, AX_HANDLE_TEXT), i % 2, "entry %d", i);
        cr_assert(!ax_handle_live(base + i, AX_HANDLE_LOADER), "entry %d has another kind", i);
    }
    cr_assert_eq(ax_handle_count(AX_HANDLE_TEXT), before + N / 2);
    for (int i = 0; i < N; i += 2) /* removed twice: nothing happens */
        cr_assert(!ax_handle_remove(base + i, AX_HANDLE_TEXT), "entry %d", i);
    for (int i = 1; i < N; i += 2) /* removed as another kind: nothing happens */
        cr_assert(!ax_handle_remove(base + i, AX_HANDLE_LOADER), "entry %d", i);
    for (int round = 0; round < 3; round++) { /* churn: deleted entries must be reused */
        for (int i = 0; i < N; i += 2)
            AX_ASSERT_OK(ax_handle_add("test", base + i, AX_HANDLE_TEXT));
        for (int i = 0; i < N; i += 2)
            cr_assert(ax_handle_remove(base + i, AX_HANDLE_TEXT), "entry %d", i);
    }
    for (int i = 0; i < N; i++)
        cr_assert_eq(ax_handle_live(base + i, AX_HANDLE_TEXT), i % 2, "entry %d", i);
    for (int i = 1; i < N; i += 2)
        cr_assert(ax_handle_remove(base + i, AX_HANDLE_TEXT), "entry %d", i);
    cr_assert_eq(ax_handle_count(AX_HANDLE_TEXT), before);
    cr_assert(!ax_handle_live(NULL, AX_HANDLE_TEXT));
    cr_assert(!ax_handle_remove(NULL, AX_HANDLE_TEXT));
    free(base);
}

/* ---------------------------------------------------------------- threads */

enum { THREADS = 8, ROUNDS = 3000, KEEP = 5 };

typedef struct worker {
    ax_ctx *ctx;
    pthread_barrier_t *start;
    ax_tensor *kept[KEEP];
    int failures;
} worker;

/* Create and destroy tensors on the shared context, keeping KEEP of them. */
static void *churn(void *arg) {
    worker *w = arg;
    pthread_barrier_wait(w->start);
    int64_t shape[1] = {4};
    for (int r = 0; r < ROUNDS; r++) {
        ax_tensor *t = NULL;
        if (ax_tensor_zeros(w->ctx, AX_F32, 1, shape, &t) != AX_OK || ax_tensor_numel(t) != 4)
            w->failures++;
        ax_tensor_destroy(t);
    }
    for (int k = 0; k < KEEP; k++)
        if (ax_tensor_create(w->ctx, AX_F32, 1, shape, &w->kept[k]) != AX_OK)
            w->failures++;
    return NULL;
}

/* Destroy the kept tensors, racing the other workers to drop the last reference. */
static void *release(void *arg) {
    worker *w = arg;
    pthread_barrier_wait(w->start);
    for (int k = 0; k < KEEP; k++)
        ax_tensor_destroy(w->kept[k]);
    return NULL;
}

static void run_workers(worker *w, void *(*fn)(void *)) {
    pthread_t threads[THREADS];
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) {
        w[i].start = &start;
        cr_assert_eq(pthread_create(&threads[i], NULL, fn, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&start);
}

/* Tensors of one context created and destroyed from many threads at once: the reference
 * count and the registry stay exact, and the last of the tensors, destroyed on whichever
 * thread, frees the destroyed context (the leak checker sees it go). */
Test(threads, tensors_of_one_context_from_many_threads) {
    ax_ctx *ctx = th_cpu_ctx();
    int64_t tensors = ax_handle_count(AX_HANDLE_TENSOR);
    worker w[THREADS] = {0};
    for (int i = 0; i < THREADS; i++)
        w[i].ctx = ctx;
    run_workers(w, churn);
    for (int i = 0; i < THREADS; i++)
        cr_assert_eq(w[i].failures, 0, "worker %d: %d calls failed", i, w[i].failures);
    cr_assert_eq(atomic_load(&ctx->refs), 1 + THREADS * KEEP);
    cr_assert_eq(ax_handle_count(AX_HANDLE_TENSOR), tensors + THREADS * KEEP);
    ax_ctx_destroy(ctx);
    cr_assert_eq(atomic_load(&ctx->refs), THREADS * KEEP);
    run_workers(w, release);
    cr_assert_eq(ax_handle_count(AX_HANDLE_TENSOR), tensors);
}

enum { REFS_PER_THREAD = 1000000 };

static void *retain_many(void *arg) {
    worker *w = arg;
    pthread_barrier_wait(w->start);
    for (int r = 0; r < REFS_PER_THREAD; r++)
        ax_ctx_retain(w->ctx);
    return NULL;
}

static void *release_many(void *arg) {
    worker *w = arg;
    pthread_barrier_wait(w->start);
    for (int r = 0; r < REFS_PER_THREAD; r++)
        ax_ctx_release(w->ctx);
    return NULL;
}

/* The reference count itself under contention: no increment or decrement is lost, and the
 * thread that drops the last reference frees the context exactly once. */
Test(threads, reference_count_is_atomic) {
    ax_ctx *ctx = th_cpu_ctx();
    /* a plain long would lose updates only when two cores collide, which a busy machine may
     * not show: check the type too */
    cr_assert(_Generic(&ctx->refs, _Atomic(long) *: 1, default: 0), "refs is not atomic");
    cr_assert(_Generic(&ctx->destroyed, _Atomic(int) *: 1, default: 0),
              "destroyed is not atomic");
    worker w[THREADS] = {0};
    for (int i = 0; i < THREADS; i++)
        w[i].ctx = ctx;
    run_workers(w, retain_many);
    cr_assert_eq(atomic_load(&ctx->refs), 1 + (long)THREADS * REFS_PER_THREAD);
    run_workers(w, release_many);
    cr_assert_eq(atomic_load(&ctx->refs), 1);
    run_workers(w, retain_many);
    ax_ctx_destroy(ctx); /* the threads now hold the only references */
    run_workers(w, release_many); /* the last of them frees it: ASan sees no leak, no reuse */
}

typedef struct own_ctx {
    pthread_barrier_t *start;
    int id;
    ax_status first, second;
    char message[256];
    float sum;
} own_ctx;

/* A context of its own: a failing call, wait for every thread to have failed, then read the
 * message back (it must be this thread's) and compute on the context. */
static void *own_context(void *arg) {
    own_ctx *w = arg;
    ax_ctx *ctx = NULL;
    w->first = ax_ctx_create(AX_DEVICE_CPU, 0, &ctx);
    int64_t bad[1] = {-w->id - 1};
    ax_tensor *t = NULL;
    w->second = ax_tensor_create(ctx, AX_F32, 1, bad, &t); /* fails, naming dim -id-1 */
    pthread_barrier_wait(w->start);
    snprintf(w->message, sizeof w->message, "%s", ax_last_error());
    int64_t shape[1] = {100};
    if (ax_tensor_zeros(ctx, AX_F32, 1, shape, &t) == AX_OK && ax_fill(ctx, t, 1.0f) == AX_OK) {
        float host[100];
        if (ax_tensor_to_host(t, host, sizeof host) == AX_OK)
            for (int i = 0; i < 100; i++)
                w->sum += host[i];
    }
    ax_tensor_destroy(t);
    ax_ctx_destroy(ctx);
    return NULL;
}

/* Distinct contexts on distinct threads run independently, and ax_last_error is per thread. */
Test(threads, contexts_and_errors_per_thread) {
    pthread_t threads[THREADS];
    own_ctx w[THREADS] = {0};
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, THREADS);
    for (int i = 0; i < THREADS; i++) {
        w[i].start = &start;
        w[i].id = i;
        cr_assert_eq(pthread_create(&threads[i], NULL, own_context, &w[i]), 0);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(threads[i], NULL);
    pthread_barrier_destroy(&start);
    for (int i = 0; i < THREADS; i++) {
        cr_assert_eq(w[i].first, AX_OK);
        cr_assert_eq(w[i].second, AX_ERR_SHAPE);
        char want[64];
        snprintf(want, sizeof want, "dim 0 is %d;", -i - 1);
        cr_assert(strstr(w[i].message, want), "thread %d read \"%s\"", i, w[i].message);
        cr_assert_float_eq(w[i].sum, 100.0f, 0.0f, "thread %d", i);
    }
}
