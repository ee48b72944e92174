/* Internal access to a first-order optimizer's state, for checkpoints (src/host/io). */
#ifndef AX_OPTIM_STATE_H
#define AX_OPTIM_STATE_H

#include "axon/optim.h"

#define AX_OPTIM_MAX_STATES 3

/* Check params as a step would (n, f32, opt's context, the first step's shapes) and, when no
 * step has run yet, allocate their state as the first step would. fn names the public call. */
ax_status ax_optimizer_state_prepare(const char *fn, ax_optimizer *opt, int n,
                                     ax_tensor *const *params);

/* Whether opt has its state (a step or a prepare made it); drop it again, as before the
 * first step (a checkpoint call that prepared the state and then failed). */
int ax_optimizer_has_state(const ax_optimizer *opt);
void ax_optimizer_state_drop(ax_optimizer *opt);

/* After ax_optimizer_state_prepare: state k of parameter i, NULL when the variant keeps no
 * such state; *name is its key as in PyTorch's optimizer state ("exp_avg", "momentum_buffer",
 * ...). */
ax_tensor *ax_optimizer_state_tensor(ax_optimizer *opt, int i, int k, const char **name);

/* The optimizer's name ("adam", "sgd", ...) and its step counter, to save and restore. */
const char *ax_optimizer_family_name(const ax_optimizer *opt);
int64_t *ax_optimizer_steps_ref(ax_optimizer *opt);

#endif
