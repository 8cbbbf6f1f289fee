#!/usr/bin/python3
"""vggcl against the other CPU engines, side by side in one run on one machine.

The same model for all: torchvision's vgg16 with the GAP head (7 classes,
seeded weights), as safetensors for vggcl, as ONNX (torch.onnx.export) for
onnxruntime and OpenVINO, and as an ncnn .param/.bin written from the same
tensors. For each batch size every engine runs in its own process with the
same thread count (PoCL's through POCL_MAX_PTHREAD_COUNT), in turn, for
`--rounds` rounds; the best median of each is kept, since the machine is
shared and noise adds time (another job's load, which slows the engines
unequally, is said below the table: tool_cli's OthersMeter). An engine whose
logits differ from PyTorch's stops the run before its table. ncnn takes one
image at a time, so its batch is that many images in a row. Each engine's
logits for the batch it timed (vggcl's: `vggcl run` on that batch, as `bench`
times one of its own) are compared with PyTorch's for that batch (the "agrees"
line: the largest relative L2 difference over the batch sizes and rounds), so
every column ran the same network on every image. Prints a Markdown table of
ms per image, and the speed-up of vggcl over the fastest peer (that peer's ms
over vggcl's); below it, with two rounds or more, each engine's best and worst
round.

    tools/bench_vs_peers.py build/vggcl [--batches 1 8] [--size 224] [--iters 5] [--rounds 2]
                                        [--peer-python .venv/bin/python3] [--engines ncnn ...]

PyTorch runs here (/usr/bin/python3, Debian's torch); onnxruntime, OpenVINO
and ncnn run under --peer-python (default: the repository's .venv), e.g. after
`.venv/bin/pip install onnxruntime openvino ncnn`. An engine that is not
installed (its import fails) is left out with a note (exit 1 after the table
where --engines named it, or where no peer is left); one that fails in any
other way ends the run (left out, the speed-up was over a slower peer).
OpenVINO and ncnn are held to float32 (OpenVINO would compute in bf16 on CPUs
that have it, ncnn would store activations in fp16 where the CPU has F16C).
"""
import argparse
import inspect
import json
import os
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tool_cli import OthersMeter, need_binary, positive, run_main, vgg16_size  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PEERS = ("vggcl", "PyTorch", "onnxruntime", "OpenVINO", "ncnn")
CLASSES = 7
AGREE = 1e-4  # the relative L2 of an engine's logits against PyTorch's that still counts as the same answer
NOT_INSTALLED = 3  # a worker's exit status when its engine cannot be imported


# ---- the model in every format (needs torch) ----

def write_ncnn(model, size, param_path, bin_path):
    """ncnn's text graph and weights: Convolution (+ReLU fused) and 2x2 max Pooling per
    torchvision's features, global average Pooling, InnerProduct."""
    from torch import nn
    layers, blob, weights = [f"Input data 0 1 data 0={size} 1={size} 2=3"], "data", []
    for i, m in enumerate(model.features):
        if isinstance(m, nn.Conv2d):
            w = m.weight.detach().numpy().astype(np.float32)
            layers.append(f"Convolution conv{i} 1 1 {blob} conv{i} 0={m.out_channels} 1=3 11=3 2=1 12=1 3=1 13=1 "
                          f"4=1 14=1 15=1 16=1 5=1 6={w.size} 9=1")
            weights += [struct.pack("<I", 0), w.tobytes(), m.bias.detach().numpy().astype(np.float32).tobytes()]
            blob = f"conv{i}"
        elif isinstance(m, nn.MaxPool2d):
            layers.append(f"Pooling pool{i} 1 1 {blob} pool{i} 0=0 1=2 11=2 2=2 12=2 3=0 5=1")
            blob = f"pool{i}"
    fc = model.classifier[0]
    w = fc.weight.detach().numpy().astype(np.float32)
    layers.append(f"Pooling gap 1 1 {blob} gap 0=1 4=1")
    layers.append(f"InnerProduct fc 1 1 gap output 0={fc.out_features} 1=1 2={w.size}")
    weights += [struct.pack("<I", 0), w.tobytes(), fc.bias.detach().numpy().astype(np.float32).tobytes()]
    Path(param_path).write_text(f"7767517\n{len(layers)} {len(layers)}\n" + "\n".join(layers) + "\n")
    Path(bin_path).write_bytes(b"".join(weights))


