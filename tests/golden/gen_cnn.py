#!/usr/bin/env python3
"""Golden cases of axon's CNN graph layers (tests/test_graph_cnn.c), written by PyTorch.

Two small CNNs on x [N, 2, 10, 10], cross entropy over 3 classes, 3 SGD steps (lr 0.1) in
training on batches of 8, 8 and 5 rows (a partial last batch), then an eval forward:

  cnn: conv1 Conv2d(2, 4, 3, padding=1) - bn1 BatchNorm2d(4) - ReLU - MaxPool2d(2)
       - conv2 Conv2d(4, 6, 3, stride=2, padding=1) - bn2 BatchNorm2d(6, momentum=0.3) - ReLU
       - AvgPool2d(2, stride=1) - flatten - fc Linear(24, 3)
  gap: the same up to bn2's ReLU, then global average pool - bn3 BatchNorm1d(6,
       momentum=None: the cumulative average) - fc Linear(6, 3)

Writes to tests/golden/cnn/ for each model M:
  M_init.safetensors   the state_dict before training (torch's default initialisation,
                       seed 0), which the C test loads so both start from the same weights;
  M.txt                per step k = 0, 1, 2: x<k>, labels<k>, loss<k>, y<k> (the logits),
                       every parameter's gradient g<k>.<key> and every running statistic
                       s<k>.<key> after the step's forward; then x_eval and y_eval (eval mode
                       after the 3 steps), labels_eval, loss_eval and the gradients ge.<key>
                       of an eval-mode backward, and the counters (n.<key>, i32);
  M_final.safetensors  the state_dict after the steps (num_batches_tracked int64), checked to
                       load back with load_state_dict(strict=True).

Usage: python3 tests/golden/gen_cnn.py [out_dir]        (default: tests/golden/cnn)
       python3 tests/golden/gen_cnn.py --check M FILE   (load an axon checkpoint of model M,
                                                         cnn or gap, strictly into the torch
                                                         model; print its eval outputs on
                                                         M.txt's x_eval against y_eval)
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_io import write_case  # noqa: E402

BATCHES = [8, 8, 5]
LR = 0.1


class Cnn(nn.Module):
    def __init__(self, gap):
        super().__init__()
        self.gap = gap
        self.conv1 = nn.Conv2d(2, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 6, 3, stride=2, padding=1)
        self.bn2 = nn.BatchNorm2d(6, momentum=0.3)
        if gap:
            self.bn3 = nn.BatchNorm1d(6, momentum=None)
            self.fc = nn.Linear(6, 3)
        else:
            self.fc = nn.Linear(24, 3)

    def forward(self, x):
        h = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 2)
        h = F.relu(self.bn2(self.conv2(h)))
        if self.gap:
            h = self.bn3(F.adaptive_avg_pool2d(h, 1).flatten(1))
        else:
            h = F.avg_pool2d(h, 2, stride=1).flatten(1)
        return self.fc(h)


def state_of(net):
    return {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}


def generate(out, name, gap, seed):
    torch.manual_seed(seed)
    net = Cnn(gap)
    save_file(state_of(net), os.path.join(out, f"{name}_init.safetensors"),
              metadata={"format": "pt"})
    cases = []
    net.train()
    for k, rows in enumerate(BATCHES):
        x = torch.randn(rows, 2, 10, 10)
        labels = torch.randint(0, 3, (rows,))
        net.zero_grad()
        y = net(x)
        loss = F.cross_entropy(y, labels)
        loss.backward()
        cases += [(f"x{k}", x), (f"labels{k}", labels.to(torch.int32)),
                  (f"loss{k}", loss.reshape(1)), (f"y{k}", y)]
        cases += [(f"g{k}.{key}", p.grad.clone()) for key, p in net.named_parameters()]
        cases += [(f"s{k}.{key}", b.clone()) for key, b in net.named_buffers()
                  if b.dtype != torch.int64]
        with torch.no_grad():
            for p in net.parameters():
                p -= LR * p.grad
    net.eval()
    x_eval = torch.randn(4, 2, 10, 10)
    with torch.no_grad():
        y_eval = net(x_eval)
    labels_eval = torch.randint(0, 3, (4,))
    net.zero_grad()
    loss_eval = F.cross_entropy(net(x_eval), labels_eval)
    loss_eval.backward()  # eval mode: through the running statistics, which stay
    cases += [("x_eval", x_eval), ("y_eval", y_eval), ("labels_eval", labels_eval.to(torch.int32)),
              ("loss_eval", loss_eval.reshape(1))]
    cases += [(f"ge.{key}", p.grad.clone()) for key, p in net.named_parameters()]
    cases += [(f"n.{key}", b.to(torch.int32).reshape(1)) for key, b in net.named_buffers()
              if b.dtype == torch.int64]
    final = os.path.join(out, f"{name}_final.safetensors")
    save_file(state_of(net), final, metadata={"format": "pt"})
    back = Cnn(gap)
    back.load_state_dict(load_file(final), strict=True)
    back.eval()
    with torch.no_grad():
        assert torch.equal(back(x_eval), y_eval)
    write_case(out, "gen_cnn.py", name,
               f"Cnn(gap={gap}), seed {seed}, SGD lr {LR}, batches {BATCHES}", cases)


def check(name, path):
    """Load an axon checkpoint strictly and compare its eval outputs with the golden ones."""
    here = os.path.dirname(os.path.abspath(__file__))
    net = Cnn(name == "gap")
    state = load_file(path)
    ref = load_file(os.path.join(here, "cnn", f"{name}_final.safetensors"))
    for key in ref:
        assert state[key].dtype == ref[key].dtype and state[key].shape == ref[key].shape, key
    net.load_state_dict(state, strict=True)
    net.eval()
    print(f"{path}: load_state_dict(strict=True) accepted {len(state)} tensors")
    for key, t in state.items():
        print(f"  {key} {t.dtype} {list(t.shape)}")
    case = read_case(os.path.join(here, "cnn", f"{name}.txt"))
    with torch.no_grad():
        y = net(case["x_eval"])
    err = (y - case["y_eval"]).abs().max().item()
    print(f"eval outputs on x_eval: max |torch(axon's weights) - y_eval| = {err:.3g}")


def read_case(path):
    """The f32 tensors of a case file written by write_case."""
    tensors, lines = {}, open(path).read().split("\n")
    i = 0
    while i < len(lines):
        head = lines[i].split()
        i += 1
        if not head or head[0].startswith("#"):
            continue
        name, kind, ndim = head[0], head[1], int(head[2])
        shape = [int(d) for d in head[3:3 + ndim]]
        numel, vals = 1, []
        for d in shape:
            numel *= d
        while len(vals) < numel:
            vals += lines[i].split()
            i += 1
        if kind == "f32":
            tensors[name] = torch.tensor([float(v) for v in vals]).reshape(shape)
    return tensors


if __name__ == "__main__":
    if len(sys.argv) > 3 and sys.argv[1] == "--check":
        check(sys.argv[2], sys.argv[3])
    else:
        out_dir = (sys.argv[1] if len(sys.argv) > 1 else
                   os.path.join(os.path.dirname(os.path.abspath(__file__)), "cnn"))
        os.makedirs(out_dir, exist_ok=True)
        generate(out_dir, "cnn", False, 0)
        generate(out_dir, "gap", True, 1)
