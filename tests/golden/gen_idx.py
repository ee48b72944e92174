#!/usr/bin/env python3
"""IDX files for axon's reader, written by numpy with big-endian dtypes (an independent writer).

Writes tests/golden/idx/, each file plain and gzip-compressed (<name>.idx, <name>.idx.gz):
  <type>          one array of every element type (u8, i8, i16, i32, f32, f64) with values
                  whose bytes differ, so a missing or wrong byte swap shows (0x0102, negative
                  numbers, non-integer floats, the extremes of each type, -0.0, inf)
  <type>_short    the same with its last data byte cut off (truncated data)
  <type>_trailing the same with one byte of garbage after the data
  overflow_*      headers whose element counts or byte sizes overflow 64 bits, without data

tests/test_io_datasets.c holds the same values and reads these files. The gzip files carry
mtime 0, so a rerun writes identical bytes.

Usage: python3 tests/golden/gen_idx.py [out_dir]     (default: tests/golden/idx)
"""
import gzip
import os
import struct
import sys

import numpy as np

# type code, numpy big-endian dtype, shape, values (row-major)
ARRAYS = {
    "u8": (0x08, ">u1", (2, 3), [0, 1, 2, 127, 128, 255]),
    "i8": (0x09, ">i1", (5,), [0, 1, -1, 127, -128]),
    "i16": (0x0B, ">i2", (2, 2, 2), [0x0102, -2, 32767, -32768, 0, 1, -256, 0x7F00]),
    "i32": (0x0C, ">i4", (3, 1, 2, 1),
            [0x01020304, -2, 2147483647, -2147483648, 0, -16777216]),
    "f32": (0x0D, ">f4", (7,), [1.5, -2.25, 0.1, -0.0, 3.4028234663852886e38, float("inf"),
                                1.401298464324817e-45]),
    "f64": (0x0E, ">f8", (2, 3), [0.1, -1e300, 2.5, -0.0, 5e-324, float("-inf")]),
}

# name: (type code, dims); no data follows the header.
OVERFLOWS = {
    "overflow_u8_2p31_2p31_4": (0x08, [2**31, 2**31, 4]),   # 2^64 elements: wraps to 0
    "overflow_u8_2p31_2p31_2": (0x08, [2**31, 2**31, 2]),   # 2^63 elements > INT64_MAX
    "overflow_i16_2p31_2p31": (0x0B, [2**31, 2**31]),       # 2^62 elements, 2^63 bytes
    "overflow_f64_max4": (0x0E, [2**32 - 1] * 4),
    "overflow_i32_2p16_2p16_2p15_2": (0x0C, [2**16, 2**16, 2**15, 2]),  # 2^48 elements, 2^50 bytes
}


def header(type_code, dims):
    return struct.pack(">BBBB", 0, 0, type_code, len(dims)) + struct.pack(
        ">%dI" % len(dims), *dims)


def write(out_dir, name, data):
    with open(os.path.join(out_dir, name + ".idx"), "wb") as f:
        f.write(data)
    with open(os.path.join(out_dir, name + ".idx.gz"), "wb") as f:
        with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as g:
            g.write(data)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "idx")
    os.makedirs(out_dir, exist_ok=True)
    for name, (code, dtype, shape, values) in ARRAYS.items():
        a = np.array(values, dtype=dtype).reshape(shape)
        body = a.tobytes()
        assert len(body) == a.size * np.dtype(dtype).itemsize
        data = header(code, a.shape) + body
        write(out_dir, name, data)
        write(out_dir, name + "_short", data[:-1])
        write(out_dir, name + "_trailing", data + b"\x5a")
    for name, (code, dims) in OVERFLOWS.items():
        write(out_dir, name, header(code, dims))


if __name__ == "__main__":
    main()
