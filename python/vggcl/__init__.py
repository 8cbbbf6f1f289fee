"""vggcl: VGG-family image classifiers with a global-average-pooling head on OpenCL devices.

Python bindings over libvggcl.so (ctypes), numpy arrays in and out:

    model = vggcl.Model("model.safetensors", device=None)
    logits, features = model.forward(x)          # x: (N, 3, H, W) float32, already normalized
    model.classify(["a.jpg", "b.png"], top=5)    # [[(class, name, prob), ...], ...]
    cams, chosen, logits = model.cam(x)          # class activation maps (N, mh, mw)

The library is found through $VGGCL_LIBRARY (a path), else the system's libvggcl.so.0.3, the
soname of this module's version (ldconfig, LD_LIBRARY_PATH), else any libvggcl.so ldconfig knows; the
one found must be of this module's MAJOR.MINOR version (while it is 0.x each minor version may change
the ABI), else ImportError. Every failure of a call into vggcl, and every argument it refuses, raises
vggcl.Error with vggcl's message (a keyword argument that does not exist raises Python's TypeError).
The library's notes go to the "vggcl" logger (logging): at INFO what people would otherwise wait on
in silence (the first compile of the kernels for a device) or a cache or tuning table not used; at
WARNING an OpenCL call that failed without stopping the work (giving a device object back), a failed
kernel build's whole log (the error's message holds its start) and a device name that several devices
match (the first is taken).
"""

import collections
import concurrent.futures
import ctypes
import ctypes.util
import functools
import itertools
import logging
import math
import operator
import os
import re
import sys
import threading
import weakref
from typing import Any, Iterable, Optional, Sequence, Union

import numpy as np

# The arguments' types, for the annotations: a file (str, bytes, os.PathLike); an image, a file or decoded (an
# (H, W, 3) or (H, W) uint8 array, a PIL image); a resize (the short side's, (h, w), or "h,w")
_PathLike = Union[str, bytes, os.PathLike]
_Image = Union[_PathLike, np.ndarray, Any]
_Resize = Union[int, np.integer, Sequence[int], np.ndarray, str]
_Size = Union[int, np.integer, str]  # (a crop: a whole size, or its digits)
_Floats = Union[Sequence[float], np.ndarray, str]  # (a mean or std: three numbers, or "R,G,B")

__all__ = ["DeviceError", "Error", "FileError", "Head", "InvalidInput", "Model", "OutOfMemory", "devices",
           "load_image", "preprocess", "train_head", "version"]


class Error(Exception):
    """A vggcl call failed; the message names the file, tensor, layer or device. status is the library's
    kind of failure ("arg", "io", "format", "shape", "no_device", "device", "device_memory" or "nomem", as
    vggcl_status), for a caller that acts on it (a smaller batch after "device_memory"); an argument this
    module refuses before calling the library is "arg" (or "shape", an input's), as the library's own; None
    for a misuse of a model (closed, copied, pickled, called from a log handler of its own call) and for
    logits that are not finite. Each kind raises a subclass that is also Python's own exception of the kind,
    so `except OSError` or `except ValueError` catches them too: "io" FileError (OSError); "arg", "format" and
    "shape" InvalidInput (ValueError); "nomem" and "device_memory" OutOfMemory (MemoryError); "no_device" and
    "device" DeviceError (RuntimeError); a FileError of a file the system refused is also the OSError subclass
    Python raises for its errno (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError), with
    errno, strerror and filename set as an OSError's (filename: the call's path, where the failure was that file's;
    None where it was another file's)."""

    def __new__(cls, message="", status=None, errno=None, filename=None):
        if cls is Error:  # (a subclass by the library's kind; the message alone as its args, as OSError takes it)
            cls = _KINDS.get(status, Error)
        if cls is FileError and errno:  # (as OSError(errno, ...) makes a FileNotFoundError of ENOENT)
            cls = _FILE_KINDS.get(type(OSError(errno, "")), FileError)
        if issubclass(cls, MemoryError):  # (MemoryError's own refuses a subclass of two bases: "not safe")
            return Exception.__new__(cls, message)
        return super().__new__(cls, message)

    def __init__(self, message="", status=None, errno=None, filename=None):
        text = _escape(str(message))  # (any message, as Exception takes: Error(404) failed in re.sub)
        super().__init__(text)
        self.args = (text,)  # (OSError's __init__ does nothing where another __new__ made it: its raw message kept)
        self.status = status
        if isinstance(self, OSError):
            self.errno, self.strerror, self.filename = errno, os.strerror(errno) if errno else None, filename


class FileError(Error, OSError):
    """A file could not be opened, read or written (status "io"); errno, strerror and filename as an OSError's
    where the system refused it."""

    def __str__(self):  # (the message alone: OSError's shows "[Errno 2] No such file or directory: 'path'" instead)
        return Exception.__str__(self)

    def __reduce__(self):  # (OSError's gives (errno, strerror, filename) as the arguments, which Error takes otherwise)
        # (the errno's kinds, named FileError as tracebacks show them, as FileError, whose __new__ makes them again)
        kind = FileError if type(self) in _FILE_KINDS.values() else type(self)
        return kind, (self.args[0] if self.args else "", self.status, self.errno, self.filename), self.__dict__


class _FileNotFound(FileError, FileNotFoundError):
    """A FileError of a file not there (ENOENT)."""


class _PermissionDenied(FileError, PermissionError):
    """A FileError of a file not allowed (EACCES, EPERM)."""


class _IsAFolder(FileError, IsADirectoryError):
    """A FileError of a folder given for a file (EISDIR)."""


class _NotAFolder(FileError, NotADirectoryError):
    """A FileError of a path through a file that is not a folder (ENOTDIR)."""


_FILE_KINDS = {FileNotFoundError: _FileNotFound, PermissionError: _PermissionDenied, IsADirectoryError: _IsAFolder,
               NotADirectoryError: _NotAFolder}
for _kind in _FILE_KINDS.values():  # (a traceback read "vggcl._FileNotFound: ...", a name nowhere documented)
    _kind.__name__ = _kind.__qualname__ = "FileError"


class InvalidInput(Error, ValueError):
    """An argument, a file's contents or a tensor's shape that vggcl does not take (status "arg", "format",
    "shape")."""


class OutOfMemory(Error, MemoryError):
    """The host's or the device's memory does not hold what the call needs (status "nomem", "device_memory")."""


class DeviceError(Error, RuntimeError):
    """No OpenCL device, none that matches, or an OpenCL call or kernel build that failed (status "no_device",
    "device")."""


_KINDS = {"io": FileError, "arg": InvalidInput, "format": InvalidInput, "shape": InvalidInput,
          "nomem": OutOfMemory, "device_memory": OutOfMemory, "no_device": DeviceError, "device": DeviceError}


_STATUS = (None, "arg", "io", "format", "shape", "no_device", "device", "device_memory", "nomem")
_INT_MAX = 2**31 - 1  # a C int's: ctypes cuts a larger Python int to 32 bits, unsaid
_FLOAT_MAX = float(np.finfo(np.float32).max)


def _kind(status):
    """A vggcl_status as Error.status names it."""
    return _STATUS[status] if 0 < status < len(_STATUS) else None


# The library of this module's version (python/pyproject.toml; while it is 0.x each minor version
# has a soname of its own, libvggcl.so.0.MINOR); the python test checks both against the library.
_SONAME = "libvggcl.so.0.3"
_ABI = _SONAME.split(".so.")[1]  # "MAJOR.MINOR"


