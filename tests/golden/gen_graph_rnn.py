#!/usr/bin/env python3
"""Golden cases of axon's recurrent graph layers (tests/test_graph_rnn.c), written by PyTorch.

Models (a module whose only child is the recurrent layer, so its state_dict keys are
"<kind>.weight_ih_l0", ...; torch's default initialisation, seed 0), input size 4, hidden 3,
time-major x [T = 5, N = 3, 4]:

  lstm      nn.LSTM(4, 3, num_layers=2, bidirectional=True), h0 and c0 given
  gru       nn.GRU(4, 3, num_layers=2, bidirectional=True), h0 given
  rnn_tanh  nn.RNN(4, 3, num_layers=2), no h0 (zeros)
  rnn_relu  nn.RNN(4, 3, nonlinearity="relu", bias=False, bidirectional=True), h0 given
  gru3      nn.GRU(4, 3, num_layers=3), h0 given

The loss is mse(y, ty) + mse(h_n, th) (+ mse(c_n, tc) for the LSTM), each a mean, with random
targets, so every output carries a gradient. Writes to tests/golden/graph_rnn/:
  M_init.safetensors  the state_dict (the C test loads it: torch -> axon; and saves its own
                      checkpoint, compared key by key, dtype, shape and value: axon -> torch);
  M.txt               x, h0, c0, ty, th, tc; the full run's loss, y, hn, cn and the gradients
                      gx, gh0, gc0, g.<key> (every parameter); then the same under "s." for
                      the first 3 steps only (a shorter last sequence: x[:3], ty[:3]) and
                      under "b." for the first 2 rows only (a shorter last batch).
  lstm_carry.txt      nn.LSTM(4, 3, num_layers=2) over x1 then x2 [4, 3, 4], the second call
                      from the first's final states, detached (truncated BPTT): per call k
                      y<k>, hn<k>, cn<k>, loss<k>, g<k>.<key> (gradients of that call alone);
                      then y3: x2 from zero states (after a reset).

Usage: python3 tests/golden/gen_graph_rnn.py [out_dir]   (default: tests/golden/graph_rnn)
       python3 tests/golden/gen_graph_rnn.py --check M FILE
           load an axon checkpoint of model M strictly (load_state_dict(strict=True)) into
           the torch model and print the largest difference of its full-run y from M.txt's.
"""
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import load_file, save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from golden_io import write_case  # noqa: E402

T, N, IN, H = 5, 3, 4, 3


class Model(nn.Module):
    def __init__(self, kind, **kw):
        super().__init__()
        self.kind = kind
        layer = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[kind](IN, H, **kw)
        setattr(self, kind, layer)

    def forward(self, x, state):
        return getattr(self, self.kind)(x, state)


MODELS = {
    "lstm": ("lstm", dict(num_layers=2, bidirectional=True), True),
    "gru": ("gru", dict(num_layers=2, bidirectional=True), True),
    "rnn_tanh": ("rnn", dict(num_layers=2), False),
    "rnn_relu": ("rnn", dict(nonlinearity="relu", bias=False, bidirectional=True), True),
    "gru3": ("gru", dict(num_layers=3), True),
}


def make(name):
    torch.manual_seed(0)
    kind, kw, with_h0 = MODELS[name]
    return Model(kind, **kw), kind, kw, with_h0


def run(m, kind, x, h0, c0, ty, th, tc):
    """Forward, loss and backward; returns the outputs and gradients as (name, tensor)."""
    m.zero_grad()
    x = x.clone().requires_grad_(True)
    h0 = None if h0 is None else h0.clone().requires_grad_(True)
    c0 = None if c0 is None else c0.clone().requires_grad_(True)
    if kind == "lstm":
        state = None if h0 is None else (h0, c0)
        y, (hn, cn) = m(x, state)
    else:
        y, hn = m(x, h0)
        cn = None
    loss = F.mse_loss(y, ty) + F.mse_loss(hn, th)
    if cn is not None:
        loss = loss + F.mse_loss(cn, tc)
    loss.backward()
    out = [("loss", loss), ("y", y), ("hn", hn)]
    if cn is not None:
        out.append(("cn", cn))
    out.append(("gx", x.grad))
    if h0 is not None:
        out.append(("gh0", h0.grad))
    if c0 is not None:
        out.append(("gc0", c0.grad))
    out += [("g." + k, p.grad) for k, p in m.named_parameters()]
    return out


