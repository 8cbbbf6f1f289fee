#!/usr/bin/python3
"""Export a torchvision VGG with a GAP head to safetensors for vggcl.

The model is torchvision's own `vggNN[_bn]` with
    model.avgpool = nn.AdaptiveAvgPool2d(1)
    model.classifier = nn.Sequential(nn.Linear(512, C))    (or nn.Linear(512, C), or dropout first)
and, for --pool5 drop, the last max pool removed from model.features; or torchvision's original
classifier (--original-head: 7x7 adaptive pool, 4096, 4096, C; with pool5 dropped too, its adaptive pool
then averaging the 14x14 map's 2x2 blocks, as torchvision's does).

    # your trained weights: a state_dict saved with torch.save (from DataParallel or DDP too), a
    # checkpoint dict holding one ("state_dict", "model", ...; PyTorch Lightning's .ckpt, its 'model.'
    # prefix read away; --key NAME for another, an EMA copy's), a whole pickled model, or safetensors
    export_torchvision.py --state-dict model.pt --out vgg16_gap7.safetensors [--pool5 drop]
        [--class-names cat,dog,... | --class-names-json classes.json] [--resize 256 --crop 224]
        (trained with Resize((224, 224)) and no crop: --resize 224x224 --no-crop)
    # random weights, drawn as torchvision initialises a VGG (for trying things out)
    export_torchvision.py --random --arch vgg16 --classes 7 --seed 0 --out vgg16_gap7.safetensors

The architecture, BatchNorm and the number of classes are read from the weights (--arch and
--classes, when given, are checked against them). A state_dict does not record whether the model
kept pool5: keep is assumed, said on stderr; give --pool5 drop for a model trained without it (a
whole pickled model says it itself; reading one runs the file's pickle, which can run any code: it
takes --trust-pickle, as any file holding more than tensors, numbers and strings does, and one saved
before torch 1.6). Every failure is one line naming the file, exit 1, no file.
"""
import argparse
import collections
import io
import json
import math
import os
import pickle
import struct
import sys
import warnings
from pathlib import Path

try:
    import torch
    import torchvision
    from torch import nn
except ImportError as e:  # (after `install-deps.sh --no-tests`, or another python3: a traceback said nothing more)
    sys.exit(f"export_torchvision.py: needs PyTorch and torchvision ({e}): apt-get install python3-torch "
             "python3-torchvision and run it with /usr/bin/python3, or pip install torch torchvision")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from safetensors_io import (MAX_DENSE, PRESET_DEFAULTS, BadArgument, Refused, add_preprocess_args,  # noqa: E402
                           check_preprocess_args, load_file, metadata_notes, preprocess_meta, read_class_names,
                           run_converter, write_atomic, write_model, written)

PROG = "export_torchvision.py"
ARCHS = {"vgg11": "A", "vgg13": "B", "vgg16": "D", "vgg19": "E"}  # torchvision.models.vgg.cfgs
CHECKPOINT_KEYS = ("state_dict", "model_state_dict", "model", "net", "module")



def gap_model(arch="vgg16", classes=7, pool5="keep", seed=0):
    """torchvision's vggNN with the GAP head, in eval mode, deterministic init: its features as torchvision
    makes and initializes them (Kaiming normal, zero biases; BatchNorm 1 and 0), the head nn.Linear's own.
    Made without the 7x7 classifier the head replaces: initializing its 120M parameters took 1-2 s a model."""
    torch.manual_seed(seed)
    vgg = torchvision.models.vgg
    model = vgg.VGG.__new__(vgg.VGG)  # (VGG.__init__ makes that classifier)
    nn.Module.__init__(model)
    bn = arch.endswith("_bn")
    model.features = vgg.make_layers(vgg.cfgs[ARCHS[arch[:5]]], bn)
    for m in model.features.modules():  # (as VGG.__init__'s init_weights loop)
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            nn.init.constant_(m.bias, 0)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.constant_(m.weight, 1)
            nn.init.constant_(m.bias, 0)
    model.avgpool = nn.AdaptiveAvgPool2d(1)
    width = [m for m in model.features if isinstance(m, nn.Conv2d)][-1].out_channels
    model.classifier = nn.Sequential(nn.Linear(width, classes))
    if pool5 == "drop":
        assert isinstance(model.features[-1], nn.MaxPool2d)
        model.features = model.features[:-1]
    return model.eval()


def original_model(arch="vgg16", classes=1000, seed=0):
    """torchvision's vggNN with its original classifier (7x7 adaptive pool, 4096, 4096, classes)."""
    torch.manual_seed(seed)
    return getattr(torchvision.models, arch)(weights=None, num_classes=classes).eval()


def gap_features(model, x):
    """The (N, C_last) GAP features that vggcl writes with --features (for either head)."""
    return torch.flatten(nn.functional.adaptive_avg_pool2d(model.features(x), 1), 1)


def export(model, path, pool5="keep", dtype=None):
    """Writes model.state_dict() with __metadata__ vggcl.pool5 set; atomically, as the command does."""
    write_atomic(model.state_dict(), {"format": "pt", "vggcl.pool5": pool5}, path, dtype=dtype)


def _is_safetensors(path):
    with open(path, "rb") as f:
        head = f.read(9)
    return len(head) == 9 and head[8:9] == b"{" and struct.unpack("<Q", head[:8])[0] > 1


TRUST = "give --trust-pickle if you trust the file"


class _Beyond(pickle.UnpicklingError):
    """What _Restricted will not make or do (a class, a call, a key, ...): only running the pickle reads it. Its
    text as torch's own safe loader words it, which a later torch may wrap in a new error of its own."""

    def __init__(self, what):
        super().__init__(f"Unsupported class {what}")
        self.what = what


