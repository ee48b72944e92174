#!/usr/bin/env python3
"""Golden cases for axon's optimizers and learning-rate schedules, computed by PyTorch.

Writes tests/golden/optim/*.txt in the format of gen_dense.py (read by
tests/support/golden.c, checked by tests/test_optim.c):
  grads.txt       the fixed problem: initial parameters w0 [5, 3] and w1 [3], and the
                  gradients g0 [N, 5, 3], g1 [N, 3] fed at steps 1..N
  <case>.txt      one optimizer variant: its hyperparameters as one-element tensors (named as
                  the fields of the ax_*_config structs, flags as 0/1) and the parameters after
                  every step, w0 [N, 5, 3] and w1 [N, 3]
  schedules.txt   the learning rate at steps 0..T-1 of each schedule, as PyTorch's schedulers
                  give it (the lr the optimizer uses at that step)
  long_grads.txt  a longer problem: w0 [5, 3], w1 [3] and LONG_STEPS gradients
  long_<case>.txt LONG_STEPS steps with PyTorch's default betas / alpha / rho (0.999, 0.99,
                  0.9: f32 arithmetic on them, e.g. 1 - 0.999f = 9.99987e-4, drifts by ~1e-5
                  relative): hyperparameters, the parameters after every LONG_EVERY steps
                  (w0 [K, 5, 3], w1 [K, 3]) and the final state under PyTorch's names with the
                  parameter's index appended (exp_avg_sq0, exp_avg_sq1, ...)

Single-tensor implementations (foreach=False), float32 on the CPU, fixed seeds.
Usage: python3 tests/golden/gen_optim.py [out_dir]   (default: tests/golden/optim)
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_dense  # noqa: E402  (write_case and the file format)

torch.set_default_dtype(torch.float32)
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "optim")
gen_dense.OUT = OUT

STEPS = 10
LONG_STEPS = 300
LONG_EVERY = 50

# name -> (torch class, kwargs); the C test reads the kwargs back from the file.
CASES = {
    "sgd": (torch.optim.SGD, dict(lr=0.1)),
    "sgd_weight_decay": (torch.optim.SGD, dict(lr=0.1, weight_decay=0.1)),
    "sgd_momentum": (torch.optim.SGD, dict(lr=0.05, momentum=0.9, dampening=0.1)),
    "sgd_nesterov": (torch.optim.SGD, dict(lr=0.05, momentum=0.9, nesterov=True,
                                           weight_decay=0.01)),
    "adagrad": (torch.optim.Adagrad, dict(lr=0.1)),
    "adagrad_decay": (torch.optim.Adagrad, dict(lr=0.1, lr_decay=0.05, weight_decay=0.1,
                                                initial_accumulator_value=0.1, eps=1e-6)),
    "adadelta": (torch.optim.Adadelta, dict()),
    "adadelta_weight_decay": (torch.optim.Adadelta, dict(lr=0.5, rho=0.8, eps=1e-5,
                                                         weight_decay=0.1)),
    "rmsprop": (torch.optim.RMSprop, dict(lr=0.01)),
    "rmsprop_momentum": (torch.optim.RMSprop, dict(lr=0.01, alpha=0.9, momentum=0.9,
                                                   weight_decay=0.05)),
    "rmsprop_centered": (torch.optim.RMSprop, dict(lr=0.01, centered=True, momentum=0.5)),
    "adam": (torch.optim.Adam, dict(lr=0.05)),
    "adam_weight_decay": (torch.optim.Adam, dict(lr=0.05, betas=(0.8, 0.99), weight_decay=0.1)),
    # beta2 = 0.9 lets v fall below its running maximum within 10 steps, so amsgrad matters
    "adam_amsgrad": (torch.optim.Adam, dict(lr=0.05, betas=(0.9, 0.9), amsgrad=True)),
    "adamw": (torch.optim.AdamW, dict(lr=0.05)),
    "adamw_amsgrad": (torch.optim.AdamW, dict(lr=0.05, betas=(0.9, 0.9), weight_decay=0.2,
                                              amsgrad=True)),
}


def write_case(name, comment, tensors):
    """gen_dense.write_case, with this script named in the header."""
    gen_dense.write_case(name, comment, tensors)
    path = os.path.join(OUT, name + ".txt")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace("gen_dense.py", "gen_optim.py", 1))


def problem():
    torch.manual_seed(7)
    w0, w1 = torch.randn(5, 3), torch.randn(3)
    # gradients of varied scale and sign, so the adaptive rules see different magnitudes
    g0 = torch.randn(STEPS, 5, 3) * torch.linspace(0.1, 2.0, STEPS).reshape(STEPS, 1, 1)
    g1 = torch.randn(STEPS, 3)
    return w0, w1, g0, g1


def hyperparameters(kwargs):
    """kwargs as (name, one-element tensor), betas split into beta1 and beta2."""
    out = []
    for k, v in kwargs.items():
        if k == "betas":
            out += [("beta1", gen_dense.scalar(v[0])), ("beta2", gen_dense.scalar(v[1]))]
        else:
            out.append((k, gen_dense.scalar(float(v))))
    return out


def trajectory(cls, kwargs, w0, w1, g0, g1, every):
    """Steps over all of g0, g1: (w0, w1) every `every` steps, and the final state as
    (PyTorch's key + parameter index, tensor)."""
    p0, p1 = w0.clone().requires_grad_(), w1.clone().requires_grad_()
    opt = cls([p0, p1], foreach=False, **kwargs)
    traj0, traj1 = [], []
    for t in range(g0.shape[0]):
        p0.grad, p1.grad = g0[t].clone(), g1[t].clone()
        opt.step()
        if (t + 1) % every == 0:
            traj0.append(p0.detach().clone())
            traj1.append(p1.detach().clone())
    state = [(f"{key}{i}", v) for i, p in enumerate((p0, p1)) for key, v in opt.state[p].items()
             if torch.is_tensor(v) and v.shape == p.shape]
    return [("w0", torch.stack(traj0)), ("w1", torch.stack(traj1))], state


def optimizer_cases():
    w0, w1, g0, g1 = problem()
    write_case("grads", "initial parameters and the gradient of every step",
                         [("w0", w0), ("w1", w1), ("g0", g0), ("g1", g1)])
    for name, (cls, kwargs) in CASES.items():
        traj, _ = trajectory(cls, kwargs, w0, w1, g0, g1, 1)
        write_case(name, f"{cls.__name__}({kwargs}): parameters after each step",
                   hyperparameters(kwargs) + traj)


# The long cases: defaults where the drift of f32 hyperparameter arithmetic shows.
LONG_CASES = {
    "long_adam": (torch.optim.Adam, dict(lr=0.01)),
    "long_adam_amsgrad": (torch.optim.Adam, dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    "long_adamw": (torch.optim.AdamW, dict(lr=0.01)),
    "long_rmsprop": (torch.optim.RMSprop, dict(lr=0.001, centered=True, momentum=0.9)),
    "long_adadelta": (torch.optim.Adadelta, dict(lr=0.5)),
    "long_adagrad": (torch.optim.Adagrad, dict(lr=0.05, lr_decay=0.01)),
    "long_sgd": (torch.optim.SGD, dict(lr=0.01, momentum=0.9, dampening=0.1, weight_decay=0.001)),
}


def long_cases():
    torch.manual_seed(9)
    w0, w1 = torch.randn(5, 3), torch.randn(3)
    # gradients around a drifting mean, so the running averages are far from 0 and 1
    g0 = torch.randn(LONG_STEPS, 5, 3) * 0.5 + torch.linspace(-1.0, 1.0, 15).reshape(1, 5, 3)
    g1 = torch.randn(LONG_STEPS, 3) * 0.3 + 0.2
    write_case("long_grads", f"initial parameters and {LONG_STEPS} gradients",
               [("w0", w0), ("w1", w1), ("g0", g0), ("g1", g1)])
    for name, (cls, kwargs) in LONG_CASES.items():
        traj, state = trajectory(cls, kwargs, w0, w1, g0, g1, LONG_EVERY)
        write_case(name, f"{cls.__name__}({kwargs}), {LONG_STEPS} steps: parameters every "
                   f"{LONG_EVERY} steps, final state", hyperparameters(kwargs) + traj + state)


def schedule_cases():
    T = 30
    S = torch.optim.lr_scheduler

    def lrs(make):
        opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
        sched = make(opt)
        out = []
        for _ in range(T):
            out.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        return torch.tensor(out, dtype=torch.float64).to(torch.float32)

    def warm(opt, main, steps=5, start=0.25):
        first = S.LinearLR(opt, start_factor=start, end_factor=1.0, total_iters=steps)
        return S.SequentialLR(opt, [first, main(opt)], milestones=[steps])

    write_case("schedules", "lr at steps 0..29 with base lr 0.1", [
        ("step", lrs(lambda o: S.StepLR(o, step_size=3, gamma=0.5))),
        ("exponential", lrs(lambda o: S.ExponentialLR(o, gamma=0.9))),
        ("cosine", lrs(lambda o: S.CosineAnnealingLR(o, T_max=10, eta_min=0.001))),
        ("warmup", lrs(lambda o: S.LinearLR(o, start_factor=0.25, total_iters=5))),
        ("warmup_cosine", lrs(lambda o: warm(o, lambda p: S.CosineAnnealingLR(p, T_max=20)))),
        ("warmup_step", lrs(lambda o: warm(o, lambda p: S.StepLR(p, step_size=4, gamma=0.5)))),
    ])


if __name__ == "__main__":
    optimizer_cases()
    schedule_cases()
    long_cases()
