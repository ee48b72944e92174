#!/usr/bin/env python3
"""Golden iterates of scipy.optimize.minimize(method="Newton-CG") for axon's
ax_newton_cg_minimize (tests/test_second_order.c).

Each case is one scipy run with its defaults (xtol = avextol 1e-5, maxiter 200 n, c1 1e-4,
c2 0.9), in double, with the exact Hessian-vector product (hessp) or without one (scipy's
forward differences of the gradient). The callback records every iterate. Files hold
  x0, exact (1: hessp given, 0: finite differences)
  xs [K, n]   the iterate after iteration k = 1..K
  fs [K]      f there
  nit         scipy's iteration count (K)
plus the problem's data. Problems:
  rosenbrock_exact / rosenbrock_fd   f = (1 - a)^2 + 100 (b - a^2)^2 from (-1.2, 1): negative
                                     curvature early on, line searches that extrapolate
  logreg_exact / logreg_fd           the L2-regularized logistic regression of gen_lbfgs.py's
                                     seq_logreg_* cases, from 0
  quartic_exact                      f = -x + x^2/2 + 1.9998 x^3 - 1.49985 x^4 from 0: the Newton
                                     step lands on x = 1, where f' = 0 but f(1) = -5e-5 is short
                                     of sufficient decrease (-1e-4): the search must go on
  quartic_negative                   the same from 0.9, where f'' < 0: CG's first iteration
                                     meets negative curvature and returns the scaled steepest
                                     descent step -(g.g / |d.Hd|) g

Usage: python3 tests/golden/gen_newton_cg.py [out_dir]   (default: tests/golden/newton_cg)
"""
import os
import sys

import numpy as np
import scipy
import scipy.optimize as so
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gen_dense  # noqa: E402  (write_case and the file format)
import gen_lbfgs  # noqa: E402  (the logistic regression problem, write_named)

gen_dense.OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "newton_cg")


def write_case(name, comment, tensors):
    gen_lbfgs.write_named(f"gen_newton_cg.py, scipy {scipy.__version__}", name, comment, tensors)


def run(fun, jac, hessp, x0):
    xs = []
    res = so.minimize(fun, x0, jac=jac, hessp=hessp, method="Newton-CG",
                      callback=lambda xk: xs.append(np.array(xk)))
    xs = np.array(xs)
    fs = np.array([fun(x) for x in xs])
    return [("x0", torch.tensor(x0, dtype=torch.float32)),
            ("exact", gen_dense.scalar(1.0 if hessp is not None else 0.0)),
            ("xs", torch.tensor(xs, dtype=torch.float32)),
            ("fs", torch.tensor(fs, dtype=torch.float32)),
            ("nit", torch.tensor([res.nit], dtype=torch.int32))]


def logreg():
    a, y, lam = gen_lbfgs.logreg_problem()
    a64, y64 = a.double().numpy(), y.double().numpy()
    m = a64.shape[0]

    def fun(w):
        z = a64 @ w
        return float(np.mean(np.logaddexp(0.0, z) - y64 * z) + 0.5 * lam * (w @ w))

    def jac(w):
        s = 1.0 / (1.0 + np.exp(-(a64 @ w)))
        return a64.T @ (s - y64) / m + lam * w

    def hessp(w, v):
        s = 1.0 / (1.0 + np.exp(-(a64 @ w)))
        return a64.T @ (s * (1.0 - s) * (a64 @ v)) / m + lam * v
    data = [("a", a), ("y", y), ("lambda", gen_dense.scalar(lam))]
    return fun, jac, hessp, data


def main():
    x0 = np.array([-1.2, 1.0], dtype=np.float64)
    x0 = torch.tensor(x0, dtype=torch.float32).double().numpy()  # the f32 start axon has
    write_case("rosenbrock_exact", "scipy Newton-CG on Rosenbrock, exact hessp",
               run(so.rosen, so.rosen_der, so.rosen_hess_prod, x0))
    write_case("rosenbrock_fd", "scipy Newton-CG on Rosenbrock, finite-difference products",
               run(so.rosen, so.rosen_der, None, x0))
    b3, b4 = 1.9998, -1.49985
    quartic = (lambda x: float(-x[0] + 0.5 * x[0] ** 2 + b3 * x[0] ** 3 + b4 * x[0] ** 4),
               lambda x: np.array([-1.0 + x[0] + 3 * b3 * x[0] ** 2 + 4 * b4 * x[0] ** 3]),
               lambda x, v: np.array([(1.0 + 6 * b3 * x[0] + 12 * b4 * x[0] ** 2) * v[0]]))
    write_case("quartic_exact", "scipy Newton-CG on -x + x^2/2 + 1.9998 x^3 - 1.49985 x^4",
               run(*quartic, np.zeros(1)))
    write_case("quartic_negative", "the same from x = 0.9, where f'' < 0: CG's first step "
               "meets negative curvature", run(*quartic, np.array([0.9])))
    fun, jac, hessp, data = logreg()
    w0 = np.zeros(5)
    write_case("logreg_exact", "scipy Newton-CG on L2-regularized logistic regression, exact "
               "hessp", data + run(fun, jac, hessp, w0))
    write_case("logreg_fd", "scipy Newton-CG on the same, finite-difference products",
               data + run(fun, jac, None, w0))


if __name__ == "__main__":
    main()
