"""What the benchmark scripts in tools/ share on their command lines: counts that must be positive, a vggcl
binary that must be there, and vggcl's or a program's failure said in a line, not as a traceback."""
import argparse
import os
import shutil
import subprocess
import sys


def positive(text):
    """argparse type: an integer from 1 (--rounds 0 ended in a KeyError, --iters 0 in a StatisticsError)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer from 1, not '{text}'")
    return value


def need_binary(ap, path):
    """The vggcl binary given (a path, or a name on PATH: an installed vggcl) is there and runs, else argparse's
    usage error (a FileNotFoundError traceback)."""
    if not shutil.which(path):
        ap.error(f"{path}: no vggcl there (build it: cmake --build build)")


def run_main(main):
    """main(), with a program that failed (vggcl's own message, which capture_output kept) or is not there said in
    a line."""
    name = os.path.basename(sys.argv[0])
    try:
        return main()
    except subprocess.CalledProcessError as e:
        sys.stderr.write(e.stderr or "")
        raise SystemExit(f"{name}: {' '.join(map(str, e.cmd))} failed (exit {e.returncode})")
    except OSError as e:  # (a program not there, not runnable, a folder given for it)
        raise SystemExit(f"{name}: {e.filename + ': ' if e.filename else ''}{e.strerror or e}")
