#!/usr/bin/python3
"""Writes two synthetic 224x224 RGB pictures (a disc on a gradient, and
stripes), normalized with the ImageNet mean and std as torchvision does, as a
float32 (2, 3, 224, 224) .npy for the built-in example.

usage: make_example_input.py OUT.npy
"""
import sys

import numpy as np

MEAN = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
STD = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]


def pictures(size=224):
    y, x = np.mgrid[0:size, 0:size].astype(np.float32) / (size - 1)
    disc = ((x - 0.6) ** 2 + (y - 0.4) ** 2 < 0.05).astype(np.float32)
    a = np.stack([0.2 + 0.6 * x, 0.3 + 0.4 * y, 0.5 - 0.3 * x]) * (1 - disc) + disc * np.array(
        [0.9, 0.2, 0.1], np.float32)[:, None, None]
    stripes = (np.sin(x * 40 + y * 10) > 0).astype(np.float32)
    b = np.stack([stripes, 0.5 * stripes + 0.25, 1 - stripes])
    return np.stack([a, b]).astype(np.float32)


if __name__ == "__main__":
    if sys.argv[1:] in (["--help"], ["-h"]):
        print(__doc__.strip())
        sys.exit(0)
    if len(sys.argv) != 2 or sys.argv[1].startswith("-"):  # (--help was taken for a file name)
        print(__doc__.strip(), file=sys.stderr)
        sys.exit(2)  # (a usage mistake, as the other tools')
    out = sys.argv[1]
    try:  # (the name as given: np.save of a name added ".npy" to one without it; a folder not there: a traceback)
        with open(out, "wb") as f:
            np.save(f, ((pictures() - MEAN) / STD).astype(np.float32))
    except OSError as e:
        sys.exit(f"make_example_input.py: {out}: {e.strerror}")
