"""vggcl.train_head and Head.save against `vggcl train-head`: the same features give the same head, bit for bit,
and the model written classifies as the command's; what they refuse, named."""
import json
import logging
import math
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import vggcl

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "weights"))
sys.path.insert(0, str(ROOT / "tests"))
from make_test_weights import make_state_dict, parse_cfg  # noqa: E402
from safetensors_io import load_file, save_file  # noqa: E402
from test_images import photo  # noqa: E402

BINARY = os.environ.get("VGGCL_BINARY", str(ROOT / "build" / "vggcl"))
EPOCH = re.compile(r"^epoch +(\d+)/\d+  train loss (\S+) top-1 (\S+)  val loss (\S+) top-1 (\S+)( +\*)?$")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A trunk, class folders of photos (two classes of four, one of three), and `vggcl train-head` run on them
    with a validation split, its features and labels kept."""
    d = tmp_path_factory.mktemp("head")
    trunk = d / "trunk.safetensors"
    save_file(make_state_dict(parse_cfg("8,M,16,M,16"), False, 2, seed=3), trunk)
    paths = []
    for c, (name, count) in enumerate((("ant", 4), ("bee", 4), ("cat", 3))):
        (d / "data" / name).mkdir(parents=True)
        for i in range(count):
            p = d / "data" / name / f"{i}.png"
            Image.fromarray(photo(40 + 3 * i, 44, 10 * c + i)).save(p)
            paths.append(p)
    args = ["--resize", "36", "--crop", "32", "--epochs", "6", "--seed", "5", "--val-split", "0.3", "--lr", "0.05"]
    r = subprocess.run([BINARY, "train-head", "--weights", trunk, "--data", d / "data", "--out", d / "cli.safetensors",
                        "--features-out", d / "f", *args], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    lines = [m.groups() for m in map(EPOCH.match, r.stdout.splitlines()) if m]
    assert len(lines) == 6, r.stdout
    return {"dir": d, "trunk": trunk, "paths": paths, "lines": lines, "stdout": r.stdout,
            "x": np.load(d / "f-train.npy"), "y": np.load(d / "f-train-labels.npy"), "xv": np.load(d / "f-val.npy"),
            "yv": np.load(d / "f-val-labels.npy")}


def test_the_commands_head_from_its_features(trained):
    """The features and labels `vggcl train-head` trained on give the same head, bit for bit, and the same
    epochs (its printed losses and accuracies, the best so far starred)."""
    t = trained
    seen = []
    head = vggcl.train_head(t["x"], t["y"], val=(t["xv"], t["yv"]), epochs=6, seed=5, lr=0.05,
                            on_epoch=lambda e, best: seen.append((e["epoch"], best)))
    cli, _ = load_file(t["dir"] / "cli.safetensors")
    np.testing.assert_array_equal(head.weight, cli["classifier.0.weight"])
    np.testing.assert_array_equal(head.bias, cli["classifier.0.bias"])
    assert head.weight.shape == (3, 16) and head.weight.dtype == np.float32
    assert [e["epoch"] for e in head.epochs] == [1, 2, 3, 4, 5, 6]
    for e, (n, loss, acc, vloss, vacc, star) in zip(head.epochs, t["lines"]):
        assert (f"{e['train_loss']:.4f}", f"{e['train_acc']:.4f}", f"{e['val_loss']:.4f}", f"{e['val_acc']:.4f}") == \
            (loss, acc, vloss, vacc), n
    assert seen == [(int(n), star is not None) for n, *_, star in t["lines"]]
    assert f"kept epoch {head.best_epoch} " in t["stdout"]
    # the head applied to the features: the model's answer (the standardization folded in)
    logits = head.logits(t["x"])
    assert logits.shape == (len(t["y"]), 3)


def test_without_validation_the_regularized_optimum():
    """Without validation samples the epoch kept is the one of the lowest training objective, the cross-entropy
    plus l2 / 2 times the squared weights of the standardized features, what SGD minimizes: the head is that
    objective's optimum, as torch's LBFGS finds it. The cross-entropy alone dips far below the optimum's on the way
    there on separable features, and kept that early epoch (25 of 3000 here: 1.5 times the optimum's objective)."""
    import torch
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 6)
    x = (rng.standard_normal((18, 40)) + 4 * np.eye(3, 40)[y]).astype(np.float32)
    l2 = 0.05
    head = vggcl.train_head(x, y, epochs=3000, batch=18, lr=0.05, momentum=0.9, l2=l2)
    mean, sd = x.mean(0, dtype=np.float64), x.std(0, dtype=np.float64)  # (the training's, population sd)
    z, labels = torch.from_numpy((x - mean) / sd), torch.from_numpy(y)

    def objective(w, b):  # (w, b: a head of the standardized features)
        return torch.nn.functional.cross_entropy(z @ w.T + b, labels) + l2 / 2 * (w ** 2).sum()

    w = torch.zeros(3, 40, dtype=torch.float64, requires_grad=True)
    b = torch.zeros(3, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=500, tolerance_grad=1e-12, tolerance_change=1e-15,
                            line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = objective(w, b)
        loss.backward()
        return loss
    opt.step(closure)
    optimum = float(objective(w, b))
    kept_w = torch.from_numpy(head.weight.astype(np.float64) * sd)  # (the raw head unfolded: w' = w / sd)
    kept_b = torch.from_numpy(head.bias.astype(np.float64) + head.weight.astype(np.float64) @ mean)
    kept = float(objective(kept_w, kept_b))
    assert abs(kept / optimum - 1) < 1e-3, (kept, optimum, head.best_epoch)


def test_features_made_here_and_the_model_written(trained, tmp_path):
    """Features a program makes with a features-only Model, in the command's order, are the command's; the
    head trained on them, saved with the trunk and the preprocessing, classifies the images as the command's
    model does, with the names and the settings in its metadata."""
    t = trained
    with vggcl.Model(t["trunk"], features_only=True) as trunk:
        x = np.stack([trunk.preprocess(p, resize=36, crop=32) for p in t["paths"]])
        _, feats = trunk.forward(x)
        labels = np.array([["ant", "bee", "cat"].index(p.parent.name) for p in t["paths"]])
        everything = np.concatenate([t["x"], t["xv"]])
        for f, label in zip(feats, labels):  # (the command's split: each image in one of its sets)
            k = int(np.argmin(np.abs(everything - f).max(axis=1)))
            np.testing.assert_allclose(everything[k], f, rtol=1e-5, atol=1e-6)
            assert np.concatenate([t["y"], t["yv"]])[k] == label
        head = vggcl.train_head(t["x"], t["y"], val=(t["xv"], t["yv"]), epochs=6, seed=5, lr=0.05)
        out = tmp_path / "mine.safetensors"
        head.save(out, trunk, class_names=["ant", "bee", "cat"], preset={"resize": 36, "crop": 32},
                  metadata={"note": "made in a test"})
    with vggcl.Model(out) as mine, vggcl.Model(t["dir"] / "cli.safetensors") as cli:
        assert mine.class_names == ["ant", "bee", "cat"]
        assert mine.preset == cli.preset == {"resize": 36, "crop": 32, "mean": [0.485, 0.456, 0.406],
                                              "std": [0.229, 0.224, 0.225], "draft": False}
        assert (mine.pool5, mine.metadata("vggcl.pool5"), mine.metadata("note")) == ("keep", "keep", "made in a test")
        assert mine.metadata("vggcl.trained").startswith(f"vggcl.train_head (Python): {len(t['y'])} training samples, "
                                                         f"{len(t['yv'])} validation samples, epoch {head.best_epoch} "
                                                         "of 6 kept (val top-1 ")
        got, want = mine.classify(t["paths"], top=3), cli.classify(t["paths"], top=3)
        assert [[c for c, _, _ in r] for r in got] == [[c for c, _, _ in r] for r in want]
        for a, b in zip(got, want):
            assert [n for _, n, _ in a] == [n for _, n, _ in b]
            assert all(math.isclose(p, q, rel_tol=1e-5) for (_, _, p), (_, _, q) in zip(a, b))
        np.testing.assert_allclose(mine.forward(x)[0], head.logits(feats), rtol=1e-4, atol=1e-4)
        p = head.probabilities(feats)
        np.testing.assert_array_equal(head.probabilities(feats[0]), p[0])  # (one image's features)
        for r, row in zip(got, p):  # (classify's top 3 of 3: every class's probability)
            np.testing.assert_allclose([row[c] for c, _, _ in r], [q for _, _, q in r], rtol=1e-4, atol=1e-6)


def test_the_features_scale_not_said(trained):
    """Features of any scale train alike: those of the command scaled by 1e-9 or 1e6 give the same predictions and
    logits (standardization takes the scale out); bool labels train as 0 and 1; a feature constant but for float32
    rounding, about 1e7 with one ulp of noise, is left as it is (weight 0), not scaled up to train on the
    rounding."""
    t = trained
    base = vggcl.train_head(t["x"], t["y"], val=(t["xv"], t["yv"]), epochs=6, seed=5, lr=0.05)
    want = base.logits(t["xv"])
    for scale in (1e-9, 1e6):
        x, xv = (t["x"] * scale).astype(np.float32), (t["xv"] * scale).astype(np.float32)
        head = vggcl.train_head(x, t["y"], val=(xv, t["yv"]), epochs=6, seed=5, lr=0.05)
        assert head.best_epoch == base.best_epoch, scale
        np.testing.assert_allclose(head.logits(xv), want, rtol=1e-4, atol=1e-4 * np.abs(want).max())
    y = t["y"] == 1  # (bools: 0 and 1, as scikit-learn takes them)
    np.testing.assert_array_equal(vggcl.train_head(t["x"], y, epochs=2).weight,
                                  vggcl.train_head(t["x"], y.astype(int), epochs=2).weight)
    x = t["x"].copy()
    x[:, 0] = np.float32(1e7) + (np.arange(len(x)) % 2)  # (1e7 and its next float32)
    head = vggcl.train_head(x, t["y"], epochs=6, seed=5, lr=0.05)
    assert not head.weight[:, 0].any() and head.weight[:, 1:].any(), head.weight[:, :2]


def test_classes_without_a_sample_said(trained, caplog):
    """The class count taken from the largest label says the classes no training sample has (a stray label makes
    a head of that many classes); given as classes=, it is what was meant, unsaid."""
    t = trained
    y = t["y"].astype(np.int64)  # (the command's labels are float32)
    y[0] = 9
    with caplog.at_level(logging.WARNING, logger="vggcl"):
        head = vggcl.train_head(t["x"], y, epochs=1)
    assert head.weight.shape == (10, t["x"].shape[1])
    said = [r.getMessage() for r in caplog.records]
    assert said == ["train_head: 10 classes, the largest label (9) plus one; 6 of them have no training sample "
                    "(3, 4, 5, 6, 7 and 1 more); classes= gives the count where that is meant"], said
    caplog.clear()
    y[0] = 2**31 - 2  # (the classes without a sample counted from the labels: a range of them asked 16 GiB)
    with caplog.at_level(logging.WARNING, logger="vggcl"), pytest.raises(vggcl.InvalidInput, match="lr is -1"):
        vggcl.train_head(t["x"], y, lr=-1)  # (refused after the count is said, before a head of 2**31 - 1 classes)
    assert "2147483643 of them have no training sample (3, 4, 5, 6, 7 and 2147483638 more)" in caplog.text
    y[0] = 9
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vggcl"):
        assert vggcl.train_head(t["x"], y, classes=10, epochs=1).weight.shape[0] == 10
        vggcl.train_head(t["x"], t["y"], epochs=1)
    assert not caplog.records, caplog.records


def test_pool5_and_the_trunks_preset_recorded(trained, tmp_path):
    """A trunk loaded with pool5 dropped: its features are those the head is for, and the model written says so
    (it loads with pool5 dropped); without a preset the trunk's own (here torchvision's) is written."""
    t = trained
    with vggcl.Model(t["trunk"], features_only=True, pool5="drop") as trunk:
        _, feats = trunk.forward(np.random.default_rng(1).standard_normal((4, 3, 32, 32)).astype(np.float32))
        head = vggcl.train_head(feats, [0, 1, 0, 1], epochs=2)
        head.save(tmp_path / "drop.safetensors", trunk)
    with vggcl.Model(tmp_path / "drop.safetensors") as m:
        assert (m.pool5, m.class_names) == ("drop", None)
        assert m.preset == {"resize": 256, "crop": 224, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                            "draft": False}


def test_save_to_a_fifo_no_one_reads(trained, tmp_path, caplog):
    """A FIFO as the path, with no reader yet: said at WARNING's side (INFO) on the "vggcl" logger, then waited
    for through a signal the program handles (it ended the wait once, failing the save), written when one reads."""
    fifo = tmp_path / "m.fifo"
    os.mkfifo(fifo)
    got = []
    before = signal.signal(signal.SIGUSR1, lambda *_: None)
    poke = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGUSR1))
    reader = threading.Timer(1.5, lambda: got.append(fifo.read_bytes()))
    try:
        with vggcl.Model(trained["trunk"], features_only=True) as trunk, \
                caplog.at_level(logging.INFO, logger="vggcl"):
            head = vggcl.train_head(trained["x"], trained["y"], epochs=1)
            poke.start()
            reader.start()
            head.save(fifo, trunk)
            head.save(tmp_path / "m.safetensors", trunk)
        reader.join()
        assert got == [(tmp_path / "m.safetensors").read_bytes()]
        assert f"{fifo}: a FIFO that no process reads yet: waiting for its reader" in caplog.text
    finally:
        poke.cancel()
        reader.cancel()
        signal.signal(signal.SIGUSR1, before)


