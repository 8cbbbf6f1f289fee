#!/usr/bin/python3
"""`vggcl train-head` and `vggcl eval` against PyTorch.

train-head: the GAP features it computes (and those of the mirrored images
with --flip) equal torchvision's own vgg11 on torchvision's preprocessing
(relative L2 <= 1e-4); the head trained with torch on those same features
and settings (the same standardization, shuffling, SGD with momentum and
weight decay, best epoch) has the same per-epoch accuracies, losses within
1e-6 and weights within 1e-6 relative L2; the written model classifies
like torchvision's trunk with that head (logits <= 1e-4) and carries its
pool5 setting, class names and preprocessing. Bad input (an empty class
folder, one class, unreadable images, a validation class that is not a
training class, a trunk without convolutions) is named, and a failure leaves
no model. eval: accuracy, top-5, precision, recall and confusion computed
here from torchvision's logits.

usage: test_train_head.py VGGCL_BINARY
"""
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import unicodedata
import unittest
from pathlib import Path

import testenv  # noqa: F401  (the device: VGGCL_TEST_DEVICE)

import numpy as np
import torch
from PIL import Image
from torchvision import transforms

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "weights"))
sys.path.insert(0, str(ROOT / "tests"))
from export_torchvision import export, gap_features, gap_model  # noqa: E402
from safetensors_io import load_file, save_file  # noqa: E402
from test_images import photo  # noqa: E402

VGGCL = None
SIZE = 64  # images are preprocessed to SIZE x SIZE (--resize SIZE --crop SIZE)
MASK = (1 << 64) - 1


def splitmix(state):
    """vggcl's shuffling generator (host/model/train_head.c): returns (state, value)."""
    state = (state + 0x9E3779B97F4A7C15) & MASK
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return state, z ^ (z >> 31)