class _Restricted:
    """In the place of torch's weights_only unpickler for one torch.load of a zip (torch.save's format): the
    pure-Python pickle._Unpickler with its opcodes cut to what torch.save writes for dense tensors and
    containers of numbers and strings: the classes and functions torch's list allows and no others made, only
    _rebuild_tensor_v2 (sizes and strides checked), _rebuild_parameter, OrderedDict() and torch.Size(ints)
    called (REDUCE; no NEWOBJ, NEWOBJ_EX, OBJ or INST, which also call classes, with keywords:
    torch.Tensor(cdata=address)), state set only as OrderedDict's _metadata, items only in dicts (keys names or
    numbers) and lists, and a storage of a float or integer type only as large as its record; what it will not
    do is _Beyond. torch 1.13's own
    unpickler ran a TorchScript archive's code, let the pickle write into a tensor, read a storage past its
    record, and stopped on a float (a checkpoint's "lr") and on pickle's protocol 4."""
    try:
        from torch._weights_only_unpickler import _get_allowed_globals
        allowed = _get_allowed_globals()
        # (what torch.save writes for dense tensors and state_dicts: the sparse rebuilds made tensors torch
        # checks only after the load, which OrderedDict or Size could iterate first: a heap write)
        callable_ = set(map(allowed.__getitem__, ("torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
                                                  "collections.OrderedDict", "torch.Size")))
    except (ImportError, AttributeError):
        allowed = callable_ = None
    records = None  # (the zip's record sizes by name, for the one load)
    dtypes = (torch.float32, torch.float16, torch.bfloat16, torch.float64, torch.int64, torch.int32, torch.uint8)

    class Unpickler(pickle._Unpickler):
        dispatch = dict(pickle._Unpickler.dispatch)

        def find_class(self, module, name):
            f = _Restricted.allowed.get(f"{module}.{name}")
            if f is None:
                raise _Beyond(f"{module}.{name}")
            return f

        @staticmethod
        def _refuse(what):
            raise _Beyond(what)

        def load_reduce(self):
            func, args = self.stack[-2], self.stack[-1]
            if not any(func is f for f in _Restricted.callable_):
                self._refuse(f"{getattr(func, '__name__', type(func).__name__)} (called)")
            ints = lambda t: type(t) is tuple and all(type(v) is int for v in t)  # noqa: E731
            if func is collections.OrderedDict and args != () or func is torch.Size and not (
                    type(args) is tuple and len(args) == 1 and ints(args[0])):
                self._refuse(f"{func.__name__} of other arguments than torch.save gives it")
            if func is torch._utils._rebuild_tensor_v2 and not (
                    type(args) is tuple and len(args) >= 4 and type(args[1]) is int and ints(args[2])
                    and ints(args[3]) and len(args[2]) == len(args[3])
                    and all(st > 0 or n <= 1 for n, st in zip(args[2], args[3]))):
                self._refuse("a tensor of sizes and strides torch.save does not write (a stride of 0: one value "
                             "repeated past the file's data)")
            pickle._Unpickler.load_reduce(self)

        def load_build(self):
            target, state = self.stack[-2], self.stack[-1]
            if not (isinstance(target, collections.OrderedDict) and isinstance(state, dict) and
                    set(state) <= {"_metadata"}):
                self._refuse(f"{type(target).__name__} (its state set)")
            pickle._Unpickler.load_build(self)

        def _keys(self, keys):  # (names and numbers: a nested tuple's hash takes exponential time)
            if not all(type(k) in (str, int) for k in keys):
                self._refuse("a key other than a name or a number")

        def load_setitem(self):
            if not isinstance(self.stack[-3], dict):
                self._refuse(f"{type(self.stack[-3]).__name__} (items set in it)")
            self._keys(self.stack[-2:-1])
            pickle._Unpickler.load_setitem(self)

        def load_setitems(self):
            target = self.metastack[-1][-1] if self.metastack and self.metastack[-1] else None
            if not isinstance(target, dict):
                self._refuse(f"{type(target).__name__} (items set in it)")
            self._keys(self.stack[0::2])
            pickle._Unpickler.load_setitems(self)

        def load_append(self):
            if not isinstance(self.stack[-2], list):
                self._refuse(f"{type(self.stack[-2]).__name__} (appended to)")
            pickle._Unpickler.load_append(self)

        def load_appends(self):
            target = self.metastack[-1][-1] if self.metastack and self.metastack[-1] else None
            if not isinstance(target, list):
                self._refuse(f"{type(target).__name__} (appended to)")
            pickle._Unpickler.load_appends(self)

        def load_refused(self):
            self._refuse("an object made by a class's own construction (NEWOBJ, OBJ, INST), kept elsewhere, or "
                         "a set or a dict that torch.save does not write")

        for _op, _f in ((pickle.REDUCE, load_reduce), (pickle.BUILD, load_build), (pickle.SETITEM, load_setitem),
                        (pickle.SETITEMS, load_setitems), (pickle.APPEND, load_append),
                        (pickle.APPENDS, load_appends)):
            dispatch[_op[0]] = _f
        for _op in (pickle.NEWOBJ, pickle.NEWOBJ_EX, pickle.OBJ, pickle.INST, pickle.EXT1, pickle.EXT2, pickle.EXT4,
                    pickle.PERSID, pickle.ADDITEMS, pickle.EMPTY_SET, pickle.FROZENSET, pickle.DICT):
            dispatch[_op[0]] = load_refused
        del _op, _f

        @property
        def persistent_load(self):
            return self._storage

        @persistent_load.setter
        def persistent_load(self, torch_own):
            def storage(pid):  # (a storage of the zip: its record as large as the pickle says)
                size = None
                if type(pid) is tuple and len(pid) == 5 and type(pid[4]) is int and pid[4] >= 0:
                    kind, key, numel = pid[1], pid[2], pid[4]
                    size = _Restricted.records.get(f"data/{key}") if isinstance(key, str) else None
                    dtype = torch.uint8 if kind is torch.UntypedStorage else getattr(kind, "dtype", None)
                if size is None or not isinstance(dtype, torch.dtype) or \
                        numel * torch._utils._element_size(dtype) > size:
                    raise pickle.UnpicklingError(f"a storage ({type(pid).__name__}) that is not one of the zip's "
                                                 "records as large as it says")  # (no repr: nested, it is huge)
                if dtype not in _Restricted.dtypes:  # (complex, bool, quantized: a traceback when written)
                    raise pickle.UnpicklingError(f"a storage of {dtype}; vggcl's files hold float and integer "
                                                 "tensors")
                return torch_own(pid)
            self._storage = storage

    @staticmethod
    def load(f, **kwargs):
        return _Restricted.Unpickler(f, **kwargs).load()


def _restricted_load(path):
    """torch.load of path's bytes (read once) with _Restricted as its unpickler (None where this torch has
    none to stand in for); a TorchScript archive (torch.load hands it to torch.jit.load, which runs its code)
    and torch's format before 1.6 (its reading let the pickle write into freed memory) refused."""
    ser = torch.serialization
    if _Restricted.allowed is None or not hasattr(ser, "_weights_only_unpickler"):
        return None
    with open(path, "rb") as f:
        data = f.read()
    if data[:4] != b"PK\x03\x04":  # (torch's own test)
        raise Refused("not in torch.save's zip format (one saved before torch 1.6, or not a checkpoint): the old "
                      f"format is read only by running its pickle unchecked; {TRUST} (or save it again)")
    try:
        reader = torch._C.PyTorchFileReader(io.BytesIO(data))  # (torch's reader: the records it will read)
        names = reader.get_all_records()
        records = {n: len(reader.get_record(n)) for n in names if n.startswith("data/")}
    except RuntimeError as e:
        raise ValueError(f"not a zip torch reads ({str(e).splitlines()[0]})") from None
    if "constants.pkl" in names:
        raise _Beyond("TorchScript archive (its code would run)")
    own, ser._weights_only_unpickler = ser._weights_only_unpickler, _Restricted
    _Restricted.records = records
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    finally:
        ser._weights_only_unpickler, _Restricted.records = own, None