def test_training_ended_early(trained, monkeypatch):
    """on_epoch returning True ends the training there, the best epoch of those run kept (the head of a training
    of that many epochs); a Ctrl-C as on_epoch begins (ctypes hands it to sys.unraisablehook and drops it: the
    training went on to its end) ends it there too and is raised when the call returns."""
    t = trained
    three = vggcl.train_head(t["x"], t["y"], epochs=3, seed=2)
    ended = vggcl.train_head(t["x"], t["y"], epochs=50, seed=2, on_epoch=lambda e, best: e["epoch"] == 3)
    assert [e["epoch"] for e in ended.epochs] == [1, 2, 3] and ended.best_epoch == three.best_epoch
    np.testing.assert_array_equal(ended.weight, three.weight)
    np.testing.assert_array_equal(ended.bias, three.bias)
    # (pytest puts a hook of its own in place for each test: vggcl's, around it, as a program has it)
    monkeypatch.setattr(sys, "unraisablehook", vggcl._interrupt_caught(sys.unraisablehook))
    rng = np.random.default_rng(3)  # (epochs of milliseconds in C: the Ctrl-C comes while one runs)
    x, y = rng.standard_normal((4000, 256)).astype(np.float32), rng.integers(0, 2, 4000)
    seen = []
    # (Python's own handler, as at a terminal: a suite run as a shell's background job starts with SIGINT ignored)
    was = signal.signal(signal.SIGINT, signal.default_int_handler)
    ctrl_c = threading.Timer(0.3, os.kill, (os.getpid(), signal.SIGINT))
    ctrl_c.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            vggcl.train_head(x, y, epochs=2000, on_epoch=lambda e, best: seen.append(e["epoch"]))
    finally:
        ctrl_c.cancel()
        signal.signal(signal.SIGINT, was)
    assert seen and max(seen) < 2000, len(seen)
    # and without on_epoch: Python's handler runs between two epochs, in the module's callback (the loop never left
    # C: the Ctrl-C waited for the 2000 epochs' end, seconds to minutes)
    where = []

    def handler(signum, frame):
        where.append(frame.f_code.co_name)
        raise KeyboardInterrupt
    before = signal.signal(signal.SIGINT, handler)
    ctrl_c = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGINT))
    ctrl_c.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            vggcl.train_head(x, y, epochs=2000)
    finally:
        ctrl_c.cancel()
        signal.signal(signal.SIGINT, before)
    assert where == ["told"], where