def torch_train(x, y, xv, yv, classes, epochs, minibatch, lr, momentum, l2, seed):
    """The head vggcl should train, in torch: returns (w, b, per-epoch log, best epoch)."""
    x, xv = torch.from_numpy(x).double(), torch.from_numpy(xv).double()
    y, yv = torch.from_numpy(y).long(), torch.from_numpy(yv).long()
    mean = x.mean(0)
    var = ((x - mean) ** 2).mean(0)
    sd = torch.where(var.sqrt() > 1e-6 * mean.abs(), var.sqrt(), torch.full_like(var, float("inf")))
    z, zv = (x - mean) / sd, (xv - mean) / sd
    w = torch.zeros(classes, x.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(classes, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([{"params": [w], "weight_decay": l2}, {"params": [b], "weight_decay": 0.0}], lr=lr,
                          momentum=momentum)
    order, state, log, best = list(range(len(y))), seed, [], None
    for e in range(epochs):
        for i in range(len(order) - 1, 0, -1):
            state, r = splitmix(state)
            j = r % (i + 1)
            order[i], order[j] = order[j], order[i]
        for s in range(0, len(order), minibatch):
            idx = torch.tensor(order[s:s + minibatch])
            loss = torch.nn.functional.cross_entropy(z[idx] @ w.T + b, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            row = []
            for zz, yy in ((z, y), (zv, yv)):
                logits = zz @ w.T + b
                row += [float(torch.nn.functional.cross_entropy(logits, yy)),
                        float((logits.argmax(1) == yy).double().mean())]
            log.append(row)
            if best is None or row[3] > best[0] or (row[3] == best[0] and row[2] < best[1]):
                best = (row[3], row[2], e + 1, (w / sd).clone(), b - (w / sd) @ mean)
    return best[3].numpy(), best[4].detach().numpy(), log, best[2]


def preset():
    return transforms.Compose([transforms.Resize(SIZE), transforms.CenterCrop(SIZE), transforms.ToTensor(),
                               transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])


def make_folder(root, per_class, seed, classes=("blue", "green", "red")):
    """ImageFolder of tinted synthetic photos: class c's images lean to one channel."""
    files = []
    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            img = photo(70 + 3 * i, 80 - 2 * i, seed + 100 * c + i).astype(np.float32)
            img[..., c % 3] = np.minimum(img[..., c % 3] * 1.6, 255)
            p = root / name / f"{i:02d}.{'jpg' if i % 3 == 0 else 'png'}"
            Image.fromarray(img.astype(np.uint8)).save(p, quality=92)
            files.append((p, c))
    return files


class TrainHead(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.d = Path(cls.tmp.name)
        cls.trunk_model = gap_model("vgg11", 5, "keep", seed=7)  # its 5-class head is replaced by training
        cls.trunk = cls.d / "trunk.safetensors"
        export(cls.trunk_model, cls.trunk, "keep")
        cls.train = make_folder(cls.d / "train", 6, 1)
        cls.val = make_folder(cls.d / "val", 3, 2)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def vggcl(self, *args, timeout=600):
        return subprocess.run([VGGCL, *map(str, args)], capture_output=True, text=True, errors="surrogateescape",
                              timeout=timeout)  # (a name not in UTF-8 comes back as it is)

    def train_head(self, out, *args):
        return self.vggcl("train-head", "--weights", self.trunk, "--resize", SIZE, "--crop", SIZE, "--out", out, *args)

    def torch_features(self, files, drop_pool5=False, flip=False):
        model = gap_model("vgg11", 5, "drop" if drop_pool5 else "keep", seed=7)
        x = torch.stack([preset()(Image.open(p).convert("RGB")) for p, _ in files])
        with torch.no_grad():
            f = gap_features(model, x)
            if flip:
                f = torch.stack([f, gap_features(model, torch.flip(x, [3]))], 1).reshape(-1, f.shape[1])
        return f.numpy(), x

    def rel(self, a, b):
        return float(np.linalg.norm(np.asarray(a, np.float64) - b) / np.linalg.norm(b))

    def test_matches_torch(self):
        out, prefix = self.d / "head.safetensors", self.d / "feat"
        settings = dict(epochs=12, minibatch=8, lr=0.05, momentum=0.9, l2=1e-3, seed=11)
        r = self.train_head(out, "--data", self.d / "train", "--val", self.d / "val", "--flip", "--epochs", 12,
                            "--minibatch", 8, "--lr", 0.05, "--l2", 1e-3, "--seed", 11, "--batch", 5,
                            "--features-out", prefix)
        self.assertEqual(r.returncode, 0, r.stderr)
        # the features: torchvision's, the mirrored image's right after each image's
        want_train, _ = self.torch_features(self.train, flip=True)
        want_val, xv = self.torch_features(self.val)
        x, xv_feat = np.load(f"{prefix}-train.npy"), np.load(f"{prefix}-val.npy")
        self.assertEqual(x.shape, (36, 512))
        self.assertLessEqual(self.rel(x, want_train), 1e-4)
        self.assertLessEqual(self.rel(xv_feat, want_val), 1e-4)
        y = np.load(f"{prefix}-train-labels.npy").astype(int)
        yv = np.load(f"{prefix}-val-labels.npy").astype(int)
        np.testing.assert_array_equal(y, np.repeat([c for _, c in self.train], 2))
        np.testing.assert_array_equal(yv, [c for _, c in self.val])
        # the head: torch on the same features and settings
        w, b, log, best = torch_train(x, y, xv_feat, yv, 3, **settings)
        lines = [ln for ln in r.stdout.splitlines() if ln.startswith("epoch")]
        self.assertEqual(len(lines), 12)
        kept = (-1.0, float("inf"))  # (each epoch printed as it ends: "*" where it is the best so far, the last kept)
        for ln, (tl, ta, vl, va) in zip(lines, log):
            f = ln.split()
            self.assertAlmostEqual(float(f[4]), tl, delta=1e-4 + 1e-6 * tl)
            self.assertAlmostEqual(float(f[6]), ta, places=4)
            self.assertAlmostEqual(float(f[9]), vl, delta=1e-4 + 1e-6 * vl)
            self.assertAlmostEqual(float(f[11]), va, places=4)
            better = va > kept[0] or (va == kept[0] and vl < kept[1])  # (torch's: the printed ones are rounded)
            self.assertEqual(ln.endswith("*"), better, ln)
            kept = (va, vl) if better else kept
        self.assertTrue([ln for ln in lines if ln.endswith("*")][-1].startswith(f"epoch {best:3d}/"), lines)
        got, meta = load_file(out)
        self.assertLessEqual(self.rel(got["classifier.0.weight"], w), 1e-6)
        self.assertLessEqual(self.rel(got["classifier.0.bias"], b), 1e-6)
        for k, v in self.trunk_model.state_dict().items():
            if k.startswith("features."):
                np.testing.assert_array_equal(got[k], v.numpy())
        self.assertFalse([k for k in got if k.startswith("classifier.") and k not in
                          ("classifier.0.weight", "classifier.0.bias")])
        self.assertEqual(json.loads(meta["vggcl.classes"]), ["blue", "green", "red"])
        self.assertEqual(meta["vggcl.pool5"], "keep")
        self.assertEqual((meta["vggcl.resize"], meta["vggcl.crop"]), (str(SIZE), str(SIZE)))
        # in the fewest digits that read back as the float32 used (0.485, not 0.485000014)
        self.assertEqual((meta["vggcl.mean"], meta["vggcl.std"]), ("0.485,0.456,0.406", "0.229,0.224,0.225"))
        self.assertIn(f"epoch {best} of 12", meta["vggcl.trained"])
        # the model as it is: classify (labels and preprocessing from the file) against torch
        lo = self.d / "logits.npy"
        c = self.vggcl("classify", "--weights", out, "--logits-out", lo, "--format", "json", "--top", 1,
                       *[p for p, _ in self.val])
        self.assertEqual(c.returncode, 0, c.stderr)
        want = want_val @ w.T + b
        self.assertLessEqual(self.rel(np.load(lo), want), 1e-4)
        names = ["blue", "green", "red"]
        self.assertEqual([json.loads(ln)["top"][0]["label"] for ln in c.stdout.splitlines()],
                         [names[k] for k in want.argmax(1)])
        # eval agrees with the validation accuracy of the epoch kept
        e = self.vggcl("eval", "--weights", out, "--data", self.d / "val", "--format", "json")
        self.assertEqual(e.returncode, 0, e.stderr)
        self.assertAlmostEqual(json.loads(e.stdout)["top1"], log[best - 1][3], places=6)

    def test_epochs_printed_as_they_end(self):
        """Each epoch's line is printed as the epoch ends (a long training printed them all at its end: minutes
        silent); stopped by SIGTERM meanwhile, no model is left."""
        out = self.d / "long.safetensors"
        p = subprocess.Popen([VGGCL, "train-head", "--weights", str(self.trunk), "--resize", str(SIZE), "--crop",
                              str(SIZE), "--out", str(out), "--data", str(self.d / "train"), "--epochs", "100000"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        try:
            first = ""
            while not first.startswith("epoch"):  # (the features' lines before: none on stdout)
                ready, _, _ = select.select([p.stdout], [], [], 300)
                self.assertTrue(ready, "no epoch line in 300 s")
                first = p.stdout.readline()
                self.assertTrue(first, "the output ended before an epoch line")
            self.assertRegex(first, r"^epoch +1/100000  train loss [0-9.]+ top-1 [0-9.]+  val loss [0-9.]+ top-1 "
                                    r"[0-9.]+  \*$")  # (the first is the best so far)
            self.assertIsNone(p.poll())  # (still training: 100000 epochs)
        finally:
            p.terminate()
            p.wait(timeout=60)
        self.assertFalse(out.exists())
        self.assertEqual([q.name for q in self.d.iterdir() if ".tmp." in q.name], [])

    def test_pool5_drop_and_val_split(self):
        out, prefix = self.d / "drop.safetensors", self.d / "drop"
        r = self.train_head(out, "--data", self.d / "train", "--pool5", "drop", "--val-split", 0.34, "--epochs", 3,
                            "--seed", 4, "--features-out", prefix)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("pool5 dropped", r.stdout)
        x, xv = np.load(f"{prefix}-train.npy"), np.load(f"{prefix}-val.npy")
        self.assertEqual((len(x), len(xv)), (12, 6))  # round(6 * 0.34) = 2 of each class's 6 for validation
        want, _ = self.torch_features(self.train, drop_pool5=True)
        for row in np.concatenate([x, xv]):  # each is one of the training images' pool5-less features
            self.assertLessEqual(min(np.linalg.norm(want - row, axis=1)) / np.linalg.norm(row), 1e-4)
        # which images seed 4 draws, pinned (the same seed keeps its split from version to version): per class in
        # list order, round(k * F) of its k images read, by a partial Fisher-Yates shuffle on splitmix64 seeded
        # with seed ^ 0x5EEDF00D, one stream for all classes; the rows in list order
        state, is_val = 4 ^ 0x5EEDF00D, [False] * len(self.train)
        for c in range(3):
            idx = [i for i, (_, label) in enumerate(self.train) if label == c]
            for i in range(int(len(idx) * 0.34 + 0.5)):
                state, r = splitmix(state)
                j = i + r % (len(idx) - i)
                idx[i], idx[j] = idx[j], idx[i]
                is_val[idx[i]] = True
        nearest = [int(np.argmin(np.linalg.norm(want - row, axis=1))) for row in np.concatenate([x, xv])]
        self.assertEqual(nearest, [i for i, v in enumerate(is_val) if not v] + [i for i, v in enumerate(is_val) if v])
        self.assertEqual(load_file(out)[1]["vggcl.pool5"], "drop")
        again = self.d / "again.safetensors"
        r2 = self.train_head(again, "--data", self.d / "train", "--pool5", "drop", "--val-split", 0.34, "--epochs", 3,
                             "--seed", 4)
        self.assertEqual(r2.returncode, 0, r2.stderr)
        self.assertEqual(out.read_bytes(), again.read_bytes())  # the same seed gives the same file
        r3 = self.train_head(again, "--data", self.d / "train", "--pool5", "drop", "--val-split", 0.34, "--epochs", 3,
                             "--seed", 5)
        self.assertEqual(r3.returncode, 0, r3.stderr)
        self.assertNotEqual(out.read_bytes(), again.read_bytes())

    def test_own_sizes_with_flip(self):
        """--no-crop --batch 1: each training image at its own size (the folder's are all of other sizes), its
        mirror beside it with --flip, the validation images unmirrored: torch's GAP features for each (they were
        skipped past the first image's size)."""
        prefix = self.d / "own"
        r = self.vggcl("train-head", "--weights", self.trunk, "--data", self.d / "train", "--val", self.d / "val",
                       "--resize", 0, "--no-crop", "--batch", 1, "--flip", "--epochs", 1, "--out",
                       self.d / "own.safetensors", "--features-out", prefix)
        self.assertEqual(r.returncode, 0, r.stderr)
        model = gap_model("vgg11", 5, "keep", seed=7)
        norm = transforms.Compose([transforms.ToTensor(),
                                   transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
        want, want_val = [], []
        with torch.no_grad():
            for p, _ in self.train:
                x = norm(Image.open(p).convert("RGB"))[None]
                want += [gap_features(model, x)[0].numpy(), gap_features(model, torch.flip(x, [3]))[0].numpy()]
            for p, _ in self.val:
                want_val.append(gap_features(model, norm(Image.open(p).convert("RGB"))[None])[0].numpy())
        sizes = {tuple(x.shape) for x in map(norm, (Image.open(p) for p, _ in self.train))}
        self.assertEqual(len(sizes), 6)  # (the premise: six sizes)
        self.assertLessEqual(self.rel(np.load(f"{prefix}-train.npy"), np.array(want)), 1e-5)
        self.assertLessEqual(self.rel(np.load(f"{prefix}-val.npy"), np.array(want_val)), 1e-5)

    def test_draft(self):
        """--draft: the features are those of PIL's drafted images (Image.draft before the preset), the
        model records it (vggcl.draft), and classify then drafts without being told (--no-draft not)."""
        data = self.d / "big"
        files = []
        for c, name in enumerate(("a", "b")):
            (data / name).mkdir(parents=True)
            for i in range(3):
                p = data / name / f"{i}.jpg"
                Image.fromarray(photo(300 + 20 * i, 280 - 10 * i, 50 + 10 * c + i)).save(p, quality=90)
                files.append((p, c))
        out, prefix = self.d / "drafted.safetensors", self.d / "drafted"
        r = self.train_head(out, "--data", data, "--epochs", 2, "--val-split", 0, "--draft", "--features-out", prefix)
        self.assertEqual(r.returncode, 0, r.stderr)
        model = gap_model("vgg11", 5, "keep", seed=7)
        drafted = []
        for p, _ in files:
            im = Image.open(p)
            im.draft("RGB", (SIZE, SIZE))
            self.assertLess(im.size[0], 300 // 2)  # (drafted: at 1/4)
            drafted.append(preset()(im.convert("RGB")))
        with torch.no_grad():
            want = gap_features(model, torch.stack(drafted)).numpy()
        self.assertLessEqual(self.rel(np.load(f"{prefix}-train.npy"), want), 1e-5)
        self.assertEqual(load_file(out)[1]["vggcl.draft"], "1")
        tensors = {}
        for how in ("metadata", "--draft", "--no-draft"):
            t = self.d / f"t-{how.strip('-')}.npy"
            r = self.vggcl("classify", "--weights", out, "--tensor-out", t, *([how] if how != "metadata" else []),
                           files[0][0])
            self.assertEqual(r.returncode, 0, r.stderr)
            tensors[how] = np.load(t)
        np.testing.assert_array_equal(tensors["metadata"], drafted[0].numpy()[None])
        np.testing.assert_array_equal(tensors["metadata"], tensors["--draft"])
        self.assertFalse(np.array_equal(tensors["metadata"], tensors["--no-draft"]))
        plain = self.d / "plain.safetensors"  # (--no-draft from a drafted trunk: its "1" not kept)
        r = self.vggcl("train-head", "--weights", out, "--resize", SIZE, "--crop", SIZE, "--data", data,
                       "--epochs", 1, "--no-draft", "--out", plain)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(load_file(plain)[1]["vggcl.draft"], "0")

    def test_resize_both_sides(self):
        """--resize HxW --no-crop (torchvision's Resize((H, W)), the images stretched, as many fine-tuning recipes
        train): the features are those of torch's tensors made so, the model records "vggcl.resize" "H,W" and
        "vggcl.crop" "0", and classify, and a head trained on it, then preprocess so without being told."""
        out, prefix = self.d / "sides.safetensors", self.d / "sides"
        r = self.vggcl("train-head", "--weights", self.trunk, "--resize", "48x72", "--no-crop", "--data",
                       self.d / "train", "--epochs", 2, "--val-split", 0, "--features-out", prefix, "--out", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        stretch = transforms.Compose([transforms.Resize((48, 72)), transforms.ToTensor(),
                                      transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
        x = torch.stack([stretch(Image.open(p).convert("RGB")) for p, _ in self.train])
        with torch.no_grad():
            want = gap_features(gap_model("vgg11", 5, "keep", seed=7), x).numpy()
        self.assertLessEqual(self.rel(np.load(f"{prefix}-train.npy"), want), 1e-5)
        meta = load_file(out)[1]
        self.assertEqual((meta["vggcl.resize"], meta["vggcl.crop"]), ("48,72", "0"))
        t = self.d / "t-sides.npy"
        r = self.vggcl("classify", "--weights", out, "--tensor-out", t, self.train[1][0])
        self.assertEqual(r.returncode, 0, r.stderr)
        np.testing.assert_array_equal(np.load(t), x[1:2].numpy())
        again = self.d / "sides-again.safetensors"  # (its preprocessing carried to a head trained on it)
        r = self.vggcl("train-head", "--weights", out, "--data", self.d / "train", "--epochs", 1, "--out", again)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([load_file(again)[1][k] for k in ("vggcl.resize", "vggcl.crop")], ["48,72", "0"])

    def fails(self, r, out, *needles):
        self.assertEqual(r.returncode, 1, r.stderr)
        for n in needles:
            self.assertIn(str(n), r.stderr)
        self.assertFalse(out.exists())
        self.assertEqual([p.name for p in out.parent.iterdir() if ".tmp." in p.name], [])  # (the writer's names)

    def test_file_of_two_classes(self):
        """A file of two training classes (a link in one class folder to another's image): said, naming both and
        their classes, and trained as both, as ImageFolder takes it (it was unsaid); a data set without one says
        nothing of it."""
        twice = self.d / "twice"
        make_folder(twice, 2, 5, classes=("cat", "dog"))
        out = self.d / "twice.safetensors"
        r = self.train_head(out, "--data", twice, "--epochs", 1)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("same file", r.stderr)
        (twice / "dog" / "zz.png").symlink_to(twice / "cat" / "01.png")
        r = self.train_head(out, "--data", twice, "--epochs", 1)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"vggcl: train-head: --data {twice}: {twice / 'cat' / '01.png'} (class 'cat') and "
                      f"{twice / 'dog' / 'zz.png'} (class 'dog') are the same file: it is trained as both classes\n",
                      r.stderr)
        self.assertEqual(sum(map(int, re.findall(r"(\d+) (?:training samples|validation images)",
                                                 load_file(out)[1]["vggcl.trained"]))), 5)  # (the link's too)
        # the same file linked twice into the other class: one file of two classes (it was said to be others too)
        (twice / "dog" / "zy.png").symlink_to(twice / "cat" / "01.png")
        r = self.train_head(out, "--data", twice, "--epochs", 1)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("(class 'dog') are the same file: it is trained as both classes\n", r.stderr)
        self.assertNotIn("other files", r.stderr)
        out.unlink()
        shutil.rmtree(twice)

    def test_data_one_level_up(self):
        """--data DIR where DIR/train was meant (train/ and val/ of the same class folders): taken as ImageFolder
        takes it, train and val the classes, and said, naming the folder to give (it trained unsaid)."""
        nest = self.d / "nest"
        make_folder(nest / "train", 2, 3, classes=("cat", "dog"))
        make_folder(nest / "val", 1, 4, classes=("cat", "dog"))
        (nest / "notes").mkdir()  # (a folder of its own images: not among the alike)
        Image.fromarray(photo(40, 40, 1)).save(nest / "notes" / "a.png")
        out = self.d / "nest.safetensors"
        said = (f"the class folders train, val each hold their images in sub-folders of the same names (cat, dog): if "
                f"those are the classes, give one of those folders, such as {nest}/train\n")
        r = self.train_head(out, "--data", nest, "--epochs", 1)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"vggcl: train-head: --data {nest}: " + said, r.stderr)
        r = self.vggcl("eval", "--weights", out, "--data", nest, "--resize", SIZE, "--crop", SIZE)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"vggcl: eval: --data {nest}: " + said, r.stderr)
        r = self.vggcl("eval", "--weights", out, "--data", nest / "train", "--resize", SIZE, "--crop", SIZE)
        self.assertNotIn("sub-folders of the same names", r.stderr)
        shutil.rmtree(nest)
        # many sub-folders: the first six named; three folders alike: each named, train the one given as example
        for split in ("test", "train", "val"):
            make_folder(nest / split, 1, 4, classes=tuple("abcdefgh"))
        r = self.vggcl("eval", "--weights", out, "--data", nest, "--resize", SIZE, "--crop", SIZE)
        self.assertIn("the class folders test, train, val each hold their images in sub-folders of the same names (a, "
                      f"b, c, d, e, f and 2 more): if those are the classes, give one of those folders, such as "
                      f"{nest}/train\n", r.stderr)
        shutil.rmtree(nest), out.unlink()

    def test_val_missing_a_class(self):
        """A --val folder without one of the training classes (a small class left out of a split made by hand): said,
        as eval says it (the epoch was kept by the other classes' images, unsaid); a --val of every class says
        nothing of it."""
        val = self.d / "val-two"
        for c in ("blue", "green"):
            shutil.copytree(self.d / "val" / c, val / c)
        out = self.d / "two.safetensors"
        try:
            r = self.train_head(out, "--data", self.d / "train", "--val", val, "--epochs", 1)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(f"vggcl: train-head: --val {val} has no readable image of 1 of the 3 training classes (1 "
                          "without a folder there, such as 'red'): the epoch kept, and its val top-1, are of the "
                          "others' images alone\n", r.stderr)
            # and a class whose --val images are all unreadable beside it: one line for both (each had its own, of
            # "1 of the 3")
            (val / "green" / "zz.png").write_bytes(b"junk")
            for f in (val / "green").iterdir():
                if f.name != "zz.png":
                    f.unlink()
            r = self.train_head(out, "--data", self.d / "train", "--val", val, "--epochs", 1)
            self.assertEqual(r.returncode, 1, r.stderr)  # (zz.png skipped)
            self.assertIn(f"vggcl: train-head: --val {val} has no readable image of 2 of the 3 training classes (1 "
                          "without a folder there, such as 'red'; 1 whose images there could not be read, such as "
                          "'green'): the epoch kept", r.stderr)  # (each cause: one class's alone left the other out)
            self.assertEqual(r.stderr.count("others' images alone"), 1, r.stderr)
            r = self.train_head(out, "--data", self.d / "train", "--val", self.d / "val", "--epochs", 1)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("has no folder", r.stderr)
        finally:
            shutil.rmtree(val)
            out.unlink(missing_ok=True)

    def test_val_without_a_readable_image_of_a_class(self):
        """A class with no validation image read, whose folder is there: a --val folder of unreadable images alone,
        or a class of one image under --val-split (it keeps it to train on): said as a --val without the folder is,
        once; a --val of every class says nothing of it."""
        d = self.d / "val-unread"
        for c in ("blue", "green"):
            shutil.copytree(self.d / "val" / c, d / "val" / c)
        (d / "val" / "red").mkdir()
        (d / "val" / "red" / "x.png").write_text("not an image")
        make_folder(d / "train", 3, 6, classes=("a", "b"))
        make_folder(d / "train", 1, 7, classes=("c",))
        out = d / "m.safetensors"
        try:
            r = self.train_head(out, "--data", self.d / "train", "--val", d / "val", "--epochs", 1)
            self.assertEqual(r.returncode, 1, r.stderr)  # (x.png skipped)
            self.assertIn(f"vggcl: train-head: --val {d / 'val'} has no readable image of 1 of the 3 training classes "
                          "(1 whose images there could not be read, such as 'red'): the epoch kept, and its val top-1, "
                          "are of the others' images alone\n", r.stderr)
            self.assertEqual(r.stderr.count("others' images alone"), 1, r.stderr)
            r = self.train_head(out, "--data", d / "train", "--epochs", 1)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("vggcl: train-head: --val-split 0.2 (the default) gave no validation image to 1 of the 3 "
                          "classes (such as 'c'; a class of one image keeps it to train on)", r.stderr)
            r = self.train_head(out, "--data", self.d / "train", "--val", self.d / "val", "--epochs", 1)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("others' images alone", r.stderr)
        finally:
            shutil.rmtree(d)

    def test_bad_input(self):
        bad = self.d / "bad"
        make_folder(bad / "empty_class", 2, 3)
        (bad / "empty_class" / "zzz").mkdir()
        out = self.d / "never.safetensors"
        self.fails(self.train_head(out, "--data", bad / "empty_class"), out, "zzz", "no images")
        make_folder(bad / "one", 2, 3, classes=("only",))
        self.fails(self.train_head(out, "--data", bad / "one"), out, "one class folder", "only")
        make_folder(bad / "val_extra", 2, 3, classes=("blue", "purple"))
        self.fails(self.train_head(out, "--data", self.d / "train", "--val", bad / "val_extra"), out, "purple",
                   "not one of the training classes")
        # a --val folder named as macOS writes names (e + a combining accent, NFD) beside a training class written
        # with the accented letter (NFC): the two look alike in the message; said
        make_folder(bad / "nfc", 2, 3, classes=("bl\u00e9", "green"))
        make_folder(bad / "nfd", 2, 3, classes=("ble\u0301", "green"))
        hint = ("(a name here holds a combining accent, as macOS writes names, decomposed: the same name written with "
                "the accented letter itself is another name, to ImageFolder as to vggcl)")
        self.fails(self.train_head(out, "--data", bad / "nfc", "--val", bad / "nfd"), out,
                   "class folder 'ble\u0301' is not one of the training classes in", hint)
        # (and the other way round: the training's names decomposed, --val's composed)
        self.fails(self.train_head(out, "--data", bad / "nfd", "--val", bad / "nfc"), out,
                   "class folder 'bl\u00e9' is not one of the training classes in", hint)
        # a --val folder named as a training class but for its case: said (it looked like a mistake of vggcl's)
        make_folder(bad / "cased", 1, 3, classes=("Blue", "green"))
        self.fails(self.train_head(out, "--data", self.d / "train", "--val", bad / "cased"), out,
                   "class folder 'Blue' is not one of the training classes in", "(folder 'Blue' differs only in case "
                   "from the training class 'blue': names are case-sensitive, to ImageFolder as to vggcl)")
        self.fails(self.train_head(out, "--data", bad / "missing"), out, f"train-head: --data {bad}/missing: not there "
                   "(expected a folder")
        self.fails(self.train_head(out, "--data", self.d / "train", "--val", bad / "nov"), out,
                   f"train-head: --val {bad}/nov: not there (expected a folder")
        # --val holding training images (the same folder, or one of its images linked): refused (it reported the
        # training images' accuracy as validation, and kept the epoch by it)
        self.fails(self.train_head(out, "--data", self.d / "train", "--val", self.d / "train"), out,
                   f"--val {self.d / 'train'} holds {self.d / 'train'}", "which is also the training image")
        shutil.copytree(self.d / "train", bad / "val_linked")
        first = sorted((bad / "val_linked").glob("*/*"))[0]
        first.unlink()
        first.symlink_to(self.d / "train" / first.relative_to(bad / "val_linked"))
        self.fails(self.train_head(out, "--data", self.d / "train", "--val", bad / "val_linked"), out,
                   f"holds {first}, which is also the training image {self.d / 'train' / first.relative_to(bad / 'val_linked')}")
        headless = self.d / "headless.safetensors"
        save_file({"classifier.0.weight": np.zeros((3, 512), np.float32),
                   "classifier.0.bias": np.zeros(3, np.float32)}, headless)
        self.fails(self.vggcl("train-head", "--weights", headless, "--data", self.d / "train", "--out", out), out,
                   "headless.safetensors", "no convolution weights")
        # unreadable images: named, skipped and counted; the head is still trained and written, exit 1
        make_folder(bad / "some_bad", 3, 5, classes=("a", "b"))
        (bad / "some_bad" / "a" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
        (bad / "some_bad" / "b" / "text.jpg").write_text("hello")
        out2 = self.d / "partial.safetensors"
        r = self.train_head(out2, "--data", bad / "some_bad", "--val-split", 0, "--epochs", 2)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("broken.png", r.stderr)
        self.assertIn("text.jpg", r.stderr)
        self.assertIn("2 of 8 images were skipped", r.stderr)
        self.assertTrue(out2.exists())
        self.assertIn("6 training samples", load_file(out2)[1]["vggcl.trained"])
        self.assertNotIn("val top-1", load_file(out2)[1]["vggcl.trained"])  # (there was no validation)
        # usage errors
        r = self.vggcl("train-head", "--weights", self.trunk, "--data", self.d / "train")
        self.assertEqual(r.returncode, 2)
        r = self.train_head(out, "--data", self.d / "train", "--val-split", 1.5)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--val-split", r.stderr)
        for seed in ("18446744073709551616", "-1", " 1", "1x", ""):  # (past 2^64 once wrapped to 2^64 - 1)
            r = self.train_head(out, "--data", self.d / "train", "--seed", seed)
            self.assertEqual(r.returncode, 2, seed)
            self.assertIn("--seed must be an integer from 0 to 18446744073709551615" if seed else "--seed is empty: give S",
                          r.stderr)
        r = self.train_head(out, "--data", self.d / "train", "--lr", "1e6")
        self.assertEqual(r.returncode, 2)
        self.assertIn("--lr must be a number above 0 and below 1e6, not '1e6'", r.stderr)
        self.assertFalse(out.exists())
        # a trunk that overflows: the first image whose features are not finite is named, and nothing written
        # (training failed after every image, on "training sample 0's feature 0")
        tensors, meta = load_file(self.trunk)
        for k in tensors:
            if k.startswith("features.") and k.endswith(".weight"):
                tensors[k] = tensors[k] * np.float32(1e6)
        save_file(tensors, bad / "overflow.safetensors", meta)
        make_folder(bad / "ab", 2, 3, classes=("a", "b"))
        r = self.vggcl("train-head", "--weights", bad / "overflow.safetensors", "--resize", SIZE, "--crop", SIZE,
                       "--out", out, "--data", bad / "ab", "--batch", 1)
        self.fails(r, out, f"{bad / 'ab' / 'a' / '00.jpg'}: GAP feature 0 is ",
                   "the trunk's weights or the preprocessing overflow float32 on this image")

    def test_outputs_all_or_none(self):
        """What train-head writes is checked against what it reads, and a run that fails leaves none of it."""
        d = self.d / "outs"
        make_folder(d / "small", 2, 3, classes=("a", "b"))
        feats = [d / f"f-{k}.npy" for k in ("train", "train-labels", "val", "val-labels")]
        # a class folder not named in UTF-8: refused before any work (it wrote a model vggcl then refused)
        make_folder(d / "latin", 2, 3, classes=("cat", os.fsdecode(b"d\xe9g")))
        out = d / "m.safetensors"
        self.fails(self.train_head(out, "--data", d / "latin"), out, "not named in UTF-8")
        # the model cannot be written (--out a full device): the features' files written before it are undone
        r = self.train_head(Path("/dev/full"), "--data", d / "small", "--epochs", 1, "--features-out", d / "f")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual([f for f in feats if f.exists()], [])
        # --out a folder: refused before any work
        (d / "folder.safetensors").mkdir()
        r = self.train_head(d / "folder.safetensors", "--data", d / "small", "--epochs", 1, "--features-out", d / "f")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("folder.safetensors is a folder", r.stderr)
        # --features-out that names no file (it wrote -train.npy, --train.npy, DIR/-train.npy): refused
        for prefix in ("", "-", f"{d}/"):
            r = self.train_head(out, "--data", d / "small", "--epochs", 1, "--features-out", prefix)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(f"--features-out takes the start of four file names (PREFIX-train.npy, ...), not '{prefix}'"
                          if prefix else "--features-out is empty: give PREFIX", r.stderr)
        self.assertEqual(sorted(p.name for p in d.iterdir() if "train" in p.name), [])
        # the third of them cannot be written (a link to a full device): the two before it are undone, and no model
        feats[2].symlink_to("/dev/full")
        self.fails(self.train_head(out, "--data", d / "small", "--epochs", 1, "--features-out", d / "f"), out,
                   feats[2])
        self.assertEqual([f for f in feats[:2] + feats[3:] if f.exists()], [])
        feats[2].unlink()
        # a run that fails in training (it diverges) leaves an earlier run's model and features as they were (the
        # features were written before the training and removed after its failure)
        make_folder(d / "six", 6, 5)
        r = self.train_head(out, "--data", d / "six", "--epochs", 1, "--features-out", d / "f")
        self.assertEqual(r.returncode, 0, r.stderr)
        before = {f: f.read_bytes() for f in [*feats, out]}
        r = self.train_head(out, "--data", d / "six", "--epochs", 2, "--features-out", d / "f", "--l2", 999999,
                            "--minibatch", 1)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("diverged: no epoch's weights and losses are finite; try a smaller learning rate (lr 0.1) or l2 "
                      "(with lr * l2 above 2 * (1 + momentum) the weight decay alone diverges)", r.stderr)
        self.assertEqual({f: f.read_bytes() for f in [*feats, out]}, before)
        self.assertEqual([p.name for p in d.iterdir() if ".tmp." in p.name], [])
        # one that diverges later: an epoch before it is kept and written, and the divergence said (it was unsaid,
        # exit 0, a head no better than chance written)
        r = self.train_head(d / "diverged.safetensors", "--data", d / "six", "--epochs", 30, "--lr", 999999, "--l2",
                            999999)
        self.assertEqual(r.returncode, 0, r.stderr)
        (d / "diverged.safetensors").unlink()
        epochs = [ln for ln in r.stdout.splitlines() if ln.startswith("epoch ")]
        first = next(i for i, ln in enumerate(epochs, 1) if "loss inf" in ln or "nan" in ln)
        self.assertGreater(first, 1, r.stdout)  # (the premise: the first epochs finite)
        self.assertRegex(r.stderr, f"vggcl: train-head: the head diverged at epoch {first} \\(its loss not finite; the "
                         r"epochs after it too\): epoch (\d+), before it, is kept; an --lr below 999999 \(or a "
                         r"smaller --l2\) trains a better one\n")
        self.assertLess(int(re.search(r"epoch (\d+), before it", r.stderr)[1]), first)
        # ... and so does one whose model cannot be written (the new features were named before the model was
        # written, then removed: the earlier run's were lost)
        r = self.train_head(Path("/dev/full"), "--data", d / "six", "--epochs", 2, "--features-out", d / "f")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("/dev/full", r.stderr)
        self.assertEqual({f: f.read_bytes() for f in [*feats, out]}, before)
        self.assertEqual([p.name for p in d.iterdir() if ".tmp." in p.name], [])
        out.unlink()
        # losses huge but finite (lr near its limit): in exponent form (they were printed with every digit)
        r = self.train_head(out, "--data", d / "six", "--epochs", 3, "--lr", 900000, "--minibatch", 1)
        self.assertEqual(r.returncode, 0, r.stderr)
        epochs = [ln for ln in r.stdout.splitlines() if ln.startswith("epoch")]
        self.assertRegex(epochs[-1], r"train loss [0-9]\.[0-9]{4}e\+[0-9]+ top-1")
        self.assertLess(max(len(word) for ln in epochs for word in ln.split()), 12, epochs)
        # ... and their growth said (a head not learning was written unsaid)
        loss = [float(ln.split("train loss ")[1].split()[0]) for ln in epochs]
        self.assertGreater(loss[-1], loss[0], r.stdout)  # (the premise)
        self.assertIn(f"vggcl: train-head: the training loss grew, from {epochs[0].split('train loss ')[1].split()[0]} "
                      f"in epoch 1 to {epochs[-1].split('train loss ')[1].split()[0]} in epoch 3: an --lr below 900000 "
                      "(or a smaller --l2) may train a better head", r.stderr)
        r = self.train_head(out, "--data", d / "six", "--epochs", 3)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("loss grew", r.stderr)
        out.unlink()
        # an earlier run's features, the last of them now a link to a full device: all kept as they were (the
        # others were named one by one before its data was written, then removed: lost)
        r = self.train_head(out, "--data", d / "six", "--epochs", 1, "--features-out", d / "f")
        self.assertEqual(r.returncode, 0, r.stderr)
        before = {f: f.read_bytes() for f in [*feats[:3], out]}
        feats[3].unlink()
        feats[3].symlink_to("/dev/full")
        r = self.train_head(out, "--data", d / "six", "--epochs", 1, "--features-out", d / "f")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("No space left on device", r.stderr)
        self.assertEqual({f: f.read_bytes() for f in [*feats[:3], out]}, before)
        for f in [*feats, out]:
            f.unlink()
        # a class none of whose images can be read: refused, naming it (a head was written that never learnt it,
        # and only "3 of 9 images were skipped" said so)
        make_folder(d / "broken", 3, 7, classes=("a", "b", "c"))
        for p in (d / "broken" / "c").iterdir():
            p.write_bytes(b"junk")
        self.fails(self.train_head(out, "--data", d / "broken", "--epochs", 1, "--val-split", 0), out,
                   "class folder 'c' has no usable image to train on (3 were skipped)")
        # an output that is an image read, or (the features) the trunk: refused, exit 2, the input untouched
        image = d / "small" / "a" / "01.png"
        before = image.read_bytes()
        r = self.train_head(image, "--data", d / "small", "--epochs", 1)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("is the image", r.stderr)
        self.assertEqual(image.read_bytes(), before)
        trunk = d / "w-train.npy"
        shutil.copy(self.trunk, trunk)
        r = self.vggcl("train-head", "--weights", trunk, "--data", d / "small", "--resize", SIZE, "--crop", SIZE,
                       "--out", out, "--features-out", d / "w")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("--weights", r.stderr)
        self.assertEqual(trunk.read_bytes(), self.trunk.read_bytes())
        self.assertFalse(out.exists())
        # standard output is one of the features' files (> f-train.npy): the log goes to stderr, as for --out (it
        # went into the file the array then replaced: lost)
        with open(feats[0], "w") as train:
            r = subprocess.run([VGGCL, "train-head", "--weights", self.trunk, "--data", d / "small", "--resize",
                                str(SIZE), "--crop", str(SIZE), "--epochs", "1", "--out", out, "--features-out",
                                d / "f"], stdout=train, stderr=subprocess.PIPE, text=True, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"(?m)^epoch +1/1 .*\nkept epoch 1 .*; wrote ")
        self.assertEqual(np.load(feats[0]).shape[0], np.load(feats[1]).shape[0])
        for f in [*feats, out]:
            f.unlink()
        # the log cannot reach standard output (a full disk): exit 1 and no model, as classify leaves no logits
        with open("/dev/full", "w") as full:
            r = subprocess.run([VGGCL, "train-head", "--weights", self.trunk, "--data", d / "small", "--resize",
                                str(SIZE), "--crop", str(SIZE), "--epochs", "1", "--out", out], stdout=full,
                               stderr=subprocess.PIPE, text=True, timeout=600)
        self.fails(r, out, "cannot write standard output: No space left on device")  # (the reason: it was lost)

    def test_val_split_over_images_read(self):
        """The validation split is drawn from the images read: a class of two readable images and an unreadable
        one gets a readable validation image whatever the seed (the unreadable one was drawn before)."""
        d = self.d / "split"
        make_folder(d, 2, 4, classes=("a", "b"))
        (d / "a" / "zz.png").write_text("not an image")
        for seed in range(4):
            out = d.parent / f"split{seed}.safetensors"
            for f in d.parent.glob("sp-*.npy"):  # (a run that failed would have read the seed before's)
                f.unlink()
            r = self.train_head(out, "--data", d, "--epochs", 1, "--seed", seed, "--features-out", d.parent / "sp")
            self.assertEqual(r.returncode, 1, r.stderr)  # (zz.png named and skipped)
            self.assertIn("1 of 5 images were skipped; trained without them", r.stderr)
            self.assertTrue(out.exists())
            self.assertEqual(sorted(np.load(d.parent / "sp-val-labels.npy").astype(int)), [0, 1], seed)
            self.assertNotIn("trained without validation", r.stderr)
        # a split that leaves no image for validation (one readable image a class), and a --val folder of which
        # no image can be read: trained, and said (only the report's "0 validation images" showed it)
        one = self.d / "one"
        make_folder(one, 1, 4, classes=("a", "b"))
        (self.d / "unreadable" / "a").mkdir(parents=True)
        (self.d / "unreadable" / "a" / "x.png").write_text("not an image")
        for args, said, code in ((["--val-split", 0.5], "--val-split 0.5 left no image for validation (each class "
                                                         "keeps one to train on)", 0),
                                 (["--val", self.d / "unreadable"],
                                  f"no image of --val {self.d / 'unreadable'} could be read", 1)):
            r = self.train_head(self.d / "one.safetensors", "--data", one, "--epochs", 1, *args)
            self.assertEqual(r.returncode, code, r.stderr)
            self.assertIn(f"vggcl: train-head: {said}: trained without validation", r.stderr)
        # --val's skipped images are said as left out of the validation (it said "trained without them"), but
        # where none was read (it said "validated without them" after "trained without validation")
        self.assertIn("vggcl: 1 of 3 images were skipped, all of them --val's\n", r.stderr)
        (self.d / "unreadable" / "b").mkdir()
        shutil.copy(one / "a" / "00.jpg", self.d / "unreadable" / "b" / "y.jpg")
        shutil.copy(one / "b" / "00.jpg", one / "b" / "01.jpg")
        r = self.train_head(self.d / "one.safetensors", "--data", one, "--epochs", 1, "--val", self.d / "unreadable")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("1 of 5 images were skipped, all of them --val's; validated without them", r.stderr)
        (one / "b" / "zz.png").write_text("not an image")
        r = self.train_head(self.d / "one.safetensors", "--data", one, "--epochs", 1, "--val", self.d / "unreadable")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("2 of 6 images were skipped, 1 of them --val's; trained and validated without them", r.stderr)

    def test_flip_leaves_val_as_is(self):
        """With --val and --flip only the training images are mirrored: a validation image whose mirror overflows
        float32 (a trunk that reads each pixel's right neighbour, times 3e38; the image white in its first column
        alone, which no output reads) trains. Its mirror was run too, unused, and stopped the run, exit 1."""
        from make_test_weights import make_state_dict, parse_cfg
        d = self.d / "flipval"
        tensors = make_state_dict(parse_cfg("4"), False, 2, seed=3)
        w = np.zeros((4, 3, 3, 3), np.float32)
        for o in range(4):
            w[o, o % 3, 1, 2] = 3e38  # output (i, j) = 3e38 x input (i, j + 1)
        tensors["features.0.weight"], tensors["features.0.bias"] = w, np.zeros(4, np.float32)
        d.mkdir()
        save_file(tensors, d / "shift.safetensors")
        for c, name in enumerate(("a", "b")):
            for i in range(2):  # training: black but for one dim pixel (1/255: finite features either way)
                img = np.zeros((16, 16, 3), np.uint8)
                img[3 + i, 5 + 4 * i, c] = 1
                (d / "train" / name).mkdir(parents=True, exist_ok=True)
                Image.fromarray(img).save(d / "train" / name / f"{i}.png")
            img = np.zeros((16, 16, 3), np.uint8)
            img[:, 0, :] = 255  # mirrored: column 15, read by column 14's outputs, 6e38: infinite
            (d / "val" / name).mkdir(parents=True)
            Image.fromarray(img).save(d / "val" / name / "white.png")
        out, prefix = d / "head.safetensors", d / "f"
        r = self.vggcl("train-head", "--weights", d / "shift.safetensors", "--data", d / "train", "--val", d / "val",
                       "--flip", "--resize", 0, "--no-crop", "--mean", "0,0,0", "--std", "0.5,0.5,0.5", "--conv",
                       "direct", "--epochs", 2, "--batch", 3, "--out", out, "--features-out", prefix)
        self.assertEqual(r.returncode, 0, r.stderr)
        x, xv = np.load(f"{prefix}-train.npy"), np.load(f"{prefix}-val.npy")
        self.assertEqual((x.shape, xv.shape), ((8, 4), (2, 4)))  # each training image and its mirror; val once
        self.assertTrue(np.isfinite(x).all() and x.max() > 1e33, x)
        np.testing.assert_array_equal(xv, 0)  # the image as it is: its white column is read by no output
        self.assertIn("8 training samples (--flip: each image twice), 2 validation images",
                      load_file(out)[1]["vggcl.trained"])
        self.assertIn("\ncomputing the GAP features of 6 images (2 classes, 2 of them --val's) on ", "\n" + r.stderr)
        shutil.rmtree(d)


def report_reference(conf):
    """eval's ratios from a confusion matrix (rows true, columns predicted), as scikit-learn defines them
    (precision_recall_fscore_support and classification_report with zero_division=0, balanced_accuracy_score): each
    class's precision, recall and F1 (0 where undefined); their macro and support-weighted averages over the classes
    that have images or predictions; the mean recall of the classes that have images."""
    conf = np.asarray(conf, dtype=np.float64)
    images, predicted, hit = conf.sum(1), conf.sum(0), np.diag(conf)
    p = np.divide(hit, predicted, out=np.zeros_like(hit), where=predicted > 0)
    r = np.divide(hit, images, out=np.zeros_like(hit), where=images > 0)
    f1 = np.divide(2 * hit, images + predicted, out=np.zeros_like(hit), where=images + predicted > 0)
    seen = (images + predicted) > 0
    return {"per_class": (p, r, f1),
            "macro": [float(v[seen].mean()) for v in (p, r, f1)],
            "weighted": [float((v * images).sum() / images.sum()) for v in (p, r, f1)],
            "balanced_accuracy": float(r[images > 0].mean())}


class Eval(unittest.TestCase):
    def test_against_torch_logits(self):
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            model = gap_model("vgg11", 7, "keep", seed=9)
            weights = d / "w.safetensors"
            export(model, weights, "keep")
            names = [f"c{i}" for i in range(7)]
            files = make_folder(d / "data", 3, 6, classes=names)
            # the other formats ImageFolder takes, PGM and PPM, counted as PyTorch counts them (they had been
            # passed over)
            Image.fromarray(photo(60, 70, 5)).save(d / "data" / "c2" / "extra.ppm")
            Image.fromarray(photo(64, 66, 6)[..., 1]).save(d / "data" / "c4" / "gray.pgm")
            from torchvision.datasets import ImageFolder
            files = ImageFolder(d / "data").samples
            self.assertEqual(len(files), 23)
            x = torch.stack([preset()(Image.open(p).convert("RGB")) for p, _ in files])
            with torch.no_grad():
                logits = model(x).numpy()
            y = np.array([c for _, c in files])
            pred = logits.argmax(1)
            conf = np.zeros((7, 7), int)
            for t, p in zip(y, pred):
                conf[t, p] += 1
            top5 = np.mean([(logits[i] > logits[i, y[i]]).sum() < 5 for i in range(len(y))])
            r = subprocess.run([VGGCL, "eval", "--weights", weights, "--data", d / "data", "--format", "json",
                                "--resize", str(SIZE), "--crop", str(SIZE)], capture_output=True, text=True,
                               timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            got = json.loads(r.stdout)
            self.assertEqual(got["n"], 23)
            # what made the report (two reports of one data set, one with --pool5 or --crop given, read alike)
            self.assertEqual((got["model"], got["pool5"], got["preprocess"]),
                             (str(weights), "keep", {"resize": [SIZE], "crop": SIZE, "mean": [0.485, 0.456, 0.406],
                                                     "std": [0.229, 0.224, 0.225], "draft": False}))
            self.assertEqual(got["confusion"], conf.tolist())
            self.assertAlmostEqual(got["top1"], float(np.mean(pred == y)), places=6)
            self.assertAlmostEqual(got["top5"], float(top5), places=6)
            self.assertEqual(got["classes"], names)  # the file names no classes: the folders, by position
            want = report_reference(conf)
            for c, row in enumerate(got["per_class"]):
                for key, v in zip(("precision", "recall", "f1"), want["per_class"]):
                    self.assertAlmostEqual(row[key], v[c], places=12)
            for avg in ("macro", "weighted"):
                for key, v in zip(("precision", "recall", "f1"), want[avg]):
                    self.assertAlmostEqual(got[avg][key], v, places=12)
            self.assertAlmostEqual(got["balanced_accuracy"], want["balanced_accuracy"], places=12)
            c = subprocess.run([VGGCL, "eval", "--weights", weights, "--data", d / "data", "--format", "csv",
                                "--resize", str(SIZE), "--crop", str(SIZE)], capture_output=True, text=True,
                               timeout=600)
            self.assertEqual(c.returncode, 0, c.stderr)
            rows = c.stdout.splitlines()
            self.assertEqual(len(rows), 11)  # the header, 7 classes, all, macro avg, weighted avg
            self.assertEqual([int(v) for v in rows[1].split(",")[8:]], conf[0].tolist())
            # the ratios as the JSON gives them, to the last bit (%.6f was less)
            for c_, row in enumerate(got["per_class"]):
                self.assertEqual(rows[1 + c_].split(",")[3:6], [repr(row[k]) for k in ("precision", "recall", "f1")])
            self.assertEqual(rows[-3].split(",")[6:8], [repr(got["top1"]), repr(got["top5"])])
            for row, avg in zip(rows[-2:], ("macro", "weighted")):
                self.assertEqual(row.split(","), [f"{avg} avg", "23", "23", *(repr(got[avg][k]) for k in
                                                  ("precision", "recall", "f1")), *[""] * 9])
            t = subprocess.run([VGGCL, "eval", "--weights", weights, "--data", d / "data", "--resize", str(SIZE),
                                "--crop", str(SIZE)], capture_output=True, text=True, timeout=600)
            self.assertEqual(t.returncode, 0, t.stderr)
            self.assertIn(f"top-1 {np.mean(pred == y):.4f} ({(pred == y).sum()}/{len(y)})", t.stdout)
            self.assertTrue(t.stdout.startswith(f"23 images, 7 classes; pool5 kept, resize {SIZE}, crop {SIZE}, mean "
                                                "0.485,0.456,0.406, std 0.229,0.224,0.225\n"), t.stdout)
            r = subprocess.run([VGGCL, "eval", "--weights", weights, "--data", d / "data", "--format", "json",
                                "--resize", str(SIZE), "--crop", str(SIZE - 8), "--pool5", "drop"],
                               capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual((json.loads(r.stdout)["pool5"], json.loads(r.stdout)["preprocess"]["crop"]),
                             ("drop", SIZE - 8))
            r = subprocess.run([VGGCL, "eval", "--weights", weights, "--data", d / "data", "--resize",
                                f"{SIZE}x{SIZE}", "--no-crop"], capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)  # (in words, not "crop 0")
            self.assertTrue(r.stdout.startswith(f"23 images, 7 classes; pool5 kept, resize {SIZE}x{SIZE}, no crop, "),
                            r.stdout)
            self.assertIn(f"\nbalanced accuracy {want['balanced_accuracy']:.4f}  macro F1 {want['macro'][2]:.4f}\n",
                          t.stdout)
            for avg in ("macro", "weighted"):
                self.assertRegex(t.stdout, f"\n{avg} avg +" + " +".join(f"{v:.4f}" for v in want[avg]) + " +23 +23\n")
            # more folders than the model has classes; an unreadable image
            make_folder(d / "more", 1, 6, classes=[f"k{i}" for i in range(8)])
            r = subprocess.run([VGGCL, "eval", "--weights", weights, "--data", d / "more"], capture_output=True,
                               text=True, timeout=600)
            self.assertEqual(r.returncode, 1)
            self.assertIn("8 class folders, but", r.stderr)
            (d / "data" / "c3" / "bad.png").write_bytes(b"junk")
            r = subprocess.run([VGGCL, "eval", "--weights", weights, "--data", d / "data", "--format", "json",
                                "--resize", str(SIZE), "--crop", str(SIZE)], capture_output=True, text=True,
                               timeout=600)
            self.assertEqual(r.returncode, 1)
            self.assertIn("bad.png", r.stderr)
            self.assertEqual(json.loads(r.stdout)["confusion"], conf.tolist())

    def test_binary_head_of_one_output(self):
        """A head of one output (Linear(512, 1), BCEWithLogitsLoss) on two class folders: a binary classifier, a
        positive logit predicting the second folder sorted (ImageFolder's label 1), or the folder named as its one
        class; the confusion torch's; said which is which (it was refused: 2 class folders, 1 class). A name that is
        neither folder refused."""
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            model = gap_model("vgg11", 1, "keep", seed=12)
            files = make_folder(d / "data", 4, 3, classes=("healthy", "tumor"))
            from torchvision.datasets import ImageFolder
            samples = ImageFolder(d / "data").samples
            x = torch.stack([preset()(Image.open(p).convert("RGB")) for p, _ in samples])
            with torch.no_grad():
                logit = model(x).numpy()[:, 0]
            with torch.no_grad():  # (a bias that splits the images: both predictions made)
                model.classifier[0].bias -= float(np.median(logit))
                logit = model(x).numpy()[:, 0]
            y = np.array([c for _, c in samples])
            for names, positive in ((None, 1), (["healthy"], 0), (["tumor"], 1)):
                weights = d / "w.safetensors"
                export(model, weights, "keep")
                if names:
                    tensors, meta = load_file(weights)
                    save_file(tensors, weights, metadata=dict(meta, **{"vggcl.classes": json.dumps(names)}))
                truth = y if positive == 1 else 1 - y
                pred = (logit > 0).astype(int)
                conf = np.zeros((2, 2), int)
                for t, p in zip(truth, pred):
                    conf[t, p] += 1
                self.assertTrue((conf.sum(0) > 0).all(), conf)  # (the premise: both classes predicted)
                r = subprocess.run([VGGCL, "eval", "--weights", weights, "--data", d / "data", "--format", "json",
                                    "--resize", str(SIZE), "--crop", str(SIZE)], capture_output=True, text=True,
                                   timeout=600)
                self.assertEqual(r.returncode, 0, r.stderr)
                got = json.loads(r.stdout)
                want = ["tumor", "healthy"] if positive == 0 else ["healthy", "tumor"]
                self.assertEqual((got["classes"], got["confusion"]), (want, conf.tolist()))
                self.assertIn(f"vggcl: eval: {weights} has one output: a binary head (as BCEWithLogitsLoss trains "
                              f"it), a positive logit predicting '{want[1]}' ", r.stderr)
            tensors, meta = load_file(weights)
            save_file(tensors, weights, metadata=dict(meta, **{"vggcl.classes": json.dumps(["benign"])}))
            r = subprocess.run([VGGCL, "eval", "--weights", weights, "--data", d / "data", "--resize", str(SIZE),
                                "--crop", str(SIZE)], capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"{d / 'data'}: class folders 'healthy' and 'tumor', but {weights} has one output, named "
                          "'benign': one folder must be of that name", r.stderr)
            self.assertEqual(len(files), 8)

    def test_nonfinite_logits_skipped(self):
        """An image on which the weights overflow float32 (logits NaN or infinite) is named and skipped, the others
        of its batch scored (such an image scored as a top-k hit of the predicted class 0, exit 0)."""
        from make_test_weights import make_state_dict, parse_cfg
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            tensors = make_state_dict(parse_cfg("8,M,16"), False, 3, seed=2)
            for k in tensors:  # no biases: a black image's activations stay 0, a white one's overflow
                if k.startswith("features."):
                    tensors[k] = tensors[k] * np.float32(1e25 if k.endswith(".weight") else 0)
            weights = d / "w.safetensors"
            save_file(tensors, weights)
            bias = tensors["classifier.0.bias"]
            self.assertNotEqual(bias[0], bias.max())  # (a NaN counted as class 0 would then be seen)
            for c in ("a", "b"):
                (d / "data" / c).mkdir(parents=True)
                for name, v in (("0black", 0), ("1white", 255)):
                    Image.fromarray(np.full((32, 32, 3), v, np.uint8)).save(d / "data" / c / f"{name}.png")
            for batch in (4, 1):  # the finite ones moved up in their batch; batches with none left
                r = subprocess.run([VGGCL, "eval", "--weights", weights, "--data", d / "data", "--format", "json",
                                    "--resize", "32", "--crop", "32", "--mean", "0,0,0", "--std", "1,1,1",
                                    "--batch", str(batch)], capture_output=True, text=True, timeout=600)
                self.assertEqual(r.returncode, 1, r.stderr)
                for c in ("a", "b"):
                    self.assertRegex(r.stderr, f"{d / 'data' / c / '1white.png'}: logit 0 is (NaN|infinite): the "
                                     "weights or the preprocessing overflow float32 on this image \\(skipped\\)")
                self.assertIn("2 of 4 images were skipped; evaluated the other 2", r.stderr)
                got = json.loads(r.stdout)
                p = int(np.argmax(bias))  # a black image's logits are the head's bias
                conf = np.zeros((3, 3), int)
                conf[0, p] = conf[1, p] = 1
                self.assertEqual((got["n"], got["skipped"], got["confusion"]), (2, 2, conf.tolist()))
            r = subprocess.run([VGGCL, "eval", "--weights", weights, "--data", d / "data", "--resize", "32", "--crop",
                                "32", "--mean", "0,0,0", "--std", "1,1,1"], capture_output=True, text=True, timeout=600)
            self.assertIn("2 images, 3 classes (2 skipped)", r.stdout)  # (it said "unreadable" of them)
            for c in ("a", "b"):  # none left to score
                (d / "data" / c / "0black.png").unlink()
            r = subprocess.run([VGGCL, "eval", "--weights", weights, "--data", d / "data", "--resize", "32", "--crop",
                                "32", "--mean", "0,0,0", "--std", "1,1,1"], capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("none of the 2 images could be scored (each skipped, named above)", r.stderr)

    def test_equal_logits_rank_the_lower_class(self):
        """A head of zeros (every logit equal): top-1 is class 0 for every image, as argmax picks, and top-5 counts
        the classes 0 to 4 alone (the lower class ranks first, as classify ranks them; docs/commands.md, --help)."""
        from make_test_weights import make_state_dict, parse_cfg
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            tensors = make_state_dict(parse_cfg("8,M,16"), False, 8, seed=2)
            tensors["classifier.0.weight"][:] = 0
            tensors["classifier.0.bias"][:] = 0
            weights = d / "w.safetensors"
            save_file(tensors, weights)
            files = make_folder(d / "data", 1, 4, classes=[f"c{i}" for i in range(8)])
            shutil.copy(files[-1][0], d / "data" / "c7" / "01.png")  # (9 images: the higher class first gave 6)
            r = subprocess.run([VGGCL, "eval", "--weights", weights, "--data", d / "data", "--format", "json",
                                "--resize", "32", "--crop", "32"], capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            got = json.loads(r.stdout)
            self.assertEqual([row[0] for row in got["confusion"]], [1] * 7 + [2])
            self.assertAlmostEqual(got["top1"], 1 / 9, places=6)
            self.assertAlmostEqual(got["top5"], 5 / 9, places=6)

    def test_many_classes_json(self):
        """A head of 3000 classes: the JSON report's confusion matrix (9 million counts) is written row by row,
        the numbers those of the text report; built as cJSON objects it took 84 bytes a count (756 MB here),
        and a report that could not be made was exit 0 with nothing printed."""
        from make_test_weights import make_state_dict, parse_cfg
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            weights = d / "w.safetensors"
            save_file(make_state_dict(parse_cfg("8,M,16"), False, 3000, seed=2), weights)
            make_folder(d / "data", 2, 3, classes=("a", "b"))
            args = [VGGCL, "eval", "--weights", weights, "--data", d / "data", "--resize", "32", "--crop", "32",
                    "--format", "json"]
            code, stderr, peak_kb = testenv.run_peak(args)
            self.assertEqual(code, 0, stderr)
            self.assertLess(peak_kb, 400 * 1024)  # (the counts themselves: 9e6 x 8 bytes)
            r = subprocess.run(args, capture_output=True, text=True, timeout=600)
            got = json.loads(r.stdout)
            conf = np.array(got["confusion"])
            self.assertEqual((conf.shape, int(conf.sum()), got["n"]), ((3000, 3000), 4, 4))
            self.assertEqual([row["images"] for row in got["per_class"][:3]], [2, 2, 0])
            self.assertEqual(list(conf.sum(1)[:2]), [2, 2])
            want = report_reference(conf)  # (the averages over the few classes seen, not the 3000)
            for avg in ("macro", "weighted"):
                for key, v in zip(("precision", "recall", "f1"), want[avg]):
                    self.assertAlmostEqual(got[avg][key], v, places=12)
            # the text's matrix: the classes with images or predictions alone (3000 x 3000 zeros were 54 MB; a
            # head of 20000 classes wrote 2.4 GB)
            r = subprocess.run(args[:-2], capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            seen = [c for c in range(3000) if conf[c].any() or conf[:, c].any()]
            heading, *rows = r.stdout.split("\n\n")[3].splitlines()  # (after the classes and their averages)
            self.assertEqual(heading, "confusion (rows: true class, columns: predicted, in the order above; the "
                                      f"{3000 - len(seen)} classes with neither images nor predictions left out)")
            self.assertEqual([[int(v) for v in row.split()[-len(seen):]] for row in rows],
                             conf[np.ix_(seen, seen)].tolist())

    def test_cam_pictures_among_the_images(self):
        """cam run in a class folder (its default --out-dir, the current folder) leaves its pictures among the images:
        eval (and train-head, which reads data sets alike) counts them, as ImageFolder would, and says so (they were
        scored as images of the class, unsaid); a PNG named so without its map beside it is an image like any."""
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            model = gap_model("vgg11", 2, "keep", seed=3)
            weights = d / "w.safetensors"
            export(model, weights, "keep")
            make_folder(d / "data", 2, 4, classes=("x", "y"))
            pictures = sorted((d / "data" / "x").iterdir())
            vggcl = os.path.abspath(VGGCL)  # (run from the class folder)
            r = subprocess.run([vggcl, "cam", "--weights", weights, "--resize", str(SIZE), "--crop", str(SIZE),
                                "--compare-pool5", pictures[0].name], cwd=d / "data" / "x", capture_output=True,
                               text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            r = subprocess.run([vggcl, "cam", "--weights", weights, "--resize", str(SIZE), "--crop", str(SIZE),
                                pictures[1].name], cwd=d / "data" / "x", capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            shutil.copy(pictures[1], d / "data" / "y" / "lone.cam.png")  # (no map beside it: a picture like any)
            r = subprocess.run([VGGCL, "eval", "--weights", weights, "--data", d / "data", "--resize", str(SIZE),
                                "--crop", str(SIZE), "--format", "json"], capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout)["n"], 7)  # (4 photos, 2 of cam's pictures, the lone one)
            first = min(str(p) for p in (d / "data" / "x").glob("*.*.png"))
            self.assertIn(f"vggcl: eval: --data {d / 'data'}: 2 of its images are vggcl cam's pictures (such as {first}, "
                          "with its map's .npy beside it): counted as images of their class, as ImageFolder counts "
                          "them; cam --out-dir elsewhere keeps them apart\n", r.stderr)

    def test_averages_over_the_classes_seen(self):
        """Macro and weighted averages over the classes that have images or predictions, balanced accuracy over those
        with images (scikit-learn's rules): a head made to predict a class without a folder for one image and the
        other's own class for the other, a fourth class with neither. By hand: x (1 image, none predicted) 0, 0, 0;
        y (no image, 1 predicted) 0, 0, 0; z (1 image, itself) 1, 1, 1; w left out: macro 1/3 each (1/4 with w),
        weighted 1/2, balanced accuracy the recalls of x and z, 1/2 (1/3 with y)."""
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            files = make_folder(d / "data", 1, 6, classes=("x", "z"))
            model = gap_model("vgg11", 4, "keep", seed=2)
            with torch.no_grad():
                f = gap_features(model, torch.stack([preset()(Image.open(p).convert("RGB")) for p, _ in files]))
                a, b = f[0] / f[0].norm(), f[1] / f[1].norm()  # (x's image, z's: each scores its own direction)
                model.classifier[0].weight.zero_()
                model.classifier[0].bias.zero_()
                model.classifier[0].weight[1] = a - b  # y: x's image
                model.classifier[0].weight[2] = b - a  # z: z's image
                self.assertEqual(model(torch.stack([preset()(Image.open(p).convert("RGB")) for p, _ in files]))
                                 .argmax(1).tolist(), [1, 2])
            weights = d / "w.safetensors"
            save_file({k: v.numpy() for k, v in model.state_dict().items()}, weights,
                      metadata={"vggcl.classes": json.dumps(["x", "y", "z", "w"])})
            r = subprocess.run([VGGCL, "eval", "--weights", weights, "--data", d / "data", "--format", "json",
                                "--resize", str(SIZE), "--crop", str(SIZE)], capture_output=True, text=True,
                               timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            got = json.loads(r.stdout)
            self.assertEqual(got["confusion"], [[0, 1, 0, 0], [0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]])
            self.assertEqual([[row[k] for k in ("precision", "recall", "f1")] for row in got["per_class"]],
                             [[0, 0, 0], [0, 0, 0], [1, 1, 1], [0, 0, 0]])
            for key in ("precision", "recall", "f1"):
                self.assertAlmostEqual(got["macro"][key], 1 / 3, places=15)
                self.assertEqual(got["weighted"][key], 0.5)
            self.assertEqual(got["balanced_accuracy"], 0.5)
            want = report_reference(got["confusion"])  # (the reference's rules agree)
            self.assertEqual((want["macro"], want["weighted"], want["balanced_accuracy"]), ([1 / 3] * 3, [.5] * 3, .5))
            # the CSV's top-1 and top-k of a class without images (y, w): 0 out of 0, written 0 as its recall is
            # (scikit-learn's rule for a ratio of none), its images 0 beside them; said in --help (it was not)
            r = subprocess.run([VGGCL, "eval", "--weights", weights, "--data", d / "data", "--format", "csv",
                                "--resize", str(SIZE), "--crop", str(SIZE)], capture_output=True, text=True,
                               timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            rows = [row.split(",") for row in r.stdout.splitlines()]
            self.assertEqual(rows[0][:8], ["class", "images", "predicted", "precision", "recall", "f1", "top1", "top4"])
            self.assertEqual([row[:8] for row in rows[1:5]], [['"x"', "1", "0", "0", "0", "0", "0", "1"],
                                                              ['"y"', "0", "1", "0", "0", "0", "0", "0"],
                                                              ['"z"', "1", "1", "1", "1", "1", "1", "1"],
                                                              ['"w"', "0", "0", "0", "0", "0", "0", "0"]])
            helped = " ".join(subprocess.run([VGGCL, "eval", "--help"], capture_output=True, text=True).stdout.split())
            self.assertTrue("top-1 and top-k over the class's images (0 where it has none, as its recall)" in helped,
                            "eval --help does not say a class's top-1 and top-k without images")

    def test_classes_by_name(self):
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp)
            model = gap_model("vgg11", 3, "keep", seed=2)
            sd = {k: v.numpy() for k, v in model.state_dict().items()}
            weights = d / "named.safetensors"
            save_file(sd, weights, metadata={"vggcl.classes": json.dumps(["x", "y", "z"])})
            make_folder(d / "data", 1, 6, classes=("z", "x"))  # a subset, in another order
            r = subprocess.run([VGGCL, "eval", "--weights", weights, "--data", d / "data", "--format", "json",
                                "--resize", str(SIZE), "--crop", str(SIZE)], capture_output=True, text=True,
                               timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            got = json.loads(r.stdout)
            self.assertEqual(got["classes"], ["x", "y", "z"])
            self.assertEqual([sum(row) for row in got["confusion"]], [1, 0, 1])  # x: 1 image, y: none, z: 1
            # the model's class without a folder said (a model of other classes than the data's was scored unsaid)
            said = [ln for ln in r.stderr.splitlines() if not ln.startswith("vggcl: compiling the OpenCL kernels")]
            self.assertEqual(said, [f"vggcl: eval: {d / 'data'} has no folder for 1 of the 3 classes of {weights} "
                                    "(such as 'y'; the folders matched by name): their recall is 0, no image being of "
                                    "them"])
            unnamed = d / "unnamed.safetensors"
            save_file(sd, unnamed)
            r = subprocess.run([VGGCL, "eval", "--weights", unnamed, "--data", d / "data", "--format", "json",
                                "--resize", str(SIZE), "--crop", str(SIZE)], capture_output=True, text=True,
                               timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(f"vggcl: eval: {d / 'data'} has 2 class folders for the 3 classes of {unnamed}, which names "
                          "none: they are taken as classes 0 to 1 by sorted position, as ImageFolder numbers the "
                          "folders of all 3; if a class before the last is the one without a folder, the folders after "
                          "it are scored as the wrong classes (name the model's classes, export_torchvision.py "
                          "--class-names, to match them by name)\n", r.stderr)  # (which is missing: unknown)
            # a hidden folder of images: left out, said (ImageFolder takes it, a class numbered before the others:
            # a model trained so, matched by position, was scored with every class shifted, unsaid)
            make_folder(d / "data", 1, 6, classes=(".ipynb_checkpoints",))
            r = subprocess.run([VGGCL, "eval", "--weights", unnamed, "--data", d / "data", "--resize", str(SIZE),
                                "--crop", str(SIZE)], capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn(f"vggcl: {d / 'data'}: 1 hidden folder left out, not classes (such as '.ipynb_checkpoints'; "
                          "torchvision's ImageFolder takes them, its classes after them numbered one more)\n", r.stderr)
            shutil.rmtree(d / "data" / ".ipynb_checkpoints")
            make_folder(d / "other", 1, 6, classes=("x", "w"))
            r = subprocess.run([VGGCL, "eval", "--weights", weights, "--data", d / "other"], capture_output=True,
                               text=True, timeout=600)
            self.assertEqual(r.returncode, 1)
            self.assertIn("'w' is not one of the 3 classes", r.stderr)
            make_folder(d / "other", 1, 6, classes=("v", "u"))  # (three the model lacks: said together)
            r = subprocess.run([VGGCL, "eval", "--weights", weights, "--data", d / "other"], capture_output=True,
                               text=True, timeout=600)
            self.assertEqual(r.returncode, 1)
            self.assertIn(f"class folder 'u' is not one of the 3 classes {weights} names (nor are 2 other folders, "
                          "such as 'v')", r.stderr)
            self.assertNotIn("combining accent", r.stderr)
            self.assertNotIn("differs only in case", r.stderr)
            # a folder named as a class but for its case (Z for z): said, the folder still refused (it looked like a
            # mistake of vggcl's)
            make_folder(d / "cased", 1, 6, classes=("Z", "x"))
            r = subprocess.run([VGGCL, "eval", "--weights", weights, "--data", d / "cased"], capture_output=True,
                               text=True, timeout=600)
            self.assertEqual((r.returncode, r.stdout), (1, ""), r.stderr)
            self.assertIn(f"class folder 'Z' is not one of the 3 classes {weights} names (folder 'Z' differs only in "
                          "case from the model's class 'z': names are case-sensitive, to ImageFolder as to vggcl)\n",
                          r.stderr)
            # a name given to two classes: the folder's images were scored against the first, and the second's
            # predictions counted as wrong
            save_file(sd, weights, metadata={"vggcl.classes": json.dumps(["z", "x", "z"])})
            r = subprocess.run([VGGCL, "eval", "--weights", weights, "--data", d / "data"], capture_output=True,
                               text=True, timeout=600)
            self.assertEqual((r.returncode, r.stdout), (1, ""), r.stderr)
            self.assertIn(f"names two classes 'z' (0 and 2): class folder 'z' of {d / 'data'} cannot be matched",
                          r.stderr)
            save_file(sd, weights, metadata={"vggcl.classes": json.dumps(["x", "y"])})
            r = subprocess.run([VGGCL, "eval", "--weights", weights, "--data", d / "data"], capture_output=True,
                               text=True, timeout=600)
            self.assertEqual(r.returncode, 1)
            self.assertIn("vggcl.classes", r.stderr)
            # the text's tables aligned on a terminal: fullwidth and CJK names take two columns a character, a
            # combining accent none (they were counted one each: rows out of line by up to the name's length)
            names = ["ＡＢＣ", "e\u0301te", "猫" * 15]
            save_file(sd, weights, metadata={"vggcl.classes": json.dumps(names)})
            make_folder(d / "wide", 1, 6, classes=names)
            r = subprocess.run([VGGCL, "eval", "--weights", weights, "--data", d / "wide", "--resize", str(SIZE),
                                "--crop", str(SIZE)], capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)

            def columns(line):
                return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
                           for ch in line)
            rows = r.stdout.split("\n\n")[1].splitlines()  # (the heading and a row per class)
            rows += r.stdout.split("\n\n")[2].splitlines()  # (the averages)
            confusion = r.stdout.split("\n\n")[3].splitlines()[1:]
            self.assertEqual(len(rows), 6, r.stdout)
            self.assertEqual({columns(line) for line in rows}, {30 + 48}, r.stdout)  # (the longest name's 30)
            self.assertEqual({columns(line) for line in confusion}, {30 + 18}, r.stdout)
            # the model's name decomposed (e + a combining accent, as macOS writes names), the folder's composed: the
            # two look alike in the message, so the accent is said
            shutil.move(d / "wide" / "e\u0301te", d / "wide" / "\u00e9te")
            r = subprocess.run([VGGCL, "eval", "--weights", weights, "--data", d / "wide", "--resize", str(SIZE),
                                "--crop", str(SIZE)], capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("class folder '\u00e9te' is not one of the 3 classes", r.stderr)
            self.assertIn("(a name here holds a combining accent, as macOS writes names, decomposed", r.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    VGGCL = sys.argv.pop(1)
    unittest.main(verbosity=2)
