#!/usr/bin/python3
"""pool5: keep it or drop it? Measured with real trained VGG16 convolution weights.

Builds a small data set with known object boxes from real photos (python3-skimage's
data), trains a GAP head on a VGG16 trunk with pool5 kept and with pool5 dropped (`vggcl
train-head`), and measures for each setting: validation top-1, balanced accuracy and
macro F1 (`vggcl eval`), how well the class activation maps localise the object (`vggcl
cam` with the true class), and throughput (`vggcl bench`, the median of three rounds
alternating the settings). Prints one Markdown table, each rate with its count and
images/s with its rounds' range.

The data set (deterministic for a given --seed): 10 object photos from skimage.data,
each cropped to its object (cat = chelsea's head, coffee = the cup and saucer,
astronaut = the person, rocket, camera = the cameraman with his tripod, motorcycle =
the bike of stereo_motorcycle, coins, and three discs cut out with a round mask:
colorwheel, logo, retina), scaled so the longer side is 25-60 % of the picture,
sub-cropped slightly, randomly mirrored and brightness/colour jittered, pasted at a
random position onto a random crop of a texture photo (brick, grass, gravel, moon,
tinted at random; hubble_deep_field, immunohistochemistry). Training pictures take
their background from the left 60 % of each texture, validation pictures from the
right 40 %, so no background pixel is shared between the splits. Layout:

    OUT/train/<class>/<class>_NNNN.png     224x224 RGB
    OUT/val/<class>/<class>_NNNN.png       (file names unique across classes: vggcl cam
                                            names its outputs by base name only)
    OUT/boxes.json                         {"val/cat/cat_0000.png": [x0, y0, x1, y1], ...}
                                           (pixels, x1 and y1 exclusive; train files too)
    OUT/dataset.json                       the settings the data set was built with

Localisation, per setting, over the validation pictures, from NAME.cam-up.npy (the
map of the true class upsampled bilinearly to 224x224 and normalized to [0, 1] by
vggcl): "CAM peak in box" is the fraction whose argmax lies inside the true box;
"mean IoU" and "IoU >= 0.5" compare the true box with the bounding box of the
largest connected component (8-connected) of the map thresholded at 20 % of its
maximum, as in the CAM paper (Zhou et al., 2016): of the map as vggcl normalizes it (its
minimum to 0, its maximum to 1), as the paper's code does (mat2gray, then 0.2), so 20 % of
the way from the raw map's minimum to its maximum (raw maps go below 0). Below the table: the chance level of
the peak (mean box area over picture area) and what the true box averaged over the
map's cells scores, upsampled as vggcl does: a reference map of each size (not a
bound: a sharper map of the same size can score higher). OUT/results.json and OUT/eval-<setting>.json keep
the details (per-class precision, recall and F1, the balanced accuracy and macro F1,
training time).

Your own data (--data DIR): DIR/train/<class>/* and DIR/val/<class>/* (the same class
folders; any image vggcl reads, any size) and DIR/boxes.json, {"val/<class>/<file>": [x0, y0,
x1, y1], ...}: the object's box in the picture's pixels as vggcl decodes it (x1 and y1
exclusive; a TIFF's Orientation applied, a JPEG's EXIF orientation not; boxes of other folders'
pictures, as --build-only's file holds train's, are passed over). The heads are trained on DIR/train,
evaluated on DIR/val; the maps of the val pictures that have a box are scored, the box mapped
through the preprocessing every command is given (--resize R --crop C; by default the trunk's
own, as its metadata records it, else torchvision's 256 and 224; --resize HxW, both sides, as
Resize((H, W)), for a model trained so, with --no-crop where it was trained without a crop), and
the chance level and reference maps are of what the pictures are made (the C x C crop, else
H x W). Nothing is written in DIR: the heads and maps go to --out (default a temporary folder).

usage:
    /usr/bin/python3 tools/pool5_study.py --weights vgg16_trunk.safetensors \\
        [--vggcl build/vggcl] [--out DIR [--skip-build-data]] [--keep] [--seed 0] \\
        [--classes N] [--per-class 100] [--val-fraction 0.25] \\
        [--epochs N] [--l2 L] [--batch B] [--flip] [--train-args "..."] [--val-split F] \\
        [--report FILE.md] [--picture FILE.png [--picture-image val/cat/cat_0000.png]
                                               [--picture-heads same|own]]
    /usr/bin/python3 tools/pool5_study.py --weights vgg16_trunk.safetensors --data DIR \\
        [--resize N|HxW] [--crop C | --no-crop] [--out WORK] [--epochs N] ... [--report ...] [--picture ...]
    /usr/bin/python3 tools/pool5_study.py --build-only --out DIR [--seed 0] ...
    /usr/bin/python3 tools/pool5_study.py --self-check

--out defaults to a temporary folder, removed at the end unless --keep (a folder
given with --out is never removed). --skip-build-data reuses the data set in --out.
--epochs, --l2, --batch and --flip go to `vggcl train-head` only when given, and so do
the words of --train-args. train-head keeps its best epoch on OUT/val (--val OUT/val)
unless --val-split F: then on that fraction of OUT/train, and OUT/val is seen by eval
and cam only (the top-1 is then not a maximum over epochs on the set it is reported on).
--picture runs `vggcl cam --compare-pool5` with the head trained with pool5 kept
(--picture-heads same, the default) on one validation picture and draws the true box
on both panels; --picture-heads own puts each setting's own head's map side by side
instead (pool5 kept on the left in both cases, under cam's header naming each panel).
Needs numpy, PIL and skimage (Debian: /usr/bin/python3 with python3-skimage); scipy
for the connected components when present, else a small flood fill.
"""
import argparse
import json
import math
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zlib
from collections import namedtuple
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

try:
    from scipy import ndimage
except ImportError:  # the flood fill below does the same, slower
    ndimage = None

SIZE = 224                      # every picture is SIZE x SIZE; vggcl runs it unchanged
OBJECT_SIDE = (0.25, 0.60)      # the object's longer side, as a fraction of SIZE
OBJECT_KEEP = (0.90, 1.00)      # sub-crop jitter: the fraction of each side of the crop kept
TRAIN_TEXTURE_PART = 0.60       # train backgrounds from the left 60 % of a texture, val from the rest
TEXTURE_CROP = (0.32, 0.40)     # background crop side, as a fraction of the texture's short side
CAM_THRESHOLD = 0.20            # of the map's maximum, for the box (CAM paper)
PRE = ["--resize", str(SIZE), "--crop", str(SIZE)]  # vggcl preprocessing that leaves the pictures as they are
SETTINGS = ("keep", "drop")
# Where a study's pictures are and how they are run: data (train/ and val/), work (the heads, the maps, the
# logs), pre (the preprocessing options every command is given), size (what every picture is made, (h, w): the
# crop's, else both sides' resize; the upsampled maps' shape)
Frame = namedtuple("Frame", "data work pre size")


# ---------------------------------------------------------------------------------------------
# the photos
# ---------------------------------------------------------------------------------------------

def _skimage_data():
    try:
        import skimage.data
    except ImportError:
        sys.exit("pool5_study: needs skimage (Debian: apt-get install python3-skimage; run with /usr/bin/python3)")
    return skimage.data


def _rgb(a):
    """uint8 (h, w, 3) from a gray, RGB or RGBA skimage picture."""
    a = np.asarray(a)
    if a.dtype == bool:
        a = a.astype(np.uint8) * 255
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    return np.ascontiguousarray(a[:, :, :3].astype(np.uint8))


def _disc_alpha(rgb, background):
    """A round mask inscribed in the bounding box of the pixels that differ from a black or
    white background: the photo's disc (colorwheel, logo, retina)."""
    if background == "black":
        content = rgb.max(axis=2) > 20
    else:
        content = rgb.min(axis=2) < 235
    ys, xs = np.nonzero(content)
    x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
    cx, cy, r = (x0 + x1) / 2, (y0 + y1) / 2, min(x1 - x0, y1 - y0) / 2 - 1
    yy, xx = np.mgrid[: rgb.shape[0], : rgb.shape[1]]
    alpha = (((xx + 0.5 - cx) ** 2 + (yy + 0.5 - cy) ** 2) <= r * r).astype(np.float32)
    return alpha, (int(x0), int(y0), int(x1), int(y1))


