#!/usr/bin/python3
"""Import a VGG-pattern ONNX classifier into vggcl's safetensors layout.

    import_onnx.py MODEL.onnx --out MODEL.safetensors [--input-scale unit|torch|caffe|raw]
                   [--classes a,b,c | --classes-json FILE] [--pool5 keep|drop]
                   [--resize N|HxW] [--crop N | --no-crop] [--draft]

The graph's data path, from its input through a single chain of nodes, must be:

  [Transpose perm (0,3,1,2)]                   the graph takes NHWC
  (Conv 3x3 stride 1 pad 1 [BatchNormalization] Relu | MaxPool 2x2 stride 2)...
                        (a Relu anywhere may be a Clip to [0, no maximum], torch.clamp(min=0)'s,
                        a LeakyRelu or PRelu of slope 0 or a Max with 0; a Conv of pad 0 after a Pad of one
                        zero pixel a side, torch's ZeroPad2d(1) or Keras's ZeroPadding2D, is one of
                        pad 1; per-channel Mul/Add/Sub/Div and BatchNormalizations between a Conv and
                        its Relu are folded into it, in any order; a MaxPool may come before its
                        conv's Relu, as max and Relu commute)
  then a GAP head:      GlobalAveragePool, or ReduceMean over H and W (or over one then the
                        other, x.mean(3).mean(2)), [Relu: nothing on features >= 0],
                        [Flatten|Reshape|Squeeze];
                        or an AveragePool over the whole map (a static input size), or the
                        features' own 1x1 map, then Flatten|Reshape|Squeeze (CIFAR-style VGGs)
  or a 7x7 flatten:     [Transpose perm (0,2,3,1)] Flatten|Reshape   (the map must be 7x7)
  a 1x1 Conv (stride 1, no padding, group 1) as a dense layer: right after the features and
                        straight into the GAP (the class maps averaged, as CAM code writes its
                        head: the same as the GAP then that layer), or on the (N, C, 1, 1) map a
                        keepdims GAP leaves, before its flatten
  then dense layers:    (Gemm | MatMul [Add]) with Relu between them; Dropout, Identity and a
                        Pad of no padding (torch exports an AvgPool2d with one) are skipped;
                        per-channel Mul/Add/Sub/Div and BatchNormalization are folded
                        into the dense layer before or after them; a final Softmax or LogSoftmax
                        is dropped (the logits give the same probabilities).

Nodes that only compute the shape input of a Reshape (Shape, Gather, Cast, Slice, Concat, ...)
are not on the data path and are ignored. Initializers and Constant nodes give the weights, and
constants computed from them (ConstantOfShape, Concat, Reshape, Slice, Transpose, Cast, Unsqueeze,
Squeeze: a Pad's pads at opset 13). An
Identity, and a Cast to a float type, on the data path is passed over wherever it is, and float16
weights are widened:
a float16 graph (onnxconverter-common's convert_float_to_float16, keep_io_types or not) runs in
float32, its results within float16's rounding of onnxruntime's.

The output uses torchvision's key names: `features.N.{weight,bias}` (BatchNorm folded into the
conv, ReLU at N+1, a max pool takes the next index) and `classifier.0`, `classifier.2`, ... for
the dense chain (ReLU between every two). `__metadata__` records vggcl.pool5, vggcl.source,
vggcl.input_layout, vggcl.input_size (and for a square input vggcl.resize and vggcl.crop, so that
vggcl's preprocessing resizes the short side to it and center-crops it; for another, vggcl.resize
H,W and vggcl.crop 0: both sides resized to it, as Resize((H, W)); --resize and --crop give
the preprocessing the model was trained with instead, as torchvision's 256 then 224: a graph of a
fixed size takes that crop alone), vggcl.output, vggcl.mean
and vggcl.std (vggcl's input is (x/255 - mean)/std per RGB channel) and, with --classes or --classes-json, vggcl.classes.

--input-scale: what the graph expects as input.
  unit   x/255 (the default for a float input)
  torch  torchvision's ImageNet normalization
  caffe  Keras/Caffe VGG16: BGR, 0..255 minus the BGR mean (103.939, 116.779, 123.68); the first
         conv's input channels are reordered to RGB so that vggcl feeds RGB.
  raw    0..255 (a graph that scales its input itself, as Keras's Rescaling(1/255) exports; the default,
         and the only scale, for a uint8 input; given, for another integer input that takes pixels 0..255;
         an int8 input, which cannot hold them, is refused)
A normalization the graph does itself before its first Conv, per channel (Sub, Div, Mul, Add:
(x - mean) / std as a PyTorch wrapper exports it, Keras's Rescaling and Normalization), is read
into vggcl.mean and vggcl.std on top of --input-scale, which then says what the graph's input is;
where it is not given and that normalization, read on 0..1 pixels, makes a mean or std above 20 (a
Rescaling(1/255), or 0..255 centred), the graph takes pixels 0..255: refused, naming --input-scale raw.

A graph that does not fit is refused: one line on stderr naming the first node that cannot be
mapped and what was expected, exit status 1, no output file.
"""
import argparse
import os
import sys
import warnings
from collections import defaultdict, deque
from pathlib import Path

import numpy as np

try:
    import onnx
    from onnx import external_data_helper, numpy_helper
except ImportError as e:  # (after `install-deps.sh --no-tests`, or another python3: a traceback said nothing more)
    sys.exit(f"import_onnx.py: needs the onnx package ({e}): apt-get install python3-onnx and run it with "
             "/usr/bin/python3, or pip install onnx")

sys.path.insert(0, str(Path(__file__).resolve().parent))
from safetensors_io import (MAX_CHANNELS, MAX_DENSE, MAX_OUTPUTS, MAX_SIZE, PRESET_DEFAULTS, BadArgument,  # noqa
                           Refused, add_preprocess_args, check_preprocess_args, metadata_notes, preprocess_meta, shown,
                           read_class_names, resize_meta, run_converter, write_model, written)

PROG = "import_onnx.py"
SCALES = {
    "unit": ("0,0,0", "1,1,1"),
    "torch": (PRESET_DEFAULTS["vggcl.mean"], PRESET_DEFAULTS["vggcl.std"]),
    # Keras/Caffe: BGR minus (103.939, 116.779, 123.68) on 0..255, given in RGB order on x/255
    "caffe": ("0.48501961,0.45795686,0.40760392", "0.00392157,0.00392157,0.00392157"),
    "raw": ("0,0,0", "0.00392156863,0.00392156863,0.00392156863"),
}
INTEGERS = {onnx.TensorProto.UINT8, onnx.TensorProto.INT8, onnx.TensorProto.UINT16, onnx.TensorProto.INT16,
            onnx.TensorProto.UINT32, onnx.TensorProto.INT32, onnx.TensorProto.UINT64, onnx.TensorProto.INT64}
SHAPE_OPS = ("Shape", "Size")  # their outputs are shapes, not data
FLOATS = {onnx.TensorProto.FLOAT: np.float32, onnx.TensorProto.DOUBLE: np.float64,
          onnx.TensorProto.FLOAT16: np.float16}  # the Casts that keep a value a float, and what to


def data_tensors(nodes, start):
    """The tensors computed from the tensors in start other than through Shape/Size (or a Constant)."""
    data = set(start)
    changed = True
    while changed:
        changed = False
        for n in nodes:
            if n.op_type in SHAPE_OPS or n.op_type == "Constant" or any(o in data for o in n.output if o):
                continue
            new = [o for o in n.output if o and o not in data]
            if new and any(i in data for i in n.input if i):
                data.update(new)
                changed = True
    return data


def without_no_ops(model):
    """(model, 0), or a copy of it without the nodes on its data path that are nothing to vggcl, and how many of
    them were Casts: Casts to a float type (a float16 graph, as onnxconverter's keep_io_types makes it, casts its
    float input to float16 and its output back; vggcl computes in float32 throughout) and Identity nodes
    (anywhere: one before a Transpose or between a Sub and a Div was refused, naming another node). Their
    consumers read their input instead, and a graph output one made is named on what it took."""
    g = model.graph
    consts = {t.name for t in g.initializer}
    data = data_tensors(g.node, [i.name for i in g.input if i.name not in consts])
    casts = {k for k, n in enumerate(g.node) if n.op_type == "Cast" and n.input and n.input[0] in data
             and attrs(n).get("to") in FLOATS}
    gone = casts | {k for k, n in enumerate(g.node) if n.op_type == "Identity" and n.input and n.input[0] in data
                    and len(n.output) == 1}
    if not gone:
        return model, 0
    m = onnx.ModelProto()
    m.CopyFrom(model)
    alias = {m.graph.node[k].output[0]: m.graph.node[k].input[0] for k in gone}
    made_by = {m.graph.node[k].output[0]: m.graph.node[k] for k in gone}

    def root(name):
        seen = set()
        while name in alias:
            if name in seen:  # (Identity nodes in a ring: it looped for ever)
                raise Refused(f"{name_of(made_by[name])}: its output '{name}' leads back to "
                              f"{name_of(made_by[alias[name]])}; expected a chain without cycles")
            seen.add(name)
            name = alias[name]
        return name
    keep = [n for k, n in enumerate(m.graph.node) if k not in gone]
    for n in keep:
        for i, name in enumerate(n.input):
            n.input[i] = root(name)
    for o in m.graph.output:
        o.name = root(o.name)
    del m.graph.node[:]
    m.graph.node.extend(keep)
    return m, len(casts)


def name_of(node):
    return f"{node.op_type} node '{node.name or node.output[0]}'"


def refuse(node, what):
    raise Refused(f"{name_of(node)}: {what}")


def attrs(node):
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def tensor_array(t, what):
    """A TensorProto's values; Refused, naming it, when its data does not hold its shape."""
    try:
        return numpy_helper.to_array(t)
    except Exception as e:  # (ValueError when the data is short, TypeError for odd types, ...)
        raise Refused(f"{what} of shape {list(t.dims)}: its data cannot be read "
                      f"({str(e).splitlines()[0] if str(e) else type(e).__name__})")


def _str(v):
    return v.decode() if isinstance(v, bytes) else v


