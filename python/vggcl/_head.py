"""Training a GAP head on a trunk's features and writing it out as a model, as `vggcl train-head` does:
vggcl_train_head and vggcl_save_with_head, for features a Python program made (a notebook's images, its own
augmentation, its own split)."""
import ctypes
import itertools
import json
import math
from typing import Any, Callable, Optional, Sequence

import numpy as np

from . import (_INT_MAX, Error, Model, _bytes, _Context, _f, _i, _logger, _noting, _p, _PathLike, _sig, _softmax,
               _whole)


class _TrainEpoch(ctypes.Structure):
    _fields_ = [("epoch", ctypes.c_int), ("train_loss", ctypes.c_double), ("train_acc", ctypes.c_double),
                ("val_loss", ctypes.c_double), ("val_acc", ctypes.c_double)]


_EpochFn = ctypes.CFUNCTYPE(ctypes.c_int, _p, ctypes.POINTER(_TrainEpoch), ctypes.c_int)


class _TrainOptions(ctypes.Structure):
    _fields_ = [("epochs", ctypes.c_int), ("batch", ctypes.c_int), ("lr", ctypes.c_double),
                ("momentum", ctypes.c_double), ("l2", ctypes.c_double), ("seed", ctypes.c_ulonglong),
                ("on_epoch", _EpochFn), ("user", _p)]


_train_defaults = _sig("vggcl_train_defaults", None, ctypes.POINTER(_TrainOptions))
_train = _sig("vggcl_train_head", ctypes.c_int, _p, _f, _i, ctypes.c_int, ctypes.c_int, ctypes.c_int, _f, _i,
              ctypes.c_int, ctypes.POINTER(_TrainOptions), _f, _f, ctypes.POINTER(_TrainEpoch), _i)
_save = _sig("vggcl_save_with_head", ctypes.c_int, _p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_int, ctypes.c_int,
             _f, _f, ctypes.POINTER(ctypes.c_char_p), ctypes.c_int)


def _epoch_dict(e, validated):
    return {"epoch": e.epoch, "train_loss": e.train_loss, "train_acc": e.train_acc,
            "val_loss": e.val_loss if validated else None, "val_acc": e.val_acc if validated else None}


def _samples(features, labels, what):
    """(N, D) float32 features and (N,) int32 labels, C-contiguous, as the library reads them; Error naming what
    is wrong (what: "features" or "val")."""
    try:
        x = np.asarray(features)
        y = np.asarray(labels)
    except (TypeError, ValueError, RuntimeError) as e:  # (ragged lists; a tensor that requires grad)
        raise Error(f"train_head: {what}: {e}", "arg") from None
    if x.dtype.kind != "f" or x.ndim != 2:
        raise Error(f"train_head: {what} of {x.dtype} and shape {x.shape}; expected (N, D) floating point, a "
                    "trunk's features (Model.forward's second array)", "shape" if x.dtype.kind == "f" else "arg")
    # (whole floats taken: the command's --features-out labels are float32; bools as 0 and 1, as scikit-learn's)
    whole = y.dtype.kind in "biu" or (y.dtype.kind == "f" and bool(np.all(np.isfinite(y) & (y == np.round(y)))))
    if y.shape != (x.shape[0],) or not whole:
        raise Error(f"train_head: the labels of {what} are {y.dtype} of shape {y.shape}; expected ({x.shape[0]},) "
                    "class indices", "shape" if whole else "arg")
    if max(x.shape) > _INT_MAX:
        raise Error(f"train_head: {what} of shape {x.shape}: each dimension must fit in a C int", "shape")
    if y.size and (y.min() < 0 or y.max() > _INT_MAX):  # (as int32 a label past it would wrap, unsaid)
        at = int(np.flatnonzero((y < 0) | (y > _INT_MAX))[0])
        raise Error(f"train_head: label {at} of {what} is {int(y[at])}; expected a class index from 0 to "
                    f"{_INT_MAX}", "arg")
    return np.require(x, np.float32, ["C", "A"]), np.require(y.astype(np.int64, copy=False), np.int32, ["C", "A"])


