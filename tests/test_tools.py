#!/usr/bin/python3
"""The scripts in tools/ on a user's mistakes and interruptions: a clear line and exit status, not a traceback;
mpi_scaling.sh's count of the images classify takes; gpu_check.sh's step stopped with the script. No benchmark
runs here (their figures are docs/throughput.md's and docs/folders.md's, measured by hand).

usage: test_tools.py VGGCL_BINARY
"""
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOOLS = ROOT / "tools"
PY = "/usr/bin/python3"
VGGCL = None


def run(*args, **kw):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600, **kw)


class Tools(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def refused(self, r, code, needle):
        self.assertEqual(r.returncode, code, r.stderr)
        self.assertIn(needle, r.stderr)
        self.assertNotIn("Traceback", r.stderr)

    def without(self, *modules):
        """An environment in which Python cannot import the modules (as where they are not installed)."""
        for module in modules:
            (self.d / "hidden" / module).mkdir(parents=True, exist_ok=True)
            (self.d / "hidden" / module / "__init__.py").write_text(
                f"raise ImportError(\"No module named '{module}'\")\n")
        return dict(os.environ, PYTHONPATH=str(self.d / "hidden"))

    def test_converters_without_their_packages(self):
        """The converters where PyTorch or onnx is not installed (`install-deps.sh --no-tests`, a pyenv python3):
        what to install, in one line, exit 1, no file (a bare ModuleNotFoundError traceback)."""
        hidden = self.without("torch", "torchvision", "onnx")
        out = self.d / "m.safetensors"
        for script, args, said in (
                ("export_torchvision.py", ["--random", "--out", out], "export_torchvision.py: needs PyTorch and "
                 "torchvision (No module named 'torch'): apt-get install python3-torch python3-torchvision and run "
                 "it with /usr/bin/python3, or pip install torch torchvision\n"),
                ("import_onnx.py", [self.d / "m.onnx", "--out", out], "import_onnx.py: needs the onnx package (No "
                 "module named 'onnx'): apt-get install python3-onnx and run it with /usr/bin/python3, or pip "
                 "install onnx\n")):
            r = run(PY, ROOT / "weights" / script, *args, env=hidden)
            self.assertEqual((r.returncode, r.stderr), (1, said))
            self.assertFalse(out.exists())

    def test_benchmark_scripts_arguments(self):
        """bench_vs_torch.py, bench_vs_peers.py and cold_start.py: a vggcl not there, counts of 0 and a size too
        small for VGG16 are said in a line (each was a traceback: FileNotFoundError, KeyError, StatisticsError,
        torch's max_pool), and vggcl's own refusal is shown (cold_start hid it in a CalledProcessError).
        bench_vs_torch.py reads its arguments before it imports PyTorch (--help and a refusal took 1.7 s): without
        PyTorch it refuses them all the same, and says what it needs for the rest."""
        no_torch = self.without("torch")
        self.refused(run(PY, TOOLS / "bench_vs_torch.py", VGGCL, env=no_torch), 1, "needs PyTorch")
        self.refused(run(PY, TOOLS / "bench_vs_torch.py", VGGCL, "--iters", "x", env=no_torch), 2,
                     "expected an integer from 1, not 'x'")
        self.assertEqual(run(PY, TOOLS / "bench_vs_torch.py", "--help", env=no_torch).returncode, 0)
        for script in ("bench_vs_peers.py", "bench_vs_torch.py"):
            self.refused(run(PY, TOOLS / script, self.d / "nope"), 2, "nope: no vggcl there")
            self.refused(run(PY, TOOLS / script, VGGCL, "--rounds", "0"), 2,
                         "argument --rounds: expected an integer from 1, not '0'")
            self.refused(run(PY, TOOLS / script, VGGCL, "--iters", "x"), 2, "expected an integer from 1, not 'x'")
        self.refused(run(PY, TOOLS / "bench_vs_torch.py", VGGCL, "--size", "16"), 2,
                     "--size 16: VGG16 with pool5 needs at least 32")
        self.refused(run(PY, TOOLS / "cold_start.py", self.d / "nope"), 1, "nope: No such file or directory")
        self.refused(run(PY, TOOLS / "cold_start.py", self.d), 1, f"{self.d}: Permission denied")  # (a folder)
        r = run(PY, TOOLS / "cold_start.py", VGGCL, "--batch", "0")
        self.refused(r, 1, "vggcl: bench: --batch must be an integer from 1")
        self.assertIn("cold_start.py: ", r.stderr)
        # bench's --weights (its help offers bench's options): it added --random all the same, which bench refuses
        run(PY, ROOT / "weights" / "make_test_weights.py", "--cfg", "8,M,16,M,16,M,16,M,16,M", "--classes", "3",
            "--out", self.d / "w.safetensors").check_returncode()
        r = run(PY, TOOLS / "cold_start.py", VGGCL, "--weights", self.d / "w.safetensors", "--size", "32")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([ln.split(" ")[0] for ln in r.stdout.splitlines()], ["cold", "warm", "warm,"], r.stdout)

    @unittest.skipUnless(importlib.util.find_spec("torch") and subprocess.run(
        [ROOT / ".venv" / "bin" / "python3", "-c", "import onnxruntime"], capture_output=True,
        timeout=120).returncode == 0
        if (ROOT / ".venv" / "bin" / "python3").exists() else False, "no PyTorch, or no onnxruntime in .venv")
    def test_bench_vs_peers_small(self):
        """bench_vs_peers.py scaled down with --size (it ran at 224 alone): vggcl, PyTorch and onnxruntime (the
        .venv's) on one VGG16-GAP at 32x32, each agreeing with PyTorch's logits, the table's columns theirs."""
        r = run(PY, TOOLS / "bench_vs_peers.py", VGGCL, "--size", "32", "--batches", "1", "2", "--iters", "1",
                "--rounds", "2", "--engines", "PyTorch", "onnxruntime")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("VGG16-GAP (7 classes) 32x32, ms per image", r.stdout)
        self.assertIn("| batch | vggcl | PyTorch | onnxruntime | vggcl speed-up", r.stdout)
        self.assertRegex(r.stdout, r"\n\| 1 \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+x \|\n\| 2 \|")
        agrees = re.search(r"agrees \(the largest relative L2 of a batch's logits against PyTorch's\): vggcl (\S+), "
                           r"PyTorch (\S+), onnxruntime (\S+)\n", r.stdout)
        self.assertTrue(agrees and all(float(v) < 1e-4 for v in agrees.groups()), r.stdout)
        spread = re.search(r"rounds \(each one's median, ms per image, best-worst\): batch 1: vggcl (\S+)-(\S+), .*; "
                           r"batch 2: ", r.stdout)  # (the best is the table's)
        self.assertTrue(spread and float(spread[1]) <= float(spread[2]), r.stdout)
        self.assertIn(f"\n| 1 | {spread[1]} | ", r.stdout)
        self.refused(run(PY, TOOLS / "bench_vs_peers.py", VGGCL, "--size", "16"), 2,
                     "--size 16: VGG16 with pool5 needs at least 32")

    @unittest.skipUnless(importlib.util.find_spec("torch"), "no PyTorch")
    def test_benchmark_scripts_left_out_and_stopped(self):
        """bench_vs_peers.py: an engine --engines names that cannot run fails the run after its table, said on stderr
        too (a table of vggcl alone, speed-up "-", exit 0, the note in the redirected file only). bench_vs_torch.py:
        a --device not of PyTorch's kind refused before anything runs (the reference was timed for minutes first),
        and SIGTERM removes its temporary folder (57 MB of weights at 224 were left in /tmp)."""
        table = self.d / "table.md"
        with open(table, "w") as out:
            r = subprocess.run([PY, TOOLS / "bench_vs_peers.py", VGGCL, "--batches", "1", "--iters", "1", "--rounds",
                                "1", "--engines", "ncnn", "--peer-python", self.d / "nope"], stdout=out,
                               stderr=subprocess.PIPE, text=True, timeout=600)
        self.refused(r, 1, f"bench_vs_peers: ncnn left out: no Python at {self.d / 'nope'} (--peer-python)\n")
        self.assertIn("bench_vs_peers: ncnn left out (said above): the table does not compare the engines asked for",
                      r.stderr)
        self.assertIn("| 1 | ", table.read_text())  # (the table still written: vggcl's row)
        listing = run(VGGCL, "devices").stdout.splitlines()
        rows = [ln.split() for ln in listing if ln[:1].isdigit()]
        digits = rows[0][4].split(".")[0] if rows else "99"  # (a piece of the memory column, "21" of "21.5 GiB")
        for device in ("ref", "portable", *([digits] if int(digits) >= len(rows) else [])):
            # (a piece of any column of the line was taken as a match, the platform's name too)
            self.refused(run(PY, TOOLS / "bench_vs_torch.py", VGGCL, "--device", device), 2,
                         f"--device {device}: not a CPU device of")
        tmp = self.d / "tmp"
        tmp.mkdir()
        p = subprocess.Popen([PY, TOOLS / "bench_vs_torch.py", VGGCL, "--batches", "1", "--size", "32", "--iters",
                              "1000", "--rounds", "50"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             env=dict(os.environ, TMPDIR=str(tmp)))
        try:
            deadline = time.time() + 120
            while not any(tmp.glob("*/*.safetensors")) and time.time() < deadline and p.poll() is None:
                time.sleep(0.1)
            self.assertTrue(any(tmp.glob("*/*.safetensors")), "its weights were never written")
            p.terminate()
            self.assertEqual(p.wait(timeout=60), 128 + signal.SIGTERM)
        finally:
            p.kill()
            p.communicate()
        self.assertEqual(list(tmp.iterdir()), [])

    @unittest.skipUnless(importlib.util.find_spec("torch"), "no PyTorch")
    @unittest.skipUnless(importlib.util.find_spec("torch") and shutil.which("taskset"), "no PyTorch or taskset")
    def test_benchmark_threads_follow_affinity(self):
        """The scripts' --threads default to the cores the process may use (under taskset -c 0 every engine got the
        machine's count of threads on one core)."""
        r = run("taskset", "-c", str(min(os.sched_getaffinity(0))), PY, TOOLS / "bench_vs_torch.py", VGGCL,
                "--batches", "1", "--size", "32", "--iters", "1", "--rounds", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.splitlines()[0], r"^\d{4}-\d\d-\d\d, .*, 1 threads; ")

    def test_bench_vs_torch_checks_the_answers(self):
        """bench_vs_torch.py times vggcl on the weights PyTorch runs and checks its logits against PyTorch's, failing
        where they differ (it timed random weights of vggcl's own and compared nothing: a wrong vggcl was timed and
        its ratio printed all the same)."""
        args = ["--batches", "1", "--size", "32", "--iters", "1", "--rounds", "1", "--threads", "2"]
        r = run(PY, TOOLS / "bench_vs_torch.py", VGGCL, *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        agrees = re.search(r"agrees \(the largest relative L2 of vggcl's logits against PyTorch's, a batch of each "
                           r"size\): ([0-9.e+-]+)", r.stdout)
        self.assertTrue(agrees and float(agrees.group(1)) < 1e-4, r.stdout)
        wrong = self.d / "vggcl"  # (answers of pool5 dropped: another network's)
        wrong.write_text(f'#!/bin/sh\n[ "$1" = run ] && {{ shift; exec "{VGGCL}" run --pool5 drop "$@"; }}\n'
                         f'exec "{VGGCL}" "$@"\n')
        wrong.chmod(0o755)
        r = run(PY, TOOLS / "bench_vs_torch.py", wrong, *args)
        self.refused(r, 1, "bench_vs_torch: vggcl computed other logits than PyTorch at batch 1")
        self.assertIn("nothing timed", r.stderr)
        self.assertEqual(r.stdout, "")  # (a whole table was timed and printed first)

    def test_others_load_said(self):
        """OthersMeter (bench_vs_torch.py's and bench_vs_peers.py's): a process not theirs busy on a core while
        they measure is said below their table (a niced job on one of 2 cores printed 1.2x as 3.4x, unsaid);
        their own children's time, once waited for, is not counted as another's."""
        sys.path.insert(0, str(TOOLS))
        from tool_cli import OthersMeter
        meter = OthersMeter()
        spin = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        time.sleep(1.5)
        busy, note = meter.cores(), meter.note(2)
        spin.kill()
        spin.wait()
        self.assertGreater(busy, 0.3)
        self.assertIn("other processes took", note)
        self.assertIn("of the 2 cores on average while this ran", note)
        before = OthersMeter._sample()
        subprocess.run([sys.executable, "-c", "import time\nt = time.process_time()\n"
                        "while time.process_time() - t < 1.0: pass"])
        after = OthersMeter._sample()
        self.assertGreaterEqual(after[2] - before[2], 1.0)  # (the child's second of CPU: this process's own)

    def test_make_example_input(self):
        """make_example_input.py writes the name given (np.save added .npy to one without it) and says a folder
        that is not there (a traceback)."""
        r = run(PY, TOOLS / "make_example_input.py", self.d / "out")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(p.name for p in self.d.iterdir()), ["out"])
        self.refused(run(PY, TOOLS / "make_example_input.py", self.d / "no" / "x.npy"), 1,
                     "x.npy: No such file or directory")
        # --help: its usage, exit 0 (it was 1); no argument: a usage mistake, 2 (example.sh's --help made the model
        # first, then showed `vggcl run`'s; fuzz.sh's failed in the shell)
        for cmd in ([PY, TOOLS / "make_example_input.py", "--help"], ["bash", TOOLS / "example.sh", "--help"],
                    ["bash", TOOLS / "fuzz.sh", "--help"]):
            r = run(*cmd)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("usage: ", r.stdout)
        self.refused(run(PY, TOOLS / "make_example_input.py"), 2, "usage: make_example_input.py OUT.npy")
        self.refused(run("bash", TOOLS / "fuzz.sh", "image"), 2, "usage: tools/fuzz.sh NAME SECONDS")
        self.assertEqual(sorted(p.name for p in self.d.iterdir()), ["out"])

    def test_gpu_scripts_arguments(self):
        """gpu_check.sh and gpu_bundle.sh: their usage where the arguments are wrong (gpu_check said "$1: unbound
        variable"; gpu_bundle took --help for its folder, after a build)."""
        self.refused(run("bash", TOOLS / "gpu_check.sh"), 2, "usage: tools/gpu_check.sh BIN_DIR OUT_DIR")
        r = run("bash", TOOLS / "gpu_bundle.sh", "--help")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("usage: tools/gpu_bundle.sh [--mpi] [DIR]", r.stdout)
        self.refused(run("bash", TOOLS / "gpu_bundle.sh", "--bogus"), 2, "gpu_bundle: unknown option '--bogus'")
        self.refused(run("bash", TOOLS / "gpu_bundle.sh", "a", "b"), 2, "gpu_bundle: one DIR, not 'a' and 'b'")

    def test_gpu_check_stops_its_step(self):
        """gpu_check.sh killed (the device tool's limit, a Ctrl-C) stops the step under way and ends by the signal:
        the step, in timeout's process group, ran on after the script had ended, on the GPU machine's time; and
        a signal as a step began found no pid to pass on to, the step running to its limit."""
        bundle = self.d / "bundle"
        bundle.mkdir()
        started = self.d / "started"
        (bundle / "vggcl").write_text(f"#!/bin/sh\necho $$ > '{started}'\nexec sleep 600\n")  # (a long step)
        (bundle / "vggcl").chmod(0o755)

        def alive(pid):
            try:
                os.kill(pid, 0)
                return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
            except (ProcessLookupError, FileNotFoundError):
                return False

        for delay in (None, 0.0):  # (None: once the step runs; 0: the signal right as the step is announced)
            started.unlink(missing_ok=True)
            p = subprocess.Popen(["bash", TOOLS / "gpu_check.sh", bundle, self.d / "out", "300", "67000", "tune"],
                                 env=dict(os.environ, GPU_CHECK_REHEARSE="1", GPU_CHECK_TUNE_BUDGET="200"),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
            step = None
            try:
                if delay is None:
                    deadline = time.monotonic() + 60
                    while not started.exists() and time.monotonic() < deadline and p.poll() is None:
                        time.sleep(0.05)
                    self.assertTrue(started.exists(), "the tune step did not start")
                    time.sleep(0.2)
                    step = int(started.read_text())
                else:
                    for line in p.stdout:  # (== tune ...: the step's line, said as it begins)
                        if line.startswith("== tune"):
                            break
                t0 = time.monotonic()
                p.send_signal(signal.SIGTERM)
                p.communicate(timeout=60)
                self.assertLess(time.monotonic() - t0, 20, "the script waited for its step's limit")
                self.assertEqual(p.returncode, -signal.SIGTERM)
                if started.exists():
                    step = int(started.read_text())
                time.sleep(0.5)
                self.assertFalse(step and alive(step), "the step ran on after gpu_check.sh ended")
            finally:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                if step and alive(step):
                    os.kill(step, signal.SIGKILL)
                p.wait()

    def test_gpu_check_says_failed_steps(self):
        """gpu_check.sh: a step that fails makes the script exit 1, naming it at the end, and its last lines are on
        standard output, which is what the device tool brings back (it exited 0 whatever failed, and an mpi step's
        mpirun message was in the log alone); each run's log is headed by its date, arguments and variables (an
        OUT_DIR used twice was appended to unmarked)."""
        bundle = self.d / "bundle"
        bundle.mkdir()
        (bundle / "vggcl").write_text("#!/bin/sh\necho 'first words'\necho 'the reason, last' >&2\nexit 3\n")
        (bundle / "vggcl").chmod(0o755)
        env = dict(os.environ, GPU_CHECK_REHEARSE="1", AB_ARGS="-x A=1")
        for i in range(2):
            r = run("bash", TOOLS / "gpu_check.sh", bundle, self.d / "out", "120", "67000", "tune", env=env)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            self.assertIn("-- its last lines:\nfirst words\nthe reason, last\n", r.stdout)
            self.assertIn("== failed: tune (batch 1, 8, 32; 200 s budget) (exit 3);\n", r.stdout)
        # a step cut at its limit is said apart, not a failure (the images and mpi steps end so by design)
        (bundle / "vggcl").write_text("#!/bin/sh\nexec sleep 60\n")
        # (20 s: the step starts with at least 15 left, the script's own start taking a few on a loaded machine)
        r = run("bash", TOOLS / "gpu_check.sh", bundle, self.d / "cut", "20", "67000", "tune", env=env)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("== cut at their limit: tune (batch 1, 8, 32; 200 s budget);\n", r.stdout)
        self.assertNotIn("== failed", r.stdout)
        # the mpi step that cannot start (here no mpirun on the PATH) is a failure too: it was said, exit 0
        (bundle / "images").mkdir()
        shutil.copy(bundle / "vggcl", bundle / "vggcl-mpi")
        shim = self.d / "bin"
        shim.mkdir()
        for name in os.listdir("/usr/bin"):
            if not name.startswith(("mpirun", "mpiexec", "orterun")):
                os.symlink(f"/usr/bin/{name}", shim / name)
        r = run("bash", TOOLS / "gpu_check.sh", bundle, self.d / "nompi", "60", "67000", "mpi",
                env=dict(env, PATH=str(shim)))
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        self.assertRegex(r.stdout, r"== failed: mpi \(not run: no (mpirun|PoCL ICD)\);\n")
        log = (self.d / "out" / "gpu_check.log").read_text()
        heading = (r"^== gpu_check \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC: .*/bundle .*/out 120 67000 tune "
                   r"\(.*AB_ARGS=-x A=1 ")
        self.assertEqual(len(re.findall(heading, log, re.M)), 2, log)

    def test_pool5_study_box_in_crop(self):
        """pool5_study.py --data maps a picture's box through the preprocessing as vggcl makes it: a white box on
        black preprocessed by vggcl is where box_in_crop says, within a pixel (the resize blurs its edges), for
        landscape, portrait, padded and cut pictures, and both sides resized (--resize HxW)."""
        sys.path.insert(0, str(TOOLS))
        try:
            import pool5_study
        finally:
            sys.path.pop(0)
        from PIL import Image
        import numpy as np
        for (w, h), box, resize, crop in [((300, 200), [40, 30, 260, 150], 256, 224),
                                          ((200, 300), [10, 100, 120, 290], 256, 224),
                                          ((150, 90), [20, 10, 100, 60], 0, 224),  # (padded: smaller than the crop)
                                          ((640, 480), [0, 0, 200, 120], 224, 224),  # (cut by the crop)
                                          ((333, 517), [100, 200, 233, 517], 64, 48),
                                          # (--resize HxW: both sides, then cropped, or padded where below the crop)
                                          ((300, 200), [40, 30, 260, 150], (100, 150), 64),
                                          ((200, 300), [10, 100, 120, 290], (240, 90), 96)]:
            a = np.zeros((h, w, 3), np.uint8)
            a[box[1]:box[3], box[0]:box[2]] = 255
            Image.fromarray(a).save(self.d / "box.png")
            sides = "x".join(map(str, resize)) if isinstance(resize, tuple) else resize
            r = run(VGGCL, "preprocess", "--resize", sides, "--crop", crop, "--mean", "0,0,0", "--std", "1,1,1",
                    "--output", self.d / "x.npy", self.d / "box.png")
            self.assertEqual(r.returncode, 0, r.stderr)
            lit = np.load(self.d / "x.npy")[0, 0] >= 0.5
            ys, xs = np.nonzero(lit)
            seen = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
            want = pool5_study.box_in_crop(box, w, h, resize, crop)
            self.assertTrue(all(abs(int(a) - b) <= 1 for a, b in zip(seen, want)), f"{w}x{h} {box}: {seen} {want}")
        self.assertIsNone(pool5_study.box_in_crop([0, 0, 15, 300], 300, 300, 256, 224))  # (left of column 16)
        # the table of a vggcl whose eval has no averages (older than 0.3, which the study's preflight lets run): n/a
        # in their columns (it stopped on a None after the whole study)
        row = {"pool5": "keep", "gap_map": [7, 7], "top1": 0.5, "n_val": 4, "balanced_accuracy": None,
               "macro_f1": None, "peak_in_box": 0.5, "n": 2, "mean_iou": 0.25, "iou_ge_05": 0.5, "images_per_s": 3.0}
        self.assertIn("| keep | 7×7 | 50.0 % (2/4) | n/a | n/a | 50.0 % (1/2) |", pool5_study.markdown_table([row]))
        row.update(balanced_accuracy=0.75, macro_f1=0.6)
        self.assertIn("| 50.0 % (2/4) | 75.0 % | 0.600 |", pool5_study.markdown_table([row]))
        # a TIFF's Orientation, which vggcl applies (6: turned a quarter clockwise): the box in the pixels as seen,
        # the picture's size turned (the stored size mapped boxes to the wrong place)
        a = np.zeros((80, 120, 3), np.uint8)  # (stored 120 x 80: seen 80 x 120)
        a[10:30, 10:50] = 255
        Image.fromarray(a).save(self.d / "turned.tif", tiffinfo={274: 6})
        r = run(VGGCL, "preprocess", "--resize", "64", "--crop", "64", "--mean", "0,0,0", "--std", "1,1,1",
                "--output", self.d / "x.npy", self.d / "turned.tif")
        self.assertEqual(r.returncode, 0, r.stderr)
        ys, xs = np.nonzero(np.load(self.d / "x.npy")[0, 0] >= 0.5)
        seen = [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
        w, h = pool5_study.oriented_size(self.d / "turned.tif")
        self.assertEqual((w, h), (80, 120))
        want = pool5_study.box_in_crop([50, 10, 70, 50], w, h, 64, 64)  # (rows 10-29, columns 10-49, turned)
        self.assertTrue(all(abs(int(a) - b) <= 1 for a, b in zip(seen, want)), f"turned: {seen} {want}")

    def test_pool5_study_own_data(self):
        """pool5_study.py --data: the study on a user's folders of pictures of any size with a boxes.json: both
        settings trained, evaluated and scored on the val pictures with a box (one outside the crop left out,
        said), the picture of each head's map drawn at the crop's size; nothing written in the data folder;
        mistakes in the data said in a line naming the file."""
        from PIL import Image
        import numpy as np
        sys.path.insert(0, str(ROOT / "weights"))
        try:
            from make_test_weights import make_state_dict, parse_cfg
            from safetensors_io import save_file
        finally:
            sys.path.pop(0)
        trunk = self.d / "trunk.safetensors"
        save_file(make_state_dict(parse_cfg("8,M,16,M,16,M,16,M"), False, 2, seed=1), trunk, {"vggcl.pool5": "keep"})
        data = self.d / "data"
        rng = np.random.default_rng(0)
        boxes = {}
        for split, count in (("train", 6), ("val", 3)):
            for k, c in enumerate(("red", "blue")):
                (data / split / c).mkdir(parents=True)
                for i in range(count):
                    w, h = (90, 70) if i % 2 else (64, 100)
                    a = rng.integers(0, 60, (h, w, 3)).astype(np.uint8)
                    x0, y0 = int(rng.integers(0, w - 30)), int(rng.integers(0, h - 30))
                    a[y0:y0 + 30, x0:x0 + 30, 2 * k] = 255
                    Image.fromarray(a).save(data / split / c / f"{c}{i}.{'jpg' if i % 2 else 'png'}")
                    if split == "val":
                        boxes[f"val/{c}/{c}{i}.{'jpg' if i % 2 else 'png'}"] = [x0, y0, x0 + 30, y0 + 30]
        boxes["val/red/red0.png"] = [0, 0, 64, 3]  # (the crop of 64 x 100 cuts rows 0-17 away: left out)
        boxes["./val/blue/blue1.jpg"] = boxes.pop("val/blue/blue1.jpg")  # (a key written so: the same picture)
        # boxes of other folders' pictures (--build-only's own file holds train's): passed over, said (refused)
        boxes["train/red/red0.png"] = boxes["test/blue/blue9.png"] = [0, 0, 5, 5]
        (data / "boxes.json").write_text(json.dumps(boxes))
        # a val picture without a box that cannot be read: train-head and eval pass it over (exit 1, named), and the
        # study goes on without it, said (it stopped there: "failed with exit status 1")
        (data / "val" / "blue" / "broken.png").write_bytes(b"not a picture")
        (data / "train" / "red" / "broken.png").write_bytes(b"not a picture")  # (counted as trained on)
        before = sorted(str(p.relative_to(data)) for p in data.rglob("*"))
        study = [PY, TOOLS / "pool5_study.py", "--weights", trunk, "--vggcl", VGGCL, "--data", data, "--resize",
                 "64", "--crop", "64", "--epochs", "3"]
        work = self.d / "work"
        r = run(*study, "--out", work, "--picture", self.d / "pic.png", "--picture-heads", "own")
        self.assertEqual(r.returncode, 0, r.stderr)
        for command, k, n in (("train-head", 2, 20), ("eval", 1, 7)):
            self.assertIn(f"pool5_study: warning: `{command}` skipped {k} of {n} pictures (named above, with why); the "
                          "study goes on without them", r.stderr)
        self.assertIn("1 box(es) of", r.stderr)
        self.assertIn(f"pool5_study: warning: {data / 'boxes.json'}: 2 box(es) of pictures outside val/ passed over "
                      "(e.g. 'test/blue/blue9.png'): the maps are scored on val's", r.stderr)
        self.assertIn("outside the --crop 64 of their pictures, left out (e.g. val/red/red0.png)", r.stderr)
        for row in (r"keep \| 4×4", r"drop \| 8×8"):  # (each rate with its count: 6 val pictures, 5 maps scored)
            self.assertRegex(r.stdout, rf"\| {row} \| [0-9.]+ % \([0-6]/6\) \| [0-9.]+ % \| [0-9.]+ \| [0-9.]+ % "
                                       r"\([0-5]/5\) \| [0-9.]+ \| [0-9.]+ % \([0-5]/5\) \| [0-9.]+ \([0-9.]+-[0-9.]+\) \|")
        self.assertIn(f"2 classes of {data}: 12 training (1 unreadable left out) and 6 validation pictures (1 "
                      "unreadable left out), the maps of the 5 with a box scored, at `--resize 64 --crop 64`",
                      r.stdout)  # (the validation's was said on stderr alone)
        results = json.loads((work / "results.json").read_text())
        self.assertEqual([(x["pool5"], x["n"], x["n_val"]) for x in results], [("keep", 5, 6), ("drop", 5, 6)])
        for x in results:  # (eval's scores for classes of unlike sizes kept beside top-1)
            ev = json.loads((work / f"eval-{x['pool5']}.json").read_text())
            self.assertEqual((x["balanced_accuracy"], x["macro_f1"]), (ev["balanced_accuracy"], ev["macro"]["f1"]))
        # images/s: the median of three rounds, the settings alternating (once each, one after the other, a busy
        # moment made either twice the other)
        for x in results:
            self.assertEqual(len(x["images_per_s_rounds"]), 3)
            self.assertEqual(x["images_per_s"], sorted(x["images_per_s_rounds"])[1])
        # the picture: cam --compare-pool5's, its header naming the panels over them, each panel the map of its own
        # head as cam drew it but for the true box, drawn where it is in the panel (below the header)
        with Image.open(self.d / "pic.png") as im:
            pic = np.asarray(im.convert("RGB"))
        top = pic.shape[0] - 64
        self.assertEqual(pic.shape[1], 128)
        self.assertGreater(top, 0, "no header over the panels")
        self.assertEqual({tuple(c) for c in pic[:top].reshape(-1, 3)}, {(0, 0, 0), (255, 255, 255)})
        sys.path.insert(0, str(TOOLS))
        try:
            import pool5_study
        finally:
            sys.path.pop(0)
        x0, y0, x1, y1 = pool5_study.box_in_crop(boxes["val/blue/blue0.png"], 64, 100, 64, 64)  # (the first val)
        ring = np.zeros((64, 64), bool)  # (the box's white edge; a black one inside it)
        ring[max(y0 - 1, 0):y1 + 1, max(x0 - 1, 0):x1 + 1] = True
        ring[y0:y1, x0:x1] = False
        edges = ring.copy()
        edges[y0:y1, x0:x1] = True
        edges[y0 + 1:y1 - 1, x0 + 1:x1 - 1] = False
        for k, setting in enumerate(("keep", "drop")):
            with Image.open(work / f"cam-{setting}" / "blue" / "blue0.cam.png") as im:
                drawn = np.asarray(im.convert("RGB"))
            panel = pic[top:, 64 * k:64 * (k + 1)]
            self.assertTrue((panel[ring] == 255).all(), f"{setting}: the box is not at {x0, y0, x1, y1}")
            np.testing.assert_array_equal(panel[~edges], drawn[~edges], setting)
        self.assertEqual(sorted(str(p.relative_to(data)) for p in data.rglob("*")), before)
        self.refused(run(*study, "--out", data / "work"), 2, f"--out {data / 'work'} is in --data {data}")
        # the trunk's own preprocessing where none is given (the study gave torchvision's, whatever the trunk
        # recorded), here Resize((64, 96)) alone: the maps not square, as vggcl makes them
        own = self.d / "own.safetensors"
        save_file(make_state_dict(parse_cfg("8,M,16,M,16,M,16,M"), False, 2, seed=1), own,
                  {"vggcl.pool5": "keep", "vggcl.resize": "64,96", "vggcl.crop": "0"})
        r = run(PY, TOOLS / "pool5_study.py", "--weights", own, "--vggcl", VGGCL, "--data", data, "--epochs", "1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"\| keep \| 4×6 \| [0-9.]+ % \(\d+/6\) \|")
        self.assertRegex(r.stdout, r"\| drop \| 8×12 \| [0-9.]+ % \(\d+/6\) \|")
        self.assertIn("at `--resize 64x96 --no-crop`", r.stdout)
        self.assertNotIn("outside the", r.stderr)  # (no crop cuts red0's box away)
        # a crop whose map with pool5 kept is 1x1 (a row scored 0 as if it had lost): refused; --no-crop without
        # both sides (each picture its own size)
        self.refused(run(*study[:-6], "--resize", "32", "--crop", "32"), 2, "--crop must be 64 to 16384, or without "
                     "a crop --resize HxW 64 or more a side, not 32 (below 64 the map with pool5 kept is 1x1")
        self.refused(run(*study[:-6], "--resize", "32x100", "--no-crop"), 2, "not 32x100 (below 64")
        self.refused(run(*study[:-6], "--resize", "64", "--no-crop"), 2, "--no-crop needs --resize HxW")
        self.refused(run(*study[:-6], "--crop", "64", "--no-crop"), 2, "not allowed with argument")
        # the trunk's own crop refused: said as the trunk's (a whole "224.0" read as vggcl reads it); no trunk given
        save_file(make_state_dict(parse_cfg("8,M,16,M,16,M,16,M"), False, 2, seed=1), own,
                  {"vggcl.resize": "300.0", "vggcl.crop": "32"})
        self.refused(run(PY, TOOLS / "pool5_study.py", "--weights", own, "--vggcl", VGGCL, "--data", data), 2,
                     "not 32 (the trunk's own: its metadata's) (below 64")
        self.refused(run(PY, TOOLS / "pool5_study.py", "--vggcl", VGGCL, "--data", data), 2,
                     "--weights TRUNK is required")
        self.refused(run(*study[:-6], "--resize", "0x64", "--crop", "64"), 2, "'0x64': expected N, or HxW (height x "
                     "width, 1 or more each)")
        # mistakes: a box of a picture not there, a box the wrong way round or off the picture, no val/
        for broken, said in (({"val/red/nope.png": [0, 0, 1, 1]}, "'val/red/nope.png' is not a picture val/<class>/"),
                             ({"val/red/red1.jpg": [30, 0, 10, 5]}, "val/red/red1.jpg: [30, 0, 10, 5]: expected"),
                             ({"val/red/red1.jpg": [95, 0, 99, 5]}, "is outside the picture (90 x 70 pixels)"),
                             ({"val/red/red1.jpg": [1, 0, 10 ** 400, 5]}, "expected [x0, y0, x1, y1]")):
            (data / "boxes.json").write_text(json.dumps(broken))
            self.refused(run(*study), 1, said)
        shutil.rmtree(data / "val")
        self.refused(run(*study), 1, f"--data {data}: no val/ folder")

    @unittest.skipUnless(subprocess.run(["sh", "-c", "command -v mpirun"], capture_output=True).returncode == 0,
                         "no mpirun")
    def test_mpi_scaling_counts_what_classify_takes(self):
        """mpi_scaling.sh: the images in its table are those classify took, links followed and hidden files passed
        over as vggcl lists a folder (it counted files with find: 2 of 4 here, images/s half the truth); wrong
        arguments said with its usage (RANKS 0,1 printed a row of -nan)."""
        script = TOOLS / "mpi_scaling.sh"
        self.refused(run("bash", script), 2, "usage: tools/mpi_scaling.sh VGGCL IMAGES_DIR")
        images = self.d / "images"
        images.mkdir()
        self.refused(run("bash", script, VGGCL, images, "0,1"), 2, "RANKS is a comma list of rank counts from 1")
        self.refused(run("bash", script, VGGCL, images, "1", "0"), 2, "ROUNDS is a count from 1, not '0'")
        self.refused(run("bash", script, VGGCL, images, "1", "1"), 1, "no JPEG, PNG, WebP, BMP, TIFF or PNM files")
        real = images / "real.png"
        real.write_bytes((ROOT / "tests" / "data" / "tiny.png").read_bytes())
        for i in range(3):
            (images / f"link{i}.png").symlink_to(real)
        (images / ".hidden.png").write_bytes(real.read_bytes())
        r = run("bash", script, VGGCL, images, "1", "1", env=dict(os.environ, TMPDIR=str(self.d)))
        if "built without MPI" in r.stderr:  # (any other failure under mpirun is one: it was a skip too)
            self.skipTest(f"this vggcl does not run under mpirun: {r.stderr[-300:]}")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("4 images, batch 8, best of 1 round", r.stdout)


    @unittest.skipUnless(subprocess.run(["sh", "-c", "command -v mpirun"], capture_output=True).returncode == 0,
                         "no mpirun")
    def test_mpi_scaling_keeps_its_rows(self):
        """mpi_scaling.sh: a run that fails (AB_ARGS's option mpirun refuses: the GPU machine's binding on too few
        cores) is said and left out of the rounds after, its row saying so, the others' kept, exit 1 at the end
        (the first failure ended the script, the rounds' tables lost); cut by a signal (timeout's, at the end of
        gpu_check's budget: to the whole group), the table of the runs so far is printed (a cut in round 1 left
        none)."""
        images = self.d / "images"
        images.mkdir()
        for i in range(2):
            (images / f"{i}.png").write_bytes((ROOT / "tests" / "data" / "tiny.png").read_bytes())
        env = dict(os.environ, TMPDIR=str(self.d), AB_ARGS="--no-such-mpirun-option")
        r = run("bash", TOOLS / "mpi_scaling.sh", VGGCL, images, "1", "2", env=env)
        if "built without MPI" in r.stderr:
            self.skipTest(f"this vggcl does not run under mpirun: {r.stderr[-300:]}")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("mpi_scaling: round 1's run of 1' ranks failed (exit ", r.stderr)
        self.assertIn("mpirun's or vggcl's messages above say why", r.stderr)
        self.assertNotIn("round 2's run of 1' ranks", r.stderr)  # (not tried again)
        self.assertIn("2 images, batch 8, best of 2 rounds, ", r.stdout)
        self.assertIn("; 1': AB_ARGS=--no-such-mpirun-option", r.stdout)
        self.assertRegex(r.stdout, r"\n\| 1 \| [0-9.]+ \| [0-9.]+ \| 1\.00x \| 1\.00 \| ")
        self.assertIn("\n| 1' | failed in round 1 (exit ", r.stdout)
        # cut in round 2, after its run of 1 rank: the table of round 1's runs and round 2's first
        del env["AB_ARGS"]
        with subprocess.Popen(["bash", TOOLS / "mpi_scaling.sh", VGGCL, images, "1,2", "3"], env=env, text=True,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True) as p:
            try:
                reached = False
                for line in p.stderr:
                    if line.startswith("round 2: 1 ranks"):
                        reached = True
                        break
                self.assertTrue(reached, "mpi_scaling.sh ended before round 2's first run")
                os.killpg(p.pid, signal.SIGTERM)
                out, err = p.communicate(timeout=120)
            finally:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        self.assertEqual(p.returncode, 143, err)
        self.assertIn("mpi_scaling: cut in round 2", err)
        cut = out.split("best of 2 rounds")
        self.assertEqual(len(cut), 2, out)  # (round 1's table, then the cut one)
        self.assertRegex(cut[1], r"\n\| 1 \| [0-9.]+ \| .*\n\| 2 \| [0-9.]+ \| ")

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    VGGCL = os.path.abspath(sys.argv.pop(1))
    unittest.main()
