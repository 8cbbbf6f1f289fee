"""Minimal safetensors writer and reader on numpy (Debian has no python3-safetensors).

The format: 8-byte little-endian header length, a JSON header (padded with
spaces to a multiple of 8), then each tensor's bytes in C order, contiguous.
"""
import json
import math
import os
import re
import signal
import struct
import sys
import tempfile
import threading
from pathlib import Path

import numpy as np

_DTYPES = {np.dtype("float32"): "F32", np.dtype("float16"): "F16", np.dtype("float64"): "F64",
           np.dtype("int64"): "I64", np.dtype("int32"): "I32", np.dtype("uint8"): "U8"}


def _to_bytes(arr, dtype):
    if dtype == "BF16":  # round-to-nearest-even from float32; NaN stays a NaN (rounding carried it to 0)
        f = np.ascontiguousarray(arr, dtype=np.float32).reshape(-1)
        out = np.empty(f.size, "<u2")
        # a million values at a time, in place, in 32 bits (only a NaN's sum wraps, and NaNs are set apart below):
        # in 64-bit temporaries of the whole tensor, VGG16's 4096x25088 layer took 7 GB of fresh memory and 13 of
        # the export's 20 seconds
        step = 1 << 20
        for i in range(0, f.size, step):
            u = f[i:i + step].view(np.uint32)
            r = (u >> 16) & 1
            r += u
            r += 0x7FFF
            r >>= 16
            out[i:i + step] = r
        out[np.isnan(f)] = 0x7FC0
        return out.tobytes()
    return np.ascontiguousarray(arr).astype(np.dtype(arr.dtype).newbyteorder("<"), copy=False).tobytes()


def _from_bytes(buf, dtype):
    """The values of buf, a tensor's bytes in dtype (BF16 widened to float32)."""
    if dtype == "BF16":
        return (np.frombuffer(buf, "<u2").astype(np.uint32) << 16).view(np.float32)
    return np.frombuffer(buf, _READ[dtype].newbyteorder("<"))


