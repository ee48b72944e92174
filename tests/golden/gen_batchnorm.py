#!/usr/bin/env python3
"""Golden cases for axon's batch norm (ax_batch_norm_*), computed by PyTorch on the CPU.

Writes tests/golden/batchnorm/<case>.txt (format in gen_dense.py), read by
tests/test_batchnorm.c. Each case runs one torch.nn.BatchNorm1d/2d module through several
training steps from given running statistics, then one evaluation step:
    params           [steps, momentum, eps]: the number of training steps and the module's
                     momentum (-1 stands for None: the cumulative average) and eps
    rm0, rv0         running_mean, running_var before the first step
    xs               [steps, *x.shape]: the inputs of the training steps
    rm, rv, nbt      running_mean, running_var, num_batches_tracked after the last step
    y, mean, invstd  output, batch mean and 1/sqrt(biased var + eps) of the last step
    dy, dx, dgamma, dbeta   backward of the last training step (autograd of the module)
    xe, ye, dye, dxe, dgammae, dbetae   evaluation forward and backward (running stats)
gamma and beta are absent for affine=False.

Usage: python3 tests/golden/gen_batchnorm.py [out_dir]   (default: tests/golden/batchnorm)
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gen_dense  # noqa: E402  (write_case and scalar)

torch.set_default_dtype(torch.float32)
torch.use_deterministic_algorithms(True)

gen_dense.OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(os.path.abspath(__file__)), "batchnorm")


def case(name, comment, seed, module_cls, shape, momentum, affine, steps, eps=1e-5, offset=0.0):
    torch.manual_seed(seed)
    c = shape[1]
    bn = module_cls(c, eps=eps, momentum=momentum, affine=affine)
    if affine:
        with torch.no_grad():
            bn.weight.copy_(torch.rand(c) * 1.5 + 0.25)
            bn.bias.copy_(torch.randn(c))
    with torch.no_grad():
        bn.running_mean.copy_(torch.randn(c) * 0.5)
        bn.running_var.copy_(torch.rand(c) + 0.5)
    params = torch.tensor([steps, -1.0 if momentum is None else momentum, eps])
    tensors = [("params", params),
               ("rm0", bn.running_mean.clone()), ("rv0", bn.running_var.clone())]
    if affine:
        tensors += [("gamma", bn.weight.detach().clone()), ("beta", bn.bias.detach().clone())]
    bn.train()
    dims = [0] + list(range(2, len(shape)))
    xs = []
    for k in range(steps):
        # channel-dependent location and scale, so a mix-up of channels shows
        scale = (torch.arange(c, dtype=torch.float32) + 1.0).reshape([1, c] + [1] * (len(shape) - 2))
        x = (torch.randn(*shape) * scale + scale * 0.7 + offset).requires_grad_(True)
        xs.append(x.detach().clone())
        if affine:
            bn.weight.grad = None
            bn.bias.grad = None
        y = bn(x)
    tensors.append(("xs", torch.stack(xs)))
    dy = torch.randn(*shape)
    y.backward(dy)
    with torch.no_grad():
        mean = x.mean(dim=dims)
        var = x.var(dim=dims, unbiased=False)
        invstd = 1.0 / torch.sqrt(var + eps)
    tensors += [("rm", bn.running_mean.clone()), ("rv", bn.running_var.clone()),
                ("nbt", bn.num_batches_tracked.clone().to(torch.int32)),
                ("y", y), ("mean", mean), ("invstd", invstd), ("dy", dy), ("dx", x.grad)]
    if affine:
        tensors += [("dgamma", bn.weight.grad.clone()), ("dbeta", bn.bias.grad.clone())]
        bn.weight.grad = None
        bn.bias.grad = None
    bn.eval()
    xe = (torch.randn(*shape) * 2.0 + 0.5).requires_grad_(True)
    ye = bn(xe)
    dye = torch.randn(*shape)
    ye.backward(dye)
    tensors += [("xe", xe), ("ye", ye), ("dye", dye), ("dxe", xe.grad)]
    if affine:
        tensors += [("dgammae", bn.weight.grad), ("dbetae", bn.bias.grad)]
    gen_dense.write_case(name, comment, tensors)
    path = os.path.join(gen_dense.OUT, name + ".txt")  # name this script in the header
    with open(path) as f:
        text = f.read()
    with open(path, "w") as f:
        f.write(text.replace("gen_dense.py", "gen_batchnorm.py", 1))


def main():
    case("bn2d", "BatchNorm2d(3), momentum 0.1, x [4, 3, 5, 6], 3 steps", 11,
         torch.nn.BatchNorm2d, [4, 3, 5, 6], 0.1, True, 3)
    case("bn2d_cumulative", "BatchNorm2d(2, momentum=None), x [3, 2, 3, 5], 4 steps", 12,
         torch.nn.BatchNorm2d, [3, 2, 3, 5], None, True, 4)
    case("bn1d_nc", "BatchNorm1d(5), momentum 0.1, x [6, 5], 3 steps", 13,
         torch.nn.BatchNorm1d, [6, 5], 0.1, True, 3)
    case("bn1d_ncl_noaffine", "BatchNorm1d(3, affine=False, momentum=0.3, eps=1e-3), "
         "x [2, 3, 7], 2 steps", 14, torch.nn.BatchNorm1d, [2, 3, 7], 0.3, False, 2, eps=1e-3)
    case("bn1d_nc_cumulative", "BatchNorm1d(4, momentum=None), x [2, 4] (M = 2), 3 steps", 15,
         torch.nn.BatchNorm1d, [2, 4], None, True, 3)


if __name__ == "__main__":
    main()