def _torch_load(path, trust):
    """(object, whether its pickle ran): torch.load without running code of the file's (through _Restricted;
    torch's own weights_only where there is none to stand in); a whole pickled model needs its classes, which
    only running the pickle makes: with trust alone (a file from elsewhere could run any code as it was
    read)."""
    if trust:
        try:
            with warnings.catch_warnings():  # (torch's advice to call torch.jit.load, which it then does itself)
                warnings.filterwarnings("ignore", message=".*looks like a TorchScript archive")
                return torch.load(path, map_location="cpu", weights_only=False), True
        except TypeError:  # (a torch without weights_only)
            return torch.load(path, map_location="cpu"), True
    try:
        got = _restricted_load(path)
        if got is not None:
            return got, False
        return torch.load(path, map_location="cpu", weights_only=True), False
    except TypeError as e:
        if "weights_only" not in str(e):
            raise
        why = "this PyTorch's torch.load has no weights_only: reading the file runs its pickle"
    except _Beyond as e:
        why = f"it holds objects besides tensors, numbers and strings ({e.what})"
    except pickle.UnpicklingError as e:  # (torch's own weights_only, where _Restricted cannot stand in)
        if "Unsupported class " in str(e):
            why = f"it holds objects besides tensors, numbers and strings ({str(e).split('Unsupported class ')[-1]})"
        elif str(e).startswith("Weights only load failed"):  # (torch's words for any RuntimeError of the load)
            raise Refused(f"not a checkpoint torch can read ({str(e).strip().splitlines()[-1][-200:]})") from None
        else:
            raise  # (not a pickle: "not a PyTorch checkpoint")
    raise Refused(f"{why}: a whole model, or other objects, which only running the file's pickle reads; {TRUST} "
                  "(or save the state_dict alone)")