def save_file(tensors, path, metadata=None, dtype=None):
    """tensors: dict name -> numpy array (or torch tensor). dtype: None keeps
    each array's type; "F32", "F16" or "BF16" converts floating tensors."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    for name, t in tensors.items():
        a = t.detach().cpu().numpy() if hasattr(t, "detach") else np.asarray(t)
        code, finite = _DTYPES[a.dtype], None
        with np.errstate(over="ignore"):
            if dtype and a.dtype.kind == "f":
                code, finite, given = dtype, np.isfinite(a).ravel(), a.ravel()
                if dtype == "F16":
                    a = a.astype(np.float16)
                elif dtype == "F32":
                    a = a.astype(np.float32)
            data = _to_bytes(a, code)
        lost = finite & ~np.isfinite(_from_bytes(data, code)) if finite is not None else None
        if lost is not None and lost.any():  # (a finite value written as inf: vggcl refused the file)
            raise Refused(f"tensor {name}: its value {float(given[lost][0]):g} is past {code}'s range" +
                          ("; give --dtype BF16 or F32" if code == "F16" else "; give --dtype F32" if code == "BF16"
                           else " (vggcl computes in float32)"))
        header[name] = {"dtype": code, "shape": list(a.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


# every dtype the format has, and the numpy type its values are read as (F8's as their bytes); _DTYPES' are written
_READ = {**{code: dt for dt, code in _DTYPES.items()}, "BOOL": np.dtype("bool"), "I8": np.dtype("int8"),
         "I16": np.dtype("int16"), "U16": np.dtype("uint16"), "U32": np.dtype("uint32"), "U64": np.dtype("uint64"),
         "F8_E4M3": np.dtype("uint8"), "F8_E5M2": np.dtype("uint8")}
_SIZES = {**{code: dt.itemsize for code, dt in _READ.items()}, "BF16": 2}


def load_file(path):
    """Returns (dict name -> float32/int numpy array, metadata dict). A file the format does not allow (its
    header not JSON, a dtype not among _SIZES', a tensor's bytes other than its shape's, tensors that
    overlap or leave bytes between or after them, metadata that is not strings) is a ValueError saying
    what, as vggcl refuses it (the tensors were read from wherever their offsets pointed)."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8]) if len(raw) >= 8 else (None,)
    if n is None or n > len(raw) - 8:
        raise ValueError(f"a file of {len(raw)} bytes is too short for its header length ({n})")
    try:
        header = json.loads(raw[8:8 + n])
    except (ValueError, UnicodeDecodeError) as e:
        raise ValueError(f"the header is not JSON ({e})") from None
    meta = header.pop("__metadata__", {}) if isinstance(header, dict) else None
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise ValueError("the header is not a JSON object, or its __metadata__ not one of strings")
    base, spans, out = 8 + n, [], {}
    for name, given in header.items():
        info = given if isinstance(given, dict) else {}
        offsets, shape = info.get("data_offsets"), info.get("shape")
        if not (info.get("dtype") in _SIZES and isinstance(shape, list) and isinstance(offsets, list)
                and len(offsets) == 2 and all(type(v) is int and v >= 0 for v in shape + offsets)):
            raise ValueError(f"tensor {name}: expected a dtype among {', '.join(_SIZES)}, a shape of sizes and two "
                             f"data offsets, not {json.dumps(given)[:200]}")
        size = math.prod(shape) * _SIZES[info["dtype"]]  # (exact: no int64 to wrap)
        if offsets[1] - offsets[0] != size or offsets[1] > len(raw) - base:
            raise ValueError(f"tensor {name}: data_offsets {offsets}; expected {size} bytes ({info['dtype']} "
                             f"{shape}) within the {len(raw) - base} bytes of data")
        spans.append((offsets[0], offsets[1], name))
        out[name] = _from_bytes(raw[base + offsets[0]:base + offsets[1]], info["dtype"]).reshape(shape)
    end = 0
    for b, e, name in sorted(spans):
        if b != end:
            raise ValueError(f"tensor {name} starts at byte {b} of the data: expected {end} (tensors overlap, or "
                             "leave bytes between them)")
        end = e
    if end != len(raw) - base:
        raise ValueError(f"{len(raw) - base - end} bytes after the last tensor's")
    return out, meta


def write_atomic(tensors, meta, out, dtype=None):
    """save_file to a temporary name beside out, then renamed over it: a failed write (a full disk, a
    file size limit) leaves neither a partial file nor the previous file replaced. As vggcl's outputs: a
    symbolic link is followed to its target (which is replaced, not the link), and anything but a regular
    file (a device, a pipe) is written directly."""
    out = Path(os.path.realpath(out))
    if out.exists() and not out.is_file():
        save_file(tensors, out, metadata=meta, dtype=dtype)
        return
    # SIGTERM and SIGHUP (a job's end, a closed terminal) end the write through _write_via_temporary's cleanup, as an
    # exception; by default they killed the process with the temporary file left (where no one else set them)
    ended = {}
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(sig) == signal.SIG_DFL:
                ended[sig] = signal.signal(sig, _end_by_signal)
    try:
        _write_via_temporary(tensors, meta, out, dtype)
    finally:
        for sig, handler in ended.items():
            signal.signal(sig, handler)


def _end_by_signal(signum, frame):
    raise SystemExit(128 + signum)


