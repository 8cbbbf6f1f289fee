#!/usr/bin/python3
"""`vggcl preprocess` against PIL + torchvision on generated images.

Decoding is compared with PIL's Image.open(p).convert("RGB") bit for bit
(every PNG colour type and bit depth, palettes with transparency, grayscale
and colour JPEG); the whole preset with torchvision's own
VGG16_Weights.IMAGENET1K_V1.transforms() (resize 256 with PIL's antialiased
bilinear, center crop 224, normalize) on odd sizes, portrait and landscape,
tiny images and images smaller than the crop: identical, value for value.

usage: test_images.py VGGCL_BINARY
"""
import io
import os
import re
import struct
import subprocess
import sys
import tempfile
import unittest
import zlib
from pathlib import Path

import testenv  # (first: the device, VGGCL_TEST_DEVICE)

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torchvision.models import VGG16_Weights

VGGCL = None
STD = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]


def png_bytes(pixels, color_type, depth, palette=None, trns=None, cut=0):
    """A PNG written by hand (PIL cannot write every depth): pixels is a (h, w[, c]) integer array; cut
    bytes taken off the end of the pixel data's zlib stream."""
    h, w = pixels.shape[:2]
    chans = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    flat = pixels.reshape(h, w * chans).astype(np.uint32)
    rows = []
    for r in flat:
        if depth == 16:
            raw = r.astype(">u2").tobytes()
        elif depth == 8:
            raw = r.astype(np.uint8).tobytes()
        else:  # pack 1/2/4-bit samples, most significant first
            per = 8 // depth
            padded = np.concatenate([r, np.zeros((-len(r)) % per, np.uint32)]).reshape(-1, per)
            shifts = np.arange(per - 1, -1, -1, dtype=np.uint32) * depth
            raw = (padded << shifts).sum(1).astype(np.uint8).tobytes()
        rows.append(b"\0" + raw)

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    out = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, 0))
    if palette is not None:
        out += chunk(b"PLTE", np.asarray(palette, np.uint8).tobytes())
    if trns is not None:
        out += chunk(b"tRNS", trns)
    data = zlib.compress(b"".join(rows))
    return out + chunk(b"IDAT", data[:len(data) - cut]) + chunk(b"IEND", b"")


def bmp_bytes(rows, bits, header=40, compression=0, masks=None, palette=None, colors=0, top_down=False,
              offset=None):
    """A BMP file: rows (h, row bytes before padding, uint8) as the file holds them top row first; header of
    12 (OS/2 v1: 3-byte palette entries), 40, 64, 108 or 124 bytes; masks after a 40-byte header or in a
    longer one; offset 0 or None (the usual one)."""
    h, w_bytes = rows.shape
    stride = (w_bytes + 3) // 4 * 4
    pixels = b"".join(bytes(r) + bytes(stride - w_bytes) for r in (rows if top_down else rows[::-1]))
    entry = 3 if header == 12 else 4
    pal = b"".join(bytes([b, g, r] + [0] * (entry - 3)) for r, g, b in (palette if palette is not None else []))
    width = w_bytes * 8 // bits
    if header == 12:
        info = struct.pack("<IHHHH", 12, width, h, 1, bits)
    else:
        info = struct.pack("<IiiHHIIiiII", header, width, -h if top_down else h, 1, bits, compression, len(pixels),
                           2835, 2835, colors, 0)
        if masks is not None and header > 40:
            info += struct.pack("<4I", *masks)
        info += bytes(header - len(info))
        if masks is not None and header == 40:
            info += struct.pack("<3I", *masks[:3])
    at = 14 + len(info) + len(pal)
    return b"BM" + struct.pack("<IHHI", at + len(pixels), 0, 0, at if offset is None else offset) + info + pal + pixels