def folded(n, args, limit=None, room=None):
    """What node n (of FOLDED) makes of the constants args (None: an input left out): the index arithmetic
    torch's exports leave unfolded, as the pads of a ZeroPad2d at opset 13 (ConstantOfShape, Concat, Reshape,
    Slice, Transpose, Cast, Unsqueeze, Squeeze), float32 arithmetic on weights (ARITHMETIC, past FOLD_MAX values
    up to limit: a fused BatchNorm's), weights stored as integers (DequantizeLinear), and float weights
    quantized on the way (a QuantizeLinear of a constant, then its DequantizeLinear: the fake quantization
    quantization-aware training exports); None where it is not evaluated here (a Cast to bfloat16, which numpy
    would not round; a shape that does not fit; a constant past FOLD_MAX values; a blocked or float16
    DequantizeLinear or QuantizeLinear, or a QuantizeLinear to another type than 8 or 16-bit integers; a Concat
    past limit values, by default FOLD_MAX: chained, each doubling, a model of 2 kB took 4 GB; a ConstantOfShape or
    a Concat past room bytes, what the graph's folding has left), the node then left as it was (not a constant:
    the data path refuses it where it needs one, naming it)."""
    a, op = attrs(n), n.op_type

    def axes_of(i):  # (an attribute before opset 13, an input from it; an empty list of them: none given)
        v = a.get("axes", args[i].reshape(-1).tolist() if len(args) > i and args[i] is not None else None)
        return list(v) if v is not None and len(v) else None

    try:
        if op in ARITHMETIC:  # (float32 alone; before opset 7 a broadcast was an attribute's, not evaluated here)
            taken = len(args) == (1 if op in UNARY else 2) and all(x is not None and x.dtype == np.float32
                                                                   for x in args)
            size = np.prod(np.broadcast_shapes(*(x.shape for x in args)), dtype=object) if taken else None
            if size is None or "broadcast" in a or size > (limit or FOLD_MAX) or room is not None and 4 * size > room:
                return None
            with np.errstate(all="ignore"):  # (a division by zero: inf, as onnxruntime's; refused as a weight)
                return ARITHMETIC[op](*args).astype(np.float32, copy=False)
        if op == "ConstantOfShape":
            shape = args[0].astype(np.int64).reshape(-1).tolist()
            if np.prod(shape, dtype=object) > FOLD_MAX:
                return None
            fill = (tensor_array(a["value"], f"{name_of(n)}'s value").reshape(-1) if "value" in a
                    else np.zeros(1, np.float32))
            if room is not None and np.prod(shape, dtype=object) * fill.itemsize > room:
                return None
            return np.full(shape, fill[0], fill.dtype)
        if op == "Concat":
            if (sum(int(x.size) for x in args) > (limit or FOLD_MAX)
                    or room is not None and sum(int(x.nbytes) for x in args) > room):
                return None
            return np.concatenate(args, axis=a["axis"])
        if op in ("DequantizeLinear", "QuantizeLinear"):
            x, scale = args[0], args[1]
            zero = (args[2] if len(args) > 2 and args[2] is not None
                    else np.zeros_like(scale, np.int32 if op == "DequantizeLinear" else np.uint8))
            if scale.dtype != np.float32 or a.get("block_size", 0) or a.get("output_dtype", 0):
                return None
            if scale.ndim == 1 and scale.size > 1:  # (per channel, on its axis)
                shape = [1] * x.ndim
                shape[a.get("axis", 1) % x.ndim] = scale.size
                scale, zero = scale.reshape(shape), zero.reshape(shape)
            if op == "DequantizeLinear":  # (weights stored as integers: (q - zero point) * scale, as onnxruntime)
                if x.dtype.kind not in "iu":
                    return None
                return (x.astype(np.int64) - zero.astype(np.int64)).astype(np.float32) * scale
            # QuantizeLinear: saturate(round(x / scale) + zero point), halves to even, in the zero point's type
            if x.dtype != np.float32 or zero.dtype not in (np.int8, np.uint8, np.int16, np.uint16):
                return None
            info = np.iinfo(zero.dtype)
            q = np.rint(x.astype(np.float32) / scale).astype(np.float64) + zero.astype(np.float64)
            return np.clip(q, info.min, info.max).astype(zero.dtype)
        if op == "Reshape":  # (its shape an attribute before opset 5)
            target = args[1].tolist() if len(args) > 1 and args[1] is not None else list(a["shape"])
            shape = [d if d or a.get("allowzero", 0) else args[0].shape[k] for k, d in enumerate(target)]
            return args[0].reshape(shape)
        if op == "Transpose":
            return np.transpose(args[0], a.get("perm"))
        if op == "Cast":
            kind = onnx.mapping.TENSOR_TYPE_TO_NP_TYPE.get(a["to"])
            exact = a["to"] not in (onnx.TensorProto.BFLOAT16, onnx.TensorProto.STRING)  # (numpy: float32, object)
            return args[0].astype(kind) if kind is not None and exact else None
        if op == "Squeeze":
            axes = axes_of(1)
            return np.squeeze(args[0], tuple(axes) if axes is not None else None)
        if op == "Unsqueeze":
            axes, out = axes_of(1), args[0]
            for ax in sorted(x % (out.ndim + len(axes)) for x in axes):
                out = np.expand_dims(out, ax)
            return out
        # Slice (its starts, ends, axes and steps: inputs from opset 10, attributes before)
        starts, ends = (args[1], args[2]) if len(args) > 2 else (a["starts"], a["ends"])
        axes = args[3] if len(args) > 3 and args[3] is not None else a.get("axes", range(len(starts)))
        steps = args[4] if len(args) > 4 and args[4] is not None else [1] * len(starts)
        index = [slice(None)] * args[0].ndim
        for st, en, ax, sp in zip(np.asarray(starts).tolist(), np.asarray(ends).tolist(), np.asarray(axes).tolist(),
                                  np.asarray(steps).tolist()):
            index[ax] = slice(st, en, sp)  # (numpy clamps as ONNX does; INT64_MAX and the negative ends too)
        return args[0][tuple(index)]
    except Refused:
        raise
    except Exception:  # (shapes or attributes that do not fit: not evaluated here)
        return None


FOLD_MAX = 1 << 20  # the most values a folded constant may hold (index arithmetic: a few; not weights)
# float32 arithmetic on constants alone: the BatchNorm onnxoptimizer's fuse_bn_into_conv leaves as nodes over the
# weights (w * gamma / sqrt(var + eps)), computed as onnxruntime computes them, each value correctly rounded
ARITHMETIC = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide, "Sqrt": np.sqrt,
              "Neg": np.negative, "Reciprocal": np.reciprocal}
UNARY = ("Sqrt", "Neg", "Reciprocal")  # (a third input to numpy's ufunc is its out=: a constant overwritten)
FOLDED = ("ConstantOfShape", "Concat", "Reshape", "Slice", "Transpose", "Cast", "Unsqueeze", "Squeeze",
          "DequantizeLinear", "QuantizeLinear", *ARITHMETIC)
# what quantizes the data or computes on quantized data: a quantized graph, which vggcl's float32 does not run
# (ONNX's own: QLinearAdd and the other com.microsoft operators are refused by their domain first)
QUANTIZED = ("QuantizeLinear", "DynamicQuantizeLinear", "QLinearConv", "QLinearMatMul", "ConvInteger",
             "MatMulInteger")


def in_order(nodes):
    """The nodes each after those whose outputs it reads (ONNX's order, which a file need not keep: its checker is
    skipped for a newer IR), a cycle's in the file's order at the end."""
    made_by = {o: k for k, n in enumerate(nodes) for o in n.output if o}
    needs = [{made_by[i] for i in n.input if i in made_by} - {k} for k, n in enumerate(nodes)]
    users = [[] for _ in nodes]
    for k, before in enumerate(needs):
        for b in before:
            users[b].append(k)
    waiting = [len(before) for before in needs]
    ready = deque(k for k, w in enumerate(waiting) if not w)
    order = []
    while ready:
        k = ready.popleft()
        order.append(k)
        for u in users[k]:
            waiting[u] -= 1
            if not waiting[u]:
                ready.append(u)
    placed = set(order)
    return [nodes[k] for k in order] + [n for k, n in enumerate(nodes) if k not in placed]


def defined_twice(model):
    """(name, first maker, second) of the first tensor a graph defines twice (an initializer, an input or a node's
    output named as another), else None: the importer took the first of them (the checker, skipped for a newer
    IR, and onnxruntime refuse such a graph)."""
    g = model.graph
    made = {}
    for t in g.initializer:
        if t.name in made:
            return t.name, made[t.name], "another initializer"
        made[t.name] = f"initializer '{t.name}'"
    for i in g.input:  # (an input an initializer names: that initializer is its default, IR 3's form)
        made.setdefault(i.name, f"graph input '{i.name}'")
    for n in g.node:
        for o in n.output:
            if o in made:
                return o, made[o], f"{n.op_type} node '{n.name}'"
            if o:
                made[o] = f"{n.op_type} node '{n.name}'"
    return None


class Graph:
    """The data path of a single-input ONNX graph, with its constants."""

    def __init__(self, model):
        g = model.graph
        self.g = g
        self.consts = {t.name: tensor_array(t, f"initializer '{t.name}'") for t in g.initializer}
        nodes = list(g.node)
        for n in nodes:  # (an operator of another domain only shares its name with ONNX's: com.acme's Relu)
            if n.domain not in ("", "ai.onnx"):
                refuse(n, f"is of the domain '{n.domain}'; expected ONNX's own operators")
        # a Concat folds up to the largest stored tensor (weights may be joined), at least FOLD_MAX values; and all
        # the values folded, each a node's (views of another's not counted), up to 8 times the stored bytes and
        # 64 MiB (weights stored as 8-bit integers dequantize to 4 times theirs): 40 ConstantOfShape of FOLD_MAX
        # float64 values each, in a file of 2 kB, took 320 MB, 1000 of them would take 8 GB
        limit = max([FOLD_MAX] + [int(v.size) for v in self.consts.values()])
        room = 8 * sum(int(v.nbytes) for v in self.consts.values()) + (64 << 20)
        # Constant nodes, Identity of constants, and what folded() computes from them, in one pass in the order of
        # use (each node's constants made before it; passes in the file's order folded a chain listed backwards a
        # node a pass: 20000 of them took 5 minutes)
        for n in in_order(nodes):
            out = n.output[0] if n.output else ""
            if not out or out in self.consts:
                continue
            if n.op_type == "Constant":
                self.consts[out] = self._constant(n)
            elif n.op_type == "Identity" and n.input[0] in self.consts:
                self.consts[out] = self.consts[n.input[0]]
            elif n.op_type in FOLDED and all(not i or i in self.consts for i in n.input):
                value = folded(n, [self.consts[i] if i else None for i in n.input], limit, room)
                cost = int(value.nbytes) if value is not None and value.base is None else 0
                if value is not None and cost <= room:  # (else left as it was: a node on the data path says what
                    room -= cost  # it needs)
                    self.consts[out] = value
        inputs = [i for i in g.input if i.name not in self.consts]
        if len(inputs) != 1:  # (every weight a value-less input: torch.onnx.export(..., export_params=False))
            names = [i.name for i in inputs]
            shown = ", ".join(names[:4]) + (f", ... ({len(names) - 4} more)" if len(names) > 4 else "")
            raise Refused(f"the graph has {len(inputs)} inputs ({shown}); expected one image input"
                          + ("; its weights are inputs without values (exported with export_params=False?)"
                             if any(n.endswith((".weight", ".bias", "kernel")) for n in names) else ""))
        self.input = inputs[0]
        self.outputs = {o.name for o in g.output}
        self.data = data = data_tensors(nodes, [self.input.name])
        for n in nodes:
            if n.op_type in QUANTIZED and any(i in data for i in n.input):
                refuse(n, "quantizes the data or computes on it quantized (a quantized graph, as onnxruntime's "
                          "quantize_static and quantize_dynamic write); vggcl computes in float32: import the float "
                          "model it was quantized from (weights alone stored as integers, each a DequantizeLinear, "
                          "are read)")
        self.consumers = defaultdict(list)
        for n in nodes:
            if n.op_type in SHAPE_OPS:
                continue
            for i in dict.fromkeys(n.input):
                if i in data:
                    self.consumers[i].append(n)
        self.walked = set()  # the nodes next() has returned: a chain that comes back is refused
        self.all_consumers = defaultdict(list)
        for n in nodes:
            for i in dict.fromkeys(n.input):
                self.all_consumers[i].append(n)

    @staticmethod
    def _constant(n):
        a = attrs(n)
        if "value" in a:
            return tensor_array(a["value"], f"{name_of(n)}'s value")
        for key, dt in (("value_float", np.float32), ("value_floats", np.float32),
                        ("value_int", np.int64), ("value_ints", np.int64)):
            if key in a:
                return np.array(a[key], dt)
        refuse(n, f"unsupported Constant attribute(s) {sorted(a)}; expected value, value_float(s) or value_int(s)")

    def next(self, tensor, after):
        """The single data-path consumer of tensor, after's output (None at the end of the chain)."""
        where = name_of(after) if after is not None else "the graph input"
        if after is not None:
            self.only_first_output(after)
        cons = self.consumers.get(tensor, [])
        if len(cons) > 1:
            raise Refused(f"{where}: its output '{tensor}' feeds {len(cons)} nodes "
                          f"({', '.join(name_of(c) for c in cons)}); expected a single chain")
        if not cons and tensor not in self.outputs:
            raise Refused(f"{where}: its output '{tensor}' is neither used nor a graph output; expected the "
                          "chain to end at the graph output")
        if cons and id(cons[0]) in self.walked:
            raise Refused(f"{where}: its output '{tensor}' leads back to {name_of(cons[0])}; expected a chain "
                          "without cycles")
        if cons:
            self.walked.add(id(cons[0]))
        return cons[0] if cons else None

    def const(self, node, i, what):
        if i >= len(node.input) or not node.input[i]:
            refuse(node, f"has no {what} input")
        name = node.input[i]
        if name not in self.consts:
            maker = next((n for n in self.g.node if name in n.output), None)
            refuse(node, f"its {what} '{name}' is not a constant (initializer or Constant node)"
                   + (f": {name_of(maker)} computes it" if maker is not None else ""))
        return self.consts[name]

    def only_first_output(self, node):
        for o in node.output[1:]:
            if o and (self.all_consumers.get(o) or o in self.outputs):
                refuse(node, f"its extra output '{o}' is used; expected only the first output to be used")


