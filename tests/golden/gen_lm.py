#!/usr/bin/env python3
"""Golden cases for axon's graph embedding layer in a tiny token model, computed by PyTorch.

The model (tests/test_graph_embedding.c builds the same graph):
    emb = nn.Embedding(V, D); fc = nn.Linear(D, V)
    loss = cross_entropy(fc(emb(idx)) flattened to [T N, V], labels flattened to [T N])
over time-major idx [T, N] (and batch-first [N, T]) token ids, mean over every token.

Writes into tests/golden/lm/ (format in gen_dense.py):
  init.safetensors  the state_dict (emb.weight, fc.weight, fc.bias) of torch's default
                    initialisation, checked to load back with load_state_dict(strict=True)
  tm.txt            time-major runs: for each run r in full, short_seq, short_batch:
                    r.idx i32 [t, n], r.labels i32 [t, n], r.logits [t, n, V], r.loss [1],
                    and r.g.<key> every parameter's gradient (from the initial weights)
  bf.txt            the same for batch-first [n, t]
The repeated token ids make the embedding's backward add several rows into one.

Usage: python3 tests/golden/gen_lm.py [out_dir]           (default: tests/golden/lm)
       python3 tests/golden/gen_lm.py --check FILE        (load an axon checkpoint of the
                                                           model strictly into torch)
"""
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_io import write_case  # noqa: E402

torch.set_default_dtype(torch.float32)
V, D, T, N = 7, 4, 5, 3


class Lm(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(V, D)
        self.fc = torch.nn.Linear(D, V)

    def forward(self, idx):
        return self.fc(self.emb(idx))


def runs(net, idx, labels, batch_first):
    """full, short_seq (3 steps), short_batch (2 rows) of idx [T, N] (or [N, T])."""
    t_axis = 1 if batch_first else 0
    n_axis = 1 - t_axis
    out = []
    for name, t, n in (("full", T, N), ("short_seq", 3, N), ("short_batch", T, 2)):
        i = idx.narrow(t_axis, 0, t).narrow(n_axis, 0, n).contiguous()
        lab = labels.narrow(t_axis, 0, t).narrow(n_axis, 0, n).contiguous()
        net.zero_grad()
        logits = net(i)
        loss = F.cross_entropy(logits.reshape(-1, V), lab.reshape(-1).long())
        loss.backward()
        out += [(f"{name}.idx", i.to(torch.int32)), (f"{name}.labels", lab.to(torch.int32)),
                (f"{name}.logits", logits), (f"{name}.loss", loss.reshape(1))]
        out += [(f"{name}.g.{k}", p.grad.clone()) for k, p in net.named_parameters()]
    return out


def generate(out):
    torch.manual_seed(0)
    net = Lm()
    state = {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}
    path = os.path.join(out, "init.safetensors")
    save_file(state, path, metadata={"format": "pt"})
    Lm().load_state_dict(load_file(path), strict=True)
    g = torch.Generator().manual_seed(1)
    idx = torch.randint(0, V, (T, N), generator=g)
    idx[0, 0] = idx[2, 1] = idx[4, 2] = 3  # repeats, also inside the shorter runs
    idx[1, 0] = 0
    idx[3, 1] = V - 1
    labels = torch.randint(0, V, (T, N), generator=g)
    write_case(out, "gen_lm.py", "tm", f"time-major [T, N] = [{T}, {N}], V {V}, D {D}",
               runs(net, idx, labels, False))
    write_case(out, "gen_lm.py", "bf", f"batch-first [N, T] = [{N}, {T}], V {V}, D {D}",
               runs(net, idx.t().contiguous(), labels.t().contiguous(), True))


def check(path):
    net = Lm()
    state = load_file(path)
    net.load_state_dict(state, strict=True)
    print(f"{path}: load_state_dict(strict=True) accepted {len(state)} tensors")
    for key, t in state.items():
        print(f"  {key} {t.dtype} {list(t.shape)}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--check":
        check(sys.argv[2])
    else:
        out_dir = (sys.argv[1] if len(sys.argv) > 1 else
                   os.path.join(os.path.dirname(os.path.abspath(__file__)), "lm"))
        os.makedirs(out_dir, exist_ok=True)
        generate(out_dir)