def _write_via_temporary(tensors, meta, out, dtype):
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    try:
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        save_file(tensors, tmp, metadata=meta, dtype=dtype)
        with open(tmp, "rb") as f:  # durable before it is named, as vggcl's own outputs
            os.fsync(f.fileno())
        os.replace(tmp, out)
        try:  # (the rename durable too; best effort: some file systems refuse a folder's fsync)
            folder = os.open(out.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(folder)
            finally:
                os.close(folder)
        except OSError:
            pass
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def index_to_name(obj):
    """The names of a JSON {"index": name} object, in index order ({"0": "cat", ...}; a name may be a list whose
    last item is it, as Keras's imagenet_class_index.json gives {"0": ["n01440764", "tench"], ...}); None where obj
    is not of that form (its keys not the indices 0..n-1 written in decimal, once each, or a value not a name)."""
    names = {}
    for k, v in obj.items():
        if isinstance(v, list) and v and all(isinstance(x, str) for x in v):
            v = v[-1]
        if not (isinstance(v, str) and k.isascii() and k.isdigit() and len(k) <= 9 and str(int(k)) == k):
            return None  # (a key of 4301 digits: int() refused it past Python's limit, a traceback)
        names[int(k)] = v
    return [names[i] for i in range(len(names))] if sorted(names) == list(range(len(names))) else None


def read_class_names(text, json_path, flags=("--classes", "--classes-json")):
    """Class names from comma-separated text or a JSON file ({"name": index}, {"index": name} or a list of names):
    (names, where they came from); ValueError naming the option or file for anything else."""
    if text is not None:
        names = [s.strip() for s in text.split(",")]
        src = flags[0]
    else:
        src = json_path
        try:
            with open(json_path, encoding="utf-8") as f:
                obj = json.load(f)
        except (OSError, ValueError) as e:
            raise ValueError(f"{json_path}: {e}")
        if isinstance(obj, dict) and obj and all(isinstance(v, (str, list)) for v in obj.values()):
            names = index_to_name(obj)
            if names is None:
                raise ValueError(f"{src}: expected an {{\"index\": name}} object, the indices 0..{len(obj) - 1} once "
                                 "each written in decimal, each with a name (or a list ending with one); or a "
                                 "{\"name\": index} object, or a list of names")
        elif isinstance(obj, dict):
            idx = {k: v for k, v in obj.items() if isinstance(v, int) and not isinstance(v, bool)}
            if len(idx) != len(obj):
                raise ValueError(f"{src}: expected a {{\"name\": index}} object (integer indices), an "
                                 "{\"index\": name} one, or a list of names")
            if sorted(idx.values()) != list(range(len(idx))):
                raise ValueError(f"{src}: the indices are {sorted(idx.values())}; expected 0..{len(idx) - 1} once each")
            names = [k for k, _ in sorted(idx.items(), key=lambda kv: kv[1])]
        elif isinstance(obj, list) and all(isinstance(x, str) for x in obj):
            names = obj
        else:
            raise ValueError(f"{src}: expected a {{\"name\": index}} object, an {{\"index\": name}} one, or a list "
                             "of names")
    if not names or any(not n for n in names):
        raise ValueError(f"{src}: empty class name")
    if any("\0" in n for n in names):  # (vggcl's loader refuses a model whose vggcl.classes holds one)
        raise ValueError(f"{src}: a class name holds a NUL character")
    return names, src


MAX_SIZE = 16384  # the largest resize and crop vggcl's preprocessing takes (VGGCL_MAX_PRESET_SIDE, include/vggcl.h)
MAX_DENSE = 16  # the engine's limit on a head's dense layers (VGGCL_MAX_HIDDEN + 1, host/model.h)
MAX_CHANNELS = 65536  # a conv's input and output channels the loader takes (MAX_CHANNELS, host/model/model.c)
MAX_OUTPUTS = 1000000  # a dense layer's outputs the loader takes (VGGCL_MAX_OUTPUTS, host/model.h)


def add_preprocess_args(ap):
    """A converter's --resize, --crop (or --no-crop) and --draft: the preprocessing the model was trained with,
    which vggcl then uses (check_preprocess_args, preprocess_meta)."""
    ap.add_argument("--resize", metavar="N|HxW", help="the preprocessing the model was trained with: short side to N "
                    "(Resize(N)), or both sides to H x W (Resize((H, W)))")
    ap.add_argument("--crop", type=int, help="... then the center crop")
    ap.add_argument("--no-crop", action="store_true", help="... and no crop (as a Resize((H, W)) alone trains)")
    ap.add_argument("--draft", action="store_true",
                    help="... from JPEGs decoded with PIL's Image.draft to the resize (vggcl.draft 1: vggcl then "
                         "decodes them so too)")


def resize_sides(text):
    """--resize's N (the short side's; 0: none) as [N], or HxW (both sides) as [H, W]; None where malformed or
    out of what vggcl's preprocessing takes."""
    parts = text.split("x")
    if len(parts) > 2 or not all(p.isascii() and p.isdigit() for p in parts):
        return None
    sides = [int(p) for p in parts]
    return sides if all((len(sides) == 1 and s == 0) or 1 <= s <= MAX_SIZE for s in sides) else None


def resize_meta(text):
    """--resize's value (checked: check_preprocess_args) as the metadata's "vggcl.resize" writes it: "N" or "H,W"."""
    return ",".join(map(str, resize_sides(text)))


def check_preprocess_args(ap, a):
    """--resize and --crop within what vggcl's preprocessing takes (a usage error otherwise)."""
    if a.resize is not None and resize_sides(a.resize) is None:
        ap.error(f"--resize {a.resize}: expected N, the short side (0: none, or 1 to {MAX_SIZE}), or HxW, both sides "
                 f"(1 to {MAX_SIZE} each)")
    if a.crop is not None and not 1 <= a.crop <= MAX_SIZE:
        ap.error(f"--crop {a.crop}: expected 1 to {MAX_SIZE} (none: --no-crop)")
    if a.crop is not None and a.no_crop:
        ap.error("give --crop N or --no-crop, not both")
    for opt, top, said in (("mean", 1, "above 1"), ("std", 10, "10 or above")):  # (vggcl_model_preprocess's rule)
        try:
            v = [float(x) for x in getattr(a, opt, None).split(",")]
        except (AttributeError, ValueError):
            continue  # (none given, or not numbers: said where they are read)
        if any(x > top or (opt == "std" and x == top) for x in v):
            ap.error(f"--{opt} {getattr(a, opt)}: {said}, as on the scale of 0..255: vggcl takes the pixels as "
                     f"x/255, from 0 to 1, before (x - mean)/std; give it divided by 255 "
                     f"({','.join(f'{x / 255:.4g}' for x in v)})")


# vggcl's own preprocessing where a model's metadata gives none (host/io/preprocess.c's vggcl_preprocess_defaults)
PRESET_DEFAULTS = {"vggcl.resize": "256", "vggcl.crop": "224", "vggcl.mean": "0.485,0.456,0.406",
                   "vggcl.std": "0.229,0.224,0.225"}


def written(out, what, classes, named):
    """A converter's last line: the file, what it holds, its classes (named: given their names)."""
    return f"wrote {out}: {what}, {classes} class{'es' if classes != 1 else ''}" + (" (named)" if named else "")


def metadata_notes(meta):
    """Notes on a model's metadata: what it leaves to vggcl's defaults (PRESET_DEFAULTS) where it gives the other
    half of a pair (a crop without a resize: a --crop 64 alone made vggcl resize to 256, then crop 64; a resize
    without a crop, a mean without a std, or the other way round), and a class name given to two classes (eval
    cannot match a folder of that name, cam --class takes the first; ImageNet's own list names two "crane")."""
    notes = []
    try:
        names = json.loads(meta.get("vggcl.classes", "[]"))
    except ValueError:
        names = []  # (the loader says what it takes)
    at = {}
    for i, name in enumerate(names if isinstance(names, list) else []):
        at.setdefault(name if isinstance(name, str) else "", []).append(i)
    twins = [f"'{shown(name)}' ({' and '.join(map(str, k))})" for name, k in at.items() if len(k) > 1 and name]
    if twins:
        notes.append(f"classes of one name: {', '.join(twins)}: `vggcl eval` cannot match a class folder of such a "
                     "name, and `vggcl cam --class` takes the first by it")
    for given, left, opt in (("vggcl.crop", "vggcl.resize", "--resize (0: none)"),
                             ("vggcl.resize", "vggcl.crop", "--crop (or --no-crop)"),
                             ("vggcl.mean", "vggcl.std", "--std"),
                             ("vggcl.std", "vggcl.mean", "--mean")):
        if given in meta and left not in meta:
            notes.append(f"{given} {meta[given]} recorded without {left}: vggcl takes its default for it, "
                         f"{PRESET_DEFAULTS[left]}; give {opt} as the training did")
    return notes


def preprocess_meta(a, meta):
    """Records the --resize, --crop (--no-crop: 0) and --draft given in meta (over what was there)."""
    if a.resize is not None:
        meta["vggcl.resize"] = resize_meta(a.resize)
    if a.crop is not None or a.no_crop:
        meta["vggcl.crop"] = str(a.crop or 0)
    if a.draft:
        meta["vggcl.draft"] = "1"


class Refused(Exception):
    """A converter's input cannot be converted (said after the input's name)."""


class BadArgument(Exception):
    """A problem with a converter's option or its file (said as is)."""


def write_model(tensors, meta, out, names, n_out, dtype=None):
    """The class names (read_class_names's (names, source), or None) checked against the model's n_out
    outputs and recorded in meta, then the file written whole (write_atomic)."""
    if names is not None:
        if len(names[0]) != n_out:
            raise BadArgument(f"{names[1]}: {len(names[0])} class names, but the model has {n_out} outputs")
        meta["vggcl.classes"] = json.dumps(names[0])
    write_atomic(tensors, meta, out, dtype=dtype)


def _same_file(a, b):
    try:
        return os.path.samefile(a, b)
    except OSError:  # (out not there yet)
        return False


# The characters a message shows escaped, as the vggcl command's (host/cli/main.c: escape_controls and
# hidden_control): C0 and C1 controls, DEL, the line and paragraph separators, the bidirectional overrides,
# isolates and marks, and (os.fsdecode's surrogates) bytes that are not UTF-8.
_HIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\udc80-\udcff]")