def prepare(d, batches, size):
    """The model in every format, and each batch (d/xN.npy) with PyTorch's logits for it: {N: logits}."""
    import torch
    sys.path.insert(0, str(ROOT / "weights"))
    from export_torchvision import export, gap_model
    model = gap_model("vgg16", CLASSES, "keep", seed=0)
    export(model, d / "model.safetensors")
    want = {}
    for n in batches:
        x = np.random.default_rng(n).uniform(-2, 2, (n, 3, size, size)).astype(np.float32)
        np.save(d / f"x{n}.npy", x)
        with torch.no_grad():
            want[n] = model(torch.from_numpy(x)).numpy()
    # (the TorchScript exporter: from PyTorch 2.9 the default is dynamo's, which needs onnxscript)
    legacy = {"dynamo": False} if "dynamo" in inspect.signature(torch.onnx.export).parameters else {}
    torch.onnx.export(model, torch.from_numpy(x[:1]), str(d / "model.onnx"), input_names=["x"],
                      output_names=["logits"], dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, opset_version=13,
                      **legacy)
    write_ncnn(model, size, d / "model.param", d / "model.bin")
    return want


# ---- one engine, timed in its own process ----

def timed(run, iters):
    run()  # warm-up (first-use compiles, allocations)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        run()
        times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def worker(peer, d, batch, iters, threads):
    """Times the engine on the batch d/x{batch}.npy and prints the ms and the logits of its last timed run."""
    xb, last = np.load(d / f"x{batch}.npy"), {}
    if peer == "PyTorch":
        import torch
        torch.set_num_threads(threads)
        sys.path.insert(0, str(ROOT / "weights"))
        from export_torchvision import gap_model
        model, t = gap_model("vgg16", CLASSES, "keep", seed=0), torch.from_numpy(xb)
        with torch.no_grad():
            ms = timed(lambda: last.update(y=model(t)), iters)
        out = last["y"].numpy()
    elif peer == "onnxruntime":
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads, so.inter_op_num_threads = threads, 1
        s = ort.InferenceSession(str(d / "model.onnx"), so, providers=["CPUExecutionProvider"])
        ms = timed(lambda: last.update(y=s.run(None, {"x": xb})[0]), iters)
        out = last["y"]
    elif peer == "OpenVINO":
        import openvino as ov
        core = ov.Core()
        cfg = {"INFERENCE_NUM_THREADS": str(threads), "INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY"}

        def compiled(n):
            m = core.read_model(str(d / "model.onnx"))
            m.reshape([n, 3, *xb.shape[2:]])
            return core.compile_model(m, "CPU", cfg).create_infer_request()
        req = compiled(batch)
        ms = timed(lambda: req.infer({0: xb}), iters)
        out = np.array(req.get_output_tensor(0).data)
    elif peer == "ncnn":
        import ncnn
        net = ncnn.Net()
        net.opt.use_vulkan_compute = False
        net.opt.num_threads = threads
        # float32 throughout, as the others (its default stores activations in fp16 where the CPU has F16C)
        net.opt.use_fp16_storage = net.opt.use_fp16_packed = net.opt.use_fp16_arithmetic = False
        net.opt.use_bf16_storage = False
        if net.load_param(str(d / "model.param")) or net.load_model(str(d / "model.bin")):
            raise RuntimeError("ncnn could not load the model")

        def infer(img):
            ex = net.create_extractor()
            ex.input("data", ncnn.Mat(np.ascontiguousarray(img)))
            ret, y = ex.extract("output")
            if ret:
                raise RuntimeError(f"ncnn extract failed ({ret})")
            return np.array(y).reshape(-1)
        ms = timed(lambda: last.update(y=[infer(img) for img in xb]), iters)
        out = np.stack(last["y"])
    else:
        raise SystemExit(f"unknown engine {peer}")
    print(json.dumps({"ms": ms, "logits": np.asarray(out, np.float64).tolist()}))


def device_lines(binary, kind):
    """vggcl's devices of a kind ("CPU", "GPU"): their lines in `vggcl devices`."""
    listing = subprocess.run([binary, "devices"], capture_output=True, text=True, check=True).stdout
    return [line for line in listing.splitlines() if len(line.split()) > 3 and line.split()[2] == kind]


