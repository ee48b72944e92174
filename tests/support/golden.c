#include "golden.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static gd_case *read_fail(gd_case *c, FILE *f, char *err, size_t errlen, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(err, errlen, fmt, args);
    va_end(args);
    if (f)
        fclose(f);
    gd_free(c);
    return NULL;
}

/* Skip blank and '#' comment lines; 0 at the end of the file. */
static int next_header(FILE *f, char *line, size_t size) {
    while (fgets(line, (int)size, f)) {
        const char *p = line + strspn(line, " \t\r\n");
        if (*p && *p != '#')
            return 1;
    }
    return 0;
}

gd_case *gd_read(const char *path, char *err, size_t errlen) {
    gd_case *c = calloc(1, sizeof *c);
    if (!c)
        return read_fail(NULL, NULL, err, errlen, "out of memory");
    snprintf(c->path, sizeof c->path, "%s", path);
    FILE *f = fopen(path, "r");
    if (!f)
        return read_fail(c, NULL, err, errlen, "cannot open %s", path);
    char line[512];
    while (next_header(f, line, sizeof line)) {
        if (c->count == GD_MAX_TENSORS)
            return read_fail(c, f, err, errlen, "%s: more than %d tensors", path, GD_MAX_TENSORS);
        gd_tensor *t = &c->t[c->count++];
        char kind[8];
        int used = 0;
        if (sscanf(line, "%31s %7s %d%n", t->name, kind, &t->ndim, &used) != 3 || t->ndim < 0 ||
            t->ndim > AX_MAX_DIMS)
            return read_fail(c, f, err, errlen, "%s: bad header \"%s\"", path, line);
        t->dtype = strcmp(kind, "i32") == 0 ? AX_I32 : AX_F32;
        if (t->dtype == AX_F32 && strcmp(kind, "f32") != 0)
            return read_fail(c, f, err, errlen, "%s: %s has dtype %s", path, t->name, kind);
        t->numel = 1;
        const char *p = line + used;
        for (int d = 0; d < t->ndim; d++) {
            int n = 0;
            if (sscanf(p, "%lld%n", (long long *)&t->shape[d], &n) != 1 || t->shape[d] < 1)
                return read_fail(c, f, err, errlen, "%s: bad shape of %s", path, t->name);
            p += n;
            t->numel *= t->shape[d];
        }
        if (t->dtype == AX_F32)
            t->f = malloc((size_t)t->numel * sizeof *t->f);
        else
            t->i = malloc((size_t)t->numel * sizeof *t->i);
        if (!t->f && !t->i)
            return read_fail(c, f, err, errlen, "out of memory");
        for (int64_t e = 0; e < t->numel; e++) {
            int ok = t->f ? fscanf(f, "%f", &t->f[e]) : fscanf(f, "%d", &t->i[e]);
            if (ok != 1)
                return read_fail(c, f, err, errlen, "%s: %s has fewer than %lld values", path,
                                 t->name, (long long)t->numel);
        }
    }
    fclose(f);
    return c;
}

gd_case *gd_load(const char *area, const char *name) {
    char path[512], err[640];
    snprintf(path, sizeof path, "%s/%s/%s.txt", th_golden_dir(), area, name);
    gd_case *c = gd_read(path, err, sizeof err);
    cr_assert_not_null(c, "golden case: %s", err);
    return c;
}

const gd_tensor *gd_get(const gd_case *c, const char *name) {
    for (int k = 0; k < c->count; k++)
        if (strcmp(c->t[k].name, name) == 0)
            return &c->t[k];
    cr_assert_fail("%s has no tensor %s", c->path, name);
    return NULL;
}

float gd_scalar(const gd_case *c, const char *name) {
    const gd_tensor *t = gd_get(c, name);
    cr_assert(t->f && t->numel == 1, "%s: %s is not one f32 value", c->path, name);
    return t->f[0];
}

ax_tensor *gd_tensor_on(ax_ctx *ctx, const gd_case *c, const char *name) {
    const gd_tensor *t = gd_get(c, name);
    return t->f ? th_tensor(ctx, t->ndim, t->shape, t->f)
                : th_tensor_i32(ctx, t->ndim, t->shape, t->i);
}

void gd_assert_close(const ax_tensor *got, const gd_case *c, const char *name, double atol,
                     double rtol) {
    const gd_tensor *want = gd_get(c, name);
    cr_assert(want->f, "%s: %s is not f32", c->path, name);
    cr_assert_eq(ax_tensor_numel(got), want->numel, "%s: %s has %lld elements, expected %lld",
                 c->path, name, (long long)ax_tensor_numel(got), (long long)want->numel);
    float *host = th_to_host(got);
    char what[600];
    snprintf(what, sizeof what, "%s: %s", c->path, name);
    th_assert_close(host, want->f, want->numel, atol, rtol, what);
    free(host);
}

void gd_free(gd_case *c) {
    if (!c)
        return;
    for (int k = 0; k < c->count; k++) {
        free(c->t[k].f);
        free(c->t[k].i);
    }
    free(c);
}

int gd_assert_same_checkpoint(const char *got, const char *want, double atol, double rtol) {
    ax_safetensors *a, *b;
    AX_ASSERT_OK(ax_safetensors_open(got, &a));
    AX_ASSERT_OK(ax_safetensors_open(want, &b));
    cr_assert_eq(ax_safetensors_count(a), ax_safetensors_count(b), "%s and %s", got, want);
    int i64 = 0;
    for (int i = 0; i < ax_safetensors_count(b); i++) {
        ax_safetensors_entry w, g;
        int j;
        AX_ASSERT_OK(ax_safetensors_entry_get(b, i, &w));
        AX_ASSERT_OK(ax_safetensors_find(a, w.name, &j));
        AX_ASSERT_OK(ax_safetensors_entry_get(a, j, &g));
        cr_assert_str_eq(g.dtype_name, w.dtype_name, "%s", w.name);
        cr_assert_eq(g.ndim, w.ndim, "%s", w.name);
        for (int d = 0; d < w.ndim; d++)
            cr_assert_eq(g.shape[d], w.shape[d], "%s dim %d", w.name, d);
        const void *gd, *wd;
        size_t gn, wn;
        AX_ASSERT_OK(ax_safetensors_raw(a, j, &gd, &gn));
        AX_ASSERT_OK(ax_safetensors_raw(b, i, &wd, &wn));
        cr_assert_eq(gn, wn, "%s", w.name);
        if (strcmp(w.dtype_name, "F32") != 0) {
            cr_assert_eq(memcmp(gd, wd, gn), 0, "%s", w.name);
            i64 += strcmp(w.dtype_name, "I64") == 0;
            continue;
        }
        for (size_t e = 0; e < gn / 4; e++) {
            float gv, wv;
            memcpy(&gv, (const char *)gd + 4 * e, 4);
            memcpy(&wv, (const char *)wd + 4 * e, 4);
            cr_assert(fabs((double)gv - wv) <= atol + rtol * fabs((double)wv),
                      "%s[%zu]: %g vs %g", w.name, e, (double)gv, (double)wv);
        }
    }
    ax_safetensors_close(a);
    ax_safetensors_close(b);
    return i64;
}