def _escaped(m):
    c = ord(m.group())
    named = {0x0A: "\\n", 0x0D: "\\r", 0x09: "\\t"}
    return named.get(c) or (f"\\x{c - 0xDC00:02x}" if c >= 0xDC80 else f"\\x{c:02x}" if c < 0x100 else f"\\u{c:04x}")


def shown(text, message=False):
    """A file name, or with message a message on one line (its blanks as one space), as a message shows it: the
    control and direction characters a node, tensor or file name may hold escaped (ESC and U+202E reached the
    terminal)."""
    text = " ".join(str(text).split()) if message else str(text)
    return _HIDDEN.sub(_escaped, text)


def run_converter(prog, source, out, work, source_said):
    """A converter's command: work() converts and writes out, and returns the line to print. Refused,
    BadArgument and OSError are said in one line (naming source, nothing, or out): the exit status. An out
    that is the source, or "-", is a usage error (2) before any work, as an empty name is (the source's said as
    source_said: its option, or the argument's name); a source that is not a regular file (a FIFO without a
    writer hung the reader) is refused (1)."""
    if out == "-":
        print(f"{prog}: --out -: the converters write a file, not standard output; name one", file=sys.stderr)
        return 2
    if out == "" or source == "":  # (said as the OS's ": Is a directory" or ": No such file or directory")
        print(f"{prog}: {'--out' if out == '' else source_said} is empty: name a file", file=sys.stderr)
        return 2
    if source is not None and _same_file(source, out):  # (None: made, as --random's weights)
        print(f"{prog}: --out {shown(out)} is the file read, {shown(source)}: it would be replaced; name another",
              file=sys.stderr)
        return 2
    try:
        if source is not None and os.path.exists(source) and not Path(source).is_file():
            raise Refused("not a regular file (a folder, a FIFO or a device); expected the model's file")
        line = work()
    except Refused as e:
        print(f"{prog}: {shown(source)}: {shown(e, message=True)}", file=sys.stderr)
        return 1
    except BadArgument as e:
        print(f"{prog}: {shown(e, message=True)}", file=sys.stderr)
        return 1
    except OSError as e:
        print(f"{prog}: {shown(out)}: {shown(e.strerror or e, message=True)}", file=sys.stderr)
        return 1
    try:
        print(line, flush=True)
    except BrokenPipeError:  # (a reader gone away, as `| head -c8`: said, not a traceback; the file is written)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # (the interpreter's exit flushes again)
        print(f"{prog}: cannot write standard output: Broken pipe (wrote {out})", file=sys.stderr)
        return 1
    return 0