def cpu_device(binary):
    """vggcl's first CPU device (flat index, its line in `vggcl devices`): the peers run on the CPU, so vggcl
    does too, whatever $VGGCL_DEVICE says or a GPU the machine has (vggcl's default)."""
    for line in device_lines(binary, "CPU"):
        return line.split()[0], line
    raise SystemExit("bench_vs_peers: no CPU device in `vggcl devices` (PoCL: apt-get install pocl-opencl-icd)")


def pocl_threads(threads):
    """The environment that holds PoCL to threads: POCL_MAX_PTHREAD_COUNT, which Debian 12's PoCL 3 reads, and
    POCL_CPU_MAX_CU_COUNT, later PoCLs' name for it (PoCL 3.1 ignores it)."""
    return dict(os.environ, POCL_CPU_MAX_CU_COUNT=str(threads), POCL_MAX_PTHREAD_COUNT=str(threads))


def run_vggcl(binary, device, d, batch, size, iters, threads):
    env = pocl_threads(threads)
    r = subprocess.run([binary, "bench", "--device", device[0], "--weights", str(d / "model.safetensors"), "--batch",
                        str(batch), "--size", str(size), "--iters", str(iters), "--json"], capture_output=True,
                       text=True, env=env, check=True)
    j = json.loads(r.stdout.strip().splitlines()[-1])
    if j["device"] not in device[1]:
        raise SystemExit(f"bench_vs_peers: vggcl ran on {j['device']}, not the CPU device: {device[1]}")
    # (bench times a batch of its own; its logits for the batch the others timed come from `run`)
    subprocess.run([binary, "run", "--device", device[0], "--weights", str(d / "model.safetensors"), "--input",
                    str(d / f"x{batch}.npy"), "--output", str(d / "vggcl.npy")], capture_output=True, text=True,
                   env=env, check=True)
    return {"ms": j["ms_per_batch_median"], "logits": np.load(d / "vggcl.npy").tolist()}