def fweight(node, a, what):
    if a.dtype.kind != "f":
        refuse(node, f"{what} has dtype {a.dtype}; expected floating point")
    return a.astype(np.float64)


def check_data_input(g, node, tensor, slot=0):
    if len(node.input) <= slot or node.input[slot] != tensor:
        refuse(node, f"expected the data to enter as input {slot}")
    for i, name in enumerate(node.input):
        if i != slot and name in g.data:
            refuse(node, f"its input {i} '{name}' is computed from the data; expected a constant")


def inference_dropout(g, node, tensor, model):
    """A Dropout that is nothing at inference: refused when it says it trains (is_test 0 before opset 7,
    training_mode true from 12: onnxruntime then drops at random, unless its optimizer removed the node)."""
    check_data_input(g, node, tensor)
    g.only_first_output(node)
    if node.op_type != "Dropout":
        return
    if model_opset(model) < 7 and attrs(node).get("is_test", 1) == 0:  # (said so: left out, runtimes infer)
        refuse(node, "is_test=0 (training); expected inference Dropout")
    if len(node.input) > 2 and node.input[2] and bool(np.asarray(g.const(node, 2, "training_mode")).any()):
        refuse(node, "training_mode=1; expected inference Dropout")


def pad_sizes(g, node):
    """A Pad's pads (its attribute before opset 11, its constant input from it; None: not given)."""
    return attrs(node).get("pads") if len(node.input) < 2 or not node.input[1] else \
        g.const(node, 1, "pads").reshape(-1).tolist()


def zero_pad_one(g, node, tensor):
    """Whether node is a Pad of one zero pixel on each side of H and W of NCHW data, before a 3x3 Conv that pads
    nothing (torch's ZeroPad2d(1) then Conv2d(padding=0), Keras's ZeroPadding2D then a valid Conv: vggcl's conv,
    which pads its own input so)."""
    if node is None or node.op_type != "Pad" or (len(node.input) > 3 and node.input[3]):  # (opset 18's axes)
        return False
    check_data_input(g, node, tensor)
    if _str(attrs(node).get("mode", "constant")) != "constant" or any(
            len(node.input) > i and node.input[i] and node.input[i] not in g.consts for i in (1, 2)):
        return False  # (said by passed_over: the mode, or pads not constant)
    pads = pad_sizes(g, node)
    value = attrs(node).get("value", 0.0) if len(node.input) < 3 or not node.input[2] else \
        float(np.asarray(g.const(node, 2, "constant_value")).reshape(-1)[0])
    after = g.consumers.get(node.output[0], [])
    return (pads is not None and [int(v) for v in pads] == [0, 0, 1, 1, 0, 0, 1, 1] and value == 0
            and len(after) == 1 and after[0].op_type == "Conv")


def passed_over(g, node, tensor, model):
    """Whether node is nothing at inference, to be skipped on the data path: Dropout (checked by
    inference_dropout; an Identity is gone already: without_no_ops), and a Pad that pads nothing (torch 1.13
    exports AvgPool2d as one before the AveragePool: refused as a Pad, its message named a node the user never
    wrote); a Pad that pads is refused."""
    if node is None or node.op_type not in ("Dropout", "Pad"):
        return False
    if node.op_type != "Pad":
        inference_dropout(g, node, tensor, model)
        return True
    check_data_input(g, node, tensor)
    mode = _str(attrs(node).get("mode", "constant"))
    torch_mode = {"reflect": "reflect", "edge": "replicate", "wrap": "circular"}.get(mode)
    said = f"{mode} padding" + (f" (Conv2d's padding_mode '{torch_mode}')" if torch_mode else "")
    if mode != "constant" and len(node.input) > 1 and node.input[1] and node.input[1] not in g.consts:  # (torch's)
        refuse(node, f"{said}; expected no padding (vggcl's 3x3 convolutions pad their own input, with zeros)")
    pads = pad_sizes(g, node)
    if pads is None or any(int(v) for v in pads):
        refuse(node, (f"{said}, " if mode != "constant" else "")
               + f"pads {list(pads) if pads is not None else '(none given)'}; expected no padding, or one zero pixel a "
               "side on H and W right before a 3x3 Conv of pad 0, its only consumer (vggcl's 3x3 convolutions pad "
               "their own input, with zeros)")
    g.only_first_output(node)
    return True


def is_relu(g, node, rank4=True):
    """Whether node is a Relu, or what computes one: a Clip to [0, no maximum] (torch.clamp(min=0); its bounds
    attributes before opset 11, constant inputs from it; ReLU6's maximum is not one), a LeakyRelu of slope 0, a
    PRelu whose slopes are all 0 (nn.PReLU(init=0) as initialised), or a Max of the data and a constant 0
    (torch.maximum(x, 0), tf.maximum)."""
    if node is None:
        return False
    if node.op_type == "PRelu":  # (its slope broadcast to the data without growing it: one, per channel (C, 1, 1)
        # on the (N, C, H, W) maps as torch writes it, or (W,) on the last axis; (2, C, 1, 1) made a batch of 2)
        slope = g.consts.get(node.input[1]) if len(node.input) == 2 and node.input[0] in g.data else None
        shape = np.asarray(slope).shape if slope is not None else None
        fits = shape is not None and (len(shape) <= 1 or (rank4 and len(shape) in (3, 4) and
                                                             all(d == 1 for d in shape[:-3] + shape[-2:])))
        return fits and np.asarray(slope).size > 0 and not np.any(np.asarray(slope))
    if node.op_type == "Max":
        other = [i for i in node.input if i not in g.data]
        return (len(node.input) == 2 and len(other) == 1 and other[0] in g.consts and
                np.asarray(g.consts[other[0]]).size == 1 and float(np.asarray(g.consts[other[0]]).reshape(-1)[0]) == 0)
    if node.op_type == "LeakyRelu":
        return attrs(node).get("alpha", 0.01) == 0
    if node.op_type != "Clip":
        return node.op_type == "Relu"
    a = attrs(node)
    if "min" in a or "max" in a:
        lo, hi = a.get("min"), a.get("max", np.inf)
    else:
        def bound(i, default):
            if len(node.input) <= i or not node.input[i]:
                return default
            return float(np.asarray(g.consts[node.input[i]]).reshape(-1)[0]) \
                if node.input[i] in g.consts and np.asarray(g.consts[node.input[i]]).size == 1 else None
        lo, hi = bound(1, None), bound(2, np.inf)
    return lo == 0 and hi == np.inf


def relu_slot(node, tensor):
    """The input slot the data enters a Relu (is_relu) by: Max(0, x) takes it second."""
    return list(node.input).index(tensor) if node.op_type == "Max" and tensor in node.input else 0


def operand_affine(g, node, tensor, width, maps):
    """A Mul, Add, Sub or Div of the data by a constant per channel (affine_vector) as (scale, shift): y = x * scale
    + shift (the constant less the data too: y = -x + c); refused where the constant is not per channel, is divided
    by the data, or is a zero divisor. The dense chain's, and a conv's before its Relu (conv_affine)."""
    if len(node.input) != 2 or tensor not in node.input:
        refuse(node, "expected the data and a constant")
    op, slot = node.op_type, list(node.input).index(tensor)
    if op == "Div" and slot != 0:
        refuse(node, "Div of a constant by the data; expected the data divided by a constant")
    check_data_input(g, node, tensor, slot)
    v = affine_vector(node, fweight(node, g.const(node, 1 - slot, "operand"), "the operand"), width, maps)
    if op == "Div" and not np.all(v):
        refuse(node, "divides by zero; expected a non-zero divisor")
    one, zero = np.ones(width), np.zeros(width)
    if op == "Sub" and slot == 1:
        return -one, v
    if op == "Div":  # (alone: 1 / v of another op's zeros warned of a division by zero)
        return 1 / v, zero
    return {"Mul": (v, zero), "Add": (one, v), "Sub": (one, -v)}[op]


def conv_affine(g, node, tensor, width):
    """operand_affine of a node between a Conv and its Relu; None where node is no Mul, Add, Sub or Div of the
    data by one other input (a Relu is said missing then)."""
    if node is None or node.op_type not in NORM_OPS or len(node.input) != 2 or tensor not in node.input:
        return None
    return operand_affine(g, node, tensor, width, True)


def reshape_shape(g, node):
    """A Reshape's target shape: its second input, a constant (None: computed in the graph), or before opset 5
    its shape attribute (node.input[1] raised IndexError on those)."""
    if len(node.input) < 2 or not node.input[1]:
        if "shape" not in attrs(node):
            refuse(node, "no shape (neither a second input nor, before opset 5, a shape attribute)")
        return [int(v) for v in attrs(node)["shape"]]
    return [int(v) for v in g.consts[node.input[1]].reshape(-1)] if node.input[1] in g.consts else None


def conv_bias(g, node, c_out):
    """A Conv's bias (its input 2), zeros without one."""
    if len(node.input) <= 2 or not node.input[2]:
        return np.zeros(c_out)
    b = fweight(node, g.const(node, 2, "bias"), "the bias").reshape(-1)
    if b.shape != (c_out,):
        refuse(node, f"bias of shape {list(b.shape)}; expected ({c_out},)")
    return b


def check_flatten(g, node, tensor, width, dims="NC11"):
    """A Flatten, Reshape or Squeeze of the data, whose axes dims names (N the batch, C the width channels, 1 an
    axis of size 1: "NC11", NHWC's "N11C", "NC1" after one squeeze), towards (N, width): Flatten's axis 1,
    Reshape's shape (when static; a fixed first number only as the graph's fixed batch where the second is -1:
    [512, -1] is no flatten of a batch of 2), Squeeze's axes (when given: of size 1, not the batch's; one at a
    time is PyTorch's .squeeze(-1).squeeze(-1)). Returns the axes after it ("NC": flattened)."""
    check_data_input(g, node, tensor)
    if node.op_type == "Flatten" and attrs(node).get("axis", 1) != 1:
        refuse(node, f"axis {attrs(node).get('axis')}; expected 1")
    shp = reshape_shape(g, node) if node.op_type == "Reshape" else None
    if shp is not None and (len(shp) != 2 or shp[1] not in (-1, width) or
                            (shp[1] == -1 and shp[0] not in (0, (static_dims(g.input) or [None])[0]))):
        refuse(node, f"shape {shp}; expected (N, {width}): (0 or -1, {width}) or (0, -1)")
    if node.op_type == "Squeeze":
        axes = node_axes(g, node, len(dims))
        if axes is None:  # (every axis of size 1: a batch of one's too, which vggcl keeps, computing each image alone)
            return "NC"
        ones = [i for i, d in enumerate(dims) if d == "1"]
        if not axes or len(set(axes)) != len(axes) or not set(axes) <= set(ones):
            refuse(node, f"axes {axes} of the rank-{len(dims)} data; expected axes of size 1 ({ones}: not the "
                         "batch's nor the channels')")
        return "".join(d for i, d in enumerate(dims) if i not in axes)
    return "NC"