def model_case(out_dir, name):
    m, kind, kw, with_h0 = make(name)
    save_file({k: v.contiguous() for k, v in m.state_dict().items()},
              os.path.join(out_dir, name + "_init.safetensors"))
    ld = kw.get("num_layers", 1) * (2 if kw.get("bidirectional") else 1)
    dh = H * (2 if kw.get("bidirectional") else 1)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(T, N, IN, generator=g)
    h0 = torch.randn(ld, N, H, generator=g) if with_h0 else None
    c0 = torch.randn(ld, N, H, generator=g) if with_h0 and kind == "lstm" else None
    ty = torch.randn(T, N, dh, generator=g)
    th = torch.randn(ld, N, H, generator=g)
    tc = torch.randn(ld, N, H, generator=g)
    data = [("x", x)] + ([("h0", h0)] if h0 is not None else []) + \
        ([("c0", c0)] if c0 is not None else []) + [("ty", ty), ("th", th), ("tc", tc)]
    full = run(m, kind, x, h0, c0, ty, th, tc)
    short = run(m, kind, x[:3], h0, c0, ty[:3], th, tc)
    rows = run(m, kind, x[:, :2], None if h0 is None else h0[:, :2],
               None if c0 is None else c0[:, :2], ty[:, :2], th[:, :2], tc[:, :2])
    tensors = data + full + [("s." + k, v) for k, v in short] + [("b." + k, v) for k, v in rows]
    write_case(out_dir, "gen_graph_rnn.py", name,
               f"{kind} {kw} with_h0={with_h0}: full run, first 3 steps (s.), first 2 rows (b.)",
               tensors)


def carry_case(out_dir):
    torch.manual_seed(0)
    m = Model("lstm", num_layers=2)
    save_file({k: v.contiguous() for k, v in m.state_dict().items()},
              os.path.join(out_dir, "lstm_carry_init.safetensors"))
    g = torch.Generator().manual_seed(2)
    x1, x2 = torch.randn(4, 3, IN, generator=g), torch.randn(4, 3, IN, generator=g)
    ty = torch.randn(4, 3, H, generator=g)
    th = torch.randn(2, 3, H, generator=g)
    tc = torch.randn(2, 3, H, generator=g)
    tensors = [("x1", x1), ("x2", x2), ("ty", ty), ("th", th), ("tc", tc)]
    state = None
    for k, x in ((1, x1), (2, x2)):
        m.zero_grad()
        y, (hn, cn) = m(x, state)
        loss = F.mse_loss(y, ty) + F.mse_loss(hn, th) + F.mse_loss(cn, tc)
        loss.backward()
        tensors += [(f"y{k}", y), (f"hn{k}", hn), (f"cn{k}", cn), (f"loss{k}", loss)]
        tensors += [(f"g{k}.{n}", p.grad) for n, p in m.named_parameters()]
        state = (hn.detach(), cn.detach())
    with torch.no_grad():
        tensors.append(("y3", m(x2, None)[0]))
    write_case(out_dir, "gen_graph_rnn.py", "lstm_carry",
               "nn.LSTM(4, 3, 2 layers): x1, then x2 from x1's detached final states; y3: x2 "
               "from zeros", tensors)


def check(name, path):
    m, kind, kw, with_h0 = make(name)
    m.load_state_dict(load_file(path), strict=True)
    here = os.path.dirname(os.path.abspath(__file__))
    case = {}
    with open(os.path.join(here, "graph_rnn", name + ".txt")) as f:
        lines = [ln.split() for ln in f if not ln.startswith("#")]
    i = 0
    while i < len(lines):
        tname, ndim = lines[i][0], int(lines[i][2])
        shape = [int(d) for d in lines[i][3:3 + ndim]]
        count = 1
        for d in shape:
            count *= d
        vals, i = [], i + 1
        while len(vals) < count:
            vals += [float(v) for v in lines[i]]
            i += 1
        case[tname] = torch.tensor(vals).reshape(shape)
    state = case.get("h0")
    if kind == "lstm" and state is not None:
        state = (state, case["c0"])
    with torch.no_grad():
        y = m(case["x"], state)[0]
    print(f"{path}: loaded strictly into {kind} {kw}; largest |y - golden y| "
          f"{(y - case['y']).abs().max().item():.3g}")


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "--check":
        check(sys.argv[2], sys.argv[3])
        return
    here = os.path.dirname(os.path.abspath(__file__))
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "graph_rnn")
    os.makedirs(out_dir, exist_ok=True)
    for name in MODELS:
        model_case(out_dir, name)
    carry_case(out_dir)


if __name__ == "__main__":
    main()
