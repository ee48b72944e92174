/* Checkpoints (include/axon/io.h) of graphs (parameters and buffers under their PyTorch
 * names) and optimizers (their state per parameter and the step), on the safetensors format
 * (safetensors.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "axon/io.h"

#include "../core/alloc.h"
#include "../core/handles.h"
#include "../core/internal.h"
#include "../graph/graph_internal.h"
#include "../optim/optim_state.h"
#include "safetensors_internal.h"

/* Put the current message of a failed inner call behind fn and what. */
static ax_status rewrap(ax_status status, const char *fn, const char *what) {
    return ax_fail(status, fn, "%s: %s", what, ax_last_error());
}

/* The graph's state as items, malloc'ed (the names and tensors are the graph's): its
 * parameters, then its buffers, as PyTorch's state_dict holds them. */
static ax_status graph_items(const char *fn, ax_graph *g, ax_st_item **items, int *n) {
    *n = g->n_params + g->n_buffers;
    *items = ax_calloc(*n ? (size_t)*n : 1, sizeof **items);
    if (!*items)
        return ax_fail(AX_ERR_OOM, fn, "out of memory");
    for (int i = 0; i < g->n_params; i++)
        (*items)[i] = (ax_st_item){g->params[i]->name, g->param_values[i], NULL};
    for (int i = 0; i < g->n_buffers; i++) {
        ax_buffer *b = &g->buffers[i];
        (*items)[g->n_params + i] = (ax_st_item){b->name, b->value, b->value ? NULL : &b->count};
    }
    return AX_OK;
}

ax_status ax_graph_save(ax_graph *g, const char *path) {
    AX_TRY(ax_graph_check(__func__, g));
    ax_st_item *items;
    int n;
    AX_TRY(graph_items(__func__, g, &items, &n));
    ax_status status = ax_st_write(__func__, path, n, items);
    free(items);
    return status;
}

ax_status ax_graph_load(ax_graph *g, const char *path) {
    AX_TRY(ax_graph_check(__func__, g));
    ax_st_item *items;
    int n;
    AX_TRY(graph_items(__func__, g, &items, &n));
    ax_status status = ax_st_load(__func__, path, n, items, "the graph");
    free(items);
    return status;
}

/* An optimizer's state for the parameters of g as named tensors: "<param>.<state>" for every
 * state tensor, then "step", an i32 [1] tensor on g's context (the caller destroys it). */
typedef struct optim_state {
    int n;
    char **names;
    ax_st_item *items; /* [n]: names[i] and its tensor */
    ax_tensor *step;
    ax_optimizer *made; /* the optimizer whose state was made here (it had not stepped) */
} optim_state;

/* Free s; when the call failed (status), drop the state it made: opt is as before. */
static ax_status optim_state_end(optim_state *s, ax_status status) {
    for (int i = 0; s->names && i < s->n; i++)
        free(s->names[i]);
    free(s->names);
    free(s->items);
    ax_tensor_destroy(s->step);
    if (status != AX_OK && s->made)
        ax_optimizer_state_drop(s->made);
    return status;
}

static ax_status optim_state_get(const char *fn, ax_optimizer *opt, ax_graph *g,
                                 optim_state *s) {
    memset(s, 0, sizeof *s);
    AX_TRY(ax_graph_check(fn, g));
    AX_TRY(ax_handle_check(fn, opt, AX_HANDLE_OPTIMIZER, "opt"));
    int had_state = ax_optimizer_has_state(opt);
    AX_TRY(ax_optimizer_state_prepare(fn, opt, g->n_params, g->param_values));
    s->made = had_state ? NULL : opt;
    size_t most = (size_t)g->n_params * AX_OPTIM_MAX_STATES + 1;
    s->names = ax_calloc(most, sizeof *s->names);
    s->items = ax_calloc(most, sizeof *s->items);
    int64_t one = 1;
    if (!s->names || !s->items)
        return ax_fail(AX_ERR_OOM, fn, "out of memory");
    ax_status status = ax_tensor_create(g->ctx, AX_I32, 1, &one, &s->step);
    if (status != AX_OK)
        return rewrap(status, fn, "the step counter");
    for (int i = 0; i < g->n_params; i++) {
        for (int k = 0; k < AX_OPTIM_MAX_STATES; k++) {
            const char *state;
            ax_tensor *t = ax_optimizer_state_tensor(opt, i, k, &state);
            if (!t)
                continue;
            size_t len = strlen(g->params[i]->name) + strlen(state) + 2;
            if (!(s->names[s->n] = ax_malloc(len)))
                return ax_fail(AX_ERR_OOM, fn, "out of memory");
            snprintf(s->names[s->n], len, "%s.%s", g->params[i]->name, state);
            s->items[s->n] = (ax_st_item){s->names[s->n], t, NULL};
            s->n++;
        }
    }
    s->names[s->n] = ax_strdup("step");
    if (!s->names[s->n])
        return ax_fail(AX_ERR_OOM, fn, "out of memory");
    s->items[s->n] = (ax_st_item){s->names[s->n], s->step, NULL};
    s->n++;
    return AX_OK;
}

ax_status ax_optimizer_save(ax_optimizer *opt, ax_graph *g, const char *path) {
    optim_state s;
    ax_status status = optim_state_get(__func__, opt, g, &s);
    int64_t *steps = status == AX_OK ? ax_optimizer_steps_ref(opt) : NULL;
    if (status == AX_OK && *steps > INT32_MAX)
        status = AX_FAIL(AX_ERR_UNSUPPORTED, "%lld steps do not fit the i32 step counter",
                         (long long)*steps);
    if (status == AX_OK) {
        int32_t step = (int32_t)*steps;
        status = ax_tensor_set_from_host(s.step, &step, sizeof step);
        if (status != AX_OK)
            status = rewrap(status, __func__, "the step counter");
    }
    if (status == AX_OK)
        status = ax_st_write(__func__, path, s.n, s.items);
    return optim_state_end(&s, status);
}

ax_status ax_optimizer_load(ax_optimizer *opt, ax_graph *g, const char *path) {
    optim_state s;
    ax_status status = optim_state_get(__func__, opt, g, &s);
    if (status == AX_OK)
        status = ax_st_load(__func__, path, s.n, s.items, "the optimizer");
    int32_t step = 0;
    if (status == AX_OK && (status = ax_tensor_to_host(s.step, &step, sizeof step)) != AX_OK)
        status = rewrap(status, __func__, "the step counter");
    if (status == AX_OK && step < 0)
        status = AX_FAIL(AX_ERR_FORMAT, "%s: the step counter is negative (%d)", path,
                         (int)step);
    if (status == AX_OK)
        *ax_optimizer_steps_ref(opt) = step;
    return optim_state_end(&s, status);
}