def rle_bmp_bytes(w, h, data, rle4=False, bits=None, palette=None, colors=None, top_down=False, odd=False):
    """A w x h BMP of RLE8 (RLE4: rle4) data, bytes as the file holds them; a palette of 256 (16) gray-free
    colours unless given; odd: its data starts at an odd position in the file."""
    bits = bits or (4 if rle4 else 8)
    if palette is None:
        palette = [((37 * i + 11) % 256, (101 * i + 3) % 256, (i * i + 7) % 256) for i in range(min(1 << bits, 256))]
    b = bytearray(bmp_bytes(np.zeros((h, (w * bits + 7) // 8), np.uint8), bits, palette=palette,
                            colors=len(palette) if colors is None else colors, top_down=top_down))
    b[18:22] = struct.pack("<i", w)  # (bmp_bytes's: whole bytes of pixels)
    b[30:34] = struct.pack("<I", 2 if rle4 else 1)
    at = struct.unpack("<I", b[10:14])[0] + odd
    b[10:14] = struct.pack("<I", at)
    return bytes(b[:at - odd]) + bytes(odd) + bytes(data)


def photo(h, w, seed):
    """Smooth shapes and noise, like a photo as far as resampling cares."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w] / max(h, w)
    base = np.stack([np.sin(6 * x + 2 * y), np.cos(5 * y - 3 * x), np.sin(9 * x * y + 1)], -1)
    img = 127.5 + 100 * base + rng.normal(0, 20, (h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


class Images(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def vggcl(self, *args):
        return subprocess.run([VGGCL, "preprocess", *map(str, args)], capture_output=True, text=True, timeout=300)

    def decoded(self, *paths):
        """vggcl's RGB decodes of the images at paths, all of one size: one preprocess with no resize, crop or
        normalization (a process for each image was 28% of this suite's time under the sanitizers)."""
        out = self.d / "decoded.npy"
        r = self.vggcl("--resize", "0", "--no-crop", "--mean", "0,0,0", "--std", "1,1,1", "--output", out, *paths)
        if r.returncode and len(paths) > 1:  # (one at a time, to name the image: one decoded at another size than
            return [x for path in paths for x in self.decoded(path)]  # the first's makes the others named)
        self.assertEqual(r.returncode, 0, r.stderr)
        t = np.load(out)
        out.unlink()
        self.assertEqual(len(t), len(paths))
        return [np.rint(x * 255).astype(np.int32).transpose(1, 2, 0) for x in t]

    def assert_refused_lean(self, path, said, kb):
        """preprocess refuses the image at path, saying said, in less than kb kB of RSS (before decoding it)."""
        code, stderr, peak = testenv.run_peak([VGGCL, "preprocess", "--threads", "1", "--output", self.d / "lean.npy",
                                               path])
        self.assertEqual(code, 1, stderr)
        self.assertIn(said, stderr)
        self.assertLess(peak, kb, "kB of RSS")
        self.assertFalse((self.d / "lean.npy").exists())

    def assert_refused(self, cases, good=()):
        """Each (path, said) of cases, given together after the readable images good, in one preprocess: exit 1,
        "PATH: said" on stderr for each, the count of images refused said, and no tensor written."""
        out = self.d / "out" / "t.npy"
        out.parent.mkdir(exist_ok=True)
        r = self.vggcl("--output", out, *good, *(path for path, _ in cases))
        self.assertEqual(r.returncode, 1, r.stderr)
        for path, said in cases:
            self.assertIn(f"{path}: {said}", r.stderr)
        self.assertIn(f"vggcl: {len(cases)} of {len(good) + len(cases)} images could not be used", r.stderr)
        self.assertEqual(list(out.parent.iterdir()), [])

    def assert_refused_beside(self, good, cases):
        """Each (name, said) of cases, given together after the readable image good, in one preprocess: exit 1,
        "PATH: said" on stderr for each, and no tensor written."""
        self.assert_refused([(self.d / name, said) for name, said in cases], good=(good,))

    def assert_decodes_like_pil(self, *paths):
        """Each image at paths decodes as PIL's convert("RGB"), bit for bit (those of one size in one process)."""
        want, by_size = {}, {}
        for path in paths:
            with Image.open(path) as im:
                want[path] = np.asarray(im.convert("RGB"), np.int32)
            by_size.setdefault(want[path].shape, []).append(path)
        for group in by_size.values():
            for path, got in zip(group, self.decoded(*group)):
                self.assertEqual(got.shape, want[path].shape, path.name)
                bad = np.argwhere(got != want[path])
                self.assertEqual(len(bad), 0, f"{path.name}: first difference at {bad[:1]}: "
                                 f"{got[tuple(bad[0])] if len(bad) else ''} vs PIL "
                                 f"{want[path][tuple(bad[0])] if len(bad) else ''}")

    def assert_preset_like_torchvision(self, path):
        """preprocess's tensor for the image at path is torchvision's VGG16 preset's, bit for bit."""
        out = self.d / "preset.npy"
        r = self.vggcl("--output", out, path)
        self.assertEqual(r.returncode, 0, r.stderr)
        with Image.open(path) as im:
            want = VGG16_Weights.IMAGENET1K_V1.transforms()(im.convert("RGB")).numpy()
        np.testing.assert_array_equal(np.load(out)[0], want)

    def test_png_every_type_and_depth(self):
        rng = np.random.default_rng(1)
        h, w = 13, 11
        cases = {
            "gray1": (rng.integers(0, 2, (h, w)), 0, 1, {}),
            "gray2": (rng.integers(0, 4, (h, w)), 0, 2, {}),
            "gray4": (rng.integers(0, 16, (h, w)), 0, 4, {}),
            "gray8": (rng.integers(0, 256, (h, w)), 0, 8, {}),
            "gray16": (rng.integers(0, 65536, (h, w)), 0, 16, {}),
            "gray16_low": (rng.integers(0, 400, (h, w)), 0, 16, {}),
            "gray8_trns": (rng.integers(0, 256, (h, w)), 0, 8, {"trns": struct.pack(">H", 7)}),
            "rgb8": (rng.integers(0, 256, (h, w, 3)), 2, 8, {}),
            "rgb16": (rng.integers(0, 65536, (h, w, 3)), 2, 16, {}),
            "pal2": (rng.integers(0, 4, (h, w)), 3, 2, {"palette": rng.integers(0, 256, (4, 3))}),
            "pal8": (rng.integers(0, 200, (h, w)), 3, 8, {"palette": rng.integers(0, 256, (200, 3))}),
            "pal8_trns": (rng.integers(0, 16, (h, w)), 3, 8, {"palette": rng.integers(0, 256, (16, 3)),
                                                             "trns": bytes(range(0, 160, 10))}),
            # indices past the palette's end: PIL's gray ramp (libpng made them black)
            "pal8_short": (rng.integers(0, 256, (h, w)), 3, 8, {"palette": rng.integers(0, 256, (4, 3))}),
            "pal4_short": (rng.integers(0, 16, (h, w)), 3, 4, {"palette": rng.integers(0, 256, (3, 3))}),
            "graya8": (rng.integers(0, 256, (h, w, 2)), 4, 8, {}),
            "graya16": (rng.integers(0, 65536, (h, w, 2)), 4, 16, {}),
            "rgba8": (rng.integers(0, 256, (h, w, 4)), 6, 8, {}),
            "rgba16": (rng.integers(0, 65536, (h, w, 4)), 6, 16, {}),
        }
        for name, (px, ct, depth, extra) in cases.items():
            (self.d / f"{name}.png").write_bytes(png_bytes(px, ct, depth, **extra))
        # interlaced, written by PIL
        Image.fromarray(photo(21, 17, 3)).save(self.d / "interlaced.png", interlace=1)
        self.assert_decodes_like_pil(*(self.d / f"{name}.png" for name in [*cases, "interlaced"]))

    def test_jpeg(self):
        """RGB, gray, 4:4:4 and CMYK JPEGs as PIL decodes them; a TEM marker before the first scan refused, as by
        PIL, and one between scans read, as by PIL."""
        cases = (("rgb.jpg", Image.fromarray(photo(37, 53, 4))),
                 ("gray.jpg", Image.fromarray(photo(29, 31, 5)[:, :, 0])),
                 ("rgb444.jpg", Image.fromarray(photo(16, 9, 6))),
                 # CMYK, as PIL writes it (Adobe's inverted samples): PIL's conversion to RGB
                 ("cmyk.jpg", Image.fromarray(photo(37, 53, 7)).convert("CMYK")))
        for name, img in cases:
            img.save(self.d / name, quality=90, subsampling=0 if "444" in name else -1)
        self.assert_decodes_like_pil(*(self.d / name for name, _ in cases))
        # a TEM marker (FF01): before the first scan PIL's own parser refuses it (libjpeg passed over it, and
        # vggcl read an image ImageFolder cannot open); between scans, where libjpeg reads for PIL, both read it
        data = (self.d / "rgb.jpg").read_bytes()
        sof = data.index(b"\xff\xc0")
        end = sof + 2 + int.from_bytes(data[sof + 2:sof + 4], "big")
        (self.d / "tem.jpg").write_bytes(data[:end] + b"\xff\x01" + data[end:])
        with self.assertRaises(UnidentifiedImageError), Image.open(self.d / "tem.jpg"):  # (the premise)
            pass
        self.assert_refused_beside(self.d / "rgb.jpg", (("tem.jpg", "a JPEG vggcl does not read: a TEM marker (FF01) "
                                                         "before its first scan (PIL cannot read it either"),))
        Image.fromarray(photo(26, 30, 8)).save(self.d / "progressive.jpg", progressive=True)
        data = (self.d / "progressive.jpg").read_bytes()
        second = data.index(b"\xff\xda", data.index(b"\xff\xda") + 2)
        (self.d / "tem_later.jpg").write_bytes(data[:second] + b"\xff\x01" + data[second:])
        self.assert_decodes_like_pil(self.d / "tem_later.jpg")

    def test_webp(self):
        """WebP as PIL opens it (libwebp's animation decoder, alpha dropped): lossy and lossless, with and
        without alpha, odd sizes, an animation's first frame on its canvas; the preset through torchvision bit
        for bit; a folder's .webp files taken; corrupt ones named and skipped, no file written."""
        rng = np.random.default_rng(7)
        rgba = np.dstack([photo(29, 41, 8), rng.integers(0, 256, (29, 41), dtype=np.uint8)])
        cases = {"lossy.webp": (Image.fromarray(photo(37, 53, 4)), {"quality": 80}),
                 "lossless.webp": (Image.fromarray(photo(37, 53, 5)), {"lossless": True}),
                 "lossy_alpha.webp": (Image.fromarray(rgba), {"quality": 70}),
                 "lossless_alpha.webp": (Image.fromarray(rgba), {"lossless": True}),
                 "one.webp": (Image.fromarray(photo(1, 1, 6)), {}),
                 "tall.webp": (Image.fromarray(photo(301, 3, 7)), {"quality": 95})}
        for name, (img, opts) in cases.items():
            img.save(self.d / name, **opts)
        frames = [Image.fromarray(photo(24, 30, 20 + i)) for i in range(3)]
        frames[0].save(self.d / "anim.webp", save_all=True, append_images=frames[1:], duration=100, loop=0)
        with Image.open(self.d / "anim.webp") as im:  # (the premise: an animation, which PIL opens at its first)
            self.assertEqual(im.n_frames, 3)
        self.assert_decodes_like_pil(*(self.d / name for name in [*cases, "anim.webp"]))
        sub = self.d / "folder"
        sub.mkdir()
        for i, (h, w) in enumerate(((300, 400), (257, 511), (240, 240))):
            Image.fromarray(photo(h, w, 40 + i)).save(sub / f"{i}.webp", quality=85)
        out = self.d / "t.npy"
        r = self.vggcl("--output", out, sub)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = np.load(out)
        self.assertEqual(got.shape, (3, 3, 224, 224))
        preset = VGG16_Weights.IMAGENET1K_V1.transforms()
        for i in range(3):
            np.testing.assert_array_equal(got[i], preset(Image.open(sub / f"{i}.webp").convert("RGB")).numpy())
        data = (self.d / "lossy.webp").read_bytes()
        (self.d / "trunc.webp").write_bytes(data[:len(data) // 2])
        (self.d / "garbage.webp").write_bytes(data[:12] + bytes(range(256)) * 4)
        lossless = bytearray((self.d / "lossless.webp").read_bytes())
        at = lossless.index(b"VP8L") + 9  # (past the chunk's size and the signature byte 0x2f: 14 bits a side, less 1)
        bits = struct.unpack("<I", lossless[at:at + 4])[0] & ~((1 << 28) - 1) | 16383 | 16383 << 14
        lossless[at:at + 4] = struct.pack("<I", bits)
        (self.d / "huge.webp").write_bytes(bytes(lossless))
        self.assert_refused_beside(self.d / "lossy.webp", (("trunc.webp", "corrupt WebP"),
                                                           ("garbage.webp", "corrupt WebP: a bitstream error")))
        # 16384 x 16384 in its header: refused before the decoder's canvases (2 GB) are allocated, as PIL refuses it
        self.assert_refused_lean(self.d / "huge.webp", "huge.webp: 16384 x 16384 pixels (width x height) is too large: "
                                 "more than 178956970, PIL's limit", 256 * 1024)
        with self.assertRaises(Image.DecompressionBombError):
            Image.open(self.d / "huge.webp")

    def test_bmp(self):
        """BMP as PIL 9 reads it: 1, 4, 8-bit palettes (colour, gray, short ones), 16-bit 5-5-5 and 5-6-5,
        24 and 32-bit, the bitfield layouts PIL knows, top-down rows, OS/2's 12-byte header, 64, 108 and 124-byte
        headers, odd widths (rows padded to 4 bytes); PIL's own BMPs; palettes PIL calls gray, whose pixels it reads
        as a bit or a byte whatever the file's bits; a BMP of another layout or cut short refused, naming it, and a
        4-bit gray ramp of rows shorter than their pixels, which PIL cannot read. (RLE: test_bmp_rle.)"""
        rng = np.random.default_rng(11)
        h = 7

        def px(w_bytes):
            return rng.integers(0, 256, (h, w_bytes), dtype=np.uint8)
        pal = rng.integers(0, 256, (256, 3))
        cases = {
            "pal1.bmp": bmp_bytes(px(2), 1, palette=pal[:2]),
            "pal4.bmp": bmp_bytes(px(5), 4, palette=pal[:16]),
            "pal8.bmp": bmp_bytes(px(11), 8, palette=pal),
            "pal8_short.bmp": bmp_bytes(px(11), 8, palette=pal[:20], colors=20),  # (indices past it: PIL's gray ramp)
            # no count in the header (256) over a palette of 20: the 256 entries run into the pixels and past the
            # file's end (and a byte of an entry after them), read as far as they go, as PIL reads them
            "pal8_cut.bmp": bmp_bytes(px(8), 8, palette=pal[:20]) + b"\x07",
            "gray8.bmp": bmp_bytes(px(9), 8, palette=np.repeat(np.arange(256)[:, None], 3, 1)),
            "bilevel.bmp": bmp_bytes(px(3), 1, palette=[(0, 0, 0), (255, 255, 255)]),
            "rgb555.bmp": bmp_bytes(px(14), 16),
            "rgb555_fields.bmp": bmp_bytes(px(10), 16, compression=3, masks=(0x7C00, 0x3E0, 0x1F, 0)),
            "rgb565.bmp": bmp_bytes(px(10), 16, compression=3, masks=(0xF800, 0x7E0, 0x1F, 0)),
            "rgb24.bmp": bmp_bytes(px(15), 24),
            "rgb24_fields.bmp": bmp_bytes(px(15), 24, compression=3, masks=(0xFF0000, 0xFF00, 0xFF, 0)),
            "rgb32.bmp": bmp_bytes(px(20), 32),
            "xbgr.bmp": bmp_bytes(px(20), 32, header=124, compression=3, masks=(0xFF000000, 0xFF0000, 0xFF00, 0)),
            "abgr.bmp": bmp_bytes(px(20), 32, header=108, compression=3, masks=(0xFF000000, 0xFF0000, 0xFF00, 0xFF)),
            "rgba.bmp": bmp_bytes(px(20), 32, header=124, compression=3,
                                  masks=(0xFF, 0xFF00, 0xFF0000, 0xFF000000)),
            "bgra.bmp": bmp_bytes(px(20), 32, header=124, compression=3,
                                  masks=(0xFF0000, 0xFF00, 0xFF, 0xFF000000)),
            "top_down.bmp": bmp_bytes(px(15), 24, top_down=True),
            "top_down_pal4.bmp": bmp_bytes(px(3), 4, palette=pal[:16], top_down=True),
            "os2.bmp": bmp_bytes(px(9), 24, header=12),
            "os2_pal8.bmp": bmp_bytes(px(9), 8, header=12, palette=pal),
            "os2v2.bmp": bmp_bytes(px(9), 24, header=64),
            "offset0.bmp": bmp_bytes(px(9), 24, offset=0),
            "palette_forgotten.bmp": bmp_bytes(px(9), 8, palette=pal, offset=54),  # (PIL steps over the palette)
            # palettes PIL calls gray, read as its modes "1" and "L" whatever the file's bits: the first bits of
            # each row, a bit a pixel (black and white), or its first bytes (a ramp, rows within their bytes)
            "bw_pal4.bmp": bmp_bytes(px(5), 4, palette=[(0, 0, 0), (255, 255, 255)], colors=2),
            "bw_pal8.bmp": bmp_bytes(px(9), 8, palette=[(0, 0, 0), (255, 255, 255)], colors=2),
            "ramp_pal4_narrow.bmp": bmp_bytes(px(2), 4, palette=[(i, i, i) for i in range(16)]),
            "ramp_pal8_short.bmp": bmp_bytes(px(9), 8, palette=[(i, i, i) for i in range(16)], colors=16),
        }
        for name, data in cases.items():
            (self.d / name).write_bytes(data)
        Image.fromarray(photo(13, 17, 3)).save(self.d / "pil_rgb.bmp")
        Image.fromarray(photo(13, 17, 4)).convert("P").save(self.d / "pil_p.bmp")
        Image.fromarray(photo(13, 17, 5)).convert("1").save(self.d / "pil_1.bmp")
        Image.fromarray(photo(13, 17, 6)).convert("RGBA").save(self.d / "pil_rgba.bmp")
        self.assert_decodes_like_pil(*(self.d / name
                                       for name in [*cases, "pil_rgb.bmp", "pil_p.bmp", "pil_1.bmp", "pil_rgba.bmp"]))
        Image.fromarray(photo(300, 260, 7)).save(self.d / "big.bmp")  # the preset, bit for bit
        self.assert_preset_like_torchvision(self.d / "big.bmp")
        (self.d / "trunc.bmp").write_bytes(cases["rgb24.bmp"][:-30])
        # a header of 13000 x 13000 pixels over 100 bytes: refused before 507 MB are taken for the image
        bomb = bytearray(cases["rgb24.bmp"][:100])
        bomb[18:26] = struct.pack("<ii", 13000, 13000)
        (self.d / "bomb.bmp").write_bytes(bytes(bomb))
        self.assert_refused_lean(self.d / "bomb.bmp", "bomb.bmp: corrupt BMP: the file is truncated (100 bytes, its "
                                 "13000 rows need ", 256 * 1024)
        negative = bytearray(cases["rgb24.bmp"])  # (said as 4294967280 pixels wide, too large)
        negative[18:22] = struct.pack("<i", -16)
        (self.d / "negative.bmp").write_bytes(bytes(negative))
        (self.d / "fields.bmp").write_bytes(bmp_bytes(px(20), 32, header=124, compression=3,
                                                      masks=(0xFF00, 0xFF0000, 0xFF000000, 0xFF)))
        (self.d / "depth2.bmp").write_bytes(bmp_bytes(px(2), 2, palette=pal[:4]))
        (self.d / "colors300.bmp").write_bytes(bmp_bytes(px(8), 8, palette=np.concatenate([pal, pal[:44]]), colors=300))
        with self.assertRaises(ValueError), Image.open(self.d / "colors300.bmp") as im:  # (the premise: nor does PIL)
            im.convert("RGB")
        # a 4-bit ramp whose rows hold fewer bytes than pixels: PIL reads a byte a pixel and fails where ImageFolder
        # opens it (a file object; by its name, mapped, it reads past each row)
        (self.d / "ramp_pal4.bmp").write_bytes(bmp_bytes(px(5), 4, palette=[(i, i, i) for i in range(16)]))
        with self.assertRaises(OSError), open(self.d / "ramp_pal4.bmp", "rb") as f, Image.open(f) as im:
            im.convert("RGB")
        self.assert_refused_beside(self.d / "big.bmp", (
            ("trunc.bmp", "corrupt BMP: the file is truncated (136 bytes, its 7 rows need 166)"),
            ("negative.bmp", "corrupt BMP: a width of -16 pixels (negative)"),
            ("fields.bmp", "a BMP vggcl does not read: 32-bit bitfields R 0xff00, G 0xff0000, B 0xff000000, A 0xff"),
            ("depth2.bmp", "a BMP vggcl does not read: 2 bits a pixel"),
            ("colors300.bmp", "a BMP vggcl does not read: a palette of 300 colors (at most 256; PIL cannot read it"),
            ("ramp_pal4.bmp", "a BMP vggcl does not read: 4-bit pixels with a gray palette of 16 entries, which PIL 9.4 "
                              "reads as a byte a pixel, its 10-pixel rows past their 8 bytes (PIL cannot read it either")))

    def test_bmp_rle(self):
        """RLE8 and RLE4 BMPs as PIL 9.4's decoder reads them, bit for bit: runs, ends of line, deltas, absolute
        data and ends of bitmap, with its quirks (a run cut at the row's end but absolute data not, RLE4 absolute
        data of an odd count one pixel short, a delta's first two bytes passed over, absolute data ending on an
        even position in the file, not in the data), top-down, a 4-bit palette given RLE8 indices past it; and 300
        random streams, each decoded as PIL decodes it or refused where PIL refuses it. Refused, named: RLE data
        that ends before the image is full or inside a delta, RLE of 24-bit pixels or with a black and white
        palette (PIL's mode "1"), which PIL cannot read either; a 13000 x 13000 header over 120 bytes of deltas:
        refused without the image's memory touched."""
        cases = {
            # a run, an end of line, absolute data of 3 and its pad byte, a run, a delta, a run, the end of bitmap
            "rle8.bmp": rle_bmp_bytes(4, 3, [3, 5, 0, 0, 0, 3, 1, 2, 3, 0, 1, 7, 0, 0, 2, 8, 2, 9, 0, 1]),
            # a run past the row's end (cut), absolute data past it (not cut: it goes on into the next row), a run
            # then cut to nothing; a delta (its first two bytes passed over); absolute data of an even count
            "rle8_quirks.bmp": rle_bmp_bytes(5, 4, [9, 4, 0, 0, 0, 7, 10, 11, 12, 13, 14, 15, 16, 0, 3, 99, 0, 0,
                                                    0, 2, 50, 50, 1, 0, 2, 6, 0, 4, 20, 21, 22, 23, 0, 0, 5, 1]),
            # the data at an odd position in the file: absolute data ends on an even one (PIL's padding)
            "rle8_odd.bmp": rle_bmp_bytes(4, 2, [0, 3, 1, 2, 3, 1, 4, 0, 0, 0, 3, 5, 6, 7, 99, 1, 8, 0, 1], odd=True),
            # RLE4: runs of two nibbles in turn, absolute data of 5 pixels (2 bytes read: 4 pixels, 5 counted),
            # odd widths
            "rle4.bmp": rle_bmp_bytes(7, 3, [7, 0x1F, 0, 0, 0, 5, 0x23, 0x45, 3, 0x67, 0, 0, 0, 4, 0x89, 0xAB,
                                             3, 0xCD, 0, 1], rle4=True),
            "rle4_delta.bmp": rle_bmp_bytes(6, 3, [2, 0x12, 0, 2, 0, 0, 1, 1, 3, 0x34, 0, 0, 6, 0x56, 0, 1],
                                            rle4=True, odd=True),
            "rle8_top_down.bmp": rle_bmp_bytes(3, 3, [3, 1, 0, 0, 3, 2, 0, 0, 3, 3, 0, 1], top_down=True),
            # a 16-colour palette given RLE8 indices past it: PIL's gray ramp
            "rle8_pal4.bmp": rle_bmp_bytes(4, 2, [2, 3, 2, 200, 0, 0, 4, 15, 0, 1], bits=4),
            "rle8_gray.bmp": rle_bmp_bytes(3, 2, [3, 40, 0, 0, 0, 3, 1, 2, 250, 0, 0, 1],
                                           palette=[(i, i, i) for i in range(256)]),
        }
        for name, data in cases.items():
            (self.d / name).write_bytes(data)
        self.assert_decodes_like_pil(*(self.d / name for name in cases))
        rng = np.random.default_rng(5)
        read, refused = [], []
        for i in range(300):  # (both ways: PIL reads about half)
            w, h, rle4 = int(rng.integers(1, 10)), int(rng.integers(1, 7)), bool(rng.integers(2))
            data = []
            for _ in range(rng.integers(0, 15)):
                k = rng.random()
                if k < 0.4:
                    data += [int(rng.integers(1, 13)), int(rng.integers(256))]
                elif k < 0.55:
                    data += [0, 0]
                elif k < 0.6:
                    data += [0, 1]
                elif k < 0.7:
                    data += [0, 2, *rng.integers(0, 4, rng.integers(0, 5))]
                else:
                    n = int(rng.integers(3, 13))
                    data += [0, n, *rng.integers(0, 256, n // 2 if rle4 else n)] + [0] * int(rng.integers(2))
            if rng.random() < 0.3:
                data = data[:rng.integers(0, len(data) + 1)]
            path = self.d / f"random_{i}.bmp"  # (its stream: the i-th drawn from seed 5)
            path.write_bytes(rle_bmp_bytes(w, h, data, rle4=rle4, top_down=rng.random() < 0.2, odd=rng.random() < 0.3))
            try:
                with Image.open(path) as im:
                    im.convert("RGB")
                read.append(path)
            except ValueError:
                refused.append((path, "corrupt BMP: its RLE data ends"))
        self.assertGreater(len(read), 100)
        self.assertGreater(len(refused), 50)
        self.assert_decodes_like_pil(*read)
        self.assert_refused(refused)
        refused = {
            "rle_short.bmp": (rle_bmp_bytes(4, 2, [4, 9, 0, 0, 0, 1]),
                              "corrupt BMP: its RLE data ends before the image is full (4 of 8 pixels"),
            "rle_delta_cut.bmp": (rle_bmp_bytes(4, 2, [4, 9, 0, 2, 1, 1, 1]),
                                  "corrupt BMP: its RLE data ends inside a delta"),
            "rle_rgb.bmp": (rle_bmp_bytes(4, 2, [4, 9, 0, 0, 4, 9, 0, 1], bits=24, palette=[]),
                            "a BMP vggcl does not read: RLE8 compression of 24-bit pixels"),
            "rle_bilevel.bmp": (rle_bmp_bytes(4, 2, [4, 1, 0, 0, 4, 0, 0, 1], palette=[(0, 0, 0), (255, 255, 255)]),
                                "a BMP vggcl does not read: RLE8 compression with a black and white palette"),
        }
        for name, (data, _) in refused.items():
            (self.d / name).write_bytes(data)
            with self.assertRaises(ValueError), Image.open(self.d / name) as im:  # (the premise: PIL cannot either)
                im.convert("RGB")
        self.assert_refused_beside(self.d / "rle8.bmp", [(name, said) for name, (_, said) in refused.items()])
        # deltas over a 13000 x 13000 image (under PIL's limit): refused with the image's memory untouched
        (self.d / "rle_bomb.bmp").write_bytes(rle_bmp_bytes(13000, 13000, [0, 2, 0, 0, 255, 255] * 20))
        self.assert_refused_lean(self.d / "rle_bomb.bmp", "corrupt BMP: its RLE data ends before the image is full",
                                 96 * 1024)

    def test_tiff(self):
        """TIFF as PIL 9 reads it (its first page, the Orientation tag applied): gray, bilevel, palette, RGB, RGBA,
        gray+alpha from PIL, uncompressed, LZW, Deflate, PackBits and Group 4; tiled, 16-bit RGB, MinIsWhite,
        16-bit gray (little and big-endian; PIL's too), big-endian, with a predictor, two pages, from tifffile; the
        preset bit for bit; what vggcl does not read (CMYK, JPEG-compressed, floats, 16-bit MinIsWhite, which PIL
        9.4 reads uninverted) named, and corrupt files refused."""
        import tifffile
        rgb = Image.fromarray(photo(23, 31, 50))
        files = []

        def pil(name, img, **kw):
            img.save(self.d / name, **kw)
            files.append(name)
        for comp in ("raw", "tiff_lzw", "tiff_adobe_deflate", "packbits"):
            pil(f"rgb_{comp}.tif", rgb, compression=comp)
        pil("gray.tif", rgb.convert("L"), compression="tiff_lzw")
        pil("bilevel.tif", rgb.convert("1"))
        pil("bilevel_g4.tif", rgb.convert("1"), compression="group4")
        pil("palette.tif", rgb.convert("P"))
        pil("rgba.tif", rgb.convert("RGBA"), compression="tiff_lzw")
        pil("la.tif", rgb.convert("LA"))
        for o in range(1, 9):  # (PIL turns the image as the tag says when it loads it)
            pil(f"orient{o}.tif", rgb, tiffinfo={274: o}, compression="tiff_lzw" if o % 2 else "raw")

        def tf(name, data, **kw):
            tifffile.imwrite(self.d / name, data, **kw)
            files.append(name)
        tf("tiled.tif", photo(70, 90, 51), tile=(32, 32), compression="zlib")
        tf("tile_past_image.tif", photo(20, 30, 63), tile=(2048, 2048), compression="zlib")  # (GDAL's, libvips' tiles)
        tf("rgb16.tif", np.random.default_rng(52).integers(0, 65536, (9, 11, 3), dtype=np.uint16), photometric="rgb")
        tf("miniswhite.tif", photo(9, 13, 53)[..., 0], photometric="miniswhite")
        gray16 = np.random.default_rng(62).integers(0, 600, (9, 13), dtype=np.uint16)  # (PIL's "I;16": clipped)
        gray16[0, :3] = 255, 256, 65535
        tf("gray16.tif", gray16, photometric="minisblack")
        tf("gray16_be.tif", gray16, photometric="minisblack", byteorder=">")
        pil("gray16_pil.tif", Image.fromarray(gray16, "I;16"))
        tf("bigendian.tif", photo(9, 13, 54), byteorder=">", photometric="rgb")
        tf("predictor.tif", photo(19, 21, 55), compression="zlib", predictor=True, photometric="rgb")
        tf("pages.tif", np.stack([photo(9, 13, 56), photo(9, 13, 57)]), photometric="rgb")
        tf("gray_la.tif", np.dstack([photo(9, 13, 58)[..., 0], photo(9, 13, 59)[..., 1]]), photometric="minisblack",
           extrasamples=["unassalpha"], planarconfig="contig")
        def tiles_of_bits(name, w, h, tw, th, bits, seed, deflate=False):
            # gray of 1, 2 or 4 bits in tiles (those whose rows are not whole bytes, 1 bit 4 wide, ran past the
            # image's row into the heap: refused below), cut by the right edge (PIL's rows of int(w * bits / 8))
            across, down, row = -(-w // tw), -(-h // th), -(-tw * bits // 8)
            rng = np.random.default_rng(seed)
            tiles = [rng.integers(0, 256, row * th, dtype=np.uint8).tobytes() for _ in range(across * down)]
            tiles = [zlib.compress(t) for t in tiles] if deflate else tiles
            n, data = len(tiles), b"".join(tiles)
            at = 8 + len(data)
            tags = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 1, bits), (259, 3, 1, 8 if deflate else 1),
                    (262, 3, 1, 1), (277, 3, 1, 1), (284, 3, 1, 1), (322, 4, 1, tw), (323, 4, 1, th),
                    (324, 4, n, at), (325, 4, n, at + 4 * n)]
            arrays = struct.pack(f"<{n}I", *np.cumsum([8] + [len(t) for t in tiles[:-1]]).tolist()) + \
                struct.pack(f"<{n}I", *[len(t) for t in tiles])
            ifd = struct.pack("<H", len(tags)) + b"".join(struct.pack("<HHII", *t) for t in tags) + bytes(4)
            (self.d / name).write_bytes(b"II*\0" + struct.pack("<I", at + len(arrays)) + data + arrays + ifd)
            files.append(name)
        sub_byte = ((13, 5, 1, 2, 1), (13, 5, 4, 3, 1), (29, 7, 12, 4, 1), (11, 3, 3, 2, 2), (9, 4, 1, 3, 4),
                    (10, 5, 3, 2, 4))
        for i, (w, h, tw, th, bits) in enumerate(((29, 7, 8, 4, 1), (21, 5, 16, 2, 1), (10, 5, 4, 2, 2),
                                                  (9, 4, 2, 3, 4), (9, 4, 6, 3, 4)) + sub_byte):
            tiles_of_bits(f"tiles_{bits}bit_{tw}wide.tif", w, h, tw, th, bits, 70 + i)
            tiles_of_bits(f"tiles_{bits}bit_{tw}wide_deflate.tif", w, h, tw, th, bits, 90 + i, deflate=True)
            if tw * bits % 8:
                files[-2:] = []
        self.assert_decodes_like_pil(*(self.d / name for name in files))
        Image.fromarray(photo(300, 260, 60)).save(self.d / "big.tif", compression="tiff_lzw", tiffinfo={274: 6})
        self.assert_preset_like_torchvision(self.d / "big.tif")
        rgb.convert("CMYK").save(self.d / "cmyk.tif")
        rgb.save(self.d / "jpeg.tif", compression="jpeg")
        tifffile.imwrite(self.d / "float.tif", photo(9, 13, 61).astype(np.float32), photometric="rgb")
        tifffile.imwrite(self.d / "gray16_white.tif", gray16, photometric="miniswhite")
        data = (self.d / "rgb_tiff_lzw.tif").read_bytes()
        (self.d / "trunc.tif").write_bytes(data[:len(data) // 2])
        (self.d / "header.tif").write_bytes(b"II*\0" + bytes(range(60)))
        # a tile past the image, decoded whole before its part is taken (32768 a side of a 16 x 16 image took 3 GB):
        # past 64 MiB and the image's bytes
        tifffile.imwrite(self.d / "huge_tile.tif", photo(16, 16, 64), tile=(4800, 4816), compression="zlib")

        def tiff_by_hand(name, tags, pixels):  # (classic, little-endian: the tags as given, then the pixels)
            entries = sorted(tags + [(273, 3, 1, 8 + 2 + 12 * (len(tags) + 1) + 4)])
            ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", t, k, n, v) if k == 4 else
                                                             struct.pack("<HHIHH", t, k, n, v, 0) for t, k, n, v in entries)
            (self.d / name).write_bytes(b"II*\0" + struct.pack("<I", 8) + ifd + bytes(4) + pixels)
        # palette without its ColorMap: libtiff makes it gray, unsaid; PIL refuses it
        tiff_by_hand("palette_no_colormap.tif", [(256, 3, 1, 4), (257, 3, 1, 3), (258, 3, 1, 8), (262, 3, 1, 3),
                                                  (277, 3, 1, 1), (278, 3, 1, 3), (279, 4, 1, 12)], bytes(range(12)))
        with self.assertRaises(Exception):
            Image.open(self.d / "palette_no_colormap.tif").convert("RGB")
        self.assert_refused_beside(self.d / "big.tif", (
            ("palette_no_colormap.tif", "a TIFF vggcl does not read: a palette image without a ColorMap"),
            ("cmyk.tif", "a TIFF vggcl does not read: a photometric interpretation other than gray, palette and RGB (4 "
                         "samples of 8 bits a pixel)"),
            ("jpeg.tif", "a TIFF vggcl does not read: JPEG compression"),
            ("float.tif", "a TIFF vggcl does not read: samples that are not unsigned integers"),
            ("gray16_white.tif", "a TIFF vggcl does not read: 16-bit MinIsWhite gray (PIL 9.4 reads it as MinIsBlack, "
                                 "not inverted)"),
            ("trunc.tif", "corrupt TIFF"), ("header.tif", "corrupt TIFF"),
            *((f"tiles_{b}bit_{tw}wide{z}.tif", f"a TIFF vggcl does not read: tiles {tw} pixel{'s' * (tw > 1)} "
               f"wide of {b} bit{'s' if b > 1 else ''}, rows that are not whole bytes (PIL 9.4 reads some such tiles "
               "shifted and refuses others; the TIFF specification's tiles are a multiple of 16 pixels wide)")
              for _, _, tw, _, b in sub_byte for z in ("", "_deflate")),
            ("huge_tile.tif", "a TIFF vggcl does not read: tiles of 4816 x 4800 pixels (width x height; 69350400 "
                              "bytes) for an image of 16 x 16 (768 bytes); a tile may take up to the larger of the "
                              "image's bytes and 64 MiB")))

    def test_pnm(self):
        """PBM, PGM and PPM as PIL 9.4 reads them: PIL's own P4, P5 (8 and 16-bit) and P6; by hand P1 to P6 with
        maxvals from 1 to 65535 (a gray one above 255 is PIL's mode "I", clipped at 255 by convert), comments
        in the header and inside its tokens, Python's int() forms, the one byte after the header; plain data
        over PIL's blocks of 1 MiB (a token and a comment cut by a block's end); what PIL refuses, refused; a
        plain file PIL 9.4 reads with a token twice, named as not read."""
        rng = np.random.default_rng(13)
        g, c = photo(13, 17, 1)[..., 0], photo(13, 17, 2)
        Image.fromarray(g).save(self.d / "pil_l.pgm")
        Image.fromarray(c).save(self.d / "pil_rgb.ppm")
        Image.fromarray(g > 120).save(self.d / "pil_1.pbm")
        Image.fromarray(g.astype(np.int32) * 257).save(self.d / "pil_i16.pgm", "PPM")  # (P5, maxval 65535)

        def ascii(values):
            return " ".join(map(str, np.ravel(values))).encode() + b"\n"
        g16 = rng.integers(0, 1001, (5, 7))
        cases = {
            "p1.pbm": b"P1\n# a comment\n7 2\n0101100\n1 1 0 0#x\n 1 0 1",  # (no whitespace needed between bits)
            "p2_15.pgm": b"P2 7 5 15\n" + ascii(rng.integers(0, 16, (5, 7))),
            "p2_1000.pgm": b"P2 7 5 1000\n" + ascii(g16),  # (mode "I": scaled to 65535, then clipped)
            "p2_1.pgm": b"P2 3 1 1\n0 1 0\n",
            "p3_300.ppm": b"P3 2 2 300 # after the maxval\n0 150 300 1 2 3\n4 5 6 299 298 297",
            "p3_signs.ppm": b"P3 1 2 255\n+1 0_1 -0 1_0_0 007 -1\n",  # (Python's int(); -1 wraps as PIL's o8)
            "p5_7.pgm": b"P5 3 2 7\n" + bytes([0, 3, 7, 8, 200, 255]),  # (values above maxval: clamped)
            "p5_1000.pgm": b"P5 2 2 1000\n" + np.array([0, 100, 999, 1000], ">u2").tobytes(),
            "p5_header.pgm": b"P5\t1#joined\n2#c\r 1 2_55\n" + bytes(range(12)),  # (width 12)
            "p5_plus.pgm": b"P5 +3 2 25#comment inside the token\n5\r\n\x01\x02\x03\x04\x05",  # (data from the \n)
            "p6_65535.ppm": b"P6 2 1 65535\n" + np.array([0, 255, 256, 65535, 32768, 1], ">u2").tobytes(),
            "p6_1000.ppm": b"P6 2 1 1000\n" + np.array([0, 500, 999, 1000, 4, 700], ">u2").tobytes(),
            "p6_15.ppm": b"P6 2 1 15\n" + bytes([0, 1, 7, 8, 14, 15]),
        }
        # plain data over PIL's 1 MiB blocks: a token cut by the first block's end (one leading byte shifts
        # the 4-byte tokens), then a comment cut by it, one that the next block's first byte (LF) would end but
        # goes on to its CR, as PIL's _find_comment_end does
        block = 1 << 20
        vals = rng.integers(100, 256, 300000)
        cut = b" " + ascii(vals)
        self.assertFalse(cut[block - 1:block].isspace())
        cases["plain_cut.pgm"] = b"P2 600 500 255\n" + cut
        head = b"P2 600 500 255\n"
        tokens = ascii(vals).split(b" ")
        lead = b" ".join(tokens[:262000]) + b" "
        spanning = lead + b"#" + b"c" * (block - len(lead) - 1) + b"\n9 9 9\r" + b" ".join(tokens[262000:])
        self.assertEqual(spanning[block:block + 1], b"\n")
        cases["plain_comment.pgm"] = head + spanning
        # P1 over blocks: a byte that is neither 0 nor 1 in the block that ends the data is refused (PIL checks
        # the whole block), in a later block it is not read
        bits = "".join(map(str, rng.integers(0, 2, 1100 * 1000))).encode()
        cases["p1_big.pbm"] = b"P1 1100 1000\n" + bits + b" " * block + b"x"
        for name, data in cases.items():
            (self.d / name).write_bytes(data)
        self.assert_decodes_like_pil(*(self.d / name
                                       for name in ["pil_l.pgm", "pil_rgb.ppm", "pil_1.pbm", "pil_i16.pgm", *cases]))
        want = np.asarray(Image.open(self.d / "plain_cut.pgm"))  # (the premises: PIL read the values written)
        np.testing.assert_array_equal(want.ravel(), vals)
        self.assertEqual(self.decoded(self.d / "p2_1000.pgm")[0][..., 0].tolist(),
                         np.minimum(np.rint(g16 / 1000 * 65535), 255).tolist())
        Image.fromarray(photo(300, 260, 7)).save(self.d / "big.ppm")  # the preset, bit for bit
        self.assert_preset_like_torchvision(self.d / "big.ppm")
        # refused as PIL refuses them
        refused = {
            "trunc.ppm": (b"P6 2 2 255\n" + bytes(11), "corrupt PPM: the file is truncated (22 bytes, its 2 x 2 "
                                                        "pixels need 23)"),
            "trunc16.pgm": (b"P5 2 1 1000\n" + bytes(3), "corrupt PGM: the file is truncated (15 bytes"),
            "short.pgm": (b"P2 3 1 255\n1 2 3", None),  # (the premise: read; cut below)
            "over.pgm": (b"P2 2 1 10\n3 11\n", "corrupt PGM: a value of 11 is above its maxval 10"),
            "nan.ppm": (b"P3 1 1 255\n1 x 3\n", "corrupt PPM: a token of its data is not a number"),
            "long.pgm": (b"P2 2 1 255\n1 00000000001\n", "corrupt PGM: a token of its data has over 10 characters"),
            "bits.pbm": (b"P1 2 2\n0 1 2 0\n", "corrupt PBM: a byte of its data is neither 0 nor 1 (0x32)"),
            "p1_trail.pbm": (cases["p1_big.pbm"][:-block - 1] + b"x", "corrupt PBM: a byte of its data is neither "
                                                                       "0 nor 1 (0x78)"),
            "maxval0.pgm": (b"P5 1 1 0\n\x00", "corrupt PGM: its maxval 0 is not from 1 to 65535"),
            "maxval_big.ppm": (b"P6 1 1 65536\n" + bytes(6), "corrupt PPM: its maxval 65536 is not from 1 to 65535"),
            "width0.pgm": (b"P5 0 1 255\n", "corrupt PGM: 0 x 1 pixels (width x height)"),
            "token.ppm": (b"P6 12345678901 1 255\n", "corrupt PPM: its width is a token of over 10 characters"),
            "header.pgm": (b"P5 2 1", "corrupt PGM: the file ends before its maxval"),
            "letters.pgm": (b"P5 2 a 255\n\x00\x00", "corrupt PGM: its height is not a number"),
            "p0.pnm": (b"P0 1 1 255\n\x00", "corrupt PNM: its magic number is not P1 to P6"),
            "pil_test.pnm": (b"PyRGBA 1 1 255\n\x00\x00\x00\x00", "an image vggcl does not read: PIL's own test "
                                                                   "format PyRGBA"),
        }
        for name, (data, _) in refused.items():
            (self.d / name).write_bytes(data)
        # the premises: PIL refuses each (short.pgm: PIL 9.4 repeats its last value to the end)
        np.testing.assert_array_equal(np.asarray(Image.open(self.d / "short.pgm").convert("L")), [[1, 2, 3]])
        (self.d / "short.pgm").write_bytes(b"P2 3 1 255\n1 2")
        self.assertEqual(np.asarray(Image.open(self.d / "short.pgm").convert("L")).tolist(), [[1, 2, 2]])
        refused["short.pgm"] = (None, "corrupt PGM: the file ends after 2 of its 3 values (PIL 9.4 repeats the last "
                                      "one to the end)")
        for name in refused:
            if name not in ("short.pgm", "pil_test.pnm"):
                with self.subTest(name), self.assertRaises((ValueError, OSError, SyntaxError)):
                    with Image.open(self.d / name) as im:
                        im.convert("RGB")
        # a plain file over 2 MiB whose first block ends inside a token and second at a space: PIL 9.4 stitches
        # the first block's cut token to the third block too, reading other values than the file's
        vals = rng.integers(100, 256, 700000)
        twice = b" " + ascii(vals[:400000])[:-1] + b"    " + ascii(vals[400000:])
        self.assertFalse(twice[block - 1:block].isspace())
        self.assertTrue(twice[2 * block - 1:2 * block].isspace())
        (self.d / "twice.pgm").write_bytes(b"P2 1000 700 255\n" + twice)
        try:  # (another value, or one above the maxval: refused)
            with Image.open(self.d / "twice.pgm") as im:
                self.assertFalse(np.array_equal(np.asarray(im).ravel(), vals))
        except ValueError as e:
            self.assertIn("Channel value too large", str(e))
        refused["twice.pgm"] = (None, "a plain PGM vggcl does not read: PIL 9.4 reads a token of it twice, after its "
                                      "first MiB of data (newer Pillows do not): save it as binary (P5)")
        # a header of 13000 x 13000 pixels over 100 bytes: refused before 507 MB are taken for the image
        (self.d / "bomb.ppm").write_bytes(b"P6 13000 13000 255\n".ljust(100, b"\0"))
        self.assert_refused_lean(self.d / "bomb.ppm", "bomb.ppm: corrupt PPM: the file is truncated (100 bytes, its "
                                 "13000 x 13000 pixels need ", 256 * 1024)
        self.assert_refused_beside(self.d / "big.ppm", [(name, said) for name, (_, said) in refused.items()])

    def test_preset_matches_torchvision(self):
        preset = VGG16_Weights.IMAGENET1K_V1.transforms()
        sizes = [(300, 400), (401, 299), (256, 256), (511, 257), (224, 224), (1000, 333), (100, 100),
                 (5, 3), (1, 1), (231, 230), (2, 900), (700, 3)]
        paths = []
        for i, (h, w) in enumerate(sizes):
            p = self.d / f"img{i:02d}_{h}x{w}.{'jpg' if i % 2 else 'png'}"
            Image.fromarray(photo(h, w, 10 + i)).save(p, quality=92)
            paths.append(p)
        p = self.d / "cmyk_600x500.jpg"  # a CMYK JPEG decoded in part, as the preset reads it
        Image.fromarray(photo(600, 500, 30)).convert("CMYK").save(p, quality=92)
        paths.append(p)
        out = self.d / "t.npy"
        r = self.vggcl("--output", out, *paths)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = np.load(out)
        self.assertEqual(got.shape, (len(paths), 3, 224, 224))
        for i, p in enumerate(paths):
            want = preset(Image.open(p).convert("RGB")).numpy()
            levels = np.abs(got[i] - want) * STD * 255  # difference in uint8 levels
            print(f"  {p.name}: max {levels.max():.3f} levels, {(got[i] == want).mean():.5f} identical", file=sys.stderr)
            with self.subTest(p.name):  # bit-identical, as claimed
                np.testing.assert_array_equal(got[i], want, p.name)

    def test_pad_matches_torchvision(self):
        """An image smaller than the crop on a side is padded with zeros there, as torchvision's center_crop
        pads it (odd padding's extra row or column after), cropped on the other side."""
        from torchvision.transforms import functional as F
        sizes = [(5, 3), (7, 10), (3, 3), (9, 8), (1, 12), (8, 8)]
        paths = []
        for i, (h, w) in enumerate(sizes):
            paths.append(self.d / f"small{i}_{h}x{w}.png")
            Image.fromarray(photo(h, w, 40 + i)).save(paths[-1])
        out = self.d / "t.npy"
        r = self.vggcl("--resize", "0", "--crop", "8", "--output", out, *paths)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = np.load(out)
        for i, p in enumerate(paths):
            x = F.convert_image_dtype(F.pil_to_tensor(F.center_crop(Image.open(p).convert("RGB"), 8)), torch.float)
            h, w = sizes[i]  # (padded: the last row or column, the extra one, is zeros; the premise, checked)
            self.assertEqual((h >= 8 or not x[:, -1, :].any(), w >= 8 or not x[:, :, -1].any()), (True, True))
            want = F.normalize(x, [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]).numpy()
            np.testing.assert_array_equal(got[i], want, p.name)

    def test_draft_matches_pil(self):
        """--draft: a JPEG decoded at 1/2, 1/4 or 1/8 of its size, as PIL's Image.draft("RGB", (resize,
        resize)) before torchvision's transforms, bit for bit: each scale and its boundaries (a short
        side of 8 x 256 and one pixel less), chroma subsamplings, gray, progressive and CMYK, decoded in
        part where the crop allows; a PNG, and a resize of 0, are not drafted."""
        from torchvision import transforms as T
        norm = VGG16_Weights.IMAGENET1K_V1.transforms()
        paths = []
        for i, (h, w, kind) in enumerate([(600, 513, 2), (1030, 2049, 1), (2048, 2100, 0), (2047, 2100, 2),
                                          (1700, 1290, "gray"), (1300, 1100, "progressive"), (1200, 900, "cmyk"),
                                          (700, 600, "png"), (257, 300, 2), (255, 300, 0)]):
            img = Image.fromarray(photo(h, w, 40 + i))
            p = self.d / f"d{i}_{h}x{w}.{'png' if kind == 'png' else 'jpg'}"
            if kind == "png":
                img.save(p)
            elif kind in ("gray", "cmyk"):
                img.convert("L" if kind == "gray" else "CMYK").save(p, quality=90)
            else:
                img.save(p, quality=90, progressive=kind == "progressive",
                         subsampling=kind if isinstance(kind, int) else -1)
            paths.append(p)
        out = self.d / "draft.npy"
        # and the fuzz corpus's JPEGs of every chroma sampling (4:1:0's columns came out wrong at 1/2 and 1/4),
        # arithmetic coding and restart markers, at presets that draft them at 1/2, 1/4 and 1/8
        seeds = Path(__file__).resolve().parent / "fuzz" / "corpus" / "image"
        corpus = sorted(p for p in seeds.glob("part-*.jpg") if "truncated" not in p.name)
        self.assertGreater(len(corpus), 10)
        cases = [(resize, crop, p) for resize, crop in ((256, 224), (300, 0), (128, 96), (0, 224)) for p in paths]
        cases += [(resize, crop, p) for resize, crop in ((30, 20), (16, 12), (8, 6), (33, 0)) for p in corpus]
        groups = {}  # (one process for the images of a preset whose tensors come out of one size)
        for resize, crop, p in cases:
            with Image.open(p) as im:
                if resize:
                    im.draft("RGB", (resize, resize))
                steps = ([T.Resize(resize, antialias=True)] if resize else []) + ([T.CenterCrop(crop)] if crop else [])
                want = T.Compose(steps + [T.ToTensor(), T.Normalize(norm.mean, norm.std)])(im.convert("RGB")).numpy()
                groups.setdefault((resize, crop, want.shape), []).append((p, im.size, want))
        for (resize, crop, _), group in groups.items():
            r = self.vggcl("--draft", "--resize", resize, *(["--crop", crop] if crop else ["--no-crop"]),
                           "--output", out, *(p for p, _, _ in group))
            self.assertEqual(r.returncode, 0, f"--resize {resize} --crop {crop}: {r.stderr}")
            got = np.load(out)
            self.assertEqual(len(got), len(group))
            for (p, drafted, want), one in zip(group, got):
                with self.subTest(resize=resize, crop=crop, image=p.name, drafted=drafted):
                    np.testing.assert_array_equal(one, want)
        im = Image.open(paths[2])  # (the scale PIL takes at the boundary: 2048 over 8 is 256)
        im.draft("RGB", (256, 256))
        self.assertEqual(im.size, (263, 256))

    def test_resize_both_sides_matches_torchvision(self):
        """--resize HxW: both sides resized, the aspect not kept, as torchvision's Resize((H, W)), bit for bit:
        down and up, one side kept, a side of 1, with --no-crop (every image then H x W, one batch) and with a
        crop (taking less than a side, and more: padded); a JPEG decoded in part and a CMYK one; and with
        --draft, PIL's Image.draft("RGB", (W, H)) first, at each side's boundary (the width deciding the scale
        where it is the tighter one)."""
        from torchvision import transforms as T
        norm = VGG16_Weights.IMAGENET1K_V1.transforms()
        paths = []
        for i, (h, w, ext) in enumerate([(300, 400, "png"), (401, 299, "jpg"), (5, 3, "png"), (1, 9, "png"),
                                         (224, 200, "jpg"), (600, 500, "cmyk")]):
            p = self.d / f"s{i}_{h}x{w}.{'png' if ext == 'png' else 'jpg'}"
            img = Image.fromarray(photo(h, w, 60 + i))
            (img.convert("CMYK") if ext == "cmyk" else img).save(p, quality=92)
            paths.append(p)
        out = self.d / "sides.npy"
        for (rh, rw), crop in [((224, 200), 0), ((224, 200), 64), ((224, 200), 224), ((7, 300), 0), ((1, 1), 0),
                               ((401, 299), 0), ((50, 60), 55),
                               ((401, 150), 100), ((200, 299), 96)]:  # (one side kept: the JPEG's rows or columns cut)
            r = self.vggcl("--resize", f"{rh}x{rw}", *(["--crop", crop] if crop else ["--no-crop"]), "--output", out,
                           *paths)
            self.assertEqual(r.returncode, 0, r.stderr)
            got = np.load(out)
            self.assertEqual(got.shape, (len(paths), 3, crop or rh, crop or rw))
            steps = [T.Resize((rh, rw), antialias=True)] + ([T.CenterCrop(crop)] if crop else [])
            preset = T.Compose(steps + [T.ToTensor(), T.Normalize(norm.mean, norm.std)])
            for i, p in enumerate(paths):
                with self.subTest(resize=(rh, rw), crop=crop, image=p.name):
                    np.testing.assert_array_equal(got[i], preset(Image.open(p).convert("RGB")).numpy())
        big = self.d / "big.jpg"  # (2048 x 2100, height x width): 1/8 where both sides allow it, else 1/4
        Image.fromarray(photo(2048, 2100, 70)).save(big, quality=90)
        for rh, rw, scale in [(256, 262, 8), (256, 263, 4), (257, 200, 4), (200, 525, 4), (200, 526, 2)]:
            r = self.vggcl("--draft", "--resize", f"{rh}x{rw}", "--no-crop", "--output", out, big)
            self.assertEqual(r.returncode, 0, r.stderr)
            im = Image.open(big)
            im.draft("RGB", (rw, rh))
            with self.subTest(resize=(rh, rw), drafted=im.size):
                self.assertEqual(im.size, (-(-2100 // scale), 2048 // scale))
                want = T.Compose([T.Resize((rh, rw), antialias=True), T.ToTensor(), T.Normalize(norm.mean, norm.std)])
                np.testing.assert_array_equal(np.load(out)[0], want(im.convert("RGB")).numpy())
        # a 1 x 7 million image to 40 x 40: the horizontal pass would hold its 7 million rows 40 wide, past 2^28
        # pixels (a 1 x 10^8 PNG of 194 KB took 12 GB there, PIL's 16 GB): refused at once, naming it
        tall, none = self.d / "tall.png", self.d / "none.npy"
        Image.new("L", (1, 7_000_000), 128).save(tall)
        r = self.vggcl("--resize", "40x40", "--no-crop", "--output", none, tall)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"{tall}: image of 1 x 7000000 pixels (width x height): resizing it to 40 x 40 passes through "
                      "more than 2^28 pixels (the rows it reads, resized across)", r.stderr)
        self.assertFalse(none.exists())

    def test_real_photos(self):
        """The photos and test images Debian's python3-skimage ships: RGB, gray, palette, JPEG."""
        try:
            import skimage
        except ImportError:  # a missing prerequisite fails: the photos would otherwise go untested
            self.fail("python3-skimage is not installed (.ci/install-deps.sh installs it)")
        data = Path(skimage.data_dir)
        files = sorted(p for p in data.iterdir() if p.suffix in (".png", ".jpg") and p.name != "truncated.jpg")
        self.assertGreater(len(files), 20)
        preset = VGG16_Weights.IMAGENET1K_V1.transforms()
        self.assert_decodes_like_pil(*files)
        out = self.d / "real.npy"
        r = self.vggcl("--output", out, *files)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = np.load(out)
        for i, p in enumerate(files):
            want = preset(Image.open(p).convert("RGB")).numpy()
            with self.subTest(p.name):
                np.testing.assert_array_equal(got[i], want, p.name)
        for threads in ("1", "3"):  # decoded on a pool of threads, written in the order given
            alt = self.d / f"real{threads}.npy"
            r = self.vggcl("--threads", threads, "--output", alt, *files)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(alt.read_bytes(), out.read_bytes(), threads)
        r = self.vggcl("--output", out, data / "truncated.jpg")
        self.assertEqual(r.returncode, 1)
        self.assertIn("truncated.jpg", r.stderr)

    def test_folder_sorted_and_options(self):
        sub = self.d / "imgs"
        sub.mkdir()
        for name in ("b.png", "a.jpg", "c.PNG"):
            Image.fromarray(photo(40, 50, len(name))).save(sub / name)
        (sub / "notes.txt").write_text("not an image")
        out = self.d / "t.npy"
        r = self.vggcl("--resize", "36", "--crop", "32", "--output", out, sub)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(np.load(out).shape, (3, 3, 32, 32))
        # every format torchvision's ImageFolder takes, PGM and PPM too (passed over until 0.3), in its order:
        # a folder's files (any case of the extension) before those of the folders below it
        (sub / "later").mkdir()
        Image.fromarray(photo(40, 50, 7)).save(sub / "later" / "e.ppm")
        Image.fromarray(photo(40, 50, 8)[..., 0]).save(sub / "d.PGM", "PPM")
        Image.fromarray(photo(40, 50, 9)).save(sub / "f.ppm")
        from torchvision.datasets.folder import IMG_EXTENSIONS
        from torchvision.transforms import functional as F
        self.assertEqual(sorted(IMG_EXTENSIONS), [".bmp", ".jpeg", ".jpg", ".pgm", ".png", ".ppm", ".tif", ".tiff",
                                                  ".webp"])  # (the premise: none left that vggcl does not read)
        for recursive, names in (((), ("a.jpg", "b.png", "c.PNG", "d.PGM", "f.ppm")),
                                 (("--recursive",), ("a.jpg", "b.png", "c.PNG", "d.PGM", "f.ppm", "later/e.ppm"))):
            r = self.vggcl(*recursive, "--resize", "36", "--crop", "32", "--output", out, sub)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertNotIn("left out", r.stderr)
            got = np.load(out)
            self.assertEqual(got.shape, (len(names), 3, 32, 32))
            for i, name in enumerate(names):
                img = F.center_crop(F.resize(Image.open(sub / name).convert("RGB"), 36), 32)
                want = F.normalize(F.to_tensor(img), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]).numpy()
                np.testing.assert_array_equal(got[i], want, name)
        for name in ("later/e.ppm", "d.PGM", "f.ppm"):
            (sub / name).unlink()
        (sub / "later").rmdir()
        r = self.vggcl("--resize", "36", "--crop", "32", "--output", out, sub)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = np.load(out)
        for i, name in enumerate(("a.jpg", "b.png", "c.PNG")):
            img = F.center_crop(F.resize(Image.open(sub / name).convert("RGB"), 36), 32)
            want = F.normalize(F.to_tensor(img), [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]).numpy()
            np.testing.assert_array_equal(got[i], want, name)  # (bit for bit, as claimed: one level was let by)

    def test_pngs_pil_opens(self):
        """PNGs PIL decodes that libpng refused: wider than libpng's default limit of a million pixels a
        side, without the end chunk (libpng: "Read Error"), with the pixel data's checksum wrong, with the
        zlib stream's checksum cut off (libpng: "Not enough image data")."""
        wide = np.tile(np.arange(251, dtype=np.uint8), 1200000 // 251 + 1)[None, :1200000]
        (self.d / "wide.png").write_bytes(png_bytes(wide, 0, 8))
        self.assert_decodes_like_pil(self.d / "wide.png")
        Image.fromarray(photo(20, 30, 1)).save(self.d / "ok.png")
        raw = (self.d / "ok.png").read_bytes()
        (self.d / "no_iend.png").write_bytes(raw[:-12])
        at = raw.index(b"IDAT")
        crc = bytearray(raw)
        crc[at + 4 + struct.unpack(">I", raw[at - 4:at])[0]] ^= 1
        (self.d / "idat_crc.png").write_bytes(bytes(crc))
        (self.d / "no_adler.png").write_bytes(png_bytes(photo(20, 30, 2), 2, 8, cut=4))
        # a critical chunk neither knows before the pixel data, its checksum right: PIL passes over it (libpng:
        # "unhandled critical chunk")
        body = b"QQQQ" + b"data"
        (self.d / "unknown.png").write_bytes(raw[:at - 4] + struct.pack(">I", 4) + body +
                                             struct.pack(">I", zlib.crc32(body)) + raw[at - 4:])
        self.assert_decodes_like_pil(*(self.d / name for name in ("no_iend.png", "idat_crc.png", "no_adler.png",
                                                                  "unknown.png")))

    def test_png_chunks_as_pil(self):
        """The chunks beside the pixels, before and after them, judged as PIL 9.4's PngStream judges them when
        Image.open and convert("RGB") read them: a zTXt, iTXt or iCCP that inflates past 1 MiB, text past 64 MiB in
        all, truncated sRGB, pHYs, acTL, fcTL, a gAMA, cHRM or tRNS PIL cannot unpack, an iCCP of another method,
        frames out of sequence or outside the image, a chunk after the pixels cut by the file's end: refused as by
        PIL (all were read, libpng keeping every text chunk inflated: 50 chunks of 8 MB in a file of 400 kB took
        400 MB), and what PIL takes beside them read as it reads it (a stream zlib calls broken, text that is
        not UTF-8, a chunk of exactly 1 MiB, and one whose stream breaks right after it; an animation's next frame
        after the image data). Whether PIL refuses each file is asked of PIL itself."""
        def chunk(cid, data):
            return struct.pack(">I", len(data)) + cid + data + struct.pack(">I", zlib.crc32(cid + data) & 0xFFFFFFFF)

        def png(before=(), after=(), gray=False, cut=0):
            raw = png_bytes(photo(12, 14, 3)[..., 0] if gray else photo(12, 14, 3), 0 if gray else 2, 8)
            at, end = raw.index(b"IDAT") - 4, len(raw) - 12  # (the first image data; the end chunk)
            data = raw[:at] + b"".join(chunk(c, d) for c, d in before) + raw[at:end] + \
                b"".join(chunk(c, d) for c, d in after) + raw[end:]
            return data[:len(data) - cut] if cut else data

        mib = 1 << 20
        fctl = lambda seq, w=14, h=12, x=0, y=0: struct.pack(">IIIIIHHBB", seq, w, h, x, y, 1, 10, 0, 0)
        cases = {
            "ztxt_over": png([(b"zTXt", b"k\0\0" + zlib.compress(bytes(mib + 1)))]),
            "ztxt_1mib": png([(b"zTXt", b"k\0\0" + zlib.compress(bytes(mib)))]),
            # exactly 1 MiB in a stored block, then a block type zlib calls invalid: a broken stream to PIL (it
            # was taken for more than 1 MiB, zlib having read on past the full output)
            "ztxt_1mib_then_broken": png([(b"zTXt", b"k\0\0" + b"\x78\x01" + b"".join(
                bytes([0]) + struct.pack("<HH", 65535, 0) + bytes(65535) for _ in range(16)) +
                bytes([0]) + struct.pack("<HH", 16, 0xFFEF) + bytes(16) + b"\x06\0\0\0")]),
            "ztxt_over_after": png(after=[(b"zTXt", b"k\0\0" + zlib.compress(bytes(2 * mib)))]),
            "ztxt_method": png([(b"zTXt", b"k\0\1" + zlib.compress(b"v"))]),
            "ztxt_broken": png([(b"zTXt", b"k\0\0" + b"not zlib")]),
            "ztxt_70mib": png([(b"zTXt", b"k\0\0" + zlib.compress(bytes(mib - 64)))] * 70),
            "itxt_over": png([(b"iTXt", b"k\0\1\0en\0k\0" + zlib.compress(bytes(mib + 1)))]),
            "itxt_not_utf8": png([(b"iTXt", b"k\0\0\0en\0k\0\xff\xfe")]),
            "iccp_over": png([(b"iCCP", b"icc\0\0" + zlib.compress(bytes(mib + 1)))]),
            "iccp_broken": png([(b"iCCP", b"icc\0\0garbage")]),
            "iccp_empty": png([(b"iCCP", b"")]),
            "iccp_no_name": png([(b"iCCP", b"noname")]),
            "text_latin1": png([(b"tEXt", b"k\0caf\xe9")]),
            "srgb_empty": png([(b"sRGB", b"")]),
            "phys_short": png([(b"pHYs", bytes(4))]),
            "gama_short": png([(b"gAMA", bytes(2))]),
            "chrm_odd": png([(b"cHRM", bytes(30))]),
            "trns_rgb_short": png([(b"tRNS", bytes(1))]),
            "trns_gray_short": png([(b"tRNS", bytes(1))], gray=True),
            "trns_gray": png([(b"tRNS", bytes(2))], gray=True),
            "srgb_empty_after": png(after=[(b"sRGB", b"")]),
            "actl_short": png([(b"acTL", bytes(4))]),
            "apng": png([(b"acTL", struct.pack(">II", 1, 0)), (b"fcTL", fctl(0))]),
            "fctl_short": png([(b"acTL", struct.pack(">II", 1, 0)), (b"fcTL", fctl(0)[:20])]),
            "fctl_sequence": png([(b"acTL", struct.pack(">II", 1, 0)), (b"fcTL", fctl(1))]),
            "fctl_outside": png([(b"acTL", struct.pack(">II", 1, 0)), (b"fcTL", fctl(0, x=5))]),
            "chunk_cut_after": png(after=[(b"quIt", bytes(40))], cut=12 + 20),
            # animations: the next frame's fcTL after the image data ends PIL's walk (its sequence unread); an
            # acTL after the image data does not make the image an animation (PIL knew it at the open), so
            # the fcTL after it is checked; a DDAT before the image data is a chunk PIL does not know; an fdAT
            # out of sequence
            "apng_next_frame": png([(b"acTL", struct.pack(">II", 2, 0)), (b"fcTL", fctl(0))],
                                   after=[(b"fcTL", fctl(7)), (b"fdAT", struct.pack(">I", 8) + bytes(8))]),
            "actl_after": png(after=[(b"acTL", struct.pack(">II", 2, 0)), (b"fcTL", fctl(5))]),
            "ddat_before": png([(b"DDAT", bytes(4)), (b"acTL", struct.pack(">II", 2, 0)), (b"fcTL", fctl(0)),
                                (b"fcTL", fctl(7))]),
            "fdat_sequence": png([(b"acTL", struct.pack(">II", 1, 0)), (b"fcTL", fctl(0))],
                                 after=[(b"fdAT", struct.pack(">I", 5) + bytes(8))]),
        }
        read, refused = [], []
        for name, data in cases.items():
            path = self.d / f"{name}.png"
            path.write_bytes(data)
            try:
                with Image.open(path) as im:
                    im.convert("RGB")
                read.append(path)
            except Exception:  # (any: ValueError, SyntaxError as UnidentifiedImageError, OSError)
                refused.append((path, "corrupt PNG: "))
        self.assert_decodes_like_pil(*read)
        self.assert_refused(refused)
        self.assertEqual(len(refused), 23, "PIL refuses 23 of the cases")  # (the cases as meant: not all taken)
        for name, said in (("ztxt_over", "zTXt chunk: it inflates to more than 1 MiB (\"Decompressed Data Too Large\"); "
                                         "PIL refuses the file too"),
                           ("ztxt_70mib", "zTXt chunk: the text chunks hold more than 64 MiB"),
                           ("fctl_sequence", "fcTL chunk: the animation's frames out of sequence"),
                           ("chunk_cut_after", "quIt chunk: cut short by the file's end")):
            r = self.vggcl("--output", self.d / "c.npy", self.d / f"{name}.png")
            self.assertIn(said, r.stderr)
        # 50 chunks of 8 MB of text each, 400 kB in all: refused at the first, in little memory
        (self.d / "bomb.png").write_bytes(png([(b"zTXt", b"k\0\0" + zlib.compress(bytes(8_000_000), 9))] * 50))
        self.assert_refused_lean(self.d / "bomb.png", "inflates to more than 1 MiB", 100 * 1024)

    @unittest.skipIf("ASAN_OPTIONS" in os.environ, "ASan reserves its shadow memory past any ulimit -v")
    def test_out_of_memory_said(self):
        """A PNG and a TIFF of 13000 x 13000 pixels, a TIFF of 6000 x 6000 16-bit pixels in one tile, a
        progressive JPEG whose header says 13000 x 13000 and an animated WebP whose canvas says 8000 x 8000, under
        a 480 MB address space: said as out of host memory for their pixels or the tile (the PNG was said to be
        corrupt, as the TIFF whose image fitted but not its tile, the JPEG whose coefficients libjpeg could not
        allocate and the WebP whose canvases libwebp could not)."""
        import resource
        import tifffile
        big = Image.new("RGB", (13000, 13000))
        big.save(self.d / "big.png", compress_level=1)
        big.save(self.d / "big.tif", compression="tiff_adobe_deflate")
        del big
        tifffile.imwrite(self.d / "tile.tif", np.zeros((6000, 6000, 3), np.uint16), tile=(6000, 6000),
                         compression="zlib", photometric="rgb")  # (216 MB its samples, 216 its tile, 108 its RGB)
        # a progressive JPEG whose header says 13000 x 13000: libjpeg's coefficients for the whole image find no
        # memory (said as a corrupt JPEG: "Insufficient memory (case 4)")
        small = io.BytesIO()
        Image.fromarray(photo(16, 16, 4)).save(small, "JPEG", progressive=True, quality=90)
        prog = bytearray(small.getvalue())
        at = prog.index(b"\xff\xc2") + 5
        prog[at:at + 4] = struct.pack(">HH", 13000, 13000)
        (self.d / "prog.jpg").write_bytes(bytes(prog))
        # an animated WebP whose canvas says 8000 x 8000 (its RGB fits, not the decoder's two canvases of 4 bytes a
        # pixel: said as a corrupt file, "its frames cannot be read")
        frames = [Image.fromarray(np.full((4, 4, 3), c, np.uint8)) for c in (10, 200)]
        anim = io.BytesIO()
        frames[0].save(anim, "WEBP", save_all=True, append_images=frames[1:], lossless=True)
        anim = bytearray(anim.getvalue())
        at = anim.index(b"VP8X") + 12
        anim[at:at + 6] = (7999).to_bytes(3, "little") * 2
        (self.d / "anim.webp").write_bytes(bytes(anim))
        out = self.d / "out.npy"
        r = subprocess.run([VGGCL, "preprocess", "--threads", "1", "--output", out, self.d / "big.png",
                            self.d / "big.tif", self.d / "tile.tif", self.d / "prog.jpg", self.d / "anim.webp"],
                           capture_output=True, text=True, timeout=300,
                           preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (480 << 20, 480 << 20)))
        self.assertEqual(r.returncode, 1, r.stderr)
        for name in ("big.png", "big.tif", "prog.jpg"):
            self.assertIn(f"vggcl: {self.d / name}: out of host memory for 13000 x 13000 pixels", r.stderr.splitlines())
        self.assertIn(f"vggcl: {self.d / 'tile.tif'}: out of host memory for a tile of 6000 x 6000 pixels",
                      r.stderr.splitlines())
        self.assertIn(f"vggcl: {self.d / 'anim.webp'}: out of host memory for 8000 x 8000 pixels",
                      r.stderr.splitlines())
        self.assertFalse(out.exists())

    def test_bad_images(self):
        Image.fromarray(photo(20, 20, 1)).save(self.d / "ok.png")
        raw = (self.d / "ok.png").read_bytes()
        (self.d / "trunc.png").write_bytes(raw[: len(raw) // 2])
        Image.fromarray(photo(20, 20, 1)).save(self.d / "ok.jpg")
        (self.d / "trunc.jpg").write_bytes((self.d / "ok.jpg").read_bytes()[:200])
        Image.fromarray(photo(64, 64, 2)).save(self.d / "big.jpg", quality=95)
        data = (self.d / "big.jpg").read_bytes()
        (self.d / "trunc_scan.jpg").write_bytes(data[: len(data) * 3 // 4])  # cut inside the scan data
        (self.d / "text.png").write_text("hello")
        # a checksum wrong in a chunk before the pixels, an ancillary one: PIL refuses the file ("broken PNG
        # file (bad header checksum in b'tEXt')"); libpng by default drops the chunk with a warning
        at = raw.index(b"IDAT") - 4
        (self.d / "text_crc.png").write_bytes(raw[:at] + struct.pack(">I", 3) + b"tEXtk\0v" + bytes(4) + raw[at:])
        with self.assertRaises(Image.UnidentifiedImageError):  # (PIL tried its other formats after)
            Image.open(self.d / "text_crc.png")
        (self.d / "short.png").write_bytes(png_bytes(photo(20, 30, 2), 2, 8, cut=5))  # the last row's end too
        # large enough that the preset reads only a middle part: cut in the rows below it, or without
        # its end marker, it still fails, as with PIL (the rows skipped are still read)
        Image.fromarray(photo(480, 640, 3)).save(self.d / "photo.jpg", quality=90)
        data = (self.d / "photo.jpg").read_bytes()
        (self.d / "trunc_bottom.jpg").write_bytes(data[: len(data) * 97 // 100])
        (self.d / "no_eoi.jpg").write_bytes(data[:-2])
        twelve = bytearray((self.d / "ok.jpg").read_bytes())  # 12 bits a sample: valid, not read (nor by PIL)
        twelve[twelve.index(b"\xff\xc0") + 4] = 12
        (self.d / "twelve.jpg").write_bytes(bytes(twelve))
        zero = bytearray((self.d / "ok.jpg").read_bytes())  # a width of 0 (said as libjpeg's "DNL not supported")
        zero[zero.index(b"\xff\xc0") + 7:zero.index(b"\xff\xc0") + 9] = bytes(2)
        (self.d / "zero_wide.jpg").write_bytes(bytes(zero))
        zero = bytearray((self.d / "ok.jpg").read_bytes())  # no components (the same libjpeg error)
        zero[zero.index(b"\xff\xc0") + 9] = 0
        (self.d / "no_components.jpg").write_bytes(bytes(zero))
        (self.d / "empty.jpg").write_bytes(b"")
        Image.fromarray((np.random.default_rng(5).random((96, 96, 3)) * 255).astype(np.uint8)).save(self.d / "t.tif")
        (self.d / "trunc.tif").write_bytes((self.d / "t.tif").read_bytes()[:20000])  # (read, not mapped: libtiff's
        (self.d / "t.tif").unlink()                                                  # "Read error at scanline")
        out = self.d / "out" / "t.npy"
        out.parent.mkdir()
        for name, needle in (("trunc.png", "corrupt PNG: the file is truncated"), ("trunc.jpg", "corrupt JPEG"),
                             ("trunc.tif", "corrupt TIFF: the file is truncated (libtiff: Read error"),
                             ("trunc_scan.jpg", "truncated"),
                             ("trunc_bottom.jpg", "truncated"), ("no_eoi.jpg", "truncated"),
                             ("text.png", "not a JPEG, PNG, WebP, BMP, TIFF or PNM image"),
                             ("empty.jpg", "empty.jpg: an empty file (0 bytes), not an image"),
                             ("zero_wide.jpg", "corrupt JPEG: its frame header gives a width or height of 0 (an empty "
                                               "image)"),
                             ("no_components.jpg", "corrupt JPEG: its frame header gives no colour components"),
                             ("twelve.jpg", "a JPEG vggcl does not read: Unsupported JPEG data precision 12 (it reads "
                                            "8-bit JPEGs, lossy, as PIL does)"), ("text_crc.png", "corrupt PNG: tEXt: CRC error"), ("short.png", "Not enough image data"), ("missing.png", "cannot open")):
            with self.subTest(name):
                r = self.vggcl("--output", out, self.d / "ok.png", self.d / name)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn(name, r.stderr)
                self.assertIn(needle, r.stderr)
                self.assertEqual(list(out.parent.iterdir()), [])
        # a progressive JPEG of 600 bytes whose header claims 30000x10000 pixels: refused before libjpeg
        # reads its scans into coefficients for that size (1.2 GB of RSS; here at most 512 MB)
        Image.fromarray(photo(64, 64, 2)).save(self.d / "p.jpg", progressive=True)
        data = bytearray((self.d / "p.jpg").read_bytes())
        sof = data.index(b"\xff\xc2")
        data[sof + 5:sof + 9] = struct.pack(">HH", 10000, 30000)  # height, width
        (self.d / "bomb.jpg").write_bytes(bytes(data))
        self.assert_refused_lean(self.d / "bomb.jpg", "bomb.jpg: 30000 x 10000 pixels (width x height) is too large: more "
                                 "than 178956970, PIL's limit", 512 * 1024)
        # PIL's limit, not 2^28: 13400 x 13400 is refused by PIL (so by torchvision's loaders) as by vggcl (it
        # read it: 1.3 GB of coefficients for a file of 600 bytes)
        data[sof + 5:sof + 9] = struct.pack(">HH", 13400, 13400)
        (self.d / "bomb.jpg").write_bytes(bytes(data))
        with self.assertRaises(Image.DecompressionBombError):
            Image.open(self.d / "bomb.jpg")
        r = self.vggcl("--output", out, self.d / "bomb.jpg")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("bomb.jpg: 13400 x 13400 pixels (width x height) is too large: more than 178956970", r.stderr)
        (self.d / "bomb.jpg").unlink()
        # a JPEG repeating a scan: past 500 scans refused (each reads the whole image: a small file took minutes),
        # up to them read as PIL reads it (the repeats give the coefficients again)
        data = (self.d / "p.jpg").read_bytes()
        at = 0
        while True:  # the first AC scan of the first pass (Ss > 0, Ah = 0), and its data up to the next marker
            at = data.index(b"\xff\xda", at + 2)
            head = data[at + 4:at + 2 + struct.unpack(">H", data[at + 2:at + 4])[0]]
            if head[1 + 2 * head[0]] > 0 and head[3 + 2 * head[0]] >> 4 == 0:
                break
        end = re.search(rb"\xff[^\x00\xd0-\xd7]", data[at + 2:]).start() + at + 2
        scan = data[at:end]
        for repeats, code in ((100, 0), (600, 1)):
            (self.d / "scans.jpg").write_bytes(data[:end] + scan * repeats + data[end:])
            r = self.vggcl("--output", out, self.d / "scans.jpg")
            self.assertEqual(r.returncode, code, r.stderr)
            if code:
                self.assertIn("scans.jpg: a JPEG vggcl does not read: more than 500 scans", r.stderr)
            else:
                self.assertEqual(self.vggcl("--output", self.d / "once.npy", self.d / "p.jpg").returncode, 0)
                np.testing.assert_array_equal(np.load(out), np.load(self.d / "once.npy"))
                out.unlink(), (self.d / "once.npy").unlink()
        (self.d / "scans.jpg").unlink()
        # a PNG 1 pixel wide and 2^25 tall (128 kB, under the pixel limit) whose resize would pass 2^28 pixels:
        # refused once its header is read (it was decoded first: 370 MB and seconds, per decoding thread)
        rows = zlib.compress(b"\0\0" * (1 << 25), 9)
        png = b"\x89PNG\r\n\x1a\n" + b"".join(struct.pack(">I", len(d)) + k + d + struct.pack(">I", zlib.crc32(k + d))
                                          for k, d in ((b"IHDR", struct.pack(">IIBBBBB", 1, 1 << 25, 1, 0, 0, 0, 0)),
                                                       (b"IDAT", rows), (b"IEND", b"")))
        (self.d / "tall.png").write_bytes(png)
        self.assert_refused_lean(self.d / "tall.png", "tall.png: image of 1 x 33554432 pixels (width x height) would "
                                 "resize to 256 x 8589934592, more than 2^28 pixels", 128 * 1024)
        self.assertEqual(list(out.parent.iterdir()), [])
        # past PIL's limit in the header, as PIL refuses it: a PNG and a BMP (each decoder asks the one check)
        ihdr = struct.pack(">IIBBBBB", 20000, 10000, 8, 2, 0, 0, 0)
        (self.d / "wide.png").write_bytes(png[:12] + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
                                          + png[33:])
        bmp = bytearray(bmp_bytes(np.zeros((2, 12), np.uint8), 24))
        bmp[18:26] = struct.pack("<ii", 20000, 10000)
        (self.d / "wide.bmp").write_bytes(bytes(bmp))
        for name in ("wide.png", "wide.bmp"):
            with self.assertRaises(Image.DecompressionBombError):
                Image.open(self.d / name)
            self.assert_refused_lean(self.d / name, f"{name}: 20000 x 10000 pixels (width x height) is too large: more "
                                     "than 178956970, PIL's limit", 128 * 1024)
        # a 1-pixel strip would resize to 256 x 16.7 million pixels: refused with the sizes
        # (torchvision would have PIL allocate 12 GiB); without the resize it goes through
        Image.new("RGB", (1, 65500), (10, 20, 30)).save(self.d / "strip.jpg")
        r = self.vggcl("--output", out, self.d / "strip.jpg")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("strip.jpg", r.stderr)
        self.assertIn("image of 1 x 65500 pixels (width x height) would resize to 256 x 16768000, more than 2^28",
                      r.stderr)
        self.assertEqual(list(out.parent.iterdir()), [])
        # the same refused from its header, before any scan: cut after its start of scan, it says the size
        # (decoded first, it said its data ended early)
        data = (self.d / "strip.jpg").read_bytes()
        sos = data.index(b"\xff\xda")
        (self.d / "cut.jpg").write_bytes(data[:sos + 2 + struct.unpack(">H", data[sos + 2:sos + 4])[0]])
        r = self.vggcl("--output", out, self.d / "cut.jpg")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("cut.jpg: image of 1 x 65500 pixels (width x height) would resize to 256 x 16768000", r.stderr)
        self.assertEqual(list(out.parent.iterdir()), [])
        r = self.vggcl("--output", out, "--resize", "0", "--crop", "224", self.d / "strip.jpg")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(np.load(out).shape, (1, 3, 224, 224))
        out.unlink()
        r = self.vggcl("--output", out, "--crop", "0", self.d / "ok.png")
        self.assertEqual(r.returncode, 2)
        r = self.vggcl("--output", out, "--mean", "1,2", self.d / "ok.png")
        self.assertEqual(r.returncode, 2)

    def test_other_formats_named(self):
        """A file of a format vggcl does not read is named as what its first bytes say it is (a phone's HEIC among
        the photos); one they say nothing of is refused as before."""
        Image.fromarray(photo(20, 20, 1)).save(self.d / "ok.png")
        Image.fromarray(photo(20, 20, 1)).save(self.d / "a.gif")
        Image.fromarray(photo(32, 32, 1)).save(self.d / "a.ico")
        box = lambda brand: struct.pack(">I", 24) + b"ftyp" + brand + b"\0\0\0\0" + brand + b"mif1"
        for name, data in (("a.heic", box(b"heic")), ("b.heic", box(b"heix")), ("a.heif", box(b"mif1")),
                           ("a.avif", box(b"avif")), ("a.jxl", b"\xff\x0a\xfa\x7f"),
                           ("b.jxl", b"\0\0\0\x0cJXL \r\n\x87\n\0\0\0\x14ftypjxl "),
                           ("a.jp2", b"\0\0\0\x0cjP  \r\n\x87\n\0\0\0\x14ftypjp2 "),
                           ("a.pam", b"P7\nWIDTH 2\nHEIGHT 1\nDEPTH 3\nMAXVAL 255\nTUPLTYPE RGB\nENDHDR\n" + bytes(6)),
                           ("a.psd", b"8BPS\0\1" + bytes(20)), ("a.pdf", b"%PDF-1.7\n%\xe2\xe3\n"),
                           ("unknown.png", b"\0\0\2\0 nothing known")):
            (self.d / name).write_bytes(data)
        named = {"a.gif": "a GIF", "a.ico": "an ICO", "a.heic": "an HEIC (HEIF)", "b.heic": "an HEIC (HEIF)",
                 "a.heif": "an HEIF", "a.avif": "an AVIF", "a.jxl": "a JPEG XL", "b.jxl": "a JPEG XL",
                 "a.jp2": "a JPEG 2000", "a.pam": "a PAM (P7; PNM's P1-P6 are read)", "a.psd": "a Photoshop (PSD)",
                 "a.pdf": "a PDF"}
        self.assert_refused_beside(self.d / "ok.png", [
            (n, f"not a JPEG, PNG, WebP, BMP, TIFF or PNM image ({what} file)") for n, what in named.items()])
        self.assert_refused_beside(self.d / "ok.png", [("unknown.png", "not a JPEG, PNG, WebP, BMP, TIFF or PNM "
                                                                       "image\n")])

    def test_own_pixel_limit(self):
        """VGGCL_MAX_IMAGE_PIXELS: every format's image of more pixels is refused from its header, named, the
        others read; a value that is not a count within PIL's limit is said once, exit 2, before any image."""
        rgb = photo(40, 48, 3)  # (1920 pixels)
        for ext, kw in (("png", {}), ("jpg", {}), ("webp", {"lossless": True}), ("bmp", {}), ("tiff", {}),
                        ("ppm", {})):
            Image.fromarray(rgb).save(self.d / f"a.{ext}", **kw)
        frames = [Image.fromarray(rgb), Image.fromarray(rgb[::-1].copy())]  # (an animation's canvas: its size)
        frames[0].save(self.d / "anim.webp", save_all=True, append_images=frames[1:], lossless=True)
        names = sorted(f.name for f in self.d.iterdir())
        out = self.d / "out" / "t.npy"
        out.parent.mkdir()
        args = ["preprocess", "--resize", "0", "--crop", "32", "--output", out, *(self.d / n for n in names)]
        for limit, skipped in (("1919", names), ("1920", []), ("", [])):
            with self.subTest(limit=limit):
                r = subprocess.run([VGGCL, *map(str, args)], capture_output=True, text=True, timeout=300,
                                   env={**os.environ, "VGGCL_MAX_IMAGE_PIXELS": limit})
                self.assertEqual(r.returncode, 1 if skipped else 0, r.stderr)
                for n in skipped:
                    self.assertIn(f"{self.d / n}: 48 x 40 pixels (width x height) is too large: more than 1919, "
                                  "VGGCL_MAX_IMAGE_PIXELS", r.stderr)
                self.assertEqual(out.exists(), not skipped)
                if not skipped:
                    self.assertEqual(np.load(out).shape, (len(names), 3, 32, 32))
                    out.unlink()
        # refused from the header: a PNG saying 4000 x 4000 (under PIL's limit) over a 48 x 40 one's data, in little
        # memory, before its other chunks are read (a tEXt of a wrong CRC after it: the chunks' walk, which inflates
        # every iCCP to the end, seconds for some files, said that first)
        png = (self.d / "a.png").read_bytes()
        ihdr = struct.pack(">IIBBBBB", 4000, 4000, 8, 2, 0, 0, 0)
        (self.d / "big.png").write_bytes(png[:12] + b"IHDR" + ihdr + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) +
                                         struct.pack(">I", 4) + b"tEXta\0bc" + b"\0\0\0\0" + png[33:])
        code, stderr, peak = testenv.run_peak([VGGCL, "preprocess", "--threads", "1", "--output", out,
                                               self.d / "big.png"], env={**os.environ,
                                                                         "VGGCL_MAX_IMAGE_PIXELS": "1000000"})
        self.assertEqual(code, 1, stderr)
        self.assertIn("big.png: 4000 x 4000 pixels (width x height) is too large: more than 1000000, "
                      "VGGCL_MAX_IMAGE_PIXELS", stderr)
        self.assertLess(peak, 128 * 1024, "kB of RSS")
        # an IHDR not first (its chunks were walked first, every iCCP inflated, before libpng refused it): refused
        (self.d / "late.png").write_bytes(png[:8] + struct.pack(">I", 4) + b"tEXta\0bc" +
                                          struct.pack(">I", zlib.crc32(b"tEXta\0bc")) + png[8:])
        r = subprocess.run([VGGCL, *map(str, args[:-len(names)]), self.d / "late.png"], capture_output=True,
                           text=True, timeout=300)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"{self.d / 'late.png'}: corrupt PNG: its first chunk is not IHDR", r.stderr)
        for bad in ("0", "-5", "1e6", " 100", "178956971", "99999999999999999999999", "abc"):
            with self.subTest(bad=bad):
                r = subprocess.run([VGGCL, *map(str, args)], capture_output=True, text=True, timeout=300,
                                   env={**os.environ, "VGGCL_MAX_IMAGE_PIXELS": bad})
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertEqual(r.stderr, f"vggcl: preprocess: VGGCL_MAX_IMAGE_PIXELS is '{bad}'; expected a whole "
                                 "number of pixels from 1 to 178956970 (PIL's limit), or unset\n")
                self.assertFalse(out.exists())
        # a command that reads no image does not look at it (bench on the device's own batch was refused)
        r = subprocess.run([VGGCL, "bench", "--random", "--size", "32", "--iters", "1"], capture_output=True, text=True,
                           timeout=300, env={**os.environ, "VGGCL_MAX_IMAGE_PIXELS": "abc"})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("VGGCL_MAX_IMAGE_PIXELS", r.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    VGGCL = os.path.abspath(sys.argv.pop(1))
    torch.set_num_threads(1)
    unittest.main(verbosity=2)
