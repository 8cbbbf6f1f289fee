#!/usr/bin/python3
"""vggcl against PyTorch, side by side in one run on the same machine.

For each batch size: PyTorch (torchvision's vgg16 with the GAP head, eval,
no_grad, the same thread count) and `vggcl bench --json` on the same weights
(PoCL's thread count set to match), alternating `--rounds` times; the best
median of each is kept, since the machine is shared and noise adds time (another
job's load, which slows the engines unequally, is said below the table: tool_cli's
OthersMeter). Prints a Markdown table with the ratio vggcl/PyTorch in images per second,
and how far vggcl's logits are from PyTorch's on a batch of each size (`vggcl
run`): over 1e-4 relative L2 the script fails, as the table would compare an
engine that computes something else.

    tools/bench_vs_torch.py build/vggcl [--batches 1 8] [--size 224] [--iters 5]

vggcl runs on the kind of device PyTorch runs on, checked: on the CPU (the
default) its first CPU device unless --device names another, whatever
$VGGCL_DEVICE or a GPU of the machine would give. On a GPU: --torch-device
cuda runs PyTorch there, in float32 (TF32 off, so both do the same
arithmetic; cuDNN's autotuner on), and vggcl on --device, else its default
($VGGCL_DEVICE, else the first GPU), which must be a GPU.
"""
import argparse
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "weights"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from tool_cli import OthersMeter, need_binary, positive, run_main, vgg16_size  # noqa: E402

np = torch = export = gap_model = None  # (import_torch's, once the arguments are read)
AGREE = cpu_device = device_lines = pocl_threads = None  # (bench_vs_peers's, which needs numpy: import_torch's)


def import_torch():
    """PyTorch and what uses it, imported once the arguments are read: --help and a refusal took the 1.7 s of
    importing torch first."""
    global np, torch, export, gap_model, AGREE, cpu_device, device_lines, pocl_threads
    try:
        import numpy as np
        import torch
    except ImportError:  # (a python3 first on PATH without them: a traceback)
        raise SystemExit(f"{os.path.basename(sys.argv[0])}: needs PyTorch, which {sys.executable} cannot import "
                         "(Debian's python3-torch, in /usr/bin/python3)")
    from bench_vs_peers import AGREE, cpu_device, device_lines, pocl_threads
    from export_torchvision import export, gap_model


def sync(dev):
    if dev.startswith("cuda"):
        torch.cuda.synchronize()


def torch_ms(model, batch, size, iters, dev="cpu"):
    x = torch.randn(batch, 3, size, size).to(dev)
    with torch.no_grad():
        model(x)  # warm-up
        times = []
        for _ in range(iters):
            sync(dev)
            t0 = time.perf_counter()
            model(x)
            sync(dev)
            times.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(times)


def vggcl_run(binary, weights, batch, size, iters, threads, device):
    env = pocl_threads(threads)
    cmd = [binary, "bench", "--weights", str(weights), "--batch", str(batch), "--size", str(size), "--iters",
           str(iters), "--json"]
    if device:
        cmd += ["--device", device]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def disagreement(binary, weights, model, batch, size, threads, device, dev, d):
    """The relative L2 of vggcl's logits (`vggcl run`) from PyTorch's, on one batch of that size: bench times
    its own batch, so that the answers of the engine timed are checked apart (they were not: its random
    weights were not PyTorch's, nor its input)."""
    x = np.random.default_rng(batch).uniform(-2, 2, (batch, 3, size, size)).astype(np.float32)
    np.save(d / "x.npy", x)
    with torch.no_grad():
        want = model(torch.from_numpy(x).to(dev)).cpu().numpy()
    cmd = [binary, "run", "--weights", str(weights), "--input", str(d / "x.npy"), "--output", str(d / "y.npy")]
    subprocess.run(cmd + (["--device", device] if device else []), capture_output=True, text=True,
                   env=pocl_threads(threads), check=True)
    return float(np.linalg.norm(np.load(d / "y.npy") - want) / np.linalg.norm(want))


