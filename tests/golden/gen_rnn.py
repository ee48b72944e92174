#!/usr/bin/env python3
"""Golden cases for axon's recurrent ops, computed by PyTorch on the CPU.

tests/golden/rnn/<case>.txt, checked by tests/test_rnn.c. Format as in gen_dense.py (named
tensors in a text file). Every case is a module of D directions (1 or 2) and L layers over
x [T, N, in] (time-major) with given h0 (and c0) [L D, N, H]; the loss is
    sum(y dy) + sum(hT dhT) + sum(cT dcT)
with random dy [T, N, D H], dhT, dcT [L D, N, H], so the gradients are the backward of those.
Each case holds
    dims f32 [5]: T N in H layers,   x, h0, (c0), dy, dhT, (dcT)
    weight_ih_l<k>[_reverse], weight_hh_..., bias_ih_..., bias_hh_...   (PyTorch's names)
    y, hT, (cT), dx, dh0, (dc0), and d<name> for every weight and bias.
The bidirectional cases give the reverse direction's golden (PyTorch's _reverse weights).
The textbook GRU (h' = (1 - z) h + z tanh(W_in x + b_in + W_hn (r h) + b_hn)) is the small
explicit implementation below, with PyTorch's GRU parameter shapes.

Usage: python3 tests/golden/gen_rnn.py [out_dir]   (default: tests/golden/rnn)
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_io  # noqa: E402

torch.set_default_dtype(torch.float32)
torch.use_deterministic_algorithms(True)

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), "rnn")


class TextbookGRU(torch.nn.Module):
    """One layer of the textbook GRU, PyTorch's GRU parameter names and shapes."""

    def __init__(self, inp, hidden, bidirectional):
        super().__init__()
        ref = torch.nn.GRU(inp, hidden, bidirectional=bidirectional)
        self.sfx = ["", "_reverse"] if bidirectional else [""]
        self.h = hidden
        for s in self.sfx:
            for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                name = f"{n}_l0{s}"
                setattr(self, name, torch.nn.Parameter(getattr(ref, name).detach().clone()))

    def cell(self, x, h, s):
        H = self.h
        wi, wh = getattr(self, "weight_ih_l0" + s), getattr(self, "weight_hh_l0" + s)
        bi, bh = getattr(self, "bias_ih_l0" + s), getattr(self, "bias_hh_l0" + s)
        gi = x @ wi.t() + bi
        r = torch.sigmoid(gi[:, :H] + h @ wh[:H].t() + bh[:H])
        z = torch.sigmoid(gi[:, H:2 * H] + h @ wh[H:2 * H].t() + bh[H:2 * H])
        n = torch.tanh(gi[:, 2 * H:] + (r * h) @ wh[2 * H:].t() + bh[2 * H:])
        return (1 - z) * h + z * n

    def forward(self, x, h0):
        outs, finals = [], []
        for d, s in enumerate(self.sfx):
            h, ys = h0[d], [None] * x.shape[0]
            order = range(x.shape[0]) if d == 0 else reversed(range(x.shape[0]))
            for t in order:
                h = self.cell(x[t], h, s)
                ys[t] = h
            outs.append(torch.stack(ys))
            finals.append(h)
        return torch.cat(outs, dim=2), torch.stack(finals)


def case(name, comment, seed, kind, T, N, inp, H, layers=1, bidirectional=False, **kw):
    torch.manual_seed(seed)
    D = 2 if bidirectional else 1
    if kind == "gru_textbook":
        mod = TextbookGRU(inp, H, bidirectional)
    else:
        cls = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[kind]
        mod = cls(inp, H, num_layers=layers, bidirectional=bidirectional, **kw)
    lstm = kind == "lstm"
    x = torch.randn(T, N, inp, requires_grad=True)
    h0 = torch.randn(layers * D, N, H, requires_grad=True)
    c0 = torch.randn(layers * D, N, H, requires_grad=True) if lstm else None
    if lstm:
        y, (hT, cT) = mod(x, (h0, c0))
    else:
        y, hT = mod(x, h0)
    dy, dhT = torch.randn(y.shape), torch.randn(hT.shape)
    loss = (y * dy).sum() + (hT * dhT).sum()
    dcT = None
    if lstm:
        dcT = torch.randn(cT.shape)
        loss = loss + (cT * dcT).sum()
    loss.backward()
    t = [("dims", torch.tensor([T, N, inp, H, layers], dtype=torch.float32)), ("x", x), ("h0", h0)]
    if lstm:
        t.append(("c0", c0))
    t += [("dy", dy), ("dhT", dhT)]
    if lstm:
        t.append(("dcT", dcT))
    params = list(mod.named_parameters())
    t += [(n, p) for n, p in params]
    t += [("y", y), ("hT", hT)]
    if lstm:
        t.append(("cT", cT))
    t += [("dx", x.grad), ("dh0", h0.grad)]
    if lstm:
        t.append(("dc0", c0.grad))
    t += [("d" + n, p.grad) for n, p in params]
    golden_io.write_case(OUT, "gen_rnn.py", name, comment, t)


def main():
    case("rnn_tanh_bi", "nn.RNN(4, 5, tanh, bidirectional), T=5, N=3", 21, "rnn", 5, 3, 4, 5,
         bidirectional=True, nonlinearity="tanh")
    case("rnn_relu_bi", "nn.RNN(4, 5, relu, bidirectional), T=5, N=3", 22, "rnn", 5, 3, 4, 5,
         bidirectional=True, nonlinearity="relu")
    case("lstm_bi", "nn.LSTM(4, 5, bidirectional), T=5, N=3", 23, "lstm", 5, 3, 4, 5,
         bidirectional=True)
    case("gru_bi", "nn.GRU(4, 5, bidirectional), T=5, N=3", 24, "gru", 5, 3, 4, 5,
         bidirectional=True)
    case("gru_textbook_bi", "textbook GRU (explicit), bidirectional, T=5, N=3", 25,
         "gru_textbook", 5, 3, 4, 5, bidirectional=True)
    case("lstm_2layer", "nn.LSTM(3, 6, num_layers=2), T=6, N=2", 26, "lstm", 6, 2, 3, 6,
         layers=2)
    case("gru_2layer_bi", "nn.GRU(3, 4, num_layers=2, bidirectional), T=5, N=2, no bias", 27,
         "gru", 5, 2, 3, 4, layers=2, bidirectional=True, bias=False)
    case("rnn_tanh_n1_h1", "nn.RNN(2, 1, tanh), T=7, N=1, H=1", 28, "rnn", 7, 1, 2, 1)


if __name__ == "__main__":
    main()