def _load_library():
    path = os.environ.get("VGGCL_LIBRARY")
    candidates = [path] if path else [_SONAME, ctypes.util.find_library("vggcl")]
    errors = []
    for c in candidates:
        if not c:
            continue
        try:
            lib = ctypes.CDLL(c)
        except OSError as e:
            errors.append(str(e))
            continue
        try:
            lib.vggcl_version.restype = ctypes.c_char_p
            v = lib.vggcl_version().decode(errors="replace")
        except AttributeError:
            errors.append(f"{c} has no vggcl_version: not vggcl's library")
            continue
        if v.split(".")[:len(_ABI.split("."))] == _ABI.split("."):  # (from 1.0 the soname holds MAJOR alone)
            return lib
        errors.append(f"{c} is version {v}, not the {_ABI}.x of this module (each 0.x minor version may change "
                      "the ABI): install the library built from the same source")
    raise ImportError("vggcl: cannot load libvggcl.so (install vggcl with `cmake --install`, then run ldconfig; "
                      "for another prefix set LD_LIBRARY_PATH; or set VGGCL_LIBRARY to the library's path): " + "; ".join(errors or ["not found"]))


_lib = _load_library()
_p = ctypes.c_void_p
_f = ctypes.POINTER(ctypes.c_float)
_i = ctypes.POINTER(ctypes.c_int)


class _DeviceInfo(ctypes.Structure):
    _fields_ = [("platform", ctypes.c_int), ("device", ctypes.c_int), ("index", ctypes.c_int),
                ("platform_name", ctypes.c_char * 128), ("name", ctypes.c_char * 128), ("type", ctypes.c_char * 16),
                ("version", ctypes.c_char * 128), ("driver", ctypes.c_char * 128),
                ("compute_units", ctypes.c_uint), ("clock_mhz", ctypes.c_uint),
                ("global_mem", ctypes.c_ulonglong), ("max_alloc", ctypes.c_ulonglong),
                ("local_mem", ctypes.c_ulonglong), ("max_work_group", ctypes.c_ulonglong)]


class _LoadOptions(ctypes.Structure):
    _fields_ = [("pool5", ctypes.c_int), ("head", ctypes.c_char_p), ("conv", ctypes.c_int),
                ("features_only", ctypes.c_int)]


class _Preprocess(ctypes.Structure):
    _fields_ = [("resize", ctypes.c_int), ("crop", ctypes.c_int), ("mean", ctypes.c_float * 3),
                ("std", ctypes.c_float * 3), ("draft", ctypes.c_int), ("resize_w", ctypes.c_int)]


def _sig(name, restype, *argtypes):
    try:
        fn = getattr(_lib, name)
    except AttributeError:  # (an older library found first: say which, not an AttributeError)
        lib_version = _lib.vggcl_version
        lib_version.restype = ctypes.c_char_p
        raise ImportError(f"vggcl: the library {_lib._name} (version {lib_version().decode()}) has no {name}: it is "
                          "older than this module; install the library built from the same source") from None
    fn.restype, fn.argtypes = restype, list(argtypes)
    return fn


_version = _sig("vggcl_version", ctypes.c_char_p)
_free = _sig("vggcl_free", None, _p)
_ctx_new = _sig("vggcl_ctx_new", _p)
_ctx_free = _sig("vggcl_ctx_free", None, _p)
_message = _sig("vggcl_message", ctypes.c_char_p, _p)
_os_error = _sig("vggcl_os_error", ctypes.c_int, _p)
_list_devices = _sig("vggcl_list_devices", ctypes.c_int, _p, ctypes.POINTER(_DeviceInfo), ctypes.c_int, _i)
_select_device = _sig("vggcl_select_device", ctypes.c_int, _p, ctypes.c_char_p)
_device_name = _sig("vggcl_device_name", ctypes.c_char_p, _p)
_device_type = _sig("vggcl_device_type", ctypes.c_char_p, _p)
_device_index = _sig("vggcl_device_index", ctypes.c_int, _p)
_decode_threads_default = _sig("vggcl_decode_threads_default", ctypes.c_int, _p)
_conv_algorithm = _sig("vggcl_conv_algorithm", ctypes.c_int, ctypes.c_char_p)
_load_defaults = _sig("vggcl_load_options_defaults", None, ctypes.POINTER(_LoadOptions))
_model_load = _sig("vggcl_model_load", ctypes.c_int, _p, ctypes.c_char_p, ctypes.POINTER(_LoadOptions),
                   ctypes.POINTER(_p))
_model_free = _sig("vggcl_model_free", None, _p)
_model_classes = _sig("vggcl_model_classes", ctypes.c_int, _p)
_model_features = _sig("vggcl_model_features", ctypes.c_int, _p)
_model_pool5 = _sig("vggcl_model_pool5", ctypes.c_int, _p)
_model_metadata = _sig("vggcl_model_metadata", ctypes.c_char_p, _p, ctypes.c_char_p)
_model_class_name = _sig("vggcl_model_class_name", ctypes.c_char_p, _p, ctypes.c_int)
_map_size = _sig("vggcl_model_map_size", None, _p, ctypes.c_int, ctypes.c_int, _i, _i)
_forward = _sig("vggcl_forward", ctypes.c_int, _p, _p, _f, ctypes.c_int, ctypes.c_int, ctypes.c_int, _f, _f)
_max_batch = _sig("vggcl_max_batch", ctypes.c_int, _p, _p, ctypes.c_int, ctypes.c_int, ctypes.c_int)
_check_batch = _sig("vggcl_check_batch", ctypes.c_int, _p, _p, ctypes.c_int, ctypes.c_int, ctypes.c_int)
_check_cam = _sig("vggcl_check_cam", ctypes.c_int, _p, _p)
_forward_cam = _sig("vggcl_forward_cam", ctypes.c_int, _p, _p, _f, ctypes.c_int, ctypes.c_int, ctypes.c_int, _f, _f,
                    _i, _f, _i)
_image_load = _sig("vggcl_image_load", ctypes.c_int, _p, ctypes.c_char_p,
                   ctypes.POINTER(ctypes.POINTER(ctypes.c_ubyte)), _i, _i)
_preprocess_unset = _sig("vggcl_preprocess_unset", None, ctypes.POINTER(_Preprocess))
_model_preprocess = _sig("vggcl_model_preprocess", ctypes.c_int, _p, _p, ctypes.POINTER(_Preprocess))
_image_preprocess = _sig("vggcl_image_preprocess", ctypes.c_int, _p, ctypes.POINTER(ctypes.c_ubyte), ctypes.c_int,
                         ctypes.c_int, ctypes.POINTER(_Preprocess), ctypes.POINTER(_f), _i, _i)
_image_read = _sig("vggcl_image_read", ctypes.c_int, _p, ctypes.c_char_p, ctypes.POINTER(_Preprocess),
                   ctypes.POINTER(_f), _i, _i)

_LOG_FN = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_char_p)
_set_log = _sig("vggcl_set_log", None, _p, _LOG_FN, _p)
_logger = logging.getLogger("vggcl")


_noting = threading.local()  # .contexts: those whose notes are being logged on this thread (innermost last)


def _said(user, message):
    """A note of the library's (vggcl_set_log) to the "vggcl" logger: WARNING for a failed OpenCL call
    ("CALL -> CL_NAME (code)", a failed build's whole log too) and a device name that several devices
    match (the first taken), else INFO. user: the context that logs, whose model's methods a handler
    may not call meanwhile (_locked)."""
    if not hasattr(_noting, "contexts"):
        _noting.contexts = []
    _noting.contexts.append(user)
    try:
        text = _escape(_text(message))
        warn = " -> CL_" in text or "give an index to choose" in text
        _logger.log(logging.WARNING if warn else logging.INFO, "%s", text)
    except KeyboardInterrupt as e:  # (a handler's Ctrl-C: ctypes drops what a callback raises; raised when the
        _noting.interrupted = e     # call returns, by _Context.check, as a real one comes after the call)
    except Exception:  # noqa: BLE001 (at interpreter exit logging may be gone; a note is not worth an error there)
        pass
    finally:
        _noting.contexts.pop()