def _unwrapped(module):
    """module without DataParallel, DistributedDataParallel and torch.compile's wrappers."""
    while True:
        if isinstance(module, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            module = module.module
        elif hasattr(module, "_orig_mod"):
            module = module._orig_mod
        else:
            return module


HEAD_LAYERS = "vggcl's heads are Linear layers with ReLU between them (Dropout is fine)"
FEATURE_LAYERS = ("Conv2d", "ReLU", "BatchNorm2d", "MaxPool2d")  # (by their classes' names: a TorchScript's)
FEATURE_LAYERS_SAID = f"vggcl's features are {', '.join(FEATURE_LAYERS[:-1])} and {FEATURE_LAYERS[-1]}"
NEUTRAL = (nn.Identity, nn.Flatten, nn.modules.dropout._DropoutNd)  # (nothing at inference)


def _leaves(module, prefix):
    """(name, layer) of module's layers in order, containers and wrappers gone through, a layer used in several
    places at each (one MaxPool2d for all the pools: named_modules gave it once, and the pools after it were
    left out of the features' numbering)."""
    for name, m in module.named_modules(prefix=prefix, remove_duplicate=False):
        if not isinstance(_unwrapped(m), nn.Sequential) and not list(m.children()):
            yield name, m


def _check_structure(module):
    """Refuses a whole model whose layers vggcl would run otherwise than it does (its weights alone would give
    other logits, without a word): vggcl runs 3x3 convolutions (stride 1, padding 1) each followed by ReLU
    (BatchNorm with torchvision's eps between), 2x2 max pools after a ReLU, an average pool to 1x1 (or 7x7
    for torchvision's classifier), and Linear layers with ReLU between them and none after the last; Dropout,
    Identity and Flatten are nothing at inference. Returns its notes: a final Softmax or LogSoftmax left out
    (vggcl gives the logits: the same probabilities), a model without an avgpool."""
    def refuse(name, m, what):
        raise Refused(f"model.{name} is {m!r}: {what}")

    if not _is_vgg(module):
        return []  # (not a VGG's layout: layout() names what the weights lack)
    size = lambda v: (v, v) if isinstance(v, int) else tuple(v)  # noqa: E731
    # features: conv [bn] relu [pool], repeated
    order = {"conv": ("bn", "relu"), "bn": ("relu",), "relu": ("conv", "pool"), "pool": ("conv",)}
    after, name, m = None, "features", module.features
    for name, m in _leaves(module.features, "features"):
        if isinstance(m, NEUTRAL):
            continue
        if isinstance(m, nn.Conv2d):
            kind, pad = "conv", (1, 1) if m.padding == "same" else size(m.padding)
            if (m.kernel_size, m.stride, pad, m.dilation, m.groups) != ((3, 3), (1, 1), (1, 1), (1, 1), 1) \
                    or m.padding_mode != "zeros":  # (bias=False: read with a bias of 0, as torch computes it)
                refuse(name, m, "vggcl runs 3x3 convolutions of stride 1 and zero padding 1")
        elif isinstance(m, (nn.BatchNorm2d, nn.SyncBatchNorm)):  # (SyncBatchNorm: convert_sync_batchnorm's)
            kind = "bn"
            if abs(m.eps - 1e-5) > 1e-12 or not m.track_running_stats:  # (affine=False: scale 1, shift 0)
                refuse(name, m, "vggcl folds BatchNorm with eps 1e-05 (torchvision's) and its running statistics")
        elif isinstance(m, nn.MaxPool2d):
            kind = "pool"
            if (size(m.kernel_size), size(m.stride or m.kernel_size), size(m.padding), size(m.dilation)) != \
                    ((2, 2), (2, 2), (0, 0), (1, 1)) or m.ceil_mode:
                refuse(name, m, "vggcl runs 2x2 max pools of stride 2" + (
                    " that round down (one with ceil_mode=True is read through torch.onnx.export and "
                    "weights/import_onnx.py, which runs it where its maps are even)" if m.ceil_mode else ""))
        elif isinstance(m, nn.ReLU):
            kind = "relu"
        else:
            refuse(name, m, FEATURE_LAYERS_SAID)
        if kind not in (order[after] if after else ("conv",)):
            refuse(name, m, "vggcl's features are 3x3 convolutions each followed by ReLU (BatchNorm between), and "
                            "max pools after a ReLU")
        after = kind
    if after not in ("relu", "pool"):
        refuse(name, m, "the features end here; vggcl's end with a ReLU or a max pool")
    pool = getattr(module, "avgpool", None)  # (one pooling in forward() has none: its features and head checked)
    pool = _unwrapped(pool) if isinstance(pool, nn.Module) else None
    out = pool.output_size if isinstance(pool, nn.AdaptiveAvgPool2d) else None
    if pool is not None and (tuple(out) if isinstance(out, (tuple, list)) else (out, out)) not in ((1, 1), (7, 7)):
        refuse("avgpool", pool, "vggcl averages the map to 1x1 (GAP), or to 7x7 for torchvision's classifier" + (
            " (an AvgPool2d's kernel is the map's size at one input size alone: nn.AdaptiveAvgPool2d(1) averages "
            "any, as vggcl does; or export the state_dict, with --pool5 drop where the features end without it)"
            if isinstance(pool, nn.AvgPool2d) else ""))
    # the head: linear (relu linear)* [softmax]
    after, name, m, notes = None, "classifier", module.classifier, []
    for name, m in _leaves(module.classifier, "classifier"):
        if isinstance(m, NEUTRAL):
            continue
        if after == "softmax":
            refuse(name, m, f"it follows the {type(notes[0]).__name__}; {HEAD_LAYERS}")
        # (dim None: torch's implicit dim, 1 for the head's (N, classes) logits, with a warning; it was refused)
        if isinstance(m, (nn.Softmax, nn.LogSoftmax)) and after == "linear" and m.dim in (None, 1, -1):
            after, notes = "softmax", [m]  # (left out, said: as import_onnx.py drops a final Softmax)
            continue
        if not isinstance(m, (nn.Linear, nn.ReLU)):
            refuse(name, m, HEAD_LAYERS)
        kind = "linear" if isinstance(m, nn.Linear) else "relu"
        if kind == after or (after is None and kind == "relu"):
            refuse(name, m, HEAD_LAYERS + (": no ReLU before this one" if kind == "linear" else ""))
        after = kind
    if after not in ("linear", "softmax"):
        refuse(name, m, "the head ends here; vggcl's ends with the Linear layer that gives the logits")
    if notes:
        notes = [f"the head's final {type(notes[0]).__name__} is left out: vggcl gives the logits (classify's "
                 "probabilities are their softmax, as the model's; `vggcl run` writes the logits, not the model's "
                 "outputs)"]
    return notes + ([] if pool is not None else [
        "the model has no avgpool, so what its forward() does between the features and the classifier is not "
        "known: vggcl averages the map as the head's width says (to 1x1, or to 7x7 for a head 49 times as wide); "
        "compare the logits"])


def _is_vgg(module):
    return all(isinstance(getattr(module, part, None), nn.Module) for part in ("features", "classifier"))


def _module_weights(module, notes):
    """A whole model's state_dict and what its structure says of pool5 (None: not a VGG's features); what
    cannot be checked added to notes. A module holding the VGG as one of its parts (a LightningModule's
    self.model beside its loss) gives that part's. The features' layers are numbered as torchvision numbers
    them, their order in the features without the Dropout, Identity and Flatten layers and containers between
    (each such layer took an index, which vggcl reads as the place of a max pool: other logits, unsaid)."""
    module = _unwrapped(module)
    if not _is_vgg(module):
        parts = [(name, _unwrapped(m)) for name, m in module.named_children() if _is_vgg(_unwrapped(m))]
        if len(parts) == 1:
            notes.append(f"the network is the model's '{parts[0][0]}' (a wrapper's part, as a LightningModule's): "
                         "its weights read, the wrapper's other parts left out")
            module = parts[0][1]
    notes.extend(_check_structure(module))
    # (any BatchNorm in training mode: one put back in train() alone, as fine-tuning with the others frozen does,
    # went unsaid where the top module was in eval mode)
    training = [name for name, m in module.named_modules()
                if m.training and isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if training:
        more = f" and {len(training) - 1} more were" if len(training) > 1 else " was"
        what = ("the model was saved in training mode (model.train())" if module.training else
                f"its BatchNorm '{training[0]}'{more} saved in training mode (.train())")
        notes.append(f"{what}, where BatchNorm normalizes by each batch's own statistics: vggcl computes "
                     "model.eval()'s answer (the running statistics), so compare it with model.eval()'s")
    feats = getattr(module, "features", None)
    feats = _unwrapped(feats) if isinstance(feats, nn.Module) else None
    pool5, sd = None, module.state_dict()
    if isinstance(feats, nn.Sequential) and len(feats):  # (the last layer that does something: a Dropout after
        last = [m for _, m in _leaves(feats, "features") if not isinstance(m, NEUTRAL)]  # pool5 said "drop")
        pool5 = "keep" if last and isinstance(last[-1], nn.MaxPool2d) else "drop"
        if _is_vgg(module):  # (its layers checked: numbered as torchvision numbers them)
            sd = {**{f"features.{i}.{k}": v for i, m in enumerate(last) for k, v in m.state_dict().items()},
                  **{k: v for k, v in sd.items() if not k.startswith("features.")}}
    return sd, pool5


def load_weights(path, trust=False, notes=None, parts=None, key=None):
    """(state_dict of tensors with torchvision's names, pool5 as a whole model or a vggcl file says it or
    None, how it was found, whether a pickle ran to read it, a safetensors file's vggcl.* metadata). Refused
    naming what the file holds when it holds no VGG weights; a pickle is run with trust alone; what could not
    be checked added to notes. parts: {"features": PREFIX, "classifier": PREFIX}, where the network keeps
    them under other names (--features, --head; None: not given). key: a checkpoint dict's entry to read
    (--key; None: the first of CHECKPOINT_KEYS it has)."""
    notes = [] if notes is None else notes
    try:
        if os.path.isfile(path) and os.path.getsize(path) == 0:  # (with --trust-pickle: a traceback)
            raise Refused("empty (0 bytes): not a checkpoint")
        if _is_safetensors(path):
            if key is not None:
                raise Refused(f"--key {key!r}: a safetensors file holds one set of weights (export it without --key)")
            try:
                arrays, meta = load_file(path)
            except ValueError as e:  # (it was said to be no PyTorch checkpoint)
                raise Refused(f"a safetensors file the format does not allow: {e}") from None
            kept = {k: v for k, v in meta.items() if k.startswith("vggcl.") and k != "vggcl.pool5"}
            pool5 = meta.get("vggcl.pool5") if meta.get("vggcl.pool5") in ("keep", "drop") else None
            # (the names as a .pt's: accelerate and DDP write 'module.' ones; they were refused here alone)
            sd = {k: torch.from_numpy(v.copy()) for k, v in arrays.items()}
            return _torchvision_names(sd, notes, parts), pool5, "safetensors", False, kept
        obj, pickled = _torch_load(path, trust)
    except Refused:
        raise
    except (OSError, EOFError) as e:  # (EOFError has no strerror: a traceback)
        raise Refused(getattr(e, "strerror", None) or str(e) or type(e).__name__)
    except Exception as e:  # noqa: BLE001
        first = str(e).splitlines()[0] if str(e) else ""
        if trust and (isinstance(e, ModuleNotFoundError) or isinstance(e, AttributeError) and
                      first.startswith("Can't get attribute")):  # (pickle's words: a class its program defines)
            raise Refused(f"the file's pickle names a class this Python cannot make ({type(e).__name__}: {first}): "
                          "a whole model's class is its own program's: export its state_dict "
                          "(torch.save(model.state_dict(), ...)), or run this with the module that defines the class "
                          "on PYTHONPATH") from None
        raise Refused(f"not a PyTorch checkpoint ({type(e).__name__}: {first})")
    how, pool5 = "state_dict", None
    if isinstance(obj, torch.jit.ScriptModule):  # (its layers are script modules: its state_dict, by their names)
        pool5, obj, how = _script_pool5(obj), obj.state_dict(), "TorchScript archive's state_dict"
    if isinstance(obj, nn.Module):
        obj, pool5 = _module_weights(obj, notes)
        how = "whole model"
    elif key is not None and not (isinstance(obj, dict) and not all(torch.is_tensor(v) for v in obj.values())):
        raise Refused(f"--key {key!r}: the file holds a {'state_dict' if isinstance(obj, dict) else 'model'}, "
                      "not a checkpoint of several entries (export it without --key)")
    elif isinstance(obj, dict) and not all(torch.is_tensor(v) for v in obj.values()):
        if key is not None and key not in obj:
            keys = ", ".join(repr(k) for k in list(obj)[:8] if isinstance(k, str)) + (", ..." if len(obj) > 8 else "")
            raise Refused(f"--key {key!r}: the checkpoint has no such entry (its entries: {keys})")
        for k in (key,) if key is not None else CHECKPOINT_KEYS:
            v = obj.get(k)
            if isinstance(v, nn.Module):
                obj, pool5 = _module_weights(v, notes)
                how = f"checkpoint['{k}'], a whole model"
                break
            if isinstance(v, dict) and v and all(torch.is_tensor(t) for t in v.values()):
                others = [o for o, w in obj.items() if o != k and isinstance(w, dict) and w and isinstance(o, str)
                          and all(torch.is_tensor(t) for t in w.values()) and w.keys() == v.keys()]
                if others and key is None:  # (an EMA copy beside the model's: which was meant is the user's to say)
                    notes.append(f"the checkpoint holds other weights of the same network too ({', '.join(others)}): "
                                 f"'{k}' was read; for another, give --key {others[0]}")
                obj, how = v, f"checkpoint['{k}']"
                break
        else:
            if key is not None:
                raise Refused(f"--key {key!r}: checkpoint['{key}'] is of type {type(obj[key]).__name__}, not a "
                              "state_dict or a model")
            keys = ", ".join(k[:40] if isinstance(k, str) else type(k).__name__ for k in list(obj)[:6]) + \
                (", ..." if len(obj) > 6 else "")  # (no str of a key: a nested tuple's is huge)
            raise Refused(f"a dict ({keys}) with no model weights under {', '.join(CHECKPOINT_KEYS)}")
    if not isinstance(obj, dict) or not obj:
        raise Refused(f"holds a {type(obj).__name__}, not a state_dict or a model")
    return _torchvision_names(obj, notes, parts), pool5, how, pickled, {}


def _script_pool5(module):
    """A TorchScript archive's pool5 ('keep', 'drop'; None where it has no features part), its features' layers
    checked by the names of their classes: a Dropout or Identity there kept its index in the state_dict, which
    vggcl reads as a max pool's place (other logits, unsaid); refused so (torch.save(model) is numbered anew)."""
    feats = getattr(module, "features", None)
    if not isinstance(feats, torch.jit.ScriptModule):
        return None
    kinds = [(name, getattr(m, "original_name", type(m).__name__)) for name, m in feats.named_children()]
    for name, kind in kinds:
        if kind not in FEATURE_LAYERS:
            raise Refused(f"a TorchScript archive whose features hold a {kind} (features.{name}): its weights' "
                          f"numbering would place a max pool there ({FEATURE_LAYERS_SAID}); export the model's "
                          "state_dict with the layer left out, or torch.save(model) (read with --trust-pickle)")
    return "keep" if kinds and kinds[-1][1] == "MaxPool2d" else "drop"


def _torchvision_names(obj, notes, parts=None):
    """obj's tensors by torchvision's names: wrappers' prefixes read away (DataParallel's and
    DistributedDataParallel's 'module.', torch.compile's '_orig_mod.', a LightningModule's attribute), the
    parts (load_weights) renamed features and classifier."""
    named = {}
    for k, v in obj.items():
        if not isinstance(k, str):
            raise Refused(f"a key of type {type(k).__name__}; expected tensor names")
        name = k
        for prefix in ("module.", "_orig_mod."):  # (DataParallel, DistributedDataParallel, torch.compile)
            while name.startswith(prefix):
                name = name[len(prefix):]
            while f".{prefix}" in name:  # (a part wrapped: PyTorch's ImageNet example wraps VGG's features alone)
                name = name.replace(f".{prefix}", ".")
        named[name] = v
    given = sorted(((g, ours) for ours, g in (parts or {}).items() if g and g != ours), key=lambda t: -len(t[0]))
    option = {"features": "--features", "classifier": "--head"}
    for g, ours in given:  # (the names given for the parts: each taken, and no tensors of the parts' own beside)
        if not any(k.startswith(g + ".") for k in named):
            raise Refused(f"no tensors under '{g}.' ({option[ours]}); the names begin "
                          f"{', '.join(sorted({k.split('.')[0] for k in named})[:6])} ('module.' and '_orig_mod.' "
                          "read away first)")
        own = [k for k in named if k.startswith(ours + ".") and not any(k.startswith(h + ".") for h, _ in given)]
        if own:
            raise Refused(f"tensors under '{ours}.' ({own[0]}, ...) beside {option[ours]} {g}'s, which would take "
                          f"their names: which is the network's is not guessed")
    sd = {}
    for k, v in named.items():
        hit = next(((g, ours) for g, ours in given if k.startswith(g + ".")), None)  # (the longest prefix)
        sd[hit[1] + k[len(hit[0]):] if hit else k] = v
    sd = _without_wrapper(sd, notes)
    # (both parts named, the network is them: an auxiliary head's tensors beside were refused all the same; one
    # alone named, what is outside is said by layout(), which names the option for the other part)
    if parts and all(parts.values()) and any(k.startswith("features.") for k in sd) and \
            any(k.startswith("classifier.") for k in sd):
        left = sorted(k for k in sd if not k.startswith(("features.", "classifier.")))
        if left:
            notes.append(f"left out, not under --features or --head: {', '.join(left[:3])}"
                         f"{', ...' if len(left) > 3 else ''}")
        sd = {k: v for k, v in sd.items() if k.startswith(("features.", "classifier."))}
    return sd


def _without_wrapper(sd, notes):
    """sd with torchvision's names where the network's are all under one prefix (PyTorch Lightning's
    'model.', a wrapper's attribute), the tensors outside it (a weighted loss's 'criterion.weight') left out
    and named in notes; else sd as it is (layout() names what does not fit)."""
    if any(k.startswith(("features.", "classifier.")) for k in sd):
        return sd
    prefixes = {k[:k.index(".features.") + 1] for k in sd if ".features." in k}
    prefixes = [p for p in prefixes if any(k.startswith(p + "classifier.") for k in sd)]
    if len(prefixes) != 1:
        return sd
    p = prefixes[0]
    left = sorted(k for k in sd if not k.startswith(p))
    notes.append(f"the network's tensors are under '{p}' (a wrapper's attribute, as a LightningModule's): read "
                 "without it" + (f"; left out: {', '.join(left[:3])}{', ...' if len(left) > 3 else ''}" if left
                                 else ""))
    return {k[len(p):]: v for k, v in sd.items() if k.startswith(p)}


def layout(sd):
    """What the weights are: (arch with _bn, head kind 'gap' or 'original' or 'chain', classes,
    tensors with the head's names as vggcl reads them). Refused when they are not a torchvision VGG's."""
    other = sorted(k for k in sd if not k.startswith(("features.", "classifier.")))
    if other:
        raise Refused(f"tensors outside features.* and classifier.* ({', '.join(other[:3])}"
                      f"{', ...' if len(other) > 3 else ''}): not a torchvision VGG's names (a network that keeps "
                      "them under others: --features PREFIX and --head PREFIX name them; given, even as features "
                      "and classifier, the tensors outside them, an auxiliary head's, are left out)")
    for k in sd:  # (numbered as torchvision's nn.Sequential numbers them: a name was read as a number)
        parts = k.split(".")
        if not (len(parts) == 3 and parts[1].isdigit() or k in ("classifier.weight", "classifier.bias")):
            raise Refused(f"the tensor '{k}': expected features.N.* and classifier.N.* (torchvision's numbered "
                          "nn.Sequential layers) or classifier.weight and .bias")
    convs = sorted((int(k.split(".")[1]), v.shape) for k, v in sd.items()
                   if k.startswith("features.") and k.endswith(".weight") and v.dim() == 4)
    if not convs:
        raise Refused("no convolution weights (features.N.weight): not a torchvision VGG")
    bn = any(k.endswith(".running_mean") for k in sd if k.startswith("features."))
    widths = [s[0] for _, s in convs]
    arch = None
    for name, cfg in ARCHS.items():
        if widths == [c for c in torchvision.models.vgg.cfgs[cfg] if c != "M"]:
            arch = name + ("_bn" if bn else "")
    step = 3 if bn else 2  # (a conv, [its BatchNorm,] its ReLU; a max pool one more)
    if arch is None:  # (other widths, as torchvision's make_layers builds any cfg: its numbers say where the pools are)
        if convs[0][0] or any(j - i not in (step, step + 1) for (i, _), (j, _) in zip(convs, convs[1:])):
            raise Refused(f"{len(widths)} convolutions of {','.join(map(str, widths))} channels: none of "
                          "torchvision's vgg11, vgg13, vgg16, vgg19, nor numbered as its make_layers numbers another "
                          f"(features.0 the first convolution, each next {step} on, or {step + 1} past a max pool)")
        arch = f"custom VGG{'_bn' if bn else ''} ({','.join(map(str, widths))})"
    norms = _batch_norms(sd, {i for i, _ in convs})  # (first: one without running statistics said as such)
    # numbered as torchvision numbers that arch: a layer without weights between the convolutions (a Dropout)
    # shifts the numbers after it, which vggcl reads as a max pool's place (other logits, written unsaid); a
    # custom one's numbers are its pools' places
    want, at = [i for i, _ in convs] if arch.startswith("custom") else [], 0
    for c in [] if want else torchvision.models.vgg.cfgs[ARCHS[arch[:5]]]:
        if c != "M":
            want.append(at)
        at += 1 if c == "M" else step
    for k, ((i, _), j) in enumerate(zip(convs, want)):
        if i != j:
            raise Refused(f"features.{i} is {arch}'s convolution {k + 1}, which torchvision numbers features.{j}: "
                          "a layer without weights between the convolutions (a Dropout?) shifts the numbers, and "
                          "vggcl would read a max pool in its place; export the state_dict of the model without it, "
                          "or torch.save(model) (read with --trust-pickle), whose layers say what they are")
    c_in = 3  # (each a 3x3 convolution of the channels before it, the image's RGB first: vggcl refused it at load)
    for i, shape in convs:
        if tuple(shape[1:]) != (c_in, 3, 3):
            raise Refused(f"the tensor 'features.{i}.weight' {tuple(shape)}: expected ({shape[0]}, {c_in}, 3, 3), a "
                          f"3x3 convolution of the {c_in} {'RGB channels' if c_in == 3 else 'channels before it'}")
        c_in = shape[0]
    linear = sorted((int(k.split(".")[1]) if k.count(".") == 2 else -1, k.rsplit(".", 1)[0])
                    for k, v in sd.items() if k.startswith("classifier.") and k.endswith(".weight"))
    if not linear:
        raise Refused("no classifier weights (classifier.weight or classifier.N.weight)")
    out = {**{k: v for k, v in sd.items() if k.startswith("features.")}, **norms}
    width = widths[-1]
    head = _dense_chain(sd, linear, width)
    if len(head) == 1 and head[0][1].shape[1] == width:  # nn.Linear, maybe after dropout
        kind = "gap"
    else:
        kind = "original" if [i for i, _ in linear] == [0, 3, 6] and head[0][1].shape[1] == width * 49 else "chain"
    # numbered 0, 2, 4, ... in their order, as torch numbers Linear, ReLU, Linear (vggcl reads a ReLU between,
    # and refuses layers next to each other): a first layer at classifier.1 (after a Dropout) read a 7x7 map as
    # GAP's features; torchvision's own numbers kept as they are
    for j, (name, w, b) in enumerate(head):
        at = name if kind == "original" else f"classifier.{2 * j}"
        out[f"{at}.weight"], out[f"{at}.bias"] = w, b
    return arch, kind, head[-1][1].shape[0], out


def _batch_norms(sd, convs):
    """The weight and bias of each BatchNorm of the features that has none (affine=False: the scale 1 and shift 0
    it computes with), by name; Refused, naming it, where one lacks a tensor vggcl folds (it was written, and
    vggcl refused it: "neither a conv nor a BatchNorm with weight, bias, running_mean and running_var")."""
    added = {}
    layers = sorted({int(k.split(".")[1]) for k, v in sd.items() if k.startswith("features.") and k.count(".") == 2
                     and k.split(".")[1].isdigit() and int(k.split(".")[1]) not in convs})
    for i in layers:
        have = {k.rsplit(".", 1)[1] for k in sd if k.startswith(f"features.{i}.")} - {"num_batches_tracked"}
        stats = {"running_mean", "running_var"}
        if not stats <= have:
            raise Refused(f"features.{i} ({', '.join(sorted(have)) or 'num_batches_tracked'}) is no BatchNorm vggcl "
                          "can fold: it lacks "
                          f"{' and '.join(sorted(stats - have))} (one that keeps no running statistics normalizes "
                          "each batch by its own)")
        if have.isdisjoint({"weight", "bias"}):
            n = sd[f"features.{i}.running_mean"].numel()
            added[f"features.{i}.weight"], added[f"features.{i}.bias"] = torch.ones(n), torch.zeros(n)
        elif not {"weight", "bias"} <= have:
            raise Refused(f"features.{i} is a BatchNorm without its {({'weight', 'bias'} - have).pop()}")
    return added


def _dense_chain(sd, linear, width):
    """The head's dense layers [(name, weight, bias)] in order, each checked as vggcl reads a head: Linear
    layers (2-D weights, a bias each: zeros for one without), each taking the one before's outputs, the first
    the last conv's width (GAP) or its width x 7 x 7 (torchvision's pooled map). Refused naming the tensor
    otherwise (a file vggcl would then refuse, or read otherwise)."""
    for k, v in sd.items():  # (a BatchNorm1d's running statistics; its 1-D weight is refused below)
        if k.startswith("classifier.") and not k.endswith((".weight", ".bias")):
            raise Refused(f"the tensor '{k}' {tuple(v.shape)}: a head layer that is not nn.Linear (BatchNorm1d?); "
                          + HEAD_LAYERS + "; torch.onnx.export and weights/import_onnx.py fold a BatchNorm1d into "
                          "the layer before it")
    head, need = [], None
    for (i, _), (k, name) in zip([(None, None)] + linear, linear):
        if i is not None and k == i + 1:  # (nn.Sequential(Linear, Linear): no ReLU between)
            raise Refused(f"the tensors 'classifier.{i}.weight' and '{name}.weight': dense layers next to each "
                          f"other, with no place for the ReLU between them; " + HEAD_LAYERS)
        w, b = sd[name + ".weight"], sd.get(name + ".bias")
        if w.dim() != 2:
            raise Refused(f"the tensor '{name}.weight' {tuple(w.shape)}: a head layer that is not nn.Linear; "
                          + HEAD_LAYERS)
        if b is None:  # (nn.Linear(bias=False): a bias of zeros computes the same, as a conv's is filled in)
            b = torch.zeros(w.shape[0], dtype=w.dtype)
        if tuple(b.shape) != (w.shape[0],):
            raise Refused(f"the tensor '{name}.bias' is {tuple(b.shape)}; expected ({w.shape[0]},), one for each "
                          "output of the layer")
        ok = (w.shape[1] == need) if need is not None else w.shape[1] in (width, width * 49)
        if not ok:
            raise Refused(f"the tensor '{name}.weight' {tuple(w.shape)}: expected (N, {need}), the outputs of the "
                          "layer before" if need is not None else
                          f"the tensor '{name}.weight' {tuple(w.shape)}: the head's first layer takes the last conv's "
                          f"{width} channels (GAP), or {width * 49} (its 7x7 map, torchvision's classifier)")
        head.append((name, w, b))
        need = w.shape[0]
    if len(head) > MAX_DENSE:
        raise Refused(f"a head of {len(head)} dense layers; vggcl runs at most {MAX_DENSE}")
    return head


def _floats(text, what):
    try:
        v = [float(x) for x in text.split(",")]
    except ValueError:
        v = []
    if len(v) != 3 or not all(map(math.isfinite, v)):
        raise BadArgument(f"{what} {text!r}: expected three numbers R,G,B")
    if what == "--std" and min(v) <= 0:
        raise BadArgument(f"--std {text!r}: each must be > 0")
    return ",".join(repr(x) for x in v)


def _norm_in_float_range(meta):
    """Refuses the metadata's mean and std (given, or a vggcl file's; torchvision's for one not there) where
    together they take pixel values past a float32's range, as vggcl refuses such a file at load
    (host/io/preprocess.c's vggcl__norm_finite): it was written. Values that are not three numbers are the
    loader's to refuse."""
    import numpy as np
    mean, std = (meta.get(k, PRESET_DEFAULTS[k]) for k in ("vggcl.mean", "vggcl.std"))
    try:
        m, s = (np.array([float(x) for x in v.split(",")], np.float32) for v in (mean, std))
    except ValueError:
        return
    with np.errstate(all="ignore"):
        ok = m.shape != (3,) or s.shape != (3,) or (
            all(np.isfinite(v).all() for v in (m, s, 1 / s, (0 - m) / s, (1 - m) / s, m / s)) and (s > 0).all())
    if not ok:
        raise BadArgument(f"mean {mean} and std {std} take pixel values past a float's range (vggcl computes in "
                          "float32)")


class _Parser(argparse.ArgumentParser):
    """argparse's, its error of neither --state-dict nor --random saying what --seed alone now is (vggcl 0.2 made
    random weights of it)."""

    def error(self, message):
        if "--state-dict --random is required" in message and any(
                w == "--seed" or w.startswith("--seed=") for w in self.words):
            message += " (--seed alone, as vggcl 0.2 made random weights, now goes with --random: --random --seed N)"
        super().error(message)


def main(argv=None):
    ap = _Parser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.words = sys.argv[1:] if argv is None else list(argv)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--state-dict", help="your trained weights: a torch.save()d state_dict, checkpoint or whole "
                                          "model, or a safetensors file")
    src.add_argument("--random", action="store_true",
                     help="random weights drawn as torchvision initialises a VGG (Kaiming normal convolutions; the GAP "
                          "head nn.Linear's own), from --seed: not the values torchvision.models.vggNN() draws for it")
    ap.add_argument("--key", metavar="NAME", help="the checkpoint's entry to read (default the first of "
                                                  f"{', '.join(CHECKPOINT_KEYS)}; e.g. an EMA copy's)")
    ap.add_argument("--trust-pickle", action="store_true",
                    help="read a file that holds more than tensors, numbers and strings (a whole model: "
                         "torch.save(model)) by running its pickle, which can run any code: only for a file you "
                         "trust (without it such a file is refused)")
    ap.add_argument("--arch", choices=sorted(a + bn for a in ARCHS for bn in ("", "_bn")),
                    help="checked against the weights (with --random: which to make, default vgg16)")
    ap.add_argument("--classes", type=int, help="checked against the weights (with --random: default 7)")
    ap.add_argument("--original-head", action="store_true",
                    help="torchvision's classifier (e.g. its ImageNet weights) instead of the GAP head")
    ap.add_argument("--pool5", choices=["keep", "drop"], help="whether the model kept the max pool before GAP")
    ap.add_argument("--features", metavar="PREFIX",
                    help="where the weights keep the convolutions, if not under features (e.g. backbone)")
    ap.add_argument("--head", metavar="PREFIX",
                    help="where the weights keep the head, if not under classifier (e.g. head, fc)")
    ap.add_argument("--seed", type=int, default=None, help="seed for --random (default 0)")
    names = ap.add_mutually_exclusive_group()
    names.add_argument("--class-names", help="comma-separated class names, in output order")
    names.add_argument("--class-names-json", help='a JSON {"name": index} object (ImageFolder\'s class_to_idx), an '
                                                  '{"index": name} one (a name or a list ending with it, as Keras\'s '
                                                  "imagenet_class_index.json), or a list of names")
    add_preprocess_args(ap)
    ap.add_argument("--mean", help="... and (x/255 - mean)/std per channel: R,G,B")
    ap.add_argument("--std", help="R,G,B")
    ap.add_argument("--dtype", choices=["F32", "F16", "BF16"], default=None)
    ap.add_argument("--out", required=True)
    a = ap.parse_args(argv)
    if a.classes is not None and a.classes < 1:
        ap.error(f"--classes {a.classes}: expected at least 1")
    if a.seed is not None and not a.random:  # (taken without a word: the weights are the file's)
        ap.error("--seed goes with --random")
    if a.random and (a.features or a.head or a.key is not None):
        ap.error("--features, --head and --key name parts of the weights given with --state-dict")
    a.seed = a.seed or 0
    check_preprocess_args(ap, a)
    return run_converter(PROG, a.state_dict, a.out, lambda: export_file(a), "--state-dict")


def export_file(a):
    """The command's work: the line to print once the file is written (its notes said then)."""
    meta = {"format": "pt"}
    preprocess_meta(a, meta)
    for opt in ("mean", "std"):
        if getattr(a, opt) is not None:
            meta[f"vggcl.{opt}"] = _floats(getattr(a, opt), f"--{opt}")
    names = None
    if a.class_names is not None or a.class_names_json:
        try:
            names = read_class_names(a.class_names, a.class_names_json, ("--class-names", "--class-names-json"))
        except ValueError as e:
            raise BadArgument(str(e))
    guessed = False
    if a.random:
        arch, classes = a.arch or "vgg16", a.classes or 7
        pool5 = a.pool5 or "keep"
        model = original_model(arch, classes, a.seed) if a.original_head else gap_model(arch, classes, pool5, a.seed)
        tensors, kind, how = model.state_dict(), "original" if a.original_head else "gap", f"random, seed {a.seed}"
    else:
        notes = []
        sd, said_pool5, how, _, file_meta = load_weights(a.state_dict, a.trust_pickle, notes,
                                                          {"features": a.features, "classifier": a.head}, a.key)
        meta = dict(file_meta, **meta)  # (a vggcl file's class names and preprocessing, unless given again)
        arch, kind, classes, tensors = layout(sd)
        if names is None and "vggcl.classes" in meta:  # (a vggcl file's: checked as vggcl's loader checks them)
            try:
                kept = json.loads(meta["vggcl.classes"])
            except ValueError:
                kept = None
            if not (isinstance(kept, list) and len(kept) == classes and all(isinstance(n, str) for n in kept)):
                raise Refused(f"its metadata \"vggcl.classes\" is not a JSON list of {classes} names (as vggcl "
                              "reads them); give --class-names or --class-names-json")
        if arch.startswith("custom") and "whole model" not in how:  # (a Dropout between would shift them: unseen)
            notes.append("the convolutions' widths are none of torchvision's vggNN: the max pools are read where "
                         "the numbers skip one after a convolution's ReLU, as torchvision's make_layers numbers them "
                         "(a whole model, read with --trust-pickle, says what each layer is)")
        if a.arch and a.arch != arch:
            raise Refused(f"the weights are {arch}'s, not {a.arch}'s (--arch)")
        if a.classes is not None and a.classes != classes:
            raise Refused(f"the head has {classes} outputs, not {a.classes} (--classes)")
        if a.original_head and kind != "original":
            raise Refused("--original-head, but the classifier is not torchvision's (4096, 4096, classes after a "
                          "7x7 pool)")
        pool5 = a.pool5 or said_pool5 or "keep"
        # (a whole model's layers say it; a vggcl file's metadata may be an earlier export's guess: --pool5 wins)
        if said_pool5 and a.pool5 and a.pool5 != said_pool5 and how != "safetensors":
            raise Refused(f"--pool5 {a.pool5}, but the model's features end "
                          f"{'with' if said_pool5 == 'keep' else 'without'} a max pool")
        if said_pool5 and a.pool5 and a.pool5 != said_pool5:  # (as `vggcl run --pool5` says it of such a file)
            notes.append(f"its metadata said pool5 {said_pool5}, which its head was made for; --pool5 {a.pool5} "
                         "recorded in its place gives the head features it was not trained on, unless that metadata "
                         "was wrong")
        guessed = not a.pool5 and not said_pool5
        bad = [k for k, v in tensors.items() if v.is_floating_point() and not torch.isfinite(v).all()]
        if bad:
            raise Refused(f"the tensor '{bad[0]}' holds NaN or infinite values (a diverged training run?)")
        tensors = {k: (v.float() if v.is_floating_point() else v) for k, v in tensors.items()}
    meta["vggcl.pool5"] = pool5
    _norm_in_float_range(meta)
    write_model(tensors, meta, a.out, names, classes, dtype=a.dtype)
    for note in ([] if a.random else notes) + metadata_notes(meta):  # (once written: a refusal is one line)
        print(f"{PROG}: {a.state_dict or a.out}: note: {note}", file=sys.stderr)
    if a.class_names is not None and names and list(names[0]) != sorted(names[0]):  # (typed by hand: ImageFolder's?)
        print(f"{PROG}: --class-names: note: not in sorted order, as ImageFolder numbers its classes "
              f"({','.join(sorted(names[0])[:4])}{',...' if len(names[0]) > 4 else ''}): right only if the model's "
              "outputs are in the order given (a model trained on an ImageFolder: its dataset.classes)",
              file=sys.stderr)
    if guessed:
        print(f"{PROG}: {a.state_dict}: note: a state_dict does not say whether the model kept pool5 (the max pool "
              "after the last convolution): keep assumed; give --pool5 drop for a model trained without it",
              file=sys.stderr)
    head = {"gap": f"GAP head, pool5 {pool5}", "original": "torchvision's classifier"
            + (", pool5 drop" if pool5 == "drop" else ""),
            "chain": f"a chain of dense layers, pool5 {pool5}"}[kind]
    return written(a.out, f"{arch} ({how}), {head}", classes, names)


if __name__ == "__main__":
    sys.exit(main())
