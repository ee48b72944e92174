/* The registry of live handles (handles.h): an open-addressing hash set of pointers with
 * linear probing, under a read-write lock (checks read, creates and destroys write). */
#include "handles.h"

#include <pthread.h>
#include <stdlib.h>

#include "alloc.h"

#define DELETED (-1) /* kind of a removed entry: probing goes on past it */

typedef struct entry {
    const void *p;
    int kind; /* 0: empty, DELETED, or an ax_handle_kind */
} entry;

static pthread_rwlock_t lock = PTHREAD_RWLOCK_INITIALIZER;
static entry *table; /* cap entries, cap a power of two (0 before the first handle) */
static size_t cap, used, live; /* used: live + deleted entries */
static int64_t counts[AX_HANDLE_KINDS];

static const char *const kind_names[AX_HANDLE_KINDS] = {
    [AX_HANDLE_CTX] = "context",         [AX_HANDLE_TENSOR] = "tensor",
    [AX_HANDLE_GRAPH] = "graph",         [AX_HANDLE_NODE] = "node",
    [AX_HANDLE_OPTIMIZER] = "optimizer", [AX_HANDLE_LOADER] = "data loader",
    [AX_HANDLE_TEXT] = "text dataset",   [AX_HANDLE_SAFETENSORS] = "safetensors file",
};

/* Mix the address bits (allocations are aligned, so the low bits alone collide). */
static size_t hash(const void *p) {
    uint64_t x = (uint64_t)(uintptr_t)p;
    x ^= x >> 33;
    x *= UINT64_C(0xff51afd7ed558ccd);
    x ^= x >> 33;
    return (size_t)x;
}

/* The entry holding p, or NULL. Terminates: the table always has an empty entry. */
static entry *find(const void *p) {
    if (!cap)
        return NULL;
    for (size_t i = hash(p) & (cap - 1);; i = (i + 1) & (cap - 1)) {
        if (table[i].kind == 0)
            return NULL;
        if (table[i].kind > 0 && table[i].p == p)
            return &table[i];
    }
}

/* Put p in the first free (empty or deleted) entry of its probe sequence; 1 when that entry
 * was empty (one more used). */
static int insert(entry *t, size_t size, const void *p, int kind) {
    size_t i = hash(p) & (size - 1);
    while (t[i].kind > 0)
        i = (i + 1) & (size - 1);
    int was_empty = t[i].kind == 0;
    t[i].p = p;
    t[i].kind = kind;
    return was_empty;
}

/* Room for one more entry with at most 3/4 of the table used; rebuilding drops the deleted
 * entries and leaves the live ones at most half the table. 0 when out of memory. */
static int reserve(void) {
    if ((used + 1) * 4 <= cap * 3)
        return 1;
    size_t size = cap ? cap : 64;
    while ((live + 1) * 2 > size)
        size *= 2;
    entry *t = ax_calloc(size, sizeof *t);
    if (!t)
        return 0;
    for (size_t i = 0; i < cap; i++)
        if (table[i].kind > 0)
            insert(t, size, table[i].p, table[i].kind);
    free(table);
    table = t;
    cap = size;
    used = live;
    return 1;
}

ax_status ax_handle_add(const char *fn, const void *p, ax_handle_kind kind) {
    pthread_rwlock_wrlock(&lock);
    int ok = reserve();
    if (ok) {
        entry *e = find(p);
        if (e) { /* cannot happen for a fresh allocation; keep the set consistent anyway */
            counts[e->kind]--;
            e->kind = (int)kind;
        } else {
            used += (size_t)insert(table, cap, p, (int)kind);
            live++;
        }
        counts[kind]++;
    }
    pthread_rwlock_unlock(&lock);
    if (!ok)
        return ax_fail(AX_ERR_OOM, fn, "out of host memory for the handle registry");
    return AX_OK;
}

int ax_handle_remove(const void *p, ax_handle_kind kind) {
    if (!p)
        return 0;
    pthread_rwlock_wrlock(&lock);
    entry *e = find(p);
    int was_live = e && e->kind == (int)kind;
    if (was_live) {
        e->kind = DELETED;
        live--;
        counts[kind]--;
    }
    pthread_rwlock_unlock(&lock);
    return was_live;
}

int ax_handle_live(const void *p, ax_handle_kind kind) {
    if (!p)
        return 0;
    pthread_rwlock_rdlock(&lock);
    const entry *e = find(p);
    int ok = e && e->kind == (int)kind;
    pthread_rwlock_unlock(&lock);
    return ok;
}

ax_status ax_handle_check(const char *fn, const void *p, ax_handle_kind kind, const char *name) {
    if (!p)
        return ax_fail(AX_ERR_INVALID_ARG, fn, "%s is NULL", name);
    if (!ax_handle_live(p, kind))
        return ax_fail(AX_ERR_STATE, fn, "%s is not a live %s (destroyed, or never created)",
                       name, kind_names[kind]);
    return AX_OK;
}

int64_t ax_handle_count(ax_handle_kind kind) {
    pthread_rwlock_rdlock(&lock);
    int64_t n = counts[kind];
    pthread_rwlock_unlock(&lock);
    return n;
}

ax_status ax_check_ctx(const char *fn, const ax_ctx *ctx) {
    return ax_handle_check(fn, ctx, AX_HANDLE_CTX, "ctx");
}

ax_status ax_check_live(const char *fn, const ax_tensor *t, const char *name) {
    AX_TRY(ax_handle_check(fn, t, AX_HANDLE_TENSOR, name));
    /* A live tensor holds a reference to its context, so t->ctx is still allocated. */
    if (atomic_load(&t->ctx->destroyed))
        return ax_fail(AX_ERR_STATE, fn, "%s belongs to a destroyed context", name);
    return AX_OK;
}
