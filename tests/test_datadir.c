/* ax_data_dir with a folder the user named (--data DIR or $AXON_DATA): it must
 * hold the dataset, and when it does not the answer is an error naming it,
 * never a quiet fall back to ../shared/data. */
#define _DEFAULT_SOURCE

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers.h"

static char root[PATH_MAX];

/* A scratch tree: root/shared/data/mnist holding a (fake) MNIST file,
 * root/repo/build as the working folder (so the parent search would find the
 * data), root/empty, root/file. */
static void make_tree(void) {
    snprintf(root, sizeof root, "/tmp/axon-datadir-XXXXXX");
    cr_assert_not_null(mkdtemp(root));
    const char *dirs[] = {"shared", "shared/data", "shared/data/mnist",
                          "repo",   "repo/build",  "empty"};
    char path[PATH_MAX + 64];
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", root, dirs[i]);
        cr_assert_eq(mkdir(path, 0700), 0, "mkdir %s", path);
    }
    const char *files[] = {"shared/data/mnist/train-images-idx3-ubyte.gz", "file"};
    for (size_t i = 0; i < 2; i++) {
        snprintf(path, sizeof path, "%s/%s", root, files[i]);
        FILE *f = fopen(path, "w");
        cr_assert_not_null(f, "create %s", path);
        fclose(f);
    }
    snprintf(path, sizeof path, "%s/repo/build", root);
    cr_assert_eq(chdir(path), 0);
    cr_assert_eq(unsetenv("AXON_DATA"), 0);
}

static void remove_tree(void) {
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", root);
    if (root[0] && system(cmd) != 0)
        cr_log_warn("could not remove %s", root);
}

static const char *at(const char *name) {
    static char path[PATH_MAX + 64];
    snprintf(path, sizeof path, "%s/%s", root, name);
    return path;
}

static void assert_message_has(const char *what) {
    cr_assert(strstr(ax_last_error(), what), "message \"%s\" does not mention \"%s\"",
              ax_last_error(), what);
}

TestSuite(datadir, .init = make_tree, .fini = remove_tree);

/* Without a named folder the parent search finds root/shared/data/mnist: the
 * tree is right, so the refusals below come from the named folder alone. */
Test(datadir, search_finds_the_tree) {
    char dir[PATH_MAX], expected[PATH_MAX + 64], real[PATH_MAX];
    cr_assert_not_null(realpath(root, real));
    snprintf(expected, sizeof expected, "%s/shared/data/mnist", real);
    AX_ASSERT_OK(ax_data_dir(NULL, "mnist", dir, sizeof dir));
    cr_assert_str_eq(dir, expected);
    cr_assert_eq(setenv("AXON_DATA", "", 1), 0); /* empty: as if unset */
    AX_ASSERT_OK(ax_data_dir("", "mnist", dir, sizeof dir));
    cr_assert_str_eq(dir, expected);
}

Test(datadir, named_folder_that_does_not_exist) {
    char dir[PATH_MAX], missing[PATH_MAX + 64], sub[PATH_MAX + 128];
    snprintf(missing, sizeof missing, "%s", at("nonexistent"));
    snprintf(sub, sizeof sub, "%s/mnist", missing);
    strcpy(dir, "untouched");
    AX_ASSERT_FAILS(ax_data_dir(missing, "mnist", dir, sizeof dir), AX_ERR_IO, "ax_data_dir");
    assert_message_has(missing);
    assert_message_has(sub);
    assert_message_has("does not exist");
    assert_message_has("train-images-idx3-ubyte.gz");
    assert_message_has("the folder given");
    cr_assert_str_eq(dir, "", "out must not hold a folder after a failure");
}

Test(datadir, named_folder_without_the_files_or_not_a_folder) {
    char dir[PATH_MAX], empty[PATH_MAX + 64];
    snprintf(empty, sizeof empty, "%s", at("empty"));
    AX_ASSERT_FAILS(ax_data_dir(empty, "mnist", dir, sizeof dir), AX_ERR_IO, "ax_data_dir");
    assert_message_has(empty);
    assert_message_has("holds none of");
    AX_ASSERT_FAILS(ax_data_dir(at("file"), "tinyshakespeare", dir, sizeof dir), AX_ERR_IO,
                    "ax_data_dir");
    assert_message_has("is not a folder");
    assert_message_has("input.txt");
}

Test(datadir, axon_data_that_lacks_the_dataset) {
    char dir[PATH_MAX], missing[PATH_MAX + 64];
    snprintf(missing, sizeof missing, "%s", at("nonexistent"));
    cr_assert_eq(setenv("AXON_DATA", missing, 1), 0);
    AX_ASSERT_FAILS(ax_data_dir(NULL, "mnist", dir, sizeof dir), AX_ERR_IO, "ax_data_dir");
    assert_message_has("$AXON_DATA");
    assert_message_has(missing);
    assert_message_has("does not exist");
    /* the explicit folder wins: a good one is used, AXON_DATA not consulted */
    AX_ASSERT_OK(ax_data_dir(at("shared/data"), "mnist", dir, sizeof dir));
    cr_assert_str_eq(dir, at("shared/data/mnist"));
}

/* A named folder that holds the dataset itself, or in <dataset>/. */
Test(datadir, named_folder_holding_the_dataset) {
    char dir[PATH_MAX], base[PATH_MAX + 64];
    snprintf(base, sizeof base, "%s", at("shared/data/mnist"));
    cr_assert_eq(setenv("AXON_DATA", base, 1), 0);
    AX_ASSERT_OK(ax_data_dir(NULL, "mnist", dir, sizeof dir));
    cr_assert_str_eq(dir, base);
}