def main():
    # stopped by SIGTERM: the temporary folders (hundreds of MB) are removed on the way out
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("vggcl")
    ap.add_argument("--batches", type=positive, nargs="+", default=[1, 8])
    ap.add_argument("--iters", type=positive, default=5)
    ap.add_argument("--rounds", type=positive, default=2)
    ap.add_argument("--size", type=positive, default=224)
    ap.add_argument("--threads", type=positive, default=len(os.sched_getaffinity(0)))  # (the cores it may use)
    ap.add_argument("--peer-python", default=str(ROOT / ".venv" / "bin" / "python3"))
    ap.add_argument("--engines", nargs="+", choices=PEERS, help="a subset (vggcl always runs; default: all)")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--dir", help=argparse.SUPPRESS)
    a = ap.parse_args()
    asked = [p for p in a.engines if p != "vggcl"] if a.engines else None  # (None: every engine, as installed)
    a.engines = a.engines or list(PEERS)
    a.batches = list(dict.fromkeys(a.batches))  # (each size once: --batches 1 1 printed its row twice)
    need_binary(ap, a.vggcl)
    vgg16_size(ap, a.size)
    if a.worker:
        try:
            return worker(a.worker, Path(a.dir), a.batches[0], a.iters, a.threads)
        except ImportError as e:
            print(f"not installed ({e})", file=sys.stderr)
            sys.exit(NOT_INSTALLED)
    with tempfile.TemporaryDirectory(prefix="vggcl-peers-") as tmp:
        d = Path(tmp)
        want = prepare(d, a.batches, a.size)
        device = cpu_device(a.vggcl)
        best, agrees, notes, others, worst = {}, {}, [], OthersMeter(), {}
        engines = [p for p in PEERS if p == "vggcl" or p in a.engines]
        for rnd in range(a.rounds):
            for batch in a.batches:
                for peer in list(engines):
                    if peer == "vggcl":
                        r = run_vggcl(a.vggcl, device, d, batch, a.size, a.iters, a.threads)
                    else:
                        py = sys.executable if peer == "PyTorch" else a.peer_python
                        if not os.access(py, os.X_OK):  # (a checkout without .venv: a traceback)
                            notes.append(f"{peer} left out: no Python at {py} (--peer-python)")
                            engines.remove(peer)
                            continue
                        p = subprocess.run([py, __file__, a.vggcl, "--worker", peer, "--dir", str(d), "--batches",
                                            str(batch), "--iters", str(a.iters), "--threads", str(a.threads)],
                                           capture_output=True, text=True)
                        last = (p.stderr.strip().splitlines() or ["no output"])[-1]
                        if p.returncode == NOT_INSTALLED:
                            notes.append(f"{peer} left out: {last}")
                            engines.remove(peer)
                            continue
                        if p.returncode:
                            raise SystemExit(f"bench_vs_peers: {peer} failed at batch {batch} in round {rnd + 1} "
                                             f"(exit {p.returncode}): {last}")
                        r = json.loads(p.stdout.strip().splitlines()[-1])
                    per_image = r["ms"] / batch
                    best[peer, batch] = min(best.get((peer, batch), float("inf")), per_image)
                    worst[peer, batch] = max(worst.get((peer, batch), 0.0), per_image)
                    got, ref = np.array(r["logits"]), want[batch]
                    diff = float(np.linalg.norm(got - ref) / np.linalg.norm(ref)) if got.shape == ref.shape else np.inf
                    agrees[peer] = max(agrees.get(peer, 0.0), diff)
                    if not diff <= AGREE:  # (said at once: the whole table was timed first)
                        raise SystemExit(f"bench_vs_peers: {peer} computed other logits than PyTorch at batch {batch} "
                                         f"in round {rnd + 1} (relative L2 {diff:.1e}, over {AGREE:g}): a table of "
                                         "it would compare unlike things")
                    print(f"round {rnd + 1}, batch {batch}: {peer} {per_image:.1f} ms/image", file=sys.stderr)
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    print(f"{time.strftime('%Y-%m-%d')}, {cpu}, {a.threads} threads; VGG16-GAP ({CLASSES} classes) {a.size}x{a.size}, "
          f"ms per image (best median of {a.rounds} alternating rounds)")
    print()
    cols = [p for p in PEERS if p in engines]
    print("| batch | " + " | ".join(cols) + " | vggcl speed-up (fastest peer's ms / vggcl's) |")
    print("| ---: |" + " ---: |" * (len(cols) + 1))
    for batch in a.batches:
        peers = [best[p, batch] for p in cols if p != "vggcl"]
        ratio = f"{min(peers) / best['vggcl', batch]:.2f}x" if peers else "-"
        print(f"| {batch} | " + " | ".join(f"{best[p, batch]:.1f}" for p in cols) + f" | {ratio} |")
    print()
    print("agrees (the largest relative L2 of a batch's logits against PyTorch's): " +
          ", ".join(f"{p} {agrees[p]:.1e}" for p in cols))
    if a.rounds > 1:  # (the noise beside the table: the rounds' range was on stderr alone)
        print("rounds (each one's median, ms per image, best-worst): " + "; ".join(
            f"batch {batch}: " + ", ".join(f"{p} {best[p, batch]:.1f}-{worst[p, batch]:.1f}" for p in cols)
            for batch in a.batches))
    busy = others.note(os.cpu_count())
    for n in notes + ([busy] if busy else []):
        print(f"\n{n}")
    if not sys.stdout.isatty():  # (a table redirected to a file: the engines left out said where they are seen)
        for n in notes:
            print(f"bench_vs_peers: {n}", file=sys.stderr)
    if busy:
        if not sys.stdout.isatty():  # (the table's file keeps it; a terminal showed it twice)
            print(f"bench_vs_peers: {busy}", file=sys.stderr)
    missing = [p for p in asked if p not in cols] if asked is not None else []
    if missing or (len(cols) < 2 and asked != []):  # (a speed-up over no peer, or not over the peers asked for)
        raise SystemExit(f"bench_vs_peers: {', '.join(missing) or 'every peer'} left out (said above): the table "
                         "does not compare the engines asked for")
    wrong = [p for p in cols if not agrees[p] <= AGREE]
    if wrong:  # (times of an engine that computes something else compare nothing)
        raise SystemExit(f"bench_vs_peers: {', '.join(wrong)} computed other logits than PyTorch (relative L2 over "
                         f"{AGREE:g}): the table above does not compare like with like")


if __name__ == "__main__":
    run_main(main)
