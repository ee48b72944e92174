#!/usr/bin/env python3
"""Draw the training curves of `mnist_mlp --log FILE`: the loss of every step (and its running
mean over an epoch's worth of steps) and the test accuracy at the end of each epoch.

Usage: python3 examples/plot_mnist_log.py LOG.csv [OUT.png]   (default OUT: LOG.png)
Needs matplotlib (pip install matplotlib, or apt-get install python3-matplotlib); without it,
it says so and prints the accuracy per epoch instead.
"""
import csv
import os
import sys


def read_log(path):
    steps, losses, acc_epochs, acc_steps, accs = [], [], [], [], []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row.get("loss"):
                steps.append(int(row["step"]))
                losses.append(float(row["loss"]))
            if row.get("accuracy"):
                acc_epochs.append(int(row["epoch"]))
                acc_steps.append(int(row["step"]))
                accs.append(float(row["accuracy"]))
    return steps, losses, acc_epochs, acc_steps, accs


def running_mean(values, window):
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def main():
    if len(sys.argv) not in (2, 3) or sys.argv[1] in ("-h", "--help"):
        sys.exit(__doc__.strip())
    path = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) == 3 else os.path.splitext(path)[0] + ".png"
    steps, losses, acc_epochs, acc_steps, accs = read_log(path)
    if not steps:
        sys.exit(f"plot_mnist_log.py: no steps in {path}")

    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("plot_mnist_log.py: matplotlib is not installed (pip install matplotlib, or "
              "apt-get install python3-matplotlib); the accuracy per epoch instead:")
        for e, a in zip(acc_epochs, accs):
            print(f"  epoch {e:3d}: test accuracy {a:.4f}")
        return

    steps_per_epoch = max(1, acc_steps[0] if acc_steps else len(steps))
    window = max(1, steps_per_epoch // 4)
    fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(11, 4))
    ax_loss.plot(steps, losses, lw=0.5, alpha=0.4, label="loss per step")
    ax_loss.plot(steps, running_mean(losses, window), lw=1.5,
                 label=f"running mean ({window} steps)")
    ax_loss.set_yscale("log")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("training loss (cross-entropy)")
    ax_loss.legend()
    ax_loss.grid(alpha=0.3)
    if accs:
        ax_acc.plot(acc_epochs, accs, marker="o")
        ax_acc.axhline(0.98, color="gray", ls="--", lw=0.8, label="0.98")
        ax_acc.legend()
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("test accuracy")
    ax_acc.grid(alpha=0.3)
    fig.suptitle(f"mnist_mlp: {os.path.basename(path)}")
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
