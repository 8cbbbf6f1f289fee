#!/usr/bin/python3
"""Many processes give one process's answer: `mpirun -n 2 --oversubscribe vggcl classify` (real
Open MPI, PoCL in every rank) and `--shard 0/2` + `--shard 1/2` against one process on the same
folder, with an unreadable image in the second rank's share: the same text, JSON and CSV lines,
the same logits and input tensor, the same skipped-image report and exit status. And the same
across machines: two hosts made of network namespaces (as root, with iproute2), each with its own
hostname and address, joined by a veth pair; `mpirun --hostfile` starts the second host's daemon
through a launcher that enters its namespace (where ssh would log in to a real machine), and the
ranks talk over TCP only.

usage: test_mpi.py VGGCL_BINARY
"""
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

import testenv  # (first: the device, VGGCL_TEST_DEVICE)

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "weights"))
sys.path.insert(0, str(ROOT / "tests"))
from make_test_weights import make_state_dict, parse_cfg  # noqa: E402
from safetensors_io import save_file  # noqa: E402
from test_images import photo  # noqa: E402

VGGCL = None
# odls_base_sigkill_timeout=0: after a rank's failed exit mpirun waits this many seconds between the
# SIGTERM and the SIGKILL of the job's processes, even those already gone: 1 s per job that exits 1 (most
# of them here), two thirds of this suite's time. A job's ranks leave together (MPI_Finalize waits for
# all, their output flushed before it). GRACE, mpirun's default, where they do not: a command-line mistake
# found before MPI_Init, which rank 0 says while the others leave a second later (main.c), and independent
# processes under one mpirun (--shard), each saying its own.
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", POCL_MAX_PTHREAD_COUNT="1",
           OMPI_MCA_btl="self,vader", OMPI_MCA_btl_vader_single_copy_mechanism="none",
           OMPI_MCA_odls_base_sigkill_timeout="0")
GRACE = dict(ENV, OMPI_MCA_odls_base_sigkill_timeout="1")
# contiguous shares, one per rank, instead of batches handed out as ranks ask (the default): for the tests of
# what a rank does with its own share (its batches counted in it), and that both ways give one process's output
STATIC = dict(ENV, VGGCL_MPI_BALANCE="static")
# batches handed out in turn, rank i the i-th of every R (a test hook): which rank runs which batch is fixed
INTERLEAVE = dict(ENV, VGGCL_MPI_BALANCE="interleave")


ROW = r"vggcl: +\d+  \S+ +(-|[\d.]+)( +(-|[\d.]+)){6} +\d+"  # a row of VGGCL_RANK_TIMES's table


def vggcl_lines(stderr):
    """vggcl's own messages (mpirun adds its own about the exit status); not the compile notice."""
    return [ln for ln in stderr.splitlines() if ln.startswith("vggcl:") and "compiling" not in ln]


def first_not_before(where):
    """where(n) for the first n of 1..256 at which it is not below 0 (where is -1, 0 or 1, and does not fall as n
    grows: the failing enqueue n before, in or past the batch looked for), found by halves: (where(n), its run)."""
    lo, hi = 1, 256
    while lo < hi:
        mid = (lo + hi) // 2
        if where(mid)[0] < 0:
            lo = mid + 1
        else:
            hi = mid
    return where(lo)


