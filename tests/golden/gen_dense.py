#!/usr/bin/env python3
"""Golden cases for axon's dense and elementwise ops, computed by PyTorch on the CPU.

Writes tests/golden/dense/<case>.txt (read by tests/support/golden.c, checked by
tests/test_golden_dense.c). Every case is small and uses a fixed seed, so running this again
with torch 2.x reproduces the committed files up to the last bit of a few values at most.

File format, one case per file, plain text:
    # comment lines
    <name> <f32|i32> <ndim> <dim0> ... <dimN-1>
    <numel values, %.9g for f32 (round-trips exactly), whitespace separated>
    ... more tensors ...
A scalar parameter (alpha, slope, lambda, dloss) is a tensor of shape [1].

Usage: python3 tests/golden/gen_dense.py [out_dir]   (default: tests/golden/dense)
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_io  # noqa: E402

torch.set_default_dtype(torch.float32)
torch.use_deterministic_algorithms(True)

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "dense")


def write_case(name, comment, tensors):
    golden_io.write_case(OUT, "gen_dense.py", name, comment, tensors)


def scalar(v):
    return torch.tensor([v], dtype=torch.float32)


def away_from_zero(t, min_abs=0.1):
    return torch.where(t.abs() < min_abs, torch.where(t < 0, -min_abs, min_abs), t)


def linear_cases():
    torch.manual_seed(1)
    lin = torch.nn.Linear(5, 3)  # weight [out, in] = [3, 5]
    x = torch.randn(4, 5, requires_grad=True)
    dy = torch.randn(4, 3)
    y = lin(x)
    y.backward(dy)
    write_case("linear", "nn.Linear(5, 3): y = x W^T + b, W [out, in]; dx, dW, db for dy",
               [("x", x), ("w", lin.weight), ("b", lin.bias), ("dy", dy), ("y", y),
                ("dx", x.grad), ("dw", lin.weight.grad), ("db", lin.bias.grad)])

    torch.manual_seed(2)
    lin = torch.nn.Linear(6, 2, bias=False)
    x = torch.randn(3, 6, requires_grad=True)
    dy = torch.randn(3, 2)
    y = lin(x)
    y.backward(dy)
    write_case("linear_nobias", "nn.Linear(6, 2, bias=False)",
               [("x", x), ("w", lin.weight), ("dy", dy), ("y", y), ("dx", x.grad),
                ("dw", lin.weight.grad)])


def activation_cases():
    torch.manual_seed(3)
    base = away_from_zero(torch.randn(3, 8) * 3)  # kinks of (leaky) ReLU avoided
    dy = torch.randn(3, 8)
    acts = [("sigmoid", torch.sigmoid, 0.0), ("tanh", torch.tanh, 0.0), ("relu", F.relu, 0.0),
            ("leaky_relu", F.leaky_relu, 0.01),  # PyTorch's default negative_slope
            ("leaky_relu_0.2", lambda t: F.leaky_relu(t, 0.2), 0.2)]
    for name, fn, slope in acts:
        x = base.clone().requires_grad_(True)
        y = fn(x)
        y.backward(dy)
        write_case("act_" + name, f"{name} forward and backward (slope {slope})",
                   [("x", x), ("slope", scalar(slope)), ("dy", dy), ("y", y), ("dx", x.grad)])


def softmax_cases():
    torch.manual_seed(4)
    base = torch.randn(4, 9) * 2
    base[3] += 80.0  # a row that overflows exp() unless the max is subtracted
    dy = torch.randn(4, 9)
    for name, fn in [("softmax", F.softmax), ("log_softmax", F.log_softmax)]:
        x = base.clone().requires_grad_(True)
        y = fn(x, dim=-1)
        y.backward(dy)
        write_case(name, f"F.{name}(x, dim=-1), backward for dy",
                   [("x", x), ("dy", dy), ("y", y), ("dx", x.grad)])


def loss_cases():
    # cross-entropy with int class labels; row 2 has large logits (stability)
    torch.manual_seed(5)
    base = torch.randn(5, 6) * 2
    base[2] += torch.tensor([60.0, -40.0, 55.0, 0.0, 30.0, 58.0])
    labels = torch.tensor([1, 0, 2, 5, 3], dtype=torch.int32)
    for red, dloss in [("mean", 1.0), ("sum", 0.7)]:
        x = base.clone().requires_grad_(True)
        loss = F.cross_entropy(x, labels.long(), reduction=red)
        loss.backward(torch.tensor(dloss))
        write_case("cross_entropy_" + red, f"F.cross_entropy(logits, labels, reduction='{red}'), dloss {dloss}",
                   [("logits", x), ("labels", labels), ("dloss", scalar(dloss)),
                    ("loss", loss), ("dlogits", x.grad)])

    torch.manual_seed(6)
    pred0, target = torch.randn(4, 5), torch.randn(4, 5)
    for red, dloss in [("mean", 1.0), ("sum", 0.7)]:
        pred = pred0.clone().requires_grad_(True)
        loss = F.mse_loss(pred, target, reduction=red)
        loss.backward(torch.tensor(dloss))
        write_case("mse_" + red, f"F.mse_loss(pred, target, reduction='{red}'), dloss {dloss}",
                   [("pred", pred), ("target", target), ("dloss", scalar(dloss)),
                    ("loss", loss), ("dpred", pred.grad)])

    torch.manual_seed(7)
    logits0 = torch.randn(3, 6) * 3
    logits0[0, 0], logits0[1, 3], logits0[2, 5] = 40.0, -45.0, 25.0  # log(1 + e^-|x|) territory
    targets = torch.rand(3, 6)
    targets[0, 1], targets[1, 2] = 0.0, 1.0
    for red, dloss in [("mean", 1.0), ("sum", 0.7)]:
        logits = logits0.clone().requires_grad_(True)
        loss = F.binary_cross_entropy_with_logits(logits, targets, reduction=red)
        loss.backward(torch.tensor(dloss))
        write_case("bce_with_logits_" + red,
                   f"F.binary_cross_entropy_with_logits(x, t, reduction='{red}'), dloss {dloss}",
                   [("logits", logits), ("targets", targets), ("dloss", scalar(dloss)),
                    ("loss", loss), ("dlogits", logits.grad)])


def gemm_cases():
    torch.manual_seed(8)
    # C = alpha A B + beta C0, no transposes
    a, b, c0 = torch.randn(3, 4), torch.randn(4, 5), torch.randn(3, 5)
    alpha, beta = 1.5, 0.5
    write_case("gemm_nn", "C = alpha A B + beta C0",
               [("a", a), ("b", b), ("c0", c0), ("alpha", scalar(alpha)), ("beta", scalar(beta)),
                ("c", alpha * (a @ b) + beta * c0)])

    # batched, both transposed: A [2, K, M], B [2, N, K]; C = alpha A^T B^T; backward for dC
    a = torch.randn(2, 4, 3, requires_grad=True)
    b = torch.randn(2, 5, 4, requires_grad=True)
    alpha = -0.8
    c = alpha * (a.transpose(1, 2) @ b.transpose(1, 2))
    dc = torch.randn(2, 3, 5)
    c.backward(dc)
    write_case("gemm_tt_batched", "C[i] = alpha A[i]^T B[i]^T, with dA, dB for dC",
               [("a", a), ("b", b), ("alpha", scalar(alpha)), ("c", c), ("dc", dc),
                ("da", a.grad), ("db", b.grad)])

    # batched A, shared 2-D B (transposed): dB sums over the batch
    a = torch.randn(3, 2, 4, requires_grad=True)
    b = torch.randn(5, 4, requires_grad=True)
    alpha = 0.75
    c = alpha * (a @ b.t())
    dc = torch.randn(3, 2, 5)
    c.backward(dc)
    write_case("gemm_nt_shared_b", "C[i] = alpha A[i] B^T with one B for every i; dA, dB",
               [("a", a), ("b", b), ("alpha", scalar(alpha)), ("c", c), ("dc", dc),
                ("da", a.grad), ("db", b.grad)])


def reduction_cases():
    torch.manual_seed(9)
    x = torch.randn(2, 3, 4)
    b = torch.randn(3)
    dy = torch.randn(2, 3, 4)
    dsum1, dmean2 = torch.randn(2, 4), torch.randn(2, 3)
    xs = x.clone().requires_grad_(True)
    xs.sum(dim=1).backward(dsum1)
    xm = x.clone().requires_grad_(True)
    xm.mean(dim=2).backward(dmean2)
    write_case("reduce", "sum over axis 1, mean over axis 2 (and backward); bias over axis 1",
               [("x", x), ("sum1", x.sum(dim=1)), ("mean2", x.double().mean(dim=2).float()),
                ("mean0", x.mean(dim=0)), ("dsum1", dsum1), ("dsum1_dx", xs.grad),
                ("dmean2", dmean2), ("dmean2_dx", xm.grad),
                ("b", b), ("bias1", x + b.view(1, 3, 1)), ("dy", dy),
                ("bias1_db", dy.sum(dim=(0, 2))), ("sumsq", (x * x).sum())])


def penalty_cases():
    torch.manual_seed(10)
    w0 = torch.randn(4, 5)
    w0[0, 0] = 0.0  # sign(0) = 0
    lam = 0.3
    out0, dw0 = scalar(0.25), torch.randn(4, 5)
    for name, fn in [("l1", lambda w: lam * w.abs().sum()),
                     ("l2", lambda w: lam / 2 * (w * w).sum())]:  # matches SGD weight_decay=lam
        w = w0.clone().requires_grad_(True)
        pen = fn(w)
        pen.backward()
        write_case("penalty_" + name, f"{name} penalty, accumulated into out0 and dw0",
                   [("w", w), ("lambda", scalar(lam)), ("out0", out0), ("dw0", dw0),
                    ("out", out0 + pen.detach()), ("dw", dw0 + w.grad)])


# ---------------------------------------------------------------- special values and extremes
# NaN, +-Inf, +-0 and values whose exp() overflows float (and double: 1e4) or that round to
# +-Inf in float arithmetic (3e38). The C tests compare NaN as NaN, Inf by sign and zeros by
# sign bit (tests/support/ieee.h).

NAN, INF = float("nan"), float("inf")
SPECIAL_X = [NAN, INF, -INF, 0.0, -0.0, 1e-40, -1e-40, 1.0, -1.0, 20.0, -20.0, 100.0, -100.0,
             3e38, -3e38, 0.5]


def f32(v):
    return torch.tensor(v, dtype=torch.float32)


def activation_special_cases():
    """Every activation at NaN, +-Inf, +-0 (the kink: PyTorch's gradient there), denormals and
    saturating values; row 0 with a finite dy, row 1 with NaN / Inf / +-0 in dy."""
    x0 = f32([SPECIAL_X, SPECIAL_X])
    dy = f32([[-1.5] * 8 + [2.0] * 8,
              [NAN, INF, -INF, -0.0, 0.0, INF, NAN, -0.0, 0.0, INF, -INF, NAN, 0.0, -0.0, INF, -INF]])
    acts = [("sigmoid", torch.sigmoid, 0.0), ("tanh", torch.tanh, 0.0), ("relu", F.relu, 0.0),
            ("leaky_relu", F.leaky_relu, 0.01), ("leaky_relu_0.2", lambda t: F.leaky_relu(t, 0.2), 0.2)]
    for name, fn, slope in acts:
        x = x0.clone().requires_grad_(True)
        y = fn(x)
        y.backward(dy)
        write_case("act_special_" + name, f"{name} at NaN, +-Inf, +-0, denormals, saturation (slope {slope})",
                   [("x", x), ("slope", scalar(slope)), ("dy", dy), ("y", y), ("dx", x.grad)])


# rows of 4 logits: finite extremes (max subtraction needed in float and double), ties, values
# whose differences overflow float, one finite among -Inf, signed zeros, then NaN / Inf rows
EXTREME_ROWS = [[1e4, -1e4, 0.0, 1.0],
                [-1e4, 1.0, 0.0, 1e4],  # the maximum last
                [-INF, -1e4, 2.0, 3e38],
                [-1e4, -1e4 + 1, -1e4 + 2, -1e4],
                [1e4, 1e4, 1e4 - 1, -1e4],
                [3e38, 3e38, -3e38, 0.0],
                [-INF, 5.0, -INF, -INF],
                [-INF, -INF, 1e4, -1e4],
                [1000.0, 0.0, 1000.0, -1000.0],
                [0.0, -0.0, 0.0, -0.0],
                [NAN, 1.0, 2.0, 3.0],
                [1.0, 2.0, INF, 3.0],
                [-INF, -INF, -INF, -INF],
                [INF, -INF, 0.0, 1.0],
                [INF, INF, 1.0, 2.0]]
ONE_COLUMN = [[5.0], [1e4], [-1e4], [3e38], [-0.0], [-INF], [INF], [NAN]]


def softmax_extreme_cases():
    torch.manual_seed(11)
    for suffix, rows in [("extreme", EXTREME_ROWS), ("one_column", ONE_COLUMN)]:
        base = f32(rows)
        dy = torch.randn(base.shape)
        for name, fn in [("softmax", F.softmax), ("log_softmax", F.log_softmax)]:
            x = base.clone().requires_grad_(True)
            y = fn(x, dim=-1)
            y.backward(dy)
            write_case(f"{name}_{suffix}", f"F.{name}(x, dim=-1) on extreme rows, backward for dy",
                       [("x", x), ("dy", dy), ("y", y), ("dx", x.grad)])


def loss_special_cases():
    """Per-row (per-element) losses with reduction='none' (the C test runs the forward on each
    row alone), and the gradient of the 'sum' for dloss."""
    labels = torch.tensor([1, 2, 0, 0, 3, 0, 2, 2, 1, 0, 1, 0, 2, 3, 1], dtype=torch.int32)
    # row 7, [-inf, -inf, 1e4, -1e4], takes its finite maximum
    for suffix, rows, lab in [("extreme", EXTREME_ROWS, labels),
                              ("one_column", ONE_COLUMN, torch.zeros(len(ONE_COLUMN), dtype=torch.int32))]:
        x = f32(rows).requires_grad_(True)
        dloss = 0.7
        per_row = F.cross_entropy(x, lab.long(), reduction="none")
        F.cross_entropy(x, lab.long(), reduction="sum").backward(torch.tensor(dloss))
        write_case("cross_entropy_" + suffix, "F.cross_entropy per row ('none') and d 'sum' for dloss",
                   [("logits", x), ("labels", lab), ("dloss", scalar(dloss)), ("loss_rows", per_row),
                    ("dlogits", x.grad)])

    xs = [NAN, INF, -INF, 0.0, -0.0, 100.0, -100.0, 1.0, 40.0, -45.0]
    ts = [0.0, 1.0, 0.3]
    logits = f32([[v for v in xs] for _ in ts]).requires_grad_(True)
    targets = f32([[t] * len(xs) for t in ts])
    dloss = 0.7
    per = F.binary_cross_entropy_with_logits(logits, targets, reduction="none")
    F.binary_cross_entropy_with_logits(logits, targets, reduction="sum").backward(torch.tensor(dloss))
    write_case("bce_with_logits_special", "F.binary_cross_entropy_with_logits per element and d 'sum'",
               [("logits", logits), ("targets", targets), ("dloss", scalar(dloss)), ("loss_elems", per),
                ("dlogits", logits.grad)])

    pairs = [(NAN, 1.0), (INF, 1.0), (INF, INF), (-INF, 1.0), (0.0, -0.0), (-0.0, 0.0), (1.0, NAN),
             (3e38, -3e38), (1e20, 0.0), (-2.0, -2.0), (-0.0, -0.0), (1.5, -0.5)]
    pred = f32([p for p, _ in pairs]).requires_grad_(True)
    target = f32([t for _, t in pairs])
    per = F.mse_loss(pred, target, reduction="none")
    F.mse_loss(pred, target, reduction="sum").backward(torch.tensor(dloss))
    write_case("mse_special", "F.mse_loss per element and d 'sum' for dloss",
               [("pred", pred), ("target", target), ("dloss", scalar(dloss)), ("loss_elems", per),
                ("dpred", pred.grad)])


def elementwise_special_cases():
    """add, mul, scale, axpy (PyTorch's add(alpha=), one fused multiply-add), dropout with p = 0
    and p = 1 (input * 0) on special values."""
    a = f32(SPECIAL_X + [2e38, -0.0, 0.0, INF])
    b = f32([1.0, -INF, -INF, -0.0, -0.0, 1e-40, 1e-40, NAN, 0.0, 1e20, -1e20, -100.0, 100.0,
             3e38, 3e38, -0.0, -3e38, 0.0, -0.0, 0.0])
    alpha = 2.0
    axpy = b.clone().add_(a, alpha=alpha)
    exact = (b.double() + alpha * a.double()).float()  # the product of two floats is exact in double
    assert torch.equal(torch.isnan(axpy), torch.isnan(exact)) and torch.equal(axpy[~axpy.isnan()], exact[~exact.isnan()]), \
        "this torch does not fuse add(alpha=); the expected values assume one rounding"
    a_req = a.clone().requires_grad_(True)
    d1 = F.dropout(a_req, 1.0, training=True)
    dy = f32([NAN, 1.0, -1.0, -1.0, 1.0, 2.0, -2.0, INF, -INF, 0.0, -0.0, 1.0, -1.0, 3.0, -3.0, 4.0, -4.0, NAN, 1.0, -1.0])
    d1.backward(dy)
    write_case("elementwise_special", "a + b, a * b, -0.5 a, b + 2 a (fused), dropout p = 1 forward / backward",
               [("a", a), ("b", b), ("alpha", scalar(alpha)), ("add", a + b), ("mul", a * b),
                ("scale", -0.5 * a), ("axpy", axpy), ("dy", dy), ("dropout1", d1),
                ("dropout1_dx", a_req.grad), ("dropout0", F.dropout(a, 0.0, training=True))])


def reduction_special_cases():
    """sum / mean over an axis, bias add and its gradient, sum of squares with NaN, +-Inf, +-0.
    The means are taken in double and rounded once, as axon's reference: PyTorch's float sum
    overflows at 3e38 + 3e38 before it divides, which is not a rule worth copying."""
    x = f32([[[INF, -INF, 1.0], [-0.0, -0.0, -0.0], [NAN, 1.0, 2.0], [3e38, 3e38, -1.0]],
             [[1.0, 2.0, 3.0], [INF, 1.0, INF], [-0.0, 0.0, -0.0], [-3e38, -3e38, 5.0]]])  # [2, 4, 3]
    b = f32([-0.0, INF, 1.0, -2.0])
    dy = torch.where(x.isfinite() & (x.abs() > 1e38), 1e3, x)  # no float overflow inside a sum
    write_case("reduce_special", "sums, means, bias along axis 1 with special values",
               [("x", x), ("sum2", x.sum(dim=2)), ("mean2", x.double().mean(dim=2).float()), ("sum0", x.sum(dim=0)),
                ("b", b), ("bias1", x + b.view(1, 4, 1)), ("dy", dy), ("bias1_db", dy.sum(dim=(0, 2))),
                ("sumsq", (x[1, 2] * x[1, 2]).sum()), ("sumsq_inf", (x[1] * x[1]).sum())])


def init_gain_cases():
    """torch.nn.init.calculate_gain for each nonlinearity axon names, in ax_activation's order
    (linear, sigmoid, tanh, relu, leaky_relu with its default slope), then leaky_relu at the
    slopes 0.2 and sqrt(5) (nn.Linear's kaiming_uniform a)."""
    from torch.nn.init import calculate_gain
    gains = [calculate_gain(n) for n in ("linear", "sigmoid", "tanh", "relu", "leaky_relu")]
    slopes = [0.2, 5 ** 0.5]
    write_case("init_gains", "calculate_gain(linear, sigmoid, tanh, relu, leaky_relu) and leaky_relu at slopes",
               [("gains", torch.tensor(gains, dtype=torch.float32)),
                ("slopes", torch.tensor(slopes, dtype=torch.float32)),
                ("leaky_gains", torch.tensor([calculate_gain("leaky_relu", a) for a in slopes],
                                             dtype=torch.float32))])


def main():
    linear_cases()
    activation_cases()
    softmax_cases()
    loss_cases()
    gemm_cases()
    reduction_cases()
    penalty_cases()
    activation_special_cases()
    softmax_extreme_cases()
    loss_special_cases()
    elementwise_special_cases()
    reduction_special_cases()
    init_gain_cases()


if __name__ == "__main__":
    main()