_said._vggcl_callback = True
_on_log = _LOG_FN(_said)  # (kept for the process's life: contexts call it until they are freed)
# (also across importlib.reload, which runs this module again in the same globals: the earlier _on_log, which the
# contexts made before it still call, was freed there, and their next note jumped into freed memory)
_kept_callbacks = globals().get("_kept_callbacks", [])
_kept_callbacks.append(_on_log)


def _raise_interrupted():
    """Raises the KeyboardInterrupt a callback of this thread's last library call kept (_said, _interrupt_caught),
    after that call: every method that calls the library does, through _Context.check or here."""
    interrupted = getattr(_noting, "interrupted", None)
    if interrupted is not None:
        _noting.interrupted = None
        raise interrupted


def _interrupt_caught(hook):
    """sys.unraisablehook wrapped: a KeyboardInterrupt a Ctrl-C raises as one of this module's ctypes callbacks
    begins (the log's, train_head's on_epoch: before any try of theirs), which ctypes hands to the hook and drops
    (the work went on to its end), kept for the call to raise when it returns (_Context.check)."""
    def caught(unraisable):
        if isinstance(unraisable.exc_value, KeyboardInterrupt) and \
                getattr(unraisable.object, "_vggcl_callback", False):
            _noting.interrupted = unraisable.exc_value
            return
        hook(unraisable)
    caught._vggcl = True
    return caught


if not getattr(sys.unraisablehook, "_vggcl", False):
    sys.unraisablehook = _interrupt_caught(sys.unraisablehook)

_POOL5 = {None: 0, "keep": 1, "drop": 2}  # (VGGCL_POOL5_AUTO, _KEEP, _DROP)


def _text(b):
    """The library's bytes as str: file names that are not UTF-8 keep their bytes (as os.fsdecode)."""
    return b.decode(errors="surrogateescape")


# What a message shows escaped, as the command line does: C0 controls but tab and newline, DEL, C1 controls
# (U+009B starts an escape sequence), Python's line ends U+2028/U+2029, the bidirectional overrides and
# isolates, and bytes that are not UTF-8 (surrogateescape's U+DC80..U+DCFF)
_HIDDEN = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\udc80-\udcff]")


def _escaped(m):
    c = ord(m.group())
    return ("\\r" if c == 0x0D else f"\\x{c - 0xDC00:02x}" if c >= 0xDC80 else f"\\x{c:02x}" if c < 0x80
            else f"\\u{c:04x}")


def _escape(text):
    """A message as an Error or the log shows it: the control characters a file or tensor name holds escaped
    (a hostile weights file's name "\\x1b]2;..." drew on the terminal that printed the traceback) and each
    line after the first indented, as the vggcl command shows them (twice is as once: a pickled Error is
    made again from its text)."""
    return re.sub("\n(?!  )", "\n  ", _HIDDEN.sub(_escaped, text))


def _shown(value):
    """A value as a message names it: an array by its type, dtype and shape (its repr, many lines of numbers,
    flooded a log: load_image given an image), else its repr, cut past 80 characters."""
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return f"a {type(value).__module__}.{type(value).__name__} of {value.dtype} and shape {tuple(value.shape)}"
    shown = repr(value)
    if len(shown) <= 80:
        return shown
    unit = " bytes" if isinstance(value, (bytes, bytearray)) else " characters" if isinstance(value, str) else ""
    return shown[:72] + (f"... ({len(value)}{unit})" if unit else "...")


def _bytes(value, what):
    """A path or name for the library: str (as os.fsencode), bytes or os.PathLike; Error naming what
    it is for when it is none of those or holds a NUL byte (C would stop reading at it)."""
    try:
        b = os.fsencode(value)
    except TypeError:
        raise Error(f"{what} is {_shown(value)}; expected a str, bytes or os.PathLike", "arg") from None
    except UnicodeEncodeError:  # (a lone surrogate: not a str a file system's bytes decode to)
        raise Error(f"{what} {_shown(value)} holds a lone surrogate, which is no text"
                    + ("; give a path's bytes as bytes" if what in ("the image", "the model's path") else ""),
                    "arg") from None
    if b"\0" in b:  # (shown in part: a file's bytes given for its path held the whole file, megabytes)
        shown = _shown(value)
        raise Error(f"{what} {shown} holds a NUL byte" +
                    ("; a path is expected, not the file's bytes" if isinstance(value, bytes) else ""), "arg")
    return b


def _softmax(logits):
    """The probabilities of one image's float32 logits, as doubles computed as `vggcl classify` computes them
    (libm's exp, summed in order), so that they equal its answers to the last bit: numpy's pairwise sum
    differed from them in the last bit for one probability in three. One class: the sigmoid of its logit (a
    softmax of one class is 1 whatever the image), as the command gives it."""
    if len(logits) == 1:
        try:
            return [1 / (1 + math.exp(-float(logits[0])))]
        except OverflowError:  # (C's exp is infinite there: 0)
            return [0.0]
    top = float(logits.max())
    z = [math.exp(float(v) - top) for v in logits]
    total = 0.0
    for v in z:
        total += v
    return [v / total for v in z]


def _device_spec(device):
    """A device argument as the library's spec: a str or bytes as it is (not empty nor blank: None is the
    default), an index (an int from devices(), 0 included) as its digits; Error for anything else (a bool,
    a float)."""
    if isinstance(device, (str, bytes)):
        if not device.strip():  # (the library's default, as None: a variable left unset chose the first device)
            raise Error(f"device is {device!r}; expected \"ref\", \"P:D\", an index or a name (None: "
                        "$VGGCL_DEVICE, else the first GPU, else the first device)", "arg")
        return device
    try:
        if isinstance(device, bool):
            raise TypeError
        index = operator.index(device)
        if index < 0:  # (its digits were taken as part of a device's name)
            raise TypeError
        return str(index)
    except TypeError:
        raise Error(f"device is {_shown(device)}; expected a str (\"ref\", \"P:D\", a name), an index from "
                    "devices() or None", "arg") from None


def _whole(value, what, least, most=None):
    """An int argument from least to most (not a bool, not a float that would be cut): Error naming it."""
    try:
        if isinstance(value, bool):
            raise TypeError
        v = operator.index(value)
    except TypeError:
        raise Error(f"{what} is {value!r}; expected a whole number of at least {least}", "arg") from None
    if v < least or (most is not None and v > most):
        raise Error(f"{what} is {v}; expected " + (f"{least} to {most}" if most is not None else f"at least {least}"),
                    "arg")
    return v


def version() -> str:
    """The library's version, "MAJOR.MINOR.PATCH"."""
    return _version().decode()


__version__ = version()


class _Context:
    """A vggcl context: owns a device and the last error message. A model's context is closed by the
    model, after the model (freeing a model uses its context): it has no finalizer of its own, which
    the garbage collector could run first when both are in a reference cycle."""

    def __init__(self, by_model=False):
        self.by_model = by_model
        self.ptr = _ctx_new()
        if not self.ptr:
            raise OutOfMemory("vggcl: out of host memory", "nomem")
        _set_log(self.ptr, _on_log, self.ptr)  # (user: the context, for _said)

    def check(self, status, path=None):
        """Raises the library's failure, or a KeyboardInterrupt a log handler raised during the call; path: the file
        the call was given, the Error's filename where the message is that file's (it starts with its name)."""
        _raise_interrupted()
        if status != 0:
            message = _text(_message(self.ptr))
            errno = _os_error(self.ptr)
            name = os.fsdecode(path) if path is not None else None
            filename = name if errno and name and message.startswith(name + ":") else None
            raise Error(message, _kind(status), errno or None, filename)

    def close(self):
        ptr, self.ptr = self.ptr, None  # (forgotten before it is freed: a Ctrl-C as the free returned freed it twice)
        if ptr:
            _ctx_free(ptr)

    def __del__(self):
        if not self.by_model:
            self.close()


