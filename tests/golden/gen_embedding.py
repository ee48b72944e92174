#!/usr/bin/env python3
"""Golden cases for axon's embedding op, computed by PyTorch's nn.Embedding on the CPU.

Writes tests/golden/embedding/<case>.txt (format in gen_dense.py; read by tests/support/golden.c,
checked by tests/test_embedding.c). Each case holds
    idx i32 (the indices' own shape), weight f32 [V, D], dout f32 (idx's shape + [D]),
    out f32 = nn.Embedding(weight)(idx), dweight f32 = weight.grad after out.backward(dout),
    prior f32 [V, D] and dweight_acc f32 = prior + dweight (the accumulating backward).
The cases repeat indices (so the backward adds several rows into one), use the first and
last row of the table, leave rows unused (their gradient is 0), and include a one-row table,
a one-column table and a single index.

Usage: python3 tests/golden/gen_embedding.py [out_dir]   (default: tests/golden/embedding)
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_io import write_case  # noqa: E402

torch.set_default_dtype(torch.float32)
OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "embedding")


def case(name, comment, idx, vocab, dim, seed):
    g = torch.Generator().manual_seed(seed)
    idx = torch.tensor(idx, dtype=torch.int64)
    emb = torch.nn.Embedding(vocab, dim)
    with torch.no_grad():
        emb.weight.copy_(torch.randn(vocab, dim, generator=g))
    dout = torch.randn(*idx.shape, dim, generator=g)
    prior = torch.randn(vocab, dim, generator=g)
    out = emb(idx)
    out.backward(dout)
    write_case(OUT, "gen_embedding.py", name, comment, [
        ("idx", idx.to(torch.int32)), ("weight", emb.weight), ("dout", dout), ("out", out),
        ("dweight", emb.weight.grad), ("prior", prior), ("dweight_acc", prior + emb.weight.grad),
    ])


case("repeats_2d", "indices [3, 4] over V 7, D 5: repeats, rows 0 and 6, unused rows",
     [[0, 6, 3, 3], [6, 1, 3, 0], [2, 3, 6, 6]], 7, 5, 1)
case("one_row", "V 1, D 3: every index 0", [0, 0, 0, 0, 0], 1, 3, 2)
case("one_col", "V 10, D 1, indices [2, 3] time-major style", [[9, 0, 9], [4, 9, 9]], 10, 1, 3)
case("single", "one index, V 4, D 33 (a tail past 32 columns)", [2], 4, 33, 4)