class Head:
    """A dense head for a trunk's features: weight (classes, D) and bias (classes,) float32, applied to the raw
    features (logits = features @ weight.T + bias; train_head's standardization is folded in). As train_head
    gives it: epochs, a dict per epoch (epoch, train_loss, train_acc, val_loss, val_acc: mean cross-entropy and
    top-1, the val ones None without validation samples), and best_epoch, the one kept (the highest validation
    accuracy, then the lowest validation loss; without validation samples the lowest training objective, the loss
    plus l2 / 2 times the squared weights of the standardized features, what SGD minimizes). Made by a
    program from its own weights (a scikit-learn classifier's coef_ and intercept_; one class: a one-output head,
    its logit's sigmoid the probability), epochs is [] and best_epoch None: save() writes it all the same."""

    def __init__(self, weight: Any, bias: Any, epochs: Optional[list] = None, best_epoch: Optional[int] = None,
                 trained: Optional[str] = None) -> None:
        try:
            w, b = np.asarray(weight), np.asarray(bias)
        except (TypeError, ValueError, RuntimeError) as e:  # (ragged lists; a tensor that requires grad)
            raise Error(f"Head: {e}; expected (classes, D) and (classes,) floating point", "arg") from None
        if w.ndim != 2 or b.shape != (w.shape[0],) or w.dtype.kind != "f" or b.dtype.kind != "f" or not w.size:
            raise Error(f"Head: weight {w.dtype} of shape {w.shape} and bias {b.dtype} of shape {b.shape}; expected "
                        "(classes, D) and (classes,) floating point", "shape")
        self.weight, self.bias = w.astype(np.float32), b.astype(np.float32)
        self.epochs, self.best_epoch = list(epochs or []), best_epoch
        self._trained = trained  # (vggcl.trained's text: how it was trained)

    def __repr__(self):
        return f"<vggcl.Head {self.weight.shape[0]} classes x {self.weight.shape[1]} features, epoch {self.best_epoch}>"

    def logits(self, features: Any) -> np.ndarray:
        """features (N, D) -> (N, classes) logits, in float64 (as a check; the model save() writes computes them on
        the device)."""
        return np.asarray(features, np.float64) @ self.weight.T.astype(np.float64) + self.bias

    def probabilities(self, features: Any) -> np.ndarray:
        """features (N, D) -> (N, classes) probabilities, in float64, as the model save() writes gives them in
        classify: the softmax of the logits; of a one-output head, its logit's sigmoid. (A scikit-learn one-vs-rest
        classifier's predict_proba normalizes each class's sigmoid instead, so its head saved here gives other
        probabilities, the same order of classes; a multinomial one's is this softmax.)"""
        z = self.logits(features)  # (one image's (D,) features: its (classes,) probabilities)
        # (classify's own rule, _softmax: the sigmoid of one output and the softmax were written here a second time)
        return np.array([_softmax(row) for row in np.atleast_2d(z)]).reshape(z.shape)

    def save(self, path: _PathLike, trunk: Model, *, class_names: Optional[Sequence[str]] = None,
             preset: Optional[dict] = None, metadata: Optional[dict] = None) -> None:
        """Writes a model, as `vggcl train-head --out` does: the convolutions of trunk's file (the vggcl.Model whose
        features the head was trained on) and this head, with what the features were made with in its metadata:
        trunk's pool5, and the preprocessing, preset (a dict of resize, crop, mean, std, draft, as Model.preset
        gives and Model.preprocess takes them; those left out, and all of them where it is None, the trunk's), so
        that the model classifies images as the head was trained on them; class_names, the classes' names in
        order; metadata, more "key": "text" pairs for its __metadata__. Written whole or not at all (a failure
        leaves path as it was)."""
        if not isinstance(trunk, Model):
            raise Error(f"save: trunk is {trunk!r}; expected the vggcl.Model whose features the head was trained on",
                        "arg")
        classes, d = self.weight.shape
        if d != trunk.features:
            raise Error(f"save: a head of {d} features; {trunk.path} gives {trunk.features}", "shape")
        file = trunk._file_loaded()  # (the file as it was loaded: its convolutions are the features')
        unknown = set(preset or {}) - {"resize", "crop", "mean", "std", "draft"}
        if unknown:
            raise Error(f"save: preset has {sorted(unknown)}; expected resize, crop, mean, std and draft", "arg")
        p = trunk._preset(**(preset or {}))  # (checked as Model.preprocess checks it; the trunk's where not given)

        def rgb(v):  # (float32's shortest digits, as the command writes them)
            return ",".join(str(np.float32(c)) for c in v)
        meta = {"vggcl.pool5": trunk.pool5,
                "vggcl.resize": f"{p.resize},{p.resize_w}" if p.resize_w else str(p.resize), "vggcl.crop": str(p.crop),
                "vggcl.mean": rgb(p.mean), "vggcl.std": rgb(p.std), "vggcl.draft": str(int(p.draft))}
        if self._trained:
            meta["vggcl.trained"] = self._trained
        if class_names is not None:
            names = [class_names] if isinstance(class_names, str) else list(class_names)
            if len(names) != classes or not all(isinstance(n, str) for n in names):
                raise Error(f"save: class_names is {class_names!r}; expected {classes} name{'s' if classes > 1 else ''}"
                            " (str)" + (", its positive class's (a one-output head's logit is that class's: "
                                        "scikit-learn's classes_[1])" if classes == 1 else ""), "arg")
            meta["vggcl.classes"] = json.dumps(names, ensure_ascii=False)
        for k, v in (metadata or {}).items():
            if not isinstance(k, str) or not isinstance(v, str):
                raise Error(f"save: metadata {k!r}: {v!r}; expected str keys and str values", "arg")
            if k in meta:  # (it replaced them: pool5 "drop" written of a head trained on pool5 kept)
                raise Error(f"save: metadata {k!r} is one save writes itself, from trunk, class_names or preset",
                            "arg")
            meta[k] = v
        for k, v in meta.items():  # (a NUL ended the C string there, unsaid; a lone surrogate is no UTF-8)
            for text in (k, v):
                if "\0" in text or any(0xD800 <= ord(c) <= 0xDFFF for c in text):
                    raise Error(f"save: metadata {k!r} holds {'a NUL' if chr(0) in text else 'a lone surrogate'}; "
                                "expected UTF-8 text", "arg")
        pairs = (ctypes.c_char_p * (2 * len(meta)))(*[t.encode() for kv in meta.items() for t in kv])
        w = np.require(self.weight, np.float32, ["C", "A"])
        b = np.require(self.bias, np.float32, ["C", "A"])
        ctx = _Context()
        try:
            out = _bytes(path, "save: path")
            ctx.check(_save(ctx.ptr, file, out, classes, d, w.ctypes.data_as(_f),
                            b.ctypes.data_as(_f), pairs, len(meta)), out)
        finally:
            ctx.close()