def devices() -> list[dict[str, Any]]:
    """Every OpenCL device: a list of dicts (index, platform, device, platform_name, name, type, version,
    driver, compute_units, clock_mhz, global_mem, max_alloc, local_mem in bytes, max_work_group). Where
    there is no OpenCL platform or device, vggcl.Error saying what to install."""
    ctx = _Context()
    try:
        count = ctypes.c_int(0)
        ctx.check(_list_devices(ctx.ptr, None, 0, ctypes.byref(count)))
        infos = (_DeviceInfo * max(count.value, 1))()
        ctx.check(_list_devices(ctx.ptr, infos, count.value, ctypes.byref(count)))
        out = []
        for d in infos[:count.value]:
            row = {name: getattr(d, name) for name, _ in _DeviceInfo._fields_}
            out.append({k: v.decode(errors="replace") if isinstance(v, bytes) else v for k, v in row.items()})
        return out
    finally:
        ctx.close()


def _numbers(value, count, what):
    """count numbers from an argument (a number, numbers, or "a,b,c"), else None."""
    try:
        if isinstance(value, bool) or (what in ("size", "sides") and np.asarray(value).dtype == bool):
            raise TypeError
        v = [float(t) for t in value.split(",")] if isinstance(value, str) else [float(t) for t in np.ravel(value)]
    except (TypeError, ValueError):
        return None
    if len(v) != count or not all(np.isfinite(v)) or max(map(abs, v)) > _FLOAT_MAX:  # (1e39: "mean inf,0,0")
        return None
    if what == "size" and not (0 <= v[0] <= 16384 and v[0] == int(v[0])):  # (2.7 is not cut to 2)
        return None
    if what == "sides" and not all(1 <= x <= 16384 and x == int(x) for x in v):
        return None
    if what == "sides" and (re.fullmatch(r"[0-9]+,[0-9]+", value) is None if isinstance(value, str) else
                            any(isinstance(x, (bool, np.bool_)) for x in np.asarray(value, object).ravel())):
        return None  # (as the metadata's "H,W" and the command's HxW take them: "٨,٩", "8_0,9", True not sizes)
    if what == "sides":
        return tuple(int(x) for x in v)
    if what == "std" and not all(np.float32(x) > 0 for x in v):  # (1e-50 is 0 in float32: "std 0,1,1" said)
        return None
    return int(v[0]) if what == "size" else v


_EXPECTED = {"size": "a whole size from 0 to 16384",
             "resize": "a whole size from 0 to 16384 (the short side's), or (height, width), each from 1 to 16384",
             "mean": "three finite numbers R,G,B",
             "std": "three numbers R,G,B (std > 0, also as a float32 holds it)"}


def _preset(ctx, model, resize=None, crop=None, mean=None, std=None, draft=None):
    """vggcl's preprocessing settings: arguments, else the model's metadata (read by the library, as
    `vggcl classify` reads it: a value it refuses is refused, naming the file), else torchvision's."""
    p = _Preprocess()
    _preprocess_unset(ctypes.byref(p))
    if draft is not None:
        if not isinstance(draft, (bool, np.bool_)):
            raise Error(f"draft is {draft!r}; expected True or False", "arg")
        p.draft = int(draft)
    if resize is not None:  # (a size, the short side's; or two, both sides': torchvision's Resize((h, w)))
        side, sides = _numbers(resize, 1, "size"), _numbers(resize, 2, "sides")
        if side is None and sides is None:
            raise Error(f"resize is {resize!r}; expected {_EXPECTED['resize']}", "arg")
        p.resize, p.resize_w = (side, 0) if side is not None else sides
    for name, value, count, what in (("crop", crop, 1, "size"), ("mean", mean, 3, "mean"), ("std", std, 3, "std")):
        if value is None:
            continue
        got = _numbers(value, count, what)
        if got is None:
            raise Error(f"{name} is {value!r}; expected {_EXPECTED[what]}", "arg")
        if count == 1:
            setattr(p, name, got)
        else:
            getattr(p, name)[:] = got
    ctx.check(_model_preprocess(ctx.ptr, model, ctypes.byref(p)))
    if (resize is not None and side is None and crop is None and p.crop > 0 and (p.resize, p.resize_w) != (p.crop,) * 2
            and not (model and _model_metadata(model, b"vggcl.crop"))):  # (as the command says it)
        _logger.warning("resize=%r is followed by the default crop, %d (torchvision's, after its Resize(256)%s): every "
                        "image is cut or padded to %d x %d; crop=0 for a Resize((h, w)) alone", resize, p.crop,
                        "; the model names none" if model else "", p.crop, p.crop)
    return p


def _copied(ptr, shape, dtype):
    """A copy of the library's buffer as an array (np.ctypeslib.as_array made a ctypes array type per shape,
    which ctypes keeps for good: memory grew with every new image size)."""
    a = np.empty(shape, dtype)
    ctypes.memmove(a.ctypes.data, ptr, a.nbytes)
    return a


def _load_image(ctx, path):
    rgb = ctypes.POINTER(ctypes.c_ubyte)()
    h, w = ctypes.c_int(), ctypes.c_int()
    name = _bytes(path, "the image")
    ctx.check(_image_load(ctx.ptr, name, ctypes.byref(rgb), ctypes.byref(h), ctypes.byref(w)), name)
    try:
        return _copied(rgb, (h.value, w.value, 3), np.uint8)
    finally:
        _free(rgb)


def _preprocess(ctx, image, p, who="preprocess"):
    """An (H, W, 3) uint8 array (or (H, W): gray, as PIL converts "L" to RGB), a PIL image (of any mode: converted
    to RGB as PIL converts it), or an image path
    (decoded only as far as the preset reads it); who: the call, as an array that is not an image is said."""
    out = _f()
    oh, ow = ctypes.c_int(), ctypes.c_int()
    if isinstance(image, (str, bytes, os.PathLike)):
        name = _bytes(image, "the image")
        ctx.check(_image_read(ctx.ptr, name, ctypes.byref(p), ctypes.byref(out), ctypes.byref(oh), ctypes.byref(ow)),
                  name)
    else:
        if image is None:
            raise Error(f"{who}: expected an image path or an (H, W, 3) (or gray (H, W)) uint8 image, got None", "arg")
        _pil_loaded(image, who)
        if getattr(image, "mode", "RGB") != "RGB" and callable(getattr(image, "convert", None)):
            image = image.convert("RGB")  # (a PIL image of another mode, as ImageFolder's loader converts it: its
            # YCbCr, LAB and HSV bytes were read as RGB, its gray, palette and RGBA refused as "a float image")
        rgb = np.asarray(image)
        if rgb.dtype == np.uint8 and rgb.ndim == 2:  # (a gray one, as np.array(Image.open(gray)) gives it)
            rgb = np.repeat(rgb[:, :, None], 3, axis=2)
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            hints = []  # (torchvision's ToTensor and read_image give (C, H, W): the float hint alone was refused again)
            if rgb.ndim == 3 and rgb.shape[0] in (1, 3) and rgb.shape[2] != 3:
                hints.append("its channels first, as torchvision's ToTensor and read_image give them: "
                             + ("take x[0], a gray (H, W) image" if rgb.shape[0] == 1
                                else "put them last, x.permute(1, 2, 0) or x.transpose(1, 2, 0)"))
            if rgb.dtype.kind == "f":  # (a torch tensor has no astype)
                torch_made = type(image).__module__.split(".")[0] == "torch"
                hints.append("a float image would be cut to bytes: convert it, e.g. (x * 255).round()."
                             + ("byte()" if torch_made else "astype(np.uint8)"))
            raise Error(f"{who}: expected an image path or an (H, W, 3) (or gray (H, W)) uint8 image, got {rgb.dtype} "
                        f"of shape {rgb.shape}" + (f" ({'; '.join(hints)})" if hints else ""), "arg")
        if max(rgb.shape) > _INT_MAX:  # (ctypes cut it to 32 bits, unsaid)
            raise Error(f"{who}: an image of shape {rgb.shape}: each side must fit in a C int", "arg")
        rgb = np.require(rgb, np.uint8, ["C", "A"])
        try:
            ctx.check(_image_preprocess(ctx.ptr, rgb.ctypes.data_as(ctypes.POINTER(ctypes.c_ubyte)), rgb.shape[0],
                                        rgb.shape[1], ctypes.byref(p), ctypes.byref(out), ctypes.byref(oh),
                                        ctypes.byref(ow)))
        except Error as e:  # (an array has no name: which one, as this module's own refusals say it; a path's
            raise Error(f"{who}: {e}", e.status) from None  # message begins with the path)
    try:
        return _copied(out, (3, oh.value, ow.value), np.float32)
    finally:
        _free(out)