def node_axes(g, node, rank=4):
    """A Squeeze's or ReduceMean's axes, each modulo the data's rank (4: a map) and sorted: from its attribute
    (before opset 13) or its second input; None where not given (every axis of size 1)."""
    a = attrs(node)
    if "axes" in a:
        axes = list(a["axes"])
    elif len(node.input) > 1 and node.input[1]:
        axes = [int(v) for v in np.asarray(g.const(node, 1, "axes")).reshape(-1)]
    else:
        return None
    return sorted(ax % rank for ax in axes)


def mean_then_mean(g, node, tensor, want, first, keep):
    """x.mean(3).mean(2) (or .mean(-1).mean(-1)): a ReduceMean over one spatial axis (first, of want), then one over
    the other, each keeping its axis or both dropping it. Returns the second's data input and the second."""
    check_data_input(g, node, tensor)
    tensor, second = node.output[0], g.next(node.output[0], node)
    other = [ax for ax in want if ax != first][0]
    at = other if keep or other < first else other - 1  # (the other's index once the first is gone)
    if second is None or second.op_type != "ReduceMean":
        refuse(node, f"averages axis {first} alone; expected a ReduceMean over axis {at} after it (the other "
                     "spatial axis)")
    axes, keep2 = node_axes(g, second, 4 if keep else 3), attrs(second).get("keepdims", 1)
    if axes != [at] or keep2 != keep:
        refuse(second, f"axes {axes} (keepdims {keep2}) after {name_of(node)}'s axis {first} (keepdims {keep}); "
                       f"expected axes [{at}], keepdims {keep} (the other spatial axis)")
    return tensor, second


def conv_weights(g, node, tensor, c_in, padded=None):
    """padded: the Pad of one zero pixel a side before it (zero_pad_one), which its own padding then adds to."""
    check_data_input(g, node, tensor)
    a = attrs(node)
    w = fweight(node, g.const(node, 1, "weight"), "the weight")
    expected = "expected a 3x3 kernel, stride 1, pad 1, dilation 1, group 1"
    if w.ndim != 4:
        refuse(node, f"weight shape {list(w.shape)}; {expected}")
    kernel = list(a.get("kernel_shape", w.shape[2:]))
    strides = list(a.get("strides", [1, 1]))
    dil = list(a.get("dilations", [1, 1]))
    group = a.get("group", 1)
    auto = _str(a.get("auto_pad", "NOTSET"))
    if auto != "NOTSET" and "pads" in a:  # (ONNX allows one of them; onnxruntime refuses both)
        refuse(node, f"auto_pad {auto} and pads {list(a['pads'])} both given; ONNX takes one of them")
    pads = list(a.get("pads", [0, 0, 0, 0]))
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        pads = [1, 1, 1, 1] if kernel == [3, 3] and strides == [1, 1] else None
    elif auto == "VALID":
        pads = [0, 0, 0, 0]
    if padded is not None and pads is not None:
        pads = [v + 1 for v in pads]
        expected += f" (one pixel a side with {name_of(padded)}'s)"
    if kernel != [3, 3] or list(w.shape[2:]) != [3, 3]:
        refuse(node, f"kernel {'x'.join(map(str, kernel))}; {expected}")
    if strides != [1, 1]:
        refuse(node, f"stride {'x'.join(map(str, strides))}; {expected}")
    if pads != [1, 1, 1, 1]:
        refuse(node, f"padding {auto if pads is None else pads}; {expected}")
    if dil != [1, 1]:
        refuse(node, f"dilation {'x'.join(map(str, dil))}; {expected}")
    if group != 1:
        refuse(node, f"group {group}; {expected}")
    if not 1 <= w.shape[0] <= MAX_CHANNELS:
        refuse(node, f"{w.shape[0]} output channels; vggcl takes 1 to {MAX_CHANNELS}")
    if w.shape[1] != c_in:
        refuse(node, f"{w.shape[1]} input channels; expected {c_in}"
                     + (" (the image's RGB)" if c_in == 3 else " (the previous conv's output)"))
    return w, conv_bias(g, node, w.shape[0])


def is_pointwise(g, node):
    """Whether a Conv has a 1x1 kernel (by its attribute, else its weight)."""
    kernel = attrs(node).get("kernel_shape")
    if kernel is None and len(node.input) > 1 and node.input[1] in g.consts:
        kernel = g.consts[node.input[1]].shape[2:]
    return kernel is not None and list(kernel) == [1, 1]


def pointwise_dense(g, node, tensor, c_in):
    """A 1x1 Conv as the dense layer it is on each pixel: (w (in, out), b)."""
    check_data_input(g, node, tensor)
    a = attrs(node)
    w = fweight(node, g.const(node, 1, "weight"), "the weight")
    expected = "expected a 1x1 kernel, stride 1, no padding, group 1 (a dense layer on each pixel)"
    if w.ndim != 4 or list(w.shape[2:]) != [1, 1]:
        refuse(node, f"weight shape {list(w.shape)}; {expected}")
    if list(a.get("strides", [1, 1])) != [1, 1]:
        refuse(node, f"stride {'x'.join(map(str, a['strides']))}; {expected}")
    if any(a.get("pads", [0])) or _str(a.get("auto_pad", "NOTSET")) not in ("NOTSET", "VALID", "SAME_UPPER",
                                                                           "SAME_LOWER"):
        refuse(node, f"padding {list(a.get('pads', []))}; {expected}")
    if a.get("group", 1) != 1:
        refuse(node, f"group {a['group']}; {expected}")
    if not 1 <= w.shape[0] <= MAX_OUTPUTS:
        refuse(node, f"{w.shape[0]} outputs; vggcl takes 1 to {MAX_OUTPUTS} a dense layer")
    if w.shape[1] != c_in:
        refuse(node, f"{w.shape[1]} input channels; expected {c_in}")
    return w[:, :, 0, 0].T, conv_bias(g, node, w.shape[0])


def bn_affine(g, node, tensor, width):
    """BatchNormalization at inference as y = x*s + t, per channel."""
    check_data_input(g, node, tensor)
    a = attrs(node)
    if a.get("training_mode", 0):
        refuse(node, "training_mode=1; expected inference BatchNormalization")
    extra = [o for o in node.output[1:] if o]
    if extra:  # (before opset 14 its outputs say the mode: onnxruntime then normalizes by the batch's statistics)
        refuse(node, f"{len(node.output)} outputs ('{extra[0]}', ...: the statistics training updates), so a "
                     "BatchNormalization in training mode, which normalizes by the batch's own statistics; expected "
                     "inference BatchNormalization (one output: export with the model in eval())")
    if a.get("is_test", 1) == 0:  # (before opset 7)
        refuse(node, "is_test=0 (training); expected inference BatchNormalization")
    g.only_first_output(node)
    eps = a.get("epsilon", 1e-5)
    gamma, beta, mean, var = (fweight(node, g.const(node, i, k), k).reshape(-1)
                              for i, k in ((1, "scale"), (2, "bias"), (3, "mean"), (4, "var")))
    for v, k in ((gamma, "scale"), (beta, "bias"), (mean, "mean"), (var, "var")):
        if v.shape != (width,):
            refuse(node, f"{k} of {v.size} values; expected {width} (the channels)")
    if not np.all(var + eps > 0):
        k = int(np.argmin(var + eps))
        refuse(node, f"var '{node.input[4]}' + epsilon is {var[k] + eps:g} at channel {k}; expected a positive "
                     "variance")
    s = gamma / np.sqrt(var + eps)
    return s, beta - mean * s


def maxpool_ok(g, node, tensor, size):
    """Whether the 2x2/2 max pool node rounds up (ceil_mode, as Caffe's pools: vggcl runs it where its map, size
    when the graph's input is static, is even, there the same as rounding down); refused if it is another pool."""
    check_data_input(g, node, tensor)
    g.only_first_output(node)
    a = attrs(node)
    got = (list(a.get("kernel_shape", [])), list(a.get("strides", [1, 1])), list(a.get("pads", [0, 0, 0, 0])),
           list(a.get("dilations", [1, 1])), a.get("ceil_mode", 0), _str(a.get("auto_pad", "NOTSET")))
    if (got[:4] != ([2, 2], [2, 2], [0, 0, 0, 0], [1, 1]) or got[4] not in (0, 1) or got[5] not in ("NOTSET", "VALID")
            or (got[5] != "NOTSET" and "pads" in a)):
        refuse(node, f"kernel {got[0]}, stride {got[1]}, pads {got[2]}, dilation {got[3]}, ceil_mode {got[4]}, "
                     f"auto_pad {got[5]}; expected a 2x2 max pool with stride 2 and no padding")
    if got[4] and size and any(side % 2 for side in size):
        refuse(node, f"ceil_mode 1 on the {size[0]}x{size[1]} map the graph's input size gives it: it rounds up "
                     "there, which vggcl's pools do not (the two agree on an even map, where vggcl runs such a pool)")
    return bool(got[4])


def global_max_pool(node, size, last):
    """Refuses a max pool over the whole map (AdaptiveMaxPool2d(1), GlobalMaxPool) as the head it is (it was said
    to be a pool after another, or of another kernel than 2x2); a 2x2 one right after a Conv is pool5 on a 2x2 map."""
    kernel = list(attrs(node).get("kernel_shape", [])) if node.op_type == "MaxPool" else None
    if node.op_type == "GlobalMaxPool" or (size and kernel == list(size) and (kernel != [2, 2] or last == "pool")):
        refuse(node, "a global max pool (" + (f"kernel the whole {size[0]}x{size[1]} map, " if kernel else "")
               + "as AdaptiveMaxPool2d(1) exports); expected a global average pool: vggcl's head averages the map")


def transpose_perm(node):
    return list(attrs(node).get("perm", []))


def reduce_axes(g, node):
    return node_axes(g, node) or [], attrs(node).get("keepdims", 1)


def static_dims(value_info):
    t = value_info.type.tensor_type
    if not t.HasField("shape"):
        return None
    return [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None for d in t.shape.dim]


def affine_vector(node, c, width, maps=False):
    """A constant operand of Mul/Add/Sub/Div as a per-channel vector of length width (on the last axis,
    or with maps on axis 1 of NCHW data: a shape (C, 1, 1) or (1, C, 1, 1))."""
    c = np.asarray(c, np.float64)
    shape = [1] * (4 - c.ndim) + list(c.shape) if maps else None
    odd = (c.ndim > 4 or shape[0] != 1 or shape[2:] != [1, 1]) if maps else \
        (c.ndim > 2 or any(d != 1 for d in c.shape[:-1]))
    if odd or c.size not in (1, width):
        # (a vector on a map's last axis is per column, as ONNX broadcasts it, not per channel: [C] read so)
        column = maps and c.ndim == 1 and c.size > 1
        refuse(node, f"constant of shape {list(c.shape)}; expected a scalar or a vector of {width} (per channel, "
                     + ("shaped (C, 1, 1) on the NCHW map)" if maps else "on the last axis)")
                     + (f": shaped [{c.size}], it is on the map's last axis, its columns (as ONNX broadcasts it), "
                        "not its channels" if column else ""))
    return np.broadcast_to(c.reshape(-1), (width,)).copy()


