#!/usr/bin/env python3
"""PyTorch's side of examples/char_rnn: the same character-level model, data and loop.

embedding (64) -> nn.LSTM (or nn.GRU) -> nn.Linear(H, V), cross-entropy over every [T, N]
position; the training text (the first 90% of tiny shakespeare's input.txt, bytes, vocabulary
the sorted set of distinct bytes) cut into N streams read side by side, T characters per step,
the final states of one step (detached) the initial states of the next, reset at each epoch;
gradients clipped to a global norm; Adam with a cosine decay of the learning rate to 0 over the
run, step by step; after each epoch the validation loss (the last 10%, the same streamed way,
eval mode) in nats per character. Defaults are char_rnn's; --quick is char_rnn --quick.

Usage: python3 bench/pytorch/train_char.py [--quick] [--data DIR] [--epochs N] [--batch N]
       [--seq T] [--hidden H] [--layers L] [--embed D] [--dropout P] [--lr X] [--clip X]
       [--cell lstm|gru] [--threads N] [--device cpu|cuda] [--seed N]
"""
import argparse
import math
import os
import sys
import time

import torch
from torch import nn
import torch.nn.functional as F


class CharModel(nn.Module):
    def __init__(self, vocab, embed, hidden, layers, dropout, cell):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        rnn = nn.GRU if cell == "gru" else nn.LSTM
        self.rnn = rnn(embed, hidden, num_layers=layers, dropout=dropout if layers > 1 else 0.0)
        self.fc = nn.Linear(hidden, vocab)

    def forward(self, ids, state):
        y, state = self.rnn(self.embed(ids), state)
        return self.fc(y), state


def detach(state):
    if state is None:
        return None
    if isinstance(state, tuple):
        return tuple(s.detach() for s in state)
    return state.detach()


def streams(ids, batch):
    """[batch, len + 1]: the text cut into batch streams (and each one's next character)."""
    n = (len(ids) - 1) // batch
    rows = [ids[b * n: b * n + n + 1] for b in range(batch)]
    return torch.stack(rows), n


def steps_of(data, n, seq, device):
    for at in range(0, n, seq):
        t = min(seq, n - at)
        yield (data[:, at:at + t].t().contiguous().to(device),
               data[:, at + 1:at + t + 1].t().contiguous().to(device))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--data", default=None)
    ap.add_argument("--epochs", type=int)
    ap.add_argument("--batch", type=int)
    ap.add_argument("--seq", type=int)
    ap.add_argument("--hidden", type=int)
    ap.add_argument("--layers", type=int)
    ap.add_argument("--embed", type=int, default=64)
    ap.add_argument("--dropout", type=float)
    ap.add_argument("--lr", type=float)
    ap.add_argument("--clip", type=float, default=5.0)
    ap.add_argument("--cell", default="lstm", choices=("lstm", "gru"))
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=42)
    a = ap.parse_args()
    base = dict(epochs=4, batch=32, seq=64, hidden=256, layers=1, dropout=0.0, lr=3e-3) \
        if a.quick else dict(epochs=20, batch=64, seq=100, hidden=512, layers=2, dropout=0.2,
                             lr=2e-3)
    for k, v in base.items():
        if getattr(a, k) is None:
            setattr(a, k, v)
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    here = os.path.dirname(os.path.abspath(__file__))
    data_dir = a.data or os.environ.get("AXON_DATA") or os.path.join(here, "..", "..", "..",
                                                                      "shared", "data")
    path = os.path.join(data_dir, "tinyshakespeare", "input.txt")
    if not os.path.exists(path):
        path = os.path.join(data_dir, "input.txt")
    raw = open(path, "rb").read()
    vocab = sorted(set(raw))
    index = {c: i for i, c in enumerate(vocab)}
    ids = torch.tensor([index[c] for c in raw], dtype=torch.long)
    cut = int(len(ids) * 0.9)
    train, val = ids[:cut], ids[cut:]
    model = CharModel(len(vocab), a.embed, a.hidden, a.layers, a.dropout, a.cell).to(a.device)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    tdata, tn = streams(train, a.batch)
    vdata, vn = streams(val, a.batch)
    per_epoch = math.ceil(tn / a.seq)
    total = a.epochs * per_epoch
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(s, total) / total)))
    print(f"torch {torch.__version__}, {a.device}, {a.threads} thread(s): {a.cell} {a.layers}x"
          f"{a.hidden}, embed {a.embed}, seq {a.seq}, batch {a.batch}, {a.epochs} epochs, "
          f"lr {a.lr} cosine, clip {a.clip}, dropout {a.dropout}")
    start = time.perf_counter()
    for epoch in range(1, a.epochs + 1):
        model.train()
        state, total_loss, steps = None, 0.0, 0
        for x, y in steps_of(tdata, tn, a.seq, a.device):
            logits, state = model(x, state)
            state = detach(state)
            loss = F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            if a.clip > 0:
                nn.utils.clip_grad_norm_(model.parameters(), a.clip)
            opt.step()
            sched.step()
            total_loss += loss.item()
            steps += 1
        model.eval()
        with torch.no_grad():
            state, vsum, vcount = None, 0.0, 0
            for x, y in steps_of(vdata, vn, a.seq, a.device):
                logits, state = model(x, state)
                vsum += F.cross_entropy(logits.reshape(-1, len(vocab)), y.reshape(-1),
                                        reduction="sum").item()
                vcount += y.numel()
        print(f"epoch {epoch}/{a.epochs}: train loss {total_loss / steps:.4f}, validation loss "
              f"{vsum / vcount:.4f} nats/char, {time.perf_counter() - start:.1f} s", flush=True)
    print(f"validation loss: {vsum / vcount:.4f} nats/char")


if __name__ == "__main__":
    sys.exit(main())
