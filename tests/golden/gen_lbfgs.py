#!/usr/bin/env python3
"""Golden trajectories of torch.optim.LBFGS for axon's ax_lbfgs_minimize.

For K = 1 .. iters, a fresh LBFGS(max_iter=K) runs one step() from x0: that is the first K
iterations of one long run, so row K-1 of `xs` is the iterate after K iterations and
evals[K-1] the objective evaluations PyTorch made (state["func_evals"]).
Read by tests/test_second_order.c (format: see gen_dense.py).

Cases:
  rosenbrock_wolfe    f = (1 - a)^2 + 100 (b - a^2)^2 from (-1.2, 1), strong Wolfe, history 100
  rosenbrock_wolfe_m3 the same with history_size = 3 (the history wraps)
  quadratic_fixed     f = 1/2 x^T A x - b^T x, no line search, lr = 1 (eigenvalues of A < 2)

Sequence cases (seq_*): one run with a fixed max_eval, so that the runs with max_iter = K are
prefixes of the longest. The objective is evaluated in double from the f32 point and rounded
to f32 (loss and gradient), exactly as the C test evaluates it, so both sides see the same
numbers and any difference comes from the optimizer. Each file holds
  x0, max_iter, max_eval, history_size, lr, wolfe (1: strong Wolfe, 0: none)
  ex [E, n], ef [E]   every point the objective was called at, in order, and its loss
  xs [K, n]           the iterate after iteration k = 1..K (max_iter = k)
  ts [K]              the step length t of iteration k (state["t"])
  n_iter [K]          state["n_iter"] after max_iter = k (stops early: below k)
  evals [K]           state["func_evals"] after max_iter = k
plus the problem's data. Problems:
  seq_rosenbrock_wolfe   Rosenbrock from (-1.2, 1), strong Wolfe, history 5, 15 iterations:
                         zoom phases, interpolation, the history wrapping (PyTorch's f32
                         steps are fused multiply-adds, ours are not: the valley amplifies
                         that ulp, so longer runs drift apart by more than a test can allow)
  seq_logreg_wolfe       L2-regularized logistic regression (30 samples, 4 features + bias),
                         strong Wolfe from lr 0.25: every search extrapolates
  seq_logreg_fixed       the same without a line search (lr 1)
  seq_wiggly_wolfe       sum_i x_i^2 / 2 + 0.3 sin(5 x_i + i) from (2, -1.5), strong Wolfe, lr 3:
                         many local minima, so the zoom meets its insufficient-progress rule
  seq_huber_skip         sum_i huber(x_i - c_i) (delta 1) from far away, no line search:
                         the gradient is constant in the linear part, so y = 0 and PyTorch
                         skips the pairs (y.s <= 1e-10) until x reaches the quadratic part

Usage: python3 tests/golden/gen_lbfgs.py [out_dir]   (default: tests/golden/lbfgs)
"""
import math
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_dense  # noqa: E402  (write_case and the file format)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "lbfgs")
gen_dense.OUT = OUT


def write_named(script, name, comment, tensors):
    """gen_dense.write_case into gen_dense.OUT, with `script` named in the header."""
    gen_dense.write_case(name, comment, tensors)
    path = os.path.join(gen_dense.OUT, name + ".txt")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace("gen_dense.py", script, 1))


def write_case(name, comment, tensors):
    write_named("gen_lbfgs.py", name, comment, tensors)


