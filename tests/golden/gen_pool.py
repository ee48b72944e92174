#!/usr/bin/env python3
"""Golden cases for axon's pooling ops, computed by PyTorch on the CPU.

Writes tests/golden/pool/<case>.txt (format in gen_dense.py; read by tests/support/golden.c,
checked by tests/test_pool.c). Each case holds
    params i32 [10]: kernel_h kernel_w stride_h stride_w pad_h pad_w dilation_h dilation_w
                     ceil_mode count_include_pad
    x, dy, y, dx, and for max pools idx (return_indices: flat index in the plane, i32).
The cases cover floor and ceil mode (a window the ceil rule drops and one it adds), padding,
asymmetric kernels and strides, dilation, ties (small integers, overlapping windows),
NaN and -Inf in the input, and count_include_pad both ways at the edges.

Usage: python3 tests/golden/gen_pool.py [out_dir]   (default: tests/golden/pool)
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_dense  # noqa: E402  (write_case and the file format)

torch.set_default_dtype(torch.float32)
torch.use_deterministic_algorithms(True)

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "pool")


def write_case(name, comment, tensors):
    """gen_dense.write_case into OUT, with this script named in the header."""
    gen_dense.OUT = OUT
    gen_dense.write_case(name, comment, tensors)
    path = os.path.join(OUT, name + ".txt")
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace("gen_dense.py", "gen_pool.py", 1))


def params(k, s, p, d, ceil, cip):
    return torch.tensor([k[0], k[1], s[0], s[1], p[0], p[1], d[0], d[1], int(ceil), int(cip)],
                        dtype=torch.int32)


def max_case(name, comment, x, k, s, p=(0, 0), d=(1, 1), ceil=False, seed=0):
    torch.manual_seed(seed)
    x = x.clone().requires_grad_(True)
    y, idx = F.max_pool2d(x, k, s, p, d, ceil_mode=ceil, return_indices=True)
    dy = torch.randn(y.shape)
    y.backward(dy)
    write_case(name, comment, [("params", params(k, s, p, d, ceil, True)), ("x", x), ("dy", dy),
                               ("y", y), ("dx", x.grad), ("idx", idx.to(torch.int32))])


def avg_case(name, comment, x, k, s, p=(0, 0), ceil=False, cip=True, seed=0):
    torch.manual_seed(seed)
    x = x.clone().requires_grad_(True)
    y = F.avg_pool2d(x, k, s, p, ceil_mode=ceil, count_include_pad=cip)
    dy = torch.randn(y.shape)
    y.backward(dy)
    write_case(name, comment, [("params", params(k, s, p, (1, 1), ceil, cip)), ("x", x),
                               ("dy", dy), ("y", y), ("dx", x.grad)])


def main():
    torch.manual_seed(10)
    max_case("max_2x2", "MaxPool2d(2): floor mode drops the last column of W = 7",
             torch.randn(2, 3, 6, 7), (2, 2), (2, 2), seed=11)
    torch.manual_seed(12)
    max_case("max_pad_stride", "MaxPool2d(3, stride=2, padding=1), negative inputs so padding "
             "would win if it were taken", torch.randn(1, 2, 7, 9) - 3.0, (3, 3), (2, 2), (1, 1),
             seed=13)
    torch.manual_seed(14)
    max_case("max_asym", "kernel (3, 2), stride (1, 2), padding (1, 0)",
             torch.randn(2, 1, 5, 8), (3, 2), (1, 2), (1, 0), seed=15)
    torch.manual_seed(16)
    max_case("max_dilation", "kernel 3, stride 1, padding 1, dilation (2, 3)",
             torch.randn(1, 2, 8, 9), (3, 3), (1, 1), (1, 1), (2, 3), seed=17)
    torch.manual_seed(18)
    max_case("max_ceil_drop", "ceil_mode, H = W = 5, kernel 2, stride 2, padding 1: the ceil "
             "rule drops the window that would start in the right padding (3x3, not 4x4)",
             torch.randn(1, 2, 5, 5), (2, 2), (2, 2), (1, 1), ceil=True, seed=19)
    torch.manual_seed(20)
    max_case("max_ceil_add", "ceil_mode, H = 6, W = 8, kernel 3, stride 2: one more window "
             "hanging over the bottom and the right edge",
             torch.randn(1, 1, 6, 8), (3, 3), (2, 2), ceil=True, seed=21)
    torch.manual_seed(22)
    max_case("max_ties", "ties: integers in {0, 1, 2}, kernel 3, stride 1, padding 1: the "
             "first maximum wins and overlapping windows add their gradients",
             torch.randint(0, 3, (2, 2, 6, 5)).float(), (3, 3), (1, 1), (1, 1), seed=23)
    x = torch.randn(1, 2, 6, 6)
    x[0, 0, 0, 1] = float("nan")
    x[0, 0, 3, 3] = float("nan")
    x[0, 0, 2, 2] = float("nan")  # two NaNs in one window: the last one, (3, 3), is the index
    x[0, 1, 2, 2] = float("-inf")
    x[0, 1, 4:6, 4:6] = float("-inf")  # a window of -Inf only
    max_case("max_nan", "NaN propagates (the last NaN of a window), -Inf and a window of only "
             "-Inf; kernel 2, stride 2", x, (2, 2), (2, 2), seed=25)

    torch.manual_seed(30)
    avg_case("avg_2x2", "AvgPool2d(2), W = 7", torch.randn(2, 3, 6, 7), (2, 2), (2, 2), seed=31)
    torch.manual_seed(32)
    avg_case("avg_pad_incl", "kernel 3, stride 2, padding 1, count_include_pad=True",
             torch.randn(1, 2, 7, 6), (3, 3), (2, 2), (1, 1), cip=True, seed=33)
    torch.manual_seed(34)
    avg_case("avg_pad_excl", "kernel 3, stride 2, padding 1, count_include_pad=False",
             torch.randn(1, 2, 7, 6), (3, 3), (2, 2), (1, 1), cip=False, seed=35)
    torch.manual_seed(36)
    avg_case("avg_ceil_incl", "ceil_mode, kernel 3, stride 2, padding 1, count_include_pad: "
             "the last window hangs past the right padding and counts only what lies inside "
             "the padded input", torch.randn(1, 2, 6, 8), (3, 3), (2, 2), (1, 1), ceil=True,
             cip=True, seed=37)
    torch.manual_seed(38)
    avg_case("avg_ceil_excl", "ceil_mode, kernel 3, stride 2, padding 1, count_include_pad=False",
             torch.randn(1, 2, 6, 8), (3, 3), (2, 2), (1, 1), ceil=True, cip=False, seed=39)
    torch.manual_seed(40)
    avg_case("avg_asym", "kernel (2, 4), stride (1, 3), padding (1, 2), ceil_mode",
             torch.randn(2, 1, 5, 9), (2, 4), (1, 3), (1, 2), ceil=True, seed=41)

    torch.manual_seed(50)
    x = torch.randn(3, 4, 5, 7, requires_grad=True)
    y = F.adaptive_avg_pool2d(x, 1)
    dy = torch.randn(y.shape)
    y.backward(dy)
    write_case("global_avg", "adaptive_avg_pool2d(x, 1): y [N, C, 1, 1]",
               [("x", x), ("dy", dy), ("y", y), ("dx", x.grad)])


if __name__ == "__main__":
    main()