NORM_OPS = ("Sub", "Div", "Mul", "Add")


def input_steps(g, node, t):
    """The per-channel Sub/Div/Mul/Add the graph does to its input before the first Conv ((x - mean) / std,
    x * 1/255): ([(node, the data's input slot, the constant)], the tensor after them, the next node)."""
    steps = []
    while node is not None and node.op_type in NORM_OPS:
        if len(node.input) != 2 or t not in node.input:
            refuse(node, "expected the image and a constant")
        slot = list(node.input).index(t)
        if node.op_type == "Div" and slot != 0:
            refuse(node, "divides a constant by the image; expected the image divided by a constant")
        check_data_input(g, node, t, slot)
        steps.append((node, slot, fweight(node, g.const(node, 1 - slot, "operand"), "the operand")))
        t, node = node.output[0], g.next(node.output[0], node)
    return steps, t, node


RAW_SIGN = 20  # a mean or std past it, read on 0..1 pixels, is a graph's for 0..255 ones (theirs: 0.2 to 255)


def input_norm(steps, scale, given=True):
    """vggcl.mean and vggcl.std (RGB, on x/255) that give the first Conv what the graph gives it: its input as
    --input-scale says, then steps, each y = a*x + b per channel. Not folded into the Conv's weights: its zero
    padding would then pad with what the normalization makes of 0. given: whether --input-scale was (the default
    unit is refused where the steps are those of a graph taking pixels 0..255)."""
    a, b = np.ones(3), np.zeros(3)
    for node, slot, c, layout in steps:
        axis = -3 if layout == "NCHW" else -1
        if c.size == 1 and c.ndim <= 4:
            v = np.full(3, c.reshape(-1)[0])
        elif c.ndim <= 4 and c.ndim >= -axis and c.shape[axis] == 3 and c.size == 3:
            v = c.reshape(-1)
        else:
            refuse(node, f"constant of shape {list(c.shape)} on {layout} data; expected a scalar or 3 values on "
                         f"the channel axis ({'(1,3,1,1)' if layout == 'NCHW' else '(3,)'})")
        op = node.op_type
        if op == "Add":
            b = b + v
        elif op == "Sub":
            a, b = (a, b - v) if slot == 0 else (-a, v - b)
        elif op == "Mul":
            a, b = a * v, b * v
        else:
            if not np.all(v):
                refuse(node, "divides by zero; expected a non-zero divisor")
            a, b = a / v, b / v
    m0, s0 = (np.array([float(x) for x in text.split(",")]) for text in SCALES[scale])
    k = [2, 1, 0] if scale == "caffe" else [0, 1, 2]  # (the graph's channel that each of R, G, B feeds)
    a, b = a[k], b[k]
    if not np.all(a > 0) or not np.all(np.isfinite(a)) or not np.all(np.isfinite(b)):
        refuse(steps[0][0], f"the graph's input normalization scales the channels by {', '.join(f'{v:g}' for v in a)} "
                            "(R, G, B); expected positive, finite scales (vggcl's std is above 0)")
    std, mean = s0 / a, m0 - b * s0 / a
    if not given and scale == "unit" and (np.any(std > RAW_SIGN) or np.any(np.abs(mean) > RAW_SIGN)):
        # (Keras's Rescaling(1/255) read on x/255: every pixel divided by 255 twice, every answer wrong, unsaid)
        refuse(steps[0][0], f"the graph's own input normalization, read on 0..1 pixels (the default --input-scale "
                            f"unit), makes mean {', '.join(f'{v:.4g}' for v in mean)} and std "
                            f"{', '.join(f'{v:.4g}' for v in std)}: a graph that scales or centres its input so takes "
                            "pixels 0..255; give --input-scale raw (or --input-scale unit to read it so all the same)")
    # (in the shortest digits that give vggcl's float32: a graph's 0.485 was 0.485000014, float32's 0.485 in double)
    return tuple(",".join(np.format_float_positional(np.float32(v), unique=True, trim="-") for v in vs)
                 for vs in (mean, std))


def conv_after(g, node):
    """Whether a Conv consumes what node makes, directly or through other nodes."""
    todo, seen = list(node.output), set()
    while todo:
        t = todo.pop()
        for n in g.consumers.get(t, []):
            if n.op_type == "Conv":
                return True
            if id(n) not in seen:
                seen.add(id(n))
                todo.extend(n.output)
    return False