def load_image(path: _PathLike) -> np.ndarray:
    """Decodes a JPEG, PNG, WebP, BMP, TIFF or PNM (PBM, PGM, PPM) to (H, W, 3) uint8 RGB, as PIL's Image.open(path).convert("RGB")."""
    ctx = _Context()
    try:
        return _load_image(ctx, path)
    finally:
        ctx.close()


def preprocess(image: _Image, resize: _Resize = 256, crop: Optional[_Size] = None,
               mean: _Floats = (0.485, 0.456, 0.406), std: _Floats = (0.229, 0.224, 0.225),
               draft: bool = False) -> np.ndarray:
    """torchvision's ImageClassification preset on an image path, (H, W, 3) (or gray (H, W)) uint8 array or PIL
    image: (3, crop, crop) float32 (crop None: torchvision's, 224; crop 0: no crop; resize 0: no resize; resize
    (h, w): both sides, the aspect not kept, as torchvision's Resize((h, w))). draft: a JPEG path decoded at
    1/2, 1/4 or 1/8 of its size where both sides stay at least resize, as PIL's Image.draft("RGB", (resize,
    resize)) (with (h, w), draft("RGB", (w, h))) before the preset: faster on large photos, not torchvision's
    pixels."""
    ctx = _Context()
    try:
        _draft_unused(image, draft)
        return _preprocess(ctx, image, _preset(ctx, None, resize, crop, mean, std, draft))
    finally:
        ctx.close()


def _pil_loaded(image, who):
    """Whether image is a PIL image, decoded now if it was not (PIL decodes when first used); Error naming who
    where it cannot be (its file closed: numpy's "object of shape ()" said it)."""
    if not (callable(getattr(image, "convert", None)) and callable(getattr(image, "load", None))):
        return False
    try:
        image.load()
    except Exception as e:  # noqa: BLE001 (PIL's OSError, or its AttributeError on a closed file)
        raise Error(f"{who}: the PIL image cannot be read: {type(e).__name__}: {e}", "arg") from None
    return True


def _taken(image, who):
    """An image classify reads ahead, as it is when taken: an array copied (a capture loop refills one buffer:
    later frames were classified for earlier ones), a PIL image decoded here and copied (a generator may close
    what it yields once the next is asked for; one object decoded on several threads at once failed at random),
    a path as it is (decoded by the threads)."""
    if isinstance(image, (str, bytes, os.PathLike)):
        return image
    if _pil_loaded(image, who):
        return image.copy()
    if isinstance(image, np.ndarray):
        return image.copy()
    clone = getattr(image, "clone", None)  # (a torch tensor: copied as itself, its own hints kept)
    if callable(clone) and type(image).__module__.split(".")[0] == "torch":
        return clone()
    if isinstance(image, memoryview) or hasattr(image, "__array__") or hasattr(image, "__array_interface__"):
        try:
            return np.array(image)  # (a copy)
        except Exception:  # noqa: BLE001 (said as the preprocessing says an object it cannot take)
            return image
    return image


def _draft_unused(image, draft):
    """Whether draft=True was given for an image already decoded (an array, a PIL image), said at WARNING: only a
    path is decoded at a fraction of its size."""
    if not (isinstance(draft, (bool, np.bool_)) and draft) or isinstance(image, (str, bytes, os.PathLike)):
        return False
    _logger.warning("draft=True decodes an image path at a fraction of its size; an image given decoded (an "
                    "array, a PIL image) is preprocessed whole")
    return True


def _locked(method):
    """A Model method that calls the library: one at a time per model (its context is not locked), so
    threads that share a model take turns, and close() cannot free it under a call; nor from a handler of
    the "vggcl" logger while the model's call that logged runs (the lock is the thread's already: a
    handler's close() freed the model under the pass, a segmentation fault). A close() on the thread of a call
    in progress (a finalizer the garbage collector runs within it, a signal handler: the lock is the thread's
    already) is put off until that call returns (it freed the model under the call: heap corruption)."""
    @functools.wraps(method)
    def call(self, *args, **kwargs):
        lock = getattr(self, "_lock", None)  # (none: __init__ failed before it; close() from __del__)
        ctx = getattr(self, "_ctx", None)
        if ctx is not None and ctx.ptr and ctx.ptr in getattr(_noting, "contexts", ()) and not (
                method.__name__ == "close" and getattr(self, "_calls", 0)):  # (a close: put off, below)
            raise Error(f"{self.path}: {method.__name__}() called from a handler of the \"vggcl\" logger while "
                        "this model's call that logged runs; call it after that call returns")
        if lock is None:
            return method(self, *args, **kwargs)
        with lock:
            if method.__name__ == "close" and self._calls:
                self._close_later = True
                return None
            if not self._calls:
                self._owner = threading.get_ident()
            self._calls += 1
            try:
                return method(self, *args, **kwargs)
            finally:
                self._calls -= 1
                if not self._calls and self._close_later:
                    self._close_later = False
                    self.close()
    return call


# every Model made: their locks renewed in a forked child (across importlib.reload too, which runs this module again
# in the same globals: the models made before it were in a set it replaced)
_models = globals().get("_models", weakref.WeakSet())


def _after_fork():
    """In a forked child: each model's lock as new (a lock another thread held at the fork stays held in the child,
    whose first call then waited for ever; the call now gets the library's word on a forked process), its count of
    calls kept where the thread that forked is in one (it goes on here)."""
    for m in list(_models):
        m._lock = threading.RLock()
        if not (m._calls and m._owner == threading.get_ident()):
            m._calls, m._close_later = 0, False


if hasattr(os, "register_at_fork") and not globals().get("_fork_hooked"):  # (once: a reload added another)
    os.register_at_fork(after_in_child=lambda: _after_fork())  # (the module's _after_fork of the day, reloaded)
    _fork_hooked = True