# name, skimage loader, crop to the object (x0, y0, x1, y1) or a disc mask on a black/white background
OBJECTS = [
    ("astronaut", lambda d: d.astronaut(), (20, 15, 365, 512)),           # the person, not the flag or shuttle
    ("camera", lambda d: d.camera(), (0, 60, 410, 512)),                  # the cameraman and tripod (gray)
    ("cat", lambda d: d.chelsea(), (20, 0, 400, 300)),                    # chelsea's head
    ("coffee", lambda d: d.coffee(), (75, 15, 480, 390)),                 # the cup and saucer
    ("coins", lambda d: d.coins(), (5, 15, 380, 295)),                    # the tray of coins (gray)
    ("colorwheel", lambda d: d.colorwheel(), "disc-black"),
    ("logo", lambda d: d.logo(), "disc-white"),                           # RGBA, alpha all opaque: the disc
    ("motorcycle", lambda d: d.stereo_motorcycle()[0], (90, 95, 690, 455)),  # the bike, not the garage
    ("retina", lambda d: d.retina(), "disc-black"),
    ("rocket", lambda d: d.rocket(), (240, 110, 410, 427)),               # the rocket on its pad
]

# name, loader; gray ones get a random colour tint per picture
TEXTURES = [
    ("brick", lambda d: d.brick()),
    ("grass", lambda d: d.grass()),
    ("gravel", lambda d: d.gravel()),
    ("moon", lambda d: d.moon()),
    ("hubble_deep_field", lambda d: d.hubble_deep_field()),
    ("immunohistochemistry", lambda d: d.immunohistochemistry()),
]


def load_objects(names=None):
    """{class: (rgb uint8 (h, w, 3), alpha float32 (h, w))}, each cropped to its object."""
    d = _skimage_data()
    out = {}
    for name, load, crop in OBJECTS:
        if names is not None and name not in names:
            continue
        rgb = _rgb(load(d))
        if isinstance(crop, str):
            alpha, crop = _disc_alpha(rgb, crop.split("-")[1])
        else:
            alpha = np.ones(rgb.shape[:2], np.float32)
        x0, y0, x1, y1 = crop
        out[name] = (rgb[y0:y1, x0:x1], alpha[y0:y1, x0:x1])
    return out


def load_textures():
    """[(name, rgb uint8 (h, w, 3), gray?)]"""
    d = _skimage_data()
    out = []
    for name, load in TEXTURES:
        a = np.asarray(load(d))
        out.append((name, _rgb(a), a.ndim == 2))
    return out


def class_names(n=None):
    """The class names, sorted (a class's index is its position here, as in vggcl's
    sorted class folders); the first n of them with --classes n."""
    names = sorted(name for name, _, _ in OBJECTS)
    if n is not None:
        if not 2 <= n <= len(names):
            sys.exit(f"pool5_study: --classes must be 2..{len(names)}")
        names = names[:n]
    return names


# ---------------------------------------------------------------------------------------------
# the data set
# ---------------------------------------------------------------------------------------------

def _resize(a, w, h):
    """PIL's antialiased resize of a uint8 RGB or float32 mask array."""
    lanczos = getattr(Image, "Resampling", Image).LANCZOS
    if a.dtype == np.uint8:
        return np.asarray(Image.fromarray(a).resize((w, h), lanczos))
    return np.asarray(Image.fromarray(a.astype(np.float32), mode="F").resize((w, h), lanczos)).clip(0, 1)


def background_crop(rng, textures, split):
    """A SIZE x SIZE crop of a random texture, from the part of it that belongs to the split."""
    name, tex, gray = textures[rng.integers(len(textures))]
    h, w = tex.shape[:2]
    part = int(w * TRAIN_TEXTURE_PART)
    lo, hi = (0, part) if split == "train" else (part, w)
    side = int(min(h, w) * rng.uniform(*TEXTURE_CROP))
    side = min(side, hi - lo, h)
    x = rng.integers(lo, hi - side + 1)
    y = rng.integers(0, h - side + 1)
    bg = _resize(np.ascontiguousarray(tex[y:y + side, x:x + side]), SIZE, SIZE).astype(np.float32)
    if rng.random() < 0.5:
        bg = bg[:, ::-1]
    if gray:
        bg = bg * rng.uniform(0.65, 1.15, size=3)  # a colour tint
    return bg, name


def place_object(rng, rgb, alpha):
    """The object jittered (sub-crop, scale, mirror, brightness and colour), as
    (rgb float32, alpha float32) of its pasted size."""
    h, w = rgb.shape[:2]
    kh, kw = (int(round(s * rng.uniform(*OBJECT_KEEP))) for s in (h, w))
    y = rng.integers(0, h - kh + 1)
    x = rng.integers(0, w - kw + 1)
    rgb, alpha = rgb[y:y + kh, x:x + kw], alpha[y:y + kh, x:x + kw]
    longer = int(round(SIZE * rng.uniform(*OBJECT_SIDE)))
    scale = longer / max(kh, kw)
    ph, pw = max(8, int(round(kh * scale))), max(8, int(round(kw * scale)))
    rgb = _resize(np.ascontiguousarray(rgb), pw, ph).astype(np.float32)
    alpha = _resize(np.ascontiguousarray(alpha), pw, ph)
    if rng.random() < 0.5:
        rgb, alpha = rgb[:, ::-1], alpha[:, ::-1]
    rgb = rgb * rng.uniform(0.8, 1.2) * rng.uniform(0.92, 1.08, size=3)
    return rgb, alpha


def make_picture(rng, obj, textures, split):
    """One SIZE x SIZE picture: (uint8 (SIZE, SIZE, 3), box [x0, y0, x1, y1], background name)."""
    bg, bg_name = background_crop(rng, textures, split)
    rgb, alpha = place_object(rng, *obj)
    ph, pw = alpha.shape
    y = int(rng.integers(0, SIZE - ph + 1))
    x = int(rng.integers(0, SIZE - pw + 1))
    a = alpha[:, :, None]
    bg[y:y + ph, x:x + pw] = a * rgb + (1 - a) * bg[y:y + ph, x:x + pw]
    ys, xs = np.nonzero(alpha >= 0.5)
    box = [x + int(xs.min()), y + int(ys.min()), x + int(xs.max()) + 1, y + int(ys.max()) + 1]
    return np.clip(np.rint(bg), 0, 255).astype(np.uint8), box, bg_name


def build_dataset(out, classes, per_class, val_fraction, seed):
    """Writes OUT/{train,val}/<class>/<class>_NNNN.png, OUT/boxes.json and OUT/dataset.json.
    Picture i of class c depends only on (seed, c's name, i, its split), so --classes does
    not change the pictures of the classes kept."""
    out = Path(out)
    if (out / "train").exists() or (out / "val").exists():
        if not (out / "boxes.json").exists():
            sys.exit(f"pool5_study: {out} has train/ or val/ but no boxes.json: not a data set of this study; "
                     "use an empty --out folder")
        shutil.rmtree(out / "train", ignore_errors=True)
        shutil.rmtree(out / "val", ignore_errors=True)
    n_val = int(round(per_class * val_fraction))
    if not (1 <= n_val < per_class):
        sys.exit(f"pool5_study: --per-class {per_class} with --val-fraction {val_fraction} "
                 "leaves no picture in one split")
    objects = load_objects(classes)
    textures = load_textures()
    boxes = {}
    for c in classes:
        tag = zlib.crc32(c.encode())  # a stable number per class name for the seed
        counters = {"train": 0, "val": 0}
        for i in range(per_class):
            split = "val" if i < n_val else "train"
            rng = np.random.default_rng([seed, tag, i])
            pic, box, _ = make_picture(rng, objects[c], textures, split)
            rel = f"{split}/{c}/{c}_{counters[split]:04d}.png"
            counters[split] += 1
            (out / split / c).mkdir(parents=True, exist_ok=True)
            Image.fromarray(pic).save(out / rel)
            boxes[rel] = box
    (out / "boxes.json").write_text("{\n" + ",\n".join(f"{json.dumps(r)}: {json.dumps(boxes[r])}"
                                                      for r in sorted(boxes)) + "\n}\n")
    (out / "dataset.json").write_text(json.dumps({
        "seed": seed, "classes": classes, "per_class": per_class, "val_per_class": n_val,
        "size": SIZE, "object_side": OBJECT_SIDE, "textures": [t for t, _ in TEXTURES],
        "train_texture_part": TRAIN_TEXTURE_PART}, indent=1) + "\n")
    return boxes