def map_size(hw, pools):
    """The features' map size: the input's (H, W) halved at each of pools max pools; None where they are not
    static."""
    if hw is None:
        return None
    size = list(hw)
    for _ in range(pools):
        size = [s // 2 for s in size]
    return size


def convert(model, path_name, scale=None):
    """Returns (tensors, metadata, summary) or raises Refused. scale: --input-scale's (None: unit, or raw for a
    uint8 input; another integer input is refused unless it is raw, an int8 one always)."""
    model, casts = without_no_ops(model)
    halves = sum(t.data_type == onnx.TensorProto.FLOAT16 for t in model.graph.initializer)
    g = Graph(model)
    kind = g.input.type.tensor_type.elem_type
    if kind in INTEGERS:  # (pixels 0..255: x/255 was fed, and every logit was wrong)
        name = onnx.TensorProto.DataType.Name(kind).lower()
        if kind == onnx.TensorProto.INT8:  # (pixels less 128, as quantized graphs take them: none of vggcl's scales)
            raise Refused(f"the graph input '{g.input.name}' is int8, which cannot hold pixels 0..255 (vggcl feeds "
                          "them as they are, raw); expected a float or uint8 input")
        if scale not in (None, "raw") or (scale is None and kind != onnx.TensorProto.UINT8):
            raise Refused(f"{f'--input-scale {scale}, but ' if scale else ''}the graph input '{g.input.name}' is "
                          f"{name}: whole numbers; expected --input-scale raw (pixels 0..255"
                          + (", the default for a uint8 input)" if kind == onnx.TensorProto.UINT8 else
                             ": give it where the graph takes them so; a 16-bit image's 0..65535 is not vggcl's)"))
        scale = "raw"
    given, scale = scale is not None, scale or "unit"
    dims = static_dims(g.input)
    t = g.input.name
    node = g.next(t, None)
    if node is None:
        raise Refused(f"the graph input '{t}' feeds no node; expected a Conv")
    if dims is not None and len(dims) != 4:
        raise Refused(f"the graph input '{t}' has rank {len(dims)}; expected an image batch (N,C,H,W) or (N,H,W,C)")

    # --- input layout, and the normalization the graph does itself (before and after the Transpose)
    before, t, node = input_steps(g, node, t)
    layout_in = "NCHW"
    if node is not None and node.op_type == "Transpose":
        if transpose_perm(node) != [0, 3, 1, 2]:
            refuse(node, f"perm {transpose_perm(node)}; expected (0,3,1,2) (NHWC input) or a Conv")
        check_data_input(g, node, t)
        layout_in = "NHWC"
        t, node = node.output[0], g.next(node.output[0], node)
    after, t, node = input_steps(g, node, t)
    steps = [(n, slot, v, layout_in) for n, slot, v in before] + [(n, slot, v, "NCHW") for n, slot, v in after]
    hw = None
    if dims is not None:
        c_dim, hw = (dims[3], dims[1:3]) if layout_in == "NHWC" else (dims[1], dims[2:4])
        if c_dim not in (None, 3):
            raise Refused(f"the graph input '{g.input.name}' has {c_dim} channels in {layout_in}; expected 3 (RGB)")
        hw = hw if all(hw) else None

    # --- features
    tensors, idx, c, convs, pools, bn_folded, last, first, ceil = {}, 0, 3, [], 0, 0, None, None, []
    affine_folded, relu_after_pool = 0, None
    while node is not None and node.op_type in ("Conv", "MaxPool", "Dropout", "Pad"):
        padded = None
        if zero_pad_one(g, node, t):  # (its conv then pads nothing: the two are vggcl's conv)
            padded, t = node, node.output[0]
            node = g.next(t, node)
        elif passed_over(g, node, t, model):  # (nothing at inference between the features' layers too: a
            t, node = node.output[0], g.next(node.output[0], node)  # Dropout there ended the features)
            continue
        if node.op_type == "MaxPool":
            global_max_pool(node, map_size(hw, pools), last)
            if last != "conv":
                refuse(node, "a max pool " + ("before the first Conv" if last is None else "right after another")
                       + "; expected each MaxPool to follow a Conv and its Relu")
            ceil.append(maxpool_ok(g, node, t, map_size(hw, pools)))
            pools, idx, last = pools + 1, idx + 1, "pool"
            t, node = node.output[0], g.next(node.output[0], node)
            if relu_after_pool is not None:  # (Conv MaxPool Relu: the Relu the conv's, as max and Relu commute)
                check_data_input(g, node, t, relu_slot(node, t))
                t, node, relu_after_pool = node.output[0], g.next(node.output[0], node), None
            continue
        if convs and is_pointwise(g, node) and padded is None:  # (a head: taken after the features, or refused)
            break
        conv = node
        w, b = conv_weights(g, node, t, c, padded)
        t, node = node.output[0], g.next(node.output[0], node)
        while node is not None and not is_relu(g, node):  # (BatchNorms, and per-channel scales and shifts: a
            if node.op_type == "BatchNormalization":        # BatchNorm written as Mul and Add; in any order)
                s, sh = bn_affine(g, node, t, w.shape[0])
                bn_folded += 1
            elif (affine := conv_affine(g, node, t, w.shape[0])) is not None:
                s, sh = affine
                affine_folded += 1
            else:
                break
            w, b = w * s[:, None, None, None], b * s + sh
            t, node = node.output[0], g.next(node.output[0], node)
        pooled_first = node is not None and node.op_type == "MaxPool" and is_relu(g, g.consumers.get(
            node.output[0], [None])[0] if len(g.consumers.get(node.output[0], [])) == 1 else None)
        if not is_relu(g, node) and not pooled_first:
            what = f"followed by {name_of(node)}" if node is not None else "the end of the graph"
            refuse(conv, f"is not followed by a Relu ({what}); expected Conv [BatchNormalization] Relu (or a Clip to "
                         "[0, no maximum], a LeakyRelu or PRelu of slope 0, a Max with 0; or a MaxPool then the Relu)")
        if pooled_first:  # (the MaxPool next, then its Relu)
            relu_after_pool = node
        else:
            check_data_input(g, node, t, relu_slot(node, t))
        tensors[f"features.{idx}.weight"] = w.astype(np.float32)
        tensors[f"features.{idx}.bias"] = b.astype(np.float32)
        if first is None:
            first = f"features.{idx}.weight"
        convs.append(w.shape[0])
        c, idx, last = w.shape[0], idx + 2, "conv"
        if not pooled_first:
            t, node = node.output[0], g.next(node.output[0], node)
    if not convs:
        if node is None:
            raise Refused("the graph has no Conv; expected a VGG")
        refuse(node, "expected a 3x3 Conv")
    pool5 = "keep" if last == "pool" else "drop"
    if hw is not None and 0 in map_size(hw, pools):  # (written, its preset then refused every image)
        raise Refused(f"the graph input '{g.input.name}' is {hw[0]}x{hw[1]}: too small for its {pools} max pools; "
                      f"expected at least {2 ** pools}x{2 ** pools}")
    if node is None:
        raise Refused(f"the graph ends after the features (tensor '{t}'); expected a GAP or flatten and dense layers")
    # a 1x1 Conv on the features' map, averaged by the GAP after it: the GAP then that dense layer
    pre_gap, pre_folds = None, 0
    if node.op_type == "Conv":
        pre_gap = [*pointwise_dense(g, node, t, c), node]
        c, t, node = pre_gap[0].shape[1], node.output[0], g.next(node.output[0], node)
        if node is not None and node.op_type == "BatchNormalization":
            s, sh = bn_affine(g, node, t, c)
            pre_gap[:2] = pre_gap[0] * s[None, :], pre_gap[1] * s + sh
            pre_folds = 1
            t, node = node.output[0], g.next(node.output[0], node)
        if node is None:
            refuse(pre_gap[2], "the graph ends at the 1x1 Conv; expected a GAP after it (the class maps averaged)")
        if node.op_type not in ("GlobalAveragePool", "ReduceMean", "AveragePool", "Transpose", "Flatten", "Reshape",
                                "Squeeze"):
            refuse(node, f"follows {name_of(pre_gap[2])} (a 1x1 Conv); expected a GAP right after it (a "
                         "Relu there is not a dense layer after the GAP; vggcl's features are 3x3 Convs)")

    if node.op_type == "GlobalMaxPool":
        global_max_pool(node, None, last)

    # --- GAP or flatten
    layout, pooled_to_7, whole_map, maps = "NCHW", False, False, False
    gap_axes = "NC"  # (the GAP output's axes, as check_flatten names them)
    if node.op_type == "Transpose":
        if transpose_perm(node) != [0, 2, 3, 1]:
            refuse(node, f"perm {transpose_perm(node)}; expected (0,2,3,1) (back to NHWC) after the features")
        check_data_input(g, node, t)
        layout, t, node = "NHWC", node.output[0], g.next(node.output[0], node)
    elif node.op_type == "AveragePool":  # torch's adaptive pool to 7x7: of a 7x7 map kernel 1, of a 14x14 one 2
        a = attrs(node)
        size = map_size(hw, pools)
        k = [s // 7 for s in size] if size and all(s % 7 == 0 for s in size) else [1, 1]
        plain = not (any(a.get("pads", [0])) or a.get("ceil_mode", 0) or any(d != 1 for d in a.get("dilations", [1]))
                     or a.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET", b"VALID", "VALID"))
        # (a pool over the whole map, as F.avg_pool2d(x, 4) on CIFAR's 4x4, is the GAP, whatever its stride)
        whole_map = plain and bool(size) and size != [1, 1] and list(a.get("kernel_shape", [])) == size
        if any(user.op_type in ("Conv", "Pad", "MaxPool") for user in g.consumers.get(node.output[0], [])):
            refuse(node, "an average pool between the convolutions; expected a MaxPool 2x2 stride 2 there")
        if not whole_map and (list(a.get("kernel_shape", [])) != k or list(a.get("strides", [1, 1])) != k or not plain):
            refuse(node, "expected GlobalAveragePool, ReduceMean, Flatten/Reshape or Transpose (0,2,3,1) "
                         "after the features (an AveragePool only over the whole map, or as torch's adaptive pool "
                         "to 7x7 makes it: kernel and stride the map's size / 7, here " + ("unknown: H and W are not static" if not size else
                                                                   f"{k[0]}x{k[1]} for the {size[0]}x{size[1]} map")
                         + ")")
        check_data_input(g, node, t)
        # (else a kernel 1: the map as it was)
        pooled_to_7 = not whole_map and size is not None and [s // kk for s, kk in zip(size, k)] == [7, 7]
        t, node = node.output[0], g.next(node.output[0], node)
    head_desc = None
    if node is None:
        raise Refused(f"the graph ends after the features (tensor '{t}'); expected a GAP or flatten and dense layers")
    op = node.op_type
    # a map of 1x1 flattened (an AveragePool over all of it before, or the features' own: CIFAR's VGGs at 32x32)
    # is the GAP of that map, the head's input as vggcl makes it
    one_by_one = op in ("Flatten", "Reshape", "Squeeze") and not pooled_to_7 and \
        (whole_map or map_size(hw, pools) == [1, 1])
    if op in ("GlobalAveragePool", "ReduceMean") or one_by_one:
        keep = 1
        if op == "GlobalAveragePool" and layout != "NCHW":
            refuse(node, "GlobalAveragePool on NHWC data (after Transpose (0,2,3,1)); expected NCHW")
        elif op == "ReduceMean":
            axes, keep = reduce_axes(g, node)
            want = [2, 3] if layout == "NCHW" else [1, 2]
            if len(axes) == 1 and axes[0] in want:  # x.mean(3).mean(2): the spatial axes one at a time
                t, node = mean_then_mean(g, node, t, want, axes[0], keep)
            elif axes != want:
                refuse(node, (f"axes {axes}" if axes else "no axes (it averages every axis, the batch's and the "
                              "channels' too)" if not attrs(node).get("noop_with_empty_axes", 0) else "no axes, "
                              "with noop_with_empty_axes (it averages nothing)")
                       + f" on {layout} data; expected {tuple(want)} (the spatial axes)")
        width, flat = c, None
        channels_last = layout == "NHWC" or not keep
        if not one_by_one:
            check_data_input(g, node, t)
            g.only_first_output(node)
            t, node = node.output[0], g.next(node.output[0], node)
        gap_axes = gap_first = "NC" if not keep else "N11C" if layout == "NHWC" else "NC11"
        while node is not None and node.op_type in ("Flatten", "Reshape", "Squeeze"):
            gap_axes = check_flatten(g, node, t, width, gap_axes)
            channels_last = True
            t, node = node.output[0], g.next(node.output[0], node)
        if gap_axes not in ("NC", gap_first):  # (one of the two axes of size 1 squeezed away, the other left)
            raise Refused(f"the GAP's output '{t}' is left of rank {len(gap_axes)} ({gap_axes}); expected it "
                          f"flattened to (N, {width})")
        # (N, C, 1, 1): 1x1 Convs may come before the flatten, and the graph may end there (its output read as
        # (N, C)); the dense chain says what it cannot take on that map
        maps = not channels_last
        gap_axes = "NC11" if maps else "NC"
        head_desc = "GAP" if not one_by_one else "GAP (an AveragePool over the whole map)" if whole_map \
            else "GAP (a flatten of the 1x1 map)"
    elif op in ("Flatten", "Reshape") and pre_gap is None:
        size = [7, 7] if pooled_to_7 else map_size(hw, pools)
        if size != [7, 7]:
            refuse(node, "flattens a " + ("map of unknown size (the graph input's H and W are not static)"
                                          if size is None else f"{size[0]}x{size[1]} map")
                   + "; expected 7x7 (vggcl adaptive-pools to 7x7 before the first dense layer) or 1x1 (the GAP)")
        width, flat = c * 49, layout
        check_flatten(g, node, t, width)
        head_desc = f"flatten 7x7 ({'h,w,c' if layout == 'NHWC' else 'c,h,w'} order)"
        t, node = node.output[0], g.next(node.output[0], node)
    elif pre_gap is not None:
        refuse(node, f"follows {name_of(pre_gap[2])} (a 1x1 Conv) on a map that is not 1x1 (" + (
               "of unknown size" if map_size(hw, pools) is None else "{}x{}".format(*map_size(hw, pools)))
               + "); expected a GAP (GlobalAveragePool, ReduceMean over H and W) right after it")
    elif conv_after(g, node):  # (said as the head's: "after the features" of a node with convolutions after it)
        after = "MaxPool" if last == "pool" else "Relu"
        refuse(node, "a BatchNormalization after a Relu (as Keras places it); vggcl folds one only between a Conv and "
                     "its Relu" if op == "BatchNormalization" and after == "Relu" else
               f"between the convolutions, after a {after}; expected Conv [BatchNormalization] Relu [MaxPool] there")
    else:
        refuse(node, "expected GlobalAveragePool, ReduceMean, Flatten/Reshape or Transpose (0,2,3,1) after the "
                     f"features (the last {'MaxPool' if last == 'pool' else 'Relu'})")

    # --- dense chain (maps: on the (N, C, 1, 1) map of a keepdims GAP, 1x1 Convs until a flatten)
    layers, pending, state, softmax, dense_folds = [], None, "input", False, pre_folds
    last_node = last_dense = relu_after_last = None
    if pre_gap is not None:
        layers, state, last_node, last_dense = [pre_gap[:2]], "pre", pre_gap[2], pre_gap[2]
        head_desc = f"1x1 Conv to {c} channels then {head_desc} (the same as the GAP then that dense layer)"
    while node is not None:
        op = node.op_type
        if op in ("Dropout", "Pad"):
            passed_over(g, node, t, model)
        elif op in ("Flatten", "Reshape", "Squeeze") and gap_axes != "NC":
            gap_axes = check_flatten(g, node, t, width, gap_axes)
            maps = False
        elif op in ("Gemm", "MatMul", "Conv"):
            if state == "pre":
                refuse(node, f"follows the dense layer {name_of(last_dense)} without a Relu between them; "
                             "expected Relu")
            if (op == "Conv") != maps:
                refuse(node, "a Conv after the flatten; expected Gemm or MatMul" if op == "Conv" else
                       f"on the (N, {width}, 1, 1) map; expected a 1x1 Conv there, or a Flatten before the {op}")
            check_data_input(g, node, t)
            if op == "Conv":
                w, b = pointwise_dense(g, node, t, width)
            elif op == "Gemm":
                a = attrs(node)
                if a.get("transA", 0):
                    refuse(node, "transA=1; expected transA=0 (data times weight)")
                bw = fweight(node, g.const(node, 1, "weight"), "the weight")
                if bw.ndim != 2:
                    refuse(node, f"weight of shape {list(bw.shape)}; expected 2-D")
                w = (bw.T if a.get("transB", 0) else bw) * a.get("alpha", 1.0)
                b = np.zeros(w.shape[1])
                if len(node.input) > 2 and node.input[2]:
                    cb = fweight(node, g.const(node, 2, "bias"), "the bias")
                    if cb.ndim > 2 or any(d != 1 for d in cb.shape[:-1]) or cb.size not in (1, w.shape[1]):
                        refuse(node, f"bias of shape {list(cb.shape)}; expected ({w.shape[1]},)")
                    b = np.broadcast_to(cb.reshape(-1), (w.shape[1],)) * a.get("beta", 1.0)
            else:
                w = fweight(node, g.const(node, 1, "weight"), "the weight")
                if w.ndim != 2:
                    refuse(node, f"weight of shape {list(w.shape)}; expected 2-D (in, out)")
                b = np.zeros(w.shape[1])
            if not 1 <= w.shape[1] <= MAX_OUTPUTS:
                refuse(node, f"{w.shape[1]} outputs; vggcl takes 1 to {MAX_OUTPUTS} a dense layer")
            if w.shape[0] != width:
                refuse(node, f"takes {w.shape[0]} inputs; expected {width}"
                             + (f" ({c} channels x 7x7)" if not layers and head_desc != "GAP" else ""))
            if pending is not None:  # y = (x*s + t) @ W + b
                s, sh = pending
                w, b = w * s[:, None], b + sh @ w
                pending = None
            layers.append([w, np.array(b, np.float64)])
            width, state, last_dense = w.shape[1], "pre", node
        elif op in ("Add", "Sub", "Mul", "Div", "BatchNormalization"):
            if op == "BatchNormalization":
                s, sh = bn_affine(g, node, t, width)
            else:
                s, sh = operand_affine(g, node, t, width, maps)
            if state == "pre":  # on the last dense layer's output, before its Relu
                lw, lb = layers[-1]
                layers[-1] = [lw * s[None, :], lb * s + sh]
            else:  # on the next dense layer's input
                pending = (s, sh) if pending is None else (pending[0] * s, pending[1] * s + sh)
            if not (op == "Add" and state == "pre" and last_node is last_dense):
                dense_folds += 1  # (an Add right after a MatMul is its bias)
        elif is_relu(g, node, rank4=maps):
            check_data_input(g, node, t, relu_slot(node, t))
            if state != "pre" and (layers or pending is not None):
                refuse(node, "a Relu not right after a dense layer; expected Gemm or MatMul")
            if state == "pre":
                state, relu_after_last = "input", node
            # (else on the pooled features, before any dense layer or scale: each conv's Relu made them >= 0 already,
            # so it computes nothing, as Keras's GlobalAveragePooling2D then Activation("relu") writes it)
        elif op in ("Softmax", "LogSoftmax"):  # (the logits less one number per image: the same probabilities)
            check_data_input(g, node, t)
            axis = attrs(node).get("axis", -1 if model_opset(model) >= 13 else 1)
            if axis not in ((1, -3) if maps else (-1, 1)):
                refuse(node, f"axis {axis}; expected the class axis " + ("(1 or -3 on the (N, C, 1, 1) map)" if maps
                                                                         else "(-1 or 1)"))
            end, nxt = node, g.next(node.output[0], node)
            while nxt is not None and nxt.op_type == "Dropout":  # (nothing at inference; an Identity: gone already)
                inference_dropout(g, nxt, end.output[0], model)
                end, nxt = nxt, g.next(nxt.output[0], nxt)
            if nxt is not None:
                refuse(nxt, f"follows the {op}; expected the {op} to end the graph")
            softmax, last_node = {"Softmax": "softmax", "LogSoftmax": "log_softmax"}[op], node
            break
        else:
            refuse(node, "unsupported on the data path after the features; expected Gemm, MatMul, Add, Mul, Relu, "
                         "Dropout, BatchNormalization, " + ("a 1x1 Conv, a Flatten " if maps else "")
                   + "or a final Softmax or LogSoftmax")
        last_node = node
        t, node = node.output[0], g.next(node.output[0], node)
    if not layers:
        refuse(last_node or g.g.node[-1], "the graph ends without a dense layer; expected Gemm or MatMul")
    if len(layers) > MAX_DENSE:
        refuse(last_dense, f"a head of {len(layers)} dense layers; vggcl runs at most {MAX_DENSE}")
    if state != "pre":
        refuse(relu_after_last, "a Relu (or per-channel scaling after it) follows the last dense layer; "
                                "expected the last dense layer's output to be the logits (or their Softmax)")

    # --- head tensors in torch Linear layout (out, in)
    if flat == "NHWC":  # Keras flatten: rows in (h, w, c) order -> torchvision's (c, h, w)
        w0 = layers[0][0]
        layers[0][0] = w0.reshape(7, 7, c, w0.shape[1]).transpose(2, 0, 1, 3).reshape(c * 49, w0.shape[1])
    for k, (w, b) in enumerate(layers):
        tensors[f"classifier.{2 * k}.weight"] = np.ascontiguousarray(w.T, np.float32)
        tensors[f"classifier.{2 * k}.bias"] = np.asarray(b, np.float32)
    if scale == "caffe":  # the graph takes BGR: feed it RGB instead
        tensors[first] = np.ascontiguousarray(tensors[first][:, ::-1])
    mean, std = SCALES[scale] if not steps else input_norm(steps, scale, given)
    meta = {"format": "pt", "vggcl.pool5": pool5, "vggcl.source": f"onnx:{path_name}",
            "vggcl.input_layout": layout_in, "vggcl.output": f"{softmax} dropped" if softmax else "logits",
            "vggcl.mean": mean, "vggcl.std": std}
    if any(ceil):  # (vggcl then runs it where those pools' maps are even: there rounding up changes nothing)
        meta["vggcl.pool_ceil"] = "1" if all(ceil) else ",".join("1" if c else "0" for c in ceil)
    if hw is not None:
        meta["vggcl.input_size"] = f"{hw[0]},{hw[1]}"
        if hw[0] == hw[1] <= MAX_SIZE:  # vggcl's preprocessing then makes that size: short side to it, center crop
            meta["vggcl.resize"] = meta["vggcl.crop"] = str(hw[0])
        elif max(hw) <= MAX_SIZE:  # (a crop is square: both sides resized to it, Resize((H, W)), and no crop)
            meta["vggcl.resize"], meta["vggcl.crop"] = f"{hw[0]},{hw[1]}", "0"
    if scale == "caffe":
        meta["vggcl.graph_channels"] = "BGR"
    widths = [layers[0][0].shape[0]] + [w.shape[1] for w, _ in layers]
    folds = []
    if bn_folded:
        folds.append(f"{bn_folded} BatchNorm folded into convs")
    if affine_folded:
        folds.append(f"{affine_folded} Mul/Add/Sub/Div folded into convs")
    if dense_folds:
        folds.append(f"{dense_folds} Mul/Add/BatchNorm folded into dense layers")
    kept = "kept" if pool5 == "keep" else "dropped"
    summary = (f"{len(convs)} convs ({convs[0]}..{max(convs)} channels), {pools} max pools (pool5 {kept}"
               + (f"; {'every one' if all(ceil) else sum(ceil)} rounding up, ceil_mode: run at sizes where "
                  f"{'its' if sum(ceil) == 1 else 'their'} maps are even" if any(ceil) else "") + "), "
               f"{head_desc}, dense {'-'.join(map(str, widths))}, input {layout_in}"
               + (f" {hw[0]}x{hw[1]}" if hw else "") + f", {scale} scaling"
               + (f", {softmax} dropped" if softmax else "") + "".join(", " + f for f in folds)
               + (", the graph's (N, C, 1, 1) output read as (N, C)" if maps else "")
               + (f", the graph's input normalization ({', '.join(n.op_type for n, *_ in steps)}) read into "
                  "vggcl.mean and vggcl.std" if steps else "")
               + (f", {halves} float16 weights widened to float32" if halves else "")
               + (f", {casts} Casts to a float type passed over (vggcl computes in float32)" if casts else ""))
    return tensors, meta, summary


def newer_than_checker(model):
    """What in the model is newer than the installed onnx's checker knows ("IR version 9, opset 18"), or ""."""
    newer = []
    if model.ir_version > onnx.IR_VERSION:
        newer.append(f"IR version {model.ir_version}")
    if model_opset(model) > onnx.defs.onnx_opset_version():
        newer.append(f"opset {model_opset(model)}")
    return ", ".join(newer)


def model_opset(model):
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx"):
            return o.version
    return 1


def read_classes(a):
    try:
        return read_class_names(a.classes, a.classes_json)
    except ValueError as e:
        raise BadArgument(str(e))


def main(argv=None):
    ap = argparse.ArgumentParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="the .onnx file")
    ap.add_argument("--out", required=True, help="the .safetensors file to write")
    ap.add_argument("--input-scale", choices=sorted(SCALES),
                    help="what the graph's input is: x/255 (unit, default), ImageNet-normalized (torch), "
                         "Keras/Caffe BGR minus mean (caffe), or 0..255 (raw, the default for a uint8 input)")
    cl = ap.add_mutually_exclusive_group()
    cl.add_argument("--classes", help="comma-separated class names, in output order")
    cl.add_argument("--classes-json", help='a JSON {"name": index} object, an {"index": name} one (a name or a list '
                                           "ending with it, as Keras's imagenet_class_index.json), or a list of names")
    ap.add_argument("--pool5", choices=["keep", "drop"], help="check that the graph agrees")
    add_preprocess_args(ap)  # (default: a square input's size, as both the resize and the crop)
    a = ap.parse_args(argv)
    check_preprocess_args(ap, a)
    return run_converter(PROG, a.model, a.out, lambda: convert_file(a), "MODEL.onnx (the graph to read)")


def graph_tensors(graph):
    """Every tensor of a graph that may hold data: its initializers and its nodes' tensor attributes, those of
    the graphs its nodes hold (If, Loop, Scan) too."""
    for t in graph.initializer:
        yield t
    for n in graph.node:
        for a in n.attribute:
            if a.HasField("t"):
                yield a.t
            yield from a.tensors
            for sub in ([a.g] if a.HasField("g") else []) + list(a.graphs):
                yield from graph_tensors(sub)


def external_links(model, path):
    """Refuses a tensor whose external data is outside the model's folder (an absolute location, or one climbing
    out with ..) or reached through a symbolic link (onnx 1.12 followed one beside the model to any file, whose
    bytes became weights; later onnx refuses them too)."""
    folder = os.path.realpath(os.path.dirname(path) or ".")
    for t in graph_tensors(model.graph):
        if t.data_location != onnx.TensorProto.EXTERNAL:
            continue
        where = next((e.value for e in t.external_data if e.key == "location"), "")
        if os.path.isabs(where) or os.path.normpath(where).split(os.sep)[0] == "..":  # (onnx's words doubled the path)
            raise Refused(f"the external data of tensor '{t.name}', {where}, is outside the model's folder; expected a "
                          "file in that folder or one below it")
        plain = os.path.normpath(os.path.join(folder, where))  # (where it is, read without following links)
        if os.path.realpath(plain) != plain:
            raise Refused(f"the external data of tensor '{t.name}', {where}, is reached through a symbolic link; "
                          "expected a file in the model's folder")
        if os.path.exists(plain) and not os.path.isfile(plain):  # (a FIFO's reading waited for ever: a tensor of
            # no bytes skips the size check)
            raise Refused(f"the external data of tensor '{t.name}', {where}, is not a regular file; expected a file "
                          "in the model's folder")


_P = onnx.TensorProto
STORED_BYTES = {_P.FLOAT: 4, _P.DOUBLE: 8, _P.FLOAT16: 2, _P.BFLOAT16: 2, _P.INT8: 1, _P.UINT8: 1, _P.INT16: 2,
                _P.UINT16: 2, _P.INT32: 4, _P.UINT32: 4, _P.INT64: 8, _P.UINT64: 8, _P.BOOL: 1, _P.COMPLEX64: 8,
                _P.COMPLEX128: 16}  # (an element's bytes in raw data: onnx's numpy table takes bfloat16 as float32)


def declared_bytes(t):
    """The bytes a tensor's shape and type declare (None: a type of no fixed size, as strings, or unknown)."""
    size = STORED_BYTES.get(t.data_type)
    return None if size is None else int(np.prod(t.dims, dtype=object)) * size


def tensor_shapes(model, path):
    """Refuses a tensor of a negative size (numpy took -5 as -1 and inferred it: a file onnxruntime refuses was
    imported), and one whose external data reaches past the end of its file (a reshape error), before the data is
    read; returns the largest tensor's name and bytes, for a message if reading it runs out of memory."""
    folder, largest = os.path.dirname(path) or ".", (None, 0)
    for t in graph_tensors(model.graph):
        if any(d < 0 for d in t.dims):
            raise Refused(f"tensor '{t.name}' has the shape {list(t.dims)}; expected sizes from 0")
        size = declared_bytes(t)
        if size is not None and size > largest[1]:
            largest = (t.name, size)
        if t.data_location != onnx.TensorProto.EXTERNAL or size is None:
            continue
        keys = {e.key: e.value for e in t.external_data}
        try:
            offset, have = int(keys.get("offset", 0)), os.path.getsize(os.path.join(folder, keys.get("location", "")))
        except (OSError, ValueError):
            continue  # (said as onnx reads it: a file not there, an offset not a number)
        if offset + size > have:
            raise Refused(f"tensor '{t.name}' of shape {list(t.dims)} ({size} bytes) reaches past the end of its "
                          f"external data {keys.get('location', '')} ({have} bytes; from byte {offset})")
    return largest


def convert_file(a):
    """The command's work: the line to print once the file is written."""
    classes = read_classes(a) if a.classes is not None or a.classes_json else None
    largest = (None, 0)
    try:
        if os.path.isfile(a.model) and not os.path.getsize(a.model):  # (read as an empty model: "no ir_version")
            raise Refused("an empty file (0 bytes), not an ONNX model")
        with warnings.catch_warnings():  # (protobuf's RuntimeWarning on a text file: two lines before the reason)
            warnings.simplefilter("ignore")
            model = onnx.load(a.model, load_external_data=False)
        external_links(model, a.model)
        largest = tensor_shapes(model, a.model)
        external_data_helper.load_external_data_for_model(model, os.path.dirname(a.model))
    except Refused:
        raise
    except MemoryError:
        raise Refused(f"out of memory reading the model's tensors (the largest, '{largest[0]}', declares "
                      f"{largest[1] / 2 ** 30:.1f} GiB)" if largest[0] else "out of memory reading the model")
    except Exception as e:  # onnx raises DecodeError, OSError, ...
        kind = file_kind(a.model)
        short = "" if kind else cut_short(a.model)  # (a PNG's bytes walked as fields could seem cut)
        if short:
            raise Refused(f"cannot read the ONNX model: the file is truncated: {short}")
        raise Refused(f"cannot read the ONNX model: {str(e).splitlines()[0] if str(e) else type(e).__name__}{kind}")
    newer = newer_than_checker(model)  # (Debian 12's onnx 1.12 checks IR 8 and opset 17; torch 2 writes newer)
    twice = defined_twice(model)  # (in the file's order, before nodes are put in ONNX's)
    if newer and twice:  # (the checker's "single static assignment" where it runs; onnxruntime refuses it)
        raise Refused(f"not a valid ONNX graph: tensor '{twice[0]}' is defined twice ({twice[1]}, then {twice[2]}): "
                      "each tensor has one maker")
    nodes = list(model.graph.node)
    ordered = in_order(nodes)
    # (ONNX's order, which onnxruntime and the importer do not need and the checker does, and "ai.onnx" written
    # out for ONNX's domain, "", in the nodes or the opset imports, which the checker takes for another: given it
    # as it wants them)
    rewritten = (any(x is not y for x, y in zip(ordered, nodes)) or any(n.domain == "ai.onnx" for n in nodes)
                 or any(o.domain == "ai.onnx" for o in model.opset_import))
    if rewritten:
        ordered = [onnx.NodeProto.FromString(n.SerializeToString()) for n in ordered]
        for n in ordered:
            if n.domain == "ai.onnx":
                n.domain = ""
        del model.graph.node[:], nodes
        model.graph.node.extend(ordered)
        version = model_opset(model)
        kept = [o for o in model.opset_import if o.domain not in ("", "ai.onnx")]
        del model.opset_import[:]
        model.opset_import.extend([onnx.helper.make_opsetid("", version), *kept])
    big = rewritten and not newer and model.ByteSize() >= 2 ** 31  # (checked in memory: protobuf's limit)
    if not newer and not big:
        try:  # (structure: names used before they are made, empty outputs, attributes of the wrong type...)
            onnx.checker.check_model(model if rewritten else a.model)  # (the path: also for files over 2 GB)
        except onnx.checker.ValidationError as e:
            why = " ".join(ln.strip() for ln in str(e).strip().splitlines() if ln.strip())  # (a node over lines)
            why = why[:400] + " ..." if len(why) > 400 else why or "(the checker gave no reason)"
            raise Refused(f"not a valid ONNX graph: {why}")
    try:
        tensors, meta, summary = convert(model, os.path.basename(a.model), a.input_scale)
    except MemoryError:  # (widening the weights to float64 as they are folded)
        raise Refused(f"out of memory converting the model's tensors (the largest, '{largest[0]}', declares "
                      f"{largest[1] / 2 ** 30:.1f} GiB)" if largest[0] else "out of memory converting the model")
    except (TypeError, ValueError, KeyError, IndexError, AttributeError, OverflowError) as e:
        # (a graph the checker passed but the importer cannot take, as a Reshape to a NaN size: one line too)
        raise Refused(f"malformed graph{f' (not checked by onnx {onnx.__version__})' if newer else ''}, or one "
                      f"the importer mishandles: {type(e).__name__}: {e}")
    bad = [k for k, v in tensors.items() if not np.all(np.isfinite(v))]
    if bad:
        raise Refused(f"the converted tensor '{bad[0]}' holds NaN or infinite values (a non-finite weight in "
                      "the graph, or float32 overflow folding BatchNorm, Mul or Div into it)")
    if a.pool5 and a.pool5 != meta["vggcl.pool5"]:
        has = ("kept (a MaxPool after the last conv)" if meta["vggcl.pool5"] == "keep"
               else "dropped (no MaxPool after the last conv)")
        raise Refused(f"--pool5 {a.pool5}, but the graph has pool5 {has}")
    if "vggcl.input_size" in meta:  # (a graph of a fixed size: the preprocessing given must make that size)
        h, w = meta["vggcl.input_size"].split(",")
        if a.crop is not None and meta.get("vggcl.crop") != str(a.crop):
            raise Refused(f"--crop {a.crop}, but the graph takes {h}x{w} images" + (
                f": give --resize {h}x{w} alone (a crop is square)" if h != w else ""))
        resize = resize_meta(a.resize) if a.resize is not None else meta.get("vggcl.resize")
        if (a.no_crop or meta.get("vggcl.crop") == "0") and resize != f"{h},{w}":  # (without a crop, only it does)
            given = " ".join(opt for opt, on in ((f"--resize {a.resize}", a.resize is not None),
                                                 ("--no-crop", a.no_crop)) if on)
            raise Refused(f"{given}, but the graph takes {h}x{w} images, which without a crop only --resize {h}x{w} "
                          "makes")
    preprocess_meta(a, meta)
    n_out = tensors[max((k for k in tensors if k.startswith("classifier.")),
                        key=lambda k: int(k.split(".")[1]))].shape[0]
    write_model(tensors, meta, a.out, classes, n_out)
    if newer:  # (said once written: a refusal is its one line)
        print(f"{PROG}: {shown(a.model)}: note: {newer}, newer than this onnx {onnx.__version__} checks: the graph is "
              "not checked by it, only by the importer", file=sys.stderr)
    elif big:
        print(f"{PROG}: {shown(a.model)}: note: its nodes, out of ONNX's order, were sorted in memory, where onnx's "
              "checker takes less than 2 GiB: the graph is not checked by it, only by the importer", file=sys.stderr)
    for note in metadata_notes(meta) + outputs_note(model.graph):
        print(f"{PROG}: {shown(a.model)}: note: {note}", file=sys.stderr)
    return written(a.out, summary, n_out, classes)


def outputs_note(graph):
    """[a note] where the graph has several outputs: which one the model written answers (the end of its chain; the
    others are tensors along it, as its features), or [] for one."""
    names = [o.name for o in graph.output]
    if len(names) < 2:
        return []
    read = {i for n in graph.node for i in n.input}
    end = next((o for o in names if o not in read), names[-1])
    others = ", ".join(f"'{o}'" for o in names if o != end)
    return [f"the graph has {len(names)} outputs; the model written answers '{end}', the end of its chain"
            + (f" and not the first output ('{names[0]}')" if names[0] != end else "")
            + f": {others} (a tensor along the chain{'s' if len(names) > 2 else ''}) left out"]


def file_kind(path):
    """What the first bytes of a file that is not an ONNX protobuf say it is (" (a zip archive: ...)"), or ""."""
    try:
        with open(path, "rb") as f:
            head = f.read(32)
    except OSError:
        return ""
    kinds = ((b"PK\x03\x04", "a zip archive: a PyTorch checkpoint (torch.save)? export the model with "
                             "torch.onnx.export"), (b"\x1f\x8b", "a gzip file: decompress it first"),
             (b"\x80", "a pickle: a PyTorch or NumPy file? export the model with torch.onnx.export"),
             (b"\x89HDF", "an HDF5 file: a Keras model? convert it with tf2onnx"),
             (b"\x93NUMPY", "a NumPy array, not a model"), (b"\x89PNG", "a PNG image, not a model"),
             (b"\xff\xd8\xff", "a JPEG image, not a model"),
             (b"version https://git-lfs", "a Git LFS pointer: fetch the file itself (git lfs pull)"))
    for magic, kind in kinds:
        if head.startswith(magic):
            return f" ({kind})"
    if len(head) >= 10 and head[8:10] == b'{"':  # (an 8-byte header length, then its JSON)
        return " (a safetensors file: give it to vggcl as it is)"
    if head.lstrip()[:14].lower() == b"<!doctype html" or head.lstrip()[:5].lower() == b"<html":
        return " (an HTML page: a download that got a web page instead of the file?)"
    if all(32 <= b < 127 or b in b"\t\r\n" for b in head):
        return " (text, not an ONNX protobuf)"
    return ""


# ModelProto's fields and their wire types (0: a varint, 2: bytes): ir_version, producer_name, producer_version,
# domain, model_version, doc_string, graph, opset_import, metadata_props, training_info, functions, configuration
# (ONNX 1.18's)
MODEL_FIELDS = {1: 0, 2: 2, 3: 2, 4: 2, 5: 0, 6: 2, 7: 2, 8: 2, 14: 2, 20: 2, 25: 2, 26: 2}


def cut_short(path):
    """Where a file whose top-level protobuf fields are whole but the last, which runs past the file's end, ends
    (an interrupted download or copy: protobuf says "Error parsing message" alone), else ""."""
    def varint(f):  # (None: the file ends within it)
        value = 0
        for shift in range(0, 70, 7):
            b = f.read(1)
            if not b:
                return None
            value |= (b[0] & 0x7F) << shift
            if b[0] < 0x80:
                return value
        raise ValueError("a varint of more than 10 bytes")

    def said(field, short):
        name = {7: " (the graph)", 8: " (the opset imports)", 14: " (the metadata)", 25: " (the functions)"}
        return f"it ends {short} field {field}{name.get(field, '')}, at byte {size}: an interrupted download or " \
               "copy? fetch it again"
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            if f.read(1) != b"\x08":  # (ir_version, field 1, first in every ONNX writer's files: else not one)
                return ""
            f.seek(0)
            while f.tell() < size:
                key = varint(f)
                if key is None or MODEL_FIELDS.get(key >> 3) != key & 7:  # (not a ModelProto's field: bytes after
                    return ""                                             # a whole model, another protobuf)
                length = {0: 0, 1: 8, 5: 4}.get(key & 7)
                if length is None:
                    length = varint(f)
                elif not length and varint(f) is None:
                    return said(key >> 3, "within")
                if length is None:
                    return said(key >> 3, "within the length of")
                if f.tell() + length > size:
                    return said(key >> 3, f"{f.tell() + length - size} bytes short of the end of")
                f.seek(f.tell() + length)
    except (OSError, ValueError):
        pass
    return ""


if __name__ == "__main__":
    sys.exit(main())