class Folder(unittest.TestCase):
    """The weights and a folder of images with an unreadable one; classify() runs one process or R ranks."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)
        self.d = Path(self.tmp.name)
        self.weights = self.d / "w.safetensors"
        save_file(make_state_dict(parse_cfg("8,M,16,M,16"), False, 5, seed=3), self.weights)
        self.images = self.d / "images"
        self.images.mkdir()
        for i in range(9):
            Image.fromarray(photo(50 + 3 * i, 44 + 2 * i, i)).save(self.images / f"{i:02d}.{'jpg' if i % 2 else 'png'}")
        (self.images / "07_broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")  # sorted into rank 1's half

    def classify(self, tag, *args, ranks=1, env=ENV, images=None):
        out = self.d / tag
        out.mkdir()
        cmd = [VGGCL, "classify", "--weights", str(self.weights), "--resize", "40", "--crop", "32", "--batch", "3",
               "--logits-out", str(out / "l.npy"), "--tensor-out", str(out / "t.npy"), *args,
               str(images or self.images)]
        if ranks > 1:
            cmd = ["mpirun", "-n", str(ranks), "--oversubscribe", *cmd]
        r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
        return r, out

    def train_heads(self, launch):
        """train-head on a data set with an unreadable image, by one process and as ranks started by
        launch(cmd): the same model file, byte for byte, and the same report. With --flip and --val, whose
        images (the list's last four; with contiguous shares in the second rank's, with two training images) are
        not mirrored: handed out, the training images' batches, then --val's."""
        data, val = self.d / "data", self.d / "val"
        for c, name in enumerate(("a", "b")):
            (data / name).mkdir(parents=True, exist_ok=True)  # (the same again on a second call)
            (val / name).mkdir(parents=True, exist_ok=True)
            for i in range(4):
                Image.fromarray(photo(40 + i, 36 + c, 10 * c + i)).save(data / name / f"{i}.png")
            for i in range(2):
                Image.fromarray(photo(38 + i, 41 - c, 50 + 10 * c + i)).save(val / name / f"{i}.png")
        (data / "b" / "9_broken.png").write_bytes(b"broken")
        runs = []
        for ranks in (1, 2):
            out = self.d / f"head{ranks}.safetensors"
            cmd = [VGGCL, "train-head", "--weights", str(self.weights), "--data", str(data), "--out", str(out),
                   "--resize", "32", "--crop", "32", "--epochs", "3", "--batch", "2", "--flip", "--val", str(val)]
            r = launch(cmd) if ranks > 1 else subprocess.run(cmd, capture_output=True, text=True, env=ENV,
                                                             timeout=600)
            self.assertNotEqual(r.returncode, 0, r.stderr)  # the broken image: written anyway, exit 1
            runs.append((r.stdout.replace(str(out), "OUT"), vggcl_lines(r.stderr), out.read_bytes()))
        self.assertEqual(runs[1], runs[0])
        self.assertIn("1 of 13 images were skipped", "\n".join(runs[0][1]))
        self.assertIn(b"16 training samples (--flip: each image twice), 4 validation images", runs[0][2])  # (metadata)


class Mpi(Folder):
    def test_two_ranks_equal_one_process(self):
        for fmt, env in (("text", ENV), ("json", ENV), ("csv", ENV), ("text", STATIC), ("csv", STATIC)):
            tag = f"{fmt}-{env['VGGCL_MPI_BALANCE'] if env is STATIC else 'dynamic'}"
            one, o1 = self.classify(f"one-{tag}", "--format", fmt)
            two, o2 = self.classify(f"two-{tag}", "--format", fmt, ranks=2, env=env)
            self.assertEqual(one.returncode, 1, one.stderr)  # the broken image
            self.assertEqual(two.returncode, one.returncode, two.stderr)
            self.assertEqual(two.stdout, one.stdout, fmt)
            self.assertEqual(vggcl_lines(two.stderr), vggcl_lines(one.stderr), fmt)
            self.assertIn("07_broken.png", one.stderr)
            self.assertIn("1 of 10 images were skipped; 9 classified", one.stderr)
            for name in ("l.npy", "t.npy"):
                np.testing.assert_array_equal(np.load(o2 / name), np.load(o1 / name))
            self.assertEqual(len(one.stdout.splitlines()), 9 + (fmt == "csv") * (1 + 9 * 4))

    def test_files_from_under_mpirun(self):
        """--files-from FILE under mpirun: every rank reads the list, the output is one process's; --files-from -:
        rank 0 reads mpirun's standard input (the others have none) and hands the list to them, in chunks too
        (VGGCL_MPI_CHUNK), one process's output all the same; an empty one is said once, exit 2."""
        listed = self.d / "list.txt"
        listed.write_text("".join(f"{p}\n" for p in sorted(self.images.iterdir(), reverse=True)))
        one, o1 = self.classify("one", "--files-from", str(listed), images=self.images / "00.png")
        two, o2 = self.classify("two", "--files-from", str(listed), ranks=2, images=self.images / "00.png")
        self.assertEqual(one.returncode, 1, one.stderr)  # the broken image
        self.assertEqual((two.returncode, two.stdout, vggcl_lines(two.stderr)),
                         (1, one.stdout, vggcl_lines(one.stderr)), two.stderr)
        self.assertIn("1 of 11 images were skipped; 10 classified", one.stderr)
        np.testing.assert_array_equal(np.load(o2 / "l.npy"), np.load(o1 / "l.npy"))
        for env in (ENV, dict(ENV, VGGCL_MPI_CHUNK="7")):
            out = self.d / "piped"
            shutil.rmtree(out, ignore_errors=True)
            out.mkdir()
            cmd = ["mpirun", "-n", "2", "--oversubscribe", VGGCL, "classify", "--weights", str(self.weights),
                   "--resize", "40", "--crop", "32", "--batch", "3", "--logits-out", str(out / "l.npy"), "--tensor-out",
                   str(out / "t.npy"), "--files-from", "-", str(self.images / "00.png")]
            r = subprocess.run(cmd, input=listed.read_text(), capture_output=True, text=True, env=env, timeout=600)
            self.assertEqual((r.returncode, r.stdout, vggcl_lines(r.stderr)),
                             (1, one.stdout, vggcl_lines(one.stderr)), r.stderr)
            np.testing.assert_array_equal(np.load(out / "l.npy"), np.load(o1 / "l.npy"))
        r = subprocess.run(cmd[:-1], input="", capture_output=True, text=True, env=GRACE, timeout=600)
        self.assertEqual((r.returncode, vggcl_lines(r.stderr)),
                         (2, ["vggcl: classify: --files-from - (standard input) names no image or folder"]), r.stderr)

    def test_balance_not_known(self):
        """VGGCL_MPI_BALANCE neither dynamic nor static: said once (by rank 0, whose setting is every rank's), and
        the job runs as by default, with one process's answers."""
        one, _ = self.classify("one")
        two, _ = self.classify("two", ranks=2, env=dict(ENV, VGGCL_MPI_BALANCE="contiguous"))
        self.assertEqual((two.returncode, two.stdout), (one.returncode, one.stdout), two.stderr)
        said = "vggcl: VGGCL_MPI_BALANCE=contiguous is neither dynamic nor static: dynamic is used"
        self.assertEqual(vggcl_lines(two.stderr), [said, *vggcl_lines(one.stderr)])

    def test_mpi_without_thread_multiple(self):
        """An MPI that grants less than MPI_THREAD_MULTIPLE (MPICH or Intel MPI built so; here Open MPI's own, the
        level lowered through MPI's profiling interface, PMPI) cannot hand batches out from rank 0's thread: each
        rank takes a contiguous share, with one process's answers, and rank 0 says it once (it was unsaid), also
        where one rank alone is short of it; not where VGGCL_MPI_BALANCE=static asks for that anyway."""
        shim = self.d / "funneled.c"
        shim.write_text("#include <mpi.h>\nint MPI_Init_thread(int *c, char ***v, int required, int *provided)\n"
                        "{ return PMPI_Init_thread(c, v, required < MPI_THREAD_FUNNELED ? required : "
                        "MPI_THREAD_FUNNELED, provided); }\n")
        lib = self.d / "libfunneled.so"
        subprocess.run(["mpicc", "-shared", "-fPIC", "-o", str(lib), str(shim)], check=True, timeout=120)
        said = ("vggcl: this MPI grants MPI_THREAD_FUNNELED, not MPI_THREAD_MULTIPLE, which handing out batches as "
                "ranks ask needs: each rank takes a contiguous share (as with VGGCL_MPI_BALANCE=static)")
        one, o1 = self.classify("one", "--format", "json")
        args = [VGGCL, "classify", "--weights", str(self.weights), "--resize", "40", "--crop", "32", "--batch", "3",
                "--format", "json", str(self.images)]
        preload = ["-x", f"LD_PRELOAD={lib}"]
        for tag, launch, note in (("both", ["-n", "2", *preload, *args], True),
                                  ("rank 1", ["-n", "1", *args, ":", "-n", "1", *preload, *args], True),
                                  ("static", ["-n", "2", "-x", "VGGCL_MPI_BALANCE=static", *preload, *args], False)):
            two = subprocess.run(["mpirun", "--oversubscribe", *launch], capture_output=True, text=True, env=ENV,
                                 timeout=600)
            self.assertEqual((two.returncode, two.stdout), (one.returncode, one.stdout), f"{tag}: {two.stderr}")
            self.assertEqual(vggcl_lines(two.stderr), [said] * note + vggcl_lines(one.stderr), tag)

    def test_notices_said_once(self):
        """With an image skipped the ranks' messages are printed one rank after the other: the notices every
        rank makes alike (compiling the kernels, the decoding threads' warning) are said once, as one process
        says them; the skipped image is named."""
        env = dict(ENV, VGGCL_CACHE_DIR=str(self.d / "cache"))  # (empty: the kernels are compiled)
        two, _ = self.classify("two", "--threads", str(os.cpu_count() + 1), ranks=2, env=env)  # (more than its cores)
        self.assertEqual(two.returncode, 1, two.stderr)
        said = [ln for ln in two.stderr.splitlines() if ln.startswith("vggcl:")]
        for notice in (" decoding threads, but this process may run on only ", "compiling the OpenCL kernels"):
            self.assertEqual(sum(notice in ln for ln in said), 1, two.stderr)
        self.assertEqual(sum("07_broken.png" in ln for ln in said), 1, two.stderr)

    def test_small_chunks(self):
        """VGGCL_MPI_CHUNK=100, given to rank 0 alone (its value is every rank's): the text goes to rank 0
        100 bytes at a time, 5 rows of logits, a tensor row or a train-head feature row (both over 100
        bytes) to a message; at 300 bytes, train-head's rows of 128 bytes go 2, 2, 2 and 1 to a message;
        the same outputs and models as one process's."""
        one, o1 = self.classify("one", "--format", "json")
        out = self.d / "two"
        out.mkdir()
        args = [VGGCL, "classify", "--weights", str(self.weights), "--resize", "40", "--crop", "32", "--batch", "3",
                "--logits-out", str(out / "l.npy"), "--tensor-out", str(out / "t.npy"), "--format", "json",
                str(self.images)]
        two = subprocess.run(["mpirun", "-n", "1", "-x", "VGGCL_MPI_CHUNK=100", *args, ":", "-n", "1", *args],
                             capture_output=True, text=True, env=ENV, timeout=600)
        o2 = out
        self.assertEqual(two.returncode, one.returncode, two.stderr)
        self.assertEqual(two.stdout, one.stdout)
        self.assertGreater(len(one.stdout), 1000)  # (over ten chunks)
        self.assertEqual(vggcl_lines(two.stderr.replace(str(o2), str(o1))), vggcl_lines(one.stderr))
        for name in ("l.npy", "t.npy"):
            np.testing.assert_array_equal(np.load(o2 / name), np.load(o1 / name))
        # not a number of bytes: said, and the default used (atoll took "4M" for 4 bytes, unsaid)
        bad = subprocess.run(["mpirun", "-n", "1", "-x", "VGGCL_MPI_CHUNK=4M", *args, ":", "-n", "1", *args],
                             capture_output=True, text=True, env=ENV, timeout=600)
        self.assertEqual((bad.returncode, bad.stdout), (one.returncode, one.stdout), bad.stderr)
        self.assertEqual(vggcl_lines(bad.stderr)[0], "vggcl: VGGCL_MPI_CHUNK=4M is not a number of bytes from 1 to "
                         "2147483646: the default, 4194304, is used")
        for chunk in ("100", "300"):
            self.train_heads(lambda cmd: subprocess.run(["mpirun", "-n", "1", "-x", f"VGGCL_MPI_CHUNK={chunk}", *cmd,
                                                         ":", "-n", "1", *cmd],
                                                        capture_output=True, text=True, env=ENV, timeout=600))

    def test_more_ranks_than_images(self):
        """4 ranks over 3 files, the last unreadable: one rank has no image and one only the unreadable
        one (neither writes an array); the output is still one process's."""
        few = self.d / "few"
        few.mkdir()
        for name in ("00.png", "01.jpg"):
            shutil.copy(self.images / name, few / name)
        shutil.copy(self.images / "07_broken.png", few / "02_broken.png")
        one, o1 = self.classify("one", images=few)
        four, o4 = self.classify("four", ranks=4, images=few)
        self.assertEqual(one.returncode, 1, one.stderr)
        self.assertEqual(four.returncode, one.returncode, four.stderr)
        self.assertEqual(four.stdout, one.stdout)
        self.assertEqual(len(one.stdout.splitlines()), 2)
        self.assertEqual(vggcl_lines(four.stderr), vggcl_lines(one.stderr))
        for name in ("l.npy", "t.npy"):
            np.testing.assert_array_equal(np.load(o4 / name), np.load(o1 / name))

    def test_parts_in_many_chunks(self):
        """--tensor-out rows against rank 0's chunks of up to 4 MiB of whole rows, the 5 and 4 rows of
        each rank's part going over as 2 + 2 + 1 and 2 + 2 rows of 1.5 MB (a 360x360 crop), and one by one
        when a row is 4.3 MB (600x600): the arrays are still one process's."""
        for crop in (360, 600):
            one, o1 = self.classify(f"one{crop}", "--resize", str(crop), "--crop", str(crop))
            two, o2 = self.classify(f"two{crop}", "--resize", str(crop), "--crop", str(crop), ranks=2)
            self.assertEqual(one.returncode, 1, one.stderr)
            self.assertEqual(two.returncode, one.returncode, two.stderr)
            self.assertEqual(two.stdout, one.stdout)
            t = np.load(o1 / "t.npy")
            self.assertEqual(t.shape, (9, 3, crop, crop))
            np.testing.assert_array_equal(np.load(o2 / "t.npy"), t)
            np.testing.assert_array_equal(np.load(o2 / "l.npy"), np.load(o1 / "l.npy"))

    def test_eval_two_ranks_equal_one_process(self):
        """eval's tallies from two ranks add up to one process's report, in each format, with an unreadable
        image in the list (batches handed out, and contiguous shares: in the second rank's); a data set that does
        not fit the model is refused once."""
        data = self.d / "data"
        for c, name in enumerate(("a", "b")):
            (data / name).mkdir(parents=True)
            for i in range(5):
                Image.fromarray(photo(40 + 3 * i, 36 + c, 10 * c + i)).save(data / name / f"{i}.png")
        (data / "b" / "3_broken.png").write_bytes(b"broken")
        base = ["eval", "--weights", str(self.weights), "--data", str(data), "--resize", "40", "--crop", "32",
                "--batch", "2"]
        for fmt, env in (("text", ENV), ("json", ENV), ("csv", ENV), ("text", STATIC)):
            runs = [subprocess.run(launch + [VGGCL, *base, "--format", fmt], capture_output=True, text=True,
                                   env=env, timeout=600)
                    for launch in ([], ["mpirun", "-n", "2", "--oversubscribe"])]
            self.assertEqual(runs[0].returncode, 1, runs[0].stderr)
            self.assertEqual(runs[1].returncode, 1, runs[1].stderr)
            self.assertEqual(runs[1].stdout, runs[0].stdout, fmt)
            self.assertEqual(vggcl_lines(runs[1].stderr), vggcl_lines(runs[0].stderr), fmt)
            if fmt == "text":  # both classes' images counted, from both ranks
                self.assertIn("10 images, 5 classes (1 skipped)", runs[0].stdout)
        for name in "cdef":  # six folders for five classes
            (data / name).mkdir()
            shutil.copy(data / "a" / "0.png", data / name / "0.png")
        two = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", VGGCL, *base], capture_output=True, text=True,
                             env=ENV, timeout=600)
        self.assertEqual(two.returncode, 1, two.stderr)
        self.assertEqual(vggcl_lines(two.stderr), [f"vggcl: {data}: 6 class folders, but {self.weights} has 5 classes"])
        self.assertEqual(two.stdout, "")

    def test_progress_from_rank_0(self):
        """--progress under mpirun: rank 0 says how far the job is, on the real stderr while the rest of its
        messages are held (the batches handed out to the ranks; with contiguous shares, its own share); no other
        rank does; the output is one process's. Handed out, once every rank's batches are done, a last line as one
        process's: "done in" (its last said "the last batches running")."""
        one, _ = self.classify("one")
        two, _ = self.classify("handed", "--progress", "0.000001", ranks=2)
        self.assertEqual((two.returncode, two.stdout), (one.returncode, one.stdout), two.stderr)
        shown = [ln for ln in vggcl_lines(two.stderr) if " images/s, " in ln]
        self.assertGreater(len(shown), 1, two.stderr)
        self.assertRegex(shown.pop(),
                         r"^vggcl: 2 ranks: 10 of 10 images \(100%\), [0-9.]+ images/s, done in \d+\.\d s$")
        self.assertEqual(sum(" done in " in ln for ln in two.stderr.splitlines()), 1, two.stderr)
        for ln in shown:  # (every batch handed out: the last running, not "about 0 s left")
            m = re.match(r"^vggcl: 2 ranks, handed out: (3|6|9|10) of 10 images \((\d+)%\), [0-9.]+ images/s, (.*)$",
                         ln)
            self.assertTrue(m, ln)
            self.assertEqual(int(m[2]), int(m[1]) * 10)
            self.assertRegex(m[3], "^the last batches running$" if m[1] == "10" else r"^about \d+ s left$")
        self.assertEqual([ln for ln in vggcl_lines(two.stderr) if " images/s, " not in ln], vggcl_lines(one.stderr))
        two, _ = self.classify("two", "--progress", "0.000001", ranks=2, env=STATIC)
        self.assertEqual(two.returncode, one.returncode, two.stderr)
        self.assertEqual(two.stdout, one.stdout)
        shown = [ln for ln in vggcl_lines(two.stderr) if " images/s, " in ln]
        # rank 0 has the first 5 of the 10 files: batches of 3 end at 3 and 5
        self.assertEqual([ln.split(" images (")[0] for ln in shown],
                         ["vggcl: rank 0 of 2, its share: 3 of 5", "vggcl: rank 0 of 2, its share: 5 of 5"],
                         two.stderr)
        self.assertEqual([ln for ln in vggcl_lines(two.stderr) if ln not in shown], vggcl_lines(one.stderr))

    def test_rank_times(self):
        """VGGCL_RANK_TIMES given to rank 0 alone (its setting is every rank's): after the job, a row per rank of
        where its time went, each a time for every step and a total that is their sum; the answers and the other
        messages are one process's. Given to rank 1 alone: none. One process: its own row, with no MPI_Init."""
        one, _ = self.classify("one")
        args = [VGGCL, "classify", "--weights", str(self.weights), "--resize", "40", "--crop", "32", "--batch", "3",
                str(self.images)]
        for given, rows in ((0, 2), (1, 0)):
            times = ["-x", "VGGCL_RANK_TIMES=1"]
            t0 = time.monotonic()
            r = subprocess.run(["mpirun", "-n", "1", *(times if given == 0 else []), *args, ":",
                                "-n", "1", *(times if given == 1 else []), *args],
                               capture_output=True, text=True, env=ENV, timeout=600)
            wall = time.monotonic() - t0
            self.assertEqual(r.returncode, one.returncode, r.stderr)
            self.assertEqual(r.stdout, one.stdout)
            said = vggcl_lines(r.stderr)
            table = [ln for ln in said if re.fullmatch(ROW, ln)]
            self.assertEqual(len(table), rows, r.stderr)
            self.assertEqual([ln for ln in said if ln not in table and "(VGGCL_RANK_TIMES)" not in ln and
                              not ln.startswith("vggcl:  rank  machine ")], vggcl_lines(one.stderr))
            self.assertEqual(sum("(VGGCL_RANK_TIMES)" in ln for ln in said), rows > 0)
            batches = []
            for rank, ln in enumerate(table):
                f = ln.split()
                self.assertEqual(f[1:3], [str(rank), os.uname().nodename[:20]], ln)
                t = [float(v) for v in f[3:10]]
                self.assertEqual(len(f), 11, ln)  # start, MPI_Init, model, images, after, waiting, total; batches
                batches.append(int(f[10]))
                self.assertTrue(all(v >= 0 for v in t), ln)
                self.assertGreater(t[1], 0, ln)  # MPI_Init
                self.assertGreater(t[2], 0, ln)  # the model
                self.assertGreater(t[3], 0, ln)  # its share
                self.assertAlmostEqual(t[6], sum(t[:6]), delta=0.005, msg=ln)
                self.assertLess(t[6], wall, ln)  # (the process's start read right: within the job's wall time)
            if rows:  # (10 images in batches of 3, each handed over by one rank)
                self.assertEqual(sum(batches), 4, r.stderr)
        r = subprocess.run(args, capture_output=True, text=True, env=dict(ENV, VGGCL_RANK_TIMES="1"), timeout=600)
        self.assertEqual((r.returncode, r.stdout), (one.returncode, one.stdout), r.stderr)
        table = [ln.split() for ln in vggcl_lines(r.stderr) if re.fullmatch(ROW, ln)]
        self.assertEqual([f[1] for f in table], ["0"], r.stderr)
        self.assertEqual(table[0][4], "-")  # (no MPI)
        r = subprocess.run(args, capture_output=True, text=True, env=dict(ENV, VGGCL_RANK_TIMES="0"), timeout=600)
        self.assertNotIn("VGGCL_RANK_TIMES", r.stderr)

    def device_failing(self, rank, batch):
        """classify of 8 images in batches of 2 on 2 ranks with contiguous shares, rank's device failing
        (VGGCL_FAULT given to that rank alone) in batch (1 or 2) of its share: the run, after checking that the job
        failed with no output file."""
        out = self.d / "out"
        out.mkdir(exist_ok=True)
        good = [p for p in sorted(self.images.iterdir()) if "broken" not in p.name][:8]
        images = self.d / "eight"
        images.mkdir(exist_ok=True)
        for p in good:
            shutil.copy(p, images / p.name)
        args = [VGGCL, "classify", "--weights", str(self.weights), "--resize", "40", "--crop", "32", "--batch", "2",
                "--logits-out", str(out / "l.npy"), "--tensor-out", str(out / "t.npy"), str(images)]
        def where(n):  # the failing enqueue n: before that batch (-1), in it (0), after it or none (1)
            for f in out.iterdir():  # (a run past every enqueue wrote them)
                f.unlink()
            fault = ["-x", f"VGGCL_FAULT=enqueue:{n}", *args]
            r = subprocess.run(["mpirun", "-n", "1", *(fault if rank == 0 else args), ":", "-n", "1",
                                *(fault if rank == 1 else args)], capture_output=True, text=True, env=STATIC,
                               timeout=600)
            if r.returncode:
                self.assertEqual(list(out.iterdir()), [], "output left behind")
            for k in (1, 2):
                if f"batch {k} of 2 of rank {rank}'s share" in r.stderr:
                    return (k > batch) - (k < batch), r
            return (1 if r.returncode == 0 else -1), r  # (none: past every enqueue, or before the batches)
        at, r = first_not_before(where)  # (a later enqueue fails later: the first n in that batch)
        self.assertEqual(at, 0, f"no enqueue failure landed in rank {rank}'s batch {batch}: {r.stderr}")
        self.assertEqual(r.returncode, 1, r.stderr)
        return r, [images / g.name for g in good]

    def test_one_rank_device_failing(self):
        """The second rank's device fails in its first batch while the first rank finishes: the job fails with
        the device, batch and images named, no rank left waiting, no output file, and the first rank's lines out
        as one process's would be before it."""
        seen, images = self.device_failing(1, 1)
        self.assertIn(f"{images[4].name} to ", seen.stderr)
        self.assertIn("CL_", seen.stderr)
        self.assertEqual([line.split(":")[0] for line in seen.stdout.splitlines()], [str(p) for p in images[:4]])

    def test_first_rank_device_failing(self):
        """The first rank's device fails in its second batch while the second rank finishes: the lines are the
        first batch's alone, as one process's, which stops there (the second rank's lines followed, after a gap)."""
        seen, images = self.device_failing(0, 2)
        self.assertIn(f"{images[2].name} to ", seen.stderr)
        self.assertEqual([line.split(":")[0] for line in seen.stdout.splitlines()], [str(p) for p in images[:2]])
        self.assertEqual([ln for ln in vggcl_lines(seen.stderr) if "batch 2 of 2 of rank 0's share" not in ln], [],
                         seen.stderr)

    def test_handed_out_batch_failing(self):
        """Batches handed out as ranks ask: rank 1's device fails in the first batch it was given (whichever that
        is): the job fails naming that batch of the list and the rank, with no output file, and the lines are one
        process's up to that batch (the batches before it, whichever rank ran them; none after it)."""
        out = self.d / "out"
        out.mkdir()
        good = sorted(p for p in self.images.iterdir() if "broken" not in p.name)[:8]
        images = self.d / "eight"
        images.mkdir()
        for p in good:
            shutil.copy(p, images / p.name)
        args = [VGGCL, "classify", "--weights", str(self.weights), "--resize", "40", "--crop", "32", "--batch", "2",
                "--logits-out", str(out / "l.npy"), str(images)]

        def where(n):  # rank 1's enqueue n failing: before its batches (-1), in one (0), past them (1)
            for f in out.iterdir():
                f.unlink()
            r = subprocess.run(["mpirun", "-n", "1", *args, ":", "-n", "1", "-x", f"VGGCL_FAULT=enqueue:{n}", *args],
                               capture_output=True, text=True, env=ENV, timeout=600)
            if r.returncode:
                self.assertEqual(list(out.iterdir()), [], "output left behind")
            return (0 if ", batch " in r.stderr else 1 if r.returncode == 0 else -1), r
        at, r = first_not_before(where)  # (the first enqueue of rank 1's first batch)
        self.assertEqual((at, r.returncode), (0, 1), r.stderr)
        m = re.search(r", batch (\d) of 4 \(on rank 1\) \((\S+) to (\S+)\): ", r.stderr)
        self.assertTrue(m, r.stderr)
        first = images / good[2 * (int(m.group(1)) - 1)].name
        self.assertEqual(m.group(2), str(first))
        self.assertEqual([ln.split(":")[0] for ln in r.stdout.splitlines()],
                         [str(images / p.name) for p in good if p.name < first.name])

    def test_batches_in_turn(self):
        """VGGCL_MPI_BALANCE=interleave (a test hook: rank i is handed batches i, i + 2, ..., so which rank runs
        which batch is fixed): rank 1's first two batches hold only unreadable images, its third one before its
        readable one, and rank 0's batches between them one each: the messages come in list order, each batch's in
        its place, as one process's (the third's went with the second's, before rank 0's between them), and the
        lines are one process's."""
        images = self.d / "turns"
        images.mkdir()
        for i in range(12):
            if i in (2, 3, 4, 6, 7, 8, 10):
                (images / f"{i:02d}.png").write_bytes(b"broken")
            else:
                Image.fromarray(photo(40 + i, 38, 200 + i)).save(images / f"{i:02d}.png")
        args = [VGGCL, "classify", "--weights", str(self.weights), "--resize", "40", "--crop", "32", "--batch", "2",
                "--format", "json", str(images)]
        one = subprocess.run(args, capture_output=True, text=True, env=ENV, timeout=600)
        two = subprocess.run(["mpirun", "-n", "1", "-x", "VGGCL_MPI_BALANCE=interleave", "-x", "VGGCL_RANK_TIMES=1",
                              *args, ":", "-n", "1", *args], capture_output=True, text=True, env=ENV, timeout=600)
        self.assertEqual(one.returncode, 1, one.stderr)
        self.assertEqual([ln.split(":")[1].strip()[-6:] for ln in vggcl_lines(one.stderr)[:7]],
                         [f"{i:02d}.png" for i in (2, 3, 4, 6, 7, 8, 10)])
        rows = [ln for ln in vggcl_lines(two.stderr) if re.fullmatch(ROW, ln)]
        self.assertEqual([int(ln.split()[-1]) for ln in rows], [3, 3], two.stderr)
        self.assertEqual((two.returncode, two.stdout, [ln for ln in vggcl_lines(two.stderr) if ln.startswith(
            "vggcl: /")]), (one.returncode, one.stdout, [ln for ln in vggcl_lines(one.stderr) if ln.startswith(
                "vggcl: /")]))

    def test_slow_rank_takes_fewer_batches(self):
        """A rank that runs slower (here stopped for 90% of the time: tests/throttled.py) is handed fewer
        batches, as VGGCL_RANK_TIMES's batches column shows, and the output is one process's all the same. Batches
        of ~20 ms (at 32x32 of the small model a batch took 0.5 ms, less than a pause of the first rank: once the
        slowed rank took 19 of 20)."""
        many = self.d / "many"
        many.mkdir()
        for i in range(20):
            Image.fromarray(photo(40 + i, 38 + i % 3, 100 + i)).save(many / f"{i:02d}.png")
        big = self.d / "big.safetensors"
        save_file(make_state_dict(parse_cfg("8,M,64,M,128"), False, 5, seed=3), big)
        args = [VGGCL, "classify", "--weights", str(big), "--resize", "640", "--crop", "640", "--batch", "1", str(many)]
        one = subprocess.run(args, capture_output=True, text=True, env=ENV, timeout=600)
        r = self.slow_second_rank(args, 20)
        self.assertEqual((r.returncode, r.stdout), (0, one.stdout), r.stderr)

    def slow_second_rank(self, args, n_batches):
        """args run by two ranks, the second stopped for 90% of each 50 ms (tests/throttled.py): the run, after
        checking that the n_batches were handed over, the first rank more than twice as many as the second
        (VGGCL_RANK_TIMES's batches column)."""
        slow = [sys.executable, str(Path(__file__).resolve().parent / "throttled.py"), "0.1"]
        r = subprocess.run(["mpirun", "-n", "1", "-x", "VGGCL_RANK_TIMES=1", *args, ":", "-n", "1", *slow, *args],
                           capture_output=True, text=True, env=ENV, timeout=600)
        batches = [int(ln.split()[-1]) for ln in vggcl_lines(r.stderr) if re.fullmatch(ROW, ln)]
        self.assertEqual(len(batches), 2, r.stderr)
        self.assertEqual(sum(batches), n_batches, r.stderr)
        self.assertGreater(batches[0], 2 * batches[1], r.stderr)
        return r

    def test_each_rank_its_own_device(self):
        """On a machine with two devices of one name (PoCL's CPU device listed twice, as a box's GPUs), the
        local rank picks the device: the output is one process's, and a failure in each rank's first batch
        names rank 0's device 0 (and rank 1's is not said: one process stops at the first), a failure in rank
        1's alone its device 1."""
        two, name = testenv.two_devices(VGGCL) or (None, None)
        if not two:
            self.skipTest("two devices of one name need PoCL as the only platform (POCL_DEVICES)")
        one, o1 = self.classify("one")
        both, o2 = self.classify("both", ranks=2, env=dict(ENV, **two))
        self.assertEqual((both.returncode, both.stdout), (one.returncode, one.stdout), both.stderr)
        both, o2 = self.classify("both-static", ranks=2, env=dict(STATIC, **two))
        self.assertEqual((both.returncode, both.stdout), (one.returncode, one.stdout), both.stderr)
        np.testing.assert_array_equal(np.load(o2 / "l.npy"), np.load(o1 / "l.npy"))
        for n in range(1, 100):  # the first enqueue in a batch, counted alike in each rank
            r, out = self.classify(f"fault{n}", ranks=2, env=dict(STATIC, VGGCL_FAULT=f"enqueue:{n}", **two))
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(list(out.iterdir()), [], "output left behind")
            if ", batch " in r.stderr:
                break
        said = "\n".join(vggcl_lines(r.stderr))
        self.assertIn(f"vggcl: device 0 ({name}), batch 1 of 2 of rank 0's share", said)
        self.assertNotIn("rank 1's share", said)
        out = self.d / "fault-rank1"
        out.mkdir()
        args = [VGGCL, "classify", "--weights", str(self.weights), "--resize", "40", "--crop", "32", "--batch", "3",
                "--logits-out", str(out / "l.npy"), str(self.images)]
        r = subprocess.run(["mpirun", "-n", "1", *args, ":", "-n", "1", "-x", f"VGGCL_FAULT=enqueue:{n}", *args],
                           capture_output=True, text=True, env=dict(STATIC, **two), timeout=600)
        self.assertEqual((r.returncode, list(out.iterdir())), (1, []), r.stderr)
        self.assertIn(f"vggcl: device 1 ({name}), batch 1 of 2 of rank 1's share", "\n".join(vggcl_lines(r.stderr)))

    def test_ranks_of_two_devices_each(self):
        """Batches handed out to ranks that each run two devices (--device 0,1: a thread per device taking the
        rank's batches as they come): one process's output, byte for byte, with the rank's lines and messages
        in the list's order."""
        two, _ = testenv.two_devices(VGGCL) or (None, None)
        if not two:
            self.skipTest("two devices of one name need PoCL as the only platform (POCL_DEVICES)")
        many = self.d / "many"
        many.mkdir()
        for i in range(24):
            if i % 7 == 3:
                (many / f"{i:02d}.png").write_bytes(b"broken")
            else:
                Image.fromarray(photo(40 + i, 38 + i % 4, 200 + i)).save(many / f"{i:02d}.png")
        one, o1 = self.classify("one", "--batch", "2", "--format", "csv", images=many)
        self.assertEqual(one.returncode, 1, one.stderr)
        both, o2 = self.classify("both", "--batch", "2", "--format", "csv", "--device", "0,1", ranks=2, images=many,
                                 env=dict(ENV, **two))
        self.assertEqual((both.returncode, both.stdout, vggcl_lines(both.stderr)),
                         (one.returncode, one.stdout, vggcl_lines(one.stderr)), both.stderr)
        for name in ("l.npy", "t.npy"):
            self.assertEqual((o2 / name).read_bytes(), (o1 / name).read_bytes(), name)

    def test_ranks_seeing_different_images(self):
        """Ranks that find different image lists (a folder changing as the job starts, machines that do
        not see the same files; here each rank given its own folder through mpirun's MPMD syntax) cut
        their shares from different lists: the job is refused, said once, with no output file, for a
        different count and for the same count of other paths; eval's data sets too."""
        out = self.d / "out"
        out.mkdir()
        folders = {}
        for name, files in (("three", ["00.png", "01.jpg", "02.png"]), ("four", ["00.png", "01.jpg", "02.png", "03.jpg"]),
                            ("other", ["00.png", "01.jpg", "04.png"])):
            folders[name] = self.d / name / "a"
            folders[name].mkdir(parents=True)
            for f in files:
                shutil.copy(self.images / f, folders[name] / f)
        args = ["classify", "--weights", str(self.weights), "--resize", "40", "--crop", "32",
                "--logits-out", str(out / "l.npy")]
        host = socket.gethostname()  # (the first rank whose list differs named, with its machine)
        for alike, second, needle in ((1, "four", f"(rank 0: 3 images; rank 1, on {host}: 4)"),
                                      (1, "other", f"(3 images each, not the same paths: rank 1's, on {host}, and "
                                                   "rank 0's)"),
                                      (2, "four", f"(rank 0: 3 images; rank 2, on {host}: 4)")):  # (the first)
            r = subprocess.run(["mpirun", "--oversubscribe", "-n", str(alike), VGGCL, *args, str(folders["three"]),
                                ":", "-n", "1", VGGCL, *args, str(folders[second])],
                               capture_output=True, text=True, env=ENV, timeout=600)
            self.assertEqual(r.returncode, 1, r.stderr)
            lines = vggcl_lines(r.stderr)
            self.assertEqual(len(lines), 1, r.stderr)
            self.assertIn("classify: the ranks found different image lists " + needle, lines[0])
            self.assertEqual(r.stdout, "")
            self.assertEqual(list(out.iterdir()), [])
        ev = ["eval", "--weights", str(self.weights), "--resize", "40", "--crop", "32", "--data"]
        r = subprocess.run(["mpirun", "-n", "1", VGGCL, *ev, str(folders["three"].parent), ":",
                            "-n", "1", VGGCL, *ev, str(folders["other"].parent)],
                           capture_output=True, text=True, env=ENV, timeout=600)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(len(vggcl_lines(r.stderr)), 1, r.stderr)
        self.assertIn("eval: the ranks found different image lists", r.stderr)
        self.assertEqual(r.stdout, "")

    def test_full_tmpdir_of_one_rank(self):
        """A rank whose TMPDIR fills up (its captured answers and messages live there): the job fails, that
        rank says so naming the folder, and no output file is left; its failed writes were taken for the
        real standard output's ("cannot write standard output: a write failed", said by every rank)."""
        if not testenv.mount_namespace():
            self.skipTest("needs root and unshare (util-linux) to mount a small tmpfs")
        small = self.d / "small"
        small.mkdir()
        out = self.d / "out"
        out.mkdir()
        cmd = [VGGCL, "classify", "--weights", str(self.weights), "--resize", "40", "--crop", "32", "--format",
               "json", "--tensor-out", str(out / "t.npy"), *[str(self.images)] * 8]  # (a share of 40 images)
        r = subprocess.run(["unshare", "-m", "sh", "-c", f'mount -t tmpfs -o size=16k tmpfs "{small}" && exec "$@"',
                            "sh", "mpirun", "-n", "1", *cmd, ":", "-n", "1", "-x", f"TMPDIR={small}", *cmd],
                           capture_output=True, text=True, env=ENV, timeout=300)
        self.assertNotEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"vggcl: rank 1: its answers and messages could not all be kept in its temporary files in "
                      f"{small} (TMPDIR): is it full?", r.stderr)
        self.assertNotIn("cannot write standard output", r.stderr)
        self.assertEqual(list(out.iterdir()), [])

    def test_full_disk_under_an_array(self):
        """An array whose rows cannot all be written (its disk full) ends the text with the batch whose rows failed,
        as one process stops there: the same lines, messages (the unreadable images before it named) and exit
        status, no array left (every line was printed, then the failure said: rank 0 wrote the arrays after the
        text); with contiguous runs (static), every line, then the failure, as docs/folders.md says."""
        if not testenv.mount_namespace():
            self.skipTest("needs root and unshare (util-linux) to mount a small tmpfs")
        small = self.d / "small"
        small.mkdir()
        cmd = [VGGCL, "classify", "--weights", str(self.weights), "--resize", "40", "--crop", "32", "--batch", "3",
               "--format", "json", "--tensor-out", str(small / "t.npy"), *[str(self.images)] * 8]  # (72 readable)

        def run(*launch, env=ENV):  # (the folder's files listed after the run: none left)
            return subprocess.run(["unshare", "-m", "sh", "-c", f'mount -t tmpfs -o size=256k tmpfs "{small}" && '
                                   f'"$@"; rc=$?; ls -A "{small}"; exit $rc', "sh", *launch, *cmd],
                                  capture_output=True, text=True, env=env, timeout=300)
        one = run()
        self.assertEqual(one.returncode, 1, one.stderr)
        lines = one.stdout.splitlines()
        self.assertTrue(9 < len(lines) < 72, one.stdout)  # (rows of 12 KiB: the disk takes about 21)
        self.assertEqual(vggcl_lines(one.stderr)[-1], f"vggcl: {small / 't.npy'}: cannot write: No space left on "
                                                      "device")
        self.assertIn("07_broken.png", one.stderr)
        for ranks in (2, 3):
            r = run("mpirun", "-n", str(ranks), "--oversubscribe")
            self.assertEqual((r.returncode, r.stdout, vggcl_lines(r.stderr)),
                             (1, one.stdout, vggcl_lines(one.stderr)), ranks)
        r = run("mpirun", "-n", "2", "--oversubscribe", env=STATIC)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), 72)
        self.assertEqual(vggcl_lines(r.stderr)[-1], vggcl_lines(one.stderr)[-1])

    def test_unwritable_output_under_mpirun(self):
        """Rank 0 cannot create --logits-out when the ranks' parts come to be gathered: every rank stops
        (no rank left waiting), the message names the file, and the tensor written before it is removed."""
        bad = self.d / "no-such-folder" / "l.npy"
        r, out = self.classify("bad", "--logits-out", str(bad), ranks=2)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(str(bad), r.stderr)
        self.assertEqual(list(out.iterdir()), [])
        # logits that cannot be written (a full device): an earlier run's tensor file is kept (the gathered
        # tensor was renamed over it, then removed: lost)
        tensor = out / "t.npy"
        tensor.write_bytes(b"an earlier run's")
        r = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", VGGCL, "classify", "--weights", str(self.weights),
                            "--resize", "40", "--crop", "32", "--logits-out", "/dev/full", "--tensor-out", str(tensor),
                            str(self.images)], capture_output=True, text=True, env=ENV, timeout=600)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("vggcl: /dev/full: cannot write", r.stderr)
        self.assertEqual(tensor.read_bytes(), b"an earlier run's")
        self.assertEqual(list(out.iterdir()), [tensor])

    def test_skipped_images_said_in_list_order(self):
        """Images skipped for two reasons, one whose logits are not finite and an unreadable one after it, are
        named in list order whatever the batch size, by two ranks and by two shards (the unreadable one was
        named as its batch was made, the other as the batch before was handed over: one process named n2
        first at batch 2, two ranks n0 first)."""
        d = self.d / "mixed"
        d.mkdir()
        Image.fromarray(np.full((40, 40, 3), 255, np.uint8)).save(d / "n0.png")  # (1e37 a pixel: NaN logits)
        for name in ("n1.png", "n3.png"):
            Image.fromarray(np.zeros((40, 40, 3), np.uint8)).save(d / name)
        (d / "n2.png").write_bytes(b"broken")
        args = ("--mean", "0,0,0", "--std", "1e-37,1,1")

        def named(r):
            self.assertEqual(r.returncode, 1, r.stderr)
            return [re.sub(r"^vggcl: .*/(n\d)\.png: .*", r"\1", ln) for ln in vggcl_lines(r.stderr) if "(skipped)" in ln]
        runs = {f"batch {b}": named(self.classify(f"b{b}", *args, "--batch", str(b), images=d)[0]) for b in (1, 2, 4)}
        runs["2 ranks"] = named(self.classify("ranks", *args, "--batch", "2", ranks=2, images=d)[0])
        runs["2 shards"] = sum((named(self.classify(f"s{i}", *args, "--batch", "2", "--shard", f"{i}/2", images=d)[0])
                                for i in range(2)), [])
        self.assertEqual(runs, {k: ["n0", "n2"] for k in runs})

    def test_shards_concatenate_to_one_process(self):
        one, o1 = self.classify("one", "--format", "json")
        parts = [self.classify(f"shard{i}", "--format", "json", "--shard", f"{i}/2") for i in range(2)]
        self.assertEqual([p[0].returncode for p in parts], [0, 1])  # the broken image is in the second half
        self.assertEqual(parts[0][0].stdout + parts[1][0].stdout, one.stdout)
        csv, _ = self.classify("one-csv", "--format", "csv")
        csv_parts = [self.classify(f"csv{i}", "--format", "csv", "--shard", f"{i}/2")[0].stdout for i in range(2)]
        self.assertEqual("".join(csv_parts), csv.stdout)  # the header once, from the first shard
        for name in ("l.npy", "t.npy"):
            np.testing.assert_array_equal(np.concatenate([np.load(p[1] / name) for p in parts]), np.load(o1 / name))
        bad, _ = self.classify("bad", "--shard", "2/2")
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--shard must be I/N", bad.stderr)
        # one --shard given to every rank of mpirun: each runs that share (independent processes), which the rank
        # whose own it is not says (it ran twice, unsaid); the documented form, $OMPI_COMM_WORLD_RANK/2, says nothing
        cmd = [VGGCL, "classify", "--weights", str(self.weights), "--resize", "40", "--crop", "32", "--format", "json",
               str(self.images)]
        # what a shard says before it takes its share (the environment's bound on pixels, here) names it too: shards
        # may share one stderr
        early = subprocess.run([*cmd, "--shard", "1/2"], capture_output=True, text=True, timeout=600,
                               env=dict(ENV, VGGCL_MAX_IMAGE_PIXELS="lots"))
        self.assertEqual(early.returncode, 2, early.stderr)
        self.assertEqual(len(vggcl_lines(early.stderr)), 1, early.stderr)
        self.assertIn("vggcl: shard 1/2: classify: VGGCL_MAX_IMAGE_PIXELS is 'lots'; expected", early.stderr)
        same = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", *cmd, "--shard", "0/2"], capture_output=True,
                              text=True, env=ENV, timeout=600)
        self.assertEqual(same.returncode, 0, same.stderr)
        self.assertEqual(sorted(same.stdout.splitlines()), sorted(parts[0][0].stdout.splitlines() * 2))
        self.assertEqual(vggcl_lines(same.stderr), [
            "vggcl: shard 0/2: classify: rank 1 of 2 takes --shard 0/2: each process takes the share its --shard "
            "names, so one --shard given to every rank runs that share on each; give each its own (--shard "
            "$OMPI_COMM_WORLD_RANK/2), or none for the ranks to share the list"])
        # a --shard of another count than the launch's (a job array's task's, given to a step of 2 tasks): each
        # runs it, the rank whose own it is not saying so (unsaid); shards of shards (I N + rank of N M) say nothing
        other = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", *cmd, "--shard", "1/4"], capture_output=True,
                               text=True, env=ENV, timeout=600)
        self.assertEqual(other.returncode, 0, other.stderr)
        self.assertEqual(vggcl_lines(other.stderr), [
            "vggcl: shard 1/4: classify: rank 0 of 2 takes --shard 1/4: each process takes the share its --shard "
            "names, so one --shard given to every rank runs that share on each; give each its own (--shard "
            "$OMPI_COMM_WORLD_RANK/2), or none for the ranks to share the list"])
        nested = " ".join(map(shlex.quote, cmd)) + " --shard $((2 + OMPI_COMM_WORLD_RANK))/4"
        r = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", "sh", "-c", nested], capture_output=True,
                           text=True, env=ENV, timeout=600)
        self.assertFalse([ln for ln in vggcl_lines(r.stderr) if "--shard" in ln], r.stderr)
        own = " ".join(map(shlex.quote, cmd)) + " --shard $OMPI_COMM_WORLD_RANK/2"
        r = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", "sh", "-c", own], capture_output=True, text=True,
                           env=ENV, timeout=600)
        self.assertFalse([ln for ln in vggcl_lines(r.stderr) if "--shard" in ln], r.stderr)

    def test_no_crop_shares_take_the_first_images_size(self):
        """Without a crop the list's first readable image sets every image's size, and one of another size
        is skipped: a share or a rank whose own first image is of another size takes the list's (its
        images before the share read for it), so shards and ranks still give one process's answer."""
        images = self.d / "sizes"
        images.mkdir()
        (images / "0_broken.png").write_bytes(b"broken")  # the first of the list reads for no one
        for i, (h, w) in enumerate(((36, 48), (36, 48), (48, 36), (36, 48), (36, 48)), 1):
            Image.fromarray(photo(h, w, i)).save(images / f"{i}.png")  # 3.png, tall, first of the 2nd half
        cmd = [VGGCL, "classify", "--weights", str(self.weights), "--resize", "30", "--no-crop", "--batch", "2",
               "--format", "json"]

        def run(tag, *args, ranks=1):
            out = self.d / tag
            out.mkdir()
            c = [*cmd, "--logits-out", str(out / "l.npy"), "--tensor-out", str(out / "t.npy"), *args, str(images)]
            if ranks > 1:
                c = ["mpirun", "-n", str(ranks), "--oversubscribe", *c]
            return subprocess.run(c, capture_output=True, text=True, env=ENV, timeout=600), out

        one, o1 = run("one")
        self.assertEqual(one.returncode, 1, one.stderr)
        self.assertIn("3.png: preprocesses to 30 x 40 pixels (width x height), unlike the first image's 40 x 30",
                      one.stderr)
        self.assertEqual(np.load(o1 / "t.npy").shape, (4, 3, 30, 40))
        parts = [run(f"shard{i}", "--shard", f"{i}/2") for i in range(2)]
        self.assertEqual(parts[0][0].stdout + parts[1][0].stdout, one.stdout)
        named = [[ln for ln in vggcl_lines(r.stderr) if "images were skipped" not in ln]  # (the tallies differ)
                 for r in (parts[0][0], parts[1][0], one)]
        for i in range(2):  # (each shard's lines name it: they may share one stderr)
            self.assertTrue(all(ln.startswith(f"vggcl: shard {i}/2: ") for ln in named[i]), named[i])
            named[i] = [ln.replace(f"shard {i}/2: ", "", 1) for ln in named[i]]
        self.assertEqual(named[0] + named[1], named[2])
        for name in ("l.npy", "t.npy"):
            np.testing.assert_array_equal(np.concatenate([np.load(p[1] / name) for p in parts]), np.load(o1 / name))
        two, o2 = run("two", ranks=2)
        self.assertEqual((two.returncode, two.stdout, vggcl_lines(two.stderr)),
                         (one.returncode, one.stdout, vggcl_lines(one.stderr)))
        for name in ("l.npy", "t.npy"):
            np.testing.assert_array_equal(np.load(o2 / name), np.load(o1 / name))
        data = self.d / "data"  # eval (and train-head, which shares its code) cut the data set's list alike
        for c, name in enumerate(("a", "b")):
            (data / name).mkdir(parents=True)
            for i in range(3):
                Image.fromarray(photo(*((48, 36) if (c, i) == (1, 0) else (36, 48)), 10 * c + i)).save(
                    data / name / f"{i}.png")  # b/0.png, tall, is the first of the second rank's share
        ev = ["eval", "--weights", str(self.weights), "--data", str(data), "--resize", "30", "--no-crop"]
        runs = [subprocess.run(launch + [VGGCL, *ev], capture_output=True, text=True, env=ENV, timeout=600)
                for launch in ([], ["mpirun", "-n", "2", "--oversubscribe"])]
        self.assertIn("5 images, 5 classes (1 skipped)", runs[0].stdout)  # (b/0.png)
        self.assertEqual((runs[1].returncode, runs[1].stdout, vggcl_lines(runs[1].stderr)),
                         (runs[0].returncode, runs[0].stdout, vggcl_lines(runs[0].stderr)))
        # a share with none of the images: its empty tensor has the list's size (the shards concatenate), also
        # the first share, which has no image before it (the first image after it read for it: it failed)
        for shard in ("3/6", "0/6"):
            r = subprocess.run([VGGCL, "preprocess", "--resize", "30", "--no-crop", "--shard", shard, "--output",
                                str(self.d / "nc.npy"), str(images / "1.png"), str(images / "3.png")],
                               capture_output=True, text=True, env=ENV, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(np.load(self.d / "nc.npy").shape, (0, 3, 30, 40))
        r, out = run("first-share", "--shard", "0/7")  # (six files: the first share has none)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual((np.load(out / "t.npy").shape, np.load(out / "l.npy").shape), ((0, 3, 30, 40), (0, 5)))

    def test_no_crop_first_images_too_small(self):
        """Without a crop, images too small for the network are passed over where they would set the size: every
        rank takes the list's first image the network takes (a rank's lead of one too small took its size, or
        the pass failed), with handed-out batches and contiguous shares: one process's answer."""
        images = self.d / "small"
        images.mkdir()
        Image.fromarray(photo(5, 6, 1)).save(images / "0.png")  # (needs 8x8)
        Image.fromarray(photo(6, 5, 2)).save(images / "1.png")
        for i in range(2, 6):
            Image.fromarray(photo(36, 48, i)).save(images / f"{i}.png")
        def run(tag, ranks=1, env=ENV):
            out = self.d / tag
            out.mkdir()
            cmd = [VGGCL, "classify", "--weights", str(self.weights), "--resize", "0", "--no-crop", "--batch", "1",
                   "--format", "json", "--tensor-out", str(out / "t.npy"), str(images)]
            if ranks > 1:
                cmd = ["mpirun", "-n", str(ranks), "--oversubscribe", *cmd]
            return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600), out

        one, o1 = run("one")
        self.assertEqual(one.returncode, 1, one.stderr)
        self.assertIn(f"{images / '1.png'}: preprocesses to 5 x 6 pixels (width x height): smaller than the 8 x 8 "
                      "the network takes (skipped)", one.stderr)
        self.assertEqual(np.load(o1 / "t.npy").shape, (4, 3, 36, 48))
        for tag, env in (("dynamic", ENV), ("static", STATIC)):
            two, o2 = run(tag, ranks=2, env=env)
            self.assertEqual((two.returncode, two.stdout, vggcl_lines(two.stderr)),
                             (one.returncode, one.stdout, vggcl_lines(one.stderr)), tag)
            np.testing.assert_array_equal(np.load(o2 / "t.npy"), np.load(o1 / "t.npy"))

    def test_no_crop_handed_out_batches(self):
        """Without a crop, batches of one handed out as ranks ask: each image runs at its own size (the first wide,
        the others tall), whichever rank takes it, in classify, eval and train-head: one process's answer, none
        skipped (until 0.3 the list's first readable image set the size for every rank and the tall ones were
        skipped); with classify's --tensor-out (one array) the first still sets it, the others skipped."""
        data = self.d / "data"
        for c, name in enumerate(("a", "b")):
            (data / name).mkdir(parents=True)
            for i in range(6):
                Image.fromarray(photo(*((36, 48) if (c, i) == (0, 0) else (48, 36)), 10 * c + i)).save(
                    data / name / f"{i}.png")
        for cmd in (["classify", "--format", "json", str(data / "a"), str(data / "b")], ["eval", "--data", str(data)],
                    ["train-head", "--data", str(data), "--out", str(self.d / "m.safetensors"), "--epochs", "1"]):
            args = [VGGCL, cmd[0], "--weights", str(self.weights), "--resize", "30", "--no-crop", "--batch", "1",
                    *cmd[1:]]
            if cmd[0] == "classify":
                args += ["--logits-out", str(self.d / "l.npy")]
            one, two = (subprocess.run(launch + args, capture_output=True, text=True, env=ENV, timeout=600)
                        for launch in ([], ["mpirun", "-n", "2", "--oversubscribe"]))
            self.assertEqual(one.returncode, 0, one.stderr)
            self.assertFalse([ln for ln in vggcl_lines(one.stderr) if "skipped" in ln], one.stderr)
            self.assertEqual((two.returncode, two.stdout, vggcl_lines(two.stderr)),
                             (one.returncode, one.stdout, vggcl_lines(one.stderr)), cmd[0])
        self.assertEqual(np.load(self.d / "l.npy").shape[0], 12)  # (two's: every image's row)
        r = subprocess.run([VGGCL, "classify", "--weights", str(self.weights), "--resize", "30", "--no-crop", "--batch",
                            "1", "--tensor-out", str(self.d / "t.npy"), str(data / "a"), str(data / "b")],
                           capture_output=True, text=True, env=ENV, timeout=600)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(sum("unlike the first image's 40 x 30" in ln for ln in vggcl_lines(r.stderr)), 11)
        self.assertEqual(np.load(self.d / "t.npy").shape, (1, 3, 30, 40))

    def test_train_head_two_ranks(self):
        """train-head's features computed by two ranks and gathered: the same model, byte for byte, and the
        same report, with an unreadable image, the batches handed out and in contiguous shares."""
        for env in (ENV, STATIC):
            self.train_heads(lambda cmd: subprocess.run(["mpirun", "-n", "2", "--oversubscribe", *cmd],
                                                        capture_output=True, text=True, env=env, timeout=600))

    def train_data(self, n_train, n_val):
        """A data set of two classes with n_train images each, and a --val folder with n_val each."""
        data, val = self.d / "data", self.d / "val"
        for c, name in enumerate(("a", "b")):
            for folder, n, seed in ((data, n_train, 0), (val, n_val, 500)):
                (folder / name).mkdir(parents=True)
                for i in range(n):
                    Image.fromarray(photo(36 + i % 5, 34 + c, seed + 50 * c + i)).save(folder / name / f"{i:02d}.png")
        return data, val

    def test_train_head_slow_rank(self):
        """train-head under a rank that runs slower (stopped for 90% of the time): it is handed fewer of the
        training images' batches and of --val's, and the model is one process's, byte for byte. Batches of tens of
        ms, as in test_slow_rank_takes_fewer_batches (of 0.5 ms, a pause of the first rank let the slow one take
        them)."""
        data, val = self.train_data(8, 6)
        big = self.d / "big.safetensors"
        save_file(make_state_dict(parse_cfg("8,M,64,M,128"), False, 5, seed=3), big)
        cmd = [VGGCL, "train-head", "--weights", str(big), "--data", str(data), "--val", str(val),
               "--resize", "640", "--crop", "640", "--epochs", "2", "--batch", "1", "--flip"]
        one = subprocess.run([*cmd, "--out", str(self.d / "one.safetensors")], capture_output=True, text=True,
                             env=ENV, timeout=600)
        self.assertEqual(one.returncode, 0, one.stderr)
        r = self.slow_second_rank([*cmd, "--out", str(self.d / "two.safetensors")], 16 + 12)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.replace("two.safetensors", "one.safetensors"), one.stdout)
        self.assertEqual((self.d / "two.safetensors").read_bytes(), (self.d / "one.safetensors").read_bytes())

    def test_train_head_rank_failing(self):
        """train-head with rank 1's device failing at its enqueue N, for N from its first batch of the training
        images on through its batches (of --val's too, handed out after them; in turn, so that rank 1 runs some
        of both): each time the job fails naming the batch and the rank, and writes no model; or, N past rank 1's
        work, the one process's model."""
        data, val = self.train_data(3, 6)
        out = self.d / "head.safetensors"
        cmd = [VGGCL, "train-head", "--weights", str(self.weights), "--data", str(data), "--val", str(val),
               "--resize", "64", "--crop", "64", "--epochs", "2", "--batch", "1", "--flip", "--out", str(out)]
        one = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600)
        self.assertEqual(one.returncode, 0, one.stderr)
        model = out.read_bytes()
        out.unlink()
        failed_in = set()

        def where(n):  # rank 1's enqueue n failing: before its batches (-1: loading the model), in one (0), past (1)
            out.unlink(missing_ok=True)
            r = subprocess.run(["mpirun", "-n", "1", *cmd, ":", "-n", "1", "-x", f"VGGCL_FAULT=enqueue:{n}", *cmd],
                               capture_output=True, text=True, env=INTERLEAVE, timeout=600)
            if r.returncode == 0:
                self.assertEqual(out.read_bytes(), model)
                return 1, n
            self.assertEqual((r.returncode, out.exists()), (1, False), r.stderr)
            if ", batch " not in r.stderr:
                return -1, n
            m = re.fullmatch(r"vggcl: device 0 \(.*\), batch \d+ of \d+ \(on rank 1\) \((\S+) to \S+\): .*",
                             vggcl_lines(r.stderr)[0])
            self.assertTrue(m, r.stderr)
            failed_in.add(Path(m.group(1)).parent.parent)
            return 0, n
        at, n = first_not_before(where)  # (rank 1's first enqueue in a batch)
        while at == 0 and n < 1000:  # (then on through its batches, until past them)
            at, n = where(n + 6)
        self.assertEqual(at, 1, "rank 1's device failed at every enqueue tried")
        self.assertEqual(failed_in, {data, val})

    def test_train_head_stop_in_val(self):
        """train-head stopped by a --val image whose features overflow float32 (a --std of 1e-37: every image but
        a black one overflows), on the rank that runs it: the one process's messages (the unreadable images of
        both runs of batches before it, in order, from the other rank), and no model."""
        data, val = self.d / "data", self.d / "val"
        black = np.zeros((36, 36, 3), np.uint8)
        for c in ("a", "b"):
            for folder, n in ((data, 6), (val, 6)):
                (folder / c).mkdir(parents=True)
                for i in range(n):
                    Image.fromarray(black).save(folder / c / f"{i}.png")
        Image.fromarray(photo(36, 36, 7)).save(val / "b" / "0.png")
        # unreadable images, said in order before the stop: in the first run of batches, and in the second, each
        # after a readable one, so on the rank that does not run the stop's batch, the batches handed out in turn
        # (a rank that dropped the others' batches before the stop, its batch counted from the second run's first
        # being one of the first run's, was caught)
        broken = [data / "b" / "2_broken.png", *(val / "a" / f"{i}_broken.png" for i in range(6))]
        for f in broken:
            f.write_bytes(b"broken")
        runs = []
        for ranks in (1, 2):
            out = self.d / f"head{ranks}.safetensors"
            cmd = [VGGCL, "train-head", "--weights", str(self.weights), "--data", str(data), "--val", str(val),
                   "--resize", "128", "--crop", "128", "--mean", "0,0,0", "--std", "1e-37,1,1", "--batch", "1",
                   "--flip", "--out", str(out)]
            r = subprocess.run(["mpirun", "-n", str(ranks), "--oversubscribe", *cmd] if ranks > 1 else cmd,
                               capture_output=True, text=True, env=INTERLEAVE if ranks > 1 else ENV, timeout=600)
            runs.append((r.returncode, r.stdout, vggcl_lines(r.stderr), out.exists()))
        self.assertEqual(runs[1], runs[0])
        self.assertEqual(runs[0][0], 1)
        self.assertEqual([ln.split(":")[1].strip() for ln in runs[0][2]],
                         [str(f) for f in broken + [val / "b" / "0.png"]])
        self.assertRegex(runs[0][2][-1], f"^vggcl: {re.escape(str(val / 'b' / '0.png'))}: GAP feature \\d+ is ")

    def test_vggcl_device_under_mpirun(self):
        """VGGCL_DEVICE names every rank's device, as --device does (here one that is not there); a failure
        every rank meets alike is said once, as one process says it (here, and a missing weights file,
        over 3 ranks)."""
        env = dict(ENV, VGGCL_DEVICE="no-such-device")
        one, _ = self.classify("env1", env=env)
        r, out = self.classify("env", ranks=2, env=env)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("no-such-device", r.stderr)
        self.assertEqual(vggcl_lines(r.stderr), vggcl_lines(one.stderr))
        self.assertEqual(len(vggcl_lines(one.stderr)), 1, one.stderr)
        self.assertEqual(list(out.iterdir()), [])
        self.weights.unlink()
        one, _ = self.classify("missing1")
        r, out = self.classify("missing", ranks=3)
        self.assertEqual((r.returncode, vggcl_lines(r.stderr)), (one.returncode, vggcl_lines(one.stderr)))
        self.assertIn("w.safetensors", one.stderr)
        self.assertEqual(list(out.iterdir()), [])
        cam = [VGGCL, "cam", "--weights", str(self.weights), "--out-dir", str(self.d / "nope"), str(self.images)]
        one = subprocess.run(cam, capture_output=True, text=True, env=ENV, timeout=600)
        r = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", *cam], capture_output=True, text=True, env=ENV,
                           timeout=600)
        self.assertEqual((r.returncode, vggcl_lines(r.stderr)), (one.returncode, vggcl_lines(one.stderr)))
        self.assertEqual(vggcl_lines(one.stderr), [f"vggcl: cam: --out-dir {self.d / 'nope'}: not there"])
        # a data set folder that is not there (eval, train-head): said once, where each rank said it
        for cmd in (["eval", "--weights", str(self.weights), "--data", str(self.d / "nope")],
                    ["train-head", "--weights", str(self.weights), "--data", str(self.d / "nope"), "--out",
                     str(self.d / "m.safetensors")]):
            one = subprocess.run([VGGCL, *cmd], capture_output=True, text=True, env=ENV, timeout=600)
            r = subprocess.run(["mpirun", "-n", "3", "--oversubscribe", VGGCL, *cmd], capture_output=True, text=True,
                               env=ENV, timeout=600)
            self.assertEqual((r.returncode, vggcl_lines(r.stderr)), (one.returncode, vggcl_lines(one.stderr)))
            self.assertEqual(len(vggcl_lines(one.stderr)), 1, one.stderr)
            self.assertIn("nope: not there", one.stderr)

    def test_vggcl_device_of_one_rank(self):
        """A VGGCL_DEVICE that is wrong on one machine alone (here the second rank's, through mpirun's MPMD
        form): said by that rank, and the job fails; it was a usage error, which only the first rank says, so
        nothing was said (classify), or that rank left before MPI started, unsaid (cam: the others waited in
        MPI_Init, for good under a launcher that does not end the job). (cam's was a list, refused then; a list
        now means its first device, here one that is not there.)"""
        out = self.d / "cams"
        out.mkdir()
        for cmd, env, said in (
                (["classify", "--weights", str(self.weights), str(self.images)], "0,,1",
                 "classify: --device 0,,1 ($VGGCL_DEVICE): device 2 of the list is empty"),
                (["cam", "--weights", str(self.weights), "--out-dir", str(out), str(self.images)], "nope,0",
                 "no OpenCL device name contains 'nope'; see `vggcl devices` (the device named by "
                 "$VGGCL_DEVICE=nope,0)")):
            args = [VGGCL, *cmd]
            for keep_on in ((), ("--mca", "orte_abort_on_non_zero_status", "0")):  # (as srun: the job is not ended)
                r = subprocess.run(["mpirun", *keep_on, "-n", "1", *args, ":", "-n", "1", "-x", f"VGGCL_DEVICE={env}",
                                    *args], capture_output=True, text=True, env=ENV, timeout=120)
                if not keep_on:  # (else mpirun's own status is 0 whatever the ranks')
                    self.assertNotEqual(r.returncode, 0, r.stderr)
                self.assertEqual([ln for ln in vggcl_lines(r.stderr) if said in ln], [f"vggcl: {said}"], r.stderr)
        self.assertEqual(list(out.iterdir()), [])

    def test_usage_errors_said_once(self):
        """A mistake in the command line, which every rank has alike, is said once with its synopsis, as one
        process says it (it was said, help and all, by each rank); processes given --shard each say their
        own (and a --shard given to a command that does not take it is such a mistake); a folder without images, which another machine may see otherwise, is said by every rank that
        finds it so where rank 0 does not (mpirun's MPMD form gives the ranks different folders), and once where
        every rank does, as by one process (classify, preprocess, cam; and a --files-from list not there: each
        rank said it)."""
        # (--shard to eval, which does not take it: the mistake every rank has alike, said by each before)
        for command, bad in (("classify", ["--bogus"]), ("classify", ["--top", "0"]), ("eval", ["--shard", "0/2"])):
            cmd = [VGGCL, command, "--weights", str(self.weights), *bad,
                   *(["--data", str(self.d)] if command == "eval" else [str(self.images)])]
            one = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600)
            r = subprocess.run(["mpirun", "-n", "3", "--oversubscribe", *cmd], capture_output=True, text=True,
                               env=GRACE, timeout=600)
            self.assertEqual((r.returncode, vggcl_lines(r.stderr)), (2, vggcl_lines(one.stderr)), r.stderr)
            self.assertEqual(len(vggcl_lines(one.stderr)), 1, one.stderr)
            self.assertEqual(r.stderr.count(f"usage: vggcl {command}"), one.stderr.count(f"usage: vggcl {command}"))
            self.assertEqual(one.stderr.count(f"usage: vggcl {command}"), bad[0] != "--top", one.stderr)
        cmd = " ".join([shlex.quote(VGGCL), "classify", "--weights", shlex.quote(str(self.weights)), "--top", "0",
                        "--shard", "$OMPI_COMM_WORLD_RANK/2", shlex.quote(str(self.images))])
        r = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", "sh", "-c", cmd], capture_output=True, text=True,
                           env=GRACE, timeout=600)
        self.assertEqual(len(vggcl_lines(r.stderr)), 2, r.stderr)
        second = dict(ENV, OMPI_COMM_WORLD_SIZE="2", OMPI_COMM_WORLD_RANK="1")  # (a rank's environment by hand)
        r = subprocess.run([VGGCL, "classify", "--weights", str(self.weights), "--top", "0", str(self.images)],
                           capture_output=True, text=True, env=second, timeout=600)
        self.assertEqual((r.returncode, len(vggcl_lines(r.stderr))), (2, 0), r.stderr)
        empty = self.d / "empty"
        empty.mkdir()
        base = [VGGCL, "classify", "--weights", str(self.weights)]
        r = subprocess.run(["mpirun", "-n", "1", *base, str(self.images), ":", "-n", "1", *base, str(empty)],
                           capture_output=True, text=True, env=ENV, timeout=120)
        self.assertNotEqual(r.returncode, 0, r.stderr)  # (rank 1 says what its machine has, rank 0 that it differs)
        # (in either order: two processes' lines, through mpirun's forwarding of each)
        self.assertEqual(sorted(vggcl_lines(r.stderr)), [
            f"vggcl: classify: {empty} holds no JPEG, PNG, WebP, BMP, TIFF or PNM images (.jpg, .jpeg, .png, .webp, "
            ".bmp, .tif, .tiff, .ppm, .pgm)",
            f"vggcl: classify: rank 1, on {socket.gethostname()}, could not list the images it was given, which rank 0 "
            "could (an empty folder, one not there, or one it may not read): the machines do not see the same files"])
        for cmd in (["classify", "--weights", str(self.weights), str(empty)],
                    ["classify", "--weights", str(self.weights), "--files-from", str(self.d / "no-list")],
                    ["preprocess", "--output", str(self.d / "t.npy"), str(empty)],
                    ["cam", "--weights", str(self.weights), "--out-dir", str(self.d), str(empty)]):
            one = subprocess.run([VGGCL, *cmd], capture_output=True, text=True, env=ENV, timeout=600)
            r = subprocess.run(["mpirun", "-n", "3", "--oversubscribe", VGGCL, *cmd], capture_output=True, text=True,
                               env=GRACE, timeout=600)
            self.assertEqual((r.returncode, vggcl_lines(r.stderr)), (one.returncode, vggcl_lines(one.stderr)))
            self.assertEqual(len(vggcl_lines(one.stderr)), 1, one.stderr)
        self.assertEqual(sorted(p.name for p in self.d.iterdir() if p.suffix == ".npy"), [])
        # a usage error after the listing (--logits-out -): the listing's message said all the same, once (the
        # held message was dropped on that way out)
        cmd = ["classify", "--weights", str(self.weights), "--logits-out", "-", str(empty)]
        r = subprocess.run(["mpirun", "-n", "3", "--oversubscribe", VGGCL, *cmd], capture_output=True, text=True,
                           env=GRACE, timeout=600)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual([ln.split(":")[1] for ln in vggcl_lines(r.stderr)], [" classify"] * 2, r.stderr)
        self.assertEqual(r.stderr.count("holds no JPEG"), 1, r.stderr)
        self.assertEqual(r.stderr.count("--logits-out - is standard output"), 1, r.stderr)

    def test_machines_that_differ(self):
        """What each machine has on its own, given to each rank (mpirun's MPMD form stands for two machines):
        a different copy of the weights is refused, said once, before any output (eval's tallies and train-head's
        rows did not fit together, or classify named classes of two models); a folder one rank cannot list ends
        the job also where mpirun does not abort a job whose process failed (the others waited in MPI_Init),
        every rank with the same exit status (rank 0's; 1 where rank 0 listed them: it says which rank could not);
        an earlier cam picture that is an image on one machine only is said by that rank."""
        other = self.d / "other.safetensors"
        save_file(make_state_dict(parse_cfg("8,M,16,M,16"), False, 5, seed=4), other)  # the same shape, new values
        out = self.d / "differ"
        out.mkdir()
        args = ["--resize", "40", "--crop", "32", "--logits-out", str(out / "l.npy"), str(self.images)]
        r = subprocess.run(["mpirun", "-n", "1", VGGCL, "classify", "--weights", str(self.weights), *args, ":",
                            "-n", "1", VGGCL, "classify", "--weights", str(other), *args], capture_output=True,
                           text=True, env=ENV, timeout=120)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(vggcl_lines(r.stderr), [f"vggcl: classify: the ranks loaded different models (the files "
                                                 f"differ): rank 0 from {self.weights}, rank 1, on "
                                                 f"{socket.gethostname()}, from {other}: every rank must be given the "
                                                 "same model"])
        self.assertEqual((r.stdout, list(out.iterdir())), ("", []))
        # one path, a different file on each machine (here each rank's working folder): the copies said to differ
        for k, w in enumerate((self.weights, other)):
            (self.d / f"machine{k}").mkdir()
            shutil.copy(w, self.d / f"machine{k}" / "w.safetensors")
        run = [VGGCL, "classify", "--weights", "w.safetensors", *args]
        r = subprocess.run(["mpirun", "-n", "1", "-wdir", str(self.d / "machine0"), *run, ":", "-n", "1", "-wdir",
                            str(self.d / "machine1"), *run], capture_output=True, text=True, env=ENV, timeout=120)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(vggcl_lines(r.stderr), ["vggcl: classify: the ranks loaded different models from "
                                                 "w.safetensors (the files differ; rank 1's, on "
                                                 f"{socket.gethostname()}, is not rank 0's): each machine's copy must "
                                                 "be the same file"])
        self.assertEqual((r.stdout, list(out.iterdir())), ("", []))
        empty = self.d / "empty"
        empty.mkdir()
        mca = ["--mca", "orte_abort_on_non_zero_status", "0"]
        base = " ".join(shlex.quote(a) for a in [VGGCL, "classify", "--weights", str(self.weights), "--resize", "40",
                                                 "--crop", "32"])
        for k, folders in enumerate(((self.images, empty), (empty, self.images), (empty, empty))):
            # each rank's exit status: the same on all (the rank that could not list its images exited 2, the
            # others 1), rank 0's where it could not list them either; the rank that could not, named by rank 0
            runs = [["-n", "1", "sh", "-c", f"{base} {shlex.quote(str(f))}; echo $? > {self.d}/listed{k}-{i}"]
                    for i, f in enumerate(folders)]
            r = subprocess.run(["mpirun", *mca, *runs[0], ":", *runs[1]], capture_output=True, text=True, env=ENV,
                               timeout=120)
            codes = [(self.d / f"listed{k}-{i}").read_text() for i in range(2)]
            self.assertEqual(codes, ["1\n", "1\n"] if k == 0 else ["2\n", "2\n"], r.stderr)
            self.assertIn(f"vggcl: classify: {empty} holds no JPEG, PNG, WebP, BMP, TIFF or PNM images", r.stderr)
            self.assertEqual((f"rank 1, on {socket.gethostname()}, could not list the images it was given, which "
                              "rank 0 could (an empty folder, one not there, or one it may not read): the machines do "
                              "not see the same files" in r.stderr), k == 0, r.stderr)
            # (rank 0 that could not, another that could: said too, rank 0's usage error the job's)
            self.assertEqual((f"vggcl: classify: rank 1, on {socket.gethostname()}, listed the images it was given, "
                              "which rank 0 could not: the machines do not see the same files" in r.stderr), k == 1,
                             r.stderr)
            self.assertEqual(r.stdout, "")
        # cam: rank 1's --out-dir (relative, in its own working folder) holds a picture that is an image
        for k in ("a", "b"):
            (self.d / k / "maps").mkdir(parents=True)
        os.link(self.images / "00.png", self.d / "b" / "maps" / "01.cam.png")
        cam = [VGGCL, "cam", "--weights", str(self.weights), "--resize", "40", "--crop", "32", "--out-dir", "maps",
               str(self.images)]
        r = subprocess.run(["mpirun", *mca, "-n", "1", "--wdir", str(self.d / "a"), *cam, ":", "-n", "1", "--wdir",
                            str(self.d / "b"), *cam], capture_output=True, text=True, env=ENV, timeout=120)
        self.assertIn(f"vggcl: cam: the image {self.images / '00.png'} is maps/01.cam.png, which "
                      f"{self.images / '01.jpg'}'s maps would replace", r.stderr)
        self.assertEqual(list((self.d / "a" / "maps").iterdir()), [])

    def test_devices_of_other_kinds(self):
        """Ranks whose devices are of other kinds (rank 1 on the reference here: machines of other GPUs, drivers
        or CPUs), with batches handed out as ranks ask: refused, said once, nothing written (the rows of each kind
        differ in their last bits: the output changed from run to run, 127 of 300 rows of one kind); classify,
        eval and train-head. With VGGCL_MPI_BALANCE=static (each rank its own share), ranks given different
        --batch (contiguous shares too) and for cam (which hands none out): run, rank 1's rows the reference's."""
        out = self.d / "kinds"
        out.mkdir()
        data = self.d / "kinds-data"
        for i, name in enumerate(("a", "b")):
            (data / name).mkdir(parents=True)
            shutil.copy(self.images / f"0{2 * i}.png", data / name)
        pre = ["--resize", "40", "--crop", "32"]
        for cmd, args in (("classify", ["--logits-out", str(out / "l.npy"), str(self.images)]),
                          ("eval", ["--data", str(data)]),
                          ("train-head", ["--data", str(data), "--out", str(out / "h.safetensors")])):
            run = [VGGCL, cmd, "--weights", str(self.weights), *pre, *args]
            r = subprocess.run(["mpirun", "-n", "1", *run, ":", "-n", "1", "-x", "VGGCL_DEVICE=ref", *run],
                               capture_output=True, text=True, env=ENV, timeout=300)
            self.assertEqual(r.returncode, 1, r.stderr)
            said = vggcl_lines(r.stderr)
            self.assertEqual(len(said), 1, r.stderr)
            self.assertRegex(said[0], rf"^vggcl: {cmd}: the ranks run devices of different kinds \(rank 0: .*driver "
                             rf".*; rank 1, on {re.escape(socket.gethostname())}: reference \(plain C\)\), whose "
                             r"answers differ in their last bits: with batches handed out to whichever "
                             r"rank is free the output would change from run to run; give every rank devices of one "
                             r"kind, or VGGCL_MPI_BALANCE=static \(each rank its own share: the same output every "
                             r"run\)$")
            self.assertEqual((r.stdout, list(out.iterdir())), ("", []))
        # each rank its own share: run; rank 1's rows (the list's second half) the reference's own
        run = [VGGCL, "classify", "--weights", str(self.weights), *pre, "--format", "json", "--logits-out",
               str(out / "l.npy"), str(self.images)]
        r = subprocess.run(["mpirun", "-x", "VGGCL_MPI_BALANCE=static", "-n", "1", *run, ":", "-n", "1", "-x",
                            "VGGCL_DEVICE=ref", *run], capture_output=True, text=True, env=ENV, timeout=300)
        self.assertEqual(r.returncode, 1, r.stderr)  # (the broken image)
        mixed = np.load(out / "l.npy")
        self.classify("kinds-ref", env={**ENV, "VGGCL_DEVICE": "ref"})
        self.classify("kinds-cl")
        ref, cl = np.load(self.d / "kinds-ref" / "l.npy"), np.load(self.d / "kinds-cl" / "l.npy")
        self.assertEqual(mixed.shape, ref.shape)
        # (10 files, 5 a share: rank 1's 05, 06, 07, 07_broken and 08, the last 4 of the 9 rows)
        self.assertTrue(np.array_equal(mixed[:5], cl[:5]) and np.array_equal(mixed[5:], ref[5:]))
        self.assertEqual(len(r.stdout.splitlines()), 9)
        # ranks given different --batch take contiguous runs too (none handed out): run (it was refused)
        run = [VGGCL, "classify", "--weights", str(self.weights), *pre, str(self.images)]
        r = subprocess.run(["mpirun", "-n", "1", *run, "--batch", "1", ":", "-n", "1", "-x", "VGGCL_DEVICE=ref", *run,
                            "--batch", "2"], capture_output=True, text=True, env=ENV, timeout=300)
        self.assertEqual((r.returncode, len(r.stdout.splitlines())), (1, 9), r.stderr)  # (the broken image)
        # cam hands none out: its ranks may differ
        maps = self.d / "kinds-maps"
        maps.mkdir()
        cam = [VGGCL, "cam", "--weights", str(self.weights), *pre, "--out-dir", str(maps), str(data / "a"),
               str(data / "b")]
        r = subprocess.run(["mpirun", "-n", "1", *cam, ":", "-n", "1", "-x", "VGGCL_DEVICE=ref", *cam],
                           capture_output=True, text=True, env=ENV, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_what_ranks_are_given(self):
        """A weights copy that differs only in its middle and a --labels file that differs are refused as other
        copies are (the hash read the first and last 64 KiB; labels were not compared: each rank named its
        classes otherwise); an output /dev/fd/N past 2 is refused under mpirun (a rank's descriptor N is MPI's:
        the array went into MPI's pipe, exit 0), also for one rank; options that shape what the ranks send given to
        one rank alone are refused; rank 0's standard output failing leaves no
        array; a rank that cannot make its temporary files names the folder and why; --help and --version print once; --shard
        past the int range is refused (it wrapped)."""
        big = self.d / "big.safetensors"
        save_file(make_state_dict(parse_cfg("8,M,64,M,128"), False, 5, seed=3), big)
        raw = bytearray(big.read_bytes())
        self.assertGreater(len(raw), 4 * 65536)
        middle = len(raw) // 2 & ~3
        raw[middle] ^= 1  # (a float's lowest mantissa bit: still finite)
        other = self.d / "other.safetensors"
        other.write_bytes(bytes(raw))
        out = self.d / "out"
        out.mkdir()
        args = ["--resize", "40", "--crop", "32", "--logits-out", str(out / "l.npy")]
        r = subprocess.run(["mpirun", "-n", "1", VGGCL, "classify", "--weights", str(big), *args, str(self.images),
                            ":", "-n", "1", VGGCL, "classify", "--weights", str(other), *args, str(self.images)],
                           capture_output=True, text=True, env=ENV, timeout=120)
        self.assertEqual((r.returncode, vggcl_lines(r.stderr)),
                         (1, [f"vggcl: classify: the ranks loaded different models (the files differ): rank 0 from "
                              f"{big}, rank 1, on {socket.gethostname()}, from {other}: every rank must be given the "
                              "same model"]), r.stderr)
        labels = []
        for k in range(2):
            labels.append(self.d / f"labels{k}.txt")
            labels[-1].write_text("".join(f"{'ab'[k]}{c}\n" for c in range(5)))
        r = subprocess.run(["mpirun", "-n", "1", VGGCL, "classify", "--weights", str(self.weights), *args, "--labels",
                            str(labels[0]), str(self.images), ":", "-n", "1", VGGCL, "classify", "--weights",
                            str(self.weights), *args, "--labels", str(labels[1]), str(self.images)],
                           capture_output=True, text=True, env=ENV, timeout=120)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(vggcl_lines(r.stderr), [f"vggcl: classify: the ranks were given different preprocessing "
                                                 "(--resize, --crop, --mean, --std, --draft) or --labels with the same "
                                                 f"{self.weights} (rank 1, on {socket.gethostname()}, and rank 0): "
                                                 "each must be given the same"])  # (the file blamed)
        self.assertEqual((r.stdout, list(out.iterdir())), ("", []))
        r = subprocess.run(["mpirun", "-n", "1", VGGCL, "classify", "--weights", str(self.weights), *args,
                            str(self.images), ":", "-n", "1", VGGCL, "classify", "--weights", str(self.weights), *args,
                            "--draft",
                            str(self.images)], capture_output=True, text=True, env=ENV, timeout=120)
        self.assertEqual((r.returncode, len(vggcl_lines(r.stderr))), (1, 1), r.stderr)
        self.assertIn("the ranks were given different preprocessing (--resize, --crop, --mean, --std, --draft) or "
                      "--labels with the same", r.stderr)
        # options that shape what the ranks send (or gather) given to one rank alone: refused, said once, nothing
        # written (a --logits-out of rank 0 alone left it waiting in a gather the others never joined: the job
        # hung; train-head's rows of --flip's two images were taken for two rows of one, a wrong model, exit 0)
        data = self.d / "given"
        for c in ("a", "b"):
            (data / c).mkdir(parents=True)
            for i in range(2):
                shutil.copy(self.images / f"0{2 * (2 * i + (c == 'b'))}.png", data / c / f"{i}.png")
        model = self.d / "given.safetensors"
        for cmd, mine, theirs in ((["classify", *args, str(self.images)], ["--top", "2"], ["--top", "3"]),
                                  (["classify", "--resize", "40", "--crop", "32", str(self.images)],
                                   ["--logits-out", str(out / "l.npy")], []),
                                  (["train-head", "--resize", "40", "--crop", "32", "--data", str(data), "--out",
                                    str(model), "--epochs", "1"], ["--flip"], []),
                                  # (the same weights run with pool5 dropped: said as that option, not as other
                                  # preprocessing or --labels)
                                  (["classify", *args, str(self.images)], ["--pool5", "drop"], [])):
            r = subprocess.run(["mpirun", "-n", "1", VGGCL, cmd[0], "--weights", str(self.weights), *cmd[1:], *mine,
                                ":", "-n", "1", VGGCL, cmd[0], "--weights", str(self.weights), *cmd[1:], *theirs],
                               capture_output=True, text=True, env=ENV, timeout=120)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(len(vggcl_lines(r.stderr)), 1, r.stderr)
            self.assertIn(f"vggcl: {cmd[0]}: the ranks were given different {mine[0]} (given to some alone, or other "
                          f"values; rank 1, on {socket.gethostname()}, and rank 0): each must be given the same",
                          r.stderr)
            self.assertEqual((r.stdout, list(out.iterdir()), model.exists()), ("", [], False))
        mpirun2 = ["mpirun", "-n", "2", "--oversubscribe"]
        # (one rank: the descriptor not there failed after the work; /proc/thread-self/fd/4: the command's own rules
        # knew /dev/fd and /proc/self/fd alone, the library's more)
        for n, env, fd in ((2, GRACE, "/dev/fd/4"), (1, ENV, "/dev/fd/4"), (1, ENV, "/proc/thread-self/fd/4")):
            r = subprocess.run(["mpirun", "-n", str(n), "--oversubscribe", VGGCL, "preprocess", "--resize", "40",
                                "--crop", "32", "--output", fd, str(self.images)], capture_output=True,
                               text=True, env=env, timeout=120)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertEqual(vggcl_lines(r.stderr), [f"vggcl: preprocess: --output {fd}: a process mpirun starts "
                                                     "does not have the shell's descriptors past 2 (its own are "
                                                     "MPI's); name a file"])
        cmd = " ".join(shlex.quote(a) for a in [VGGCL, "classify", "--weights", str(self.weights), *args,
                                                str(self.images)])
        # the lines failing as they are flushed (a few) and as they are written (more than stdio's buffer: the
        # reason was lost, then said again as "a write failed"): one process's message, once
        for times in (1, 8):
            r = subprocess.run([*mpirun2, "sh", "-c", f"exec {cmd}{f' {shlex.quote(str(self.images))}' * (times - 1)}"
                                " --format json > /dev/full"], capture_output=True, text=True, env=ENV, timeout=120)
            self.assertEqual(r.returncode, 1, r.stderr)
            said = [ln for ln in vggcl_lines(r.stderr) if "(skipped)" not in ln]  # (its unreadable image: named)
            self.assertEqual(said, ["vggcl: cannot write standard output: No space left on device"], r.stderr)
            self.assertEqual(list(out.iterdir()), [])
        r = subprocess.run(["mpirun", "-n", "1", VGGCL, "classify", "--weights", str(self.weights), *args,
                            str(self.images), ":", "-n", "1", "-x", f"TMPDIR={self.d / 'not-there'}", VGGCL, "classify",
                            "--weights", str(self.weights), *args, str(self.images)],
                           capture_output=True, text=True, env=ENV, timeout=120)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"vggcl: rank 1: cannot create its temporary files in {self.d / 'not-there'} (TMPDIR): No such "
                      "file or directory", r.stderr)  # (a folder of the test's: /nonexistent may be made, as HOME)
        self.assertEqual(list(out.iterdir()), [])
        for argv, needle in ((["classify", "--help"], "usage: vggcl classify"), (["--version"], "vggcl ")):
            one = subprocess.run([VGGCL, *argv], capture_output=True, text=True, env=ENV, timeout=60)
            r = subprocess.run([*mpirun2, VGGCL, *argv], capture_output=True, text=True, env=ENV, timeout=60)
            self.assertEqual((r.returncode, r.stdout), (0, one.stdout))
            self.assertEqual(one.stdout.count(needle), 1)
        for shard in ("1/4294967298", "4294967296/2", " 1/2", "1/+2"):
            r = subprocess.run([VGGCL, "classify", "--weights", str(self.weights), "--shard", shard, str(self.images)],
                               capture_output=True, text=True, env=ENV, timeout=60)
            self.assertEqual(r.returncode, 2, shard)
            self.assertIn(f"--shard must be I/N with 0 <= I < N, not '{shard}'", r.stderr)

    def test_one_rank_array_to_standard_output(self):
        """mpirun -n 1 ... --output -, mpirun's standard output a pipe: the array (the rank's standard output is
        mpirun's pty, made for bytes; the terminal check refused it)."""
        x = self.d / "x.npy"
        np.save(x, np.random.default_rng(2).standard_normal((3, 3, 32, 32)).astype(np.float32))
        run = [VGGCL, "run", "--weights", str(self.weights), "--input", str(x)]
        one = subprocess.run([*run, "--output", str(self.d / "y.npy")], capture_output=True, env=ENV, timeout=600)
        self.assertEqual(one.returncode, 0, one.stderr)
        r = subprocess.run(["mpirun", "-n", "1", *run, "--output", "-"], capture_output=True, env=ENV, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, (self.d / "y.npy").read_bytes())

    def test_launcher_not_this_mpi(self):
        """A process that a launcher says is rank 1 of 2 (MPICH's or Slurm's PMI, Slurm's srun without an MPI
        plugin) but that this Open MPI starts alone: refused before any work (it skipped the output checks,
        which rank 0 makes, and wrote over the weights; two such processes each classified every image)."""
        before = self.weights.read_bytes()
        as_task = ["sh", "-c", 'SLURM_TASK_PID=$$ exec "$@"', "sh"]  # (the process srun started: its pid)
        for size, rank in (("PMI_SIZE", "PMI_RANK"), ("SLURM_STEP_NUM_TASKS", "SLURM_PROCID")):
            r = subprocess.run([*as_task, VGGCL, "classify", "--weights", str(self.weights), "--logits-out",
                                str(self.weights), str(self.images)], capture_output=True, text=True, timeout=120,
                               env=dict(ENV, **{size: "2", rank: "1"}))
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"the launcher started 2 processes (this one rank 1, by {size} and {rank}), but MPI joined 1",
                          r.stderr)
            self.assertEqual((r.stdout, self.weights.read_bytes()), ("", before))
        # one process all the same: run from a shell srun started (srun --pty bash in a job of 2 tasks: Slurm's
        # variables are the shell's), and mpirun -n 1 inside such a step (its own count decides)
        one, _ = self.classify("one")
        slurm = dict(ENV, SLURM_STEP_NUM_TASKS="2", SLURM_PROCID="1")
        for tag, prefix, env in (("shell", [], dict(slurm, SLURM_TASK_PID="1")),
                                 ("mpirun1", as_task, dict(slurm, OMPI_COMM_WORLD_SIZE="1", OMPI_COMM_WORLD_RANK="0"))):
            out = self.d / tag
            out.mkdir()
            r = subprocess.run([*prefix, VGGCL, "classify", "--weights", str(self.weights), "--resize", "40", "--crop",
                                "32", "--batch", "3", "--logits-out", str(out / "l.npy"), "--tensor-out",
                                str(out / "t.npy"), str(self.images)], capture_output=True, text=True, timeout=120,
                               env=env)
            self.assertEqual((r.returncode, r.stdout, vggcl_lines(r.stderr)),
                             (one.returncode, one.stdout, vggcl_lines(one.stderr)), tag)

    def test_ranks_running_other_commands(self):
        """Ranks started on other commands (mpirun's `:`, or a wrapper) are refused at once, rank 0 saying which rank:
        each went on to other collectives, and the job hung (eval beside train-head) or MPI aborted it with "message
        truncated" and no word of vggcl's (classify beside preprocess)."""
        out = self.d / "out"
        out.mkdir()
        common = ["--weights", str(self.weights), "--resize", "40", "--crop", "32"]
        data = self.d / "data"
        for c in ("a", "b"):
            shutil.copytree(self.images, data / c, ignore=shutil.ignore_patterns("*broken*"))
        for first, second, rank0 in ((["classify", *common, "--logits-out", str(out / "l.npy"), str(self.images)],
                                      ["preprocess", *common, "--output", str(out / "t.npy"), str(self.images)],
                                      "classify"),
                                     (["eval", *common, "--data", str(data)],
                                      ["train-head", *common, "--data", str(data), "--out", str(out / "m.st")],
                                      "eval")):
            r = subprocess.run(["mpirun", "-n", "1", VGGCL, *first, ":", "-n", "1", VGGCL, *second],
                               capture_output=True, text=True, env=ENV, timeout=120)
            self.assertEqual((r.returncode, vggcl_lines(r.stderr)),
                             (1, [f"vggcl: {rank0}: rank 1 runs another command than rank 0's: every rank of the job "
                                  "must run the same one"]), r.stderr)
            self.assertEqual(list(out.iterdir()), [])

    def test_bench_ranks_said(self):
        """bench runs whole in every rank: each record names its rank, the count and its host (on machines of one
        kind of device the records were alike but for their times), and each text report is written whole, in one
        write (mpirun gives the ranks a terminal, line-buffered: their lines were mixed, a "per batch" of either
        rank's; strace counts the writes, the mixing itself being a matter of timing); one process's has none."""
        args = [VGGCL, "bench", "--weights", str(self.weights), "--size", "16", "--iters", "2"]
        r = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", *args, "--json"], capture_output=True, text=True,
                           env=ENV, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        records = [json.loads(ln) for ln in r.stdout.splitlines()]
        self.assertEqual(sorted((o["rank"], o["ranks"], o["host"]) for o in records),
                         [(0, 2, socket.gethostname()), (1, 2, socket.gethostname())])
        traces = self.d / "traces"
        traces.mkdir()
        r = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", "sh", "-c", f'exec strace -qq -e trace=write -o '
                            f'{traces}/t.$OMPI_COMM_WORLD_RANK "$@"', "sh", *args, "--per-layer"], capture_output=True,
                           text=True, env=ENV, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        for k in (0, 1):
            writes = [ln for ln in (traces / f"t.{k}").read_text().splitlines() if ln.startswith("write(1,")]
            self.assertEqual(len(writes), 1, writes)
        reports = r.stdout.split("device:")[1:]
        self.assertEqual(len(reports), 2, r.stdout)
        self.assertEqual(sorted(rep.splitlines()[1] for rep in reports),
                         [f"rank:          {k} of 2, on {socket.gethostname()}" for k in (0, 1)], r.stdout)
        for rep in reports:  # (each whole: one of each line, the layers' table after them)
            heads = [ln.split(":")[0] for ln in rep.splitlines()[1:] if ln[:1].isalpha() and ":" in ln]
            self.assertEqual(heads[:6], ["rank", "model", "start-up", "per batch", "throughput", "device memory"],
                             rep)
            self.assertIn("\ntotal ", rep)
        r = subprocess.run([*args, "--json"], capture_output=True, text=True, env=ENV, timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse({"rank", "ranks", "host"} & set(json.loads(r.stdout)), r.stdout)

    def test_device_listing_failing(self):
        """A rank that cannot list the devices to pick its own says so once (the selection, which lists them again,
        said it a second time), where every rank fails and where one alone does."""
        out = self.d / "out"
        out.mkdir()
        args = [VGGCL, "classify", "--weights", str(self.weights), "--logits-out", str(out / "l.npy"), str(self.images)]
        want = "vggcl: listing OpenCL devices: clGetPlatformIDs -> CL_OUT_OF_HOST_MEMORY (-6)"
        for launch in (["-x", "VGGCL_FAULT=setup:1", *args],
                       ["sh", "-c", '[ "$OMPI_COMM_WORLD_RANK" = 1 ] && export VGGCL_FAULT=setup:1; exec "$@"', "sh",
                        *args]):
            r = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", *launch], capture_output=True, text=True,
                               env=ENV, timeout=120)
            alone = [f"vggcl: (that was rank 1 of 2, on {socket.gethostname()}: 1 of the 2 ranks failed at this step)"]
            self.assertEqual((r.returncode, vggcl_lines(r.stderr)), (1, [want, *(alone if "sh" in launch else [])]),
                             r.stderr)
            self.assertEqual(list(out.iterdir()), [])

    def test_device_missing_on_one_machine(self):
        """A machine without the OpenCL driver (here the second rank's, its ICD folder elsewhere through mpirun's MPMD
        form): its message says which rank and machine (it was the one-process message alone, a job of eight ranks
        on four machines leaving the user to guess which); where every rank fails alike, said once, as before."""
        out = self.d / "out"
        out.mkdir()
        args = [VGGCL, "classify", "--weights", str(self.weights), "--logits-out", str(out / "l.npy"), str(self.images)]
        r = subprocess.run(["mpirun", "-n", "1", *args, ":", "-n", "1", "-x", f"OCL_ICD_VENDORS={self.d / 'none'}",
                            *args], capture_output=True, text=True, env=ENV, timeout=120)
        self.assertEqual(r.returncode, 1, r.stderr)
        lines = vggcl_lines(r.stderr)
        self.assertEqual(len(lines), 2, r.stderr)
        self.assertIn("no OpenCL platform found", lines[0])
        self.assertEqual(lines[1], f"vggcl: (that was rank 1 of 2, on {socket.gethostname()}: 1 of the 2 ranks "
                                   "failed at this step)")
        r = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", "-x", f"OCL_ICD_VENDORS={self.d / 'none'}", *args],
                           capture_output=True, text=True, env=ENV, timeout=120)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(len(vggcl_lines(r.stderr)), 1, r.stderr)
        self.assertIn("no OpenCL platform found", r.stderr)
        self.assertEqual(list(out.iterdir()), [])

    def test_crop_one_machines_model_refuses(self):
        """A --crop that one machine's copy of the model refuses (its pools round up, "vggcl.pool_ceil"), the other's
        takes: said, with that rank named (a usage error, it was said by the first rank alone: the line naming the
        rank came with nothing before it)."""
        ceil = self.d / "m1" / "w.safetensors"
        ceil.parent.mkdir()
        save_file(make_state_dict(parse_cfg("8,M,16,M,16"), False, 5, seed=3), ceil, metadata={"vggcl.pool_ceil": "1"})
        args = ["classify", "--resize", "40", "--crop", "12", str(self.images)]
        r = subprocess.run(["mpirun", "-n", "1", VGGCL, *args, "--weights", str(self.weights), ":", "-n", "1", VGGCL,
                            *args, "--weights", str(ceil)], capture_output=True, text=True, env=ENV, timeout=120)
        self.assertNotEqual(r.returncode, 0, r.stderr)
        self.assertEqual(vggcl_lines(r.stderr), [
            "vggcl: classify: --crop 12: a pool that rounds up gets an odd map there (the model's \"vggcl.pool_ceil\"; "
            "vggcl's pools round down): give sizes that are multiples of 8",
            f"vggcl: (that was rank 1 of 2, on {socket.gethostname()}: 1 of the 2 ranks failed at this step)"],
            r.stderr)
        # a command every rank runs whole (bench): said once, by the first rank, as its other usage errors are
        r = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", VGGCL, "bench", "--weights", str(ceil), "--images",
                            str(self.images), "--crop", "12"], capture_output=True, text=True, env=ENV, timeout=120)
        self.assertEqual(vggcl_lines(r.stderr), ["vggcl: bench: --crop 12: a pool that rounds up gets an odd map there"
                                                 " (the model's \"vggcl.pool_ceil\"; vggcl's pools round down): "
                                                 "give sizes that are multiples of 8"], r.stderr)

    def test_rank_told_another_rank(self):
        """A wrapper that changes the launcher's variables on the way (here the second rank told it is rank 0): MPI
        joined the two, so that rank ends the job, saying why, where it returned and waited in MPI_Finalize while
        the other waited for it in a collective, for good."""
        wrap = '[ "$OMPI_COMM_WORLD_RANK" = 1 ] && export OMPI_COMM_WORLD_RANK=0; exec "$@"'
        out = self.d / "out"
        out.mkdir()
        r = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", "sh", "-c", wrap, "sh", VGGCL, "classify",
                            "--weights", str(self.weights), "--logits-out", str(out / "l.npy"), str(self.images)],
                           capture_output=True, text=True, env=ENV, timeout=120)
        self.assertNotEqual(r.returncode, 0, r.stderr)
        self.assertIn("vggcl: classify: MPI made this process rank 1 of 2, but OMPI_COMM_WORLD_SIZE and "
                      "OMPI_COMM_WORLD_RANK say rank 0 of 2", r.stderr)
        self.assertEqual(list(out.iterdir()), [])

    def test_ranks_told_by_slurm_alone(self):
        """Ranks whose launcher tells their count and rank only in Slurm's variables, as `srun --mpi=pmix` starts
        them (PMIx tells neither before MPI_Init; here mpirun's ranks with its own variables taken away): one
        process's answer, where each rank had classified every image."""
        one, o1 = self.classify("one", "--format", "json")
        wrap = ("exec env -u OMPI_COMM_WORLD_SIZE -u OMPI_COMM_WORLD_RANK -u OMPI_COMM_WORLD_LOCAL_RANK "
                "SLURM_STEP_NUM_TASKS=2 SLURM_PROCID=$PMIX_RANK SLURM_LOCALID=$PMIX_RANK SLURM_TASK_PID=$$ \"$@\"")
        out = self.d / "slurm"
        out.mkdir()
        r = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", "sh", "-c", wrap, "sh", VGGCL, "classify",
                            "--weights", str(self.weights), "--resize", "40", "--crop", "32", "--batch", "3",
                            "--logits-out", str(out / "l.npy"), "--format", "json", str(self.images)],
                           capture_output=True, text=True, env=ENV, timeout=600)
        self.assertEqual((r.returncode, r.stdout, vggcl_lines(r.stderr)),
                         (one.returncode, one.stdout, vggcl_lines(one.stderr)))
        self.assertEqual(len(r.stdout.splitlines()), 9)
        np.testing.assert_array_equal(np.load(out / "l.npy"), np.load(o1 / "l.npy"))

    def test_output_refused_by_rank_0(self):
        """An output refused before any work (its folder is not there) is checked by the first rank, which writes
        it, and every rank takes its answer once MPI runs: the job ends, said once, also where mpirun does not
        abort a job whose process failed (the other ranks waited in MPI_Init for it); $VGGCL_DEVICE=all works
        under mpirun as in one process."""
        cmd = [VGGCL, "classify", "--weights", str(self.weights), "--resize", "40", "--crop", "32", "--logits-out",
               str(self.d / "no" / "l.npy"), str(self.images)]
        one = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600)
        for mca in ([], ["--mca", "orte_abort_on_non_zero_status", "0"]):  # (then mpirun's own status says 0)
            r = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", *mca, *cmd], capture_output=True, text=True,
                               env=ENV, timeout=120)
            self.assertEqual(vggcl_lines(r.stderr), vggcl_lines(one.stderr))
            self.assertEqual(r.returncode, 0 if mca else 1, r.stderr)
        self.assertEqual(one.returncode, 1)
        self.assertIn("the folder", one.stderr)
        env = dict(ENV, VGGCL_DEVICE="all")
        one, _ = self.classify("all1", env=env)
        two, _ = self.classify("all2", ranks=2, env=env)
        self.assertEqual((two.returncode, two.stdout), (one.returncode, one.stdout))
        self.assertEqual(one.returncode, 1, one.stderr)  # (the broken image)
        self.assertIn("07_broken.png", one.stderr)

    def test_same_broken_image_twice(self):
        """An unreadable image given twice, once in each rank's share: named twice, as one process names it
        (the ranks' messages are alike, but they name images)."""
        broken = str(self.images / "07_broken.png")
        runs = []
        for ranks in (1, 2):
            cmd = [VGGCL, "classify", "--weights", str(self.weights), "--resize", "40", "--crop", "32", broken, broken]
            r = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", *cmd] if ranks > 1 else cmd,
                               capture_output=True, text=True, env=ENV, timeout=600)
            runs.append((r.returncode, r.stdout, vggcl_lines(r.stderr)))
        self.assertEqual(runs[1], runs[0])
        self.assertEqual(sum("07_broken.png" in ln for ln in runs[0][2]), 2, runs[0][2])

    def test_empty_shards(self):
        """More shards than images: a share with none writes arrays of no rows (preprocess's tensor,
        classify's logits and tensor), so the shards' arrays still concatenate to one process's; with
        --no-crop its tensor's size is not known, which is said, and nothing is written."""
        good = sorted(p for p in self.images.iterdir() if "broken" not in p.name)[:3]
        out = self.d / "empty"
        out.mkdir()
        for i in range(4):
            r = subprocess.run([VGGCL, "preprocess", "--resize", "40", "--crop", "32", "--shard", f"{i}/4",
                                "--output", str(out / f"p{i}.npy"), *map(str, good)], capture_output=True, text=True,
                               env=ENV, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, f"wrote {out / f'p{i}.npy'} ({int(i > 0)}, 3, 32, 32)\n")
            r = subprocess.run([VGGCL, "classify", "--weights", str(self.weights), "--resize", "40", "--crop", "32",
                                "--shard", f"{i}/4", "--logits-out", str(out / f"l{i}.npy"), "--tensor-out",
                                str(out / f"t{i}.npy"), *map(str, good)], capture_output=True, text=True, env=ENV,
                               timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
        whole, o = self.preprocess("whole", images=good)
        r = subprocess.run([VGGCL, "classify", "--weights", str(self.weights), "--resize", "40", "--crop", "32",
                            "--logits-out", str(out / "l.npy"), *map(str, good)], capture_output=True, text=True,
                           env=ENV, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(np.load(out / "p0.npy").shape, (0, 3, 32, 32))
        self.assertEqual(np.load(out / "l0.npy").shape, (0, 5))
        for k, want in (("p", o / "t.npy"), ("t", o / "t.npy"), ("l", out / "l.npy")):
            np.testing.assert_array_equal(np.concatenate([np.load(out / f"{k}{i}.npy") for i in range(4)]),
                                          np.load(want))
        # a share whose images are all unreadable writes arrays of no rows too (it wrote none)
        pair = [str(good[0]), str(self.images / "07_broken.png")]
        cls = [VGGCL, "classify", "--weights", str(self.weights), "--resize", "40", "--crop", "32"]
        for i in range(2):
            r = subprocess.run([*cls, "--shard", f"{i}/2", "--logits-out", str(out / f"u{i}.npy"), *pair],
                               capture_output=True, text=True, env=ENV, timeout=600)
            self.assertEqual(r.returncode, i, r.stderr)
        r = subprocess.run([*cls, "--logits-out", str(out / "u.npy"), *pair], capture_output=True, text=True, env=ENV,
                           timeout=600)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(np.load(out / "u1.npy").shape, (0, 5))
        np.testing.assert_array_equal(np.concatenate([np.load(out / f"u{i}.npy") for i in range(2)]),
                                      np.load(out / "u.npy"))
        # no image classified at all: one process and two ranks write arrays of no rows too, as the shards do
        # (they kept an earlier run's file, unsaid); without a crop the tensor's size is not known: said, naming
        # it, and neither written (the earlier ones kept)
        for launch in ([], ["mpirun", "-n", "2", "--oversubscribe"]):
            for k in "lt":
                np.save(out / f"{k}.npy", np.ones((2, 2), np.float32))
            r = subprocess.run([*launch, *cls, "--logits-out", str(out / "l.npy"), "--tensor-out", str(out / "t.npy"),
                                pair[1], pair[1]], capture_output=True, text=True, env=ENV, timeout=600)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(vggcl_lines(r.stderr)[-1], "vggcl: 2 of 2 images were skipped; 0 classified")
            self.assertEqual((np.load(out / "l.npy").shape, np.load(out / "t.npy").shape), ((0, 5), (0, 3, 32, 32)))
            for k in "lt":
                np.save(out / f"{k}.npy", np.ones((2, 2), np.float32))
            r = subprocess.run([*launch, *cls[:-2], "--no-crop", "--logits-out", str(out / "l.npy"), "--tensor-out",
                                str(out / "t.npy"), pair[1], pair[1]], capture_output=True, text=True, env=ENV,
                               timeout=600)
            self.assertEqual(r.returncode, 1, r.stderr)
            said = [ln for ln in vggcl_lines(r.stderr) if "without a crop" in ln]  # (once: each rank said it)
            self.assertEqual(len(said), 1, r.stderr)
            self.assertTrue(said[0].startswith(f"vggcl: {out / 't.npy'}: no image could be read, and without a crop"))
            self.assertTrue(said[0].endswith(f"not written, nor {out / 'l.npy'} (all outputs or none)"), said[0])
            self.assertEqual((np.load(out / "l.npy").shape, np.load(out / "t.npy").shape), ((2, 2), (2, 2)))
        # with --no-crop an empty share's tensor takes the size one process takes, its first readable image's,
        # after the share too (the first share failed); where none reads, that is said and nothing written
        pre = [VGGCL, "preprocess", "--no-crop", "--output", str(out / "nc.npy")]
        r = subprocess.run([*pre, str(good[0])], capture_output=True, text=True, env=ENV, timeout=600)  # (the first)
        self.assertEqual(r.returncode, 0, r.stderr)
        size = np.load(out / "nc.npy").shape[1:]
        r = subprocess.run([*pre, "--shard", "0/4", *map(str, good)], capture_output=True, text=True, env=ENV,
                           timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(np.load(out / "nc.npy").shape, (0, *size))
        (out / "nc.npy").unlink()
        broken = str(self.images / "07_broken.png")
        r = subprocess.run([*pre, "--shard", "0/3", broken, broken], capture_output=True, text=True, env=ENV,
                           timeout=600)
        self.assertEqual(r.returncode, 1)
        self.assertIn("--no-crop", r.stderr)
        self.assertFalse((out / "nc.npy").exists())

    def test_mpirun_launching_shards(self):
        """mpirun as a mere launcher: each process given its own --shard I/N and outputs is an independent
        process (no MPI: what a vggcl built without MPI is told to do), and the parts are one process's."""
        one, o1 = self.classify("one", "--format", "json")
        out = self.d / "launched"
        out.mkdir()
        rank = "$OMPI_COMM_WORLD_RANK"
        cmd = " ".join([shlex.quote(VGGCL), "classify", "--weights", shlex.quote(str(self.weights)), "--resize", "40",
                        "--crop", "32", "--batch", "3", "--format", "json", "--shard", f"{rank}/2",
                        "--logits-out", shlex.quote(str(out)) + f"/l{rank}.npy", shlex.quote(str(self.images)),
                        ">", shlex.quote(str(out)) + f"/out{rank}.json", ";", "echo", "$?", ">",
                        shlex.quote(str(out)) + f"/rc{rank}"])
        # (docs/folders.md's form: each status to a file and the shell's exit 0, so that one's exit 1 does not end the
        # others, as under a scheduler's job array; mpirun ended the first share's process when the second's left
        # first, under load, its output cut)
        r = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", "sh", "-c", cmd], capture_output=True, text=True,
                           env=ENV, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([(out / f"rc{i}").read_text() for i in range(2)], ["0\n", "1\n"], r.stderr)  # (the broken
        self.assertIn("07_broken.png", r.stderr)  # image, in the second share, said by it: one stderr for both)
        self.assertIn("vggcl: shard 1/2: 1 of 5 images were skipped; 4 classified", vggcl_lines(r.stderr))
        self.assertEqual((out / "out0.json").read_text() + (out / "out1.json").read_text(), one.stdout)
        np.testing.assert_array_equal(np.concatenate([np.load(out / f"l{i}.npy") for i in range(2)]),
                                      np.load(o1 / "l.npy"))

    def test_cam_ranks_equal_one_process(self):
        """mpirun -n 2 vggcl cam (and --shard 0/2 + 1/2): the ranks share the images; the same lines,
        messages, exit status and files (maps and pictures) as one process, with the unreadable image in
        the second rank's share."""
        runs = []
        for how in ("one", "ranks", "shards"):
            out = self.d / f"cam-{how}"
            out.mkdir()
            cmd = [VGGCL, "cam", "--weights", str(self.weights), "--resize", "40", "--crop", "32", "--compare-pool5",
                   "--out-dir", str(out), str(self.images)]
            if how == "shards":
                rs = [subprocess.run([*cmd, "--shard", f"{i}/2"], capture_output=True, text=True, env=ENV, timeout=600)
                      for i in range(2)]
                r = subprocess.CompletedProcess(cmd, max(x.returncode for x in rs), "".join(x.stdout for x in rs),
                                                "".join(x.stderr for x in rs))
            else:
                r = subprocess.run(["mpirun", "-n", "2", "--oversubscribe", *cmd] if how == "ranks" else cmd,
                                   capture_output=True, text=True, env=ENV, timeout=600)
            runs.append((r.returncode, r.stdout.replace(str(out), "OUT"), vggcl_lines(r.stderr),
                         {f.name: f.read_bytes() for f in out.iterdir()}))
        self.assertEqual(runs[0][0], 1, runs[0][2])
        self.assertIn("vggcl: 1 of 10 images were skipped; 9 drawn", runs[0][2])
        self.assertIn("07_broken.png", "\n".join(runs[0][2]))
        self.assertEqual(len(runs[0][3]), 9 * 5)  # the maps kept and dropped, upsampled, and the picture
        self.assertEqual(runs[1], runs[0])
        self.assertEqual(runs[2][:2] + runs[2][3:], runs[0][:2] + runs[0][3:])
        # (each shard says the model's note, --compare-pool5's panel of a head whose pool5 the file says not, as
        # one process does, and names itself: they may share one stderr; the failure is the second shard's)
        self.assertIn("says not which pool5 its head was made for", runs[0][2][0])
        named = [ln.replace("vggcl: ", "vggcl: shard 1/2: ", 1) for ln in runs[0][2][:-1]]
        self.assertEqual(runs[2][2], [runs[0][2][0].replace("vggcl: ", "vggcl: shard 0/2: ", 1)] + named +
                         ["vggcl: shard 1/2: 1 of 5 images were skipped; 4 drawn"])

    def preprocess(self, tag, *args, ranks=1, images=None):
        out = self.d / tag
        out.mkdir()
        cmd = [VGGCL, "preprocess", "--resize", "40", "--crop", "32", "--output", str(out / "t.npy"), *args,
               *map(str, images or [self.images])]
        if ranks > 1:
            cmd = ["mpirun", "-n", str(ranks), "--oversubscribe", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600), out

    def test_preprocess_ranks_equal_one_process(self):
        """mpirun -n R vggcl preprocess: the ranks share the images and rank 0 writes one process's file,
        byte for byte (also with more ranks than images, and with shards); an unreadable image in the
        second rank's share: every unreadable image named, as by one process, and no file."""
        good = sorted(p for p in self.images.iterdir() if "broken" not in p.name)
        one, o1 = self.preprocess("one", images=good)
        self.assertEqual(one.returncode, 0, one.stderr)
        self.assertEqual(np.load(o1 / "t.npy").shape, (9, 3, 32, 32))
        for ranks in (2, 3):
            r, o = self.preprocess(f"ranks{ranks}", ranks=ranks, images=good)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, one.stdout.replace(str(o1), str(o)))
            self.assertEqual((o / "t.npy").read_bytes(), (o1 / "t.npy").read_bytes())
        r, o = self.preprocess("few", ranks=3, images=good[:2])
        self.assertEqual(r.returncode, 0, r.stderr)
        np.testing.assert_array_equal(np.load(o / "t.npy"), np.load(o1 / "t.npy")[:2])
        parts = [self.preprocess(f"shard{i}", "--shard", f"{i}/2", images=good) for i in range(2)]
        self.assertEqual([p[0].returncode for p in parts], [0, 0], parts[1][0].stderr)
        np.testing.assert_array_equal(np.concatenate([np.load(p[1] / "t.npy") for p in parts]),
                                      np.load(o1 / "t.npy"))
        missing = self.d / "missing.jpg"
        bad = [missing, *good[:5], self.images / "07_broken.png", *good[5:]]
        one, o1 = self.preprocess("bad1", images=bad)
        two, o2 = self.preprocess("bad2", ranks=2, images=bad)
        for r, o in ((one, o1), (two, o2)):
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(list(o.iterdir()), [])
        self.assertEqual(vggcl_lines(two.stderr.replace(str(o2), str(o1))), vggcl_lines(one.stderr))
        self.assertEqual(len(vggcl_lines(one.stderr)), 3, one.stderr)  # both named, then the count
        self.assertIn("missing.jpg", one.stderr)
        self.assertIn("07_broken.png", one.stderr)
        self.assertIn("2 of 11 images could not be used", one.stderr)
        self.assertNotIn("skipped", one.stderr)  # (not skipped: the command fails)
        # --weights: each rank takes the model's preset from its copy, as one process does; a model not there is
        # said once, as classify's ranks say it, and nothing is written
        w = self.d / "preset.safetensors"
        save_file(make_state_dict(parse_cfg("8,M,16"), False, 3, seed=1), w,
                  metadata={"vggcl.mean": "0.5,0.5,0.5", "vggcl.std": "0.25,0.25,0.25"})
        one, o1 = self.preprocess("w1", "--weights", w, images=good)
        two, o2 = self.preprocess("w2", "--weights", w, ranks=2, images=good)
        self.assertEqual((one.returncode, two.returncode), (0, 0), two.stderr)
        self.assertEqual((o2 / "t.npy").read_bytes(), (o1 / "t.npy").read_bytes())
        plain = np.load(self.d / "ranks2" / "t.npy")
        np.testing.assert_allclose(np.load(o1 / "t.npy"), ((plain * [[[0.229]], [[0.224]], [[0.225]]] +
                                                            [[[0.485]], [[0.456]], [[0.406]]]) - 0.5) / 0.25,
                                   atol=1e-5)
        # ranks given different copies (MPMD; each machine its own): refused, said once (rank 0 joined rows of two
        # normalizations, exit 0)
        w2 = self.d / "preset2.safetensors"
        save_file(make_state_dict(parse_cfg("8,M,16"), False, 3, seed=1), w2,
                  metadata={"vggcl.mean": "0.4,0.5,0.5", "vggcl.std": "0.25,0.25,0.25"})
        (self.d / "w4").mkdir()
        args = ["preprocess", "--resize", "40", "--crop", "32", "--output", str(self.d / "w4" / "t.npy"),
                *map(str, good)]
        r = subprocess.run(["mpirun", "-n", "1", VGGCL, *args, "--weights", str(w), ":", "-n", "1", VGGCL, *args,
                            "--weights", str(w2)], capture_output=True, text=True, env=ENV, timeout=120)
        self.assertEqual((r.returncode, list((self.d / "w4").iterdir())), (1, []), r.stderr)
        self.assertEqual(len(vggcl_lines(r.stderr)), 1, r.stderr)
        self.assertIn("the ranks loaded different models", r.stderr)
        # ... and ranks given a model and none, or other options: refused alike (every rank compares, given
        # --weights or not: the first left the collectives out of step)
        given = ["--weights", str(w)]
        for first, second in (([], given), (given, []), ([], ["--mean", "0.4,0.5,0.5"])):
            r = subprocess.run(["mpirun", "-n", "1", VGGCL, *args, *first, ":", "-n", "1", VGGCL, *args, *second],
                               capture_output=True, text=True, env=ENV, timeout=120)
            self.assertEqual((r.returncode, list((self.d / "w4").iterdir())), (1, []), r.stderr)
            self.assertEqual(vggcl_lines(r.stderr), ["vggcl: preprocess: the ranks were given different preprocessing "
                                                     "(--resize, --crop, --mean, --std, --draft) or --weights (rank 1, "
                                                     f"on {socket.gethostname()}, and rank 0): each must be given the "
                                                     "same"])
        r, o = self.preprocess("w3", "--weights", self.d / "nope.safetensors", ranks=2, images=good)
        self.assertEqual((r.returncode, list(o.iterdir())), (1, []), r.stderr)
        self.assertEqual(vggcl_lines(r.stderr), [f"vggcl: {self.d / 'nope.safetensors'}: cannot open weights file: No "
                                                 "such file or directory"])


class Hosts:
    """Two hosts on this machine: network namespaces NAME-a and NAME-b with addresses 10.77.0.1 and .2 on a
    veth pair, each process in them with its own hostname (unshare --uts), and an rsh agent for mpirun that
    runs a command on a host by entering its namespace. Removed on close."""

    ADDR = {"a": "10.77.0.1", "b": "10.77.0.2"}

    def __init__(self, d):
        self.name = f"vggcl{os.getpid()}"
        self.ns = {h: f"{self.name}-{h}" for h in self.ADDR}
        self.made = []
        try:
            for h, ns in self.ns.items():
                self._ip("netns", "add", ns)
                self.made.append(ns)
                self._ip("-n", ns, "link", "set", "lo", "up")
            self._ip("link", "add", f"{self.name}a", "type", "veth", "peer", "name", f"{self.name}b")
            for h, ns in self.ns.items():
                self._ip("link", "set", f"{self.name}{h}", "netns", ns)
                self._ip("-n", ns, "addr", "add", f"{self.ADDR[h]}/24", "dev", f"{self.name}{h}")
                self._ip("-n", ns, "link", "set", f"{self.name}{h}", "up")
        except BaseException:
            self.close()
            raise
        self.agent = d / "enter-host"
        cases = " ".join(f"{a}) ns={self.ns[h]};;" for h, a in self.ADDR.items())
        self.agent.write_text("#!/bin/sh\n# mpirun's rsh agent: enter-host HOST COMMAND...\n"
                              f'host=$1; shift\ncase $host in {cases} *) echo "no host $host" >&2; exit 1;; esac\n'
                              'exec ip netns exec "$ns" unshare --uts sh -c \'hostname "$0"; exec sh -c "$1"\' '
                              '"$ns" "$*"\n')
        self.agent.chmod(0o755)

    @staticmethod
    def _ip(*args):
        subprocess.run(["ip", *args], check=True, capture_output=True, text=True)

    def run_on_a(self, cmd, env):
        """cmd (a list) started on host a, the way a user starts mpirun on the first machine."""
        inner = f'hostname {self.ns["a"]}; exec {shlex.join(cmd)}'
        return subprocess.run(["ip", "netns", "exec", self.ns["a"], "unshare", "--uts", "sh", "-c", inner],
                              capture_output=True, text=True, env=env, timeout=600)

    def close(self):
        for ns in self.made:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        self.made = []
        subprocess.run(["ip", "link", "del", f"{self.name}a"], capture_output=True)  # (if not moved yet)


class AcrossHosts(Folder):
    """mpirun --hostfile over two hosts, two ranks on each (shared memory within a host, TCP between
    them): the same answer as one process, with an unreadable image in the fourth rank's share, on the
    second host."""

    def setUp(self):
        if os.geteuid() != 0 or not shutil.which("ip") or not shutil.which("unshare"):
            self.skipTest("needs root, ip (iproute2) and unshare (util-linux) to make network namespaces")
        super().setUp()
        try:
            self.hosts = Hosts(self.d)
        except subprocess.CalledProcessError as e:
            self.skipTest(f"cannot make network namespaces here: {' '.join(e.cmd)}: {e.stderr.strip()}")
        self.addCleanup(self.hosts.close)
        self.hostfile = self.d / "hosts"
        self.hostfile.write_text("".join(f"{a} slots=2\n" for a in Hosts.ADDR.values()))
        self.env = dict(ENV, OMPI_MCA_btl="self,vader,tcp", OMPI_MCA_btl_tcp_if_include="10.77.0.0/24",
                        OMPI_MCA_oob_tcp_if_include="10.77.0.0/24", OMPI_MCA_plm_rsh_agent=str(self.hosts.agent))

    def mpirun(self, *cmd):
        return self.hosts.run_on_a(["mpirun", "--hostfile", str(self.hostfile), "-n", "4", "--bind-to", "none",
                                    *cmd], self.env)

    def test_two_hosts_equal_one_process(self):
        where = self.mpirun("hostname")
        self.assertEqual(where.returncode, 0, where.stderr)
        self.assertEqual(sorted(where.stdout.split()), sorted(2 * list(self.hosts.ns.values())))  # 2 on each host
        one, o1 = self.classify("one", "--format", "json")
        out = self.d / "four"
        out.mkdir()
        four = self.mpirun(VGGCL, "classify", "--weights", str(self.weights), "--resize", "40", "--crop", "32",
                           "--batch", "3", "--logits-out", str(out / "l.npy"), "--tensor-out", str(out / "t.npy"),
                           "--format", "json", str(self.images))
        self.assertEqual(one.returncode, 1, one.stderr)  # the broken image
        self.assertEqual(four.returncode, one.returncode, four.stderr)
        self.assertEqual(four.stdout, one.stdout)
        self.assertEqual(vggcl_lines(four.stderr), vggcl_lines(one.stderr))
        self.assertIn("07_broken.png", four.stderr)
        for name in ("l.npy", "t.npy"):
            np.testing.assert_array_equal(np.load(out / name), np.load(o1 / name))

    def test_hosts_that_cannot_reach_each_other(self):
        """Without TCP the hosts' ranks cannot talk and MPI ends the job: a failure, no output file, and no
        temporary file left by the ranks that mpirun killed."""
        tmpdir = self.d / "tmpdir"
        tmpdir.mkdir()
        out = self.d / "out"
        out.mkdir()
        # (peers connect at their first message, the first gather, after the ranks made their files)
        self.env.update(OMPI_MCA_btl="self,vader", TMPDIR=str(tmpdir), OMPI_MCA_mpi_add_procs_cutoff="0")
        r = self.mpirun(VGGCL, "classify", "--weights", str(self.weights), "--resize", "40", "--crop", "32",
                        "--logits-out", str(out / "l.npy"), "--tensor-out", str(out / "t.npy"), str(self.images))
        self.assertNotEqual(r.returncode, 0, r.stderr)
        # Open MPI's words, not ours; its help text can itself fail to arrive ("ORTE_ERROR_LOG: Data unpack
        # would read past end of buffer in file .../show_help.c"), leaving only its runtime's name (ORTE)
        self.assertRegex(r.stderr, "MPI|ORTE")
        self.assertEqual(list(out.iterdir()), [])
        self.assertEqual(list(tmpdir.glob("vggcl-rank*")), [])

    def test_train_head_two_hosts(self):
        """train-head's features from four ranks on two hosts: the one process's model and report."""
        self.train_heads(lambda cmd: self.mpirun(*cmd))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    VGGCL = os.path.abspath(sys.argv.pop(1))  # (ranks may start in other working folders: --wdir)
    if not shutil.which("mpirun"):
        sys.exit("test_mpi.py: mpirun not found (apt-get install openmpi-bin; .ci/install-deps.sh does)")
    unittest.main(verbosity=2)
