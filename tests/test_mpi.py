#!/usr/bin/python3
"""Many processes give one process's answer: `mpirun -n 2 --oversubscribe vggcl classify` (real
Open MPI, PoCL in every rank) and `--shard 0/2` + `--shard 1/2` against one process on the same
folder, with an unreadable image in the second rank's share: the same text, JSON and CSV lines,
the same logits and input tensor, the same skipped-image report and exit status.

usage: test_mpi.py VGGCL_BINARY
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import testenv  # noqa: F401  (the device: VGGCL_TEST_DEVICE)

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "weights"))
sys.path.insert(0, str(ROOT / "tests"))
from make_test_weights import make_state_dict, parse_cfg  # noqa: E402
from safetensors_io import save_file  # noqa: E402
from test_images import photo  # noqa: E402

VGGCL = None
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", POCL_MAX_PTHREAD_COUNT="1",
           OMPI_MCA_btl="self,vader", OMPI_MCA_btl_vader_single_copy_mechanism="none")


def vggcl_lines(stderr):
    """vggcl's own messages (mpirun adds its own about the exit status); not the compile notice."""
    return [ln for ln in stderr.splitlines() if ln.startswith("vggcl:") and "compiling" not in ln]


class Mpi(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = Path(self.tmp.name)
        self.weights = self.d / "w.safetensors"
        save_file(make_state_dict(parse_cfg("8,M,16,M,16"), False, 5, seed=3), self.weights)
        self.images = self.d / "images"
        self.images.mkdir()
        for i in range(9):
            Image.fromarray(photo(50 + 3 * i, 44 + 2 * i, i)).save(self.images / f"{i:02d}.{'jpg' if i % 2 else 'png'}")
        (self.images / "07_broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")  # sorted into rank 1's half

    def tearDown(self):
        self.tmp.cleanup()

    def classify(self, tag, *args, ranks=1):
        out = self.d / tag
        out.mkdir()
        cmd = [VGGCL, "classify", "--weights", str(self.weights), "--resize", "40", "--crop", "32", "--batch", "3",
               "--logits-out", str(out / "l.npy"), "--tensor-out", str(out / "t.npy"), *args, str(self.images)]
        if ranks > 1:
            cmd = ["mpirun", "-n", str(ranks), "--oversubscribe", *cmd]
        r = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600)
        return r, out

    def test_two_ranks_equal_one_process(self):
        for fmt in ("text", "json", "csv"):
            one, o1 = self.classify(f"one-{fmt}", "--format", fmt)
            two, o2 = self.classify(f"two-{fmt}", "--format", fmt, ranks=2)
            self.assertEqual(one.returncode, 1, one.stderr)  # the broken image
            self.assertNotEqual(two.returncode, 0, two.stderr)
            self.assertEqual(two.stdout, one.stdout, fmt)
            self.assertEqual(vggcl_lines(two.stderr), vggcl_lines(one.stderr), fmt)
            self.assertIn("07_broken.png", one.stderr)
            self.assertIn("1 of 10 images could not be read; 9 classified", one.stderr)
            for name in ("l.npy", "t.npy"):
                np.testing.assert_array_equal(np.load(o2 / name), np.load(o1 / name))
            self.assertEqual(len(one.stdout.splitlines()), 9 + (fmt == "csv") * (1 + 9 * 4))

    def test_shards_concatenate_to_one_process(self):
        one, o1 = self.classify("one", "--format", "json")
        parts = [self.classify(f"shard{i}", "--format", "json", "--shard", f"{i}/2") for i in range(2)]
        self.assertEqual([p[0].returncode for p in parts], [0, 1])  # the broken image is in the second half
        self.assertEqual(parts[0][0].stdout + parts[1][0].stdout, one.stdout)
        for name in ("l.npy", "t.npy"):
            np.testing.assert_array_equal(np.concatenate([np.load(p[1] / name) for p in parts]), np.load(o1 / name))
        bad, _ = self.classify("bad", "--shard", "2/2")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--shard must be I/N", bad.stderr)

    def test_train_head_two_ranks(self):
        """train-head's features computed by two ranks and gathered: the same model, byte for byte, and the
        same report, with an unreadable image in the second rank's share."""
        data = self.d / "data"
        for c, name in enumerate(("a", "b")):
            (data / name).mkdir(parents=True)
            for i in range(4):
                Image.fromarray(photo(40 + i, 36 + c, 10 * c + i)).save(data / name / f"{i}.png")
        (data / "b" / "9_broken.png").write_bytes(b"broken")
        runs = []
        for ranks in (1, 2):
            out = self.d / f"head{ranks}.safetensors"
            cmd = [VGGCL, "train-head", "--weights", str(self.weights), "--data", str(data), "--out", str(out),
                   "--resize", "32", "--crop", "32", "--epochs", "3", "--batch", "2", "--flip"]
            if ranks > 1:
                cmd = ["mpirun", "-n", str(ranks), "--oversubscribe", *cmd]
            r = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600)
            self.assertNotEqual(r.returncode, 0, r.stderr)  # the broken image: written anyway, exit 1
            runs.append((r.stdout.replace(str(out), "OUT"), vggcl_lines(r.stderr), out.read_bytes()))
        self.assertEqual(runs[1], runs[0])
        self.assertIn("1 of 9 images could not be read", "\n".join(runs[0][1]))

    def test_mpi_with_shard_refused(self):
        r, out = self.classify("both", "--shard", "0/2", ranks=2)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("leave out --shard", r.stderr)
        self.assertEqual(list(out.iterdir()), [])


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    VGGCL = sys.argv.pop(1)
    if not shutil.which("mpirun"):
        sys.exit("test_mpi.py: mpirun not found (apt-get install openmpi-bin; .ci/install-deps.sh does)")
    unittest.main(verbosity=2)
