/* Where the datasets live: --data DIR, else $AXON_DATA, else ../shared/data relative to the
 * current directory and to each of its parents. A folder the user named (the first two) must
 * hold the dataset: it is never passed over for the next place. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "axon/io.h"
#include "../core/internal.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

typedef struct dataset_info {
    const char *name;
    const char *const *files; /* a folder holding any of these holds the dataset */
    const char *how;          /* how to get it */
} dataset_info;

static const char *const mnist_files[] = {"train-images-idx3-ubyte.gz", "train-images-idx3-ubyte",
                                          "t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte",
                                          NULL};
static const char *const text_files[] = {"input.txt", NULL};

static const dataset_info datasets[] = {
    {"mnist", mnist_files,
     "to get MNIST, download its four gz files (train-images-idx3-ubyte.gz, "
     "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) from "
     "the MNIST page (http://yann.lecun.com/exdb/mnist/ or a mirror) into DIR/mnist and pass "
     "--data DIR or set AXON_DATA=DIR"},
    {"tinyshakespeare", text_files,
     "to get it, download input.txt of char-rnn's tinyshakespeare "
     "(https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/"
     "input.txt) into DIR/tinyshakespeare, then pass --data DIR or set AXON_DATA=DIR"},
};

/* The search: the dataset, the answer, and every place looked at so far. */
typedef struct search {
    const dataset_info *info;
    char *out;
    size_t size;
    int found;
    ax_status status;
    char looked[4096];
} search;

static int holds_files(const char *dir, const char *const *files) {
    char path[PATH_MAX];
    for (int i = 0; files[i]; i++) {
        int n = snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        if (n > 0 && (size_t)n < sizeof path && access(path, F_OK) == 0)
            return 1;
    }
    return 0;
}

/* Look in one folder: does it hold the dataset's files? */
static void look_in(search *s, const char *dir) {
    if (s->found)
        return;
    size_t used = strlen(s->looked);
    snprintf(s->looked + used, sizeof s->looked - used, "%s%s", used ? ", " : "", dir);
    if (!holds_files(dir, s->info->files))
        return;
    s->found = 1;
    size_t len = strlen(dir);
    if (len >= s->size)
        s->status = ax_fail(AX_ERR_INVALID_ARG, "ax_data_dir",
                            "found '%s' but out has room for %zu bytes, not %zu", dir, s->size,
                            len + 1);
    else
        memcpy(s->out, dir, len + 1);
}

/* Look in base/<dataset>, then in base itself. */
static void look_in_base(search *s, const char *base) {
    char dir[PATH_MAX];
    if (!base || !*base || s->found)
        return;
    int n = snprintf(dir, sizeof dir, "%s/%s", base, s->info->name);
    if (n > 0 && (size_t)n < sizeof dir)
        look_in(s, dir);
    look_in(s, base);
}

/* ../shared/data relative to the current directory and to each of its parents, that is
 * P/shared/data for every proper ancestor P of the current directory. */
static void look_up_from_cwd(search *s) {
    char dir[PATH_MAX], base[PATH_MAX + 16];
    if (!getcwd(dir, sizeof dir))
        return;
    for (char *slash = strrchr(dir, '/'); slash && !s->found; slash = strrchr(dir, '/')) {
        if (slash == dir) {
            look_in_base(s, "/shared/data");
            break;
        }
        *slash = '\0';
        snprintf(base, sizeof base, "%s/shared/data", dir);
        look_in_base(s, base);
    }
}

/* The failure for base, named by the user as `what`, that does not hold the dataset: it is
 * missing, not a folder, or holds none of its files in base/<dataset> or base. */
static ax_status named_folder_lacks(const search *s, const char *what, const char *base) {
    struct stat st;
    const char *why = "holds none of";
    if (stat(base, &st) != 0)
        why = errno == ENOENT ? "does not exist; looked for" : "cannot be read; looked for";
    else if (!S_ISDIR(st.st_mode))
        why = "is not a folder; looked for";
    char files[512] = "";
    for (int i = 0; s->info->files[i]; i++) {
        size_t used = strlen(files);
        snprintf(files + used, sizeof files - used, "%s%s", i ? ", " : "", s->info->files[i]);
    }
    return ax_fail(AX_ERR_IO, "ax_data_dir",
                   "%s '%s' %s %s in %s/%s or in %s itself, so dataset '%s' is not there; %s",
                   what, base, why, files, base, s->info->name, base, s->info->name,
                   s->info->how);
}

ax_status ax_data_dir(const char *explicit_dir, const char *dataset, char *out, size_t size) {
    if (!dataset || !out || size == 0)
        return AX_FAIL(AX_ERR_INVALID_ARG, "dataset and out must not be NULL, size not 0");
    search s = {NULL, out, size, 0, AX_OK, ""};
    for (size_t i = 0; i < sizeof datasets / sizeof datasets[0]; i++)
        if (strcmp(datasets[i].name, dataset) == 0)
            s.info = &datasets[i];
    if (!s.info)
        return AX_FAIL(AX_ERR_INVALID_ARG, "unknown dataset '%s' (known: mnist, tinyshakespeare)",
                       dataset);
    out[0] = '\0';
    const char *env = getenv("AXON_DATA");
    const char *named = explicit_dir && *explicit_dir ? explicit_dir : env && *env ? env : NULL;
    if (named) {
        look_in_base(&s, named);
        if (s.found)
            return s.status;
        return named_folder_lacks(&s, named == explicit_dir ? "the folder given" : "$AXON_DATA",
                                  named);
    }
    look_up_from_cwd(&s);
    if (s.found)
        return s.status;
    return AX_FAIL(AX_ERR_IO, "dataset '%s' not found; %s. Looked in: %s", dataset, s.info->how,
                   s.looked);
}