def rosenbrock(x):
    return (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2


def trajectory(f, x0, iters, **kw):
    xs, evals, losses = [], [], []
    for k in range(1, iters + 1):
        x = x0.clone().requires_grad_(True)
        opt = torch.optim.LBFGS([x], max_iter=k, **kw)

        def closure():
            opt.zero_grad()
            loss = f(x)
            loss.backward()
            return loss

        opt.step(closure)
        xs.append(x.detach().clone())
        evals.append(opt.state[opt._params[0]]["func_evals"])
        losses.append(float(f(x.detach())))
    return torch.stack(xs), torch.tensor(evals, dtype=torch.int32), torch.tensor(losses)


def main():
    torch.set_default_dtype(torch.float32)
    x0 = torch.tensor([-1.2, 1.0])
    for name, m in (("rosenbrock_wolfe", 100), ("rosenbrock_wolfe_m3", 3)):
        xs, evals, losses = trajectory(rosenbrock, x0, 12, history_size=m,
                                       line_search_fn="strong_wolfe")
        write_case(name, f"LBFGS(history_size={m}, line_search_fn='strong_wolfe') on Rosenbrock",
                   [("x0", x0), ("history_size", torch.tensor([float(m)])), ("xs", xs),
                    ("evals", evals), ("losses", losses)])

    torch.manual_seed(5)
    n = 5
    m = torch.randn(n, n)
    a = m.T @ m
    a = a / torch.linalg.eigvalsh(a).max() + 0.1 * torch.eye(n)  # eigenvalues in (0.1, 1.1]
    b = torch.randn(n)
    xq0 = torch.zeros(n)
    xs, evals, losses = trajectory(lambda x: 0.5 * x @ (a @ x) - b @ x, xq0, 8)
    write_case("quadratic_fixed", "LBFGS() (lr 1, no line search) on 1/2 x^T A x - b^T x",
               [("x0", xq0), ("a", a), ("b", b), ("xs", xs), ("evals", evals), ("losses", losses)])


# ---------------------------------------------------------------- sequence cases

def f32_objective(fn):
    """A closure body for LBFGS from fn(x64) -> (f64, grad64): the loss and gradient computed in
    double from the f32 point and rounded to f32, as tests/test_second_order.c does."""
    def run(x):
        f, g = fn(x.detach().double())
        x.grad = g.float()
        return torch.tensor(f, dtype=torch.float64).float()
    return run


def rosenbrock64(x):
    a, b = float(x[0]), float(x[1])
    r = b - a * a
    f = (1.0 - a) * (1.0 - a) + 100.0 * r * r
    return f, torch.tensor([-2.0 * (1.0 - a) - 400.0 * a * r, 200.0 * r], dtype=torch.float64)


def logreg_problem():
    """30 samples of 4 features and a constant 1, labels from a noisy linear rule."""
    g = torch.Generator().manual_seed(11)
    feats = torch.randn(30, 4, generator=g)
    a = torch.cat([feats, torch.ones(30, 1)], 1)
    w_true = torch.tensor([1.5, -2.0, 0.5, 1.0, 0.25])
    y = ((a @ w_true + 0.5 * torch.randn(30, generator=g)) > 0).float()
    return a, y, 1e-2


def logreg64(a, y, lam):
    """f(w) = mean_i [softplus(z_i) - y_i z_i] + lam/2 |w|^2, z = A w, in double."""
    a64, y64 = a.double(), y.double()

    def fn(w):
        z = a64 @ w
        sp = torch.where(z > 0, z + torch.log1p(torch.exp(-z)), torch.log1p(torch.exp(z)))
        f = float((sp - y64 * z).mean() + 0.5 * lam * (w @ w))
        s = torch.sigmoid(z)
        return f, a64.T @ (s - y64) / a.shape[0] + lam * w
    return fn


def huber64(c):
    c64 = c.double()

    def fn(x):
        r = x - c64
        quad = r.abs() < 1.0
        f = float(torch.where(quad, 0.5 * r * r, r.abs() - 0.5).sum())
        return f, torch.where(quad, r, torch.sign(r))
    return fn


def wiggly64(x):
    """sum_i x_i^2 / 2 + 0.3 sin(5 x_i + i), with the C library's sin and cos (as in C)."""
    f, g = 0.0, []
    for i, xi in enumerate(x.tolist()):
        f += 0.5 * xi * xi + 0.3 * math.sin(5.0 * xi + i)
        g.append(xi + 1.5 * math.cos(5.0 * xi + i))
    return f, torch.tensor(g, dtype=torch.float64)


def sequence(fn, x0, max_iter, max_eval, history, lr, wolfe):
    """Every evaluation of one run with max_iter, and per k = 1..max_iter the run stopped there."""
    ls = "strong_wolfe" if wolfe else None
    body = f32_objective(fn)

    def run(k, record):
        x = x0.clone().requires_grad_(True)
        opt = torch.optim.LBFGS([x], lr=lr, max_iter=k, max_eval=max_eval,
                                history_size=history, line_search_fn=ls)

        def closure():
            if record is not None:
                record.append(x.detach().clone())
            return body(x)

        opt.step(closure)
        st = opt.state[opt._params[0]]
        return x.detach().clone(), float(st.get("t", 0.0)), st["n_iter"], st["func_evals"]

    points = []
    run(max_iter, points)
    ef = torch.tensor([float(body(p.clone().requires_grad_(True))) for p in points])
    xs, ts, n_iter, evals = [], [], [], []
    for k in range(1, max_iter + 1):
        x, t, n, e = run(k, None)
        xs.append(x)
        ts.append(t)
        n_iter.append(n)
        evals.append(e)
    return [("x0", x0), ("max_iter", gen_dense.scalar(max_iter)),
            ("max_eval", gen_dense.scalar(max_eval)), ("history_size", gen_dense.scalar(history)),
            ("lr", gen_dense.scalar(lr)), ("wolfe", gen_dense.scalar(1.0 if wolfe else 0.0)),
            ("ex", torch.stack(points)), ("ef", ef), ("xs", torch.stack(xs)),
            ("ts", torch.tensor(ts)), ("n_iter", torch.tensor(n_iter, dtype=torch.int32)),
            ("evals", torch.tensor(evals, dtype=torch.int32))]


def sequence_cases():
    x0 = torch.tensor([-1.2, 1.0])
    write_case("seq_rosenbrock_wolfe", "LBFGS(history_size=5, strong Wolfe) on Rosenbrock, "
               "objective in double rounded to f32",
               sequence(rosenbrock64, x0, 15, 60, 5, 1.0, True))
    a, y, lam = logreg_problem()
    data = [("a", a), ("y", y), ("lambda", gen_dense.scalar(lam))]
    w0 = torch.zeros(5)
    write_case("seq_logreg_wolfe", "LBFGS(lr=0.25, strong Wolfe) on L2-regularized logistic "
               "regression", data + sequence(logreg64(a, y, lam), w0, 15, 80, 100, 0.25, True))
    write_case("seq_logreg_fixed", "LBFGS() (lr 1, no line search) on the same",
               data + sequence(logreg64(a, y, lam), w0, 15, 60, 100, 1.0, False))
    write_case("seq_wiggly_wolfe", "LBFGS(lr=3, strong Wolfe) on sum x^2/2 + 0.3 sin(5 x + i)",
               sequence(wiggly64, torch.tensor([2.0, -1.5]), 10, 60, 100, 3.0, True))
    c = torch.tensor([0.5, -0.25, 1.0])
    xh0 = torch.tensor([6.0, -5.0, 4.5])
    write_case("seq_huber_skip", "LBFGS() (lr 1, no line search) on sum huber(x - c): pairs "
               "with y.s <= 1e-10 skipped", [("c", c)] +
               sequence(huber64(c), xh0, 12, 40, 100, 1.0, False))


if __name__ == "__main__":
    main()
    sequence_cases()
