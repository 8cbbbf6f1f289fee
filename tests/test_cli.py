#!/usr/bin/python3
"""`vggcl` on bad input: every case gives `vggcl: <message>` naming what was
wrong, exit 1 (failure) or 2 (usage), and leaves no output file behind.

usage: test_cli.py VGGCL_BINARY
"""
import csv
import ctypes
import fcntl
import io
import json
import os
import pty
import re
import resource
import select
import shutil
import signal
import stat
import struct
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
from make_test_weights import make_state_dict, parse_cfg  # noqa: E402
from safetensors_io import load_file, save_file  # noqa: E402

VGGCL = None
CFG = "8,M,16,M,16"  # two pools inside + pool5: needs at least 8x8


def vggcl_lines(stderr):
    """vggcl's own messages, not PoCL's compile notices."""
    return [ln for ln in stderr.splitlines() if ln.startswith("vggcl:") and "compiling" not in ln]


def as_nobody():
    """preexec_fn: the command run as nobody where the tests run as root (root reads and writes everything)."""
    if os.geteuid() == 0:
        os.setgroups([])
        os.setgid(65534)
        os.setuid(65534)


def bench_fields_said():
    """docs/commands.md's list of `bench --json`'s fields: from its table to the paragraph on --random after it."""
    text = (ROOT / "docs" / "commands.md").read_text()
    start = text.index("`--json` prints one\nJSON object on one line")
    return text[start:text.index("`--random` (the default without `--weights`)", start)]


