/* Checks a checkpoint's destination before hours of training depend on it. */
#define _POSIX_C_SOURCE 200809L

#include "save_target.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int save_target_check(const char *path, char *why, size_t size) {
    struct stat st;
    if (!path || !*path) {
        snprintf(why, size, "the checkpoint path is empty");
        return -1;
    }
    if (stat(path, &st) == 0) {
        if (S_ISDIR(st.st_mode)) {
            snprintf(why, size, "%s is a folder; give a file name, e.g. %s/model.safetensors",
                     path, path);
            return -1;
        }
        if (!S_ISREG(st.st_mode)) {
            snprintf(why, size,
                     "%s is not a regular file (a device, pipe or socket); refusing to replace it",
                     path);
            return -1;
        }
    }
    /* The folder: everything before the last '/', or "." */
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 1;
    if (n >= sizeof dir) {
        snprintf(why, size, "the folder of %s is too long a path", path);
        return -1;
    }
    memcpy(dir, slash ? path : ".", n);
    dir[n] = '\0';
    if (slash && n == 0)
        strcpy(dir, "/");
    if (stat(dir, &st) != 0) {
        snprintf(why, size, "cannot save to %s: the folder %s %s", path, dir,
                 errno == ENOENT ? "does not exist" : strerror(errno));
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(why, size, "cannot save to %s: %s is not a folder", path, dir);
        return -1;
    }
    /* Create and remove a file next to it: permissions, read-only mounts, ACLs all at once. */
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.axon-save-probe-%ld", dir, (long)getpid());
    int fd = open(probe, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (fd < 0) {
        snprintf(why, size, "cannot save to %s: cannot create a file in %s: %s", path, dir,
                 strerror(errno));
        return -1;
    }
    close(fd);
    unlink(probe);
    return 0;
}

int save_target_rescue(int (*save)(void *arg, const char *path), void *arg, const char *stem,
                       char *kept, size_t size) {
    const char *tmp = getenv("TMPDIR");
    const char *dirs[] = {tmp && *tmp ? tmp : "/tmp", "/tmp", "."};
    for (int i = 0; i < 3; i++) {
        if (i == 1 && strcmp(dirs[0], "/tmp") == 0)
            continue;
        int n = snprintf(kept, size, "%s/%s-%ld.safetensors", dirs[i], stem, (long)getpid());
        if (n > 0 && (size_t)n < size && save(arg, kept) == 0)
            return 0;
    }
    if (size)
        kept[0] = '\0';
    return -1;
}