def load_dataset(out):
    """(boxes, classes) of a data set built earlier, checked against its folders."""
    out = Path(out)
    try:
        boxes = json.loads((out / "boxes.json").read_text())
        classes = json.loads((out / "dataset.json").read_text())["classes"]
    except (OSError, ValueError, KeyError) as e:
        sys.exit(f"pool5_study: --skip-build-data: no data set in {out} ({e})")
    for split in ("train", "val"):
        found = sorted(p.name for p in (out / split).iterdir() if p.is_dir()) if (out / split).is_dir() else []
        if found != sorted(classes):
            sys.exit(f"pool5_study: {out / split} has classes {found}, dataset.json says {classes}")
    missing = [rel for rel in boxes if not (out / rel).is_file()]
    if missing:
        sys.exit(f"pool5_study: {len(missing)} pictures of boxes.json are missing, e.g. {out / missing[0]}")
    return boxes, classes


# the files vggcl takes in a folder (host/cli/cli.h's CLI_IMAGE_EXTENSIONS, any case; names starting with "." not)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".ppm", ".pgm")


def is_image_name(path):
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def oriented_size(path):
    """(w, h) of a picture as vggcl decodes it: a TIFF's Orientation applied (5 to 8 turn it), a JPEG's EXIF
    orientation not (vggcl, as torchvision's PIL loader, leaves it). Only the header is read."""
    limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None  # (vggcl reads pictures past PIL's bomb limit; only the size is read here)
    try:
        with Image.open(path) as im:
            w, h = im.size
            turned = im.format == "TIFF" and im.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    return (h, w) if turned else (w, h)


def load_own_data(data, resize, crop):
    """(boxes in the crop's pixels, classes) of the user's --data: train/ and val/ of the same class folders and
    boxes.json of val pictures, checked; a box the crop leaves nothing of is left out, said."""
    data = Path(data)
    found = {}
    for split in ("train", "val"):
        if not (data / split).is_dir():
            sys.exit(f"pool5_study: --data {data}: no {split}/ folder (expected {data}/train/<class>/... and "
                     f"{data}/val/<class>/..., the same class folders)")
        found[split] = sorted(p.name for p in (data / split).iterdir() if p.is_dir() and not p.name.startswith("."))
    if found["train"] != found["val"] or len(found["train"]) < 2:
        sys.exit(f"pool5_study: --data {data}: train/ has the class folders {found['train']} and val/ "
                 f"{found['val']}: expected the same, at least 2")
    classes = found["train"]
    where = data / "boxes.json"
    try:
        raw = json.loads(where.read_bytes())  # (bytes: a UTF-8 file with a BOM read too)
    except (OSError, ValueError) as e:
        sys.exit(f"pool5_study: {where}: {e} (expected {{\"val/<class>/<file>\": [x0, y0, x1, y1], ...}})")
    if not isinstance(raw, dict) or not raw:
        sys.exit(f"pool5_study: {where}: {'no boxes' if raw == {} else 'not an object'}: expected "
                 f"{{\"val/<class>/<file>\": [x0, y0, x1, y1], ...}}")

    def number(v):
        try:
            return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
        except OverflowError:  # (an integer past a float's range)
            return False

    boxes, outside, stems, others = {}, [], {}, []
    for given, box in sorted(raw.items()):
        parts = Path(given).parts
        rel = "/".join(parts)  # (./val/cat/a.jpg and val//cat/a.jpg are val/cat/a.jpg)
        if parts and parts[0] not in ("val", "..") and not Path(given).is_absolute():
            others.append(given)  # (--build-only's own file holds train's; a user's may hold test's: not scored)
            continue
        if len(parts) != 3 or parts[0] != "val" or parts[1] not in classes or not (data / rel).is_file():
            sys.exit(f"pool5_study: {where}: {given!r} is not a picture val/<class>/<file> of {data}")
        if not is_image_name(Path(rel)):
            sys.exit(f"pool5_study: {where}: {given}: not a picture vggcl reads in a folder (a name starting with "
                     f"'.' is passed over; the extensions are {', '.join(IMAGE_EXTENSIONS)})")
        if not (isinstance(box, list) and len(box) == 4 and all(number(v) for v in box) and
                box[0] < box[2] and box[1] < box[3]):
            sys.exit(f"pool5_study: {where}: {given}: {json.dumps(box)}: expected [x0, y0, x1, y1], x0 < x1 and "
                     "y0 < y1, in the picture's pixels")
        stem = (parts[1], Path(rel).stem)  # (vggcl cam names its outputs by base name)
        if stem in stems:
            sys.exit(f"pool5_study: {where}: {stems[stem]} and {given} " +
                     ("are one picture" if rel == "/".join(Path(stems[stem]).parts) else
                      "would give their maps one name: rename one"))
        stems[stem] = given
        try:
            w, h = oriented_size(data / rel)
        except OSError as e:
            sys.exit(f"pool5_study: {data / rel}: {e}")
        x0, y0, x1, y1 = max(box[0], 0), max(box[1], 0), min(box[2], w), min(box[3], h)  # (the picture's part)
        if not (x0 < x1 and y0 < y1):
            sys.exit(f"pool5_study: {where}: {given}: {json.dumps(box)} is outside the picture ({w} x {h} pixels)")
        mapped = box_in_crop([x0, y0, x1, y1], w, h, resize, crop)
        if mapped is None:
            outside.append(rel)
        else:
            boxes[rel] = mapped
    if others:
        print(f"pool5_study: warning: {where}: {len(others)} box(es) of pictures outside val/ passed over (e.g. "
              f"{others[0]!r}): the maps are scored on val's", file=sys.stderr)
    if outside:
        where_not = f"outside the --crop {crop} of their pictures" if crop else "of no whole pixel once resized"
        print(f"pool5_study: warning: {len(outside)} box(es) of {where} {where_not}, left out (e.g. {outside[0]})",
              file=sys.stderr)
    if not boxes:
        sys.exit(f"pool5_study: {where}: no box of a val picture inside the crop: nothing to score")
    return boxes, classes


# ---------------------------------------------------------------------------------------------
# localisation
# ---------------------------------------------------------------------------------------------

def peak_in_box(cam, box):
    """Whether the map's (first) maximum lies inside box [x0, y0, x1, y1) ."""
    y, x = np.unravel_index(int(np.argmax(cam)), cam.shape)
    x0, y0, x1, y1 = box
    return bool(x0 <= x < x1 and y0 <= y < y1)


def _largest_component(mask):
    """The largest 8-connected component of a boolean mask (first found on ties)."""
    if ndimage is not None:
        labels, n = ndimage.label(mask, structure=np.ones((3, 3), int))
        if n == 0:
            return np.zeros_like(mask)
        sizes = np.bincount(labels.ravel())[1:]
        return labels == 1 + int(np.argmax(sizes))
    h, w = mask.shape
    seen = np.zeros_like(mask)
    best = np.zeros_like(mask)
    best_n = 0
    for sy, sx in zip(*np.nonzero(mask)):
        if seen[sy, sx]:
            continue
        comp, stack = [], [(sy, sx)]
        seen[sy, sx] = True
        while stack:
            y, x = stack.pop()
            comp.append((y, x))
            for dy in (-1, 0, 1):
                for dx in (-1, 0, 1):
                    ny, nx = y + dy, x + dx
                    if 0 <= ny < h and 0 <= nx < w and mask[ny, nx] and not seen[ny, nx]:
                        seen[ny, nx] = True
                        stack.append((ny, nx))
        if len(comp) > best_n:
            best_n = len(comp)
            best = np.zeros_like(mask)
            ys, xs = zip(*comp)
            best[list(ys), list(xs)] = True
    return best


def cam_box(cam, threshold=CAM_THRESHOLD):
    """The bounding box [x0, y0, x1, y1) of the largest connected component of the map at
    threshold x its maximum, or None for a map with no positive maximum."""
    top = float(np.max(cam))
    if not top > 0:
        return None
    comp = _largest_component(cam >= threshold * top)
    ys, xs = np.nonzero(comp)
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1]


