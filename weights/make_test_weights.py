#!/usr/bin/python3
"""Deterministic random weights for any VGG configuration, as a torchvision
state_dict in safetensors (numpy only; no torch needed).

    make_test_weights.py --arch vgg16 --classes 7 --out vgg16_gap7.safetensors
    make_test_weights.py --cfg 8,M,16,M,16 --bn --classes 3 --out tiny.safetensors

The same arguments give the same bytes on every machine, so test weights are
made when needed instead of being committed.
"""
import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from safetensors_io import write_atomic  # noqa: E402

# torchvision's configurations (vgg.py: cfgs A, B, D, E); "M" is a max pool.
CFGS = {
    "vgg11": [64, "M", 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg13": [64, 64, "M", 128, 128, "M", 256, 256, "M", 512, 512, "M", 512, 512, "M"],
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"],
}


def parse_cfg(text):
    return [v if v == "M" else int(v) for v in text.split(",")]


def make_state_dict(cfg, bn, classes, seed, head="classifier.0"):
    """torchvision key names: features.N for conv/BN, ReLU and pools take an index each."""
    rng = np.random.default_rng(seed)
    sd, idx, c_in = {}, 0, 3
    for v in cfg:
        if v == "M":
            idx += 1
            continue
        fan_out = v * 9  # kaiming_normal_(mode="fan_out"), as torchvision initialises
        sd[f"features.{idx}.weight"] = rng.normal(0, np.sqrt(2.0 / fan_out), (v, c_in, 3, 3)).astype(np.float32)
        sd[f"features.{idx}.bias"] = rng.normal(0, 0.05, v).astype(np.float32)
        idx += 1
        if bn:
            sd[f"features.{idx}.weight"] = rng.uniform(0.5, 1.5, v).astype(np.float32)
            sd[f"features.{idx}.bias"] = rng.normal(0, 0.1, v).astype(np.float32)
            sd[f"features.{idx}.running_mean"] = rng.normal(0, 0.1, v).astype(np.float32)
            sd[f"features.{idx}.running_var"] = rng.uniform(0.5, 1.5, v).astype(np.float32)
            sd[f"features.{idx}.num_batches_tracked"] = np.array(0, dtype=np.int64)
            idx += 1
        idx += 1  # ReLU
        c_in = v
    # Features after ReLU are non-negative; a zero-mean head spreads the logits.
    sd[f"{head}.weight"] = rng.normal(0, 1.0 / np.sqrt(c_in), (classes, c_in)).astype(np.float32)
    sd[f"{head}.bias"] = rng.normal(0, 0.1, classes).astype(np.float32)
    return sd


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    g = ap.add_mutually_exclusive_group()
    g.add_argument("--arch", choices=sorted(CFGS), default="vgg16", help="default vgg16")
    g.add_argument("--cfg", help="comma-separated widths and M for max pools, e.g. 8,M,16,M; a last M is pool5 "
                   "(as --pool5 keep: a state_dict has no tensor for it). Without it and --pool5 the file says "
                   "nothing, and vggcl keeps pool5, as torchvision's configurations have it")
    ap.add_argument("--bn", action="store_true", help="BatchNorm after every conv (vggNN_bn)")
    ap.add_argument("--classes", type=int, default=7, help="default 7")
    ap.add_argument("--seed", type=int, default=0, help="default 0")
    ap.add_argument("--head", default="classifier.0", help="key prefix of the linear head (default classifier.0)")
    ap.add_argument("--pool5", choices=["keep", "drop"], help="write __metadata__ vggcl.pool5 (--arch: keep, "
                    "unless drop is given)")
    ap.add_argument("--dtype", choices=["F32", "F16", "BF16"], default="F32", help="default F32")
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    if a.classes < 1:
        ap.error(f"--classes {a.classes}: expected at least 1")
    try:
        cfg = parse_cfg(a.cfg) if a.cfg else CFGS[a.arch]
    except ValueError:
        ap.error(f"--cfg {a.cfg}: expected widths and M separated by commas, e.g. 8,M,16")
    if any(v != "M" and not 1 <= v <= 65536 for v in cfg):
        ap.error(f"--cfg {a.cfg}: widths from 1 to 65536 expected")
    if a.seed < 0:
        ap.error(f"--seed {a.seed}: expected 0 or more")
    if cfg[0] == "M" or any(x == y == "M" for x, y in zip(cfg, cfg[1:])):  # (the file has no tensor for a pool)
        ap.error("a configuration starts with a width and has no two M in a row: vggcl finds the pools "
                 "between the convolutions' indices (a file of this one would be refused or run otherwise)")
    if cfg[-1] == "M" and (a.cfg or a.pool5 != "drop"):  # pool5, which the tensors cannot say
        if a.pool5 == "drop":  # (--arch's pool5 may be dropped: the CAM paper's 14x14 map; its tensors are the same)
            ap.error("the configuration ends with pool5 (M), and --pool5 drop drops it")
        a.pool5 = "keep"
    sd = make_state_dict(cfg, a.bn, a.classes, a.seed, a.head)
    meta = {"format": "pt"}
    if a.pool5:
        meta["vggcl.pool5"] = a.pool5
    try:
        write_atomic(sd, meta, a.out, dtype=a.dtype)  # (a full disk or a size limit left a partial file)
    except OSError as e:
        sys.exit(f"make_test_weights.py: {a.out}: cannot write: {e.strerror or e}")


if __name__ == "__main__":
    main()
