#!/usr/bin/python3
"""`vggcl classify` and `vggcl cam` against torchvision: the same images
through torchvision's VGG16 preset and its own vgg11 with a GAP head give the
same tensor (exactly), the same logits (relative L2 <= 1e-4) and the same
top-K; bad images are reported by name and skipped; output formats parse; the
class activation maps equal the head's weights applied to torchvision's
feature maps, with pool5 kept (7x7) and dropped (14x14).

usage: test_classify.py VGGCL_BINARY
"""
import argparse
import collections
import contextlib
import copy
import csv
import io
import json
import math
import os
import pickle
import re
import shutil
import struct
import subprocess
import sys
import tarfile
import tempfile
import unittest
import warnings
import zipfile
from pathlib import Path

import testenv  # (first: the device, VGGCL_TEST_DEVICE)

import numpy as np
import torch
import torchvision
from PIL import Image
from torchvision import transforms
from torchvision.models import VGG16_Weights

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "weights"))
sys.path.insert(0, str(ROOT / "tests"))
import export_torchvision  # noqa: E402
from export_torchvision import export, gap_model  # noqa: E402
from torch import nn  # noqa: E402
from make_test_weights import make_state_dict, parse_cfg  # noqa: E402
from safetensors_io import Refused, load_file, save_file  # noqa: E402
from test_images import photo  # noqa: E402

VGGCL = None