def box_iou(a, b):
    """Intersection over union of two boxes [x0, y0, x1, y1) ; 0 when either is None."""
    if a is None or b is None:
        return 0.0
    iw = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def localisation_scores(cams, boxes):
    """{peak_in_box, mean_iou, iou_ge_05, n} over pairs of (upsampled map, true box)."""
    peaks, ious = [], []
    for cam, box in zip(cams, boxes):
        peaks.append(peak_in_box(cam, box))
        ious.append(box_iou(cam_box(cam), box))
    ious = np.array(ious)
    return {"peak_in_box": float(np.mean(peaks)), "mean_iou": float(ious.mean()),
            "iou_ge_05": float(np.mean(ious >= 0.5)), "n": len(ious)}


def upsample_like_vggcl(cam, h, w):
    """vggcl_cam_upsample in numpy: bilinear with half-pixel centres (clamped at the low edge),
    then normalized to [0, 1] (a flat map becomes 0)."""
    mh, mw = cam.shape

    def taps(n_out, n_in):
        s = np.maximum((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0)
        i0 = s.astype(int)
        return i0, np.minimum(i0 + 1, n_in - 1), s - i0

    y0, y1, fy = taps(h, mh)
    x0, x1, fx = taps(w, mw)
    c = cam.astype(np.float64)
    top = (1 - fx) * c[y0][:, x0] + fx * c[y0][:, x1]
    bottom = (1 - fx) * c[y1][:, x0] + fx * c[y1][:, x1]
    up = (1 - fy)[:, None] * top + fy[:, None] * bottom
    lo, hi = up.min(), up.max()
    return ((up - lo) / (hi - lo) if hi > lo else np.zeros_like(up)).astype(np.float32)


def cell_stride(n, m):
    """The pixels of a map's cell where pools that round down make a side of n pixels m cells: the power of 2
    s with n // s == m (the largest up to n // m)."""
    return 1 << ((n // m).bit_length() - 1)


def box_map_scores(boxes, map_shape, size=(SIZE, SIZE)):
    """The localisation scores of a reference map of map_shape (mh, mw): the true box's indicator
    averaged over the map's cells, upsampled as vggcl does (not the best such a map can score: a
    sharper one, e.g. that map to the 4th power, scores higher). size: the pictures' (h, w). A cell is
    the pools' stride of pixels, the power of 2 that pools of rounding down make a map of the picture's
    (mh = h // s: s the largest power of 2 up to h // mh): where the map does not cover the picture (240
    at 7x7: 7 cells of 32, the last 16 pixels pooled away), the cells of the part it covers, stretched
    over the whole as vggcl stretches the map."""
    (mh, mw), (h, w) = map_shape, size
    sy, sx = cell_stride(h, mh), cell_stride(w, mw)
    ups = []
    for x0, y0, x1, y1 in boxes:
        ind = np.zeros((h, w))
        ind[y0:y1, x0:x1] = 1
        cells = ind[:mh * sy, :mw * sx].reshape(mh, sy, mw, sx).mean(axis=(1, 3))
        ups.append(upsample_like_vggcl(cells, h, w))
    return localisation_scores(ups, boxes)


def preset_plan(w, h, resize, crop):
    """vggcl's preset on a w x h picture (host/io/preprocess.c, torchvision's Resize and CenterCrop; resize the
    short side's, or (height, width): both sides'): the resized (rw, rh) and the crop's left and top in it
    (negative: padded)."""
    rw, rh = w, h
    if isinstance(resize, tuple):
        rh, rw = resize
    elif resize:
        longer = int(np.floor(resize * max(w, h) / min(w, h)))
        rw, rh = (longer, resize) if h <= w else (resize, longer)
    if not crop:
        return rw, rh, 0, 0
    pad_left, pad_top = max(crop - rw, 0) // 2, max(crop - rh, 0) // 2
    return rw, rh, round((max(rw, crop) - crop) / 2) - pad_left, round((max(rh, crop) - crop) / 2) - pad_top


def box_in_crop(box, w, h, resize, crop):
    """A box [x0, y0, x1, y1) of a w x h picture in the pixels of what the preset makes of it (whole pixels, the
    edges rounded; clipped to the crop): None where nothing of it is left."""
    rw, rh, left, top = preset_plan(w, h, resize, crop)
    cw, ch = (crop, crop) if crop else (rw, rh)
    x0, x1 = (min(max(round(v * rw / w) - left, 0), cw) for v in (box[0], box[2]))
    y0, y1 = (min(max(round(v * rh / h) - top, 0), ch) for v in (box[1], box[3]))
    return [x0, y0, x1, y1] if x0 < x1 and y0 < y1 else None


def self_check():
    """The localisation metrics on synthetic maps and the data set builder on a tiny set."""
    ok = True

    def check(what, cond):
        nonlocal ok
        print(f"  {'ok  ' if cond else 'FAIL'} {what}")
        ok &= bool(cond)

    print("box_iou:")
    check("identical boxes: 1", box_iou([10, 10, 50, 50], [10, 10, 50, 50]) == 1.0)
    check("disjoint boxes: 0", box_iou([0, 0, 10, 10], [10, 0, 20, 10]) == 0.0)
    check("half overlap: 1/3", abs(box_iou([0, 0, 20, 10], [10, 0, 30, 10]) - 1 / 3) < 1e-12)
    check("contained, quarter the area: 1/4", abs(box_iou([0, 0, 20, 20], [0, 0, 10, 10]) - 0.25) < 1e-12)
    check("None: 0", box_iou(None, [0, 0, 1, 1]) == 0.0)

    print("peak_in_box / cam_box:")
    yy, xx = np.mgrid[:SIZE, :SIZE]
    blob = np.exp(-(((xx + 0.5 - 80) / 20) ** 2 + ((yy + 0.5 - 120) / 30) ** 2) / 2)
    check("blob at (80, 120) peaks in [60, 100, 100, 140)", peak_in_box(blob, [60, 100, 100, 140]))
    check("... and not in [81, 0, 224, 224) (it is at x = 79)", not peak_in_box(blob, [81, 0, 224, 224]))
    # a Gaussian exp(-d^2/2s^2) >= 0.2 for d <= s * sqrt(2 ln 5) = 1.794 s
    r = np.sqrt(2 * np.log(5))
    want = [int(np.ceil(80 - 20 * r - 0.5)), int(np.ceil(120 - 30 * r - 0.5)),
            int(np.floor(80 + 20 * r - 0.5)) + 1, int(np.floor(120 + 30 * r - 0.5)) + 1]
    check(f"blob's 20 % box is {want}: got {cam_box(blob)}", cam_box(blob) == want)
    two = np.zeros((SIZE, SIZE), np.float32)
    two[10:20, 10:20] = 1.0            # small and strongest
    two[100:180, 50:150] = 0.5         # large and weaker, above 20 %
    check("largest component wins over the strongest", cam_box(two) == [50, 100, 150, 180])
    two[100:180, 50:150] = 0.1         # below 20 %
    check("... unless it is under 20 % of the maximum", cam_box(two) == [10, 10, 20, 20])
    diag = np.zeros((8, 8))
    diag[1, 1] = diag[2, 2] = diag[3, 3] = 1.0
    diag[6, 0] = diag[6, 1] = 1.0
    check("diagonal neighbours join (8-connected)", cam_box(diag) == [1, 1, 4, 4])
    check("flat zero map (vggcl's normalized flat map): no box", cam_box(np.zeros((SIZE, SIZE))) is None)
    scores = localisation_scores([blob, blob], [want, [150, 0, 224, 60]])
    check(f"a hit and a miss: peak in box 0.5, mean IoU 0.5, IoU >= 0.5 0.5 ({scores})",
          scores == {"peak_in_box": 0.5, "mean_iou": 0.5, "iou_ge_05": 0.5, "n": 2})
    ramp = np.arange(4, dtype=np.float32).reshape(2, 2)
    check("upsample_like_vggcl: corners keep the end values, normalized",
          np.allclose(upsample_like_vggcl(ramp, 8, 8)[[0, 0, -1, -1], [0, -1, 0, -1]], [0, 1 / 3, 2 / 3, 1]))
    try:
        import torch
        cam = np.random.default_rng(2).random((7, 7)).astype(np.float32)
        t = torch.nn.functional.interpolate(torch.from_numpy(cam)[None, None], size=(SIZE, SIZE), mode="bilinear",
                                            align_corners=False)[0, 0].numpy()
        t = (t - t.min()) / (t.max() - t.min())
        check("upsample_like_vggcl matches torch's bilinear (align_corners=False), normalized",
              np.abs(upsample_like_vggcl(cam, SIZE, SIZE) - t).max() < 1e-5)
    except ImportError:  # (said: the tests' Python has torch, and a check left out there must show)
        print("skipped: upsample_like_vggcl against torch's bilinear (no torch in this Python)")
    box7 = box_map_scores([[0, 0, 64, 64]], (7, 7))
    check(f"a box on the 32-pixel grid: peak in it at 7x7 ({box7})", box7["peak_in_box"] == 1.0)
    wide = box_map_scores([[128, 32, 192, 64]], (3, 7), (96, 224))  # (two cells of a 3x7 map of 96 x 224)
    tall = box_map_scores([[32, 128, 64, 192]], (7, 3), (224, 96))  # (the same, transposed)
    check(f"a map that is not square: the peak in the box, as transposed ({wide}, {tall})",
          wide["peak_in_box"] == 1.0 and wide == tall and wide["mean_iou"] > 0.3)
    # 240 at 7x7: 7 cells of 32 pixels cover 224, stretched over 240 (the cells were taken as 240 / 7 = 34.3:
    # the reference was left out, unsaid); a box of the covered part's cells 2 to 4 has its peak in it
    uncovered = box_map_scores([[64, 64, 160, 160]], (7, 7), (240, 240))
    # (the stride was rounded: 46 at 1x1 is one cell of 32, not 64, and a 2x2 map of 91 cells of 32, not 64)
    strides = [cell_stride(n, m) for n, m in ((46, 1), (91, 2), (240, 7), (255, 7), (224, 14), (32, 1), (63, 1))]
    check(f"a map that does not cover the picture: the covered part's cells, stretched ({uncovered}, {strides})",
          uncovered["peak_in_box"] == 1.0 and strides == [32, 32, 32, 32, 16, 32, 32])
    if ndimage is not None:  # the fallback flood fill agrees with scipy
        rng = np.random.default_rng(1)
        for k in range(20):
            m = rng.random((30, 30)) < 0.45
            fallback = globals()["ndimage"]
            globals()["ndimage"] = None
            a = _largest_component(m)
            globals()["ndimage"] = fallback
            if a.sum() != _largest_component(m).sum():
                check(f"flood fill agrees with scipy (case {k})", False)
                break
        else:
            check("flood fill agrees with scipy's largest component size on 20 random masks", True)

    print("data set:")
    with tempfile.TemporaryDirectory(prefix="pool5_check-") as tmp:
        cls = class_names()[:3]
        b1 = build_dataset(Path(tmp) / "a", cls, 8, 0.25, seed=3)
        b2 = build_dataset(Path(tmp) / "b", cls, 8, 0.25, seed=3)
        b3 = build_dataset(Path(tmp) / "c", cls, 8, 0.25, seed=4)
        same = b1 == b2 and all((Path(tmp) / "a" / r).read_bytes() == (Path(tmp) / "b" / r).read_bytes() for r in b1)
        check("same seed: same files and boxes", same)
        check("another seed: other boxes", b1 != b3)
        check("24 pictures, 6 of them val", len(b1) == 24 and sum(r.startswith("val/") for r in b1) == 6)
        sides = [max(b[2] - b[0], b[3] - b[1]) / SIZE for b in b1.values()]
        inside = all(0 <= b[0] < b[2] <= SIZE and 0 <= b[1] < b[3] <= SIZE for b in b1.values())
        check(f"boxes inside the picture, longer side {min(sides):.2f}..{max(sides):.2f} of it",
              inside and OBJECT_SIDE[0] * OBJECT_KEEP[0] - 0.03 <= min(sides) and max(sides) <= OBJECT_SIDE[1] + 0.01)
        shapes = {np.asarray(Image.open(Path(tmp) / "a" / r)).shape for r in b1}
        check(f"pictures are {SIZE}x{SIZE} RGB", shapes == {(SIZE, SIZE, 3)})
        check("load_dataset reads it back", load_dataset(Path(tmp) / "a") == (b1, cls))
    print("cleanup:")
    with tempfile.TemporaryDirectory(prefix="pool5_check-") as tmp:
        # a vggcl that hangs: the study is in its preflight, its working folder made, when SIGTERM comes
        hang = Path(tmp) / "vggcl"
        hang.write_text("#!/bin/sh\nexec sleep 60\n")
        hang.chmod(0o755)
        work = Path(tmp) / "tmp"
        work.mkdir()
        p = subprocess.Popen([sys.executable, __file__, "--weights", hang, "--vggcl", hang],
                             env=dict(os.environ, TMPDIR=str(work)), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(f.name.startswith("pool5_study-") for f in work.iterdir()):
            time.sleep(0.05)  # (other temporary folders come and go: the imports')
        made = [f.name for f in work.iterdir() if f.name.startswith("pool5_study-")]
        time.sleep(0.5)  # (into the preflight's vggcl)
        p.terminate()
        p.communicate(timeout=60)
        check(f"SIGTERM: exit 143, the temporary working folder removed (made: {made})",
              p.returncode == 128 + signal.SIGTERM and made and not (work / made[0]).exists())
    print("self-check " + ("passed" if ok else "FAILED"))
    return ok


# ---------------------------------------------------------------------------------------------
# vggcl
# ---------------------------------------------------------------------------------------------

class VggclError(Exception):
    pass


def run_vggcl(vggcl, args, log=None, stream_prefix=None, skips=False):
    """Runs vggcl with args; returns its stdout. stream_prefix: relay its output (stdout and
    stderr merged) line by line to our stderr as it comes, and to log. Raises VggclError
    with the command and its stderr on a non-zero exit; with skips, but for exit status 1 where vggcl skipped
    pictures (unreadable ones, named: "N of M images were skipped"), which goes on without them, said: a user's
    data set with an unreadable picture ended the study after the training that passed it over."""
    cmd = [str(vggcl)] + [str(a) for a in args]
    shown = " ".join(cmd)

    def skipped(returncode, output, shown_first=""):
        said = re.search(r"vggcl: (\d+) of (\d+) images were skipped", output)
        if returncode == 1 and skips and said:
            print(f"{shown_first}pool5_study: warning: `{args[0]}` skipped {said.group(1)} of {said.group(2)} "
                  "pictures (named above, with why); the study goes on without them", file=sys.stderr)
        return returncode == 1 and skips and said

    if stream_prefix is not None:
        print(f"$ {shown}", file=sys.stderr, flush=True)
        lines = []
        with subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as p:
            for line in p.stdout:
                lines.append(line)
                print(stream_prefix + line, end="", file=sys.stderr, flush=True)
        if log:
            Path(log).write_text("".join(lines))
        if p.returncode != 0 and not skipped(p.returncode, "".join(lines)):
            raise VggclError(f"`{shown}` failed with exit status {p.returncode} (its output is above"
                             + (f", and in {log}" if log else "") + ")")
        return "".join(lines)
    p = subprocess.run(cmd, capture_output=True, text=True)
    if log:
        Path(log).write_text(p.stdout + p.stderr)
    if p.returncode != 0 and not skipped(p.returncode, p.stderr, shown_first=p.stderr):  # (the pictures named)
        tail = "\n".join(p.stdout.strip().splitlines()[-5:])
        raise VggclError(f"`{shown}` failed with exit status {p.returncode}:\n{p.stderr.strip()}"
                         + (f"\n(last lines of its stdout:)\n{tail}" if tail else ""))
    return p.stdout


def _json_from(stdout, what):
    """The one JSON object a vggcl command printed (the whole of stdout, else its last line
    that looks like one)."""
    try:
        return json.loads(stdout)
    except ValueError:
        for line in reversed(stdout.strip().splitlines()):
            if line.startswith("{"):
                try:
                    return json.loads(line)
                except ValueError:
                    break
    raise VggclError(f"{what}: no JSON object in its output:\n{stdout[-2000:]}")


def preflight(vggcl):
    """Checks vggcl runs and has the subcommands the study needs; returns whether train-head
    takes --resize/--crop (from its --help)."""
    if not (Path(vggcl).is_file() and os.access(vggcl, os.X_OK)):
        raise VggclError(f"{vggcl}: no vggcl binary there (build it, or give --vggcl PATH)")
    helps = {}
    for sub in ("train-head", "eval", "cam", "bench"):
        p = subprocess.run([str(vggcl), sub, "--help"], capture_output=True, text=True)
        if p.returncode != 0:
            raise VggclError(f"`{vggcl} {sub} --help` failed with exit status {p.returncode}: this vggcl has no "
                             f"working `{sub}` command:\n{p.stderr.strip()}")
        helps[sub] = p.stdout + p.stderr
    takes_pre = "--resize" in helps["train-head"] and "--crop" in helps["train-head"]
    if not takes_pre:
        print("pool5_study: warning: `vggcl train-head --help` does not mention --resize/--crop; training uses "
              "its own preprocessing", file=sys.stderr)
    return takes_pre


def train_head(vggcl, weights, frame, setting, seed, train_opts, takes_pre, val_split=None):
    """vggcl train-head on DATA/train; the epoch kept is the best on DATA/val, or with val_split
    on that fraction of DATA/train held out (then DATA/val is seen by eval only)."""
    model = frame.work / f"head-{setting}.safetensors"
    held_out = ["--val", frame.data / "val"] if val_split is None else ["--val-split", val_split]
    args = (["train-head", "--weights", weights, "--data", frame.data / "train"] + held_out
            + ["--pool5", setting, "--seed", seed, "--out", model] + train_opts + (frame.pre if takes_pre else []))
    t = time.time()
    run_vggcl(vggcl, args, log=frame.work / f"train-head-{setting}.log", stream_prefix=f"  [train {setting}] ",
              skips=True)
    if not model.is_file():
        raise VggclError(f"vggcl train-head wrote no {model} (its output is above)")
    return model, time.time() - t


def evaluate(vggcl, model, frame, setting, classes):
    res = _json_from(run_vggcl(vggcl, ["eval", "--weights", model, "--data", frame.data / "val", "--format", "json"]
                               + frame.pre, skips=True), "vggcl eval")
    (frame.work / f"eval-{setting}.json").write_text(json.dumps(res, indent=1) + "\n")
    for key in ("top1", "n", "classes"):
        if key not in res:
            raise VggclError(f"vggcl eval: no \"{key}\" in its JSON: {json.dumps(res)[:500]}")
    if list(res["classes"]) != list(classes):
        raise VggclError(f"vggcl eval's classes {res['classes']} are not the data set's {classes}: "
                         "the class indices for --class would be wrong")
    return res


def cam_file(frame, setting, rel, suffix):
    """Where vggcl cam wrote a val picture's map (a folder per class: cam names its outputs by base name)."""
    return frame.work / f"cam-{setting}" / Path(rel).parent.name / (Path(rel).stem + suffix)


def class_activation_maps(vggcl, model, frame, setting, classes, boxes):
    """Runs vggcl cam with the true class over every val picture with a box (one call per class folder);
    returns (the upsampled maps in boxes' val order, their val paths, the raw map's shape)."""
    cam_dir = frame.work / f"cam-{setting}"
    shutil.rmtree(cam_dir, ignore_errors=True)
    rels = sorted(r for r in boxes if r.startswith("val/"))
    for k, c in enumerate(classes):
        pictures = [frame.data / r for r in rels if Path(r).parent.name == c]
        if not pictures:
            continue
        (cam_dir / c).mkdir(parents=True)
        run_vggcl(vggcl, ["cam", "--weights", model, "--pool5", setting, "--class", k, "--out-dir", cam_dir / c]
                  + frame.pre + pictures, log=cam_dir / f"{c}.log")
    ups, raw_shapes = [], set()
    for rel in rels:
        try:
            up = np.load(cam_file(frame, setting, rel, ".cam-up.npy"))
            raw_shapes.add(np.load(cam_file(frame, setting, rel, ".cam.npy")).shape)
        except OSError as e:
            raise VggclError(f"vggcl cam wrote no map for {rel}: {e}")
        if up.shape != tuple(frame.size):
            raise VggclError(f"{Path(rel).stem}.cam-up.npy is {up.shape}, not {frame.size[0]}x{frame.size[1]}: did "
                             "vggcl resize or crop otherwise?")
        ups.append(up)
    if len(raw_shapes) != 1:
        raise VggclError(f"the raw maps have different shapes: {sorted(raw_shapes)}")
    return ups, rels, raw_shapes.pop()


BENCH_ROUNDS = 3  # of the two settings' benches, alternating: the median of each (one after the other, once each,
                  # a busy moment of a shared machine made either twice the other)


def images_per_second(vggcl, model, setting, size):
    res = _json_from(run_vggcl(vggcl, ["bench", "--weights", model, "--pool5", setting, "--batch", 8,
                                       "--size", f"{size[0]}x{size[1]}", "--iters", 5, "--json"]), "vggcl bench")
    if "images_per_s" not in res:
        raise VggclError(f"vggcl bench: no \"images_per_s\" in its JSON: {json.dumps(res)[:500]}")
    return float(res["images_per_s"]), res.get("device", "?")


def throughputs(vggcl, results, size):
    """Each setting's images/s (and the device) into its results: the median of BENCH_ROUNDS benches, the
    settings alternating."""
    runs = {r["pool5"]: [] for r in results}
    for k in range(BENCH_ROUNDS):
        print(f"bench, round {k + 1} of {BENCH_ROUNDS}: " + ", ".join(runs), file=sys.stderr, flush=True)
        for r in results:
            ips, r["device"] = images_per_second(vggcl, r["model"], r["pool5"], size)
            runs[r["pool5"]].append(ips)
    for r in results:
        r["images_per_s"], r["images_per_s_rounds"] = float(np.median(runs[r["pool5"]])), runs[r["pool5"]]


def study_setting(vggcl, weights, frame, setting, seed, train_opts, takes_pre, val_split, classes, boxes):
    print(f"pool5 {setting}: training the head", file=sys.stderr, flush=True)
    model, train_s = train_head(vggcl, weights, frame, setting, seed, train_opts, takes_pre, val_split)
    print(f"pool5 {setting}: evaluating", file=sys.stderr, flush=True)
    ev = evaluate(vggcl, model, frame, setting, classes)
    print(f"pool5 {setting}: class activation maps", file=sys.stderr, flush=True)
    ups, rels, map_shape = class_activation_maps(vggcl, model, frame, setting, classes, boxes)
    loc = localisation_scores(ups, [boxes[r] for r in rels])
    return {"pool5": setting, "model": str(model), "train_s": train_s, "top1": float(ev["top1"]),
            "top5": ev.get("top5"), "balanced_accuracy": ev.get("balanced_accuracy"),
            "macro_f1": (ev.get("macro") or {}).get("f1"), "n_val": int(ev["n"]), "skipped_val": ev.get("skipped", 0),
            "per_class": ev.get("per_class"),
            "gap_map": list(map_shape), **loc}


# ---------------------------------------------------------------------------------------------
# report and picture
# ---------------------------------------------------------------------------------------------

def markdown_table(results):
    """The table; each rate with its count (a small val set's 100 % read as certain) and images/s with the rounds'
    range (one noisy round read as a difference of the settings)."""
    rows = ["| pool5 | GAP map | val top-1 | balanced accuracy | macro F1 | CAM peak in box | mean IoU | IoU ≥ 0.5 "
            "| images/s (rounds) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]

    def rate(p, n):
        return f"{100 * p:.1f} % ({round(p * n)}/{n})"

    def pct(p):  # (a vggcl before 0.3's eval averages, which preflight lets run, has none)
        return "n/a" if p is None else f"{100 * p:.1f} %"

    def f3(v):
        return "n/a" if v is None else f"{v:.3f}"
    for r in results:
        runs = r.get("images_per_s_rounds") or [r["images_per_s"]]
        rows.append(f"| {r['pool5']} | {r['gap_map'][0]}×{r['gap_map'][1]} | {rate(r['top1'], r['n_val'])} "
                    f"| {pct(r['balanced_accuracy'])} | {f3(r['macro_f1'])} "
                    f"| {rate(r['peak_in_box'], r['n'])} | {r['mean_iou']:.3f} | {rate(r['iou_ge_05'], r['n'])} "
                    f"| {r['images_per_s']:.1f} ({min(runs):.1f}-{max(runs):.1f}) |")
    return "\n".join(rows)


def caption(results, boxes, classes, args, frame):
    val = [b for r, b in sorted(boxes.items()) if r.startswith("val/")]
    h, w = frame.size
    chance = np.mean([(b[2] - b[0]) * (b[3] - b[1]) / (h * w) for b in val])
    references = []
    for r in results:
        mh, mw = r["gap_map"]
        c = r["box_map"] = box_map_scores(val, (mh, mw), (h, w))
        references.append(f"{mh}×{mw}: mean IoU {c['mean_iou']:.3f}, IoU ≥ 0.5 {100 * c['iou_ge_05']:.1f} %")
    picked = ("on the val pictures themselves, so top-1 is the best over epochs" if args.val_split is None
              else f"on {100 * args.val_split:g} % of the training pictures held out")
    if args.data:  # (the images train-head takes: of vggcl's extensions, in sub-folders too, none hidden)
        n_train = sum(1 for c in classes for f in (frame.data / "train" / c).rglob("*")
                      if f.is_file() and is_image_name(f) and
                      not any(part.startswith(".") for part in f.relative_to(frame.data / "train" / c).parts))
        # (less those train-head named as skipped: unreadable, counted as trained on)
        log = frame.work / "train-head-keep.log"
        said = log.read_text(errors="replace").splitlines() if log.is_file() else []
        unread = sum(1 for ln in said if ln.startswith(f"vggcl: {frame.data / 'train'}/") and ln.endswith("(skipped)"))
        n_train -= unread
        unread_val = results[0].get("skipped_val") or 0  # (eval's skipped: said on stderr alone)
        pictures = (f"{len(classes)} classes of {frame.data}: {n_train} training"
                    f"{f' ({unread} unreadable left out)' if unread else ''} and {results[0]['n_val']} "
                    f"validation pictures{f' ({unread_val} unreadable left out)' if unread_val else ''}, the maps "
                    f"of the {len(val)} with a box scored, at "
                    f"`{' '.join(map(str, frame.pre))}`")
    else:
        pictures = f"{len(classes)} classes, {len(boxes) - len(val)} training and {len(val)} validation pictures " \
                   f"(seed {args.seed})"
    text = (f"{pictures}; train-head kept its best epoch {picked}; "
            f"trunk {Path(args.weights).name}; images/s from `vggcl bench --batch 8`, the median of "
            f"{BENCH_ROUNDS} rounds alternating the settings, on "
            f"{results[0]['device']}. A peak placed at random would land in the box {100 * chance:.1f} % of "
            f"the time (mean box area).")
    if references:
        text += (" The true box averaged over the map's cells, upsampled as vggcl does (a reference map of that "
                 "size, not a bound): " + "; ".join(references) + ".")
    return text


def draw_box(path, box, panels, top):
    """Draws the box on each of the picture's side-by-side panels, in place (top: the rows above the panels, cam's
    header that names them)."""
    im = Image.open(path).convert("RGB")
    dr = ImageDraw.Draw(im)
    pw = im.width // panels
    x0, y0, x1, y1 = box
    y0, y1 = y0 + top, y1 + top
    for k in range(panels):
        for inset, colour in ((0, (255, 255, 255)), (1, (0, 0, 0))):
            dr.rectangle([k * pw + x0 - 1 + inset, y0 - 1 + inset, k * pw + x1 - inset, y1 - inset], outline=colour)
    im.save(path)


def picture_image(args, boxes, classes):
    """The val picture for --picture (relative to --data, or to --out for the study's own set), checked."""
    if args.data:
        default = min(r for r in boxes if r.startswith("val/"))
    else:
        default = "val/cat/cat_0000.png" if "cat" in classes else f"val/{classes[0]}/{classes[0]}_0000.png"
    rel = args.picture_image or default
    if rel not in boxes or not rel.startswith("val/"):
        sys.exit(f"pool5_study: --picture-image {rel}: not a validation picture of the data set with a box in the "
                 f"crop (a path relative to {'--data' if args.data else '--out'}, like {default})")
    return rel


def make_picture_file(vggcl, frame, rel, boxes, classes, heads, dest, results):
    """The pool5 kept | dropped picture of one val picture with its true box; returns the caption."""
    c = rel.split("/")[1]
    k = classes.index(c)
    stem = Path(rel).stem
    # vggcl cam --compare-pool5 draws the picture, with its header over the panels (pool5 kept, pool5 dropped, the
    # class); own: each panel then the map of its own setting's head (the class is --class k's either way)
    pic_dir = frame.work / "picture"
    pic_dir.mkdir(exist_ok=True)
    run_vggcl(vggcl, ["cam", "--compare-pool5", "--weights", frame.work / "head-keep.safetensors", "--class", k,
                      "--out-dir", pic_dir] + frame.pre + [frame.data / rel])
    both = Image.open(pic_dir / f"{stem}.compare.png").convert("RGB")
    top = both.height - frame.size[0]
    if heads == "same":
        how = "both maps from the head trained with pool5 kept (`vggcl cam --compare-pool5`)"
    else:
        for i, setting in enumerate(SETTINGS):
            both.paste(Image.open(cam_file(frame, setting, rel, ".cam.png")).convert("RGB"), (i * frame.size[1], top))
        how = "each map from the head trained for its own setting"
    both.save(dest)
    draw_box(dest, boxes[rel], 2, top)
    (kh, kw), (dh, dw) = (r["gap_map"] for r in results)
    return (f"{rel} (class {k}, {c}): pool5 kept (left, {kh}×{kw} map) and dropped (right, {dh}×{dw}), {how}; "
            f"the true box drawn on both")


# ---------------------------------------------------------------------------------------------

def resize_arg(text):
    """--resize: N (the short side's) as an int, or HxW (both sides', each at least 1) as (H, W)."""
    parts = text.split("x")
    sides = [int(p) for p in parts] if all(p.isascii() and p.isdigit() for p in parts) else []
    if not 1 <= len(sides) <= 2 or (len(sides) == 2 and min(sides) < 1):
        raise argparse.ArgumentTypeError(f"'{text}': expected N, or HxW (height x width, 1 or more each)")
    return sides[0] if len(sides) == 1 else tuple(sides)


def trunk_preset(ap, args):
    """args.resize and args.crop not given taken as vggcl takes them: the trunk's own (its metadata's "vggcl.resize",
    "N" or "H,W", and "vggcl.crop", 0 none), else torchvision's 256 and 224; a resize given takes its width with
    it. --no-crop is crop 0. (The study gives vggcl every value, so that it maps the boxes as vggcl crops.)"""
    meta = {}
    try:
        with open(args.weights, "rb") as f:
            n = int.from_bytes(f.read(8), "little")
            if 2 <= n <= 100 << 20:
                meta = json.loads(f.read(n)).get("__metadata__")
    except (OSError, ValueError, AttributeError, TypeError):
        pass  # (vggcl says what is wrong with the file, naming it; none given: --self-check's)
    meta = meta if isinstance(meta, dict) else {}

    def whole(text):  # (as vggcl reads the metadata's sizes: whole numbers, "224.0" too; else None)
        try:
            v = float(text)
        except (TypeError, ValueError):
            return None
        return int(v) if math.isfinite(v) and v == int(v) and 0 <= v <= 16384 else None

    resize = [whole(v) for v in meta["vggcl.resize"].split(",")] if isinstance(meta.get("vggcl.resize"), str) else []
    args.trunks = []  # (the options the trunk's metadata gave: the messages say so)
    if args.resize is None:
        args.resize = 256
        if len(resize) in (1, 2) and None not in resize:
            args.resize = tuple(resize) if len(resize) == 2 else resize[0]
            args.trunks.append("--resize")
    if args.no_crop:
        args.crop = 0
    elif args.crop is None:
        args.crop = 224
        if whole(meta.get("vggcl.crop")) is not None:
            args.crop = whole(meta.get("vggcl.crop"))
            args.trunks.append("--crop")


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="See the module docstring (head of this file) for the details.")
    ap.add_argument("--weights", help="the VGG16 trunk (safetensors) to train heads on")
    ap.add_argument("--data", help="your own data set: DIR/train/<class>/..., DIR/val/<class>/... and "
                                   "DIR/boxes.json (see the docstring), instead of the study's own")
    ap.add_argument("--resize", type=resize_arg, metavar="N|HxW",
                    help="with --data: the short side's resize, or HxW: both sides, as Resize((H, W)) (default: the "
                         "trunk's own, its metadata's, else 256)")
    crop = ap.add_mutually_exclusive_group()
    crop.add_argument("--crop", type=int, help="with --data: the center crop (default: the trunk's own, else 224)")
    crop.add_argument("--no-crop", action="store_true", help="with --data: no crop (with --resize HxW: the pictures "
                                                             "made that size, as a model trained with Resize((H, W)) "
                                                             "alone)")
    ap.add_argument("--vggcl", default="build/vggcl", help="the vggcl binary (default build/vggcl)")
    ap.add_argument("--out", help="working folder (default: a temporary one, removed unless --keep)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary working folder")
    ap.add_argument("--skip-build-data", action="store_true", help="reuse the data set already in --out")
    ap.add_argument("--build-only", action="store_true", help="write the data set to --out and stop")
    ap.add_argument("--self-check", action="store_true", help="check the metrics and the data set builder, stop")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--classes", type=int, help=f"use the first N classes (of {len(OBJECTS)}, sorted by name)")
    ap.add_argument("--per-class", type=int, default=100, help="pictures per class, both splits (default 100)")
    ap.add_argument("--val-fraction", type=float, default=0.25, help="of them for validation (default 0.25)")
    ap.add_argument("--epochs", type=int, help="passed to vggcl train-head")
    ap.add_argument("--l2", type=float, help="passed to vggcl train-head")
    ap.add_argument("--batch", type=int, help="passed to vggcl train-head")
    ap.add_argument("--flip", action="store_true", help="passed to vggcl train-head")
    ap.add_argument("--train-args", help="more arguments for vggcl train-head, e.g. \"--lr 0.05 --minibatch 8\"")
    ap.add_argument("--val-split", type=float,
                    help="train-head picks its best epoch on this fraction of the training pictures instead of on "
                         "the val ones, so the val top-1 is not the maximum over epochs of the same set (default: "
                         "--val on the val pictures)")
    ap.add_argument("--report", help="also write the Markdown table (and its caption) here")
    ap.add_argument("--picture", help="write the pool5 kept | dropped CAM picture here (PNG)")
    ap.add_argument("--picture-image", help="the val picture for --picture, relative to --data or --out "
                                            "(default: with --data the first val picture with a box, by path; "
                                            "else val/cat/cat_0000.png, else the first class's first)")
    ap.add_argument("--picture-heads", choices=("same", "own"), default="same",
                    help="same: --compare-pool5 with the pool5-kept head; own: each setting's own head")
    args = ap.parse_args(argv)
    if args.data and (args.skip_build_data or args.build_only):
        ap.error("--data is a data set already: no --skip-build-data or --build-only")
    if not args.data and (args.resize is not None or args.crop is not None or args.no_crop):
        ap.error("--resize, --crop and --no-crop go with --data (the study's own pictures are made at 224 x 224)")
    if not (args.self_check or args.build_only) and not args.weights:
        ap.error("--weights TRUNK is required (or --build-only / --self-check)")
    if args.weights and not (args.self_check or args.build_only) and not Path(args.weights).is_file():
        ap.error(f"--weights {args.weights}: no such file")
    if args.data:
        trunk_preset(ap, args)
    sides = args.resize if isinstance(args.resize, tuple) else (args.resize,)
    trunks = " (the trunk's own: its metadata's)" if args.data and args.trunks else ""
    if args.data and not all(0 <= s <= 16384 for s in sides):
        ap.error("--resize must be 0 to 16384 (or HxW, 1 to 16384 each)")
    if args.data and args.crop == 0 and not isinstance(args.resize, tuple):
        ap.error(f"--no-crop needs --resize HxW{trunks}: each picture would keep a size of its own, and a run of "
                 "vggcl takes one size")
    if args.data and not 64 <= min((args.crop,) if args.crop else sides) <= 16384:
        # (at 32 to 63 pool5 kept makes a 1x1 map, which places nothing: its row scored 0 as if it had lost)
        ap.error(f"--crop must be 64 to 16384, or without a crop --resize HxW 64 or more a side, not "
                 f"{args.crop if args.crop else 'x'.join(map(str, sides))}{trunks} (below 64 the map with pool5 kept "
                 "is 1x1: nothing to localize)")
    if args.data and args.out and Path(args.out).resolve().is_relative_to(Path(args.data).resolve()):
        ap.error(f"--out {args.out} is in --data {args.data}: the study writes nothing there")
    if args.out and Path(args.out).exists() and not Path(args.out).is_dir():
        ap.error(f"--out {args.out}: not a folder")
    for opt, path in (("--report", args.report), ("--picture", args.picture)):  # (said before the training)
        if path and not Path(path).resolve().parent.is_dir():
            ap.error(f"{opt} {path}: no folder {Path(path).parent} to write it in")
    if args.skip_build_data and not args.out:
        ap.error("--skip-build-data needs --out")
    if args.build_only and not args.out:
        ap.error("--build-only needs --out")
    if args.val_split is not None and not 0 < args.val_split < 1:
        ap.error("--val-split must be in (0, 1)")
    if args.per_class < 2 or not 0 < args.val_fraction < 1:
        ap.error("--per-class must be at least 2 and --val-fraction in (0, 1)")
    return args


def _exit_on_signal(signum, frame):
    """SIGTERM and SIGHUP end the study as Ctrl-C does, through main's cleanup (a `timeout` left the temporary
    working folder behind)."""
    raise SystemExit(128 + signum)


def main(argv=None):
    args = parse_args(argv)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(sig) is not signal.SIG_IGN:  # (nohup's ignored SIGHUP stays ignored)
            signal.signal(sig, _exit_on_signal)
    if args.self_check:
        return 0 if self_check() else 1
    temporary = not args.out
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="pool5_study-"))
    try:
        takes_pre = None
        if not args.build_only:
            takes_pre = preflight(args.vggcl)
        if args.data:
            boxes, classes = load_own_data(args.data, args.resize, args.crop)
            out.mkdir(parents=True, exist_ok=True)
        elif args.skip_build_data:
            boxes, classes = load_dataset(out)
            if args.classes is not None and len(classes) != args.classes:
                print(f"pool5_study: warning: --classes {args.classes} ignored: the data set in {out} "
                      f"has {len(classes)}", file=sys.stderr)
        else:
            classes = class_names(args.classes)
            out.mkdir(parents=True, exist_ok=True)
            t = time.time()
            boxes = build_dataset(out, classes, args.per_class, args.val_fraction, args.seed)
            print(f"data set: {len(boxes)} pictures of {len(classes)} classes in {out} "
                  f"({time.time() - t:.1f} s)", file=sys.stderr)
        resize = "x".join(map(str, args.resize)) if isinstance(args.resize, tuple) else args.resize
        cut = ["--crop", args.crop] if args.crop else ["--no-crop"]
        frame = (Frame(Path(args.data), out, ["--resize", resize] + cut,
                       (args.crop,) * 2 if args.crop else args.resize) if args.data
                 else Frame(out, out, PRE, (SIZE, SIZE)))
        if args.build_only:
            return 0
        rel = picture_image(args, boxes, classes) if args.picture else None

        train_opts = []
        for flag, value in (("--epochs", args.epochs), ("--l2", args.l2), ("--batch", args.batch)):
            if value is not None:
                train_opts += [flag, value]
        if args.flip:
            train_opts.append("--flip")
        train_opts += shlex.split(args.train_args or "")
        results = [study_setting(args.vggcl, args.weights, frame, s, args.seed, train_opts, takes_pre,
                                 args.val_split, classes, boxes) for s in SETTINGS]
        throughputs(args.vggcl, results, frame.size)
        table = markdown_table(results)
        cap = caption(results, boxes, classes, args, frame)
        (out / "results.json").write_text(json.dumps(results, indent=1) + "\n")
        print(table)
        print()
        print(cap)
        if args.report:
            Path(args.report).write_text(table + "\n\n" + cap + "\n")
        if args.picture:
            print(f"\n{args.picture}: " + make_picture_file(args.vggcl, frame, rel, boxes, classes,
                                                             args.picture_heads, args.picture, results))
        return 0
    except VggclError as e:
        print(f"pool5_study: {e}", file=sys.stderr)
        if temporary and not args.keep:
            print("pool5_study: (--keep keeps the working folder for a look)", file=sys.stderr)
        return 1
    finally:
        if temporary and not args.keep:
            shutil.rmtree(out, ignore_errors=True)
        elif temporary:
            print(f"pool5_study: working folder kept: {out}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
