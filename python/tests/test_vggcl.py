"""The vggcl Python module against the vggcl command and torchvision.

Run by tests/python_test.sh (ctest `python`): the module installed with pip from ./python,
VGGCL_LIBRARY the built libvggcl.so, VGGCL_BINARY the built command.
"""
import copy
import ctypes
import errno
import gc
import json
import logging
import math
import os
import pickle
import re
import shutil
import subprocess
import sys
import threading
import time
import traceback
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import vggcl

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "weights"))
sys.path.insert(0, str(ROOT / "tests"))
from export_torchvision import export, gap_features, gap_model  # noqa: E402
from safetensors_io import load_file, save_file  # noqa: E402
from test_images import photo  # noqa: E402

BINARY = os.environ.get("VGGCL_BINARY", str(ROOT / "build" / "vggcl"))


def rel(a, b):
    return float(np.linalg.norm(np.asarray(a, np.float64) - b) / np.linalg.norm(b))


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("vggcl")
    model = gap_model("vgg11", 5, "keep", seed=4)
    weights = d / "w.safetensors"
    export(model, weights, "keep")
    images = []
    for i, (h, w) in enumerate([(90, 70), (64, 80), (75, 75)]):
        p = d / f"img{i}.{'png' if i % 2 else 'jpg'}"
        Image.fromarray(photo(h, w, 7 + i)).save(p, quality=90)
        images.append(p)
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 48)).astype(np.float32)
    np.save(d / "x.npy", x)
    return {"dir": d, "model": model, "weights": weights, "images": images, "x": x}