class Model:
    """A model loaded from safetensors onto a device, with a context of its own.

    device: "ref" (the plain-C reference), an index or "P:D" from devices(), a type ("cpu", "gpu": the
    first device of it), a substring of the device name, or None ($VGGCL_DEVICE, else the first GPU, else the
    first device; "" is refused).
    pool5: "keep", "drop" or None (the file's metadata; one other than the file says is logged at WARNING, as
    the command says it). conv: "auto" or an algorithm name.
    features_only: load the convolutions only (no head needed; forward gives no logits).
    Threads may share a model: its calls take turns (a lock: the library's context runs one call at a
    time, without the GIL), and close() waits for the call in progress. A model per thread, each with
    its own context, runs them at once. It cannot be copied (copy, deepcopy, pickle): load the file
    again for another.
    """

    def __init__(self, path: _PathLike, device: Optional[Union[str, int]] = None, pool5: Optional[str] = None,
                 conv: Optional[str] = None, head: Optional[str] = None, features_only: bool = False) -> None:
        if hasattr(self, "_lock"):  # (a second __init__ on a model: the first's left unfreed, 170 MB a time)
            raise Error(f"{getattr(self, 'path', path)}: a model is made once; make another vggcl.Model for another "
                        "file", "arg")
        # (its load's library calls counted as a call: a close() a finalizer makes meanwhile, as the first compile
        # is logged, put off until it returns)
        self._lock, self._calls, self._close_later, self._owner = threading.RLock(), 1, False, threading.get_ident()
        _models.add(self)
        file = _bytes(path, "the model's path")
        self.path = os.fsdecode(file)
        if not (pool5 is None or isinstance(pool5, str)) or pool5 not in _POOL5:  # (a list: TypeError, unhashable)
            raise Error(f"pool5 must be 'keep', 'drop' or None, not {pool5!r}", "arg")
        self._ctx = _Context(by_model=True)
        self._ptr = _p()
        try:  # (a failure freed the context only when the half-made model was collected: never while the
            # exception, whose traceback holds it, was kept)
            opts = _LoadOptions()
            _load_defaults(ctypes.byref(opts))
            opts.pool5 = _POOL5[pool5]
            self._head = None if head is None else _bytes(head, "head")
            if self._head == b"":
                raise Error("head is empty; expected a key prefix (None: the classifier.K chain)", "arg")
            opts.head = self._head
            if not isinstance(features_only, (bool, np.bool_)):
                raise Error(f"features_only is {features_only!r}; expected True or False", "arg")
            opts.features_only = int(features_only)
            if conv not in (None, "auto"):
                known = isinstance(conv, str) and "\0" not in conv and conv.isascii()
                opts.conv = _conv_algorithm(conv.encode()) if known else 0
                if not opts.conv:
                    raise Error("conv must be auto, direct, winograd, gemm, winograd-gpu or winograd-packed, not "
                                f"{conv!r}", "arg")
            spec = None if device is None else _bytes(_device_spec(device), "device")
            self._ctx.check(_select_device(self._ctx.ptr, spec))
            self._ctx.check(_model_load(self._ctx.ptr, file, ctypes.byref(opts), ctypes.byref(self._ptr)), file)
            try:  # (the file loaded, where it is and what it is: Head.save writes its convolutions)
                st = os.stat(file)
                self._file = (os.path.abspath(file), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
            except OSError:
                self._file = None
            made_for = self.metadata("vggcl.pool5")
            if pool5 is not None and not features_only and made_for in ("keep", "drop") and made_for != pool5:
                # (as the command says it; features alone are what a head for that setting is trained on)
                _logger.warning("%s: its head was made for pool5 %s (its metadata \"vggcl.pool5\"); pool5=%r gives it "
                                "features it was not trained on (vggcl train-head --pool5 %s makes a head for them)",
                                self.path, "kept" if made_for == "keep" else "dropped", pool5, pool5)
        except BaseException:
            self._calls = 0
            self.close()
            raise
        self._calls = 0
        if self._close_later:
            self._close_later = False
            self.close()

    def __copy__(self):
        raise Error(f"{self.path}: a model cannot be copied (the copy would free it twice): load it again")

    def __deepcopy__(self, memo):
        self.__copy__()

    def __reduce__(self):
        raise Error(f"{self.path}: a model cannot be pickled: load the file again where it is needed")

    def __repr__(self):  # (without the lock: a handler of the log may show a model a call holds)
        return f"<vggcl.Model {getattr(self, 'path', '?')!r}{'' if getattr(self, '_ptr', None) else ' (closed)'}>"

    def _file_loaded(self):
        """The absolute path of the file loaded, as bytes; Error where it is no longer that file (replaced,
        changed or gone since: its convolutions would not be those that made the features)."""
        known = getattr(self, "_file", None)
        try:
            st = os.stat(known[0]) if known else None
        except OSError:
            st = None
        if st is None or (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns) != known[1:]:
            raise Error(f"{self.path}: the file is not the one this model was loaded from (changed, replaced or "
                        "gone since): load it again", "io")
        return known[0]

    def _live(self):
        """The model's handle; Error once it is closed (the library would be handed NULL)."""
        if not getattr(self, "_ptr", None):
            raise Error(f"{self.path}: the model is closed")
        return self._ptr

    @_locked
    def close(self, _collected: bool = False) -> None:
        """Releases the model and its device memory (also done when it is garbage collected); waits for a
        call another thread is making on it."""
        ptr, self._ptr = getattr(self, "_ptr", None), None  # (forgotten first: a Ctrl-C or SIGALRM's exception as
        if ptr:                                             # the free returned made the finalizer free it again)
            _model_free(ptr)
        if getattr(self, "_ctx", None):
            self._ctx.close()
        if not _collected:  # (a finalizer cannot raise: a Ctrl-C there comes out of this thread's next call)
            _raise_interrupted()

    def __del__(self, _finalizing=sys.is_finalizing):
        try:
            self.close(_collected=True)
        except (AttributeError, TypeError):  # (at exit a model kept by sys or os, a sys.excepthook's, outlives
            if not _finalizing():            # this module's globals, None by then: the process's end frees it;
                raise                        # an "Exception ignored in Model.__del__" traceback said otherwise)

    def __enter__(self) -> "Model":
        self._live()  # (a closed model refused at `with`, as a closed file is, not at its first call)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @property
    @_locked
    def device(self) -> str:
        """The device's name, as devices() gives it ("reference (plain C)" on the plain-C backend)."""
        self._live()
        return _text(_device_name(self._ctx.ptr))

    @property
    @_locked
    def device_index(self) -> Optional[int]:
        """The device's index in devices(), which tells apart devices of one name (a box's GPUs); None on the
        reference backend."""
        self._live()
        index = _device_index(self._ctx.ptr)
        return None if index < 0 else index

    @property
    @_locked
    def device_type(self) -> str:
        """"GPU", "CPU", ... as devices() gives it; "" on the reference backend."""
        self._live()
        return _text(_device_type(self._ctx.ptr))

    @property
    @_locked
    def classes(self) -> int:
        """The head's classes (C of the logits (N, C)); 0 for a model loaded features_only."""
        return _model_classes(self._live())

    @property
    @_locked
    def features(self) -> int:
        """The features' length F (the last convolution's channels, 512 for VGG16)."""
        return _model_features(self._live())

    @property
    @_locked
    def pool5(self) -> str:
        """"keep" (the max pool before the GAP: a 7x7 map at 224x224) or "drop" (the CAM paper's 14x14)."""
        return "keep" if _model_pool5(self._live()) else "drop"

    @property
    @_locked
    def class_names(self) -> Optional[list[str]]:
        """The names in the file's metadata ("vggcl.classes"), or None."""
        names = [_model_class_name(self._live(), c) for c in range(self.classes)]
        return [n.decode() for n in names] if names and all(n is not None for n in names) else None

    @property
    def preset(self) -> dict[str, Any]:
        """The preprocessing classify and preprocess apply when not told otherwise, as a dict of resize,
        crop, mean, std and draft: the file's metadata (what train-head, export_torchvision.py and
        import_onnx.py record), else torchvision's VGG16 preset; where draft is False,
        torchvision.transforms.Resize(resize), CenterCrop(crop), ToTensor(), Normalize(mean, std) make
        the same input (a resize or crop of 0: none; resize an int, the short side's, or a tuple (h, w));
        where it is True, PIL's Image.draft("RGB", (resize, resize)) (with (h, w), (w, h)) before them.
        mean and std are the float32 numbers used, in their shortest decimals (0.485, not
        0.48500001430511475)."""
        p = self._preset()
        return {"resize": (p.resize, p.resize_w) if p.resize_w else p.resize, "crop": p.crop,
                "mean": [float(str(np.float32(v))) for v in p.mean], "std": [float(str(np.float32(v))) for v in p.std],
                "draft": bool(p.draft)}

    @_locked
    def metadata(self, key: str) -> Optional[str]:
        """The file's __metadata__[key], or None."""
        if not isinstance(key, str):
            raise Error(f"metadata: the key is {key!r}; expected a str", "arg")
        v = _model_metadata(self._live(), _bytes(key, "metadata's key"))
        return v.decode() if v is not None else None

    def _input(self, x):
        try:
            a = np.asarray(x)
        except (TypeError, ValueError, RuntimeError) as e:  # (ragged nested lists; a tensor that requires grad)
            raise Error(f"input: {e}; expected (N, 3, H, W) float32", "arg") from None
        if a.dtype.kind != "f":  # (complex lost its imaginary part; integers and bools are pixels, not normalized)
            raise Error(f"input of {a.dtype}; expected (N, 3, H, W) float32, normalized (preprocess gives it)",
                        "arg")
        if a.ndim != 4 or a.shape[1] != 3:
            hint = ""  # (the mirror of classify's hint for an image given channels first)
            if a.ndim == 4 and a.shape[3] == 3:
                hint = " (channels last? put them second: x.transpose(0, 3, 1, 2))"
            elif a.ndim == 3 and a.shape[0] == 3:
                hint = " (one image? add the batch axis: x[None])"
            raise Error(f"input of shape {a.shape}; expected (N, 3, H, W) float32{hint}", "shape")
        if max(a.shape) > _INT_MAX:  # (ctypes cut it to 32 bits, unsaid: a wrong image's logits)
            raise Error(f"input of shape {a.shape}: each dimension must fit in a C int", "shape")
        if a.dtype != np.float32 or not (a.flags.c_contiguous and a.flags.aligned):  # (a copy is made: checked
            # first, as the pass would, so that a shape the pass refuses is not copied, 24 GiB of a broadcast view;
            # an empty batch as forward and cam check it, its size at one image: N 0 is no pass's)
            self._check_size(*a.shape)
        return np.require(a, np.float32, ["C", "A"])  # (contiguous and aligned: C reads it as float *)

    def _check_size(self, n, c, h, w):
        """The checks of a pass of n images of h x w, as the pass makes them; an empty batch's size as one
        image's (N 0 is no pass's: the library's words are of a batch of 1)."""
        status = _check_batch(self._ctx.ptr, self._live(), max(n, 1), h, w)
        if status != 0 and n == 0:
            raise Error(f"input of shape {(n, c, h, w)}: the size of its images is refused: "
                        f"{_text(_message(self._ctx.ptr))}", _kind(status))
        self._ctx.check(status)

    @_locked
    def forward(self, x: Any) -> tuple[Optional[np.ndarray], np.ndarray]:
        """x (N, 3, H, W) floating point, normalized (float16/float64 converted to float32; integer, bool
        and complex arrays are refused: pixels, not normalized) -> (logits (N, C), features (N, F));
        logits is None for a model loaded features_only. Values are not checked: NaN or infinity in x
        gives NaN logits, as in torch (classify refuses an image whose logits are not finite). The pass
        runs whole: a KeyboardInterrupt comes after it (classify stops between batches)."""
        x = self._input(x)
        n = x.shape[0]
        if not x.size:  # (no rows, as `vggcl run` takes an empty share: the size checked as a pass checks it; also
            self._check_size(*x.shape)  # before the outputs are made: 2**31 images of 0 x 0 took 4 TiB for them)
        feats = np.empty((n, self.features), np.float32)
        logits = np.empty((n, self.classes), np.float32) if self.classes else None
        if n == 0:
            return logits, feats
        self._ctx.check(_forward(self._ctx.ptr, self._live(), x.ctypes.data_as(_f), n, x.shape[2], x.shape[3],
                                 logits.ctypes.data_as(_f) if logits is not None else None, feats.ctypes.data_as(_f)))
        return logits, feats

    @_locked
    def max_batch(self, h: int, w: Optional[int] = None, limit: int = 4096) -> int:
        """The largest batch of h x w images (w: h where not given) whose pass fits in the device's memory
        (the host's on the reference), as each pass checks it, up to limit; 0 where not even one fits.
        Every smaller batch fits too, so images can be cut into chunks of it (the last smaller): where a
        tuning table (`vggcl tune`) makes a batch of 17 fit and one of 16 not, the answer stays below 16."""
        h = _whole(h, "h", 1)
        w = h if w is None else _whole(w, "w", 1)
        limit = min(_whole(limit, "limit", 1), _INT_MAX)
        if max(h, w) > _INT_MAX:
            raise Error(f"max_batch({h}, {w}): each side must fit in a C int", "arg")
        n = _max_batch(self._ctx.ptr, self._live(), h, w, limit)
        if n < 0:  # (-1 has no kind: one image's check gives the refusal with its status, "shape")
            self._ctx.check(_check_batch(self._ctx.ptr, self._live(), 1, h, w))
            raise Error(_text(_message(self._ctx.ptr)))
        _raise_interrupted()
        return n

    @_locked
    def cam(self, x: Any, classes: Any = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Class activation maps of the top class, or of classes[i] (-1: the top) -> (cams (N, mh, mw),
        chosen classes (N,), logits (N, C)). As forward: the pass runs whole, values not checked."""
        x = self._input(x)
        n, h, w = x.shape[0], x.shape[2], x.shape[3]
        mh, mw = ctypes.c_int(), ctypes.c_int()
        _map_size(self._live(), h, w, ctypes.byref(mh), ctypes.byref(mw))
        cams = np.empty((n, max(mh.value, 1), max(mw.value, 1)), np.float32)
        chosen = np.empty(n, np.int32)
        logits = np.empty((n, max(self.classes, 1)), np.float32)
        want = None if classes is None else np.asarray(classes)
        if want is not None and (want.shape != (n,) or (want.dtype.kind not in "iu" and n) or  # ([] is float64)
                                 (n and not (-1 <= want.min() and want.max() < max(self.classes, 1)))):
            bad = ""  # (the first value out of range, where the shape and kind are right: it named neither)
            if want.shape == (n,) and want.dtype.kind in "iu" and n:
                at = int(np.flatnonzero((want < -1) | (want >= max(self.classes, 1)))[0])
                bad = f": classes[{at}] is {int(want[at])}"
            raise Error(f"classes {want.dtype} of shape {want.shape}{bad}; expected ({n},) integers from -1 (the top "
                        f"class) to {self.classes - 1}", "arg")
        want = None if want is None else np.ascontiguousarray(want, np.int32)
        if n == 0:  # (no rows, as forward: the model's maps and the size checked as a pass checks them)
            self._ctx.check(_check_cam(self._ctx.ptr, self._live()))
            self._check_size(*x.shape)
            return cams, chosen, logits
        self._ctx.check(_forward_cam(self._ctx.ptr, self._live(), x.ctypes.data_as(_f), n, h, w,
                                     logits.ctypes.data_as(_f), None, want.ctypes.data_as(_i) if want is not None
                                     else None, cams.ctypes.data_as(_f), chosen.ctypes.data_as(_i)))
        return cams, chosen, logits

    @_locked
    def preprocess(self, image: _Image, resize: Optional[_Resize] = None, crop: Optional[_Size] = None,
                   mean: Optional[_Floats] = None, std: Optional[_Floats] = None,
                   draft: Optional[bool] = None) -> np.ndarray:
        """An image path, (H, W, 3) uint8 array or PIL image -> (3, H, W) float32, as `vggcl classify` does it:
        the arguments, else the model's metadata, else torchvision's VGG16 preset (draft: as
        vggcl.preprocess's, else the model's metadata, else False)."""
        _draft_unused(image, draft)
        return _preprocess(self._ctx, image, self._preset(resize, crop, mean, std, draft))

    @_locked
    def _decode_threads(self):  # (under the lock: a close() on another thread freed the context under the call)
        self._live()
        return _decode_threads_default(self._ctx.ptr)

    @_locked
    def _preset(self, resize=None, crop=None, mean=None, std=None, draft=None):
        return _preset(self._ctx, self._live(), resize, crop, mean, std, draft)

    def classify(self, paths: Union[_Image, Iterable[_Image]], top: int = 5, batch: int = 8,
                 threads: Optional[int] = None, *,
                 resize: Optional[_Resize] = None, crop: Optional[_Size] = None, mean: Optional[_Floats] = None,
                 std: Optional[_Floats] = None, draft: Optional[bool] = None,
                 on_error: str = "raise") -> list[Optional[list[tuple[int, str, float]]]]:
        """Image paths (or images as preprocess takes them: (H, W, 3) uint8 arrays, (H, W) gray ones, PIL images
        of any mode, converted to RGB as PIL converts them) -> per
        image a list of the top classes as (class, name, probability: the softmax's; of a model of one class,
        the sigmoid of its logit), the name from the file's class
        names, else "class N". `threads` threads decode and preprocess
        ahead while the device runs a batch (vggcl releases the GIL): paths; arrays and PIL images are copied
        as they are taken (a PIL image decoded then, on this thread), so their maker may reuse them; by
        default, as `vggcl classify`, vggcl_decode_threads_default(): one per core this process may run on, or on a
        CPU device, which computes on those cores, one per 16 of them. An unreadable image raises
        vggcl.Error naming it, and so does one whose logits are not finite (the weights or the
        preprocessing overflow float32 on it), or, without a crop, one that preprocesses to another size than
        the first; on_error="skip" skips each as `vggcl classify` does: its answer is None, its reason logged at
        WARNING on the "vggcl" logger, the others classified (a folder's one broken file lost the rest). One path
        (a str, bytes or os.PathLike), or one image (an array of two or three dimensions, a PIL image), stands
        for a list of it."""
        # (batch and threads within the vggcl command's bounds: 2**63 was islice's ValueError)
        batch, top = _whole(batch, "classify: batch", 1, 4096), _whole(top, "classify: top", 1)
        threads = None if threads is None else _whole(threads, "classify: threads", 1, 256)
        if on_error not in ("raise", "skip"):
            raise Error(f"classify: on_error is {on_error!r}; expected \"raise\" or \"skip\"", "arg")
        skip = on_error == "skip"
        if (isinstance(paths, (str, bytes, os.PathLike)) or getattr(paths, "ndim", 0) in (2, 3) or
                callable(getattr(paths, "convert", None))):  # (one image: iterated, an array's rows were images)
            paths = [paths]
        if not self.classes:
            raise Error(f"{self.path}: classify needs a head; the model was loaded features_only", "arg")
        names = self.class_names or [f"class {c}" for c in range(self.classes)]
        p = self._preset(resize, crop, mean, std, draft)
        local = threading.local()  # a context per thread, for its error messages

        def prepare(k, path):  # -> (path, tensor or None, why not)
            if not hasattr(local, "ctx"):
                local.ctx = _Context()
            try:
                return path, _preprocess(local.ctx, path, p, f"classify: paths[{k}]"), None
            except Error as e:
                if not skip:
                    raise
                return path, None, e

        def skipped(k, path, why):
            _logger.warning("%s (skipped)", why if named(k, path) in str(why) else f"{named(k, path)}: {why}")
            out.append(None)

        def named(k, path):  # (an image given as an array: its place in the list)
            if isinstance(path, (str, bytes, os.PathLike)):
                return os.fsdecode(path)
            return f"paths[{k}]"

        def draft_said(items):  # (once a call, as the images are taken)
            said = False
            for k, path in items:
                said = said or _draft_unused(path, draft)
                yield k, _taken(path, f"classify: paths[{k}]")

        out, first = [], None  # (first: the place, path and shape of the first readable image, skip's reference)
        try:
            paths = draft_said(enumerate(paths))
        except TypeError:
            raise Error(f"classify: paths is {paths!r}; expected a path or a list of them", "arg") from None
        threads = threads or self._decode_threads()
        pool = concurrent.futures.ThreadPoolExecutor(threads)
        try:
            pending = collections.deque()  # the next images, in order, up to two batches ahead
            while True:
                pending.extend(pool.submit(prepare, k, path)
                               for k, path in itertools.islice(paths, 2 * batch + threads - len(pending)))
                if not pending:
                    break
                done = [pending.popleft().result() for _ in range(min(batch, len(pending)))]
                at = len(out)  # (the list's place of done[0])
                if first is None:
                    first = next(((at + j, path, t.shape) for j, (path, t, _) in enumerate(done) if t is not None),
                                 None)
                kept = []  # (place, path, tensor) of the images this batch runs
                for j, (path, t, why) in enumerate(done):  # (without a crop, other sizes cannot share a batch)
                    # (as the command: the list's first readable image's size, at batch 1 each image its own; the
                    # batch's first was taken, so a batch that began with another size ran, unsaid)
                    ref = first if batch > 1 else None
                    if t is not None and ref is not None and t.shape != ref[2]:
                        why = Error(f"classify: {named(at + j, path)} preprocesses to {t.shape[2]} x {t.shape[1]} "
                                    f"pixels (width x height), unlike {named(ref[0], ref[1])}'s {ref[2][2]} x "
                                    f"{ref[2][1]}; give crop, or resize=(h, w), or batch=1 (each image at its own "
                                    "size)", "shape")
                        if not skip:
                            raise why
                        t = None
                    if t is not None:
                        kept.append((at + j, path, t))
                    else:
                        kept.append((at + j, path, why))
                if not any(isinstance(t, np.ndarray) for _, _, t in kept):
                    for k, path, why in kept:
                        skipped(k, path, why)
                    continue
                x = np.stack([t for _, _, t in kept if isinstance(t, np.ndarray)])
                try:
                    logits, _ = self.forward(x)
                except Error as e:  # (the pass's words alone did not say whose size: the call's crop, or an image's)
                    if e.status != "shape":
                        raise
                    given = ", ".join(f"{k}={v!r}" for k, v in (("resize", resize), ("crop", crop)) if v is not None)
                    k0, path0 = next((k, path) for k, path, t in kept if isinstance(t, np.ndarray))
                    raise Error(f"classify: {named(k0, path0)} preprocesses to {x.shape[3]} x "
                                f"{x.shape[2]} pixels (width x height){f' ({given})' if given else ''}: {e}",
                                e.status) from None
                rows = iter(logits)
                for k, path, t in kept:
                    if not isinstance(t, np.ndarray):
                        skipped(k, path, t)
                        continue
                    lg = next(rows)
                    bad = np.flatnonzero(~np.isfinite(lg))  # (their probabilities were NaN, unsaid)
                    if bad.size:
                        why = Error(f"{named(k, path)}: logit {bad[0]} is "
                                    f"{'NaN' if np.isnan(lg[bad[0]]) else 'infinite'}: the weights or the "
                                    "preprocessing overflow float32 on this image")
                        if not skip:
                            raise why
                        skipped(k, path, why)
                        continue
                    order = np.lexsort((np.arange(len(lg)), -lg))[:top]  # ranked by logit, as torch.topk and vggcl
                    row = _softmax(lg)
                    out.append([(int(c), names[c], row[c]) for c in order])
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        return out


from ._head import Head, train_head  # noqa: E402 (it binds the library's training through the names above)