def main():
    # stopped by SIGTERM: the temporary folder (the weights, 57 MB at VGG16) is removed on the way out
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("vggcl")
    ap.add_argument("--batches", type=positive, nargs="+", default=[1, 8])
    ap.add_argument("--size", type=positive, default=224)
    ap.add_argument("--iters", type=positive, default=5)
    ap.add_argument("--rounds", type=positive, default=2)
    ap.add_argument("--threads", type=positive, default=len(os.sched_getaffinity(0)))  # (the cores it may use)
    ap.add_argument("--device", default=None, help="vggcl --device (default: its first CPU device; with "
                    "--torch-device cuda, vggcl's default)")
    ap.add_argument("--torch-device", default="cpu", help="where PyTorch runs: cpu (default) or cuda")
    a = ap.parse_args()
    a.batches = list(dict.fromkeys(a.batches))  # (each size once: --batches 1 1 printed its row twice)
    need_binary(ap, a.vggcl)
    vgg16_size(ap, a.size)
    import_torch()
    if a.torch_device != "cpu" and not (a.torch_device.startswith("cuda") and torch.cuda.is_available()):
        ap.error(f"--torch-device {a.torch_device}: cpu, or cuda where this PyTorch has CUDA and a GPU "
                 f"(CUDA: {torch.cuda.is_available()})")
    kind = "GPU" if a.torch_device.startswith("cuda") else "CPU"
    if a.device is None and kind == "CPU":
        a.device = cpu_device(a.vggcl)[0]
    same_kind = device_lines(a.vggcl, kind)
    if a.device is not None:  # (vggcl says which device the spec names: a copy of its rules here took a piece of
        # any column of the line, "2" of "21.5 GiB", and the platform's name; the reference was timed for minutes)
        p = subprocess.run([a.vggcl, "bench", "--random", "--size", "32", "--iters", "1", "--json", "--device",
                            a.device], capture_output=True, text=True)
        named = json.loads(p.stdout.strip().splitlines()[-1])["device"] if p.returncode == 0 else None
        if not named or not any(named in ln for ln in same_kind):
            why = (p.stderr.strip().splitlines() or [""])[-1] if not named else f"vggcl runs it on {named}"
            ap.error(f"--device {a.device}: not a {kind} device of `{a.vggcl} devices` (PyTorch runs on "
                     f"{a.torch_device}; {why})")
    torch.set_num_threads(a.threads)
    if a.torch_device.startswith("cuda"):
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
    model = gap_model("vgg16", 7, "keep", seed=0)
    work = tempfile.TemporaryDirectory(prefix="bench_vs_torch-")
    d = Path(work.name)
    weights = d / "model.safetensors"
    export(model, weights)  # (the weights PyTorch runs, for vggcl too)
    model = model.to(a.torch_device)
    rows, agrees, others = [], 0.0, OthersMeter()
    for batch in a.batches:
        agrees = max(agrees, disagreement(a.vggcl, weights, model, batch, a.size, a.threads, a.device,
                                          a.torch_device, d))
        if not agrees <= AGREE:  # (said before any timing: it was said after the table)
            raise SystemExit(f"bench_vs_torch: vggcl computed other logits than PyTorch at batch {batch} (relative "
                             f"L2 {agrees:.1e}, over {AGREE:g}): nothing timed, as it would compare unlike things")
        best_t, best_v, info = float("inf"), float("inf"), None
        for _ in range(a.rounds):
            best_t = min(best_t, torch_ms(model, batch, a.size, a.iters, a.torch_device))
            r = vggcl_run(a.vggcl, weights, batch, a.size, a.iters, a.threads, a.device)
            if not any(r["device"] in ln for ln in same_kind):  # (side by side: the same kind of device)
                raise SystemExit(f"bench_vs_torch: vggcl ran on {r['device']}, not a {kind} device as PyTorch "
                                 f"({a.torch_device}): give --device one")
            if r["ms_per_batch_median"] < best_v:
                best_v, info = r["ms_per_batch_median"], r
        rows.append((batch, best_t, best_v, info))
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    where = f"{cpu}, {a.threads} threads"
    if a.torch_device.startswith("cuda"):
        where = f"PyTorch on {torch.cuda.get_device_name()} (float32, TF32 off)"
    print(f"{time.strftime('%Y-%m-%d')}, {where}; vggcl device: {rows[0][3]['device']}; "
          f"PyTorch {torch.__version__}; VGG16-GAP (7 classes) {a.size}x{a.size}")
    print()
    print("| batch | PyTorch ms/batch | PyTorch img/s | vggcl ms/batch | vggcl img/s | vggcl GFLOP/s | vggcl / PyTorch |")
    print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for batch, t, v, info in rows:
        print(f"| {batch} | {t:.1f} | {batch * 1e3 / t:.2f} | {v:.1f} | {batch * 1e3 / v:.2f} | "
              f"{info['gflops']:.1f} | {t / v:.2f}x |")
    print()
    print(f"agrees (the largest relative L2 of vggcl's logits against PyTorch's, a batch of each size): {agrees:.1e}")
    busy = others.note(os.cpu_count())
    if busy:
        print(f"\n{busy}")
        if not sys.stdout.isatty():  # (the table's file keeps it; a terminal showed it twice)
            print(f"bench_vs_torch: {busy}", file=sys.stderr)
    work.cleanup()
    if not agrees <= AGREE:  # (times of an engine that computes something else compare nothing)
        raise SystemExit(f"bench_vs_torch: vggcl computed other logits than PyTorch (relative L2 {agrees:.1e}, over "
                         f"{AGREE:g}): the table above does not compare like with like")


if __name__ == "__main__":
    run_main(main)