def test_refusals_named(trained, tmp_path):
    """Each argument the training or the writing cannot take is refused, naming it; nothing is written."""
    t = trained
    x, y = t["x"], t["y"]
    for kwargs, kind, said in (
            ({"labels": y[:-1]}, "shape", "the labels of features are float32 of shape (7,)"),
            ({"features": x[0]}, "shape", "features of float32 and shape (16,); expected (N, D)"),
            ({"features": x.astype(np.int32)}, "arg", "features of int32"),
            ({"labels": y + 0.5}, "arg", "the labels of features are float32 of shape (8,); expected (8,) class"),
            ({"labels": np.where(y == 0, -1, y)}, "arg", "label 0 of features is -1; expected a class index from 0 "
             "to 2147483647"),
            ({"labels": np.where(y == 0, 2 ** 40, y)}, "arg", "label 0 of features is 1099511627776; expected a class "
             "index from 0 to 2147483647"),
            ({"classes": 2}, "arg", "has label 2; expected 0 to 1"),
            ({"classes": 1}, "arg", "classes is 1; expected 2 to"),
            ({"labels": np.zeros_like(y)}, "arg", "the labels are all 0: a head tells 2 classes or more"),
            ({"features": x[:0], "labels": y[:0]}, "shape", "features of shape (0, 16): no samples"),
            ({"val": x}, "arg", "val is ndarray; expected (features, labels) or None"),
            ({"val": (t["xv"][:, :3], t["yv"])}, "shape", "val's features have 3 columns, the training features 16"),
            ({"lr": "fast"}, "arg", "lr is 'fast'; expected a number"),
            ({"lr": -1.0}, "arg", "lr is -1.0; expected a finite number above 0"),
            ({"momentum": 1.0}, "arg", "momentum is 1.0; expected from 0 to below 1"),
            ({"l2": math.inf}, "arg", "l2 is inf; expected a finite number of 0 or more"),
            ({"epochs": 0}, "arg", "epochs is 0; expected 1 to 100000"),
            ({"on_epoch": 3}, "arg", "on_epoch is 3; expected a function or None"),
            ({"features": np.where(x == x[1, 2], np.nan, x)}, "arg", "training sample 1's feature 2 is nan")):
        args = {"features": x, "labels": y, **kwargs}
        with pytest.raises(vggcl.Error) as e:
            vggcl.train_head(**args)
        assert e.value.status == kind and said in str(e.value), (kwargs.keys(), str(e.value))

    def stop(epoch, best):  # (raised when the training ends: the library's loop cannot be left)
        if epoch["epoch"] == 2:
            raise KeyboardInterrupt("stopped at epoch 2")
    with pytest.raises(KeyboardInterrupt, match="stopped at epoch 2"):
        vggcl.train_head(x, y, epochs=4, on_epoch=stop)
    head = vggcl.train_head(x, y, epochs=2)
    out = tmp_path / "m.safetensors"
    with vggcl.Model(t["trunk"], features_only=True) as trunk:
        for kwargs, kind, said in (
                ({"trunk": str(t["trunk"])}, "arg", "expected the vggcl.Model whose features the head was trained on"),
                ({"class_names": ["a", "b"]}, "arg", "class_names is ['a', 'b']; expected 3 names"),
                ({"preset": {"size": 3}}, "arg", "preset has ['size']; expected resize, crop, mean, std and draft"),
                ({"preset": {"crop": -2}}, "arg", "crop is -2"),
                ({"metadata": {"k": 3}}, "arg", "metadata 'k': 3; expected str keys and str values"),
                ({"metadata": {"vggcl.pool5": "drop"}}, "arg", "metadata 'vggcl.pool5' is one save writes itself"),
                ({"metadata": {"vggcl.pool_ceil": "sideways"}}, "arg", "vggcl.pool_ceil"),
                ({"metadata": {"k": "a\0b"}}, "arg", "metadata 'k' holds a NUL; expected UTF-8 text"),
                ({"class_names": ["a", "b\ud800", "c"]}, "arg", "'vggcl.classes' holds a lone surrogate")):
            with pytest.raises(vggcl.Error) as e:
                head.save(out, **{"trunk": trunk, **kwargs})
            assert e.value.status == kind and said in str(e.value), (kwargs, str(e.value))
            assert not out.exists()
        with pytest.raises(FileNotFoundError) as e:  # (the folder not there: an OSError of its errno)
            head.save(tmp_path / "no" / "m.safetensors", trunk)
        assert isinstance(e.value, vggcl.FileError)
        with pytest.raises(IsADirectoryError):  # (a folder given for the file)
            head.save(tmp_path, trunk)
    with vggcl.Model(t["dir"] / "cli.safetensors") as whole:  # (a trunk of other features: 16 here too; a head of 5)
        five = vggcl.train_head(np.random.default_rng(2).standard_normal((10, 8)), np.arange(10) % 5, epochs=1)
        with pytest.raises(vggcl.Error, match="a head of 8 features; .* gives 16") as e:
            five.save(out, whole)
        assert e.value.status == "shape"
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert json.dumps(head.epochs)  # (plain numbers: a report a program can write)
    assert head.epochs[0]["val_loss"] is None and head.epochs[0]["val_acc"] is None  # (no validation samples)
    # the trunk's file changed since it was loaded: its convolutions are not the features', refused
    copy = tmp_path / "trunk.safetensors"
    copy.write_bytes(t["trunk"].read_bytes())
    with vggcl.Model(copy, features_only=True) as trunk:
        copy.write_bytes(t["trunk"].read_bytes() + b" ")
        with pytest.raises(vggcl.FileError, match="the file is not the one this model was loaded from"):
            head.save(out, trunk)
    assert not out.exists()
    for weight, bias in ((np.ones(16), np.zeros(1)), (np.ones((2, 16)), np.zeros(3)), (np.ones((2, 16), int),
                                                                                      np.zeros(2))):
        with pytest.raises(vggcl.Error, match="expected \\(classes, D\\) and \\(classes,\\) floating point"):
            vggcl.Head(weight, bias)