def run(*args):
    r = subprocess.run([BINARY, *map(str, args)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return r


def test_version_and_devices():
    header = (ROOT / "include" / "vggcl.h").read_text()
    assert f'#define VGGCL_VERSION_STRING "{vggcl.version()}"' in header
    # the module's version is the library's, and it looks for that version's soname
    assert f'version = "{vggcl.version()}"' in (ROOT / "python" / "pyproject.toml").read_text()
    assert vggcl.__version__ == vggcl.version()
    for name in ("classes", "features", "pool5", "device"):  # (help() showed nothing for them)
        assert getattr(vggcl.Model, name).__doc__, name
    soname = subprocess.run(["objdump", "-p", os.environ["VGGCL_LIBRARY"]], capture_output=True, text=True).stdout
    assert f"SONAME               {vggcl._SONAME}" in soname, soname
    devs = vggcl.devices()
    assert devs and all(d["name"] and d["type"] for d in devs)
    assert [d["index"] for d in devs] == list(range(len(devs)))


def test_annotations_read_on_python_3_9():
    """The package says Python 3.9 and later: no annotation is written `X | Y` (3.10's; with it, 3.9 imported the
    module only as text annotations, and typing.get_type_hints, which IDEs and checkers call, failed there), and
    every function's hints resolve."""
    import ast
    import inspect
    import typing
    assert 'requires-python = ">=3.9"' in (ROOT / "python" / "pyproject.toml").read_text()
    tree = ast.parse((ROOT / "python" / "vggcl" / "__init__.py").read_text())
    written = [a for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
               for a in [*(x.annotation for x in f.args.args + f.args.kwonlyargs), f.returns] if a is not None]
    written += [n.annotation for n in ast.walk(tree) if isinstance(n, ast.AnnAssign)]
    bar = [ast.unparse(a) for a in written if any(isinstance(n, ast.BinOp) and isinstance(n.op, ast.BitOr)
                                                  for n in ast.walk(a))]
    assert len(written) > 40 and not bar, bar
    assert not any(isinstance(n, ast.ImportFrom) and n.module == "__future__" for n in ast.walk(tree))
    hinted = 0
    for o in [*vars(vggcl).values(), *vars(vggcl.Model).values()]:
        f = o.fget if isinstance(o, property) else o
        if inspect.isfunction(f) and f.__module__ == "vggcl":
            typing.get_type_hints(f)
            hinted += 1
    assert hinted > 30


def test_forward_matches_cli_and_torch(files):
    with vggcl.Model(files["weights"]) as m:
        assert (m.classes, m.features, m.pool5) == (5, 512, "keep")
        assert m.class_names is None and m.metadata("vggcl.pool5") == "keep"
        logits, feats = m.forward(files["x"])
    d = files["dir"]
    run("run", "--weights", files["weights"], "--input", d / "x.npy", "--output", d / "y.npy", "--features",
        d / "f.npy")
    np.testing.assert_array_equal(logits, np.load(d / "y.npy"))  # the same library, device and input
    np.testing.assert_array_equal(feats, np.load(d / "f.npy"))
    with torch.no_grad():
        x = torch.from_numpy(files["x"])
        want, want_f = files["model"](x).numpy(), gap_features(files["model"], x).numpy()
    assert rel(logits, want) <= 1e-4 and rel(feats, want_f) <= 1e-4


def test_forward_of_no_images(files):
    """No rows in, no rows out, as `vggcl run` takes an empty share (it was refused); a size the network does
    not take is refused all the same; also of another float type than float32, which is copied (float64 and
    float16 were refused as "expected N >= 1")."""
    with vggcl.Model(files["weights"]) as m:
        logits, feats = m.forward(np.zeros((0, 3, 64, 48), np.float32))
        assert (logits.shape, feats.shape) == ((0, 5), (0, 512))
        for dtype in (np.float64, np.float16, ">f4"):
            logits, feats = m.forward(np.zeros((0, 3, 64, 48), dtype))
            assert (logits.shape, feats.shape) == ((0, 5), (0, 512))
            assert m.cam(np.zeros((0, 3, 64, 48), dtype))[0].shape == (0, 2, 1)
            with pytest.raises(vggcl.Error, match="too small"):
                m.forward(np.zeros((0, 3, 8, 8), dtype))
        with pytest.raises(vggcl.Error, match="too small"):
            m.forward(np.zeros((0, 3, 8, 8), np.float32))
        for dtype in (np.float32, np.float64):  # (said as "input (1, 3, 0, 32): expected N >= 1 and ...")
            for call in (m.forward, m.cam):
                with pytest.raises(vggcl.Error) as e:
                    call(np.zeros((0, 3, 0, 32), dtype))
                assert str(e.value) == ("input of shape (0, 3, 0, 32): the size of its images is refused: input (N, "
                                        "3, 0, 32): expected 1 <= H, W <= 65536"), str(e.value)
                assert e.value.status == "shape"
        for classes in (None, []):  # (cam refused N = 0, and [] as "classes float64")
            cams, chosen, logits = m.cam(np.zeros((0, 3, 64, 48), np.float32), classes)
            assert (cams.shape, chosen.shape, logits.shape) == ((0, 2, 1), (0,), (0, 5))


def test_pil_images_of_any_mode(files):
    """A PIL image of another mode than RGB is taken as PIL converts it to RGB, as ImageFolder's loader does
    (YCbCr, LAB and HSV bytes were read as RGB: other answers, unsaid; gray, palette and RGBA were refused)."""
    rgb = Image.open(files["images"][0]).convert("RGB")
    with vggcl.Model(files["weights"]) as m:
        for mode in ("YCbCr", "L", "P", "RGBA", "LA", "I", "CMYK"):
            img = rgb.convert(mode)
            assert m.classify([img], top=3) == m.classify([np.asarray(img.convert("RGB"))], top=3), mode
            np.testing.assert_array_equal(m.preprocess(img), m.preprocess(np.asarray(img.convert("RGB"))))
        # a gray one as an (H, W) array (np.array(Image.open(gray))): as PIL's "L" to RGB, alone or in a list (its
        # rows were taken as images: "paths[0] ... got uint8 of shape (224,)")
        gray = np.asarray(rgb.convert("L"))
        want = m.classify([rgb.convert("L")], top=3)
        assert m.classify(gray, top=3) == m.classify([gray], top=3) == want
        np.testing.assert_array_equal(vggcl.preprocess(gray), vggcl.preprocess(rgb.convert("L")))


def test_reference_device_and_pool5(files):
    with vggcl.Model(files["weights"], device="ref", pool5="drop") as m:
        assert m.device == "reference (plain C)"
        assert m.pool5 == "drop"
        logits, _ = m.forward(files["x"][:1])
    dropped = gap_model("vgg11", 5, "drop", seed=4)
    with torch.no_grad():
        want = dropped(torch.from_numpy(files["x"][:1])).numpy()
    assert rel(logits, want) <= 1e-5


def test_classify_matches_cli(files):
    with vggcl.Model(files["weights"]) as m:
        got = m.classify(files["images"], top=3, batch=2)
        t = m.preprocess(files["images"][0])
    r = run("classify", "--weights", files["weights"], "--top", 3, "--format", "json", *files["images"])
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(got) == len(rows) == 3
    for mine, cli in zip(got, rows):
        assert [c for c, _, _ in mine] == [t["class"] for t in cli["top"]]
        assert [n for _, n, _ in mine] == [t["label"] for t in cli["top"]]
        assert [p for _, _, p in mine] == [t["prob"] for t in cli["top"]]  # (to the last bit)
    np.testing.assert_array_equal(t, vggcl.preprocess(files["images"][0]))
    # 100 classes: numpy's pairwise sum differed from the command's in the last bit, and the command's JSON
    # (cJSON's 15 digits) from its own numbers, for one probability in three
    wide = files["dir"] / "wide.safetensors"
    export(gap_model("vgg11", 100, "keep", seed=5), wide, "keep")
    with vggcl.Model(wide) as m:
        got = m.classify(files["images"], top=100)
    r = run("classify", "--weights", wide, "--top", 100, "--format", "json", *files["images"])
    assert [[p for _, _, p in mine] for mine in got] == \
        [[t["prob"] for t in json.loads(line)["top"]] for line in r.stdout.splitlines()]
    # one class (a binary head trained with BCEWithLogitsLoss): the sigmoid of its logit, as the command gives it
    # (a softmax of one class was 1 for every image); past exp's range too
    one = files["dir"] / "one.safetensors"
    binary = gap_model("vgg11", 1, "keep", seed=8)
    for scale in (1, -3e4):
        with torch.no_grad():
            binary.classifier[0].weight.mul_(scale)
        export(binary, one, "keep")
        with vggcl.Model(one) as m:
            got = m.classify(files["images"], top=1)
        r = run("classify", "--weights", one, "--format", "json", "--logits-out", files["dir"] / "one.npy",
                *files["images"])
        assert [mine[0][2] for mine in got] == [json.loads(line)["top"][0]["prob"] for line in r.stdout.splitlines()]
        if scale == 1:
            assert len({mine[0][2] for mine in got}) > 1
        else:  # (the premise: every logit past exp's range, below)
            assert (np.load(files["dir"] / "one.npy") < -710).all()
            assert {mine[0][2] for mine in got} == {0.0}
    # a path is decoded only as far as the preset reads it: the same as the whole image decoded
    np.testing.assert_array_equal(t, vggcl.preprocess(vggcl.load_image(files["images"][0])))
    part = vggcl.preprocess(files["images"][0], resize=50, crop=30)  # decodes rows 21-69, columns 0-59 of 90x70
    np.testing.assert_array_equal(part, vggcl.preprocess(vggcl.load_image(files["images"][0]), resize=50, crop=30))
    assert t.shape == (3, 224, 224)
    rgb = vggcl.load_image(files["images"][1])
    np.testing.assert_array_equal(rgb, np.asarray(Image.open(files["images"][1]).convert("RGB")))


def test_cam_matches_cli(files):
    d = files["dir"] / "cams"
    d.mkdir()
    with vggcl.Model(files["weights"]) as m:
        x = m.preprocess(files["images"][0])[None]
        cams, chosen, logits = m.cam(x, classes=[2])
        top_cams, top, _ = m.cam(x)
    assert chosen.tolist() == [2] and top.tolist() == [int(np.argmax(logits[0]))]
    assert cams.shape == (1, 7, 7)
    run("cam", "--weights", files["weights"], "--class", 2, "--out-dir", d, files["images"][0])
    np.testing.assert_allclose(cams[0], np.load(d / "img0.cam.npy"), rtol=1e-5, atol=1e-6)
    # mean of the map + bias = the logit (the CAM paper's identity for a GAP head)
    b = files["model"].classifier[0].bias.detach().numpy()
    assert abs(float(cams[0].mean() + b[2] - logits[0, 2])) < 1e-3 * (1 + abs(float(logits[0, 2])))
    assert not np.array_equal(top_cams, cams) or top[0] == 2


def test_numbers_whatever_the_locale(files, tmp_path, monkeypatch):
    """A program in a locale whose decimal point is ',' (locale.setlocale(LC_ALL, "de_DE")): the model's
    metadata numbers are read all the same (vggcl.mean "0.5,0.25,0.125" was malformed), and vggcl_tune
    writes its table's milliseconds with a point (a row of "0,1234" is one no later run could read); the library's
    messages write their numbers with a point too ("mean 0,5,0,25,3e+38" could not be read)."""
    import locale
    if not shutil.which("localedef") or not Path("/usr/share/i18n/locales/de_DE").exists():
        pytest.skip("no localedef or de_DE locale source (Debian: locales)")
    subprocess.run(["localedef", "-i", "de_DE", "-f", "UTF-8", tmp_path / "de_DE.UTF-8"], check=True,
                   capture_output=True)
    sd = {k: v.numpy() for k, v in files["model"].state_dict().items()}
    save_file(sd, tmp_path / "m.safetensors", metadata={"vggcl.mean": "0.5,0.25,0.125", "vggcl.std": "0.5,0.5,0.5"})
    monkeypatch.setenv("LOCPATH", str(tmp_path))
    before = locale.setlocale(locale.LC_NUMERIC)
    locale.setlocale(locale.LC_NUMERIC, "de_DE.UTF-8")
    try:
        assert locale.localeconv()["decimal_point"] == ","  # (the premise)
        with vggcl.Model(tmp_path / "m.safetensors") as m:
            assert m.preset["mean"] == [0.5, 0.25, 0.125] and m.preset["std"] == [0.5, 0.5, 0.5]
        # the library's messages write numbers with a point too ("mean 0,5,0,25,..." could not be read)
        with pytest.raises(vggcl.InvalidInput, match=r"^mean 0\.5,0\.25,3e\+38 is above 1, .*divided by 255 "
                                                      r"\(0\.001961,0\.0009804,1\.176e\+36\)$"):
            vggcl.preprocess(np.zeros((2, 2, 3), np.uint8), mean=(0.5, 0.25, 3e38), std=(0.5, 0.5, 1e-3))
        if os.environ.get("VGGCL_DEVICE") == "ref":
            return  # (the reference backend is not tuned)
        monkeypatch.setenv("VGGCL_CACHE_DIR", str(tmp_path / "cache"))
        tune = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int,
                                ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_double, ctypes.c_void_p,
                                ctypes.c_int, ctypes.POINTER(ctypes.c_int), ctypes.c_char_p,
                                ctypes.c_size_t)(("vggcl_tune", vggcl._lib))
        count, path = ctypes.c_int(), ctypes.create_string_buffer(4096)
        with vggcl.Model(files["weights"]) as m:  # (batch 1 at 32x32, the defaults only: budget 0)
            assert tune(m._ctx.ptr, m._ptr, None, 0, 32, 32, 1, 0.0, None, 0, ctypes.byref(count), path, 4096) == 0
        rows = [ln.split() for ln in Path(os.fsdecode(path.value)).read_text().splitlines() if ln.startswith("conv ")]
        assert count.value > 0 and len(rows) == count.value, rows
        assert all(len(r) >= 8 and "," not in r[7] and float(r[7]) >= 0 for r in rows), rows
    finally:
        locale.setlocale(locale.LC_NUMERIC, before)


def test_resize_both_sides(files, caplog):
    """resize=(h, w): both sides, as torchvision's Resize((h, w)) (the images of three sizes then one batch); a
    model whose metadata says "vggcl.resize" "h,w" preprocesses so unasked, its preset giving (h, w) back as the
    arguments that make the same input; malformed pairs refused, naming resize."""
    from torchvision import transforms
    stretch = transforms.Compose([transforms.Resize((40, 56)), transforms.ToTensor(),
                                  transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    want = np.stack([stretch(Image.open(p).convert("RGB")).numpy() for p in files["images"]])
    for resize in ((40, 56), [40, 56], np.array([40, 56]), "40,56"):
        np.testing.assert_array_equal(vggcl.preprocess(files["images"][0], resize=resize, crop=0), want[0])
    sd = {k: v.numpy() for k, v in files["model"].state_dict().items()}
    sides = files["dir"] / "sides.safetensors"
    save_file(sd, sides, metadata={"vggcl.resize": "40,56", "vggcl.crop": "0"})
    with vggcl.Model(sides, device="ref") as m:
        assert (m.preset["resize"], m.preset["crop"]) == ((40, 56), 0)
        for i, p in enumerate(files["images"]):
            np.testing.assert_array_equal(m.preprocess(p), want[i])
            np.testing.assert_array_equal(vggcl.preprocess(p, **m.preset), want[i])
        got = m.classify(files["images"], top=1)
        assert m.preprocess(files["images"][0], resize=64).shape == (3, 82, 64)  # (given: the short side's; 90 x 70)
    # a pair given with no crop, the default's taken: said (Resize((h, w)) alone is the likely recipe), as the command
    # says it; not with a crop given, nor at 224 x 224, nor where the model's metadata names the crop
    with caplog.at_level(logging.WARNING, logger="vggcl"):
        assert vggcl.preprocess(files["images"][0], resize=(160, 224)).shape == (3, 224, 224)
        assert caplog.messages == ["resize=(160, 224) is followed by the default crop, 224 (torchvision's, after its "
                                   "Resize(256)): every image is cut or padded to 224 x 224; crop=0 for a Resize((h, "
                                   "w)) alone"]
        caplog.clear()
        vggcl.preprocess(files["images"][0], resize=(160, 224), crop=64)
        vggcl.preprocess(files["images"][0], resize=(224, 224))
        with vggcl.Model(sides, device="ref") as m:
            m.preprocess(files["images"][0], resize=(30, 40))
        assert caplog.messages == []
    logits = torch.nn.functional.softmax(files["model"](torch.from_numpy(want)), 1).detach().numpy()
    assert [a[0][0] for a in got] == list(logits.argmax(1))
    np.testing.assert_allclose([a[0][2] for a in got], logits.max(1), rtol=1e-4)
    for bad in ((0, 5), (5, 0), (40, 56, 1), (2.5, 3), (16385, 2), "40x56", (True, True), (True, 9), "٨,٩", " 8 , 9",
                "8_0,9", "1e1,9"):
        with pytest.raises(vggcl.Error, match=r"^resize is .*; expected a whole size from 0 to 16384 \(the short "
                           r"side's\), or \(height, width\), each from 1 to 16384$"):
            vggcl.preprocess(files["images"][0], resize=bad)


def test_metadata_preprocessing_and_names(files, caplog):
    sd = {k: v.numpy() for k, v in files["model"].state_dict().items()}
    named = files["dir"] / "named.safetensors"
    save_file(sd, named, metadata={"vggcl.classes": json.dumps(list("abcde")), "vggcl.resize": "64",
                                   "vggcl.crop": "64", "vggcl.draft": "1"})
    big = files["dir"] / "big.jpg"  # drafted at 1/4 for a resize of 64
    Image.fromarray(np.random.default_rng(1).integers(0, 256, (600, 520, 3), dtype=np.uint8)).save(big, quality=90)
    with vggcl.Model(named) as m:
        assert m.class_names == list("abcde")
        assert m.preprocess(files["images"][0]).shape == (3, 64, 64)
        assert m.preset["resize"] == m.preset["crop"] == 64 and m.preset["draft"] is True
        drafted = m.preprocess(big)
        np.testing.assert_array_equal(drafted, vggcl.preprocess(big, resize=64, crop=64, draft=True))
        assert not np.array_equal(drafted, m.preprocess(big, draft=False))
        with pytest.raises(vggcl.Error, match="draft is 'yes'"):
            m.preprocess(big, draft="yes")
        # draft=True given for an image already decoded: said (it was passed over unsaid); not for a path, nor for
        # the model's own draft
        pixels = np.asarray(Image.open(big))
        with caplog.at_level(logging.WARNING, logger="vggcl"):
            for call in (m.preprocess, lambda im, **kw: vggcl.preprocess(im, resize=64, crop=64, **kw)):
                np.testing.assert_array_equal(call(pixels, draft=True), call(pixels, draft=False))
                assert caplog.messages == ["draft=True decodes an image path at a fraction of its size; an image "
                                           "given decoded (an array, a PIL image) is preprocessed whole"]
                caplog.clear()
            m.preprocess(big, draft=True), m.preprocess(pixels), vggcl.preprocess(big, draft=True)
            assert caplog.messages == []
            m.classify([pixels, big, pixels], top=1, draft=np.True_)  # (classify too, once a call; numpy's True)
            assert caplog.messages == ["draft=True decodes an image path at a fraction of its size; an image given "
                                       "decoded (an array, a PIL image) is preprocessed whole"]
    run("preprocess", "--draft", "--resize", 64, "--crop", 64, "--output", files["dir"] / "big.npy", big)
    np.testing.assert_array_equal(np.load(files["dir"] / "big.npy")[0], drafted)
    with vggcl.Model(named) as m:
        assert m.preset["mean"] == [0.485, 0.456, 0.406]  # (not in the file; float32 in its shortest decimals)
        want = vggcl.preprocess(files["images"][0], **m.preset)  # the preset as arguments: the same input
        np.testing.assert_array_equal(m.preprocess(files["images"][0]), want)
        got = m.classify(files["images"][:1], top=1)
    r = run("classify", "--weights", named, "--top", 1, "--format", "json", files["images"][0])
    assert got[0][0][1] == json.loads(r.stdout)["top"][0]["label"]
    with vggcl.Model(files["weights"], features_only=True) as m:
        logits, feats = m.forward(files["x"])
        assert logits is None and feats.shape == (2, 512)


def assert_same_answers(got, want):
    """The same classes in the same order, the probabilities equal to rounding (batches of other
    sizes may run other kernels)."""
    assert [[c for c, _, _ in r] for r in got] == [[c for c, _, _ in r] for r in want]
    np.testing.assert_allclose([[q for _, _, q in r] for r in got], [[q for _, _, q in r] for r in want], rtol=1e-5)


def test_classify_skips_on_request(files, tmp_path, caplog):
    """on_error="skip", as `vggcl classify` goes on: an unreadable image, a missing one and (without a crop) one of
    another size than the list's first are None in their places, each logged at WARNING naming it, the others
    answered as without them (the default raises at the first, naming it: a folder's one broken file lost all)."""
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    imgs = files["images"]
    mixed = [imgs[0], bad, imgs[1], tmp_path / "gone.jpg", imgs[2]]

    def same(a, b):
        return [(c, n) for c, n, _ in a] == [(c, n) for c, n, _ in b] and \
            all(math.isclose(p, q, rel_tol=1e-5) for (_, _, p), (_, _, q) in zip(a, b))
    with vggcl.Model(files["weights"]) as m:
        want = m.classify(imgs, top=3, batch=2)
        with caplog.at_level(logging.WARNING, logger="vggcl"):
            got = m.classify(mixed, top=3, batch=2, on_error="skip")
        assert [g is None for g in got] == [False, True, False, True, False]
        assert all(same(g, w) for g, w in zip([got[0], got[2], got[4]], want))
        assert [r.getMessage() for r in caplog.records if r.name == "vggcl"] == [
            f"{bad}: not a JPEG, PNG, WebP, BMP, TIFF or PNM image (skipped)",
            f"{tmp_path / 'gone.jpg'}: cannot open image: No such file or directory (skipped)"]
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="vggcl"):  # (no crop, width x height: 64 x 82, 80 x 64, 64 x 64)
            got = m.classify(mixed, batch=2, resize=64, crop=0, on_error="skip")
            alone = m.classify(mixed, batch=1, resize=64, crop=0, on_error="skip")
        assert [g is None for g in got] == [False, True, True, True, True]
        assert [g is None for g in alone] == [False, True, False, True, False]  # (each its own size)
        said = [r.getMessage() for r in caplog.records if r.name == "vggcl"]
        assert f"classify: {imgs[1]} preprocesses to 80 x 64 pixels (width x height), unlike {imgs[0]}'s 64 x 82; " \
               "give crop, or resize=(h, w), or batch=1 (each image at its own size) (skipped)" in said
        # (a batch that begins with another size: compared with the list's first, as the command does)
        with pytest.raises(vggcl.InvalidInput, match=re.escape(f"classify: {imgs[1]} preprocesses to 80 x 64 pixels "
                                                               f"(width x height), unlike {imgs[0]}'s 64 x 82")):
            m.classify([imgs[0], imgs[0], imgs[1], imgs[1]], batch=2, resize=64, crop=0)
        with pytest.raises(vggcl.InvalidInput, match=f"{bad}: not a JPEG"):
            m.classify(mixed)
        # an array the library refuses named by its place, as a path by its name (it said "image of 64 x 0
        # pixels", no more: which frame of a batch?)
        img = vggcl.load_image(imgs[0])
        with pytest.raises(vggcl.InvalidInput, match=r"^classify: paths\[2\]: image of \d+ x 0 pixels"):
            m.classify([img, img, img[:0], img], crop=32)
        with pytest.raises(vggcl.InvalidInput, match=r"^preprocess: image of \d+ x 0 pixels"):
            vggcl.preprocess(img[:0])
        with pytest.raises(vggcl.InvalidInput, match="on_error is 'ignore'; expected \"raise\" or \"skip\""):
            m.classify(imgs, on_error="ignore")


def test_classify_threads(files, monkeypatch):
    """Decoding on threads ahead of the device: the same answers, in order, for any thread count and
    batch; an unreadable image raises naming it, wherever it is."""
    paths = files["images"] * 5  # 15 images: batches of 4 leave a remainder
    with vggcl.Model(files["weights"]) as m:
        one = m.classify(paths, top=2, batch=4, threads=1)
        assert len(one) == 15
        for threads in (3, 8):  # the same batches: the same bytes
            assert m.classify(paths, top=2, batch=4, threads=threads) == one, threads
        for threads, batch in ((8, 1), (2, 15)):
            assert_same_answers(m.classify(paths, top=2, batch=batch, threads=threads), one)
        for k in range(1, 5):  # each copy of the three images answered as the first
            assert_same_answers(one[3 * k:3 * k + 3], one[:3])
        # the decoding runs on the pool's threads, not the caller's
        seen, prep = set(), vggcl._preprocess
        monkeypatch.setattr(vggcl, "_preprocess",
                            lambda ctx, path, p, *who: seen.add(threading.get_ident()) or prep(ctx, path, p, *who))
        assert m.classify(paths, top=2, batch=4, threads=3) == one
        assert len(seen) > 1 and threading.get_ident() not in seen
        monkeypatch.undo()
        bad = files["dir"] / "broken.jpg"
        bad.write_bytes(b"\xff\xd8 not a jpeg")
        for at in (0, 9, 15):
            with pytest.raises(vggcl.Error, match="broken.jpg"):
                m.classify(paths[:at] + [bad] + paths[at:], batch=4, threads=3)
        with pytest.raises(vggcl.Error, match="threads"):
            m.classify(paths, threads=0)
        listed = [(d["type"], d["name"]) for d in vggcl.devices() if d["index"] == m.device_index]
        assert listed == [(m.device_type, m.device)], (m.device_index, listed)
    with vggcl.Model(files["weights"], device="ref") as m:
        assert (m.device_type, m.device_index) == ("", None)


def test_errors_carry_the_message(files):
    with pytest.raises(vggcl.Error, match="nope.safetensors"):
        vggcl.Model(files["dir"] / "nope.safetensors")
    with pytest.raises(vggcl.Error, match="no-such-device-xyz"):
        vggcl.Model(files["weights"], device="no-such-device-xyz")
    # an empty path named as one (the message began with ": cannot open"); a head not found names head=
    for call in (lambda: vggcl.Model(""), lambda: vggcl.load_image(""), lambda: vggcl.preprocess("")):
        with pytest.raises(vggcl.Error, match=r"^'' \(an empty path\): cannot open (weights file|image): No such"):
            call()
    with pytest.raises(vggcl.Error, match=r"head tensor 'nope.weight' not found.*head= in Python\)"):
        vggcl.Model(files["weights"], head="nope")
    with vggcl.Model(files["weights"]) as m:
        with pytest.raises(vggcl.Error, match="too small.*at least 32x32"):
            m.forward(np.zeros((1, 3, 8, 8), np.float32))  # too small for five pools
        with pytest.raises(vggcl.Error, match=r"\(N, 3, H, W\)"):
            m.forward(np.zeros((3, 64, 64), np.float32))
        bad = files["dir"] / "bad.png"
        bad.write_bytes(b"not an image")
        with pytest.raises(vggcl.Error, match="bad.png"):
            m.classify([bad])
    # a tensor name's control characters escaped, as the vggcl command shows them (a hostile file's "\x1b]2;"
    # terminal title or a right-to-left override reached the terminal that printed the traceback)
    hdr = json.dumps({"a\x1b]2;x\x07\u202eb\n": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}).encode()
    (files["dir"] / "esc.safetensors").write_bytes(len(hdr).to_bytes(8, "little") + hdr)
    with pytest.raises(vggcl.Error) as e:
        vggcl.Model(files["dir"] / "esc.safetensors")
    assert "tensor 'a\\x1b]2;x\\x07\\u202eb\n  ': data_offsets [4, 0] are reversed" in str(e.value), str(e.value)
    (files["dir"] / "esc.safetensors").unlink()
    # and in the module's own messages (a closed model's), once through pickle too
    esc = files["dir"] / "x\x1b]2;t\x07\u202e.safetensors"
    shutil.copy(files["weights"], esc)
    m = vggcl.Model(esc, device="ref")
    m.close()
    with pytest.raises(vggcl.Error) as e:
        m.forward(files["x"])
    assert "x\\x1b]2;t\\x07\\u202e.safetensors: the model is closed" in str(e.value), str(e.value)
    assert str(pickle.loads(pickle.dumps(vggcl.Error("a\nb\x1b")))) == "a\n  b\\x1b"
    esc.unlink()
    for pool5 in ("sometimes", ["keep"]):  # (a list: TypeError, unhashable)
        with pytest.raises(vggcl.Error, match="pool5"):
            vggcl.Model(files["weights"], pool5=pool5)
    # a mean and std each within bounds whose pixel values pass a float's range: refused (it crashed the
    # interpreter, reading the NULL model's path)
    with pytest.raises(vggcl.Error, match="past a float's range"):
        vggcl.preprocess(files["images"][0], std=(1e-40, 1, 1))
    # a mean or std on the scale of 0..255 (every input a near-constant, the answers wrong, unsaid): refused
    for kwargs, said in ((dict(mean=(123.68, 116.78, 103.94)), r"mean 123.68,116.78,103.94 is above 1"),
                         (dict(std=(58.4, 57.1, 57.4)), r"std 58.4,57.1,57.4 is 10 or above")):
        with pytest.raises(vggcl.Error, match=said + r".*divided by 255"):
            vggcl.preprocess(files["images"][0], **kwargs)


def test_max_batch(files):
    """The largest batch that fits, as a pass checks it: up to the limit, 0 for an image too large for any
    memory, the model's smallest input (its Error's status "shape") and the arguments' kinds checked."""
    for device in ("ref", None):
        with vggcl.Model(files["weights"], device=device) as m:
            assert m.max_batch(64, limit=3) == m.max_batch(64, 64, limit=3) == 3, device
            assert 3 <= m.max_batch(64) <= 4096
            assert m.max_batch(64, limit=2**40) >= m.max_batch(64)  # (capped to a C int, not refused)
            assert m.max_batch(46340, limit=8) == 0, device  # (an image's first map: 128 GiB pooled, 512 GiB not)
            with pytest.raises(vggcl.Error, match="too small") as e:
                m.max_batch(8)
            assert e.value.status == "shape"  # (None: max_batch's -1 has no kind)
            with pytest.raises(vggcl.Error, match="pixels a map; at most 2\\^31 - 1") as e:  # (a pass refuses it)
                m.max_batch(65536)
            assert e.value.status == "shape"
            for bad in (dict(h=0), dict(h=64, limit=0), dict(h=64.5), dict(h=True), dict(h=2**40)):
                with pytest.raises(vggcl.Error):
                    m.max_batch(**bad)


def test_misuse_raises_errors(files, monkeypatch):
    """What a caller gets wrong raises vggcl.Error naming it, never a crash or a silent cast: a closed model
    (it crashed the interpreter), an index from devices() as an int (0 was taken for "no device given") or
    numpy's, a device as bytes (read "b'ref'"), one of another kind, metadata read as `vggcl classify` reads
    it, a features-only model asked to classify, images of two sizes in a batch without a crop, a float
    image, an input that is complex, text or ragged, a copy of a model (a shallow one freed it twice), class
    numbers that are not integers, top 0, and an image the preset cannot resize (named)."""
    m = vggcl.Model(files["weights"], device="ref")
    m.close()
    assert repr(m) == f"<vggcl.Model {str(files['weights'])!r} (closed)>"
    for use in (lambda: m.forward(files["x"]), lambda: m.classes, lambda: m.device, lambda: m.metadata("k"),
                lambda: m.classify(files["images"]), lambda: m.cam(files["x"]), m.__enter__):  # (`with` took it)
        with pytest.raises(vggcl.Error, match="the model is closed"):
            use()
    index = next(d["index"] for d in vggcl.devices())
    with monkeypatch.context() as env:
        env.setenv("VGGCL_DEVICE", "ref")
        with vggcl.Model(files["weights"], device=index) as by_int, vggcl.Model(files["weights"],
                                                                                device=str(index)) as by_str:
            assert by_int.device == by_str.device != "reference (plain C)"
            assert by_int.device_index == by_str.device_index == index
        with vggcl.Model(files["weights"], device=np.int64(index)) as by_np, vggcl.Model(files["weights"],
                                                                                          device=b"ref") as by_bytes:
            assert (by_np.device_index, by_bytes.device) == (index, "reference (plain C)")  # (b"ref" read "b'ref'")
        for bad in (True, 1.5, ["ref"]):
            with pytest.raises(vggcl.Error, match="device is"):
                vggcl.Model(files["weights"], device=bad)
        # an empty spec is refused, as `--device ""` is: the library's default was taken, unsaid (a variable
        # left unset chose the first device); None is the default
        for empty in ("", "  ", b""):
            with pytest.raises(vggcl.Error, match=r"^device is (b?'\s*'); expected \"ref\", \"P:D\", an index or a "
                               r"name \(None: \$VGGCL_DEVICE, else the first GPU, else the first device\)$") as e:
                vggcl.Model(files["weights"], device=empty)
            assert e.value.status == "arg" and isinstance(e.value, ValueError)
    sd = {k: v.numpy() for k, v in files["model"].state_dict().items()}
    for meta, ok in (({"vggcl.resize": "72.0", "vggcl.crop": "64"}, True),
                     ({"vggcl.mean": "0.5"}, False), ({"vggcl.std": "0,0,0"}, False), ({"vggcl.crop": "nan"}, False)):
        path = files["dir"] / "meta.safetensors"
        save_file(sd, path, metadata=meta)
        r = subprocess.run([BINARY, "classify", "--weights", path, "--format", "json", files["images"][0]],
                           capture_output=True, text=True, timeout=600)
        with vggcl.Model(path, device="ref") as mm:
            if ok:
                assert r.returncode == 0, r.stderr
                assert mm.preprocess(files["images"][0]).shape == (3, 64, 64)
            else:
                assert r.returncode == 1 and "__metadata__" in r.stderr, r.stderr
                key = next(iter(meta))
                with pytest.raises(vggcl.Error, match=f'meta.safetensors: __metadata__ "{key}"'):
                    mm.preprocess(files["images"][0])
                given = {"vggcl.crop": 64, "vggcl.mean": (0, 0, 0), "vggcl.std": "1,1,1"}[key]  # not read then
                assert mm.preprocess(files["images"][0], **{key[6:]: given}).shape[0] == 3
    with vggcl.Model(files["weights"], device="ref", features_only=True) as mm:
        with pytest.raises(vggcl.InvalidInput, match="features_only") as e:
            mm.classify(files["images"])
        assert e.value.status == "arg"  # (as cam's refusal of it)
    with vggcl.Model(files["weights"], device="ref") as mm:
        with pytest.raises(vggcl.Error, match=r"img1.png preprocesses to .*, unlike .*img0.jpg"):
            mm.classify(files["images"][:2], crop=0, resize=64)
        with pytest.raises(vggcl.Error, match="uint8"):
            mm.preprocess(np.zeros((40, 40, 3), np.float32))
        for x in (files["x"] + 1j, "abc", [[1.0], [2.0, 3.0]]):  # (complex was cast with a warning)
            with pytest.raises(vggcl.Error, match=r"input.*expected \(N, 3, H, W\)"):
                mm.forward(x)
        # channels last, or one image without its batch axis: said how to give it (a bare "expected")
        for x, hint in ((files["x"].transpose(0, 2, 3, 1), "channels last? put them second: x.transpose(0, 3, 1, 2)"),
                        (files["x"][0], "one image? add the batch axis: x[None]")):
            with pytest.raises(vggcl.InvalidInput, match=re.escape(f"; expected (N, 3, H, W) float32 ({hint})")):
                mm.forward(x)
        for copy_of in (copy.copy, copy.deepcopy, pickle.dumps):  # (a shallow copy freed the model twice)
            with pytest.raises(vggcl.Error, match="cannot be"):
                copy_of(mm)
        assert mm.classes == 5
        with pytest.raises(vggcl.Error, match="integers"):
            mm.cam(files["x"], classes=np.array([1.9, 0.0]))
        with pytest.raises(vggcl.Error, match=r"int64 of shape \(2,\): classes\[0\] is 4294967296; expected"):
            mm.cam(files["x"], classes=np.array([2 ** 32, 0]))
        with pytest.raises(vggcl.Error, match=r"classes\[1\] is -2; expected \(2,\) integers from -1"):
            mm.cam(files["x"], classes=[0, -2])  # (the value named: the message seemed to blame the shape)
        with pytest.raises(vggcl.Error, match="top"):
            mm.classify(files["images"], top=0)
        with pytest.raises(TypeError, match=r"^Model.classify\(\) got an unexpected keyword argument 'crops'$"):
            mm.classify(files["images"], crops=3)  # (it named the private Model._preset)
        strip = files["dir"] / "strip.png"
        Image.fromarray(np.zeros((1, 5000, 3), np.uint8)).save(strip)
        with pytest.raises(vggcl.Error, match=r"strip.png: image of 5000 x 1 pixels \(width x height\)"):
            mm.classify([strip])


def test_arguments_of_the_wrong_kind(files):
    """What ctypes would pass on wrongly raises vggcl.Error naming the argument: a NUL byte (C read the
    path up to it: another file was loaded), a str given where a list of paths goes (each character
    was taken for a path), arguments of the wrong type (AttributeError, TypeError and ValueError from
    Python's insides), a fractional size (cut to a whole one); names and messages keep their bytes: an
    empty class name (all the names were dropped), a file name that is not UTF-8 (U+FFFD in the message; now
    its byte escaped, as the vggcl command shows it); classify's batch and threads within the command's bounds
    (2**63 was islice's ValueError)."""
    image = str(files["images"][0])
    with pytest.raises(vggcl.Error, match="NUL byte"):
        vggcl.load_image(image + "\0.does-not-exist")
    with pytest.raises(vggcl.Error, match="NUL byte"):
        vggcl.Model(str(files["weights"]) + "\0x", device="ref")
    data = Path(image).read_bytes()  # (a file's bytes given for its path: the message held them all)
    with pytest.raises(vggcl.Error, match=r"the image b'.{60,72}\.\.\. \(" + str(len(data)) +
                       r" bytes\) holds a NUL byte; a path is expected, not the file's bytes$"):
        vggcl.load_image(data)
    # an image given for a path: named by its type and shape (its repr, dozens of lines of numbers, was the message)
    with pytest.raises(vggcl.Error, match=r"^the image is a numpy\.ndarray of uint8 and shape \(40, 30, 3\); expected "
                       r"a str, bytes or os.PathLike$"):
        vggcl.load_image(np.zeros((40, 30, 3), np.uint8))
    with vggcl.Model(files["weights"], device="ref") as m:
        assert repr(m) == f"<vggcl.Model {str(files['weights'])!r}>"
        # (64x64: the reference at the default 224x224 took 20 s of this suite's 60)
        assert m.classify(image, top=2, resize=64, crop=64) == m.classify([image], top=2, resize=64, crop=64)
        # one image, an array or a PIL image, stands for a list of it (the array's rows were taken for images)
        pil = Image.open(image).convert("RGB")
        assert m.classify(np.asarray(pil), top=2, resize=64, crop=64) == m.classify(image, top=2, resize=64, crop=64)
        assert m.classify(pil, top=2, resize=64, crop=64) == m.classify(image, top=2, resize=64, crop=64)
        with pytest.raises(vggcl.Error) as e:  # (the float image's hint for a float image only; (4, 3): a gray one)
            m.classify([np.zeros((4, 3, 2), np.uint8)])
        assert "float" not in str(e.value) and "uint8 of shape (4, 3, 2)" in str(e.value)
        with pytest.raises(vggcl.Error, match="a float image would be cut to bytes"):
            m.classify(np.zeros((8, 8, 3), np.float32))
        # torchvision's (C, H, W) images (ToTensor's floats, read_image's bytes): the channels said first, then the
        # bytes (the float hint alone was refused again); followed, the hints give the image's answers
        chw = np.ascontiguousarray(np.asarray(pil).transpose(2, 0, 1))
        first = r"of shape \(3, \d+, \d+\) \(its channels first, as torchvision's ToTensor and read_image give them: "
        with pytest.raises(vggcl.Error, match=first + r"put them last, x\.permute\(1, 2, 0\) or "
                           r"x\.transpose\(1, 2, 0\); a float image would be cut to bytes"):
            m.classify(chw / np.float32(255))
        with pytest.raises(vggcl.Error, match=first + r"put them last, [^;]*\)$"):
            m.classify(chw)
        with pytest.raises(vggcl.Error, match=r"of shape \(1, \d+, \d+\) \(its channels first.*: take x\[0\], a gray"):
            m.preprocess(chw[:1])
        want = m.classify(image, top=2, resize=64, crop=64)
        assert m.classify(chw.transpose(1, 2, 0), top=2, resize=64, crop=64) == want
        try:  # a torch tensor's hints, torch's calls (it has no astype), followed
            import torch
        except ImportError:
            torch = None
        if torch is not None:
            tensor = torch.from_numpy(chw) / 255.0
            with pytest.raises(vggcl.Error, match=r"x\.permute\(1, 2, 0\).*\(x \* 255\)\.round\(\)\.byte\(\)\)$"):
                m.classify(tensor)
            assert m.classify((tensor.permute(1, 2, 0) * 255).round().byte(), top=2, resize=64, crop=64) == want
        for call, what in ((lambda: m.classify([image], batch=2.5), "batch"),
                           (lambda: m.classify([image], top=1.5), "top"),
                           (lambda: m.classify([image], threads="2"), "threads"), (lambda: m.metadata(5), "key"),
                           (lambda: m.classify([5]), "uint8 image"), (lambda: m.preprocess(image, resize=2.7), "resize"),
                           (lambda: m.preprocess(image, crop=True), "crop"),
                           (lambda: m.classify([], batch=2**63), "batch is 9223372036854775808; expected 1 to 4096"),
                           (lambda: m.classify([], threads=257), "threads is 257; expected 1 to 256")):
            with pytest.raises(vggcl.Error, match=what):
                call()
        assert m.preprocess(image, resize=72.0, crop=64).shape == (3, 64, 64)  # (a whole number as a float)
    with pytest.raises(vggcl.Error, match="conv must be"):
        vggcl.Model(files["weights"], device="ref", conv=3)
    sd = {k: v.numpy() for k, v in files["model"].state_dict().items()}
    named = files["dir"] / "empty-name.safetensors"
    save_file(sd, named, metadata={"vggcl.classes": json.dumps(["", "b", "c", "d", "e"])})
    with vggcl.Model(named, device="ref") as m:
        assert m.class_names == ["", "b", "c", "d", "e"]
    odd = os.fsdecode(bytes(files["dir"]) + b"/caf\xe9.png")
    Path(odd).write_bytes(b"not an image")
    with pytest.raises(vggcl.Error) as e:
        vggcl.load_image(odd)
    assert odd.replace("\udce9", "\\xe9") in str(e.value), str(e.value)
    os.unlink(odd)


def test_threads_sharing_a_model(files):
    """Threads that share a model take turns: the same logits as one thread (6 of 30 differed, the passes
    mixing in the model's buffers), and close() from another thread waits for the call in progress, after
    which calls say the model is closed (PoCL aborted the interpreter, the reference read freed memory)."""
    x = np.random.default_rng(3).standard_normal((2, 3, 64, 64)).astype(np.float32)
    xs = [x + k for k in range(6)]
    m = vggcl.Model(files["weights"])
    want = [m.forward(a)[0] for a in xs]
    got = [None] * len(xs)

    def one(k):
        for _ in range(3):
            got[k] = m.forward(xs[k])[0]
    threads = [threading.Thread(target=one, args=(k,)) for k in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for k in range(len(xs)):
        np.testing.assert_array_equal(got[k], want[k])
    started, results = threading.Event(), []

    def busy():
        try:
            for _ in range(20):
                results.append(m.forward(x)[0])
                started.set()  # (after a pass: close() then comes while the others run)
        except vggcl.Error as e:
            results.append(e)
    t = threading.Thread(target=busy)
    t.start()
    started.wait()
    m.close()
    t.join()
    passes = [r for r in results if not isinstance(r, vggcl.Error)]
    errors = [r for r in results if isinstance(r, vggcl.Error)]
    assert passes and all(np.array_equal(r, want[0]) for r in passes)
    assert len(errors) <= 1 and all("the model is closed" in str(e) for e in errors), errors


def test_classify_asks_its_context_under_the_lock(files, monkeypatch):
    """classify asks the model's context for its decoding threads with the model's lock held: a close() on
    another thread waits (it freed the context under that call, which then read freed memory)."""
    real, seen, closing = vggcl._decode_threads_default, [], []

    def spy(ctx):
        closing.append(threading.Thread(target=m.close))
        closing[0].start()
        closing[0].join(0.5)
        seen.append(closing[0].is_alive())  # (the close waiting for the lock)
        return real(ctx)
    monkeypatch.setattr(vggcl, "_decode_threads_default", spy)
    m = vggcl.Model(files["weights"], device="ref")
    try:
        m.classify(files["images"][:1], top=1)
    except vggcl.Error as e:  # (the close may come before the pass, or after it)
        assert "the model is closed" in str(e)
    closing[0].join()
    assert seen == [True]
    with pytest.raises(vggcl.Error, match="the model is closed"):
        m.classify(files["images"][:1])


@pytest.mark.skipif(sys.version_info < (3, 10), reason="typing evaluates `X | None` from Python 3.10 on")
def test_annotations():
    """The public calls are annotated (they were not: every argument Any to an IDE or mypy), the annotations
    resolve, and each says what it returns."""
    import typing
    calls = [vggcl.version, vggcl.devices, vggcl.load_image, vggcl.preprocess, *(
        getattr(vggcl.Model, n) for n in ("__init__", "forward", "classify", "cam", "max_batch", "preprocess",
                                          "metadata", "close"))]
    calls += [getattr(vggcl.Model, n).fget for n in ("device", "device_index", "device_type", "classes", "features",
                                                     "pool5", "class_names", "preset")]
    for call in calls:
        hints = typing.get_type_hints(call)
        assert "return" in hints, call.__qualname__
    assert typing.get_type_hints(vggcl.Model.forward)["x"] is typing.Any


class MyFileError(vggcl.FileError):
    """A program's own kind of FileError (pickled by reference: at module level)."""


def test_error_kinds_and_odd_arguments(files):
    """vggcl.Error carries the library's kind of failure (status), None where this module refused the
    argument; a float input that numpy holds unaligned is copied (C read it as float *), a tensor that
    requires grad and a non-list of paths raise vggcl.Error (RuntimeError, TypeError), features_only must
    be a bool ("no" loaded the trunk alone), head "" is refused (it meant the default), a conv name that is
    not ASCII is refused by name (UnicodeEncodeError)."""
    with pytest.raises(vggcl.Error) as e:
        vggcl.Model(files["dir"] / "nope.safetensors")
    assert e.value.status == "io"
    # each library kind also Python's own exception of it (a missing file could not be caught as OSError)
    with pytest.raises(OSError) as e:
        vggcl.Model(files["dir"] / "nope.safetensors")
    assert isinstance(e.value, vggcl.FileError) and e.value.status == "io"
    # and the OSError subclass of its errno, with errno, strerror and filename as open()'s (`except
    # FileNotFoundError` missed a model not there); its text is vggcl's message, through pickle too
    missing = files["dir"] / "nope.safetensors"
    for call in (lambda: vggcl.Model(missing), lambda: vggcl.load_image(missing),
                 lambda: vggcl.preprocess(str(missing))):
        with pytest.raises(FileNotFoundError) as e:
            call()
        assert isinstance(e.value, vggcl.FileError) and e.value.status == "io"
        assert (e.value.errno, e.value.strerror, e.value.filename) == (errno.ENOENT, os.strerror(errno.ENOENT),
                                                                     str(missing))
        assert str(e.value).startswith(f"{missing}: cannot open ") and "[Errno" not in str(e.value)
        again = pickle.loads(pickle.dumps(e.value))
        assert (type(again), str(again), again.errno, again.filename) == (type(e.value), str(e.value), e.value.errno,
                                                                         e.value.filename)
        # (named FileError where a traceback names it: it read "vggcl._FileNotFound")
        assert traceback.format_exception_only(type(e.value), e.value)[-1] == f"vggcl.FileError: {e.value}\n"
    with pytest.raises(IsADirectoryError) as e:
        vggcl.load_image(files["dir"])
    assert isinstance(e.value, vggcl.FileError) and e.value.errno == errno.EISDIR
    with pytest.raises(vggcl.FileError) as e:  # (opened, but not a file: the system refused nothing)
        vggcl.Model("/dev/null")
    assert (type(e.value), e.value.errno, e.value.filename) == (vggcl.FileError, None, None)
    with pytest.raises(RuntimeError) as e:
        vggcl.Model(files["weights"], device="no-such-device")
    assert (type(e.value), e.value.status) == (vggcl.DeviceError, "no_device")
    assert [type(vggcl.Error("x", k)).__name__ for k in ("arg", "format", "shape", "nomem", "device_memory", None)] \
        == ["InvalidInput"] * 3 + ["OutOfMemory"] * 2 + ["Error"]
    again = pickle.loads(pickle.dumps(MyFileError("m", "io", errno.ENOENT, "f")))  # (a program's own kind: itself)
    assert (type(again), again.errno, again.filename) == (MyFileError, errno.ENOENT, "f")
    again = pickle.loads(pickle.dumps(vggcl.Error("m", "device_memory")))
    assert (type(again), again.status, str(again)) == (vggcl.OutOfMemory, "device_memory", "m")
    # a file's name escaped in an OSError's message too (OSError's own __init__ kept the raw text: an ESC)
    hostile = files["dir"] / "no\x1b[31mdir" / "x.safetensors"
    with pytest.raises(vggcl.FileError) as e:
        vggcl.Model(hostile)
    assert "\x1b" not in str(e.value) and "\\x1b" in str(e.value) and e.value.args == (str(e.value),)
    with vggcl.Model(files["weights"], device="ref") as m:
        with pytest.raises(ValueError) as e:
            m.forward(np.zeros((1, 3, 8, 8), np.float32))
        assert e.value.status == "shape" and isinstance(e.value, vggcl.InvalidInput)
        with pytest.raises(vggcl.Error) as e:
            m.forward(np.zeros((3, 64, 64), np.float32))
        assert e.value.status == "shape" and isinstance(e.value, vggcl.InvalidInput)
        raw = np.zeros(files["x"].size * 4 + 1, np.uint8)
        unaligned = np.frombuffer(raw.data, np.float32, files["x"].size, offset=1).reshape(files["x"].shape)
        unaligned[...] = files["x"]
        assert not unaligned.flags.aligned
        np.testing.assert_array_equal(m.forward(unaligned)[0], m.forward(files["x"])[0])
        with pytest.raises(vggcl.Error, match="input: .*grad"):
            m.forward(torch.zeros((1, 3, 64, 64), requires_grad=True))
        with pytest.raises(vggcl.Error, match="paths is 5"):
            m.classify(5)
    # raised by a caller: any message, as Exception takes (Error(404) failed in the escaping of control characters)
    assert (str(vggcl.Error(404)), str(vggcl.Error()), vggcl.Error(None, "io").status) == ("404", "", "io")
    # a std that float32 holds as 0 is refused as one of 0 is (said "std 0,1,1", which was not given)
    for std in ((0, 1, 1), (1e-50, 1, 1)):
        with pytest.raises(vggcl.Error, match=r"std > 0, also as a float32 holds it") as e:
            vggcl.preprocess(np.zeros((2, 2, 3), np.uint8), std=std)
        assert e.value.status == "arg"
    for kwargs, said in ((dict(features_only="no"), "features_only is 'no'"), (dict(head=""), "head is empty"),
                         (dict(conv="\udcff"), "conv must be"), (dict(pool5=1), "pool5 must be")):
        with pytest.raises(ValueError, match=said):  # (the module's own refusals are InvalidInput, "arg", too)
            vggcl.Model(files["weights"], device="ref", **kwargs)
    # a misuse of a model is no input's fault: Error alone, status None
    m = vggcl.Model(files["weights"], device="ref")
    m.close()
    with pytest.raises(vggcl.Error, match="the model is closed") as e:
        m.forward(files["x"])
    assert e.value.status is None and not isinstance(e.value, ValueError)


def test_limits_of_c_and_of_ctypes(files):
    """What C would get wrong is refused in Python: a dimension past a C int (ctypes cut it to 32 bits, unsaid:
    a (1, 3, 2**32 + 8, 8) input gave an 8 x 8 image's logits), integer or bool pixels as an input (not
    normalized), a negative device index (taken as part of a device's name), a mean past float32 (inf in C);
    images of many sizes do not grow memory (np.ctypeslib.as_array made a ctypes type per shape, kept for
    good); a Model that fails to load frees its context at once, not when the exception is dropped."""
    with vggcl.Model(files["weights"], device="ref") as m:
        for shape in ((1, 3, 2**32 + 8, 8), (0, 3, 2**31, 8), (2**31, 3, 8, 8)):
            with pytest.raises(vggcl.Error, match="must fit in a C int"):
                m.forward(np.broadcast_to(np.float32(0), shape))
        with pytest.raises(vggcl.Error, match="must fit in a C int"):
            m.preprocess(np.broadcast_to(np.uint8(0), (2**32 + 8, 8, 3)))
        # a view the pass would refuse is refused before its copy is made (24 GiB of a broadcast zero were
        # asked for: MemoryError, or the copy made and then refused)
        tracemalloc.start()  # (numpy's allocations are traced: a copy made first would show, whatever the RAM)
        try:
            with pytest.raises(vggcl.Error, match="pixels a map; at most 2") as e:
                m.forward(np.broadcast_to(np.float32(0), (1, 3, 46341, 46341)))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert e.value.status == "shape" and peak < 2**26, peak
        for dtype in (np.uint8, np.uint16, np.int8, np.int64, bool):
            with pytest.raises(vggcl.Error, match="input of .*normalized"):
                m.forward(files["x"].astype(dtype))
        np.testing.assert_array_equal(m.forward(files["x"].astype(np.float64))[0], m.forward(files["x"])[0])
        with pytest.raises(vggcl.Error, match="mean is"):
            m.preprocess(files["images"][0], mean=(1e39, 0, 0))
        image = vggcl.load_image(files["images"][0])

        def array_types():
            kind = type(ctypes.c_ubyte * 1)
            return sum(1 for o in gc.get_objects() if type(o) is kind)
        before = array_types()
        for k in range(40):
            got = m.preprocess(image[:20 + k, :30 + k], resize=0, crop=0)
            assert got.shape == (3, 20 + k, 30 + k)
        vggcl.load_image(files["images"][1])
        assert array_types() < before + 5
    with pytest.raises(vggcl.Error, match="device is -1"):
        vggcl.Model(files["weights"], device=-1)
    with pytest.raises(vggcl.Error) as e:
        vggcl.Model(files["dir"] / "nope.safetensors", device="ref")
    tb = e.value.__traceback__
    while tb.tb_next:
        tb = tb.tb_next
        half_made = tb.tb_frame.f_locals.get("self", None)
        if isinstance(half_made, vggcl.Model):
            break
    assert isinstance(half_made, vggcl.Model) and half_made._ctx.ptr is None


def test_classify_ranks_by_logit(files, tmp_path):
    """classify ranks by logit, as torch.topk: with logits thousands apart every probability but the top
    one is 0 in double, and those classes came out in index order."""
    model = gap_model("vgg11", 20, "keep", seed=5)
    with torch.no_grad():
        model.classifier[0].weight.mul_(3e4)
    weights = tmp_path / "far.safetensors"
    export(model, weights, "keep")
    with vggcl.Model(weights, device="ref") as m:
        x = np.stack([m.preprocess(p, resize=64, crop=64) for p in files["images"]])
        logits = torch.from_numpy(m.forward(x)[0])
        for top in (7, 20):
            answers = m.classify(files["images"], top=top, resize=64, crop=64)
            for got, lg in zip(answers, logits):
                assert [c for c, _, _ in got] == torch.topk(lg, top).indices.tolist()


def test_classify_not_finite(files, tmp_path):
    """An image whose logits are not finite (a std of 1e-37, no mean and a first layer's weights 1e4 times
    larger: every image but a black one overflows float32) raises naming it, as `vggcl classify` names and
    skips it (its probabilities were NaN, unsaid); an image given as an array is named by its place; an
    item that is neither path nor image says so."""
    model = gap_model("vgg11", 3, "keep", seed=6)
    with torch.no_grad():
        model.features[0].weight.mul_(1e4)
    weights = tmp_path / "over.safetensors"
    export(model, weights, "keep")
    black = np.zeros((40, 40, 3), np.uint8)
    zero = dict(mean=(0, 0, 0), std=(1e-37, 1, 1))
    with vggcl.Model(weights, device="ref") as m:
        assert len(m.classify([black], resize=32, crop=32, **zero)) == 1
        with pytest.raises(vggcl.Error, match=re.escape(str(files["images"][0])) + ": logit 0 is (NaN|infinite): "
                           "the weights or the preprocessing overflow float32 on this image$"):
            m.classify([files["images"][0]], resize=32, crop=32, **zero)
        image = np.asarray(Image.open(files["images"][0]).convert("RGB"))
        with pytest.raises(vggcl.Error, match=r"^paths\[1\]: logit 0 is (NaN|infinite): "):
            m.classify([black, image], resize=32, crop=32, **zero)
        with pytest.raises(vggcl.Error, match=r"^classify: paths\[1\]: expected an image path or an \(H, W, "
                           r"3\) \(or gray \(H, W\)\) uint8 image, got None$"):
            m.classify([black, None], resize=32, crop=32, **zero)
        # a crop too small for the network: the call's, said with the image and the crop (the pass's words alone)
        with pytest.raises(vggcl.Error, match=r"^classify: paths\[0\] preprocesses to 16 x 16 pixels \(width x "
                           r"height\) \(resize=16, crop=16\): input \(N, 3, 16, 16\) is too small: ") as e:
            m.classify([black], resize=16, crop=16)
        assert e.value.status == "shape"
        # (without a crop: images of two sizes, the second an array, named by its place, not its values)
        with pytest.raises(vggcl.Error, match=r"^classify: paths\[1\] preprocesses to 13 x 9 pixels \(width x "
                           r"height\), unlike paths\[0\]'s 40 x 40; give crop, or resize=\(h, w\), or batch=1 \(each "
                           r"image at its own size\)$"):
            m.classify([black, black[:9, :13]], resize=0, crop=0, **zero)
        assert len(m.classify([black, black[:36]], resize=0, crop=0, batch=1, **zero)) == 2  # (as it says)


def test_older_library_said(tmp_path):
    """A libvggcl.so of another minor version (each 0.x minor may change the ABI: structs read with the
    wrong layout) fails the import naming the library and both versions; one of this version with a
    function missing (a build from older source) names the function, not with an AttributeError from
    ctypes; a library that is not vggcl's says so."""
    cc = shutil.which("cc")
    if not cc:
        pytest.skip("no C compiler")
    ours = vggcl.version()
    other = f"0.{int(ours.split('.')[1]) + 1}.0"
    for name, body, said in (("other", f'const char *vggcl_version(void) {{ return "{other}"; }}',
                              f"libother.so is version {other}, not the {'.'.join(ours.split('.')[:2])}.x"),
                             ("older", f'const char *vggcl_version(void) {{ return "{ours}"; }}',
                              f"ImportError: vggcl: the library {tmp_path}/libolder.so (version {ours}) has no vggcl_"),
                             ("none", "int f(void) { return 0; }", "libnone.so has no vggcl_version")):
        (tmp_path / f"{name}.c").write_text(body + "\n")
        subprocess.run([cc, "-shared", "-fPIC", "-o", tmp_path / f"lib{name}.so", tmp_path / f"{name}.c"],
                       check=True)
        r = subprocess.run([sys.executable, "-c", "import vggcl"], capture_output=True, text=True, timeout=60,
                           env=dict(os.environ, VGGCL_LIBRARY=str(tmp_path / f"lib{name}.so")))
        assert r.returncode != 0 and said in r.stderr, r.stderr


def test_library_notes_reach_logging(files, monkeypatch, caplog):
    """The library's notes go to the "vggcl" logger: the first compile for the device at INFO (the cache
    off, so each context compiles), and a device object that could not be given back (VGGCL_FAULT fails
    the first such call; the work is not affected) at WARNING, naming the call and the error."""
    if os.environ.get("VGGCL_DEVICE") == "ref":
        pytest.skip("the reference backend compiles nothing")
    monkeypatch.setenv("VGGCL_CACHE_DIR", "off")
    monkeypatch.setenv("VGGCL_FAULT", "cleanup:1")
    with caplog.at_level(logging.INFO, logger="vggcl"):
        with vggcl.Model(files["weights"]) as m:
            monkeypatch.delenv("VGGCL_FAULT")
            logits, _ = m.forward(files["x"])
    with torch.no_grad():
        want = files["model"](torch.from_numpy(files["x"])).numpy()
    assert rel(logits, want) <= 1e-5
    notes = [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "vggcl"]
    assert any(lv == logging.INFO and "compiling the OpenCL kernels" in t for lv, t in notes), notes
    assert [t for lv, t in notes if lv == logging.WARNING and "clRelease" in t and "CL_OUT_OF_RESOURCES" in t], notes


def test_interrupt_in_a_log_handler(files, monkeypatch):
    """A KeyboardInterrupt a "vggcl" log handler raises (a Ctrl-C while it writes the note of a compile) is raised
    after the call, as a real Ctrl-C is (ctypes printed and dropped it: the load went on unstopped)."""
    if os.environ.get("VGGCL_DEVICE") == "ref":
        pytest.skip("the reference backend compiles nothing")
    monkeypatch.setenv("VGGCL_CACHE_DIR", "off")

    class Interrupting(logging.Handler):
        def emit(self, record):
            raise KeyboardInterrupt("from the handler")
    handler, logger = Interrupting(), logging.getLogger("vggcl")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)  # (the compile's note)
    made = []
    try:
        with pytest.raises(KeyboardInterrupt):
            made.append(vggcl.Model(files["weights"]))
            made[0].forward(files["x"])  # (its kernels compiled, said, as they are first needed)
            time.sleep(1)  # (were it dropped, nothing would come: the test fails)
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        for m in made:
            m.close()


def test_pool5_other_than_the_head_was_made_for(files, caplog):
    """pool5= other than the file's "vggcl.pool5" is said at WARNING, as `vggcl classify --pool5` says it (it was
    silent); the file's own, or none given, says nothing."""
    assert vggcl.Model(files["weights"]).metadata("vggcl.pool5") == "keep"
    for pool5, said, features_only in (("drop", True, False), ("keep", False, False), (None, False, False),
                                       ("drop", False, True)):  # (features for a head of that setting: no head)
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="vggcl"):
            vggcl.Model(files["weights"], pool5=pool5, features_only=features_only).close()
        warned = [r.getMessage() for r in caplog.records if r.name == "vggcl" and r.levelno == logging.WARNING]
        assert warned == ([f"{files['weights']}: its head was made for pool5 kept (its metadata \"vggcl.pool5\"); "
                           "pool5='drop' gives it features it was not trained on (vggcl train-head --pool5 drop makes "
                           "a head for them)"] if said else []), pool5


def test_handler_cannot_close_the_model_under_its_call(files, monkeypatch):
    """A handler of the "vggcl" logger that closes the model whose call logged (the first compile's note,
    from forward) has the close put off until that call returns (the lock is the thread's already: it freed the
    model under the pass, a segmentation fault; then it was refused, and a finalizer's close so lost); the pass
    runs on, whole, and the model is closed after it. Any other call of that model there is refused."""
    if os.environ.get("VGGCL_DEVICE") == "ref":
        pytest.skip("the reference backend compiles nothing")
    monkeypatch.setenv("VGGCL_CACHE_DIR", "off")
    refused = []

    class Closer(logging.Handler):
        def emit(self, record):
            m.close()  # (put off)
            try:
                m.device
            except vggcl.Error as e:
                refused.append(str(e))

    handler = Closer(logging.INFO)
    logger = logging.getLogger("vggcl")
    logger.addHandler(handler)
    level = logger.level
    logger.setLevel(logging.INFO)
    try:
        m = vggcl.Model(files["weights"])
        logits, _ = m.forward(files["x"])
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
    assert refused and "device() called from a handler of the \"vggcl\" logger" in refused[0], refused
    with torch.no_grad():
        assert rel(logits, files["model"](torch.from_numpy(files["x"])).numpy()) <= 1e-5
    assert not m._ptr  # (closed once the pass returned)
    with pytest.raises(vggcl.Error, match="the model is closed"):
        m.forward(files["x"])


def test_build_log_and_device_choice_warned(files, monkeypatch, caplog, tmp_path):
    """Notes a user must see reach the "vggcl" logger at WARNING (they were INFO, which Python hides by default):
    a failed kernel build's whole log (the error's message is cut, pointing to it) and a device name that
    several devices match (PoCL's CPU device listed twice, as a box of one GPU model)."""
    if os.environ.get("VGGCL_DEVICE") == "ref":
        pytest.skip("the reference backend builds no kernels")
    root = Path(__file__).resolve().parents[2]
    kdir = tmp_path / "kernels"
    kdir.mkdir()
    for f in (root / "kernels").glob("*.cl"):
        (kdir / f.name).write_text(f.read_text())
    with open(kdir / "gap.cl", "a") as f:  # (every GAP head's; a log past the message's room)
        f.write("\nvoid broken(void) {" + " ".join(f"undefined_{i} = 1;" for i in range(400)) + "}\n")
    monkeypatch.setenv("VGGCL_KERNEL_DIR", str(kdir))
    monkeypatch.setenv("VGGCL_CACHE_DIR", "off")
    with caplog.at_level(logging.INFO, logger="vggcl"), pytest.raises(vggcl.Error) as e:
        with vggcl.Model(files["weights"]) as m:
            m.forward(files["x"])
    assert "the whole log went to the log function" in str(e.value)
    warned = [r.getMessage() for r in caplog.records if r.name == "vggcl" and r.levelno == logging.WARNING]
    assert [t for t in warned if "clBuildProgram -> CL_BUILD_PROGRAM_FAILURE" in t and "undefined_399" in t], warned
    monkeypatch.undo()  # (the kernels and the cache as the other tests have them)
    # a device name several devices match: PoCL's CPU device listed twice, as tests/testenv.py's two_devices does,
    # in a process of its own (PoCL reads POCL_DEVICES once) with Python's default logging: printed
    if os.environ.get("VGGCL_DEVICE"):
        return  # (a device named for the tests: two of PoCL's are not looked for)
    code = ("import sys, vggcl\nd = vggcl.devices()\n"
            "if len(d) != 2 or d[0]['name'] != d[1]['name']: sys.exit(3)\n"
            "vggcl.Model(sys.argv[1], device=d[0]['name'][:8]).close()\n")
    tried = []
    for driver in ("cpu", "pthread"):  # (PoCL 4's name, then earlier ones', which may refuse the other)
        r = subprocess.run([sys.executable, "-c", code, str(files["weights"])], capture_output=True, text=True,
                           env=dict(os.environ, POCL_DEVICES=f"{driver} {driver}"), timeout=300)
        if r.returncode == 0:
            break
        tried.append(f"{driver}: exit {r.returncode} {r.stderr[-300:]}")
    else:
        pytest.skip(f"no two devices of one name here: {tried}")
    assert "names device 0" in r.stderr and "give an index to choose" in r.stderr, r.stderr


def in_forked_child(child, hung):
    """child() run in a forked process and its value (JSON, or the repr of what it raised) read back here; the test
    failed, saying hung, where the child does not answer in 120 s (never back into pytest there)."""
    import select
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        said = None
        try:
            os.close(r)
            said = child()
        except BaseException as e:  # noqa: BLE001 (said to the parent, whatever it is)
            said = repr(e)
        finally:
            os.write(w, json.dumps(said).encode())
            os._exit(0)
    os.close(w)
    try:
        ready, _, _ = select.select([r], [], [], 120)
        if not ready:
            os.kill(pid, 9)
            pytest.fail(hung)
        return json.loads(os.read(r, 1 << 20).decode())
    finally:
        os.close(r)
        os.waitpid(pid, 0)


def test_forked_child_told(files):
    """A process forked after its parent used OpenCL (multiprocessing's default start method on Linux) is told
    so by a vggcl.Error naming the way out, where it waited forever in the driver (PoCL); so is its use of the
    parent's model, whose buffers it leaves alone when freed; the reference device works there."""
    m = vggcl.Model(files["weights"])  # (the devices listed and a model on one: the driver started)

    def child():
        said = []
        for call in (lambda: vggcl.Model(files["weights"]), lambda: m.forward(files["x"][:1]), vggcl.devices):
            try:
                call()
                said.append("no error")
            except vggcl.Error as e:
                said.append(str(e))
        m.close()  # (the parent's buffers: not released from here)
        with vggcl.Model(files["weights"], device="ref") as ref:
            said.append(ref.forward(files["x"][:1])[0].tolist())
        return said
    said = in_forked_child(child, "the forked child hung")
    assert len(said) == 4, said
    for msg in said[:3]:
        assert f"this process was forked from process {os.getpid()} after that one used OpenCL" in msg, said
        assert "\"spawn\" or \"forkserver\"" in msg
    assert rel(said[3], m.forward(files["x"][:1])[0]) < 1e-4  # (and the parent's model still runs here)
    m.close()


def test_interrupt_as_a_free_returns(files):
    """A KeyboardInterrupt (a Ctrl-C, or a SIGALRM handler's TimeoutError, a worker's request timeout) raised as the
    library's free returns, before the handle was forgotten: the finalizer freed it again (a double free: glibc's
    abort, a segfault), for a model, its context, and the context of load_image, train_head and Head.save. Run in a
    process of its own: a corrupted heap is not this one's to keep."""
    script = f"""
import gc, numpy as np, vggcl
W, IMG = {str(files["weights"])!r}, {str(files["images"][0])!r}
def interrupting(name):
    real = getattr(vggcl, name)
    def free_then_interrupt(p):
        real(p)
        setattr(vggcl, name, real)  # (once)
        raise KeyboardInterrupt  # (a Ctrl-C delivered as the call returns)
    setattr(vggcl, name, free_then_interrupt)
for name in ("_model_free", "_ctx_free"):
    m = vggcl.Model(W)
    interrupting(name)
    try:
        m.close()
    except KeyboardInterrupt:
        pass
    del m
    gc.collect()
interrupting("_ctx_free")
try:
    vggcl.load_image(IMG)
except KeyboardInterrupt:
    pass
gc.collect()
print("survived")
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert (r.returncode, r.stdout) == (0, "survived\n"), r.stderr


def test_model_outliving_the_module_at_exit(files):
    """A model kept at exit by what outlives the module's globals (a sys.excepthook's closure, an attribute of sys or
    os): the process ends without a word (an "Exception ignored in Model.__del__" traceback, None for the module's
    functions, at every exit)."""
    for keep in ("old = sys.excepthook; sys.excepthook = lambda *a, _m=m: old(*a)", "sys._kept = [m]", "os._kept = m"):
        script = (f"import os, sys, vggcl\nm = vggcl.Model({str(files['weights'])!r}, device='ref')\n{keep}\n"
                  "m = None\nprint('ran')\n")  # (the reference: no driver's words on stderr)
        r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
        assert (r.returncode, r.stdout, r.stderr) == (0, "ran\n", ""), keep


def test_reload_with_a_model_alive(files, tmp_path):
    """importlib.reload(vggcl) (a notebook's %autoreload) with a model alive: its context's next note reaches
    logging (it called the log function the reload freed: a segmentation fault)."""
    tensors, meta = load_file(files["weights"])
    save_file(tensors, tmp_path / "w255.safetensors", {**meta, "vggcl.mean": "123.68,116.78,103.94"})
    script = f"""
import gc, importlib, logging, vggcl
logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
m = vggcl.Model({str(tmp_path / "w255.safetensors")!r}, device="ref")
importlib.reload(vggcl)
gc.collect()
print(m.preset["mean"])  # (its mean on the 0..255 scale: the library notes it)
assert m in vggcl._models  # (its lock renewed in a forked child: the reload had made a new set without it)
"""
    r = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "vggcl: " in r.stderr and "255" in r.stderr, r.stderr


def test_close_within_its_own_call(files):
    """A close() on the thread of a call in progress, from a finalizer the garbage collector runs inside the call or
    from a signal handler, is put off until the call returns: it freed the model under the call (heap corruption,
    glibc's abort). Run in a process of its own: a corrupted heap is not this one's to keep."""
    script = f"""
import gc, signal, numpy as np, vggcl
W = {str(files["weights"])!r}
class Session:  # (owns a model, closes it when collected: a cycle, which the cyclic collector alone frees)
    def __init__(self):
        self.model = vggcl.Model(W, conv="direct")
        self.me = self
    def __del__(self):
        self.model.close()
x = np.zeros((1, 3, 32, 32), np.float32)
# first, a finalizer the collector runs in a handler of the "vggcl" logger as a call logs (the first pass compiles
# into an empty cache): put off until the call returns (it raised there, ignored in __del__, the model left open)
gc.disable()
log = logging.getLogger("vggcl")
class Collecting(logging.Handler):
    def emit(self, record):
        gc.collect()
        self.seen = True
collecting = Collecting()
log.addHandler(collecting)
log.setLevel(logging.INFO)
s = Session()
m = s.model
del s
m.forward(x)
assert getattr(collecting, "seen", False)  # (the compile was logged)
assert not m._ptr  # (closed once the call returned)
log.removeHandler(collecting)
gc.enable()
seen = set()
for k in range(1, 25):  # (the collection at the k-th allocation of the call)
    s = Session()
    m = s.model
    del s
    gc.set_threshold(k)
    try:
        m.cam(x, [1])
        seen.add("ran")
    except vggcl.Error as e:
        assert "the model is closed" in str(e), e
        seen.add("closed first")
    finally:
        gc.set_threshold(700)
    gc.collect()  # (where the collection came after the call)
    assert not m._ptr, k  # (closed once the call returned)
m = vggcl.Model(W, conv="direct")
signal.signal(signal.SIGALRM, lambda *a: m.close())
for t in (1e-4, 1e-3, 5e-3, 2e-2):
    signal.setitimer(signal.ITIMER_REAL, t)
    try:
        for _ in range(50):
            m.cam(x, [1])
    except vggcl.Error as e:
        assert "the model is closed" in str(e), e
    signal.setitimer(signal.ITIMER_REAL, 0)
    m = vggcl.Model(W, conv="direct")
print(sorted(seen))
"""
    env = dict(os.environ, VGGCL_CACHE_DIR=str(files["dir"] / "empty-cache"))  # (the first pass compiles: logged)
    r = subprocess.run([sys.executable, "-c", "import logging\n" + script], capture_output=True, text=True,
                       timeout=600, env=env)
    assert r.returncode == 0, r.stderr
    assert "'ran'" in r.stdout, r.stdout  # (some collections landed within a call)


def test_fork_during_another_threads_call(files, monkeypatch):
    """A process forked while another thread is in a call on a model: the child's call on it gets the library's
    word on a forked process (the model's lock, held at the fork, stayed held in the child: it waited for ever)."""
    m = vggcl.Model(files["weights"])
    entered, release, parent, forward = threading.Event(), threading.Event(), os.getpid(), vggcl._forward

    def held(*args):  # (the other thread's pass held open until the fork is made, on any device)
        if os.getpid() == parent and not entered.is_set():
            entered.set()
            release.wait(120)
        return forward(*args)
    monkeypatch.setattr(vggcl, "_forward", held)
    busy = threading.Thread(target=m.forward, args=(files["x"][:1],))
    busy.start()
    assert entered.wait(120) and m._calls

    def child():
        try:
            m.forward(files["x"][:1])
            return "no error"
        except vggcl.Error as e:
            return str(e)
    try:
        said = in_forked_child(child, "the forked child hung on the model's lock")
    finally:
        release.set()
        busy.join()
    assert f"this process was forked from process {os.getpid()} after that one used OpenCL" in said, said
    m.close()

    class Forking(vggcl.Model):  # (a fork within a call of the thread that forks: the call goes on in the child)
        @vggcl._locked
        def fork_within(self):
            return os.fork()
    m = Forking(files["weights"], device="ref")
    pid = m.fork_within()
    if pid == 0:  # (its count of calls back to none as the call returned; then close() closes: it was put off)
        ok = False
        try:
            ok = m._calls == 0
            m.close()
            ok = ok and not m._ptr
        finally:
            os._exit(0 if ok else 1)  # (never back into pytest)
    assert os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0
    m.close()


def test_images_taken_as_they_are(files):
    """classify reads images ahead of the device: each is classified as it was when the iterable gave it (a capture
    loop refilling one array got later frames' answers for earlier ones), and one PIL image given several times is
    decoded once (decoded on several threads at once it failed at random); a PIL image that cannot be read, None,
    a name with a lone surrogate, a second __init__ and an empty batch of 2**31 - 1 images are said."""
    with vggcl.Model(files["weights"]) as m:
        rng = np.random.default_rng(3)
        frames = [rng.integers(0, 256, (48, 48, 3), dtype=np.uint8) for _ in range(12)]
        want = [m.classify(f, resize=32, crop=32)[0] for f in frames]

        def capture():
            buf = np.empty((48, 48, 3), np.uint8)
            for f in frames:
                buf[...] = f
                yield buf
        assert m.classify(capture(), resize=32, crop=32, batch=4, threads=2) == want
        tensors = [torch.from_numpy(f.copy()) for f in frames[:4]]

        def refill():
            t = torch.empty((48, 48, 3), dtype=torch.uint8)
            for f in tensors:
                t.copy_(f)
                yield t
        assert m.classify(refill(), resize=32, crop=32, batch=2, threads=2) == want[:4]

        class Frame:  # (an array-like alone: __array__ over a buffer its maker refills)
            def __init__(self, buf):
                self.buf = buf

            def __array__(self, dtype=None):
                return self.buf

        def framed():
            buf = np.empty((48, 48, 3), np.uint8)
            for f in frames[:6]:
                buf[...] = f
                yield Frame(buf)
        assert m.classify(framed(), resize=32, crop=32, batch=2, threads=2) == want[:6]
        one = m.classify(files["images"][0], resize=32, crop=32)[0]
        for _ in range(3):
            im = Image.open(files["images"][0])  # (not decoded yet)
            assert m.classify([im] * 12, resize=32, crop=32, batch=4, threads=4) == [one] * 12

        def opened():  # (each closed once the next is asked for)
            for _ in range(6):
                with Image.open(files["images"][0]) as im:
                    yield im
        assert m.classify(opened(), resize=32, crop=32, batch=2, threads=2) == [one] * 6
        with Image.open(files["images"][1]) as im:
            pass  # (its file closed before it was decoded)
        for call in (lambda: m.classify([files["images"][0], im]), lambda: m.preprocess(im),
                     lambda: vggcl.preprocess(im)):
            with pytest.raises(vggcl.InvalidInput, match="the PIL image cannot be read: "):
                call()
        with pytest.raises(vggcl.InvalidInput, match=r"classify: paths\[1\]: expected an image path .* got None"):
            m.classify([files["images"][0], None])
        for call in (lambda: vggcl.Model("\ud800.safetensors"), lambda: vggcl.load_image("x\udfff.png"),
                     lambda: m.metadata("\ud800")):
            with pytest.raises(vggcl.InvalidInput, match="holds a lone surrogate"):
                call()
        with pytest.raises(vggcl.InvalidInput, match="a model is made once"):
            m.__init__(files["weights"])
        assert m.classify(files["images"][0], resize=32, crop=32)[0] == one  # (the model as it was)
        with pytest.raises(vggcl.InvalidInput, match="H, W"):
            m.forward(np.lib.stride_tricks.as_strided(np.zeros(1, np.float32), (2 ** 31 - 1, 3, 0, 0), (0,) * 4))
