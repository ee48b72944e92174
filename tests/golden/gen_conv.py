#!/usr/bin/env python3
"""Golden cases for axon's convolutional family, computed by PyTorch on the CPU.

Conv part: tests/golden/conv/conv2d_<case>.txt, checked by tests/test_conv.c. Format as in
gen_dense.py (named tensors in a text file). Each conv case holds
    params f32 [9]: stride_h stride_w pad_top pad_bottom pad_left pad_right dil_h dil_w groups
    x, w, b (absent for bias=False), dy, y, dx, dw, db
Asymmetric padding is F.pad (left, right, top, bottom) followed by an unpadded conv2d, which is
what axon's per-side padding means; dx is the gradient through that pad.

Usage: python3 tests/golden/gen_conv.py [out_dir]   (default: tests/golden/conv)
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_io  # noqa: E402

torch.set_default_dtype(torch.float32)
torch.use_deterministic_algorithms(True)

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "conv")


def write_case(name, comment, tensors):
    golden_io.write_case(OUT, "gen_conv.py", name, comment, tensors)


def conv_case(name, comment, seed, n, c, h, w, k, kh, kw, stride=(1, 1), pad=(0, 0, 0, 0),
              dil=(1, 1), groups=1, bias=True):
    """pad = (top, bottom, left, right)"""
    torch.manual_seed(seed)
    x = torch.randn(n, c, h, w, requires_grad=True)
    conv = torch.nn.Conv2d(c, k, (kh, kw), stride=stride, padding=0, dilation=dil,
                           groups=groups, bias=bias)
    top, bottom, left, right = pad
    y = conv(F.pad(x, (left, right, top, bottom)))
    dy = torch.randn(y.shape)
    y.backward(dy)
    params = torch.tensor([stride[0], stride[1], top, bottom, left, right, dil[0], dil[1], groups],
                          dtype=torch.float32)
    tensors = [("params", params), ("x", x), ("w", conv.weight)]
    if bias:
        tensors.append(("b", conv.bias))
    tensors += [("dy", dy), ("y", y), ("dx", x.grad), ("dw", conv.weight.grad)]
    if bias:
        tensors.append(("db", conv.bias.grad))
    write_case("conv2d_" + name, comment, tensors)


def conv_cases():
    conv_case("basic", "Conv2d(3, 4, 3, padding=1), N=2, 5x6", 11, 2, 3, 5, 6, 4, 3, 3,
              pad=(1, 1, 1, 1))
    conv_case("stride_asym_pad", "Conv2d(2, 3, (3, 2), stride=(2, 3)), pad top 2 bottom 0 "
              "left 1 right 3", 12, 2, 2, 7, 8, 3, 3, 2, stride=(2, 3), pad=(2, 0, 1, 3))
    conv_case("dilation", "Conv2d(3, 2, 3, dilation=(2, 3), padding 1), no bias", 13, 1, 3, 9, 10,
              2, 3, 3, pad=(1, 1, 1, 1), dil=(2, 3), bias=False)
    conv_case("groups", "Conv2d(4, 6, (2, 3), groups=2, stride 2), pad 1 top/bottom", 14, 3, 4, 6,
              7, 6, 2, 3, stride=(2, 2), pad=(1, 1, 0, 0), groups=2)
    conv_case("depthwise", "Conv2d(5, 5, 3, groups=5, padding=1)", 15, 2, 5, 6, 5, 5, 3, 3,
              pad=(1, 1, 1, 1), groups=5)
    conv_case("same_even", "Conv2d(2, 3, 4), 'same' padding of an even kernel: top/left 1, "
              "bottom/right 2, batch 1", 16, 1, 2, 6, 5, 3, 4, 4, pad=(1, 2, 1, 2))
    conv_case("pointwise", "Conv2d(6, 4, 1), 1x1, stride 2", 17, 2, 6, 5, 5, 4, 1, 1,
              stride=(2, 2))


def main():
    conv_cases()


if __name__ == "__main__":
    main()
