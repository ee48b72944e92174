#!/usr/bin/env python3
"""Checks that examples/mnist_cnn and PyTorch's equivalent module are the same model, both ways.

1. axon -> torch: an axon checkpoint (--checkpoint, e.g. the one `mnist_cnn` saved) loads into
   the torch.nn module below with load_state_dict(strict=True) (every name, shape and dtype:
   bn*.num_batches_tracked is int64), and torch's test accuracy on the 10,000 MNIST test images
   equals the one `mnist_cnn --epochs 0 --load CHECKPOINT` prints, to 1e-3, and so does the
   test loss, to 2e-4.
2. torch -> axon: the module, trained a few steps in torch (so the batch norm running statistics
   and counters are not their initial values), is saved as safetensors and evaluated by
   `mnist_cnn --epochs 0 --load FILE`; the accuracy and loss it prints equal torch's.

The safetensors files are read and written by hand (an 8-byte little-endian header length, a
JSON header of dtype, shape and data_offsets per tensor, then the raw little-endian data), so
only torch and numpy are needed. MNIST's idx files are read with numpy, scaled to [0, 1] as
ax_mnist_load does (pixel / 255 in float32).

Exit status: 0 when both directions agree, 1 when they do not, 77 when torch or MNIST is
missing (ctest's SKIP_RETURN_CODE; a missing MNIST fails instead where ../shared/data exists).

Usage: python3 examples/check_mnist_cnn_torch.py --program build/examples/mnist_cnn
           --checkpoint mnist_cnn.safetensors [--data DIR] [--work DIR]
"""
import argparse
import gzip
import json
import os
import re
import struct
import subprocess
import sys

SKIP = 77
TOLERANCE = 1e-3       # accuracy
LOSS_TOLERANCE = 2e-4  # test loss: half a unit of the 4th decimal printed, and float noise

try:
    import numpy as np
    import torch
    from torch import nn
except ImportError as e:  # pragma: no cover - depends on the machine
    print(f"check_mnist_cnn_torch: {e}: test skipped (needs torch and numpy)")
    sys.exit(SKIP)


class MnistCnn(nn.Module):
    """examples/mnist_cnn's model (examples/common/mnist_cnn_model.h), attribute for layer."""

    def __init__(self, dropout=0.5):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(32)
        self.conv2 = nn.Conv2d(32, 64, 3, padding=1)
        self.bn2 = nn.BatchNorm2d(64)
        self.drop = nn.Dropout(dropout)
        self.fc1 = nn.Linear(64 * 7 * 7, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = nn.functional.max_pool2d(torch.relu(self.bn1(self.conv1(x))), 2)
        x = nn.functional.max_pool2d(torch.relu(self.bn2(self.conv2(x))), 2)
        x = self.drop(torch.flatten(x, 1))
        return self.fc2(torch.relu(self.fc1(x)))


# ---------------------------------------------------------------- safetensors by hand

DTYPES = {"F32": np.float32, "I64": np.int64, "I32": np.int32, "F64": np.float64}


def load_safetensors(path):
    """{name: torch tensor} of a safetensors file."""
    with open(path, "rb") as f:
        blob = f.read()
    (size,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + size])
    data = blob[8 + size:]
    out = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        dtype = np.dtype(DTYPES[entry["dtype"]]).newbyteorder("<")
        array = np.frombuffer(data[begin:end], dtype=dtype).reshape(entry["shape"])
        out[name] = torch.from_numpy(array.astype(array.dtype.newbyteorder("="), copy=True))
    return out