class Classify(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.d = Path(cls.tmp.name)
        cls.model = gap_model("vgg11", 5, "keep", seed=3)
        cls.weights = cls.d / "w.safetensors"
        export(cls.model, cls.weights, "keep")
        cls.images = []
        for i, (h, w) in enumerate([(300, 260), (240, 330), (257, 256)]):
            p = cls.d / f"img{i}.{'png' if i % 2 else 'jpg'}"
            Image.fromarray(photo(h, w, 40 + i)).save(p, quality=90)
            cls.images.append(p)
        cls.labels = cls.d / "labels.txt"
        cls.labels.write_text("cat\ndog\n\"quoted\", comma\nbird\nfish\n")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def classify(self, *args):
        return subprocess.run([VGGCL, "classify", "--weights", self.weights, *map(str, args)], capture_output=True,
                              text=True, timeout=600)

    def test_matches_torchvision(self):
        out = self.d / "out"
        out.mkdir(exist_ok=True)
        r = self.classify("--labels", self.labels, "--top", "3", "--format", "json", "--batch", "2",
                          "--logits-out", out / "l.npy", "--tensor-out", out / "t.npy", *self.images)
        self.assertEqual(r.returncode, 0, r.stderr)
        preset = VGG16_Weights.IMAGENET1K_V1.transforms()
        x = torch.stack([preset(Image.open(p).convert("RGB")) for p in self.images])
        with torch.no_grad():
            want = self.model(x).numpy()
        np.testing.assert_array_equal(np.load(out / "t.npy"), x.numpy())
        logits = np.load(out / "l.npy")
        self.assertLessEqual(float(np.linalg.norm(logits - want) / np.linalg.norm(want)), 1e-4)
        names = self.labels.read_text().splitlines()
        rows = [json.loads(line) for line in r.stdout.splitlines()]
        self.assertEqual([row["file"] for row in rows], [str(p) for p in self.images])
        for row, lg in zip(rows, want):
            prob = torch.softmax(torch.from_numpy(lg).double(), 0).numpy()
            order = np.argsort(-prob)[:3]
            self.assertEqual([t["class"] for t in row["top"]], order.tolist())
            self.assertEqual([t["label"] for t in row["top"]], [names[c] for c in order])
            np.testing.assert_allclose([t["prob"] for t in row["top"]], prob[order], rtol=1e-4)

    def test_no_crop_each_at_its_own_size(self):
        """--no-crop at --batch 1: each image runs at its own size, torch's logits for it (as a DataLoader of
        batch_size 1 gives them); at --batch 2 an image of another size than the first is skipped, said with the
        way out (they were skipped at batch 1 too)."""
        out = self.d / "own"
        out.mkdir(exist_ok=True)
        r = self.classify("--no-crop", "--batch", "1", "--format", "json", "--logits-out", out / "l.npy", *self.images)
        self.assertEqual(r.returncode, 0, r.stderr)
        preset = torchvision.transforms.Compose([torchvision.transforms.Resize(256), torchvision.transforms.ToTensor(),
                                                 torchvision.transforms.Normalize([0.485, 0.456, 0.406],
                                                                                  [0.229, 0.224, 0.225])])
        xs = [preset(Image.open(p).convert("RGB"))[None] for p in self.images]
        self.assertEqual(len({x.shape for x in xs}), 3)  # (the premise: three sizes)
        with torch.no_grad():
            want = np.concatenate([self.model(x).numpy() for x in xs])
        logits = np.load(out / "l.npy")
        self.assertLessEqual(float(np.linalg.norm(logits - want) / np.linalg.norm(want)), 1e-4)
        self.assertEqual([json.loads(line)["file"] for line in r.stdout.splitlines()], [str(p) for p in self.images])
        # two contexts taking the batches as they come (a thread each): the same, each at its size, in order
        two = self.classify("--no-crop", "--batch", "1", "--format", "json", "--device", "0,0", "--logits-out",
                            out / "l2.npy", *self.images, *self.images[::-1])
        self.assertEqual(two.returncode, 0, two.stderr)
        self.assertEqual(two.stdout, r.stdout + "".join(r.stdout.splitlines(True)[::-1]))
        np.testing.assert_array_equal(np.load(out / "l2.npy"), np.concatenate([logits, logits[::-1]]))
        r = self.classify("--no-crop", "--batch", "2", *self.images)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"{self.images[1]}: preprocesses to 352 x 256 pixels (width x height), unlike the first image's "
                      "256 x 295; use --crop, or --resize HxW, or --batch 1 (each image at its own size) (skipped)",
                      r.stderr)

    def test_text_and_csv(self):
        r = self.classify("--top", "2", self.images[0])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith(f"{self.images[0]}: class "), r.stdout)
        r = self.classify("--top", "2", "--format", "csv", "--labels", self.labels, *self.images[:2])
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = list(csv.DictReader(io.StringIO(r.stdout)))
        self.assertEqual(len(rows), 4)
        self.assertEqual([row["rank"] for row in rows], ["1", "2", "1", "2"])
        preset = VGG16_Weights.IMAGENET1K_V1.transforms()
        with torch.no_grad():
            want = self.model(torch.stack([preset(Image.open(p).convert("RGB")) for p in self.images[:2]])).numpy()
        top = [int(c) for lg in want for c in np.argsort(-lg)[:2]]
        self.assertEqual([int(row["class"]) for row in rows], top)
        names = self.labels.read_text().splitlines()  # (csv quotes the one with a comma and quotes in it)
        self.assertEqual([row["label"] for row in rows], [names[c] for c in top])
        # the probabilities as the JSON gives them, to the last bit (6 digits were)
        j = self.classify("--top", "2", "--format", "json", "--labels", self.labels, *self.images[:2])
        self.assertEqual([row["prob"] for row in rows],
                         [repr(t["prob"]) for line in j.stdout.splitlines() for t in json.loads(line)["top"]])

    def test_top_ranked_by_logits(self):
        """--top ranks by logit, as torch.topk: a head whose logits lie thousands apart makes every probability
        but the top one 0 in double, and those classes came out in index order (ranks 2 to K wrong). Both the
        selection (K <= 16) and the sort (K > 16)."""
        model = gap_model("vgg11", 20, "keep", seed=5)
        with torch.no_grad():
            model.classifier[0].weight.mul_(3e4)
        weights = self.d / "far.safetensors"
        export(model, weights, "keep")
        logits_out = self.d / "far-logits.npy"
        for k in (7, 20):
            r = subprocess.run([VGGCL, "classify", "--weights", weights, "--resize", "64", "--crop", "64", "--top",
                                str(k), "--format", "json", "--logits-out", logits_out, *self.images],
                               capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            logits = torch.from_numpy(np.load(logits_out))
            self.assertGreater(float((logits.max(1).values - logits.min(1).values).min()), 1000)  # (the case)
            for row, lg in zip((json.loads(line) for line in r.stdout.splitlines()), logits):
                self.assertEqual([t["class"] for t in row["top"]], torch.topk(lg, k).indices.tolist())
            logits_out.unlink()
        weights.unlink()

    def test_one_class_sigmoid(self):
        """A model of one class (a binary head trained with BCEWithLogitsLoss): its probability is the sigmoid of
        its logit, in double from the float32 logit, to the last bit (a softmax of one class said 1.0000 of every
        image); logits past exp's range give 1 and 0."""
        def sigmoid(x):  # (in double, as the command: past exp's range, 0)
            try:
                return 1 / (1 + math.exp(-x))
            except OverflowError:
                return 0.0

        model = gap_model("vgg11", 1, "keep", seed=8)
        weights = self.d / "one.safetensors"
        for scale in (1, 3e4, -1):  # (the last: -3e4)
            with torch.no_grad():
                model.classifier[0].weight.mul_(scale)
            export(model, weights, "keep")
            logits_out = self.d / "one-logits.npy"
            r = subprocess.run([VGGCL, "classify", "--weights", weights, "--resize", "64", "--crop", "64", "--format",
                                "json", "--logits-out", logits_out, *self.images], capture_output=True, text=True,
                               timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            logits = np.load(logits_out)[:, 0]
            probs = [json.loads(line)["top"][0]["prob"] for line in r.stdout.splitlines()]
            want = [sigmoid(float(x)) for x in logits]
            self.assertEqual(probs, want, logits)
            if scale == 1:
                self.assertGreater(len(set(probs)), 1, probs)  # (the premise: not one answer for every image)
            else:
                self.assertGreater(float(np.abs(logits).max()), 710, logits)  # (the premise: past exp's range)
            logits_out.unlink()
        weights.unlink()

    def test_bad_images_skipped(self):
        bad = self.d / "broken.jpg"
        bad.write_bytes(self.images[0].read_bytes()[:100])
        out = self.d / "skip"
        out.mkdir(exist_ok=True)
        r = self.classify("--format", "json", "--logits-out", out / "l.npy", self.images[0], bad, self.images[1])
        self.assertEqual(r.returncode, 1)
        self.assertIn("broken.jpg", r.stderr)
        self.assertIn("1 of 3 images were skipped; 2 classified", r.stderr)
        self.assertEqual([json.loads(l)["file"] for l in r.stdout.splitlines()], [str(self.images[0]), str(self.images[1])])
        self.assertEqual(np.load(out / "l.npy").shape, (2, 5))
        # given one image, the count is no "1 of 1 images were skipped"
        r = self.classify(bad)
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertEqual(r.stderr.splitlines()[-1], "vggcl: the image was skipped; 0 classified")

    def test_nonfinite_logits_skipped(self):
        """An image on which the preprocessing overflows float32 in the network (logits not finite) is named and
        skipped, as eval skips it (its probabilities were printed as nan and null, exit 0); a black one, whose
        inputs stay 0, is classified."""
        black = self.d / "black.png"
        Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(black)
        out = self.d / "nonfinite"
        out.mkdir(exist_ok=True)
        r = self.classify("--format", "json", "--resize", "40", "--crop", "32", "--mean", "0,0,0", "--std", "1e-37,1,1",
                          "--logits-out", out / "l.npy", self.images[0], black)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, f"{re.escape(str(self.images[0]))}: logit 0 is (NaN|infinite): the weights or the preprocessing "
                         "overflow float32 on this image \\(skipped\\)")
        self.assertIn("1 of 2 images were skipped; 1 classified", r.stderr)
        self.assertEqual([json.loads(l)["file"] for l in r.stdout.splitlines()], [str(black)])
        self.assertTrue(np.isfinite(np.load(out / "l.npy")).all())
        self.assertEqual(np.load(out / "l.npy").shape, (1, 5))
        # --shard with --no-crop: a share whose one image read, then was skipped, writes empty arrays of that image's
        # size, as the next share, whose size it sets (it took the size of the images after it: 48 x 48)
        first, other = self.d / "first40.png", self.d / "other48.png"
        Image.fromarray(photo(40, 40, 6)).save(first)
        Image.fromarray(photo(48, 48, 5)).save(other)
        for i in range(2):
            r = self.classify("--shard", f"{i}/2", "--resize", "0", "--no-crop", "--mean", "0,0,0", "--std",
                              "1e-37,1,1", "--tensor-out", out / f"t{i}.npy", first, other)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(np.load(out / f"t{i}.npy").shape, (0, 3, 40, 40), r.stderr)

    def test_progress_bar_on_a_terminal(self):
        """A progress bar on stderr when it is a terminal and there is more than one batch; none otherwise."""
        cmd = " ".join([VGGCL, "classify", "--weights", str(self.weights), "--batch", "1",
                        *map(str, self.images[:2])])
        r = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("2/2 batches", r.stdout)  # script puts the terminal's output on stdout
        # the answers on the same terminal: each on a line of its own, the bar wiped before them ("[###   ] 1/2
        # batches/x/img0.jpg: class 2 ..." was seen); a line as the terminal shows it: after its last CR
        shown = [ln.split("\r")[-1] for ln in r.stdout.replace("\r\n", "\n").split("\n")]
        for p in self.images[:2]:
            self.assertEqual(len([ln for ln in shown if ln.startswith(f"{p}: class ")]), 1, repr(r.stdout))
        # the last batch unreadable: the bar still ends (at 3/3) before the summary, on a line of its own
        bad = self.d / "broken-last.png"
        bad.write_bytes(b"not a png")
        r = subprocess.run(["script", "-qec", f"{cmd} {bad}", "/dev/null"], capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"3/3 batches\r?\nvggcl: 1 of 3 images were skipped")
        r = self.classify("--batch", "1", *self.images[:2])
        self.assertNotIn("batches", r.stderr)

    def test_progress_lines(self):
        """--progress S: a line every S seconds wherever stderr goes, saying how many images of how many
        are done; 0: none, not even the bar on a terminal; a bad value is a usage error."""
        r = self.classify("--batch", "1", "--progress", "0.000001", *self.images[:3])
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = [ln for ln in r.stderr.splitlines() if " images/s, " in ln]
        self.assertEqual([ln.split(" images (")[0] for ln in lines],
                         ["vggcl: 1 of 3", "vggcl: 2 of 3", "vggcl: 3 of 3"], r.stderr)
        # the last line says the time taken (it said "about 0 s left")
        self.assertEqual([bool(re.search(r", about \d+ s left$", ln)) for ln in lines], [True, True, False], r.stderr)
        self.assertRegex(lines[2], r", done in \d+\.\d s$")
        # (rounded down: 208 of 209 was 100%)
        self.assertEqual([ln.split("(")[1].split(")")[0] for ln in lines], ["33%", "66%", "100%"])
        self.assertEqual(len(r.stdout.splitlines()), 3)
        r = self.classify("--batch", "1", "--progress", "1e6", *self.images[:3])  # not before 11 days
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("images/s", r.stderr)
        cmd = " ".join([VGGCL, "classify", "--weights", str(self.weights), "--batch", "1", "--progress", "0",
                        *map(str, self.images[:2])])
        r = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertNotIn("batches", r.stdout)
        self.assertNotIn("images/s", r.stdout)
        for bad in ("-1", "soon", "nan", "", " 1", "+1", "0x1"):
            r = self.classify("--progress", bad, self.images[0])
            self.assertEqual(r.returncode, 2, bad)
            self.assertIn("--progress is empty: give SECONDS" if not bad else "--progress must be a number of seconds",
                          r.stderr)

    def test_bf16_nan(self):
        """BF16 keeps a NaN a NaN (rounding made the NaNs with every mantissa bit set 0 or -0, which the loader's
        finite check cannot see)."""
        nans = np.frombuffer(np.array([0x7FFFFFFF, 0xFFFFFFFF, 0x7FC00000], np.uint32).tobytes(), np.float32)
        save_file({"n": nans}, self.d / "nan.safetensors", dtype="BF16")
        self.assertTrue(np.isnan(load_file(self.d / "nan.safetensors")[0]["n"]).all())
        (self.d / "nan.safetensors").unlink()

    def test_bf16_rounding_as_torch(self):
        """BF16 files hold what torch's float32 -> bfloat16 gives, bit for bit: random bit patterns and the cases at
        the edges (ties to even either way, subnormals, signed zeros, infinities); a NaN stays a NaN, and a finite
        value that rounds to infinity is refused. (More values than the rounding takes at a time, and not a multiple
        of a power of two: its last piece is a partial one.)"""
        bits = np.random.default_rng(5).integers(0, 2**32, (1 << 20) + 4097, dtype=np.uint64).astype(np.uint32)
        edges = [0, 0x80000000, 0x00000001, 0x80000001, 0x00008000, 0x00018000, 0x3F808000, 0x3F818000, 0x3F807FFF,
                 0x3F808001, 0x7F7F7FFF, 0x7F7F8000, 0xFF7F8000, 0x7F7FFFFF, 0xFF7FFFFF, 0x7F800000, 0xFF800000,
                 0x7F800001, 0x7FFFFFFF, 0xFFFFFFFF, 0xFFFF8000, 0x7FC00000]
        f = np.concatenate([bits, np.array(edges, np.uint32)]).view(np.float32)
        want = torch.from_numpy(f.copy()).to(torch.bfloat16).to(torch.float32).numpy()
        over = np.isfinite(f) & np.isinf(want)
        self.assertEqual(over[-len(edges):].sum(), 4)  # (0x7F7F8000 up: ties to the even infinity)
        with self.assertRaisesRegex(Refused, "past BF16's range; give --dtype F32"):
            save_file({"f": f[over][:1]}, self.d / "bf16.safetensors", dtype="BF16")
        f, want = f[~over], want[~over]
        save_file({"f": f}, self.d / "bf16.safetensors", dtype="BF16")
        got = load_file(self.d / "bf16.safetensors")[0]["f"]
        (self.d / "bf16.safetensors").unlink()
        nan = np.isnan(f)
        self.assertTrue(np.isnan(got[nan]).all())
        np.testing.assert_array_equal(got[~nan].view(np.uint32), want[~nan].view(np.uint32))

    def test_errors(self):
        wrong = self.d / "three.txt"
        wrong.write_text("a\nb\nc\n")
        r = self.classify("--labels", wrong, self.images[0])
        self.assertEqual(r.returncode, 1)
        self.assertIn("3 labels, but the model has 5 classes", r.stderr)
        # one label per line whatever its length (a line over 1 KiB counted as two), none empty but at the end
        # (an editor's last newline was refused), no NUL byte (the name was cut there)
        long_name = "L" * 1500
        for text, want in ((f"a\n{long_name}\nc\n", "3 labels, but the model has 5 classes"),
                           ("a\n\nc\nd\ne\n", "line 2 is empty"), ("a\n\n\nd\ne\n\n", "line 2 is empty"),
                           ("a\nb\x00x\nc\nd\ne\n", "line 2 holds a NUL byte"),
                           # (old Mac line ends: "1 labels", the CR unsaid)
                           ("a\rb\rc\rd\re\r", "1 label, but the model has 5 classes (one name per line; a CR alone "
                                                "ends no line)")):
            wrong.write_text(text)
            r = self.classify("--labels", wrong, self.images[0])
            self.assertEqual(r.returncode, 1, text)
            self.assertIn(f"classify: --labels {wrong}: {want}", r.stderr)  # (as --files-from's are said)
        # (a name of 65536 bytes, the most a line takes, refused with CRLF: its CR counted; one byte more, refused)
        most = "M" * 65536
        for end in ("\n", "\r\n"):
            wrong.write_bytes(f"a{end}{most}{end}c{end}d{end}e{end}".encode())
            r = self.classify("--labels", wrong, "--top", "5", "--format", "json", self.images[0])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(most, [t["label"] for t in json.loads(r.stdout)["top"]])
            wrong.write_bytes(f"a{end}{most}M{end}c{end}d{end}e{end}".encode())
            r = self.classify("--labels", wrong, self.images[0])
            self.assertEqual(r.returncode, 1)
            self.assertIn(f"--labels {wrong}: line 2 is longer than 65536 bytes, not a class name", r.stderr)
        for text in (f"\ufeffa\r\n{long_name}\r\nc\r\nd\r\ne", f"a\n{long_name}\nc\nd\ne\n\n\r\n"):
            wrong.write_bytes(text.encode())  # a BOM, CRLF, no last newline; empty lines at the end
            r = self.classify("--labels", wrong, "--top", "5", "--format", "json", self.images[0])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(sorted(t["label"] for t in json.loads(r.stdout)["top"]),
                             sorted(["a", long_name, "c", "d", "e"]))
        # a model that names its classes: --labels naming them otherwise is said (a file of the same names in
        # another order printed each image under another class's name, exit 0, nothing said); the same names not
        tensors, meta = load_file(self.weights)
        named, names = self.d / "named.safetensors", ["ant", "bee", "cat", "dog", "eel"]
        save_file(tensors, named, metadata=dict(meta or {}, **{"vggcl.classes": json.dumps(names)}))
        for order, note in ((names, None), (["bee", "ant", "cat", "dog", "eel"], "; they are the model's in another "
                             "order, so each image is printed under another class's name: leave --labels out to print "
                             "the model's"), (["a", "b", "c", "d", "e"], "")):
            wrong.write_text("\n".join(order) + "\n")
            r = subprocess.run([VGGCL, "classify", "--weights", named, "--labels", wrong, self.images[0]],
                               capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            said = [ln for ln in r.stderr.splitlines() if "--labels" in ln]
            first = next((i for i in range(5) if order[i] != names[i]), None)
            self.assertEqual(said, [] if note is None else [
                f"vggcl: classify: --labels {wrong} names class {first} \"{order[first]}\" where the model names it "
                f"\"{names[first]}\" (its \"vggcl.classes\"): the file's names are printed{note}"])
        named.unlink()
        r = self.classify("--labels", self.d, self.images[0])
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"classify: --labels {self.d}: a folder, not a file of class names", r.stderr)
        r = self.classify("--labels", self.d / "none.txt", self.images[0])
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertIn(f"classify: --labels {self.d / 'none.txt'}: cannot open the file: No such file or directory",
                      r.stderr)
        # a file without newlines (here endless, /dev/zero) is refused at a line longer than a class name could
        # be, in little memory (it was read as one line until memory ran out: 2 GB under a 4 GB limit, then "0
        # labels"); a FIFO given by its name is not waited on (the run hung), --files-from's neither
        (self.d / "zero.txt").symlink_to("/dev/zero")
        code, stderr, peak = testenv.run_peak([VGGCL, "classify", "--weights", str(self.weights), "--labels",
                                               str(self.d / "zero.txt"), str(self.images[0])])
        self.assertEqual(code, 1, stderr)
        self.assertIn(f"--labels {self.d / 'zero.txt'}: line 1 is longer than 65536 bytes, not a class name", stderr)
        self.assertLess(peak, 1024 * 1024, "kB of RSS")  # (VGG16 loaded: 0.3 GB under ASan)
        os.mkfifo(self.d / "fifo.txt")
        r = self.classify("--labels", self.d / "fifo.txt", self.images[0])
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertIn(f"--labels {self.d / 'fifo.txt'}: a FIFO given by its name is not waited on", r.stderr)
        r = self.classify("--files-from", self.d / "fifo.txt")
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertIn(f"--files-from {self.d / 'fifo.txt'}: a FIFO given by its name is not waited on", r.stderr)
        (self.d / "zero.txt").unlink(), (self.d / "fifo.txt").unlink()
        # a late option's mistake is said before anything is printed (the CSV header came first)
        r = self.classify("--format", "csv", "--threads", "0", self.images[0])
        self.assertEqual((r.returncode, r.stdout), (2, ""))
        self.assertEqual(self.classify("--format", "xml", self.images[0]).returncode, 2)
        self.assertEqual(self.classify("--top", "0", self.images[0]).returncode, 2)
        self.assertEqual(self.classify().returncode, 2)
        # numbers are digits only (strtol took leading blanks and a sign: " 2" and "+3" ran)
        for v in (" 2", "+3", "2 ", "0x3"):
            r = self.classify("--threads", v, self.images[0])
            self.assertEqual((r.returncode, r.stdout), (2, ""), v)
            self.assertIn(f"classify: --threads must be an integer from 1 to 256, not '{v}'", r.stderr)


class Evil:
    """An object whose unpickling writes a file: what a hostile checkpoint's pickle could do."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


class Rebuilt:
    """A tensor as torch.save pickles one: _rebuild_tensor_v2 of the persistent storage pid."""

    def __init__(self, pid, size, stride=(1,)):
        self.pid, self.size, self.stride = pid, size, stride

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, (Storage(self.pid), 0, self.size, self.stride, False,
                                                  collections.OrderedDict()))


class Storage:
    def __init__(self, pid):
        self.pid = pid


class SetItem:
    """A tensor pickled with tensor[0] = 1.0 after it (a SETITEM on it: torch 1.13's safe loader wrote so)."""

    def __init__(self, tensor):
        self.tensor = tensor


def write_torch_zip(path, obj, data):
    """A zip as torch.save lays it out: archive/data.pkl (obj pickled, Storage objects as persistent ids,
    SetItem as a SETITEM on its tensor), archive/data/0 holding data, archive/version."""
    class Pickler(pickle.Pickler):
        def persistent_id(self, o):
            return o.pid if isinstance(o, Storage) else None

    buf = io.BytesIO()
    if not isinstance(obj, bytes):  # (bytes: the pickle itself)
        Pickler(buf, protocol=2).dump(obj.tensor if isinstance(obj, SetItem) else obj)
    pkl = buf.getvalue() or obj
    if isinstance(obj, SetItem):  # (before the STOP: 0, 1.0, SETITEM)
        pkl = pkl[:-1] + b"K\x00G" + struct.pack(">d", 1.0) + b"s."
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("archive/data.pkl", pkl)
        z.writestr("archive/data/0", data)
        z.writestr("archive/version", "3\n")


class Protocol4:
    """An object to be saved with pickle's protocol 4."""

    def __init__(self, obj):
        self.obj = obj


class Lit(nn.Module):
    """A LightningModule's layout: the network in self.model beside a weighted loss (a buffer of its own)."""

    def __init__(self, vgg, classes):
        super().__init__()
        self.model = vgg
        self.criterion = nn.CrossEntropyLoss(weight=torch.linspace(0.5, 1.5, classes))

    def forward(self, x):
        return self.model(x)


class PoolInForward(nn.Module):
    """A VGG with the GAP head that averages in its forward(): no avgpool module."""

    def __init__(self, vgg):
        super().__init__()
        self.features, self.classifier = vgg.features, vgg.classifier

    def forward(self, x):
        return self.classifier(self.features(x).mean((2, 3)))


@unittest.skipIf(os.environ.get("VGGCL_TEST_SANITIZED"),
                 "the converter's tests (a Python tool) run in the plain tree; vggcl's loader runs under the "
                 "sanitizers in the other suites")
class Export(unittest.TestCase):
    """export_torchvision.py as users have their models: the forms a trained VGG is saved in, each read
    to a file whose logits from vggcl are torch's; what it cannot be is refused in one line naming the
    file, exit 1, no file (and the previous one kept)."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.d = Path(cls.tmp.name)
        torch.manual_seed(5)
        cls.x = torch.randn(2, 3, 32, 32)
        np.save(cls.d / "x.npy", cls.x.numpy())

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def export(self, *args):
        """(exit status, stderr, stdout) of the script's main on args."""
        err, out = io.StringIO(), io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            try:
                rc = export_torchvision.main([str(a) for a in args])
            except SystemExit as e:
                rc = e.code
        return rc, err.getvalue(), out.getvalue()

    def logits(self, weights):
        y = self.d / "y.npy"
        r = subprocess.run([VGGCL, "run", "--weights", weights, "--input", self.d / "x.npy", "--output", y],
                           capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = np.load(y)
        y.unlink()
        return got

    def check(self, model, saved, *args, rel=1e-5):
        """saved (the object torch.save writes) exported with args matches model's logits."""
        src, out = self.d / "model.pt", self.d / "out.safetensors"
        if isinstance(saved, Protocol4):
            torch.save(saved.obj, src, pickle_protocol=4)
        else:
            torch.save(saved, src)
        whole = isinstance(saved, nn.Module) or isinstance(saved, dict) and any(isinstance(v, nn.Module)
                                                                               for v in saved.values())
        rc, err, said = self.export("--state-dict", src, "--out", out, *args, *(["--trust-pickle"] if whole else []))
        self.assertEqual(rc, 0, err)
        with torch.no_grad():
            want = model.float()(self.x).numpy()
        got = self.logits(out)
        self.assertLessEqual(np.linalg.norm(got - want) / np.linalg.norm(want), rel, said)
        out.unlink()
        return err, said

    def test_pool_in_forward(self):
        """A whole model without an avgpool (it averages in forward()): its layers checked, GAP assumed and
        said (such a model's checks were skipped: any layers were written, other logits, exit 0)."""
        m = PoolInForward(gap_model("vgg11", 5, "keep", seed=6)).eval()
        err, said = self.check(m, m)
        self.assertIn("note: the model has no avgpool", err)

    def test_layers_doing_nothing_in_the_features(self):
        """A whole model with Dropout or Identity between its features' layers, its features in nested
        Sequentials, or one MaxPool2d used for every pool: the layers numbered as torchvision's (each such layer kept its index, which vggcl read as
        the place of a max pool: other logits, exit 0; or the file refused after it was written)."""
        for where, layer in ((8, nn.Dropout(0.1)), (3, nn.Identity()), (None, None), ("shared", None)):
            m = gap_model("vgg11", 4, "keep", seed=7)
            f = list(m.features)
            if where == "shared":  # (one MaxPool2d for every pool, as hand-written VGGs have it)
                pool = nn.MaxPool2d(2)
                m.features = nn.Sequential(*[pool if isinstance(x, nn.MaxPool2d) else x for x in f])
            elif where is None:  # (blocks: a Sequential of Sequentials)
                m.features = nn.Sequential(nn.Sequential(*f[:3]), nn.Sequential(*f[3:6]), *f[6:])
            else:
                m.features = nn.Sequential(*f[:where], layer, *f[where:])
            m.eval()
            self.check(m, m)

    def test_conv_without_bias(self):
        """Convolutions made with bias=False (before a BatchNorm, as many VGG-BN variants have them, or not):
        no features.N.bias in the file, the logits torch's."""
        for arch in ("vgg11_bn", "vgg11"):
            m = gap_model(arch, 5, "keep", seed=3)
            torch.manual_seed(3)
            for k, layer in enumerate(m.features):
                if isinstance(layer, torch.nn.Conv2d) and (arch.endswith("_bn") or k == 3):
                    layer.bias = None
                elif isinstance(layer, torch.nn.BatchNorm2d):  # (statistics of a trained model)
                    layer.running_mean.normal_(0, 0.1), layer.running_var.uniform_(0.5, 1.5)
                    layer.bias.data.normal_(0, 0.1)
            sd = m.state_dict()  # (the premise: those convolutions' biases are not in the file)
            no_bias = [k for k, v in sd.items() if v.ndim == 4 and k.replace(".weight", ".bias") not in sd]
            self.assertEqual(len(no_bias), 8 if arch.endswith("_bn") else 1, arch)
            self.check(m, m.state_dict())
            self.check(m, m)  # (the whole model: its convolutions without a bias were refused)
        # dense layers made with bias=False, a GAP head and a chain: a bias of zeros is the same (both refused, "vggcl's
        # dense layers have a bias", where a conv's was filled in)
        for head in (nn.Linear(512, 5, bias=False),
                     nn.Sequential(nn.Linear(512, 8, bias=False), nn.ReLU(), nn.Linear(8, 5))):
            m = gap_model("vgg11", 5, "keep", seed=4)
            m.classifier = head.eval()
            self.check(m, m.state_dict())
            self.check(m, m)

    def test_forms_of_a_trained_model(self):
        m = gap_model("vgg11", 5, "keep", seed=1)
        sd = m.state_dict()
        dp = nn.DataParallel(copy.deepcopy(m))
        linear = copy.deepcopy(m)
        linear.classifier = linear.classifier[0]  # nn.Linear itself: classifier.weight
        dropout = copy.deepcopy(m)
        dropout.classifier = nn.Sequential(nn.Dropout(0.5), m.classifier[0])  # classifier.1.weight
        features_dp = copy.deepcopy(m)  # (PyTorch's ImageNet example wraps VGG's features alone: features.module.0)
        features_dp.features = nn.DataParallel(features_dp.features)
        identities = copy.deepcopy(m)  # (nothing at inference, as Dropout; an Identity for pool5 is below)
        identities.classifier = nn.Sequential(nn.Identity(), nn.Flatten(), nn.Dropout(), m.classifier[0])
        forms = [("state_dict", sd, m), ("DataParallel's state_dict", dp.state_dict(), m),
                 ("Identity and Flatten in the head", identities.eval(), m),
                 ("features in DataParallel", features_dp.state_dict(), m), ("whole, features in DataParallel",
                                                                           features_dp, m),
                 ("checkpoint", {"epoch": 3, "state_dict": sd, "optimizer": {"lr": 0.1}}, m),
                 ("checkpoint model", {"model": sd}, m), ("whole model", m, m), ("whole DataParallel", dp, m),
                 ("protocol 4", Protocol4(sd), m),  # (torch 1.13's safe loader reads no protocol 4)
                 ("bare Linear head", linear.state_dict(), m), ("dropout head", dropout.eval().state_dict(), m)]
        lit = Lit(copy.deepcopy(m), 5).eval()  # (PyTorch Lightning: 'model.' before every name, and the loss's)
        lightning = [("Lightning checkpoint", {"epoch": 3, "global_step": 40, "pytorch-lightning_version": "2.1.0",
                                               "state_dict": lit.state_dict()}, m),
                     ("whole LightningModule", lit, m),
                     ("Lightning and DataParallel", {"state_dict": Lit(nn.DataParallel(copy.deepcopy(m)), 5)
                                                     .state_dict()}, m)]
        for what, saved, model in forms + lightning:
            with self.subTest(what):
                err, said = self.check(model, saved)
                self.assertIn("vgg11 (", said)
                self.assertIn("5 classes", said)
                if what in {name for name, *_ in lightning}:  # (read away and said; the tensors left out named)
                    self.assertRegex(err, r"note: the network('s tensors are under 'model\.'|.* 'model')")
                    self.assertIn("criterion.weight" if what != "whole LightningModule" else "other parts left out",
                                  err)
        # two networks under two prefixes (a teacher and a student): which one is not guessed
        torch.save({"state_dict": {**{f"student.{k}": v for k, v in sd.items()},
                                   **{f"teacher.{k}": v for k, v in sd.items()}}}, self.d / "two.pt")
        rc, err, _ = self.export("--state-dict", self.d / "two.pt", "--out", self.d / "two.safetensors")
        self.assertEqual(rc, 1, err)
        self.assertIn("tensors outside features.* and classifier.*", err)
        self.assertFalse((self.d / "two.safetensors").exists())
        half = copy.deepcopy(m).half()
        self.check(half, half.state_dict(), rel=1e-5)  # (against the fp16-rounded weights, in float)
        bn = gap_model("vgg11_bn", 3, "keep", seed=2)
        for mod in bn.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.5, 0.5), mod.running_var.uniform_(0.5, 2)
        err, said = self.check(bn, bn.state_dict())
        self.assertIn("vgg11_bn (state_dict), GAP head, pool5 keep, 3 classes", said)
        sync = nn.SyncBatchNorm.convert_sync_batchnorm(copy.deepcopy(bn)).eval()  # (refused: not a BatchNorm2d)
        self.check(bn, sync)
        save_file(m.state_dict(), self.d / "in.safetensors")  # safetensors in, with the names torch gives
        rc, err, said = self.export("--state-dict", self.d / "in.safetensors", "--out", self.d / "o.safetensors")
        self.assertEqual(rc, 0, err)
        with torch.no_grad():
            want = m(self.x).numpy()
        self.assertLessEqual(np.linalg.norm(self.logits(self.d / "o.safetensors") - want) / np.linalg.norm(want), 1e-5)
        # a head of dense layers after a Dropout, on the 7x7 map: numbered from 0 as vggcl reads it (at classifier.1
        # vggcl took it for GAP's and refused the file it had been given)
        chain = gap_model("vgg11", 5, "keep", seed=1)
        chain.avgpool = nn.AdaptiveAvgPool2d(7)
        chain.classifier = nn.Sequential(nn.Dropout(), nn.Linear(512 * 49, 16), nn.ReLU(), nn.Linear(16, 5))
        err, said = self.check(chain.eval(), chain.state_dict())
        self.assertIn("a chain of dense layers", said)
        # the chain is written 0, 2 (as torch numbers Linear, ReLU, Linear): vggcl refuses dense layers next to
        # each other in a file its tools did not write; they are nn.Sequential(Linear, Linear), which it ran
        # with a ReLU between (other logits, exit 0)
        torch.save(chain.state_dict(), self.d / "chain.pt")
        out = self.d / "chain.safetensors"
        self.assertEqual(self.export("--state-dict", self.d / "chain.pt", "--out", out)[0], 0)
        plain = load_file(out)[0]
        self.assertEqual(sorted(k for k in plain if k.startswith("classifier.")),
                         ["classifier.0.bias", "classifier.0.weight", "classifier.2.bias", "classifier.2.weight"])
        save_file({**{k: v for k, v in plain.items() if not k.startswith("classifier.2.")},
                   "classifier.1.weight": plain["classifier.2.weight"], "classifier.1.bias": plain["classifier.2.bias"]},
                  self.d / "adjacent.safetensors")  # (no vggcl metadata: torch's own numbers)
        for src in ("adjacent.safetensors",):
            r = subprocess.run([VGGCL, "run", "--weights", self.d / src, "--input", self.d / "x.npy", "--output",
                                self.d / "y.npy"], capture_output=True, text=True)
            self.assertEqual((r.returncode, os.path.exists(self.d / "y.npy")), (1, False), r.stderr)
            self.assertIn("dense layers classifier.0 and classifier.1 are next to each other", r.stderr)
            rc, err, _ = self.export("--state-dict", self.d / src, "--out", self.d / "again.safetensors")
            self.assertEqual(rc, 1, err)
            self.assertIn("'classifier.0.weight' and 'classifier.1.weight': dense layers next to each other", err)
        # also where the file says its pool5 (vggcl.pool5, which users set themselves)
        save_file(load_file(self.d / "adjacent.safetensors")[0], self.d / "adjacent-pool5.safetensors",
                  metadata={"format": "pt", "vggcl.pool5": "keep"})
        r = subprocess.run([VGGCL, "run", "--weights", self.d / "adjacent-pool5.safetensors", "--input",
                            self.d / "x.npy", "--output", self.d / "y.npy"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("are next to each other", r.stderr)

    def test_state_dict_saved_straight(self):
        """A state_dict written to safetensors as it is, without the exporter: a head that is model.classifier =
        nn.Linear (the README's pool5 section; classifier.weight unnumbered) is read, after GAP and after a 7x7
        pool (it was refused as "its index is not written as torch writes it"); one under DataParallel's
        "module." is refused naming the prefix and the exporter (it asked whether it was a VGG state_dict)."""
        for pool, width in ((1, 512), (7, 512 * 49)):
            m = gap_model("vgg11", 5, "keep", seed=8)
            m.avgpool, m.classifier = nn.AdaptiveAvgPool2d(pool), nn.Linear(width, 5)
            m.eval()
            path = self.d / f"bare{pool}.safetensors"
            save_file(m.state_dict(), path)
            self.assertIn("classifier.weight", load_file(path)[0])
            with torch.no_grad():
                want = m(self.x).numpy()
            got = self.logits(path)
            self.assertLessEqual(np.linalg.norm(got - want) / np.linalg.norm(want), 1e-4, pool)
        path = self.d / "dp.safetensors"
        save_file({f"module.{k}": v for k, v in m.state_dict().items()}, path)
        r = subprocess.run([VGGCL, "run", "--weights", path, "--input", self.d / "x.npy", "--output", self.d / "y.npy"],
                           capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"{path}: no convolution weights (features.N.weight) found, but 'module.features.0.weight': the "
                      "network is under a prefix (nn.DataParallel's \"module.\", a wrapper's); "
                      "weights/export_torchvision.py --state-dict takes it off (or rename the keys)\n", r.stderr)
        self.assertFalse((self.d / "y.npy").exists())

    def test_forms_found_by_new_users(self):
        """Forms a pass of new users found refused or misread, each now read to torch's logits or refused naming
        what it lacks: a network keeping its parts under other names (--features, --head; said where not
        given), a TorchScript archive (--trust-pickle: its state_dict; its script modules were refused as
        layers), a safetensors file of DataParallel's names (read as a .pt's), BatchNorm of affine=False (the
        scale 1 and shift 0 it computes with) and one lacking a tensor (written, then refused by vggcl), an empty
        file (a traceback with --trust-pickle), a whole model of a class its program alone defines, and a crop
        or mean given without its other half (said: vggcl takes its default for it)."""
        class Parts(nn.Module):
            def __init__(self, vgg):
                super().__init__()
                self.backbone, self.fc = vgg.features, vgg.classifier

            def forward(self, x):
                return self.fc(self.backbone(x).mean((2, 3)))
        m = gap_model("vgg11", 5, "keep", seed=7)
        parts = Parts(copy.deepcopy(m)).eval()
        self.check(m, parts.state_dict(), "--features", "backbone", "--head", "fc")
        self.check(m, {"state_dict": {f"model.{k}": v for k, v in parts.state_dict().items()}}, "--features",
                   "model.backbone", "--head", "model.fc")
        torch.save(parts.state_dict(), self.d / "parts.pt")
        # an auxiliary head beside torchvision's own names: the parts named, even as features and classifier, the
        # rest is left out, said (it was refused all the same, the message's way forward leading nowhere)
        withaux = dict(m.state_dict(), **{"aux.weight": torch.ones(3, 512), "aux.bias": torch.ones(3)})
        err, _ = self.check(m, withaux, "--features", "features", "--head", "classifier")
        self.assertIn("note: left out, not under --features or --head: aux.bias, aux.weight", err)
        # (and under a LightningModule's 'model.', its wrapper read away first: the two given left nothing there)
        err, _ = self.check(m, {"state_dict": {f"model.{k}": v for k, v in withaux.items()}}, "--features", "features",
                            "--head", "classifier")
        self.assertIn("note: left out, not under --features or --head: aux.bias, aux.weight", err)
        # (a head of the network's own beside the one named: refused, not one of them taken by the order of the
        # keys; a prefix that names nothing: said with the names there, 'module.' read away)
        aux = Parts(copy.deepcopy(m)).eval()
        aux.classifier = nn.Linear(512, 5)
        torch.save(nn.DataParallel(aux).state_dict(), self.d / "aux.pt")
        for src, args, said in (
                ("parts.pt", [], "not a torchvision VGG's names (a network that keeps them under others: --features "
                                 "PREFIX and --head PREFIX name them; given, even as features and classifier, the "
                                 "tensors outside them, an auxiliary head's, are left out)"),
                ("parts.pt", ["--features", "backbone", "--head", "head"], "no tensors under 'head.' (--head); the "
                                                                           "names begin backbone, fc ('module.' and "
                                                                           "'_orig_mod.' read away first)"),
                ("aux.pt", ["--features", "module.backbone", "--head", "fc"], "no tensors under 'module.backbone.' "
                                                                              "(--features); the names begin "
                                                                              "backbone, classifier, fc"),
                ("aux.pt", ["--features", "backbone", "--head", "fc"], "tensors under 'classifier.' "
                                                                       "(classifier.weight, ...) beside --head fc's")):
            rc, err, _ = self.export("--state-dict", self.d / src, "--out", self.d / "p.safetensors", *args)
            self.assertEqual((rc, os.path.exists(self.d / "p.safetensors")), (1, False), err)
            self.assertIn(said, err)
        torch.jit.save(torch.jit.script(copy.deepcopy(m)), self.d / "scripted.pt")
        with warnings.catch_warnings(record=True) as seen:  # (torch's advice, the archive handed to torch.jit.load,
            warnings.simplefilter("always")                 # was printed: the script keeps it)
            rc, err, said = self.export("--state-dict", self.d / "scripted.pt", "--out", self.d / "s.safetensors",
                                        "--trust-pickle")
        self.assertEqual([str(w.message) for w in seen if "TorchScript" in str(w.message)], [])
        self.assertEqual(rc, 0, err)
        self.assertIn("(TorchScript archive's state_dict), GAP head, pool5 keep", said)
        dropout = copy.deepcopy(m)  # (a Dropout in the features: its index, in the state_dict, a max pool's place)
        dropout.features = nn.Sequential(*list(dropout.features)[:8], nn.Dropout(), *list(dropout.features)[8:])
        torch.jit.save(torch.jit.script(dropout.eval()), self.d / "scripted-dropout.pt")
        rc, err, _ = self.export("--state-dict", self.d / "scripted-dropout.pt", "--out", self.d / "sd.safetensors",
                                 "--trust-pickle")
        self.assertEqual(rc, 1, err)
        self.assertIn("a TorchScript archive whose features hold a Dropout (features.8)", err)
        # the same model's state_dict: its numbers after the Dropout one more, read as a max pool's place (written,
        # exit 0, other logits unsaid); refused, naming the first convolution out of place; its whole model is read
        torch.save(dropout.state_dict(), self.d / "dropout-sd.pt")
        rc, err, _ = self.export("--state-dict", self.d / "dropout-sd.pt", "--out", self.d / "sd.safetensors")
        self.assertEqual((rc, os.path.exists(self.d / "sd.safetensors")), (1, False), err)
        self.assertIn("features.9 is vgg11's convolution 4, which torchvision numbers features.8: a layer without "
                      "weights between the convolutions (a Dropout?) shifts the numbers", err)
        with torch.no_grad():
            want = m(self.x).numpy()
        for name, tensors in (("s.safetensors", None), ("dp-in.safetensors", nn.DataParallel(m).state_dict())):
            if tensors is not None:
                save_file(tensors, self.d / name)
                rc, err, _ = self.export("--state-dict", self.d / name, "--out", self.d / "dp.safetensors")
                self.assertEqual(rc, 0, err)
                name = "dp.safetensors"
            got = self.logits(self.d / name)
            self.assertLessEqual(np.linalg.norm(got - want) / np.linalg.norm(want), 1e-5)
        bn = gap_model("vgg11_bn", 3, "keep", seed=8)
        for mod in bn.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.uniform_(-0.5, 0.5), mod.running_var.uniform_(0.5, 2)
                mod.affine, mod.weight, mod.bias = False, None, None
        self.check(bn, bn.state_dict())
        self.check(bn, bn)  # (the whole model: refused for affine=False, which is read now)
        whole = gap_model("vgg11_bn", 3, "keep", seed=8).state_dict()
        for gone, said in (("running_var", "features.1 (bias, running_mean, weight) is no BatchNorm vggcl can fold: "
                                           "it lacks running_var"), ("weight", "features.1 is a BatchNorm without its "
                                                                               "weight")):
            torch.save({k: v for k, v in whole.items() if k != f"features.1.{gone}"}, self.d / "bn.pt")
            rc, err, _ = self.export("--state-dict", self.d / "bn.pt", "--out", self.d / "bn.safetensors")
            self.assertEqual((rc, os.path.exists(self.d / "bn.safetensors")), (1, False), err)
            self.assertIn(said, err)
        # BatchNorms that keep no running statistics (track_running_stats=False) at all: said as such, not as a
        # Dropout shifting the numbers (the numbering check, made first, took them for vgg11's plain numbers)
        torch.save({k: v for k, v in whole.items() if "running_" not in k and "num_batches" not in k},
                   self.d / "bn.pt")
        rc, err, _ = self.export("--state-dict", self.d / "bn.pt", "--out", self.d / "bn.safetensors")
        self.assertEqual((rc, os.path.exists(self.d / "bn.safetensors")), (1, False), err)
        self.assertIn("features.1 (bias, weight) is no BatchNorm vggcl can fold: it lacks running_mean and "
                      "running_var (one that keeps no running statistics", err)
        (self.d / "empty.pt").write_bytes(b"")
        for trust in ([], ["--trust-pickle"]):
            rc, err, _ = self.export("--state-dict", self.d / "empty.pt", "--out", self.d / "e.safetensors", *trust)
            self.assertEqual(rc, 1, err)
            self.assertEqual(err, f"export_torchvision.py: {self.d / 'empty.pt'}: empty (0 bytes): not a checkpoint\n")
        # a whole model of a class its own program defines (__main__ there): said so, with what to do
        script = ("import sys, torch, torch.nn as nn\nsys.path.insert(0, sys.argv[2])\n"
                  "from export_torchvision import gap_model\n"
                  "class MyNet(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                  "        v = gap_model('vgg11', 3, 'keep', 0)\n        self.features, self.avgpool, self.classifier = "
                  "v.features, v.avgpool, v.classifier\ntorch.save(MyNet(), sys.argv[1])\n")
        subprocess.run([sys.executable, "-c", script, str(self.d / "mine.pt"), str(ROOT / "weights")], check=True)
        rc, err, _ = self.export("--state-dict", self.d / "mine.pt", "--out", self.d / "m.safetensors",
                                 "--trust-pickle")
        self.assertEqual(rc, 1, err)
        self.assertIn("the file's pickle names a class this Python cannot make (AttributeError: Can't get attribute "
                      "'MyNet'", err)
        self.assertIn("export its state_dict (torch.save(model.state_dict(), ...)), or run this with the module that "
                      "defines the class on PYTHONPATH", err)
        rc, err, _ = self.export("--state-dict", self.d / "parts.pt", "--out", self.d / "p.safetensors", "--features",
                                 "backbone", "--head", "fc", "--crop", "64", "--mean", "0.5,0.5,0.5")
        self.assertEqual(rc, 0, err)
        self.assertIn("note: vggcl.crop 64 recorded without vggcl.resize: vggcl takes its default for it, 256; give "
                      "--resize (0: none) as the training did", err)
        self.assertIn("note: vggcl.mean 0.5,0.5,0.5 recorded without vggcl.std: vggcl takes its default for it, "
                      "0.229,0.224,0.225; give --std as the training did", err)

    def test_ended_by_a_signal(self):
        """SIGTERM while the file is written (a batch job's end): the temporary file is removed and the exit
        status is 143 (the signal killed the script and left it); the default handler is back after."""
        import signal
        from safetensors_io import write_atomic

        class Bomb:  # (a tensor whose reading sends the signal, as it may come midway)
            def detach(self):
                os.kill(os.getpid(), signal.SIGTERM)
                return self

            def cpu(self):
                return self

            def numpy(self):
                return np.zeros(4, np.float32)

        out = self.d / "ended.safetensors"
        testenv_handler = signal.signal(signal.SIGTERM, signal.SIG_DFL)  # (as in the script: testenv sets one)
        try:
            with self.assertRaises(SystemExit) as e:
                write_atomic({"a": np.ones(3, np.float32), "b": Bomb()}, {}, out)
            self.assertEqual(signal.getsignal(signal.SIGTERM), signal.SIG_DFL)
        finally:
            signal.signal(signal.SIGTERM, testenv_handler)
        self.assertEqual(e.exception.code, 128 + signal.SIGTERM)
        self.assertEqual([p.name for p in self.d.iterdir() if p.name.startswith(".ended")], [])
        self.assertFalse(out.exists())

    def test_vggcl_file_again(self):
        """A vggcl file exported again (to half precision) keeps what its metadata says: pool5 dropped, the
        names, the preprocessing (it was taken for a state_dict: pool5 kept, the rest lost, other logits)."""
        m = gap_model("vgg11", 4, "drop", seed=3)
        first, again = self.d / "first.safetensors", self.d / "again.safetensors"
        torch.save(m, self.d / "drop.pt")
        rc, err, _ = self.export("--state-dict", self.d / "drop.pt", "--trust-pickle", "--out", first,
                                 "--class-names", "a,b,c,d",
                                 "--resize", "40", "--crop", "32", "--mean", "0.5,0.5,0.5", "--std", "0.25,0.5,0.5")
        self.assertEqual(rc, 0, err)
        rc, err, said = self.export("--state-dict", first, "--out", again, "--dtype", "F16")
        self.assertEqual(rc, 0, err)
        self.assertIn("pool5 drop", said)
        self.assertNotIn("does not say", err)
        meta = {k: v for k, v in load_file(first)[1].items()}
        self.assertEqual(load_file(again)[1], meta)
        # a file whose pool5 was an earlier export's guess (a state_dict: keep assumed) is told again with --pool5
        # (refused: "the model's features end with a max pool", which only the metadata said)
        torch.save(m.state_dict(), self.d / "drop_sd.pt")
        self.assertEqual(self.export("--state-dict", self.d / "drop_sd.pt", "--out", first)[0], 0)
        rc, err, said = self.export("--state-dict", first, "--out", again, "--pool5", "drop")
        self.assertEqual(rc, 0, err)
        self.assertIn("pool5 drop", said)
        # (said, as `vggcl run --pool5` says it of such a file: re-exported only to another dtype, the change went
        # unsaid, and no command warned again)
        self.assertIn("note: its metadata said pool5 keep, which its head was made for; --pool5 drop recorded in its "
                      "place gives the head features it was not trained on, unless that metadata was wrong", err)
        self.assertEqual(load_file(again)[1]["vggcl.pool5"], "drop")
        # its class names unreadable (another tool's file): refused before anything is written (a traceback after)
        tensors, meta = load_file(first)
        for bad in ("[1, 2, 3, 4]", "not json", '["a", "b"]'):
            save_file(tensors, self.d / "badnames.safetensors", metadata=dict(meta, **{"vggcl.classes": bad}))
            rc, err, _ = self.export("--state-dict", self.d / "badnames.safetensors", "--out", self.d / "no.st")
            self.assertEqual(rc, 1, err)
            self.assertIn('its metadata "vggcl.classes" is not a JSON list of 4 names (as vggcl reads them); give '
                          "--class-names or --class-names-json", err)
            self.assertFalse((self.d / "no.st").exists())
        with torch.no_grad():
            want = m(self.x).numpy()
        self.assertLessEqual(np.linalg.norm(self.logits(again) - want) / np.linalg.norm(want), 2e-3)  # (fp16)

    def test_pool5(self):
        """A whole model says whether it kept pool5; a state_dict cannot: keep, said (--pool5 drop for one
        trained without it); --pool5 against what a whole model says is refused."""
        m = gap_model("vgg11", 4, "drop", seed=3)
        err, said = self.check(m, m)
        self.assertIn("pool5 drop", said)
        identity = gap_model("vgg11", 4, "keep", seed=3)  # (pool5 dropped as an Identity in its place)
        identity.features[-1] = nn.Identity()
        err, said = self.check(identity, identity)
        self.assertIn("pool5 drop", said)
        self.assertNotIn("does not say", err)
        after = gap_model("vgg11", 4, "keep", seed=3)  # (a Dropout after pool5: the file said drop, other logits)
        after.features = nn.Sequential(*after.features, nn.Dropout())
        err, said = self.check(after.eval(), after)
        self.assertIn("pool5 keep", said)
        err, said = self.check(m, m.state_dict(), "--pool5", "drop")
        self.assertNotIn("does not say", err)
        err, _ = self.check(gap_model("vgg11", 4, "keep", seed=3), gap_model("vgg11", 4, "keep", seed=3).state_dict())
        self.assertIn("a state_dict does not say whether the model kept pool5", err)
        # torchvision's own classifier after pool5 was dropped (its adaptive pool then averages the larger map to
        # 7x7): exported, the logits torch's (it was refused: "reads the 7x7 map after pool5"); a head of small
        # hidden widths stands for the 4096s
        orig = torchvision.models.vgg11(weights=None, num_classes=3)
        orig.features = orig.features[:-1]
        orig.classifier = nn.Sequential(nn.Linear(512 * 49, 16), nn.ReLU(), nn.Dropout(), nn.Linear(16, 8),
                                        nn.ReLU(), nn.Dropout(), nn.Linear(8, 3))
        orig.eval()
        err, said = self.check(orig, orig)
        self.assertIn("torchvision's classifier, pool5 drop, 3 classes", said)
        err, said = self.check(orig, orig.state_dict(), "--pool5", "drop")
        self.assertIn("torchvision's classifier, pool5 drop", said)
        torch.save(orig.state_dict(), self.d / "orig_sd.pt")  # (its state_dict alone cannot say: keep assumed, said)
        rc, err, said = self.export("--state-dict", self.d / "orig_sd.pt", "--out", self.d / "orig.safetensors")
        self.assertEqual(rc, 0, err)
        self.assertIn("note: a state_dict does not say whether the model kept pool5 (the max pool after the last "
                      "convolution): keep assumed", err)
        (self.d / "orig.safetensors").unlink()
        torch.save(m, self.d / "whole.pt")
        rc, err, _ = self.export("--state-dict", self.d / "whole.pt", "--pool5", "keep", "--out", self.d / "no.st",
                                 "--trust-pickle")
        self.assertEqual(rc, 1)
        self.assertIn("--pool5 keep, but the model's features end without a max pool", err)
        self.assertFalse((self.d / "no.st").exists())

    def test_notes_on_what_users_save(self):
        """Exported, with a note each (they went unsaid): a whole model saved in training mode with BatchNorm
        (vggcl gives model.eval()'s answer); a checkpoint holding another copy of the weights (an EMA's) beside the
        one read; a class name given twice (eval cannot match it; ImageNet's own list has two "crane"); a whole
        model's final LogSoftmax, left out (it was refused); one class said as such ("1 classes")."""
        bn = gap_model("vgg11_bn", 3, "keep", seed=4)
        trained = copy.deepcopy(bn).train()  # (saved so; the running statistics as eval() uses them)
        err, _ = self.check(bn.eval(), trained)
        self.assertIn("note: the model was saved in training mode (model.train()), where BatchNorm normalizes by "
                      "each batch's own statistics: vggcl computes model.eval()'s answer", err)
        err, _ = self.check(bn, bn)
        self.assertNotIn("training mode", err)
        one = copy.deepcopy(bn)  # (one BatchNorm in training mode under a model in eval mode: went unsaid)
        next(m for m in one.modules() if isinstance(m, nn.BatchNorm2d)).train()
        err, _ = self.check(bn, one)
        self.assertIn("note: its BatchNorm 'features.1' was saved in training mode (.train()), where BatchNorm "
                      "normalizes by each batch's own statistics", err)
        m = gap_model("vgg11", 3, "keep", seed=5)
        ema = {k: v * 0.5 for k, v in m.state_dict().items()}
        ckpt = {"model_state_dict": m.state_dict(), "ema_state_dict": ema, "epoch": 3}
        err, _ = self.check(m, ckpt)
        self.assertIn("note: the checkpoint holds other weights of the same network too (ema_state_dict): "
                      "'model_state_dict' was read; for another, give --key ema_state_dict", err)
        averaged = copy.deepcopy(m)  # --key: the EMA copy read (it had to be saved alone first), said so, no note
        averaged.load_state_dict(ema)
        err, said = self.check(averaged, ckpt, "--key", "ema_state_dict")
        self.assertNotIn("other weights", err)
        self.assertIn("checkpoint['ema_state_dict']", said + err)
        torch.save(ckpt, self.d / "ckpt.pt")
        for key, why in (("ema", "--key 'ema': the checkpoint has no such entry (its entries: 'model_state_dict', "
                                 "'ema_state_dict', 'epoch')"),
                         ("epoch", "--key 'epoch': checkpoint['epoch'] is of type int, not a state_dict or a model")):
            rc, err, _ = self.export("--state-dict", self.d / "ckpt.pt", "--key", key, "--out", self.d / "k.st")
            self.assertEqual(rc, 1, err)
            self.assertIn(why, err)
            self.assertFalse((self.d / "k.st").exists())
        torch.save(m.state_dict(), self.d / "sd.pt")  # (a state_dict alone has no entries to pick)
        rc, err, _ = self.export("--state-dict", self.d / "sd.pt", "--key", "model", "--out", self.d / "k.st")
        self.assertEqual(rc, 1, err)
        self.assertIn("--key 'model': the file holds a state_dict, not a checkpoint of several entries", err)
        five = gap_model("vgg11", 5, "keep", seed=5)
        err, _ = self.check(five, five.state_dict(), "--class-names", "crane,kite,crane,maillot,maillot")
        self.assertIn("note: classes of one name: 'crane' (0 and 2), 'maillot' (3 and 4): `vggcl eval` cannot match "
                      "a class folder of such a name, and `vggcl cam --class` takes the first by it", err)
        self.assertIn("--class-names: note: not in sorted order, as ImageFolder numbers its classes "
                      "(crane,crane,kite,maillot,...): right only if the model's outputs are in the order given",
                      err)  # (a list typed by hand)
        err, _ = self.check(five, five.state_dict(), "--class-names", "a,b,c,d,e")
        self.assertNotIn("not in sorted order", err)
        soft = copy.deepcopy(m)  # (a final LogSoftmax: left out, said, as import_onnx.py drops it; it was refused)
        soft.classifier = nn.Sequential(*m.classifier, nn.LogSoftmax(dim=1))
        err, _ = self.check(m, soft)
        self.assertIn("note: the head's final LogSoftmax is left out: vggcl gives the logits", err)
        soft.classifier = nn.Sequential(*m.classifier, nn.Softmax())  # (dim None: torch's implicit 1; was refused)
        err, _ = self.check(m, soft)
        self.assertIn("note: the head's final Softmax is left out: vggcl gives the logits", err)
        err, said = self.check(gap_model("vgg11", 1, "keep", seed=5), gap_model("vgg11", 1, "keep", seed=5))
        self.assertIn(", 1 class", said)
        self.assertNotIn("1 classes", said)

    def test_custom_widths(self):
        """A VGG of other widths, as torchvision's make_layers builds any cfg (with and without BatchNorm): exported,
        its pools read from its numbering (said, from a state_dict) or its layers, vggcl's logits torch's (it was
        refused: "none of torchvision's vgg11, vgg13, vgg16, vgg19"); numbers no cfg gives still refused."""
        vgg = torchvision.models.vgg
        for bn in (False, True):
            torch.manual_seed(8)
            slim = vgg.VGG(vgg.make_layers([16, "M", 32, "M", 32, 32, "M", 48, "M", 48, "M"], batch_norm=bn))
            slim.avgpool, slim.classifier = nn.AdaptiveAvgPool2d(1), nn.Sequential(nn.Linear(48, 3))
            slim.eval()
            err, said = self.check(slim, slim.state_dict())
            self.assertIn(f"custom VGG{'_bn' if bn else ''} (16,32,32,32,48,48) (state_dict), GAP head", said)
            self.assertIn("note: the convolutions' widths are none of torchvision's vggNN: the max pools are read "
                          "where the numbers skip one", err)
            err, said = self.check(slim, slim)
            self.assertIn("(whole model), GAP head, pool5 keep", said)
            self.assertNotIn("widths are none", err)
        sd = slim.state_dict()
        shifted = {k.replace("features.0.", "features.1."): v for k, v in sd.items()}
        torch.save(shifted, self.d / "shifted.pt")
        rc, err, _ = self.export("--state-dict", self.d / "shifted.pt", "--out", self.d / "no.safetensors")
        self.assertEqual(rc, 1, err)
        self.assertIn("none of torchvision's vgg11, vgg13, vgg16, vgg19, nor numbered as its make_layers numbers "
                      "another (features.0 the first convolution, each next 3 on, or 4 past a max pool)", err)

    def test_dtype_range(self):
        """A value past --dtype's range is refused naming the tensor, no file written (F16 wrote inf, exit 0,
        and vggcl refused the file)."""
        m = gap_model("vgg11", 5, "keep", seed=4)
        sd = m.state_dict()
        sd["features.3.weight"] = sd["features.3.weight"].clone()
        sd["features.3.weight"][0, 0, 0, 0] = 1e5
        torch.save(sd, self.d / "big.pt")
        out = self.d / "big.safetensors"
        rc, err, _ = self.export("--state-dict", self.d / "big.pt", "--out", out, "--dtype", "F16")
        self.assertEqual(rc, 1, err)
        self.assertIn("tensor features.3.weight: its value 100000 is past F16's range; give --dtype BF16 or F32", err)
        self.assertFalse(out.exists())
        rc, err, _ = self.export("--state-dict", self.d / "big.pt", "--out", out, "--dtype", "BF16")
        self.assertEqual(rc, 0, err)
        out.unlink()
        # a --mean or --std within a double's range, past a float's (written, then refused by vggcl)
        for args, said in ((["--std", "1e-50,1,1"], "mean 0.485,0.456,0.406 and std 1e-50,1.0,1.0"),
                           (["--mean", "1,0,0", "--std", "1e-40,1e-40,1e-40"],
                            "mean 1.0,0.0,0.0 and std 1e-40,1e-40,1e-40")):
            rc, err, _ = self.export("--state-dict", self.d / "big.pt", "--out", out, *args)
            self.assertEqual(rc, 1, err)
            self.assertIn(f"{said} take pixel values past a float's range", err)
            self.assertFalse(out.exists())
        # a --mean or --std on the scale of 0..255 (refused as vggcl refuses one given so)
        for opt, text, said in (("--mean", "123.68,116.78,103.94", "above 1"),
                                ("--std", "58.4,57.1,57.4", "10 or above"), ("--mean", "1e300,0,0", "above 1")):
            rc, err, _ = self.export("--state-dict", self.d / "big.pt", "--out", out, opt, text)
            self.assertEqual(rc, 2, err)  # (a usage error, before the file is read)
            self.assertIn(f"{opt} {text}: {said}, as on the scale of 0..255", err)
            self.assertFalse(out.exists())
        # ... and a vggcl file's mean with a --std given (the check took torchvision's mean for it)
        save_file(m.state_dict(), self.d / "meanful.safetensors", metadata={"vggcl.mean": "3e38,0,0"})
        rc, err, _ = self.export("--state-dict", self.d / "meanful.safetensors", "--std", "0.5,0.5,0.5", "--out", out)
        self.assertEqual(rc, 1, err)
        self.assertIn("mean 3e38,0,0 and std 0.5,0.5,0.5 take pixel values past a float's range", err)
        self.assertFalse(out.exists())
        # a NaN beside a value past F16's: still refused (NaN in, NaN out; the check was skipped)
        with self.assertRaisesRegex(Exception, "tensor t: its value 100000 is past F16's range"):
            save_file({"t": np.array([np.nan, 1e5], np.float32)}, out, dtype="F16")

    def test_out_the_source_or_not_a_file(self):
        """--out the file read (the checkpoint was replaced by the safetensors file, exit 0) and --out - (a file
        named "-" was written) are usage errors, exit 2; a FIFO to read is refused (the reader hung); standard
        output gone is said in a line (a BrokenPipeError traceback), the file written; --seed without --random is a
        usage error (it was ignored)."""
        src = self.d / "src.pt"
        torch.save(gap_model("vgg11", 5, "keep", seed=4).state_dict(), src)
        before = src.read_bytes()
        (self.d / "alias.pt").symlink_to(src)
        for out in (src, self.d / "alias.pt"):
            rc, err, _ = self.export("--state-dict", src, "--out", out)
            self.assertEqual((rc, err), (2, f"export_torchvision.py: --out {out} is the file read, {src}: it would be "
                                            "replaced; name another\n"))
        self.assertEqual(src.read_bytes(), before)
        rc, err, _ = self.export("--state-dict", src, "--out", "-")
        self.assertEqual(rc, 2, err)
        self.assertFalse(Path("-").exists())
        # an empty name, either side (said ": Is a directory" and ": No such file or directory")
        for args, said in ((["--state-dict", src, "--out", ""], "--out is empty"),
                           (["--state-dict", "", "--out", self.d / "e.safetensors"], "--state-dict is empty")):
            rc, err, _ = self.export(*args)
            self.assertEqual((rc, err), (2, f"export_torchvision.py: {said}: name a file\n"))
        rc, err, _ = self.export("--state-dict", src, "--seed", "3", "--out", self.d / "seeded.safetensors")
        self.assertEqual(rc, 2, err)  # (a seed for weights read from a file: taken without a word)
        self.assertIn("--seed goes with --random", err)
        # --seed alone, as vggcl 0.2 took it for random weights: said to give --random (argparse named neither)
        rc, err, _ = self.export("--arch", "vgg11", "--seed", "3", "--out", self.d / "seeded.safetensors")
        self.assertEqual(rc, 2, err)
        self.assertIn("export_torchvision.py: error: one of the arguments --state-dict --random is required (--seed "
                      "alone, as vggcl 0.2 made random weights, now goes with --random: --random --seed N)\n", err)
        rc, err, _ = self.export("--arch", "vgg11", "--out", self.d / "seeded.safetensors")
        self.assertEqual(rc, 2, err)
        self.assertIn("error: one of the arguments --state-dict --random is required\n", err)
        self.assertFalse((self.d / "seeded.safetensors").exists())
        rc, err, _ = self.export("--random", "--arch", "vgg11", "--classes", "3", "--seed", "3", "--out",
                                 self.d / "seeded.safetensors")  # (no file read: the checks above raised on None)
        self.assertEqual(rc, 0, err)
        with torch.no_grad():
            want = gap_model("vgg11", 3, "keep", seed=3)(self.x).numpy()
        got = self.logits(self.d / "seeded.safetensors")
        self.assertLessEqual(np.linalg.norm(got - want) / np.linalg.norm(want), 1e-5)
        (self.d / "seeded.safetensors").unlink()
        os.mkfifo(self.d / "fifo.pt")
        rc, err, _ = self.export("--state-dict", self.d / "fifo.pt", "--out", self.d / "f.safetensors")
        self.assertEqual(rc, 1)
        self.assertIn("fifo.pt: not a regular file", err)
        out = self.d / "piped.safetensors"
        p = subprocess.run(f"{sys.executable} {ROOT / 'weights' / 'export_torchvision.py'} --state-dict {src} --out "
                           f"{out} | true", shell=True, capture_output=True, text=True, timeout=300)
        self.assertNotIn("Traceback", p.stderr)
        if p.stderr:  # (true ended before the line was written: said; else the pipe took it)
            self.assertIn(f"cannot write standard output: Broken pipe (wrote {out})", p.stderr)
        self.assertTrue(out.exists())
        for name in ("alias.pt", "fifo.pt", "src.pt", "piped.safetensors"):
            (self.d / name).unlink()

    def test_refused(self):
        m = gap_model("vgg11", 5, "keep", seed=4)
        torch.save(m.state_dict(), self.d / "sd.pt")
        nan = m.state_dict()
        nan["features.3.weight"] = nan["features.3.weight"].clone()
        nan["features.3.weight"][0, 0, 0, 0] = float("nan")
        torch.save(nan, self.d / "nan.pt")
        torch.save({"epoch": 1, "optimizer": {}}, self.d / "ckpt.pt")
        (self.d / "text.pt").write_text("not a checkpoint\n")
        # heads and layers vggcl would refuse, or run otherwise (each written, or tracebacks; whole models gave
        # other logits, exit 0)
        bad = {"fc": nn.Sequential(collections.OrderedDict(fc=nn.Linear(512, 5))),
               "bn1d": nn.Sequential(nn.Linear(512, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 5))}
        for name, head in bad.items():
            h = copy.deepcopy(m)
            h.classifier = head
            torch.save(h.state_dict(), self.d / f"{name}.pt")
        narrow = m.state_dict()
        narrow["classifier.0.weight"] = torch.zeros(5, 256)
        torch.save(narrow, self.d / "narrow.pt")
        for name, k, shape in (("gray", 0, (64, 1, 3, 3)), ("onebyone", 3, (128, 64, 1, 1)), ("skip", 6, (256, 64, 3, 3))):
            convs = dict(m.state_dict())  # (the widths torchvision's: written, then refused by vggcl at load)
            convs[f"features.{k}.weight"] = torch.zeros(shape)
            torch.save(convs, self.d / f"{name}.pt")
        whole = {"maxgap": ("avgpool", nn.AdaptiveMaxPool2d(1)),
                 "gelu": ("classifier", nn.Sequential(nn.Linear(512, 16), nn.GELU(), nn.Linear(16, 5))),
                 "norelu": ("classifier", nn.Sequential(nn.Linear(512, 16), nn.Linear(16, 5))),
                 "endrelu": ("classifier", nn.Sequential(nn.Linear(512, 5), nn.ReLU())),
                 "avg14": ("avgpool", nn.AvgPool2d(14)),
                 "aftersoftmax": ("classifier", nn.Sequential(nn.Linear(512, 5), nn.LogSoftmax(1), nn.ReLU())),
                 "bare": ("features", nn.Sequential(*[x for x in m.features if not isinstance(x, nn.ReLU)])),
                 "ceil": ("features", nn.Sequential(*[nn.MaxPool2d(2, 2, ceil_mode=True) if isinstance(x, nn.MaxPool2d)
                                                      else x for x in m.features]))}
        for name, (part, module) in whole.items():
            h = copy.deepcopy(m)
            setattr(h, part, module)
            torch.save(h, self.d / f"{name}.pt")
        noavg = copy.deepcopy(m)
        del noavg.avgpool
        noavg.features[1] = nn.LeakyReLU(0.2)
        torch.save(noavg, self.d / "noavg.pt")
        torch.save({"state_dict": Evil(self.d / "ran")}, self.d / "evil.pt")
        torch.save({"state_dict": m.state_dict(), "args": argparse.Namespace(lr=0.1)}, self.d / "args.pt")
        # a TorchScript archive (torch.load hands it to torch.jit.load, which runs its code), a tar file (torch's
        # oldest format: extracted as its members say), a storage declared past its record (torch 1.13 read
        # memory past it), a tensor written into by the pickle
        torch.jit.save(torch.jit.script(nn.Linear(2, 2)), self.d / "script.pt")
        with tarfile.open(self.d / "old.pt", "w") as tar:
            info = tarfile.TarInfo("storages")
            info.size = 4
            tar.addfile(info, io.BytesIO(b"\x80\x02N."))
        big = Rebuilt(("storage", torch.FloatStorage, "0", "cpu", 1 << 20), (1 << 20,))
        write_torch_zip(self.d / "past.pt", big, b"\0" * 16)
        # torch.Tensor(cdata=an address) through NEWOBJ_EX (a crash: a number taken for a pointer); Tensor called
        write_torch_zip(self.d / "cdata.pt", b"\x80\x04ctorch\nTensor\n)}\x8c\x05cdata\x8a\x04AAAAs\x92.", b"")
        write_torch_zip(self.d / "called.pt", b"\x80\x02ctorch\nTensor\n(K\x01tR.", b"")
        # a sparse layout (such tensors are checked only after the load: iterated first, a heap write), a stride
        # of 0 (16 bytes as a million values), a tuple as a key (nested, its hash takes exponential time)
        write_torch_zip(self.d / "layout.pt", b"\x80\x02ctorch.serialization\n_get_layout\nX\x10\x00\x00\x00"
                                              b"torch.sparse_csr\x85R.", b"")
        write_torch_zip(self.d / "stride0.pt", Rebuilt(("storage", torch.FloatStorage, "0", "cpu", 4), (1000000,),
                                                       (0,)), b"\0" * 16)
        write_torch_zip(self.d / "complex.pt", Rebuilt(("storage", torch.ComplexFloatStorage, "0", "cpu", 2), (2,)),
                        b"\0" * 16)  # (a dtype the safetensors writer has not: a traceback)
        write_torch_zip(self.d / "tuplekey.pt", b"\x80\x02}K\x01K\x02\x86K\x03s.", b"")
        write_torch_zip(self.d / "setitem.pt", SetItem(Rebuilt(("storage", torch.FloatStorage, "0", "cpu", 4), (4,))),
                        b"\0" * 16)
        # the same in torch's legacy format, a harmless zip after it: torch reads the first, zipfile the second
        torch.save({"state_dict": Evil(self.d / "ran")}, self.d / "appended.pt", _use_new_zipfile_serialization=False)
        with open(self.d / "appended.pt", "ab") as f:
            f.write((self.d / "sd.pt").read_bytes())
        sd32 = {k: v.numpy() for k, v in m.state_dict().items()}
        save_file(sd32, self.d / "ok.safetensors")
        raw = (self.d / "ok.safetensors").read_bytes()
        n = struct.unpack("<Q", raw[:8])[0]
        header = json.loads(raw[8:8 + n])
        header["classifier.0.bias"]["data_offsets"] = header["features.0.bias"]["data_offsets"]  # (same bytes)
        text = json.dumps(header).encode()
        (self.d / "overlap.safetensors").write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n:])
        header["classifier.0.bias"] = {"dtype": "Q9", "shape": [5], "data_offsets": [0, 5]}  # (no such dtype)
        text = json.dumps(header).encode()
        (self.d / "bool.safetensors").write_bytes(struct.pack("<Q", len(text)) + text + raw[8 + n:])
        keras = gap_model("vgg11_bn", 5, "keep", seed=4)
        keras.features[1].eps = 1e-3
        torch.save(keras, self.d / "eps.pt")
        out = self.d / "kept.safetensors"
        tp = "--trust-pickle"  # (whole models: their pickles run)
        self.assertEqual(self.export("--state-dict", self.d / "sd.pt", "--out", out)[0], 0)
        before = out.read_bytes()
        for args, needle in [(["--state-dict", self.d / "sd.pt", "--arch", "vgg16"], "the weights are vgg11's, not vgg16's"),
                             (["--state-dict", self.d / "sd.pt", "--arch", "vgg11_bn"], "not vgg11_bn's"),
                             (["--state-dict", self.d / "sd.pt", "--classes", "7"], "the head has 5 outputs, not 7"),
                             (["--state-dict", self.d / "nan.pt"], "'features.3.weight' holds NaN or infinite"),
                             (["--state-dict", self.d / "ckpt.pt"], "a dict (epoch, optimizer) with no model weights"),
                             (["--state-dict", self.d / "text.pt"], "not in torch.save's zip format"),
                             (["--state-dict", self.d / "fc.pt"], "the tensor 'classifier.fc.weight': expected "
                                                                  "features.N.* and classifier.N.*"),
                             (["--state-dict", self.d / "bn1d.pt"], "'classifier.1.running_mean' (32,): a head layer "
                                                                    "that is not nn.Linear (BatchNorm1d?); vggcl's "
                                                                    "heads are Linear layers with ReLU between them "
                                                                    "(Dropout is fine); torch.onnx.export and "
                                                                    "weights/import_onnx.py fold a BatchNorm1d"),
                             (["--state-dict", self.d / "narrow.pt"], "'classifier.0.weight' (5, 256): the head's "
                                                                      "first layer takes the last conv's 512"),
                             (["--state-dict", self.d / "gray.pt"], "'features.0.weight' (64, 1, 3, 3): expected "
                                                                    "(64, 3, 3, 3), a 3x3 convolution of the 3 RGB"),
                             (["--state-dict", self.d / "onebyone.pt"], "'features.3.weight' (128, 64, 1, 1): expected "
                                                                        "(128, 64, 3, 3)"),
                             (["--state-dict", self.d / "skip.pt"], "'features.6.weight' (256, 64, 3, 3): expected "
                                                                    "(256, 128, 3, 3), a 3x3 convolution of the 128 "
                                                                    "channels before it"),
                             (["--state-dict", self.d / "maxgap.pt", tp], "model.avgpool is AdaptiveMaxPool2d"),
                             (["--state-dict", self.d / "gelu.pt", tp], "model.classifier.1 is GELU"),
                             (["--state-dict", self.d / "norelu.pt", tp], "model.classifier.1 is Linear(in_features=16, "
                                                                      "out_features=5, bias=True): vggcl's heads are "
                                                                      "Linear layers with ReLU between them"),
                             (["--state-dict", self.d / "endrelu.pt", tp], "model.classifier.1 is ReLU(): the head ends "
                                                                       "here"),
                             (["--state-dict", self.d / "avg14.pt", tp], "(an AvgPool2d's kernel is the map's size at "
                                                                     "one input size alone: nn.AdaptiveAvgPool2d(1) "
                                                                     "averages any"),
                             (["--state-dict", self.d / "aftersoftmax.pt", tp], "model.classifier.2 is ReLU(): it "
                                                                            "follows the LogSoftmax"),
                             (["--state-dict", self.d / "bare.pt", tp], "model.features.1 is MaxPool2d(kernel_size=2, "
                                                                    "stride=2, padding=0, dilation=1, ceil_mode=False): "
                                                                    "vggcl's features are 3x3 convolutions each "
                                                                    "followed by ReLU"),
                             (["--state-dict", self.d / "eps.pt", tp], "vggcl folds BatchNorm with eps 1e-05"),
                             # (rounding up: the ONNX route that reads it said)
                             (["--state-dict", self.d / "ceil.pt", tp], "ceil_mode=True): vggcl runs 2x2 max pools "
                                                                    "of stride 2 that round down (one with "
                                                                    "ceil_mode=True is read through torch.onnx.export "
                                                                    "and weights/import_onnx.py"),
                             (["--state-dict", self.d / "missing.pt"], "No such file"),
                             # safetensors files the format does not allow (the first was written, its bias the
                             # convolution's bytes; both were "not a PyTorch checkpoint")
                             (["--state-dict", self.d / "overlap.safetensors"], "a safetensors file the format does "
                                                                                "not allow: tensor"),
                             (["--state-dict", self.d / "bool.safetensors"], "tensor classifier.0.bias: expected a "
                                                                             "dtype among F32"),
                             # a whole model without --trust-pickle: its pickle not run (it could run any code)
                             (["--state-dict", self.d / "gelu.pt"], "it holds objects besides tensors, numbers and "
                                                                   "strings (torchvision.models.vgg.VGG): a whole "
                                                                   "model, or other objects, which only running the "
                                                                   "file's pickle reads; give --trust-pickle if you "
                                                                   "trust the file"),
                             (["--state-dict", self.d / "evil.pt"], "objects besides tensors, numbers and strings "
                                                                   "(io.open)"),
                             (["--state-dict", self.d / "appended.pt"], "not in torch.save's zip format (one "
                                                                       "saved before torch 1.6"),
                             (["--state-dict", self.d / "args.pt"], "(argparse.Namespace)"),
                             (["--state-dict", self.d / "script.pt"], "(TorchScript archive (its code would run))"),
                             (["--state-dict", self.d / "old.pt"], "not in torch.save's zip format"),
                             (["--state-dict", self.d / "past.pt"], "not one of the zip's records as large as it "
                                                                   "says"),
                             (["--state-dict", self.d / "setitem.pt"], "(Tensor (items set in it))"),
                             (["--state-dict", self.d / "cdata.pt"], "(an object made by a class's own "
                                                                    "construction"),
                             (["--state-dict", self.d / "called.pt"], "(Tensor (called))"),
                             (["--state-dict", self.d / "layout.pt"], "(_get_layout (called))"),
                             (["--state-dict", self.d / "stride0.pt"], "(a stride of 0"),
                             (["--state-dict", self.d / "tuplekey.pt"], "a key other than a name or a number"),
                             (["--state-dict", self.d / "complex.pt"], "a storage of torch.complex64; vggcl's files "
                                                                      "hold float and integer tensors"),
                             # one without an avgpool (it pools in its forward()): its layers checked all the same
                             (["--state-dict", self.d / "noavg.pt", tp], "model.features.1 is "
                                                                                       "LeakyReLU"),
                             (["--state-dict", self.d / "sd.pt", "--original-head"], "--original-head, but"),
                             (["--state-dict", self.d / "sd.pt", "--class-names", "a,b"], "2 class names, but the model has 5"),
                             (["--state-dict", self.d / "sd.pt", "--mean", "0.5,nan,0.5"], "expected three numbers R,G,B"),
                             (["--state-dict", self.d / "sd.pt", "--std", "1,0,1"], "--std '1,0,1': each must be > 0")]:
            with self.subTest(needle):
                rc, err, _ = self.export(*args, "--out", out)
                self.assertEqual(rc, 1, err)
                self.assertIn(needle, err)
                self.assertEqual(len(err.strip().splitlines()), 1, err)
                self.assertEqual(out.read_bytes(), before)  # (the previous file kept)
        self.assertFalse((self.d / "ran").exists())  # (evil.pt's pickle did not run)
        # a link is followed to its target, replaced there (the link kept); a device is written directly
        (self.d / "elsewhere").mkdir()
        target, link = self.d / "elsewhere" / "model.safetensors", self.d / "link.safetensors"
        target.write_bytes(b"old")
        link.symlink_to(target)
        self.assertEqual(self.export("--state-dict", self.d / "sd.pt", "--out", link)[0], 0)
        self.assertTrue(link.is_symlink())
        self.assertEqual(target.read_bytes(), before)
        self.assertEqual(sorted(p.name for p in (self.d / "elsewhere").iterdir()), ["model.safetensors"])
        self.assertEqual(self.export("--state-dict", self.d / "sd.pt", "--out", "/dev/null")[0], 0)
        for args in (["--out", out], ["--random", "--classes", "0", "--out", out], ["--random", "--crop", "0", "--out", out]):
            self.assertEqual(self.export(*args)[0], 2, args)  # (usage: neither weights nor --random; a count of 0)
        self.assertEqual(out.read_bytes(), before)
        self.assertEqual(sorted(p.name for p in self.d.iterdir() if p.name.startswith(".")), [])  # no temporary file

    def test_names_and_preprocessing(self):
        """Class names and the preprocessing the model was trained with go into the file, and vggcl takes
        them: the names in its answers, the preset for the images."""
        m = gap_model("vgg11", 3, "keep", seed=6)
        torch.save(m.state_dict(), self.d / "named.pt")
        (self.d / "classes.json").write_text(json.dumps({"cat": 0, "dog": 1, "owl": 2}))
        out = self.d / "named.safetensors"
        rc, err, said = self.export("--state-dict", self.d / "named.pt", "--class-names-json", self.d / "classes.json",
                                    "--resize", "40", "--crop", "32", "--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25",
                                    "--out", out)
        self.assertEqual(rc, 0, err)
        self.assertIn("(named)", said)
        meta = load_file(out)[1]
        self.assertEqual((meta["vggcl.classes"], meta["vggcl.resize"], meta["vggcl.crop"], meta["vggcl.mean"]),
                         ('["cat", "dog", "owl"]', "40", "32", "0.5,0.5,0.5"))
        # the names as an {"index": name} object too, or Keras's imagenet_class_index.json form (they were refused)
        for other in ({"1": "dog", "0": "cat", "2": "owl"},
                      {"0": ["n1", "cat"], "1": ["n2", "dog"], "2": ["n3", "owl"]}):
            (self.d / "classes.json").write_text(json.dumps(other))
            rc, err, _ = self.export("--state-dict", self.d / "named.pt", "--class-names-json", self.d / "classes.json",
                                     "--out", self.d / "other.safetensors")
            self.assertEqual(rc, 0, err)
            self.assertEqual(load_file(self.d / "other.safetensors")[1]["vggcl.classes"], '["cat", "dog", "owl"]')
        for bad in ({"0": "cat", "2": "dog", "3": "owl"}, {"0": "cat", "01": "dog", "2": "owl"}, {"0": "cat", "1": 2},
                    {"0": []}, {"0": "cat", "1" * 4301: "dog"}):  # (the last: int() refused it, a traceback)
            (self.d / "classes.json").write_text(json.dumps(bad))
            rc, err, _ = self.export("--state-dict", self.d / "named.pt", "--class-names-json", self.d / "classes.json",
                                     "--out", self.d / "other.safetensors")
            self.assertNotEqual(rc, 0, bad)
            self.assertIn("expected", err)
            self.assertNotIn("Traceback", err)
            self.assertNotIn("}}", err)  # (a piece of the message not formatted)
        (self.d / "other.safetensors").unlink()
        img = self.d / "one.png"
        Image.fromarray(photo(50, 60, 9)).save(img)
        r = subprocess.run([VGGCL, "classify", "--weights", out, "--format", "json", "--logits-out", self.d / "l.npy",
                            img], capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(json.loads(r.stdout)["top"][0]["label"], ("cat", "dog", "owl"))
        # the same weights without the metadata, the preset given on the command line: the same logits
        self.assertEqual(self.export("--state-dict", self.d / "named.pt", "--out", self.d / "plain.safetensors")[0], 0)
        r = subprocess.run([VGGCL, "classify", "--weights", self.d / "plain.safetensors", "--resize", "40", "--crop",
                            "32", "--mean", "0.5,0.5,0.5", "--std", "0.25,0.25,0.25", "--logits-out",
                            self.d / "l2.npy", img], capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        np.testing.assert_array_equal(np.load(self.d / "l.npy"), np.load(self.d / "l2.npy"))
        # preprocess --weights: the tensor classify makes for the model (without, torchvision's 224 x 224: its
        # help said a model's metadata set the preset, and preprocess | run gave other logits, exit 0)
        for extra, side in (([], 224), (["--weights", out], 32)):
            r = subprocess.run([VGGCL, "preprocess", *extra, "--output", self.d / "pre.npy", img], capture_output=True,
                               text=True, timeout=600)
            self.assertEqual((r.returncode, np.load(self.d / "pre.npy").shape), (0, (1, 3, side, side)), r.stderr)
        r = subprocess.run([VGGCL, "run", "--weights", out, "--input", self.d / "pre.npy", "--output",
                            self.d / "l3.npy"], capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        np.testing.assert_array_equal(np.load(self.d / "l.npy"), np.load(self.d / "l3.npy"))
        # trained on PIL's drafts (--draft): a large JPEG decoded at a quarter of its size, as `--draft` asks
        rc, err, _ = self.export("--state-dict", self.d / "named.pt", "--resize", "40", "--crop", "32", "--draft",
                                 "--out", self.d / "drafted.safetensors")
        self.assertEqual(rc, 0, err)
        self.assertEqual(load_file(self.d / "drafted.safetensors")[1]["vggcl.draft"], "1")
        Image.fromarray(photo(200, 180, 3)).save(self.d / "big.jpg", quality=90)
        logits = {}
        for name, weights, extra in (("model", "drafted", []), ("asked", "plain", ["--draft"]), ("whole", "plain", []),
                                     ("overruled", "drafted", ["--no-draft"])):
            r = subprocess.run([VGGCL, "classify", "--weights", self.d / f"{weights}.safetensors", "--resize", "40",
                                "--crop", "32", *extra, "--logits-out", self.d / f"{name}.npy", self.d / "big.jpg"],
                               capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            logits[name] = np.load(self.d / f"{name}.npy")
        np.testing.assert_array_equal(logits["model"], logits["asked"])
        for weights, extra in (("drafted", []), ("plain", ["--resize", "40", "--crop", "32", "--draft"])):
            r = subprocess.run([VGGCL, "preprocess", "--weights", self.d / f"{weights}.safetensors", *extra,
                                "--output", self.d / f"{weights}-x.npy", self.d / "big.jpg"], capture_output=True,
                               text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
        np.testing.assert_array_equal(np.load(self.d / "drafted-x.npy"), np.load(self.d / "plain-x.npy"))
        np.testing.assert_array_equal(logits["whole"], logits["overruled"])
        self.assertFalse(np.array_equal(logits["model"], logits["whole"]), "the draft changed nothing")
        # --resize HxW --no-crop (trained with Resize((H, W)) alone): recorded as "H,W" and crop 0, and classify's
        # input, unasked, then torch's
        for args, said in ((["--crop", "0"], "--crop 0: expected 1 to 16384 (none: --no-crop)"),
                           (["--crop", "32", "--no-crop"], "give --crop N or --no-crop, not both")):
            rc, err, _ = self.export("--state-dict", self.d / "named.pt", "--resize", "36x52", *args, "--out",
                                     self.d / "sides.safetensors")
            self.assertEqual(rc, 2, err)
            self.assertIn(said, err)
        rc, err, _ = self.export("--state-dict", self.d / "named.pt", "--resize", "36x52", "--out",
                                 self.d / "sides.safetensors")  # (no crop said: the default's, noted)
        self.assertEqual(rc, 0, err)
        self.assertIn("vggcl.resize 36,52 recorded without vggcl.crop: vggcl takes its default for it, 224; give "
                      "--crop (or --no-crop) as the training did", err)
        rc, err, _ = self.export("--state-dict", self.d / "named.pt", "--resize", "36x52", "--no-crop", "--out",
                                 self.d / "sides.safetensors")
        self.assertEqual(rc, 0, err)
        self.assertNotIn("recorded without", err)
        meta = load_file(self.d / "sides.safetensors")[1]
        self.assertEqual((meta["vggcl.resize"], meta["vggcl.crop"]), ("36,52", "0"))
        r = subprocess.run([VGGCL, "classify", "--weights", self.d / "sides.safetensors", "--tensor-out",
                            self.d / "sides.npy", img], capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        want = transforms.Compose([transforms.Resize((36, 52)), transforms.ToTensor(),
                                   transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
        np.testing.assert_array_equal(np.load(self.d / "sides.npy")[0], want(Image.open(img).convert("RGB")).numpy())
        for bad in ("0x5", "5x0", "36x", "36x52x1", "-1", "16385", "2x16385", "36,52", "٣٦"):
            rc, err, _ = self.export("--state-dict", self.d / "named.pt", "--resize", bad, "--out",
                                     self.d / "bad.safetensors")
            self.assertEqual(rc, 2, (bad, err))
            self.assertIn(f"--resize {bad}: expected N, the short side (0: none, or 1 to 16384), or HxW, both sides "
                          "(1 to 16384 each)", err)
            self.assertFalse((self.d / "bad.safetensors").exists())


class Cam(unittest.TestCase):
    """`vggcl cam` against a direct computation from torchvision's features, both pool5 settings."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = Path(self.tmp.name)
        self.model = gap_model("vgg11", 5, "keep", seed=4)
        self.weights = self.d / "w.safetensors"
        export(self.model, self.weights, "keep")
        self.image = self.d / "photo.png"
        Image.fromarray(photo(260, 300, 7)).save(self.image)
        self.x = VGG16_Weights.IMAGENET1K_V1.transforms()(Image.open(self.image).convert("RGB"))[None]

    def tearDown(self):
        self.tmp.cleanup()

    def cam(self, *args):
        return subprocess.run([VGGCL, "cam", "--weights", self.weights, "--out-dir", self.d, *map(str, args)],
                              capture_output=True, text=True, timeout=600)

    def expected(self, features, klass=None):
        with torch.no_grad():
            f = features(self.x)[0]  # (512, h, w)
            w, b = self.model.classifier[0].weight, self.model.classifier[0].bias
            logits = w @ f.mean((1, 2)) + b
            k = int(logits.argmax()) if klass is None else klass
            cam = torch.einsum("c,chw->hw", w[k], f)
            up = torch.nn.functional.interpolate(cam[None, None], size=(224, 224), mode="bilinear",
                                                 align_corners=False)[0, 0]
            up = (up - up.min()) / (up.max() - up.min())
        return k, cam.numpy(), up.numpy()

    def check(self, got, want):
        self.assertEqual(got.shape, want.shape)
        self.assertLessEqual(float(np.linalg.norm(got - want) / np.linalg.norm(want)), 1e-4)

    def picture(self, up):
        """The picture of an upsampled map, as docs/commands.md says it is drawn: half torchvision's crop of the image,
        half matplotlib's viridis (its 256 colours rounded to 8 bits; NaN and values below 0 as 0, above 1 as 1)."""
        import matplotlib
        lut = np.round(np.array(matplotlib.colormaps["viridis"].colors) * 255)
        with Image.open(self.image) as im:  # (the preset's resize and crop, on the PIL image: 8 bits)
            crop = np.asarray(transforms.CenterCrop(224)(transforms.Resize(256)(im.convert("RGB"))), np.float64)
        t = np.nan_to_num(np.clip(up, 0, 1), nan=0.0).astype(np.float32)
        k = np.minimum(np.floor(t * np.float32(256)), 255).astype(int)
        return np.rint(0.5 * crop + 0.5 * lut[k]).astype(np.uint8)

    def header(self, pic, panel, lines):
        """Checks --compare-pool5's header (pic: the picture's rows above the panels, RGB): white text on black, in
        two lines, each centred over its panel (panel: its width) and drawn at the scale of the panel's size (one
        step per 224 pixels of its shorter side: panel also its height here); lines[k]: per line of panel k the
        glyphs it has, with the positions of the last ones that are "..." (each then a dot: ink only in its glyph's
        bottom two of seven rows). Glyphs are 5x7, one blank column apart; a line of n of them spans its n cells
        (its first glyph's first column or last's last may be blank: more than n - 1 cells). Returns the scale."""
        scale = max(1, panel // 224)
        colours = {tuple(c) for c in pic.reshape(-1, 3)}
        self.assertEqual(colours, {(0, 0, 0), (255, 255, 255)}, "the header is not white text on black")
        ink = (pic == 255).all(2)
        rows = np.flatnonzero(ink.any(1))
        bands = np.split(rows, np.flatnonzero(np.diff(rows) > 1) + 1)  # (the text's lines: runs of inked rows)
        self.assertEqual(len(bands), 2, [(b[0], b[-1]) for b in bands])
        self.assertGreater(rows[0], 0), self.assertLess(rows[-1], len(pic) - 1)  # (the panels' first row untouched)
        for band in bands:
            self.assertLessEqual(len(band), 7 * scale)
        for k, line_glyphs in enumerate(lines):
            for band, (n, dots) in zip(bands, line_glyphs):
                cols = np.flatnonzero(ink[band[0]:band[-1] + 1, k * panel:(k + 1) * panel].any(0))
                wide = (6 * n - 1) * scale  # (what the line takes: its glyphs' cells)
                x0 = (panel - wide) // 2
                self.assertGreater(cols.size, 0, (k, n))
                self.assertTrue(x0 <= cols[0] and cols[-1] < x0 + wide and cols[-1] - cols[0] >= 6 * (n - 1) * scale,
                                f"panel {k}: a line of {n} glyphs at {x0}..{x0 + wide - 1} inked {cols[0]}..{cols[-1]}")
                top = band[-1] + 1 - 7 * scale  # (a line of dots ends on its last row)
                for g in range(n - dots, n):
                    cell = ink[top:band[-1] + 1, k * panel + x0 + 6 * g * scale:k * panel + x0 + (6 * g + 5) * scale]
                    self.assertTrue(cell[5 * scale:].any() and not cell[:5 * scale].any(), f"glyph {g}: not a dot")
        return scale

    def test_upsample_not_square(self):
        """--no-crop: the map (8x9 for 256x295) upsampled to the resized image as torch's interpolate does it,
        rows and columns each at their own ratio (the tests' maps were square, at whole ratios)."""
        r = self.cam("--no-crop", self.image)
        self.assertEqual(r.returncode, 0, r.stderr)
        cam, up = np.load(self.d / "photo.cam.npy"), np.load(self.d / "photo.cam-up.npy")
        self.assertEqual((cam.shape, up.shape), ((8, 9), (256, 295)))
        want = torch.nn.functional.interpolate(torch.from_numpy(cam)[None, None].double(), size=(256, 295),
                                               mode="bilinear", align_corners=False)[0, 0]
        want = ((want - want.min()) / (want.max() - want.min())).numpy()
        np.testing.assert_allclose(up, want, atol=1e-6)

    def test_compare_pool5(self):
        r = self.cam("--compare-pool5", self.image)
        self.assertEqual(r.returncode, 0, r.stderr)
        for tag, features, size in (("keep", self.model.features, 7), ("drop", self.model.features[:-1], 14)):
            k, cam, up = self.expected(features)
            self.assertIn(f"class {k}, {size}x{size} map (height x width) with pool5 {tag}", r.stdout)
            self.check(np.load(self.d / f"photo.cam-{tag}.npy"), cam)
            np.testing.assert_allclose(np.load(self.d / f"photo.cam-{tag}-up.npy"), up, atol=1e-4)
        with Image.open(self.d / "photo.compare.png") as im:
            pic = np.asarray(im.convert("RGB"))
        # a header over the panels saying which is which, the panels below it as drawn (it said nothing: the
        # panels alone, kept on the left as only the documentation said)
        top = pic.shape[0] - 224
        self.assertEqual(pic.shape[1], 448)
        self.assertGreater(top, 0, "no header above the panels")
        for side, tag in enumerate(("keep", "drop")):  # pool5 kept on the left
            np.testing.assert_array_equal(pic[top:, side * 224:(side + 1) * 224],
                                          self.picture(np.load(self.d / f"photo.cam-{tag}-up.npy")), tag)
        k = self.expected(self.model.features)[0]
        # "pool5 kept" | "pool5 dropped", then "class K" under each (the model names no classes)
        self.assertEqual(self.header(pic[:top], 224, [[(10, 0), (7, 0)], [(13, 0), (7, 0)]]), 1)
        self.assertLess(k, 10)

    def test_compare_pool5_header(self):
        """--compare-pool5's header on a large picture (the glyphs at scale 2 from 448 pixels a side), with the class
        named as its lines name it: a name of UTF-8 one glyph a character, a long one cut with "..." to the panel;
        the panels below it are the pictures cam draws of each setting alone. (A small model: the network's size is
        not what is tested.)"""
        names = ["ant", "caf\u00e9", "cat", "x" * 60, "eel"]
        weights = self.d / "small.safetensors"
        save_file(make_state_dict(parse_cfg("8,M,8,M,8,M,8,M,8,M"), False, 5, seed=1), weights,
                  {"vggcl.pool5": "keep", "vggcl.classes": json.dumps(names)})
        size = ["--resize", "500", "--crop", "480"]
        for klass, name_glyphs, dots in (("1", 4, 0), ("3", 60, 3)):
            pictures = {}
            for how, out in ((["--compare-pool5"], "compare.png"), (["--pool5", "keep"], "cam.png"),
                             (["--pool5", "drop"], "cam.png")):
                r = subprocess.run([VGGCL, "cam", "--weights", weights, "--out-dir", self.d, "--class", klass, *size,
                                    *how, self.image], capture_output=True, text=True, timeout=600)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn(f"class {klass} ({names[int(klass)]}), ", r.stdout)
                with Image.open(self.d / f"photo.{out}") as im:
                    pictures[how[-1]] = np.asarray(im.convert("RGB"))
            pic = pictures["--compare-pool5"]
            top = pic.shape[0] - 480
            self.assertEqual(pic.shape[1], 960)
            self.assertGreater(top, 0, "no header above the panels")
            np.testing.assert_array_equal(pic[top:, :480], pictures["keep"])
            np.testing.assert_array_equal(pic[top:, 480:], pictures["drop"])
            # "class K (NAME)": 10 glyphs and the name's; cut to the panel: 480 less 6 a side, 39 glyphs at scale 2
            line = min(10 + name_glyphs, (468 // 2 + 1) // 6)
            self.assertEqual(self.header(pic[:top], 480, [[(10, 0), (line, dots)], [(13, 0), (line, dots)]]), 2)

    def test_compare_pool5_one_class(self):
        """The two maps compared are of one class: the top class of the setting the file is for (its pool5
        metadata), also where the other setting's top class is another (each drew its own, unsaid). The head is
        made so that they disagree: class 0 reads the GAP features' rise from the max pool, class 1 is the
        midpoint between the two settings' values."""
        with torch.no_grad():
            f_keep = self.model.features(self.x)[0].mean((1, 2))
            f_drop = self.model.features[:-1](self.x)[0].mean((1, 2))
            head = self.model.classifier[0]
            head.weight.zero_(), head.bias.fill_(-1e6)
            head.weight[0] = f_keep - f_drop
            head.bias[0], head.bias[1] = 0, float((f_keep - f_drop) @ (f_keep + f_drop) / 2)
        for made_for, k in (("keep", 0), ("drop", 1)):
            export(self.model, self.weights, made_for)
            r = self.cam("--compare-pool5", self.image)
            self.assertEqual(r.returncode, 0, r.stderr)
            for tag, features, size in (("keep", self.model.features, 7), ("drop", self.model.features[:-1], 14)):
                self.assertIn(f"class {k}, {size}x{size} map (height x width) with pool5 {tag}", r.stdout)
                want = self.expected(features, klass=k)[1]  # (class 1's weights are 0: its map is 0)
                np.testing.assert_allclose(np.load(self.d / f"photo.cam-{tag}.npy"), want, rtol=0,
                                           atol=1e-4 * (1 + np.abs(want).max()))

    def test_class_and_errors(self):
        r = self.cam("--class", "3", "--pool5", "drop", self.image)
        self.assertEqual(r.returncode, 0, r.stderr)
        k, cam, _ = self.expected(self.model.features[:-1], klass=3)
        self.check(np.load(self.d / "photo.cam.npy"), cam)
        with Image.open(self.d / "photo.cam.png") as im:
            self.assertEqual(im.size, (224, 224))
        # past the classes, however far: said as a name it does not have is (three wordings, one of them without
        # the model's range: "must be an integer from 0 to 1000000")
        for k in ("5", "99999999999"):
            r = self.cam("--class", k, self.image)
            self.assertEqual(r.returncode, 2)
            self.assertIn(f"cam: --class takes a class's number, 0 to 4 ({self.weights} names no classes: no metadata "
                          f"\"vggcl.classes\"), not '{k}'", r.stderr)
        # a class by its name where the model names its classes (only a number was taken: "must be an integer")
        r = self.cam("--class", "kat", self.image)
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"cam: --class takes a class's number, 0 to 4 ({self.weights} names no classes: no metadata "
                      "\"vggcl.classes\"), not 'kat'", r.stderr)
        tensors, meta = load_file(self.weights)
        named = self.d / "named.safetensors"
        save_file(tensors, named, metadata=dict(meta or {}, **{"vggcl.classes": json.dumps(
            ["ant", "bee", "cat", "dog", "eel"])}))
        by_name = subprocess.run([VGGCL, "cam", "--weights", named, "--out-dir", self.d, "--class", "dog",
                                  "--pool5", "drop", self.image], capture_output=True, text=True, timeout=600)
        self.assertEqual(by_name.returncode, 0, by_name.stderr)
        self.assertIn("class 3 (dog), 14x14 map", by_name.stdout)
        self.check(np.load(self.d / "photo.cam.npy"), cam)
        r = subprocess.run([VGGCL, "cam", "--weights", named, "--out-dir", self.d, "--class", "kat", self.image],
                           capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 2)
        self.assertIn(f"cam: --class takes a class's number, 0 to 4, or its name, one of {named}'s: ant, bee, cat, "
                      "dog, eel; not 'kat'", r.stderr)
        # classes named by numbers (folders 10, 2, 3 sorted): a number that is a class's name is that class (10 was
        # refused past the last class, 3 drew class 3 unsaid), said where it was another class's number too
        numbered, names = self.d / "numbered.safetensors", ["10", "2", "3", "dog", "eel"]
        save_file(tensors, numbered, metadata=dict(meta or {}, **{"vggcl.classes": json.dumps(names)}))
        for asked, k, note in (("10", 0, None), ("3", 2, "class 3 ('dog')"), ("2", 1, "class 2 ('3')"),
                               ("4", 4, None)):
            r = subprocess.run([VGGCL, "cam", "--weights", numbered, "--out-dir", self.d, "--class", asked, "--pool5",
                                "drop", self.image], capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(f"class {k} ({names[k]}), 14x14 map", r.stdout)
            said = [ln for ln in r.stderr.splitlines() if ln.startswith("vggcl: cam: --class")]
            self.assertEqual(said, [f"vggcl: cam: --class {asked} is taken as the class named '{asked}' (class {k}), "
                                    f"not {note}"] if note else [], asked)
            self.check(np.load(self.d / "photo.cam.npy"), self.expected(self.model.features[:-1], klass=k)[1])
        # a name two classes have: the first drawn, said (it was unsaid)
        twins = self.d / "twins.safetensors"
        save_file(tensors, twins, metadata=dict(meta or {}, **{"vggcl.classes": json.dumps(
            ["crane", "bee", "cat", "crane", "eel"])}))
        r = subprocess.run([VGGCL, "cam", "--weights", twins, "--out-dir", self.d, "--class", "crane", "--pool5",
                            "drop", self.image], capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("class 0 (crane), 14x14 map", r.stdout)
        self.assertIn("vggcl: cam: --class crane: classes 0 and 3 are both named so; 0 is drawn (give a number for "
                      "another)\n", r.stderr)
        self.assertEqual(self.cam("--compare-pool5", "--pool5", "keep", self.image).returncode, 2)
        r = subprocess.run([VGGCL, "cam", "--weights", self.weights, "--out-dir", self.d / "nope", self.image],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"vggcl: cam: --out-dir {self.d / 'nope'}: not there", r.stderr)
        r = subprocess.run([VGGCL, "cam", "--weights", self.weights, "--out-dir", self.image, self.image],
                           capture_output=True, text=True)  # (exit 1, as a folder not there: 2, as other outputs)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual([ln for ln in r.stderr.splitlines() if ln.startswith("vggcl:")],
                         [f"vggcl: cam: --out-dir {self.image} is not a folder: name a folder"], r.stderr)
        if testenv.mount_namespace():  # a folder that cannot be written: said before any image
            ro = self.d / "ro"
            ro.mkdir()
            r = subprocess.run(["unshare", "-m", "sh", "-c", f'mount --bind -o ro "{ro}" "{ro}" && exec "$@"', "sh",
                                VGGCL, "cam", "--weights", self.weights, "--out-dir", ro, self.image],
                               capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual([ln for ln in r.stderr.splitlines() if ln.startswith("vggcl:")],
                             [f"vggcl: cam: --out-dir {ro} cannot be written: Read-only file system"], r.stderr)
        # a model with no maps to give (dense layers after GAP): said of the weights, once, after loading, before
        # any image is read: an unreadable image is not counted (the first image that reached a pass was named,
        # the run "stopped at" it); nor, made for pool5 dropped, a note of --compare-pool5's kept panel
        chain = gap_model("vgg11", 5, "keep", seed=4)
        chain.classifier = nn.Sequential(nn.Linear(512, 16), nn.ReLU(), nn.Linear(16, 5))
        out = self.d / "chain-out"
        out.mkdir()
        (self.d / "broken.png").write_bytes(b"not a png")
        for pool5, compare in (("keep", []), ("drop", ["--compare-pool5"])):
            export(chain, self.d / "chain.safetensors", pool5)
            r = subprocess.run([VGGCL, "cam", "--weights", self.d / "chain.safetensors", "--out-dir", out, *compare,
                                self.d / "broken.png", self.image, self.image], capture_output=True, text=True,
                               timeout=600)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual([ln for ln in r.stderr.splitlines() if ln.startswith("vggcl:")],
                             [f"vggcl: cam: {self.d / 'chain.safetensors'}: class activation maps need a GAP head with "
                              "one linear layer; this model's head is a chain of dense layers after GAP"], r.stderr)
            self.assertEqual(list(out.iterdir()), [])

    def test_images_skipped(self):
        """An image too small for the network (without a crop), one wider than the network takes, one too large
        for the device's memory, and one whose map is not finite (a --std whose inputs overflow float32 in the
        network) are named and skipped, the others drawn, exit 1 (the first three stopped the run; the last
        crashed it)."""
        imgs, out = self.d / "imgs", self.d / "maps"
        imgs.mkdir(), out.mkdir()
        for name, (h, w) in (("a", (40, 40)), ("b", (6, 9)), ("bw", (32, 65600)), ("c", (40, 50))):
            Image.fromarray(photo(h, w, 3)).save(imgs / f"{name}.png")
        # the first layer's output, 64 channels, past every listed device's largest buffer even where the max pool
        # after it is folded into it (a quarter of the map: 64 bytes an image pixel), in sides of whole KiB; a
        # device allowing more than PIL's largest image (178956970 pixels: 13312 x 13312) makes is given no such image
        r = subprocess.run([VGGCL, "devices"], capture_output=True, text=True, timeout=120)
        alloc = max(float(m.group(1)) for ln in r.stdout.splitlines() if ln[:1].isdigit()
                    for m in [re.search(r" GiB +([0-9.]+) GiB  ", ln)] if m)
        side = next((s for s in range(1024, 13313, 1024) if 64 * s * s > alloc * 2**30), 0)
        if side:
            Image.fromarray(np.zeros((side, side, 3), np.uint8)).save(imgs / "big.png")
        r = subprocess.run([VGGCL, "cam", "--weights", self.weights, "--out-dir", out, "--resize", "0", "--no-crop",
                            imgs], capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"{imgs / 'b.png'}: preprocesses to 9 x 6 pixels (width x height): smaller than the 32 x 32 "
                      "the network takes (skipped)", r.stderr)
        self.assertIn(f"{imgs / 'bw.png'}: preprocesses to 65600 x 32 pixels (width x height): larger than vggcl takes "
                      "(at most 65536 a side and 2^31 - 1 pixels) (skipped)",
                      r.stderr)
        if side:
            self.assertRegex(r.stderr, f"{imgs / 'big.png'}: device out of memory: batch 1 at {side}x{side} needs .* "
                             "give smaller images \\(skipped\\)")
            (imgs / "big.png").unlink()
        self.assertIn(f"{2 + bool(side)} of {4 + bool(side)} images were skipped; 2 drawn", r.stderr)
        self.assertEqual(sorted(p.name for p in out.glob("*.png")), ["a.cam.png", "c.cam.png"])
        shutil.rmtree(out), out.mkdir()
        for compare in ([], ["--compare-pool5"]):
            r = subprocess.run([VGGCL, "cam", "--weights", self.weights, "--out-dir", out, "--resize", "40", "--crop",
                                "32", "--mean", "0,0,0", "--std", "1e-37,1,1", *compare, imgs / "a.png", imgs / "c.png"],
                               capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"{imgs / 'a.png'}: the class activation map", r.stderr)
            self.assertIn("is not finite", r.stderr)
            self.assertIn("2 of 2 images were skipped; 0 drawn", r.stderr)
            self.assertEqual(list(out.iterdir()), [])

    def test_logits_not_finite(self):
        """An image whose map is finite but whose logits are not (the last conv's outputs a fortieth of the largest
        float, GAP's sum of 16x16 of them past it) is named and skipped, with --class too, as classify skips it: it
        was drawn as the top class of NaNs, exit 0."""
        model = gap_model("vgg11", 5, "drop", seed=4)  # (float32: the margins are 4x and 20x; float64 took 8 s)
        x = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.485, 0.456, 0.406),
                                                                            (0.229, 0.224, 0.225))])
        image = self.d / "square.png"
        Image.fromarray(photo(256, 256, 7)).save(image)
        with torch.no_grad():
            f = model.features(x(Image.open(image).convert("RGB"))[None])[0]  # (512, 16, 16)
            scale = 4 * float(np.finfo(np.float32).max) / f.sum((1, 2)).max().item()  # (biases 0: f scales with it)
            self.assertLess(f.max().item() * scale, float(np.finfo(np.float32).max) / 20)  # (each output finite)
            [m for m in model.features if isinstance(m, nn.Conv2d)][-1].weight *= scale
            model.classifier[0].weight /= scale
        weights, out = self.d / "huge.safetensors", self.d / "maps"
        export(model, weights, "drop")
        out.mkdir()
        r = subprocess.run([VGGCL, "classify", "--weights", weights, "--resize", "0", "--no-crop", image],
                           capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 1, r.stderr)
        said = f"vggcl: {image}: logit 0 is NaN: the weights or the preprocessing overflow float32 on this image " \
               "(skipped)"
        self.assertIn(said, r.stderr.splitlines())
        for klass in ([], ["--class", "1"]):
            r = subprocess.run([VGGCL, "cam", "--weights", weights, "--out-dir", out, "--resize", "0", "--no-crop",
                                *klass, image], capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(said, r.stderr.splitlines())
            self.assertIn("vggcl: the image was skipped; 0 drawn", r.stderr)
            self.assertEqual(r.stdout, "")
            self.assertEqual(list(out.iterdir()), [])

    def test_threads_and_progress(self):
        """--threads N decodes ahead on N threads: the same files, the lines in the list's order; --progress S a
        line every S seconds; on a terminal a bar, each message on a line of its own."""
        imgs = self.d / "imgs"
        imgs.mkdir()
        for i in range(4):
            Image.fromarray(photo(70 + 9 * i, 90, 20 + i)).save(imgs / f"p{i}.png")
        (imgs / "p1b.png").write_bytes(b"not an image")
        made = {}
        for threads in ("1", "3"):
            out = self.d / f"out{threads}"
            out.mkdir()
            r = subprocess.run([VGGCL, "cam", "--weights", self.weights, "--out-dir", out, "--crop", "64", "--threads",
                                threads, "--progress", "0.000001", imgs], capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual([ln.split(":")[0] for ln in r.stdout.splitlines() if not ln.startswith("wrote ")],
                             [str(imgs / f"p{i}.png") for i in range(4)], r.stdout)
            lines = [ln.split(" images (")[0] for ln in r.stderr.splitlines() if " images/s, " in ln]
            self.assertEqual(lines, [f"vggcl: {i} of 5" for i in range(1, 6)], r.stderr)
            self.assertIn(f"vggcl: {imgs / 'p1b.png'}: not a JPEG", r.stderr)
            made[threads] = {f.name: f.read_bytes() for f in out.iterdir()}
            self.assertEqual(len(made[threads]), 12)
            if threads == "3" and len(os.sched_getaffinity(0)) < 3:  # (the option taken: its threads said)
                self.assertIn("3 decoding threads, but this process may run on only", r.stderr)
        self.assertEqual(made["1"], made["3"])
        cmd = " ".join(map(str, [VGGCL, "cam", "--weights", self.weights, "--out-dir", self.d / "out1", "--crop", "64",
                                 imgs, ">/dev/null"]))
        r = subprocess.run(["script", "-qec", cmd, "/dev/null"], capture_output=True, timeout=600)
        out = r.stdout.decode()  # (not text=True, whose universal newlines made each CR a line's end)
        self.assertEqual(r.returncode, 1, out)
        # (a line as the terminal shows it: after its last CR; the message not written over the bar)
        shown = [ln.split("\r")[-1] for ln in out.replace("\r\n", "\n").split("\n")]
        self.assertIn(f"vggcl: {imgs / 'p1b.png'}: not a JPEG, PNG, WebP, BMP, TIFF or PNM image (skipped)", shown)
        self.assertRegex(out, r"5/5 images\r?\nvggcl: 1 of 5 images were skipped; 4 drawn")
        # the bar wiped for the message, not ended: one bar left on the screen, the last (a stale "2/5" stayed above
        # the message)
        self.assertEqual([ln.split("] ")[1] for ln in shown if ln.startswith("[")], ["5/5 images"], repr(out))
        self.assertRegex(out, r"\r {40,}\rvggcl: \S*p1b\.png: not a JPEG")  # (the bar's width in spaces, then it)
        # the lines on the same terminal: the bar wiped before each, so each begins its line
        r = subprocess.run(["script", "-qec", cmd.replace(" >/dev/null", ""), "/dev/null"], capture_output=True,
                           text=True, timeout=600)
        shown = [ln.split("\r")[-1] for ln in r.stdout.replace("\r\n", "\n").split("\n")]
        for i in range(4):
            self.assertEqual(len([ln for ln in shown if ln.startswith(f"{imgs / f'p{i}.png'}: class ")]), 1, r.stdout)
        r = self.cam("--threads", "0", self.image)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--threads", r.stderr)

    def test_device_failing(self):
        """A device call failing in an image's pass (VGGCL_FAULT; CL_OUT_OF_RESOURCES, as NVIDIA reports a kernel
        that crashed) stops the run at that image, nothing of it written (it was taken for an image too large for
        the device's memory, skipped, and the run went on)."""
        imgs, out = self.d / "imgs", self.d / "maps"
        imgs.mkdir(), out.mkdir()
        for name in ("a", "b"):
            Image.fromarray(photo(40, 40, 3)).save(imgs / f"{name}.png")
        seen = None
        for n in range(1, 100, 6):  # an enqueue that falls in the first image's pass (its ~20 past the load's)
            r = subprocess.run([VGGCL, "cam", "--weights", self.weights, "--out-dir", out, "--resize", "40", "--crop",
                                "32", imgs], capture_output=True, text=True, timeout=600,
                               env=dict(os.environ, VGGCL_FAULT=f"enqueue:{n}"))
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertNotIn("(skipped)", r.stderr)
            if f"cam: stopped at {imgs / 'a.png'}; images after it not drawn: 1" in r.stderr:
                seen = r.stderr
                break
        self.assertIsNotNone(seen, "no enqueue failure stopped the run at the first image")
        self.assertIn("CL_OUT_OF_RESOURCES", seen)
        self.assertEqual(list(out.iterdir()), [])

    def test_out_dir_holding_the_images(self):
        """Drawn again into the images' own folder, an earlier run's x.cam.png is an image of the list that x.png's
        picture would replace (it was read, then replaced, and drawn over at each run): refused, exit 2; so are
        the weights and --files-from's list where a map would replace them."""
        imgs = self.d / "imgs"
        imgs.mkdir()
        Image.fromarray(photo(40, 40, 3)).save(imgs / "x.png")
        for compare, picture in (([], "x.cam.png"), (["--compare-pool5"], "x.compare.png")):
            args = [VGGCL, "cam", "--weights", self.weights, "--out-dir", imgs, "--resize", "40", "--crop", "32",
                    *compare]
            r = subprocess.run([*args, imgs / "x.png"], capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            before = sorted(p.name for p in imgs.iterdir())
            r = subprocess.run([*args, imgs], capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(f"the image {imgs / picture} is {imgs / picture}, which {imgs / 'x.png'}'s maps would "
                          "replace; give another --out-dir", r.stderr)
            self.assertEqual(sorted(p.name for p in imgs.iterdir()), before)
            # drawn again the other way: the first run's picture is refused as an image too (--compare-pool5 drew
            # x.cam.png as a photo of its own, exit 0)
            flipped = [a for a in args if a != "--compare-pool5"] + ([] if compare else ["--compare-pool5"])
            r = subprocess.run([*flipped, imgs], capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(f"cam: the image {imgs / picture} is the picture cam draws of {imgs / 'x.png'} "
                          f"{'with' if compare else 'without'} --compare-pool5, not a photo; give another --out-dir",
                          r.stderr)
            self.assertEqual(sorted(p.name for p in imgs.iterdir()), before)
            for p in imgs.glob("x.*"):
                if p.name != "x.png":
                    p.unlink()
        # the weights, or the list of images, named as a map of an image there (the weights were replaced by it)
        shutil.copy(self.weights, imgs / "x.cam.npy")
        (imgs / "x.cam-up.npy").write_text(f"{imgs / 'x.png'}\n")
        for opt, read, args in (("--weights", imgs / "x.cam.npy", ["--weights", imgs / "x.cam.npy", imgs / "x.png"]),
                                ("--files-from", imgs / "x.cam-up.npy", ["--weights", self.weights, "--files-from",
                                                                        imgs / "x.cam-up.npy"])):
            r = subprocess.run([VGGCL, "cam", "--out-dir", imgs, "--resize", "40", "--crop", "32", *args],
                               capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(f"cam: {opt} {read} is {read}, which {imgs / 'x.png'}'s maps would replace", r.stderr)
            self.assertEqual(sorted(p.name for p in imgs.iterdir()), ["x.cam-up.npy", "x.cam.npy", "x.png"])
            self.assertEqual((imgs / "x.cam.npy").read_bytes(), Path(self.weights).read_bytes())
        # standard output redirected to an image's picture (its lines were written there, then replaced: exit 0)
        out = self.d / "out"
        out.mkdir()
        with open(out / "x.cam.png", "w") as shell:
            r = subprocess.run([VGGCL, "cam", "--weights", self.weights, "--out-dir", out, "--resize", "40", "--crop",
                                "32", imgs / "x.png"], stdout=shell, stderr=subprocess.PIPE, text=True, timeout=600)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(f"cam: standard output is the file {out / 'x.cam.png'}, which {imgs / 'x.png'}'s maps would "
                      "replace: the lines cam prints would be lost; send them elsewhere", r.stderr)
        self.assertEqual(sorted(p.name for p in out.iterdir()), ["x.cam.png"])

    def test_outputs_whole_or_absent(self):
        """Two images whose maps would have the same names (photo.png, photo.jpg) are refused, nothing drawn
        (the second replaced the first's); an image whose maps cannot all be written leaves none of them, and
        the run stops there (it kept the first files and went on); maps whose paths or names would be too long
        for the file system are refused before any image is drawn."""
        out = self.d / "out"
        out.mkdir()
        Image.open(self.image).convert("RGB").save(self.d / "photo.jpg")
        r = subprocess.run([VGGCL, "cam", "--weights", self.weights, "--out-dir", out, "--resize", "64", "--crop", "64",
                            self.image, self.d / "photo.jpg"],
                           capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(f"{self.image} and {self.d / 'photo.jpg'} would both write {out}/photo.cam.npy and its other "
                      "files", r.stderr)
        self.assertEqual(list(out.iterdir()), [])
        r = subprocess.run([VGGCL, "cam", "--weights", self.weights, "--out-dir", out, "--resize", "64", "--crop", "64",
                            "--compare-pool5", self.image, self.d / "photo.jpg"],
                           capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(f"would both write {out}/photo.cam-keep.npy and its other files", r.stderr)
        self.assertEqual(list(out.iterdir()), [])
        names = []
        for i in range(3):
            names.append(self.d / f"{'abc'[i]}.png")
            Image.fromarray(photo(230 + i, 240, i)).save(names[-1])
        for compare, blocker in (([], "b.cam-up.npy"), (["--compare-pool5"], "b.cam-drop.npy")):
            (out / blocker).mkdir()
            r = subprocess.run([VGGCL, "cam", "--weights", self.weights, "--out-dir", out, "--resize", "64", "--crop",
                                "64", *compare, *names],
                               capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"stopped at {names[1]}; images after it not drawn: 1", r.stderr)
            self.assertNotIn("skipped", r.stderr)  # (the image it stopped at is no skipped one)
            tags = ["-keep", "-drop"] if compare else [""]
            want = sorted([f"a.cam{t}{u}.npy" for t in tags for u in ("", "-up")] +
                          ["a.compare.png" if compare else "a.cam.png", blocker])
            self.assertEqual(sorted(p.name for p in out.iterdir()), want, r.stderr)
            self.assertNotIn("b.png: class", r.stdout)
            shutil.rmtree(out)
            out.mkdir()
        # drawn again where the picture cannot be written (a full disk): the earlier run's maps stay as they were
        # (the maps were named one by one and removed when the picture failed: they were lost)
        # (or a map: the picture was named before the maps' data reached the disk)
        cmd = [VGGCL, "cam", "--weights", self.weights, "--out-dir", out, "--resize", "64", "--crop", "64", names[0]]
        for full in ("a.cam.png", "a.cam-up.npy"):
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            before = {p.name: p.read_bytes() for p in out.iterdir() if p.name != full}
            (out / full).unlink()
            (out / full).symlink_to("/dev/full")
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("No space left on device", r.stderr)
            self.assertEqual({p.name: p.read_bytes() for p in out.iterdir() if p.name != full}, before, full)
            shutil.rmtree(out)
            out.mkdir()
        # maps whose paths would be longer than PATH_MAX are refused before any is drawn (cut short, an
        # image's three files were one)
        deep = out
        while len(str(deep)) < 3950:  # (3950 bytes whatever $TMPDIR is: a folder the system still makes)
            deep = deep / ("d" * min(250, 3950 - len(str(deep)) - 1 or 1))
        deep.mkdir(parents=True)
        long_name = self.d / ("p" * 190 + ".png")
        shutil.copy(self.image, long_name)
        r = subprocess.run([VGGCL, "cam", "--weights", self.weights, "--out-dir", deep, "--resize", "64", "--crop",
                            "64", long_name], capture_output=True, text=True, timeout=600)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("a path longer than 4095 bytes; give a shorter --out-dir", r.stderr)
        self.assertEqual(list(deep.iterdir()), [])
        # an image whose maps' names would pass the file system's limit (255 bytes: a 245-byte name and
        # ".cam-up.npy"), listed after one that fits: refused before either is drawn (the run stopped there)
        shutil.rmtree(out)
        out.mkdir()
        name_max = os.pathconf(out, "PC_NAME_MAX")
        longer = self.d / ("q" * (name_max - 10) + ".png")
        shutil.copy(self.image, longer)
        r = subprocess.run([VGGCL, "cam", "--weights", self.weights, "--out-dir", out, "--resize", "64", "--crop",
                            "64", self.image, longer], capture_output=True, text=True, timeout=600)
        self.assertEqual((r.returncode, r.stdout), (2, ""), r.stderr)
        self.assertIn(f"cam: {longer}'s maps would be named {'q' * (name_max - 10)}.cam-up.npy, longer than the "
                      f"{name_max} bytes a file name may have in {out}; give the image a shorter name", r.stderr)
        self.assertEqual(list(out.iterdir()), [])


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    VGGCL = os.path.abspath(sys.argv.pop(1))
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    unittest.main(verbosity=2)