class Cli(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = Path(self.tmp.name)
        self.weights = self.d / "w.safetensors"
        save_file(make_state_dict(parse_cfg(CFG), True, 3, seed=1), self.weights)
        self.x = self.d / "x.npy"
        np.save(self.x, np.random.default_rng(0).standard_normal((2, 3, 16, 12)).astype(np.float32))
        self.out = self.d / "out" / "y.npy"
        self.out.parent.mkdir()

    def tearDown(self):
        self.tmp.cleanup()

    def vggcl(self, *args, env=None):
        e = dict(os.environ)
        e.update(env or {})
        return subprocess.run([VGGCL, *map(str, args)], capture_output=True, text=True, env=e, timeout=300)

    def run_args(self, weights=None, x=None, extra=()):
        return ["run", "--weights", weights or self.weights, "--input", x or self.x, "--output", self.out, *extra]

    def fails(self, args, code, *needles, env=None):
        r = self.vggcl(*args, env=env)
        self.assertEqual(r.returncode, code, f"stdout: {r.stdout}\nstderr: {r.stderr}")
        # (PoCL's compiler may print its own lines first, e.g. "1 error generated.")
        self.assertIn("\nvggcl: ", "\n" + r.stderr)
        for n in needles:
            self.assertIn(str(n), r.stderr)
        self.assertEqual(sorted(p.name for p in self.out.parent.iterdir()), [], "output left behind")
        return r

    # --- usage --------------------------------------------------------------
    def test_usage(self):
        self.assertEqual(self.vggcl().returncode, 2)
        # vggcl --help within 80 columns, as each command's (its commands and environment lines ran to 94)
        top = self.vggcl("--help")
        self.assertEqual(top.returncode, 0, top.stderr)
        self.assertIn("VGGCL_CACHE_MAX_MB", top.stdout)
        self.assertEqual([ln for ln in top.stdout.splitlines() if len(ln) > 80], [])
        r = self.fails(["frobnicate"], 2, "vggcl: unknown command 'frobnicate'; `vggcl --help` lists the commands\n")
        self.assertEqual(r.stderr.count("\n"), 1, r.stderr)  # (the whole help after it pushed it out of view)
        # a slip of one name is named (a letter left out, swapped, another case; not one of two names)
        for slip, meant in (("clasify", "classify"), ("Classify", "classify"), ("trian-head", "train-head"),
                            ("rnu", "run")):
            self.fails([slip], 2, f"vggcl: unknown command '{slip}' ({meant}?); `vggcl --help` lists them\n")
        for word in ("cat", "val", "rnn"):  # (a short word one letter from a name is another word: 'cat' was cam?)
            self.fails([word], 2, f"vggcl: unknown command '{word}'; `vggcl --help` lists the commands\n")
        self.fails(["run", "--weights", self.weights], 2, "required")
        r = self.fails(self.run_args(extra=["--bogus"]), 2, "unknown option '--bogus'\n")
        self.fails(self.run_args(extra=["--wieghts", "w"]), 2, "run: unknown option '--wieghts' (--weights?)\n")
        # another command's name for that kind of option: this command's said (train-head --output was unknown, no
        # more)
        for args, said in ((["train-head", "--output", "m.safetensors"], "train-head has --out"),
                           (["train-head", "--logits-out", "l.npy"], "train-head has --out"),
                           (["classify", "--output", "l.npy"], "classify has --logits-out and --tensor-out"),
                           (["run", "--logits-out", "l.npy"], "run has --output"),
                           (["bench", "--format=csv"], "bench has --json"),
                           (["eval", "--json"], "eval has --format"),
                           (["eval", "--images", "d"], "eval has --data"),
                           (["cam", "--output", "d"], "cam has --out-dir"),
                           # (other tools' names: a hint where there was none)
                           (["classify", "--model", "m"], "classify has --weights"),
                           (["run", "--checkpoint", "m"], "run has --weights"),
                           (["classify", "--topk", "3"], "classify has --top"),
                           (["classify", "--top-k", "3"], "classify has --top"),
                           (["bench", "--batch-size", "3"], "bench has --batch"),
                           (["train-head", "--batch-size", "3"], "train-head has --minibatch and --batch"),
                           (["classify", "--classes", "c.txt"], "classify has --labels"),
                           # (a command with none of that kind: what it does in its stead; eval --labels was refused
                           # with no more)
                           (["eval", "--labels", "c.txt"], "eval takes the class names from the model's metadata, "
                            "\"vggcl.classes\", else from the class folders' names"),
                           (["cam", "--labels", "c.txt"], "cam takes the class names from the model's metadata, "
                            "\"vggcl.classes\"; --class picks one by its number or name"),
                           (["train-head", "--class-names", "c.txt"], "train-head takes the class names from the class "
                            "folders' names and writes them to the model's metadata, \"vggcl.classes\""),
                           (["classify", "--input", "a.png"], "classify takes its images as arguments after the "
                            "options: vggcl classify [OPTIONS] IMAGE|DIR..."),
                           (["preprocess", "--image", "a.png"], "preprocess takes its images as arguments after "
                            "the options: vggcl preprocess [OPTIONS] IMAGE|DIR..."),
                           (["classify", "--data", "d"], "classify takes its images as arguments after the "
                            "options: vggcl classify [OPTIONS] IMAGE|DIR...")):
            self.fails(args, 2, f"{args[0]}: unknown option '{args[1]}' ({said})\n")
        self.fails(["eval", "--input", "d"], 2, "eval: unknown option '--input' (eval has --data)\n")
        self.fails(["tune", "--output", "t"], 2, "tune: unknown option '--output'\n")  # (tune writes no file)
        self.fails(["run", "--labels", "t"], 2, "run: unknown option '--labels'\n")  # (run names no classes)
        self.fails(["classify", "--formt", "json", "a.png"], 2, "classify: unknown option '--formt' (--format?)\n")
        # the error, the synopsis and where the rest is: the whole help (60 lines for classify) pushed
        # the error out of a terminal's view
        r = self.fails(["classify", "--bogus", "a.png"], 2, "unknown option '--bogus'",
                       "usage: vggcl classify --weights", "`vggcl classify --help` describes each option.")
        self.assertNotIn("options:", r.stderr)
        self.assertLess(r.stderr.count("\n"), 12, r.stderr)
        # a short option inside a cluster (getopt has not moved past it: the argument before was named), and a
        # file a glob gave whose name begins with -h: it was a request for help (the usage on stdout, exit 0)
        # (run takes no files: the hint about one named -xy was beside the point)
        self.assertNotIn("(a file", self.fails(self.run_args(extra=["-xy"]), 2, "unknown argument '-xy'").stderr)
        # a long option typed with one dash is named
        self.fails(["run", "-weights", self.weights], 2, "unknown argument '-weights' (--weights? long options take "
                   "two dashes)")
        self.fails(["classify", "-top=3", "a.png"], 2, "unknown argument '-top=3' (--top? long options take two "
                   "dashes; a file named so: give it as ./-top=3 or after --)")
        self.fails(self.run_args(extra=["-x"]), 2, "unknown option '-x'")
        for before in (["a.png"], ["--no-crop"], ["--weights=w"]):  # (after a long option it was help still)
            r = self.fails(["classify", "--weights", self.weights, "--format", "json", *before, "-hello.png"], 2,
                           "unknown argument '-hello.png' (a file")
            self.assertEqual(r.stdout, "")
        self.fails(["classify", "--help=1", "a.png"], 2, "--help takes no value ('--help=1')")
        self.fails(["classify", "--he", "a.png"], 2, "'--he' is short for more than one option (--head, --help)")
        self.assertTrue(self.vggcl("classify", "-h").stdout.startswith("usage: vggcl classify"))
        # a flag given a value (getopt's optopt is then the flag's own code: it was printed as a character)
        self.fails(["classify", "--weights", self.weights, "--no-crop=1", "x.png"], 2,
                   "--no-crop takes no value ('--no-crop=1')")
        # an abbreviation of several options names them (it was "unknown argument")
        self.fails(["classify", "--weights", self.weights, "--t", "3", "x.png"], 2,
                   "'--t' is short for more than one option (--top, --tensor-out, --threads)")
        self.fails(self.run_args(extra=["--pool5", "maybe"]), 2, "keep or drop")
        self.fails(["run", "--weights"], 2, "--weights needs a value")
        # an option given twice: the last taken (an alias's --device overridden after it), and said (a second
        # --weights ran another model unsaid); the same value twice, or a flag twice, says nothing
        twice = self.vggcl(*self.run_args(extra=["--pool5", "drop", "--pool5", "keep", "--pool5=keep"]))
        self.assertEqual(twice.returncode, 0, twice.stderr)
        self.assertEqual(twice.stderr.count("given more than once"), 1, twice.stderr)
        self.assertIn("vggcl: run: --pool5 given more than once ('drop' first, 'keep' last): the last is taken\n",
                      twice.stderr)
        self.out.unlink()
        same = self.vggcl(*self.run_args(extra=["--conv", "direct", "--conv", "direct"]))
        self.assertEqual(same.returncode, 0, same.stderr)
        self.assertNotIn("more than once", same.stderr)  # (a cold cache's line about compiling aside)
        self.out.unlink()
        # a command line with a mistake besides: the mistake alone (the note said a value was taken that was not)
        r = self.fails(self.run_args(extra=["--weights=x", "--weights="]), 2, "run: --weights is empty")
        self.assertNotIn("more than once", r.stderr)
        # a value left out before another option: the option is not taken for the value (--logits-out --recursive
        # wrote a file "--recursive" and did not recurse, exit 0); given with '=' it is the value
        imgs = self.d / "imgs"
        imgs.mkdir()
        self.fails(["classify", "--weights", self.weights, "--logits-out", "--recursive", imgs], 2,
                   "classify: --logits-out needs L.npy, not the option '--recursive' (a value that begins with "
                   "'--': --logits-out=--recursive)")
        self.assertFalse(Path("--recursive").exists())
        # an empty value or argument names nothing ("vggcl: : cannot open weights file", exit 1; --head "" looked for
        # a tensor ".weight"; an empty image was an unreadable one)
        self.fails(self.run_args(extra=["--weights="]), 2, "run: --weights is empty: give W.safetensors")
        self.fails(["classify", "--weights", self.weights, "--head", "", "x.png"], 2, "classify: --head is empty: give "
                   "PREFIX")
        self.fails(["classify", "--weights", self.weights, "x.png", ""], 2, "classify: argument 2 is empty: give ")
        self.fails(["train-head", "--weights", self.weights, "--data", "d", "--val", "", "--out", "o"], 2,
                   "train-head: --val is empty: give DIR")
        self.fails(["run", "--weights", self.weights, "extra"], 2, "unexpected argument 'extra'")
        r = self.vggcl("--version")
        self.assertEqual(r.returncode, 0)
        self.assertRegex(r.stdout, r"^vggcl \d+\.\d+\.\d+\n$")
        # vggcl help CMD is CMD --help (it printed the commands' list); extra arguments are refused (passed over)
        for helps in ("help", "--help", "-h"):  # (--help classify was refused)
            r = self.vggcl(helps, "classify")
            self.assertEqual((r.returncode, r.stdout), (0, self.vggcl("classify", "--help").stdout), helps)
        self.fails(["help", "frobnicate"], 2, "unknown command 'frobnicate'")
        self.fails(["--version", "extra"], 2, "--version takes no arguments ('extra')")
        self.fails(["help", "classify", "x"], 2, "help takes one command ('x')")
        for of in ("help", "--help", "-h", "version", "--version"):  # (the list; they were "unknown command")
            r = self.vggcl("help", of)
            self.assertEqual((r.returncode, r.stdout), (0, self.vggcl("--help").stdout), of)
        readme = (ROOT / "README.md").read_text()
        top = self.vggcl("--help").stdout
        commands = re.findall(r"^  ([a-z][a-z-]+) ", top, re.M)
        self.assertIn("train-head", commands)
        for cmd in commands:
            r = self.vggcl(cmd, "--help")
            self.assertEqual(r.returncode, 0)
            self.assertIn(f"usage: vggcl {cmd}", r.stdout)
            # every option the help lists is accepted by the parser (a value it then rejects is fine;
            # "@@" names no file, number or device, so nothing runs for long or writes anything)
            for opt in re.findall(r"^  (--[a-z0-9-]+)", r.stdout, re.M):
                if opt != "--help":
                    self.assertNotIn("unknown argument", self.vggcl(cmd, opt, "@@").stderr, f"{cmd} {opt}")
            # the README's synopsis of the command is the help's, word for word
            usage = r.stdout.split("\n\n")[0]
            self.assertTrue(usage in readme, f"README's synopsis of `vggcl {cmd}` differs from --help:\n{usage}")
            # the description's paragraphs are filled to 80 columns (a line was cut at "(it", "The csv
            # rows hold", "Preprocessing": the next word fitted on it by 10 columns and more)
            for para in r.stdout.split("\n\n")[1:]:
                lines = para.rstrip("\n").split("\n")
                lines = [] if any(line.startswith(" ") for line in lines) else lines  # (the options' table)
                for line, after in zip(lines, lines[1:]):
                    self.assertLessEqual(len(line), 80, f"{cmd} --help: {line!r}")
                    self.assertFalse(re.search(r"[^.:)]$", line) and len(line) + len(after.split()[0]) < 70,
                                     f"{cmd} --help: a line cut short: {line!r} / {after!r}")

    def test_device_help_per_command(self):
        """--device's help says all and lists only for the commands that take them (classify, eval, train-head): the
        one shared text said to run, bench, tune and cam what they refuse ("classify, eval, train-head: also all")."""
        def device_help(cmd):
            text = self.vggcl(cmd, "--help").stdout
            entry = re.search(r"^  --device SPEC +(.*?)\n(?=  --)", text, re.M | re.S)
            self.assertTrue(entry, f"{cmd} --help: no --device entry")
            return " ".join(entry[1].split())
        several = "also all (the GPUs, else every device) or a list (0,1): a context each, batches to whichever is free"
        for cmd in ("classify", "eval", "train-head"):
            self.assertTrue(device_help(cmd).endswith("else the first device; " + several), device_help(cmd))
        for cmd in ("run", "bench", "cam"):
            said = device_help(cmd)
            self.assertTrue(said.endswith("default $VGGCL_DEVICE, else the first GPU, else the first device"), said)
            self.assertNotIn("all", said.split("default", 1)[1])
            self.assertNotIn("classify", said)  # (their refusal of all and lists: test_bad_device_spec)
        self.assertEqual(device_help("tune"), "as for `vggcl run`")

    def test_resize_below_the_crop(self):
        """A resize below the crop pads every image to the crop with black, as torchvision's CenterCrop does (the
        tensor is torchvision's): said once, whichever command and wherever the two come from (options or a model's
        metadata); not where the resize is at least the crop, nor with --resize 0 (the images' own sizes)."""
        tiny = ROOT / "tests" / "data" / "tiny.png"
        said = ("vggcl: the resize (10) is below the crop (16): every image is padded to the crop with black (0 before "
                "normalizing), as torchvision's CenterCrop pads it; --crop 10, or --resize 16, keeps only pixels")
        r = self.vggcl("preprocess", "--resize", "10", "--crop", "16", "--output", self.d / "p.npy", tiny, tiny)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([ln for ln in r.stderr.splitlines() if "compiling" not in ln], [said])
        t = np.load(self.d / "p.npy")
        self.assertEqual(t.shape, (2, 3, 16, 16))
        self.assertTrue(np.allclose(t[:, :, 0, :], (0 - np.array([0.485, 0.456, 0.406])[:, None]) /
                                    np.array([0.229, 0.224, 0.225])[:, None], atol=1e-6))  # (a black row)
        tensors, meta = load_file(self.weights)
        preset = self.d / "preset.safetensors"
        save_file(tensors, preset, metadata=dict(meta or {}, **{"vggcl.resize": "10", "vggcl.crop": "16"}))
        r = self.vggcl("classify", "--weights", preset, tiny)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([ln for ln in r.stderr.splitlines() if "compiling" not in ln], [said])
        for sizes in (["--resize", "16", "--crop", "16"], ["--resize", "0", "--crop", "16"],
                      ["--resize", "16x30", "--crop", "16"], ["--resize", "10x12", "--no-crop"]):
            r = self.vggcl("preprocess", *sizes, "--output", self.d / "q.npy", tiny)
            self.assertEqual((r.returncode, r.stderr), (0, ""), sizes)
        # both sides resized (HxW): padded where either is below the crop; said with the sizes that keep pixels
        for sizes, least, enough in ((["--resize", "10x20"], 10, "16x20"), (["--resize", "30x12"], 12, "30x16")):
            r = self.vggcl("preprocess", *sizes, "--crop", "16", "--output", self.d / "q.npy", tiny)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual([ln for ln in r.stderr.splitlines() if "compiling" not in ln],
                             [f"vggcl: the resize ({sizes[1]}) is below the crop (16): every image is padded to the "
                              "crop with black (0 before normalizing), as torchvision's CenterCrop pads it; --crop "
                              f"{least}, or --resize {enough}, or --no-crop, keeps only pixels"])
        # HxW given with no crop given, the default's (224) taken: Resize((H, W)) alone is the likely recipe, and
        # the crop cut it unsaid; not where a crop is given, nor where the model names one, nor at 224x224
        r = self.vggcl("preprocess", "--resize", "256x240", "--output", self.d / "q.npy", tiny)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([ln for ln in r.stderr.splitlines() if "compiling" not in ln],
                         ["vggcl: --resize 256x240 is followed by the default crop, 224 (torchvision's, after its "
                          "Resize(256)): every image is cut to 224 x 224; --no-crop for a Resize((H, W)) alone"])
        r = self.vggcl("classify", "--weights", self.weights, "--resize", "256x240", tiny)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("(torchvision's, after its Resize(256); the model names none): every image is cut", r.stderr)
        for quiet in (["--resize", "224x224"], ["--resize", "256x240", "--crop", "224"],
                      ["--resize", "256x240", "--weights", preset]):
            r = self.vggcl("preprocess", *quiet, "--output", self.d / "q.npy", tiny)
            self.assertEqual((r.returncode, r.stderr), (0, ""), quiet)

    def test_output_names_too_long(self):
        """An output whose file name is longer than its folder takes (255 bytes) is refused before any work, as cam's
        maps are: classify printed every answer, train-head trained, then "File name too long" (and wrote the model
        without --features-out's -train-labels.npy, whose name alone was too long)."""
        tiny = ROOT / "tests" / "data" / "tiny.png"
        for c in ("a", "b"):
            (self.d / "data" / c).mkdir(parents=True)
            shutil.copy(tiny, self.d / "data" / c / "0.png")
        long, out = "a" * 252 + ".npy", self.d / "out"
        size = ["--resize", "24", "--crop", "16"]
        runs = ((["classify", "--weights", self.weights, *size, "--logits-out", out / long, tiny], "--logits-out",
                 long),
                (["run", "--weights", self.weights, "--input", self.x, "--output", out / long], "--output", long),
                (["preprocess", *size, "--output", out / long, tiny], "--output", long),
                (["train-head", "--weights", self.weights, "--data", self.d / "data", *size, "--out",
                  out / ("b" * 250 + ".safetensors")], "--out", "b" * 250 + ".safetensors"),
                (["train-head", "--weights", self.weights, "--data", self.d / "data", *size, "--out", out / "h",
                  "--features-out", out / ("c" * 240)], "--features-out", "c" * 240 + "-train-labels.npy"))
        for args, opt, name in runs:
            r = self.vggcl(*args)
            self.assertEqual((r.returncode, r.stdout), (1, ""), r.stderr)
            self.assertIn(f"{opt} {out / name}: a file name of {len(name)} bytes, longer than the 255 a file name may "
                          f"have in {out}", r.stderr)
            self.assertEqual(list(out.iterdir()), [])

    def test_names_in_pythons_order(self):
        """A folder's images, a --recursive walk and eval's class folders come in the order Python sorts their names
        as strings (os.fsdecode's, which torchvision's ImageFolder sorts): a name that is not UTF-8 (Latin-1's é,
        a lone 0x80) was put by its bytes, before UTF-8 names Python puts it after (é, U+E000), so eval scored
        a model's class 0 against another folder than ImageFolder's class 0."""
        tiny = ROOT / "tests" / "data" / "tiny.png"
        names = [b"z", b"\xc3\xa9", b"\x80x", b"\xe9", b"\xee\x80\x80", b"a\xff", b"a\xc3\xa9", b"a\xf0\x9f\x98",
                 b"\xf0\x9f\x98\x80"]  # (the last two: an emoji cut short, and one whole)
        self.assertNotEqual(sorted(names), sorted(names, key=os.fsdecode))  # (the premise)
        flat, tree, data = (os.fsencode(self.d / k) for k in ("flat", "tree", "data"))
        for name in names:
            for path in (flat + b"/" + name + b".png", tree + b"/" + name + b"/i.png"):
                os.makedirs(os.path.dirname(path), exist_ok=True)
                shutil.copy(tiny, path)
        for name in (b"\x80x", b"\xc3\xa9", b"\xee\x80\x80"):  # (bytes: 0x80, é, U+E000; Python: é, 0x80, U+E000)
            os.makedirs(data + b"/" + name)
            shutil.copy(tiny, data + b"/" + name + b"/i.png")
        args = ["classify", "--weights", self.weights, "--resize", "24", "--crop", "20", "--format", "json"]
        for top, recursive, want in ((flat, [], [os.path.join(flat, n + b".png") for n in names]),
                                     (tree, ["--recursive"], [os.path.join(tree, n, b"i.png") for n in names])):
            r = subprocess.run([VGGCL, *map(str, args), *recursive, top], capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual([json.loads(line)["file"] for line in r.stdout.splitlines()],
                             sorted(map(os.fsdecode, want)))
        r = subprocess.run([VGGCL, "eval", "--weights", str(self.weights), "--data", data, "--resize", "24", "--crop",
                            "20", "--format", "json"], capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([c["class"] for c in json.loads(r.stdout)["per_class"]], ["é", "\udc80x", "\ue000"])

    def test_recursive_folders(self):
        """--recursive: the images below a folder too, through links, a folder once on a path, in the
        order torchvision's ImageFolder walks a class folder (sorted(os.walk(...)), each folder's files
        sorted); names starting with '.' and other files left out. eval's class folders are walked so."""
        root = self.d / "tree"
        tiny = ROOT / "tests" / "data" / "tiny.png"
        for name in ("z.jpg", "a.png", "a/y.JPG", "a/x.jpeg", "a-b/m.png", "a/c/n.jpg", "a/.hidden.jpg",
                     ".h/q.jpg", "b.jpg/k.png", "a/c/d/e/deep.png"):
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(tiny, root / name)
        (root / "a" / "notes.txt").write_text("not an image\n")
        for name in ("a/not.jpgx", "a/not.pn"):  # (an extension's start or end alone: left out)
            shutil.copy(tiny, root / name)
        (root / "link").symlink_to(root / "a" / "c")  # followed: its images twice, as os.walk's
        (root / "a" / "c" / "up").symlink_to(root)  # back up: not followed

        def walk(top):
            """The reference: os.walk through links, pruning a link back to a folder above (where os.walk
            would loop: one the walk is inside, or one above its top, whose other folders a class folder's link
            took as its own), hidden names and other files out."""
            found, outside, p = [], set(), os.path.realpath(top)
            while p != os.path.dirname(p):
                p = os.path.dirname(p)
                outside.add(p)
            for r, dirs, files in os.walk(top, followlinks=True):
                above, p = set(outside), r
                while True:
                    above.add(os.path.realpath(p))
                    if p == str(top):
                        break
                    p = os.path.dirname(p)
                dirs[:] = [d for d in dirs if not d.startswith(".")
                           and os.path.realpath(os.path.join(r, d)) not in above]
                found.append((r, sorted(f for f in files if not f.startswith(".")
                                        and f.lower().endswith((".jpg", ".jpeg", ".png")))))
            return [os.path.join(r, f) for r, fs in sorted(found) for f in fs]

        want = walk(root)
        self.assertEqual(want.index(str(root / "a-b" / "m.png")), 4)  # after a's files, before a/c's, by path
        args = ["classify", "--weights", self.weights, "--resize", "24", "--crop", "20", "--format", "json"]
        r = self.vggcl(*args, "--recursive", str(root))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([json.loads(line)["file"] for line in r.stdout.splitlines()], want)
        r = self.vggcl(*args, "--recursive", str(root) + "/")  # (as os.path.join: tree//a.png was printed)
        self.assertEqual([json.loads(line)["file"] for line in r.stdout.splitlines()], want, r.stderr)
        r = self.vggcl(*args, str(root))  # without: the folder's own images
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([json.loads(line)["file"] for line in r.stdout.splitlines()],
                         [str(root / "a.png"), str(root / "z.jpg")])
        # eval: each class folder walked as ImageFolder does, but for a's link up to the data set, above the class
        # folder, not followed (it took the other classes' images as a's; ImageFolder's walk loops there for good)
        (root / "link").unlink()  # (a fourth class for a 3-class model)
        r = self.vggcl("eval", "--weights", self.weights, "--data", str(root), "--resize", "24", "--crop", "20",
                       "--format", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([c["images"] for c in json.loads(r.stdout)["per_class"]],
                         [len(walk(root / c)) for c in ("a", "a-b", "b.jpg")])
        # a folder below that cannot be read is an error naming it, before any image is classified (os.walk
        # passes over it, and its images went unsaid: exit 0); root reads it all the same, so it runs as nobody
        locked = root / "a" / "locked"
        locked.mkdir()
        shutil.copy(tiny, locked / "unseen.png")
        self.d.chmod(0o755)  # (the rest readable by nobody)
        locked.chmod(0)

        try:
            for cmd in (args, ["eval", "--weights", self.weights, "--data", root, "--resize", "24", "--crop", "20"]):
                try:
                    r = subprocess.run([VGGCL, *map(str, cmd), "--device", "ref",
                                        *(["--recursive", root] if cmd is args else [])],
                                       capture_output=True, text=True, timeout=300, preexec_fn=as_nobody,
                                       env=dict(os.environ, VGGCL_CACHE_DIR="off"))
                except (subprocess.SubprocessError, PermissionError) as e:  # (one uid mapped; a build under /root)
                    self.skipTest(f"cannot run the command as nobody here: {e}")
                self.assertEqual((r.returncode, r.stdout), (1, ""), r.stderr)
                self.assertIn(f"vggcl: {locked}: cannot read the folder: Permission denied", r.stderr)
            # but a lost+found (every mounted disk's root has one, root's alone) is passed over, said once: the
            # images around it classified (a recursive walk of a mounted disk failed for every other user)
            locked.rename(root / "a" / "lost+found")
            r = subprocess.run([VGGCL, *map(str, args), "--device", "ref", "--recursive", root],
                               capture_output=True, text=True, timeout=300, preexec_fn=as_nobody,
                               env=dict(os.environ, VGGCL_CACHE_DIR="off"))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual([json.loads(line)["file"] for line in r.stdout.splitlines()],
                             [f for f in walk(root) if "/lost+found/" not in f])  # (as os.walk run by nobody)
            self.assertEqual(vggcl_lines(r.stderr), [f"vggcl: passed over 1 lost+found folder this user cannot read "
                                                     f"(a filesystem's, kept by root), such as {root}/a/lost+found"])
            # a folder below this user may list but not enter: what it holds cannot be stat'ed (its folders were
            # passed over without a word, exit 0; so was one past PATH_MAX)
            shut = root / "a" / "shut"
            (shut / "inner").mkdir(parents=True)
            shutil.copy(tiny, shut / "inner" / "hidden.png")
            shut.chmod(0o644)
            for cmd in (args, ["eval", "--weights", self.weights, "--data", root, "--resize", "24", "--crop", "20"]):
                r = subprocess.run([VGGCL, *map(str, cmd), "--device", "ref",
                                    *(["--recursive", root] if cmd is args else [])],
                                   capture_output=True, text=True, timeout=300, preexec_fn=as_nobody,
                                   env=dict(os.environ, VGGCL_CACHE_DIR="off"))
                self.assertEqual((r.returncode, r.stdout), (1, ""), r.stderr)
                self.assertIn(f"vggcl: {shut}/inner: cannot read the folder: Permission denied", r.stderr)
            shut.chmod(0o755)
            shutil.rmtree(shut)
            # a data folder this user may list but not enter: its classes were passed over ("no class folders"),
            # and one below it was "not there"; each now with the reason
            root.chmod(0o644)
            for data, said in ((root, f"vggcl: {re.escape(str(root))}/[^/]+: cannot tell whether it is a class folder: "
                                      "Permission denied\n"),  # (the first entry readdir gives)
                               (root / "a",
                                f"vggcl: eval: --data {re.escape(str(root))}/a: Permission denied \\(expected")):
                r = subprocess.run([VGGCL, "eval", "--weights", self.weights, "--data", data, "--device", "ref"],
                                   capture_output=True, text=True, timeout=300, preexec_fn=as_nobody)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertRegex(r.stderr, said)
        finally:
            root.chmod(0o755)
            for p in (locked, root / "a" / "lost+found", root / "a" / "shut"):
                if p.exists():
                    p.chmod(0o755)

    def test_eval_csv_and_text_of_one_class(self):
        """A model of one class: eval's CSV names its top-k column topk (k is 1, and its "top1" was the column before:
        readers kept one of the two), and every row holds as many fields as the header; its text says top-1 once."""
        w = self.d / "one.safetensors"
        save_file(make_state_dict(parse_cfg(CFG), False, 1, seed=1), w, metadata={"vggcl.classes": '["only"]'})
        (self.d / "data" / "only").mkdir(parents=True)
        shutil.copy(ROOT / "tests" / "data" / "tiny.png", self.d / "data" / "only" / "x.png")
        r = self.vggcl("eval", "--weights", w, "--data", self.d / "data", "--resize", "16", "--crop", "16", "--format",
                       "csv")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = list(csv.reader(io.StringIO(r.stdout)))
        self.assertEqual(rows[0], ["class", "images", "predicted", "precision", "recall", "f1", "top1", "topk",
                                   "only"])
        self.assertEqual(len(set(rows[0])), len(rows[0]))
        self.assertTrue(all(len(row) == len(rows[0]) for row in rows), rows)
        self.assertEqual([row[0] for row in rows[-3:]], ["all", "macro avg", "weighted avg"])
        self.assertEqual([float(v) for v in rows[-3][6:8]], [1.0, 1.0])
        r = self.vggcl("eval", "--weights", w, "--data", self.d / "data", "--resize", "16", "--crop", "16")
        self.assertEqual(r.returncode, 0, r.stderr)  # (the text said "top-1 1.0000 (1/1)  top-1 1.0000 (1/1)")
        self.assertIn("\ntop-1 1.0000 (1/1)\n", r.stdout)

    def test_cam_recursive(self):
        """cam takes --recursive as classify does (it was refused: a tree of images had to be listed by hand): the
        images in the folders below too, in classify's order, each drawn; two of one name in two folders refused
        before any is drawn, their maps' names being one."""
        tiny = ROOT / "tests" / "data" / "tiny.png"
        imgs = self.d / "imgs"
        for name in ("top.png", "a/x.png", "b/c/y.png"):
            (imgs / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(tiny, imgs / name)
        out = self.out.parent
        size = ["--resize", "24", "--crop", "16"]
        r = self.vggcl("cam", "--weights", self.weights, *size, "--out-dir", out, "--recursive", imgs)
        self.assertEqual(r.returncode, 0, r.stderr)
        want = self.vggcl("classify", "--weights", self.weights, *size, "--format", "json", "--recursive", imgs)
        order = [json.loads(ln)["file"] for ln in want.stdout.splitlines()]
        self.assertEqual(order, [str(imgs / n) for n in ("top.png", "a/x.png", "b/c/y.png")])
        self.assertEqual([ln.split(": class")[0] for ln in r.stdout.splitlines() if ": class" in ln], order)
        self.assertEqual(sorted(p.name for p in out.glob("*.cam.npy")), ["top.cam.npy", "x.cam.npy", "y.cam.npy"])
        for p in list(out.iterdir()):
            p.unlink()
        r = self.vggcl("cam", "--weights", self.weights, *size, "--out-dir", out, imgs)  # (the top's alone)
        self.assertEqual((r.returncode, sorted(p.name for p in out.glob("*.cam.npy"))), (0, ["top.cam.npy"]))
        for p in list(out.iterdir()):
            p.unlink()
        shutil.copy(tiny, imgs / "b" / "x.png")
        self.fails(["cam", "--weights", self.weights, *size, "--out-dir", out, "--recursive", imgs], 2,
                   f"{imgs / 'a' / 'x.png'}", f"{imgs / 'b' / 'x.png'}")

    def test_outputs_without_o_tmpfile(self):
        """Where the output's file system has no O_TMPFILE, or /proc gives no descriptor a path (here: a
        namespace with an empty /proc), the output is first written to a named temporary file beside it, short
        (DIR/.vggcl.tmp.XXXXXX): an output name of 250 bytes is written too (its NAME.tmp.XXXXXX passed the
        255 bytes of a name), and no temporary file is left."""
        if not testenv.mount_namespace() or "ASAN_OPTIONS" in os.environ:
            self.skipTest("needs root and unshare for a mount namespace (and ASan needs /proc)")
        out = self.d / ("y" * 246 + ".npy")
        r = subprocess.run(["unshare", "-m", "--", "sh", "-c", 'mount -t tmpfs none /proc && exec "$0" "$@"', VGGCL,
                            "run", "--device", "ref", "--weights", self.weights, "--input", self.x, "--output", out],
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(np.load(out).shape, (2, 3))
        self.assertEqual([p.name for p in self.d.iterdir() if ".tmp." in p.name], [])

    def test_orphaned_temporaries_swept(self):
        """A run killed by SIGKILL where the file system has no O_TMPFILE (NFS; here a namespace without /proc)
        leaves its output's named temporary file (DIR/.vggcl.tmp.XXXXXX), which nothing removed (eight kills: 301
        MB). The writer holds a lock on it while it runs, to its rename; the next output written in such a folder
        removes those no process holds that have not changed for an hour (or are dated an hour ahead), and no other
        file (one held, one readied and not yet renamed, one just made, a set's original moved aside)."""
        if not testenv.mount_namespace() or "ASAN_OPTIONS" in os.environ:
            self.skipTest("needs root and unshare for a mount namespace (and ASan needs /proc)")
        outs = self.d / "outs"
        outs.mkdir()
        listed = self.d / "list.txt"  # (a run of seconds: killed while it writes)
        listed.write_text(f"{ROOT / 'tests' / 'data' / 'tiny.png'}\n" * 20000)
        p = subprocess.Popen(["unshare", "-m", "--", "sh", "-c", 'mount -t tmpfs none /proc && exec "$0" "$@"',
                              VGGCL, "classify", "--device", "ref", "--weights", self.weights, "--crop", "16",
                              "--batch", "1", "--logits-out", outs / "l.npy", "--files-from", listed],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            deadline = time.time() + 60
            while not list(outs.glob(".vggcl.tmp.*")) and time.time() < deadline:
                time.sleep(0.05)
            (left,) = outs.glob(".vggcl.tmp.*")
            with open(left, "rb") as f, self.assertRaises(BlockingIOError):  # (held by the writer)
                fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        finally:
            p.kill()
            p.wait()
        self.assertTrue(left.exists())  # (killed: left behind)
        held, fresh, kept = outs / ".vggcl.tmp.held00", outs / ".vggcl.tmp.fresh0", outs / ".vggcl-keep.abc123"
        ahead = outs / ".vggcl.tmp.ahead0"  # (dated two hours ahead: another machine's clock; an orphan too)
        for f in (held, kept, ahead, fresh):
            f.write_bytes(b"x")
        old, later = time.time() - 7200, time.time() + 7200
        for f in (left, held, kept):
            os.utime(f, (old, old))
        os.utime(ahead, (later, later))
        # a set's file readied (named, its descriptor closed) and not yet renamed, by a program in this process, on a
        # file system with O_TMPFILE: its lock is held to the rename (it was dropped at ready: swept, the rename
        # failed)
        lib = ctypes.CDLL(str(Path(VGGCL).parent / "libvggcl.so"))
        lib.vggcl_ctx_new.restype = ctypes.c_void_p
        ctx, w = lib.vggcl_ctx_new(), ctypes.c_void_p()
        try:
            self.assertEqual(lib.vggcl_npy_writer_open(ctypes.c_void_p(ctx), str(outs / "set.npy").encode(), 1,
                                                       (ctypes.c_longlong * 1)(2), ctypes.byref(w)), 0)
            self.assertEqual(lib.vggcl_npy_writer_append(ctypes.c_void_p(ctx), w, (ctypes.c_float * 2)(1, 2),
                                                         ctypes.c_longlong(1)), 0)
            self.assertEqual(lib.vggcl_npy_writer_ready(ctypes.c_void_p(ctx), w), 0)
            readied = [f for f in outs.glob(".vggcl.tmp.*") if f not in (left, held, fresh, ahead)]
            self.assertEqual(len(readied), 1, readied)
            os.utime(readied[0], (old, old))
            with open(held, "rb") as h:
                fcntl.flock(h, fcntl.LOCK_EX)  # (another writer's, running)
                r = subprocess.run(["unshare", "-m", "--", "sh", "-c", 'mount -t tmpfs none /proc && exec "$0" "$@"',
                                    VGGCL, "run", "--device", "ref", "--weights", self.weights, "--input", self.x,
                                    "--output", outs / "o.npy"], capture_output=True, text=True, timeout=300)
                self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(lib.vggcl_npy_writer_close(ctypes.c_void_p(ctx), w, 1), 0)
        finally:
            lib.vggcl_ctx_free(ctypes.c_void_p(ctx))
        self.assertFalse(left.exists() or ahead.exists())
        self.assertEqual(sorted(f.name for f in outs.iterdir()),
                         sorted([held.name, fresh.name, kept.name, "o.npy", "set.npy"]))
        self.assertEqual(np.load(outs / "set.npy").tolist(), [[1, 2]])

    def test_control_characters_in_names(self):
        """File and class names with control characters: the text format and the messages escape them (\\n,
        \\x1b: a newline split an answer's line, an escape sequence drew on the terminal, and a name could forge
        a line of vggcl's own, which a message's own lines, such as a build log's, are now indented against);
        JSON keeps the names whole."""
        imgs = self.d / "imgs"
        imgs.mkdir()
        tiny = ROOT / "tests" / "data" / "tiny.png"
        shutil.copy(tiny, imgs / "esc\x1b[2J.png")
        shutil.copy(tiny, imgs / "new\nline.png")
        (imgs / "bad\x1b[31m\nvggcl: 0 of 3 images were skipped.png").write_bytes(b"junk")
        named = self.d / "named.safetensors"
        save_file(make_state_dict(parse_cfg(CFG), True, 3, seed=1), named,
                  metadata={"vggcl.classes": json.dumps(["a\tb", "c\nd", "e\x7f"])})
        args = ["classify", "--weights", named, "--resize", "24", "--crop", "20", "--top", "3", imgs]
        r = subprocess.run([VGGCL, *map(str, args)], capture_output=True, timeout=300)
        self.assertEqual(r.returncode, 1, r.stderr)
        lines = r.stdout.decode().splitlines()
        self.assertEqual([ln.split(":")[0] for ln in lines], [f"{imgs}/esc\\x1b[2J.png", f"{imgs}/new\\nline.png"])
        self.assertTrue(all(sorted(ln.split(": ", 1)[1].replace(",", "").split()[::2]) ==
                            ["a\\tb", "c\\nd", "e\\x7f"] for ln in lines), lines)
        self.assertNotIn(b"\x1b", r.stdout + r.stderr)
        said = r.stderr.decode().splitlines()
        self.assertIn(f"vggcl: {imgs}/bad\\x1b[31m", said)
        self.assertIn("  vggcl: 0 of 3 images were skipped.png: not a JPEG, PNG, WebP, BMP, TIFF or PNM image (skipped)", said)
        self.assertEqual([ln for ln in said if ln.startswith("vggcl: ")][-1], "vggcl: 1 of 3 images were skipped; "
                         "2 classified")
        r = self.vggcl(*args[:-1], "--format", "json", imgs)
        self.assertEqual(sorted(json.loads(ln)["file"] for ln in r.stdout.splitlines()),
                         [str(imgs / "esc\x1b[2J.png"), str(imgs / "new\nline.png")])
        self.assertEqual(sorted(t["label"] for t in json.loads(r.stdout.splitlines()[0])["top"]),
                         ["a\tb", "c\nd", "e\x7f"])
        # cam's lines, and what it wrote, into an --out-dir given with a trailing slash (out//x was printed)
        (self.d / "cams").mkdir()
        r = subprocess.run([VGGCL, "cam", "--weights", named, "--resize", "24", "--crop", "20", "--out-dir",
                            f"{self.d}/cams/", imgs / "esc\x1b[2J.png"], capture_output=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(b"\x1b", r.stdout)
        stem = f"{self.d}/cams/esc\\x1b[2J"  # (the picture, then the maps: the picture alone was named)
        self.assertIn(f"wrote {stem}.cam.png, {stem}.cam.npy, {stem}.cam-up.npy\n".encode(), r.stdout)
        k = int(re.search(rb": class (\d)", r.stdout).group(1))  # (named as classify names it: "class 2" was all)
        escaped = ["a\\tb", "c\\nd", "e\\x7f"][k]
        self.assertIn(f": class {k} ({escaped}), ".encode(), r.stdout)
        self.assertTrue((self.d / "cams" / "esc\x1b[2J.cam.png").exists())
        # eval's text: one row per class, the names escaped
        for c, name in enumerate(["a\tb", "c\nd", "e\x7f"]):
            (self.d / "data" / name).mkdir(parents=True)
            shutil.copy(tiny, self.d / "data" / name / "x.png")
        r = self.vggcl("eval", "--weights", named, "--data", self.d / "data", "--resize", "24", "--crop", "20")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [ln.split()[0] for ln in r.stdout.splitlines()[5:8]]  # (after the two lines of scores)
        self.assertEqual(rows, ["a\\tb", "c\\nd", "e\\x7f"], r.stdout)
        # the paths the reports name (run, preprocess, train-head, bench): escaped (they were printed whole)
        odd = "x\x1b[31m\nvggcl: forged"
        weights = self.d / f"w{odd}.safetensors"
        shutil.copy(named, weights)
        (self.d / f"imgs{odd}").mkdir()
        shutil.copy(tiny, self.d / f"imgs{odd}" / "a.png")
        size = ["--resize", "24", "--crop", "20"]
        for args in (["run", "--weights", weights, "--input", self.x, "--output", self.d / f"y{odd}.npy", "--features",
                      self.d / f"f{odd}.npy"],
                     ["preprocess", *size, "--output", self.d / f"p{odd}.npy", tiny],
                     ["train-head", "--weights", weights, "--data", self.d / "data", *size, "--epochs", "1", "--out",
                      self.d / f"h{odd}.safetensors"],
                     ["bench", "--weights", weights, "--size", "20", "--iters", "1"],
                     ["bench", "--weights", weights, "--images", self.d / f"imgs{odd}", *size]):
            with self.subTest(args[0]):
                r = subprocess.run([VGGCL, *map(str, args)], capture_output=True, timeout=300)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertNotIn(b"\x1b", r.stdout + r.stderr)
                self.assertNotIn(b"\nvggcl: forged", r.stdout + r.stderr)
                self.assertIn(b"x\\x1b[31m\\nvggcl: forged", r.stdout)

    def test_line_ends_beyond_ascii_in_names(self):
        """What ends a line beyond ASCII, for Python's splitlines or a terminal: U+2028 (a name could forge a line of
        vggcl's for a reader that splits lines so), the C1 control NEL, a lone byte 0x9b (an 8-bit terminal's CSI)
        and a bidirectional override or mark: escaped in the text format, kept whole in JSON, one line per image; and
        a backslash, escaped there too (a name holding the text \\x9b read as that byte's escape)."""
        imgs = self.d / "imgs"
        imgs.mkdir()
        tiny = ROOT / "tests" / "data" / "tiny.png"
        names = ["csi\udc9b[31m.png", "lrm\u200fgpj.png", "nel\u0085x.png", "rtl\u202egpj.png",
                 "sep\u2028vggcl: forged.png", "text\\x9b.png"]  # (in the order of their bytes, as vggcl lists them)
        shown = ["csi\\x9b[31m.png", "lrm\\u200fgpj.png", "nel\\u0085x.png", "rtl\\u202egpj.png",
                 "sep\\u2028vggcl: forged.png", "text\\\\x9b.png"]
        for name in names:
            shutil.copy(tiny, os.path.join(imgs, name))
        args = ["classify", "--weights", self.weights, "--resize", "24", "--crop", "20", imgs]
        r = subprocess.run([VGGCL, *map(str, args)], capture_output=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.decode(errors="surrogateescape").splitlines()
        self.assertEqual([ln.rsplit(": ", 1)[0] for ln in lines], [f"{imgs}/{s}" for s in shown])
        r = subprocess.run([VGGCL, *map(str, args[:-1]), "--format", "json", imgs], capture_output=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.decode().splitlines()
        self.assertEqual([os.fsdecode(os.fsencode(json.loads(ln)["file"])) for ln in lines],
                         [os.path.join(imgs, n) for n in names])

    def test_run_inputs_and_outputs_review(self):
        """A FIFO as --input is refused, not waited on for ever; outputs that are the same file through
        standard output or a dangling link, an empty path or a folder are refused up front (one result was
        lost, or the other output was removed after the run); --size past 2^32 is refused (it wrapped to 8);
        bench's --images options without --images, and --per-layer on the reference, are said before any
        pass; a negative .npy dimension is named as such."""
        fifo = self.d / "fifo.npy"
        os.mkfifo(fifo)
        self.fails(self.run_args(x=fifo), 1, "fifo.npy: cannot open input: not a regular file")
        feats = self.d / "out" / "f.npy"
        run = ["run", "--weights", str(self.weights), "--input", str(self.x)]
        with open(feats, "wb") as f:  # standard output redirected to the --features file
            r = subprocess.run([VGGCL, *run, "--output", "-", "--features", str(feats)], stdout=f,
                               stderr=subprocess.PIPE, text=True, timeout=300)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("are both standard output", r.stderr)
        feats.unlink()
        link = self.d / "link.npy"  # (beside out/, which the check expects empty)
        link.symlink_to("target.npy")
        self.fails([*run, "--output", link, "--features", self.d / "target.npy"], 2, "are the same file")
        link.unlink()
        self.fails(self.run_args(extra=["--features", ""]), 2, "--features is empty")
        self.fails(self.run_args(extra=["--features", self.d]), 2, f"--features {self.d} is a folder")
        self.fails(["bench", "--weights", self.weights, "--size", "4294967304"], 2, "--size must be H or HxW")
        for size in ("8x 9", "8x+9", "8x-9", " 8"):  # (strtol took blanks and a sign after the x)
            self.fails(["bench", "--weights", self.weights, "--size", size], 2, f"--size must be H or HxW (1 to 8192), "
                       f"not '{size}'")
        self.fails(["bench", "--weights", self.weights, "--size", "8", "--crop", "4"], 2, "--crop goes with --images")
        self.fails(["bench", "--weights", self.weights, "--size", "8", "--device", "ref", "--per-layer"], 2,
                   "--per-layer profiling needs an OpenCL device: --device ref is the plain-C reference, which has no "
                   "profiling events (`vggcl devices` lists the others)")
        r = self.vggcl("bench", "--weights", self.weights, "--size", "8", "--iters", "1", "--device", "ref")
        self.assertEqual(r.returncode, 0, r.stderr)  # (it said "0.0 MiB peak")
        self.assertIn("device memory: none (the reference runs in host memory)", r.stdout)
        self.assertIn("start-up:      no programs (the reference is plain C); first pass", r.stdout)
        self.assertNotIn("driver", r.stdout)  # (it said "the driver's first-use work included")
        r = self.vggcl("bench", "--weights", self.weights, "--size", "8", "--iters", "1", "--device", "ref", "--conv",
                       "winograd")  # (--conv was taken and not used, unsaid)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr.count("convolution algorithm winograd not used: the plain-C reference has one way"),
                         1, r.stderr)
        self.assertIn(", conv reference, batch ", r.stdout)  # (it said "conv winograd" after that)
        r = self.vggcl("bench", "--weights", self.weights, "--size", "8", "--iters", "1", "--device", "ref", "--json")
        self.assertEqual(json.loads(r.stdout)["conv"], "reference", r.stdout)
        bad = self.d / "neg.npy"
        header = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3, -8, 8), }"
        header += " " * (-(10 + len(header) + 1) % 64) + "\n"
        bad.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode())
        self.fails(self.run_args(x=bad), 1, "dimension 2 is not a non-negative integer")

    def test_run_input_too_large_for_the_device(self):
        """run reads a file's header, checks that the batch fits the device, and only then its values: a 3 GB input
        (sparse here) too large for the device was read whole first (3.2 GB of memory, 15 s), then refused."""
        big = self.d / "big.npy"
        header = "{'descr': '<f4', 'fortran_order': False, 'shape': (64, 3, 2048, 2048), }"
        header += " " * (-(10 + len(header) + 1) % 64) + "\n"
        with open(big, "wb") as f:
            f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode())
            f.truncate(f.tell() + 4 * 64 * 3 * 2048 * 2048)
        peak = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:], capture_output=True, text=True); "
                "print(r.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss); print(r.stderr)")
        r = subprocess.run([sys.executable, "-c", peak, VGGCL, *map(str, self.run_args(x=big))], capture_output=True,
                           text=True, timeout=300)  # (its own process: the children's peak is this run's alone)
        code, kb = map(int, r.stdout.split("\n", 1)[0].split())
        self.assertEqual(code, 1, r.stdout)
        self.assertIn("out of memory: batch 64 at 2048x2048", r.stdout)
        self.assertIn("the largest batch that fits at this size is", r.stdout)
        self.assertLess(kb, 2 << 20, "the values were read")
        self.assertEqual(list(self.out.parent.iterdir()), [])
        big.unlink()

    def test_batch_larger_than_the_images(self):
        """A --batch far larger than the images holds as many as there are (a 1000x1000 image without a
        crop at --batch 4096 asked for 49 GB: out of host memory)."""
        Image.fromarray(np.zeros((1000, 1000, 3), np.uint8)).save(self.d / "big.png")
        r = self.vggcl("classify", "--weights", self.weights, "--device", "ref", "--resize", "0", "--no-crop",
                       "--batch", "4096", "--format", "json", str(self.d / "big.png"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["file"], str(self.d / "big.png"))

    def test_ties_and_long_class_names(self):
        """Tied classes come in class order in classify's top k, the set eval counts (classify's selection
        sort was not stable: six tied classes behind a seventh gave 6, 1, 2, 3, 4, leaving 0 out); eval
        prints class names whole, in a column as wide as the longest (it cut them at 24 bytes, inside a
        character, so that two names printed alike)."""
        sd = make_state_dict(parse_cfg("4,M,8"), False, 7, seed=0)
        sd["classifier.0.weight"][:] = 0
        sd["classifier.0.bias"][:] = [0, 0, 0, 0, 0, 0, 1]
        names = ["a" + "\u00e9" * 20, "a" + "\u00e9" * 30, "x", "y", "z", "u", "v"]
        w = self.d / "tie.safetensors"
        save_file(sd, w, metadata={"vggcl.classes": json.dumps(names)})
        data = self.d / "data"
        for name in names:
            (data / name).mkdir(parents=True)
            shutil.copy(ROOT / "tests" / "data" / "tiny.png", data / name / "0.png")
        pre = ["--resize", "24", "--crop", "20"]
        r = self.vggcl("classify", "--weights", w, *pre, "--format", "json", str(data / "x" / "0.png"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([t["class"] for t in json.loads(r.stdout)["top"]], [6, 0, 1, 2, 3])
        r = self.vggcl("eval", "--weights", w, *pre, "--data", str(data))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("top-5 0.7143 (5/7)", r.stdout)  # the truths among classes 6, 0, 1, 2, 3
        rows = [ln for ln in r.stdout.splitlines() if ln.split(" ")[0] in names + ["class"]]
        self.assertEqual(len(rows), 1 + 2 * len(names), r.stdout)  # the table's and the confusion's rows
        for name in names[:2]:
            self.assertEqual(sum(ln.startswith(name + " ") for ln in rows), 2, r.stdout)
        self.assertEqual(len({ln.index(" 0.") for ln in rows[1:8]}), 1, r.stdout)  # one column for the numbers

    def test_device_failing_mid_run(self):
        """A device call failing in a later batch stops the run with the device and the batch named and
        leaves no output file."""
        images = self.d / "images"
        images.mkdir()
        for i in range(3):
            shutil.copy(ROOT / "tests" / "data" / "tiny.png", images / f"{i}.png")
        args = ["classify", "--weights", self.weights, "--batch", "1", "--resize", "24", "--crop", "20",
                "--logits-out", self.out, str(images)]
        seen = None
        for n in range(1, 200):  # the first enqueue that falls in the second batch
            r = self.vggcl(*args, env={"VGGCL_FAULT": f"enqueue:{n}"})
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(sorted(p.name for p in self.out.parent.iterdir()), [], "output left behind")
            if "batch 2 of 3" in r.stderr:
                seen = r.stderr
                break
        self.assertIsNotNone(seen, "no enqueue failure landed in the second batch")
        self.assertIn("1.png to ", seen)
        self.assertIn("CL_", seen)

    def test_several_devices(self):
        """--device LIST (the same PoCL device twice, two contexts) and --device all (on PoCL's CPU device
        listed twice, two devices of one name as a box's GPUs) spread the batches over the devices, a thread
        each; the output is the single-device run's, in order. A device failing is named by its index."""
        images = self.d / "images"
        images.mkdir()
        for i in range(7):
            shutil.copy(ROOT / "tests" / "data" / "tiny.png", images / f"{i}.png")
        (images / "3_broken.png").write_bytes(b"broken")
        outs = []
        two, name = testenv.two_devices(VGGCL) or (None, None)
        runs = [([], None), (["--device", "0,0"], None), (["--device", "all"], None)]
        for dev, env in runs + ([(["--device", "all"], two), (["--device", "1,0"], two)] if two else []):
            out = self.d / f"l{len(outs)}.npy"
            r = self.vggcl("classify", "--weights", self.weights, "--batch", "2", "--resize", "24", "--crop", "20",
                           "--format", "csv", "--logits-out", out, *dev, images, env=env)
            self.assertEqual(r.returncode, 1, r.stderr)  # the broken image
            outs.append((r.stdout, [ln for ln in r.stderr.splitlines() if "compiling" not in ln], np.load(out)))
        for stdout, stderr, logits in outs[1:]:
            self.assertEqual(stdout, outs[0][0])
            self.assertEqual(stderr, outs[0][1])
            np.testing.assert_array_equal(logits, outs[0][2])
        self.fails(["classify", "--weights", self.weights, "--device", "0,no-such-device", str(images)], 1,
                   "no-such-device")
        if not two:
            self.skipTest("two devices of one name need PoCL as the only platform (POCL_DEVICES)")
        # devices of two kinds (PoCL's CPU device and its "basic" one, as a box's GPU of another model): their
        # answers differ in the last bits, so a list of them is refused (the rows depended on which device was
        # free: three runs, three outputs), and all takes the first one's kind, saying so
        unlike = {"POCL_DEVICES": two["POCL_DEVICES"].split()[0] + " basic"}
        r = self.vggcl("classify", "--weights", self.weights, "--device", "0,1", images, env=unlike)
        self.assertEqual((r.returncode, r.stdout), (2, ""), r.stderr)
        self.assertRegex(r.stderr, r"vggcl: classify: --device 0,1: device 0 \(.*, driver .*\) and device 1 \(.*\) "
                                   r"are of "
                                   r"different kinds, whose answers differ in their last bits")
        out = self.d / "unlike.npy"
        r = self.vggcl("classify", "--weights", self.weights, "--batch", "2", "--resize", "24", "--crop", "20",
                       "--format", "csv", "--logits-out", out, "--device", "all", images, env=unlike)
        self.assertEqual(r.returncode, 1, r.stderr)  # the broken image
        self.assertEqual(r.stdout, outs[0][0])
        self.assertRegex(r.stderr, r"vggcl: --device all: the 1 device of device 0's kind \(.*\); 1 of other kinds "
                                   r"left out")
        # a device failing is named by its index: in a batch, and while the model loads on one of several
        for n in range(1, 100):  # the first enqueue in a batch
            r = self.vggcl("classify", "--weights", self.weights, "--batch", "2", "--resize", "24", "--crop", "20",
                           "--device", "1", images, env=dict(two, VGGCL_FAULT=f"enqueue:{n}"))
            self.assertEqual(r.returncode, 1, r.stderr)
            if ", batch " in r.stderr:
                self.assertIn(f"\nvggcl: device 1 ({name}), batch ", "\n" + r.stderr)
                break
        else:
            self.fail("no enqueue failure landed in a batch")
        r = self.vggcl("classify", "--weights", self.weights, "--device", "1,0", images,
                       env=dict(two, VGGCL_FAULT="buffer:1"))  # (device 1 loads first)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"\nvggcl: device 1 ({name}): layer ", "\n" + r.stderr)

    def test_double_dash_and_empty_folder(self):
        img = self.d / "-dash.png"
        shutil.copy(ROOT / "tests" / "data" / "tiny.png", img)
        r = self.vggcl("preprocess", "--output", self.out, "--resize", "8", "--crop", "8", "--", str(img))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(np.load(self.out).shape, (1, 3, 8, 8))
        self.out.unlink()
        empty = self.d / "empty"
        empty.mkdir()
        self.fails(["classify", "--weights", self.weights, str(empty)], 2, "holds no JPEG, PNG, WebP, BMP, TIFF or PNM images")
        # a path ending in / that is no folder (a typo in a folder's name): refused naming it, before any image (it
        # was one unreadable image: exit 1 and an empty --logits-out, as a run that met a few bad files)
        for path in (f"{self.d / 'imgz'}/", f"{img}/"):
            for cmd in (["classify", "--weights", self.weights, "--logits-out", self.out, "--recursive"],
                        ["preprocess", "--output", self.out]):
                self.fails([*cmd, path, str(img)], 2, f"vggcl: {cmd[0]}: {path}: no such folder (a path ending in / "
                           "names a folder)")
        self.fails(["classify", "--weights", self.weights], 2, "at least one image")
        # an ImageFolder's root (class folders, as train-head and eval take): the way to its images said, where the
        # command has it
        (empty / "cat").mkdir()
        shutil.copy(ROOT / "tests" / "data" / "tiny.png", empty / "cat" / "a.png")
        self.fails(["classify", "--weights", self.weights, str(empty)], 2, "images (.jpg, .jpeg, .png, .webp, .bmp, "
                   ".tif, .tiff, .ppm, .pgm); it holds folders: --recursive takes the images in them")
        r = self.vggcl("classify", "--weights", self.weights, "--recursive", str(empty))
        self.assertEqual(r.returncode, 0, r.stderr)
        r = self.vggcl("cam", "--weights", self.weights, "--out-dir", self.d, str(empty))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(".ppm, .pgm); it holds folders: --recursive takes the images in them", r.stderr)
        r = self.vggcl("bench", "--weights", self.weights, "--images", str(empty), "--device", "ref")
        self.assertEqual(r.returncode, 2, r.stderr)  # (as classify: it was exit 1, "no ... images to run")
        self.assertIn(f"bench: --images {empty} holds no JPEG, PNG, WebP, BMP, TIFF or PNM images (.jpg, .jpeg, .png, "
                      ".webp, .bmp, .tif, .tiff, .ppm, .pgm); it holds folders: --recursive takes the images in them",
                      r.stderr)
        png = self.d / "pic.png"
        shutil.copy(ROOT / "tests" / "data" / "tiny.png", png)
        self.fails(self.run_args(x=png), 1, "pic.png", "an image, not a .npy tensor", "vggcl preprocess")

    # --- files --------------------------------------------------------------
    def test_missing_files(self):
        self.fails(self.run_args(weights=self.d / "nope.safetensors"), 1, "nope.safetensors", "cannot open")
        self.fails(self.run_args(x=self.d / "nope.npy"), 1, "nope.npy", "cannot open")
        self.fails(self.run_args(x=self.d), 1, str(self.d), "Is a directory")
        # a folder, a FIFO and an array given for the weights said as what they are (a folder was "not a regular
        # file?", an array a header length of 15 digits)
        self.fails(self.run_args(weights=self.d), 1, f"vggcl: {self.d}: a folder, not a weights file\n")
        os.mkfifo(self.d / "fifo")
        self.fails(self.run_args(weights=self.d / "fifo"), 1,
                   f"vggcl: {self.d / 'fifo'}: not a regular file (a FIFO, a device): weights are read from one\n")
        (self.d / "fifo").unlink()
        np.save(self.d / "a.npy", np.zeros((1, 3, 8, 8), np.float32))
        self.fails(self.run_args(weights=self.d / "a.npy"), 1,
                   f"vggcl: {self.d / 'a.npy'}: an .npy array, not a safetensors weights file\n")
        (self.d / "a.npy").unlink()

    def test_bad_npy(self):
        cases = {
            "f64.npy": (np.zeros((1, 3, 8, 8)), "'<f8'; expected float32"),
            "3d.npy": (np.zeros((3, 8, 8), np.float32), "expected (N, 3, H, W)"),
            "gray.npy": (np.zeros((1, 1, 8, 8), np.float32), "shape (1, 1, 8, 8)"),
            "flat.npy": (np.zeros(1152, np.float32), "shape (1152,);"),  # (as numpy writes a 1-d shape)
            "fortran.npy": (np.asfortranarray(np.zeros((1, 3, 8, 9), np.float32)), "Fortran"),
            "zero-h.npy": (np.zeros((1, 3, 0, 8), np.float32), "H, W >= 1"),
        }
        for name, (arr, needle) in cases.items():
            np.save(self.d / name, arr)
            self.fails(self.run_args(x=self.d / name), 1, name, needle)
        # no images (an empty share of `preprocess --shard`): arrays of no rows, as classify writes for one (it
        # was refused, so a share's run could not go on to be concatenated); a size the network cannot take is not
        np.save(self.d / "empty.npy", np.zeros((0, 3, 16, 12), np.float32))
        r = self.vggcl(*self.run_args(x=self.d / "empty.npy", extra=["--features", self.d / "f.npy"]))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual((np.load(self.out).shape, np.load(self.d / "f.npy").shape), ((0, 3), (0, 16)))
        self.out.unlink(), (self.d / "f.npy").unlink()
        np.save(self.d / "empty.npy", np.zeros((0, 3, 4, 4), np.float32))
        self.fails(self.run_args(x=self.d / "empty.npy"), 1, "input (N, 3, 4, 4) is too small")
        raw = (self.d / "x.npy").read_bytes()
        (self.d / "trunc.npy").write_bytes(raw[:-10])
        self.fails(self.run_args(x=self.d / "trunc.npy"), 1, "trunc.npy", "truncated")
        (self.d / "long.npy").write_bytes(raw + b"\0\0\0\0")
        self.fails(self.run_args(x=self.d / "long.npy"), 1, "long.npy", "trailing bytes")
        (self.d / "text.npy").write_text("hello, not numpy\n")
        self.fails(self.run_args(x=self.d / "text.npy"), 1, "text.npy", "not a .npy file")
        # a version 2 header's length: past the 1 MiB numpy itself reads, and past the file's end (one message
        # said both, and out of memory too)
        (self.d / "huge.npy").write_bytes(b"\x93NUMPY\x02\x00" + struct.pack("<I", 0xFFFFFFFF) + b"{")
        self.fails(self.run_args(x=self.d / "huge.npy"), 1, "huge.npy: .npy header of 4294967295 bytes; at most 1 MiB")
        (self.d / "cut.npy").write_bytes(raw[:60])
        self.fails(self.run_args(x=self.d / "cut.npy"), 1,
                   f"cut.npy: truncated .npy header (50 of its {struct.unpack('<H', raw[8:10])[0]} bytes)")

    def test_input_from_a_pipe(self):
        """run --input - (or /dev/fd/N, a pipe the shell opened) reads the tensor from a pipe, as `preprocess
        --output -` writes it: the same logits as from the file; a stream cut short, one with bytes after the
        values, a terminal and another device are refused, no output left (- was "No such file or directory",
        a pipe "not a regular file"). The pipe is read through its descriptor, never opened by name: a pipe
        whose writer had already gone waited for good."""
        raw = self.x.read_bytes()
        r = self.vggcl(*self.run_args())
        self.assertEqual(r.returncode, 0, r.stderr)
        want = np.load(self.out)
        self.out.unlink()

        def piped(data, x="-"):
            return subprocess.run([VGGCL, *map(str, self.run_args(x=x))], input=data, capture_output=True,
                                  timeout=300)
        r = piped(raw)
        self.assertEqual(r.returncode, 0, r.stderr)
        np.testing.assert_array_equal(np.load(self.out), want)
        self.out.unlink()
        read_end, write_end = os.pipe()  # a pipe at descriptor 3, its writer gone before vggcl starts
        os.write(write_end, raw)
        os.close(write_end)
        try:
            r = subprocess.run(["sh", "-c", 'exec "$@" 3<&0 <&-', "sh", VGGCL, *map(str, self.run_args(x="/dev/fd/3"))],
                               stdin=read_end, capture_output=True, timeout=300)
        finally:
            os.close(read_end)
        self.assertEqual(r.returncode, 0, r.stderr)
        np.testing.assert_array_equal(np.load(self.out), want)
        self.out.unlink()
        # a pipe whose reading end is non-blocking (a runtime set it on the shared descriptor), its bytes late:
        # waited for (EAGAIN read as the end: "truncated")
        read_end, write_end = os.pipe()
        os.set_blocking(read_end, False)
        p = subprocess.Popen([VGGCL, *map(str, self.run_args(x="-"))], stdin=read_end, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        os.close(read_end)
        try:
            for part in (raw[:200], raw[200:3000], raw[3000:]):
                time.sleep(0.3)
                os.write(write_end, part)
        finally:
            os.close(write_end)
        _, err = p.communicate(timeout=300)
        self.assertEqual(p.returncode, 0, err)
        np.testing.assert_array_equal(np.load(self.out), want)
        self.out.unlink()
        for data, needle in ((raw[:-10], "/dev/stdin: truncated: 1149 of 1152 float32 values present"),
                             (raw + b"\0" * 4, "/dev/stdin: trailing bytes after 1152 float32 values"),
                             (b"NUMPY", "/dev/stdin: not a .npy file (no \\x93NUMPY magic)"),
                             (b"", "/dev/stdin: empty (0 bytes), not a .npy file")):
            r = piped(data)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertEqual(vggcl_lines(r.stderr.decode()), [f"vggcl: {needle}"], r.stderr)
            self.assertEqual(list(self.out.parent.iterdir()), [])
        # standard input a regular file: read as one; an output that would replace it is refused
        with open(self.x, "rb") as f:
            r = subprocess.run([VGGCL, *map(str, self.run_args(x="-"))], stdin=f, capture_output=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        np.testing.assert_array_equal(np.load(self.out), want)
        self.out.unlink()
        with open(self.x, "rb") as f:
            r = subprocess.run([VGGCL, "run", "--weights", self.weights, "--input", "-", "--output", self.x],
                               stdin=f, capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(f"--output {self.x} is the file --input /dev/stdin: it would be replaced", r.stderr)
        self.fails(self.run_args(x="/dev/zero"), 1, "/dev/zero: cannot open input: not a regular file, nor a pipe")
        with open(os.devnull, "rb") as null:  # (it said "nor a pipe this process holds (standard input)")
            r = subprocess.run([VGGCL, *map(str, self.run_args(x="-"))], stdin=null, capture_output=True, text=True,
                               timeout=300)
        self.assertEqual((r.returncode, vggcl_lines(r.stderr)), (1, ["vggcl: /dev/stdin: cannot open input: a device "
                                                                     "(a terminal, /dev/null), not a regular file or a "
                                                                     "pipe"]))
        if os.path.exists("/dev/ptmx"):  # a terminal as standard input
            import pty
            leader, follower = pty.openpty()
            try:
                r = subprocess.run([VGGCL, *map(str, self.run_args(x="-"))], stdin=follower, capture_output=True,
                                   text=True, timeout=300)
            finally:
                os.close(leader), os.close(follower)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertEqual(vggcl_lines(r.stderr), ["vggcl: run: --input -: standard input is a terminal; pipe a "
                                                     ".npy into it"])
            # and as standard output, for an array (it printed the .npy's bytes there), before any work
            leader, follower = pty.openpty()
            try:
                for args, said in ((["run", "--weights", self.weights, "--input", self.x, "--output", "-"],
                                    "run: --output -"),
                                   (["preprocess", "--output", "/dev/stdout", ROOT / "tests" / "data" / "tiny.png"],
                                    "preprocess: --output /dev/stdout")):
                    r = subprocess.run([VGGCL, *map(str, args)], stdout=follower, stderr=subprocess.PIPE, text=True,
                                       timeout=300)
                    self.assertEqual(r.returncode, 2, r.stderr)
                    self.assertEqual(vggcl_lines(r.stderr), [f"vggcl: {said}: standard output is a terminal; "
                                                             "redirect it to a file or a pipe"])
            finally:
                os.close(leader), os.close(follower)

    def test_npy_header_as_numpy(self):
        """Hand-written headers: vggcl takes exactly those numpy takes, with the same values."""
        data = np.load(self.x)
        shape = "(2, 3, 16, 12)"
        cases = {  # name: (header dict, numpy and vggcl take it, a needle of vggcl's refusal)
            "dq": ('{"descr": "<f4", "fortran_order": False, "shape": %s}' % shape, True, ""),
            "native": ("{'descr': 'f4', 'fortran_order':False,'shape':(2,3,16,12,)}", True, ""),
            "py2": ("{'descr':'<f4',\n 'fortran_order': False, 'shape': (2L, 3L, 16L, 12L), }", True, ""),
            "extra": ("{'descr': '<f4', 'fortran_order': False, 'shape': %s, 'x': 1}" % shape, False, "'x'"),
            "falsey": ("{'descr': '<f4', 'fortran_order': Falsey, 'shape': %s}" % shape, False, "fortran_order"),
            "inside": ("{'fortran_order': False, 'shape': %s, 'descr': '<f8', 'q': \"'descr': '<f4'\"}" % shape,
                       False, "'q'"),
            "nodescr": ("{'fortran_order': False, 'shape': %s}" % shape, False, "no 'descr'"),
            "list": ("{'descr': '<f4', 'fortran_order': False, 'shape': [2, 3, 16, 12]}", False, "not a tuple"),
            "int": ("{'descr': '<f4', 'fortran_order': False, 'shape': (1152)}", False, "not a tuple"),
            "after": ("{'descr': '<f4', 'fortran_order': False, 'shape': %s} 0" % shape, False, "after the dict"),
            "nul": ("{'descr': '<f4', 'fortran_order': False, 'shape': %s}\0\0\0" % shape, False, "a NUL byte"),
        }
        ref = self.vggcl(*self.run_args())
        self.assertEqual(ref.returncode, 0, ref.stderr)
        want = np.load(self.out)
        self.out.unlink()
        for name, (header, takes, needle) in cases.items():
            text = header.encode("latin1")
            text += b" " * ((64 - (10 + len(text) + 1) % 64) % 64) + b"\n"
            path = self.d / f"{name}.npy"
            path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + data.tobytes())
            try:
                np.testing.assert_array_equal(np.load(path), data)
                numpy_takes = True
            except (ValueError, SyntaxError):
                numpy_takes = False
            self.assertEqual(numpy_takes, takes, name)
            if not takes:
                self.fails(self.run_args(x=path), 1, f"{name}.npy", needle)
                continue
            r = self.vggcl(*self.run_args(x=path))
            self.assertEqual(r.returncode, 0, f"{name}: {r.stderr}")
            np.testing.assert_array_equal(np.load(self.out), want)
            self.out.unlink()
        # shapes past vggcl's limits (numpy would try to allocate them): the dimension or the limit named (it said
        # "shape value too large", "shape is too large")
        for name, dims, needle in (("dim", "(1099511627777, 3, 16, 12)", "dimension 0 of the shape is 1099511627777; "
                                    "vggcl reads dimensions up to 2^40"),
                                   ("huge", "(2, 99999999999999999999999, 16, 12)", "dimension 1 of the shape is "
                                    "99999999999999999999999; vggcl reads dimensions up to 2^40"),
                                   ("product", "(1099511627776, 1099511627776, 3, 8)", "the shape's dimensions multiply "
                                    "to more float32 values than a size_t counts in bytes")):
            text = ("{'descr': '<f4', 'fortran_order': False, 'shape': %s}" % dims).encode("latin1")
            text += b" " * ((64 - (10 + len(text) + 1) % 64) % 64) + b"\n"
            path = self.d / f"{name}.npy"
            path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + data.tobytes())
            self.fails(self.run_args(x=path), 1, f"{name}.npy: {needle}")

    def test_pool5_against_metadata_said(self):
        """--pool5 that runs a model otherwise than its metadata's vggcl.pool5 says its head was made for is said
        (run, classify, eval, cam; not the setting the file says): a head trained with pool5 dropped scored 0.83
        with it kept, against 1.0, unsaid. cam --compare-pool5 says which of its panels that is (unsaid: one
        always was), or that either may be where the file does not say."""
        dropped = self.d / "dropped.safetensors"
        save_file(make_state_dict(parse_cfg(CFG), True, 3, seed=1), dropped, {"vggcl.pool5": "drop"})
        img = self.d / "data" / "a" / "p.png"
        img.parent.mkdir(parents=True)
        Image.fromarray((np.random.default_rng(3).random((20, 17, 3)) * 255).astype(np.uint8)).save(img)
        note = (f"vggcl: {dropped}: its head was made for pool5 dropped (its metadata \"vggcl.pool5\"); --pool5 keep "
                "gives it features it was not trained on (vggcl train-head --pool5 keep makes a head for them)")
        pre = ["--resize", "24", "--crop", "16", "--device", "ref"]
        cam = ["cam", "--weights", dropped, *pre, "--out-dir", self.d, img]
        for args, said in ((self.run_args(dropped, extra=["--pool5", "keep"]), True),
                           (self.run_args(dropped, extra=["--pool5", "drop"]), False),
                           (self.run_args(dropped), False),
                           (["classify", "--weights", dropped, *pre, "--pool5", "keep", img], True),
                           (["eval", "--weights", dropped, *pre, "--pool5", "keep", "--data", img.parent.parent], True),
                           ([*cam, "--pool5", "keep"], True), ([*cam, "--compare-pool5"], False)):
            r = self.vggcl(*args)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(vggcl_lines(r.stderr).count(note), int(said), (args, r.stderr))
        r = self.vggcl(*cam, "--compare-pool5")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(vggcl_lines(r.stderr), [f"vggcl: {dropped}: its head was made for pool5 dropped (its metadata "
                                                 "\"vggcl.pool5\"); --compare-pool5's pool5-kept panel gives it features it "
                                                 "was not trained on (vggcl train-head --pool5 keep makes a head for them)"])
        unsaid = self.d / "unsaid.safetensors"
        save_file(make_state_dict(parse_cfg(CFG), True, 3, seed=1), unsaid)
        r = self.vggcl("cam", "--weights", unsaid, *pre, "--out-dir", self.d, img, "--compare-pool5")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"vggcl: {unsaid}: says not which pool5 its head was made for (no metadata \"vggcl.pool5\"): one "
                      "of --compare-pool5's panels gives it features it was not trained on\n", r.stderr)
        # and the other way round: a file made for pool5 kept, run with it dropped
        kept = self.d / "kept.safetensors"
        save_file(make_state_dict(parse_cfg(CFG), True, 3, seed=1), kept, {"vggcl.pool5": "keep"})
        r = self.vggcl(*self.run_args(kept, extra=["--pool5", "drop"]))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"vggcl: {kept}: its head was made for pool5 kept (its metadata \"vggcl.pool5\"); --pool5 drop "
                      "gives it features it was not trained on (vggcl train-head --pool5 drop makes a head for them)\n",
                      r.stderr)

    def test_make_test_weights_pool5(self):
        """make_test_weights.py: a configuration's last M is pool5, written as vggcl.pool5 keep (it was dropped
        unsaid: 8,M,16,M made 8,M,16's bytes), and refused with --pool5 drop."""
        tool = [sys.executable, str(ROOT / "weights" / "make_test_weights.py"), "--classes", "3"]
        files = {}
        for cfg in ("8,M,16", "8,M,16,M"):
            files[cfg] = self.d / f"{cfg.count('M')}.safetensors"
            subprocess.run([*tool, "--cfg", cfg, "--out", files[cfg]], check=True, capture_output=True)
        self.assertNotIn("vggcl.pool5", load_file(files["8,M,16"])[1])
        self.assertEqual(load_file(files["8,M,16,M"])[1]["vggcl.pool5"], "keep")
        r = subprocess.run([*tool, "--cfg", "8,M,16,M", "--pool5", "drop", "--out", self.d / "no.safetensors"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 2)
        self.assertIn("ends with pool5 (M), and --pool5 drop drops it", r.stderr)
        # --arch's pool5 can be dropped (its weights are the same; it was refused as a --cfg ending in M is)
        r = subprocess.run([*tool, "--arch", "vgg11", "--pool5", "drop", "--out", self.d / "v11.safetensors"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(load_file(self.d / "v11.safetensors")[1]["vggcl.pool5"], "drop")
        (self.d / "v11.safetensors").unlink()
        for cfg in ("M,8,16", "8,M,M,16", "8,M,M"):  # (vggcl refused the first two, ran the third with one pool)
            r = subprocess.run([*tool, "--cfg", cfg, "--out", self.d / "no.safetensors"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 2, cfg)
            self.assertIn("starts with a width and has no two M in a row", r.stderr)
        self.assertFalse((self.d / "no.safetensors").exists())

    def test_make_test_weights_refusals(self):
        """make_test_weights.py refuses what it cannot make, naming the option (exit 2, argparse's), and an output
        it cannot write (exit 1); no file either way."""
        tool = [sys.executable, str(ROOT / "weights" / "make_test_weights.py")]
        out = self.d / "no.safetensors"
        for args, said in ((["--classes", "0"], "--classes 0: expected at least 1"),
                           (["--cfg", "8,X,16"], "--cfg 8,X,16: expected widths and M separated by commas"),
                           (["--cfg", "8,M,0"], "--cfg 8,M,0: widths from 1 to 65536 expected"),
                           (["--cfg", "65537"], "--cfg 65537: widths from 1 to 65536 expected"),
                           (["--seed", "-1"], "--seed -1: expected 0 or more")):
            with self.subTest(args):
                r = subprocess.run([*tool, *args, "--out", out], capture_output=True, text=True)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(said, r.stderr)
                self.assertFalse(out.exists())
        r = subprocess.run([*tool, "--cfg", "4", "--out", self.d / "missing" / "w.safetensors"], capture_output=True,
                           text=True)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"{self.d / 'missing' / 'w.safetensors'}: cannot write: No such file or directory", r.stderr)

    def test_input_too_small(self):
        np.save(self.d / "small.npy", np.zeros((1, 3, 7, 20), np.float32))
        self.fails(self.run_args(x=self.d / "small.npy"), 1, "too small", "at least 8x8")

    def test_crop_too_small(self):
        """A --crop the network does not take is refused before any image, naming --crop, by every command that
        takes one (classify failed at its first pass as "input (N, 3, 4, 4) is too small", cam and bench --images
        skipped every image, preprocess --weights wrote a tensor the model does not take, exit 0); a model whose own
        metadata says such a crop is refused so too (its file's fault: exit 1)."""
        tiny = ROOT / "tests" / "data" / "tiny.png"
        data = self.d / "data"
        for c in "ab":
            (data / c).mkdir(parents=True)
            shutil.copy(tiny, data / c / "x.png")
        out = self.out.parent
        crop = ["--resize", "16", "--crop", "4"]
        for args in (["classify", "--weights", self.weights, *crop, "--logits-out", self.out, tiny],
                     ["cam", "--weights", self.weights, *crop, "--out-dir", out, tiny],
                     ["preprocess", "--weights", self.weights, *crop, "--output", self.out, tiny],
                     ["bench", "--weights", self.weights, *crop, "--images", data / "a"],
                     ["eval", "--weights", self.weights, *crop, "--data", data],
                     ["train-head", "--weights", self.weights, *crop, "--data", data, "--out", out / "h.safetensors"]):
            with self.subTest(args[0]):
                r = self.fails(args, 2, "--crop 4: smaller than the 8 x 8 the network takes")
                self.assertEqual(len([ln for ln in r.stderr.splitlines() if ln.startswith("vggcl: ")]), 1, r.stderr)
        state, _ = load_file(self.weights)
        save_file(state, self.d / "cropped.safetensors", metadata={"vggcl.crop": "6", "vggcl.resize": "16"})
        self.fails(["classify", "--weights", self.d / "cropped.safetensors", "--logits-out", self.out, tiny], 1,
                   "the model's crop (its metadata \"vggcl.crop\") 6: smaller than the 8 x 8 the network takes")
        r = self.vggcl("classify", "--weights", self.d / "cropped.safetensors", "--crop", "8", tiny)
        self.assertEqual(r.returncode, 0, r.stderr)
        # without a crop, a resize of both sides sets every image's size: refused so too (and taken at 8 x 30)
        no_crop = ["--resize", "30x4", "--no-crop"]
        for args in (["classify", "--weights", self.weights, *no_crop, "--logits-out", self.out, tiny],
                     ["preprocess", "--weights", self.weights, *no_crop, "--output", self.out, tiny],
                     ["bench", "--weights", self.weights, *no_crop, "--images", data / "a"]):
            with self.subTest(args[0], no_crop=True):
                self.fails(args, 2, "--resize 30x4: smaller than the 8 x 8 the network takes")
        save_file(state, self.d / "sides.safetensors", metadata={"vggcl.crop": "0", "vggcl.resize": "6,30"})
        self.fails(["classify", "--weights", self.d / "sides.safetensors", "--logits-out", self.out, tiny], 1,
                   "the model's resize (its metadata \"vggcl.resize\") 6,30: smaller than the 8 x 8 the network takes")
        r = self.vggcl("preprocess", "--weights", self.d / "sides.safetensors", "--resize", "8x30", "--output",
                       self.out, tiny)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(np.load(self.out).shape, (1, 3, 8, 30))

    def test_metadata_on_the_0_255_scale(self):
        """A file whose own mean (or std) looks like the 0..255 scale (exported with --mean 123.68 before the exporter
        refused it: every input a near-constant, wrong answers) is taken as written, an imported graph may scale
        so, and said once; values within it say nothing."""
        state, _ = load_file(self.weights)
        tiny = ROOT / "tests" / "data" / "tiny.png"
        for meta, said in (({"vggcl.mean": "123.68,116.78,103.94", "vggcl.std": "58.4,57.1,57.4"},
                            "its metadata \"vggcl.mean\": mean 123.68,116.78,103.94 is above 1"),
                           ({"vggcl.std": "0.2,58.4,0.2"},
                            "its metadata \"vggcl.std\": std 0.2,58.4,0.2 is 10 or above"),
                           ({"vggcl.mean": "1,0.5,0.5", "vggcl.std": "9.5,1,1"}, None)):
            path = self.d / "m.safetensors"
            save_file(state, path, metadata=meta)
            r = self.vggcl("classify", "--weights", path, "--resize", "16", "--crop", "16", tiny)
            self.assertEqual(r.returncode, 0, r.stderr)
            notes = [ln for ln in r.stderr.splitlines() if "0..255" in ln]
            self.assertEqual(len(notes), 1 if said else 0, r.stderr)  # (once: the std's after the mean's unsaid)
            for ln in notes:
                self.assertTrue(ln.startswith(f"vggcl: {path}: {said}, as on the scale of 0..255: the pixels are "
                                              "x/255, from 0 to 1, before (x - mean)/std; taken as written, as an "
                                              "imported graph may scale so, but a model exported with such a --"), ln)
                self.assertTrue(ln.endswith(" gives wrong answers: export it again with the values divided by 255"))

    def test_image_wider_than_vggcl_takes(self):
        """An image past VGGCL_MAX_SIDE a side (--no-crop) is named and skipped as one too small is, the others
        classified: first in the list it failed the whole run ("input (N, 3, 12, 65540): expected 1 <= H, W <=
        65536", nothing classified), as vggcl_model_map_size gave it a map."""
        wide, ok = self.d / "wide.png", self.d / "ok.png"
        Image.fromarray(np.full((12, 65540, 3), 90, np.uint8)).save(wide)
        Image.fromarray(np.full((12, 12, 3), 90, np.uint8)).save(ok)
        for cmd in (["classify"], ["cam", "--out-dir", self.out.parent]):
            r = self.vggcl(*cmd, "--weights", self.weights, "--resize", "0", "--no-crop", wide, ok)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"vggcl: {wide}: preprocesses to 65540 x 12 pixels (width x height): larger than vggcl takes "
                          "(at most 65536 a side and 2^31 - 1 pixels) (skipped)\n", r.stderr)
            self.assertIn(f"{ok}: class ", r.stdout)
        self.assertEqual(sorted(p.name for p in self.out.parent.iterdir()),
                         ["ok.cam-up.npy", "ok.cam.npy", "ok.cam.png"])

    def test_sizes_where_one_pool_rounds_up(self):
        """A model whose first max pool alone rounds up ("vggcl.pool_ceil" 1,0,0) takes even sizes from its least
        side (8) up: a size refused names a multiple of 2, as the library says it (the command line said 8, the
        least side, beside the library's 2), for --crop, for an image of its own size and for an array; 10 runs."""
        state, _ = load_file(self.weights)
        ceil = self.d / "ceil.safetensors"
        save_file(state, ceil, metadata={"vggcl.pool_ceil": "1,0,0"})
        tiny = ROOT / "tests" / "data" / "tiny.png"
        self.fails(["classify", "--weights", ceil, "--resize", "16", "--crop", "9", tiny], 2,
                   "--crop 9: a pool that rounds up gets an odd map there (the model's \"vggcl.pool_ceil\"; "
                   "vggcl's pools round down): give sizes that are multiples of 2\n")
        r = self.vggcl("classify", "--weights", ceil, "--resize", "16", "--crop", "10", tiny)
        self.assertEqual(r.returncode, 0, r.stderr)
        odd = self.d / "odd.png"
        Image.fromarray(np.full((9, 11, 3), 90, np.uint8)).save(odd)
        for cmd in (["classify"], ["cam", "--out-dir", self.out.parent]):
            r = self.vggcl(*cmd, "--weights", ceil, "--resize", "0", "--no-crop", odd)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"{odd}: preprocesses to 11 x 9 pixels (width x height): a pool that rounds up gets "
                          "an odd map there (the model's \"vggcl.pool_ceil\"; vggcl's pools round down): give sizes "
                          "that are "
                          "multiples of 2 (skipped)", r.stderr)
        np.save(self.d / "x9.npy", np.zeros((1, 3, 9, 10), np.float32))
        self.fails(self.run_args(weights=ceil, x=self.d / "x9.npy"), 1, "input (N, 3, 9, 10): layer max pool after "
                   "features.0 gets a 9x10 map, which it rounds up", "as at a multiple of 2\n")

    def test_sizes_of_a_model_of_one_size(self):
        """A head that flattens its map, in a model whose graph took one size ("vggcl.input_size", as import_onnx.py
        writes it): sizes that make another map are refused (vggcl pooled the map to 7x7, which the graph does not:
        answers of another network, exit 0), for --crop, an image of its own size and an array; sizes that make the
        same map run; a GAP head takes any size; a malformed size is refused at load, naming the key."""
        rng = np.random.default_rng(5)
        sd = make_state_dict(parse_cfg("8,M,8,M"), False, 3, seed=5)
        sd["classifier.0.weight"] = rng.normal(0, 0.05, (3, 8 * 49)).astype(np.float32)  # (28 x 28: a 7x7 map)
        one = self.d / "one.safetensors"
        save_file(sd, one, metadata={"vggcl.input_size": "28,28"})
        tiny = ROOT / "tests" / "data" / "tiny.png"
        needle = ("its head flattens the map of the one size the model's graph took, 28 x 28 (width x height; its "
                  "\"vggcl.input_size\"), and this size makes another: give that size")
        self.fails(["classify", "--weights", one, "--resize", "32", "--crop", "32", tiny], 2, f"--crop 32: {needle}\n")
        for crop in (28, 31):  # (a 7x7 map)
            r = self.vggcl("classify", "--weights", one, "--resize", crop, "--crop", crop, tiny)
            self.assertEqual(r.returncode, 0, r.stderr)
        r = self.vggcl("classify", "--weights", one, "--resize", "0", "--no-crop", tiny)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"{tiny}: preprocesses to 36 x 40 pixels (width x height): {needle} (skipped)", r.stderr)
        np.save(self.d / "x32.npy", np.zeros((1, 3, 32, 32), np.float32))
        self.fails(self.run_args(weights=one, x=self.d / "x32.npy"), 1, "input (N, 3, 32, 32): its map is 8x8, and "
                   "the head flattens the 7x7 map of the 28x28 images the model's graph took alone (its "
                   "\"vggcl.input_size\"; vggcl would pool it to 7x7, which the graph does not): give 28x28 images\n")
        self.assertFalse(self.out.exists())
        r = self.vggcl(*self.run_args(weights=one, x=self.d / "x32.npy", extra=("--pool5", "drop")))
        self.assertEqual(r.returncode, 0, r.stderr)  # (another network than the graph's: any size)
        self.out.unlink()
        gap = self.d / "gap.safetensors"
        save_file(make_state_dict(parse_cfg("8,M,8,M"), False, 3, seed=5), gap, metadata={"vggcl.input_size": "28,28"})
        r = self.vggcl(*self.run_args(weights=gap, x=self.d / "x32.npy"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.out.unlink()
        save_file(sd, one, metadata={"vggcl.input_size": "28x28"})
        self.fails(self.run_args(weights=one, x=self.d / "x32.npy"), 1, f"{one}: __metadata__ \"vggcl.input_size\" is "
                   "\"28x28\"; expected H,W")
        # a size the network cannot take (it turned the check off, unsaid): refused at load
        save_file(sd, one, metadata={"vggcl.input_size": "3,3"})
        self.fails(self.run_args(weights=one, x=self.d / "x32.npy"), 1, f"{one}: __metadata__ \"vggcl.input_size\" is "
                   "\"3,3\", a size this network cannot take (at least 4x4): not the size of the graph it was "
                   "imported from\n")
        save_file(sd, one, metadata={"vggcl.input_size": "4,4"})  # (the least it takes: a 1x1 map, not 7x7's)
        self.fails(self.run_args(weights=one, x=self.d / "x32.npy"), 1, "the head flattens the 1x1 map of the 4x4 "
                   "images")
        # one where a pool that rounds up gets an odd map: refused at load (it loaded, each pass then refused)
        sd["classifier.0.weight"] = rng.normal(0, 0.05, (3, 8 * 49)).astype(np.float32)
        save_file(sd, one, metadata={"vggcl.input_size": "27,27", "vggcl.pool_ceil": "1"})
        self.fails(self.run_args(weights=one, x=self.d / "x32.npy"), 1, f"{one}: __metadata__ \"vggcl.input_size\" is "
                   "\"27,27\", a size at which layer max pool after features.0 gets a 27x27 map, which it rounds up "
                   "(\"vggcl.pool_ceil\"): vggcl runs such a model where those maps are even, as at a multiple of 4, "
                   "so not at the one size its head takes\n")

    def test_bad_weights(self):
        # more convolutions than any VGG (a file of 41000 one-channel convs, 9 MB, took 1.7 GB on PoCL): refused
        # when loaded, naming the count; 1024 still load
        for convs, code in ((1025, 1), (1024, 0)):
            save_file(make_state_dict(parse_cfg(",".join(["1"] * convs)), False, 2, seed=1), self.d / "deep.safetensors")
            r = self.vggcl("bench", "--weights", self.d / "deep.safetensors", "--size", "8", "--iters", "1",
                           "--device", "ref")
            self.assertEqual(r.returncode, code, r.stderr)
            if code:
                self.assertIn("deep.safetensors: 1025 convolutions (features.N.weight of 4 dimensions); vggcl runs at "
                              "most 1024 (VGG19 has 16)", r.stderr)
        good = self.weights.read_bytes()
        (self.d / "trunc.safetensors").write_bytes(good[:-100])
        self.fails(self.run_args(weights=self.d / "trunc.safetensors"), 1, "trunc.safetensors", "truncated")
        (self.d / "junk.safetensors").write_bytes(b"\xff" * 64)
        self.fails(self.run_args(weights=self.d / "junk.safetensors"), 1, "junk.safetensors", "header length")
        # an image given for the weights (a slip of the arguments): said as one, each format vggcl reads (it was a
        # header length of 19 digits)
        # (a BMP under 1600 bytes has a header length within the limit: said as a file cut short)
        pixels = (np.random.default_rng(3).random((40, 40, 3)) * 255).astype(np.uint8)
        for ext, kind in (("jpg", "a JPEG"), ("png", "a PNG"), ("webp", "a WebP"), ("bmp", "a BMP"), ("tif", "a TIFF"),
                          ("ppm", "a PNM")):
            Image.fromarray(pixels).save(self.d / f"photo.{ext}")
            self.fails(self.run_args(weights=self.d / f"photo.{ext}"), 1,
                       f"photo.{ext}: {kind} image, not a safetensors weights file\n")
        # cut short in a header whose length's first bytes look like ONNX's or a pickle's (776: 08 03, 640: 80 02):
        # its length said, not another format (it was called an ONNX model, to be converted)
        for hlen in (776, 640):
            (self.d / "cut.safetensors").write_bytes(hlen.to_bytes(8, "little") + good[8:200])
            self.fails(self.run_args(weights=self.d / "cut.safetensors"), 1, f"cut.safetensors: header length {hlen} "
                       "runs past the file's end (200 bytes, the header from byte 8) or the 104857600-byte limit; not "
                       "a safetensors file?\n")
        # a large file of another kind is said from its first 8 bytes, not read whole first (a 2 GiB one took
        # 2 GiB of RSS more than the small one before it was said)
        _, _, small = testenv.run_peak([VGGCL, *self.run_args(weights=self.d / "junk.safetensors")])
        with open(self.d / "big.bin", "wb") as f:
            f.write(b"NOTSAFET")
            f.truncate(2 << 30)  # (sparse)
        code, stderr, peak = testenv.run_peak([VGGCL, *self.run_args(weights=self.d / "big.bin")])
        self.assertEqual(code, 1, stderr)
        self.assertIn("big.bin: header length", stderr)
        self.assertLess(peak, small + 512 * 1024, "kB of RSS")
        # and a header is checked against the file's size before the data are read (a header of {} before
        # 2 GiB of zeros took 2 GiB of RSS, then was refused for its trailing bytes)
        with open(self.d / "big.bin", "wb") as f:
            f.write(struct.pack("<Q", 8) + b"{}      ")
            f.truncate(2 << 30)
        code, stderr, peak = testenv.run_peak([VGGCL, *self.run_args(weights=self.d / "big.bin")])
        self.assertEqual(code, 1, stderr)
        self.assertIn("big.bin: tensors cover 0 data bytes, but the file has 2147483632 (trailing bytes)", stderr)
        self.assertLess(peak, small + 512 * 1024, "kB of RSS")
        (self.d / "big.bin").unlink()
        # a class list of 8 million numbers (16 MB of header) is counted before cJSON parses it (its nodes took
        # 600 MB first)
        save_file(make_state_dict(parse_cfg(CFG), False, 3, seed=2), self.d / "names.safetensors",
                  metadata={"vggcl.classes": "[" + "0," * 7999999 + "0]"})
        code, stderr, peak = testenv.run_peak([VGGCL, *self.run_args(weights=self.d / "names.safetensors")])
        self.assertEqual(code, 1, stderr)
        self.assertIn("\"vggcl.classes\" is a list of 8000000; expected a JSON list of 3 class names", stderr)
        self.assertLess(peak, small + 256 * 1024, "kB of RSS")
        (self.d / "names.safetensors").unlink()
        sd = make_state_dict(parse_cfg(CFG), False, 3, seed=2)
        sd["features.3.weight"] = sd["features.3.weight"][:, :5]  # C_in 5, previous conv has 8
        save_file(sd, self.d / "chain.safetensors")
        self.fails(self.run_args(weights=self.d / "chain.safetensors"), 1, "features.3.weight", "expected C_in = 8")
        sd = make_state_dict(parse_cfg(CFG), False, 3, seed=2)
        sd["features.0.bias"][1] = np.nan
        save_file(sd, self.d / "nan.safetensors")
        self.fails(self.run_args(weights=self.d / "nan.safetensors"), 1, "features.0.bias", "non-finite")
        sd = make_state_dict(parse_cfg(CFG), False, 3, seed=2)
        sd["classifier.0.weight"] = np.zeros((3, 32), np.float32)
        save_file(sd, self.d / "head.safetensors")
        self.fails(self.run_args(weights=self.d / "head.safetensors"), 1, "classifier.0.weight", "(C, 16)")
        sd = make_state_dict(parse_cfg(CFG), False, 3, seed=2)
        sd["features.0.weight"] = sd["features.0.weight"].astype(np.float64)
        save_file(sd, self.d / "f64.safetensors")
        self.fails(self.run_args(weights=self.d / "f64.safetensors"), 1, "features.0.weight", "dtype F64")
        # a "vggcl.pool_ceil" list longer than the network's max pools (two inside, and pool5, kept or dropped: a head
        # trained without it on a trunk whose list names it keeps the list): written for another network, refused
        # (it was taken, the rest unsaid); as long, or shorter, taken
        np.save(self.d / "x32.npy", np.zeros((1, 3, 32, 32), np.float32))
        sd = make_state_dict(parse_cfg(CFG), False, 3, seed=2)
        for ceil, pool5, code in (("0,0,0,1", "keep", 1), ("0,0,0,1", "drop", 1), ("0,0,1", "keep", 0),
                                  ("0,0,1", "drop", 0), ("0,1", "drop", 0), ("1", "drop", 0)):
            save_file(sd, self.d / "ceil.safetensors", metadata={"vggcl.pool_ceil": ceil, "vggcl.pool5": pool5})
            r = self.vggcl(*self.run_args(weights=self.d / "ceil.safetensors", x=self.d / "x32.npy"))
            with self.subTest(ceil=ceil, pool5=pool5):
                self.assertEqual(r.returncode, code, r.stderr)
                if code:
                    self.assertIn(f"ceil.safetensors: __metadata__ \"vggcl.pool_ceil\" is \"{ceil}\": "
                                  f"{len(ceil) // 2 + 1} values, one a max pool, for a network of 3 max pools (pool5 "
                                  "among them)", r.stderr)
                    self.assertFalse(self.out.exists())
                self.out.unlink(missing_ok=True)
        r = self.vggcl(*self.run_args(weights=self.d / "ceil.safetensors", x=self.d / "x32.npy", extra=["--pool5",
                                                                                                       "keep"]))
        self.assertEqual(r.returncode, 0, r.stderr)  # (pool5 given where the file dropped it: a pool past the list)
        self.out.unlink()

    # --- devices ------------------------------------------------------------
    def test_no_opencl_platform(self):
        env = {"OCL_ICD_VENDORS": str(self.d / "no_icds"), "OCL_ICD_FILENAMES": ""}
        self.fails(self.run_args(extra=["--device", "0"]), 1, "no OpenCL platform", "pocl", env=env)
        r = self.vggcl("devices", env=env)
        self.assertEqual(r.returncode, 1)
        self.assertIn("install an OpenCL driver", r.stderr)
        # --json: a document on stdout all the same, no devices and the error stderr says (a script reading stdout
        # got nothing), the same exit status
        j = self.vggcl("devices", "--json", env=env)
        self.assertEqual((j.returncode, j.stderr), (1, r.stderr))
        self.assertEqual(len(j.stdout.splitlines()), 1, j.stdout)
        self.assertEqual(json.loads(j.stdout), {"devices": [], "error": r.stderr.strip()[len("vggcl: "):]})
        # a driver listed that gives no platform (here its library is missing; or ulimit -n or -v) is not said to
        # be missing
        (self.d / "icds").mkdir()
        (self.d / "icds" / "gone.icd").write_text("libvggcl-test-no-such-driver.so\n")
        r = self.vggcl("devices", env={"OCL_ICD_VENDORS": str(self.d / "icds"), "OCL_ICD_FILENAMES": ""})
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"no OpenCL platform found: none of the 1 OpenCL driver(s) listed in {self.d / 'icds'} gave one "
                      "(one that could not load: short of memory or of file descriptors under ulimit -v or -n, or a "
                      "library of it missing; or one that found no device it may use)", r.stderr)

    def test_output_folder_removed_mid_run(self):
        """An output's folder removed while the run writes it is said as such, not as "No such file or directory"
        of the file after the whole run; exit 1, no file."""
        imgs, gone = self.d / "imgs", self.d / "gone"
        imgs.mkdir(), gone.mkdir()
        for i in range(300):
            Image.fromarray((np.random.default_rng(i).random((24, 20, 3)) * 255).astype(np.uint8)).save(
                imgs / f"{i:03d}.png")
        p = subprocess.Popen([VGGCL, "classify", "--weights", str(self.weights), "--resize", "24", "--crop", "16",
                              "--batch", "1", "--format", "json", "--logits-out", str(gone / "l.npy"), str(imgs)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.assertTrue(p.stdout.readline())  # (past the outputs' checks: answers printed)
        shutil.rmtree(gone)
        _, err = p.communicate(timeout=300)
        self.assertEqual(p.returncode, 1, err)
        self.assertIn(f"vggcl: {gone / 'l.npy'}: cannot write: its folder {gone} is not there (removed while the run "
                      "wrote it?)", err)

    def test_pocl_without_its_cache(self):
        """PoCL lists no device where it cannot write its kernel cache (a read-only HOME, run as nobody here): said
        so, naming the folder and POCL_CACHE_DIR (it said to install the driver it had)."""
        env = {k: v for k, v in os.environ.items() if k not in ("POCL_CACHE_DIR", "XDG_CACHE_HOME")}
        try:
            r = subprocess.run([VGGCL, "devices"], capture_output=True, text=True, timeout=300, preexec_fn=as_nobody,
                               env=dict(env, HOME="/proc"))
        except (subprocess.SubprocessError, PermissionError) as e:  # (one uid mapped; a build under /root)
            self.skipTest(f"cannot run the command as nobody here: {e}")
        if r.returncode == 0:
            self.skipTest("this OpenCL lists devices without a cache it may write (not PoCL, or another PoCL)")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, r"no OpenCL device found on \d+ platform\(s\): PoCL is installed, but lists no "
                         r"device where it cannot write its kernel cache, here /proc/\.cache/pocl "
                         r"\(\$POCL_CACHE_DIR, else \$XDG_CACHE_HOME/pocl, \$HOME/\.cache/pocl or /tmp/pocl\): set "
                         r"POCL_CACHE_DIR to a folder it may write")

    def test_pocl_without_its_linker(self):
        """PoCL's CPU driver links what it compiles with ld from PATH, and ends the process where it is not there
        (SIGABRT, vggcl unheard, at the first kernel not in its cache): said when the device is taken, once; with
        warm caches the run still ends well, with the same answers."""
        devices = json.loads(self.vggcl("devices", "--json").stdout)["devices"]
        gpus = [d for d in devices if d["type"] == "GPU"]
        taken = (gpus or devices or [{}])[0]
        if os.environ.get("VGGCL_TEST_DEVICE") or taken.get("platform_name") != "Portable Computing Language" or \
                taken.get("type") != "CPU":
            self.skipTest("the device the tests run on is not PoCL's CPU device")
        warm = self.vggcl(*self.run_args())  # (its kernels, at this size, then in PoCL's and vggcl's caches)
        self.assertEqual(warm.returncode, 0, warm.stderr)
        want = self.out.read_bytes()
        self.out.unlink()
        for path in ("/nonexistent-vggcl-dir", None):
            env = dict(os.environ, PATH=path) if path else {k: v for k, v in os.environ.items() if k != "PATH"}
            r = subprocess.run([VGGCL, *map(str, self.run_args())], capture_output=True, text=True, env=env,
                               timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
            shown = f'"{path}"' if path else "unset"
            self.assertEqual(vggcl_lines(r.stderr), [f"vggcl: PoCL links the kernels it compiles with the system's "
                                                     f"linker, ld, which is not on PATH ({shown}): a kernel not in its "
                                                     "cache yet (a new batch or image size) makes PoCL end the "
                                                     "process; put its folder (binutils': /usr/bin) on PATH"])
            self.assertEqual(self.out.read_bytes(), want)
            self.out.unlink()

    def test_without_proc(self):
        """A machine without /proc (a container that mounts none: here a tmpfs over it) runs: the host's free memory
        is then not known, not none (each OpenCL run failed "out of host memory loading layer features.0 ...: 0.0
        MiB is available")."""
        if not testenv.mount_namespace():
            self.skipTest("needs root and unshare for a mount namespace")
        if "ASAN_OPTIONS" in os.environ:  # (LeakSanitizer reads /proc: its own fatal error there)
            self.skipTest("the sanitizers need /proc")
        r = self.vggcl(*self.run_args())
        self.assertEqual(r.returncode, 0, r.stderr)
        want = np.load(self.out)
        self.out.unlink()
        r = subprocess.run(["unshare", "-m", "sh", "-c", 'mount -t tmpfs tmpfs /proc && exec "$@"', "sh", VGGCL,
                            *map(str, self.run_args())], capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        np.testing.assert_array_equal(np.load(self.out), want)

    def run_on_pocl_cache_mount(self, name, options, then=""):
        """`vggcl run` with PoCL's kernel cache (and nothing of vggcl's) on a tmpfs at self.d/name mounted with
        options in a mount namespace, then shell commands `then` there before it; skipped where it passes (not
        PoCL). The folder, and the run."""
        if not testenv.mount_namespace():
            self.skipTest("needs root and unshare for a mount namespace")
        at = self.d / name
        at.mkdir()
        r = subprocess.run(["unshare", "-m", "sh", "-c", f'mount -t tmpfs -o {options} tmpfs "{at}" && {then or ":"}; '
                            'exec "$@"', "sh", VGGCL, *map(str, self.run_args())], capture_output=True, text=True,
                           timeout=300, env=dict(os.environ, POCL_CACHE_DIR=str(at / "pocl"), VGGCL_CACHE_DIR="off"))
        if r.returncode == 0:
            self.skipTest("this OpenCL is not PoCL")
        return at, r

    def test_pocl_cache_on_a_noexec_mount(self):
        """PoCL's kernel cache on a file system mounted noexec: said when the device is opened, naming the folder and
        POCL_CACHE_DIR (PoCL cannot map the kernels it compiles there and aborted every command: SIGABRT, its dlopen
        line alone); no output."""
        nx, r = self.run_on_pocl_cache_mount("nx", "size=8m,noexec")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"PoCL's kernel cache {nx / 'pocl'} ($POCL_CACHE_DIR, else $XDG_CACHE_HOME/pocl, "
                      "$HOME/.cache/pocl or /tmp/pocl) is on a file system mounted noexec, from which PoCL cannot load the kernels "
                      "it compiles (it ends the process): set POCL_CACHE_DIR to a folder on another file system",
                      r.stderr)
        self.assertEqual(list(self.out.parent.iterdir()), [])
        # without HOME, PoCL's /tmp/pocl (a noexec /tmp is a common hardening): said the same way
        env = {k: v for k, v in os.environ.items() if k not in ("HOME", "XDG_CACHE_HOME", "POCL_CACHE_DIR")}
        made = not os.path.exists("/tmp/pocl")  # (the mount point, made outside the namespace: removed after)
        try:
            r = subprocess.run(["unshare", "-m", "sh", "-c", 'mkdir -p /tmp/pocl && mount -t tmpfs -o size=8m,noexec '
                                'tmpfs /tmp/pocl && exec "$@"', "sh", VGGCL, *map(str, self.run_args())],
                               capture_output=True, text=True, timeout=300, env=dict(env, VGGCL_CACHE_DIR="off"))
        finally:
            if made and os.path.isdir("/tmp/pocl"):
                os.rmdir("/tmp/pocl")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("PoCL's kernel cache /tmp/pocl ($POCL_CACHE_DIR, else $XDG_CACHE_HOME/pocl, $HOME/.cache/pocl or "
                      "/tmp/pocl) is on a file system mounted noexec", r.stderr)
        self.assertEqual(list(self.out.parent.iterdir()), [])

    def test_pocl_cache_full(self):
        """PoCL's kernel cache on a full file system: a build that fails (PoCL's log saying only "failed to build the
        program") names the folder, what is free and POCL_CACHE_DIR; it is not built again as a spurious failure is.
        (With a little more free, PoCL's compiler ends the process itself: LLVM's line, exit 1, as docs/throughput.md says.)"""
        full, r = self.run_on_pocl_cache_mount("full", "size=1m", f'head -c 1020K /dev/zero > "{self.d}/full/filler"')
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertRegex(r.stderr, r"clBuildProgram -> CL_BUILD_PROGRAM_FAILURE \(-11\): PoCL builds in its kernel "
                         r"cache \(\$POCL_CACHE_DIR, else \$XDG_CACHE_HOME/pocl, \$HOME/\.cache/pocl or /tmp/pocl\), "
                         f"and {re.escape(str(full / 'pocl'))} has 0\\.0 MiB free: free some space there, or set "
                         "POCL_CACHE_DIR to a folder that has it\n")
        self.assertNotIn("built again", r.stderr)
        self.assertEqual(list(self.out.parent.iterdir()), [])

    def test_kill_between_name_and_rename(self):
        """A single output (preprocess's tensor, train-head's model without --features-out) is named with SIGTERM
        held back, as a set is: killed as it names the file (strace sends SIGTERM as the linkat begins), the
        process ends by that signal after the rename, the output whole and no temporary name left (it was, exit
        143)."""
        if not shutil.which("strace"):
            self.fail("strace is missing: .ci/install-deps.sh installs it")
        data = self.d / "data"
        for k, cls in enumerate("ab"):
            (data / cls).mkdir(parents=True)
            for i in range(2):
                Image.fromarray((np.random.default_rng(10 * k + i).random((20, 17, 3)) * 255).astype(np.uint8)).save(
                    data / cls / f"{i}.png")
        w = self.d / "trunk.safetensors"
        save_file(make_state_dict(parse_cfg(CFG), False, 3, seed=1), w)
        out = self.d / "named"
        pre = ["--resize", "20", "--crop", "16"]
        for args, name in ((["preprocess", *pre, "--output", out / "t.npy", data / "a"], "t.npy"),
                           (["train-head", "--weights", w, "--data", data, "--epochs", "1", *pre, "--device", "ref",
                             "--out", out / "m.safetensors"], "m.safetensors")):
            out.mkdir()
            log = self.d / "strace.txt"
            # (the signal sent by strace, not by the test once it saw the linkat in strace's log: held there 3 s,
            # the sanitizers' suite beside it once took longer, the process gone)
            p = subprocess.run(["strace", "-f", "-o", log, "-e", "trace=linkat", "-e",
                                "inject=linkat:signal=SIGTERM:when=1", VGGCL, *map(str, args)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=300)
            self.assertIn("linkat(", log.read_text(), f"{args[0]}: no linkat seen")
            self.assertEqual(p.returncode, -signal.SIGTERM, f"{args[0]}: {p.stderr}")  # (strace ends as it did)
            self.assertEqual(sorted(f.name for f in out.iterdir()), [name], args[0])
            if name.endswith(".npy"):
                self.assertEqual(np.load(out / name).shape, (2, 3, 16, 16))
            shutil.rmtree(out)

    def test_kill_while_a_pipe_stalls(self):
        """An output written through (a FIFO whose reader does not read) has no temporary name to guard: a SIGTERM
        ends the process while the write waits (signals held for the name, a kill did nothing until the reader
        went away)."""
        fifo = self.d / "fifo"
        os.mkfifo(fifo)
        reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # (there, never reading: the write stalls)
        try:
            images = []
            for i in range(2):
                images.append(self.d / f"big{i}.png")
                Image.fromarray((np.random.default_rng(i).random((240, 240, 3)) * 255).astype(np.uint8)).save(
                    images[-1])
            trunk = self.d / "trunk.safetensors"  # (300 kB of weights: past the pipe's 64 kB)
            save_file(make_state_dict(parse_cfg("64,M,128"), False, 2, seed=1), trunk)
            for k, cls in enumerate("ab"):
                (self.d / "data" / cls).mkdir(parents=True)
                shutil.copy(images[k], self.d / "data" / cls / "0.png")
            for args in (["preprocess", "--resize", "224", "--crop", "224", "--output", fifo, *images],
                         ["train-head", "--weights", trunk, "--data", self.d / "data", "--epochs", "1", "--resize",
                          "40", "--crop", "32", "--device", "ref", "--out", fifo]):
                p = subprocess.Popen([VGGCL, *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
                time.sleep(3)  # (1.2 MB, or 300 kB, into a 64 kB pipe: waiting by now)
                self.assertIsNone(p.poll(), p.stderr.read() if p.poll() is not None else "")
                p.terminate()
                try:
                    p.communicate(timeout=10)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.communicate()
                    self.fail(f"{args[0]} writing a stalled FIFO did not end on SIGTERM")
                self.assertEqual(p.returncode, -signal.SIGTERM, args[0])
                while True:  # (what the stalled write put in the pipe, read away for the next)
                    try:
                        if not os.read(reader, 1 << 16):
                            break
                    except BlockingIOError:
                        break
        finally:
            os.close(reader)

    def test_pocl_cache_a_file(self):
        """PoCL's kernel cache named as a file: PoCL lists its devices, then fails each build with a log of
        "failed to build the program", and refuses vggcl's cached programs: said, naming the folder and
        POCL_CACHE_DIR (it said the build failed, and nothing of why)."""
        (self.d / "pocl-file").write_text("")
        for cache in ("off", str(self.d / "cache")):
            r = self.vggcl(*self.run_args(), env=dict(os.environ, POCL_CACHE_DIR=str(self.d / "pocl-file"),
                                                      VGGCL_CACHE_DIR=cache))
            if r.returncode == 0:
                self.skipTest("this OpenCL builds without a cache it may write (not PoCL, or another PoCL)")
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(": clBuildProgram -> CL_BUILD_PROGRAM_FAILURE (-11): PoCL builds in its kernel cache "
                          "($POCL_CACHE_DIR, else $XDG_CACHE_HOME/pocl, $HOME/.cache/pocl or /tmp/pocl), and "
                          f"{self.d / 'pocl-file'} is not a folder it can write: set POCL_CACHE_DIR to one", r.stderr)
            self.assertNotIn("starting at once", r.stderr)  # (the retry's guess, a cache shared: not the cause)
            self.assertFalse(self.out.exists())
            # then vggcl's cache warm (filled by a run with PoCL's cache as it should be): its programs refused
            ok = self.vggcl(*self.run_args(), env=dict(os.environ, VGGCL_CACHE_DIR=str(self.d / "cache")))
            self.assertEqual(ok.returncode, 0, ok.stderr)
            self.out.unlink()

    def test_devices_limits(self):
        """Each device's line is followed by the limits kernels are tuned against."""
        lines = self.vggcl("devices").stdout.splitlines()
        i = next(k for k, l in enumerate(lines) if l.startswith("0 "))
        words = lines[i + 1].split()
        self.assertEqual(words[:2], ["local", "memory"], lines[i + 1])
        self.assertGreater(int(words[2]), 0)
        self.assertIn("work-group up to", lines[i + 1])
        self.assertIn("driver", lines[i + 1])

    def test_devices_json(self):
        """devices --json: one object, each device's fields the table's (it had no form a script reads)."""
        r = self.vggcl("devices", "--json")
        self.assertEqual((r.returncode, r.stderr, len(r.stdout.splitlines())), (0, "", 1), r.stderr)
        listed = json.loads(r.stdout)["devices"]
        rows = [l for l in self.vggcl("devices").stdout.splitlines()[1:] if l[:1].isdigit()]
        self.assertEqual(len(listed), len(rows))
        for d, row in zip(listed, rows):
            self.assertEqual(set(d), {"index", "platform", "device", "type", "name", "platform_name", "driver",
                                      "compute_units", "clock_mhz", "global_mem", "max_alloc", "local_mem",
                                      "max_work_group"})
            words = row.split()
            self.assertEqual([str(d["index"]), f"{d['platform']}:{d['device']}", d["type"], str(d["compute_units"])],
                             words[:4])
            self.assertEqual(f"{d['global_mem'] / 2 ** 30:.1f}", words[4])
            self.assertTrue(row.endswith(f"  {d['name']} ({d['platform_name']})"), row)
            self.assertGreater(d["local_mem"], 0)
        self.fails(["devices", "--json", "x"], 2, "vggcl: devices: unexpected argument 'x'")

    def test_bad_device_spec(self):
        self.fails(self.run_args(extra=["--device", "no-such-gpu"]), 1, "no-such-gpu", "vggcl devices")
        # named with the command and the option, as a list's device too (only the library's sentence was said)
        self.fails(self.run_args(extra=["--device", "99"]), 1,
                   "vggcl: run: --device 99: no OpenCL device with index 99")
        for cmd in (["classify", "--weights", self.weights, "--resize", "16", "--crop", "16"],
                    ["cam", "--weights", self.weights, "--out-dir", self.out.parent]):
            for spec in ("99", " 0, 99", "99\n"):
                r = self.vggcl(*cmd, "--device", spec, ROOT / "tests" / "data" / "tiny.png")
                if cmd[0] == "cam" and "," in spec:  # (one device: a list refused before any is opened)
                    self.assertEqual(r.returncode, 2, r.stderr)
                    self.assertIn("vggcl: cam: --device 0, 99: this command runs on one device", r.stderr)
                    continue
                self.assertEqual(r.returncode, 1, r.stderr)  # (the option as the library takes it: "99\n" is 99)
                self.assertIn(f"vggcl: {cmd[0]}: --device {spec.strip()}: no OpenCL device with index 99: ",
                              r.stderr)
        self.fails(self.run_args(extra=["--device", "-1"]), 1, "no OpenCL device with index -1: indices start at 0")
        self.fails(self.run_args(extra=["--device", "5:0"]), 1, "5:0")
        # the device named by the environment, no --device given: said where it came from
        r = self.fails(self.run_args(), 1, "no OpenCL device name contains 'no-such-gpu'", env={"VGGCL_DEVICE": "no-such-gpu"})
        self.assertIn("(the device named by $VGGCL_DEVICE=no-such-gpu)", r.stderr)
        self.assertNotIn("--device", r.stderr)
        # P:D past the int range (sscanf wrapped 4294967296:0 to 0:0); all or a list where one device runs
        self.fails(self.run_args(extra=["--device", "4294967296:0"]), 1, "no OpenCL device 4294967296:0")
        self.fails(self.run_args(extra=["--device", "all"]), 2, "run: --device all: this command runs on one device")
        # ref and all in any case, as names match (REF was looked for as a device name)
        self.fails(self.run_args(extra=["--device", "ALL"]), 2, "run: --device ALL: this command runs on one device")
        r = self.vggcl(*self.run_args(extra=["--device", "Ref"]))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("device: reference (plain C)\n", r.stdout)
        self.out.unlink()
        # P:D with blanks around its colon, as around the spec (" 0 : 0 " was looked for in the devices' names)
        for spec in (" 0 : 0 ", "0 :0", "0:\t0"):
            r = self.vggcl(*self.run_args(extra=["--device", spec]))
            self.assertEqual(r.returncode, 0, spec + r.stderr)
            self.out.unlink()
        # in $VGGCL_DEVICE, set for the commands that take several, all or a list means its first device (it was
        # refused: VGGCL_DEVICE=all in a profile broke run, bench, cam and tune); an empty first one is said
        want = None
        for env in ("0", "0,0", " 0 , ref", "all", "All"):
            r = self.vggcl(*self.run_args(), env={"VGGCL_DEVICE": env})
            self.assertEqual(r.returncode, 0, f"{env}: {r.stderr}")
            got = np.load(self.out)
            want = got if want is None else want
            np.testing.assert_array_equal(got, want, env)  # (one device: the answers bit for bit)
            self.out.unlink()
        self.fails(self.run_args(), 1, "$VGGCL_DEVICE=,0: its first device is empty", env={"VGGCL_DEVICE": ",0"})
        self.fails(self.run_args(), 1, "no OpenCL device name contains 'nope'", "(the device named by $VGGCL_DEVICE="
                   "nope,0)", env={"VGGCL_DEVICE": "nope,0"})
        r = self.vggcl("bench", "--device", "0,0", "--size", "8")
        self.assertEqual(r.returncode, 2)
        self.assertIn("bench: --device 0,0: this command runs on one device", r.stderr)
        # lists: empty items (they meant the default device), more than 16 (cut to 16), ref with OpenCL (the
        # rows depended on which device was free)
        img = ROOT / "tests" / "data" / "tiny.png"
        for spec, needle in (("0,", "device 2 of the list is empty"), (",0", "device 1 of the list is empty"),
                             ("0,,0", "device 2 of the list is empty"), (",".join(["0"] * 17), "more than 16 devices"),
                             ("ref,0", "ref and OpenCL devices together"), ("0,ref", "ref and OpenCL devices"),
                             ("all,0", "all is every device, not an item of a list"),
                             ("0, ", "device 2 of the list is empty")):
            r = self.vggcl("classify", "--weights", self.weights, "--resize", "16", "--crop", "16", "--device", spec,
                           img)
            self.assertEqual((r.returncode, r.stdout), (2, ""), spec)
            self.assertIn(f"vggcl: classify: --device {spec}: {needle}", r.stderr)
        for spec in ("ref,ref", "ref, ref ", " ref,\tref", " ref ", " all"):  # (blanks around: " ref" was a name)
            r = self.vggcl("classify", "--weights", self.weights, "--resize", "16", "--crop", "16", "--device", spec,
                           img)
            self.assertEqual(r.returncode, 0, spec + r.stderr)
        # blanks alone: a usage error (the library took them for none given, and read $VGGCL_DEVICE)
        for args in (["classify", "--weights", self.weights, "--device", " ", img], self.run_args(extra=["--device", " "])):
            r = self.vggcl(*args, env={"VGGCL_DEVICE": "ref"})
            self.assertEqual((r.returncode, r.stdout), (2, ""), r.stderr)
            self.assertIn(f"vggcl: {args[0]}: --device is blank: give SPEC", r.stderr)
        # an empty --device (the library took it for none given, and blamed $VGGCL_DEVICE for its list)
        for args, needle in ((["classify", "--weights", self.weights, "--device=", img], "classify: --device is empty"),
                             (self.run_args(extra=["--device="]), "run: --device is empty")):
            r = self.vggcl(*args, env={"VGGCL_DEVICE": "0,0"})
            self.assertEqual((r.returncode, r.stdout), (2, ""), r.stderr)
            self.assertIn(f"vggcl: {needle}: give SPEC", r.stderr)
        # a name two devices have (two platforms: the ICD listed twice): the first, said
        icds = self.d / "icds"
        icds.mkdir()
        for k in ("a", "b"):
            shutil.copy("/etc/OpenCL/vendors/pocl.icd", icds / f"{k}.icd")
        env = {"OCL_ICD_VENDORS": str(icds), "VGGCL_DEVICE": ""}
        name = self.vggcl("devices", env=env).stdout.splitlines()[1].split()[8]  # (the name's first word)
        r = self.vggcl(*self.run_args(extra=["--device", name]), env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"vggcl: '{name}' names device 0 (0:0) and others, such as 1 (1:0): 0 is taken; give an index "
                      "to choose\n", r.stderr)

    @unittest.skipIf("ASAN_OPTIONS" in os.environ, "ASan reserves its shadow memory past any ulimit -v")
    def test_cpu_device_host_memory(self):
        """A CPU device's buffers are the host's memory, which its global memory (PoCL's: the machine's whole
        memory) does not say is free: a batch past what the process may take (ulimit -v here) is refused before
        the pass, naming what is available and the largest batch that fits, which then runs (it ended in PoCL's
        assertion, SIGABRT, or for want of free memory in the kernel's OOM killer). Its kernels are built first,
        in a cache of the test's own: a first build under the limit takes LLVM's address space besides, past
        what the reserve keeps (a crash docs/failures.md says)."""
        cpu = next((l.split()[0] for l in self.vggcl("devices").stdout.splitlines()[1:] if l.split()[2:3] == ["CPU"]),
                   None)
        if cpu is None:
            self.skipTest("no CPU OpenCL device")
        save_file(make_state_dict(parse_cfg("512,M,8"), False, 3, seed=2), self.d / "wide.safetensors")
        x = np.random.default_rng(3).standard_normal((32, 3, 256, 256)).astype(np.float32)
        np.save(self.d / "x32.npy", x)  # (the maps and features.3's workspace: 3.6 GiB for 32, 113 MiB an image)
        out = self.d / "l.npy"

        def address_space():
            resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
        args = [VGGCL, "run", "--weights", self.d / "wide.safetensors", "--device", cpu, "--output", out]
        # (PoCL's threads and glibc's arenas each map address space: a machine of many cores maps more of 3 GiB)
        env = dict(os.environ, POCL_MAX_PTHREAD_COUNT="2", MALLOC_ARENA_MAX="2", VGGCL_CACHE_DIR=str(self.d / "c"),
                   POCL_CACHE_DIR=str(self.d / "pocl"))
        r = subprocess.run(args + ["--input", self.d / "x32.npy"], capture_output=True, text=True, timeout=300,
                           preexec_fn=address_space, env=env)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("vggcl: out of memory: batch 32 at 256x256 needs ", r.stderr)
        self.assertIn("whose buffers are the host's memory: ", r.stderr)
        self.assertIn("(free memory and swap, within the cgroup's limit and ulimit -v, less a reserve for the "
                      "driver's compiler and threads)", r.stderr)
        self.assertFalse(out.exists())
        if "not even one image fits" in r.stderr:
            self.skipTest(f"this PoCL maps most of 3 GiB itself: {r.stderr}")
        fit = int(re.search(r"the largest batch that fits at this size is (\d+)", r.stderr).group(1))
        self.assertTrue(1 <= fit < 32, r.stderr)  # (3 GiB less the process's own mappings)
        np.save(self.d / "xfit.npy", x[:fit])
        r = subprocess.run(args + ["--input", self.d / "xfit.npy"], capture_output=True, text=True, timeout=300,
                           env=env)  # (the build, without the limit)
        self.assertEqual(r.returncode, 0, r.stderr)
        out.unlink()
        r = subprocess.run(args + ["--input", self.d / "xfit.npy"], capture_output=True, text=True, timeout=300,
                           preexec_fn=address_space, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(np.load(out).shape, (fit, 3))
        # a batch past the device's own limits, of which the host's memory allows fewer: the batch said is the
        # host's, and said to be (it was a number the device's limits before it did not explain)
        r = subprocess.run([VGGCL, "bench", "--weights", self.d / "wide.safetensors", "--device", cpu, "--size", "256",
                            "--batch", "4096", "--iters", "1"], capture_output=True, text=True, timeout=300,
                           preexec_fn=address_space, env=env)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("vggcl: device out of memory: batch 4096 at 256x256 needs ", r.stderr)
        self.assertRegex(r.stderr, r"the largest batch that fits at this size is \d+ \(the host's [0-9.]+ MiB "
                         r"available, within the cgroup and ulimit -v, limits it\)\n")

    @unittest.skipIf("ASAN_OPTIONS" in os.environ, "ASan reserves its shadow memory past any ulimit -v")
    def test_own_size_too_large_skipped(self):
        """Each image at its own size (--no-crop --batch 1): one whose pass does not fit the host's memory (ulimit
        -v here, on a CPU device) is named and skipped, the images after it classified (it stopped the run,
        unnamed, dropping what was in flight)."""
        cpu = next((l.split()[0] for l in self.vggcl("devices").stdout.splitlines()[1:] if l.split()[2:3] == ["CPU"]),
                   None)
        if cpu is None:
            self.skipTest("no CPU OpenCL device")
        save_file(make_state_dict(parse_cfg("512,M,8"), False, 3, seed=2), self.d / "wide.safetensors")
        images = self.d / "own"
        images.mkdir()
        for name, side in (("0.png", 40), ("1.png", 2048), ("2.png", 48)):  # (2048: ~7 GiB of maps and workspace)
            Image.fromarray(np.full((side, side, 3), 90, np.uint8)).save(images / name)
        env = dict(os.environ, POCL_MAX_PTHREAD_COUNT="2", MALLOC_ARENA_MAX="2", VGGCL_CACHE_DIR=str(self.d / "c"),
                   POCL_CACHE_DIR=str(self.d / "pocl"))
        args = [VGGCL, "classify", "--weights", self.d / "wide.safetensors", "--device", cpu, "--no-crop", "--resize",
                "0", "--batch", "1", "--format", "json"]
        r = subprocess.run(args + [images / "0.png"], capture_output=True, text=True, timeout=300, env=env)
        self.assertEqual(r.returncode, 0, r.stderr)  # (the kernels built first, without the limit)

        def address_space():
            resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))
        r = subprocess.run(args + [images], capture_output=True, text=True, timeout=300, preexec_fn=address_space,
                           env=env)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual([json.loads(ln)["file"] for ln in r.stdout.splitlines()],
                         [str(images / "0.png"), str(images / "2.png")])
        self.assertRegex(r.stderr, f"vggcl: {re.escape(str(images / '1.png'))}: out of memory: batch 1 at 2048x2048 "
                                   r"needs .* \(skipped\)\n")
        self.assertIn("vggcl: 1 of 3 images were skipped; 2 classified", r.stderr)

    def test_cgroup_limits_read(self):
        """The memory a pass may take, within the process's cgroup's limit where the process is: v2's memory.max of
        its folder or an ancestor (the mount's root alone was read: a systemd slice's limit was missed), its
        inactive page cache counted as free (a container that had read many files was said to have none), and
        v1's hierarchical limit (not read at all). A tree of the files the kernel shows, mounted over
        /sys/fs/cgroup in a mount namespace."""
        if not testenv.mount_namespace():
            self.skipTest("needs root and unshare for a mount namespace")
        lines = [l.split(":", 2) for l in Path("/proc/self/cgroup").read_text().splitlines()]
        v2 = next((p for h, c, p in lines if h == "0" and c == ""), None)
        v1 = next((p for h, c, p in lines if "memory" in c.split(",")), None)
        save_file(make_state_dict(parse_cfg("512,M,8"), False, 3, seed=2), self.d / "wide.safetensors")
        np.save(self.d / "x4.npy", np.zeros((4, 3, 256, 256), np.float32))  # (two maps of 512 MiB on ref)
        mib = 1 << 20
        cases = []
        meminfo = dict(l.split(":", 1) for l in Path("/proc/meminfo").read_text().splitlines())
        if sum(int(meminfo.get(k, "0 kB").split()[0]) for k in ("MemAvailable", "SwapFree")) < 1100 << 10:
            self.skipTest("less than 1.1 GiB of memory and swap available: the cgroup's limit would not be the least")
        if v2 is not None and ".." not in v2:
            chain = [p for p in v2.strip("/").split("/") if p]
            cases.append(("v2", [(Path(*chain[:1]) if chain else Path("."), "memory.max", 2048 * mib),
                                 (Path(*chain[:1]) if chain else Path("."), "memory.current", 1600 * mib),
                                 (Path(*chain[:1]) if chain else Path("."), "memory.stat",
                                  f"anon 1\ninactive_file {512 * mib}\nactive_file 5\n"),
                                 *([(Path(*chain), "memory.max", 64 << 30), (Path(*chain), "memory.current", 0)]
                                   if len(chain) > 1 else [])]))
        if v1 is not None:
            where = Path("memory", *[p for p in v1.strip("/").split("/") if p])
            cases.append(("v1", [(where, "memory.stat", f"cache 3\nhierarchical_memory_limit {1536 * mib}\n"
                                                       f"total_inactive_file {256 * mib}\n"),
                                 (where, "memory.usage_in_bytes", 832 * mib)]))
            if where != Path("memory"):  # (a container without a cgroup namespace: its own at the mount's root)
                cases.append(("v1 at the root", [(Path("memory"), name, value) for _, name, value in cases[-1][1]]))
        if not cases:
            self.skipTest("no cgroup in /proc/self/cgroup")
        for kind, files in cases:  # (each: 960 MiB left; the reference keeps no reserve for a driver)
            tree = self.d / f"cg-{kind}"
            for folder, name, value in files:
                (tree / folder).mkdir(parents=True, exist_ok=True)
                (tree / folder / name).write_text(f"{value}\n")
            r = subprocess.run(["unshare", "-m", "sh", "-c", f'mount --bind "{tree}" /sys/fs/cgroup && exec "$@"', "sh",
                                VGGCL, "run", "--device", "ref", "--weights", self.d / "wide.safetensors", "--input",
                                self.d / "x4.npy", "--output", self.d / "y.npy"], capture_output=True, text=True,
                               timeout=300)
            self.assertEqual(r.returncode, 1, f"{kind}: {r.stderr}")
            self.assertIn("(two maps of 512.0 MiB: layer features.0's output; and the input to be made), but "
                          "960.0 MiB is available", r.stderr, kind)
            self.assertFalse((self.d / "y.npy").exists())

    def test_cgroup_swap_limit_read(self):
        """Swap counts where the process's v2 cgroup lets it use some: memory.swap.max of its folder or an ancestor
        (systemd's MemorySwapMax=0 keeps a service off the machine's swap; it was counted, passing batches that
        then ended in the OOM killer). /proc/meminfo and a cgroup tree made up, mounted in a mount namespace."""
        if not testenv.mount_namespace():
            self.skipTest("needs root and unshare for a mount namespace")
        lines = [l.split(":", 2) for l in Path("/proc/self/cgroup").read_text().splitlines()]
        v2 = next((p for h, c, p in lines if h == "0" and c == ""), None)
        if v2 is None or ".." in v2:
            self.skipTest("no v2 cgroup in /proc/self/cgroup")
        chain = [p for p in v2.strip("/").split("/") if p]
        save_file(make_state_dict(parse_cfg("512,M,8"), False, 3, seed=2), self.d / "wide.safetensors")
        # (two maps of 128 MiB on ref: an image of 256x256, whose pass, run where the swap counts, is a quarter of
        # the four the test ran before)
        np.save(self.d / "x4.npy", np.zeros((1, 3, 256, 256), np.float32))
        meminfo = self.d / "meminfo"
        meminfo.write_text("MemTotal: 33554432 kB\nMemAvailable: 204800 kB\nSwapTotal: 16777216 kB\n"
                           "SwapFree: 16777216 kB\n")  # (200 MiB and 16 GiB)
        own, parent = Path(*chain) if chain else Path("."), Path(*chain[:-1]) if chain else Path(".")
        for swap_max, current, where, available in (("0", "0", own, "200.0"), ("67108864", "33554432", parent, "232.0"),
                                                    ("max", "0", own, None)):
            tree = self.d / f"cg-{swap_max}"
            for folder, name, value in ((own, "memory.swap.max", "max"), (where, "memory.swap.max", swap_max),
                                        (where, "memory.swap.current", current)):
                (tree / folder).mkdir(parents=True, exist_ok=True)
                (tree / folder / name).write_text(f"{value}\n")
            r = subprocess.run(["unshare", "-m", "sh", "-c", 'mount --bind "$1" /sys/fs/cgroup && mount --bind "$2" '
                                '/proc/meminfo && shift 2 && exec "$@"', "sh", tree, meminfo,
                                VGGCL, "run", "--device", "ref", "--weights", self.d / "wide.safetensors", "--input",
                                self.d / "x4.npy", "--output", self.d / "y.npy"], capture_output=True, text=True,
                               timeout=300)
            if available is None:  # (no swap limit: the 16 GiB of swap counted, and the pass ran)
                self.assertEqual(r.returncode, 0, r.stderr)
                (self.d / "y.npy").unlink()
                continue
            self.assertEqual(r.returncode, 1, f"memory.swap.max {swap_max}: {r.stderr}")
            self.assertIn("(two maps of 128.0 MiB: layer features.0's output; and the input to be made), but "
                          f"{available} MiB is available", r.stderr, swap_max)
            self.assertFalse((self.d / "y.npy").exists())

    def test_device_out_of_memory(self):
        """A batch over the device's per-buffer limit: a sparse input file, so no disk is used."""
        row = next(l for l in self.vggcl("devices").stdout.splitlines() if l.startswith("0 "))
        max_alloc = float(row.split()[6]) * 2**30  # the "max alloc" column, in GiB
        h = w = 32
        n = int(max_alloc * 1.05 / (64 * h * w * 4)) + 1  # first activation (n, 64, h, w) over the limit (no pool
        # after features.0: one would be folded into it, its output then the pooled map)
        path = self.d / "big.npy"
        hdr = np.lib.format.header_data_from_array_1_0(np.zeros((1,), np.float32))
        hdr["shape"] = (n, 3, h, w)
        with open(path, "wb") as f:
            np.lib.format.write_array_header_1_0(f, hdr)
            f.truncate(f.tell() + n * 3 * h * w * 4)
        save_file(make_state_dict(parse_cfg("64,8"), False, 3, seed=2), self.d / "w8.safetensors")
        # (and how to split it: run has no --batch to give the size said, which it named all the same)
        self.fails(self.run_args(weights=self.d / "w8.safetensors", x=path), 1, "device out of memory",
                   "largest batch that fits", "MiB: layer features.0's output)",
                   " (run takes its input as one batch: split it, as preprocess --shard I/N makes shares, or classify "
                   "the images, which runs them in batches of --batch)\n")
        # an image too large to fit alone: said so, not "the largest batch that fits is 0"
        side = int((max_alloc * 1.05 / (64 * 4)) ** 0.5) + 1
        # (run, with two such images: splitting its input would not help, so that is not said)
        hdr["shape"] = (2, 3, side, side)
        with open(path, "wb") as f:
            np.lib.format.write_array_header_1_0(f, hdr)
            f.truncate(f.tell() + 2 * 3 * side * side * 4)
        r = self.fails(self.run_args(weights=self.d / "w8.safetensors", x=path), 1, "not even one image fits")
        self.assertNotIn("run takes its input as one batch", r.stderr)
        img = self.d / "in.png"
        shutil.copy(ROOT / "tests" / "data" / "tiny.png", img)
        if side <= 16384:  # (--crop's limit; a device allowing 64 GiB per buffer needs no such case)
            # said before any image is decoded (an unreadable one first is not reached), naming what made the size
            bad = self.d / "bad.png"
            bad.write_bytes(b"not an image")
            for cmd, size in ((["classify"], ["--resize", "0", "--crop", side]),
                              (["cam", "--out-dir", self.d], ["--resize", f"{side}x{side}", "--no-crop"])):
                said = f"--crop {side}" if "--crop" in size else f"--resize {side}x{side}"
                r = self.fails([*cmd, "--weights", self.d / "w8.safetensors", *size, bad, img], 1,
                               f"vggcl: {cmd[0]}: {said}, the size every image is made: device out of memory",
                               "not even one image fits at this size")
                self.assertNotIn("largest batch", r.stderr)
                self.assertNotIn(str(bad), r.stderr)
            # a model's own size: its metadata named
            sd, _ = load_file(self.d / "w8.safetensors")
            save_file(sd, self.d / "w8big.safetensors", {"vggcl.resize": f"{side},{side}", "vggcl.crop": "0"})
            self.fails(["classify", "--weights", self.d / "w8big.safetensors", bad, img], 1,
                       f"vggcl: classify: the model's resize (its metadata \"vggcl.resize\") {side},{side}, the size "
                       "every image is made: device out of memory")
            self.fails(["bench", "--weights", self.d / "w8big.safetensors", "--batch", "1"], 1,
                       f"vggcl: bench: the model's resize (its metadata \"vggcl.resize\") {side},{side}, the size it "
                       "is benched at: device out of memory")
            (self.d / "w8big.safetensors").unlink(), bad.unlink()
        # a batch of images too large for the device: said before its pass, as a pass would say it, also where
        # the first batch had no readable image (the second is the first made)
        side = int((max_alloc / 3 / (64 * 4)) ** 0.5)
        if side > 16384:
            self.skipTest("the device holds 8 images of --crop's largest size")
        bad = self.d / "bad.png"
        bad.write_bytes(b"not an image")
        for lead in ([], [bad] * 8):
            r = self.fails(["classify", "--weights", self.d / "w8.safetensors", "--resize", "0", "--crop", side,
                            "--batch", "8", *lead, *[img] * 8], 1, f"device out of memory: batch 8 at {side}x{side}",
                           "the largest batch that fits at this size is ")
            self.assertNotIn(" of 1 (", r.stderr)  # (the pass's own failure: after the batch was made)
            self.assertNotIn(" of 2 (", r.stderr)
        # on each of several devices, the first that cannot hold it named
        two, name = testenv.two_devices(VGGCL) or (None, None)
        if two:
            self.fails(["classify", "--weights", self.d / "w8.safetensors", "--resize", "0", "--crop", side, "--batch",
                        "8", "--device", "all", *[img] * 8], 1, f"vggcl: device 0 ({name}): device out of memory: "
                        f"batch 8 at {side}x{side}", env=two)

    def test_kernel_build_failure(self):
        kdir = self.d / "kernels"
        kdir.mkdir()
        for f in (ROOT / "kernels").glob("*.cl"):
            (kdir / f.name).write_text(f.read_text())
        # the first layer's kernels (PoCL: the channel-packed Winograd)
        (kdir / "winograd_packed.cl").write_text((ROOT / "kernels" / "winograd_packed.cl").read_text() +
                                                 "\nvoid broken(void) { undefined_symbol = 1; }\n")
        self.fails(self.run_args(), 1, "layer features.0", "clBuildProgram", "CL_BUILD_PROGRAM_FAILURE",
                   "build log", "undefined_symbol", f"{kdir}/winograd_packed.cl on ",  # (the folder built from)
                   env={"VGGCL_KERNEL_DIR": str(kdir)})
        # a log past the message's room: cut there, said, and the whole of it logged (it stopped mid-line)
        (kdir / "winograd_packed.cl").write_text((ROOT / "kernels" / "winograd_packed.cl").read_text() +
                                                 "\nvoid broken(void) {" + " ".join(f"undefined_{i} = 1;" for i in
                                                                                    range(400)) + "}\n")
        r = self.fails(self.run_args(), 1, "(the build log is cut at [...]; the whole log went to the log function)",
                       env={"VGGCL_KERNEL_DIR": str(kdir)})
        self.assertIn("undefined_399", r.stderr)
        # the message keeps the log's start and end around [...] (its end had been written over by the note)
        message = next(line for line in r.stderr.split("\nvggcl: ") if "(the build log is cut at" in line)
        self.assertIn(" [...] ", message)
        (kdir / "gap.cl").unlink()
        (kdir / "winograd_packed.cl").write_text((ROOT / "kernels" / "winograd_packed.cl").read_text())
        self.fails(self.run_args(), 1, "gap.cl", "cannot be opened: No such file or directory",
                   env={"VGGCL_KERNEL_DIR": str(kdir)})
        # a FIFO is not waited on (the run hung), a folder said as one; the layer named
        os.mkfifo(kdir / "gap.cl")
        self.fails(self.run_args(), 1, f"vggcl: layer GAP (16 ch, 2x1): kernel source {kdir}/gap.cl (from "
                   "VGGCL_KERNEL_DIR) cannot be opened: not a regular file", env={"VGGCL_KERNEL_DIR": str(kdir)})
        (kdir / "gap.cl").unlink()
        (kdir / "gap.cl").mkdir()
        self.fails(self.run_args(), 1, "gap.cl (from VGGCL_KERNEL_DIR) cannot be opened: Is a directory",
                   env={"VGGCL_KERNEL_DIR": str(kdir)})

    @unittest.skipIf("ASAN_OPTIONS" in os.environ, "ASan's own madvise calls")
    def test_huge_pages_advice(self):
        """On a CPU device with VGGCL_HUGE_PAGES=1 the packed weights' maps of 2 MiB or more are advised as huge
        pages (MADV_HUGEPAGE, seen by strace); unset or 0 (the default since 0.3: in a virtual machine that hands
        freed memory to its host, a load took 5x as long so) leaves that out, the answers the same."""
        if not shutil.which("strace"):
            self.fail("strace is missing: .ci/install-deps.sh installs it")
        r = self.vggcl("devices")
        first = next(ln for ln in r.stdout.splitlines() if ln[:1].isdigit())  # (the tests' device: the first)
        if os.environ.get("VGGCL_DEVICE") or first.split()[2] != "CPU":
            self.skipTest("the tests' device is not PoCL's CPU device")
        w = self.d / "wide.safetensors"
        save_file(make_state_dict(parse_cfg("8,M,512,512"), False, 3, seed=4), w)  # (512->512: a 36 MB map)
        x = self.d / "x.npy"
        np.save(x, np.random.default_rng(0).normal(size=(1, 3, 8, 8)).astype(np.float32))
        outs, advised = [], []
        for env in ({"VGGCL_HUGE_PAGES": "1"}, {"VGGCL_HUGE_PAGES": "0"}, {}):
            out, log = self.d / f"y{len(outs)}.npy", self.d / "strace.txt"
            r = subprocess.run(["strace", "-f", "-e", "trace=madvise", "-o", log, VGGCL, "run", "--weights", w,
                                "--input", x, "--output", out], capture_output=True, text=True,
                               env=dict({k: v for k, v in os.environ.items() if k != "VGGCL_HUGE_PAGES"}, **env),
                               timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
            advised.append(log.read_text().count("MADV_HUGEPAGE"))
            outs.append(np.load(out))
        self.assertGreater(advised[0], 0)
        self.assertEqual(advised[1:], [0, 0])
        np.testing.assert_array_equal(outs[1], outs[0])
        np.testing.assert_array_equal(outs[2], outs[0])

    def test_injected_device_failures(self):
        """VGGCL_FAULT fails one OpenCL call (tests/test_faults.c walks them all in the library):
        `vggcl run` and `vggcl classify` report it and write nothing."""
        cases = {
            "buffer:1": ("layer features.0", "clCreateBuffer", "CL_MEM_OBJECT_ALLOCATION_FAILURE"),
            # (the pass named, and a device out of memory after the check said it fits: held elsewhere too)
            "buffer:12": ("forward pass: workspace for", "MiB, batch 2 at 16x12): clCreateBuffer",
                          "CL_MEM_OBJECT_ALLOCATION_FAILURE", "held elsewhere too (another model or process): a "
                          "smaller batch needs less"),
            "build:2": ("layer ", "clBuildProgram", "CL_BUILD_PROGRAM_FAILURE"),
            "kernel:1": ("layer features.0", ": kernel ", " of kernels/", "clCreateKernel", "CL_INVALID_KERNEL_NAME"),
            "enqueue:1": ("layer features.0", "weights: clEnqueueMapBuffer", "CL_OUT_OF_RESOURCES"),
        }
        args = self.run_args(extra=["--features", self.out.parent / "f.npy"])
        for spec, needles in cases.items():
            with self.subTest(spec):
                self.fails(args, 1, *needles, env={"VGGCL_FAULT": spec})
        # after the weights (a map per conv layer, then, once all are packed, an unmap each): the input's
        # upload, the layers' kernels, the read-back, however many each algorithm enqueues
        def first_failing(args, call, code="CL_OUT_OF_RESOURCES"):
            for n in range(2, 80):
                r = self.fails(args, 1, code, env={"VGGCL_FAULT": f"enqueue:{n}:{code}"})
                if call in r.stderr:
                    return r.stderr
            self.fail(f"no enqueue:N failed {call}")
        self.assertRegex(first_failing(args, "clEnqueueUnmapMemObject"),
                         r"vggcl: layer features\.\d+ \(conv \d+->\d+\) weights: clEnqueueUnmapMemObject -> "
                         r"CL_OUT_OF_RESOURCES")
        self.assertIn("forward pass: input", first_failing(args, "clEnqueueWriteBuffer"))
        self.assertIn("layer ", first_failing(args, "clEnqueueNDRangeKernel"))
        self.assertIn("forward pass: reading the output", first_failing(args, "clEnqueueReadBuffer", "CL_INVALID_VALUE"))
        img = ROOT / "tests" / "data" / "tiny.png"
        classify = ["classify", "--weights", self.weights, "--resize", "24", "--crop", "16", "--logits-out", self.out, img]
        self.assertIn("layer ", first_failing(classify, "clEnqueueNDRangeKernel"))
        self.fails(self.run_args(), 1, "VGGCL_FAULT=enqueue", "expected KIND:N", env={"VGGCL_FAULT": "enqueue"})
        # (the kinds from the table VGGCL_FAULT is read with, not a copy of it)
        self.fails(self.run_args(), 1, "KIND one of buffer, build, kernel, arg, enqueue, any, steps, setup, cleanup, "
                   "spurious-build;", env={"VGGCL_FAULT": "bogus:1"})
        # a build from source failing without a compiler's diagnostic (PoCL's, now and then, when processes starting
        # at once shared its empty kernel cache: exit 1): said, built again, the run whole; another error is not,
        # nor is another driver's build (its failure not PoCL's cache's)
        if "(Portable Computing Language)" not in self.vggcl("devices").stdout.splitlines()[1]:
            return
        off = {"VGGCL_CACHE_DIR": "off"}
        r = self.vggcl(*args, env=dict(off, VGGCL_FAULT="spurious-build:1"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stderr, r"vggcl: layer \S+ .*: clBuildProgram -> CL_BUILD_PROGRAM_FAILURE \(-11\) without "
                                   r"a compiler's diagnostic \(the driver's kernel cache, shared by processes starting "
                                   r"at once\?\): built again\n")
        self.assertEqual(np.load(self.out).shape, (2, 3))
        self.out.unlink(), (self.out.parent / "f.npy").unlink()
        self.fails(args, 1, "clBuildProgram -> CL_OUT_OF_HOST_MEMORY", env=dict(off, VGGCL_FAULT="spurious-build:1:-6"))

    # --- outputs ------------------------------------------------------------
    def test_unwritable_output(self):
        r = self.vggcl("run", "--weights", self.weights, "--input", self.x, "--output", self.d / "no" / "y.npy")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no/y.npy", r.stderr)
        # features cannot be written (a full device): neither output is left; the logits alike (exit 0 once: said)
        self.fails(self.run_args(extra=["--features", "/dev/full"]), 1, "/dev/full")
        self.fails(["run", "--weights", self.weights, "--input", self.x, "--output", "/dev/full"], 1,
                   "vggcl: /dev/full: cannot write: No space left on device")
        # ... and an earlier run's file there is kept (the logits were renamed over it, then removed: it was
        # lost), also where the features are a regular file that the disk cannot hold (here a file size limit:
        # their data reached the disk as they were named, after the logits had been)
        x20 = self.d / "x20.npy"
        np.save(x20, np.zeros((20, 3, 8, 8), np.float32))  # (logits of 496 bytes, features of 1536)
        for limit, features, needle in (("", "/dev/full", "/dev/full: cannot write"),
                                        ("ulimit -f 1; ", self.d / "f.npy", "f.npy: cannot write: File too large")):
            self.out.write_bytes(b"an earlier run's")
            r = subprocess.run(["sh", "-c", f'trap "" XFSZ; {limit}exec "$@"', "sh", VGGCL,
                                *map(str, self.run_args(x=x20, extra=["--features", features]))],
                               capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(needle, r.stderr)
            self.assertEqual(self.out.read_bytes(), b"an earlier run's")
            self.assertEqual(sorted(p.name for p in self.out.parent.iterdir()), [self.out.name])
            self.out.unlink()
        # the logits to standard output, the features to a file the disk cannot hold: nothing on standard output
        # (written as it was readied, before the features: the whole array was out when the run failed)
        r = subprocess.run(["sh", "-c", 'trap "" XFSZ; ulimit -f 1; exec "$@"', "sh", VGGCL, "run", "--weights",
                            str(self.weights), "--input", str(x20), "--output", "-", "--features", str(self.d / "f.npy")],
                           capture_output=True, timeout=300)
        self.assertEqual((r.returncode, r.stdout), (1, b""), r.stderr)
        self.assertIn(b"f.npy: cannot write: File too large", r.stderr)
        self.assertFalse((self.d / "f.npy").exists())
        x20.unlink()
        # classify the same: --tensor-out was renamed over an earlier run's file, then removed when the logits
        # could not be written (lost); also for a share with no images read (--shard: empty arrays)
        img = ROOT / "tests" / "data" / "tiny.png"
        (self.d / "broken.png").write_bytes(b"not a png")
        tensor = self.out.parent / "t.npy"
        for images, extra in (([img, img], []), ([self.d / "broken.png"], ["--shard", "0/1"])):
            tensor.write_bytes(b"an earlier run's")
            r = self.vggcl("classify", "--weights", self.weights, "--resize", "24", "--crop", "16", "--tensor-out",
                           tensor, "--logits-out", "/dev/full", *extra, *images)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("vggcl: /dev/full: cannot write", r.stderr)
            self.assertEqual(tensor.read_bytes(), b"an earlier run's", r.stderr)
            self.assertEqual(sorted(p.name for p in self.out.parent.iterdir()), ["t.npy"])
        tensor.unlink()
        # a file of the set that cannot be replaced when it is named (immutable, as root; an I/O error there): the
        # files named before it are put back as they were (they had replaced the earlier run's, then were removed)
        immutable = self.out.parent / "immutable.npy"
        immutable.write_bytes(b"immutable")
        if subprocess.run(["chattr", "+i", str(immutable)], capture_output=True).returncode == 0:
            try:
                for args, first in ((self.run_args(extra=["--features", immutable]), self.out),
                                    (["classify", "--weights", self.weights, "--resize", "24", "--crop", "16",
                                      "--tensor-out", tensor, "--logits-out", immutable, img], tensor)):
                    first.write_bytes(b"an earlier run's")
                    r = self.vggcl(*args)
                    self.assertEqual(r.returncode, 1, r.stderr)
                    self.assertIn(f"vggcl: {immutable}: cannot write: Operation not permitted\n", r.stderr)
                    self.assertEqual(first.read_bytes(), b"an earlier run's")
                    self.assertEqual(sorted(p.name for p in self.out.parent.iterdir()), sorted([first.name,
                                                                                               immutable.name]))
                    first.unlink()
            finally:
                subprocess.run(["chattr", "-i", str(immutable)], check=True)
            # cam: an image's maps and picture alike (the picture, written before the maps are named, was lost)
            cams = self.d / "cams"
            cams.mkdir()
            cam = ["cam", "--weights", self.weights, "--resize", "24", "--crop", "16", "--out-dir", cams, img]
            r = self.vggcl(*cam)
            self.assertEqual(r.returncode, 0, r.stderr)
            before = {f.name: f.read_bytes() for f in cams.iterdir()}
            self.assertEqual(len(before), 3, before.keys())
            up = next(f for f in cams.iterdir() if f.name.endswith(".cam-up.npy"))
            for f in cams.iterdir():
                if f != up:
                    f.write_bytes(b"an earlier run's " + f.name.encode())
            before = {f.name: f.read_bytes() for f in cams.iterdir()}
            subprocess.run(["chattr", "+i", str(up)], check=True)
            try:
                r = self.vggcl(*cam)
            finally:
                subprocess.run(["chattr", "-i", str(up)], check=True)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"{up}: cannot write: Operation not permitted", r.stderr)
            self.assertEqual({f.name: f.read_bytes() for f in cams.iterdir()}, before)
            shutil.rmtree(cams)
            # where the earlier file cannot be linked (another user's, under protected_hardlinks; a file system
            # without hard links alike): moved aside instead, and put back (it was lost, unsaid)
            if Path("/proc/sys/fs/protected_hardlinks").read_text().strip() == "1":
                shared = self.d / "shared"
                shared.mkdir(mode=0o777)
                shared.chmod(0o777)
                self.d.chmod(0o755)
                for name in ("t.npy", "l.npy"):
                    (shared / name).write_bytes(b"an earlier run's " + name.encode())
                    (shared / name).chmod(0o644)
                before = {f.name: f.read_bytes() for f in shared.iterdir()}
                subprocess.run(["chattr", "+i", str(shared / "l.npy")], check=True)
                try:
                    r = subprocess.run([VGGCL, "classify", "--device", "ref", "--weights", str(self.weights),
                                        "--resize", "24", "--crop", "16", "--tensor-out", str(shared / "t.npy"),
                                        "--logits-out",
                                        str(shared / "l.npy"), str(img)], capture_output=True, text=True,
                                       timeout=300, preexec_fn=as_nobody, env=dict(os.environ, VGGCL_CACHE_DIR="off"))
                finally:
                    subprocess.run(["chattr", "-i", str(shared / "l.npy")], check=True)
                self.assertEqual(r.returncode, 1, r.stderr)
                self.assertIn("l.npy: cannot write", r.stderr)
                self.assertEqual({f.name: f.read_bytes() for f in shared.iterdir()}, before)
                shutil.rmtree(shared)
        else:
            print("  (chattr +i not taken here: the immutable output's case not run)", file=sys.stderr)
        immutable.unlink()
        # a folder where an output goes: refused before the run (the failed write removed the other output)
        (self.d / "f.npy").mkdir()
        self.fails(self.run_args(extra=["--features", self.d / "f.npy"]), 2, "f.npy is a folder")
        # standard output that cannot be written (a full disk): a failure, not exit 0 with answers missing
        img = ROOT / "tests" / "data" / "tiny.png"
        for args in (["classify", "--weights", self.weights, "--resize", "24", "--crop", "16", "--format", "json", img],
                     ["devices"], ["--version"], ["--help"],
                     ["bench", "--random", "--size", "32", "--iters", "1", "--json"],
                     ["bench", "--weights", self.weights, "--size", "16", "--iters", "1", "--json"]):
            with open("/dev/full", "w") as full:
                r = subprocess.run([VGGCL, *map(str, args)], stdout=full, stderr=subprocess.PIPE, text=True,
                                   timeout=300)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("vggcl: cannot write standard output: No space left on device", r.stderr)
        # cam: said with the reason (it said "a write failed") and the run stopped, as classify's (it drew on)
        pics = self.d / "pics"
        pics.mkdir()
        for i in range(3):
            shutil.copy(img, pics / f"{i}.png")
        with open("/dev/full", "w") as full:
            r = subprocess.run([VGGCL, "cam", "--weights", self.weights, "--resize", "24", "--crop", "16", "--out-dir",
                                pics, pics / "0.png", pics / "1.png", pics / "2.png"], stdout=full,
                               stderr=subprocess.PIPE, text=True, timeout=300)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("vggcl: cannot write standard output: No space left on device\n", r.stderr)
        self.assertIn(f"cam: stopped after {pics / '0.png'}, whose lines standard output did not take; images after "
                      "it not drawn: 2", r.stderr)
        self.assertEqual(sorted(p.name for p in pics.iterdir() if ".cam" in p.name),
                         ["0.cam-up.npy", "0.cam.npy", "0.cam.png"])

    def test_files_from(self):
        """--files-from: the images and folders a list names, after the arguments, in its order; lines (LF or CRLF,
        empty ones passed over) or NUL-terminated entries (find -print0), from a file or standard input; a list
        naming nothing, one that cannot be read, and an output that is the list are refused; the answers are
        those of the same paths given as arguments."""
        # an entry longer than a message holds (9000 bytes): its error keeps its reason, the name's middle left
        # out (the name alone was said, cut at 8 kB)
        (self.d / "long.txt").write_bytes(b"b" * 9000 + b"\n")
        r = self.vggcl("preprocess", "--files-from", self.d / "long.txt", "--output", self.d / "long.npy")
        self.assertEqual(r.returncode, 1, r.stderr[-300:])
        self.assertIn("b [...] b", r.stderr)
        self.assertIn("b: cannot open image: File name too long\n", r.stderr)
        # an entry past CLI_LINE_MAX (64 KiB): not a list of paths, refused as read (the file was read whole,
        # without a bound, and the entry printed whole in its message)
        # (last; ended by a newline; and within one read, after 64 KiB of short lines: only an entry the reads
        # ended in was checked)
        # (and in a NUL-terminated list, whose paths may hold a newline: one of 80001 bytes with one passed)
        # a binary file given as the list (NULs in a row: an image, the weights) was read as thousands of paths
        too_long = "more than 65536 bytes from byte {} on without an entry's end: not a list of paths (one per line, " \
                   "or NUL-terminated)"
        empty = "an empty entry (a NUL byte after another) at byte {}: not a list of paths (a binary file, an image? " \
                "images are given as arguments; NUL-terminated paths, as find -print0 writes them)"
        weights = self.weights.read_bytes()
        for text, said in ((b"x.png\n" + b"b" * 70000, too_long.format(6)),
                           (b"b" * 100000 + b"\nx.png\n", too_long.format(0)),
                           (b"x.png\n" * 10923 + b"c" * 100000 + b"\n" + b"x.png\n" * 30000, too_long.format(65538)),
                           (b"x.png\0" + b"d" * 40000 + b"\n" + b"d" * 40000 + b"\0", too_long.format(6)),
                           (weights, empty.format(len(weights[:8].rstrip(b"\0")) + 1)),
                           (b"a.png\0\0b.png\0", empty.format(6))):
            (self.d / "long.txt").write_bytes(text)
            r = self.vggcl("preprocess", "--files-from", self.d / "long.txt", "--output", self.d / "long.npy")
            self.assertEqual(r.returncode, 1, r.stderr[-300:])
            self.assertEqual(r.stderr, f"vggcl: preprocess: --files-from {self.d / 'long.txt'}: {said}\n")
            self.assertFalse((self.d / "long.npy").exists())
        # /dev/zero as the list: refused at its first byte (it was read until the memory ran out; ASan reserves
        # its shadow memory past any limit)
        if "ASAN_OPTIONS" not in os.environ:
            r = subprocess.run([VGGCL, "preprocess", "--files-from", "/dev/zero", "--output", self.d / "long.npy"],
                               capture_output=True, text=True, timeout=120,
                               preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30)))
            self.assertEqual(r.stderr, f"vggcl: preprocess: --files-from /dev/zero: {empty.format(0)}\n")
        (self.d / "long.txt").write_bytes(b"b" * 65536 + b"\n")  # (64 KiB itself: a name, too long to open)
        r = self.vggcl("preprocess", "--files-from", self.d / "long.txt", "--output", self.d / "long.npy")
        self.assertIn("cannot open image: File name too long", r.stderr)
        imgs = self.d / "imgs"
        (imgs / "sub").mkdir(parents=True)
        for i, name in enumerate(("b.png", "a.png", "sub/c.png", "d.png")):
            Image.fromarray((np.random.default_rng(i).random((20 + i, 17, 3)) * 255).astype(np.uint8)).save(imgs / name)
        cls = ["classify", "--weights", self.weights, "--resize", "24", "--crop", "16", "--device", "ref",
               "--format", "json", "--top", "1"]
        order = [imgs / "d.png", imgs / "b.png", imgs / "missing.png", imgs / "sub"]
        want = self.vggcl(*cls, "--logits-out", self.d / "want.npy", *order)
        self.assertEqual(want.returncode, 1, want.stderr)  # (missing.png: named, skipped)
        files = [json.loads(line)["file"] for line in want.stdout.splitlines()]
        self.assertEqual(files, [str(p) for p in (imgs / "d.png", imgs / "b.png", imgs / "sub" / "c.png")])
        lf = self.d / "list.txt"
        lf.write_text(f"{order[1]}\r\n\n{order[2]}\n{order[3]}")  # (CRLF, an empty line, no last newline)
        bom = self.d / "bom.txt"  # (a UTF-8 byte order mark, as a Windows editor writes it: the first path's)
        bom.write_bytes(b"\xef\xbb\xbf" + lf.read_bytes())
        for given, stdin in (([lf], None), (["-"], lf.read_bytes()), (["-"], b"\0".join(map(bytes, order[1:])) + b"\0"),
                             ([bom], None), (["/dev/stdin"], lf.read_bytes())):
            r = subprocess.run([VGGCL, *map(str, cls), "--logits-out", self.d / "got.npy", "--files-from", *given,
                                order[0]], input=stdin or b"", capture_output=True, timeout=300)
            self.assertEqual((r.returncode, r.stdout), (1, want.stdout.encode()), r.stderr)
            self.assertIn(f"{order[2]}: cannot open", r.stderr.decode())
            self.assertTrue(np.array_equal(np.load(self.d / "got.npy"), np.load(self.d / "want.npy")))
        # a NUL-terminated list is a program's, taken byte for byte: a first name beginning with a byte order mark
        # keeps it (it was left out: e.png classified in the place of its neighbour, exit 0 unsaid)
        marked = self.d / "marked"
        marked.mkdir()
        for i, name in enumerate(("\ufeffe.png", "e.png")):
            Image.fromarray(np.full((20, 20, 3), 60 * i, np.uint8)).save(marked / name)
        r = subprocess.run([VGGCL, *map(str, cls), "--files-from", "-"], input="\ufeffe.png\0".encode(), cwd=marked,
                           capture_output=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([json.loads(line)["file"] for line in r.stdout.splitlines()], ["\ufeffe.png"])
        for given in ("-", "/dev/fd/0"):
            with open(self.d / "t.npy", "wb") as t:  # (the tensor to standard output, a file: it was refused as
                r = subprocess.run([VGGCL, "preprocess", "--resize", "24", "--crop", "16", "--output", "-",  # the list)
                                    "--recursive", "--files-from", given], input=f"{imgs}\n".encode(), stdout=t,
                                   stderr=subprocess.PIPE, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)  # (--recursive for a folder the list names)
            self.assertEqual(np.load(self.d / "t.npy").shape, (4, 3, 16, 16))
        r_end, w_end = os.pipe()  # (a non-blocking standard input, the list late: "Resource temporarily unavailable")
        os.set_blocking(r_end, False)
        p = subprocess.Popen([VGGCL, *map(str, cls), "--files-from", "-"], stdin=r_end, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        os.close(r_end)
        time.sleep(0.5)
        os.write(w_end, lf.read_bytes())
        os.close(w_end)
        out, err = p.communicate(timeout=300)
        self.assertEqual((p.returncode, out), (1, "\n".join(want.stdout.splitlines()[1:]).encode() + b"\n"), err)
        primary, secondary = pty.openpty()  # (a terminal: it waited for typing, unsaid)
        r = subprocess.run([VGGCL, *map(str, cls), "--files-from", "-"], stdin=secondary, capture_output=True,
                           text=True, timeout=300)
        os.close(primary), os.close(secondary)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("classify: --files-from -: standard input is a terminal; pipe the list into it", r.stderr)
        (self.d / "empty.txt").write_text("\n\n")
        self.fails([*cls, "--files-from", self.d / "empty.txt"], 2, f"classify: --files-from {self.d / 'empty.txt'} "
                   "names no image or folder")
        self.fails([*cls, "--files-from", self.d / "nothere.txt"], 1, "classify: --files-from "
                   f"{self.d / 'nothere.txt'}: cannot open the list: No such file or directory")
        self.fails([*cls, "--files-from", imgs], 1, f"--files-from {imgs}: cannot read the list: Is a directory")
        self.fails([*cls, "--files-from", lf, "--logits-out", lf], 2, f"--logits-out {lf} is the file --files-from {lf}")
        self.assertEqual(lf.read_bytes(), f"{order[1]}\r\n\n{order[2]}\n{order[3]}".encode())
        self.fails([*cls, "--files-from", self.d / "empty.txt", self.d], 2, f"classify: {self.d} holds no")
        (imgs / "none").mkdir()
        r = subprocess.run([VGGCL, "cam", "--weights", self.weights, "--resize", "24", "--crop", "16", "--device",
                            "ref", "--out-dir", self.out.parent, "--files-from", "-"], input=f"{imgs / 'none'}\n",
                           capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 2, r.stderr)  # (a folder without images, as an argument)
        self.assertIn(f"cam: {imgs / 'none'} holds no", r.stderr)

    def test_no_crop_first_image_too_small(self):
        """Without a crop, an image too small for the network where it would set every image's size is named
        and skipped (the next sets it), in classify, eval and train-head: the run stopped there with the pass's
        message, no image named, and eval gave no report."""
        data = self.d / "data"
        for c in ("a", "b"):
            (data / c).mkdir(parents=True)
        Image.fromarray(np.full((5, 6, 3), 90, np.uint8)).save(data / "a" / "0.png")  # (needs 8x8)
        Image.fromarray(np.full((5, 6, 3), 30, np.uint8)).save(data / "b" / "0.png")
        for name, seed in (("a/1.png", 1), ("b/1.png", 2), ("b/2.png", 3)):
            Image.fromarray((np.random.default_rng(seed).random((12, 10, 3)) * 255).astype(np.uint8)).save(data / name)
        size = ["--resize", "0", "--no-crop", "--device", "ref"]
        small = [f"{data / c / '0.png'}: preprocesses to 6 x 5 pixels (width x height): smaller than the 8 x 8 the "
                 "network takes (skipped)" for c in ("a", "b")]  # (as cam says it; the second: not "unlike the first")
        big = [data / "a" / "1.png", data / "b" / "1.png", data / "b" / "2.png"]
        r = self.vggcl("classify", "--weights", self.weights, *size, "--format", "json", "--logits-out",
                       self.d / "l.npy", data / "a" / "0.png", big[0], data / "b" / "0.png", *big[1:])
        want = self.vggcl("classify", "--weights", self.weights, *size, "--format", "json", "--logits-out",
                          self.d / "want.npy", *big)
        self.assertEqual((r.returncode, r.stdout), (1, want.stdout), r.stderr)
        for line in small:
            self.assertIn(line, r.stderr)
        self.assertIn("2 of 5 images were skipped; 3 classified", r.stderr)
        self.assertTrue(np.array_equal(np.load(self.d / "l.npy"), np.load(self.d / "want.npy")))
        r = self.vggcl("eval", "--weights", self.weights, "--data", data, *size)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("3 images, 3 classes (2 skipped)", r.stdout)
        for line in small:
            self.assertIn(line, r.stderr)
        for name in ("1.png", "2.png"):  # (one image scored: "1 image", not "1 images")
            (data / "b" / name).rename(self.d / name)
        r = self.vggcl("eval", "--weights", self.weights, "--data", data, *size)
        self.assertIn("1 image, 3 classes (2 skipped)", r.stdout)
        for name in ("1.png", "2.png"):
            (self.d / name).rename(data / "b" / name)
        r = self.vggcl("train-head", "--weights", self.weights, "--data", data, *size, "--epochs", "1", "--out",
                       self.out.parent / "h.safetensors")
        self.assertEqual(r.returncode, 1, r.stderr)  # (written, the skipped said: exit 1)
        self.assertIn("2 of 5 images were skipped", r.stderr)
        self.assertTrue((self.out.parent / "h.safetensors").exists())
        (self.out.parent / "h.safetensors").unlink()
        # preprocess for the model (--weights): the small image named, not the others as unlike it (its tensor is
        # classify's, whole or none: no file)
        r = self.vggcl("preprocess", "--weights", self.weights, "--resize", "0", "--no-crop", "--output",
                       self.out, data / "a" / "0.png", *big)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(vggcl_lines(r.stderr)[0], "vggcl: " + small[0].replace(" (skipped)", ""), r.stderr)
        self.assertNotIn("unlike", r.stderr)
        # a share whose size is set by an image before it (the small one passed over): the model was freed before
        # it was asked of that image's size (a use after free, under the sanitizers' build a crash)
        r = self.vggcl("preprocess", "--weights", self.weights, "--resize", "0", "--no-crop", "--shard", "1/2",
                       "--output", self.out, data / "a" / "0.png", big[0], big[1], big[2])
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(np.load(self.out).shape, (2, 3, 12, 10))

    def test_outputs_that_cannot_be_written(self):
        """Found before any work (classify printed its answers, then failed): a descriptor's alias not open or open
        for reading only, a symlink to itself (said without naming the option), a file in /proc, where even root
        cannot make a file, and a file there in a folder the user cannot write to (the writers make a new file
        there and name it)."""
        img = self.d / "a.png"
        shutil.copy(ROOT / "tests" / "data" / "tiny.png", img)
        cls = ["classify", "--weights", self.weights, "--resize", "24", "--crop", "16", "--device", "ref"]
        r = self.vggcl(*cls, "--logits-out", "/dev/fd/9", img)  # (the child's 9: not open)
        self.assertEqual((r.returncode, r.stdout), (1, ""), r.stderr)
        self.assertIn("vggcl: classify: --logits-out /dev/fd/9: descriptor 9 is not open", r.stderr)
        with open(img, "rb") as stdin:
            r = subprocess.run([VGGCL, *map(str, cls), "--tensor-out", "/proc/self/fd/0", img], stdin=stdin,
                               capture_output=True, text=True, timeout=300)
        self.assertEqual((r.returncode, r.stdout), (1, ""), r.stderr)
        self.assertIn("--tensor-out /proc/self/fd/0: descriptor 0 is open for reading only", r.stderr)
        (self.d / "loop.npy").symlink_to("loop.npy")
        r = self.vggcl(*cls, "--logits-out", self.d / "loop.npy", img)
        self.assertEqual((r.returncode, r.stdout), (1, ""), r.stderr)
        self.assertIn(f"vggcl: classify: --logits-out {self.d / 'loop.npy'}: cannot follow the symlink: Too many "
                      "levels of symbolic links", r.stderr)
        if os.path.isfile("/proc/version"):
            r = self.vggcl(*cls, "--logits-out", "/proc/version", img)
            self.assertEqual((r.returncode, r.stdout), (1, ""), r.stderr)
            self.assertIn("vggcl: classify: --logits-out /proc/version: cannot replace it: its new copy is made in "
                          "/proc: ", r.stderr)
        self.assertEqual([p.name for p in self.d.iterdir() if p.name.startswith(".vggcl-")], [])  # (the probes)
        if os.geteuid() != 0 or not shutil.which("setpriv"):
            return  # (the folder of another user: as root, run as nobody)
        ro = self.d / "ro"
        ro.mkdir(mode=0o755)
        (ro / "l.npy").write_bytes(b"an earlier run's")
        subprocess.run(["chown", "65534:65534", ro / "l.npy"], check=True)
        self.d.chmod(0o755)
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", VGGCL]
        if subprocess.run([*as_nobody, "--version"], capture_output=True, timeout=60).returncode != 0:
            return  # (vggcl in a folder of root's alone)
        r = subprocess.run([*as_nobody, *map(str, cls), "--logits-out", ro / "l.npy", img], capture_output=True,
                           text=True, timeout=300)
        self.assertEqual((r.returncode, r.stdout), (1, ""), r.stderr)
        self.assertIn(f"vggcl: classify: --logits-out {ro / 'l.npy'}: cannot replace it: its new copy is made in {ro}: "
                      "Permission denied", r.stderr)
        self.assertEqual((ro / "l.npy").read_bytes(), b"an earlier run's")

    def test_started_without_standard_descriptors(self):
        """A command started with standard output or error closed (`>&-`) writes its files as any run does, or
        fails where its answers cannot be printed: the first file opened took the free number 1 or 2 and the lines
        printed went into it (logits that loaded with every value wrong, kept, exit 0); a write past a file size limit is said naming the file, exit 1 (SIGXFSZ killed
        preprocess and the reference device without a word)."""
        imgs = self.d / "imgs"
        imgs.mkdir()
        for i in range(3):
            shutil.copy(ROOT / "tests" / "data" / "tiny.png", imgs / f"{i}.png")
        (imgs / "3.png").write_bytes(b"not an image")
        cls = ["classify", "--weights", self.weights, "--resize", "24", "--crop", "16", "--batch", "1"]
        want = self.vggcl(*cls, "--logits-out", self.d / "want.npy", imgs)
        self.assertEqual(want.returncode, 1, want.stderr)  # (3.png skipped)
        for closed, answers in ((">&-", False), ("2>&-", True), ("<&- >&- 2>&-", False)):
            got = self.out.parent / "got.npy"
            r = subprocess.run(["sh", "-c", f'exec "$@" {closed}', "sh", VGGCL, *map(str, cls), "--logits-out",
                                got, imgs], capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 1, closed)  # (3.png skipped; where standard output is closed, its lines)
            if not answers:  # (the answers not all written: a failed run, which leaves no output)
                self.assertEqual(list(self.out.parent.iterdir()), [], closed)
                if closed == ">&-":
                    self.assertIn("vggcl: cannot write standard output: Bad file descriptor", r.stderr)
                continue
            self.assertEqual(got.read_bytes(), (self.d / "want.npy").read_bytes(), closed)
            got.unlink()
        for args in (["preprocess", "--resize", "24", "--crop", "16", "--output", self.out, imgs / "0.png"],
                     self.run_args(extra=["--device", "ref"])):
            r = subprocess.run(["sh", "-c", 'ulimit -f 0; exec "$@"', "sh", VGGCL, *map(str, args)],
                               capture_output=True, text=True, timeout=300)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"{self.out}: cannot write: File too large", r.stderr)
            self.assertEqual(list(self.out.parent.iterdir()), [])

    def test_output_that_is_a_mount_point(self):
        """An output that is a file mounted there (a container's volume of one file): refused before any work, naming
        it (the new copy, made beside it, could not be renamed over it: EBUSY after the whole run); it stays."""
        if not testenv.mount_namespace():
            self.skipTest("needs root and unshare for a mount namespace")
        self.out.write_bytes(b"the volume's")
        (self.d / "other").write_bytes(b"")
        r = subprocess.run(["unshare", "-m", "sh", "-c", f'mount --bind "{self.d / "other"}" "{self.out}" && exec "$@"',
                            "sh", VGGCL, *map(str, self.run_args())], capture_output=True, text=True, timeout=300)
        self.assertEqual((r.returncode, r.stdout), (1, ""), r.stderr)
        self.assertIn(f"vggcl: run: --output {self.out}: cannot replace it: it is a mount point (a file mounted there, "
                      "as a container's volume of one file)", r.stderr)
        self.assertNotIn("wrote", r.stderr)
        self.assertEqual(sorted(p.name for p in self.out.parent.iterdir()), ["y.npy"])

    def test_outputs_apart(self):
        """Outputs that would replace what the command reads (the weights, the input, an image) or each other
        are refused before any work, exit 2, and the files stay; an output whose folder is not there is said
        at once (train-head trained every epoch first, classify printed answers first); /dev/null for two
        outputs is no clash."""
        img = self.d / "a.png"
        shutil.copy(ROOT / "tests" / "data" / "tiny.png", img)
        (self.d / "link.png").symlink_to(img)  # (the image under another name: the same file)
        kept = {p: p.read_bytes() for p in (self.weights, self.x, img)}
        cls = ["classify", "--weights", self.weights, "--resize", "24", "--crop", "16"]
        for args, said in (
                (["run", "--weights", self.weights, "--input", self.x, "--output", self.weights],
                 f"run: --output {self.weights} is the file --weights {self.weights}: it would be replaced"),
                (["run", "--weights", self.weights, "--input", self.x, "--output", self.x],
                 f"run: --output {self.x} is the file --input {self.x}"),
                (["run", "--weights", self.weights, "--input", self.x, "--output", self.d / "z.npy", "--features",
                  f"{self.d}/./z.npy"], f"--output {self.d / 'z.npy'} and --features {self.d}/./z.npy are the same file"),
                ([*cls, "--logits-out", img, self.d], f"classify: --logits-out {img} is the image {img} it reads"),
                ([*cls, "--tensor-out", self.weights, img], f"--tensor-out {self.weights} is the file --weights"),
                ([*cls, "--logits-out", self.d / "l.npy", "--tensor-out", self.d / "l.npy", img], "are the same file"),
                ([*cls, "--logits-out", img, self.d / "link.png"], f"--logits-out {img} is the image {self.d / 'link.png'}"),
                (["preprocess", "--output", img, img], f"preprocess: --output {img} is the image {img} it reads")):
            r = self.vggcl(*args)
            self.assertEqual((r.returncode, r.stdout), (2, ""), r.stderr)
            self.assertIn(said, r.stderr)
        self.assertEqual({p: p.read_bytes() for p in kept}, kept)
        self.assertEqual(sorted(p.name for p in self.d.iterdir()),
                         sorted(["w.safetensors", "x.npy", "out", "a.png", "link.png"]))
        data = self.d / "data"
        for c in ("a", "b"):
            (data / c).mkdir(parents=True)
            shutil.copy(img, data / c / "0.png")
        # standard output appended to (>>) what the command reads: refused (the report was written into the
        # weights, exit 0, and the next run refused them)
        for args, what in ((["run", "--weights", self.weights, "--input", self.x, "--output", self.d / "y.npy"],
                            "--weights"),
                           (["run", "--weights", self.weights, "--input", self.x, "--output", self.d / "y.npy"], "--input"),
                           ([*cls, img], "--weights"), (["preprocess", "--output", self.d / "t.npy", img], "--files-from"),
                           (["cam", "--weights", self.weights, "--out-dir", self.d, img], "--weights"),
                           (["eval", "--weights", self.weights, "--data", data, "--resize", "24", "--crop", "16"],
                            "--weights"),
                           (["train-head", "--weights", self.weights, "--data", data, "--out", self.d / "m.safetensors"],
                            "--weights"),
                           (["bench", "--weights", self.weights, "--size", "16", "--iters", "1"], "--weights"),
                           (["bench", "--weights", self.weights, "--images", data, "--crop", "16"], "--weights"),
                           (["tune", "--weights", self.weights, "--size", "16", "--budget", "0"], "--weights")):
            target = {"--weights": self.weights, "--input": self.x, "--files-from": self.d / "list.txt"}[what]
            if what == "--files-from":
                target.write_text(f"{img}\n")
                args = [*args, "--files-from", target]
            before = target.read_bytes()
            with open(target, "ab") as out:
                r = subprocess.run([VGGCL, *map(str, args)], stdout=out, stderr=subprocess.PIPE, text=True, timeout=300)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(f"vggcl: {args[0]}: standard output is the file {what} {target}: what the command prints "
                          "would be written into it", r.stderr)
            self.assertEqual(target.read_bytes(), before)
        (self.d / "list.txt").unlink()
        # "-" given for a file read by name is not standard output (it was said to be, whatever stdout was)
        with open(self.d / "answers.txt", "w") as out:
            r = subprocess.run([VGGCL, *map(str, cls), "--labels", "-", img], stdout=out, stderr=subprocess.PIPE,
                               text=True, timeout=300, input="a\nb\nc\n")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(vggcl_lines(r.stderr), ["vggcl: classify: --labels -: cannot open the file: No such file or "
                                                 "directory"])
        (self.d / "answers.txt").unlink()
        self.assertEqual(sorted(p.name for p in self.d.iterdir()),
                         sorted(["w.safetensors", "x.npy", "out", "a.png", "link.png", "data"]))
        for args, opt in (([*cls, "--logits-out", self.d / "no" / "l.npy", img], "--logits-out"),
                          (["preprocess", "--output", self.d / "no" / "t.npy", img], "--output"),
                          (["train-head", "--weights", self.weights, "--data", data, "--resize", "24", "--crop", "16",
                            "--out", self.d / "no" / "m.safetensors"], "--out"),
                          (["train-head", "--weights", self.weights, "--data", data, "--resize", "24", "--crop", "16",
                            "--out", self.d / "m.safetensors", "--features-out", self.d / "no" / "f"],
                           "--features-out")):
            r = self.vggcl(*args)
            self.assertEqual((r.returncode, r.stdout), (1, ""), r.stderr)
            name = Path(args[args.index(opt) + 1]).name + ("-train.npy" if opt == "--features-out" else "")
            self.assertEqual(vggcl_lines(r.stderr), [f"vggcl: {args[0]}: {opt} {self.d / 'no'}/{name}: the folder "
                                                     f"{self.d / 'no'} does not exist"])
        # a link to a file in a folder that is not there: said at once too (classify printed its answers first)
        (self.d / "dangling.npy").symlink_to(self.d / "no" / "l.npy")
        r = self.vggcl(*cls, "--logits-out", self.d / "dangling.npy", img)
        self.assertEqual((r.returncode, r.stdout), (1, ""), r.stderr)
        self.assertEqual(vggcl_lines(r.stderr), [f"vggcl: classify: --logits-out {self.d / 'dangling.npy'}: the folder "
                                                 f"{self.d / 'no'} does not exist"])
        (self.d / "dangling.npy").unlink()
        r = self.vggcl(*cls, "--logits-out", "/dev/null", "--tensor-out", "/dev/null", img)
        self.assertEqual(r.returncode, 0, r.stderr)
        # train-head's --features-out PREFIX stands for its four files: one of them as --out is a clash, the
        # prefix itself as --out is none
        th = ["train-head", "--weights", self.weights, "--data", data, "--resize", "24", "--crop", "16", "--epochs", "1"]
        r = self.vggcl(*th, "--out", self.d / "f-train.npy", "--features-out", self.d / "f")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn(f"--out {self.d / 'f-train.npy'} and --features-out {self.d / 'f-train.npy'} are the same file",
                      r.stderr)
        r = self.vggcl(*th, "--out", self.d / "f", "--features-out", self.d / "f")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sorted(p.name for p in self.d.glob("f*")),
                         ["f", "f-train-labels.npy", "f-train.npy", "f-val-labels.npy", "f-val.npy"])

    def test_eval_json_ratios_read_back(self):
        """eval's JSON ratios read back as the very double of their counts: cJSON prints 15 digits where they come
        within its epsilon of the number (6/7 read back 1 ulp off: its issue 838). A head that always says class
        0, on 6 images of class 0 and 1 of class 1."""
        sd = make_state_dict(parse_cfg(CFG), True, 2, seed=1)
        sd["classifier.0.weight"] = np.zeros_like(sd["classifier.0.weight"])
        sd["classifier.0.bias"] = np.array([50.0, 0.0], np.float32)
        w = self.d / "zero.safetensors"
        save_file(sd, w)
        for c, n in (("a", 6), ("b", 1)):
            (self.d / "data" / c).mkdir(parents=True)
            for i in range(n):
                shutil.copy(ROOT / "tests" / "data" / "tiny.png", self.d / "data" / c / f"{i}.png")
        r = self.vggcl("eval", "--weights", w, "--data", self.d / "data", "--resize", "24", "--crop", "16",
                       "--format", "json")
        self.assertEqual(r.returncode, 0, r.stderr)
        got = json.loads(r.stdout)
        self.assertEqual((got["top1"], got["per_class"][0]["precision"], got["per_class"][0]["recall"]), (6 / 7, 6 / 7, 1))
        self.assertIn('"top1":0.8571428571428571,', r.stdout)  # (the shortest text that reads back so)

    def test_option_values_and_missing_files(self):
        """A value left out (--top IMAGE) is named, not "give at least one image"; --std and --mean that would
        fail every image are refused at once, exit 2 (each image was skipped, exit 1), and a std not above 0,
        which a model's metadata cannot hold (train-head wrote a model vggcl then refused); a missing image or
        folder says so."""
        img = ROOT / "tests" / "data" / "tiny.png"
        cls = ["classify", "--weights", self.weights]
        for args, said in (([*cls, "--top", img], f"--top must be an integer from 1 to 1000000, not '{img}'"),
                           ([*cls, "--std", "0,0,0", img], "--std must be three finite numbers R,G,B above 0, not '0,0,0'"),
                           ([*cls, "--std", "inf,1,1", img],  # (it said "three numbers", as if inf were none)
                            "--std must be three finite numbers R,G,B above 0, not 'inf,1,1'"),
                           (["train-head", "--weights", self.weights, "--std", "0.2,-0.2,0.2", "--data", self.d,
                             "--out", self.d / "h.safetensors"],
                            "--std must be three finite numbers R,G,B above 0, not '0.2,-0.2,0.2'"),
                           ([*cls, "--mean", "1,1e39,0", img], "--mean must be three finite numbers R,G,B, not '1,1e39,0' "
                            "(as a float32 holds them: within 3.4e38)"),  # (finite as typed: said why not)
                           ([*cls, "--std", "1,1e-46,1", img], "--std must be three finite numbers R,G,B above 0, not "
                            "'1,1e-46,1' (as a float32 holds them: within 3.4e38, from 1.4e-45)"),
                           # numbers as typed: sscanf took a blank, '+', hex, nan, and 1e-400 as 0
                           ([*cls, "--mean", "1,nan,0", img], "--mean must be three finite numbers R,G,B, not '1,nan,0'"),
                           ([*cls, "--mean", " 1,2,3", img], "--mean must be three finite numbers R,G,B, not ' 1,2,3'"),
                           ([*cls, "--std", "1,2,3,", img], "--std must be three finite numbers R,G,B above 0, not '1,2,3,'"),
                           ([*cls, "--progress", "+1", img], "--progress must be a number of seconds"),
                           *((["train-head", "--weights", self.weights, "--data", self.d, "--out", self.d / "h",
                               opt, v], f"{opt} must be ") for opt, v in (("--l2", "1e-400"), ("--lr", "0x1p-3"),
                                                                         ("--momentum", " 0.5"), ("--val-split", "+0"))),
                           # a name cut short at 4096 bytes was written (PREFIX-train-label)
                           (["train-head", "--weights", self.weights, "--data", self.d, "--out", self.d / "h",
                             "--features-out", "x" * 4080], f"--features-out {'x' * 4080}: its files' names would be "
                                                            f"longer than {os.pathconf('/', 'PC_PATH_MAX') - 1} bytes"),
                           (["preprocess", "--std", "1,inf,1", "--output", self.d / "p.npy", img], "--std must be"),
                           # each above 0 and finite, but 1/std past a float (preprocess crashed; classify gave NaN)
                           (["preprocess", "--std", "1e-40,1,1", "--output", self.d / "p.npy", img],
                            "--mean/--std: normalization: mean 0.485,0.456,0.406 and std 9.99995e-41,1,1 take pixel "
                            "values past a float's range"),
                           # on the scale of 0..255: every input a near-constant, wrong answers unsaid, exit 0
                           ([*cls, "--mean", "123.68,116.78,103.94", img], "--mean/--std: mean 123.68,116.78,103.94 "
                            "is above 1, as on the scale of 0..255: the pixels are x/255, from 0 to 1, before (x - "
                            "mean)/std; give it divided by 255 (0.485,0.458,0.4076)"),
                           (["preprocess", "--std", "58.4,57.1,57.4", "--output", self.d / "p.npy", img],
                            "--mean/--std: std 58.4,57.1,57.4 is 10 or above, as on the scale of 0..255"),
                           ([*cls, "--draft", "--no-draft", img], "give --draft or --no-draft, not both"),
                           # 0, the metadata's and Python's "none", said as the command's own way
                           ([*cls, "--crop", "0", img], "--crop must be an integer from 1 to 16384, not '0' (none: "
                            "--no-crop)"),
                           # --resize HxW: each side from 1, digits alone, two at most
                           *(([*cls, "--resize", v, img], "--resize must be N (the short side; 0 to 16384, 0: none) or "
                              f"HxW (height x width, as torchvision's Resize((H, W)); 1 to 16384 each), not '{v}'")
                             for v in ("0x5", "5x0", "5x", "x5", "16385x2", "2x16385", "5x5x5", "5x+5", "5X5", "-1",
                                       "5,5", "4294967297x2")),
                           (["bench", "--draft", "--size", "16"], "--draft goes with --images DIR"),
                           (["bench", "--threads", "2"], "--threads goes with --images DIR (its image decoders; the "
                            "network's threads on a CPU are PoCL's: POCL_MAX_PTHREAD_COUNT=N)"),
                           (["bench", "--images", self.d, "--iters", "50"], "--iters does not go with --images DIR"),
                           (["bench", "--images", self.d, "--per-layer"],  # (it said the images set the size)
                            "--per-layer does not go with --images DIR (the layer table is of a batch on the device")):
            r = self.vggcl(*args)
            self.assertEqual(r.returncode, 2, r.stderr)
            lines = vggcl_lines(r.stderr)
            self.assertEqual(len(lines), 1, r.stderr)
            self.assertTrue(lines[0].startswith(f"vggcl: {args[0]}: {said}"), r.stderr)
        for args in ([*cls, img], [*cls, "--device", "ref,ref", img], ["bench", "--images", img.parent],
                     ["cam", "--weights", self.weights, "--out-dir", self.d, img],  # (several devices: it was 1)
                     ["preprocess", "--weights", self.weights, "--output", self.d / "p.npy", img]):
            r = self.vggcl(*args, "--std", "1e-40,1,1")
            self.assertEqual((r.returncode, r.stdout), (2, ""), r.stderr)
            self.assertIn("--mean/--std: normalization: mean 0.485,0.456,0.406 and std 9.99995e-41,1,1 take", r.stderr)
        r = self.vggcl(*cls, self.d / "missing.png")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"{self.d / 'missing.png'}: cannot open image: No such file or directory (skipped)", r.stderr)
        r = self.vggcl("eval", "--weights", self.weights, "--data", self.d / "missing")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"--data {self.d / 'missing'}: not there (expected a folder", r.stderr)

    def test_json_file_names_not_utf8(self):
        """A file name that is not UTF-8 comes out in --format json as valid JSON, its stray bytes as \\udcXX:
        Python's json.loads then os.fsencode give the name back (the raw byte made the line invalid)."""
        d = self.d / "imgs"
        d.mkdir()
        names = [b"l\xe9tin.png", "caf\u00e9 \"quoted\".png".encode(), b"\xff\xfe.png"]
        for n in names:
            shutil.copy(ROOT / "tests" / "data" / "tiny.png", os.fsdecode(bytes(d) + b"/" + n))
        r = subprocess.run([VGGCL, "classify", "--weights", str(self.weights), "--resize", "24", "--crop", "16",
                            "--format", "json", str(d)], capture_output=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        got = [os.fsencode(json.loads(line.decode("utf-8"))["file"]) for line in r.stdout.splitlines()]
        self.assertEqual(got, sorted(bytes(d) + b"/" + n for n in names))
        weights = bytes(self.d) + b"/w\xe9.safetensors"  # bench --json names its model the same way
        shutil.copy(self.weights, os.fsdecode(weights))
        r = subprocess.run([VGGCL, "bench", "--weights", os.fsdecode(weights), "--size", "16", "--iters", "1",
                            "--json"], capture_output=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(os.fsencode(json.loads(r.stdout.decode("utf-8"))["model"]), weights)

    def test_killed_run_leaves_nothing(self):
        """A run killed while its outputs stream (a cancelled batch job: SIGKILL, which nothing can catch)
        leaves no temporary file beside them: they have no name until they are complete (O_TMPFILE)."""
        imgs = self.d / "imgs"
        imgs.mkdir()
        Image.fromarray(np.random.default_rng(1).integers(0, 255, (300, 300, 3), dtype=np.uint8)).save(imgs / "0.png")
        for i in range(1, 48):
            os.link(imgs / "0.png", imgs / f"{i}.png")
        out = self.d / "out"
        p = subprocess.Popen([VGGCL, "classify", "--weights", self.weights, "--device", "ref", "--resize", "300",
                              "--crop", "288", "--batch", "1", "--logits-out", out / "l.npy", "--tensor-out",
                              out / "t.npy", imgs], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline, opened = time.time() + 120, False
        while not opened and p.poll() is None and time.time() < deadline:
            for fd in Path(f"/proc/{p.pid}/fd").iterdir():
                try:
                    opened |= os.readlink(fd).startswith(str(out))
                except OSError:
                    pass
            time.sleep(0.01)
        p.kill()
        p.wait(timeout=60)
        self.assertTrue(opened, "the outputs were not open while it ran")
        self.assertEqual(list(out.iterdir()), [])

    def test_killed_while_naming(self):
        """A process killed while its first output is made durable leaves none of them; a Ctrl-C or a kill
        (SIGTERM) once a set is made durable and named (cam's maps and picture, train-head's model and features,
        classify's arrays) is held back until the set is whole: the set is there, no temporary name left
        (.vggcl.tmp.*: a Ctrl-C while cam drew its picture left them), lines said of it too, and the process ends
        by the signal; a name that cannot be given (a full folder) fails before any earlier file is replaced.
        strace ends it at the system call named."""
        if not shutil.which("strace"):
            self.fail("strace is missing: .ci/install-deps.sh installs it")
        tiny = ROOT / "tests" / "data" / "tiny.png"
        for c in ("a", "b"):
            (self.d / "data" / c).mkdir(parents=True)
            shutil.copy(tiny, self.d / "data" / c / "0.png")
        out = self.d / "out"
        size = ["--resize", "24", "--crop", "16", "--device", "ref"]
        renames = "rename,renameat,renameat2"
        traced = dict(os.environ)  # (LeakSanitizer does not work under ptrace: the sanitizers' run, leaks unsought)
        if "ASAN_OPTIONS" in traced:
            traced["ASAN_OPTIONS"] += ":detect_leaks=0"
        runs = (("fsync", "KILL", 1, ["cam", "--weights", self.weights, *size, "--out-dir", out, tiny], []),
                ("fsync", "TERM", 2, ["cam", "--weights", self.weights, *size, "--out-dir", out, tiny],
                 ["tiny.cam-up.npy", "tiny.cam.npy", "tiny.cam.png"]),
                ("fsync", "KILL", 1, ["train-head", "--weights", self.weights, "--data", self.d / "data", *size,
                                      "--epochs", "1", "--out", out / "h.safetensors", "--features-out", out / "f"], []),
                (renames, "TERM", 1, ["cam", "--weights", self.weights, *size, "--out-dir", out, tiny],
                 ["tiny.cam-up.npy", "tiny.cam.npy", "tiny.cam.png"]),
                (renames, "INT", 1, ["train-head", "--weights", self.weights, "--data", self.d / "data", *size,
                                     "--epochs", "1", "--out", out / "h.safetensors", "--features-out", out / "f"],
                 ["f-train-labels.npy", "f-train.npy", "f-val-labels.npy", "f-val.npy", "h.safetensors"]),
                (renames, "TERM", 1, ["classify", "--weights", self.weights, *size, "--logits-out", out / "l.npy",
                                      "--tensor-out", out / "t.npy", tiny], ["l.npy", "t.npy"]),
                # (run's and preprocess's lines were not said: the signal acted once the files were named)
                (renames, "INT", 1, ["run", "--weights", self.weights, "--input", self.x, "--output", out / "o.npy",
                                     "--features", out / "f.npy", "--device", "ref"], ["f.npy", "o.npy"]),
                (renames, "TERM", 1, ["preprocess", "--resize", "24", "--crop", "16", "--output", out / "p.npy", tiny],
                 ["p.npy"]))
        for calls, sig, when, args, left in runs:
            with self.subTest(f"{args[0]} {sig} at {calls} {when}"):
                shutil.rmtree(out, ignore_errors=True)
                out.mkdir()
                # (SIGINT as the terminal gives it: a shell's background job starts with it ignored, which vggcl
                # keeps, as a program should, and the INT rows then ran to their end)
                r = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", f"trace={calls}", "-e",
                                    f"inject={calls}:signal={sig}:when={when}", VGGCL, *map(str, args)],
                                   capture_output=True, text=True, env=traced, timeout=300,
                                   preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
                self.assertEqual(r.returncode, -getattr(signal, "SIG" + sig), r.stderr)
                self.assertEqual(sorted(p.name for p in out.iterdir()), left, r.stderr)
                if args[0] != "classify" and left:
                    self.assertIn("wrote", r.stdout)  # (the line of the set named, not lost in stdout's buffer)
                if args[0] == "classify":
                    self.assertEqual(np.load(out / "l.npy").shape, (1, 3))
        # cam: a SIGTERM between images (as the second's pass reads the host's free memory, the reference's check:
        # the images are decoded ahead, so the second's opening comes before the first is drawn) keeps the first
        # one's line with its files (its line was lost in stdout's buffer, the files there)
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()
        second = self.d / "second.png"
        shutil.copy(tiny, second)
        cam = [VGGCL, "cam", "--weights", str(self.weights), *size, "--out-dir", str(out), str(tiny)]
        counted = self.d / "meminfo.txt"
        r = subprocess.run(["strace", "-f", "-qq", "-o", str(counted), "-P", "/proc/meminfo", "-e", "trace=open,openat",
                            *cam], capture_output=True, text=True, env=traced, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        reads = len(counted.read_text().splitlines())  # (the one image's run: the reads before a second's)
        shutil.rmtree(out), out.mkdir()
        r = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-P", "/proc/meminfo", "-e", "trace=open,openat",
                            "-e", f"inject=open,openat:signal=TERM:when={reads + 1}", *cam, str(second)],
                           capture_output=True, text=True, env=traced, timeout=300)
        self.assertEqual(r.returncode, -signal.SIGTERM, r.stderr)
        self.assertEqual(sorted(p.name for p in out.iterdir()), ["tiny.cam-up.npy", "tiny.cam.npy", "tiny.cam.png"])
        self.assertIn(f"wrote {out / 'tiny.cam.png'}", r.stdout)
        # the second output's temporary name refused (ENOSPC): the first run's two arrays kept, both (runs[5]: classify)
        before = {p.name: p.read_bytes() for p in out.iterdir()}
        r = subprocess.run(["strace", "-f", "-qq", "-o", "/dev/null", "-e", "trace=linkat", "-e",
                            "inject=linkat:error=ENOSPC:when=2", VGGCL, *map(str, runs[5][3][:-1]), tiny, tiny],
                           capture_output=True, text=True, env=traced, timeout=300)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("No space left on device", r.stderr)
        self.assertEqual({p.name: p.read_bytes() for p in out.iterdir()}, before)

    def test_output_targets(self):
        """An output is never replaced by anything but a regular file: a symlink's target is written
        (atomically there), a FIFO, a device, "-" and a link to standard output are written directly,
        a failed write to a device is an error; new files follow the umask."""
        plain = self.d / "plain.npy"
        r = self.vggcl("run", "--weights", self.weights, "--input", self.x, "--output", plain)
        self.assertEqual(r.returncode, 0, r.stderr)
        want = plain.read_bytes()
        # a symlink (relative, to a file not there yet, then to one that is): its target is written
        (self.d / "real").mkdir()
        link = self.d / "link.npy"
        link.symlink_to("real/target.npy")
        for _ in range(2):
            r = self.vggcl("run", "--weights", self.weights, "--input", self.x, "--output", link)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(link.is_symlink())
            self.assertEqual((self.d / "real" / "target.npy").read_bytes(), want)
        self.assertEqual(sorted(p.name for p in (self.d / "real").iterdir()), ["target.npy"])
        # a FIFO with a reader waiting gets the bytes and stays a FIFO
        fifo = self.d / "out.fifo"
        os.mkfifo(fifo)
        reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
        r = self.vggcl("run", "--weights", self.weights, "--input", self.x, "--output", fifo)
        got = reader.communicate(timeout=60)[0]
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(got, want)
        self.assertTrue(stat.S_ISFIFO(fifo.lstat().st_mode))
        # one that no process reads yet: said at once (the run waited unsaid, seemingly hung at its start), then
        # written when one does
        p = subprocess.Popen([VGGCL, "run", "--weights", self.weights, "--input", self.x, "--output", fifo],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        said, deadline = b"", time.monotonic() + 120
        while b"waiting for its reader" not in said and time.monotonic() < deadline and p.poll() is None:
            if select.select([p.stderr], [], [], 1)[0]:
                said += os.read(p.stderr.fileno(), 4096)
        self.assertIn(f"vggcl: {fifo}: a FIFO that no process reads yet: waiting for its reader\n".encode(), said)
        got = fifo.read_bytes()
        self.assertEqual(p.wait(timeout=60), 0, said + p.stderr.read())
        p.stderr.close()
        self.assertEqual(got, want)
        # a UNIX socket in its place (open's ENXIO too): said as what it is, not a FIFO waited for
        import socket
        with socket.socket(socket.AF_UNIX) as sock:
            sock.bind(str(self.d / "out.sock"))
            r = self.vggcl("run", "--weights", self.weights, "--input", self.x, "--output", self.d / "out.sock")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(vggcl_lines(r.stderr), [f"vggcl: {self.d / 'out.sock'}: cannot open for writing: No such "
                                                 "device or address"])
        (self.d / "out.sock").unlink()
        # the streamed writer (classify --logits-out) seeks back to its header: to a FIFO it is staged and
        # copied whole
        img = ROOT / "tests" / "data" / "tiny.png"
        cls = ["classify", "--weights", self.weights, "--resize", "24", "--crop", "16", "--logits-out"]
        r = self.vggcl(*cls, self.d / "l.npy", img, img)
        self.assertEqual(r.returncode, 0, r.stderr)
        reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.PIPE)
        r = self.vggcl(*cls, fifo, img, img)
        got = reader.communicate(timeout=60)[0]
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(got, (self.d / "l.npy").read_bytes())
        # a run that fails after writing it undoes only regular files: the FIFO and the link stay, and the link's
        # target keeps the earlier run's array (it was replaced, then removed)
        reader = subprocess.Popen(["cat", str(fifo)], stdout=subprocess.DEVNULL)
        for out in (fifo, link):  # (the features fail as they are written: a full device)
            r = self.vggcl("run", "--weights", self.weights, "--input", self.x, "--output", out, "--features",
                           "/dev/full")
            self.assertEqual(r.returncode, 1, r.stderr)
        reader.wait(timeout=60)
        self.assertTrue(stat.S_ISFIFO(fifo.lstat().st_mode))
        self.assertTrue(link.is_symlink())
        self.assertEqual((self.d / "real" / "target.npy").read_bytes(), want)
        # standard output, as "-" and through a link to /proc/self/fd/1: the array alone (the report, which
        # went there too, goes to stderr), also from preprocess; classify, whose classes are printed there,
        # refuses it
        out_link = self.d / "stdout-link"
        out_link.symlink_to("/proc/self/fd/1")
        pre = ["preprocess", "--resize", "24", "--crop", "16", "--output"]
        r = self.vggcl(*pre, self.d / "p.npy", img, img)
        self.assertEqual(r.returncode, 0, r.stderr)
        for target in ("-", out_link, "/dev/stdout"):
            r = subprocess.run([VGGCL, "run", "--weights", self.weights, "--input", self.x, "--output", target],
                               capture_output=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, want)
            self.assertIn(b"top class", r.stderr)
            self.assertIn(f"wrote {target} (2, 3)".encode(), r.stderr)
            if target == "-":  # (the features' file named with its shape too: it was its name alone)
                r = subprocess.run([VGGCL, "run", "--weights", self.weights, "--input", self.x, "--output", target,
                                    "--features", self.d / "f.npy"], capture_output=True, timeout=300)
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertIn(f"wrote - (2, 3) and {self.d / 'f.npy'} (2, 16)\n".encode(), r.stderr)
                self.assertEqual(np.load(self.d / "f.npy").shape, (2, 16))
            r = subprocess.run([VGGCL, *map(str, pre), target, img, img], capture_output=True, timeout=300)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout, (self.d / "p.npy").read_bytes())
            self.assertIn(f"wrote {target} (2, 3, 16, 16)".encode(), r.stderr)
            for opt in ("--logits-out", "--tensor-out"):
                r = subprocess.run([VGGCL, *map(str, cls[:-1]), opt, target, img], capture_output=True, timeout=300)
                self.assertEqual((r.returncode, r.stdout), (2, b""), r.stderr)
                self.assertIn(f"{opt} {target} is standard output".encode(), r.stderr)
        # a non-blocking pipe for standard output, fuller than the pipe holds, read late: written whole (the write
        # failed at 64 KiB with EAGAIN, "Resource temporarily unavailable", the reader holding a cut array)
        many = self.d / "many.npy"
        np.save(many, np.random.default_rng(1).standard_normal((6000, 3, 8, 8)).astype(np.float32))  # (72 KB)
        ok = subprocess.run([VGGCL, "run", "--weights", self.weights, "--input", many, "--output", self.d / "m.npy"],
                            capture_output=True, timeout=300)
        self.assertEqual(ok.returncode, 0, ok.stderr)
        rd, wr = os.pipe()
        os.set_blocking(wr, False)
        p = subprocess.Popen([VGGCL, "run", "--weights", self.weights, "--input", many, "--output", "-"], stdout=wr,
                             stderr=subprocess.PIPE)
        os.close(wr)
        time.sleep(1)
        with os.fdopen(rd, "rb") as f:
            got = f.read()
        err = p.communicate(timeout=300)[1]
        self.assertEqual(p.returncode, 0, err)
        self.assertEqual(got, (self.d / "m.npy").read_bytes())
        # train-head's model to standard output: its training log goes to stderr
        data = self.d / "data"
        for c in ("a", "b"):
            (data / c).mkdir(parents=True)
            for i in range(2):
                shutil.copy(img, data / c / f"{i}.png")
        th = ["train-head", "--weights", self.weights, "--data", data, "--resize", "24", "--crop", "16", "--epochs",
              "2", "--val-split", "0", "--out"]
        r = self.vggcl(*th, self.d / "m.safetensors")
        self.assertEqual(r.returncode, 0, r.stderr)
        r = subprocess.run([VGGCL, *map(str, th), "-"], capture_output=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, (self.d / "m.safetensors").read_bytes())
        self.assertIn(b"epoch   2/2", r.stderr)
        self.assertIn(b"wrote - (2 classes", r.stderr)
        self.assertTrue(out_link.is_symlink())
        # what is written there is staged in $TMPDIR (the ranks' shares too), not always /tmp
        r = subprocess.run([VGGCL, "run", "--weights", self.weights, "--input", self.x, "--output", "-"],
                           capture_output=True, timeout=300, env=dict(os.environ, TMPDIR=str(self.d / "no-tmp")))
        self.assertEqual((r.returncode, r.stdout), (1, b""), r.stderr)
        self.assertIn(f"-: cannot write (no temporary file in {self.d / 'no-tmp'})".encode(), r.stderr)
        # classify's, through a descriptor: said before its first answers (it printed a batch of them first)
        r = subprocess.run(["sh", "-c", '"$@" 3>/dev/null', "sh", VGGCL, *map(str, cls), "/dev/fd/3", img, img],
                           capture_output=True, timeout=300, env=dict(os.environ, TMPDIR=str(self.d / "no-tmp")))
        self.assertEqual((r.returncode, r.stdout), (1, b""), r.stderr)
        self.assertIn(f"/dev/fd/3: cannot write (no temporary file in {self.d / 'no-tmp'})".encode(), r.stderr)
        # a staged copy that cannot be written whole (files of at most 4 KiB; a pipe has no such limit): said to
        # be the copy in $TMPDIR (it named the output alone, its error at times an I/O error)
        def small_files():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
        r = subprocess.run([VGGCL, "preprocess", "--output", "-", img], capture_output=True, timeout=300,
                           preexec_fn=small_files, env=dict(os.environ, TMPDIR=str(self.d)))
        self.assertEqual((r.returncode, r.stdout), (1, b""), r.stderr)
        self.assertIn(f"-: cannot write its copy staged in {self.d} (TMPDIR): File too large".encode(), r.stderr)
        # standard output redirected to a file: written through the descriptor, the file neither replaced
        # nor truncated (what it held stays; the report goes to stderr)
        redirect = self.d / "redirect.log"
        redirect.write_bytes(b"before\n")
        inode = redirect.stat().st_ino
        with open(redirect, "ab") as f:
            r = subprocess.run([VGGCL, "run", "--weights", self.weights, "--input", self.x, "--output",
                                "/proc/self/fd/1"], stdout=f, stderr=subprocess.PIPE, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(redirect.stat().st_ino, inode)
        self.assertEqual(redirect.read_bytes(), b"before\n" + want)
        self.assertIn(b"top class", r.stderr)
        # a reader that went away: an error (EPIPE), not a death by SIGPIPE
        rd, wr = os.pipe()
        os.close(rd)
        r = subprocess.run([VGGCL, "run", "--weights", self.weights, "--input", self.x, "--output", "-"],
                           stdout=wr, stderr=subprocess.PIPE, timeout=300)
        os.close(wr)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(b"Broken pipe", r.stderr)
        # the lines about the files to a reader gone away: SIGPIPE ends it, as any command in a pipe (docs/commands.md
        # said exit 1), the files named whole before; exit 1 where SIGPIPE is ignored
        for ignored, status in ((False, -signal.SIGPIPE), (True, 1)):
            (self.d / "piped.npy").unlink(missing_ok=True)
            rd, wr = os.pipe()
            os.close(rd)
            r = subprocess.run([VGGCL, "run", "--weights", self.weights, "--input", self.x, "--output",
                                self.d / "piped.npy"], stdout=wr, stderr=subprocess.PIPE, timeout=300,
                               preexec_fn=(lambda: signal.signal(signal.SIGPIPE, signal.SIG_IGN)) if ignored else None)
            os.close(wr)
            self.assertEqual(r.returncode, status, r.stderr)
            self.assertEqual((self.d / "piped.npy").read_bytes(), want)
        # a file that is there keeps its permissions
        kept = self.d / "kept.npy"
        kept.write_bytes(b"old")
        kept.chmod(0o600)
        r = self.vggcl("run", "--weights", self.weights, "--input", self.x, "--output", kept)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual((stat.S_IMODE(kept.stat().st_mode), kept.read_bytes()), (0o600, want))
        # a device (a private stand-in for /dev/full: the real entries are never touched) is written, not
        # replaced, and its ENOSPC is a failure
        if os.geteuid() == 0:
            full = self.d / "full"
            os.mknod(full, stat.S_IFCHR | 0o666, os.makedev(1, 7))
            r = self.vggcl("run", "--weights", self.weights, "--input", self.x, "--output", full)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("No space left on device", r.stderr)
            self.assertTrue(stat.S_ISCHR(full.lstat().st_mode))
        # the umask decides a new file's mode
        for mask, mode in ((0o022, 0o644), (0o027, 0o640), (0o077, 0o600)):
            out = self.d / f"mask{mask:o}.npy"
            r = subprocess.run([VGGCL, "run", "--weights", self.weights, "--input", self.x, "--output", out],
                               capture_output=True, text=True, timeout=300, preexec_fn=lambda m=mask: os.umask(m))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(stat.S_IMODE(out.stat().st_mode), mode)
        self.fails(["run", "--weights", self.weights, "--input", self.x, "--output", self.d], 2, "is a folder")
        self.assertEqual([p.name for p in self.d.rglob("*.tmp.*")], [])

    def test_success_ref_matches_device(self):
        for device in ("ref", "0"):
            out = self.d / f"y_{device}.npy"
            r = self.vggcl("run", "--weights", self.weights, "--input", self.x, "--output", out,
                           "--features", self.d / f"f_{device}.npy", "--device", device)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("top class", r.stdout)
        y_ref, y_cl = np.load(self.d / "y_ref.npy"), np.load(self.d / "y_0.npy")
        self.assertEqual(y_ref.shape, (2, 3))
        self.assertEqual(np.load(self.d / "f_0.npy").shape, (2, 16))
        np.testing.assert_allclose(y_cl, y_ref, rtol=1e-4, atol=1e-5)
        self.assertEqual([p.name for p in self.d.glob("*.tmp.*")], [])
        # a model that names its classes: the top class's name too, as classify gives it
        sd, _ = load_file(self.weights)
        save_file(sd, self.d / "named.safetensors", {"vggcl.classes": json.dumps(["ant", "bee", "cow"])})
        r = self.vggcl("run", "--weights", self.d / "named.safetensors", "--input", self.x, "--output", out)
        self.assertEqual(r.returncode, 0, r.stderr)
        top = y_ref.argmax(1)
        name = ["ant", "bee", "cow"][top[0]]
        self.assertRegex(r.stdout, f"image 0: top class {top[0]} \\({name}; logit -?[0-9.]+\\)\n")
        (self.d / "named.safetensors").unlink()
        # a NaN in the input passes to the logits (as in PyTorch); no top class is called for them
        x = np.load(self.x)
        x[1, 0, 3, 3] = np.nan
        np.save(self.d / "nan.npy", x)
        r = self.vggcl("run", "--weights", self.weights, "--input", self.d / "nan.npy", "--output", self.d / "yn.npy")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("image 0: top class", r.stdout)
        self.assertIn("image 1: logits not finite", r.stdout)
        self.assertTrue(np.isnan(np.load(self.d / "yn.npy")[1]).all())
        # past the rows shown, those not finite are counted (they went unsaid)
        many = np.concatenate([x] * 6)  # 12 images: 8 shown, 4 more, 2 of them (rows 9 and 11) NaN
        np.save(self.d / "nan.npy", many)
        r = self.vggcl("run", "--weights", self.weights, "--input", self.d / "nan.npy", "--output", self.d / "yn.npy")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("... (4 more images, 2 of them with logits not finite)", r.stdout)


class Bench(unittest.TestCase):
    """`vggcl bench` and the program-binary cache."""

    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.d = Path(self.tmp.name)

    def tearDown(self):
        self.tmp.cleanup()

    def bench(self, *args, env=None, cpus=None):
        e = dict(os.environ, VGGCL_CACHE_DIR=str(self.d / "cache"))
        e.update(env or {})
        r = subprocess.run([VGGCL, "bench", *map(str, args)], capture_output=True, text=True, env=e, timeout=600,
                           preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None)
        return r

    def test_head_of_another_name(self):
        """A model whose head is not classifier.K (fc): bench takes --head as run does, and tune, which tunes the
        convolutions, reads no head (both refused the model, bench telling the user to give a --head it lacked)."""
        w = self.d / "fc.safetensors"
        save_file(make_state_dict(parse_cfg(CFG), False, 3, seed=1, head="fc"), w)
        r = self.bench("--weights", w, "--size", "16", "--iters", "1")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("--head PREFIX", r.stderr)
        r = self.bench("--weights", w, "--head", "fc", "--size", "16", "--iters", "1", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["batch"], 1)
        r = self.bench("--random", "--head", "fc", "--size", "16")  # (passed over: the random model's is classifier.0)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("bench: --head goes with --weights", r.stderr)
        # (a cache folder's name from the environment, escaped where tune names the table it wrote)
        r = subprocess.run([VGGCL, "tune", "--weights", w, "--size", "16", "--iters", "1", "--budget", "0"],
                           capture_output=True, text=True,
                           env=dict(os.environ, VGGCL_CACHE_DIR=str(self.d / "cache\x1b[31m")), timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("features.0", r.stdout)
        self.assertNotIn("\x1b", r.stdout)
        self.assertIn(f"wrote {self.d}/cache\\x1b[31m/", r.stdout)
        # weights whose first layer overflows float32 (finite, so loaded): every candidate's check fails, said so
        # (it said "no algorithm ran" alone)
        sd = make_state_dict(parse_cfg("8,M,16"), False, 3, seed=3)
        sd["features.0.weight"][:] = 1e38
        save_file(sd, self.d / "huge.safetensors")
        r = subprocess.run([VGGCL, "tune", "--weights", self.d / "huge.safetensors", "--size", "16", "--iters", "1",
                            "--budget", "0"], capture_output=True, text=True,
                           env=dict(os.environ, VGGCL_CACHE_DIR=str(self.d / "cache")), timeout=600)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("vggcl: tuning layer features.0 (conv 3->8, 16x16, batch 1): no algorithm ran: none gave finite "
                      "answers on a small check (the layer's outputs overflow float32: weights too large?)", r.stderr)

    def test_size_from_the_model(self):
        """bench --weights times the model at the crop its metadata names, the input classify gives it (a trunk of
        240x240 was timed at 224, the default, whatever it was), else at 224; --size still says."""
        w = self.d / "w.safetensors"
        sd = make_state_dict(parse_cfg(CFG), False, 3, seed=1)
        for meta, args, size in (({"vggcl.resize": "48", "vggcl.crop": "40"}, [], "40x40"),
                                 ({"vggcl.resize": "48", "vggcl.crop": "40"}, ["--size", "36x44"], "36x44"),
                                 # (no crop, both sides resized: every image that size, H x W)
                                 ({"vggcl.resize": "24,40", "vggcl.crop": "0"}, [], "24x40"),
                                 ({"vggcl.resize": "48", "vggcl.crop": "0"}, [], "224x224"),
                                 ({}, [], "224x224")):
            save_file(sd, w, metadata=meta)
            r = self.bench("--weights", w, "--iters", "1", "--json", *args)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout)["size"], size, meta)

    def test_batch_too_large_said_first(self):
        """A batch the device cannot hold is refused before its input is made: the 2.4 GB of a batch of 4096
        at 224 were first filled in host memory (and could take the host's memory), then refused."""
        code, stderr, peak = testenv.run_peak([VGGCL, "bench", "--random", "--batch", "4096", "--size", "224",
                                               "--iters", "1"], env=dict(os.environ, VGGCL_CACHE_DIR=str(self.d / "cache")))
        self.assertEqual(code, 1, stderr)
        self.assertIn("device out of memory: batch 4096 at 224x224", stderr)
        self.assertIn("the largest batch that fits at this size is", stderr)
        self.assertLess(peak, 1536 * 1024, "kB of RSS")

    def test_json_and_per_layer(self):
        r = self.bench("--random", "--size", "40x36", "--batch", "2", "--iters", "3", "--json", "--per-layer",
                       "--peak-gflops", "76.8")  # (a fraction: 2 cores x 2.4 GHz x 16 flops; it took integers only)
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.strip().splitlines()
        self.assertEqual(len(lines), 1, "one JSON object on one line")
        j = json.loads(lines[0])
        for key in ("device", "batch", "size", "images_per_s", "ms_per_batch_median", "gflops", "device_bytes_peak"):
            self.assertIn(key, j)
        for key in (*j, *(k for layer in j["layers"] for k in layer)):  # (every field in docs/commands.md's list of them:
            self.assertIn(f"`{key}`", bench_fields_said(), key)          # most were documented nowhere)
        self.assertEqual((j["batch"], j["size"]), (2, "40x36"))
        # what the record is read again by: two runs that differed in these gave the same record but for times
        devices = self.vggcl_devices()
        self.assertEqual((j["vggcl"], j["pool5"], j["conv"], j["model"]),
                         (self.vggcl_version(), "keep", "auto", "random vgg16-gap7"))
        self.assertIn((j["device"], j["compute_units"]), devices)
        self.assertTrue(j["device_kind"].startswith(j["device"] + " (") and "driver " in j["device_kind"], j)
        self.assertLessEqual(j["ms_per_batch_min"], j["ms_per_batch_median"])
        self.assertLessEqual(j["ms_per_batch_median"], j["ms_per_batch_max"])
        self.assertAlmostEqual(j["images_per_s"], 2e3 / j["ms_per_batch_median"], places=2)
        # VGG16 convolutions at 40x36, counted by hand from the layer widths
        convs = [(3, 64, 40, 36), (64, 64, 40, 36), (64, 128, 20, 18), (128, 128, 20, 18), (128, 256, 10, 9),
                 (256, 256, 10, 9), (256, 256, 10, 9), (256, 512, 5, 4), (512, 512, 5, 4), (512, 512, 5, 4),
                 (512, 512, 2, 2), (512, 512, 2, 2), (512, 512, 2, 2)]
        flop = sum(2 * ci * co * 9 * h * w for ci, co, h, w in convs) * 2
        self.assertAlmostEqual(j["conv_gflop_per_batch"], flop / 1e9, places=3)
        self.assertGreater(j["device_bytes_peak"], 14_700_000 * 4)  # at least the weights
        names = [l["layer"] for l in j["layers"]]
        self.assertEqual(sum("conv" in n for n in names), 13)
        self.assertEqual(sum("max pool" in n for n in names), 5)
        self.assertTrue(any("GAP" in n for n in names) and any("dense" in n for n in names))
        self.assertTrue(all(l["ms"] >= 0 for l in j["layers"]))
        self.assertEqual(j["profiled_passes"], 3)
        self.assertAlmostEqual(sum(l["gflop"] for l in j["layers"] if "conv" in l["layer"]), flop / 1e9, places=3)
        # --peak-gflops in JSON as in the text: each layer's share of the peak (it was taken and ignored)
        self.assertEqual(j["peak_gflops"], 76.8)
        self.assertAlmostEqual(j["layers_total_ms"], sum(l["ms"] for l in j["layers"]), places=6)
        for l in j["layers"]:
            if l["ms"] > 0 and l["gflop"] > 0:
                self.assertAlmostEqual(l["of_peak"], l["gflop"] / (l["ms"] * 1e-3) / 76.8, places=6)

    def test_per_layer_names_in_json(self):
        """A layer's name holding a line end of Unicode's (the head's prefix, U+2028) is escaped in bench's JSON, as
        every other name vggcl writes there: it was written raw, and Python's splitlines cut the record in two."""
        w = self.d / "w.safetensors"
        head = 'h"e\nad\u2028'
        sd = make_state_dict(parse_cfg("8,M,16,M,16"), False, 2, seed=1)
        save_file({k.replace("classifier.0", head): v for k, v in sd.items()}, w)
        r = self.bench("--weights", w, "--head", head, "--size", "16", "--iters", "1", "--json", "--per-layer")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), 1, r.stdout)
        layers = [l["layer"] for l in json.loads(r.stdout)["layers"]]
        self.assertTrue(any(head in n for n in layers), layers)
        # and in the text's table, escaped as names are in every text vggcl prints (its line end began a row)
        r = self.bench("--weights", w, "--head", head, "--size", "16", "--iters", "1", "--per-layer")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn('layer h"e\\nad\\u2028 (dense 16->2)', r.stdout)
        self.assertFalse(any(ln.startswith("ad") for ln in r.stdout.splitlines()), r.stdout)

    def test_per_layer_times_all_of_sgemm(self):
        """A gemm layer's time covers every kernel of its CLBlast call: the event CLBlast gives is its last
        kernel's (a copy of C, which it padded), and the layers' times once summed to a fraction of the pass
        (tune then kept gemm for layers it ran 30-70x slower). Loose on purpose: the machine is noisy."""
        w = self.d / "w.safetensors"
        save_file(make_state_dict(parse_cfg("256,1024"), False, 2, seed=1), w)  # (large enough for its padded path)
        r = self.bench("--weights", w, "--size", "10", "--iters", "3", "--conv", "gemm", "--json", "--per-layer")
        self.assertEqual(r.returncode, 0, r.stderr)
        j = json.loads(r.stdout)
        layers = sum(l["ms"] for l in j["layers"])
        self.assertGreater(layers, 0.5 * j["ms_per_batch_min"], j["layers"])

    def test_per_layer_passes_capped(self):
        r = self.bench("--size", "32", "--iters", "7", "--json", "--per-layer")
        self.assertEqual(r.returncode, 0, r.stderr)
        j = json.loads(r.stdout)
        self.assertEqual((j["iters"], j["profiled_passes"]), (7, 5))

    def test_text_report(self):
        r = self.bench("--size", "32", "--iters", "2", "--per-layer", "--conv", "direct")
        self.assertEqual(r.returncode, 0, r.stderr)
        for needle in ("images/s", "GFLOP/s", "median", "device memory", "start-up", "features.28", "total",
                       "median of 2 profiled passes", "(0.626 GFLOP of convolution per batch)"):  # (VGG16 at 32x32)
            self.assertIn(needle, r.stdout)
        # the table's columns at one place whatever the layer's name (a layout change's, 71 characters, pushed its
        # row right of the others): each row's ms column ends where the heading's "ms" does
        r = self.bench("--size", "64", "--iters", "1", "--per-layer", "--conv", "winograd-packed")
        self.assertEqual(r.returncode, 0, r.stderr)
        table = r.stdout.split("\n\n", 1)[1].splitlines()
        self.assertTrue(any(len(ln.split("  ")[0]) > 68 for ln in table[1:]), table)  # (such a name is there)
        end = table[0].index(" ms ") + 3
        for ln in table[1:]:
            self.assertRegex(ln[:end], r" \d+\.\d{3}$", ln)

    def test_help_names_the_images_options(self):
        """bench --help's sentence of the options that go with --images, and of those that go without it, is what
        the command enforces (the sentence is written beside the lists the parser checks: each name in it refused on
        the other side, and each refused option named in it)."""
        text = " ".join(self.bench("--help").stdout.split())
        with_images = re.search(r"(--recursive, .*?) go with --images; (.*?) without it\.", text)
        self.assertTrue(with_images, text)

        def names(part):
            return re.findall(r"--([a-z-]+)", part)
        values = {"resize": "40", "crop": "32", "mean": "0,0,0", "std": "1,1,1", "threads": "2", "progress": "1",
                  "size": "32", "iters": "2", "peak-gflops": "100"}
        images = self.d / "pictures"
        images.mkdir()
        Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(images / "a.png")
        for listed, extra, said in ((names(with_images[1]), [], "goes with --images DIR"),
                                    (names(with_images[2]), ["--images", images], "does not go with --images DIR")):
            self.assertTrue(listed)
            for opt in listed:
                r = self.bench(*extra, f"--{opt}", *([values[opt]] if opt in values else []))
                self.assertEqual(r.returncode, 2, (opt, r.stderr))
                self.assertIn(f"bench: --{opt} {said}", r.stderr)
        for opt in ("recursive", "resize", "crop", "no-crop", "mean", "std", "draft", "no-draft", "threads",
                    "progress"):  # (the options of --images' groups: each in the sentence)
            self.assertIn(opt, names(with_images[1]))

    def test_usage_errors(self):
        for args, needle in ((["--batch", "0"], "--batch"), (["--size", "12x"], "--size"),
                             (["--conv", "fft"], "--conv"), (["--iters", "x"], "--iters"), (["--nope"], "--nope")):
            r = self.bench(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertIn(needle, r.stderr)

    def test_images_decoding_bound_by_the_cores(self):
        """bench --images' decoding capacity counts as many threads at once as the cores the process may run on (its
        affinity): each thread's time per image times the threads gave 3 threads on one core 3 times what the core
        decodes (the threads seldom ran side by side while the device was the slower), and says so."""
        images = self.d / "images"
        images.mkdir()
        for i in range(6):
            shutil.copy(ROOT / "tests" / "data" / "tiny.png", images / f"{i}.png")
        one = {min(os.sched_getaffinity(0))}
        r = self.bench("--images", images, "--batch", "2", "--resize", "40", "--crop", "32", "--threads", "3",
                       "--json", cpus=one)
        self.assertEqual(r.returncode, 0, r.stderr)
        j = json.loads(r.stdout)
        self.assertEqual((j["images"], j["threads"], j["cores"]), (6, 3, 1))
        self.assertAlmostEqual(j["decode_images_per_s"], 6 * 1 / (j["decode_thread_ms"] / 1e3), places=3)
        t = self.bench("--images", images, "--batch", "2", "--resize", "40", "--crop", "32", "--threads", "3",
                       cpus=one)
        self.assertEqual(t.returncode, 0, t.stderr)
        self.assertRegex(t.stdout, r"decoding [0-9.]+ images/s \(3 threads, 1 at once on the 1 core this process may "
                                   r"run on, [0-9.]+ ms each per image that ran\)")
        if len(os.sched_getaffinity(0)) >= 2:  # (threads within the cores: said as before)
            t = self.bench("--images", images, "--batch", "2", "--resize", "40", "--crop", "32", "--threads", "2")
            self.assertRegex(t.stdout, r"decoding [0-9.]+ images/s \(2 threads, [0-9.]+ ms each per image that ran\)")

    def test_images_progress_counts_as_the_report(self):
        """bench --images --progress says the unreadable files apart and its rate is of the images that ran, as the
        report's end to end (its lines counted the unreadable ones in their rate: 4 readable files and 4 that are
        not read twice the report's rate); the last line ends as the report's count of skipped images."""
        images = self.d / "images"
        images.mkdir()
        for i in range(4):
            shutil.copy(ROOT / "tests" / "data" / "tiny.png", images / f"{i}.png")
            (images / f"{i}-bad.png").write_bytes(b"not a png")
        r = self.bench("--images", images, "--batch", "2", "--resize", "40", "--crop", "32", "--progress", "0.000001",
                       "--json")
        self.assertEqual(r.returncode, 1, r.stderr)
        j = json.loads(r.stdout)
        self.assertEqual((j["images"], j["skipped"]), (4, 4))
        lines = [ln for ln in r.stderr.splitlines() if " images/s, " in ln]
        self.assertEqual([re.sub(r", [0-9.]+ images/s, .*", "", ln) for ln in lines],
                         ["vggcl: 2 of 8 images (25%), 1 skipped", "vggcl: 4 of 8 images (50%), 2 skipped",
                          "vggcl: 6 of 8 images (75%), 3 skipped", "vggcl: 8 of 8 images (100%), 4 skipped"], r.stderr)
        m = re.search(r", ([0-9.]+) images/s, done in [0-9.]+ s$", lines[-1])
        self.assertTrue(m, lines[-1])
        self.assertLess(abs(float(m[1]) / j["images_per_s"] - 1), 0.25, (lines[-1], j["images_per_s"]))
        self.assertIn("vggcl: 4 of 8 images were skipped; 4 ran", r.stderr)

    def vggcl_version(self):
        return subprocess.run([VGGCL, "--version"], capture_output=True, text=True, timeout=60).stdout.split()[1]

    def vggcl_devices(self):
        """(name, compute units) of each device `vggcl devices` lists."""
        r = subprocess.run([VGGCL, "devices"], capture_output=True, text=True, timeout=120)
        return [(m.group(2), int(m.group(1))) for ln in r.stdout.splitlines() if ln[:1].isdigit()
                for m in [re.search(r"^\S+\s+\S+\s+\S+\s+(\d+)\s.* GiB  (.*) \([^()]*\)$", ln)] if m]

    def test_images_end_to_end(self):
        images = self.d / "images"
        images.mkdir()
        for i in range(5):
            shutil.copy(ROOT / "tests" / "data" / "tiny.png", images / f"{i}.png")
        (images / "9.png").write_bytes(b"not a png")
        r = self.bench("--images", images, "--batch", "2", "--resize", "40", "--crop", "32", "--threads", "2", "--json")
        self.assertEqual(r.returncode, 1, r.stderr)  # the unreadable image: reported, the others measured
        self.assertIn("1 of 6 images were skipped", r.stderr)
        j = json.loads(r.stdout)
        self.assertEqual((j["images"], j["skipped"], j["batch"]), (5, 1, 2))
        self.assertEqual(j["threads"], 2)
        for key in (*j, *j["preprocess"]):  # (every field in docs/commands.md's list of them: most were said nowhere)
            self.assertIn(f"`{key}`", bench_fields_said(), key)
        # --resize HxW: the images' size without a crop; the resize as torchvision's Resize takes its size ([N] the
        # short side, [H, W] both, null none: one type, where it was a number or a text "HxW"), mean and std
        # numbers (they were texts "R,G,B")
        r = self.bench("--images", images, "--resize", "40x56", "--no-crop", "--json")
        self.assertEqual(r.returncode, 1, r.stderr)
        sides = json.loads(r.stdout)
        self.assertEqual((sides["size"], sides["preprocess"]["resize"], sides["preprocess"]["crop"], sides["images"]),
                         ("40x56", [40, 56], 0, 5))
        r = self.bench("--images", images, "--resize", "0", "--crop", "32", "--mean", "0.5,0.25,1e-3", "--std",
                       "0.1,2,0.3", "--json")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(json.loads(r.stdout)["preprocess"],
                         {"resize": None, "crop": 32, "mean": [0.5, 0.25, 1e-3], "std": [0.1, 2, 0.3], "draft": False})
        self.assertIn('"mean":[0.5,0.25,0.001],"std":[0.1,2,0.3]', r.stdout)  # (a float's shortest: 0.1, not
        # 0.10000000149011612)
        # the model and the input the images became (two models' records were alike but for their times)
        self.assertEqual((j["model"], j["pool5"], j["size"], j["preprocess"]),
                         ("random vgg16-gap7", "keep", "32x32",
                          {"resize": [40], "crop": 32, "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225],
                           "draft": False}))
        self.assertEqual(j["vggcl"], self.vggcl_version())
        self.assertIn("9.png", r.stderr)
        for k in ("images_per_s", "device_images_per_s", "decode_images_per_s", "of_bound"):
            self.assertGreater(j[k], 0, k)
        self.assertAlmostEqual(j["wait_for_device_ms"] + j["wait_for_decode_ms"] + j["host_ms"], j["wall_ms"], places=3)
        # the decoding threads' capacity in images that ran, as end to end counts them (their time on the
        # unreadable files included: junk that fails at once, counted as decoded, made decoding look fast)
        self.assertEqual(j["cores"], len(os.sched_getaffinity(0)))
        self.assertAlmostEqual(j["decode_images_per_s"], 5 * min(2, j["cores"]) / (j["decode_thread_ms"] / 1e3),
                               places=3)
        # the device's own time on the passes (its clock), within the run
        self.assertGreater(j["device_ms"], 0)
        self.assertLessEqual(j["device_ms"], j["wall_ms"])
        self.assertAlmostEqual(j["images_per_s"], 5 / (j["wall_ms"] / 1e3), places=3)
        # handing the 3 batches over (the last holds one image): one device, so within waiting for it
        self.assertEqual(j["batches"], 3)
        self.assertGreater(j["upload_ms"], 0)
        self.assertLessEqual(j["upload_ms"], j["wait_for_device_ms"])
        # at batch 1 the unreadable image is a batch of its own, which nothing is handed over for
        r = self.bench("--images", images, "--batch", "1", "--resize", "40", "--crop", "32", "--json")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual((json.loads(r.stdout)["images"], json.loads(r.stdout)["batches"]), (5, 5))
        (images / "9.png").unlink()
        # logits that are not finite (preprocessing that overflows float32): skipped as classify skips them, no rate
        r = self.bench("--images", images, "--resize", "40", "--crop", "32", "--mean", "0,0,0", "--std", "1e-37,1,1")
        self.assertEqual((r.returncode, r.stdout), (1, ""), r.stderr)
        self.assertIn("0.png: logit 0 is ", r.stderr)
        self.assertIn(f"vggcl: {images}: none of the 5 images could be run (each skipped, named above)", r.stderr)
        t = self.bench("--images", images, "--batch", "2", "--resize", "40", "--crop", "32")
        self.assertEqual(t.returncode, 0, t.stderr)
        self.assertIn("end to end:", t.stdout)
        self.assertRegex(t.stdout, r"handing the 3 batches over \(vggcl_forward_submit: the input's upload, "
                                   r"queueing the pass\) [0-9.]+ ms, [0-9.]+ ms each, within the wait for the device")
        self.assertIn("model:         VGG16-GAP (7 classes, random weights), pool5 kept, conv auto, images made 32x32 "
                      "(height x width; resize 40, crop 32, mean 0.485,0.456,0.406, std 0.229,0.224,0.225)\n", t.stdout)
        # an unreadable image in the warm-up batch is named once (the warm-up named it too)
        (images / "0-bad.png").write_bytes(b"not a png")
        r = self.bench("--images", images, "--batch", "2", "--resize", "40", "--crop", "32")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertEqual(r.stderr.count("0-bad.png"), 1, r.stderr)
        # at batch 1 that first batch warms up nothing: the warm-up goes on to the first readable image (the
        # timed run built the programs: 170 ms of handing over where 1 ms is the rest's, with no cache)
        r = self.bench("--images", images, "--batch", "1", "--resize", "40", "--crop", "32", "--json",
                       env={"VGGCL_CACHE_DIR": "off"})
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertLess(json.loads(r.stdout)["upload_ms"], 100, r.stdout)
        # the job classify runs: its batch of 8 (bench's 1 timed another job than classify's); one timed batch:
        # said to be too few for a rate (a rate of 1-3 batches was given as any other)
        r = self.bench("--images", images, "--resize", "40", "--crop", "32", "--json")
        self.assertEqual((r.returncode, json.loads(r.stdout)["batch"]), (1, 8), r.stderr)
        self.assertIn("vggcl: bench: 5 images in 1 timed batch alone: too few for a steady rate (a folder of a few "
                      "dozen batches' images measures one)\n", r.stderr)
        self.assertNotIn("too few", t.stderr)  # (3 batches)
        none = self.bench("--images", self.d / "nothing-here")
        self.assertEqual(none.returncode, 1)
        self.assertIn(f"bench: --images {self.d / 'nothing-here'}: No such file or directory (expected a folder of JPEG"
                      ", PNG, WebP, BMP, TIFF or PNM images)", none.stderr)
        (self.d / "junk.png").write_bytes(b"junk")  # (an image file for DIR: its own listing, unreadable)
        none = self.bench("--images", self.d / "junk.png")
        self.assertEqual(none.returncode, 1)
        self.assertIn(f"{self.d / 'junk.png'}: its one image could not be run (skipped, named above)", none.stderr)

    def test_images_threads_follow_affinity(self):
        """--threads defaults to the cores this process may run on (mpirun binds one or two ranks to a
        core each unless --bind-to none), and more threads than that are named once."""
        if not shutil.which("taskset"):
            self.skipTest("taskset (util-linux) not installed")
        images = self.d / "images"
        images.mkdir()
        for i in range(3):
            shutil.copy(ROOT / "tests" / "data" / "tiny.png", images / f"{i}.png")
        cmd = ["taskset", "-c", str(min(os.sched_getaffinity(0))), VGGCL, "bench", "--images", str(images),
               "--batch", "2", "--resize", "40", "--crop", "32", "--json"]
        env = dict(os.environ, VGGCL_CACHE_DIR=str(self.d / "cache"))
        for extra, threads, warnings in (([], 1, 0), (["--threads", "3"], 3, 1)):
            r = subprocess.run(cmd + extra, capture_output=True, text=True, env=env, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout)["threads"], threads)
            self.assertEqual(r.stderr.count(f"vggcl: {threads} decoding threads, but this process may run on only 1 core "
                                            "(its CPU affinity; under mpirun: --bind-to none)"), warnings, r.stderr)

    def test_images_threads_default(self):
        """--threads' default: one per core, but on a CPU device, which computes on those cores
        itself, one per 16 of them (decoding ran the device slower there)."""
        images = self.d / "images"
        images.mkdir()
        for i in range(3):
            shutil.copy(ROOT / "tests" / "data" / "tiny.png", images / f"{i}.png")
        cores = len(os.sched_getaffinity(0))
        listing = subprocess.run([VGGCL, "devices"], capture_output=True, text=True, timeout=60).stdout
        cpus = [line.split()[0] for line in listing.splitlines() if line.split()[2:3] == ["CPU"]]
        # (ref: no OpenCL device; at most 64 either way)
        runs = [("ref", min(cores, 64))] + ([(cpus[0], min((cores + 15) // 16, 64))] if cpus else [])
        for device, threads in runs:
            r = self.bench("--images", images, "--batch", "2", "--resize", "40", "--crop", "32", "--json",
                           "--device", device)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout)["threads"], threads, device)

    def test_program_cache_made_read_only(self):
        """The cache folder's file system remounted read-only after the first compile's line said "then cached in":
        said once when an entry cannot be written (unsaid, as a folder that was read-only from the start, which
        the compile's line names, is not said again)."""
        if not testenv.mount_namespace() or not shutil.which("nsenter"):
            self.skipTest("needs root, unshare and nsenter for a mount namespace")
        cache, w = self.d / "ro", self.d / "w.safetensors"
        cache.mkdir()
        save_file(make_state_dict(parse_cfg(CFG), True, 3, seed=1), w)  # (the suite's small model, as the next test's)
        p = subprocess.Popen(["unshare", "-m", "sh", "-c",
                              f'mount -t tmpfs -o size=64m,mode=700 tmpfs "{cache}" && exec "$@"', "sh", VGGCL,
                              "bench", "--weights", w, "--size", "32", "--iters", "1"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True,
                             env=dict(os.environ, VGGCL_CACHE_DIR=str(cache), POCL_CACHE_DIR=str(self.d / "pocl")))
        try:
            first = p.stderr.readline()  # (PoCL's own cache empty: each program takes a while to compile)
            self.assertIn(f"(not in the cache yet; the programs are then cached in {cache})", first)
            # (unshare and sh exec: the process is vggcl, in the namespace)
            subprocess.run(["nsenter", "-t", str(p.pid), "-m", "mount", "-o", "remount,ro", str(cache)], check=True,
                           timeout=60)
            out, rest = p.communicate(timeout=600)
        finally:
            p.kill()
            p.wait()
        self.assertEqual(p.returncode, 0, first + rest)
        notes = [ln for ln in rest.splitlines() if "a compiled program was not cached (" in ln]
        self.assertEqual(len(notes), 1, first + rest)
        self.assertIn("Read-only file system", notes[0])
        self.assertTrue(notes[0].endswith(": the next run compiles it again"), notes[0])

    def test_program_cache(self):
        # (VGG16: each of its 7 programs compiled with PoCL's cache empty, so none may print a warning; the suite's
        # small model makes 5 of them)
        w, x = self.d / "w.safetensors", self.d / "x.npy"
        save_file(make_state_dict(parse_cfg(CFG), True, 3, seed=1), w)
        args = ("--size", "32", "--iters", "1", "--json")
        r = self.bench(*args, env={"POCL_CACHE_DIR": str(self.d / "pocl")})  # (PoCL's own cache empty too)
        first = json.loads(r.stdout)
        # the first run says that it compiles, once, and nothing else (PoCL's compiler printed "10 warnings
        # generated."); the first pass is reported apart from the builds
        self.assertEqual(r.stderr.count("vggcl: compiling the OpenCL kernels for"), 1, r.stderr)
        self.assertEqual([ln for ln in r.stderr.splitlines() if not ln.startswith("vggcl: ")], [], r.stderr)
        self.assertIn(f"(not in the cache yet; the programs are then cached in {self.d / 'cache'})", r.stderr)
        self.assertAlmostEqual(first["first_pass_build_ms"] + first["first_pass_without_builds_ms"],
                               first["first_pass_ms"], places=3)
        self.assertLessEqual(first["first_pass_build_ms"], first["build_ms"] + 1e-6)
        self.assertEqual(first["programs_from_cache"], 0)
        self.assertGreater(first["programs_compiled"], 0)
        files = sorted((self.d / "cache").glob("*.bin"))
        self.assertEqual(len(files), first["programs_compiled"])
        r = self.bench(*args)
        self.assertNotIn("compiling", r.stderr)  # all from the cache: nothing to wait for
        second = json.loads(r.stdout)
        self.assertEqual((second["programs_from_cache"], second["programs_compiled"]),
                         (first["programs_compiled"], 0))
        # a corrupt entry is rebuilt from source; writing it, temporary files over an hour old are removed (a
        # process ended between an entry's temporary name and its rename left one there for good), not newer ones
        files[0].write_bytes(b"not a program binary")
        # (the cache's own prefix: an output's temporary file, where the cache folder is an output folder too, is not
        # the cache's to remove, however old: a slow run's would have lost its work)
        # (one dated over an hour ahead, another machine's clock on a shared folder, removed too: it waited that out)
        stale, fresh, ahead, output = (self.d / "cache" / name for name in (
            ".vggcl-cache.tmp.stale1", ".vggcl-cache.tmp.fresh1", ".vggcl-cache.tmp.ahead1", ".vggcl.tmp.out1"))
        for f, age in ((stale, 3700), (fresh, 3500), (ahead, -3700), (output, 7200)):
            f.write_bytes(b"left")
            os.utime(f, (time.time() - age, time.time() - age))
        third = json.loads(self.bench(*args).stdout)
        self.assertEqual(third["programs_compiled"], 1)
        self.assertNotEqual(files[0].read_bytes(), b"not a program binary")
        self.assertEqual((stale.exists(), fresh.exists(), ahead.exists(), output.exists()), (False, True, False, True))
        fresh.unlink(), output.unlink()
        # an entry that cannot be written (a folder at its name): said once, the run as it was (each run compiled
        # again, unsaid)
        files[0].unlink()
        files[0].mkdir()
        fourth = self.bench(*args)
        self.assertEqual(fourth.returncode, 0, fourth.stderr)
        self.assertEqual(json.loads(fourth.stdout)["programs_compiled"], 1)
        self.assertEqual(len([ln for ln in fourth.stderr.splitlines() if "a compiled program was not cached (" in ln
                              and str(files[0]) in ln and ln.endswith(": the next run compiles it again")]), 1,
                         fourth.stderr)
        files[0].rmdir()
        # every entry corrupt: a pass rebuilds them and computes what the reference backend does
        for f in files:
            f.write_bytes(b"not a program binary")
        np.save(x, np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32))
        env = dict(os.environ, VGGCL_CACHE_DIR=str(self.d / "cache"))
        for device in ("ref", ""):
            r = subprocess.run([VGGCL, "run", "--weights", w, "--input", x, "--output", self.d / f"y{device}.npy",
                                *(["--device", device] if device else [])], capture_output=True, text=True, env=env)
            self.assertEqual(r.returncode, 0, r.stderr)
        np.testing.assert_allclose(np.load(self.d / "y.npy"), np.load(self.d / "yref.npy"), rtol=1e-4, atol=1e-5)
        off = self.bench(*args, env={"VGGCL_CACHE_DIR": "off"})
        self.assertEqual(off.returncode, 0, off.stderr)
        self.assertIn("(not cached: caching is off (VGGCL_CACHE_DIR=off))", off.stderr)  # (not "then cached")
        self.assertEqual(json.loads(off.stdout)["programs_from_cache"], 0)
        self.assertEqual(sorted((self.d / "cache").glob("*.tmp.*")), [])

    def test_program_cache_trimmed(self):
        """The program cache is kept within VGGCL_CACHE_MAX_MB: a store past it removes the entries used longest ago
        (a load marks its entry used), never the one it wrote nor tune's tables, said once; a value not a number is
        said and nothing removed (it grew without bound with each model width and each tune)."""
        args = ("--size", "32", "--iters", "1", "--json")
        self.assertEqual(self.bench(*args).returncode, 0)
        cache = self.d / "cache"
        real = sorted(cache.glob("*.bin"))
        self.assertGreater(len(real), 1)
        day = 86400
        # a load marks its entry used: an entry dated three days ago is dated now after a run that loads it
        os.utime(real[0], (time.time() - 3 * day, time.time() - 3 * day))
        self.assertEqual(self.bench(*args).returncode, 0)
        self.assertLess(time.time() - real[0].stat().st_mtime, 600)
        mib = 1 << 20
        olds = [cache / (f"{i:032x}" + ".bin") for i in range(3)]  # (names and first bytes as the cache's own)
        table = cache / "0123.tune"
        # not vggcl's, older than all, neither counted nor removed: another tool's file of such a name (its first
        # bytes not an entry's) and a link of such a name to an old entry elsewhere
        foreign, link, target = cache / (f"{7:032x}" + ".bin"), cache / (f"{8:032x}" + ".bin"), self.d / "t.bin"
        for f, age in zip(olds + [table, foreign, target], (5 * day, 4 * day, 3 * day, 6 * day, 9 * day, 9 * day)):
            f.write_bytes((b"" if f == foreign else b"VGGCLBIN") + b"\0" * mib)
            os.utime(f, (time.time() - age, time.time() - age))
        link.symlink_to(target)
        real_bytes = sum(f.stat().st_size for f in real)
        limit = (real_bytes + 2 * mib) // mib + 1  # (room for the real entries and two of the three old ones)
        real[1].write_bytes(b"not a program binary")  # (built again and stored: the store trims)
        r = self.bench(*args, env={"VGGCL_CACHE_MAX_MB": str(limit)})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["programs_compiled"], 1)
        self.assertEqual([f.exists() for f in olds], [False, True, True])  # (the one used longest ago)
        self.assertTrue(table.exists() and foreign.exists() and link.is_symlink() and target.exists())
        self.assertTrue(all(f.exists() for f in real))
        notes = [ln for ln in r.stderr.splitlines() if "the program cache" in ln]
        said = re.fullmatch(rf"vggcl: the program cache {re.escape(str(cache))} held (\d+\.(\d+)) MiB, more than its "
                            rf"{limit} MiB \(VGGCL_CACHE_MAX_MB\): the 1 program used longest ago removed",
                            notes[0] if len(notes) == 1 else "", re.S)
        self.assertTrue(said, r.stderr)
        # (what it held, to the decimals said, at least one, and more where fewer read as not past the limit)
        held, places = (real_bytes + 3 * (mib + 8)) / mib, len(said[2])  # (each old entry: magic, MiB)
        self.assertEqual(said[1], f"{held:.{places}f}")
        self.assertGreater(float(said[1]), limit)
        self.assertTrue(places == 1 or float(f"{held:.{places - 1}f}") <= limit, said[1])
        # not a number: said, nothing removed; within the limit: nothing said; a whole number past 2^63 is one (it was
        # said "expected a whole number"): no limit, as the largest is, nothing said
        for value, said in (("lots", True), ("0", True), ("+5", True), (" 5", True), ("5 ", True),
                            (str(limit + 8), False), ("99999999999999999999", False)):
            real[1].write_bytes(b"not a program binary")
            r = self.bench(*args, env={"VGGCL_CACHE_MAX_MB": value})
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual([f.exists() for f in olds], [False, True, True])
            self.assertEqual(f"VGGCL_CACHE_MAX_MB is '{value}'; expected a whole number of MiB from 1: the program "
                             "cache is not trimmed" in r.stderr, said, r.stderr)
            self.assertNotIn(f"the program cache {cache} held", r.stderr)
        # just past the limit: said with the decimals that show it past (it read "held 3.0 MiB, more than its 3 MiB")
        olds[2].unlink()
        real_bytes = sum(f.stat().st_size for f in real)
        limit = real_bytes // mib + 2
        olds[1].write_bytes(b"VGGCLBIN" + b"\0" * (limit * mib + 1000 - real_bytes - 8))  # (1000 bytes past it)
        os.utime(olds[1], (time.time() - 4 * day, time.time() - 4 * day))
        real[1].write_bytes(b"not a program binary")
        r = self.bench(*args, env={"VGGCL_CACHE_MAX_MB": str(limit)})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse(olds[1].exists())
        self.assertIn(f"vggcl: the program cache {cache} held {limit}.001 MiB, more than its {limit} MiB "
                      "(VGGCL_CACHE_MAX_MB): the 1 program used longest ago removed\n", r.stderr)
        for f in [table, foreign, link, target]:
            f.unlink()

    def test_cache_folder_long_name(self):
        """A cache folder with a name of a thousand bytes is used (one over 900 bytes was silently not); one
        over the 4000 bytes an entry's path leaves room for is said, not used, and tune refused naming why."""
        args = ("--size", "32", "--iters", "1", "--json")
        long_dir = self.d / "/".join(["d" * 200] * 5)
        runs = [self.bench(*args, env={"VGGCL_CACHE_DIR": str(long_dir)}) for _ in range(2)]
        self.assertEqual([r.returncode for r in runs], [0, 0], runs[0].stderr)
        self.assertIn(str(long_dir), runs[0].stderr)
        first, second = (json.loads(r.stdout) for r in runs)
        self.assertEqual(len(list(long_dir.glob("*.bin"))), first["programs_compiled"])
        self.assertEqual(second["programs_from_cache"], first["programs_compiled"])
        too_long = str(self.d / "/".join(["e" * 200] * 20))
        r = self.bench(*args, env={"VGGCL_CACHE_DIR": too_long})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("(not cached: the cache folder's name is too long (see VGGCL_CACHE_DIR))", r.stderr)
        shared = self.d / "shared-cache"  # others may write to it: not used, and the compile note agrees
        shared.mkdir()
        shared.chmod(0o777)
        r = self.bench(*args, env={"VGGCL_CACHE_DIR": str(shared)})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("it is not used", r.stderr)
        self.assertIn("(not cached: the cache folder is not usable)", r.stderr)  # (it said "then cached in")
        self.assertEqual(list(shared.iterdir()), [])
        self.assertEqual(json.loads(r.stdout)["programs_from_cache"], 0)
        r = subprocess.run([VGGCL, "tune", "--size", "32", "--iters", "1"], capture_output=True, text=True,
                           env=dict(os.environ, VGGCL_CACHE_DIR=too_long), timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn("tuning needs the cache folder, whose name is longer than 4000 bytes", r.stderr)
        self.assertFalse((self.d / ("e" * 200)).exists())

    def test_cache_damaged(self):
        """Cache entries cut short, with a byte changed, copied over another program's entry, or made a FIFO:
        each is refused (said once) and built again, and the pass computes what the reference does (PoCL
        crashed on the first two, ran the wrong program for the third, and the FIFO hung every command)."""
        w, x, cache = self.d / "w.safetensors", self.d / "x.npy", self.d / "cache"
        save_file(make_state_dict(parse_cfg(CFG), True, 3, seed=1), w)
        np.save(x, np.random.default_rng(0).standard_normal((2, 3, 32, 32)).astype(np.float32))
        env = dict(os.environ, VGGCL_CACHE_DIR=str(cache))

        def run(tag, *device):
            r = subprocess.run([VGGCL, "run", "--weights", w, "--input", x, "--output", self.d / f"{tag}.npy", *device],
                               capture_output=True, text=True, env=env, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            return r

        run("ref", "--device", "ref")
        run("first")
        entries = sorted(cache.glob("*.bin"), key=lambda p: p.stat().st_size)
        self.assertGreaterEqual(len(entries), 4)
        big = entries[-1].read_bytes()
        entries[-1].write_bytes(big[:len(big) // 2])
        flipped = bytearray(entries[-2].read_bytes())
        flipped[len(flipped) // 2] ^= 0x55
        entries[-2].write_bytes(bytes(flipped))
        entries[-3].write_bytes(entries[0].read_bytes())
        entries[0].unlink()
        os.mkfifo(entries[0], 0o600)
        r = run("again")
        self.assertEqual(r.stderr.count("is damaged, cut short, of another vggcl or not this program's"), 1,
                         r.stderr)
        np.testing.assert_allclose(np.load(self.d / "again.npy"), np.load(self.d / "ref.npy"), rtol=1e-4, atol=1e-5)
        self.assertEqual(np.load(self.d / "again.npy").tobytes(), np.load(self.d / "first.npy").tobytes())
        self.assertTrue(all(e.is_file() for e in entries))  # (each written again, the FIFO replaced)
        self.assertNotIn("damaged", run("third").stderr)

    def test_cache_private(self):
        """Program binaries are native code on PoCL: the cache folder is made 0700, a folder others can
        write to is not used (said once), and an entry that is a symlink or writable by others is
        never loaded (the program is built again and the entry replaced by a private file)."""
        args = ("--size", "32", "--iters", "1", "--json")
        cache = self.d / "cache"
        first = self.bench(*args)
        self.assertEqual(first.returncode, 0, first.stderr)
        self.assertEqual(stat.S_IMODE(cache.stat().st_mode), 0o700)
        entries = sorted(cache.glob("*.bin"))
        self.assertTrue(entries)
        self.assertTrue(all(stat.S_IMODE(e.stat().st_mode) == 0o600 for e in entries))
        # planted: an entry through a symlink, and one others could have written
        planted = self.d / "planted.bin"
        shutil.copy(entries[0], planted)
        entries[0].unlink()
        entries[0].symlink_to(planted)
        entries[1].chmod(0o666)
        r = self.bench(*args)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["programs_compiled"], 2)
        # (said once, where the compile was said "not in the cache yet" alone)
        said = re.findall(r"the cached program (\S+) is not a regular file of this user that only the user can write "
                          r"to \((a link|writable by others, mode 0666)\): passed over, built from source again and "
                          r"replaced", r.stderr)
        self.assertEqual(len(said), 1, r.stderr)  # (once a context)
        self.assertIn(said[0], [(str(entries[0]), "a link"), (str(entries[1]), "writable by others, mode 0666")])
        self.assertFalse(entries[0].is_symlink())
        self.assertEqual(stat.S_IMODE(entries[1].stat().st_mode), 0o600)
        # a folder others can write to: nothing is read from it or written to it
        cache.chmod(0o777)
        before = sorted(p.name for p in cache.iterdir())
        r = self.bench(*args)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["programs_from_cache"], 0)
        self.assertEqual(r.stderr.count("is not used"), 1, r.stderr)
        self.assertEqual(sorted(p.name for p in cache.iterdir()), before)

    def tune_table(self, path):
        """The rows of a tuning table: (c_in, c_out, h, w, batch, algorithm, ms, params)."""
        rows = []
        for line in path.read_text().splitlines():
            if line.startswith("conv "):
                _, ci, co, h, w, b, algo, ms, *params = line.split()
                rows.append((int(ci), int(co), int(h), int(w), int(b), algo, float(ms), params))
        return rows

    def test_tune_table_of_another_key(self):
        """A table made for this device and driver under another name (another vggcl's key, or the platform's
        version changed: 0.3's key holds it, and 0.2's tables were passed over unsaid) is said not to be used, naming
        both files; none is said where the table is there."""
        env = dict(os.environ, VGGCL_CACHE_DIR=str(self.d / "cache"))
        w = self.d / "small.safetensors"
        save_file(make_state_dict(parse_cfg(CFG), True, 3, seed=1), w)
        r = subprocess.run([VGGCL, "tune", "--weights", w, "--size", "32", "--iters", "1", "--budget", "0"],
                           capture_output=True, text=True, env=env, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        table = Path(r.stdout.strip().splitlines()[-1].split("wrote ", 1)[1])
        run = ["--weights", w, "--size", "32", "--iters", "1"]
        said = "made for this device and driver by another vggcl or under another version of the platform, is not used"
        self.assertNotIn(said, self.bench(*run).stderr)
        old = table.with_name("0" * 32 + ".tune")
        table.rename(old)
        r = self.bench(*run)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"vggcl: the tuning table {old}, {said}: this one's is {table}, which `vggcl tune` makes",
                      r.stderr)
        # the same device and platform under another driver (an upgrade of PoCL): said, naming both drivers (its
        # rows were dropped unsaid, every run back on the defaults)
        text = old.read_text()
        driver = text.splitlines()[0].rsplit(", driver ", 1)[1][:-1]
        old.write_text(text.replace(f", driver {driver})", ", driver 0.9-old)", 1))
        r = self.bench(*run)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"vggcl: the tuning table {old}, made for this device under driver 0.9-old, is not used with "
                      f"driver {driver}: `vggcl tune` makes this one's, {table}\n", r.stderr)
        old.write_text(text)
        old.write_text(old.read_text().replace("# vggcl tuning table for ", "# vggcl tuning table for another "))
        os.mkfifo(table.with_name("fifo.tune"))  # (every table looked at: a FIFO was waited on for ever)
        r = subprocess.run([VGGCL, "bench", *map(str, run)], capture_output=True, text=True, timeout=120,
                           env=dict(os.environ, VGGCL_CACHE_DIR=str(self.d / "cache")))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn(said, r.stderr)  # (another device's: not this one's to say)

    def test_tune_table_kept(self):
        """Two rows of one shape and class (a table edited by hand) become the one tune measured (the first was
        replaced, the last, which a pass takes, kept); a table that is not a private regular file is said to
        be unused, and tune refuses to replace it (its rows were dropped, unsaid); --batch lists are read
        whole (cut at 63 bytes, other batches were tuned) and two batches of one class refused."""
        env = dict(os.environ, VGGCL_CACHE_DIR=str(self.d / "cache"))
        w = self.d / "small.safetensors"
        save_file(make_state_dict(parse_cfg(CFG), True, 3, seed=1), w)

        def tune(*args):
            return subprocess.run([VGGCL, "tune", "--weights", w, "--size", "32", "--iters", "1", "--budget", "0",
                                   *args], capture_output=True, text=True, env=env, timeout=600)

        r = tune()
        self.assertEqual(r.returncode, 0, r.stderr)
        # the columns named for what they hold: the kept candidate, not always the fastest ("best", "fastest" before)
        self.assertIn(["layer", "shape", "batch", "default", "kept", "gain", "tried", "bad", "kept", "algorithm"],
                      [ln.split() for ln in r.stdout.splitlines()], r.stdout)
        path = Path(r.stdout.strip().splitlines()[-1].split("wrote ", 1)[1])
        path.write_text("conv 3 8 32 32 1 gemm 1.0\nconv 8 16 16 16 1 gemm 1.0\nconv 3 8 32 32 2 gemm 1.0\n")
        r = tune()
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = self.tune_table(path)
        self.assertEqual(sorted(row[:5] for row in rows), [(3, 8, 32, 32, 1), (8, 16, 16, 16, 1), (16, 16, 8, 8, 1)])
        tuned = {l.split()[0]: l.split()[9] for l in r.stdout.splitlines() if l.startswith("features.")}
        self.assertEqual([row[5] for row in rows if row[:4] == (3, 8, 32, 32)], [tuned["features.0"]])
        # lines this vggcl cannot read (a note, a longer one, rows of a newer vggcl's algorithm or parameter) are
        # kept as they are, before the rows (the rewrite dropped them); blank lines are not
        unread = ["# my note: keep gemm off for 512 layers", "# " + "long " * 150, "# a note among the header's lines",
                  "conv 512 512 14 14 1 winograd-f63 3.5000 M=6", "conv 8 16 16 16 1 direct 0.5000 NEWPARAM=3"]
        head, rest = path.read_text().split("\n", 1)
        path.write_text(head + "\n" + unread[2] + "\n" + rest + "\n" + "\n".join(unread[:2] + unread[3:]))  # (the
        # last without its newline)
        r = tune()
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = path.read_text().splitlines()
        self.assertEqual(sorted(l for l in lines if l in unread), sorted(unread))
        self.assertNotIn("", lines)
        self.assertLess(lines.index(unread[-1]), min(i for i, l in enumerate(lines) if l.startswith("conv 3 8 ")))
        for ours in ("# vggcl tuning table for", "# last tuned at", "# conv C_in C_out"):  # (its header, once)
            self.assertEqual(sum(l.startswith(ours) for l in lines), 1, ours)
        path.write_text("".join(l + "\n" for l in lines if l not in unread))
        # not private: a group-writable table (an editor under umask 002) and a link to one
        text = path.read_text()
        target = self.d / "elsewhere.tune"
        for kind in ("0664", "link"):
            if kind == "link":
                path.chmod(0o600)
                shutil.move(path, target)
                path.symlink_to(target)
            else:
                path.chmod(0o664)
            b = subprocess.run([VGGCL, "bench", "--weights", w, "--size", "32", "--iters", "1"], capture_output=True,
                               text=True, env=env, timeout=600)
            self.assertEqual(b.returncode, 0, b.stderr)
            self.assertIn(f"the tuning table {path} is not a regular file of this user that only the user can write to "
                          + ("(a link): it is not used (nor replaced by tune)\n" if kind == "link" else
                             "(writable by others, mode 0664): it is not used (nor replaced by tune); chmod 600 makes it "
                             "usable\n"), b.stderr)
            r = tune()
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("(a link): not replaced; move it away" if kind == "link" else
                          "(writable by others, mode 0664): not replaced; make it private (chmod 600) or move it away",
                          r.stderr)
            self.assertNotIn("features.0", r.stdout)  # (refused before any tuning)
            self.assertEqual((target if kind == "link" else path).read_text(), text)
        path.unlink()
        os.mkfifo(path)  # (in the table's place: named as what it is, it was "not a regular file")
        b = subprocess.run([VGGCL, "bench", "--weights", w, "--size", "32", "--iters", "1"], capture_output=True,
                           text=True, env=env, timeout=600)
        self.assertEqual(b.returncode, 0, b.stderr)
        self.assertIn(f"the tuning table {path} is not a regular file of this user that only the user can write to "
                      "(a FIFO): it is not used (nor replaced by tune)\n", b.stderr)
        path.unlink()
        if os.geteuid() == 0:  # (another user's, as after a `sudo vggcl tune`: chmod was advised, which only its
            path.write_text(text)  # owner may run)
            os.chown(path, 65534, 65534)
            path.chmod(0o600)
            r = tune()
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("(another user's, uid 65534): not replaced; move it away", r.stderr)
            path.unlink()
        for batch in ("1,,2", "0" * 60 + "1,4096", ",1"):
            r = tune("--batch", batch)
            self.assertEqual(r.returncode, 2, batch)
            self.assertIn("--batch must be sizes from 1 to 4096 separated by commas", r.stderr)
        r = tune("--batch", "1,2")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("tune: batches 1 and 2 are of one class", r.stderr)
        for args, extra in ((["--device", "ref"], {}), ([], {"VGGCL_DEVICE": "ref"})):  # (exit 1 before)
            r = subprocess.run([VGGCL, "tune", "--weights", w, "--size", "32", *args], capture_output=True, text=True,
                               env=dict(env, **extra), timeout=600)
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn(f"tune: {'--device ref' if args else '$VGGCL_DEVICE'} is the plain-C reference, which has no "
                          "kernels to tune", r.stderr)
        self.assertFalse(path.exists())
        # a private table in a folder others can write to: the folder is said, not the table
        path.write_text(text)
        path.chmod(0o600)
        path.parent.chmod(0o777)
        b = subprocess.run([VGGCL, "bench", "--weights", w, "--size", "32", "--iters", "1"], capture_output=True,
                           text=True, env=env, timeout=600)
        self.assertEqual(b.returncode, 0, b.stderr)
        self.assertIn("the cache folder", b.stderr)
        self.assertNotIn("the tuning table", b.stderr)

    def test_tune_times_the_tables_row(self):
        """The table's row for a shape (an earlier, longer tune's) is timed beside the defaults (tried + bad counts
        one more candidate for that layer), so a shorter tune can keep it where it still wins: a --budget 0 tune
        replaced it by a default it had beaten. (Which one is kept, timing decides: not pinned here.)"""
        w = self.d / "small.safetensors"
        save_file(make_state_dict(parse_cfg(CFG), False, 3, seed=1), w)
        env = dict(os.environ, VGGCL_CACHE_DIR=str(self.d / "cache"))
        tune = [VGGCL, "tune", "--weights", w, "--size", "32", "--iters", "1", "--budget", "0"]
        r = subprocess.run(tune, capture_output=True, text=True, env=env, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        path = Path(r.stdout.strip().splitlines()[-1].split("wrote ", 1)[1])
        # direct with PX=16 is none of the defaults (PX=32): first layer's row, the others as tune wrote them
        rows = [l for l in path.read_text().splitlines() if not l.startswith("conv 3 8 ")]
        path.write_text("\n".join(rows + ["conv 3 8 32 32 1 direct 0.001 OCB=16 PX=16"]) + "\n")
        r = subprocess.run(tune, capture_output=True, text=True, env=env, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        printed = {l.split()[0]: l.split() for l in r.stdout.splitlines() if l.startswith("features.")}
        tried = {name: int(line[7]) + int(line[8]) for name, line in printed.items()}
        self.assertEqual(tried, {"features.0": 6, "features.3": 5, "features.6": 5}, r.stdout)  # (tried + bad)
        row = [t for t in self.tune_table(path) if t[:2] == (3, 8)]
        self.assertEqual(len(row), 1, path.read_text())

    def small_tuned(self):
        """A small model, the environment of a cache of its own, and the tuning table `tune --budget 0` wrote there
        (its defaults' rows): (weights, env, table)."""
        w = self.d / "small.safetensors"
        save_file(make_state_dict(parse_cfg(CFG), False, 3, seed=1), w)
        env = dict(os.environ, VGGCL_CACHE_DIR=str(self.d / "cache"))
        r = subprocess.run([VGGCL, "tune", "--weights", w, "--size", "32", "--iters", "1", "--budget", "0"],
                           capture_output=True, text=True, env=env, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        return w, env, Path(r.stdout.strip().splitlines()[-1].split("wrote ", 1)[1])

    def test_tune_nearest_row(self):
        """A shape of no row of its own runs, of its channels' rows of its batch class, the one nearest in map size,
        whichever line comes first (it ran the file's last: a layer 2.7x slower by the order tune had written its
        rows in); of a map at most twice as large or small on each side: past that, the defaults (a table tuned at
        64x64 steered every layer at 224, 1.09-1.25x slower than the defaults)."""
        w, env, path = self.small_tuned()
        near, far = "conv 3 8 30 30 1 direct 0.05", "conv 3 8 224 224 1 winograd 9.0"
        for rows, algo in (([near, far], "direct"), ([far, near], "direct"), ([far], "winograd-packed"),
                           (["conv 3 8 64 16 1 direct 0.05"], "direct"), (["conv 3 8 65 32 1 direct 0.05"],
                                                                         "winograd-packed"),
                           (["conv 3 8 32 15 1 direct 0.05"], "winograd-packed")):
            path.write_text("\n".join(rows) + "\n")
            r = subprocess.run([VGGCL, "bench", "--weights", w, "--size", "32", "--iters", "1", "--per-layer"],
                               capture_output=True, text=True, env=env, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, rf"layer features\.0 \(conv 3->8, 32x32, {algo}( \+ max pool)?\)", rows)

    def test_per_layer_params(self):
        """bench --per-layer --json says each convolution's name, algorithm (as --conv names it; it was in the layer's
        prose alone), whether a max pool ran within it, its algorithm parameters and whether the tuning table chose
        them (the parameters were in the table's file alone, and what a layer took of it unsaid): hand-written rows of
        parameters no default has are what their layers ran, exactly; a forced --conv takes the rows of its algorithm
        alone; without a row, its algorithm's defaults, not tuned; the other steps have neither field."""
        w, env, path = self.small_tuned()
        packed, direct = "M=4 R=7 OG=4 FUSE=1 TB=2 TCH=0", "OCB=16 PX=32"  # (16x16's default: PX=16)
        path.write_text(f"conv 3 8 32 32 1 winograd-packed 0.01 {packed}\nconv 8 16 16 16 1 direct 0.01 {direct}\n")

        def convs(*conv, table=True):
            r = subprocess.run([VGGCL, "bench", "--weights", w, "--size", "32", "--iters", "1", "--per-layer",
                                "--json", *conv], capture_output=True, text=True,
                               env=env if table else dict(env, VGGCL_CACHE_DIR=str(self.d / "no-table")), timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            out = []
            for layer in json.loads(r.stdout)["layers"]:
                m = re.match(r"layer (\S+) \(conv \d+->\d+, \d+x\d+, ([a-z-]+)( \+ max pool)?\)$", layer["layer"])
                fields = ("name", "algorithm", "fused_pool", "params", "tuned")
                self.assertEqual([k in layer for k in fields], [bool(m)] * len(fields), layer)
                if m:  # (what ran it, apart from the layer's prose: the algorithm as --conv names it, the name alone)
                    self.assertEqual((layer["name"], layer["algorithm"], layer["fused_pool"]),
                                     (m[1], m[2], m[3] is not None), layer)
                    out.append((layer["algorithm"], layer["params"], layer["tuned"]))
            self.assertEqual(len(out), 3, r.stdout)
            return out
        auto = convs()
        self.assertEqual(auto[:2], [("winograd-packed", packed, True), ("direct", direct, True)])
        self.assertFalse(auto[2][2])
        self.assertEqual(auto[2], convs(table=False)[2])  # (no row of its own: the defaults, as without a table)
        forced = convs("--conv", "direct")  # (its rows alone: the first layer's row is another algorithm's)
        self.assertEqual([(a, t) for a, _, t in forced], [("direct", False), ("direct", True), ("direct", False)])
        self.assertEqual(forced[1][1], direct)
        forced = convs("--conv", "winograd-packed")
        self.assertEqual([(p, t) for _, p, t in forced][:2], [(packed, True), (forced[1][1], False)])
        self.assertNotEqual(forced[1][1], "")
        for algo, params, tuned in convs(table=False):
            self.assertRegex(params, r"^([A-Z]+=\d+ )*[A-Z]+=\d+$", algo)
            self.assertFalse(tuned, algo)
        # the text's table: a last column of the same (a user reads it first)
        r = subprocess.run([VGGCL, "bench", "--weights", w, "--size", "32", "--iters", "1", "--per-layer"],
                           capture_output=True, text=True, env=env, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = [ln for ln in r.stdout.splitlines() if "(conv " in ln]
        self.assertEqual([ln.split("%  ", 1)[1] for ln in rows], [f"{packed} (tuned)", f"{direct} (tuned)", auto[2][1]])
        self.assertTrue(r.stdout.split("\n\n")[-1].splitlines()[0].endswith("share  parameters"), r.stdout)

    def test_bench_says_the_tuning_table(self):
        """bench says how many layers a tuning table steers with --conv auto, in its text and its JSON, and with
        --images: two records of "auto" read alike with a table and without one. A row that keeps the defaults
        (tune writes one where none beat them) steers nothing: not counted (a table of the defaults' rows was "3 of
        3 layers" tuned), its layers said apart in the text."""
        w, env, path = self.small_tuned()
        # (a row of the device's defaults for the first layer, algorithm and values, as tune writes where none beat
        # them; taken from a profile without a table: tune --budget 0's own row was another default where it won by
        # chance on a loaded machine)
        plain = subprocess.run([VGGCL, "bench", "--weights", w, "--size", "32", "--iters", "1", "--per-layer",
                                "--json"], capture_output=True, text=True, timeout=600,
                               env=dict(env, VGGCL_CACHE_DIR=str(self.d / "plain")))
        self.assertEqual(plain.returncode, 0, plain.stderr)
        first_layer = next(e for e in json.loads(plain.stdout)["layers"] if e.get("name") == "features.0")
        self.assertFalse(first_layer["tuned"], first_layer)
        kept = f"conv 3 8 32 32 1 {first_layer['algorithm']} 0.05 {first_layer['params']}"
        images = self.d / "pictures"
        images.mkdir()
        Image.fromarray(np.full((32, 32, 3), 90, np.uint8)).save(images / "a.png")
        bench = [VGGCL, "bench", "--weights", w]
        runs = ((["--size", "32", "--iters", "1"], "batch 1, 32x32"),
                (["--images", images, "--resize", "32", "--crop", "32", "--batch", "1"], "images made 32x32"))
        first, second = "conv 3 8 32 32 1 direct 0.05", "conv 8 16 16 16 1 direct 0.05"
        steers = " ({} of 3 layers as the tuning table gives them{})"
        for rows, conv, tuned, said in (([first], [], 1, steers.format(1, "")), ([], [], 0, ""),
                                        ([first], ["--conv", "winograd"], 0, ""),
                                        ([kept], [], 0, steers.format(0, "; its rows for 1 layer keep the defaults")),
                                        # (direct's rows without parameters: its defaults at their shapes)
                                        ([first, second], ["--conv", "direct"], 0,
                                         steers.format(0, "; its rows for 2 layers keep the defaults")),
                                        ([first, f"{second} OCB=16 PX=32"], ["--conv", "direct"], 1,
                                         steers.format(1, "; its rows for 1 layer keep the defaults"))):
            path.write_text("".join(row + "\n" for row in rows))
            for args, after in runs:
                r = subprocess.run(bench + conv + args, capture_output=True, text=True, env=env, timeout=600)
                self.assertEqual(r.returncode, 0, r.stderr)
                name = conv[1] if conv else "auto"
                self.assertIn(f", conv {name}{said}, {after}", r.stdout, (rows, conv))
                r = subprocess.run(bench + conv + args + ["--json"], capture_output=True, text=True, env=env,
                                   timeout=600)
                self.assertEqual(r.returncode, 0, r.stderr)
                record = json.loads(r.stdout)
                self.assertEqual((record["conv"], record["tuned_layers"]), (name, tuned), rows)
        # --per-layer marks the same layers "(tuned)": the one whose row is not the defaults
        r = subprocess.run(bench + ["--conv", "direct", "--size", "32", "--iters", "1", "--per-layer"],
                           capture_output=True, text=True, env=env, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual([ln.endswith(" (tuned)") for ln in r.stdout.splitlines() if "(conv " in ln],
                         [False, True, False], r.stdout)

    def test_bench_says_a_table_unused(self):
        """A tuning table none of whose rows fits the model at the size benched (tuned at another size, another
        model's, of other algorithms than --conv forces): bench says so on stderr, naming the table and what its rows
        are for, in text, JSON and with --images (its report said "conv auto" as with no table: a user who tuned at
        another size could not tell the table was found but unused). Where a row fits, or there is no table, not."""
        w, env, path = self.small_tuned()  # (rows at 32x32: at 64x64 they fit, within twice the size)
        images = self.d / "pictures"
        images.mkdir()
        Image.fromarray(np.full((128, 128, 3), 90, np.uint8)).save(images / "a.png")
        bench = [VGGCL, "bench", "--weights", w]
        unused = f"vggcl: the tuning table {path}: no row fits this model at "
        tune = "; `vggcl tune --size 128x128` makes rows for this size"
        for rows, args, why in (
                (None, ["--size", "128"], f"128x128 (its rows for the model's layers are of inputs of 32x32{tune})"),
                # (a row at a layer's map stands for the input that gives it that map; each input said once)
                (["conv 3 8 40 40 1 direct 0.05", "conv 8 16 16 16 1 direct 0.05", "conv 16 16 8 8 4 direct 0.05"],
                 ["--size", "128"], f"128x128 (its rows for the model's layers are of inputs of 40x40, 32x32{tune})"),
                (["conv 5 7 32 32 1 direct 0.05"], ["--size", "32"],
                 "32x32 (its rows are of other layers than the model's: another model's)"),
                (["conv 3 8 32 32 1 direct 0.05"], ["--size", "32", "--conv", "winograd"],
                 "32x32 (its rows for the model's layers are of other algorithms than winograd, the one forced)"),
                (None, ["--size", "64"], None), (["conv 3 8 32 32 1 direct 0.05"], ["--size", "32"], None),
                ([], ["--size", "128"], None)):
            if rows is not None:
                path.write_text("".join(row + "\n" for row in rows))
            for extra in ([], ["--json"]):
                r = subprocess.run(bench + args + ["--iters", "1"] + extra, capture_output=True, text=True, env=env,
                                   timeout=600)
                self.assertEqual(r.returncode, 0, r.stderr)
                if why:
                    self.assertIn(f"{unused}{why}: its convolutions run the defaults\n", r.stderr, (rows, args))
                    self.assertEqual(r.stderr.count(unused), 1, r.stderr)
                else:
                    self.assertNotIn("no row fits", r.stderr, (rows, args))
                if extra and why:
                    self.assertEqual(json.loads(r.stdout)["tuned_layers"], 0)
                elif why:  # (the report itself as without a table)
                    self.assertIn(f", conv {args[3] if len(args) > 2 else 'auto'}, batch 1, {why[:why.index(' ')]}\n",
                                  r.stdout)
        path.write_text("conv 3 8 32 32 1 direct 0.05\n")  # (the images' size: of the table's rows, none)
        r = subprocess.run(bench + ["--images", images, "--resize", "128", "--crop", "128", "--batch", "1"],
                           capture_output=True, text=True, env=env, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"{unused}128x128 (its rows for the model's layers are of inputs of 32x32{tune}): its "
                      "convolutions run the defaults\n", r.stderr)
        path.unlink()
        r = subprocess.run(bench + ["--size", "128", "--iters", "1"], capture_output=True, text=True, env=env,
                           timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("tuning table", r.stderr)

    @unittest.skipUnless(os.geteuid() == 0 and shutil.which("setpriv"), "runs vggcl as another user: needs root")
    def test_tune_lock_unusable(self):
        """A tuning table's lock that is not a regular file (a folder, a link, a FIFO in its place): the rows are
        written all the same and that is said (it was passed over without a word: two tunes at once could lose
        each other's rows)."""
        w = self.d / "small.safetensors"
        save_file(make_state_dict(parse_cfg(CFG), True, 3, seed=1), w)
        env = dict(os.environ, VGGCL_CACHE_DIR=str(self.d / "cache"))
        tune = ["tune", "--weights", w, "--size", "32", "--iters", "1", "--budget", "0"]
        r = subprocess.run([VGGCL, *tune], capture_output=True, text=True, env=env, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("lock", r.stderr)
        table = Path(r.stdout.strip().splitlines()[-1].split("wrote ", 1)[1])
        lock = Path(f"{table}.lock")
        for make in (lock.mkdir, lambda: lock.symlink_to("/dev/null"), lambda: os.mkfifo(lock, 0o600)):
            if lock.is_dir() and not lock.is_symlink():
                lock.rmdir()
            else:
                lock.unlink()
            make()
            table.unlink()
            r = subprocess.run([VGGCL, *tune], capture_output=True, text=True, env=env, timeout=600)
            self.assertEqual(r.returncode, 0, r.stderr)
            # (once: it was said again after each shape's rows)
            self.assertEqual(r.stderr.count(f"the tuning table's lock {lock} cannot be used ("), 1, r.stderr)
            self.assertIn("its rows are written without it", r.stderr)
            self.assertTrue(table.exists())

    def test_tune_lock_held(self):
        """A tuning table's lock another process holds: tune says it waits for it (it waited without a word, for
        ever where that process had stopped), then writes its rows once it is released."""
        import fcntl
        w = self.d / "small.safetensors"
        save_file(make_state_dict(parse_cfg(CFG), True, 3, seed=1), w)
        env = dict(os.environ, VGGCL_CACHE_DIR=str(self.d / "cache"))
        tune = [VGGCL, "tune", "--weights", str(w), "--size", "32", "--iters", "1", "--budget", "0"]
        r = subprocess.run(tune, capture_output=True, text=True, env=env, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        table = Path(r.stdout.strip().splitlines()[-1].split("wrote ", 1)[1])
        table.unlink()
        with open(f"{table}.lock", "a") as held:
            fcntl.flock(held, fcntl.LOCK_EX)
            p = subprocess.Popen(tune, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
            said = []  # (its lines until it says it waits, however long tune takes to get there)
            while not any("waiting for the tuning table's lock" in ln for ln in said):
                line = p.stderr.readline()
                if not line:
                    break
                said.append(line)
            self.assertIsNone(p.poll(), said)  # (waiting)
            fcntl.flock(held, fcntl.LOCK_UN)
            out, err = p.communicate(timeout=600)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn(f"vggcl: waiting for the tuning table's lock {table}.lock: another process holds it (a vggcl "
                      "tune writing its rows)\n", said)
        self.assertTrue(table.exists())

    def test_tune_table_unreadable(self):
        """A table there that cannot be read (mode 000, to a user other than root): said with the reason, not used,
        and tune refuses to replace it (it was said to be a link, a folder or writable by others)."""
        home = self.d / "nobody"
        w = home / "small.safetensors"
        home.mkdir()
        save_file(make_state_dict(parse_cfg(CFG), True, 3, seed=1), w)
        env = dict(os.environ, VGGCL_CACHE_DIR=str(home / "cache"))
        tune = ["tune", "--weights", w, "--size", "32", "--iters", "1", "--budget", "0"]
        r = subprocess.run([VGGCL, *tune], capture_output=True, text=True, env=env, timeout=600)  # (PoCL's cache warm)
        self.assertEqual(r.returncode, 0, r.stderr)
        path = Path(r.stdout.strip().splitlines()[-1].split("wrote ", 1)[1])
        text = path.read_text()
        self.d.chmod(0o755)
        subprocess.run(["chown", "-R", "65534:65534", home], check=True)
        env.update(POCL_CACHE_DIR=str(home / "pocl"), HOME=str(home))  # (the other user's, which it can write)
        as_nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", VGGCL]
        if subprocess.run([*as_nobody, "--version"], capture_output=True, env=env, timeout=60).returncode != 0 or \
                subprocess.run([*as_nobody[:-1], "cat", w], capture_output=True, timeout=60).returncode != 0:
            self.skipTest(f"{VGGCL} cannot be run by another user here (a folder of root's alone)")
        path.chmod(0)
        r = subprocess.run([*as_nobody, *map(str, tune)], capture_output=True, text=True, env=env, timeout=600)
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn(f"vggcl: the tuning table {path} cannot be read (Permission denied): it is not used, nor replaced "
                      "by tune", r.stderr)
        self.assertIn(f"vggcl: {path}: the tuning table could not be read whole (Permission denied): not replaced",
                      r.stderr)
        path.chmod(0o600)
        self.assertEqual(path.read_text(), text)

    def test_tune(self):
        env = dict(os.environ, VGGCL_CACHE_DIR=str(self.d / "cache"))
        # --budget 0: every algorithm's defaults on each distinct shape of VGG16 at 32x32
        r = subprocess.run([VGGCL, "tune", "--random", "--size", "32", "--iters", "1", "--budget", "0"],
                           capture_output=True, text=True, env=env, timeout=600)
        self.assertEqual(r.returncode, 0, r.stderr)
        path = Path(r.stdout.strip().splitlines()[-1].split("wrote ", 1)[1])
        rows = self.tune_table(path)
        shapes = [(3, 64, 32, 32), (64, 64, 32, 32), (64, 128, 16, 16), (128, 128, 16, 16), (128, 256, 8, 8),
                  (256, 256, 8, 8), (256, 512, 4, 4), (512, 512, 4, 4), (512, 512, 2, 2)]
        self.assertEqual([row[:4] for row in rows], shapes)
        # each timed pass begins with the device's cache written over where a pass of the model touches more than it
        # holds (its input, weights and output maps: VGG16's 14.7 million weights; PoCL reports the CPU's L3), said
        # once
        widths = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
        touched, c_in, side = 3 * 32 * 32, 3, 32
        for v in widths:
            side, c = (side // 2, c_in) if v == "M" else (side, v)
            touched += (0 if v == "M" else c_in * v * 9 + v) + c * side * side
            c_in = c
        note = re.findall(r"tune: a pass of this model over 1 image of 32x32 touches ([\d.]+) MiB, more than the "
                          r"device's ([\d.]+) MiB cache: each timed pass begins with ([\d.]+) MiB written over",
                          r.stderr)
        l3 = Path("/sys/devices/system/cpu/cpu0/cache/index3/size")
        if "pthread" in r.stdout.splitlines()[0] and l3.exists():  # (PoCL's CPU device: its L3, as sysfs says it)
            self.assertEqual(len(note), 1 if touched * 4 > int(l3.read_text().strip().rstrip("K")) * 1024 else 0,
                             r.stderr)
        for mib, cache, written in note:
            self.assertEqual(float(mib), round(touched * 4 / 2**20, 1))
            self.assertGreater(float(mib), float(cache))
            self.assertAlmostEqual(float(written), min(2 * float(cache), 256), delta=0.11)  # (each said to 0.1)
        algos = {"direct", "winograd", "gemm", "winograd-gpu", "winograd-packed"}
        printed = [l.split() for l in r.stdout.splitlines() if l.startswith("features.")]
        self.assertEqual(len(printed), len(shapes))
        for row, line in zip(rows, printed):
            self.assertEqual(row[4], 1)
            self.assertIn(row[5], algos)
            # the defaults of all five algorithms ran, and the kept one is the fastest of them
            self.assertEqual(int(line[7]), 5, line)
            default_ms, best_ms = float(line[4]), float(line[5])
            self.assertLessEqual(best_ms, default_ms)
            # another candidate replaces the default only when it wins by 3% in alternating runs
            gain = float(line[6].rstrip("x"))
            self.assertTrue(gain == 1.0 or gain >= 1.03, line)
            self.assertAlmostEqual(best_ms, row[6], delta=1e-3)
        # a budget that runs out amid a shape's candidates: the default was timed first, so a row kept is never
        # one that was not measured against it (the default came last and such rows, "default 0.000", were kept)
        short = subprocess.run([VGGCL, "tune", "--random", "--size", "64", "--iters", "1", "--budget", "1"],
                               capture_output=True, text=True, env=dict(env, VGGCL_CACHE_DIR=str(self.d / "short")),
                               timeout=600)
        self.assertEqual(short.returncode, 0, short.stderr)
        kept = [l.split() for l in short.stdout.splitlines() if l.startswith("features.")]
        for line in kept:
            self.assertGreater(float(line[4]), 0, short.stdout)
        # the shapes the budget did not reach (no row) are said, with how many: the rows and they make all 9
        # (a device fast enough to tune all 9 in 1 s says nothing)
        untold = re.search(r"tune: the budget of 1 s was spent before layer (features\.\d+) at batch 1: (\d+) of 9 "
                           r"shapes x batches not tuned \(no row of their own", short.stderr)
        if len(kept) < 9:
            self.assertTrue(untold and len(kept) + int(untold[2]) == 9 and untold[1] not in [l[0] for l in kept],
                            short.stdout + short.stderr)
        else:
            self.assertNotIn("budget of 1 s was spent", short.stderr)

        # a model whose metadata says its input (a 40x40 crop): tuned at that size, as bench and classify run it
        # (it tuned 224x224, shapes the model never runs)
        small = self.d / "crop40.safetensors"
        save_file(make_state_dict(parse_cfg("8,M,8"), False, 3, seed=2), small,
                  metadata={"vggcl.resize": "48", "vggcl.crop": "40"})
        own = subprocess.run([VGGCL, "tune", "--weights", small, "--iters", "1", "--budget", "0"], capture_output=True,
                             text=True, env=dict(env, VGGCL_CACHE_DIR=str(self.d / "own")), timeout=600)
        self.assertEqual(own.returncode, 0, own.stderr)
        self.assertIn("\n40x40 input, ", own.stdout)
        self.assertEqual([l.split()[1] for l in own.stdout.splitlines() if l.startswith("features.")],
                         ["3->8", "8->8"], own.stdout)
        self.assertIn(" 40x40 ", [l for l in own.stdout.splitlines() if l.startswith("features.0")][0])
        given = subprocess.run([VGGCL, "tune", "--weights", small, "--iters", "1", "--budget", "0", "--size", "24"],
                               capture_output=True, text=True, env=dict(env, VGGCL_CACHE_DIR=str(self.d / "own")),
                               timeout=600)
        self.assertEqual(given.returncode, 0, given.stderr)
        self.assertIn("\n24x24 input, ", given.stdout)

        # a table written by hand steers the algorithm and its parameters per layer;
        # a parameter outside its range, an unknown algorithm, a number that would wrap to
        # another layer's size (2^32 + 128 read as 128) or a time that is not a number leaves the default
        path.write_text("garbage line\n"
                        " conv\t3 64 32 32 1 gemm 1.0\n"  # (blanks as between the fields: it was a note)
                        "conv 64 64 32 32 1 direct 1.0 PX=16\n"
                        "conv 64 128 16 16 1 winograd-gpu 1.0 MWG=32 NWG=32 MDIMC=8 NDIMC=8\n"
                        "conv 128 128 16 16 8 winograd-gpu 1.0 MWG=32 NWG=32 MDIMC=8 NDIMC=8\n"
                        "conv 128 256 8 8 1 winograd-gpu 1.0 MWG=48\n"
                        "conv 4294967424 256 8 8 1 direct 1.0\n"
                        "conv 256 256 8 8 1 direct nan\n"
                        "conv 256 256 8 8 1 direct 1.0 OCB=4294967312\n"
                        "conv 256 256 8 8 1 fft 1.0\n"
                        "conv 256 256 8 8 1 direct 1.0 PX=16 PX=32\n"  # (one given twice: the first did nothing)
                        "conv 512 512 4 4 1 winograd-packed 1.0 R=4 OG=1 FUSE=0\n"
                        "conv 256 512 4 4 1 winograd 1.0\n"  # (an AVX2 CPU's default is winograd-packed)
                        # (a row no layer has, read under the sanitizers: its defaults' H * W overflowed an int)
                        "conv 300 300 65536 65536 1 winograd-packed 1.0\n")
        for batch in ("1", "4"):
            b = self.bench("--size", "32", "--batch", batch, "--iters", "1", "--json", "--per-layer")
            self.assertEqual(b.returncode, 0, b.stderr)
            layers = {l["layer"].split()[1]: l["layer"] for l in json.loads(b.stdout)["layers"] if "conv" in l["layer"]}
            self.assertIn("gemm)", layers["features.0"])
            self.assertIn("direct)", layers["features.2"])
            self.assertIn("winograd-gpu)", layers["features.5"])
            # features.7: the class-8 row at batch 4, and at batch 1 too (the same shape outranks the class)
            self.assertIn("winograd-gpu + max pool)", layers["features.7"])
            # the device's default (PoCL: the channel-packed Winograd up to 256 channels): none of their rows read
            self.assertIn("winograd-packed)", layers["features.10"])
            self.assertIn("winograd-packed)", layers["features.12"])
            # NCHW (its row) around a tuned channel-packed pair: the maps packed and unpacked between
            self.assertIn("winograd)", layers["features.17"])
            self.assertIn("winograd-packed)", layers["features.19"])
            self.assertIn("winograd-packed + max pool)", layers["features.21"])
            names = [l["layer"] for l in json.loads(b.stdout)["layers"]]
            # the rows not used are said, the first with its line and why (a typo did nothing, unsaid); the
            # garbage line is no row (a note)
            self.assertIn(f"vggcl: the tuning table {path}: line 6 is not used (a parameter the algorithm does not "
                          "take, a value not among its choices, or one given twice): conv 128 256 8 8 1 winograd-gpu 1.0 "
                          "MWG=48 (and 5 "
                          "more rows not used)\n", b.stderr)
            self.assertIn("layer features.19: its input (512 ch, 4x4) to the channel-packed layout", names)
            self.assertIn("layer features.17: its input (256 ch, 4x4) back to NCHW", names)
        # a table whose last row is cut short, without its newline (a write that did not finish): said so
        rows = [ln for ln in path.read_text().splitlines() if not ln.startswith("conv")]
        path.write_text("\n".join(rows) + "\nconv 128 256 8 8 1 winograd-gpu 1.0 MW")
        b = self.bench("--size", "32", "--batch", "1", "--iters", "1")
        self.assertEqual(b.returncode, 0, b.stderr)
        self.assertIn("one given twice; the file ends inside it, without its newline: a write cut short? `vggcl tune` "
                      "makes the table again): conv 128 256 8 8 1 winograd-gpu 1.0 MW\n", b.stderr)

        # an interrupted tune keeps the shapes it finished (each shape's share of 36 s is 4 s, for candidates
        # after the defaults, which run while the whole budget lasts: killed after the second, long before the ninth)
        path.unlink()
        p = subprocess.Popen([VGGCL, "tune", "--random", "--size", "32", "--iters", "1", "--budget", "36"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline and not (path.exists() and len(self.tune_table(path)) >= 2):
                time.sleep(0.5)
            self.assertIsNone(p.poll(), "the tune ended on its own: nothing was interrupted")
        finally:
            p.kill()
            p.wait()
        kept = self.tune_table(path)
        self.assertGreaterEqual(len(kept), 2)
        self.assertEqual([row[:4] for row in kept], shapes[:len(kept)])

        # two tunes at once into one table: each keeps the other's rows (the last to write dropped them)
        shared = dict(env, VGGCL_CACHE_DIR=str(self.d / "shared"))
        small = self.d / "small.safetensors"  # (3 conv shapes: quick, also under the sanitizers)
        save_file(make_state_dict(parse_cfg(CFG), True, 3, seed=1), small)
        both = [subprocess.Popen([VGGCL, "tune", "--weights", small, "--size", "32", "--iters", "1", "--budget", "0",
                                  "--batch", b], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                 env=shared) for b in ("1", "8")]
        outs = [p.communicate(timeout=600)[0] for p in both]
        self.assertEqual([p.returncode for p in both], [0, 0], outs)
        table = self.tune_table(Path(outs[0].strip().splitlines()[-1].split("wrote ", 1)[1]))
        small_shapes = [(3, 8, 32, 32), (8, 16, 16, 16), (16, 16, 8, 8)]
        self.assertEqual(sorted((row[:4], row[4]) for row in table), sorted((s, b) for s in small_shapes
                                                                           for b in (1, 8)))
        # a cache folder that is a file: said before any tuning
        (self.d / "afile").write_text("")
        r = subprocess.run([VGGCL, "tune", "--size", "32", "--iters", "1"], capture_output=True, text=True,
                           env=dict(os.environ, VGGCL_CACHE_DIR=str(self.d / "afile")), timeout=60)
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"tuning needs the cache folder, and {self.d / 'afile'} is not a folder", r.stderr)
        # a link to nothing, a folder others can write to: each said as what it is (both were "not a folder of
        # this user's that only the user can write to, or cannot be made")
        (self.d / "dangling").symlink_to(self.d / "not-there")
        (self.d / "open").mkdir(mode=0o700)
        (self.d / "open").chmod(0o777)  # (mkdir masks it by the umask)
        (self.d / "sticky").mkdir(mode=0o700)
        (self.d / "sticky").chmod(0o1777)  # (as /tmp: said "mode 777", the sticky bit left out)
        for name, said in (("dangling", "is a link to a folder that is not there"),
                           ("open", "can be written by others than its user, mode 0777"),
                           ("sticky", "can be written by others than its user, mode 1777")):
            r = subprocess.run([VGGCL, "tune", "--size", "32", "--iters", "1"], capture_output=True, text=True,
                               env=dict(os.environ, VGGCL_CACHE_DIR=str(self.d / name)), timeout=60)
            self.assertEqual(r.returncode, 1)
            self.assertIn(f"tuning needs the cache folder, and {self.d / name} {said}", r.stderr)
            self.assertIn(f"the cache folder {self.d / name} {said} (see VGGCL_CACHE_DIR): it is not used", r.stderr)
        (self.d / "open").chmod(0o700)
        for word in ("off", "OFF"):  # (OFF made a folder "OFF" where the command ran)
            off = subprocess.run([VGGCL, "tune", "--size", "32", "--iters", "1"], capture_output=True, text=True,
                                 env=dict(os.environ, VGGCL_CACHE_DIR=word), timeout=600, cwd=self.d)
            self.assertEqual(off.returncode, 1)
            self.assertIn("tuning needs the cache folder: caching is off (VGGCL_CACHE_DIR=off)", off.stderr)
            self.assertFalse((self.d / word).exists())
        # no folder to name (it said "VGGCL_CACHE_DIR is off"); one that cannot be made (it said "not private");
        # one that cannot be written, said before the tuning (it was said when the table was written, after it)
        env_less = {k: v for k, v in os.environ.items() if k not in ("HOME", "XDG_CACHE_HOME", "VGGCL_CACHE_DIR")}
        env_less["POCL_CACHE_DIR"] = os.environ.get("POCL_CACHE_DIR",  # (PoCL's own, warm, named: it reads HOME too)
                                                    os.path.join(os.path.expanduser("~"), ".cache", "pocl"))
        nowhere = "tuning needs the cache folder: HOME is not set (or is empty), nor VGGCL_CACHE_DIR or an absolute " \
                  "XDG_CACHE_HOME, to name one"
        for extra, said in (({}, nowhere), ({"HOME": ""}, nowhere),  # (an empty HOME was said not set)
                            ({"HOME": "/proc"},
                             "the cache folder /proc/.cache/vggcl cannot be made: No such file or directory")):
            r = subprocess.run([VGGCL, "tune", "--size", "32", "--iters", "1"], capture_output=True, text=True,
                               env=dict(env_less, **extra), timeout=60, cwd=self.d)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(said, r.stderr)
            self.assertNotIn("features.0", r.stdout)
        if testenv.mount_namespace():  # (a read-only mount: root's writes too are refused)
            ro = self.d / "ro"
            ro.mkdir(mode=0o700)
            r = subprocess.run(["unshare", "-m", "sh", "-c", f'mount --bind -o ro "{ro}" "{ro}" && exec "$@"', "sh",
                                VGGCL, "tune", "--size", "32", "--iters", "1"], capture_output=True, text=True,
                               env=dict(os.environ, VGGCL_CACHE_DIR=str(ro)), timeout=60)
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn(f"{ro}: the cache folder, where the tuning table goes, cannot be written: Read-only "
                          "file system", r.stderr)
            self.assertNotIn("features.0", r.stdout)
        # a relative XDG_CACHE_HOME is not a folder to use (the XDG specification): HOME's is
        rel = subprocess.run([VGGCL, "tune", "--weights", small, "--size", "32", "--iters", "1", "--budget", "0"],
                             capture_output=True,
                             text=True, env=dict(env_less, XDG_CACHE_HOME="relcache", HOME=str(self.d / "home")),
                             timeout=600, cwd=self.d)
        self.assertEqual(rel.returncode, 0, rel.stderr)
        self.assertFalse((self.d / "relcache").exists())
        self.assertIn(f"wrote {self.d / 'home' / '.cache' / 'vggcl'}/", rel.stdout)
        # a batch whose pass cannot fit the device: said up front as for a pass (every candidate failed, and
        # tune said "no algorithm ran")
        big = subprocess.run([VGGCL, "tune", "--random", "--batch", "4096", "--size", "224", "--budget", "0"],
                             capture_output=True, text=True, env=env, timeout=120)
        self.assertEqual(big.returncode, 1, big.stderr)
        self.assertIn("tune: device out of memory: batch 4096 at 224x224", big.stderr)
        self.assertIn("the largest batch that fits at this size is", big.stderr)
        bad = subprocess.run([VGGCL, "tune", "--batch", "1,x"], capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("--batch", bad.stderr)
        one = subprocess.run([VGGCL, "tune", "--random", "--size", "32", "--batch", "1,2"], capture_output=True,
                             text=True, env=env, timeout=60)  # (the arguments, as the library says them: exit 1 was)
        self.assertEqual(one.returncode, 2, one.stderr)
        self.assertIn("tune: batches 1 and 2 are of one class (1-2, 3-16, 17 and more)", one.stderr)
        # too small for the network: the pass's words, with the least size (it said "4x4 with 3 passes is not a
        # valid pass for this model")
        small = subprocess.run([VGGCL, "tune", "--size", "4"], capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(small.returncode, 1, small.stderr)
        self.assertIn("vggcl: tune: input (N, 3, 4, 4) is too small: layer", small.stderr)
        self.assertIn("this network needs at least 32x32", small.stderr)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    VGGCL = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=2)
