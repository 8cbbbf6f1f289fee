"""What the benchmark scripts in tools/ share on their command lines: counts that must be positive, a vggcl
binary that must be there, vggcl's or a program's failure said in a line, not as a traceback, and how busy
the machine was with other work while they measured."""
import argparse
import os
import resource
import shutil
import subprocess
import sys
import time

BUSY_CORES = 0.2  # others' CPU, in cores on average over a measurement, past which its ratios are said to be off


def vgg16_size(ap, size):
    """Refuses (argparse's usage error) an input size VGG16's five pools cannot take (torch's max_pool said it in a
    traceback)."""
    if size < 32:
        ap.error(f"--size {size}: VGG16 with pool5 needs at least 32")


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


class OthersMeter:
    """The CPU that processes other than this one and its children took while it measured (Linux's /proc/stat,
    less this process's and its waited-for children's own time): on a shared machine another job's load slows
    the engines unequally (seen on 2 cores under a niced job holding one: PyTorch 4.4x and ncnn 7.5x slower,
    vggcl 2-2.5x), so their ratio grows with it; None where /proc/stat cannot be read."""

    def __init__(self):
        self.start = self._sample()

    @staticmethod
    def _sample():
        try:
            with open("/proc/stat") as f:
                v = [int(x) for x in f.readline().split()[1:9]]  # user nice system idle iowait irq softirq steal
        except (OSError, ValueError):
            return None
        if len(v) < 5:  # (no idle and iowait fields: not Linux's /proc/stat)
            return None
        mine = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
                   for f in ("ru_utime", "ru_stime"))
        return time.monotonic(), (sum(v) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK"), mine

    def cores(self):
        """Others' CPU since the start, in cores on average; None where it cannot be told."""
        end = self._sample()
        if self.start is None or end is None or end[0] <= self.start[0]:
            return None
        return max(0.0, ((end[1] - self.start[1]) - (end[2] - self.start[2])) / (end[0] - self.start[0]))

    def note(self, cores_total):
        """A line for the table's reader where others took more than BUSY_CORES, else None."""
        busy = self.cores()
        if busy is None or busy <= BUSY_CORES:
            return None
        return (f"warning: other processes took {busy:.2f} of the {cores_total} cores on average while this ran: "
                "under another job's load the engines slow unequally, so the ratios above are not a quiet "
                "machine's; measure again when it is quiet")


def run_main(main):
    """main(), with a program that failed (vggcl's own message, which capture_output kept) or is not there said in
    a line."""
    name = os.path.basename(sys.argv[0])
    try:
        return main()
    except KeyboardInterrupt:  # (Ctrl-C: its temporary folders removed on the way, no traceback)
        raise SystemExit(130)
    except subprocess.CalledProcessError as e:
        sys.stderr.write(e.stderr or "")
        raise SystemExit(f"{name}: {' '.join(map(str, e.cmd))} failed (exit {e.returncode})")
    except OSError as e:  # (a program not there, not runnable, a folder given for it)
        raise SystemExit(f"{name}: {e.filename + ': ' if e.filename else ''}{e.strerror or e}")
