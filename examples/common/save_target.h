/* Where an example may write its checkpoint: checked before training, and a place to keep the
 * weights when writing them at the end fails after all. */
#ifndef EXAMPLES_SAVE_TARGET_H
#define EXAMPLES_SAVE_TARGET_H

#include <stddef.h>

/* 0 when a checkpoint can be written at path: path is not empty, not a folder and not another
 * non-regular file (a device such as /dev/full, a pipe, a socket: never replaced), and its
 * folder exists and takes a new file (tried by creating and removing one there, which also
 * catches a read-only file system). Otherwise -1 and the reason, naming path, in why. */
int save_target_check(const char *path, char *why, size_t size);

/* Keep the weights somewhere after saving to `path` failed: calls save(arg, candidate) for
 * "<dir>/<stem>-<pid>.safetensors" in $TMPDIR, /tmp and the current folder in turn, until one
 * returns 0. Returns 0 and the path that worked in kept, or -1 when none did. */
int save_target_rescue(int (*save)(void *arg, const char *path), void *arg, const char *stem,
                       char *kept, size_t size);

#endif