def train_head(features: Any, labels: Any, classes: Optional[int] = None,
               val: Optional[tuple[Any, Any]] = None, *, epochs: int = 30, batch: int = 32, lr: float = 0.1,
               momentum: float = 0.9, l2: float = 1e-4, seed: int = 0,
               on_epoch: Optional[Callable[[dict, bool], Any]] = None) -> Head:
    """Trains a GAP head (a dense layer over the trunk's pooled features) as `vggcl train-head` does, on the
    features a program made: features (N, D), a trunk's (Model(trunk, features_only=True).forward(x)[1]), labels
    (N,) class indices (integers, bools as 0 and 1, or whole floats: the command's --features-out labels are
    float32); classes: their count (None: the largest label, of both sets, plus one, at least 2, classes without a
    training sample said as a warning); val: (features, labels) to pick the epoch kept by (None: the training
    objective picks it, the loss plus l2 / 2 times the squared weights of the standardized features). Minibatch SGD
    with momentum and L2 on the features standardized (in double precision; of any scale alike, a feature constant
    to a millionth of its mean left out), each epoch shuffled from the last by seed, so a seed gives the same head;
    as `vggcl train-head` of the same features and options, the same head. on_epoch (optional) is called after each epoch with its dict (as Head.epochs) and whether it is the best so far, and
    may return True to end the training there (early stopping: the best epoch so far is kept); an exception it
    raises, or a Ctrl-C, ends it there too and is raised then. Features that are not finite, a label past
    classes, a head that diverges from its first epoch on (lr too large): Error."""
    x, y = _samples(features, labels, "features")
    if not x.shape[0]:
        raise Error(f"train_head: features of shape {x.shape}: no samples", "shape")
    if val is not None and (not isinstance(val, (tuple, list)) or len(val) != 2):
        raise Error(f"train_head: val is {type(val).__name__}; expected (features, labels) or None", "arg")
    xv, yv = _samples(*val, "val") if val is not None else (None, None)
    validated = xv is not None and xv.shape[0] > 0  # (an empty set validates nothing: its values None too)
    if xv is not None and xv.shape[1] != x.shape[1]:
        raise Error(f"train_head: val's features have {xv.shape[1]} columns, the training features {x.shape[1]}",
                    "shape")
    if classes is None:
        classes = max(int(a.max()) for a in (y, yv) if a is not None and a.size) + 1
        if classes < 2:  # (said as "classes is 1", which the caller never gave)
            raise Error(f"train_head: the labels are all {classes - 1}: a head tells 2 classes or more (classes= "
                        "names how many where some are not among the labels)", "arg")
        # (a stray label, 100000 among 0..6, made 100001 classes unsaid; counted from the labels seen, not by a
        # range of the classes: a label of 2**31 - 2 would ask for 16 GiB)
        seen = set(np.unique(y).tolist())
        unseen = classes - len(seen)
        if unseen:
            first = itertools.islice((c for c in itertools.count() if c not in seen), 5)
            listed = ", ".join(map(str, first)) + (f" and {unseen - 5} more" if unseen > 5 else "")
            _logger.warning("train_head: %d classes, the largest label (%d) plus one; %d of them have no training "
                            "sample (%s); classes= gives the count where that is meant", classes, classes - 1,
                            unseen, listed)
    classes = _whole(classes, "train_head: classes", 2, _INT_MAX)
    o = _TrainOptions()
    _train_defaults(ctypes.byref(o))
    o.epochs = _whole(epochs, "train_head: epochs", 1, 100000)  # (as the command's --epochs; a log per epoch)
    o.batch = _whole(batch, "train_head: batch", 1, _INT_MAX)
    o.seed = _whole(seed, "train_head: seed", 0, 2 ** 64 - 1)
    for name, value, ok, expected in (("lr", lr, lambda v: 0 < v < math.inf, "a finite number above 0"),
                                      ("momentum", momentum, lambda v: 0 <= v < 1, "from 0 to below 1"),
                                      ("l2", l2, lambda v: 0 <= v < math.inf, "a finite number of 0 or more")):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise Error(f"train_head: {name} is {value!r}; expected a number", "arg")
        if not ok(float(value)):  # (the library's message named every option, not the one)
            raise Error(f"train_head: {name} is {value!r}; expected {expected}", "arg")
        setattr(o, name, float(value))
    raised = []

    def told(user, epoch, best):  # -> 1: the training ends there
        try:
            if raised or getattr(_noting, "interrupted", None) is not None:  # (a Ctrl-C as the call began: kept)
                return 1
            if on_epoch is None:  # (called all the same: Python's signal handlers run here, so a Ctrl-C ends the
                return 0          # training at an epoch's end; without it the loop never left C, minutes of it)
            return 1 if on_epoch(_epoch_dict(epoch.contents, validated), bool(best)) is True else 0
        except BaseException as e:  # (ctypes prints and drops an exception of a callback: raised when it ends)
            raised.append(e)
            return 1
    told._vggcl_callback = True
    if on_epoch is not None and not callable(on_epoch):
        raise Error(f"train_head: on_epoch is {on_epoch!r}; expected a function or None", "arg")
    callback = _EpochFn(told)  # (held for the call: the C side keeps only its address)
    o.on_epoch = callback
    w = np.empty((classes, x.shape[1]), np.float32)
    b = np.empty(classes, np.float32)
    log = (_TrainEpoch * o.epochs)()
    best = ctypes.c_int()
    ctx = _Context()
    try:
        status = _train(ctx.ptr, x.ctypes.data_as(_f), y.ctypes.data_as(_i), x.shape[0], x.shape[1], classes,
                        xv.ctypes.data_as(_f) if xv is not None else None,
                        yv.ctypes.data_as(_i) if yv is not None else None, 0 if xv is None else xv.shape[0],
                        ctypes.byref(o), w.ctypes.data_as(_f), b.ctypes.data_as(_f), log, ctypes.byref(best))
        if raised:
            raise raised[0]
        ctx.check(status)
    finally:
        ctx.close()
    epochs_log = [_epoch_dict(e, validated) for e in log if e.epoch]  # (those run: on_epoch may end it early)
    nv = 0 if xv is None else xv.shape[0]
    kept = f" (val top-1 {epochs_log[best.value - 1]['val_acc']:.4f})" if nv else ""
    trained = (f"vggcl.train_head (Python): {x.shape[0]} training samples, {nv} validation sample"
               f"{'' if nv == 1 else 's'}, epoch {best.value} of {o.epochs} kept{kept}, lr {o.lr:g}, momentum "
               f"{o.momentum:g}, l2 {o.l2:g}, minibatch {o.batch}, seed {o.seed}")
    return Head(w, b, epochs_log, best.value, trained)
