"""What bench/pytorch/train_mlp.py and train_cnn.py share: PyTorch's side of bench_train_mlp /
bench_train_cnn (bench/train_bench.h), milliseconds per training step of a model at two batch
sizes, on the CPU and, when available, CUDA.

A step is zero_grad + forward + backward + Adam step (PyTorch's defaults, lr 1e-3) with a
cross-entropy loss, timed alone with time.perf_counter after torch.cuda.synchronize() on CUDA;
the median of the timed steps after warm-up steps. Inputs are uniform in [0, 1) and labels
random classes. torch.set_num_threads(os.cpu_count()).

Writes a CSV (device,batch,ms_per_step) for the bench's --pytorch FILE and prints a table.
"""
import argparse
import os
import statistics
import sys
import time

import torch
from torch import nn


def time_steps(make_model, input_shape, classes, device, batch, steps, warmup):
    torch.manual_seed(1)
    model = make_model().to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.rand(batch, *input_shape, device=device)
    y = torch.randint(0, classes, (batch,), device=device)

    def sync():
        if device == "cuda":
            torch.cuda.synchronize()

    def step():
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        return loss

    for _ in range(warmup):
        step()
    sync()
    times = []
    for _ in range(steps):
        t0 = time.perf_counter()
        loss = step()
        sync()
        times.append((time.perf_counter() - t0) * 1e3)
    if not torch.isfinite(loss).item():
        sys.exit(f"{sys.argv[0]}: the loss is not finite")
    return statistics.median(times)


def main(description, make_model, input_shape, classes, batches, default_out):
    """The script's command line: [--out FILE] [--steps N] [--warmup N] [--cpu-only]."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--out", default=default_out, help="CSV to write (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=50, help="timed steps per case (>= 20)")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--cpu-only", action="store_true", help="skip CUDA even when present")
    args = parser.parse_args()
    if args.steps < 20 or args.warmup < 0:
        parser.error("--steps must be >= 20 and --warmup >= 0")

    torch.set_num_threads(os.cpu_count())
    devices = ["cpu"]
    print(f"torch {torch.__version__}; cpu: {os.cpu_count()} cores, "
          f"{torch.get_num_threads()} threads")
    if not args.cpu_only and torch.cuda.is_available():
        devices.append("cuda")
        print(f"cuda: {torch.cuda.get_device_name(0)}")
    else:
        print("no CUDA device: GPU rows skipped" if not args.cpu_only else "GPU skipped")

    rows = [(d, b, time_steps(make_model, input_shape, classes, d, b, args.steps, args.warmup))
            for d in devices for b in batches]
    with open(args.out, "w") as f:
        f.write("device,batch,ms_per_step\n")
        for d, b, ms in rows:
            f.write(f"{d},{b},{ms:.4f}\n")
    print(f"\n{'device':<7} {'batch':>6} {'PyTorch ms/step':>16}")
    for d, b, ms in rows:
        print(f"{d:<7} {b:>6} {ms:>16.3f}")
    print(f"wrote {args.out}")
