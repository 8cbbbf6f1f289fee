#!/usr/bin/env python3
"""Makes the README's pool5 picture: `vggcl cam --compare-pool5` on a real photo
(skimage's astronaut, from Debian's python3-skimage) with hand-built weights.

No trained VGG weights can be downloaded here, and random weights give random
maps, so the weights are built to detect a colour: every conv passes the three
input channels through unchanged (centre tap 1, the first conv adds 3 so ReLU
keeps them) and zeroes the rest; the GAP head's class 0 is "red" (R - (G+B)/2)
and class 1 "blue". The maps then show where the photo is red or blue, at 7x7
with pool5 and 14x14 without: the resolution difference the choice is about.

usage: make_cam_demo.py VGGCL_BINARY OUT_DIR   (the README shows OUT_DIR/astronaut.compare.png,
       copied to tools/cam-compare-pool5.png)
"""
import subprocess
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "weights"))
from make_test_weights import CFGS  # noqa: E402
from safetensors_io import save_file  # noqa: E402


def colour_detector():
    sd, idx, c_in = {}, 0, 3
    for v in CFGS["vgg16"]:
        if v == "M":
            idx += 1
            continue
        w = np.zeros((v, c_in, 3, 3), np.float32)
        for c in range(3):
            w[c, c, 1, 1] = 1.0
        b = np.zeros(v, np.float32)
        if idx == 0:
            b[:3] = 3.0  # normalized inputs lie within about +-2.7: stay positive through ReLU
        sd[f"features.{idx}.weight"], sd[f"features.{idx}.bias"] = w, b
        idx += 2
        c_in = v
    head = np.zeros((2, c_in), np.float32)
    head[0, :3] = [1.0, -0.5, -0.5]  # red
    head[1, :3] = [-0.5, -0.5, 1.0]  # blue
    sd["classifier.0.weight"], sd["classifier.0.bias"] = head, np.zeros(2, np.float32)
    return sd


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    import skimage
    out = Path(sys.argv[2])
    out.mkdir(parents=True, exist_ok=True)
    weights = out / "colour_detector.safetensors"
    save_file(colour_detector(), weights, metadata={"format": "pt"})
    photo = Path(skimage.data_dir) / "astronaut.png"
    subprocess.run([sys.argv[1], "cam", "--weights", str(weights), "--class", "0", "--compare-pool5",
                    "--out-dir", str(out), str(photo)], check=True)


if __name__ == "__main__":
    main()