def save_safetensors(tensors, path):
    """Writes {name: torch tensor} (float32 or int64) as safetensors, names in sorted order."""
    names = {np.dtype(np.float32): "F32", np.dtype(np.int64): "I64"}
    header, chunks, offset = {}, [], 0
    for name in sorted(tensors):
        array = tensors[name].detach().cpu().contiguous().numpy()
        raw = array.astype(array.dtype.newbyteorder("<")).tobytes()
        header[name] = {"dtype": names[array.dtype], "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data start 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


# ---------------------------------------------------------------- MNIST

def find_data(given):
    """The folder holding mnist/ (as ax_data_dir looks), or None."""
    here = os.path.dirname(os.path.abspath(__file__))
    candidates = [given] if given else [os.environ.get("AXON_DATA"),
                                        os.path.join(here, "..", "..", "shared", "data")]
    for c in candidates:
        if c and os.path.isfile(os.path.join(c, "mnist", "t10k-images-idx3-ubyte.gz")):
            return os.path.join(c, "mnist")
    return None


def read_idx(path, header):
    with gzip.open(path, "rb") as f:
        return np.frombuffer(f.read(), dtype=np.uint8, offset=header)


def mnist(folder, split):
    """images [N, 1, 28, 28] float32 in [0, 1] and labels [N] int64 of split train or t10k."""
    images = read_idx(os.path.join(folder, f"{split}-images-idx3-ubyte.gz"), 16)
    labels = read_idx(os.path.join(folder, f"{split}-labels-idx1-ubyte.gz"), 8)
    images = images.astype(np.float32).reshape(-1, 1, 28, 28) / np.float32(255)
    return torch.from_numpy(images), torch.from_numpy(labels.astype(np.int64))


@torch.no_grad()
def torch_score(model, images, labels, batch=1000):
    """(mean cross-entropy, accuracy) of the model in eval mode, as mnist_cnn scores."""
    model.eval()
    correct, loss = 0, 0.0
    for i in range(0, len(labels), batch):
        logits = model(images[i:i + batch])
        correct += (logits.argmax(1) == labels[i:i + batch]).sum().item()
        loss += nn.functional.cross_entropy(logits.double(), labels[i:i + batch],
                                            reduction="sum").item()
    return loss / len(labels), correct / len(labels)


def axon_score(program, checkpoint, data_dir):
    """(test loss, test accuracy) as `mnist_cnn --epochs 0 --load checkpoint` prints them."""
    cmd = [program, "--epochs", "0", "--load", checkpoint, "--device", "cpu",
           "--data", os.path.dirname(data_dir)]
    run = subprocess.run(cmd, capture_output=True, text=True)
    print(f"$ {' '.join(cmd)}\n{run.stdout}{run.stderr}", end="")
    loss = re.search(r"test loss ([0-9.]+)", run.stdout)
    accuracy = re.search(r"test accuracy: ([0-9.]+)", run.stdout)
    if run.returncode != 0 or not loss or not accuracy:
        sys.exit(f"check_mnist_cnn_torch: {program} failed (exit {run.returncode})")
    return float(loss.group(1)), float(accuracy.group(1))


def agree(what, ours, theirs):
    """Whether axon's (loss, accuracy) match torch's: the accuracy to TOLERANCE, the loss
    (printed to 4 decimals) to LOSS_TOLERANCE, so a model that differs in a constant that
    rarely flips a prediction (batch norm's eps) still fails."""
    ok = abs(ours[1] - theirs[1]) <= TOLERANCE and abs(ours[0] - theirs[0]) <= LOSS_TOLERANCE
    print(f"{what}: axon loss {ours[0]:.4f} accuracy {ours[1]:.4f}, torch loss "
          f"{theirs[0]:.6f} accuracy {theirs[1]:.4f}: {'same' if ok else 'DIFFERENT'}")
    return ok


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--program", required=True, help="the mnist_cnn binary")
    parser.add_argument("--checkpoint", required=True, help="an axon mnist_cnn checkpoint")
    parser.add_argument("--data", help="the folder holding mnist/ (default: as mnist_cnn)")
    parser.add_argument("--work", default=".", help="where to write the torch checkpoint")
    parser.add_argument("--steps", type=int, default=60, help="torch training steps (2.)")
    args = parser.parse_args()

    data = find_data(args.data)
    if not data:
        here = os.path.dirname(os.path.abspath(__file__))
        if os.path.isdir(os.path.join(here, "..", "..", "shared", "data")):
            sys.exit("check_mnist_cnn_torch: MNIST is missing although ../shared/data exists")
        print("axon-tests: dataset missing, test skipped: mnist")
        sys.exit(SKIP)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    test_x, test_y = mnist(data, "t10k")

    # 1. axon -> torch
    model = MnistCnn()
    model.load_state_dict(load_safetensors(args.checkpoint), strict=True)
    ok = agree("axon checkpoint", axon_score(args.program, args.checkpoint, data),
               torch_score(model, test_x, test_y))

    # 2. torch -> axon
    train_x, train_y = mnist(data, "train")
    model = MnistCnn()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    model.train()
    for step in range(args.steps):
        lo = step * 64
        loss = nn.functional.cross_entropy(model(train_x[lo:lo + 64]), train_y[lo:lo + 64])
        opt.zero_grad()
        loss.backward()
        opt.step()
    path = os.path.join(args.work, "check_mnist_cnn_torch.safetensors")
    save_safetensors(model.state_dict(), path)
    ok = agree(f"torch checkpoint ({args.steps} torch steps)",
               axon_score(args.program, path, data),
               torch_score(model, test_x, test_y)) and ok
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
