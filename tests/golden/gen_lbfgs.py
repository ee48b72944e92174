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

Usage: python3 tests/golden/gen_lbfgs.py [out_dir]   (default: tests/golden/lbfgs)
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_dense  # noqa: E402  (write_case and the file format)

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "lbfgs")
gen_dense.OUT = OUT


def write_case(name, comment, tensors):
    """gen_dense.write_case, with this script named in the header."""
    gen_dense.write_case(name, comment, tensors)
    path = os.path.join(OUT, name + ".txt")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace("gen_dense.py", "gen_lbfgs.py", 1))


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


if __name__ == "__main__":
    main()
