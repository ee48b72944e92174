/* The tests' own gates (tests/support): the GPU test that require-GPU mode must turn from a
 * skip into a failure (ctest require_gpu_mode runs it with AXON_REQUIRE_GPU=1), and one probe
 * per dataset (ctest "dataset:<name>" reports Skipped when it is missing). */
#define _DEFAULT_SOURCE /* mkdtemp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"
#include "mnist.h"

/* Skips without a GPU, fails instead in require-GPU mode, else runs a copy on the GPU. */
Test(support, gpu_context) {
    ax_ctx *gpu = th_gpu_ctx_or_skip();
    int64_t shape[1] = {3};
    float in[3] = {1, -0.0f, 3}, out[3] = {0};
    ax_tensor *t = th_tensor(gpu, 1, shape, in);
    AX_ASSERT_OK(ax_tensor_to_host(t, out, sizeof out));
    th_assert_equal(out, in, 3, "round trip through the GPU");
    ax_tensor_destroy(t);
    ax_ctx_destroy(gpu);
}

Test(support, gpu_required_reads_the_variable) {
    cr_assert_eq(unsetenv("AXON_REQUIRE_GPU"), 0);
    cr_assert_not(th_gpu_required());
    const char *on[] = {"1", "yes"}, *off[] = {"0", ""};
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(setenv("AXON_REQUIRE_GPU", on[i], 1), 0);
        cr_assert(th_gpu_required(), "AXON_REQUIRE_GPU=%s", on[i]);
        cr_assert_eq(setenv("AXON_REQUIRE_GPU", off[i], 1), 0);
        cr_assert_not(th_gpu_required(), "AXON_REQUIRE_GPU=%s", off[i]);
    }
}

/* Where the data must be, a missing dataset is a failure; elsewhere a skip. A scratch
 * checkout T/repo next to which T/shared/data appears and disappears. */
Test(support, data_required_when_named_or_present) {
    char root[] = "/tmp/axon-support-XXXXXX", repo[64], shared[64], data[64];
    cr_assert_not_null(mkdtemp(root));
    snprintf(repo, sizeof repo, "%s/repo", root);
    snprintf(shared, sizeof shared, "%s/shared", root);
    snprintf(data, sizeof data, "%s/shared/data", root);
    cr_assert_eq(mkdir(repo, 0700), 0);
    cr_assert_eq(unsetenv("AXON_DATA"), 0);
    cr_assert_eq(unsetenv("AXON_REQUIRE_DATA"), 0);
    cr_assert_eq(setenv("AXON_SOURCE_DIR", repo, 1), 0);
    cr_assert_null(th_data_required(), "%s", th_data_required());

    cr_assert_eq(mkdir(shared, 0700), 0);
    cr_assert_eq(mkdir(data, 0700), 0);
    const char *why = th_data_required();
    cr_assert(why && strstr(why, "/repo/../shared/data exists"), "%s", why ? why : "NULL");
    cr_assert_eq(rmdir(data), 0);
    cr_assert_null(th_data_required(), "%s", th_data_required());

    cr_assert_eq(setenv("AXON_REQUIRE_DATA", "1", 1), 0);
    cr_assert_not_null(th_data_required());
    cr_assert_eq(setenv("AXON_REQUIRE_DATA", "0", 1), 0);
    cr_assert_null(th_data_required());
    cr_assert_eq(setenv("AXON_DATA", "/nonexistent", 1), 0);
    cr_assert_not_null(th_data_required());
    cr_assert_eq(rmdir(shared), 0);
    cr_assert_eq(rmdir(repo), 0);
    cr_assert_eq(rmdir(root), 0);
}

Test(dataset, mnist) {
    char dir[4096];
    th_dataset_or_skip("mnist", dir, sizeof dir);
    float *x;
    int32_t *y;
    int64_t n;
    AX_ASSERT_OK(ax_mnist_load(dir, 0, &x, &y, &n));
    cr_assert_eq(n, 10000, "MNIST in %s has %lld test images, not 10000", dir, (long long)n);
    ax_mnist_free(x, y);
}

Test(dataset, tinyshakespeare) {
    char dir[4096], path[4200];
    th_dataset_or_skip("tinyshakespeare", dir, sizeof dir);
    snprintf(path, sizeof path, "%s/input.txt", dir);
    ax_text_dataset *ds;
    AX_ASSERT_OK(ax_text_dataset_load(path, &ds));
    cr_assert_gt(ax_text_length(ds), 1000000, "%s is short", path);
    ax_text_dataset_destroy(ds);
}