def test_a_programs_own_head(trained, tmp_path):
    """A head of a program's own weights (one class here, as a binary logistic regression's coef_ and intercept_):
    written as a model whose answer is the sigmoid of its logit."""
    t = trained
    rng = np.random.default_rng(4)
    head = vggcl.Head(rng.normal(0, 0.1, (1, 16)), [0.25])
    assert head.epochs == [] and head.best_epoch is None
    with vggcl.Model(t["trunk"], features_only=True) as trunk:
        x = np.stack([trunk.preprocess(p, resize=36, crop=32) for p in t["paths"][:3]])
        _, feats = trunk.forward(x)
        head.save(tmp_path / "binary.safetensors", trunk, class_names=["yes"], preset={"resize": 36, "crop": 32})
    with vggcl.Model(tmp_path / "binary.safetensors") as m:
        assert (m.classes, m.class_names, m.metadata("vggcl.trained")) == (1, ["yes"], None)
        got = [r[0][2] for r in m.classify(t["paths"][:3])]
    want = 1 / (1 + np.exp(-head.logits(feats)[:, 0]))
    np.testing.assert_allclose(got, want, rtol=1e-4)
    assert head.probabilities(feats).shape == (3, 1)
    np.testing.assert_allclose(head.probabilities(feats)[:, 0], got, rtol=1e-4)
