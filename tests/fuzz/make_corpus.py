#!/usr/bin/python3
"""Writes the seed corpus for the fuzz harnesses (tests/fuzz/corpus/NAME/):
small valid files and typical broken ones. Inputs fuzzing found are kept
beside them: crash-* and slow-* (each a bug fixed), and found/ (the fuzzing
corpus minimized with libFuzzer's -merge=1; see tools/fuzz.sh).

    /usr/bin/python3 tests/fuzz/make_corpus.py
"""
import io
import json
import os
import struct
import sys

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "weights"))
import safetensors_io  # noqa: E402
from make_test_weights import make_state_dict, parse_cfg  # noqa: E402


def out(name, fname, data):
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, fname), "wb") as f:
        f.write(data)


def st_bytes(sd, metadata=None, dtype=None):
    path = os.path.join(HERE, ".tmp.safetensors")
    safetensors_io.save_file(sd, path, metadata=metadata, dtype=dtype)
    with open(path, "rb") as f:
        data = f.read()
    os.remove(path)
    return data


def raw_st(header, data=b""):
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def safetensors_seeds():
    sd = make_state_dict(parse_cfg("4,M,6,M"), False, 3, 1)
    out("safetensors", "vgg-f32", st_bytes(sd))
    out("safetensors", "vgg-f16", st_bytes(sd, dtype="F16"))
    out("safetensors", "vgg-bf16", st_bytes(sd, dtype="BF16"))
    out("safetensors", "vgg-bn-meta", st_bytes(make_state_dict(parse_cfg("4,M,5"), True, 2, 2),
                                               metadata={"vggcl.pool5": "drop"}))
    good = st_bytes(sd)
    out("safetensors", "truncated", good[: len(good) - 7])
    out("safetensors", "empty-header", raw_st({}))
    out("safetensors", "huge-header-len", struct.pack("<Q", 1 << 62) + b"{}")
    out("safetensors", "overlap", raw_st({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                          "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, bytes(8)))
    out("safetensors", "nan", raw_st({"a": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}},
                                     struct.pack("<f", float("nan"))))
    out("safetensors", "big-shape", raw_st({"a": {"dtype": "F32", "shape": [1 << 40, 1 << 40],
                                                  "data_offsets": [0, 4]}}, bytes(4)))


def npy_bytes(a, version=1, fortran=False):
    f = io.BytesIO()
    np.lib.format.write_array(f, np.asfortranarray(a) if fortran else a, version=(version, 0))
    return f.getvalue()


def npy_seeds():
    a = np.arange(24, dtype="<f4").reshape(2, 3, 4)
    out("npy", "f4-3d", npy_bytes(a))
    out("npy", "f4-scalar", npy_bytes(np.array(1.5, dtype="<f4")))
    out("npy", "f4-v2", npy_bytes(a, version=2))
    out("npy", "f4-fortran", npy_bytes(a, fortran=True))
    out("npy", "f8", npy_bytes(a.astype("<f8")))
    out("npy", "f4-empty", npy_bytes(np.zeros((0, 3), dtype="<f4")))
    good = npy_bytes(a)
    out("npy", "truncated", good[:-5])
    out("npy", "trailing", good + b"\0\0\0\0")
    out("npy", "huge-shape", good.replace(b"(2, 3, 4)", b"(9999999999, 9999999999)")[: len(good)])


def model_seeds():
    """One options byte (pool5 / head / batch / caller's metadata bits, see fuzz_model.c), a size byte where
    the byte after it is not '{', then a header."""
    def header(sd, metadata=None):
        data = st_bytes(sd, metadata)
        n = struct.unpack("<Q", data[:8])[0]
        return data[8:8 + n].rstrip(b" ")
    out("model", "vgg", b"\x00" + header(make_state_dict(parse_cfg("4,M,6,M"), False, 3, 1)))
    out("model", "vgg-bn", b"\x13" + header(make_state_dict(parse_cfg("4,M,5,5"), True, 2, 2)))
    out("model", "vgg-head1", b"\x06" + header(make_state_dict(parse_cfg("3,M,4"), False, 2, 3,
                                                               head="classifier.1")))
    sd = make_state_dict(parse_cfg("4,M"), False, 2, 4, head="classifier.6")
    rng = np.random.default_rng(5)
    sd["classifier.6.weight"] = rng.normal(0, 0.1, (2, 8)).astype(np.float32)
    sd["classifier.0.weight"] = rng.normal(0, 0.1, (8, 4 * 49)).astype(np.float32)
    sd["classifier.0.bias"] = np.zeros(8, np.float32)
    sd["classifier.3.weight"] = rng.normal(0, 0.1, (8, 8)).astype(np.float32)
    sd["classifier.3.bias"] = np.zeros(8, np.float32)
    out("model", "vgg-original-head", b"\x00" + header(sd))
    # (maps asked of a head of dense layers, at a size byte's size: refused, as vggcl_check_cam says; the harness
    # took the refusal for a disagreement with vggcl_model_map_size and stopped)
    out("model", "cam-chain-head", b"\x80\x22" + header(sd))
    sd = make_state_dict(parse_cfg("4,M,6"), True, 3, 6)
    del sd["features.1.running_var"]
    out("model", "bn-missing-var", b"\x00" + header(sd))
    # the metadata the loader reads (the seeds above had none: the fuzzer reached its parsers late or never)
    head1 = make_state_dict(parse_cfg("3,M,4"), False, 2, 3, head="classifier.1")
    plain = make_state_dict(parse_cfg("4,M,6,M"), False, 3, 1)
    for name, opts, sd, meta in (
            ("meta-classes", b"\x06", head1, {"vggcl.classes": '["cat", "dog"]'}),
            ("meta-classes-nul", b"\x06", head1, {"vggcl.classes": '["a\\u0000b","c"]'}),
            ("meta-draft-preset", b"\x06", head1, {"vggcl.draft": "1", "vggcl.resize": "72.0", "vggcl.crop": "0",
                                                   "vggcl.mean": "1e30,0,0", "vggcl.std": "1e-30,1,1",
                                                   "vggcl.trained": "x", "vggcl.output": "y"}),
            ("meta-pool-ceil", b"\x06", head1, {"vggcl.pool_ceil": "1,0"}),
            ("meta-pool-ceil-all", b"\x03", plain, {"vggcl.pool_ceil": "1", "vggcl.pool5": "drop"}),
            ("meta-pool5-keep-auto", b"\x03", plain, {"vggcl.pool5": "keep", "vggcl.pool_ceil": "0,1"})):
        out("model", name, opts + header(sd, meta))
    # a size byte (after the options; its low 4 bits add to the height, its high 4 to the width, from the least
    # input - 2): the pass at that size checked against vggcl_model_map_size, here where the second pool rounds up
    # (least 4, multiple 4): 6x8 gives it a 3x4 map (refused), 9x12 a 4x6 one (taken though no multiple of 4)
    for name, size in (("size-ceil-odd", b"\x64"), ("size-ceil-even", b"\xa7"), ("size-below-least", b"\x10")):
        out("model", name, b"\x03" + size + header(plain, {"vggcl.pool_ceil": "0,1", "vggcl.pool5": "keep"}))
    # the metadata vggcl_save_with_head checks (vggcl__meta_check): the file's, and with options bit 5 the same
    # pairs as the caller's; a preset the loader takes but the preset's reader refuses
    for name, opts, meta in (
            ("save-meta-ours", b"\x26", {"vggcl.classes": '["cat","dog"]', "vggcl.resize": "40", "vggcl.crop": "32",
                                         "vggcl.mean": "0.5,0.5,0.5", "vggcl.std": "0.2,0.2,0.2",
                                         "vggcl.pool5": "keep", "vggcl.pool_ceil": "0", "vggcl.draft": "0"}),
            ("save-meta-bad-resize", b"\x06", {"vggcl.resize": "-1", "vggcl.trained": "x"}),
            ("save-meta-bad-std-ours", b"\x26", {"vggcl.std": "0,1,1"})):
        out("model", name, opts + header(head1, meta))
    # what no seed (named or found/) held: the head option "fc" (bits 2-3 = 3) with an fc.* head, a network
    # under nn.DataParallel's "module." prefix, "vggcl.input_size", a two-size resize, and (bit 6,
    # features_only; bit 7, the pass with class activation maps) the options the harness added
    out("model", "head-fc", b"\x0c" + header(make_state_dict(parse_cfg("3,M,4"), False, 2, 7, head="fc")))
    out("model", "module-prefix", b"\x00" + header({"module." + k: v for k, v in plain.items()}))
    out("model", "meta-input-size", b"\x06" + header(head1, {"vggcl.input_size": "8,12", "vggcl.pool_ceil": "1"}))
    out("model", "meta-resize-hw", b"\x06" + header(head1, {"vggcl.resize": "40,52", "vggcl.crop": "32"}))
    out("model", "features-only", b"\x40" + header(make_state_dict(parse_cfg("4,M,6,M"), True, 3, 8)))
    out("model", "cam", b"\x90" + header(plain))


def png(img, **kw):
    f = io.BytesIO()
    img.save(f, "PNG", **kw)
    return f.getvalue()


def jpeg(img, **kw):
    f = io.BytesIO()
    img.save(f, "JPEG", **kw)
    return f.getvalue()


def webp(img, **kw):
    f = io.BytesIO()
    img.save(f, "WEBP", **kw)
    return f.getvalue()


def webp_seeds(rgb):
    out("image", "rgb.webp", webp(rgb, quality=80))
    out("image", "rgba-lossless.webp", webp(rgb.convert("RGBA"), lossless=True))
    out("image", "anim.webp", webp(rgb, save_all=True, append_images=[rgb.transpose(Image.Transpose.FLIP_LEFT_RIGHT)],
                                   duration=50))


def bmp(img, **kw):
    f = io.BytesIO()
    img.save(f, "BMP", **kw)
    return f.getvalue()


def bmp_seeds(rgb):
    out("image", "rgb.bmp", bmp(rgb))
    out("image", "palette.bmp", bmp(rgb.convert("P")))
    out("image", "bilevel.bmp", bmp(rgb.convert("1")))
    out("image", "rgba.bmp", bmp(rgb.convert("RGBA")))
    out("image", "rle8.bmp", rle_bmp(5, 3, [9, 4, 0, 0, 0, 7, *range(10, 17), 0, 0, 0, 0, 2, 0, 0, 1, 0, 2, 6, 0, 1],
                                     False))
    out("image", "rle4.bmp", rle_bmp(7, 3, [7, 0x1F, 0, 0, 0, 5, 0x23, 0x45, 3, 0x67, 0, 0, 0, 4, 0x89, 0xAB, 3, 0xCD,
                                            0, 1], True))


def rle_bmp(w, h, data, rle4):
    """A w x h BMP of RLE8 (RLE4: rle4) data, with a palette of 256 (16) colours."""
    colors = 16 if rle4 else 256
    pal = b"".join(bytes([i, 255 - i, (7 * i) % 256, 0]) for i in range(colors))
    at = 14 + 40 + len(pal)
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 4 if rle4 else 8, 2 if rle4 else 1, len(data), 2835, 2835,
                       colors, 0)
    return b"BM" + struct.pack("<IHHI", at + len(data), 0, 0, at) + info + pal + bytes(data)


def tiff(img, **kw):
    f = io.BytesIO()
    img.save(f, "TIFF", **kw)
    return f.getvalue()


def tiled_gray(w, h, tw, th, bits):
    """An uncompressed tiled gray TIFF of 1, 2 or 4 bits, by hand (PIL writes no tiles)."""
    across, down, row = -(-w // tw), -(-h // th), -(-tw * bits // 8)
    n, size = across * down, row * th
    data = np.random.default_rng(w * h + tw).integers(0, 256, n * size, dtype=np.uint8).tobytes()
    at = 8 + len(data)
    tags = [(256, 4, 1, w), (257, 4, 1, h), (258, 3, 1, bits), (259, 3, 1, 1), (262, 3, 1, 1), (277, 3, 1, 1),
            (284, 3, 1, 1), (322, 4, 1, tw), (323, 4, 1, th), (324, 4, n, at), (325, 4, n, at + 4 * n)]
    arrays = struct.pack(f"<{n}I", *range(8, 8 + n * size, size)) + struct.pack(f"<{n}I", *[size] * n)
    ifd = struct.pack("<H", len(tags)) + b"".join(struct.pack("<HHII", *t) for t in tags) + bytes(4)
    return b"II*\0" + struct.pack("<I", at + len(arrays)) + data + arrays + ifd


def tiff_seeds(rgb):
    out("image", "rgb-lzw.tif", tiff(rgb, compression="tiff_lzw"))
    out("image", "palette.tif", tiff(rgb.convert("P")))
    out("image", "bilevel-g4.tif", tiff(rgb.convert("1"), compression="group4"))
    out("image", "rgba-orient6.tif", tiff(rgb.convert("RGBA"), compression="tiff_adobe_deflate", tiffinfo={274: 6}))
    out("image", "tiled-1bit-8wide.tif", tiled_gray(29, 7, 8, 4, 1))  # (cut by the right edge)
    out("image", "crash-tiled-1bit-1wide.tif", tiled_gray(13, 5, 1, 2, 1))  # (rows not whole bytes: overran)


def pnm_seeds(rgb):
    f = io.BytesIO()
    rgb.save(f, "PPM")
    out("image", "rgb.ppm", f.getvalue())
    f = io.BytesIO()
    rgb.convert("1").save(f, "PPM")
    out("image", "bilevel.pbm", f.getvalue())
    out("image", "gray16.pgm", b"P5 3 2 1000\n" + np.arange(0, 1200, 200, dtype=">u2").tobytes())
    out("image", "plain.ppm", b"P3\n# plain\n2 2 300\n0 150 300 1 2 3\n4 5 6 299 298 297\n")
    out("image", "plain.pbm", b"P1 3 2\n0 1 0#c\n110\n")


def image_seeds():
    rng = np.random.default_rng(7)
    rgb = Image.fromarray(rng.integers(0, 256, (9, 13, 3), dtype=np.uint8), "RGB")
    out("image", "rgb.png", png(rgb))
    out("image", "rgba.png", png(rgb.convert("RGBA")))
    out("image", "gray.png", png(rgb.convert("L")))
    out("image", "gray-alpha.png", png(rgb.convert("LA")))
    out("image", "palette.png", png(rgb.convert("P")))
    out("image", "bilevel.png", png(rgb.convert("1")))
    out("image", "gray16.png", png(Image.fromarray(rng.integers(0, 65536, (5, 6), dtype=np.uint16))))
    out("image", "rgb.jpg", jpeg(rgb, quality=90))
    out("image", "progressive.jpg", jpeg(rgb, progressive=True))
    out("image", "gray.jpg", jpeg(rgb.convert("L")))
    out("image", "cmyk.jpg", jpeg(rgb.convert("CMYK")))
    out("image", "subsampled.jpg", jpeg(Image.fromarray(rng.integers(0, 256, (17, 31, 3), dtype=np.uint8)),
                                        subsampling=2))
    good = jpeg(rgb)
    out("image", "truncated.jpg", good[: len(good) // 2])
    bad = bytearray(png(rgb))
    bad[40] ^= 0xFF
    out("image", "bad-crc.png", bytes(bad))
    out("image", "tall.png", png(Image.new("RGB", (1, 300))))
    webp_seeds(rgb)
    bmp_seeds(rgb)
    tiff_seeds(rgb)
    pnm_seeds(rgb)
    # photo-like (smooth colour with noise) and large enough for the harness's presets to decode
    # only part of them: each chroma subsampling, progressive, gray, landscape and portrait, odd sizes
    yy, xx = np.mgrid[0:67, 0:93]
    smooth = np.stack([128 + 100 * np.sin(xx / 9.0), 128 + 100 * np.cos(yy / 7.0), (xx * 2 + yy) % 256], -1)
    photo = Image.fromarray(np.clip(smooth + rng.normal(0, 12, smooth.shape), 0, 255).astype(np.uint8), "RGB")
    out("image", "part-444.jpg", jpeg(photo, quality=85, subsampling=0))
    out("image", "part-422.jpg", jpeg(photo.transpose(Image.Transpose.ROTATE_90), quality=85, subsampling=1))
    out("image", "part-420.jpg", jpeg(photo, quality=85, subsampling=2))
    out("image", "part-420-portrait.jpg", jpeg(photo.transpose(Image.Transpose.ROTATE_90), quality=85, subsampling=2))
    out("image", "part-progressive.jpg", jpeg(photo, quality=85, subsampling=2, progressive=True))
    out("image", "part-gray.jpg", jpeg(photo.convert("L").crop((0, 0, 91, 61)), quality=85))
    whole = jpeg(photo, quality=85, subsampling=2)
    out("image", "part-truncated.jpg", whole[: len(whole) * 9 // 10])  # cut in rows the crop skips
    cjpeg_seeds(photo)


def cjpeg_seeds(photo):
    """Layouts PIL does not write, made with libjpeg-turbo's cjpeg (Debian: libjpeg-turbo-progs; left as
    they are without it): 4:4:0 and 4:1:1 sampling, restart markers, arithmetic coding, gray with 2x2
    sampling, and a tall 4:2:0 image (many iMCU rows to skip), whole and cut near its end."""
    import shutil
    import subprocess
    if not shutil.which("cjpeg"):
        print("make_corpus: no cjpeg (apt-get install libjpeg-turbo-progs); its seeds are left as they are")
        return
    tall = Image.fromarray(np.concatenate([np.asarray(photo)] * 6)[:, :41])  # 402 x 41

    def cjpeg(img, *args):
        return subprocess.run(["cjpeg", "-quality", "85", *args], input=ppm(img), capture_output=True,
                              check=True).stdout
    out("image", "part-440.jpg", cjpeg(photo, "-sample", "1x2"))
    out("image", "part-411.jpg", cjpeg(photo, "-sample", "4x1"))
    out("image", "part-restart.jpg", cjpeg(photo, "-restart", "1"))
    out("image", "part-arithmetic.jpg", cjpeg(photo, "-arithmetic"))
    out("image", "part-gray-2x2.jpg", cjpeg(photo.convert("L"), "-grayscale", "-sample", "2x2"))
    out("image", "part-410.jpg", cjpeg(photo, "-sample", "4x2"))
    out("image", "part-22-22-11.jpg", cjpeg(photo, "-sample", "2x2,2x2,1x1"))
    data = cjpeg(tall)
    out("image", "part-tall.jpg", data)
    out("image", "part-tall-truncated.jpg", data[: len(data) * 97 // 100])


def ppm(img):
    f = io.BytesIO()
    img.save(f, "PPM")
    return f.getvalue()


def preprocess_seeds():
    """Sizes (h-1, w-1, resized h-1, w-1, window y0, x0 as 16-bit LE), a window byte, pixels."""
    rng = np.random.default_rng(3)

    def seed(name, h, w, oh, ow, y0, x0, b12, npx):
        hdr = b"".join(v.to_bytes(2, "little") for v in (h - 1, w - 1, oh - 1, ow - 1, y0, x0)) + bytes([b12])
        out("preprocess", name, hdr + rng.integers(0, 256, npx, dtype=np.uint8).tobytes())
    seed("down", 90, 60, 40, 27, 5, 3, 77, 300)
    seed("up", 5, 7, 150, 120, 20, 10, 200, 105)
    seed("strip", 1, 95, 30, 159, 0, 0, 9, 50)
    seed("same", 16, 16, 16, 16, 0, 0, 0, 768)


if __name__ == "__main__":
    preprocess_seeds()
    safetensors_seeds()
    npy_seeds()
    model_seeds()
    image_seeds()
