#!/usr/bin/python3
"""vggcl against PyTorch on torchvision's own models.

Builds torchvision's vgg16 with the GAP head (pool5 kept and dropped) and
vgg11_bn (with non-trivial BatchNorm statistics), saves each state_dict as
safetensors, runs `vggcl run` on the OpenCL device, and checks the logits and
GAP features: relative L2 <= 1e-4 and the same top-1 class for every image.

usage: parity_torch.py VGGCL_BINARY
"""
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import testenv  # noqa: F401  (the device: VGGCL_TEST_DEVICE)

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "weights"))
from export_torchvision import export, gap_features, gap_model, original_model  # noqa: E402

VGGCL = None
TOL = 1e-4  # float32 chains of 8-13 convs, two implementations: ~1e-6 seen


def rel_l2(got, want):
    return float(np.linalg.norm(got - want) / np.linalg.norm(want))


class Parity(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.dir = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def check(self, model, pool5, shape, seed, dtype=None, tol=TOL):
        x = torch.randn(*shape, generator=torch.Generator().manual_seed(seed))
        with torch.no_grad():
            want_logits = model(x).numpy()
            want_feats = gap_features(model, x).numpy()
        w = self.dir / "w.safetensors"
        export(model, w, pool5, dtype)
        np.save(self.dir / "x.npy", x.numpy())
        out = subprocess.run([VGGCL, "run", "--weights", str(w), "--input", str(self.dir / "x.npy"),
                              "--output", str(self.dir / "y.npy"), "--features", str(self.dir / "f.npy")],
                             capture_output=True, text=True)
        self.assertEqual(out.returncode, 0, out.stderr)
        logits, feats = np.load(self.dir / "y.npy"), np.load(self.dir / "f.npy")
        self.assertEqual(logits.shape, want_logits.shape)
        self.assertEqual(feats.shape, want_feats.shape)
        e_l, e_f = rel_l2(logits, want_logits), rel_l2(feats, want_feats)
        print(f"  {shape} pool5={pool5} dtype={dtype or 'F32'}: logits rel L2 {e_l:.2e}, features {e_f:.2e}",
              file=sys.stderr)
        self.assertLessEqual(e_l, tol)
        self.assertLessEqual(e_f, tol)
        np.testing.assert_array_equal(logits.argmax(1), want_logits.argmax(1))

    def test_vgg16_gap_pool5_keep_224(self):
        self.check(gap_model("vgg16", 7, "keep", seed=1), "keep", (1, 3, 224, 224), seed=2)

    def test_vgg16_gap_pool5_drop(self):
        self.check(gap_model("vgg16", 7, "drop", seed=3), "drop", (2, 3, 96, 80), seed=4)

    def test_vgg11_bn(self):
        """BatchNorm folded: with nearly dead channels in the first block (variances far below eps, as
        trained networks have), where eps decides the scale; tolerance near what this path reaches
        (1.4e-6 seen)."""
        model = gap_model("vgg11_bn", 5, "keep", seed=5)
        g = torch.Generator().manual_seed(6)
        with torch.no_grad():  # torchvision initialises BN to the identity: make it do something
            for m in model.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.weight.uniform_(0.5, 1.5, generator=g)
                    m.bias.normal_(0, 0.1, generator=g)
                    m.running_mean.normal_(0, 0.1, generator=g)
                    m.running_var.uniform_(0.5, 1.5, generator=g)
            first = next(m for m in model.modules() if isinstance(m, torch.nn.BatchNorm2d))
            first.running_var[::8] = 1e-7
        self.check(model, "keep", (3, 3, 64, 72), seed=7, tol=1e-5)

    def test_vgg16_original_head(self):
        """torchvision's own classifier (adaptive pool to 7x7, 4096, 4096, C), at 224 and at a size
        whose 3x2 map the adaptive pool spreads over 7x7. BF16 file: 260 MB instead of 530."""
        model = original_model("vgg16", 10, seed=11)
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.to(torch.bfloat16).to(torch.float32))
        self.check(model, "keep", (2, 3, 224, 224), seed=12, dtype="BF16")
        self.check(model, "keep", (1, 3, 96, 64), seed=13, dtype="BF16")
        r = subprocess.run([VGGCL, "cam", "--weights", str(self.dir / "w.safetensors"), "--out-dir", str(self.dir),
                            str(ROOT / "tests" / "data" / "tiny.png")], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn("need a GAP head", r.stderr)

    def test_vgg16_bf16_weights(self):
        """BF16 files: vggcl widens exactly what torch rounds, so the same tolerance holds."""
        model = gap_model("vgg16", 7, "keep", seed=8)
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.to(torch.bfloat16).to(torch.float32))
        self.check(model, "keep", (1, 3, 64, 64), seed=9, dtype="BF16")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    VGGCL = os.path.abspath(sys.argv.pop(1))
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    unittest.main(verbosity=2)
