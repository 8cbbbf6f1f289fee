#!/usr/bin/env python3
"""Host memory running out, an allocation at a time: the command with tests/fail_alloc.c preloaded, its N-th
allocation (vggcl's own and the image and JSON libraries') failing, for every N the run makes. Each run must
end as vggcl's errors end, exit 1 with a message and no output file (or, an image skipped, whole outputs of
the others), or succeed (an allocation whose failure
costs nothing): never abort or crash (a failed resize freed its coefficients twice, and a TIFF's ExtraSamples
or ColorMap that libtiff could not allocate were read through NULL: glibc's abort, a segfault).

    test_alloc.py VGGCL FAIL_ALLOC_SO
"""
import json
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

import testenv  # noqa: F401  (the device: VGGCL_TEST_DEVICE)

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "weights"))
from make_test_weights import make_state_dict, parse_cfg  # noqa: E402
from safetensors_io import save_file  # noqa: E402


class Alloc(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.d = Path(self.tmp.name)

    def each_failure(self, args, out, said_as_memory=True, lines_alike=lambda line: line):
        """args run with every allocation failing in turn: (runs, of which failed); said_as_memory: a failure is
        never said as a corrupt file (libtiff and libwebp say some of theirs in other words: a corrupt file, "an
        error"). What reaches stdout is whole: a run that succeeds prints what the run without failures printed,
        one that fails some of its lines (classify --format json printed lines short of "prob", exit 0);
        lines_alike(line) is what of a line must be the same (bench's times differ run to run)."""
        env = dict(os.environ, LD_PRELOAD=SHIM, VGGCL_FAIL_ALLOC_SEEN=str(self.d / "seen"))
        r = subprocess.run([VGGCL, *map(str, args)], capture_output=True, text=True, env=env, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        answers = [lines_alike(line) for line in r.stdout.splitlines()]
        self.assertTrue(answers, "the run printed nothing to compare")
        total = int((self.d / "seen").read_text())
        self.assertGreater(total, 5)  # (the shim saw vggcl's allocations)
        failed = 0
        for n in range(1, total + 1):
            out.unlink(missing_ok=True)
            r = subprocess.run([VGGCL, *map(str, args)], capture_output=True, text=True,
                               env=dict(env, VGGCL_FAIL_ALLOC=str(n)), timeout=300)
            self.assertIn(r.returncode, (0, 1), f"allocation {n} of {total}: {args}\n{r.stderr}")
            got = [lines_alike(line) for line in r.stdout.splitlines()]
            if r.returncode == 0:
                self.assertEqual(got, answers, f"allocation {n} of {total}: exit 0")
            else:
                self.assertTrue(all(line in answers for line in got), f"allocation {n} of {total}: {r.stdout}")
            if r.returncode:
                failed += 1
                self.assertIn("vggcl: ", r.stderr, f"allocation {n}: no message")
                # (said as what it is: libpng's "insufficient memory to read chunk" was "corrupt PNG")
                if said_as_memory:
                    self.assertNotIn("corrupt", r.stderr, f"allocation {n}: memory said as a corrupt file")
                if out.exists():  # (an image skipped, out of memory for it: the others' rows, whole)
                    self.assertIn("(skipped)", r.stderr, f"allocation {n}: {out} written")
                    np.load(out)
        self.assertGreater(failed, total // 2, args)  # (most of them fail the run: the shim's NULLs reached it)
        return total, failed

    def test_images(self):
        """preprocess of each format the decoders read, with a resize and a crop."""
        rgb = (np.random.default_rng(0).random((50, 64, 3)) * 255).astype(np.uint8)
        im = Image.fromarray(rgb)
        kinds = {"a.png": im, "a.jpg": im, "a.webp": im, "a.bmp": im, "a.ppm": im, "p.tif": im.convert("P"),
                 "la.tif": im.convert("LA"), "rgba.tif": im.convert("RGBA"), "rgb.tif": im}
        for name, pic in kinds.items():
            pic.save(self.d / name)
            with self.subTest(name):
                out = self.d / "t.npy"
                self.each_failure(["preprocess", "--resize", "40", "--crop", "32", "--output", out, self.d / name],
                                  out, said_as_memory=not name.endswith((".tif", ".webp")))

    def test_classify_on_the_reference(self):
        """classify (the weights, their JSON header, the model, the outputs) on the reference; a file and a class
        named with a C1 control (U+0085), which the JSON escapes in memory of its own (its failure lost "file")."""
        weights = self.d / "w.safetensors"
        save_file(make_state_dict(parse_cfg("8,M,16,M,16"), True, 3, seed=1), weights,
                  metadata={"vggcl.classes": '["a", "b\\u0085", "c"]'})
        image = self.d / "x\u0085y.png"
        Image.fromarray((np.random.default_rng(1).random((40, 36, 3)) * 255).astype(np.uint8)).save(image)
        out = self.d / "l.npy"
        self.each_failure(["classify", "--weights", weights, "--device", "ref", "--resize", "24", "--crop", "16",
                           "--logits-out", out, "--format", "json", image], out)

    def test_bench_json_on_the_reference(self):
        """bench --json's record (dozens of members, each an allocation): whole or not printed."""
        weights = self.d / "w.safetensors"
        save_file(make_state_dict(parse_cfg("8,M,16"), False, 3, seed=1), weights)
        out = self.d / "none"  # (bench writes no file)
        self.each_failure(["bench", "--weights", weights, "--device", "ref", "--size", "16", "--iters", "1", "--json"],
                          out, lines_alike=lambda line: sorted(json.loads(line)))

    def test_no_memory_to_open_a_file(self):
        """fdopen failing for want of memory (glibc's own allocation, ENOMEM) is said as such, not as "not a regular
        file": an image skipped as one out of memory is, the weights file the run's end."""
        weights = self.d / "w.safetensors"
        save_file(make_state_dict(parse_cfg("8,M,16"), False, 3, seed=1), weights)
        for i in range(2):
            Image.fromarray((np.random.default_rng(i).random((30, 30, 3)) * 255).astype(np.uint8)).save(
                self.d / f"{i}.png")
        cmd = [VGGCL, "classify", "--weights", weights, "--device", "ref", "--crop", "16", self.d / "0.png",
               self.d / "1.png"]
        for pattern, said in (("1.png", f"vggcl: {self.d / '1.png'}: cannot open image: Cannot allocate memory "
                                        "(skipped)\n"),
                              ("w.safetensors",
                               f"vggcl: {weights}: cannot open weights file: Cannot allocate memory\n")):
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                               env=dict(os.environ, LD_PRELOAD=SHIM, VGGCL_FAIL_FDOPEN=pattern))
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(said, r.stderr)
            self.assertNotIn("regular file", r.stderr)

    def test_descriptors_running_out(self):
        """An image that cannot be opened for want of the process's descriptors (EMFILE: `ulimit -n`, many
        threads) stops the run, said as such, nothing written: every image after it would fail alike (each was
        skipped as unreadable, the run's rows written without them); an image not there is still skipped."""
        weights = self.d / "w.safetensors"
        save_file(make_state_dict(parse_cfg("8,M,16"), False, 3, seed=1), weights)
        for i in range(3):
            Image.fromarray((np.random.default_rng(i).random((30, 30, 3)) * 255).astype(np.uint8)).save(
                self.d / f"{i}.png")
        out = self.d / "l.npy"
        env = dict(os.environ, LD_PRELOAD=SHIM, VGGCL_FAIL_OPEN="1.png")
        for cmd in (["classify", "--weights", weights, "--device", "ref", "--crop", "16", "--logits-out", out],
                    ["preprocess", "--crop", "16", "--output", out],
                    ["cam", "--weights", weights, "--device", "ref", "--crop", "16", "--out-dir", self.d / "cams"]):
            (self.d / "cams").mkdir(exist_ok=True)
            r = subprocess.run([VGGCL, *map(str, cmd), self.d / "0.png", self.d / "1.png", self.d / "2.png"],
                               capture_output=True, text=True, env=env, timeout=300)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"vggcl: {self.d / '1.png'}: cannot open image: Too many open files: the run stops there: "
                          "this process may open no more files (its limit, ulimit -n, or the system's), so no image "
                          "after it could be read either\n", r.stderr)
            self.assertNotIn("(skipped)", r.stderr)
            self.assertFalse(out.exists())
            self.assertNotIn("2.png", r.stdout)
        r = subprocess.run([VGGCL, "classify", "--weights", weights, "--device", "ref", "--crop", "16", "--logits-out",
                            out, self.d / "0.png", self.d / "gone.png", self.d / "2.png"], capture_output=True, text=True,
                           env=env, timeout=300)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("gone.png: cannot open image: No such file or directory (skipped)", r.stderr)
        self.assertEqual(np.load(out).shape, (2, 3))

    def test_failing_disk(self):
        """A read the system fails (EIO: a failing disk, a network file system gone) is said as such, not as the
        corrupt or truncated file its short read is to the decoders: at an image's first bytes, and past its first
        block for those read in blocks (libtiff's reads: not through a mapping, where it was a SIGBUS); the image
        skipped, the others classified; the weights file's header and tensors alike."""
        weights = self.d / "w.safetensors"
        save_file(make_state_dict(parse_cfg("8,M,16"), False, 3, seed=1), weights)
        pixels = (np.random.default_rng(0).random((96, 96, 3)) * 255).astype(np.uint8)
        for ext in ("jpg", "png", "webp", "bmp", "ppm", "tif"):
            Image.fromarray(pixels).save(self.d / f"x.{ext}")
        out = self.d / "o.npy"
        for name, after in [(f"x.{ext}", 0) for ext in ("jpg", "png", "webp", "bmp", "ppm", "tif")] + \
                           [(f"x.{ext}", 1) for ext in ("jpg", "png", "bmp", "ppm", "tif")]:
            env = dict(os.environ, LD_PRELOAD=SHIM, VGGCL_FAIL_READ=name, VGGCL_FAIL_READ_AFTER=str(after))
            r = subprocess.run([VGGCL, "preprocess", "--crop", "16", "--output", out, self.d / name],
                               capture_output=True, text=True, env=env, timeout=300)
            self.assertEqual(r.returncode, 1, f"{name} after {after}: {r.stderr}")
            self.assertIn(f"vggcl: {self.d / name}: cannot read image: Input/output error\n", r.stderr,
                          f"{name} after {after}")
            self.assertFalse(out.exists())
        env = dict(os.environ, LD_PRELOAD=SHIM, VGGCL_FAIL_READ="x.png", VGGCL_FAIL_READ_AFTER="1")
        r = subprocess.run([VGGCL, "classify", "--weights", weights, "--device", "ref", "--crop", "16",
                            self.d / "x.png", self.d / "x.jpg"], capture_output=True, text=True, env=env, timeout=300)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"vggcl: {self.d / 'x.png'}: cannot read image: Input/output error (skipped)\n", r.stderr)
        self.assertRegex(r.stdout, r"^[^\n]*x\.jpg: class \d")
        for after, said in ((0, "cannot read the header: Input/output error"),
                            (1, "cannot read tensor 'features.0.weight': Input/output error")):
            r = subprocess.run([VGGCL, "classify", "--weights", weights, "--device", "ref", "--crop", "16",
                                self.d / "x.jpg"], capture_output=True, text=True, timeout=300,
                               env=dict(env, VGGCL_FAIL_READ="w.safetensors", VGGCL_FAIL_READ_AFTER=str(after)))
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"vggcl: {weights}: {said}\n", r.stderr)
            self.assertEqual(r.stdout, "")
        # a fault that passes (an interrupted read; the file reads again when vggcl reads it again to learn why):
        # said as such, not as the disk's Input/output error
        passing = "a read failed, and reads now (interrupted, or a passing fault): try again"
        for name, after, said in (("x.png", 1, f"{self.d / 'x.png'}: cannot read image: {passing} (skipped)"),
                                  ("w.safetensors", 0, f"{weights}: cannot read the header: {passing}")):
            r = subprocess.run([VGGCL, "classify", "--weights", weights, "--device", "ref", "--crop", "16",
                                self.d / "x.png"], capture_output=True, text=True, timeout=300,
                               env=dict(env, VGGCL_FAIL_READ=name, VGGCL_FAIL_READ_AFTER=str(after),
                                        VGGCL_FAIL_READ_ONCE="1"))
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"vggcl: {said}\n", r.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    SHIM = os.path.abspath(sys.argv.pop(2))
    VGGCL = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
